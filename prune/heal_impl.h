/*
 * heal_impl — private to prune/heal*.c: one heal run's state and the calls
 * its files make on each other (heal.h is the module's public face).
 *
 *   heal_run.c         settings, schedule, the teacher, the step, the loop
 *   heal_monitor.c     the monitor other threads read (heal.h) and the
 *                      loop's updates to it
 *   heal_checkpoint.c  OUT: its checks against the sources, the log, the
 *                      checkpoint (written whole, then swapped in) and
 *                      reading it back to resume
 *
 * A struct heal_ctx lives on heal_run's stack for one call; it owns every
 * model, state and buffer it points to (run_free in heal_run.c frees them).
 */
#ifndef PUNGUZA_HEAL_IMPL_H
#define PUNGUZA_HEAL_IMPL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adamw.h"
#include "forward.h"
#include "heal.h"
#include "heal_data.h"
#include "model.h"
#include "recipe.h"
#include "train.h"

#define HEAL_TEXT_MAX ((size_t)1 << 30)
#define HEAL_STATE_MAX ((size_t)64 << 20)
#define HEAL_LOG_HEADER                                                        \
	"step\ttokens\tlr\tloss\tkl\tce\tgrad_norm\theldout_bpb\theldout_kl\t" \
	"heldout_top1\telapsed_s\n"

struct heal_ctx {
	const struct heal_opts *o;
	struct recipe_heal hp;
	struct model *student; /* trained (owned) */
	struct model *grads;   /* owned */
	struct model *view;    /* the teacher view (owned) */
	struct model *loaded;  /* resume: the checkpoint (owned) */
	struct train_state *ts;
	struct fwd_state *tf; /* the teacher's forward */
	struct adamw *opt;
	struct heal_data *data;
	int *tokens, *targets;	  /* (B*T) */
	float *tlogits, *dlogits; /* (B*T, V) */
	int *held;		  /* heldout ids */
	size_t n_held;
	uint64_t held_bytes;
	char out[PATH_MAX], stage[PATH_MAX + 16];
	char *log; /* the log so far */
	size_t log_len, log_cap;
	double elapsed_base; /* seconds of earlier sessions */
	double t0;	     /* this session's start */
	struct heal_result res;
	struct recipe rec; /* shallow copy of xo.recipe, or own */
	bool own_rec;
	bool have_ckpt; /* OUT holds this run's checkpoint */
};

/* heal_monitor.c: the loop's updates (no-ops without a monitor). */
void heal_mon_phase(struct heal_monitor *m, const char *phase, int running);
void heal_mon_point(struct heal_monitor *m, const struct heal_point *p);
void heal_mon_eval(struct heal_monitor *m, const struct heal_eval *v);

/* heal_checkpoint.c */
double heal_now_s(void); /* a monotonic clock, seconds */
/* Seconds of this run, earlier sessions included. */
double heal_elapsed(const struct heal_ctx *r);
/* OUT resolved even when it does not exist yet: realpath of its parent
 * plus its last component; -1 when it cannot be. */
int heal_resolve_out(const char *out, char *buf, size_t cap);
/* OUT given, and neither inside a source nor holding one. */
int heal_check_out(const struct heal_opts *o, struct err *e);
/* Appends a line to the log kept in memory (heal_log_add), and also to
 * OUT/heal_log.tsv (heal_log_line, best effort). */
int heal_log_add(struct heal_ctx *r, const char *line, struct err *e);
int heal_log_line(struct heal_ctx *r, const char *line, struct err *e);
/* Writes the checkpoint of `step` (done: the final result) to a stage
 * folder and swaps it in for OUT. */
int heal_checkpoint(struct heal_ctx *r, uint64_t step, bool done,
		    struct err *e);
/* Reads OUT's heal_state.json: the settings into r->hp, the step, done,
 * and the log up to that step. */
int heal_load_state(struct heal_ctx *r, uint64_t *step, bool *done,
		    struct err *e);

#endif
