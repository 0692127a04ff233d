/* effect — what pruning cost, measured on held-out text. See effect.h. */
#include "effect.h"

#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

/* ------------------------------------------------------------------ */
/* Measured effect                                                     */

static uint64_t count_words(const char *s, size_t n)
{
	uint64_t w = 0;
	bool in = false;
	for (size_t i = 0; i < n; i++) {
		bool sp = s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r');
		if (!sp && !in)
			w++;
		in = !sp;
	}
	return w;
}

int prune_measure(const struct model *src, const struct tokenizer *src_tok,
		  const struct model *dst, const struct tokenizer *dst_tok,
		  const char *text, size_t len, const struct eval_opts *o,
		  struct prune_effect *out, struct err *e)
{
	int *a = NULL, *b = NULL, rc;
	size_t na = 0, nb = 0;
	struct eval_opts eo;
	bool same_tok = !dst_tok || dst_tok == src_tok;
	memset(out, 0, sizeof *out);
	if (!dst_tok)
		dst_tok = src_tok;
	if ((rc = tok_encode(src_tok, text, len, true, &a, &na, e)) ||
	    (rc = tok_encode(dst_tok, text, len, true, &b, &nb, e)))
		goto out;
	if (o) {
		eo = *o;
	} else {
		eval_defaults(&eo);
		int mp = src->cfg.max_position_embeddings;
		if (dst->cfg.max_position_embeddings < mp)
			mp = dst->cfg.max_position_embeddings;
		if (eo.ctx > mp)
			eo.ctx = mp;
		eo.stride = eo.ctx / 2 > 0 ? eo.ctx / 2 : 1;
	}
	eo.text_bytes = len;
	out->bytes = len;
	out->words = count_words(text, len);
	out->src_tokens = na - (na && tok_add_bos(src_tok) ? 1 : 0);
	out->dst_tokens = nb - (nb && tok_add_bos(dst_tok) ? 1 : 0);
	out->src_tpw = out->words ? (double)out->src_tokens / out->words : 0;
	out->dst_tpw = out->words ? (double)out->dst_tokens / out->words : 0;
	bool same_vocab = same_tok &&
			  src->cfg.vocab_size == dst->cfg.vocab_size;
	if ((rc = eval_run(src, NULL, a, na, &eo, &out->src, e)) ||
	    (rc = eval_run(dst, same_vocab ? src : NULL, b, nb, &eo, &out->dst,
			   e)))
		goto out;
out:
	free(a);
	free(b);
	return rc;
}
