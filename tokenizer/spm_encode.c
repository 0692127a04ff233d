/*
 * spm_encode — SentencePiece encoding (see spm.h): the reusable scratch of
 * struct spm_state, BPE (a heap of adjacent pairs, UNUSED pieces
 * resegmented, a per-word cache), Unigram (Viterbi) and the unknown-piece
 * rules (byte fallback, fused <unk>).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spm_impl.h"
#include "spm_text.h"

/* ------------------------------------------------------ encoder scratch */

struct sym {
	uint32_t start, len;
	int32_t prev, next;
	int freeze;
};

struct pair {
	float score;
	int32_t left, right;
	uint32_t size;
};

struct span {
	uint32_t start, len;
	int32_t id;
};

struct best {
	float score;
	int32_t starts_at;
	int32_t id;
};

struct wc_entry {
	uint32_t hash, key_off, key_len, span_off, span_n;
};

struct scratch {
	struct sbuf norm;
	struct sym *syms;
	size_t syms_cap;
	struct pair *heap;
	size_t heap_n, heap_cap;
	struct span *res;
	size_t res_n, res_cap;
	struct span *stack;
	size_t stack_cap;
	struct best *best;
	size_t best_cap;
	/* rev_merge of UNUSED pieces: left length by piece id, valid when
	 * rev_gen[id] == gen. */
	uint32_t *rev_len, *rev_gen;
	size_t rev_cap;
	uint32_t gen;
	/* BPE word cache (see bpe_word). */
	uint32_t *wc_slot; /* (2 * WC_MAX) entry index + 1, 0 = empty */
	struct wc_entry *wc;
	uint32_t wc_n;
	unsigned char *wc_keys;
	size_t wc_key_n, wc_keys_cap;
	struct span *wc_spans;
	size_t wc_span_n, wc_spans_cap;
	/* BPE: results so far turned into ids as it goes (res_flush), so a
	 * long line holds its spans for one word at a time, not all */
	struct spm_state *out;
	int prev_unk;
};

void spm_state_free(struct spm_state *st)
{
	if (!st)
		return;
	struct scratch *s = st->scratch;
	if (s) {
		free(s->norm.p);
		free(s->syms);
		free(s->heap);
		free(s->res);
		free(s->stack);
		free(s->best);
		free(s->rev_len);
		free(s->rev_gen);
		free(s->wc_slot);
		free(s->wc);
		free(s->wc_keys);
		free(s->wc_spans);
		free(s);
	}
	free(st->ids);
	memset(st, 0, sizeof *st);
}

/* Grows *p (of *cap elements of size sz) to hold at least n. */
static int grow(void *pp, size_t *cap, size_t n, size_t sz)
{
	void **p = pp;
	if (n <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 16;
	while (nc < n) {
		if (nc > SIZE_MAX / 2 / sz)
			return ERR_NOMEM;
		nc *= 2;
	}
	void *np = realloc(*p, nc * sz);
	if (!np)
		return ERR_NOMEM;
	*p = np;
	*cap = nc;
	return 0;
}

static int res_push(struct scratch *s, uint32_t start, uint32_t len,
		    int32_t id)
{
	if (grow(&s->res, &s->res_cap, s->res_n + 1, sizeof *s->res))
		return ERR_NOMEM;
	s->res[s->res_n].start = start;
	s->res[s->res_n].len = len;
	s->res[s->res_n].id = id;
	s->res_n++;
	return 0;
}

/* ------------------------------------------------------------------- BPE */

/* Heap order: higher score first, then the leftmost pair. */
static int pair_before(const struct pair *a, const struct pair *b)
{
	return a->score > b->score ||
	       (a->score == b->score && a->left < b->left);
}

static int heap_push(struct scratch *s, const struct pair *p)
{
	if (grow(&s->heap, &s->heap_cap, s->heap_n + 1, sizeof *s->heap))
		return ERR_NOMEM;
	size_t i = s->heap_n++;
	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (!pair_before(p, &s->heap[up]))
			break;
		s->heap[i] = s->heap[up];
		i = up;
	}
	s->heap[i] = *p;
	return 0;
}

static struct pair heap_pop(struct scratch *s)
{
	struct pair top = s->heap[0], last = s->heap[--s->heap_n];
	size_t i = 0, n = s->heap_n;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && pair_before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!pair_before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (n)
		s->heap[i] = last;
	return top;
}

static int bpe_maybe_add(const struct spm *m, struct scratch *s,
			 int32_t left, int32_t right)
{
	if (left < 0 || right < 0)
		return 0;
	const struct sym *l = &s->syms[left], *r = &s->syms[right];
	if (l->freeze || r->freeze)
		return 0;
	uint32_t size = l->len + r->len;
	if (size > m->max_len)
		return 0;
	int id = spm_lookup(m, s->norm.p + l->start, size);
	if (id < 0 || !spm_is_normal_type(m->pieces[id].type))
		return 0;
	struct pair p = {m->pieces[id].score, left, right, size};
	if (heap_push(s, &p))
		return ERR_NOMEM;
	if (m->pieces[id].type == SPM_UNUSED) {
		s->rev_len[id] = l->len;
		s->rev_gen[id] = s->gen;
	}
	return 0;
}

/* Splits an UNUSED piece back into the symbols that formed it. */
static int bpe_resegment(const struct spm *m, struct scratch *s,
			 uint32_t start, uint32_t len)
{
	size_t top = 0;
	if (grow(&s->stack, &s->stack_cap, 1, sizeof *s->stack))
		return ERR_NOMEM;
	s->stack[top].start = start;
	s->stack[top++].len = len;
	while (top) {
		struct span w = s->stack[--top];
		int id = spm_piece_to_id(m, s->norm.p + w.start, w.len);
		uint32_t ll;
		if (m->pieces[id].type != SPM_UNUSED ||
		    s->rev_gen[id] != s->gen ||
		    (ll = s->rev_len[id]) == 0 || ll >= w.len) {
			if (res_push(s, w.start, w.len, id))
				return ERR_NOMEM;
			continue;
		}
		if (grow(&s->stack, &s->stack_cap, top + 2,
			 sizeof *s->stack))
			return ERR_NOMEM;
		s->stack[top].start = w.start + ll; /* right, popped last */
		s->stack[top++].len = w.len - ll;
		s->stack[top].start = w.start;
		s->stack[top++].len = ll;
	}
	return 0;
}

/* BPE over bytes [a, b) of the normalized text; appends to s->res. */
static int bpe_range(const struct spm *m, struct scratch *s, size_t a,
		     size_t b)
{
	const unsigned char *t = (const unsigned char *)s->norm.p;
	size_t count = 0, pos = a;

	s->heap_n = 0;
	if (a >= b)
		return 0;
	if (grow(&s->syms, &s->syms_cap, b - a, sizeof *s->syms))
		return ERR_NOMEM;
	while (pos < b) {
		struct sym *y = &s->syms[count];
		size_t k = m->has_user_defined ? spm_ud_prefix(m, t + pos, b - pos)
					       : 0;
		y->freeze = k != 0;
		if (!k) {
			k = spm_one_char_len(t[pos]);
			if (k > b - pos)
				k = b - pos;
		}
		y->start = (uint32_t)pos;
		y->len = (uint32_t)k;
		y->prev = (int32_t)count - 1;
		pos += k;
		y->next = pos < b ? (int32_t)count + 1 : -1;
		count++;
	}
	for (size_t i = 1; i < count; i++)
		if (bpe_maybe_add(m, s, (int32_t)i - 1, (int32_t)i))
			return ERR_NOMEM;
	while (s->heap_n) {
		struct pair top = heap_pop(s);
		struct sym *l = &s->syms[top.left], *r = &s->syms[top.right];
		if (l->len == 0 || r->len == 0 || l->len + r->len != top.size)
			continue; /* stale */
		l->len += r->len;
		l->next = r->next;
		if (r->next >= 0)
			s->syms[r->next].prev = top.left;
		r->len = 0;
		if (bpe_maybe_add(m, s, l->prev, top.left) ||
		    bpe_maybe_add(m, s, top.left, l->next))
			return ERR_NOMEM;
	}
	for (int32_t i = 0; i != -1; i = s->syms[i].next) {
		const struct sym *y = &s->syms[i];
		if (m->has_unused) {
			if (bpe_resegment(m, s, y->start, y->len))
				return ERR_NOMEM;
		} else if (res_push(s, y->start, y->len,
				    spm_piece_to_id(m, s->norm.p + y->start,
						    y->len))) {
			return ERR_NOMEM;
		}
	}
	return 0;
}

static int ids_push(struct spm_state *st, int id);

/* SentencePieceProcessor's PopulateSentencePieceText over s->res: unknown
 * pieces become byte pieces, or fuse into one <unk>; appended to s->out's
 * ids, then s->res is emptied. */
static int res_flush(const struct spm *m, struct scratch *s)
{
	struct spm_state *st = s->out;
	for (size_t i = 0; i < s->res_n; i++) {
		const struct span *w = &s->res[i];
		int type = m->pieces[w->id].type;
		int is_unk = type == SPM_UNKNOWN;
		if (is_unk && m->info.byte_fallback) {
			for (uint32_t k = 0; k < w->len; k++) {
				unsigned char c =
					(unsigned char)s->norm.p[w->start + k];
				if (ids_push(st, m->byte_id[c]))
					return ERR_NOMEM;
			}
		} else if (!(is_unk && s->prev_unk)) {
			if (ids_push(st, w->id))
				return ERR_NOMEM;
		}
		s->prev_unk = is_unk;
	}
	s->res_n = 0;
	return 0;
}

/* bpe_range over [a, b) in stretches of at most m->max_run bytes, cut at
 * character boundaries: the same as bpe_range when b - a <= max_run. */
static int bpe_range_bounded(const struct spm *m, struct scratch *s, size_t a,
			     size_t b)
{
	size_t max = m->max_run ? m->max_run : (size_t)1 << 20;
	while (b - a > max) {
		size_t c = a + max;
		while (c > a + 1 && ((unsigned char)s->norm.p[c] & 0xC0) == 0x80)
			c--;
		if (bpe_range(m, s, a, c) || (s->out && res_flush(m, s)))
			return ERR_NOMEM;
		a = c;
	}
	return bpe_range(m, s, a, b);
}

/* The word cache: segment bytes -> its spans.  Emptied when it reaches
 * WC_MAX entries or WC_ARENA bytes of keys, so memory stays bounded. */
#define WC_MAX (1u << 15)
#define WC_ARENA (4u << 20)
#define WC_LONGEST 256 /* longer segments are not cached */

static void wc_clear(struct scratch *s)
{
	if (s->wc_slot)
		memset(s->wc_slot, 0, (size_t)(2 * WC_MAX) * sizeof *s->wc_slot);
	s->wc_n = 0;
	s->wc_key_n = 0;
	s->wc_span_n = 0;
}

/* Returns the entry index of key, or -1; *slot is where to insert. */
static int32_t wc_find(const struct scratch *s, const unsigned char *key,
		       uint32_t len, uint32_t h, size_t *slot)
{
	size_t mask = 2 * WC_MAX - 1, i = h & mask;
	while (s->wc_slot[i]) {
		const struct wc_entry *en = &s->wc[s->wc_slot[i] - 1];
		if (en->hash == h && en->key_len == len &&
		    !memcmp(s->wc_keys + en->key_off, key, len))
			return (int32_t)s->wc_slot[i] - 1;
		i = (i + 1) & mask;
	}
	*slot = i;
	return -1;
}

static int wc_store(struct scratch *s, size_t slot, const unsigned char *key,
		    uint32_t len, uint32_t h, size_t res_from, size_t seg)
{
	uint32_t n = (uint32_t)(s->res_n - res_from);
	if (grow(&s->wc_keys, &s->wc_keys_cap, s->wc_key_n + len, 1) ||
	    grow(&s->wc_spans, &s->wc_spans_cap, s->wc_span_n + n,
		 sizeof *s->wc_spans))
		return ERR_NOMEM;
	struct wc_entry *en = &s->wc[s->wc_n];
	en->hash = h;
	en->key_off = (uint32_t)s->wc_key_n;
	en->key_len = len;
	en->span_off = (uint32_t)s->wc_span_n;
	en->span_n = n;
	memcpy(s->wc_keys + s->wc_key_n, key, len);
	s->wc_key_n += len;
	for (uint32_t i = 0; i < n; i++) {
		const struct span *r = &s->res[res_from + i];
		s->wc_spans[s->wc_span_n + i].start = r->start - (uint32_t)seg;
		s->wc_spans[s->wc_span_n + i].len = r->len;
		s->wc_spans[s->wc_span_n + i].id = r->id;
	}
	s->wc_span_n += n;
	s->wc_slot[slot] = (uint32_t)++s->wc_n;
	return 0;
}

/* One word: from the cache, else BPE and remember it. */
static int bpe_word(const struct spm *m, struct scratch *s, size_t a,
		    size_t b)
{
	const unsigned char *key = (const unsigned char *)s->norm.p + a;
	uint32_t len = (uint32_t)(b - a), h;
	size_t slot = 0, from = s->res_n;
	int32_t hit;
	if (len > WC_LONGEST)
		return bpe_range_bounded(m, s, a, b);
	if (!s->wc_slot) {
		s->wc_slot = calloc(2 * WC_MAX, sizeof *s->wc_slot);
		s->wc = malloc(WC_MAX * sizeof *s->wc);
		if (!s->wc_slot || !s->wc)
			return ERR_NOMEM;
	}
	h = spm_hash_bytes(key, len);
	hit = wc_find(s, key, len, h, &slot);
	if (hit >= 0) {
		const struct wc_entry *en = &s->wc[hit];
		if (grow(&s->res, &s->res_cap, s->res_n + en->span_n,
			 sizeof *s->res))
			return ERR_NOMEM;
		for (uint32_t i = 0; i < en->span_n; i++) {
			struct span r = s->wc_spans[en->span_off + i];
			r.start += (uint32_t)a;
			s->res[s->res_n++] = r;
		}
		return 0;
	}
	if (bpe_range(m, s, a, b))
		return ERR_NOMEM;
	if (s->wc_n == WC_MAX || s->wc_key_n + len > WC_ARENA ||
	    s->wc_span_n + (s->res_n - from) > WC_ARENA / 8) {
		wc_clear(s);
		wc_find(s, key, len, h, &slot);
	}
	return wc_store(s, slot, key, len, h, from, a);
}

static int bpe_encode(const struct spm *m, struct scratch *s, int cache)
{
	const char *t = s->norm.p;
	size_t n = s->norm.n;

	s->res_n = 0;
	if (n == 0)
		return 0;
	if (n > INT32_MAX)
		return ERR_NOMEM;
	if (m->has_unused) {
		if ((size_t)m->n > s->rev_cap) {
			free(s->rev_len);
			free(s->rev_gen);
			s->rev_len = calloc((size_t)m->n, sizeof *s->rev_len);
			s->rev_gen = calloc((size_t)m->n, sizeof *s->rev_gen);
			if (!s->rev_len || !s->rev_gen) {
				s->rev_cap = 0;
				return ERR_NOMEM;
			}
			s->rev_cap = (size_t)m->n;
			s->gen = 0;
		}
		if (++s->gen == 0) {
			memset(s->rev_gen, 0, s->rev_cap * sizeof *s->rev_gen);
			s->gen = 1;
		}
	}
	if (!cache || !m->word_cache_ok)
		return bpe_range_bounded(m, s, 0, n);
	/* Words start at a U+2581 that follows something else; no piece
	 * spans such a point (checked at load), so words are independent. */
	size_t a = 0;
	for (size_t p = 1; p + 3 <= n; p++) {
		if (memcmp(t + p, kSpace, 3) != 0 ||
		    (p >= 3 && memcmp(t + p - 3, kSpace, 3) == 0))
			continue;
		if (bpe_word(m, s, a, p) ||
		    (s->out && s->res_n >= 4096 && res_flush(m, s)))
			return ERR_NOMEM;
		a = p;
		p += 2;
	}
	return bpe_word(m, s, a, n);
}

/* --------------------------------------------------------------- Unigram */

/* SentencePiece's EncodeOptimized, with its arithmetic: a piece's score is
 * a double (the user-defined formula has a double literal), the path sums
 * are stored as floats, the unknown candidate is float throughout. */
static int unigram_encode(const struct spm *m, struct scratch *s)
{
	const unsigned char *t = (const unsigned char *)s->norm.p;
	size_t size = s->norm.n;
	const float unk_score = m->min_score - 10.0f;

	s->res_n = 0;
	if (size == 0)
		return 0;
	if (size > INT32_MAX ||
	    grow(&s->best, &s->best_cap, size + 1, sizeof *s->best))
		return ERR_NOMEM;
	for (size_t i = 0; i <= size; i++) {
		s->best[i].score = 0.0f;
		s->best[i].starts_at = -1;
		s->best[i].id = -1;
	}
	size_t starts_at = 0;
	while (starts_at < size) {
		const float till = s->best[starts_at].score;
		int has_single = 0;
		size_t mblen = spm_one_char_len(t[starts_at]);
		if (mblen > size - starts_at)
			mblen = size - starts_at;
		uint32_t node = 0;
		for (size_t key_pos = starts_at; key_pos < size;) {
			node = spm_tr_step(m, node, t[key_pos]);
			if (!node)
				break;
			key_pos++;
			int id = m->tr_id[node];
			if (id < 0)
				continue;
			const struct piece *p = &m->pieces[id];
			if (p->type == SPM_UNUSED)
				continue;
			size_t length = key_pos - starts_at;
			double score =
				p->type == SPM_USER_DEFINED
					? (double)((float)length *
						   m->max_score) - 0.1
					: (double)p->score;
			double cand = score + (double)till;
			struct best *b = &s->best[key_pos];
			if (b->starts_at == -1 || cand > (double)b->score) {
				b->score = (float)cand;
				b->starts_at = (int32_t)starts_at;
				b->id = id;
			}
			if (length == mblen)
				has_single = 1;
		}
		if (!has_single) {
			struct best *b = &s->best[starts_at + mblen];
			float cand = unk_score + till;
			if (b->starts_at == -1 || cand > b->score) {
				b->score = cand;
				b->starts_at = (int32_t)starts_at;
				b->id = m->unk;
			}
		}
		starts_at += mblen;
	}
	/* Backtrack, then reverse. */
	for (size_t end = size; end > 0;) {
		const struct best *b = &s->best[end];
		if (b->starts_at < 0 || (size_t)b->starts_at >= end)
			return ERR_FORMAT; /* cannot happen */
		if (res_push(s, (uint32_t)b->starts_at,
			     (uint32_t)(end - (size_t)b->starts_at), b->id))
			return ERR_NOMEM;
		end = (size_t)b->starts_at;
	}
	for (size_t i = 0, j = s->res_n; i + 1 < j; i++, j--) {
		struct span tmp = s->res[i];
		s->res[i] = s->res[j - 1];
		s->res[j - 1] = tmp;
	}
	return 0;
}

/* ------------------------------------------------ encode: unknown pieces */

static int ids_push(struct spm_state *st, int id)
{
	if (st->n == st->cap &&
	    grow(&st->ids, &st->cap, st->n + 1, sizeof *st->ids))
		return ERR_NOMEM;
	st->ids[st->n++] = id;
	return 0;
}

int spm_encode_state(const struct spm *m, const char *text, size_t len,
		     struct spm_state *st, struct err *e)
{
	struct scratch *s = st->scratch;
	int rc;
	st->n = 0;
	if (!s) {
		s = calloc(1, sizeof *s);
		if (!s)
			return err_set(e, ERR_NOMEM, "'%s': out of memory",
				       m->name);
		st->scratch = s;
	}
	rc = spm_norm_apply(m, &m->norm, 1, m->info.treat_whitespace_as_suffix,
			    text, len, &s->norm);
	s->out = NULL;
	s->prev_unk = 0;
	/* BPE without UNUSED pieces keeps its spans in text order and never
	 * revisits them: they become ids as it goes */
	if (!rc && m->info.model_type == SPM_BPE && !m->has_unused)
		s->out = st;
	if (!rc)
		rc = m->info.model_type == SPM_BPE ? bpe_encode(m, s, !st->no_cache)
						   : unigram_encode(m, s);
	if (!rc) {
		s->out = st;
		rc = res_flush(m, s);
	}
	s->out = NULL;
	if (rc)
		return err_set(e, rc, "'%s': %s while encoding %zu bytes",
			       m->name,
			       rc == ERR_NOMEM ? "out of memory"
					       : "internal error", len);
	return 0;
}

int spm_encode(const struct spm *m, const char *text, size_t len, int **ids,
	       size_t *n, struct err *e)
{
	struct spm_state st = {0};
	*ids = NULL;
	*n = 0;
	int rc = spm_encode_state(m, text, len, &st, e);
	if (rc == 0 && st.n) {
		*ids = st.ids;
		*n = st.n;
		st.ids = NULL;
	}
	spm_state_free(&st);
	return rc;
}
