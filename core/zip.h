/*
 * zip — the zip container, as far as PyTorch checkpoints need it: STORED
 * (uncompressed) entries read in place from a buffer, and streamed
 * writing of such entries; zip64 records both ways; CRC-32.
 *
 * Reading: zip_open() finds the end of central directory (a bounded
 * backwards search, then the zip64 locator and record when present) and
 * checks that the central directory lies inside the buffer and can hold
 * its entry count. zip_record_read() walks the central directory one
 * record at a time, zip_record_zip64() applies a record's zip64 extra
 * field, zip_record_data() finds a stored entry's bytes through its local
 * header. Every offset and size read from the archive is hostile: each is
 * range-checked against the buffer before a pointer is formed, and errors
 * name the file and entry ("'f': zip entry 'x' ... lies beyond the file").
 * Nothing is copied: names and data point into the caller's buffer, which
 * must outlive them.
 *
 * Writing: the caller streams entries to a struct wfile (wfile.h):
 * zip_write_local() before an entry's bytes (data 64-byte aligned with
 * PyTorch's "FB" padding field), zip_patch_crc() once its CRC is known,
 * zip_write_central() at the end (zip64 records when sizes, offsets or
 * the count need them, or always with force64).
 */
#ifndef PUNGUZA_ZIP_H
#define PUNGUZA_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "wfile.h"

/* CRC-32 as zip computes it (table-driven, slicing by 8, carry-less
 * multiplication where the CPU has it); start from 0. Thread-safe. */
uint32_t zip_crc32(uint32_t crc, const void *buf, size_t n);

/* A stored zip entry: its bytes (inside the caller's buffer), the CRC-32
 * the central directory records for them and its name (not
 * NUL-terminated, inside the buffer). */
struct zip_entry {
	const unsigned char *data;
	uint64_t size;
	uint32_t crc;
	const char *name;
	size_t name_len;
};

/* Checks an entry's CRC-32 (reads all its bytes): ERR_FORMAT "'file': zip
 * entry 'x' is corrupt (CRC-32 ..., the archive says ...)". */
int zip_check_entry(const struct zip_entry *z, const char *file, struct err *e);

/* ---- reading ---- */

/* An archive in a buffer: where its central directory is. */
struct zip {
	const unsigned char *p;
	uint64_t len;
	const char *fname; /* the file, for error messages */
	struct err *e;
	uint64_t cd_off, cd_size, count; /* checked: inside p[0, len) */
};

/* One central-directory record, as read (sizes and offset may still be
 * saturated: see zip_record_zip64). */
struct zip_record {
	const char *name; /* inside the buffer, not NUL-terminated */
	size_t name_len;
	uint64_t local, csize, usize;
	uint16_t method, flags;
	uint32_t crc;		    /* as the central directory records it */
	const unsigned char *extra; /* the extra field, inside the record */
	size_t extra_len;
};

/* Opens the archive in len bytes at buf: finds and checks the (zip64) end
 * of central directory. Errors go to e, naming fname. */
int zip_open(struct zip *z, const void *buf, uint64_t len, const char *fname,
	     struct err *e);

/* Reads central-directory record i at *c (start with c = z->p +
 * z->cd_off, then call once per record in order) and advances *c past it.
 * ERR_FORMAT when the record is malformed or truncated. */
int zip_record_read(const struct zip *z, const unsigned char **c, uint64_t i,
		    struct zip_record *r);

/* Replaces r's saturated sizes and offset with its zip64 extra field's;
 * ERR_FORMAT when the field is missing or short. */
int zip_record_zip64(const struct zip *z, struct zip_record *r);

/* Where a stored entry's bytes are: refuses encrypted and compressed
 * entries, checks the local header and that the bytes lie inside the
 * buffer; *data then points at r->usize bytes. */
int zip_record_data(const struct zip *z, const struct zip_record *r,
		    const unsigned char **data, struct err *e);

/* ---- writing ---- */

/* An entry being written. The caller sets name and, before
 * zip_write_local, size and z64 (sizes saturated in the headers); crc
 * before zip_patch_crc. zip_write_local sets local. */
struct zip_wentry {
	char name[64];
	uint64_t local, size;
	uint32_t crc;
	int z64;
};

/* Writes r's local header at the file's current position. */
int zip_write_local(struct wfile *f, struct zip_wentry *r, struct err *e);
/* Writes r->crc into r's local header, already written. */
int zip_patch_crc(struct wfile *f, const struct zip_wentry *r, struct err *e);
/* Writes a small in-memory entry whole (header, bytes, CRC). */
int zip_write_small(struct wfile *f, struct zip_wentry *r, const void *p,
		    size_t n, int force64, struct err *e);
/* Writes the central directory of the nr entries r and the end records. */
int zip_write_central(struct wfile *f, const struct zip_wentry *r, size_t nr,
		      int force64, struct err *e);

#endif
