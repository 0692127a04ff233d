/*
 * cliopts — what the subcommands' option loops share: taking the
 * positional model DIR, checking that an option has a value, the usage
 * errors, and loading a model with a progress line on a terminal.
 *
 * Every message goes to stderr as "punguza: CMD: ..." (CMD the
 * subcommand's name); the tests compare them byte for byte. The usage
 * errors return 2, the exit status of a usage error (commands.h).
 */
#ifndef PUNGUZA_CLIOPTS_H
#define PUNGUZA_CLIOPTS_H

#include <stdbool.h>

#include "err.h"
#include "model.h"

/* Takes the positional argument arg as *dir: 0, or 2 after "unexpected
 * argument 'ARG'" when *dir is already set. */
int cliopts_positional(const char *cmd, const char *arg, const char **dir);

/* Whether option argv[i] is followed by a value; false after "OPT needs a
 * value" when it is the last argument. */
bool cliopts_has_value(const char *cmd, int argc, char **argv, int i);

/* Prints "unknown option 'OPT'"; returns 2. */
int cliopts_unknown(const char *cmd, const char *opt);

/* Prints "invalid value 'VAL' for OPT"; returns 2. */
int cliopts_bad_value(const char *cmd, const char *opt, const char *val);

/* A progress callback printing "\rSTAGE NN%" to stderr (ctx unused). */
int cliopts_progress(void *ctx, double done, const char *stage);

/* model_load(dir), with cliopts_progress when stderr is a terminal. The
 * progress line stays until cliopts_progress_end. */
int cliopts_load_model(const char *dir, struct model **m, struct err *e);

/* Clears the progress line when stderr is a terminal. */
void cliopts_progress_end(void);

#endif
