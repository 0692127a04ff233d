/* Tests for the Hugging Face export: round trip (export -> model_load ->
 * logits bit-identical to the in-memory pruned model in f32; every tensor
 * equal to the bf16-rounded one in bf16), config.json keys, per-layer MLP
 * tensors and no lm_head when tied, copied files, byte-for-byte
 * determinism and reproduction from punguza.json, refusal of a non-empty
 * OUT, --force replacement, the source never written, cleanup after a
 * cancel or an unwritable target, the removal of a dead export's temporary
 * directory (and only of a dead one's), and the source checksum (against values
 * computed by a separate Python script over the safetensors bytes). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apply.h"
#include "dtype.h"
#include "export.h"
#include "fileio.h"
#include "forward.h"
#include "model.h"
#include "recipe.h"
#include "test.h"
#include "tokenizer.h"
#include "vocab.h"
#include "weights.h"

#define MODELS "tests/data/models"

static char tmpdir[64];
static const int seq[] = {1, 5, 9, 3, 17, 2, 30, 4, 11, 7, 19, 23};
#define SEQ_N (int)(sizeof seq / sizeof seq[0])

static float *logits_of(const struct model *m)
{
	struct fwd_state *s;
	struct err e = {0};
	float *out = malloc((size_t)SEQ_N * m->cfg.vocab_size * sizeof *out);
	if (!out || fwd_new(m, 0, 0, &s, &e)) {
		free(out);
		return NULL;
	}
	int rc = fwd_run(s, seq, SEQ_N, out, &e);
	fwd_free(s);
	if (rc) {
		free(out);
		return NULL;
	}
	return out;
}

static int copy(const char *from, const char *to)
{
	char *buf;
	size_t len;
	struct err e = {0};
	if (file_read_all(from, (size_t)1 << 28, &buf, &len, &e))
		return -1;
	int rc = file_write_atomic(to, buf, len, &e);
	free(buf);
	return rc;
}

/* A source directory: a golden model + tokenizer files + vulavulaslm.py. */
static int make_src(const char *model, char *dir, size_t cap)
{
	char a[256], b[256];
	snprintf(dir, cap, "%s/src-%s", tmpdir, model);
	if (path_exists(dir))
		return 0; /* made by an earlier test */
	if (mkdir(dir, 0777))
		return -1;
	const char *files[] = {"config.json", "model.safetensors",
			       "pytorch_model.bin"};
	for (int i = 0; i < 3; i++) {
		snprintf(a, sizeof a, MODELS "/%s/%s", model, files[i]);
		snprintf(b, sizeof b, "%s/%s", dir, files[i]);
		if (path_exists(a) && copy(a, b))
			return -1;
	}
	snprintf(b, sizeof b, "%s/tokenizer.json", dir);
	if (copy("tests/data/tok/small_llama_pairs.json", b))
		return -1;
	struct err e = {0};
	const char *tc = "{\"add_bos_token\": true, \"bos_token\": \"<s>\"}\n";
	const char *py = "# stub of InkubaLM's modelling code\n";
	const char *gc = "{\"bos_token_id\": 1, \"eos_token_id\": 2, "
			 "\"max_new_tokens\": 9}\n";
	snprintf(b, sizeof b, "%s/tokenizer_config.json", dir);
	if (file_write_atomic(b, tc, strlen(tc), &e))
		return -1;
	snprintf(b, sizeof b, "%s/vulavulaslm.py", dir);
	if (file_write_atomic(b, py, strlen(py), &e))
		return -1;
	snprintf(b, sizeof b, "%s/generation_config.json", dir);
	return file_write_atomic(b, gc, strlen(gc), &e);
}

static int same_file(const char *a, const char *b)
{
	char *x = NULL, *y = NULL;
	size_t nx = 0, ny = 0;
	struct err e = {0};
	int same = !file_read_all(a, (size_t)1 << 28, &x, &nx, &e) &&
		   !file_read_all(b, (size_t)1 << 28, &y, &ny, &e) && nx == ny &&
		   !memcmp(x, y, nx);
	free(x);
	free(y);
	return same;
}

/* Every file in dir a equals the one in b, and they hold the same names. */
static int same_dir(const char *a, const char *b)
{
	DIR *d = opendir(a);
	struct dirent *de;
	int n = 0, ok = 1;
	char pa[512], pb[512];
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(pa, sizeof pa, "%s/%s", a, de->d_name);
		snprintf(pb, sizeof pb, "%s/%s", b, de->d_name);
		if (!same_file(pa, pb)) {
			fprintf(stderr, "differs: %s\n", de->d_name);
			ok = 0;
		}
		n++;
	}
	closedir(d);
	d = opendir(b);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n--;
	closedir(d);
	return ok && n == 0;
}

static cJSON *read_json(const char *dir, const char *name)
{
	char p[512], *buf;
	size_t len;
	struct err e = {0};
	snprintf(p, sizeof p, "%s/%s", dir, name);
	if (file_read_all(p, 1 << 24, &buf, &len, &e))
		return NULL;
	cJSON *o = cJSON_Parse(buf);
	free(buf);
	return o;
}

static int json_int(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valueint : -12345;
}

/* Leftover OUT.tmp-* / OUT.old-* entries in tmpdir. */
static int leftovers(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	int n = 0;
	while (d && (de = readdir(d)))
		if (strstr(de->d_name, ".tmp-") || strstr(de->d_name, ".old-"))
			n++;
	if (d)
		closedir(d);
	return n;
}

/* Prunes src_dir's model with p and exports it; returns the pruned model
 * (and its recipe). */
static struct model *prune_export(const struct model *src, const char *src_dir,
				  struct prune_plan *p, const char *out,
				  enum dtype dt, bool force, struct err *e)
{
	struct model *m = NULL;
	struct recipe r;
	recipe_init(&r);
	if (prune_apply(src, NULL, p, NULL, &m, NULL, NULL, NULL, e))
		return NULL;
	prune_plan_free(&r.plan);
	prune_plan_copy(&r.plan, p, e);
	r.plan.export_dtype = dt;
	snprintf(r.source_name, sizeof r.source_name, "test");
	export_source_checksum(src, r.source_checksum,
			       sizeof r.source_checksum, NULL, e);
	recipe_set_counts(&r, &m->cfg);
	struct export_opts o = {.src_dir = src_dir,
				.out_dir = out,
				.formats = EXPORT_HF,
				.dtype = dt,
				.force = force,
				.recipe = &r};
	int rc = export_model(m, &o, NULL, e);
	recipe_free(&r);
	if (rc) {
		model_free(m);
		return NULL;
	}
	return m;
}

static void round_trip(const char *name, double width, enum plan_tie tie,
		       int n_layers)
{
	char src_dir[256], out[256], out2[256], out3[256], p[512];
	struct model *src = NULL, *m = NULL, *back = NULL;
	struct prune_plan plan;
	struct err e = {0};
	if (make_src(name, src_dir, sizeof src_dir) ||
	    model_load(src_dir, &src, NULL, &e)) {
		CHECK_MSG(0, "%s: %s", name, e.msg);
		model_free(src);
		return;
	}
	prune_plan_init(&plan);
	plan.width_factor = width;
	plan.tie = tie;
	plan.n_layers = n_layers;
	snprintf(out, sizeof out, "%s/out-%s", tmpdir, name);
	m = prune_export(src, src_dir, &plan, out, DTYPE_F32, false, &e);
	CHECK_MSG(m != NULL, "%s: %s", name, e.msg);
	if (!m)
		goto done;
	CHECK_MSG(model_load(out, &back, NULL, &e) == 0, "%s: %s", name,
		  e.msg);
	if (back) {
		float *a = logits_of(m), *b = logits_of(back);
		size_t n = (size_t)SEQ_N * m->cfg.vocab_size;
		CHECK_MSG(a && b && !memcmp(a, b, n * sizeof *a),
			  "%s: exported logits differ", name);
		free(a);
		free(b);
		CHECK_EQ_INT(back->tied, m->tied);
		CHECK_EQ_INT(back->cfg.shared_mlp, m->cfg.shared_mlp);
		CHECK_STR(back->note, ""); /* MLP copies identical */
	}
	/* config.json */
	cJSON *c = read_json(out, "config.json");
	CHECK(c != NULL);
	if (c) {
		CHECK_EQ_INT(json_int(c, "hidden_size"), m->cfg.hidden_size);
		CHECK_EQ_INT(json_int(c, "intermediate_size"),
			     m->cfg.intermediate_size);
		CHECK_EQ_INT(json_int(c, "num_hidden_layers"), m->cfg.n_layers);
		CHECK_EQ_INT(json_int(c, "num_key_value_heads"),
			     m->cfg.n_kv_heads);
		bool std = m->cfg.head_dim * m->cfg.n_heads ==
			   m->cfg.hidden_size;
		if (!std)
			CHECK_EQ_INT(json_int(c, "head_dim"), m->cfg.head_dim);
		CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
			  c, "tie_word_embeddings")) == m->tied);
		CHECK((cJSON_GetObjectItemCaseSensitive(c, "auto_map") !=
		       NULL) == src->cfg.shared_mlp);
		CHECK_STR(cJSON_GetStringValue(
			      cJSON_GetObjectItemCaseSensitive(c, "torch_dtype")),
			  "float32");
		cJSON_Delete(c);
	}
	c = read_json(out, "generation_config.json");
	CHECK(c && json_int(c, "max_new_tokens") == 9 &&
	      json_int(c, "bos_token_id") == 1);
	cJSON_Delete(c);
	/* the MLP under every layer's names; no lm_head when tied */
	struct weights *w = NULL;
	if (weights_open_dir(out, &w, NULL, &e) == 0) {
		int miss = 0;
		for (int l = 0; l < m->cfg.n_layers; l++) {
			const char *k[3] = {"gate", "up", "down"};
			for (int j = 0; j < 3; j++) {
				snprintf(p, sizeof p,
					 "model.layers.%d.mlp.%s_proj.weight", l,
					 k[j]);
				miss += weights_find(w, p) == NULL;
			}
		}
		CHECK_EQ_INT(miss, 0);
		CHECK((weights_find(w, "lm_head.weight") == NULL) == m->tied);
		weights_free(w);
	} else {
		CHECK(0);
	}
	/* copied files */
	const char *copied[] = {"tokenizer.json", "tokenizer_config.json",
				"vulavulaslm.py", "punguza.json"};
	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s/%s", out, copied[i]);
		CHECK_MSG(path_exists(p), "%s: %s missing", name, copied[i]);
	}

	/* determinism: again into out2, same bytes */
	snprintf(out2, sizeof out2, "%s/out2-%s", tmpdir, name);
	struct model *m2 =
	    prune_export(src, src_dir, &plan, out2, DTYPE_F32, false, &e);
	CHECK(m2 && same_dir(out, out2));
	model_free(m2);

	/* from the recipe: same bytes */
	struct recipe r;
	snprintf(p, sizeof p, "%s/punguza.json", out);
	CHECK_MSG(recipe_load(p, &r, &e) == 0, "%s", e.msg);
	snprintf(out3, sizeof out3, "%s/out3-%s", tmpdir, name);
	m2 = prune_export(src, src_dir, &r.plan, out3, r.plan.export_dtype,
			  false, &e);
	CHECK_MSG(m2 && same_dir(out, out3), "%s: recipe does not reproduce",
		  name);
	model_free(m2);
	recipe_free(&r);
done:
	prune_plan_free(&plan);
	model_free(back);
	model_free(m);
	model_free(src);
}

static void test_bf16(void)
{
	char src_dir[256], out[256];
	struct model *src = NULL, *m = NULL, *back = NULL;
	struct prune_plan plan;
	struct err e = {0};
	if (make_src("tied_gqa", src_dir, sizeof src_dir) ||
	    model_load(src_dir, &src, NULL, &e)) {
		CHECK(0);
		return;
	}
	prune_plan_init(&plan);
	plan.width_factor = 0.5;
	snprintf(out, sizeof out, "%s/bf16", tmpdir);
	m = prune_export(src, src_dir, &plan, out, DTYPE_BF16, false, &e);
	CHECK_MSG(m && model_load(out, &back, NULL, &e) == 0, "%s", e.msg);
	if (m && back) {
		const struct config *c = &m->cfg;
		size_t d = (size_t)c->hidden_size, f = c->intermediate_size;
		size_t qd = (size_t)c->n_heads * c->head_dim;
		size_t kd = (size_t)c->n_kv_heads * c->head_dim;
		int bad = 0;
#define SAME(a, b, n)                                                          \
	for (size_t i = 0; i < (n); i++)                                       \
		bad += dtype_bf16_to_f32(dtype_f32_to_bf16((a)[i])) != (b)[i]
		SAME(m->embed, back->embed, (size_t)c->vocab_size * d);
		SAME(m->norm, back->norm, d);
		for (int l = 0; l < c->n_layers; l++) {
			const struct layer_weights *x = &m->layers[l],
						   *y = &back->layers[l];
			SAME(x->wq, y->wq, qd * d);
			SAME(x->wk, y->wk, kd * d);
			SAME(x->wv, y->wv, kd * d);
			SAME(x->wo, y->wo, d * qd);
			SAME(x->attn_norm, y->attn_norm, d);
			SAME(x->mlp_norm, y->mlp_norm, d);
			SAME(x->w_gate, y->w_gate, f * d);
			SAME(x->w_up, y->w_up, f * d);
			SAME(x->w_down, y->w_down, d * f);
		}
#undef SAME
		CHECK_EQ_INT(bad, 0);
		cJSON *cj = read_json(out, "config.json");
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
			      cj, "torch_dtype")),
			  "bfloat16");
		cJSON_Delete(cj);
	}
	prune_plan_free(&plan);
	model_free(back);
	model_free(m);
	model_free(src);
}

static int cancel_after(void *ctx, double done, const char *stage)
{
	(void)done;
	(void)stage;
	int *n = ctx;
	return --*n < 0;
}

/* A fake temporary directory OUT.tmp-<suffix> with a marker (NULL: none). */
static void make_stale(const char *out, const char *suffix, const char *marker)
{
	char d[512], f[600];
	struct err e = {0};
	snprintf(d, sizeof d, "%s.tmp-%s", out, suffix);
	CHECK(mkdir(d, 0777) == 0);
	snprintf(f, sizeof f, "%s/model.safetensors", d);
	CHECK(file_write_atomic(f, "partial", 7, &e) == 0);
	if (marker) {
		snprintf(f, sizeof f, "%s/%s", d, EXPORT_MARKER);
		CHECK(file_write_atomic(f, marker, strlen(marker), &e) == 0);
	}
}

static bool stale_exists(const char *out, const char *suffix)
{
	char d[512];
	snprintf(d, sizeof d, "%s.tmp-%s", out, suffix);
	return path_exists(d);
}

static int notes_with(const struct export_notes *n, const char *a,
		      const char *b)
{
	int k = 0;
	for (int i = 0; i < n->n; i++)
		k += strstr(n->text[i], a) && strstr(n->text[i], b);
	return k;
}

/* While an export runs, its temporary directory names this process. */
static int check_own_marker(void *ctx, double done, const char *stage)
{
	(void)done;
	(void)stage;
	const char *out = ctx; /* its base name, in tmpdir */
	char want[64], path[512];
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	snprintf(want, sizeof want, "punguza export\npid %ld\n",
		 (long)getpid());
	int found = 0;
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, out, strlen(out)) ||
		    strncmp(de->d_name + strlen(out), ".tmp-", 5) ||
		    strlen(de->d_name + strlen(out)) != 11 ||
		    strstr(de->d_name, "Live01")) /* the fake live one */
			continue;
		char *text = NULL;
		size_t len;
		struct err e = {0};
		snprintf(path, sizeof path, "%s/%s/%s", tmpdir, de->d_name,
			 EXPORT_MARKER);
		if (!file_read_all(path, 512, &text, &len, &e) &&
		    !strncmp(text, want, strlen(want)))
			found++;
		free(text);
	}
	if (d)
		closedir(d);
	CHECK_EQ_INT(found, 1);
	return 0;
}

static void test_stale(const struct model *m, const char *src_dir)
{
	char out[256], host[256], mk[512];
	struct err e = {0};
	struct export_notes notes = {0};
	snprintf(out, sizeof out, "%s/stale", tmpdir);
	if (gethostname(host, sizeof host) < 0)
		host[0] = '\0';
	host[sizeof host - 1] = '\0';
	/* a pid that is certainly dead: a reaped child's */
	pid_t dead = fork();
	if (dead == 0)
		_exit(0);
	CHECK(dead > 0 && waitpid(dead, NULL, 0) == dead);
	snprintf(mk, sizeof mk, "punguza export\npid %ld\nhost %s\n",
		 (long)dead, host);
	make_stale(out, "Dead01", mk);
	snprintf(mk, sizeof mk, "punguza export\npid %ld\nhost %s\n",
		 (long)getpid(), host);
	make_stale(out, "Live01", mk);
	make_stale(out, "NoMrk1", NULL);
	snprintf(mk, sizeof mk,
		 "punguza export\npid %ld\nhost other-%s\n", (long)dead, host);
	make_stale(out, "Host01", mk);
	make_stale(out, "garbage", NULL); /* not mkdtemp's shape: ignored */

	struct export_opts o = {.src_dir = src_dir,
				.out_dir = out,
				.formats = EXPORT_HF,
				.dtype = DTYPE_F32,
				.notes = &notes};
	struct progress prog = {check_own_marker, "stale"};
	CHECK_MSG(export_model(m, &o, &prog, &e) == 0, "%s", e.msg);
	CHECK(!stale_exists(out, "Dead01"));
	CHECK(stale_exists(out, "Live01"));
	CHECK(stale_exists(out, "NoMrk1"));
	CHECK(stale_exists(out, "Host01"));
	CHECK(stale_exists(out, "garbage"));
	char pidtext[32];
	snprintf(pidtext, sizeof pidtext, "(pid %ld)", (long)dead);
	CHECK_EQ_INT(notes_with(&notes, "removed '", "stale.tmp-Dead01'"), 1);
	CHECK_EQ_INT(notes_with(&notes, "removed '", pidtext), 1);
	CHECK_EQ_INT(notes_with(&notes, "left '", "stale.tmp-NoMrk1'"), 1);
	CHECK_EQ_INT(notes_with(&notes, "left '", "stale.tmp-Host01'"), 1);
	CHECK_EQ_INT(notes_with(&notes, "", "Live01"), 0);
	CHECK_EQ_INT(notes.n, 3);
	/* the finished export holds no marker */
	snprintf(mk, sizeof mk, "%s/%s", out, EXPORT_MARKER);
	CHECK(!path_exists(mk));
	snprintf(mk, sizeof mk, "%s/model.safetensors", out);
	CHECK(path_exists(mk));
	/* the library call alone, on what is left: nothing more removed */
	struct export_notes n2 = {0};
	CHECK(export_remove_stale(out, &n2, &e) == 0);
	CHECK(stale_exists(out, "Live01"));
	CHECK_EQ_INT(notes_with(&n2, "removed", ""), 0);
	const char *left[] = {"Live01", "NoMrk1", "Host01", "garbage"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(mk, sizeof mk, "%s.tmp-%s", out, left[i]);
		CHECK(export_remove_tree(mk, &e) == 0);
	}
}

static void test_atomicity(void)
{
	char src_dir[256], out[256], p[512];
	struct model *src = NULL, *m = NULL;
	struct prune_plan plan;
	struct err e = {0};
	if (make_src("odd72", src_dir, sizeof src_dir) ||
	    model_load(src_dir, &src, NULL, &e)) {
		CHECK(0);
		return;
	}
	prune_plan_init(&plan);
	if (prune_apply(src, NULL, &plan, NULL, &m, NULL, NULL, NULL, &e)) {
		CHECK(0);
		goto done;
	}
	/* the checksum, against tests' Python computation */
	char sum[96];
	CHECK(export_source_checksum(src, sum, sizeof sum, NULL, &e) == 0);
	CHECK_STR(sum, "fnv1a64:c9d02878b6f1dd35");

	snprintf(out, sizeof out, "%s/atom", tmpdir);
	struct export_opts o = {.src_dir = src_dir,
				.out_dir = out,
				.formats = EXPORT_HF,
				.dtype = DTYPE_F32};
	/* the source is never written */
	o.out_dir = src_dir;
	o.force = true;
	CHECK_ERR(export_model(m, &o, NULL, &e), e, ERR_INVALID, "source");
	o.out_dir = tmpdir; /* holds the source: --force would delete it */
	CHECK_ERR(export_model(m, &o, NULL, &e), e, ERR_INVALID, "source");
	/* inside the source, not there yet: refused, nothing created */
	char inside[600];
	snprintf(inside, sizeof inside, "%s/pruned", src_dir);
	o.out_dir = inside;
	o.force = false;
	CHECK_ERR(export_model(m, &o, NULL, &e), e, ERR_INVALID,
		  "cannot write into the source");
	CHECK(!path_exists(inside));
	o.out_dir = out;
	/* cancel at every progress call up to completion */
	int completed = 0;
	for (int k = 0; k < 50 && !completed; k++) {
		int n = k;
		struct progress prog = {cancel_after, &n};
		int rc = export_model(m, &o, &prog, &e);
		if (rc == 0) {
			completed = 1;
			break;
		}
		CHECK_MSG(rc == ERR_CANCELLED && strstr(e.msg, "removed"),
			  "cancel %d: %d %s", k, rc, e.msg);
		CHECK(!path_exists(out));
		CHECK_EQ_INT(leftovers(), 0);
	}
	CHECK(completed);
	/* an existing non-empty OUT is refused, then replaced with force */
	snprintf(p, sizeof p, "%s/marker", out);
	CHECK(file_write_atomic(p, "x", 1, &e) == 0);
	CHECK_ERR(export_model(m, &o, NULL, &e), e, ERR_INVALID, "not empty");
	CHECK(path_exists(p));
	/* force, cancelled: the old OUT stays as it was */
	int n = 3;
	struct progress prog = {cancel_after, &n};
	o.force = true;
	CHECK(export_model(m, &o, &prog, &e) == ERR_CANCELLED);
	CHECK(path_exists(p));
	CHECK(export_model(m, &o, NULL, &e) == 0);
	CHECK(!path_exists(p));
	snprintf(p, sizeof p, "%s/model.safetensors", out);
	CHECK(path_exists(p));
	CHECK_EQ_INT(leftovers(), 0);
	/* an empty existing OUT is fine without force */
	snprintf(p, sizeof p, "%s/empty", tmpdir);
	CHECK(mkdir(p, 0777) == 0);
	o.out_dir = p;
	o.force = false;
	CHECK(export_model(m, &o, NULL, &e) == 0);
	/* an unwritable place: the parent is a regular file */
	snprintf(p, sizeof p, "%s/empty/config.json/sub", tmpdir);
	o.out_dir = p;
	CHECK_ERR(export_model(m, &o, NULL, &e), e, ERR_IO, "cannot create");
	test_stale(m, src_dir);
	/* the source directory is untouched: same files as made */
	snprintf(p, sizeof p, "%s/config.json", src_dir);
	CHECK(same_file(p, MODELS "/odd72/config.json"));
done:
	prune_plan_free(&plan);
	model_free(m);
	model_free(src);
}

/* A vocabulary-pruned export: the written tokenizer loads and encodes like
 * the in-memory one, tokenizer_config.json's added tokens follow the new
 * ids, and the exported model's logits equal the in-memory pruned
 * model's. */
static void test_vocab_export(void)
{
	struct tokenizer *tok = NULL, *ptok = NULL, *back_tok = NULL;
	struct model *m0 = NULL, *src = NULL, *out = NULL, *back = NULL;
	struct vocab_counts *cnt = NULL;
	struct vocab_keep *k = NULL;
	struct err e = {0};
	char src_dir[256], out_dir[256], p[512];
	if (tok_load("tests/data/tok/small_llama_pairs.json", &tok, &e)) {
		CHECK_MSG(0, "%s", e.msg);
		return;
	}
	int V = tok_vocab_size(tok);
	struct config c;
	memset(&c, 0, sizeof c);
	c.vocab_size = V;
	c.hidden_size = 16;
	c.intermediate_size = 24;
	c.n_layers = 1;
	c.n_heads = 2;
	c.n_kv_heads = 1;
	c.head_dim = 8;
	c.max_position_embeddings = 64;
	c.rope_theta = 10000;
	c.rms_norm_eps = 1e-5;
	c.bos_token_id = 1;
	c.eos_token_id = 2;
	c.pad_token_id = -1;
	if (model_new(&c, &m0, &e))
		goto out;
	uint32_t st = 3;
	float *ptrs[] = {m0->embed, m0->lm_head, m0->norm,
			 m0->layers[0].wq, m0->layers[0].wk, m0->layers[0].wv,
			 m0->layers[0].wo, m0->layers[0].attn_norm,
			 m0->layers[0].mlp_norm, m0->layers[0].w_gate,
			 m0->layers[0].w_up, m0->layers[0].w_down};
	size_t ns[] = {(size_t)V * 16, (size_t)V * 16, 16, 256, 128, 128, 256,
		       16, 16, 384, 384, 384};
	for (int i = 0; i < 12; i++)
		for (size_t j = 0; j < ns[i]; j++) {
			st = st * 1664525u + 1013904223u;
			ptrs[i][j] = (float)((int)(st >> 9) % 2001) / 2000.0f;
		}
	/* the source directory: an export of m0 plus the tokenizer */
	snprintf(src_dir, sizeof src_dir, "%s/vsrc", tmpdir);
	struct export_opts o0 = {.out_dir = src_dir,
				 .formats = EXPORT_HF,
				 .dtype = DTYPE_F32};
	CHECK(export_model(m0, &o0, NULL, &e) == 0);
	snprintf(p, sizeof p, "%s/tokenizer.json", src_dir);
	CHECK(copy("tests/data/tok/small_llama_pairs.json", p) == 0);
	const char *tc = "{\"add_bos_token\": true, \"added_tokens_decoder\": "
			 "{\"0\": {\"content\": \"<unk>\"}, \"3\": "
			 "{\"content\": \"<mask>\"}}}\n";
	snprintf(p, sizeof p, "%s/tokenizer_config.json", src_dir);
	CHECK(file_write_atomic(p, tc, strlen(tc), &e) == 0);
	tok_free(tok);
	tok = NULL;
	if (model_load(src_dir, &src, NULL, &e) || tok_load(src_dir, &tok, &e)) {
		CHECK_MSG(0, "%s", e.msg);
		goto out;
	}
	/* keep what two lines need, and drop the rest down to K */
	const char *line = "kuku kwa kuku na kwa kaka";
	CHECK(vocab_counts_new(tok, &cnt, &e) == 0);
	CHECK(vocab_count_text(tok, line, strlen(line), cnt, &e) == 0);
	CHECK(vocab_keep_top_k(tok, cnt, 300, true, &k, &e) == 0);
	struct prune_plan plan;
	prune_plan_init(&plan);
	plan.vocab_mode = PLAN_VOCAB_TOP_K;
	plan.vocab_keep = 300;
	struct apply_inputs in = {.keep = k};
	int rc = prune_apply(src, tok, &plan, &in, &out, &ptok, NULL, NULL, &e);
	prune_plan_free(&plan);
	CHECK_MSG(rc == 0 && ptok, "%s", e.msg);
	if (rc || !ptok)
		goto out;
	snprintf(out_dir, sizeof out_dir, "%s/vout", tmpdir);
	struct export_opts o = {.src_dir = src_dir,
				.out_dir = out_dir,
				.formats = EXPORT_HF | EXPORT_GGUF,
				.dtype = DTYPE_F32,
				.tok = ptok,
				.src_tok = tok,
				.keep = k};
	CHECK_MSG(export_model(out, &o, NULL, &e) == 0, "%s", e.msg);
	if (model_load(out_dir, &back, NULL, &e) ||
	    tok_load(out_dir, &back_tok, &e)) {
		CHECK_MSG(0, "%s", e.msg);
		goto out;
	}
	CHECK_EQ_INT(back->cfg.vocab_size, k->n_keep);
	CHECK_EQ_INT(tok_vocab_size(back_tok), k->n_keep);
	int *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	CHECK(tok_encode(ptok, line, strlen(line), true, &a, &na, &e) == 0);
	CHECK(tok_encode(back_tok, line, strlen(line), true, &b, &nb, &e) ==
	      0);
	CHECK(na == nb && na > 0 && !memcmp(a, b, na * sizeof *a));
	if (na == nb && na > 1) {
		float *la = malloc(na * (size_t)k->n_keep * 4);
		float *lb = malloc(na * (size_t)k->n_keep * 4);
		struct fwd_state *s1, *s2;
		CHECK(fwd_new(out, 0, 0, &s1, &e) == 0 &&
		      fwd_new(back, 0, 0, &s2, &e) == 0);
		CHECK(fwd_run(s1, a, (int)na, la, &e) == 0 &&
		      fwd_run(s2, b, (int)nb, lb, &e) == 0);
		CHECK(!memcmp(la, lb, na * (size_t)k->n_keep * 4));
		fwd_free(s1);
		fwd_free(s2);
		free(la);
		free(lb);
	}
	free(a);
	free(b);
	/* added_tokens_decoder renumbered: <mask> (old 3) -> its new id */
	cJSON *tcj = read_json(out_dir, "tokenizer_config.json");
	cJSON *dec = cJSON_GetObjectItemCaseSensitive(tcj,
						      "added_tokens_decoder");
	char key[16];
	snprintf(key, sizeof key, "%d", k->old_to_new[3]);
	CHECK(k->old_to_new[3] >= 0 &&
	      cJSON_GetObjectItemCaseSensitive(dec, key) != NULL);
	cJSON_Delete(tcj);
	snprintf(p, sizeof p, "%s/model.gguf", out_dir);
	CHECK(path_exists(p));
out:
	model_free(back);
	tok_free(back_tok);
	model_free(out);
	tok_free(ptok);
	model_free(src);
	model_free(m0);
	vocab_keep_free(k);
	vocab_counts_free(cnt);
	tok_free(tok);
}

int main(void)
{
	struct err e = {0};
	snprintf(tmpdir, sizeof tmpdir, "/tmp/punguza-test-export-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		CHECK(0);
		return TEST_SUMMARY();
	}
	round_trip("shared_untied", 0.5, PLAN_TIE_LM_HEAD, 2);
	round_trip("tied_gqa", 0.5, PLAN_TIE_OFF, 0);
	round_trip("bf16_mqa", 0.5, PLAN_TIE_OFF, 0);
	round_trip("odd72", 1.0, PLAN_TIE_OFF, 1);
	test_bf16();
	test_atomicity();
	test_vocab_export();
	export_remove_tree(tmpdir, &e);
	return TEST_SUMMARY();
}
