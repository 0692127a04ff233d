/*
 * safetensors — read and write the Hugging Face safetensors format.
 *
 * Layout: u64 little-endian header length H, H bytes of JSON
 *   {"__metadata__": {...}, "name": {"dtype": "F32", "shape": [..],
 *    "data_offsets": [begin, end]}, ...}
 * then the data section; offsets are relative to its start (8 + H).
 *
 * Reading is zero-copy: safetensors_parse() works on a buffer (normally a
 * file mapping opened by weights.h) and hands out tensors (tensor.h) whose
 * data pointers point into it. The header is hostile: its length, every
 * dtype, shape and offset are range-checked (byte counts through
 * tensor_shape_size); tensors may not overlap; only F32, F16 and BF16 are
 * accepted (other valid dtypes: ERR_UNSUPPORTED naming dtype and tensor).
 *
 * Writing streams: safetensors_write() never holds a whole tensor, pads the
 * header with spaces so the data starts 8-byte aligned, sorts names like the
 * reference writer and adds "__metadata__": {"format": "pt"}.
 */
#ifndef PUNGUZA_SAFETENSORS_H
#define PUNGUZA_SAFETENSORS_H

#include <stddef.h>

#include "err.h"
#include "progress.h"
#include "tensor.h"

/* Largest header accepted (the reference implementation's limit). */
#define SAFETENSORS_MAX_HEADER ((uint64_t)100 << 20)

/* Parses len bytes at buf; `name` (the file) is used in error messages.
 * On success *out is a malloc'd array of *n tensors (in header order),
 * names malloc'd, data pointing into buf; free with tensor_array_free(). */
int safetensors_parse(const void *buf, size_t len, const char *name,
		      struct tensor **out, size_t *n, struct err *e);

/* Writes n tensors to path atomically (temporary + rename). Names must be
 * unique. prog (may be NULL) sees the fraction of data bytes written. */
int safetensors_write(const char *path, const struct tensor_src *t, size_t n,
		      const struct progress *prog, struct err *e);

/* safetensors_write with extra "__metadata__" strings: n_meta (key,
 * value) pairs in meta[2*i], meta[2*i + 1], after "format": "pt". */
int safetensors_write_meta(const char *path, const struct tensor_src *t,
			   size_t n, const char *const *meta, size_t n_meta,
			   const struct progress *prog, struct err *e);

/* Copies the "__metadata__" string `key` of the file in buf (len bytes,
 * `name` for messages) into out (cap bytes). ERR_NOTFOUND when absent or
 * not a string, ERR_FORMAT for a bad header or a value that does not fit. */
int safetensors_metadata(const void *buf, size_t len, const char *name,
			 const char *key, char *out, size_t cap,
			 struct err *e);

#endif
