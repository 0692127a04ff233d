/*
 * spm_text — SentencePiece's UTF-8 rules and a growable byte buffer (see
 * spm_text.h).
 */
#include "spm_text.h"

#include <stdlib.h>
#include <string.h>

/* SentencePiece's OneCharLen: from the lead byte only. */
size_t spm_one_char_len(unsigned char c)
{
	static const unsigned char t[16] = {1, 1, 1, 1, 1, 1, 1, 1,
					    1, 1, 1, 1, 2, 2, 3, 4};
	return t[c >> 4];
}

static int trail(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

static int valid_cp(uint32_t c)
{
	return c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF);
}

/* SentencePiece's IsValidDecodeUTF8: 1 and the length of one well-formed
 * character (shortest form, no surrogates), else 0 and *mblen = 1. */
int spm_utf8_char(const unsigned char *s, size_t len, size_t *mblen)
{
	uint32_t c;
	if (s[0] < 0x80) {
		*mblen = 1;
		return 1;
	}
	if (len >= 2 && (s[0] & 0xE0) == 0xC0) {
		c = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
		if (trail(s[1]) && c >= 0x80 && valid_cp(c)) {
			*mblen = 2;
			return 1;
		}
	} else if (len >= 3 && (s[0] & 0xF0) == 0xE0) {
		c = ((uint32_t)(s[0] & 0x0F) << 12) |
		    ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
		if (trail(s[1]) && trail(s[2]) && c >= 0x800 && valid_cp(c)) {
			*mblen = 3;
			return 1;
		}
	} else if (len >= 4 && (s[0] & 0xF8) == 0xF0) {
		c = ((uint32_t)(s[0] & 0x07) << 18) |
		    ((uint32_t)(s[1] & 0x3F) << 12) |
		    ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
		if (trail(s[1]) && trail(s[2]) && trail(s[3]) &&
		    c >= 0x10000 && valid_cp(c)) {
			*mblen = 4;
			return 1;
		}
	}
	*mblen = 1;
	return 0;
}

int spm_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0, k;
	while (i < len) {
		if (!spm_utf8_char(s + i, len - i, &k))
			return 0;
		i += k;
	}
	return 1;
}

int spm_sb_reserve(struct sbuf *b, size_t extra)
{
	if (extra > SIZE_MAX / 2 - b->n)
		return ERR_NOMEM;
	if (b->n + extra <= b->cap)
		return 0;
	size_t nc = b->cap ? b->cap : 64;
	while (nc < b->n + extra)
		nc *= 2;
	char *np = realloc(b->p, nc);
	if (!np)
		return ERR_NOMEM;
	b->p = np;
	b->cap = nc;
	return 0;
}

int spm_sb_put(struct sbuf *b, const void *s, size_t n)
{
	if (n == 0) /* b->p may still be NULL (an empty unk_surface) */
		return 0;
	if (spm_sb_reserve(b, n))
		return ERR_NOMEM;
	memcpy(b->p + b->n, s, n);
	b->n += n;
	return 0;
}
