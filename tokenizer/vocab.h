/*
 * vocab — the vocabulary knob: count token frequencies over corpora, choose
 * a merge-closed keep set, and rewrite the tokenizer to it. This header
 * only gathers the parts; each documents its own calls:
 *
 *   vocab_count.h        counting: corpus files (text / CSV / JSONL)
 *                        -> struct vocab_counts
 *   vocab_keep.h         keep sets: forced pieces, ranking, the merge
 *                        closure (vocab_closure.c), the old -> new id map
 *   vocab_rewrite.h      the in-memory tokenizer of a keep set
 *   vocab_rewrite_json.h the rewritten tokenizer.json of a tokenizer.json
 *                        source (and the tokenizer.model beside it)
 *   vocab_write.h        OUTDIR/tokenizer.json, tokenizer.model and
 *                        vocab_map.json
 *   vocab_spm_to_hf.h    SentencePiece model -> tokenizer.json
 *   vocab_hf_to_spm.h    tokenizer.json -> SentencePiece model
 *
 * The five calls, in the order a caller makes them:
 *
 *   vocab_count_files   corpus files -> struct vocab_counts (per-id counts,
 *                       lines / words / bytes / tokens)
 *   vocab_keep_top_k    counts -> struct vocab_keep (exactly K pieces), or
 *   vocab_keep_min_count          (every piece counted >= c, plus closure)
 *   vocab_rewrite       tokenizer x keep -> a new in-memory tokenizer whose
 *                       id i is the source's keep->keep[i]
 *   vocab_write_files   tokenizer x keep -> OUTDIR/tokenizer.json
 *                       (+ tokenizer.model when the source has one)
 *                       + OUTDIR/vocab_map.json, each written atomically
 *
 * The embedding rows of a pruned model are old rows keep->keep[0..n_keep)
 * in that order; keep->old_to_new[old] is the new id or -1 (dropped).
 *
 * Ownership: every struct returned through **out is malloc'd and owned by
 * the caller (vocab_counts_free / vocab_keep_free / tok_free); NULL frees
 * are no-ops. The tokenizer passed in is never modified.
 *
 * Inside tokenizer/ the vocab_*.c files include the part they need, never
 * this header (it includes them all: that would be a circle).
 */
#ifndef PUNGUZA_VOCAB_H
#define PUNGUZA_VOCAB_H

#include "vocab_count.h"
#include "vocab_hf_to_spm.h"
#include "vocab_keep.h"
#include "vocab_rewrite.h"
#include "vocab_rewrite_json.h"
#include "vocab_spm_to_hf.h"
#include "vocab_write.h"

#endif
