/* vocab_keep — ranking, top-K / min-count keep sets and the id map
 * (vocab_keep.h). */
#include "vocab_keep.h"

#include <stdlib.h>

#include "tok_impl.h"
#include "vocab_closure.h"

/* The pieces ranked by count (descending), ties by id: forced pieces and
 * holes excluded. */
struct ranked {
	uint64_t count;
	int id;
};

static int rank_cmp(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

static int *ranking(const struct vocab_closure *g, const struct vocab_counts *c,
		    int *n_out)
{
	size_t un = g->n ? (size_t)g->n : 1;
	int *v = malloc(un * sizeof *v), m = 0;
	struct ranked *r = malloc(un * sizeof *r);
	if (!v || !r) {
		free(v);
		free(r);
		return NULL;
	}
	for (int i = 0; i < g->n; i++)
		if (g->present[i] && !g->forced[i])
			r[m++] = (struct ranked){c->count[i], i};
	qsort(r, (size_t)m, sizeof *r, rank_cmp);
	for (int i = 0; i < m; i++)
		v[i] = r[i].id;
	free(r);
	*n_out = m;
	return v;
}

int vocab_count_unreachable(const struct tokenizer *t, const uint8_t *kept,
			    struct err *e)
{
	struct vocab_closure g;
	int rc = vocab_closure_build(t, &g, e);
	if (rc)
		return rc;
	rc = vocab_closure_unreachable(&g, kept, t, e);
	vocab_closure_free(&g);
	return rc;
}

void vocab_keep_free(struct vocab_keep *k)
{
	if (!k)
		return;
	free(k->keep);
	free(k->old_to_new);
	free(k);
}

/* Fills the keep struct from the kept flags and computes the stats. */
static int keep_finish(const struct tokenizer *t, struct vocab_closure *g,
		       const struct vocab_counts *c, const uint8_t *kept,
		       const uint8_t *chosen, const int *rank, int n_rank,
		       bool closure, struct vocab_keep **out, struct err *e)
{
	struct vocab_keep *k = calloc(1, sizeof *k);
	int n = g->n;
	if (!k)
		return err_set(e, ERR_NOMEM, "out of memory");
	k->n_old = n;
	k->closure = closure;
	k->keep = malloc((n ? (size_t)n : 1) * sizeof *k->keep);
	k->old_to_new = malloc((n ? (size_t)n : 1) * sizeof *k->old_to_new);
	if (!k->keep || !k->old_to_new) {
		vocab_keep_free(k);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	for (int i = 0; i < n; i++) {
		k->old_to_new[i] = -1;
		if (!kept[i])
			continue;
		k->old_to_new[i] = k->n_keep;
		k->keep[k->n_keep++] = i;
		k->kept_tokens += c->count[i];
		k->n_forced += g->forced[i];
	}
	k->tokens = c->tokens;
	k->coverage =
	    c->tokens ? (double)k->kept_tokens / (double)c->tokens : 1.0;
	int u = vocab_closure_unreachable(g, kept, t, e);
	if (u < 0) {
		vocab_keep_free(k);
		return u;
	}
	k->unreachable = u;
	for (int i = n_rank - 1; i >= 0 && k->n_margin < VOCAB_MARGIN; i--)
		if (chosen[rank[i]])
			k->margin[k->n_margin++] = rank[i];
	*out = k;
	return 0;
}

/* The naive cutoff's unreachable count: kept = forced + rank[0..m). */
static int naive_unreachable(const struct tokenizer *t, struct vocab_closure *g,
			     const int *rank, int m, struct err *e)
{
	uint8_t *kept = calloc(g->n ? (size_t)g->n : 1, 1);
	if (!kept)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (int i = 0; i < g->n; i++)
		kept[i] = g->forced[i];
	for (int i = 0; i < m; i++)
		kept[rank[i]] = 1;
	int u = vocab_closure_unreachable(g, kept, t, e);
	free(kept);
	return u;
}

static int keep_common(const struct tokenizer *t, const struct vocab_counts *c,
		       int k_target, uint64_t min_count, bool by_count,
		       bool closure, struct vocab_keep **out, struct err *e)
{
	*out = NULL;
	int rc = vocab_counts_check(t, c, e);
	if (rc)
		return rc;
	struct vocab_closure g;
	if ((rc = vocab_closure_build(t, &g, e)))
		return rc;
	int n_rank = 0, n_forced = 0;
	int *rank = ranking(&g, c, &n_rank);
	uint8_t *kept = calloc(g.n ? (size_t)g.n : 1, 1);
	uint8_t *chosen = calloc(g.n ? (size_t)g.n : 1, 1);
	int n_closure = 0, n_skipped = 0, naive_m = 0;
	if (!rank || !kept || !chosen) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < g.n; i++)
		if (g.forced[i]) {
			kept[i] = 1;
			n_forced++;
		}
	if (!by_count && k_target < n_forced) {
		rc = err_set(e, ERR_INVALID,
			     "keep %d is below the %d pieces always kept "
			     "(specials, unk and byte pieces)",
			     k_target, n_forced);
		goto out;
	}
	int budget = by_count ? g.n : k_target - n_forced;
	if (by_count) {
		while (naive_m < n_rank && c->count[rank[naive_m]] >= min_count)
			naive_m++;
	} else {
		naive_m = budget < n_rank ? budget : n_rank;
	}
	if (!closure) {
		for (int i = 0; i < naive_m; i++)
			kept[rank[i]] = chosen[rank[i]] = 1;
	} else {
		int limit = by_count ? naive_m : n_rank;
		for (int i = 0; i < limit && budget > 0; i++) {
			int id = rank[i];
			if (kept[id])
				continue;
			int need = vocab_closure_needs(&g, kept, id);
			if (need < 0 || need > budget) {
				n_skipped++;
				continue;
			}
			for (int s = 0; s < g.n_stack; s++)
				kept[g.stack[s]] = 1;
			chosen[id] = 1;
			budget -= need;
		}
	}
	rc = keep_finish(t, &g, c, kept, chosen, rank, n_rank, closure, out, e);
	if (rc)
		goto out;
	/* closure parents: kept pieces the naive cutoff would not keep */
	for (int i = naive_m; i < n_rank; i++)
		n_closure += kept[rank[i]];
	(*out)->n_closure = n_closure;
	(*out)->n_skipped = n_skipped;
	int nu = naive_unreachable(t, &g, rank, naive_m, e);
	if (nu < 0) {
		rc = nu;
		vocab_keep_free(*out);
		*out = NULL;
		goto out;
	}
	(*out)->naive_unreachable = nu;
out:
	free(rank);
	free(kept);
	free(chosen);
	vocab_closure_free(&g);
	return rc;
}

int vocab_keep_top_k(const struct tokenizer *t, const struct vocab_counts *c,
		     int k, bool closure, struct vocab_keep **out,
		     struct err *e)
{
	return keep_common(t, c, k, 0, false, closure, out, e);
}

int vocab_keep_min_count(const struct tokenizer *t,
			 const struct vocab_counts *c, uint64_t min_count,
			 bool closure, struct vocab_keep **out, struct err *e)
{
	return keep_common(t, c, 0, min_count, true, closure, out, e);
}
