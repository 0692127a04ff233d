/*
 * Tests for the shipped assets (assets/), without the model loader:
 * - assets/prompts/prompts.json parses and has the fields documented in
 *   assets/prompts/README.md (counts per kind/task, labels, sources);
 * - assets/tiny-inkuba/config.json has the documented geometry and gives
 *   the DESIGN §1.2 count, computed here by hand (4,690,176);
 * - the committed files stay within their size budgets and the golden
 *   logits' header agrees with the size of the binary;
 * - the model loads (shared MLP from its one stored copy) and the C forward
 *   pass reproduces PyTorch's logits (tests/data/tiny, made by train.py
 *   from the shipped bf16 weights) within 1e-4 with the same argmax;
 * - tokenizer.json (made by `punguza vocab --spm-to-json`) and
 *   tokenizer.model encode the corpora identically.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include <math.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "fileio.h"
#include "eval.h"
#include "forward.h"
#include "model.h"
#include "test.h"
#include "tokenizer.h"

#define PROMPTS "assets/prompts/prompts.json"
#define TINY "assets/tiny-inkuba"
#define GOLDEN "tests/data/tiny/logits_golden"

/* DESIGN §1.3, written out independently of the generator script. */
static const char TEMPLATE[] =
	"Below is an instruction that describes a task, paired with an input "
	"that provides further context. Write a response that appropriately "
	"completes the request.\n\n ### Instruction: {instruction}\n{input}"
	"\n\n ### Response: ";

static cJSON *load_json(const char *path)
{
	struct err e;
	char *text;
	size_t len;
	if (file_read_all(path, 1 << 24, &text, &len, &e) != 0) {
		CHECK_MSG(0, "%s", e.msg);
		return NULL;
	}
	cJSON *j = cJSON_ParseWithLength(text, len);
	free(text);
	CHECK_MSG(j != NULL, "'%s' does not parse as JSON", path);
	return j;
}

static const char *str_field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int one_of(const char *s, const char *const *set)
{
	for (; s && *set; set++)
		if (strcmp(s, *set) == 0)
			return 1;
	return 0;
}

static const char *const KINDS[] = {"text", "task", NULL};
static const char *const LANGS[] = {"swh", "hau", "eng", NULL};
static const char *const TASKS[] = {"sentiment", "xnli", "mt", NULL};

/* The label word of class `label` for a sentiment prompt in `lang`. */
static const char *sentiment_word(const cJSON *root, const char *lang,
				  int label)
{
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(root, "labels");
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(l, "sentiment");
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(s, lang);
	const cJSON *w = cJSON_GetArrayItem(a, label);
	return cJSON_IsString(w) ? w->valuestring : NULL;
}

static void check_prompt(const cJSON *root, const cJSON *sources,
			 const cJSON *p, int *n_text, int *n_task)
{
	const char *id = str_field(p, "id"), *kind = str_field(p, "kind");
	const char *lang = str_field(p, "lang"), *src = str_field(p, "source");
	CHECK_MSG(id && *id, "prompt without an id");
	id = id ? id : "?";
	CHECK_MSG(one_of(kind, KINDS), "'%s': bad kind", id);
	CHECK_MSG(one_of(lang, LANGS), "'%s': bad lang", id);
	/* source names one of the documented sources (a prefix of it) */
	int known = 0;
	const cJSON *s;
	cJSON_ArrayForEach(s, sources)
	{
		size_t n = strlen(s->string);
		if (src && strncmp(src, s->string, n) == 0)
			known = 1;
	}
	CHECK_MSG(known, "'%s': unknown source", id);
	if (kind && strcmp(kind, "text") == 0) {
		const char *t = str_field(p, "text");
		CHECK_MSG(t && *t, "'%s': text prompt without text", id);
		(*n_text)++;
		return;
	}
	const char *task = str_field(p, "task");
	CHECK_MSG(one_of(task, TASKS), "'%s': bad task", id);
	CHECK_MSG(str_field(p, "instruction") && *str_field(p, "instruction"),
		  "'%s': no instruction", id);
	CHECK_MSG(str_field(p, "input") && *str_field(p, "input"),
		  "'%s': no input", id);
	const char *target = str_field(p, "target");
	CHECK_MSG(target && *target, "'%s': no target", id);
	if (!task || !target)
		return;
	if (strcmp(task, "sentiment") == 0 || strcmp(task, "xnli") == 0) {
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(p, "label");
		int ok = cJSON_IsNumber(l) && l->valueint >= 0 &&
			 l->valueint <= 2;
		CHECK_MSG(ok, "'%s': label not 0, 1 or 2", id);
		if (!ok)
			return;
		if (strcmp(task, "sentiment") == 0) {
			const char *w = sentiment_word(root, lang ? lang : "",
						       l->valueint);
			CHECK_MSG(w && strcmp(w, target) == 0,
				  "'%s': target is not the label's word", id);
			n_task[0]++;
		} else {
			char want[2] = {(char)('0' + l->valueint), 0};
			CHECK_MSG(strcmp(target, want) == 0,
				  "'%s': target is not the label", id);
			const char *pr = str_field(p, "premise");
			const char *hy = str_field(p, "hypothesis");
			const char *in = str_field(p, "input");
			CHECK_MSG(pr && hy && strstr(in, pr) == in &&
					  strstr(in, hy) &&
					  strchr(in, '\n'),
				  "'%s': input is not premise\\nhypothesis",
				  id);
			n_task[1]++;
		}
	} else {
		CHECK_MSG(lang && strcmp(lang, "eng") != 0,
			  "'%s': translation must target swh or hau", id);
		n_task[2]++;
	}
}

static void test_prompts(void)
{
	cJSON *root = load_json(PROMPTS);
	if (!root)
		return;
	CHECK_STR(str_field(root, "format"), "punguza-prompts");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "version");
	CHECK(cJSON_IsNumber(v) && v->valueint == 1);
	CHECK_STR(str_field(root, "template"), TEMPLATE);
	CHECK_STR(sentiment_word(root, "swh", 0), "Chanya");
	CHECK_STR(sentiment_word(root, "swh", 2), "Hasi");
	CHECK_STR(sentiment_word(root, "hau", 1), "Tsaka-tsaki");
	const cJSON *sources = cJSON_GetObjectItemCaseSensitive(root, "sources");
	CHECK(cJSON_IsObject(sources) && cJSON_GetArraySize(sources) >= 2);
	const cJSON *prompts = cJSON_GetObjectItemCaseSensitive(root, "prompts");
	CHECK(cJSON_IsArray(prompts));
	int n_text = 0, n_task[3] = {0, 0, 0}, dup = 0;
	const cJSON *p, *q;
	cJSON_ArrayForEach(p, prompts)
	{
		check_prompt(root, sources, p, &n_text, n_task);
		const char *id = str_field(p, "id");
		for (q = p->next; q && id; q = q->next) {
			const char *id2 = str_field(q, "id");
			if (id2 && strcmp(id, id2) == 0)
				dup++;
		}
	}
	CHECK_EQ_INT(dup, 0);
	/* assets/prompts/README.md: 36 text, 12 sentiment, 6 xnli, 60 mt */
	CHECK_EQ_INT(n_text, 36);
	CHECK_EQ_INT(n_task[0], 12);
	CHECK_EQ_INT(n_task[1], 6);
	CHECK_EQ_INT(n_task[2], 60);
	cJSON_Delete(root);
}

static void test_config(void)
{
	struct config c;
	struct err e;
	memset(&c, 0, sizeof c);
	int rc = config_load(TINY, &c, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	if (rc != 0)
		return;
	CHECK_EQ_INT(c.vocab_size, 4000);
	CHECK_EQ_INT(c.hidden_size, 256);
	CHECK_EQ_INT(c.intermediate_size, 704);
	CHECK_EQ_INT(c.n_layers, 8);
	CHECK_EQ_INT(c.n_heads, 8);
	CHECK_EQ_INT(c.n_kv_heads, 8);
	CHECK_EQ_INT(c.head_dim, 32);
	CHECK_EQ_INT(c.max_position_embeddings, 512);
	CHECK(c.shared_mlp);
	CHECK(!c.tie_word_embeddings);
	CHECK_EQ_INT(c.bos_token_id, 1);
	CHECK_EQ_INT(c.eos_token_id, 2);
	CHECK_NEAR(c.rope_theta, 10000.0, 0);
	CHECK_NEAR(c.rms_norm_eps, 1e-5, 1e-12);
	/* V*d*2 + L*(4*d*d + 2*d) + 3*d*f + d
	 * = 2,048,000 + 8 * 262,656 + 540,672 + 256 */
	CHECK_EQ_INT(config_param_count(&c), 4690176);
	config_free(&c);
}

static long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void test_sizes(void)
{
	long long st = file_size(TINY "/model.safetensors");
	CHECK_MSG(st > 0 && st <= 12000000, "model.safetensors: %lld bytes",
		  st);
	/* bf16, shared MLP stored once: 2 bytes per unique parameter plus a
	 * JSON header of a few KB */
	CHECK_MSG(st >= 2LL * 4690176 && st <= 2LL * 4690176 + 16384,
		  "model.safetensors: %lld bytes is not 2 x 4,690,176 + header",
		  st);
	CHECK(file_size(TINY "/tokenizer.model") > 0);
	CHECK(file_size(TINY "/heldout_swh.txt") > 10000);
	CHECK(file_size(TINY "/heldout_hau.txt") > 10000);
	CHECK(file_size("assets/corpus/udhr_swh.txt") > 5000);
	CHECK(file_size("assets/corpus/udhr_hau.txt") > 5000);

	/* golden logits: the header's shapes cover the binary exactly */
	cJSON *g = load_json(GOLDEN ".json");
	if (!g)
		return;
	long long want = 0;
	const cJSON *p, *prompts = cJSON_GetObjectItemCaseSensitive(g, "prompts");
	CHECK_EQ_INT(cJSON_GetArraySize(prompts), 2);
	cJSON_ArrayForEach(p, prompts)
	{
		const cJSON *shape = cJSON_GetObjectItemCaseSensitive(p, "shape");
		const cJSON *ids = cJSON_GetObjectItemCaseSensitive(p, "ids");
		const cJSON *off = cJSON_GetObjectItemCaseSensitive(p, "offset");
		int T = cJSON_GetArrayItem(shape, 0)->valueint;
		int V = cJSON_GetArrayItem(shape, 1)->valueint;
		CHECK_EQ_INT(V, 4000);
		CHECK_EQ_INT(cJSON_GetArraySize(ids), T);
		CHECK_EQ_INT(cJSON_GetArrayItem(ids, 0)->valueint, 1); /* BOS */
		CHECK_EQ_INT(off->valuedouble, want);
		want += 4LL * T * V;
	}
	CHECK_EQ_INT(file_size(GOLDEN ".bin"), want);
	cJSON_Delete(g);
}

static void test_golden_logits(void)
{
	struct model *m = NULL;
	struct err e = {0};
	CHECK_EQ_INT(model_load(TINY, &m, NULL, &e), 0);
	if (!m)
		return;
	CHECK(m->cfg.shared_mlp);
	CHECK_STR(m->shared_mlp_source, "model.layers.7.mlp");
	CHECK_EQ_INT(model_param_count(m), 4690176);
	cJSON *g = load_json(GOLDEN ".json");
	char *bin = NULL;
	size_t blen = 0;
	CHECK_EQ_INT(file_read_all(GOLDEN ".bin", 1u << 24, &bin, &blen, &e), 0);
	const cJSON *prompts = cJSON_GetObjectItemCaseSensitive(g, "prompts");
	const cJSON *pr;
	int n_prompts = 0;
	cJSON_ArrayForEach(pr, prompts)
	{
		const cJSON *ids = cJSON_GetObjectItemCaseSensitive(pr, "ids");
		const cJSON *off = cJSON_GetObjectItemCaseSensitive(pr, "offset");
		int T = cJSON_GetArraySize(ids), V = m->cfg.vocab_size;
		if (!bin || !cJSON_IsNumber(off) ||
		    (size_t)off->valuedouble + (size_t)T * V * 4 > blen) {
			CHECK_MSG(0, "golden prompt %d out of range", n_prompts);
			break;
		}
		int tok[64];
		for (int i = 0; i < T && i < 64; i++)
			tok[i] = cJSON_GetArrayItem(ids, i)->valueint;
		float *all = malloc((size_t)T * V * sizeof *all);
		struct fwd_state *fs = NULL;
		CHECK_EQ_INT(fwd_new(m, T, 0, &fs, &e), 0);
		CHECK_EQ_INT(fwd_run(fs, tok, T, all, &e), 0);
		double worst = 0;
		int argmax_diff = 0;
		const float *want = (const float *)(bin + (size_t)off->valuedouble);
		for (int t = 0; t < T; t++) {
			int a = 0, b = 0;
			for (int v = 0; v < V; v++) {
				float w;
				memcpy(&w, want + (size_t)t * V + v, 4);
				double d = fabs(all[(size_t)t * V + v] - w);
				if (d > worst)
					worst = d;
				if (all[(size_t)t * V + v] > all[(size_t)t * V + a])
					a = v;
				float wb;
				memcpy(&wb, want + (size_t)t * V + b, 4);
				if (w > wb)
					b = v;
			}
			argmax_diff += a != b;
		}
		CHECK_MSG(worst <= 1e-4, "prompt %d: max |dlogit| %g", n_prompts,
			  worst);
		CHECK_EQ_INT(argmax_diff, 0);
		fwd_free(fs);
		free(all);
		n_prompts++;
	}
	CHECK(n_prompts >= 2);
	cJSON_Delete(g);
	free(bin);
	model_free(m);
}

/* tokenizer.json and tokenizer.model of the shipped model: same ids on
 * every line of the corpora, reported as lines identical / lines total. */
static void test_tokenizer_pair(void)
{
	struct tokenizer *tj = NULL, *tm = NULL;
	struct err e = {0};
	CHECK_EQ_INT(tok_load(TINY "/tokenizer.json", &tj, &e), 0);
	CHECK_EQ_INT(tok_load(TINY "/tokenizer.model", &tm, &e), 0);
	if (!tj || !tm)
		goto out;
	const char *files[] = {
		"assets/corpus/udhr_swh.txt", "assets/corpus/udhr_hau.txt",
		TINY "/heldout_swh.txt", TINY "/heldout_hau.txt",
		SHARED_DATA "/corpus/swh_nt.txt",
		SHARED_DATA "/corpus/hau_bible.txt",
		SHARED_DATA "/corpus/aligned/swh_aligned.txt",
		SHARED_DATA "/corpus/aligned/eng_aligned.txt",
	};
	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
		char *text;
		size_t len;
		if (access(files[f], R_OK)) {
			SKIP("%s is absent", files[f]);
			continue;
		}
		if (file_read_all(files[f], 1u << 26, &text, &len, &e)) {
			CHECK_MSG(0, "%s", e.msg);
			continue;
		}
		int same = 0, total = 0;
		char *p = text, *end = text + len;
		while (p < end) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
			int *a = NULL, *b = NULL;
			size_t na = 0, nb = 0;
			if (!tok_encode(tj, p, ll, true, &a, &na, &e) &&
			    !tok_encode(tm, p, ll, true, &b, &nb, &e) &&
			    na == nb && !memcmp(a, b, na * sizeof *a))
				same++;
			total++;
			free(a);
			free(b);
			p += ll + 1;
		}
		printf("tiny tokenizer.json vs .model, %s: %d / %d lines "
		       "identical\n",
		       files[f], same, total);
		CHECK_EQ_INT(same, total);
		free(text);
	}
out:
	tok_free(tj);
	tok_free(tm);
}

/* The model card's held-out figures, as `punguza eval --lines --ctx 256`
 * computes them (assets/tiny-inkuba/README.md, "Quality"). */
static void test_card_quality(void)
{
	struct model *m = NULL;
	struct tokenizer *t = NULL;
	struct err e = {0};
	const char *files[] = {TINY "/heldout_swh.txt", TINY "/heldout_hau.txt"};
	const double card[] = {1.4896, 1.4413};
	if (model_load(TINY, &m, NULL, &e) || tok_load(TINY, &t, &e)) {
		CHECK_MSG(0, "%s", e.msg);
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		char *text;
		size_t len, n;
		int *ids = NULL;
		if (file_read_all(files[i], 1u << 24, &text, &len, &e) ||
		    eval_encode_lines(t, text, len, &ids, &n, &e)) {
			CHECK_MSG(0, "%s", e.msg);
			continue;
		}
		struct eval_opts o;
		eval_defaults(&o);
		o.ctx = 256;
		o.stride = 128;
		o.text_bytes = len;
		struct eval_result r;
		CHECK_EQ_INT(eval_run(m, NULL, ids, n, &o, &r, &e), 0);
		CHECK_NEAR(r.bpb, card[i], 5e-5);
		free(ids);
		free(text);
	}
out:
	tok_free(t);
	model_free(m);
}

int main(void)
{
	test_card_quality();
	test_prompts();
	test_config();
	test_sizes();
	test_golden_logits();
	test_tokenizer_pair();
	return TEST_SUMMARY();
}
