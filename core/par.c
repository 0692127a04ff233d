#include "par.h"

#include <cblas.h>
#include <pthread.h>

#define PAR_MAX 64

struct par_range {
	void (*fn)(void *ctx, int i, int thread);
	void *ctx;
	int begin, end, thread;
};

static void *par_worker(void *arg)
{
	struct par_range *r = arg;
	for (int i = r->begin; i < r->end; i++)
		r->fn(r->ctx, i, r->thread);
	return NULL;
}

int par_threads(void)
{
	int n = openblas_get_num_threads();
	return n < 1 ? 1 : n > PAR_MAX ? PAR_MAX : n;
}

void par_run(int n_threads, int n, void (*fn)(void *ctx, int i, int thread),
	     void *ctx)
{
	if (n_threads > PAR_MAX)
		n_threads = PAR_MAX;
	if (n_threads > n)
		n_threads = n;
	if (n_threads <= 1) {
		for (int i = 0; i < n; i++)
			fn(ctx, i, 0);
		return;
	}
	struct par_range r[PAR_MAX];
	pthread_t th[PAR_MAX];
	int started[PAR_MAX] = {0};
	for (int t = 0; t < n_threads; t++) {
		r[t].fn = fn;
		r[t].ctx = ctx;
		r[t].thread = t;
		r[t].begin = (int)((long long)n * t / n_threads);
		r[t].end = (int)((long long)n * (t + 1) / n_threads);
	}
	for (int t = 1; t < n_threads; t++)
		started[t] = pthread_create(&th[t], NULL, par_worker, &r[t]) == 0;
	par_worker(&r[0]);
	for (int t = 1; t < n_threads; t++) {
		if (started[t])
			pthread_join(th[t], NULL);
		else
			par_worker(&r[t]);
	}
}

int par_blas_single(void)
{
	int n = openblas_get_num_threads();
	if (n > 1)
		openblas_set_num_threads(1);
	return n;
}

void par_blas_restore(int n_threads)
{
	if (n_threads > 1)
		openblas_set_num_threads(n_threads);
}
