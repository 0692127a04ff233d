/*
 * recipe — a pruning plan as JSON (punguza.json in an export, `punguza plan
 * --json`, `--recipe FILE`), so an export can be reproduced byte for byte.
 *
 *   {
 *     "format": "punguza-recipe", "version": 1,
 *     "vocab":  {"mode": "top_k", "keep": 8064, "min_count": 0,
 *                "merge_closure": false, "ids": [...], "kept": [...]},
 *     "width":  {"factor": 0.5, "hidden": 0, "intermediate": 0,
 *                "head_mode": "head_dim", "select": "recipe_random"},
 *     "layers": {"mode": "first", "n": 8, "list": [...]},
 *     "tie": "lm_head", "dtype": "F32", "seed": 1,
 *     "source": {"name": "...", "checksum": "sha256:..."},
 *     "counts": {"vocab_size": 8064, "hidden_size": 1024, ...,
 *                "tied": true, "params": 50480128},
 *     "heal":   {"steps": 600, "batch": 16, "ctx": 128, "lr": 0.001,
 *                "warmup": 30, "min_lr_ratio": 0.1, "beta1": 0.9,
 *                "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.01,
 *                "clip": 1, "temperature": 1, "kd_weight": 1,
 *                "seed": 1, "whole_text": false, "pool": 4096,
 *                "threads": 2,
 *                "data": [{"name": "train.txt", "bytes": 123,
 *                          "checksum": "fnv1a64:..."}]}
 *   }
 *
 * "formats" (["hf", "gguf"]) records what an export wrote, so the same
 * command writes the same files. "kept" is the vocabulary an export
 * actually kept (source ids,
 * ascending), written whenever the vocabulary was cut, so that
 * `punguza prune SRC --recipe R -o OUT` reproduces the export without the
 * corpus it was counted on (recipe_keep).
 *
 * Every knob is written; "ids" only in list mode, "list" only in list
 * mode, "counts" only when filled (by an export or an estimate), "heal"
 * only when the model was healed after pruning (prune/heal.h: every setting
 * that decides the healed weights, and a checksum of each data file; an
 * empty "data" list is data-free distillation). Old files have no "heal"
 * section and read as before, so the version stays 1. The seed
 * is a JSON number up to 2^53 and a decimal string above. Parsing checks
 * every key's type and range and names the key ("width.factor") in its
 * message; a missing section or key keeps the identity plan's value, and
 * unknown keys are ignored (forward compatible); a version above
 * RECIPE_VERSION is refused. A document without "version" whose "recipe"
 * member is an object (the output of `punguza plan --json`) is read from
 * that member.
 *
 * Ownership: a recipe owns its plan (recipe_free); recipe_to_json returns a
 * malloc'd string the caller frees with free().
 */
#ifndef PUNGUZA_RECIPE_H
#define PUNGUZA_RECIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "plan.h"

#define RECIPE_VERSION 1

struct recipe_counts {
	int vocab_size, hidden_size, intermediate_size;
	int n_heads, n_kv_heads, head_dim, n_layers;
	bool tied;
	uint64_t params; /* unique parameters, DESIGN §1.2 */
};

/* The heal settings that decide the healed weights (prune/heal.h says what
 * each means). Plain data. */
#define RECIPE_HEAL_MAX_DATA 16
struct recipe_heal_data {
	char name[256];	   /* the file's base name */
	char checksum[40]; /* "fnv1a64:<16 hex digits>" of its bytes */
	uint64_t bytes;
};
struct recipe_heal {
	uint64_t steps;	    /* optimizer steps = the schedule's horizon */
	int batch, ctx;	    /* sequences per step, tokens per sequence */
	int warmup;	    /* linear warm-up steps */
	double lr;	    /* peak learning rate */
	double min_lr_ratio; /* cosine floor, a fraction of lr */
	double beta1, beta2, eps, weight_decay;
	double clip;	    /* global gradient-norm clip (0 = off) */
	double temperature; /* distillation temperature */
	double kd_weight;   /* 1 = pure KL, 0 = pure cross-entropy */
	uint64_t seed;
	bool whole_text;    /* corpus files as one text each, not lines */
	int pool;	    /* data-free: distinct sampled sequences */
	int threads;	    /* BLAS threads the weights were made with */
	int n_data;	    /* 0: data-free distillation */
	struct recipe_heal_data data[RECIPE_HEAL_MAX_DATA];
};

struct recipe {
	struct prune_plan plan;
	char source_name[256];	  /* "" when unknown */
	char source_checksum[96]; /* "" when unknown, e.g. "sha256:<hex>" */
	bool have_counts;
	struct recipe_counts counts;
	unsigned formats; /* "formats": what the export wrote, EXPORT_HF |
			     EXPORT_GGUF (export.h); 0 when not recorded */
	int *kept;  /* (n_kept) "vocab.kept": source ids kept, ascending;
		       NULL when not recorded. Owned. */
	int n_kept;
	bool have_heal;
	struct recipe_heal heal;
};

struct vocab_keep;

/* The identity plan, no source, no counts. */
void recipe_init(struct recipe *r);
/* NULL is a no-op; resets to recipe_init. */
void recipe_free(struct recipe *r);

/* Fills counts from a pruned geometry (params via config_param_count). */
void recipe_set_counts(struct recipe *r, const struct config *pruned);

/* Records the kept vocabulary (copied; n = 0 clears). */
int recipe_set_kept(struct recipe *r, const int *ids, int n, struct err *e);

/* The recorded kept vocabulary as a keep set over a source of n_old
 * pieces, for vocab_rewrite / vocab_write_files / prune_apply (the
 * statistics a count would give are zero). ERR_INVALID when none is
 * recorded; ERR_FORMAT when an id is out of range, repeated or out of
 * order. The caller frees *out with vocab_keep_free. */
int recipe_keep(const struct recipe *r, int n_old, struct vocab_keep **out,
		struct err *e);

int recipe_to_json(const struct recipe *r, char **out, struct err *e);
int recipe_parse(const char *text, size_t len, const char *name,
		 struct recipe *out, struct err *e);
int recipe_load(const char *path, struct recipe *out, struct err *e);
/* Writes the JSON atomically. */
int recipe_save(const struct recipe *r, const char *path, struct err *e);

/* The plan as `punguza plan`/`punguza prune` knob flags ("--vocab 8064
 * --width 0.5 --tie lm_head"), only the knobs that differ from the
 * identity plan, so the command line a user sees reproduces the plan.
 * ERR_INVALID when cap is too small. An explicit vocabulary list has no
 * flag: it is written as "--recipe FILE" territory and refused here with
 * ERR_UNSUPPORTED. */
int recipe_plan_args(const struct prune_plan *p, char *buf, size_t cap,
		     struct err *e);

#endif
