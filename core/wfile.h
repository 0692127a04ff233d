/*
 * wfile — a file written atomically and streamed, for the checkpoint
 * writers (safetensors_write, torchbin_write, gguf_write).
 *
 * Bytes go to "path.tmp-XXXXXX" in the same directory through a buffer;
 * wfile_commit() flushes, fsyncs and renames it over path; wfile_abort()
 * (also after any failed call) removes the temporary, so path is either
 * the old file or the complete new one. Errors name the final path:
 * "cannot write 'x': No space left on device".
 *
 * Ownership: the struct wfile owns its path copies, buffer and descriptor
 * until wfile_commit() or wfile_abort(); wfile_abort() on a zeroed struct
 * with fd = -1, or after a commit, is a no-op.
 */
#ifndef PUNGUZA_WFILE_H
#define PUNGUZA_WFILE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

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
