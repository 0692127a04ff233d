/*
 * fileio — small, careful file helpers: read a whole (bounded) file, map a
 * file read-only, write a file atomically.
 *
 * Every function reports failures as "cannot open 'path': reason" etc.
 */
#ifndef PUNGUZA_FILEIO_H
#define PUNGUZA_FILEIO_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Reads all of path into a malloc'd buffer (NUL-terminated, *len excludes
 * the NUL). Refuses files larger than max_bytes. Caller frees *out.
 * Here and in file_map_open only a regular file is accepted ("'x' is not a
 * regular file"); the open never blocks (O_NONBLOCK: a FIFO is refused,
 * not waited on). */
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

/* The last part of a path, trailing slashes ignored ("models/inkubalm/"
 * -> "inkubalm"), into buf (cut to cap). The name a model directory goes
 * by: the explorer's title and a recipe's source_name. */
void path_base_name(const char *path, char *buf, size_t cap);

/* Resolves path as realpath(3) does (absolute, symlinks followed, no "."
 * or ".."), also when it does not exist yet: its longest existing prefix
 * is resolved and the rest appended, "." and ".." of the rest applied
 * lexically. buf receives at most cap bytes (PATH_MAX is enough). */
int path_resolve(const char *path, char *buf, size_t cap, struct err *e);

/* 1 when a and b resolve (path_resolve) to the same path or one lies
 * inside the other, 0 when neither does, < 0 on error. */
int path_overlaps(const char *a, const char *b, struct err *e);

/* Removes a file or a directory tree (symlinks removed, never followed);
 * a missing path is not an error. */
int path_remove_tree(const char *path, struct err *e);

/* 1 when the directory path holds nothing, 0 when it holds something,
 * a negative ERR_* when it cannot be read. */
int path_dir_empty(const char *path, struct err *e);

/*
 * An output directory written atomically, as every command that writes a
 * directory must (prune's export, vocab):
 *   out_dir_begin   refuses an OUT that is, holds or lies inside src (the
 *                   source is never written; src may be a file or a
 *                   directory, NULL for none), an OUT that exists and is
 *                   not a directory, and a non-empty OUT unless force;
 *                   then creates the temporary "OUT.tmp-XXXXXX" beside it
 *   (the caller writes into d->tmp)
 *   out_dir_commit  renames the temporary to OUT; an existing OUT (force)
 *                   is moved aside first and removed only after the new
 *                   one is in place
 *   out_dir_abort   removes the temporary (after a failure; a no-op after
 *                   a commit or a refused begin)
 */
struct out_dir {
	char out[PATH_MAX];      /* OUT without trailing slashes */
	char tmp[PATH_MAX + 16]; /* the temporary ("" when there is none) */
	bool exists;             /* OUT existed at begin */
};

/* The checks of out_dir_begin alone (nothing created); *exists may be
 * NULL. */
int out_dir_check(const char *out, const char *src, bool force, bool *exists,
		  struct err *e);
int out_dir_begin(struct out_dir *d, const char *out, const char *src,
		  bool force, struct err *e);
int out_dir_commit(struct out_dir *d, struct err *e);
void out_dir_abort(struct out_dir *d);

#endif
