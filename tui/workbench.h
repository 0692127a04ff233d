/*
 * workbench — what the explorer (and the CLI) holds while a user works:
 * the source (a model directory, or a built-in geometry with no weights),
 * its tokenizer, the plan as the user has set it, the instant estimate of
 * that plan, the score assumptions (assumed or measured LB, the reference
 * zindi to beat), and the results of the long operations: the pruned copy,
 * generations, quality measurements.
 *
 * The TUI draws a workbench and turns keys into calls on it; nothing it
 * shows is computed anywhere else, so `punguza plan` prints the same
 * figures for the same knobs.
 *
 * Long operations run on background threads (job.h). One "task" at a time
 * (prepare = load weights + count vocabulary + calibrate + apply, quality,
 * export) plus one generation per side. While a task runs, its thread only
 * reads the workbench's source model, tokenizer and inputs and writes into
 * a private result; wb_poll() — called by the UI thread at every tick —
 * adopts finished results. So the UI thread may read every field at any
 * time, and must not change the source (open/close) while a task runs.
 *
 * Ownership: the workbench owns everything it points to; wb_free() cancels
 * and joins running work, then frees it all.
 *
 * The implementation is split by concern over tui/workbench*.c (the plan
 * and knobs in workbench.c; opening, the job machinery and each job in
 * its own file); tui/workbench_impl.h, private to them, lists the files.
 */
#ifndef PUNGUZA_WORKBENCH_H
#define PUNGUZA_WORKBENCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "eval.h"
#include "generate.h"
#include "heal.h"
#include "history.h"
#include "job.h"
#include "plan.h"
#include "progress.h"

struct model;
struct tokenizer;
struct vocab_counts;
struct vocab_keep;

/* A published result of the recipe (DESIGN §1.3), for the chart. */
struct published_result {
	const char *name;   /* "50M" */
	const char *preset; /* plan preset that rebuilds its geometry */
	uint64_t params;
	double lb;          /* private leaderboard */
	double zindi;
};

extern const struct published_result wb_published[];
extern const int wb_n_published;
/* Unmodified InkubaLM's published zindi (DESIGN §1.3). */
#define WB_BASELINE_ZINDI 0.0758

enum wb_side { WB_ORIGINAL = 0, WB_PRUNED = 1 };

enum wb_task {
	WB_TASK_NONE = 0,
	WB_TASK_PREPARE, /* load weights, count, calibrate, apply the plan */
	WB_TASK_QUALITY, /* bits per byte etc. of original and pruned */
	WB_TASK_COUNT,   /* count the vocabulary corpus */
	WB_TASK_EXPORT,  /* write the applied plan's model */
	WB_TASK_HEAL,    /* heal the applied plan's cut (heal.h) */
};

/* What the last job (task) did, for a status line that goes running ->
 * done / failed / cancelled, with its elapsed time. */
enum wb_job_state {
	WB_JOB_NONE = 0, /* nothing has run yet */
	WB_JOB_RUNNING,
	WB_JOB_DONE,
	WB_JOB_FAILED,
	WB_JOB_CANCELLED,
};

struct wb_job_info {
	enum wb_task kind;       /* the running or last task */
	enum wb_job_state state;
	double elapsed;          /* seconds, running or final */
	double eta;              /* seconds left (estimated), < 0 unknown */
	double done;             /* fraction, while running */
	char stage[64];          /* while running */
	const char *error;       /* FAILED: the message (wb->task_error) */
};

/* An export folder, as wb_export_inspect sees it before anything is
 * written. Only an empty or missing folder is written without asking, and
 * only a previous punguza export (a punguza.json and nothing but files an
 * export writes) may be replaced, after the user confirms. */
enum wb_target_kind {
	WB_TARGET_NEW = 0,   /* does not exist yet: created */
	WB_TARGET_EMPTY,     /* an empty folder: filled */
	WB_TARGET_EXPORT,    /* a previous export: replaced once confirmed */
	WB_TARGET_FOREIGN,   /* holds other things: refused */
	WB_TARGET_REFUSED,   /* a file, the source, a missing parent, ...:
				refused (why says it) */
};

#define WB_TARGET_LIST 12
struct wb_export_target {
	enum wb_target_kind kind;
	int n_entries;                   /* entries in the folder */
	char entries[WB_TARGET_LIST][64]; /* the first, sorted: for EXPORT
					    what replacing deletes, for
					    FOREIGN what is not an export's */
	int n_listed;
	char why[ERR_MSG_MAX];           /* FOREIGN/REFUSED: the message */
	bool create_parent;              /* the default folder's missing
					    parent is made by the export */
};

/* What the last export wrote. */
struct wb_export_result {
	bool done;
	char out_dir[1024];
	int n_files;
	char files[16][256];    /* names inside out_dir */
	uint64_t sizes[16];     /* bytes */
	char *recipe_json;      /* punguza.json's text */
	char args[1024];        /* the plan as knob flags ("" for a list
				   vocabulary: --recipe reproduces it) */
};

/* One side of the Run screen. Guarded by its lock: read it through
 * wb_gen_view(). */
struct wb_gen {
	struct job job;
	pthread_mutex_t lock;
	char *text; /* generated so far, NUL-terminated */
	size_t len, cap;
	int tokens;
	double t_start, t_first; /* monotonic seconds */
	struct gen_stats stats;  /* final, when done */
	const struct model *model;
	const struct tokenizer *tok;
	char *prompt;
	struct gen_opts opts;
	bool has_run;
	bool user_stopped; /* wb_gen_stop ended it */
	char error[ERR_MSG_MAX];
	char *view; /* the UI thread's copy of text (wb_gen_view) */
	size_t view_cap;
};

struct wb_gen_view {
	const char *text; /* valid until the next wb_gen_view/wb_poll */
	int tokens;
	double seconds;   /* since the first token */
	double tok_per_s;
	bool running, done, has_run;
	bool stopped_eos;     /* ended at </s> */
	bool stopped_length;  /* ended at the length limit */
	bool stopped_user;    /* stopped (wb_gen_stop) before either */
	int max_new;          /* the length limit it ran with */
	const char *error;
};

/* Quality of one plan, remembered so moving a knob back shows it at once. */
struct wb_quality {
	char *plan_key;          /* the plan as recipe JSON */
	struct eval_result orig; /* over the held-out text */
	struct eval_result pruned;
	bool has_kl;             /* vocabulary unchanged: KL/top-1 valid */
	double words;            /* whitespace words in the held-out text */
	int n_layers;
	double layer_score[64];  /* source layer -> 1 - cos(in, out) */
	bool has_layer_scores;
	bool healed;             /* the pruned side was the healed model */
};

/* The Heal screen's view (wb_heal_view): the monitor's snapshot and what
 * the workbench knows around it. */
struct wb_heal_view {
	bool running;        /* a heal task runs */
	bool healed;         /* the pruned side is the healed model */
	bool resumable;      /* dir holds an unfinished checkpoint */
	bool finished;       /* dir holds a finished heal (done true) */
	char dir[1024];      /* where this plan's heal writes */
	uint64_t steps;      /* the budget: steps, or */
	double minutes;      /* minutes (one of them > 0) */
	struct heal_snapshot snap; /* the running or last heal's figures */
	bool have_orig;      /* the original's held-out bits per byte */
	double bpb_orig;     /* (a quality measurement, or the heal's) */
};

/* The Vocabulary screen's figures for one K, computed on the UI thread in
 * milliseconds (the counts are made once, by the count task). */
struct wb_vocab_preview {
	int k;                      /* kept pieces asked for */
	bool closure;
	struct vocab_keep *keep;    /* coverage, unreachable, margin */
	struct tokenizer *tok;      /* the rewritten tokenizer */
	double tpw_before, tpw_after; /* tokens per word over the corpus
					 (its first WB_TPW_BYTES bytes) */
	uint64_t tpw_bytes;
	int sample;                 /* index of the sample line */
	char *sample_text;
	char *split_before;         /* the sample's pieces, '|' between */
	char *split_after;
	int n_before, n_after;      /* its token counts */
};
#define WB_TPW_BYTES (256u << 10)

struct workbench {
	char *dir;               /* model directory; NULL for a preset */
	char *name;              /* shown in the title */
	struct config src;       /* source geometry */
	struct tokenizer *tok;   /* NULL when the source has none */
	char tok_note[ERR_MSG_MAX]; /* why tok is NULL, when it is */
	struct model *model;     /* NULL until loaded; NULL in plan-only */
	bool plan_only;          /* no weights: run/quality/export disabled */
	char plan_only_why[160];

	struct prune_plan plan;  /* the snapped plan the user sees */
	struct plan_estimate est;/* its estimate (recomputed by wb_set_plan) */
	long vocab_count;        /* kept pieces for MIN_COUNT, <= 0 unknown */

	double lb;               /* LB assumed for the projection */
	bool lb_measured;        /* lb came from a task run on this model
				    (measured.h; LB definition (a)) */
	int measured_rows;       /* rows that run scored */
	double ref_zindi;        /* break-even reference (default: 40M) */

	/* inputs for the data-driven steps (set by the front end) */
	char **corpus;           /* counting and calibration text files */
	int n_corpus;
	char *heldout;           /* evaluation text file */
	int eval_ctx, eval_stride;

	/* the pruned copy of `applied_key`'s plan */
	struct model *pruned;
	struct tokenizer *pruned_tok; /* owned when vocab pruned, else NULL */
	char *applied_key;
	struct vocab_counts *counts;  /* over the corpus, source tokenizer */
	struct vocab_keep *keep;      /* for the applied plan, when vocab */
	char apply_desc[160];

	/* background work */
	struct job task;
	enum wb_task task_kind;
	void *task_result;
	char task_error[ERR_MSG_MAX]; /* last task's failure, "" when none */
	enum wb_task last_kind;       /* the running or last task */
	enum wb_job_state last_state;
	double t_task_start, t_task_end; /* monotonic seconds */
	struct wb_gen gen[2];
	struct wb_quality *quality;   /* (n_quality) remembered results */
	int n_quality;
	struct wb_export_result exported;
	struct wb_vocab_preview *preview;
	double tpw_source;            /* tokens per word of the corpus under
					 the source tokenizer (0: not yet) */
	char **samples;               /* sample lines from the corpus */
	int n_samples;

	/* healing (WB_TASK_HEAL): the pruned side becomes the healed model
	 * when a heal finishes; `cut` then keeps the unhealed copy */
	struct heal_monitor heal_mon;
	uint64_t heal_steps;          /* budget: steps (default 20), or */
	double heal_minutes;          /* minutes (> 0 wins) */
	struct model *cut;            /* the unhealed cut while healed */
	char *healed_key;             /* applied_key of the healed model */
	char heal_dir[1024];          /* the running or last heal's OUT */
	uint64_t healed_tokens;       /* the adopted heal's tokens, seconds */
	double healed_seconds;
	bool have_heal_orig;          /* the source's held-out bits per */
	double heal_orig_bpb;         /* byte, measured by the last heal */
	struct history *history;      /* the plans tried (wb_history) */
	int history_gen;              /* bumped when a task recorded one */
	int history_seen;             /* the generation loaded */
	bool *history_front;          /* (history->n) */
	bool history_failed;          /* the last history_note failed */
	char history_error[ERR_MSG_MAX];
};

/* Opens a model directory: config.json, the tokenizer, and the weights'
 * headers (checked now, so a damaged file is named at once; the tensors
 * themselves load later, in the background). A directory without weights
 * opens in plan-only mode. */
int wb_open_dir(const char *dir, struct workbench **out, struct err *e);

/* Opens a built-in geometry with no weights ("inkubalm-0.4b");
 * tokenizer_path (may be NULL) adds a tokenizer for the vocabulary screen. */
int wb_open_preset(const char *preset, const char *tokenizer_path,
		   struct workbench **out, struct err *e);

/* Sets the counting/calibration corpus and the held-out text (copied). */
int wb_set_inputs(struct workbench *wb, const char *const *corpus, int n,
		  const char *heldout, struct err *e);

/* Adopts p (copied, then snapped); recomputes the estimate. The snap notes
 * are in wb->est.notes. On error the previous plan stays. */
int wb_set_plan(struct workbench *wb, const struct prune_plan *p,
		struct err *e);

/* Replaces the plan with a named preset (plan_preset names). */
int wb_apply_preset(struct workbench *wb, const char *name, struct err *e);

/* The knobs a user can type a value into or reset (the Knobs screen's
 * first rows). */
enum wb_knob {
	WB_KNOB_VOCAB = 0, /* kept pieces K ("all" or >= V: keep them all) */
	WB_KNOB_HIDDEN,    /* width d */
	WB_KNOB_INTER,     /* MLP width f ("" / "auto" / 0: follows d) */
	WB_KNOB_LAYERS,    /* layers kept */
};

/* Sets a knob from typed text ("8064", "8,064", "all", "auto"); the plan
 * is snapped as usual (wb->est.notes say how). ERR_INVALID names the
 * knob and the text when it is not a number; the plan stays. */
int wb_set_knob_text(struct workbench *wb, enum wb_knob k, const char *text,
		     struct err *e);

/* Puts one knob back to the identity plan's value (MLP width: follows d
 * again; layers: all, first); the others stay. */
int wb_reset_knob(struct workbench *wb, enum wb_knob k, struct err *e);

/* The next vocabulary size from cur in direction dir: the published
 * landmarks (plan_vocab_step) and a grid about 1/16 of cur (so steps are
 * finer at small K: 8064 -> 8000 -> 7500 ...), within [floor, V]. */
int wb_vocab_step(const struct workbench *wb, int cur, int dir);

/* Layer scores measured on this source (any plan's quality run; they
 * depend only on the source and the calibration text), or NULL. */
const struct wb_quality *wb_layer_scores(const struct workbench *wb);

/* Sets the Layers knob to keep the plan's number of layers, choosing the
 * most influential ones by those scores (a layer list, in source order).
 * ERR_INVALID before any measurement. */
int wb_apply_layer_ranking(struct workbench *wb, struct err *e);

/* Saves the plan as a recipe (punguza.json format) / loads one and makes
 * it the plan. */
int wb_save_recipe(const struct workbench *wb, const char *path,
		   struct err *e);
int wb_load_recipe(struct workbench *wb, const char *path, struct err *e);

/* The projection for the current plan. */
double wb_zindi(const struct workbench *wb);
double wb_breakeven_lb(const struct workbench *wb);
/* Zindi of the unpruned source at the current LB. */
double wb_source_zindi(const struct workbench *wb);

/* Sets the assumed LB (clamped to [0, 1]); clears lb_measured. */
void wb_set_lb(struct workbench *wb, double lb);

/* The current plan as recipe JSON (malloc'd), the key of caches. */
char *wb_plan_key(const struct workbench *wb);

/* --- long operations ------------------------------------------------- */

/* Loads the weights now, on the calling thread (CLI use). */
int wb_load_model(struct workbench *wb, const struct progress *prog,
		  struct err *e);

/* True when the pruned copy matches the current plan. */
bool wb_applied(const struct workbench *wb);

/* Starts the prepare task (load, count, calibrate, apply) unless the
 * pruned copy is current. ERR_INVALID in plan-only mode or when another
 * task runs. */
int wb_start_prepare(struct workbench *wb, struct err *e);

/* Starts measuring quality of the applied plan (prepare first). */
int wb_start_quality(struct workbench *wb, struct err *e);

/* Starts counting the corpus (the Vocabulary screen's figures). */
int wb_start_count(struct workbench *wb, struct err *e);

/* Exports the applied plan's model into out_dir (formats: EXPORT_HF |
 * EXPORT_GGUF of export.h) in the plan's dtype. What out_dir holds decides
 * (wb_export_inspect): a missing or empty folder is written; a previous
 * punguza export is replaced only when `replace` is set (the user
 * confirmed, naming what is deleted), ERR_INVALID otherwise; anything else
 * is refused with the inspection's message. Starting clears the previous
 * result; the new one lands in wb->exported. */
int wb_start_export(struct workbench *wb, const char *out_dir,
		    unsigned formats, bool replace, struct err *e);

/* Looks at out_dir before an export (reads only). Errors only for an
 * unreadable folder; every refusal is a kind with a message. */
int wb_export_inspect(const struct workbench *wb, const char *out_dir,
		      struct wb_export_target *t, struct err *e);

/* The default export folder: $HOME/punguza-exports/<model>-<size> (size
 * from the plan's parameter count, "1.2M"); ./punguza-exports/... when
 * HOME is unset. Never inside the source directory. An export into it
 * creates punguza-exports when missing. */
void wb_default_export_dir(const struct workbench *wb, char *buf, size_t cap);

/* The running or last task, for the status line. */
void wb_job_info(struct workbench *wb, struct wb_job_info *out);
/* "apply", "measure", "count", "export". */
const char *wb_task_name(enum wb_task kind);

/* The task's progress: kind (NONE when idle), fraction, stage. */
enum wb_task wb_task_status(struct workbench *wb, double *done, char *stage,
			    int cap);
void wb_cancel_task(struct workbench *wb);

/* Adopts finished work; returns true when something changed (redraw). */
bool wb_poll(struct workbench *wb);

/* The remembered quality of the current plan, or NULL. */
const struct wb_quality *wb_quality_current(const struct workbench *wb);

/* Starts generating on a side (the pruned side needs wb_applied()). */
int wb_gen_start(struct workbench *wb, enum wb_side side, const char *prompt,
		 const struct gen_opts *o, struct err *e);
void wb_gen_stop(struct workbench *wb, enum wb_side side);
/* Stops and forgets a side's output (a new prompt was chosen). */
void wb_gen_clear(struct workbench *wb, enum wb_side side);
void wb_gen_view(struct workbench *wb, enum wb_side side,
		 struct wb_gen_view *out);

/* --- healing ----------------------------------------------------------- */

/* Where the current plan's heal writes: <default export folder>-heal-<8
 * hex digits of the plan> ($HOME/punguza-exports/...), one per plan,
 * never inside the source. */
void wb_heal_dir(const struct workbench *wb, char *buf, size_t cap);

/* Sets the heal budget: steps, or minutes when minutes > 0. */
void wb_set_heal_budget(struct workbench *wb, uint64_t steps, double minutes);

/* Starts healing the applied plan's cut (distillation from the source;
 * corpus: the workbench's corpus files, none: data-free; evaluation: the
 * held-out text) into wb_heal_dir(). resume continues that folder's
 * checkpoint (its settings; the budget is ignored); a fresh start replaces
 * a previous heal of this plan. When it finishes, the healed model (loaded
 * back from the folder) becomes the pruned side and the history records
 * its held-out figures. ERR_INVALID unless the plan is applied and no task
 * runs. */
int wb_start_heal(struct workbench *wb, bool resume, struct err *e);

/* Stops a running heal: it writes a checkpoint of its last step (resume
 * continues it) and ends cancelled. */
void wb_stop_heal(struct workbench *wb);

/* What the Heal screen draws. */
void wb_heal_view(struct workbench *wb, struct wb_heal_view *out);

/* True when the pruned side is the healed model of the applied plan. */
bool wb_healed(const struct workbench *wb);

/* --- the plans tried (history.h) -------------------------------------- */

/* Every plan measured on this source (read from punguza's cache, again
 * after a measurement or heal recorded one), sorted by `by`, and
 * front[i] (n entries, valid until the next call) marking the Pareto
 * front. An empty history for a source without a directory. */
int wb_history(struct workbench *wb, enum history_sort by,
	       const struct history **out, const bool **front, struct err *e);

/* Makes entry i (of wb_history's order) the plan. */
int wb_history_load_plan(struct workbench *wb, int i, struct err *e);

/* Forgets entry i (rewrites the cache). */
int wb_history_forget(struct workbench *wb, int i, struct err *e);

/* The Vocabulary screen's figures for the plan's K (all pieces when the
 * plan keeps the vocabulary) and sample line `sample` (wrapped around).
 * Needs the counts (wb_start_count); ERR_INVALID without them. Cached:
 * recomputed only when K, closure or the sample changes. */
int wb_vocab_preview(struct workbench *wb, int sample,
		     const struct wb_vocab_preview **out, struct err *e);

void wb_free(struct workbench *wb); /* NULL is a no-op */

#endif
