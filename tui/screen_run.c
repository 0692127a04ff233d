/* The Run screen: pick a sample prompt (or type one), set the sampler,
 * generate with the original and the pruned model side by side,
 * streaming. The generations run on the workbench's threads; this screen
 * only draws their text and how each ended. */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "prompts.h"
#include "widgets.h"

enum {
	ROW_PROMPT,
	ROW_TEMP,
	ROW_TOPK,
	ROW_TOPP,
	ROW_REPEAT,
	ROW_LENGTH,
	ROW_SEED,
	N_ROWS
};

static const char *current_prompt(const struct app *a)
{
	if (a->custom || !a->prompts || a->prompts->n == 0)
		return a->input;
	return a->prompts->items[a->run_sel].text;
}

/* A new prompt: the old outputs no longer belong under it. */
static void prompt_changed(struct app *a)
{
	wb_gen_clear(a->wb, WB_ORIGINAL);
	wb_gen_clear(a->wb, WB_PRUNED);
	a->out_scroll = 0;
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
	a->out_scroll = 0;
	if (wb_gen_start(wb, WB_ORIGINAL, p, &a->gen, &e) ||
	    wb_gen_start(wb, WB_PRUNED, p, &a->gen, &e))
		app_status(a, ROLE_BAD, "%s", e.msg);
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
		 side == WB_ORIGINAL ? "ORIGINAL"
		 : wb_healed(wb)     ? "PRUNED, HEALED"
				     : "PRUNED",
		 pars);
	draw_section(y, x, w, title);
	int body = h - 2;
	if (side == WB_PRUNED && !wb_applied(wb) && !v.running &&
	    !wb->plan_only) {
		draw_text(y + 1, x, w, ROLE_DIM, 0,
			  "(plan changed: Enter applies it and generates)");
		y++;
		body--;
	}
	if (v.error) {
		draw_wrapped(y + 1, x, w, body, ROLE_BAD, 0, v.error);
	} else {
		/* the tail, or scrolled back by out_scroll lines */
		int total = text_lines(w, v.text);
		int first = total - body - a->out_scroll;
		if (first < 0)
			first = 0;
		draw_wrapped_from(y + 1, x, w, body, ROLE_NORMAL, first,
				  v.text);
	}
	if (!v.has_run)
		return;
	char end[64] = "";
	if (v.running)
		snprintf(end, sizeof end, "  \u2026");
	else if (v.error)
		snprintf(end, sizeof end, "  (failed)");
	else if (v.stopped_eos)
		snprintf(end, sizeof end, "  (</s>)");
	else if (v.stopped_user)
		snprintf(end, sizeof end, "  (stopped)");
	else if (v.stopped_length)
		snprintf(end, sizeof end, "  (length limit %d)", v.max_new);
	else
		snprintf(end, sizeof end, "  (end)");
	draw_fmt(y + h - 1, x, w, ROLE_DIM, "%d tokens  %.1f tok/s%s",
		 v.tokens, v.tok_per_s, end);
}

/* What is shown of the prompt: for a task, the instruction and the input
 * between the challenge template's fixed parts, so the sentence to
 * translate or classify shows. */
static const char *shown_prompt(const char *p, char *buf, size_t cap,
				bool *cut)
{
	static const char ins[] = "### Instruction:", resp[] = "### Response:";
	const char *m = strstr(p, ins);
	*cut = false;
	if (!m)
		return p;
	m += sizeof ins - 1;
	while (*m == ' ')
		m++;
	const char *end = strstr(m, resp);
	size_t n = end ? (size_t)(end - m) : strlen(m);
	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, m, n);
	buf[n] = '\0';
	*cut = true;
	return buf;
}

/* The sampler settings on one line, or two when narrow; returns the
 * lines used. */
static int draw_settings(struct app *a, int y, int w)
{
	const struct sampler_opts *s = &a->gen.sampler;
	char v[N_ROWS][48];
	snprintf(v[ROW_TEMP], sizeof v[0], "temperature %.2f%s",
		 s->temperature, s->temperature == 0 ? " (greedy)" : "");
	snprintf(v[ROW_TOPK], sizeof v[0], "top-k %d%s", s->top_k,
		 s->top_k ? "" : " (off)");
	snprintf(v[ROW_TOPP], sizeof v[0], "top-p %.2f%s", s->top_p,
		 s->top_p >= 1 ? " (off)" : "");
	snprintf(v[ROW_REPEAT], sizeof v[0], "repeat %.2f", s->repeat_penalty);
	snprintf(v[ROW_LENGTH], sizeof v[0], "length %d", a->gen.max_new);
	snprintf(v[ROW_SEED], sizeof v[0], "seed %llu",
		 (unsigned long long)s->seed);
	int x = 1, lines = 1;
	for (int i = ROW_TEMP; i < N_ROWS; i++) {
		bool sel = a->run_row == i;
		int tw = text_width(v[i], strlen(v[i]));
		if (x > 1 && x + tw > w && lines < 2) {
			y++;
			lines++;
			x = 1;
		}
		x += draw_text(y, x, w - x, sel ? ROLE_SELECTED : ROLE_LABEL, 0,
			       v[i]);
		x += 2;
	}
	return lines;
}

void run_draw(struct app *a, int top, int height)
{
	int y = top + 1, w = COLS - 2;
	bool sel = a->run_row == ROW_PROMPT;
	const int ph = 4; /* prompt lines */
	if (a->editing == APP_EDIT_PROMPT) {
		draw_section(y++, 1, w,
			     "TYPE A PROMPT (Enter uses it, Esc cancels, "
			     "\u2190\u2192 Home End move, Ctrl-U clears)");
		a->edit_y = y;
		a->edit_x = edit_draw(&a->edit, y, 1, w, ROLE_VALUE);
	} else {
		const char *p = current_prompt(a);
		char t[200], sbuf[1024];
		bool cut = false;
		const char *shown = shown_prompt(p, sbuf, sizeof sbuf, &cut);
		if (a->custom || !a->prompts || !a->prompts->n) {
			snprintf(t, sizeof t,
				 "PROMPT (your own; \u2190\u2192 the samples, e "
				 "edits)");
		} else {
			const struct prompt *pr = &a->prompts->items[a->run_sel];
			snprintf(t, sizeof t,
				 "PROMPT %d/%zu  %s  (%s%s%s, %s)%s  "
				 "\u2190\u2192 another, e types one",
				 a->run_sel + 1, a->prompts->n, pr->id, pr->kind,
				 pr->task ? " " : "", pr->task ? pr->task : "",
				 pr->lang, cut ? ", in the challenge template" : "");
		}
		draw_section(y++, 1, w, t);
		if (sel)
			draw_text(y - 1, 1, 1, ROLE_SELECTED, 0,
				  widgets_utf8() ? "\u25b8" : ">");
		/* the end matters most (the sentence to translate): show
		 * the last lines when it does not fit */
		draw_wrapped(y, 1, w, ph, ROLE_VALUE,
			     text_lines(w, shown) > ph, shown);
	}
	y += ph;
	y += draw_settings(a, y, w);
	if (a->prompts && !a->custom && a->prompts->n &&
	    a->prompts->items[a->run_sel].target) {
		char ref[512];
		snprintf(ref, sizeof ref, "reference: %s",
			 a->prompts->items[a->run_sel].target);
		draw_text(y, 1, w, ROLE_DIM, 0, ref);
	}
	y++;
	int h = top + height - y;
	if (a->wb->plan_only) {
		draw_wrapped(y, 1, w, h, ROLE_DIM, 0,
			     "Nothing to run in plan-only mode: there are no "
			     "weights. Open a model directory (punguza DIR) to "
			     "generate with the original and the pruned model.");
		return;
	}
	int half = (COLS - 3) / 2;
	draw_side(a, WB_ORIGINAL, y, 1, half, h);
	draw_side(a, WB_PRUNED, y, half + 2, COLS - half - 3, h);
}

static int typing_key(struct app *a, int ch)
{
	enum edit_result r = edit_key(&a->edit, ch);
	if (r == EDIT_GOING)
		return APP_REDRAW;
	a->typing = false;
	a->editing = APP_EDIT_NONE;
	if (r == EDIT_DONE) {
		a->custom = a->input[0] != '\0';
		prompt_changed(a);
	}
	return APP_REDRAW;
}

static void change_setting(struct app *a, int dir)
{
	struct sampler_opts *s = &a->gen.sampler;
	size_t np = a->prompts ? a->prompts->n : 0;
	switch (a->run_row) {
	case ROW_PROMPT:
		if (np) {
			a->custom = false;
			a->run_sel = (a->run_sel + (int)np + dir) % (int)np;
			prompt_changed(a);
		}
		break;
	case ROW_TEMP:
		s->temperature += 0.1f * (float)dir;
		if (s->temperature < 0.05f)
			s->temperature = 0;
		if (s->temperature > 2)
			s->temperature = 2;
		break;
	case ROW_TOPK: {
		static const int ladder[] = {0, 1, 2, 5, 10, 20, 40, 50, 100, 200, 500, 1000};
		int n = (int)(sizeof ladder / sizeof ladder[0]), i = 0;
		while (i < n - 1 && ladder[i] < s->top_k)
			i++;
		if (dir > 0 && ladder[i] <= s->top_k && i < n - 1)
			i++;
		else if (dir < 0 && i > 0)
			i--;
		s->top_k = ladder[i];
		break;
	}
	case ROW_TOPP:
		s->top_p += 0.05f * (float)dir;
		if (s->top_p < 0.05f)
			s->top_p = 0.05f;
		if (s->top_p > 1)
			s->top_p = 1;
		break;
	case ROW_REPEAT:
		s->repeat_penalty += 0.05f * (float)dir;
		if (s->repeat_penalty < 1)
			s->repeat_penalty = 1;
		if (s->repeat_penalty > 3)
			s->repeat_penalty = 3;
		break;
	case ROW_LENGTH:
		a->gen.max_new += 16 * dir;
		if (a->gen.max_new < 8)
			a->gen.max_new = 8;
		if (a->gen.max_new > 512)
			a->gen.max_new = 512;
		break;
	case ROW_SEED:
		if (dir > 0 || s->seed > 0)
			s->seed += (uint64_t)(int64_t)dir;
		break;
	}
}

int run_key(struct app *a, int ch)
{
	if (a->editing == APP_EDIT_PROMPT)
		return typing_key(a, ch);
	switch (ch) {
	case KEY_UP:
	case 'k':
		a->run_row = (a->run_row + N_ROWS - 1) % N_ROWS;
		return APP_REDRAW;
	case KEY_DOWN:
	case 'j':
		a->run_row = (a->run_row + 1) % N_ROWS;
		return APP_REDRAW;
	case KEY_LEFT:
	case 'h':
		change_setting(a, -1);
		return APP_REDRAW;
	case KEY_RIGHT:
	case 'l':
		change_setting(a, +1);
		return APP_REDRAW;
	case 'e':
		/* your own prompt again, or a fresh one over a sample */
		if (!a->custom)
			a->input[0] = '\0';
		a->run_row = ROW_PROMPT;
		app_edit_begin(a, APP_EDIT_PROMPT, a->input, sizeof a->input);
		return APP_REDRAW;
	case '\r':
	case '\n':
	case KEY_ENTER:
	case 'g':
		request_generation(a);
		return APP_REDRAW;
	case 'S':
		a->gen.sampler.seed++;
		return APP_REDRAW;
	case KEY_PPAGE:
		a->out_scroll += 5;
		return APP_REDRAW;
	case KEY_NPAGE:
		a->out_scroll = a->out_scroll > 5 ? a->out_scroll - 5 : 0;
		return APP_REDRAW;
	}
	return APP_OK;
}
