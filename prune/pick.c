/* pick — k of n indices, at random or by score. See pick.h. */
#include "pick.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Random numbers: splitmix64 to seed, xorshift64* to draw.            */

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

/* One independent stream per (seed, stream id). */
static uint64_t rng_init(uint64_t seed, uint64_t stream)
{
	uint64_t s = splitmix64(seed ^ splitmix64(stream + 0x5151));
	return s ? s : 0x2545F4914F6CDD1DULL;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}
int pick_cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* k of 0..n-1 at random (partial Fisher-Yates), ascending, into out. */
int pick_random(int n, int k, uint64_t seed, uint64_t stream, int *out,
		struct err *e)
{
	int *all = malloc((size_t)n * sizeof *all);
	if (!all)
		return err_set(e, ERR_NOMEM, "apply: out of memory");
	for (int i = 0; i < n; i++)
		all[i] = i;
	uint64_t s = rng_init(seed, stream);
	for (int i = 0; i < k; i++) {
		int j = i + (int)(rng_next(&s) % (uint64_t)(n - i));
		int t = all[i];
		all[i] = all[j];
		all[j] = t;
	}
	memcpy(out, all, (size_t)k * sizeof *out);
	free(all);
	qsort(out, (size_t)k, sizeof *out, pick_cmp_int);
	return 0;
}

struct scored {
	double s;
	int i;
};

static int cmp_scored(const void *a, const void *b)
{
	const struct scored *x = a, *y = b;
	if (x->s != y->s)
		return x->s < y->s ? 1 : -1; /* higher first */
	return (x->i > y->i) - (x->i < y->i);
}

/* The k highest scores (ties: lower index), ascending by index. */
int pick_top(const double *score, int n, int k, int *out, struct err *e)
{
	struct scored *v = malloc((size_t)n * sizeof *v);
	if (!v)
		return err_set(e, ERR_NOMEM, "apply: out of memory");
	for (int i = 0; i < n; i++) {
		v[i].s = isnan(score[i]) ? -HUGE_VAL : score[i];
		v[i].i = i;
	}
	qsort(v, (size_t)n, sizeof *v, cmp_scored);
	for (int i = 0; i < k; i++)
		out[i] = v[i].i;
	free(v);
	qsort(out, (size_t)k, sizeof *out, pick_cmp_int);
	return 0;
}
