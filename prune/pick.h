/*
 * pick — k of n indices, the two ways pruning chooses them (select.h for
 * the index sets, build.h for the published recipe's random cuts):
 *   pick_random  at random, seeded: splitmix64 seeds one xorshift64*
 *                stream per (seed, stream id), so a pick is deterministic
 *                for a given seed, stream, n and k;
 *   pick_top     the k highest scores (ties: the lower index; NaN counts
 *                as the lowest score).
 * Both write k ascending indices into the caller's out[k] (k <= n).
 */
#ifndef PUNGUZA_PICK_H
#define PUNGUZA_PICK_H

#include <stdint.h>

#include "err.h"

int pick_random(int n, int k, uint64_t seed, uint64_t stream, int *out,
		struct err *e);
int pick_top(const double *score, int n, int k, int *out, struct err *e);

/* qsort comparator: ints, ascending. */
int pick_cmp_int(const void *a, const void *b);

#endif
