/*
 * spm_impl — the inside of struct spm, private to the SentencePiece files
 * (spm_load.c fills it; spm_lookup.c, spm_normalize.c, spm_encode.c,
 * spm_decode.c and spm_write.c read it). It includes the public spm.h
 * (struct spm_info, struct spm_state); spm.h never includes it, and no
 * file named spm.c exists, so the include graph has no circle.
 *
 * Invariants after spm_load_*: pieces[0..n) hold valid UTF-8 without NUL,
 * NUL-terminated in strings; no two pieces share a string; exactly one
 * UNKNOWN piece (unk); with byte_fallback every byte has its piece
 * (byte_id); buf is the file as read and every offset below points into
 * it. The model owns every pointer (spm_free).
 */
#ifndef PUNGUZA_SPM_IMPL_H
#define PUNGUZA_SPM_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "spm.h"

struct spm_norm {
	int add_dummy_prefix;
	int remove_extra_whitespaces;
	int escape_whitespaces;
	char *name;
	uint32_t *units; /* (n_units) Darts-clone double array, host order */
	size_t n_units;
	const char *repl; /* NUL-separated replacement strings, in m->buf */
	size_t repl_len;
	size_t charsmap_size;
	int present;
};

struct piece {
	const char *s; /* NUL-terminated, in m->strings */
	uint32_t len;
	float score;
	int type;
	size_t raw_off, raw_len; /* the SentencePiece submessage in m->buf */
};

struct field {
	uint32_t num;
	int wt;
	size_t off, len; /* the whole field, tag included */
	size_t pay_off, pay_len;
};

struct spm {
	char *name;
	unsigned char *buf; /* owned copy of the serialized ModelProto */
	size_t len;
	struct piece *pieces; /* (n) */
	int n;
	char *strings;
	struct field *fields; /* (n_fields) top-level fields, file order */
	size_t n_fields;
	struct spm_norm norm, denorm;
	struct spm_info info;
	char *tr_pieces[4]; /* trainer unk/bos/eos/pad_piece, NULL = default */
	char *unk_surface;
	/* Piece lookup: open addressing, ht_id = id + 1 (0 = empty). */
	uint32_t *ht_hash, *ht_id;
	size_t ht_mask;
	/* Byte trie of the "normal" pieces (NORMAL, USER_DEFINED, UNUSED):
	 * transitions (node << 8 | byte) + 1 -> child, node terminal ids. */
	uint64_t *tr_key;
	uint32_t *tr_child;
	size_t tr_mask;
	int32_t *tr_id; /* (tr_nodes) piece id or -1 */
	size_t tr_nodes;
	float min_score, max_score; /* over NORMAL pieces, as SentencePiece */
	uint32_t max_len;           /* longest normal piece, bytes */
	int unk;                    /* the UNKNOWN piece */
	int has_user_defined, has_unused;
	int word_cache_ok; /* BPE words are independent: see bpe_encode */
	int byte_id[256];
	size_t max_run; /* longest stretch encoded at once: spm_set_max_run */
};

/* --- spm_lookup.c: pieces by their bytes ------------------------------- */

/* NORMAL, USER_DEFINED or UNUSED: the pieces encoding may produce. */
int spm_is_normal_type(int t);
uint32_t spm_hash_bytes(const unsigned char *s, size_t n); /* FNV-1a */
/* The id of the piece s[0..n) of any type, -1 when none. */
int spm_lookup(const struct spm *m, const void *s, size_t n);
/* SentencePiece's PieceToId: any piece, else the unknown id. */
int spm_piece_to_id(const struct spm *m, const void *s, size_t n);
/* The trie child of node by byte c, 0 when none (the root, node 0, is
 * never a child); tr_id[node] is the piece ending there or -1. */
uint32_t spm_tr_step(const struct spm *m, uint32_t node, unsigned char c);
/* Builds the hash and the trie from pieces; refuses a repeated piece. */
int spm_build_lookup(struct spm *m, struct err *e);
/* Longest user-defined piece that prefixes s (SentencePiece's
 * PrefixMatcher), 0 when none. */
size_t spm_ud_prefix(const struct spm *m, const unsigned char *s,
		     size_t len);

/* --- spm_load.c -------------------------------------------------------- */

/* "<0x41>" -> 0x41, else -1 (upper-case hex, as ByteToPiece writes). */
int spm_piece_byte(const struct piece *p);

/* --- spm_normalize.c --------------------------------------------------- */

struct sbuf;
/* Normalizes text[0..len) with spec ns into b (reset first): user-defined
 * pieces verbatim when use_matcher, the dummy prefix as a suffix when
 * ws_suffix. 0 or ERR_NOMEM. */
int spm_norm_apply(const struct spm *m, const struct spm_norm *ns,
		   int use_matcher, int ws_suffix, const char *text,
		   size_t len, struct sbuf *b);

#endif
