#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Opens path read-only (O_NONBLOCK: a FIFO must not hang us) into *fd and
 * checks that it is a regular file, its stat in *st. 0 or an error code. */
static int open_regular(const char *path, int *fd, struct stat *st,
			struct err *e)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (*fd < 0)
		return err_errno(e, errno == ENOENT ? ERR_NOTFOUND : ERR_IO,
				 "cannot open '%s'", path);
	int rc = 0;
	if (fstat(*fd, st) < 0)
		rc = err_errno(e, ERR_IO, "cannot stat '%s'", path);
	else if (!S_ISREG(st->st_mode))
		rc = err_set(e, ERR_IO, "'%s' is not a regular file", path);
	if (rc) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

int file_read_all(const char *path, size_t max_bytes, char **out, size_t *len,
		  struct err *e)
{
	*out = NULL;
	*len = 0;
	struct stat st;
	int fd, rc = open_regular(path, &fd, &st, e);
	if (rc)
		return rc;
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
	struct stat st;
	int fd, rc = open_regular(path, &fd, &st, e);
	if (rc)
		return rc;
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

int path_resolve(const char *path, char *buf, size_t cap, struct err *e)
{
	char pre[PATH_MAX], base[PATH_MAX];
	size_t n = path ? strlen(path) : 0;
	if (!n)
		return err_set(e, ERR_INVALID, "empty path");
	if (n >= sizeof pre)
		return err_set(e, ERR_INVALID, "'%s': path too long", path);
	/* The longest prefix that resolves: drop components from the end. */
	size_t cut = n;
	while (cut > 1 && path[cut - 1] == '/')
		cut--;
	for (;;) {
		if (cut == 0) {
			pre[0] = '.';
			pre[1] = '\0';
		} else {
			memcpy(pre, path, cut);
			pre[cut] = '\0';
		}
		if (realpath(pre, base))
			break;
		if (cut == 0 || (cut == 1 && path[0] == '/'))
			return err_errno(e, ERR_IO, "cannot resolve '%s'", path);
		while (cut > 0 && path[cut - 1] != '/')
			cut--;
		while (cut > 1 && path[cut - 1] == '/')
			cut--;
	}
	/* The rest, lexically. */
	size_t bl = strlen(base);
	const char *s = path + cut;
	while (*s) {
		while (*s == '/')
			s++;
		size_t cl = strcspn(s, "/");
		if (cl == 0 || (cl == 1 && s[0] == '.')) {
			/* nothing */
		} else if (cl == 2 && s[0] == '.' && s[1] == '.') {
			while (bl > 1 && base[bl - 1] != '/')
				bl--;
			if (bl > 1)
				bl--; /* the slash, unless it is the root */
			base[bl] = '\0';
		} else {
			if (bl + 1 + cl >= sizeof base)
				return err_set(e, ERR_INVALID,
					       "'%s': path too long", path);
			if (bl > 1)
				base[bl++] = '/';
			memcpy(base + bl, s, cl);
			bl += cl;
			base[bl] = '\0';
		}
		s += cl;
	}
	if (bl >= cap)
		return err_set(e, ERR_INVALID, "'%s': path too long", path);
	memcpy(buf, base, bl + 1);
	return 0;
}

/* 1 when b is a or lies inside it (both resolved). */
static int path_under(const char *a, const char *b)
{
	size_t n = strlen(a);
	if (n == 1 && a[0] == '/')
		return 1;
	return !strncmp(a, b, n) && (b[n] == '\0' || b[n] == '/');
}

int path_overlaps(const char *a, const char *b, struct err *e)
{
	char ra[PATH_MAX], rb[PATH_MAX];
	int rc;
	if ((rc = path_resolve(a, ra, sizeof ra, e)) ||
	    (rc = path_resolve(b, rb, sizeof rb, e)))
		return rc;
	return path_under(ra, rb) || path_under(rb, ra);
}

int path_remove_tree(const char *path, struct err *e)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0
				       : err_errno(e, ERR_IO,
						   "cannot remove '%s'", path);
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0)
			return err_errno(e, ERR_IO, "cannot remove '%s'", path);
		return 0;
	}
	DIR *d = opendir(path);
	if (!d)
		return err_errno(e, ERR_IO, "cannot open '%s'", path);
	struct dirent *de;
	int rc = 0;
	char sub[PATH_MAX];
	while (!rc && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((rc = path_join(sub, sizeof sub, path, de->d_name, e)))
			break;
		rc = path_remove_tree(sub, e);
	}
	closedir(d);
	if (!rc && rmdir(path) < 0)
		rc = err_errno(e, ERR_IO, "cannot remove '%s'", path);
	return rc;
}

int path_dir_empty(const char *path, struct err *e)
{
	DIR *d = opendir(path);
	if (!d)
		return err_errno(e, ERR_IO, "cannot open '%s'", path);
	struct dirent *de;
	int empty = 1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

int out_dir_check(const char *out, const char *src, bool force, bool *exists,
		  struct err *e)
{
	if (exists)
		*exists = false;
	if (!out || !*out)
		return err_set(e, ERR_INVALID, "no output directory");
	if (src) {
		int o = path_overlaps(out, src, e);
		if (o < 0)
			return o;
		if (o)
			return err_set(e, ERR_INVALID,
				       "cannot write into the source '%s' "
				       "(the output '%s' is, holds or lies "
				       "inside it)",
				       src, out);
	}
	struct stat st;
	if (stat(out, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0; /* not there: creating it says why not */
		return err_errno(e, ERR_IO, "cannot stat '%s'", out);
	}
	if (!S_ISDIR(st.st_mode))
		return err_set(e, ERR_INVALID,
			       "'%s' exists and is not a directory", out);
	int empty = path_dir_empty(out, e);
	if (empty < 0)
		return empty;
	if (!empty && !force)
		return err_set(e, ERR_INVALID,
			       "'%s' exists and is not empty (--force "
			       "replaces it)",
			       out);
	if (exists)
		*exists = true;
	return 0;
}

int out_dir_begin(struct out_dir *d, const char *out, const char *src,
		  bool force, struct err *e)
{
	memset(d, 0, sizeof *d);
	size_t n = out ? strlen(out) : 0;
	while (n > 1 && out[n - 1] == '/')
		n--;
	if (n >= sizeof d->out)
		return err_set(e, ERR_INVALID, "'%s': path too long", out);
	if (n)
		memcpy(d->out, out, n);
	d->out[n] = '\0';
	int rc = out_dir_check(d->out, src, force, &d->exists, e);
	if (rc)
		return rc;
	snprintf(d->tmp, sizeof d->tmp, "%s.tmp-XXXXXX", d->out);
	if (!mkdtemp(d->tmp)) {
		rc = err_errno(e, ERR_IO, "cannot create '%s'", d->tmp);
		d->tmp[0] = '\0';
		return rc;
	}
	mode_t um = umask(0);
	umask(um);
	chmod(d->tmp, 0777 & ~um);
	return 0;
}

int out_dir_commit(struct out_dir *d, struct err *e)
{
	char old[PATH_MAX + 16];
	struct err e2 = {0};
	if (!d->tmp[0])
		return err_set(e, ERR_INVALID, "'%s': nothing to commit",
			       d->out);
	if (d->exists) {
		snprintf(old, sizeof old, "%s.old-XXXXXX", d->out);
		if (!mkdtemp(old) || rmdir(old) < 0 || rename(d->out, old) < 0)
			return err_errno(e, ERR_IO, "cannot move '%s' aside",
					 d->out);
		if (rename(d->tmp, d->out) < 0) {
			int rc = err_errno(e, ERR_IO,
					   "cannot rename '%s' to '%s'", d->tmp,
					   d->out);
			rename(old, d->out);
			return rc;
		}
		path_remove_tree(old, &e2); /* best effort */
	} else if (rename(d->tmp, d->out) < 0) {
		return err_errno(e, ERR_IO, "cannot rename '%s' to '%s'",
				 d->tmp, d->out);
	}
	d->tmp[0] = '\0';
	return 0;
}

void out_dir_abort(struct out_dir *d)
{
	struct err e2 = {0};
	if (d && d->tmp[0]) {
		path_remove_tree(d->tmp, &e2);
		d->tmp[0] = '\0';
	}
}

void path_base_name(const char *path, char *buf, size_t cap)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	size_t s = n;
	while (s > 0 && path[s - 1] != '/')
		s--;
	snprintf(buf, cap, "%.*s", (int)(n - s), path + s);
}
