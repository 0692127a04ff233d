#include "normalize.h"

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

static char *dup_bytes(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		if (n)
			memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
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
	op->a = dup_bytes(a ? a : "", a ? a_len : 0);
	op->b = dup_bytes(b ? b : "", b ? b_len : 0);
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
