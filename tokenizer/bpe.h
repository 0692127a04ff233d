/*
 * bpe — the vocabulary (piece strings <-> ids) and the BPE merge loop of a
 * Hugging Face `tokenizers` BPE model.
 *
 * Semantics (tokenizers/src/models/bpe/{model,word}.rs):
 * - A word is split into UTF-8 characters. A character in the vocabulary is
 *   a symbol; otherwise, with byte_fallback and every byte's "<0xXX>" piece
 *   present, one symbol per byte; otherwise the unk piece (consecutive unks
 *   fused into one when fuse_unk; a pending unk is emitted before the next
 *   known character, i.e. after any byte-fallback symbols in between, as
 *   the reference does). Without an unk piece such a character is dropped.
 * - Merges then apply to the symbol list: a min-heap of adjacent pairs keyed
 *   by (merge rank, position of the left symbol in the initial list), lazy
 *   invalidation. An entry is taken when its left symbol is alive, has a
 *   right neighbour and the pair's merge produces the entry's result id —
 *   the reference compares the result id only, not the rank; mirrored.
 *   O(n log n) in the word length; the whole text may be one word.
 * - ignore_merges: a word that is itself a piece is emitted directly.
 * - A pair listed twice among the merges keeps its last rank and result
 *   (the reference collects them into a hash map).
 *
 * Pieces are stored in one arena; ids without a piece ("holes") are
 * allowed. The merge list is kept in rank order for the vocabulary editor.
 * Everything is owned by the struct; bpe_free releases it.
 */
#ifndef PUNGUZA_BPE_H
#define PUNGUZA_BPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define BPE_MAX_VOCAB (1 << 24) /* hostile-input bound on ids */
#define BPE_BLOOM_BITS (1u << 21) /* 256 KB */

enum {
	BPE_PIECE_PRESENT = 1, /* the id has a piece */
	BPE_PIECE_BYTE = 2,    /* "<0xXX>" */
	BPE_PIECE_SPECIAL = 4, /* a special added token */
	BPE_PIECE_ADDED = 8,   /* an added token (matched before the model) */
};

/* One merge in the pair hash table (open addressing, linear probing). */
struct bpe_pair {
	uint32_t left, right; /* left == UINT32_MAX: empty slot */
	uint32_t rank;
	int32_t result;
};

struct bpe {
	/* vocabulary */
	int n_vocab;            /* ids are 0..n_vocab-1 */
	char *arena;            /* piece bytes, each NUL-terminated */
	size_t arena_len, arena_cap;
	uint32_t *piece_off;    /* (n_vocab) offset in arena */
	uint32_t *piece_len;    /* (n_vocab) */
	uint8_t *flags;         /* (n_vocab) BPE_PIECE_* */
	int32_t *hash;          /* (hash_cap) ids, -1 empty: piece -> id */
	size_t hash_cap;        /* power of two */
	size_t n_pieces;        /* ids with a piece */
	int32_t byte_id[256];   /* "<0xXX>" ids, -1 when absent */
	int32_t ascii_id[128];  /* one-character ASCII pieces, -1 absent */

	/* merges, in rank order */
	size_t n_merges;
	int32_t *merge_left, *merge_right, *merge_result; /* (n_merges) */
	size_t merge_cap;
	struct bpe_pair *pairs; /* (pairs_cap) hash table of distinct pairs */
	size_t pairs_cap;       /* power of two, >= 2 * n_merges */
	uint64_t *pair_bloom;   /* (BPE_BLOOM_BITS / 64) one bit per pair hash:
				 * most absent pairs never touch the table */

	/* where a long word may be cut (bpe_cut_safe): the last characters
	 * (UTF-8 bytes packed big-endian) of left parts of merges whose
	 * right part starts with U+2581, sorted; set by bpe_finish */
	uint32_t *cut_bad;
	size_t n_cut_bad;
	bool meta_piece;        /* U+2581 is a piece */

	/* options */
	int unk_id;             /* -1 when there is no unk piece */
	bool byte_fallback, fuse_unk, ignore_merges;
};

void bpe_init(struct bpe *b);
void bpe_free(struct bpe *b); /* keeps b zeroed; NULL is a no-op */

/* Sizes the id table for ids 0..n-1 (grows only). */
int bpe_reserve_ids(struct bpe *b, int n, struct err *e);

/* Sets the piece of id. ERR_FORMAT (naming both) when the piece already has
 * another id or the id another piece; ERR_INVALID when id is out of range. */
int bpe_set_piece(struct bpe *b, int id, const char *s, size_t len,
		  uint8_t flags, struct err *e);

/* The id of a piece, or -1. */
int bpe_piece_id(const struct bpe *b, const char *s, size_t len);

/* Appends a merge by ids (rank = current count). result must be the piece
 * left+right; checked by the caller (bpe_add_merge_str does it). */
int bpe_add_merge(struct bpe *b, int left, int right, int result,
		  struct err *e);

/* Appends the merge "l r": both parts and their concatenation must be
 * pieces; otherwise ERR_FORMAT "merge N 'l r': 'x' is not in the
 * vocabulary". */
int bpe_add_merge_str(struct bpe *b, const char *l, size_t l_len,
		      const char *r, size_t r_len, struct err *e);

/* Builds the pair map and the byte/ASCII tables; call after the last
 * bpe_set_piece / bpe_add_merge. */
int bpe_finish(struct bpe *b, struct err *e);

/* True when encoding word s[0..p) and s[p..n) apart gives the same ids as
 * encoding s[0..n) whole: s[p] starts a U+2581, p > 0, U+2581 is a piece
 * (so never byte fallback or unk) and no merge joins a left part ending in
 * the character before p with a right part starting with U+2581 (the first
 * merge to join symbols across p would be such a merge; merges elsewhere
 * are unaffected, so both sides merge as they would whole). Not for
 * ignore_merges (a shorter word may itself be a piece). */
bool bpe_cut_safe(const struct bpe *b, const char *s, size_t n, size_t p);

/* A growable id array. */
struct bpe_ids {
	int *v;
	size_t n, cap;
};
int bpe_ids_push(struct bpe_ids *a, int id);

/* Encodes one word (valid UTF-8) and appends its ids to out. */
int bpe_encode_word(const struct bpe *b, const char *s, size_t len,
		    struct bpe_ids *out, struct err *e);

#endif
