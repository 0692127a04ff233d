/* Tests for apply: the identity plan is the identity (bit for bit), a
 * layers-only plan equals the source with those layers skipped, a width
 * cut of a model whose dropped weights are zero computes the same logits
 * (apply.h says which two scales the test restores), tying sources,
 * shared MLP, GQA/MQA and odd geometries, heads mode, index-set facts
 * computed by hand (RoPE pairs), ranking, activation, recipe-random,
 * determinism, cancel. Models: tests/data/models (make_goldens.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "fileio.h"
#include "forward.h"
#include "model.h"
#include "test.h"
#include "tokenizer.h"
#include "vocab.h"

#define MODELS "tests/data/models"

static const char *const all_models[] = {"bf16_mqa",	  "long_rope",
					 "mlp_named",	  "odd72",
					 "shared_differ", "shared_untied",
					 "tied_gqa"};
#define N_MODELS (int)(sizeof all_models / sizeof all_models[0])

static const int seq[] = {1, 5, 9, 3, 17, 2, 30, 4, 11, 7, 19, 23, 6, 8};
#define SEQ_N (int)(sizeof seq / sizeof seq[0])

static struct model *load(const char *name)
{
	char dir[256];
	struct model *m = NULL;
	struct err e = {0};
	snprintf(dir, sizeof dir, MODELS "/%s", name);
	if (model_load(dir, &m, NULL, &e)) {
		fprintf(stderr, "loading %s: %s\n", name, e.msg);
		return NULL;
	}
	return m;
}

/* (SEQ_N, V) logits of m on seq, with skip flags (may be NULL). */
static float *logits_of(const struct model *m, const unsigned char *skip)
{
	struct fwd_state *s;
	struct err e = {0};
	int V = m->cfg.vocab_size;
	float *out = malloc((size_t)SEQ_N * V * sizeof *out);
	if (!out || fwd_new(m, 0, 0, &s, &e)) {
		fprintf(stderr, "fwd_new: %s\n", e.msg);
		free(out);
		return NULL;
	}
	fwd_set_skip(s, skip);
	int rc = fwd_run(s, seq, SEQ_N, out, &e);
	fwd_free(s);
	if (rc) {
		fprintf(stderr, "fwd_run: %s\n", e.msg);
		free(out);
		return NULL;
	}
	return out;
}

static double max_rel_diff(const float *a, const float *b, size_t n)
{
	double scale = 0, diff = 0;
	for (size_t i = 0; i < n; i++) {
		if (fabs(a[i]) > scale)
			scale = fabs(a[i]);
		if (fabs((double)a[i] - b[i]) > diff)
			diff = fabs((double)a[i] - b[i]);
	}
	return diff / (scale > 1 ? scale : 1);
}

/* A writable copy of m (model_new, every tensor copied). */
static struct model *copy_model(const struct model *m)
{
	struct model *c;
	struct err e = {0};
	const struct config *cf = &m->cfg;
	if (model_new(cf, &c, &e))
		return NULL;
	size_t V = (size_t)cf->vocab_size, d = (size_t)cf->hidden_size;
	size_t f = (size_t)cf->intermediate_size;
	size_t qd = (size_t)cf->n_heads * cf->head_dim;
	size_t kd = (size_t)cf->n_kv_heads * cf->head_dim;
	memcpy(c->embed, m->embed, V * d * 4);
	if (!c->tied)
		memcpy(c->lm_head, m->lm_head, V * d * 4);
	memcpy(c->norm, m->norm, d * 4);
	for (int l = 0; l < cf->n_layers; l++) {
		const struct layer_weights *a = &m->layers[l];
		struct layer_weights *b = &c->layers[l];
		memcpy(b->wq, a->wq, qd * d * 4);
		memcpy(b->wk, a->wk, kd * d * 4);
		memcpy(b->wv, a->wv, kd * d * 4);
		memcpy(b->wo, a->wo, d * qd * 4);
		memcpy(b->attn_norm, a->attn_norm, d * 4);
		memcpy(b->mlp_norm, a->mlp_norm, d * 4);
		memcpy(b->w_gate, a->w_gate, f * d * 4);
		memcpy(b->w_up, a->w_up, f * d * 4);
		memcpy(b->w_down, a->w_down, d * f * 4);
	}
	return c;
}

static bool in_set(const int *s, int n, int x)
{
	for (int i = 0; i < n; i++)
		if (s[i] == x)
			return true;
	return false;
}

/* ---- identity and layers ------------------------------------------ */

static void test_identity(void)
{
	for (int k = 0; k < N_MODELS; k++) {
		struct model *src = load(all_models[k]), *out = NULL;
		struct prune_plan p;
		struct apply_report rep;
		struct err e = {0};
		if (!src) {
			CHECK(0);
			continue;
		}
		prune_plan_init(&p);
		int rc = prune_apply(src, NULL, &p, NULL, &out, NULL, &rep,
				     NULL, &e);
		CHECK_MSG(rc == 0, "%s: %s", all_models[k], e.msg);
		if (rc) {
			model_free(src);
			continue;
		}
		CHECK_EQ_INT(rep.owned_bytes, 0); /* every tensor borrowed */
		CHECK(out->embed == src->embed && out->lm_head == src->lm_head);
		CHECK_EQ_INT(out->tied, src->tied);
		CHECK_EQ_INT(out->cfg.shared_mlp, src->cfg.shared_mlp);
		float *a = logits_of(src, NULL), *b = logits_of(out, NULL);
		size_t n = (size_t)SEQ_N * src->cfg.vocab_size;
		CHECK_MSG(a && b && !memcmp(a, b, n * sizeof *a),
			  "%s: identity logits differ", all_models[k]);
		free(a);
		free(b);
		model_free(out);
		prune_plan_free(&p);
		model_free(src);
	}
}

static void test_layers_only(void)
{
	const char *names[] = {"shared_differ", "shared_untied", "tied_gqa",
			       "odd72"};
	for (int k = 0; k < 4; k++) {
		struct model *src = load(names[k]), *out = NULL;
		struct prune_plan p;
		struct err e = {0};
		if (!src) {
			CHECK(0);
			continue;
		}
		int L = src->cfg.n_layers;
		int keep[8], nk = 0;
		unsigned char skip[8] = {0};
		for (int l = 0; l < L; l++) {
			if (l == L - 2 || (L == 2 && l == 0))
				skip[l] = 1; /* drop one early layer */
			else
				keep[nk++] = l;
		}
		prune_plan_init(&p);
		CHECK(plan_set_layer_list(&p, keep, nk, &e) == 0);
		p.layer_mode = PLAN_LAYERS_LIST;
		int rc =
		    prune_apply(src, NULL, &p, NULL, &out, NULL, NULL, NULL, &e);
		CHECK_MSG(rc == 0, "%s: %s", names[k], e.msg);
		if (!rc) {
			CHECK_EQ_INT(out->cfg.n_layers, nk);
			if (src->cfg.shared_mlp)
				for (int l = 0; l < nk; l++)
					CHECK(out->layers[l].w_gate ==
					      src->layers[0].w_gate);
			float *a = logits_of(src, skip), *b = logits_of(out, NULL);
			size_t n = (size_t)SEQ_N * src->cfg.vocab_size;
			CHECK_MSG(a && b && !memcmp(a, b, n * sizeof *a),
				  "%s: layer-dropped logits differ from "
				  "skipping",
				  names[k]);
			free(a);
			free(b);
		}
		/* first N is the same as the list 0..N-1 */
		model_free(out);
		out = NULL;
		prune_plan_free(&p);
		p.layer_mode = PLAN_LAYERS_FIRST;
		p.n_layers = 1;
		rc = prune_apply(src, NULL, &p, NULL, &out, NULL, NULL, NULL,
				 &e);
		CHECK(rc == 0);
		if (!rc) {
			CHECK_EQ_INT(out->cfg.n_layers, 1);
			CHECK(out->layers[0].wq == src->layers[0].wq);
		}
		model_free(out);
		prune_plan_free(&p);
		model_free(src);
	}
}

/* ---- width with zeroed dropped weights ------------------------------ */

/* Zeroes in m every weight the index sets drop (see apply.h). */
static void zero_dropped(struct model *m, const struct prune_index *ix)
{
	const struct config *cf = &m->cfg;
	int d = cf->hidden_size, V = cf->vocab_size, hd = cf->head_dim;
	int f = cf->intermediate_size, g = ix->group;
	int qd = cf->n_heads * hd;
	for (int i = 0; i < d; i++) {
		if (in_set(ix->resid, ix->d_new, i))
			continue;
		for (int v = 0; v < V; v++)
			m->embed[(size_t)v * d + i] = 0;
		for (int l = 0; l < cf->n_layers; l++) {
			memset(m->layers[l].wo + (size_t)i * qd, 0, qd * 4);
			memset(m->layers[l].w_down + (size_t)i * f, 0, f * 4);
		}
	}
	for (int l = 0; l < cf->n_layers; l++) {
		struct layer_weights *w = &m->layers[l];
		const int *kh = ix->kv_heads + (size_t)l * ix->kv_new;
		for (int k = 0; k < ix->kv; k++) {
			int kn = -1;
			for (int j = 0; j < ix->kv_new; j++)
				if (kh[j] == k)
					kn = j;
			const int *vo =
			    kn < 0 ? NULL
				   : ix->vo + ((size_t)l * ix->kv_new + kn) *
						  ix->hd_new;
			for (int j = 0; j < hd; j++) {
				bool qk = kn >= 0 && in_set(ix->qk, ix->hd_new, j);
				bool vk = kn >= 0 && in_set(vo, ix->hd_new, j);
				if (!qk)
					memset(w->wk + (size_t)(k * hd + j) * d,
					       0, d * 4);
				if (!vk)
					memset(w->wv + (size_t)(k * hd + j) * d,
					       0, d * 4);
				for (int gi = 0; gi < g; gi++) {
					int h = k * g + gi;
					if (!qk)
						memset(w->wq +
							   (size_t)(h * hd + j) *
							       d,
						       0, d * 4);
					if (!vk)
						for (int r = 0; r < d; r++)
							w->wo[(size_t)r * qd +
							      h * hd + j] = 0;
				}
			}
		}
		int mi = cf->shared_mlp ? 0 : l;
		const int *ch = ix->mlp + (size_t)mi * ix->f_new;
		for (int c = 0; c < f; c++) {
			if (in_set(ch, ix->f_new, c))
				continue;
			memset(w->w_gate + (size_t)c * d, 0, d * 4);
			memset(w->w_up + (size_t)c * d, 0, d * 4);
			for (int r = 0; r < d; r++)
				w->w_down[(size_t)r * f + c] = 0;
		}
	}
}

/* Restores the two scales apply leaves alone (apply.h): norms over d'
 * instead of d, attention over sqrt(hd') instead of sqrt(hd). */
static void rescale(struct model *p, int d, int hd)
{
	const struct config *cf = &p->cfg;
	int dn = cf->hidden_size, hdn = cf->head_dim;
	float sn = (float)sqrt((double)d / dn);
	float sq = (float)sqrt((double)hdn / hd);
	p->cfg.rms_norm_eps *= (double)d / dn;
	for (int i = 0; i < dn; i++)
		p->norm[i] *= sn;
	for (int l = 0; l < cf->n_layers; l++) {
		struct layer_weights *w = &p->layers[l];
		for (int i = 0; i < dn; i++) {
			w->attn_norm[i] *= sn;
			w->mlp_norm[i] *= sn;
		}
		if (hdn != hd)
			for (size_t i = 0;
			     i < (size_t)cf->n_heads * hdn * dn; i++)
				w->wq[i] *= sq;
	}
}

static void zero_width_case(const char *name, enum plan_head_mode hm,
			    enum plan_select sel)
{
	struct model *src = load(name), *z = NULL, *out = NULL;
	struct prune_plan p;
	struct prune_index ix;
	struct err e = {0};
	if (!src || !(z = copy_model(src))) {
		CHECK(0);
		model_free(src);
		return;
	}
	prune_plan_init(&p);
	p.width_factor = 0.5;
	p.head_mode = hm;
	p.select = sel;
	p.seed = 7;
	int rc = prune_select(z, &p, NULL, &ix, NULL, NULL, &e);
	CHECK_MSG(rc == 0, "%s: %s", name, e.msg);
	if (rc)
		goto out;
	if (hm == PLAN_HEADS_HEADDIM)
		CHECK_EQ_INT(ix.hd_new * 2, ix.hd);
	zero_dropped(z, &ix);
	rc = prune_build(z, &ix, &out, NULL, NULL, &e);
	CHECK_MSG(rc == 0, "%s: %s", name, e.msg);
	if (!rc) {
		CHECK_EQ_INT(out->cfg.hidden_size, ix.d_new);
		rescale(out, z->cfg.hidden_size, z->cfg.head_dim);
		float *a = logits_of(z, NULL), *b = logits_of(out, NULL);
		size_t n = (size_t)SEQ_N * src->cfg.vocab_size;
		double r = a && b ? max_rel_diff(a, b, n) : 1;
		CHECK_MSG(r <= 1e-5,
			  "%s (%s, %s): zeroed-width logits differ by %g "
			  "(relative)",
			  name, plan_head_mode_name(hm), plan_select_name(sel),
			  r);
		free(a);
		free(b);
	}
	model_free(out);
	prune_index_free(&ix);
out:
	prune_plan_free(&p);
	model_free(z);
	model_free(src);
}

static void test_zero_width(void)
{
	const char *hd_models[] = {"odd72", "tied_gqa", "shared_untied",
				   "bf16_mqa", "mlp_named", "shared_differ"};
	for (int k = 0; k < 6; k++) {
		zero_width_case(hd_models[k], PLAN_HEADS_HEADDIM,
				PLAN_SELECT_RANDOM);
		zero_width_case(hd_models[k], PLAN_HEADS_HEADDIM,
				PLAN_SELECT_MAGNITUDE);
	}
	/* heads mode: whole kv groups (GQA) */
	zero_width_case("tied_gqa", PLAN_HEADS_DROP, PLAN_SELECT_RANDOM);
	zero_width_case("shared_untied", PLAN_HEADS_DROP, PLAN_SELECT_MAGNITUDE);
	zero_width_case("mlp_named", PLAN_HEADS_DROP, PLAN_SELECT_RANDOM);
}

/* ---- index facts and gathers computed by hand ------------------------ */

static void test_index_facts(void)
{
	struct model *src = load("odd72"), *out = NULL;
	struct prune_plan p;
	struct prune_index ix;
	struct err e = {0};
	if (!src) {
		CHECK(0);
		return;
	}
	prune_plan_init(&p);
	p.width_factor = 0.5;
	CHECK(prune_select(src, &p, NULL, &ix, NULL, NULL, &e) == 0);
	/* hd 24 -> 12: pairs (i, i+12) for i = 0, 2, .., 10 */
	static const int want[12] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22};
	CHECK_EQ_INT(ix.hd_new, 12);
	CHECK(!memcmp(ix.qk, want, sizeof want));
	CHECK_EQ_INT(ix.d_new, 36);
	CHECK_EQ_INT(ix.f_new, 32);
	bool asc = true;
	for (int i = 1; i < ix.d_new; i++)
		asc = asc && ix.resid[i] > ix.resid[i - 1];
	CHECK(asc);
	CHECK(prune_build(src, &ix, &out, NULL, NULL, &e) == 0);
	if (out) {
		/* layer 1: wk row (kv 2, dim j) col c, wo row r col (h, j) */
		int d = 72, hd = 24, dn = 36, hdn = 12;
		const struct layer_weights *a = &src->layers[1];
		const struct layer_weights *b = &out->layers[1];
		int ok = 1;
		for (int j = 0; j < hdn; j++)
			for (int c = 0; c < dn; c++) {
				float x = a->wk[(size_t)(2 * hd + ix.qk[j]) * d +
						ix.resid[c]];
				ok &= x == b->wk[(size_t)(2 * hdn + j) * dn + c];
				const int *vo = ix.vo + ((size_t)1 * 3 + 2) * hdn;
				float y = a->wo[(size_t)ix.resid[c] * (3 * hd) +
						2 * hd + vo[j]];
				ok &= y == b->wo[(size_t)c * (3 * hdn) +
						 2 * hdn + j];
			}
		CHECK(ok);
		/* down: row resid[r], column mlp[1][c] */
		ok = 1;
		for (int r = 0; r < dn; r++)
			for (int c = 0; c < 32; c++)
				ok &= a->w_down[(size_t)ix.resid[r] * 64 +
						ix.mlp[32 + c]] ==
				      b->w_down[(size_t)r * 32 + c];
		CHECK(ok);
		for (int i = 0; i < dn; i++)
			ok &= out->norm[i] == src->norm[ix.resid[i]];
		CHECK(ok);
	}
	model_free(out);
	prune_index_free(&ix);

	/* same seed, same sets; another seed, other sets */
	struct prune_index a, b;
	p.seed = 3;
	CHECK(prune_select(src, &p, NULL, &a, NULL, NULL, &e) == 0);
	CHECK(prune_select(src, &p, NULL, &b, NULL, NULL, &e) == 0);
	CHECK(!memcmp(a.resid, b.resid, (size_t)a.d_new * sizeof(int)));
	CHECK(!memcmp(a.mlp, b.mlp, (size_t)a.n_mlp * a.f_new * sizeof(int)));
	prune_index_free(&b);
	p.seed = 4;
	CHECK(prune_select(src, &p, NULL, &b, NULL, NULL, &e) == 0);
	CHECK(memcmp(a.resid, b.resid, (size_t)a.d_new * sizeof(int)) != 0);
	prune_index_free(&a);
	prune_index_free(&b);
	prune_plan_free(&p);
	model_free(src);
}

/* ---- tying ------------------------------------------------------------ */

static void test_tying(void)
{
	struct model *src = load("odd72");
	struct err e = {0};
	if (!src) {
		CHECK(0);
		return;
	}
	enum plan_tie ties[3] = {PLAN_TIE_LM_HEAD, PLAN_TIE_EMBED,
				 PLAN_TIE_MEAN};
	size_t n = (size_t)src->cfg.vocab_size * src->cfg.hidden_size;
	for (int k = 0; k < 3; k++) {
		struct prune_plan p;
		struct model *out = NULL;
		prune_plan_init(&p);
		p.tie = ties[k];
		int rc =
		    prune_apply(src, NULL, &p, NULL, &out, NULL, NULL, NULL, &e);
		CHECK_MSG(rc == 0, "tie %s: %s", plan_tie_name(ties[k]), e.msg);
		if (rc)
			continue;
		CHECK(out->tied && out->cfg.tie_word_embeddings);
		CHECK(out->embed == out->lm_head);
		int ok = 1;
		for (size_t i = 0; i < n; i++) {
			float w = ties[k] == PLAN_TIE_LM_HEAD ? src->lm_head[i]
				  : ties[k] == PLAN_TIE_EMBED
				      ? src->embed[i]
				      : 0.5f * (src->embed[i] + src->lm_head[i]);
			ok &= out->embed[i] == w;
		}
		CHECK_MSG(ok, "tie %s: wrong values", plan_tie_name(ties[k]));
		/* the forward runs on it */
		float *l = logits_of(out, NULL);
		CHECK(l != NULL);
		free(l);
		model_free(out);
		/* with a width cut too */
		p.width_factor = 0.5;
		struct prune_index ix;
		rc = prune_select(src, &p, NULL, &ix, NULL, NULL, &e);
		CHECK(rc == 0);
		if (!rc && prune_build(src, &ix, &out, NULL, NULL, &e) == 0) {
			CHECK(out->embed == out->lm_head);
			int dn = ix.d_new, d = src->cfg.hidden_size;
			float want = ties[k] == PLAN_TIE_EMBED
					 ? src->embed[5 * d + ix.resid[3]]
				     : ties[k] == PLAN_TIE_LM_HEAD
					 ? src->lm_head[5 * d + ix.resid[3]]
					 : 0.5f * (src->embed[5 * d + ix.resid[3]] +
						   src->lm_head[5 * d + ix.resid[3]]);
			CHECK(out->embed[5 * dn + 3] == want);
			model_free(out);
		}
		prune_index_free(&ix);
		prune_plan_free(&p);
	}
	model_free(src);
}

/* ---- shared MLP -------------------------------------------------------- */

static void test_shared(void)
{
	struct model *src = load("shared_untied"), *out = NULL;
	struct prune_plan p;
	struct err e = {0};
	if (!src) {
		CHECK(0);
		return;
	}
	prune_plan_init(&p);
	p.width_factor = 0.5;
	p.select = PLAN_SELECT_MAGNITUDE;
	int rc = prune_apply(src, NULL, &p, NULL, &out, NULL, NULL, NULL, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	if (!rc) {
		CHECK(out->cfg.shared_mlp);
		for (int l = 1; l < out->cfg.n_layers; l++)
			CHECK(out->layers[l].w_gate == out->layers[0].w_gate &&
			      out->layers[l].w_up == out->layers[0].w_up &&
			      out->layers[l].w_down == out->layers[0].w_down);
		CHECK_EQ_INT(out->cfg.intermediate_size, 44);
		/* one MLP counted once: 3*d'*f' */
		struct param_breakdown b;
		config_params(&out->cfg, &b);
		CHECK_EQ_INT(b.mlp, 3 * 16 * 44);
	}
	model_free(out);
	prune_plan_free(&p);
	model_free(src);
}

/* ---- ranking, activation, recipe-random, cancel ------------------------- */

static int calib[200];

static void make_calib(int V)
{
	uint32_t s = 12345;
	for (int i = 0; i < 200; i++) {
		s = s * 1103515245u + 12345u;
		calib[i] = (int)((s >> 8) % (uint32_t)V);
	}
}

static void test_rank_activation(void)
{
	struct model *src = load("shared_differ"), *out = NULL;
	struct prune_plan p;
	struct apply_report rep;
	struct err e = {0};
	if (!src) {
		CHECK(0);
		return;
	}
	make_calib(src->cfg.vocab_size);
	struct apply_inputs in = {.calib = calib, .n_calib = 200,
				  .calib_ctx = 48};
	prune_plan_init(&p);
	p.layer_mode = PLAN_LAYERS_RANK;
	p.n_layers = 2;
	CHECK_ERR(prune_apply(src, NULL, &p, NULL, &out, NULL, NULL, NULL, &e),
		  e, ERR_INVALID, "calibration");
	int rc = prune_apply(src, NULL, &p, &in, &out, NULL, &rep, NULL, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	if (!rc) {
		CHECK(rep.ranked);
		CHECK_EQ_INT(rep.n_layer_scores, 3);
		CHECK_EQ_INT(rep.n_layers_kept, 2);
		CHECK(rep.layers[0] < rep.layers[1]);
		/* the dropped layer has the lowest score */
		int dropped = 3 - rep.layers[0] - rep.layers[1];
		for (int l = 0; l < 3; l++) {
			CHECK(rep.layer_score[l] >= 0 &&
			      rep.layer_score[l] <= 2);
			if (l != dropped)
				CHECK(rep.layer_score[l] >=
				      rep.layer_score[dropped]);
		}
	}
	model_free(out);
	out = NULL;

	/* activation selection: runs, differs from magnitude */
	p.layer_mode = PLAN_LAYERS_FIRST;
	p.n_layers = 0;
	p.width_factor = 0.5;
	p.select = PLAN_SELECT_ACTIVATION;
	struct prune_index ia, im;
	CHECK_ERR(prune_select(src, &p, NULL, &ia, NULL, NULL, &e), e,
		  ERR_INVALID, "calibration");
	CHECK(prune_select(src, &p, &in, &ia, NULL, NULL, &e) == 0);
	p.select = PLAN_SELECT_MAGNITUDE;
	CHECK(prune_select(src, &p, NULL, &im, NULL, NULL, &e) == 0);
	CHECK(memcmp(ia.resid, im.resid, (size_t)ia.d_new * sizeof(int)) ||
	      memcmp(ia.mlp, im.mlp, (size_t)ia.f_new * sizeof(int)));
	if (prune_build(src, &ia, &out, NULL, NULL, &e) == 0) {
		float *l = logits_of(out, NULL);
		CHECK(l != NULL);
		free(l);
	}
	model_free(out);
	out = NULL;
	prune_index_free(&ia);
	prune_index_free(&im);

	/* recipe-random: right shapes, deterministic, not consistent */
	p.select = PLAN_SELECT_RECIPE_RANDOM;
	struct model *o2 = NULL;
	CHECK(prune_apply(src, NULL, &p, NULL, &out, NULL, NULL, NULL, &e) ==
	      0);
	CHECK(prune_apply(src, NULL, &p, NULL, &o2, NULL, NULL, NULL, &e) ==
	      0);
	if (out && o2) {
		size_t n = (size_t)16 * 16;
		CHECK(!memcmp(out->layers[1].wq, o2->layers[1].wq, n * 4));
		CHECK(out->cfg.shared_mlp &&
		      out->layers[2].w_up == out->layers[0].w_up);
		float *l = logits_of(out, NULL);
		CHECK(l != NULL);
		free(l);
	}
	model_free(out);
	model_free(o2);
	prune_plan_free(&p);
	model_free(src);
}

static int cancel_at(void *ctx, double done, const char *stage)
{
	(void)done;
	(void)stage;
	int *n = ctx;
	return --*n <= 0;
}

static void test_cancel(void)
{
	struct model *src = load("shared_differ"), *out = NULL;
	struct prune_plan p;
	struct err e = {0};
	if (!src) {
		CHECK(0);
		return;
	}
	prune_plan_init(&p);
	p.width_factor = 0.5;
	for (int k = 1; k <= 3; k++) {
		int n = k;
		struct progress prog = {cancel_at, &n};
		CHECK_ERR(prune_apply(src, NULL, &p, NULL, &out, NULL, NULL,
				      &prog, &e),
			  e, ERR_CANCELLED, "cancelled");
		CHECK(out == NULL);
	}
	prune_plan_free(&p);
	model_free(src);
}

/* ---- vocabulary ----------------------------------------------------- */

/* A LIST plan on a golden model: logits of a sequence of kept ids equal
 * the source's at the kept ids. */
static void test_vocab_list(void)
{
	struct model *src = load("tied_gqa"), *out = NULL;
	struct prune_plan p;
	struct err e = {0};
	if (!src) {
		CHECK(0);
		return;
	}
	int V = src->cfg.vocab_size, keep[128], nk = 0, old_to_new[128];
	for (int i = 0; i < V; i++) {
		old_to_new[i] = -1;
		if (i < 3 || i % 3 != 1) { /* drop 1/3 (specials kept) */
			old_to_new[i] = nk;
			keep[nk++] = i;
		}
	}
	prune_plan_init(&p);
	p.vocab_mode = PLAN_VOCAB_LIST;
	p.merge_closure = false;
	CHECK(plan_set_vocab_ids(&p, keep, nk, &e) == 0);
	p.width_factor = 1;
	p.vocab_keep = nk;
	int rc = prune_apply(src, NULL, &p, NULL, &out, NULL, NULL, NULL, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	if (!rc) {
		CHECK_EQ_INT(out->cfg.vocab_size, nk);
		CHECK_EQ_INT(out->cfg.bos_token_id, 1);
		CHECK(out->tied);
		/* a sequence of kept ids */
		int so[12] = {1, 5, 9, 3, 18, 2, 30, 6, 11, 8, 20, 24};
		int sn[12];
		for (int i = 0; i < 12; i++)
			sn[i] = old_to_new[so[i]];
		float *a = malloc((size_t)12 * V * 4);
		float *b = malloc((size_t)12 * nk * 4);
		struct fwd_state *s1, *s2;
		CHECK(fwd_new(src, 0, 0, &s1, &e) == 0 &&
		      fwd_new(out, 0, 0, &s2, &e) == 0);
		CHECK(fwd_run(s1, so, 12, a, &e) == 0 &&
		      fwd_run(s2, sn, 12, b, &e) == 0);
		double worst = 0;
		for (int t = 0; t < 12; t++)
			for (int j = 0; j < nk; j++) {
				double d = fabs((double)a[t * V + keep[j]] -
						b[t * nk + j]);
				if (d > worst)
					worst = d;
			}
		CHECK_MSG(worst <= 1e-5, "vocab-pruned logits differ by %g",
			  worst);
		fwd_free(s1);
		fwd_free(s2);
		free(a);
		free(b);
	}
	model_free(out);
	/* closure on without a keep set: refused */
	p.merge_closure = true;
	CHECK_ERR(prune_apply(src, NULL, &p, NULL, &out, NULL, NULL, NULL, &e),
		  e, ERR_INVALID, "vocab");
	prune_plan_free(&p);
	model_free(src);
}

/* vocab.h's keep set + rewrite through prune_apply: the pruned tokenizer
 * encodes the counted text to the mapped ids, and the logits at the kept
 * ids equal the source's. */
static void test_vocab_keep(void)
{
	struct tokenizer *tok = NULL, *nt = NULL;
	struct vocab_counts *cnt = NULL;
	struct vocab_keep *k = NULL;
	struct model *src = NULL, *out = NULL;
	struct err e = {0};
	char *text = NULL;
	size_t len = 0;
	if (tok_load("tests/data/tok/small_llama_pairs.json", &tok, &e) ||
	    file_read_all("tests/data/tok/small_inputs.txt", 1 << 20, &text,
			  &len, &e)) {
		CHECK_MSG(0, "%s", e.msg);
		goto out;
	}
	int V = tok_vocab_size(tok);
	struct config c;
	memset(&c, 0, sizeof c);
	c.vocab_size = V;
	c.hidden_size = 16;
	c.intermediate_size = 24;
	c.n_layers = 2;
	c.n_heads = 2;
	c.n_kv_heads = 2;
	c.head_dim = 8;
	c.max_position_embeddings = 256;
	c.rope_theta = 10000;
	c.rms_norm_eps = 1e-5;
	c.bos_token_id = 1;
	c.eos_token_id = 2;
	c.pad_token_id = -1;
	if (model_new(&c, &src, &e)) {
		CHECK(0);
		goto out;
	}
	uint32_t st = 7;
	float *ptrs[] = {src->embed, src->lm_head, src->norm};
	size_t ns[] = {(size_t)V * 16, (size_t)V * 16, 16};
	for (int i = 0; i < 3; i++)
		for (size_t j = 0; j < ns[i]; j++) {
			st = st * 1664525u + 1013904223u;
			ptrs[i][j] = (float)((int)(st >> 9) % 2001) / 1000.0f;
		}
	for (int l = 0; l < 2; l++) {
		struct layer_weights *w = &src->layers[l];
		float *lp[] = {w->wq,	     w->wk,	  w->wv,
			       w->wo,	     w->attn_norm, w->mlp_norm,
			       w->w_gate,    w->w_up,	  w->w_down};
		size_t ln[] = {256, 256, 256, 256, 16, 16, 384, 384, 384};
		for (int i = 0; i < 9; i++)
			for (size_t j = 0; j < ln[i]; j++) {
				st = st * 1664525u + 1013904223u;
				lp[i][j] = (float)((int)(st >> 9) % 2001) /
					   4000.0f;
			}
	}
	CHECK(vocab_counts_new(tok, &cnt, &e) == 0);
	/* counted: the test line (so all its pieces are kept) and the
	 * file's first 3 lines */
	const char *line = "kuku kwa kuku na kwa kaka";
	CHECK(vocab_count_text(tok, line, strlen(line), cnt, &e) == 0);
	int nl = 0;
	for (char *l = text, *end; l < text + len && nl < 3; l = end + 1) {
		end = memchr(l, '\n', (size_t)(text + len - l));
		if (!end)
			end = text + len;
		CHECK(vocab_count_text(tok, l, (size_t)(end - l), cnt, &e) ==
		      0);
		nl++;
	}
	int K = V - 20; /* drops 20 pieces; the line keeps all of its */
	CHECK_MSG(vocab_keep_top_k(tok, cnt, K, true, &k, &e) == 0, "%s",
		  e.msg);
	if (!k)
		goto out;
	struct prune_plan p;
	prune_plan_init(&p);
	p.vocab_mode = PLAN_VOCAB_TOP_K;
	p.vocab_keep = K;
	p.merge_closure = true;
	struct apply_inputs in = {.keep = k};
	int rc = prune_apply(src, tok, &p, &in, &out, &nt, NULL, NULL, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	prune_plan_free(&p);
	if (rc)
		goto out;
	CHECK(nt != NULL);
	CHECK_EQ_INT(out->cfg.vocab_size, k->n_keep);
	CHECK_EQ_INT(tok_vocab_size(nt), k->n_keep);
	int *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	CHECK(tok_encode(tok, line, strlen(line), true, &a, &na, &e) == 0);
	CHECK(tok_encode(nt, line, strlen(line), true, &b, &nb, &e) == 0);
	int all_kept = 1;
	for (size_t i = 0; i < na; i++)
		all_kept &= k->old_to_new[a[i]] >= 0;
	CHECK(all_kept);
	CHECK_EQ_INT(na, nb);
	int same = na == nb;
	for (size_t i = 0; same && i < na; i++)
		same = k->old_to_new[a[i]] == b[i];
	CHECK_MSG(same, "the pruned tokenizer encodes differently");
	if (same && na > 1) {
		int n = (int)na, Vn = k->n_keep;
		float *la = malloc((size_t)n * V * 4);
		float *lb = malloc((size_t)n * Vn * 4);
		struct fwd_state *s1, *s2;
		CHECK(fwd_new(src, 0, 0, &s1, &e) == 0 &&
		      fwd_new(out, 0, 0, &s2, &e) == 0);
		CHECK(fwd_run(s1, a, n, la, &e) == 0 &&
		      fwd_run(s2, b, n, lb, &e) == 0);
		double worst = 0;
		for (int t = 0; t < n; t++)
			for (int j = 0; j < Vn; j++) {
				double d = fabs((double)la[(size_t)t * V +
							   k->keep[j]] -
						lb[(size_t)t * Vn + j]);
				if (d > worst)
					worst = d;
			}
		CHECK_MSG(worst <= 1e-5, "logits at kept ids differ by %g",
			  worst);
		fwd_free(s1);
		fwd_free(s2);
		free(la);
		free(lb);
	}
	free(a);
	free(b);
out:
	model_free(out);
	model_free(src);
	tok_free(nt);
	tok_free(tok);
	vocab_keep_free(k);
	vocab_counts_free(cnt);
	free(text);
}

/* ---- measured effect on a trained model ------------------------------- */

#define TINY "assets/tiny-inkuba"

static int measure_plan(const struct model *src, const struct tokenizer *tok,
			const struct prune_plan *p, const char *text,
			size_t len, struct prune_effect *fx)
{
	struct model *out = NULL;
	struct err e = {0};
	struct eval_opts o;
	eval_defaults(&o);
	o.ctx = 128;
	o.stride = 64;
	int rc = prune_apply(src, NULL, p, NULL, &out, NULL, NULL, NULL, &e);
	if (!rc)
		rc = prune_measure(src, tok, out, NULL, text, len, &o, fx, &e);
	if (rc)
		fprintf(stderr, "measure: %s\n", e.msg);
	model_free(out);
	return rc;
}

static void test_measured_effect(void)
{
	struct model *src = NULL;
	struct tokenizer *tok = NULL;
	struct err e = {0};
	char *text = NULL;
	size_t len = 0;
	if (!path_exists(TINY "/model.safetensors") ||
	    !path_exists(TINY "/config.json")) {
		SKIP(TINY " is not trained yet: the consistent-vs-recipe "
			  "comparison on a trained model did not run");
		return;
	}
	if (model_load(TINY, &src, NULL, &e) || tok_load(TINY, &tok, &e) ||
	    file_read_all(TINY "/heldout_swh.txt", 1 << 24, &text, &len,
			  &e)) {
		CHECK_MSG(0, "%s", e.msg);
		goto out;
	}
	if (len > 3000) { /* keep the test fast: whole lines up to 3 kB */
		char *nl = memchr(text + 3000, '\n', len - 3000);
		len = nl ? (size_t)(nl - text) : len;
	}
	struct prune_plan p;
	struct prune_effect id, cons, mag, rec;
	prune_plan_init(&p);
	CHECK(measure_plan(src, tok, &p, text, len, &id) == 0);
	CHECK_NEAR(id.dst.kl_mean, 0, 1e-9);
	CHECK_NEAR(id.dst.top1, 1, 1e-12);
	CHECK(id.src.bpb == id.dst.bpb);
	p.width_factor = 0.5;
	p.select = PLAN_SELECT_RANDOM;
	CHECK(measure_plan(src, tok, &p, text, len, &cons) == 0);
	p.select = PLAN_SELECT_MAGNITUDE;
	CHECK(measure_plan(src, tok, &p, text, len, &mag) == 0);
	p.select = PLAN_SELECT_RECIPE_RANDOM;
	CHECK(measure_plan(src, tok, &p, text, len, &rec) == 0);
	fprintf(stderr,
		"tiny-inkuba, width 1/2, %zu bytes of heldout_swh: bits/byte "
		"original %.4f, consistent random %.4f (KL %.3f, top-1 "
		"%.1f%%), magnitude %.4f (KL %.3f, top-1 %.1f%%), recipe-"
		"random %.4f (KL %.3f, top-1 %.1f%%)\n",
		len, id.src.bpb, cons.dst.bpb, cons.dst.kl_mean,
		100 * cons.dst.top1, mag.dst.bpb, mag.dst.kl_mean,
		100 * mag.dst.top1, rec.dst.bpb, rec.dst.kl_mean,
		100 * rec.dst.top1);
	/* the consistent cut loses clearly less than the recipe's */
	CHECK_MSG(cons.dst.bpb < rec.dst.bpb - 0.1 &&
		      cons.dst.kl_mean < rec.dst.kl_mean,
		  "consistent %.4f vs recipe-random %.4f bits/byte",
		  cons.dst.bpb, rec.dst.bpb);
	prune_plan_free(&p);
out:
	free(text);
	tok_free(tok);
	model_free(src);
}

int main(void)
{
	test_identity();
	test_layers_only();
	test_zero_width();
	test_index_facts();
	test_tying();
	test_shared();
	test_rank_activation();
	test_cancel();
	test_vocab_list();
	test_vocab_keep();
	test_measured_effect();
	return TEST_SUMMARY();
}
