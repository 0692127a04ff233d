/* tasks_labels — classification by label likelihood (see tasks.h). */
#include "tasks_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"

static double log_prob(const float *logits, int V, int tok)
{
	float mx;
	double ls = tasks_log_norm(logits, V, &mx);
	return (double)logits[tok] - mx - ls;
}

/* Label likelihood (tasks.h). */
int tasks_run_labels(struct tasks_runner *r, const struct tasks_row *row,
		     struct tasks_result *out, struct err *e)
{
	int *pids = NULL, *full[3] = {NULL, NULL, NULL};
	size_t np = 0, nf[3] = {0, 0, 0};
	int rc = tasks_encode_prompt(r, row, NULL, &pids, &np, e);
	for (int c = 0; !rc && c < 3; c++)
		rc = tasks_encode_prompt(r, row,
					 tasks_label(row->task, row->lang, c),
					 &full[c], &nf[c], e);
	if (rc)
		goto out;
	/* The shared prefix: common to the prompt and every candidate. */
	size_t P = np;
	for (int c = 0; c < 3; c++) {
		size_t k = 0;
		while (k < P && k < nf[c] && full[c][k] == pids[k])
			k++;
		P = k;
		if (P >= nf[c])
			P = nf[c] - 1;
	}
	if (P == 0) {
		rc = err_set(e, ERR_UNSUPPORTED,
			     "'%s': the prompt and its labels share no first "
			     "token (the tokenizer adds no BOS)",
			     row->id);
		goto out;
	}
	int room = 0;
	for (int c = 0; c < 3; c++)
		if ((int)(nf[c] - P) > room)
			room = (int)(nf[c] - P);
	int drop = tasks_fit_left(pids, &P, room, r->ctx);
	if (drop < 0) {
		rc = err_set(e, ERR_INVALID,
			     "'%s': the labels do not fit in the %d-position "
			     "context",
			     row->id, r->ctx);
		goto out;
	}
	out->truncated = drop;
	out->prompt_tokens = (int)P;
	if (room > r->all_rows) {
		float *a = realloc(r->all, (size_t)room * r->V * sizeof *a);
		if (!a) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		r->all = a;
		r->all_rows = room;
	}
	if ((rc = tasks_ensure_state(r, 0, (int)P + room, e)))
		goto out;
	struct fwd_state *fs = r->fs[0];
	r->held[0].n = -1;
	fwd_reset(fs);
	if ((rc = fwd_run(fs, pids, (int)P, NULL, e)))
		goto out;
	memcpy(r->lp0, fs->logits, (size_t)r->V * sizeof *r->lp0);
	int best = 0;
	for (int c = 0; c < 3; c++) {
		/* The candidate's tokens after the shared prefix (positions
		 * shift left by `drop` with the prompt). */
		const int *tail = full[c] + P + drop;
		int T = (int)(nf[c] - P - (size_t)drop);
		double lp = log_prob(r->lp0, r->V, tail[0]);
		if (T > 1) {
			if ((rc = fwd_truncate(fs, (int)P, e)) ||
			    (rc = fwd_run_from(fs, tail, T - 1, 0, r->all, e)))
				goto out;
			for (int j = 1; j < T; j++)
				lp += log_prob(r->all + (size_t)(j - 1) * r->V,
					       r->V, tail[j]);
		}
		out->label_score[c] = lp / T;
		if (out->label_score[c] > out->label_score[best])
			best = c;
	}
	out->choice = best;
	char buf[2] = {(char)('0' + best), 0};
	if (!(out->response = tasks_dupn(buf, 1)))
		rc = err_set(e, ERR_NOMEM, "out of memory");
out:
	free(pids);
	for (int c = 0; c < 3; c++)
		free(full[c]);
	return rc;
}
