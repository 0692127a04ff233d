/* tasks_text — the string helpers the tasks files share (see
 * tasks_impl.h). */
#include "tasks_impl.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

char *tasks_dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

int tasks_text_put(void *ctx, const char *s, size_t n)
{
	struct tasks_text *x = ctx;
	if (x->n + n + 1 > x->cap) {
		size_t c = (x->n + n + 1) * 2;
		char *p = realloc(x->s, c);
		if (!p) {
			x->nomem = true;
			return 1;
		}
		x->s = p;
		x->cap = c;
	}
	memcpy(x->s + x->n, s, n);
	x->n += n;
	x->s[x->n] = 0;
	return 0;
}

/* s trimmed of surrounding whitespace, malloc'd. */
char *tasks_trimmed(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return tasks_dupn(s, n);
}
