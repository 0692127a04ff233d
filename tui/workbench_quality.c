/* workbench_quality — the quality task: held-out figures of the original
 * and the pruned side, and the source's layer scores. See workbench.h. */
#include "workbench_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "fileio.h"
#include "recipe.h"

static double count_words(const char *s, size_t n)
{
	double w = 0;
	bool in = false;
	for (size_t i = 0; i < n; i++) {
		bool sp = s[i] == ' ' || s[i] == '\n' || s[i] == '\t' ||
			  s[i] == '\r';
		if (!sp && !in)
			w++;
		in = !sp;
	}
	return w;
}

/* Encodes a held-out file as eval_encode_lines does: a document per line
 * (BOS, line, EOS), the protocol the model card reports. */
int wb_encode_file_lines(const struct tokenizer *tok, const char *path,
			 int **ids, size_t *n, uint64_t *bytes, double *words,
			 struct err *e)
{
	char *text;
	size_t tl;
	int rc = file_read_all(path, 256u << 20, &text, &tl, e);
	if (rc)
		return rc;
	*bytes = tl;
	*words = count_words(text, tl);
	rc = eval_encode_lines(tok, text, tl, ids, n, e);
	free(text);
	return rc;
}

static int quality_fn(void *arg, const struct progress *prog, struct err *e)
{
	struct task_ctx *t = arg;
	struct workbench *wb = t->wb;
	int rc;
	/* wb_start_quality checked the plan is applied; wb->plan itself may
	 * change under us (the user keeps turning knobs), so it is not read
	 * here. */
	if (!wb->tok)
		return err_set(e, ERR_INVALID, "quality needs a tokenizer");
	const struct tokenizer *ptok = wb->pruned_tok ? wb->pruned_tok
						      : wb->tok;
	/* KL and top-1 compare distributions over the same ids: valid when
	 * the vocabulary is unchanged, whatever the plan's vocabulary mode
	 * says (a top-K of all V keeps every id in place) */
	t->q.has_kl = !wb->pruned_tok ||
		      wb->pruned->cfg.vocab_size == wb->model->cfg.vocab_size;
	int *ids = NULL, *pids = NULL;
	size_t n = 0, pn = 0;
	uint64_t bytes;
	double words;
	if ((rc = wb_encode_file_lines(wb->tok, wb->heldout, &ids, &n, &bytes,
				       &words, e)))
		goto done;
	/* the pruned side needs its own ids only when its vocabulary differs */
	if (!t->q.has_kl && ptok != wb->tok &&
	    (rc = wb_encode_file_lines(ptok, wb->heldout, &pids, &pn, &bytes,
				       &words, e)))
		goto done;
	struct eval_opts o;
	eval_defaults(&o);
	o.ctx = wb->eval_ctx;
	o.stride = wb->eval_stride;
	o.text_bytes = bytes;
	struct sub_progress sp = {prog, 0, 0.45};
	struct progress sub = {wb_sub_report, &sp};
	o.prog = &sub;
	if ((rc = eval_run(wb->model, NULL, ids, n, &o, &t->q.orig, e)))
		goto done;
	sp.lo = 0.45;
	sp.hi = 0.9;
	if ((rc = eval_run(wb->pruned, t->q.has_kl ? wb->model : NULL,
			   pids ? pids : ids, pids ? pn : n, &o, &t->q.pruned,
			   e)))
		goto done;
	t->q.words = words;
	/* Per-layer influence: ranking all L layers computes every score. */
	if (wb->n_corpus > 0) {
		int *calib = NULL;
		size_t nc = 0;
		if ((rc = wb_encode_corpus(wb->tok, wb->corpus, wb->n_corpus,
					   4096, &calib, &nc, e)))
			goto done;
		struct prune_plan rank;
		prune_plan_init(&rank);
		rank.layer_mode = PLAN_LAYERS_RANK;
		rank.n_layers = wb->src.n_layers;
		struct apply_inputs in = {.calib = calib, .n_calib = nc};
		struct prune_index ix;
		struct apply_report rep;
		sp.lo = 0.9;
		sp.hi = 1.0;
		rc = prune_select(wb->model, &rank, &in, &ix, &rep, &sub, e);
		free(calib);
		prune_plan_free(&rank);
		if (rc)
			goto done;
		t->q.n_layers = rep.n_layer_scores;
		for (int i = 0; i < rep.n_layer_scores && i < 64; i++)
			t->q.layer_score[i] = rep.layer_score[i];
		t->q.has_layer_scores = rep.ranked;
		prune_index_free(&ix);
	}
	t->q.healed = t->healed_side;
	t->have_q = true;
	struct history_entry x;
	memset(&x, 0, sizeof x);
	if (t->healed_side) {
		x.have_healed = true;
		x.bpb_healed = t->q.pruned.bpb;
		x.have_healed_ref = t->q.has_kl;
		x.kl_healed = t->q.pruned.kl_mean;
		x.top1_healed = t->q.pruned.top1;
		x.heal_tokens = wb->healed_tokens;
		x.heal_seconds = wb->healed_seconds;
	} else {
		x.have_cut = true;
		x.bpb_src = t->q.orig.bpb;
		x.bpb_cut = t->q.pruned.bpb;
		x.have_cut_ref = t->q.has_kl;
		x.kl_cut = t->q.pruned.kl_mean;
		x.top1_cut = t->q.pruned.top1;
	}
	wb_task_note(t, &x);
done:
	free(ids);
	free(pids);
	return rc;
}

/* Quality results are remembered per plan and held-out text. */
char *wb_quality_key(const char *plan_key, const char *heldout, bool healed)
{
	size_t a = strlen(plan_key), b = heldout ? strlen(heldout) : 0;
	char *k = malloc(a + b + 10);
	if (k) {
		memcpy(k, plan_key, a);
		k[a] = '\n';
		memcpy(k + a + 1, heldout ? heldout : "", b);
		strcpy(k + a + b + 1, healed ? "\nhealed" : "");
	}
	return k;
}

int wb_start_quality(struct workbench *wb, struct err *e)
{
	if (!wb_applied(wb))
		return err_set(e, ERR_INVALID, "apply the plan first");
	if (!wb->heldout)
		return err_set(e, ERR_INVALID, "no held-out text to measure on");
	struct task_ctx *t;
	int rc = wb_task_begin(wb, WB_TASK_QUALITY, &t, e);
	if (rc)
		return rc;
	char *k = wb_quality_key(t->key, wb->heldout, t->healed_side);
	if (!k) {
		wb_task_free(t);
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	}
	free(t->key);
	t->key = k;
	return wb_task_launch(wb, WB_TASK_QUALITY, t, quality_fn, e);
}

const struct wb_quality *wb_quality_current(const struct workbench *wb)
{
	char *pk = wb_plan_key(wb);
	char *key = pk ? wb_quality_key(pk, wb->heldout, wb_healed(wb)) : NULL;
	free(pk);
	const struct wb_quality *found = NULL;
	for (int i = wb->n_quality - 1; key && i >= 0 && !found; i--)
		if (!strcmp(wb->quality[i].plan_key, key))
			found = &wb->quality[i];
	free(key);
	return found;
}
