#include "app.h"

#include <curses.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "widgets.h"

/* The footer's key line: the screen's keys, then "? help  q quit", which
 * is always drawn (the screen's part is cut first). */
static const struct screen screens[] = {
	{"Knobs", home_draw, home_key,
	 "\u2191\u2193 knob  \u2190\u2192 change  Enter type  Del default  "
	 "p preset  +/- LB  b ref  S/L recipe",
	 NULL},
	{"Vocabulary", vocab_draw, vocab_key,
	 "\u2190\u2192 K  Enter type K  x merge closure  n/N sample",
	 vocab_tick},
	{"Run", run_draw, run_key,
	 "\u2191\u2193 row  \u2190\u2192 prompt/value  e type  Enter generate  "
	 "Esc stop  PgUp/PgDn scroll",
	 run_tick},
	{"Quality", quality_draw, quality_key,
	 "Enter measure  \u2190\u2192 held-out text  a apply layer ranking  "
	 "Esc cancel",
	 quality_tick},
	{"Export", export_draw, export_key,
	 "\u2191\u2193 row  \u2190\u2192 change  e edit folder  Enter export  "
	 "Esc cancel  PgUp/PgDn recipe",
	 export_tick},
	{"Heal", heal_draw, heal_key,
	 "Enter heal  Esc stop  r resume  \u2190\u2192 budget  m steps/minutes",
	 heal_tick},
	{"Plans", plans_draw, plans_key,
	 "\u2191\u2193 plan  Enter load into the knobs  s sort  Del forget",
	 NULL},
};
#define N_SCREENS ((int)(sizeof screens / sizeof screens[0]))

/* The tabs' columns on the title line, for mouse clicks. */
static int tab_x0[N_SCREENS], tab_x1[N_SCREENS];

static const char *const help_lines[] = {
	"punguza \u2014 shrink InkubaLM-family models",
	"",
	"EVERYWHERE",
	"  1 2 3 4 5 6 7    screens: Knobs Vocabulary Run Quality Export",
	"                   Heal Plans",
	"  Tab / Shift-Tab  next / previous screen",
	"  ? / F1           this help (\u2191\u2193 PgUp PgDn scroll, Esc closes)",
	"  Esc              cancel the running job, stop generating",
	"  q                quit (asks first while a job runs)",
	"  Ctrl-C           quit at once (exit status 130)",
	"  mouse            click a tab or a row; the wheel scrolls",
	"  \u2191\u2193 / j k         choose a row    \u2190\u2192 / h l  change it",
	"",
	"1 KNOBS",
	"  \u2191\u2193 / j k         choose a knob",
	"  \u2190\u2192 / h l         change it (snaps to valid values)",
	"  Enter            type a value: vocabulary, widths, layers",
	"  Del / Backspace  this knob back to its default",
	"                   (MLP width: follows d again)",
	"  p                next preset (published 50M, 100M, 40M, identity)",
	"  0                identity plan (keep everything)",
	"  + -   ] [        assumed leaderboard score LB \u00b10.01 / \u00b10.001",
	"  b                next break-even reference (published results)",
	"  S / L            save / load the plan as a recipe (punguza.json)",
	"",
	"2 VOCABULARY",
	"  \u2190\u2192 / h l         kept pieces K (finer steps near the cut)",
	"  Enter            type K",
	"  x                merge closure on / off",
	"  n / N            next / previous sample sentence",
	"",
	"3 RUN",
	"  \u2191\u2193 / j k         the prompt row or a sampler setting",
	"  \u2190\u2192 / h l         previous / next sample prompt, or change",
	"                   temperature, top-k, top-p, repeat, length",
	"  e                type a prompt (\u2190\u2192 Home End move, Ctrl-U",
	"                   clears, Enter uses it, Esc cancels)",
	"  Enter            generate with both models (applies the plan)",
	"  Esc              stop",
	"  S                next sampling seed",
	"  PgUp / PgDn      scroll the outputs",
	"",
	"4 QUALITY",
	"  Enter / m        measure (applies the plan first); results are",
	"                   remembered per plan and held-out text",
	"  \u2190\u2192 / h l         held-out text",
	"  a                Layers knob: keep the most influential layers",
	"",
	"5 EXPORT",
	"  \u2191\u2193 / j k         folder, Hugging Face, GGUF, dtype",
	"  \u2190\u2192 / Space       toggle a format, change the dtype",
	"  e                edit the folder (Esc restores it, Ctrl-U clears)",
	"  Enter            export (applies the plan first); replacing a",
	"                   previous export asks first, naming its files;",
	"                   a folder with other files is never replaced",
	"  PgUp / PgDn      scroll the recipe",
	"",
	"6 HEAL",
	"  Enter            heal the cut by distillation from the original",
	"                   (applies the plan first); a finished heal's",
	"                   model is what Run, Quality and Export use",
	"  Esc              stop: a checkpoint of the last step is kept",
	"  r                resume the checkpoint",
	"  \u2190\u2192 / h l         budget (steps or minutes)",
	"  m                budget in steps / in minutes",
	"",
	"7 PLANS",
	"  \u2191\u2193 / j k         choose a plan (every plan measured on this",
	"                   model, kept between runs)",
	"  Enter            load the plan into the knobs",
	"  s                sort by parameters / bits per byte / zindi",
	"  Del              forget the plan",
};
#define N_HELP ((int)(sizeof help_lines / sizeof help_lines[0]))

void app_status(struct app *a, enum term_role role, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->status, sizeof a->status, fmt, ap);
	va_end(ap);
	a->status_role = role;
}

const char *app_export_dir(struct app *a)
{
	if (a->export_custom)
		return a->export_dir;
	wb_default_export_dir(a->wb, a->export_default,
			      sizeof a->export_default);
	return a->export_default;
}

void app_edit_begin(struct app *a, enum app_edit what, char *buf, size_t cap)
{
	a->typing = true;
	a->editing = what;
	edit_begin(&a->edit, buf, cap);
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
	for (int i = 0; i < N_SCREENS; i++) {
		char tab[32];
		snprintf(tab, sizeof tab, " %d %s ", i + 1, screens[i].name);
		tab_x0[i] = x;
		if (x < COLS)
			x += draw_text(1, x, COLS - x,
				       i == a->screen ? ROLE_SELECTED : ROLE_DIM,
				       0, tab);
		tab_x1[i] = x;
		x++;
	}
	attrset(A_NORMAL);
}

static void fmt_secs(char *buf, size_t cap, double s)
{
	if (s < 60)
		snprintf(buf, cap, "%.1f s", s);
	else if (s < 3600)
		snprintf(buf, cap, "%d min %02d s", (int)s / 60, (int)s % 60);
	else
		snprintf(buf, cap, "%d h %02d min", (int)s / 3600,
			 (int)s / 60 % 60);
}

/* The job line: running (with elapsed time and ETA) -> done / failed /
 * cancelled (with elapsed time); a key's status message in between.
 * Returns the role and writes the text; *bar >= 0 asks for a progress
 * bar filled to that fraction before the text. */
static enum term_role job_line(struct app *a, char *buf, size_t cap,
			       double *bar)
{
	struct wb_job_info ji;
	wb_job_info(a->wb, &ji);
	char el[32], eta[48] = "";
	fmt_secs(el, sizeof el, ji.elapsed);
	*bar = -1;
	if (ji.state == WB_JOB_RUNNING) {
		if (ji.eta >= 0) {
			char t[32];
			fmt_secs(t, sizeof t, ji.eta);
			snprintf(eta, sizeof eta, ", about %s left", t);
		}
		*bar = ji.done;
		snprintf(buf, cap, "%3.0f%% %s: %s  %s%s  (Esc cancels)",
			 ji.done * 100, wb_task_name(ji.kind), ji.stage, el,
			 eta);
		return ROLE_NORMAL;
	}
	if (a->status[0]) {
		snprintf(buf, cap, "%s", a->status);
		return a->status_role;
	}
	struct wb_gen_view v[2];
	wb_gen_view(a->wb, WB_ORIGINAL, &v[0]);
	wb_gen_view(a->wb, WB_PRUNED, &v[1]);
	if (v[0].running || v[1].running) {
		double s = v[0].seconds > v[1].seconds ? v[0].seconds
						       : v[1].seconds;
		fmt_secs(el, sizeof el, s);
		snprintf(buf, cap, "generating  %s  (Esc stops)", el);
		return ROLE_NORMAL;
	}
	switch (ji.state) {
	case WB_JOB_DONE:
		snprintf(buf, cap, "%s done in %s", wb_task_name(ji.kind), el);
		return ROLE_GOOD;
	case WB_JOB_FAILED:
		snprintf(buf, cap, "%s failed after %s: %s",
			 wb_task_name(ji.kind), el, ji.error ? ji.error : "");
		return ROLE_BAD;
	case WB_JOB_CANCELLED:
		snprintf(buf, cap, "%s cancelled after %s",
			 wb_task_name(ji.kind), el);
		return ROLE_DIM;
	default:
		break;
	}
	buf[0] = '\0';
	return ROLE_DIM;
}

/* Lines the job line needs (1..3) at the current width. */
static int footer_lines(struct app *a)
{
	char buf[1024];
	double bar;
	job_line(a, buf, sizeof buf, &bar);
	if (bar >= 0 || !buf[0])
		return 1;
	int n = text_lines(COLS - 2, buf);
	return n < 1 ? 1 : n > 3 ? 3 : n;
}

static void draw_footer(struct app *a, int lines)
{
	int y = LINES - 1 - lines;
	for (int i = 0; i < lines; i++) {
		move(y + i, 0);
		clrtoeol();
	}
	char buf[1024];
	double bar;
	enum term_role r = job_line(a, buf, sizeof buf, &bar);
	if (bar >= 0) {
		int bw = COLS / 4 < 30 ? COLS / 4 : 30;
		draw_bar(y, 1, bw, bar, ROLE_ACCENT);
		draw_text(y, bw + 2, COLS - bw - 3, ROLE_NORMAL, 0, buf);
	} else {
		draw_wrapped(y, 1, COLS - 2, lines, r, 0, buf);
	}
	move(LINES - 1, 0);
	clrtoeol();
	static const char tail[] = "? help  q quit";
	int tw = (int)strlen(tail);
	draw_text(LINES - 1, 1, COLS - tw - 4, ROLE_DIM, 0,
		  screens[a->screen].keys);
	draw_text(LINES - 1, COLS - tw - 1, tw, ROLE_LABEL, 0, tail);
}

/* The help overlay: a box as tall as the terminal allows, scrolled. */
static void draw_help(struct app *a)
{
	int w = 74 < COLS - 2 ? 74 : COLS - 2;
	int h = N_HELP + 3 < LINES - 2 ? N_HELP + 3 : LINES - 2;
	int rows = h - 3; /* text lines shown */
	if (a->help_scroll > N_HELP - rows)
		a->help_scroll = N_HELP - rows;
	if (a->help_scroll < 0)
		a->help_scroll = 0;
	int y0 = (LINES - h) / 2, x0 = (COLS - w) / 2;
	for (int i = 0; i < h; i++) {
		move(y0 + i, x0);
		attrset(term_attr(ROLE_SELECTED));
		for (int j = 0; j < w; j++)
			addch(' ');
	}
	for (int i = 0; i < rows && a->help_scroll + i < N_HELP; i++)
		draw_text(y0 + 1 + i, x0 + 2, w - 4, ROLE_SELECTED, 0,
			  help_lines[a->help_scroll + i]);
	char more[96];
	snprintf(more, sizeof more,
		 "lines %d-%d of %d  \u2191\u2193 PgUp PgDn scroll  "
		 "Esc closes",
		 a->help_scroll + 1, a->help_scroll + rows, N_HELP);
	draw_text(y0 + h - 1, x0 + 2, w - 4, ROLE_SELECTED, 0, more);
	attrset(A_NORMAL);
}

static void draw_confirm(struct app *a)
{
	int w = 70 < COLS - 4 ? 70 : COLS - 4;
	int tl = text_lines(w - 4, a->confirm_text);
	int h = tl + 4 < LINES - 2 ? tl + 4 : LINES - 2;
	int y0 = (LINES - h) / 2, x0 = (COLS - w) / 2;
	for (int i = 0; i < h; i++) {
		move(y0 + i, x0);
		attrset(term_attr(ROLE_SELECTED));
		for (int j = 0; j < w; j++)
			addch(' ');
	}
	draw_wrapped(y0 + 1, x0 + 2, w - 4, h - 3, ROLE_SELECTED, 0,
		     a->confirm_text);
	draw_text(y0 + h - 2, x0 + 2, w - 4, ROLE_SELECTED, 0,
		  "y yes   n / Esc no");
	attrset(A_NORMAL);
}

static void draw_all(struct app *a)
{
	erase();
	if (LINES < 20 || COLS < 60) {
		draw_fmt(0, 0, COLS, ROLE_BAD,
			 "terminal too small (%dx%d); punguza needs 60x20",
			 COLS, LINES);
		refresh();
		return;
	}
	a->edit_x = -1;
	int fl = footer_lines(a);
	draw_title(a);
	/* rows 2 .. LINES-2-fl */
	screens[a->screen].draw(a, 1, LINES - 2 - fl);
	draw_footer(a, fl);
	if (a->help)
		draw_help(a);
	if (a->confirm)
		draw_confirm(a);
	if (a->typing && a->edit_x >= 0 && !a->help && !a->confirm) {
		move(a->edit_y, a->edit_x);
		curs_set(1);
	} else {
		curs_set(0);
	}
	refresh();
}

static bool job_running(struct app *a)
{
	return wb_task_status(a->wb, NULL, NULL, 0) != WB_TASK_NONE;
}

static int confirm_key(struct app *a, int ch)
{
	enum app_confirm what = a->confirm;
	if (ch == 'y' || ch == 'Y') {
		a->confirm = APP_CONFIRM_NONE;
		if (what == APP_CONFIRM_QUIT)
			return APP_QUIT;
		if (what == APP_CONFIRM_REPLACE)
			export_confirmed(a);
		return APP_REDRAW;
	}
	if (ch == 'n' || ch == 'N' || ch == 27 || ch == 'q') {
		a->confirm = APP_CONFIRM_NONE;
		app_status(a, ROLE_DIM, "%s",
			   what == APP_CONFIRM_QUIT ? "not quitting"
						    : "not replaced: nothing "
						      "was written");
		return APP_REDRAW;
	}
	if (ch == KEY_RESIZE)
		return APP_REDRAW;
	return APP_OK; /* any other key: the question stays */
}

static int help_key(struct app *a, int ch)
{
	switch (ch) {
	case KEY_UP:
	case 'k':
		a->help_scroll--;
		return APP_REDRAW;
	case KEY_DOWN:
	case 'j':
		a->help_scroll++;
		return APP_REDRAW;
	case KEY_PPAGE:
		a->help_scroll -= LINES / 2;
		return APP_REDRAW;
	case KEY_NPAGE:
	case ' ':
		a->help_scroll += LINES / 2;
		return APP_REDRAW;
	case KEY_HOME:
		a->help_scroll = 0;
		return APP_REDRAW;
	case KEY_END:
		a->help_scroll = N_HELP;
		return APP_REDRAW;
	case KEY_RESIZE:
		return APP_REDRAW;
	}
	a->help = false; /* Esc, ?, q, anything else closes */
	return APP_REDRAW;
}

static int mouse_key(struct app *a)
{
	MEVENT m;
	if (getmouse(&m) != OK)
		return APP_OK;
	if (m.bstate & BUTTON4_PRESSED)
		return a->help ? help_key(a, KEY_UP) : screens[a->screen].key(a, KEY_UP);
#ifdef BUTTON5_PRESSED
	if (m.bstate & BUTTON5_PRESSED)
		return a->help ? help_key(a, KEY_DOWN)
			       : screens[a->screen].key(a, KEY_DOWN);
#endif
	if (!(m.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED |
			  BUTTON1_RELEASED)))
		return APP_OK;
	if (a->help || a->confirm || a->typing)
		return APP_OK;
	if (m.y == 1)
		for (int i = 0; i < N_SCREENS; i++)
			if (m.x >= tab_x0[i] && m.x < tab_x1[i]) {
				a->screen = i;
				return APP_REDRAW;
			}
	if (a->screen == APP_SCREEN_HOME)
		return home_click(a, m.y, m.x);
	return APP_OK;
}

static int global_key(struct app *a, int ch)
{
	if (ch == KEY_MOUSE)
		return mouse_key(a);
	if (a->confirm)
		return confirm_key(a, ch);
	if (a->help)
		return help_key(a, ch);
	if (a->typing)
		return APP_UNHANDLED;
	if (ch != KEY_RESIZE)
		a->status[0] = '\0'; /* a message lasts until the next key */
	switch (ch) {
	case 'q':
	case 'Q':
		if (job_running(a)) {
			struct wb_job_info ji;
			wb_job_info(a->wb, &ji);
			snprintf(a->confirm_text, sizeof a->confirm_text,
				 "A job is running (%s, %.0f%% done). Quit and "
				 "cancel it?",
				 wb_task_name(ji.kind), ji.done * 100);
			a->confirm = APP_CONFIRM_QUIT;
			return APP_REDRAW;
		}
		return APP_QUIT;
	case '?':
	case KEY_F(1):
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
	if (ch == 27) {
		struct wb_gen_view v0, v1;
		wb_gen_view(a->wb, WB_ORIGINAL, &v0);
		wb_gen_view(a->wb, WB_PRUNED, &v1);
		bool any = false;
		if (job_running(a)) {
			wb_cancel_task(a->wb);
			any = true;
		}
		if (v0.running || v1.running) {
			wb_gen_stop(a->wb, WB_ORIGINAL);
			wb_gen_stop(a->wb, WB_PRUNED);
			any = true;
		}
		if (a->pending != APP_PENDING_NONE) {
			a->pending = APP_PENDING_NONE;
			any = true;
		}
		return any ? APP_REDRAW : APP_UNHANDLED;
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
		int sig = term_quit_requested();
		if (sig) {
			a->exit_status = 128 + sig;
			break;
		}
		int ch = getch(); /* waits at most one tick (100 ms) */
		if (wb_poll(a->wb) || job_running(a))
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
	return a->exit_status;
}
