/* vocab — frequency counting, merge-closed keep sets, rewrite (vocab.h). */
#include "vocab.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csv.h"
#include "fileio.h"
#include "tok_impl.h"

#define CHUNK (1u << 20)     /* read size */
#define CSV_BATCH (4u << 20) /* CSV bytes parsed at once */
#define MAX_OUT_JSON ((size_t)1 << 30)

/* ===================================================================== */
/* counting                                                              */
/* ===================================================================== */

int vocab_counts_new(const struct tokenizer *t, struct vocab_counts **out,
		     struct err *e)
{
	*out = NULL;
	int n = tok_vocab_size(t);
	struct vocab_counts *c = calloc(1, sizeof *c);
	if (!c ||
	    !(c->count = calloc(n > 0 ? (size_t)n : 1, sizeof *c->count))) {
		free(c);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	c->n_vocab = n;
	*out = c;
	return 0;
}

void vocab_counts_free(struct vocab_counts *c)
{
	if (!c)
		return;
	free(c->count);
	free(c);
}

static uint64_t count_words(const char *s, size_t n)
{
	uint64_t w = 0;
	bool in = false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool sp = ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' ||
			  ch == '\f' || ch == '\r';
		if (!sp && !in)
			w++;
		in = !sp;
	}
	return w;
}

/* What the readers share: the tokenizer, the totals, and for SentencePiece
 * a reusable encoder state (its word cache makes counting fast). */
struct counter {
	const struct tokenizer *t;
	struct vocab_counts *c;
	struct spm_state st;
	uint64_t max_bytes;
	bool full; /* max_bytes reached */
	const struct progress *p;
	uint64_t read, total; /* file bytes, for progress */
};

static int count_record(struct counter *k, const char *s, size_t n,
			struct err *e)
{
	struct vocab_counts *c = k->c;
	if (k->full)
		return 0;
	if (k->t->kind == TOK_SPM) {
		int rc = spm_encode_state(k->t->spm, s, n, &k->st, e);
		if (rc)
			return rc;
		for (size_t i = 0; i < k->st.n; i++)
			if (k->st.ids[i] >= 0 && k->st.ids[i] < c->n_vocab)
				c->count[k->st.ids[i]]++;
		c->tokens += k->st.n;
	} else {
		int *ids;
		size_t m;
		int rc = tok_encode(k->t, s, n, false, &ids, &m, e);
		if (rc)
			return rc;
		for (size_t i = 0; i < m; i++)
			if (ids[i] >= 0 && ids[i] < c->n_vocab)
				c->count[ids[i]]++;
		c->tokens += m;
		free(ids);
	}
	c->bytes += n;
	c->words += count_words(s, n);
	c->lines++;
	if (k->max_bytes && c->bytes >= k->max_bytes)
		k->full = true;
	return 0;
}

int vocab_count_text(const struct tokenizer *t, const char *text, size_t len,
		     struct vocab_counts *c, struct err *e)
{
	if (c->n_vocab != tok_vocab_size(t))
		return err_set(e, ERR_INVALID,
			       "counts for %d ids used with a tokenizer of %d",
			       c->n_vocab, tok_vocab_size(t));
	struct counter k = {.t = t, .c = c};
	int rc = count_record(&k, text, len, e);
	spm_state_free(&k.st);
	return rc;
}

static int report(struct counter *k, const char *path, struct err *e)
{
	double done = k->total ? (double)k->read / (double)k->total : 0.0;
	if (done > 1.0)
		done = 1.0;
	(void)path;
	return progress_report(k->p, done, "counting tokens", e);
}

/* A text or JSONL line: strip a CR before the LF. */
static int text_line(struct counter *k, enum vocab_format fmt,
		     const char *field, const char *path, uint64_t lineno,
		     char *s, size_t n, struct err *e)
{
	if (n && s[n - 1] == '\r')
		n--;
	if (fmt == VOCAB_TEXT)
		return count_record(k, s, n, e);
	/* JSONL: blank lines are skipped; a record without the field (or
	 * with a non-string value) counts as skipped */
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == n)
		return 0;
	cJSON *j = cJSON_ParseWithLength(s, n);
	if (!j)
		return err_set(e, ERR_FORMAT, "'%s' line %llu: malformed JSON",
			       path, (unsigned long long)lineno);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, field);
	int rc = 0;
	if (cJSON_IsString(v))
		rc = count_record(k, v->valuestring, strlen(v->valuestring), e);
	else
		k->c->skipped++;
	cJSON_Delete(j);
	return rc;
}

/* Reads the next CHUNK of f after buf[0..have), doubling buf (capacity
 * cap, one spare byte for a NUL) when less than a CHUNK is free. ERR_FORMAT
 * when buf would grow past max_cap (a record too long: the caller names
 * it); *got = 0 at the end of the file. */
static int read_chunk(struct counter *k, FILE *f, const char *path,
		      char **buf, size_t *cap, size_t *have, size_t max_cap,
		      size_t *got, struct err *e)
{
	if (*cap - *have < CHUNK) {
		if (*cap > max_cap)
			return ERR_FORMAT;
		char *b = realloc(*buf, 2 * *cap + 1);
		if (!b)
			return err_set(e, ERR_NOMEM, "out of memory");
		*buf = b;
		*cap *= 2;
	}
	*got = fread(*buf + *have, 1, CHUNK, f);
	if (*got == 0 && ferror(f))
		return err_errno(e, ERR_IO, "cannot read '%s'", path);
	k->read += *got;
	*have += *got;
	return 0;
}

static int count_lines_file(struct counter *k, FILE *f, const char *path,
			    enum vocab_format fmt, const char *field,
			    struct err *e)
{
	size_t cap = 2 * CHUNK, have = 0;
	char *buf = malloc(cap + 1);
	uint64_t lineno = 0;
	int rc = 0;
	if (!buf)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (;;) {
		size_t got;
		if ((rc = read_chunk(k, f, path, &buf, &cap, &have,
				     VOCAB_MAX_RECORD + 2 * (size_t)CHUNK, &got,
				     e))) {
			if (rc == ERR_FORMAT)
				err_set(e, ERR_FORMAT,
					"'%s' line %llu: longer than %u bytes",
					path, (unsigned long long)lineno + 1,
					VOCAB_MAX_RECORD);
			break;
		}
		bool eof = got == 0;
		size_t start = 0;
		for (;;) {
			char *nl = memchr(buf + start, '\n', have - start);
			if (!nl)
				break;
			size_t n = (size_t)(nl - (buf + start));
			lineno++;
			if ((rc = text_line(k, fmt, field, path, lineno,
					    buf + start, n, e)))
				goto out;
			start += n + 1;
		}
		if (eof) {
			if (have > start)
				rc = text_line(k, fmt, field, path, ++lineno,
					       buf + start, have - start, e);
			break;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if ((rc = report(k, path, e)) || k->full)
			break;
	}
out:
	free(buf);
	return rc;
}

/* CSV record boundaries, RFC 4180 as core/csv.c reads it: a quote opens
 * a quoted field only at the start of a field. */
enum csv_state { CS_START, CS_PLAIN, CS_QUOTED, CS_QQ };

static enum csv_state csv_step(enum csv_state s, char ch, bool *end)
{
	*end = false;
	switch (s) {
	case CS_START:
		if (ch == '"')
			return CS_QUOTED;
		if (ch == ',')
			return CS_START;
		if (ch == '\n') {
			*end = true;
			return CS_START;
		}
		return CS_PLAIN;
	case CS_PLAIN:
		if (ch == ',')
			return CS_START;
		if (ch == '\n') {
			*end = true;
			return CS_START;
		}
		return CS_PLAIN;
	case CS_QUOTED:
		return ch == '"' ? CS_QQ : CS_QUOTED;
	case CS_QQ:
		if (ch == '"')
			return CS_QUOTED;
		if (ch == ',')
			return CS_START;
		if (ch == '\n') {
			*end = true;
			return CS_START;
		}
		return ch == '\r' ? CS_QQ : CS_PLAIN;
	}
	return s;
}

/* Parses the header plus buf[hlen..end) with csv_parse and counts the
 * column. */
static int csv_batch(struct counter *k, const char *buf, size_t end,
		     const char *column, const char *path, uint64_t before,
		     struct err *e)
{
	struct csv_table tab;
	int rc = csv_parse(buf, end, path, &tab, e);
	if (rc && before)
		return err_wrap(e,
				"in the records after line %llu "
				"(line numbers count from there, header "
				"first)",
				(unsigned long long)before);
	if (rc)
		return rc;
	int col = csv_col(&tab, column);
	if (col < 0) {
		csv_free(&tab);
		return err_set(e, ERR_NOTFOUND, "'%s': no column '%s'", path,
			       column);
	}
	for (int r = 0; r < tab.n_rows && !rc; r++) {
		const char *s = csv_cell(&tab, r, col);
		rc = count_record(k, s, strlen(s), e);
	}
	csv_free(&tab);
	return rc;
}

static int count_csv_file(struct counter *k, FILE *f, const char *path,
			  const char *column, struct err *e)
{
	size_t cap = CSV_BATCH + CHUNK, have = 0, scanned = 0, hlen = 0;
	size_t last = 0;     /* end of the last complete record */
	uint64_t before = 0; /* lines of the file before the batch's records */
	bool have_header = false;
	enum csv_state st = CS_START;
	char *buf = malloc(cap + 1);
	int rc = 0;
	if (!buf)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (;;) {
		size_t got;
		if ((rc = read_chunk(k, f, path, &buf, &cap, &have,
				     VOCAB_MAX_RECORD + CSV_BATCH +
					     2 * (size_t)CHUNK,
				     &got, e))) {
			if (rc == ERR_FORMAT)
				err_set(e, ERR_FORMAT,
					"'%s': a record longer than %u bytes",
					path, VOCAB_MAX_RECORD);
			break;
		}
		bool eof = got == 0;
		for (; scanned < have; scanned++) {
			bool end;
			st = csv_step(st, buf[scanned], &end);
			if (!end)
				continue;
			if (!have_header) {
				/* the header; blank lines before it are
				 * skipped by csv_parse as well */
				bool blank = true;
				for (size_t i = 0; i <= scanned; i++)
					if (buf[i] != '\n' && buf[i] != '\r')
						blank = false;
				if (blank)
					continue;
				have_header = true;
				hlen = scanned + 1;
			}
			last = scanned + 1;
		}
		if ((rc = report(k, path, e)))
			break;
		if (!eof && (last < hlen + CSV_BATCH || !have_header))
			continue;
		if (eof)
			last = have;
		if (!have_header) {
			/* a header without a newline, or an empty file */
			if (have &&
			    (rc = csv_batch(k, buf, have, column, path, 0, e)))
				break;
			break;
		}
		if (last > hlen &&
		    (rc = csv_batch(k, buf, last, column, path, before, e)))
			break;
		if (eof || k->full)
			break;
		if (!before)
			for (size_t i = 0; i < hlen; i++)
				before += buf[i] == '\n';
		for (size_t i = hlen; i < last; i++)
			before += buf[i] == '\n';
		memmove(buf + hlen, buf + last, have - last);
		have = hlen + (have - last);
		scanned = hlen + (scanned - last);
		last = hlen;
	}
	free(buf);
	return rc;
}

static bool has_ext(const char *p, const char *ext)
{
	size_t n = strlen(p), m = strlen(ext);
	if (n < m)
		return false;
	for (size_t i = 0; i < m; i++) {
		char a = p[n - m + i], b = ext[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

int vocab_count_files(const struct tokenizer *t, const char *const *paths,
		      size_t n, const struct vocab_count_opts *opts,
		      struct vocab_counts **out, const struct progress *p,
		      struct err *e)
{
	struct vocab_count_opts def = {0};
	if (!opts)
		opts = &def;
	*out = NULL;
	struct vocab_counts *c;
	int rc = vocab_counts_new(t, &c, e);
	if (rc)
		return rc;
	struct counter k = {
	    .t = t, .c = c, .max_bytes = opts->max_bytes, .p = p};
	for (size_t i = 0; i < n; i++) {
		struct stat sb;
		if (stat(paths[i], &sb) == 0)
			k.total += (uint64_t)sb.st_size;
	}
	for (size_t i = 0; i < n && !rc && !k.full; i++) {
		enum vocab_format fmt = opts->format;
		if (fmt == VOCAB_AUTO)
			fmt = has_ext(paths[i], ".csv") ? VOCAB_CSV
			      : has_ext(paths[i], ".jsonl") ||
				      has_ext(paths[i], ".ndjson")
				  ? VOCAB_JSONL
				  : VOCAB_TEXT;
		if (fmt == VOCAB_CSV && !opts->column) {
			rc = err_set(e, ERR_INVALID,
				     "'%s': a CSV corpus needs a column name",
				     paths[i]);
			break;
		}
		if (fmt == VOCAB_JSONL && !opts->field) {
			rc = err_set(e, ERR_INVALID,
				     "'%s': a JSONL corpus needs a field name",
				     paths[i]);
			break;
		}
		FILE *f = fopen(paths[i], "rb");
		if (!f) {
			rc = err_errno(e, ERR_IO, "cannot open '%s'", paths[i]);
			break;
		}
		if (fmt == VOCAB_CSV)
			rc = count_csv_file(&k, f, paths[i], opts->column, e);
		else
			rc = count_lines_file(&k, f, paths[i], fmt, opts->field,
					      e);
		fclose(f);
		c->n_files++;
	}
	if (!rc)
		rc = progress_report(p, 1.0, "counting tokens", e);
	spm_state_free(&k.st);
	if (rc) {
		vocab_counts_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* ===================================================================== */
/* keep sets                                                             */
/* ===================================================================== */

#define COST_INF (1 << 29)

/* Merge structure of a tokenizer, by result: the merges producing each
 * piece (CSR), plus which pieces are "base" (reachable once kept). */
struct graph {
	int n;
	int *first;	     /* (n + 1) into rank[] */
	int *rank;	     /* merge ranks, grouped by result, ascending */
	int *mleft, *mright; /* (n_merges) */
	uint8_t *forced;     /* (n) always kept */
	uint8_t *base;	     /* (n) one character, forced, or Unigram */
	uint8_t *present;
	/* closure scratch */
	int *cost, *best; /* (n) cost memo, chosen merge rank (-1: base) */
	unsigned *stamp;  /* (n) epoch of cost */
	unsigned epoch;
	int *stack; /* collected pieces */
	int n_stack;
	unsigned *cstamp; /* (n) epoch of collection */
};

static void graph_free(struct graph *g)
{
	free(g->first);
	free(g->rank);
	free(g->mleft);
	free(g->mright);
	free(g->forced);
	free(g->base);
	free(g->present);
	free(g->cost);
	free(g->best);
	free(g->stamp);
	free(g->stack);
	free(g->cstamp);
	memset(g, 0, sizeof *g);
}

static bool one_char(const char *s, size_t n)
{
	if (n == 0)
		return false;
	unsigned char c = (unsigned char)s[0];
	size_t l = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	return l == n;
}

static bool is_unigram(const struct tokenizer *t)
{
	return t->kind == TOK_SPM && spm_model_type(t->spm) == SPM_UNIGRAM;
}

static int graph_build(const struct tokenizer *t, struct graph *g,
		       struct err *e)
{
	memset(g, 0, sizeof *g);
	int n = tok_vocab_size(t);
	size_t nm = tok_merge_count(t);
	if (nm > (size_t)COST_INF)
		return err_set(e, ERR_NOMEM, "too many merges");
	g->n = n;
	size_t un = n > 0 ? (size_t)n : 1;
	g->first = calloc(un + 1, sizeof *g->first);
	g->rank = malloc((nm ? nm : 1) * sizeof *g->rank);
	g->mleft = malloc((nm ? nm : 1) * sizeof *g->mleft);
	g->mright = malloc((nm ? nm : 1) * sizeof *g->mright);
	g->forced = calloc(un, 1);
	g->base = calloc(un, 1);
	g->present = calloc(un, 1);
	g->cost = calloc(un, sizeof *g->cost);
	g->best = calloc(un, sizeof *g->best);
	g->stamp = calloc(un, sizeof *g->stamp);
	g->stack = malloc(un * sizeof *g->stack);
	g->cstamp = calloc(un, sizeof *g->cstamp);
	int *res = malloc((nm ? nm : 1) * sizeof *res);
	if (!g->first || !g->rank || !g->mleft || !g->mright || !g->forced ||
	    !g->base || !g->present || !g->cost || !g->best || !g->stamp ||
	    !g->stack || !g->cstamp || !res) {
		free(res);
		graph_free(g);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	for (size_t r = 0; r < nm; r++) {
		int l, rr, x;
		tok_merge(t, r, &l, &rr, &x);
		g->mleft[r] = l;
		g->mright[r] = rr;
		res[r] = x;
		g->first[x + 1]++;
	}
	for (int i = 0; i < n; i++)
		g->first[i + 1] += g->first[i];
	int *fill = malloc(un * sizeof *fill);
	if (!fill) {
		free(res);
		graph_free(g);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	memcpy(fill, g->first, un * sizeof *fill);
	for (size_t r = 0; r < nm; r++)
		g->rank[fill[res[r]]++] = (int)r;
	free(fill);
	free(res);
	bool uni = is_unigram(t);
	for (int i = 0; i < n; i++) {
		size_t len;
		const char *s = tok_piece(t, i, &len);
		if (!s)
			continue;
		g->present[i] = 1;
		bool f = tok_is_special(t, i) || tok_is_added(t, i) ||
			 tok_is_byte(t, i) || i == tok_unk_id(t) ||
			 i == tok_bos_id(t) || i == tok_eos_id(t);
		g->forced[i] = f;
		g->base[i] = f || uni || one_char(s, len);
	}
	return 0;
}

/* Pieces (not kept yet) that make `id` reachable, cheapest merge first:
 * the cost is 1 for the piece plus its parts' costs (a shared sub-piece
 * is counted twice: a bound used only to choose; the set collected below
 * is exact). */
static int cost_of(struct graph *g, const uint8_t *kept, int id, int depth)
{
	if (kept[id])
		return 0;
	if (g->stamp[id] == g->epoch)
		return g->cost[id];
	int best = COST_INF, bm = -1;
	if (g->base[id]) {
		best = 1;
	} else if (depth < 256) {
		for (int k = g->first[id]; k < g->first[id + 1]; k++) {
			int r = g->rank[k];
			int c = cost_of(g, kept, g->mleft[r], depth + 1);
			if (c >= best)
				continue;
			c += cost_of(g, kept, g->mright[r], depth + 1);
			if (c + 1 < best) {
				best = c + 1;
				bm = r;
			}
		}
	}
	if (best > COST_INF)
		best = COST_INF;
	g->stamp[id] = g->epoch;
	g->cost[id] = best;
	g->best[id] = bm;
	return best;
}

static void collect(struct graph *g, const uint8_t *kept, int id)
{
	if (kept[id] || g->cstamp[id] == g->epoch)
		return;
	g->cstamp[id] = g->epoch;
	g->stack[g->n_stack++] = id;
	int r = g->best[id];
	if (r >= 0 && !g->base[id]) {
		collect(g, kept, g->mleft[r]);
		collect(g, kept, g->mright[r]);
	}
}

/* Collects what `id` needs (itself included) into g->stack; returns the
 * count, or -1 when it can never be reachable. */
static int needs(struct graph *g, const uint8_t *kept, int id)
{
	g->epoch++;
	g->n_stack = 0;
	if (cost_of(g, kept, id, 0) >= COST_INF)
		return -1;
	collect(g, kept, id);
	return g->n_stack;
}

/* The pieces ranked by count (descending), ties by id: forced pieces and
 * holes excluded. */
struct ranked {
	uint64_t count;
	int id;
};

static int rank_cmp(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

static int *ranking(const struct graph *g, const struct vocab_counts *c,
		    int *n_out)
{
	size_t un = g->n ? (size_t)g->n : 1;
	int *v = malloc(un * sizeof *v), m = 0;
	struct ranked *r = malloc(un * sizeof *r);
	if (!v || !r) {
		free(v);
		free(r);
		return NULL;
	}
	for (int i = 0; i < g->n; i++)
		if (g->present[i] && !g->forced[i])
			r[m++] = (struct ranked){c->count[i], i};
	qsort(r, (size_t)m, sizeof *r, rank_cmp);
	for (int i = 0; i < m; i++)
		v[i] = r[i].id;
	free(r);
	*n_out = m;
	return v;
}

static int unreachable_in(const struct graph *g, const uint8_t *kept,
			  const struct tokenizer *t, struct err *e)
{
	/* parts are strictly shorter than their result: decide by length */
	int n = g->n, bad = 0;
	uint8_t *reach = calloc(n ? (size_t)n : 1, 1);
	int *order = malloc((n ? (size_t)n : 1) * sizeof *order);
	size_t *len = malloc((n ? (size_t)n : 1) * sizeof *len);
	if (!reach || !order || !len) {
		free(reach);
		free(order);
		free(len);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	int m = 0;
	size_t maxlen = 0;
	for (int i = 0; i < n; i++) {
		if (!kept[i])
			continue;
		tok_piece(t, i, &len[i]);
		if (len[i] > maxlen)
			maxlen = len[i];
		order[m++] = i;
	}
	/* counting sort by length */
	size_t *cnt = calloc(maxlen + 2, sizeof *cnt);
	int *sorted = malloc((m ? (size_t)m : 1) * sizeof *sorted);
	if (!cnt || !sorted) {
		free(cnt);
		free(sorted);
		free(reach);
		free(order);
		free(len);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	for (int i = 0; i < m; i++)
		cnt[len[order[i]] + 1]++;
	for (size_t l = 0; l <= maxlen; l++)
		cnt[l + 1] += cnt[l];
	for (int i = 0; i < m; i++)
		sorted[cnt[len[order[i]]]++] = order[i];
	for (int i = 0; i < m; i++) {
		int id = sorted[i];
		if (g->base[id]) {
			reach[id] = 1;
			continue;
		}
		for (int k = g->first[id]; k < g->first[id + 1]; k++) {
			int r = g->rank[k], l = g->mleft[r], rr = g->mright[r];
			if (kept[l] && kept[rr] && reach[l] && reach[rr]) {
				reach[id] = 1;
				break;
			}
		}
		if (!reach[id])
			bad++;
	}
	free(cnt);
	free(sorted);
	free(reach);
	free(order);
	free(len);
	return bad;
}

int vocab_count_unreachable(const struct tokenizer *t, const uint8_t *kept,
			    struct err *e)
{
	struct graph g;
	int rc = graph_build(t, &g, e);
	if (rc)
		return rc;
	rc = unreachable_in(&g, kept, t, e);
	graph_free(&g);
	return rc;
}

void vocab_keep_free(struct vocab_keep *k)
{
	if (!k)
		return;
	free(k->keep);
	free(k->old_to_new);
	free(k);
}

/* Fills the keep struct from the kept flags and computes the stats. */
static int keep_finish(const struct tokenizer *t, struct graph *g,
		       const struct vocab_counts *c, const uint8_t *kept,
		       const uint8_t *chosen, const int *rank, int n_rank,
		       bool closure, struct vocab_keep **out, struct err *e)
{
	struct vocab_keep *k = calloc(1, sizeof *k);
	int n = g->n;
	if (!k)
		return err_set(e, ERR_NOMEM, "out of memory");
	k->n_old = n;
	k->closure = closure;
	k->keep = malloc((n ? (size_t)n : 1) * sizeof *k->keep);
	k->old_to_new = malloc((n ? (size_t)n : 1) * sizeof *k->old_to_new);
	if (!k->keep || !k->old_to_new) {
		vocab_keep_free(k);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	for (int i = 0; i < n; i++) {
		k->old_to_new[i] = -1;
		if (!kept[i])
			continue;
		k->old_to_new[i] = k->n_keep;
		k->keep[k->n_keep++] = i;
		k->kept_tokens += c->count[i];
		k->n_forced += g->forced[i];
	}
	k->tokens = c->tokens;
	k->coverage =
	    c->tokens ? (double)k->kept_tokens / (double)c->tokens : 1.0;
	int u = unreachable_in(g, kept, t, e);
	if (u < 0) {
		vocab_keep_free(k);
		return u;
	}
	k->unreachable = u;
	for (int i = n_rank - 1; i >= 0 && k->n_margin < VOCAB_MARGIN; i--)
		if (chosen[rank[i]])
			k->margin[k->n_margin++] = rank[i];
	*out = k;
	return 0;
}

/* The naive cutoff's unreachable count: kept = forced + rank[0..m). */
static int naive_unreachable(const struct tokenizer *t, struct graph *g,
			     const int *rank, int m, struct err *e)
{
	uint8_t *kept = calloc(g->n ? (size_t)g->n : 1, 1);
	if (!kept)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (int i = 0; i < g->n; i++)
		kept[i] = g->forced[i];
	for (int i = 0; i < m; i++)
		kept[rank[i]] = 1;
	int u = unreachable_in(g, kept, t, e);
	free(kept);
	return u;
}

static int keep_common(const struct tokenizer *t, const struct vocab_counts *c,
		       int k_target, uint64_t min_count, bool by_count,
		       bool closure, struct vocab_keep **out, struct err *e)
{
	*out = NULL;
	if (c->n_vocab != tok_vocab_size(t))
		return err_set(e, ERR_INVALID,
			       "counts for %d ids used with a tokenizer of %d",
			       c->n_vocab, tok_vocab_size(t));
	struct graph g;
	int rc = graph_build(t, &g, e);
	if (rc)
		return rc;
	int n_rank = 0, n_forced = 0;
	int *rank = ranking(&g, c, &n_rank);
	uint8_t *kept = calloc(g.n ? (size_t)g.n : 1, 1);
	uint8_t *chosen = calloc(g.n ? (size_t)g.n : 1, 1);
	int n_closure = 0, n_skipped = 0, naive_m = 0;
	if (!rank || !kept || !chosen) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < g.n; i++)
		if (g.forced[i]) {
			kept[i] = 1;
			n_forced++;
		}
	if (!by_count && k_target < n_forced) {
		rc = err_set(e, ERR_INVALID,
			     "keep %d is below the %d pieces always kept "
			     "(specials, unk and byte pieces)",
			     k_target, n_forced);
		goto out;
	}
	int budget = by_count ? g.n : k_target - n_forced;
	if (by_count) {
		while (naive_m < n_rank && c->count[rank[naive_m]] >= min_count)
			naive_m++;
	} else {
		naive_m = budget < n_rank ? budget : n_rank;
	}
	if (!closure) {
		for (int i = 0; i < naive_m; i++)
			kept[rank[i]] = chosen[rank[i]] = 1;
	} else {
		int limit = by_count ? naive_m : n_rank;
		for (int i = 0; i < limit && budget > 0; i++) {
			int id = rank[i];
			if (kept[id])
				continue;
			int need = needs(&g, kept, id);
			if (need < 0 || need > budget) {
				n_skipped++;
				continue;
			}
			for (int s = 0; s < g.n_stack; s++)
				kept[g.stack[s]] = 1;
			chosen[id] = 1;
			budget -= need;
		}
	}
	rc = keep_finish(t, &g, c, kept, chosen, rank, n_rank, closure, out, e);
	if (rc)
		goto out;
	/* closure parents: kept pieces the naive cutoff would not keep */
	for (int i = naive_m; i < n_rank; i++)
		n_closure += kept[rank[i]];
	(*out)->n_closure = n_closure;
	(*out)->n_skipped = n_skipped;
	int nu = naive_unreachable(t, &g, rank, naive_m, e);
	if (nu < 0) {
		rc = nu;
		vocab_keep_free(*out);
		*out = NULL;
		goto out;
	}
	(*out)->naive_unreachable = nu;
out:
	free(rank);
	free(kept);
	free(chosen);
	graph_free(&g);
	return rc;
}

int vocab_keep_top_k(const struct tokenizer *t, const struct vocab_counts *c,
		     int k, bool closure, struct vocab_keep **out,
		     struct err *e)
{
	return keep_common(t, c, k, 0, false, closure, out, e);
}

int vocab_keep_min_count(const struct tokenizer *t,
			 const struct vocab_counts *c, uint64_t min_count,
			 bool closure, struct vocab_keep **out, struct err *e)
{
	return keep_common(t, c, 0, min_count, true, closure, out, e);
}

/* ===================================================================== */
/* rewrite                                                               */
/* ===================================================================== */

static int check_keep(const struct tokenizer *t, const struct vocab_keep *k,
		      struct err *e)
{
	if (k->n_old != tok_vocab_size(t) || k->n_keep <= 0 ||
	    k->n_keep > k->n_old)
		return err_set(
		    e, ERR_INVALID,
		    "keep set for %d ids used with a tokenizer of %d", k->n_old,
		    tok_vocab_size(t));
	for (int i = 0; i < k->n_keep; i++) {
		int id = k->keep[i];
		if (id < 0 || id >= k->n_old || (i && id <= k->keep[i - 1]) ||
		    k->old_to_new[id] != i || !tok_piece(t, id, NULL))
			return err_set(e, ERR_INVALID,
				       "keep set: entry %d (id %d) is invalid",
				       i, id);
	}
	return 0;
}

/* The new tokenizer's template and BOS/EOS follow the source's. */
static int copy_template(struct tokenizer *d, const struct tokenizer *s,
			 const struct vocab_keep *k, struct err *e)
{
	int *pre = malloc((s->n_tpl_pre + 1) * sizeof *pre);
	int *post = malloc((s->n_tpl_post + 1) * sizeof *post);
	if (!pre || !post) {
		free(pre);
		free(post);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	size_t np = 0, nq = 0;
	for (size_t i = 0; i < s->n_tpl_pre; i++)
		if (k->old_to_new[s->tpl_pre[i]] >= 0)
			pre[np++] = k->old_to_new[s->tpl_pre[i]];
	for (size_t i = 0; i < s->n_tpl_post; i++)
		if (k->old_to_new[s->tpl_post[i]] >= 0)
			post[nq++] = k->old_to_new[s->tpl_post[i]];
	free(d->tpl_pre);
	free(d->tpl_post);
	d->tpl_pre = pre;
	d->tpl_post = post;
	d->n_tpl_pre = np;
	d->n_tpl_post = nq;
	d->bos_id = s->bos_id >= 0 ? k->old_to_new[s->bos_id] : -1;
	d->eos_id = s->eos_id >= 0 ? k->old_to_new[s->eos_id] : -1;
	return 0;
}

static int source_json(const struct tokenizer *t, char **data, size_t *len,
		       struct err *e)
{
	if (t->src_json) {
		*data = malloc(t->src_json_len + 1);
		if (!*data)
			return err_set(e, ERR_NOMEM, "out of memory");
		memcpy(*data, t->src_json, t->src_json_len + 1);
		*len = t->src_json_len;
		return 0;
	}
	return file_read_all(t->path, MAX_OUT_JSON, data, len, e);
}

/* Maps the ids of a post_processor (TemplateProcessing special_tokens
 * "ids", Bert/Roberta "sep"/"cls" pairs), recursively. */
static void map_post(cJSON *j, const struct vocab_keep *k)
{
	if (!j)
		return;
	cJSON *it;
	if (cJSON_IsObject(j)) {
		cJSON_ArrayForEach(it, j)
		{
			if (cJSON_IsArray(it) && it->string &&
			    (!strcmp(it->string, "ids") ||
			     !strcmp(it->string, "sep") ||
			     !strcmp(it->string, "cls"))) {
				cJSON *x;
				cJSON_ArrayForEach(x, it)
				{
					if (!cJSON_IsNumber(x))
						continue;
					int id = (int)x->valuedouble;
					int nid = id >= 0 && id < k->n_old
						      ? k->old_to_new[id]
						      : -1;
					cJSON_SetNumberValue(x, nid);
				}
			} else {
				map_post(it, k);
			}
		}
	} else if (cJSON_IsArray(j)) {
		cJSON_ArrayForEach(it, j) map_post(it, k);
	}
}

static char *piece_dup(const struct tokenizer *t, int id)
{
	size_t l;
	const char *s = tok_piece(t, id, &l);
	char *d = malloc(l + 1);
	if (d) {
		memcpy(d, s, l);
		d[l] = '\0';
	}
	return d;
}

/* A merge as the file had them: "a b", or ["a", "b"] when a part holds a
 * space (or the file used pairs). */
static cJSON *merge_item(const struct tokenizer *t, int l, int r, bool pairs)
{
	size_t ll, rl;
	const char *a = tok_piece(t, l, &ll), *b = tok_piece(t, r, &rl);
	if (!pairs && !memchr(a, ' ', ll) && !memchr(b, ' ', rl)) {
		char *s = malloc(ll + rl + 2);
		if (!s)
			return NULL;
		memcpy(s, a, ll);
		s[ll] = ' ';
		memcpy(s + ll + 1, b, rl);
		s[ll + rl + 1] = '\0';
		cJSON *x = cJSON_CreateString(s);
		free(s);
		return x;
	}
	char *da = piece_dup(t, l), *db = piece_dup(t, r);
	cJSON *x = NULL;
	if (da && db && (x = cJSON_CreateArray())) {
		cJSON_AddItemToArray(x, cJSON_CreateString(da));
		cJSON_AddItemToArray(x, cJSON_CreateString(db));
	}
	free(da);
	free(db);
	return x;
}

/* The source's directory, for a tokenizer.model beside a tokenizer.json. */
static int sibling(const struct tokenizer *t, const char *name, char *buf,
		   size_t cap)
{
	const char *slash = strrchr(t->path, '/');
	size_t dl = slash ? (size_t)(slash - t->path) : 1;
	char dir[4096];
	if (dl >= sizeof dir)
		return -1;
	memcpy(dir, slash ? t->path : ".", dl);
	dir[dl] = '\0';
	return path_join(buf, cap, dir, name, NULL);
}

/* The tokenizer.model beside a tokenizer.json source (not one made from
 * text by vocab_rewrite), pruned by piece string to k in the new
 * tokenizer.json's id order: *buf (malloc'd, caller frees) and *path; *buf
 * NULL when there is none. ERR_FORMAT when a kept piece is not in it. */
static int sibling_model(const struct tokenizer *src,
			 const struct vocab_keep *k, unsigned char **buf,
			 size_t *len, char *path, size_t cap, struct err *e)
{
	*buf = NULL;
	*len = 0;
	struct spm *m = NULL;
	int rc;
	if (src->src_json || sibling(src, "tokenizer.model", path, cap) ||
	    !path_exists(path))
		return 0;
	if ((rc = spm_load_file(path, &m, e)))
		return rc;
	int *ids = malloc((size_t)k->n_keep * sizeof *ids);
	if (!ids)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	for (int i = 0; i < k->n_keep && !rc; i++) {
		size_t l;
		const char *p = tok_piece(src, k->keep[i], &l);
		ids[i] = p ? spm_piece_id(m, p, l) : -1;
		if (ids[i] < 0)
			rc = err_set(e, ERR_FORMAT,
				     "'%s': piece '%.*s' of the tokenizer.json "
				     "is not in it",
				     path, p ? (int)l : 0, p ? p : "");
	}
	if (!rc)
		rc = spm_write_buffer(m, ids, (size_t)k->n_keep, buf, len, e);
	free(ids);
	spm_free(m);
	return rc;
}

/* The tokenizer.json text with the source's merges that survive (the
 * first pass of vocab_json_text). */
static int filtered_json_text(const struct tokenizer *t,
			      const struct vocab_keep *k, char **json,
			      size_t *len, struct err *e)
{
	*json = NULL;
	*len = 0;
	if (t->kind != TOK_HF_BPE)
		return err_set(e, ERR_INVALID,
			       "'%s': not a tokenizer.json tokenizer", t->path);
	int rc = check_keep(t, k, e);
	if (rc)
		return rc;
	char *data;
	size_t dlen;
	if ((rc = source_json(t, &data, &dlen, e)))
		return rc;
	cJSON *root = cJSON_ParseWithLength(data, dlen);
	free(data);
	if (!root)
		return err_set(e, ERR_FORMAT, "'%s': malformed JSON", t->path);
	cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
	cJSON *ov = cJSON_GetObjectItemCaseSensitive(model, "vocab");
	cJSON *om = cJSON_GetObjectItemCaseSensitive(model, "merges");
	const char **key = calloc((size_t)k->n_keep, sizeof *key);
	cJSON *nv = NULL, *nm = NULL;
	if (!cJSON_IsObject(ov) || !key) {
		rc = !key ? err_set(e, ERR_NOMEM, "out of memory")
			  : err_set(e, ERR_FORMAT, "'%s': no model.vocab",
				    t->path);
		goto out;
	}
	/* the vocabulary: the source's model.vocab entries that survive */
	cJSON *it;
	cJSON_ArrayForEach(it, ov)
	{
		if (!cJSON_IsNumber(it))
			continue;
		double d = it->valuedouble;
		if (d < 0 || d >= k->n_old)
			continue;
		int nid = k->old_to_new[(int)d];
		if (nid < 0)
			continue;
		size_t pl;
		const char *p = tok_piece(t, (int)d, &pl);
		if (!it->string || strlen(it->string) != pl ||
		    memcmp(it->string, p, pl)) {
			rc = err_set(e, ERR_FORMAT,
				     "'%s': id %d is not the piece it was when "
				     "loaded",
				     t->path, (int)d);
			goto out;
		}
		key[nid] = it->string;
	}
	if (!(nv = cJSON_CreateObject()) || !(nm = cJSON_CreateArray())) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < k->n_keep; i++)
		if (key[i] && !cJSON_AddNumberToObject(nv, key[i], i)) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
	bool pairs = false;
	if (cJSON_IsArray(om) && om->child && cJSON_IsArray(om->child))
		pairs = true;
	size_t n_merges = tok_merge_count(t);
	for (size_t r = 0; r < n_merges; r++) {
		int a, b, c;
		tok_merge(t, r, &a, &b, &c);
		if (k->old_to_new[a] < 0 || k->old_to_new[b] < 0 ||
		    k->old_to_new[c] < 0)
			continue;
		/* parts must be in the written model.vocab */
		if (!key[k->old_to_new[a]] || !key[k->old_to_new[b]] ||
		    !key[k->old_to_new[c]])
			continue;
		cJSON *x = merge_item(t, a, b, pairs);
		if (!x) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		cJSON_AddItemToArray(nm, x);
	}
	cJSON_ReplaceItemInObjectCaseSensitive(model, "vocab", nv);
	nv = NULL;
	if (om)
		cJSON_ReplaceItemInObjectCaseSensitive(model, "merges", nm);
	else
		cJSON_AddItemToObject(model, "merges", nm);
	nm = NULL;
	/* added tokens: new ids; a dropped one goes */
	cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
	if (cJSON_IsArray(added)) {
		cJSON *x = added->child;
		while (x) {
			cJSON *next = x->next;
			cJSON *idv = cJSON_GetObjectItemCaseSensitive(x, "id");
			const cJSON *cv =
			    cJSON_GetObjectItemCaseSensitive(x, "content");
			int nid = -1;
			if (cJSON_IsString(cv)) {
				int old = tok_piece_id(t, cv->valuestring,
						       strlen(cv->valuestring));
				if (old >= 0)
					nid = k->old_to_new[old];
			}
			if (nid < 0 || !cJSON_IsNumber(idv))
				cJSON_Delete(
				    cJSON_DetachItemViaPointer(added, x));
			else
				cJSON_SetNumberValue(idv, nid);
			x = next;
		}
	}
	map_post(cJSON_GetObjectItemCaseSensitive(root, "post_processor"), k);
	*json = cJSON_Print(root);
	if (!*json)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	else
		*len = strlen(*json);
out:
	cJSON_Delete(nv);
	cJSON_Delete(nm);
	free(key);
	cJSON_Delete(root);
	return rc;
}


/* The tokenizer.model that goes with the rewritten tokenizer.json of a
 * TOK_HF_BPE source: the one beside the source pruned by piece string
 * (*sib true), or else the conversion of the filtered tokenizer.json
 * (vocab_hf_to_spm_model; none when it does not convert). *buf malloc'd or
 * NULL. */
static int model_for_json(const struct tokenizer *t, const struct vocab_keep *k,
			  const char *filtered, size_t flen,
			  unsigned char **buf, size_t *len, bool *sib,
			  struct err *e)
{
	char path[4096];
	int rc = sibling_model(t, k, buf, len, path, sizeof path, e);
	*sib = *buf != NULL;
	if (rc || *buf)
		return rc;
	struct tokenizer *d0;
	if ((rc = tok_from_json_text(filtered, flen, t->path, &d0, e)))
		return rc;
	if ((rc = copy_template(d0, t, k, e))) {
		tok_free(d0);
		return rc;
	}
	if (vocab_hf_to_spm_model(d0, buf, len, NULL)) {
		*buf = NULL;
		*len = 0;
	}
	tok_free(d0);
	return 0;
}

/* Kept pieces SentencePiece may join that hold a character which is not
 * itself a piece (a cut without merge closure can drop 'w' and keep "wa").
 * SentencePiece and llama.cpp join through such a character, Hugging Face
 * BPE turns it into byte pieces first and never joins it: a tokenizer.json
 * then cannot encode like the model. The first such character goes to ex
 * (NUL-terminated, at most 4 bytes). */
static int spm_missing_chars(const struct spm *m, char ex[8])
{
	int n = spm_n_pieces(m), bad = 0;
	ex[0] = '\0';
	for (int id = 0; id < n; id++) {
		int ty = spm_type(m, id);
		if (ty != SPM_NORMAL && ty != SPM_UNUSED)
			continue;
		size_t len, i = 0;
		const char *p = spm_piece(m, id, &len);
		bool piece_bad = false;
		while (i < len && !piece_bad) {
			size_t c = 1;
			while (i + c < len &&
			       ((unsigned char)p[i + c] & 0xC0) == 0x80)
				c++;
			if (c < len && spm_piece_id(m, p + i, c) < 0) {
				piece_bad = true;
				if (!ex[0] && c <= 4) {
					memcpy(ex, p + i, c);
					ex[c] = '\0';
				}
			}
			i += c;
		}
		bad += piece_bad;
	}
	return bad;
}

/* The merges SentencePiece model buf implies (every split of a piece into
 * two pieces, by the piece's score: tok_merge of a TOK_SPM tokenizer), in
 * place of root's model.merges. The model's ids are the json's. */
static int merges_from_model(cJSON *root, const unsigned char *buf,
			     size_t len, const char *name, struct err *e)
{
	struct spm *m;
	struct tokenizer *d;
	int rc;
	if ((rc = spm_load_buffer(buf, len, name, &m, e)))
		return rc;
	if (spm_model_type(m) != SPM_BPE) {
		spm_free(m);
		return 0;
	}
	if ((rc = tok_from_spm(m, name, &d, e)))
		return rc;
	cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
	cJSON *om = cJSON_GetObjectItemCaseSensitive(model, "merges");
	bool pairs = cJSON_IsArray(om) && om->child && cJSON_IsArray(om->child);
	cJSON *nm = cJSON_CreateArray();
	if (!nm)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	size_t n = tok_merge_count(d);
	for (size_t r = 0; r < n && !rc; r++) {
		int a, b, c;
		tok_merge(d, r, &a, &b, &c);
		cJSON *x = merge_item(d, a, b, pairs);
		if (!x)
			rc = err_set(e, ERR_NOMEM, "out of memory");
		else
			cJSON_AddItemToArray(nm, x);
	}
	tok_free(d);
	if (rc) {
		cJSON_Delete(nm);
		return rc;
	}
	if (om)
		cJSON_ReplaceItemInObjectCaseSensitive(model, "merges", nm);
	else
		cJSON_AddItemToObject(model, "merges", nm);
	return 0;
}

/* vocab_json_text's work: also the model bytes and its missing chars.
 * A tokenizer.model beside the source is the reference: the json's merges
 * are derived from it, *missing counts what the json cannot follow. A
 * converted one follows the json (the reference then): *missing is the
 * larger of the kept pieces the json cannot reach (k->unreachable; without
 * closure) and those holding a dropped character, both of which
 * SentencePiece may reach. */
static int json_and_model(const struct tokenizer *t, const struct vocab_keep *k,
			  char **json, size_t *len, unsigned char **mbuf,
			  size_t *mlen, int *missing, char ex[8], bool *sib,
			  struct err *e)
{
	char *f;
	size_t fl;
	unsigned char *mb = NULL;
	size_t ml = 0;
	*json = NULL;
	*len = 0;
	*missing = 0;
	ex[0] = '\0';
	if (mbuf) {
		*mbuf = NULL;
		*mlen = 0;
	}
	int rc = filtered_json_text(t, k, &f, &fl, e);
	if (rc)
		return rc;
	if ((rc = model_for_json(t, k, f, fl, &mb, &ml, sib, e))) {
		free(f);
		return rc;
	}
	if (mb && !*sib) { /* converted from the json: the json leads */
		struct spm *m = NULL;
		if ((rc = spm_load_buffer(mb, ml, t->path, &m, e))) {
			free(mb);
			free(f);
			return rc;
		}
		int chars = spm_missing_chars(m, ex);
		*missing = chars > k->unreachable ? chars : k->unreachable;
		spm_free(m);
	}
	if (!mb || !*sib) {
		*json = f;
		*len = fl;
		if (mbuf) {
			*mbuf = mb;
			*mlen = ml;
		} else {
			free(mb);
		}
		return 0;
	}
	cJSON *root = cJSON_ParseWithLength(f, fl);
	free(f);
	struct spm *m = NULL;
	if (!root)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	else if (!(rc = spm_load_buffer(mb, ml, t->path, &m, e))) {
		*missing = spm_missing_chars(m, ex);
		spm_free(m);
		rc = merges_from_model(root, mb, ml, t->path, e);
	}
	if (!rc && !(*json = cJSON_Print(root)))
		rc = err_set(e, ERR_NOMEM, "out of memory");
	if (!rc)
		*len = strlen(*json);
	cJSON_Delete(root);
	if (!rc && mbuf) {
		*mbuf = mb;
		*mlen = ml;
	} else {
		free(mb);
	}
	return rc;
}

int vocab_json_text(const struct tokenizer *t, const struct vocab_keep *k,
		    char **json, size_t *len, struct err *e)
{
	int missing;
	char ex[8];
	bool sib;
	return json_and_model(t, k, json, len, NULL, NULL, &missing, ex, &sib,
			      e);
}

int vocab_rewrite(const struct tokenizer *t, const struct vocab_keep *k,
		  struct tokenizer **out, struct err *e)
{
	*out = NULL;
	int rc = check_keep(t, k, e);
	if (rc)
		return rc;
	struct tokenizer *d = NULL;
	char name[4096];
	snprintf(name, sizeof name, "%s (%d pieces)", t->path, k->n_keep);
	if (t->kind == TOK_SPM) {
		unsigned char *buf;
		size_t len;
		struct spm *m;
		if ((rc = spm_write_buffer(t->spm, k->keep, (size_t)k->n_keep,
					   &buf, &len, e)))
			return rc;
		rc = spm_load_buffer(buf, len, name, &m, e);
		free(buf);
		if (rc)
			return rc;
		if ((rc = tok_from_spm(m, name, &d, e)))
			return rc;
	} else {
		char *json, ex[8];
		size_t len, ml;
		unsigned char *mb;
		int missing;
		bool sib;
		if ((rc = json_and_model(t, k, &json, &len, &mb, &ml, &missing,
					 ex, &sib, e)))
			return rc;
		if (missing && sib) {
			/* no tokenizer.json is written (vocab_write_files):
			 * the model's semantics */
			struct spm *m;
			free(json);
			rc = spm_load_buffer(mb, ml, name, &m, e);
			free(mb);
			if (rc || (rc = tok_from_spm(m, name, &d, e)))
				return rc;
			if ((rc = copy_template(d, t, k, e))) {
				tok_free(d);
				return rc;
			}
			*out = d;
			return 0;
		}
		free(mb);
		rc = tok_from_json_text(json, len, name, &d, e);
		if (rc) {
			free(json);
			return rc;
		}
		d->src_json = json;
		d->src_json_len = len;
	}
	if ((rc = copy_template(d, t, k, e))) {
		tok_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

/* ===================================================================== */
/* files                                                                 */
/* ===================================================================== */

static int write_map(const char *path, const struct vocab_keep *k,
		     struct err *e)
{
	/* {"n_old": V, "n_new": K, "keep": [...], "old_to_new": [...]} */
	size_t cap = 64 + ((size_t)k->n_keep + (size_t)k->n_old) * 12;
	char *s = malloc(cap), *o = s;
	if (!s)
		return err_set(e, ERR_NOMEM, "out of memory");
	o += sprintf(o, "{\"n_old\": %d, \"n_new\": %d, \"keep\": [", k->n_old,
		     k->n_keep);
	for (int i = 0; i < k->n_keep; i++)
		o += sprintf(o, i ? ",%d" : "%d", k->keep[i]);
	o += sprintf(o, "],\n\"old_to_new\": [");
	for (int i = 0; i < k->n_old; i++)
		o += sprintf(o, i ? ",%d" : "%d", k->old_to_new[i]);
	o += sprintf(o, "]}\n");
	int rc = file_write_atomic(path, s, (size_t)(o - s), e);
	free(s);
	return rc;
}

static void skipped_json(struct vocab_files *out, int missing,
			 const char *ex)
{
	if (!out)
		return;
	snprintf(out->warning, sizeof out->warning,
		 "tokenizer.json not written: %d kept pieces hold a character "
		 "the cut dropped (e.g. '%s'); SentencePiece and llama.cpp "
		 "join through it, Hugging Face BPE cannot, so a "
		 "tokenizer.json would encode the same text differently "
		 "(keep merge closure on, or load tokenizer.model with "
		 "transformers' slow LlamaTokenizer)",
		 missing, ex);
}

static void skipped_model(struct vocab_files *out, int missing)
{
	if (!out)
		return;
	snprintf(out->warning, sizeof out->warning,
		 "tokenizer.model not written: without merge closure at "
		 "least %d kept pieces are out of the tokenizer.json's reach "
		 "and in SentencePiece's, so a converted tokenizer.model "
		 "would encode the same text differently; a GGUF of this "
		 "model (SentencePiece semantics in llama.cpp) may too "
		 "(keep merge closure on)",
		 missing);
}

int vocab_write_files(const struct tokenizer *src, const struct vocab_keep *k,
		      const char *outdir, struct vocab_files *out,
		      struct err *e)
{
	if (out)
		*out = (struct vocab_files){0};
	int rc = check_keep(src, k, e);
	if (rc)
		return rc;
	if (!path_is_dir(outdir) && mkdir(outdir, 0777) && errno != EEXIST)
		return err_errno(e, ERR_IO, "cannot create '%s'", outdir);
	char pj[4096], pm[4096], pv[4096], ex[8] = "";
	if (path_join(pj, sizeof pj, outdir, "tokenizer.json", e) ||
	    path_join(pm, sizeof pm, outdir, "tokenizer.model", e) ||
	    path_join(pv, sizeof pv, outdir, "vocab_map.json", e))
		return e ? e->code : ERR_INVALID;
	char *json = NULL;
	size_t jl = 0, ml = 0;
	unsigned char *mb = NULL;
	int missing = 0;
	if (src->kind == TOK_SPM) {
		struct tokenizer *d;
		if ((rc = vocab_rewrite(src, k, &d, e)))
			return rc;
		if (spm_model_type(src->spm) == SPM_BPE) {
			missing = spm_missing_chars(d->spm, ex);
			if (!missing)
				rc = vocab_spm_to_hf_json(d, &json, &jl, e);
		}
		tok_free(d);
		if (!rc)
			rc = spm_write_buffer(src->spm, k->keep,
					      (size_t)k->n_keep, &mb, &ml, e);
	} else {
		/* the tokenizer.model beside the source pruned, or the
		 * filtered tokenizer.json converted; the json's merges are
		 * derived from it, so both encode alike */
		bool sib;
		rc = json_and_model(src, k, &json, &jl, &mb, &ml, &missing, ex,
				    &sib, e);
		if (!rc && missing && !sib) {
			/* the json leads: no model that would disagree */
			free(mb);
			mb = NULL;
			skipped_model(out, missing);
			missing = 0;
		}
	}
	if (!rc && missing) {
		free(json);
		json = NULL;
		skipped_json(out, missing, ex);
	}
	if (!rc && mb)
		rc = file_write_atomic(pm, mb, ml, e);
	if (!rc && json)
		rc = file_write_atomic(pj, json, jl, e);
	if (!rc && out) {
		out->json = json != NULL;
		out->model = mb != NULL;
	}
	free(json);
	free(mb);
	if (!rc)
		rc = write_map(pv, k, e);
	return rc;
}

/* ===================================================================== */
/* SentencePiece -> tokenizer.json                                       */
/* ===================================================================== */

static cJSON *j_replace(const char *pat, const char *content)
{
	cJSON *r = cJSON_CreateObject(), *p = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "type", "Replace");
	cJSON_AddStringToObject(p, "String", pat);
	cJSON_AddItemToObject(r, "pattern", p);
	cJSON_AddStringToObject(r, "content", content);
	return r;
}

static cJSON *j_special(const char *piece, int type_id)
{
	cJSON *o = cJSON_CreateObject(), *s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "id", piece);
	cJSON_AddNumberToObject(s, "type_id", type_id);
	cJSON_AddItemToObject(o, "SpecialToken", s);
	return o;
}

static cJSON *j_seq(const char *which, int type_id)
{
	cJSON *o = cJSON_CreateObject(), *s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "id", which);
	cJSON_AddNumberToObject(s, "type_id", type_id);
	cJSON_AddItemToObject(o, "Sequence", s);
	return o;
}

static void tpl_add(cJSON *arr, const struct tokenizer *t, const int *ids,
		    size_t n, int type_id)
{
	for (size_t i = 0; i < n; i++) {
		char *p = piece_dup(t, ids[i]);
		if (p)
			cJSON_AddItemToArray(arr, j_special(p, type_id));
		free(p);
	}
}

int vocab_spm_to_hf_json(const struct tokenizer *t, char **json, size_t *len,
			 struct err *e)
{
	*json = NULL;
	*len = 0;
	if (t->kind != TOK_SPM)
		return err_set(e, ERR_INVALID,
			       "'%s': not a sentencepiece model", t->path);
	const struct spm_info *in = spm_info(t->spm);
	if (in->model_type != SPM_BPE)
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': only a BPE sentencepiece model converts "
			       "to tokenizer.json",
			       t->path);
	if (in->charsmap_size)
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': normalizer '%s' has rules; only identity "
			       "converts",
			       t->path, in->normalizer_name);
	if (in->treat_whitespace_as_suffix || !in->escape_whitespaces)
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': treat_whitespace_as_suffix / no "
			       "escape_whitespaces do not convert",
			       t->path);
	const char *ms = "\xe2\x96\x81";
	int n = tok_vocab_size(t);
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return err_set(e, ERR_NOMEM, "out of memory");
	cJSON_AddStringToObject(root, "version", "1.0");
	cJSON_AddNullToObject(root, "truncation");
	cJSON_AddNullToObject(root, "padding");
	cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
	for (int id = 0; id < n; id++) {
		int ty = spm_type(t->spm, id);
		if (ty != SPM_CONTROL && ty != SPM_UNKNOWN &&
		    ty != SPM_USER_DEFINED)
			continue;
		cJSON *a = cJSON_CreateObject();
		cJSON_AddNumberToObject(a, "id", id);
		cJSON_AddStringToObject(a, "content",
					spm_piece(t->spm, id, NULL));
		cJSON_AddBoolToObject(a, "single_word", 0);
		cJSON_AddBoolToObject(a, "lstrip", 0);
		cJSON_AddBoolToObject(a, "rstrip", 0);
		cJSON_AddBoolToObject(a, "normalized", 0);
		cJSON_AddBoolToObject(a, "special", ty != SPM_USER_DEFINED);
		cJSON_AddItemToArray(added, a);
	}
	/* normalizer: SentencePiece's remove_extra_whitespaces (strip, then
	 * collapse runs of ' ') as Strip + repeated Replace "  " -> " "
	 * (each pass halves a run: 20 passes collapse a million spaces) */
	cJSON *norm = cJSON_CreateObject();
	cJSON_AddStringToObject(norm, "type", "Sequence");
	cJSON *ns = cJSON_AddArrayToObject(norm, "normalizers");
	if (in->remove_extra_whitespaces) {
		cJSON *st = cJSON_CreateObject();
		cJSON_AddStringToObject(st, "type", "Strip");
		cJSON_AddBoolToObject(st, "strip_left", 1);
		cJSON_AddBoolToObject(st, "strip_right", 1);
		cJSON_AddItemToArray(ns, st);
		for (int i = 0; i < 20; i++)
			cJSON_AddItemToArray(ns, j_replace("  ", " "));
	}
	if (in->add_dummy_prefix) {
		cJSON *pp = cJSON_CreateObject();
		cJSON_AddStringToObject(pp, "type", "Prepend");
		cJSON_AddStringToObject(pp, "prepend", ms);
		cJSON_AddItemToArray(ns, pp);
	}
	cJSON_AddItemToArray(ns, j_replace(" ", ms));
	cJSON_AddItemToObject(root, "normalizer", norm);
	cJSON_AddNullToObject(root, "pre_tokenizer");
	/* post-processor: the template t applies */
	cJSON *post = cJSON_CreateObject();
	cJSON_AddStringToObject(post, "type", "TemplateProcessing");
	cJSON *single = cJSON_AddArrayToObject(post, "single");
	tpl_add(single, t, t->tpl_pre, t->n_tpl_pre, 0);
	cJSON_AddItemToArray(single, j_seq("A", 0));
	tpl_add(single, t, t->tpl_post, t->n_tpl_post, 0);
	cJSON *pair = cJSON_AddArrayToObject(post, "pair");
	tpl_add(pair, t, t->tpl_pre, t->n_tpl_pre, 0);
	cJSON_AddItemToArray(pair, j_seq("A", 0));
	tpl_add(pair, t, t->tpl_post, t->n_tpl_post, 0);
	tpl_add(pair, t, t->tpl_pre, t->n_tpl_pre, 1);
	cJSON_AddItemToArray(pair, j_seq("B", 1));
	tpl_add(pair, t, t->tpl_post, t->n_tpl_post, 1);
	cJSON *sp = cJSON_AddObjectToObject(post, "special_tokens");
	for (size_t i = 0; i < t->n_tpl_pre + t->n_tpl_post; i++) {
		int id = i < t->n_tpl_pre ? t->tpl_pre[i]
					  : t->tpl_post[i - t->n_tpl_pre];
		char *p = piece_dup(t, id);
		if (!p || cJSON_GetObjectItemCaseSensitive(sp, p)) {
			free(p);
			continue;
		}
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", p);
		cJSON *ids = cJSON_AddArrayToObject(o, "ids");
		cJSON_AddItemToArray(ids, cJSON_CreateNumber(id));
		cJSON *toks = cJSON_AddArrayToObject(o, "tokens");
		cJSON_AddItemToArray(toks, cJSON_CreateString(p));
		cJSON_AddItemToObject(sp, p, o);
		free(p);
	}
	cJSON_AddItemToObject(root, "post_processor", post);
	/* decoder: InkubaLM's */
	cJSON *dec = cJSON_CreateObject();
	cJSON_AddStringToObject(dec, "type", "Sequence");
	cJSON *ds = cJSON_AddArrayToObject(dec, "decoders");
	cJSON_AddItemToArray(ds, j_replace(ms, " "));
	cJSON *bf = cJSON_CreateObject();
	cJSON_AddStringToObject(bf, "type", "ByteFallback");
	cJSON_AddItemToArray(ds, bf);
	cJSON *fu = cJSON_CreateObject();
	cJSON_AddStringToObject(fu, "type", "Fuse");
	cJSON_AddItemToArray(ds, fu);
	if (in->add_dummy_prefix) {
		cJSON *st = cJSON_CreateObject();
		cJSON_AddStringToObject(st, "type", "Strip");
		cJSON_AddStringToObject(st, "content", " ");
		cJSON_AddNumberToObject(st, "start", 1);
		cJSON_AddNumberToObject(st, "stop", 0);
		cJSON_AddItemToArray(ds, st);
	}
	cJSON_AddItemToObject(root, "decoder", dec);
	/* model */
	cJSON *model = cJSON_CreateObject();
	cJSON_AddStringToObject(model, "type", "BPE");
	cJSON_AddNullToObject(model, "dropout");
	if (tok_unk_id(t) >= 0)
		cJSON_AddStringToObject(model, "unk_token",
					spm_piece(t->spm, tok_unk_id(t), NULL));
	else
		cJSON_AddNullToObject(model, "unk_token");
	cJSON_AddNullToObject(model, "continuing_subword_prefix");
	cJSON_AddNullToObject(model, "end_of_word_suffix");
	cJSON_AddBoolToObject(model, "fuse_unk", 1);
	cJSON_AddBoolToObject(model, "byte_fallback", in->byte_fallback != 0);
	cJSON_AddBoolToObject(model, "ignore_merges", 0);
	cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
	for (int id = 0; id < n; id++)
		cJSON_AddItemToObject(vocab, spm_piece(t->spm, id, NULL),
				      cJSON_CreateNumber(id));
	cJSON *merges = cJSON_AddArrayToObject(model, "merges");
	size_t nm = tok_merge_count(t);
	bool pairs = false;
	for (int id = 0; id < n && !pairs; id++)
		pairs = strchr(spm_piece(t->spm, id, NULL), ' ') != NULL;
	for (size_t r = 0; r < nm; r++) {
		int a, b, c;
		tok_merge(t, r, &a, &b, &c);
		cJSON_AddItemToArray(merges, merge_item(t, a, b, pairs));
	}
	cJSON_AddItemToObject(root, "model", model);
	*json = cJSON_Print(root);
	cJSON_Delete(root);
	if (!*json)
		return err_set(e, ERR_NOMEM, "out of memory");
	*len = strlen(*json);
	return 0;
}

/* ===================================================================== */
/* tokenizer.json -> SentencePiece                                       */
/* ===================================================================== */

struct pbw {
	unsigned char *p;
	size_t n, cap;
	bool oom;
};

static void pbw_bytes(struct pbw *w, const void *d, size_t n)
{
	if (w->oom)
		return;
	if (w->n + n > w->cap) {
		size_t c = w->cap ? w->cap : 4096;
		while (c < w->n + n)
			c *= 2;
		unsigned char *q = realloc(w->p, c);
		if (!q) {
			w->oom = true;
			return;
		}
		w->p = q;
		w->cap = c;
	}
	memcpy(w->p + w->n, d, n);
	w->n += n;
}

static void pbw_varint(struct pbw *w, uint64_t v)
{
	unsigned char b[10];
	size_t n = 0;
	do {
		b[n] = (unsigned char)(v & 0x7F);
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	pbw_bytes(w, b, n);
}

static void pbw_key(struct pbw *w, unsigned num, unsigned wt)
{
	pbw_varint(w, (uint64_t)num << 3 | wt);
}

static void pbw_int(struct pbw *w, unsigned num, int v)
{
	pbw_key(w, num, 0);
	pbw_varint(w, (uint64_t)(int64_t)v); /* int32: negatives sign-extend */
}

static void pbw_len(struct pbw *w, unsigned num, const void *d, size_t n)
{
	pbw_key(w, num, 2);
	pbw_varint(w, n);
	pbw_bytes(w, d, n);
}

static void pbw_float(struct pbw *w, unsigned num, float f)
{
	uint32_t u;
	unsigned char b[4];
	memcpy(&u, &f, 4);
	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(u >> (8 * i));
	pbw_key(w, num, 5);
	pbw_bytes(w, b, 4);
}

/* The normalizer is [Prepend "▁"]? + Replace " " -> "▁" and there is no
 * pre-tokenizer: what SentencePiece (identity rules, no whitespace
 * cleanup) does, with or without a dummy prefix. */
static int hf_spm_compatible(const struct tokenizer *t, bool *prefix)
{
	const char *ms = "\xe2\x96\x81";
	int repl = 0, pre = 0;
	if (t->pretok.kind != PRETOK_NONE)
		return 0;
	for (size_t i = 0; i < t->norm.n; i++) {
		const struct norm_op *op = &t->norm.ops[i];
		if (op->kind == NORM_PREPEND && op->a_len == 3 &&
		    !memcmp(op->a, ms, 3))
			pre++;
		else if (op->kind == NORM_REPLACE && op->a_len == 1 &&
			 op->a[0] == ' ' && op->b_len == 3 &&
			 !memcmp(op->b, ms, 3))
			repl++;
		else
			return 0;
	}
	*prefix = pre == 1;
	return repl == 1 && pre <= 1;
}

int vocab_hf_to_spm_model(const struct tokenizer *t, unsigned char **out,
			  size_t *len, struct err *e)
{
	*out = NULL;
	*len = 0;
	bool prefix = false;
	if (t->kind != TOK_HF_BPE || !hf_spm_compatible(t, &prefix))
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': only a BPE tokenizer.json with no "
			       "pre-tokenizer and the normalizer [Prepend "
			       "\"\xe2\x96\x81\"] Replace \" \" -> "
			       "\"\xe2\x96\x81\" converts to a tokenizer.model",
			       t->path);
	int n = tok_vocab_size(t);
	size_t nm = tok_merge_count(t);
	if (tok_unk_id(t) < 0)
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': a tokenizer.model needs an unk piece",
			       t->path);
	for (int id = 0; id < n; id++)
		if (!tok_piece(t, id, NULL))
			return err_set(e, ERR_UNSUPPORTED,
				       "'%s': id %d has no piece", t->path, id);
	/* score: minus the rank of the first merge making the piece */
	float *score = malloc((size_t)n * sizeof *score);
	if (!score)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (int id = 0; id < n; id++)
		score[id] = -(float)(nm + (size_t)id) - 1.0f;
	for (size_t r = nm; r-- > 0;) {
		int a, b, c;
		tok_merge(t, r, &a, &b, &c);
		score[c] = -(float)r;
	}
	struct pbw w = {0}, sub = {0};
	for (int id = 0; id < n; id++) {
		size_t l;
		const char *s = tok_piece(t, id, &l);
		int type = 1; /* NORMAL */
		if (id == tok_unk_id(t))
			type = 2;
		else if (tok_is_byte(t, id))
			type = 6;
		else if (tok_is_special(t, id))
			type = 3;
		else if (tok_is_added(t, id))
			type = 4;
		sub.n = 0;
		pbw_len(&sub, 1, s, l);
		pbw_float(&sub, 2, type == 1 ? score[id] : 0.0f);
		pbw_int(&sub, 3, type);
		pbw_len(&w, 1, sub.p, sub.n);
	}
	free(score);
	/* trainer_spec: model_type BPE, vocab_size, byte_fallback, ids */
	sub.n = 0;
	pbw_int(&sub, 3, 2);
	pbw_int(&sub, 4, n);
	pbw_int(&sub, 35, t->bpe.byte_fallback);
	pbw_int(&sub, 40, tok_unk_id(t));
	pbw_int(&sub, 41, tok_bos_id(t));
	pbw_int(&sub, 42, tok_eos_id(t));
	pbw_int(&sub, 43, -1);
	pbw_len(&w, 2, sub.p, sub.n);
	/* normalizer_spec: identity, all three flags explicit (their proto
	 * defaults are true) */
	sub.n = 0;
	pbw_len(&sub, 1, "identity", 8);
	pbw_int(&sub, 3, prefix);
	pbw_int(&sub, 4, 0);
	pbw_int(&sub, 5, 1);
	pbw_len(&w, 3, sub.p, sub.n);
	free(sub.p);
	if (w.oom || sub.oom) {
		free(w.p);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	*out = w.p;
	*len = w.n;
	return 0;
}
