/* The Vocabulary screen: what a vocabulary cutoff keeps and costs — corpus
 * coverage, tokens per word before and after, the pieces that would go
 * next, the unreachable pieces a naive cutoff would leave (and closure
 * avoids), and how a sample sentence splits before and after. The corpus
 * is counted once, in the background; every figure comes from
 * wb_vocab_preview(). */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "tokenizer.h"
#include "vocab.h"
#include "widgets.h"

int vocab_tick(struct app *a)
{
	struct workbench *wb = a->wb;
	/* count as soon as the user looks at this screen */
	if (a->screen == APP_SCREEN_VOCAB && !wb->counts && wb->tok &&
	    wb->n_corpus > 0 && !a->count_failed &&
	    wb_task_status(wb, NULL, NULL, 0) == WB_TASK_NONE) {
		struct err e = {0};
		if (wb_start_count(wb, &e)) {
			app_status(a, ROLE_BAD, "%s", e.msg);
			a->count_failed = true;
		}
		return APP_REDRAW;
	}
	return APP_OK;
}

static void draw_corpus(struct app *a, int *y, int x, int w)
{
	struct workbench *wb = a->wb;
	char files[256] = "";
	for (int i = 0; i < wb->n_corpus; i++) {
		const char *b = strrchr(wb->corpus[i], '/');
		b = b ? b + 1 : wb->corpus[i];
		size_t l = strlen(files);
		snprintf(files + l, sizeof files - l, "%s%s", i ? ", " : "", b);
	}
	draw_fmt((*y)++, x, w, ROLE_DIM, "corpus: %s",
		 wb->n_corpus ? files : "(none: --corpus FILE)");
	if (wb->counts) {
		const struct vocab_counts *c = wb->counts;
		char t[32], by[32];
		fmt_count(t, sizeof t, c->tokens);
		fmt_bytes(by, sizeof by, c->bytes);
		draw_fmt((*y)++, x, w, ROLE_DIM,
			 "%llu lines, %llu words, %s, %s tokens",
			 (unsigned long long)c->lines,
			 (unsigned long long)c->words, by, t);
	}
}

void vocab_draw(struct app *a, int top, int height)
{
	struct workbench *wb = a->wb;
	int y = top + 1, x = 1, w = COLS - 2;
	draw_section(y++, x, w, "VOCABULARY");
	if (!wb->tok) {
		draw_text(y, x, w, ROLE_BAD, 0, wb->tok_note);
		return;
	}
	draw_corpus(a, &y, x, w);
	if (!wb->counts) {
		draw_text(y + 1, x, w, ROLE_NORMAL, 0,
			  "counting the corpus\u2026");
		return;
	}
	const struct wb_vocab_preview *p;
	struct err e = {0};
	if (wb_vocab_preview(wb, a->vocab_sample, &p, &e)) {
		draw_text(y + 1, x, w, ROLE_BAD, 0, e.msg);
		return;
	}
	y++;
	const struct vocab_keep *k = p->keep;
	char kk[32], vv[32];
	fmt_count(kk, sizeof kk, (uint64_t)k->n_keep);
	fmt_count(vv, sizeof vv, (uint64_t)k->n_old);
	int dx = draw_fmt(y, x, w, ROLE_LABEL, "kept ");
	if (a->editing == APP_EDIT_KNOB) {
		a->edit_y = y;
		a->edit_x = edit_draw(&a->edit, y, x + dx, 10, ROLE_VALUE);
		dx += 10;
	} else {
		dx += draw_fmt(y, x + dx, w - dx, ROLE_VALUE, "%s", kk);
	}
	draw_fmt(y++, x + dx, w - dx, ROLE_LABEL,
		 " of %s pieces  (\u2190\u2192 change K, Enter types it, x closure %s)", vv,
		 p->closure ? "on" : "off");
	draw_fmt(y++, x, w, ROLE_NORMAL,
		 "%d always kept (specials, bytes), %d added as merge parents, "
		 "%d skipped",
		 k->n_forced, k->n_closure, k->n_skipped);
	draw_fmt(y, x, 24, ROLE_LABEL, "coverage");
	draw_fmt(y, x + 24, 12, ROLE_VALUE, "%.2f%%", 100 * k->coverage);
	draw_bar(y++, x + 36, w - 38 < 40 ? w - 38 : 40, k->coverage, ROLE_BAR);
	draw_fmt(y, x, 24, ROLE_LABEL, "tokens per word");
	draw_fmt(y++, x + 24, w - 24, ROLE_VALUE, "%.3f \u2192 %.3f  (%+.1f%%)",
		 p->tpw_before, p->tpw_after,
		 p->tpw_before > 0 ? 100 * (p->tpw_after / p->tpw_before - 1)
				   : 0);
	draw_fmt(y, x, 24, ROLE_LABEL, "unreachable pieces");
	draw_fmt(y++, x + 24, w - 24,
		 k->naive_unreachable ? ROLE_BAD : ROLE_NORMAL,
		 "%d with a naive cutoff; %d in this set%s",
		 k->naive_unreachable, k->unreachable,
		 p->closure ? " (closure)" : "");
	/* the next pieces to go */
	char margin[512] = "";
	for (int i = 0; i < k->n_margin; i++) {
		size_t pl;
		const char *pc = tok_piece(wb->tok, k->margin[i], &pl);
		size_t l = strlen(margin);
		snprintf(margin + l, sizeof margin - l, "%s%.*s", i ? "  " : "",
			 (int)(pl < 40 ? pl : 40), pc);
	}
	draw_fmt(y, x, 24, ROLE_LABEL, "next to go");
	draw_text(y++, x + 24, w - 24, ROLE_NORMAL, 0, margin);
	y++;
	if (p->sample_text && y < top + height - 4) {
		char t[96];
		snprintf(t, sizeof t, "SAMPLE %d (n/N)", p->sample + 1);
		draw_section(y++, x, w, t);
		int h = (top + height - y - 2) / 3;
		if (h < 1)
			h = 1;
		int used = draw_wrapped(y, x, w, h, ROLE_NORMAL, 0, p->sample_text);
		y += used < h ? used : h;
		draw_fmt(y++, x, w, ROLE_LABEL, "before: %d tokens",
			 p->n_before);
		used = draw_wrapped(y, x, w, h, ROLE_DIM, 0, p->split_before);
		y += used < h ? used : h;
		draw_fmt(y++, x, w, ROLE_LABEL, "after: %d tokens", p->n_after);
		draw_wrapped(y, x, w, top + height - y, ROLE_VALUE, 0,
			     p->split_after);
	}
}

int vocab_key(struct app *a, int ch)
{
	struct workbench *wb = a->wb;
	struct prune_plan p;
	struct err e = {0};
	if (a->editing == APP_EDIT_KNOB) {
		enum edit_result r = edit_key(&a->edit, ch);
		if (r == EDIT_GOING)
			return APP_REDRAW;
		a->typing = false;
		a->editing = APP_EDIT_NONE;
		if (r == EDIT_DONE &&
		    wb_set_knob_text(wb, WB_KNOB_VOCAB, a->knob_input, &e))
			app_status(a, ROLE_BAD, "%s", e.msg);
		return APP_REDRAW;
	}
	switch (ch) {
	case '\r':
	case '\n':
	case KEY_ENTER:
		a->knob_input[0] = '\0';
		app_edit_begin(a, APP_EDIT_KNOB, a->knob_input,
			       sizeof a->knob_input);
		return APP_REDRAW;
	case KEY_LEFT:
	case KEY_RIGHT:
	case 'h':
	case 'l': {
		if (prune_plan_copy(&p, &wb->plan, &e))
			return APP_OK;
		int dir = ch == KEY_RIGHT || ch == 'l' ? 1 : -1;
		int cur = wb->est.cfg.vocab_size;
		int nk = wb_vocab_step(wb, cur, dir);
		if (nk >= wb->src.vocab_size) {
			p.vocab_mode = PLAN_VOCAB_NONE;
		} else {
			p.vocab_mode = PLAN_VOCAB_TOP_K;
			p.vocab_keep = nk;
		}
		if (wb_set_plan(wb, &p, &e))
			app_status(a, ROLE_BAD, "%s", e.msg);
		prune_plan_free(&p);
		return APP_REDRAW;
	}
	case 'x':
		if (prune_plan_copy(&p, &wb->plan, &e))
			return APP_OK;
		p.merge_closure = !p.merge_closure;
		if (wb_set_plan(wb, &p, &e))
			app_status(a, ROLE_BAD, "%s", e.msg);
		prune_plan_free(&p);
		return APP_REDRAW;
	case 'n':
		a->vocab_sample++;
		return APP_REDRAW;
	case 'N':
		a->vocab_sample--;
		return APP_REDRAW;
	}
	return APP_OK;
}
