/*
 * effect — what pruning cost, measured: the source and the pruned model
 * (apply.h) evaluated on the same held-out text (eval.h). Plain data; the
 * caller owns the text.
 */
#ifndef PUNGUZA_EFFECT_H
#define PUNGUZA_EFFECT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "eval.h"
#include "model.h"

struct tokenizer;

/* What pruning cost, measured on held-out text (eval.h): both models'
 * NLL / perplexity / bits per byte with the same window settings; KL and
 * top-1 agreement of the pruned model against the source when both have
 * the same vocabulary (dst.has_ref); tokens per word of both tokenizers
 * (tokens without the BOS the post-processor adds, over whitespace-
 * separated words). */
struct prune_effect {
	struct eval_result src, dst;
	uint64_t bytes, words;
	size_t src_tokens, dst_tokens; /* text tokens, BOS excluded */
	double src_tpw, dst_tpw;       /* tokens per word */
};

/* dst_tok NULL: the source's tokenizer. o: window settings (ctx/stride;
 * text_bytes is set here; NULL: eval_defaults capped at the models'
 * context). */
int prune_measure(const struct model *src, const struct tokenizer *src_tok,
		  const struct model *dst, const struct tokenizer *dst_tok,
		  const char *text, size_t len, const struct eval_opts *o,
		  struct prune_effect *out, struct err *e);

#endif
