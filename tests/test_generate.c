/* Tests of generate: greedy generation against the golden PyTorch logits
 * and against a cache-free recomputation, streaming text against
 * tok_decode, stops (EOS, newline, on_text, max_new), context checks, and
 * fwd_truncate. */
#include <stdlib.h>
#include <string.h>

#include "chain_model.h"
#include "forward.h"
#include "generate.h"
#include "model.h"
#include "test.h"
#include "tokenizer.h"

#define MODELS "tests/data/models"
#define TOK "tests/data/tok"

static int argmax(const float *x, int n)
{
	int best = 0;
	for (int i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

/* The golden sequence 0 of a model and its logits (see test_forward.c). */
static int read_seq0(const char *name, int V, int *seq, int *n, float **lg)
{
	char path[256];
	snprintf(path, sizeof path, MODELS "/%s/golden.txt", name);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return -1;
	int ok = fscanf(fp, " seq %d", n) == 1 && *n > 0 && *n <= 64;
	for (int i = 0; ok && i < *n; i++)
		ok = fscanf(fp, "%d", &seq[i]) == 1;
	fclose(fp);
	if (!ok)
		return -1;
	snprintf(path, sizeof path, MODELS "/%s/golden.f32", name);
	fp = fopen(path, "rb");
	if (!fp)
		return -1;
	*lg = malloc((size_t)*n * V * sizeof(float));
	ok = fread(*lg, sizeof(float), (size_t)*n * V, fp) == (size_t)*n * V;
	fclose(fp);
	return ok ? 0 : -1;
}

static struct gen_opts greedy(int max_new)
{
	struct gen_opts o;
	gen_defaults(&o);
	o.max_new = max_new;
	o.sampler.temperature = 0;
	o.sampler.repeat_penalty = 1;
	return o;
}

/* gen with max_new 1 after each prefix of the golden sequence picks the
 * argmax of PyTorch's logits at the prefix's last position. */
static void test_golden_argmax(const char *name)
{
	struct err e = {0};
	struct model *m = NULL;
	char dir[256];
	snprintf(dir, sizeof dir, MODELS "/%s", name);
	if (model_load(dir, &m, NULL, &e)) {
		TEST_FAIL_("%s: %s", name, e.msg);
		return;
	}
	int V = m->cfg.vocab_size, seq[64], n = 0;
	float *lg = NULL;
	if (read_seq0(name, V, seq, &n, &lg)) {
		TEST_FAIL_("%s: cannot read the golden logits", name);
		free(lg);
		model_free(m);
		return;
	}
	struct fwd_state *fs = NULL;
	CHECK(fwd_new(m, 0, 0, &fs, &e) == 0);
	struct gen_opts o = greedy(1);
	int bad = 0;
	for (int k = 1; fs && k <= n; k++) {
		int *out = NULL;
		size_t n_out = 0;
		struct gen_stats st;
		int want = argmax(lg + (size_t)(k - 1) * V, V);
		int rc = gen_ids_state(fs, NULL, seq, (size_t)k, &o, NULL,
				       NULL, &st, &out, &n_out, &e);
		if (rc) {
			TEST_FAIL_("%s: %s", name, e.msg);
			break;
		}
		if (want == m->cfg.eos_token_id)
			bad += !(st.hit_eos && n_out == 0);
		else
			bad += !(n_out == 1 && out[0] == want);
		free(out);
	}
	CHECK_MSG(bad == 0, "%s: %d prefixes disagree with PyTorch's argmax",
		  name, bad);
	fwd_free(fs);
	free(lg);
	model_free(m);
}

/* Greedy chain recomputed without the cache: the whole sequence is
 * prefilled afresh for every step. */
static int *chain_nocache(const struct model *m, const int *ids, int n,
			  int steps, int eos, int *n_out)
{
	struct err e = {0};
	struct fwd_state *fs = NULL;
	int *seq = malloc((size_t)(n + steps) * sizeof *seq);
	memcpy(seq, ids, (size_t)n * sizeof *seq);
	int len = n;
	*n_out = 0;
	if (fwd_new(m, n + steps, 0, &fs, &e))
		return seq;
	for (int i = 0; i < steps; i++) {
		fwd_reset(fs);
		if (fwd_run(fs, seq, len, NULL, &e))
			break;
		int tok = argmax(fs->logits, m->cfg.vocab_size);
		if (tok == eos)
			break;
		seq[len++] = tok;
	}
	fwd_free(fs);
	*n_out = len - n;
	memmove(seq, seq + n, (size_t)(len - n) * sizeof *seq);
	return seq;
}

struct collect {
	char buf[4096];
	size_t len;
	int calls;
	int stop_after; /* stop after this many calls; 0 = never */
};

static int collect(void *ctx, const char *s, size_t n)
{
	struct collect *c = ctx;
	if (n == 0 || c->len + n >= sizeof c->buf)
		return 1; /* never asked to take nothing; overflow: stop */
	memcpy(c->buf + c->len, s, n);
	c->len += n;
	c->buf[c->len] = 0;
	c->calls++;
	return c->stop_after && c->calls >= c->stop_after;
}

/* The text generated ids g add after prompt ids p: tok_decode(p + g) with
 * tok_decode(p) cut off its front (what the stream must print). NULL when
 * the prompt's text is not a prefix. */
static char *continuation(const struct tokenizer *t, const int *p, size_t np,
			  const int *g, size_t ng)
{
	struct err e = {0};
	int *all = malloc((np + ng + 1) * sizeof *all);
	char *full = NULL, *pre = NULL, *r = NULL;
	size_t fl = 0, pl = 0;
	memcpy(all, p, np * sizeof *all);
	if (ng)
		memcpy(all + np, g, ng * sizeof *all);
	if (tok_decode(t, all, np + ng, true, &full, &fl, &e) == 0 &&
	    tok_decode(t, p, np, true, &pre, &pl, &e) == 0 && pl <= fl &&
	    !memcmp(full, pre, pl))
		r = strdup(full + pl);
	free(all);
	free(full);
	free(pre);
	return r;
}

/* A golden model with a small tokenizer whose vocabulary fits. */
static void test_with_tokenizer(const char *name, const char *tok_file)
{
	struct err e = {0};
	struct model *m = NULL;
	struct tokenizer *t = NULL;
	char path[256];
	snprintf(path, sizeof path, MODELS "/%s", name);
	if (model_load(path, &m, NULL, &e) ||
	    tok_load(tok_file, &t, &e)) {
		TEST_FAIL_("%s: %s", name, e.msg);
		goto out;
	}
	CHECK(tok_vocab_size(t) <= m->cfg.vocab_size);
	const char *prompt = "the quick brown fox";
	int *ids = NULL;
	size_t n = 0;
	CHECK(tok_encode(t, prompt, strlen(prompt), true, &ids, &n, &e) == 0);
	int eos = tok_eos_id(t) >= 0 ? tok_eos_id(t) : m->cfg.eos_token_id;
	CHECK_EQ_INT(gen_eos_id(m, t), eos);

	/* Greedy: the cached generation equals the cache-free chain, and
	 * its streamed text is what those ids add to the prompt's text. */
	int steps = 30, n_ref = 0;
	int *ref = chain_nocache(m, ids, (int)n, steps, eos, &n_ref);
	struct gen_opts o = greedy(steps);
	struct collect c = {0};
	struct gen_stats st;
	CHECK(gen_run(m, t, prompt, strlen(prompt), &o, collect, &c, &st,
		      &e) == 0);
	CHECK_EQ_INT(st.prompt_tokens, n);
	CHECK_EQ_INT(st.new_tokens, n_ref);
	CHECK(st.hit_eos == (n_ref < steps));
	CHECK(!st.cancelled && !st.hit_newline && !st.clamped);
	char *dec = continuation(t, ids, n, ref, (size_t)n_ref);
	CHECK_MSG(dec && !strcmp(c.buf, dec),
		  "%s: streamed '%s' != decoded '%s'", name, c.buf,
		  dec ? dec : "");
	free(dec);

	/* gen_ids_state returns the same ids. */
	struct fwd_state *fs = NULL;
	int *out = NULL;
	size_t n_out = 0;
	CHECK(fwd_new(m, 0, 0, &fs, &e) == 0);
	CHECK(fs && gen_ids_state(fs, t, ids, n, &o, NULL, NULL, &st, &out,
				  &n_out, &e) == 0);
	CHECK_EQ_INT(n_out, n_ref);
	CHECK(n_out == (size_t)n_ref &&
	      !memcmp(out, ref, n_out * sizeof *out));
	free(out);
	fwd_free(fs);

	/* Sampling: chunks concatenate to tok_decode of the sampled ids. */
	struct gen_opts so;
	gen_defaults(&so);
	so.max_new = 40;
	so.sampler.temperature = 1.5f;
	so.sampler.top_k = 0;
	so.sampler.seed = 7;
	fs = NULL;
	CHECK(fwd_new(m, 0, 0, &fs, &e) == 0);
	struct collect c2 = {0};
	CHECK(fs && gen_ids_state(fs, t, ids, n, &so, collect, &c2, &st, &out,
				  &n_out, &e) == 0);
	dec = continuation(t, ids, n, out, n_out);
	CHECK_MSG(dec && !strcmp(c2.buf, dec),
		  "%s: sampled stream '%s' != decoded '%s'", name, c2.buf,
		  dec ? dec : "");
	/* Same seed, same text (gen_run encodes the prompt itself). */
	struct collect c3 = {0};
	CHECK(gen_run(m, t, prompt, strlen(prompt), &so, collect, &c3, NULL,
		      &e) == 0);
	CHECK_STR(c3.buf, c2.buf);
	free(dec);
	free(out);
	fwd_free(fs);

	/* on_text asking to stop after its first chunk. */
	if (c2.calls >= 2) {
		struct collect c4 = {0};
		c4.stop_after = 1;
		CHECK(gen_run(m, t, prompt, strlen(prompt), &so, collect, &c4,
			      &st, &e) == 0);
		CHECK(st.cancelled);
		CHECK_EQ_INT(c4.calls, 1);
		CHECK(c4.len < c2.len && !memcmp(c4.buf, c2.buf, c4.len));
	}

	/* Context: max_new is clamped, or refused when strict. */
	struct gen_opts big = greedy(100000);
	CHECK(gen_run(m, t, prompt, strlen(prompt), &big, NULL, NULL, &st,
		      &e) == 0);
	CHECK(st.clamped);
	CHECK_EQ_INT(st.max_new,
		     m->cfg.max_position_embeddings - (int)n);
	big.strict_context = true;
	CHECK_ERR(gen_run(m, t, prompt, strlen(prompt), &big, NULL, NULL,
			  &st, &e), e,
		  ERR_INVALID, "context");
	/* max_new 0: nothing generated, no error. */
	struct gen_opts zero = greedy(0);
	struct collect c5 = {0};
	CHECK(gen_run(m, t, prompt, strlen(prompt), &zero, collect, &c5, &st,
		      &e) == 0);
	CHECK_EQ_INT(st.new_tokens, 0);
	CHECK_EQ_INT(c5.len, 0);
	/* A prompt filling the context. */
	char longp[2048];
	memset(longp, 'a', sizeof longp - 1);
	longp[sizeof longp - 1] = 0;
	CHECK_ERR(gen_run(m, t, longp, strlen(longp), &o, NULL, NULL, &st,
			  &e), e,
		  ERR_INVALID, "context");
	free(ref);
	free(ids);
out:
	tok_free(t);
	model_free(m);
}

/* A chain model generating a known text with a newline in the middle,
 * on the byte-fallback tokenizer (353 ids). */
static void test_newline_and_eos(void)
{
	struct err e = {0};
	struct tokenizer *t = NULL;
	if (tok_load(TOK "/small_llama_pairs.json", &t, &e)) {
		TEST_FAIL_("%s", e.msg);
		return;
	}
	int V = tok_vocab_size(t);
	struct model *m = chain_new(V, 256);
	CHECK(m != NULL);
	if (!m) {
		tok_free(t);
		return;
	}
	/* "ab\ncd": bytes as byte-fallback pieces; then EOS. */
	int nl = tok_byte_id(t, '\n'), a = tok_byte_id(t, 'a'),
	    b = tok_byte_id(t, 'b'), c = tok_byte_id(t, 'c'),
	    d = tok_byte_id(t, 'd');
	int bos = tok_bos_id(t), eos = tok_eos_id(t);
	CHECK(nl >= 0 && a >= 0 && bos >= 0 && eos >= 0);
	chain_set(m, bos, a);
	chain_set(m, a, b);
	chain_set(m, b, nl);
	chain_set(m, nl, c);
	chain_set(m, c, d);
	chain_set(m, d, eos);
	int prompt[1] = {bos};
	struct gen_opts o = greedy(50);
	struct collect k = {0};
	struct gen_stats st;
	CHECK(gen_ids(m, t, prompt, 1, &o, collect, &k, &st, &e) == 0);
	CHECK_STR(k.buf, "ab\ncd");
	CHECK(st.hit_eos);
	CHECK_EQ_INT(st.new_tokens, 5);
	o.stop_at_newline = true;
	struct collect k2 = {0};
	CHECK(gen_ids(m, t, prompt, 1, &o, collect, &k2, &st, &e) == 0);
	CHECK_STR(k2.buf, "ab");
	CHECK(st.hit_newline && !st.hit_eos);
	CHECK_EQ_INT(st.new_tokens, 3);
	/* max_new stops first. */
	o = greedy(2);
	struct collect k3 = {0};
	CHECK(gen_ids(m, t, prompt, 1, &o, collect, &k3, &st, &e) == 0);
	CHECK_STR(k3.buf, "ab");
	CHECK(!st.hit_eos && !st.hit_newline);
	/* A tokenizer larger than the model's vocabulary is refused. */
	struct model *small = chain_new(V - 1, 64);
	CHECK_ERR(gen_ids(small, t, prompt, 1, &o, NULL, NULL, &st, &e), e,
		  ERR_INVALID, "tokenizer");
	model_free(small);
	model_free(m);
	tok_free(t);
}

/* fwd_truncate: after truncating back to the prompt, a continuation gives
 * the same logits as a fresh run of prompt + continuation. */
static void test_truncate(void)
{
	struct err e = {0};
	struct model *m = NULL;
	if (model_load(MODELS "/tied_gqa", &m, NULL, &e)) {
		TEST_FAIL_("%s", e.msg);
		return;
	}
	int V = m->cfg.vocab_size;
	int seq[12] = {1, 5, 9, 20, 33, 7, 7, 64, 100, 3, 11, 50};
	struct fwd_state *a = NULL, *b = NULL;
	CHECK(fwd_new(m, 0, 0, &a, &e) == 0 && fwd_new(m, 0, 0, &b, &e) == 0);
	if (!a || !b)
		goto out;
	float *la = malloc((size_t)4 * V * sizeof(float));
	float *lb = malloc((size_t)12 * V * sizeof(float));
	int other[4] = {90, 91, 92, 93};
	CHECK(fwd_run(a, seq, 8, NULL, &e) == 0);
	CHECK(fwd_run(a, other, 4, NULL, &e) == 0); /* a detour */
	CHECK(fwd_truncate(a, 8, &e) == 0);
	CHECK_EQ_INT(a->pos, 8);
	CHECK(fwd_run(a, seq + 8, 4, la, &e) == 0);
	CHECK(fwd_run(b, seq, 12, lb, &e) == 0);
	double dmax = 0;
	for (int i = 0; i < 4 * V; i++) {
		double dd = fabs(la[i] - lb[(size_t)8 * V + i]);
		if (dd > dmax)
			dmax = dd;
	}
	CHECK_MSG(dmax < 1e-4, "truncate: max |dlogit| %g", dmax);
	CHECK_ERR(fwd_truncate(a, 13, &e), e, ERR_INVALID, "12");
	CHECK_ERR(fwd_truncate(a, -1, &e), e, ERR_INVALID, "truncate");
	CHECK(fwd_truncate(a, 0, &e) == 0);
	CHECK_EQ_INT(a->pos, 0);
	free(la);
	free(lb);
out:
	fwd_free(a);
	fwd_free(b);
	model_free(m);
}

/* punguza run on the shipped model: a first generated piece "▁x" after
 * the prompt prints " x" (it used to print "x": the decoder's leading-space
 * strip applied to the generation as if it started the text). */
static void test_leading_space(void)
{
	const char *dir = "assets/tiny-inkuba";
	struct err e = {0};
	struct model *m = NULL;
	struct tokenizer *t = NULL;
	if (model_load(dir, &m, NULL, &e) || tok_load(dir, &t, &e)) {
		TEST_FAIL_("%s: %s", dir, e.msg);
		goto out;
	}
	static const char *const prompts[] = {
	    "Habari za", "Mungu", "Yesu akasema", "Sannu", "Allah ya",
	    "Kwa maana", "Na", "Amma"};
	int word_first = 0;
	for (size_t i = 0; i < sizeof prompts / sizeof prompts[0]; i++) {
		const char *p = prompts[i];
		int *ids = NULL, *out = NULL;
		size_t n = 0, n_out = 0;
		struct fwd_state *fs = NULL;
		struct collect c = {0};
		struct gen_opts o = greedy(6);
		CHECK(tok_encode(t, p, strlen(p), true, &ids, &n, &e) == 0);
		CHECK(fwd_new(m, 0, 0, &fs, &e) == 0);
		CHECK(fs && gen_ids_state(fs, t, ids, n, &o, collect, &c,
					  NULL, &out, &n_out, &e) == 0);
		char *want = continuation(t, ids, n, out, n_out);
		CHECK_MSG(want && !strcmp(c.buf, want),
			  "'%s': streamed '%s', want '%s'", p, c.buf,
			  want ? want : "(null)");
		size_t pl = 0;
		const char *piece = n_out ? tok_piece(t, out[0], &pl) : NULL;
		if (piece && pl >= 3 && !memcmp(piece, "\xE2\x96\x81", 3)) {
			word_first++;
			CHECK_MSG(c.buf[0] == ' ',
				  "'%s': first piece '%.*s' printed as '%s'",
				  p, (int)pl, piece, c.buf);
		}
		free(want);
		free(out);
		free(ids);
		fwd_free(fs);
	}
	/* the check above must have had something to check */
	CHECK_MSG(word_first > 0, "no prompt began its generation with a word");
out:
	tok_free(t);
	model_free(m);
}

int main(void)
{
	static const char *const golden[] = {"odd72", "tied_gqa", "bf16_mqa",
					     "shared_untied"};
	for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++)
		test_golden_argmax(golden[i]);
	test_with_tokenizer("odd72", TOK "/small_split_contig.json");
	test_with_tokenizer("tied_gqa", TOK "/small_nfkc_metaspace.json");
	test_leading_space();
	test_newline_and_eos();
	test_truncate();
	return TEST_SUMMARY();
}
