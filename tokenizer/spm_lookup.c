/*
 * spm_lookup — finding pieces by their bytes (see spm_impl.h): an
 * open-addressing hash of every piece and a byte trie of the normal ones.
 */
#include <stdlib.h>
#include <string.h>

#include "spm_impl.h"

int spm_is_normal_type(int t)
{
	return t == SPM_NORMAL || t == SPM_USER_DEFINED || t == SPM_UNUSED;
}

uint32_t spm_hash_bytes(const unsigned char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 16777619u;
	}
	return h;
}

int spm_lookup(const struct spm *m, const void *s, size_t n)
{
	uint32_t h = spm_hash_bytes(s, n);
	size_t i = h & m->ht_mask;
	while (m->ht_id[i]) {
		if (m->ht_hash[i] == h) {
			const struct piece *p = &m->pieces[m->ht_id[i] - 1];
			if (p->len == n && memcmp(p->s, s, n) == 0)
				return (int)m->ht_id[i] - 1;
		}
		i = (i + 1) & m->ht_mask;
	}
	return -1;
}

/* SentencePiece's PieceToId: any piece, else the unknown id. */
int spm_piece_to_id(const struct spm *m, const void *s, size_t n)
{
	int id = spm_lookup(m, s, n);
	return id < 0 ? m->unk : id;
}

static size_t tr_slot(uint64_t key, size_t mask)
{
	return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

/* The child of node by byte c, 0 when none (the root is never a child). */
uint32_t spm_tr_step(const struct spm *m, uint32_t node, unsigned char c)
{
	uint64_t key = ((uint64_t)node << 8 | c) + 1;
	size_t i = tr_slot(key, m->tr_mask);
	for (;;) {
		uint64_t k = m->tr_key[i];
		if (k == key)
			return m->tr_child[i];
		if (k == 0)
			return 0;
		i = (i + 1) & m->tr_mask;
	}
}

int spm_build_lookup(struct spm *m, struct err *e)
{
	size_t cap = 16, total = 1;
	while (cap < (size_t)m->n * 2)
		cap <<= 1;
	m->ht_mask = cap - 1;
	m->ht_hash = calloc(cap, sizeof *m->ht_hash);
	m->ht_id = calloc(cap, sizeof *m->ht_id);
	if (!m->ht_hash || !m->ht_id)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", m->name);
	for (int id = 0; id < m->n; id++) {
		const struct piece *p = &m->pieces[id];
		int old = spm_lookup(m, p->s, p->len);
		if (old >= 0) {
			/* SentencePiece keeps normal and reserved pieces in
			 * two maps; one string in both is too odd to mimic. */
			int same = spm_is_normal_type(p->type) ==
				   spm_is_normal_type(m->pieces[old].type);
			return err_set(e, same ? ERR_FORMAT : ERR_UNSUPPORTED,
				       "'%s': piece %d '%s' is already defined "
				       "(piece %d)", m->name, id, p->s, old);
		}
		uint32_t h = spm_hash_bytes((const unsigned char *)p->s, p->len);
		size_t i = h & m->ht_mask;
		while (m->ht_id[i])
			i = (i + 1) & m->ht_mask;
		m->ht_hash[i] = h;
		m->ht_id[i] = (uint32_t)id + 1;
		if (spm_is_normal_type(p->type))
			total += p->len;
	}

	/* Trie: at most one node per byte of the normal pieces. */
	cap = 16;
	while (cap < total * 2)
		cap <<= 1;
	m->tr_mask = cap - 1;
	m->tr_key = calloc(cap, sizeof *m->tr_key);
	m->tr_child = calloc(cap, sizeof *m->tr_child);
	m->tr_id = malloc(total * sizeof *m->tr_id);
	if (!m->tr_key || !m->tr_child || !m->tr_id)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", m->name);
	m->tr_id[0] = -1;
	m->tr_nodes = 1;
	for (int id = 0; id < m->n; id++) {
		const struct piece *p = &m->pieces[id];
		if (!spm_is_normal_type(p->type))
			continue;
		uint32_t node = 0;
		for (uint32_t k = 0; k < p->len; k++) {
			unsigned char c = (unsigned char)p->s[k];
			uint32_t child = spm_tr_step(m, node, c);
			if (!child) {
				uint64_t key = ((uint64_t)node << 8 | c) + 1;
				size_t i = tr_slot(key, m->tr_mask);
				while (m->tr_key[i])
					i = (i + 1) & m->tr_mask;
				child = (uint32_t)m->tr_nodes++;
				m->tr_key[i] = key;
				m->tr_child[i] = child;
				m->tr_id[child] = -1;
			}
			node = child;
		}
		m->tr_id[node] = id;
	}
	return 0;
}

/* Longest user-defined piece that prefixes s (SentencePiece's
 * PrefixMatcher), 0 when none. */
size_t spm_ud_prefix(const struct spm *m, const unsigned char *s,
		     size_t len)
{
	uint32_t node = 0;
	size_t best = 0;
	for (size_t i = 0; i < len; i++) {
		node = spm_tr_step(m, node, s[i]);
		if (!node)
			break;
		int id = m->tr_id[node];
		if (id >= 0 && m->pieces[id].type == SPM_USER_DEFINED)
			best = i + 1;
	}
	return best;
}
