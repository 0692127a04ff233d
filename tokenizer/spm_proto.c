/*
 * spm_proto — protobuf wire format (see spm_proto.h).
 */
#include "spm_proto.h"

#include <string.h>

static int pb_varint(struct pb *b, uint64_t *v, const char **why)
{
	uint64_t r = 0;
	for (int i = 0; i < 10; i++) {
		if (b->p >= b->end) {
			*why = "truncated varint";
			return -1;
		}
		unsigned char c = *b->p++;
		if (i == 9 && c > 1) {
			*why = "varint longer than 64 bits";
			return -1;
		}
		r |= (uint64_t)(c & 0x7F) << (7 * i);
		if (!(c & 0x80)) {
			*v = r;
			return 0;
		}
	}
	*why = "varint longer than 10 bytes";
	return -1;
}

/* Reads the next field: 1 on a field, 0 at the end, -1 with *why. */
int pb_next(struct pb *b, struct pb_field *f, const char **why)
{
	uint64_t tag, n;
	if (b->p >= b->end)
		return 0;
	f->start = b->p;
	if (pb_varint(b, &tag, why))
		return -1;
	f->num = (uint32_t)(tag >> 3);
	f->wt = (int)(tag & 7);
	if ((tag >> 3) == 0 || (tag >> 3) > 0x1FFFFFFF) {
		*why = "invalid field number";
		return -1;
	}
	switch (f->wt) {
	case 0:
		return pb_varint(b, &f->v, why) ? -1 : 1;
	case 1:
	case 5:
		n = f->wt == 1 ? 8 : 4;
		if ((uint64_t)(b->end - b->p) < n) {
			*why = "truncated fixed-size field";
			return -1;
		}
		f->data = b->p;
		f->len = (size_t)n;
		b->p += n;
		return 1;
	case 2:
		if (pb_varint(b, &n, why))
			return -1;
		if (n > (uint64_t)(b->end - b->p)) {
			*why = "length exceeds the remaining bytes";
			return -1;
		}
		f->data = b->p;
		f->len = (size_t)n;
		b->p += n;
		return 1;
	case 3:
	case 4:
		*why = "protobuf groups are not supported";
		return -1;
	default:
		*why = "invalid wire type";
		return -1;
	}
}

float pb_float(const unsigned char *d)
{
	uint32_t u = (uint32_t)d[0] | (uint32_t)d[1] << 8 |
		     (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
	float x;
	memcpy(&x, &u, sizeof x);
	return x;
}

size_t pb_put_varint(unsigned char *o, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		o[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	o[n++] = (unsigned char)v;
	return n;
}
