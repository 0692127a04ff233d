/* Every saved fuzz input, through the fuzz targets' own entry functions,
 * on every make check (plain C: no clang, no libFuzzer). The targets'
 * sources are included with LLVMFuzzerTestOneInput renamed; each gets
 *   tests/fuzz/corpus/<target>/   regressions: inputs that once crashed a
 *                                 target or tripped ASan/UBSan (keep
 *                                 adding them: see tests/fuzz/run.sh)
 *   the seeds tests/fuzz/run.sh starts from (committed test data).
 * The file-level loader (weights_open_file) also reads each safetensors
 * and torchzip input, since some bugs were there and not in the parsers.
 * A crash or a sanitizer report kills the binary: tests/run.sh counts it
 * as a failure. Under SANITIZE=address,undefined this is the regression
 * suite of the fuzz findings. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "fileio.h"
#include "test.h"
#include "weights.h"

#define LLVMFuzzerTestOneInput fuzz_safetensors_one
#include "fuzz/fuzz_safetensors.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_torchzip_one
#include "fuzz/fuzz_torchzip.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_unpickle_one
#include "fuzz/fuzz_unpickle.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_spm_one
#include "fuzz/fuzz_spm.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_config_one
#include "fuzz/fuzz_config.c"
#undef LLVMFuzzerTestOneInput

typedef int (*fuzz_fn)(const uint8_t *, size_t);

struct target {
	const char *name; /* tests/fuzz/corpus/<name> */
	fuzz_fn fn;
	const char *seed_dir, *seed_suffix; /* what run.sh seeds it with */
	bool load_file; /* also weights_open_file */
};

static const struct target targets[] = {
    {"safetensors", fuzz_safetensors_one, "tests/data/io", ".safetensors",
     true},
    {"torchzip", fuzz_torchzip_one, "tests/data/io", ".bin", true},
    {"unpickle", fuzz_unpickle_one, "tests/data/io", ".pkl", false},
    {"spm", fuzz_spm_one, "tests/data/spm", ".model", false},
    {"config", fuzz_config_one, "tests/data/models", "config.json", false},
};

static int n_inputs;

static void run_file(const struct target *t, const char *path)
{
	char *buf;
	size_t len;
	struct err e = {0};
	if (file_read_all(path, (size_t)64 << 20, &buf, &len, &e)) {
		CHECK_MSG(0, "%s", e.msg);
		return;
	}
	/* An exact-size copy, so ASan sees a read past the input. */
	uint8_t *exact = malloc(len ? len : 1);
	if (len)
		memcpy(exact, buf, len);
	free(buf);
	t->fn(exact, len);
	free(exact);
	if (t->load_file) {
		struct weights *w = NULL;
		if (weights_open_file(path, &w, &e) == 0)
			for (size_t i = 0; i < weights_count(w); i++)
				(void)weights_at(w, i)->name[0];
		weights_free(w);
	}
	n_inputs++;
	CHECK(1); /* survived */
}

/* Runs every regular file under dir whose name ends in suffix ("" for
 * all); returns how many. */
static int run_tree(const struct target *t, const char *dir,
		    const char *suffix)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	int n = 0;
	char path[1024];
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		struct stat st;
		if (stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			n += run_tree(t, path, suffix);
			continue;
		}
		size_t pl = strlen(de->d_name), sl = strlen(suffix);
		if (!S_ISREG(st.st_mode) || pl < sl ||
		    strcmp(de->d_name + pl - sl, suffix) != 0)
			continue;
		run_file(t, path);
		n++;
	}
	closedir(d);
	return n;
}

int main(void)
{
	for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
		const struct target *t = &targets[i];
		char dir[256];
		snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", t->name);
		int reg = run_tree(t, dir, "");
		int seeds = run_tree(t, t->seed_dir, t->seed_suffix);
		CHECK_MSG(seeds > 0, "%s: no seeds under %s", t->name,
			  t->seed_dir);
		fprintf(stderr,
			"tests/test_fuzz_corpus.c: %s: %d regression inputs, "
			"%d seeds\n",
			t->name, reg, seeds);
	}
	CHECK(n_inputs > 0);
	return TEST_SUMMARY();
}
