/*
 * spm_text — byte-level helpers of the SentencePiece files: SentencePiece's
 * own UTF-8 rules (not normalize.h's WHATWG ones: SentencePiece judges one
 * character at a time, and its lead-byte length table differs) and a
 * growable byte buffer.
 */
#ifndef PUNGUZA_SPM_TEXT_H
#define PUNGUZA_SPM_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* U+2581, SentencePiece's escaped space (3 bytes), and U+FFFD. */
static const char kSpace[] = "\xe2\x96\x81";
static const char kReplacement[] = "\xef\xbf\xbd";

/* SentencePiece's OneCharLen: from the lead byte only. */
size_t spm_one_char_len(unsigned char c);

/* SentencePiece's IsValidDecodeUTF8: 1 and the length of one well-formed
 * character (shortest form, no surrogates), else 0 and *mblen = 1. */
int spm_utf8_char(const unsigned char *s, size_t len, size_t *mblen);

/* 1 when s[0..len) is all well-formed characters. */
int spm_utf8_valid(const unsigned char *s, size_t len);

/* A growable byte buffer ({0} is empty; the owner frees p). Not
 * NUL-terminated unless the caller puts one. */
struct sbuf {
	char *p;
	size_t n, cap;
};

/* Room for extra more bytes: 0, or ERR_NOMEM. */
int spm_sb_reserve(struct sbuf *b, size_t extra);

/* Appends s[0..n): 0, or ERR_NOMEM. */
int spm_sb_put(struct sbuf *b, const void *s, size_t n);

#endif
