/* Tests for forward: logits against PyTorch goldens (tests/ref/
 * make_goldens.py runs llama_ref.py), prefill vs token-by-token decode,
 * chunked prefill, skipped layers, the layer hook, bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "model.h"
#include "test.h"

#define MODELS "tests/data/models"

struct golden {
	int n[2];
	int seq[2][64];
	int n_skip;
	int skip[8];
	float *logits; /* blocks: seq 0, seq 1, seq 1 with skipped layers */
	size_t n_floats;
};

static int read_golden(const char *name, struct golden *g, int V)
{
	char path[256];
	memset(g, 0, sizeof *g);
	snprintf(path, sizeof path, MODELS "/%s/golden.txt", name);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return -1;
	int ok = 1;
	for (int s = 0; s < 2 && ok; s++) {
		ok = fscanf(fp, " seq %d", &g->n[s]) == 1 && g->n[s] > 0 &&
		     g->n[s] <= 64;
		for (int i = 0; ok && i < g->n[s]; i++)
			ok = fscanf(fp, "%d", &g->seq[s][i]) == 1;
	}
	ok = ok && fscanf(fp, " skip %d", &g->n_skip) == 1 && g->n_skip >= 0 &&
	     g->n_skip <= 8;
	for (int i = 0; ok && i < g->n_skip; i++)
		ok = fscanf(fp, "%d", &g->skip[i]) == 1;
	fclose(fp);
	if (!ok)
		return -1;
	snprintf(path, sizeof path, MODELS "/%s/golden.f32", name);
	fp = fopen(path, "rb");
	if (!fp)
		return -1;
	g->n_floats = (size_t)(g->n[0] + 2 * g->n[1]) * V;
	g->logits = malloc(g->n_floats * sizeof(float));
	size_t got = fread(g->logits, sizeof(float), g->n_floats, fp);
	int extra = fgetc(fp);
	fclose(fp);
	return got == g->n_floats && extra == EOF ? 0 : -1;
}

static int argmax(const float *x, int n)
{
	int best = 0;
	for (int i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

/* Max |a-b| over n; *argmax_diff counts rows (of V) whose argmax differs. */
static double max_diff(const float *a, const float *b, int rows, int V,
		       int *argmax_diff)
{
	double mx = 0;
	*argmax_diff = 0;
	for (int r = 0; r < rows; r++) {
		const float *x = a + (size_t)r * V, *y = b + (size_t)r * V;
		for (int i = 0; i < V; i++) {
			double dd = fabs((double)x[i] - y[i]);
			if (dd > mx || dd != dd)
				mx = dd != dd ? 1e30 : dd;
		}
		*argmax_diff += argmax(x, V) != argmax(y, V);
	}
	return mx;
}

struct hook_ctx {
	int calls;
	int last_layer;
	int chain_ok;
	float prev_out[16 * 128];
};

static void hook(void *ctx, int layer, const float *in, const float *out, int T,
		 int d)
{
	struct hook_ctx *h = ctx;
	size_t n = (size_t)T * d;
	if (n <= sizeof h->prev_out / sizeof h->prev_out[0]) {
		if (h->calls > 0 && memcmp(in, h->prev_out, n * sizeof(float)))
			h->chain_ok = 0;
		memcpy(h->prev_out, out, n * sizeof(float));
	}
	h->calls++;
	h->last_layer = layer;
}

static void test_model_golden(const char *name)
{
	char dir[256];
	snprintf(dir, sizeof dir, MODELS "/%s", name);
	struct model *m;
	struct err e = {0};
	int rc = model_load(dir, &m, NULL, &e);
	CHECK_MSG(rc == 0, "%s: %s", name, e.msg);
	if (rc)
		return;
	int V = m->cfg.vocab_size, L = m->cfg.n_layers;
	struct golden g;
	if (read_golden(name, &g, V)) {
		CHECK_MSG(0, "%s: cannot read the golden files", name);
		model_free(m);
		free(g.logits);
		return;
	}
	struct fwd_state *s;
	rc = fwd_new(m, 64, 0, &s, &e);
	CHECK_MSG(rc == 0, "%s: %s", name, e.msg);
	if (rc) {
		model_free(m);
		free(g.logits);
		return;
	}
	float *all = malloc(sizeof(float) * 64 * (size_t)V);
	const float *gold[3] = {g.logits, g.logits + (size_t)g.n[0] * V,
				g.logits + (size_t)(g.n[0] + g.n[1]) * V};

	/* Prefill of each sequence against PyTorch. */
	double worst = 0;
	for (int q = 0; q < 2; q++) {
		fwd_reset(s);
		CHECK_EQ_INT(fwd_run(s, g.seq[q], g.n[q], all, &e), 0);
		int bad;
		double dmax = max_diff(all, gold[q], g.n[q], V, &bad);
		CHECK_MSG(dmax <= 1e-4, "%s seq %d: max |dlogit| %.3g > 1e-4",
			  name, q, dmax);
		if (dmax > worst)
			worst = dmax;
		CHECK_MSG(bad == 0, "%s seq %d: argmax differs at %d positions",
			  name, q, bad);
		/* s->logits is the last row. */
		CHECK(memcmp(s->logits, all + (size_t)(g.n[q] - 1) * V,
			     (size_t)V * sizeof(float)) == 0);
	}
	/* Token-by-token decode with the cache = prefill (all of seq 1). */
	fwd_reset(s);
	double dec = 0;
	for (int t = 0; t < g.n[1]; t++) {
		CHECK_EQ_INT(fwd_run(s, &g.seq[1][t], 1, NULL, &e), 0);
		int bad;
		double dd =
		    max_diff(s->logits, all + (size_t)t * V, 1, V, &bad);
		if (dd > dec)
			dec = dd;
	}
	CHECK_MSG(dec <= 1e-5, "%s: decode vs prefill max |d| %.3g > 1e-5",
		  name, dec);
	printf("%s: max |dlogit| vs pytorch %.2g, decode vs prefill %.2g\n",
	       name, worst, dec);
	/* A prefill split across chunks (3 tokens each) and a prompt followed
	 * by decoding give the same logits too. */
	struct fwd_state *s3;
	if (fwd_new(m, 64, 3, &s3, &e) == 0) {
		float *all3 = malloc(sizeof(float) * 64 * (size_t)V);
		CHECK_EQ_INT(fwd_run(s3, g.seq[1], 5, all3, &e), 0);
		CHECK_EQ_INT(fwd_run(s3, g.seq[1] + 5, g.n[1] - 5,
				     all3 + (size_t)5 * V, &e),
			     0);
		int bad;
		double dd = max_diff(all3, all, g.n[1], V, &bad);
		CHECK_MSG(dd <= 1e-5, "%s: chunked prefill max |d| %.3g", name,
			  dd);
		free(all3);
		fwd_free(s3);
	}
	/* Skipped layers against llama_ref's forward(skip_layers=...). */
	unsigned char skip[16] = {0};
	for (int i = 0; i < g.n_skip; i++)
		if (g.skip[i] >= 0 && g.skip[i] < 16)
			skip[g.skip[i]] = 1;
	fwd_set_skip(s, skip);
	fwd_reset(s);
	struct hook_ctx hc = {.chain_ok = 1, .last_layer = -1};
	s->on_layer = hook;
	s->hook_ctx = &hc;
	CHECK_EQ_INT(fwd_run(s, g.seq[1], g.n[1], all, &e), 0);
	int bad;
	double ds = max_diff(all, gold[2], g.n[1], V, &bad);
	CHECK_MSG(ds <= 1e-4 && bad == 0,
		  "%s: skipping layers: max |d| %.3g, argmax differs at %d",
		  name, ds, bad);
	CHECK_EQ_INT(hc.calls, L - g.n_skip);
	CHECK_EQ_INT(hc.last_layer, L - 1 == g.skip[0] ? L - 2 : L - 1);
	CHECK(hc.chain_ok);
	s->on_layer = NULL;
	fwd_set_skip(s, NULL);

	/* Bad input. */
	fwd_reset(s);
	int tok = V;
	CHECK_ERR(fwd_run(s, &tok, 1, NULL, &e), e, ERR_INVALID, "vocabulary");
	tok = -1;
	CHECK_ERR(fwd_run(s, &tok, 1, NULL, &e), e, ERR_INVALID, "vocabulary");
	int *many = calloc(65, sizeof(int));
	CHECK_ERR(fwd_run(s, many, 65, NULL, &e), e, ERR_INVALID, "context");
	CHECK_EQ_INT(fwd_run(s, many, 64, NULL, &e), 0);
	CHECK_ERR(fwd_run(s, many, 1, NULL, &e), e, ERR_INVALID, "context");
	free(many);

	free(all);
	free(g.logits);
	fwd_free(s);
	model_free(m);
}

/* 1000 positions (RoPE angles up to 999 rad): the last 8 rows. */
static void test_long(void)
{
	FILE *fp = fopen(MODELS "/long_rope/long.txt", "r");
	int n = 0, from = 0, ok;
	int *ids = calloc(1024, sizeof(int));
	ok = fp && fscanf(fp, " seq %d", &n) == 1 && n > 8 && n <= 1024;
	for (int i = 0; ok && i < n; i++)
		ok = fscanf(fp, "%d", &ids[i]) == 1;
	ok = ok && fscanf(fp, " from %d", &from) == 1 && from >= 0 && from < n;
	if (fp)
		fclose(fp);
	struct model *m = NULL;
	struct err e = {0};
	ok = ok && model_load(MODELS "/long_rope", &m, NULL, &e) == 0;
	CHECK_MSG(ok, "long_rope: cannot read the golden files: %s", e.msg);
	if (!ok) {
		free(ids);
		model_free(m);
		return;
	}
	int V = m->cfg.vocab_size, rows = n - from;
	float *gold = malloc(sizeof(float) * (size_t)rows * V);
	float *got = malloc(sizeof(float) * (size_t)rows * V);
	fp = fopen(MODELS "/long_rope/long.f32", "rb");
	ok = fp && fread(gold, sizeof(float), (size_t)rows * V, fp) ==
		       (size_t)rows * V;
	if (fp)
		fclose(fp);
	CHECK(ok);
	struct fwd_state *s;
	if (ok && fwd_new(m, n, 0, &s, &e) == 0) {
		CHECK_EQ_INT(fwd_run_from(s, ids, n, from, got, &e), 0);
		int bad;
		double dd = max_diff(got, gold, rows, V, &bad);
		CHECK_MSG(dd <= 1e-4 && bad == 0,
			  "long_rope: max |d| %.3g, argmax differs at %d", dd,
			  bad);
		printf("long_rope: max |dlogit| vs pytorch at positions "
		       "%d-%d: %.2g\n",
		       from, n - 1, dd);
		/* The last row is s->logits too. */
		CHECK(memcmp(s->logits, got + (size_t)(rows - 1) * V,
			     sizeof(float) * (size_t)V) == 0);
		fwd_reset(s);
		CHECK_ERR(fwd_run_from(s, ids, 4, 4, got, &e), e, ERR_INVALID,
			  "first logits row");
		fwd_free(s);
	}
	free(gold);
	free(got);
	free(ids);
	model_free(m);
}

int main(void)
{
	const char *names[] = {"shared_untied", "shared_differ", "tied_gqa",
			       "odd72",		"bf16_mqa",	 "mlp_named"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		test_model_golden(names[i]);
	test_long();
	fwd_free(NULL);
	return TEST_SUMMARY();
}
