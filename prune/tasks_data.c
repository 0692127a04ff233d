/* tasks_data — the challenge's rows from CSV files (see tasks.h). */
#include "tasks_impl.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int col2(const struct csv_table *t, const char *a, const char *b)
{
	int c = csv_col(t, a);
	return c >= 0 || !b ? c : csv_col(t, b);
}

struct id_ix {
	const char *id;
	int row;
};

static int cmp_id_ix(const void *a, const void *b)
{
	return strcmp(((const struct id_ix *)a)->id,
		      ((const struct id_ix *)b)->id);
}

/* Row indices sorted by ID (malloc'd), for duplicate checks and lookup. */
int *tasks_sorted_ids(const struct tasks_data *d, struct err *e)
{
	size_t n = d->n ? (size_t)d->n : 1;
	int *ix = malloc(n * sizeof *ix);
	struct id_ix *v = malloc(n * sizeof *v);
	if (!ix || !v) {
		free(ix);
		free(v);
		err_set(e, ERR_NOMEM, "out of memory");
		return NULL;
	}
	for (int i = 0; i < d->n; i++) {
		v[i].id = d->rows[i].id;
		v[i].row = i;
	}
	qsort(v, (size_t)d->n, sizeof *v, cmp_id_ix);
	for (int i = 0; i < d->n; i++)
		ix[i] = v[i].row;
	free(v);
	return ix;
}

int tasks_data_load(struct tasks_data *d, const char *path, struct err *e)
{
	struct csv_table t;
	int rc = csv_read_file(path, &t, e);
	if (rc)
		return rc;
	int cid = csv_col(&t, "ID"), cins = csv_col(&t, "instruction"),
	    cin = col2(&t, "input", "Input Text"),
	    ctg = col2(&t, "target", "Targets"), csp = csv_col(&t, "split"),
	    cta = csv_col(&t, "task"), cla = col2(&t, "lang", "langs");
	if (cid < 0) {
		rc = err_set(e, ERR_FORMAT, "'%s': missing column 'ID'", path);
		goto fail;
	}
	if (cins < 0 && cin < 0) {
		rc = err_set(e, ERR_FORMAT,
			     "'%s': no 'instruction' or 'input' column", path);
		goto fail;
	}
	struct csv_table *tv =
	    realloc(d->tables, (size_t)(d->n_files + 1) * sizeof *tv);
	if (!tv)
		goto nomem;
	d->tables = tv;
	char **pv = realloc(d->paths, (size_t)(d->n_files + 1) * sizeof *pv);
	if (!pv)
		goto nomem;
	d->paths = pv;
	if (t.n_rows > INT32_MAX - d->n)
		goto nomem;
	if (d->n + t.n_rows > d->cap) {
		int cap = d->n + t.n_rows;
		struct tasks_row *rv =
		    realloc(d->rows, (size_t)(cap ? cap : 1) * sizeof *rv);
		if (!rv)
			goto nomem;
		d->rows = rv;
		d->cap = cap;
	}
	int n0 = d->n;
	for (int i = 0; i < t.n_rows; i++) {
		struct tasks_row r = {0};
		r.id = csv_cell(&t, i, cid);
		r.instruction = cins >= 0 ? csv_cell(&t, i, cins) : "";
		r.input = cin >= 0 ? csv_cell(&t, i, cin) : "";
		r.target = ctg >= 0 ? csv_cell(&t, i, ctg) : NULL;
		if (r.target && !*r.target)
			r.target = NULL;
		r.line = t.lines[i];
		r.file = d->n_files;
		enum score_task task = SCORE_MT;
		enum score_lang lang = SCORE_HAU;
		int have_id = score_id_task(r.id, &task, &lang) == 0;
		int v =
		    cta >= 0 ? score_parse_task_name(csv_cell(&t, i, cta)) : -1;
		if (v >= 0)
			task = (enum score_task)v;
		else if (!have_id)
			goto bad;
		v = cla >= 0 ? score_parse_lang_name(csv_cell(&t, i, cla)) : -1;
		if (v >= 0)
			lang = (enum score_lang)v;
		else if (!have_id)
			goto bad;
		r.task = task;
		r.lang = lang;
		r.split = SCORE_ALL;
		if (csp >= 0) {
			const char *s = csv_cell(&t, i, csp);
			if (!strcasecmp(s, "public"))
				r.split = SCORE_PUBLIC;
			else if (!strcasecmp(s, "private"))
				r.split = SCORE_PRIVATE;
		}
		d->rows[d->n++] = r;
		continue;
	bad:
		d->n = n0;
		rc = err_set(e, ERR_FORMAT,
			     "'%s': line %ld: cannot tell the task and "
			     "language of '%s' (no task/lang columns, unknown "
			     "ID suffix)",
			     path, t.lines[i], r.id);
		goto fail;
	}
	int *ix = tasks_sorted_ids(d, e);
	if (!ix) {
		d->n = n0;
		rc = ERR_NOMEM;
		goto fail;
	}
	for (int i = 1; i < d->n; i++) {
		const struct tasks_row *a = &d->rows[ix[i - 1]],
				       *b = &d->rows[ix[i]];
		if (strcmp(a->id, b->id))
			continue;
		if (a->file != d->n_files && b->file != d->n_files)
			continue; /* cannot happen: checked before */
		const struct tasks_row *x = a->file == d->n_files ? a : b;
		const struct tasks_row *y = x == a ? b : a;
		rc = err_set(e, ERR_FORMAT,
			     "'%s': line %ld: ID '%s' already seen (%s line "
			     "%ld)",
			     path, x->line, x->id,
			     y->file == d->n_files ? "this file,"
						   : d->paths[y->file],
			     y->line);
		free(ix);
		d->n = n0;
		goto fail;
	}
	free(ix);
	char *p = tasks_dupn(path, strlen(path));
	if (!p) {
		d->n = n0;
		goto nomem;
	}
	d->paths[d->n_files] = p;
	d->tables[d->n_files++] = t;
	d->has_targets = d->n > 0;
	for (int i = 0; i < d->n; i++)
		if (!d->rows[i].target)
			d->has_targets = false;
	return 0;
nomem:
	rc = err_set(e, ERR_NOMEM, "'%s': out of memory", path);
fail:
	csv_free(&t);
	return rc;
}

void tasks_data_free(struct tasks_data *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->n_files; i++) {
		csv_free(&d->tables[i]);
		free(d->paths[i]);
	}
	free(d->tables);
	free(d->paths);
	free(d->rows);
	memset(d, 0, sizeof *d);
}

/* Keeps at most `limit` rows of each task and language, in order. */
void tasks_data_limit(struct tasks_data *d, int limit)
{
	int count[SCORE_N_TASKS][SCORE_N_LANGS] = {{0}};
	int k = 0;
	for (int i = 0; i < d->n; i++) {
		struct tasks_row *r = &d->rows[i];
		if (count[r->task][r->lang]++ < limit)
			d->rows[k++] = *r;
	}
	d->n = k;
	d->has_targets = k > 0;
	for (int i = 0; i < k; i++)
		if (!d->rows[i].target)
			d->has_targets = false;
}
