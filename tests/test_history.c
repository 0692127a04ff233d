/* history: the plans tried on a model, persisted with their figures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "history.h"
#include "test.h"

static char cache[] = "/tmp/punguza-test-history-XXXXXX";

static struct history_entry plan_entry(double width, int layers)
{
	struct history_entry x;
	memset(&x, 0, sizeof x);
	recipe_init(&x.recipe);
	x.recipe.plan.width_factor = width;
	x.recipe.plan.n_layers = layers;
	x.params = (uint64_t)(1000000 * width) + (uint64_t)layers * 1000;
	return x;
}

static void test_round_trip(const char *model_a, const char *model_b)
{
	struct err e = {0};
	struct history h;
	CHECK_EQ_INT(history_load(model_a, &h, &e), 0);
	CHECK_EQ_INT(h.n, 0);

	struct history_entry a = plan_entry(0.5, 8), b = plan_entry(0.25, 6),
			     c = plan_entry(1.0, 8);
	a.have_cut = true, a.bpb_src = 1.5, a.bpb_cut = 3.3;
	a.have_cut_ref = true, a.kl_cut = 2.0, a.top1_cut = 0.1;
	b.have_cut = true, b.bpb_src = 1.5, b.bpb_cut = 5.0;
	c.have_cut = true, c.bpb_src = 1.5, c.bpb_cut = 1.5;
	int ia = -1, ib = -1, ic = -1;
	CHECK_EQ_INT(history_record(&h, &a, &ia, &e), 0);
	CHECK_EQ_INT(history_record(&h, &b, &ib, &e), 0);
	CHECK_EQ_INT(history_record(&h, &c, &ic, &e), 0);
	CHECK(ia == 0 && ib == 1 && ic == 2);

	/* the same plan again brings a heal: one entry, both figures */
	struct history_entry healed = plan_entry(0.5, 8);
	healed.have_healed = true, healed.bpb_healed = 1.55;
	healed.heal_tokens = 416000, healed.heal_seconds = 480;
	healed.have_lb = true, healed.lb = 0.4;
	int ih = -1;
	CHECK_EQ_INT(history_record(&h, &healed, &ih, &e), 0);
	CHECK_EQ_INT(ih, 0);
	CHECK_EQ_INT(h.n, 3);
	CHECK(h.v[0].have_cut && h.v[0].bpb_cut == 3.3);
	CHECK(h.v[0].have_healed && h.v[0].bpb_healed == 1.55);
	CHECK_NEAR(history_best_bpb(&h.v[0]), 1.55, 0);
	CHECK(isnan(history_zindi(&h.v[1])));
	CHECK_NEAR(history_zindi(&h.v[0]),
		   (0.4 + (1 - (double)h.v[0].params / 421939200.0) * 0.4) / 2,
		   1e-12);
	CHECK_EQ_INT(history_save(&h, &e), 0);

	/* another model's plans live beside them, untouched */
	struct history hb;
	CHECK_EQ_INT(history_load(model_b, &hb, &e), 0);
	CHECK_EQ_INT(hb.n, 0);
	CHECK_EQ_INT(history_record(&hb, &b, NULL, &e), 0);
	CHECK_EQ_INT(history_save(&hb, &e), 0);
	history_free(&hb);

	struct history r;
	CHECK_EQ_INT(history_load(model_a, &r, &e), 0);
	CHECK_EQ_INT(r.n, 3);
	if (r.n == 3) {
		CHECK(r.v[0].recipe.plan.width_factor == 0.5);
		CHECK(r.v[0].have_cut_ref && r.v[0].top1_cut == 0.1);
		CHECK(r.v[0].have_healed && r.v[0].heal_tokens == 416000);
		CHECK(r.v[0].have_lb && r.v[0].lb == 0.4);
		CHECK(!r.v[1].have_healed && !r.v[1].have_lb);
		CHECK(r.v[1].recipe.plan.n_layers == 6);
	}

	/* sorting: by bpb (healed counts), by params, by zindi */
	history_sort(&r, HISTORY_BY_BPB);
	CHECK(r.v[0].recipe.plan.width_factor == 1.0);	/* 1.5 */
	CHECK(r.v[1].recipe.plan.width_factor == 0.5);	/* 1.55 healed */
	CHECK(r.v[2].recipe.plan.width_factor == 0.25); /* 5.0 */
	history_sort(&r, HISTORY_BY_PARAMS);
	CHECK(r.v[0].params < r.v[1].params && r.v[1].params < r.v[2].params);
	history_sort(&r, HISTORY_BY_ZINDI);
	CHECK(r.v[0].have_lb); /* the only measured LB comes first */

	/* Pareto front: 0.25 (smallest) and 0.5 (healed 1.55 beats 1.0's
	 * params? no: 1.0 has more params and better bpb) — all three are on
	 * it; a dominated plan is not. */
	struct history_entry worse = plan_entry(0.75, 8);
	worse.have_cut = true, worse.bpb_src = 1.5, worse.bpb_cut = 4.0;
	CHECK_EQ_INT(history_record(&r, &worse, NULL, &e), 0);
	struct history_entry unmeasured = plan_entry(0.1, 2);
	CHECK_EQ_INT(history_record(&r, &unmeasured, NULL, &e), 0);
	history_sort(&r, HISTORY_BY_PARAMS);
	bool front[8] = {0};
	CHECK_EQ_INT(r.n, 5);
	history_pareto(&r, front);
	for (int i = 0; i < r.n; i++) {
		double w = r.v[i].recipe.plan.width_factor;
		bool want = w == 0.25 || w == 0.5 || w == 1.0;
		CHECK_MSG(front[i] == want, "width %.2f: front %d, want %d", w,
			  front[i], want);
	}
	history_remove(&r, 0);
	CHECK_EQ_INT(r.n, 4);
	history_free(&r);
	history_free(&h);
	recipe_free(&a.recipe);
	recipe_free(&b.recipe);
	recipe_free(&c.recipe);
	recipe_free(&healed.recipe);
	recipe_free(&worse.recipe);
	recipe_free(&unmeasured.recipe);
}

static void test_hostile(const char *model_a)
{
	struct err e = {0};
	char file[512];
	snprintf(file, sizeof file, "%s/plans.json", cache);
	char key[4096];
	CHECK(realpath(model_a, key) != NULL);

	/* one malformed record among good ones: the good ones load */
	char text[8192];
	snprintf(text, sizeof text,
		 "{\"%s\": [{\"plan\": {\"format\": \"punguza-recipe\", "
		 "\"version\": 1, \"width\": {\"factor\": 0.5}}, "
		 "\"params\": 100, \"bpb_src\": 1.5, \"bpb_cut\": 2.0},"
		 " {\"plan\": \"nope\", \"params\": 5},"
		 " {\"plan\": {\"format\": \"punguza-recipe\", \"version\": 1, "
		 "\"width\": {\"factor\": 7}}, \"params\": 5},"
		 " {\"plan\": {}, \"params\": -3},"
		 " {\"plan\": {\"format\": \"punguza-recipe\", \"version\": 1, "
		 "\"layers\": {\"n\": 4}}, \"params\": 200,"
		 "  \"bpb_healed\": \"x\"}]}",
		 key);
	CHECK_EQ_INT(file_write_atomic(file, text, strlen(text), &e), 0);
	struct history h;
	CHECK_EQ_INT(history_load(model_a, &h, &e), 0);
	CHECK_EQ_INT(h.n, 2);
	if (h.n == 2) {
		CHECK(h.v[0].have_cut && h.v[0].bpb_cut == 2.0);
		CHECK(!h.v[1].have_healed);
	}
	history_free(&h);

	/* a file that is not a JSON object is an error naming it */
	CHECK_EQ_INT(file_write_atomic(file, "[1, 2", 5, &e), 0);
	err_clear(&e);
	CHECK_EQ_INT(history_load(model_a, &h, &e), ERR_FORMAT);
	CHECK(strstr(e.msg, "plans.json") != NULL);
	history_free(&h);
	history_free(NULL);

	/* a model directory that does not exist cannot be keyed */
	CHECK(history_load("/nonexistent/punguza/model", &h, &e) != 0);
}

int main(void)
{
	if (!mkdtemp(cache)) {
		perror("mkdtemp");
		return 1;
	}
	setenv("PUNGUZA_CACHE", cache, 1);
	char model_a[600], model_b[600];
	snprintf(model_a, sizeof model_a, "%s/a", cache);
	snprintf(model_b, sizeof model_b, "%s/b", cache);
	mkdir(model_a, 0755);
	mkdir(model_b, 0755);
	/* the first note on an empty cache succeeds and leaves no error */
	{
		struct err e = {0};
		char model_c[700];
		snprintf(model_c, sizeof model_c, "%s/c", cache);
		mkdir(model_c, 0755);
		struct history_entry x = plan_entry(0.5, 4);
		x.have_lb = true, x.lb = 0.3;
		CHECK_EQ_INT(history_note(model_c, &x, &e), 0);
		CHECK_EQ_INT(e.code, 0);
		struct history h;
		CHECK_EQ_INT(history_load(model_c, &h, &e), 0);
		CHECK(h.n == 1 && h.v[0].have_lb && h.v[0].lb == 0.3);
		history_free(&h);
		recipe_free(&x.recipe);
	}
	test_round_trip(model_a, model_b);
	test_hostile(model_a);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", cache);
	return TEST_SUMMARY();
}
