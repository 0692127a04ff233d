/*
 * healcli — what `punguza heal` and `punguza prune --heal-*` share: the
 * Ctrl-C / SIGTERM flag the heal loop sees through its progress callback,
 * the progress line on stderr, and the summary on stdout.
 */
#ifndef PUNGUZA_HEALCLI_H
#define PUNGUZA_HEALCLI_H

#include <stdbool.h>

#include "heal.h"

struct healcli {
	struct heal_monitor mon;
	bool tty;
	double last_print;
	unsigned long long last_step;
};

/* Installs the SIGINT / SIGTERM handlers (they only set a flag) and
 * initialises the monitor. */
int healcli_init(struct healcli *c);
void healcli_done(struct healcli *c);

/* A progress callback (ctx = struct healcli *): prints step, loss,
 * tokens/s and ETA; returns non-zero once a signal arrived. */
int healcli_progress(void *ctx, double done, const char *stage);

/* 130 after SIGINT, 143 after SIGTERM, else 0. */
int healcli_signal_status(void);

/* The run's summary on stdout (text). */
void healcli_print(const struct heal_result *r, const char *out);

/* The same as one JSON object. */
void healcli_print_json(const struct heal_result *r, const char *out);

#endif
