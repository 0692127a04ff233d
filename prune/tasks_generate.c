/* tasks_generate — free generation: classification with --generate and
 * greedy translation (see tasks.h). */
#include "tasks_impl.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"

/* The class of the first word score_parse_class accepts, or -1. */
static int first_class(enum score_task task, const char *s)
{
	char w[64];
	while (*s) {
		while (*s && !(isalnum((unsigned char)*s) || *s == '-' ||
			       (unsigned char)*s >= 0x80))
			s++;
		size_t n = 0;
		while (*s && (isalnum((unsigned char)*s) || *s == '-' ||
			      (unsigned char)*s >= 0x80)) {
			if (n + 1 < sizeof w)
				w[n++] = *s;
			s++;
		}
		w[n] = 0;
		if (n) {
			int c = score_parse_class(task, w);
			if (c >= 0)
				return c;
		}
	}
	return -1;
}

/* Free generation on cache 0: classification --generate, greedy MT. */
int tasks_run_generate(struct tasks_runner *r, const struct tasks_row *row,
		       struct tasks_result *out, struct err *e)
{
	int *ids = NULL;
	size_t n = 0;
	struct gen_opts go;
	gen_defaults(&go);
	go.stop_at_newline = true;
	if (row->task == SCORE_MT) {
		go.max_new = r->o.mt_max_new;
		go.sampler.temperature = 0;
		go.sampler.repeat_penalty = 1;
	} else {
		go.max_new = r->o.cls_max_new;
		go.sampler = r->o.sampler;
	}
	int rc = tasks_encode_prompt(r, row, NULL, &ids, &n, e);
	if (rc)
		return rc;
	int drop = tasks_fit_left(ids, &n, go.max_new, r->ctx);
	if (drop < 0) {
		free(ids);
		return err_set(e, ERR_INVALID,
			       "'%s': %d new tokens do not fit in the "
			       "%d-position context",
			       row->id, go.max_new, r->ctx);
	}
	struct tasks_text x = {0};
	struct gen_stats st;
	r->held[0].n = -1;
	if ((rc = tasks_ensure_state(r, 0, (int)n + go.max_new, e))) {
		free(ids);
		return rc;
	}
	rc = gen_ids_state(r->fs[0], r->t, ids, n, &go, tasks_text_put, &x, &st,
			   NULL, NULL, e);
	free(ids);
	if (!rc && x.nomem)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	if (rc) {
		free(x.s);
		return rc;
	}
	out->truncated = drop;
	out->prompt_tokens = st.prompt_tokens;
	out->new_tokens = st.new_tokens;
	out->choice = -1;
	char *resp = tasks_trimmed(x.s ? x.s : "", x.n);
	free(x.s);
	if (!resp)
		return err_set(e, ERR_NOMEM, "out of memory");
	if (row->task != SCORE_MT) {
		int c = first_class(row->task, resp);
		if (c >= 0) {
			out->choice = c;
			resp[0] = (char)('0' + c);
			resp[1] = 0;
		}
	}
	out->response = resp;
	return 0;
}
