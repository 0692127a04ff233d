/* Tests for safetensors: hostile headers (each must give its own error, no
 * crash), truncations of a real file made by tests/ref/make_io_fixtures.py,
 * and the streaming writer (exact header, bf16/f16 rounding, failures leave
 * no temporary behind). Values of the real file are checked against
 * PyTorch's in test_weights.c. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtype.h"
#include "err.h"
#include "fileio.h"
#include "safetensors.h"
#include "test.h"

#define FIX "tests/data/io/"

/* A safetensors buffer: header length (or `forced_len` when non-zero),
 * the JSON, then data_len zero bytes. */
static unsigned char *make(const char *json, size_t data_len,
			   uint64_t forced_len, size_t *len)
{
	size_t h = strlen(json);
	*len = 8 + h + data_len;
	unsigned char *b = calloc(1, *len);
	uint64_t hl = forced_len ? forced_len : h;
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(hl >> (8 * i));
	memcpy(b + 8, json, h);
	return b;
}

static int parse_json(const char *json, size_t data_len, struct err *e)
{
	size_t len;
	unsigned char *b = make(json, data_len, 0, &len);
	struct tensor *t = NULL;
	size_t n = 0;
	err_clear(e);
	int rc = safetensors_parse(b, len, "x.safetensors", &t, &n, e);
	tensor_array_free(t, n);
	free(b);
	return rc;
}

static void test_hostile(void)
{
	struct err e;
	struct tensor *t = NULL;
	size_t n = 0, len;

	unsigned char *b = make("{}", 90, 9999, &len);
	CHECK_ERR(safetensors_parse(b, len, "model.safetensors", &t, &n, &e),
		  e, ERR_FORMAT,
		  "'model.safetensors': header length 9999 exceeds file size "
		  "100");
	free(b);
	CHECK_ERR(safetensors_parse("abc", 3, "x", &t, &n, &e), e, ERR_FORMAT,
		  "too small");

	CHECK_ERR(parse_json("[1,2]", 0, &e), e, ERR_FORMAT,
		  "'x.safetensors': header is not a JSON object");
	CHECK_ERR(parse_json("\"a\"", 0, &e), e, ERR_FORMAT,
		  "not a JSON object");
	CHECK_ERR(parse_json("{\"a\":", 0, &e), e, ERR_FORMAT,
		  "header is not valid JSON");
	CHECK_ERR(parse_json("{}  x", 0, &e), e, ERR_FORMAT,
		  "garbage after the JSON header");
	CHECK_ERR(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
			     "\"data_offsets\":[0,8]},"
			     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],"
			     "\"data_offsets\":[4,12]}}",
			     12, &e),
		  e, ERR_FORMAT, "tensors 'a' and 'b' overlap");
	CHECK_ERR(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],"
			     "\"data_offsets\":[0,16]}}",
			     8, &e),
		  e, ERR_FORMAT,
		  "tensor 'a': data offsets [0, 16] lie beyond the data "
		  "section (8 bytes)");
	CHECK_ERR(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],"
			     "\"data_offsets\":[8,0]}}",
			     8, &e),
		  e, ERR_FORMAT, "are reversed");
	CHECK_ERR(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":"
			     "[4294967296,4294967296,4294967296],"
			     "\"data_offsets\":[0,8]}}",
			     8, &e),
		  e, ERR_FORMAT, "tensor 'a': shape product overflows");
	CHECK_ERR(parse_json("{\"a\":{\"dtype\":\"BF16\",\"shape\":"
			     "[4503599627370496,1024],"
			     "\"data_offsets\":[0,8]}}",
			     8, &e),
		  e, ERR_FORMAT, "shape product overflows");
	CHECK_ERR(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],"
			     "\"data_offsets\":[0,0]}}",
			     0, &e),
		  e, ERR_FORMAT, "shape entry 0 is not a non-negative integer");
	CHECK_ERR(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,1.5],"
			     "\"data_offsets\":[0,0]}}",
			     0, &e),
		  e, ERR_FORMAT, "shape entry 1 is not a non-negative integer");
	CHECK_ERR(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],"
			     "\"data_offsets\":[0,8]}}",
			     8, &e),
		  e, ERR_FORMAT, "data offsets span 8 bytes, shape and dtype "
				 "need 12");
	CHECK_ERR(parse_json("{\"w\":{\"dtype\":\"I64\",\"shape\":[1],"
			     "\"data_offsets\":[0,8]}}",
			     8, &e),
		  e, ERR_UNSUPPORTED, "tensor 'w' has dtype 'I64'");
	CHECK_ERR(parse_json("{\"w\":{\"dtype\":\"Q7\",\"shape\":[1],"
			     "\"data_offsets\":[0,8]}}",
			     8, &e),
		  e, ERR_FORMAT, "tensor 'w' has unknown dtype 'Q7'");
	CHECK_ERR(parse_json("{\"w\":{\"shape\":[1],"
			     "\"data_offsets\":[0,4]}}",
			     4, &e),
		  e, ERR_FORMAT, "tensor 'w' has no \"dtype\" string");
	CHECK_ERR(parse_json("{\"w\":{\"dtype\":\"F32\","
			     "\"data_offsets\":[0,4]}}",
			     4, &e),
		  e, ERR_FORMAT, "tensor 'w' has no \"shape\" array");
	CHECK_ERR(parse_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
			     "\"data_offsets\":[0]}}",
			     4, &e),
		  e, ERR_FORMAT, "\"data_offsets\" must be two");
	CHECK_ERR(parse_json("{\"w\":{\"dtype\":\"F32\",\"shape\":"
			     "[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
			     4, &e),
		  e, ERR_UNSUPPORTED, "tensor 'w' has 9 dimensions (at most 8)");
	CHECK_ERR(parse_json("{\"w\":[1]}", 0, &e), e, ERR_FORMAT,
		  "header entry 'w' is not an object");
	CHECK_ERR(parse_json("{\"__metadata__\":3}", 0, &e), e, ERR_FORMAT,
		  "\"__metadata__\" is not an object");

	/* Accepted: metadata skipped, empty tensors anywhere, gaps. */
	size_t l2;
	unsigned char *ok = make("{\"__metadata__\":{\"format\":\"pt\"},"
				 "\"e\":{\"dtype\":\"F16\",\"shape\":[0,3],"
				 "\"data_offsets\":[2,2]},"
				 "\"w\":{\"dtype\":\"BF16\",\"shape\":[2],"
				 "\"data_offsets\":[0,4]},"
				 "\"s\":{\"dtype\":\"F32\",\"shape\":[],"
				 "\"data_offsets\":[8,12]}}   ",
				 12, 0, &l2);
	err_clear(&e);
	int rc = safetensors_parse(ok, l2, "ok", &t, &n, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	if (rc == 0) {
		CHECK_EQ_INT(n, 3);
		CHECK_STR(t[0].name, "e");
		CHECK_EQ_INT(t[0].numel, 0);
		CHECK_EQ_INT(t[1].dtype, DTYPE_BF16);
		CHECK_EQ_INT(t[2].ndim, 0);
		CHECK_EQ_INT(t[2].numel, 1);
		CHECK(t[2].data == ok + 8 + (l2 - 8 - 12) + 8);
	}
	tensor_array_free(t, n);
	free(ok);
}

/* Every prefix at interesting points of a real file fails cleanly. */
static void test_truncated(void)
{
	struct file_map m;
	struct err e;
	if (file_map_open(FIX "state.safetensors", &m, &e) < 0) {
		SKIP("%s", e.msg);
		return;
	}
	uint64_t hl = 0;
	for (int i = 7; i >= 0; i--)
		hl = hl << 8 | m.data[i];
	size_t cuts[] = {0, 1, 7, 8, 9, 40, (size_t)hl, (size_t)hl + 7,
			 (size_t)hl + 8, (size_t)hl + 12, (size_t)m.size - 1};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		size_t len = cuts[i];
		unsigned char *b = malloc(len ? len : 1);
		memcpy(b, m.data, len);
		struct tensor *t = NULL;
		size_t n = 0;
		err_clear(&e);
		int rc = safetensors_parse(b, len, "cut", &t, &n, &e);
		CHECK_MSG(rc == ERR_FORMAT && strstr(e.msg, "'cut'"),
			  "prefix %zu: rc %d \"%s\"", len, rc, e.msg);
		tensor_array_free(t, n);
		free(b);
	}
	/* The whole file parses. */
	struct tensor *t = NULL;
	size_t n = 0;
	CHECK_EQ_INT(safetensors_parse(m.data, (size_t)m.size, "full", &t, &n,
				       &e),
		     0);
	CHECK_EQ_INT(n, 10);
	tensor_array_free(t, n);
	file_map_close(&m);
}

struct fill_ctx {
	uint64_t fail_at; /* fail when a chunk starts here (UINT64_MAX: never) */
	int calls;
};

/* Element i has the value i * 0.5 - 3. */
static int fill_ramp(void *ctx, float *dst, uint64_t first, uint64_t count,
		     struct err *e)
{
	struct fill_ctx *c = ctx;
	c->calls++;
	if (first >= c->fail_at)
		return err_set(e, ERR_IO, "simulated failure at %llu",
			       (unsigned long long)first);
	for (uint64_t i = 0; i < count; i++)
		dst[i] = (float)(first + i) * 0.5f - 3.0f;
	return 0;
}

static int count_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (strstr(de->d_name, ".tmp-"))
			n++;
	if (d)
		closedir(d);
	return n;
}

static int cancel_at_half(void *ctx, double done, const char *stage)
{
	(void)ctx;
	(void)stage;
	return done >= 0.5;
}

static void test_writer(void)
{
	char dir[] = "/tmp/punguza-st-XXXXXX";
	if (!mkdtemp(dir)) {
		SKIP("cannot make a temporary directory");
		return;
	}
	char path[256];
	snprintf(path, sizeof path, "%s/out.safetensors", dir);
	struct err e;

	/* Exact header for a tiny case (hand-written expectation). */
	static const float two[2] = {1.0f, -2.5f};
	static const float one[1] = {1.00390625f};
	struct tensor_src small[2] = {
		{.name = "b", .dtype = DTYPE_F32, .ndim = 1, .shape = {2},
		 .src = two, .src_dtype = DTYPE_F32},
		{.name = "a", .dtype = DTYPE_BF16, .ndim = 1, .shape = {1},
		 .src = one, .src_dtype = DTYPE_F32},
	};
	CHECK_EQ_INT(safetensors_write(path, small, 2, NULL, &e), 0);
	char *text = NULL;
	size_t len = 0;
	CHECK_EQ_INT(file_read_all(path, 1 << 20, &text, &len, &e), 0);
	const char *want = "{\"__metadata__\":{\"format\":\"pt\"},"
			   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],"
			   "\"data_offsets\":[0,8]},"
			   "\"a\":{\"dtype\":\"BF16\",\"shape\":[1],"
			   "\"data_offsets\":[8,10]}}";
	size_t wl = strlen(want), hl = (wl + 7) / 8 * 8;
	CHECK_EQ_INT(len, 8 + hl + 10);
	if (text && len == 8 + hl + 10) {
		CHECK_EQ_INT((unsigned char)text[0], hl);
		CHECK(memcmp(text + 8, want, wl) == 0);
		for (size_t i = wl; i < hl; i++)
			CHECK(text[8 + i] == ' ');
		const unsigned char *d = (unsigned char *)text + 8 + hl;
		CHECK(memcmp(d, "\x00\x00\x80\x3f\x00\x00\x20\xc0", 8) == 0);
		CHECK(d[8] == 0x80 && d[9] == 0x3f); /* bf16 tie -> even */
	}
	free(text);

	/* Round trip with conversions, a fill callback across chunks, and a
	 * bf16 source copied as is. */
	enum { N = 100003 };
	float *src = malloc(N * sizeof *src);
	for (int i = 0; i < N; i++)
		src[i] = (float)i / 3.0f - 7.0f;
	static const float conv[4] = {1.0f, 65504.0f, 0.333333343f,
				      1.01171875f};
	static const uint16_t raw[3] = {0x3f80, 0xc020, 0x0001};
	struct fill_ctx fc = {.fail_at = UINT64_MAX};
	struct tensor_src ts[5] = {
		{.name = "big.f32", .dtype = DTYPE_F32, .ndim = 2,
		 .shape = {1, N}, .src = src, .src_dtype = DTYPE_F32},
		{.name = "conv.f16", .dtype = DTYPE_F16, .ndim = 1,
		 .shape = {4}, .src = conv, .src_dtype = DTYPE_F32},
		{.name = "conv.bf16", .dtype = DTYPE_BF16, .ndim = 1,
		 .shape = {4}, .src = conv, .src_dtype = DTYPE_F32},
		{.name = "raw.bf16", .dtype = DTYPE_BF16, .ndim = 1,
		 .shape = {3}, .src = raw, .src_dtype = DTYPE_BF16},
		{.name = "ramp", .dtype = DTYPE_F32, .ndim = 3,
		 .shape = {3, 5, 10000}, .fill = fill_ramp, .ctx = &fc},
	};
	CHECK_EQ_INT(safetensors_write(path, ts, 5, NULL, &e), 0);
	struct file_map m;
	struct tensor *t = NULL;
	size_t n = 0;
	if (file_map_open(path, &m, &e) == 0 &&
	    safetensors_parse(m.data, (size_t)m.size, path, &t, &n, &e) == 0) {
		CHECK_EQ_INT(n, 5);
		/* f32 first (by name), then the 2-byte ones. */
		CHECK_STR(t[0].name, "big.f32");
		CHECK_STR(t[1].name, "ramp");
		CHECK_STR(t[2].name, "conv.bf16");
		CHECK_STR(t[3].name, "conv.f16");
		CHECK_STR(t[4].name, "raw.bf16");
		CHECK(memcmp(t[0].data, src, N * 4) == 0);
		CHECK_EQ_INT(t[0].shape[1], N);
		CHECK_EQ_INT(((uintptr_t)t[0].data) % 4, 0);
		const float *r = t[1].data;
		int bad = 0;
		for (int i = 0; i < 150000; i++)
			bad += r[i] != (float)i * 0.5f - 3.0f;
		CHECK_EQ_INT(bad, 0);
		const unsigned char *h = t[3].data;
		static const unsigned char f16[8] = {0x00, 0x3c, 0xff, 0x7b,
						     0x55, 0x35, 0x0c, 0x3c};
		CHECK(memcmp(h, f16, 8) == 0); /* 1, 65504, 1/3, 1.0117 */
		const unsigned char *bf = t[2].data;
		static const unsigned char b16[8] = {0x80, 0x3f, 0x80, 0x47,
						     0xab, 0x3e, 0x82, 0x3f};
		CHECK(memcmp(bf, b16, 8) == 0);
		CHECK(memcmp(t[4].data, "\x80\x3f\x20\xc0\x01\x00", 6) == 0);
	} else {
		CHECK_MSG(0, "reading back: %s", e.msg);
	}
	tensor_array_free(t, n);
	file_map_close(&m);

	/* A failing source mid-way: error, no temporary, old file intact. */
	fc.fail_at = TENSOR_CHUNK_ELEMS;
	uint64_t before = 0;
	if (file_map_open(path, &m, &e) == 0) {
		before = m.size;
		file_map_close(&m);
	}
	CHECK_ERR(safetensors_write(path, ts, 5, NULL, &e), e, ERR_IO,
		  "simulated failure at 65536");
	CHECK(strstr(e.msg, path) != NULL);
	CHECK_EQ_INT(count_tmp(dir), 0);
	if (file_map_open(path, &m, &e) == 0) {
		CHECK_EQ_INT(m.size, before);
		file_map_close(&m);
	}
	/* Cancelled half way: same. */
	fc.fail_at = UINT64_MAX;
	struct progress pg = {.fn = cancel_at_half};
	CHECK_ERR(safetensors_write(path, ts, 5, &pg, &e), e, ERR_CANCELLED,
		  "cancelled");
	CHECK_EQ_INT(count_tmp(dir), 0);

	/* Duplicate names and a bad shape are refused before writing. */
	struct tensor_src dup[2] = {small[0], small[0]};
	CHECK_ERR(safetensors_write(path, dup, 2, NULL, &e), e, ERR_INVALID,
		  "tensor name 'b' appears twice");
	struct tensor_src neg = small[0];
	neg.shape[0] = -2;
	CHECK_ERR(safetensors_write(path, &neg, 1, NULL, &e), e, ERR_FORMAT,
		  "negative dimension");

	/* A directory that does not exist. */
	CHECK_ERR(safetensors_write("/nonexistent-punguza/x.safetensors",
				    small, 2, NULL, &e),
		  e, ERR_IO, "cannot create '/nonexistent-punguza/x.safetensors'");

	/* No tensors at all is a valid file. */
	CHECK_EQ_INT(safetensors_write(path, NULL, 0, NULL, &e), 0);
	if (file_map_open(path, &m, &e) == 0) {
		CHECK_EQ_INT(safetensors_parse(m.data, (size_t)m.size, path,
					       &t, &n, &e),
			     0);
		CHECK_EQ_INT(n, 0);
		tensor_array_free(t, n);
		file_map_close(&m);
	}
	CHECK_EQ_INT(count_tmp(dir), 0);
	free(src);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_hostile();
	test_truncated();
	test_writer();
	return TEST_SUMMARY();
}
