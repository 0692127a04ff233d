/* punguza vocab DIR|FILE --corpus FILE... [--column NAME | --field NAME]
 *               [--keep K | --min-count C] [--no-closure] [-o OUTDIR]
 *               [--force] [--json]
 * punguza vocab --spm-to-json tokenizer.model -o tokenizer.json
 *
 * Counts the tokenizer's pieces over the corpus, chooses a (merge-closed)
 * keep set, re-encodes the corpus with the rewritten tokenizer and prints
 * the figures; with -o writes the rewritten tokenizer (tokenizer.json,
 * tokenizer.model when the source has one, vocab_map.json) as prune
 * writes its output: into OUT.tmp-XXXXXX, renamed to OUTDIR when complete;
 * never into or over the source, a non-empty OUTDIR only with --force.
 * See tokenizer/vocab.h for what each figure means. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "fileio.h"
#include "tokenizer.h"
#include "vocab.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: punguza vocab DIR|FILE --corpus FILE... [--column NAME | "
	    "--field NAME]\n"
	    "                     [--keep K | --min-count C] [--no-closure] "
	    "[-o OUTDIR] [--force]\n"
	    "                     [--json]\n"
	    "       punguza vocab --spm-to-json tokenizer.model -o "
	    "tokenizer.json\n"
	    "\n"
	    "Counts tokens over the corpus (each line of a text file, a CSV "
	    "column\n"
	    "or a JSONL field is encoded on its own, without BOS/EOS), keeps "
	    "the\n"
	    "most frequent pieces, and reports coverage and tokens per word "
	    "before\n"
	    "and after (the corpus re-encoded with the rewritten tokenizer).\n"
	    "  --corpus FILE...  corpus files (.csv and .jsonl/.ndjson by "
	    "extension)\n"
	    "  --column NAME     the CSV column to count\n"
	    "  --field NAME      the JSONL field to count\n"
	    "  --keep K          keep exactly K pieces, specials and the 256 "
	    "byte\n"
	    "                    pieces included (default 8064)\n"
	    "  --min-count C     keep every piece counted at least C times "
	    "instead\n"
	    "  --no-closure      plain cutoff: kept pieces may become "
	    "unreachable\n"
	    "  -o OUTDIR         write tokenizer.json (+ tokenizer.model when "
	    "the\n"
	    "                    source has one) and vocab_map.json "
	    "({\"keep\": old\n"
	    "                    ids in new order, \"old_to_new\": new id or "
	    "-1})\n"
	    "                    (refused when it is, holds or lies inside "
	    "the\n"
	    "                    source, or exists and is not empty)\n"
	    "  --force           replace a non-empty OUTDIR (after the new "
	    "one is\n"
	    "                    complete)\n"
	    "  --json            print the figures as JSON\n"
	    "  --spm-to-json M   write the tokenizer.json equivalent of the\n"
	    "                    SentencePiece BPE model M to -o (file or "
	    "directory)\n");
}

static int progress_fn(void *ctx, double done, const char *stage)
{
	(void)ctx;
	fprintf(stderr, "\r%s %3.0f%%", stage, done * 100.0);
	if (done >= 1.0)
		fputs("\r\033[K", stderr);
	return 0;
}

static void json_str(FILE *o, const char *s, size_t n)
{
	fputc('"', o);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(o, "\\%c", c);
		else if (c < 0x20)
			fprintf(o, "\\u%04x", c);
		else
			fputc(c, o);
	}
	fputc('"', o);
}

static int spm_to_json(const char *model, const char *out)
{
	struct tokenizer *t;
	struct err e = {0};
	char path[4096];
	if (!out) {
		fprintf(stderr, "punguza: vocab: --spm-to-json needs -o\n");
		return 2;
	}
	if (tok_load(model, &t, &e)) {
		fprintf(stderr, "punguza: %s\n", e.msg);
		return 1;
	}
	if (path_is_dir(out)) {
		if (path_join(path, sizeof path, out, "tokenizer.json", &e)) {
			tok_free(t);
			fprintf(stderr, "punguza: %s\n", e.msg);
			return 1;
		}
		out = path;
	}
	/* The file written must not be the model read. */
	int o = path_overlaps(out, model, &e);
	if (o) {
		tok_free(t);
		if (o > 0)
			fprintf(stderr,
				"punguza: vocab: cannot write over the source "
				"'%s'\n",
				model);
		else
			fprintf(stderr, "punguza: %s\n", e.msg);
		return 1;
	}
	char *json;
	size_t len;
	int rc = tok_kind(t) == TOK_SPM
		     ? vocab_spm_to_hf_json(t, &json, &len, &e)
		     : err_set(&e, ERR_INVALID,
			       "'%s': not a sentencepiece model", model);
	if (!rc) {
		rc = file_write_atomic(out, json, len, &e);
		free(json);
	}
	if (!rc)
		printf("wrote %s (%d pieces, %zu merges)\n", out,
		       tok_vocab_size(t), tok_merge_count(t));
	tok_free(t);
	if (rc) {
		fprintf(stderr, "punguza: %s\n", e.msg);
		return 1;
	}
	return 0;
}

int cmd_vocab(int argc, char **argv)
{
	const char *src = NULL, *outdir = NULL, *spm_model = NULL;
	const char **corpus = calloc((size_t)argc + 1, sizeof *corpus);
	size_t n_corpus = 0;
	struct vocab_count_opts opts = {0};
	long keep = 8064;
	unsigned long long min_count = 0;
	bool by_count = false, closure = true, json = false, force = false;
	int status = 2;
	if (!corpus) {
		fprintf(stderr, "punguza: out of memory\n");
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_arg = i + 1 < argc;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			free(corpus);
			return 0;
		} else if (!strcmp(a, "--corpus") && has_arg) {
			while (i + 1 < argc && argv[i + 1][0] != '-')
				corpus[n_corpus++] = argv[++i];
		} else if (!strcmp(a, "--column") && has_arg) {
			opts.column = argv[++i];
			opts.format = VOCAB_CSV;
		} else if (!strcmp(a, "--field") && has_arg) {
			opts.field = argv[++i];
			opts.format = VOCAB_JSONL;
		} else if (!strcmp(a, "--keep") && has_arg) {
			char *end;
			keep = strtol(argv[++i], &end, 10);
			if (*end || keep <= 0 || keep > (1 << 24)) {
				fprintf(stderr,
					"punguza: vocab: bad --keep '%s'\n",
					argv[i]);
				goto out;
			}
			by_count = false;
		} else if (!strcmp(a, "--min-count") && has_arg) {
			char *end;
			min_count = strtoull(argv[++i], &end, 10);
			if (*end || argv[i][0] == '-') {
				fprintf(
				    stderr,
				    "punguza: vocab: bad --min-count '%s'\n",
				    argv[i]);
				goto out;
			}
			by_count = true;
		} else if (!strcmp(a, "--no-closure")) {
			closure = false;
		} else if (!strcmp(a, "-o") && has_arg) {
			outdir = argv[++i];
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--force")) {
			force = true;
		} else if (!strcmp(a, "--spm-to-json") && has_arg) {
			spm_model = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr,
				"punguza: vocab: unknown option or "
				"missing value '%s'\n",
				a);
			usage(stderr);
			goto out;
		} else if (!src) {
			src = a;
		} else {
			usage(stderr);
			goto out;
		}
	}
	if (spm_model) {
		status = spm_to_json(spm_model, outdir);
		goto out;
	}
	if (!src || !n_corpus) {
		usage(stderr);
		goto out;
	}
	status = 1;
	struct tokenizer *t = NULL, *nt = NULL;
	struct vocab_counts *c = NULL, *c2 = NULL;
	struct vocab_keep *k = NULL;
	struct err e = {0};
	struct progress prog = {progress_fn, NULL};
	const struct progress *p = isatty(2) ? &prog : NULL;
	struct out_dir od = {0};
	/* Refused before any work: the source is never written. */
	if (outdir && out_dir_check(outdir, src, force, NULL, &e))
		goto fail;
	if (tok_load(src, &t, &e) ||
	    vocab_count_files(t, corpus, n_corpus, &opts, &c, p, &e))
		goto fail;
	if (by_count ? vocab_keep_min_count(t, c, min_count, closure, &k, &e)
		     : vocab_keep_top_k(t, c, (int)keep, closure, &k, &e))
		goto fail;
	if (vocab_rewrite(t, k, &nt, &e) ||
	    vocab_count_files(nt, corpus, n_corpus, &opts, &c2, p, &e))
		goto fail;
	struct vocab_files vf = {0};
	if (outdir && (out_dir_begin(&od, outdir, src, force, &e) ||
		       vocab_write_files(t, k, od.tmp, &vf, &e) ||
		       out_dir_commit(&od, &e))) {
		out_dir_abort(&od);
		goto fail;
	}
	if (vf.warning[0])
		fprintf(stderr, "punguza: vocab: warning: %s\n", vf.warning);
	double tpw0 = c->words ? (double)c->tokens / (double)c->words : 0;
	double tpw1 = c2->words ? (double)c2->tokens / (double)c2->words : 0;
	if (*tok_note(t))
		fprintf(stderr, "punguza: note: %s\n", tok_note(t));
	if (json) {
		printf("{\"tokenizer\": ");
		json_str(stdout, tok_path(t), strlen(tok_path(t)));
		printf(", \"pieces\": %d, \"merges\": %zu,\n",
		       tok_vocab_size(t), tok_merge_count(t));
		printf(" \"corpus\": {\"files\": %zu, \"lines\": %llu, "
		       "\"words\": %llu, \"bytes\": %llu, \"tokens\": %llu, "
		       "\"skipped\": %llu},\n",
		       c->n_files, (unsigned long long)c->lines,
		       (unsigned long long)c->words,
		       (unsigned long long)c->bytes,
		       (unsigned long long)c->tokens,
		       (unsigned long long)c->skipped);
		printf(" \"kept\": %d, \"forced\": %d, \"closure\": %s, "
		       "\"added_by_closure\": %d, \"passed_over\": %d,\n",
		       k->n_keep, k->n_forced, closure ? "true" : "false",
		       k->n_closure, k->n_skipped);
		printf(" \"coverage\": %.6f, \"tokens_per_word_before\": %.4f, "
		       "\"tokens_per_word_after\": %.4f, \"tokens_after\": "
		       "%llu,\n",
		       k->coverage, tpw0, tpw1, (unsigned long long)c2->tokens);
		printf(" \"naive_unreachable\": %d, \"unreachable\": %d,\n",
		       k->naive_unreachable, k->unreachable);
		printf(" \"margin\": [");
		for (int i = 0; i < k->n_margin; i++) {
			size_t l;
			const char *s = tok_piece(t, k->margin[i], &l);
			printf("%s{\"id\": %d, \"piece\": ", i ? ", " : "",
			       k->margin[i]);
			json_str(stdout, s, l);
			printf(", \"count\": %llu}",
			       (unsigned long long)c->count[k->margin[i]]);
		}
		printf("]");
		if (outdir) {
			printf(",\n \"outdir\": ");
			json_str(stdout, outdir, strlen(outdir));
		}
		printf("}\n");
	} else {
		printf("tokenizer    %s (%d pieces, %zu merges)\n", tok_path(t),
		       tok_vocab_size(t), tok_merge_count(t));
		printf("corpus       %zu files: %llu lines, %llu words, %llu "
		       "bytes, %llu tokens\n",
		       c->n_files, (unsigned long long)c->lines,
		       (unsigned long long)c->words,
		       (unsigned long long)c->bytes,
		       (unsigned long long)c->tokens);
		printf("kept         %d pieces (%d always kept; %s", k->n_keep,
		       k->n_forced,
		       closure ? "merge closure on" : "no closure");
		if (closure)
			printf(": %d added as parents, %d passed over",
			       k->n_closure, k->n_skipped);
		printf(")\n");
		printf(
		    "coverage     %.2f%% of counted tokens are kept pieces\n",
		    100.0 * k->coverage);
		printf("tokens/word  %.3f before, %.3f after (%llu -> %llu "
		       "tokens, corpus re-encoded)\n",
		       tpw0, tpw1, (unsigned long long)c->tokens,
		       (unsigned long long)c2->tokens);
		printf("unreachable  %d kept pieces with a naive cutoff; %d in "
		       "this set%s\n",
		       k->naive_unreachable, k->unreachable,
		       closure ? " (closure avoided them)" : "");
		printf("margin       next to go:");
		for (int i = 0; i < k->n_margin; i++) {
			size_t l;
			const char *s = tok_piece(t, k->margin[i], &l);
			printf(" '%.*s' (%llu)", (int)l, s,
			       (unsigned long long)c->count[k->margin[i]]);
		}
		printf("\n");
		if (outdir) {
			char pm[4096];
			bool model = !path_join(pm, sizeof pm, outdir,
						"tokenizer.model", NULL) &&
				     path_exists(pm);
			printf("wrote        %s/tokenizer.json%s, "
			       "%s/vocab_map.json\n",
			       outdir, model ? " + tokenizer.model" : "",
			       outdir);
		}
	}
	status = 0;
	goto done;
fail:
	fprintf(stderr, "punguza: %s\n", e.msg);
done:
	vocab_counts_free(c);
	vocab_counts_free(c2);
	vocab_keep_free(k);
	tok_free(nt);
	tok_free(t);
out:
	free(corpus);
	return status;
}
