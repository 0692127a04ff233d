/* tasks_submission — the submission and reference CSVs, resuming from a
 * submission, scoring the done rows (see tasks.h). */
#include "tasks_impl.h"

#include <stdlib.h>
#include <string.h>

#include "fileio.h"

static int put_field(struct tasks_text *x, const char *s)
{
	bool q = strpbrk(s, ",\"\r\n") != NULL;
	if (q && tasks_text_put(x, "\"", 1))
		return -1;
	for (const char *c = s; *c; c++) {
		if (*c == '"' && tasks_text_put(x, "\"", 1))
			return -1;
		if (tasks_text_put(x, c, 1))
			return -1;
	}
	return q && tasks_text_put(x, "\"", 1) ? -1 : 0;
}

/* ID,Response of the done rows (with a target when need_target). */
static int sub_csv(const struct tasks_data *d, const struct tasks_result *res,
		   bool need_target, char **out, size_t *len, struct err *e)
{
	struct tasks_text x = {0};
	int bad = tasks_text_put(&x, "ID,Response\n", 12);
	for (int i = 0; i < d->n && !bad; i++) {
		if (!res[i].response || (need_target && !d->rows[i].target))
			continue;
		bad = put_field(&x, d->rows[i].id) ||
		      tasks_text_put(&x, ",", 1) ||
		      put_field(&x, res[i].response) ||
		      tasks_text_put(&x, "\n", 1);
	}
	if (bad) {
		free(x.s);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	*out = x.s;
	*len = x.n;
	return 0;
}

int tasks_submission_csv(const struct tasks_data *d,
			 const struct tasks_result *res, char **out,
			 size_t *len, struct err *e)
{
	return sub_csv(d, res, false, out, len, e);
}

int tasks_write_submission(const char *path, const struct tasks_data *d,
			   const struct tasks_result *res, struct err *e)
{
	char *s = NULL;
	size_t n = 0;
	int rc = tasks_submission_csv(d, res, &s, &n, e);
	if (!rc)
		rc = file_write_atomic(path, s, n, e);
	free(s);
	return rc;
}

int tasks_resume(const char *path, const struct tasks_data *d,
		 struct tasks_result *res, int *kept, struct err *e)
{
	struct csv_table t;
	int rc = csv_read_file(path, &t, e);
	if (rc)
		return rc;
	int cid = csv_col(&t, "ID"), cr = csv_col(&t, "Response");
	int *ix = NULL, n_kept = 0;
	if (cid < 0 || cr < 0) {
		rc =
		    err_set(e, ERR_FORMAT,
			    "'%s': expected columns 'ID' and 'Response'", path);
		goto out;
	}
	if (!(ix = tasks_sorted_ids(d, e))) {
		rc = ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < t.n_rows; i++) {
		const char *id = csv_cell(&t, i, cid);
		int lo = 0, hi = d->n - 1, at = -1;
		while (lo <= hi) {
			int mid = lo + (hi - lo) / 2;
			int c = strcmp(d->rows[ix[mid]].id, id);
			if (!c) {
				at = ix[mid];
				break;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid - 1;
		}
		if (at < 0)
			continue;
		const char *s = csv_cell(&t, i, cr);
		char *p = tasks_dupn(s, strlen(s));
		if (!p) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		free(res[at].response);
		memset(&res[at], 0, sizeof res[at]);
		res[at].response = p;
		res[at].choice = d->rows[at].task == SCORE_MT
				     ? -1
				     : score_parse_class(d->rows[at].task, p);
		n_kept++;
	}
out:
	if (kept)
		*kept = n_kept;
	free(ix);
	csv_free(&t);
	return rc;
}

int tasks_refs_csv(const struct tasks_data *d, const struct tasks_result *res,
		   char **out, size_t *len, struct err *e)
{
	bool split = true;
	for (int i = 0; i < d->n; i++)
		if (res[i].response && d->rows[i].target &&
		    d->rows[i].split == SCORE_ALL)
			split = false;
	struct tasks_text x = {0};
	int bad = tasks_text_put(
	    &x, split ? "ID,task,lang,split,target\n" : "ID,task,lang,target\n",
	    split ? 26 : 20);
	for (int i = 0; i < d->n && !bad; i++) {
		const struct tasks_row *r = &d->rows[i];
		if (!res[i].response || !r->target)
			continue;
		bad = put_field(&x, r->id) || tasks_text_put(&x, ",", 1) ||
		      put_field(&x, score_task_name(r->task)) ||
		      tasks_text_put(&x, ",", 1) ||
		      put_field(&x, score_lang_name(r->lang)) ||
		      tasks_text_put(&x, ",", 1) ||
		      (split && (put_field(&x, score_split_name(r->split)) ||
				 tasks_text_put(&x, ",", 1))) ||
		      put_field(&x, r->target) || tasks_text_put(&x, "\n", 1);
	}
	if (bad) {
		free(x.s);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	*out = x.s;
	*len = x.n;
	return 0;
}

int tasks_score(const struct tasks_data *d, const struct tasks_result *res,
		struct score_result *out, struct err *e)
{
	int n = 0;
	for (int i = 0; i < d->n; i++)
		n += res[i].response && d->rows[i].target;
	if (n == 0)
		return err_set(e, ERR_INVALID,
			       "no finished row has a target to score");
	char *rt = NULL, *st = NULL;
	size_t rl = 0, sl = 0;
	struct csv_table rtab = {0}, stab = {0};
	struct score_refs refs = {0};
	int rc;
	if ((rc = tasks_refs_csv(d, res, &rt, &rl, e)) ||
	    (rc = sub_csv(d, res, true, &st, &sl, e)) ||
	    (rc = csv_parse(rt, rl, "references", &rtab, e)) ||
	    (rc = csv_parse(st, sl, "responses", &stab, e)) ||
	    (rc = score_refs_add(&refs, &rtab, "references", SCORE_ALL, e)))
		goto out;
	rc = score_submission(&refs, &stab, "responses", out, e);
out:
	score_refs_free(&refs);
	csv_free(&rtab);
	csv_free(&stab);
	free(rt);
	free(st);
	return rc;
}
