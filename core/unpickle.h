/*
 * unpickle — a RESTRICTED unpickler that reads a PyTorch state dict (the
 * data.pkl of a torch.save checkpoint, see torchbin.h) and never executes
 * anything.
 *
 * It knows only the opcodes a state dict uses (protocols 2-5) and the
 * globals collections.OrderedDict, torch._utils._rebuild_tensor_v2,
 * torch._utils._rebuild_parameter and the storage types
 * torch.{Float,Half,BFloat16}Storage; any other global, REDUCE or BUILD on
 * anything else, or an unknown opcode is refused with an error naming it
 * and its offset ("'x': pickle ... at offset N"). It never imports or
 * calls anything: "calls" are interpreted as data. The pickle is hostile:
 * sizes (stack, memo, memory) are bounded, every length is checked against
 * the bytes left, and each tensor must be contiguous row-major, with a
 * shape whose byte count does not overflow (tensor_shape_size), lying
 * inside the storage its persistent id declares. Whether that storage
 * exists, and is large enough, is the caller's to check (torchbin.c).
 *
 * Ownership: unpickle_state_dict() hands out a malloc'd array whose names
 * and keys are malloc'd; unpickle_free() frees them (NULL: no-op).
 */
#ifndef PUNGUZA_UNPICKLE_H
#define PUNGUZA_UNPICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "err.h"
#include "tensor.h"

/* Largest pickle accepted, and the unpickler's memory budget. */
#define UNPICKLE_MAX_PICKLE ((size_t)256 << 20)
#define UNPICKLE_MAX_MEMORY ((size_t)256 << 20)

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

/* Reads a pickled state dict (a dict or OrderedDict of tensors) from len
 * bytes at buf; `name` (the file) is used in error messages. *out:
 * malloc'd array of *n entries in state-dict order; free with
 * unpickle_free(). */
int unpickle_state_dict(const void *buf, size_t len, const char *name,
			struct pickled_tensor **out, size_t *n, struct err *e);
void unpickle_free(struct pickled_tensor *t, size_t n);

#endif
