/* Tests for what the explorer holds: tui/workbench (plan, estimate,
 * background prepare/quality/export/generation on a small model),
 * core/prompts, core/job, core/measured. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export.h"
#include "fileio.h"
#include "history.h"
#include "job.h"
#include "measured.h"
#include "model.h"
#include "prompts.h"
#include "safetensors.h"
#include "score.h"
#include "test.h"
#include "workbench.h"

static void write_tmp(const char *path, const char *s)
{
	struct err e;
	file_write_atomic(path, s, strlen(s), &e);
}

static void test_fill(void)
{
	char *s =
	    prompts_fill(prompts_challenge_template, "Translate", "Hello");
	CHECK_STR(s, "Below is an instruction that describes a task, paired "
		     "with an input that provides further context. Write a "
		     "response that appropriately completes the request.\n\n"
		     " ### Instruction: Translate\nHello\n\n ### Response: ");
	free(s);
	/* values containing placeholders are not expanded again */
	s = prompts_fill("{input}|{instruction}", "{input}", "x");
	CHECK_STR(s, "x|{input}");
	free(s);
}

static void test_shipped(void)
{
	struct prompt_set *s;
	struct err e = {0};
	CHECK_EQ_INT(prompts_load("assets/prompts/prompts.json", &s, &e), 0);
	if (!s)
		return;
	CHECK(s->n >= 100);
	size_t tasks = 0, texts = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (!strcmp(s->items[i].kind, "task")) {
			tasks++;
			CHECK(strstr(s->items[i].text, " ### Response: ") !=
			      NULL);
		} else {
			texts++;
		}
	}
	CHECK(tasks > 0 && texts > 0);
	prompts_free(s);
}

static void test_bad(void)
{
	const char *path = "/tmp/punguza-test-prompts.json";
	struct prompt_set *s;
	struct err e = {0};
	const char *cases[][2] = {
	    {"{", "malformed JSON"},
	    {"{\"format\":\"x\"}", "\"format\" is not"},
	    {"{\"format\":\"punguza-prompts\",\"prompts\":{}}",
	     "\"prompts\" is not an array"},
	    {"{\"format\":\"punguza-prompts\",\"prompts\":[{\"id\":\"a\","
	     "\"kind\":\"text\",\"lang\":\"swh\"}]}",
	     "prompts[0]: \"text\" is missing"},
	    {"{\"format\":\"punguza-prompts\",\"prompts\":[{\"id\":\"a\","
	     "\"kind\":\"task\",\"lang\":\"swh\",\"task\":\"mt\"}]}",
	     "prompts[0]: a task needs"},
	    {"{\"format\":\"punguza-prompts\",\"prompts\":[{\"id\":\"a\","
	     "\"kind\":\"poem\",\"lang\":\"swh\"}]}",
	     "kind 'poem'"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		write_tmp(path, cases[i][0]);
		CHECK_ERR(prompts_load(path, &s, &e), e, ERR_FORMAT,
			  cases[i][1]);
	}
	unlink(path);
	prompts_free(NULL);
}

static int count_to(void *arg, const struct progress *p, struct err *e)
{
	int *n = arg;
	for (*n = 0; *n < 1000000; (*n)++) {
		int rc = progress_report(p, *n / 1e6, "counting", e);
		if (rc)
			return rc;
		usleep(100);
	}
	return 0;
}

static int quick(void *arg, const struct progress *p, struct err *e)
{
	(void)p;
	*(int *)arg = 42;
	return err_set(e, ERR_FORMAT, "'x': failed on purpose");
}

static void test_job(void)
{
	struct job j = {0};
	struct err e = {0};
	int n = 0;
	CHECK_EQ_INT(job_start(&j, count_to, &n, &e), 0);
	CHECK_EQ_INT(job_start(&j, count_to, &n, &e), ERR_INVALID);
	double done;
	char stage[64] = "";
	/* until the thread has reported once (a loaded machine is slow) */
	for (int i = 0; i < 10000 && !stage[0]; i++) {
		usleep(1000);
		job_poll(&j, &done, stage, sizeof stage);
	}
	CHECK_EQ_INT(job_poll(&j, &done, stage, sizeof stage), JOB_RUNNING);
	CHECK_STR(stage, "counting");
	job_cancel(&j);
	CHECK_ERR(job_wait(&j, &e), e, ERR_CANCELLED, "counting: cancelled");
	CHECK(n > 0 && n < 1000000);
	int v = 0;
	CHECK_EQ_INT(job_start(&j, quick, &v, &e), 0);
	CHECK_ERR(job_wait(&j, &e), e, ERR_FORMAT, "failed on purpose");
	CHECK_EQ_INT(v, 42);
	CHECK_EQ_INT(job_poll(&j, NULL, NULL, 0), JOB_IDLE);
	job_destroy(&j);
}

static void test_plan_only(void)
{
	struct workbench *wb;
	struct err e = {0};
	CHECK_EQ_INT(wb_open_preset("inkubalm-0.4b", NULL, &wb, &e), 0);
	if (!wb)
		return;
	CHECK(wb->plan_only);
	CHECK_EQ_INT(wb->est.dst.total, 421939200);
	CHECK_EQ_INT(wb_apply_preset(wb, "published-40m", &e), 0);
	CHECK_EQ_INT(wb->est.dst.total, 42087424);
	/* DESIGN 1.3 at the published 40M's LB */
	CHECK_NEAR(wb_zindi(wb), score_zindi(0.5326, 42087424), 1e-12);
	CHECK_NEAR(wb_breakeven_lb(wb),
		   2 * 0.5061 / (2 - 42087424.0 / 421939200), 1e-12);
	wb_set_lb(wb, 1.7);
	CHECK_NEAR(wb->lb, 1.0, 0);
	CHECK_ERR(wb_start_prepare(wb, &e), e, ERR_INVALID, "plan-only");
	CHECK_ERR(wb_load_model(wb, NULL, &e), e, ERR_INVALID, "plan-only");
	wb_free(wb);
	CHECK_ERR(wb_open_preset("nonesuch", NULL, &wb, &e), e, ERR_NOTFOUND,
		  "nonesuch");
	CHECK(wb == NULL);
	wb_free(NULL);
}

/* A random model of the tokenizer's vocabulary (1,000 pieces), written as
 * a model directory, so the workbench can be driven end to end. */
static unsigned rng = 12345;
static float frand(void)
{
	rng = rng * 1103515245u + 12345u;
	return ((float)((rng >> 8) & 0xffff) / 65536.0f - 0.5f) * 0.2f;
}

static int make_model_dir(const char *dir)
{
	const int V = 1000, d = 32, f = 64, L = 2;
	char path[512];
	struct err e = {0};
	snprintf(path, sizeof path, "%s/config.json", dir);
	char cfg[1024];
	snprintf(
	    cfg, sizeof cfg,
	    "{\"vocab_size\": %d, \"hidden_size\": %d, "
	    "\"intermediate_size\": %d, \"num_hidden_layers\": %d, "
	    "\"num_attention_heads\": 4, \"rms_norm_eps\": 1e-5, "
	    "\"max_position_embeddings\": 512, \"bos_token_id\": 1, "
	    "\"eos_token_id\": 2, \"auto_map\": {\"AutoModelForCausalLM\": "
	    "\"vulavulaslm.VulavulaLlamaForCausalLM\"}}",
	    V, d, f, L);
	if (file_write_atomic(path, cfg, strlen(cfg), &e))
		return -1;
	struct tensor_src t[32];
	float *bufs[32];
	int n = 0;
	char names[32][96];
#define ADD(nm, a, b)                                                          \
	do {                                                                   \
		snprintf(names[n], sizeof names[n], "%s", nm);                 \
		int64_t cnt = (int64_t)(a) * ((b) ? (b) : 1);                  \
		bufs[n] = malloc((size_t)cnt * sizeof(float));                 \
		for (int64_t i = 0; i < cnt; i++)                              \
			bufs[n][i] = (b) ? frand() : 1.0f;                     \
		t[n] = (struct tensor_src){.name = names[n],                   \
					   .dtype = DTYPE_F32,                 \
					   .ndim = (b) ? 2 : 1,                \
					   .shape = {(a), (b)},                \
					   .src = bufs[n],                     \
					   .src_dtype = DTYPE_F32};            \
		n++;                                                           \
	} while (0)
	ADD("model.embed_tokens.weight", V, d);
	ADD("lm_head.weight", V, d);
	ADD("model.norm.weight", d, 0);
	for (int l = 0; l < L; l++) {
		char nm[96];
		const char *mats[] = {"q", "k", "v", "o"};
		for (int m = 0; m < 4; m++) {
			snprintf(nm, sizeof nm,
				 "model.layers.%d.self_attn.%s_proj.weight", l,
				 mats[m]);
			ADD(nm, d, d);
		}
		snprintf(nm, sizeof nm,
			 "model.layers.%d.input_layernorm.weight", l);
		ADD(nm, d, 0);
		snprintf(nm, sizeof nm,
			 "model.layers.%d.post_attention_layernorm.weight", l);
		ADD(nm, d, 0);
	}
	ADD("model.layers.1.mlp.gate_proj.weight", f, d);
	ADD("model.layers.1.mlp.up_proj.weight", f, d);
	ADD("model.layers.1.mlp.down_proj.weight", d, f);
#undef ADD
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	int rc = safetensors_write(path, t, (size_t)n, NULL, &e);
	for (int i = 0; i < n; i++)
		free(bufs[i]);
	if (rc)
		return -1;
	/* the tokenizer: a 1,000-piece SentencePiece BPE model */
	char *tok;
	size_t len;
	if (file_read_all("tests/data/spm/bpe.model", 1u << 24, &tok, &len, &e))
		return -1;
	snprintf(path, sizeof path, "%s/tokenizer.model", dir);
	rc = file_write_atomic(path, tok, len, &e);
	free(tok);
	return rc ? -1 : 0;
}

/* Polls the workbench until its task ends (at most ~10 min: a generous
 * bound for a sanitizer build on a loaded machine; it returns as soon as
 * the task ends). */
static void wait_task(struct workbench *wb)
{
	for (int i = 0;
	     i < 60000 && wb_task_status(wb, NULL, NULL, 0) != WB_TASK_NONE;
	     i++) {
		wb_poll(wb);
		usleep(10000);
	}
	wb_poll(wb);
}

static void test_workbench_model(void)
{
	char dir[] = "/tmp/punguza-wb-XXXXXX";
	if (!mkdtemp(dir) || make_model_dir(dir)) {
		CHECK_MSG(0, "cannot make a model in %s", dir);
		return;
	}
	struct workbench *wb;
	struct err e = {0};
	CHECK_EQ_INT(wb_open_dir(dir, &wb, &e), 0);
	if (!wb)
		return;
	CHECK(!wb->plan_only && wb->tok && !wb->model);
	const char *corpus[] = {"assets/corpus/udhr_swh.txt",
				"assets/corpus/udhr_hau.txt"};
	CHECK_EQ_INT(
	    wb_set_inputs(wb, corpus, 2, "assets/corpus/udhr_swh.txt", &e), 0);
	/* a plan: vocabulary 600, half width, one layer, tied */
	struct prune_plan p;
	prune_plan_init(&p);
	p.vocab_mode = PLAN_VOCAB_TOP_K;
	p.vocab_keep = 600;
	p.width_factor = 0.5;
	p.n_layers = 1;
	p.tie = PLAN_TIE_LM_HEAD;
	CHECK_EQ_INT(wb_set_plan(wb, &p, &e), 0);
	prune_plan_free(&p);
	CHECK_EQ_INT(wb->est.cfg.vocab_size, 600);
	CHECK(!wb_applied(wb));
	CHECK_EQ_INT(wb_start_prepare(wb, &e), 0);
	CHECK_ERR(wb_start_count(wb, &e), e, ERR_INVALID, "another task");
	wait_task(wb);
	CHECK_STR(wb->task_error, "");
	CHECK(wb->model != NULL && wb->counts != NULL);
	CHECK(wb_applied(wb));
	if (!wb_applied(wb))
		goto out;
	CHECK_EQ_INT(wb->pruned->cfg.vocab_size, 600);
	CHECK_EQ_INT(wb->pruned->cfg.hidden_size, 16);
	CHECK_EQ_INT(wb->pruned->cfg.n_layers, 1);
	CHECK_EQ_INT(model_param_count(wb->pruned), wb->est.dst.total);
	/* quality: remembered for this plan only */
	CHECK(wb_quality_current(wb) == NULL);
	CHECK_EQ_INT(wb_start_quality(wb, &e), 0);
	wait_task(wb);
	const struct wb_quality *q = wb_quality_current(wb);
	CHECK(q != NULL);
	if (q) {
		CHECK(q->orig.bpb > 0 && q->pruned.bpb > 0);
		CHECK(!q->has_kl); /* the vocabulary changed */
		CHECK_EQ_INT(q->n_layers, 2);
	}
	/* generation on both sides streams text and stops */
	struct gen_opts go;
	gen_defaults(&go);
	go.max_new = 8;
	CHECK_EQ_INT(wb_gen_start(wb, WB_ORIGINAL, "Watu wote", &go, &e), 0);
	CHECK_EQ_INT(wb_gen_start(wb, WB_PRUNED, "Watu wote", &go, &e), 0);
	struct wb_gen_view v;
	for (int i = 0; i < 12000; i++) { /* up to 2 min, ends when done */
		struct wb_gen_view vo;
		wb_gen_view(wb, WB_PRUNED, &v);
		wb_gen_view(wb, WB_ORIGINAL, &vo);
		if (v.done && vo.done) /* both: a loaded machine is slow */
			break;
		usleep(10000);
	}
	wb_poll(wb);
	wb_gen_view(wb, WB_ORIGINAL, &v);
	CHECK(v.done && v.tokens > 0 && v.error == NULL);
	/* generation: how each side ended is said, and the count is the
	 * real token count */
	wb_gen_view(wb, WB_PRUNED, &v);
	CHECK(v.stopped_eos || v.stopped_length);
	CHECK(!v.stopped_user);
	CHECK_EQ_INT(v.max_new, 8);
	if (v.stopped_length)
		CHECK_EQ_INT(v.tokens, 8);
	go.max_new = 400;
	CHECK_EQ_INT(wb_gen_start(wb, WB_ORIGINAL, "Watu wote", &go, &e), 0);
	wb_gen_stop(wb, WB_ORIGINAL);
	wb_gen_view(wb, WB_ORIGINAL, &v);
	CHECK(v.done && !v.running);
	CHECK(v.stopped_user || v.stopped_eos || v.tokens == 400);
	wb_gen_clear(wb, WB_ORIGINAL);
	wb_gen_view(wb, WB_ORIGINAL, &v);
	CHECK(!v.has_run && v.text && !*v.text && v.tokens == 0);
	/* the last job's state, with its elapsed time */
	struct wb_job_info ji;
	wb_job_info(wb, &ji);
	CHECK_EQ_INT(ji.kind, WB_TASK_QUALITY);
	CHECK_EQ_INT(ji.state, WB_JOB_DONE);
	CHECK(ji.elapsed > 0);
	CHECK_STR(wb_task_name(WB_TASK_EXPORT), "export");
	/* export: the files land, and the model loads back (beside the
	 * source: never inside it) */
	char out[600];
	snprintf(out, sizeof out, "%s-out", dir);
	CHECK_EQ_INT(
	    wb_start_export(wb, out, EXPORT_HF | EXPORT_GGUF, false, &e), 0);
	wait_task(wb);
	CHECK_STR(wb->task_error, "");
	CHECK(wb->exported.done && wb->exported.n_files >= 5);
	struct model *m = NULL;
	CHECK_EQ_INT(model_load(out, &m, NULL, &e), 0);
	if (m)
		CHECK_EQ_INT(model_param_count(m), wb->est.dst.total);
	model_free(m);
	/* a second export into the same folder, a previous export, needs
	 * the user's yes; refused before anything starts */
	struct wb_export_target tg;
	CHECK_EQ_INT(wb_export_inspect(wb, out, &tg, &e), 0);
	CHECK_EQ_INT(tg.kind, WB_TARGET_EXPORT);
	CHECK(tg.n_entries >= 5 && tg.n_listed == tg.n_entries);
	CHECK_ERR(wb_start_export(wb, out, EXPORT_HF, false, &e), e,
		  ERR_INVALID, "confirm replacing");
	CHECK(!wb->exported.done); /* the old result is not this attempt's */
	CHECK_ERR(wb_start_export(wb, out, 0, true, &e), e, ERR_INVALID,
		  "no format chosen");
	/* confirmed: replaced, the result restarts */
	CHECK_EQ_INT(wb_start_export(wb, out, EXPORT_HF, true, &e), 0);
	CHECK(!wb->exported.done);
	wait_task(wb);
	CHECK_STR(wb->task_error, "");
	CHECK(wb->exported.done);
	char gg[700];
	snprintf(gg, sizeof gg, "%s/model.gguf", out);
	CHECK(!path_exists(gg)); /* HF only this time: the old file went */
	/* a folder with anything else in it is never replaced, even when
	 * "replace" is set */
	char notes[700];
	snprintf(notes, sizeof notes, "%s/notes.txt", out);
	write_tmp(notes, "mine");
	CHECK_EQ_INT(wb_export_inspect(wb, out, &tg, &e), 0);
	CHECK_EQ_INT(tg.kind, WB_TARGET_FOREIGN);
	CHECK(strstr(tg.why, "notes.txt") != NULL);
	CHECK_ERR(wb_start_export(wb, out, EXPORT_HF, true, &e), e, ERR_INVALID,
		  "never replaced");
	CHECK(path_exists(notes));
	/* moving a knob makes the copy stale; moving it back does not */
	struct prune_plan p2;
	prune_plan_copy(&p2, &wb->plan, &e);
	p2.n_layers = 2;
	wb_set_plan(wb, &p2, &e);
	CHECK(!wb_applied(wb) && wb_quality_current(wb) == NULL);
	p2.n_layers = 1;
	wb_set_plan(wb, &p2, &e);
	prune_plan_free(&p2);
	CHECK(wb_applied(wb) && wb_quality_current(wb) != NULL);
out:
	wb_free(wb);
	export_remove_tree(dir, &e);
	char made[600];
	snprintf(made, sizeof made, "%s-out", dir);
	export_remove_tree(made, &e);
}

/* Quality of a plan whose vocabulary mode keeps every piece: KL and
 * top-1 are valid (the ids are the same). Knobs typed, reset, stepped;
 * the measured layer ranking applied. */
static void test_knobs_and_kl(void)
{
	char dir[] = "/tmp/punguza-wb2-XXXXXX";
	if (!mkdtemp(dir) || make_model_dir(dir)) {
		CHECK_MSG(0, "cannot make a model in %s", dir);
		return;
	}
	struct workbench *wb;
	struct err e = {0};
	CHECK_EQ_INT(wb_open_dir(dir, &wb, &e), 0);
	if (!wb)
		return;
	const char *corpus[] = {"assets/corpus/udhr_swh.txt"};
	wb_set_inputs(wb, corpus, 1, "assets/corpus/udhr_hau.txt", &e);
	/* typed values */
	CHECK_EQ_INT(wb_set_knob_text(wb, WB_KNOB_VOCAB, "1,000", &e), 0);
	CHECK_EQ_INT(wb->plan.vocab_mode, PLAN_VOCAB_NONE); /* all 1,000 */
	CHECK_EQ_INT(wb_set_knob_text(wb, WB_KNOB_VOCAB, "600", &e), 0);
	CHECK_EQ_INT(wb->est.cfg.vocab_size, 600);
	CHECK_ERR(wb_set_knob_text(wb, WB_KNOB_VOCAB, "lots", &e), e,
		  ERR_INVALID, "'lots' is not a number");
	CHECK_EQ_INT(wb->est.cfg.vocab_size, 600); /* the plan stayed */
	CHECK_EQ_INT(wb_set_knob_text(wb, WB_KNOB_HIDDEN, "16", &e), 0);
	CHECK_EQ_INT(wb->est.cfg.hidden_size, 16);
	CHECK_EQ_INT(wb_set_knob_text(wb, WB_KNOB_INTER, "32", &e), 0);
	CHECK_EQ_INT(wb->est.cfg.intermediate_size, 32);
	CHECK_EQ_INT(wb_set_knob_text(wb, WB_KNOB_INTER, "", &e), 0);
	CHECK_EQ_INT(wb->plan.intermediate, 0);		 /* follows d again */
	CHECK_EQ_INT(wb->est.cfg.intermediate_size, 32); /* 64 x 16/32 */
	CHECK_EQ_INT(wb_set_knob_text(wb, WB_KNOB_LAYERS, "1", &e), 0);
	CHECK_EQ_INT(wb->est.cfg.n_layers, 1);
	/* reset one knob, the others stay */
	CHECK_EQ_INT(wb_reset_knob(wb, WB_KNOB_HIDDEN, &e), 0);
	CHECK_EQ_INT(wb->est.cfg.hidden_size, 32);
	CHECK_EQ_INT(wb->est.cfg.vocab_size, 600);
	CHECK_EQ_INT(wb->est.cfg.n_layers, 1);
	/* finer vocabulary steps near the cut */
	int s1 = wb_vocab_step(wb, 1000, -1);
	CHECK(s1 < 1000 && s1 >= 900);
	CHECK_EQ_INT(wb_vocab_step(wb, 600, +1), 620);
	CHECK_EQ_INT(wb_vocab_step(wb, 1000, +1), 1000);
	/* top-K of every piece: a vocabulary mode, the same vocabulary */
	CHECK_EQ_INT(wb_reset_knob(wb, WB_KNOB_VOCAB, &e), 0);
	CHECK_EQ_INT(wb_reset_knob(wb, WB_KNOB_LAYERS, &e), 0);
	struct prune_plan p;
	prune_plan_copy(&p, &wb->plan, &e);
	p.vocab_mode = PLAN_VOCAB_TOP_K;
	p.vocab_keep = 1000;
	wb_set_plan(wb, &p, &e);
	prune_plan_free(&p);
	CHECK_ERR(wb_apply_layer_ranking(wb, &e), e, ERR_INVALID,
		  "measure quality first");
	CHECK_EQ_INT(wb_start_prepare(wb, &e), 0);
	wait_task(wb);
	CHECK_STR(wb->task_error, "");
	CHECK_EQ_INT(wb_start_quality(wb, &e), 0);
	wait_task(wb);
	CHECK_STR(wb->task_error, "");
	const struct wb_quality *q = wb_quality_current(wb);
	CHECK(q != NULL);
	if (q) {
		CHECK(q->has_kl);
		CHECK(q->pruned.top1 > 0.99); /* nothing else was cut */
	}
	/* keep the most influential layer */
	const struct wb_quality *ls = wb_layer_scores(wb);
	CHECK(ls != NULL && ls->has_layer_scores);
	if (ls) {
		int best = ls->layer_score[1] > ls->layer_score[0] ? 1 : 0;
		CHECK_EQ_INT(wb_set_knob_text(wb, WB_KNOB_LAYERS, "1", &e), 0);
		CHECK_EQ_INT(wb_apply_layer_ranking(wb, &e), 0);
		CHECK_EQ_INT(wb->plan.layer_mode, PLAN_LAYERS_LIST);
		CHECK_EQ_INT(wb->plan.n_layer_list, 1);
		if (wb->plan.layer_list)
			CHECK_EQ_INT(wb->plan.layer_list[0], best);
	}
	/* save and load the plan as a recipe */
	char rp[600];
	snprintf(rp, sizeof rp, "%s/plan.json", dir);
	CHECK_EQ_INT(wb_save_recipe(wb, rp, &e), 0);
	wb_reset_knob(wb, WB_KNOB_LAYERS, &e);
	CHECK_EQ_INT(wb->est.cfg.n_layers, 2);
	CHECK_EQ_INT(wb_load_recipe(wb, rp, &e), 0);
	CHECK_EQ_INT(wb->est.cfg.n_layers, 1);
	CHECK_ERR(wb_load_recipe(wb, "/nonexistent.json", &e), e, ERR_NOTFOUND,
		  "nonexistent.json");
	/* a failed job says so, with its message */
	wb_set_inputs(wb, corpus, 1, "/nonexistent/heldout.txt", &e);
	struct prune_plan p3;
	prune_plan_copy(&p3, &wb->plan, &e);
	p3.seed = 77; /* not measured yet */
	wb_set_plan(wb, &p3, &e);
	prune_plan_free(&p3);
	CHECK_EQ_INT(wb_start_prepare(wb, &e), 0);
	wait_task(wb);
	CHECK_EQ_INT(wb_start_quality(wb, &e), 0);
	wait_task(wb);
	struct wb_job_info ji;
	wb_job_info(wb, &ji);
	CHECK_EQ_INT(ji.kind, WB_TASK_QUALITY);
	CHECK_EQ_INT(ji.state, WB_JOB_FAILED);
	CHECK(ji.error && strstr(ji.error, "heldout.txt"));
	wb_free(wb);
	export_remove_tree(dir, &e);
}

/* The export folder's checks, and the default folder. */
static void test_export_target(void)
{
	char dir[] = "/tmp/punguza-wb3-XXXXXX";
	if (!mkdtemp(dir) || make_model_dir(dir)) {
		CHECK_MSG(0, "cannot make a model in %s", dir);
		return;
	}
	struct workbench *wb;
	struct err e = {0};
	CHECK_EQ_INT(wb_open_dir(dir, &wb, &e), 0);
	if (!wb)
		return;
	char base[] = "/tmp/punguza-wb3t-XXXXXX", p[700];
	CHECK(mkdtemp(base) != NULL);
	struct wb_export_target t;
	snprintf(p, sizeof p, "%s/new", base);
	CHECK_EQ_INT(wb_export_inspect(wb, p, &t, &e), 0);
	CHECK_EQ_INT(t.kind, WB_TARGET_NEW);
	CHECK_EQ_INT(wb_export_inspect(wb, base, &t, &e), 0);
	CHECK_EQ_INT(t.kind, WB_TARGET_EMPTY);
	snprintf(p, sizeof p, "%s/no/such/out", base);
	CHECK_EQ_INT(wb_export_inspect(wb, p, &t, &e), 0);
	CHECK_EQ_INT(t.kind, WB_TARGET_REFUSED);
	CHECK(strstr(t.why, "/no/such' does not exist") != NULL);
	CHECK(strstr(t.why, "tmp-") == NULL);
	/* the source, and a folder inside it */
	CHECK_EQ_INT(wb_export_inspect(wb, dir, &t, &e), 0);
	CHECK_EQ_INT(t.kind, WB_TARGET_REFUSED);
	CHECK(strstr(t.why, "source folder") != NULL);
	char up[600];
	snprintf(up, sizeof up, "%s/..", dir);
	CHECK_EQ_INT(wb_export_inspect(wb, up, &t, &e), 0);
	CHECK_EQ_INT(t.kind, WB_TARGET_REFUSED);
	/* a file */
	snprintf(p, sizeof p, "%s/file", base);
	write_tmp(p, "x");
	CHECK_EQ_INT(wb_export_inspect(wb, p, &t, &e), 0);
	CHECK_EQ_INT(t.kind, WB_TARGET_REFUSED);
	/* a folder with punguza.json but also a sub-folder: foreign */
	char d2[200];
	snprintf(d2, sizeof d2, "%s/ex", base);
	mkdir(d2, 0777);
	snprintf(p, sizeof p, "%s/punguza.json", d2);
	write_tmp(p, "{}");
	snprintf(p, sizeof p, "%s/config.json", d2);
	write_tmp(p, "{}");
	CHECK_EQ_INT(wb_export_inspect(wb, d2, &t, &e), 0);
	CHECK_EQ_INT(t.kind, WB_TARGET_EXPORT);
	CHECK_EQ_INT(t.n_listed, 2);
	CHECK_STR(t.entries[0], "config.json");
	snprintf(p, sizeof p, "%s/sub", d2);
	mkdir(p, 0777);
	CHECK_EQ_INT(wb_export_inspect(wb, d2, &t, &e), 0);
	CHECK_EQ_INT(t.kind, WB_TARGET_FOREIGN);
	CHECK(strstr(t.why, "sub/") != NULL);
	/* export-named files without a punguza.json: not an export */
	rmdir(p);
	snprintf(p, sizeof p, "%s/punguza.json", d2);
	unlink(p);
	CHECK_EQ_INT(wb_export_inspect(wb, d2, &t, &e), 0);
	CHECK_EQ_INT(t.kind, WB_TARGET_FOREIGN);
	/* the default folder: under HOME, never in the source; its parent
	 * is made by the export */
	char *old = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	setenv("HOME", base, 1);
	char def[700];
	wb_default_export_dir(wb, def, sizeof def);
	snprintf(p, sizeof p, "%s/punguza-exports/", base);
	CHECK(!strncmp(def, p, strlen(p)));
	CHECK(strstr(def, wb->name) != NULL);
	CHECK_EQ_INT(wb_export_inspect(wb, def, &t, &e), 0);
	CHECK_EQ_INT(t.kind, WB_TARGET_NEW);
	CHECK(t.create_parent);
	if (old) {
		setenv("HOME", old, 1);
		free(old);
	}
	wb_free(wb);
	export_remove_tree(dir, &e);
	export_remove_tree(base, &e);
}

/* A damaged weights file is named when the model is opened; a folder
 * without weights opens plan-only. */
static void test_damaged(void)
{
	char dir[] = "/tmp/punguza-wb4-XXXXXX";
	if (!mkdtemp(dir) || make_model_dir(dir)) {
		CHECK_MSG(0, "cannot make a model in %s", dir);
		return;
	}
	char p[600];
	snprintf(p, sizeof p, "%s/model.safetensors", dir);
	struct stat st;
	CHECK(stat(p, &st) == 0);
	CHECK(truncate(p, st.st_size / 2) == 0);
	struct workbench *wb = NULL;
	struct err e = {0};
	CHECK_ERR(wb_open_dir(dir, &wb, &e), e, ERR_FORMAT,
		  "model.safetensors");
	CHECK(wb == NULL);
	unlink(p);
	CHECK_EQ_INT(wb_open_dir(dir, &wb, &e), 0);
	CHECK(wb && wb->plan_only);
	if (wb)
		CHECK_ERR(wb_start_prepare(wb, &e), e, ERR_INVALID,
			  "no weights");
	wb_free(wb);
	export_remove_tree(dir, &e);
}

/* Healing from the workbench: start, points, stop with a checkpoint,
 * resume, adopt the healed model; the history records cut and healed. */
static void test_heal(void)
{
	char dir[] = "/tmp/punguza-wbh-XXXXXX", home[] = "/tmp/punguza-home-XXXXXX";
	if (!mkdtemp(dir) || make_model_dir(dir) || !mkdtemp(home)) {
		CHECK_MSG(0, "cannot make a model in %s", dir);
		return;
	}
	char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	setenv("HOME", home, 1);
	struct workbench *wb;
	struct err e = {0};
	CHECK_EQ_INT(wb_open_dir(dir, &wb, &e), 0);
	if (!wb)
		return;
	const char *corpus[] = {"assets/corpus/udhr_swh.txt"};
	wb_set_inputs(wb, corpus, 1, "assets/corpus/udhr_hau.txt", &e);
	CHECK_EQ_INT(wb_set_knob_text(wb, WB_KNOB_HIDDEN, "16", &e), 0);
	CHECK_ERR(wb_start_heal(wb, false, &e), e, ERR_INVALID,
		  "apply the plan first");
	CHECK_EQ_INT(wb_start_prepare(wb, &e), 0);
	wait_task(wb);
	CHECK_EQ_INT(wb_start_quality(wb, &e), 0);
	wait_task(wb);
	CHECK(wb_quality_current(wb) != NULL);
	CHECK(!wb->history_failed);
	struct model *cut = wb->pruned;
	char hd[1024];
	wb_heal_dir(wb, hd, sizeof hd);
	CHECK(strncmp(hd, home, strlen(home)) == 0);
	CHECK(strstr(hd, "/punguza-exports/") != NULL);
	struct wb_heal_view v;
	wb_heal_view(wb, &v);
	CHECK(!v.running && !v.healed && !v.resumable && !v.finished);
	CHECK(v.have_orig); /* from the quality measurement */
	CHECK_ERR(wb_start_heal(wb, true, &e), e, ERR_INVALID,
		  "no unfinished heal");

	/* start, watch, stop: a checkpoint */
	wb_set_heal_budget(wb, 30, 0);
	CHECK_EQ_INT(wb_start_heal(wb, false, &e), 0);
	for (int i = 0; i < 60000; i++) {
		wb_heal_view(wb, &v);
		if (v.snap.have_point && v.snap.last.step >= 2)
			break;
		usleep(10000);
	}
	CHECK(v.running && v.snap.have_point);
	CHECK(v.snap.n_evals >= 1); /* step 0: the cut */
	wb_stop_heal(wb);
	wait_task(wb);
	struct wb_job_info ji;
	wb_job_info(wb, &ji);
	CHECK_EQ_INT(ji.kind, WB_TASK_HEAL);
	CHECK_EQ_INT(ji.state, WB_JOB_CANCELLED);
	wb_heal_view(wb, &v);
	CHECK(v.resumable && !v.healed);
	CHECK(wb->pruned == cut); /* not adopted */
	uint64_t stopped = v.snap.last.step;
	CHECK(stopped >= 2 && stopped < 30);

	/* resume: continues after the checkpoint, then adopts */
	CHECK_EQ_INT(wb_start_heal(wb, true, &e), 0);
	wait_task(wb);
	CHECK_STR(wb->task_error, "");
	wb_heal_view(wb, &v);
	CHECK(v.healed && v.finished && !v.resumable);
	CHECK_EQ_INT((int)v.snap.last.step, 30);
	CHECK(v.snap.n_evals >= 3);
	CHECK(wb_healed(wb) && wb->cut == cut && wb->pruned != cut);
	CHECK(v.snap.evals[v.snap.n_evals - 1].bpb > 0 &&
	      v.snap.evals[v.snap.n_evals - 1].step == 30);
	/* quality of the healed side is its own measurement */
	CHECK(wb_quality_current(wb) == NULL);
	CHECK_EQ_INT(wb_start_quality(wb, &e), 0);
	wait_task(wb);
	const struct wb_quality *q = wb_quality_current(wb);
	CHECK(q && q->healed);

	/* the history has cut and healed figures for the plan */
	struct history h;
	CHECK_EQ_INT(history_load(dir, &h, &e), 0);
	CHECK_EQ_INT(h.n, 1);
	if (h.n == 1) {
		CHECK(h.v[0].have_cut && h.v[0].have_healed);
		CHECK(h.v[0].have_cut_ref && h.v[0].have_healed_ref);
		CHECK(h.v[0].bpb_healed > 0 && h.v[0].bpb_cut > 0);
		CHECK(h.v[0].heal_tokens > 0);
		CHECK_EQ_INT((long long)h.v[0].params,
			     (long long)wb->est.dst.total);
	}
	history_free(&h);

	/* a new plan, with a cut vocabulary: the cut is fresh, not healed;
	 * healing it reads the teacher through the kept pieces */
	CHECK_EQ_INT(wb_set_knob_text(wb, WB_KNOB_VOCAB, "600", &e), 0);
	CHECK_EQ_INT(wb_start_prepare(wb, &e), 0);
	wait_task(wb);
	CHECK(!wb_healed(wb) && wb->cut == NULL);
	CHECK(wb->pruned_tok != NULL);
	wb_set_heal_budget(wb, 2, 0);
	CHECK_EQ_INT(wb_start_heal(wb, false, &e), 0);
	wait_task(wb);
	CHECK_STR(wb->task_error, "");
	CHECK(wb_healed(wb));
	if (wb->pruned)
		CHECK_EQ_INT(wb->pruned->cfg.vocab_size, 600);
	wb_heal_view(wb, &v);
	CHECK(v.snap.n_evals >= 2 && v.snap.evals[0].has_ref);
	CHECK_EQ_INT(history_load(dir, &h, &e), 0);
	CHECK_EQ_INT(h.n, 2);
	history_free(&h);
	wb_free(wb);
	export_remove_tree(dir, &e);
	export_remove_tree(home, &e);
	if (old_home) {
		setenv("HOME", old_home, 1);
		free(old_home);
	}
}

static void test_measured(void)
{
	char dir[] = "/tmp/punguza-cache-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	setenv("PUNGUZA_CACHE", dir, 1);
	const char *model = "tests/data/models/shared_untied";
	struct measured m = {0.25, 0.125, 12, 0}, got;
	bool found = true;
	struct err e = {0};
	CHECK_EQ_INT(measured_load(model, &got, &found, &e), 0);
	CHECK(!found);
	CHECK_EQ_INT(measured_save(model, &m, &e), 0);
	CHECK_EQ_INT(measured_load(model, &got, &found, &e), 0);
	CHECK(found);
	CHECK_NEAR(got.lb_tasks, 0.25, 0);
	CHECK_NEAR(got.lb_pooled, 0.125, 0);
	CHECK_EQ_INT(got.rows, 12);
	CHECK_EQ_INT(got.weights_bytes, measured_weights_bytes(model));
	/* the explorer picks it up */
	struct workbench *wb;
	CHECK_EQ_INT(wb_open_dir(model, &wb, &e), 0);
	if (wb) {
		CHECK(wb->lb_measured);
		CHECK_NEAR(wb->lb, 0.25, 0);
	}
	wb_free(wb);
	/* another model has no record */
	CHECK_EQ_INT(measured_load("tests/data/models/odd72", &got, &found, &e),
		     0);
	CHECK(!found);
	char file[600];
	snprintf(file, sizeof file, "%s/measured.json", dir);
	file_write_atomic(file, "[1]", 3, &e);
	CHECK_ERR(measured_load(model, &got, &found, &e), e, ERR_FORMAT,
		  "not a JSON object");
	unlink(file);
	rmdir(dir);
	unsetenv("PUNGUZA_CACHE");
}

int main(void)
{
	/* the history and measurements go to a cache of our own */
	char cache[] = "/tmp/punguza-wbcache-XXXXXX";
	if (mkdtemp(cache))
		setenv("PUNGUZA_CACHE", cache, 1);
	test_heal();
	test_plan_only();
	test_workbench_model();
	test_knobs_and_kl();
	test_export_target();
	test_damaged();
	test_measured();
	test_fill();
	test_shipped();
	test_bad();
	test_job();
	struct err e;
	setenv("PUNGUZA_CACHE", cache, 1);
	export_remove_tree(cache, &e);
	return TEST_SUMMARY();
}
