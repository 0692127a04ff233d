/*
 * json_cursor — the streaming JSON cursor (see json_cursor.h).
 */
#include "json_cursor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define JSON_MAX_DEPTH 64

/* --- a growable byte buffer --------------------------------------------- */

int buf_put(struct buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

/* --- the streaming cursor --------------------------------------------- */

int jc_fail(struct jc *c, const char *what)
{
	if (c->i >= c->n)
		return err_set(c->e, ERR_FORMAT,
			       "'%s': unexpected end of file at byte %zu "
			       "(truncated?)",
			       c->path, c->n);
	return err_set(c->e, ERR_FORMAT, "'%s': malformed JSON at byte %zu: %s",
		       c->path, c->i, what);
}

void jc_ws(struct jc *c)
{
	while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\n' ||
			       c->s[c->i] == '\t' || c->s[c->i] == '\r'))
		c->i++;
}

int jc_peek(struct jc *c)
{
	jc_ws(c);
	return c->i < c->n ? (unsigned char)c->s[c->i] : -1;
}

int jc_expect(struct jc *c, char ch)
{
	if (jc_peek(c) != (unsigned char)ch) {
		char what[32];
		snprintf(what, sizeof what, "expected '%c'", ch);
		return jc_fail(c, what);
	}
	c->i++;
	return 0;
}

static int jc_hex4(struct jc *c, uint32_t *v)
{
	if (c->n - c->i < 4)
		return jc_fail(c, "short \\u escape");
	uint32_t x = 0;
	for (int k = 0; k < 4; k++) {
		int h = hex_digit((unsigned char)c->s[c->i + (size_t)k]);
		if (h < 0)
			return jc_fail(c, "bad \\u escape");
		x = x << 4 | (uint32_t)h;
	}
	c->i += 4;
	*v = x;
	return 0;
}

int jc_string(struct jc *c, struct buf *out)
{
	out->n = 0;
	if (jc_expect(c, '"'))
		return c->e ? c->e->code : ERR_FORMAT;
	for (;;) {
		size_t start = c->i;
		while (c->i < c->n && c->s[c->i] != '"' && c->s[c->i] != '\\' &&
		       (unsigned char)c->s[c->i] >= 0x20)
			c->i++;
		if (buf_put(out, c->s + start, c->i - start))
			return err_set(c->e, ERR_NOMEM, "out of memory");
		if (c->i >= c->n)
			return jc_fail(c, "unterminated string");
		char ch = c->s[c->i];
		if (ch == '"') {
			c->i++;
			return 0;
		}
		if (ch != '\\')
			return jc_fail(c, "control character in string");
		if (++c->i >= c->n)
			return jc_fail(c, "unterminated string");
		char esc = c->s[c->i++];
		char u8[4];
		size_t ul = 1;
		switch (esc) {
		case '"': u8[0] = '"'; break;
		case '\\': u8[0] = '\\'; break;
		case '/': u8[0] = '/'; break;
		case 'b': u8[0] = '\b'; break;
		case 'f': u8[0] = '\f'; break;
		case 'n': u8[0] = '\n'; break;
		case 'r': u8[0] = '\r'; break;
		case 't': u8[0] = '\t'; break;
		case 'u': {
			uint32_t cp, lo;
			if (jc_hex4(c, &cp))
				return ERR_FORMAT;
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				return jc_fail(c, "lone low surrogate");
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (c->n - c->i < 2 || c->s[c->i] != '\\' ||
				    c->s[c->i + 1] != 'u')
					return jc_fail(c, "lone high surrogate");
				c->i += 2;
				if (jc_hex4(c, &lo))
					return ERR_FORMAT;
				if (lo < 0xDC00 || lo > 0xDFFF)
					return jc_fail(c, "bad surrogate pair");
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				     (lo - 0xDC00);
			}
			ul = utf8_encode(cp, u8);
			break;
		}
		default:
			c->i--;
			return jc_fail(c, "bad escape");
		}
		if (buf_put(out, u8, ul))
			return err_set(c->e, ERR_NOMEM, "out of memory");
	}
}

static int jc_skip_string(struct jc *c)
{
	if (jc_expect(c, '"'))
		return ERR_FORMAT;
	while (c->i < c->n) {
		char ch = c->s[c->i++];
		if (ch == '"')
			return 0;
		if (ch == '\\') {
			if (c->i >= c->n)
				break;
			c->i++;
		} else if ((unsigned char)ch < 0x20) {
			c->i--;
			return jc_fail(c, "control character in string");
		}
	}
	return jc_fail(c, "unterminated string");
}

int jc_skip_scalar(struct jc *c)
{
	size_t start = c->i;
	while (c->i < c->n && strchr("+-.0123456789eEtruefalsn", c->s[c->i]) &&
	       c->s[c->i])
		c->i++;
	if (c->i == start)
		return jc_fail(c, "expected a value");
	return 0;
}

int jc_skip(struct jc *c, int depth)
{
	if (depth > JSON_MAX_DEPTH)
		return jc_fail(c, "nesting too deep");
	int ch = jc_peek(c);
	if (ch == '"')
		return jc_skip_string(c);
	if (ch == '{' || ch == '[') {
		char close = ch == '{' ? '}' : ']';
		c->i++;
		if (jc_peek(c) == close) {
			c->i++;
			return 0;
		}
		for (;;) {
			if (ch == '{') {
				if (jc_skip_string(c) || jc_expect(c, ':'))
					return ERR_FORMAT;
			}
			if (jc_skip(c, depth + 1))
				return ERR_FORMAT;
			bool more;
			int rc = jc_next(c, close,
					 "expected ',' or a closing bracket", &more);
			if (rc || !more)
				return rc;
		}
	}
	if (ch < 0)
		return jc_fail(c, "expected a value");
	return jc_skip_scalar(c);
}

int jc_literal(struct jc *c)
{
	jc_ws(c);
	if (c->n - c->i >= 4 && !memcmp(c->s + c->i, "true", 4)) {
		c->i += 4;
		return 1;
	}
	if (c->n - c->i >= 5 && !memcmp(c->s + c->i, "false", 5)) {
		c->i += 5;
		return 0;
	}
	if (c->n - c->i >= 4 && !memcmp(c->s + c->i, "null", 4)) {
		c->i += 4;
		return -1;
	}
	jc_fail(c, "expected true, false or null");
	return -2;
}

int jc_int(struct jc *c, long long *v)
{
	jc_ws(c);
	size_t start = c->i;
	bool neg = false;
	if (c->i < c->n && c->s[c->i] == '-') {
		neg = true;
		c->i++;
	}
	long long x = 0;
	size_t digits = 0;
	while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
		if (x > 1000000000000LL)
			return jc_fail(c, "integer too large");
		x = x * 10 + (c->s[c->i++] - '0');
		digits++;
	}
	if (!digits) {
		c->i = start;
		return jc_fail(c, "expected an integer");
	}
	if (c->i < c->n && strchr(".eE", c->s[c->i]) && c->s[c->i])
		return jc_fail(c, "expected an integer");
	*v = neg ? -x : x;
	return 0;
}

int jc_next(struct jc *c, char close, const char *what, bool *more)
{
	int d = jc_peek(c);
	c->i++;
	*more = d == ',';
	if (d == ',' || d == (unsigned char)close)
		return 0;
	c->i--;
	return jc_fail(c, what);
}
