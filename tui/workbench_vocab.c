/* workbench_vocab — the count task and the Vocabulary screen's figures
 * (wb_vocab_preview). See workbench.h. */
#include "workbench_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "tokenizer.h"
#include "vocab.h"

static int count_fn(void *arg, const struct progress *prog, struct err *e)
{
	struct task_ctx *t = arg;
	struct workbench *wb = t->wb;
	return vocab_count_files(wb->tok, (const char *const *)wb->corpus,
				 (size_t)wb->n_corpus, NULL, &t->counts, prog,
				 e);
}

int wb_start_count(struct workbench *wb, struct err *e)
{
	if (wb->counts)
		return 0;
	if (!wb->tok)
		return err_set(e, ERR_INVALID, "no tokenizer: %s", wb->tok_note);
	if (wb->n_corpus == 0)
		return err_set(e, ERR_INVALID, "no corpus to count");
	if (wb->task_kind != WB_TASK_NONE)
		return err_set(e, ERR_INVALID, "another task is running");
	struct task_ctx *t = calloc(1, sizeof *t);
	if (!t)
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	t->wb = wb;
	return wb_task_launch(wb, WB_TASK_COUNT, t, count_fn, e);
}

void wb_preview_free(struct wb_vocab_preview *p)
{
	if (!p)
		return;
	vocab_keep_free(p->keep);
	tok_free(p->tok);
	free(p->sample_text);
	free(p->split_before);
	free(p->split_after);
	free(p);
}

/* Reads up to 40 non-empty lines from the corpus files, alternating. */
static int load_samples(struct workbench *wb, struct err *e)
{
	if (wb->samples)
		return 0;
	wb->samples = calloc(40, sizeof *wb->samples);
	if (!wb->samples)
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	for (int f = 0; f < wb->n_corpus; f++) {
		char *text;
		size_t len;
		int rc = file_read_all(wb->corpus[f], 256u << 20, &text, &len, e);
		if (rc)
			return rc;
		char *p = text, *end = text + len;
		int taken = 0;
		while (p < end && wb->n_samples < 40 &&
		       taken < 40 / (wb->n_corpus ? wb->n_corpus : 1)) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
			/* a sentence, not a heading in capitals */
			bool lower = false;
			for (size_t i = 0; i < ll && !lower; i++)
				lower = p[i] >= 'a' && p[i] <= 'z';
			if (ll > 20 && ll < 400 && lower) {
				char *line = malloc(ll + 1);
				if (!line) {
					free(text);
					return err_set(e, ERR_NOMEM,
						       "workbench: out of memory");
				}
				memcpy(line, p, ll);
				line[ll] = '\0';
				wb->samples[wb->n_samples++] = line;
				taken++;
			}
			p += ll + 1;
		}
		free(text);
	}
	return 0;
}

/* The pieces of text under tok, joined by '|' (malloc'd). */
static char *split_pieces(const struct tokenizer *tok, const char *text,
			  int *n_tokens, struct err *e)
{
	int *ids = NULL;
	size_t n = 0;
	if (tok_encode(tok, text, strlen(text), false, &ids, &n, e))
		return NULL;
	size_t cap = 1;
	for (size_t i = 0; i < n; i++) {
		size_t pl;
		tok_piece(tok, ids[i], &pl);
		cap += pl + 1;
	}
	char *out = malloc(cap);
	if (out) {
		size_t o = 0;
		for (size_t i = 0; i < n; i++) {
			size_t pl;
			const char *pc = tok_piece(tok, ids[i], &pl);
			if (i)
				out[o++] = '|';
			memcpy(out + o, pc, pl);
			o += pl;
		}
		out[o] = '\0';
	}
	*n_tokens = (int)n;
	free(ids);
	return out;
}

/* Tokens per word of the first WB_TPW_BYTES of the corpus under tok. */
static int corpus_tpw(const struct workbench *wb, const struct tokenizer *tok,
		      double *tpw, uint64_t *bytes_used, struct err *e)
{
	struct vocab_counts *c = NULL;
	struct vocab_count_opts o = {.format = VOCAB_TEXT,
				     .max_bytes = WB_TPW_BYTES};
	int rc = vocab_count_files(tok, (const char *const *)wb->corpus,
				   (size_t)wb->n_corpus, &o, &c, NULL, e);
	if (rc)
		return rc;
	*tpw = c->words ? (double)c->tokens / (double)c->words : 0;
	*bytes_used = c->bytes;
	vocab_counts_free(c);
	return 0;
}

int wb_vocab_preview(struct workbench *wb, int sample,
		     const struct wb_vocab_preview **out, struct err *e)
{
	*out = NULL;
	if (!wb->counts)
		return err_set(e, ERR_INVALID, "the corpus is not counted yet");
	int rc = load_samples(wb, e);
	if (rc)
		return rc;
	int k = wb->plan.vocab_mode == PLAN_VOCAB_NONE ? wb->src.vocab_size
						       : wb->est.cfg.vocab_size;
	bool closure = wb->plan.merge_closure;
	if (wb->n_samples)
		sample = ((sample % wb->n_samples) + wb->n_samples) %
			 wb->n_samples;
	struct wb_vocab_preview *p = wb->preview;
	if (p && p->k == k && p->closure == closure && p->sample == sample) {
		*out = p;
		return 0;
	}
	p = calloc(1, sizeof *p);
	if (!p)
		return err_set(e, ERR_NOMEM, "workbench: out of memory");
	p->k = k;
	p->closure = closure;
	p->sample = sample;
	if ((rc = vocab_keep_top_k(wb->tok, wb->counts, k, closure, &p->keep,
				   e)) ||
	    (rc = vocab_rewrite(wb->tok, p->keep, &p->tok, e)) ||
	    (rc = corpus_tpw(wb, p->tok, &p->tpw_after, &p->tpw_bytes, e)))
		goto fail;
	/* the source tokenizer's figure does not depend on K: count it once */
	if (!(wb->tpw_source > 0) &&
	    (rc = corpus_tpw(wb, wb->tok, &wb->tpw_source, &p->tpw_bytes, e)))
		goto fail;
	p->tpw_before = wb->tpw_source;
	if (wb->n_samples) {
		const char *s = wb->samples[sample];
		if (!(p->sample_text = strdup(s)) ||
		    !(p->split_before = split_pieces(wb->tok, s, &p->n_before, e)) ||
		    !(p->split_after = split_pieces(p->tok, s, &p->n_after, e))) {
			rc = e && e->code ? e->code : ERR_NOMEM;
			goto fail;
		}
	}
	wb_preview_free(wb->preview);
	wb->preview = p;
	*out = p;
	return 0;
fail:
	wb_preview_free(p);
	return rc ? rc : err_set(e, ERR_NOMEM, "workbench: out of memory");
}
