#include "wfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WFILE_BUF ((size_t)1 << 20)

int wfile_open(struct wfile *f, const char *path, struct err *e)
{
	memset(f, 0, sizeof *f);
	f->fd = -1;
	size_t n = strlen(path);
	f->path = strdup(path);
	f->tmp = malloc(n + 12);
	f->buf = malloc(WFILE_BUF);
	if (!f->path || !f->tmp || !f->buf) {
		wfile_abort(f);
		return err_set(e, ERR_NOMEM, "'%s': out of memory", path);
	}
	memcpy(f->tmp, path, n);
	memcpy(f->tmp + n, ".tmp-XXXXXX", 12);
	f->fd = mkstemp(f->tmp);
	if (f->fd < 0) {
		int rc = err_errno(e, ERR_IO, "cannot create '%s'", path);
		free(f->tmp); /* nothing was created: nothing to unlink */
		f->tmp = NULL;
		wfile_abort(f);
		return rc;
	}
	return 0;
}

static int write_all(int fd, const void *p, size_t n, const char *path,
		     struct err *e)
{
	const unsigned char *q = p;
	while (n) {
		ssize_t w = write(fd, q, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return err_errno(e, ERR_IO, "cannot write '%s'", path);
		if (w == 0) {
			errno = ENOSPC;
			return err_errno(e, ERR_IO, "cannot write '%s'", path);
		}
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

static int wfile_flush(struct wfile *f, struct err *e)
{
	if (f->used) {
		int rc = write_all(f->fd, f->buf, f->used, f->path, e);
		if (rc < 0)
			return rc;
		f->used = 0;
	}
	return 0;
}

int wfile_write(struct wfile *f, const void *p, size_t n, struct err *e)
{
	if (f->fd < 0)
		return err_set(e, ERR_INVALID, "write to a closed file");
	const unsigned char *q = p;
	f->pos += n;
	while (n) {
		if (f->used == WFILE_BUF) {
			int rc = wfile_flush(f, e);
			if (rc < 0)
				return rc;
		}
		size_t k = WFILE_BUF - f->used;
		if (k > n)
			k = n;
		memcpy(f->buf + f->used, q, k);
		f->used += k;
		q += k;
		n -= k;
	}
	return 0;
}

int wfile_pwrite(struct wfile *f, uint64_t off, const void *p, size_t n,
		 struct err *e)
{
	if (f->fd < 0 || off + n > f->pos)
		return err_set(e, ERR_INVALID, "'%s': patch outside the file",
			       f->path ? f->path : "?");
	int rc = wfile_flush(f, e);
	if (rc < 0)
		return rc;
	const unsigned char *q = p;
	while (n) {
		ssize_t w = pwrite(f->fd, q, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return err_errno(e, ERR_IO, "cannot write '%s'",
					 f->path);
		q += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

int wfile_commit(struct wfile *f, struct err *e)
{
	int rc = wfile_flush(f, e);
	if (rc < 0)
		return rc;
	if (fsync(f->fd) < 0)
		return err_errno(e, ERR_IO, "cannot write '%s'", f->path);
	/* mkstemp makes 0600; a written model file should be readable. */
	mode_t um = umask(0);
	umask(um);
	if (fchmod(f->fd, 0666 & ~um) < 0)
		return err_errno(e, ERR_IO, "cannot chmod '%s'", f->path);
	int fd = f->fd;
	f->fd = -1;
	if (close(fd) < 0)
		return err_errno(e, ERR_IO, "cannot write '%s'", f->path);
	if (rename(f->tmp, f->path) < 0)
		return err_errno(e, ERR_IO, "cannot rename '%s' to '%s'",
				 f->tmp, f->path);
	free(f->tmp);
	f->tmp = NULL; /* renamed: nothing left to remove */
	wfile_abort(f);
	return 0;
}

void wfile_abort(struct wfile *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	if (f->tmp)
		unlink(f->tmp);
	free(f->tmp);
	free(f->path);
	free(f->buf);
	memset(f, 0, sizeof *f);
	f->fd = -1;
}
