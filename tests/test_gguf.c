/* Tests for the GGUF export (core/gguf.c through prune/export.c), read back
 * with the independent reader tests/gguf_read.h: header, alignment,
 * metadata values, tensor names/shapes/types, tensor data equal to the
 * model's (Q/K after undoing the interleave permutation), F16, tied vs
 * untied, head_dim != d/heads, the vocabulary (pieces, types, scores,
 * specials) of a small tokenizer.json and of InkubaLM's real tokenizer,
 * and a re-implementation of llama.cpp's SPM tokenizer over the exported
 * vocabulary reproducing our ids on corpus lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "export.h"
#include "fileio.h"
#include "gguf.h"
#include "gguf_read.h"
#include "model.h"
#include "test.h"
#include "tokenizer.h"

#define SHARED_DATA "../shared/data"

static char tmpdir[64];

static void fill(float *p, size_t n, uint32_t *s)
{
	for (size_t i = 0; i < n; i++) {
		*s = *s * 1664525u + 1013904223u;
		p[i] = (float)((int32_t)(*s >> 8) % 20001) / 10000.0f;
	}
}

static struct model *make_model(int V, int d, int h, int kv, int hd, int f,
				 int L, bool tied)
{
	struct config c;
	struct model *m;
	struct err e = {0};
	memset(&c, 0, sizeof c);
	c.vocab_size = V;
	c.hidden_size = d;
	c.intermediate_size = f;
	c.n_layers = L;
	c.n_heads = h;
	c.n_kv_heads = kv;
	c.head_dim = hd;
	c.max_position_embeddings = 128;
	c.rope_theta = 10000;
	c.rms_norm_eps = 1e-5;
	c.tie_word_embeddings = tied;
	c.bos_token_id = 1;
	c.eos_token_id = 2;
	c.pad_token_id = -1;
	snprintf(c.model_type, sizeof c.model_type, "llama");
	if (model_new(&c, &m, &e)) {
		fprintf(stderr, "model_new: %s\n", e.msg);
		return NULL;
	}
	uint32_t s = 42;
	size_t qd = (size_t)h * hd, kd = (size_t)kv * hd;
	fill(m->embed, (size_t)V * d, &s);
	if (!tied)
		fill(m->lm_head, (size_t)V * d, &s);
	fill(m->norm, (size_t)d, &s);
	for (int l = 0; l < L; l++) {
		struct layer_weights *w = &m->layers[l];
		fill(w->wq, qd * d, &s);
		fill(w->wk, kd * d, &s);
		fill(w->wv, kd * d, &s);
		fill(w->wo, (size_t)d * qd, &s);
		fill(w->attn_norm, (size_t)d, &s);
		fill(w->mlp_norm, (size_t)d, &s);
		fill(w->w_gate, (size_t)f * d, &s);
		fill(w->w_up, (size_t)f * d, &s);
		fill(w->w_down, (size_t)d * f, &s);
	}
	return m;
}

/* Exports m with tok to a fresh dir and reads model.gguf into *buf. */
static int export_read(const struct model *m, const struct tokenizer *tok,
		       enum dtype dt, const char *sub, char **buf, size_t *len)
{
	char out[128], path[160];
	struct err e = {0};
	snprintf(out, sizeof out, "%s/%s", tmpdir, sub);
	struct export_opts o = {.out_dir = out,
				.formats = EXPORT_GGUF,
				.dtype = dt,
				.tok = tok,
				.name = "test"};
	if (export_model(m, &o, NULL, &e)) {
		fprintf(stderr, "export: %s\n", e.msg);
		return -1;
	}
	snprintf(path, sizeof path, "%s/model.gguf", out);
	if (file_read_all(path, (size_t)1 << 30, buf, len, &e)) {
		fprintf(stderr, "read: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static float elem(const struct gguf_tensor_r *t, uint64_t i)
{
	if (t->type == 0) {
		float v;
		memcpy(&v, t->data + 4 * i, 4);
		return v;
	}
	uint16_t h;
	memcpy(&h, t->data + 2 * i, 2);
	return t->type == 1 ? dtype_f16_to_f32(h) : dtype_bf16_to_f32(h);
}

static float rounded(float x, enum dtype dt)
{
	if (dt == DTYPE_F16)
		return dtype_f16_to_f32(dtype_f32_to_f16(x));
	if (dt == DTYPE_BF16)
		return dtype_bf16_to_f32(dtype_f32_to_bf16(x));
	return x;
}

/* Checks a (rows, cols) matrix: GGUF ne = {cols, rows}; with hd > 0 the
 * rows are the interleaved permutation of ours (HF row s*hd/2 + i is
 * GGUF row 2i + s within each head). */
static int check_mat(const struct gguf_file *g, const char *name,
		     const float *w, int rows, int cols, int hd, enum dtype dt)
{
	const struct gguf_tensor_r *t = gguf_find_tensor(g, name);
	if (!t) {
		fprintf(stderr, "missing tensor %s\n", name);
		return 0;
	}
	uint32_t want_type = gguf_ggml_type(cols ? dt : DTYPE_F32);
	if (!cols) {
		if (t->n_dims != 1 || t->ne[0] != (uint64_t)rows ||
		    t->type != want_type)
			return 0;
		for (int i = 0; i < rows; i++)
			if (elem(t, (uint64_t)i) != w[i])
				return 0;
		return 1;
	}
	if (t->n_dims != 2 || t->ne[0] != (uint64_t)cols ||
	    t->ne[1] != (uint64_t)rows || t->type != want_type) {
		fprintf(stderr, "%s: dims/type wrong\n", name);
		return 0;
	}
	for (int r = 0; r < rows; r++) {
		int gr = r;
		if (hd) {
			int head = r / hd, within = r % hd;
			int s = within / (hd / 2), i = within % (hd / 2);
			gr = head * hd + 2 * i + s;
		}
		for (int c = 0; c < cols; c++)
			if (elem(t, (uint64_t)gr * cols + c) !=
			    rounded(w[(size_t)r * cols + c], dt)) {
				fprintf(stderr, "%s: [%d,%d] differs\n", name,
					r, c);
				return 0;
			}
	}
	return 1;
}

static void check_model(const char *sub, const struct model *m,
			const struct tokenizer *tok, enum dtype dt)
{
	char *buf = NULL;
	size_t len = 0;
	struct gguf_file g;
	const struct config *c = &m->cfg;
	if (export_read(m, tok, dt, sub, &buf, &len)) {
		CHECK(0);
		return;
	}
	CHECK_MSG(gguf_read((const unsigned char *)buf, len, &g) == 0,
		  "%s: unreadable gguf", sub);
	if (!g.kv) {
		free(buf);
		return;
	}
	CHECK_EQ_INT(g.version, 3);
	CHECK_EQ_INT(g.alignment, 32);
	CHECK_EQ_INT(g.data_start % 32, 0);
	for (uint64_t i = 0; i < g.n_tensors; i++)
		CHECK_EQ_INT(g.t[i].offset % 32, 0);
	CHECK(gguf_kv_str_is(&g, "general.architecture", "llama"));
	CHECK(gguf_kv_str_is(&g, "general.name", "test"));
	CHECK(gguf_kv_str_is(&g, "tokenizer.ggml.model", "llama"));
	CHECK_EQ_INT(gguf_kv_u32(&g, "llama.context_length", 0), 128);
	CHECK_EQ_INT(gguf_kv_u32(&g, "llama.embedding_length", 0),
		     c->hidden_size);
	CHECK_EQ_INT(gguf_kv_u32(&g, "llama.block_count", 0), c->n_layers);
	CHECK_EQ_INT(gguf_kv_u32(&g, "llama.feed_forward_length", 0),
		     c->intermediate_size);
	CHECK_EQ_INT(gguf_kv_u32(&g, "llama.attention.head_count", 0),
		     c->n_heads);
	CHECK_EQ_INT(gguf_kv_u32(&g, "llama.attention.head_count_kv", 0),
		     c->n_kv_heads);
	CHECK_EQ_INT(gguf_kv_u32(&g, "llama.rope.dimension_count", 0),
		     c->head_dim);
	CHECK_EQ_INT(gguf_kv_u32(&g, "llama.vocab_size", 0), c->vocab_size);
	CHECK(gguf_kv_f32(&g, "llama.rope.freq_base") == 10000.0f);
	CHECK(gguf_kv_f32(&g, "llama.attention.layer_norm_rms_epsilon") ==
	      1e-5f);
	bool odd = c->head_dim * c->n_heads != c->hidden_size;
	CHECK_EQ_INT(gguf_kv_u32(&g, "llama.attention.key_length", 0),
		     odd ? c->head_dim : 0);
	CHECK_EQ_INT(gguf_kv_u32(&g, "llama.attention.value_length", 0),
		     odd ? c->head_dim : 0);
	CHECK_EQ_INT(gguf_kv_u32(&g, "general.file_type", 99),
		     dt == DTYPE_F32 ? 0 : dt == DTYPE_F16 ? 1 : 32);

	/* tensors */
	int V = c->vocab_size, d = c->hidden_size, f = c->intermediate_size;
	int qd = c->n_heads * c->head_dim, kd = c->n_kv_heads * c->head_dim;
	CHECK_EQ_INT(g.n_tensors, 2 + !m->tied + 9 * c->n_layers);
	CHECK(check_mat(&g, "token_embd.weight", m->embed, V, d, 0, dt));
	CHECK(check_mat(&g, "output_norm.weight", m->norm, d, 0, 0, dt));
	if (m->tied)
		CHECK(gguf_find_tensor(&g, "output.weight") == NULL);
	else
		CHECK(check_mat(&g, "output.weight", m->lm_head, V, d, 0, dt));
	for (int l = 0; l < c->n_layers; l++) {
		const struct layer_weights *w = &m->layers[l];
		char n[64];
#define T(fmt, ptr, r, cc, hd)                                                 \
	snprintf(n, sizeof n, fmt, l);                                         \
	CHECK_MSG(check_mat(&g, n, ptr, r, cc, hd, dt), "%s: %s", sub, n)
		T("blk.%d.attn_norm.weight", w->attn_norm, d, 0, 0);
		T("blk.%d.attn_q.weight", w->wq, qd, d, c->head_dim);
		T("blk.%d.attn_k.weight", w->wk, kd, d, c->head_dim);
		T("blk.%d.attn_v.weight", w->wv, kd, d, 0);
		T("blk.%d.attn_output.weight", w->wo, d, qd, 0);
		T("blk.%d.ffn_norm.weight", w->mlp_norm, d, 0, 0);
		T("blk.%d.ffn_gate.weight", w->w_gate, f, d, 0);
		T("blk.%d.ffn_up.weight", w->w_up, f, d, 0);
		T("blk.%d.ffn_down.weight", w->w_down, d, f, 0);
#undef T
	}
	gguf_read_free(&g);
	free(buf);
}

/* The vocabulary arrays reproduce the tokenizer. */
static void check_vocab(const char *sub, const struct model *m,
			const struct tokenizer *tok)
{
	char *buf = NULL;
	size_t len = 0;
	struct gguf_file g;
	if (export_read(m, tok, DTYPE_F32, sub, &buf, &len) ||
	    gguf_read((const unsigned char *)buf, len, &g)) {
		CHECK(0);
		free(buf);
		return;
	}
	int V = m->cfg.vocab_size;
	const struct gguf_kv_r *tk = gguf_find_kv(&g, "tokenizer.ggml.tokens");
	const struct gguf_kv_r *sc = gguf_find_kv(&g, "tokenizer.ggml.scores");
	const struct gguf_kv_r *ty =
	    gguf_find_kv(&g, "tokenizer.ggml.token_type");
	CHECK(tk && tk->type == 9 && tk->arr_type == 8 &&
	      tk->arr_n == (uint64_t)V);
	CHECK(sc && sc->arr_type == 6 && sc->arr_n == (uint64_t)V);
	CHECK(ty && ty->arr_type == 5 && ty->arr_n == (uint64_t)V);
	if (tk && sc && ty && tk->arr_n == (uint64_t)V &&
	    sc->arr_n == (uint64_t)V && ty->arr_n == (uint64_t)V) {
		const unsigned char *p = tk->val;
		int bad_piece = 0, bad_type = 0;
		float *score = malloc((size_t)V * sizeof *score);
		memcpy(score, sc->val, (size_t)V * 4);
		for (int i = 0; i < V; i++) {
			uint64_t n;
			memcpy(&n, p, 8);
			size_t pl = 0;
			const char *piece = tok_piece(tok, i, &pl);
			if (!piece || pl != n || memcmp(piece, p + 8, n))
				bad_piece++;
			p += 8 + n;
			int32_t t;
			memcpy(&t, ty->val + 4 * (size_t)i, 4);
			int want = i == tok_unk_id(tok)	  ? 2
				   : tok_is_byte(tok, i)    ? 6
				   : tok_is_special(tok, i) ? 3
				   : tok_is_added(tok, i)   ? 4
							    : 1;
			if (t != want)
				bad_type++;
		}
		CHECK_EQ_INT(bad_piece, 0);
		CHECK_EQ_INT(bad_type, 0);
		/* the first merge producing a piece gives its score */
		int bad_score = 0;
		unsigned char *seen = calloc((size_t)V, 1);
		for (size_t r = 0; r < tok_merge_count(tok); r++) {
			int a, b, res;
			if (tok_merge(tok, r, &a, &b, &res) || seen[res])
				continue;
			seen[res] = 1;
			if (score[res] != -(float)r)
				bad_score++;
		}
		CHECK_EQ_INT(bad_score, 0);
		free(seen);
		free(score);
	}
	CHECK_EQ_INT(gguf_kv_u32(&g, "tokenizer.ggml.bos_token_id", 999),
		     tok_bos_id(tok));
	CHECK_EQ_INT(gguf_kv_u32(&g, "tokenizer.ggml.eos_token_id", 999),
		     tok_eos_id(tok));
	CHECK_EQ_INT(gguf_kv_u32(&g, "tokenizer.ggml.unknown_token_id", 999),
		     tok_unk_id(tok));
	const struct gguf_kv_r *sp =
	    gguf_find_kv(&g, "tokenizer.ggml.add_space_prefix");
	CHECK(sp && sp->type == 7 && sp->val[0] == 1); /* both prepend ▁ */
	const struct gguf_kv_r *ab =
	    gguf_find_kv(&g, "tokenizer.ggml.add_bos_token");
	CHECK(ab && ab->type == 7 && ab->val[0] == tok_add_bos(tok));
	gguf_read_free(&g);
	free(buf);
}

static void test_writer_errors(void)
{
	struct gguf_writer *w;
	struct err e = {0};
	CHECK(gguf_writer_new(&w, &e) == 0);
	CHECK(gguf_add_u32(w, "a.b", 1, &e) == 0);
	CHECK_ERR(gguf_add_u32(w, "a.b", 2, &e), e, ERR_INVALID, "a.b");
	float x = 1;
	struct tensor_src t = {.name = "this.name.is.much.longer.than.sixty."
				       "four.bytes.which.gguf.forbids.x",
			       .dtype = DTYPE_F32,
			       .ndim = 1,
			       .shape = {1},
			       .src = &x,
			       .src_dtype = DTYPE_F32};
	char path[128];
	snprintf(path, sizeof path, "%s/x.gguf", tmpdir);
	CHECK_ERR(gguf_write(w, path, &t, 1, NULL, &e), e, ERR_INVALID,
		  "longer than");
	CHECK(!path_exists(path));
	gguf_writer_free(w);
}

/* ---- llama.cpp's SPM tokenizer, over the GGUF vocabulary --------------
 * A re-implementation of llama.cpp's llm_tokenizer_spm (what llama.cpp
 * runs for tokenizer.ggml.model "llama"): the text gets a leading space,
 * spaces become "▁", UTF-8 characters are the initial symbols, adjacent
 * pairs whose concatenation is a token are merged highest score first
 * (ties: leftmost), and symbols that are no token are split back through
 * the merge that made them, down to <0xXX> byte tokens. Used to check that
 * the exported vocabulary and scores make llama.cpp tokenize like us. */

struct spm_vocab {
	const char **s;
	size_t *len;
	float *score;
	int n;
	int *table; /* open addressing: token id + 1, 0 empty */
	size_t cap;
	int byte_id[256];
	bool space_prefix; /* tokenizer.ggml.add_space_prefix (default on) */
};

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h;
}

static int spm_find(const struct spm_vocab *v, const char *s, size_t n)
{
	for (size_t i = hash_bytes(s, n) & (v->cap - 1);; i = (i + 1) &
							  (v->cap - 1)) {
		int id = v->table[i] - 1;
		if (id < 0)
			return -1;
		if (v->len[id] == n && !memcmp(v->s[id], s, n))
			return id;
	}
}

static int spm_vocab_from_gguf(const struct gguf_file *g, struct spm_vocab *v)
{
	const struct gguf_kv_r *tk = gguf_find_kv(g, "tokenizer.ggml.tokens");
	const struct gguf_kv_r *sc = gguf_find_kv(g, "tokenizer.ggml.scores");
	memset(v, 0, sizeof *v);
	if (!tk || !sc || tk->arr_n != sc->arr_n)
		return -1;
	v->n = (int)tk->arr_n;
	v->s = calloc((size_t)v->n, sizeof *v->s);
	v->len = calloc((size_t)v->n, sizeof *v->len);
	v->score = calloc((size_t)v->n, sizeof *v->score);
	for (v->cap = 1; v->cap < 2 * (size_t)v->n; v->cap *= 2)
		;
	v->table = calloc(v->cap, sizeof *v->table);
	const unsigned char *p = tk->val;
	for (int i = 0; i < v->n; i++) {
		uint64_t n;
		memcpy(&n, p, 8);
		v->s[i] = (const char *)p + 8;
		v->len[i] = (size_t)n;
		p += 8 + n;
		memcpy(&v->score[i], sc->val + 4 * (size_t)i, 4);
		size_t h = hash_bytes(v->s[i], v->len[i]) & (v->cap - 1);
		while (v->table[h])
			h = (h + 1) & (v->cap - 1);
		v->table[h] = i + 1;
	}
	for (int b = 0; b < 256; b++) {
		char name[8];
		snprintf(name, sizeof name, "<0x%02X>", b);
		v->byte_id[b] = spm_find(v, name, 6);
	}
	const struct gguf_kv_r *sp =
	    gguf_find_kv(g, "tokenizer.ggml.add_space_prefix");
	v->space_prefix = !sp || (sp->type == 7 && sp->val[0]);
	return 0;
}

static void spm_vocab_free(struct spm_vocab *v)
{
	free(v->s);
	free(v->len);
	free(v->score);
	free(v->table);
}

struct spm_sym {
	const char *text;
	size_t n;
	int prev, next;
};

struct spm_bigram {
	float score;
	int left, right;
	size_t size;
};

struct spm_sess {
	const struct spm_vocab *v;
	struct spm_sym *sym;
	struct spm_bigram *heap;
	size_t nh, caph;
	/* rev_merge: text -> (left, right), last assignment wins */
	const char **rm_text;
	size_t *rm_len;
	int *rm_l, *rm_r;
	size_t n_rm, cap_rm;
	int *out;
	size_t n_out;
};

static bool bigram_less(const struct spm_bigram *l, const struct spm_bigram *r)
{
	return l->score < r->score || (l->score == r->score && l->left > r->left);
}

static void heap_push(struct spm_sess *s, struct spm_bigram b)
{
	if (s->nh == s->caph) {
		s->caph = s->caph ? 2 * s->caph : 64;
		s->heap = realloc(s->heap, s->caph * sizeof *s->heap);
	}
	size_t i = s->nh++;
	s->heap[i] = b;
	while (i && bigram_less(&s->heap[(i - 1) / 2], &s->heap[i])) {
		struct spm_bigram t = s->heap[i];
		s->heap[i] = s->heap[(i - 1) / 2];
		s->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct spm_bigram heap_pop(struct spm_sess *s)
{
	struct spm_bigram top = s->heap[0];
	s->heap[0] = s->heap[--s->nh];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->nh && bigram_less(&s->heap[m], &s->heap[l]))
			m = l;
		if (r < s->nh && bigram_less(&s->heap[m], &s->heap[r]))
			m = r;
		if (m == i)
			break;
		struct spm_bigram t = s->heap[i];
		s->heap[i] = s->heap[m];
		s->heap[m] = t;
		i = m;
	}
	return top;
}

static void rm_set(struct spm_sess *s, const char *t, size_t n, int l, int r)
{
	for (size_t i = 0; i < s->n_rm; i++)
		if (s->rm_len[i] == n && !memcmp(s->rm_text[i], t, n)) {
			s->rm_l[i] = l;
			s->rm_r[i] = r;
			return;
		}
	if (s->n_rm == s->cap_rm) {
		s->cap_rm = s->cap_rm ? 2 * s->cap_rm : 64;
		s->rm_text = realloc(s->rm_text, s->cap_rm * sizeof(char *));
		s->rm_len = realloc(s->rm_len, s->cap_rm * sizeof(size_t));
		s->rm_l = realloc(s->rm_l, s->cap_rm * sizeof(int));
		s->rm_r = realloc(s->rm_r, s->cap_rm * sizeof(int));
	}
	s->rm_text[s->n_rm] = t;
	s->rm_len[s->n_rm] = n;
	s->rm_l[s->n_rm] = l;
	s->rm_r[s->n_rm++] = r;
}

static void try_add_bigram(struct spm_sess *s, int left, int right)
{
	if (left == -1 || right == -1)
		return;
	const char *t = s->sym[left].text;
	size_t n = s->sym[left].n + s->sym[right].n;
	int id = spm_find(s->v, t, n);
	if (id < 0)
		return;
	struct spm_bigram b = {s->v->score[id], left, right, n};
	heap_push(s, b);
	rm_set(s, t, n, left, right);
}

static void resegment(struct spm_sess *s, const struct spm_sym *sym)
{
	int id = spm_find(s->v, sym->text, sym->n);
	if (id >= 0) {
		s->out[s->n_out++] = id;
		return;
	}
	for (size_t i = 0; i < s->n_rm; i++)
		if (s->rm_len[i] == sym->n &&
		    !memcmp(s->rm_text[i], sym->text, sym->n)) {
			resegment(s, &s->sym[s->rm_l[i]]);
			resegment(s, &s->sym[s->rm_r[i]]);
			return;
		}
	for (size_t i = 0; i < sym->n; i++)
		s->out[s->n_out++] = s->v->byte_id[(unsigned char)sym->text[i]];
}

/* Tokenizes text like llama.cpp (no BOS); *out malloc'd. */
static size_t spm_tokenize(const struct spm_vocab *v, const char *text,
			   size_t len, int **out)
{
	/* " " + text (add_space_prefix), every ' ' -> "▁" (3 bytes) */
	char *t = malloc(3 * (len + 1) + 1);
	size_t n = 0;
	for (size_t i = v->space_prefix ? 0 : 1; i <= len; i++) {
		char c = i ? text[i - 1] : ' ';
		if (c == ' ') {
			memcpy(t + n, "\xe2\x96\x81", 3);
			n += 3;
		} else {
			t[n++] = c;
		}
	}
	struct spm_sess s;
	memset(&s, 0, sizeof s);
	s.v = v;
	s.sym = calloc(n + 1, sizeof *s.sym);
	s.out = malloc((4 * n + 4) * sizeof *s.out);
	int ns = 0;
	for (size_t off = 0; off < n;) {
		unsigned char c = (unsigned char)t[off];
		size_t l = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
		if (l > n - off)
			l = n - off;
		s.sym[ns].text = t + off;
		s.sym[ns].n = l;
		s.sym[ns].prev = ns - 1;
		off += l;
		s.sym[ns].next = off == n ? -1 : ns + 1;
		ns++;
	}
	for (int i = 1; i < ns; i++)
		try_add_bigram(&s, i - 1, i);
	while (s.nh) {
		struct spm_bigram b = heap_pop(&s);
		struct spm_sym *l = &s.sym[b.left], *r = &s.sym[b.right];
		if (!l->n || !r->n || l->n + r->n != b.size)
			continue;
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			s.sym[r->next].prev = b.left;
		try_add_bigram(&s, l->prev, b.left);
		try_add_bigram(&s, b.left, l->next);
	}
	for (int i = ns ? 0 : -1; i != -1; i = s.sym[i].next)
		resegment(&s, &s.sym[i]);
	*out = s.out;
	free(s.sym);
	free(s.heap);
	free(s.rm_text);
	free(s.rm_len);
	free(s.rm_l);
	free(s.rm_r);
	free(t);
	return s.n_out;
}

/* Lines of a corpus file tokenized by us and by the SPM simulation over
 * the exported vocabulary: the share of lines that agree. */
static void check_llama_cpp_ids(const char *sub, const struct model *m,
				const struct tokenizer *tok,
				const char *corpus, int max_lines,
				double min_agree)
{
	char *buf = NULL, *text = NULL;
	size_t len = 0, tlen = 0;
	struct gguf_file g;
	struct spm_vocab v;
	struct err e = {0};
	if (file_read_all(corpus, 1 << 26, &text, &tlen, &e)) {
		SKIP("%s is absent", corpus);
		return;
	}
	if (export_read(m, tok, DTYPE_F32, sub, &buf, &len) ||
	    gguf_read((const unsigned char *)buf, len, &g) ||
	    spm_vocab_from_gguf(&g, &v)) {
		CHECK(0);
		free(buf);
		free(text);
		return;
	}
	int lines = 0, agree = 0;
	size_t toks = 0, tok_agree = 0;
	for (char *l = text, *end; l < text + tlen && lines < max_lines;
	     l = end + 1) {
		end = memchr(l, '\n', (size_t)(text + tlen - l));
		if (!end)
			end = text + tlen;
		if (end == l)
			continue;
		int *a = NULL, *b = NULL;
		size_t na = 0;
		if (tok_encode(tok, l, (size_t)(end - l), false, &a, &na, &e))
			break;
		size_t nb = spm_tokenize(&v, l, (size_t)(end - l), &b);
		lines++;
		toks += na;
		if (na == nb && !memcmp(a, b, na * sizeof *a))
			agree++;
		for (size_t i = 0; i < na && i < nb; i++)
			tok_agree += a[i] == b[i];
		free(a);
		free(b);
	}
	double share = lines ? (double)agree / lines : 0;
	fprintf(stderr,
		"%s: llama.cpp-style SPM over the GGUF vocabulary agrees with "
		"our ids on %d of %d lines (%.2f%%) of %s\n",
		sub, agree, lines, 100 * share, corpus);
	CHECK_MSG(lines > 0 && share >= min_agree,
		  "%s: only %.2f%% of lines agree", sub, 100 * share);
	(void)toks;
	(void)tok_agree;
	spm_vocab_free(&v);
	gguf_read_free(&g);
	free(buf);
	free(text);
}

int main(void)
{
	struct tokenizer *tok = NULL;
	struct err e = {0};
	snprintf(tmpdir, sizeof tmpdir, "/tmp/punguza-test-gguf-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		CHECK(0);
		return TEST_SUMMARY();
	}
	test_writer_errors();
	CHECK_MSG(tok_load("tests/data/tok/small_llama_pairs.json", &tok, &e) ==
		      0,
		  "%s", e.msg);
	if (tok) {
		int V = tok_vocab_size(tok);
		struct model *a = make_model(V, 32, 4, 2, 8, 48, 2, false);
		struct model *b = make_model(V, 40, 5, 1, 12, 24, 1, true);
		if (a && b) {
			check_model("untied-f32", a, tok, DTYPE_F32);
			check_model("untied-f16", a, tok, DTYPE_F16);
			check_model("tied-odd-bf16", b, tok, DTYPE_BF16);
			check_vocab("vocab-small", a, tok);
		} else {
			CHECK(0);
		}
		/* a model smaller than the vocabulary is refused */
		struct model *c = make_model(V - 1, 8, 2, 2, 4, 8, 1, true);
		char out[128];
		snprintf(out, sizeof out, "%s/small", tmpdir);
		struct export_opts o = {.out_dir = out,
					.formats = EXPORT_GGUF,
					.tok = tok};
		CHECK_ERR(export_model(c, &o, NULL, &e), e, ERR_INVALID,
			  "pieces");
		CHECK(!path_exists(out));
		model_free(a);
		model_free(b);
		model_free(c);
		tok_free(tok);
		tok = NULL;
	}
	if (tok_load(SHARED_DATA "/inkubalm-0.4b", &tok, &e) == 0) {
		struct model *m =
		    make_model(tok_vocab_size(tok), 4, 1, 1, 4, 4, 1, true);
		if (m) {
			check_vocab("vocab-inkuba", m, tok);
			check_llama_cpp_ids("spm-swh", m, tok,
					    SHARED_DATA "/corpus/swh_nt.txt",
					    3000, 1.0);
			check_llama_cpp_ids("spm-hau", m, tok,
					    SHARED_DATA "/corpus/hau_bible.txt",
					    3000, 1.0);
		}
		model_free(m);
		tok_free(tok);
	} else {
		SKIP("../shared/data/inkubalm-0.4b is absent: InkubaLM's "
		     "vocabulary in GGUF not checked");
	}
	/* the shipped model's SentencePiece tokenizer, when trained */
	if (tok_load("assets/tiny-inkuba", &tok, &e) == 0) {
		struct model *m =
		    make_model(tok_vocab_size(tok), 4, 1, 1, 4, 4, 1, true);
		if (m) {
			check_vocab("vocab-tiny", m, tok);
			check_llama_cpp_ids("spm-tiny", m, tok,
					    "assets/tiny-inkuba/heldout_swh.txt",
					    3000, 1.0);
		}
		model_free(m);
		tok_free(tok);
	} else {
		SKIP("assets/tiny-inkuba has no tokenizer yet: its GGUF "
		     "vocabulary not checked");
	}
	export_remove_tree(tmpdir, &e);
	return TEST_SUMMARY();
}
