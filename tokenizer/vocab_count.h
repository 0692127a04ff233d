/*
 * vocab_count — token frequencies over corpora: the first step of the
 * vocabulary knob (vocab.h), whose struct vocab_counts the keep sets
 * (vocab_keep.h) rank.
 *
 * Each corpus record (a line of a text file without its line ending, a
 * CSV field of the named column, a JSONL string field) is encoded on its
 * own exactly as tok_encode(t, text, len, false) does, i.e. WITHOUT the
 * post-processor's BOS/EOS (they are always kept anyway; counting them
 * would only add one per record). Words are maximal runs of non-whitespace
 * bytes (ASCII space, \t \n \v \f \r). Files are read in chunks (never
 * whole); a record is bounded by VOCAB_MAX_RECORD bytes.
 *
 * Ownership: vocab_count_files and vocab_counts_new return a malloc'd
 * struct the caller frees with vocab_counts_free (NULL is a no-op). The
 * tokenizer is never modified.
 */
#ifndef PUNGUZA_VOCAB_COUNT_H
#define PUNGUZA_VOCAB_COUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "progress.h"
#include "tokenizer.h"

#define VOCAB_MAX_RECORD (64u << 20) /* one line / field, bytes */

enum vocab_format {
	VOCAB_AUTO = 0, /* by extension: .csv, .jsonl/.ndjson, else text */
	VOCAB_TEXT,	/* one record per line (LF or CRLF) */
	VOCAB_CSV,	/* RFC 4180; the column named opts->column */
	VOCAB_JSONL,	/* one JSON object per line; its string opts->field */
};

struct vocab_count_opts {
	enum vocab_format format;
	const char *column; /* CSV column name (required for CSV) */
	const char *field;  /* JSONL field name (required for JSONL) */
	uint64_t max_bytes; /* stop after this many record bytes; 0 = all */
};

struct vocab_counts {
	int n_vocab;	  /* = tok_vocab_size of the counting tokenizer */
	uint64_t *count;  /* (n_vocab) occurrences of each id */
	uint64_t tokens;  /* sum of count[] */
	uint64_t bytes;	  /* record bytes encoded (line endings excluded) */
	uint64_t words;	  /* whitespace-separated words */
	uint64_t lines;	  /* records (lines, CSV rows, JSONL objects) */
	uint64_t skipped; /* JSONL objects without the (string) field */
	size_t n_files;
};

/* Counts token ids over paths[0..n) (opts may be NULL: VOCAB_AUTO).
 * Progress is reported by bytes read over all files' sizes. */
int vocab_count_files(const struct tokenizer *t, const char *const *paths,
		      size_t n, const struct vocab_count_opts *opts,
		      struct vocab_counts **out, const struct progress *p,
		      struct err *e);

/* Counts one in-memory record (what the file readers call per record). */
int vocab_count_text(const struct tokenizer *t, const char *text, size_t len,
		     struct vocab_counts *c, struct err *e);

/* An empty counts struct for t (all zero). */
int vocab_counts_new(const struct tokenizer *t, struct vocab_counts **out,
		     struct err *e);
void vocab_counts_free(struct vocab_counts *c);

/* ERR_INVALID unless c counted ids of a tokenizer of t's size. */
int vocab_counts_check(const struct tokenizer *t, const struct vocab_counts *c,
		       struct err *e);

#endif
