/*
 * spm_load — reading a ModelProto into struct spm (see spm.h): the
 * top-level fields, pieces, trainer spec, normalizer specs, the checks,
 * and the accessors of what was read.
 */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "spm_impl.h"
#include "spm_proto.h"
#include "spm_text.h"
#include "text.h"

#define SPM_MAX_FILE (1u << 30)
#define SPM_MAX_PIECE 8000 /* SentencePiece's kMaxPieceSize */

void spm_free(struct spm *m)
{
	if (!m)
		return;
	free(m->name);
	free(m->buf);
	free(m->pieces);
	free(m->strings);
	free(m->fields);
	free(m->norm.name);
	free(m->norm.units);
	free(m->denorm.name);
	free(m->denorm.units);
	for (int i = 0; i < 4; i++)
		free(m->tr_pieces[i]);
	free(m->unk_surface);
	free(m->ht_hash);
	free(m->ht_id);
	free(m->tr_key);
	free(m->tr_child);
	free(m->tr_id);
	free(m);
}

static int set_str(struct spm *m, char **dst, const struct pb_field *f,
		   struct err *e)
{
	free(*dst);
	*dst = bytes_dup(f->data, f->len);
	if (!*dst)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", m->name);
	return 0;
}

static int parse_trainer(struct spm *m, const unsigned char *d, size_t len,
			 int *model_type, struct err *e)
{
	struct pb b = {d, d + len};
	struct pb_field f;
	const char *why = NULL;
	struct spm_info *in = &m->info;
	int r;
	while ((r = pb_next(&b, &f, &why)) > 0) {
		int v = (int)(int32_t)(uint32_t)f.v; /* int32 semantics */
		if (f.wt == 0) {
			switch (f.num) {
			case 3: *model_type = v; break;
			case 4: in->vocab_size = v; break;
			case 20: in->max_sentencepiece_length = v; break;
			case 21: in->split_by_unicode_script = f.v != 0; break;
			case 22: in->split_by_whitespace = f.v != 0; break;
			case 23: in->split_by_number = f.v != 0; break;
			case 24: in->treat_whitespace_as_suffix = f.v != 0;
				break;
			case 25: in->split_digits = f.v != 0; break;
			case 26: in->allow_whitespace_only_pieces = f.v != 0;
				break;
			case 35: in->byte_fallback = f.v != 0; break;
			default: break;
			}
		} else if (f.wt == 2) {
			int rc = 0;
			if (f.num >= 45 && f.num <= 48)
				rc = set_str(m, &m->tr_pieces[f.num - 45], &f, e);
			else if (f.num == 44)
				rc = set_str(m, &m->unk_surface, &f, e);
			if (rc)
				return rc;
		}
	}
	if (r < 0)
		return err_set(e, ERR_FORMAT, "'%s': trainer_spec: %s",
			       m->name, why);
	return 0;
}

static int parse_normalizer(struct spm *m, struct spm_norm *ns,
			    const char *what, const unsigned char *d,
			    size_t len, struct err *e)
{
	struct pb b = {d, d + len};
	struct pb_field f;
	const char *why = NULL;
	int r;
	ns->present = 1;
	while ((r = pb_next(&b, &f, &why)) > 0) {
		if (f.wt == 0 && f.num >= 3 && f.num <= 5) {
			int v = f.v != 0;
			if (f.num == 3)
				ns->add_dummy_prefix = v;
			else if (f.num == 4)
				ns->remove_extra_whitespaces = v;
			else
				ns->escape_whitespaces = v;
		} else if (f.wt == 2 && f.num == 1) {
			if (set_str(m, &ns->name, &f, e))
				return ERR_NOMEM;
		} else if (f.wt == 2 && f.num == 2) {
			free(ns->units);
			ns->units = NULL;
			ns->n_units = 0;
			ns->repl = NULL;
			ns->repl_len = 0;
			ns->charsmap_size = f.len;
			if (f.len == 0)
				continue;
			/* <u32 trie size><double array><replacement strings> */
			if (f.len <= 4)
				return err_set(e, ERR_FORMAT,
					       "'%s': %s: precompiled_charsmap "
					       "is broken", m->name, what);
			uint32_t tsz = (uint32_t)f.data[0] |
				       (uint32_t)f.data[1] << 8 |
				       (uint32_t)f.data[2] << 16 |
				       (uint32_t)f.data[3] << 24;
			if (tsz >= f.len)
				return err_set(e, ERR_FORMAT,
					       "'%s': %s: charsmap trie size "
					       "%u exceeds the blob size %zu",
					       m->name, what, tsz, f.len);
			if ((size_t)tsz > f.len - 4)
				return err_set(e, ERR_FORMAT,
					       "'%s': %s: charsmap trie is "
					       "truncated", m->name, what);
			ns->n_units = tsz / 4;
			if (ns->n_units) {
				ns->units = malloc(ns->n_units * 4);
				if (!ns->units)
					return err_set(e, ERR_NOMEM,
						       "'%s': out of memory",
						       m->name);
			}
			for (size_t i = 0; i < ns->n_units; i++) {
				const unsigned char *u = f.data + 4 + 4 * i;
				ns->units[i] = (uint32_t)u[0] |
					       (uint32_t)u[1] << 8 |
					       (uint32_t)u[2] << 16 |
					       (uint32_t)u[3] << 24;
			}
			ns->repl = (const char *)f.data + 4 + tsz;
			ns->repl_len = f.len - 4 - tsz;
		}
	}
	if (r < 0)
		return err_set(e, ERR_FORMAT, "'%s': %s: %s", m->name, what,
			       why);
	return 0;
}

static int parse_piece(struct spm *m, int id, const struct pb_field *pf,
		       struct err *e)
{
	struct pb b = {pf->data, pf->data + pf->len};
	struct pb_field f;
	const char *why = NULL;
	struct piece *p = &m->pieces[id];
	int r, have = 0;
	p->type = SPM_NORMAL;
	p->score = 0.0f;
	p->raw_off = (size_t)(pf->data - m->buf);
	p->raw_len = pf->len;
	while ((r = pb_next(&b, &f, &why)) > 0) {
		if (f.num == 1 && f.wt == 2) {
			p->s = (const char *)f.data; /* moved to arena later */
			p->len = (uint32_t)(f.len < SPM_MAX_PIECE ?
					    f.len : SPM_MAX_PIECE);
			if (f.len >= SPM_MAX_PIECE)
				return err_set(e, ERR_FORMAT,
					       "'%s': piece %d is too long "
					       "(%zu bytes)", m->name, id,
					       f.len);
			have = 1;
		} else if (f.num == 2 && f.wt == 5) {
			p->score = pb_float(f.data);
		} else if (f.num == 3 && f.wt == 0) {
			if (f.v < SPM_NORMAL || f.v > SPM_BYTE)
				return err_set(e, ERR_FORMAT,
					       "'%s': piece %d has unknown "
					       "type %llu", m->name, id,
					       (unsigned long long)f.v);
			p->type = (int)f.v;
		}
	}
	if (r < 0)
		return err_set(e, ERR_FORMAT, "'%s': piece %d: %s", m->name,
			       id, why);
	if (!have || p->len == 0)
		return err_set(e, ERR_FORMAT, "'%s': piece %d is empty",
			       m->name, id);
	if (memchr(p->s, '\0', p->len))
		return err_set(e, ERR_FORMAT,
			       "'%s': piece %d contains a NUL byte", m->name,
			       id);
	if (!spm_utf8_valid((const unsigned char *)p->s, p->len))
		return err_set(e, ERR_FORMAT, "'%s': piece %d: invalid UTF-8",
			       m->name, id);
	return 0;
}

/* "<0x41>" -> 0x41, else -1 (upper-case hex, as ByteToPiece writes). */
int spm_piece_byte(const struct piece *p)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *h1, *h2;
	if (p->len != 6 || memcmp(p->s, "<0x", 3) != 0 || p->s[5] != '>' ||
	    !p->s[3] || !p->s[4])
		return -1;
	h1 = strchr(hex, p->s[3]);
	h2 = strchr(hex, p->s[4]);
	if (!h1 || !h2)
		return -1;
	return (int)((h1 - hex) * 16 + (h2 - hex));
}

static int resolve_special(const struct spm *m, int which, int want)
{
	static const char *defaults[4] = {"<unk>", "<s>", "</s>", "<pad>"};
	const char *s = m->tr_pieces[which];
	if (!s || !*s)
		s = defaults[which];
	int id = spm_piece_to_id(m, s, strlen(s));
	return m->pieces[id].type == want ? id : -1;
}

static int load_model(struct spm *m, struct err *e)
{
	struct pb b = {m->buf, m->buf + m->len};
	struct pb_field f;
	const char *why = NULL;
	size_t cap = 0, np = 0;
	int r, model_type = SPM_UNIGRAM;

	if (m->len == 0)
		return err_set(e, ERR_FORMAT, "'%s': empty model", m->name);
	while ((r = pb_next(&b, &f, &why)) > 0) {
		if (m->n_fields == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct field *nf = realloc(m->fields, nc * sizeof *nf);
			if (!nf)
				return err_set(e, ERR_NOMEM,
					       "'%s': out of memory", m->name);
			m->fields = nf;
			cap = nc;
		}
		struct field *fl = &m->fields[m->n_fields++];
		fl->num = f.num;
		fl->wt = f.wt;
		fl->off = (size_t)(f.start - m->buf);
		fl->len = (size_t)(b.p - f.start);
		fl->pay_off = f.wt == 2 ? (size_t)(f.data - m->buf) : 0;
		fl->pay_len = f.wt == 2 ? f.len : 0;
		if (f.num == 1 && f.wt == 2)
			np++;
	}
	if (r < 0)
		return err_set(e, ERR_FORMAT, "'%s': %s at byte %zu", m->name,
			       why, (size_t)(f.start - m->buf));
	if (np == 0)
		return err_set(e, ERR_FORMAT, "'%s': the model has no pieces",
			       m->name);
	if (np > INT32_MAX / 2)
		return err_set(e, ERR_FORMAT, "'%s': too many pieces",
			       m->name);

	/* Defaults of the proto, then the specs in file order (protobuf
	 * merges repeated occurrences of a message field). */
	struct spm_info *in = &m->info;
	in->vocab_size = 8000;
	in->split_by_whitespace = 1;
	in->split_by_unicode_script = 1;
	in->split_by_number = 1;
	in->max_sentencepiece_length = 16;
	m->norm.add_dummy_prefix = m->norm.remove_extra_whitespaces =
		m->norm.escape_whitespaces = 1;
	m->denorm = m->norm;
	m->pieces = calloc(np, sizeof *m->pieces);
	if (!m->pieces)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", m->name);
	size_t strbytes = 0;
	for (size_t i = 0; i < m->n_fields; i++) {
		const struct field *fl = &m->fields[i];
		if (fl->wt != 2)
			continue;
		const unsigned char *d = m->buf + fl->pay_off;
		int rc = 0;
		if (fl->num == 1) {
			struct pb_field pf = {0};
			pf.data = d;
			pf.len = fl->pay_len;
			rc = parse_piece(m, m->n, &pf, e);
			if (!rc)
				strbytes += m->pieces[m->n++].len + 1;
		} else if (fl->num == 2) {
			rc = parse_trainer(m, d, fl->pay_len, &model_type, e);
		} else if (fl->num == 3) {
			rc = parse_normalizer(m, &m->norm, "normalizer_spec", d,
					      fl->pay_len, e);
		} else if (fl->num == 5) {
			rc = parse_normalizer(m, &m->denorm,
					      "denormalizer_spec", d,
					      fl->pay_len, e);
		} else if (fl->num == 4) {
			in->has_self_test = 1;
		}
		if (rc)
			return rc;
	}
	if (model_type == 3 || model_type == 4)
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': %s models are not supported (only "
			       "UNIGRAM and BPE)", m->name,
			       model_type == 3 ? "WORD" : "CHAR");
	if (model_type != SPM_UNIGRAM && model_type != SPM_BPE)
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': unknown model_type %d", m->name,
			       model_type);
	in->model_type = model_type;

	/* Piece strings into one NUL-terminated arena. */
	m->strings = malloc(strbytes);
	if (!m->strings)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", m->name);
	char *w = m->strings;
	for (int i = 0; i < m->n; i++) {
		memcpy(w, m->pieces[i].s, m->pieces[i].len);
		w[m->pieces[i].len] = '\0';
		m->pieces[i].s = w;
		w += m->pieces[i].len + 1;
	}
	int rc = spm_build_lookup(m, e);
	if (rc)
		return rc;

	m->unk = -1;
	for (int i = 0; i < 256; i++)
		m->byte_id[i] = -1;
	m->min_score = FLT_MAX;
	m->max_score = FLT_MIN; /* sic: SentencePiece's initial value */
	for (int i = 0; i < m->n; i++) {
		const struct piece *p = &m->pieces[i];
		if (p->type == SPM_UNKNOWN) {
			if (m->unk >= 0)
				return err_set(e, ERR_FORMAT,
					       "'%s': unk is already defined "
					       "(pieces %d and %d)", m->name,
					       m->unk, i);
			m->unk = i;
		} else if (p->type == SPM_BYTE) {
			int byte = spm_piece_byte(p);
			if (!in->byte_fallback)
				return err_set(e, ERR_FORMAT,
					       "'%s': byte piece '%s' is found "
					       "although byte_fallback is "
					       "false", m->name, p->s);
			if (byte < 0)
				return err_set(e, ERR_FORMAT,
					       "'%s': byte piece '%s' is "
					       "invalid", m->name, p->s);
			m->byte_id[byte] = i;
		} else if (p->type == SPM_USER_DEFINED) {
			m->has_user_defined = 1;
		} else if (p->type == SPM_UNUSED) {
			m->has_unused = 1;
		} else if (p->type == SPM_NORMAL) {
			if (p->score < m->min_score)
				m->min_score = p->score;
			if (p->score > m->max_score)
				m->max_score = p->score;
		}
		if (spm_is_normal_type(p->type) && p->len > m->max_len)
			m->max_len = p->len;
	}
	if (m->unk < 0)
		return err_set(e, ERR_FORMAT, "'%s': unk is not defined",
			       m->name);
	if (in->byte_fallback)
		for (int i = 0; i < 256; i++)
			if (m->byte_id[i] < 0)
				return err_set(e, ERR_FORMAT,
					       "'%s': byte piece <0x%02X> is "
					       "missing although byte_fallback "
					       "is true", m->name, i);

	/* Words may be encoded apart (and cached) when no mergeable piece
	 * holds a U+2581 after anything but U+2581, and no UNUSED piece
	 * makes resegmentation depend on the whole line. */
	m->max_run = (size_t)1 << 20;
	m->word_cache_ok = model_type == SPM_BPE && !m->has_unused;
	for (int i = 0; i < m->n && m->word_cache_ok; i++) {
		const struct piece *p = &m->pieces[i];
		if (!spm_is_normal_type(p->type))
			continue;
		for (uint32_t k = 1; k + 3 <= p->len; k++)
			if (!memcmp(p->s + k, kSpace, 3) &&
			    (k < 3 || memcmp(p->s + k - 3, kSpace, 3)))
				m->word_cache_ok = 0;
	}

	in->words_independent = m->word_cache_ok;
	in->unk_id = resolve_special(m, 0, SPM_UNKNOWN);
	in->bos_id = resolve_special(m, 1, SPM_CONTROL);
	in->eos_id = resolve_special(m, 2, SPM_CONTROL);
	in->pad_id = resolve_special(m, 3, SPM_CONTROL);
	in->unk_surface = m->unk_surface ? m->unk_surface : " \xE2\x81\x87 ";
	in->normalizer_name = m->norm.name ? m->norm.name : "";
	in->add_dummy_prefix = m->norm.add_dummy_prefix;
	in->remove_extra_whitespaces = m->norm.remove_extra_whitespaces;
	in->escape_whitespaces = m->norm.escape_whitespaces;
	in->charsmap_size = m->norm.charsmap_size;
	in->has_denormalizer = m->denorm.present && m->denorm.charsmap_size;
	return 0;
}

int spm_load_buffer(const void *data, size_t len, const char *name,
		    struct spm **out, struct err *e)
{
	*out = NULL;
	struct spm *m = calloc(1, sizeof *m);
	if (!m)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", name);
	m->name = bytes_dup(name, strlen(name));
	m->buf = malloc(len ? len : 1);
	if (!m->name || !m->buf) {
		spm_free(m);
		return err_set(e, ERR_NOMEM, "'%s': out of memory", name);
	}
	if (len)
		memcpy(m->buf, data, len);
	m->len = len;
	int rc = load_model(m, e);
	if (rc) {
		spm_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

int spm_load_file(const char *path, struct spm **out, struct err *e)
{
	char *buf;
	size_t len;
	*out = NULL;
	int rc = file_read_all(path, SPM_MAX_FILE, &buf, &len, e);
	if (rc)
		return rc;
	struct spm *m = calloc(1, sizeof *m);
	if (!m) {
		free(buf);
		return err_set(e, ERR_NOMEM, "'%s': out of memory", path);
	}
	m->buf = (unsigned char *)buf;
	m->len = len;
	m->name = bytes_dup(path, strlen(path));
	if (!m->name) {
		spm_free(m);
		return err_set(e, ERR_NOMEM, "'%s': out of memory", path);
	}
	rc = load_model(m, e);
	if (rc) {
		spm_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

const struct spm_info *spm_info(const struct spm *m)
{
	return &m->info;
}

int spm_n_pieces(const struct spm *m)
{
	return m->n;
}

void spm_set_max_run(struct spm *m, size_t max_run)
{
	m->max_run = max_run;
}

int spm_model_type(const struct spm *m)
{
	return m->info.model_type;
}

const char *spm_piece(const struct spm *m, int i, size_t *len)
{
	if (i < 0 || i >= m->n)
		return NULL;
	if (len)
		*len = m->pieces[i].len;
	return m->pieces[i].s;
}

float spm_score(const struct spm *m, int i)
{
	return i < 0 || i >= m->n ? 0.0f : m->pieces[i].score;
}

int spm_type(const struct spm *m, int i)
{
	return i < 0 || i >= m->n ? 0 : m->pieces[i].type;
}

int spm_piece_id(const struct spm *m, const char *piece, size_t len)
{
	return spm_lookup(m, piece, len);
}
