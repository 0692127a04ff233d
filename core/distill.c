#include "distill.h"

#include <math.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "par.h"

/* One call's rows, shared by the row tasks. */
struct rows_ctx {
	const float *student, *teacher;
	const int *targets;
	int V;
	double T, w, inv_n;
	float *dlogits;
	float *scratch; /* (threads, 2, V) */
	double *kl, *ce; /* (n) per row */
	unsigned char *top; /* (n) per row */
};

/* The first index of the row's maximum (its value is the softmax's
 * shift). Four running maxima break the compare chain. */
static int argmax(const float *x, int V)
{
	int b[4] = {0, 1 < V ? 1 : 0, 2 < V ? 2 : 0, 3 < V ? 3 : 0};
	float m[4] = {x[b[0]], x[b[1]], x[b[2]], x[b[3]]};
	int i = 4;
	for (; i + 4 <= V; i += 4)
		for (int k = 0; k < 4; k++)
			if (x[i + k] > m[k]) {
				m[k] = x[i + k];
				b[k] = i + k;
			}
	for (; i < V; i++)
		if (x[i] > m[0] || (x[i] == m[0] && i < b[0])) {
			m[0] = x[i];
			b[0] = i;
		}
	int best = b[0];
	for (int k = 1; k < 4; k++)
		if (m[k] > x[best] || (m[k] == x[best] && b[k] < best))
			best = b[k];
	return best;
}

/* Row r: its kl and ce, and its gradient. Exponentials in f32 (each
 * computed once), sums and logs in double. */
static void task_row(void *arg, int r, int thread)
{
	const struct rows_ctx *c = arg;
	int V = c->V, y = c->targets[r];
	if (y < 0)
		return;
	const float *s = c->student + (size_t)r * V;
	float *dl = c->dlogits ? c->dlogits + (size_t)r * V : NULL;
	float *eq = c->scratch + (size_t)thread * 2 * V; /* exp((s-max)/T) */
	float *ep = eq + V;				 /* exp((t-max)/T) */
	int as = argmax(s, V);
	float ms = s[as];
	double sum1 = 0;
	for (int i = 0; i < V; i++) {
		float x = expf(s[i] - ms);
		sum1 += x;
		if (dl)
			dl[i] = x;
	}
	double lse1 = log(sum1);
	c->ce[r] = -(((double)s[y] - ms) - lse1);
	if (dl) {
		double a = (1 - c->w) * c->inv_n;
		float fa = (float)(a / sum1);
		for (int i = 0; i < V; i++)
			dl[i] *= fa;
		dl[y] -= (float)a;
	}
	if (!c->teacher)
		return;
	const float *t = c->teacher + (size_t)r * V;
	int at = argmax(t, V);
	float mt = t[at];
	float invT = (float)(1.0 / c->T);
	double sq = 0, sp = 0, pts = 0;
	for (int i = 0; i < V; i++) {
		eq[i] = expf((s[i] - ms) * invT);
		ep[i] = expf((t[i] - mt) * invT);
		sq += eq[i];
		sp += ep[i];
		pts += (double)ep[i] * ((double)t[i] - s[i]);
	}
	/* With p = ep/sp, log p = (t - mt)/T - log sp and log q = (s - ms)/T
	 * - log sq, and sum p = 1:
	 * kl = sum p (log p - log q) = (sum p (t - s) - (mt - ms))/T
	 *      - log sp + log sq, one pass, no per-element log. */
	double kl = (pts / sp - ((double)mt - ms)) / c->T - log(sp) + log(sq);
	if (dl && c->w > 0) {
		float b = (float)(c->w * c->T * c->inv_n);
		float fq = (float)(1.0 / sq), fp = (float)(1.0 / sp);
		for (int i = 0; i < V; i++)
			dl[i] += b * (eq[i] * fq - ep[i] * fp);
	}
	c->kl[r] = kl;
	c->top[r] = as == at;
}

int distill_loss(const float *student, const float *teacher,
		 const int *targets, size_t n, int V,
		 const struct distill_opts *o, float *dlogits,
		 struct distill_stats *st, struct err *e)
{
	double T = o->temperature, w = o->kd_weight;
	memset(st, 0, sizeof *st);
	if (!(T > 0) || !(w >= 0 && w <= 1))
		return err_set(e, ERR_INVALID,
			       "distill: temperature %g and weight %g: need "
			       "T > 0 and 0 <= w <= 1",
			       T, w);
	if (w > 0 && !teacher)
		return err_set(e, ERR_INVALID,
			       "distill: kd weight %g without a teacher", w);
	if (V < 1 || n > INT_MAX)
		return err_set(e, ERR_INVALID,
			       "distill: %zu rows of a vocabulary of %d", n, V);
	size_t scored = 0;
	for (size_t r = 0; r < n; r++) {
		if (targets[r] >= V || targets[r] < -1)
			return err_set(e, ERR_INVALID,
				       "distill: target %d of row %zu is "
				       "outside the vocabulary (%d)",
				       targets[r], r, V);
		scored += targets[r] >= 0;
	}
	st->n_scored = scored;
	if (dlogits)
		memset(dlogits, 0, n * (size_t)V * sizeof(float));
	if (!scored)
		return 0;
	int nt = par_threads();
	struct rows_ctx c = {student, teacher, targets, V, T, w,
			     1.0 / (double)scored, dlogits, NULL, NULL, NULL,
			     NULL};
	c.scratch = malloc((size_t)nt * 2 * (size_t)V * sizeof(float));
	c.kl = calloc(n, sizeof *c.kl);
	c.ce = calloc(n, sizeof *c.ce);
	c.top = calloc(n, 1);
	if (!c.scratch || !c.kl || !c.ce || !c.top) {
		free(c.scratch);
		free(c.kl);
		free(c.ce);
		free(c.top);
		return err_set(e, ERR_NOMEM,
			       "distill: out of memory for %zu rows", n);
	}
	par_run(nt, (int)n, task_row, &c);
	/* serial sums in row order: the same for any thread count */
	double kl_sum = 0, ce_sum = 0;
	size_t top = 0;
	for (size_t r = 0; r < n; r++) {
		kl_sum += c.kl[r];
		ce_sum += c.ce[r];
		top += c.top[r];
	}
	free(c.scratch);
	free(c.kl);
	free(c.ce);
	free(c.top);
	st->ce = ce_sum * c.inv_n;
	st->kl = teacher ? kl_sum * c.inv_n : 0;
	st->top1 = teacher ? (double)top * c.inv_n : 0;
	st->loss = w * T * T * st->kl + (1 - w) * st->ce;
	return 0;
}
