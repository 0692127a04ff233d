/* bench_vocab DATA — the vocabulary knob's speed, on DATA/corpus with the
 * 61,788-piece InkubaLM tokenizer.json (DATA/inkubalm-0.4b):
 *   counting throughput (MB/s of corpus text: every line of the 11 corpus
 *   files encoded and counted; best of 3),
 *   time to build the 8,064-piece keep set with merge closure, to rewrite
 *   the tokenizer in memory (vocab_rewrite) and to write the files
 *   (vocab_write_files: tokenizer.json, tokenizer.model, vocab_map.json,
 *   into a temporary directory).
 * Prints one line of figures each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tokenizer.h"
#include "vocab.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *const files[] = {
    "corpus/hau_bible.txt",
    "corpus/hau_bible.vref.txt",
    "corpus/swh_nt.txt",
    "corpus/swh_nt.vref.txt",
    "corpus/aligned/eng_aligned.txt",
    "corpus/aligned/hau_aligned.txt",
    "corpus/aligned/swh_aligned.txt",
    "corpus/aligned/vref.txt",
    "corpus/udhr/udhr_eng.txt",
    "corpus/udhr/udhr_hau.txt",
    "corpus/udhr/udhr_swh.txt",
};
#define NF (sizeof files / sizeof *files)

int main(int argc, char **argv)
{
	const char *data = argc > 1 ? argv[1] : "../shared/data";
	char tokdir[4096], *paths[NF];
	snprintf(tokdir, sizeof tokdir, "%s/inkubalm-0.4b", data);
	for (size_t i = 0; i < NF; i++) {
		paths[i] = malloc(strlen(data) + strlen(files[i]) + 2);
		sprintf(paths[i], "%s/%s", data, files[i]);
	}
	struct tokenizer *t;
	struct err e = {0};
	if (tok_load(tokdir, &t, &e)) {
		fprintf(stderr, "bench_vocab: %s\n", e.msg);
		return 1;
	}
	struct vocab_counts *c = NULL;
	double best = 1e30;
	for (int r = 0; r < 3; r++) {
		vocab_counts_free(c);
		double t0 = now();
		if (vocab_count_files(t, (const char *const *)paths, NF, NULL,
				      &c, NULL, &e)) {
			fprintf(stderr, "bench_vocab: %s\n", e.msg);
			return 1;
		}
		double dt = now() - t0;
		if (dt < best)
			best = dt;
	}
	printf("vocab count: %.2f MB/s (%llu bytes, %llu lines, %llu tokens "
	       "in %.3f s; 61,788-piece tokenizer.json)\n",
	       (double)c->bytes / best / 1e6, (unsigned long long)c->bytes,
	       (unsigned long long)c->lines, (unsigned long long)c->tokens,
	       best);
	struct vocab_keep *k;
	struct tokenizer *nt;
	double t0 = now();
	if (vocab_keep_top_k(t, c, 8064, true, &k, &e)) {
		fprintf(stderr, "bench_vocab: %s\n", e.msg);
		return 1;
	}
	double t1 = now();
	if (vocab_rewrite(t, k, &nt, &e)) {
		fprintf(stderr, "bench_vocab: %s\n", e.msg);
		return 1;
	}
	double t2 = now();
	char dir[] = "/tmp/punguza-bench-vocab-XXXXXX";
	if (!mkdtemp(dir) || vocab_write_files(t, k, dir, NULL, &e)) {
		fprintf(stderr, "bench_vocab: %s\n", e.msg);
		return 1;
	}
	double t3 = now();
	printf("vocab keep 8064 + closure: %.1f ms, rewrite %.1f ms, write "
	       "files %.1f ms (%d parents added, naive cutoff leaves %d "
	       "unreachable)\n",
	       (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, k->n_closure,
	       k->naive_unreachable);
	char p[4200];
	const char *names[] = {"tokenizer.json", "tokenizer.model",
			       "vocab_map.json"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
	tok_free(nt);
	vocab_keep_free(k);
	vocab_counts_free(c);
	tok_free(t);
	for (size_t i = 0; i < NF; i++)
		free(paths[i]);
	return 0;
}
