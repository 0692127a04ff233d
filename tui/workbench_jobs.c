/* workbench_jobs — the one background task at a time: starting it,
 * its status, and adopting its results (wb_poll). See workbench_impl.h. */
#include "workbench_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "tokenizer.h"
#include "vocab.h"

double wb_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void wb_task_free(struct task_ctx *t)
{
	if (!t)
		return;
	prune_plan_free(&t->plan);
	free(t->key);
	model_free(t->model);
	vocab_counts_free(t->counts);
	vocab_keep_free(t->keep);
	tok_free(t->pruned_tok);
	model_free(t->pruned);
	free(t->q.plan_key);
	free(t->ex.recipe_json);
	free(t->hj);
	model_free(t->healed);
	free(t);
}

int wb_sub_report(void *ctx, double done, const char *stage)
{
	struct sub_progress *s = ctx;
	if (!s->outer || !s->outer->fn)
		return 0;
	return s->outer->fn(s->outer->ctx, s->lo + (s->hi - s->lo) * done,
			    stage);
}

int wb_task_begin(struct workbench *wb, enum wb_task kind,
		  struct task_ctx **out, struct err *e)
{
	if (wb->plan_only)
		return err_set(e, ERR_INVALID, "%s", wb->plan_only_why);
	if (wb->task_kind != WB_TASK_NONE)
		return err_set(e, ERR_INVALID, "another task is running");
	struct task_ctx *t = calloc(1, sizeof *t);
	if (!t)
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	t->wb = wb;
	if (prune_plan_copy(&t->plan, &wb->plan, e) ||
	    !(t->key = wb_plan_key(wb))) {
		wb_task_free(t);
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	}
	t->kind = kind;
	t->params = wb->est.dst.total;
	t->healed_side = wb_healed(wb);
	*out = t;
	return 0;
}

int wb_task_launch(struct workbench *wb, enum wb_task kind, struct task_ctx *t,
		   job_fn fn, struct err *e)
{
	int rc = job_start(&wb->task, fn, t, e);
	if (rc) {
		wb_task_free(t);
		return rc;
	}
	wb->task_kind = kind;
	wb->task_result = t;
	wb->task_error[0] = '\0';
	wb->last_kind = kind;
	wb->last_state = WB_JOB_RUNNING;
	wb->t_task_start = wb_now();
	wb->t_task_end = 0;
	return 0;
}

enum wb_task wb_task_status(struct workbench *wb, double *done, char *stage,
			    int cap)
{
	if (wb->task_kind == WB_TASK_NONE)
		return WB_TASK_NONE;
	job_poll(&wb->task, done, stage, cap);
	return wb->task_kind;
}

const char *wb_task_name(enum wb_task kind)
{
	switch (kind) {
	case WB_TASK_PREPARE: return "apply";
	case WB_TASK_QUALITY: return "measure";
	case WB_TASK_COUNT: return "count";
	case WB_TASK_EXPORT: return "export";
	case WB_TASK_HEAL: return "heal";
	case WB_TASK_NONE: break;
	}
	return "job";
}

void wb_job_info(struct workbench *wb, struct wb_job_info *out)
{
	memset(out, 0, sizeof *out);
	out->kind = wb->last_kind;
	out->state = wb->last_state;
	out->eta = -1;
	if (wb->last_state == WB_JOB_NONE)
		return;
	if (wb->task_kind != WB_TASK_NONE) {
		job_poll(&wb->task, &out->done, out->stage, sizeof out->stage);
		out->state = WB_JOB_RUNNING;
		out->elapsed = wb_now() - wb->t_task_start;
		/* a straight-line estimate, once there is something to go by */
		if (out->done >= 0.02 && out->done < 1 && out->elapsed >= 0.5)
			out->eta = out->elapsed * (1 - out->done) / out->done;
		return;
	}
	out->elapsed = wb->t_task_end - wb->t_task_start;
	if (wb->last_state == WB_JOB_FAILED)
		out->error = wb->task_error;
}

void wb_cancel_task(struct workbench *wb)
{
	if (wb->task_kind != WB_TASK_NONE)
		job_cancel(&wb->task);
}

static void adopt(struct workbench *wb, struct task_ctx *t)
{
	if (t->model) {
		wb->model = t->model;
		t->model = NULL;
	}
	if (t->counts && !wb->counts) {
		wb->counts = t->counts;
		t->counts = NULL;
	}
	if (t->pruned) {
		/* generations may be reading the old copy: stop them first */
		wb_gen_stop(wb, WB_PRUNED);
		model_free(wb->pruned);
		model_free(wb->cut);
		wb->cut = NULL;
		free(wb->healed_key);
		wb->healed_key = NULL;
		tok_free(wb->pruned_tok);
		vocab_keep_free(wb->keep);
		free(wb->applied_key);
		wb->pruned = t->pruned;
		wb->pruned_tok = t->pruned_tok;
		wb->keep = t->keep;
		wb->applied_key = t->key;
		t->pruned = NULL;
		t->pruned_tok = NULL;
		t->keep = NULL;
		t->key = NULL;
		snprintf(wb->apply_desc, sizeof wb->apply_desc, "%s", t->desc);
	}
	if (t->healed && wb->applied_key && !strcmp(t->key, wb->applied_key)) {
		/* the healed model becomes the pruned side; the cut stays */
		wb_gen_stop(wb, WB_PRUNED);
		if (wb->cut)
			model_free(wb->pruned);
		else
			wb->cut = wb->pruned;
		wb->pruned = t->healed;
		t->healed = NULL;
		free(wb->healed_key);
		wb->healed_key = strdup(wb->applied_key);
		wb->healed_tokens = t->hj->result.tokens;
		wb->healed_seconds = t->hj->result.elapsed;
	}
	if (t->ex.done) {
		free(wb->exported.recipe_json);
		wb->exported = t->ex;
		t->ex.recipe_json = NULL;
	}
	if (t->have_q) {
		struct wb_quality *nq = realloc(
			wb->quality, (size_t)(wb->n_quality + 1) * sizeof *nq);
		if (nq) {
			wb->quality = nq;
			t->q.plan_key = t->key;
			t->key = NULL;
			wb->quality[wb->n_quality++] = t->q;
			t->q.plan_key = NULL;
		}
	}
}

bool wb_poll(struct workbench *wb)
{
	bool changed = false;
	if (wb->task_kind != WB_TASK_NONE &&
	    job_poll(&wb->task, NULL, NULL, 0) == JOB_DONE) {
		struct err e = {0};
		int rc = job_wait(&wb->task, &e);
		struct task_ctx *t = wb->task_result;
		wb->t_task_end = wb_now();
		if (rc == ERR_CANCELLED || (rc && e.code == ERR_CANCELLED)) {
			wb->last_state = WB_JOB_CANCELLED;
		} else if (rc) {
			wb->last_state = WB_JOB_FAILED;
			snprintf(wb->task_error, sizeof wb->task_error, "%s",
				 e.msg);
		} else {
			wb->last_state = WB_JOB_DONE;
			adopt(wb, t);
		}
		if (t->have_orig_bpb) {
			wb->have_heal_orig = true;
			wb->heal_orig_bpb = t->orig_bpb;
		}
		if (t->kind == WB_TASK_QUALITY || t->kind == WB_TASK_HEAL) {
			wb->history_gen++;
			wb->history_failed = t->hist_failed;
			snprintf(wb->history_error, sizeof wb->history_error,
				 "%s", t->hist_error);
		}
		wb_task_free(t);
		wb->task_result = NULL;
		wb->task_kind = WB_TASK_NONE;
		changed = true;
	}
	for (int s = 0; s < 2; s++) {
		struct wb_gen *g = &wb->gen[s];
		if (job_poll(&g->job, NULL, NULL, 0) == JOB_RUNNING)
			changed = true; /* streaming text: keep redrawing */
		else if (job_poll(&g->job, NULL, NULL, 0) == JOB_DONE) {
			struct err e = {0};
			if (job_wait(&g->job, &e) && e.code != ERR_CANCELLED) {
				pthread_mutex_lock(&g->lock);
				snprintf(g->error, sizeof g->error, "%s", e.msg);
				pthread_mutex_unlock(&g->lock);
			}
			changed = true;
		}
	}
	return changed;
}
