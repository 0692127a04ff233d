#include "tensor.h"

#include <stdlib.h>
#include <string.h>

void tensor_array_free(struct tensor *t, size_t n)
{
	if (!t)
		return;
	for (size_t i = 0; i < n; i++)
		free((char *)t[i].name);
	free(t);
}

int tensor_shape_size(int ndim, const int64_t *shape, enum dtype dtype,
		      const char *subject, uint64_t *numel, uint64_t *nbytes,
		      struct err *e)
{
	if (ndim < 0 || ndim > TENSOR_MAX_DIMS)
		return err_set(e, ERR_UNSUPPORTED,
			       "tensor '%s' has %d dimensions (at most %d)",
			       subject, ndim, TENSOR_MAX_DIMS);
	uint64_t n = 1;
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0)
			return err_set(e, ERR_FORMAT,
				       "tensor '%s' has a negative dimension",
				       subject);
		uint64_t d = (uint64_t)shape[i];
		if (d && n > UINT64_MAX / d)
			return err_set(e, ERR_FORMAT,
				       "tensor '%s': shape product overflows",
				       subject);
		n *= d;
	}
	uint64_t es = dtype_size(dtype);
	if (n > (UINT64_MAX >> 1) / es) /* keep nbytes well inside 64 bits */
		return err_set(e, ERR_FORMAT,
			       "tensor '%s': shape product overflows", subject);
	*numel = n;
	*nbytes = n * es;
	return 0;
}

int tensor_src_chunk(const struct tensor_src *t, void *dst, float *scratch,
		     uint64_t first, uint64_t count, struct err *e)
{
	if (count > TENSOR_CHUNK_ELEMS)
		return err_set(e, ERR_INVALID, "tensor '%s': chunk too large",
			       t->name);
	if (t->src) {
		size_t ss = dtype_size(t->src_dtype);
		const unsigned char *s =
		    (const unsigned char *)t->src + first * ss;
		if (t->src_dtype == t->dtype) {
			memcpy(dst, s, (size_t)count * ss);
			return 0;
		}
		if (t->src_dtype == DTYPE_F32) {
			dtype_from_f32(dst, (const float *)(const void *)s,
				       t->dtype, (size_t)count);
			return 0;
		}
		dtype_to_f32(scratch, s, t->src_dtype, (size_t)count);
	} else if (t->fill) {
		int rc = t->fill(t->ctx, scratch, first, count, e);
		if (rc < 0)
			return rc;
	} else {
		return err_set(e, ERR_INVALID, "tensor '%s' has no source",
			       t->name);
	}
	if (t->dtype == DTYPE_F32)
		memcpy(dst, scratch, (size_t)count * 4);
	else
		dtype_from_f32(dst, scratch, t->dtype, (size_t)count);
	return 0;
}
