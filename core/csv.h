/*
 * csv — an RFC 4180 reader for the challenge's CSV files.
 *
 * Fields are separated by commas; a field that starts with '"' is quoted
 * and may hold commas, CR/LF and "" (an escaped quote). Records end in LF,
 * CRLF or a bare CR (old Mac files; a last record without one is fine). A UTF-8 byte-order mark at
 * the start is skipped. The first record is the header; columns are looked
 * up by name (case-insensitive, surrounding spaces ignored). Completely
 * empty lines are skipped. A quote inside an unquoted field is kept as a
 * literal character (common in real files); text after a closing quote
 * other than a separator, and an unterminated quote, are errors that name
 * the file and line.
 *
 * Bounds (hostile input): at most CSV_MAX_BYTES of input, CSV_MAX_COLS
 * columns, CSV_MAX_ROWS records; every record must have the header's
 * number of fields.
 *
 * Ownership: the table owns every string (one copy of the text, fields
 * NUL-terminated in place); csv_free releases it. Pointers from csv_cell
 * live as long as the table.
 */
#ifndef PUNGUZA_CSV_H
#define PUNGUZA_CSV_H

#include <stddef.h>

#include "err.h"

#define CSV_MAX_BYTES ((size_t)1 << 30)
#define CSV_MAX_COLS 4096
#define CSV_MAX_ROWS 10000000

struct csv_table {
	int n_cols;
	int n_rows;	/* data records, header excluded */
	char **header;	/* (n_cols) */
	char **cells;	/* (n_rows * n_cols), row-major */
	long *lines;	/* (n_rows) line number where each record starts */
	char *buf;	/* owned storage of all fields */
	char name[256]; /* for messages */
};

/* Parses len bytes of text (need not be NUL-terminated). */
int csv_parse(const char *text, size_t len, const char *name,
	      struct csv_table *out, struct err *e);
int csv_read_file(const char *path, struct csv_table *out, struct err *e);

/* The index of the column called `name`, or -1. */
int csv_col(const struct csv_table *t, const char *name);
/* The field at (row, col); NULL when out of range. */
const char *csv_cell(const struct csv_table *t, int row, int col);

/* NULL is a no-op; the struct is emptied. */
void csv_free(struct csv_table *t);

#endif
