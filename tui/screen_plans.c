/* The Plans screen: every plan tried on this model, with what was
 * measured of it (prune/history.h, kept between runs; `punguza plans`
 * prints the same table), sortable, and a chart of measured bits per byte
 * against parameters (log scale) with the Pareto front marked. Enter
 * loads a plan back into the knobs. The workbench records the plans (a
 * Quality measurement, a heal); this screen only draws and asks. */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "history.h"
#include "widgets.h"

static const char *const sort_names[] = {"parameters", "bits per byte",
					 "zindi"};

static const char *fig(char *buf, size_t cap, bool have, int dec, double v)
{
	if (!have)
		return "-";
	snprintf(buf, cap, "%.*f", dec, v);
	return buf;
}

/* The chart: best measured bpb (y) against parameters (x, log). */
static void draw_chart(const struct history *h, const bool *front, int sel,
		       int y0, int x0, int w, int ht)
{
	bool u = widgets_utf8();
	double lo = INFINITY, hi = -INFINITY, plo = INFINITY, phi = 0;
	int n = 0;
	for (int i = 0; i < h->n; i++) {
		double b = history_best_bpb(&h->v[i]);
		if (isnan(b) || !h->v[i].params)
			continue;
		n++;
		lo = fmin(lo, b);
		hi = fmax(hi, b);
		plo = fmin(plo, (double)h->v[i].params);
		phi = fmax(phi, (double)h->v[i].params);
	}
	if (!n) {
		draw_text(y0, x0, w, ROLE_DIM, 0,
			  "no measured bits per byte yet");
		return;
	}
	double pad = (hi - lo) * 0.1 + 0.05 * hi;
	lo -= pad;
	hi += pad;
	double l0 = log10(plo) - 0.15, l1 = log10(phi) + 0.15;
	int ch = ht - 2, cx = x0 + 7, cw = w - 8;
	if (ch < 2 || cw < 20)
		return;
	for (int r = 0; r < ch; r++) {
		attrset(term_attr(ROLE_DIM));
		mvaddstr(y0 + r, cx - 1, u ? "\u2502" : "|");
	}
	for (int c = 0; c < cw; c++)
		mvaddstr(y0 + ch, cx + c, u ? "\u2500" : "-");
	attrset(A_NORMAL);
	for (int r = 0; r < ch; r += 2)
		draw_fmt(y0 + r, x0, 6, ROLE_DIM, "%5.2f",
			 hi - (hi - lo) * r / (ch > 1 ? ch - 1 : 1));
	/* decade ticks: 1M 3M 10M ... */
	for (double d = floor(l0); d <= l1; d += 1)
		for (int m = 1; m <= 3; m += 2) {
			double lv = d + log10(m);
			if (lv < l0 || lv > l1)
				continue;
			int c = (int)lround((lv - l0) / (l1 - l0) * (cw - 1));
			char t[32];
			fmt_short(t, sizeof t, (uint64_t)pow(10, lv));
			draw_fmt(y0 + ch + 1, cx + c, cw - c, ROLE_DIM, "%s%s",
				 u ? "\u2575" : "'", t);
		}
	for (int pass = 0; pass < 2; pass++) /* the front on top */
		for (int i = 0; i < h->n; i++) {
			double b = history_best_bpb(&h->v[i]);
			if (isnan(b) || !h->v[i].params || front[i] != pass)
				continue;
			int r = (int)lround((hi - b) / (hi - lo) * (ch - 1));
			int c =
			    (int)lround((log10((double)h->v[i].params) - l0) /
					(l1 - l0) * (cw - 1));
			const char *g = front[i] ? (u ? "\u25c6" : "#")
						 : (u ? "\u25cb" : "o");
			attrset(term_attr(i == sel   ? ROLE_ACCENT
					  : front[i] ? ROLE_GOOD
						     : ROLE_BAR) |
				(i == sel ? A_REVERSE : 0));
			mvaddstr(y0 + r, cx + c, g);
			attrset(A_NORMAL);
		}
	draw_right(y0, cx, cw, ROLE_DIM,
		   u ? "\u25c6 Pareto front  \u25cb other  params (log)"
		     : "# Pareto front  o other  params (log)");
}

void plans_draw(struct app *a, int top, int height)
{
	struct workbench *wb = a->wb;
	int y = top + 1, x = 1, w = COLS - 2, bottom = top + height;
	char title[96];
	snprintf(title, sizeof title, "PLANS TRIED ON THIS MODEL (by %s)",
		 sort_names[a->plans_sort]);
	draw_section(y++, x, w, title);
	const struct history *h;
	const bool *front;
	struct err e = {0};
	if (wb_history(wb, (enum history_sort)a->plans_sort, &h, &front, &e)) {
		draw_text(y, x, w, ROLE_BAD, 0, e.msg);
		return;
	}
	if (!h->n) {
		draw_wrapped(y, x, w, 3, ROLE_DIM, 0,
			     "No plan measured yet: Quality (4) and Heal (6) "
			     "record each plan they measure here.");
		return;
	}
	if (a->plans_sel >= h->n)
		a->plans_sel = h->n - 1;
	if (a->plans_sel < 0)
		a->plans_sel = 0;
	/* the table takes up to half the space when a chart fits */
	int avail = bottom - y - 1;
	int rows = avail >= 14 ? (avail - 7 < h->n ? avail - 7 : h->n)
			       : (avail < h->n ? avail : h->n);
	if (rows < 1)
		rows = 1;
	int first = a->plans_sel >= rows ? a->plans_sel - rows + 1 : 0;
	bool wide = w >= 96;
	char hdr[160];
	snprintf(hdr, sizeof hdr,
		 "%-3s %-1s %10s %7s %7s %7s %6s %6s %6s %7s  %s", "#", "",
		 "params", "bpb src", "cut", "healed", "KL", "top-1", "LB",
		 "zindi", wide ? "knobs" : "");
	draw_text(y++, x, w, ROLE_DIM, 0, hdr);
	for (int i = first; i < h->n && i < first + rows; i++, y++) {
		const struct history_entry *v = &h->v[i];
		char pa[32], s1[16], s2[16], s3[16], k1[16], t1[16], l1[16],
		    z1[16], knobs[400], line[600];
		fmt_short(pa, sizeof pa, v->params);
		bool have_kl = v->have_healed_ref || v->have_cut_ref;
		double kl = v->have_healed_ref ? v->kl_healed : v->kl_cut;
		double top1 =
		    (v->have_healed_ref ? v->top1_healed : v->top1_cut) * 100;
		double z = history_zindi(v);
		struct err pe = {0};
		if (recipe_plan_args(&v->recipe.plan, knobs, sizeof knobs, &pe))
			snprintf(knobs, sizeof knobs, "(vocabulary list)");
		snprintf(line, sizeof line,
			 "%-3d %-1s %10s %7s %7s %7s %6s %6s %6s %7s  %s",
			 i + 1, front[i] ? "*" : "", pa,
			 fig(s1, sizeof s1, v->have_cut, 4, v->bpb_src),
			 fig(s2, sizeof s2, v->have_cut, 4, v->bpb_cut),
			 fig(s3, sizeof s3, v->have_healed, 4, v->bpb_healed),
			 fig(k1, sizeof k1, have_kl, 3, kl),
			 fig(t1, sizeof t1, have_kl, 1, top1),
			 fig(l1, sizeof l1, v->have_lb, 4, v->lb),
			 fig(z1, sizeof z1, !isnan(z), 4, z),
			 wide ? (knobs[0] ? knobs : "(identity)") : "");
		draw_text(y, x, w,
			  i == a->plans_sel ? ROLE_SELECTED : ROLE_NORMAL, 1,
			  line);
	}
	/* the selected plan's knobs, in full, when the table has no room */
	if (!wide && y < bottom) {
		char knobs[400];
		struct err pe = {0};
		if (recipe_plan_args(&h->v[a->plans_sel].recipe.plan, knobs,
				     sizeof knobs, &pe))
			snprintf(knobs, sizeof knobs, "(vocabulary list)");
		draw_fmt(y++, x, w, ROLE_DIM, "plan %d: %s", a->plans_sel + 1,
			 knobs[0] ? knobs : "(identity)");
	}
	y++;
	if (bottom - y >= 6) {
		draw_section(y++, x, w,
			     "MEASURED BITS PER BYTE vs PARAMETERS (best: "
			     "healed, else cut)");
		draw_chart(h, front, a->plans_sel, y, x, w, bottom - y);
	}
}

int plans_key(struct app *a, int ch)
{
	struct workbench *wb = a->wb;
	struct err e = {0};
	int n = wb->history ? wb->history->n : 0;
	switch (ch) {
	case KEY_UP:
	case 'k':
		if (a->plans_sel > 0)
			a->plans_sel--;
		return APP_REDRAW;
	case KEY_DOWN:
	case 'j':
		if (a->plans_sel < n - 1)
			a->plans_sel++;
		return APP_REDRAW;
	case 's':
		a->plans_sort = (a->plans_sort + 1) % 3;
		return APP_REDRAW;
	case '\r':
	case '\n':
	case KEY_ENTER:
		if (wb_history_load_plan(wb, a->plans_sel, &e))
			app_status(a, ROLE_BAD, "%s", e.msg);
		else
			app_status(a, ROLE_GOOD,
				   "plan %d loaded into the knobs (1 shows "
				   "them)",
				   a->plans_sel + 1);
		return APP_REDRAW;
	case KEY_DC:
		if (wb_history_forget(wb, a->plans_sel, &e))
			app_status(a, ROLE_BAD, "%s", e.msg);
		else
			app_status(a, ROLE_DIM, "plan %d forgotten",
				   a->plans_sel + 1);
		return APP_REDRAW;
	}
	return APP_OK;
}
