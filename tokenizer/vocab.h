/*
 * vocab — the vocabulary knob: count token frequencies over corpora, choose
 * a merge-closed keep set, and rewrite the tokenizer to it.
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
 * Counting. Each corpus record (a line of a text file without its line
 * ending, a CSV field of the named column, a JSONL string field) is encoded
 * on its own exactly as tok_encode(t, text, len, false) does, i.e. WITHOUT
 * the post-processor's BOS/EOS (they are always kept anyway; counting them
 * would only add one per record). Words are maximal runs of non-whitespace
 * bytes (ASCII space, \t \n \v \f \r). Files are read in chunks (never
 * whole); a record is bounded by VOCAB_MAX_RECORD bytes.
 *
 * Always kept ("forced"): <unk>, every special or added token (HF
 * added_tokens; SentencePiece CONTROL / UNKNOWN / USER_DEFINED pieces),
 * the BOS/EOS ids, and the 256 byte pieces <0x00>..<0xFF>. They count
 * towards K.
 *
 * Reachability. A kept piece is reachable when BPE can emit it: forced
 * pieces and single-character pieces (one UTF-8 character: an initial
 * symbol) are; a longer piece is when some merge (l, r) -> piece has both
 * l and r kept and reachable. Merges are the tokenizer.json's list; for a
 * SentencePiece BPE model they are derived from the vocabulary (every split
 * of a piece into two pieces, see tok_merge in tokenizer.h).
 *
 * Keep set, top-K (the exact algorithm):
 *   1. forced pieces are kept;
 *   2. the other pieces are ranked by count (descending), ties by id
 *      (ascending) — deterministic;
 *   3. without closure: the first K - forced of them are kept;
 *      with closure: walk the ranking; for a piece not yet kept, find the
 *      cheapest way to make it reachable — recursively, each producing
 *      merge costs the number of not-yet-kept pieces it needs (its parts,
 *      their parts, ...); the cheapest merge wins, ties to the lowest
 *      rank — and keep the piece together with those parents if they all
 *      fit in what remains of K; otherwise skip it (it is dropped, a
 *      cheaper piece further down may still fit). Stop when K pieces are
 *      kept. So K is exact (unless fewer pieces exist) and every kept
 *      piece is reachable.
 * Keep set, min-count: every piece with count >= c plus the forced ones;
 *   with closure, each kept unreachable piece adds its cheapest parents
 *   (K then grows by keep->n_closure).
 * naive_unreachable is what the same K (or c) without closure would leave
 * unreachable — the defect of the published 8,064-piece tokenizer.
 *
 * Rewrite: new ids are the kept pieces in their original order; the
 * merges are those of the tokenizer.model written with it (see
 * vocab_write_files), else a merge survives when its two parts and its
 * result survive, in the original rank order; specials, added tokens and byte pieces keep their flags and
 * the post-processor / BOS / EOS follow their pieces. For a tokenizer.json
 * source the new tokenizer is the JSON text vocab_json_text produces, read
 * back by the loader (so the written file and the in-memory tokenizer
 * cannot differ); for a tokenizer.model source it is the spm_write_buffer
 * output read back.
 *
 * Ownership: every struct returned through **out is malloc'd and owned by
 * the caller (vocab_counts_free / vocab_keep_free / tok_free); NULL frees
 * are no-ops. The tokenizer passed in is never modified.
 */
#ifndef PUNGUZA_VOCAB_H
#define PUNGUZA_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "progress.h"
#include "tokenizer.h"

#define VOCAB_MAX_RECORD (64u << 20) /* one line / field, bytes */

/* --- counting --------------------------------------------------------- */

enum vocab_format {
	VOCAB_AUTO = 0, /* by extension: .csv, .jsonl/.ndjson, else text */
	VOCAB_TEXT,	/* one record per line (LF or CRLF) */
	VOCAB_CSV,	/* RFC 4180; the column named opts->column */
	VOCAB_JSONL,	/* one JSON object per line; its string opts->field */
};

struct vocab_count_opts {
	enum vocab_format format;
	const char *column; /* CSV column name (required for CSV) */
	const char *field;  /* JSONL field name (required for JSONL) */
	uint64_t max_bytes; /* stop after this many record bytes; 0 = all */
};

struct vocab_counts {
	int n_vocab;	  /* = tok_vocab_size of the counting tokenizer */
	uint64_t *count;  /* (n_vocab) occurrences of each id */
	uint64_t tokens;  /* sum of count[] */
	uint64_t bytes;	  /* record bytes encoded (line endings excluded) */
	uint64_t words;	  /* whitespace-separated words */
	uint64_t lines;	  /* records (lines, CSV rows, JSONL objects) */
	uint64_t skipped; /* JSONL objects without the (string) field */
	size_t n_files;
};

/* Counts token ids over paths[0..n) (opts may be NULL: VOCAB_AUTO).
 * Progress is reported by bytes read over all files' sizes. */
int vocab_count_files(const struct tokenizer *t, const char *const *paths,
		      size_t n, const struct vocab_count_opts *opts,
		      struct vocab_counts **out, const struct progress *p,
		      struct err *e);

/* Counts one in-memory record (what the file readers call per record). */
int vocab_count_text(const struct tokenizer *t, const char *text, size_t len,
		     struct vocab_counts *c, struct err *e);

/* An empty counts struct for t (all zero). */
int vocab_counts_new(const struct tokenizer *t, struct vocab_counts **out,
		     struct err *e);
void vocab_counts_free(struct vocab_counts *c);

/* --- keep sets -------------------------------------------------------- */

#define VOCAB_MARGIN 10

struct vocab_keep {
	int n_old;	 /* source vocabulary size */
	int n_keep;	 /* pieces kept (= K for top-K, when possible) */
	int *keep;	 /* (n_keep) old ids, ascending = new id order */
	int *old_to_new; /* (n_old) new id, or -1 when dropped */
	int n_forced;	 /* specials/added/unk/BOS/EOS/bytes kept always */
	int n_closure;	 /* kept pieces the naive cutoff (same K or c, no
			  * closure) would not keep: parents closure added */
	int n_skipped;	 /* closure: pieces passed over (parents didn't fit)*/
	int naive_unreachable; /* a cutoff without closure would leave these
				* kept pieces unreachable */
	int unreachable; /* unreachable pieces in THIS set (0 w/ closure) */
	uint64_t tokens; /* counted tokens */
	uint64_t kept_tokens; /* counted tokens whose piece is kept */
	double coverage;      /* kept_tokens / tokens (1 when tokens == 0) */
	int margin[VOCAB_MARGIN]; /* the pieces that would go next with a
				   * smaller K: those kept for their own count
				   * (not as parents), lowest rank first; old
				   * ids */
	int n_margin;
	bool closure;
};

int vocab_keep_top_k(const struct tokenizer *t, const struct vocab_counts *c,
		     int k, bool closure, struct vocab_keep **out,
		     struct err *e);
int vocab_keep_min_count(const struct tokenizer *t,
			 const struct vocab_counts *c, uint64_t min_count,
			 bool closure, struct vocab_keep **out, struct err *e);
void vocab_keep_free(struct vocab_keep *k);

/* Kept pieces no kept merge can produce (see Reachability above). */
int vocab_count_unreachable(const struct tokenizer *t, const uint8_t *kept,
			    struct err *e);

/* --- rewrite ---------------------------------------------------------- */

/* A new tokenizer holding only the kept pieces (see Rewrite above). */
int vocab_rewrite(const struct tokenizer *t, const struct vocab_keep *k,
		  struct tokenizer **out, struct err *e);

/* The rewritten tokenizer.json text (source kind TOK_HF_BPE: the source
 * file's JSON with model.vocab, model.merges, added_tokens ids and the
 * post-processor ids replaced, every other section preserved).  *json is
 * malloc'd, NUL-terminated. */
int vocab_json_text(const struct tokenizer *t, const struct vocab_keep *k,
		    char **json, size_t *len, struct err *e);

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

/* --- SentencePiece -> tokenizer.json ---------------------------------- */

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

/* --- tokenizer.json -> SentencePiece --------------------------------- */

/* A SentencePiece BPE ModelProto for an HF BPE tokenizer with no
 * pre-tokenizer and the normalizer [Prepend "▁"] + Replace " " -> "▁"
 * (InkubaLM's): the pieces in id order (unk UNKNOWN, other specials
 * CONTROL, byte pieces BYTE, other added tokens USER_DEFINED, the rest
 * NORMAL), each NORMAL piece scored minus the rank of the first merge that
 * makes it (pieces no merge makes: below every merged piece), trainer_spec
 * model_type BPE / vocab_size / byte_fallback / unk,bos,eos ids (pad -1),
 * normalizer_spec identity with add_dummy_prefix = the Prepend,
 * remove_extra_whitespaces off. The encodings agree with the
 * tokenizer.json except where HF's merge order differs from "best-scored
 * concatenation first" (a piece made by several merges of different
 * ranks; a pair that joins into a piece no merge lists): measured, not
 * exact (see tests/test_vocab.c). ERR_UNSUPPORTED otherwise.
 * *out is malloc'd; caller frees. */
int vocab_hf_to_spm_model(const struct tokenizer *t, unsigned char **out,
			  size_t *len, struct err *e);

#endif
