/*
 * select — what a pruning keeps: from the snapped plan, the source's
 * weights and, for activation selection and layer ranking, calibration
 * token ids (calib.h), every kept index set, ascending, in a struct
 * prune_index. build.h then gathers them into the new model; apply.h does
 * both.
 *
 * Index sets (DESIGN §2, "consistent"):
 *   resid   ONE set of d' residual-stream dims, used by the embedding and
 *           lm_head (columns), every layer's q/k/v and gate/up (input
 *           columns), o and down (output rows), every norm and the final
 *           norm. So an identity selection is the identity, and a model
 *           whose dropped dims are zero keeps its residual stream exactly.
 *   qk      (head_dim mode) ONE set of hd' dims used by every q and k head
 *           of every layer, chosen by RoPE, not by the selection method:
 *           HF's rotate_half pairs dim i with i + hd/2, so pairs (i, i +
 *           hd/2) are kept together, and for each new pair j (new
 *           inv_freq theta^(-2j/hd')) the unused old pair i with the
 *           closest frequency theta^(-2i/hd) is taken, i.e. i nearest to
 *           j*hd/hd'. For hd' = hd/k (k integer) this is i = k*j: the
 *           frequencies match exactly (in f32 too), so RoPE is unchanged
 *           on the kept pairs. Other ratios are the nearest match.
 *   vo      (head_dim mode) per layer and kept kv head, hd' dims used by
 *           the v rows of that kv head and the o columns of every query
 *           head that reads it (GQA: the g = heads/kv_heads query heads of
 *           a group). Chosen by the selection method (no RoPE there).
 *   heads   (heads mode) per layer, the kept kv heads; each keeps its whole
 *           group of g query heads (so GQA stays consistent) and head_dim.
 *   mlp     per MLP (one for a shared MLP — it stays shared: one tensor
 *           set in the pruned model —, else one per layer) f' channels:
 *           gate/up rows, down columns.
 *   layers  the kept source layers, in original order.
 *   vocab   new id -> old id (NULL when the vocabulary is unchanged).
 *
 * Selection methods (plan.select):
 *   RANDOM     seeded (plan.seed; xorshift64*, one stream per index set):
 *              deterministic for a given seed and source geometry.
 *   MAGNITUDE  L2 norms of the weights touching an index, over the KEPT
 *              layers: residual dim i = sum of the column norms of every
 *              matrix reading it (q, k, v, gate, up; shared MLP once,
 *              lm_head) + row norms of those writing it (o, down) + the
 *              embedding column's norm; MLP channel = ||gate row|| x ||up
 *              row|| x ||down column||; v/o dim = ||v row|| x sum of the
 *              ||o column||s reading it; kv head = sqrt of the summed
 *              squared norms of its q, k, v rows and o columns.
 *   ACTIVATION Wanda-style: the magnitude score x mean |activation| on the
 *              calibration text (residual dim: the layer inputs' |x_i|
 *              over tokens and kept layers, each token divided by its RMS;
 *              MLP channel: |silu(gate) * up|; v/o dims and heads: the
 *              attention output before o). Read from the forward pass's
 *              layer hook (and its att_out / hb scratch, which hold the
 *              layer just run when the hook is called).
 *   RECIPE_RANDOM  the published recipe (DESIGN §2): no index sets; every
 *              matrix's rows and columns each pick their own random
 *              subset (and each norm its own), so the residual stream is
 *              scrambled — effectively a fresh random init. Only layers,
 *              vocabulary and tying are consistent. Built for comparison.
 * Ties in scores keep the lower index; kept sets are sorted ascending.
 *
 * Layers: FIRST n, an explicit LIST, or RANK: each layer is scored by 1 −
 * cos(input, output) of its hidden states, averaged over calibration
 * tokens (the source model, every layer run); the n highest-scoring are
 * kept, in original order (scores in the report).
 *
 * Ownership: a struct prune_index owns its arrays (prune_index_free);
 * struct apply_report is plain data; apply_inputs are borrowed.
 */
#ifndef PUNGUZA_SELECT_H
#define PUNGUZA_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "model.h"
#include "plan.h"
#include "progress.h"

struct tokenizer;
struct vocab_keep;

/* What apply needs besides the model and plan (all may be absent). */
struct apply_inputs {
	const int *calib; /* (n_calib) token ids of calibration text, for
			     activation selection and layer ranking */
	size_t n_calib;
	int calib_ctx; /* tokens per calibration window (<= 0: 256, capped
			  at max_position_embeddings) */
	/* Vocabulary (any vocabulary plan needs one of these; a LIST plan
	 * without closure may use plan.vocab_ids instead):
	 *   keep        vocab.h's keep set (merge-closed when the plan says
	 *               so); with a tokenizer, prune_apply also rewrites it
	 *               (vocab_rewrite) into *out_tok;
	 *   vocab_keep  or just the kept old ids (n_vocab_keep, any order). */
	const struct vocab_keep *keep;
	const int *vocab_keep;
	int n_vocab_keep;
	/* The caller's rewritten tokenizer for that keep set, when it made
	 * one (borrowed; prune_apply then does not rewrite: *out_tok NULL). */
	const struct tokenizer *vocab_tok;
};

struct prune_index {
	int d, d_new;
	int *resid; /* (d_new) */
	int hd, hd_new;
	int *qk; /* (hd_new) q/k dims of every head */
	int L_src, L_new;
	int *layers; /* (L_new) kept source layers, ascending */
	int kv, kv_new, group; /* group = query heads per kv head */
	int *kv_heads;	       /* (L_src, kv_new) kept kv heads per layer */
	int *vo;	       /* (L_src, kv_new, hd_new) v/o dims per layer,
				  per kept kv head */
	int f, f_new, n_mlp;   /* n_mlp = 1 (shared) or L_src */
	int *mlp;	       /* (n_mlp, f_new) */
	int V_new;
	int *vocab;	      /* (V_new) new id -> old id; NULL: unchanged */
	double *layer_score;  /* (L_src) 1 - cos when ranked, else NULL */
	bool recipe_random;   /* no consistent sets: prune_build draws */
	uint64_t seed;
	struct config cfg;    /* the pruned geometry (json_text NULL) */
	enum plan_tie tie;    /* where a tied matrix comes from */
};

void prune_index_free(struct prune_index *ix); /* NULL is a no-op */

struct apply_report {
	struct config cfg; /* the pruned geometry (json_text NULL) */
	int n_layers_kept;
	int layers[64];	      /* the first (up to 64) kept source layers */
	bool ranked;	      /* layers ranked by influence */
	double layer_score[64]; /* source layer -> 1 - cos, when ranked */
	int n_layer_scores;
	uint64_t owned_bytes;	 /* f32 bytes the pruned model allocated */
	uint64_t borrowed_bytes; /* f32 bytes borrowed from the source */
	char select_desc[96];	 /* "random (seed 1)", "magnitude", ... */
	struct plan_notes notes; /* snapping and apply notes */
};

/* Snaps a copy of plan to src, computes every index set. ACTIVATION and
 * RANK need in->calib (ERR_INVALID otherwise); a vocabulary plan needs
 * in->keep or in->vocab_keep (or a LIST plan's ids without closure). The
 * kept set's size decides V' (a merge-closed set may differ from K). */
int prune_select(const struct model *src, const struct prune_plan *plan,
		 const struct apply_inputs *in, struct prune_index *out,
		 struct apply_report *report, const struct progress *prog,
		 struct err *e);

#endif
