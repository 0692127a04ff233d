/* Tests for prune/recipe: plan <-> JSON round trip, type and range errors
 * naming the key. */
#include <stdlib.h>

#include "recipe.h"
#include "test.h"
#include "vocab.h"

static void test_roundtrip(void)
{
	struct recipe r, q;
	struct err e = {0};
	char *json = NULL, *json2 = NULL;
	recipe_init(&r);
	struct prune_plan *p = &r.plan;
	int ids[] = {0, 1, 2, 300, 61787};
	int layers[] = {0, 3, 7};
	p->vocab_mode = PLAN_VOCAB_LIST;
	p->vocab_keep = 8064;
	p->vocab_min_count = 3;
	CHECK_EQ_INT(plan_set_vocab_ids(p, ids, 5, &e), 0);
	p->merge_closure = false;
	p->width_factor = 0.3; /* not exact in binary: must survive */
	p->hidden = 0;
	p->intermediate = 1760;
	p->head_mode = PLAN_HEADS_DROP;
	p->select = PLAN_SELECT_ACTIVATION;
	p->layer_mode = PLAN_LAYERS_LIST;
	p->n_layers = 3;
	CHECK_EQ_INT(plan_set_layer_list(p, layers, 3, &e), 0);
	p->tie = PLAN_TIE_MEAN;
	p->export_dtype = DTYPE_BF16;
	p->seed = 18446744073709551615ULL; /* above 2^53: a string */
	snprintf(r.source_name, sizeof r.source_name, "InkubaLM-0.4B");
	snprintf(r.source_checksum, sizeof r.source_checksum, "sha256:%064d",
		 7);
	struct config c;
	config_inkubalm(&c);
	c.vocab_size = 8064;
	recipe_set_counts(&r, &c);
	CHECK_EQ_INT(r.counts.params, 201885696); /* DESIGN §1.2 */

	CHECK_EQ_INT(recipe_to_json(&r, &json, &e), 0);
	CHECK(json && strstr(json, "\"seed\":\t\"18446744073709551615\""));
	CHECK_EQ_INT(recipe_parse(json, strlen(json), "r.json", &q, &e), 0);
	CHECK_EQ_INT(q.plan.vocab_mode, PLAN_VOCAB_LIST);
	CHECK_EQ_INT(q.plan.vocab_keep, 8064);
	CHECK_EQ_INT(q.plan.vocab_min_count, 3);
	CHECK_EQ_INT(q.plan.n_vocab_ids, 5);
	CHECK_EQ_INT(q.plan.vocab_ids[4], 61787);
	CHECK(!q.plan.merge_closure);
	CHECK(q.plan.width_factor == 0.3);
	CHECK_EQ_INT(q.plan.intermediate, 1760);
	CHECK_EQ_INT(q.plan.head_mode, PLAN_HEADS_DROP);
	CHECK_EQ_INT(q.plan.select, PLAN_SELECT_ACTIVATION);
	CHECK_EQ_INT(q.plan.layer_mode, PLAN_LAYERS_LIST);
	CHECK_EQ_INT(q.plan.n_layer_list, 3);
	CHECK_EQ_INT(q.plan.layer_list[2], 7);
	CHECK_EQ_INT(q.plan.tie, PLAN_TIE_MEAN);
	CHECK_EQ_INT(q.plan.export_dtype, DTYPE_BF16);
	CHECK(q.plan.seed == 18446744073709551615ULL);
	CHECK_STR(q.source_name, "InkubaLM-0.4B");
	CHECK_STR(q.source_checksum, r.source_checksum);
	CHECK(q.have_counts);
	CHECK_EQ_INT(q.counts.params, 201885696);
	CHECK_EQ_INT(q.counts.vocab_size, 8064);
	CHECK_EQ_INT(q.counts.head_dim, 64);
	CHECK(!q.counts.tied);
	/* writing the parsed recipe gives the same bytes */
	CHECK_EQ_INT(recipe_to_json(&q, &json2, &e), 0);
	CHECK_STR(json, json2);
	free(json);
	free(json2);
	recipe_free(&q);

	/* save/load through a file, small seed as a number */
	r.plan.seed = 42;
	const char *path = "/tmp/punguza-test-recipe.json";
	CHECK_EQ_INT(recipe_save(&r, path, &e), 0);
	CHECK_EQ_INT(recipe_load(path, &q, &e), 0);
	CHECK(q.plan.seed == 42);
	recipe_free(&q);
	remove(path);
	recipe_free(&r);
	recipe_free(NULL);

	/* plan --json output: the recipe sits under "recipe" */
	const char *wrapped = "{\"params\": {}, \"recipe\": {\"version\": 1, "
			      "\"tie\": \"embed\"}}";
	CHECK_EQ_INT(recipe_parse(wrapped, strlen(wrapped), "w", &q, &e), 0);
	CHECK_EQ_INT(q.plan.tie, PLAN_TIE_EMBED);
	recipe_free(&q);

	/* an identity recipe without counts: minimal JSON parses to it */
	const char *min = "{\"version\": 1}";
	CHECK_EQ_INT(recipe_parse(min, strlen(min), "m", &q, &e), 0);
	CHECK_EQ_INT(q.plan.vocab_mode, PLAN_VOCAB_NONE);
	CHECK(q.plan.width_factor == 1.0);
	CHECK(q.plan.merge_closure);
	CHECK(!q.have_counts);
	recipe_free(&q);
}

static void bad(const char *json, int code, const char *needle)
{
	struct recipe q;
	struct err e = {0};
	CHECK_ERR(recipe_parse(json, strlen(json), "bad.json", &q, &e), e, code,
		  needle);
}

static void test_errors(void)
{
	bad("{", ERR_FORMAT, "'bad.json': not valid JSON");
	bad("[1]", ERR_FORMAT, "not a JSON object");
	bad("{}", ERR_FORMAT, "missing \"version\"");
	bad("{\"version\": 2}", ERR_UNSUPPORTED, "version 2 is newer");
	bad("{\"version\": \"1\"}", ERR_FORMAT,
	    "\"version\" must be an "
	    "integer");
	bad("{\"version\": 1, \"format\": \"x\"}", ERR_FORMAT,
	    "\"format\" is \"x\"");
	bad("{\"version\": 1, \"vocab\": 3}", ERR_FORMAT,
	    "\"vocab\" must be an object");
	bad("{\"version\": 1, \"vocab\": {\"mode\": \"most\"}}", ERR_FORMAT,
	    "\"vocab.mode\" = \"most\" is not one of");
	bad("{\"version\": 1, \"vocab\": {\"keep\": -1}}", ERR_FORMAT,
	    "\"vocab.keep\" = -1 is outside");
	bad("{\"version\": 1, \"vocab\": {\"keep\": 1.5}}", ERR_FORMAT,
	    "\"vocab.keep\" must be an integer");
	bad("{\"version\": 1, \"vocab\": {\"mode\": \"top_k\"}}", ERR_FORMAT,
	    "\"vocab.keep\" must be positive");
	bad("{\"version\": 1, \"vocab\": {\"mode\": \"list\"}}", ERR_FORMAT,
	    "\"vocab.ids\"");
	bad("{\"version\": 1, \"vocab\": {\"ids\": [1, \"a\"]}}", ERR_FORMAT,
	    "\"vocab.ids\"[1]");
	bad("{\"version\": 1, \"vocab\": {\"merge_closure\": 1}}", ERR_FORMAT,
	    "\"vocab.merge_closure\" must be true or false");
	bad("{\"version\": 1, \"width\": {\"factor\": 0}}", ERR_FORMAT,
	    "\"width.factor\" = 0 is not in (0, 1]");
	bad("{\"version\": 1, \"width\": {\"factor\": \"half\"}}", ERR_FORMAT,
	    "\"width.factor\" must be a number");
	bad("{\"version\": 1, \"width\": {\"head_mode\": 3}}", ERR_FORMAT,
	    "\"width.head_mode\" must be a string");
	bad("{\"version\": 1, \"layers\": {\"mode\": \"list\"}}", ERR_FORMAT,
	    "\"layers.list\"");
	bad("{\"version\": 1, \"tie\": \"both\"}", ERR_FORMAT,
	    "\"tie\" = \"both\" is not one of");
	bad("{\"version\": 1, \"dtype\": \"q4\"}", ERR_FORMAT,
	    "\"dtype\" = \"q4\"");
	bad("{\"version\": 1, \"seed\": -1}", ERR_FORMAT, "\"seed\"");
	bad("{\"version\": 1, \"seed\": \"12x\"}", ERR_FORMAT, "\"seed\"");
	bad("{\"version\": 1, \"seed\": \"18446744073709551616\"}", ERR_FORMAT,
	    "\"seed\"");
	bad("{\"version\": 1, \"counts\": {\"vocab_size\": 10}}", ERR_FORMAT,
	    "\"counts.params\" is missing");
	bad("{\"version\": 1, \"counts\": {\"params\": 1e300}}", ERR_FORMAT,
	    "\"counts.params\"");
}

/* The plan as command-line flags: what the Export screen shows. The
 * expected strings are the flags a user types for these plans (the
 * published recipe's knobs, DESIGN 2). */
static void test_args(void)
{
	struct prune_plan p;
	struct err e = {0};
	char buf[512];
	prune_plan_init(&p);
	CHECK_EQ_INT(recipe_plan_args(&p, buf, sizeof buf, &e), 0);
	CHECK_STR(buf, "");
	prune_plan_free(&p);
	CHECK_EQ_INT(plan_preset("published-40m", &p, &e), 0);
	CHECK_EQ_INT(recipe_plan_args(&p, buf, sizeof buf, &e), 0);
	CHECK_STR(buf, "--vocab 8064 --no-closure --width 0.5 --select "
		       "recipe-random --layers 6 --tie lm_head");
	CHECK_ERR(recipe_plan_args(&p, buf, 10, &e), e, ERR_INVALID, "no room");
	prune_plan_free(&p);
	prune_plan_init(&p);
	p.vocab_mode = PLAN_VOCAB_MIN_COUNT;
	p.vocab_min_count = 5;
	p.hidden = 1000;
	p.intermediate = 2000;
	p.head_mode = PLAN_HEADS_DROP;
	p.tie = PLAN_TIE_MEAN;
	p.export_dtype = DTYPE_BF16;
	p.seed = 7;
	int layers[] = {0, 2, 5};
	plan_set_layer_list(&p, layers, 3, &e);
	p.layer_mode = PLAN_LAYERS_LIST;
	CHECK_EQ_INT(recipe_plan_args(&p, buf, sizeof buf, &e), 0);
	CHECK_STR(buf, "--min-count 5 --hidden 1000 --inter 2000 --heads-mode "
		       "heads --keep-layers 0,2,5 --tie mean --dtype bf16 "
		       "--seed 7");
	p.vocab_mode = PLAN_VOCAB_LIST;
	CHECK_ERR(recipe_plan_args(&p, buf, sizeof buf, &e), e, ERR_UNSUPPORTED,
		  "--recipe");
	prune_plan_free(&p);
}

/* An export records the kept pieces and formats, so --recipe alone
 * reproduces it (no corpus). */
static void test_kept(void)
{
	struct recipe r, q;
	struct err e = {0};
	char *json = NULL;
	recipe_init(&r);
	r.plan.vocab_mode = PLAN_VOCAB_TOP_K;
	r.plan.vocab_keep = 4;
	int kept[] = {0, 1, 2, 7};
	CHECK_EQ_INT(recipe_set_kept(&r, kept, 4, &e), 0);
	r.formats = 3;
	CHECK_EQ_INT(recipe_to_json(&r, &json, &e), 0);
	CHECK(json && strstr(json, "\"kept\""));
	CHECK(json && strstr(json, "\"gguf\""));
	CHECK_EQ_INT(recipe_parse(json, json ? strlen(json) : 0, "r", &q, &e),
		     0);
	CHECK_EQ_INT(q.n_kept, 4);
	CHECK_EQ_INT(q.formats, 3);
	CHECK(q.kept && q.kept[3] == 7);
	struct vocab_keep *k = NULL;
	CHECK_EQ_INT(recipe_keep(&q, 10, &k, &e), 0);
	if (k) {
		CHECK_EQ_INT(k->n_keep, 4);
		CHECK_EQ_INT(k->n_old, 10);
		CHECK_EQ_INT(k->old_to_new[7], 3);
		CHECK_EQ_INT(k->old_to_new[5], -1);
	}
	vocab_keep_free(k);
	CHECK_ERR(recipe_keep(&q, 5, &k, &e), e, ERR_FORMAT,
		  "outside the source vocabulary");
	int bad[] = {0, 2, 2};
	recipe_set_kept(&q, bad, 3, &e);
	CHECK_ERR(recipe_keep(&q, 10, &k, &e), e, ERR_FORMAT, "not above");
	recipe_set_kept(&q, NULL, 0, &e);
	CHECK_ERR(recipe_keep(&q, 10, &k, &e), e, ERR_INVALID, "vocab.kept");
	const char *badf = "{\"format\":\"punguza-recipe\",\"version\":1,"
			   "\"formats\":[\"onnx\"]}";
	struct recipe z;
	CHECK_ERR(recipe_parse(badf, strlen(badf), "z", &z, &e), e,
		  ERR_FORMAT, "\"formats\"");
	free(json);
	recipe_free(&r);
	recipe_free(&q);
}

int main(void)
{
	test_kept();
	test_args();
	test_roundtrip();
	test_errors();
	return TEST_SUMMARY();
}
