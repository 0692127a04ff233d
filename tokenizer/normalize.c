#include "normalize.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text.h"

/* --- the pipeline ---------------------------------------------------- */

void normalizer_free(struct normalizer *nz)
{
	if (!nz)
		return;
	for (size_t i = 0; i < nz->n; i++) {
		free(nz->ops[i].a);
		free(nz->ops[i].b);
	}
	free(nz->ops);
	nz->ops = NULL;
	nz->n = 0;
}

int normalizer_add(struct normalizer *nz, enum norm_kind kind, const char *a,
		   size_t a_len, const char *b, size_t b_len, struct err *e)
{
	struct norm_op *ops = realloc(nz->ops, (nz->n + 1) * sizeof *ops);
	if (!ops)
		return err_set(e, ERR_NOMEM, "out of memory");
	nz->ops = ops;
	struct norm_op *op = &ops[nz->n];
	memset(op, 0, sizeof *op);
	op->kind = kind;
	op->a = bytes_dup(a ? a : "", a ? a_len : 0);
	op->b = bytes_dup(b ? b : "", b ? b_len : 0);
	if (!op->a || !op->b) {
		free(op->a);
		free(op->b);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	op->a_len = a ? a_len : 0;
	op->b_len = b ? b_len : 0;
	nz->n++;
	return 0;
}

/* A growable byte buffer. */
struct sbuf {
	char *p;
	size_t n, cap;
};

static int sb_reserve(struct sbuf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->n - 1)
		return -1;
	if (b->n + extra + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->n + extra + 1)
		cap = cap > SIZE_MAX / 2 ? b->n + extra + 1 : cap * 2;
	char *p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (sb_reserve(b, n))
		return -1;
	if (n)
		memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

static int op_replace(const struct norm_op *op, const char *s, size_t n,
		      struct sbuf *o)
{
	size_t i = 0, start = 0;
	while (i + op->a_len <= n) {
		if (s[i] == op->a[0] && !memcmp(s + i, op->a, op->a_len)) {
			if (sb_put(o, s + start, i - start) ||
			    sb_put(o, op->b, op->b_len))
				return -1;
			i += op->a_len;
			start = i;
		} else {
			i++;
		}
	}
	return sb_put(o, s + start, n - start);
}

static int op_unicode(enum norm_kind k, const char *s, size_t n,
		      struct sbuf *o)
{
	int flags = UTF8PROC_STABLE;
	switch (k) {
	case NORM_NFC: flags |= UTF8PROC_COMPOSE; break;
	case NORM_NFD: flags |= UTF8PROC_DECOMPOSE; break;
	case NORM_NFKC: flags |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
	default: flags |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
	}
	if (n == 0)
		return sb_put(o, "", 0);
	if (n > (size_t)INT32_MAX / 4)
		return -1;
	utf8proc_uint8_t *res = NULL;
	utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s,
					  (utf8proc_ssize_t)n, &res,
					  (utf8proc_option_t)flags);
	if (r < 0)
		return -1;
	int rc = sb_put(o, (const char *)res, (size_t)r);
	free(res);
	return rc;
}

static int op_lower(const char *s, size_t n, struct sbuf *o)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	char tmp[8];
	while (i < n) {
		if (u[i] < 0x80) {
			char c = (char)(u[i] >= 'A' && u[i] <= 'Z' ? u[i] + 32 : u[i]);
			if (sb_put(o, &c, 1))
				return -1;
			i++;
			continue;
		}
		size_t l;
		uint32_t cp = utf8_decode(u + i, &l);
		if (cp == 0x130) { /* Rust: 'İ' lowercases to "i\u0307" */
			if (sb_put(o, "i\xCC\x87", 3))
				return -1;
		} else {
			uint32_t lc = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
			if (sb_put(o, tmp, utf8_encode(lc, tmp)))
				return -1;
		}
		i += l;
	}
	return 0;
}

static int op_strip(const struct norm_op *op, const char *s, size_t n,
		    struct sbuf *o)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t a = 0, b = n, l;
	if (op->left)
		while (a < b && uni_is_space(utf8_decode(u + a, &l)))
			a += l;
	if (op->right)
		while (b > a) {
			size_t k = b - 1;
			while (k > a && (u[k] & 0xC0) == 0x80)
				k--;
			if (!uni_is_space(utf8_decode(u + k, &l)))
				break;
			b = k;
		}
	return sb_put(o, s + a, b - a);
}

int normalizer_apply(const struct normalizer *nz, const char *in, size_t len,
		     char **out, size_t *out_len, struct err *e)
{
	struct sbuf cur = {0}, nxt = {0};
	*out = NULL;
	*out_len = 0;
	if (sb_put(&cur, in, len))
		goto nomem;
	for (size_t i = 0; nz && i < nz->n; i++) {
		const struct norm_op *op = &nz->ops[i];
		nxt.n = 0;
		int rc = 0;
		switch (op->kind) {
		case NORM_PREPEND:
			if (cur.n == 0)
				continue;
			rc = sb_put(&nxt, op->a, op->a_len) ||
			     sb_put(&nxt, cur.p, cur.n);
			break;
		case NORM_REPLACE:
			rc = op_replace(op, cur.p, cur.n, &nxt);
			break;
		case NORM_NFC:
		case NORM_NFD:
		case NORM_NFKC:
		case NORM_NFKD:
			rc = op_unicode(op->kind, cur.p, cur.n, &nxt);
			break;
		case NORM_STRIP:
			rc = op_strip(op, cur.p, cur.n, &nxt);
			break;
		case NORM_LOWERCASE:
			rc = op_lower(cur.p, cur.n, &nxt);
			break;
		}
		if (rc)
			goto nomem;
		struct sbuf t = cur;
		cur = nxt;
		nxt = t;
	}
	free(nxt.p);
	*out = cur.p;
	*out_len = cur.n;
	return 0;
nomem:
	free(cur.p);
	free(nxt.p);
	return err_set(e, ERR_NOMEM, "out of memory normalizing %zu bytes",
		       len);
}
