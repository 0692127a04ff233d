/*
 * par — a fork-join helper for the training engine's loops outside BLAS:
 * runs fn(ctx, i, thread) for every task i in [0, n) on up to n_threads threads
 * (the calling thread included), each thread a contiguous range of tasks.
 *
 * Tasks must be independent (no two write the same memory); then the
 * result does not depend on the thread count. BLAS calls inside tasks
 * should be single-threaded: par_blas_single() switches OpenBLAS to one
 * thread and returns the previous count for par_blas_restore(), so that
 * small per-head sgemms do not each wake (and wait for) OpenBLAS's pool,
 * which costs more than the product on a busy machine.
 *
 * Threads are created per call (a few per layer and step: negligible next
 * to the work). When a thread cannot be created its range runs on the
 * calling thread: par_run never fails.
 */
#ifndef PUNGUZA_PAR_H
#define PUNGUZA_PAR_H

/* The number of threads the training engine uses: OpenBLAS's setting. */
int par_threads(void);

/* fn's third argument is the index of the thread running it, 0 ..
 * n_threads-1 (for per-thread scratch). */
void par_run(int n_threads, int n, void (*fn)(void *ctx, int i, int thread),
	     void *ctx);

int par_blas_single(void);
void par_blas_restore(int n_threads);

#endif
