#include "sampler.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct sampler {
	struct sampler_opts o;
	int vocab;
	uint64_t rng;
	unsigned char *seen; /* (vocab) */
	int *idx;	     /* (vocab) candidate ids, most likely first */
	double *prob;	     /* (vocab) their probabilities */
};

void sampler_defaults(struct sampler_opts *o)
{
	o->temperature = 0.5f;
	o->top_k = 5;
	o->top_p = 1.0f;
	o->repeat_penalty = 1.2f;
	o->seed = 42;
}

int sampler_opts_check(const struct sampler_opts *o, struct err *e)
{
	if (!(o->temperature >= 0) || isinf(o->temperature))
		return err_set(e, ERR_INVALID,
			       "sampler: temperature %g must be >= 0",
			       (double)o->temperature);
	if (o->top_k < 0)
		return err_set(e, ERR_INVALID, "sampler: top-k %d must be >= 0",
			       o->top_k);
	if (!(o->top_p > 0 && o->top_p <= 1))
		return err_set(e, ERR_INVALID,
			       "sampler: top-p %g must be in (0, 1]",
			       (double)o->top_p);
	if (!(o->repeat_penalty > 0) || isinf(o->repeat_penalty))
		return err_set(e, ERR_INVALID,
			       "sampler: repetition penalty %g must be > 0",
			       (double)o->repeat_penalty);
	return 0;
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t rng_next(uint64_t *s) /* xorshift64* */
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static double rng_uniform(uint64_t *s) /* [0, 1) */
{
	return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

void sampler_reset(struct sampler *s)
{
	memset(s->seen, 0, (size_t)s->vocab);
	s->rng = splitmix64(s->o.seed);
	if (!s->rng)
		s->rng = 1; /* xorshift must not start at 0 */
}

int sampler_new(int vocab, const struct sampler_opts *o, struct sampler **out,
		struct err *e)
{
	*out = NULL;
	int rc = sampler_opts_check(o, e);
	if (rc)
		return rc;
	if (vocab <= 0)
		return err_set(e, ERR_INVALID, "sampler: vocabulary size %d",
			       vocab);
	struct sampler *s = calloc(1, sizeof *s);
	if (!s)
		return err_set(e, ERR_NOMEM, "sampler: out of memory");
	s->o = *o;
	s->vocab = vocab;
	s->seen = calloc((size_t)vocab, 1);
	s->idx = calloc((size_t)vocab, sizeof *s->idx);
	s->prob = calloc((size_t)vocab, sizeof *s->prob);
	if (!s->seen || !s->idx || !s->prob) {
		sampler_free(s);
		return err_set(e, ERR_NOMEM, "sampler: out of memory");
	}
	sampler_reset(s);
	*out = s;
	return 0;
}

void sampler_free(struct sampler *s)
{
	if (!s)
		return;
	free(s->seen);
	free(s->idx);
	free(s->prob);
	free(s);
}

void sampler_observe(struct sampler *s, const int *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] >= 0 && ids[i] < s->vocab)
			s->seen[ids[i]] = 1;
}

/* a before b: higher logit first, then lower id (deterministic ties). */
static bool better(const float *l, int a, int b)
{
	return l[a] > l[b] || (l[a] == l[b] && a < b);
}

/* The k best ids into idx[0..k), best first; returns k. */
static int top_k(const float *l, int V, int k, int *idx)
{
	int n = 0;
	for (int i = 0; i < V; i++) {
		if (n == k && !better(l, i, idx[k - 1]))
			continue;
		int j = n < k ? n++ : k - 1;
		while (j > 0 && better(l, i, idx[j - 1])) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = i;
	}
	return n;
}

static void sort_desc(const float *l, int *idx, int n)
{
	/* A merge sort: reentrant (qsort has no context argument). */
	if (n < 2)
		return;
	int *tmp = malloc((size_t)n * sizeof *tmp);
	if (!tmp) { /* fall back to insertion sort: slow but correct */
		for (int i = 1; i < n; i++) {
			int v = idx[i], j = i;
			while (j > 0 && better(l, v, idx[j - 1])) {
				idx[j] = idx[j - 1];
				j--;
			}
			idx[j] = v;
		}
		return;
	}
	for (int w = 1; w < n; w *= 2) {
		for (int lo = 0; lo < n; lo += 2 * w) {
			int mid = lo + w < n ? lo + w : n;
			int hi = lo + 2 * w < n ? lo + 2 * w : n;
			int a = lo, b = mid, o = lo;
			while (a < mid && b < hi)
				tmp[o++] = better(l, idx[b], idx[a]) ? idx[b++]
								     : idx[a++];
			while (a < mid)
				tmp[o++] = idx[a++];
			while (b < hi)
				tmp[o++] = idx[b++];
		}
		memcpy(idx, tmp, (size_t)n * sizeof *idx);
	}
	free(tmp);
}

int sampler_sample(struct sampler *s, float *l)
{
	int V = s->vocab;
	const struct sampler_opts *o = &s->o;
	if (o->repeat_penalty != 1.0f)
		for (int i = 0; i < V; i++)
			if (s->seen[i])
				l[i] = l[i] > 0 ? l[i] / o->repeat_penalty
						: l[i] * o->repeat_penalty;
	int tok;
	if (o->temperature <= 0) {
		tok = 0;
		for (int i = 1; i < V; i++)
			if (l[i] > l[tok])
				tok = i;
		s->seen[tok] = 1;
		return tok;
	}
	for (int i = 0; i < V; i++)
		l[i] /= o->temperature;
	/* Candidates, most likely first when top-p needs the order, with
	 * unnormalised probabilities exp(l - max) and their total mass. */
	int n = 0;
	double total = 0;
	if (o->top_k > 0 && o->top_k < V) {
		n = top_k(l, V, o->top_k, s->idx);
		float mx = l[s->idx[0]];
		for (int i = 0; i < n; i++)
			total += s->prob[i] = exp((double)l[s->idx[i]] - mx);
	} else {
		float mx = l[0];
		for (int i = 1; i < V; i++)
			if (l[i] > mx)
				mx = l[i];
		for (int i = 0; i < V; i++)
			total += exp((double)l[i] - mx);
		/* For top-p, tokens below (1 - top_p) / (V - 1) of the mass
		 * cannot be in the nucleus (at most V - 1 of them, the top
		 * token being kept, hold less than 1 - top_p together): sort
		 * only the others. */
		double cut = o->top_p < 1 && V > 1
				 ? (1 - (double)o->top_p) / (V - 1) * total
				 : 0;
		for (int i = 0; i < V; i++)
			if (l[i] == mx || exp((double)l[i] - mx) >= cut)
				s->idx[n++] = i;
		if (o->top_p < 1)
			sort_desc(l, s->idx, n);
		for (int i = 0; i < n; i++)
			s->prob[i] = exp((double)l[s->idx[i]] - mx);
	}
	double sum = total;
	if (o->top_p < 1) {
		/* Keep a token while the mass before it is below top_p. */
		double before = 0;
		int keep = 0;
		while (keep < n && before < o->top_p * total)
			before += s->prob[keep++];
		n = keep;
		sum = before;
	}
	double u = rng_uniform(&s->rng) * sum, c = 0;
	tok = s->idx[n - 1];
	for (int i = 0; i < n; i++) {
		c += s->prob[i];
		if (u < c) {
			tok = s->idx[i];
			break;
		}
	}
	s->seen[tok] = 1;
	return tok;
}
