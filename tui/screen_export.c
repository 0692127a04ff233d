/* The Export screen: where the applied plan's model goes (folder,
 * formats, dtype), what is in that folder now, a progress bar while it is
 * written, and afterwards the files with their sizes, the recipe, and the
 * command line that reproduces it — or why it failed. The writing and
 * every check on the folder are the workbench's (wb_export_inspect,
 * wb_start_export): nothing but a previous punguza export is ever
 * replaced, and that only after the user confirms, every time. */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "export.h"
#include "widgets.h"

enum { ROW_DIR, ROW_HF, ROW_GGUF, ROW_DTYPE, N_ROWS };

static unsigned formats(const struct app *a)
{
	return (a->export_formats & 1 ? EXPORT_HF : 0) |
	       (a->export_formats & 2 ? EXPORT_GGUF : 0);
}

static void start_export(struct app *a, bool replace)
{
	struct err e = {0};
	if (wb_start_export(a->wb, app_export_dir(a), formats(a), replace, &e))
		app_status(a, ROLE_BAD, "export refused: %s%s", e.msg,
			   formats(a) ? ""
				      : " (\u2191\u2193 to the row, Space turns "
					"it on)");
}

/* Enter: checks the folder, asks before replacing, applies the plan
 * first when needed. */
static void request_export(struct app *a)
{
	struct workbench *wb = a->wb;
	struct err e = {0};
	if (wb->plan_only) {
		app_status(a, ROLE_BAD, "%s", wb->plan_only_why);
		return;
	}
	const char *dir = app_export_dir(a);
	struct wb_export_target t;
	if (wb_export_inspect(wb, dir, &t, &e)) {
		app_status(a, ROLE_BAD, "%s", e.msg);
		return;
	}
	if (!formats(a) || t.kind == WB_TARGET_FOREIGN ||
	    t.kind == WB_TARGET_REFUSED) {
		start_export(a, false); /* refused, with the reason */
		return;
	}
	if (t.kind == WB_TARGET_EXPORT) {
		char list[512] = "";
		for (int i = 0; i < t.n_listed; i++) {
			size_t l = strlen(list);
			snprintf(list + l, sizeof list - l, "%s%s",
				 i ? ", " : "", t.entries[i]);
		}
		snprintf(a->confirm_text, sizeof a->confirm_text,
			 "Replace the previous export in '%s'? This deletes "
			 "its %d file%s (%s) and writes the new export in "
			 "their place.",
			 dir, t.n_entries, t.n_entries == 1 ? "" : "s", list);
		a->confirm = APP_CONFIRM_REPLACE;
		return;
	}
	a->export_replace = false;
	if (!wb_applied(wb)) {
		if (wb_start_prepare(wb, &e))
			app_status(a, ROLE_BAD, "%s", e.msg);
		else
			a->pending = APP_PENDING_EXPORT;
		return;
	}
	start_export(a, false);
}

void export_confirmed(struct app *a)
{
	struct err e = {0};
	a->export_replace = true; /* for this one export only */
	if (!wb_applied(a->wb)) {
		if (wb_start_prepare(a->wb, &e)) {
			app_status(a, ROLE_BAD, "%s", e.msg);
			a->export_replace = false;
		} else {
			a->pending = APP_PENDING_EXPORT;
		}
		return;
	}
	start_export(a, true);
	a->export_replace = false;
}

int export_tick(struct app *a)
{
	if (a->pending == APP_PENDING_EXPORT &&
	    wb_task_status(a->wb, NULL, NULL, 0) == WB_TASK_NONE) {
		a->pending = APP_PENDING_NONE;
		if (wb_applied(a->wb))
			start_export(a, a->export_replace);
		a->export_replace = false;
		return APP_REDRAW;
	}
	return APP_OK;
}

static void draw_target(struct app *a, int *y, int x, int w)
{
	struct wb_export_target t;
	struct err e = {0};
	draw_text(*y, x, 16, ROLE_LABEL, 0, "folder now");
	if (wb_export_inspect(a->wb, app_export_dir(a), &t, &e)) {
		*y += draw_wrapped(*y, x + 16, w - 16, 2, ROLE_BAD, 0, e.msg);
		return;
	}
	char buf[1024];
	enum term_role r = ROLE_NORMAL;
	switch (t.kind) {
	case WB_TARGET_NEW:
		snprintf(buf, sizeof buf, "does not exist yet: it is created%s",
			 t.create_parent ? " (with its parent)" : "");
		break;
	case WB_TARGET_EMPTY:
		snprintf(buf, sizeof buf, "empty");
		break;
	case WB_TARGET_EXPORT:
		snprintf(buf, sizeof buf,
			 "a previous punguza export (%d files): replacing it "
			 "asks first",
			 t.n_entries);
		r = ROLE_VALUE;
		break;
	default:
		snprintf(buf, sizeof buf, "%s", t.why);
		r = ROLE_BAD;
		break;
	}
	int n = draw_wrapped(*y, x + 16, w - 16, 2, r, 0, buf);
	*y += n < 1 ? 1 : n > 2 ? 2 : n;
}

void export_draw(struct app *a, int top, int height)
{
	struct workbench *wb = a->wb;
	int y = top + 1, x = 1, w = COLS - 2, bottom = top + height;
	draw_section(y++, x, w, "EXPORT");
	if (wb->plan_only) {
		draw_wrapped(y, x, w, 3, ROLE_DIM, 0, wb->plan_only_why);
		return;
	}
	const char *labels[N_ROWS] = {"folder", "Hugging Face", "GGUF",
				      "dtype"};
	for (int i = 0; i < N_ROWS; i++, y++) {
		bool sel = i == a->export_row;
		draw_text(y, x, 16, sel ? ROLE_SELECTED : ROLE_LABEL, 1,
			  labels[i]);
		char v[600];
		switch (i) {
		case ROW_DIR:
			if (a->editing == APP_EDIT_EXPORT_DIR) {
				a->edit_y = y;
				a->edit_x = edit_draw(&a->edit, y, x + 16,
						      w - 16, ROLE_VALUE);
				continue;
			}
			snprintf(v, sizeof v, "%s%s", app_export_dir(a),
				 a->export_custom ? "" : "  (default)");
			break;
		case ROW_HF:
			snprintf(v, sizeof v, "[%c] directory for transformers",
				 a->export_formats & 1 ? 'x' : ' ');
			break;
		case ROW_GGUF:
			snprintf(v, sizeof v, "[%c] model.gguf for llama.cpp",
				 a->export_formats & 2 ? 'x' : ' ');
			break;
		default:
			snprintf(v, sizeof v, "%s",
				 dtype_name(wb->plan.export_dtype));
		}
		draw_text(y, x + 16, w - 16, sel ? ROLE_SELECTED : ROLE_VALUE, 0,
			  v);
	}
	draw_target(a, &y, x, w);
	char pars[32];
	fmt_count(pars, sizeof pars, wb->est.dst.total);
	draw_fmt(y++, x, w, ROLE_DIM, "model: %s parameters, plan %s", pars,
		 !wb_applied(wb) ? "applied when you export"
		 : wb_healed(wb) ? "applied, healed (the healed weights)"
				 : "applied");
	y++;
	struct wb_job_info ji;
	wb_job_info(wb, &ji);
	if (ji.kind == WB_TASK_EXPORT && ji.state == WB_JOB_FAILED) {
		draw_section(y++, x, w, "EXPORT FAILED");
		draw_wrapped(y, x, w, bottom - y, ROLE_BAD, 0, ji.error);
		return;
	}
	const struct wb_export_result *r = &wb->exported;
	if (!r->done)
		return;
	/* the result, scrollable as a whole (PgUp/PgDn) */
	char body[16384];
	size_t o = 0;
#define ADD(...)                                                               \
	do {                                                                   \
		if (o < sizeof body)                                           \
			o += (size_t)snprintf(body + o, sizeof body - o,       \
					      __VA_ARGS__);                    \
	} while (0)
	ADD("%s\n", r->out_dir);
	for (int i = 0; i < r->n_files; i++) {
		char sz[32];
		fmt_bytes(sz, sizeof sz, r->sizes[i]);
		ADD("  %-26s %12s\n", r->files[i], sz);
	}
	ADD("reproduce with:\n  punguza prune %s --recipe %s/punguza.json -o "
	    "OUT\n",
	    wb->dir ? wb->dir : "DIR", r->out_dir);
	if (r->args[0])
		ADD("or, knob by knob:\n  punguza prune %s %s -o OUT\n",
		    wb->dir ? wb->dir : "DIR", r->args);
	if (r->recipe_json)
		ADD("recipe (punguza.json):\n%s", r->recipe_json);
#undef ADD
	draw_section(y++, x, w, "WRITTEN (PgUp/PgDn scroll)");
	int h = bottom - y;
	int total = text_lines(w, body);
	if (a->recipe_scroll > total - h)
		a->recipe_scroll = total - h;
	if (a->recipe_scroll < 0)
		a->recipe_scroll = 0;
	draw_wrapped_from(y, x, w, h, ROLE_NORMAL, a->recipe_scroll, body);
}

static int edit_dir_key(struct app *a, int ch)
{
	enum edit_result r = edit_key(&a->edit, ch);
	if (r == EDIT_GOING)
		return APP_REDRAW;
	a->typing = false;
	a->editing = APP_EDIT_NONE;
	if (r == EDIT_CANCELLED) {
		app_status(a, ROLE_DIM, "folder unchanged");
		return APP_REDRAW;
	}
	/* empty: back to the default, which follows the plan */
	a->export_custom = a->export_dir[0] != '\0';
	return APP_REDRAW;
}

static void change_row(struct app *a, int dir)
{
	struct workbench *wb = a->wb;
	switch (a->export_row) {
	case ROW_HF:
		a->export_formats ^= 1;
		break;
	case ROW_GGUF:
		a->export_formats ^= 2;
		break;
	case ROW_DTYPE: {
		struct prune_plan p;
		struct err e = {0};
		if (prune_plan_copy(&p, &wb->plan, &e))
			break;
		p.export_dtype = (enum dtype)(((int)p.export_dtype + 3 + dir) % 3);
		if (wb_set_plan(wb, &p, &e))
			app_status(a, ROLE_BAD, "%s", e.msg);
		prune_plan_free(&p);
		break;
	}
	default:
		break;
	}
}

int export_key(struct app *a, int ch)
{
	if (a->editing == APP_EDIT_EXPORT_DIR)
		return edit_dir_key(a, ch);
	switch (ch) {
	case KEY_UP:
	case 'k':
		a->export_row = (a->export_row + N_ROWS - 1) % N_ROWS;
		return APP_REDRAW;
	case KEY_DOWN:
	case 'j':
		a->export_row = (a->export_row + 1) % N_ROWS;
		return APP_REDRAW;
	case KEY_LEFT:
	case 'h':
		change_row(a, -1);
		return APP_REDRAW;
	case KEY_RIGHT:
	case 'l':
	case ' ':
		change_row(a, +1);
		return APP_REDRAW;
	case 'e':
	case 'd':
		/* start from what is shown */
		snprintf(a->export_dir, sizeof a->export_dir, "%s",
			 app_export_dir(a));
		a->export_row = ROW_DIR;
		app_edit_begin(a, APP_EDIT_EXPORT_DIR, a->export_dir,
			       sizeof a->export_dir);
		return APP_REDRAW;
	case '\r':
	case '\n':
	case KEY_ENTER:
	case 'w':
		request_export(a);
		return APP_REDRAW;
	case KEY_PPAGE:
		a->recipe_scroll -= LINES / 2;
		return APP_REDRAW;
	case KEY_NPAGE:
		a->recipe_scroll += LINES / 2;
		return APP_REDRAW;
	}
	return APP_OK;
}
