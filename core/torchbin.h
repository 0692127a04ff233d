/*
 * torchbin — PyTorch's `torch.save` checkpoints (pytorch_model.bin, .pt):
 * a zip archive (zip.h)
 *   <archive>/data.pkl      the pickled state dict (unpickle.h)
 *   <archive>/data/<key>    one raw little-endian storage per key
 *   <archive>/version       "3\n"
 * whose entries are STORED (not compressed), so tensors are read in place.
 *
 * Reading: torchbin_parse() opens the zip, finds data.pkl (its directory
 * is the archive prefix), checks its CRC-32, unpickles it with the
 * restricted unpickler, and maps each tensor into its storage entry
 * <prefix>/data/<key>: the entry must exist, be stored and lie inside the
 * buffer, and hold the elements the pickle declares; tensors must be
 * contiguous row-major inside their storage. Data pointers point into the
 * caller's buffer (the file mapping).
 *
 * Writing: torchbin_write() streams a state dict (an OrderedDict of
 * _rebuild_tensor_v2 calls, one storage per tensor) that torch.load reads,
 * with zip64 records when sizes or offsets need them.
 */
#ifndef PUNGUZA_TORCHBIN_H
#define PUNGUZA_TORCHBIN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "progress.h"
#include "tensor.h"
#include "zip.h"

/* Parses the archive in len bytes at buf (`name`, the file, is used in
 * error messages). *out: malloc'd array of *n tensors in state-dict order,
 * names malloc'd, data inside buf; free with tensor_array_free().
 * data.pkl's CRC-32 is checked here; the storages' are not (that would
 * read the whole file): see torchbin_parse_entries. */
int torchbin_parse(const void *buf, size_t len, const char *name,
		   struct tensor **out, size_t *n, struct err *e);

/* torchbin_parse, and when zents is not NULL also the storage entries the
 * tensors use, each once, sorted by data address (*zents malloc'd, caller
 * frees), so a user can check each storage's CRC on first use
 * (zip_check_entry; weights.h: weights_check). */
int torchbin_parse_entries(const void *buf, size_t len, const char *name,
			   struct tensor **out, size_t *n,
			   struct zip_entry **zents, size_t *n_zents,
			   struct err *e);

/* Options of torchbin_write; zero-initialised means the defaults. */
struct torchbin_write_opts {
	int force_zip64; /* zip64 records even when small (tests) */
};

/* Writes n tensors as a torch.save checkpoint to path, atomically, one
 * storage per tensor, data 64-byte aligned as PyTorch does. opts and prog
 * may be NULL. */
int torchbin_write(const char *path, const struct tensor_src *t, size_t n,
		   const struct torchbin_write_opts *opts,
		   const struct progress *prog, struct err *e);

#endif
