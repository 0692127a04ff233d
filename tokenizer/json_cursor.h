/*
 * json_cursor — a streaming JSON cursor over a buffer, for the parts of a
 * tokenizer.json too big for a DOM (the model's vocab and merges: InkubaLM
 * has 61,788 pieces and 136,619 merges, 3.9 MB). It reads one value at a
 * time where the caller asks for it (jc_string, jc_int, jc_literal) and
 * skips the rest (jc_skip); nothing is allocated but the strings read.
 *
 * Everything read is hostile: every index is checked against the buffer,
 * nesting is bounded (64 levels), strings are unescaped to UTF-8 (\u
 * surrogates paired or refused). Errors are ERR_FORMAT (ERR_NOMEM when a
 * string does not fit) set on c->e, naming c->path and the byte offset:
 * "'x.json': malformed JSON at byte 12: expected ':'".
 */
#ifndef PUNGUZA_JSON_CURSOR_H
#define PUNGUZA_JSON_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* A growable byte buffer, NUL-terminated after each put; the owner frees
 * p ({0} is an empty buffer). */
struct buf {
	char *p;
	size_t n, cap;
};

/* Appends s[0..n); -1 when out of memory. */
int buf_put(struct buf *b, const char *s, size_t n);

/* The cursor: s[0..n) read up to i; errors go to e, naming path. */
struct jc {
	const char *s;
	size_t n, i;
	const char *path;
	struct err *e;
};

/* Sets the error (at the cursor's byte, or "unexpected end of file");
 * returns ERR_FORMAT. */
int jc_fail(struct jc *c, const char *what);

void jc_ws(struct jc *c);             /* skips whitespace */
int jc_peek(struct jc *c);            /* next non-space byte, -1 at the end */
int jc_expect(struct jc *c, char ch); /* consumes ch or fails */

/* Reads a string (cursor at the opening quote) into out (reset first). */
int jc_string(struct jc *c, struct buf *out);

/* After a member or an element: consumes ',' (*more true: another
 * follows) or close (*more false: the end); anything else fails with what
 * ("expected ',' or '}' in vocab"). */
int jc_next(struct jc *c, char close, const char *what, bool *more);

/* Skips one value of any kind (depth: its nesting level). */
int jc_skip(struct jc *c, int depth);

/* Skips a number or a literal (a run of their characters). */
int jc_skip_scalar(struct jc *c);

/* true / false / null: returns 1, 0, or -1 (null); -2 on error. */
int jc_literal(struct jc *c);

/* An integer (no fraction or exponent) of at most 13 digits. */
int jc_int(struct jc *c, long long *v);

#endif
