/* gguf — GGUF writer. See gguf.h. */
#include "gguf.h"

#include <stdlib.h>
#include <string.h>

#include "wfile.h"

struct gguf_writer {
	unsigned char *kv; /* serialized kv pairs */
	size_t len, cap;
	uint64_t n_kv;
	char **keys;
	size_t n_keys, cap_keys;
	bool have_alignment;
};

uint32_t gguf_ggml_type(enum dtype t)
{
	switch (t) {
	case DTYPE_F16:
		return GGML_TYPE_F16;
	case DTYPE_BF16:
		return GGML_TYPE_BF16;
	default:
		return GGML_TYPE_F32;
	}
}

int gguf_writer_new(struct gguf_writer **out, struct err *e)
{
	*out = calloc(1, sizeof **out);
	return *out ? 0 : err_set(e, ERR_NOMEM, "gguf: out of memory");
}

void gguf_writer_free(struct gguf_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_keys; i++)
		free(w->keys[i]);
	free(w->keys);
	free(w->kv);
	free(w);
}

static int put(struct gguf_writer *w, const void *p, size_t n, struct err *e)
{
	if (n > SIZE_MAX - w->len)
		return err_set(e, ERR_NOMEM, "gguf: metadata too large");
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap < w->len + n) {
			if (cap > SIZE_MAX / 2)
				return err_set(e, ERR_NOMEM,
					       "gguf: metadata too large");
			cap *= 2;
		}
		unsigned char *t = realloc(w->kv, cap);
		if (!t)
			return err_set(e, ERR_NOMEM, "gguf: out of memory");
		w->kv = t;
		w->cap = cap;
	}
	memcpy(w->kv + w->len, p, n);
	w->len += n;
	return 0;
}

static void le32(unsigned char *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static void le64(unsigned char *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static int put_u32(struct gguf_writer *w, uint32_t v, struct err *e)
{
	unsigned char b[4];
	le32(b, v);
	return put(w, b, 4, e);
}

static int put_u64(struct gguf_writer *w, uint64_t v, struct err *e)
{
	unsigned char b[8];
	le64(b, v);
	return put(w, b, 8, e);
}

static int put_str(struct gguf_writer *w, const char *s, size_t n,
		   struct err *e)
{
	int rc = put_u64(w, n, e);
	return rc ? rc : put(w, s, n, e);
}

/* Records the key (unique) and writes it with its type. */
static int key(struct gguf_writer *w, const char *k, enum gguf_type t,
	       struct err *e)
{
	for (size_t i = 0; i < w->n_keys; i++)
		if (!strcmp(w->keys[i], k))
			return err_set(e, ERR_INVALID,
				       "gguf: key '%s' given twice", k);
	if (w->n_keys == w->cap_keys) {
		size_t cap = w->cap_keys ? 2 * w->cap_keys : 32;
		char **nk = realloc(w->keys, cap * sizeof *nk);
		if (!nk)
			return err_set(e, ERR_NOMEM, "gguf: out of memory");
		w->keys = nk;
		w->cap_keys = cap;
	}
	size_t n = strlen(k);
	if (!(w->keys[w->n_keys] = malloc(n + 1)))
		return err_set(e, ERR_NOMEM, "gguf: out of memory");
	memcpy(w->keys[w->n_keys++], k, n + 1);
	if (!strcmp(k, "general.alignment"))
		w->have_alignment = true;
	int rc = put_str(w, k, n, e);
	if (!rc)
		rc = put_u32(w, (uint32_t)t, e);
	if (!rc)
		w->n_kv++;
	return rc;
}

int gguf_add_str(struct gguf_writer *w, const char *k, const char *val,
		 struct err *e)
{
	int rc = key(w, k, GGUF_TYPE_STRING, e);
	return rc ? rc : put_str(w, val, strlen(val), e);
}

int gguf_add_u32(struct gguf_writer *w, const char *k, uint32_t v,
		 struct err *e)
{
	int rc = key(w, k, GGUF_TYPE_UINT32, e);
	return rc ? rc : put_u32(w, v, e);
}

int gguf_add_f32(struct gguf_writer *w, const char *k, float v, struct err *e)
{
	uint32_t u;
	memcpy(&u, &v, 4);
	int rc = key(w, k, GGUF_TYPE_FLOAT32, e);
	return rc ? rc : put_u32(w, u, e);
}

int gguf_add_bool(struct gguf_writer *w, const char *k, bool v, struct err *e)
{
	unsigned char b = v ? 1 : 0;
	int rc = key(w, k, GGUF_TYPE_BOOL, e);
	return rc ? rc : put(w, &b, 1, e);
}

static int array_head(struct gguf_writer *w, const char *k, enum gguf_type t,
		      size_t n, struct err *e)
{
	int rc = key(w, k, GGUF_TYPE_ARRAY, e);
	if (!rc)
		rc = put_u32(w, (uint32_t)t, e);
	if (!rc)
		rc = put_u64(w, n, e);
	return rc;
}

int gguf_add_str_array(struct gguf_writer *w, const char *k,
		       const char *const *s, const size_t *len, size_t n,
		       struct err *e)
{
	int rc = array_head(w, k, GGUF_TYPE_STRING, n, e);
	for (size_t i = 0; i < n && !rc; i++)
		rc = put_str(w, s[i], len ? len[i] : strlen(s[i]), e);
	return rc;
}

int gguf_add_f32_array(struct gguf_writer *w, const char *k, const float *v,
		       size_t n, struct err *e)
{
	int rc = array_head(w, k, GGUF_TYPE_FLOAT32, n, e);
	for (size_t i = 0; i < n && !rc; i++) {
		uint32_t u;
		memcpy(&u, &v[i], 4);
		rc = put_u32(w, u, e);
	}
	return rc;
}

int gguf_add_i32_array(struct gguf_writer *w, const char *k, const int32_t *v,
		       size_t n, struct err *e)
{
	int rc = array_head(w, k, GGUF_TYPE_INT32, n, e);
	for (size_t i = 0; i < n && !rc; i++)
		rc = put_u32(w, (uint32_t)v[i], e);
	return rc;
}

static uint64_t align_up(uint64_t x)
{
	return (x + GGUF_ALIGNMENT - 1) / GGUF_ALIGNMENT * GGUF_ALIGNMENT;
}

static const unsigned char zeros[GGUF_ALIGNMENT];

int gguf_write(struct gguf_writer *w, const char *path,
	       const struct tensor_src *t, size_t n,
	       const struct progress *prog, struct err *e)
{
	struct wfile f;
	unsigned char b[8];
	uint64_t *nbytes = NULL, total = 0;
	void *buf = NULL;
	float *scratch = NULL;
	int rc;

	if (!w->have_alignment &&
	    (rc = gguf_add_u32(w, "general.alignment", GGUF_ALIGNMENT, e)))
		return rc;
	if (!(nbytes = calloc(n ? n : 1, sizeof *nbytes)))
		return err_set(e, ERR_NOMEM, "gguf: out of memory");
	for (size_t i = 0; i < n; i++) {
		uint64_t numel;
		size_t nl = strlen(t[i].name);
		if (nl > GGUF_MAX_NAME) {
			free(nbytes);
			return err_set(e, ERR_INVALID,
				       "gguf: tensor name '%s' is longer than "
				       "%d bytes",
				       t[i].name, GGUF_MAX_NAME);
		}
		if (t[i].ndim < 1 || t[i].ndim > 4 ||
		    (rc = tensor_shape_size(t[i].ndim, t[i].shape, t[i].dtype,
					    t[i].name, &numel, &nbytes[i],
					    e))) {
			free(nbytes);
			return t[i].ndim < 1 || t[i].ndim > 4
				   ? err_set(e, ERR_INVALID,
					     "gguf: tensor '%s' has %d dims",
					     t[i].name, t[i].ndim)
				   : rc;
		}
		total += align_up(nbytes[i]);
	}
	buf = malloc(TENSOR_CHUNK_ELEMS * 4);
	scratch = malloc(TENSOR_CHUNK_ELEMS * sizeof *scratch);
	if (!buf || !scratch) {
		rc = err_set(e, ERR_NOMEM, "gguf: out of memory");
		goto out;
	}
	if ((rc = wfile_open(&f, path, e)))
		goto out;
	memcpy(b, "GGUF", 4);
	le32(b + 4, GGUF_VERSION);
	if ((rc = wfile_write(&f, b, 8, e)))
		goto fail;
	le64(b, n);
	if ((rc = wfile_write(&f, b, 8, e)))
		goto fail;
	le64(b, w->n_kv);
	if ((rc = wfile_write(&f, b, 8, e)) ||
	    (rc = wfile_write(&f, w->kv, w->len, e)))
		goto fail;
	uint64_t off = 0;
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(t[i].name);
		le64(b, nl);
		if ((rc = wfile_write(&f, b, 8, e)) ||
		    (rc = wfile_write(&f, t[i].name, nl, e)))
			goto fail;
		le32(b, (uint32_t)t[i].ndim);
		if ((rc = wfile_write(&f, b, 4, e)))
			goto fail;
		for (int k = t[i].ndim - 1; k >= 0; k--) {
			le64(b, (uint64_t)t[i].shape[k]);
			if ((rc = wfile_write(&f, b, 8, e)))
				goto fail;
		}
		le32(b, gguf_ggml_type(t[i].dtype));
		if ((rc = wfile_write(&f, b, 4, e)))
			goto fail;
		le64(b, off);
		if ((rc = wfile_write(&f, b, 8, e)))
			goto fail;
		off += align_up(nbytes[i]);
	}
	uint64_t pad = align_up(f.pos) - f.pos;
	if ((rc = wfile_write(&f, zeros, (size_t)pad, e)))
		goto fail;
	uint64_t done = 0;
	for (size_t i = 0; i < n; i++) {
		size_t es = dtype_size(t[i].dtype);
		uint64_t numel = nbytes[i] / es;
		for (uint64_t at = 0; at < numel; at += TENSOR_CHUNK_ELEMS) {
			uint64_t cnt = numel - at < TENSOR_CHUNK_ELEMS
					   ? numel - at
					   : TENSOR_CHUNK_ELEMS;
			if ((rc = tensor_src_chunk(&t[i], buf, scratch, at, cnt,
						   e)) ||
			    (rc = wfile_write(&f, buf, (size_t)(cnt * es), e)))
				goto fail;
			done += cnt * es;
			if ((rc = progress_report(
				 prog, total ? (double)done / total : 1.0,
				 "writing gguf", e)))
				goto fail;
		}
		pad = align_up(nbytes[i]) - nbytes[i];
		if ((rc = wfile_write(&f, zeros, (size_t)pad, e)))
			goto fail;
	}
	if ((rc = wfile_commit(&f, e)))
		wfile_abort(&f);
	goto out;
fail:
	wfile_abort(&f);
out:
	free(nbytes);
	free(buf);
	free(scratch);
	return rc;
}
