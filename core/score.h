/*
 * score — the Buzuzu-Mavi (Zindi) scorer, exactly as DESIGN §1.3 defines it.
 *
 * Tasks: sentiment and AfriXNLI (3-class, macro-F1) and English->Hausa /
 * English->Swahili translation (sentence chrF). Languages: Hausa, Swahili.
 *
 * References come in two layouts (both RFC 4180 CSV, see csv.h):
 *   test_with_targets.csv   ID, task, lang, split, instruction, input, target
 *   the organisers'         ID, Targets
 * Task and language come from the `task`/`lang` columns when present, else
 * from the ID suffix: `..._sentiment_test__hausa|swahili`,
 * `..._test__afrixnli_hau|swa`, `..._test__mt_eng-hau|swa` (the dev IDs'
 * `_sentiment_ dev_hausa`, `_dev_afrixnli_hau`, `_dev_mt_eng-swa` too).
 * A `split` column (public/private) scores each split separately as well;
 * for the organisers' layout the caller can give each file's split.
 * Submissions are `ID,Response` (further columns are ignored); every
 * reference ID must appear exactly once, and no other ID may.
 *
 * Classification answers (responses and targets alike), after trimming
 * surrounding whitespace, case-insensitively:
 *   0 / 1 / 2 (also "0.0", "1.0", "2.0", as a float column is written);
 *   sentiment: positive / neutral / negative, Swahili Chanya / Wastani /
 *     Hasi, Hausa Kyakkyawa / Tsaka-tsaki / Korau  -> 0 / 1 / 2;
 *   AfriXNLI:  entailment / neutral / contradiction, True / Neither / False
 *     -> 0 / 1 / 2.
 * Anything else is a wrong answer: it counts against the true class's
 * recall and as nobody's prediction (column "?" of the confusion matrix),
 * and is reported (count, first examples). An unparseable *target* is an
 * error naming the row.
 *
 * macro-F1: unweighted mean over the 3 classes of per-class F1; precision
 * or recall 0 when its denominator is 0, F1 0 when p + r = 0, so a class
 * absent from targets and predictions alike counts 0.
 * chrF (per sentence): remove only U+0020; character n-grams over Unicode
 * code points (invalid UTF-8 bytes count one replacement character each),
 * n = 1..6, clipped matches; P_n = m / max(#hyp n-grams, 1), R_n = m /
 * max(#ref n-grams, 1); P, R = means over the 6 orders (an order longer
 * than the string contributes 0 and still counts); F = 5PR / (4P + R), 0
 * when P + R = 0. Scale 0..1.
 * LB (a) "mean of tasks": mean of sentiment macro-F1, AfriXNLI macro-F1
 * (each pooled over both languages) and the mean MT chrF.
 * LB (b) "organisers' pooled list": the mean of one list holding every MT
 * row's chrF plus the two pooled macro-F1s (so MT dominates).
 * A task with no rows in a split is left out of both means.
 *
 * zindi = (LB + (1 - P / PARAM_SIZE) * LB) / 2, PARAM_SIZE = 421,939,200.
 *
 * Ownership: score_refs owns its strings (free with score_refs_free); a
 * score_result is plain data.
 */
#ifndef PUNGUZA_SCORE_H
#define PUNGUZA_SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "csv.h"
#include "err.h"

#define SCORE_PARAM_SIZE 421939200ULL /* InkubaLM-0.4B, DESIGN §1.2 */

enum score_task { SCORE_SENTIMENT = 0, SCORE_XNLI, SCORE_MT, SCORE_N_TASKS };
enum score_lang { SCORE_HAU = 0, SCORE_SWA, SCORE_N_LANGS };
enum score_split {
	SCORE_ALL = 0, /* every row (also: "no split known" for a row) */
	SCORE_PUBLIC,
	SCORE_PRIVATE,
	SCORE_N_SPLITS,
};
#define SCORE_POOLED SCORE_N_LANGS /* language index of "both pooled" */
#define SCORE_WRONG 3		   /* confusion column of wrong answers */

struct score_ref {
	char *id;
	char *target;
	enum score_task task;
	enum score_lang lang;
	enum score_split split; /* SCORE_ALL when the reference has none */
	int target_class;	/* 0..2, -1 for MT */
	long line;		/* where the row starts in its file */
};

struct score_refs {
	struct score_ref *rows; /* (n) */
	int n, cap;
	int *by_id; /* (n) row indices sorted by id; built by score_refs_add */
	bool has_split;
};

/* A wrong (unparseable) classification answer, truncated for display. */
#define SCORE_MAX_EXAMPLES 5
struct score_wrong {
	char id[64];
	char response[72];
	long line;
};

/* The scores of one split. Classification arrays are [task][lang], task
 * SCORE_SENTIMENT or SCORE_XNLI, lang SCORE_HAU, SCORE_SWA or
 * SCORE_POOLED. */
struct score_part {
	int n[SCORE_N_TASKS][SCORE_N_LANGS + 1];
	int confusion[2][SCORE_N_LANGS + 1][3][4]; /* [true][predicted|?] */
	double f1[2][SCORE_N_LANGS + 1];	   /* macro-F1 */
	double class_f1[2][SCORE_N_LANGS + 1][3];
	int wrong[2][SCORE_N_LANGS + 1]; /* unparseable answers */
	double chrf[SCORE_N_LANGS + 1];	 /* mean sentence chrF */
	double lb_tasks;		 /* LB (a): mean of the task scores */
	double lb_pooled; /* LB (b): the organisers' pooled list */
	int n_rows;
};

struct score_result {
	struct score_part part[SCORE_N_SPLITS]; /* [SCORE_ALL] always */
	bool has_split;
	int n_wrong;
	int n_examples;
	struct score_wrong examples[SCORE_MAX_EXAMPLES];
};

/* Adds the rows of a reference table (either layout) to r. `split` is
 * SCORE_ALL to take the split column when there is one, else the split
 * every row of this table belongs to. Errors name `name` and the line; on
 * failure r keeps the rows it had before (free it with score_refs_free
 * either way). An ID already present from an earlier table is an error. */
int score_refs_add(struct score_refs *r, const struct csv_table *t,
		   const char *name, enum score_split split, struct err *e);
int score_refs_load(struct score_refs *r, const char *path,
		    enum score_split split, struct err *e);
/* The row with this ID, or NULL. */
const struct score_ref *score_refs_find(const struct score_refs *r,
					const char *id);
void score_refs_free(struct score_refs *r);

/* Scores a submission table (`ID,Response`) against r. */
int score_submission(const struct score_refs *r, const struct csv_table *sub,
		     const char *name, struct score_result *out, struct err *e);
int score_submission_file(const struct score_refs *r, const char *path,
			  struct score_result *out, struct err *e);

/* chrF of one sentence pair (NUL-terminated UTF-8), 0..1, into *out. */
int score_chrf(const char *hyp, const char *ref, double *out, struct err *e);

/* Macro-F1 of a 3x4 confusion matrix ([true][predicted], column 3 = wrong
 * answers); per_class (may be NULL) receives the per-class F1. */
double score_macro_f1(const int confusion[3][4], double per_class[3]);

/* A classification answer -> 0..2, or -1 (see the header comment). */
int score_parse_class(enum score_task task, const char *s);

/* A task or language as a data column spells it ("sentiment", "xnli",
 * "afrixnli", "mt"; "hau", "hausa", "eng-hau", "swa", ...), any case;
 * -1 when unrecognised. */
int score_parse_task_name(const char *s);
int score_parse_lang_name(const char *s);

/* Task and language from an ID suffix; -1 when unrecognised. */
int score_id_task(const char *id, enum score_task *task, enum score_lang *lang);

const char *score_task_name(enum score_task t); /* "sentiment" ... */
const char *score_lang_name(enum score_lang l); /* "hau", "swa" */
const char *score_split_name(enum score_split s);

/* DESIGN §1.3. */
double score_zindi(double lb, uint64_t params);
/* The LB at which a model of `params` parameters scores `zindi`. */
double score_breakeven_lb(double zindi, uint64_t params);

#endif
