/*
 * tensor — a named, typed, shaped block of bytes: what the checkpoint
 * readers hand out (struct tensor) and what the writers take (struct
 * tensor_src).
 *
 * A struct tensor handed out by a reader (safetensors.h, torchbin.h) has
 * been range-checked: data + nbytes lies inside the buffer it was parsed
 * from, and nbytes == product(shape) * dtype_size(dtype), computed without
 * overflow (tensor_shape_size). Its data pointer points into the caller's
 * buffer, never into a copy; its name is malloc'd.
 *
 * Ownership: an array of tensors from a reader is freed with
 * tensor_array_free() (names one by one, then the array); a struct
 * tensor_src borrows everything it points to.
 */
#ifndef PUNGUZA_TENSOR_H
#define PUNGUZA_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "err.h"

#define TENSOR_MAX_DIMS 8

struct tensor {
	const char *name;
	enum dtype dtype;
	int ndim;
	int64_t shape[TENSOR_MAX_DIMS]; /* row-major; shape[0] is outermost */
	const void *data;		/* inside a mapping; may be unaligned
					   for f16/bf16, 4-byte aligned f32 is
					   not guaranteed either: check */
	uint64_t nbytes;
	uint64_t numel;
};

/* Frees n tensors whose names were malloc'd one by one (what
 * safetensors_parse and torchbin_parse hand out), then the array.
 * tensor_array_free(NULL, n) is a no-op. */
void tensor_array_free(struct tensor *t, size_t n);

/* Checks ndim (0..TENSOR_MAX_DIMS) and dims (>= 0) and computes numel and
 * nbytes without overflow; `subject` names the tensor in errors. The one
 * place a shape read from a file becomes a byte count. */
int tensor_shape_size(int ndim, const int64_t *shape, enum dtype dtype,
		      const char *subject, uint64_t *numel, uint64_t *nbytes,
		      struct err *e);

/*
 * A tensor to write. Its values come from `src` (src_dtype, row-major,
 * converted to `dtype` while writing; copied as is when the dtypes match)
 * or, when src is NULL, from fill(), which writes `count` f32 values of
 * elements [first, first + count) to dst and returns 0 or an ERR_* code
 * (with e filled). Writers stream: they never hold a whole tensor.
 */
struct tensor_src {
	const char *name;
	enum dtype dtype; /* in the file */
	int ndim;
	int64_t shape[TENSOR_MAX_DIMS];
	const void *src;
	enum dtype src_dtype;
	int (*fill)(void *ctx, float *dst, uint64_t first, uint64_t count,
		    struct err *e);
	void *ctx;
};

/* Elements per chunk the writers ask for (and the scratch they need). */
#define TENSOR_CHUNK_ELEMS ((uint64_t)1 << 16)

/* Puts elements [first, first + count) of t, in t->dtype, at dst
 * (count * dtype_size bytes); scratch holds count floats. count <=
 * TENSOR_CHUNK_ELEMS. */
int tensor_src_chunk(const struct tensor_src *t, void *dst, float *scratch,
		     uint64_t first, uint64_t count, struct err *e);

#endif
