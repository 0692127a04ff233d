/*
 * err — error codes and a message buffer, shared by every library module.
 *
 * Library functions return an int: 0 on success, a negative ERR_* code on
 * failure, and fill the caller's struct err with a lowercase message that
 * names its subject in quotes:  cannot open 'x': No such file or directory.
 * The library never prints, exits or aborts; the caller decides what to show.
 *
 * A NULL struct err * is allowed everywhere: the code is still returned.
 */
#ifndef PUNGUZA_ERR_H
#define PUNGUZA_ERR_H

enum err_code {
	ERR_OK = 0,
	ERR_IO = -1,          /* open/read/write/mmap failed (errno text in msg) */
	ERR_FORMAT = -2,      /* file contents malformed, truncated or hostile */
	ERR_NOMEM = -3,       /* allocation failed or a size overflowed */
	ERR_INVALID = -4,     /* bad argument or impossible knob value */
	ERR_UNSUPPORTED = -5, /* well-formed but a feature we do not handle */
	ERR_NOTFOUND = -6,    /* a named file, tensor or key is missing */
	ERR_CANCELLED = -7,   /* a progress callback asked to stop */
};

#define ERR_MSG_MAX 512

struct err {
	int code;
	char msg[ERR_MSG_MAX];
};

/* Records code and a printf-style message in e (if not NULL); returns code,
 * so callers can write `return err_set(e, ERR_FORMAT, "...")`. */
int err_set(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like err_set, but appends ": strerror(errno)" using the errno at the call. */
int err_errno(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with more context ("loading 'dir': ...").
 * Returns e->code (or ERR_INVALID when e is NULL, which should not happen). */
int err_wrap(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Empties e: code 0, message "". */
void err_clear(struct err *e);

/* A short name for a code: "io", "format", ... */
const char *err_code_name(int code);

#endif
