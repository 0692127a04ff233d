/* bench_train DIR [--batch B] [--ctx T] [--steps N] — speed of one heal
 * training step on the model in DIR (a writable clone of it):
 *   forward over (B, T), distillation loss (KD T 2, w 0.5, against fixed
 *   teacher logits: the teacher's own forward is inference, not timed),
 *   zero grads, backward, gradient clipping (1.0), AdamW.
 * The same step as tests/bench/train_ref_speed.py (same tokens, teacher
 * logits and settings: the step-1 loss printed by both must agree).
 * Prints tokens/s (mean over N steps after one warm-up step), the time of
 * each phase, and the peak RSS against weights + gradients + Adam moments
 * + the activations train.h estimates. Threads: OPENBLAS_NUM_THREADS. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "adamw.h"
#include "distill.h"
#include "model.h"
#include "train.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double peak_rss_mb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0;
}

int main(int argc, char **argv)
{
	int B = 16, T = 128, steps = 3;
	const char *dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			B = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--ctx") && i + 1 < argc)
			T = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
			steps = atoi(argv[++i]);
		else if (argv[i][0] != '-' && !dir)
			dir = argv[i];
		else {
			fprintf(stderr, "usage: bench_train DIR [--batch B] "
					"[--ctx T] [--steps N]\n");
			return 2;
		}
	}
	if (!dir || B < 1 || T < 2 || steps < 1) {
		fprintf(stderr, "usage: bench_train DIR [--batch B] [--ctx T] "
				"[--steps N]\n");
		return 2;
	}
	struct err e = {0};
	struct model *src, *m, *g;
	struct train_state *s;
	struct adamw *a;
	if (model_load(dir, &src, NULL, &e) || model_clone(src, &m, &e) ||
	    model_new(&m->cfg, &g, &e) || train_new(m, B, T, &s, &e) ||
	    adamw_new(m, &a, &e)) {
		fprintf(stderr, "bench_train: %s\n", e.msg);
		return 1;
	}
	model_free(src); /* the clone is what trains */
	const struct config *c = &m->cfg;
	int V = c->vocab_size, N = B * T;
	int *ids = malloc((size_t)N * sizeof *ids);
	int *y = malloc((size_t)N * sizeof *y);
	float *tl = malloc((size_t)N * V * sizeof(float));
	float *dl = malloc((size_t)N * V * sizeof(float));
	if (!ids || !y || !tl || !dl) {
		fprintf(stderr, "bench_train: out of memory\n");
		return 1;
	}
	/* the same formulas as train_ref_speed.py */
	for (int r = 0; r < N; r++)
		ids[r] = (int)(((int64_t)r * 7919 + 13) % V);
	for (int r = 0; r < N; r++)
		y[r] = r % T == T - 1 ? -1 : ids[r + 1];
	for (size_t r = 0; r < (size_t)N; r++)
		for (int v = 0; v < V; v++)
			tl[r * V + v] = (float)(3.0 * sin(0.37 * (double)r +
							  0.11 * v));
	struct distill_opts dop = {2.0, 0.5};
	struct adamw_opts aop = {1e-4, 0.9, 0.95, 1e-8, 0.1};
	double ph[6] = {0}; /* forward, loss, zero, backward, clip, adamw */
	double first_loss = 0, t_all = 0;
	for (int k = 0; k <= steps; k++) {
		double t[7];
		const float *lg;
		struct distill_stats st;
		t[0] = now();
		int rc = train_forward(s, ids, B, T, &lg, &e);
		t[1] = now();
		rc = rc ? rc
			: distill_loss(lg, tl, y, (size_t)N, V, &dop, dl, &st,
				       &e);
		t[2] = now();
		train_zero_grads(g);
		t[3] = now();
		rc = rc ? rc : train_backward(s, dl, g, &e);
		t[4] = now();
		train_clip_grads(g, 1.0);
		t[5] = now();
		rc = rc ? rc : adamw_step(a, m, g, &aop, &e);
		t[6] = now();
		if (rc) {
			fprintf(stderr, "bench_train: %s\n", e.msg);
			return 1;
		}
		if (k == 0) {
			first_loss = st.loss;
			continue; /* warm-up */
		}
		for (int i = 0; i < 6; i++)
			ph[i] += t[i + 1] - t[i];
		t_all += t[6] - t[0];
	}
	uint64_t P = 0;
	int np = model_params(m, NULL, 0);
	struct model_param *ps = malloc((size_t)np * sizeof *ps);
	model_params(m, ps, np);
	for (int i = 0; i < np; i++)
		P += ps[i].n;
	free(ps);
	uint64_t L = (uint64_t)c->n_layers, d = (uint64_t)c->hidden_size;
	uint64_t f = (uint64_t)c->intermediate_size;
	uint64_t hkv = (uint64_t)(c->n_heads + c->n_kv_heads) * c->head_dim;
	/* train.h's figure: kept activations + scratch */
	uint64_t act =
	    (uint64_t)N * (L * (d + 2 * hkv + 2 * f +
				(uint64_t)c->n_heads * T) +
			   (L + 1) * d + (uint64_t)V + 3 * d + 3 * f + 2 * hkv);
	double mb = 1.0 / (1 << 20);
	printf("train step B %d T %d: %.1f tokens/s (%.3f s/step over %d "
	       "steps); step-1 loss %.6f\n",
	       B, T, N * steps / t_all, t_all / steps, steps, first_loss);
	printf("  phases (s/step): forward %.3f, loss %.3f, zero %.3f, "
	       "backward %.3f, clip %.3f, adamw %.3f\n",
	       ph[0] / steps, ph[1] / steps, ph[2] / steps, ph[3] / steps,
	       ph[4] / steps, ph[5] / steps);
	printf("  peak RSS %.0f MB; params %llu: weights %.0f MB + grads %.0f "
	       "MB + Adam moments %.0f MB + activations ~%.0f MB + "
	       "teacher/dlogits %.0f MB = %.0f MB\n",
	       peak_rss_mb(), (unsigned long long)P, P * 4.0 * mb,
	       P * 4.0 * mb, P * 8.0 * mb, act * 4.0 * mb,
	       2.0 * N * V * 4.0 * mb,
	       (P * 16.0 + act * 4.0 + 2.0 * N * V * 4.0) * mb);
	free(ids);
	free(y);
	free(tl);
	free(dl);
	adamw_free(a);
	train_free(s);
	model_free(g);
	model_free(m);
	return 0;
}
