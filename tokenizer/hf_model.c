/*
 * hf_model — tokenizer.json's "model" member (see hf_model.h).
 */
#include "hf_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_impl.h"

void hf_model_free(struct hf_model *m)
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

static int vocab_push(struct hf_model *m, const char *s, size_t n,
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

static int merge_push(struct hf_model *m, const char *l, size_t ll,
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

static int parse_vocab(struct jc *c, struct hf_model *m)
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
		bool more;
		int rc = jc_next(c, '}', "expected ',' or '}' in vocab", &more);
		if (rc || !more)
			return rc;
	}
}

static int parse_merges(struct jc *c, struct hf_model *m)
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
		bool more;
		rc = jc_next(c, ']', "expected ',' or ']' in merges", &more);
		if (rc || !more)
			break;
	}
	free(right.p);
	return rc;
}

int hf_model_read(struct jc *c, struct tokenizer *t, struct hf_model *m)
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
		bool more;
		rc = jc_next(c, '}', "expected ',' or '}' in model", &more);
		if (rc || !more)
			break;
	}
	free(key.p);
	return rc;
}

int hf_model_build(struct tokenizer *t, struct hf_model *m,
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
