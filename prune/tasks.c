/* tasks — the challenge's tasks on a model (see tasks.h). */
#include "tasks.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fileio.h"
#include "forward.h"
#include "generate.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

/* ------------------------------------------------------------------ */
/* Data                                                                */

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
static int *sorted_ids(const struct tasks_data *d, struct err *e)
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
		int v = cta >= 0 ? score_parse_task_name(csv_cell(&t, i, cta)) : -1;
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
	int *ix = sorted_ids(d, e);
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
	char *p = dupn(path, strlen(path));
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

/* ------------------------------------------------------------------ */
/* Prompt, labels, options                                             */

static const char prompt_head[] =
    "Below is an instruction that describes a task, paired with an input "
    "that provides further context. Write a response that appropriately "
    "completes the request.\n\n ### Instruction: ";

int tasks_prompt(const char *instruction, const char *input, char **out,
		 struct err *e)
{
	static const char mid[] = "\n", tail[] = "\n\n ### Response: ";
	size_t a = strlen(prompt_head), b = strlen(instruction),
	       c = strlen(input);
	size_t n = a + b + 1 + c + strlen(tail);
	char *p = malloc(n + 1);
	if (!p)
		return err_set(e, ERR_NOMEM, "out of memory");
	memcpy(p, prompt_head, a);
	memcpy(p + a, instruction, b);
	memcpy(p + a + b, mid, 1);
	memcpy(p + a + b + 1, input, c);
	strcpy(p + a + b + 1 + c, tail);
	*out = p;
	return 0;
}

const char *tasks_label(enum score_task task, enum score_lang lang, int c)
{
	static const char *const sent[2][3] = {
	    {"Kyakkyawa", "Tsaka-tsaki", "Korau"},
	    {"Chanya", "Wastani", "Hasi"},
	};
	static const char *const xnli[3] = {"True", "Neither", "False"};
	if (c < 0 || c > 2 || (unsigned)lang >= SCORE_N_LANGS)
		return NULL;
	if (task == SCORE_SENTIMENT)
		return sent[lang][c];
	if (task == SCORE_XNLI)
		return xnli[c];
	return NULL;
}

void tasks_defaults(struct tasks_opts *o)
{
	memset(o, 0, sizeof *o);
	o->generate = false;
	sampler_defaults(&o->sampler);
	o->cls_max_new = 20;
	o->beams = 1;
	o->mt_max_new = 100;
}

int tasks_opts_check(const struct tasks_opts *o, struct err *e)
{
	if (o->beams < 1 || o->beams > 64)
		return err_set(e, ERR_INVALID, "beams %d: expected 1..64",
			       o->beams);
	if (o->mt_max_new < 1 || o->cls_max_new < 1)
		return err_set(e, ERR_INVALID,
			       "the most new tokens must be at least 1");
	return sampler_opts_check(&o->sampler, e);
}

/* ------------------------------------------------------------------ */
/* Runner                                                              */

struct held {
	int *ids; /* (mt_max_new + 1) tokens after the prompt in the cache */
	int n;	  /* -1: the prompt is not in the cache */
};

struct tasks_runner {
	const struct model *m;
	const struct tokenizer *t;
	struct tasks_opts o;
	int ctx, V;
	struct fwd_state **fs; /* (beams) */
	struct held *held;     /* (beams) */
	float *lp0;	       /* (V) log-probs after the prompt */
	float *all;	       /* (max label tail, V) logits scratch */
	int all_rows;
	float *beam_lp; /* (beams, V) next-token log-probs per live beam */
};

void tasks_runner_free(struct tasks_runner *r)
{
	if (!r)
		return;
	for (int i = 0; r->fs && i < r->o.beams; i++) {
		fwd_free(r->fs[i]);
		free(r->held[i].ids);
	}
	free(r->fs);
	free(r->held);
	free(r->lp0);
	free(r->all);
	free(r->beam_lp);
	free(r);
}

int tasks_runner_new(const struct model *m, const struct tokenizer *t,
		     const struct tasks_opts *o, struct tasks_runner **out,
		     struct err *e)
{
	*out = NULL;
	int rc = tasks_opts_check(o, e);
	if (rc)
		return rc;
	if (tok_vocab_size(t) > m->cfg.vocab_size)
		return err_set(e, ERR_INVALID,
			       "the tokenizer has %d ids but the model only %d",
			       tok_vocab_size(t), m->cfg.vocab_size);
	struct tasks_runner *r = calloc(1, sizeof *r);
	if (!r)
		return err_set(e, ERR_NOMEM, "out of memory");
	r->m = m;
	r->t = t;
	r->o = *o;
	r->ctx = m->cfg.max_position_embeddings;
	r->V = m->cfg.vocab_size;
	r->fs = calloc((size_t)o->beams, sizeof *r->fs);
	r->held = calloc((size_t)o->beams, sizeof *r->held);
	r->lp0 = malloc((size_t)r->V * sizeof *r->lp0);
	r->beam_lp = o->beams > 1 ? malloc((size_t)o->beams * r->V *
					   sizeof *r->beam_lp)
				  : NULL;
	if (!r->fs || !r->held || !r->lp0 || (o->beams > 1 && !r->beam_lp))
		goto nomem;
	for (int i = 0; i < o->beams; i++) {
		r->held[i].n = -1;
		if (o->beams > 1 &&
		    !(r->held[i].ids = malloc(((size_t)o->mt_max_new + 1) *
					      sizeof(int))))
			goto nomem;
	}
	/* The caches are made on first use (ensure_state). */
	*out = r;
	return 0;
nomem:
	rc = err_set(e, ERR_NOMEM, "out of memory");
	tasks_runner_free(r);
	return rc;
}

/* Cache i holds at least `need` positions (grown in steps of 256, capped
 * at the context): a short-prompt run on a 2048-position model does not
 * pay for the whole context. Growing forgets the cache's contents. */
static int ensure_state(struct tasks_runner *r, int i, int need,
			struct err *e)
{
	if (r->fs[i] && r->fs[i]->max_pos >= need)
		return 0;
	int cap = (need + 255) / 256 * 256;
	if (cap > r->ctx)
		cap = r->ctx;
	fwd_free(r->fs[i]);
	r->fs[i] = NULL;
	r->held[i].n = -1;
	return fwd_new(r->m, cap, 0, &r->fs[i], e);
}

/* Natural-log softmax of logits into lp (V). */
static void log_softmax(const float *logits, float *lp, int V)
{
	float mx = logits[0];
	for (int i = 1; i < V; i++)
		if (logits[i] > mx)
			mx = logits[i];
	double s = 0;
	for (int i = 0; i < V; i++)
		s += exp((double)logits[i] - mx);
	double lse = mx + log(s);
	for (int i = 0; i < V; i++)
		lp[i] = (float)(logits[i] - lse);
}

static double log_prob(const float *logits, int V, int tok)
{
	float mx = logits[0];
	for (int i = 1; i < V; i++)
		if (logits[i] > mx)
			mx = logits[i];
	double s = 0;
	for (int i = 0; i < V; i++)
		s += exp((double)logits[i] - mx);
	return (double)logits[tok] - mx - log(s);
}

/* Drops tokens after the first so that n + room <= ctx; returns how many
 * (or -1 when even BOS + room does not fit). */
static int fit_left(int *ids, size_t *n, int room, int ctx)
{
	if ((long)*n + room <= ctx)
		return 0;
	long drop = (long)*n + room - ctx;
	if (drop > (long)*n - 1)
		return -1;
	memmove(ids + 1, ids + 1 + drop, (*n - 1 - (size_t)drop) * sizeof *ids);
	*n -= (size_t)drop;
	return (int)drop;
}

static int encode_prompt(const struct tasks_runner *r,
			 const struct tasks_row *row, const char *extra,
			 int **ids, size_t *n, struct err *e)
{
	char *p = NULL;
	int rc = tasks_prompt(row->instruction, row->input, &p, e);
	if (rc)
		return rc;
	if (extra) {
		size_t a = strlen(p), b = strlen(extra);
		char *q = realloc(p, a + b + 1);
		if (!q) {
			free(p);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
		p = q;
		memcpy(p + a, extra, b + 1);
	}
	/* BOS as the template has it, never a template's trailing EOS. */
	int *raw = NULL;
	size_t nr = 0;
	rc = tok_encode(r->t, p, strlen(p), false, &raw, &nr, e);
	free(p);
	if (rc)
		return rc;
	int bos = tok_add_bos(r->t) ? tok_bos_id(r->t) : -1;
	int *v = malloc((nr + 1) * sizeof *v);
	if (!v) {
		free(raw);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	size_t k = 0;
	if (bos >= 0)
		v[k++] = bos;
	memcpy(v + k, raw, nr * sizeof *v);
	free(raw);
	*ids = v;
	*n = k + nr;
	return 0;
}

/* Label likelihood (tasks.h). */
static int run_labels(struct tasks_runner *r, const struct tasks_row *row,
		      struct tasks_result *out, struct err *e)
{
	int *pids = NULL, *full[3] = {NULL, NULL, NULL};
	size_t np = 0, nf[3] = {0, 0, 0};
	int rc = encode_prompt(r, row, NULL, &pids, &np, e);
	for (int c = 0; !rc && c < 3; c++)
		rc = encode_prompt(r, row, tasks_label(row->task, row->lang, c),
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
	int drop = fit_left(pids, &P, room, r->ctx);
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
	if ((rc = ensure_state(r, 0, (int)P + room, e)))
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
	if (!(out->response = dupn(buf, 1)))
		rc = err_set(e, ERR_NOMEM, "out of memory");
out:
	free(pids);
	for (int c = 0; c < 3; c++)
		free(full[c]);
	return rc;
}

struct text {
	char *s;
	size_t n, cap;
	bool nomem;
};

static int text_put(void *ctx, const char *s, size_t n)
{
	struct text *x = ctx;
	if (x->n + n + 1 > x->cap) {
		size_t c = (x->n + n + 1) * 2;
		char *p = realloc(x->s, c);
		if (!p) {
			x->nomem = true;
			return 1;
		}
		x->s = p;
		x->cap = c;
	}
	memcpy(x->s + x->n, s, n);
	x->n += n;
	x->s[x->n] = 0;
	return 0;
}

/* s trimmed of surrounding whitespace, malloc'd. */
static char *trimmed(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return dupn(s, n);
}

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
static int run_generate(struct tasks_runner *r, const struct tasks_row *row,
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
	int rc = encode_prompt(r, row, NULL, &ids, &n, e);
	if (rc)
		return rc;
	int drop = fit_left(ids, &n, go.max_new, r->ctx);
	if (drop < 0) {
		free(ids);
		return err_set(e, ERR_INVALID,
			       "'%s': %d new tokens do not fit in the "
			       "%d-position context",
			       row->id, go.max_new, r->ctx);
	}
	struct text x = {0};
	struct gen_stats st;
	r->held[0].n = -1;
	if ((rc = ensure_state(r, 0, (int)n + go.max_new, e))) {
		free(ids);
		return rc;
	}
	rc = gen_ids_state(r->fs[0], r->t, ids, n, &go, text_put, &x, &st,
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
	char *resp = trimmed(x.s ? x.s : "", x.n);
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

/* ---- beam search ---- */

struct beam {
	int *ids; /* (mt_max_new + 1) */
	int n;
	double sum; /* summed log-probs */
	int from;   /* parent index (candidates) */
	int tok;    /* the token appended (candidates) */
	bool ended;
};

static int lcp(const int *a, int na, const int *b, int nb)
{
	int k = 0;
	while (k < na && k < nb && a[k] == b[k])
		k++;
	return k;
}

/* Puts the next-token log-probs of beam ids[0..n) after the prompt
 * (pids, P) into lp, using one of the caches not in `used`. */
static int beam_logits(struct tasks_runner *r, const int *pids, int P,
		       const int *ids, int n, bool *used, float *lp,
		       struct err *e)
{
	if (n == 0) {
		memcpy(lp, r->lp0, (size_t)r->V * sizeof *lp);
		return 0;
	}
	int best = -1, best_k = -2;
	for (int s = 0; s < r->o.beams; s++) {
		if (used[s])
			continue;
		int k = r->held[s].n < 0
			    ? -1
			    : lcp(r->held[s].ids, r->held[s].n, ids, n);
		if (k > best_k) {
			best_k = k;
			best = s;
		}
	}
	int rc;
	used[best] = true;
	struct held *h = &r->held[best];
	if ((rc = ensure_state(r, best, P + r->o.mt_max_new, e)))
		return rc;
	if (r->held[best].n < 0)
		best_k = -1; /* a new cache holds no prompt */
	struct fwd_state *fs = r->fs[best];
	if (best_k < 0) {
		h->n = -1;
		fwd_reset(fs);
		if ((rc = fwd_run(fs, pids, P, NULL, e)))
			return rc;
		h->n = 0;
		best_k = 0;
	}
	if (best_k == n)
		best_k = n - 1; /* rerun the last token for its logits */
	h->n = -1;
	if ((rc = fwd_truncate(fs, P + best_k, e)) ||
	    (rc = fwd_run(fs, ids + best_k, n - best_k, NULL, e)))
		return rc;
	memcpy(h->ids, ids, (size_t)n * sizeof *ids);
	h->n = n;
	log_softmax(fs->logits, lp, r->V);
	return 0;
}

static int cmp_cand(const void *a, const void *b)
{
	const struct beam *x = a, *y = b;
	return x->sum > y->sum ? -1 : x->sum < y->sum ? 1 : 0;
}

static int run_beams(struct tasks_runner *r, const struct tasks_row *row,
		     struct tasks_result *out, struct err *e)
{
	int B = r->o.beams, M = r->o.mt_max_new, V = r->V;
	int *pids = NULL;
	size_t np = 0;
	int rc = encode_prompt(r, row, NULL, &pids, &np, e);
	if (rc)
		return rc;
	int drop = fit_left(pids, &np, M, r->ctx);
	struct beam *live = calloc((size_t)B, sizeof *live);
	struct beam *next = calloc((size_t)B, sizeof *next);
	struct beam *done = calloc((size_t)B, sizeof *done);
	struct beam *cand = calloc((size_t)B * B, sizeof *cand);
	int *store = malloc((size_t)3 * B * (M + 1) * sizeof *store);
	bool *used = calloc((size_t)B, sizeof *used);
	int n_live = 1, n_done = 0, eos = gen_eos_id(r->m, r->t),
	    nl = tok_byte_id(r->t, '\n');
	char *text = NULL;
	size_t tlen = 0;
	if (!live || !next || !done || !cand || !store || !used) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (drop < 0) {
		rc = err_set(e, ERR_INVALID,
			     "'%s': %d new tokens do not fit in the "
			     "%d-position context",
			     row->id, M, r->ctx);
		goto out;
	}
	for (int i = 0; i < B; i++) {
		live[i].ids = store + (size_t)i * (M + 1);
		next[i].ids = store + (size_t)(B + i) * (M + 1);
		done[i].ids = store + (size_t)(2 * B + i) * (M + 1);
	}
	/* The prompt, once, into cache 0. */
	for (int s = 0; s < B; s++)
		r->held[s].n = -1;
	if ((rc = ensure_state(r, 0, (int)np + M, e)))
		goto out;
	fwd_reset(r->fs[0]);
	if ((rc = fwd_run(r->fs[0], pids, (int)np, NULL, e)))
		goto out;
	r->held[0].n = 0;
	log_softmax(r->fs[0]->logits, r->lp0, V);
	live[0].n = 0;
	live[0].sum = 0;
	for (int step = 0; step < M && n_live > 0 && n_done < B; step++) {
		memset(used, 0, (size_t)B * sizeof *used);
		int nc = 0;
		for (int b = 0; b < n_live; b++) {
			float *lp = r->beam_lp + (size_t)b * V;
			if ((rc = beam_logits(r, pids, (int)np, live[b].ids,
					      live[b].n, used, lp, e)))
				goto out;
			/* This beam's B best tokens (selection). */
			for (int k = 0; k < B; k++) {
				int bt = -1;
				for (int v = 0; v < V; v++) {
					bool taken = false;
					for (int j = nc - k; j < nc; j++)
						taken |= cand[j].tok == v;
					if (!taken &&
					    (bt < 0 || lp[v] > lp[bt]))
						bt = v;
				}
				cand[nc].from = b;
				cand[nc].tok = bt;
				cand[nc].sum = live[b].sum + lp[bt];
				nc++;
			}
		}
		qsort(cand, (size_t)nc, sizeof *cand, cmp_cand);
		int n_next = 0;
		for (int c = 0; c < nc && n_next < B; c++) {
			const struct beam *p = &live[cand[c].from];
			bool end = cand[c].tok == eos || cand[c].tok == nl;
			struct beam *dst;
			if (end) {
				if (n_done >= B)
					continue;
				dst = &done[n_done++];
			} else {
				dst = &next[n_next++];
			}
			memcpy(dst->ids, p->ids, (size_t)p->n * sizeof(int));
			dst->ids[p->n] = cand[c].tok;
			dst->n = p->n + 1;
			dst->sum = cand[c].sum;
			dst->ended = end;
		}
		struct beam *tmp = live;
		live = next;
		next = tmp;
		n_live = n_next;
	}
	/* Live beams at the limit count as ended. */
	for (int b = 0; b < n_live && n_done < B; b++) {
		struct beam *dst = &done[n_done++];
		memcpy(dst->ids, live[b].ids, (size_t)live[b].n * sizeof(int));
		dst->n = live[b].n;
		dst->sum = live[b].sum;
		dst->ended = false;
	}
	int best = -1;
	double best_score = 0;
	for (int i = 0; i < n_done; i++) {
		double sc = done[i].n ? done[i].sum / done[i].n : 0;
		if (best < 0 || sc > best_score) {
			best = i;
			best_score = sc;
		}
	}
	int n_tok = 0;
	if (best >= 0) {
		n_tok = done[best].n;
		if (done[best].ended)
			n_tok--; /* the EOS or newline */
	}
	out->new_tokens = n_tok;
	if ((rc = tok_decode(r->t, best >= 0 ? done[best].ids : pids,
			     (size_t)n_tok, true, &text, &tlen, e)))
		goto out;
	const char *cut = memchr(text, '\n', tlen);
	if (cut)
		tlen = (size_t)(cut - text);
	out->response = trimmed(text, tlen);
	if (!out->response)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	out->truncated = drop;
	out->prompt_tokens = (int)np;
	out->choice = -1;
out:
	free(text);
	free(pids);
	free(live);
	free(next);
	free(done);
	free(cand);
	free(store);
	free(used);
	return rc;
}

int tasks_run_row(struct tasks_runner *r, const struct tasks_row *row,
		  struct tasks_result *out, struct err *e)
{
	double t0 = now();
	memset(out, 0, sizeof *out);
	out->choice = -1;
	int rc;
	if (row->task == SCORE_MT)
		rc = r->o.beams > 1 ? run_beams(r, row, out, e)
				    : run_generate(r, row, out, e);
	else if (r->o.generate)
		rc = run_generate(r, row, out, e);
	else
		rc = run_labels(r, row, out, e);
	out->seconds = now() - t0;
	if (rc) {
		free(out->response);
		out->response = NULL;
		err_wrap(e, "row '%s'", row->id);
	}
	return rc;
}

int tasks_run(const struct model *m, const struct tokenizer *t,
	      const struct tasks_data *d, const struct tasks_opts *o,
	      const struct progress *prog, struct tasks_result *results,
	      struct err *e)
{
	struct tasks_runner *r = NULL;
	int rc = tasks_runner_new(m, t, o, &r, e);
	if (rc)
		return rc;
	int done = 0;
	for (int i = 0; i < d->n; i++)
		done += results[i].response != NULL;
	for (int i = 0; i < d->n && !rc; i++) {
		if (results[i].response)
			continue;
		if ((rc = tasks_run_row(r, &d->rows[i], &results[i], e)))
			break;
		done++;
		rc = progress_report(prog, d->n ? (double)done / d->n : 1,
				     "running tasks", e);
	}
	tasks_runner_free(r);
	return rc;
}

void tasks_results_free(struct tasks_result *res, int n)
{
	for (int i = 0; res && i < n; i++) {
		free(res[i].response);
		res[i].response = NULL;
	}
}

/* ------------------------------------------------------------------ */
/* CSV out and in                                                      */

static int put_field(struct text *x, const char *s)
{
	bool q = strpbrk(s, ",\"\r\n") != NULL;
	if (q && text_put(x, "\"", 1))
		return -1;
	for (const char *c = s; *c; c++) {
		if (*c == '"' && text_put(x, "\"", 1))
			return -1;
		if (text_put(x, c, 1))
			return -1;
	}
	return q && text_put(x, "\"", 1) ? -1 : 0;
}

/* ID,Response of the done rows (with a target when need_target). */
static int sub_csv(const struct tasks_data *d, const struct tasks_result *res,
		   bool need_target, char **out, size_t *len, struct err *e)
{
	struct text x = {0};
	int bad = text_put(&x, "ID,Response\n", 12);
	for (int i = 0; i < d->n && !bad; i++) {
		if (!res[i].response || (need_target && !d->rows[i].target))
			continue;
		bad = put_field(&x, d->rows[i].id) || text_put(&x, ",", 1) ||
		      put_field(&x, res[i].response) || text_put(&x, "\n", 1);
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
		rc = err_set(e, ERR_FORMAT,
			     "'%s': expected columns 'ID' and 'Response'",
			     path);
		goto out;
	}
	if (!(ix = sorted_ids(d, e))) {
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
		char *p = dupn(s, strlen(s));
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
	struct text x = {0};
	int bad = text_put(&x, split ? "ID,task,lang,split,target\n"
				     : "ID,task,lang,target\n",
			   split ? 26 : 20);
	for (int i = 0; i < d->n && !bad; i++) {
		const struct tasks_row *r = &d->rows[i];
		if (!res[i].response || !r->target)
			continue;
		bad = put_field(&x, r->id) || text_put(&x, ",", 1) ||
		      put_field(&x, score_task_name(r->task)) ||
		      text_put(&x, ",", 1) ||
		      put_field(&x, score_lang_name(r->lang)) ||
		      text_put(&x, ",", 1) ||
		      (split && (put_field(&x, score_split_name(r->split)) ||
				 text_put(&x, ",", 1))) ||
		      put_field(&x, r->target) || text_put(&x, "\n", 1);
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
