#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read_all(const char *path, size_t max_bytes, char **out, size_t *len,
		  struct err *e)
{
	*out = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, errno == ENOENT ? ERR_NOTFOUND : ERR_IO,
				 "cannot open '%s'", path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return err_errno(e, ERR_IO, "cannot stat '%s'", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, ERR_IO, "'%s' is not a regular file", path);
	}
	if ((uint64_t)st.st_size > max_bytes) {
		close(fd);
		return err_set(e, ERR_FORMAT,
			       "'%s' is too large (%lld bytes, limit %zu)", path,
			       (long long)st.st_size, max_bytes);
	}
	size_t size = (size_t)st.st_size;
	char *buf = malloc(size + 1);
	if (!buf) {
		close(fd);
		return err_set(e, ERR_NOMEM, "'%s': out of memory", path);
	}
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			close(fd);
			return err_errno(e, ERR_IO, "cannot read '%s'", path);
		}
		if (n == 0)
			break; /* file shrank under us: take what is there */
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

int file_map_open(const char *path, struct file_map *out, struct err *e)
{
	out->data = NULL;
	out->size = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, errno == ENOENT ? ERR_NOTFOUND : ERR_IO,
				 "cannot open '%s'", path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return err_errno(e, ERR_IO, "cannot stat '%s'", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, ERR_IO, "'%s' is not a regular file", path);
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return err_set(e, ERR_FORMAT, "'%s' is too large to map", path);
	}
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return err_errno(e, ERR_IO, "cannot map '%s'", path);
	out->data = p;
	out->size = (uint64_t)st.st_size;
	return 0;
}

void file_map_close(struct file_map *m)
{
	if (m && m->data)
		munmap((void *)m->data, (size_t)m->size);
	if (m) {
		m->data = NULL;
		m->size = 0;
	}
}

int file_write_atomic(const char *path, const void *data, size_t len,
		      struct err *e)
{
	size_t n = strlen(path);
	char *tmp = malloc(n + 16);
	if (!tmp)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", path);
	memcpy(tmp, path, n);
	memcpy(tmp + n, ".tmp-XXXXXX", 12);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int rc = err_errno(e, ERR_IO, "cannot create '%s'", tmp);
		free(tmp);
		return rc;
	}
	const unsigned char *p = data;
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int rc = err_errno(e, ERR_IO, "cannot write '%s'", tmp);
			close(fd);
			unlink(tmp);
			free(tmp);
			return rc;
		}
		done += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		int rc = err_errno(e, ERR_IO, "cannot write '%s'", tmp);
		unlink(tmp);
		free(tmp);
		return rc;
	}
	/* mkstemp makes 0600; a written model file should be readable. */
	mode_t um = umask(0);
	umask(um);
	chmod(tmp, 0666 & ~um);
	if (rename(tmp, path) < 0) {
		int rc = err_errno(e, ERR_IO, "cannot rename '%s' to '%s'", tmp,
				   path);
		unlink(tmp);
		free(tmp);
		return rc;
	}
	free(tmp);
	return 0;
}

int path_join(char *buf, size_t cap, const char *dir, const char *name,
	      struct err *e)
{
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	int n = snprintf(buf, cap, "%.*s/%s", (int)dl, dir, name);
	if (n < 0 || (size_t)n >= cap)
		return err_set(e, ERR_INVALID, "path '%s/%s' is too long", dir,
			       name);
	return 0;
}

int path_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

int path_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
