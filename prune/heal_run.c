#include "heal_impl.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "adamw.h"
#include "distill.h"
#include "eval.h"
#include "fileio.h"
#include "forward.h"
#include "heal_data.h"
#include "tokenizer.h"
#include "train.h"

/* ------------------------------------------------------------------ */
/* defaults, schedule                                                  */

void heal_defaults(struct heal_opts *o)
{
	memset(o, 0, sizeof *o);
	struct recipe_heal *h = &o->hp;
	h->batch = 16;
	h->ctx = 128;
	h->warmup = -1; /* 5% of the steps, 1..100 */
	h->lr = 1e-3;
	h->min_lr_ratio = 0.1;
	h->beta1 = 0.9;
	h->beta2 = 0.95;
	h->eps = 1e-8;
	h->weight_decay = 0.01;
	h->clip = 1.0;
	h->temperature = 1.0;
	h->kd_weight = 1.0;
	h->seed = 1;
	h->pool = 4096;
	o->xo.formats = EXPORT_HF;
	o->xo.dtype = DTYPE_F32;
}

double heal_lr(const struct recipe_heal *h, uint64_t s)
{
	uint64_t W = h->warmup > 0 ? (uint64_t)h->warmup : 0, N = h->steps;
	if (s <= W)
		return h->lr * (double)s / (double)W;
	if (N <= W)
		return h->lr;
	double p = (double)(s - W) / (double)(N - W);
	if (p > 1)
		p = 1;
	double r = h->min_lr_ratio;
	return h->lr * (r + (1 - r) * 0.5 * (1 + cos(M_PI * p)));
}

static int check_data(const struct heal_ctx *r, const struct heal_data *d,
		      struct err *e)
{
	int n = d ? d->n_files : 0;
	if (n != r->hp.n_data)
		return err_set(e, ERR_INVALID,
			       "'%s' was healed on %d corpus files, %d given",
			       r->out, r->hp.n_data, n);
	for (int i = 0; i < n; i++)
		if (strcmp(d->files[i].checksum, r->hp.data[i].checksum))
			return err_set(e, ERR_INVALID,
				       "corpus file %d ('%s') has checksum %s; "
				       "'%s' was healed on '%s' with %s",
				       i + 1, d->files[i].name,
				       d->files[i].checksum, r->out,
				       r->hp.data[i].name,
				       r->hp.data[i].checksum);
	return 0;
}

static int run_eval(struct heal_ctx *r, uint64_t step,
		    const struct progress *prog,
		    struct heal_eval *out, struct err *e)
{
	const struct heal_opts *o = r->o;
	struct eval_opts eo;
	eval_defaults(&eo);
	int C = o->eval_ctx > 0 ? o->eval_ctx : 512;
	int mp = r->student->cfg.max_position_embeddings;
	if (r->view && r->view->cfg.max_position_embeddings < mp)
		mp = r->view->cfg.max_position_embeddings;
	if (C > mp)
		C = mp;
	if ((size_t)C > r->n_held)
		C = (int)r->n_held;
	eo.ctx = C;
	eo.stride = C / 2 > 0 ? C / 2 : 1;
	eo.text_bytes = r->held_bytes;
	eo.prog = prog;
	heal_mon_phase(o->monitor, "evaluating", -1);
	struct eval_result er;
	int rc = eval_run(r->student, r->view, r->held, r->n_held, &eo, &er,
			  e);
	if (rc)
		return rc;
	memset(out, 0, sizeof *out);
	out->step = step;
	out->bpb = er.bpb;
	out->nll = er.nll_mean;
	out->has_ref = er.has_ref;
	out->kl = er.kl_mean;
	out->top1 = er.top1;
	heal_mon_eval(o->monitor, out);
	return 0;
}

/* The teacher's logits on the batch, one sequence at a time. */
static int teacher_logits(struct heal_ctx *r, int B, int T, struct err *e)
{
	size_t V = (size_t)r->view->cfg.vocab_size;
	for (int b = 0; b < B; b++) {
		fwd_reset(r->tf);
		int rc = fwd_run(r->tf, r->tokens + (size_t)b * T, T,
				 r->tlogits + (size_t)b * T * V, e);
		if (rc)
			return rc;
	}
	return 0;
}

/* distill_loss is serial; with two or more BLAS threads heal splits the
 * rows in two halves on two threads and recombines them. Each half's
 * gradient is scaled from its own row count to the whole block's, so the
 * result is the whole block's loss to float rounding, and deterministic
 * for a given thread count. */
struct half {
	const float *s, *t;
	const int *y;
	size_t n;
	int V;
	const struct distill_opts *o;
	float *dl;
	struct distill_stats st;
	struct err e;
	int rc;
};

static void *half_main(void *arg)
{
	struct half *h = arg;
	h->rc = distill_loss(h->s, h->t, h->y, h->n, h->V, h->o, h->dl, &h->st,
			     &h->e);
	return NULL;
}

static int distill_split(const float *s, const float *t, const int *y,
			 size_t n, int V, const struct distill_opts *o,
			 float *dl, struct distill_stats *st, struct err *e)
{
	if (openblas_get_num_threads() < 2 || n < 64)
		return distill_loss(s, t, y, n, V, o, dl, st, e);
	size_t m = n / 2, Vz = (size_t)V;
	struct half h[2];
	memset(h, 0, sizeof h);
	h[0].s = s;
	h[0].t = t;
	h[0].y = y;
	h[0].n = m;
	h[0].dl = dl;
	h[1].s = s + m * Vz;
	h[1].t = t ? t + m * Vz : NULL;
	h[1].y = y + m;
	h[1].n = n - m;
	h[1].dl = dl + m * Vz;
	h[0].V = h[1].V = V;
	h[0].o = h[1].o = o;
	pthread_t th;
	bool threaded = pthread_create(&th, NULL, half_main, &h[1]) == 0;
	half_main(&h[0]);
	if (threaded)
		pthread_join(th, NULL);
	else
		half_main(&h[1]);
	for (int i = 0; i < 2; i++)
		if (h[i].rc) {
			if (e)
				*e = h[i].e;
			return h[i].rc;
		}
	size_t na = h[0].st.n_scored, nb = h[1].st.n_scored, nt = na + nb;
	memset(st, 0, sizeof *st);
	st->n_scored = nt;
	if (!nt)
		return 0;
	for (int i = 0; i < 2; i++) {
		float f = (float)((double)h[i].st.n_scored / (double)nt);
		size_t len = h[i].n * Vz;
		if (f != 1.0f)
			for (size_t k = 0; k < len; k++)
				h[i].dl[k] *= f;
	}
	double fa = (double)na / nt, fb = (double)nb / nt;
	st->kl = fa * h[0].st.kl + fb * h[1].st.kl;
	st->ce = fa * h[0].st.ce + fb * h[1].st.ce;
	st->top1 = fa * h[0].st.top1 + fb * h[1].st.top1;
	st->loss = o->kd_weight * o->temperature * o->temperature * st->kl +
		   (1 - o->kd_weight) * st->ce;
	return 0;
}

/* Forward + backward of one batch (already in r->tokens); grads zeroed
 * first. */
static int fwd_bwd(struct heal_ctx *r, struct distill_stats *st, struct err *e)
{
	int B = r->hp.batch, T = r->hp.ctx, V = r->student->cfg.vocab_size;
	bool kd = r->hp.kd_weight > 0;
	int rc;
	if (kd && (rc = teacher_logits(r, B, T, e)))
		return rc;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			r->targets[(size_t)b * T + t] =
			    t + 1 < T ? r->tokens[(size_t)b * T + t + 1] : -1;
	const float *logits;
	if ((rc = train_forward(r->ts, r->tokens, B, T, &logits, e)))
		return rc;
	struct distill_opts dopt = {r->hp.temperature, r->hp.kd_weight};
	if ((rc = distill_split(logits, kd ? r->tlogits : NULL, r->targets,
				(size_t)B * T, V, &dopt, r->dlogits, st, e)))
		return rc;
	train_zero_grads(r->grads);
	return train_backward(r->ts, r->dlogits, r->grads, e);
}

static void run_free(struct heal_ctx *r)
{
	train_free(r->ts);
	fwd_free(r->tf);
	adamw_free(r->opt);
	heal_data_free(r->data);
	model_free(r->grads);
	model_free(r->student);
	model_free(r->view);
	model_free(r->loaded);
	free(r->tokens);
	free(r->targets);
	free(r->tlogits);
	free(r->dlogits);
	free(r->held);
	free(r->log);
	if (r->own_rec)
		recipe_free(&r->rec);
}

static int encode_heldout(struct heal_ctx *r, struct err *e)
{
	const struct heal_opts *o = r->o;
	for (int i = 0; i < o->n_heldout; i++) {
		char *text;
		size_t len, k;
		int *v, rc;
		if ((rc = file_read_all(o->heldout[i], HEAL_TEXT_MAX, &text, &len,
					e)))
			return rc;
		rc = eval_encode_lines(o->student_tok, text, len, &v, &k, e);
		free(text);
		if (rc)
			return err_wrap(e, "'%s'", o->heldout[i]);
		int *na = realloc(r->held, (r->n_held + k + 1) * sizeof *na);
		if (!na) {
			free(v);
			return err_set(e, ERR_NOMEM, "heal: out of memory");
		}
		r->held = na;
		if (k)
			memcpy(r->held + r->n_held, v, k * sizeof *v);
		r->n_held += k;
		r->held_bytes += len;
		free(v);
	}
	if (o->n_heldout && r->n_held < 2)
		return err_set(e, ERR_INVALID,
			       "heal: the held-out text has fewer than 2 "
			       "tokens");
	return 0;
}

static int validate(const struct heal_opts *o, const struct recipe_heal *h,
		    struct err *e)
{
	if (!o->student || !o->student_tok)
		return err_set(e, ERR_INVALID, "heal: no student model");
	if (h->batch < 1 || h->ctx < 2)
		return err_set(e, ERR_INVALID,
			       "heal: batch %d and context %d: need batch >= 1 "
			       "and context >= 2",
			       h->batch, h->ctx);
	if (h->ctx > o->student->cfg.max_position_embeddings ||
	    (o->teacher &&
	     h->ctx > o->teacher->cfg.max_position_embeddings))
		return err_set(e, ERR_INVALID,
			       "heal: context %d exceeds the models' positions",
			       h->ctx);
	if (!(h->lr > 0) || !(h->temperature > 0) || h->kd_weight < 0 ||
	    h->kd_weight > 1 || h->min_lr_ratio < 0 || h->min_lr_ratio > 1 ||
	    h->beta1 < 0 || h->beta1 >= 1 || h->beta2 < 0 || h->beta2 >= 1 ||
	    h->weight_decay < 0 || h->clip < 0 || !(h->eps > 0))
		return err_set(e, ERR_INVALID,
			       "heal: a setting is out of range (lr %g, "
			       "temperature %g, kd weight %g, betas %g/%g, "
			       "weight decay %g, clip %g, eps %g)",
			       h->lr, h->temperature, h->kd_weight, h->beta1,
			       h->beta2, h->weight_decay, h->clip, h->eps);
	if (h->kd_weight > 0 && !o->teacher)
		return err_set(e, ERR_INVALID,
			       "heal: distillation (kd weight %g) needs a "
			       "teacher; plain fine-tuning is kd weight 0",
			       h->kd_weight);
	if (!o->n_corpus && !o->teacher)
		return err_set(e, ERR_INVALID,
			       "heal: no corpus and no teacher: data-free "
			       "distillation samples from the teacher");
	if (o->n_corpus > RECIPE_HEAL_MAX_DATA)
		return err_set(e, ERR_INVALID,
			       "heal: %d corpus files (at most %d)",
			       o->n_corpus, RECIPE_HEAL_MAX_DATA);
	if (o->teacher) {
		int tv = o->teacher->cfg.vocab_size;
		int sv = o->student->cfg.vocab_size;
		if (!o->vocab_keep && tv != sv)
			return err_set(e, ERR_INVALID,
				       "heal: the teacher's vocabulary (%d) "
				       "differs from the student's (%d) and "
				       "no vocabulary map was given",
				       tv, sv);
		if (o->teacher->cfg.hidden_size <= 0)
			return err_set(e, ERR_INVALID, "heal: bad teacher");
	}
	return 0;
}

/* Steps for a minutes budget (see heal.h). */
static uint64_t plan_minutes(struct heal_ctx *r, double t_step, double t_eval,
			     double t_ckpt, double t_row)
{
	const struct heal_opts *o = r->o;
	double avail = o->minutes * 60 - heal_elapsed(r) - t_ckpt;
	double B = r->hp.batch, pool = r->data->pool;
	double steps = avail / t_step;
	for (int it = 0; it < 20 && steps > 0; it++) {
		double ev = o->n_heldout
				? (o->eval_every ? steps / (double)o->eval_every
						 : 10) *
				      t_eval
				: 0;
		double ck = t_ckpt * steps /
			    (double)(o->ckpt_every ? o->ckpt_every : 500);
		double sample = 0;
		if (pool > 0)
			sample = t_row * pool * (1 - exp(-steps * B / pool));
		double s = (avail - ev - ck - sample) / t_step;
		steps = 0.5 * (steps + s);
	}
	return steps < 1 ? 1 : (uint64_t)steps;
}

static int heal_body(struct heal_ctx *r, const struct progress *prog,
		     struct err *e)
{
	const struct heal_opts *o = r->o;
	int rc;
	uint64_t start = 0;
	bool done = false;

	if ((rc = heal_check_out(o, e)))
		return rc;
	if (heal_resolve_out(o->out_dir, r->out, sizeof r->out))
		return err_errno(e, ERR_IO, "cannot resolve '%s'", o->out_dir);
	snprintf(r->stage, sizeof r->stage, "%s.ckpt", r->out);
	if (o->threads > 0)
		openblas_set_num_threads(o->threads);
	r->hp = o->hp;

	if (o->resume) {
		if ((rc = heal_load_state(r, &start, &done, e)))
			return rc;
		/* the recorded thread count, unless told otherwise: the
		 * same count gives the same bytes */
		if (o->threads <= 0 && r->hp.threads > 0)
			openblas_set_num_threads(r->hp.threads);
		r->res.resumed_from = start;
		r->res.steps = r->hp.steps;
		r->res.step = start;
		r->res.hp = r->hp;
		r->have_ckpt = true;
		if (done)
			return 0;
	} else if (path_exists(r->out)) {
		if (!path_is_dir(r->out))
			return err_set(e, ERR_INVALID,
				       "'%s' exists and is not a directory",
				       o->out_dir);
		/* an empty OUT (or --force) is replaced by the first
		 * checkpoint */
		if (!o->force && path_dir_empty(r->out, NULL) != 1)
			return err_set(e, ERR_INVALID,
				       "'%s' exists and is not empty (--force "
				       "replaces it, --resume continues it)",
				       o->out_dir);
	}
	struct recipe_heal *h = &r->hp;
	if ((rc = validate(o, h, e)))
		return rc;
	int B = h->batch, T = h->ctx, V = o->student->cfg.vocab_size;

	/* the teacher view and the data */
	heal_mon_phase(o->monitor, "loading", 1);
	if (o->teacher &&
	    (rc = heal_teacher_view(o->teacher, o->vocab_keep,
				    o->vocab_keep ? V : 0, &r->view, e)))
		return rc;
	if (o->n_corpus) {
		rc = heal_data_corpus(o->student_tok, o->corpus, o->n_corpus,
				      h->whole_text, T, h->seed, &r->data,
				      prog, e);
		h->pool = 0;
	} else {
		int pool = h->pool > 0 ? h->pool : 4096;
		h->pool = pool;
		rc = heal_data_free_new(r->view, tok_bos_id(o->student_tok),
					pool, T, h->seed, &r->data, e);
	}
	if (rc)
		return rc;
	if (o->resume && (rc = check_data(r, r->data, e)))
		return rc;
	h->n_data = r->data->n_files;
	memcpy(h->data, r->data->files, sizeof h->data);
	if ((rc = encode_heldout(r, e)))
		return rc;

	/* the student, its gradients, the optimizer */
	if (o->resume) {
		if ((rc = model_load(r->out, &r->loaded, NULL, e)))
			return rc;
		if (!config_same_geometry(&r->loaded->cfg, &o->student->cfg))
			return err_set(e, ERR_INVALID,
				       "the checkpoint in '%s' does not have "
				       "the student's geometry",
				       r->out);
		rc = model_clone(r->loaded, &r->student, e);
		model_free(r->loaded);
		r->loaded = NULL;
	} else {
		rc = model_clone(o->student, &r->student, e);
	}
	if (rc || (rc = model_new(&r->student->cfg, &r->grads, e)) ||
	    (rc = adamw_new(r->student, &r->opt, e)) ||
	    (rc = train_new(r->student, B, T, &r->ts, e)))
		return rc;
	if (r->view && (rc = fwd_new(r->view, T, T, &r->tf, e)))
		return rc;
	if (o->resume) {
		char path[PATH_MAX + 64];
		snprintf(path, sizeof path, "%s/optimizer.safetensors",
			 r->out);
		if ((rc = adamw_load(r->opt, path, e)))
			return rc;
		if (adamw_steps(r->opt) != start)
			return err_set(e, ERR_FORMAT,
				       "'%s': %llu optimizer steps, but the "
				       "state says step %llu",
				       path,
				       (unsigned long long)adamw_steps(r->opt),
				       (unsigned long long)start);
	}
	size_t BT = (size_t)B * (size_t)T;
	r->tokens = malloc(BT * sizeof(int));
	r->targets = malloc(BT * sizeof(int));
	r->dlogits = malloc(BT * (size_t)V * sizeof(float));
	r->tlogits = r->view ? malloc(BT * (size_t)V * sizeof(float)) : NULL;
	if (!r->tokens || !r->targets || !r->dlogits ||
	    (r->view && !r->tlogits))
		return err_set(e, ERR_NOMEM,
			       "heal: out of memory for a batch of %d x %d",
			       B, T);
	h->threads = openblas_get_num_threads();

	/* a fresh run: step-0 evaluation, the horizon, the first checkpoint */
	struct heal_eval ev;
	if (!o->resume) {
		char line[512];
		int ne = 0;
		ne += (o->tokens > 0) + (o->minutes > 0) + (h->steps > 0);
		if (ne != 1)
			return err_set(e, ERR_INVALID,
				       "heal: give exactly one budget: steps, "
				       "tokens or minutes");
		if ((rc = heal_log_add(r, HEAL_LOG_HEADER, e)))
			return rc;
		double t_eval = 0;
		if (r->n_held) {
			double t = heal_now_s();
			if ((rc = run_eval(r, 0, prog, &ev, e)))
				return rc;
			t_eval = heal_now_s() - t;
			r->res.before = ev;
			r->res.have_before = true;
			snprintf(line, sizeof line,
				 "0\t0\t\t\t\t\t\t%.6f\t%s%.6f\t%s%.6f\t%.1f\n",
				 ev.bpb, "", ev.kl, "", ev.top1, heal_elapsed(r));
			if (!ev.has_ref)
				snprintf(line, sizeof line,
					 "0\t0\t\t\t\t\t\t%.6f\t\t\t%.1f\n",
					 ev.bpb, heal_elapsed(r));
			if ((rc = heal_log_add(r, line, e)))
				return rc;
		}
		if (o->tokens)
			h->steps = (o->tokens + BT - 1) / BT;
		if (o->minutes > 0) {
			/* two throw-away passes on step 0's batch: the second
			 * is timed; the weights are not touched */
			struct distill_stats st;
			heal_mon_phase(o->monitor, "measuring speed", -1);
			double t = heal_now_s();
			if ((rc = heal_data_batch(r->data, 0, B, r->tokens,
						  prog, e)))
				return rc;
			double t_row = (heal_now_s() - t) / B;
			if ((rc = fwd_bwd(r, &st, e)))
				return rc;
			t = heal_now_s();
			if ((rc = fwd_bwd(r, &st, e)))
				return rc;
			double t_step = heal_now_s() - t;
			train_clip_grads(r->grads, 0); /* the norm's cost */
			h->steps = plan_minutes(r, t_step, t_eval,
						t_step * 2, t_row);
		}
		if (h->warmup < 0) {
			uint64_t w = h->steps / 20;
			h->warmup = (int)(w < 1 ? 1 : w > 100 ? 100 : w);
		}
		r->res.steps = h->steps;
		if ((rc = heal_checkpoint(r, 0, false, e)))
			return rc;
	}
	r->res.hp = *h;

	/* the loop */
	uint64_t N = h->steps;
	uint64_t eval_every = o->eval_every ? o->eval_every
					    : (N / 10 ? N / 10 : 1);
	uint64_t ckpt_every = o->ckpt_every ? o->ckpt_every : 500;
	double t_loop = heal_now_s();
	heal_mon_phase(o->monitor, "training", -1);
	for (uint64_t s = start + 1; s <= N; s++) {
		struct distill_stats st;
		if ((rc = heal_data_batch(r->data, s - 1, B, r->tokens, prog,
					  e)) ||
		    (rc = fwd_bwd(r, &st, e)))
			goto stop;
		double gn = train_clip_grads(r->grads, h->clip);
		struct adamw_opts ao = {heal_lr(h, s), h->beta1, h->beta2,
					h->eps, h->weight_decay};
		if ((rc = adamw_step(r->opt, r->student, r->grads, &ao, e)))
			return rc;
		r->res.step = s;
		r->res.tokens = s * BT;
		r->res.loss = st.loss;

		struct heal_point p = {0};
		double dt = heal_now_s() - t_loop;
		p.step = s;
		p.steps = N;
		p.tokens = s * BT;
		p.lr = ao.lr;
		p.loss = st.loss;
		p.kl = st.kl;
		p.ce = st.ce;
		p.top1 = st.top1;
		p.grad_norm = gn;
		p.elapsed = heal_elapsed(r);
		p.tok_per_s = dt > 0 ? (double)((s - start) * BT) / dt : 0;
		p.eta = dt / (double)(s - start) * (double)(N - s);
		heal_mon_point(o->monitor, &p);

		char evs[128] = "\t\t";
		int cancelled = 0;
		if (r->n_held && (s % eval_every == 0 || s == N)) {
			rc = run_eval(r, s, prog, &ev, e);
			if (rc == ERR_CANCELLED)
				cancelled = 1; /* log the step, then stop */
			else if (rc)
				return rc;
		}
		if (r->n_held && !cancelled &&
		    (s % eval_every == 0 || s == N)) {
			r->res.after = ev;
			r->res.have_after = true;
			if (ev.has_ref)
				snprintf(evs, sizeof evs, "%.6f\t%.6f\t%.6f",
					 ev.bpb, ev.kl, ev.top1);
			else
				snprintf(evs, sizeof evs, "%.6f\t\t", ev.bpb);
			heal_mon_phase(o->monitor, "training", -1);
		}
		char line[512];
		snprintf(line, sizeof line,
			 "%llu\t%llu\t%.6e\t%.6f\t%.6f\t%.6f\t%.6f\t%s\t%.1f\n",
			 (unsigned long long)s, (unsigned long long)(s * BT),
			 ao.lr, st.loss, st.kl, st.ce, gn, evs, heal_elapsed(r));
		if ((rc = heal_log_line(r, line, e)))
			return rc;
		if (cancelled) {
			rc = ERR_CANCELLED;
			goto stop;
		}
		if (s < N && s % ckpt_every == 0 &&
		    (rc = heal_checkpoint(r, s, false, e)))
			return rc;
		if (s < N && (rc = progress_report(prog, (double)s / N,
						   "healing", e)))
			goto stop;
	}
	r->res.elapsed = heal_now_s() - r->t0;
	return heal_checkpoint(r, N, true, e);

stop:
	if (rc == ERR_CANCELLED && r->have_ckpt) {
		struct err e2 = {0};
		uint64_t at = r->res.step;
		int rc2 = heal_checkpoint(r, at, false, &e2);
		if (rc2)
			return err_set(e, rc2,
				       "heal: cancelled at step %llu, and the "
				       "checkpoint failed: %s",
				       (unsigned long long)at, e2.msg);
		return err_set(e, ERR_CANCELLED,
			       "heal: cancelled after step %llu of %llu; "
			       "checkpoint in '%s' (resume continues it)",
			       (unsigned long long)at, (unsigned long long)N,
			       o->out_dir);
	}
	return rc;
}

int heal_run(const struct heal_opts *o, const struct progress *prog,
	     struct heal_result *res, struct err *e)
{
	struct heal_ctx r;
	memset(&r, 0, sizeof r);
	r.o = o;
	r.t0 = heal_now_s();
	if (o->xo.recipe) {
		r.rec = *o->xo.recipe; /* shallow: only read, never freed */
	} else {
		recipe_init(&r.rec);
		r.own_rec = true;
	}
	int rc = heal_body(&r, prog, e);
	r.res.elapsed = heal_now_s() - r.t0;
	if (res)
		*res = r.res;
	heal_mon_phase(o->monitor, rc ? (rc == ERR_CANCELLED ? "stopped" : "failed")
				 : "done",
		  0);
	run_free(&r);
	return rc;
}

int heal_job_fn(void *arg, const struct progress *prog, struct err *e)
{
	struct heal_job *j = arg;
	return heal_run(&j->opts, prog, &j->result, e);
}
