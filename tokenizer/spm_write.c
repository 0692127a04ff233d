/*
 * spm_write — serialising a model that keeps a subset of the pieces (see
 * spm.h): the kept pieces copied byte for byte, the trainer spec
 * renumbered, everything else but self_test_data copied verbatim.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fileio.h"
#include "spm_impl.h"
#include "spm_proto.h"
#include "spm_text.h"

static int put_field_len(struct sbuf *o, uint32_t num, const void *d,
			 size_t n)
{
	unsigned char hdr[20];
	size_t h = pb_put_varint(hdr, (uint64_t)num << 3 | 2);
	h += pb_put_varint(hdr + h, n);
	if (spm_sb_put(o, hdr, h) || spm_sb_put(o, d, n))
		return ERR_NOMEM;
	return 0;
}

static int put_field_varint(struct sbuf *o, uint32_t num, uint64_t v)
{
	unsigned char hdr[24];
	size_t h = pb_put_varint(hdr, (uint64_t)num << 3);
	h += pb_put_varint(hdr + h, v);
	return spm_sb_put(o, hdr, h) ? ERR_NOMEM : 0;
}

/* The trainer spec with vocab_size and the special ids renumbered. */
static int rewrite_trainer(const struct spm *m, const struct field *fl,
			   const int *old2new, size_t n_keep, struct sbuf *o)
{
	struct pb b = {m->buf + fl->pay_off,
		       m->buf + fl->pay_off + fl->pay_len};
	struct pb_field f;
	const char *why = NULL;
	int r;
	while ((r = pb_next(&b, &f, &why)) > 0) {
		if (f.wt == 0 && f.num == 4) {
			if (put_field_varint(o, 4, n_keep))
				return ERR_NOMEM;
		} else if (f.wt == 0 && f.num >= 40 && f.num <= 43) {
			int32_t v = (int32_t)(uint32_t)f.v;
			if (v >= 0 && v < m->n)
				v = old2new[v];
			if (put_field_varint(o, f.num,
					     (uint64_t)(int64_t)v))
				return ERR_NOMEM;
		} else if (spm_sb_put(o, f.start, (size_t)(b.p - f.start))) {
			return ERR_NOMEM;
		}
	}
	return r < 0 ? ERR_FORMAT : 0; /* validated at load: cannot fail */
}

int spm_write_buffer(const struct spm *m, const int *keep, size_t n_keep,
		     unsigned char **out, size_t *len, struct err *e)
{
	struct sbuf o = {0}, ts = {0};
	int *old2new;
	int have_unk = 0, n_bytes = 0, pieces_done = 0, rc = 0;

	*out = NULL;
	*len = 0;
	if (n_keep == 0 || n_keep > (size_t)m->n)
		return err_set(e, ERR_INVALID,
			       "'%s': cannot keep %zu of %d pieces", m->name,
			       n_keep, m->n);
	old2new = malloc((size_t)m->n * sizeof *old2new);
	if (!old2new)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", m->name);
	for (int i = 0; i < m->n; i++)
		old2new[i] = -1;
	for (size_t i = 0; i < n_keep; i++) {
		int id = keep[i];
		if (id < 0 || id >= m->n || old2new[id] >= 0) {
			rc = err_set(e, ERR_INVALID,
				     "'%s': kept id %d is %s", m->name, id,
				     id < 0 || id >= m->n ? "out of range"
							  : "repeated");
			goto out;
		}
		old2new[id] = (int)i;
		have_unk |= m->pieces[id].type == SPM_UNKNOWN;
		n_bytes += m->pieces[id].type == SPM_BYTE;
	}
	if (!have_unk) {
		rc = err_set(e, ERR_INVALID,
			     "'%s': the kept pieces must include the unknown "
			     "piece '%s'", m->name, m->pieces[m->unk].s);
		goto out;
	}
	if (m->info.byte_fallback && n_bytes != 256) {
		rc = err_set(e, ERR_INVALID,
			     "'%s': byte_fallback needs all 256 byte pieces, "
			     "only %d kept", m->name, n_bytes);
		goto out;
	}
	/* Top-level fields in file order; the pieces where the first one
	 * was; self_test_data dropped. */
	for (size_t i = 0; i < m->n_fields && !rc; i++) {
		const struct field *fl = &m->fields[i];
		if (fl->num == 1 && fl->wt == 2) {
			if (pieces_done++)
				continue;
			for (size_t k = 0; k < n_keep && !rc; k++) {
				const struct piece *p = &m->pieces[keep[k]];
				rc = put_field_len(&o, 1, m->buf + p->raw_off,
						   p->raw_len);
			}
		} else if (fl->num == 2 && fl->wt == 2) {
			ts.n = 0;
			rc = rewrite_trainer(m, fl, old2new, n_keep, &ts);
			if (!rc)
				rc = put_field_len(&o, 2, ts.p ? ts.p : "",
						   ts.n);
		} else if (fl->num == 4) {
			continue;
		} else {
			rc = spm_sb_put(&o, m->buf + fl->off, fl->len);
		}
	}
	if (rc) {
		rc = err_set(e, rc, "'%s': %s while writing", m->name,
			     rc == ERR_NOMEM ? "out of memory" : "bad field");
		free(o.p);
		goto out;
	}
	*out = (unsigned char *)o.p;
	*len = o.n;
out:
	free(ts.p);
	free(old2new);
	return rc;
}

int spm_write_file(const char *path, const struct spm *m, const int *keep,
		   size_t n_keep, struct err *e)
{
	unsigned char *buf;
	size_t len;
	int rc = spm_write_buffer(m, keep, n_keep, &buf, &len, e);
	if (rc)
		return rc;
	rc = file_write_atomic(path, buf, len, e);
	free(buf);
	return rc;
}
