#include "eval.h"

#include "tokenizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"

void eval_defaults(struct eval_opts *o)
{
	memset(o, 0, sizeof *o);
	o->ctx = 512;
	o->stride = 256;
}

/* log(sum(exp(l))) in double. */
static double logsumexp(const float *l, int V)
{
	float mx = l[0];
	for (int i = 1; i < V; i++)
		if (l[i] > mx)
			mx = l[i];
	double s = 0;
	for (int i = 0; i < V; i++)
		s += exp((double)l[i] - mx);
	return mx + log(s);
}

static int argmax(const float *l, int V)
{
	int b = 0;
	for (int i = 1; i < V; i++)
		if (l[i] > l[b])
			b = i;
	return b;
}

/* KL(p_ref ‖ p_model) from two logit rows. */
static double kl_div(const float *lr, const float *lm, int V)
{
	double zr = logsumexp(lr, V), zm = logsumexp(lm, V), kl = 0;
	for (int i = 0; i < V; i++) {
		double lpr = lr[i] - zr, lpm = lm[i] - zm;
		kl += exp(lpr) * (lpr - lpm);
	}
	return kl;
}

int eval_run(const struct model *m, const struct model *ref, const int *tokens,
	     size_t n, const struct eval_opts *o, struct eval_result *r,
	     struct err *e)
{
	memset(r, 0, sizeof *r);
	int C = o->ctx, S = o->stride, V = m->cfg.vocab_size;
	if (n < 2)
		return err_set(e, ERR_INVALID,
			       "eval: need at least 2 tokens, got %zu", n);
	if (C < 2 || S < 1 || S > C)
		return err_set(e, ERR_INVALID,
			       "eval: context %d and stride %d: need context "
			       ">= 2 and 1 <= stride <= context",
			       C, S);
	if (C > m->cfg.max_position_embeddings ||
	    (ref && C > ref->cfg.max_position_embeddings))
		return err_set(e, ERR_INVALID,
			       "eval: context %d exceeds the model's %d "
			       "positions",
			       C,
			       ref && ref->cfg.max_position_embeddings <
					   m->cfg.max_position_embeddings
				   ? ref->cfg.max_position_embeddings
				   : m->cfg.max_position_embeddings);
	if (ref && ref->cfg.vocab_size != V)
		return err_set(e, ERR_INVALID,
			       "eval: the reference's vocabulary (%d) differs "
			       "from the model's (%d)",
			       ref->cfg.vocab_size, V);
	for (size_t i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= V)
			return err_set(
			    e, ERR_INVALID,
			    "eval: token id %d at %zu is outside the "
			    "vocabulary (%d)",
			    tokens[i], i, V);
	enum { CHUNK = 256 }; /* (CHUNK, V) logits per model */
	struct fwd_state *fm = NULL, *fr = NULL;
	float *lm = NULL, *lr = NULL;
	int rc = fwd_new(m, C, CHUNK, &fm, e);
	if (!rc && ref)
		rc = fwd_new(ref, C, CHUNK, &fr, e);
	if (rc)
		goto done;
	lm = malloc(sizeof(float) * CHUNK * (size_t)V);
	lr = ref ? malloc(sizeof(float) * CHUNK * (size_t)V) : NULL;
	if (!lm || (ref && !lr)) {
		rc = err_set(e, ERR_NOMEM, "eval: out of memory");
		goto done;
	}
	double nll = 0, kl = 0;
	size_t scored = 0, agree = 0, prev_end = 0;
	for (size_t begin = 0; begin < n; begin += (size_t)S) {
		size_t end = begin + (size_t)C < n ? begin + (size_t)C : n;
		size_t first = prev_end > begin + 1 ? prev_end : begin + 1;
		/* Targets first..end-1 need logits at positions first-1 ..
		 * end-2: feed tokens begin..end-2. */
		fwd_reset(fm);
		if (fr)
			fwd_reset(fr);
		for (size_t p = begin; p + 1 < end;) {
			int cnt =
			    (int)(end - 1 - p < CHUNK ? end - 1 - p : CHUNK);
			size_t last =
			    p + (size_t)cnt - 1; /* last position fed */
			if (last + 1 < first) {	 /* nothing scored here */
				if ((rc = fwd_run(fm, tokens + p, cnt, NULL,
						  e)) ||
				    (fr && (rc = fwd_run(fr, tokens + p, cnt,
							 NULL, e))))
					goto done;
				p += (size_t)cnt;
				continue;
			}
			int from = first - 1 > p ? (int)(first - 1 - p) : 0;
			if ((rc = fwd_run_from(fm, tokens + p, cnt, from, lm,
					       e)) ||
			    (fr && (rc = fwd_run_from(fr, tokens + p, cnt, from,
						      lr, e))))
				goto done;
			for (int j = from; j < cnt; j++) {
				const float *row = lm + (size_t)(j - from) * V;
				int target = tokens[p + (size_t)j + 1];
				nll += logsumexp(row, V) - row[target];
				scored++;
				if (fr) {
					const float *rr =
					    lr + (size_t)(j - from) * V;
					kl += kl_div(rr, row, V);
					agree +=
					    argmax(rr, V) == argmax(row, V);
				}
			}
			p += (size_t)cnt;
		}
		prev_end = end;
		if ((rc = progress_report(o->prog, (double)end / (double)n,
					  "evaluating", e)))
			goto done;
		if (end == n)
			break;
	}
	r->ctx = C;
	r->stride = S;
	r->n_tokens = n;
	r->n_scored = scored;
	r->text_bytes = o->text_bytes;
	r->nll_sum = nll;
	r->nll_mean = scored ? nll / (double)scored : 0;
	r->ppl = exp(r->nll_mean);
	r->bpb = o->text_bytes ? nll / (log(2.0) * (double)o->text_bytes) : 0;
	r->has_ref = ref != NULL;
	if (ref && scored) {
		r->kl_mean = kl / (double)scored;
		r->top1 = (double)agree / (double)scored;
	}
done:
	free(lm);
	free(lr);
	fwd_free(fm);
	fwd_free(fr);
	return rc;
}

int eval_encode_lines(const struct tokenizer *t, const char *text,
		      size_t len, int **ids, size_t *n, struct err *e)
{
	int bos = tok_bos_id(t), eos = tok_eos_id(t);
	int *all = NULL;
	size_t used = 0, cap = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (ll && p[ll - 1] == '\r')
			ll--; /* CRLF: the CR belongs to the line ending */
		if (ll) {
			int *li = NULL;
			size_t ln = 0;
			int rc = tok_encode(t, p, ll, false, &li, &ln, e);
			if (rc) {
				free(all);
				return rc;
			}
			if (used + ln + 2 > cap) {
				size_t nc = cap ? cap * 2 : 4096;
				while (nc < used + ln + 2)
					nc *= 2;
				int *na = realloc(all, nc * sizeof *na);
				if (!na) {
					free(li);
					free(all);
					return err_set(e, ERR_NOMEM,
						       "eval: out of memory");
				}
				all = na;
				cap = nc;
			}
			if (bos >= 0)
				all[used++] = bos;
			memcpy(all + used, li, ln * sizeof *li);
			used += ln;
			if (eos >= 0)
				all[used++] = eos;
			free(li);
		}
		p = nl ? nl + 1 : end;
	}
	*ids = all;
	*n = used;
	return 0;
}
