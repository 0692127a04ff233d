/*
 * text — byte and text primitives the tokenizer's files share: UTF-8 by
 * the WHATWG decoder's rules (what the reference tokenizers see: a
 * JavaScript or Python caller passes them text decoded that way), the
 * Unicode classes of the pre-tokenizers and added tokens (Rust's
 * char::is_whitespace, regex \w), a hex digit's value and a byte-string
 * copy. SentencePiece judges UTF-8 by its own rules: spm_text.h.
 *
 * Outputs are malloc'd and owned by the caller.
 */
#ifndef PUNGUZA_TEXT_H
#define PUNGUZA_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* --- UTF-8 ----------------------------------------------------------- */

/* Length of the valid UTF-8 sequence starting at s (1..4), or 0 when the
 * bytes at s (at most n) do not start one. Rejects overlongs, surrogates
 * and code points above U+10FFFF, as the WHATWG decoder does. */
size_t utf8_valid_len(const unsigned char *s, size_t n);

/* Decodes the valid sequence at s (n >= its length); returns the code point
 * and stores the length in *len. Call only after utf8_valid_len. */
uint32_t utf8_decode(const unsigned char *s, size_t *len);

/* Encodes cp into out (4 bytes room); returns the length. */
size_t utf8_encode(uint32_t cp, char *out);

/* Replaces every maximal invalid subpart of in[0..len) by U+FFFD (the
 * WHATWG "utf-8 decode" rule, which is what a JavaScript or Python caller
 * of the reference tokenizers sees). Returns 0 and *out = NULL when in is
 * valid already, 1 with a malloc'd NUL-terminated copy otherwise, or a
 * negative ERR_* code. */
int utf8_sanitize(const char *in, size_t len, char **out, size_t *out_len,
		  struct err *e);

/* Unicode White_Space (Rust char::is_whitespace, regex \s). */
bool uni_is_space(uint32_t cp);

/* Regex \w in Rust's regex crate: alphabetic, marks, decimal numbers,
 * connector punctuation, join controls (approximated with utf8proc
 * categories). */
bool uni_is_word(uint32_t cp);

/* --- bytes ------------------------------------------------------------ */

/* The value of hex digit ch ('0'-'9', 'a'-'f', 'A'-'F'), else -1. */
int hex_digit(int ch);

/* A malloc'd NUL-terminated copy of s[0..n) (s may hold NULs), or NULL. */
char *bytes_dup(const void *s, size_t n);

#endif
