/* select — what a pruning keeps: every index set. See select.h. */
#include "select.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "pick.h"
#include "vocab.h"

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
	qsort(pick, (size_t)halfn, sizeof *pick, pick_cmp_int);
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
		      pick_cmp_int);
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
	qsort(ix->vocab, (size_t)n, sizeof *ix->vocab, pick_cmp_int);
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
		if ((rc = calib_run(src, in->calib, in->n_calib, in->calib_ctx,
				    &cal, prog, e)))
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
