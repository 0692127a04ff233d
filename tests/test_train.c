/* Tests for the training engine (train, distill, adamw, model_clone/
 * model_params) against PyTorch: goldens made once by tests/ref/
 * train_goldens.py with autograd and torch.optim.AdamW, plus a finite-
 * difference check that needs no reference at all.
 *
 * Gradient tolerance, per tensor with reference g and ours c:
 *   max_i |c_i - g_i| <= 1e-4 * max_i |g_i|           (the headline figure)
 *   and every element |c_i - g_i| <= 1e-3 * |g_i| + 2e-5 * max_i |g_i|. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adamw.h"
#include "distill.h"
#include "forward.h"
#include "model.h"
#include "test.h"
#include "train.h"
#include "weights.h"

#define DATA "tests/data/train"

/* A golden tensor as an aligned copy; NULL (and a failed check) when
 * absent or of the wrong size. */
static float *golden(const struct weights *w, const char *name, uint64_t n)
{
	const struct tensor *t = weights_find(w, name);
	CHECK_MSG(t && t->dtype == DTYPE_F32 && t->numel == n,
		  "golden tensor '%s' missing or not %llu floats", name,
		  (unsigned long long)n);
	if (!t || t->dtype != DTYPE_F32 || t->numel != n)
		return NULL;
	float *p = malloc((size_t)n * sizeof(float));
	memcpy(p, t->data, (size_t)n * sizeof(float));
	return p;
}

static int read_batch(const char *path, int *B, int *T, int *ids, int cap)
{
	FILE *fp = fopen(path, "r");
	if (!fp)
		return -1;
	int ok = fscanf(fp, "%d %d", B, T) == 2 && *B > 0 && *T > 0 &&
		 *B * *T <= cap;
	for (int i = 0; ok && i < *B * *T; i++)
		ok = fscanf(fp, "%d", &ids[i]) == 1;
	fclose(fp);
	return ok ? 0 : -1;
}

struct cmp {
	double max_abs, max_ref; /* max |c - g|, max |g| */
	long bad;		 /* elements outside the elementwise bound */
};

static struct cmp compare(const float *c, const float *g, uint64_t n)
{
	struct cmp r = {0, 0, 0};
	for (uint64_t i = 0; i < n; i++)
		if (fabs(g[i]) > r.max_ref)
			r.max_ref = fabs(g[i]);
	for (uint64_t i = 0; i < n; i++) {
		double dd = fabs((double)c[i] - g[i]);
		if (dd > r.max_abs || dd != dd)
			r.max_abs = dd != dd ? 1e30 : dd;
		if (!(dd <= 1e-3 * fabs(g[i]) + 2e-5 * r.max_ref))
			r.bad++;
	}
	return r;
}

/* ---- gradients against autograd ---- */

static double test_grad_model(const char *name)
{
	char dir[256], path[300];
	snprintf(dir, sizeof dir, DATA "/grad_%s", name);
	struct err e = {0};
	struct model *m = NULL, *g = NULL;
	struct weights *gw = NULL;
	struct train_state *s = NULL;
	int ids[256], B, T;
	snprintf(path, sizeof path, "%s/batch.txt", dir);
	int rc = model_load(dir, &m, NULL, &e);
	CHECK_MSG(rc == 0, "%s: %s", name, e.msg);
	snprintf(path, sizeof path, "%s/batch.txt", dir);
	int ok = rc == 0 && read_batch(path, &B, &T, ids, 256) == 0;
	snprintf(path, sizeof path, "%s/golden.safetensors", dir);
	ok = ok && weights_open_file(path, &gw, &e) == 0;
	CHECK_MSG(ok, "%s: cannot read the golden files: %s", name, e.msg);
	ok = ok && model_new(&m->cfg, &g, &e) == 0 &&
	     train_new(m, B + 1, T + 2, &s, &e) == 0;
	CHECK_MSG(ok, "%s: %s", name, e.msg);
	double worst = 0;
	if (!ok)
		goto out;
	int V = m->cfg.vocab_size, N = B * T;
	float *gl = golden(gw, "logits", (uint64_t)N * V);
	float *dl = golden(gw, "dlogits", (uint64_t)N * V);
	if (!gl || !dl) {
		free(gl);
		free(dl);
		goto out;
	}
	/* forward: PyTorch's logits, and fwd_run's to float rounding */
	const float *lg;
	CHECK_EQ_INT(train_forward(s, ids, B, T, &lg, &e), 0);
	struct cmp cl = compare(lg, gl, (uint64_t)N * V);
	CHECK_MSG(cl.max_abs <= 1e-4 * (cl.max_ref > 1 ? cl.max_ref : 1),
		  "%s: logits differ from pytorch by %.3g", name, cl.max_abs);
	struct fwd_state *fs;
	double dfwd = 0;
	if (fwd_new(m, T, 0, &fs, &e) == 0) {
		float *one = malloc((size_t)T * V * sizeof(float));
		for (int b = 0; b < B; b++) {
			fwd_reset(fs);
			CHECK_EQ_INT(fwd_run(fs, ids + b * T, T, one, &e), 0);
			struct cmp c = compare(lg + (size_t)b * T * V, one,
					       (uint64_t)T * V);
			if (c.max_abs > dfwd)
				dfwd = c.max_abs;
		}
		CHECK_MSG(dfwd <= 1e-5, "%s: train_forward vs fwd_run %.3g",
			  name, dfwd);
		free(one);
		fwd_free(fs);
	}
	/* backward: every unique tensor against autograd */
	train_zero_grads(g);
	CHECK_EQ_INT(train_backward(s, dl, g, &e), 0);
	int np = model_params(g, NULL, 0);
	struct model_param *ps = malloc((size_t)np * sizeof *ps);
	model_params(g, ps, np);
	const char *worst_name = "";
	for (int i = 0; i < np; i++) {
		char gname[100];
		snprintf(gname, sizeof gname, "grad.%s", ps[i].name);
		float *ref = golden(gw, gname, ps[i].n);
		if (!ref)
			continue;
		struct cmp c = compare(ps[i].w, ref, ps[i].n);
		double rel = c.max_abs / (c.max_ref > 0 ? c.max_ref : 1);
		CHECK_MSG(rel <= 1e-4 && c.bad == 0,
			  "%s: '%s': max |d| %.3g = %.3g of max |g| %.3g, %ld "
			  "elements outside the bound",
			  name, ps[i].name, c.max_abs, rel, c.max_ref, c.bad);
		CHECK_MSG(c.max_ref > 0, "%s: '%s' has a zero gradient", name,
			  ps[i].name);
		if (rel > worst) {
			worst = rel;
			worst_name = ps[i].name;
		}
		free(ref);
	}
	/* backward adds: a second call doubles every gradient */
	float *once = malloc((size_t)ps[0].n * sizeof(float));
	memcpy(once, ps[0].w, (size_t)ps[0].n * sizeof(float));
	CHECK_EQ_INT(train_backward(s, dl, g, &e), 0);
	double dbl = 0, big = 0;
	for (uint64_t j = 0; j < ps[0].n; j++) {
		double dd = fabs(ps[0].w[j] - 2.0 * once[j]);
		if (dd > dbl)
			dbl = dd;
		if (fabs(once[j]) > big)
			big = fabs(once[j]);
	}
	CHECK_MSG(dbl <= 1e-6 * big, "%s: a second backward does not accumulate "
			       "(%.3g)",
		  name, dbl);
	train_zero_grads(g);
	CHECK(ps[0].w[0] == 0 && ps[np - 1].w[ps[np - 1].n - 1] == 0);
	printf("%s: B %d T %d: logits vs pytorch %.2g, vs fwd_run %.2g; "
	       "worst gradient max|d|/max|g| %.2g ('%s')\n",
	       name, B, T, cl.max_abs, dfwd, worst, worst_name);
	free(once);
	free(ps);
	free(gl);
	free(dl);
out:
	train_free(s);
	weights_free(gw);
	model_free(g);
	model_free(m);
	return worst;
}

static void test_bad_calls(void)
{
	struct err e = {0};
	struct model *m = NULL, *g = NULL, *other = NULL;
	struct train_state *s = NULL;
	if (model_load(DATA "/grad_odd72", &m, NULL, &e) ||
	    model_new(&m->cfg, &g, &e) ||
	    model_load(DATA "/grad_tied_gqa", &other, NULL, &e)) {
		CHECK_MSG(0, "%s", e.msg);
		goto out;
	}
	CHECK_ERR(train_new(m, 0, 4, &s, &e), e, ERR_INVALID, "batch");
	CHECK_ERR(train_new(m, 2, 1, &s, &e), e, ERR_INVALID, "context");
	CHECK_ERR(train_new(m, 2, m->cfg.max_position_embeddings + 1, &s, &e),
		  e, ERR_INVALID, "context");
	CHECK(s == NULL);
	if (train_new(m, 2, 4, &s, &e)) {
		CHECK_MSG(0, "%s", e.msg);
		goto out;
	}
	int ids[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	const float *lg;
	float *dl = calloc((size_t)12 * m->cfg.vocab_size, sizeof(float));
	CHECK_ERR(train_backward(s, dl, g, &e), e, ERR_INVALID, "forward");
	CHECK_ERR(train_forward(s, ids, 3, 4, &lg, &e), e, ERR_INVALID,
		  "batch");
	CHECK_ERR(train_forward(s, ids, 2, 5, &lg, &e), e, ERR_INVALID,
		  "batch");
	CHECK_ERR(train_forward(s, ids, 2, 1, &lg, &e), e, ERR_INVALID,
		  "batch");
	ids[3] = m->cfg.vocab_size;
	CHECK_ERR(train_forward(s, ids, 2, 4, &lg, &e), e, ERR_INVALID,
		  "vocabulary");
	ids[3] = -1;
	CHECK_ERR(train_forward(s, ids, 2, 4, &lg, &e), e, ERR_INVALID,
		  "vocabulary");
	ids[3] = 4;
	CHECK_EQ_INT(train_forward(s, ids, 2, 4, &lg, &e), 0);
	CHECK_ERR(train_backward(s, dl, other, &e), e, ERR_INVALID,
		  "geometry");
	free(dl);
out:
	train_free(s);
	train_free(NULL);
	model_free(g);
	model_free(other);
	model_free(m);
}

/* ---- finite differences (no reference needed) ---- */

/* sum(logits * R) in double. */
static double fd_loss(struct train_state *s, const int *ids, int B, int T,
		      const float *R, size_t n)
{
	const float *lg;
	struct err e;
	if (train_forward(s, ids, B, T, &lg, &e))
		return NAN;
	double L = 0;
	for (size_t i = 0; i < n; i++)
		L += (double)lg[i] * R[i];
	return L;
}

static double test_finite_differences(const char *name)
{
	char dir[256];
	snprintf(dir, sizeof dir, DATA "/grad_%s", name);
	struct err e = {0};
	struct model *src = NULL, *m = NULL, *g = NULL;
	struct train_state *s = NULL;
	double worst = 0;
	if (model_load(dir, &src, NULL, &e) || model_clone(src, &m, &e) ||
	    model_new(&m->cfg, &g, &e) || train_new(m, 2, 5, &s, &e)) {
		CHECK_MSG(0, "%s: %s", name, e.msg);
		goto out;
	}
	int V = m->cfg.vocab_size, B = 2, T = 5;
	int ids[10] = {1, 7, 3, 7, 2, 1, 3, 3, 9, 7};
	size_t n = (size_t)B * T * V;
	float *R = malloc(n * sizeof(float));
	uint32_t x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		R[i] = (float)((x >> 8) / 16777216.0 - 0.5);
	}
	const float *lg;
	train_forward(s, ids, B, T, &lg, &e);
	train_zero_grads(g);
	CHECK_EQ_INT(train_backward(s, R, g, &e), 0);
	int np = model_params(m, NULL, 0);
	struct model_param *pm = malloc((size_t)np * 2 * sizeof *pm);
	struct model_param *pg = pm + np;
	model_params(m, pm, np);
	model_params(g, pg, np);
	/* A few coordinates per tensor; the embedding's rows of used
	 * tokens. h = 1e-2: the loss is a sum of f32 logits, so a smaller
	 * step drowns in their rounding. */
	const float h = 1e-2f;
	for (int i = 0; i < np; i++) {
		double gmax = 0;
		for (uint64_t j = 0; j < pg[i].n; j++)
			if (fabs(pg[i].w[j]) > gmax)
				gmax = fabs(pg[i].w[j]);
		for (int k = 0; k < 4; k++) {
			uint64_t j;
			if (i == 0)
				j = (uint64_t)ids[k * 3 % 10] * m->cfg.hidden_size +
				    (uint64_t)k * 5 % (uint64_t)m->cfg.hidden_size;
			else
				j = ((uint64_t)k * 7919 + 13) % pm[i].n;
			float old = pm[i].w[j];
			pm[i].w[j] = old + h;
			double lp = fd_loss(s, ids, B, T, R, n);
			pm[i].w[j] = old - h;
			double lm = fd_loss(s, ids, B, T, R, n);
			pm[i].w[j] = old;
			double fd = (lp - lm) / (2.0 * h);
			double dd = fabs(fd - pg[i].w[j]) /
				    (gmax > 1e-3 ? gmax : 1e-3);
			if (dd > worst)
				worst = dd;
			CHECK_MSG(dd <= 5e-3,
				  "%s: finite difference of '%s'[%llu]: %.6g, "
				  "backward %.6g",
				  name, pm[i].name, (unsigned long long)j, fd,
				  (double)pg[i].w[j]);
		}
	}
	printf("%s: finite differences (h %g) vs backward: worst "
	       "|fd - g| / max|g| %.2g\n",
	       name, (double)h, worst);
	free(pm);
	free(R);
out:
	train_free(s);
	model_free(g);
	model_free(m);
	model_free(src);
	return worst;
}

/* ---- model_clone / model_params ---- */

static void test_clone_params(void)
{
	const char *names[] = {"shared_untied", "tied_gqa",
			       "mqa_shared_tied"};
	for (size_t i = 0; i < 3; i++) {
		char dir[256];
		snprintf(dir, sizeof dir, DATA "/grad_%s", names[i]);
		struct err e = {0};
		struct model *src = NULL, *c = NULL;
		if (model_load(dir, &src, NULL, &e) ||
		    model_clone(src, &c, &e)) {
			CHECK_MSG(0, "%s: %s", names[i], e.msg);
			model_free(src);
			continue;
		}
		const struct config *cf = &c->cfg;
		CHECK_EQ_INT(c->tied, src->tied);
		CHECK_EQ_INT(c->lm_head == c->embed, src->tied);
		CHECK(c->embed != src->embed && c->norm != src->norm);
		for (int l = 0; l < cf->n_layers; l++) {
			CHECK_EQ_INT(c->layers[l].w_gate == c->layers[0].w_gate,
				     cf->shared_mlp || l == 0);
			CHECK_EQ_INT(c->layers[l].w_down == c->layers[0].w_down,
				     cf->shared_mlp || l == 0);
		}
		int np = model_params(c, NULL, 0);
		int want = 1 + cf->n_layers * (cf->shared_mlp ? 6 : 9) +
			   (cf->shared_mlp ? 3 : 0) + 1 + !c->tied;
		CHECK_EQ_INT(np, want);
		struct model_param *pc = malloc((size_t)np * 2 * sizeof *pc);
		struct model_param *psrc = pc + np;
		CHECK_EQ_INT(model_params(c, pc, 3), np); /* cap < count */
		model_params(c, pc, np);
		model_params(src, psrc, np);
		uint64_t total = 0;
		int same = 1, norms = 0, distinct = 1;
		for (int k = 0; k < np; k++) {
			total += pc[k].n;
			norms += pc[k].norm;
			same = same && strcmp(pc[k].name, psrc[k].name) == 0 &&
			       memcmp(pc[k].w, psrc[k].w,
				      (size_t)pc[k].n * sizeof(float)) == 0;
			for (int j = 0; j < k; j++)
				distinct = distinct && pc[j].w != pc[k].w;
		}
		CHECK_EQ_INT(total, model_param_count(c));
		CHECK_EQ_INT(norms, 2 * cf->n_layers + 1);
		CHECK(same);
		CHECK(distinct);
		CHECK_STR(pc[0].name, "model.embed_tokens.weight");
		CHECK_STR(pc[np - 1].name,
			  c->tied ? "model.norm.weight" : "lm_head.weight");
		if (cf->shared_mlp)
			CHECK_STR(pc[np - 5 + c->tied].name,
				  "model.mlp.gate_proj.weight");
		/* writable and independent of the source */
		c->layers[0].w_gate[0] += 1.0f;
		CHECK(c->layers[cf->n_layers - 1].w_gate[0] !=
			  src->layers[cf->n_layers - 1].w_gate[0] ||
		      !cf->shared_mlp);
		free(pc);
		model_free(c);
		model_free(src);
	}
}

/* ---- distillation loss ---- */

static void test_distill(void)
{
	struct err e = {0};
	struct weights *w = NULL;
	FILE *fp = fopen(DATA "/distill.txt", "r");
	int n = 0, y[16];
	int ok = fp && fscanf(fp, " targets %d", &n) == 1 && n > 0 && n <= 16;
	for (int i = 0; ok && i < n; i++)
		ok = fscanf(fp, "%d", &y[i]) == 1;
	ok = ok && weights_open_file(DATA "/distill.safetensors", &w, &e) == 0;
	CHECK_MSG(ok, "cannot read the distillation goldens: %s", e.msg);
	if (!ok) {
		if (fp)
			fclose(fp);
		return;
	}
	const struct tensor *ts = weights_find(w, "student");
	int V = ts ? (int)ts->shape[1] : 1;
	float *st = golden(w, "student", (uint64_t)n * V);
	float *te = golden(w, "teacher", (uint64_t)n * V);
	float *dl = malloc((size_t)n * V * sizeof(float));
	double worst_l = 0, worst_g = 0;
	int cases = 0;
	double T, wt, loss, kl, ce;
	while (st && te &&
	       fscanf(fp, " case %lf %lf %lf %lf %lf", &T, &wt, &loss, &kl,
		      &ce) == 5) {
		char name[32];
		snprintf(name, sizeof name, "dlogits.%d", cases);
		float *ref = golden(w, name, (uint64_t)n * V);
		struct distill_opts o = {T, wt};
		struct distill_stats s;
		CHECK_EQ_INT(distill_loss(st, te, y, (size_t)n, V, &o, dl, &s,
					  &e),
			     0);
		double dlr = fabs(s.loss - loss) / fabs(loss);
		CHECK_MSG(dlr <= 1e-6 && fabs(s.kl - kl) <= 1e-6 * kl &&
			      fabs(s.ce - ce) <= 1e-6 * ce,
			  "distill T %g w %g: loss %.9g kl %.9g ce %.9g, "
			  "pytorch %.9g %.9g %.9g",
			  T, wt, s.loss, s.kl, s.ce, loss, kl, ce);
		CHECK_EQ_INT(s.n_scored, 5);
		int hits = 0;
		for (int r = 0; r < n; r++) {
			int as = 0, at = 0;
			for (int i = 1; i < V; i++) {
				as = st[r * V + i] > st[r * V + as] ? i : as;
				at = te[r * V + i] > te[r * V + at] ? i : at;
			}
			hits += y[r] >= 0 && as == at;
		}
		CHECK_NEAR(s.top1, hits / 5.0, 1e-12);
		if (ref) {
			struct cmp c = compare(dl, ref, (uint64_t)n * V);
			CHECK_MSG(c.max_abs <= 1e-7,
				  "distill T %g w %g: dlogits differ by %.3g",
				  T, wt, c.max_abs);
			if (c.max_abs > worst_g)
				worst_g = c.max_abs;
			/* unscored rows have no gradient */
			for (int i = 0; i < V; i++)
				CHECK(dl[2 * V + i] == 0 && dl[5 * V + i] == 0);
		}
		if (dlr > worst_l)
			worst_l = dlr;
		free(ref);
		cases++;
	}
	CHECK_EQ_INT(cases, 6);
	printf("distill: %d cases (T 1, 2; w 0, 0.5, 1): loss rel diff %.2g, "
	       "dlogits max |d| %.2g\n",
	       cases, worst_l, worst_g);
	/* plain fine-tuning: no teacher, w 0 = the CE case */
	if (st) {
		struct distill_opts o = {1.0, 0.0};
		struct distill_stats s;
		float *dl2 = malloc((size_t)n * V * sizeof(float));
		CHECK_EQ_INT(distill_loss(st, NULL, y, (size_t)n, V, &o, dl2,
					  &s, &e),
			     0);
		CHECK(s.kl == 0 && s.top1 == 0 && s.loss == s.ce);
		o.temperature = 2.0;
		struct distill_stats s2;
		distill_loss(st, te, y, (size_t)n, V, &o, dl, &s2, &e);
		CHECK(memcmp(dl, dl2, (size_t)n * V * sizeof(float)) == 0);
		CHECK(s2.top1 >= 0 && s2.top1 <= 1);
		/* errors */
		o.kd_weight = 0.5;
		CHECK_ERR(distill_loss(st, NULL, y, (size_t)n, V, &o, dl, &s,
				       &e),
			  e, ERR_INVALID, "teacher");
		o.temperature = 0;
		CHECK_ERR(distill_loss(st, te, y, (size_t)n, V, &o, dl, &s, &e),
			  e, ERR_INVALID, "temperature");
		o.temperature = 1;
		o.kd_weight = 1.5;
		CHECK_ERR(distill_loss(st, te, y, (size_t)n, V, &o, dl, &s, &e),
			  e, ERR_INVALID, "weight");
		o.kd_weight = 0.5;
		int bad[16];
		memcpy(bad, y, sizeof bad);
		bad[0] = V;
		CHECK_ERR(distill_loss(st, te, bad, (size_t)n, V, &o, dl, &s,
				       &e),
			  e, ERR_INVALID, "target");
		/* nothing scored: loss 0, gradient 0 */
		for (int i = 0; i < n; i++)
			bad[i] = -1;
		CHECK_EQ_INT(distill_loss(st, te, bad, (size_t)n, V, &o, dl,
					  &s, &e),
			     0);
		CHECK(s.loss == 0 && s.n_scored == 0 && dl[0] == 0);
		free(dl2);
	}
	fclose(fp);
	free(st);
	free(te);
	free(dl);
	weights_free(w);
}

/* top-1 agreement counts rows whose argmaxes (first index of the maximum)
 * agree; vocabularies around the 4-lane split included. */
static void test_top1(void)
{
	for (int V = 1; V <= 11; V++) {
		float st[6 * 11], te[6 * 11];
		int y[6], want = 0;
		for (int r = 0; r < 6; r++) {
			int ms = (r * 5 + 3) % V, mt = r % 2 ? (ms + 1) % V : ms;
			for (int i = 0; i < V; i++) {
				st[r * V + i] = (float)(i % 3);
				te[r * V + i] = (float)(i % 2);
			}
			st[r * V + ms] = 9;
			te[r * V + mt] = 9;
			if (r == 4 && V > 2) /* a tie: the first index wins */
				st[r * V + (ms + 1) % V] = 9;
			y[r] = r == 5 ? -1 : 0;
			int first = ms;
			if (r == 4 && V > 2 && (ms + 1) % V < ms)
				first = (ms + 1) % V;
			want += r < 5 && first == mt;
		}
		struct distill_opts o = {1.0, 0.5};
		struct distill_stats s;
		struct err e;
		CHECK_EQ_INT(distill_loss(st, te, y, 6, V, &o, NULL, &s, &e), 0);
		CHECK_MSG(fabs(s.top1 - want / 5.0) < 1e-12,
			  "top1 with V %d: %g, want %g", V, s.top1, want / 5.0);
	}
}

/* ---- AdamW ---- */

static int set_grads(struct model *g, const struct weights *w, int k)
{
	int np = model_params(g, NULL, 0);
	struct model_param *ps = malloc((size_t)np * sizeof *ps);
	model_params(g, ps, np);
	int ok = 1;
	for (int i = 0; i < np; i++) {
		char name[100];
		snprintf(name, sizeof name, "grad%d.%s", k, ps[i].name);
		float *ref = golden(w, name, ps[i].n);
		if (!ref) {
			ok = 0;
			continue;
		}
		memcpy(ps[i].w, ref, (size_t)ps[i].n * sizeof(float));
		free(ref);
	}
	free(ps);
	return ok;
}

/* Saves a, then rewrites the step in the header to a non-number: the
 * load must refuse it. */
static void saved_step_test(struct adamw *a, const char *path)
{
	struct err e = {0};
	CHECK_EQ_INT(adamw_save(a, path, &e), 0);
	FILE *f = fopen(path, "r+b");
	if (!f)
		return;
	char head[4096];
	size_t n = fread(head, 1, sizeof head - 1, f);
	head[n] = 0;
	char *at = NULL;
	for (size_t i = 0; i + 8 < n && !at; i++)
		if (memcmp(head + i, "\"step\":\"", 8) == 0)
			at = head + i + 8;
	CHECK(at != NULL);
	if (at) {
		fseek(f, (long)(at - head), SEEK_SET);
		fputc('x', f);
	}
	fclose(f);
	uint64_t before = adamw_steps(a);
	CHECK_ERR(adamw_load(a, path, &e), e, ERR_FORMAT, "step");
	CHECK_EQ_INT(adamw_steps(a), before);
}

static void test_adamw(void)
{
	struct err e = {0};
	struct model *src = NULL, *p = NULL, *g = NULL;
	struct weights *w = NULL, *saved = NULL;
	struct adamw *a = NULL, *b = NULL;
	double lr, b1, b2, eps, wd;
	FILE *fp = fopen(DATA "/adamw/adamw.txt", "r");
	int ok = fp && fscanf(fp, "%lf %lf %lf %lf %lf", &lr, &b1, &b2, &eps,
			      &wd) == 5;
	if (fp)
		fclose(fp);
	ok = ok && model_load(DATA "/adamw", &src, NULL, &e) == 0 &&
	     model_clone(src, &p, &e) == 0 &&
	     model_new(&p->cfg, &g, &e) == 0 &&
	     weights_open_file(DATA "/adamw/golden.safetensors", &w, &e) == 0 &&
	     adamw_new(p, &a, &e) == 0;
	CHECK_MSG(ok, "adamw goldens: %s", e.msg);
	if (!ok)
		goto out;
	struct adamw_opts o = {lr, b1, b2, eps, wd};
	CHECK_EQ_INT(adamw_steps(a), 0);
	for (int k = 1; k <= 2; k++) {
		CHECK(set_grads(g, w, k));
		CHECK_EQ_INT(adamw_step(a, p, g, &o, &e), 0);
	}
	CHECK_EQ_INT(adamw_steps(a), 2);
	/* the moments, through the state file */
	char path[64];
	snprintf(path, sizeof path, "/tmp/punguza-adamw-%d.safetensors",
		 (int)getpid());
	CHECK_EQ_INT(adamw_save(a, path, &e), 0);
	CHECK_EQ_INT(weights_open_file(path, &saved, &e), 0);
	int np = model_params(p, NULL, 0);
	struct model_param *ps = malloc((size_t)np * sizeof *ps);
	model_params(p, ps, np);
	double worst_p = 0, worst_m = 0;
	for (int i = 0; i < np; i++) {
		char name[120];
		float *ref = golden(w, ps[i].name, ps[i].n);
		if (ref) {
			struct cmp c = compare(ps[i].w, ref, ps[i].n);
			if (c.max_abs > worst_p)
				worst_p = c.max_abs;
			free(ref);
		}
		for (int k = 0; k < 2 && saved; k++) {
			snprintf(name, sizeof name, "%s.%s", ps[i].name,
				 k ? "exp_avg_sq" : "exp_avg");
			ref = golden(w, name, ps[i].n);
			float *got = golden(saved, name, ps[i].n);
			if (ref && got) {
				struct cmp c = compare(got, ref, ps[i].n);
				double rel = c.max_abs /
					     (c.max_ref > 0 ? c.max_ref : 1);
				if (rel > worst_m)
					worst_m = rel;
			}
			free(ref);
			free(got);
		}
	}
	CHECK_MSG(worst_p <= 1e-6, "adamw: parameters differ from "
				   "torch.optim.AdamW by %.3g",
		  worst_p);
	CHECK_MSG(worst_m <= 1e-6, "adamw: moments differ by %.3g (relative)",
		  worst_m);
	printf("adamw: 2 steps vs torch.optim.AdamW: parameters max |d| %.2g, "
	       "moments max |d|/max %.2g\n",
	       worst_p, worst_m);

	/* load: the same state continues identically */
	struct model *p2 = NULL;
	CHECK_EQ_INT(model_clone(p, &p2, &e), 0);
	CHECK_EQ_INT(adamw_new(p, &b, &e), 0);
	CHECK_EQ_INT(adamw_load(b, path, &e), 0);
	CHECK_EQ_INT(adamw_steps(b), 2);
	set_grads(g, w, 1);
	CHECK_EQ_INT(adamw_step(a, p, g, &o, &e), 0);
	CHECK_EQ_INT(adamw_step(b, p2, g, &o, &e), 0);
	int same = 1;
	struct model_param *ps2 = malloc((size_t)np * sizeof *ps2);
	model_params(p2, ps2, np);
	for (int i = 0; i < np; i++)
		same = same && memcmp(ps[i].w, ps2[i].w,
				      (size_t)ps[i].n * sizeof(float)) == 0;
	CHECK_MSG(same, "adamw: a loaded state does not continue the same");
	free(ps2);
	model_free(p2);

	/* rejection: another geometry, a truncated file, a bad step */
	struct model *other = NULL;
	struct adamw *c = NULL;
	if (model_load(DATA "/grad_odd72", &other, NULL, &e) == 0 &&
	    adamw_new(other, &c, &e) == 0) {
		CHECK_ERR(adamw_load(c, path, &e), e, ERR_FORMAT, path);
		CHECK_EQ_INT(adamw_steps(c), 0);
		CHECK_ERR(adamw_step(c, p, g, &o, &e), e, ERR_INVALID,
			  "optimizer");
	}
	adamw_free(c);
	model_free(other);
	FILE *f = fopen(path, "r+b");
	if (f) {
		fseek(f, 0, SEEK_END);
		long len = ftell(f);
		fclose(f);
		CHECK(truncate(path, len - 4) == 0);
		CHECK_ERR(adamw_load(b, path, &e), e, ERR_FORMAT, path);
		/* a header whose length runs past the end */
		f = fopen(path, "r+b");
		unsigned char big[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
		fwrite(big, 1, 8, f);
		fclose(f);
		CHECK_ERR(adamw_load(b, path, &e), e, ERR_FORMAT, path);
	}
	CHECK_ERR(adamw_load(b, "/nonexistent/adamw.safetensors", &e), e,
		  ERR_NOTFOUND, "nonexistent");
	CHECK_EQ_INT(adamw_steps(b), 3); /* untouched by failed loads */
	/* a wrong step in the metadata */
	saved_step_test(a, path);
	o.beta1 = 1.0;
	CHECK_ERR(adamw_step(a, p, g, &o, &e), e, ERR_INVALID, "adamw");
	unlink(path);
	free(ps);
out:
	adamw_free(a);
	adamw_free(b);
	adamw_free(NULL);
	weights_free(saved);
	weights_free(w);
	model_free(g);
	model_free(p);
	model_free(src);
}

/* ---- 20 training steps against PyTorch ---- */

static void test_steps(void)
{
	struct err e = {0};
	struct model *ssrc = NULL, *stu = NULL, *tea = NULL, *g = NULL;
	struct train_state *ss = NULL, *ts = NULL;
	struct adamw *a = NULL;
	FILE *fp = fopen(DATA "/steps/steps.txt", "r");
	int B, T, nb, ns;
	double temp, w, clip, lr, b1, b2, eps, wd;
	int ok = fp && fscanf(fp, " settings %d %d %d %d %lf %lf %lf %lf %lf "
				  "%lf %lf %lf",
			      &B, &T, &nb, &ns, &temp, &w, &clip, &lr, &b1,
			      &b2, &eps, &wd) == 12 &&
		 B * T * nb <= 256 && ns <= 64;
	int ids[256];
	for (int i = 0; ok && i < B * T * nb; i++)
		ok = (i % (B * T) || fscanf(fp, " batch") == 0) &&
		     fscanf(fp, "%d", &ids[i]) == 1;
	ok = ok && model_load(DATA "/steps/student", &ssrc, NULL, &e) == 0 &&
	     model_load(DATA "/steps/teacher", &tea, NULL, &e) == 0 &&
	     model_clone(ssrc, &stu, &e) == 0 &&
	     model_new(&stu->cfg, &g, &e) == 0 &&
	     train_new(stu, B, T, &ss, &e) == 0 &&
	     train_new(tea, B, T, &ts, &e) == 0 && adamw_new(stu, &a, &e) == 0;
	CHECK_MSG(ok, "training goldens: %s", e.msg);
	if (!ok) {
		if (fp)
			fclose(fp);
		goto out;
	}
	int V = stu->cfg.vocab_size, N = B * T;
	float *tl = malloc((size_t)N * V * sizeof(float));
	float *dl = malloc((size_t)N * V * sizeof(float));
	int y[256];
	struct distill_opts dop = {temp, w};
	struct adamw_opts aop = {lr, b1, b2, eps, wd};
	double worst = 0, worst_norm = 0;
	int steps = 0;
	for (int k = 0; k < ns; k++) {
		int kk;
		double loss, kl, ce, norm;
		if (fscanf(fp, " step %d %lf %lf %lf %lf", &kk, &loss, &kl, &ce,
			   &norm) != 5)
			break;
		const int *b = ids + (size_t)(k % nb) * N;
		for (int r = 0; r < N; r++)
			y[r] = r % T == T - 1 ? -1 : b[r + 1];
		y[1 * T + 3] = -1;
		const float *lg;
		CHECK_EQ_INT(train_forward(ts, b, B, T, &lg, &e), 0);
		memcpy(tl, lg, (size_t)N * V * sizeof(float));
		CHECK_EQ_INT(train_forward(ss, b, B, T, &lg, &e), 0);
		struct distill_stats st;
		CHECK_EQ_INT(distill_loss(lg, tl, y, (size_t)N, V, &dop, dl,
					  &st, &e),
			     0);
		train_zero_grads(g);
		CHECK_EQ_INT(train_backward(ss, dl, g, &e), 0);
		double gn = train_clip_grads(g, clip);
		CHECK_EQ_INT(adamw_step(a, stu, g, &aop, &e), 0);
		double rel = fabs(st.loss - loss) / fabs(loss);
		double reln = fabs(gn - norm) / norm;
		CHECK_MSG(rel <= 1e-4 && reln <= 1e-4,
			  "step %d: loss %.9g (pytorch %.9g), grad norm %.9g "
			  "(pytorch %.9g)",
			  k, st.loss, loss, gn, norm);
		if (rel > worst)
			worst = rel;
		if (reln > worst_norm)
			worst_norm = reln;
		steps++;
	}
	fclose(fp);
	CHECK_EQ_INT(steps, ns);
	printf("%d KD+CE steps (clip, AdamW) vs pytorch: loss max rel diff "
	       "%.2g, grad norm %.2g\n",
	       steps, worst, worst_norm);
	/* clipping: the norm after is max_norm */
	train_clip_grads(g, 1e-3);
	CHECK_NEAR(train_clip_grads(g, 0), 1e-3, 1e-8);
	free(tl);
	free(dl);
out:
	adamw_free(a);
	train_free(ss);
	train_free(ts);
	model_free(g);
	model_free(stu);
	model_free(ssrc);
	model_free(tea);
}

int main(void)
{
	const char *models[] = {"shared_untied", "tied_gqa", "odd72",
				"mqa_shared_tied", "heads8"};
	double worst = 0;
	for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
		double w = test_grad_model(models[i]);
		if (w > worst)
			worst = w;
	}
	printf("gradients vs autograd, 5 models: worst max|d|/max|g| %.2g\n",
	       worst);
	test_bad_calls();
	test_finite_differences("mqa_shared_tied");
	test_finite_differences("odd72");
	test_clone_params();
	test_distill();
	test_top1();
	test_adamw();
	test_steps();
	return TEST_SUMMARY();
}
