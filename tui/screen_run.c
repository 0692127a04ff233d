/* The Run screen: pick a sample prompt (or type one), generate with the
 * original and the pruned model side by side, streaming. The generations
 * run on the workbench's threads; this screen only draws their text. */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "prompts.h"
#include "widgets.h"

static const char *current_prompt(const struct app *a)
{
	if (a->custom || !a->prompts || a->prompts->n == 0)
		return a->input;
	return a->prompts->items[a->run_sel].text;
}

static void start_generation(struct app *a)
{
	struct workbench *wb = a->wb;
	struct err e = {0};
	const char *p = current_prompt(a);
	if (!*p) {
		app_status(a, ROLE_BAD, "the prompt is empty: press e to type one");
		return;
	}
	if (wb_gen_start(wb, WB_ORIGINAL, p, &a->gen, &e) ||
	    wb_gen_start(wb, WB_PRUNED, p, &a->gen, &e))
		app_status(a, ROLE_BAD, "%s", e.msg);
	else
		app_status(a, ROLE_DIM, "generating with both models (s stops)");
}

/* Generation needs the pruned copy: apply first, then go. */
static void request_generation(struct app *a)
{
	struct workbench *wb = a->wb;
	if (wb->plan_only) {
		app_status(a, ROLE_BAD, "%s", wb->plan_only_why);
		return;
	}
	if (wb_applied(wb)) {
		start_generation(a);
		return;
	}
	struct err e = {0};
	if (wb_start_prepare(wb, &e)) {
		app_status(a, ROLE_BAD, "%s", e.msg);
		return;
	}
	a->pending = APP_PENDING_GENERATE;
}

int run_tick(struct app *a)
{
	if (a->pending == APP_PENDING_GENERATE &&
	    wb_task_status(a->wb, NULL, NULL, 0) == WB_TASK_NONE) {
		a->pending = APP_PENDING_NONE;
		if (wb_applied(a->wb))
			start_generation(a);
		return APP_REDRAW;
	}
	return APP_OK;
}

static void draw_side(struct app *a, enum wb_side side, int y, int x, int w,
		      int h)
{
	struct workbench *wb = a->wb;
	struct wb_gen_view v;
	wb_gen_view(wb, side, &v);
	char pars[32];
	const struct config *c = side == WB_ORIGINAL ? &wb->src : &wb->est.cfg;
	fmt_short(pars, sizeof pars, config_param_count(c));
	char title[96];
	snprintf(title, sizeof title, "%s  %s params",
		 side == WB_ORIGINAL ? "ORIGINAL" : "PRUNED", pars);
	draw_section(y, x, w, title);
	if (side == WB_PRUNED && !wb_applied(wb) && !v.running)
		draw_text(y + 1, x, w, ROLE_DIM, 0,
			  "(plan changed: Enter applies it and generates)");
	if (v.error)
		draw_text(y + 1, x, w, ROLE_BAD, 0, v.error);
	else
		draw_wrapped(y + 1, x, w, h - 2, ROLE_NORMAL, 1, v.text);
	if (v.has_run)
		draw_fmt(y + h - 1, x, w, ROLE_DIM, "%d tokens  %.1f tok/s%s",
			 v.tokens, v.tok_per_s,
			 v.running ? "  \u2026" : v.stopped_eos ? "  (</s>)" : "");
}

void run_draw(struct app *a, int top, int height)
{
	int y = top + 1, w = COLS - 2;
	const char *p = current_prompt(a);
	if (a->typing) {
		draw_section(y++, 1, w, "TYPE A PROMPT (Enter to use, Esc to cancel)");
		draw_wrapped(y, 1, w, 3, ROLE_VALUE, 1, a->input);
		move(y, 1);
	} else if (a->custom || !a->prompts || !a->prompts->n) {
		draw_section(y++, 1, w, "PROMPT (your own; \u2191\u2193 for the samples)");
		draw_wrapped(y, 1, w, 3, ROLE_VALUE, 0, p);
	} else {
		const struct prompt *pr = &a->prompts->items[a->run_sel];
		char t[160];
		snprintf(t, sizeof t, "PROMPT %d/%zu  %s  (%s%s%s, %s)",
			 a->run_sel + 1, a->prompts->n, pr->id, pr->kind,
			 pr->task ? " " : "", pr->task ? pr->task : "",
			 pr->lang);
		draw_section(y++, 1, w, t);
		draw_wrapped(y, 1, w, 3, ROLE_VALUE, 0, p);
	}
	y += 3;
	const struct sampler_opts *s = &a->gen.sampler;
	draw_fmt(y++, 1, w, ROLE_LABEL,
		 "temperature %.2f%s  top-k %d  top-p %.2f  repeat %.2f  "
		 "max %d tokens  seed %llu",
		 s->temperature, s->temperature == 0 ? " (greedy)" : "",
		 s->top_k, s->top_p, s->repeat_penalty, a->gen.max_new,
		 (unsigned long long)s->seed);
	if (a->prompts && !a->custom && a->prompts->items[a->run_sel].target) {
		char ref[512];
		snprintf(ref, sizeof ref, "reference: %s",
			 a->prompts->items[a->run_sel].target);
		draw_text(y, 1, w, ROLE_DIM, 0, ref);
	}
	y++;
	int h = top + height - y;
	int half = (COLS - 3) / 2;
	draw_side(a, WB_ORIGINAL, y, 1, half, h);
	draw_side(a, WB_PRUNED, y, half + 2, COLS - half - 3, h);
}

static int typing_key(struct app *a, int ch)
{
	size_t n = strlen(a->input);
	if (ch == 27) {
		a->typing = false;
		return APP_REDRAW;
	}
	if (ch == '\r' || ch == '\n' || ch == KEY_ENTER) {
		a->typing = false;
		a->custom = n > 0;
		return APP_REDRAW;
	}
	if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		/* drop one whole UTF-8 character */
		while (n > 0 && ((unsigned char)a->input[n - 1] & 0xc0) == 0x80)
			n--;
		if (n > 0)
			n--;
		a->input[n] = '\0';
		return APP_REDRAW;
	}
	if (ch >= 32 && ch < 256 && n + 1 < sizeof a->input) {
		a->input[n] = (char)ch;
		a->input[n + 1] = '\0';
		return APP_REDRAW;
	}
	return APP_OK;
}

int run_key(struct app *a, int ch)
{
	struct sampler_opts *s = &a->gen.sampler;
	size_t np = a->prompts ? a->prompts->n : 0;
	if (a->typing)
		return typing_key(a, ch);
	switch (ch) {
	case KEY_UP:
		if (np) {
			a->custom = false;
			a->run_sel = (a->run_sel + (int)np - 1) % (int)np;
		}
		return APP_REDRAW;
	case KEY_DOWN:
		if (np) {
			a->custom = false;
			a->run_sel = (a->run_sel + 1) % (int)np;
		}
		return APP_REDRAW;
	case 'e':
		a->typing = true;
		a->input[0] = '\0';
		return APP_REDRAW;
	case '\r':
	case '\n':
	case KEY_ENTER:
	case 'g':
		request_generation(a);
		return APP_REDRAW;
	case 's':
	case 27:
		wb_gen_stop(a->wb, WB_ORIGINAL);
		wb_gen_stop(a->wb, WB_PRUNED);
		if (a->pending == APP_PENDING_GENERATE) {
			wb_cancel_task(a->wb);
			a->pending = APP_PENDING_NONE;
		}
		app_status(a, ROLE_DIM, "stopped");
		return APP_REDRAW;
	case 't':
		s->temperature = s->temperature >= 0.1 ? s->temperature - 0.1 : 0;
		if (s->temperature < 0.05)
			s->temperature = 0;
		return APP_REDRAW;
	case 'T':
		s->temperature = s->temperature < 1.95 ? s->temperature + 0.1 : 2;
		return APP_REDRAW;
	case 'k':
		s->top_k = s->top_k > 0 ? s->top_k - 1 : 0;
		return APP_REDRAW;
	case 'K':
		s->top_k = s->top_k < 1000 ? s->top_k + 1 : 1000;
		return APP_REDRAW;
	case 'r':
		s->repeat_penalty = s->repeat_penalty > 1.04 ? s->repeat_penalty - 0.05 : 1.0;
		return APP_REDRAW;
	case 'R':
		s->repeat_penalty = s->repeat_penalty < 2.95 ? s->repeat_penalty + 0.05 : 3.0;
		return APP_REDRAW;
	case 'n':
		a->gen.max_new = a->gen.max_new > 16 ? a->gen.max_new - 16 : 8;
		return APP_REDRAW;
	case 'N':
		a->gen.max_new = a->gen.max_new < 496 ? a->gen.max_new + 16 : 512;
		return APP_REDRAW;
	case 'S':
		s->seed++;
		return APP_REDRAW;
	}
	return APP_OK;
}
