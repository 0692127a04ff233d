/* punguza [DIR | --preset NAME [--tokenizer FILE]] — opens the explorer. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "commands.h"
#include "fileio.h"
#include "paths.h"
#include "prompts.h"
#include "workbench.h"

#define MAX_FILES 16

static void usage(FILE *out)
{
	fprintf(out,
		"usage: punguza [DIR] [--corpus FILE]... [--heldout FILE]...\n"
		"       punguza --preset NAME [--tokenizer FILE]\n"
		"\n"
		"Opens the explorer on a model directory (default: the shipped\n"
		"model, assets/tiny-inkuba), or on a built-in geometry with no\n"
		"weights (plan-only), e.g. --preset inkubalm-0.4b.\n"
		"\n"
		"  --corpus FILE    text for vocabulary counting and calibration\n"
		"                   (default: assets/corpus/udhr_swh.txt, udhr_hau.txt)\n"
		"  --heldout FILE   text for the Quality screen (default: the\n"
		"                   shipped model's held-out Swahili and Hausa)\n"
		"  --prompts FILE   sample prompts (default: assets/prompts/prompts.json)\n");
}

/* Adds assets/NAME to list when it exists. */
static void add_asset(char **list, int *n, const char *name)
{
	char path[PATH_MAX];
	if (*n < MAX_FILES && paths_asset(name, path, sizeof path) == 0 &&
	    path_exists(path))
		list[(*n)++] = strdup(path);
}

int cmd_explore(int argc, char **argv)
{
	const char *dir = NULL, *preset = NULL, *tokenizer = NULL;
	const char *prompts_path = NULL;
	char *corpus[MAX_FILES], *heldout[MAX_FILES];
	int n_corpus = 0, n_heldout = 0, status = 1;
	for (int i = 1; i < argc; i++) {
		bool more = i + 1 < argc;
		if (!strcmp(argv[i], "--preset") && more)
			preset = argv[++i];
		else if (!strcmp(argv[i], "--tokenizer") && more)
			tokenizer = argv[++i];
		else if (!strcmp(argv[i], "--prompts") && more)
			prompts_path = argv[++i];
		else if (!strcmp(argv[i], "--corpus") && more &&
			 n_corpus < MAX_FILES)
			corpus[n_corpus++] = strdup(argv[++i]);
		else if (!strcmp(argv[i], "--heldout") && more &&
			 n_heldout < MAX_FILES)
			heldout[n_heldout++] = strdup(argv[++i]);
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			status = 0;
			goto done;
		} else if (argv[i][0] != '-' && !dir)
			dir = argv[i];
		else {
			usage(stderr);
			status = 2;
			goto done;
		}
	}
	if (!n_corpus) {
		add_asset(corpus, &n_corpus, "corpus/udhr_swh.txt");
		add_asset(corpus, &n_corpus, "corpus/udhr_hau.txt");
	}
	if (!n_heldout) {
		add_asset(heldout, &n_heldout, "tiny-inkuba/heldout_swh.txt");
		add_asset(heldout, &n_heldout, "tiny-inkuba/heldout_hau.txt");
	}
	struct workbench *wb = NULL;
	struct err e = {0};
	char shipped[PATH_MAX];
	if (preset) {
		if (wb_open_preset(preset, tokenizer, &wb, &e))
			goto fail;
	} else {
		if (!dir) {
			if (paths_asset("tiny-inkuba", shipped, sizeof shipped)) {
				fprintf(stderr,
					"punguza: cannot find the shipped model "
					"(set PUNGUZA_ASSETS or give a DIR)\n");
				goto done;
			}
			dir = shipped;
		}
		if (wb_open_dir(dir, &wb, &e))
			goto fail;
	}
	if (wb_set_inputs(wb, (const char *const *)corpus, n_corpus,
			  n_heldout ? heldout[0] : NULL, &e))
		goto fail;
	struct app a = {.wb = wb, .status_role = ROLE_DIM, .ref_next = 2};
	a.heldout = heldout;
	a.n_heldout = n_heldout;
	gen_defaults(&a.gen);
	char ppath[PATH_MAX];
	if (!prompts_path && paths_asset("prompts/prompts.json", ppath,
					 sizeof ppath) == 0)
		prompts_path = ppath;
	if (prompts_path && prompts_load(prompts_path, &a.prompts, &e)) {
		fprintf(stderr, "punguza: %s (continuing without samples)\n",
			e.msg);
		a.prompts = NULL;
	}
	/* the export folder: $HOME/punguza-exports/<model>-<size> until the
	 * user types one (wb_default_export_dir), never the source tree */
	a.export_formats = 3;
	status = app_run(&a);
	prompts_free(a.prompts);
	wb_free(wb);
	goto done;
fail:
	fprintf(stderr, "punguza: %s\n", e.msg);
	wb_free(wb);
done:
	for (int i = 0; i < n_corpus; i++)
		free(corpus[i]);
	for (int i = 0; i < n_heldout; i++)
		free(heldout[i]);
	return status;
}
