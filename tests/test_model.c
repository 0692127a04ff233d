/* Tests for model: loading the golden models (shared/tied detection, the
 * last MLP copy winning with a note, zero-copy f32, bf16 conversion,
 * parameter counts by hand), errors naming the tensor, model_new. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtype.h"
#include "fileio.h"
#include "forward.h"
#include "model.h"
#include "test.h"
#include "weights.h"

#define MODELS "tests/data/models"

static struct model *load(const char *name)
{
	char dir[256];
	snprintf(dir, sizeof dir, MODELS "/%s", name);
	struct model *m = NULL;
	struct err e = {0};
	int rc = model_load(dir, &m, NULL, &e);
	CHECK_MSG(rc == 0, "%s: %s", name, e.msg);
	return m;
}

static void test_shared_untied(void)
{
	struct model *m = load("shared_untied");
	if (!m)
		return;
	CHECK(m->cfg.shared_mlp);
	CHECK(!m->tied);
	CHECK(m->lm_head != m->embed);
	CHECK_STR(m->shared_mlp_source, "model.layers.2.mlp");
	CHECK_STR(m->note, ""); /* the stored copies are equal */
	for (int i = 0; i < 3; i++)
		CHECK(m->layers[i].w_gate == m->layers[2].w_gate &&
		      m->layers[i].w_up == m->layers[2].w_up &&
		      m->layers[i].w_down == m->layers[2].w_down);
	/* V=96 d=32 f=88 L=3, by hand (DESIGN §1.2):
	 * 96*32*2 + 3*(4*32*32 + 2*32) + 3*32*88 + 32 = 27104 */
	CHECK_EQ_INT(model_param_count(m), 27104);
	/* Decode touches 3 layers of attention + the MLP each time. */
	CHECK_EQ_INT(
	    model_decode_bytes(m, NULL),
	    4 * (3 * (4 * 32 * 32 + 3 * 32 * 88 + 64) + 32 + 96 * 32 + 32));
	model_free(m);
}

static void test_shared_differ(void)
{
	struct model *m = load("shared_differ");
	if (!m)
		return;
	CHECK(m->cfg.shared_mlp);
	CHECK_STR(m->shared_mlp_source, "model.layers.2.mlp");
	CHECK_MSG(strstr(m->note, "mlp copies differ") &&
		      strstr(m->note, "layers 0, 1") &&
		      strstr(m->note, "model.layers.2.mlp"),
		  "note: \"%s\"", m->note);
	/* The values used are layer 2's stored ones (f32, zero-copy). */
	const struct tensor *t =
	    weights_find(m->w, "model.layers.2.mlp.up_proj.weight");
	CHECK(t && (const void *)m->layers[0].w_up == t->data);
	CHECK_EQ_INT(m->owned_bytes, 0);
	/* V=96 d=32 f=64 L=3 h=2: 6144 + 3*(4096+64) + 6144 + 32 */
	CHECK_EQ_INT(model_param_count(m), 24800);
	model_free(m);
}

static void test_tied_gqa(void)
{
	struct model *m = load("tied_gqa");
	if (!m)
		return;
	CHECK(m->tied);
	CHECK(m->lm_head == m->embed);
	CHECK(!m->cfg.shared_mlp);
	CHECK(m->layers[0].w_gate != m->layers[1].w_gate);
	CHECK_EQ_INT(m->cfg.n_kv_heads, 2);
	/* V=128 d=48 f=128 L=2, q 48x48, k/v 24x48 each:
	 * 128*48 + 2*(2*48*48 + 2*24*48 + 2*48 + 3*48*128) + 48 */
	CHECK_EQ_INT(
	    model_param_count(m),
	    128 * 48 + 2 * (2 * 48 * 48 + 2 * 24 * 48 + 2 * 48 + 3 * 48 * 128) +
		48);
	model_free(m);
}

static void test_bf16(void)
{
	struct model *m = load("bf16_mqa");
	if (!m)
		return;
	CHECK(m->tied && m->cfg.shared_mlp);
	CHECK_EQ_INT(m->cfg.head_dim, 12);
	/* Everything converted into owned f32 buffers: embed (64*40),
	 * per layer q 60x40, k/v 12x40, o 40x60, 2 norms; shared MLP once;
	 * final norm. */
	CHECK_EQ_INT(m->owned_bytes,
		     4 * (64 * 40 + 2 * (2 * 60 * 40 + 2 * 12 * 40 + 2 * 40) +
			  3 * 40 * 96 + 40));
	const struct tensor *t =
	    weights_find(m->w, "model.embed_tokens.weight");
	CHECK(t && t->dtype == DTYPE_BF16);
	if (t) {
		const unsigned char *p = t->data;
		uint16_t h = (uint16_t)(p[2 * 77] | p[2 * 77 + 1] << 8);
		CHECK(m->embed[77] == dtype_bf16_to_f32(h));
	}
	model_free(m);
}

static void test_mlp_named(void)
{
	/* config.json has no auto_map: shared mode comes from model.mlp.* */
	struct model *m = load("mlp_named");
	if (!m)
		return;
	CHECK(m->cfg.shared_mlp);
	CHECK_STR(m->shared_mlp_source, "model.mlp");
	CHECK(m->layers[0].w_down == m->layers[1].w_down);
	/* V=64 d=32 f=64 L=2 untied: 2*64*32 + 2*(4*32*32+64) + 3*32*64 + 32 */
	CHECK_EQ_INT(model_param_count(m), 4096 + 2 * 4160 + 6144 + 32);
	model_free(m);
}

/* A temporary model dir: a symlink to a golden model's weights and a
 * config.json edited by replacing `from` with `to`. */
static int make_variant(char *dir, const char *name, const char *weights,
			const char *from, const char *to)
{
	strcpy(dir, "/tmp/punguza-test-model-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char src[512], dst[512], cfgp[512];
	char *text;
	size_t len;
	snprintf(src, sizeof src, "%s/" MODELS "/%s/%s", getcwd(cfgp, 256),
		 name, weights);
	snprintf(dst, sizeof dst, "%s/%s", dir, weights);
	if (symlink(src, dst))
		return -1;
	snprintf(cfgp, sizeof cfgp, MODELS "/%s/config.json", name);
	if (file_read_all(cfgp, 1 << 20, &text, &len, NULL))
		return -1;
	char *hit = strstr(text, from);
	if (!hit) {
		free(text);
		return -1;
	}
	char out[4096];
	snprintf(out, sizeof out, "%.*s%s%s", (int)(hit - text), text, to,
		 hit + strlen(from));
	free(text);
	snprintf(cfgp, sizeof cfgp, "%s/config.json", dir);
	return file_write_atomic(cfgp, out, strlen(out), NULL);
}

static void remove_variant(const char *dir, const char *weights)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, weights);
	unlink(p);
	snprintf(p, sizeof p, "%s/config.json", dir);
	unlink(p);
	rmdir(dir);
}

static void test_errors(void)
{
	char dir[64];
	struct model *m = (struct model *)1;
	struct err e = {0};
	/* intermediate_size 64 -> 65: the first MLP tensor is named with
	 * both shapes. */
	if (make_variant(dir, "odd72", "model.safetensors",
			 "\"intermediate_size\": 64",
			 "\"intermediate_size\": 65") == 0) {
		CHECK_ERR(model_load(dir, &m, NULL, &e), e, ERR_FORMAT,
			  "tensor 'model.layers.0.mlp.gate_proj.weight' has "
			  "shape [64, 72], expected [65, 72]");
		CHECK(m == NULL);
	} else {
		CHECK_MSG(0, "cannot make a model variant in /tmp");
	}
	remove_variant(dir, "model.safetensors");
	/* A tied model's config untied: lm_head.weight is missing. */
	if (make_variant(dir, "bf16_mqa", "model.safetensors",
			 "\"tie_word_embeddings\": true",
			 "\"tie_word_embeddings\": false") == 0)
		CHECK_ERR(model_load(dir, &m, NULL, &e), e, ERR_NOTFOUND,
			  "missing tensor 'lm_head.weight'");
	remove_variant(dir, "model.safetensors");
	/* More layers than stored. */
	if (make_variant(dir, "odd72", "model.safetensors",
			 "\"num_hidden_layers\": 2",
			 "\"num_hidden_layers\": 3") == 0)
		CHECK_ERR(model_load(dir, &m, NULL, &e), e, ERR_NOTFOUND,
			  "missing tensor 'model.layers.2.self_attn.q_proj."
			  "weight'");
	remove_variant(dir, "model.safetensors");
	/* Per-layer MLPs forced shared by auto_map: layer 1's copy is used
	 * and layer 0's differs. */
	if (make_variant(dir, "odd72", "model.safetensors", "\"hidden_act\"",
			 "\"auto_map\": \"vulavula\", \"hidden_act\"") == 0) {
		CHECK_EQ_INT(model_load(dir, &m, NULL, &e), 0);
		if (m) {
			CHECK(m->cfg.shared_mlp);
			CHECK_MSG(strstr(m->note, "(layer 0)"), "note: %s",
				  m->note);
			model_free(m);
		}
	}
	remove_variant(dir, "model.safetensors");
	/* Not a model dir. */
	CHECK_ERR(model_load("/nonexistent-punguza", &m, NULL, &e), e,
		  ERR_NOTFOUND, "/nonexistent-punguza");
}

/* A hand-written safetensors file whose header length makes every f32
 * tensor unaligned: the loader must copy them (owned), values intact. */
static void test_unaligned(void)
{
	char dir[64] = "/tmp/punguza-test-unaligned-XXXXXX";
	if (!mkdtemp(dir)) {
		CHECK_MSG(0, "cannot make a directory in /tmp");
		return;
	}
	static const char *names[] = {
	    "model.embed_tokens.weight",
	    "model.norm.weight",
	    "model.layers.0.self_attn.q_proj.weight",
	    "model.layers.0.self_attn.k_proj.weight",
	    "model.layers.0.self_attn.v_proj.weight",
	    "model.layers.0.self_attn.o_proj.weight",
	    "model.layers.0.input_layernorm.weight",
	    "model.layers.0.post_attention_layernorm.weight",
	    "model.layers.0.mlp.gate_proj.weight",
	    "model.layers.0.mlp.up_proj.weight",
	    "model.layers.0.mlp.down_proj.weight"};
	enum { NT = sizeof names / sizeof names[0] };
	char hdr[4096];
	size_t h = 0, off = 0;
	h += (size_t)snprintf(hdr + h, sizeof hdr - h, "{");
	for (int i = 0; i < NT; i++) {
		int vec = strstr(names[i], "norm") != NULL;
		size_t nb = vec ? 16 : 64;
		h +=
		    (size_t)snprintf(hdr + h, sizeof hdr - h,
				     "%s\"%s\":{\"dtype\":\"F32\",\"shape\":%s,"
				     "\"data_offsets\":[%zu,%zu]}",
				     i ? "," : "", names[i],
				     vec ? "[4]" : "[4,4]", off, off + nb);
		off += nb;
	}
	h += (size_t)snprintf(hdr + h, sizeof hdr - h, "}");
	if ((8 + h) % 2 == 0) /* make 8 + header length odd */
		hdr[h++] = ' ';
	size_t total = 8 + h + off;
	unsigned char *buf = malloc(total);
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
	memcpy(buf + 8, hdr, h);
	for (size_t i = 0; i < off / 4; i++) {
		float v = 0.25f * (float)i - 3.0f;
		memcpy(buf + 8 + h + 4 * i, &v, 4); /* little-endian host */
	}
	char path[128];
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	int ok = file_write_atomic(path, buf, total, NULL) == 0;
	free(buf);
	const char *cfg =
	    "{\"vocab_size\":4,\"hidden_size\":4,"
	    "\"intermediate_size\":4,\"num_hidden_layers\":1,"
	    "\"num_attention_heads\":2,\"tie_word_embeddings\":true}";
	char cpath[128];
	snprintf(cpath, sizeof cpath, "%s/config.json", dir);
	ok = ok && file_write_atomic(cpath, cfg, strlen(cfg), NULL) == 0;
	CHECK(ok);
	struct model *m = NULL;
	struct err e = {0};
	int rc = model_load(dir, &m, NULL, &e);
	CHECK_MSG(rc == 0, "unaligned: %s", e.msg);
	if (m) {
		/* embed = floats 0..15, norm 16..19, q 20..35 (file order). */
		CHECK(((uintptr_t)weights_find(m->w, names[0])->data & 3) != 0);
		CHECK(m->embed[5] == 0.25f * 5 - 3.0f);
		CHECK(m->norm[3] == 0.25f * 19 - 3.0f);
		CHECK(m->layers[0].wq[0] == 0.25f * 20 - 3.0f);
		CHECK(m->layers[0].w_down[15] == 0.25f * (off / 4 - 1) - 3.0f);
		CHECK_EQ_INT(m->owned_bytes, off);
		model_free(m);
	}
	unlink(path);
	unlink(cpath);
	rmdir(dir);
}

static int cancel_at_half(void *ctx, double done, const char *stage)
{
	(void)ctx;
	(void)stage;
	return done > 0.5;
}

static void test_cancel(void)
{
	struct model *m = (struct model *)1;
	struct err e = {0};
	struct progress p = {cancel_at_half, NULL};
	CHECK_EQ_INT(model_load(MODELS "/shared_differ", &m, &p, &e),
		     ERR_CANCELLED);
	CHECK(m == NULL);
}

static void test_new(void)
{
	struct config c;
	config_inkubalm(&c);
	c.vocab_size = 50;
	c.hidden_size = 16;
	c.intermediate_size = 24;
	c.n_heads = 4;
	c.n_kv_heads = 2;
	c.head_dim = 4;
	c.n_layers = 3;
	c.tie_word_embeddings = true;
	c.shared_mlp = true;
	struct model *m;
	struct err e = {0};
	CHECK_EQ_INT(model_new(&c, &m, &e), 0);
	CHECK(m->w == NULL);
	CHECK(m->lm_head == m->embed && m->tied);
	CHECK(m->layers[0].w_up == m->layers[2].w_up);
	CHECK(m->layers[0].wq != m->layers[1].wq);
	CHECK(m->embed[50 * 16 - 1] == 0.0f &&
	      m->layers[2].wk[2 * 4 * 16 - 1] == 0.0f);
	m->layers[2].w_down[16 * 24 - 1] = 1.0f; /* writable, full size */
	CHECK_EQ_INT(m->owned_bytes, 4 * (50 * 16 + 16 + 3 * 24 * 16 +
					  3 * (16 * 16 * 2 + 8 * 16 * 2 + 32)));
	CHECK_EQ_INT(model_param_count(m), config_param_count(&c));
	void *extra = malloc(10);
	CHECK_EQ_INT(model_own(m, extra, &e), 0);
	model_free(m);
	c.shared_mlp = false;
	c.tie_word_embeddings = false;
	CHECK_EQ_INT(model_new(&c, &m, &e), 0);
	CHECK(m->lm_head != m->embed && m->layers[0].w_up != m->layers[1].w_up);
	model_free(m);
	c.n_kv_heads = 3;
	CHECK_ERR(model_new(&c, &m, &e), e, ERR_FORMAT, "key/value heads");
	model_free(NULL);
}

/* A model borrowing a loaded model's tensors (one copied into an owned
 * buffer) runs exactly like it. */
static void test_new_empty(void)
{
	struct model *src = load("odd72");
	if (!src)
		return;
	struct model *m;
	struct err e = {0};
	CHECK_EQ_INT(model_new_empty(&src->cfg, &m, &e), 0);
	struct fwd_state *s = NULL;
	CHECK_ERR(fwd_new(m, 8, 0, &s, &e), e, ERR_INVALID, "not set");
	m->embed = src->embed;
	m->norm = src->norm;
	m->lm_head = src->lm_head;
	int L = src->cfg.n_layers;
	for (int i = 0; i < L; i++)
		m->layers[i] = src->layers[i];
	CHECK_EQ_INT(model_check(m, &e), 0);
	m->layers[1].w_up = NULL;
	CHECK_ERR(model_check(m, &e), e, ERR_INVALID, "layer 1");
	uint64_t n = (uint64_t)src->cfg.intermediate_size *
		     (uint64_t)src->cfg.hidden_size;
	CHECK_EQ_INT(model_alloc_tensor(m, n, &m->layers[1].w_up, &e), 0);
	memcpy(m->layers[1].w_up, src->layers[1].w_up, n * sizeof(float));
	CHECK_EQ_INT(m->owned_bytes, n * sizeof(float));
	m->lm_head = m->embed; /* untied config: refused */
	CHECK_ERR(model_check(m, &e), e, ERR_INVALID, "tied");
	m->lm_head = src->lm_head;
	struct fwd_state *a = NULL, *b = NULL;
	CHECK_EQ_INT(fwd_new(m, 8, 0, &a, &e), 0);
	CHECK_EQ_INT(fwd_new(src, 8, 0, &b, &e), 0);
	if (a && b) {
		int ids[5] = {1, 7, 3, 79, 0};
		CHECK_EQ_INT(fwd_run(a, ids, 5, NULL, &e), 0);
		CHECK_EQ_INT(fwd_run(b, ids, 5, NULL, &e), 0);
		CHECK(memcmp(a->logits, b->logits,
			     sizeof(float) * (size_t)src->cfg.vocab_size) == 0);
	}
	fwd_free(a);
	fwd_free(b);
	model_free(m);
	model_free(src);
}

int main(void)
{
	test_shared_untied();
	test_shared_differ();
	test_tied_gqa();
	test_bf16();
	test_mlp_named();
	test_errors();
	test_cancel();
	test_unaligned();
	test_new();
	test_new_empty();
	return TEST_SUMMARY();
}
