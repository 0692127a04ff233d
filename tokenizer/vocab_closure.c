/* vocab_closure — the merge graph, reachability and closure step of keep
 * sets (vocab_closure.h). */
#include "vocab_closure.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tok_impl.h"

#define COST_INF (1 << 29)

void vocab_closure_free(struct vocab_closure *g)
{
	free(g->first);
	free(g->rank);
	free(g->mleft);
	free(g->mright);
	free(g->forced);
	free(g->base);
	free(g->present);
	free(g->cost);
	free(g->best);
	free(g->stamp);
	free(g->stack);
	free(g->cstamp);
	memset(g, 0, sizeof *g);
}

static bool one_char(const char *s, size_t n)
{
	if (n == 0)
		return false;
	unsigned char c = (unsigned char)s[0];
	size_t l = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	return l == n;
}

static bool is_unigram(const struct tokenizer *t)
{
	return t->kind == TOK_SPM && spm_model_type(t->spm) == SPM_UNIGRAM;
}

int vocab_closure_build(const struct tokenizer *t, struct vocab_closure *g,
			struct err *e)
{
	memset(g, 0, sizeof *g);
	int n = tok_vocab_size(t);
	size_t nm = tok_merge_count(t);
	if (nm > (size_t)COST_INF)
		return err_set(e, ERR_NOMEM, "too many merges");
	g->n = n;
	size_t un = n > 0 ? (size_t)n : 1;
	g->first = calloc(un + 1, sizeof *g->first);
	g->rank = malloc((nm ? nm : 1) * sizeof *g->rank);
	g->mleft = malloc((nm ? nm : 1) * sizeof *g->mleft);
	g->mright = malloc((nm ? nm : 1) * sizeof *g->mright);
	g->forced = calloc(un, 1);
	g->base = calloc(un, 1);
	g->present = calloc(un, 1);
	g->cost = calloc(un, sizeof *g->cost);
	g->best = calloc(un, sizeof *g->best);
	g->stamp = calloc(un, sizeof *g->stamp);
	g->stack = malloc(un * sizeof *g->stack);
	g->cstamp = calloc(un, sizeof *g->cstamp);
	int *res = malloc((nm ? nm : 1) * sizeof *res);
	if (!g->first || !g->rank || !g->mleft || !g->mright || !g->forced ||
	    !g->base || !g->present || !g->cost || !g->best || !g->stamp ||
	    !g->stack || !g->cstamp || !res) {
		free(res);
		vocab_closure_free(g);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	for (size_t r = 0; r < nm; r++) {
		int l, rr, x;
		tok_merge(t, r, &l, &rr, &x);
		g->mleft[r] = l;
		g->mright[r] = rr;
		res[r] = x;
		g->first[x + 1]++;
	}
	for (int i = 0; i < n; i++)
		g->first[i + 1] += g->first[i];
	int *fill = malloc(un * sizeof *fill);
	if (!fill) {
		free(res);
		vocab_closure_free(g);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	memcpy(fill, g->first, un * sizeof *fill);
	for (size_t r = 0; r < nm; r++)
		g->rank[fill[res[r]]++] = (int)r;
	free(fill);
	free(res);
	bool uni = is_unigram(t);
	for (int i = 0; i < n; i++) {
		size_t len;
		const char *s = tok_piece(t, i, &len);
		if (!s)
			continue;
		g->present[i] = 1;
		bool f = tok_is_special(t, i) || tok_is_added(t, i) ||
			 tok_is_byte(t, i) || i == tok_unk_id(t) ||
			 i == tok_bos_id(t) || i == tok_eos_id(t);
		g->forced[i] = f;
		g->base[i] = f || uni || one_char(s, len);
	}
	return 0;
}

/* Pieces (not kept yet) that make `id` reachable, cheapest merge first:
 * the cost is 1 for the piece plus its parts' costs (a shared sub-piece
 * is counted twice: a bound used only to choose; the set collected below
 * is exact). */
static int cost_of(struct vocab_closure *g, const uint8_t *kept, int id,
		   int depth)
{
	if (kept[id])
		return 0;
	if (g->stamp[id] == g->epoch)
		return g->cost[id];
	int best = COST_INF, bm = -1;
	if (g->base[id]) {
		best = 1;
	} else if (depth < 256) {
		for (int k = g->first[id]; k < g->first[id + 1]; k++) {
			int r = g->rank[k];
			int c = cost_of(g, kept, g->mleft[r], depth + 1);
			if (c >= best)
				continue;
			c += cost_of(g, kept, g->mright[r], depth + 1);
			if (c + 1 < best) {
				best = c + 1;
				bm = r;
			}
		}
	}
	if (best > COST_INF)
		best = COST_INF;
	g->stamp[id] = g->epoch;
	g->cost[id] = best;
	g->best[id] = bm;
	return best;
}

static void collect(struct vocab_closure *g, const uint8_t *kept, int id)
{
	if (kept[id] || g->cstamp[id] == g->epoch)
		return;
	g->cstamp[id] = g->epoch;
	g->stack[g->n_stack++] = id;
	int r = g->best[id];
	if (r >= 0 && !g->base[id]) {
		collect(g, kept, g->mleft[r]);
		collect(g, kept, g->mright[r]);
	}
}

int vocab_closure_needs(struct vocab_closure *g, const uint8_t *kept, int id)
{
	g->epoch++;
	g->n_stack = 0;
	if (cost_of(g, kept, id, 0) >= COST_INF)
		return -1;
	collect(g, kept, id);
	return g->n_stack;
}

int vocab_closure_unreachable(const struct vocab_closure *g,
			      const uint8_t *kept, const struct tokenizer *t,
			      struct err *e)
{
	/* parts are strictly shorter than their result: decide by length */
	int n = g->n, bad = 0;
	uint8_t *reach = calloc(n ? (size_t)n : 1, 1);
	int *order = malloc((n ? (size_t)n : 1) * sizeof *order);
	size_t *len = malloc((n ? (size_t)n : 1) * sizeof *len);
	if (!reach || !order || !len) {
		free(reach);
		free(order);
		free(len);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	int m = 0;
	size_t maxlen = 0;
	for (int i = 0; i < n; i++) {
		if (!kept[i])
			continue;
		tok_piece(t, i, &len[i]);
		if (len[i] > maxlen)
			maxlen = len[i];
		order[m++] = i;
	}
	/* counting sort by length */
	size_t *cnt = calloc(maxlen + 2, sizeof *cnt);
	int *sorted = malloc((m ? (size_t)m : 1) * sizeof *sorted);
	if (!cnt || !sorted) {
		free(cnt);
		free(sorted);
		free(reach);
		free(order);
		free(len);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	for (int i = 0; i < m; i++)
		cnt[len[order[i]] + 1]++;
	for (size_t l = 0; l <= maxlen; l++)
		cnt[l + 1] += cnt[l];
	for (int i = 0; i < m; i++)
		sorted[cnt[len[order[i]]]++] = order[i];
	for (int i = 0; i < m; i++) {
		int id = sorted[i];
		if (g->base[id]) {
			reach[id] = 1;
			continue;
		}
		for (int k = g->first[id]; k < g->first[id + 1]; k++) {
			int r = g->rank[k], l = g->mleft[r], rr = g->mright[r];
			if (kept[l] && kept[rr] && reach[l] && reach[rr]) {
				reach[id] = 1;
				break;
			}
		}
		if (!reach[id])
			bad++;
	}
	free(cnt);
	free(sorted);
	free(reach);
	free(order);
	free(len);
	return bad;
}
