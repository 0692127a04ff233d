/* The Export screen: where the applied plan's model goes (directory,
 * formats, dtype), a progress bar while it is written, and afterwards the
 * files with their sizes, the recipe, and the command line that
 * reproduces it. The writing is the workbench's (export.h): atomic, with
 * nothing partial left behind on failure. */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "export.h"
#include "widgets.h"

static void request_export(struct app *a)
{
	struct workbench *wb = a->wb;
	struct err e = {0};
	if (wb->plan_only) {
		app_status(a, ROLE_BAD, "%s", wb->plan_only_why);
		return;
	}
	if (!wb_applied(wb)) {
		if (wb_start_prepare(wb, &e))
			app_status(a, ROLE_BAD, "%s", e.msg);
		else
			a->pending = APP_PENDING_EXPORT;
		return;
	}
	unsigned f = (a->export_formats & 1 ? EXPORT_HF : 0) |
		     (a->export_formats & 2 ? EXPORT_GGUF : 0);
	if (wb_start_export(wb, a->export_dir, f, a->export_force, &e))
		app_status(a, ROLE_BAD, "%s", e.msg);
	else
		app_status(a, ROLE_DIM, "exporting to %s", a->export_dir);
}

int export_tick(struct app *a)
{
	if (a->pending == APP_PENDING_EXPORT &&
	    wb_task_status(a->wb, NULL, NULL, 0) == WB_TASK_NONE) {
		a->pending = APP_PENDING_NONE;
		if (wb_applied(a->wb))
			request_export(a);
		return APP_REDRAW;
	}
	return APP_OK;
}

void export_draw(struct app *a, int top, int height)
{
	struct workbench *wb = a->wb;
	int y = top + 1, x = 1, w = COLS - 2;
	draw_section(y++, x, w, "EXPORT");
	if (wb->plan_only) {
		draw_text(y, x, w, ROLE_DIM, 0, wb->plan_only_why);
		return;
	}
	draw_fmt(y, x, 16, ROLE_LABEL, "directory");
	draw_text(y++, x + 16, w - 16, a->export_editing ? ROLE_SELECTED
							 : ROLE_VALUE,
		  0, a->export_dir);
	draw_fmt(y, x, 16, ROLE_LABEL, "formats");
	draw_fmt(y++, x + 16, w - 16, ROLE_VALUE, "[%c] Hugging Face  [%c] GGUF",
		 a->export_formats & 1 ? 'x' : ' ',
		 a->export_formats & 2 ? 'x' : ' ');
	draw_fmt(y, x, 16, ROLE_LABEL, "dtype");
	draw_fmt(y++, x + 16, w - 16, ROLE_VALUE, "%s",
		 dtype_name(wb->plan.export_dtype));
	draw_fmt(y, x, 16, ROLE_LABEL, "replace");
	draw_fmt(y++, x + 16, w - 16, ROLE_VALUE, "%s",
		 a->export_force ? "yes (--force)" : "no: refuse a non-empty "
						     "directory");
	char pars[32];
	fmt_count(pars, sizeof pars, wb->est.dst.total);
	draw_fmt(y++, x, w, ROLE_DIM, "model: %s parameters, plan %s", pars,
		 wb_applied(wb) ? "applied" : "applied when you export");
	y++;
	const struct wb_export_result *r = &wb->exported;
	if (!r->done)
		return;
	draw_section(y++, x, w, "WRITTEN");
	draw_text(y++, x, w, ROLE_GOOD, 0, r->out_dir);
	for (int i = 0; i < r->n_files && y < top + height - 6; i++, y++) {
		char sz[32];
		fmt_bytes(sz, sizeof sz, r->sizes[i]);
		draw_fmt(y, x + 2, 36, ROLE_NORMAL, "%s", r->files[i]);
		draw_right(y, x + 38, 14, ROLE_NORMAL, sz);
	}
	y++;
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "punguza prune %s --recipe %s/punguza.json "
				  "-o %s",
		 wb->dir ? wb->dir : "DIR", r->out_dir, r->out_dir);
	draw_text(y++, x, w, ROLE_LABEL, 0, "reproduce with:");
	draw_text(y++, x + 2, w - 2, ROLE_VALUE, 0, cmd);
	if (r->args[0] && y < top + height) {
		snprintf(cmd, sizeof cmd, "punguza prune %s %s -o %s",
			 wb->dir ? wb->dir : "DIR", r->args, r->out_dir);
		draw_text(y++, x, w, ROLE_LABEL, 0, "or, knob by knob:");
		draw_text(y++, x + 2, w - 2, ROLE_VALUE, 0, cmd);
	}
	if (r->recipe_json && y < top + height - 1) {
		draw_text(y++, x, w, ROLE_LABEL, 0, "recipe (punguza.json):");
		draw_wrapped(y, x + 2, w - 2, top + height - y, ROLE_DIM, 0,
			     r->recipe_json);
	}
}

static int edit_key(struct app *a, int ch)
{
	size_t n = strlen(a->export_dir);
	if (ch == 27 || ch == '\r' || ch == '\n' || ch == KEY_ENTER) {
		a->export_editing = false;
		a->typing = false;
		return APP_REDRAW;
	}
	if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		while (n > 0 &&
		       ((unsigned char)a->export_dir[n - 1] & 0xc0) == 0x80)
			n--;
		if (n > 0)
			n--;
		a->export_dir[n] = '\0';
		return APP_REDRAW;
	}
	if (ch >= 32 && ch < 256 && n + 1 < sizeof a->export_dir) {
		a->export_dir[n] = (char)ch;
		a->export_dir[n + 1] = '\0';
	}
	return APP_REDRAW;
}

int export_key(struct app *a, int ch)
{
	if (a->export_editing)
		return edit_key(a, ch);
	switch (ch) {
	case 'd':
		a->export_editing = true;
		a->typing = true; /* keys go to the directory line */
		return APP_REDRAW;
	case 'h':
		a->export_formats ^= 1;
		return APP_REDRAW;
	case 'g':
		a->export_formats ^= 2;
		return APP_REDRAW;
	case 'f':
		a->export_force = !a->export_force;
		return APP_REDRAW;
	case 'w':
	case '\r':
	case KEY_ENTER:
		request_export(a);
		return APP_REDRAW;
	case 'c':
		wb_cancel_task(a->wb);
		a->pending = APP_PENDING_NONE;
		return APP_REDRAW;
	}
	return APP_OK;
}
