/* Tests for eval: a hand-built model whose logits are known (NLL, bits per
 * byte, window bookkeeping by hand), Hugging Face perplexity-guide figures
 * and KL/top-1 from PyTorch (tests/ref/make_goldens.py), bad settings,
 * cancelling. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "model.h"
#include "test.h"

#define MODELS "tests/data/models"

/* V = d = 4, one layer with every weight zero (so it adds nothing), final
 * norm 1, embed = identity, lm_head = a * "next id" permutation: the model
 * predicts t+1 mod 4 with logit a*r (r = rmsnorm scale of a one-hot) and
 * 0 elsewhere, whatever the context. */
static struct model *toy(double a)
{
	struct config c;
	config_inkubalm(&c);
	c.vocab_size = 4;
	c.hidden_size = 4;
	c.intermediate_size = 4;
	c.n_layers = 1;
	c.n_heads = 2;
	c.n_kv_heads = 2;
	c.head_dim = 2;
	c.max_position_embeddings = 16;
	c.rms_norm_eps = 1e-6;
	c.bos_token_id = c.eos_token_id = -1;
	struct model *m;
	if (model_new(&c, &m, NULL))
		return NULL;
	for (int i = 0; i < 4; i++) {
		m->norm[i] = 1;
		m->embed[i * 4 + i] = 1;
		m->lm_head[((i + 1) % 4) * 4 + i] = (float)a;
	}
	return m;
}

static void test_toy(void)
{
	const double a = 1.5;
	struct model *m = toy(a);
	CHECK(m != NULL);
	if (!m)
		return;
	/* rmsnorm of a one-hot: x * 1/sqrt(1/4 + eps). */
	double z = a * (float)(1.0 / sqrt(0.25 + (double)1e-6f));
	double hit = log(exp(z) + 3) - z, miss = log(exp(z) + 3);
	/* 0->1 1->2 2->3 3->0 0->1 1->2 hit, 2->2 misses. */
	const int ids[8] = {0, 1, 2, 3, 0, 1, 2, 2};
	struct eval_opts o;
	eval_defaults(&o);
	CHECK(o.ctx == 512 && o.stride == 256);
	o.ctx = 8;
	o.stride = 8;
	o.text_bytes = 10;
	struct eval_result r;
	struct err e = {0};
	CHECK_EQ_INT(eval_run(m, m, ids, 8, &o, &r, &e), 0);
	CHECK_EQ_INT(r.n_scored, 7);
	CHECK_EQ_INT(r.n_tokens, 8);
	CHECK(r.ctx == 8 && r.stride == 8 && r.text_bytes == 10);
	CHECK_NEAR(r.nll_sum, 6 * hit + miss, 1e-5);
	CHECK_NEAR(r.nll_mean, (6 * hit + miss) / 7, 1e-6);
	CHECK_NEAR(r.ppl, exp((6 * hit + miss) / 7), 1e-5);
	CHECK_NEAR(r.bpb, (6 * hit + miss) / (log(2.0) * 10), 1e-6);
	CHECK(r.has_ref);
	CHECK_NEAR(r.kl_mean, 0, 1e-12);
	CHECK_NEAR(r.top1, 1, 0);
	/* C 3, S 2: windows [0,3) [2,5) [4,7) [6,8) score 1-2, 3-4, 5-6, 7:
	 * every target once. */
	o.ctx = 3;
	o.stride = 2;
	o.text_bytes = 0;
	CHECK_EQ_INT(eval_run(m, NULL, ids, 8, &o, &r, &e), 0);
	CHECK_EQ_INT(r.n_scored, 7);
	CHECK_NEAR(r.nll_sum, 6 * hit + miss, 1e-5);
	CHECK(!r.has_ref && r.bpb == 0);
	/* C 4, S 4: [0,4) scores 1-3, [4,8) scores 5-7; target 4 (3->0, a
	 * hit) has no context in its window and is skipped, as in HF. */
	o.ctx = 4;
	o.stride = 4;
	CHECK_EQ_INT(eval_run(m, NULL, ids, 8, &o, &r, &e), 0);
	CHECK_EQ_INT(r.n_scored, 6);
	CHECK_NEAR(r.nll_sum, 5 * hit + miss, 1e-5);
	/* Against a sharper copy: KL(ref||model) by hand at a hit (both
	 * predict the same id): p = softmax(z_ref e_k), q = softmax(z e_k). */
	struct model *sharp = toy(3.0);
	if (sharp) {
		o.ctx = 8;
		o.stride = 8;
		CHECK_EQ_INT(eval_run(m, sharp, ids, 8, &o, &r, &e), 0);
		double zr = 3.0 * (float)(1.0 / sqrt(0.25 + (double)1e-6f));
		double Zr = exp(zr) + 3, Zm = exp(z) + 3;
		/* KL = sum p_i (log p_i - log q_i) with the peak at the same
		 * id at every position (the ref predicts t+1 too). */
		double pk = exp(zr) / Zr, po = 1 / Zr;
		double kl = pk * (log(pk) - log(exp(z) / Zm)) +
			    3 * po * (log(po) - log(1 / Zm));
		CHECK_NEAR(r.kl_mean, kl, 1e-6);
		CHECK_NEAR(r.top1, 1, 0);
		model_free(sharp);
	}
	/* Bad settings. */
	o.ctx = 4;
	o.stride = 5;
	CHECK_ERR(eval_run(m, NULL, ids, 8, &o, &r, &e), e, ERR_INVALID,
		  "stride");
	o.ctx = 17;
	o.stride = 4;
	CHECK_ERR(eval_run(m, NULL, ids, 8, &o, &r, &e), e, ERR_INVALID,
		  "exceeds the model's 16 positions");
	o.ctx = 4;
	CHECK_ERR(eval_run(m, NULL, ids, 1, &o, &r, &e), e, ERR_INVALID,
		  "at least 2 tokens");
	const int bad[3] = {0, 4, 1};
	CHECK_ERR(eval_run(m, NULL, bad, 3, &o, &r, &e), e, ERR_INVALID,
		  "token id 4 at 1");
	model_free(m);
}

static int cancel_now(void *ctx, double done, const char *stage)
{
	(void)done;
	(void)stage;
	++*(int *)ctx;
	return 1;
}

static void test_golden(void)
{
	struct model *m = NULL, *ref = NULL;
	struct err e = {0};
	int rc = model_load(MODELS "/shared_untied", &m, NULL, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	if (!rc) {
		rc = model_load(MODELS "/shared_differ", &ref, NULL, &e);
		CHECK_MSG(rc == 0, "%s", e.msg);
	}
	FILE *fp = fopen(MODELS "/eval_golden.txt", "r");
	CHECK(fp != NULL);
	if (rc || !fp) {
		if (fp)
			fclose(fp);
		model_free(m);
		model_free(ref);
		return;
	}
	char line[1024];
	int n = 0, ids[256], windows = 0;
	while (fgets(line, sizeof line, fp)) {
		if (!strncmp(line, "tokens ", 7)) {
			char *p = line + 7, *q;
			n = (int)strtol(p, &q, 10);
			for (int i = 0; i < n && i < 256; i++)
				ids[i] = (int)strtol(q, &q, 10);
		}
		int C, S, scored, hits;
		double nll, kl;
		if (sscanf(line, "window %d %d %lf %d %lf %d", &C, &S, &nll,
			   &scored, &kl, &hits) != 6)
			continue;
		windows++;
		struct eval_opts o = {.ctx = C, .stride = S, .text_bytes = 100};
		struct eval_result r;
		CHECK_EQ_INT(eval_run(m, ref, ids, (size_t)n, &o, &r, &e), 0);
		CHECK_EQ_INT(r.n_scored, scored);
		CHECK_MSG(fabs(r.nll_sum - nll) <= 1e-4,
			  "C %d S %d: nll %.8f vs pytorch %.8f", C, S,
			  r.nll_sum, nll);
		CHECK_NEAR(r.bpb, nll / (log(2.0) * 100), 1e-6);
		CHECK_MSG(fabs(r.kl_mean - kl / scored) <= 1e-5,
			  "C %d S %d: kl %.8f vs pytorch %.8f", C, S, r.kl_mean,
			  kl / scored);
		CHECK_NEAR(r.top1, (double)hits / scored, 1e-12);
	}
	fclose(fp);
	CHECK_EQ_INT(windows, 5);
	/* Cancelling stops after the first report. */
	int calls = 0;
	struct progress p = {cancel_now, &calls};
	struct eval_opts o = {.ctx = 8, .stride = 4, .prog = &p};
	struct eval_result r;
	CHECK_EQ_INT(eval_run(m, NULL, ids, (size_t)n, &o, &r, &e),
		     ERR_CANCELLED);
	CHECK_EQ_INT(calls, 1);
	model_free(m);
	model_free(ref);
}

int main(void)
{
	test_toy();
	test_golden();
	return TEST_SUMMARY();
}
