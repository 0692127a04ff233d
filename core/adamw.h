/*
 * adamw — the AdamW optimizer (Loshchilov & Hutter: decoupled weight
 * decay) exactly as torch.optim.AdamW computes it (foreach=False,
 * amsgrad=False, maximize=False), over a model's unique tensors
 * (model_params: a shared MLP and a tied matrix are one tensor each):
 *
 *   t += 1
 *   p *= 1 - lr * wd                       (not for norm weights: wd 0)
 *   m  = b1 * m + (1 - b1) * g
 *   v  = b2 * v + (1 - b2) * g^2
 *   denom = sqrt(v) / sqrt(1 - b2^t) + eps
 *   p -= (lr / (1 - b1^t)) * m / denom
 *
 * in f32 like PyTorch's per-element kernels (the bias corrections in
 * double, as Python computes them). Elementwise, split over OpenBLAS's
 * thread count (par.h): the result does not depend on it.
 *
 * State file (adamw_save / adamw_load): a safetensors file holding the
 * moments as F32 tensors "<param name>.exp_avg" and ".exp_avg_sq", the
 * step count in the metadata ("step"), written atomically. Loading checks
 * every tensor's name and shape against the model.
 *
 * Ownership: the optimizer owns its moments; it does not keep the model.
 */
#ifndef PUNGUZA_ADAMW_H
#define PUNGUZA_ADAMW_H

#include <stdint.h>

#include "err.h"
#include "model.h"

struct adamw_opts {
	double lr;	     /* the step's learning rate (the schedule's) */
	double beta1, beta2; /* 0.9, 0.95 in heal's defaults */
	double eps;	     /* 1e-8 */
	double weight_decay; /* decoupled; never applied to norm weights */
};

struct adamw;

/* Zeroed moments for every unique tensor of m; step 0. */
int adamw_new(const struct model *m, struct adamw **out, struct err *e);
void adamw_free(struct adamw *a); /* NULL is a no-op */

/* One step: updates params (writable: model_clone/model_new) from grads
 * (same geometry). */
int adamw_step(struct adamw *a, struct model *params,
	       const struct model *grads, const struct adamw_opts *o,
	       struct err *e);

uint64_t adamw_steps(const struct adamw *a); /* steps taken (t) */

int adamw_save(const struct adamw *a, const char *path, struct err *e);
int adamw_load(struct adamw *a, const char *path, struct err *e);

#endif
