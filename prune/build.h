/*
 * build — the pruned model made from the source and the index sets of
 * select.h: every matrix's kept rows and columns gathered into a new
 * tensor, or, when a selection is the identity, the source's tensor
 * borrowed (never written). A shared MLP stays shared (one tensor set).
 * For the published recipe (RECIPE_RANDOM) every matrix draws its own
 * random rows and columns (pick.h) here, except the vocabulary's rows.
 *
 * Tying: lm_head := lm_head, embedding, or (embedding + lm_head) / 2 (then
 * gathered), and the pruned config says tie_word_embeddings true.
 *
 * Ownership: the pruned model borrows every tensor the plan leaves
 * unchanged from `src` (src must outlive it) and owns the ones it made.
 */
#ifndef PUNGUZA_BUILD_H
#define PUNGUZA_BUILD_H

#include "err.h"
#include "model.h"
#include "progress.h"
#include "select.h"

/* Builds the pruned model (geometry ix->cfg, the source's json_text
 * copied into it) from src and ix. report (may be NULL) gets the bytes. */
int prune_build(const struct model *src, const struct prune_index *ix,
		struct model **out, struct apply_report *report,
		const struct progress *prog, struct err *e);

#endif
