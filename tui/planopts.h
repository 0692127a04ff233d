/*
 * planopts — the pruning-knob options shared by `punguza plan` and
 * `punguza prune` (one parser, one help text, so both read the same
 * spellings).
 *
 * Knobs: --vocab K, --min-count C, --no-closure, --width F, --hidden D,
 * --inter F, --heads-mode M, --select S, --layers N, --keep-layers LIST,
 * --rank-layers N, --tie SRC, --dtype T, --seed N.
 */
#ifndef PUNGUZA_PLANOPTS_H
#define PUNGUZA_PLANOPTS_H

#include <stdbool.h>
#include <stdio.h>

#include "plan.h"

/* Knob options that take no value (--no-closure). */
bool planopts_is_flag(const char *opt);

/* Applies knob `opt` (with `val`, NULL for a flag) to p. Returns 1 when
 * it was a knob and was applied, 0 when opt is not a knob, -1 when val is
 * invalid (then "punguza: CMD: invalid value ..." is printed). */
int planopts_apply(struct prune_plan *p, const char *cmd, const char *opt,
		   const char *val);

/* Prints the knob lines of a usage text. */
void planopts_help(FILE *out);

/* Number parsers used by the commands: 0 ok, -1 bad. */
int planopts_long(const char *s, long lo, long hi, long *out);
int planopts_double(const char *s, double *out);

#endif
