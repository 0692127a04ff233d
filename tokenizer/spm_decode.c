/*
 * spm_decode — SentencePiece decoding (see spm.h): pieces to text, byte
 * pieces reassembled into UTF-8, then the denormalizer when there is one.
 */
#include <stdlib.h>
#include <string.h>

#include "spm_impl.h"
#include "spm_text.h"

static int flush_bytes(struct sbuf *t, const unsigned char *bytes, size_t n)
{
	size_t off = 0, k;
	while (off < n) {
		if (spm_utf8_char(bytes + off, n - off, &k)) {
			if (spm_sb_put(t, bytes + off, k))
				return ERR_NOMEM;
		} else if (spm_sb_put(t, kReplacement, 3)) {
			return ERR_NOMEM;
		}
		off += k;
	}
	return 0;
}

int spm_decode(const struct spm *m, const int *ids, size_t n, char **text,
	       size_t *len, struct err *e)
{
	struct sbuf t = {0}, bytes = {0};
	int strip = m->norm.add_dummy_prefix ||
		    m->norm.remove_extra_whitespaces;
	*text = NULL;
	for (size_t i = 0; i < n; i++)
		if (ids[i] < 0 || ids[i] >= m->n)
			return err_set(e, ERR_INVALID,
				       "'%s': id %d out of range (%d pieces)",
				       m->name, ids[i], m->n);
	for (size_t i = 0; i < n; i++) {
		const struct piece *p = &m->pieces[ids[i]];
		if (p->type == SPM_BYTE) {
			unsigned char c = (unsigned char)spm_piece_byte(p);
			if (spm_sb_put(&bytes, &c, 1))
				goto nomem;
			continue;
		}
		if (flush_bytes(&t, (unsigned char *)bytes.p, bytes.n))
			goto nomem;
		bytes.n = 0;
		if (p->type == SPM_CONTROL)
			continue;
		if (p->type == SPM_UNKNOWN) {
			const char *u = m->info.unk_surface;
			if (spm_sb_put(&t, u, strlen(u)))
				goto nomem;
			continue;
		}
		const char *s = p->s;
		size_t sl = p->len;
		if (t.n == 0 && strip && sl >= 3 && memcmp(s, kSpace, 3) == 0) {
			s += 3;
			sl -= 3;
		}
		while (sl) {
			if (sl >= 3 && memcmp(s, kSpace, 3) == 0) {
				if (spm_sb_put(&t, " ", 1))
					goto nomem;
				s += 3;
				sl -= 3;
			} else {
				if (spm_sb_put(&t, s, 1))
					goto nomem;
				s++;
				sl--;
			}
		}
	}
	if (flush_bytes(&t, (unsigned char *)bytes.p, bytes.n))
		goto nomem;
	free(bytes.p);
	bytes.p = NULL;
	if (m->info.has_denormalizer) {
		struct sbuf d = {0};
		if (spm_norm_apply(m, &m->denorm, 0, 0, t.p ? t.p : "", t.n, &d)) {
			free(d.p);
			goto nomem;
		}
		free(t.p);
		t = d;
	}
	if (spm_sb_put(&t, "", 1))
		goto nomem;
	*text = t.p;
	if (len)
		*len = t.n - 1;
	return 0;
nomem:
	free(t.p);
	free(bytes.p);
	return err_set(e, ERR_NOMEM, "'%s': out of memory", m->name);
}
