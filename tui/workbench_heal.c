/* workbench_heal — the heal task (heal.h) and the Heal screen's view.
 * See workbench.h. */
#include "workbench_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <sys/stat.h>

#include "export.h"
#include "fileio.h"
#include "model.h"
#include "vocab.h"

bool wb_healed(const struct workbench *wb)
{
	return wb->healed_key && wb->applied_key &&
	       !strcmp(wb->healed_key, wb->applied_key);
}

void wb_heal_dir(const struct workbench *wb, char *buf, size_t cap)
{
	char base[900];
	wb_default_export_dir(wb, base, sizeof base);
	char *k = wb_plan_key(wb);
	uint32_t h = 2166136261u; /* FNV-1a 32 of the plan */
	for (const char *c = k ? k : ""; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	free(k);
	snprintf(buf, cap, "%s-heal-%08x", base, (unsigned)h);
}

void wb_set_heal_budget(struct workbench *wb, uint64_t steps, double minutes)
{
	wb->heal_steps = steps;
	wb->heal_minutes = minutes > 0 ? minutes : 0;
}

/* Reads dir/heal_state.json's "done": 1 finished, 0 resumable, -1 none. */
static int heal_state(const char *dir)
{
	char path[1100], *text;
	size_t n;
	struct err e = {0};
	snprintf(path, sizeof path, "%s/heal_state.json", dir);
	if (file_read_all(path, 1u << 20, &text, &n, &e))
		return -1;
	int st = strstr(text, "\"done\": true") || strstr(text, "\"done\":true")
			 ? 1
			 : 0;
	free(text);
	return st;
}

static int heal_fn(void *arg, const struct progress *prog, struct err *e)
{
	struct task_ctx *t = arg;
	struct workbench *wb = t->wb;
	int rc;
	/* the original's held-out bits per byte, for the chart's line */
	if (wb->heldout && wb->tok) {
		int *ids = NULL;
		size_t n = 0;
		uint64_t bytes;
		double words;
		struct eval_opts o;
		eval_defaults(&o);
		o.ctx = wb->eval_ctx;
		o.stride = wb->eval_stride;
		struct eval_result r;
		if ((rc = wb_encode_file_lines(wb->tok, wb->heldout, &ids, &n,
					       &bytes, &words, e)))
			return rc;
		o.text_bytes = bytes;
		o.prog = prog;
		rc = eval_run(wb->model, NULL, ids, n, &o, &r, e);
		free(ids);
		if (rc)
			return rc;
		t->have_orig_bpb = true;
		t->orig_bpb = r.bpb;
	}
	rc = heal_job_fn(t->hj, prog, e);
	/* the cut's figures: the heal's step-0 evaluation, stopped or not */
	struct heal_snapshot *snap = malloc(sizeof *snap);
	if (snap) {
		heal_monitor_snapshot(t->hj->opts.monitor, snap);
		if (t->have_orig_bpb && snap->n_evals > 0 &&
		    snap->evals[0].step == 0) {
			struct history_entry x;
			memset(&x, 0, sizeof x);
			x.have_cut = true;
			x.bpb_src = t->orig_bpb;
			x.bpb_cut = snap->evals[0].bpb;
			x.have_cut_ref = snap->evals[0].has_ref;
			x.kl_cut = snap->evals[0].kl;
			x.top1_cut = snap->evals[0].top1;
			wb_task_note(t, &x);
		}
		free(snap);
	}
	if (rc)
		return rc;
	if ((rc = model_load(t->hj->opts.out_dir, &t->healed, NULL, e)))
		return rc;
	const struct heal_result *r = &t->hj->result;
	if (r->have_after) {
		struct history_entry x;
		memset(&x, 0, sizeof x);
		x.have_healed = true;
		x.bpb_healed = r->after.bpb;
		x.have_healed_ref = r->after.has_ref;
		x.kl_healed = r->after.kl;
		x.top1_healed = r->after.top1;
		x.heal_tokens = r->tokens;
		x.heal_seconds = r->elapsed;
		wb_task_note(t, &x);
	}
	return 0;
}

int wb_start_heal(struct workbench *wb, bool resume, struct err *e)
{
	if (!wb_applied(wb))
		return err_set(e, ERR_INVALID, "apply the plan first");
	if (!wb->model)
		return err_set(e, ERR_INVALID, "heal needs the source's weights");
	if (!resume && wb->heal_steps == 0 && wb->heal_minutes <= 0)
		return err_set(e, ERR_INVALID, "heal: give a budget");
	char dir[1024];
	wb_heal_dir(wb, dir, sizeof dir);
	if (resume && heal_state(dir) != 0)
		return err_set(e, ERR_INVALID,
			       "'%s' holds no unfinished heal to resume", dir);
	struct task_ctx *t;
	int rc = wb_task_begin(wb, WB_TASK_HEAL, &t, e);
	if (rc)
		return rc;
	if (!(t->hj = calloc(1, sizeof *t->hj))) {
		wb_task_free(t);
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	}
	/* the parent folder (punguza-exports) is made when missing */
	char parent[1024];
	snprintf(parent, sizeof parent, "%s", dir);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir(parent, 0777) && errno != EEXIST) {
			wb_task_free(t);
			return err_errno(e, ERR_IO, "cannot create '%s'", parent);
		}
	}
	snprintf(wb->heal_dir, sizeof wb->heal_dir, "%s", dir);
	struct heal_opts *o = &t->hj->opts;
	heal_defaults(o);
	if (wb->heal_minutes > 0)
		o->minutes = wb->heal_minutes;
	else
		o->hp.steps = wb->heal_steps;
	o->student = wb->cut ? wb->cut : wb->pruned;
	o->student_tok = wb->pruned_tok ? wb->pruned_tok : wb->tok;
	o->teacher = wb->model;
	o->vocab_keep = wb->pruned_tok && wb->keep ? wb->keep->keep : NULL;
	o->corpus = (const char *const *)wb->corpus;
	o->n_corpus = wb->n_corpus;
	o->heldout = (const char *const *)&wb->heldout;
	o->n_heldout = wb->heldout ? 1 : 0;
	o->eval_ctx = wb->eval_ctx;
	o->out_dir = wb->heal_dir;
	o->resume = resume;
	o->force = !resume;
	o->protect[0] = wb->dir;
	o->xo.src_dir = wb->dir;
	o->xo.formats = EXPORT_HF;
	o->xo.dtype = DTYPE_F32;
	o->xo.tok = o->student_tok;
	o->xo.src_tok = wb->pruned_tok ? wb->tok : NULL;
	o->xo.keep = wb->pruned_tok ? wb->keep : NULL;
	o->xo.name = wb->name;
	o->monitor = &wb->heal_mon;
	if (!resume) { /* a fresh chart */
		pthread_mutex_lock(&wb->heal_mon.lock);
		memset(&wb->heal_mon.s, 0, sizeof wb->heal_mon.s);
		pthread_mutex_unlock(&wb->heal_mon.lock);
	}
	return wb_task_launch(wb, WB_TASK_HEAL, t, heal_fn, e);
}

void wb_stop_heal(struct workbench *wb)
{
	if (wb->task_kind == WB_TASK_HEAL)
		job_cancel(&wb->task);
}

void wb_heal_view(struct workbench *wb, struct wb_heal_view *out)
{
	memset(out, 0, sizeof *out);
	out->running = wb->task_kind == WB_TASK_HEAL;
	out->healed = wb_healed(wb);
	if (wb->plan_only) {
		out->dir[0] = '\0';
	} else {
		wb_heal_dir(wb, out->dir, sizeof out->dir);
	}
	int st = out->dir[0] && !out->running ? heal_state(out->dir) : -1;
	out->resumable = st == 0;
	out->finished = st == 1;
	out->steps = wb->heal_steps;
	out->minutes = wb->heal_minutes;
	heal_monitor_snapshot(&wb->heal_mon, &out->snap);
	out->have_orig = wb->have_heal_orig;
	out->bpb_orig = wb->heal_orig_bpb;
	const struct wb_quality *q = wb_quality_current(wb);
	if (!out->have_orig && q) {
		out->have_orig = true;
		out->bpb_orig = q->orig.bpb;
	}
}
