/*
 * bench_load — how fast a checkpoint opens and how much memory it costs:
 *
 *   bench_load DIR|FILE
 *
 * Opens the weights (weights_open_dir for a directory, weights_open_file
 * otherwise), then touches every page of every tensor (one byte per 4 KB)
 * so the whole file is faulted in through the mapping, and prints one line:
 *
 *   bench_load: PATH format=F tensors=N file_bytes=B open_ms=X touch_ms=Y
 *     total_ms=Z touch_MBps=W peak_rss_mb=R rss_over_file=Q
 *
 * peak_rss_mb is getrusage's ru_maxrss: for a zero-copy loader it stays
 * close to the file size (the mapped pages), never twice it.
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "err.h"
#include "fileio.h"
#include "weights.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "--help") == 0) {
		fprintf(argc == 2 ? stdout : stderr,
			"usage: bench_load DIR|FILE\n");
		return argc == 2 ? 0 : 2;
	}
	const char *path = argv[1];
	struct weights *w = NULL;
	struct err e;
	double t0 = now();
	int rc = path_is_dir(path) ? weights_open_dir(path, &w, NULL, &e)
				   : weights_open_file(path, &w, &e);
	double t1 = now();
	if (rc < 0) {
		fprintf(stderr, "bench_load: %s\n", e.msg);
		return 1;
	}
	unsigned long sum = 0;
	uint64_t touched = 0;
	for (size_t i = 0; i < weights_count(w); i++) {
		const struct tensor *t = weights_at(w, i);
		const volatile unsigned char *p = t->data;
		for (uint64_t off = 0; off < t->nbytes; off += 4096)
			sum += p[off];
		touched += t->nbytes;
	}
	double t2 = now();
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double rss_mb = (double)ru.ru_maxrss / 1024.0;
	double file_mb = (double)weights_file_bytes(w) / (1024.0 * 1024.0);
	printf("bench_load: %s format=\"%s\" tensors=%zu file_bytes=%llu "
	       "open_ms=%.1f touch_ms=%.1f total_ms=%.1f touch_MBps=%.0f "
	       "peak_rss_mb=%.1f rss_over_file=%.3f checksum=%lu\n",
	       path, weights_format(w), weights_count(w),
	       (unsigned long long)weights_file_bytes(w), (t1 - t0) * 1e3,
	       (t2 - t1) * 1e3, (t2 - t0) * 1e3,
	       (t2 - t1) > 0 ? (double)touched / (1024.0 * 1024.0) / (t2 - t1)
			     : 0.0,
	       rss_mb, file_mb > 0 ? rss_mb / file_mb : 0.0, sum);
	weights_free(w);
	return 0;
}
