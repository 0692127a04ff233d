/*
 * workbench_impl — the workbench's private half, shared by its files and
 * by nothing else (screens and commands use workbench.h):
 *
 *   workbench.c          the plan the user sets: knobs, presets, recipes,
 *                        the projection (needs nothing from here)
 *   workbench_open.c     opening a source, its inputs, wb_free
 *   workbench_jobs.c     the one background task: begin/launch, status,
 *                        cancel, and wb_poll adopting its results
 *   workbench_prepare.c  the prepare task (load, count, calibrate, apply)
 *   workbench_quality.c  the quality task and the remembered results
 *   workbench_vocab.c    the count task and the vocabulary preview
 *   workbench_export.c   the export task and the export folder
 *   workbench_heal.c     the heal task and the Heal screen's view
 *   workbench_history.c  the plans tried (history.h)
 *   workbench_gen.c      generation on either side of the Run screen
 *
 * A task: wb_task_begin() checks no task runs and copies the plan into a
 * struct task_ctx; the job's thread reads the workbench (never writes it)
 * and fills the context's results; wb_task_launch() starts it (and frees t
 * when it cannot); wb_poll() adopts the results on the UI thread and frees
 * the context (wb_task_free). The context owns every result it holds.
 *
 * Only the workbench_*.c files include this header; workbench.c does not
 * (the module graph stays without circles: workbench_impl -> workbench).
 */
#ifndef PUNGUZA_WORKBENCH_IMPL_H
#define PUNGUZA_WORKBENCH_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "heal.h"
#include "history.h"
#include "job.h"
#include "plan.h"
#include "progress.h"
#include "workbench.h"

struct model;
struct tokenizer;
struct vocab_counts;
struct vocab_keep;

/* What a task reads (copied or borrowed at start) and makes. */
struct task_ctx {
	struct workbench *wb;        /* read-only while running */
	struct prune_plan plan;      /* the plan being applied */
	char *key;
	/* results, adopted by wb_poll */
	struct model *model;         /* loaded here (NULL: wb had it) */
	struct vocab_counts *counts; /* counted here (NULL: wb had it) */
	struct vocab_keep *keep;
	struct tokenizer *pruned_tok;
	struct model *pruned;
	char desc[160];
	struct wb_quality q;
	bool have_q;
	/* export */
	char out_dir[1024];
	unsigned formats;
	bool force;
	struct wb_export_result ex;
	/* history (quality, heal): what to record, and why it failed */
	enum wb_task kind;
	uint64_t params;
	bool healed_side;             /* measured the healed model */
	bool hist_failed;
	char hist_error[ERR_MSG_MAX];
	/* heal */
	struct heal_job *hj;
	struct model *healed;         /* loaded back from the heal's OUT */
	bool have_orig_bpb;
	double orig_bpb;
};

/* Maps a sub-step's progress into [lo, hi] of the whole task. */
struct sub_progress {
	const struct progress *outer;
	double lo, hi;
};


/* --- workbench_jobs.c ------------------------------------------------- */

/* Monotonic seconds. */
double wb_now(void);

/* NULL is a no-op. */
void wb_task_free(struct task_ctx *t);

/* A struct progress fn over a struct sub_progress. */
int wb_sub_report(void *ctx, double done, const char *stage);

/* A new context for a task of `kind` on the current plan; ERR_INVALID in
 * plan-only mode or while another task runs. */
int wb_task_begin(struct workbench *wb, enum wb_task kind,
		  struct task_ctx **out, struct err *e);

/* Starts fn(t) as the workbench's task; frees t when it cannot. */
int wb_task_launch(struct workbench *wb, enum wb_task kind,
		   struct task_ctx *t, job_fn fn, struct err *e);

/* --- workbench_prepare.c ---------------------------------------------- */

/* The corpus files as one id sequence for calibration, each line a
 * document (eval_encode_lines), cut at max_tokens. */
int wb_encode_corpus(const struct tokenizer *tok, char *const *paths, int n,
		     size_t max_tokens, int **out, size_t *n_out,
		     struct err *e);

/* The plan counts the corpus / needs calibration text. */
bool wb_plan_needs_vocab(const struct prune_plan *p);
bool wb_plan_needs_calib(const struct prune_plan *p);

/* --- workbench_quality.c ---------------------------------------------- */

/* Encodes a held-out file as eval_encode_lines does (a document per
 * line); *bytes and *words: the file's. */
int wb_encode_file_lines(const struct tokenizer *tok, const char *path,
			 int **ids, size_t *n, uint64_t *bytes, double *words,
			 struct err *e);

/* The key quality results are remembered under (malloc'd). */
char *wb_quality_key(const char *plan_key, const char *heldout, bool healed);

/* --- workbench_history.c ---------------------------------------------- */

/* Records x's figures for t's plan in the source's history; a failure is
 * remembered in t, never fatal. */
void wb_task_note(struct task_ctx *t, struct history_entry *x);

/* --- workbench_vocab.c / workbench_open.c ----------------------------- */

void wb_preview_free(struct wb_vocab_preview *p); /* NULL is a no-op */
void wb_free_strings(char **v, int n);            /* and v itself */

#endif
