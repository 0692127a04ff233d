/* bench_plan — latency of plan_estimate (validate + snap + geometry +
 * parameter breakdown) for the published 50M plan on InkubaLM-0.4B's
 * geometry, mean over 100k runs. Target (issue 4): < 1 ms. */
#include <stdio.h>
#include <time.h>

#include "plan.h"

#define RUNS 100000

int main(void)
{
	struct config src;
	struct prune_plan p;
	struct plan_estimate est;
	struct err e = {0};
	struct timespec t0, t1;
	uint64_t sum = 0;

	config_inkubalm(&src);
	if (plan_preset("published-50m", &p, &e)) {
		fprintf(stderr, "bench_plan: %s\n", e.msg);
		return 1;
	}
	p.width_factor = 0.3; /* makes snapping do work and write a note */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < RUNS; i++) {
		if (plan_estimate(&p, &src, 0, &est, NULL, &e)) {
			fprintf(stderr, "bench_plan: %s\n", e.msg);
			return 1;
		}
		sum += est.dst.total;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
		     (double)(t1.tv_nsec - t0.tv_nsec)) /
		    RUNS;
	printf("plan_estimate: mean %.3f us over %d runs (target < 1000 us; "
	       "checksum %llu)\n",
	       ns / 1e3, RUNS, (unsigned long long)(sum / RUNS));
	prune_plan_free(&p);
	return 0;
}
