/* punguza score — scores a submission CSV (ID,Response) against the
 * challenge's references exactly as DESIGN §1.3 defines the Zindi score:
 * per task and language, both LB definitions, public/private, zindi,
 * confusion matrices, wrong answers. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliopts.h"
#include "commands.h"
#include "config.h"
#include "recipe.h"
#include "score.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: punguza score SUBMISSION.csv --ref REF.csv [--ref ...] "
	    "[--public REF] [--private REF]\n"
	    "                     [--params N | --model DIR | --recipe FILE] "
	    "[--json]\n"
	    "\n"
	    "Scores ID,Response rows as the Buzuzu-Mavi challenge did: "
	    "sentiment and\nAfriXNLI macro-F1, translation chrF, the LB "
	    "both ways ((a) mean of the\nthree task scores, (b) the "
	    "organisers' pooled list) and, given a parameter\ncount, the "
	    "zindi score.\n"
	    "\n"
	    "  --ref FILE       references: test_with_targets.csv layout "
	    "(ID, task, lang,\n"
	    "                   split, ..., target) or the organisers' "
	    "(ID, Targets)\n"
	    "  --public FILE    organisers' references of the public "
	    "leaderboard (pubRef.csv)\n"
	    "  --private FILE   ... of the private leaderboard "
	    "(priRef.csv)\n"
	    "  --params N       the model's unique parameter count\n"
	    "  --model DIR      ... from DIR/config.json\n"
	    "  --recipe FILE    ... from a recipe's counts (punguza.json, "
	    "plan --json)\n"
	    "  --json           all figures as JSON\n"
	    "\n"
	    "Classification answers: 0/1/2, or (any case) positive/neutral/"
	    "negative,\nChanya/Wastani/Hasi, Kyakkyawa/Tsaka-tsaki/Korau; "
	    "entailment/neutral/\ncontradiction, True/Neither/False. "
	    "Anything else is a wrong answer.\n");
}

static const char *const langs3[] = {"hau", "swa", "both"};
static const char *const class_names[2][3] = {
    {"positive", "neutral", "negative"},
    {"entailment", "neutral", "contradiction"},
};

static void print_text(const struct score_result *s, const char *sub,
		       int have_params, uint64_t params)
{
	int splits = s->has_split ? 3 : 1;
	printf("submission %s: %d rows scored, %d wrong answer%s\n\n", sub,
	       s->part[SCORE_ALL].n_rows, s->n_wrong,
	       s->n_wrong == 1 ? "" : "s");
	printf("%-26s", "");
	for (int p = 0; p < splits; p++)
		printf(" %9s", score_split_name((enum score_split)p));
	printf("\n");
	for (int t = 0; t < 2; t++)
		for (int l = 0; l <= SCORE_N_LANGS; l++) {
			char label[40];
			snprintf(label, sizeof label, "%s macro-F1 %s",
				 t ? "xnli" : "sentiment", langs3[l]);
			printf("%-26s", label);
			for (int p = 0; p < splits; p++) {
				const struct score_part *x = &s->part[p];
				if (x->n[t][l])
					printf(" %9.4f", x->f1[t][l]);
				else
					printf(" %9s", "-");
			}
			printf("\n");
		}
	for (int l = 0; l <= SCORE_N_LANGS; l++) {
		char label[40];
		snprintf(label, sizeof label, "mt chrF %s", langs3[l]);
		printf("%-26s", label);
		for (int p = 0; p < splits; p++) {
			const struct score_part *x = &s->part[p];
			if (x->n[SCORE_MT][l])
				printf(" %9.4f", x->chrf[l]);
			else
				printf(" %9s", "-");
		}
		printf("\n");
	}
	printf("%-26s", "LB (a) mean of tasks");
	for (int p = 0; p < splits; p++)
		printf(" %9.4f", s->part[p].lb_tasks);
	printf("\n%-26s", "LB (b) organisers' list");
	for (int p = 0; p < splits; p++)
		printf(" %9.4f", s->part[p].lb_pooled);
	printf("\n");
	if (have_params) {
		printf("%-26s", "zindi (a)");
		for (int p = 0; p < splits; p++)
			printf(" %9.4f",
			       score_zindi(s->part[p].lb_tasks, params));
		printf("\n%-26s", "zindi (b)");
		for (int p = 0; p < splits; p++)
			printf(" %9.4f",
			       score_zindi(s->part[p].lb_pooled, params));
		printf("\n(zindi at P = %llu parameters, %.2f%% of "
		       "InkubaLM-0.4B)\n",
		       (unsigned long long)params,
		       100.0 * (double)params / (double)SCORE_PARAM_SIZE);
	} else {
		printf("(no zindi: give --params, --model or --recipe)\n");
	}
	for (int t = 0; t < 2; t++) {
		const struct score_part *x = &s->part[SCORE_ALL];
		if (!x->n[t][SCORE_POOLED])
			continue;
		printf("\nconfusion %s (both languages; rows = target, "
		       "columns = answer)\n%-14s",
		       t ? "xnli" : "sentiment", "");
		for (int c = 0; c < 3; c++)
			printf(" %13s", class_names[t][c]);
		printf(" %7s\n", "wrong");
		for (int r = 0; r < 3; r++) {
			printf("%-14s", class_names[t][r]);
			for (int c = 0; c < 3; c++)
				printf(" %13d",
				       x->confusion[t][SCORE_POOLED][r][c]);
			printf(" %7d\n", x->confusion[t][SCORE_POOLED][r][3]);
		}
	}
	if (s->n_wrong) {
		const struct score_part *x = &s->part[SCORE_ALL];
		printf("\nwrong answers: %d (sentiment %d, xnli %d); first:\n",
		       s->n_wrong, x->wrong[0][SCORE_POOLED],
		       x->wrong[1][SCORE_POOLED]);
		for (int i = 0; i < s->n_examples; i++) {
			printf("  line %ld  %s  \"", s->examples[i].line,
			       s->examples[i].id);
			for (const char *c = s->examples[i].response; *c; c++)
				if (*c == '\n')
					fputs("\\n", stdout);
				else if (*c == '\r')
					fputs("\\r", stdout);
				else if (*c == '\t')
					fputs("\\t", stdout);
				else
					putchar(*c);
			printf("\"\n");
		}
	}
}

static cJSON *part_json(const struct score_part *x, int have_params,
			uint64_t params)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "n_rows", x->n_rows);
	cJSON *f1 = cJSON_AddObjectToObject(o, "f1");
	cJSON *cf = cJSON_AddObjectToObject(o, "confusion");
	cJSON *wr = cJSON_AddObjectToObject(o, "wrong");
	for (int t = 0; t < 2; t++) {
		const char *tn = t ? "xnli" : "sentiment";
		cJSON *ft = cJSON_AddObjectToObject(f1, tn);
		for (int l = 0; l <= SCORE_N_LANGS; l++)
			if (x->n[t][l])
				cJSON_AddNumberToObject(ft, langs3[l],
							x->f1[t][l]);
		cJSON *m = cJSON_AddArrayToObject(cf, tn);
		for (int r = 0; r < 3; r++)
			cJSON_AddItemToArray(
			    m, cJSON_CreateIntArray(
				   x->confusion[t][SCORE_POOLED][r], 4));
		cJSON_AddNumberToObject(wr, tn, x->wrong[t][SCORE_POOLED]);
	}
	cJSON *ch = cJSON_AddObjectToObject(o, "chrf");
	for (int l = 0; l <= SCORE_N_LANGS; l++)
		if (x->n[SCORE_MT][l])
			cJSON_AddNumberToObject(ch, langs3[l], x->chrf[l]);
	cJSON_AddNumberToObject(o, "lb_tasks", x->lb_tasks);
	cJSON_AddNumberToObject(o, "lb_pooled", x->lb_pooled);
	if (have_params) {
		cJSON_AddNumberToObject(o, "zindi_tasks",
					score_zindi(x->lb_tasks, params));
		cJSON_AddNumberToObject(o, "zindi_pooled",
					score_zindi(x->lb_pooled, params));
	}
	return o;
}

static int print_json(const struct score_result *s, const char *sub,
		      int have_params, uint64_t params)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "submission", sub);
	if (have_params)
		cJSON_AddNumberToObject(root, "params", (double)params);
	cJSON_AddNumberToObject(root, "n_wrong", s->n_wrong);
	cJSON *ex = cJSON_AddArrayToObject(root, "wrong_examples");
	for (int i = 0; i < s->n_examples; i++) {
		cJSON *w = cJSON_CreateObject();
		cJSON_AddStringToObject(w, "id", s->examples[i].id);
		cJSON_AddStringToObject(w, "response", s->examples[i].response);
		cJSON_AddNumberToObject(w, "line", (double)s->examples[i].line);
		cJSON_AddItemToArray(ex, w);
	}
	for (int p = 0; p < (s->has_split ? 3 : 1); p++)
		cJSON_AddItemToObject(
		    root, score_split_name((enum score_split)p),
		    part_json(&s->part[p], have_params, params));
	char *text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text) {
		fprintf(stderr, "punguza: score: out of memory\n");
		return 1;
	}
	printf("%s\n", text);
	cJSON_free(text);
	return 0;
}

int cmd_score(int argc, char **argv)
{
	struct score_refs refs = {0};
	struct score_result res;
	struct err e = {0};
	const char *sub = NULL;
	int json = 0, have_params = 0, n_refs = 0, rc = 1;
	uint64_t params = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			score_refs_free(&refs);
			return 0;
		}
		if (!strcmp(a, "--json")) {
			json = 1;
			continue;
		}
		if (a[0] == '-' && a[1] == '-') {
			if (!cliopts_has_value("score", argc, argv, i)) {
				rc = 2;
				goto out;
			}
			const char *v = argv[++i];
			if (!strcmp(a, "--ref") || !strcmp(a, "--public") ||
			    !strcmp(a, "--private")) {
				enum score_split sp = a[2] == 'r' ? SCORE_ALL
						      : a[3] == 'u'
							  ? SCORE_PUBLIC
							  : SCORE_PRIVATE;
				if (score_refs_load(&refs, v, sp, &e))
					goto fail;
				n_refs++;
			} else if (!strcmp(a, "--params")) {
				char *end;
				errno = 0;
				unsigned long long n = strtoull(v, &end, 10);
				if (errno || end == v || *end || v[0] == '-') {
					rc = cliopts_bad_value("score", a, v);
					goto out;
				}
				params = n;
				have_params = 1;
			} else if (!strcmp(a, "--model")) {
				struct config c;
				if (config_load(v, &c, &e))
					goto fail;
				params = config_param_count(&c);
				have_params = 1;
				config_free(&c);
			} else if (!strcmp(a, "--recipe")) {
				struct recipe r;
				if (recipe_load(v, &r, &e))
					goto fail;
				if (!r.have_counts) {
					recipe_free(&r);
					fprintf(stderr,
						"punguza: score: '%s' has no "
						"parameter count (\"counts\"); "
						"use --params or --model\n",
						v);
					goto out;
				}
				params = r.counts.params;
				have_params = 1;
				recipe_free(&r);
			} else {
				cliopts_unknown("score", a);
				usage(stderr);
				rc = 2;
				goto out;
			}
			continue;
		}
		if (sub) {
			fprintf(stderr,
				"punguza: score: more than one "
				"submission ('%s', '%s')\n",
				sub, a);
			rc = 2;
			goto out;
		}
		sub = a;
	}
	if (!sub || !n_refs) {
		usage(stderr);
		rc = 2;
		goto out;
	}
	if (score_submission_file(&refs, sub, &res, &e))
		goto fail;
	if (json)
		rc = print_json(&res, sub, have_params, params);
	else {
		print_text(&res, sub, have_params, params);
		rc = 0;
	}
	goto out;
fail:
	fprintf(stderr, "punguza: %s\n", e.msg);
	rc = 1;
out:
	score_refs_free(&refs);
	return rc;
}
