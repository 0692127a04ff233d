/*
 * fileio — small, careful file helpers: read a whole (bounded) file, map a
 * file read-only, write a file atomically.
 *
 * Every function reports failures as "cannot open 'path': reason" etc.
 */
#ifndef PUNGUZA_FILEIO_H
#define PUNGUZA_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Reads all of path into a malloc'd buffer (NUL-terminated, *len excludes
 * the NUL). Refuses files larger than max_bytes. Caller frees *out. */
int file_read_all(const char *path, size_t max_bytes, char **out, size_t *len,
		  struct err *e);

/* A read-only, private mapping of a whole file. An empty file maps to
 * data == NULL, size == 0. */
struct file_map {
	const unsigned char *data;
	uint64_t size;
};

int file_map_open(const char *path, struct file_map *out, struct err *e);
void file_map_close(struct file_map *m); /* zeroed or closed map: no-op */

/* Writes len bytes to path atomically: into "path.tmp-XXXXXX" in the same
 * directory, fsync, rename. On any failure the temporary is removed and
 * path is untouched. */
int file_write_atomic(const char *path, const void *data, size_t len,
		      struct err *e);

/* Joins dir and name with one '/' into buf; ERR_INVALID when too long. */
int path_join(char *buf, size_t cap, const char *dir, const char *name,
	      struct err *e);

/* 1 when path exists (any type), else 0. */
int path_exists(const char *path);

/* 1 when path is a directory. */
int path_is_dir(const char *path);

#endif
