#include "term.h"

#include <curses.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t active;
static volatile sig_atomic_t quit_requested;
static bool colour;
static int attrs[ROLE_COUNT];

void term_end(void)
{
	if (active) {
		active = 0;
		curs_set(1);
		endwin();
	}
}

static void on_quit_signal(int sig)
{
	quit_requested = sig; /* the event loop sees it within one tick */
}

static void on_fatal_signal(int sig)
{
	/* endwin() is not async-signal-safe, but the process is dying anyway
	 * and a wrecked terminal is worse than the small risk. */
	if (active) {
		active = 0;
		endwin();
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_quit_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_fatal_signal;
	sa.sa_flags = SA_RESETHAND;
	int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
	for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
		sigaction(fatal[i], &sa, NULL);
}

static void setup_attrs(void)
{
	const char *nc = getenv("NO_COLOR");
	colour = has_colors() && !(nc && *nc);
	if (colour) {
		start_color();
		use_default_colors();
		init_pair(1, COLOR_BLACK, COLOR_CYAN);  /* title */
		init_pair(2, COLOR_CYAN, -1);           /* label */
		init_pair(3, COLOR_YELLOW, -1);         /* value */
		init_pair(4, COLOR_GREEN, -1);          /* good */
		init_pair(5, COLOR_RED, -1);            /* bad */
		init_pair(6, COLOR_BLUE, -1);           /* bar */
		init_pair(7, COLOR_MAGENTA, -1);        /* accent */
		attrs[ROLE_TITLE] = COLOR_PAIR(1);
		attrs[ROLE_LABEL] = COLOR_PAIR(2);
		attrs[ROLE_VALUE] = COLOR_PAIR(3) | A_BOLD;
		attrs[ROLE_GOOD] = COLOR_PAIR(4) | A_BOLD;
		attrs[ROLE_BAD] = COLOR_PAIR(5) | A_BOLD;
		attrs[ROLE_BAR] = COLOR_PAIR(6) | A_BOLD;
		attrs[ROLE_ACCENT] = COLOR_PAIR(7) | A_BOLD;
	} else {
		attrs[ROLE_TITLE] = A_REVERSE;
		attrs[ROLE_LABEL] = A_NORMAL;
		attrs[ROLE_VALUE] = A_BOLD;
		attrs[ROLE_GOOD] = A_BOLD;
		attrs[ROLE_BAD] = A_BOLD | A_UNDERLINE;
		attrs[ROLE_BAR] = A_NORMAL;
		attrs[ROLE_ACCENT] = A_BOLD;
	}
	attrs[ROLE_NORMAL] = A_NORMAL;
	attrs[ROLE_DIM] = A_DIM;
	attrs[ROLE_SELECTED] = A_REVERSE;
}

int term_init(char *buf, int cap)
{
	setlocale(LC_ALL, "");
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		snprintf(buf, (size_t)cap,
			 "the explorer needs a terminal (stdin and stdout are "
			 "not both ttys); see 'punguza --help' for the CLI");
		return -1;
	}
	const char *t = getenv("TERM");
	SCREEN *scr = newterm(NULL, stdout, stdin);
	if (!scr) {
		snprintf(buf, (size_t)cap,
			 "cannot use terminal type '%s'; the command line "
			 "works anywhere: see 'punguza --help'",
			 t ? t : "(unset)");
		return -1;
	}
	/* a full-screen program needs cursor addressing: TERM=dumb (and
	 * the like) would show a blank screen */
	const char *cup = tigetstr("cup");
	if (!cup || cup == (const char *)-1) {
		endwin();
		delscreen(scr);
		snprintf(buf, (size_t)cap,
			 "terminal type '%s' cannot move the cursor, so the "
			 "explorer cannot draw; use a full-screen terminal "
			 "(TERM=xterm-256color, vt100, ...) or the command "
			 "line: see 'punguza --help'",
			 t ? t : "(unset)");
		return -1;
	}
	active = 1;
	atexit(term_end);
	install_handlers();
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	timeout(100);
	mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON4_PRESSED
#ifdef BUTTON5_PRESSED
			  | BUTTON5_PRESSED
#endif
		  , NULL);
	mouseinterval(0);
	setup_attrs();
	return 0;
}

int term_quit_requested(void)
{
	int q = quit_requested;
	quit_requested = 0;
	return q;
}

bool term_has_colour(void)
{
	return colour;
}

int term_attr(enum term_role role)
{
	return role < ROLE_COUNT ? attrs[role] : (int)A_NORMAL;
}
