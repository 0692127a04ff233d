/*
 * eval — how well a model predicts a token sequence: negative
 * log-likelihood with a sliding window, perplexity, bits per byte, and,
 * against a reference model of the same vocabulary, KL(ref‖model) and
 * top-1 agreement.
 *
 * The window follows Hugging Face's perplexity guide exactly: windows start
 * at 0, S, 2S, ... and cover up to C tokens [begin, end); a window scores
 * the targets at positions max(prev_end, begin + 1) .. end - 1, where
 * prev_end is the previous window's end, and stops after the window that
 * reaches the last token. So every token after the first is scored once
 * with up to C - 1 tokens of context — except that with S == C the first
 * token of each window has no context inside it and is not scored (as in
 * the guide; the result says how many tokens were scored).
 *
 * bits per byte = total NLL (nats) / (ln 2 × UTF-8 bytes of the text), the
 * caller giving the byte count: comparable across tokenizers (so across
 * vocabulary cutoffs). The reference comparison uses the same windows: at
 * each scored position, KL(p_ref ‖ p_model) = Σ p_ref (log p_ref − log
 * p_model) in nats, and whether both argmaxes agree.
 *
 * Every figure comes with the settings that produced it (struct
 * eval_result). Nothing returned needs freeing.
 */
#ifndef PUNGUZA_EVAL_H
#define PUNGUZA_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "model.h"
#include "progress.h"

struct eval_opts {
	int ctx;		     /* C, window length in tokens (>= 2) */
	int stride;		     /* S, 1 <= S <= C */
	uint64_t text_bytes;	     /* UTF-8 bytes of the text; 0 = unknown */
	const struct progress *prog; /* may be NULL */
};

struct eval_result {
	int ctx, stride;     /* the settings used */
	size_t n_tokens;     /* tokens in the sequence */
	size_t n_scored;     /* targets scored */
	uint64_t text_bytes; /* as given */
	double nll_sum;	     /* nats, over scored targets */
	double nll_mean;     /* nats per scored target */
	double ppl;	     /* exp(nll_mean) */
	double bpb;	     /* bits per byte; 0 when text_bytes is 0 */
	bool has_ref;
	double kl_mean; /* mean KL(ref‖model) per scored target, nats */
	double top1;	/* fraction of scored targets whose argmax agree */
};

struct tokenizer;

/* Encodes a text as a stream of documents, one per line: BOS, the line's
 * ids, EOS (the EOS stands for the line's newline, so bits per byte still
 * divide by every byte of the text, newlines included). Empty lines are
 * skipped (their newline byte still counts). This is how the family's
 * models see text in training (a line = a verse, a paragraph), so it is
 * the fair protocol for line-based corpora; encoding the whole file as one
 * string instead makes every newline a byte-fallback piece the model never
 * saw. BOS/EOS are left out when the tokenizer has none. *ids is malloc'd. */
int eval_encode_lines(const struct tokenizer *t, const char *text,
		      size_t len, int **ids, size_t *n, struct err *e);

/* C 512, S 256 (a window overlapping half the previous one). */
void eval_defaults(struct eval_opts *o);

/* Evaluates model m (and ref when not NULL: same vocabulary size) over
 * tokens[0..n). C larger than a model's max_position_embeddings is an
 * error (ERR_INVALID), as are n < 2 and S outside 1..C. */
int eval_run(const struct model *m, const struct model *ref, const int *tokens,
	     size_t n, const struct eval_opts *o, struct eval_result *r,
	     struct err *e);

#endif
