#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(struct err *e, int code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
		e->code = code;
	}
	return code;
}

int err_errno(struct err *e, int code, const char *fmt, ...)
{
	int saved = errno;
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < sizeof e->msg)
			snprintf(e->msg + n, sizeof e->msg - (size_t)n, ": %s",
				 strerror(saved));
		e->code = code;
	}
	return code;
}

int err_wrap(struct err *e, const char *fmt, ...)
{
	if (!e)
		return ERR_INVALID;
	char buf[2 * ERR_MSG_MAX + 2];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, ERR_MSG_MAX, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n >= ERR_MSG_MAX)
		n = ERR_MSG_MAX - 1;
	memcpy(buf + n, ": ", 2);
	memcpy(buf + n + 2, e->msg, strnlen(e->msg, ERR_MSG_MAX - 1) + 1);
	buf[ERR_MSG_MAX - 1] = '\0'; /* keep the head: it names the subject */
	memcpy(e->msg, buf, ERR_MSG_MAX);
	return e->code;
}

void err_clear(struct err *e)
{
	if (e) {
		e->code = 0;
		e->msg[0] = '\0';
	}
}

const char *err_code_name(int code)
{
	switch (code) {
	case ERR_OK: return "ok";
	case ERR_IO: return "io";
	case ERR_FORMAT: return "format";
	case ERR_NOMEM: return "nomem";
	case ERR_INVALID: return "invalid";
	case ERR_UNSUPPORTED: return "unsupported";
	case ERR_NOTFOUND: return "notfound";
	case ERR_CANCELLED: return "cancelled";
	}
	return "unknown";
}
