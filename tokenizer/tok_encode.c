/*
 * tok_encode — tok_encode (tokenizer.h): text to ids. tokenizer.json:
 * added tokens split out, normalizer, pre-tokenizer, BPE per word (long
 * words in chunks: tok_set_chunking), the template's specials;
 * tokenizer.model: spm_encode plus the template's BOS/EOS.
 */
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "tok_impl.h"
#include "tokenizer.h"

static uint32_t cp_at(const char *s, size_t i, size_t *len)
{
	return utf8_decode((const unsigned char *)s + i, len);
}

/* The code point ending at byte i (i > 0). */
static uint32_t cp_before(const char *s, size_t i)
{
	size_t k = i - 1, l;
	while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	return cp_at(s, k, &l);
}

struct split {
	size_t a, b; /* byte range */
	int id;      /* added token id, or -1 for text */
};

struct splits {
	struct split *v;
	size_t n, cap;
};

static int splits_push(struct splits *s, size_t a, size_t b, int id)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct split *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct split){a, b, id};
	return 0;
}

/* Splits s[0..n) around added tokens of one kind (normalized or not), as
 * AddedVocabulary::find_matches: leftmost-longest matches, single_word,
 * lstrip, rstrip; a discarded match still consumes its text. */
static int find_added(const struct tokenizer *t, const char *s, size_t n,
		      bool normalized, struct splits *out)
{
	size_t pos = 0, start_offset = 0;
	bool any = false;
	for (size_t i = 0; i < t->n_added; i++)
		if (t->added[i].normalized == normalized)
			any = true;
	while (any && pos < n) {
		const struct tok_added *best = NULL;
		size_t p = pos, blen = 0;
		for (; p < n && !best; p++) {
			unsigned char c = (unsigned char)s[p];
			const uint8_t *filter = normalized ? t->added_first_norm
							   : t->added_first;
			if (!(filter[c >> 3] & (1u << (c & 7))))
				continue;
			for (size_t i = 0; i < t->n_added; i++) {
				const struct tok_added *a = &t->added[i];
				if (a->normalized != normalized)
					continue;
				const char *pat = normalized ? a->norm : a->content;
				size_t pl = normalized ? a->norm_len : a->len;
				if (pl && pl <= n - p && pl > blen &&
				    !memcmp(s + p, pat, pl)) {
					best = a;
					blen = pl;
				}
			}
		}
		if (!best)
			break;
		size_t start = p - 1, stop = start + blen, l;
		pos = stop;
		if (best->single_word) {
			bool ok_l = start == 0 || !uni_is_word(cp_before(s, start));
			bool ok_r = stop == n || !uni_is_word(cp_at(s, stop, &l));
			if (!ok_l || !ok_r)
				continue;
		}
		if (best->lstrip) {
			size_t k = start;
			while (k > 0 && uni_is_space(cp_before(s, k))) {
				k--;
				while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
					k--;
			}
			start = k > start_offset ? k : start_offset;
		}
		if (best->rstrip)
			while (stop < n && uni_is_space(cp_at(s, stop, &l)))
				stop += l;
		if (start < start_offset)
			start = start_offset;
		if (start_offset < start &&
		    splits_push(out, start_offset, start, -1))
			return -1;
		if (splits_push(out, start, stop, best->id))
			return -1;
		start_offset = stop;
	}
	if (start_offset < n && splits_push(out, start_offset, n, -1))
		return -1;
	return 0;
}

/* The end of the next piece of a long word starting at a: the first safe
 * cut at or after a + chunk, else a character boundary at a + max_run
 * (see tok_set_chunking). */
static size_t next_cut(const struct tokenizer *t, const char *s, size_t n,
		       size_t a)
{
	if (n - a <= t->chunk)
		return n;
	size_t lim = n - a > t->max_run ? a + t->max_run : n;
	if (!t->bpe.ignore_merges)
		for (size_t p = a + t->chunk; p < lim; p++)
			if ((unsigned char)s[p] == 0xE2 &&
			    bpe_cut_safe(&t->bpe, s, n, p))
				return p;
	if (lim == n)
		return n;
	while (lim > a + 1 && ((unsigned char)s[lim] & 0xC0) == 0x80)
		lim--;
	return lim;
}

static int word(const struct tokenizer *t, const char *s, size_t n,
		struct bpe_ids *out, struct err *e)
{
	int rc = 0;
	for (size_t a = 0, b; a < n && !rc; a = b) {
		b = next_cut(t, s, n, a);
		rc = bpe_encode_word(&t->bpe, s + a, b - a, out, e);
	}
	return rc;
}

/* Pre-tokenizes one normalized piece and encodes its words. */
static int pretok_encode(const struct tokenizer *t, const char *s, size_t n,
			 bool first, struct bpe_ids *out, struct err *e)
{
	const struct tok_pretok *p = &t->pretok;
	int rc = 0;
	switch (p->kind) {
	case PRETOK_NONE:
		return word(t, s, n, out, e);
	case PRETOK_WHITESPACE_SPLIT: {
		size_t i = 0, l;
		while (i < n && !rc) {
			while (i < n && uni_is_space(cp_at(s, i, &l)))
				i += l;
			size_t a = i;
			while (i < n && !uni_is_space(cp_at(s, i, &l)))
				i += l;
			rc = word(t, s + a, i - a, out, e);
		}
		return rc;
	}
	case PRETOK_METASPACE: {
		/* replace ' ' by the replacement, maybe prepend it, split
		 * with the replacement merged with the next word */
		size_t cap = (n + 1) * p->repl_len + 1, m = 0;
		char *buf = malloc(cap);
		if (!buf)
			return err_set(e, ERR_NOMEM, "out of memory");
		bool starts = n >= p->repl_len && !memcmp(s, p->repl, p->repl_len);
		bool starts_space = n > 0 && s[0] == ' ';
		if (!starts && !starts_space &&
		    (p->prepend == PREPEND_ALWAYS ||
		     (p->prepend == PREPEND_FIRST && first))) {
			memcpy(buf, p->repl, p->repl_len);
			m = p->repl_len;
		}
		for (size_t i = 0; i < n; i++) {
			if (s[i] == ' ') {
				memcpy(buf + m, p->repl, p->repl_len);
				m += p->repl_len;
			} else {
				buf[m++] = s[i];
			}
		}
		if (!p->split) {
			rc = word(t, buf, m, out, e);
		} else {
			size_t a = 0;
			for (size_t i = 1; i + p->repl_len <= m && !rc; i++)
				if (!memcmp(buf + i, p->repl, p->repl_len)) {
					rc = word(t, buf + a, i - a, out, e);
					a = i;
				}
			if (!rc)
				rc = word(t, buf + a, m - a, out, e);
		}
		free(buf);
		return rc;
	}
	case PRETOK_SPLIT: {
		size_t a = 0, i = 0, pl = p->pattern_len;
		size_t pend = 0; /* MergedWithNext: start of the pending match */
		bool have_pend = false;
		while (i + pl <= n && !rc) {
			if (memcmp(s + i, p->pattern, pl)) {
				i++;
				continue;
			}
			switch (p->behavior) {
			case SPLIT_REMOVED:
				rc = word(t, s + a, i - a, out, e);
				a = i + pl;
				break;
			case SPLIT_ISOLATED:
				rc = word(t, s + a, i - a, out, e);
				if (!rc)
					rc = word(t, s + i, pl, out, e);
				a = i + pl;
				break;
			case SPLIT_CONTIGUOUS: {
				size_t j = i + pl;
				while (j + pl <= n && !memcmp(s + j, p->pattern, pl))
					j += pl;
				rc = word(t, s + a, i - a, out, e);
				if (!rc)
					rc = word(t, s + i, j - i, out, e);
				a = j;
				i = j;
				continue;
			}
			case SPLIT_MERGED_WITH_PREVIOUS:
				rc = word(t, s + a, i + pl - a, out, e);
				a = i + pl;
				break;
			case SPLIT_MERGED_WITH_NEXT:
				rc = word(t, s + (have_pend ? pend : a),
					  i - (have_pend ? pend : a), out, e);
				pend = i;
				have_pend = true;
				a = i + pl;
				break;
			}
			i += pl;
		}
		if (!rc)
			rc = word(t, s + (have_pend ? pend : a),
				  n - (have_pend ? pend : a), out, e);
		return rc;
	}
	}
	return 0;
}

/* Normalizes one raw text piece, splits normalized added tokens out of it,
 * pre-tokenizes and encodes the rest. orig is its offset in the input. */
static int encode_piece(const struct tokenizer *t, const char *s, size_t n,
			size_t orig, struct bpe_ids *out, struct err *e)
{
	char *norm = NULL;
	size_t nl = 0;
	int rc = normalizer_apply(&t->norm, s, n, &norm, &nl, e);
	if (rc)
		return rc;
	/* Metaspace's prepend_scheme "first" asks whether the piece starts
	 * at original offset 0; a left Strip that removed leading
	 * whitespace moves that offset (the reference tracks alignments). */
	bool first = orig == 0;
	size_t cl;
	for (size_t i = 0; first && n && i < t->norm.n; i++)
		if (t->norm.ops[i].kind == NORM_STRIP && t->norm.ops[i].left &&
		    uni_is_space(cp_at(s, 0, &cl)))
			first = false;
	struct splits sp = {0};
	if (find_added(t, norm, nl, true, &sp)) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < sp.n && !rc; i++) {
		if (sp.v[i].id >= 0) {
			if (bpe_ids_push(out, sp.v[i].id))
				rc = err_set(e, ERR_NOMEM, "out of memory");
			continue;
		}
		rc = pretok_encode(t, norm + sp.v[i].a, sp.v[i].b - sp.v[i].a,
				   first && sp.v[i].a == 0, out, e);
	}
out:
	free(sp.v);
	free(norm);
	return rc;
}

/* SentencePiece: its own encoder, then the template's BOS/EOS. */
static int spm_encode_tok(const struct tokenizer *t, const char *text,
			  size_t len, bool add_special, int **ids, size_t *n,
			  struct err *e)
{
	struct spm_state st = {0};
	int rc = spm_encode_state(t->spm, text, len, &st, e);
	if (rc) {
		spm_state_free(&st);
		return rc;
	}
	size_t pre = add_special ? t->n_tpl_pre : 0;
	size_t post = add_special ? t->n_tpl_post : 0;
	size_t total = pre + st.n + post;
	/* in place: a long line's ids are not copied */
	int *v = realloc(st.ids, (total ? total : 1) * sizeof *v);
	if (!v) {
		spm_state_free(&st);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	if (st.n && pre)
		memmove(v + pre, v, st.n * sizeof *v);
	for (size_t i = 0; i < pre; i++)
		v[i] = t->tpl_pre[i];
	for (size_t i = 0; i < post; i++)
		v[pre + st.n + i] = t->tpl_post[i];
	st.ids = NULL;
	spm_state_free(&st);
	*ids = v;
	*n = total;
	return 0;
}

int tok_encode(const struct tokenizer *t, const char *text, size_t len,
	       bool add_special, int **ids, size_t *n, struct err *e)
{
	*ids = NULL;
	*n = 0;
	if (t->kind == TOK_SPM)
		return spm_encode_tok(t, text, len, add_special, ids, n, e);
	char *clean = NULL;
	size_t cl = 0;
	int rc = utf8_sanitize(text, len, &clean, &cl, e);
	if (rc < 0)
		return rc;
	const char *s = clean ? clean : text;
	size_t sl = clean ? cl : len;
	struct bpe_ids out = {0};
	struct splits sp = {0};
	rc = 0;
	if (find_added(t, s, sl, false, &sp)) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; add_special && i < t->n_tpl_pre && !rc; i++)
		if (bpe_ids_push(&out, t->tpl_pre[i]))
			rc = err_set(e, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < sp.n && !rc; i++) {
		if (sp.v[i].id >= 0) {
			if (bpe_ids_push(&out, sp.v[i].id))
				rc = err_set(e, ERR_NOMEM, "out of memory");
		} else {
			rc = encode_piece(t, s + sp.v[i].a, sp.v[i].b - sp.v[i].a,
					  sp.v[i].a, &out, e);
		}
	}
	for (size_t i = 0; add_special && i < t->n_tpl_post && !rc; i++)
		if (bpe_ids_push(&out, t->tpl_post[i]))
			rc = err_set(e, ERR_NOMEM, "out of memory");
	if (!rc && !out.v && !(out.v = malloc(sizeof *out.v)))
		rc = err_set(e, ERR_NOMEM, "out of memory");
out:
	free(sp.v);
	free(clean);
	if (rc) {
		free(out.v);
		return rc;
	}
	*ids = out.v;
	*n = out.n;
	return 0;
}
