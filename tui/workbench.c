/* workbench — the plan the user sets: knobs, presets, recipes, the
 * projection. See workbench.h. The rest of the workbench is in
 * workbench_*.c (workbench_impl.h lists them). */
#include "workbench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pick.h"
#include "recipe.h"
#include "score.h"

const struct published_result wb_published[] = {
	{"50M", "published-50m", 50480128, 0.4965, 0.4668},
	{"100M", "published-100m", 105493504, 0.5211, 0.4559},
	{"40M", "published-40m", 42087424, 0.5326, 0.5061},
};
const int wb_n_published =
	(int)(sizeof wb_published / sizeof wb_published[0]);

int wb_set_plan(struct workbench *wb, const struct prune_plan *p,
		struct err *e)
{
	struct plan_estimate est;
	struct prune_plan snapped;
	int rc = plan_estimate(p, &wb->src, wb->vocab_count, &est, &snapped, e);
	if (rc)
		return rc;
	prune_plan_free(&wb->plan);
	wb->plan = snapped;
	wb->est = est;
	return 0;
}

int wb_apply_preset(struct workbench *wb, const char *name, struct err *e)
{
	struct prune_plan p;
	int rc = plan_preset(name, &p, e);
	if (rc)
		return rc;
	rc = wb_set_plan(wb, &p, e);
	prune_plan_free(&p);
	return rc;
}

static const char *const knob_label[] = {"vocabulary", "width d",
					 "MLP width f", "layers"};

int wb_set_knob_text(struct workbench *wb, enum wb_knob k, const char *text,
		     struct err *e)
{
	if ((int)k < 0 || k > WB_KNOB_LAYERS)
		return err_set(e, ERR_INVALID, "no such knob");
	/* digits, with optional thousands separators and spaces */
	char digits[32];
	size_t n = 0;
	bool bad = false;
	for (const char *c = text; *c; c++) {
		if (*c >= '0' && *c <= '9') {
			if (n + 1 >= sizeof digits)
				bad = true;
			else
				digits[n++] = *c;
		} else if (*c != ',' && *c != ' ' && *c != '_' && *c != '.') {
			bad = true;
		}
	}
	digits[n] = '\0';
	const char *t = text;
	while (*t == ' ')
		t++;
	bool word_all = !strcmp(t, "all") || !strcmp(t, "max");
	bool word_auto = !*t || !strcmp(t, "auto") || !strcmp(t, "follows d");
	if (k == WB_KNOB_INTER && word_auto)
		return wb_reset_knob(wb, k, e);
	if (word_all && k != WB_KNOB_INTER)
		return wb_reset_knob(wb, k, e);
	if (bad || !n || strlen(digits) > 9)
		return err_set(e, ERR_INVALID,
			       "%s: '%s' is not a number%s", knob_label[k],
			       text,
			       k == WB_KNOB_INTER ? " (or empty: follows d)"
			       : k == WB_KNOB_VOCAB ? " (or 'all')" : "");
	long v = strtol(digits, NULL, 10);
	struct prune_plan p;
	int rc = prune_plan_copy(&p, &wb->plan, e);
	if (rc)
		return rc;
	switch (k) {
	case WB_KNOB_VOCAB:
		if (v >= wb->src.vocab_size) {
			p.vocab_mode = PLAN_VOCAB_NONE;
		} else {
			p.vocab_mode = PLAN_VOCAB_TOP_K;
			p.vocab_keep = (int)v;
		}
		break;
	case WB_KNOB_HIDDEN:
		p.hidden = (int)v;
		p.width_factor = wb->src.hidden_size
					 ? (double)v / wb->src.hidden_size
					 : 1;
		if (p.width_factor > 1)
			p.width_factor = 1;
		if (!(p.width_factor > 0))
			p.width_factor = 1e-9;
		break;
	case WB_KNOB_INTER:
		p.intermediate = (int)v;
		break;
	case WB_KNOB_LAYERS:
		if (p.layer_mode == PLAN_LAYERS_LIST)
			p.layer_mode = PLAN_LAYERS_FIRST;
		p.n_layers = (int)v;
		break;
	}
	rc = wb_set_plan(wb, &p, e);
	prune_plan_free(&p);
	if (rc)
		err_wrap(e, "%s '%s'", knob_label[k], text);
	return rc;
}

int wb_reset_knob(struct workbench *wb, enum wb_knob k, struct err *e)
{
	struct prune_plan p, id;
	int rc = prune_plan_copy(&p, &wb->plan, e);
	if (rc)
		return rc;
	prune_plan_init(&id);
	switch (k) {
	case WB_KNOB_VOCAB:
		p.vocab_mode = PLAN_VOCAB_NONE;
		p.vocab_keep = id.vocab_keep;
		break;
	case WB_KNOB_HIDDEN:
		p.hidden = id.hidden;
		p.width_factor = id.width_factor;
		break;
	case WB_KNOB_INTER:
		p.intermediate = 0; /* follows d */
		break;
	case WB_KNOB_LAYERS:
		p.layer_mode = id.layer_mode;
		p.n_layers = wb->src.n_layers;
		plan_set_layer_list(&p, NULL, 0, NULL);
		break;
	}
	rc = wb_set_plan(wb, &p, e);
	prune_plan_free(&p);
	prune_plan_free(&id);
	return rc;
}

int wb_vocab_step(const struct workbench *wb, int cur, int dir)
{
	int V = wb->src.vocab_size;
	int land = plan_vocab_step(&wb->src, cur, dir);
	/* the grid: a "nice" step near cur / 16 (1, 2 or 5 x 10^k) */
	double raw = cur / 16.0;
	double p10 = 1;
	while (p10 * 10 <= raw)
		p10 *= 10;
	int step = (int)(raw >= 5 * p10 ? 5 * p10 : raw >= 2 * p10 ? 2 * p10
								 : p10);
	if (step < 1)
		step = 1;
	int g = dir > 0 ? (cur / step + 1) * step
			: (cur % step ? cur / step * step : cur - step);
	int lo = plan_vocab_step(&wb->src, 0, +1); /* the floor */
	if (lo > cur)
		lo = cur;
	if (g > V)
		g = V;
	if (g < lo)
		g = lo;
	if (land == cur)
		return g;
	if (g == cur)
		return land;
	return dir > 0 ? (g < land ? g : land) : (g > land ? g : land);
}

const struct wb_quality *wb_layer_scores(const struct workbench *wb)
{
	for (int i = wb->n_quality - 1; i >= 0; i--)
		if (wb->quality[i].has_layer_scores &&
		    wb->quality[i].n_layers == wb->src.n_layers)
			return &wb->quality[i];
	return NULL;
}

int wb_apply_layer_ranking(struct workbench *wb, struct err *e)
{
	const struct wb_quality *q = wb_layer_scores(wb);
	if (!q)
		return err_set(e, ERR_INVALID,
			       "no layer influence measured yet: measure "
			       "quality first");
	int L = q->n_layers, n = wb->est.cfg.n_layers;
	if (n < 1 || n > L || L > 64)
		return err_set(e, ERR_INVALID, "cannot keep %d of %d layers",
			       n, L);
	/* the n highest scores, in source order */
	int list[64];
	int rc = pick_top(q->layer_score, L, n, list, e);
	if (rc)
		return rc;
	struct prune_plan p;
	if ((rc = prune_plan_copy(&p, &wb->plan, e)))
		return rc;
	p.layer_mode = PLAN_LAYERS_LIST;
	p.n_layers = n;
	if (!(rc = plan_set_layer_list(&p, list, n, e)))
		rc = wb_set_plan(wb, &p, e);
	prune_plan_free(&p);
	return rc;
}

int wb_save_recipe(const struct workbench *wb, const char *path,
		   struct err *e)
{
	struct recipe r;
	recipe_init(&r);
	int rc = prune_plan_copy(&r.plan, &wb->plan, e);
	if (!rc) {
		snprintf(r.source_name, sizeof r.source_name, "%s", wb->name);
		recipe_set_counts(&r, &wb->est.cfg);
		rc = recipe_save(&r, path, e);
	}
	recipe_free(&r);
	return rc;
}

int wb_load_recipe(struct workbench *wb, const char *path, struct err *e)
{
	struct recipe r;
	recipe_init(&r);
	int rc = recipe_load(path, &r, e);
	if (!rc)
		rc = wb_set_plan(wb, &r.plan, e);
	recipe_free(&r);
	return rc;
}

double wb_zindi(const struct workbench *wb)
{
	return score_zindi(wb->lb, wb->est.dst.total);
}

double wb_breakeven_lb(const struct workbench *wb)
{
	return score_breakeven_lb(wb->ref_zindi, wb->est.dst.total);
}

double wb_source_zindi(const struct workbench *wb)
{
	return score_zindi(wb->lb, wb->est.src.total);
}

void wb_set_lb(struct workbench *wb, double lb)
{
	wb->lb = lb < 0 ? 0 : lb > 1 ? 1 : lb;
	wb->lb_measured = false;
}

static char *plan_key(const struct prune_plan *p)
{
	struct recipe r;
	recipe_init(&r);
	char *json = NULL;
	struct err e;
	if (prune_plan_copy(&r.plan, p, &e) == 0)
		recipe_to_json(&r, &json, &e);
	recipe_free(&r);
	return json;
}

char *wb_plan_key(const struct workbench *wb)
{
	return plan_key(&wb->plan);
}

bool wb_applied(const struct workbench *wb)
{
	if (!wb->pruned || !wb->applied_key)
		return false;
	char *key = wb_plan_key(wb);
	bool same = key && !strcmp(key, wb->applied_key);
	free(key);
	return same;
}
