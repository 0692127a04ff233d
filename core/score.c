#include "score.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* Zindi                                                               */

double score_zindi(double lb, uint64_t params)
{
	return (lb + (1.0 - (double)params / (double)SCORE_PARAM_SIZE) * lb) /
	       2.0;
}

double score_breakeven_lb(double zindi, uint64_t params)
{
	return 2.0 * zindi / (2.0 - (double)params / (double)SCORE_PARAM_SIZE);
}

/* ------------------------------------------------------------------ */
/* Names                                                               */

const char *score_task_name(enum score_task t)
{
	static const char *const n[] = {"sentiment", "xnli", "mt"};
	return (unsigned)t < SCORE_N_TASKS ? n[t] : "?";
}

const char *score_lang_name(enum score_lang l)
{
	static const char *const n[] = {"hau", "swa", "both"};
	return (unsigned)l <= SCORE_N_LANGS ? n[l] : "?";
}

const char *score_split_name(enum score_split s)
{
	static const char *const n[] = {"all", "public", "private"};
	return (unsigned)s < SCORE_N_SPLITS ? n[s] : "?";
}

/* ------------------------------------------------------------------ */
/* chrF                                                                */

/* Decodes UTF-8 into code points, dropping U+0020. An invalid or
 * truncated sequence yields one U+FFFD per byte. Returns the count. */
static size_t decode(const char *s, uint32_t *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;
	while (*p) {
		uint32_t c = *p, min = 0;
		int k = 0;
		if (c < 0x80)
			k = 0;
		else if ((c & 0xE0) == 0xC0)
			k = 1, c &= 0x1F, min = 0x80;
		else if ((c & 0xF0) == 0xE0)
			k = 2, c &= 0x0F, min = 0x800;
		else if ((c & 0xF8) == 0xF0)
			k = 3, c &= 0x07, min = 0x10000;
		else
			k = -1;
		int ok = k >= 0;
		for (int i = 1; ok && i <= k; i++) {
			if ((p[i] & 0xC0) != 0x80)
				ok = 0;
			else
				c = (c << 6) | (p[i] & 0x3F);
		}
		if (ok &&
		    (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)))
			ok = 0;
		if (!ok) {
			c = 0xFFFD;
			k = 0;
		}
		p += k + 1;
		if (c != 0x20)
			out[n++] = c;
	}
	return n;
}

/* An n-gram (n <= 6) of 21-bit code points packed into two words. */
struct gram {
	uint64_t a, b;
};

static int cmp_gram(const void *x, const void *y)
{
	const struct gram *g = x, *h = y;
	if (g->a != h->a)
		return g->a < h->a ? -1 : 1;
	return (g->b > h->b) - (g->b < h->b);
}

static size_t grams(const uint32_t *cp, size_t len, int n, struct gram *out)
{
	if (len < (size_t)n)
		return 0;
	size_t m = len - (size_t)n + 1;
	for (size_t i = 0; i < m; i++) {
		uint64_t w[6] = {0};
		for (int j = 0; j < n; j++)
			w[j] = cp[i + (size_t)j];
		out[i].a = w[0] << 42 | w[1] << 21 | w[2];
		out[i].b = w[3] << 42 | w[4] << 21 | w[5];
	}
	qsort(out, m, sizeof *out, cmp_gram);
	return m;
}

/* Clipped matches of two sorted n-gram lists: sum over distinct n-grams
 * of min(count in hyp, count in ref). */
static size_t clipped(const struct gram *h, size_t nh, const struct gram *r,
		      size_t nr)
{
	size_t i = 0, j = 0, m = 0;
	while (i < nh && j < nr) {
		int c = cmp_gram(&h[i], &r[j]);
		if (c < 0) {
			i++;
		} else if (c > 0) {
			j++;
		} else {
			size_t ci = 0, cj = 0;
			struct gram g = h[i];
			while (i < nh && !cmp_gram(&h[i], &g))
				i++, ci++;
			while (j < nr && !cmp_gram(&r[j], &g))
				j++, cj++;
			m += ci < cj ? ci : cj;
		}
	}
	return m;
}

int score_chrf(const char *hyp, const char *ref, double *out, struct err *e)
{
	size_t lh = strlen(hyp), lr = strlen(ref);
	/* one code point per byte at most, one gram per code point at most */
	uint32_t *ch = malloc((lh + lr + 1) * sizeof *ch);
	struct gram *gh = malloc((lh + 1) * sizeof *gh);
	struct gram *gr = malloc((lr + 1) * sizeof *gr);
	if (!ch || !gh || !gr) {
		free(ch);
		free(gh);
		free(gr);
		return err_set(e, ERR_NOMEM, "chrf: out of memory");
	}
	uint32_t *cr = ch + lh;
	size_t nh = decode(hyp, ch), nr = decode(ref, cr);
	double P = 0, R = 0;
	for (int n = 1; n <= 6; n++) {
		size_t a = grams(ch, nh, n, gh), b = grams(cr, nr, n, gr);
		size_t m = clipped(gh, a, gr, b);
		P += (double)m / (double)(a ? a : 1);
		R += (double)m / (double)(b ? b : 1);
	}
	P /= 6;
	R /= 6;
	*out = P + R > 0 ? 5 * P * R / (4 * P + R) : 0.0;
	free(ch);
	free(gh);
	free(gr);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Classes                                                             */

double score_macro_f1(const int m[3][4], double per_class[3])
{
	double sum = 0;
	for (int c = 0; c < 3; c++) {
		long tp = m[c][c], fp = 0, fn = 0;
		for (int k = 0; k < 3; k++)
			if (k != c)
				fp += m[k][c];
		for (int k = 0; k < 4; k++)
			if (k != c)
				fn += m[c][k];
		double p = tp + fp ? (double)tp / (double)(tp + fp) : 0;
		double r = tp + fn ? (double)tp / (double)(tp + fn) : 0;
		double f = p + r > 0 ? 2 * p * r / (p + r) : 0;
		if (per_class)
			per_class[c] = f;
		sum += f;
	}
	return sum / 3;
}

static const char *const sentiment_words[3][4] = {
    {"positive", "chanya", "kyakkyawa", NULL},
    {"neutral", "wastani", "tsaka-tsaki", NULL},
    {"negative", "hasi", "korau", NULL},
};
static const char *const xnli_words[3][4] = {
    {"entailment", "true", NULL, NULL},
    {"neutral", "neither", NULL, NULL},
    {"contradiction", "false", NULL, NULL},
};

int score_parse_class(enum score_task task, const char *s)
{
	if (!s || task == SCORE_MT)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if ((n == 1 || (n == 3 && !strncmp(s + 1, ".0", 2))) && s[0] >= '0' &&
	    s[0] <= '2')
		return s[0] - '0';
	const char *const(*w)[4] =
	    task == SCORE_SENTIMENT ? sentiment_words : xnli_words;
	for (int c = 0; c < 3; c++)
		for (int k = 0; k < 4 && w[c][k]; k++)
			if (strlen(w[c][k]) == n && !strncasecmp(s, w[c][k], n))
				return c;
	return -1;
}

static int ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && !strcasecmp(s + a - b, suf);
}

static const char *find_ci(const char *s, const char *needle)
{
	size_t n = strlen(needle);
	for (; *s; s++)
		if (!strncasecmp(s, needle, n))
			return s;
	return NULL;
}

int score_id_task(const char *id, enum score_task *task, enum score_lang *lang)
{
	int t = -1, l = -1;
	if (find_ci(id, "sentiment"))
		t = SCORE_SENTIMENT;
	else if (find_ci(id, "afrixnli_"))
		t = SCORE_XNLI;
	else if (find_ci(id, "mt_eng-"))
		t = SCORE_MT;
	if (ends_with(id, "hausa") || ends_with(id, "_hau") ||
	    ends_with(id, "-hau"))
		l = SCORE_HAU;
	else if (ends_with(id, "swahili") || ends_with(id, "_swa") ||
		 ends_with(id, "-swa"))
		l = SCORE_SWA;
	if (t < 0 || l < 0)
		return -1;
	*task = (enum score_task)t;
	*lang = (enum score_lang)l;
	return 0;
}

int score_parse_task_name(const char *s)
{
	if (!strcasecmp(s, "sentiment"))
		return SCORE_SENTIMENT;
	if (!strcasecmp(s, "xnli") || !strcasecmp(s, "afrixnli"))
		return SCORE_XNLI;
	if (!strcasecmp(s, "mt") || !strcasecmp(s, "mmt"))
		return SCORE_MT;
	return -1;
}

int score_parse_lang_name(const char *s)
{
	if (!strcasecmp(s, "hau") || !strcasecmp(s, "hausa") ||
	    !strcasecmp(s, "eng-hau"))
		return SCORE_HAU;
	if (!strcasecmp(s, "swa") || !strcasecmp(s, "swahili") ||
	    !strcasecmp(s, "eng-swa"))
		return SCORE_SWA;
	return -1;
}

/* ------------------------------------------------------------------ */
/* References                                                          */

struct id_index {
	const char *id;
	int row;
};

static int cmp_index(const void *a, const void *b)
{
	return strcmp(((const struct id_index *)a)->id,
		      ((const struct id_index *)b)->id);
}

static int build_index(struct score_refs *r, struct err *e)
{
	struct id_index *x = malloc(((size_t)r->n + 1) * sizeof *x);
	int *by = realloc(r->by_id, ((size_t)r->n + 1) * sizeof *by);
	if (!x || !by) {
		free(x);
		if (by)
			r->by_id = by;
		return err_set(e, ERR_NOMEM, "references: out of memory");
	}
	r->by_id = by;
	for (int i = 0; i < r->n; i++)
		x[i] = (struct id_index){r->rows[i].id, i};
	qsort(x, (size_t)r->n, sizeof *x, cmp_index);
	for (int i = 0; i < r->n; i++)
		by[i] = x[i].row;
	free(x);
	return 0;
}

static int find_row(const struct score_refs *r, const char *id)
{
	int lo = 0, hi = r->n - 1;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(id, r->rows[r->by_id[mid]].id);
		if (!c)
			return r->by_id[mid];
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

const struct score_ref *score_refs_find(const struct score_refs *r,
					const char *id)
{
	int i = r->by_id ? find_row(r, id) : -1;
	return i < 0 ? NULL : &r->rows[i];
}

static char *dupstr(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

int score_refs_add(struct score_refs *r, const struct csv_table *t,
		   const char *name, enum score_split split, struct err *e)
{
	int cid = csv_col(t, "ID");
	int ctg = csv_col(t, "target") >= 0 ? csv_col(t, "target")
					    : csv_col(t, "Targets");
	int ctask = csv_col(t, "task"), clang = csv_col(t, "lang");
	int csplit = csv_col(t, "split");
	if (cid < 0)
		return err_set(e, ERR_FORMAT, "'%s': missing column 'ID'",
			       name);
	if (ctg < 0)
		return err_set(e, ERR_FORMAT,
			       "'%s': missing column 'target' or 'Targets'",
			       name);
	if (r->n > INT32_MAX - t->n_rows)
		return err_set(e, ERR_NOMEM, "'%s': too many rows", name);
	if (r->n + t->n_rows > r->cap) {
		int cap = r->n + t->n_rows;
		struct score_ref *v = realloc(r->rows, (size_t)cap * sizeof *v);
		if (!v)
			return err_set(e, ERR_NOMEM, "'%s': out of memory",
				       name);
		r->rows = v;
		r->cap = cap;
	}
	int n0 = r->n, rc = 0;
	for (int i = 0; i < t->n_rows; i++) {
		const char *id = csv_cell(t, i, cid);
		const char *tg = csv_cell(t, i, ctg);
		long line = t->lines[i];
		struct score_ref x = {0};
		enum score_task task;
		enum score_lang lang;
		int have_id = score_id_task(id, &task, &lang) == 0;
		x.line = line;
		if (ctask >= 0) {
			int v = score_parse_task_name(csv_cell(t, i, ctask));
			if (v < 0) {
				rc = err_set(e, ERR_FORMAT,
					     "'%s': line %ld: unknown task "
					     "'%s'",
					     name, line, csv_cell(t, i, ctask));
				goto fail;
			}
			task = (enum score_task)v;
		} else if (!have_id) {
			goto bad_id;
		}
		if (clang >= 0) {
			int v = score_parse_lang_name(csv_cell(t, i, clang));
			if (v < 0) {
				rc = err_set(e, ERR_FORMAT,
					     "'%s': line %ld: unknown language "
					     "'%s'",
					     name, line, csv_cell(t, i, clang));
				goto fail;
			}
			lang = (enum score_lang)v;
		} else if (!have_id) {
			goto bad_id;
		}
		x.task = task;
		x.lang = lang;
		x.split = split;
		if (split == SCORE_ALL && csplit >= 0) {
			const char *s = csv_cell(t, i, csplit);
			if (!strcasecmp(s, "public"))
				x.split = SCORE_PUBLIC;
			else if (!strcasecmp(s, "private"))
				x.split = SCORE_PRIVATE;
			else {
				rc = err_set(e, ERR_FORMAT,
					     "'%s': line %ld: split '%s' is "
					     "neither public nor private",
					     name, line, s);
				goto fail;
			}
		}
		if (x.split != SCORE_ALL)
			r->has_split = true;
		x.target_class = -1;
		if (task != SCORE_MT) {
			x.target_class = score_parse_class(task, tg);
			if (x.target_class < 0) {
				rc = err_set(e, ERR_FORMAT,
					     "'%s': line %ld: target '%s' of "
					     "'%s' is not a %s class",
					     name, line, tg, id,
					     score_task_name(task));
				goto fail;
			}
		}
		x.id = dupstr(id);
		x.target = dupstr(tg);
		if (!x.id || !x.target) {
			free(x.id);
			free(x.target);
			rc = err_set(e, ERR_NOMEM, "'%s': out of memory", name);
			goto fail;
		}
		r->rows[r->n++] = x;
		continue;
	bad_id:
		rc = err_set(e, ERR_FORMAT,
			     "'%s': line %ld: cannot tell task and language "
			     "from ID '%s' (no task/lang columns)",
			     name, line, id);
		goto fail;
	}
	if ((rc = build_index(r, e)))
		goto fail;
	for (int i = 1; i < r->n; i++) {
		const struct score_ref *a = &r->rows[r->by_id[i - 1]];
		const struct score_ref *b = &r->rows[r->by_id[i]];
		if (!strcmp(a->id, b->id)) {
			/* rows of this table come after earlier tables' */
			int ia = r->by_id[i - 1], ib = r->by_id[i];
			int earlier_table = ia < n0 || ib < n0;
			const struct score_ref *later = earlier_table
							    ? (ia < n0 ? b : a)
							: a->line > b->line ? a
									    : b;
			const struct score_ref *first = later == a ? b : a;
			rc =
			    err_set(e, ERR_FORMAT,
				    "'%s': line %ld: duplicate ID '%s' "
				    "(first on line %ld%s)",
				    name, later->line, a->id, first->line,
				    earlier_table ? " of an earlier file" : "");
			goto fail;
		}
	}
	return 0;
fail:
	while (r->n > n0) {
		r->n--;
		free(r->rows[r->n].id);
		free(r->rows[r->n].target);
	}
	if (r->by_id)
		build_index(r, NULL);
	return rc;
}

int score_refs_load(struct score_refs *r, const char *path,
		    enum score_split split, struct err *e)
{
	struct csv_table t;
	int rc = csv_read_file(path, &t, e);
	if (rc)
		return rc;
	rc = score_refs_add(r, &t, path, split, e);
	csv_free(&t);
	return rc;
}

void score_refs_free(struct score_refs *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n; i++) {
		free(r->rows[i].id);
		free(r->rows[i].target);
	}
	free(r->rows);
	free(r->by_id);
	memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------ */
/* Scoring                                                             */

/* Copies at most n-1 bytes of s, never cutting a UTF-8 sequence. */
static void snip(char *dst, size_t n, const char *s)
{
	size_t k = strlen(s);
	if (k >= n) {
		k = n - 4;
		while (k && ((unsigned char)s[k] & 0xC0) == 0x80)
			k--;
		memcpy(dst, s, k);
		memcpy(dst + k, "...", 4);
		return;
	}
	memcpy(dst, s, k + 1);
}

struct acc {
	double chrf_sum[SCORE_N_LANGS + 1];
};

static void finish(struct score_part *p, const struct acc *a)
{
	double task_sum = 0, list_sum = 0;
	int n_tasks = 0, n_list = 0;
	for (int t = 0; t < 2; t++)
		for (int l = 0; l <= SCORE_N_LANGS; l++)
			p->f1[t][l] =
			    score_macro_f1((const int(*)[4])p->confusion[t][l],
					   p->class_f1[t][l]);
	for (int l = 0; l <= SCORE_N_LANGS; l++)
		p->chrf[l] =
		    p->n[SCORE_MT][l] ? a->chrf_sum[l] / p->n[SCORE_MT][l] : 0;
	for (int t = 0; t < 2; t++)
		if (p->n[t][SCORE_POOLED]) {
			task_sum += p->f1[t][SCORE_POOLED];
			list_sum += p->f1[t][SCORE_POOLED];
			n_tasks++;
			n_list++;
		}
	if (p->n[SCORE_MT][SCORE_POOLED]) {
		task_sum += p->chrf[SCORE_POOLED];
		n_tasks++;
		list_sum += a->chrf_sum[SCORE_POOLED];
		n_list += p->n[SCORE_MT][SCORE_POOLED];
	}
	p->lb_tasks = n_tasks ? task_sum / n_tasks : 0;
	p->lb_pooled = n_list ? list_sum / n_list : 0;
}

int score_submission(const struct score_refs *r, const struct csv_table *sub,
		     const char *name, struct score_result *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	if (!r->n || !r->by_id)
		return err_set(e, ERR_INVALID,
			       "no reference rows to score "
			       "'%s' against",
			       name);
	int cid = csv_col(sub, "ID"), cresp = csv_col(sub, "Response");
	if (cid < 0)
		return err_set(e, ERR_FORMAT, "'%s': missing column 'ID'",
			       name);
	if (cresp < 0)
		return err_set(e, ERR_FORMAT, "'%s': missing column 'Response'",
			       name);
	/* seen[i]: the submission row answering reference row i, + 1 */
	int *seen = calloc((size_t)r->n, sizeof *seen);
	if (!seen)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", name);
	struct acc acc[SCORE_N_SPLITS];
	memset(acc, 0, sizeof acc);
	int rc = 0;
	for (int i = 0; i < sub->n_rows; i++) {
		const char *id = csv_cell(sub, i, cid);
		const char *resp = csv_cell(sub, i, cresp);
		int k = find_row(r, id);
		if (k < 0) {
			rc = err_set(e, ERR_FORMAT,
				     "'%s': line %ld: ID '%s' is not in the "
				     "references",
				     name, sub->lines[i], id);
			goto done;
		}
		if (seen[k]) {
			rc = err_set(e, ERR_FORMAT,
				     "'%s': line %ld: duplicate ID '%s' "
				     "(first on line %ld)",
				     name, sub->lines[i], id,
				     sub->lines[seen[k] - 1]);
			goto done;
		}
		seen[k] = i + 1;
		const struct score_ref *x = &r->rows[k];
		int splits[2] = {SCORE_ALL, (int)x->split};
		int ns = x->split == SCORE_ALL ? 1 : 2;
		double chrf = 0;
		int pred = -1;
		if (x->task == SCORE_MT) {
			if ((rc = score_chrf(resp, x->target, &chrf, e)))
				goto done;
		} else {
			pred = score_parse_class(x->task, resp);
			if (pred < 0) {
				if (out->n_examples < SCORE_MAX_EXAMPLES) {
					struct score_wrong *w =
					    &out->examples[out->n_examples++];
					snip(w->id, sizeof w->id, id);
					snip(w->response, sizeof w->response,
					     resp);
					w->line = sub->lines[i];
				}
				out->n_wrong++;
			}
		}
		for (int s = 0; s < ns; s++) {
			struct score_part *p = &out->part[splits[s]];
			int ls[2] = {(int)x->lang, SCORE_POOLED};
			p->n_rows++;
			for (int j = 0; j < 2; j++) {
				int l = ls[j];
				p->n[x->task][l]++;
				if (x->task == SCORE_MT) {
					acc[splits[s]].chrf_sum[l] += chrf;
					continue;
				}
				int tk = x->task; /* 0 or 1 */
				p->confusion[tk][l][x->target_class]
					    [pred < 0 ? SCORE_WRONG : pred]++;
				if (pred < 0)
					p->wrong[tk][l]++;
			}
		}
	}
	int missing = 0, first = -1;
	for (int k = 0; k < r->n; k++)
		if (!seen[k]) {
			missing++;
			if (first < 0 || r->rows[k].line < r->rows[first].line)
				first = k;
		}
	if (missing) {
		rc = err_set(e, ERR_FORMAT,
			     "'%s': %d reference ID%s missing, the first "
			     "'%s' (reference line %ld)",
			     name, missing, missing == 1 ? " is" : "s are",
			     r->rows[first].id, r->rows[first].line);
		goto done;
	}
	out->has_split = r->has_split;
	for (int s = 0; s < SCORE_N_SPLITS; s++)
		finish(&out->part[s], &acc[s]);
done:
	free(seen);
	return rc;
}

int score_submission_file(const struct score_refs *r, const char *path,
			  struct score_result *out, struct err *e)
{
	struct csv_table t;
	int rc = csv_read_file(path, &t, e);
	if (rc)
		return rc;
	rc = score_submission(r, &t, path, out, e);
	csv_free(&t);
	return rc;
}
