/*
 * distill — the heal objective on a block of next-token predictions: KL
 * divergence from a teacher's distribution, mixed with cross-entropy on the
 * true next token, and its gradient with respect to the student's logits.
 *
 * For each of n rows (one predicted position) with student logits s,
 * teacher logits t (same V: the caller has already restricted the teacher
 * to the student's vocabulary) and target y:
 *
 *   p_t = softmax(t / T),  log q_T = log_softmax(s / T)
 *   kl  = sum_v p_t (log p_t - log q_T)                 (nats)
 *   ce  = -log_softmax(s)[y]
 *   loss_row = w * T^2 * kl + (1 - w) * ce
 *
 * and the block's loss is the mean over rows whose target is >= 0 (a
 * target of -1 marks a row that is not scored: padding, or a position
 * whose next token is outside the block). w = kd_weight in [0, 1]; the T^2
 * factor keeps the gradient's scale independent of the temperature
 * (Hinton et al. 2015). With t == NULL (plain fine-tuning) w must be 0.
 *
 * d loss / d s = (w * T * (q_T - p_t) + (1 - w) * (softmax(s) - onehot(y)))
 *                / n_scored, per scored row; 0 for unscored rows.
 * Softmaxes are computed with the row maximum subtracted, exponentials in
 * f32, sums and logs in double (the loss matches a float64 reference to
 * ~1e-9 relative). Rows are split over OpenBLAS's thread count (par.h);
 * the totals are summed in row order, so results do not depend on it.
 */
#ifndef PUNGUZA_DISTILL_H
#define PUNGUZA_DISTILL_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct distill_opts {
	double temperature; /* T > 0; 1 = the distributions as they are */
	double kd_weight;   /* w in [0, 1]: 1 = pure KL, 0 = pure CE */
};

struct distill_stats {
	double loss;	 /* the block's loss (what dlogits differentiates) */
	double kl;	 /* mean KL(p_t || q_T) over scored rows, nats (0 when
			    no teacher) */
	double ce;	 /* mean cross-entropy of the targets, nats */
	double top1;	 /* fraction of scored rows where argmax s == argmax t
			    (0 when no teacher) */
	size_t n_scored; /* rows with target >= 0 */
};

/* student (n, V), teacher (n, V) or NULL, targets (n); dlogits (n, V) may
 * be NULL (loss only). ERR_INVALID for T <= 0, w outside [0, 1], w > 0
 * without a teacher, or a target >= V or < -1; ERR_NOMEM when the per-row
 * scratch cannot be had. No scored row: loss 0, dlogits 0. */
int distill_loss(const float *student, const float *teacher,
		 const int *targets, size_t n, int V,
		 const struct distill_opts *o, float *dlogits,
		 struct distill_stats *st, struct err *e);

#endif
