/*
 * hfjson — loads a Hugging Face tokenizer.json into struct tokenizer.
 *
 * The model's vocab and merges (InkubaLM: 61,788 pieces, 136,619 merges,
 * 3.9 MB) are read by a small streaming JSON cursor straight into the
 * vocabulary, so loading takes a few tens of ms and no DOM of 200k nodes is
 * ever built; the small top-level members (added_tokens, normalizer,
 * pre_tokenizer, post_processor, decoder) are located by the cursor and
 * parsed with cJSON. Everything read is hostile: every count is bounded.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "tok_impl.h"

#define TOKJSON_MAX_BYTES ((size_t)1 << 30)
#define JSON_MAX_DEPTH 64

/* --- a growable byte buffer --------------------------------------------- */

struct buf {
	char *p;
	size_t n, cap;
};

static int buf_put(struct buf *b, const char *s, size_t n)
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

struct jc {
	const char *s;
	size_t n, i;
	const char *path;
	struct err *e;
};

static int jc_fail(struct jc *c, const char *what)
{
	if (c->i >= c->n)
		return err_set(c->e, ERR_FORMAT,
			       "'%s': unexpected end of file at byte %zu "
			       "(truncated?)",
			       c->path, c->n);
	return err_set(c->e, ERR_FORMAT, "'%s': malformed JSON at byte %zu: %s",
		       c->path, c->i, what);
}

static void jc_ws(struct jc *c)
{
	while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\n' ||
			       c->s[c->i] == '\t' || c->s[c->i] == '\r'))
		c->i++;
}

static int jc_peek(struct jc *c)
{
	jc_ws(c);
	return c->i < c->n ? (unsigned char)c->s[c->i] : -1;
}

static int jc_expect(struct jc *c, char ch)
{
	if (jc_peek(c) != (unsigned char)ch) {
		char what[32];
		snprintf(what, sizeof what, "expected '%c'", ch);
		return jc_fail(c, what);
	}
	c->i++;
	return 0;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int jc_hex4(struct jc *c, uint32_t *v)
{
	if (c->n - c->i < 4)
		return jc_fail(c, "short \\u escape");
	uint32_t x = 0;
	for (int k = 0; k < 4; k++) {
		int h = hexval((unsigned char)c->s[c->i + (size_t)k]);
		if (h < 0)
			return jc_fail(c, "bad \\u escape");
		x = x << 4 | (uint32_t)h;
	}
	c->i += 4;
	*v = x;
	return 0;
}

/* Reads a string (cursor at the opening quote) into out (reset first). */
static int jc_string(struct jc *c, struct buf *out)
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

static int jc_skip(struct jc *c, int depth);

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

static int jc_skip_scalar(struct jc *c)
{
	size_t start = c->i;
	while (c->i < c->n && strchr("+-.0123456789eEtruefalsn", c->s[c->i]) &&
	       c->s[c->i])
		c->i++;
	if (c->i == start)
		return jc_fail(c, "expected a value");
	return 0;
}

static int jc_skip(struct jc *c, int depth)
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
			int d = jc_peek(c);
			if (d == ',') {
				c->i++;
				continue;
			}
			if (d == close) {
				c->i++;
				return 0;
			}
			return jc_fail(c, "expected ',' or a closing bracket");
		}
	}
	if (ch < 0)
		return jc_fail(c, "expected a value");
	return jc_skip_scalar(c);
}

/* true / false / null: returns 1, 0, or -1 (null); -2 on error. */
static int jc_literal(struct jc *c)
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

static int jc_int(struct jc *c, long long *v)
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

/* --- the model object --------------------------------------------------- */

struct model_tmp {
	struct buf type, unk, scratch;
	bool have_type, have_unk;
	struct buf vstr;           /* vocab piece bytes */
	size_t *voff;              /* (nv) */
	uint32_t *vlen;            /* (nv) */
	int32_t *vid;              /* (nv) */
	size_t nv, vcap;
	struct buf mstr;           /* merge parts: left then right */
	size_t *moff;              /* (nm) */
	uint32_t *mll, *mrl;       /* (nm) */
	size_t nm, mcap;
	bool have_merges;
};

static void model_tmp_free(struct model_tmp *m)
{
	free(m->type.p);
	free(m->unk.p);
	free(m->scratch.p);
	free(m->vstr.p);
	free(m->voff);
	free(m->vlen);
	free(m->vid);
	free(m->mstr.p);
	free(m->moff);
	free(m->mll);
	free(m->mrl);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 1024;
	while (c < need)
		c *= 2;
	void *q = realloc(*p, c * elem);
	if (!q)
		return -1;
	*p = q;
	return 0;
}

static int vocab_push(struct model_tmp *m, const char *s, size_t n,
		      long long id, struct jc *c)
{
	if (id < 0 || id >= BPE_MAX_VOCAB)
		return err_set(c->e, ERR_FORMAT,
			       "'%s': vocab piece '%.*s' has id %lld, out of "
			       "range",
			       c->path, (int)(n > 64 ? 64 : n), s, id);
	if (n >= UINT32_MAX / 2)
		return err_set(c->e, ERR_FORMAT, "'%s': piece too long", c->path);
	if (m->nv == m->vcap) {
		size_t cap = m->vcap;
		if (grow((void **)&m->voff, &cap, m->nv + 1, sizeof *m->voff) ||
		    grow((void **)&m->vlen, &(size_t){m->vcap}, m->nv + 1,
			 sizeof *m->vlen) ||
		    grow((void **)&m->vid, &(size_t){m->vcap}, m->nv + 1,
			 sizeof *m->vid))
			return err_set(c->e, ERR_NOMEM, "out of memory");
		m->vcap = m->vcap ? m->vcap * 2 : 1024;
		while (m->vcap < m->nv + 1)
			m->vcap *= 2;
	}
	m->voff[m->nv] = m->vstr.n;
	m->vlen[m->nv] = (uint32_t)n;
	m->vid[m->nv] = (int32_t)id;
	if (buf_put(&m->vstr, s, n))
		return err_set(c->e, ERR_NOMEM, "out of memory");
	m->nv++;
	return 0;
}

static int merge_push(struct model_tmp *m, const char *l, size_t ll,
		      const char *r, size_t rl, struct jc *c)
{
	if (ll >= UINT32_MAX / 2 || rl >= UINT32_MAX / 2)
		return err_set(c->e, ERR_FORMAT, "'%s': merge too long", c->path);
	if (m->nm == m->mcap) {
		if (grow((void **)&m->moff, &(size_t){m->mcap}, m->nm + 1,
			 sizeof *m->moff) ||
		    grow((void **)&m->mll, &(size_t){m->mcap}, m->nm + 1,
			 sizeof *m->mll) ||
		    grow((void **)&m->mrl, &(size_t){m->mcap}, m->nm + 1,
			 sizeof *m->mrl))
			return err_set(c->e, ERR_NOMEM, "out of memory");
		m->mcap = m->mcap ? m->mcap * 2 : 1024;
		while (m->mcap < m->nm + 1)
			m->mcap *= 2;
	}
	m->moff[m->nm] = m->mstr.n;
	m->mll[m->nm] = (uint32_t)ll;
	m->mrl[m->nm] = (uint32_t)rl;
	if (buf_put(&m->mstr, l, ll) || buf_put(&m->mstr, r, rl))
		return err_set(c->e, ERR_NOMEM, "out of memory");
	m->nm++;
	return 0;
}

static int parse_vocab(struct jc *c, struct model_tmp *m)
{
	if (jc_expect(c, '{'))
		return ERR_FORMAT;
	if (jc_peek(c) == '}') {
		c->i++;
		return 0;
	}
	for (;;) {
		long long id = 0;
		if (jc_string(c, &m->scratch) || jc_expect(c, ':') ||
		    jc_int(c, &id))
			return c->e ? c->e->code : ERR_FORMAT;
		if (vocab_push(m, m->scratch.p, m->scratch.n, id, c))
			return c->e ? c->e->code : ERR_FORMAT;
		int d = jc_peek(c);
		c->i++;
		if (d == ',')
			continue;
		if (d == '}')
			return 0;
		c->i--;
		return jc_fail(c, "expected ',' or '}' in vocab");
	}
}

static int parse_merges(struct jc *c, struct model_tmp *m)
{
	struct buf right = {0};
	int rc = 0;
	m->have_merges = true;
	if (jc_expect(c, '['))
		return ERR_FORMAT;
	if (jc_peek(c) == ']') {
		c->i++;
		return 0;
	}
	for (;;) {
		int ch = jc_peek(c);
		if (ch == '"') {
			if ((rc = jc_string(c, &m->scratch)))
				break;
			/* "a b": exactly one space, as the reference requires */
			char *sp = memchr(m->scratch.p, ' ', m->scratch.n);
			if (!sp || memchr(sp + 1, ' ',
					  m->scratch.n - (size_t)(sp + 1 - m->scratch.p))) {
				rc = err_set(c->e, ERR_FORMAT,
					     "'%s': merge %zu '%.*s' is not two "
					     "pieces separated by one space",
					     c->path, m->nm,
					     (int)(m->scratch.n > 64 ? 64 : m->scratch.n),
					     m->scratch.p);
				break;
			}
			size_t ll = (size_t)(sp - m->scratch.p);
			if ((rc = merge_push(m, m->scratch.p, ll, sp + 1,
					     m->scratch.n - ll - 1, c)))
				break;
		} else if (ch == '[') {
			c->i++;
			if ((rc = jc_string(c, &m->scratch)) ||
			    (rc = jc_expect(c, ',')) ||
			    (rc = jc_string(c, &right)) ||
			    (rc = jc_expect(c, ']')))
				break;
			if ((rc = merge_push(m, m->scratch.p, m->scratch.n,
					     right.p, right.n, c)))
				break;
		} else {
			rc = jc_fail(c, "a merge must be \"a b\" or [\"a\", \"b\"]");
			break;
		}
		int d = jc_peek(c);
		c->i++;
		if (d == ',')
			continue;
		if (d == ']')
			break;
		c->i--;
		rc = jc_fail(c, "expected ',' or ']' in merges");
		break;
	}
	free(right.p);
	return rc;
}

static int parse_model(struct jc *c, struct tokenizer *t,
		       struct model_tmp *m)
{
	if (jc_expect(c, '{'))
		return ERR_FORMAT;
	if (jc_peek(c) == '}') {
		c->i++;
		return 0;
	}
	struct buf key = {0};
	int rc = 0;
	for (;;) {
		if ((rc = jc_string(c, &key)) || (rc = jc_expect(c, ':')))
			break;
		const char *k = key.p;
		if (!strcmp(k, "type")) {
			m->have_type = true;
			rc = jc_string(c, &m->type);
		} else if (!strcmp(k, "vocab")) {
			rc = parse_vocab(c, m);
		} else if (!strcmp(k, "merges")) {
			rc = parse_merges(c, m);
		} else if (!strcmp(k, "unk_token")) {
			if (jc_peek(c) == '"') {
				m->have_unk = true;
				rc = jc_string(c, &m->unk);
			} else if (jc_literal(c) != -1) {
				rc = jc_fail(c, "unk_token must be a string or null");
			}
		} else if (!strcmp(k, "fuse_unk") || !strcmp(k, "byte_fallback") ||
			   !strcmp(k, "ignore_merges")) {
			int v = jc_literal(c);
			if (v == -2) {
				rc = ERR_FORMAT;
				break;
			}
			bool on = v == 1;
			if (k[0] == 'f')
				t->bpe.fuse_unk = on;
			else if (k[0] == 'b')
				t->bpe.byte_fallback = on;
			else
				t->bpe.ignore_merges = on;
		} else if (!strcmp(k, "continuing_subword_prefix") ||
			   !strcmp(k, "end_of_word_suffix")) {
			if (jc_peek(c) == '"') {
				if ((rc = jc_string(c, &m->scratch)))
					break;
				if (m->scratch.n) {
					rc = err_set(c->e, ERR_UNSUPPORTED,
						     "'%s': unsupported BPE option "
						     "%s '%s'",
						     c->path, k, m->scratch.p);
					break;
				}
			} else if (jc_literal(c) != -1) {
				rc = jc_fail(c, "expected a string or null");
			}
		} else if (!strcmp(k, "dropout")) {
			if (jc_peek(c) == 'n') {
				jc_literal(c);
			} else {
				size_t start = c->i;
				if ((rc = jc_skip_scalar(c)))
					break;
				char num[64];
				size_t l = c->i - start;
				snprintf(num, sizeof num, "%.*s",
					 (int)(l > 63 ? 63 : l), c->s + start);
				if (strtod(num, NULL) != 0.0) {
					rc = err_set(c->e, ERR_UNSUPPORTED,
						     "'%s': unsupported BPE "
						     "dropout %s (only null or 0)",
						     c->path, num);
					break;
				}
			}
		} else {
			rc = jc_skip(c, 1);
		}
		if (rc)
			break;
		int d = jc_peek(c);
		c->i++;
		if (d == ',')
			continue;
		if (d == '}')
			break;
		c->i--;
		rc = jc_fail(c, "expected ',' or '}' in model");
		break;
	}
	free(key.p);
	return rc;
}

/* --- cJSON parts ------------------------------------------------------ */

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool jbool(const cJSON *o, const char *key, bool def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

static int parse_normalizer(struct tokenizer *t, const cJSON *j,
			    const char *path, int depth, struct err *e)
{
	if (!j || cJSON_IsNull(j))
		return 0;
	const char *type = jstr(j, "type");
	if (!type || depth > 16)
		return err_set(e, ERR_FORMAT, "'%s': normalizer without a type",
			       path);
	if (!strcmp(type, "Sequence")) {
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "normalizers");
		const cJSON *it;
		cJSON_ArrayForEach(it, arr)
		{
			int rc = parse_normalizer(t, it, path, depth + 1, e);
			if (rc)
				return rc;
		}
		return 0;
	}
	static const struct {
		const char *name;
		enum norm_kind kind;
	} simple[] = {{"NFC", NORM_NFC},	 {"NFD", NORM_NFD},
		      {"NFKC", NORM_NFKC},	 {"NFKD", NORM_NFKD},
		      {"Lowercase", NORM_LOWERCASE}};
	for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
		if (!strcmp(type, simple[i].name))
			return normalizer_add(&t->norm, simple[i].kind, NULL, 0,
					      NULL, 0, e);
	if (!strcmp(type, "Prepend")) {
		const char *p = jstr(j, "prepend");
		if (!p)
			return err_set(e, ERR_FORMAT,
				       "'%s': Prepend normalizer without prepend",
				       path);
		return normalizer_add(&t->norm, NORM_PREPEND, p, strlen(p), NULL,
				      0, e);
	}
	if (!strcmp(type, "Replace")) {
		const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
		const char *s = jstr(pat, "String");
		const char *content = jstr(j, "content");
		if (!s && jstr(pat, "Regex"))
			return err_set(e, ERR_UNSUPPORTED,
				       "'%s': unsupported normalizer 'Replace' "
				       "with a Regex pattern '%s'",
				       path, jstr(pat, "Regex"));
		if (!s || !*s || !content)
			return err_set(e, ERR_FORMAT,
				       "'%s': Replace normalizer needs a non-empty "
				       "String pattern and a content",
				       path);
		return normalizer_add(&t->norm, NORM_REPLACE, s, strlen(s),
				      content, strlen(content), e);
	}
	if (!strcmp(type, "Strip")) {
		int rc = normalizer_add(&t->norm, NORM_STRIP, NULL, 0, NULL, 0, e);
		if (!rc) {
			t->norm.ops[t->norm.n - 1].left = jbool(j, "strip_left", true);
			t->norm.ops[t->norm.n - 1].right =
				jbool(j, "strip_right", true);
		}
		return rc;
	}
	return err_set(e, ERR_UNSUPPORTED, "'%s': unsupported normalizer '%s'",
		       path, type);
}

static int one_char(const char *s, char *out, size_t cap, size_t *len)
{
	size_t n = s ? strlen(s) : 0;
	if (!n || n >= cap || utf8_valid_len((const unsigned char *)s, n) != n)
		return -1;
	memcpy(out, s, n + 1);
	*len = n;
	return 0;
}

static int parse_prepend(const cJSON *j, enum tok_prepend *p)
{
	const char *s = jstr(j, "prepend_scheme");
	if (!s) {
		*p = jbool(j, "add_prefix_space", true) ? PREPEND_ALWAYS
							: PREPEND_NEVER;
		return 0;
	}
	if (!strcmp(s, "always"))
		*p = PREPEND_ALWAYS;
	else if (!strcmp(s, "first"))
		*p = PREPEND_FIRST;
	else if (!strcmp(s, "never"))
		*p = PREPEND_NEVER;
	else
		return -1;
	return 0;
}

static int parse_pretok(struct tokenizer *t, const cJSON *j, const char *path,
			struct err *e)
{
	if (!j || cJSON_IsNull(j))
		return 0;
	const char *type = jstr(j, "type");
	if (!type)
		return err_set(e, ERR_FORMAT, "'%s': pre_tokenizer without a type",
			       path);
	struct tok_pretok *p = &t->pretok;
	if (!strcmp(type, "Sequence")) {
		const cJSON *arr =
			cJSON_GetObjectItemCaseSensitive(j, "pretokenizers");
		if (cJSON_GetArraySize(arr) == 1)
			return parse_pretok(t, cJSON_GetArrayItem(arr, 0), path, e);
		if (cJSON_GetArraySize(arr) == 0)
			return 0;
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': unsupported pre_tokenizer 'Sequence' of "
			       "%d pre-tokenizers",
			       path, cJSON_GetArraySize(arr));
	}
	if (!strcmp(type, "Metaspace")) {
		p->kind = PRETOK_METASPACE;
		if (one_char(jstr(j, "replacement"), p->repl, sizeof p->repl,
			     &p->repl_len) ||
		    parse_prepend(j, &p->prepend))
			return err_set(e, ERR_FORMAT,
				       "'%s': bad Metaspace pre_tokenizer", path);
		p->split = jbool(j, "split", true);
		return 0;
	}
	if (!strcmp(type, "WhitespaceSplit")) {
		p->kind = PRETOK_WHITESPACE_SPLIT;
		return 0;
	}
	if (!strcmp(type, "Split")) {
		const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
		const char *s = jstr(pat, "String");
		const char *beh = jstr(j, "behavior");
		static const char *names[] = {"Removed", "Isolated",
					      "MergedWithPrevious",
					      "MergedWithNext", "Contiguous"};
		if (!s || !*s || jbool(j, "invert", false) || !beh)
			return err_set(e, ERR_UNSUPPORTED,
				       "'%s': unsupported pre_tokenizer 'Split' "
				       "(only a String pattern, invert false)",
				       path);
		p->kind = PRETOK_SPLIT;
		size_t k = 0;
		for (; k < 5 && strcmp(beh, names[k]); k++)
			;
		if (k == 5)
			return err_set(e, ERR_UNSUPPORTED,
				       "'%s': unsupported Split behavior '%s'",
				       path, beh);
		p->behavior = (enum tok_split_behavior)k;
		p->pattern_len = strlen(s);
		p->pattern = malloc(p->pattern_len + 1);
		if (!p->pattern)
			return err_set(e, ERR_NOMEM, "out of memory");
		memcpy(p->pattern, s, p->pattern_len + 1);
		return 0;
	}
	return err_set(e, ERR_UNSUPPORTED, "'%s': unsupported pre_tokenizer '%s'",
		       path, type);
}

static int ids_append(int **v, size_t *n, int id)
{
	int *p = realloc(*v, (*n + 1) * sizeof *p);
	if (!p)
		return -1;
	p[(*n)++] = id;
	*v = p;
	return 0;
}

static int parse_post(struct tokenizer *t, const cJSON *j, const char *path,
		      struct err *e)
{
	if (!j || cJSON_IsNull(j))
		return 0;
	const char *type = jstr(j, "type");
	if (!type || strcmp(type, "TemplateProcessing"))
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': unsupported post_processor '%s'", path,
			       type ? type : "(no type)");
	const cJSON *single = cJSON_GetObjectItemCaseSensitive(j, "single");
	const cJSON *specials =
		cJSON_GetObjectItemCaseSensitive(j, "special_tokens");
	const cJSON *it;
	int seen_a = 0;
	if (!cJSON_IsArray(single))
		return err_set(e, ERR_FORMAT,
			       "'%s': TemplateProcessing without a single template",
			       path);
	cJSON_ArrayForEach(it, single)
	{
		const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
		const cJSON *sq = cJSON_GetObjectItemCaseSensitive(it, "Sequence");
		if (sq) {
			if (seen_a++)
				return err_set(e, ERR_UNSUPPORTED,
					       "'%s': template with two sequences",
					       path);
			continue;
		}
		const char *name = jstr(sp, "id");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(specials, name ? name : "");
		const cJSON *ids = cJSON_GetObjectItemCaseSensitive(st, "ids");
		if (!name || !cJSON_IsArray(ids))
			return err_set(e, ERR_FORMAT,
				       "'%s': template special token '%s' is not "
				       "in special_tokens",
				       path, name ? name : "?");
		const cJSON *idv;
		cJSON_ArrayForEach(idv, ids)
		{
			if (!cJSON_IsNumber(idv) || idv->valuedouble < 0 ||
			    idv->valuedouble >= BPE_MAX_VOCAB)
				return err_set(e, ERR_FORMAT,
					       "'%s': bad id of template token '%s'",
					       path, name);
			int id = (int)idv->valuedouble;
			if (seen_a ? ids_append(&t->tpl_post, &t->n_tpl_post, id)
				   : ids_append(&t->tpl_pre, &t->n_tpl_pre, id))
				return err_set(e, ERR_NOMEM, "out of memory");
		}
	}
	return 0;
}

static int parse_decoder(struct tokenizer *t, const cJSON *j, const char *path,
			 int depth, struct err *e)
{
	if (!j || cJSON_IsNull(j))
		return 0;
	t->has_decoder = true;
	const char *type = jstr(j, "type");
	if (!type || depth > 16)
		return err_set(e, ERR_FORMAT, "'%s': decoder without a type", path);
	if (!strcmp(type, "Sequence")) {
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "decoders");
		const cJSON *it;
		cJSON_ArrayForEach(it, arr)
		{
			int rc = parse_decoder(t, it, path, depth + 1, e);
			if (rc)
				return rc;
		}
		return 0;
	}
	struct tok_dec_op op;
	memset(&op, 0, sizeof op);
	if (!strcmp(type, "ByteFallback")) {
		op.kind = DEC_BYTE_FALLBACK;
	} else if (!strcmp(type, "Fuse")) {
		op.kind = DEC_FUSE;
	} else if (!strcmp(type, "Replace")) {
		const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
		const char *s = jstr(pat, "String"), *c = jstr(j, "content");
		if (!s && jstr(pat, "Regex"))
			return err_set(e, ERR_UNSUPPORTED,
				       "'%s': unsupported decoder 'Replace' with a "
				       "Regex pattern",
				       path);
		if (!s || !*s || !c)
			return err_set(e, ERR_FORMAT, "'%s': bad Replace decoder",
				       path);
		op.kind = DEC_REPLACE;
		op.a = strdup(s);
		op.b = strdup(c);
		op.a_len = strlen(s);
		op.b_len = strlen(c);
		if (!op.a || !op.b) {
			free(op.a);
			free(op.b);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
	} else if (!strcmp(type, "Strip")) {
		const char *c = jstr(j, "content");
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "start");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "stop");
		if (one_char(c, op.repl, sizeof op.repl, &op.repl_len) ||
		    !cJSON_IsNumber(a) || !cJSON_IsNumber(b) ||
		    a->valuedouble < 0 || b->valuedouble < 0 ||
		    a->valuedouble > 1e6 || b->valuedouble > 1e6)
			return err_set(e, ERR_FORMAT, "'%s': bad Strip decoder",
				       path);
		op.kind = DEC_STRIP;
		op.start = (size_t)a->valuedouble;
		op.stop = (size_t)b->valuedouble;
	} else if (!strcmp(type, "Metaspace")) {
		op.kind = DEC_METASPACE;
		if (one_char(jstr(j, "replacement"), op.repl, sizeof op.repl,
			     &op.repl_len) ||
		    parse_prepend(j, &op.prepend))
			return err_set(e, ERR_FORMAT, "'%s': bad Metaspace decoder",
				       path);
	} else {
		return err_set(e, ERR_UNSUPPORTED, "'%s': unsupported decoder '%s'",
			       path, type);
	}
	struct tok_dec_op *d = realloc(t->dec, (t->n_dec + 1) * sizeof *d);
	if (!d) {
		free(op.a);
		free(op.b);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	t->dec = d;
	t->dec[t->n_dec++] = op;
	return 0;
}

static int parse_added(struct tokenizer *t, const cJSON *j, const char *path,
		       struct err *e)
{
	if (!j || cJSON_IsNull(j))
		return 0;
	if (!cJSON_IsArray(j))
		return err_set(e, ERR_FORMAT, "'%s': added_tokens is not a list",
			       path);
	int n = cJSON_GetArraySize(j);
	t->added = calloc(n ? (size_t)n : 1, sizeof *t->added);
	if (!t->added)
		return err_set(e, ERR_NOMEM, "out of memory");
	const cJSON *it;
	cJSON_ArrayForEach(it, j)
	{
		const char *content = jstr(it, "content");
		const cJSON *idv = cJSON_GetObjectItemCaseSensitive(it, "id");
		if (!content || !cJSON_IsNumber(idv) || idv->valuedouble < 0 ||
		    idv->valuedouble >= BPE_MAX_VOCAB)
			return err_set(e, ERR_FORMAT,
				       "'%s': added token %zu lacks a content or "
				       "a valid id",
				       path, t->n_added);
		size_t len = strlen(content);
		if (!len)
			continue; /* the reference ignores empty tokens */
		struct tok_added *a = &t->added[t->n_added];
		a->special = jbool(it, "special", false);
		a->single_word = jbool(it, "single_word", false);
		a->lstrip = jbool(it, "lstrip", false);
		a->rstrip = jbool(it, "rstrip", false);
		a->normalized = jbool(it, "normalized", !a->special);
		/* A content already in the model keeps the model's id. */
		int id = bpe_piece_id(&t->bpe, content, len);
		if (id < 0) {
			id = (int)idv->valuedouble;
			if (id < t->bpe.n_vocab &&
			    (t->bpe.flags[id] & BPE_PIECE_PRESENT))
				return err_set(e, ERR_FORMAT,
					       "'%s': added token '%s' has id %d, "
					       "which is the piece '%s'",
					       path, content, id,
					       t->bpe.arena + t->bpe.piece_off[id]);
		}
		uint8_t fl = BPE_PIECE_ADDED | (a->special ? BPE_PIECE_SPECIAL : 0);
		if (bpe_set_piece(&t->bpe, id, content, len, fl, e))
			return err_wrap(e, "'%s'", path);
		a->id = id;
		a->len = len;
		a->content = strdup(content);
		if (!a->content)
			return err_set(e, ERR_NOMEM, "out of memory");
		t->n_added++;
	}
	return 0;
}

/* --- the whole file ----------------------------------------------------- */

struct span {
	const char *s;
	size_t n;
};

static int parse_span(const struct span *sp, cJSON **out, const char *path,
		      const char *what, struct err *e)
{
	*out = NULL;
	if (!sp->s)
		return 0;
	*out = cJSON_ParseWithLength(sp->s, sp->n);
	if (!*out)
		return err_set(e, ERR_FORMAT, "'%s': cannot parse '%s'", path,
			       what);
	return 0;
}

static int build_model(struct tokenizer *t, struct model_tmp *m,
		       const char *path, struct err *e)
{
	const char *type = m->have_type ? m->type.p : NULL;
	if (type && strcmp(type, "BPE"))
		return err_set(e, ERR_UNSUPPORTED, "'%s': unsupported model '%s'",
			       path, type);
	if (!type && !m->have_merges)
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': unsupported model (no type, no merges)",
			       path);
	int max_id = -1;
	for (size_t i = 0; i < m->nv; i++)
		if (m->vid[i] > max_id)
			max_id = m->vid[i];
	if (bpe_reserve_ids(&t->bpe, max_id + 1, e))
		return err_wrap(e, "'%s'", path);
	for (size_t i = 0; i < m->nv; i++)
		if (bpe_set_piece(&t->bpe, m->vid[i], m->vstr.p + m->voff[i],
				  m->vlen[i], 0, e))
			return err_wrap(e, "'%s'", path);
	for (size_t i = 0; i < m->nm; i++) {
		const char *l = m->mstr.p + m->moff[i];
		if (bpe_add_merge_str(&t->bpe, l, m->mll[i], l + m->mll[i],
				      m->mrl[i], e))
			return err_wrap(e, "'%s'", path);
	}
	if (m->have_unk) {
		t->bpe.unk_id = bpe_piece_id(&t->bpe, m->unk.p, m->unk.n);
		if (t->bpe.unk_id < 0)
			return err_set(e, ERR_FORMAT,
				       "'%s': unk_token '%s' is not in the "
				       "vocabulary",
				       path, m->unk.p);
	}
	return 0;
}

int hf_load_json(struct tokenizer *t, const char *path, struct err *e)
{
	char *data = NULL;
	size_t len = 0;
	int rc = file_read_all(path, TOKJSON_MAX_BYTES, &data, &len, e);
	if (rc)
		return rc;
	rc = hf_load_json_text(t, data, len, path, e);
	free(data);
	return rc;
}

int hf_load_json_text(struct tokenizer *t, const char *data, size_t len,
		      const char *path, struct err *e)
{
	int rc;
	t->kind = TOK_HF_BPE;
	struct model_tmp m;
	memset(&m, 0, sizeof m);
	struct jc c = {data, len, 0, path, e};
	struct span added = {0}, norm = {0}, pre = {0}, post = {0}, dec = {0};
	bool have_model = false;
	struct buf key = {0};
	cJSON *ja = NULL, *jn = NULL, *jp = NULL, *jpo = NULL, *jd = NULL;

	if ((rc = jc_expect(&c, '{')))
		goto out;
	if (jc_peek(&c) == '}') {
		c.i++;
	} else {
		for (;;) {
			if ((rc = jc_string(&c, &key)) || (rc = jc_expect(&c, ':')))
				goto out;
			struct span *sp = NULL;
			if (!strcmp(key.p, "model")) {
				have_model = true;
				if ((rc = parse_model(&c, t, &m)))
					goto out;
			} else {
				if (!strcmp(key.p, "added_tokens"))
					sp = &added;
				else if (!strcmp(key.p, "normalizer"))
					sp = &norm;
				else if (!strcmp(key.p, "pre_tokenizer"))
					sp = &pre;
				else if (!strcmp(key.p, "post_processor"))
					sp = &post;
				else if (!strcmp(key.p, "decoder"))
					sp = &dec;
				jc_ws(&c);
				size_t start = c.i;
				if ((rc = jc_skip(&c, 1)))
					goto out;
				if (sp) {
					sp->s = data + start;
					sp->n = c.i - start;
				}
			}
			int d = jc_peek(&c);
			c.i++;
			if (d == ',')
				continue;
			if (d == '}')
				break;
			c.i--;
			rc = jc_fail(&c, "expected ',' or '}'");
			goto out;
		}
	}
	if (jc_peek(&c) != -1) {
		rc = jc_fail(&c, "trailing data after the top-level object");
		goto out;
	}
	if (!have_model) {
		rc = err_set(e, ERR_FORMAT, "'%s': no model", path);
		goto out;
	}
	if ((rc = build_model(t, &m, path, e)))
		goto out;
	model_tmp_free(&m);
	memset(&m, 0, sizeof m);
	if ((rc = parse_span(&added, &ja, path, "added_tokens", e)) ||
	    (rc = parse_span(&norm, &jn, path, "normalizer", e)) ||
	    (rc = parse_span(&pre, &jp, path, "pre_tokenizer", e)) ||
	    (rc = parse_span(&post, &jpo, path, "post_processor", e)) ||
	    (rc = parse_span(&dec, &jd, path, "decoder", e)))
		goto out;
	if ((rc = parse_added(t, ja, path, e)) ||
	    (rc = parse_normalizer(t, jn, path, 0, e)) ||
	    (rc = parse_pretok(t, jp, path, e)) ||
	    (rc = parse_post(t, jpo, path, e)) ||
	    (rc = parse_decoder(t, jd, path, 0, e)))
		goto out;
	if ((rc = bpe_finish(&t->bpe, e)))
		goto out;
	/* added tokens: normalized forms and the first-byte filter */
	for (size_t i = 0; i < t->n_added; i++) {
		struct tok_added *a = &t->added[i];
		if (!a->normalized) {
			unsigned char b0 = (unsigned char)a->content[0];
			t->added_first[b0 >> 3] |= (uint8_t)(1u << (b0 & 7));
			continue;
		}
		if ((rc = normalizer_apply(&t->norm, a->content, a->len,
					   &a->norm, &a->norm_len, e)))
			goto out;
		if (a->norm_len) {
			unsigned char b0 = (unsigned char)a->norm[0];
			t->added_first_norm[b0 >> 3] |= (uint8_t)(1u << (b0 & 7));
		}
	}
	for (size_t i = 0; i < t->n_tpl_pre + t->n_tpl_post; i++) {
		int id = i < t->n_tpl_pre ? t->tpl_pre[i]
					  : t->tpl_post[i - t->n_tpl_pre];
		if (id >= t->bpe.n_vocab ||
		    !(t->bpe.flags[id] & BPE_PIECE_PRESENT)) {
			rc = err_set(e, ERR_FORMAT,
				     "'%s': post_processor id %d is not in the "
				     "vocabulary",
				     path, id);
			goto out;
		}
	}
	t->bos_id = t->n_tpl_pre ? t->tpl_pre[0] : bpe_piece_id(&t->bpe, "<s>", 3);
	t->eos_id = t->n_tpl_post ? t->tpl_post[t->n_tpl_post - 1]
				  : bpe_piece_id(&t->bpe, "</s>", 4);
out:
	cJSON_Delete(ja);
	cJSON_Delete(jn);
	cJSON_Delete(jp);
	cJSON_Delete(jpo);
	cJSON_Delete(jd);
	free(key.p);
	model_tmp_free(&m);
	return rc;
}

static int config_token(const struct tokenizer *t, const cJSON *j,
			const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	const char *s = cJSON_IsString(v) ? v->valuestring : jstr(v, "content");
	return s ? bpe_piece_id(&t->bpe, s, strlen(s)) : -1;
}

int hf_load_config(struct tokenizer *t, const char *path, struct err *e)
{
	char *data = NULL;
	size_t len = 0;
	int rc = file_read_all(path, 16u << 20, &data, &len, e);
	if (rc)
		return rc;
	cJSON *j = cJSON_ParseWithLength(data, len);
	free(data);
	if (!j)
		return err_set(e, ERR_FORMAT, "'%s': malformed JSON", path);
	int bos = config_token(t, j, "bos_token");
	int eos = config_token(t, j, "eos_token");
	if (bos >= 0)
		t->bos_id = bos;
	if (eos >= 0)
		t->eos_id = eos;
	/* transformers' Llama/Gemma fast tokenizers rebuild the template from
	 * add_bos_token / add_eos_token (update_post_processor). */
	const char *cls = jstr(j, "tokenizer_class");
	const cJSON *ab = cJSON_GetObjectItemCaseSensitive(j, "add_bos_token");
	const cJSON *ae = cJSON_GetObjectItemCaseSensitive(j, "add_eos_token");
	/* A SentencePiece model has no template of its own: the flags (with
	 * the same defaults) decide, whatever the class. */
	bool rebuild = t->kind == TOK_SPM ||
		       (cls && (strstr(cls, "Llama") || strstr(cls, "Gemma")));
	if (rebuild && (cJSON_IsBool(ab) || cJSON_IsBool(ae))) {
		bool add_bos = cJSON_IsBool(ab) ? cJSON_IsTrue(ab) : true;
		bool add_eos = cJSON_IsBool(ae) ? cJSON_IsTrue(ae) : false;
		if ((add_bos && t->bos_id < 0) || (add_eos && t->eos_id < 0)) {
			cJSON_Delete(j);
			return err_set(e, ERR_FORMAT,
				       "'%s': add_%s_token without a %s token",
				       path, add_bos && t->bos_id < 0 ? "bos" : "eos",
				       add_bos && t->bos_id < 0 ? "bos" : "eos");
		}
		t->n_tpl_pre = t->n_tpl_post = 0;
		if ((add_bos && ids_append(&t->tpl_pre, &t->n_tpl_pre, t->bos_id)) ||
		    (add_eos && ids_append(&t->tpl_post, &t->n_tpl_post, t->eos_id))) {
			cJSON_Delete(j);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
	}
	cJSON_Delete(j);
	return 0;
}
