/* Tests of tasks: the prompt template, data loading, label likelihood on a
 * hand-built model (the winner and the scores predicted independently),
 * greedy and beam translation on a hand-built model, the submission CSV
 * and resume, and a run on a fixed subset of the challenge's rows (12:
 * 2 per task x language) whose scores are recomputed here with a separate
 * implementation of macro-F1 and chrF. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "chain_model.h"
#include "csv.h"
#include "forward.h"
#include "model.h"
#include "score.h"
#include "tasks.h"
#include "test.h"
#include "tokenizer.h"

#define TOK "tests/data/tok/small_llama_pairs.json"
#define DATA "../shared/data/competition/test_with_targets.csv"
#define TINY "assets/tiny-inkuba"

/* The template, written out independently of tasks_prompt.c. */
static const char expected_prompt[] =
    "Below is an instruction that describes a task, paired with an input "
    "that provides further context. Write a response that appropriately "
    "completes the request.\n\n ### Instruction: Say it.\nhello, world\n\n"
    " ### Response: ";

static char tmpdir[] = "/tmp/punguza-test-tasks-XXXXXX";

static const char *write_tmp(const char *name, const char *text)
{
	static char path[4][512];
	static int k;
	char *p = path[k++ % 4];
	snprintf(p, 512, "%s/%s", tmpdir, name);
	FILE *fp = fopen(p, "w");
	if (!fp)
		return p;
	fputs(text, fp);
	fclose(fp);
	return p;
}

static void test_prompt_labels(void)
{
	char *p = NULL;
	struct err e = {0};
	CHECK(tasks_prompt("Say it.", "hello, world", &p, &e) == 0);
	CHECK_STR(p, expected_prompt);
	free(p);
	CHECK_STR(tasks_label(SCORE_SENTIMENT, SCORE_HAU, 0), "Kyakkyawa");
	CHECK_STR(tasks_label(SCORE_SENTIMENT, SCORE_HAU, 1), "Tsaka-tsaki");
	CHECK_STR(tasks_label(SCORE_SENTIMENT, SCORE_HAU, 2), "Korau");
	CHECK_STR(tasks_label(SCORE_SENTIMENT, SCORE_SWA, 0), "Chanya");
	CHECK_STR(tasks_label(SCORE_SENTIMENT, SCORE_SWA, 1), "Wastani");
	CHECK_STR(tasks_label(SCORE_SENTIMENT, SCORE_SWA, 2), "Hasi");
	CHECK_STR(tasks_label(SCORE_XNLI, SCORE_HAU, 0), "True");
	CHECK_STR(tasks_label(SCORE_XNLI, SCORE_SWA, 1), "Neither");
	CHECK_STR(tasks_label(SCORE_XNLI, SCORE_SWA, 2), "False");
	CHECK(tasks_label(SCORE_MT, SCORE_SWA, 0) == NULL);
}

/* tasks_data_limit: at most N rows per task and language, in order;
 * has_targets follows the rows kept. */
static void test_limit(void)
{
	struct err e = {0};
	struct tasks_data d = {0};
	const char *a = write_tmp(
	    "lim.csv", "ID,task,lang,instruction,input,target\n"
		       "L1,mt,swa,i,a,t1\n"
		       "L2,mt,hau,i,b,\n"
		       "L3,mt,swa,i,c,t3\n"
		       "L4,sentiment,swa,i,d,Hasi\n"
		       "L5,mt,swa,i,e,t5\n");
	CHECK(tasks_data_load(&d, a, &e) == 0);
	CHECK(!d.has_targets);
	tasks_data_limit(&d, 2);
	CHECK_EQ_INT(d.n, 4);
	if (d.n == 4) {
		CHECK_STR(d.rows[0].id, "L1");
		CHECK_STR(d.rows[1].id, "L2");
		CHECK_STR(d.rows[2].id, "L3");
		CHECK_STR(d.rows[3].id, "L4");
	}
	CHECK(!d.has_targets);
	tasks_data_limit(&d, 1);
	CHECK_EQ_INT(d.n, 3);
	CHECK(!d.has_targets);
	if (d.n == 3)
		CHECK_STR(d.rows[2].id, "L4");
	/* without the target-less Hausa row, every kept row has a target */
	d.rows[1] = d.rows[2];
	d.n = 2;
	tasks_data_limit(&d, 5);
	CHECK(d.has_targets);
	tasks_data_free(&d);
}

static void test_load(void)
{
	struct err e = {0};
	struct tasks_data d = {0};
	/* Both layouts; task/lang from columns, or from the ID. */
	const char *a = write_tmp(
	    "a.csv", "ID,task,lang,split,instruction,input,target\n"
		     "X1,sentiment,swa,public,\"Ins, one\",\"in\"\"put\",Hasi\n"
		     "X2,mt,hau,private,tr,go,\"je, ka\"\n");
	const char *b = write_tmp(
	    "b.csv", "ID,Instruction,Input Text,Response,Log-Likelihood,"
		     "Targets,Task,Langs\n"
		     "ID_1_test__afrixnli_swa,Is it?,x,,,,,\n"
		     "ID_2_sentiment_test__hausa,S,y,,,,sentiment,hausa\n");
	CHECK(tasks_data_load(&d, a, &e) == 0);
	CHECK(d.has_targets);
	CHECK(tasks_data_load(&d, b, &e) == 0);
	CHECK(!d.has_targets);
	CHECK_EQ_INT(d.n, 4);
	if (d.n == 4) {
		CHECK_STR(d.rows[0].instruction, "Ins, one");
		CHECK_STR(d.rows[0].input, "in\"put");
		CHECK_STR(d.rows[0].target, "Hasi");
		CHECK(d.rows[0].task == SCORE_SENTIMENT &&
		      d.rows[0].lang == SCORE_SWA &&
		      d.rows[0].split == SCORE_PUBLIC);
		CHECK(d.rows[1].task == SCORE_MT && d.rows[1].lang == SCORE_HAU &&
		      d.rows[1].split == SCORE_PRIVATE);
		CHECK(d.rows[2].task == SCORE_XNLI &&
		      d.rows[2].lang == SCORE_SWA && !d.rows[2].target);
		CHECK_STR(d.rows[2].input, "x");
		CHECK(d.rows[3].task == SCORE_SENTIMENT &&
		      d.rows[3].lang == SCORE_HAU);
	}
	/* The same file again: duplicate IDs, named with the line. */
	CHECK_ERR(tasks_data_load(&d, a, &e), e, ERR_FORMAT,
		  "line 2: ID 'X1' already seen");
	CHECK_EQ_INT(d.n, 4);
	const char *c = write_tmp("c.csv", "ID,instruction,input\nZZ,a,b\n");
	CHECK_ERR(tasks_data_load(&d, c, &e), e, ERR_FORMAT,
		  "line 2: cannot tell the task");
	const char *f = write_tmp("f.csv", "Idx,instruction\n1,2\n");
	CHECK_ERR(tasks_data_load(&d, f, &e), e, ERR_FORMAT, "'ID'");
	CHECK_EQ_INT(d.n, 4);

	/* Submission CSV: RFC 4180 quoting; resume reads it back. */
	struct tasks_result res[4];
	memset(res, 0, sizeof res);
	res[0].response = strdup("2");
	res[1].response = strdup("a \"b\", c\nd");
	res[3].response = strdup("0");
	char *text = NULL;
	size_t len = 0;
	CHECK(tasks_submission_csv(&d, res, &text, &len, &e) == 0);
	CHECK_STR(text, "ID,Response\nX1,2\nX2,\"a \"\"b\"\", c\nd\"\n"
			"ID_2_sentiment_test__hausa,0\n");
	const char *s = write_tmp("s.csv", text ? text : "");
	free(text);
	struct tasks_result back[4];
	memset(back, 0, sizeof back);
	int kept = 0;
	CHECK(tasks_resume(s, &d, back, &kept, &e) == 0);
	CHECK_EQ_INT(kept, 3);
	CHECK_STR(back[1].response, res[1].response);
	CHECK(back[2].response == NULL);
	CHECK_EQ_INT(back[0].choice, 2);
	/* References of the done rows with targets. */
	CHECK(tasks_refs_csv(&d, res, &text, &len, &e) == 0);
	CHECK_STR(text, "ID,task,lang,split,target\n"
			"X1,sentiment,swa,public,Hasi\n"
			"X2,mt,hau,private,\"je, ka\"\n");
	free(text);
	tasks_results_free(res, 4);
	tasks_results_free(back, 4);
	tasks_data_free(&d);
	CHECK_EQ_INT(d.n, 0);
}

/* The ids tasks_labels.c must score: BOS + encode(text) without specials. */
static int *enc(const struct tokenizer *t, const char *text, size_t *n)
{
	int *raw = NULL;
	size_t nr = 0;
	struct err e = {0};
	if (tok_encode(t, text, strlen(text), false, &raw, &nr, &e))
		return NULL;
	int *v = malloc((nr + 1) * sizeof *v);
	size_t k = 0;
	if (tok_add_bos(t))
		v[k++] = tok_bos_id(t);
	memcpy(v + k, raw, nr * sizeof *v);
	free(raw);
	*n = nr + k;
	return v;
}

static char *concat(const char *a, const char *b)
{
	char *s = malloc(strlen(a) + strlen(b) + 1);
	strcpy(s, a);
	strcat(s, b);
	return s;
}

/* Mean log-prob of ids[from..n) computed with one plain forward pass of
 * the whole sequence. */
static double mean_lp(const struct model *m, const int *ids, int n, int from)
{
	struct err e = {0};
	struct fwd_state *fs = NULL;
	int V = m->cfg.vocab_size;
	float *lg = malloc((size_t)n * V * sizeof *lg);
	double s = 0;
	if (!lg || fwd_new(m, n, 0, &fs, &e) || fwd_run(fs, ids, n, lg, &e)) {
		free(lg);
		fwd_free(fs);
		return NAN;
	}
	for (int j = from; j < n; j++) {
		const float *row = lg + (size_t)(j - 1) * V;
		double mx = row[0], z = 0;
		for (int v = 1; v < V; v++)
			if (row[v] > mx)
				mx = row[v];
		for (int v = 0; v < V; v++)
			z += exp(row[v] - mx);
		s += row[ids[j]] - mx - log(z);
	}
	free(lg);
	fwd_free(fs);
	return s / (n - from);
}

static void test_labels(const struct tokenizer *t, enum score_task task,
			enum score_lang lang, int want)
{
	struct err e = {0};
	static const char *const lab[2][2][3] = {
	    {{"Kyakkyawa", "Tsaka-tsaki", "Korau"},
	     {"Chanya", "Wastani", "Hasi"}},
	    {{"True", "Neither", "False"}, {"True", "Neither", "False"}},
	};
	struct model *m = chain_new(tok_vocab_size(t), 1024);
	if (!m) {
		TEST_FAIL_("chain_new");
		return;
	}
	const char *prompt = expected_prompt;
	size_t np = 0, nf[3];
	int *pids = enc(t, prompt, &np), *full[3];
	size_t P = np;
	for (int c = 0; c < 3; c++) {
		char *s = concat(prompt, lab[task][lang][c]);
		full[c] = enc(t, s, &nf[c]);
		free(s);
		size_t k = 0;
		while (k < P && k < nf[c] && full[c][k] == pids[k])
			k++;
		P = k < nf[c] ? k : nf[c] - 1;
	}
	/* The wanted label's continuation is the model's chain. */
	for (size_t j = P; j < nf[want]; j++)
		chain_set(m, full[want][j - 1], full[want][j]);
	double ref[3];
	int best = 0;
	for (int c = 0; c < 3; c++) {
		ref[c] = mean_lp(m, full[c], (int)nf[c], (int)P);
		if (ref[c] > ref[best])
			best = c;
	}
	CHECK_EQ_INT(best, want);
	struct tasks_opts o;
	tasks_defaults(&o);
	struct tasks_runner *r = NULL;
	CHECK(tasks_runner_new(m, t, &o, &r, &e) == 0);
	struct tasks_row row = {"ID_x", "Say it.", "hello, world", NULL,
				task, lang, SCORE_ALL, 2, 0};
	struct tasks_result res;
	CHECK(r && tasks_run_row(r, &row, &res, &e) == 0);
	CHECK_EQ_INT(res.choice, want);
	char w[2] = {(char)('0' + want), 0};
	CHECK_STR(res.response, w);
	for (int c = 0; c < 3; c++)
		CHECK_NEAR(res.label_score[c], ref[c], 1e-4);
	CHECK_EQ_INT(res.prompt_tokens, P);
	/* Again on the same runner: the same answer (state reset). */
	struct tasks_result again;
	CHECK(r && tasks_run_row(r, &row, &again, &e) == 0);
	CHECK_NEAR(again.label_score[want], res.label_score[want], 1e-6);
	tasks_results_free(&res, 1);
	tasks_results_free(&again, 1);
	tasks_runner_free(r);
	for (int c = 0; c < 3; c++)
		free(full[c]);
	free(pids);
	model_free(m);
}

/* A real (golden) model with attention, 64 positions: the prompt does not
 * fit, so tokens after BOS are dropped from the left (tasks.h) and the
 * labels are still scored as a plain forward pass of the kept sequence
 * scores them. */
static void test_labels_truncated(void)
{
	struct err e = {0};
	struct model *m = NULL;
	struct tokenizer *t = NULL;
	if (model_load("tests/data/models/tied_gqa", &m, NULL, &e) ||
	    tok_load("tests/data/tok/small_nfkc_metaspace.json", &t, &e)) {
		TEST_FAIL_("%s", e.msg);
		goto out;
	}
	int ctx = m->cfg.max_position_embeddings;
	static const char *const lab[3] = {"Chanya", "Wastani", "Hasi"};
	size_t np = 0, nf[3];
	int *pids = enc(t, expected_prompt, &np), *full[3];
	size_t P = np, room = 0;
	for (int c = 0; c < 3; c++) {
		char *s = concat(expected_prompt, lab[c]);
		full[c] = enc(t, s, &nf[c]);
		free(s);
		size_t k = 0;
		while (k < P && k < nf[c] && full[c][k] == pids[k])
			k++;
		P = k < nf[c] ? k : nf[c] - 1;
	}
	for (int c = 0; c < 3; c++)
		if (nf[c] - P > room)
			room = nf[c] - P;
	CHECK(P + room > (size_t)ctx); /* the case under test */
	size_t drop = P + room - (size_t)ctx;
	double ref[3];
	int best = 0;
	for (int c = 0; c < 3; c++) {
		/* BOS, then the sequence without its tokens 1..drop. */
		memmove(full[c] + 1, full[c] + 1 + drop,
			(nf[c] - 1 - drop) * sizeof(int));
		ref[c] = mean_lp(m, full[c], (int)(nf[c] - drop),
				 (int)(P - drop));
		if (ref[c] > ref[best])
			best = c;
	}
	struct tasks_opts o;
	tasks_defaults(&o);
	struct tasks_runner *r = NULL;
	struct tasks_result res;
	struct tasks_row row = {"ID_y", "Say it.", "hello, world", NULL,
				SCORE_SENTIMENT, SCORE_SWA, SCORE_ALL, 2, 0};
	CHECK(tasks_runner_new(m, t, &o, &r, &e) == 0);
	CHECK(r && tasks_run_row(r, &row, &res, &e) == 0);
	CHECK_EQ_INT(res.truncated, drop);
	CHECK_EQ_INT(res.choice, best);
	for (int c = 0; c < 3; c++)
		CHECK_NEAR(res.label_score[c], ref[c], 1e-4);
	/* The scores differ: the test can tell a wrong winner. */
	CHECK(fabs(ref[0] - ref[1]) > 1e-3 && fabs(ref[1] - ref[2]) > 1e-3);
	tasks_results_free(&res, 1);
	tasks_runner_free(r);
	for (int c = 0; c < 3; c++)
		free(full[c]);
	free(pids);
out:
	tok_free(t);
	model_free(m);
}

/* Translation on a chain model: after the prompt's last token L, two
 * equally likely bytes 'a' < 'b'; 'a' continues to one of three bytes
 * x/y/z (each 1/3) then EOS; 'b' continues to 'c' for sure, then a
 * newline. Greedy takes 'a' (lowest id of the tie) then 'x'; a beam
 * search of 3 finds "bc" (mean log-prob per token log(1/2)/3 against
 * (log(1/2) + log(1/3))/3). */
static void test_translate(const struct tokenizer *t)
{
	struct err e = {0};
	struct model *m = chain_new(tok_vocab_size(t), 1024);
	if (!m) {
		TEST_FAIL_("chain_new");
		return;
	}
	size_t np = 0;
	int *pids = enc(t, expected_prompt, &np);
	int L = pids[np - 1], eos = tok_eos_id(t);
	int a = tok_byte_id(t, 'a'), b = tok_byte_id(t, 'b'),
	    c = tok_byte_id(t, 'c'), x = tok_byte_id(t, 'x'),
	    y = tok_byte_id(t, 'y'), z = tok_byte_id(t, 'z'),
	    nl = tok_byte_id(t, '\n');
	CHECK(a < b && a != L && b != L);
	chain_set(m, L, a);
	chain_set(m, L, b);
	chain_set(m, a, x);
	chain_set(m, a, y);
	chain_set(m, a, z);
	chain_set(m, x, eos);
	chain_set(m, y, eos);
	chain_set(m, z, eos);
	chain_set(m, b, c);
	chain_set(m, c, nl);
	chain_set(m, nl, x); /* after the newline: must not be reached */
	struct tasks_row row = {"ID_t", "Say it.", "hello, world", NULL,
				SCORE_MT, SCORE_SWA, SCORE_ALL, 2, 0};
	struct tasks_opts o;
	tasks_defaults(&o);
	for (int beams = 1; beams <= 3; beams += 2) {
		o.beams = beams;
		struct tasks_runner *r = NULL;
		struct tasks_result res;
		CHECK(tasks_runner_new(m, t, &o, &r, &e) == 0);
		CHECK(r && tasks_run_row(r, &row, &res, &e) == 0);
		CHECK_STR(res.response, beams == 1 ? "ax" : "bc");
		/* Twice on one runner (caches reused). */
		struct tasks_result res2;
		CHECK(r && tasks_run_row(r, &row, &res2, &e) == 0);
		CHECK_STR(res2.response, res.response);
		tasks_results_free(&res, 1);
		tasks_results_free(&res2, 1);
		tasks_runner_free(r);
	}
	/* At most mt_max_new tokens. */
	chain_set(m, x, x); /* now x -> x or EOS: 1/2 each */
	o.beams = 1;
	o.mt_max_new = 1;
	struct tasks_runner *r = NULL;
	struct tasks_result res;
	CHECK(tasks_runner_new(m, t, &o, &r, &e) == 0);
	CHECK(r && tasks_run_row(r, &row, &res, &e) == 0);
	CHECK_STR(res.response, "a");
	CHECK_EQ_INT(res.new_tokens, 1);
	tasks_results_free(&res, 1);
	tasks_runner_free(r);
	o.beams = 0;
	CHECK_ERR(tasks_runner_new(m, t, &o, &r, &e), e, ERR_INVALID, "beams");
	free(pids);
	model_free(m);
}

/* ---- independent scoring of a subset -------------------------------- */

static int cls(enum score_task task, const char *s)
{
	static const char *const w[2][3][2] = {
	    {{"Kyakkyawa", "Chanya"}, {"Tsaka-tsaki", "Wastani"},
	     {"Korau", "Hasi"}},
	    {{"True", "entailment"}, {"Neither", "neutral"},
	     {"False", "contradiction"}},
	};
	if (s[0] >= '0' && s[0] <= '2' && (s[1] == 0 || !strcmp(s + 1, ".0")))
		return s[0] - '0';
	for (int c = 0; c < 3; c++)
		for (int k = 0; k < 2; k++)
			if (!strcasecmp(s, w[task][c][k]))
				return c;
	return -1;
}

static double f1_macro(const int *truth, const int *pred, int n)
{
	double sum = 0;
	for (int c = 0; c < 3; c++) {
		int tp = 0, fp = 0, fn = 0;
		for (int i = 0; i < n; i++) {
			tp += truth[i] == c && pred[i] == c;
			fp += truth[i] != c && pred[i] == c;
			fn += truth[i] == c && pred[i] != c;
		}
		double p = tp + fp ? (double)tp / (tp + fp) : 0;
		double r = tp + fn ? (double)tp / (tp + fn) : 0;
		sum += p + r > 0 ? 2 * p * r / (p + r) : 0;
	}
	return sum / 3;
}

/* UTF-8 -> code points, dropping U+0020 (valid UTF-8 assumed). */
static int cps(const char *s, uint32_t *out, int cap)
{
	int n = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p && n < cap) {
		uint32_t c = *p++;
		int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
		if (more)
			c &= 0x3F >> more;
		while (more-- && *p)
			c = c << 6 | (*p++ & 0x3F);
		if (c != ' ')
			out[n++] = c;
	}
	return n;
}

static double chrf(const char *hyp, const char *ref)
{
	static uint32_t h[4096], r[4096];
	static char used[4096];
	int nh = cps(hyp, h, 4096), nr = cps(ref, r, 4096);
	double P = 0, R = 0;
	for (int n = 1; n <= 6; n++) {
		int gh = nh >= n ? nh - n + 1 : 0, gr = nr >= n ? nr - n + 1 : 0;
		int match = 0;
		memset(used, 0, sizeof used);
		/* Clipped matches: each ref n-gram matched at most once. */
		for (int i = 0; i < gh; i++)
			for (int j = 0; j < gr; j++)
				if (!used[j] &&
				    !memcmp(h + i, r + j, n * sizeof *h)) {
					used[j] = 1;
					match++;
					break;
				}
		P += (double)match / (gh > 1 ? gh : 1);
		R += (double)match / (gr > 1 ? gr : 1);
	}
	P /= 6;
	R /= 6;
	return P + R > 0 ? 5 * P * R / (4 * P + R) : 0;
}

static void check_scores(const struct tasks_data *d,
			 const struct tasks_result *res, const char *what)
{
	struct err e = {0};
	struct score_result sr;
	if (tasks_score(d, res, &sr, &e)) {
		TEST_FAIL_("%s: %s", what, e.msg);
		return;
	}
	int truth[2][64], pred[2][64], nc[2] = {0, 0}, n_mt = 0;
	double mt_sum = 0, mt_lang[2] = {0, 0};
	int mt_n[2] = {0, 0};
	for (int i = 0; i < d->n; i++) {
		const struct tasks_row *r = &d->rows[i];
		if (r->task == SCORE_MT) {
			double f = chrf(res[i].response, r->target);
			mt_sum += f;
			mt_lang[r->lang] += f;
			mt_n[r->lang]++;
			n_mt++;
		} else {
			int k = r->task == SCORE_XNLI;
			truth[k][nc[k]] = cls(r->task, r->target);
			pred[k][nc[k]++] = cls(r->task, res[i].response);
		}
	}
	double f_sent = f1_macro(truth[0], pred[0], nc[0]);
	double f_xnli = f1_macro(truth[1], pred[1], nc[1]);
	const struct score_part *a = &sr.part[SCORE_ALL];
	CHECK_NEAR(a->f1[0][SCORE_POOLED], f_sent, 1e-9);
	CHECK_NEAR(a->f1[1][SCORE_POOLED], f_xnli, 1e-9);
	for (int l = 0; l < 2; l++)
		CHECK_NEAR(a->chrf[l], mt_lang[l] / mt_n[l], 1e-9);
	double lb_a = (f_sent + f_xnli + mt_sum / n_mt) / 3;
	double lb_b = (f_sent + f_xnli + mt_sum) / (n_mt + 2);
	CHECK_NEAR(a->lb_tasks, lb_a, 1e-9);
	CHECK_NEAR(a->lb_pooled, lb_b, 1e-9);
	CHECK_EQ_INT(a->n_rows, d->n);
	printf("%s: %d rows, sentiment F1 %.4f, xnli F1 %.4f, mt chrF %.4f, "
	       "LB (a) %.4f, LB (b) %.4f\n",
	       what, d->n, f_sent, f_xnli, mt_sum / n_mt, lb_a, lb_b);
}

/* 2 rows per task x language of the challenge's data. */
static void keep_two(struct tasks_data *d)
{
	int count[SCORE_N_TASKS][SCORE_N_LANGS] = {{0}}, k = 0;
	for (int i = 0; i < d->n; i++) {
		struct tasks_row *r = &d->rows[i];
		if (count[r->task][r->lang]++ < 2)
			d->rows[k++] = *r;
	}
	d->n = k;
}

static void test_subset(const struct model *m, const struct tokenizer *t,
			const char *what)
{
	struct err e = {0};
	struct tasks_data d = {0};
	if (tasks_data_load(&d, DATA, &e)) {
		TEST_FAIL_("%s", e.msg);
		return;
	}
	CHECK_EQ_INT(d.n, 900);
	CHECK(d.has_targets);
	keep_two(&d);
	CHECK_EQ_INT(d.n, 12);
	struct tasks_result res[12];
	memset(res, 0, sizeof res);
	struct tasks_opts o;
	tasks_defaults(&o);
	o.mt_max_new = 40; /* CI time */
	if (tasks_run(m, t, &d, &o, NULL, res, &e)) {
		TEST_FAIL_("%s: %s", what, e.msg);
		goto out;
	}
	/* The submission has every ID once, in order. */
	char *text = NULL;
	size_t len = 0;
	struct csv_table sub = {0};
	CHECK(tasks_submission_csv(&d, res, &text, &len, &e) == 0);
	CHECK(text && csv_parse(text, len, "sub", &sub, &e) == 0);
	CHECK_EQ_INT(sub.n_rows, 12);
	for (int i = 0; i < sub.n_rows && i < 12; i++) {
		CHECK_STR(csv_cell(&sub, i, 0), d.rows[i].id);
		CHECK_STR(csv_cell(&sub, i, 1), res[i].response);
		if (d.rows[i].task != SCORE_MT)
			CHECK(res[i].choice >= 0 &&
			      res[i].response[0] == '0' + res[i].choice);
	}
	csv_free(&sub);
	free(text);
	check_scores(&d, res, what);
out:
	tasks_results_free(res, 12);
	tasks_data_free(&d);
}

int main(void)
{
	struct err e = {0};
	if (!mkdtemp(tmpdir)) {
		TEST_FAIL_("mkdtemp");
		return TEST_SUMMARY();
	}
	test_prompt_labels();
	test_load();
	test_limit();
	struct tokenizer *t = NULL;
	if (tok_load(TOK, &t, &e)) {
		TEST_FAIL_("%s", e.msg);
	} else {
		CHECK(tok_add_bos(t) && tok_bos_id(t) == 1);
		test_labels(t, SCORE_SENTIMENT, SCORE_SWA, 1);
		test_labels(t, SCORE_SENTIMENT, SCORE_HAU, 2);
		test_labels(t, SCORE_XNLI, SCORE_HAU, 0);
		test_labels(t, SCORE_XNLI, SCORE_SWA, 2);
		test_translate(t);
	}
	test_labels_truncated();
	if (access(DATA, R_OK) != 0) {
		SKIP("'%s' is absent: no run on the challenge's rows", DATA);
	} else {
		/* Always runnable: the chain model on the byte tokenizer. */
		struct model *m = t ? chain_new(tok_vocab_size(t), 1024) : NULL;
		if (m) {
			for (int v = 0; v + 1 < tok_vocab_size(t); v++)
				chain_set(m, v, (v * 7 + 3) % tok_vocab_size(t));
			test_subset(m, t, "chain model");
		}
		model_free(m);
		struct model *tiny = NULL;
		struct tokenizer *tt = NULL;
		/* PUNGUZA_TASKS_MODEL: another model directory to try. */
		const char *dir = getenv("PUNGUZA_TASKS_MODEL");
		char cfg[512];
		if (!dir || !*dir)
			dir = TINY;
		snprintf(cfg, sizeof cfg, "%s/config.json", dir);
		if (access(cfg, R_OK) != 0) {
			SKIP("'%s' is absent (not trained yet?): no run of "
			     "the shipped model", dir);
		} else if (model_load(dir, &tiny, NULL, &e) ||
			   tok_load(dir, &tt, &e)) {
			TEST_FAIL_("%s", e.msg);
		} else {
			test_subset(tiny, tt, "shipped model");
		}
		tok_free(tt);
		model_free(tiny);
	}
	tok_free(t);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return TEST_SUMMARY();
}
