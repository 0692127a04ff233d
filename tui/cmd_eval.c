/* punguza eval DIR --text FILE [options] — how well the model predicts a
 * text: sliding-window NLL, perplexity, bits per byte; with --ref, KL and
 * top-1 agreement against a reference model of the same vocabulary. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cliopts.h"
#include "commands.h"
#include "eval.h"
#include "fileio.h"
#include "model.h"
#include "tokenizer.h"

#define TEXT_MAX (1u << 30)

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: punguza eval DIR --text FILE [--lines] [--ctx C] [--stride S]\n"
	    "                    [--ref DIR] [--tokenizer PATH] [--json]\n\n"
	    "Scores FILE (UTF-8 text) with the model in DIR using a sliding\n"
	    "window of C tokens moved by S (Hugging Face's perplexity guide):\n"
	    "negative log-likelihood per token, perplexity and bits per byte\n"
	    "(comparable across tokenizers). With --ref, also the mean\n"
	    "KL(ref||model) and top-1 agreement with the reference model.\n\n"
	    "  --ctx C           window length (default: 512, or the model's\n"
	    "                    context when smaller)\n"
	    "  --stride S        window step (default C/2)\n"
	    "  --lines           one document per line: BOS, the line, EOS for\n"
	    "                    its newline (how line-based corpora are seen in\n"
	    "                    training); default: the file as one text\n"
	    "  --tokenizer PATH  tokenizer dir or file (default DIR)\n"
	    "  --json            one JSON object on stdout\n");
}

static int parse_int(const char *opt, const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 1 << 24) {
		fprintf(stderr,
			"punguza: %s '%s': expected a positive integer\n", opt,
			s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static void print_text(const char *dir, const char *ref_dir, const char *text,
		       const struct eval_result *r)
{
	printf("model        %s\n", dir);
	printf("text         %s (%llu bytes, %zu tokens)\n", text,
	       (unsigned long long)r->text_bytes, r->n_tokens);
	printf("window       context %d, stride %d (%zu tokens scored)\n",
	       r->ctx, r->stride, r->n_scored);
	printf("nll          %.6f nats/token (total %.3f)\n", r->nll_mean,
	       r->nll_sum);
	if (r->ppl < 1e6)
		printf("perplexity   %.4f\n", r->ppl);
	else
		printf("perplexity   %.4e\n", r->ppl);
	printf("bits/byte    %.6f\n", r->bpb);
	if (r->has_ref) {
		printf("reference    %s\n", ref_dir);
		printf("kl           %.6f nats/token (KL(ref||model))\n",
		       r->kl_mean);
		printf("top-1        %.2f%% agreement\n", 100 * r->top1);
	}
}

static int print_json(const char *dir, const char *ref_dir, const char *text,
		      const struct eval_result *r)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return -1;
	cJSON_AddStringToObject(o, "model", dir);
	cJSON_AddStringToObject(o, "text", text);
	cJSON_AddNumberToObject(o, "bytes", (double)r->text_bytes);
	cJSON_AddNumberToObject(o, "tokens", (double)r->n_tokens);
	cJSON_AddNumberToObject(o, "ctx", r->ctx);
	cJSON_AddNumberToObject(o, "stride", r->stride);
	cJSON_AddNumberToObject(o, "scored", (double)r->n_scored);
	cJSON_AddNumberToObject(o, "nll_sum", r->nll_sum);
	cJSON_AddNumberToObject(o, "nll_mean", r->nll_mean);
	cJSON_AddNumberToObject(o, "perplexity", r->ppl);
	cJSON_AddNumberToObject(o, "bits_per_byte", r->bpb);
	if (r->has_ref) {
		cJSON_AddStringToObject(o, "ref", ref_dir);
		cJSON_AddNumberToObject(o, "kl_mean", r->kl_mean);
		cJSON_AddNumberToObject(o, "top1", r->top1);
	}
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!s)
		return -1;
	printf("%s\n", s);
	free(s);
	return 0;
}

int cmd_eval(int argc, char **argv)
{
	const char *dir = NULL, *text_path = NULL, *ref_dir = NULL;
	const char *tok_path = NULL;
	int ctx = 0, stride = 0, json = 0, lines = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(a, "--json")) {
			json = 1;
			continue;
		}
		if (!strcmp(a, "--lines")) {
			lines = 1;
			continue;
		}
		if (a[0] != '-') {
			if (cliopts_positional("eval", a, &dir))
				return 2;
			continue;
		}
		if (!cliopts_has_value("eval", argc, argv, i))
			return 2;
		const char *val = argv[++i];
		if (!strcmp(a, "--text")) {
			text_path = val;
		} else if (!strcmp(a, "--ref")) {
			ref_dir = val;
		} else if (!strcmp(a, "--tokenizer")) {
			tok_path = val;
		} else if (!strcmp(a, "--ctx")) {
			if (parse_int(a, val, &ctx))
				return 2;
		} else if (!strcmp(a, "--stride")) {
			if (parse_int(a, val, &stride))
				return 2;
		} else {
			return cliopts_unknown("eval", a);
		}
	}
	if (!dir || !text_path) {
		usage(stderr);
		return 2;
	}
	struct err e = {0};
	struct model *m = NULL, *ref = NULL;
	struct tokenizer *tk = NULL;
	char *text = NULL;
	size_t text_len = 0, n_ids = 0;
	int *ids = NULL, status = 1;
	bool tty = isatty(2);
	struct progress prog = {cliopts_progress, NULL};
	int rc = file_read_all(text_path, TEXT_MAX, &text, &text_len, &e);
	if (!rc)
		rc = cliopts_load_model(dir, &m, &e);
	if (!rc && ref_dir)
		rc = cliopts_load_model(ref_dir, &ref, &e);
	cliopts_progress_end();
	if (rc || (rc = tok_load(tok_path ? tok_path : dir, &tk, &e)) ||
	    (rc = lines ? eval_encode_lines(tk, text, text_len, &ids, &n_ids,
					    &e)
			: tok_encode(tk, text, text_len, true, &ids, &n_ids,
				     &e)))
		goto done;
	struct eval_opts o;
	eval_defaults(&o);
	int max_pos = m->cfg.max_position_embeddings;
	if (ref && ref->cfg.max_position_embeddings < max_pos)
		max_pos = ref->cfg.max_position_embeddings;
	o.ctx = ctx ? ctx : (o.ctx < max_pos ? o.ctx : max_pos);
	o.stride = stride ? stride : (o.ctx / 2 > 0 ? o.ctx / 2 : 1);
	o.text_bytes = text_len;
	o.prog = tty ? &prog : NULL;
	struct eval_result r;
	rc = eval_run(m, ref, ids, n_ids, &o, &r, &e);
	if (tty)
		fprintf(stderr, "\r\033[K");
	if (rc)
		goto done;
	if (json) {
		if (print_json(dir, ref_dir, text_path, &r)) {
			err_set(&e, ERR_NOMEM, "out of memory");
			goto done;
		}
	} else {
		print_text(dir, ref_dir, text_path, &r);
	}
	status = 0;
done:
	if (status)
		fprintf(stderr, "punguza: %s\n", e.msg);
	free(ids);
	free(text);
	tok_free(tk);
	model_free(ref);
	model_free(m);
	return status;
}
