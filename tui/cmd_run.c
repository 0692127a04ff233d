/* punguza run DIR -p PROMPT [options] — generates text from a prompt,
 * streaming it to stdout as it comes; prompt and generation speeds go to
 * stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliopts.h"
#include "commands.h"
#include "generate.h"
#include "model.h"
#include "sampler.h"
#include "tokenizer.h"

static void usage(FILE *out)
{
	struct sampler_opts d;
	sampler_defaults(&d);
	fprintf(
	    out,
	    "usage: punguza run DIR -p PROMPT [-n N] [--temp T] [--top-k K]\n"
	    "                   [--top-p P] [--repeat-penalty R] [--seed S]\n"
	    "                   [--tokenizer PATH]\n\n"
	    "Generates up to N tokens (default 64) after PROMPT with the "
	    "model\n"
	    "in DIR and streams them to stdout; stops at the end-of-text "
	    "token.\n"
	    "Prompt and generation speeds (tokens/s) go to stderr.\n\n"
	    "  --temp T            temperature, 0 = greedy (default %g)\n"
	    "  --top-k K           keep the K most likely tokens, 0 = all "
	    "(default %d)\n"
	    "  --top-p P           nucleus sampling, 1 = off (default %g)\n"
	    "  --repeat-penalty R  Hugging Face repetition penalty, 1 = off "
	    "(default %g)\n"
	    "  --seed S            random seed (default %llu)\n"
	    "  --tokenizer PATH    tokenizer dir or file (default DIR)\n"
	    "Defaults are the challenge starter code's settings.\n",
	    (double)d.temperature, d.top_k, (double)d.top_p,
	    (double)d.repeat_penalty, (unsigned long long)d.seed);
}

static int parse_num(const char *opt, const char *s, double lo, double hi,
		     double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr,
			"punguza: %s '%s': expected a number in "
			"[%g, %g]\n",
			opt, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

struct run_out {
	int n_gen;		    /* tokens asked for */
	const struct gen_stats *st; /* live: max_new known before text */
	bool warned;
};

static void warn_clamped(struct run_out *r)
{
	if (r->warned || !r->st->clamped)
		return;
	r->warned = true;
	fprintf(stderr,
		"punguza: generating %d tokens, not %d: the "
		"context holds %d positions\n",
		r->st->max_new, r->n_gen,
		r->st->max_new + r->st->prompt_tokens);
}

static int put_text(void *ctx, const char *s, size_t n)
{
	warn_clamped(ctx);
	fwrite(s, 1, n, stdout);
	fflush(stdout);
	return 0;
}

static int generate(const char *dir, const char *tok_path, const char *prompt,
		    int n_gen, const struct sampler_opts *so)
{
	struct err e = {0};
	struct model *m = NULL;
	struct tokenizer *tk = NULL;
	int status = 1;
	int rc = cliopts_load_model(dir, &m, &e);
	cliopts_progress_end();
	if (rc || (rc = tok_load(tok_path, &tk, &e)))
		goto fail;
	struct gen_opts o;
	gen_defaults(&o);
	o.max_new = n_gen;
	o.sampler = *so;
	struct gen_stats st;
	struct run_out r = {n_gen, &st, false};
	rc = gen_run(m, tk, prompt, strlen(prompt), &o, put_text, &r, &st, &e);
	if (rc)
		goto fail;
	warn_clamped(&r);
	putchar('\n');
	fflush(stdout);
	double tp = st.prompt_seconds, tg = st.gen_seconds;
	fprintf(stderr,
		"prompt: %d tokens in %.3f s (%.1f tokens/s); generation: %d "
		"tokens in %.3f s (%.1f tokens/s)\n",
		st.prompt_tokens, tp, st.prompt_tokens / (tp > 0 ? tp : 1e-9),
		st.new_tokens, tg, st.new_tokens / (tg > 0 ? tg : 1e-9));
	status = 0;
fail:
	if (status)
		fprintf(stderr, "punguza: %s\n", e.msg);
	tok_free(tk);
	model_free(m);
	return status;
}

int cmd_run(int argc, char **argv)
{
	const char *dir = NULL, *prompt = NULL, *tok_path = NULL;
	struct sampler_opts so;
	sampler_defaults(&so);
	int n_gen = 64;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		double v;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (a[0] != '-') {
			if (cliopts_positional("run", a, &dir))
				return 2;
			continue;
		}
		if (!cliopts_has_value("run", argc, argv, i))
			return 2;
		const char *val = argv[++i];
		if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
			prompt = val;
		} else if (!strcmp(a, "--tokenizer")) {
			tok_path = val;
		} else if (!strcmp(a, "-n")) {
			if (parse_num(a, val, 0, 1 << 24, &v))
				return 2;
			n_gen = (int)v;
		} else if (!strcmp(a, "--temp")) {
			if (parse_num(a, val, 0, 1e6, &v))
				return 2;
			so.temperature = (float)v;
		} else if (!strcmp(a, "--top-k")) {
			if (parse_num(a, val, 0, 1 << 24, &v))
				return 2;
			so.top_k = (int)v;
		} else if (!strcmp(a, "--top-p")) {
			if (parse_num(a, val, 1e-9, 1, &v))
				return 2;
			so.top_p = (float)v;
		} else if (!strcmp(a, "--repeat-penalty")) {
			if (parse_num(a, val, 1e-6, 1e6, &v))
				return 2;
			so.repeat_penalty = (float)v;
		} else if (!strcmp(a, "--seed")) {
			char *end;
			errno = 0;
			unsigned long long s = strtoull(val, &end, 10);
			if (errno || end == val || *end || val[0] == '-') {
				fprintf(stderr,
					"punguza: --seed '%s': expected "
					"a non-negative integer\n",
					val);
				return 2;
			}
			so.seed = s;
		} else {
			return cliopts_unknown("run", a);
		}
	}
	if (!dir || !prompt) {
		usage(stderr);
		return 2;
	}
	return generate(dir, tok_path ? tok_path : dir, prompt, n_gen, &so);
}
