/*
 * spm_proto — the protobuf wire format, as much of it as a SentencePiece
 * ModelProto needs: a reader that walks the fields of one message and the
 * varint writer.
 *
 * The reader never reads past b->end: every varint (at most 10 bytes,
 * 64 bits) and every length is checked against the bytes that remain;
 * field number 0 is refused; wire types 0, 1, 2, 5 are returned (the
 * caller skips what it does not know), groups (3, 4) are refused. A field
 * points into the buffer; nothing is allocated.
 */
#ifndef PUNGUZA_SPM_PROTO_H
#define PUNGUZA_SPM_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* The unread rest of a message. */
struct pb {
	const unsigned char *p, *end;
};

/* One field: number, wire type and its value or bytes. */
struct pb_field {
	uint32_t num;
	int wt;
	uint64_t v;                /* wire type 0 */
	const unsigned char *data; /* wire types 1, 2, 5 */
	size_t len;
	const unsigned char *start; /* the tag */
};

/* Reads the next field: 1 on a field, 0 at the end, -1 with *why (a static
 * string: "truncated varint"). */
int pb_next(struct pb *b, struct pb_field *f, const char **why);

/* A fixed32 field's 4 bytes (little-endian) as a float. */
float pb_float(const unsigned char *d);

/* Writes v as a varint to o (10 bytes room); returns its length. */
size_t pb_put_varint(unsigned char *o, uint64_t v);

#endif
