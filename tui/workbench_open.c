/* workbench_open — opening a source, its inputs, and freeing it all. See
 * workbench.h. */
#include "workbench_impl.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "measured.h"
#include "model.h"
#include "tokenizer.h"
#include "vocab.h"
#include "weights.h"

static struct workbench *wb_alloc(struct err *e)
{
	struct workbench *wb = calloc(1, sizeof *wb);
	if (!wb) {
		err_set(e, ERR_NOMEM, "workbench: out of memory");
		return NULL;
	}
	prune_plan_init(&wb->plan);
	/* Default assumption: the best published LB (the 40M's), so the
	 * projection starts at a figure someone actually reached. */
	wb->lb = 0.5326;
	wb->ref_zindi = 0.5061;
	wb->eval_ctx = 256;
	wb->eval_stride = 128;
	for (int s = 0; s < 2; s++)
		pthread_mutex_init(&wb->gen[s].lock, NULL);
	wb->heal_steps = 20;
	if (heal_monitor_init(&wb->heal_mon, e)) {
		free(wb);
		return NULL;
	}
	return wb;
}

/* The end of every open: snaps the (identity) plan, then hands wb over,
 * or frees it when anything failed (rc from the open so far). */
static int open_finish(struct workbench *wb, int rc, struct workbench **out,
		       struct err *e)
{
	if (!rc)
		rc = wb_set_plan(wb, &wb->plan, e);
	if (rc) {
		wb_free(wb);
		return rc;
	}
	*out = wb;
	return 0;
}

int wb_open_dir(const char *dir, struct workbench **out, struct err *e)
{
	*out = NULL;
	struct workbench *wb = wb_alloc(e);
	if (!wb)
		return ERR_NOMEM;
	int rc = config_load(dir, &wb->src, e);
	if (rc)
		goto done;
	char name[PATH_MAX];
	path_base_name(dir, name, sizeof name);
	if (!(wb->dir = strdup(dir)) || !(wb->name = strdup(name))) {
		rc = err_set(e, ERR_NOMEM, "workbench: out of memory");
		goto done;
	}
	struct measured ms;
	bool found = false;
	if (measured_load(dir, &ms, &found, NULL) == 0 && found) {
		wb->lb = ms.lb_tasks; /* definition (a), as the challenge wrote */
		wb->lb_measured = true;
		wb->measured_rows = ms.rows;
	}
	/* the weights' headers now: a damaged file is named at once, not
	 * when the first job fails */
	struct weights *w = NULL;
	struct err we = {0};
	int wrc = weights_open_dir(dir, &w, NULL, &we);
	weights_free(w);
	if (wrc == ERR_NOTFOUND && !strncmp(we.msg, "no weights", 10)) {
		wb->plan_only = true;
		snprintf(wb->plan_only_why, sizeof wb->plan_only_why,
			 "plan-only: '%s' has no weights", dir);
	} else if (wrc) {
		rc = err_set(e, wrc, "%s", we.msg);
		goto done;
	}
	struct err te = {0};
	if (tok_load(dir, &wb->tok, &te)) {
		wb->tok = NULL;
		snprintf(wb->tok_note, sizeof wb->tok_note, "%s", te.msg);
	}
done:
	return open_finish(wb, rc, out, e);
}

int wb_open_preset(const char *preset, const char *tokenizer_path,
		   struct workbench **out, struct err *e)
{
	*out = NULL;
	struct workbench *wb = wb_alloc(e);
	if (!wb)
		return ERR_NOMEM;
	int rc = plan_geometry_preset(preset, &wb->src, e);
	if (rc)
		goto done;
	if (!(wb->name = strdup(preset))) {
		rc = err_set(e, ERR_NOMEM, "workbench: out of memory");
		goto done;
	}
	wb->plan_only = true;
	snprintf(wb->plan_only_why, sizeof wb->plan_only_why,
		 "plan-only: '%s' is a built-in geometry with no weights",
		 preset);
	if (tokenizer_path) {
		if ((rc = tok_load(tokenizer_path, &wb->tok, e)))
			goto done;
		if (tok_vocab_size(wb->tok) != wb->src.vocab_size) {
			rc = err_set(e, ERR_INVALID,
				     "tokenizer '%s' has %d pieces, the model %d",
				     tokenizer_path, tok_vocab_size(wb->tok),
				     wb->src.vocab_size);
			goto done;
		}
	} else {
		snprintf(wb->tok_note, sizeof wb->tok_note,
			 "no tokenizer given (--tokenizer FILE)");
	}
done:
	return open_finish(wb, rc, out, e);
}

void wb_free_strings(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int wb_set_inputs(struct workbench *wb, const char *const *corpus, int n,
		  const char *heldout, struct err *e)
{
	if (wb->task_kind != WB_TASK_NONE) /* a task may be reading them */
		return err_set(e, ERR_INVALID, "a task is running");
	char **c = n > 0 ? calloc((size_t)n, sizeof *c) : NULL;
	char *h = heldout ? strdup(heldout) : NULL;
	bool oom = (n > 0 && !c) || (heldout && !h);
	for (int i = 0; i < n && !oom; i++)
		oom = !(c[i] = strdup(corpus[i]));
	if (oom) {
		wb_free_strings(c, n);
		free(h);
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	}
	bool same = n == wb->n_corpus;
	for (int i = 0; same && i < n; i++)
		same = !strcmp(c[i], wb->corpus[i]);
	if (!same) { /* what was counted on the old corpus is stale */
		vocab_counts_free(wb->counts);
		wb->counts = NULL;
		wb_preview_free(wb->preview);
		wb->preview = NULL;
		wb->tpw_source = 0;
		wb_free_strings(wb->samples, wb->n_samples);
		wb->samples = NULL;
		wb->n_samples = 0;
	}
	wb_free_strings(wb->corpus, wb->n_corpus);
	free(wb->heldout);
	wb->corpus = c;
	wb->n_corpus = n;
	wb->heldout = h;
	return 0;
}

int wb_load_model(struct workbench *wb, const struct progress *prog,
		  struct err *e)
{
	if (wb->model)
		return 0;
	if (wb->plan_only)
		return err_set(e, ERR_INVALID, "%s", wb->plan_only_why);
	return model_load(wb->dir, &wb->model, prog, e);
}

void wb_free(struct workbench *wb)
{
	if (!wb)
		return;
	for (int s = 0; s < 2; s++) {
		job_destroy(&wb->gen[s].job);
		free(wb->gen[s].text);
		free(wb->gen[s].view);
		free(wb->gen[s].prompt);
		pthread_mutex_destroy(&wb->gen[s].lock);
	}
	if (wb->task_kind != WB_TASK_NONE) {
		job_cancel(&wb->task);
		job_wait(&wb->task, NULL);
		wb_task_free(wb->task_result);
	}
	job_destroy(&wb->task);
	for (int i = 0; i < wb->n_quality; i++)
		free(wb->quality[i].plan_key);
	free(wb->quality);
	wb_preview_free(wb->preview);
	wb_free_strings(wb->samples, wb->n_samples);
	free(wb->exported.recipe_json);
	model_free(wb->pruned);
	model_free(wb->cut);
	free(wb->healed_key);
	heal_monitor_destroy(&wb->heal_mon);
	history_free(wb->history);
	free(wb->history);
	free(wb->history_front);
	tok_free(wb->pruned_tok);
	vocab_keep_free(wb->keep);
	vocab_counts_free(wb->counts);
	free(wb->applied_key);
	model_free(wb->model);
	tok_free(wb->tok);
	prune_plan_free(&wb->plan);
	config_free(&wb->src);
	wb_free_strings(wb->corpus, wb->n_corpus);
	free(wb->heldout);
	free(wb->dir);
	free(wb->name);
	free(wb);
}
