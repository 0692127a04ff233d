/* Tests for weights: the tensors torch.save and the safetensors reference
 * writer produced (tests/ref/make_io_fixtures.py) read back exactly as
 * PyTorch saw them (golden.json), single files and sharded directories,
 * lookups, duplicates across shards, missing files, and cancellation. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dtype.h"
#include "err.h"
#include "fileio.h"
#include "model.h"
#include "torchbin.h"
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
	/* A legacy (non-zip) torch.save file: named for what it is, not
	 * taken for a broken safetensors file. */
	static const char legacy[] =
	    "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."
	    "\x80\x02}q\x00.";
	file_write_atomic(shard, legacy, sizeof legacy - 1, &e);
	CHECK_ERR(weights_open_file(shard, &w, &e), e, ERR_UNSUPPORTED,
		  "s1.safetensors': legacy (non-zip) torch.save format is not "
		  "supported; re-save with torch.save(..., "
		  "_use_new_zipfile_serialization=True)");
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

/* Runs fn(arg) in a child process that a hang or runaway work cannot take
 * down with the test: at most `cpu` seconds of CPU (RLIMIT_CPU, so a
 * loaded machine does not fail it) and `wall` seconds of waiting
 * (alarm). Returns fn's result, or -1000 - signal when it was killed. */
static int in_child(int (*fn)(const char *), const char *arg, int cpu,
		    int wall)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -999;
	if (pid == 0) {
		struct rlimit rl = {(rlim_t)cpu, (rlim_t)cpu};
		setrlimit(RLIMIT_CPU, &rl);
		alarm((unsigned)wall);
		_exit(fn(arg) & 0xff);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -999;
	if (WIFSIGNALED(st))
		return -1000 - WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* 0 when dir's index of 100,000 distinct missing shards fails on the
 * first one, as it should. */
static int open_big_index(const char *dir)
{
	struct weights *w = NULL;
	struct err e = {0};
	int rc = weights_open_dir(dir, &w, NULL, &e);
	weights_free(w);
	if (rc != ERR_NOTFOUND || !strstr(e.msg, "s000000.safetensors'")) {
		fprintf(stderr, "big index: %d %s\n", rc, e.msg);
		return 1;
	}
	return 0;
}

/* An index naming 100,000 distinct shard files: deduplicating their names
 * used to take n^2/2 string compares; O(n log n) takes well
 * under a second (0.2 s here, 19 s of CPU before). Run under a 5 s CPU
 * limit (25x the need, not a wall-clock timing) rather than timed. */
static void test_big_index(void)
{
	char dir[] = "/tmp/punguza-wb-XXXXXX";
	if (!mkdtemp(dir)) {
		SKIP("cannot make a temporary directory");
		return;
	}
	enum { N = 100000 };
	size_t cap = (size_t)N * 48 + 64, n = 0;
	char *json = malloc(cap);
	struct err e;
	n += (size_t)snprintf(json + n, cap - n, "{\"weight_map\": {");
	for (int i = 0; i < N; i++)
		n += (size_t)snprintf(json + n, cap - n,
				      "%s\"t%06d\": \"s%06d.safetensors\"",
				      i ? ", " : "", i, i);
	n += (size_t)snprintf(json + n, cap - n, "}}");
	char idx[256];
	snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
	CHECK_EQ_INT(file_write_atomic(idx, json, n, &e), 0);
	free(json);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = in_child(open_big_index, dir, 5, 600);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK_MSG(rc == 0, "100,000-shard index: child %d (-1000 - signal)",
		  rc);
	fprintf(stderr, "tests/test_weights.c: note: 100,000-shard index "
			"in %.2f s\n",
		(double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
	unlink(idx);
	rmdir(dir);
}

/* 0 when opening dir refuses its FIFO (never blocks on it). */
static int open_fifo_dir(const char *dir)
{
	struct weights *w = NULL;
	struct err e = {0};
	int rc = weights_open_dir(dir, &w, NULL, &e);
	weights_free(w);
	if (rc != ERR_IO || !strstr(e.msg, "is not a regular file")) {
		fprintf(stderr, "fifo: %d %s\n", rc, e.msg);
		return 1;
	}
	return 0;
}

static int read_fifo(const char *path)
{
	char *buf = NULL;
	size_t len;
	struct err e = {0};
	int rc = file_read_all(path, 100, &buf, &len, &e);
	free(buf);
	if (rc != ERR_IO || !strstr(e.msg, "is not a regular file")) {
		fprintf(stderr, "fifo: %d %s\n", rc, e.msg);
		return 1;
	}
	return 0;
}

/* A FIFO where a checkpoint, a shard or a JSON file should be: refused at
 * once (opening one for reading blocks until a writer comes). */
static void test_fifo(void)
{
	char dir[] = "/tmp/punguza-wf-XXXXXX";
	if (!mkdtemp(dir)) {
		SKIP("cannot make a temporary directory");
		return;
	}
	char p[256], idx[256];
	struct err e;
	snprintf(p, sizeof p, "%s/model.safetensors", dir);
	CHECK_EQ_INT(mkfifo(p, 0666), 0);
	CHECK_MSG(in_child(open_fifo_dir, dir, 20, 20) == 0,
		  "model.safetensors as a FIFO");
	CHECK_MSG(in_child(read_fifo, p, 20, 20) == 0,
		  "file_read_all of a FIFO");
	unlink(p);
	snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
	static const char js[] = "{\"weight_map\": {\"a\": \"s.safetensors\"}}";
	CHECK_EQ_INT(file_write_atomic(idx, js, sizeof js - 1, &e), 0);
	snprintf(p, sizeof p, "%s/s.safetensors", dir);
	CHECK_EQ_INT(mkfifo(p, 0666), 0);
	CHECK_MSG(in_child(open_fifo_dir, dir, 20, 20) == 0,
		  "a shard as a FIFO");
	unlink(p);
	unlink(idx);
	rmdir(dir);
}

/* CRC-32 of PyTorch zip storages: weights_check per tensor, and
 * model_load, which checks every tensor it uses, refuses a flipped byte. */
static void test_crc(void)
{
	struct err e = {0};
	struct weights *w = NULL;
	CHECK_EQ_INT(weights_open_file(FIX "crc_flipped.bin", &w, &e), 0);
	int bad = 0;
	for (size_t i = 0; i < weights_count(w); i++) {
		const struct tensor *t = weights_at(w, i);
		if (weights_check(w, t, &e)) {
			bad++;
			CHECK_ERR(ERR_FORMAT, e, ERR_FORMAT,
				  "crc_flipped.bin': zip entry 'state/data/0' "
				  "is corrupt");
		}
	}
	CHECK_EQ_INT(bad, 1); /* only 'weight' lives in data/0 */
	weights_free(w);
	w = NULL;

	/* The shipped model as a .bin, then one byte of the final norm
	 * flipped where a loader reads it in place. */
	char dir[] = "/tmp/punguza-wc-XXXXXX";
	if (!mkdtemp(dir)) {
		SKIP("cannot make a temporary directory");
		return;
	}
	char bin[256], cfg[256], *text;
	size_t len;
	snprintf(bin, sizeof bin, "%s/pytorch_model.bin", dir);
	snprintf(cfg, sizeof cfg, "%s/config.json", dir);
	if (weights_open_dir("assets/tiny-inkuba", &w, NULL, &e) ||
	    file_read_all("assets/tiny-inkuba/config.json", 1 << 20, &text,
			  &len, &e)) {
		CHECK_MSG(0, "%s", e.msg);
		weights_free(w);
		rmdir(dir);
		return;
	}
	file_write_atomic(cfg, text, len, &e);
	free(text);
	size_t n = weights_count(w);
	struct tensor_src *ts = calloc(n, sizeof *ts);
	for (size_t i = 0; i < n; i++) {
		const struct tensor *t = weights_at(w, i);
		ts[i] = (struct tensor_src){.name = t->name, .dtype = t->dtype,
					    .ndim = t->ndim, .src = t->data,
					    .src_dtype = t->dtype};
		memcpy(ts[i].shape, t->shape, sizeof ts[i].shape);
	}
	CHECK_EQ_INT(torchbin_write(bin, ts, n, NULL, NULL, &e), 0);
	free(ts);
	weights_free(w);
	w = NULL;
	struct model *m = NULL;
	CHECK_MSG(model_load(dir, &m, NULL, &e) == 0, "%s", e.msg);
	model_free(m);
	m = NULL;
	/* where model.norm.weight's bytes are in the file */
	long off = -1;
	struct file_map fm;
	struct tensor *pt = NULL;
	size_t np = 0;
	if (file_map_open(bin, &fm, &e) == 0) {
		if (torchbin_parse(fm.data, (size_t)fm.size, bin, &pt, &np,
				   &e) == 0)
			for (size_t i = 0; i < np; i++)
				if (!strcmp(pt[i].name, "model.norm.weight"))
					off = (long)((const unsigned char *)
							 pt[i].data -
						     fm.data) + 5;
		tensor_array_free(pt, np);
		file_map_close(&fm);
	}
	CHECK(off > 0);
	int fd = open(bin, O_RDWR);
	unsigned char byte = 0;
	CHECK(fd >= 0 && pread(fd, &byte, 1, off) == 1);
	byte ^= 0x10;
	CHECK(fd >= 0 && pwrite(fd, &byte, 1, off) == 1);
	if (fd >= 0)
		close(fd);
	CHECK_ERR(model_load(dir, &m, NULL, &e), e, ERR_FORMAT,
		  "is corrupt (CRC-32");
	model_free(m);
	unlink(bin);
	unlink(cfg);
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
	test_big_index();
	test_fifo();
	test_crc();
	cJSON_Delete(golden);
	return TEST_SUMMARY();
}
