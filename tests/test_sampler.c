/* Tests for sampler: greedy, repetition penalty (HF semantics), the
 * distributions of temperature / top-k / top-p against hand-computed
 * probabilities, reproducibility, option checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"
#include "test.h"

static struct sampler_opts opts(float temp, int k, float p, float rep,
				uint64_t seed)
{
	struct sampler_opts o = {temp, k, p, rep, seed};
	return o;
}

static void test_defaults(void)
{
	struct sampler_opts o;
	sampler_defaults(&o);
	CHECK(o.temperature == 0.5f && o.top_k == 5 && o.top_p == 1.0f &&
	      o.repeat_penalty == 1.2f);
}

static void test_greedy_and_penalty(void)
{
	struct sampler *s;
	struct sampler_opts o = opts(0, 0, 1, 1.2f, 1);
	CHECK_EQ_INT(sampler_new(4, &o, &s, NULL), 0);
	float l[4] = {2.0f, 1.9f, -1.0f, -0.5f};
	CHECK_EQ_INT(sampler_sample(s, l), 0); /* nothing seen yet */
	/* Token 0 is now seen: 2.0 / 1.2 = 1.667 < 1.9. */
	float l2[4] = {2.0f, 1.9f, -1.0f, -0.5f};
	CHECK_EQ_INT(sampler_sample(s, l2), 1);
	CHECK_NEAR(l2[0], 2.0 / 1.2, 1e-6);
	/* Negative logits of seen tokens are multiplied. */
	sampler_reset(s);
	int seen[2] = {3, 99}; /* 99 is outside: ignored */
	sampler_observe(s, seen, 2);
	float l3[4] = {-2.0f, -1.9f, -1.0f, -0.9f};
	CHECK_EQ_INT(sampler_sample(s, l3), 2); /* -0.9*1.2 = -1.08 < -1 */
	CHECK_NEAR(l3[3], -1.08, 1e-6);
	/* Ties go to the lower id. */
	float l4[4] = {1, 3, 3, 0};
	sampler_reset(s);
	CHECK_EQ_INT(sampler_sample(s, l4), 1);
	sampler_free(s);
	sampler_free(NULL);
}

/* Frequencies of N draws from logits log(p) (n tokens). */
static void draw(struct sampler *s, const double *p, int n, int N, double *freq)
{
	float l[8];
	memset(freq, 0, sizeof(double) * (size_t)n);
	for (int t = 0; t < N; t++) {
		for (int i = 0; i < n; i++)
			l[i] = (float)log(p[i]);
		freq[sampler_sample(s, l)] += 1.0 / N;
	}
}

static void test_distributions(void)
{
	const double p[4] = {0.4, 0.3, 0.2, 0.1};
	double f[4];
	enum { N = 40000 };
	const double tol = 0.012; /* ~5 sigma at N = 40000 */
	struct sampler *s;
	/* Plain sampling at temperature 1. */
	struct sampler_opts o = opts(1, 0, 1, 1, 7);
	CHECK_EQ_INT(sampler_new(4, &o, &s, NULL), 0);
	draw(s, p, 4, N, f);
	for (int i = 0; i < 4; i++)
		CHECK_NEAR(f[i], p[i], tol);
	sampler_free(s);
	/* Temperature 0.5 squares the probabilities: .16 .09 .04 .01 / .3 */
	o = opts(0.5f, 0, 1, 1, 8);
	CHECK_EQ_INT(sampler_new(4, &o, &s, NULL), 0);
	draw(s, p, 4, N, f);
	const double q[4] = {.16 / .3, .09 / .3, .04 / .3, .01 / .3};
	for (int i = 0; i < 4; i++)
		CHECK_NEAR(f[i], q[i], tol);
	sampler_free(s);
	/* Top-k 2: .4/.7, .3/.7, 0, 0. */
	o = opts(1, 2, 1, 1, 9);
	CHECK_EQ_INT(sampler_new(4, &o, &s, NULL), 0);
	draw(s, p, 4, N, f);
	CHECK_NEAR(f[0], 4.0 / 7, tol);
	CHECK_NEAR(f[1], 3.0 / 7, tol);
	CHECK(f[2] == 0 && f[3] == 0);
	sampler_free(s);
	/* Top-p 0.6: keep .4 (mass before 0) and .3 (before .4 < .6), not .2
	 * (before .7). Same as HF: ascending cumsum .1 .3 .6 1, removed where
	 * <= 1 - .6 = .4 (the .1 and .2 tokens). */
	o = opts(1, 0, 0.6f, 1, 10);
	CHECK_EQ_INT(sampler_new(4, &o, &s, NULL), 0);
	draw(s, p, 4, N, f);
	CHECK_NEAR(f[0], 4.0 / 7, tol);
	CHECK_NEAR(f[1], 3.0 / 7, tol);
	CHECK(f[2] == 0 && f[3] == 0);
	sampler_free(s);
	/* Top-p 0.35: the first token alone reaches it. */
	o = opts(1, 0, 0.35f, 1, 11);
	CHECK_EQ_INT(sampler_new(4, &o, &s, NULL), 0);
	draw(s, p, 4, 1000, f);
	CHECK(f[1] == 0 && f[2] == 0 && f[3] == 0);
	sampler_free(s);
	/* Top-k 3, then top-p .8 over the renormalised top 3 (.4 .3 .2)/.9 =
	 * .444 .333 .222: the mass before .222 is .778 < .8, so all three
	 * stay; the 4th was cut by top-k. */
	o = opts(1, 3, 0.8f, 1, 12);
	CHECK_EQ_INT(sampler_new(4, &o, &s, NULL), 0);
	draw(s, p, 4, N, f);
	CHECK_NEAR(f[2], 2.0 / 9, tol);
	CHECK(f[3] == 0);
	sampler_free(s);
}

static int cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* Top-p over a large vocabulary (the pre-filtered sort path): every draw
 * lies in the nucleus computed by brute force here. */
static void test_top_p_large(void)
{
	enum { V = 1000 };
	static float l[V], work[V];
	static double p[V], sorted[V];
	uint64_t r = 99;
	double mx = -1e30, z = 0;
	for (int i = 0; i < V; i++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		l[i] = (float)((double)(r >> 40) / (1 << 24) * 8.0);
		if (l[i] > mx)
			mx = l[i];
	}
	for (int i = 0; i < V; i++)
		z += p[i] = exp(l[i] - mx);
	for (int i = 0; i < V; i++)
		sorted[i] = p[i] /= z;
	qsort(sorted, V, sizeof sorted[0], cmp_desc);
	double before = 0, threshold = 0;
	for (int i = 0; i < V && before < 0.5; i++) {
		threshold = sorted[i]; /* smallest probability kept */
		before += sorted[i];
	}
	struct sampler_opts o = opts(1, 0, 0.5f, 1, 5);
	struct sampler *s;
	CHECK_EQ_INT(sampler_new(V, &o, &s, NULL), 0);
	int outside = 0, distinct = 0;
	static unsigned char hit[V];
	for (int t = 0; t < 3000; t++) {
		memcpy(work, l, sizeof l);
		int k = sampler_sample(s, work);
		outside += p[k] < threshold;
		distinct += !hit[k];
		hit[k] = 1;
	}
	CHECK_EQ_INT(outside, 0);
	CHECK(distinct > 1);
	sampler_free(s);
	/* Two tokens, a tiny top-p: the top one alone. */
	o = opts(1, 0, 0.01f, 1, 5);
	CHECK_EQ_INT(sampler_new(2, &o, &s, NULL), 0);
	int ones = 0;
	for (int t = 0; t < 100; t++) {
		float two[2] = {0.0f, 0.1f};
		ones += sampler_sample(s, two) == 1;
	}
	CHECK_EQ_INT(ones, 100);
	sampler_free(s);
}

static void test_reproducible(void)
{
	struct sampler_opts o = opts(1, 0, 1, 1, 1234);
	struct sampler *a, *b, *c;
	CHECK_EQ_INT(sampler_new(50, &o, &a, NULL), 0);
	CHECK_EQ_INT(sampler_new(50, &o, &b, NULL), 0);
	o.seed = 1235;
	CHECK_EQ_INT(sampler_new(50, &o, &c, NULL), 0);
	int same_ab = 1, same_ac = 1, first[64];
	float la[50], lb[50], lc[50];
	for (int t = 0; t < 64; t++) {
		for (int i = 0; i < 50; i++)
			la[i] = lb[i] = lc[i] = (float)((i * 7919) % 13) / 4.0f;
		int x = sampler_sample(a, la), y = sampler_sample(b, lb);
		int z = sampler_sample(c, lc);
		first[t] = x;
		same_ab &= x == y;
		same_ac &= x == z;
	}
	CHECK(same_ab);
	CHECK(!same_ac);
	/* Reset replays the same draws. */
	sampler_reset(a);
	int replay = 1;
	for (int t = 0; t < 64; t++) {
		for (int i = 0; i < 50; i++)
			la[i] = (float)((i * 7919) % 13) / 4.0f;
		replay &= sampler_sample(a, la) == first[t];
	}
	CHECK(replay);
	sampler_free(a);
	sampler_free(b);
	sampler_free(c);
}

static void test_checks(void)
{
	struct sampler *s = NULL;
	struct err e = {0};
	struct sampler_opts o = opts(-1, 0, 1, 1, 0);
	CHECK_ERR(sampler_new(4, &o, &s, &e), e, ERR_INVALID, "temperature");
	o = opts(1, -1, 1, 1, 0);
	CHECK_ERR(sampler_new(4, &o, &s, &e), e, ERR_INVALID, "top-k");
	o = opts(1, 0, 0, 1, 0);
	CHECK_ERR(sampler_new(4, &o, &s, &e), e, ERR_INVALID, "top-p");
	o = opts(1, 0, 1.5f, 1, 0);
	CHECK_ERR(sampler_new(4, &o, &s, &e), e, ERR_INVALID, "top-p");
	o = opts(1, 0, 1, 0, 0);
	CHECK_ERR(sampler_new(4, &o, &s, &e), e, ERR_INVALID, "penalty");
	o = opts(1, 0, 1, 1, 0);
	CHECK_ERR(sampler_new(0, &o, &s, &e), e, ERR_INVALID, "vocabulary");
	CHECK(s == NULL);
	/* Seed 0 works too. */
	CHECK_EQ_INT(sampler_new(4, &o, &s, &e), 0);
	float l[4] = {0, 0, 0, 0};
	int t = sampler_sample(s, l);
	CHECK(t >= 0 && t < 4);
	sampler_free(s);
}

int main(void)
{
	test_defaults();
	test_greedy_and_penalty();
	test_distributions();
	test_top_p_large();
	test_reproducible();
	test_checks();
	return TEST_SUMMARY();
}
