/* The Heal screen: distil the applied plan's cut back towards the
 * original (prune/heal.h through the workbench): start, watch, stop (Esc)
 * and resume, with a chart of held-out bits per byte against tokens — the
 * cut before healing, the healing student, the original as a line. The
 * workbench runs the heal and adopts the healed model; this screen draws
 * its view and turns keys into calls. */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "widgets.h"

static const uint64_t step_ladder[] = {2,   5,	 10,   20,   50,   100,
				       200, 500, 1000, 2000, 5000, 10000};
static const double minute_ladder[] = {1, 2, 5, 10, 20, 30, 60, 120, 240};
#define N_STEPS ((int)(sizeof step_ladder / sizeof step_ladder[0]))
#define N_MINUTES ((int)(sizeof minute_ladder / sizeof minute_ladder[0]))

static void budget_step(struct workbench *wb, int dir)
{
	if (wb->heal_minutes > 0) {
		int i = 0;
		while (i < N_MINUTES - 1 && minute_ladder[i] < wb->heal_minutes)
			i++;
		i += dir;
		i = i < 0 ? 0 : i >= N_MINUTES ? N_MINUTES - 1 : i;
		wb_set_heal_budget(wb, wb->heal_steps, minute_ladder[i]);
	} else {
		int i = 0;
		while (i < N_STEPS - 1 && step_ladder[i] < wb->heal_steps)
			i++;
		i += dir;
		i = i < 0 ? 0 : i >= N_STEPS ? N_STEPS - 1 : i;
		wb_set_heal_budget(wb, step_ladder[i], 0);
	}
}

static void request_heal(struct app *a, bool resume)
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
			a->pending =
			    resume ? APP_PENDING_HEAL_RESUME : APP_PENDING_HEAL;
		return;
	}
	if (wb_start_heal(wb, resume, &e))
		app_status(a, ROLE_BAD, "%s", e.msg);
}

int heal_tick(struct app *a)
{
	if ((a->pending == APP_PENDING_HEAL ||
	     a->pending == APP_PENDING_HEAL_RESUME) &&
	    wb_task_status(a->wb, NULL, NULL, 0) == WB_TASK_NONE) {
		bool resume = a->pending == APP_PENDING_HEAL_RESUME;
		a->pending = APP_PENDING_NONE;
		if (wb_applied(a->wb))
			request_heal(a, resume);
		return APP_REDRAW;
	}
	return APP_OK;
}

static void fmt_secs(char *buf, size_t cap, double s)
{
	if (s < 0)
		snprintf(buf, cap, "?");
	else if (s < 60)
		snprintf(buf, cap, "%.0f s", s);
	else if (s < 3600)
		snprintf(buf, cap, "%d min %02d s", (int)s / 60, (int)s % 60);
	else
		snprintf(buf, cap, "%d h %02d min", (int)s / 3600,
			 (int)s / 60 % 60);
}

static void put(int y, int x, const char *g, enum term_role r)
{
	attrset(term_attr(r));
	mvaddstr(y, x, g);
	attrset(A_NORMAL);
}

/* The chart: held-out bpb (y) against tokens (x) in the box (y0, x0, w,
 * h); the original as a line, the cut (step 0) and the student's points. */
static void draw_chart(const struct wb_heal_view *v, int y0, int x0, int w,
		       int h)
{
	const struct heal_snapshot *s = &v->snap;
	bool u = widgets_utf8();
	if (h < 4 || w < 30)
		return;
	if (s->n_evals == 0) {
		draw_text(y0, x0, w, ROLE_DIM, 0,
			  v->have_orig ? "no evaluation yet"
				       : "no evaluation yet (a held-out text "
					 "gives the chart: --heldout)");
		return;
	}
	double lo = s->evals[0].bpb, hi = lo;
	for (int i = 0; i < s->n_evals; i++) {
		lo = fmin(lo, s->evals[i].bpb);
		hi = fmax(hi, s->evals[i].bpb);
	}
	if (v->have_orig) {
		lo = fmin(lo, v->bpb_orig);
		hi = fmax(hi, v->bpb_orig);
	}
	double pad = (hi - lo) * 0.08 + 0.01;
	lo -= pad;
	hi += pad;
	/* tokens per step, from the last point (B*T) */
	double tps = s->have_point && s->last.step
			 ? (double)s->last.tokens / (double)s->last.step
			 : 0;
	double xmax = tps * (double)(s->have_point ? s->last.steps : 1);
	if (xmax <= 0)
		xmax = 1;
	int ch = h - 2, cx = x0 + 7, cw = w - 8;
	for (int r = 0; r < ch; r++)
		put(y0 + r, cx - 1, u ? "\u2502" : "|", ROLE_DIM);
	for (int r = 0; r < ch; r += 2)
		draw_fmt(y0 + r, x0, 6, ROLE_DIM, "%5.2f",
			 hi - (hi - lo) * r / (ch - 1));
	for (int c = 0; c < cw; c++)
		put(y0 + ch, cx + c, u ? "\u2500" : "-", ROLE_DIM);
	char a[48], b[32];
	fmt_short(b, sizeof b, (uint64_t)xmax);
	draw_text(y0 + ch + 1, cx, 12, ROLE_DIM, 0, "0");
	snprintf(a, sizeof a, "%s tokens", b);
	draw_right(y0 + ch + 1, cx, cw, ROLE_DIM, a);
#define ROW(bpb) (int)lround((hi - (bpb)) / (hi - lo) * (ch - 1))
	if (v->have_orig) {
		int r = ROW(v->bpb_orig);
		for (int c = 0; c < cw; c++)
			put(y0 + r, cx + c, u ? "\u2504" : ".", ROLE_GOOD);
		draw_fmt(y0 + r, cx + 1, cw - 1, ROLE_GOOD, " original %.3f ",
			 v->bpb_orig);
	}
	for (int i = 0; i < s->n_evals; i++) {
		const struct heal_eval *e = &s->evals[i];
		int r = ROW(e->bpb);
		int c = (int)lround((double)e->step * tps / xmax * (cw - 1));
		if (e->step == 0)
			put(y0 + r, cx + c, u ? "\u25c6" : "C", ROLE_BAD);
		else
			put(y0 + r, cx + c, u ? "\u25cf" : "*", ROLE_ACCENT);
	}
#undef ROW
	const struct heal_eval *f = &s->evals[0],
			       *l = &s->evals[s->n_evals - 1];
	if (s->n_evals > 1)
		draw_fmt(
		    y0 + ch + 1, cx + 4, cw - 20, ROLE_NORMAL,
		    "%s cut %.3f (step %llu)   %s student %.3f (step %llu)",
		    u ? "\u25c6" : "C", f->bpb, (unsigned long long)f->step,
		    u ? "\u25cf" : "*", l->bpb, (unsigned long long)l->step);
	else
		draw_fmt(y0 + ch + 1, cx + 4, cw - 20, ROLE_NORMAL,
			 "%s cut %.3f (step %llu)", u ? "\u25c6" : "C", f->bpb,
			 (unsigned long long)f->step);
}

void heal_draw(struct app *a, int top, int height)
{
	struct workbench *wb = a->wb;
	int y = top + 1, x = 1, w = COLS - 2, bottom = top + height;
	draw_section(y++, x, w,
		     "HEAL: DISTIL THE CUT BACK TOWARDS THE ORIGINAL");
	if (wb->plan_only) {
		draw_text(y, x, w, ROLE_DIM, 0, wb->plan_only_why);
		return;
	}
	struct wb_heal_view v;
	wb_heal_view(wb, &v);
	const char *side =
	    !wb_applied(wb) ? "not applied yet (Enter applies)"
	    : v.healed	    ? "applied, healed (Run, Quality and Export use "
			      "the healed weights)"
	    : v.resumable   ? "applied, not healed; a checkpoint: r resumes"
			    : "applied, not healed";
	draw_text(y, x, 10, ROLE_LABEL, 0, "plan");
	draw_text(y++, x + 10, w - 10, v.healed ? ROLE_GOOD : ROLE_NORMAL, 0,
		  side);
	draw_text(y, x, 10, ROLE_LABEL, 0, "budget");
	if (v.minutes > 0)
		draw_fmt(y++, x + 10, w - 10, ROLE_VALUE,
			 "\u25c2 %g min \u25b8  (m: steps instead)", v.minutes);
	else
		draw_fmt(y++, x + 10, w - 10, ROLE_VALUE,
			 "\u25c2 %llu steps \u25b8  (m: minutes instead)",
			 (unsigned long long)v.steps);
	draw_text(y, x, 10, ROLE_LABEL, 0, "data");
	const char *hb = wb->heldout ? strrchr(wb->heldout, '/') : NULL;
	hb = hb ? hb + 1 : wb->heldout ? wb->heldout : "none";
	draw_fmt(y++, x + 10, w - 10, ROLE_NORMAL, "%s; held-out %s",
		 wb->n_corpus ? "the calibration corpus"
			      : "data-free (sampled from the original)",
		 hb);
	draw_text(y, x, 10, ROLE_LABEL, 0, "folder");
	draw_fmt(y++, x + 10, w - 10, ROLE_DIM, "%s%s",
		 v.finished ? "(finished) " : "", v.dir);
	const struct heal_snapshot *s = &v.snap;
	draw_text(y, x, 10, ROLE_LABEL, 0, "status");
	if (s->have_point) {
		const struct heal_point *p = &s->last;
		char eta[32], el[32];
		fmt_secs(eta, sizeof eta, p->eta);
		fmt_secs(el, sizeof el, p->elapsed);
		draw_fmt(y++, x + 10, w - 10, ROLE_NORMAL,
			 "%s  step %llu/%llu  loss %.4f  lr %.2e  %.0f tok/s  "
			 "%s %s",
			 v.running     ? s->phase
			 : s->phase[0] ? s->phase
				       : "idle",
			 (unsigned long long)p->step,
			 (unsigned long long)p->steps, p->loss, p->lr,
			 p->tok_per_s, v.running ? "ETA" : "took",
			 v.running ? eta : el);
	} else {
		draw_text(y++, x + 10, w - 10, ROLE_DIM, 0,
			  v.running ? (s->phase[0] ? s->phase : "starting")
				    : "not started: Enter heals the cut "
				      "(Esc stops, r resumes)");
	}
	if (wb->history_failed)
		draw_fmt(y++, x, w, ROLE_BAD, "history not saved: %s",
			 wb->history_error);
	y++;
	if (y + 5 < bottom) {
		draw_section(y++, x, w,
			     "HELD-OUT BITS PER BYTE vs TOKENS (lower is "
			     "better)");
		draw_chart(&v, y, x, w, bottom - y);
	}
}

int heal_key(struct app *a, int ch)
{
	struct workbench *wb = a->wb;
	switch (ch) {
	case '\r':
	case '\n':
	case KEY_ENTER:
		if (wb_task_status(wb, NULL, NULL, 0) == WB_TASK_HEAL) {
			app_status(a, ROLE_DIM, "healing: Esc stops it");
			return APP_REDRAW;
		}
		request_heal(a, false);
		return APP_REDRAW;
	case 'r':
		request_heal(a, true);
		return APP_REDRAW;
	case KEY_LEFT:
	case 'h':
		budget_step(wb, -1);
		return APP_REDRAW;
	case KEY_RIGHT:
	case 'l':
		budget_step(wb, +1);
		return APP_REDRAW;
	case 'm':
		if (wb->heal_minutes > 0)
			wb_set_heal_budget(wb, wb->heal_steps, 0);
		else
			wb_set_heal_budget(wb, wb->heal_steps, 5);
		return APP_REDRAW;
	}
	return APP_OK;
}
