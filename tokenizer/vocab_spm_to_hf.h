/*
 * vocab_spm_to_hf — SentencePiece -> tokenizer.json: the Hugging Face
 * tokenizer.json equivalent to a SentencePiece BPE model, what
 * vocab_write_files writes beside a pruned tokenizer.model.
 *
 * Ownership: *json is malloc'd, NUL-terminated, owned by the caller.
 */
#ifndef PUNGUZA_VOCAB_SPM_TO_HF_H
#define PUNGUZA_VOCAB_SPM_TO_HF_H

#include <stddef.h>

#include "err.h"
#include "tokenizer.h"

/* An HF tokenizer.json equivalent to a SentencePiece BPE model (t of kind
 * TOK_SPM): model BPE with the pieces as vocab, merges = every split of a
 * piece into two pieces ordered by the piece's score (highest first; ties
 * by id, then by split position, left part shortest first), byte_fallback,
 * fuse_unk; normalizer Prepend "▁" (when add_dummy_prefix) + Replace " " ->
 * "▁"; no pre-tokenizer; post-processor TemplateProcessing with BOS/EOS as
 * t adds them; decoder Replace "▁" -> " ", ByteFallback, Fuse, Strip one
 * leading space (when add_dummy_prefix). ERR_UNSUPPORTED for Unigram or
 * a normalizer with rules (non-identity); remove_extra_whitespaces is
 * approximated by Strip + 20 x Replace "  " -> " " (HF's Strip also
 * removes tabs and CR at the ends).
 * Why the order is exact: SentencePiece joins the adjacent pair whose
 * concatenation scores highest (ties: leftmost); HF takes the lowest-rank
 * listed pair (ties: leftmost). Ranking merges by the result's score
 * makes them pick the same result piece; equal ranks only arise for the
 * same split at several places (both leftmost). Equal scores across
 * different splits of one piece would be ordered differently (rank by
 * split offset vs leftmost), but such occurrences never overlap and a
 * higher-scored piece cannot appear between them, so the final pieces
 * are the same. Measured (tests/test_vocab.c): every corpus line equal
 * for models trained like the tiny one; the only differences are literal
 * special tokens in the text (HF splits them out first) and invalid
 * UTF-8 (replaced per maximal subpart vs per byte). */
int vocab_spm_to_hf_json(const struct tokenizer *spm_tok, char **json,
			 size_t *len, struct err *e);

#endif
