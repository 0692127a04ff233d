/* Tests for err, dtype, fileio and config (DESIGN §1.2 counts). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "dtype.h"
#include "err.h"
#include "fileio.h"
#include "test.h"

static void test_err(void)
{
	struct err e;
	CHECK_EQ_INT(err_set(&e, ERR_FORMAT, "'%s': bad", "x"), ERR_FORMAT);
	CHECK_STR(e.msg, "'x': bad");
	err_wrap(&e, "loading '%s'", "dir");
	CHECK_STR(e.msg, "loading 'dir': 'x': bad");
	CHECK_EQ_INT(err_set(NULL, ERR_IO, "no buffer"), ERR_IO);
}

static void test_dtype(void)
{
	/* Values PyTorch gives: torch.tensor(x).to(torch.bfloat16).view(int16) */
	CHECK_EQ_INT(dtype_f32_to_bf16(1.0f), 0x3f80);
	CHECK_EQ_INT(dtype_f32_to_bf16(-2.5f), 0xc020);
	CHECK_EQ_INT(dtype_f32_to_bf16(1.00390625f), 0x3f80); /* tie -> even */
	CHECK_EQ_INT(dtype_f32_to_bf16(1.01171875f), 0x3f82); /* tie -> even */
	CHECK_EQ_INT(dtype_f32_to_f16(1.0f), 0x3c00);
	CHECK_EQ_INT(dtype_f32_to_f16(65504.0f), 0x7bff);
	CHECK_EQ_INT(dtype_f32_to_f16(65520.0f), 0x7c00);
	CHECK_EQ_INT(dtype_f32_to_f16(5.9604645e-08f), 0x0001); /* min subnormal */
	CHECK_EQ_INT(dtype_f32_to_f16(-0.0f), 0x8000);
	CHECK_EQ_INT(dtype_f32_to_f16(0.333333343f), 0x3555);
	CHECK(dtype_f16_to_f32(0x3555) == 0.333251953125f);
	CHECK(dtype_f16_to_f32(0x0001) == 5.9604645e-08f);
	CHECK(dtype_bf16_to_f32(0xc020) == -2.5f);
	/* Every f16 survives a round trip through f32. */
	int bad = 0;
	for (unsigned h = 0; h < 0x10000; h++) {
		if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
			continue; /* NaN payloads need not survive */
		if (dtype_f32_to_f16(dtype_f16_to_f32((uint16_t)h)) != h)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	enum dtype t;
	CHECK(dtype_parse("bfloat16", &t) == 0 && t == DTYPE_BF16);
	CHECK(dtype_parse("BF16", &t) == 0 && t == DTYPE_BF16);
	CHECK(dtype_parse("int8", &t) == -1);
}

static void test_params(void)
{
	struct config c;
	config_inkubalm(&c);
	CHECK_EQ_INT(config_param_count(&c), 421939200);
	/* DESIGN §1.2's published configurations. */
	struct {
		int V, d, f, L, tied;
		long long P;
	} rows[] = {
		{8064, 1024, 2816, 8, 1, 50480128},
		{61788, 1024, 2816, 8, 1, 105493504},
		{8064, 1024, 2816, 6, 1, 42087424},
		{8064, 2048, 5632, 8, 0, 201885696},
		{8064, 1024, 2816, 8, 0, 58737664},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		c.vocab_size = rows[i].V;
		c.hidden_size = rows[i].d;
		c.intermediate_size = rows[i].f;
		c.n_layers = rows[i].L;
		c.tie_word_embeddings = rows[i].tied;
		c.head_dim = rows[i].d / c.n_heads;
		CHECK_EQ_INT(config_param_count(&c), rows[i].P);
	}
	struct param_breakdown p;
	config_inkubalm(&c);
	config_params(&c, &p);
	CHECK_EQ_INT(p.embed, 61788LL * 2048);
	CHECK_EQ_INT(p.mlp, 3LL * 2048 * 5632);
	CHECK_EQ_INT(p.norms, 17LL * 2048);
}

static void test_config_parse(void)
{
	const char *path = SHARED_DATA "/inkubalm-0.4b/config.json";
	struct config c;
	struct err e = {0};
	if (access(path, R_OK) == 0) {
		CHECK_EQ_INT(config_load(path, &c, &e), 0);
		CHECK_EQ_INT(c.hidden_size, 2048);
		CHECK(c.shared_mlp);
		CHECK(!c.tie_word_embeddings);
		CHECK_EQ_INT(c.head_dim, 64);
		CHECK_EQ_INT(config_param_count(&c), 421939200);
		config_free(&c);
	} else {
		SKIP("%s is absent: real InkubaLM config not checked", path);
	}
	const char *bad[][2] = {
		{"[1,2]", "not a JSON object"},
		{"{\"hidden_size\": 64", "malformed JSON"},
		{"{}", "missing key \"vocab_size\""},
		{"{\"vocab_size\":10,\"hidden_size\":-8,\"intermediate_size\":4,"
		 "\"num_hidden_layers\":1,\"num_attention_heads\":2}",
		 "\"hidden_size\" = -8 is out of range"},
		{"{\"vocab_size\":10,\"hidden_size\":8,\"intermediate_size\":4,"
		 "\"num_hidden_layers\":1,\"num_attention_heads\":4,"
		 "\"num_key_value_heads\":3}",
		 "3 key/value heads do not divide 4 heads"},
		{"{\"vocab_size\":10,\"hidden_size\":6,\"intermediate_size\":4,"
		 "\"num_hidden_layers\":1,\"num_attention_heads\":2}",
		 "head_dim 3 is odd"},
		{"{\"vocab_size\":10.5,\"hidden_size\":6}",
		 "\"vocab_size\" is not an integer"},
		/* out of every integer type: refused before any conversion
		 * (tests/fuzz/corpus/config/ has these for the sanitizers) */
		{"{\"vocab_size\":10,\"hidden_size\":8,\"intermediate_size\":4,"
		 "\"num_hidden_layers\":1e300,\"num_attention_heads\":2}",
		 "\"num_hidden_layers\" is not an integer"},
		{"{\"vocab_size\":-1e300,\"hidden_size\":8}",
		 "\"vocab_size\" is not an integer"},
		{"{\"vocab_size\":10,\"hidden_size\":8,\"intermediate_size\":4,"
		 "\"num_hidden_layers\":1,\"num_attention_heads\":2,"
		 "\"bos_token_id\":1e300}",
		 "\"bos_token_id\" is not a token id"},
		{"{\"vocab_size\":10,\"hidden_size\":8,\"intermediate_size\":4,"
		 "\"num_hidden_layers\":1,\"num_attention_heads\":2,"
		 "\"pad_token_id\":-2}",
		 "\"pad_token_id\" is not a token id"},
		{"{\"vocab_size\":10,\"hidden_size\":8,\"intermediate_size\":4,"
		 "\"num_hidden_layers\":1,\"num_attention_heads\":2,"
		 "\"rope_theta\":1e999}",
		 "\"rope_theta\" is not a finite number"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_ERR(config_parse(bad[i][0], strlen(bad[i][0]), "t.json", &c,
				       &e),
			  e, ERR_FORMAT, bad[i][1]);
	/* pad_token_id -1 (common in Hugging Face configs) means none. */
	static const char pad[] =
	    "{\"vocab_size\":10,\"hidden_size\":8,\"intermediate_size\":4,"
	    "\"num_hidden_layers\":1,\"num_attention_heads\":2,"
	    "\"bos_token_id\":1,\"eos_token_id\":[2],\"pad_token_id\":-1}";
	CHECK_MSG(config_parse(pad, sizeof pad - 1, "t.json", &c, &e) == 0,
		  "%s", e.msg);
	CHECK_EQ_INT(c.pad_token_id, -1);
	CHECK_EQ_INT(c.eos_token_id, 2);
	config_free(&c);
	CHECK_ERR(config_load("/nonexistent/dir", &c, &e), e, ERR_NOTFOUND,
		  "cannot open '/nonexistent/dir'");
}

static void test_fileio(void)
{
	char dir[] = "/tmp/punguza-test-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[256];
	struct err e = {0};
	CHECK_EQ_INT(path_join(path, sizeof path, dir, "a.txt", &e), 0);
	CHECK_EQ_INT(file_write_atomic(path, "hello", 5, &e), 0);
	char *buf;
	size_t len;
	CHECK_EQ_INT(file_read_all(path, 100, &buf, &len, &e), 0);
	CHECK(len == 5 && memcmp(buf, "hello", 5) == 0);
	free(buf);
	CHECK_ERR(file_read_all(path, 4, &buf, &len, &e), e, ERR_FORMAT,
		  "is too large");
	struct file_map m;
	CHECK_EQ_INT(file_map_open(path, &m, &e), 0);
	CHECK(m.size == 5 && memcmp(m.data, "hello", 5) == 0);
	file_map_close(&m);
	/* Writing into a missing directory fails and leaves nothing behind. */
	char bad[300];
	snprintf(bad, sizeof bad, "%s/missing/x", dir);
	CHECK_ERR(file_write_atomic(bad, "x", 1, &e), e, ERR_IO, "cannot create");
	unlink(path);
	CHECK_EQ_INT(rmdir(dir), 0);
}

/* path_resolve / path_overlaps / out_dir_*: what "is OUT the source or
 * under/over it" means, also for an OUT that does not exist yet. */
static void test_out_dir(void)
{
	char dir[] = "/tmp/punguza-test-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char real[PATH_MAX], src[600], p[700], q[PATH_MAX + 32], got[PATH_MAX];
	struct err e = {0};
	CHECK(realpath(dir, real) != NULL);
	snprintf(src, sizeof src, "%s/src", dir);
	CHECK_EQ_INT(mkdir(src, 0777), 0);
	/* A missing tail is appended, "." and ".." applied lexically. */
	snprintf(p, sizeof p, "%s/src/new/./deeper/../x/", dir);
	CHECK_EQ_INT(path_resolve(p, got, sizeof got, &e), 0);
	snprintf(q, sizeof q, "%s/src/new/x", real);
	CHECK_STR(got, q);
	snprintf(p, sizeof p, "%s/src/../other", dir);
	CHECK_EQ_INT(path_resolve(p, got, sizeof got, &e), 0);
	snprintf(q, sizeof q, "%s/other", real);
	CHECK_STR(got, q);
	/* Over, equal, under (existing or not), beside. */
	snprintf(p, sizeof p, "%s/src/pruned", dir);
	CHECK_EQ_INT(path_overlaps(p, src, &e), 1);
	CHECK_EQ_INT(path_overlaps(src, p, &e), 1);
	CHECK_EQ_INT(path_overlaps(dir, src, &e), 1);
	snprintf(p, sizeof p, "%s/src/", dir);
	CHECK_EQ_INT(path_overlaps(p, src, &e), 1);
	snprintf(p, sizeof p, "%s/srcx", dir);
	CHECK_EQ_INT(path_overlaps(p, src, &e), 0);
	snprintf(p, sizeof p, "%s/src/../srcx/a", dir);
	CHECK_EQ_INT(path_overlaps(p, src, &e), 0);
	/* Through a symlink. */
	snprintf(p, sizeof p, "%s/link", dir);
	CHECK_EQ_INT(symlink(src, p), 0);
	snprintf(q, sizeof q, "%s/link/out", dir);
	CHECK_EQ_INT(path_overlaps(q, src, &e), 1);
	/* out_dir: refused, then written and committed, then forced. */
	struct out_dir od;
	snprintf(q, sizeof q, "%s/link/out", dir);
	CHECK_ERR(out_dir_begin(&od, q, src, true, &e), e, ERR_INVALID,
		  "cannot write into the source");
	snprintf(q, sizeof q, "%s/out", dir);
	CHECK_EQ_INT(out_dir_begin(&od, q, src, false, &e), 0);
	CHECK(path_is_dir(od.tmp));
	CHECK_EQ_INT(path_join(p, sizeof p, od.tmp, "f", &e), 0);
	CHECK_EQ_INT(file_write_atomic(p, "1", 1, &e), 0);
	CHECK_EQ_INT(out_dir_commit(&od, &e), 0);
	out_dir_abort(&od); /* after a commit: nothing */
	CHECK_EQ_INT(path_join(p, sizeof p, q, "f", &e), 0);
	CHECK(path_exists(p));
	CHECK_ERR(out_dir_begin(&od, q, src, false, &e), e, ERR_INVALID,
		  "not empty");
	CHECK_EQ_INT(out_dir_begin(&od, q, NULL, true, &e), 0);
	CHECK_EQ_INT(out_dir_commit(&od, &e), 0);
	CHECK(path_is_dir(q) && !path_exists(p));
	CHECK_EQ_INT(path_remove_tree(dir, &e), 0);
	CHECK(!path_exists(dir));
}

int main(void)
{
	test_err();
	test_dtype();
	test_params();
	test_config_parse();
	test_fileio();
	test_out_dir();
	return TEST_SUMMARY();
}
