/* workbench_history — the plans tried on this source (history.h): what a
 * task records, and the Plans screen's list. See workbench.h. */
#include "workbench_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recipe.h"

/* Records x's figures for the task's plan in the source's history
 * (history.h). A failure is remembered for the screen, never fatal: the
 * measurement stands. */
void wb_task_note(struct task_ctx *t, struct history_entry *x)
{
	struct workbench *wb = t->wb;
	if (!wb->dir)
		return;
	struct err he = {0};
	recipe_init(&x->recipe);
	x->params = t->params;
	if (prune_plan_copy(&x->recipe.plan, &t->plan, &he) ||
	    history_note(wb->dir, x, &he)) {
		t->hist_failed = true;
		snprintf(t->hist_error, sizeof t->hist_error, "%s", he.msg);
	}
	recipe_free(&x->recipe);
}

int wb_history(struct workbench *wb, enum history_sort by,
	       const struct history **out, const bool **front, struct err *e)
{
	if (!wb->history || wb->history_seen != wb->history_gen) {
		struct history *h = calloc(1, sizeof *h);
		if (!h)
			return err_set(e, ERR_NOMEM, "workbench: out of memory");
		int rc = wb->dir ? history_load(wb->dir, h, e) : 0;
		if (rc) {
			free(h);
			return rc;
		}
		history_free(wb->history);
		free(wb->history);
		wb->history = h;
		wb->history_seen = wb->history_gen;
	}
	history_sort(wb->history, by);
	bool *f = realloc(wb->history_front,
			  (size_t)(wb->history->n ? wb->history->n : 1) *
			      sizeof *f);
	if (!f)
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	wb->history_front = f;
	history_pareto(wb->history, f);
	*out = wb->history;
	if (front)
		*front = f;
	return 0;
}

int wb_history_load_plan(struct workbench *wb, int i, struct err *e)
{
	if (!wb->history || i < 0 || i >= wb->history->n)
		return err_set(e, ERR_INVALID, "no plan %d in the history",
			       i + 1);
	return wb_set_plan(wb, &wb->history->v[i].recipe.plan, e);
}

int wb_history_forget(struct workbench *wb, int i, struct err *e)
{
	if (!wb->history || i < 0 || i >= wb->history->n)
		return err_set(e, ERR_INVALID, "no plan %d in the history",
			       i + 1);
	history_remove(wb->history, i);
	return history_save(wb->history, e);
}
