/*
 * tok_decode — ids to text (tokenizer.h): tok_decode runs the pieces
 * through tokenizer.json's decoder chain (or spm_decode for a
 * tokenizer.model), and the streaming decoder (tok_stream_*) decodes a
 * window of the ids so far and returns only the text later ids cannot
 * change.
 */
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "tok_impl.h"
#include "tokenizer.h"

/* --- decode ----------------------------------------------------------- */

struct tstr {
	char *p;
	size_t n;
};

struct tlist {
	struct tstr *v;
	size_t n, cap;
};

static void tlist_free(struct tlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].p);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int tlist_push(struct tlist *l, const char *s, size_t n)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct tstr *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	char *p = malloc(n + 1);
	if (!p)
		return -1;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	l->v[l->n++] = (struct tstr){p, n};
	return 0;
}

/* ByteFallback's test: exactly "<0x" + 2 chars + ">" that Rust's
 * u8::from_str_radix(.., 16) accepts (which allows a leading '+'). */
static int byte_piece(const char *s, size_t n)
{
	if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>')
		return -1;
	int h = hex_digit(s[3]), l = hex_digit(s[4]);
	if (s[3] == '+' && l >= 0)
		return l;
	if (h < 0 || l < 0)
		return -1;
	return h * 16 + l;
}

static int tstr_replace(struct tstr *t, const char *a, size_t al,
			const char *b, size_t bl)
{
	size_t count = 0;
	for (size_t i = 0; i + al <= t->n;)
		if (!memcmp(t->p + i, a, al)) {
			count++;
			i += al;
		} else {
			i++;
		}
	if (!count)
		return 0;
	size_t n = t->n - count * al + count * bl;
	char *p = malloc(n + 1), *o = p;
	if (!p)
		return -1;
	for (size_t i = 0; i < t->n;) {
		if (i + al <= t->n && !memcmp(t->p + i, a, al)) {
			memcpy(o, b, bl);
			o += bl;
			i += al;
		} else {
			*o++ = t->p[i++];
		}
	}
	*o = '\0';
	free(t->p);
	t->p = p;
	t->n = n;
	return 0;
}

static bool utf8_all_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t l = utf8_valid_len((const unsigned char *)s + i, n - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

static int flush_bytes(struct tlist *out, const char *run, size_t n)
{
	if (!n)
		return 0;
	if (utf8_all_valid(run, n))
		return tlist_push(out, run, n);
	for (size_t i = 0; i < n; i++)
		if (tlist_push(out, "\xEF\xBF\xBD", 3))
			return -1;
	return 0;
}

static int dec_byte_fallback(struct tlist *l)
{
	struct tlist out = {0};
	char *run = malloc(l->n + 1);
	size_t rn = 0;
	int rc = run ? 0 : -1;
	for (size_t i = 0; i < l->n && !rc; i++) {
		int b = byte_piece(l->v[i].p, l->v[i].n);
		if (b >= 0) {
			run[rn++] = (char)b;
			continue;
		}
		rc = flush_bytes(&out, run, rn);
		rn = 0;
		if (!rc)
			rc = tlist_push(&out, l->v[i].p, l->v[i].n);
	}
	if (!rc)
		rc = flush_bytes(&out, run, rn);
	free(run);
	if (rc) {
		tlist_free(&out);
		return -1;
	}
	tlist_free(l);
	*l = out;
	return 0;
}

static int dec_fuse(struct tlist *l)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += l->v[i].n;
	char *p = malloc(n + 1);
	if (!p)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < l->n; i++) {
		memcpy(p + o, l->v[i].p, l->v[i].n);
		o += l->v[i].n;
	}
	p[o] = '\0';
	tlist_free(l);
	l->v = malloc(sizeof *l->v);
	if (!l->v) {
		free(p);
		return -1;
	}
	l->v[0] = (struct tstr){p, n};
	l->n = l->cap = 1;
	return 0;
}

static void dec_strip(const struct tok_dec_op *op, struct tstr *t,
		      bool do_start, bool do_stop)
{
	const char *c = op->repl;
	size_t cl = op->repl_len, a = 0, b = t->n, k;
	size_t nchars = 0, cut_chars = 0;
	for (size_t i = 0; i < t->n; i += k, nchars++)
		utf8_decode((const unsigned char *)t->p + i, &k);
	if (do_start)
		for (size_t i = 0; i < op->start && a + cl <= t->n &&
				   !memcmp(t->p + a, c, cl);
		     i++) {
			a += cl;
			cut_chars++;
		}
	if (do_stop) {
		size_t lim = op->stop < nchars - cut_chars ? op->stop
							    : nchars - cut_chars;
		for (size_t i = 0; i < lim && b >= a + cl &&
				   !memcmp(t->p + b - cl, c, cl);
		     i++)
			b -= cl;
	}
	memmove(t->p, t->p + a, b - a);
	t->n = b - a;
	t->p[t->n] = '\0';
}

static int dec_metaspace(const struct tok_dec_op *op, struct tlist *l,
			 bool cont)
{
	for (size_t i = 0; i < l->n; i++) {
		bool drop = i == 0 && !cont && op->prepend != PREPEND_NEVER;
		if (tstr_replace(&l->v[i], op->repl, op->repl_len, drop ? "" : " ",
				 drop ? 0 : 1))
			return -1;
	}
	return 0;
}

/* Decodes ids. cont: the ids continue earlier output (no "first token"
 * effects). partial: more ids may follow (Strip's stop is not applied to
 * a fused text). */
/* SentencePiece: ids out of range dropped, control pieces vanish (its
 * decoder drops them whatever skip_special says). cont: decode after the
 * sentinel piece and cut its text off, so that a window decodes as the
 * continuation of earlier text (no leading-U+2581 rule). */
static int spm_decode_impl(const struct tokenizer *t, const int *ids,
			   size_t n, bool cont, char **out, size_t *out_len,
			   struct err *e)
{
	int *v = malloc((n + 1) * sizeof *v);
	size_t k = 0, cut = 0;
	if (!v)
		return err_set(e, ERR_NOMEM, "out of memory decoding %zu ids", n);
	if (cont && t->spm_sentinel >= 0) {
		v[k++] = t->spm_sentinel;
		spm_piece(t->spm, t->spm_sentinel, &cut);
	}
	for (size_t i = 0; i < n; i++)
		if (ids[i] >= 0 && ids[i] < t->bpe.n_vocab)
			v[k++] = ids[i];
	int rc = spm_decode(t->spm, v, k, out, out_len, e);
	free(v);
	if (rc)
		return rc;
	if (cut) {
		memmove(*out, *out + cut, *out_len - cut + 1);
		*out_len -= cut;
	}
	return 0;
}

static int decode_impl(const struct tokenizer *t, const int *ids, size_t n,
		       bool skip_special, bool cont, bool partial, char **out,
		       size_t *out_len, struct err *e)
{
	if (t->kind == TOK_SPM)
		return spm_decode_impl(t, ids, n, cont, out, out_len, e);
	struct tlist l = {0};
	const struct bpe *b = &t->bpe;
	*out = NULL;
	*out_len = 0;
	for (size_t i = 0; i < n; i++) {
		int id = ids[i];
		if (id < 0 || id >= b->n_vocab ||
		    !(b->flags[id] & BPE_PIECE_PRESENT))
			continue;
		if (skip_special && (b->flags[id] & BPE_PIECE_SPECIAL))
			continue;
		if (tlist_push(&l, b->arena + b->piece_off[id], b->piece_len[id]))
			goto nomem;
	}
	bool fused = false;
	if (!t->has_decoder) {
		/* the reference joins the pieces with ' ' */
		size_t total = 0;
		for (size_t i = 0; i < l.n; i++)
			total += l.v[i].n + 1;
		char *p = malloc(total + 2), *o = p;
		if (!p)
			goto nomem;
		for (size_t i = 0; i < l.n; i++) {
			if (i > 0 || cont)
				*o++ = ' ';
			memcpy(o, l.v[i].p, l.v[i].n);
			o += l.v[i].n;
		}
		*o = '\0';
		tlist_free(&l);
		*out = p;
		*out_len = (size_t)(o - p);
		return 0;
	}
	for (size_t k = 0; k < t->n_dec; k++) {
		const struct tok_dec_op *op = &t->dec[k];
		int rc = 0;
		switch (op->kind) {
		case DEC_REPLACE:
			for (size_t i = 0; i < l.n && !rc; i++)
				rc = tstr_replace(&l.v[i], op->a, op->a_len, op->b,
						  op->b_len);
			break;
		case DEC_BYTE_FALLBACK:
			rc = dec_byte_fallback(&l);
			break;
		case DEC_FUSE:
			rc = dec_fuse(&l);
			fused = true;
			break;
		case DEC_STRIP:
			for (size_t i = 0; i < l.n; i++)
				dec_strip(op, &l.v[i], !(fused && cont),
					  !(fused && partial));
			break;
		case DEC_METASPACE:
			rc = dec_metaspace(op, &l, cont);
			break;
		}
		if (rc)
			goto nomem;
	}
	size_t total = 0;
	for (size_t i = 0; i < l.n; i++)
		total += l.v[i].n;
	char *p = malloc(total + 1);
	if (!p)
		goto nomem;
	size_t o = 0;
	for (size_t i = 0; i < l.n; i++) {
		memcpy(p + o, l.v[i].p, l.v[i].n);
		o += l.v[i].n;
	}
	p[o] = '\0';
	tlist_free(&l);
	*out = p;
	*out_len = o;
	return 0;
nomem:
	tlist_free(&l);
	return err_set(e, ERR_NOMEM, "out of memory decoding %zu ids", n);
}

int tok_decode(const struct tokenizer *t, const int *ids, size_t n,
	       bool skip_special, char **out, size_t *len, struct err *e)
{
	return decode_impl(t, ids, n, skip_special, false, false, out, len, e);
}

/* --- streaming decode ------------------------------------------------- */

void tok_stream_init(struct tok_stream *s, bool skip_special)
{
	memset(s, 0, sizeof *s);
	s->skip_special = skip_special;
}

void tok_stream_free(struct tok_stream *s)
{
	if (!s)
		return;
	free(s->ids);
	tok_stream_init(s, s->skip_special);
}

static bool has_dec(const struct tokenizer *t, enum tok_dec_kind k)
{
	for (size_t i = 0; i < t->n_dec; i++)
		if (t->dec[i].kind == k)
			return true;
	return false;
}

/* Strip with stop > 0 after a Fuse: the content char it would cut, or
 * NULL. */
static const struct tok_dec_op *stop_strip(const struct tokenizer *t)
{
	bool fused = false;
	for (size_t i = 0; i < t->n_dec; i++) {
		if (t->dec[i].kind == DEC_FUSE)
			fused = true;
		if (fused && t->dec[i].kind == DEC_STRIP && t->dec[i].stop)
			return &t->dec[i];
	}
	return NULL;
}

/* Copies up to cap bytes of text[from..to) without splitting a UTF-8
 * character; returns the count. */
static size_t emit(const char *text, size_t from, size_t to, char *buf,
		   size_t cap)
{
	size_t n = to - from;
	if (n > cap) {
		n = cap;
		while (n > 0 && ((unsigned char)text[from + n] & 0xC0) == 0x80)
			n--;
	}
	if (n)
		memcpy(buf, text + from, n);
	return n;
}

static int stream_step(const struct tokenizer *t, struct tok_stream *s,
		       bool final, char *buf, size_t cap, size_t *out_len,
		       struct err *e)
{
	*out_len = 0;
	const struct bpe *b = &t->bpe;
	size_t k = s->n;
	/* Hold back the trailing run of byte pieces: later bytes decide
	 * whether it becomes text or U+FFFDs. Ids that decode drops (unknown,
	 * skipped specials) do not end a run, so they are held too. */
	if (!final && (t->kind == TOK_SPM || has_dec(t, DEC_BYTE_FALLBACK)))
		while (k > 0) {
			int id = s->ids[k - 1];
			bool dropped = id < 0 || id >= b->n_vocab ||
				       !(b->flags[id] & BPE_PIECE_PRESENT) ||
				       (s->skip_special &&
					(b->flags[id] & BPE_PIECE_SPECIAL));
			if (!dropped && byte_piece(b->arena + b->piece_off[id],
						   b->piece_len[id]) < 0)
				break;
			k--;
		}
	char *text;
	size_t tl;
	int rc = decode_impl(t, s->ids, k, s->skip_special, s->cont, !final,
			     &text, &tl, e);
	if (rc)
		return rc;
	size_t safe = tl;
	const struct tok_dec_op *ss = final ? NULL : stop_strip(t);
	if (ss)
		while (safe >= s->emitted + ss->repl_len &&
		       !memcmp(text + safe - ss->repl_len, ss->repl, ss->repl_len))
			safe -= ss->repl_len;
	if (safe > s->emitted) {
		*out_len = emit(text, s->emitted, safe, buf, cap);
		s->emitted += *out_len;
		if (*out_len)
			s->any_output = true;
	}
	/* Everything decoded is final: start a new window after it. */
	bool restart = t->kind != TOK_SPM || t->spm_sentinel >= 0;
	if ((k == s->n && s->emitted == tl && s->any_output && !ss &&
	     restart) ||
	    (final && s->emitted == tl)) {
		s->n = 0;
		s->emitted = 0;
		s->cont = s->any_output || s->cont;
		if (final && !s->any_output)
			s->cont = false;
	}
	free(text);
	return 0;
}

int tok_stream_push(const struct tokenizer *t, struct tok_stream *s, int id,
		    char *buf, size_t cap, size_t *out_len, struct err *e)
{
	*out_len = 0;
	if (s->n == s->cap) {
		size_t c = s->cap ? s->cap * 2 : 16;
		int *v = realloc(s->ids, c * sizeof *v);
		if (!v)
			return err_set(e, ERR_NOMEM, "out of memory");
		s->ids = v;
		s->cap = c;
	}
	s->ids[s->n++] = id;
	return stream_step(t, s, false, buf, cap, out_len, e);
}

int tok_stream_next(const struct tokenizer *t, struct tok_stream *s,
		    char *buf, size_t cap, size_t *out_len, struct err *e)
{
	*out_len = 0;
	return stream_step(t, s, false, buf, cap, out_len, e);
}

int tok_stream_flush(const struct tokenizer *t, struct tok_stream *s,
		     char *buf, size_t cap, size_t *out_len, struct err *e)
{
	*out_len = 0;
	return stream_step(t, s, true, buf, cap, out_len, e);
}
