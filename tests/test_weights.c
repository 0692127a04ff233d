/* Tests for weights: the tensors torch.save and the safetensors reference
 * writer produced (tests/ref/make_io_fixtures.py) read back exactly as
 * PyTorch saw them (golden.json), single files and sharded directories,
 * lookups, duplicates across shards, missing files, and cancellation. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtype.h"
#include "err.h"
#include "fileio.h"
#include "test.h"
#include "weights.h"

#define FIX "tests/data/io/"

static cJSON *golden;

/* Compares every golden tensor with w: dtype, shape, each value exactly. */
static void check_golden(const struct weights *w, const char *what)
{
	const cJSON *g;
	int tensors = 0;
	cJSON_ArrayForEach(g, golden)
	{
		const struct tensor *t = weights_find(w, g->string);
		if (!t) {
			CHECK_MSG(0, "%s: tensor '%s' missing", what,
				  g->string);
			continue;
		}
		tensors++;
		enum dtype dt;
		dtype_parse(cJSON_GetObjectItem(g, "dtype")->valuestring, &dt);
		CHECK_MSG(t->dtype == dt, "%s: '%s' dtype", what, t->name);
		const cJSON *shape = cJSON_GetObjectItem(g, "shape");
		CHECK_MSG(t->ndim == cJSON_GetArraySize(shape),
			  "%s: '%s' ndim %d", what, t->name, t->ndim);
		for (int i = 0; i < t->ndim && i < cJSON_GetArraySize(shape);
		     i++)
			CHECK_EQ_INT(t->shape[i],
				     cJSON_GetArrayItem(shape, i)->valueint);
		const cJSON *vals = cJSON_GetObjectItem(g, "values");
		size_t n = (size_t)cJSON_GetArraySize(vals);
		CHECK_EQ_INT(t->numel, n);
		CHECK_EQ_INT(t->nbytes, n * dtype_size(t->dtype));
		if (t->numel != n)
			continue;
		float *f = malloc((n ? n : 1) * sizeof *f);
		dtype_to_f32(f, t->data, t->dtype, n);
		size_t bad = 0, i = 0;
		double sum = 0;
		const cJSON *v;
		cJSON_ArrayForEach(v, vals)
		{
			bad += (double)f[i] != v->valuedouble;
			sum += f[i++];
		}
		CHECK_MSG(bad == 0, "%s: '%s' has %zu values unlike PyTorch's",
			  what, t->name, bad);
		CHECK_NEAR(sum, cJSON_GetObjectItem(g, "sum")->valuedouble,
			   1e-9);
		free(f);
	}
	CHECK_EQ_INT(tensors, 10);
}

static void test_files(void)
{
	static const char *const files[] = {FIX "state.bin", FIX "state_p4.bin",
					    FIX "state.safetensors"};
	struct err e;
	for (int i = 0; i < 3; i++) {
		struct weights *w = NULL;
		int rc = weights_open_file(files[i], &w, &e);
		CHECK_MSG(rc == 0, "%s", e.msg);
		if (rc < 0)
			continue;
		CHECK_EQ_INT(weights_count(w), 10);
		check_golden(w, files[i]);
		CHECK_STR(weights_format(w), i < 2 ? "pytorch" : "safetensors");
		struct file_map m;
		if (file_map_open(files[i], &m, &e) == 0) {
			CHECK_EQ_INT(weights_file_bytes(w), m.size);
			file_map_close(&m);
		}
		CHECK(weights_find(w, "nope") == NULL);
		CHECK(weights_find(w, "") == NULL);
		CHECK(weights_at(w, 10) == NULL);
		/* weights_at walks the file's order; names are found. */
		for (size_t k = 0; k < weights_count(w); k++)
			CHECK(weights_find(w, weights_at(w, k)->name) ==
			      weights_at(w, k));
		if (i < 2) {
			/* state-dict order, and a view sharing storage:
			 * shared.view = shared.base[2:8], zero-copy. */
			CHECK_STR(weights_at(w, 0)->name, "weight");
			CHECK_STR(weights_at(w, 9)->name, "cube");
			const struct tensor *b = weights_find(w, "shared.base");
			const struct tensor *v = weights_find(w, "shared.view");
			CHECK(b && v &&
			      (const char *)v->data ==
				  (const char *)b->data + 2 * 4);
		}
		weights_free(w);
	}
}

static int count_cb(void *ctx, double done, const char *stage)
{
	(void)done;
	(void)stage;
	++*(int *)ctx;
	return 0;
}

static int cancel_cb(void *ctx, double done, const char *stage)
{
	(void)ctx;
	(void)stage;
	return done > 0.4;
}

static void test_dirs(void)
{
	struct err e;
	struct weights *w = NULL;
	int calls = 0;
	struct progress p = {.fn = count_cb, .ctx = &calls};
	int rc = weights_open_dir(FIX "sharded", &w, &p, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	if (rc == 0) {
		CHECK_STR(weights_format(w), "safetensors (sharded, 2 files)");
		CHECK_EQ_INT(weights_count(w), 10);
		check_golden(w, "sharded");
		CHECK_EQ_INT(calls, 3); /* each shard, then done */
	}
	weights_free(w);
	w = NULL;
	rc = weights_open_dir(FIX "sharded-bin/", &w, NULL, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	if (rc == 0) {
		CHECK_STR(weights_format(w), "pytorch (sharded, 2 files)");
		check_golden(w, "sharded-bin");
	}
	weights_free(w);
	w = NULL;
	struct progress c = {.fn = cancel_cb};
	CHECK_ERR(weights_open_dir(FIX "sharded", &w, &c, &e), e, ERR_CANCELLED,
		  "cancelled");
	CHECK(w == NULL);
	CHECK_ERR(weights_open_dir(FIX "dup", &w, NULL, &e), e, ERR_FORMAT,
		  "duplicate tensor 'a' in '" FIX "dup/a.safetensors' and '" FIX
		  "dup/b.safetensors'");
	CHECK_ERR(weights_open_dir(FIX, &w, NULL, &e), e, ERR_NOTFOUND,
		  "no weights in '" FIX "' (looked for model.safetensors");
	CHECK_ERR(weights_open_dir("/nonexistent-punguza", &w, NULL, &e), e,
		  ERR_NOTFOUND, "'/nonexistent-punguza' is not a directory");
	CHECK_ERR(weights_open_file(FIX "missing.safetensors", &w, &e), e,
		  ERR_NOTFOUND, "cannot open '" FIX "missing.safetensors'");
	CHECK_ERR(weights_open_file(FIX "golden.json", &w, &e), e, ERR_FORMAT,
		  "'" FIX "golden.json': header length");
	/* Free of NULL and queries on NULL are harmless. */
	weights_free(NULL);
	CHECK_EQ_INT(weights_count(NULL), 0);
	CHECK(weights_find(NULL, "x") == NULL);
}

/* A sharded index whose entries are wrong, made in /tmp. */
static void test_bad_index(void)
{
	char dir[] = "/tmp/punguza-wi-XXXXXX";
	if (!mkdtemp(dir)) {
		SKIP("cannot make a temporary directory");
		return;
	}
	char idx[256], shard[256];
	snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
	snprintf(shard, sizeof shard, "%s/s1.safetensors", dir);
	struct err e;
	struct weights *w = NULL;
	char *st;
	size_t len;
	if (file_read_all(FIX "dup/a.safetensors", 4096, &st, &len, &e) == 0) {
		file_write_atomic(shard, st, len, &e);
		free(st);
	}
	static const struct {
		const char *json, *err;
		int code;
	} cases[] = {
	    {"{\"weight_map\":{\"a\":\"../x\"}}", "maps to a bad shard name",
	     ERR_FORMAT},
	    {"{\"weight_map\":{\"a\":\"/etc/passwd\"}}", "bad shard name",
	     ERR_FORMAT},
	    {"{\"weight_map\":{}}", "\"weight_map\" is empty", ERR_FORMAT},
	    {"[]", "no \"weight_map\" object", ERR_FORMAT},
	    {"{\"weight_map\":{\"a\":\"s2.safetensors\"}}", "s2.safetensors'",
	     ERR_NOTFOUND},
	    {"{\"weight_map\":{\"a\":\"s1.safetensors\",\"zz\":"
	     "\"s1.safetensors\"}}",
	     "tensor 'zz' is not in 's1.safetensors'", ERR_NOTFOUND},
	    {"{\"weight_map\":{\"a\":\"s1.safetensors\"}}", NULL, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		file_write_atomic(idx, cases[i].json, strlen(cases[i].json),
				  &e);
		err_clear(&e);
		int rc = weights_open_dir(dir, &w, NULL, &e);
		if (cases[i].err)
			CHECK_ERR(rc, e, cases[i].code, cases[i].err);
		else
			CHECK_MSG(rc == 0 && weights_find(w, "a"), "%s", e.msg);
		weights_free(w);
		w = NULL;
	}
	/* A truncated shard copied to /tmp fails with its name. */
	file_write_atomic(shard, "\x10\x00\x00\x00\x00\x00\x00\x00{\"a\"", 12,
			  &e);
	CHECK_ERR(weights_open_dir(dir, &w, NULL, &e), e, ERR_FORMAT,
		  "s1.safetensors': header length 16 exceeds file size 12");
	unlink(idx);
	unlink(shard);
	/* Both formats present: safetensors is preferred, then .bin. */
	char stp[256], bin[256];
	snprintf(stp, sizeof stp, "%s/model.safetensors", dir);
	snprintf(bin, sizeof bin, "%s/pytorch_model.bin", dir);
	static const char *const from[2] = {FIX "state.safetensors",
					    FIX "state.bin"};
	const char *to[2] = {stp, bin};
	for (int i = 0; i < 2; i++) {
		char *buf;
		size_t blen;
		if (file_read_all(from[i], 1 << 20, &buf, &blen, &e) == 0) {
			file_write_atomic(to[i], buf, blen, &e);
			free(buf);
		}
	}
	CHECK_EQ_INT(weights_open_dir(dir, &w, NULL, &e), 0);
	CHECK_STR(weights_format(w), "safetensors");
	weights_free(w);
	w = NULL;
	unlink(stp);
	CHECK_EQ_INT(weights_open_dir(dir, &w, NULL, &e), 0);
	CHECK_STR(weights_format(w), "pytorch");
	CHECK_EQ_INT(weights_count(w), 10);
	weights_free(w);
	w = NULL;
	unlink(bin);
	rmdir(dir);
}

int main(void)
{
	char *text;
	size_t len;
	struct err e;
	if (file_read_all(FIX "golden.json", 1 << 20, &text, &len, &e) < 0) {
		SKIP("%s", e.msg);
		return TEST_SUMMARY();
	}
	golden = cJSON_Parse(text);
	free(text);
	test_files();
	test_dirs();
	test_bad_index();
	cJSON_Delete(golden);
	return TEST_SUMMARY();
}
