#include "forward.h"

#include "kernels.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void fwd_free(struct fwd_state *s)
{
	if (!s)
		return;
	free(s->logits);
	free(s->skip);
	free(s->k_cache);
	free(s->v_cache);
	free(s->x);
	free(s->xb);
	free(s->xin);
	free(s->q);
	free(s->att_out);
	free(s->att);
	free(s->hb);
	free(s->hb2);
	free(s->rope_cos);
	free(s->rope_sin);
	free(s);
}

/* n*m floats, zeroed; NULL on overflow or failure. */
static float *falloc(uint64_t n, uint64_t m)
{
	if (n == 0 || m == 0 || n > SIZE_MAX / sizeof(float) / m)
		return NULL;
	return calloc((size_t)(n * m), sizeof(float));
}

/* PyTorch's angles (llama_ref.rope_cos_sin): inv_freq in f32 from an f32
 * exponent, pos * inv_freq rounded to f32; cos/sin of that f32 angle. */
void fwd_rope_tables(float *cosv, float *sinv, int n_pos, int hd,
		     double theta)
{
	int half = hd / 2;
	float base = (float)theta;
	for (int i = 0; i < half; i++) {
		float ex = (float)(2 * i) / (float)hd;
		float inv = 1.0f / (float)pow((double)base, (double)ex);
		for (int p = 0; p < n_pos; p++) {
			float a = (float)p * inv;
			cosv[(size_t)p * half + i] = (float)cos((double)a);
			sinv[(size_t)p * half + i] = (float)sin((double)a);
		}
	}
}

int fwd_new(const struct model *m, int max_pos, int chunk,
	    struct fwd_state **out, struct err *e)
{
	*out = NULL;
	const struct config *c = &m->cfg;
	int rc = model_check(m, e);
	if (rc)
		return rc;
	if (max_pos <= 0)
		max_pos = c->max_position_embeddings;
	if (chunk <= 0)
		chunk = 256;
	if (chunk > max_pos)
		chunk = max_pos;
	struct fwd_state *s = calloc(1, sizeof *s);
	if (!s)
		return err_set(e, ERR_NOMEM, "forward: out of memory");
	s->m = m;
	s->max_pos = max_pos;
	s->chunk = chunk;
	uint64_t L = (uint64_t)c->n_layers, d = (uint64_t)c->hidden_size;
	uint64_t qd = (uint64_t)c->n_heads * (uint64_t)c->head_dim;
	uint64_t kvd = (uint64_t)c->n_kv_heads * (uint64_t)c->head_dim;
	uint64_t f = (uint64_t)c->intermediate_size;
	uint64_t P = (uint64_t)max_pos, T = (uint64_t)chunk;
	s->logits = falloc((uint64_t)c->vocab_size, 1);
	s->skip = calloc((size_t)L, 1);
	s->k_cache = falloc(L * P, kvd);
	s->v_cache = falloc(L * P, kvd);
	s->x = falloc(T, d);
	s->xb = falloc(T, d);
	s->xin = falloc(T, d);
	s->q = falloc(T, qd);
	s->att_out = falloc(T, qd);
	s->att = falloc(T, P);
	s->hb = falloc(T, f);
	s->hb2 = falloc(T, f);
	s->rope_cos = falloc(P, (uint64_t)c->head_dim / 2);
	s->rope_sin = falloc(P, (uint64_t)c->head_dim / 2);
	if (!s->logits || !s->skip || !s->k_cache || !s->v_cache || !s->x ||
	    !s->xb || !s->xin || !s->q || !s->att_out || !s->att || !s->hb ||
	    !s->hb2 || !s->rope_cos || !s->rope_sin) {
		fwd_free(s);
		return err_set(e, ERR_NOMEM,
			       "forward: out of memory for a %d-position cache",
			       max_pos);
	}
	fwd_rope_tables(s->rope_cos, s->rope_sin, max_pos, c->head_dim,
		    c->rope_theta);
	*out = s;
	return 0;
}

void fwd_reset(struct fwd_state *s)
{
	s->pos = 0;
}

int fwd_truncate(struct fwd_state *s, int pos, struct err *e)
{
	if (pos < 0 || pos > s->pos)
		return err_set(e, ERR_INVALID,
			       "cannot truncate the sequence to %d positions: "
			       "it holds %d",
			       pos, s->pos);
	/* Positions >= pos are overwritten by the next fwd_run. */
	s->pos = pos;
	return 0;
}

void fwd_set_skip(struct fwd_state *s, const unsigned char *skip)
{
	int L = s->m->cfg.n_layers;
	for (int i = 0; i < L; i++)
		s->skip[i] = skip ? (skip[i] != 0) : 0;
}

/* y (n, out) = x (n, in) · W^T, W (out, in) row-major. */
static void matmul(float *y, const float *x, const float *w, int n, int out,
		   int in)
{
	if (n == 1)
		cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, w, in,
			    x, 1, 0.0f, y, 1);
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in,
			    1.0f, x, in, w, in, 0.0f, y, out);
}

/* One layer over n tokens at positions pos0.., x updated in place. */
static void layer_run(struct fwd_state *s, int l, int n, int pos0)
{
	const struct model *m = s->m;
	const struct config *c = &m->cfg;
	const struct layer_weights *w = &m->layers[l];
	int d = c->hidden_size, hd = c->head_dim, H = c->n_heads;
	int KV = c->n_kv_heads, f = c->intermediate_size;
	int qd = H * hd, kvd = KV * hd, rep = H / KV, half = hd / 2;
	size_t P = (size_t)s->max_pos;
	float *kc = s->k_cache + (size_t)l * P * kvd;
	float *vc = s->v_cache + (size_t)l * P * kvd;
	float scale = 1.0f / sqrtf((float)hd);

	kern_rmsnorm(s->xb, NULL, s->x, w->attn_norm, n, d, c->rms_norm_eps);
	matmul(s->q, s->xb, w->wq, n, qd, d);
	matmul(kc + (size_t)pos0 * kvd, s->xb, w->wk, n, kvd, d);
	matmul(vc + (size_t)pos0 * kvd, s->xb, w->wv, n, kvd, d);
	for (int t = 0; t < n; t++) {
		size_t p = (size_t)(pos0 + t);
		const float *cs = s->rope_cos + p * half;
		const float *sn = s->rope_sin + p * half;
		kern_rope(s->q + (size_t)t * qd, H, hd, cs, sn, 1);
		kern_rope(kc + p * kvd, KV, hd, cs, sn, 1);
	}

	int S = pos0 + n; /* keys visible to the last token */
	for (int h = 0; h < H; h++) {
		const float *qh = s->q + (size_t)h * hd;
		const float *kh = kc + (size_t)(h / rep) * hd;
		const float *vh = vc + (size_t)(h / rep) * hd;
		float *oh = s->att_out + (size_t)h * hd;
		float *att = s->att;
		if (n == 1)
			cblas_sgemv(CblasRowMajor, CblasNoTrans, S, hd, scale,
				    kh, kvd, qh, 1, 0.0f, att, 1);
		else
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n,
				    S, hd, scale, qh, qd, kh, kvd, 0.0f, att,
				    S);
		for (int t = 0; t < n; t++) /* causal: pos0 + t + 1 keys */
			kern_softmax_causal(att + (size_t)t * S, pos0 + t + 1,
					    S);
		if (n == 1)
			cblas_sgemv(CblasRowMajor, CblasTrans, S, hd, 1.0f, vh,
				    kvd, att, 1, 0.0f, oh, 1);
		else
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
				    n, hd, S, 1.0f, att, S, vh, kvd, 0.0f, oh,
				    qd);
	}
	matmul(s->xb, s->att_out, w->wo, n, d, qd);
	size_t nd = (size_t)n * d;
	for (size_t i = 0; i < nd; i++)
		s->x[i] += s->xb[i];

	kern_rmsnorm(s->xb, NULL, s->x, w->mlp_norm, n, d, c->rms_norm_eps);
	matmul(s->hb, s->xb, w->w_gate, n, f, d);
	matmul(s->hb2, s->xb, w->w_up, n, f, d);
	kern_swiglu(s->hb, s->hb, s->hb2, (size_t)n * f);
	matmul(s->xb, s->hb, w->w_down, n, d, f);
	for (size_t i = 0; i < nd; i++)
		s->x[i] += s->xb[i];
}

int fwd_run(struct fwd_state *s, const int *tokens, int T, float *all_logits,
	    struct err *e)
{
	return fwd_run_from(s, tokens, T, 0, all_logits, e);
}

int fwd_run_from(struct fwd_state *s, const int *tokens, int T, int from,
		 float *logits, struct err *e)
{
	const struct model *m = s->m;
	const struct config *c = &m->cfg;
	int d = c->hidden_size, V = c->vocab_size;
	if (T < 1)
		return err_set(e, ERR_INVALID, "forward: no tokens to run");
	if (from < 0 || from >= T)
		return err_set(e, ERR_INVALID,
			       "forward: first logits row %d outside 0..%d",
			       from, T - 1);
	if (T > s->max_pos - s->pos)
		return err_set(e, ERR_INVALID,
			       "forward: %d tokens after %d exceed the "
			       "%d-position context",
			       T, s->pos, s->max_pos);
	for (int t = 0; t < T; t++)
		if (tokens[t] < 0 || tokens[t] >= V)
			return err_set(e, ERR_INVALID,
				       "forward: token id %d is outside the "
				       "vocabulary (%d)",
				       tokens[t], V);
	for (int done = 0; done < T;) {
		int n = T - done < s->chunk ? T - done : s->chunk;
		int pos0 = s->pos;
		for (int t = 0; t < n; t++)
			memcpy(s->x + (size_t)t * d,
			       m->embed + (size_t)tokens[done + t] * d,
			       (size_t)d * sizeof(float));
		for (int l = 0; l < c->n_layers; l++) {
			if (s->skip[l])
				continue;
			if (s->on_layer)
				memcpy(s->xin, s->x,
				       (size_t)n * d * sizeof(float));
			layer_run(s, l, n, pos0);
			if (s->on_layer)
				s->on_layer(s->hook_ctx, l, s->xin, s->x, n, d);
		}
		s->pos += n;
		bool last = done + n == T;
		int r0 = from > done ? from - done : 0; /* first row wanted */
		if (logits && r0 < n) {
			int nr = n - r0;
			kern_rmsnorm(s->xb, NULL, s->x + (size_t)r0 * d,
				     m->norm, nr, d, c->rms_norm_eps);
			float *lg = logits + (size_t)(done + r0 - from) * V;
			matmul(lg, s->xb, m->lm_head, nr, V, d);
			if (last)
				memcpy(s->logits, lg + (size_t)(nr - 1) * V,
				       (size_t)V * sizeof(float));
		} else if (last) {
			const float *xl = s->x + (size_t)(n - 1) * d;
			kern_rmsnorm(s->xb, NULL, xl, m->norm, 1, d,
				     c->rms_norm_eps);
			matmul(s->logits, s->xb, m->lm_head, 1, V, d);
		}
		done += n;
	}
	return 0;
}
