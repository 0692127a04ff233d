#include "distill.h"

#include <math.h>
#include <string.h>

/* max and log(sum(exp((x - max) * inv))) of a row, the sum in double. */
static double row_lse(const float *x, int V, double inv, float *mx)
{
	float m = x[0];
	for (int i = 1; i < V; i++)
		if (x[i] > m)
			m = x[i];
	double sum = 0;
	for (int i = 0; i < V; i++)
		sum += exp(((double)x[i] - m) * inv);
	*mx = m;
	return log(sum);
}

static int argmax(const float *x, int V)
{
	int best = 0;
	for (int i = 1; i < V; i++)
		if (x[i] > x[best])
			best = i;
	return best;
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
	if (V < 1)
		return err_set(e, ERR_INVALID, "distill: vocabulary of %d", V);
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
	double invT = 1.0 / T, inv_n = 1.0 / (double)scored;
	double kl_sum = 0, ce_sum = 0;
	size_t top = 0;
	for (size_t r = 0; r < n; r++) {
		if (targets[r] < 0)
			continue;
		const float *s = student + r * (size_t)V;
		float *dl = dlogits ? dlogits + r * (size_t)V : NULL;
		float ms;
		double lse1 = row_lse(s, V, 1.0, &ms);
		double ce = -(((double)s[targets[r]] - ms) - lse1);
		ce_sum += ce;
		if (dl) {
			double a = (1 - w) * inv_n;
			for (int i = 0; i < V; i++)
				dl[i] = (float)(a * exp((double)s[i] - ms -
							 lse1));
			dl[targets[r]] -= (float)a;
		}
		if (!teacher)
			continue;
		const float *t = teacher + r * (size_t)V;
		float mt, msT;
		double lset = row_lse(t, V, invT, &mt);
		double lseq = row_lse(s, V, invT, &msT);
		double kl = 0, b = w * T * inv_n;
		for (int i = 0; i < V; i++) {
			double lp = ((double)t[i] - mt) * invT - lset;
			double lq = ((double)s[i] - msT) * invT - lseq;
			double pt = exp(lp);
			if (pt > 0)
				kl += pt * (lp - lq);
			if (dl && w > 0)
				dl[i] += (float)(b * (exp(lq) - pt));
		}
		kl_sum += kl;
		top += argmax(s, V) == argmax(t, V);
	}
	st->ce = ce_sum * inv_n;
	st->kl = teacher ? kl_sum * inv_n : 0;
	st->top1 = teacher ? (double)top * inv_n : 0;
	st->loss = w * T * T * st->kl + (1 - w) * st->ce;
	return 0;
}
