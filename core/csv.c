#include "csv.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fileio.h"

/* A growable array of pointers (cells) or longs (lines). */
struct vec {
	void *v;
	size_t n, cap, size;
};

static int vec_push(struct vec *a, const void *x)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		void *v = realloc(a->v, cap * a->size);
		if (!v)
			return -1;
		a->v = v;
		a->cap = cap;
	}
	memcpy((char *)a->v + a->n * a->size, x, a->size);
	a->n++;
	return 0;
}

int csv_parse(const char *text, size_t len, const char *name,
	      struct csv_table *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	snprintf(out->name, sizeof out->name, "%s", name ? name : "csv");
	name = out->name;
	if (len > CSV_MAX_BYTES)
		return err_set(e, ERR_FORMAT,
			       "'%s': %zu bytes exceeds the %zu "
			       "byte limit",
			       name, len, CSV_MAX_BYTES);
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
		text += 3;
		len -= 3;
	}
	char *buf = malloc(len + 1);
	if (!buf)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", name);
	struct vec cells = {.size = sizeof(char *)};
	struct vec lines = {.size = sizeof(long)};
	struct vec rec = {.size = sizeof(char *)};
	size_t i = 0, w = 0;
	long line = 1;
	int n_cols = -1, rc = 0;

	while (i < len) {
		long rec_line = line;
		int quoted_any = 0, end = 0;
		rec.n = 0;
		while (!end) {
			char *field = buf + w;
			if (i < len && text[i] == '"') {
				long q_line = line;
				quoted_any = 1;
				i++;
				for (;;) {
					if (i >= len) {
						rc = err_set(e, ERR_FORMAT,
							     "'%s': line %ld: "
							     "unterminated "
							     "quoted field",
							     name, q_line);
						goto fail;
					}
					if (text[i] == '"') {
						if (i + 1 < len &&
						    text[i + 1] == '"') {
							buf[w++] = '"';
							i += 2;
							continue;
						}
						i++;
						break;
					}
					/* LF, CRLF and a bare CR each end
					 * one line */
					if (text[i] == '\n' ||
					    (text[i] == '\r' &&
					     (i + 1 == len ||
					      text[i + 1] != '\n')))
						line++;
					buf[w++] = text[i++];
				}
				if (i < len && text[i] != ',' &&
				    text[i] != '\n' && text[i] != '\r') {
					rc = err_set(e, ERR_FORMAT,
						     "'%s': line %ld: text "
						     "after a closing quote",
						     name, line);
					goto fail;
				}
			} else {
				while (i < len && text[i] != ',' &&
				       text[i] != '\n' && text[i] != '\r')
					buf[w++] = text[i++];
			}
			buf[w++] = '\0';
			if (rec.n >= CSV_MAX_COLS) {
				rc = err_set(e, ERR_FORMAT,
					     "'%s': line %ld: more than %d "
					     "fields",
					     name, rec_line, CSV_MAX_COLS);
				goto fail;
			}
			if (vec_push(&rec, &field))
				goto nomem;
			if (i < len && text[i] == ',') {
				i++;
				continue;
			}
			/* the record's end: LF, CRLF or a bare CR */
			if (i < len && text[i] == '\r') {
				i++;
				if (i < len && text[i] == '\n')
					i++;
				line++;
			} else if (i < len && text[i] == '\n') {
				i++;
				line++;
			}
			end = 1;
		}
		char **f = rec.v;
		if (rec.n == 1 && !quoted_any && f[0][0] == '\0')
			continue; /* an empty line */
		if (n_cols < 0) {
			n_cols = (int)rec.n;
			out->header = malloc(rec.n * sizeof(char *));
			if (!out->header)
				goto nomem;
			memcpy(out->header, f, rec.n * sizeof(char *));
			continue;
		}
		if ((int)rec.n != n_cols) {
			rc = err_set(e, ERR_FORMAT,
				     "'%s': line %ld: %zu field%s, the header "
				     "has %d",
				     name, rec_line, rec.n,
				     rec.n == 1 ? "" : "s", n_cols);
			goto fail;
		}
		if (lines.n >= CSV_MAX_ROWS) {
			rc =
			    err_set(e, ERR_FORMAT, "'%s': more than %d records",
				    name, CSV_MAX_ROWS);
			goto fail;
		}
		for (size_t k = 0; k < rec.n; k++)
			if (vec_push(&cells, &f[k]))
				goto nomem;
		if (vec_push(&lines, &rec_line))
			goto nomem;
	}
	if (n_cols < 0) {
		rc = err_set(e, ERR_FORMAT, "'%s': empty file (no header)",
			     name);
		goto fail;
	}
	free(rec.v);
	out->n_cols = n_cols;
	out->n_rows = (int)lines.n;
	out->cells = cells.v;
	out->lines = lines.v;
	out->buf = buf;
	return 0;
nomem:
	rc = err_set(e, ERR_NOMEM, "'%s': out of memory", name);
fail:
	free(rec.v);
	free(cells.v);
	free(lines.v);
	free(out->header);
	free(buf);
	out->header = NULL;
	return rc;
}

int csv_read_file(const char *path, struct csv_table *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return err_errno(e, ERR_IO, "cannot open '%s'", path);
	char *text = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	for (;;) {
		if (cap - n < 65536) {
			if (cap > CSV_MAX_BYTES) {
				rc = err_set(e, ERR_FORMAT,
					     "'%s': larger than the %zu byte "
					     "limit",
					     path, CSV_MAX_BYTES);
				break;
			}
			size_t nc = cap ? cap * 2 : 1 << 16;
			char *t = realloc(text, nc);
			if (!t) {
				rc = err_set(e, ERR_NOMEM,
					     "'%s': out of memory", path);
				break;
			}
			text = t;
			cap = nc;
		}
		size_t got = fread(text + n, 1, cap - n, fp);
		n += got;
		if (got == 0) {
			if (ferror(fp))
				rc = err_errno(e, ERR_IO, "cannot read '%s'",
					       path);
			break;
		}
	}
	fclose(fp);
	if (!rc)
		rc = csv_parse(text ? text : "", n, path, out, e);
	free(text);
	return rc;
}

int csv_col(const struct csv_table *t, const char *name)
{
	for (int c = 0; c < t->n_cols; c++) {
		const char *h = t->header[c];
		size_t hl = strlen(h);
		while (hl && isspace((unsigned char)h[hl - 1]))
			hl--;
		while (hl && isspace((unsigned char)*h)) {
			h++;
			hl--;
		}
		if (hl == strlen(name) && !strncasecmp(h, name, hl))
			return c;
	}
	return -1;
}

const char *csv_cell(const struct csv_table *t, int row, int col)
{
	if (row < 0 || row >= t->n_rows || col < 0 || col >= t->n_cols)
		return NULL;
	return t->cells[(size_t)row * (size_t)t->n_cols + (size_t)col];
}

void csv_free(struct csv_table *t)
{
	if (!t)
		return;
	free(t->header);
	free(t->cells);
	free(t->lines);
	free(t->buf);
	memset(t, 0, sizeof *t);
}
