/* build — the kept rows and columns gathered into a new model. See
 * build.h. */
#include "build.h"

#include <stdlib.h>
#include <string.h>

#include "pick.h"

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
