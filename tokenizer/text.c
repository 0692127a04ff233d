/*
 * text — byte and text primitives shared by the tokenizer's files (see
 * text.h).
 */
#include "text.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* --- UTF-8 ----------------------------------------------------------- */

/* Scans one sequence at s: returns its length when valid; otherwise stores
 * the length of the maximal invalid subpart (>= 1) in *bad and returns 0. */
static size_t utf8_scan(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char c = s[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		*bad = 1;
		return 0;
	}
	size_t i = 1;
	for (; i <= need; i++) {
		if (i >= n)
			break;
		unsigned char lo_i = i == 1 ? lo : 0x80, hi_i = i == 1 ? hi : 0xBF;
		if (s[i] < lo_i || s[i] > hi_i)
			break;
	}
	if (i == need + 1)
		return need + 1;
	*bad = i;
	return 0;
}

size_t utf8_valid_len(const unsigned char *s, size_t n)
{
	size_t bad;
	if (n == 0)
		return 0;
	return utf8_scan(s, n, &bad);
}

uint32_t utf8_decode(const unsigned char *s, size_t *len)
{
	unsigned char c = s[0];
	if (c < 0x80) {
		*len = 1;
		return c;
	}
	if (c < 0xE0) {
		*len = 2;
		return ((uint32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
	}
	if (c < 0xF0) {
		*len = 3;
		return ((uint32_t)(c & 0x0F) << 12) |
		       ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
	}
	*len = 4;
	return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
	       ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

size_t utf8_encode(uint32_t cp, char *out)
{
	unsigned char *o = (unsigned char *)out;
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

int utf8_sanitize(const char *in, size_t len, char **out, size_t *out_len,
		  struct err *e)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, bad = 0;
	*out = NULL;
	*out_len = 0;
	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		size_t k = utf8_scan(s + i, len - i, &bad);
		if (!k)
			break;
		i += k;
	}
	if (i == len)
		return 0;
	/* Each invalid subpart (>= 1 byte) becomes 3 bytes: at most 3x. */
	if (len > (SIZE_MAX - 1) / 3)
		return err_set(e, ERR_NOMEM, "text of %zu bytes is too long", len);
	char *buf = malloc(3 * len + 1);
	if (!buf)
		return err_set(e, ERR_NOMEM, "out of memory sanitizing text");
	memcpy(buf, in, i);
	size_t o = i;
	while (i < len) {
		size_t k = utf8_scan(s + i, len - i, &bad);
		if (k) {
			memcpy(buf + o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(buf + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i += bad;
		}
	}
	buf[o] = '\0';
	*out = buf;
	*out_len = o;
	return 1;
}

bool uni_is_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 ||
	       c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
	       c == 0x3000;
}

bool uni_is_word(uint32_t c)
{
	if (c < 0x80)
		return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		       (c >= 'A' && c <= 'Z') || c == '_';
	if (c == 0x200C || c == 0x200D)
		return true;
	switch (utf8proc_category((utf8proc_int32_t)c)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ME:
	case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_PC:
		return true;
	default:
		return false;
	}
}

/* --- bytes ------------------------------------------------------------ */

int hex_digit(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

char *bytes_dup(const void *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		if (n)
			memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}
