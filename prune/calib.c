/* calib — one pass of the source over calibration text. See calib.h. */
#include "calib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"

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

void calib_free(struct calib *c)
{
	fwd_free(c->s);
	free(c->cos_sum);
	free(c->resid_abs);
	free(c->hb_abs);
	free(c->att_abs);
	free(c->n_tok);
	memset(c, 0, sizeof *c);
}

int calib_run(const struct model *src, const int *calib, size_t n_calib,
	      int calib_ctx, struct calib *c, const struct progress *prog,
	      struct err *e)
{
	const struct config *cf = &src->cfg;
	int rc;
	memset(c, 0, sizeof *c);
	c->L = cf->n_layers;
	c->d = cf->hidden_size;
	c->f = cf->intermediate_size;
	c->qd = cf->n_heads * cf->head_dim;
	int ctx = calib_ctx > 0 ? calib_ctx : 256;
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
	for (size_t at = 0; at < n_calib; at += (size_t)ctx) {
		size_t n = n_calib - at;
		if (n > (size_t)ctx)
			n = (size_t)ctx;
		if ((rc = progress_report(prog,
					  (double)at / (double)n_calib,
					  "calibrating", e))) {
			calib_free(c);
			return rc;
		}
		fwd_reset(c->s);
		if ((rc = fwd_run(c->s, calib + at, (int)n, NULL, e))) {
			calib_free(c);
			return err_wrap(e, "calibration text");
		}
	}
	return 0;
}
