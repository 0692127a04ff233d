/* workbench_prepare — the prepare task: load the weights, count the
 * vocabulary, calibrate, apply the plan (apply.h). See workbench.h. */
#include "workbench_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "fileio.h"
#include "model.h"
#include "tokenizer.h"
#include "vocab.h"

/* The corpus files as one id sequence for calibration, each line a
 * document (eval_encode_lines), cut at max_tokens. */
int wb_encode_corpus(const struct tokenizer *tok, char *const *paths, int n,
		     size_t max_tokens, int **out, size_t *n_out, struct err *e)
{
	int *all = NULL;
	size_t len = 0;
	int rc = 0;
	for (int f = 0; f < n && len < max_tokens && !rc; f++) {
		char *text;
		size_t tl, ni;
		int *ids;
		if ((rc = file_read_all(paths[f], 256u << 20, &text, &tl, e)))
			break;
		rc = eval_encode_lines(tok, text, tl, &ids, &ni, e);
		free(text);
		if (rc)
			break;
		if (ni > max_tokens - len)
			ni = max_tokens - len;
		int *na = realloc(all, (len + ni + 1) * sizeof *na);
		if (!na)
			rc = err_set(e, ERR_NOMEM, "calibration: out of memory");
		else {
			all = na;
			memcpy(all + len, ids, ni * sizeof *ids);
			len += ni;
		}
		free(ids);
	}
	if (rc) {
		free(all);
		return rc;
	}
	*out = all;
	*n_out = len;
	return 0;
}

bool wb_plan_needs_vocab(const struct prune_plan *p)
{
	return p->vocab_mode != PLAN_VOCAB_NONE;
}

bool wb_plan_needs_calib(const struct prune_plan *p)
{
	return p->select == PLAN_SELECT_ACTIVATION ||
	       p->layer_mode == PLAN_LAYERS_RANK;
}

/* Makes the pruned copy of t->plan: the body of the prepare task. */
static int do_prepare(struct task_ctx *t, const struct progress *prog,
		      struct err *e)
{
	struct workbench *wb = t->wb;
	const struct model *src = wb->model;
	int rc;
	struct sub_progress sp = {prog, 0, 0.4};
	struct progress sub = {wb_sub_report, &sp};
	if (!src) {
		if ((rc = model_load(wb->dir, &t->model, &sub, e)))
			return rc;
		src = t->model;
	}
	const struct tokenizer *tok = wb->tok;
	struct apply_inputs in = {0};
	if (wb_plan_needs_vocab(&t->plan)) {
		if (!tok)
			return err_set(e, ERR_INVALID,
				       "cannot prune the vocabulary: %s",
				       wb->tok_note);
		if (wb->n_corpus == 0)
			return err_set(e, ERR_INVALID,
				       "cannot prune the vocabulary: no corpus "
				       "to count tokens on");
		const struct vocab_counts *counts = wb->counts;
		if (!counts) {
			sp.lo = 0.4;
			sp.hi = 0.6;
			if ((rc = vocab_count_files(tok,
						    (const char *const *)wb->corpus,
						    (size_t)wb->n_corpus, NULL,
						    &t->counts, &sub, e)))
				return rc;
			counts = t->counts;
		}
		if (t->plan.vocab_mode == PLAN_VOCAB_TOP_K)
			rc = vocab_keep_top_k(tok, counts, t->plan.vocab_keep,
					      t->plan.merge_closure, &t->keep, e);
		else if (t->plan.vocab_mode == PLAN_VOCAB_MIN_COUNT)
			rc = vocab_keep_min_count(tok, counts,
						  (uint64_t)t->plan.vocab_min_count,
						  t->plan.merge_closure, &t->keep,
						  e);
		else
			rc = err_set(e, ERR_UNSUPPORTED,
				     "the explorer applies top-K and min-count "
				     "vocabularies; use 'punguza prune' for a list");
		if (rc || (rc = vocab_rewrite(tok, t->keep, &t->pruned_tok, e)))
			return rc;
		in.vocab_keep = t->keep->keep;
		in.n_vocab_keep = t->keep->n_keep;
		in.vocab_tok = t->pruned_tok;
	}
	int *calib = NULL;
	size_t n_calib = 0;
	if (wb_plan_needs_calib(&t->plan)) {
		if (!tok || wb->n_corpus == 0)
			return err_set(e, ERR_INVALID,
				       "activation selection and layer ranking "
				       "need a tokenizer and calibration text");
		if ((rc = wb_encode_corpus(tok, wb->corpus, wb->n_corpus, 16384,
					   &calib, &n_calib, e)))
			return rc;
		in.calib = calib;
		in.n_calib = n_calib;
	}
	sp.lo = 0.6;
	sp.hi = 1.0;
	struct apply_report rep;
	struct tokenizer *out_tok = NULL;
	rc = prune_apply(src, tok, &t->plan, &in, &t->pruned, &out_tok, &rep,
			 &sub, e);
	free(calib);
	if (rc)
		return rc;
	if (out_tok) { /* apply made its own tokenizer: prefer it */
		tok_free(t->pruned_tok);
		t->pruned_tok = out_tok;
	}
	snprintf(t->desc, sizeof t->desc, "%s; %d layers kept",
		 rep.select_desc, rep.n_layers_kept);
	return 0;
}

static int prepare_fn(void *arg, const struct progress *prog, struct err *e)
{
	return do_prepare(arg, prog, e);
}

int wb_start_prepare(struct workbench *wb, struct err *e)
{
	if (wb_applied(wb))
		return 0;
	struct task_ctx *t;
	int rc = wb_task_begin(wb, WB_TASK_PREPARE, &t, e);
	if (rc)
		return rc;
	return wb_task_launch(wb, WB_TASK_PREPARE, t, prepare_fn, e);
}
