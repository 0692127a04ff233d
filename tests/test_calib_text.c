/* Tests of calib_text: calibration files as one id sequence, BOS per file, cut
 * at max_tokens. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calib_text.h"
#include "fileio.h"
#include "test.h"
#include "tokenizer.h"

#define TOK "tests/data/tok/small_llama_pairs.json"

static char tmpdir[] = "/tmp/punguza-test-calib-XXXXXX";

static const char *write_tmp(const char *name, const char *text)
{
	static char paths[4][512];
	static int k;
	char *p = paths[k++ % 4];
	snprintf(p, 512, "%s/%s", tmpdir, name);
	struct err e = {0};
	if (file_write_atomic(p, text, strlen(text), &e))
		TEST_FAIL_("%s", e.msg);
	return p;
}

static void test_encode(const struct tokenizer *t)
{
	static const char ta[] = "hello world", tb[] = "the cat\nsat";
	const char *files[2] = {write_tmp("a.txt", ta), write_tmp("b.txt", tb)};
	struct err e = {0};
	int *va = NULL, *vb = NULL, *ids = NULL;
	size_t na = 0, nb = 0, n = 0;
	if (tok_encode(t, ta, strlen(ta), true, &va, &na, &e) ||
	    tok_encode(t, tb, strlen(tb), true, &vb, &nb, &e)) {
		TEST_FAIL_("%s", e.msg);
		return;
	}
	/* both files, BOS (as the template has it) per file */
	CHECK(calib_text_encode(t, files, 2, 1 << 20, &ids, &n, &e) == 0);
	CHECK_EQ_INT((long)n, (long)(na + nb));
	if (n == na + nb) {
		CHECK(!memcmp(ids, va, na * sizeof *ids));
		CHECK(!memcmp(ids + na, vb, nb * sizeof *ids));
	}
	CHECK(na > 0 && ids && ids[0] == va[0]);
	free(ids);
	/* cut inside the second file */
	CHECK(calib_text_encode(t, files, 2, na + 1, &ids, &n, &e) == 0);
	CHECK_EQ_INT((long)n, (long)(na + 1));
	if (n == na + 1)
		CHECK(ids[na] == vb[0]);
	free(ids);
	/* no files: nothing */
	CHECK(calib_text_encode(t, files, 0, 100, &ids, &n, &e) == 0);
	CHECK(ids == NULL && n == 0);
	/* a missing file is an error naming it */
	const char *bad[1] = {"/nonexistent/calib.txt"};
	CHECK(calib_text_encode(t, bad, 1, 100, &ids, &n, &e) != 0);
	CHECK(ids == NULL && n == 0);
	CHECK(strstr(e.msg, "/nonexistent/calib.txt") != NULL);
	free(va);
	free(vb);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		TEST_FAIL_("mkdtemp");
		return TEST_SUMMARY();
	}
	struct err e = {0};
	struct tokenizer *t = NULL;
	if (tok_load(TOK, &t, &e)) {
		TEST_FAIL_("%s", e.msg);
	} else {
		test_encode(t);
		tok_free(t);
	}
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return TEST_SUMMARY();
}
