/* workbench_gen — generating on either side of the Run screen, on its own
 * thread per side. See workbench.h. */
#include "workbench_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int gen_sink(void *ctx, const char *s, size_t n)
{
	struct wb_gen *g = ctx;
	pthread_mutex_lock(&g->lock);
	if (g->len + n + 1 > g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 1024;
		while (nc < g->len + n + 1)
			nc *= 2;
		char *nt = realloc(g->text, nc);
		if (!nt) {
			pthread_mutex_unlock(&g->lock);
			return 1;
		}
		g->text = nt;
		g->cap = nc;
	}
	memcpy(g->text + g->len, s, n);
	g->len += n;
	g->text[g->len] = '\0';
	if (!g->t_first)
		g->t_first = wb_now();
	g->tokens++;
	pthread_mutex_unlock(&g->lock);
	return 0;
}

/* Stops a generation when its job is cancelled: gen_run only checks its
 * sink's answer, so the sink asks the job. */
struct gen_task {
	struct wb_gen *g;
	const struct progress *prog;
};

static int gen_sink_job(void *ctx, const char *s, size_t n)
{
	struct gen_task *gt = ctx;
	if (progress_report(gt->prog, 0, "generating", NULL))
		return 1;
	return gen_sink(gt->g, s, n);
}

static int gen_fn(void *arg, const struct progress *prog, struct err *e)
{
	struct wb_gen *g = arg;
	struct gen_task gt = {g, prog};
	struct gen_stats st = {0};
	int rc = gen_run(g->model, g->tok, g->prompt, strlen(g->prompt),
			 &g->opts, gen_sink_job, &gt, &st, e);
	pthread_mutex_lock(&g->lock);
	g->stats = st;
	pthread_mutex_unlock(&g->lock);
	return rc;
}

int wb_gen_start(struct workbench *wb, enum wb_side side, const char *prompt,
		 const struct gen_opts *o, struct err *e)
{
	struct wb_gen *g = &wb->gen[side];
	const struct model *m = side == WB_ORIGINAL ? wb->model : wb->pruned;
	const struct tokenizer *t =
		side == WB_PRUNED && wb->pruned_tok ? wb->pruned_tok : wb->tok;
	if (!m)
		return err_set(e, ERR_INVALID,
			       side == WB_ORIGINAL ? "the model is not loaded"
						   : "the plan is not applied");
	if (!t)
		return err_set(e, ERR_INVALID, "no tokenizer: %s", wb->tok_note);
	wb_gen_stop(wb, side);
	char *p = strdup(prompt);
	if (!p)
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	pthread_mutex_lock(&g->lock);
	free(g->prompt);
	g->prompt = p;
	g->len = 0;
	if (g->text)
		g->text[0] = '\0';
	g->tokens = 0;
	g->t_start = wb_now();
	g->t_first = 0;
	memset(&g->stats, 0, sizeof g->stats);
	g->error[0] = '\0';
	g->model = m;
	g->tok = t;
	g->opts = *o;
	g->has_run = true;
	g->user_stopped = false;
	pthread_mutex_unlock(&g->lock);
	return job_start(&g->job, gen_fn, g, e);
}

void wb_gen_stop(struct workbench *wb, enum wb_side side)
{
	struct wb_gen *g = &wb->gen[side];
	bool running = job_poll(&g->job, NULL, NULL, 0) == JOB_RUNNING;
	job_cancel(&g->job);
	job_wait(&g->job, NULL);
	if (running) {
		pthread_mutex_lock(&g->lock);
		g->user_stopped = true;
		pthread_mutex_unlock(&g->lock);
	}
}

void wb_gen_clear(struct workbench *wb, enum wb_side side)
{
	struct wb_gen *g = &wb->gen[side];
	job_cancel(&g->job);
	job_wait(&g->job, NULL);
	pthread_mutex_lock(&g->lock);
	g->len = 0;
	if (g->text)
		g->text[0] = '\0';
	g->tokens = 0;
	g->t_first = 0;
	memset(&g->stats, 0, sizeof g->stats);
	g->error[0] = '\0';
	g->has_run = false;
	g->user_stopped = false;
	pthread_mutex_unlock(&g->lock);
}

void wb_gen_view(struct workbench *wb, enum wb_side side,
		 struct wb_gen_view *out)
{
	struct wb_gen *g = &wb->gen[side];
	memset(out, 0, sizeof *out);
	enum job_state st = job_poll(&g->job, NULL, NULL, 0);
	pthread_mutex_lock(&g->lock);
	if (g->len + 1 > g->view_cap) {
		char *nv = realloc(g->view, g->len + 1);
		if (nv) {
			g->view = nv;
			g->view_cap = g->len + 1;
		}
	}
	if (g->view && g->view_cap > g->len) {
		memcpy(g->view, g->text ? g->text : "", g->len);
		g->view[g->len] = '\0';
		out->text = g->view;
	} else {
		out->text = "";
	}
	bool running = st == JOB_RUNNING;
	/* the sink sees pieces of text; a token may decode to nothing yet
	 * (a partial UTF-8 byte, a special): once done, the real count */
	out->tokens = !running && g->has_run && g->stats.new_tokens > g->tokens
			      ? g->stats.new_tokens
			      : g->tokens;
	double end = running ? wb_now()
			     : g->t_start + g->stats.prompt_seconds +
				   g->stats.gen_seconds;
	out->seconds = g->t_first ? end - g->t_first : 0;
	if (!running && g->stats.gen_seconds > 0)
		out->tok_per_s = g->stats.new_tokens / g->stats.gen_seconds;
	else if (out->seconds > 0 && g->tokens > 1)
		out->tok_per_s = (g->tokens - 1) / out->seconds;
	out->running = running;
	out->done = g->has_run && !running;
	out->has_run = g->has_run;
	out->max_new = g->opts.max_new;
	if (!running && g->has_run) {
		out->stopped_eos = g->stats.hit_eos;
		out->stopped_user = g->user_stopped || g->stats.cancelled;
		out->stopped_length = !out->stopped_eos && !out->stopped_user &&
				      !g->error[0] &&
				      !g->stats.hit_newline;
		if (g->stats.max_new > 0)
			out->max_new = g->stats.max_new;
	}
	out->error = g->error[0] ? g->error : NULL;
	pthread_mutex_unlock(&g->lock);
}
