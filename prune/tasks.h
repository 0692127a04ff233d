/*
 * tasks — runs a model on the Buzuzu-Mavi challenge's three tasks and
 * produces the submission (`ID,Response`) the scorer (score.h) reads.
 *
 * Data (tasks_data_load, any number of files, RFC 4180 CSV):
 *   test_with_targets.csv layout  ID, task, lang, split, instruction,
 *                                 input, target
 *   the organisers' per-task CSVs ID, Instruction, Input Text, Response,
 *                                 Log-Likelihood, Targets, Task, Langs
 * Columns are found by name, case-insensitively: instruction; input or
 * "Input Text"; target or Targets (optional); split (optional); task and
 * lang/Langs (optional: "sentiment" / "xnli" / "afrixnli" / "mt" / "mmt",
 * "hau" / "hausa" / "swa" / "swahili"), else both from the ID suffix
 * (score_id_task). A row whose task or language is unknown, or an ID seen
 * twice, is an error naming the file and line. The data has targets when
 * every row has a non-empty one.
 *
 * Prompt (the challenge starter code's template, DESIGN §1.3, exactly):
 *   "Below is an instruction that describes a task, paired with an input
 *   that provides further context. Write a response that appropriately
 *   completes the request.\n\n ### Instruction: {instruction}\n{input}\n\n
 *   ### Response: "
 * encoded without the template's specials, BOS prepended when the
 * tokenizer's template starts with it (a trailing EOS is never added).
 *
 * Classification (sentiment, AfriXNLI), by label likelihood (default):
 * the candidates are, in class order 0/1/2,
 *   sentiment Hausa    Kyakkyawa / Tsaka-tsaki / Korau
 *   sentiment Swahili  Chanya / Wastani / Hasi
 *   AfriXNLI           True / Neither / False
 * (positive / neutral / negative; entailment / neutral / contradiction).
 * Each candidate c is scored by the model's log-likelihood of its text
 * after the prompt: the ids of encode(prompt + c) are compared with the
 * ids of encode(prompt); the tokens after their common prefix (the label's
 * tokens, plus any prompt token the label re-tokenizes, e.g. a trailing
 * "▁" merged into "▁Chanya") are the continuation x_1..x_T, and
 *   score(c) = (1/T) * sum_j log p(x_j | prompt prefix, x_<j)
 * (mean natural-log probability per continuation token, so long labels
 * are not penalised for their length). The answer is the class of the
 * highest score (ties: the lower class index), written as "0", "1" or
 * "2". The common prefix shared by all three is prefilled once; each
 * candidate continues from it (fwd_truncate back to it in between).
 *
 * Classification with opts.generate (the starter code's way): free
 * generation with opts.sampler (default sampler_defaults: temperature
 * 0.5, top-k 5, repetition penalty 1.2, seed 42, reseeded per row), at
 * most opts.cls_max_new tokens, stopping at EOS or a newline; the
 * response is the class index of the first word that score_parse_class
 * accepts (words split at whitespace and punctuation other than '-'),
 * else the generated text itself (trimmed; the scorer counts it wrong).
 *
 * Translation: greedy decoding (temperature 0, no repetition penalty) or,
 * with opts.beams > 1, beam search; stops at the end-of-text id, a
 * newline or opts.mt_max_new (100) new tokens; the response is the text
 * before the newline, surrounding whitespace trimmed. Beam search keeps
 * the `beams` best partial translations by summed log-probability; a
 * beam ends at EOS or a newline token; the search stops when `beams`
 * translations have ended or at mt_max_new tokens (the live beams then
 * count as ended); the answer is the ended beam with the best mean
 * log-probability per token (the EOS/newline token included, as Hugging
 * Face's length_penalty 1). Each beam owns a KV cache; a new beam
 * continues the cache whose tokens share the longest prefix with it.
 *
 * Prompts longer than the context: tokens after BOS are dropped from the
 * left so that the longest continuation fits (result.truncated counts
 * them).
 *
 * Ownership: tasks_data owns its tables and strings; result responses
 * are malloc'd and freed by tasks_results_free.
 *
 * Files: tasks_data.c (reading rows), tasks_prompt.c (template, labels),
 * tasks_runner.c (options, runner, tasks_run), tasks_labels.c,
 * tasks_generate.c and tasks_beam.c (the three ways to answer a row),
 * tasks_submission.c (CSV out and in, scoring), tasks_text.c; their
 * private declarations are in tasks_impl.h.
 */
#ifndef PUNGUZA_TASKS_H
#define PUNGUZA_TASKS_H

#include <stdbool.h>
#include <stddef.h>

#include "csv.h"
#include "err.h"
#include "model.h"
#include "progress.h"
#include "sampler.h"
#include "score.h"
#include "tokenizer.h"

struct tasks_row {
	const char *id;		 /* into the table */
	const char *instruction; /* "" when the column is absent */
	const char *input;	 /* "" when the column is absent */
	const char *target;	 /* NULL when absent or empty */
	enum score_task task;
	enum score_lang lang;
	enum score_split split; /* SCORE_ALL when unknown */
	long line;
	int file; /* index into paths */
};

struct tasks_data {
	struct tasks_row *rows; /* (n) in file order */
	int n, cap;
	struct csv_table *tables; /* (n_files) */
	char **paths;		  /* (n_files) */
	int n_files;
	bool has_targets; /* every row has a target */
};

struct tasks_opts {
	bool generate;		     /* classification by free generation */
	struct sampler_opts sampler; /* for generate */
	int cls_max_new;	     /* generate: most new tokens (20) */
	int beams;		     /* translation: 1 = greedy */
	int mt_max_new;		     /* translation: most new tokens (100) */
};

struct tasks_result {
	char *response; /* malloc'd; NULL = row not done */
	int choice;	/* classification: 0..2, -1 none/unparsed */
	double label_score[3]; /* likelihood mode: score(c) per class */
	int prompt_tokens, new_tokens;
	int truncated; /* prompt tokens dropped to fit the context */
	double seconds;
};

/* Appends the rows of one CSV file. */
int tasks_data_load(struct tasks_data *d, const char *path, struct err *e);
void tasks_data_free(struct tasks_data *d); /* the struct is emptied */
/* Keeps at most `limit` rows of each task and language, in order
 * (has_targets is recomputed; the tables keep every row's strings). */
void tasks_data_limit(struct tasks_data *d, int limit);

void tasks_defaults(struct tasks_opts *o);
int tasks_opts_check(const struct tasks_opts *o, struct err *e);

/* The prompt for one row: malloc'd NUL-terminated (caller frees). */
int tasks_prompt(const char *instruction, const char *input, char **out,
		 struct err *e);

/* The candidate label of class c (0..2) for a classification task. */
const char *tasks_label(enum score_task task, enum score_lang lang, int c);

/* A runner holds the KV caches and scratch for one model; rows are run one
 * at a time. Not thread-safe (one runner per thread). Borrows m and t. */
struct tasks_runner;
int tasks_runner_new(const struct model *m, const struct tokenizer *t,
		     const struct tasks_opts *o, struct tasks_runner **out,
		     struct err *e);
void tasks_runner_free(struct tasks_runner *r); /* NULL is a no-op */
/* Runs one row; fills *out (out->response malloc'd; free the old one
 * first). */
int tasks_run_row(struct tasks_runner *r, const struct tasks_row *row,
		  struct tasks_result *out, struct err *e);

/* Runs every row of d whose results[i].response is NULL (results: (d->n),
 * zeroed by the caller, or kept from a resume), in order. prog (may be
 * NULL) is called after each row with done = finished rows / d->n and the
 * stage "running tasks"; when it cancels, the rows finished so far keep
 * their responses and ERR_CANCELLED is returned. */
int tasks_run(const struct model *m, const struct tokenizer *t,
	      const struct tasks_data *d, const struct tasks_opts *o,
	      const struct progress *prog, struct tasks_result *results,
	      struct err *e);

void tasks_results_free(struct tasks_result *res, int n); /* responses */

/* The submission CSV (header `ID,Response`, LF, RFC 4180 quoting: a field
 * with a comma, quote, CR or LF is quoted, quotes doubled) of the rows
 * that are done, in data order; malloc'd, *len bytes. */
int tasks_submission_csv(const struct tasks_data *d,
			 const struct tasks_result *res, char **out,
			 size_t *len, struct err *e);
/* ... written atomically to path. */
int tasks_write_submission(const char *path, const struct tasks_data *d,
			   const struct tasks_result *res, struct err *e);
/* Reads an earlier submission (`ID,Response`) and keeps the response of
 * every data row it has (results[i].response set; rows already set are
 * replaced). *kept (may be NULL) = rows taken; IDs not in d are ignored. */
int tasks_resume(const char *path, const struct tasks_data *d,
		 struct tasks_result *res, int *kept, struct err *e);

/* A reference CSV (ID, task, lang, split, target) of the done rows that
 * have targets (malloc'd, for `punguza score --ref`). */
int tasks_refs_csv(const struct tasks_data *d, const struct tasks_result *res,
		   char **out, size_t *len, struct err *e);
/* Scores the done rows that have targets (at least one) with score.h. */
int tasks_score(const struct tasks_data *d, const struct tasks_result *res,
		struct score_result *out, struct err *e);

#endif
