/* Tests for prune/plan: the counts of DESIGN §1.2 through the plan path,
 * snapping and validation, stepping, the Zindi formula (DESIGN §1.3). */
#include <math.h>
#include <stdlib.h>

#include "plan.h"
#include "test.h"

static uint64_t preset_total(const char *name, struct config *src,
			     struct plan_estimate *est)
{
	struct prune_plan p;
	struct err e = {0};
	uint64_t total = 0;
	if (plan_preset(name, &p, &e) == 0 &&
	    plan_estimate(&p, src, 0, est, NULL, &e) == 0)
		total = est->dst.total;
	else
		fprintf(stderr, "%s: %s\n", name, e.msg);
	prune_plan_free(&p);
	return total;
}

static int has_note(const struct plan_notes *n, const char *needle)
{
	for (int i = 0; i < n->n; i++)
		if (strstr(n->text[i], needle))
			return 1;
	return 0;
}

static void test_design_table(void)
{
	struct config src;
	struct plan_estimate est;
	struct err e = {0};
	config_inkubalm(&src);

	/* DESIGN §1.2, every row. */
	CHECK_EQ_INT(preset_total("identity", &src, &est), 421939200);
	CHECK_EQ_INT(est.src.total, 421939200);
	CHECK_EQ_INT(preset_total("published-50m", &src, &est), 50480128);
	CHECK_EQ_INT(est.cfg.vocab_size, 8064);
	CHECK_EQ_INT(est.cfg.hidden_size, 1024);
	CHECK_EQ_INT(est.cfg.intermediate_size, 2816);
	CHECK_EQ_INT(est.cfg.n_heads, 32);
	CHECK_EQ_INT(est.cfg.n_kv_heads, 32);
	CHECK_EQ_INT(est.cfg.head_dim, 32);
	CHECK_EQ_INT(est.cfg.n_layers, 8);
	CHECK(est.cfg.tie_word_embeddings);
	CHECK_EQ_INT(est.dst.lm_head, 0);
	/* by hand: 8064*1024 = 8,257,536 embed; 8*(4*1024^2) = 33,554,432
	 * attention; 3*1024*2816 = 8,650,752 MLP; 8*2048 + 1024 = 17,408 */
	CHECK_EQ_INT(est.dst.embed, 8257536);
	CHECK_EQ_INT(est.dst.attn, 33554432);
	CHECK_EQ_INT(est.dst.mlp, 8650752);
	CHECK_EQ_INT(est.dst.norms, 17408);
	CHECK_EQ_INT(est.bytes_f32, 50480128ULL * 4);
	CHECK_EQ_INT(est.bytes_bf16, 50480128ULL * 2);
	CHECK_EQ_INT(est.bytes_f16, 50480128ULL * 2);
	CHECK_EQ_INT(est.notes.n, 0);

	CHECK_EQ_INT(preset_total("published-100m", &src, &est), 105493504);
	CHECK_EQ_INT(est.cfg.vocab_size, 61788);
	CHECK_EQ_INT(preset_total("published-40m", &src, &est), 42087424);
	CHECK_EQ_INT(est.cfg.n_layers, 6);

	/* the two intermediate rows */
	struct prune_plan p;
	prune_plan_init(&p);
	p.vocab_mode = PLAN_VOCAB_TOP_K;
	p.vocab_keep = 8064;
	CHECK_EQ_INT(plan_estimate(&p, &src, 0, &est, NULL, &e), 0);
	CHECK_EQ_INT(est.dst.total, 201885696);
	p.width_factor = 0.5;
	CHECK_EQ_INT(plan_estimate(&p, &src, 0, &est, NULL, &e), 0);
	CHECK_EQ_INT(est.dst.total, 58737664);
	/* same count when whole heads go: 16 heads of 64 */
	p.head_mode = PLAN_HEADS_DROP;
	CHECK_EQ_INT(plan_estimate(&p, &src, 0, &est, NULL, &e), 0);
	CHECK_EQ_INT(est.dst.total, 58737664);
	CHECK_EQ_INT(est.cfg.n_heads, 16);
	CHECK_EQ_INT(est.cfg.n_kv_heads, 16);
	CHECK_EQ_INT(est.cfg.head_dim, 64);
	CHECK_NEAR(plan_pct(est.dst.total, est.src.total),
		   100.0 * 58737664 / 421939200, 1e-12);
	prune_plan_free(&p);

	CHECK_ERR(plan_preset("published-1m", &p, &e), e, ERR_NOTFOUND,
		  "published-1m");
	CHECK_EQ_INT(plan_geometry_preset("inkubalm-0.4b", &src, &e), 0);
	CHECK_EQ_INT(config_param_count(&src), 421939200);
	CHECK_ERR(plan_geometry_preset("gpt2", &src, &e), e, ERR_NOTFOUND,
		  "gpt2");
}

static void test_snap(void)
{
	struct config src;
	struct prune_plan p;
	struct plan_estimate est;
	struct prune_plan s;
	struct err e = {0};
	config_inkubalm(&src);
	prune_plan_init(&p);

	/* 0.3 * 2048 = 614.4; multiples of 64 (32 heads x even head_dim):
	 * 576 is 38.4 away, 640 is 25.6 away -> 640, head_dim 20 */
	p.width_factor = 0.3;
	CHECK_EQ_INT(plan_estimate(&p, &src, 0, &est, &s, &e), 0);
	CHECK_EQ_INT(est.cfg.hidden_size, 640);
	CHECK_EQ_INT(est.cfg.head_dim, 20);
	CHECK_EQ_INT(est.cfg.n_heads, 32);
	/* f tied to d's factor: 5632 * 640 / 2048 = 1760 */
	CHECK_EQ_INT(est.cfg.intermediate_size, 1760);
	CHECK(has_note(&est.notes, "width 0.3 -> d 640"));
	CHECK(has_note(&est.notes, "even"));
	CHECK_NEAR(s.width_factor, 0.3125, 0);
	prune_plan_free(&s);

	/* heads mode: same unit (64) for MHA; 10 heads of 64 */
	p.head_mode = PLAN_HEADS_DROP;
	CHECK_EQ_INT(plan_estimate(&p, &src, 0, &est, NULL, &e), 0);
	CHECK_EQ_INT(est.cfg.n_heads, 10);
	CHECK_EQ_INT(est.cfg.head_dim, 64);
	p.head_mode = PLAN_HEADS_HEADDIM;

	/* explicit d: 1000 -> 1024 (nearest multiple of 64), f explicit */
	p.hidden = 1000;
	p.intermediate = 9999;
	CHECK_EQ_INT(plan_estimate(&p, &src, 0, &est, NULL, &e), 0);
	CHECK_EQ_INT(est.cfg.hidden_size, 1024);
	CHECK_EQ_INT(est.cfg.intermediate_size, 5632);
	CHECK(has_note(&est.notes, "hidden 1000 -> 1024"));
	CHECK(has_note(&est.notes, "intermediate 9999 -> 5632"));
	p.hidden = 10; /* below one unit -> 64 (head_dim 2) */
	p.intermediate = 100;
	CHECK_EQ_INT(plan_estimate(&p, &src, 0, &est, NULL, &e), 0);
	CHECK_EQ_INT(est.cfg.hidden_size, 64);
	CHECK_EQ_INT(est.cfg.head_dim, 2);
	CHECK_EQ_INT(est.cfg.intermediate_size, 100);
	p.hidden = 0;
	p.intermediate = 0;

	p.width_factor = 1.5;
	CHECK_EQ_INT(plan_estimate(&p, &src, 0, &est, NULL, &e), 0);
	CHECK_EQ_INT(est.cfg.hidden_size, 2048);
	CHECK(has_note(&est.notes, "width 1.5 -> 1"));
	p.width_factor = 1;

	/* vocabulary floor and ceiling */
	p.vocab_mode = PLAN_VOCAB_TOP_K;
	p.vocab_keep = 100;
	CHECK_EQ_INT(plan_estimate(&p, &src, 0, &est, NULL, &e), 0);
	CHECK_EQ_INT(est.cfg.vocab_size, 259);
	CHECK(has_note(&est.notes, "vocab 100 -> 259"));
	p.vocab_keep = 70000;
	CHECK_EQ_INT(plan_estimate(&p, &src, 0, &est, NULL, &e), 0);
	CHECK_EQ_INT(est.cfg.vocab_size, 61788);
	CHECK(has_note(&est.notes, "vocab 70000 -> 61788"));

	/* min count: unknown without counts, else the caller's count */
	p.vocab_mode = PLAN_VOCAB_MIN_COUNT;
	p.vocab_min_count = 5;
	CHECK_EQ_INT(plan_estimate(&p, &src, 0, &est, NULL, &e), 0);
	CHECK(!est.vocab_known);
	CHECK_EQ_INT(est.cfg.vocab_size, 61788);
	CHECK(has_note(&est.notes, "needs token counts"));
	CHECK_EQ_INT(plan_estimate(&p, &src, 8064, &est, NULL, &e), 0);
	CHECK(est.vocab_known);
	CHECK_EQ_INT(est.cfg.vocab_size, 8064);

	/* explicit list: dups removed, specials/bytes added */
	int ids[] = {300, 5000, 300, 261};
	p.vocab_mode = PLAN_VOCAB_LIST;
	p.merge_closure = false;
	CHECK_EQ_INT(plan_set_vocab_ids(&p, ids, 4, &e), 0);
	CHECK_EQ_INT(plan_estimate(&p, &src, 0, &est, &s, &e), 0);
	CHECK_EQ_INT(est.cfg.vocab_size, 259 + 3);
	CHECK_EQ_INT(s.n_vocab_ids, 262);
	CHECK_EQ_INT(s.vocab_ids[259], 261);
	CHECK(has_note(&est.notes, "1 duplicate id removed"));
	CHECK(has_note(&est.notes, "added 259 special/byte pieces"));
	CHECK(est.vocab_known);
	prune_plan_free(&s);
	p.vocab_mode = PLAN_VOCAB_NONE;

	/* layers */
	p.n_layers = 12;
	CHECK_EQ_INT(plan_estimate(&p, &src, 0, &est, NULL, &e), 0);
	CHECK_EQ_INT(est.cfg.n_layers, 8);
	CHECK(has_note(&est.notes, "layers 12 -> 8"));
	int layers[] = {5, 0, 5, 2};
	p.layer_mode = PLAN_LAYERS_LIST;
	CHECK_EQ_INT(plan_set_layer_list(&p, layers, 4, &e), 0);
	CHECK_EQ_INT(plan_estimate(&p, &src, 0, &est, &s, &e), 0);
	CHECK_EQ_INT(est.cfg.n_layers, 3);
	CHECK_EQ_INT(s.layer_list[0], 0);
	CHECK_EQ_INT(s.layer_list[1], 2);
	CHECK_EQ_INT(s.layer_list[2], 5);
	CHECK(has_note(&est.notes, "duplicates removed"));
	prune_plan_free(&s);

	/* copies are deep */
	struct prune_plan c;
	CHECK_EQ_INT(prune_plan_copy(&c, &p, &e), 0);
	CHECK(c.layer_list != p.layer_list);
	c.layer_list[0] = 7;
	CHECK_EQ_INT(p.layer_list[0], 5);
	prune_plan_free(&c);
	prune_plan_free(&p);
	CHECK(p.layer_list == NULL && p.width_factor == 1.0);
	prune_plan_free(NULL);
}

static void test_validate(void)
{
	struct config src;
	struct prune_plan p;
	struct plan_estimate est;
	struct err e = {0};
	config_inkubalm(&src);
	prune_plan_init(&p);
	CHECK_EQ_INT(plan_validate(&p, &src, &e), 0);

	p.vocab_mode = PLAN_VOCAB_TOP_K;
	p.vocab_keep = -5;
	CHECK_ERR(plan_estimate(&p, &src, 0, &est, NULL, &e), e, ERR_INVALID,
		  "keep -5 pieces");
	p.vocab_mode = PLAN_VOCAB_MIN_COUNT;
	p.vocab_min_count = -1;
	CHECK_ERR(plan_validate(&p, &src, &e), e, ERR_INVALID,
		  "min count -1 is negative");
	p.vocab_mode = PLAN_VOCAB_LIST;
	CHECK_ERR(plan_validate(&p, &src, &e), e, ERR_INVALID,
		  "keep list is empty");
	int bad[] = {1, 61788};
	plan_set_vocab_ids(&p, bad, 2, &e);
	CHECK_ERR(plan_validate(&p, &src, &e), e, ERR_INVALID,
		  "entry 1 is id 61788, outside 0..61787");
	p.vocab_mode = PLAN_VOCAB_NONE;

	p.width_factor = -0.5;
	CHECK_ERR(plan_validate(&p, &src, &e), e, ERR_INVALID,
		  "factor -0.5 is not in (0, 1]");
	p.width_factor = NAN;
	CHECK_ERR(plan_validate(&p, &src, &e), e, ERR_INVALID, "factor");
	p.width_factor = 0;
	CHECK_ERR(plan_validate(&p, &src, &e), e, ERR_INVALID, "factor 0");
	p.width_factor = 1;
	p.hidden = -3;
	CHECK_ERR(plan_validate(&p, &src, &e), e, ERR_INVALID,
		  "hidden size -3");
	p.hidden = 0;
	p.intermediate = -1;
	CHECK_ERR(plan_validate(&p, &src, &e), e, ERR_INVALID, "intermediate");
	p.intermediate = 0;

	p.n_layers = -2;
	CHECK_ERR(plan_validate(&p, &src, &e), e, ERR_INVALID,
		  "-2 layers is negative");
	p.n_layers = 0;
	int lay[] = {0, 8};
	p.layer_mode = PLAN_LAYERS_LIST;
	plan_set_layer_list(&p, lay, 2, &e);
	CHECK_ERR(plan_validate(&p, &src, &e), e, ERR_INVALID,
		  "entry 1 is layer 8, outside 0..7");
	p.layer_mode = PLAN_LAYERS_FIRST;
	p.tie = (enum plan_tie)9;
	CHECK_ERR(plan_validate(&p, &src, &e), e, ERR_INVALID, "tie");
	p.tie = PLAN_TIE_MEAN;
	CHECK_EQ_INT(plan_validate(&p, &src, &e), 0);

	/* apply without snapping refuses an unsnapped vocabulary */
	struct config out;
	p.vocab_mode = PLAN_VOCAB_TOP_K;
	p.vocab_keep = 10;
	CHECK_ERR(plan_apply_config(&p, &src, 0, &out, &e), e, ERR_INVALID,
		  "10 pieces");
	prune_plan_free(&p);
}

static void test_gqa(void)
{
	/* 32 query heads in 8 kv groups of 4, head_dim 64, d 2048 */
	struct config src;
	struct prune_plan p;
	struct plan_estimate est;
	struct err e = {0};
	config_inkubalm(&src);
	src.n_kv_heads = 8;
	prune_plan_init(&p);
	p.head_mode = PLAN_HEADS_DROP;
	p.width_factor = 0.5;
	CHECK_EQ_INT(plan_estimate(&p, &src, 0, &est, NULL, &e), 0);
	CHECK_EQ_INT(est.cfg.hidden_size, 1024);
	CHECK_EQ_INT(est.cfg.n_heads, 16);
	CHECK_EQ_INT(est.cfg.n_kv_heads, 4);
	/* 0.3 -> 614.4; multiples of 256 (whole groups): 512 vs 768 -> 512 */
	p.width_factor = 0.3;
	CHECK_EQ_INT(plan_estimate(&p, &src, 0, &est, NULL, &e), 0);
	CHECK_EQ_INT(est.cfg.hidden_size, 512);
	CHECK_EQ_INT(est.cfg.n_heads, 8);
	CHECK_EQ_INT(est.cfg.n_kv_heads, 2);
	/* by hand, 8 layers: q,o 512*512 each; k,v 512*128 each */
	CHECK_EQ_INT(est.dst.attn_k, 8 * 512 * 128);
	CHECK_EQ_INT(est.dst.attn_q, 8 * 512 * 512);
	prune_plan_free(&p);
}

static void test_steps(void)
{
	struct config src;
	config_inkubalm(&src);
	CHECK_EQ_INT(plan_vocab_step(&src, 8064, 1), 8192);
	CHECK_EQ_INT(plan_vocab_step(&src, 8064, -1), 4096);
	CHECK_EQ_INT(plan_vocab_step(&src, 259, -1), 259);
	CHECK_EQ_INT(plan_vocab_step(&src, 49152, 1), 61788);
	CHECK_EQ_INT(plan_vocab_step(&src, 61788, 1), 61788);
	CHECK_EQ_INT(plan_vocab_step(&src, 300, -1), 259);
	CHECK_EQ_INT(plan_hidden_step(&src, PLAN_HEADS_HEADDIM, 1024, 1), 1088);
	CHECK_EQ_INT(plan_hidden_step(&src, PLAN_HEADS_HEADDIM, 1024, -1), 960);
	CHECK_EQ_INT(plan_hidden_step(&src, PLAN_HEADS_HEADDIM, 64, -1), 64);
	CHECK_EQ_INT(plan_hidden_step(&src, PLAN_HEADS_HEADDIM, 2048, 1), 2048);
	CHECK_EQ_INT(plan_hidden_step(&src, PLAN_HEADS_HEADDIM, 1000, 1), 1024);
	CHECK_EQ_INT(plan_hidden_step(&src, PLAN_HEADS_HEADDIM, 1000, -1), 960);
	CHECK_EQ_INT(plan_inter_step(&src, 2816, 1), 2880);
	CHECK_EQ_INT(plan_inter_step(&src, 5632, 1), 5632);
	CHECK_EQ_INT(plan_layers_step(&src, 8, 1), 8);
	CHECK_EQ_INT(plan_layers_step(&src, 1, -1), 1);
	CHECK_EQ_INT(plan_layers_step(&src, 4, -1), 3);
}

static void test_zindi(void)
{
	/* DESIGN §1.3: zindi = LB (2 - P/PARAM_SIZE) / 2. By hand:
	 * 50M:  P/PS = 50480128/421939200 = 0.119638...;
	 *       0.4965 * 1.880362 / 2 = 0.466800 -> published 0.4668 (match)
	 * 100M: P/PS = 0.250021; 0.5211 * 1.749979 / 2 = 0.455957 -> 0.4560,
	 *       published 0.4559 (5.7e-5 lower: the LB was rounded; any
	 *       LB in [0.52105, 0.52110) gives both published figures)
	 * 40M:  P/PS = 0.099747; 0.5326 * 1.900253 / 2 = 0.506037 -> 0.5060,
	 *       published 0.5061 (6.3e-5 higher: LB in [0.53261, 0.53265)
	 *       gives both published figures) */
	CHECK_NEAR(score_zindi(0.4965, 50480128), 0.466800, 5e-7);
	CHECK_NEAR(score_zindi(0.5211, 105493504), 0.455957, 5e-7);
	CHECK_NEAR(score_zindi(0.5326, 42087424), 0.506037, 5e-7);
	CHECK_NEAR(score_zindi(0.4965, 50480128), 0.4668, 5e-5);
	CHECK_NEAR(score_zindi(0.5211, 105493504), 0.4559, 1e-4);
	CHECK_NEAR(score_zindi(0.5326, 42087424), 0.5061, 1e-4);
	CHECK_NEAR(score_zindi(0.3, SCORE_PARAM_SIZE), 0.15, 1e-15);
	CHECK_NEAR(score_zindi(0.3, 0), 0.3, 1e-15);
	/* break-even: 2 * 0.5061 / (2 - 0.099747) = 0.532666 */
	CHECK_NEAR(score_breakeven_lb(0.5061, 42087424), 0.532666, 5e-7);
	double lb = score_breakeven_lb(0.5061, 50480128);
	CHECK_NEAR(score_zindi(lb, 50480128), 0.5061, 1e-12);
}

static void test_names(void)
{
	CHECK_EQ_INT(plan_select_parse("recipe-random"),
		     PLAN_SELECT_RECIPE_RANDOM);
	CHECK_EQ_INT(plan_tie_parse("lm_head"), PLAN_TIE_LM_HEAD);
	CHECK_EQ_INT(plan_tie_parse("EMBED"), PLAN_TIE_EMBED);
	CHECK_EQ_INT(plan_head_mode_parse("headdim"), PLAN_HEADS_HEADDIM);
	CHECK_EQ_INT(plan_head_mode_parse("heads"), PLAN_HEADS_DROP);
	CHECK_EQ_INT(plan_tie_parse("sideways"), -1);
	CHECK_STR(plan_select_name(PLAN_SELECT_MAGNITUDE), "magnitude");
	CHECK_STR(plan_layer_mode_name(PLAN_LAYERS_RANK), "rank");
}

int main(void)
{
	test_design_table();
	test_snap();
	test_validate();
	test_gqa();
	test_steps();
	test_zindi();
	test_names();
	return TEST_SUMMARY();
}
