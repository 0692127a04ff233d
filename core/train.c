#include "train.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "kernels.h"
#include "par.h"

/*
 * Layout: N = B*T rows, row r = b*T + t (token t of sequence b). The
 * forward keeps, per layer l, what the backward cannot cheaply recompute;
 * the normed inputs and silu(gate)*up are recomputed from the kept
 * residuals, inverse RMS and gate/up (one pass each, no matmul).
 */
struct train_state {
	const struct model *m;
	int max_batch, max_ctx;
	int B, T; /* of the last train_forward; 0 before */
	int *tokens;	 /* (max_batch*max_ctx) */
	float *rope_cos; /* (max_ctx, hd/2) */
	float *rope_sin; /* (max_ctx, hd/2) */
	/* kept activations; each (L, ...) block is strided by max rows */
	float *xin;  /* (L+1, N, d) layer inputs; [L] = the final residual */
	float *r1;   /* (L, N) 1/rms of the attention norm's input */
	float *q;    /* (L, N, h*hd) queries after RoPE */
	float *k;    /* (L, N, kv*hd) keys after RoPE */
	float *v;    /* (L, N, kv*hd) */
	float *p;    /* (L, B, h, T, T) attention probabilities */
	float *ao;   /* (L, N, h*hd) attention output before o_proj */
	float *xmid; /* (L, N, d) residual after attention */
	float *r2;   /* (L, N) 1/rms of the MLP norm's input */
	float *gate; /* (L, N, f) gate_proj output (before silu) */
	float *up;   /* (L, N, f) up_proj output */
	float *rf;   /* (N) 1/rms of the final norm's input */
	float *logits; /* (N, V) */
	/* scratch */
	float *xn;  /* (N, d) a normed input */
	float *dx;  /* (N, d) gradient of the residual stream */
	float *dxn; /* (N, d) gradient of a normed input */
	float *hb;  /* (N, f) silu(gate)*up */
	float *dg;  /* (N, f) gradient of gate */
	float *du;  /* (N, f) gradient of up */
	float *dq;  /* (N, h*hd) */
	float *dk;  /* (N, kv*hd) */
	float *dv;  /* (N, kv*hd) */
	float *dao; /* (N, h*hd) */
	float *dp;  /* (n_dp, T, T) one head's probability gradient per
		       thread */
	int n_dp;
};

void train_free(struct train_state *s)
{
	if (!s)
		return;
	float *bufs[] = {s->rope_cos, s->rope_sin, s->xin,  s->r1,  s->q,
			 s->k,	      s->v,	   s->p,    s->ao,  s->xmid,
			 s->r2,	      s->gate,	   s->up,   s->rf,  s->logits,
			 s->xn,	      s->dx,	   s->dxn,  s->hb,  s->dg,
			 s->du,	      s->dq,	   s->dk,   s->dv,  s->dao,
			 s->dp};
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		free(bufs[i]);
	free(s->tokens);
	free(s);
}

/* a*b*c floats (uninitialised), counted into *total; NULL on overflow or
 * failure. */
static float *falloc3(uint64_t a, uint64_t b, uint64_t c, uint64_t *total)
{
	if (a == 0 || b == 0 || c == 0 || a > SIZE_MAX / sizeof(float) / b ||
	    a * b > SIZE_MAX / sizeof(float) / c)
		return NULL;
	*total += a * b * c * sizeof(float);
	return malloc((size_t)(a * b * c) * sizeof(float));
}

int train_new(const struct model *m, int max_batch, int max_ctx,
	      struct train_state **out, struct err *e)
{
	*out = NULL;
	int rc = model_check(m, e);
	if (rc)
		return rc;
	const struct config *c = &m->cfg;
	if (max_batch < 1 || max_ctx < 2 ||
	    max_ctx > c->max_position_embeddings ||
	    (int64_t)max_batch * max_ctx > INT_MAX / 2)
		return err_set(e, ERR_INVALID,
			       "train: batch %d x context %d: need a batch >= "
			       "1 and 2 <= context <= %d",
			       max_batch, max_ctx, c->max_position_embeddings);
	struct train_state *s = calloc(1, sizeof *s);
	if (!s)
		return err_set(e, ERR_NOMEM, "train: out of memory");
	s->m = m;
	s->max_batch = max_batch;
	s->max_ctx = max_ctx;
	uint64_t L = (uint64_t)c->n_layers, d = (uint64_t)c->hidden_size;
	uint64_t H = (uint64_t)c->n_heads, hd = (uint64_t)c->head_dim;
	uint64_t qd = H * hd, kvd = (uint64_t)c->n_kv_heads * hd;
	uint64_t f = (uint64_t)c->intermediate_size;
	uint64_t V = (uint64_t)c->vocab_size;
	uint64_t T = (uint64_t)max_ctx, N = (uint64_t)max_batch * T;
	uint64_t bytes = 0;
	s->tokens = calloc((size_t)N, sizeof *s->tokens);
	s->rope_cos = falloc3(T, hd / 2, 1, &bytes);
	s->rope_sin = falloc3(T, hd / 2, 1, &bytes);
	s->xin = falloc3(L + 1, N, d, &bytes);
	s->r1 = falloc3(L, N, 1, &bytes);
	s->q = falloc3(L, N, qd, &bytes);
	s->k = falloc3(L, N, kvd, &bytes);
	s->v = falloc3(L, N, kvd, &bytes);
	s->p = falloc3(L, N * H, T, &bytes);
	s->ao = falloc3(L, N, qd, &bytes);
	s->xmid = falloc3(L, N, d, &bytes);
	s->r2 = falloc3(L, N, 1, &bytes);
	s->gate = falloc3(L, N, f, &bytes);
	s->up = falloc3(L, N, f, &bytes);
	s->rf = falloc3(N, 1, 1, &bytes);
	s->logits = falloc3(N, V, 1, &bytes);
	s->xn = falloc3(N, d, 1, &bytes);
	s->dx = falloc3(N, d, 1, &bytes);
	s->dxn = falloc3(N, d, 1, &bytes);
	s->hb = falloc3(N, f, 1, &bytes);
	s->dg = falloc3(N, f, 1, &bytes);
	s->du = falloc3(N, f, 1, &bytes);
	s->dq = falloc3(N, qd, 1, &bytes);
	s->dk = falloc3(N, kvd, 1, &bytes);
	s->dv = falloc3(N, kvd, 1, &bytes);
	s->dao = falloc3(N, qd, 1, &bytes);
	s->n_dp = par_threads();
	s->dp = falloc3((uint64_t)s->n_dp, T, T, &bytes);
	if (!s->tokens || !s->rope_cos || !s->rope_sin || !s->xin || !s->r1 ||
	    !s->q || !s->k || !s->v || !s->p || !s->ao || !s->xmid || !s->r2 ||
	    !s->gate || !s->up || !s->rf || !s->logits || !s->xn || !s->dx ||
	    !s->dxn || !s->hb || !s->dg || !s->du || !s->dq || !s->dk ||
	    !s->dv || !s->dao || !s->dp) {
		train_free(s);
		return err_set(e, ERR_NOMEM,
			       "train: out of memory for the activations of "
			       "%d x %d tokens (%llu bytes)",
			       max_batch, max_ctx, (unsigned long long)bytes);
	}
	fwd_rope_tables(s->rope_cos, s->rope_sin, max_ctx, c->head_dim,
		    c->rope_theta);
	*out = s;
	return 0;
}

/* y (n, out) = x (n, in) · W^T, W (out, in) row-major. */
static void mm_fwd(float *y, const float *x, const float *w, int n, int out,
		   int in)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f,
		    x, in, w, in, 0.0f, y, out);
}

/* dx (n, in) (+)= dy (n, out) · W (out, in); beta 0 or 1. */
static void mm_dx(float *dx, const float *dy, const float *w, int n, int out,
		  int in, float beta)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f,
		    dy, out, w, in, beta, dx, in);
}

/* dW (out, in) += dy (n, out)^T · x (n, in). */
static void mm_dw(float *dw, const float *dy, const float *x, int n, int out,
		  int in)
{
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f,
		    dy, out, x, in, 1.0f, dw, in);
}

/* The normed input again from x and the kept 1/rms (bitwise the same). */
static void rmsnorm_redo(float *out, const float *r, const float *x,
			 const float *w, int n, int d)
{
	for (int t = 0; t < n; t++) {
		const float *xr = x + (size_t)t * d;
		float *o = out + (size_t)t * d;
		float ri = r[t];
		for (int i = 0; i < d; i++)
			o[i] = w[i] * (xr[i] * ri);
	}
}

/* y = w * x * r: given dy, dx += r * (g - x * r^2 * mean(g * x)) with
 * g = w * dy, and dw += sum over rows of dy * x * r. */
static void rmsnorm_bwd(float *dx, float *dw, const float *dy, const float *x,
			const float *r, const float *w, int n, int d)
{
	for (int t = 0; t < n; t++) {
		const float *xr = x + (size_t)t * d;
		const float *dyr = dy + (size_t)t * d;
		float *dxr = dx + (size_t)t * d;
		float ri = r[t];
		double dot = 0;
		for (int i = 0; i < d; i++) {
			float g = w[i] * dyr[i];
			dot += (double)g * xr[i];
			dw[i] += dyr[i] * (xr[i] * ri);
		}
		float c = (float)(dot / d) * ri * ri;
		for (int i = 0; i < d; i++)
			dxr[i] += ri * (w[i] * dyr[i] - xr[i] * c);
	}
}

static inline float sigmoidf(float g)
{
	return 1.0f / (1.0f + expf(-g));
}

/* Offsets of layer l's kept tensors. */
#define AT(buf, l, per) ((buf) + (size_t)(l) * (per))

/* ---- the loops outside BLAS, split over threads (par.h) ---- */

/* What one layer's attention and elementwise tasks read and write. */
struct layer_ctx {
	struct train_state *s;
	int T, d, f, hd, H, KV, qd, kvd, rep;
	float scale;
	float *q, *k, *v, *p, *ao, *gate, *up; /* the layer's kept tensors */
	float *hb, *dq, *dk, *dv, *dao, *dg, *du;
	int dir; /* RoPE: +1 forward, -1 backward */
};

/* RoPE (or its inverse) on one row of q and k. */
static void task_rope(void *arg, int r, int thread)
{
	(void)thread;
	const struct layer_ctx *c = arg;
	size_t t = (size_t)(r % c->T), half = (size_t)c->hd / 2;
	const float *cs = c->s->rope_cos + t * half;
	const float *sn = c->s->rope_sin + t * half;
	kern_rope(c->q + (size_t)r * c->qd, c->H, c->hd, cs, sn, c->dir);
	kern_rope(c->k + (size_t)r * c->kvd, c->KV, c->hd, cs, sn, c->dir);
}

/* One row of h = silu(gate) * up. */
static void task_swiglu(void *arg, int r, int thread)
{
	(void)thread;
	const struct layer_ctx *c = arg;
	size_t o = (size_t)r * c->f;
	kern_swiglu(c->hb + o, c->gate + o, c->up + o, (size_t)c->f);
}

/* One row of SwiGLU's backward: hb holds dh on entry. */
static void task_swiglu_bwd(void *arg, int r, int thread)
{
	(void)thread;
	const struct layer_ctx *c = arg;
	size_t o = (size_t)r * c->f;
	const float *gate = c->gate + o, *up = c->up + o, *dh = c->hb + o;
	float *dg = c->dg + o, *du = c->du + o;
	for (int i = 0; i < c->f; i++) {
		float gi = gate[i], sg = sigmoidf(gi);
		du[i] = dh[i] * gi * sg;
		dg[i] = dh[i] * up[i] * sg * (1.0f + gi * (1.0f - sg));
	}
}

/* Causal attention of sequence b, kv group g (its rep query heads):
 * P = softmax(Q K^T * scale) kept, O = P V. */
static void task_attn(void *arg, int task, int thread)
{
	(void)thread;
	const struct layer_ctx *c = arg;
	int T = c->T, hd = c->hd, b = task / c->KV, g = task % c->KV;
	size_t r0 = (size_t)b * T;
	const float *kh = c->k + r0 * c->kvd + (size_t)g * hd;
	const float *vh = c->v + r0 * c->kvd + (size_t)g * hd;
	for (int h = g * c->rep; h < (g + 1) * c->rep; h++) {
		const float *qh = c->q + r0 * c->qd + (size_t)h * hd;
		float *att = c->p + ((size_t)b * c->H + h) * T * T; /* (T, T) */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd,
			    c->scale, qh, c->qd, kh, c->kvd, 0.0f, att, T);
		for (int t = 0; t < T; t++) /* causal: t + 1 keys */
			kern_softmax_causal(att + (size_t)t * T, t + 1, T);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T,
			    1.0f, att, T, vh, c->kvd, 0.0f,
			    c->ao + r0 * c->qd + (size_t)h * hd, c->qd);
	}
}

/* Its backward: dq of the group's heads; dk, dv summed over them (in head
 * order: one task owns the group, so no race and a fixed order). */
static void task_attn_bwd(void *arg, int task, int thread)
{
	const struct layer_ctx *c = arg;
	int T = c->T, hd = c->hd, b = task / c->KV, g = task % c->KV;
	size_t r0 = (size_t)b * T;
	size_t ko = r0 * c->kvd + (size_t)g * hd;
	float *dp = c->s->dp + (size_t)thread * T * T; /* (T, T) */
	for (int t = 0; t < T; t++) {
		memset(c->dk + ko + (size_t)t * c->kvd, 0, (size_t)hd * 4);
		memset(c->dv + ko + (size_t)t * c->kvd, 0, (size_t)hd * 4);
	}
	for (int h = g * c->rep; h < (g + 1) * c->rep; h++) {
		size_t qo = r0 * c->qd + (size_t)h * hd;
		const float *att = c->p + ((size_t)b * c->H + h) * T * T;
		/* dP = dO V^T (T, T); dV += P^T dO */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd,
			    1.0f, c->dao + qo, c->qd, c->v + ko, c->kvd, 0.0f,
			    dp, T);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T,
			    1.0f, att, T, c->dao + qo, c->qd, 1.0f, c->dv + ko,
			    c->kvd);
		/* softmax backward, dS = P * (dP - rowsum(P * dP)), times the
		 * scores' 1/sqrt(hd) */
		for (int t = 0; t < T; t++) {
			const float *pr = att + (size_t)t * T;
			float *dr = dp + (size_t)t * T;
			int len = t + 1;
			double dot = 0;
			for (int j = 0; j < len; j++)
				dot += (double)pr[j] * dr[j];
			float fd = (float)dot;
			for (int j = 0; j < len; j++)
				dr[j] = pr[j] * (dr[j] - fd) * c->scale;
			for (int j = len; j < T; j++)
				dr[j] = 0;
		}
		/* dQ = dS K; dK += dS^T Q */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T,
			    1.0f, dp, T, c->k + ko, c->kvd, 0.0f, c->dq + qo,
			    c->qd);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T,
			    1.0f, dp, T, c->q + qo, c->qd, 1.0f, c->dk + ko,
			    c->kvd);
	}
}

/* The context of layer l's kept tensors for the current batch. */
static struct layer_ctx layer_ctx_of(struct train_state *s, int l)
{
	const struct config *c = &s->m->cfg;
	struct layer_ctx x;
	memset(&x, 0, sizeof x);
	x.s = s;
	x.T = s->T;
	x.d = c->hidden_size;
	x.f = c->intermediate_size;
	x.hd = c->head_dim;
	x.H = c->n_heads;
	x.KV = c->n_kv_heads;
	x.qd = x.H * x.hd;
	x.kvd = x.KV * x.hd;
	x.rep = x.H / x.KV;
	x.scale = 1.0f / sqrtf((float)x.hd);
	size_t NM = (size_t)s->max_batch * s->max_ctx; /* rows per layer */
	x.q = AT(s->q, l, NM * x.qd);
	x.k = AT(s->k, l, NM * x.kvd);
	x.v = AT(s->v, l, NM * x.kvd);
	x.ao = AT(s->ao, l, NM * x.qd);
	x.p = AT(s->p, l, NM * x.H * s->max_ctx);
	x.gate = AT(s->gate, l, NM * x.f);
	x.up = AT(s->up, l, NM * x.f);
	x.hb = s->hb;
	x.dq = s->dq;
	x.dk = s->dk;
	x.dv = s->dv;
	x.dao = s->dao;
	x.dg = s->dg;
	x.du = s->du;
	return x;
}

/* Runs the attention tasks with single-threaded BLAS inside. */
static void run_attention(struct layer_ctx *c, int B, int threads,
			  void (*fn)(void *, int, int))
{
	int prev = par_blas_single();
	par_run(threads, B * c->KV, fn, c);
	par_blas_restore(prev);
}

static void layer_forward(struct train_state *s, int l)
{
	const struct model *m = s->m;
	const struct config *c = &m->cfg;
	const struct layer_weights *w = &m->layers[l];
	struct layer_ctx x = layer_ctx_of(s, l);
	int d = x.d, f = x.f, qd = x.qd, kvd = x.kvd;
	int N = s->B * s->T, nt = par_threads();
	size_t NM = (size_t)s->max_batch * s->max_ctx;
	const float *xin = AT(s->xin, l, NM * d);
	float *r1 = AT(s->r1, l, NM), *r2 = AT(s->r2, l, NM);
	float *xmid = AT(s->xmid, l, NM * d);
	float *xout = AT(s->xin, l + 1, NM * d);

	kern_rmsnorm(s->xn, r1, xin, w->attn_norm, N, d, c->rms_norm_eps);
	mm_fwd(x.q, s->xn, w->wq, N, qd, d);
	mm_fwd(x.k, s->xn, w->wk, N, kvd, d);
	mm_fwd(x.v, s->xn, w->wv, N, kvd, d);
	x.dir = 1;
	par_run(nt, N, task_rope, &x);
	run_attention(&x, s->B, nt, task_attn);
	mm_fwd(xmid, x.ao, w->wo, N, d, qd);
	size_t nd = (size_t)N * d;
	for (size_t i = 0; i < nd; i++)
		xmid[i] += xin[i];

	kern_rmsnorm(s->xn, r2, xmid, w->mlp_norm, N, d, c->rms_norm_eps);
	mm_fwd(x.gate, s->xn, w->w_gate, N, f, d);
	mm_fwd(x.up, s->xn, w->w_up, N, f, d);
	par_run(nt, N, task_swiglu, &x);
	mm_fwd(xout, s->hb, w->w_down, N, d, f);
	for (size_t i = 0; i < nd; i++)
		xout[i] += xmid[i];
}

int train_forward(struct train_state *s, const int *tokens, int B, int T,
		  const float **logits, struct err *e)
{
	const struct model *m = s->m;
	const struct config *c = &m->cfg;
	int d = c->hidden_size, V = c->vocab_size, L = c->n_layers;
	if (B < 1 || B > s->max_batch || T < 2 || T > s->max_ctx)
		return err_set(e, ERR_INVALID,
			       "train: batch %d x %d tokens outside the state's "
			       "1..%d x 2..%d",
			       B, T, s->max_batch, s->max_ctx);
	int N = B * T;
	for (int i = 0; i < N; i++)
		if (tokens[i] < 0 || tokens[i] >= V)
			return err_set(e, ERR_INVALID,
				       "train: token id %d is outside the "
				       "vocabulary (%d)",
				       tokens[i], V);
	s->B = B;
	s->T = T;
	memcpy(s->tokens, tokens, (size_t)N * sizeof *tokens);
	for (int i = 0; i < N; i++)
		memcpy(s->xin + (size_t)i * d, m->embed + (size_t)tokens[i] * d,
		       (size_t)d * sizeof(float));
	for (int l = 0; l < L; l++)
		layer_forward(s, l);
	size_t NM = (size_t)s->max_batch * s->max_ctx;
	const float *xf = AT(s->xin, L, NM * d);
	kern_rmsnorm(s->xn, s->rf, xf, m->norm, N, d, c->rms_norm_eps);
	mm_fwd(s->logits, s->xn, m->lm_head, N, V, d);
	*logits = s->logits;
	return 0;
}

/* Layer l's backward: s->dx holds d loss / d (layer output) on entry and
 * d loss / d (layer input) on return. */
static void layer_backward(struct train_state *s, int l, struct model *g)
{
	const struct model *m = s->m;
	const struct layer_weights *w = &m->layers[l];
	struct layer_weights *gw = &g->layers[l];
	struct layer_ctx x = layer_ctx_of(s, l);
	int d = x.d, f = x.f, qd = x.qd, kvd = x.kvd;
	int N = s->B * s->T, nt = par_threads();
	size_t NM = (size_t)s->max_batch * s->max_ctx;
	const float *xin = AT(s->xin, l, NM * d);
	const float *r1 = AT(s->r1, l, NM), *r2 = AT(s->r2, l, NM);
	const float *xmid = AT(s->xmid, l, NM * d);

	/* MLP: xout = xmid + down(silu(gate) * up), gate/up of norm(xmid). */
	par_run(nt, N, task_swiglu, &x);
	mm_dw(gw->w_down, s->dx, s->hb, N, d, f);
	mm_dx(s->hb, s->dx, w->w_down, N, d, f, 0.0f); /* hb = dh (N, f) */
	par_run(nt, N, task_swiglu_bwd, &x);
	rmsnorm_redo(s->xn, r2, xmid, w->mlp_norm, N, d);
	mm_dw(gw->w_gate, s->dg, s->xn, N, f, d);
	mm_dw(gw->w_up, s->du, s->xn, N, f, d);
	mm_dx(s->dxn, s->dg, w->w_gate, N, f, d, 0.0f);
	mm_dx(s->dxn, s->du, w->w_up, N, f, d, 1.0f);
	rmsnorm_bwd(s->dx, gw->mlp_norm, s->dxn, xmid, r2, w->mlp_norm, N, d);

	/* Attention: xmid = xin + o(attn(rope(q), rope(k), v)). */
	mm_dw(gw->wo, s->dx, x.ao, N, d, qd);
	mm_dx(s->dao, s->dx, w->wo, N, d, qd, 0.0f);
	run_attention(&x, s->B, nt < s->n_dp ? nt : s->n_dp, task_attn_bwd);
	/* RoPE's backward rotates dq, dk back */
	struct layer_ctx xr = x;
	xr.q = s->dq;
	xr.k = s->dk;
	xr.dir = -1;
	par_run(nt, N, task_rope, &xr);
	rmsnorm_redo(s->xn, r1, xin, w->attn_norm, N, d);
	mm_dw(gw->wq, s->dq, s->xn, N, qd, d);
	mm_dw(gw->wk, s->dk, s->xn, N, kvd, d);
	mm_dw(gw->wv, s->dv, s->xn, N, kvd, d);
	mm_dx(s->dxn, s->dq, w->wq, N, qd, d, 0.0f);
	mm_dx(s->dxn, s->dk, w->wk, N, kvd, d, 1.0f);
	mm_dx(s->dxn, s->dv, w->wv, N, kvd, d, 1.0f);
	rmsnorm_bwd(s->dx, gw->attn_norm, s->dxn, xin, r1, w->attn_norm, N, d);
}


int train_backward(struct train_state *s, const float *dlogits,
		   struct model *g, struct err *e)
{
	const struct model *m = s->m;
	const struct config *c = &m->cfg;
	int d = c->hidden_size, V = c->vocab_size, L = c->n_layers;
	if (s->B == 0)
		return err_set(e, ERR_INVALID,
			       "train: backward without a forward pass");
	if (!config_same_geometry(c, &g->cfg) || g->tied != m->tied)
		return err_set(e, ERR_INVALID,
			       "train: the gradient model's geometry differs "
			       "from the model's");
	int N = s->B * s->T;
	size_t NM = (size_t)s->max_batch * s->max_ctx;
	const float *xf = AT(s->xin, L, NM * d);

	/* lm_head and the final norm (tied: g->lm_head is g->embed). */
	rmsnorm_redo(s->xn, s->rf, xf, m->norm, N, d);
	mm_dw(g->lm_head, dlogits, s->xn, N, V, d);
	mm_dx(s->dxn, dlogits, m->lm_head, N, V, d, 0.0f);
	memset(s->dx, 0, (size_t)N * d * sizeof(float));
	rmsnorm_bwd(s->dx, g->norm, s->dxn, xf, s->rf, m->norm, N, d);
	for (int l = L - 1; l >= 0; l--)
		layer_backward(s, l, g);
	/* embedding: scatter-add, serial so repeated tokens add in order */
	for (int i = 0; i < N; i++) {
		float *ge = g->embed + (size_t)s->tokens[i] * d;
		const float *dr = s->dx + (size_t)i * d;
		for (int j = 0; j < d; j++)
			ge[j] += dr[j];
	}
	return 0;
}

/* The unique tensors of g (model_params' order), malloc'd; -1 on no
 * memory. */
static int params_of(struct model *g, struct model_param **out)
{
	int n = model_params(g, NULL, 0);
	*out = malloc((size_t)n * sizeof **out);
	if (!*out)
		return -1;
	model_params(g, *out, n);
	return n;
}

void train_zero_grads(struct model *g)
{
	struct model_param *ps;
	int n = params_of(g, &ps);
	if (n < 0) {
		/* No memory for the list: walk the tensors directly (zeroing
		 * an aliased tensor twice is harmless). */
		const struct config *c = &g->cfg;
		size_t d = (size_t)c->hidden_size, V = (size_t)c->vocab_size;
		size_t f = (size_t)c->intermediate_size;
		size_t qd = (size_t)c->n_heads * c->head_dim;
		size_t kvd = (size_t)c->n_kv_heads * c->head_dim;
		memset(g->embed, 0, V * d * sizeof(float));
		memset(g->lm_head, 0, V * d * sizeof(float));
		memset(g->norm, 0, d * sizeof(float));
		for (int l = 0; l < c->n_layers; l++) {
			struct layer_weights *w = &g->layers[l];
			memset(w->wq, 0, qd * d * sizeof(float));
			memset(w->wk, 0, kvd * d * sizeof(float));
			memset(w->wv, 0, kvd * d * sizeof(float));
			memset(w->wo, 0, qd * d * sizeof(float));
			memset(w->attn_norm, 0, d * sizeof(float));
			memset(w->mlp_norm, 0, d * sizeof(float));
			memset(w->w_gate, 0, f * d * sizeof(float));
			memset(w->w_up, 0, f * d * sizeof(float));
			memset(w->w_down, 0, f * d * sizeof(float));
		}
		return;
	}
	for (int i = 0; i < n; i++)
		memset(ps[i].w, 0, (size_t)ps[i].n * sizeof(float));
	free(ps);
}

/* Elements per partial sum of the gradient norm: fixed, so the sum's
 * order (and result) does not depend on the thread count. */
#define CLIP_CHUNK ((uint64_t)1 << 16)

struct clip_ctx {
	const struct model_param *ps;
	int *tensor;	 /* (chunks) */
	uint64_t *first; /* (chunks) */
	double *ss;	 /* (chunks) partial sums of squares */
	float coef;
};

static void task_sumsq(void *arg, int k, int thread)
{
	(void)thread;
	const struct clip_ctx *c = arg;
	const struct model_param *p = &c->ps[c->tensor[k]];
	uint64_t j0 = c->first[k];
	uint64_t j1 = p->n - j0 < CLIP_CHUNK ? p->n : j0 + CLIP_CHUNK;
	double ss = 0;
	for (uint64_t j = j0; j < j1; j++)
		ss += (double)p->w[j] * p->w[j];
	c->ss[k] = ss;
}

static void task_scale(void *arg, int k, int thread)
{
	(void)thread;
	const struct clip_ctx *c = arg;
	const struct model_param *p = &c->ps[c->tensor[k]];
	uint64_t j0 = c->first[k];
	uint64_t j1 = p->n - j0 < CLIP_CHUNK ? p->n : j0 + CLIP_CHUNK;
	for (uint64_t j = j0; j < j1; j++)
		p->w[j] *= c->coef;
}

double train_clip_grads(struct model *g, double max_norm)
{
	struct model_param *ps;
	int n = params_of(g, &ps);
	if (n < 0)
		return NAN;
	int nc = 0;
	for (int i = 0; i < n; i++)
		nc += (int)((ps[i].n + CLIP_CHUNK - 1) / CLIP_CHUNK);
	struct clip_ctx c = {ps, malloc((size_t)nc * sizeof(int)),
			     malloc((size_t)nc * sizeof(uint64_t)),
			     malloc((size_t)nc * sizeof(double)), 1.0f};
	double total = NAN;
	if (!c.tensor || !c.first || !c.ss)
		goto out;
	int k = 0;
	for (int i = 0; i < n; i++)
		for (uint64_t j = 0; j < ps[i].n; j += CLIP_CHUNK) {
			c.tensor[k] = i;
			c.first[k++] = j;
		}
	int nt = par_threads();
	par_run(nt, nc, task_sumsq, &c);
	total = 0;
	for (int i = 0; i < nc; i++)
		total += c.ss[i];
	total = sqrt(total);
	/* torch scales whenever max_norm / (norm + 1e-6) < 1 */
	if (max_norm > 0 && max_norm / (total + 1e-6) < 1.0) {
		c.coef = (float)(max_norm / (total + 1e-6));
		par_run(nt, nc, task_scale, &c);
	}
out:
	free(c.tensor);
	free(c.first);
	free(c.ss);
	free(ps);
	return total;
}
