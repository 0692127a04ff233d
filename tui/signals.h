/*
 * signals — SIGINT, SIGTERM and SIGHUP turned into a cancel request for the
 * CLI's long commands (the library never installs handlers itself).
 *
 *   signals_catch();                      before the long work
 *   struct progress p = {cb, ...};        cb returns signals_caught() != 0
 *   ... the library unwinds: ERR_CANCELLED, temporary files removed ...
 *   signals_finish();                     re-raises a caught signal
 *
 * A signal that was ignored when signals_catch ran stays ignored (nohup;
 * SIGINT in a background job of a non-interactive shell).
 * The handler only stores the signal number (async-signal-safe) and
 * restores the default action, so a second signal ends the process at
 * once (what it leaves behind, the next export removes: export.h).
 */
#ifndef PUNGUZA_SIGNALS_H
#define PUNGUZA_SIGNALS_H

/* Installs the handlers. */
void signals_catch(void);
/* The signal caught since signals_catch (0: none). */
int signals_caught(void);
/* A progress callback: cancels once a signal was caught. */
int signals_progress(void *ctx, double done, const char *stage);
/* When a signal was caught: says so on stderr and dies of it with the
 * default action (exit status 128 + n in the shell). Otherwise restores the
 * previous handlers and returns. */
void signals_finish(void);

#endif
