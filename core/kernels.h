/*
 * kernels — the row-wise pieces of a decoder layer that the forward pass
 * (forward.c) and the training pass (train.c) share, so that training
 * computes exactly the numbers inference does: RMSNorm, RoPE, SwiGLU and
 * the causal softmax. The matrix products are BLAS calls in each pass.
 *
 * All work in place or into caller-owned buffers; nothing allocates.
 * Rows are contiguous, `d` (or `hd`) floats each.
 */
#ifndef PUNGUZA_KERNELS_H
#define PUNGUZA_KERNELS_H

#include <stddef.h>

/* Hugging Face's RMSNorm over n rows of d: out = w * (x * r) with
 * r = 1 / sqrt(mean(x^2) + eps), the mean in double and r in f32 (as
 * PyTorch rounds). When rinv is not NULL it receives each row's r (the
 * training pass keeps it for the backward). out may not alias x. */
void kern_rmsnorm(float *out, float *rinv, const float *x, const float *w,
		  int n, int d, double eps);

/* Rotates n_heads vectors of size hd (at stride hd) by one position's
 * angles: pairs (i, i + hd/2), cosv/sinv of hd/2 entries. dir -1 rotates
 * back (a rotation's backward is its inverse); dir +1 rotates forward. */
void kern_rope(float *v, int n_heads, int hd, const float *cosv,
	       const float *sinv, int dir);

/* h = silu(gate) * up, n elements. */
void kern_swiglu(float *h, const float *gate, const float *up, size_t n);

/* One row of causal attention weights in place: softmax over the first
 * len scores (the visible keys), zeros for the width - len after them. */
void kern_softmax_causal(float *a, int len, int width);

#endif
