/* apply — plan x model -> pruned model. See apply.h. */
#include "apply.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "tokenizer.h"
#include "vocab.h"

/* ------------------------------------------------------------------ */
/* Random numbers: splitmix64 to seed, xorshift64* to draw.            */

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

/* One independent stream per (seed, stream id). */
static uint64_t rng_init(uint64_t seed, uint64_t stream)
{
	uint64_t s = splitmix64(seed ^ splitmix64(stream + 0x5151));
	return s ? s : 0x2545F4914F6CDD1DULL;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* k of 0..n-1 at random (partial Fisher-Yates), ascending, into out. */
static int pick_random(int n, int k, uint64_t seed, uint64_t stream, int *out,
		       struct err *e)
{
	int *all = malloc((size_t)n * sizeof *all);
	if (!all)
		return err_set(e, ERR_NOMEM, "apply: out of memory");
	for (int i = 0; i < n; i++)
		all[i] = i;
	uint64_t s = rng_init(seed, stream);
	for (int i = 0; i < k; i++) {
		int j = i + (int)(rng_next(&s) % (uint64_t)(n - i));
		int t = all[i];
		all[i] = all[j];
		all[j] = t;
	}
	memcpy(out, all, (size_t)k * sizeof *out);
	free(all);
	qsort(out, (size_t)k, sizeof *out, cmp_int);
	return 0;
}

struct scored {
	double s;
	int i;
};

static int cmp_scored(const void *a, const void *b)
{
	const struct scored *x = a, *y = b;
	if (x->s != y->s)
		return x->s < y->s ? 1 : -1; /* higher first */
	return (x->i > y->i) - (x->i < y->i);
}

/* The k highest scores (ties: lower index), ascending by index. */
static int pick_top(const double *score, int n, int k, int *out,
		    struct err *e)
{
	struct scored *v = malloc((size_t)n * sizeof *v);
	if (!v)
		return err_set(e, ERR_NOMEM, "apply: out of memory");
	for (int i = 0; i < n; i++) {
		v[i].s = isnan(score[i]) ? -HUGE_VAL : score[i];
		v[i].i = i;
	}
	qsort(v, (size_t)n, sizeof *v, cmp_scored);
	for (int i = 0; i < k; i++)
		out[i] = v[i].i;
	free(v);
	qsort(out, (size_t)k, sizeof *out, cmp_int);
	return 0;
}

static bool is_iota(const int *a, int n, int full)
{
	if (!a)
		return true;
	if (n != full)
		return false;
	for (int i = 0; i < n; i++)
		if (a[i] != i)
			return false;
	return true;
}

void prune_index_free(struct prune_index *ix)
{
	if (!ix)
		return;
	free(ix->resid);
	free(ix->qk);
	free(ix->layers);
	free(ix->kv_heads);
	free(ix->vo);
	free(ix->mlp);
	free(ix->vocab);
	free(ix->layer_score);
	memset(ix, 0, sizeof *ix);
}

/* ------------------------------------------------------------------ */
/* Calibration: one pass of the source over the calibration tokens.    */

struct calib {
	struct fwd_state *s;
	int L, d, f, qd, n_mlp;
	double *cos_sum;    /* (L) sum over tokens of 1 - cos(in, out) */
	double *resid_abs;  /* (L, d) sum of |x_i| / rms(x) of layer inputs */
	double *hb_abs;	    /* (L, f) sum of |silu(gate) * up| */
	double *att_abs;    /* (L, qd) sum of |attention output| */
	uint64_t *n_tok;    /* (L) tokens seen per layer */
};

static void calib_hook(void *ctx, int l, const float *in, const float *out,
		       int T, int d)
{
	struct calib *c = ctx;
	for (int t = 0; t < T; t++) {
		const float *a = in + (size_t)t * d, *b = out + (size_t)t * d;
		double ab = 0, aa = 0, bb = 0;
		for (int i = 0; i < d; i++) {
			ab += (double)a[i] * b[i];
			aa += (double)a[i] * a[i];
			bb += (double)b[i] * b[i];
		}
		double cosv = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 1.0;
		c->cos_sum[l] += 1.0 - cosv;
		double rms = sqrt(aa / d);
		double *r = c->resid_abs + (size_t)l * d;
		if (rms > 0)
			for (int i = 0; i < d; i++)
				r[i] += fabs((double)a[i]) / rms;
		const float *hb = c->s->hb + (size_t)t * c->f;
		double *h = c->hb_abs + (size_t)l * c->f;
		for (int i = 0; i < c->f; i++)
			h[i] += fabs((double)hb[i]);
		const float *at = c->s->att_out + (size_t)t * c->qd;
		double *o = c->att_abs + (size_t)l * c->qd;
		for (int i = 0; i < c->qd; i++)
			o[i] += fabs((double)at[i]);
	}
	c->n_tok[l] += (uint64_t)T;
}

static void calib_free(struct calib *c)
{
	fwd_free(c->s);
	free(c->cos_sum);
	free(c->resid_abs);
	free(c->hb_abs);
	free(c->att_abs);
	free(c->n_tok);
	memset(c, 0, sizeof *c);
}

static int calib_run(const struct model *src, const struct apply_inputs *in,
		     struct calib *c, const struct progress *prog,
		     struct err *e)
{
	const struct config *cf = &src->cfg;
	int rc;
	memset(c, 0, sizeof *c);
	c->L = cf->n_layers;
	c->d = cf->hidden_size;
	c->f = cf->intermediate_size;
	c->qd = cf->n_heads * cf->head_dim;
	int ctx = in->calib_ctx > 0 ? in->calib_ctx : 256;
	if (ctx > cf->max_position_embeddings)
		ctx = cf->max_position_embeddings;
	c->cos_sum = calloc((size_t)c->L, sizeof *c->cos_sum);
	c->resid_abs = calloc((size_t)c->L * c->d, sizeof *c->resid_abs);
	c->hb_abs = calloc((size_t)c->L * c->f, sizeof *c->hb_abs);
	c->att_abs = calloc((size_t)c->L * c->qd, sizeof *c->att_abs);
	c->n_tok = calloc((size_t)c->L, sizeof *c->n_tok);
	if (!c->cos_sum || !c->resid_abs || !c->hb_abs || !c->att_abs ||
	    !c->n_tok) {
		calib_free(c);
		return err_set(e, ERR_NOMEM, "apply: out of memory");
	}
	if ((rc = fwd_new(src, ctx, ctx, &c->s, e))) {
		calib_free(c);
		return rc;
	}
	c->s->on_layer = calib_hook;
	c->s->hook_ctx = c;
	for (size_t at = 0; at < in->n_calib; at += (size_t)ctx) {
		size_t n = in->n_calib - at;
		if (n > (size_t)ctx)
			n = (size_t)ctx;
		if ((rc = progress_report(prog,
					  (double)at / (double)in->n_calib,
					  "calibrating", e))) {
			calib_free(c);
			return rc;
		}
		fwd_reset(c->s);
		if ((rc = fwd_run(c->s, in->calib + at, (int)n, NULL, e))) {
			calib_free(c);
			return err_wrap(e, "calibration text");
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Norms of the weights.                                                */

/* Adds the L2 norm of every column of a (R, C) matrix to acc[C]. */
static int add_col_norms(double *acc, const float *w, int R, int C,
			 struct err *e)
{
	double *s = calloc((size_t)C, sizeof *s);
	if (!s)
		return err_set(e, ERR_NOMEM, "apply: out of memory");
	for (int r = 0; r < R; r++) {
		const float *row = w + (size_t)r * C;
		for (int c = 0; c < C; c++)
			s[c] += (double)row[c] * row[c];
	}
	for (int c = 0; c < C; c++)
		acc[c] += sqrt(s[c]);
	free(s);
	return 0;
}

static double row_norm(const float *w, int C, int r)
{
	const float *row = w + (size_t)r * C;
	double s = 0;
	for (int c = 0; c < C; c++)
		s += (double)row[c] * row[c];
	return sqrt(s);
}

static double col_norm(const float *w, int R, int C, int c)
{
	double s = 0;
	for (int r = 0; r < R; r++) {
		double v = w[(size_t)r * C + c];
		s += v * v;
	}
	return sqrt(s);
}

/* ------------------------------------------------------------------ */
/* Selection                                                           */

/* RoPE-matched q/k dims: for each new pair j the unused old pair i whose
 * frequency theta^(-2i/hd) is closest to theta^(-2j/hd') — in log space,
 * i nearest to j*hd/hd' — then dims {i} and {i + hd/2}. */
static int rope_dims(int hd, int hdn, int *out, struct err *e)
{
	int half = hd / 2, halfn = hdn / 2;
	unsigned char *used = calloc((size_t)half, 1);
	int *pick = malloc((size_t)(halfn > 0 ? halfn : 1) * sizeof *pick);
	if (!used || !pick) {
		free(used);
		free(pick);
		return err_set(e, ERR_NOMEM, "apply: out of memory");
	}
	for (int j = 0; j < halfn; j++) {
		double want = (double)j * hd / hdn;
		int best = -1;
		double bd = 0;
		for (int i = 0; i < half; i++) {
			if (used[i])
				continue;
			double dd = fabs(i - want);
			if (best < 0 || dd < bd) {
				best = i;
				bd = dd;
			}
		}
		used[best] = 1;
		pick[j] = best;
	}
	qsort(pick, (size_t)halfn, sizeof *pick, cmp_int);
	for (int j = 0; j < halfn; j++) {
		out[j] = pick[j];
		out[j + halfn] = pick[j] + half;
	}
	free(used);
	free(pick);
	return 0;
}

static int select_layers(const struct model *src, const struct prune_plan *p,
			 const struct calib *c, struct prune_index *ix,
			 struct err *e)
{
	int L = src->cfg.n_layers;
	ix->L_src = L;
	ix->L_new = ix->cfg.n_layers;
	ix->layers = malloc((size_t)ix->L_new * sizeof *ix->layers);
	if (!ix->layers)
		return err_set(e, ERR_NOMEM, "apply: out of memory");
	switch (p->layer_mode) {
	case PLAN_LAYERS_FIRST:
		for (int i = 0; i < ix->L_new; i++)
			ix->layers[i] = i;
		return 0;
	case PLAN_LAYERS_LIST:
		memcpy(ix->layers, p->layer_list,
		       (size_t)ix->L_new * sizeof *ix->layers);
		qsort(ix->layers, (size_t)ix->L_new, sizeof *ix->layers,
		      cmp_int);
		return 0;
	case PLAN_LAYERS_RANK:
		break;
	}
	ix->layer_score = calloc((size_t)L, sizeof *ix->layer_score);
	if (!ix->layer_score)
		return err_set(e, ERR_NOMEM, "apply: out of memory");
	for (int l = 0; l < L; l++)
		ix->layer_score[l] =
		    c->n_tok[l] ? c->cos_sum[l] / (double)c->n_tok[l] : 0;
	return pick_top(ix->layer_score, L, ix->L_new, ix->layers, e);
}

static bool layer_kept(const struct prune_index *ix, int l)
{
	for (int i = 0; i < ix->L_new; i++)
		if (ix->layers[i] == l)
			return true;
	return false;
}

/* Residual-stream scores (MAGNITUDE / ACTIVATION). */
static int score_resid(const struct model *src, const struct prune_index *ix,
		       const struct calib *c, double *sc,
		       const struct progress *prog, struct err *e)
{
	const struct config *cf = &src->cfg;
	int d = cf->hidden_size, f = cf->intermediate_size;
	int qd = cf->n_heads * cf->head_dim, kd = cf->n_kv_heads * cf->head_dim;
	int rc;
	bool mlp_done = false;
	if ((rc = add_col_norms(sc, src->embed, cf->vocab_size, d, e)))
		return rc;
	if (!src->tied &&
	    (rc = add_col_norms(sc, src->lm_head, cf->vocab_size, d, e)))
		return rc;
	for (int k = 0; k < ix->L_new; k++) {
		const struct layer_weights *w = &src->layers[ix->layers[k]];
		if ((rc = progress_report(prog, (double)k / ix->L_new,
					  "scoring weights", e)) ||
		    (rc = add_col_norms(sc, w->wq, qd, d, e)) ||
		    (rc = add_col_norms(sc, w->wk, kd, d, e)) ||
		    (rc = add_col_norms(sc, w->wv, kd, d, e)))
			return rc;
		for (int i = 0; i < d; i++)
			sc[i] += row_norm(w->wo, qd, i);
		if (cf->shared_mlp && mlp_done)
			continue;
		mlp_done = true;
		if ((rc = add_col_norms(sc, w->w_gate, f, d, e)) ||
		    (rc = add_col_norms(sc, w->w_up, f, d, e)))
			return rc;
		for (int i = 0; i < d; i++)
			sc[i] += row_norm(w->w_down, f, i);
	}
	if (c) {
		for (int i = 0; i < d; i++) {
			double a = 0;
			uint64_t n = 0;
			for (int k = 0; k < ix->L_new; k++) {
				int l = ix->layers[k];
				a += c->resid_abs[(size_t)l * d + i];
				n += c->n_tok[l];
			}
			sc[i] *= n ? a / (double)n : 0;
		}
	}
	return 0;
}

/* MLP channel scores of MLP m (its source layer `l`; for a shared MLP
 * the activations of every kept layer add up). */
static void score_mlp(const struct model *src, const struct prune_index *ix,
		      const struct calib *c, int l, double *sc)
{
	const struct config *cf = &src->cfg;
	int d = cf->hidden_size, f = cf->intermediate_size;
	const struct layer_weights *w = &src->layers[l];
	for (int i = 0; i < f; i++)
		sc[i] = row_norm(w->w_gate, d, i) * row_norm(w->w_up, d, i) *
			col_norm(w->w_down, d, f, i);
	if (!c)
		return;
	for (int i = 0; i < f; i++) {
		double a = 0;
		uint64_t n = 0;
		for (int k = 0; k < ix->L_new; k++) {
			int lk = ix->layers[k];
			if (!cf->shared_mlp && lk != l)
				continue;
			a += c->hb_abs[(size_t)lk * f + i];
			n += c->n_tok[lk];
		}
		sc[i] *= n ? a / (double)n : 0;
	}
}

/* Mean |attention output| of dim `col` (of h*hd) in layer l. */
static double att_mean(const struct calib *c, int l, int col)
{
	return c->n_tok[l] ? c->att_abs[(size_t)l * c->qd + col] /
				 (double)c->n_tok[l]
			   : 0;
}

static int select_heads(const struct model *src, const struct prune_plan *p,
			const struct calib *c, struct prune_index *ix,
			struct err *e)
{
	const struct config *cf = &src->cfg;
	int L = cf->n_layers, kv = ix->kv, g = ix->group, hd = ix->hd;
	int d = cf->hidden_size, qd = cf->n_heads * hd;
	int rc = 0;
	double *sc = malloc((size_t)(kv > hd ? kv : hd) * sizeof *sc);
	if (!sc)
		return err_set(e, ERR_NOMEM, "apply: out of memory");
	for (int l = 0; l < L && !rc; l++) {
		int *kh = ix->kv_heads + (size_t)l * ix->kv_new;
		const struct layer_weights *w = &src->layers[l];
		/* kept kv heads */
		if (ix->kv_new == kv) {
			for (int k = 0; k < kv; k++)
				kh[k] = k;
		} else if (p->select == PLAN_SELECT_RANDOM || !layer_kept(ix, l)) {
			rc = pick_random(kv, ix->kv_new, p->seed,
					 3000000 + (uint64_t)l, kh, e);
		} else {
			for (int k = 0; k < kv; k++) {
				double s2 = 0, act = 0;
				for (int j = 0; j < hd; j++) {
					double a = row_norm(w->wk, d, k * hd + j);
					double b = row_norm(w->wv, d, k * hd + j);
					s2 += a * a + b * b;
					for (int gi = 0; gi < g; gi++) {
						int col = (k * g + gi) * hd + j;
						double q = row_norm(w->wq, d, col);
						double o = col_norm(w->wo, d, qd, col);
						s2 += q * q + o * o;
						if (c)
							act += att_mean(c, l, col);
					}
				}
				sc[k] = sqrt(s2) * (c ? act : 1.0);
			}
			rc = pick_top(sc, kv, ix->kv_new, kh, e);
		}
		if (rc)
			break;
		/* v/o dims of each kept kv head */
		for (int kn = 0; kn < ix->kv_new && !rc; kn++) {
			int k = kh[kn];
			int *vo = ix->vo + ((size_t)l * ix->kv_new + kn) *
					       ix->hd_new;
			if (ix->hd_new == hd) {
				for (int j = 0; j < hd; j++)
					vo[j] = j;
			} else if (p->select == PLAN_SELECT_RANDOM ||
				   !layer_kept(ix, l)) {
				rc = pick_random(hd, ix->hd_new, p->seed,
						 4000000 + (uint64_t)l * 4096 +
						     (uint64_t)k,
						 vo, e);
			} else {
				for (int j = 0; j < hd; j++) {
					double os = 0, act = 0;
					for (int gi = 0; gi < g; gi++) {
						int col = (k * g + gi) * hd + j;
						os += col_norm(w->wo, d, qd, col);
						if (c)
							act += att_mean(c, l, col);
					}
					sc[j] = row_norm(w->wv, d, k * hd + j) *
						os * (c ? act : 1.0);
				}
				rc = pick_top(sc, hd, ix->hd_new, vo, e);
			}
		}
	}
	free(sc);
	return rc;
}

static int alloc_index(struct prune_index *ix, struct err *e)
{
	size_t L = (size_t)ix->L_src;
	ix->resid = malloc((size_t)ix->d_new * sizeof(int));
	ix->qk = malloc((size_t)ix->hd_new * sizeof(int));
	ix->kv_heads = malloc(L * (size_t)ix->kv_new * sizeof(int));
	ix->vo = malloc(L * (size_t)ix->kv_new * (size_t)ix->hd_new *
			sizeof(int));
	ix->mlp = malloc((size_t)ix->n_mlp * (size_t)ix->f_new * sizeof(int));
	if (!ix->resid || !ix->qk || !ix->kv_heads || !ix->vo || !ix->mlp)
		return err_set(e, ERR_NOMEM, "apply: out of memory");
	return 0;
}

static int select_width(const struct model *src, const struct prune_plan *p,
			const struct calib *c, struct prune_index *ix,
			const struct progress *prog, struct err *e)
{
	const struct config *cf = &src->cfg;
	int rc;
	bool rnd = p->select == PLAN_SELECT_RANDOM ||
		   p->select == PLAN_SELECT_RECIPE_RANDOM;
	/* residual stream */
	if (ix->d_new == ix->d) {
		for (int i = 0; i < ix->d; i++)
			ix->resid[i] = i;
	} else if (rnd) {
		if ((rc = pick_random(ix->d, ix->d_new, p->seed, 1, ix->resid,
				      e)))
			return rc;
	} else {
		double *sc = calloc((size_t)ix->d, sizeof *sc);
		if (!sc)
			return err_set(e, ERR_NOMEM, "apply: out of memory");
		rc = score_resid(src, ix, c, sc, prog, e);
		if (!rc)
			rc = pick_top(sc, ix->d, ix->d_new, ix->resid, e);
		free(sc);
		if (rc)
			return rc;
	}
	/* q/k: RoPE decides */
	if ((rc = rope_dims(ix->hd, ix->hd_new, ix->qk, e)))
		return rc;
	if ((rc = select_heads(src, p, c, ix, e)))
		return rc;
	/* MLP channels */
	double *sc = malloc((size_t)ix->f * sizeof *sc);
	if (!sc)
		return err_set(e, ERR_NOMEM, "apply: out of memory");
	rc = 0;
	for (int m = 0; m < ix->n_mlp && !rc; m++) {
		int *out = ix->mlp + (size_t)m * ix->f_new;
		/* the shared MLP's tensors are every layer's */
		int l = cf->shared_mlp ? ix->layers[0] : m;
		if (ix->f_new == ix->f) {
			for (int i = 0; i < ix->f; i++)
				out[i] = i;
		} else if (rnd || (!cf->shared_mlp && !layer_kept(ix, m))) {
			rc = pick_random(ix->f, ix->f_new, p->seed,
					 2000000 + (uint64_t)m, out, e);
		} else {
			score_mlp(src, ix, c, l, sc);
			rc = pick_top(sc, ix->f, ix->f_new, out, e);
		}
	}
	free(sc);
	return rc;
}

static int select_vocab(const struct model *src, const struct prune_plan *p,
			const struct apply_inputs *in, struct prune_index *ix,
			struct err *e)
{
	int V = src->cfg.vocab_size;
	const int *keep = NULL;
	int n = 0;
	if (p->vocab_mode == PLAN_VOCAB_NONE) {
		ix->V_new = V;
		return 0;
	}
	if (in && in->keep) {
		keep = in->keep->keep;
		n = in->keep->n_keep;
	} else if (in && in->vocab_keep) {
		keep = in->vocab_keep;
		n = in->n_vocab_keep;
	} else if (p->vocab_mode == PLAN_VOCAB_LIST && !p->merge_closure) {
		keep = p->vocab_ids;
		n = p->n_vocab_ids;
	} else {
		return err_set(e, ERR_INVALID,
			       "vocab: a %s plan needs the kept pieces (count "
			       "tokens with a tokenizer and text first)",
			       plan_vocab_mode_name(p->vocab_mode));
	}
	if (n < 1 || n > V)
		return err_set(e, ERR_INVALID,
			       "vocab: %d kept pieces is outside 1..%d", n, V);
	ix->vocab = malloc((size_t)n * sizeof *ix->vocab);
	if (!ix->vocab)
		return err_set(e, ERR_NOMEM, "apply: out of memory");
	memcpy(ix->vocab, keep, (size_t)n * sizeof *keep);
	qsort(ix->vocab, (size_t)n, sizeof *ix->vocab, cmp_int);
	for (int i = 0; i < n; i++)
		if (ix->vocab[i] < 0 || ix->vocab[i] >= V ||
		    (i && ix->vocab[i] == ix->vocab[i - 1]))
			return err_set(e, ERR_INVALID,
				       "vocab: kept id %d is %s", ix->vocab[i],
				       ix->vocab[i] < 0 || ix->vocab[i] >= V
					   ? "outside the vocabulary"
					   : "listed twice");
	ix->V_new = n;
	ix->cfg.vocab_size = n;
	return 0;
}

static int remap_id(const struct prune_index *ix, int old)
{
	if (old < 0 || !ix->vocab)
		return old;
	for (int i = 0; i < ix->V_new; i++)
		if (ix->vocab[i] == old)
			return i;
	return -1;
}

static void report_init(struct apply_report *r)
{
	memset(r, 0, sizeof *r);
}

int prune_select(const struct model *src, const struct prune_plan *plan,
		 const struct apply_inputs *in, struct prune_index *ix,
		 struct apply_report *report, const struct progress *prog,
		 struct err *e)
{
	const struct config *cf = &src->cfg;
	struct prune_plan p;
	struct calib cal;
	struct apply_report rep_local;
	struct apply_report *rep = report ? report : &rep_local;
	int rc;
	long vcount = in && in->keep	     ? in->keep->n_keep
		      : in && in->vocab_keep ? in->n_vocab_keep
					     : 0;

	memset(ix, 0, sizeof *ix);
	memset(&cal, 0, sizeof cal);
	report_init(rep);
	if ((rc = prune_plan_copy(&p, plan, e)))
		return rc;
	if ((rc = plan_snap(&p, cf, &rep->notes, e)) ||
	    (rc = plan_apply_config(&p, cf, vcount, &ix->cfg, e)))
		goto out;
	ix->tie = p.tie;
	ix->seed = p.seed;
	ix->recipe_random = p.select == PLAN_SELECT_RECIPE_RANDOM;
	if ((rc = select_vocab(src, &p, in, ix, e)))
		goto out;
	/* the pruned config's special ids follow the vocabulary */
	ix->cfg.bos_token_id = remap_id(ix, cf->bos_token_id);
	ix->cfg.eos_token_id = remap_id(ix, cf->eos_token_id);
	ix->cfg.pad_token_id = remap_id(ix, cf->pad_token_id);

	bool need_cal =
	    p.layer_mode == PLAN_LAYERS_RANK ||
	    (p.select == PLAN_SELECT_ACTIVATION &&
	     (ix->cfg.hidden_size < cf->hidden_size ||
	      ix->cfg.intermediate_size < cf->intermediate_size));
	if (need_cal) {
		if (!in || !in->calib || in->n_calib < 1) {
			rc = err_set(e, ERR_INVALID,
				     "apply: %s needs calibration text",
				     p.layer_mode == PLAN_LAYERS_RANK
					 ? "ranking layers by influence"
					 : "activation selection");
			goto out;
		}
		if ((rc = calib_run(src, in, &cal, prog, e)))
			goto out;
	}
	if ((rc = select_layers(src, &p, need_cal ? &cal : NULL, ix, e)))
		goto out;

	ix->d = cf->hidden_size;
	ix->d_new = ix->cfg.hidden_size;
	ix->hd = cf->head_dim;
	ix->hd_new = ix->cfg.head_dim;
	ix->kv = cf->n_kv_heads;
	ix->kv_new = ix->cfg.n_kv_heads;
	ix->group = cf->n_heads / cf->n_kv_heads;
	ix->f = cf->intermediate_size;
	ix->f_new = ix->cfg.intermediate_size;
	ix->n_mlp = cf->shared_mlp ? 1 : cf->n_layers;
	if ((rc = alloc_index(ix, e)))
		goto out;
	if ((rc = select_width(src, &p,
			       p.select == PLAN_SELECT_ACTIVATION && need_cal
				   ? &cal
				   : NULL,
			       ix, prog, e)))
		goto out;

	rep->cfg = ix->cfg;
	rep->n_layers_kept = ix->L_new;
	for (int i = 0; i < ix->L_new && i < 64; i++)
		rep->layers[i] = ix->layers[i];
	rep->ranked = ix->layer_score != NULL;
	if (ix->layer_score) {
		rep->n_layer_scores = ix->L_src < 64 ? ix->L_src : 64;
		for (int i = 0; i < rep->n_layer_scores; i++)
			rep->layer_score[i] = ix->layer_score[i];
	}
	if (p.select == PLAN_SELECT_RANDOM ||
	    p.select == PLAN_SELECT_RECIPE_RANDOM)
		snprintf(rep->select_desc, sizeof rep->select_desc,
			 "%s (seed %llu)", plan_select_name(p.select),
			 (unsigned long long)p.seed);
	else
		snprintf(rep->select_desc, sizeof rep->select_desc, "%s%s",
			 plan_select_name(p.select),
			 p.select == PLAN_SELECT_ACTIVATION && in
			     ? " (calibration text)"
			     : "");
out:
	calib_free(&cal);
	prune_plan_free(&p);
	if (rc)
		prune_index_free(ix);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Build                                                               */

struct builder {
	struct model *m;
	const struct prune_index *ix;
	uint64_t stream; /* recipe-random: next matrix's stream */
	uint64_t borrowed;
};

/* dst (nr, nc) = src[rows][cols] of a (R, C) matrix; NULL lists are the
 * identity. A selection that is the identity borrows src. */
static int gather(struct builder *b, const float *src, int R, int C,
		  const int *rows, int nr, const int *cols, int nc,
		  float **out, struct err *e)
{
	if (is_iota(rows, nr, R) && is_iota(cols, nc, C)) {
		*out = (float *)src; /* borrowed: never written */
		b->borrowed += (uint64_t)R * C * sizeof(float);
		return 0;
	}
	float *dst;
	int rc = model_alloc_tensor(b->m, (uint64_t)nr * nc, &dst, e);
	if (rc)
		return rc;
	for (int r = 0; r < nr; r++) {
		const float *s = src + (size_t)(rows ? rows[r] : r) * C;
		float *d = dst + (size_t)r * nc;
		if (!cols)
			memcpy(d, s, (size_t)nc * sizeof *d);
		else
			for (int c = 0; c < nc; c++)
				d[c] = s[cols[c]];
	}
	*out = dst;
	return 0;
}

/* A random ascending subset of k of n (recipe-random), malloc'd. */
static int rnd_set(struct builder *b, int n, int k, int **out, struct err *e)
{
	*out = NULL;
	if (k == n)
		return 0; /* identity */
	int *v = malloc((size_t)k * sizeof *v);
	if (!v)
		return err_set(e, ERR_NOMEM, "apply: out of memory");
	int rc = pick_random(n, k, b->ix->seed, 9000000 + b->stream++, v, e);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	return 0;
}

/* A matrix (R, C) -> (nr, nc). Consistent: rows/cols given; recipe:
 * own random rows (unless rows_fixed, e.g. the vocabulary) and cols. */
static int mat(struct builder *b, const float *src, int R, int C,
	       const int *rows, int nr, bool rows_fixed, const int *cols,
	       int nc, float **out, struct err *e)
{
	if (!b->ix->recipe_random)
		return gather(b, src, R, C, rows, nr, cols, nc, out, e);
	int *rr = NULL, *cc = NULL, rc;
	if ((!rows_fixed && (rc = rnd_set(b, R, nr, &rr, e))) ||
	    (rc = rnd_set(b, C, nc, &cc, e))) {
		free(rr);
		return rc;
	}
	rc = gather(b, src, R, C, rows_fixed ? rows : rr, nr, cc, nc, out, e);
	free(rr);
	free(cc);
	return rc;
}

static int vec(struct builder *b, const float *src, int n, const int *idx,
	       int nn, float **out, struct err *e)
{
	return mat(b, src, 1, n, NULL, 1, true, idx, nn, out, e);
}

/* The row/column lists of one layer's attention. */
struct att_idx {
	int *q;	 /* (h'*hd') rows of wq = columns of wo for q/k */
	int *k;	 /* (kv'*hd') rows of wk */
	int *v;	 /* (kv'*hd') rows of wv */
	int *o;	 /* (h'*hd') columns of wo */
};

static void att_idx_free(struct att_idx *a)
{
	free(a->q);
	free(a->k);
	free(a->v);
	free(a->o);
}

static int att_idx_make(const struct prune_index *ix, int l, struct att_idx *a,
			struct err *e)
{
	int g = ix->group, hd = ix->hd, hdn = ix->hd_new, kvn = ix->kv_new;
	size_t nq = (size_t)kvn * g * hdn, nk = (size_t)kvn * hdn;
	a->q = malloc(nq * sizeof(int));
	a->o = malloc(nq * sizeof(int));
	a->k = malloc(nk * sizeof(int));
	a->v = malloc(nk * sizeof(int));
	if (!a->q || !a->o || !a->k || !a->v) {
		att_idx_free(a);
		return err_set(e, ERR_NOMEM, "apply: out of memory");
	}
	const int *kh = ix->kv_heads + (size_t)l * kvn;
	for (int kn = 0; kn < kvn; kn++) {
		int k = kh[kn];
		const int *vo = ix->vo + ((size_t)l * kvn + kn) * hdn;
		for (int j = 0; j < hdn; j++) {
			a->k[(size_t)kn * hdn + j] = k * hd + ix->qk[j];
			a->v[(size_t)kn * hdn + j] = k * hd + vo[j];
		}
		for (int gi = 0; gi < g; gi++) {
			int h = k * g + gi;
			size_t base = ((size_t)kn * g + gi) * hdn;
			for (int j = 0; j < hdn; j++) {
				a->q[base + j] = h * hd + ix->qk[j];
				a->o[base + j] = h * hd + vo[j];
			}
		}
	}
	return 0;
}

static int build_layer(struct builder *b, const struct model *src, int ln,
		       float *const shared[3], struct err *e)
{
	const struct prune_index *ix = b->ix;
	const struct config *cs = &src->cfg, *cn = &b->m->cfg;
	int l = ix->layers[ln];
	const struct layer_weights *w = &src->layers[l];
	struct layer_weights *o = &b->m->layers[ln];
	int d = cs->hidden_size, dn = cn->hidden_size;
	int qd = cs->n_heads * cs->head_dim, kd = cs->n_kv_heads * cs->head_dim;
	int qdn = cn->n_heads * cn->head_dim;
	int kdn = cn->n_kv_heads * cn->head_dim;
	int f = cs->intermediate_size, fn = cn->intermediate_size;
	struct att_idx a = {0};
	int rc;
	if ((rc = att_idx_make(ix, l, &a, e)))
		return rc;
	if ((rc = mat(b, w->wq, qd, d, a.q, qdn, false, ix->resid, dn, &o->wq,
		      e)) ||
	    (rc = mat(b, w->wk, kd, d, a.k, kdn, false, ix->resid, dn, &o->wk,
		      e)) ||
	    (rc = mat(b, w->wv, kd, d, a.v, kdn, false, ix->resid, dn, &o->wv,
		      e)) ||
	    (rc = mat(b, w->wo, d, qd, ix->resid, dn, false, a.o, qdn, &o->wo,
		      e)) ||
	    (rc = vec(b, w->attn_norm, d, ix->resid, dn, &o->attn_norm, e)) ||
	    (rc = vec(b, w->mlp_norm, d, ix->resid, dn, &o->mlp_norm, e)))
		goto out;
	if (cs->shared_mlp && shared[0]) {
		o->w_gate = shared[0];
		o->w_up = shared[1];
		o->w_down = shared[2];
		goto out;
	}
	const int *ch = ix->mlp + (size_t)(cs->shared_mlp ? 0 : l) * ix->f_new;
	if ((rc = mat(b, w->w_gate, f, d, ch, fn, false, ix->resid, dn,
		      &o->w_gate, e)) ||
	    (rc = mat(b, w->w_up, f, d, ch, fn, false, ix->resid, dn, &o->w_up,
		      e)) ||
	    (rc = mat(b, w->w_down, d, f, ix->resid, dn, false, ch, fn,
		      &o->w_down, e)))
		goto out;
out:
	att_idx_free(&a);
	return rc;
}

static int build_embeddings(struct builder *b, const struct model *src,
			    struct err *e)
{
	const struct prune_index *ix = b->ix;
	struct model *m = b->m;
	int V = src->cfg.vocab_size, d = src->cfg.hidden_size;
	int Vn = m->cfg.vocab_size, dn = m->cfg.hidden_size;
	int rc;
	if (!m->cfg.tie_word_embeddings) {
		if ((rc = mat(b, src->embed, V, d, ix->vocab, Vn, true,
			      ix->resid, dn, &m->embed, e)) ||
		    (rc = mat(b, src->lm_head, V, d, ix->vocab, Vn, true,
			      ix->resid, dn, &m->lm_head, e)))
			return rc;
		return 0;
	}
	const float *from = src->embed;
	if (!src->tied && ix->tie == PLAN_TIE_MEAN) {
		/* gathered straight into the output: no (V, d) temporary */
		int *cc = NULL;
		const int *cols = ix->resid;
		if (ix->recipe_random) {
			if ((rc = rnd_set(b, d, dn, &cc, e)))
				return rc;
			cols = cc; /* NULL: every column */
		}
		float *dst;
		rc = model_alloc_tensor(m, (uint64_t)Vn * dn, &dst, e);
		if (!rc) {
			for (int r = 0; r < Vn; r++) {
				size_t sr = (size_t)(ix->vocab ? ix->vocab[r]
							       : r) * d;
				float *o = dst + (size_t)r * dn;
				for (int c = 0; c < dn; c++) {
					size_t k = sr + (size_t)(cols ? cols[c]
								      : c);
					o[c] = 0.5f *
					       (src->embed[k] + src->lm_head[k]);
				}
			}
			m->embed = dst;
		}
		free(cc);
	} else {
		if (!src->tied && ix->tie != PLAN_TIE_EMBED)
			from = src->lm_head; /* lm_head; off on a tied source */
		rc = mat(b, from, V, d, ix->vocab, Vn, true, ix->resid, dn,
			 &m->embed, e);
	}
	m->lm_head = m->embed;
	m->tied = true;
	return rc;
}

int prune_build(const struct model *src, const struct prune_index *ix,
		struct model **out, struct apply_report *report,
		const struct progress *prog, struct err *e)
{
	struct config cfg = ix->cfg;
	struct model *m;
	struct builder b = {0};
	int rc;
	*out = NULL;
	cfg.json_text = src->cfg.json_text; /* copied by model_new_empty */
	cfg.shared_mlp = src->cfg.shared_mlp;
	if (cfg.hidden_size != ix->d_new || cfg.head_dim != ix->hd_new ||
	    cfg.n_kv_heads != ix->kv_new || cfg.n_layers != ix->L_new ||
	    cfg.intermediate_size != ix->f_new || cfg.vocab_size != ix->V_new ||
	    ix->d != src->cfg.hidden_size || ix->L_src != src->cfg.n_layers)
		return err_set(e, ERR_INVALID,
			       "apply: the index sets do not match the pruned "
			       "geometry");
	if ((rc = model_new_empty(&cfg, &m, e)))
		return rc;
	b.m = m;
	b.ix = ix;
	if ((rc = build_embeddings(&b, src, e)) ||
	    (rc = vec(&b, src->norm, ix->d, ix->resid, ix->d_new, &m->norm,
		      e)))
		goto fail;
	float *shared[3] = {NULL, NULL, NULL};
	for (int ln = 0; ln < ix->L_new; ln++) {
		if ((rc = progress_report(prog, (double)ln / ix->L_new,
					  "pruning layers", e)) ||
		    (rc = build_layer(&b, src, ln, shared, e)))
			goto fail;
		if (cfg.shared_mlp && !shared[0]) {
			shared[0] = m->layers[ln].w_gate;
			shared[1] = m->layers[ln].w_up;
			shared[2] = m->layers[ln].w_down;
		}
	}
	if ((rc = model_check(m, e)))
		goto fail;
	if ((rc = progress_report(prog, 1.0, "pruning layers", e)))
		goto fail;
	if (report) {
		report->owned_bytes = m->owned_bytes;
		report->borrowed_bytes = b.borrowed;
	}
	*out = m;
	return 0;
fail:
	model_free(m);
	return rc;
}

int prune_apply(const struct model *src, const struct tokenizer *tok,
		const struct prune_plan *plan, const struct apply_inputs *in,
		struct model **out, struct tokenizer **out_tok,
		struct apply_report *report, const struct progress *prog,
		struct err *e)
{
	struct prune_index ix;
	int rc;
	*out = NULL;
	if (out_tok)
		*out_tok = NULL;
	if ((rc = prune_select(src, plan, in, &ix, report, prog, e)))
		return rc;
	rc = prune_build(src, &ix, out, report, prog, e);
	prune_index_free(&ix);
	if (rc || !tok || !out_tok || !in || !in->keep || in->vocab_tok ||
	    plan->vocab_mode == PLAN_VOCAB_NONE)
		return rc;
	if ((rc = vocab_rewrite(tok, in->keep, out_tok, e))) {
		model_free(*out);
		*out = NULL;
		return err_wrap(e, "rewriting the tokenizer");
	}
	if (tok_vocab_size(*out_tok) != (*out)->cfg.vocab_size) {
		rc = err_set(e, ERR_INVALID,
			     "vocab: the rewritten tokenizer has %d pieces, "
			     "the model %d",
			     tok_vocab_size(*out_tok), (*out)->cfg.vocab_size);
		tok_free(*out_tok);
		*out_tok = NULL;
		model_free(*out);
		*out = NULL;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Measured effect                                                     */

static uint64_t count_words(const char *s, size_t n)
{
	uint64_t w = 0;
	bool in = false;
	for (size_t i = 0; i < n; i++) {
		bool sp = s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r');
		if (!sp && !in)
			w++;
		in = !sp;
	}
	return w;
}

int prune_measure(const struct model *src, const struct tokenizer *src_tok,
		  const struct model *dst, const struct tokenizer *dst_tok,
		  const char *text, size_t len, const struct eval_opts *o,
		  struct prune_effect *out, struct err *e)
{
	int *a = NULL, *b = NULL, rc;
	size_t na = 0, nb = 0;
	struct eval_opts eo;
	bool same_tok = !dst_tok || dst_tok == src_tok;
	memset(out, 0, sizeof *out);
	if (!dst_tok)
		dst_tok = src_tok;
	if ((rc = tok_encode(src_tok, text, len, true, &a, &na, e)) ||
	    (rc = tok_encode(dst_tok, text, len, true, &b, &nb, e)))
		goto out;
	if (o) {
		eo = *o;
	} else {
		eval_defaults(&eo);
		int mp = src->cfg.max_position_embeddings;
		if (dst->cfg.max_position_embeddings < mp)
			mp = dst->cfg.max_position_embeddings;
		if (eo.ctx > mp)
			eo.ctx = mp;
		eo.stride = eo.ctx / 2 > 0 ? eo.ctx / 2 : 1;
	}
	eo.text_bytes = len;
	out->bytes = len;
	out->words = count_words(text, len);
	out->src_tokens = na - (na && tok_add_bos(src_tok) ? 1 : 0);
	out->dst_tokens = nb - (nb && tok_add_bos(dst_tok) ? 1 : 0);
	out->src_tpw = out->words ? (double)out->src_tokens / out->words : 0;
	out->dst_tpw = out->words ? (double)out->dst_tokens / out->words : 0;
	bool same_vocab = same_tok &&
			  src->cfg.vocab_size == dst->cfg.vocab_size;
	if ((rc = eval_run(src, NULL, a, na, &eo, &out->src, e)) ||
	    (rc = eval_run(dst, same_vocab ? src : NULL, b, nb, &eo, &out->dst,
			   e)))
		goto out;
out:
	free(a);
	free(b);
	return rc;
}
