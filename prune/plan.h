/*
 * plan — the four pruning knobs as pure data, their validation, and the
 * instant estimate of what a plan costs (DESIGN §1.2, §1.3, §2).
 *
 * A `struct prune_plan` says what to keep; it never touches weights. The
 * estimate turns (source geometry, plan) into the pruned geometry and its
 * parameter breakdown via config_params (the one formula of DESIGN §1.2),
 * the bytes per dtype and the projected Zindi score.
 *
 * Knob values are checked in two stages:
 *   plan_validate  rejects values no snapping can mend (negative sizes,
 *                  NaN factors, layer indices out of range) with ERR_INVALID;
 *   plan_snap      moves every other knob to the nearest valid value and
 *                  says what it did in human-readable notes ("width 0.3 ->
 *                  d 640: d must be a multiple of 64 (32 heads x even
 *                  head_dim)").
 * plan_estimate does both on a private copy, so any plan that validates can
 * be estimated; the snapped plan is returned so callers can adopt it.
 *
 * Vocabulary floor: the InkubaLM family's tokenizers use byte fallback, so a
 * kept vocabulary needs its 3 specials and 256 byte pieces: K >= 259
 * (PLAN_MIN_VOCAB). A source with fewer than 259 pieces cannot be byte
 * fallback; its floor is then 3 (the specials) or V, whichever is smaller.
 *
 * Ownership: a plan owns `vocab_ids` and `layer_list` (malloc'd); free them
 * with prune_plan_free, copy with prune_plan_copy. Everything else is plain
 * data; a plan from prune_plan_init is the identity (keeps everything).
 */
#ifndef PUNGUZA_PLAN_H
#define PUNGUZA_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "dtype.h"
#include "err.h"
#include "score.h" /* score_zindi, score_breakeven_lb, SCORE_PARAM_SIZE */

#define PLAN_MIN_VOCAB 259 /* <unk> <s> </s> + 256 byte pieces */

enum plan_vocab_mode {
	PLAN_VOCAB_NONE = 0, /* keep every piece */
	PLAN_VOCAB_TOP_K, /* keep the K most frequent (plus specials/bytes) */
	PLAN_VOCAB_MIN_COUNT, /* keep pieces counted >= C (count decides V') */
	PLAN_VOCAB_LIST,      /* keep exactly vocab_ids (plus closure) */
};

enum plan_head_mode {
	PLAN_HEADS_HEADDIM = 0, /* keep every head, shrink head_dim */
	PLAN_HEADS_DROP,	/* drop whole heads, keep head_dim */
};

enum plan_select {
	PLAN_SELECT_RANDOM = 0,	   /* one seeded random index set per space */
	PLAN_SELECT_MAGNITUDE,	   /* norms of the weights touching an index */
	PLAN_SELECT_ACTIVATION,	   /* Wanda-style, on calibration text */
	PLAN_SELECT_RECIPE_RANDOM, /* the published recipe: every row and
				      column its own random subset */
};

enum plan_layer_mode {
	PLAN_LAYERS_FIRST = 0, /* the first n_layers (0 = all) */
	PLAN_LAYERS_LIST,      /* layer_list, ascending, unique */
	PLAN_LAYERS_RANK,      /* the n_layers most influential (calibration) */
};

enum plan_tie {
	PLAN_TIE_OFF = 0, /* leave as the source has it */
	PLAN_TIE_LM_HEAD, /* one matrix, taken from lm_head (the recipe) */
	PLAN_TIE_EMBED,	  /* one matrix, taken from the embedding */
	PLAN_TIE_MEAN,	  /* one matrix, the mean of the two */
};

struct prune_plan {
	/* vocabulary */
	enum plan_vocab_mode vocab_mode;
	int vocab_keep;	     /* K for TOP_K */
	int vocab_min_count; /* C for MIN_COUNT */
	int *vocab_ids;	     /* (n_vocab_ids) for LIST, owned */
	int n_vocab_ids;
	bool merge_closure; /* kept pieces keep a producing merge's parents */

	/* width */
	double width_factor; /* in (0, 1]; 1 = keep width */
	int hidden;	     /* explicit d' (> 0 wins over width_factor) */
	int intermediate;    /* explicit f' (> 0), 0 = f scaled by d'/d */
	enum plan_head_mode head_mode;
	enum plan_select select;

	/* layers */
	enum plan_layer_mode layer_mode;
	int n_layers;	 /* FIRST / RANK; 0 with FIRST = all */
	int *layer_list; /* (n_layer_list) for LIST, owned */
	int n_layer_list;

	enum plan_tie tie;
	enum dtype export_dtype;
	uint64_t seed;
};

/* Up to PLAN_MAX_NOTES notes from snapping (further ones are counted in
 * n_dropped). */
#define PLAN_MAX_NOTES 16
#define PLAN_NOTE_MAX 192
struct plan_notes {
	int n;
	int n_dropped;
	char text[PLAN_MAX_NOTES][PLAN_NOTE_MAX];
};

struct plan_estimate {
	struct config cfg; /* pruned geometry (json_text NULL: nothing owned) */
	struct param_breakdown src, dst;
	bool vocab_known; /* false: MIN_COUNT without a kept count (V' = V
			     shown as an upper bound), or LIST with closure
			     (V' is a lower bound) */
	uint64_t bytes_f32, bytes_bf16, bytes_f16;
	struct plan_notes notes;
};

/* The identity plan: keeps everything, closure on, random selection seeded
 * with 1, f32 export. */
void prune_plan_init(struct prune_plan *p);
/* Frees the owned lists and resets to the identity plan. NULL is a no-op. */
void prune_plan_free(struct prune_plan *p);
/* Deep copy into dst (dst's old contents are not freed). */
int prune_plan_copy(struct prune_plan *dst, const struct prune_plan *src,
		    struct err *e);

/* Replaces the owned lists (copies n ints; n = 0 clears). */
int plan_set_vocab_ids(struct prune_plan *p, const int *ids, int n,
		       struct err *e);
int plan_set_layer_list(struct prune_plan *p, const int *layers, int n,
			struct err *e);

/* ERR_INVALID for values that cannot be snapped: negative K/C/d/f/n, a
 * width factor <= 0 or NaN, vocab ids or layer indices out of range, an
 * empty list, unknown enum values. `src` must itself be valid. */
int plan_validate(const struct prune_plan *p, const struct config *src,
		  struct err *e);

/* Validates, then moves every knob to its nearest valid value, appending a
 * note per change to `notes` (may be NULL). */
int plan_snap(struct prune_plan *p, const struct config *src,
	      struct plan_notes *notes, struct err *e);

/* The pruned geometry of an already snapped plan. `vocab_count` is the
 * number of kept pieces a MIN_COUNT plan keeps (from counting), <= 0 when
 * unknown. */
int plan_apply_config(const struct prune_plan *p, const struct config *src,
		      long vocab_count, struct config *out, struct err *e);

/* Snaps a copy of `p`, applies it, counts parameters. `snapped` (may be
 * NULL) receives the snapped plan, owned by the caller. */
int plan_estimate(const struct prune_plan *p, const struct config *src,
		  long vocab_count, struct plan_estimate *out,
		  struct prune_plan *snapped, struct err *e);

/* part / whole * 100, 0 when whole is 0. */
double plan_pct(uint64_t part, uint64_t whole);

/* Knob stepping for the TUI: the next (dir > 0) or previous (dir < 0) valid
 * value after `cur`; `cur` itself when there is none in that direction. */
int plan_vocab_step(const struct config *src, int cur, int dir);
int plan_hidden_step(const struct config *src, enum plan_head_mode mode,
		     int cur, int dir);
int plan_inter_step(const struct config *src, int cur, int dir);
int plan_layers_step(const struct config *src, int cur, int dir);

/* The resolved hidden size d' of a plan (snapped to the nearest valid d'
 * for its head mode) without notes. */
int plan_resolve_hidden(const struct prune_plan *p, const struct config *src);

/* Presets. Plan presets: "identity", "published-50m", "published-100m",
 * "published-40m" (the published recipe's knobs: TOP_K, width 1/2 in
 * head_dim mode, recipe-random selection, first N layers, tied from
 * lm_head, no closure). Geometry presets: "inkubalm-0.4b" (config_inkubalm).
 * Return ERR_NOTFOUND with the list of names when unknown. */
int plan_preset(const char *name, struct prune_plan *out, struct err *e);
int plan_geometry_preset(const char *name, struct config *out, struct err *e);
/* NULL-terminated lists of the names, for help texts. */
extern const char *const plan_preset_names[];
extern const char *const plan_geometry_names[];

/* Enum spellings (used by the recipe JSON and the CLI); parse returns -1
 * when unknown. */
const char *plan_vocab_mode_name(enum plan_vocab_mode m);
const char *plan_head_mode_name(enum plan_head_mode m);
const char *plan_select_name(enum plan_select s);
const char *plan_layer_mode_name(enum plan_layer_mode m);
const char *plan_tie_name(enum plan_tie t);
int plan_vocab_mode_parse(const char *s);
int plan_head_mode_parse(const char *s);
int plan_select_parse(const char *s);
int plan_layer_mode_parse(const char *s);
int plan_tie_parse(const char *s);

#endif
