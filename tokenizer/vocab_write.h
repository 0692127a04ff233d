/*
 * vocab_write — the files of a rewritten vocabulary: OUTDIR/tokenizer.json
 * (+ tokenizer.model when there is one that agrees) + OUTDIR/vocab_map.json,
 * each written atomically, and the warning when one of the two tokenizer
 * files cannot be written without disagreeing with the other.
 */
#ifndef PUNGUZA_VOCAB_WRITE_H
#define PUNGUZA_VOCAB_WRITE_H

#include <stdbool.h>

#include "err.h"
#include "tokenizer.h"
#include "vocab_keep.h"

/* Writes outdir/tokenizer.model (a SentencePiece source: pruned; a
 * tokenizer.model beside the source tokenizer.json: pruned by piece
 * string, ids following the new tokenizer.json's, ERR_FORMAT when a kept
 * piece is not in it; neither: vocab_hf_to_spm_model of the filtered
 * tokenizer.json when it converts, else none), outdir/tokenizer.json and
 * outdir/vocab_map.json:
 *   {"n_old": V, "n_new": K, "keep": [old ids, in new id order],
 *    "old_to_new": [new id or -1, for each old id]}
 * each atomically; outdir is created when missing.
 *
 * The two tokenizer files never disagree. When a BPE tokenizer.model is
 * written, the tokenizer.json's merges are the ones it implies (every
 * split of a piece into two pieces, by the piece's score, as
 * vocab_spm_to_hf_json; for a SentencePiece source that whole function),
 * which is what makes Hugging Face BPE join pieces as SentencePiece does.
 * (The source's own merge list would not: without merge closure
 * SentencePiece reaches kept pieces through other splits.) One difference
 * cannot be written away: SentencePiece (and llama.cpp) join characters
 * that are not pieces themselves, Hugging Face BPE turns them into bytes
 * first. A cut without closure can drop such a character ('w') and keep
 * pieces made of it ("wa"); then no tokenizer.json is written, and
 * out->warning says why (vocab_rewrite then returns the SentencePiece
 * tokenizer, what the written files and a GGUF encode with). With closure
 * every character of a kept piece is kept, and both files are written.
 * out may be NULL. */
struct vocab_files {
	bool json, model;  /* tokenizer.json / tokenizer.model written */
	char warning[640]; /* "" or one lowercase sentence, for the user */
};
int vocab_write_files(const struct tokenizer *src, const struct vocab_keep *k,
		      const char *outdir, struct vocab_files *out,
		      struct err *e);

#endif
