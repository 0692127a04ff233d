/* punguza tasks DIR --data FILE... — runs the challenge's three tasks on a
 * model, writes the submission, and scores it when the data has targets
 * (through `punguza score`, so the report is the same). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cliopts.h"
#include "commands.h"
#include "measured.h"
#include "fileio.h"
#include "model.h"
#include "tasks.h"
#include "tokenizer.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: punguza tasks DIR --data FILE... [-o SUBMISSION.csv] "
	    "[--generate]\n"
	    "                     [--beams N] [--limit N] [--resume] "
	    "[--json]\n"
	    "                     [--tokenizer PATH] [--save-every N]\n\n"
	    "Runs the model in DIR on the Buzuzu-Mavi tasks of each data "
	    "file\n(test_with_targets.csv layout or the organisers' per-task "
	    "CSVs), writes\nthe submission (ID,Response) and, when the data "
	    "has targets, scores it\nas `punguza score` does (both LBs, "
	    "zindi at the model's parameter count).\n\n"
	    "  --data FILE...    data files (one or more; repeatable)\n"
	    "  -o FILE           the submission (default submission.csv); "
	    "written\n"
	    "                    atomically, also every --save-every rows "
	    "(default 25)\n"
	    "  --generate        classification by the starter code's free "
	    "generation\n"
	    "                    (temperature 0.5, top-k 5, repetition "
	    "penalty 1.2)\n"
	    "                    instead of label likelihood\n"
	    "  --beams N         translation by beam search of width N "
	    "(default 1: greedy)\n"
	    "  --limit N         at most N rows per task and language\n"
	    "  --resume          keep the finished rows of an existing -o "
	    "file\n"
	    "  --json            the score report as JSON\n"
	    "  --tokenizer PATH  tokenizer dir or file (default DIR)\n\n"
	    "Classification scores each label (Kyakkyawa/Tsaka-tsaki/Korau, "
	    "Chanya/\nWastani/Hasi, True/Neither/False) by its mean "
	    "log-probability per token\nafter the prompt and answers 0/1/2. "
	    "Translation stops at </s>, a newline or\n100 new tokens. "
	    "Ctrl-C stops after the current row; --resume continues.\n");
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct run_ctx {
	const struct tasks_data *d;
	const struct tasks_result *res;
	const char *out;
	int save_every, todo, ran;
	double t0;
	bool tty;
	struct err e; /* a failed periodic save */
	bool save_failed;
};

static int on_row(void *vctx, double done, const char *stage)
{
	struct run_ctx *c = vctx;
	(void)done;
	(void)stage;
	c->ran++;
	if (c->tty) {
		double dt = now() - c->t0, rate = dt > 0 ? c->ran / dt : 0;
		int left = c->todo - c->ran;
		double eta = rate > 0 ? left / rate : 0;
		fprintf(stderr,
			"\r\033[K%d/%d rows  %.2f rows/s  ETA %d:%02d:%02d",
			c->ran, c->todo, rate, (int)(eta / 3600),
			(int)(eta / 60) % 60, (int)eta % 60);
	}
	if (c->save_every > 0 && c->ran % c->save_every == 0 &&
	    tasks_write_submission(c->out, c->d, c->res, &c->e)) {
		c->save_failed = true;
		return 1;
	}
	return interrupted ? 1 : 0;
}

static int parse_int(const char *opt, const char *s, int lo, int hi,
		     int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr,
			"punguza: tasks: %s '%s': expected an integer in "
			"[%d, %d]\n",
			opt, s, lo, hi);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* Scores through `punguza score`: the references of the finished rows go
 * to a temporary file. */
static int score_report(const struct tasks_data *d,
			const struct tasks_result *res, const char *sub,
			uint64_t params, bool json)
{
	struct err e = {0};
	char *text = NULL;
	size_t len = 0;
	if (tasks_refs_csv(d, res, &text, &len, &e)) {
		fprintf(stderr, "punguza: %s\n", e.msg);
		return 1;
	}
	const char *tmpdir = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/punguza-refs-XXXXXX",
		 tmpdir && *tmpdir ? tmpdir : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0) {
		fprintf(stderr, "punguza: cannot create '%s': %s\n", path,
			strerror(errno));
		free(text);
		return 1;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			fprintf(stderr, "punguza: cannot write '%s': %s\n",
				path, strerror(errno));
			close(fd);
			unlink(path);
			free(text);
			return 1;
		}
		off += (size_t)w;
	}
	close(fd);
	free(text);
	char pbuf[32];
	snprintf(pbuf, sizeof pbuf, "%llu", (unsigned long long)params);
	char *argv[] = {"score",  (char *)sub, "--ref",	 path,
			"--params", pbuf,	     "--json", NULL};
	int argc = json ? 7 : 6;
	fflush(stdout);
	int rc = cmd_score(argc, argv);
	unlink(path);
	return rc;
}

static int run(const char *dir, const char *tok_path, char **data, int n_data,
	       const char *out, const struct tasks_opts *o, int limit,
	       bool resume, bool json, int save_every)
{
	struct err e = {0};
	struct model *m = NULL;
	struct tokenizer *tk = NULL;
	struct tasks_data d = {0};
	struct tasks_result *res = NULL;
	int status = 1, rc;
	/* The submission must not overwrite an input. */
	for (int i = 0; i < n_data; i++) {
		int same = path_overlaps(out, data[i], &e);
		if (same < 0)
			goto fail;
		if (same) {
			err_set(&e, ERR_INVALID,
				"cannot write the submission '%s' over the "
				"--data file '%s'",
				out, data[i]);
			goto fail;
		}
	}
	for (int i = 0; i < n_data; i++)
		if ((rc = tasks_data_load(&d, data[i], &e)))
			goto fail;
	if (limit > 0)
		tasks_data_limit(&d, limit);
	if (d.n == 0) {
		err_set(&e, ERR_INVALID, "no rows to run");
		goto fail;
	}
	if (!(res = calloc((size_t)d.n, sizeof *res))) {
		err_set(&e, ERR_NOMEM, "out of memory");
		goto fail;
	}
	int kept = 0;
	if (resume) {
		if (access(out, F_OK) == 0) {
			if ((rc = tasks_resume(out, &d, res, &kept, &e)))
				goto fail;
			fprintf(stderr, "resuming: %d of %d rows kept from "
					"'%s'\n",
				kept, d.n, out);
		} else {
			fprintf(stderr, "resuming: '%s' does not exist yet; "
					"starting afresh\n",
				out);
		}
	}
	if ((rc = model_load(dir, &m, NULL, &e)) ||
	    (rc = tok_load(tok_path, &tk, &e)))
		goto fail;
	struct run_ctx c = {&d, res, out, save_every, d.n - kept, 0,
			    now(), isatty(2) != 0, {0}, false};
	struct progress prog = {on_row, &c};
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old);
	rc = tasks_run(m, tk, &d, o, &prog, res, &e);
	sigaction(SIGINT, &old, NULL);
	if (c.tty)
		fprintf(stderr, "\r\033[K");
	double dt = now() - c.t0;
	int finished = 0;
	for (int i = 0; i < d.n; i++)
		finished += res[i].response != NULL;
	struct err we = {0};
	if (tasks_write_submission(out, &d, res, &we)) {
		fprintf(stderr, "punguza: %s\n", we.msg);
		goto fail_quiet;
	}
	if (c.save_failed) {
		e = c.e;
		goto fail;
	}
	fprintf(stderr,
		"%d rows in %.1f s (%.2f rows/s); %d of %d rows in '%s'\n",
		c.ran, dt, dt > 0 ? c.ran / dt : 0.0, finished, d.n, out);
	if (rc == ERR_CANCELLED) {
		fprintf(stderr,
			"punguza: interrupted; run again with --resume to "
			"finish the other %d rows\n",
			d.n - finished);
		goto fail_quiet;
	}
	if (rc)
		goto fail;
	bool any_target = false;
	for (int i = 0; i < d.n; i++)
		any_target |= d.rows[i].target != NULL;
	status = any_target ? score_report(&d, res, out, model_param_count(m),
					   json)
			    : 0;
	/* Remember the measured LB, so the explorer shows it for this model. */
	struct score_result sr;
	if (any_target && status == 0 && tasks_score(&d, res, &sr, &e) == 0) {
		struct measured ms = {sr.part[SCORE_ALL].lb_tasks,
				      sr.part[SCORE_ALL].lb_pooled,
				      sr.part[SCORE_ALL].n_rows, 0};
		if (measured_save(dir, &ms, &e))
			fprintf(stderr, "punguza: note: %s\n", e.msg);
	}
	goto done;
fail:
	fprintf(stderr, "punguza: %s\n", e.msg);
fail_quiet:
	status = 1;
done:
	if (res)
		tasks_results_free(res, d.n);
	free(res);
	tasks_data_free(&d);
	tok_free(tk);
	model_free(m);
	return status;
}

int cmd_tasks(int argc, char **argv)
{
	const char *dir = NULL, *tok_path = NULL, *out = "submission.csv";
	char **data = calloc((size_t)argc + 1, sizeof *data);
	int n_data = 0, limit = 0, save_every = 25, rc = 2;
	bool resume = false, json = false;
	struct tasks_opts o;
	tasks_defaults(&o);
	if (!data) {
		fprintf(stderr, "punguza: out of memory\n");
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			rc = 0;
			goto out;
		}
		if (!strcmp(a, "--generate")) {
			o.generate = true;
			continue;
		}
		if (!strcmp(a, "--resume")) {
			resume = true;
			continue;
		}
		if (!strcmp(a, "--json")) {
			json = true;
			continue;
		}
		if (a[0] != '-') {
			if (cliopts_positional("tasks", a, &dir))
				goto out;
			continue;
		}
		if (!cliopts_has_value("tasks", argc, argv, i))
			goto out;
		if (!strcmp(a, "--data")) {
			while (i + 1 < argc && argv[i + 1][0] != '-')
				data[n_data++] = argv[++i];
			continue;
		}
		const char *v = argv[++i];
		if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
			out = v;
		} else if (!strcmp(a, "--tokenizer")) {
			tok_path = v;
		} else if (!strcmp(a, "--beams")) {
			if (parse_int(a, v, 1, 64, &o.beams))
				goto out;
		} else if (!strcmp(a, "--limit")) {
			if (parse_int(a, v, 1, 1 << 30, &limit))
				goto out;
		} else if (!strcmp(a, "--save-every")) {
			if (parse_int(a, v, 0, 1 << 30, &save_every))
				goto out;
		} else {
			cliopts_unknown("tasks", a);
			goto out;
		}
	}
	if (!dir || n_data == 0) {
		usage(stderr);
		goto out;
	}
	rc = run(dir, tok_path ? tok_path : dir, data, n_data, out, &o, limit,
		 resume, json, save_every);
out:
	free(data);
	return rc;
}
