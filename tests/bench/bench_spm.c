/* bench_spm [DATA] — SentencePiece encode throughput, side by side in one
 * run: punguza's spm encoder vs Debian's `spm_encode --output_format=id`
 * on the same text (every line of the .txt files of DATA/corpus and of
 * its aligned/ and udhr/ folders) with the same model
 * (DATA/inkubalm-8064/tokenizer.model).
 *
 * Figures (MB = 10^6 bytes of input text; best of 3 runs each):
 *   punguza encode only, and encode + printing the ids as spm_encode does
 *   (to /dev/null), in wall and CPU time;
 *   spm_encode (one process over the whole text, model load included:
 *   a few ms), wall and CPU time (getrusage of the child);
 *   the ratio punguza (encode + print) / spm_encode, wall and CPU;
 *   whether spm_encode's ids equal punguza's, id for id.
 * DATA defaults to ../shared/data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "spm.h"

static const char *const files[] = {
	"corpus/hau_bible.txt",  "corpus/hau_bible.vref.txt",
	"corpus/swh_nt.txt",     "corpus/swh_nt.vref.txt",
	"corpus/aligned/eng_aligned.txt", "corpus/aligned/hau_aligned.txt",
	"corpus/aligned/swh_aligned.txt", "corpus/aligned/vref.txt",
	"corpus/udhr/udhr_eng.txt", "corpus/udhr/udhr_hau.txt",
	"corpus/udhr/udhr_swh.txt",
};

static double wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_self(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_children(void)
{
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

/* Encodes every line; prints ids like spm_encode to out when not NULL.
 * Returns the number of ids, -1 on error. */
static long long encode_all(const struct spm *m, const char *text,
			    size_t len, FILE *out)
{
	struct spm_state st = {0};
	struct err e;
	long long total = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (spm_encode_state(m, p, ll, &st, &e)) {
			fprintf(stderr, "bench_spm: %s\n", e.msg);
			spm_state_free(&st);
			return -1;
		}
		total += (long long)st.n;
		if (out) {
			for (size_t i = 0; i < st.n; i++)
				fprintf(out, i ? " %d" : "%d", st.ids[i]);
			fputc('\n', out);
		}
		p += ll + 1;
	}
	spm_state_free(&st);
	return total;
}

int main(int argc, char **argv)
{
	const char *data = argc > 1 ? argv[1] : "../shared/data";
	char path[1024], model[1024], tmp[] = "/tmp/bench_spm.XXXXXX";
	char txt[1100], ids[1100], cmd[4096];
	struct err e;
	struct spm *m;
	char *text = NULL;
	size_t len = 0;

	snprintf(model, sizeof model, "%s/inkubalm-8064/tokenizer.model",
		 data);
	double t0 = wall();
	if (spm_load_file(model, &m, &e)) {
		fprintf(stderr, "bench_spm: %s\n", e.msg);
		return 1;
	}
	double t_load = wall() - t0;
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		char *b;
		size_t n;
		snprintf(path, sizeof path, "%s/%s", data, files[i]);
		if (file_read_all(path, 64u << 20, &b, &n, &e)) {
			fprintf(stderr, "bench_spm: %s\n", e.msg);
			return 1;
		}
		text = realloc(text, len + n + 1);
		memcpy(text + len, b, n);
		len += n;
		if (n && b[n - 1] != '\n')
			text[len++] = '\n';
		free(b);
	}
	if (!mkdtemp(tmp)) {
		perror("bench_spm: mkdtemp");
		return 1;
	}
	snprintf(txt, sizeof txt, "%s/corpus.txt", tmp);
	snprintf(ids, sizeof ids, "%s/ids.txt", tmp);
	if (file_write_atomic(txt, text, len, &e)) {
		fprintf(stderr, "bench_spm: %s\n", e.msg);
		return 1;
	}

	double best_enc = 1e30, best_enc_cpu = 1e30;
	double best_print = 1e30, best_print_cpu = 1e30;
	long long n_ids = 0;
	for (int r = 0; r < 3; r++) {
		double w0 = wall(), c0 = cpu_self();
		n_ids = encode_all(m, text, len, NULL);
		double w = wall() - w0, c = cpu_self() - c0;
		if (w < best_enc)
			best_enc = w;
		if (c < best_enc_cpu)
			best_enc_cpu = c;
		FILE *devnull = fopen("/dev/null", "w");
		w0 = wall();
		c0 = cpu_self();
		encode_all(m, text, len, devnull);
		fclose(devnull);
		w = wall() - w0;
		c = cpu_self() - c0;
		if (w < best_print)
			best_print = w;
		if (c < best_print_cpu)
			best_print_cpu = c;
	}
	if (n_ids < 0)
		return 1;

	double best_ref = 1e30, best_ref_cpu = 1e30;
	int ref_ok = 1;
	for (int r = 0; r < 3 && ref_ok; r++) {
		snprintf(cmd, sizeof cmd,
			 "spm_encode --model='%s' --output_format=id "
			 "< '%s' > '%s'", model, txt,
			 r == 0 ? ids : "/dev/null");
		double c0 = cpu_children(), w0 = wall();
		int rc = system(cmd);
		double w = wall() - w0, c = cpu_children() - c0;
		if (rc != 0) {
			fprintf(stderr, "bench_spm: spm_encode failed (%d)\n",
				rc);
			ref_ok = 0;
			break;
		}
		if (w < best_ref)
			best_ref = w;
		if (c < best_ref_cpu)
			best_ref_cpu = c;
	}

	/* Same ids?  Print ours to a file and compare byte for byte. */
	int same = -1;
	if (ref_ok) {
		char *ref, *ours;
		size_t rl, ol;
		snprintf(path, sizeof path, "%s/ours.txt", tmp);
		FILE *f = fopen(path, "w");
		if (f) {
			encode_all(m, text, len, f);
			fclose(f);
		}
		if (!file_read_all(ids, 1u << 30, &ref, &rl, &e) &&
		    !file_read_all(path, 1u << 30, &ours, &ol, &e)) {
			same = rl == ol && !memcmp(ref, ours, rl);
			free(ref);
			free(ours);
		}
		unlink(path);
	}
	unlink(ids);
	unlink(txt);
	rmdir(tmp);

	double mb = (double)len / 1e6;
	printf("spm model: %s (%d pieces), load %.1f ms\n", model,
	       spm_n_pieces(m), t_load * 1e3);
	printf("text: %.2f MB, %zu files, %lld ids\n", mb,
	       sizeof files / sizeof *files, n_ids);
	printf("punguza encode:         %7.2f MB/s wall, %7.2f MB/s cpu\n",
	       mb / best_enc, mb / best_enc_cpu);
	printf("punguza encode + print: %7.2f MB/s wall, %7.2f MB/s cpu\n",
	       mb / best_print, mb / best_print_cpu);
	if (ref_ok) {
		printf("spm_encode:             %7.2f MB/s wall, %7.2f MB/s "
		       "cpu\n", mb / best_ref, mb / best_ref_cpu);
		printf("ratio punguza/spm_encode: %.1fx wall, %.1fx cpu "
		       "(target >= 2x); ids identical: %s\n",
		       best_ref / best_print, best_ref_cpu / best_print_cpu,
		       same == 1 ? "yes" : same == 0 ? "NO" : "unknown");
	}
	spm_free(m);
	free(text);
	return ref_ok && same == 1 ? 0 : 1;
}
