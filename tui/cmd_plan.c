/* punguza plan — the instant estimate of a pruning plan: parameter
 * breakdown, bytes, projected Zindi score and break-even LB. Reads only a
 * config.json (or a built-in geometry); never touches weights. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliopts.h"
#include "commands.h"
#include "config.h"
#include "plan.h"
#include "recipe.h"
#include "planopts.h"

/* Defaults of the Zindi panel: the published 40M (DESIGN §1.3), the best
 * published result of the recipe. Its LB is what a fine-tuned model of the
 * family has actually reached, so "projected" reads as "if this plan,
 * fine-tuned, did as well as the published 40M". */
#define DEFAULT_LB 0.5326
#define DEFAULT_REF_ZINDI 0.5061

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: punguza plan [DIR | --preset NAME] [--recipe FILE] "
	    "[knobs] [--lb X] [--ref-zindi Z] [--json]\n"
	    "\n"
	    "Estimates a pruning plan instantly: parameters per component, "
	    "bytes,\nprojected Zindi score. DIR: a model directory (only "
	    "config.json is read).\n"
	    "\n"
	    "  --preset NAME       geometry inkubalm-0.4b (the default), or "
	    "a plan:\n"
	    "                      published-50m, published-100m, "
	    "published-40m, identity\n"
	    "  --recipe FILE       start from a recipe (punguza.json)\n");
	planopts_help(out);
	fprintf(
	    out,
	    "  --vocab-count N     with --min-count: how many pieces it "
	    "keeps\n"
	    "  --lb X              assumed leaderboard score (default %.4f, "
	    "the published 40M's)\n"
	    "  --ref-zindi Z       reference zindi for the break-even LB "
	    "(default %.4f, 40M)\n"
	    "  --json              all figures (and the recipe) as JSON\n",
	    DEFAULT_LB, DEFAULT_REF_ZINDI);
}

static void geometry_line(const char *label, const struct config *c)
{
	printf("%-8s V %d, d %d, f %d, heads %d/%d x %d, L %d, %s%s\n", label,
	       c->vocab_size, c->hidden_size, c->intermediate_size, c->n_heads,
	       c->n_kv_heads, c->head_dim, c->n_layers,
	       c->tie_word_embeddings ? "tied" : "untied",
	       c->shared_mlp ? ", shared MLP" : "");
}

static void commas(char *buf, size_t n, uint64_t v)
{
	char tmp[32];
	int len = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
	size_t w = 0;
	for (int i = 0; i < len && w + 2 < n; i++) {
		if (i && (len - i) % 3 == 0)
			buf[w++] = ',';
		buf[w++] = tmp[i];
	}
	buf[w] = '\0';
}

static void row(const char *name, uint64_t a, uint64_t b, int tied)
{
	char x[32], y[32];
	commas(x, sizeof x, a);
	commas(y, sizeof y, b);
	printf("%-14s %15s %15s %8.2f%%\n", name, x, tied ? "(tied)" : y,
	       plan_pct(b, a));
}

static double mb(uint64_t bytes)
{
	return (double)bytes / 1e6;
}

struct figures {
	const struct config *src;
	const char *src_name;
	const struct plan_estimate *est;
	const struct recipe *rec;
	double lb, ref_zindi;
	int lb_default, ref_default;
};

static void print_text(const struct figures *f)
{
	const struct plan_estimate *e = f->est;
	const struct param_breakdown *s = &e->src, *d = &e->dst;
	printf("source   %s\n", f->src_name);
	geometry_line("", f->src);
	geometry_line("pruned", &e->cfg);
	if (!e->vocab_known)
		printf("         (vocabulary size estimated; see notes)\n");
	printf("\n%-14s %15s %15s %9s\n", "component", "original", "pruned",
	       "kept");
	row("embeddings", s->embed, d->embed, 0);
	row("lm_head", s->lm_head, d->lm_head, e->cfg.tie_word_embeddings);
	row("attention q", s->attn_q, d->attn_q, 0);
	row("attention k", s->attn_k, d->attn_k, 0);
	row("attention v", s->attn_v, d->attn_v, 0);
	row("attention o", s->attn_o, d->attn_o, 0);
	row(e->cfg.shared_mlp ? "mlp (shared)" : "mlp", s->mlp, d->mlp, 0);
	row("norms", s->norms, d->norms, 0);
	row("total", s->total, d->total, 0);
	printf("\nbytes          f32 %.1f MB   bf16 %.1f MB   f16 %.1f MB\n",
	       mb(e->bytes_f32), mb(e->bytes_bf16), mb(e->bytes_f16));
	printf("zindi          %.4f projected at LB %.4f%s\n",
	       score_zindi(f->lb, d->total), f->lb,
	       f->lb_default ? " (assumed: the published 40M's private LB; "
			       "--lb to change)"
			     : "");
	printf("break-even LB  %.4f to match zindi %.4f%s\n",
	       score_breakeven_lb(f->ref_zindi, d->total), f->ref_zindi,
	       f->ref_default ? " (the published 40M)" : "");
	printf("               (zindi = LB x (2 - P/421,939,200) / 2; "
	       "P/PARAM_SIZE = %.4f)\n",
	       (double)d->total / (double)SCORE_PARAM_SIZE);
	if (e->notes.n) {
		printf("\nnotes\n");
		for (int i = 0; i < e->notes.n; i++)
			printf("  %s\n", e->notes.text[i]);
		if (e->notes.n_dropped)
			printf("  (%d more)\n", e->notes.n_dropped);
	}
}

static cJSON *geometry_json(const struct config *c)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
	cJSON_AddNumberToObject(o, "hidden_size", c->hidden_size);
	cJSON_AddNumberToObject(o, "intermediate_size", c->intermediate_size);
	cJSON_AddNumberToObject(o, "num_attention_heads", c->n_heads);
	cJSON_AddNumberToObject(o, "num_key_value_heads", c->n_kv_heads);
	cJSON_AddNumberToObject(o, "head_dim", c->head_dim);
	cJSON_AddNumberToObject(o, "num_hidden_layers", c->n_layers);
	cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tie_word_embeddings);
	cJSON_AddBoolToObject(o, "shared_mlp", c->shared_mlp);
	return o;
}

static void comp_json(cJSON *o, const char *name, uint64_t a, uint64_t b)
{
	cJSON *c = cJSON_AddObjectToObject(o, name);
	cJSON_AddNumberToObject(c, "original", (double)a);
	cJSON_AddNumberToObject(c, "pruned", (double)b);
	cJSON_AddNumberToObject(c, "percent", plan_pct(b, a));
}

static int print_json(const struct figures *f)
{
	const struct plan_estimate *e = f->est;
	const struct param_breakdown *s = &e->src, *d = &e->dst;
	struct err err = {0};
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "source_name", f->src_name);
	cJSON_AddItemToObject(root, "source", geometry_json(f->src));
	cJSON_AddItemToObject(root, "pruned", geometry_json(&e->cfg));
	cJSON_AddBoolToObject(root, "vocab_known", e->vocab_known);
	cJSON *p = cJSON_AddObjectToObject(root, "params");
	comp_json(p, "embed", s->embed, d->embed);
	comp_json(p, "lm_head", s->lm_head, d->lm_head);
	comp_json(p, "attn_q", s->attn_q, d->attn_q);
	comp_json(p, "attn_k", s->attn_k, d->attn_k);
	comp_json(p, "attn_v", s->attn_v, d->attn_v);
	comp_json(p, "attn_o", s->attn_o, d->attn_o);
	comp_json(p, "attn", s->attn, d->attn);
	comp_json(p, "mlp", s->mlp, d->mlp);
	comp_json(p, "norms", s->norms, d->norms);
	comp_json(p, "total", s->total, d->total);
	cJSON *b = cJSON_AddObjectToObject(root, "bytes");
	cJSON_AddNumberToObject(b, "f32", (double)e->bytes_f32);
	cJSON_AddNumberToObject(b, "bf16", (double)e->bytes_bf16);
	cJSON_AddNumberToObject(b, "f16", (double)e->bytes_f16);
	cJSON *z = cJSON_AddObjectToObject(root, "zindi");
	cJSON_AddNumberToObject(z, "param_size", (double)SCORE_PARAM_SIZE);
	cJSON_AddNumberToObject(z, "lb", f->lb);
	cJSON_AddBoolToObject(z, "lb_is_default", f->lb_default);
	cJSON_AddNumberToObject(z, "projected", score_zindi(f->lb, d->total));
	cJSON_AddNumberToObject(z, "reference_zindi", f->ref_zindi);
	cJSON_AddNumberToObject(z, "breakeven_lb",
				score_breakeven_lb(f->ref_zindi, d->total));
	cJSON *n = cJSON_AddArrayToObject(root, "notes");
	for (int i = 0; i < e->notes.n; i++)
		cJSON_AddItemToArray(n, cJSON_CreateString(e->notes.text[i]));
	char *rt = NULL;
	if (recipe_to_json(f->rec, &rt, &err) == 0) {
		cJSON *r = cJSON_Parse(rt);
		if (r)
			cJSON_AddItemToObject(root, "recipe", r);
	}
	free(rt);
	char *text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text) {
		fprintf(stderr, "punguza: plan: out of memory\n");
		return 1;
	}
	printf("%s\n", text);
	cJSON_free(text);
	return 0;
}

int cmd_plan(int argc, char **argv)
{
	struct config src;
	struct recipe rec;
	struct plan_estimate est;
	struct err e = {0};
	const char *dir = NULL, *geom = NULL, *plan_name = NULL, *recipe = NULL;
	long vocab_count = 0;
	int json = 0, rc = 1;
	struct figures fig = {.lb = DEFAULT_LB,
			      .ref_zindi = DEFAULT_REF_ZINDI,
			      .lb_default = 1,
			      .ref_default = 1};

	memset(&src, 0, sizeof src);
	recipe_init(&rec);
	/* first pass: where the plan and the geometry come from */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(a, "--preset") || !strcmp(a, "--recipe")) {
			if (!cliopts_has_value("plan", argc, argv, i))
				return 2;
			const char *v = argv[++i];
			if (!strcmp(a, "--recipe"))
				recipe = v;
			else if (plan_geometry_preset(v, &src, NULL) == 0)
				geom = v;
			else
				plan_name = v;
			continue;
		}
		if (a[0] == '-' && a[1] == '-') {
			/* every other option takes a value, except these */
			if (strcmp(a, "--json") && !planopts_is_flag(a))
				i++;
			continue;
		}
		if (dir) {
			fprintf(stderr,
				"punguza: plan: more than one model "
				"directory ('%s', '%s')\n",
				dir, a);
			return 2;
		}
		dir = a;
	}
	if (dir && geom) {
		fprintf(stderr, "punguza: plan: give a model directory or a "
				"geometry preset, not both\n");
		return 2;
	}
	if (dir) {
		if (config_load(dir, &src, &e)) {
			fprintf(stderr, "punguza: %s\n", e.msg);
			return 1;
		}
	} else {
		if (!geom)
			geom = "inkubalm-0.4b";
		plan_geometry_preset(geom, &src, NULL);
	}
	if (recipe && recipe_load(recipe, &rec, &e)) {
		fprintf(stderr, "punguza: %s\n", e.msg);
		goto out;
	}
	if (plan_name) {
		prune_plan_free(&rec.plan);
		if (plan_preset(plan_name, &rec.plan, &e)) {
			fprintf(stderr, "punguza: plan: %s\n", e.msg);
			rc = 2;
			goto out;
		}
	}

	/* second pass: the knobs, over the preset or recipe */
	struct prune_plan *p = &rec.plan;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		if (a[0] != '-' || a[1] != '-')
			continue;
		if (!strcmp(a, "--json")) {
			json = 1;
			continue;
		}
		if (planopts_is_flag(a)) {
			planopts_apply(p, "plan", a, NULL);
			continue;
		}
		if (!cliopts_has_value("plan", argc, argv, i)) {
			rc = 2;
			goto out;
		}
		v = argv[++i];
		rc = 2;
		int k = planopts_apply(p, "plan", a, v);
		if (k < 0)
			goto out;
		if (k > 0)
			continue;
		if (!strcmp(a, "--preset") || !strcmp(a, "--recipe")) {
			continue;
		} else if (!strcmp(a, "--vocab-count")) {
			if (planopts_long(v, 1, INT_MAX, &vocab_count))
				goto bad;
		} else if (!strcmp(a, "--lb")) {
			if (planopts_double(v, &fig.lb) || fig.lb < 0 ||
			    fig.lb > 1)
				goto bad;
			fig.lb_default = 0;
		} else if (!strcmp(a, "--ref-zindi")) {
			if (planopts_double(v, &fig.ref_zindi) ||
			    fig.ref_zindi < 0 || fig.ref_zindi > 1)
				goto bad;
			fig.ref_default = 0;
		} else {
			cliopts_unknown("plan", a);
			usage(stderr);
			goto out;
		}
		continue;
	bad:
		cliopts_bad_value("plan", a, v);
		goto out;
	}

	struct prune_plan snapped;
	if (plan_estimate(p, &src, vocab_count, &est, &snapped, &e)) {
		fprintf(stderr, "punguza: plan: %s\n", e.msg);
		rc = e.code == ERR_INVALID ? 2 : 1;
		goto out;
	}
	prune_plan_free(&rec.plan);
	rec.plan = snapped;
	recipe_set_counts(&rec, &est.cfg);
	if (!rec.source_name[0])
		snprintf(rec.source_name, sizeof rec.source_name, "%s",
			 dir ? dir : geom);
	fig.src = &src;
	fig.src_name = dir ? dir : geom;
	fig.est = &est;
	fig.rec = &rec;
	if (json) {
		rc = print_json(&fig);
	} else {
		print_text(&fig);
		rc = 0;
	}
out:
	recipe_free(&rec);
	config_free(&src);
	return rc;
}
