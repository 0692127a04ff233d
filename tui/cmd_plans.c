/* punguza plans DIR — the plans tried on a model (prune/history.h): their
 * parameters and every figure measured of them, cut and healed, the
 * Pareto front of parameters against bits per byte. The explorer's Plans
 * screen shows the same table. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "history.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: punguza plans DIR [--sort params|bpb|zindi] [--json]\n"
		"       punguza plans DIR --forget N\n\n"
		"Lists the plans tried on the model in DIR (by `prune "
		"--heldout`,\n"
		"`heal` and the explorer) with what was measured of each: "
		"held-out\n"
		"bits per byte of the source, the cut and the healed model, "
		"KL and\n"
		"top-1 against the source, a measured LB and its zindi. '*' "
		"marks\n"
		"the Pareto front (no other plan is both smaller and better).\n"
		"  --sort KEY   params (default), bpb (best measured), zindi\n"
		"  --json       the table as JSON\n"
		"  --forget N   remove plan N (as numbered by the listing) "
		"from the history\n");
}

/* A figure or "-" when it was never measured. */
static const char *fig(char *buf, size_t cap, bool have, int decimals, double v)
{
	if (!have)
		return "-";
	snprintf(buf, cap, "%.*f", decimals, v);
	return buf;
}

static void print_table(const struct history *h, const bool *front)
{
	printf("%-3s %1s %12s %7s %7s %7s %13s %6s %6s %7s  %s\n", "#", "",
	       "params", "bpb src", "cut", "healed", "heal tokens", "KL",
	       "top-1", "zindi", "knobs");
	for (int i = 0; i < h->n; i++) {
		const struct history_entry *x = &h->v[i];
		char a[32], b[32], c[32], d[32], k[32], t[32], zb[32];
		char knobs[512];
		struct err e = {0};
		if (recipe_plan_args(&x->recipe.plan, knobs, sizeof knobs, &e))
			snprintf(knobs, sizeof knobs, "(vocabulary list)");
		bool have_kl = x->have_healed_ref || x->have_cut_ref;
		double kl = x->have_healed_ref ? x->kl_healed : x->kl_cut;
		double top1 = x->have_healed_ref ? x->top1_healed : x->top1_cut;
		double z = history_zindi(x);
		printf(
		    "%-3d %1s %12" PRIu64 " %7s %7s %7s %13s %6s %6s %7s  "
		    "%s\n",
		    i + 1, front[i] ? "*" : "", x->params,
		    fig(a, sizeof a, x->have_cut, 4, x->bpb_src),
		    fig(b, sizeof b, x->have_cut, 4, x->bpb_cut),
		    fig(c, sizeof c, x->have_healed, 4, x->bpb_healed),
		    fig(d, sizeof d, x->have_healed, 0, (double)x->heal_tokens),
		    fig(k, sizeof k, have_kl, 3, kl),
		    fig(t, sizeof t, have_kl, 3, top1),
		    fig(zb, sizeof zb, !isnan(z), 4, z),
		    knobs[0] ? knobs : "(identity)");
	}
	if (!h->n)
		printf("(no plan measured yet: `punguza prune DIR ... "
		       "--heldout FILE`, `punguza heal`, or the explorer's "
		       "Quality and Heal screens record them)\n");
}

static int print_json(const struct history *h, const bool *front)
{
	cJSON *arr = cJSON_CreateArray();
	for (int i = 0; arr && i < h->n; i++) {
		const struct history_entry *x = &h->v[i];
		cJSON *o = cJSON_CreateObject();
		char *plan = NULL;
		struct err e = {0};
		if (!o || recipe_to_json(&x->recipe, &plan, &e)) {
			cJSON_Delete(o);
			cJSON_Delete(arr);
			return 1;
		}
		cJSON_AddItemToObject(o, "plan", cJSON_Parse(plan));
		free(plan);
		cJSON_AddNumberToObject(o, "params", (double)x->params);
		cJSON_AddBoolToObject(o, "pareto", front[i]);
		if (x->have_cut) {
			cJSON_AddNumberToObject(o, "bpb_src", x->bpb_src);
			cJSON_AddNumberToObject(o, "bpb_cut", x->bpb_cut);
		}
		if (x->have_cut_ref) {
			cJSON_AddNumberToObject(o, "kl_cut", x->kl_cut);
			cJSON_AddNumberToObject(o, "top1_cut", x->top1_cut);
		}
		if (x->have_healed) {
			cJSON_AddNumberToObject(o, "bpb_healed", x->bpb_healed);
			cJSON_AddNumberToObject(o, "heal_tokens",
						(double)x->heal_tokens);
			cJSON_AddNumberToObject(o, "heal_seconds",
						x->heal_seconds);
		}
		if (x->have_healed_ref) {
			cJSON_AddNumberToObject(o, "kl_healed", x->kl_healed);
			cJSON_AddNumberToObject(o, "top1_healed",
						x->top1_healed);
		}
		if (x->have_lb) {
			cJSON_AddNumberToObject(o, "lb", x->lb);
			cJSON_AddNumberToObject(o, "zindi", history_zindi(x));
		}
		cJSON_AddItemToArray(arr, o);
	}
	char *text = arr ? cJSON_Print(arr) : NULL;
	cJSON_Delete(arr);
	if (!text)
		return 1;
	printf("%s\n", text);
	cJSON_free(text);
	return 0;
}

int cmd_plans(int argc, char **argv)
{
	const char *dir = NULL;
	enum history_sort by = HISTORY_BY_PARAMS;
	bool json = false;
	long forget = 0;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(o, "--json")) {
			json = true;
		} else if (!strcmp(o, "--sort") && i + 1 < argc) {
			const char *v = argv[++i];
			if (!strcmp(v, "params"))
				by = HISTORY_BY_PARAMS;
			else if (!strcmp(v, "bpb"))
				by = HISTORY_BY_BPB;
			else if (!strcmp(v, "zindi"))
				by = HISTORY_BY_ZINDI;
			else {
				fprintf(stderr,
					"punguza plans: unknown sort key '%s' "
					"(params, bpb or zindi)\n",
					v);
				return 2;
			}
		} else if (!strcmp(o, "--forget") && i + 1 < argc) {
			char *end;
			forget = strtol(argv[++i], &end, 10);
			if (*end || forget < 1) {
				fprintf(stderr,
					"punguza plans: --forget takes a plan "
					"number from the listing\n");
				return 2;
			}
		} else if (o[0] == '-' || dir) {
			fprintf(stderr, "punguza plans: unexpected '%s'\n", o);
			usage(stderr);
			return 2;
		} else {
			dir = o;
		}
	}
	if (!dir) {
		usage(stderr);
		return 2;
	}
	struct err e = {0};
	struct history h;
	if (history_load(dir, &h, &e)) {
		fprintf(stderr, "punguza plans: %s\n", e.msg);
		return 1;
	}
	history_sort(&h, by);
	int rc = 0;
	if (forget) {
		if (forget > h.n) {
			fprintf(stderr,
				"punguza plans: no plan %ld (the history of "
				"'%s' has %d)\n",
				forget, dir, h.n);
			rc = 1;
		} else {
			history_remove(&h, (int)forget - 1);
			if (history_save(&h, &e)) {
				fprintf(stderr, "punguza plans: %s\n", e.msg);
				rc = 1;
			} else {
				fprintf(stderr, "forgot plan %ld\n", forget);
			}
		}
		history_free(&h);
		return rc;
	}
	bool *front = calloc((size_t)h.n + 1, sizeof *front);
	if (!front) {
		history_free(&h);
		fprintf(stderr, "punguza plans: out of memory\n");
		return 1;
	}
	history_pareto(&h, front);
	if (json)
		rc = print_json(&h, front);
	else
		print_table(&h, front);
	free(front);
	history_free(&h);
	return rc;
}
