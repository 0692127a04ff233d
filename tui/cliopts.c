/* cliopts — the option handling the subcommands share (see cliopts.h). */
#include "cliopts.h"

#include <stdio.h>
#include <unistd.h>

#include "progress.h"

int cliopts_positional(const char *cmd, const char *arg, const char **dir)
{
	if (*dir) {
		fprintf(stderr, "punguza: %s: unexpected argument '%s'\n", cmd,
			arg);
		return 2;
	}
	*dir = arg;
	return 0;
}

bool cliopts_has_value(const char *cmd, int argc, char **argv, int i)
{
	if (i + 1 < argc)
		return true;
	fprintf(stderr, "punguza: %s: %s needs a value\n", cmd, argv[i]);
	return false;
}

int cliopts_unknown(const char *cmd, const char *opt)
{
	fprintf(stderr, "punguza: %s: unknown option '%s'\n", cmd, opt);
	return 2;
}

int cliopts_bad_value(const char *cmd, const char *opt, const char *val)
{
	fprintf(stderr, "punguza: %s: invalid value '%s' for %s\n", cmd, val,
		opt);
	return 2;
}

int cliopts_progress(void *ctx, double done, const char *stage)
{
	(void)ctx;
	fprintf(stderr, "\r%s %3.0f%%", stage, 100 * done);
	return 0;
}

int cliopts_load_model(const char *dir, struct model **m, struct err *e)
{
	struct progress prog = {cliopts_progress, NULL};
	return model_load(dir, m, isatty(2) ? &prog : NULL, e);
}

void cliopts_progress_end(void)
{
	if (isatty(2))
		fprintf(stderr, "\r\033[K");
}
