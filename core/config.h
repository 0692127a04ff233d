/*
 * config — a model's geometry, read from a Hugging Face config.json.
 *
 * Understands the Llama keys of DESIGN §1.1 (hidden_size, intermediate_size,
 * num_attention_heads, num_key_value_heads, head_dim, num_hidden_layers,
 * vocab_size, rope_theta, rms_norm_eps, max_position_embeddings,
 * tie_word_embeddings, bos/eos/pad_token_id) and InkubaLM's shared MLP:
 * `auto_map` mentioning "vulavula" switches shared_mlp on.
 *
 * The parameter count follows the challenge (DESIGN §1.2): unique
 * parameters, the shared MLP once, tied embeddings once.
 */
#ifndef PUNGUZA_CONFIG_H
#define PUNGUZA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct config {
	int vocab_size;        /* V */
	int hidden_size;       /* d */
	int intermediate_size; /* f */
	int n_layers;          /* L */
	int n_heads;           /* query heads */
	int n_kv_heads;        /* divides n_heads (GQA when fewer) */
	int head_dim;          /* d / n_heads unless config.json says */
	int max_position_embeddings;
	double rope_theta;
	double rms_norm_eps;
	bool tie_word_embeddings;
	bool shared_mlp; /* one MLP used by every layer (InkubaLM) */
	int bos_token_id, eos_token_id, pad_token_id; /* -1 when absent, null
						       or -1 in the file */
	char model_type[32];
	/* The original file's text (owned, may be NULL): exports start from it
	 * so keys punguza does not understand (auto_map, ...) survive. */
	char *json_text;
};

/* Parameter counts per component (DESIGN §1.2, generalised to GQA and an
 * explicit head_dim). */
struct param_breakdown {
	uint64_t embed;   /* V*d */
	uint64_t lm_head; /* V*d, 0 when tied */
	uint64_t attn_q, attn_k, attn_v, attn_o; /* all layers together */
	uint64_t attn;    /* sum of the four */
	uint64_t mlp;     /* 3*d*f, once when shared, else per layer */
	uint64_t norms;   /* 2*d per layer + final d */
	uint64_t total;
};

/* Reads and validates dir/config.json or a config.json path. */
int config_load(const char *path, struct config *out, struct err *e);

/* Parses JSON text (len bytes, need not be NUL-terminated); `name` is used
 * in error messages. Copies the text into out->json_text. */
int config_parse(const char *text, size_t len, const char *name,
		 struct config *out, struct err *e);

/* Checks sizes are positive and consistent: heads divide, head_dim even
 * (RoPE), kv heads divide heads, eps and theta positive. */
int config_validate(const struct config *c, const char *name, struct err *e);

void config_params(const struct config *c, struct param_breakdown *out);
uint64_t config_param_count(const struct config *c);

/* True when a and b have the same geometry: every size, head layout,
 * tying and shared MLP (what decides the tensors' shapes and aliasing). */
bool config_same_geometry(const struct config *a, const struct config *b);

/* A deep copy (json_text duplicated). */
int config_copy(struct config *dst, const struct config *src, struct err *e);

/* InkubaLM-0.4B's geometry (DESIGN §1.1), built in; json_text NULL. */
void config_inkubalm(struct config *out);

/* Frees json_text; the struct itself is the caller's. NULL is a no-op. */
void config_free(struct config *c);

#endif
