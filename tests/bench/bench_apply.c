/*
 * bench_apply — apply + export of a full-size model to a plan, against the
 * plain I/O of the same bytes measured in the same run:
 *
 *   bench_apply DIR OUTDIR [--plan NAME] [--corpus FILE] [--format hf|gguf]
 *
 * Reference: `cat` of the source checkpoint (read() of every weight file
 * to nowhere) + a write (and fsync) of as many bytes as the export wrote.
 * Measured: model_load, vocabulary count + keep set (when the plan cuts
 * the vocabulary and --corpus is given; else the vocabulary is kept),
 * prune_apply, export_model (HF by default). Prints one line:
 *
 *   bench_apply: plan=P load_ms apply_ms export_ms vocab_ms total_ms
 *     io_ms (cat_ms + write_ms) ratio=total/io out_bytes
 *     peak_rss_mb anon_peak_mb made_mb
 *
 * peak_rss_mb (ru_maxrss) counts the mapped source pages the gather
 * touched; anon_peak_mb (VmHWM minus file-backed RssFile at the end, an
 * estimate) is what apply itself allocated, to compare with made_mb (the
 * pruned tensors) + 200 MB.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "export.h"
#include "fileio.h"
#include "model.h"
#include "plan.h"
#include "tokenizer.h"
#include "vocab.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Reads every *.safetensors / *.bin file of dir to nowhere. */
static uint64_t cat_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t total = 0;
	static char buf[1 << 20];
	char path[4400];
	while (d && (de = readdir(d))) {
		const char *n = de->d_name;
		size_t l = strlen(n);
		if (!(l > 12 && !strcmp(n + l - 12, ".safetensors")) &&
		    !(l > 4 && !strcmp(n + l - 4, ".bin")))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, n);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t r;
		while ((r = read(fd, buf, sizeof buf)) > 0)
			total += (uint64_t)r;
		close(fd);
		break; /* one format is enough (safetensors first in order
			  is not guaranteed: whichever comes first) */
	}
	if (d)
		closedir(d);
	return total;
}

static uint64_t dir_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t total = 0;
	char path[4400];
	struct stat st;
	while (d && (de = readdir(d))) {
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (de->d_name[0] != '.' && !stat(path, &st) &&
		    S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	if (d)
		closedir(d);
	return total;
}

static double write_bytes(const char *path, uint64_t n)
{
	static char buf[1 << 20];
	memset(buf, 0x5a, sizeof buf);
	double t0 = now();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	while (n) {
		size_t k = n < sizeof buf ? (size_t)n : sizeof buf;
		if (write(fd, buf, k) != (ssize_t)k)
			break;
		n -= k;
	}
	fsync(fd);
	close(fd);
	double t = now() - t0;
	unlink(path);
	return t;
}

static long status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, key, n))
			v = atol(line + n);
	if (f)
		fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *outdir = NULL, *plan_name = "published-50m";
	const char *corpus = NULL;
	unsigned formats = EXPORT_HF;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--plan") && i + 1 < argc)
			plan_name = argv[++i];
		else if (!strcmp(argv[i], "--corpus") && i + 1 < argc)
			corpus = argv[++i];
		else if (!strcmp(argv[i], "--format") && i + 1 < argc)
			formats = !strcmp(argv[++i], "gguf") ? EXPORT_GGUF
							     : EXPORT_HF;
		else if (!dir)
			dir = argv[i];
		else if (!outdir)
			outdir = argv[i];
	}
	if (!dir || !outdir) {
		fprintf(stderr, "usage: bench_apply DIR OUTDIR [--plan NAME] "
				"[--corpus FILE] [--format hf|gguf]\n");
		return 2;
	}
	struct err e = {0};
	struct prune_plan p;
	struct model *src = NULL, *out = NULL;
	struct tokenizer *tok = NULL, *ptok = NULL;
	struct vocab_counts *cnt = NULL;
	struct vocab_keep *keep = NULL;
	char outpath[4096];
	snprintf(outpath, sizeof outpath, "%s/bench-apply-out", outdir);
	if (plan_preset(plan_name, &p, &e)) {
		fprintf(stderr, "bench_apply: %s\n", e.msg);
		return 2;
	}
	double t0 = now();
	if (model_load(dir, &src, NULL, &e)) {
		fprintf(stderr, "bench_apply: %s\n", e.msg);
		return 1;
	}
	double t1 = now(), tv = 0;
	struct apply_inputs in = {0};
	if (p.vocab_mode != PLAN_VOCAB_NONE) {
		if (corpus && tok_load(dir, &tok, &e) == 0) {
			double a = now();
			if (vocab_count_files(tok, &corpus, 1, NULL, &cnt, NULL,
					      &e) ||
			    vocab_keep_top_k(tok, cnt, p.vocab_keep,
					     p.merge_closure, &keep, &e)) {
				fprintf(stderr, "bench_apply: %s\n", e.msg);
				return 1;
			}
			in.keep = keep;
			tv = now() - a;
		} else {
			fprintf(stderr, "bench_apply: no --corpus (or no "
					"tokenizer): the vocabulary is kept\n");
			p.vocab_mode = PLAN_VOCAB_NONE;
		}
	}
	double t2 = now();
	if (prune_apply(src, tok, &p, &in, &out, &ptok, NULL, NULL, &e)) {
		fprintf(stderr, "bench_apply: %s\n", e.msg);
		return 1;
	}
	double t3 = now();
	struct export_opts o = {.src_dir = dir,
				.out_dir = outpath,
				.formats = formats,
				.dtype = p.export_dtype,
				.force = true,
				.tok = ptok ? ptok : tok,
				.src_tok = keep ? tok : NULL,
				.keep = keep};
	if (export_model(out, &o, NULL, &e)) {
		fprintf(stderr, "bench_apply: %s\n", e.msg);
		return 1;
	}
	double t4 = now();
	long hwm = status_kb("VmHWM:"), file_kb = status_kb("RssFile:");
	uint64_t made = out->owned_bytes;
	uint64_t out_bytes = dir_bytes(outpath);
	/* the I/O reference, same run */
	double c0 = now();
	uint64_t catted = cat_dir(dir);
	double cat_s = now() - c0;
	char wpath[4200];
	snprintf(wpath, sizeof wpath, "%s/bench-apply-write", outdir);
	double write_s = write_bytes(wpath, out_bytes);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double total = (t1 - t0) + (t3 - t2) + (t4 - t3);
	double io = cat_s + write_s;
	printf("bench_apply: plan=%s source=%s load_ms=%.0f vocab_ms=%.0f "
	       "apply_ms=%.0f export_ms=%.0f total_ms=%.0f (without vocab) "
	       "cat_ms=%.0f (%llu bytes) write_ms=%.0f (%llu bytes) io_ms=%.0f "
	       "ratio=%.2f peak_rss_mb=%.0f anon_peak_mb=%.0f made_mb=%.0f\n",
	       plan_name, dir, (t1 - t0) * 1e3, tv * 1e3, (t3 - t2) * 1e3,
	       (t4 - t3) * 1e3, total * 1e3, cat_s * 1e3,
	       (unsigned long long)catted, write_s * 1e3,
	       (unsigned long long)out_bytes, io * 1e3,
	       io > 0 ? total / io : 0, ru.ru_maxrss / 1024.0,
	       hwm >= 0 && file_kb >= 0 ? (hwm - file_kb) / 1024.0 : -1.0,
	       made / 1048576.0);
	export_remove_tree(outpath, &e);
	model_free(out);
	model_free(src);
	tok_free(ptok);
	tok_free(tok);
	vocab_keep_free(keep);
	vocab_counts_free(cnt);
	prune_plan_free(&p);
	return 0;
}
