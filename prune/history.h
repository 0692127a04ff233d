/*
 * history — every plan tried on a model, with what was measured of it, kept
 * between runs so plans can be compared by *measured* quality (the
 * explorer's Plans screen, `punguza plans`).
 *
 * An entry is one plan (its recipe: the knobs, no source) and the figures
 * that exist for it: parameters (always), held-out bits per byte of the
 * source and of the cut, KL/top-1 of the cut against the source (when the
 * vocabulary is unchanged), the same after healing with the heal budget
 * spent, and a measured leaderboard score. Figures that were never
 * measured are absent (their have_ flag false), never zero.
 *
 * Two entries are the same plan when their recipe JSON (knobs only, no
 * source, no counts) is the same text; recording a plan again updates the
 * figures it brings and keeps the others (a later heal adds to an earlier
 * cut measurement).
 *
 * Storage: plans.json in punguza's cache directory (measured.h):
 *   {"<realpath of the model dir>": [{"plan": {recipe}, "params": N,
 *     "bpb_src": .., "bpb_cut": .., "kl_cut": .., "top1_cut": ..,
 *     "bpb_healed": .., "kl_healed": .., "top1_healed": ..,
 *     "heal_tokens": .., "heal_seconds": .., "lb": ..}, ...]}
 * written atomically; malformed entries are skipped on load (one bad
 * record never hides the others), a malformed file is an error that names
 * it. A model directory is never written.
 *
 * Ownership: a history owns its entries and their recipes (history_free).
 */
#ifndef PUNGUZA_HISTORY_H
#define PUNGUZA_HISTORY_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "recipe.h"

struct history_entry {
	struct recipe recipe; /* the plan (owned) */
	uint64_t params;      /* unique parameters, DESIGN §1.2 */
	bool have_cut;	      /* bits per byte of source and cut measured */
	double bpb_src, bpb_cut;
	bool have_cut_ref; /* KL/top-1 of the cut vs the source */
	double kl_cut, top1_cut;
	bool have_healed;
	double bpb_healed;
	bool have_healed_ref;
	double kl_healed, top1_healed;
	uint64_t heal_tokens;
	double heal_seconds;
	bool have_lb; /* a measured LB (a) for this plan's model */
	double lb;
};

struct history {
	char model_key[PATH_MAX]; /* realpath of the model directory */
	struct history_entry *v;
	int n, cap;
};

enum history_sort {
	HISTORY_BY_PARAMS = 0,
	HISTORY_BY_BPB,	  /* best measured bpb: healed, else cut */
	HISTORY_BY_ZINDI, /* measured zindi; entries without an LB last */
};

/* Loads the plans tried on model_dir (an empty history when none). */
int history_load(const char *model_dir, struct history *out, struct err *e);

/* Adds src's plan or updates the entry of the same plan with every figure
 * src has (its have_ flags); *index (may be NULL) receives the entry's
 * position. The recipe is copied. */
int history_record(struct history *h, const struct history_entry *src,
		   int *index, struct err *e);

/* Writes the history back (the whole cache file, atomically, other
 * models' records kept). */
int history_save(const struct history *h, struct err *e);

/* history_load + history_record + history_save: records x's figures for
 * its plan on model_dir in one call (what a command that just measured a
 * plan does). */
int history_note(const char *model_dir, const struct history_entry *x,
		 struct err *e);

/* The best measured bits per byte of an entry: healed if measured, else
 * the cut's; NAN when neither was. */
double history_best_bpb(const struct history_entry *x);

/* The measured zindi (DESIGN §1.3) of an entry; NAN without an LB. */
double history_zindi(const struct history_entry *x);

/* Sorts the entries (ties by parameters, then by recipe text, so the order
 * is total and stable across runs). Entries without the figure sort last. */
void history_sort(struct history *h, enum history_sort by);

/* front[i] = true when no other measured entry has both fewer-or-equal
 * parameters and lower-or-equal best bpb, one of them strictly: the Pareto
 * front of what was tried. Entries without a bpb are never on it. */
void history_pareto(const struct history *h, bool *front);

/* Removes entry i (0 <= i < n; otherwise nothing happens). */
void history_remove(struct history *h, int i);

void history_free(struct history *h); /* NULL is a no-op; h reusable */

#endif
