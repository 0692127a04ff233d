/*
 * calib — one pass of the source model over calibration text, gathering
 * what activation selection and layer ranking read (select.h), per layer:
 * the sum over tokens of 1 - cos(input, output) of its hidden states, and
 * the summed |activations| of its input (each token divided by its RMS),
 * of the MLP's silu(gate) * up and of the attention output before o. They
 * are read from the forward pass's layer hook (and its att_out / hb
 * scratch, which hold the layer just run when the hook is called).
 *
 * Ownership: a struct calib owns its arrays and forward state; calib_free
 * frees them (a zeroed struct is fine) and zeroes it.
 */
#ifndef PUNGUZA_CALIB_H
#define PUNGUZA_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "model.h"
#include "progress.h"

struct fwd_state;

struct calib {
	struct fwd_state *s;
	int L, d, f, qd, n_mlp;
	double *cos_sum;    /* (L) sum over tokens of 1 - cos(in, out) */
	double *resid_abs;  /* (L, d) sum of |x_i| / rms(x) of layer inputs */
	double *hb_abs;	    /* (L, f) sum of |silu(gate) * up| */
	double *att_abs;    /* (L, qd) sum of |attention output| */
	uint64_t *n_tok;    /* (L) tokens seen per layer */
};

/* Runs src over calib[0..n_calib) in windows of calib_ctx tokens (<= 0:
 * 256, capped at max_position_embeddings). On error c is freed. */
int calib_run(const struct model *src, const int *calib, size_t n_calib,
	      int calib_ctx, struct calib *c, const struct progress *prog,
	      struct err *e);

void calib_free(struct calib *c);

#endif
