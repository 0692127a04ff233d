#include "workbench.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "apply.h"
#include "export.h"
#include "fileio.h"
#include "heal.h"
#include "history.h"
#include "measured.h"
#include "model.h"
#include "recipe.h"
#include "score.h"
#include "tokenizer.h"
#include "vocab.h"
#include "weights.h"

const struct published_result wb_published[] = {
	{"50M", "published-50m", 50480128, 0.4965, 0.4668},
	{"100M", "published-100m", 105493504, 0.5211, 0.4559},
	{"40M", "published-40m", 42087424, 0.5326, 0.5061},
};
const int wb_n_published =
	(int)(sizeof wb_published / sizeof wb_published[0]);

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void preview_free(struct wb_vocab_preview *p);

static struct workbench *wb_alloc(struct err *e)
{
	struct workbench *wb = calloc(1, sizeof *wb);
	if (!wb) {
		err_set(e, ERR_NOMEM, "workbench: out of memory");
		return NULL;
	}
	prune_plan_init(&wb->plan);
	/* Default assumption: the best published LB (the 40M's), so the
	 * projection starts at a figure someone actually reached. */
	wb->lb = 0.5326;
	wb->ref_zindi = 0.5061;
	wb->eval_ctx = 256;
	wb->eval_stride = 128;
	for (int s = 0; s < 2; s++)
		pthread_mutex_init(&wb->gen[s].lock, NULL);
	wb->heal_steps = 20;
	if (heal_monitor_init(&wb->heal_mon, e)) {
		free(wb);
		return NULL;
	}
	return wb;
}

static char *last_part(const char *path)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	size_t s = n;
	while (s > 0 && path[s - 1] != '/')
		s--;
	char *out = malloc(n - s + 1);
	if (out) {
		memcpy(out, path + s, n - s);
		out[n - s] = '\0';
	}
	return out;
}

int wb_open_dir(const char *dir, struct workbench **out, struct err *e)
{
	*out = NULL;
	struct workbench *wb = wb_alloc(e);
	if (!wb)
		return ERR_NOMEM;
	int rc = config_load(dir, &wb->src, e);
	if (rc)
		goto fail;
	if (!(wb->dir = strdup(dir)) || !(wb->name = last_part(dir))) {
		rc = err_set(e, ERR_NOMEM, "workbench: out of memory");
		goto fail;
	}
	struct measured ms;
	bool found = false;
	if (measured_load(dir, &ms, &found, NULL) == 0 && found) {
		wb->lb = ms.lb_tasks; /* definition (a), as the challenge wrote */
		wb->lb_measured = true;
		wb->measured_rows = ms.rows;
	}
	/* the weights' headers now: a damaged file is named at once, not
	 * when the first job fails */
	struct weights *w = NULL;
	struct err we = {0};
	int wrc = weights_open_dir(dir, &w, NULL, &we);
	weights_free(w);
	if (wrc == ERR_NOTFOUND && !strncmp(we.msg, "no weights", 10)) {
		wb->plan_only = true;
		snprintf(wb->plan_only_why, sizeof wb->plan_only_why,
			 "plan-only: '%s' has no weights", dir);
	} else if (wrc) {
		rc = err_set(e, wrc, "%s", we.msg);
		goto fail;
	}
	struct err te = {0};
	if (tok_load(dir, &wb->tok, &te)) {
		wb->tok = NULL;
		snprintf(wb->tok_note, sizeof wb->tok_note, "%s", te.msg);
	}
	if ((rc = wb_set_plan(wb, &wb->plan, e)))
		goto fail;
	*out = wb;
	return 0;
fail:
	wb_free(wb);
	return rc;
}

int wb_open_preset(const char *preset, const char *tokenizer_path,
		   struct workbench **out, struct err *e)
{
	*out = NULL;
	struct workbench *wb = wb_alloc(e);
	if (!wb)
		return ERR_NOMEM;
	int rc = plan_geometry_preset(preset, &wb->src, e);
	if (rc)
		goto fail;
	if (!(wb->name = strdup(preset))) {
		rc = err_set(e, ERR_NOMEM, "workbench: out of memory");
		goto fail;
	}
	wb->plan_only = true;
	snprintf(wb->plan_only_why, sizeof wb->plan_only_why,
		 "plan-only: '%s' is a built-in geometry with no weights",
		 preset);
	if (tokenizer_path) {
		if ((rc = tok_load(tokenizer_path, &wb->tok, e)))
			goto fail;
		if (tok_vocab_size(wb->tok) != wb->src.vocab_size) {
			rc = err_set(e, ERR_INVALID,
				     "tokenizer '%s' has %d pieces, the model %d",
				     tokenizer_path, tok_vocab_size(wb->tok),
				     wb->src.vocab_size);
			goto fail;
		}
	} else {
		snprintf(wb->tok_note, sizeof wb->tok_note,
			 "no tokenizer given (--tokenizer FILE)");
	}
	if ((rc = wb_set_plan(wb, &wb->plan, e)))
		goto fail;
	*out = wb;
	return 0;
fail:
	wb_free(wb);
	return rc;
}

static void free_strings(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int wb_set_inputs(struct workbench *wb, const char *const *corpus, int n,
		  const char *heldout, struct err *e)
{
	if (wb->task_kind != WB_TASK_NONE) /* a task may be reading them */
		return err_set(e, ERR_INVALID, "a task is running");
	char **c = n > 0 ? calloc((size_t)n, sizeof *c) : NULL;
	char *h = heldout ? strdup(heldout) : NULL;
	bool oom = (n > 0 && !c) || (heldout && !h);
	for (int i = 0; i < n && !oom; i++)
		oom = !(c[i] = strdup(corpus[i]));
	if (oom) {
		free_strings(c, n);
		free(h);
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	}
	bool same = n == wb->n_corpus;
	for (int i = 0; same && i < n; i++)
		same = !strcmp(c[i], wb->corpus[i]);
	if (!same) { /* what was counted on the old corpus is stale */
		vocab_counts_free(wb->counts);
		wb->counts = NULL;
		preview_free(wb->preview);
		wb->preview = NULL;
		wb->tpw_source = 0;
		free_strings(wb->samples, wb->n_samples);
		wb->samples = NULL;
		wb->n_samples = 0;
	}
	free_strings(wb->corpus, wb->n_corpus);
	free(wb->heldout);
	wb->corpus = c;
	wb->n_corpus = n;
	wb->heldout = h;
	return 0;
}

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
	bool pick[64] = {0};
	for (int k = 0; k < n; k++) { /* the n highest scores */
		int best = -1;
		for (int i = 0; i < L; i++)
			if (!pick[i] &&
			    (best < 0 || q->layer_score[i] > q->layer_score[best]))
				best = i;
		pick[best] = true;
	}
	int list[64], m = 0;
	for (int i = 0; i < L; i++)
		if (pick[i])
			list[m++] = i;
	struct prune_plan p;
	int rc = prune_plan_copy(&p, &wb->plan, e);
	if (rc)
		return rc;
	p.layer_mode = PLAN_LAYERS_LIST;
	p.n_layers = m;
	if (!(rc = plan_set_layer_list(&p, list, m, e)))
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

int wb_load_model(struct workbench *wb, const struct progress *prog,
		  struct err *e)
{
	if (wb->model)
		return 0;
	if (wb->plan_only)
		return err_set(e, ERR_INVALID, "%s", wb->plan_only_why);
	return model_load(wb->dir, &wb->model, prog, e);
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

/* --- the prepare task ------------------------------------------------ */

/* What a task reads (copied or borrowed at start) and makes. */
struct task_ctx {
	struct workbench *wb;        /* read-only while running */
	struct prune_plan plan;      /* the plan being applied */
	char *key;
	/* results, adopted by wb_poll */
	struct model *model;         /* loaded here (NULL: wb had it) */
	struct vocab_counts *counts; /* counted here (NULL: wb had it) */
	struct vocab_keep *keep;
	struct tokenizer *pruned_tok;
	struct model *pruned;
	char desc[160];
	struct wb_quality q;
	bool have_q;
	/* export */
	char out_dir[1024];
	unsigned formats;
	bool force;
	struct wb_export_result ex;
	/* history (quality, heal): what to record, and why it failed */
	enum wb_task kind;
	uint64_t params;
	bool healed_side;             /* measured the healed model */
	bool hist_failed;
	char hist_error[ERR_MSG_MAX];
	/* heal */
	struct heal_job *hj;
	struct model *healed;         /* loaded back from the heal's OUT */
	bool have_orig_bpb;
	double orig_bpb;
};

static void task_ctx_free(struct task_ctx *t)
{
	if (!t)
		return;
	prune_plan_free(&t->plan);
	free(t->key);
	model_free(t->model);
	vocab_counts_free(t->counts);
	vocab_keep_free(t->keep);
	tok_free(t->pruned_tok);
	model_free(t->pruned);
	free(t->q.plan_key);
	free(t->ex.recipe_json);
	free(t->hj);
	model_free(t->healed);
	free(t);
}

/* Maps a sub-step's progress into [lo, hi] of the whole task. */
struct sub_progress {
	const struct progress *outer;
	double lo, hi;
};

static int sub_report(void *ctx, double done, const char *stage)
{
	struct sub_progress *s = ctx;
	if (!s->outer || !s->outer->fn)
		return 0;
	return s->outer->fn(s->outer->ctx, s->lo + (s->hi - s->lo) * done,
			    stage);
}

/* The corpus files as one id sequence for calibration, each line a
 * document (eval_encode_lines), cut at max_tokens. */
static int encode_corpus(const struct tokenizer *tok, char *const *paths,
			 int n, size_t max_tokens, int **out, size_t *n_out,
			 struct err *e)
{
	int *all = NULL;
	size_t len = 0;
	int rc = 0;
	for (int f = 0; f < n && len < max_tokens && !rc; f++) {
		char *text;
		size_t tl, ni;
		int *ids;
		if ((rc = file_read_all(paths[f], 256u << 20, &text, &tl, e)))
			break;
		rc = eval_encode_lines(tok, text, tl, &ids, &ni, e);
		free(text);
		if (rc)
			break;
		if (ni > max_tokens - len)
			ni = max_tokens - len;
		int *na = realloc(all, (len + ni + 1) * sizeof *na);
		if (!na)
			rc = err_set(e, ERR_NOMEM, "calibration: out of memory");
		else {
			all = na;
			memcpy(all + len, ids, ni * sizeof *ids);
			len += ni;
		}
		free(ids);
	}
	if (rc) {
		free(all);
		return rc;
	}
	*out = all;
	*n_out = len;
	return 0;
}

static bool plan_needs_vocab(const struct prune_plan *p)
{
	return p->vocab_mode != PLAN_VOCAB_NONE;
}

static bool plan_needs_calib(const struct prune_plan *p)
{
	return p->select == PLAN_SELECT_ACTIVATION ||
	       p->layer_mode == PLAN_LAYERS_RANK;
}

/* Makes the pruned copy of t->plan: the body of the prepare task. */
static int do_prepare(struct task_ctx *t, const struct progress *prog,
		      struct err *e)
{
	struct workbench *wb = t->wb;
	const struct model *src = wb->model;
	int rc;
	struct sub_progress sp = {prog, 0, 0.4};
	struct progress sub = {sub_report, &sp};
	if (!src) {
		if ((rc = model_load(wb->dir, &t->model, &sub, e)))
			return rc;
		src = t->model;
	}
	const struct tokenizer *tok = wb->tok;
	struct apply_inputs in = {0};
	if (plan_needs_vocab(&t->plan)) {
		if (!tok)
			return err_set(e, ERR_INVALID,
				       "cannot prune the vocabulary: %s",
				       wb->tok_note);
		if (wb->n_corpus == 0)
			return err_set(e, ERR_INVALID,
				       "cannot prune the vocabulary: no corpus "
				       "to count tokens on");
		const struct vocab_counts *counts = wb->counts;
		if (!counts) {
			sp.lo = 0.4;
			sp.hi = 0.6;
			if ((rc = vocab_count_files(tok,
						    (const char *const *)wb->corpus,
						    (size_t)wb->n_corpus, NULL,
						    &t->counts, &sub, e)))
				return rc;
			counts = t->counts;
		}
		if (t->plan.vocab_mode == PLAN_VOCAB_TOP_K)
			rc = vocab_keep_top_k(tok, counts, t->plan.vocab_keep,
					      t->plan.merge_closure, &t->keep, e);
		else if (t->plan.vocab_mode == PLAN_VOCAB_MIN_COUNT)
			rc = vocab_keep_min_count(tok, counts,
						  (uint64_t)t->plan.vocab_min_count,
						  t->plan.merge_closure, &t->keep,
						  e);
		else
			rc = err_set(e, ERR_UNSUPPORTED,
				     "the explorer applies top-K and min-count "
				     "vocabularies; use 'punguza prune' for a list");
		if (rc || (rc = vocab_rewrite(tok, t->keep, &t->pruned_tok, e)))
			return rc;
		in.vocab_keep = t->keep->keep;
		in.n_vocab_keep = t->keep->n_keep;
		in.vocab_tok = t->pruned_tok;
	}
	int *calib = NULL;
	size_t n_calib = 0;
	if (plan_needs_calib(&t->plan)) {
		if (!tok || wb->n_corpus == 0)
			return err_set(e, ERR_INVALID,
				       "activation selection and layer ranking "
				       "need a tokenizer and calibration text");
		if ((rc = encode_corpus(tok, wb->corpus, wb->n_corpus, 16384,
					&calib, &n_calib, e)))
			return rc;
		in.calib = calib;
		in.n_calib = n_calib;
	}
	sp.lo = 0.6;
	sp.hi = 1.0;
	struct apply_report rep;
	struct tokenizer *out_tok = NULL;
	rc = prune_apply(src, tok, &t->plan, &in, &t->pruned, &out_tok, &rep,
			 &sub, e);
	free(calib);
	if (rc)
		return rc;
	if (out_tok) { /* apply made its own tokenizer: prefer it */
		tok_free(t->pruned_tok);
		t->pruned_tok = out_tok;
	}
	snprintf(t->desc, sizeof t->desc, "%s; %d layers kept",
		 rep.select_desc, rep.n_layers_kept);
	return 0;
}

static int prepare_fn(void *arg, const struct progress *prog, struct err *e)
{
	return do_prepare(arg, prog, e);
}

static int task_begin(struct workbench *wb, enum wb_task kind,
		      struct task_ctx **out, struct err *e)
{
	if (wb->plan_only)
		return err_set(e, ERR_INVALID, "%s", wb->plan_only_why);
	if (wb->task_kind != WB_TASK_NONE)
		return err_set(e, ERR_INVALID, "another task is running");
	struct task_ctx *t = calloc(1, sizeof *t);
	if (!t)
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	t->wb = wb;
	if (prune_plan_copy(&t->plan, &wb->plan, e) ||
	    !(t->key = wb_plan_key(wb))) {
		task_ctx_free(t);
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	}
	t->kind = kind;
	t->params = wb->est.dst.total;
	t->healed_side = wb_healed(wb);
	*out = t;
	return 0;
}

static int task_launch(struct workbench *wb, enum wb_task kind,
		       struct task_ctx *t, job_fn fn, struct err *e)
{
	int rc = job_start(&wb->task, fn, t, e);
	if (rc) {
		task_ctx_free(t);
		return rc;
	}
	wb->task_kind = kind;
	wb->task_result = t;
	wb->task_error[0] = '\0';
	wb->last_kind = kind;
	wb->last_state = WB_JOB_RUNNING;
	wb->t_task_start = now_s();
	wb->t_task_end = 0;
	return 0;
}

int wb_start_prepare(struct workbench *wb, struct err *e)
{
	if (wb_applied(wb))
		return 0;
	struct task_ctx *t;
	int rc = task_begin(wb, WB_TASK_PREPARE, &t, e);
	if (rc)
		return rc;
	return task_launch(wb, WB_TASK_PREPARE, t, prepare_fn, e);
}

/* --- quality ---------------------------------------------------------- */

static double count_words(const char *s, size_t n)
{
	double w = 0;
	bool in = false;
	for (size_t i = 0; i < n; i++) {
		bool sp = s[i] == ' ' || s[i] == '\n' || s[i] == '\t' ||
			  s[i] == '\r';
		if (!sp && !in)
			w++;
		in = !sp;
	}
	return w;
}

/* Encodes a held-out file as eval_encode_lines does: a document per line
 * (BOS, line, EOS), the protocol the model card reports. */
static int encode_file_lines(const struct tokenizer *tok, const char *path,
			     int **ids, size_t *n, uint64_t *bytes,
			     double *words, struct err *e)
{
	char *text;
	size_t tl;
	int rc = file_read_all(path, 256u << 20, &text, &tl, e);
	if (rc)
		return rc;
	*bytes = tl;
	*words = count_words(text, tl);
	rc = eval_encode_lines(tok, text, tl, ids, n, e);
	free(text);
	return rc;
}

/* Records x's figures for the task's plan in the source's history
 * (history.h). A failure is remembered for the screen, never fatal: the
 * measurement stands. */
static void task_note(struct task_ctx *t, struct history_entry *x)
{
	struct workbench *wb = t->wb;
	if (!wb->dir)
		return;
	struct err he = {0};
	recipe_init(&x->recipe);
	x->params = t->params;
	if (prune_plan_copy(&x->recipe.plan, &t->plan, &he) ||
	    history_note(wb->dir, x, &he)) {
		t->hist_failed = true;
		snprintf(t->hist_error, sizeof t->hist_error, "%s", he.msg);
	}
	recipe_free(&x->recipe);
}

static int quality_fn(void *arg, const struct progress *prog, struct err *e)
{
	struct task_ctx *t = arg;
	struct workbench *wb = t->wb;
	int rc;
	/* wb_start_quality checked the plan is applied; wb->plan itself may
	 * change under us (the user keeps turning knobs), so it is not read
	 * here. */
	if (!wb->tok)
		return err_set(e, ERR_INVALID, "quality needs a tokenizer");
	const struct tokenizer *ptok = wb->pruned_tok ? wb->pruned_tok
						      : wb->tok;
	/* KL and top-1 compare distributions over the same ids: valid when
	 * the vocabulary is unchanged, whatever the plan's vocabulary mode
	 * says (a top-K of all V keeps every id in place) */
	t->q.has_kl = !wb->pruned_tok ||
		      wb->pruned->cfg.vocab_size == wb->model->cfg.vocab_size;
	int *ids = NULL, *pids = NULL;
	size_t n = 0, pn = 0;
	uint64_t bytes;
	double words;
	if ((rc = encode_file_lines(wb->tok, wb->heldout, &ids, &n, &bytes,
				    &words, e)))
		goto done;
	/* the pruned side needs its own ids only when its vocabulary differs */
	if (!t->q.has_kl && ptok != wb->tok &&
	    (rc = encode_file_lines(ptok, wb->heldout, &pids, &pn, &bytes,
				    &words, e)))
		goto done;
	struct eval_opts o;
	eval_defaults(&o);
	o.ctx = wb->eval_ctx;
	o.stride = wb->eval_stride;
	o.text_bytes = bytes;
	struct sub_progress sp = {prog, 0, 0.45};
	struct progress sub = {sub_report, &sp};
	o.prog = &sub;
	if ((rc = eval_run(wb->model, NULL, ids, n, &o, &t->q.orig, e)))
		goto done;
	sp.lo = 0.45;
	sp.hi = 0.9;
	if ((rc = eval_run(wb->pruned, t->q.has_kl ? wb->model : NULL,
			   pids ? pids : ids, pids ? pn : n, &o, &t->q.pruned,
			   e)))
		goto done;
	t->q.words = words;
	/* Per-layer influence: ranking all L layers computes every score. */
	if (wb->n_corpus > 0) {
		int *calib = NULL;
		size_t nc = 0;
		if ((rc = encode_corpus(wb->tok, wb->corpus, wb->n_corpus, 4096,
					&calib, &nc, e)))
			goto done;
		struct prune_plan rank;
		prune_plan_init(&rank);
		rank.layer_mode = PLAN_LAYERS_RANK;
		rank.n_layers = wb->src.n_layers;
		struct apply_inputs in = {.calib = calib, .n_calib = nc};
		struct prune_index ix;
		struct apply_report rep;
		sp.lo = 0.9;
		sp.hi = 1.0;
		rc = prune_select(wb->model, &rank, &in, &ix, &rep, &sub, e);
		free(calib);
		prune_plan_free(&rank);
		if (rc)
			goto done;
		t->q.n_layers = rep.n_layer_scores;
		for (int i = 0; i < rep.n_layer_scores && i < 64; i++)
			t->q.layer_score[i] = rep.layer_score[i];
		t->q.has_layer_scores = rep.ranked;
		prune_index_free(&ix);
	}
	t->q.healed = t->healed_side;
	t->have_q = true;
	struct history_entry x;
	memset(&x, 0, sizeof x);
	if (t->healed_side) {
		x.have_healed = true;
		x.bpb_healed = t->q.pruned.bpb;
		x.have_healed_ref = t->q.has_kl;
		x.kl_healed = t->q.pruned.kl_mean;
		x.top1_healed = t->q.pruned.top1;
		x.heal_tokens = wb->healed_tokens;
		x.heal_seconds = wb->healed_seconds;
	} else {
		x.have_cut = true;
		x.bpb_src = t->q.orig.bpb;
		x.bpb_cut = t->q.pruned.bpb;
		x.have_cut_ref = t->q.has_kl;
		x.kl_cut = t->q.pruned.kl_mean;
		x.top1_cut = t->q.pruned.top1;
	}
	task_note(t, &x);
done:
	free(ids);
	free(pids);
	return rc;
}

/* Quality results are remembered per plan and held-out text. */
static char *quality_key(const char *plan_key, const char *heldout,
			 bool healed)
{
	size_t a = strlen(plan_key), b = heldout ? strlen(heldout) : 0;
	char *k = malloc(a + b + 10);
	if (k) {
		memcpy(k, plan_key, a);
		k[a] = '\n';
		memcpy(k + a + 1, heldout ? heldout : "", b);
		strcpy(k + a + b + 1, healed ? "\nhealed" : "");
	}
	return k;
}

int wb_start_quality(struct workbench *wb, struct err *e)
{
	if (!wb_applied(wb))
		return err_set(e, ERR_INVALID, "apply the plan first");
	if (!wb->heldout)
		return err_set(e, ERR_INVALID, "no held-out text to measure on");
	struct task_ctx *t;
	int rc = task_begin(wb, WB_TASK_QUALITY, &t, e);
	if (rc)
		return rc;
	char *k = quality_key(t->key, wb->heldout, t->healed_side);
	if (!k) {
		task_ctx_free(t);
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	}
	free(t->key);
	t->key = k;
	return task_launch(wb, WB_TASK_QUALITY, t, quality_fn, e);
}

static int count_fn(void *arg, const struct progress *prog, struct err *e)
{
	struct task_ctx *t = arg;
	struct workbench *wb = t->wb;
	return vocab_count_files(wb->tok, (const char *const *)wb->corpus,
				 (size_t)wb->n_corpus, NULL, &t->counts, prog,
				 e);
}

int wb_start_count(struct workbench *wb, struct err *e)
{
	if (wb->counts)
		return 0;
	if (!wb->tok)
		return err_set(e, ERR_INVALID, "no tokenizer: %s", wb->tok_note);
	if (wb->n_corpus == 0)
		return err_set(e, ERR_INVALID, "no corpus to count");
	if (wb->task_kind != WB_TASK_NONE)
		return err_set(e, ERR_INVALID, "another task is running");
	struct task_ctx *t = calloc(1, sizeof *t);
	if (!t)
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	t->wb = wb;
	return task_launch(wb, WB_TASK_COUNT, t, count_fn, e);
}

static int export_fn(void *arg, const struct progress *prog, struct err *e)
{
	struct task_ctx *t = arg;
	struct workbench *wb = t->wb;
	struct recipe r;
	recipe_init(&r);
	int rc = prune_plan_copy(&r.plan, &t->plan, e);
	if (rc)
		goto done;
	snprintf(r.source_name, sizeof r.source_name, "%s", wb->name);
	struct sub_progress sp = {prog, 0, 0.3};
	struct progress sub = {sub_report, &sp};
	if ((rc = export_source_checksum(wb->model, r.source_checksum,
					 sizeof r.source_checksum, &sub, e)))
		goto done;
	recipe_set_counts(&r, &wb->pruned->cfg);
	r.formats = t->formats;
	/* the kept pieces: `prune --recipe` then needs no corpus */
	if (wb->pruned_tok && wb->keep &&
	    (rc = recipe_set_kept(&r, wb->keep->keep, wb->keep->n_keep, e)))
		goto done;
	struct export_opts o = {
		.src_dir = wb->dir,
		.out_dir = t->out_dir,
		.formats = t->formats,
		.dtype = t->plan.export_dtype,
		.force = t->force,
		.recipe = &r,
		.tok = wb->pruned_tok ? wb->pruned_tok : wb->tok,
		.src_tok = wb->pruned_tok ? wb->tok : NULL,
		.keep = wb->pruned_tok ? wb->keep : NULL,
		.name = wb->name,
	};
	sp.lo = 0.3;
	sp.hi = 1.0;
	if ((rc = export_model(wb->pruned, &o, &sub, e)) ||
	    (rc = recipe_to_json(&r, &t->ex.recipe_json, e)))
		goto done;
	if (recipe_plan_args(&t->plan, t->ex.args, sizeof t->ex.args, NULL))
		t->ex.args[0] = '\0';
	/* counting and calibration read the corpus: the command needs it */
	if (t->ex.args[0] &&
	    (plan_needs_vocab(&t->plan) || plan_needs_calib(&t->plan)))
		for (int i = 0; i < wb->n_corpus; i++) {
			size_t l = strlen(t->ex.args);
			int n = snprintf(t->ex.args + l, sizeof t->ex.args - l,
					 " --corpus %s", wb->corpus[i]);
			if (n < 0 || (size_t)n >= sizeof t->ex.args - l) {
				t->ex.args[0] = '\0'; /* too long: --recipe */
				break;
			}
		}
	/* list what was written, for the screen */
	snprintf(t->ex.out_dir, sizeof t->ex.out_dir, "%s", t->out_dir);
	DIR *d = opendir(t->out_dir);
	struct dirent *de;
	while (d && (de = readdir(d)) && t->ex.n_files < 16) {
		if (de->d_name[0] == '.')
			continue;
		char path[2048];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", t->out_dir, de->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		int i = t->ex.n_files++;
		snprintf(t->ex.files[i], sizeof t->ex.files[i], "%s", de->d_name);
		t->ex.sizes[i] = (uint64_t)st.st_size;
	}
	if (d)
		closedir(d);
	/* readdir's order is the file system's: sort by name for the screen */
	for (int i = 1; i < t->ex.n_files; i++)
		for (int j = i; j > 0 && strcmp(t->ex.files[j - 1],
						t->ex.files[j]) > 0;
		     j--) {
			char tmp[256];
			uint64_t sz = t->ex.sizes[j];
			memcpy(tmp, t->ex.files[j], sizeof tmp);
			memcpy(t->ex.files[j], t->ex.files[j - 1], sizeof tmp);
			memcpy(t->ex.files[j - 1], tmp, sizeof tmp);
			t->ex.sizes[j] = t->ex.sizes[j - 1];
			t->ex.sizes[j - 1] = sz;
		}
	t->ex.done = true;
done:
	recipe_free(&r);
	return rc;
}

/* The files an export writes (export.h): a folder holding only these and
 * a punguza.json is a previous export, which may be replaced. */
static const char *const export_files[] = {
	"config.json",		"model.safetensors",	   "model.gguf",
	"generation_config.json", "tokenizer.json",	   "tokenizer.model",
	"tokenizer_config.json",	"special_tokens_map.json", "vocab_map.json",
	"vulavulaslm.py",		"punguza.json",
};

static bool is_export_file(const char *name)
{
	for (size_t i = 0; i < sizeof export_files / sizeof export_files[0];
	     i++)
		if (!strcmp(name, export_files[i]))
			return true;
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* Resolved path of p, or of its parent + last part when p does not exist
 * (so a folder about to be made can be compared). */
static bool resolve(const char *p, char *out)
{
	if (realpath(p, out))
		return true;
	char par[PATH_MAX];
	snprintf(par, sizeof par, "%s", p);
	char *sl = strrchr(par, '/');
	const char *last = sl ? sl + 1 : par;
	char rp[PATH_MAX];
	if (sl == par)
		snprintf(rp, sizeof rp, "/");
	else if (!realpath(sl ? (*sl = '\0', par) : ".", rp))
		return false;
	size_t n = strlen(rp);
	return snprintf(out, PATH_MAX, "%s%s%s", rp,
			n && rp[n - 1] == '/' ? "" : "/", last) < PATH_MAX;
}

/* a is b or inside b (both resolved) */
static bool path_under(const char *a, const char *b)
{
	size_t n = strlen(b);
	return !strncmp(a, b, n) && (a[n] == '\0' || a[n] == '/' ||
				     (n == 1 && b[0] == '/'));
}

void wb_default_export_dir(const struct workbench *wb, char *buf, size_t cap)
{
	const char *home = getenv("HOME");
	uint64_t p = wb->est.dst.total;
	char size[32];
	if (p >= 1000000000ull)
		snprintf(size, sizeof size, "%.2fB", (double)p / 1e9);
	else if (p >= 1000000ull)
		snprintf(size, sizeof size, "%.1fM", (double)p / 1e6);
	else
		snprintf(size, sizeof size, "%.0fk", (double)p / 1e3);
	snprintf(buf, cap, "%s%spunguza-exports/%s-%s",
		 home && *home ? home : "", home && *home ? "/" : "", wb->name,
		 size);
}

/* The parent folder of path (without trailing slashes), "." for none. */
static void parent_of(const char *path, char *out, size_t cap)
{
	snprintf(out, cap, "%s", path);
	size_t n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	char *sl = strrchr(out, '/');
	if (!sl)
		snprintf(out, cap, ".");
	else if (sl == out)
		out[1] = '\0';
	else
		*sl = '\0';
}

int wb_export_inspect(const struct workbench *wb, const char *out_dir,
		      struct wb_export_target *t, struct err *e)
{
	memset(t, 0, sizeof *t);
	if (!out_dir || !*out_dir) {
		t->kind = WB_TARGET_REFUSED;
		snprintf(t->why, sizeof t->why, "no export folder given");
		return 0;
	}
	char rout[PATH_MAX], rsrc[PATH_MAX];
	if (wb->dir && realpath(wb->dir, rsrc) && resolve(out_dir, rout) &&
	    path_under(rsrc, rout)) {
		t->kind = WB_TARGET_REFUSED;
		snprintf(t->why, sizeof t->why,
			 "'%s' is or holds the source folder '%s': the source "
			 "is never written; choose another folder",
			 out_dir, wb->dir);
		return 0;
	}
	struct stat st;
	if (stat(out_dir, &st) != 0) {
		if (errno != ENOENT)
			return err_errno(e, ERR_IO, "cannot look at '%s'",
					 out_dir);
		char par[PATH_MAX], def[PATH_MAX];
		parent_of(out_dir, par, sizeof par);
		if (path_is_dir(par)) {
			t->kind = WB_TARGET_NEW;
			return 0;
		}
		wb_default_export_dir(wb, def, sizeof def);
		char gp[PATH_MAX];
		parent_of(par, gp, sizeof gp);
		if (!strcmp(out_dir, def) && path_is_dir(gp)) {
			t->kind = WB_TARGET_NEW; /* the export makes it */
			t->create_parent = true;
			return 0;
		}
		t->kind = WB_TARGET_REFUSED;
		snprintf(t->why, sizeof t->why,
			 path_exists(par) ? "'%s' is not a folder"
					  : "folder '%s' does not exist: "
					    "create it first or choose another",
			 par);
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		t->kind = WB_TARGET_REFUSED;
		snprintf(t->why, sizeof t->why,
			 "'%s' is a file, not a folder: choose another name",
			 out_dir);
		return 0;
	}
	DIR *d = opendir(out_dir);
	if (!d)
		return err_errno(e, ERR_IO, "cannot read folder '%s'", out_dir);
	char foreign[WB_TARGET_LIST][64];
	int n_foreign = 0;
	bool has_recipe = false;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *nm = de->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		t->n_entries++;
		char path[PATH_MAX];
		struct stat es;
		bool file = snprintf(path, sizeof path, "%s/%s", out_dir, nm) <
				    (int)sizeof path &&
			    lstat(path, &es) == 0 && S_ISREG(es.st_mode);
		if (file && is_export_file(nm)) {
			has_recipe |= !strcmp(nm, "punguza.json");
			if (t->n_listed < WB_TARGET_LIST)
				snprintf(t->entries[t->n_listed++], 64, "%.62s",
					 nm);
		} else if (n_foreign < WB_TARGET_LIST) {
			snprintf(foreign[n_foreign++], 64, "%.61s%s", nm,
				 !file && S_ISDIR(es.st_mode) ? "/" : "");
		} else {
			n_foreign++;
		}
	}
	closedir(d);
	if (t->n_entries == 0) {
		t->kind = WB_TARGET_EMPTY;
		return 0;
	}
	if (!n_foreign && has_recipe) {
		t->kind = WB_TARGET_EXPORT;
		qsort(t->entries, (size_t)t->n_listed, sizeof t->entries[0],
		      cmp_str);
		return 0;
	}
	t->kind = WB_TARGET_FOREIGN;
	int shown = n_foreign < WB_TARGET_LIST ? n_foreign : WB_TARGET_LIST;
	qsort(foreign, (size_t)shown, sizeof foreign[0], cmp_str);
	t->n_listed = shown;
	memcpy(t->entries, foreign, sizeof foreign);
	char list[256] = "";
	for (int i = 0; i < shown && i < 4; i++) {
		size_t l = strlen(list);
		snprintf(list + l, sizeof list - l, "%s%.60s", i ? ", " : "",
			 foreign[i]);
	}
	if (!n_foreign) {
		snprintf(t->why, sizeof t->why,
			 "'%s' is not empty and has no punguza.json (not a "
			 "punguza export): choose an empty or new folder",
			 out_dir);
	} else {
		snprintf(t->why, sizeof t->why,
			 "'%s' holds %s%s, not written by punguza: it is never "
			 "replaced; choose an empty or new folder",
			 out_dir, list, n_foreign > 4 ? ", ..." : "");
	}
	return 0;
}

int wb_start_export(struct workbench *wb, const char *out_dir,
		    unsigned formats, bool replace, struct err *e)
{
	/* a new attempt: the last result no longer describes it */
	if (wb->task_kind == WB_TASK_NONE) {
		free(wb->exported.recipe_json);
		memset(&wb->exported, 0, sizeof wb->exported);
	}
	if (!(formats & (EXPORT_HF | EXPORT_GGUF)))
		return err_set(e, ERR_INVALID,
			       "no format chosen: choose Hugging Face or GGUF "
			       "(or both)");
	if (wb->task_kind != WB_TASK_NONE)
		return err_set(e, ERR_INVALID, "another task is running");
	struct wb_export_target tg;
	int rc = wb_export_inspect(wb, out_dir, &tg, e);
	if (rc)
		return rc;
	switch (tg.kind) {
	case WB_TARGET_NEW:
	case WB_TARGET_EMPTY:
		break;
	case WB_TARGET_EXPORT:
		if (!replace)
			return err_set(e, ERR_INVALID,
				       "'%s' holds a previous export: confirm "
				       "replacing it",
				       out_dir);
		break;
	case WB_TARGET_FOREIGN:
	case WB_TARGET_REFUSED:
		return err_set(e, ERR_INVALID, "%s", tg.why);
	}
	if (!wb_applied(wb))
		return err_set(e, ERR_INVALID, "apply the plan first");
	if (tg.create_parent) {
		char par[PATH_MAX];
		parent_of(out_dir, par, sizeof par);
		if (mkdir(par, 0777) != 0 && errno != EEXIST)
			return err_errno(e, ERR_IO, "cannot create folder '%s'",
					 par);
	}
	struct task_ctx *t;
	if ((rc = task_begin(wb, WB_TASK_EXPORT, &t, e)))
		return rc;
	snprintf(t->out_dir, sizeof t->out_dir, "%s", out_dir);
	t->formats = formats;
	t->force = tg.kind == WB_TARGET_EXPORT;
	return task_launch(wb, WB_TASK_EXPORT, t, export_fn, e);
}

enum wb_task wb_task_status(struct workbench *wb, double *done, char *stage,
			    int cap)
{
	if (wb->task_kind == WB_TASK_NONE)
		return WB_TASK_NONE;
	job_poll(&wb->task, done, stage, cap);
	return wb->task_kind;
}

const char *wb_task_name(enum wb_task kind)
{
	switch (kind) {
	case WB_TASK_PREPARE: return "apply";
	case WB_TASK_QUALITY: return "measure";
	case WB_TASK_COUNT: return "count";
	case WB_TASK_EXPORT: return "export";
	case WB_TASK_HEAL: return "heal";
	case WB_TASK_NONE: break;
	}
	return "job";
}

void wb_job_info(struct workbench *wb, struct wb_job_info *out)
{
	memset(out, 0, sizeof *out);
	out->kind = wb->last_kind;
	out->state = wb->last_state;
	out->eta = -1;
	if (wb->last_state == WB_JOB_NONE)
		return;
	if (wb->task_kind != WB_TASK_NONE) {
		job_poll(&wb->task, &out->done, out->stage, sizeof out->stage);
		out->state = WB_JOB_RUNNING;
		out->elapsed = now_s() - wb->t_task_start;
		/* a straight-line estimate, once there is something to go by */
		if (out->done >= 0.02 && out->done < 1 && out->elapsed >= 0.5)
			out->eta = out->elapsed * (1 - out->done) / out->done;
		return;
	}
	out->elapsed = wb->t_task_end - wb->t_task_start;
	if (wb->last_state == WB_JOB_FAILED)
		out->error = wb->task_error;
}

void wb_cancel_task(struct workbench *wb)
{
	if (wb->task_kind != WB_TASK_NONE)
		job_cancel(&wb->task);
}

static void adopt(struct workbench *wb, struct task_ctx *t)
{
	if (t->model) {
		wb->model = t->model;
		t->model = NULL;
	}
	if (t->counts && !wb->counts) {
		wb->counts = t->counts;
		t->counts = NULL;
	}
	if (t->pruned) {
		/* generations may be reading the old copy: stop them first */
		wb_gen_stop(wb, WB_PRUNED);
		model_free(wb->pruned);
		model_free(wb->cut);
		wb->cut = NULL;
		free(wb->healed_key);
		wb->healed_key = NULL;
		tok_free(wb->pruned_tok);
		vocab_keep_free(wb->keep);
		free(wb->applied_key);
		wb->pruned = t->pruned;
		wb->pruned_tok = t->pruned_tok;
		wb->keep = t->keep;
		wb->applied_key = t->key;
		t->pruned = NULL;
		t->pruned_tok = NULL;
		t->keep = NULL;
		t->key = NULL;
		snprintf(wb->apply_desc, sizeof wb->apply_desc, "%s", t->desc);
	}
	if (t->healed && wb->applied_key && !strcmp(t->key, wb->applied_key)) {
		/* the healed model becomes the pruned side; the cut stays */
		wb_gen_stop(wb, WB_PRUNED);
		if (wb->cut)
			model_free(wb->pruned);
		else
			wb->cut = wb->pruned;
		wb->pruned = t->healed;
		t->healed = NULL;
		free(wb->healed_key);
		wb->healed_key = strdup(wb->applied_key);
		wb->healed_tokens = t->hj->result.tokens;
		wb->healed_seconds = t->hj->result.elapsed;
	}
	if (t->ex.done) {
		free(wb->exported.recipe_json);
		wb->exported = t->ex;
		t->ex.recipe_json = NULL;
	}
	if (t->have_q) {
		struct wb_quality *nq = realloc(
			wb->quality, (size_t)(wb->n_quality + 1) * sizeof *nq);
		if (nq) {
			wb->quality = nq;
			t->q.plan_key = t->key;
			t->key = NULL;
			wb->quality[wb->n_quality++] = t->q;
			t->q.plan_key = NULL;
		}
	}
}

bool wb_poll(struct workbench *wb)
{
	bool changed = false;
	if (wb->task_kind != WB_TASK_NONE &&
	    job_poll(&wb->task, NULL, NULL, 0) == JOB_DONE) {
		struct err e = {0};
		int rc = job_wait(&wb->task, &e);
		struct task_ctx *t = wb->task_result;
		wb->t_task_end = now_s();
		if (rc == ERR_CANCELLED || (rc && e.code == ERR_CANCELLED)) {
			wb->last_state = WB_JOB_CANCELLED;
		} else if (rc) {
			wb->last_state = WB_JOB_FAILED;
			snprintf(wb->task_error, sizeof wb->task_error, "%s",
				 e.msg);
		} else {
			wb->last_state = WB_JOB_DONE;
			adopt(wb, t);
		}
		if (t->have_orig_bpb) {
			wb->have_heal_orig = true;
			wb->heal_orig_bpb = t->orig_bpb;
		}
		if (t->kind == WB_TASK_QUALITY || t->kind == WB_TASK_HEAL) {
			wb->history_gen++;
			wb->history_failed = t->hist_failed;
			snprintf(wb->history_error, sizeof wb->history_error,
				 "%s", t->hist_error);
		}
		task_ctx_free(t);
		wb->task_result = NULL;
		wb->task_kind = WB_TASK_NONE;
		changed = true;
	}
	for (int s = 0; s < 2; s++) {
		struct wb_gen *g = &wb->gen[s];
		if (job_poll(&g->job, NULL, NULL, 0) == JOB_RUNNING)
			changed = true; /* streaming text: keep redrawing */
		else if (job_poll(&g->job, NULL, NULL, 0) == JOB_DONE) {
			struct err e = {0};
			if (job_wait(&g->job, &e) && e.code != ERR_CANCELLED) {
				pthread_mutex_lock(&g->lock);
				snprintf(g->error, sizeof g->error, "%s", e.msg);
				pthread_mutex_unlock(&g->lock);
			}
			changed = true;
		}
	}
	return changed;
}

const struct wb_quality *wb_quality_current(const struct workbench *wb)
{
	char *pk = wb_plan_key(wb);
	char *key = pk ? quality_key(pk, wb->heldout, wb_healed(wb)) : NULL;
	free(pk);
	const struct wb_quality *found = NULL;
	for (int i = wb->n_quality - 1; key && i >= 0 && !found; i--)
		if (!strcmp(wb->quality[i].plan_key, key))
			found = &wb->quality[i];
	free(key);
	return found;
}

/* --- healing ----------------------------------------------------------- */

bool wb_healed(const struct workbench *wb)
{
	return wb->healed_key && wb->applied_key &&
	       !strcmp(wb->healed_key, wb->applied_key);
}

void wb_heal_dir(const struct workbench *wb, char *buf, size_t cap)
{
	char base[900];
	wb_default_export_dir(wb, base, sizeof base);
	char *k = wb_plan_key(wb);
	uint32_t h = 2166136261u; /* FNV-1a 32 of the plan */
	for (const char *c = k ? k : ""; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	free(k);
	snprintf(buf, cap, "%s-heal-%08x", base, (unsigned)h);
}

void wb_set_heal_budget(struct workbench *wb, uint64_t steps, double minutes)
{
	wb->heal_steps = steps;
	wb->heal_minutes = minutes > 0 ? minutes : 0;
}

/* Reads dir/heal_state.json's "done": 1 finished, 0 resumable, -1 none. */
static int heal_state(const char *dir)
{
	char path[1100], *text;
	size_t n;
	struct err e = {0};
	snprintf(path, sizeof path, "%s/heal_state.json", dir);
	if (file_read_all(path, 1u << 20, &text, &n, &e))
		return -1;
	int st = strstr(text, "\"done\": true") || strstr(text, "\"done\":true")
			 ? 1
			 : 0;
	free(text);
	return st;
}

static int heal_fn(void *arg, const struct progress *prog, struct err *e)
{
	struct task_ctx *t = arg;
	struct workbench *wb = t->wb;
	int rc;
	/* the original's held-out bits per byte, for the chart's line */
	if (wb->heldout && wb->tok) {
		int *ids = NULL;
		size_t n = 0;
		uint64_t bytes;
		double words;
		struct eval_opts o;
		eval_defaults(&o);
		o.ctx = wb->eval_ctx;
		o.stride = wb->eval_stride;
		struct eval_result r;
		if ((rc = encode_file_lines(wb->tok, wb->heldout, &ids, &n,
					    &bytes, &words, e)))
			return rc;
		o.text_bytes = bytes;
		o.prog = prog;
		rc = eval_run(wb->model, NULL, ids, n, &o, &r, e);
		free(ids);
		if (rc)
			return rc;
		t->have_orig_bpb = true;
		t->orig_bpb = r.bpb;
	}
	rc = heal_job_fn(t->hj, prog, e);
	/* the cut's figures: the heal's step-0 evaluation, stopped or not */
	struct heal_snapshot *snap = malloc(sizeof *snap);
	if (snap) {
		heal_monitor_snapshot(t->hj->opts.monitor, snap);
		if (t->have_orig_bpb && snap->n_evals > 0 &&
		    snap->evals[0].step == 0) {
			struct history_entry x;
			memset(&x, 0, sizeof x);
			x.have_cut = true;
			x.bpb_src = t->orig_bpb;
			x.bpb_cut = snap->evals[0].bpb;
			x.have_cut_ref = snap->evals[0].has_ref;
			x.kl_cut = snap->evals[0].kl;
			x.top1_cut = snap->evals[0].top1;
			task_note(t, &x);
		}
		free(snap);
	}
	if (rc)
		return rc;
	if ((rc = model_load(t->hj->opts.out_dir, &t->healed, NULL, e)))
		return rc;
	const struct heal_result *r = &t->hj->result;
	if (r->have_after) {
		struct history_entry x;
		memset(&x, 0, sizeof x);
		x.have_healed = true;
		x.bpb_healed = r->after.bpb;
		x.have_healed_ref = r->after.has_ref;
		x.kl_healed = r->after.kl;
		x.top1_healed = r->after.top1;
		x.heal_tokens = r->tokens;
		x.heal_seconds = r->elapsed;
		task_note(t, &x);
	}
	return 0;
}

int wb_start_heal(struct workbench *wb, bool resume, struct err *e)
{
	if (!wb_applied(wb))
		return err_set(e, ERR_INVALID, "apply the plan first");
	if (!wb->model)
		return err_set(e, ERR_INVALID, "heal needs the source's weights");
	if (!resume && wb->heal_steps == 0 && wb->heal_minutes <= 0)
		return err_set(e, ERR_INVALID, "heal: give a budget");
	char dir[1024];
	wb_heal_dir(wb, dir, sizeof dir);
	if (resume && heal_state(dir) != 0)
		return err_set(e, ERR_INVALID,
			       "'%s' holds no unfinished heal to resume", dir);
	struct task_ctx *t;
	int rc = task_begin(wb, WB_TASK_HEAL, &t, e);
	if (rc)
		return rc;
	if (!(t->hj = calloc(1, sizeof *t->hj))) {
		task_ctx_free(t);
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	}
	/* the parent folder (punguza-exports) is made when missing */
	char parent[1024];
	snprintf(parent, sizeof parent, "%s", dir);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir(parent, 0777) && errno != EEXIST) {
			task_ctx_free(t);
			return err_errno(e, ERR_IO, "cannot create '%s'", parent);
		}
	}
	snprintf(wb->heal_dir, sizeof wb->heal_dir, "%s", dir);
	struct heal_opts *o = &t->hj->opts;
	heal_defaults(o);
	if (wb->heal_minutes > 0)
		o->minutes = wb->heal_minutes;
	else
		o->hp.steps = wb->heal_steps;
	o->student = wb->cut ? wb->cut : wb->pruned;
	o->student_tok = wb->pruned_tok ? wb->pruned_tok : wb->tok;
	o->teacher = wb->model;
	o->vocab_keep = wb->pruned_tok && wb->keep ? wb->keep->keep : NULL;
	o->corpus = (const char *const *)wb->corpus;
	o->n_corpus = wb->n_corpus;
	o->heldout = (const char *const *)&wb->heldout;
	o->n_heldout = wb->heldout ? 1 : 0;
	o->eval_ctx = wb->eval_ctx;
	o->out_dir = wb->heal_dir;
	o->resume = resume;
	o->force = !resume;
	o->protect[0] = wb->dir;
	o->xo.src_dir = wb->dir;
	o->xo.formats = EXPORT_HF;
	o->xo.dtype = DTYPE_F32;
	o->xo.tok = o->student_tok;
	o->xo.src_tok = wb->pruned_tok ? wb->tok : NULL;
	o->xo.keep = wb->pruned_tok ? wb->keep : NULL;
	o->xo.name = wb->name;
	o->monitor = &wb->heal_mon;
	if (!resume) { /* a fresh chart */
		pthread_mutex_lock(&wb->heal_mon.lock);
		memset(&wb->heal_mon.s, 0, sizeof wb->heal_mon.s);
		pthread_mutex_unlock(&wb->heal_mon.lock);
	}
	return task_launch(wb, WB_TASK_HEAL, t, heal_fn, e);
}

void wb_stop_heal(struct workbench *wb)
{
	if (wb->task_kind == WB_TASK_HEAL)
		job_cancel(&wb->task);
}

void wb_heal_view(struct workbench *wb, struct wb_heal_view *out)
{
	memset(out, 0, sizeof *out);
	out->running = wb->task_kind == WB_TASK_HEAL;
	out->healed = wb_healed(wb);
	if (wb->plan_only) {
		out->dir[0] = '\0';
	} else {
		wb_heal_dir(wb, out->dir, sizeof out->dir);
	}
	int st = out->dir[0] && !out->running ? heal_state(out->dir) : -1;
	out->resumable = st == 0;
	out->finished = st == 1;
	out->steps = wb->heal_steps;
	out->minutes = wb->heal_minutes;
	heal_monitor_snapshot(&wb->heal_mon, &out->snap);
	out->have_orig = wb->have_heal_orig;
	out->bpb_orig = wb->heal_orig_bpb;
	const struct wb_quality *q = wb_quality_current(wb);
	if (!out->have_orig && q) {
		out->have_orig = true;
		out->bpb_orig = q->orig.bpb;
	}
}

/* --- the plans tried ---------------------------------------------------- */

int wb_history(struct workbench *wb, enum history_sort by,
	       const struct history **out, const bool **front, struct err *e)
{
	if (!wb->history || wb->history_seen != wb->history_gen) {
		struct history *h = calloc(1, sizeof *h);
		if (!h)
			return err_set(e, ERR_NOMEM, "workbench: out of memory");
		int rc = wb->dir ? history_load(wb->dir, h, e) : 0;
		if (rc) {
			free(h);
			return rc;
		}
		history_free(wb->history);
		free(wb->history);
		wb->history = h;
		wb->history_seen = wb->history_gen;
	}
	history_sort(wb->history, by);
	bool *f = realloc(wb->history_front,
			  (size_t)(wb->history->n ? wb->history->n : 1) *
			      sizeof *f);
	if (!f)
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	wb->history_front = f;
	history_pareto(wb->history, f);
	*out = wb->history;
	if (front)
		*front = f;
	return 0;
}

int wb_history_load_plan(struct workbench *wb, int i, struct err *e)
{
	if (!wb->history || i < 0 || i >= wb->history->n)
		return err_set(e, ERR_INVALID, "no plan %d in the history",
			       i + 1);
	return wb_set_plan(wb, &wb->history->v[i].recipe.plan, e);
}

int wb_history_forget(struct workbench *wb, int i, struct err *e)
{
	if (!wb->history || i < 0 || i >= wb->history->n)
		return err_set(e, ERR_INVALID, "no plan %d in the history",
			       i + 1);
	history_remove(wb->history, i);
	return history_save(wb->history, e);
}

/* --- generation ------------------------------------------------------- */

static int gen_sink(void *ctx, const char *s, size_t n)
{
	struct wb_gen *g = ctx;
	pthread_mutex_lock(&g->lock);
	if (g->len + n + 1 > g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 1024;
		while (nc < g->len + n + 1)
			nc *= 2;
		char *nt = realloc(g->text, nc);
		if (!nt) {
			pthread_mutex_unlock(&g->lock);
			return 1;
		}
		g->text = nt;
		g->cap = nc;
	}
	memcpy(g->text + g->len, s, n);
	g->len += n;
	g->text[g->len] = '\0';
	if (!g->t_first)
		g->t_first = now_s();
	g->tokens++;
	pthread_mutex_unlock(&g->lock);
	return 0;
}

/* Stops a generation when its job is cancelled: gen_run only checks its
 * sink's answer, so the sink asks the job. */
struct gen_task {
	struct wb_gen *g;
	const struct progress *prog;
};

static int gen_sink_job(void *ctx, const char *s, size_t n)
{
	struct gen_task *gt = ctx;
	if (progress_report(gt->prog, 0, "generating", NULL))
		return 1;
	return gen_sink(gt->g, s, n);
}

static int gen_fn(void *arg, const struct progress *prog, struct err *e)
{
	struct wb_gen *g = arg;
	struct gen_task gt = {g, prog};
	struct gen_stats st = {0};
	int rc = gen_run(g->model, g->tok, g->prompt, strlen(g->prompt),
			 &g->opts, gen_sink_job, &gt, &st, e);
	pthread_mutex_lock(&g->lock);
	g->stats = st;
	pthread_mutex_unlock(&g->lock);
	return rc;
}

int wb_gen_start(struct workbench *wb, enum wb_side side, const char *prompt,
		 const struct gen_opts *o, struct err *e)
{
	struct wb_gen *g = &wb->gen[side];
	const struct model *m = side == WB_ORIGINAL ? wb->model : wb->pruned;
	const struct tokenizer *t =
		side == WB_PRUNED && wb->pruned_tok ? wb->pruned_tok : wb->tok;
	if (!m)
		return err_set(e, ERR_INVALID,
			       side == WB_ORIGINAL ? "the model is not loaded"
						   : "the plan is not applied");
	if (!t)
		return err_set(e, ERR_INVALID, "no tokenizer: %s", wb->tok_note);
	wb_gen_stop(wb, side);
	char *p = strdup(prompt);
	if (!p)
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	pthread_mutex_lock(&g->lock);
	free(g->prompt);
	g->prompt = p;
	g->len = 0;
	if (g->text)
		g->text[0] = '\0';
	g->tokens = 0;
	g->t_start = now_s();
	g->t_first = 0;
	memset(&g->stats, 0, sizeof g->stats);
	g->error[0] = '\0';
	g->model = m;
	g->tok = t;
	g->opts = *o;
	g->has_run = true;
	g->user_stopped = false;
	pthread_mutex_unlock(&g->lock);
	return job_start(&g->job, gen_fn, g, e);
}

void wb_gen_stop(struct workbench *wb, enum wb_side side)
{
	struct wb_gen *g = &wb->gen[side];
	bool running = job_poll(&g->job, NULL, NULL, 0) == JOB_RUNNING;
	job_cancel(&g->job);
	job_wait(&g->job, NULL);
	if (running) {
		pthread_mutex_lock(&g->lock);
		g->user_stopped = true;
		pthread_mutex_unlock(&g->lock);
	}
}

void wb_gen_clear(struct workbench *wb, enum wb_side side)
{
	struct wb_gen *g = &wb->gen[side];
	job_cancel(&g->job);
	job_wait(&g->job, NULL);
	pthread_mutex_lock(&g->lock);
	g->len = 0;
	if (g->text)
		g->text[0] = '\0';
	g->tokens = 0;
	g->t_first = 0;
	memset(&g->stats, 0, sizeof g->stats);
	g->error[0] = '\0';
	g->has_run = false;
	g->user_stopped = false;
	pthread_mutex_unlock(&g->lock);
}

void wb_gen_view(struct workbench *wb, enum wb_side side,
		 struct wb_gen_view *out)
{
	struct wb_gen *g = &wb->gen[side];
	memset(out, 0, sizeof *out);
	enum job_state st = job_poll(&g->job, NULL, NULL, 0);
	pthread_mutex_lock(&g->lock);
	if (g->len + 1 > g->view_cap) {
		char *nv = realloc(g->view, g->len + 1);
		if (nv) {
			g->view = nv;
			g->view_cap = g->len + 1;
		}
	}
	if (g->view && g->view_cap > g->len) {
		memcpy(g->view, g->text ? g->text : "", g->len);
		g->view[g->len] = '\0';
		out->text = g->view;
	} else {
		out->text = "";
	}
	bool running = st == JOB_RUNNING;
	/* the sink sees pieces of text; a token may decode to nothing yet
	 * (a partial UTF-8 byte, a special): once done, the real count */
	out->tokens = !running && g->has_run && g->stats.new_tokens > g->tokens
			      ? g->stats.new_tokens
			      : g->tokens;
	double end = running ? now_s() : g->t_start + g->stats.prompt_seconds +
						     g->stats.gen_seconds;
	out->seconds = g->t_first ? end - g->t_first : 0;
	if (!running && g->stats.gen_seconds > 0)
		out->tok_per_s = g->stats.new_tokens / g->stats.gen_seconds;
	else if (out->seconds > 0 && g->tokens > 1)
		out->tok_per_s = (g->tokens - 1) / out->seconds;
	out->running = running;
	out->done = g->has_run && !running;
	out->has_run = g->has_run;
	out->max_new = g->opts.max_new;
	if (!running && g->has_run) {
		out->stopped_eos = g->stats.hit_eos;
		out->stopped_user = g->user_stopped || g->stats.cancelled;
		out->stopped_length = !out->stopped_eos && !out->stopped_user &&
				      !g->error[0] &&
				      !g->stats.hit_newline;
		if (g->stats.max_new > 0)
			out->max_new = g->stats.max_new;
	}
	out->error = g->error[0] ? g->error : NULL;
	pthread_mutex_unlock(&g->lock);
}

/* --- vocabulary preview ---------------------------------------------- */

static void preview_free(struct wb_vocab_preview *p)
{
	if (!p)
		return;
	vocab_keep_free(p->keep);
	tok_free(p->tok);
	free(p->sample_text);
	free(p->split_before);
	free(p->split_after);
	free(p);
}

/* Reads up to 40 non-empty lines from the corpus files, alternating. */
static int load_samples(struct workbench *wb, struct err *e)
{
	if (wb->samples)
		return 0;
	wb->samples = calloc(40, sizeof *wb->samples);
	if (!wb->samples)
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	for (int f = 0; f < wb->n_corpus; f++) {
		char *text;
		size_t len;
		int rc = file_read_all(wb->corpus[f], 256u << 20, &text, &len, e);
		if (rc)
			return rc;
		char *p = text, *end = text + len;
		int taken = 0;
		while (p < end && wb->n_samples < 40 &&
		       taken < 40 / (wb->n_corpus ? wb->n_corpus : 1)) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
			/* a sentence, not a heading in capitals */
			bool lower = false;
			for (size_t i = 0; i < ll && !lower; i++)
				lower = p[i] >= 'a' && p[i] <= 'z';
			if (ll > 20 && ll < 400 && lower) {
				char *line = malloc(ll + 1);
				if (!line) {
					free(text);
					return err_set(e, ERR_NOMEM,
						       "workbench: out of memory");
				}
				memcpy(line, p, ll);
				line[ll] = '\0';
				wb->samples[wb->n_samples++] = line;
				taken++;
			}
			p += ll + 1;
		}
		free(text);
	}
	return 0;
}

/* The pieces of text under tok, joined by '|' (malloc'd). */
static char *split_pieces(const struct tokenizer *tok, const char *text,
			  int *n_tokens, struct err *e)
{
	int *ids = NULL;
	size_t n = 0;
	if (tok_encode(tok, text, strlen(text), false, &ids, &n, e))
		return NULL;
	size_t cap = 1;
	for (size_t i = 0; i < n; i++) {
		size_t pl;
		tok_piece(tok, ids[i], &pl);
		cap += pl + 1;
	}
	char *out = malloc(cap);
	if (out) {
		size_t o = 0;
		for (size_t i = 0; i < n; i++) {
			size_t pl;
			const char *pc = tok_piece(tok, ids[i], &pl);
			if (i)
				out[o++] = '|';
			memcpy(out + o, pc, pl);
			o += pl;
		}
		out[o] = '\0';
	}
	*n_tokens = (int)n;
	free(ids);
	return out;
}

/* Tokens per word of the first WB_TPW_BYTES of the corpus under tok. */
static int corpus_tpw(const struct workbench *wb, const struct tokenizer *tok,
		      double *tpw, uint64_t *bytes_used, struct err *e)
{
	struct vocab_counts *c = NULL;
	struct vocab_count_opts o = {.format = VOCAB_TEXT,
				     .max_bytes = WB_TPW_BYTES};
	int rc = vocab_count_files(tok, (const char *const *)wb->corpus,
				   (size_t)wb->n_corpus, &o, &c, NULL, e);
	if (rc)
		return rc;
	*tpw = c->words ? (double)c->tokens / (double)c->words : 0;
	*bytes_used = c->bytes;
	vocab_counts_free(c);
	return 0;
}

int wb_vocab_preview(struct workbench *wb, int sample,
		     const struct wb_vocab_preview **out, struct err *e)
{
	*out = NULL;
	if (!wb->counts)
		return err_set(e, ERR_INVALID, "the corpus is not counted yet");
	int rc = load_samples(wb, e);
	if (rc)
		return rc;
	int k = wb->plan.vocab_mode == PLAN_VOCAB_NONE ? wb->src.vocab_size
						       : wb->est.cfg.vocab_size;
	bool closure = wb->plan.merge_closure;
	if (wb->n_samples)
		sample = ((sample % wb->n_samples) + wb->n_samples) %
			 wb->n_samples;
	struct wb_vocab_preview *p = wb->preview;
	if (p && p->k == k && p->closure == closure && p->sample == sample) {
		*out = p;
		return 0;
	}
	p = calloc(1, sizeof *p);
	if (!p)
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	p->k = k;
	p->closure = closure;
	p->sample = sample;
	if ((rc = vocab_keep_top_k(wb->tok, wb->counts, k, closure, &p->keep,
				   e)) ||
	    (rc = vocab_rewrite(wb->tok, p->keep, &p->tok, e)) ||
	    (rc = corpus_tpw(wb, p->tok, &p->tpw_after, &p->tpw_bytes, e)))
		goto fail;
	/* the source tokenizer's figure does not depend on K: count it once */
	if (!(wb->tpw_source > 0) &&
	    (rc = corpus_tpw(wb, wb->tok, &wb->tpw_source, &p->tpw_bytes, e)))
		goto fail;
	p->tpw_before = wb->tpw_source;
	if (wb->n_samples) {
		const char *s = wb->samples[sample];
		if (!(p->sample_text = strdup(s)) ||
		    !(p->split_before = split_pieces(wb->tok, s, &p->n_before, e)) ||
		    !(p->split_after = split_pieces(p->tok, s, &p->n_after, e))) {
			rc = e && e->code ? e->code : ERR_NOMEM;
			goto fail;
		}
	}
	preview_free(wb->preview);
	wb->preview = p;
	*out = p;
	return 0;
fail:
	preview_free(p);
	return rc ? rc : err_set(e, ERR_NOMEM, "workbench: out of memory");
}

void wb_free(struct workbench *wb)
{
	if (!wb)
		return;
	for (int s = 0; s < 2; s++) {
		job_destroy(&wb->gen[s].job);
		free(wb->gen[s].text);
		free(wb->gen[s].view);
		free(wb->gen[s].prompt);
		pthread_mutex_destroy(&wb->gen[s].lock);
	}
	if (wb->task_kind != WB_TASK_NONE) {
		job_cancel(&wb->task);
		job_wait(&wb->task, NULL);
		task_ctx_free(wb->task_result);
	}
	job_destroy(&wb->task);
	for (int i = 0; i < wb->n_quality; i++)
		free(wb->quality[i].plan_key);
	free(wb->quality);
	preview_free(wb->preview);
	free_strings(wb->samples, wb->n_samples);
	free(wb->exported.recipe_json);
	model_free(wb->pruned);
	model_free(wb->cut);
	free(wb->healed_key);
	heal_monitor_destroy(&wb->heal_mon);
	history_free(wb->history);
	free(wb->history);
	free(wb->history_front);
	tok_free(wb->pruned_tok);
	vocab_keep_free(wb->keep);
	vocab_counts_free(wb->counts);
	free(wb->applied_key);
	model_free(wb->model);
	tok_free(wb->tok);
	prune_plan_free(&wb->plan);
	config_free(&wb->src);
	free_strings(wb->corpus, wb->n_corpus);
	free(wb->heldout);
	free(wb->dir);
	free(wb->name);
	free(wb);
}
