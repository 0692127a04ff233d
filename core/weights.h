/*
 * weights — the named tensors of a checkpoint, memory-mapped.
 *
 * A struct weights is a read-only set of tensors gathered from one model
 * directory, whatever its format:
 *   model.safetensors | model.safetensors.index.json (+ shards) |
 *   pytorch_model.bin | pytorch_model.bin.index.json (+ shards).
 * Preference, when several are present: safetensors first, then .bin.
 *
 * Data pointers point into read-only private mappings of the files (never a
 * second copy): f32 tensors are used in place; other dtypes are converted by
 * the caller (see dtype.h). Every offset and size read from a file has been
 * range-checked before a struct tensor is handed out: data + nbytes lies
 * inside its file and nbytes == product(shape) * dtype_size(dtype).
 *
 * Ownership: the struct weights owns the mappings, names and tensor array;
 * pointers from weights_find()/weights_at() live until weights_free().
 */
#ifndef PUNGUZA_WEIGHTS_H
#define PUNGUZA_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "err.h"
#include "progress.h"

#define TENSOR_MAX_DIMS 8

struct tensor {
	const char *name;
	enum dtype dtype;
	int ndim;
	int64_t shape[TENSOR_MAX_DIMS]; /* row-major; shape[0] is outermost */
	const void *data;               /* inside a mapping; may be unaligned
					   for f16/bf16, 4-byte aligned f32 is
					   not guaranteed either: check */
	uint64_t nbytes;
	uint64_t numel;
};

struct weights;

/* Opens the checkpoint in directory dir. Errors name the file and problem:
 * "no weights in 'dir' (looked for model.safetensors, ...)". */
int weights_open_dir(const char *dir, struct weights **out,
		     const struct progress *prog, struct err *e);

/* Opens one file: *.safetensors or a PyTorch zip (*.bin, *.pt). */
int weights_open_file(const char *path, struct weights **out, struct err *e);

/* Looks a tensor up by its exact name; NULL when absent. */
const struct tensor *weights_find(const struct weights *w, const char *name);

size_t weights_count(const struct weights *w);
const struct tensor *weights_at(const struct weights *w, size_t i);

/* "safetensors", "safetensors (sharded, N files)", "pytorch", ... */
const char *weights_format(const struct weights *w);

/* Total bytes of the files mapped. */
uint64_t weights_file_bytes(const struct weights *w);

void weights_free(struct weights *w);

#endif
