/* tasks_runner — options, the runner and its shared steps, running rows
 * (see tasks.h; the strategies are in tasks_labels.c, tasks_generate.c
 * and tasks_beam.c). */
#include "tasks_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forward.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void tasks_defaults(struct tasks_opts *o)
{
	memset(o, 0, sizeof *o);
	o->generate = false;
	sampler_defaults(&o->sampler);
	o->cls_max_new = 20;
	o->beams = 1;
	o->mt_max_new = 100;
}

int tasks_opts_check(const struct tasks_opts *o, struct err *e)
{
	if (o->beams < 1 || o->beams > 64)
		return err_set(e, ERR_INVALID, "beams %d: expected 1..64",
			       o->beams);
	if (o->mt_max_new < 1 || o->cls_max_new < 1)
		return err_set(e, ERR_INVALID,
			       "the most new tokens must be at least 1");
	return sampler_opts_check(&o->sampler, e);
}

void tasks_runner_free(struct tasks_runner *r)
{
	if (!r)
		return;
	for (int i = 0; r->fs && i < r->o.beams; i++) {
		fwd_free(r->fs[i]);
		free(r->held[i].ids);
	}
	free(r->fs);
	free(r->held);
	free(r->lp0);
	free(r->all);
	free(r->beam_lp);
	free(r);
}

int tasks_runner_new(const struct model *m, const struct tokenizer *t,
		     const struct tasks_opts *o, struct tasks_runner **out,
		     struct err *e)
{
	*out = NULL;
	int rc = tasks_opts_check(o, e);
	if (rc)
		return rc;
	if (tok_vocab_size(t) > m->cfg.vocab_size)
		return err_set(e, ERR_INVALID,
			       "the tokenizer has %d ids but the model only %d",
			       tok_vocab_size(t), m->cfg.vocab_size);
	struct tasks_runner *r = calloc(1, sizeof *r);
	if (!r)
		return err_set(e, ERR_NOMEM, "out of memory");
	r->m = m;
	r->t = t;
	r->o = *o;
	r->ctx = m->cfg.max_position_embeddings;
	r->V = m->cfg.vocab_size;
	r->fs = calloc((size_t)o->beams, sizeof *r->fs);
	r->held = calloc((size_t)o->beams, sizeof *r->held);
	r->lp0 = malloc((size_t)r->V * sizeof *r->lp0);
	r->beam_lp = o->beams > 1
			 ? malloc((size_t)o->beams * r->V * sizeof *r->beam_lp)
			 : NULL;
	if (!r->fs || !r->held || !r->lp0 || (o->beams > 1 && !r->beam_lp))
		goto nomem;
	for (int i = 0; i < o->beams; i++) {
		r->held[i].n = -1;
		if (o->beams > 1 &&
		    !(r->held[i].ids =
			  malloc(((size_t)o->mt_max_new + 1) * sizeof(int))))
			goto nomem;
	}
	/* The caches are made on first use (tasks_ensure_state). */
	*out = r;
	return 0;
nomem:
	rc = err_set(e, ERR_NOMEM, "out of memory");
	tasks_runner_free(r);
	return rc;
}

/* Cache i holds at least `need` positions (grown in steps of 256, capped
 * at the context): a short-prompt run on a 2048-position model does not
 * pay for the whole context. Growing forgets the cache's contents. */
double tasks_log_norm(const float *logits, int V, float *mx)
{
	float m = logits[0];
	for (int i = 1; i < V; i++)
		if (logits[i] > m)
			m = logits[i];
	double s = 0;
	for (int i = 0; i < V; i++)
		s += exp((double)logits[i] - m);
	*mx = m;
	return log(s);
}

int tasks_ensure_state(struct tasks_runner *r, int i, int need, struct err *e)
{
	if (r->fs[i] && r->fs[i]->max_pos >= need)
		return 0;
	int cap = (need + 255) / 256 * 256;
	if (cap > r->ctx)
		cap = r->ctx;
	fwd_free(r->fs[i]);
	r->fs[i] = NULL;
	r->held[i].n = -1;
	return fwd_new(r->m, cap, 0, &r->fs[i], e);
}

/* Drops tokens after the first so that n + room <= ctx; returns how many
 * (or -1 when even BOS + room does not fit). */
int tasks_fit_left(int *ids, size_t *n, int room, int ctx)
{
	if ((long)*n + room <= ctx)
		return 0;
	long drop = (long)*n + room - ctx;
	if (drop > (long)*n - 1)
		return -1;
	memmove(ids + 1, ids + 1 + drop, (*n - 1 - (size_t)drop) * sizeof *ids);
	*n -= (size_t)drop;
	return (int)drop;
}

int tasks_encode_prompt(const struct tasks_runner *r,
			const struct tasks_row *row, const char *extra,
			int **ids, size_t *n, struct err *e)
{
	char *p = NULL;
	int rc = tasks_prompt(row->instruction, row->input, &p, e);
	if (rc)
		return rc;
	if (extra) {
		size_t a = strlen(p), b = strlen(extra);
		char *q = realloc(p, a + b + 1);
		if (!q) {
			free(p);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
		p = q;
		memcpy(p + a, extra, b + 1);
	}
	/* BOS as the template has it, never a template's trailing EOS. */
	int *raw = NULL;
	size_t nr = 0;
	rc = tok_encode(r->t, p, strlen(p), false, &raw, &nr, e);
	free(p);
	if (rc)
		return rc;
	int bos = tok_add_bos(r->t) ? tok_bos_id(r->t) : -1;
	int *v = malloc((nr + 1) * sizeof *v);
	if (!v) {
		free(raw);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	size_t k = 0;
	if (bos >= 0)
		v[k++] = bos;
	memcpy(v + k, raw, nr * sizeof *v);
	free(raw);
	*ids = v;
	*n = k + nr;
	return 0;
}

int tasks_run_row(struct tasks_runner *r, const struct tasks_row *row,
		  struct tasks_result *out, struct err *e)
{
	double t0 = now();
	memset(out, 0, sizeof *out);
	out->choice = -1;
	int rc;
	if (row->task == SCORE_MT)
		rc = r->o.beams > 1 ? tasks_run_beams(r, row, out, e)
				    : tasks_run_generate(r, row, out, e);
	else if (r->o.generate)
		rc = tasks_run_generate(r, row, out, e);
	else
		rc = tasks_run_labels(r, row, out, e);
	out->seconds = now() - t0;
	if (rc) {
		free(out->response);
		out->response = NULL;
		err_wrap(e, "row '%s'", row->id);
	}
	return rc;
}

int tasks_run(const struct model *m, const struct tokenizer *t,
	      const struct tasks_data *d, const struct tasks_opts *o,
	      const struct progress *prog, struct tasks_result *results,
	      struct err *e)
{
	struct tasks_runner *r = NULL;
	int rc = tasks_runner_new(m, t, o, &r, e);
	if (rc)
		return rc;
	int done = 0;
	for (int i = 0; i < d->n; i++)
		done += results[i].response != NULL;
	for (int i = 0; i < d->n && !rc; i++) {
		if (results[i].response)
			continue;
		if ((rc = tasks_run_row(r, &d->rows[i], &results[i], e)))
			break;
		done++;
		rc = progress_report(prog, d->n ? (double)done / d->n : 1,
				     "running tasks", e);
	}
	tasks_runner_free(r);
	return rc;
}

void tasks_results_free(struct tasks_result *res, int n)
{
	for (int i = 0; res && i < n; i++) {
		free(res[i].response);
		res[i].response = NULL;
	}
}
