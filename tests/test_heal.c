/* Tests for prune/heal and prune/heal_data: the schedule, the teacher view's
 * logit gather, data-free sampling inside the student vocabulary, corpus
 * batches, and heal_run on a small pruned copy of the shipped model: loss
 * goes down, two runs give the same bytes, 6 steps == 3 + resume 3, a
 * cancel leaves a loadable checkpoint, sources and non-empty outputs are
 * refused; the recipe's "heal" section round-trips. */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"
#include "eval.h"
#include "export.h"
#include "fileio.h"
#include "forward.h"
#include "heal.h"
#include "heal_data.h"
#include "job.h"
#include "model.h"
#include "recipe.h"
#include "test.h"
#include "tokenizer.h"

#define TINY "assets/tiny-inkuba"

static char tmpdir[] = "/tmp/punguza-heal-XXXXXX";
static char corpus_path[256], held_path[256];
static struct model *teacher, *student;
static struct tokenizer *tok;

static const char *tmp(const char *name)
{
	static char buf[4][512];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
	return buf[k];
}

/* The first n lines of a file into dst. */
static int head_lines(const char *src, const char *dst, int n)
{
	FILE *in = fopen(src, "r"), *out = fopen(dst, "w");
	char line[8192];
	int k = 0;
	while (in && out && k < n && fgets(line, sizeof line, in)) {
		fputs(line, out);
		k++;
	}
	if (in)
		fclose(in);
	if (out)
		fclose(out);
	return k == n ? 0 : -1;
}

static int files_equal(const char *a, const char *b)
{
	char *x = NULL, *y = NULL;
	size_t nx = 0, ny = 0;
	int eq = !file_read_all(a, 1 << 28, &x, &nx, NULL) &&
		 !file_read_all(b, 1 << 28, &y, &ny, NULL) && nx == ny &&
		 !memcmp(x, y, nx);
	free(x);
	free(y);
	return eq;
}

static void opts_for(struct heal_opts *o, const char *out)
{
	static const char *corpus[1], *held[1];
	corpus[0] = corpus_path;
	held[0] = held_path;
	heal_defaults(o);
	o->student = student;
	o->student_tok = tok;
	o->teacher = teacher;
	o->corpus = corpus;
	o->n_corpus = 1;
	o->heldout = held;
	o->n_heldout = 1;
	o->hp.batch = 4;
	o->hp.ctx = 32;
	o->hp.lr = 3e-3;
	o->hp.warmup = 2;
	o->eval_ctx = 64;
	o->threads = 1;
	o->out_dir = tmp(out);
	o->protect[0] = TINY;
	o->xo.src_dir = TINY;
	o->xo.tok = tok;
}

static void test_lr(void)
{
	struct recipe_heal h = {0};
	h.lr = 1e-3;
	h.warmup = 10;
	h.steps = 110;
	h.min_lr_ratio = 0.1;
	CHECK_NEAR(heal_lr(&h, 1), 1e-4, 1e-12);
	CHECK_NEAR(heal_lr(&h, 10), 1e-3, 1e-12);
	CHECK_NEAR(heal_lr(&h, 60), 1e-3 * (0.1 + 0.9 * 0.5), 1e-12);
	CHECK_NEAR(heal_lr(&h, 110), 1e-4, 1e-12);
	CHECK(heal_lr(&h, 30) > heal_lr(&h, 31));
}

/* The view's logits are the teacher's at the kept ids, read through the
 * same (mapped) token sequence. */
static void test_view(void)
{
	struct err e = {0};
	int V = teacher->cfg.vocab_size, n = 0;
	int *keep = malloc((size_t)V * sizeof *keep);
	for (int i = 0; i < V; i++)
		if (i < 259 || i % 7 == 3)
			keep[n++] = i;
	/* a non-monotone map too: swap two kept pieces */
	int t = keep[300];
	keep[300] = keep[301];
	keep[301] = t;
	struct model *view = NULL;
	CHECK_EQ_INT(heal_teacher_view(teacher, keep, n, &view, &e), 0);
	if (!view) {
		free(keep);
		return;
	}
	CHECK_EQ_INT(view->cfg.vocab_size, n);
	int ids_new[12] = {1, 300, 301, 5, 400, 259, 2, 301, 10, 500, 7, 8};
	int ids_old[12];
	for (int i = 0; i < 12; i++)
		ids_old[i] = keep[ids_new[i]];
	struct fwd_state *fv = NULL, *ft = NULL;
	float *lv = malloc(12 * (size_t)n * sizeof *lv);
	float *lt = malloc(12 * (size_t)V * sizeof *lt);
	CHECK_EQ_INT(fwd_new(view, 16, 16, &fv, &e), 0);
	CHECK_EQ_INT(fwd_new(teacher, 16, 16, &ft, &e), 0);
	CHECK_EQ_INT(fwd_run(fv, ids_new, 12, lv, &e), 0);
	CHECK_EQ_INT(fwd_run(ft, ids_old, 12, lt, &e), 0);
	double worst = 0;
	for (int p = 0; p < 12; p++)
		for (int i = 0; i < n; i++) {
			double d = fabs((double)lv[(size_t)p * n + i] -
					lt[(size_t)p * V + keep[i]]);
			if (d > worst)
				worst = d;
		}
	CHECK_MSG(worst < 1e-4, "view logits differ from the gather by %g",
		  worst);
	/* bad maps are refused */
	keep[0] = V;
	struct model *bad = NULL;
	CHECK_EQ_INT(heal_teacher_view(teacher, keep, n, &bad, &e),
		     ERR_INVALID);
	CHECK(bad == NULL);

	/* data-free sampling from the view: inside the student vocabulary,
	 * a pure function of (seed, k) */
	struct heal_data *d = NULL, *d2 = NULL;
	CHECK_EQ_INT(heal_data_free_new(view, 1, 8, 24, 7, &d, &e), 0);
	CHECK_EQ_INT(heal_data_free_new(view, 1, 8, 24, 7, &d2, &e), 0);
	if (d && d2) {
		int a[24], b[24], c[24];
		CHECK_EQ_INT(heal_data_sample(d, 3, a, &e), 0);
		CHECK_EQ_INT(heal_data_sample(d, 4, c, &e), 0);
		CHECK_EQ_INT(heal_data_sample(d2, 3, b, &e), 0);
		int inside = 1;
		for (int i = 0; i < 24; i++)
			inside &= a[i] >= 0 && a[i] < n && c[i] >= 0 && c[i] < n;
		CHECK(inside);
		CHECK_EQ_INT(a[0], 1);
		CHECK(!memcmp(a, b, sizeof a));
		CHECK(memcmp(a, c, sizeof a) != 0);
		int x[2 * 24], y[2 * 24];
		CHECK_EQ_INT(heal_data_batch(d, 5, 2, x, NULL, &e), 0);
		CHECK_EQ_INT(heal_data_batch(d2, 5, 2, y, NULL, &e), 0);
		CHECK(!memcmp(x, y, sizeof x));
	}
	heal_data_free(d);
	heal_data_free(d2);
	CHECK_EQ_INT(heal_data_free_new(view, -1, 8, 24, 7, &d, &e),
		     ERR_INVALID);
	free(lv);
	free(lt);
	fwd_free(fv);
	fwd_free(ft);
	model_free(view);
	free(keep);
}

static void test_corpus_batches(void)
{
	struct err e = {0};
	const char *paths[1] = {corpus_path};
	struct heal_data *d = NULL;
	CHECK_EQ_INT(
	    heal_data_corpus(tok, paths, 1, false, 32, 5, &d, NULL, &e), 0);
	if (!d)
		return;
	CHECK(d->n > 1000);
	CHECK(d->n_chunks == (d->n - 31) / 32);
	CHECK_EQ_INT(d->n_files, 1);
	CHECK(!strncmp(d->files[0].checksum, "fnv1a64:", 8));
	int a[3 * 32], b[3 * 32];
	CHECK_EQ_INT(heal_data_batch(d, 7, 3, a, NULL, &e), 0);
	CHECK_EQ_INT(heal_data_batch(d, 0, 3, b, NULL, &e), 0);
	CHECK_EQ_INT(heal_data_batch(d, 7, 3, b, NULL, &e), 0);
	CHECK(!memcmp(a, b, sizeof a)); /* (seed, step) alone decide */
	/* every row is a piece of the stream */
	int found = 0;
	for (size_t at = 0; at + 32 <= d->n && !found; at++)
		found = !memcmp(d->ids + at, a + 32, 32 * sizeof(int));
	CHECK(found);
	/* one epoch visits every chunk once */
	size_t nc = d->n_chunks;
	unsigned char *seen = calloc(nc, 1);
	int dup = 0;
	for (size_t r = 0; r < nc; r++) {
		int row[32];
		heal_data_batch(d, r, 1, row, NULL, &e);
		size_t c = (size_t)d->perm[r];
		dup |= seen[c];
		seen[c] = 1;
	}
	CHECK(!dup);
	free(seen);
	heal_data_free(d);
	char big[] = "x";
	(void)big;
	CHECK_EQ_INT(
	    heal_data_corpus(tok, paths, 1, false, 1 << 20, 5, &d, NULL, &e),
	    ERR_INVALID);
}

/* Column `col` of the log's training lines (step >= 1). */
static int log_column(const char *dir, int col, double *v, int cap)
{
	char path[512], *text = NULL;
	size_t len;
	snprintf(path, sizeof path, "%s/heal_log.tsv", dir);
	if (file_read_all(path, 1 << 24, &text, &len, NULL))
		return -1;
	int n = 0;
	char *line = strtok(text, "\n");
	while (line && n < cap) {
		long step = strtol(line, NULL, 10);
		if (step >= 1) {
			char *p = line;
			for (int c = 0; c < col && p; c++) {
				p = strchr(p, '\t');
				if (p)
					p++;
			}
			if (p)
				v[n++] = strtod(p, NULL);
		}
		line = strtok(NULL, "\n");
	}
	free(text);
	return n;
}

static int step_cancel(void *ctx, double done, const char *stage)
{
	(void)done;
	int *left = ctx;
	return !strcmp(stage, "healing") && --*left <= 0;
}

static void test_runs(void)
{
	struct err e = {0};
	struct heal_opts o;
	struct heal_result r;

	/* loss goes down over 20 steps */
	opts_for(&o, "h20");
	o.hp.steps = 20;
	o.eval_every = 10;
	o.ckpt_every = 7;
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), 0);
	if (e.code)
		fprintf(stderr, "heal: %s\n", e.msg);
	double loss[32];
	int n = log_column(tmp("h20"), 3, loss, 32);
	CHECK_EQ_INT(n, 20);
	if (n == 20) {
		double a = (loss[0] + loss[1] + loss[2]) / 3;
		double b = (loss[17] + loss[18] + loss[19]) / 3;
		CHECK_MSG(b < 0.8 * a, "loss %g -> %g", a, b);
	}
	CHECK(r.have_before && r.have_after);
	CHECK(r.after.bpb < r.before.bpb);
	CHECK(r.after.kl < r.before.kl);
	CHECK_EQ_INT(r.steps, 20);
	CHECK(!path_exists(tmp("h20/optimizer.safetensors")));
	CHECK(path_exists(tmp("h20/heal_state.json")));
	CHECK(!path_exists(tmp("h20.ckpt")));

	/* the result loads and evaluates */
	struct model *m = NULL;
	CHECK_EQ_INT(model_load(tmp("h20"), &m, NULL, &e), 0);
	if (m) {
		int ids[40];
		for (int i = 0; i < 40; i++)
			ids[i] = 1 + (i * 37) % 500;
		struct eval_opts eo;
		eval_defaults(&eo);
		eo.ctx = 32;
		eo.stride = 16;
		struct eval_result er;
		CHECK_EQ_INT(eval_run(m, NULL, ids, 40, &eo, &er, &e), 0);
		CHECK(isfinite(er.nll_mean) && er.nll_mean > 0);
		model_free(m);
	}

	/* determinism: the same run twice, the same bytes */
	opts_for(&o, "a6");
	o.hp.steps = 6;
	o.n_heldout = 0;
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), 0);
	opts_for(&o, "b6");
	o.hp.steps = 6;
	o.n_heldout = 0;
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), 0);
	CHECK(files_equal(tmp("a6/model.safetensors"),
			  tmp("b6/model.safetensors")));

	/* two threads (distill split in halves): deterministic too, and the
	 * same losses to rounding */
	double l1[8], l2[8];
	opts_for(&o, "t2a");
	o.hp.steps = 2;
	o.n_heldout = 0;
	o.threads = 2;
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), 0);
	opts_for(&o, "t2b");
	o.hp.steps = 2;
	o.n_heldout = 0;
	o.threads = 2;
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), 0);
	CHECK(files_equal(tmp("t2a/model.safetensors"),
			  tmp("t2b/model.safetensors")));
	CHECK_EQ_INT(log_column(tmp("t2a"), 3, l2, 8), 2);
	CHECK_EQ_INT(log_column(tmp("a6"), 3, l1, 8), 6);
	CHECK_NEAR(l1[0], l2[0], 1e-4 * fabs(l1[0]));

	/* cancel after 3 of 6 steps: a checkpoint; resume: the same bytes */
	opts_for(&o, "c6");
	o.hp.steps = 6;
	o.n_heldout = 0;
	int left = 3;
	struct progress stop = {step_cancel, &left};
	CHECK_EQ_INT(heal_run(&o, &stop, &r, &e), ERR_CANCELLED);
	CHECK(strstr(e.msg, "step 3") != NULL);
	CHECK_EQ_INT(r.step, 3);
	CHECK(path_exists(tmp("c6/optimizer.safetensors")));
	CHECK(!path_exists(tmp("c6.ckpt")));
	m = NULL;
	CHECK_EQ_INT(model_load(tmp("c6"), &m, NULL, &e), 0);
	model_free(m);
	double l3[8];
	CHECK_EQ_INT(log_column(tmp("c6"), 0, l3, 8), 3);
	/* a fresh run refuses the non-empty checkpoint directory */
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), ERR_INVALID);
	opts_for(&o, "c6");
	o.resume = true;
	o.hp.steps = 0; /* the state's settings are used */
	o.n_heldout = 0;
	err_clear(&e);
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), 0);
	if (e.code)
		fprintf(stderr, "resume: %s\n", e.msg);
	CHECK_EQ_INT(r.resumed_from, 3);
	CHECK_EQ_INT(r.step, 6);
	CHECK(files_equal(tmp("a6/model.safetensors"),
			  tmp("c6/model.safetensors")));
	CHECK_EQ_INT(log_column(tmp("c6"), 0, l3, 8), 6);
	/* resuming a finished run does nothing */
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), 0);
	CHECK_EQ_INT(r.step, 6);

	/* resume with another corpus is refused */
	FILE *f = fopen(tmp("other.txt"), "w");
	for (int i = 0; f && i < 200; i++)
		fprintf(f, "habari ya asubuhi %d\n", i);
	if (f)
		fclose(f);
	opts_for(&o, "x3");
	o.hp.steps = 3;
	o.n_heldout = 0;
	left = 1;
	CHECK_EQ_INT(heal_run(&o, &stop, &r, &e), ERR_CANCELLED);
	static const char *other[1];
	other[0] = tmp("other.txt");
	o.corpus = other;
	o.resume = true;
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "checksum") != NULL);

	/* plain fine-tuning: no teacher */
	opts_for(&o, "ft");
	o.teacher = NULL;
	o.hp.kd_weight = 0;
	o.hp.steps = 3;
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), 0);
	CHECK(r.have_after && !r.after.has_ref);
	opts_for(&o, "ft2");
	o.teacher = NULL;
	o.hp.steps = 3;
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), ERR_INVALID); /* kd 1 */

	/* data-free distillation */
	opts_for(&o, "df");
	o.n_corpus = 0;
	o.hp.steps = 2;
	o.hp.pool = 6;
	o.n_heldout = 0;
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), 0);
	CHECK_EQ_INT(r.hp.n_data, 0);
	CHECK_EQ_INT(r.hp.pool, 6);

	/* a cut vocabulary: the student reads ids 0..n-1, the teacher the
	 * pieces keep[] (data-free, so every sampled id is a student id) */
	int V = teacher->cfg.vocab_size, nk = 0;
	int *keep = malloc((size_t)V * sizeof *keep);
	for (int i = 0; i < V; i++)
		if (i < 259 || i % 5 == 0)
			keep[nk++] = i;
	struct model *cut = NULL;
	CHECK_EQ_INT(heal_teacher_view(student, keep, nk, &cut, &e), 0);
	if (cut) {
		opts_for(&o, "cut");
		o.student = cut;
		o.vocab_keep = keep;
		o.n_corpus = 0;
		o.hp.steps = 2;
		o.hp.pool = 4;
		o.n_heldout = 0;
		CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), 0);
		CHECK(isfinite(r.loss) && r.loss > 0);
		struct model *back = NULL;
		CHECK_EQ_INT(model_load(tmp("cut"), &back, NULL, &e), 0);
		if (back)
			CHECK_EQ_INT(back->cfg.vocab_size, nk);
		model_free(back);
		/* without the map the vocabularies disagree */
		opts_for(&o, "cut2");
		o.student = cut;
		o.n_corpus = 0;
		o.hp.steps = 1;
		CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), ERR_INVALID);
		CHECK(strstr(e.msg, "vocabulary") != NULL);
	}
	model_free(cut);
	free(keep);
}

/* The TUI's way: a background job, a monitor to watch, cancel, resume. */
static void test_job(void)
{
	struct heal_monitor mon;
	struct heal_job hj;
	struct job j;
	struct err e = {0};
	memset(&j, 0, sizeof j);
	CHECK_EQ_INT(heal_monitor_init(&mon, &e), 0);
	opts_for(&hj.opts, "job");
	hj.opts.hp.steps = 400; /* cancelled long before */
	hj.opts.n_heldout = 1;
	hj.opts.eval_every = 1000;
	hj.opts.monitor = &mon;
	CHECK_EQ_INT(job_start(&j, heal_job_fn, &hj, &e), 0);
	struct heal_snapshot snap;
	int polls = 0;
	do {
		usleep(20000);
		heal_monitor_snapshot(&mon, &snap);
	} while ((!snap.have_point || snap.last.step < 2) && ++polls < 3000);
	CHECK(snap.have_point && snap.last.step >= 2);
	CHECK_EQ_INT(snap.last.steps, 400);
	CHECK(snap.n_evals >= 1 && snap.evals[0].step == 0);
	job_cancel(&j);
	CHECK_EQ_INT(job_wait(&j, &e), ERR_CANCELLED);
	heal_monitor_snapshot(&mon, &snap);
	CHECK(!snap.running);
	CHECK(!strcmp(snap.phase, "stopped"));
	uint64_t at = hj.result.step;
	CHECK(at >= 2);
	/* resume as a job, cancel again right away: it went on from `at` */
	hj.opts.resume = true;
	CHECK_EQ_INT(job_start(&j, heal_job_fn, &hj, &e), 0);
	job_cancel(&j);
	CHECK_EQ_INT(job_wait(&j, &e), ERR_CANCELLED);
	CHECK_EQ_INT(hj.result.resumed_from, at);
	job_destroy(&j);
	heal_monitor_destroy(&mon);

	/* a minutes budget decides the steps and records them */
	struct heal_opts o;
	struct heal_result r;
	opts_for(&o, "min");
	o.minutes = 0.05;
	o.n_heldout = 0;
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), 0);
	CHECK(r.steps >= 1 && r.hp.steps == r.steps && r.step == r.steps);
	CHECK(r.hp.warmup >= 1);
}

static void test_refusals(void)
{
	struct err e = {0};
	struct heal_opts o;
	struct heal_result r;
	opts_for(&o, "unused");
	o.hp.steps = 1;
	o.out_dir = TINY; /* the source itself */
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "source") != NULL);
	o.out_dir = TINY "/healed"; /* inside it */
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), ERR_INVALID);
	CHECK(!path_exists(TINY "/healed"));
	o.out_dir = "assets"; /* around it */
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), ERR_INVALID);
	/* a non-empty OUT without force */
	mkdir(tmp("full"), 0777);
	FILE *f = fopen(tmp("full/keep.txt"), "w");
	if (f)
		fclose(f);
	o.out_dir = tmp("full");
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), ERR_INVALID);
	CHECK(path_exists(tmp("full/keep.txt")));
	o.force = true;
	o.n_heldout = 0;
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), 0);
	CHECK(!path_exists(tmp("full/keep.txt")));
	/* resume without a checkpoint */
	o.out_dir = tmp("nothing");
	o.resume = true;
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), ERR_NOTFOUND);
	/* two budgets */
	opts_for(&o, "two");
	o.hp.steps = 2;
	o.tokens = 100;
	CHECK_EQ_INT(heal_run(&o, NULL, &r, &e), ERR_INVALID);
}

static void test_recipe_heal(void)
{
	struct recipe r, q;
	struct err e = {0};
	recipe_init(&r);
	r.have_heal = true;
	struct recipe_heal *h = &r.heal;
	h->steps = 600;
	h->batch = 16;
	h->ctx = 128;
	h->warmup = 30;
	h->lr = 1e-3;
	h->min_lr_ratio = 0.1;
	h->beta1 = 0.9;
	h->beta2 = 0.95;
	h->eps = 1e-8;
	h->weight_decay = 0.01;
	h->clip = 1;
	h->temperature = 2.5;
	h->kd_weight = 0.7;
	h->seed = 42;
	h->pool = 0;
	h->threads = 2;
	h->n_data = 2;
	snprintf(h->data[0].name, sizeof h->data[0].name, "a.txt");
	snprintf(h->data[0].checksum, sizeof h->data[0].checksum,
		 "fnv1a64:0123456789abcdef");
	h->data[0].bytes = 12345;
	snprintf(h->data[1].name, sizeof h->data[1].name, "b.txt");
	char *json = NULL;
	CHECK_EQ_INT(recipe_to_json(&r, &json, &e), 0);
	CHECK_EQ_INT(recipe_parse(json, strlen(json), "t", &q, &e), 0);
	CHECK(q.have_heal);
	CHECK(!memcmp(&q.heal, &r.heal, sizeof q.heal));
	recipe_free(&q);
	/* an old recipe has no heal section */
	const char *old = "{\"format\": \"punguza-recipe\", \"version\": 1}";
	CHECK_EQ_INT(recipe_parse(old, strlen(old), "old", &q, &e), 0);
	CHECK(!q.have_heal);
	recipe_free(&q);
	const char *bad = "{\"version\": 1, \"heal\": {\"kd_weight\": 2}}";
	CHECK_EQ_INT(recipe_parse(bad, strlen(bad), "bad", &q, &e),
		     ERR_FORMAT);
	CHECK(strstr(e.msg, "heal.kd_weight") != NULL);
	free(json);
	recipe_free(&r);
}

static void remove_tmp(void)
{
	struct err e = {0};
	export_remove_tree(tmpdir, &e);
}

int main(void)
{
	struct err e = {0};
	test_lr();
	test_recipe_heal();
	if (!mkdtemp(tmpdir)) {
		CHECK(0);
		return TEST_SUMMARY();
	}
	snprintf(corpus_path, sizeof corpus_path, "%s/corpus.txt", tmpdir);
	snprintf(held_path, sizeof held_path, "%s/held.txt", tmpdir);
	CHECK_EQ_INT(head_lines(TINY "/heldout_swh.txt", corpus_path, 120), 0);
	CHECK_EQ_INT(head_lines(TINY "/heldout_hau.txt", held_path, 8), 0);
	CHECK_EQ_INT(model_load(TINY, &teacher, NULL, &e), 0);
	CHECK_EQ_INT(tok_load(TINY, &tok, &e), 0);
	if (teacher && tok) {
		struct prune_plan p;
		prune_plan_init(&p);
		p.width_factor = 0.25;
		p.n_layers = 2;
		p.tie = PLAN_TIE_LM_HEAD;
		CHECK_EQ_INT(prune_apply(teacher, NULL, &p, NULL, &student,
					 NULL, NULL, NULL, &e),
			     0);
		prune_plan_free(&p);
	}
	if (teacher && tok && student) {
		test_view();
		test_corpus_batches();
		test_runs();
		test_refusals();
		test_job();
	}
	model_free(student);
	model_free(teacher);
	tok_free(tok);
	remove_tmp();
	return TEST_SUMMARY();
}
