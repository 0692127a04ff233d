/*
 * gguf — write GGUF files (version 3, little-endian), the format llama.cpp
 * loads.
 *
 * Layout written (ggml docs/gguf.md):
 *   "GGUF" u32 version=3, u64 tensor_count, u64 kv_count,
 *   kv pairs:  string key, u32 value type, value
 *              (string = u64 length + bytes, no NUL; array = u32 element
 *               type + u64 count + elements),
 *   tensor infos: string name, u32 n_dims, u64 ne[n_dims] (ne[0] is the
 *              innermost: a PyTorch [out, in] matrix has ne = {in, out}),
 *              u32 ggml type (F32 0, F16 1, BF16 30), u64 offset from the
 *              start of the data section (a multiple of the alignment),
 *   zero padding to the alignment (32, written as general.alignment),
 *   tensor data, each tensor padded to the alignment.
 *
 * Usage: gguf_writer_new; gguf_add_* metadata in the order it should appear
 * (keys unique); gguf_write(path, tensors) streams the tensors through
 * tensor_src (tensor.h: a pointer or a fill callback, converted to each
 * tensor's dtype) into an atomically written file. The writer holds only
 * the metadata bytes; it never holds a tensor.
 *
 * Ownership: the writer copies keys and values; gguf_writer_free frees it.
 */
#ifndef PUNGUZA_GGUF_H
#define PUNGUZA_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "progress.h"
#include "tensor.h"

#define GGUF_VERSION 3
#define GGUF_ALIGNMENT 32
#define GGUF_MAX_NAME 64 /* tensor names, bytes */

enum gguf_type {
	GGUF_TYPE_UINT8 = 0,
	GGUF_TYPE_INT8 = 1,
	GGUF_TYPE_UINT16 = 2,
	GGUF_TYPE_INT16 = 3,
	GGUF_TYPE_UINT32 = 4,
	GGUF_TYPE_INT32 = 5,
	GGUF_TYPE_FLOAT32 = 6,
	GGUF_TYPE_BOOL = 7,
	GGUF_TYPE_STRING = 8,
	GGUF_TYPE_ARRAY = 9,
	GGUF_TYPE_UINT64 = 10,
	GGUF_TYPE_INT64 = 11,
	GGUF_TYPE_FLOAT64 = 12,
};

/* ggml tensor types punguza writes. */
#define GGML_TYPE_F32 0
#define GGML_TYPE_F16 1
#define GGML_TYPE_BF16 30

/* The ggml type of a dtype. */
uint32_t gguf_ggml_type(enum dtype t);

struct gguf_writer;

int gguf_writer_new(struct gguf_writer **out, struct err *e);
void gguf_writer_free(struct gguf_writer *w); /* NULL is a no-op */

int gguf_add_str(struct gguf_writer *w, const char *key, const char *val,
		 struct err *e);
int gguf_add_u32(struct gguf_writer *w, const char *key, uint32_t v,
		 struct err *e);
int gguf_add_f32(struct gguf_writer *w, const char *key, float v,
		 struct err *e);
int gguf_add_bool(struct gguf_writer *w, const char *key, bool v,
		  struct err *e);
/* n strings; len[i] bytes of s[i] (len NULL: NUL-terminated). */
int gguf_add_str_array(struct gguf_writer *w, const char *key,
		       const char *const *s, const size_t *len, size_t n,
		       struct err *e);
int gguf_add_f32_array(struct gguf_writer *w, const char *key, const float *v,
		       size_t n, struct err *e);
int gguf_add_i32_array(struct gguf_writer *w, const char *key,
		       const int32_t *v, size_t n, struct err *e);

/* Writes the metadata and n tensors (t[i].shape in PyTorch order, reversed
 * into ne here; dtype F32, F16 or BF16) to path atomically. Adds
 * general.alignment first if not given. prog sees the data bytes. */
int gguf_write(struct gguf_writer *w, const char *path,
	       const struct tensor_src *t, size_t n,
	       const struct progress *prog, struct err *e);

#endif
