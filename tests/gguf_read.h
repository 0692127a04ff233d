/*
 * gguf_read.h — a small, independent GGUF v3 reader for the tests: parses
 * a whole file held in memory (every count and offset range-checked) into
 * its kv pairs and tensor infos, so a test can check what core/gguf.c and
 * prune/export.c wrote. Written from the format description (ggml
 * docs/gguf.md), not from the writer.
 *
 *   struct gguf_file g;
 *   if (gguf_read(buf, len, &g) == 0) { ...; gguf_read_free(&g); }
 *
 * Strings point into the buffer (not NUL-terminated: use the lengths).
 */
#ifndef PUNGUZA_GGUF_READ_H
#define PUNGUZA_GGUF_READ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct gguf_kv_r {
	const char *key;
	uint64_t key_len;
	uint32_t type;	    /* value type; 9 = array */
	uint32_t arr_type;  /* element type for arrays */
	uint64_t arr_n;	    /* elements */
	const unsigned char *val; /* the value (array: first element) */
	uint64_t val_len;   /* bytes of the value (whole array) */
};

struct gguf_tensor_r {
	const char *name;
	uint64_t name_len;
	uint32_t n_dims;
	uint64_t ne[4];
	uint32_t type;
	uint64_t offset;			/* in the data section */
	const unsigned char *data;		/* resolved */
};

struct gguf_file {
	uint32_t version;
	uint64_t n_kv, n_tensors;
	struct gguf_kv_r *kv;
	struct gguf_tensor_r *t;
	uint64_t data_start; /* file offset of the data section */
	uint32_t alignment;
};

struct gguf_cur {
	const unsigned char *b;
	uint64_t len, pos;
	int bad;
};

static uint64_t gguf_r_le(struct gguf_cur *c, int n)
{
	if (c->bad || c->len - c->pos < (uint64_t)n) {
		c->bad = 1;
		return 0;
	}
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)c->b[c->pos + i] << (8 * i);
	c->pos += (uint64_t)n;
	return v;
}

static const char *gguf_r_str(struct gguf_cur *c, uint64_t *len)
{
	uint64_t n = gguf_r_le(c, 8);
	if (c->bad || c->len - c->pos < n) {
		c->bad = 1;
		return NULL;
	}
	const char *s = (const char *)c->b + c->pos;
	c->pos += n;
	*len = n;
	return s;
}

static uint64_t gguf_r_scalar_size(uint32_t t)
{
	switch (t) {
	case 0: case 1: case 7: return 1;
	case 2: case 3: return 2;
	case 4: case 5: case 6: return 4;
	case 10: case 11: case 12: return 8;
	default: return 0;
	}
}

/* Skips one value of type t (not an array of arrays). */
static void gguf_r_skip(struct gguf_cur *c, uint32_t t)
{
	uint64_t len;
	if (t == 8) {
		gguf_r_str(c, &len);
		return;
	}
	uint64_t s = gguf_r_scalar_size(t);
	if (!s || c->len - c->pos < s) {
		c->bad = 1;
		return;
	}
	c->pos += s;
}

static void gguf_read_free(struct gguf_file *g)
{
	free(g->kv);
	free(g->t);
	memset(g, 0, sizeof *g);
}

static int gguf_read(const unsigned char *buf, uint64_t len,
		     struct gguf_file *g)
{
	struct gguf_cur c = {buf, len, 0, 0};
	memset(g, 0, sizeof *g);
	if (len < 24 || memcmp(buf, "GGUF", 4))
		return -1;
	c.pos = 4;
	g->version = (uint32_t)gguf_r_le(&c, 4);
	g->n_tensors = gguf_r_le(&c, 8);
	g->n_kv = gguf_r_le(&c, 8);
	/* each kv needs >= 12 bytes, each tensor info >= 24 */
	if (g->n_kv > len / 12 || g->n_tensors > len / 24)
		return -1;
	g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv);
	g->t = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->t);
	if (!g->kv || !g->t) {
		gguf_read_free(g);
		return -1;
	}
	g->alignment = 32;
	for (uint64_t i = 0; i < g->n_kv && !c.bad; i++) {
		struct gguf_kv_r *kv = &g->kv[i];
		kv->key = gguf_r_str(&c, &kv->key_len);
		kv->type = (uint32_t)gguf_r_le(&c, 4);
		uint64_t start;
		if (kv->type == 9) {
			kv->arr_type = (uint32_t)gguf_r_le(&c, 4);
			kv->arr_n = gguf_r_le(&c, 8);
			start = c.pos;
			for (uint64_t k = 0; k < kv->arr_n && !c.bad; k++)
				gguf_r_skip(&c, kv->arr_type);
		} else {
			start = c.pos;
			gguf_r_skip(&c, kv->type);
		}
		kv->val = buf + start;
		kv->val_len = c.pos - start;
		if (!c.bad && kv->type == 4 && kv->key_len == 17 &&
		    !memcmp(kv->key, "general.alignment", 17))
			memcpy(&g->alignment, kv->val, 4);
	}
	for (uint64_t i = 0; i < g->n_tensors && !c.bad; i++) {
		struct gguf_tensor_r *t = &g->t[i];
		t->name = gguf_r_str(&c, &t->name_len);
		t->n_dims = (uint32_t)gguf_r_le(&c, 4);
		if (t->n_dims < 1 || t->n_dims > 4) {
			c.bad = 1;
			break;
		}
		for (uint32_t d = 0; d < t->n_dims; d++)
			t->ne[d] = gguf_r_le(&c, 8);
		t->type = (uint32_t)gguf_r_le(&c, 4);
		t->offset = gguf_r_le(&c, 8);
	}
	if (c.bad || !g->alignment) {
		gguf_read_free(g);
		return -1;
	}
	g->data_start =
	    (c.pos + g->alignment - 1) / g->alignment * g->alignment;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		struct gguf_tensor_r *t = &g->t[i];
		uint64_t n = 1, es = t->type == 0 ? 4 : 2;
		for (uint32_t d = 0; d < t->n_dims; d++) {
			if (t->ne[d] && n > UINT64_MAX / t->ne[d]) {
				gguf_read_free(g);
				return -1;
			}
			n *= t->ne[d];
		}
		if (g->data_start > len || t->offset > len - g->data_start ||
		    n > (len - g->data_start - t->offset) / es) {
			gguf_read_free(g);
			return -1;
		}
		t->data = buf + g->data_start + t->offset;
	}
	return 0;
}

static const struct gguf_kv_r *gguf_find_kv(const struct gguf_file *g,
					    const char *key)
{
	size_t n = strlen(key);
	for (uint64_t i = 0; i < g->n_kv; i++)
		if (g->kv[i].key_len == n && !memcmp(g->kv[i].key, key, n))
			return &g->kv[i];
	return NULL;
}

static const struct gguf_tensor_r *gguf_find_tensor(const struct gguf_file *g,
						    const char *name)
{
	size_t n = strlen(name);
	for (uint64_t i = 0; i < g->n_tensors; i++)
		if (g->t[i].name_len == n && !memcmp(g->t[i].name, name, n))
			return &g->t[i];
	return NULL;
}

/* A u32 value (type 4), or `def` when absent / of another type. */
static uint32_t gguf_kv_u32(const struct gguf_file *g, const char *key,
			    uint32_t def)
{
	const struct gguf_kv_r *kv = gguf_find_kv(g, key);
	uint32_t v;
	if (!kv || kv->type != 4)
		return def;
	memcpy(&v, kv->val, 4);
	return v;
}

static float gguf_kv_f32(const struct gguf_file *g, const char *key)
{
	const struct gguf_kv_r *kv = gguf_find_kv(g, key);
	float v = -1;
	if (kv && kv->type == 6)
		memcpy(&v, kv->val, 4);
	return v;
}

/* 1 when key holds the string s. */
static int gguf_kv_str_is(const struct gguf_file *g, const char *key,
			  const char *s)
{
	const struct gguf_kv_r *kv = gguf_find_kv(g, key);
	uint64_t n;
	if (!kv || kv->type != 8)
		return 0;
	memcpy(&n, kv->val, 8); /* little-endian host */
	return n == strlen(s) && !memcmp(kv->val + 8, s, n);
}

#endif
