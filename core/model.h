/*
 * model — a model of the InkubaLM/Llama family: its config and one f32
 * pointer per tensor, ready for the forward pass (forward.h).
 *
 * Two ways to get one:
 *   model_load(dir)  config.json + the checkpoint in dir (weights.h). F32
 *                    tensors are used in place from the read-only mapping
 *                    (zero-copy) when 4-byte aligned; BF16/F16 tensors (and
 *                    unaligned F32 ones) are converted into owned buffers.
 *   model_new(cfg)   every tensor allocated, zeroed and owned: the pruning
 *                    engine fills them in (a pruned model lives in memory).
 *   model_new_empty(cfg)  every tensor pointer NULL: the caller sets each,
 *                    to a buffer from model_alloc_tensor() (owned) or to a
 *                    source model's tensor it keeps unchanged (borrowed:
 *                    the source must outlive this model), then calls
 *                    model_check(). A pruned model owns only what it made.
 *
 * Tensor names read (PyTorch [out, in] row-major, DESIGN §1.1):
 *   model.embed_tokens.weight                        (V, d)
 *   model.layers.{i}.self_attn.q_proj.weight         (h*hd, d)
 *   model.layers.{i}.self_attn.{k,v}_proj.weight     (kv*hd, d)
 *   model.layers.{i}.self_attn.o_proj.weight         (d, h*hd)
 *   model.layers.{i}.{input,post_attention}_layernorm.weight  (d)
 *   model.layers.{i}.mlp.{gate,up}_proj.weight       (f, d)
 *   model.layers.{i}.mlp.down_proj.weight            (d, f)
 *   model.norm.weight                                (d)
 *   lm_head.weight                                   (V, d), absent if tied
 *
 * Shared MLP (InkubaLM): ONE MLP used by every layer. It is on when
 * config.shared_mlp is set (auto_map mentions vulavula), or when no layer has
 * per-layer MLP tensors but a single set named model.mlp.{gate,up,down}_proj
 * .weight is present. The shared MLP is taken from the last stored layer copy
 * (layer L-1, as PyTorch's load into one shared module does), else from
 * model.mlp.*; the other stored copies are compared with it and, when they
 * differ, model->note says so. In shared mode every layer's w_gate/w_up/
 * w_down points at the same three tensors (cfg.shared_mlp is then true, so
 * config_params counts it once).
 *
 * Tied embeddings (tie_word_embeddings true): lm_head == embed; a stored
 * lm_head.weight is then ignored, with a note. An untied config without
 * lm_head.weight is an error.
 *
 * Ownership: the model owns its config copy, the weights mapping (when
 * loaded) and every buffer it converted or allocated; model_free() frees
 * exactly those, never pointers into the mapping. Tensor pointers are valid
 * until model_free(). A loaded model's tensors point into a read-only
 * mapping: never write through them (model_new's tensors are writable).
 */
#ifndef PUNGUZA_MODEL_H
#define PUNGUZA_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "progress.h"

struct weights;

struct layer_weights {
	float *wq;	  /* (h*hd, d) */
	float *wk;	  /* (kv*hd, d) */
	float *wv;	  /* (kv*hd, d) */
	float *wo;	  /* (d, h*hd) */
	float *attn_norm; /* (d) input_layernorm */
	float *mlp_norm;  /* (d) post_attention_layernorm */
	float *w_gate;	  /* (f, d) the shared one in shared-MLP mode */
	float *w_up;	  /* (f, d) */
	float *w_down;	  /* (d, f) */
};

struct model {
	struct config cfg;	      /* owned copy; cfg.shared_mlp is final */
	float *embed;		      /* (V, d) */
	struct layer_weights *layers; /* (L) */
	float *norm;		      /* (d) final norm */
	float *lm_head;		      /* (V, d); == embed when tied */
	bool tied;		      /* lm_head == embed */
	/* Where the shared MLP came from: "model.layers.7.mlp" or
	 * "model.mlp"; "" when MLPs are per layer or the model was built. */
	char shared_mlp_source[64];
	/* Things the user should hear about (may be ""): e.g. "mlp copies
	 * differ; using layer 7's, as PyTorch's load does". */
	char note[256];
	struct weights *w; /* the mapping, NULL for model_new() models */
	/* private: buffers owned by the model */
	void **owned;
	size_t n_owned, cap_owned;
	uint64_t owned_bytes; /* bytes of f32 the model had to allocate */
};

/* Loads dir/config.json and the checkpoint in dir. Errors name what is
 * wrong: "'dir': missing tensor 'model.norm.weight'", "'dir': tensor
 * 'lm_head.weight' has shape [64, 32], expected [128, 32]". prog may be
 * NULL; returns ERR_CANCELLED when it asks to stop. */
int model_load(const char *dir, struct model **out, const struct progress *prog,
	       struct err *e);

/* A model of geometry cfg (copied) with every tensor allocated, zeroed and
 * owned; norms are zero too (the caller fills everything). Shared MLP when
 * cfg->shared_mlp, lm_head = embed when cfg->tie_word_embeddings. */
int model_new(const struct config *cfg, struct model **out, struct err *e);

/* A model of geometry cfg with no tensors yet (all NULL; tied copied from
 * the config). */
int model_new_empty(const struct config *cfg, struct model **out,
		    struct err *e);

/* A zeroed buffer of n floats owned by m (freed by model_free). */
int model_alloc_tensor(struct model *m, uint64_t n, float **out, struct err *e);

/* Checks every tensor pointer is set and tied/shared are consistent
 * (lm_head == embed iff tied; one MLP for all layers when shared). The
 * forward pass (fwd_new) calls it. */
int model_check(const struct model *m, struct err *e);

/* Hands an extra malloc'd buffer to the model (freed by model_free); on
 * failure (ERR_NOMEM) the buffer is freed here. */
int model_own(struct model *m, void *buf, struct err *e);

/* Bytes of weights one decode step reads: every layer's matrices and norms,
 * the (shared) MLP once per layer that uses it, final norm, lm_head, one
 * embedding row. skip (L flags, may be NULL) leaves layers out. */
uint64_t model_decode_bytes(const struct model *m, const unsigned char *skip);

/* Parameter count (DESIGN §1.2), from the config. */
uint64_t model_param_count(const struct model *m);

/* A deep, writable copy of src (config included): every tensor f32 and
 * owned, with src's aliasing (one tensor set for a shared MLP, lm_head ==
 * embed when tied). What training updates; src is untouched. */
int model_clone(const struct model *src, struct model **out, struct err *e);

/* One unique tensor of a model: a shared MLP and a tied matrix appear
 * once. */
struct model_param {
	char name[80]; /* HF name: "model.layers.3.self_attn.q_proj.weight";
			  a shared MLP is "model.mlp.gate_proj.weight" */
	float *w;      /* the tensor (m's pointer) */
	uint64_t n;    /* elements */
	int rows, cols; /* shape; cols 0 for a vector */
	bool norm;     /* an RMSNorm weight (no weight decay) */
};

/* The unique tensors of m in a fixed order: embed; per layer q, k, v, o,
 * attn_norm, mlp_norm, then gate, up, down when per layer; the shared
 * gate, up, down; final norm; lm_head unless tied. Writes up to cap
 * entries and returns how many there are (call with cap 0 to count). */
int model_params(const struct model *m, struct model_param *out, int cap);

void model_free(struct model *m); /* NULL is a no-op */

#endif
