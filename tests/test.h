/*
 * test.h — a tiny plain-C test harness; one test binary per module.
 *
 *   int main(void) {
 *       CHECK(x == 1);
 *       CHECK_EQ_INT(count, 42);
 *       CHECK_NEAR(loss, 2.5, 1e-6);
 *       if (!have_data) SKIP("../shared/data is absent");
 *       return TEST_SUMMARY();
 *   }
 *
 * Failures print file:line and the values; the summary line is
 * "N passed, N failed" (", N skipped" when any were), which tests/run.sh
 * adds up across binaries. Exit status is 1 when anything failed.
 */
#ifndef PUNGUZA_TEST_H
#define PUNGUZA_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int test_passed, test_failed, test_skipped;

#define TEST_FAIL_(...)                                                        \
	do {                                                                   \
		test_failed++;                                                 \
		fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);          \
		fprintf(stderr, __VA_ARGS__);                                  \
		fputc('\n', stderr);                                           \
	} while (0)

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (cond)                                                      \
			test_passed++;                                         \
		else                                                           \
			TEST_FAIL_("%s", #cond);                               \
	} while (0)

/* CHECK with a printf-style explanation on failure. */
#define CHECK_MSG(cond, ...)                                                   \
	do {                                                                   \
		if (cond)                                                      \
			test_passed++;                                         \
		else                                                           \
			TEST_FAIL_(__VA_ARGS__);                               \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                     \
	do {                                                                   \
		long long a_ = (long long)(a), b_ = (long long)(b);            \
		if (a_ == b_)                                                  \
			test_passed++;                                         \
		else                                                           \
			TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);  \
	} while (0)

#define CHECK_NEAR(a, b, tol)                                                  \
	do {                                                                   \
		double a_ = (double)(a), b_ = (double)(b);                     \
		if (fabs(a_ - b_) <= (tol))                                    \
			test_passed++;                                         \
		else                                                           \
			TEST_FAIL_("%s ~ %s: %.9g vs %.9g (tol %g)", #a, #b,   \
				   a_, b_, (double)(tol));                     \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *a_ = (a), *b_ = (b);                               \
		if (a_ && b_ && strcmp(a_, b_) == 0)                           \
			test_passed++;                                         \
		else                                                           \
			TEST_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b,       \
				   a_ ? a_ : "(null)", b_ ? b_ : "(null)");    \
	} while (0)

/* Checks that a library call failed with `code` and that its message
 * contains `needle` (so the error names its subject). */
#define CHECK_ERR(rc, e, code, needle)                                         \
	do {                                                                   \
		int rc_ = (rc);                                                \
		if (rc_ == (code) && strstr((e).msg, (needle)))                \
			test_passed++;                                         \
		else                                                           \
			TEST_FAIL_("%s: got %d \"%s\", want %d with \"%s\"",   \
				   #rc, rc_, (e).msg, (code), (needle));       \
	} while (0)

/* Records a skipped group of checks with its reason (printed). */
#define SKIP(...)                                                              \
	do {                                                                   \
		test_skipped++;                                                \
		fprintf(stderr, "%s:%d: SKIP: ", __FILE__, __LINE__);          \
		fprintf(stderr, __VA_ARGS__);                                  \
		fputc('\n', stderr);                                           \
	} while (0)

static inline int test_summary_(const char *file)
{
	if (test_skipped)
		printf("%s: %d passed, %d failed, %d skipped\n", file,
		       test_passed, test_failed, test_skipped);
	else
		printf("%s: %d passed, %d failed\n", file, test_passed,
		       test_failed);
	return test_failed ? 1 : 0;
}

#define TEST_SUMMARY() test_summary_(__FILE__)

/* Shared data lives beside the project: tests run from the project root. */
#define SHARED_DATA "../shared/data"

#endif
