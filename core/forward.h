/*
 * forward — the forward pass of the InkubaLM/Llama family, with a KV cache.
 *
 * Follows Hugging Face's LlamaForCausalLM (tests/ref/llama_ref.py is the
 * reference): embedding; per layer x += attn(rmsnorm(x)), x += mlp(rmsnorm
 * (x)); final rmsnorm; lm_head. RMSNorm computes the variance in double and
 * scales by 1/sqrt(var + eps) in f32, then by the weight. RoPE uses the HF
 * rotate_half layout (dim i pairs with i + hd/2) with PyTorch's f32 angles:
 * inv_freq[i] = 1 / theta^(2i/hd) in f32, angle = pos * inv_freq[i] in f32.
 * Attention is causal, grouped (query head h uses key/value head
 * h / (heads/kv_heads), as repeat_interleave does); the MLP is SwiGLU
 * down(silu(gate(x)) * up(x)), shared or per layer (the model decides).
 *
 * Tokens are appended to the state's sequence: fwd_run(s, tokens, T, ...)
 * processes T new tokens at positions s->pos .. s->pos + T - 1 with OpenBLAS
 * sgemm (T > 1, a prefill) or sgemv (T == 1, a decode step), attends to
 * everything cached before, and leaves the last position's logits in
 * s->logits. Long inputs are processed in chunks of at most s->chunk tokens
 * (invisible to the caller). fwd_reset() starts a new sequence.
 *
 * Layers can be skipped (fwd_set_skip): a skipped layer is the identity, as
 * llama_ref's forward(skip_layers=...) does. An optional hook sees every
 * run layer's input and output hidden states (T, d) per chunk.
 *
 * Ownership: the state borrows the model (it must outlive the state) and
 * owns its cache and scratch; s->logits is valid until the next call.
 */
#ifndef PUNGUZA_FORWARD_H
#define PUNGUZA_FORWARD_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "model.h"

/* Called after each run layer with its input and output hidden states,
 * (T, d) row-major, for the T tokens of the current chunk. */
typedef void (*fwd_layer_hook)(void *ctx, int layer, const float *in,
			       const float *out, int T, int d);

struct fwd_state {
	const struct model *m;
	int max_pos;	     /* capacity of the KV cache (positions) */
	int chunk;	     /* most tokens processed at once */
	int pos;	     /* tokens in the cache so far */
	float *logits;	     /* (V) logits of the last position processed */
	unsigned char *skip; /* (L) 1 = layer skipped */
	fwd_layer_hook on_layer;
	void *hook_ctx;
	/* private */
	float *k_cache;	 /* (L, max_pos, kv*hd) keys after RoPE */
	float *v_cache;	 /* (L, max_pos, kv*hd) */
	float *x;	 /* (chunk, d) residual stream */
	float *xb;	 /* (chunk, d) normed input / attention output */
	float *xin;	 /* (chunk, d) copy of a layer's input for the hook */
	float *q;	 /* (chunk, h*hd) */
	float *att_out;	 /* (chunk, h*hd) */
	float *att;	 /* (chunk, max_pos) scores of one head */
	float *hb;	 /* (chunk, f) gate */
	float *hb2;	 /* (chunk, f) up */
	float *rope_cos; /* (max_pos, hd/2) */
	float *rope_sin; /* (max_pos, hd/2) */
};

/* A state for model m holding up to max_pos positions (<= 0: the model's
 * max_position_embeddings), processing up to chunk tokens at once (<= 0:
 * 256; larger chunks make sgemm more efficient, at chunk*(2f + max_pos)
 * floats of scratch). */
int fwd_new(const struct model *m, int max_pos, int chunk,
	    struct fwd_state **out, struct err *e);

void fwd_free(struct fwd_state *s); /* NULL is a no-op */

/* Forgets the sequence (the cache is overwritten from position 0). */
void fwd_reset(struct fwd_state *s);

/* Forgets every position >= pos (0 <= pos <= s->pos, else ERR_INVALID):
 * the next fwd_run continues from position pos, as if the later tokens had
 * never been appended (the cache of positions < pos is kept). s->logits is
 * NOT restored: it still holds the last run's logits. Used to score several
 * continuations of one prefilled prompt. */
int fwd_truncate(struct fwd_state *s, int pos, struct err *e);

/* Skips the layers whose flags are set (L flags; NULL = run every layer).
 * Takes effect from the next fwd_run; reset the state when changing it in
 * the middle of a sequence (skipped layers have no cache). */
void fwd_set_skip(struct fwd_state *s, const unsigned char *skip);

/* Appends T >= 1 tokens. all_logits, when not NULL, receives (T, V) logits
 * for every new position; s->logits always has the last one. Errors:
 * ERR_INVALID for a token outside the vocabulary or when the cache would
 * overflow max_pos. */
int fwd_run(struct fwd_state *s, const int *tokens, int T, float *all_logits,
	    struct err *e);

/* Like fwd_run, but logits (when not NULL) receives (T - from, V) logits
 * for the new positions from .. T-1 only (0 <= from < T); the lm_head is
 * not computed for the others (sliding-window evaluation). */
int fwd_run_from(struct fwd_state *s, const int *tokens, int T, int from,
		 float *logits, struct err *e);

/* RoPE's cos/sin tables (n_pos, hd/2) with PyTorch's f32 angles (see
 * above); the training pass (train.h) uses the same ones. */
void fwd_rope_tables(float *cosv, float *sinv, int n_pos, int hd,
		     double theta);

#endif
