/*
 * generate — text generation: encode a prompt, prefill it, sample new
 * tokens one at a time on the KV cache, and stream their text.
 *
 * The loop (what `punguza run` and the TUI do):
 *   1. tok_encode(prompt, add_special = true): the tokenizer's template
 *      (InkubaLM: BOS first);
 *   2. the prompt's ids are prefilled in one fwd_run (sgemm) and marked
 *      seen for the sampler's repetition penalty;
 *   3. up to max_new times: sample a token from the last logits; stop
 *      without emitting it at the end-of-text id (the tokenizer's EOS,
 *      else config eos_token_id); else push it through the streaming
 *      decoder (tokenizer.h: text an incomplete UTF-8 sequence could still
 *      change is held back) and hand the new text to on_text; run it
 *      through the model (not after the last one).
 *   4. at the end the decoder is flushed: the held-back rest goes to
 *      on_text too, so the concatenation of every on_text chunk is the
 *      text the generated ids add to the prompt's: tok_decode(prompt +
 *      generated) with tok_decode(prompt) cut off its front (skip_special
 *      both; cut at the newline when stop_at_newline stops it). A first
 *      piece "▁x" after a prompt so prints " x": the decoder strips a
 *      leading space only at the very start of the text. When the prompt
 *      decodes to nothing (BOS alone) it is tok_decode(generated ids).
 * With stop_at_newline, the first '\n' in the text ends the generation:
 * the text before it is emitted, the newline and anything after are not.
 * on_text returning non-zero stops the generation at once (st->cancelled;
 * gen_run still returns 0: a stop is not an error).
 *
 * Checks: the tokenizer must not have more ids than the model's vocabulary
 * (ERR_INVALID), the prompt must encode to at least one token and leave
 * room in the context (max_position_embeddings) for one more. When max_new
 * does not fit in what is left of the context, fewer tokens are generated
 * (st->clamped, st->max_new says how many) unless opts.strict_context asks
 * for ERR_INVALID instead.
 *
 * Thread safety: a run owns all its mutable state (KV cache, sampler,
 * decoder); several gen_run calls may share one const model and tokenizer
 * from different threads. gen_ids_state borrows the caller's fwd_state.
 *
 * Ownership: nothing returned is owned by the caller beyond *st (plain
 * data). The chunk passed to on_text is valid only during the call; it is
 * not NUL-terminated.
 */
#ifndef PUNGUZA_GENERATE_H
#define PUNGUZA_GENERATE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "forward.h"
#include "model.h"
#include "sampler.h"
#include "tokenizer.h"

struct gen_opts {
	int max_new;		     /* most new tokens (default 64), >= 0 */
	struct sampler_opts sampler; /* default: sampler_defaults() */
	bool stop_at_newline;	     /* stop at the first '\n' (default no) */
	bool skip_special;	     /* decode without specials (default yes) */
	bool strict_context;	     /* max_new past the context: error, not
					clamp (default no) */
};

/* Filled as the run goes: prompt_tokens and max_new are set before the
 * first on_text call, the rest when gen_run returns. */
struct gen_stats {
	int prompt_tokens, new_tokens; /* new_tokens excludes the EOS */
	int max_new;		       /* after clamping to the context */
	double prompt_seconds, gen_seconds;
	bool hit_eos, hit_newline, cancelled, clamped;
};

/* Text sink: n bytes of s (n > 0). Non-zero return stops the run. */
typedef int (*gen_text_fn)(void *ctx, const char *s, size_t n);

void gen_defaults(struct gen_opts *o);

/* Generates after prompt[0..len) (see the module comment). on_text may be
 * NULL (the text is dropped); st may be NULL. */
int gen_run(const struct model *m, const struct tokenizer *t,
	    const char *prompt, size_t len, const struct gen_opts *o,
	    gen_text_fn on_text, void *ctx, struct gen_stats *st,
	    struct err *e);

/* Like gen_run, from already encoded ids (BOS included if wanted). */
int gen_ids(const struct model *m, const struct tokenizer *t, const int *ids,
	    size_t n, const struct gen_opts *o, gen_text_fn on_text, void *ctx,
	    struct gen_stats *st, struct err *e);

/* Like gen_ids, on the caller's state fs (t may be NULL: no text, ids
 * only, EOS from the config; the state is reset first; its max_pos bounds
 * the context instead of the model's): reusing one state for many prompts
 * saves the cache allocation. out_ids (may be NULL) receives a malloc'd
 * copy of the generated ids (EOS excluded; caller frees), *n_out their
 * count. */
int gen_ids_state(struct fwd_state *fs, const struct tokenizer *t,
		  const int *ids, size_t n, const struct gen_opts *o,
		  gen_text_fn on_text, void *ctx, struct gen_stats *st,
		  int **out_ids, size_t *n_out, struct err *e);

/* The end-of-text id generation stops at: the tokenizer's EOS, else the
 * config's eos_token_id (-1 when neither). */
int gen_eos_id(const struct model *m, const struct tokenizer *t);

#endif
