/*
 * progress — how long operations report progress and learn they must stop.
 *
 * Every long operation (load, count, apply, measure, export) takes a
 * const struct progress * (NULL means "nobody is watching"). It calls
 * progress_report() now and then; a non-zero answer from the callback means
 * "cancel", and the operation unwinds, frees what it made and returns
 * ERR_CANCELLED.
 */
#ifndef PUNGUZA_PROGRESS_H
#define PUNGUZA_PROGRESS_H

#include "err.h"

struct progress {
	/* done in [0,1]; stage is a short lowercase label ("loading weights").
	 * Return non-zero to cancel. */
	int (*fn)(void *ctx, double done, const char *stage);
	void *ctx;
};

/* Returns 0 to go on, or ERR_CANCELLED (with a message in e) to stop. */
static inline int progress_report(const struct progress *p, double done,
				  const char *stage, struct err *e)
{
	if (p && p->fn && p->fn(p->ctx, done, stage))
		return err_set(e, ERR_CANCELLED, "%s: cancelled", stage);
	return 0;
}

#endif
