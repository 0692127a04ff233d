/* The Quality screen: what the plan cost in measured quality, on held-out
 * text — bits per byte (comparable across vocabularies), perplexity, KL and
 * top-1 agreement with the original when the vocabulary is unchanged, and
 * per-layer influence. The workbench measures on a thread and remembers
 * each result per plan, so moving a knob back shows it at once. */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "widgets.h"

static void request_quality(struct app *a)
{
	struct workbench *wb = a->wb;
	struct err e = {0};
	if (wb->plan_only) {
		app_status(a, ROLE_BAD, "%s", wb->plan_only_why);
		return;
	}
	if (wb_quality_current(wb)) {
		app_status(a, ROLE_DIM, "already measured for this plan");
		return;
	}
	if (!wb_applied(wb)) {
		if (wb_start_prepare(wb, &e))
			app_status(a, ROLE_BAD, "%s", e.msg);
		else
			a->pending = APP_PENDING_QUALITY;
		return;
	}
	if (wb_start_quality(wb, &e))
		app_status(a, ROLE_BAD, "%s", e.msg);
}

int quality_tick(struct app *a)
{
	if (a->pending == APP_PENDING_QUALITY &&
	    wb_task_status(a->wb, NULL, NULL, 0) == WB_TASK_NONE) {
		a->pending = APP_PENDING_NONE;
		if (wb_applied(a->wb))
			request_quality(a);
		return APP_REDRAW;
	}
	return APP_OK;
}

static void row(int y, int x, int w, const char *name, const char *orig,
		const char *pruned, const char *change, enum term_role cr)
{
	draw_text(y, x, 22, ROLE_LABEL, 0, name);
	draw_right(y, x + 22, 14, ROLE_NORMAL, orig);
	draw_right(y, x + 37, 14, ROLE_VALUE, pruned);
	draw_right(y, x + 52, w - 52 < 14 ? w - 52 : 14, cr, change);
}

void quality_draw(struct app *a, int top, int height)
{
	struct workbench *wb = a->wb;
	int y = top + 1, x = 1, w = COLS - 2;
	draw_section(y++, x, w, "QUALITY ON HELD-OUT TEXT");
	if (wb->plan_only) {
		draw_text(y, x, w, ROLE_DIM, 0, wb->plan_only_why);
		return;
	}
	const char *base = wb->heldout ? strrchr(wb->heldout, '/') : NULL;
	base = base ? base + 1 : wb->heldout ? wb->heldout : "(none)";
	draw_fmt(y++, x, w, ROLE_DIM,
		 "text %s  \u2022  window %d tokens, stride %d  \u2022  plan %s",
		 base, wb->eval_ctx,
		 wb->eval_stride,
		 wb_applied(wb) ? "applied" : "not applied yet");
	const struct wb_quality *q = wb_quality_current(wb);
	y++;
	if (!q) {
		enum wb_task k = wb_task_status(wb, NULL, NULL, 0);
		if (k == WB_TASK_QUALITY ||
		    (k == WB_TASK_PREPARE && a->pending == APP_PENDING_QUALITY))
			draw_text(y, x, w, ROLE_NORMAL, 0,
				  k == WB_TASK_QUALITY
					  ? "measuring\u2026 (progress below; "
					    "Esc cancels)"
					  : "applying the plan, then measuring"
					    "\u2026 (Esc cancels)");
		else
			draw_text(y, x, w, ROLE_NORMAL, 0,
				  "Not measured for this plan yet: press Enter "
				  "(the plan is applied first).");
		return;
	}
	row(y++, x, w, "metric", "original", q->healed ? "healed" : "pruned",
	    "change", ROLE_DIM);
	char o[32], p[32], c[32];
	snprintf(o, sizeof o, "%.4f", q->orig.bpb);
	snprintf(p, sizeof p, "%.4f", q->pruned.bpb);
	snprintf(c, sizeof c, "%+.4f", q->pruned.bpb - q->orig.bpb);
	row(y++, x, w, "bits per byte", o, p, c,
	    q->pruned.bpb > q->orig.bpb ? ROLE_BAD : ROLE_GOOD);
	snprintf(o, sizeof o, "%.2f", q->orig.ppl);
	snprintf(p, sizeof p, "%.2f", q->pruned.ppl);
	snprintf(c, sizeof c, "\u00d7%.2f",
		 q->orig.ppl > 0 ? q->pruned.ppl / q->orig.ppl : 0);
	row(y++, x, w, "perplexity / token", o, p, c, ROLE_NORMAL);
	snprintf(o, sizeof o, "%zu", q->orig.n_scored);
	snprintf(p, sizeof p, "%zu", q->pruned.n_scored);
	row(y++, x, w, "tokens scored", o, p, "", ROLE_NORMAL);
	if (q->words > 0) {
		snprintf(o, sizeof o, "%.3f", q->orig.n_tokens / q->words);
		snprintf(p, sizeof p, "%.3f", q->pruned.n_tokens / q->words);
		snprintf(c, sizeof c, "%+.1f%%",
			 100.0 * ((double)q->pruned.n_tokens /
					  (double)q->orig.n_tokens -
				  1));
		row(y++, x, w, "tokens per word", o, p, c, ROLE_NORMAL);
	}
	if (q->has_kl) {
		snprintf(p, sizeof p, "%.4f", q->pruned.kl_mean);
		row(y++, x, w,
		    q->healed ? "KL(original\u2016healed)"
			      : "KL(original\u2016pruned)",
		    "0", p, "nats/token",
		    ROLE_DIM);
		snprintf(p, sizeof p, "%.1f%%", 100 * q->pruned.top1);
		row(y++, x, w, "top-1 agreement", "100%", p, "", ROLE_NORMAL);
	} else {
		draw_text(y++, x, w, ROLE_DIM, 0,
			  "KL and top-1 need the same vocabulary: not shown "
			  "for a pruned vocabulary");
	}
	y++;
	if (q->has_layer_scores && y < top + height - 2) {
		draw_section(y++, x, w,
			     "LAYER INFLUENCE (1 - cos(input, output), "
			     "calibration text; a keeps the top ones)");
		double mx = 0;
		for (int i = 0; i < q->n_layers; i++)
			if (q->layer_score[i] > mx)
				mx = q->layer_score[i];
		for (int i = 0; i < q->n_layers && y < top + height; i++, y++) {
			draw_fmt(y, x, 14, ROLE_LABEL, "layer %d", i);
			draw_fmt(y, x + 10, 10, ROLE_NORMAL, "%.4f",
				 q->layer_score[i]);
			draw_bar(y, x + 20, w - 22 < 50 ? w - 22 : 50,
				 mx > 0 ? q->layer_score[i] / mx : 0, ROLE_BAR);
		}
	}
}

int quality_key(struct app *a, int ch)
{
	struct err e = {0};
	switch (ch) {
	case 'm':
	case '\r':
	case '\n':
	case KEY_ENTER:
		request_quality(a);
		return APP_REDRAW;
	case 'a':
		if (wb_apply_layer_ranking(a->wb, &e))
			app_status(a, ROLE_BAD, "%s", e.msg);
		else
			app_status(a, ROLE_GOOD,
				   "Layers knob: the %d most influential "
				   "layers (see Knobs)",
				   a->wb->est.cfg.n_layers);
		return APP_REDRAW;
	case KEY_LEFT:
	case KEY_RIGHT:
	case 'h':
	case 'l':
		if (a->n_heldout > 1) {
			int dir = ch == KEY_LEFT || ch == 'h' ? -1 : 1;
			a->heldout_sel = (a->heldout_sel + a->n_heldout + dir) %
					 a->n_heldout;
			if (wb_set_inputs(a->wb,
					  (const char *const *)a->wb->corpus,
					  a->wb->n_corpus,
					  a->heldout[a->heldout_sel], &e))
				app_status(a, ROLE_BAD, "%s", e.msg);
		}
		return APP_REDRAW;
	}
	return APP_OK;
}
