/*
 * normalize — the normalizer pipeline of a Hugging Face tokenizer.json
 * (Sequence, Prepend, Replace with a string pattern, NFC/NFD/NFKC/NFKD via
 * utf8proc, Strip, Lowercase), with the semantics of the `tokenizers`
 * library:
 *   Prepend    prepends its string unless the text is empty;
 *   Replace    replaces every non-overlapping occurrence, left to right;
 *   Strip      removes Unicode White_Space at the left and/or right end;
 *   Lowercase  Rust's char::to_lowercase, per character (no final-sigma
 *              context): utf8proc_tolower plus U+0130 -> "i\u0307".
 *
 * Every input here is valid UTF-8 (tok_encode sanitizes first, see
 * utf8_sanitize in text.h). Outputs are malloc'd and owned by the caller.
 */
#ifndef PUNGUZA_NORMALIZE_H
#define PUNGUZA_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum norm_kind {
	NORM_PREPEND,
	NORM_REPLACE,
	NORM_NFC,
	NORM_NFD,
	NORM_NFKC,
	NORM_NFKD,
	NORM_STRIP,
	NORM_LOWERCASE,
};

struct norm_op {
	enum norm_kind kind;
	char *a;       /* Prepend: the prefix; Replace: the pattern (non-empty) */
	size_t a_len;
	char *b;       /* Replace: the replacement */
	size_t b_len;
	bool left, right; /* Strip */
};

/* A flattened Sequence; n == 0 means "no normalizer". */
struct normalizer {
	struct norm_op *ops; /* (n), owned */
	size_t n;
};

void normalizer_free(struct normalizer *nz); /* frees the ops, keeps nz */

/* Appends an op; a and b are copied. */
int normalizer_add(struct normalizer *nz, enum norm_kind kind, const char *a,
		   size_t a_len, const char *b, size_t b_len, struct err *e);

/* Runs the pipeline over in[0..len) into a new malloc'd, NUL-terminated
 * buffer *out of *out_len bytes. */
int normalizer_apply(const struct normalizer *nz, const char *in, size_t len,
		     char **out, size_t *out_len, struct err *e);

#endif
