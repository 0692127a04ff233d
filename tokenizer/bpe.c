#include "bpe.h"

#include <stdlib.h>
#include <string.h>

#include "text.h"

void bpe_init(struct bpe *b)
{
	memset(b, 0, sizeof *b);
	b->unk_id = -1;
	for (int i = 0; i < 256; i++)
		b->byte_id[i] = -1;
	for (int i = 0; i < 128; i++)
		b->ascii_id[i] = -1;
}

void bpe_free(struct bpe *b)
{
	if (!b)
		return;
	free(b->arena);
	free(b->piece_off);
	free(b->piece_len);
	free(b->flags);
	free(b->hash);
	free(b->merge_left);
	free(b->merge_right);
	free(b->merge_result);
	free(b->pairs);
	free(b->pair_bloom);
	free(b->cut_bad);
	bpe_init(b);
}

static uint64_t str_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

int bpe_reserve_ids(struct bpe *b, int n, struct err *e)
{
	if (n <= b->n_vocab)
		return 0;
	if (n > BPE_MAX_VOCAB)
		return err_set(e, ERR_FORMAT, "vocabulary of %d ids is too large",
			       n);
	size_t sz = (size_t)n;
	uint32_t *off = realloc(b->piece_off, sz * sizeof *off);
	if (off)
		b->piece_off = off;
	uint32_t *len = realloc(b->piece_len, sz * sizeof *len);
	if (len)
		b->piece_len = len;
	uint8_t *fl = realloc(b->flags, sz);
	if (fl)
		b->flags = fl;
	if (!off || !len || !fl)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (int i = b->n_vocab; i < n; i++) {
		b->piece_off[i] = 0;
		b->piece_len[i] = 0;
		b->flags[i] = 0;
	}
	b->n_vocab = n;
	return 0;
}

static int hash_grow(struct bpe *b, struct err *e)
{
	size_t cap = b->hash_cap ? b->hash_cap * 2 : 1024;
	int32_t *h = malloc(cap * sizeof *h);
	if (!h)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < cap; i++)
		h[i] = -1;
	for (size_t i = 0; i < b->hash_cap; i++) {
		int32_t id = b->hash[i];
		if (id < 0)
			continue;
		uint64_t k = str_hash(b->arena + b->piece_off[id],
				      b->piece_len[id]);
		size_t j = (size_t)k & (cap - 1);
		while (h[j] >= 0)
			j = (j + 1) & (cap - 1);
		h[j] = id;
	}
	free(b->hash);
	b->hash = h;
	b->hash_cap = cap;
	return 0;
}

int bpe_piece_id(const struct bpe *b, const char *s, size_t len)
{
	if (!b->hash_cap)
		return -1;
	size_t j = (size_t)str_hash(s, len) & (b->hash_cap - 1);
	for (;;) {
		int32_t id = b->hash[j];
		if (id < 0)
			return -1;
		if (b->piece_len[id] == len &&
		    !memcmp(b->arena + b->piece_off[id], s, len))
			return id;
		j = (j + 1) & (b->hash_cap - 1);
	}
}

int bpe_set_piece(struct bpe *b, int id, const char *s, size_t len,
		  uint8_t flags, struct err *e)
{
	if (id < 0 || id >= BPE_MAX_VOCAB)
		return err_set(e, ERR_INVALID, "piece '%.*s': id %d out of range",
			       (int)(len > 64 ? 64 : len), s, id);
	if (len >= UINT32_MAX / 2)
		return err_set(e, ERR_FORMAT, "piece of %zu bytes is too long",
			       len);
	int old = bpe_piece_id(b, s, len);
	if (old >= 0 && old != id)
		return err_set(e, ERR_FORMAT,
			       "piece '%.*s' has two ids, %d and %d",
			       (int)(len > 64 ? 64 : len), s, old, id);
	if (id < b->n_vocab && (b->flags[id] & BPE_PIECE_PRESENT)) {
		if (old == id) {
			b->flags[id] |= flags;
			return 0;
		}
		return err_set(e, ERR_FORMAT,
			       "id %d is given to two pieces, '%s' and '%.*s'",
			       id, b->arena + b->piece_off[id],
			       (int)(len > 64 ? 64 : len), s);
	}
	if (bpe_reserve_ids(b, id + 1, e))
		return e ? e->code : ERR_NOMEM;
	if (b->arena_len + len + 1 > b->arena_cap) {
		size_t cap = b->arena_cap ? b->arena_cap : 4096;
		while (cap < b->arena_len + len + 1)
			cap *= 2;
		if (cap > UINT32_MAX)
			return err_set(e, ERR_FORMAT, "vocabulary text exceeds 4 GB");
		char *a = realloc(b->arena, cap);
		if (!a)
			return err_set(e, ERR_NOMEM, "out of memory");
		b->arena = a;
		b->arena_cap = cap;
	}
	b->piece_off[id] = (uint32_t)b->arena_len;
	b->piece_len[id] = (uint32_t)len;
	if (len)
		memcpy(b->arena + b->arena_len, s, len);
	b->arena[b->arena_len + len] = '\0';
	b->arena_len += len + 1;
	b->flags[id] = (uint8_t)(flags | BPE_PIECE_PRESENT);
	b->n_pieces++;
	if ((b->n_pieces + 1) * 2 > b->hash_cap && hash_grow(b, e))
		return ERR_NOMEM;
	size_t j = (size_t)str_hash(s, len) & (b->hash_cap - 1);
	while (b->hash[j] >= 0)
		j = (j + 1) & (b->hash_cap - 1);
	b->hash[j] = id;
	return 0;
}

int bpe_add_merge(struct bpe *b, int left, int right, int result,
		  struct err *e)
{
	if (b->n_merges == b->merge_cap) {
		size_t cap = b->merge_cap ? b->merge_cap * 2 : 1024;
		if (cap > (size_t)INT32_MAX)
			return err_set(e, ERR_FORMAT, "too many merges");
		int32_t *l = realloc(b->merge_left, cap * sizeof *l);
		if (l)
			b->merge_left = l;
		int32_t *r = realloc(b->merge_right, cap * sizeof *r);
		if (r)
			b->merge_right = r;
		int32_t *x = realloc(b->merge_result, cap * sizeof *x);
		if (x)
			b->merge_result = x;
		if (!l || !r || !x)
			return err_set(e, ERR_NOMEM, "out of memory");
		b->merge_cap = cap;
	}
	b->merge_left[b->n_merges] = left;
	b->merge_right[b->n_merges] = right;
	b->merge_result[b->n_merges] = result;
	b->n_merges++;
	return 0;
}

int bpe_add_merge_str(struct bpe *b, const char *l, size_t l_len,
		      const char *r, size_t r_len, struct err *e)
{
	int li = bpe_piece_id(b, l, l_len);
	int ri = bpe_piece_id(b, r, r_len);
	const char *miss = li < 0 ? l : ri < 0 ? r : NULL;
	size_t miss_len = li < 0 ? l_len : r_len;
	if (miss)
		return err_set(e, ERR_FORMAT,
			       "merge %zu '%.*s %.*s': '%.*s' is not in the "
			       "vocabulary",
			       b->n_merges, (int)(l_len > 64 ? 64 : l_len), l,
			       (int)(r_len > 64 ? 64 : r_len), r,
			       (int)(miss_len > 64 ? 64 : miss_len), miss);
	char small[256];
	char *cat = l_len + r_len <= sizeof small ? small
						  : malloc(l_len + r_len);
	if (!cat)
		return err_set(e, ERR_NOMEM, "out of memory");
	memcpy(cat, l, l_len);
	memcpy(cat + l_len, r, r_len);
	int xi = bpe_piece_id(b, cat, l_len + r_len);
	int rc = 0;
	if (xi < 0)
		rc = err_set(e, ERR_FORMAT,
			     "merge %zu '%.*s %.*s': '%.*s%.*s' is not in the "
			     "vocabulary",
			     b->n_merges, (int)(l_len > 64 ? 64 : l_len), l,
			     (int)(r_len > 64 ? 64 : r_len), r,
			     (int)(l_len > 64 ? 64 : l_len), l,
			     (int)(r_len > 64 ? 64 : r_len), r);
	if (cat != small)
		free(cat);
	if (rc)
		return rc;
	return bpe_add_merge(b, li, ri, xi, e);
}

static inline uint64_t pair_hash(uint32_t l, uint32_t r)
{
	uint64_t k = (uint64_t)l << 32 | r;
	k ^= k >> 30;
	k *= 0xBF58476D1CE4E5B9ULL;
	k ^= k >> 27;
	k *= 0x94D049BB133111EBULL;
	return k ^ (k >> 31);
}

static inline size_t pair_slot(uint32_t l, uint32_t r, size_t mask)
{
	return (size_t)pair_hash(l, r) & mask;
}

/* the bloom bit uses the high hash bits (the slot uses the low ones) */
static inline uint32_t bloom_bit(uint64_t h)
{
	return (uint32_t)(h >> 43) & (BPE_BLOOM_BITS - 1);
}

/* The last UTF-8 character of s[0..n) (n > 0), its bytes packed. */
static uint32_t pack_last_char(const char *s, size_t n)
{
	size_t k = n - 1;
	while (k > 0 && n - k < 4 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	uint32_t v = 0;
	for (size_t i = k; i < n; i++)
		v = v << 8 | (unsigned char)s[i];
	return v;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static int cut_set_build(struct bpe *b, struct err *e)
{
	static const char meta[] = "\xe2\x96\x81";
	free(b->cut_bad);
	b->cut_bad = NULL;
	b->n_cut_bad = 0;
	b->meta_piece = bpe_piece_id(b, meta, 3) >= 0;
	size_t cap = 0;
	for (size_t i = 0; i < b->n_merges; i++) {
		int l = b->merge_left[i], r = b->merge_right[i];
		if (l < 0 || r < 0 || l >= b->n_vocab || r >= b->n_vocab ||
		    b->piece_len[r] < 3 || !b->piece_len[l] ||
		    memcmp(b->arena + b->piece_off[r], meta, 3))
			continue;
		if (b->n_cut_bad == cap) {
			size_t c = cap ? 2 * cap : 16;
			uint32_t *v = realloc(b->cut_bad, c * sizeof *v);
			if (!v)
				return err_set(e, ERR_NOMEM, "out of memory");
			b->cut_bad = v;
			cap = c;
		}
		b->cut_bad[b->n_cut_bad++] = pack_last_char(
		    b->arena + b->piece_off[l], b->piece_len[l]);
	}
	if (b->n_cut_bad)
		qsort(b->cut_bad, b->n_cut_bad, sizeof *b->cut_bad, cmp_u32);
	size_t m = 0;
	for (size_t i = 0; i < b->n_cut_bad; i++)
		if (!m || b->cut_bad[m - 1] != b->cut_bad[i])
			b->cut_bad[m++] = b->cut_bad[i];
	b->n_cut_bad = m;
	return 0;
}

bool bpe_cut_safe(const struct bpe *b, const char *s, size_t n, size_t p)
{
	if (!b->meta_piece || p == 0 || p + 3 > n ||
	    memcmp(s + p, "\xe2\x96\x81", 3))
		return false;
	uint32_t c = pack_last_char(s, p);
	return !b->n_cut_bad ||
	       !bsearch(&c, b->cut_bad, b->n_cut_bad, sizeof c, cmp_u32);
}

int bpe_finish(struct bpe *b, struct err *e)
{
	free(b->pairs);
	size_t cap = 16;
	while (cap < 2 * b->n_merges + 2)
		cap *= 2;
	b->pairs = malloc(cap * sizeof *b->pairs);
	if (!b->pairs)
		return err_set(e, ERR_NOMEM, "out of memory");
	b->pairs_cap = cap;
	for (size_t i = 0; i < cap; i++)
		b->pairs[i].left = UINT32_MAX;
	free(b->pair_bloom);
	b->pair_bloom = calloc(BPE_BLOOM_BITS / 64, sizeof *b->pair_bloom);
	if (!b->pair_bloom)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < b->n_merges; i++) {
		uint32_t l = (uint32_t)b->merge_left[i];
		uint32_t r = (uint32_t)b->merge_right[i];
		size_t j = pair_slot(l, r, cap - 1);
		while (b->pairs[j].left != UINT32_MAX &&
		       (b->pairs[j].left != l || b->pairs[j].right != r))
			j = (j + 1) & (cap - 1);
		/* a repeated pair keeps its last rank and result, as the
		 * reference (which collects merges into a hash map) does */
		b->pairs[j] = (struct bpe_pair){l, r, (uint32_t)i,
						b->merge_result[i]};
		uint32_t bit = bloom_bit(pair_hash(l, r));
		b->pair_bloom[bit >> 6] |= 1ULL << (bit & 63);
	}
	for (int i = 0; i < 256; i++) {
		char name[8];
		static const char hex[] = "0123456789ABCDEF";
		memcpy(name, "<0x", 3);
		name[3] = hex[i >> 4];
		name[4] = hex[i & 15];
		name[5] = '>';
		b->byte_id[i] = bpe_piece_id(b, name, 6);
		if (b->byte_id[i] >= 0)
			b->flags[b->byte_id[i]] |= BPE_PIECE_BYTE;
	}
	for (int i = 0; i < 128; i++) {
		char c = (char)i;
		b->ascii_id[i] = bpe_piece_id(b, &c, 1);
	}
	return cut_set_build(b, e);
}

int bpe_ids_push(struct bpe_ids *a, int id)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		int *v = realloc(a->v, cap * sizeof *v);
		if (!v)
			return -1;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = id;
	return 0;
}

/* --- the merge loop -------------------------------------------------- */

struct sym {
	int32_t id;
	int32_t prev, next; /* -1 at the ends */
	uint32_t len;       /* bytes; 0 = merged away */
};

struct hent {
	uint32_t rank;
	uint32_t pos;
	int32_t result;
	int32_t left, right; /* the pair when pushed */
};

static inline bool hent_less(const struct hent *a, const struct hent *b)
{
	return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(struct hent *h, size_t *n, struct hent x)
{
	size_t i = (*n)++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!hent_less(&x, &h[p]))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = x;
}

static struct hent heap_pop(struct hent *h, size_t *n)
{
	struct hent top = h[0], x = h[--*n];
	size_t i = 0, m = *n;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= m)
			break;
		if (c + 1 < m && hent_less(&h[c + 1], &h[c]))
			c++;
		if (!hent_less(&h[c], &x))
			break;
		h[i] = h[c];
		i = c;
	}
	if (m)
		h[i] = x;
	return top;
}

static inline const struct bpe_pair *pair_get(const struct bpe *b,
					      int32_t l, int32_t r)
{
	size_t mask = b->pairs_cap - 1;
	uint64_t h = pair_hash((uint32_t)l, (uint32_t)r);
	uint32_t bit = bloom_bit(h);
	if (!(b->pair_bloom[bit >> 6] & (1ULL << (bit & 63))))
		return NULL;
	size_t j = (size_t)h & mask;
	for (;;) {
		const struct bpe_pair *p = &b->pairs[j];
		if (p->left == (uint32_t)l && p->right == (uint32_t)r)
			return p;
		if (p->left == UINT32_MAX)
			return NULL;
		j = (j + 1) & mask;
	}
}

static int sym_add(struct sym *syms, size_t *n, int32_t id, uint32_t len)
{
	size_t i = *n;
	syms[i].id = id;
	syms[i].len = len;
	syms[i].prev = i ? (int32_t)i - 1 : -1;
	syms[i].next = -1;
	if (i)
		syms[i - 1].next = (int32_t)i;
	*n = i + 1;
	return 0;
}

int bpe_encode_word(const struct bpe *b, const char *s, size_t len,
		    struct bpe_ids *out, struct err *e)
{
	if (len == 0)
		return 0;
	if (len > (size_t)INT32_MAX / 2)
		return err_set(e, ERR_INVALID, "word of %zu bytes is too long",
			       len);
	if (b->ignore_merges) {
		int id = bpe_piece_id(b, s, len);
		if (id >= 0)
			return bpe_ids_push(out, id)
				       ? err_set(e, ERR_NOMEM, "out of memory")
				       : 0;
	}
	/* At most one symbol per byte. */
	struct sym *syms = malloc(len * sizeof *syms);
	struct hent *heap = NULL;
	if (!syms)
		return err_set(e, ERR_NOMEM, "out of memory");
	size_t n = 0;
	const unsigned char *u = (const unsigned char *)s;
	int32_t unk = -1;
	uint32_t unk_len = 0;
	for (size_t i = 0; i < len;) {
		size_t cl = 1;
		int id;
		if (u[i] < 0x80) {
			id = b->ascii_id[u[i]];
		} else {
			cl = utf8_valid_len(u + i, len - i);
			if (!cl) /* not reached: text is sanitized first */
				cl = 1;
			id = bpe_piece_id(b, s + i, cl);
		}
		if (id >= 0) {
			if (unk >= 0) {
				sym_add(syms, &n, unk, unk_len);
				unk = -1;
			}
			sym_add(syms, &n, id, (uint32_t)cl);
			i += cl;
			continue;
		}
		if (b->byte_fallback) {
			size_t k = 0;
			while (k < cl && b->byte_id[u[i + k]] >= 0)
				k++;
			if (k == cl) {
				for (k = 0; k < cl; k++)
					sym_add(syms, &n, b->byte_id[u[i + k]], 1);
				i += cl;
				continue;
			}
		}
		if (b->unk_id >= 0) {
			if (unk >= 0 && b->fuse_unk) {
				unk_len += (uint32_t)cl;
			} else {
				if (unk >= 0)
					sym_add(syms, &n, unk, unk_len);
				unk = b->unk_id;
				unk_len = (uint32_t)cl;
			}
		}
		i += cl;
	}
	if (unk >= 0)
		sym_add(syms, &n, unk, unk_len);

	int rc = 0;
	if (n > 1 && b->pairs_cap) {
		heap = malloc(3 * n * sizeof *heap);
		if (!heap) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		size_t hn = 0;
		for (size_t i = 0; i + 1 < n; i++) {
			const struct bpe_pair *p =
				pair_get(b, syms[i].id, syms[i + 1].id);
			if (p)
				heap_push(heap, &hn,
					  (struct hent){p->rank, (uint32_t)i,
							p->result, syms[i].id,
							syms[i + 1].id});
		}
		while (hn) {
			struct hent top = heap_pop(heap, &hn);
			struct sym *cur = &syms[top.pos];
			if (cur->len == 0 || cur->next < 0)
				continue;
			struct sym *right = &syms[cur->next];
			const struct bpe_pair *p;
			/* Stale unless the pair now there merges into the same
			 * result (the reference checks only that); the same
			 * pair as when pushed needs no lookup. */
			if (cur->id != top.left || right->id != top.right) {
				p = pair_get(b, cur->id, right->id);
				if (!p || p->result != top.result)
					continue;
			}
			cur->id = top.result;
			cur->len += right->len;
			right->len = 0;
			cur->next = right->next;
			if (cur->next >= 0)
				syms[cur->next].prev = (int32_t)top.pos;
			if (cur->prev >= 0) {
				p = pair_get(b, syms[cur->prev].id, cur->id);
				if (p)
					heap_push(heap, &hn,
						  (struct hent){p->rank,
								(uint32_t)cur->prev,
								p->result,
								syms[cur->prev].id,
								cur->id});
			}
			if (cur->next >= 0) {
				p = pair_get(b, cur->id, syms[cur->next].id);
				if (p)
					heap_push(heap, &hn,
						  (struct hent){p->rank, top.pos,
								p->result, cur->id,
								syms[cur->next].id});
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		if (syms[i].len && bpe_ids_push(out, syms[i].id)) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			break;
		}
out:
	free(heap);
	free(syms);
	return rc;
}
