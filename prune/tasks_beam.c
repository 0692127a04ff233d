/* tasks_beam — translation by beam search (see tasks.h). */
#include "tasks_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "generate.h"

/* Natural-log softmax of logits into lp (V). */
static void log_softmax(const float *logits, float *lp, int V)
{
	float mx;
	double ls = tasks_log_norm(logits, V, &mx);
	double lse = mx + ls;
	for (int i = 0; i < V; i++)
		lp[i] = (float)(logits[i] - lse);
}

struct beam {
	int *ids; /* (mt_max_new + 1) */
	int n;
	double sum; /* summed log-probs */
	int from;   /* parent index (candidates) */
	int tok;    /* the token appended (candidates) */
	bool ended;
};

static int lcp(const int *a, int na, const int *b, int nb)
{
	int k = 0;
	while (k < na && k < nb && a[k] == b[k])
		k++;
	return k;
}

/* Puts the next-token log-probs of beam ids[0..n) after the prompt
 * (pids, P) into lp, using one of the caches not in `used`. */
static int beam_logits(struct tasks_runner *r, const int *pids, int P,
		       const int *ids, int n, bool *used, float *lp,
		       struct err *e)
{
	if (n == 0) {
		memcpy(lp, r->lp0, (size_t)r->V * sizeof *lp);
		return 0;
	}
	int best = -1, best_k = -2;
	for (int s = 0; s < r->o.beams; s++) {
		if (used[s])
			continue;
		int k = r->held[s].n < 0
			    ? -1
			    : lcp(r->held[s].ids, r->held[s].n, ids, n);
		if (k > best_k) {
			best_k = k;
			best = s;
		}
	}
	int rc;
	used[best] = true;
	struct tasks_held *h = &r->held[best];
	if ((rc = tasks_ensure_state(r, best, P + r->o.mt_max_new, e)))
		return rc;
	if (r->held[best].n < 0)
		best_k = -1; /* a new cache holds no prompt */
	struct fwd_state *fs = r->fs[best];
	if (best_k < 0) {
		h->n = -1;
		fwd_reset(fs);
		if ((rc = fwd_run(fs, pids, P, NULL, e)))
			return rc;
		h->n = 0;
		best_k = 0;
	}
	if (best_k == n)
		best_k = n - 1; /* rerun the last token for its logits */
	h->n = -1;
	if ((rc = fwd_truncate(fs, P + best_k, e)) ||
	    (rc = fwd_run(fs, ids + best_k, n - best_k, NULL, e)))
		return rc;
	memcpy(h->ids, ids, (size_t)n * sizeof *ids);
	h->n = n;
	log_softmax(fs->logits, lp, r->V);
	return 0;
}

static int cmp_cand(const void *a, const void *b)
{
	const struct beam *x = a, *y = b;
	return x->sum > y->sum ? -1 : x->sum < y->sum ? 1 : 0;
}

int tasks_run_beams(struct tasks_runner *r, const struct tasks_row *row,
		    struct tasks_result *out, struct err *e)
{
	int B = r->o.beams, M = r->o.mt_max_new, V = r->V;
	int *pids = NULL;
	size_t np = 0;
	int rc = tasks_encode_prompt(r, row, NULL, &pids, &np, e);
	if (rc)
		return rc;
	int drop = tasks_fit_left(pids, &np, M, r->ctx);
	struct beam *live = calloc((size_t)B, sizeof *live);
	struct beam *next = calloc((size_t)B, sizeof *next);
	struct beam *done = calloc((size_t)B, sizeof *done);
	struct beam *cand = calloc((size_t)B * B, sizeof *cand);
	int *store = malloc((size_t)3 * B * (M + 1) * sizeof *store);
	bool *used = calloc((size_t)B, sizeof *used);
	int n_live = 1, n_done = 0, eos = gen_eos_id(r->m, r->t),
	    nl = tok_byte_id(r->t, '\n');
	char *text = NULL;
	size_t tlen = 0;
	if (!live || !next || !done || !cand || !store || !used) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (drop < 0) {
		rc = err_set(e, ERR_INVALID,
			     "'%s': %d new tokens do not fit in the "
			     "%d-position context",
			     row->id, M, r->ctx);
		goto out;
	}
	for (int i = 0; i < B; i++) {
		live[i].ids = store + (size_t)i * (M + 1);
		next[i].ids = store + (size_t)(B + i) * (M + 1);
		done[i].ids = store + (size_t)(2 * B + i) * (M + 1);
	}
	/* The prompt, once, into cache 0. */
	for (int s = 0; s < B; s++)
		r->held[s].n = -1;
	if ((rc = tasks_ensure_state(r, 0, (int)np + M, e)))
		goto out;
	fwd_reset(r->fs[0]);
	if ((rc = fwd_run(r->fs[0], pids, (int)np, NULL, e)))
		goto out;
	r->held[0].n = 0;
	log_softmax(r->fs[0]->logits, r->lp0, V);
	live[0].n = 0;
	live[0].sum = 0;
	for (int step = 0; step < M && n_live > 0 && n_done < B; step++) {
		memset(used, 0, (size_t)B * sizeof *used);
		int nc = 0;
		for (int b = 0; b < n_live; b++) {
			float *lp = r->beam_lp + (size_t)b * V;
			if ((rc = beam_logits(r, pids, (int)np, live[b].ids,
					      live[b].n, used, lp, e)))
				goto out;
			/* This beam's B best tokens (selection). */
			for (int k = 0; k < B; k++) {
				int bt = -1;
				for (int v = 0; v < V; v++) {
					bool taken = false;
					for (int j = nc - k; j < nc; j++)
						taken |= cand[j].tok == v;
					if (!taken &&
					    (bt < 0 || lp[v] > lp[bt]))
						bt = v;
				}
				cand[nc].from = b;
				cand[nc].tok = bt;
				cand[nc].sum = live[b].sum + lp[bt];
				nc++;
			}
		}
		qsort(cand, (size_t)nc, sizeof *cand, cmp_cand);
		int n_next = 0;
		for (int c = 0; c < nc && n_next < B; c++) {
			const struct beam *p = &live[cand[c].from];
			bool end = cand[c].tok == eos || cand[c].tok == nl;
			struct beam *dst;
			if (end) {
				if (n_done >= B)
					continue;
				dst = &done[n_done++];
			} else {
				dst = &next[n_next++];
			}
			memcpy(dst->ids, p->ids, (size_t)p->n * sizeof(int));
			dst->ids[p->n] = cand[c].tok;
			dst->n = p->n + 1;
			dst->sum = cand[c].sum;
			dst->ended = end;
		}
		struct beam *tmp = live;
		live = next;
		next = tmp;
		n_live = n_next;
	}
	/* Live beams at the limit count as ended. */
	for (int b = 0; b < n_live && n_done < B; b++) {
		struct beam *dst = &done[n_done++];
		memcpy(dst->ids, live[b].ids, (size_t)live[b].n * sizeof(int));
		dst->n = live[b].n;
		dst->sum = live[b].sum;
		dst->ended = false;
	}
	int best = -1;
	double best_score = 0;
	for (int i = 0; i < n_done; i++) {
		double sc = done[i].n ? done[i].sum / done[i].n : 0;
		if (best < 0 || sc > best_score) {
			best = i;
			best_score = sc;
		}
	}
	int n_tok = 0;
	if (best >= 0) {
		n_tok = done[best].n;
		if (done[best].ended)
			n_tok--; /* the EOS or newline */
	}
	out->new_tokens = n_tok;
	if ((rc = tok_decode(r->t, best >= 0 ? done[best].ids : pids,
			     (size_t)n_tok, true, &text, &tlen, e)))
		goto out;
	const char *cut = memchr(text, '\n', tlen);
	if (cut)
		tlen = (size_t)(cut - text);
	out->response = tasks_trimmed(text, tlen);
	if (!out->response)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	out->truncated = drop;
	out->prompt_tokens = (int)np;
	out->choice = -1;
out:
	free(text);
	free(pids);
	free(live);
	free(next);
	free(done);
	free(cand);
	free(store);
	free(used);
	return rc;
}
