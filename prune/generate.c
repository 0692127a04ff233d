/* generate — the generation loop (see generate.h). */
#include "generate.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void gen_defaults(struct gen_opts *o)
{
	memset(o, 0, sizeof *o);
	o->max_new = 64;
	sampler_defaults(&o->sampler);
	o->stop_at_newline = false;
	o->skip_special = true;
	o->strict_context = false;
}

int gen_eos_id(const struct model *m, const struct tokenizer *t)
{
	int eos = t ? tok_eos_id(t) : -1;
	return eos >= 0 ? eos : m->cfg.eos_token_id;
}

/* Where the text goes: the caller's sink, cut at a newline on request. */
struct sink {
	gen_text_fn fn;
	void *ctx;
	bool stop_at_newline;
	bool hit_newline, cancelled;
};

/* Emits s[0..n); returns non-zero when the generation must stop. */
static int sink_put(struct sink *k, const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (k->stop_at_newline) {
		const char *nl = memchr(s, '\n', n);
		if (nl) {
			k->hit_newline = true;
			n = (size_t)(nl - s);
		}
	}
	if (n && k->fn && k->fn(k->ctx, s, n))
		k->cancelled = true;
	return k->hit_newline || k->cancelled;
}

static int validate(const struct model *m, const struct tokenizer *t,
		    const struct gen_opts *o, struct err *e)
{
	if (o->max_new < 0)
		return err_set(e, ERR_INVALID, "max_new %d is negative",
			       o->max_new);
	int rc = sampler_opts_check(&o->sampler, e);
	if (rc)
		return rc;
	if (t && tok_vocab_size(t) > m->cfg.vocab_size)
		return err_set(e, ERR_INVALID,
			       "the tokenizer has %d ids but the model only %d",
			       tok_vocab_size(t), m->cfg.vocab_size);
	return 0;
}

/* The context left for generation: clamps *max_new. */
static int fit_context(size_t n, int ctx, const struct gen_opts *o,
		       int *max_new, struct gen_stats *st, struct err *e)
{
	if (n == 0)
		return err_set(e, ERR_INVALID,
			       "the prompt encodes to no tokens");
	if (n >= (size_t)ctx)
		return err_set(e, ERR_INVALID,
			       "the prompt's %zu tokens fill the model's "
			       "%d-position context",
			       n, ctx);
	*max_new = o->max_new;
	if (*max_new > ctx - (int)n) {
		if (o->strict_context)
			return err_set(e, ERR_INVALID,
				       "the prompt's %zu tokens and %d new "
				       "ones exceed the %d-position context",
				       n, o->max_new, ctx);
		*max_new = ctx - (int)n;
		st->clamped = true;
	}
	st->max_new = *max_new;
	return 0;
}

/* Appends id to a growing array. */
static int push_id(int **a, size_t *n, size_t *cap, int id, struct err *e)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		int *p = realloc(*a, c * sizeof *p);
		if (!p)
			return err_set(e, ERR_NOMEM, "out of memory");
		*a = p;
		*cap = c;
	}
	(*a)[(*n)++] = id;
	return 0;
}

/* The loop on a state already holding the prompt (fs->logits = its last
 * position's logits). */
static int decode_loop(struct fwd_state *fs, const struct tokenizer *t,
		       struct sampler *sm, int max_new, int eos,
		       bool skip_special, bool after_text, struct sink *k,
		       struct gen_stats *st, int **out_ids, size_t *n_out,
		       struct err *e)
{
	struct tok_stream ts;
	tok_stream_init(&ts, skip_special);
	/* The text continues the prompt's: the decoder's "strip one leading
	 * space" applies only at the very start of the text. */
	ts.cont = after_text;
	char buf[256];
	size_t len, cap = 0;
	int rc = 0;
	bool stop = false;
	int nl_id = t ? tok_byte_id(t, '\n') : -1;
	for (int i = 0; i < max_new && !stop; i++) {
		int tok = sampler_sample(sm, fs->logits);
		if (tok == eos) {
			st->hit_eos = true;
			break;
		}
		st->new_tokens++;
		if (out_ids && (rc = push_id(out_ids, n_out, &cap, tok, e)))
			break;
		if (!t) {
			/* No tokenizer: ids only. */
		} else if ((rc = tok_stream_push(t, &ts, tok, buf, sizeof buf,
						 &len, e))) {
			break;
		} else {
			stop = sink_put(k, buf, len);
		}
		/* A piece longer than buf: the rest is already final. */
		while (t && !stop && len == sizeof buf) {
			if ((rc = tok_stream_next(t, &ts, buf, sizeof buf,
						  &len, e)))
				break;
			stop = sink_put(k, buf, len);
		}
		if (rc || stop)
			break;
		/* A newline byte piece is held back by the decoder (a byte
		 * run): end here rather than at the next non-byte piece. */
		if (k->stop_at_newline && tok == nl_id) {
			k->hit_newline = true;
			break;
		}
		if (i + 1 < max_new && (rc = fwd_run(fs, &tok, 1, NULL, e)))
			break;
	}
	/* The held-back rest (cut at the newline by sink_put). */
	bool newline = k->hit_newline;
	k->hit_newline = false;
	while (t && !rc && !stop) {
		if ((rc = tok_stream_flush(t, &ts, buf, sizeof buf, &len, e)) ||
		    len == 0)
			break;
		stop = sink_put(k, buf, len);
	}
	k->hit_newline |= newline;
	tok_stream_free(&ts);
	return rc;
}

int gen_ids_state(struct fwd_state *fs, const struct tokenizer *t,
		  const int *ids, size_t n, const struct gen_opts *o,
		  gen_text_fn on_text, void *ctx, struct gen_stats *st,
		  int **out_ids, size_t *n_out, struct err *e)
{
	struct gen_stats dummy;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof *st);
	if (out_ids) {
		*out_ids = NULL;
		*n_out = 0;
	}
	const struct model *m = fs->m;
	int rc = validate(m, t, o, e);
	if (rc)
		return rc;
	int max_new;
	if ((rc = fit_context(n, m->cfg.max_position_embeddings, o, &max_new,
			      st, e)))
		return rc;
	/* The state holds the prompt and every new token but the last. */
	if (n > (size_t)fs->max_pos)
		return err_set(e, ERR_INVALID,
			       "the prompt's %zu tokens exceed the state's %d "
			       "positions",
			       n, fs->max_pos);
	if (max_new > fs->max_pos - (int)n + 1) {
		if (o->strict_context)
			return err_set(e, ERR_INVALID,
				       "the prompt's %zu tokens and %d new "
				       "ones exceed the state's %d positions",
				       n, max_new, fs->max_pos);
		max_new = fs->max_pos - (int)n + 1;
		st->clamped = true;
		st->max_new = max_new;
	}
	st->prompt_tokens = (int)n;
	struct sampler *sm = NULL;
	if ((rc = sampler_new(m->cfg.vocab_size, &o->sampler, &sm, e)))
		return rc;
	sampler_observe(sm, ids, n);
	fwd_reset(fs);
	double t0 = now();
	if ((rc = fwd_run(fs, ids, (int)n, NULL, e)))
		goto out;
	double t1 = now();
	st->prompt_seconds = t1 - t0;
	/* Does the prompt decode to any text (not just BOS)? */
	bool after_text = false;
	if (t) {
		char *pt = NULL;
		size_t pl = 0;
		if ((rc = tok_decode(t, ids, n, o->skip_special, &pt, &pl, e)))
			goto out;
		after_text = pl > 0;
		free(pt);
	}
	struct sink k = {on_text, ctx, o->stop_at_newline, false, false};
	rc = decode_loop(fs, t, sm, max_new, gen_eos_id(m, t), o->skip_special,
			 after_text, &k, st, out_ids, n_out, e);
	st->gen_seconds = now() - t1;
	st->hit_newline = k.hit_newline;
	st->cancelled = k.cancelled;
out:
	sampler_free(sm);
	if (rc && out_ids) {
		free(*out_ids);
		*out_ids = NULL;
		*n_out = 0;
	}
	return rc;
}

int gen_ids(const struct model *m, const struct tokenizer *t, const int *ids,
	    size_t n, const struct gen_opts *o, gen_text_fn on_text, void *ctx,
	    struct gen_stats *st, struct err *e)
{
	struct gen_stats dummy;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof *st);
	int rc = validate(m, t, o, e), max_new;
	if (rc || (rc = fit_context(n, m->cfg.max_position_embeddings, o,
				    &max_new, st, e)))
		return rc;
	struct fwd_state *fs = NULL;
	if ((rc = fwd_new(m, (int)n + max_new, 0, &fs, e)))
		return rc;
	rc = gen_ids_state(fs, t, ids, n, o, on_text, ctx, st, NULL, NULL, e);
	fwd_free(fs);
	return rc;
}

int gen_run(const struct model *m, const struct tokenizer *t,
	    const char *prompt, size_t len, const struct gen_opts *o,
	    gen_text_fn on_text, void *ctx, struct gen_stats *st,
	    struct err *e)
{
	int *ids = NULL;
	size_t n = 0;
	int rc = tok_encode(t, prompt, len, true, &ids, &n, e);
	if (!rc)
		rc = gen_ids(m, t, ids, n, o, on_text, ctx, st, e);
	free(ids);
	return rc;
}
