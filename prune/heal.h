/*
 * heal — train a pruned model back towards the original: distillation
 * from the teacher (KL(teacher‖student) at a temperature, mixed with
 * next-token cross-entropy), or plain fine-tuning, with checkpoints that
 * resume to the same bytes as an uninterrupted run.
 *
 * One optimizer step s (1-based, s = 1..steps):
 *   1. the batch: heal_data_batch(step s - 1): B sequences of T tokens,
 *      from the corpus or sampled from the teacher (heal_data.h);
 *   2. the teacher's logits on it (when kd_weight > 0), from the teacher
 *      *view* (the teacher restricted to the student's vocabulary through
 *      the cut's vocab map: heal_teacher_view), one sequence at a time
 *      with fwd_run, no gradients;
 *   3. the student's train_forward, distill_loss (targets: the next token
 *      of each row; a row's last position is not scored), train_backward;
 *   4. gradient clipping to `clip` (global L2 norm), AdamW (adamw.h: decoupled
 *      weight decay, none on norm weights) at the schedule's learning rate.
 *
 * Schedule: linear warm-up from lr/warmup to lr over `warmup` steps, then
 * a cosine from lr down to lr * min_lr_ratio at the last step:
 *   lr(s) = lr * s / warmup                                 s <= warmup
 *   lr(s) = lr * (r + (1 - r) * (1 + cos(pi * p)) / 2),     otherwise,
 *           p = (s - warmup) / (steps - warmup), r = min_lr_ratio.
 * Defaults (heal_defaults): lr 1e-3, betas 0.9 / 0.95, eps 1e-8, weight
 * decay 0.01 (PyTorch's AdamW default; short heals barely feel it), clip
 * 1, warm-up 5% of the steps (at least 1, at most 100), floor 10%, batch
 * 16 x 128 tokens, temperature 1, kd_weight 1 (pure KL) with a teacher,
 * pool 4096 data-free sequences.
 *
 * Budget: exactly one of steps, tokens (steps = ceil(tokens / (B*T))) or
 * minutes. For minutes, the horizon must be known before the first step
 * (the schedule depends on it): heal times two throw-away forward +
 * backward passes on the first batch (the weights are not touched) and
 * the step-0 evaluation, and takes steps = (budget - evaluations) / (time
 * per step), at least 1. Then it runs those steps whatever they take; the
 * steps are recorded (heal_state.json, the recipe), so --steps N
 * reproduces the run.
 *
 * Output directory OUT (never a source directory, nor inside or around
 * one; a non-empty OUT is refused unless force or resume):
 *   the student as a Hugging Face directory (export.h: config, F32
 *   model.safetensors, tokenizer files, punguza.json when a recipe is
 *   given — with the "heal" section filled in),
 *   optimizer.safetensors   AdamW's moments and step (adamw_save),
 *   heal_state.json         {"format": "punguza-heal-state", "step": k,
 *                            "done": bool, "elapsed": seconds,
 *                            "recipe": {... "heal": {...}}}: the settings
 *                            and data checksums the weights depend on,
 *   heal_log.tsv            one line per step: step, tokens, lr, loss, kl,
 *                            ce, grad norm, heldout bpb / kl / top-1 (on
 *                            evaluation steps, else empty), elapsed s.
 * A checkpoint is written at step 0, every ckpt_every steps and when
 * cancelled: into OUT.ckpt beside OUT, then swapped in for OUT with one
 * rename (renameat2 RENAME_EXCHANGE; two renames where that is missing).
 * So OUT always holds a complete, loadable checkpoint. The log is
 * appended to OUT/heal_log.tsv as the run goes; a resume keeps the lines
 * up to the checkpoint's step. The final result (done true) is written
 * the same way, in the requested formats and dtype and without the
 * optimizer state.
 *
 * Resume: the settings come from OUT/heal_state.json (the opts' settings
 * and budget are ignored); the corpus must have the recorded checksums
 * and the student the recorded geometry. Weights are read back from the
 * F32 checkpoint, the moments from optimizer.safetensors, and batches
 * depend only on (seed, step), so 6 steps == 3 steps + resume 3, byte for
 * byte (same thread count: BLAS reductions depend on it).
 *
 * Evaluation (heldout tokens given): at step 0, every eval_every steps
 * and at the last step: eval_run of the student, with the teacher view as
 * reference when there is one: bits per byte, KL(teacher‖student), top-1.
 *
 * Threads: opts.threads > 0 sets OpenBLAS's thread count for the run
 * (process-wide; recorded in the recipe); a resume without it uses the
 * recorded count.
 *
 * Cancel: prog's callback is asked after every step (and during sampling
 * and evaluation); when it says stop, heal writes a checkpoint of the last
 * completed step and returns ERR_CANCELLED.
 *
 * Watching: a struct heal_monitor (optional) receives every step's
 * figures and every evaluation, under its own lock, for a UI thread to
 * copy out with heal_monitor_snapshot(). heal_job_fn runs heal_run as a
 * job.h job: start, watch (monitor), stop (job_cancel), resume
 * (opts.resume = true, start again).
 *
 * Ownership: heal_run borrows everything in opts; the student model given
 * is not modified (a clone is trained). The monitor is the caller's.
 *
 * Files: heal_run.c (settings, schedule, the step and the loop),
 * heal_monitor.c (the monitor), heal_checkpoint.c (OUT: checks, log,
 * checkpoints, resume); heal_impl.h is their private header.
 */
#ifndef PUNGUZA_HEAL_H
#define PUNGUZA_HEAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "export.h"
#include "model.h"
#include "progress.h"
#include "recipe.h"

struct tokenizer;

/* One step's figures. */
struct heal_point {
	uint64_t step, steps; /* this step, of how many */
	uint64_t tokens;      /* tokens read so far (B*T per step) */
	double lr, loss, kl, ce, grad_norm;
	double top1;	    /* train batch top-1 agreement with the teacher */
	double elapsed;	    /* seconds since this run started */
	double tok_per_s;   /* this session's throughput */
	double eta;	    /* seconds left, estimated */
};

/* One held-out evaluation. */
struct heal_eval {
	uint64_t step;
	double bpb, nll;
	bool has_ref;
	double kl, top1;
};

#define HEAL_MAX_EVALS 256

/* What a UI copies out (heal_monitor_snapshot). */
struct heal_snapshot {
	char phase[48];	       /* "loading", "sampling", "training", ... */
	bool running;	       /* heal_run is between start and return */
	bool have_point;
	struct heal_point last;
	struct heal_eval evals[HEAL_MAX_EVALS]; /* oldest first; when more,
						   the first and the latest */
	int n_evals;
};

/* Thread-safe: heal_run writes, any thread snapshots. Zero-initialise,
 * then heal_monitor_init; heal_monitor_destroy when done. */
struct heal_monitor {
	pthread_mutex_t lock;
	bool ready;
	struct heal_snapshot s;
};

int heal_monitor_init(struct heal_monitor *m, struct err *e);
void heal_monitor_destroy(struct heal_monitor *m); /* not ready: no-op */
void heal_monitor_snapshot(struct heal_monitor *m, struct heal_snapshot *out);

struct heal_opts {
	/* models */
	const struct model *student;	   /* the pruned model (not modified) */
	const struct tokenizer *student_tok; /* encodes corpus and heldout */
	const struct model *teacher;	   /* the original; NULL: fine-tune */
	const int *vocab_keep;	/* student id -> teacher id (student V
				   entries), NULL: same vocabulary */
	/* data */
	const char *const *corpus; /* n_corpus files; none: data-free */
	int n_corpus;
	const char *const *heldout; /* n_heldout files, one document per
				       line; none: no evaluation */
	int n_heldout;
	/* settings that decide the weights (steps: see the budget);
	 * data[] is filled by heal_run */
	struct recipe_heal hp;
	/* budget: exactly one > 0 (hp.steps, tokens, minutes) */
	uint64_t tokens;
	double minutes;
	/* cadence (0: default) */
	uint64_t eval_every; /* default steps / 10, at least 1 */
	uint64_t ckpt_every; /* default 500 */
	int eval_ctx;	     /* default min(512, context); stride half */
	int threads;	     /* > 0: OpenBLAS threads */
	/* output */
	const char *out_dir;
	bool force, resume;
	/* never written into, under or around (may be NULL) */
	const char *protect[4];
	/* the export template: src_dir, tok, src_tok, keep, recipe, name,
	 * formats, dtype of the final result (out_dir and force are heal's;
	 * checkpoints are F32 HF). recipe may be NULL: punguza.json is then
	 * not written. */
	struct export_opts xo;
	struct heal_monitor *monitor; /* may be NULL */
};

struct heal_result {
	uint64_t steps;	      /* the horizon */
	uint64_t step;	      /* the last completed step */
	uint64_t resumed_from; /* 0 for a fresh run */
	uint64_t tokens;
	double elapsed;	      /* this session's seconds */
	double loss;	      /* last step's */
	bool have_before, have_after;
	struct heal_eval before, after; /* step 0 and the last evaluation */
	struct recipe_heal hp;		/* the settings used (data filled) */
};

/* The defaults above; hp.steps 0 (a budget must be given). */
void heal_defaults(struct heal_opts *o);

/* Runs (or resumes) a heal. res may be NULL. */
int heal_run(const struct heal_opts *o, const struct progress *prog,
	     struct heal_result *res, struct err *e);

/* The learning rate of step s (1-based) under hp (hp->steps >= 1). */
double heal_lr(const struct recipe_heal *hp, uint64_t s);

/* For job_start: arg is a struct heal_job. */
struct heal_job {
	struct heal_opts opts;
	struct heal_result result;
};
int heal_job_fn(void *arg, const struct progress *prog, struct err *e);

#endif
