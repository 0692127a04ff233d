/*
 * bytebuf — bytes in memory: a growing buffer to build a header or a
 * pickle in, and little-endian loads from any address.
 *
 * A struct bytebuf starts zeroed ({0}). The append functions never fail
 * loudly: when memory runs out they set `oom` and ignore every later
 * append, so a writer appends a whole header and checks `oom` once. The
 * bytes are always followed by a NUL (not counted in len), so a buffer of
 * text is a C string.
 *
 * Ownership: the caller frees p (free(b.p)), also after oom.
 */
#ifndef PUNGUZA_BYTEBUF_H
#define PUNGUZA_BYTEBUF_H

#include <stddef.h>
#include <stdint.h>

struct bytebuf {
	unsigned char *p;
	size_t len, cap;
	int oom; /* an append ran out of memory: the contents are incomplete */
};

/* Appends n bytes at s. */
void bytebuf_add(struct bytebuf *b, const void *s, size_t n);
/* Appends the string s without its NUL. */
void bytebuf_str(struct bytebuf *b, const char *s);
/* Appends one byte. */
void bytebuf_u8(struct bytebuf *b, unsigned v);
/* Appends the low n (1..8) bytes of v, little-endian. */
void bytebuf_le(struct bytebuf *b, uint64_t v, int n);

/* Little-endian loads at any alignment (the caller has bounds-checked p). */
static inline uint16_t load_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t load_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t load_le64(const unsigned char *p)
{
	return (uint64_t)load_le32(p) | (uint64_t)load_le32(p + 4) << 32;
}

#endif
