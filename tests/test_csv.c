/* Tests for core/csv: RFC 4180 quoting, CRLF/LF, BOM, header lookup, line
 * numbers in errors, bounds. */
#include <stdlib.h>

#include "csv.h"
#include "test.h"

static int parse(const char *text, struct csv_table *t, struct err *e)
{
	return csv_parse(text, strlen(text), "t.csv", t, e);
}

static void test_basic(void)
{
	struct csv_table t;
	struct err e = {0};
	/* BOM, CRLF, a quoted field with "" escapes, a comma and an embedded
	 * CRLF newline, an empty line, a last record without newline */
	const char *s = "\xEF\xBB\xBFID, Response ,x\r\n"
			"a,\"say \"\"hi\"\", then\r\nbye\",1\r\n"
			"\r\n"
			"b,,\"\"\r\n"
			"c,plain \"quote\",3";
	CHECK_EQ_INT(parse(s, &t, &e), 0);
	CHECK_EQ_INT(t.n_cols, 3);
	CHECK_EQ_INT(t.n_rows, 3);
	CHECK_EQ_INT(csv_col(&t, "id"), 0);
	CHECK_EQ_INT(csv_col(&t, "response"), 1); /* spaces trimmed */
	CHECK_EQ_INT(csv_col(&t, "Targets"), -1);
	CHECK_STR(t.header[0], "ID"); /* BOM skipped */
	CHECK_STR(csv_cell(&t, 0, 1), "say \"hi\", then\r\nbye");
	CHECK_STR(csv_cell(&t, 0, 2), "1");
	CHECK_STR(csv_cell(&t, 1, 1), "");
	CHECK_STR(csv_cell(&t, 1, 2), "");
	CHECK_STR(csv_cell(&t, 2, 1), "plain \"quote\"");
	CHECK_STR(csv_cell(&t, 2, 2), "3");
	CHECK(csv_cell(&t, 3, 0) == NULL);
	CHECK(csv_cell(&t, 0, 3) == NULL);
	/* record lines: 2, 5 (after the 2-line record and the empty one), 6 */
	CHECK_EQ_INT(t.lines[0], 2);
	CHECK_EQ_INT(t.lines[1], 5);
	CHECK_EQ_INT(t.lines[2], 6);
	csv_free(&t);
	csv_free(&t); /* emptied: a no-op */
	csv_free(NULL);

	/* LF only, trailing comma = an empty last field, UTF-8 kept */
	CHECK_EQ_INT(parse("a,b\nɗa,\n\n", &t, &e), 0);
	CHECK_EQ_INT(t.n_rows, 1);
	CHECK_STR(csv_cell(&t, 0, 0), "ɗa");
	CHECK_STR(csv_cell(&t, 0, 1), "");
	csv_free(&t);

	/* header only */
	CHECK_EQ_INT(parse("ID,Targets\r\n", &t, &e), 0);
	CHECK_EQ_INT(t.n_rows, 0);
	csv_free(&t);

	/* a bare CR ends a record, as LF and CRLF do, also after a closing
	 * quote; line numbers count it */
	CHECK_EQ_INT(parse("a\nx\ry\n", &t, &e), 0);
	CHECK_EQ_INT(t.n_rows, 2);
	CHECK_STR(csv_cell(&t, 0, 0), "x");
	CHECK_STR(csv_cell(&t, 1, 0), "y");
	csv_free(&t);
	CHECK_EQ_INT(parse("ID,Response\r\"a\",\"1\"\rb,\"x\ry\"\r\rc,3\r",
			   &t, &e), 0);
	CHECK_EQ_INT(t.n_rows, 3);
	CHECK_STR(csv_cell(&t, 0, 1), "1");
	CHECK_STR(csv_cell(&t, 1, 1), "x\ry");
	CHECK_STR(csv_cell(&t, 2, 0), "c");
	CHECK_EQ_INT(t.lines[2], 6);
	csv_free(&t);
	CHECK_ERR(parse("a,b\r1,2\r3\r", &t, &e), e, ERR_FORMAT,
		  "line 3: 1 field");
}

static void test_errors(void)
{
	struct csv_table t;
	struct err e = {0};
	CHECK_ERR(parse("", &t, &e), e, ERR_FORMAT, "'t.csv': empty file");
	CHECK_ERR(parse("\n\n", &t, &e), e, ERR_FORMAT, "empty file");
	CHECK_ERR(parse("a,b\n1,2\n3\n", &t, &e), e, ERR_FORMAT,
		  "'t.csv': line 3: 1 field, the header has 2");
	CHECK_ERR(parse("a,b\n1,2,3\n", &t, &e), e, ERR_FORMAT,
		  "line 2: 3 fields");
	/* the quote opened on line 3 never closes */
	CHECK_ERR(parse("a,b\n1,2\n3,\"x\ny\n", &t, &e), e, ERR_FORMAT,
		  "'t.csv': line 3: unterminated quoted field");
	CHECK_ERR(parse("a,b\n\"x\"y,2\n", &t, &e), e, ERR_FORMAT,
		  "line 2: text after a closing quote");
	/* errors after multi-line fields count lines correctly */
	CHECK_ERR(parse("a,b\n\"1\n2\n3\",x\n4\n", &t, &e), e, ERR_FORMAT,
		  "line 5: 1 field");
	CHECK_ERR(csv_read_file("/nonexistent/x.csv", &t, &e), e, ERR_IO,
		  "cannot open '/nonexistent/x.csv'");
	/* too many columns */
	size_t n = (CSV_MAX_COLS + 1) * 2;
	char *s = malloc(n + 1);
	for (size_t i = 0; i < n; i += 2) {
		s[i] = 'x';
		s[i + 1] = ',';
	}
	s[n - 1] = '\n';
	s[n] = 0;
	CHECK_ERR(parse(s, &t, &e), e, ERR_FORMAT, "more than 4096 fields");
	free(s);
}

int main(void)
{
	test_basic();
	test_errors();
	return TEST_SUMMARY();
}
