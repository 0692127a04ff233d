/* bench_forward DIR [--prompt N] [--gen N] — forward-pass speed of the
 * model in DIR, measured against the machine's memory bandwidth in the
 * same run:
 *   prefill tokens/s for an N-token prompt (default 256; after one warm-up
 *   prefill, so the mapped weights are in memory),
 *   decode tokens/s over N greedy steps (default 64) with the KV cache,
 *   memcpy bandwidth (bytes read + bytes written per second, best of 5
 *   copies of 256 MiB, before and again after the timed runs),
 *   decode against two bandwidth bounds: every weight a step reads
 *   coming from memory (model_decode_bytes: a shared MLP counts once per
 *   layer, as every layer reads it again), and only the unique weights
 *   coming from memory (the shared MLP read once, then from cache: with
 *   InkubaLM's 138 MB MLP and a last-level cache larger than that, as on
 *   this project's machine, decode beats the first bound; the second is
 *   the real one there). memcpy bandwidth is a rough ceiling either way:
 *   a step only reads.
 * Prints one line of figures. Threads: OPENBLAS_NUM_THREADS. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forward.h"
#include "model.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double memcpy_bandwidth(void)
{
	size_t n = (size_t)256 << 20;
	char *a = malloc(n), *b = malloc(n);
	if (!a || !b) {
		free(a);
		free(b);
		return 0;
	}
	memset(a, 1, n);
	memset(b, 2, n);
	double best = 1e30;
	for (int i = 0; i < 5; i++) {
		double t0 = now();
		memcpy(i % 2 ? a : b, i % 2 ? b : a, n);
		double t = now() - t0;
		if (t < best)
			best = t;
	}
	volatile char sink = a[n / 2] + b[n / 3];
	(void)sink;
	free(a);
	free(b);
	return 2.0 * (double)n / best;
}

static int argmax(const float *x, int n)
{
	int b = 0;
	for (int i = 1; i < n; i++)
		if (x[i] > x[b])
			b = i;
	return b;
}

int main(int argc, char **argv)
{
	int n_prompt = 256, n_gen = 64;
	const char *dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--prompt") && i + 1 < argc)
			n_prompt = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--gen") && i + 1 < argc)
			n_gen = atoi(argv[++i]);
		else if (argv[i][0] != '-' && !dir)
			dir = argv[i];
		else {
			fprintf(stderr, "usage: bench_forward DIR [--prompt N] "
					"[--gen N]\n");
			return 2;
		}
	}
	if (!dir || n_prompt < 1 || n_gen < 1) {
		fprintf(stderr,
			"usage: bench_forward DIR [--prompt N] [--gen N]\n");
		return 2;
	}
	struct err e = {0};
	struct model *m;
	double t0 = now();
	if (model_load(dir, &m, NULL, &e)) {
		fprintf(stderr, "bench_forward: %s\n", e.msg);
		return 1;
	}
	double t_load = now() - t0;
	int V = m->cfg.vocab_size;
	struct fwd_state *s;
	if (fwd_new(m, n_prompt + n_gen, 0, &s, &e)) {
		fprintf(stderr, "bench_forward: %s\n", e.msg);
		model_free(m);
		return 1;
	}
	int *ids = malloc(sizeof(int) * (size_t)n_prompt);
	uint64_t r = 88172645463325252ull;
	for (int i = 0; i < n_prompt; i++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		ids[i] = (int)(r % (uint64_t)V);
	}
	/* Warm-up: pages the mapped weights in. */
	if (fwd_run(s, ids, n_prompt, NULL, &e)) {
		fprintf(stderr, "bench_forward: %s\n", e.msg);
		return 1;
	}
	double t_warm = now() - t0 - t_load;
	double bw_before = memcpy_bandwidth();
	fwd_reset(s);
	t0 = now();
	fwd_run(s, ids, n_prompt, NULL, &e);
	double t_prefill = now() - t0;
	t0 = now();
	for (int i = 0; i < n_gen; i++) {
		int tok = argmax(s->logits, V);
		if (fwd_run(s, &tok, 1, NULL, &e)) {
			fprintf(stderr, "bench_forward: %s\n", e.msg);
			return 1;
		}
	}
	double t_decode = now() - t0;
	/* Best of a measurement before the timed runs and one after: the
	 * machine may be shared, and the limit should be the real one. */
	double bw = memcpy_bandwidth();
	if (bw_before > bw)
		bw = bw_before;
	double bytes = (double)model_decode_bytes(m, NULL);
	/* Unique weight bytes (the shared MLP once), for context. */
	double unique = 4.0 * (double)model_param_count(m);
	double decode_tps = n_gen / t_decode, limit = bw / bytes;
	double limit_u = bw / unique;
	const char *thr = getenv("OPENBLAS_NUM_THREADS");
	printf("bench_forward %s: load %.2f s (+ first prefill %.2f s); "
	       "prefill %d tokens %.1f tokens/s; decode %d tokens %.2f "
	       "tokens/s (%.1f ms/token); memcpy %.2f GB/s (read+write); "
	       "weights read %.1f MB/token (%.1f MB unique); bandwidth "
	       "bound %.2f tokens/s with every read from memory (decode at "
	       "%.0f%% of it), %.2f tokens/s with the unique weights from "
	       "memory, the shared MLP from cache (decode at %.0f%% of it); "
	       "OPENBLAS_NUM_THREADS=%s\n",
	       dir, t_load, t_warm, n_prompt, n_prompt / t_prefill, n_gen,
	       decode_tps, 1e3 * t_decode / n_gen, bw / 1e9, bytes / 1e6,
	       unique / 1e6, limit, 100 * decode_tps / limit, limit_u,
	       100 * decode_tps / limit_u, thr ? thr : "(unset)");
	free(ids);
	fwd_free(s);
	model_free(m);
	return 0;
}
