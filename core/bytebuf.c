#include "bytebuf.h"

#include <stdlib.h>
#include <string.h>

void bytebuf_add(struct bytebuf *b, const void *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (b->len + n + 1 > cap)
			cap *= 2;
		unsigned char *q = realloc(b->p, cap);
		if (!q) {
			b->oom = 1;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void bytebuf_str(struct bytebuf *b, const char *s)
{
	bytebuf_add(b, s, strlen(s));
}

void bytebuf_u8(struct bytebuf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;
	bytebuf_add(b, &c, 1);
}

void bytebuf_le(struct bytebuf *b, uint64_t v, int n)
{
	unsigned char c[8];
	for (int i = 0; i < n; i++)
		c[i] = (unsigned char)(v >> (8 * i));
	bytebuf_add(b, c, (size_t)n);
}
