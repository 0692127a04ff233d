/*
 * tok_impl — the inside of struct tokenizer: its layout and the types it
 * needs (added tokens, pre-tokenizer, decoder ops). Private to the
 * tokenizer's files: the loaders fill it (hfjson.c and its parts,
 * hf_config.c, tok_load.c for a SentencePiece model), tok_encode.c,
 * tok_decode.c and tok_query.c read it, and the vocabulary editor
 * (vocab.c) builds tokenizers with tok_from_json_text / tok_from_spm.
 * Not for other modules. It includes the public tokenizer.h (for enum
 * tok_kind); tokenizer.h never includes it, and no file named tokenizer.c
 * exists, so the include graph has no circle.
 *
 * Adding a backend: add its state below (as `struct spm *spm`), set kind,
 * and dispatch on t->kind in tok_encode (tok_encode.c), in decode_impl and
 * the streaming decoder (tok_decode.c). The vocabulary (struct bpe:
 * pieces, ids, flags, byte ids, merges) is filled by every backend, so the
 * vocabulary accessors need no dispatch: TOK_SPM fills it from the model's
 * pieces (and, for a BPE model, merges derived from them; see tokenizer.h)
 * and never runs bpe_encode_word on it.
 *
 * Ownership: a struct tokenizer owns every pointer in it (tok_free).
 */
#ifndef PUNGUZA_TOK_IMPL_H
#define PUNGUZA_TOK_IMPL_H

#include "bpe.h"
#include "normalize.h"
#include "spm.h"
#include "tokenizer.h"

struct tok_added {
	char *content; /* owned, NUL-terminated */
	size_t len;
	char *norm;    /* normalized content (normalized tokens), owned */
	size_t norm_len;
	int id;
	bool single_word, lstrip, rstrip, normalized, special;
};

enum tok_pretok_kind {
	PRETOK_NONE,
	PRETOK_METASPACE,
	PRETOK_WHITESPACE_SPLIT,
	PRETOK_SPLIT, /* Split with a String pattern */
};

enum tok_prepend { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER };

enum tok_split_behavior {
	SPLIT_REMOVED,
	SPLIT_ISOLATED,
	SPLIT_MERGED_WITH_PREVIOUS,
	SPLIT_MERGED_WITH_NEXT,
	SPLIT_CONTIGUOUS,
};

struct tok_pretok {
	enum tok_pretok_kind kind;
	char repl[8]; /* Metaspace replacement (UTF-8), NUL-terminated */
	size_t repl_len;
	enum tok_prepend prepend;
	bool split;
	char *pattern; /* Split: owned */
	size_t pattern_len;
	enum tok_split_behavior behavior;
};

enum tok_dec_kind {
	DEC_REPLACE,
	DEC_BYTE_FALLBACK,
	DEC_FUSE,
	DEC_STRIP,
	DEC_METASPACE,
};

struct tok_dec_op {
	enum tok_dec_kind kind;
	char *a, *b; /* Replace pattern/content (owned); Strip: a = content */
	size_t a_len, b_len;
	size_t start, stop; /* Strip */
	char repl[8];       /* Metaspace */
	size_t repl_len;
	enum tok_prepend prepend;
};

struct tokenizer {
	enum tok_kind kind;
	char *path; /* the file loaded, for messages */

	struct bpe bpe; /* vocabulary (+ merges for BPE) */

	struct tok_added *added; /* (n_added) in file order */
	size_t n_added;
	uint8_t added_first[256 / 8];      /* first bytes of raw contents */
	uint8_t added_first_norm[256 / 8]; /* ... of normalized contents */

	struct normalizer norm;
	struct tok_pretok pretok;

	int *tpl_pre, *tpl_post; /* post-processor ids before/after $A */
	size_t n_tpl_pre, n_tpl_post;

	struct tok_dec_op *dec; /* (n_dec); has_decoder false: join with ' ' */
	size_t n_dec;
	bool has_decoder;

	int bos_id, eos_id;

	struct spm *spm;  /* TOK_SPM: the model (owned) */
	int spm_sentinel; /* TOK_SPM: a NORMAL piece without U+2581 (streaming
			   * decodes a window after it), -1 when none */
	char *note;       /* why tok_load chose this file, or NULL (owned) */
	size_t chunk, max_run; /* long words: tok_set_chunking */
	char *src_json;   /* tokenizer.json text of a tokenizer made from text
			   * (vocab_rewrite), else NULL: path names the file */
	size_t src_json_len;
};

/* tok_load.c: frees the members, keeps t. */
void tok_impl_clear(struct tokenizer *t);

/* tok_load.c: a tokenizer of kind TOK_SPM around m (taken over: freed on
 * failure too); name is what tok_path returns. BOS added when the model
 * has a bos piece, no EOS (tokenizer_config.json is not read). */
int tok_from_spm(struct spm *m, const char *name, struct tokenizer **out,
		 struct err *e);

/* tok_load.c: a tokenizer of kind TOK_HF_BPE from tokenizer.json text. */
int tok_from_json_text(const char *json, size_t len, const char *name,
		       struct tokenizer **out, struct err *e);

#endif
