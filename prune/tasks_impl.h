/*
 * tasks_impl — private to prune/tasks_*.c: the runner's insides and the
 * helpers the tasks files share. Not for use outside the tasks module
 * (tasks.h is its public face).
 *
 *   tasks_text.c        string helpers (tasks_text_put, tasks_dupn,
 *                       tasks_trimmed)
 *   tasks_data.c        reading the rows (and tasks_sorted_ids)
 *   tasks_prompt.c      the prompt template and the candidate labels
 *   tasks_runner.c      options, the runner, running rows; the steps all
 *                       strategies share (tasks_ensure_state,
 *                       tasks_fit_left, tasks_encode_prompt)
 *   tasks_labels.c      classification by label likelihood
 *   tasks_generate.c    free generation (classification --generate,
 *                       greedy translation)
 *   tasks_beam.c        translation by beam search
 *   tasks_submission.c  the CSVs out and in, scoring
 *
 * The strategies (tasks_run_*) fill one tasks_result for one row; they are
 * called by tasks_run_row only, which zeroes *out first, times the row,
 * and frees out->response and wraps the error when they fail.
 */
#ifndef PUNGUZA_TASKS_IMPL_H
#define PUNGUZA_TASKS_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "forward.h"
#include "tasks.h"

/* The tokens a KV cache holds after the prompt (beam search). */
struct tasks_held {
	int *ids; /* (mt_max_new + 1) tokens after the prompt in the cache */
	int n;	  /* -1: the prompt is not in the cache */
};

struct tasks_runner {
	const struct model *m;
	const struct tokenizer *t;
	struct tasks_opts o;
	int ctx, V;
	struct fwd_state **fs;	 /* (beams) */
	struct tasks_held *held; /* (beams) */
	float *lp0;		 /* (V) log-probs after the prompt */
	float *all;		 /* (max label tail, V) logits scratch */
	int all_rows;
	float *beam_lp; /* (beams, V) next-token log-probs per live beam */
};

/* A growing NUL-terminated string; nomem is set when a put failed. */
struct tasks_text {
	char *s; /* malloc'd, owned by the user of the struct */
	size_t n, cap;
	bool nomem;
};

/* Appends s[0..n) to the tasks_text ctx; 1 (and ctx->nomem) when out of
 * memory. Also a gen_ids_state text callback. */
int tasks_text_put(void *ctx, const char *s, size_t n);

/* A malloc'd NUL-terminated copy of s[0..n), or NULL. */
char *tasks_dupn(const char *s, size_t n);

/* s[0..n) trimmed of surrounding whitespace, malloc'd (NULL: no memory). */
char *tasks_trimmed(const char *s, size_t n);

/* Row indices of d sorted by ID (malloc'd), for duplicate checks and
 * lookup; NULL (with ERR_NOMEM in e) when out of memory. */
int *tasks_sorted_ids(const struct tasks_data *d, struct err *e);

/* log of the softmax's normaliser over V logits, split as the max (in
 * *mx) plus log(sum exp(logit - max)) (returned): the label and beam
 * scorers subtract them in that order (tasks_runner.c). */
double tasks_log_norm(const float *logits, int V, float *mx);

/* Cache i holds at least `need` positions (tasks_runner.c). */
int tasks_ensure_state(struct tasks_runner *r, int i, int need, struct err *e);
/* Drops tokens after the first so that n + room <= ctx; returns how many
 * (or -1 when even BOS + room does not fit). */
int tasks_fit_left(int *ids, size_t *n, int room, int ctx);
/* The ids of the row's prompt followed by extra (may be NULL), BOS first
 * when the tokenizer adds it; *ids malloc'd. */
int tasks_encode_prompt(const struct tasks_runner *r,
			const struct tasks_row *row, const char *extra,
			int **ids, size_t *n, struct err *e);

/* The strategies, one row each (see tasks.h for what they compute). */
int tasks_run_labels(struct tasks_runner *r, const struct tasks_row *row,
		     struct tasks_result *out, struct err *e);
int tasks_run_generate(struct tasks_runner *r, const struct tasks_row *row,
		       struct tasks_result *out, struct err *e);
int tasks_run_beams(struct tasks_runner *r, const struct tasks_row *row,
		    struct tasks_result *out, struct err *e);

#endif
