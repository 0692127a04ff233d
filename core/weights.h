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

/* ---- Shared by the parsers and the writers (safetensors, torchzip) ---- */

/* Frees n tensors whose names were malloc'd one by one (what
 * safetensors_parse and torchzip_parse hand out), then the array. */
void tensor_array_free(struct tensor *t, size_t n);

/* Checks ndim (0..TENSOR_MAX_DIMS) and dims (>= 0) and computes numel and
 * nbytes without overflow; `subject` names the tensor in errors. */
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

/*
 * A file written atomically and streamed: bytes go to "path.tmp-XXXXXX" in
 * the same directory through a buffer; wfile_commit() flushes, fsyncs and
 * renames it over path; wfile_abort() (also after any failed call) removes
 * the temporary. Errors name the final path: "cannot write 'x': No space
 * left on device". Used by safetensors_write and torchzip_write.
 */
struct wfile {
	int fd;
	char *path, *tmp;
	unsigned char *buf;
	size_t used;
	uint64_t pos; /* bytes written so far, buffered ones included */
};

int wfile_open(struct wfile *f, const char *path, struct err *e);
int wfile_write(struct wfile *f, const void *p, size_t n, struct err *e);
/* Writes n bytes at absolute offset off < pos (patching a header). */
int wfile_pwrite(struct wfile *f, uint64_t off, const void *p, size_t n,
		 struct err *e);
int wfile_commit(struct wfile *f, struct err *e);
void wfile_abort(struct wfile *f);

#endif
