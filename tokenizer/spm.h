/*
 * spm — SentencePiece models (tokenizer.model): read, encode, decode, write.
 *
 * A small hand-written reader for SentencePiece's ModelProto (protobuf,
 * src/sentencepiece_model.proto): the pieces (string, score, type), the
 * TrainerSpec, the NormalizerSpec (with its precompiled_charsmap, a
 * Darts-clone double array plus a blob of replacement strings) and the
 * denormalizer spec.  Every varint (at most 10 bytes) and every length is
 * checked against the bytes that remain; unknown fields of every wire type
 * (0, 1, 2, 5) are skipped; groups (3, 4) are rejected.
 *
 * Encoding follows SentencePiece 0.1.97 (Debian's, the reference of the
 * goldens) id for id:
 *   - normalization: user-defined pieces are copied verbatim; otherwise the
 *     longest charsmap rule applies (none when the charsmap is empty, as for
 *     "identity"); malformed UTF-8 becomes U+FFFD one byte at a time;
 *     remove_extra_whitespaces, add_dummy_prefix (a suffix when
 *     treat_whitespace_as_suffix), escape_whitespaces (' ' -> U+2581).
 *   - BPE: characters (user-defined pieces whole and frozen), then merge the
 *     adjacent pair whose concatenation is a piece with the highest score
 *     (ties: leftmost), with a heap: O(n log n).  UNUSED pieces may be
 *     formed and are split back into the parts that formed them.
 *   - Unigram: Viterbi over all pieces (UNUSED skipped, user-defined pieces
 *     scored length * max_score - 0.1, an unknown character min_score - 10),
 *     with SentencePiece's exact float/double arithmetic.
 *   - unknown pieces: with byte_fallback one <0xXX> piece per UTF-8 byte,
 *     otherwise the unk id, consecutive unknowns fused into one.
 *   The trainer's split_by_whitespace / split_digits / split_by_number /
 *   split_by_unicode_script only constrain which pieces TRAINING creates;
 *   encoding never looks at them (checked: the 8,064-piece InkubaLM model
 *   has split_digits yet encodes "2024" as "▁20" "24").  They are reported
 *   in struct spm_info for display only.  No BOS/EOS are added: the caller
 *   decides (spm_info gives their ids).
 *
 * Decoding: control pieces vanish, <unk> becomes unk_surface (" ⁇ "), runs
 * of byte pieces are reassembled into UTF-8 (each invalid byte -> U+FFFD),
 * U+2581 -> ' ', and while the text is still empty a leading U+2581 is
 * dropped from each piece when add_dummy_prefix or remove_extra_whitespaces
 * is set (0.1.97's rule).
 *
 * Writing: spm_write_* emit a ModelProto holding only the listed pieces, in
 * the given order, each copied byte for byte; the trainer spec is copied
 * with vocab_size (and unk/bos/eos/pad_id, when present) updated; the
 * normalizer and denormalizer specs and unknown top-level fields are copied
 * verbatim; self_test_data is dropped (its expectations would no longer
 * hold and SentencePiece refuses a model whose self-test fails).
 *
 * Where this reader is stricter than SentencePiece (none of these occur
 * in any model we know; each is a clean error, never a wrong answer):
 *   - a piece that is not valid UTF-8, has an unknown type number, or
 *     repeats another piece's string (SentencePiece allows one string as
 *     both a normal and a control/byte piece) is rejected;
 *   - a byte piece must read "<0xXX>" with upper-case hex.
 * And where it is safer: a hostile charsmap is range-checked at every
 * step (SentencePiece trusts it; a valid one behaves identically), and
 * with more than 32 rules matching at one point the longest wins (where
 * SentencePiece would read past its result array).  A CONTROL piece can
 * only come out of encoding if a single character is itself a control
 * piece; SentencePiece then fails the whole Encode, we emit its id.
 *
 * Files: spm_load.c (ModelProto -> struct spm, accessors), spm_proto.c
 * (the wire format), spm_lookup.c (pieces by their bytes), spm_normalize.c,
 * spm_encode.c, spm_decode.c, spm_write.c, spm_text.c (SentencePiece's
 * UTF-8 rules, a byte buffer); struct spm's layout is private to them
 * (spm_impl.h).
 *
 * Ownership: a struct spm owns everything it points to; strings it returns
 * live as long as the model.  A loaded model is read-only, so one model may
 * encode from many threads, each with its own struct spm_state.
 */
#ifndef PUNGUZA_SPM_H
#define PUNGUZA_SPM_H

#include <stddef.h>

#include "err.h"

enum spm_piece_type {
	SPM_NORMAL = 1,
	SPM_UNKNOWN = 2,
	SPM_CONTROL = 3,
	SPM_USER_DEFINED = 4,
	SPM_UNUSED = 5,
	SPM_BYTE = 6,
};

enum spm_model_type {
	SPM_UNIGRAM = 1,
	SPM_BPE = 2,
};

/* What the model file says, decoded once at load. */
struct spm_info {
	int model_type;    /* SPM_UNIGRAM or SPM_BPE */
	int vocab_size;    /* trainer_spec.vocab_size as stored (may be stale) */
	int byte_fallback; /* the flags below are 0/1, defaults applied */
	int split_digits;
	int split_by_whitespace;
	int split_by_unicode_script;
	int split_by_number;
	int treat_whitespace_as_suffix;
	int allow_whitespace_only_pieces;
	int max_sentencepiece_length;
	/* Ids resolved as SentencePieceProcessor does: the id of the named
	 * piece (unk_piece etc., "<unk>" "<s>" "</s>" "<pad>" by default),
	 * -1 when it is absent or not of the right type (UNKNOWN for unk,
	 * CONTROL for the others). */
	int unk_id, bos_id, eos_id, pad_id;
	const char *unk_surface; /* decoded text of <unk> */
	/* normalizer_spec */
	const char *normalizer_name; /* "" when absent */
	int add_dummy_prefix;
	int remove_extra_whitespaces;
	int escape_whitespaces;
	size_t charsmap_size; /* bytes of precompiled_charsmap; 0 = identity */
	int has_denormalizer; /* a denormalizer_spec with a charsmap */
	int has_self_test;    /* self_test_data present (dropped on write) */
	int words_independent; /* BPE words encode apart: see spm_state */
};

struct spm;

/* Loads path (read whole, at most 1 GiB).  Errors name the file:
 * "'x.model': piece 12: invalid UTF-8".  ERR_UNSUPPORTED for WORD/CHAR
 * models.  *out is NULL on failure. */
int spm_load_file(const char *path, struct spm **out, struct err *e);

/* Same from a buffer (copied); name is used in messages. */
int spm_load_buffer(const void *data, size_t len, const char *name,
		    struct spm **out, struct err *e);

void spm_free(struct spm *m);

const struct spm_info *spm_info(const struct spm *m);
int spm_n_pieces(const struct spm *m);
int spm_model_type(const struct spm *m);
/* BPE: a word (or, when words cannot be encoded apart, the whole text)
 * longer than max_run bytes is encoded in max_run pieces cut at character
 * boundaries (tok_set_chunking; default TOK_MAX_RUN, 1 MiB). */
void spm_set_max_run(struct spm *m, size_t max_run);

/* Piece i as a NUL-terminated string (len without the NUL, may be NULL);
 * NULL when i is out of range. */
const char *spm_piece(const struct spm *m, int i, size_t *len);
float spm_score(const struct spm *m, int i);       /* 0 when out of range */
int spm_type(const struct spm *m, int i);          /* 0 when out of range */

/* Exact id of a piece of any type, -1 when absent. */
int spm_piece_id(const struct spm *m, const char *piece, size_t len);

/* Reusable encoder state: the result ids plus scratch memory, so that
 * encoding many lines allocates only while buffers grow.  Zero-initialise
 * ({0}), pass to spm_encode_state, free with spm_state_free.
 *
 * For BPE models where no piece spans a word start (a U+2581 after a
 * non-U+2581; InkubaLM's are such) and no piece is UNUSED, words are
 * merged independently, which is exact, and the state caches each word's
 * pieces (bounded: about 6 MB at most).  no_cache = 1 turns that off; the
 * ids are the same either way. */
struct spm_state {
	int *ids; /* (n) the ids of the last encode */
	size_t n;
	size_t cap;
	int no_cache;
	void *scratch;
};
void spm_state_free(struct spm_state *st);

/* Encodes len bytes of text (any bytes; no BOS/EOS) into st->ids. */
int spm_encode_state(const struct spm *m, const char *text, size_t len,
		     struct spm_state *st, struct err *e);

/* Convenience: *ids is malloc'd (NULL when *n == 0); caller frees. */
int spm_encode(const struct spm *m, const char *text, size_t len, int **ids,
	       size_t *n, struct err *e);

/* The normalized text SentencePiece segments (for tests and display).
 * *out is malloc'd and NUL-terminated; caller frees. */
int spm_normalize(const struct spm *m, const char *text, size_t len,
		  char **out, size_t *out_len, struct err *e);

/* Decodes ids to text.  ERR_INVALID for an id out of range.  *text is
 * malloc'd and NUL-terminated; caller frees. */
int spm_decode(const struct spm *m, const int *ids, size_t n, char **text,
	       size_t *len, struct err *e);

/* Serializes a model holding only pieces keep[0..n_keep) in that order
 * (new id i = old id keep[i]).  ERR_INVALID when an id is out of range or
 * repeated, when no UNKNOWN piece is kept, or when byte_fallback is on and
 * a byte piece is missing (SentencePiece would refuse the result).
 * *out is malloc'd; caller frees. */
int spm_write_buffer(const struct spm *m, const int *keep, size_t n_keep,
		     unsigned char **out, size_t *len, struct err *e);

/* Same, written atomically to path. */
int spm_write_file(const char *path, const struct spm *m, const int *keep,
		   size_t n_keep, struct err *e);

#endif
