/*
 * train — the training pass of the InkubaLM/Llama family: a forward over a
 * batch of sequences that keeps what the backward pass needs, and the
 * backward pass itself, giving the gradient of a loss with respect to every
 * parameter.
 *
 * The forward is forward.h's function on B sequences of T tokens, each
 * starting at position 0 (no KV cache), with the same numerics (RMSNorm
 * variance in double, PyTorch's f32 RoPE angles, causal GQA attention,
 * SwiGLU shared or per layer), so its logits equal fwd_run's to float
 * rounding. Every matmul, forward and backward, goes through OpenBLAS
 * sgemm over all B*T rows at once (attention per sequence and head).
 *
 * Gradients live in a second struct model of the same geometry made with
 * model_new(&m->cfg, ...): it has the same aliasing as the parameters (one
 * tensor set for a shared MLP, lm_head == embed when tied), so the
 * gradient of a shared MLP is the sum over the layers that use it and a
 * tied matrix gets its embedding and lm_head gradients added together —
 * by construction, not by bookkeeping.
 *
 * train_backward ADDS into the gradient model (accumulation over
 * micro-batches); zero it with train_zero_grads between optimizer steps.
 *
 * Threads: as many as OpenBLAS is set to (OPENBLAS_NUM_THREADS or
 * openblas_set_num_threads). The big products are OpenBLAS's; the loops
 * outside BLAS (RoPE, SwiGLU, attention per sequence and kv group, the
 * norm's partial sums) are split over the same number of threads with
 * par.h, OpenBLAS switched to one thread for the small per-head products
 * meanwhile (a process-wide setting, restored afterwards). The results
 * are deterministic for a given thread count: every reduction outside
 * BLAS is done in a fixed order, independent of how tasks are split.
 *
 * Ownership: the state borrows m (it must outlive the state and may be
 * updated between steps: the weights are read at every call) and owns its
 * activations, allocated for max_batch x max_ctx by train_new:
 * B*T*(L*(d + 2(h+kv)*hd + 2f + h*T) + (L+1)*d + V) floats (per layer the
 * residual after attention, q, k, v, attention output, gate, up and the
 * attention probabilities; the L+1 layer inputs; the logits), and scratch
 * of B*T*(3d + 3f + 2(h+kv)*hd) floats.
 */
#ifndef PUNGUZA_TRAIN_H
#define PUNGUZA_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "model.h"

struct train_state;

/* A state for up to max_batch sequences of up to max_ctx tokens (max_ctx
 * <= the model's max_position_embeddings). ERR_NOMEM names the bytes it
 * wanted. */
int train_new(const struct model *m, int max_batch, int max_ctx,
	      struct train_state **out, struct err *e);

void train_free(struct train_state *s); /* NULL is a no-op */

/* Runs tokens (B, T) row-major (B <= max_batch, 2 <= T <= max_ctx; every
 * id inside the vocabulary, else ERR_INVALID) and keeps the activations.
 * *logits (B*T, V), owned by the state, valid until the next call. */
int train_forward(struct train_state *s, const int *tokens, int B, int T,
		  const float **logits, struct err *e);

/* The backward pass of the last train_forward: dlogits (B*T, V) is the
 * gradient of the loss with respect to those logits; adds d loss / d
 * parameter into g (model_new of the same config). */
int train_backward(struct train_state *s, const float *dlogits,
		   struct model *g, struct err *e);

/* Sets every gradient tensor of g to zero. */
void train_zero_grads(struct model *g);

/* Global L2 norm of g over its unique tensors (model_params); when
 * max_norm > 0 and the norm exceeds it, scales g by max_norm / (norm +
 * 1e-6), as torch.nn.utils.clip_grad_norm_ does. Returns the norm before
 * clipping (sums in double), NaN when out of memory (g untouched). */
double train_clip_grads(struct model *g, double max_norm);

#endif
