#include "app.h"

#include <curses.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "widgets.h"

static const struct screen screens[] = {
	{"Knobs", home_draw, home_key,
	 "\u2191\u2193 knob  \u2190\u2192 change  p preset  +/- LB  "
	 "b reference  0 reset  ? help  q quit",
	 NULL},
	{"Vocabulary", vocab_draw, vocab_key,
	 "\u2190\u2192 K  x merge closure  n/N sample  ? help  q quit",
	 vocab_tick},
	{"Run", run_draw, run_key,
	 "\u2191\u2193 prompt  e type  Enter generate  s stop  t/T temp  "
	 "k/K top-k  r/R repeat  n/N length  ? help",
	 run_tick},
	{"Quality", quality_draw, quality_key,
	 "m measure  l held-out text  c cancel  ? help  q quit", quality_tick},
	{"Export", export_draw, export_key,
	 "d directory  h HF  g GGUF  f replace  Enter export  c cancel  "
	 "? help",
	 export_tick},
};
#define N_SCREENS ((int)(sizeof screens / sizeof screens[0]))

void app_status(struct app *a, enum term_role role, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->status, sizeof a->status, fmt, ap);
	va_end(ap);
	a->status_role = role;
}

static void draw_title(const struct app *a)
{
	const struct workbench *wb = a->wb;
	attrset(term_attr(ROLE_TITLE));
	move(0, 0);
	for (int i = 0; i < COLS; i++)
		addch(' ');
	char total[32];
	fmt_short(total, sizeof total, wb->est.src.total);
	draw_fmt(0, 1, COLS - 2, ROLE_TITLE, "punguza  %s  %s params%s",
		 wb->name, total, wb->plan_only ? "  [plan-only]" : "");
	/* the tabs, on their own line */
	int x = 1;
	for (int i = 0; i < N_SCREENS && x < COLS; i++) {
		char tab[32];
		snprintf(tab, sizeof tab, " %d %s ", i + 1, screens[i].name);
		x += draw_text(1, x, COLS - x,
			       i == a->screen ? ROLE_SELECTED : ROLE_DIM, 0,
			       tab) +
		     1;
	}
	attrset(A_NORMAL);
}

static void draw_footer(const struct app *a)
{
	int y = LINES - 2;
	move(y, 0);
	clrtoeol();
	double done;
	char stage[64];
	if (wb_task_status(a->wb, &done, stage, sizeof stage) != WB_TASK_NONE)
		draw_progress(y, 1, COLS - 2, done, stage);
	else if (a->wb->task_error[0])
		draw_text(y, 1, COLS - 2, ROLE_BAD, 0, a->wb->task_error);
	else if (a->status[0])
		draw_text(y, 1, COLS - 2, a->status_role, 0, a->status);
	move(LINES - 1, 0);
	clrtoeol();
	draw_text(LINES - 1, 1, COLS - 2, ROLE_DIM, 0,
		  screens[a->screen].keys);
}

static void draw_help(const struct app *a)
{
	static const char *lines[] = {
		"punguza — shrink InkubaLM-family models",
		"",
		"Knobs screen",
		"  \u2191 \u2193 / k j   choose a knob",
		"  \u2190 \u2192 / h l   change it (snaps to valid values)",
		"  p             next preset (published 50M, 100M, 40M, identity)",
		"  0             back to the identity plan (keep everything)",
		"  + -           assumed leaderboard score LB \u00b10.01",
		"  ] [           assumed LB \u00b10.001",
		"  b             next break-even reference (published results)",
		"",
		"Run screen: \u2191\u2193 sample prompt, e type your own, Enter",
		"  generate with both models, s stop, t/T k/K r/R n/N sampler",
		"Quality screen: m measure (applies the plan first), l held-out",
		"  text, c cancel; results are remembered per plan",
		"Export screen: d directory, h/g formats, f replace, Enter",
		"  export (applies the plan first)",
		"",
		"Everywhere",
		"  1-9 / Tab     switch screen",
		"  ?             this help; any key closes it",
		"  q / Ctrl-C    quit",
	};
	int n = (int)(sizeof lines / sizeof lines[0]);
	int w = 72 < COLS - 4 ? 72 : COLS - 4;
	int h = n + 2 < LINES - 2 ? n + 2 : LINES - 2;
	int y0 = (LINES - h) / 2, x0 = (COLS - w) / 2;
	for (int i = 0; i < h; i++) {
		move(y0 + i, x0);
		attrset(term_attr(ROLE_SELECTED));
		for (int j = 0; j < w; j++)
			addch(' ');
	}
	for (int i = 0; i < n && i < h - 2; i++)
		draw_text(y0 + 1 + i, x0 + 2, w - 4, ROLE_SELECTED, 0,
			  lines[i]);
	attrset(A_NORMAL);
	(void)a;
}

static void draw_all(struct app *a)
{
	erase();
	if (LINES < 20 || COLS < 70) {
		draw_fmt(0, 0, COLS, ROLE_BAD,
			 "terminal too small (%dx%d); punguza needs 70x20",
			 COLS, LINES);
		refresh();
		return;
	}
	draw_title(a);
	screens[a->screen].draw(a, 1, LINES - 3); /* rows 2 .. LINES-3 */
	draw_footer(a);
	if (a->help)
		draw_help(a);
	refresh();
}

static int global_key(struct app *a, int ch)
{
	if (a->typing)
		return APP_UNHANDLED;
	if (a->help) {
		a->help = false;
		return APP_REDRAW;
	}
	switch (ch) {
	case 'q':
	case 'Q':
		return APP_QUIT;
	case '?':
		a->help = true;
		return APP_REDRAW;
	case '\t':
		a->screen = (a->screen + 1) % N_SCREENS;
		return APP_REDRAW;
	case KEY_BTAB:
		a->screen = (a->screen + N_SCREENS - 1) % N_SCREENS;
		return APP_REDRAW;
	case KEY_RESIZE:
		return APP_REDRAW;
	}
	if (ch == 27 && wb_task_status(a->wb, NULL, NULL, 0) != WB_TASK_NONE) {
		wb_cancel_task(a->wb); /* Esc cancels a load/apply/measure */
		a->pending = APP_PENDING_NONE;
		return APP_REDRAW;
	}
	if (ch >= '1' && ch <= '9' && ch - '1' < N_SCREENS) {
		a->screen = ch - '1';
		return APP_REDRAW;
	}
	return APP_UNHANDLED;
}

int app_run(struct app *a)
{
	char why[256];
	if (term_init(why, sizeof why)) {
		fprintf(stderr, "punguza: %s\n", why);
		return 1;
	}
	if (a->wb->plan_only)
		app_status(a, ROLE_DIM, "%s", a->wb->plan_only_why);
	int flags = APP_REDRAW;
	for (;;) {
		if (flags & APP_REDRAW)
			draw_all(a);
		flags = 0;
		if (term_quit_requested())
			break;
		int ch = getch(); /* waits at most one tick (100 ms) */
		if (wb_poll(a->wb) ||
		    wb_task_status(a->wb, NULL, NULL, 0) != WB_TASK_NONE)
			flags |= APP_REDRAW;
		for (int i = 0; i < N_SCREENS; i++)
			if (screens[i].tick)
				flags |= screens[i].tick(a) & APP_REDRAW;
		if (ch == ERR)
			continue;
		int r = global_key(a, ch);
		if (r & APP_UNHANDLED)
			r = screens[a->screen].key(a, ch);
		if (r & APP_QUIT)
			break;
		flags |= r & APP_REDRAW;
	}
	term_end();
	return 0;
}
