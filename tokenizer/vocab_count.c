/* vocab_count — token frequencies over corpus files (vocab_count.h). */
#include "vocab_count.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csv.h"
#include "tok_impl.h"

#define CHUNK (1u << 20)     /* read size */
#define CSV_BATCH (4u << 20) /* CSV bytes parsed at once */

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

int vocab_counts_check(const struct tokenizer *t, const struct vocab_counts *c,
		       struct err *e)
{
	if (c->n_vocab != tok_vocab_size(t))
		return err_set(e, ERR_INVALID,
			       "counts for %d ids used with a tokenizer of %d",
			       c->n_vocab, tok_vocab_size(t));
	return 0;
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
	int rc = vocab_counts_check(t, c, e);
	if (rc)
		return rc;
	struct counter k = {.t = t, .c = c};
	rc = count_record(&k, text, len, e);
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
static int read_chunk(struct counter *k, FILE *f, const char *path, char **buf,
		      size_t *cap, size_t *have, size_t max_cap, size_t *got,
		      struct err *e)
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
	if (s == CS_QUOTED)
		return ch == '"' ? CS_QQ : CS_QUOTED;
	/* outside quotes a comma ends the field, a newline the record */
	if (ch == ',' || ch == '\n') {
		*end = ch == '\n';
		return CS_START;
	}
	/* a quote opens a field (CS_START) or is an escaped one (CS_QQ);
	 * inside a plain field it is data */
	if (ch == '"' && s != CS_PLAIN)
		return CS_QUOTED;
	return s == CS_QQ && ch == '\r' ? CS_QQ : CS_PLAIN;
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
