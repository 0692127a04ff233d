#include "adamw.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "par.h"
#include "safetensors.h"
#include "weights.h"

struct adamw {
	int n;			 /* unique tensors */
	struct model_param *ps;	 /* (n) names and shapes (w: the model's at
				    creation, not used afterwards) */
	float **m, **v;		 /* (n) first and second moments, ps[i].n each */
	uint64_t t;		 /* steps taken */
};

void adamw_free(struct adamw *a)
{
	if (!a)
		return;
	for (int i = 0; a->m && i < a->n; i++)
		free(a->m[i]);
	for (int i = 0; a->v && i < a->n; i++)
		free(a->v[i]);
	free(a->m);
	free(a->v);
	free(a->ps);
	free(a);
}

int adamw_new(const struct model *m, struct adamw **out, struct err *e)
{
	*out = NULL;
	struct adamw *a = calloc(1, sizeof *a);
	if (!a)
		return err_set(e, ERR_NOMEM, "adamw: out of memory");
	a->n = model_params(m, NULL, 0);
	a->ps = malloc((size_t)a->n * sizeof *a->ps);
	a->m = calloc((size_t)a->n, sizeof *a->m);
	a->v = calloc((size_t)a->n, sizeof *a->v);
	if (!a->ps || !a->m || !a->v) {
		adamw_free(a);
		return err_set(e, ERR_NOMEM, "adamw: out of memory");
	}
	model_params(m, a->ps, a->n);
	for (int i = 0; i < a->n; i++) {
		uint64_t n = a->ps[i].n;
		if (n > SIZE_MAX / sizeof(float)) {
			adamw_free(a);
			return err_set(e, ERR_NOMEM,
				       "adamw: tensor '%s' is too large",
				       a->ps[i].name);
		}
		a->m[i] = calloc((size_t)n, sizeof(float));
		a->v[i] = calloc((size_t)n, sizeof(float));
		if (!a->m[i] || !a->v[i]) {
			uint64_t bytes = 0;
			for (int k = 0; k < a->n; k++)
				bytes += 2 * a->ps[k].n * sizeof(float);
			adamw_free(a);
			return err_set(e, ERR_NOMEM,
				       "adamw: out of memory for the moments "
				       "(%llu bytes)",
				       (unsigned long long)bytes);
		}
	}
	*out = a;
	return 0;
}

uint64_t adamw_steps(const struct adamw *a)
{
	return a->t;
}

/* Does model_params of x match the optimizer's tensors (names, shapes)? */
static int check_params(const struct adamw *a, const struct model_param *p,
			int n, const char *what, struct err *e)
{
	if (n != a->n)
		return err_set(e, ERR_INVALID,
			       "adamw: the %s has %d tensors, the optimizer %d",
			       what, n, a->n);
	for (int i = 0; i < n; i++)
		if (strcmp(p[i].name, a->ps[i].name) ||
		    p[i].rows != a->ps[i].rows || p[i].cols != a->ps[i].cols)
			return err_set(e, ERR_INVALID,
				       "adamw: the %s's tensor '%s' does not "
				       "match the optimizer's '%s'",
				       what, p[i].name, a->ps[i].name);
	return 0;
}

/* Elements per task of a step. */
#define ADAMW_CHUNK ((uint64_t)1 << 16)

struct chunk {
	int tensor;
	uint64_t first;
};

struct step_ctx {
	struct adamw *a;
	const struct model_param *pp, *pg;
	float step, bc2s, b1, b2, c1, c2, eps, decay;
	struct chunk *chunks;
};

static void task_step(void *arg, int task, int thread)
{
	(void)thread;
	const struct step_ctx *c = arg;
	int i = c->chunks[task].tensor;
	uint64_t j0 = c->chunks[task].first, n = c->pp[i].n;
	uint64_t j1 = n - j0 < ADAMW_CHUNK ? n : j0 + ADAMW_CHUNK;
	float *p = c->pp[i].w, *m = c->a->m[i], *v = c->a->v[i];
	const float *g = c->pg[i].w;
	float decay = c->pp[i].norm ? 1.0f : c->decay;
	for (uint64_t j = j0; j < j1; j++) {
		float gj = g[j];
		float pj = p[j] * decay;
		float mj = m[j] * c->b1 + c->c1 * gj;
		float vj = v[j] * c->b2 + c->c2 * gj * gj;
		float den = sqrtf(vj) / c->bc2s + c->eps;
		m[j] = mj;
		v[j] = vj;
		p[j] = pj + c->step * (mj / den);
	}
}

int adamw_step(struct adamw *a, struct model *params,
	       const struct model *grads, const struct adamw_opts *o,
	       struct err *e)
{
	if (!(o->lr >= 0) || !(o->beta1 >= 0 && o->beta1 < 1) ||
	    !(o->beta2 >= 0 && o->beta2 < 1) || !(o->eps >= 0) ||
	    !(o->weight_decay >= 0))
		return err_set(e, ERR_INVALID,
			       "adamw: invalid options (lr %g, betas %g %g, "
			       "eps %g, weight decay %g)",
			       o->lr, o->beta1, o->beta2, o->eps,
			       o->weight_decay);
	int n = a->n;
	struct model_param *pp = malloc((size_t)n * 2 * sizeof *pp);
	if (!pp)
		return err_set(e, ERR_NOMEM, "adamw: out of memory");
	struct model_param *pg = pp + n;
	int rc;
	if (model_params(params, pp, n) != n ||
	    model_params(grads, pg, n) != n) {
		rc = err_set(e, ERR_INVALID,
			     "adamw: the model's tensors are not the "
			     "optimizer's");
		goto out;
	}
	if ((rc = check_params(a, pp, n, "model", e)) ||
	    (rc = check_params(a, pg, n, "gradient", e)))
		goto out;
	a->t++;
	/* torch: Python floats for the bias corrections, the scalars then
	 * rounded to f32 by the f32 kernels. */
	double bc1 = 1.0 - pow(o->beta1, (double)a->t);
	double bc2 = 1.0 - pow(o->beta2, (double)a->t);
	struct step_ctx c = {
	    .a = a,
	    .pp = pp,
	    .pg = pg,
	    .step = (float)(-(o->lr / bc1)),
	    .bc2s = (float)sqrt(bc2),
	    .b1 = (float)o->beta1,
	    .b2 = (float)o->beta2,
	    .c1 = (float)(1.0 - o->beta1),
	    .c2 = (float)(1.0 - o->beta2),
	    .eps = (float)o->eps,
	    .decay = (float)(1.0 - o->lr * o->weight_decay),
	};
	/* elementwise: chunks of every tensor, on the engine's threads */
	int n_chunks = 0;
	for (int i = 0; i < n; i++)
		n_chunks += (int)((pp[i].n + ADAMW_CHUNK - 1) / ADAMW_CHUNK);
	c.chunks = malloc((size_t)n_chunks * sizeof *c.chunks);
	if (!c.chunks) {
		a->t--;
		rc = err_set(e, ERR_NOMEM, "adamw: out of memory");
		goto out;
	}
	int k = 0;
	for (int i = 0; i < n; i++)
		for (uint64_t j = 0; j < pp[i].n; j += ADAMW_CHUNK)
			c.chunks[k++] = (struct chunk){i, j};
	par_run(par_threads(), n_chunks, task_step, &c);
	free(c.chunks);
out:
	free(pp);
	return rc;
}

/* ---- the state file ---- */

int adamw_save(const struct adamw *a, const char *path, struct err *e)
{
	size_t n = (size_t)a->n * 2;
	struct tensor_src *ts = calloc(n, sizeof *ts);
	char (*names)[96] = calloc(n, sizeof *names);
	if (!ts || !names) {
		free(ts);
		free(names);
		return err_set(e, ERR_NOMEM, "'%s': out of memory", path);
	}
	for (int i = 0; i < a->n; i++)
		for (int k = 0; k < 2; k++) {
			size_t j = (size_t)i * 2 + k;
			const struct model_param *p = &a->ps[i];
			snprintf(names[j], sizeof names[j], "%s.%s", p->name,
				 k ? "exp_avg_sq" : "exp_avg");
			ts[j].name = names[j];
			ts[j].dtype = DTYPE_F32;
			ts[j].src_dtype = DTYPE_F32;
			ts[j].src = k ? a->v[i] : a->m[i];
			ts[j].ndim = p->cols ? 2 : 1;
			ts[j].shape[0] = p->rows;
			ts[j].shape[1] = p->cols;
		}
	char step[32];
	snprintf(step, sizeof step, "%" PRIu64, a->t);
	const char *meta[2] = {"step", step};
	int rc = safetensors_write_meta(path, ts, n, meta, 1, NULL, e);
	free(ts);
	free(names);
	return rc;
}

int adamw_load(struct adamw *a, const char *path, struct err *e)
{
	struct file_map fm = {0};
	int rc = file_map_open(path, &fm, e);
	if (rc)
		return rc;
	struct tensor *ts = NULL;
	size_t nt = 0;
	char step[32], name[96];
	if ((rc = safetensors_parse(fm.data, (size_t)fm.size, path, &ts, &nt,
				    e)) ||
	    (rc = safetensors_metadata(fm.data, (size_t)fm.size, path, "step",
				       step, sizeof step, e)))
		goto out;
	char *end = NULL;
	errno = 0;
	unsigned long long t = strtoull(step, &end, 10);
	if (!step[0] || *end || step[0] == '-' || errno) {
		rc = err_set(e, ERR_FORMAT, "'%s': step '%s' is not a count",
			     path, step);
		goto out;
	}
	if (nt != (size_t)a->n * 2) {
		rc = err_set(e, ERR_FORMAT,
			     "'%s': %zu tensors, the optimizer has %d", path,
			     nt, a->n * 2);
		goto out;
	}
	/* Check every tensor before touching the moments. */
	const struct tensor **fp = malloc(nt * sizeof *fp);
	if (!fp) {
		rc = err_set(e, ERR_NOMEM, "'%s': out of memory", path);
		goto out;
	}
	for (int i = 0; i < a->n && !rc; i++)
		for (int k = 0; k < 2 && !rc; k++) {
			const struct model_param *p = &a->ps[i];
			snprintf(name, sizeof name, "%s.%s", p->name,
				 k ? "exp_avg_sq" : "exp_avg");
			const struct tensor *tt = NULL;
			for (size_t j = 0; j < nt && !tt; j++)
				if (strcmp(ts[j].name, name) == 0)
					tt = &ts[j];
			int nd = p->cols ? 2 : 1;
			if (!tt)
				rc = err_set(e, ERR_FORMAT,
					     "'%s': missing tensor '%s'", path,
					     name);
			else if (tt->dtype != DTYPE_F32 || tt->ndim != nd ||
				 tt->shape[0] != p->rows ||
				 (nd == 2 && tt->shape[1] != p->cols) ||
				 tt->numel != p->n)
				rc = err_set(e, ERR_FORMAT,
					     "'%s': tensor '%s' is not F32 of "
					     "the model's shape (%d x %d)",
					     path, name, p->rows, p->cols);
			fp[2 * i + k] = tt;
		}
	if (!rc) {
		for (int i = 0; i < a->n; i++) {
			/* the mapping may be unaligned for f32: memcpy */
			memcpy(a->m[i], fp[2 * i]->data,
			       (size_t)fp[2 * i]->nbytes);
			memcpy(a->v[i], fp[2 * i + 1]->data,
			       (size_t)fp[2 * i + 1]->nbytes);
		}
		a->t = t;
	}
	free(fp);
out:
	tensor_array_free(ts, nt);
	file_map_close(&fm);
	return rc;
}
