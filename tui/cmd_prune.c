/* punguza prune DIR [knobs | --preset PLAN | --recipe FILE] -o OUT — applies
 * a pruning plan to the model in DIR, measures what it cost on held-out
 * text (optional), and exports the result (Hugging Face directory and/or
 * GGUF) with the recipe that reproduces it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "calib_text.h"
#include "cliopts.h"
#include "commands.h"
#include "eval.h"
#include "export.h"
#include "history.h"
#include "fileio.h"
#include "heal.h"
#include "heal_data.h"
#include "healcli.h"
#include "model.h"
#include "plan.h"
#include "planopts.h"
#include "recipe.h"
#include "signals.h"
#include "tokenizer.h"
#include "vocab.h"

#define TEXT_MAX (1u << 30)
#define CALIB_MAX_TOKENS 32768
#define MAX_FILES 64

static void usage(FILE *out)
{
	fprintf(out,
		"usage: punguza prune DIR [--preset PLAN | --recipe FILE] "
		"[knobs] -o OUT\n"
		"                     [--format hf,gguf] [--force] "
		"[--corpus FILE]... [--calib FILE]...\n"
		"                     [--heldout FILE] [--ctx C] [--tokenizer "
		"PATH]\n\n"
		"Applies a pruning plan to the model in DIR (never modified) "
		"and exports the\npruned model to OUT (written as OUT.tmp-* "
		"and renamed when complete).\n\n"
		"  -o, --out OUT       output directory (refused when it exists "
		"and is not empty)\n"
		"  --force             replace a non-empty OUT (after the new "
		"one is complete)\n"
		"  --format LIST       hf (default), gguf, or hf,gguf\n"
		"  --preset PLAN       published-50m, published-100m, "
		"published-40m, identity\n"
		"  --recipe FILE       a punguza.json: reproduces that export\n"
		"  --corpus FILE       text counted for a vocabulary cut "
		"(repeatable)\n"
		"  --calib FILE        calibration text for --select activation "
		"and\n"
		"                      --rank-layers (repeatable; default: the "
		"corpus)\n"
		"  --heldout FILE      measure bits per byte, perplexity, KL, "
		"top-1 and\n"
		"                      tokens per word on this text, original vs "
		"pruned\n"
		"  --ctx C             evaluation window (default 512 or the "
		"model's context)\n"
		"  --tokenizer PATH    tokenizer dir or file (default DIR)\n"
		"\nCut and heal in one go (punguza heal, the source as the "
		"teacher):\n"
		"  --heal-steps N | --heal-tokens N | --heal-minutes M\n"
		"                      heal the pruned model for this budget "
		"(KL from the\n"
		"                      source, defaults of punguza heal; "
		"--heldout is evaluated)\n"
		"  --heal-corpus FILE  healing text (repeatable; none: "
		"data-free distillation)\n"
		"  --threads N         BLAS threads (a recipe's heal replays "
		"with its own)\n"
		"  --no-heal           do not replay a recipe's heal section\n");
	planopts_help(out);
}

/* ctx: non-NULL when stderr is a terminal. Cancels on SIGINT/SIGTERM. */
static int show_progress(void *ctx, double done, const char *stage)
{
	if (ctx)
		fprintf(stderr, "\r\033[K%s %3.0f%%", stage, 100 * done);
	return signals_progress(NULL, done, stage);
}

static void geometry(const char *label, const struct config *c)
{
	printf("%-9s V %d, d %d, f %d, heads %d/%d x %d, L %d, %s%s: %llu "
	       "params\n",
	       label, c->vocab_size, c->hidden_size, c->intermediate_size,
	       c->n_heads, c->n_kv_heads, c->head_dim, c->n_layers,
	       c->tie_word_embeddings ? "tied" : "untied",
	       c->shared_mlp ? ", shared MLP" : "",
	       (unsigned long long)config_param_count(c));
}

static void print_effect(const char *file, const struct prune_effect *f)
{
	const struct eval_result *a = &f->src, *b = &f->dst;
	printf("\nmeasured on %s (%llu bytes, %llu words; window %d, stride "
	       "%d)\n",
	       file, (unsigned long long)f->bytes,
	       (unsigned long long)f->words, a->ctx, a->stride);
	printf("%-16s %14s %14s\n", "", "original", "pruned");
	printf("%-16s %14zu %14zu\n", "tokens", f->src_tokens, f->dst_tokens);
	printf("%-16s %14.4f %14.4f\n", "tokens/word", f->src_tpw, f->dst_tpw);
	printf("%-16s %14.4f %14.4f\n", "nll/token", a->nll_mean, b->nll_mean);
	printf("%-16s %14.4g %14.4g\n", "perplexity", a->ppl, b->ppl);
	printf("%-16s %14.4f %14.4f\n", "bits/byte", a->bpb, b->bpb);
	if (b->has_ref) {
		printf("%-16s %14s %14.4f\n", "KL(orig||pruned)", "-",
		       b->kl_mean);
		printf("%-16s %14s %13.2f%%\n", "top-1 agreement", "-",
		       100 * b->top1);
	} else {
		printf("(KL and top-1 need the same vocabulary: not "
		       "measured)\n");
	}
}

struct args {
	const char *dir, *out, *recipe, *preset, *heldout, *tok_path;
	const char *corpus[MAX_FILES], *calib[MAX_FILES];
	int n_corpus, n_calib, ctx;
	unsigned formats;
	bool formats_given;
	bool force;
	/* healing */
	const char *heal_corpus[MAX_FILES];
	int n_heal_corpus, threads;
	unsigned long long heal_steps, heal_tokens;
	double heal_minutes;
	bool no_heal;
};

static int add_file(const char **list, int *n, const char *f)
{
	if (*n >= MAX_FILES) {
		fprintf(stderr, "punguza: prune: more than %d files\n",
			MAX_FILES);
		return -1;
	}
	list[(*n)++] = f;
	return 0;
}

/* First pass: everything but the knobs. 0 ok, else the exit status. */
static int parse_args(int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof *a);
	a->formats = EXPORT_HF;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
			usage(stdout);
			return -1;
		}
		if (!strcmp(o, "--force")) {
			a->force = true;
			continue;
		}
		if (!strcmp(o, "--no-heal")) {
			a->no_heal = true;
			continue;
		}
		if (planopts_is_flag(o))
			continue;
		if (o[0] != '-') {
			if (cliopts_positional("prune", o, &a->dir))
				return 2;
			continue;
		}
		if (!cliopts_has_value("prune", argc, argv, i))
			return 2;
		const char *v = argv[++i];
		long n;
		if (!strcmp(o, "-o") || !strcmp(o, "--out")) {
			a->out = v;
		} else if (!strcmp(o, "--format")) {
			a->formats_given = true;
			if (export_parse_formats(v, &a->formats)) {
				fprintf(stderr,
					"punguza: prune: invalid value '%s' "
					"for --format (hf, gguf, hf,gguf)\n",
					v);
				return 2;
			}
		} else if (!strcmp(o, "--recipe")) {
			a->recipe = v;
		} else if (!strcmp(o, "--preset")) {
			a->preset = v;
		} else if (!strcmp(o, "--corpus")) {
			if (add_file(a->corpus, &a->n_corpus, v))
				return 2;
		} else if (!strcmp(o, "--calib")) {
			if (add_file(a->calib, &a->n_calib, v))
				return 2;
		} else if (!strcmp(o, "--heldout")) {
			a->heldout = v;
		} else if (!strcmp(o, "--tokenizer")) {
			a->tok_path = v;
		} else if (!strcmp(o, "--heal-corpus")) {
			if (add_file(a->heal_corpus, &a->n_heal_corpus, v))
				return 2;
		} else if (!strcmp(o, "--heal-steps") ||
			   !strcmp(o, "--heal-tokens") ||
			   !strcmp(o, "--threads")) {
			if (planopts_long(v, 1, LONG_MAX, &n) ||
			    (!strcmp(o, "--threads") && n > 1024))
				return cliopts_bad_value("prune", o, v);
			if (!strcmp(o, "--heal-steps"))
				a->heal_steps = (unsigned long long)n;
			else if (!strcmp(o, "--heal-tokens"))
				a->heal_tokens = (unsigned long long)n;
			else
				a->threads = (int)n;
		} else if (!strcmp(o, "--heal-minutes")) {
			double x;
			if (planopts_double(v, &x) || !(x > 0) || x > 1e6)
				return cliopts_bad_value("prune", o, v);
			a->heal_minutes = x;
		} else if (!strcmp(o, "--ctx")) {
			if (planopts_long(v, 2, 1 << 20, &n))
				return cliopts_bad_value("prune", o, v);
			a->ctx = (int)n;
		} else {
			struct prune_plan scratch;
			prune_plan_init(&scratch);
			int k = planopts_apply(&scratch, "prune", o, v);
			prune_plan_free(&scratch);
			if (k < 0)
				return 2;
			if (k == 0)
				return cliopts_unknown("prune", o);
		}
	}
	if (!a->dir || !a->out) {
		usage(stderr);
		return 2;
	}
	if ((a->heal_steps > 0) + (a->heal_tokens > 0) +
		(a->heal_minutes > 0) >
	    1) {
		fprintf(stderr, "punguza: prune: give one of --heal-steps, "
				"--heal-tokens, --heal-minutes\n");
		return 2;
	}
	if (a->recipe && a->preset) {
		fprintf(stderr, "punguza: prune: give --recipe or --preset, "
				"not both\n");
		return 2;
	}
	return 0;
}

/* Second pass: the knobs over the preset or recipe. */
static int apply_knobs(int argc, char **argv, struct prune_plan *p)
{
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (o[0] != '-' || !strcmp(o, "--force") ||
		    !strcmp(o, "--no-heal"))
			continue;
		if (planopts_is_flag(o)) {
			planopts_apply(p, "prune", o, NULL);
			continue;
		}
		if (i + 1 >= argc)
			break;
		if (planopts_apply(p, "prune", o, argv[++i]) < 0)
			return 2;
	}
	return 0;
}

/* Remembers what this cut measured (prune/history.h), for `punguza plans`
 * and the explorer's Plans screen; a cache that cannot be written only
 * costs a warning. */
static void note_plan(const char *dir, const struct prune_plan *p,
		      const struct config *pruned, const struct prune_effect *fx)
{
	struct history_entry x;
	memset(&x, 0, sizeof x);
	struct err e = {0};
	recipe_init(&x.recipe);
	if (prune_plan_copy(&x.recipe.plan, p, &e) == 0) {
		x.params = config_param_count(pruned);
		x.have_cut = true;
		x.bpb_src = fx->src.bpb;
		x.bpb_cut = fx->dst.bpb;
		x.have_cut_ref = fx->dst.has_ref;
		x.kl_cut = fx->dst.kl_mean;
		x.top1_cut = fx->dst.top1;
		history_note(dir, &x, &e);
	}
	if (e.code)
		fprintf(stderr, "punguza: warning: plan history: %s\n", e.msg);
	recipe_free(&x.recipe);
}

/* Heals the pruned model with the source as the teacher and writes the
 * result (heal.h) instead of a plain export. A recipe's heal section is
 * replayed when no budget is given; its data must have the recorded
 * checksums. */
static int heal_pruned(const struct args *a, const struct recipe *given,
		       const struct model *src, const struct model *pruned,
		       const struct tokenizer *ptok,
		       const struct vocab_keep *keep,
		       const struct export_opts *xo, struct err *e)
{
	struct heal_opts o;
	struct heal_result res;
	struct healcli cli;
	heal_defaults(&o);
	bool replay = !a->heal_steps && !a->heal_tokens && !a->heal_minutes;
	if (replay) {
		o.hp = given->heal;
		if (o.hp.n_data != a->n_heal_corpus)
			return err_set(e, ERR_INVALID,
				       "the recipe's heal read %d corpus files; "
				       "give them with --heal-corpus (%d given)",
				       o.hp.n_data, a->n_heal_corpus);
		for (int i = 0; i < a->n_heal_corpus; i++) {
			char sum[40];
			uint64_t bytes;
			int rc = heal_file_checksum(a->heal_corpus[i], sum,
						    sizeof sum, &bytes, e);
			if (rc)
				return rc;
			if (strcmp(sum, o.hp.data[i].checksum))
				return err_set(e, ERR_INVALID,
					       "'%s' has checksum %s; the "
					       "recipe healed on '%s' with %s",
					       a->heal_corpus[i], sum,
					       o.hp.data[i].name,
					       o.hp.data[i].checksum);
		}
		o.threads = a->threads ? a->threads : o.hp.threads;
	} else {
		o.hp.steps = a->heal_steps;
		o.tokens = a->heal_tokens;
		o.minutes = a->heal_minutes;
		o.threads = a->threads;
	}
	o.student = pruned;
	o.student_tok = ptok;
	o.teacher = src;
	o.vocab_keep = keep ? keep->keep : NULL;
	o.corpus = a->heal_corpus;
	o.n_corpus = a->n_heal_corpus;
	o.heldout = &a->heldout;
	o.n_heldout = a->heldout ? 1 : 0;
	if (a->ctx)
		o.eval_ctx = a->ctx;
	o.out_dir = a->out;
	o.force = a->force;
	o.protect[0] = a->dir;
	o.xo = *xo;
	if (healcli_init(&cli))
		return err_set(e, ERR_NOMEM, "heal: cannot set up");
	o.monitor = &cli.mon;
	struct progress prog = {healcli_progress, &cli};
	int rc = heal_run(&o, &prog, &res, e);
	if (cli.tty)
		fprintf(stderr, "\r\033[K");
	if (!rc) {
		printf("\n");
		healcli_print(&res, a->out);
	}
	healcli_done(&cli);
	return rc;
}

int cmd_prune(int argc, char **argv)
{
	struct args a;
	struct err e = {0};
	struct recipe rec, given;
	struct model *src = NULL, *pruned = NULL;
	struct tokenizer *tok = NULL, *ptok = NULL;
	struct vocab_counts *counts = NULL;
	struct vocab_keep *keep = NULL;
	struct plan_notes notes = {0};
	struct apply_report rep;
	int *calib = NULL, status = 1, rc;
	size_t n_calib = 0;
	char *held = NULL;
	bool tty = isatty(2);
	struct progress prog = {show_progress, tty ? &tty : NULL};
	const struct progress *pp = &prog;
	struct export_notes xnotes = {0};

	rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	recipe_init(&rec);
	recipe_init(&given);
	signals_catch();

	/* the plan */
	if (a.recipe) {
		if (recipe_load(a.recipe, &given, &e)) {
			fprintf(stderr, "punguza: %s\n", e.msg);
			goto out;
		}
		prune_plan_free(&rec.plan);
		if (prune_plan_copy(&rec.plan, &given.plan, &e))
			goto fail;
		if (!a.formats_given && given.formats) /* as it was exported */
			a.formats = given.formats;
	} else if (a.preset) {
		prune_plan_free(&rec.plan);
		if (plan_preset(a.preset, &rec.plan, &e)) {
			fprintf(stderr, "punguza: prune: %s\n", e.msg);
			status = 2;
			goto out;
		}
	}
	if (apply_knobs(argc, argv, &rec.plan)) {
		status = 2;
		goto out;
	}

	/* Refused before any work (export_model checks again). */
	if (out_dir_check(a.out, a.dir, a.force, NULL, &e) ||
	    (a.tok_path &&
	     out_dir_check(a.out, a.tok_path, a.force, NULL, &e)))
		goto fail;

	/* the source */
	rc = model_load(a.dir, &src, pp, &e);
	if (tty)
		fprintf(stderr, "\r\033[K");
	if (rc)
		goto fail;
	if (plan_snap(&rec.plan, &src->cfg, &notes, &e)) {
		fprintf(stderr, "punguza: prune: %s\n", e.msg);
		status = e.code == ERR_INVALID ? 2 : 1;
		goto out;
	}
	struct prune_plan *p = &rec.plan;
	bool need_vocab = p->vocab_mode != PLAN_VOCAB_NONE;
	bool need_calib = p->layer_mode == PLAN_LAYERS_RANK ||
			  p->select == PLAN_SELECT_ACTIVATION;
	bool need_tok = need_vocab || need_calib || a.heldout ||
			(a.formats & EXPORT_GGUF);
	if ((rc = tok_load(a.tok_path ? a.tok_path : a.dir, &tok, &e))) {
		if (need_tok)
			goto fail;
		tok = NULL;
	}

	/* vocabulary */
	struct apply_inputs in = {0};
	if (need_vocab) {
		if (p->vocab_mode == PLAN_VOCAB_LIST) {
			fprintf(stderr, "punguza: prune: an explicit vocabulary "
					"list is not supported here yet; use "
					"--vocab K or --min-count C\n");
			status = 2;
			goto out;
		}
		/* a recipe that records its kept pieces reproduces them
		 * without a corpus, unless the vocabulary knobs changed */
		bool recorded = !a.n_corpus && a.recipe && given.n_kept > 0 &&
				p->vocab_mode == given.plan.vocab_mode &&
				p->vocab_keep == given.plan.vocab_keep &&
				p->vocab_min_count ==
					given.plan.vocab_min_count &&
				p->merge_closure == given.plan.merge_closure;
		if (recorded) {
			if ((rc = recipe_keep(&given, tok_vocab_size(tok),
					      &keep, &e)))
				goto fail;
		} else {
			if (!a.n_corpus) {
				fprintf(stderr,
					"punguza: prune: a vocabulary cut "
					"needs --corpus FILE (text to count "
					"tokens on)\n");
				status = 2;
				goto out;
			}
			rc = vocab_count_files(tok, a.corpus,
					       (size_t)a.n_corpus, NULL,
					       &counts, pp, &e);
			if (tty)
				fprintf(stderr, "\r\033[K");
			if (rc)
				goto fail;
			rc = p->vocab_mode == PLAN_VOCAB_TOP_K
				 ? vocab_keep_top_k(tok, counts, p->vocab_keep,
						    p->merge_closure, &keep, &e)
				 : vocab_keep_min_count(
					   tok, counts,
					   (uint64_t)p->vocab_min_count,
					   p->merge_closure, &keep, &e);
			if (rc)
				goto fail;
		}
		if ((rc = recipe_set_kept(&rec, keep->keep, keep->n_keep, &e)))
			goto fail;
		in.keep = keep;
	}
	if (need_calib) {
		const char *const *files = a.n_calib ? a.calib : a.corpus;
		int nf = a.n_calib ? a.n_calib : a.n_corpus;
		if (!nf) {
			fprintf(stderr, "punguza: prune: --select activation "
					"and --rank-layers need --calib FILE\n");
			status = 2;
			goto out;
		}
		if ((rc = calib_text_encode(tok, files, nf, CALIB_MAX_TOKENS,
					      &calib, &n_calib, &e)))
			goto fail;
		in.calib = calib;
		in.n_calib = n_calib;
	}

	/* apply */
	rc = prune_apply(src, tok, p, &in, &pruned, &ptok, &rep, pp, &e);
	if (tty)
		fprintf(stderr, "\r\033[K");
	if (rc)
		goto fail;
	for (int i = 0; i < notes.n; i++)
		fprintf(stderr, "note: %s\n", notes.text[i]);
	geometry("source", &src->cfg);
	geometry("pruned", &pruned->cfg);
	printf("%-9s %.2f%% of the source's parameters\n", "",
	       plan_pct(config_param_count(&pruned->cfg),
			config_param_count(&src->cfg)));
	printf("%-9s %s; layers kept:", "select", rep.select_desc);
	for (int i = 0; i < rep.n_layers_kept && i < 64; i++)
		printf(" %d", rep.layers[i]);
	printf("\n");
	if (rep.ranked) {
		printf("%-9s", "influence");
		for (int i = 0; i < rep.n_layer_scores; i++)
			printf(" %d:%.4f", i, rep.layer_score[i]);
		printf(" (1 - cos(in, out))\n");
	}
	if (keep)
		printf("%-9s %d pieces kept (%d forced, %d by closure), "
		       "coverage %.2f%% of %llu counted tokens\n",
		       "vocab", keep->n_keep, keep->n_forced, keep->n_closure,
		       100 * keep->coverage,
		       (unsigned long long)keep->tokens);
	printf("%-9s %.1f MB made, %.1f MB borrowed from the source\n",
	       "memory", rep.owned_bytes / 1e6, rep.borrowed_bytes / 1e6);

	/* measured effect */
	if (a.heldout) {
		size_t len;
		struct prune_effect fx;
		struct eval_opts eo, *eop = NULL;
		if ((rc = file_read_all(a.heldout, TEXT_MAX, &held, &len, &e)))
			goto fail;
		if (a.ctx) {
			eval_defaults(&eo);
			eo.ctx = a.ctx;
			eo.stride = a.ctx / 2 > 0 ? a.ctx / 2 : 1;
			eo.prog = pp;
			eop = &eo;
		}
		rc = prune_measure(src, tok, pruned, ptok, held, len, eop, &fx,
				   &e);
		if (tty)
			fprintf(stderr, "\r\033[K");
		if (rc)
			goto fail;
		print_effect(a.heldout, &fx);
		note_plan(a.dir, p, &pruned->cfg, &fx);
	}

	/* export, with the recipe */
	char name[256];
	path_base_name(a.dir, name, sizeof name);
	snprintf(rec.source_name, sizeof rec.source_name, "%s", name);
	rc = export_source_checksum(src, rec.source_checksum,
				    sizeof rec.source_checksum, pp, &e);
	if (tty)
		fprintf(stderr, "\r\033[K");
	if (rc)
		goto fail;
	if (a.recipe && given.source_checksum[0] &&
	    strcmp(given.source_checksum, rec.source_checksum))
		fprintf(stderr,
			"punguza: prune: warning: the recipe was made from a "
			"source with checksum %s; this one is %s\n",
			given.source_checksum, rec.source_checksum);
	recipe_set_counts(&rec, &pruned->cfg);
	rec.formats = a.formats;
	struct export_opts xo = {.src_dir = a.dir,
				 .out_dir = a.out,
				 .formats = a.formats,
				 .dtype = p->export_dtype,
				 .force = a.force,
				 .recipe = &rec,
				 .tok = ptok ? ptok : tok,
				 .src_tok = keep ? tok : NULL,
				 .keep = keep,
				 .name = name,
				 .notes = &xnotes};
	bool heal = a.heal_steps || a.heal_tokens || a.heal_minutes ||
		    (given.have_heal && !a.no_heal);
	if (heal) {
		rc = heal_pruned(&a, &given, src, pruned, ptok ? ptok : tok,
				 keep, &xo, &e);
		if (rc == ERR_CANCELLED) {
			status = healcli_signal_status();
			status = status ? status : 1;
			fprintf(stderr, "punguza: %s\n", e.msg);
			goto out;
		}
	} else {
		rc = export_model(pruned, &xo, pp, &e);
	}
	if (tty)
		fprintf(stderr, "\r\033[K");
	for (int i = 0; i < xnotes.n; i++)
		fprintf(stderr, "punguza: prune: %s\n", xnotes.text[i]);
	if (rc)
		goto fail;
	printf("\nwrote %s (%s%s%s, %s)\n", a.out,
	       a.formats & EXPORT_HF ? "hf" : "",
	       a.formats == (EXPORT_HF | EXPORT_GGUF) ? " + " : "",
	       a.formats & EXPORT_GGUF ? "gguf" : "",
	       dtype_name(p->export_dtype));
	status = 0;
	goto out;
fail:
	fprintf(stderr, "punguza: %s\n", e.msg);
	status = e.code == ERR_INVALID ? 2 : 1;
out:
	free(held);
	free(calib);
	vocab_keep_free(keep);
	vocab_counts_free(counts);
	tok_free(ptok);
	tok_free(tok);
	model_free(pruned);
	model_free(src);
	recipe_free(&given);
	recipe_free(&rec);
	signals_finish();
	return status;
}
