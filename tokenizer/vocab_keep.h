/*
 * vocab_keep — keep sets: which pieces survive a cutoff, and the old -> new
 * id map the rewrite (vocab_rewrite.h) and the embedding rows follow.
 *
 * The embedding rows of a pruned model are old rows keep->keep[0..n_keep)
 * in that order; keep->old_to_new[old] is the new id or -1 (dropped).
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
 * of a piece into two pieces, see tok_merge in tokenizer.h). The merge
 * graph and the closure step live in vocab_closure.c.
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
 * Ownership: a struct vocab_keep returned through **out is malloc'd and
 * owned by the caller (vocab_keep_free; NULL is a no-op). The tokenizer
 * and the counts are never modified.
 */
#ifndef PUNGUZA_VOCAB_KEEP_H
#define PUNGUZA_VOCAB_KEEP_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "tokenizer.h"
#include "vocab_count.h"

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

#endif
