/*
 * apply — a pruning plan applied to a model: a new, smaller model (and,
 * when the vocabulary is pruned, a new tokenizer). The source is never
 * modified. The entry for callers: it includes its parts.
 *
 * Two stages, both public so tests and the TUI can look between them:
 *   prune_select  (select.h) decides WHAT to keep: a struct prune_index
 *                 (every kept index set, ascending) from the snapped plan,
 *                 the source's weights and, for activation selection and
 *                 layer ranking, calibration token ids (calib.h);
 *   prune_build   (build.h) gathers the kept rows/columns into a new model.
 * prune_apply does both; prune_measure (effect.h) measures what it cost.
 *
 * What stays exact (tests/test_apply.c):
 *   - the identity plan gives logits bit-identical to the source's (every
 *     tensor is borrowed);
 *   - a layers-only plan gives logits bit-identical to the source run with
 *     the dropped layers skipped (fwd_set_skip);
 *   - head_dim mode with hd' = hd/2: when the source's dropped weights are
 *     zero (embedding columns, o/down rows of dropped residual dims; q/k
 *     rows of dropped pairs; v rows and o columns of dropped v/o dims; gate
 *     and up rows and down columns of dropped channels) the pruned model
 *     computes the same function, up to two scale factors apply does NOT
 *     change because they are right on average for real weights: RMSNorm
 *     averages over d' instead of d, and attention divides by sqrt(hd')
 *     instead of sqrt(hd). With norm weights x sqrt(d/d'), eps x d/d' and
 *     q rows x sqrt(hd'/hd) the logits equal the source's to float
 *     rounding (the test does exactly that). For real weights the kept
 *     dims carry about d'/d of the energy, so no rescale is the unbiased
 *     choice for the norms.
 *
 * Ownership: the pruned model borrows every tensor the plan leaves
 * unchanged from `src` (src must outlive it) and owns the ones it made.
 * A pruned tokenizer (*out_tok) is owned by the caller; *out_tok is NULL
 * when the vocabulary is unchanged (keep using the source's).
 */
#ifndef PUNGUZA_APPLY_H
#define PUNGUZA_APPLY_H

#include "build.h"
#include "effect.h"
#include "err.h"
#include "model.h"
#include "plan.h"
#include "progress.h"
#include "select.h"

struct tokenizer;

/* prune_select + prune_build (+ vocab_rewrite of tok when in->keep is
 * given and out_tok is not NULL). tok may be NULL when the vocabulary is
 * unchanged; in, report and prog may be NULL. The pruned config keeps the
 * source's json_text (a copy) so exports can start from it. */
int prune_apply(const struct model *src, const struct tokenizer *tok,
		const struct prune_plan *plan, const struct apply_inputs *in,
		struct model **out, struct tokenizer **out_tok,
		struct apply_report *report, const struct progress *prog,
		struct err *e);

#endif
