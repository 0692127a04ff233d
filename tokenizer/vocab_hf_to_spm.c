/* vocab_hf_to_spm — tokenizer.json -> SentencePiece (vocab_hf_to_spm.h). */
#include "vocab_hf_to_spm.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tok_impl.h"

struct pbw {
	unsigned char *p;
	size_t n, cap;
	bool oom;
};

static void pbw_bytes(struct pbw *w, const void *d, size_t n)
{
	if (w->oom)
		return;
	if (w->n + n > w->cap) {
		size_t c = w->cap ? w->cap : 4096;
		while (c < w->n + n)
			c *= 2;
		unsigned char *q = realloc(w->p, c);
		if (!q) {
			w->oom = true;
			return;
		}
		w->p = q;
		w->cap = c;
	}
	memcpy(w->p + w->n, d, n);
	w->n += n;
}

static void pbw_varint(struct pbw *w, uint64_t v)
{
	unsigned char b[10];
	size_t n = 0;
	do {
		b[n] = (unsigned char)(v & 0x7F);
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	pbw_bytes(w, b, n);
}

static void pbw_key(struct pbw *w, unsigned num, unsigned wt)
{
	pbw_varint(w, (uint64_t)num << 3 | wt);
}

static void pbw_int(struct pbw *w, unsigned num, int v)
{
	pbw_key(w, num, 0);
	pbw_varint(w, (uint64_t)(int64_t)v); /* int32: negatives sign-extend */
}

static void pbw_len(struct pbw *w, unsigned num, const void *d, size_t n)
{
	pbw_key(w, num, 2);
	pbw_varint(w, n);
	pbw_bytes(w, d, n);
}

static void pbw_float(struct pbw *w, unsigned num, float f)
{
	uint32_t u;
	unsigned char b[4];
	memcpy(&u, &f, 4);
	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(u >> (8 * i));
	pbw_key(w, num, 5);
	pbw_bytes(w, b, 4);
}

/* The normalizer is [Prepend "▁"]? + Replace " " -> "▁" and there is no
 * pre-tokenizer: what SentencePiece (identity rules, no whitespace
 * cleanup) does, with or without a dummy prefix. */
static int hf_spm_compatible(const struct tokenizer *t, bool *prefix)
{
	const char *ms = "\xe2\x96\x81";
	int repl = 0, pre = 0;
	if (t->pretok.kind != PRETOK_NONE)
		return 0;
	for (size_t i = 0; i < t->norm.n; i++) {
		const struct norm_op *op = &t->norm.ops[i];
		if (op->kind == NORM_PREPEND && op->a_len == 3 &&
		    !memcmp(op->a, ms, 3))
			pre++;
		else if (op->kind == NORM_REPLACE && op->a_len == 1 &&
			 op->a[0] == ' ' && op->b_len == 3 &&
			 !memcmp(op->b, ms, 3))
			repl++;
		else
			return 0;
	}
	*prefix = pre == 1;
	return repl == 1 && pre <= 1;
}

int vocab_hf_to_spm_model(const struct tokenizer *t, unsigned char **out,
			  size_t *len, struct err *e)
{
	*out = NULL;
	*len = 0;
	bool prefix = false;
	if (t->kind != TOK_HF_BPE || !hf_spm_compatible(t, &prefix))
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': only a BPE tokenizer.json with no "
			       "pre-tokenizer and the normalizer [Prepend "
			       "\"\xe2\x96\x81\"] Replace \" \" -> "
			       "\"\xe2\x96\x81\" converts to a tokenizer.model",
			       t->path);
	int n = tok_vocab_size(t);
	size_t nm = tok_merge_count(t);
	if (tok_unk_id(t) < 0)
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': a tokenizer.model needs an unk piece",
			       t->path);
	for (int id = 0; id < n; id++)
		if (!tok_piece(t, id, NULL))
			return err_set(e, ERR_UNSUPPORTED,
				       "'%s': id %d has no piece", t->path, id);
	/* score: minus the rank of the first merge making the piece */
	float *score = malloc((size_t)n * sizeof *score);
	if (!score)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (int id = 0; id < n; id++)
		score[id] = -(float)(nm + (size_t)id) - 1.0f;
	for (size_t r = nm; r-- > 0;) {
		int a, b, c;
		tok_merge(t, r, &a, &b, &c);
		score[c] = -(float)r;
	}
	struct pbw w = {0}, sub = {0};
	for (int id = 0; id < n; id++) {
		size_t l;
		const char *s = tok_piece(t, id, &l);
		int type = 1; /* NORMAL */
		if (id == tok_unk_id(t))
			type = 2;
		else if (tok_is_byte(t, id))
			type = 6;
		else if (tok_is_special(t, id))
			type = 3;
		else if (tok_is_added(t, id))
			type = 4;
		sub.n = 0;
		pbw_len(&sub, 1, s, l);
		pbw_float(&sub, 2, type == 1 ? score[id] : 0.0f);
		pbw_int(&sub, 3, type);
		pbw_len(&w, 1, sub.p, sub.n);
	}
	free(score);
	/* trainer_spec: model_type BPE, vocab_size, byte_fallback, ids */
	sub.n = 0;
	pbw_int(&sub, 3, 2);
	pbw_int(&sub, 4, n);
	pbw_int(&sub, 35, t->bpe.byte_fallback);
	pbw_int(&sub, 40, tok_unk_id(t));
	pbw_int(&sub, 41, tok_bos_id(t));
	pbw_int(&sub, 42, tok_eos_id(t));
	pbw_int(&sub, 43, -1);
	pbw_len(&w, 2, sub.p, sub.n);
	/* normalizer_spec: identity, all three flags explicit (their proto
	 * defaults are true) */
	sub.n = 0;
	pbw_len(&sub, 1, "identity", 8);
	pbw_int(&sub, 3, prefix);
	pbw_int(&sub, 4, 0);
	pbw_int(&sub, 5, 1);
	pbw_len(&w, 3, sub.p, sub.n);
	free(sub.p);
	if (w.oom || sub.oom) {
		free(w.p);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	*out = w.p;
	*len = w.n;
	return 0;
}
