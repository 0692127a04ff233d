/*
 * torchzip — PyTorch's `torch.save` checkpoints (.bin/.pt): a zip archive
 *   <archive>/data.pkl      the pickled state dict
 *   <archive>/data/<key>    one raw little-endian storage per key
 *   <archive>/version       "3\n"
 * whose entries are STORED (not compressed), so tensors are read in place.
 *
 * Reading: torchzip_parse() walks the zip (end of central directory found
 * by a bounded backwards search, zip64 records and extra fields, central
 * entries, local headers for the true data start), then runs a RESTRICTED
 * unpickler over data.pkl. The unpickler knows only the opcodes a state
 * dict uses (protocols 2-5) and the globals collections.OrderedDict,
 * torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and the
 * storage types torch.{Float,Half,BFloat16}Storage; any other global,
 * REDUCE or BUILD on anything else, or an unknown opcode is refused with an
 * error naming it. It never imports or calls anything: "calls" are
 * interpreted as data. Sizes (stack, memo, memory) are bounded. Tensors
 * must be contiguous row-major and lie inside their storage entry; data
 * pointers point into the caller's buffer (the file mapping).
 *
 * Writing: torchzip_write() streams a state dict (an OrderedDict of
 * _rebuild_tensor_v2 calls, one storage per tensor) that torch.load reads,
 * with zip64 records when sizes or offsets need them.
 */
#ifndef PUNGUZA_TORCHZIP_H
#define PUNGUZA_TORCHZIP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "progress.h"
#include "weights.h"

/* Largest data.pkl accepted, and the unpickler's memory budget. */
#define TORCHZIP_MAX_PICKLE ((size_t)256 << 20)
#define TORCHZIP_MAX_MEMORY ((size_t)256 << 20)

/* Parses the archive in len bytes at buf (`name`, the file, is used in
 * error messages). *out: malloc'd array of *n tensors in state-dict order,
 * names malloc'd, data inside buf; free with tensor_array_free().
 * data.pkl's CRC-32 is checked here; the storages' are not (that would
 * read the whole file): see torchzip_parse_entries. */
int torchzip_parse(const void *buf, size_t len, const char *name,
		   struct tensor **out, size_t *n, struct err *e);

/* A stored zip entry: its bytes (inside the caller's buffer), the CRC-32
 * the central directory records for them and its name (not
 * NUL-terminated, inside the buffer). */
struct torchzip_entry {
	const unsigned char *data;
	uint64_t size;
	uint32_t crc;
	const char *name;
	size_t name_len;
};

/* torchzip_parse, and when zents is not NULL also the storage entries the
 * tensors use, each once, sorted by data address (*zents malloc'd, caller
 * frees), so a user can check each storage's CRC on first use
 * (weights.h: weights_check). */
int torchzip_parse_entries(const void *buf, size_t len, const char *name,
			   struct tensor **out, size_t *n,
			   struct torchzip_entry **zents, size_t *n_zents,
			   struct err *e);

/* Checks an entry's CRC-32 (reads all its bytes): ERR_FORMAT "'file': zip
 * entry 'x' is corrupt (CRC-32 ..., the archive says ...)". */
int torchzip_check_entry(const struct torchzip_entry *z, const char *file,
			 struct err *e);

/* CRC-32 as zip computes it (table-driven, slicing by 8); start from 0. */
uint32_t torchzip_crc32(uint32_t crc, const void *buf, size_t n);

/* One tensor as the pickle describes it. */
struct pickled_tensor {
	char *name;		/* state-dict key */
	enum dtype dtype;	/* from the storage type */
	char *key;		/* storage: the entry <archive>/data/<key> */
	uint64_t storage_numel; /* elements, as the persistent id says */
	uint64_t offset;	/* storage offset, in elements */
	int ndim;
	int64_t shape[TENSOR_MAX_DIMS];
	uint64_t numel;
};

/* The restricted unpickler alone: reads a pickled state dict (a dict or
 * OrderedDict of tensors) from len bytes at buf. *out: malloc'd array of
 * *n entries; free with torchzip_pickled_free(). */
int torchzip_unpickle(const void *buf, size_t len, const char *name,
		      struct pickled_tensor **out, size_t *n, struct err *e);
void torchzip_pickled_free(struct pickled_tensor *t, size_t n);

/* Options of torchzip_write; zero-initialised means the defaults. */
struct torchzip_write_opts {
	int force_zip64; /* zip64 records even when small (tests) */
};

/* Writes n tensors as a torch.save checkpoint to path, atomically, one
 * storage per tensor, data 64-byte aligned as PyTorch does. opts and prog
 * may be NULL. */
int torchzip_write(const char *path, const struct tensor_src *t, size_t n,
		   const struct torchzip_write_opts *opts,
		   const struct progress *prog, struct err *e);

#endif
