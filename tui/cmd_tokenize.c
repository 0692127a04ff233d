/* punguza tokenize DIR|FILE [--ids|--pieces] [--no-special] < text
 *
 * Reads standard input line by line and prints one line per input line:
 * the ids (default) or the pieces, separated by spaces, with the specials
 * the tokenizer's post-processor adds (InkubaLM: <s> first) unless
 * --no-special. The newline ending a line is not part of its text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliopts.h"
#include "commands.h"
#include "tokenizer.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: punguza tokenize DIR|FILE [--ids|--pieces] [--no-special] < text\n"
		"\n"
		"Tokenizes standard input line by line with the tokenizer in DIR\n"
		"(tokenizer.json) or FILE, one output line per input line.\n"
		"  --ids         print token ids (default)\n"
		"  --pieces      print the pieces instead of ids\n"
		"  --no-special  do not add the post-processor's specials (BOS/EOS)\n");
}

int cmd_tokenize(int argc, char **argv)
{
	const char *path = NULL;
	bool pieces = false, special = true;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--ids")) {
			pieces = false;
		} else if (!strcmp(argv[i], "--pieces")) {
			pieces = true;
		} else if (!strcmp(argv[i], "--no-special")) {
			special = false;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			cliopts_unknown("tokenize", argv[i]);
			usage(stderr);
			return 2;
		} else if (!path) {
			path = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!path) {
		usage(stderr);
		return 2;
	}
	struct tokenizer *t = NULL;
	struct err e = {0};
	if (tok_load(path, &t, &e)) {
		fprintf(stderr, "punguza: %s\n", e.msg);
		return 1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	int status = 0;
	while ((got = getline(&line, &cap, stdin)) >= 0) {
		size_t len = (size_t)got;
		if (len && line[len - 1] == '\n')
			len--;
		int *ids;
		size_t n;
		if (tok_encode(t, line, len, special, &ids, &n, &e)) {
			fprintf(stderr, "punguza: %s\n", e.msg);
			status = 1;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			if (i)
				putchar(' ');
			if (pieces) {
				size_t pl;
				const char *p = tok_piece(t, ids[i], &pl);
				fwrite(p ? p : "?", 1, p ? pl : 1, stdout);
			} else {
				printf("%d", ids[i]);
			}
		}
		putchar('\n');
		free(ids);
	}
	if (ferror(stdin)) {
		fprintf(stderr, "punguza: tokenize: error reading standard input\n");
		status = 1;
	}
	free(line);
	tok_free(t);
	if (fflush(stdout) != 0)
		status = 1;
	return status;
}
