/* Tests for torchbin: the reader on fixtures torch.save made (forbidden
 * global, deflated entries, non-contiguous view, int64 storage,
 * truncations, corrupted directories, CRC-32 of data.pkl and storages) and
 * the writer's round trip (plain and zip64). The unpickler alone is tested
 * in test_unpickle.c, CRC-32 alone in test_zip.c; the tensor values of the
 * torch.save fixtures in test_weights.c.
 * Set PUNGUZA_KEEP_IO=1 to keep the written .bin files (for torch.load). */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtype.h"
#include "err.h"
#include "fileio.h"
#include "test.h"
#include "torchbin.h"
#include "zip.h"

#define FIX "tests/data/io/"

static int parse_file(const char *path, struct err *e)
{
	struct file_map m;
	int rc = file_map_open(path, &m, e);
	if (rc < 0)
		return rc;
	struct tensor *t = NULL;
	size_t n = 0;
	err_clear(e);
	rc = torchbin_parse(m.data, (size_t)m.size, path, &t, &n, e);
	tensor_array_free(t, n);
	file_map_close(&m);
	return rc;
}

static int parse_buf(const unsigned char *p, size_t len, struct err *e)
{
	unsigned char *b = malloc(len ? len : 1); /* exact size: ASan sees */
	memcpy(b, p, len);
	struct tensor *t = NULL;
	size_t n = 0;
	err_clear(e);
	int rc = torchbin_parse(b, len, "cut.bin", &t, &n, e);
	tensor_array_free(t, n);
	free(b);
	return rc;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void test_archives(void)
{
	struct err e;
	if (!path_exists(FIX "state.bin")) {
		SKIP("tests/data/io is absent");
		return;
	}
	CHECK_ERR(parse_file(FIX "forbidden.bin", &e), e, ERR_UNSUPPORTED,
		  "'" FIX "forbidden.bin': pickle asks for forbidden global "
		  "'os.system'");
	CHECK_ERR(parse_file(FIX "deflated.bin", &e), e, ERR_UNSUPPORTED,
		  "zip entry 'state/data.pkl' is compressed (method 8)");
	CHECK_ERR(parse_file(FIX "noncontig.bin", &e), e, ERR_UNSUPPORTED,
		  "tensor is not contiguous (dim 1 has stride 4, row-major "
		  "needs 1)");
	CHECK_ERR(parse_file(FIX "longstorage.bin", &e), e, ERR_UNSUPPORTED,
		  "storage type 'torch.LongStorage' is not supported");
	CHECK_ERR(parse_file(FIX "state.safetensors", &e), e, ERR_FORMAT,
		  "no zip end-of-central-directory record");
	CHECK_EQ_INT(parse_file(FIX "state.bin", &e), 0);
	CHECK_EQ_INT(parse_file(FIX "state_p4.bin", &e), 0);
	/* '/data.pkl' (an empty archive prefix) beside 'version' (no '/'
	 * at all): an empty state dict (tests/ref/make_zip_fixtures.py). */
	CHECK_MSG(parse_file(FIX "empty_prefix.bin", &e) == 0, "%s", e.msg);
	/* CRC-32: a flipped byte in data.pkl fails at once; one in a
	 * storage when the storage is checked (tests/ref/make_zip_fixtures.py
	 * flipped them after the fact). */
	CHECK_ERR(parse_file(FIX "crc_pickle.bin", &e), e, ERR_FORMAT,
		  "zip entry 'state/data.pkl' is corrupt (CRC-32");
	static const char *const crcs[] = {FIX "state.bin", FIX "crc_flipped.bin"};
	for (int f = 0; f < 2; f++) {
		struct file_map cm;
		struct tensor *t = NULL;
		struct zip_entry *ze = NULL;
		size_t n = 0, nz = 0;
		int bad = 0;
		if (file_map_open(crcs[f], &cm, &e) < 0) {
			CHECK_MSG(0, "%s", e.msg);
			continue;
		}
		CHECK_MSG(torchbin_parse_entries(cm.data, (size_t)cm.size,
						 crcs[f], &t, &n, &ze, &nz,
						 &e) == 0,
			  "%s", e.msg);
		CHECK_EQ_INT(nz, 9); /* data/0..8, each once */
		for (size_t i = 0; i < nz; i++) {
			CHECK(i == 0 || ze[i - 1].data < ze[i].data);
			if (zip_check_entry(&ze[i], crcs[f], &e)) {
				bad++;
				CHECK_ERR(ERR_FORMAT, e, ERR_FORMAT,
					  "zip entry 'state/data/0' is "
					  "corrupt");
			}
		}
		CHECK_EQ_INT(bad, f);
		free(ze);
		tensor_array_free(t, n);
		file_map_close(&cm);
	}

	struct file_map m;
	if (file_map_open(FIX "state.bin", &m, &e) < 0)
		return;
	size_t len = (size_t)m.size;
	/* Truncated at several points. */
	size_t cuts[] = {0, 4, 21, 22, 100, 700, len / 2, len - 200, len - 22,
			 len - 1};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		int rc = parse_buf(m.data, cuts[i], &e);
		CHECK_MSG(rc == ERR_FORMAT && strstr(e.msg, "'cut.bin'"),
			  "prefix %zu: rc %d \"%s\"", cuts[i], rc, e.msg);
	}
	/* Corrupted end-of-central-directory fields and entries. */
	unsigned char *b = malloc(len);
	size_t eocd = len - 22;
	CHECK_EQ_INT(get32(m.data + eocd), 0x06054b50);
	uint32_t cd_off = get32(m.data + eocd + 16);

	/* torch writes zip64 end records too: patch both. */
	CHECK_EQ_INT(get32(m.data + eocd - 20), 0x07064b50);
	size_t z64 = get32(m.data + eocd - 20 + 8);
	CHECK(z64 + 56 <= eocd && get32(m.data + z64) == 0x06064b50);
	memcpy(b, m.data, len);
	put32(b + eocd + 16, 0x7fffffff);
	put32(b + z64 + 48, 0x7fffffff);
	CHECK_ERR(parse_buf(b, len, &e), e, ERR_FORMAT,
		  "zip central directory (offset 2147483647");
	memcpy(b, m.data, len);
	put32(b + z64 + 36, 0x100);
	CHECK_ERR(parse_buf(b, len, &e), e, ERR_FORMAT,
		  "zip says 1099511627787 entries");
	memcpy(b, m.data, len);
	put32(b + eocd - 20 + 8, (uint32_t)len);
	CHECK_ERR(parse_buf(b, len, &e), e, ERR_FORMAT,
		  "bad zip64 end-of-central-directory record");
	/* Every entry's local header offset far away. */
	memcpy(b, m.data, len);
	for (size_t p = cd_off; p + 46 <= eocd && get32(b + p) == 0x02014b50;
	     p += 46 + (b[p + 28] | b[p + 29] << 8) +
		  (b[p + 30] | b[p + 31] << 8) + (b[p + 32] | b[p + 33] << 8))
		put32(b + p + 42, (uint32_t)len + 1000);
	CHECK_ERR(parse_buf(b, len, &e), e, ERR_FORMAT,
		  "zip entry 'state/data.pkl': no local header");
	/* An entry's size beyond the file. */
	memcpy(b, m.data, len);
	put32(b + cd_off + 20, 0x40000000);
	put32(b + cd_off + 24, 0x40000000);
	CHECK_ERR(parse_buf(b, len, &e), e, ERR_FORMAT, "lies beyond the file");
	/* A zip64 size marker without the zip64 field. */
	memcpy(b, m.data, len);
	put32(b + cd_off + 24, 0xffffffff);
	CHECK_ERR(parse_buf(b, len, &e), e, ERR_FORMAT,
		  "lacks its zip64 field");
	/* A central directory entry with a bad signature. */
	memcpy(b, m.data, len);
	b[cd_off] = 'X';
	CHECK_ERR(parse_buf(b, len, &e), e, ERR_FORMAT,
		  "central directory entry 0 is malformed");
	free(b);
	file_map_close(&m);
}

struct fill_ctx {
	int fail;
};

static int fill_sin(void *ctx, float *dst, uint64_t first, uint64_t count,
		    struct err *e)
{
	struct fill_ctx *c = ctx;
	if (c->fail && first > 0)
		return err_set(e, ERR_IO, "source gave up");
	for (uint64_t i = 0; i < count; i++)
		dst[i] = (float)((first + i) % 1000) * 0.25f - 100.0f;
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

static void check_written(const char *path, const float *src, size_t nsrc)
{
	struct file_map m;
	struct err e;
	struct tensor *t = NULL;
	size_t n = 0;
	if (file_map_open(path, &m, &e) < 0) {
		CHECK_MSG(0, "%s", e.msg);
		return;
	}
	int rc = torchbin_parse(m.data, (size_t)m.size, path, &t, &n, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	if (rc == 0 && n == 6) {
		CHECK_STR(t[0].name, "model.w");
		CHECK_EQ_INT(t[0].ndim, 2);
		CHECK_EQ_INT(t[0].shape[0], 3);
		CHECK(memcmp(t[0].data, src, nsrc * 4) == 0);
		CHECK_EQ_INT(((const unsigned char *)t[0].data - m.data) % 64,
			     0);
		CHECK_STR(t[1].name, "half");
		CHECK_EQ_INT(t[1].dtype, DTYPE_F16);
		CHECK(memcmp(t[1].data, "\x00\x3c\xff\x7b", 4) == 0);
		CHECK_EQ_INT(t[2].dtype, DTYPE_BF16);
		CHECK(memcmp(t[2].data, "\x80\x3f\x82\x3f", 4) == 0);
		CHECK_EQ_INT(t[3].ndim, 0);
		CHECK_EQ_INT(t[3].numel, 1);
		CHECK(*(const float *)t[3].data == 1.0f);
		CHECK_EQ_INT(t[4].numel, 0);
		CHECK_EQ_INT(t[5].numel, 70000);
		const float *f = t[5].data;
		CHECK(f[0] == -100.0f && f[69999] == 999 * 0.25f - 100.0f);
		CHECK(f[65536] == 536 * 0.25f - 100.0f);
	} else {
		CHECK_EQ_INT(n, 6);
	}
	tensor_array_free(t, n);
	file_map_close(&m);
}

static void test_writer(void)
{
	char dir[] = "/tmp/punguza-tz-XXXXXX";
	if (!mkdtemp(dir)) {
		SKIP("cannot make a temporary directory");
		return;
	}
	int keep = getenv("PUNGUZA_KEEP_IO") != NULL;
	char path[256], path64[256];
	snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
	snprintf(path64, sizeof path64, "%s/zip64.bin", dir);
	static const float w[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -0.5f};
	static const float hv[2] = {1.0f, 65504.0f};
	static const float bv[2] = {1.0f, 1.01171875f};
	static const float one = 1.0f;
	struct fill_ctx fc = {0};
	struct tensor_src ts[6] = {
		{.name = "model.w", .dtype = DTYPE_F32, .ndim = 2,
		 .shape = {3, 4}, .src = w, .src_dtype = DTYPE_F32},
		{.name = "half", .dtype = DTYPE_F16, .ndim = 1, .shape = {2},
		 .src = hv, .src_dtype = DTYPE_F32},
		{.name = "brain", .dtype = DTYPE_BF16, .ndim = 1, .shape = {2},
		 .src = bv, .src_dtype = DTYPE_F32},
		{.name = "scalar", .dtype = DTYPE_F32, .ndim = 0,
		 .src = &one, .src_dtype = DTYPE_F32},
		{.name = "empty", .dtype = DTYPE_F32, .ndim = 2,
		 .shape = {0, 5}, .src = w, .src_dtype = DTYPE_F32},
		{.name = "filled", .dtype = DTYPE_F32, .ndim = 3,
		 .shape = {7, 100, 100}, .fill = fill_sin, .ctx = &fc},
	};
	struct err e;
	CHECK_EQ_INT(torchbin_write(path, ts, 6, NULL, NULL, &e), 0);
	check_written(path, w, 12);
	struct torchbin_write_opts o = {.force_zip64 = 1};
	CHECK_EQ_INT(torchbin_write(path64, ts, 6, &o, NULL, &e), 0);
	check_written(path64, w, 12);
	/* The zip64 file really uses zip64 records. */
	struct file_map m;
	if (file_map_open(path64, &m, &e) == 0) {
		CHECK_EQ_INT(get32(m.data + m.size - 22 - 20), 0x07064b50);
		CHECK_EQ_INT(get32(m.data + m.size - 22 + 16), 0xffffffffu);
		file_map_close(&m);
	}
	/* A failing source: error naming the file, nothing left behind. */
	fc.fail = 1;
	char path2[256];
	snprintf(path2, sizeof path2, "%s/failed.bin", dir);
	CHECK_ERR(torchbin_write(path2, ts, 6, NULL, NULL, &e), e, ERR_IO,
		  "source gave up");
	CHECK(strstr(e.msg, path2) != NULL);
	CHECK(!path_exists(path2));
	CHECK_EQ_INT(count_tmp(dir), 0);
	CHECK_ERR(torchbin_write("/nonexistent-punguza/x.bin", ts, 1, NULL,
				 NULL, &e),
		  e, ERR_IO, "cannot create '/nonexistent-punguza/x.bin'");
	if (keep) {
		fprintf(stderr, "kept %s and %s\n", path, path64);
	} else {
		unlink(path);
		unlink(path64);
		rmdir(dir);
	}
}

int main(void)
{
	test_archives();
	test_writer();
	return TEST_SUMMARY();
}
