/*
 * term — ncurses set-up and teardown, colours, and the promise that the
 * terminal is restored on every way out: normal quit, error, Ctrl-C,
 * SIGTERM/SIGHUP, and fatal signals (SIGSEGV, SIGABRT, ...), which restore
 * the terminal and then re-raise so the exit status stays honest.
 *
 * Colours follow the NO_COLOR convention (https://no-color.org): when the
 * variable is set and non-empty, or the terminal has no colours, everything
 * is drawn with attributes only (bold, reverse, dim).
 */
#ifndef PUNGUZA_TERM_H
#define PUNGUZA_TERM_H

#include <stdbool.h>

/* Colour roles; term_attr() gives the attribute for a role. */
enum term_role {
	ROLE_NORMAL = 0,
	ROLE_TITLE,    /* header bar */
	ROLE_LABEL,    /* names of things */
	ROLE_VALUE,    /* numbers the user is steering */
	ROLE_DIM,      /* secondary text, disabled items */
	ROLE_SELECTED, /* the row under the cursor */
	ROLE_GOOD,     /* better than the reference */
	ROLE_BAD,      /* worse, errors */
	ROLE_BAR,      /* bars and chart points */
	ROLE_ACCENT,   /* the current point, active tab */
	ROLE_COUNT
};

/* Starts curses on the controlling terminal (setlocale, cbreak, noecho,
 * keypad, hidden cursor, 100 ms input timeout) and installs the signal
 * handlers. Returns 0, or -1 with a message in buf when the terminal cannot
 * be used (not a tty, unknown TERM, a terminal that cannot move its
 * cursor such as TERM=dumb). Mouse clicks and the wheel arrive as
 * KEY_MOUSE. */
int term_init(char *buf, int cap);

/* Restores the terminal; safe to call more than once and from atexit. */
void term_end(void);

/* The signal (SIGINT, SIGTERM, SIGHUP) that asked us to quit since the
 * last call, or 0: the caller exits with 128 + it, as shells expect. */
int term_quit_requested(void);

bool term_has_colour(void);
int term_attr(enum term_role role);

#endif
