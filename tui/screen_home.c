/* The home screen: the four knobs (plus selection, head mode and export
 * dtype) on the left; on the right, live, what the plan costs and what it
 * would score. Every figure comes from the workbench's estimate. */
#include <curses.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "widgets.h"

enum knob {
	KNOB_VOCAB,
	KNOB_WIDTH,
	KNOB_INTER,
	KNOB_LAYERS,
	KNOB_TIE,
	KNOB_HEADS,
	KNOB_SELECT,
	KNOB_DTYPE,
	KNOB_COUNT
};

static const char *const knob_names[KNOB_COUNT] = {
	"Vocabulary", "Width d", "MLP width f", "Layers",
	"Tying",      "Heads",   "Selection",   "Export dtype",
};

static const char *const preset_cycle[] = {"published-50m", "published-100m",
					   "published-40m", "identity"};
#define N_PRESETS ((int)(sizeof preset_cycle / sizeof preset_cycle[0]))

static const char *tie_label(enum plan_tie t, bool src_tied)
{
	switch (t) {
	case PLAN_TIE_OFF: return src_tied ? "tied (as source)" : "untied";
	case PLAN_TIE_LM_HEAD: return "tied, from lm_head";
	case PLAN_TIE_EMBED: return "tied, from embedding";
	case PLAN_TIE_MEAN: return "tied, mean of both";
	}
	return "?";
}

static const char *select_label(enum plan_select s)
{
	switch (s) {
	case PLAN_SELECT_RANDOM: return "random, consistent";
	case PLAN_SELECT_MAGNITUDE: return "weight magnitude";
	case PLAN_SELECT_ACTIVATION: return "activations";
	case PLAN_SELECT_RECIPE_RANDOM: return "recipe (per-row random)";
	}
	return "?";
}

/* The knob's current value as text. */
static void knob_value(const struct workbench *wb, enum knob k, char *buf,
		       size_t cap)
{
	const struct config *s = &wb->src, *d = &wb->est.cfg;
	const struct prune_plan *p = &wb->plan;
	char n1[32], n2[32];
	switch (k) {
	case KNOB_VOCAB:
		fmt_count(n1, sizeof n1, (uint64_t)d->vocab_size);
		fmt_count(n2, sizeof n2, (uint64_t)s->vocab_size);
		if (p->vocab_mode == PLAN_VOCAB_NONE)
			snprintf(buf, cap, "all %s", n2);
		else
			snprintf(buf, cap, "%s of %s%s", n1, n2,
				 wb->est.vocab_known ? "" : " (est.)");
		break;
	case KNOB_WIDTH:
		fmt_count(n1, sizeof n1, (uint64_t)d->hidden_size);
		snprintf(buf, cap, "%s (\u00d7%.3g, hd %d)", n1,
			 (double)d->hidden_size / s->hidden_size, d->head_dim);
		break;
	case KNOB_INTER:
		fmt_count(n1, sizeof n1, (uint64_t)d->intermediate_size);
		snprintf(buf, cap, "%s%s", n1,
			 p->intermediate > 0 ? "" : " (follows d)");
		break;
	case KNOB_LAYERS:
		snprintf(buf, cap, "%d of %d (%s)", d->n_layers, s->n_layers,
			 plan_layer_mode_name(p->layer_mode));
		break;
	case KNOB_TIE:
		snprintf(buf, cap, "%s", tie_label(p->tie, s->tie_word_embeddings));
		break;
	case KNOB_HEADS:
		snprintf(buf, cap, "%d, %s", d->n_heads,
			 p->head_mode == PLAN_HEADS_HEADDIM ? "shrink head_dim"
							    : "drop heads");
		break;
	case KNOB_SELECT:
		snprintf(buf, cap, "%s", select_label(p->select));
		break;
	case KNOB_DTYPE:
		snprintf(buf, cap, "%s", dtype_name(p->export_dtype));
		break;
	default:
		buf[0] = '\0';
	}
}

/* The rows the knobs were drawn on, for mouse clicks. */
static int knob_y[KNOB_COUNT];

static void draw_knobs(struct app *a, int y, int x, int w)
{
	draw_section(y++, x, w, "KNOBS");
	for (int k = 0; k < KNOB_COUNT; k++) {
		bool sel = k == a->home_row;
		char val[96];
		knob_value(a->wb, (enum knob)k, val, sizeof val);
		enum term_role r = sel ? ROLE_SELECTED : ROLE_LABEL;
		move(y, x);
		draw_text(y, x, w, r, 1, "");
		draw_text(y, x, 13, r, 0, knob_names[k]);
		char shown[128];
		snprintf(shown, sizeof shown, sel ? "\u25c2 %s \u25b8" : "  %s",
			 val);
		if (sel && a->editing == APP_EDIT_KNOB) {
			draw_text(y, x + 13, 2, ROLE_SELECTED, 0, "= ");
			a->edit_y = y;
			a->edit_x = edit_draw(&a->edit, y, x + 15, w - 15,
					      ROLE_VALUE);
		} else {
			draw_text(y, x + 13, w - 13,
				  sel ? ROLE_SELECTED : ROLE_VALUE, 0, shown);
		}
		knob_y[k] = y;
		y++;
		if (k == KNOB_LAYERS)
			y++; /* a gap between the size knobs and the rest */
	}
}

struct cost_row {
	const char *name;
	uint64_t src, dst;
	bool tied;
};

static void draw_cost(struct app *a, int y, int x, int w)
{
	const struct plan_estimate *e = &a->wb->est;
	bool wide = w >= 54;
	draw_section(y++, x, w, "COST (unique parameters)");
	int cw = wide ? 11 : 8; /* number column width */
	int lw = 11, pw = 7;
	int bw = w - lw - 2 * cw - pw - 4;
	draw_text(y, x, lw, ROLE_DIM, 0, "component");
	draw_right(y, x + lw, cw, ROLE_DIM, "original");
	draw_right(y, x + lw + cw + 1, cw, ROLE_DIM, "pruned");
	draw_right(y, x + lw + 2 * cw + 1, pw, ROLE_DIM, "kept");
	y++;
	char mlp_name[16];
	snprintf(mlp_name, sizeof mlp_name, "mlp%s",
		 a->wb->src.shared_mlp ? " (1\u00d7)" : "");
	struct cost_row rows[] = {
		{"embeddings", e->src.embed, e->dst.embed, false},
		{"lm_head", e->src.lm_head, e->dst.lm_head,
		 e->cfg.tie_word_embeddings},
		{"attention", e->src.attn, e->dst.attn, false},
		{mlp_name, e->src.mlp, e->dst.mlp, false},
		{"norms", e->src.norms, e->dst.norms, false},
		{"total", e->src.total, e->dst.total, false},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct cost_row *r = &rows[i];
		bool total = i == sizeof rows / sizeof rows[0] - 1;
		enum term_role lr = total ? ROLE_VALUE : ROLE_LABEL;
		char s[32], d[32], pct[16];
		(wide ? fmt_count : fmt_short)(s, sizeof s, r->src);
		(wide ? fmt_count : fmt_short)(d, sizeof d, r->dst);
		double f = plan_pct(r->dst, r->src);
		snprintf(pct, sizeof pct, "%.1f%%", f);
		draw_text(y, x, lw, lr, 0, r->name);
		draw_right(y, x + lw, cw, ROLE_NORMAL, s);
		draw_right(y, x + lw + cw + 1, cw, lr, r->tied ? "tied" : d);
		draw_right(y, x + lw + 2 * cw + 1, pw, ROLE_NORMAL,
			   r->src ? pct : "-");
		if (bw >= 4)
			draw_bar(y, x + lw + 2 * cw + pw + 3, bw, f / 100,
				 total ? ROLE_ACCENT : ROLE_BAR);
		y++;
	}
	char b32[32], b16[32];
	fmt_bytes(b32, sizeof b32, e->bytes_f32);
	fmt_bytes(b16, sizeof b16, e->bytes_bf16);
	draw_fmt(y, x, w, ROLE_DIM, "bytes: %s f32, %s bf16/f16", b32, b16);
}

static void draw_score(struct app *a, int y, int x, int w)
{
	struct workbench *wb = a->wb;
	draw_section(y++, x, w, "ZINDI (DESIGN \u00a71.3): a projection");
	double z = wb_zindi(wb), zsrc = wb_source_zindi(wb);
	int dx = draw_fmt(y, x, w, ROLE_LABEL, "LB %.4f %s \u2192 zindi ",
			  wb->lb, wb->lb_measured ? "measured" : "assumed");
	dx += draw_fmt(y, x + dx, w - dx,
		       z >= wb->ref_zindi ? ROLE_GOOD : ROLE_VALUE, "%.4f", z);
	draw_text(y++, x + dx, w - dx, ROLE_DIM, 0,
		  wb->lb_measured ? " (LB of the unpruned model; pruning "
				    "lowers it)"
				  : " (if pruning kept LB)");
	/* what was measured, beside the projection */
	const struct wb_quality *q = wb_quality_current(wb);
	if (wb->lb_measured)
		draw_fmt(y++, x, w, ROLE_DIM,
			 "measured: LB %.4f on %d rows \u2192 zindi %.4f "
			 "unpruned",
			 wb->lb, wb->measured_rows, zsrc);
	else if (q)
		draw_fmt(y++, x, w, ROLE_DIM,
			 "measured for this plan: %+.3f bits/byte "
			 "(Quality); LB not measured",
			 q->pruned.bpb - q->orig.bpb);
	else
		draw_fmt(y++, x, w, ROLE_DIM,
			 "unpruned at this LB: %.4f; nothing measured%s", zsrc,
			 wb->plan_only ? " (plan-only: no weights)" : "");
	const struct published_result *ref = &wb_published[a->ref_next];
	double be = wb_breakeven_lb(wb);
	char lead[96], beb[32];
	snprintf(lead, sizeof lead, "to beat %s (%.4f) needs LB \u2265 ",
		 ref->name, wb->ref_zindi);
	snprintf(beb, sizeof beb, be > 1 ? "%.4f (never)" : "%.4f", be);
	draw_text(y, x, w, ROLE_LABEL, 0, lead);
	int lx = text_width(lead, strlen(lead));
	draw_text(y, x + lx, w - lx, be <= wb->lb ? ROLE_GOOD : ROLE_BAD, 0,
		  beb);
}

struct chart_point {
	uint64_t p;
	double z;
	const char *label;
	enum term_role role;
};

/* Column of p parameters on a log axis [lo, hi] of gw columns. */
static int log_col(double p, double lo, double hi, int gw)
{
	if (p < lo)
		p = lo;
	int c = (int)((log(p) - log(lo)) / (log(hi) - log(lo)) * (gw - 1) + 0.5);
	return c < 0 ? 0 : c >= gw ? gw - 1 : c;
}

/* zindi vs parameters (log scale): published results, the unpruned
 * model, the current plan, and the projection curve for the LB. */
static void draw_chart(struct app *a, int y, int x, int w, int h)
{
	struct workbench *wb = a->wb;
	if (h < 5 || w < 24)
		return;
	char title[96];
	snprintf(title, sizeof title,
		 "ZINDI vs PARAMETERS (curve: LB %.4f %s)", wb->lb,
		 wb->lb_measured ? "measured" : "assumed");
	draw_section(y++, x, w, title);
	h--;
	struct chart_point pts[8];
	int n = 0;
	for (int i = 0; i < wb_n_published && n < 6; i++)
		pts[n++] = (struct chart_point){wb_published[i].params,
					    wb_published[i].zindi,
					    wb_published[i].name, ROLE_LABEL};
	pts[n++] = (struct chart_point){SCORE_PARAM_SIZE, WB_BASELINE_ZINDI,
				    "0.4B", ROLE_LABEL};
	pts[n++] = (struct chart_point){wb->est.dst.total, wb_zindi(wb), "you",
				    ROLE_ACCENT};
	/* ranges that follow the values */
	double lo = (double)SCORE_PARAM_SIZE, hi = (double)SCORE_PARAM_SIZE;
	double ymax = wb->lb; /* the curve's top, at 0 parameters */
	for (int i = 0; i < n; i++) {
		double p = pts[i].p > 0 ? (double)pts[i].p : 1;
		if (p < lo)
			lo = p;
		if (p > hi)
			hi = p;
		if (pts[i].z > ymax)
			ymax = pts[i].z;
	}
	if ((double)wb->est.src.total > hi)
		hi = (double)wb->est.src.total;
	lo /= 1.6;
	hi *= 1.3;
	ymax = ceil(ymax * 10 + 0.25) / 10; /* a tenth above, with room */
	if (ymax > 1.1)
		ymax = 1.1;
	int gx = x + 6, gw = w - 7, gh = h - 1;
	for (int r = 0; r < gh; r++) {
		double v = ymax * (gh - 1 - r) / (gh - 1);
		if (r % 2 == 0 || gh <= 4)
			draw_fmt(y + r, x, 5, ROLE_DIM, "%.2f", v);
		draw_text(y + r, gx - 1, 1, ROLE_DIM, 0,
			  widgets_utf8() ? "\u2502" : "|");
	}
	/* ticks: 1, 10, 100 ... (and 3, 30, ... when the range is short) */
	int last_x = -10;
	for (double t = 1e3; t <= hi; t *= 10)
		for (int m = 0; m < 2; m++) {
			double v = m ? t * 3 : t;
			if (v < lo || v > hi)
				continue;
			if (m && log10(hi / lo) > 3)
				continue;
			char lab[16];
			if (v >= 1e9)
				snprintf(lab, sizeof lab, "%gB", v / 1e9);
			else if (v >= 1e6)
				snprintf(lab, sizeof lab, "%gM", v / 1e6);
			else
				snprintf(lab, sizeof lab, "%gk", v / 1e3);
			int c = gx + log_col(v, lo, hi, gw);
			if (c - last_x < (int)strlen(lab) + 1 ||
			    c + (int)strlen(lab) > gx + gw - 14)
				continue;
			draw_text(y + gh, c, 1, ROLE_DIM, 0,
				  widgets_utf8() ? "\u2575" : "'");
			draw_text(y + gh, c + 1, (int)strlen(lab), ROLE_DIM, 0,
				  lab);
			last_x = c + (int)strlen(lab);
		}
	draw_right(y + gh, gx, gw, ROLE_DIM, "params (log)");
	/* the projection for the LB, one dot per column */
	for (int c = 0; c < gw; c++) {
		double p = exp(log(lo) + (log(hi) - log(lo)) * c / (gw - 1));
		double zz = score_zindi(wb->lb, (uint64_t)p);
		int r = (int)((1 - zz / ymax) * (gh - 1) + 0.5);
		if (r >= 0 && r < gh)
			draw_text(y + r, gx + c, 1, ROLE_DIM, 0,
				  widgets_utf8() ? "\u00b7" : ".");
	}
	/* points, then labels where they do not collide ("you" first) */
	int span_r[16], span_a[16], span_b[16], ns = 0;
	for (int j = 0; j < n; j++) {
		int i = n - 1 - j;
		int c = log_col((double)pts[i].p, lo, hi, gw);
		int r = (int)((1 - pts[i].z / ymax) * (gh - 1) + 0.5);
		if (r < 0)
			r = 0;
		if (r >= gh)
			r = gh - 1;
		bool you = i == n - 1;
		draw_text(y + r, gx + c, 1, pts[i].role, 0,
			  you ? (widgets_utf8() ? "\u25c6" : "*") : "o");
		int lw = (int)strlen(pts[i].label);
		int lx = gx + c + 1;
		if (lx + lw > gx + gw)
			lx = gx + c - lw;
		bool clash = false;
		for (int k = 0; k < ns && !clash; k++)
			clash = span_r[k] == r && lx <= span_b[k] &&
				lx + lw >= span_a[k];
		if (!clash && ns < 16) {
			draw_text(y + r, lx, lw, pts[i].role, 0, pts[i].label);
			span_r[ns] = r;
			span_a[ns] = lx < gx + c ? lx : gx + c;
			span_b[ns++] = lx + lw > gx + c ? lx + lw : gx + c;
		}
	}
}

void home_draw(struct app *a, int top, int height)
{
	int lw = COLS >= 110 ? 44 : COLS >= 96 ? 40 : 36;
	if (COLS < 80)
		lw = 32;
	int rx = lw + 2, rw = COLS - rx - 1;
	int y = top + 1, bottom = top + height;
	draw_knobs(a, y, 1, lw);
	/* snap notes and other notes under the knobs, wrapped */
	int ny = y + KNOB_COUNT + 3;
	char notes[2048] = "";
	const struct plan_notes *pn = &a->wb->est.notes;
	for (int i = 0; i < pn->n; i++) {
		size_t l = strlen(notes);
		snprintf(notes + l, sizeof notes - l, "%s%s", l ? "\n" : "",
			 pn->text[i]);
	}
	if (a->wb->tok_note[0]) {
		size_t l = strlen(notes);
		snprintf(notes + l, sizeof notes - l, "%s%s", l ? "\n" : "",
			 a->wb->tok_note);
	}
	if (a->wb->plan_only) {
		size_t l = strlen(notes);
		snprintf(notes + l, sizeof notes - l,
			 "%s%s: the figures are the plan's arithmetic; "
			 "run, quality and export need a model directory",
			 l ? "\n" : "", a->wb->plan_only_why);
	}
	if (a->editing == APP_EDIT_SAVE || a->editing == APP_EDIT_LOAD) {
		draw_text(ny++, 1, lw, ROLE_LABEL, 0,
			  a->editing == APP_EDIT_SAVE
				  ? "save the recipe to (Enter, Esc):"
				  : "load a recipe from (Enter, Esc):");
		a->edit_y = ny;
		a->edit_x = edit_draw(&a->edit, ny++, 1, lw, ROLE_VALUE);
	}
	draw_wrapped(ny, 1, lw, bottom - ny, ROLE_DIM, 0, notes);
	draw_cost(a, y, rx, rw);
	int sy = y + 10;
	draw_score(a, sy, rx, rw);
	int cy = sy + 5;
	draw_chart(a, cy, rx, rw, bottom - cy);
}

int home_click(struct app *a, int y, int x)
{
	int lw = COLS >= 110 ? 44 : COLS >= 96 ? 40 : 36;
	if (x > lw)
		return APP_OK;
	for (int k = 0; k < KNOB_COUNT; k++)
		if (knob_y[k] == y) {
			a->home_row = k;
			return APP_REDRAW;
		}
	return APP_OK;
}

static int set_plan(struct app *a, const struct prune_plan *p)
{
	struct err e = {0};
	if (wb_set_plan(a->wb, p, &e)) {
		app_status(a, ROLE_BAD, "%s", e.msg);
		return APP_REDRAW;
	}
	const struct plan_notes *n = &a->wb->est.notes;
	if (n->n)
		app_status(a, ROLE_DIM, "snapped: %s", n->text[0]);
	else
		a->status[0] = '\0';
	return APP_REDRAW;
}

static int change_knob(struct app *a, int dir)
{
	struct workbench *wb = a->wb;
	struct prune_plan p;
	struct err e = {0};
	if (prune_plan_copy(&p, &wb->plan, &e)) {
		app_status(a, ROLE_BAD, "%s", e.msg);
		return APP_REDRAW;
	}
	const struct config *s = &wb->src, *d = &wb->est.cfg;
	switch ((enum knob)a->home_row) {
	case KNOB_VOCAB: {
		int k = wb_vocab_step(wb, d->vocab_size, dir);
		if (k >= s->vocab_size) {
			p.vocab_mode = PLAN_VOCAB_NONE;
		} else {
			p.vocab_mode = PLAN_VOCAB_TOP_K;
			p.vocab_keep = k;
		}
		break;
	}
	case KNOB_WIDTH:
		p.hidden = plan_hidden_step(s, p.head_mode, d->hidden_size, dir);
		p.width_factor = (double)p.hidden / s->hidden_size;
		break;
	case KNOB_INTER:
		p.intermediate = plan_inter_step(s, d->intermediate_size, dir);
		break;
	case KNOB_LAYERS:
		p.layer_mode = p.layer_mode == PLAN_LAYERS_LIST
				       ? PLAN_LAYERS_FIRST
				       : p.layer_mode;
		p.n_layers = plan_layers_step(s, d->n_layers, dir);
		break;
	case KNOB_TIE:
		p.tie = (enum plan_tie)(((int)p.tie + 4 + dir) % 4);
		break;
	case KNOB_HEADS:
		p.head_mode = p.head_mode == PLAN_HEADS_HEADDIM
				      ? PLAN_HEADS_DROP
				      : PLAN_HEADS_HEADDIM;
		break;
	case KNOB_SELECT:
		p.select = (enum plan_select)(((int)p.select + 4 + dir) % 4);
		break;
	case KNOB_DTYPE:
		p.export_dtype = (enum dtype)(((int)p.export_dtype + 3 + dir) % 3);
		break;
	default:
		break;
	}
	int r = set_plan(a, &p);
	prune_plan_free(&p);
	return r;
}

/* Enter on a size knob: type its value. */
static int edit_done(struct app *a, int ch)
{
	struct workbench *wb = a->wb;
	enum edit_result r = edit_key(&a->edit, ch);
	if (r == EDIT_GOING)
		return APP_REDRAW;
	enum app_edit what = a->editing;
	a->typing = false;
	a->editing = APP_EDIT_NONE;
	if (r == EDIT_CANCELLED)
		return APP_REDRAW;
	struct err e = {0};
	switch (what) {
	case APP_EDIT_KNOB:
		if (wb_set_knob_text(wb, (enum wb_knob)a->home_row,
				     a->knob_input, &e))
			app_status(a, ROLE_BAD, "%s", e.msg);
		else if (wb->est.notes.n)
			app_status(a, ROLE_DIM, "snapped: %s",
				   wb->est.notes.text[0]);
		break;
	case APP_EDIT_SAVE:
		if (wb_save_recipe(wb, a->recipe_path, &e))
			app_status(a, ROLE_BAD, "%s", e.msg);
		else
			app_status(a, ROLE_GOOD, "recipe saved to %s",
				   a->recipe_path);
		break;
	case APP_EDIT_LOAD:
		if (wb_load_recipe(wb, a->recipe_path, &e))
			app_status(a, ROLE_BAD, "%s", e.msg);
		else
			app_status(a, ROLE_GOOD, "recipe loaded from %s",
				   a->recipe_path);
		break;
	default:
		break;
	}
	return APP_REDRAW;
}

static void begin_recipe_edit(struct app *a, enum app_edit what)
{
	if (!a->recipe_path[0]) {
		char dir[512];
		wb_default_export_dir(a->wb, dir, sizeof dir);
		snprintf(a->recipe_path, sizeof a->recipe_path, "%.500s.json",
			 dir);
	}
	app_edit_begin(a, what, a->recipe_path, sizeof a->recipe_path);
}

int home_key(struct app *a, int ch)
{
	struct workbench *wb = a->wb;
	struct err e = {0};
	if (a->editing != APP_EDIT_NONE)
		return edit_done(a, ch);
	switch (ch) {
	case KEY_UP:
	case 'k':
		a->home_row = (a->home_row + KNOB_COUNT - 1) % KNOB_COUNT;
		return APP_REDRAW;
	case KEY_DOWN:
	case 'j':
		a->home_row = (a->home_row + 1) % KNOB_COUNT;
		return APP_REDRAW;
	case KEY_HOME:
		a->home_row = 0;
		return APP_REDRAW;
	case KEY_END:
		a->home_row = KNOB_COUNT - 1;
		return APP_REDRAW;
	case KEY_LEFT:
	case 'h':
		return change_knob(a, -1);
	case KEY_RIGHT:
	case 'l':
		return change_knob(a, +1);
	case '\r':
	case '\n':
	case KEY_ENTER:
		if (a->home_row > KNOB_LAYERS) {
			app_status(a, ROLE_DIM,
				   "%s has a few values: \u2190\u2192 steps "
				   "through them",
				   knob_names[a->home_row]);
			return APP_REDRAW;
		}
		a->knob_input[0] = '\0';
		app_edit_begin(a, APP_EDIT_KNOB, a->knob_input,
			       sizeof a->knob_input);
		return APP_REDRAW;
	case KEY_DC:
	case KEY_BACKSPACE:
	case 127:
	case 8:
		if (a->home_row > KNOB_LAYERS) {
			struct prune_plan p, id;
			prune_plan_init(&id);
			if (prune_plan_copy(&p, &wb->plan, &e))
				return APP_REDRAW;
			if (a->home_row == KNOB_TIE)
				p.tie = id.tie;
			else if (a->home_row == KNOB_HEADS)
				p.head_mode = id.head_mode;
			else if (a->home_row == KNOB_SELECT)
				p.select = id.select;
			else
				p.export_dtype = id.export_dtype;
			set_plan(a, &p);
			prune_plan_free(&p);
		} else if (wb_reset_knob(wb, (enum wb_knob)a->home_row, &e)) {
			app_status(a, ROLE_BAD, "%s", e.msg);
			return APP_REDRAW;
		}
		app_status(a, ROLE_DIM, "%s back to its default",
			   knob_names[a->home_row]);
		return APP_REDRAW;
	case 'S':
		begin_recipe_edit(a, APP_EDIT_SAVE);
		return APP_REDRAW;
	case 'L':
		begin_recipe_edit(a, APP_EDIT_LOAD);
		return APP_REDRAW;
	case 'p': {
		const char *name = preset_cycle[a->preset_next];
		a->preset_next = (a->preset_next + 1) % N_PRESETS;
		if (wb_apply_preset(wb, name, &e))
			app_status(a, ROLE_BAD, "%s", e.msg);
		else
			app_status(a, ROLE_DIM, "preset %s", name);
		return APP_REDRAW;
	}
	case '0': {
		struct prune_plan p;
		prune_plan_init(&p);
		set_plan(a, &p);
		app_status(a, ROLE_DIM, "identity plan: everything kept");
		return APP_REDRAW;
	}
	case '+':
	case '=':
		wb_set_lb(wb, wb->lb + 0.01);
		return APP_REDRAW;
	case '-':
		wb_set_lb(wb, wb->lb - 0.01);
		return APP_REDRAW;
	case ']':
		wb_set_lb(wb, wb->lb + 0.001);
		return APP_REDRAW;
	case '[':
		wb_set_lb(wb, wb->lb - 0.001);
		return APP_REDRAW;
	case 'b':
		a->ref_next = (a->ref_next + 1) % wb_n_published;
		wb->ref_zindi = wb_published[a->ref_next].zindi;
		return APP_REDRAW;
	}
	return APP_OK;
}
