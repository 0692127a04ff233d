/*
 * vocab_closure — the merge closure of a keep set (private to vocab_keep.c;
 * not for other modules): the merge graph of a tokenizer by result, which
 * kept pieces are reachable, and the cheapest set of pieces that makes a
 * piece reachable (see Reachability and Keep set in vocab_keep.h).
 *
 * The graph is built once per keep set (vocab_closure_build) and freed
 * with vocab_closure_free (which zeroes it); kept[] arrays are (n) flags
 * owned by the caller. The closure step (vocab_closure_needs) keeps its
 * scratch in the graph, so one graph serves one caller at a time.
 */
#ifndef PUNGUZA_VOCAB_CLOSURE_H
#define PUNGUZA_VOCAB_CLOSURE_H

#include <stdint.h>

#include "err.h"
#include "tokenizer.h"

/* Merge structure of a tokenizer, by result: the merges producing each
 * piece (CSR), plus which pieces are "base" (reachable once kept). */
struct vocab_closure {
	int n;
	int *first;	     /* (n + 1) into rank[] */
	int *rank;	     /* merge ranks, grouped by result, ascending */
	int *mleft, *mright; /* (n_merges) */
	uint8_t *forced;     /* (n) always kept */
	uint8_t *base;	     /* (n) one character, forced, or Unigram */
	uint8_t *present;
	/* closure scratch */
	int *cost, *best; /* (n) cost memo, chosen merge rank (-1: base) */
	unsigned *stamp;  /* (n) epoch of cost */
	unsigned epoch;
	int *stack; /* collected pieces */
	int n_stack;
	unsigned *cstamp; /* (n) epoch of collection */
};

int vocab_closure_build(const struct tokenizer *t, struct vocab_closure *g,
			struct err *e);
void vocab_closure_free(struct vocab_closure *g);

/* Collects what `id` needs (itself included) into g->stack; returns the
 * count, or -1 when it can never be reachable. */
int vocab_closure_needs(struct vocab_closure *g, const uint8_t *kept, int id);

/* The kept pieces of g's tokenizer t that are not reachable (>= 0), or an
 * error code (< 0). */
int vocab_closure_unreachable(const struct vocab_closure *g,
			      const uint8_t *kept, const struct tokenizer *t,
			      struct err *e);

#endif
