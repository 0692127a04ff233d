/*
 * weights — the named tensors of a checkpoint, memory-mapped: the
 * dispatcher that opens a model directory or file and hands each file to
 * the reader of its format (safetensors.h, torchbin.h).
 *
 * A struct weights is a read-only set of tensors (tensor.h) gathered from
 * one model directory, whatever its format:
 *   model.safetensors | model.safetensors.index.json (+ shards) |
 *   pytorch_model.bin | pytorch_model.bin.index.json (+ shards).
 * Preference, when several are present: safetensors first, then .bin.
 *
 * Data pointers point into read-only private mappings of the files (never a
 * second copy): f32 tensors are used in place; other dtypes are converted by
 * the caller (see dtype.h). Every offset and size read from a file has been
 * range-checked by its reader before a struct tensor is handed out: data +
 * nbytes lies inside its file and nbytes == product(shape) *
 * dtype_size(dtype).
 *
 * Ownership: the struct weights owns the mappings, names and tensor array;
 * pointers from weights_find()/weights_at() live until weights_free().
 */
#ifndef PUNGUZA_WEIGHTS_H
#define PUNGUZA_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "progress.h"
#include "tensor.h"

struct weights;

/* Opens the checkpoint in directory dir. Errors name the file and problem:
 * "no weights in 'dir' (looked for model.safetensors, ...)". */
int weights_open_dir(const char *dir, struct weights **out,
		     const struct progress *prog, struct err *e);

/* Opens one file: *.safetensors or a PyTorch zip (*.bin, *.pt). A legacy
 * (non-zip) torch.save file is recognised by its magic number and refused
 * with ERR_UNSUPPORTED saying how to re-save it. */
int weights_open_file(const char *path, struct weights **out, struct err *e);

/* Looks a tensor up by its exact name; NULL when absent. */
const struct tensor *weights_find(const struct weights *w, const char *name);

size_t weights_count(const struct weights *w);
const struct tensor *weights_at(const struct weights *w, size_t i);

/* "safetensors", "safetensors (sharded, N files)", "pytorch", ... */
const char *weights_format(const struct weights *w);

/* Total bytes of the files mapped. */
uint64_t weights_file_bytes(const struct weights *w);

/* Checks the integrity of t's bytes where the format allows: a PyTorch
 * zip's storage entry gets its CRC-32 checked, once per storage (the
 * first call reads it whole; later calls for it and its other tensors
 * are free). Safetensors files carry no checksum: 0. ERR_FORMAT "'file':
 * zip entry 'x' is corrupt (...)" when the bytes changed. Not thread-safe
 * (model_load calls it for every tensor it uses). */
int weights_check(const struct weights *w, const struct tensor *t,
		  struct err *e);

void weights_free(struct weights *w);

#endif
