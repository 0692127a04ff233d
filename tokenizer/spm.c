/*
 * spm — SentencePiece ModelProto reader/writer and encoder (see spm.h).
 *
 * Sections: UTF-8 rules, protobuf reader, model structures, piece lookup
 * (hash) and prefix trie, loading, normalizer (charsmap double array), BPE,
 * Unigram, unknown/byte fallback, decoding, writing.
 */
#include "spm.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

#define SPM_MAX_FILE (1u << 30)
#define SPM_MAX_PIECE 8000 /* SentencePiece's kMaxPieceSize */

static const char kSpace[] = "\xe2\x96\x81"; /* U+2581, 3 bytes */
static const char kReplacement[] = "\xef\xbf\xbd"; /* U+FFFD */

/* ---------------------------------------------------------------- UTF-8 */

/* SentencePiece's OneCharLen: from the lead byte only. */
static size_t one_char_len(unsigned char c)
{
	static const unsigned char t[16] = {1, 1, 1, 1, 1, 1, 1, 1,
					    1, 1, 1, 1, 2, 2, 3, 4};
	return t[c >> 4];
}

static int trail(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

static int valid_cp(uint32_t c)
{
	return c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF);
}

/* SentencePiece's IsValidDecodeUTF8: 1 and the length of one well-formed
 * character (shortest form, no surrogates), else 0 and *mblen = 1. */
static int utf8_char(const unsigned char *s, size_t len, size_t *mblen)
{
	uint32_t c;
	if (s[0] < 0x80) {
		*mblen = 1;
		return 1;
	}
	if (len >= 2 && (s[0] & 0xE0) == 0xC0) {
		c = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
		if (trail(s[1]) && c >= 0x80 && valid_cp(c)) {
			*mblen = 2;
			return 1;
		}
	} else if (len >= 3 && (s[0] & 0xF0) == 0xE0) {
		c = ((uint32_t)(s[0] & 0x0F) << 12) |
		    ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
		if (trail(s[1]) && trail(s[2]) && c >= 0x800 && valid_cp(c)) {
			*mblen = 3;
			return 1;
		}
	} else if (len >= 4 && (s[0] & 0xF8) == 0xF0) {
		c = ((uint32_t)(s[0] & 0x07) << 18) |
		    ((uint32_t)(s[1] & 0x3F) << 12) |
		    ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
		if (trail(s[1]) && trail(s[2]) && trail(s[3]) &&
		    c >= 0x10000 && valid_cp(c)) {
			*mblen = 4;
			return 1;
		}
	}
	*mblen = 1;
	return 0;
}

static int utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0, k;
	while (i < len) {
		if (!utf8_char(s + i, len - i, &k))
			return 0;
		i += k;
	}
	return 1;
}

/* ------------------------------------------------------- protobuf reader */

struct pb {
	const unsigned char *p, *end;
};

struct pb_field {
	uint32_t num;
	int wt;
	uint64_t v;                /* wire type 0 */
	const unsigned char *data; /* wire types 1, 2, 5 */
	size_t len;
	const unsigned char *start; /* the tag */
};

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
static int pb_next(struct pb *b, struct pb_field *f, const char **why)
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

static float pb_float(const unsigned char *d)
{
	uint32_t u = (uint32_t)d[0] | (uint32_t)d[1] << 8 |
		     (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
	float x;
	memcpy(&x, &u, sizeof x);
	return x;
}

static size_t pb_put_varint(unsigned char *o, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		o[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	o[n++] = (unsigned char)v;
	return n;
}

/* ------------------------------------------------------------ structures */

struct spm_norm {
	int add_dummy_prefix;
	int remove_extra_whitespaces;
	int escape_whitespaces;
	char *name;
	uint32_t *units; /* (n_units) Darts-clone double array, host order */
	size_t n_units;
	const char *repl; /* NUL-separated replacement strings, in m->buf */
	size_t repl_len;
	size_t charsmap_size;
	int present;
};

struct piece {
	const char *s; /* NUL-terminated, in m->strings */
	uint32_t len;
	float score;
	int type;
	size_t raw_off, raw_len; /* the SentencePiece submessage in m->buf */
};

struct field {
	uint32_t num;
	int wt;
	size_t off, len; /* the whole field, tag included */
	size_t pay_off, pay_len;
};

struct spm {
	char *name;
	unsigned char *buf; /* owned copy of the serialized ModelProto */
	size_t len;
	struct piece *pieces; /* (n) */
	int n;
	char *strings;
	struct field *fields; /* (n_fields) top-level fields, file order */
	size_t n_fields;
	struct spm_norm norm, denorm;
	struct spm_info info;
	char *tr_pieces[4]; /* trainer unk/bos/eos/pad_piece, NULL = default */
	char *unk_surface;
	/* Piece lookup: open addressing, ht_id = id + 1 (0 = empty). */
	uint32_t *ht_hash, *ht_id;
	size_t ht_mask;
	/* Byte trie of the "normal" pieces (NORMAL, USER_DEFINED, UNUSED):
	 * transitions (node << 8 | byte) + 1 -> child, node terminal ids. */
	uint64_t *tr_key;
	uint32_t *tr_child;
	size_t tr_mask;
	int32_t *tr_id; /* (tr_nodes) piece id or -1 */
	size_t tr_nodes;
	float min_score, max_score; /* over NORMAL pieces, as SentencePiece */
	uint32_t max_len;           /* longest normal piece, bytes */
	int unk;                    /* the UNKNOWN piece */
	int has_user_defined, has_unused;
	int word_cache_ok; /* BPE words are independent: see bpe_encode */
	int byte_id[256];
	size_t max_run; /* longest stretch encoded at once: spm_set_max_run */
};

static int is_normal_type(int t)
{
	return t == SPM_NORMAL || t == SPM_USER_DEFINED || t == SPM_UNUSED;
}

/* ----------------------------------------------------- lookup structures */

static uint32_t hash_bytes(const unsigned char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 16777619u;
	}
	return h;
}

static int lookup(const struct spm *m, const void *s, size_t n)
{
	uint32_t h = hash_bytes(s, n);
	size_t i = h & m->ht_mask;
	while (m->ht_id[i]) {
		if (m->ht_hash[i] == h) {
			const struct piece *p = &m->pieces[m->ht_id[i] - 1];
			if (p->len == n && memcmp(p->s, s, n) == 0)
				return (int)m->ht_id[i] - 1;
		}
		i = (i + 1) & m->ht_mask;
	}
	return -1;
}

/* SentencePiece's PieceToId: any piece, else the unknown id. */
static int piece_to_id(const struct spm *m, const void *s, size_t n)
{
	int id = lookup(m, s, n);
	return id < 0 ? m->unk : id;
}

static size_t tr_slot(uint64_t key, size_t mask)
{
	return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

/* The child of node by byte c, 0 when none (the root is never a child). */
static uint32_t tr_step(const struct spm *m, uint32_t node, unsigned char c)
{
	uint64_t key = ((uint64_t)node << 8 | c) + 1;
	size_t i = tr_slot(key, m->tr_mask);
	for (;;) {
		uint64_t k = m->tr_key[i];
		if (k == key)
			return m->tr_child[i];
		if (k == 0)
			return 0;
		i = (i + 1) & m->tr_mask;
	}
}

static int build_lookup(struct spm *m, struct err *e)
{
	size_t cap = 16, total = 1;
	while (cap < (size_t)m->n * 2)
		cap <<= 1;
	m->ht_mask = cap - 1;
	m->ht_hash = calloc(cap, sizeof *m->ht_hash);
	m->ht_id = calloc(cap, sizeof *m->ht_id);
	if (!m->ht_hash || !m->ht_id)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", m->name);
	for (int id = 0; id < m->n; id++) {
		const struct piece *p = &m->pieces[id];
		int old = lookup(m, p->s, p->len);
		if (old >= 0) {
			/* SentencePiece keeps normal and reserved pieces in
			 * two maps; one string in both is too odd to mimic. */
			int same = is_normal_type(p->type) ==
				   is_normal_type(m->pieces[old].type);
			return err_set(e, same ? ERR_FORMAT : ERR_UNSUPPORTED,
				       "'%s': piece %d '%s' is already defined "
				       "(piece %d)", m->name, id, p->s, old);
		}
		uint32_t h = hash_bytes((const unsigned char *)p->s, p->len);
		size_t i = h & m->ht_mask;
		while (m->ht_id[i])
			i = (i + 1) & m->ht_mask;
		m->ht_hash[i] = h;
		m->ht_id[i] = (uint32_t)id + 1;
		if (is_normal_type(p->type))
			total += p->len;
	}

	/* Trie: at most one node per byte of the normal pieces. */
	cap = 16;
	while (cap < total * 2)
		cap <<= 1;
	m->tr_mask = cap - 1;
	m->tr_key = calloc(cap, sizeof *m->tr_key);
	m->tr_child = calloc(cap, sizeof *m->tr_child);
	m->tr_id = malloc(total * sizeof *m->tr_id);
	if (!m->tr_key || !m->tr_child || !m->tr_id)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", m->name);
	m->tr_id[0] = -1;
	m->tr_nodes = 1;
	for (int id = 0; id < m->n; id++) {
		const struct piece *p = &m->pieces[id];
		if (!is_normal_type(p->type))
			continue;
		uint32_t node = 0;
		for (uint32_t k = 0; k < p->len; k++) {
			unsigned char c = (unsigned char)p->s[k];
			uint32_t child = tr_step(m, node, c);
			if (!child) {
				uint64_t key = ((uint64_t)node << 8 | c) + 1;
				size_t i = tr_slot(key, m->tr_mask);
				while (m->tr_key[i])
					i = (i + 1) & m->tr_mask;
				child = (uint32_t)m->tr_nodes++;
				m->tr_key[i] = key;
				m->tr_child[i] = child;
				m->tr_id[child] = -1;
			}
			node = child;
		}
		m->tr_id[node] = id;
	}
	return 0;
}

/* Longest user-defined piece that prefixes s (SentencePiece's
 * PrefixMatcher), 0 when none. */
static size_t ud_prefix(const struct spm *m, const unsigned char *s,
			size_t len)
{
	uint32_t node = 0;
	size_t best = 0;
	for (size_t i = 0; i < len; i++) {
		node = tr_step(m, node, s[i]);
		if (!node)
			break;
		int id = m->tr_id[node];
		if (id >= 0 && m->pieces[id].type == SPM_USER_DEFINED)
			best = i + 1;
	}
	return best;
}

/* --------------------------------------------------------------- loading */

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

static char *dup_n(const void *s, size_t n)
{
	char *r = malloc(n + 1);
	if (r) {
		if (n)
			memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
}

static int set_str(struct spm *m, char **dst, const struct pb_field *f,
		   struct err *e)
{
	free(*dst);
	*dst = dup_n(f->data, f->len);
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
	if (!utf8_valid((const unsigned char *)p->s, p->len))
		return err_set(e, ERR_FORMAT, "'%s': piece %d: invalid UTF-8",
			       m->name, id);
	return 0;
}

/* "<0x41>" -> 0x41, else -1 (upper-case hex, as ByteToPiece writes). */
static int piece_byte(const struct piece *p)
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
	int id = piece_to_id(m, s, strlen(s));
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
	int rc = build_lookup(m, e);
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
			int byte = piece_byte(p);
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
		if (is_normal_type(p->type) && p->len > m->max_len)
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
		if (!is_normal_type(p->type))
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
	m->name = dup_n(name, strlen(name));
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
	m->name = dup_n(path, strlen(path));
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
	return lookup(m, piece, len);
}

/* ------------------------------------------------------------ normalizer */

struct sbuf {
	char *p;
	size_t n, cap;
};

static int sb_reserve(struct sbuf *b, size_t extra)
{
	if (extra > SIZE_MAX / 2 - b->n)
		return ERR_NOMEM;
	if (b->n + extra <= b->cap)
		return 0;
	size_t nc = b->cap ? b->cap : 64;
	while (nc < b->n + extra)
		nc *= 2;
	char *np = realloc(b->p, nc);
	if (!np)
		return ERR_NOMEM;
	b->p = np;
	b->cap = nc;
	return 0;
}

static int sb_put(struct sbuf *b, const void *s, size_t n)
{
	if (n == 0) /* b->p may still be NULL (an empty unk_surface) */
		return 0;
	if (sb_reserve(b, n))
		return ERR_NOMEM;
	memcpy(b->p + b->n, s, n);
	b->n += n;
	return 0;
}

/* Darts-clone unit fields. */
#define DA_HAS_LEAF(u) (((u) >> 8) & 1)
#define DA_VALUE(u) ((u) & 0x7FFFFFFFu)
#define DA_LABEL(u) ((u) & (0x80000000u | 0xFFu))
#define DA_OFFSET(u) (((u) >> 10) << (((u) & (1u << 9)) >> 6))

/* Longest charsmap rule prefixing key (Darts commonPrefixSearch, every
 * index range-checked): its length, or 0. */
static size_t cm_longest(const struct spm_norm *ns, const unsigned char *key,
			 size_t len, uint32_t *value)
{
	const uint32_t *a = ns->units;
	size_t n = ns->n_units, best = 0, pos;
	if (n == 0)
		return 0;
	pos = DA_OFFSET(a[0]);
	for (size_t i = 0; i < len; i++) {
		pos ^= key[i];
		if (pos >= n)
			break;
		uint32_t unit = a[pos];
		if (DA_LABEL(unit) != key[i])
			break;
		pos ^= DA_OFFSET(unit);
		if (pos >= n)
			break;
		if (DA_HAS_LEAF(unit)) {
			best = i + 1;
			*value = DA_VALUE(a[pos]);
		}
	}
	return best;
}

/* SentencePiece's NormalizePrefix: bytes consumed; *out the replacement. */
static size_t norm_prefix(const struct spm *m, const struct spm_norm *ns,
			  int use_matcher, const unsigned char *in,
			  size_t len, const char **out, size_t *out_len)
{
	size_t k;
	if (use_matcher && m->has_user_defined) {
		k = ud_prefix(m, in, len);
		if (k) {
			*out = (const char *)in;
			*out_len = k;
			return k;
		}
	}
	if (ns->n_units) {
		uint32_t v = 0;
		k = cm_longest(ns, in, len, &v);
		if (k) {
			if (v < ns->repl_len) {
				const char *s = ns->repl + v;
				const char *z = memchr(s, '\0',
						       ns->repl_len - v);
				*out = s;
				*out_len = z ? (size_t)(z - s)
					     : ns->repl_len - v;
			} else {
				*out = "";
				*out_len = 0;
			}
			return k;
		}
	}
	if (!utf8_char(in, len, &k)) {
		*out = kReplacement;
		*out_len = 3;
		return 1;
	}
	*out = (const char *)in;
	*out_len = k;
	return k;
}

static int normalize(const struct spm *m, const struct spm_norm *ns,
		     int use_matcher, int ws_suffix, const char *text,
		     size_t len, struct sbuf *b)
{
	const unsigned char *in = (const unsigned char *)text;
	size_t pos = 0, k, sl;
	const char *s;
	b->n = 0;
	if (len == 0)
		return 0;
	if (ns->remove_extra_whitespaces) {
		while (pos < len) {
			k = norm_prefix(m, ns, use_matcher, in + pos,
					len - pos, &s, &sl);
			if (!(sl == 1 && s[0] == ' '))
				break;
			pos += k;
		}
	}
	if (pos == len)
		return 0;
	/* Most output is at most 3 bytes per input byte. */
	if (sb_reserve(b, 3 * (len - pos) + 8))
		return ERR_NOMEM;
	if (!ws_suffix && ns->add_dummy_prefix) {
		if (sb_put(b, ns->escape_whitespaces ? kSpace : " ",
			   ns->escape_whitespaces ? 3 : 1))
			return ERR_NOMEM;
	}
	int prev_space = ns->remove_extra_whitespaces;
	while (pos < len) {
		k = norm_prefix(m, ns, use_matcher, in + pos, len - pos, &s,
				&sl);
		while (prev_space && sl && s[0] == ' ') {
			s++;
			sl--;
		}
		if (sl) {
			if (sb_reserve(b, 3 * sl))
				return ERR_NOMEM;
			for (size_t i = 0; i < sl; i++) {
				if (ns->escape_whitespaces && s[i] == ' ') {
					memcpy(b->p + b->n, kSpace, 3);
					b->n += 3;
				} else {
					b->p[b->n++] = s[i];
				}
			}
			prev_space = s[sl - 1] == ' ';
		}
		pos += k;
		if (!ns->remove_extra_whitespaces)
			prev_space = 0;
	}
	if (ns->remove_extra_whitespaces) {
		const char *sp = ns->escape_whitespaces ? kSpace : " ";
		size_t spl = ns->escape_whitespaces ? 3 : 1;
		while (b->n >= spl && memcmp(b->p + b->n - spl, sp, spl) == 0)
			b->n -= spl;
	}
	if (ws_suffix && ns->add_dummy_prefix) {
		if (sb_put(b, ns->escape_whitespaces ? kSpace : " ",
			   ns->escape_whitespaces ? 3 : 1))
			return ERR_NOMEM;
	}
	return 0;
}

int spm_normalize(const struct spm *m, const char *text, size_t len,
		  char **out, size_t *out_len, struct err *e)
{
	struct sbuf b = {0};
	*out = NULL;
	if (normalize(m, &m->norm, 1, m->info.treat_whitespace_as_suffix,
		      text, len, &b) || sb_put(&b, "", 1)) {
		free(b.p);
		return err_set(e, ERR_NOMEM, "'%s': out of memory", m->name);
	}
	*out = b.p;
	if (out_len)
		*out_len = b.n - 1;
	return 0;
}

/* ------------------------------------------------------ encoder scratch */

struct sym {
	uint32_t start, len;
	int32_t prev, next;
	int freeze;
};

struct pair {
	float score;
	int32_t left, right;
	uint32_t size;
};

struct span {
	uint32_t start, len;
	int32_t id;
};

struct best {
	float score;
	int32_t starts_at;
	int32_t id;
};

struct wc_entry {
	uint32_t hash, key_off, key_len, span_off, span_n;
};

struct scratch {
	struct sbuf norm;
	struct sym *syms;
	size_t syms_cap;
	struct pair *heap;
	size_t heap_n, heap_cap;
	struct span *res;
	size_t res_n, res_cap;
	struct span *stack;
	size_t stack_cap;
	struct best *best;
	size_t best_cap;
	/* rev_merge of UNUSED pieces: left length by piece id, valid when
	 * rev_gen[id] == gen. */
	uint32_t *rev_len, *rev_gen;
	size_t rev_cap;
	uint32_t gen;
	/* BPE word cache (see bpe_word). */
	uint32_t *wc_slot; /* (2 * WC_MAX) entry index + 1, 0 = empty */
	struct wc_entry *wc;
	uint32_t wc_n;
	unsigned char *wc_keys;
	size_t wc_key_n, wc_keys_cap;
	struct span *wc_spans;
	size_t wc_span_n, wc_spans_cap;
	/* BPE: results so far turned into ids as it goes (res_flush), so a
	 * long line holds its spans for one word at a time, not all */
	struct spm_state *out;
	int prev_unk;
};

void spm_state_free(struct spm_state *st)
{
	if (!st)
		return;
	struct scratch *s = st->scratch;
	if (s) {
		free(s->norm.p);
		free(s->syms);
		free(s->heap);
		free(s->res);
		free(s->stack);
		free(s->best);
		free(s->rev_len);
		free(s->rev_gen);
		free(s->wc_slot);
		free(s->wc);
		free(s->wc_keys);
		free(s->wc_spans);
		free(s);
	}
	free(st->ids);
	memset(st, 0, sizeof *st);
}

/* Grows *p (of *cap elements of size sz) to hold at least n. */
static int grow(void *pp, size_t *cap, size_t n, size_t sz)
{
	void **p = pp;
	if (n <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 16;
	while (nc < n) {
		if (nc > SIZE_MAX / 2 / sz)
			return ERR_NOMEM;
		nc *= 2;
	}
	void *np = realloc(*p, nc * sz);
	if (!np)
		return ERR_NOMEM;
	*p = np;
	*cap = nc;
	return 0;
}

static int res_push(struct scratch *s, uint32_t start, uint32_t len,
		    int32_t id)
{
	if (grow(&s->res, &s->res_cap, s->res_n + 1, sizeof *s->res))
		return ERR_NOMEM;
	s->res[s->res_n].start = start;
	s->res[s->res_n].len = len;
	s->res[s->res_n].id = id;
	s->res_n++;
	return 0;
}

/* ------------------------------------------------------------------- BPE */

/* Heap order: higher score first, then the leftmost pair. */
static int pair_before(const struct pair *a, const struct pair *b)
{
	return a->score > b->score ||
	       (a->score == b->score && a->left < b->left);
}

static int heap_push(struct scratch *s, const struct pair *p)
{
	if (grow(&s->heap, &s->heap_cap, s->heap_n + 1, sizeof *s->heap))
		return ERR_NOMEM;
	size_t i = s->heap_n++;
	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (!pair_before(p, &s->heap[up]))
			break;
		s->heap[i] = s->heap[up];
		i = up;
	}
	s->heap[i] = *p;
	return 0;
}

static struct pair heap_pop(struct scratch *s)
{
	struct pair top = s->heap[0], last = s->heap[--s->heap_n];
	size_t i = 0, n = s->heap_n;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && pair_before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!pair_before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (n)
		s->heap[i] = last;
	return top;
}

static int bpe_maybe_add(const struct spm *m, struct scratch *s,
			 int32_t left, int32_t right)
{
	if (left < 0 || right < 0)
		return 0;
	const struct sym *l = &s->syms[left], *r = &s->syms[right];
	if (l->freeze || r->freeze)
		return 0;
	uint32_t size = l->len + r->len;
	if (size > m->max_len)
		return 0;
	int id = lookup(m, s->norm.p + l->start, size);
	if (id < 0 || !is_normal_type(m->pieces[id].type))
		return 0;
	struct pair p = {m->pieces[id].score, left, right, size};
	if (heap_push(s, &p))
		return ERR_NOMEM;
	if (m->pieces[id].type == SPM_UNUSED) {
		s->rev_len[id] = l->len;
		s->rev_gen[id] = s->gen;
	}
	return 0;
}

/* Splits an UNUSED piece back into the symbols that formed it. */
static int bpe_resegment(const struct spm *m, struct scratch *s,
			 uint32_t start, uint32_t len)
{
	size_t top = 0;
	if (grow(&s->stack, &s->stack_cap, 1, sizeof *s->stack))
		return ERR_NOMEM;
	s->stack[top].start = start;
	s->stack[top++].len = len;
	while (top) {
		struct span w = s->stack[--top];
		int id = piece_to_id(m, s->norm.p + w.start, w.len);
		uint32_t ll;
		if (m->pieces[id].type != SPM_UNUSED ||
		    s->rev_gen[id] != s->gen ||
		    (ll = s->rev_len[id]) == 0 || ll >= w.len) {
			if (res_push(s, w.start, w.len, id))
				return ERR_NOMEM;
			continue;
		}
		if (grow(&s->stack, &s->stack_cap, top + 2,
			 sizeof *s->stack))
			return ERR_NOMEM;
		s->stack[top].start = w.start + ll; /* right, popped last */
		s->stack[top++].len = w.len - ll;
		s->stack[top].start = w.start;
		s->stack[top++].len = ll;
	}
	return 0;
}

/* BPE over bytes [a, b) of the normalized text; appends to s->res. */
static int bpe_range(const struct spm *m, struct scratch *s, size_t a,
		     size_t b)
{
	const unsigned char *t = (const unsigned char *)s->norm.p;
	size_t count = 0, pos = a;

	s->heap_n = 0;
	if (a >= b)
		return 0;
	if (grow(&s->syms, &s->syms_cap, b - a, sizeof *s->syms))
		return ERR_NOMEM;
	while (pos < b) {
		struct sym *y = &s->syms[count];
		size_t k = m->has_user_defined ? ud_prefix(m, t + pos, b - pos)
					       : 0;
		y->freeze = k != 0;
		if (!k) {
			k = one_char_len(t[pos]);
			if (k > b - pos)
				k = b - pos;
		}
		y->start = (uint32_t)pos;
		y->len = (uint32_t)k;
		y->prev = (int32_t)count - 1;
		pos += k;
		y->next = pos < b ? (int32_t)count + 1 : -1;
		count++;
	}
	for (size_t i = 1; i < count; i++)
		if (bpe_maybe_add(m, s, (int32_t)i - 1, (int32_t)i))
			return ERR_NOMEM;
	while (s->heap_n) {
		struct pair top = heap_pop(s);
		struct sym *l = &s->syms[top.left], *r = &s->syms[top.right];
		if (l->len == 0 || r->len == 0 || l->len + r->len != top.size)
			continue; /* stale */
		l->len += r->len;
		l->next = r->next;
		if (r->next >= 0)
			s->syms[r->next].prev = top.left;
		r->len = 0;
		if (bpe_maybe_add(m, s, l->prev, top.left) ||
		    bpe_maybe_add(m, s, top.left, l->next))
			return ERR_NOMEM;
	}
	for (int32_t i = 0; i != -1; i = s->syms[i].next) {
		const struct sym *y = &s->syms[i];
		if (m->has_unused) {
			if (bpe_resegment(m, s, y->start, y->len))
				return ERR_NOMEM;
		} else if (res_push(s, y->start, y->len,
				    piece_to_id(m, s->norm.p + y->start,
						y->len))) {
			return ERR_NOMEM;
		}
	}
	return 0;
}

static int ids_push(struct spm_state *st, int id);

/* SentencePieceProcessor's PopulateSentencePieceText over s->res: unknown
 * pieces become byte pieces, or fuse into one <unk>; appended to s->out's
 * ids, then s->res is emptied. */
static int res_flush(const struct spm *m, struct scratch *s)
{
	struct spm_state *st = s->out;
	for (size_t i = 0; i < s->res_n; i++) {
		const struct span *w = &s->res[i];
		int type = m->pieces[w->id].type;
		int is_unk = type == SPM_UNKNOWN;
		if (is_unk && m->info.byte_fallback) {
			for (uint32_t k = 0; k < w->len; k++) {
				unsigned char c =
					(unsigned char)s->norm.p[w->start + k];
				if (ids_push(st, m->byte_id[c]))
					return ERR_NOMEM;
			}
		} else if (!(is_unk && s->prev_unk)) {
			if (ids_push(st, w->id))
				return ERR_NOMEM;
		}
		s->prev_unk = is_unk;
	}
	s->res_n = 0;
	return 0;
}

/* bpe_range over [a, b) in stretches of at most m->max_run bytes, cut at
 * character boundaries: the same as bpe_range when b - a <= max_run. */
static int bpe_range_bounded(const struct spm *m, struct scratch *s, size_t a,
			     size_t b)
{
	size_t max = m->max_run ? m->max_run : (size_t)1 << 20;
	while (b - a > max) {
		size_t c = a + max;
		while (c > a + 1 && ((unsigned char)s->norm.p[c] & 0xC0) == 0x80)
			c--;
		if (bpe_range(m, s, a, c) || (s->out && res_flush(m, s)))
			return ERR_NOMEM;
		a = c;
	}
	return bpe_range(m, s, a, b);
}

/* The word cache: segment bytes -> its spans.  Emptied when it reaches
 * WC_MAX entries or WC_ARENA bytes of keys, so memory stays bounded. */
#define WC_MAX (1u << 15)
#define WC_ARENA (4u << 20)
#define WC_LONGEST 256 /* longer segments are not cached */

static void wc_clear(struct scratch *s)
{
	if (s->wc_slot)
		memset(s->wc_slot, 0, (size_t)(2 * WC_MAX) * sizeof *s->wc_slot);
	s->wc_n = 0;
	s->wc_key_n = 0;
	s->wc_span_n = 0;
}

/* Returns the entry index of key, or -1; *slot is where to insert. */
static int32_t wc_find(const struct scratch *s, const unsigned char *key,
		       uint32_t len, uint32_t h, size_t *slot)
{
	size_t mask = 2 * WC_MAX - 1, i = h & mask;
	while (s->wc_slot[i]) {
		const struct wc_entry *en = &s->wc[s->wc_slot[i] - 1];
		if (en->hash == h && en->key_len == len &&
		    !memcmp(s->wc_keys + en->key_off, key, len))
			return (int32_t)s->wc_slot[i] - 1;
		i = (i + 1) & mask;
	}
	*slot = i;
	return -1;
}

static int wc_store(struct scratch *s, size_t slot, const unsigned char *key,
		    uint32_t len, uint32_t h, size_t res_from, size_t seg)
{
	uint32_t n = (uint32_t)(s->res_n - res_from);
	if (grow(&s->wc_keys, &s->wc_keys_cap, s->wc_key_n + len, 1) ||
	    grow(&s->wc_spans, &s->wc_spans_cap, s->wc_span_n + n,
		 sizeof *s->wc_spans))
		return ERR_NOMEM;
	struct wc_entry *en = &s->wc[s->wc_n];
	en->hash = h;
	en->key_off = (uint32_t)s->wc_key_n;
	en->key_len = len;
	en->span_off = (uint32_t)s->wc_span_n;
	en->span_n = n;
	memcpy(s->wc_keys + s->wc_key_n, key, len);
	s->wc_key_n += len;
	for (uint32_t i = 0; i < n; i++) {
		const struct span *r = &s->res[res_from + i];
		s->wc_spans[s->wc_span_n + i].start = r->start - (uint32_t)seg;
		s->wc_spans[s->wc_span_n + i].len = r->len;
		s->wc_spans[s->wc_span_n + i].id = r->id;
	}
	s->wc_span_n += n;
	s->wc_slot[slot] = (uint32_t)++s->wc_n;
	return 0;
}

/* One word: from the cache, else BPE and remember it. */
static int bpe_word(const struct spm *m, struct scratch *s, size_t a,
		    size_t b)
{
	const unsigned char *key = (const unsigned char *)s->norm.p + a;
	uint32_t len = (uint32_t)(b - a), h;
	size_t slot = 0, from = s->res_n;
	int32_t hit;
	if (len > WC_LONGEST)
		return bpe_range_bounded(m, s, a, b);
	if (!s->wc_slot) {
		s->wc_slot = calloc(2 * WC_MAX, sizeof *s->wc_slot);
		s->wc = malloc(WC_MAX * sizeof *s->wc);
		if (!s->wc_slot || !s->wc)
			return ERR_NOMEM;
	}
	h = hash_bytes(key, len);
	hit = wc_find(s, key, len, h, &slot);
	if (hit >= 0) {
		const struct wc_entry *en = &s->wc[hit];
		if (grow(&s->res, &s->res_cap, s->res_n + en->span_n,
			 sizeof *s->res))
			return ERR_NOMEM;
		for (uint32_t i = 0; i < en->span_n; i++) {
			struct span r = s->wc_spans[en->span_off + i];
			r.start += (uint32_t)a;
			s->res[s->res_n++] = r;
		}
		return 0;
	}
	if (bpe_range(m, s, a, b))
		return ERR_NOMEM;
	if (s->wc_n == WC_MAX || s->wc_key_n + len > WC_ARENA ||
	    s->wc_span_n + (s->res_n - from) > WC_ARENA / 8) {
		wc_clear(s);
		wc_find(s, key, len, h, &slot);
	}
	return wc_store(s, slot, key, len, h, from, a);
}

static int bpe_encode(const struct spm *m, struct scratch *s, int cache)
{
	const char *t = s->norm.p;
	size_t n = s->norm.n;

	s->res_n = 0;
	if (n == 0)
		return 0;
	if (n > INT32_MAX)
		return ERR_NOMEM;
	if (m->has_unused) {
		if ((size_t)m->n > s->rev_cap) {
			free(s->rev_len);
			free(s->rev_gen);
			s->rev_len = calloc((size_t)m->n, sizeof *s->rev_len);
			s->rev_gen = calloc((size_t)m->n, sizeof *s->rev_gen);
			if (!s->rev_len || !s->rev_gen) {
				s->rev_cap = 0;
				return ERR_NOMEM;
			}
			s->rev_cap = (size_t)m->n;
			s->gen = 0;
		}
		if (++s->gen == 0) {
			memset(s->rev_gen, 0, s->rev_cap * sizeof *s->rev_gen);
			s->gen = 1;
		}
	}
	if (!cache || !m->word_cache_ok)
		return bpe_range_bounded(m, s, 0, n);
	/* Words start at a U+2581 that follows something else; no piece
	 * spans such a point (checked at load), so words are independent. */
	size_t a = 0;
	for (size_t p = 1; p + 3 <= n; p++) {
		if (memcmp(t + p, kSpace, 3) != 0 ||
		    (p >= 3 && memcmp(t + p - 3, kSpace, 3) == 0))
			continue;
		if (bpe_word(m, s, a, p) ||
		    (s->out && s->res_n >= 4096 && res_flush(m, s)))
			return ERR_NOMEM;
		a = p;
		p += 2;
	}
	return bpe_word(m, s, a, n);
}

/* --------------------------------------------------------------- Unigram */

/* SentencePiece's EncodeOptimized, with its arithmetic: a piece's score is
 * a double (the user-defined formula has a double literal), the path sums
 * are stored as floats, the unknown candidate is float throughout. */
static int unigram_encode(const struct spm *m, struct scratch *s)
{
	const unsigned char *t = (const unsigned char *)s->norm.p;
	size_t size = s->norm.n;
	const float unk_score = m->min_score - 10.0f;

	s->res_n = 0;
	if (size == 0)
		return 0;
	if (size > INT32_MAX ||
	    grow(&s->best, &s->best_cap, size + 1, sizeof *s->best))
		return ERR_NOMEM;
	for (size_t i = 0; i <= size; i++) {
		s->best[i].score = 0.0f;
		s->best[i].starts_at = -1;
		s->best[i].id = -1;
	}
	size_t starts_at = 0;
	while (starts_at < size) {
		const float till = s->best[starts_at].score;
		int has_single = 0;
		size_t mblen = one_char_len(t[starts_at]);
		if (mblen > size - starts_at)
			mblen = size - starts_at;
		uint32_t node = 0;
		for (size_t key_pos = starts_at; key_pos < size;) {
			node = tr_step(m, node, t[key_pos]);
			if (!node)
				break;
			key_pos++;
			int id = m->tr_id[node];
			if (id < 0)
				continue;
			const struct piece *p = &m->pieces[id];
			if (p->type == SPM_UNUSED)
				continue;
			size_t length = key_pos - starts_at;
			double score =
				p->type == SPM_USER_DEFINED
					? (double)((float)length *
						   m->max_score) - 0.1
					: (double)p->score;
			double cand = score + (double)till;
			struct best *b = &s->best[key_pos];
			if (b->starts_at == -1 || cand > (double)b->score) {
				b->score = (float)cand;
				b->starts_at = (int32_t)starts_at;
				b->id = id;
			}
			if (length == mblen)
				has_single = 1;
		}
		if (!has_single) {
			struct best *b = &s->best[starts_at + mblen];
			float cand = unk_score + till;
			if (b->starts_at == -1 || cand > b->score) {
				b->score = cand;
				b->starts_at = (int32_t)starts_at;
				b->id = m->unk;
			}
		}
		starts_at += mblen;
	}
	/* Backtrack, then reverse. */
	for (size_t end = size; end > 0;) {
		const struct best *b = &s->best[end];
		if (b->starts_at < 0 || (size_t)b->starts_at >= end)
			return ERR_FORMAT; /* cannot happen */
		if (res_push(s, (uint32_t)b->starts_at,
			     (uint32_t)(end - (size_t)b->starts_at), b->id))
			return ERR_NOMEM;
		end = (size_t)b->starts_at;
	}
	for (size_t i = 0, j = s->res_n; i + 1 < j; i++, j--) {
		struct span tmp = s->res[i];
		s->res[i] = s->res[j - 1];
		s->res[j - 1] = tmp;
	}
	return 0;
}

/* ------------------------------------------------ encode: unknown pieces */

static int ids_push(struct spm_state *st, int id)
{
	if (st->n == st->cap &&
	    grow(&st->ids, &st->cap, st->n + 1, sizeof *st->ids))
		return ERR_NOMEM;
	st->ids[st->n++] = id;
	return 0;
}

int spm_encode_state(const struct spm *m, const char *text, size_t len,
		     struct spm_state *st, struct err *e)
{
	struct scratch *s = st->scratch;
	int rc;
	st->n = 0;
	if (!s) {
		s = calloc(1, sizeof *s);
		if (!s)
			return err_set(e, ERR_NOMEM, "'%s': out of memory",
				       m->name);
		st->scratch = s;
	}
	rc = normalize(m, &m->norm, 1, m->info.treat_whitespace_as_suffix,
		       text, len, &s->norm);
	s->out = NULL;
	s->prev_unk = 0;
	/* BPE without UNUSED pieces keeps its spans in text order and never
	 * revisits them: they become ids as it goes */
	if (!rc && m->info.model_type == SPM_BPE && !m->has_unused)
		s->out = st;
	if (!rc)
		rc = m->info.model_type == SPM_BPE ? bpe_encode(m, s, !st->no_cache)
						   : unigram_encode(m, s);
	if (!rc) {
		s->out = st;
		rc = res_flush(m, s);
	}
	s->out = NULL;
	if (rc)
		return err_set(e, rc, "'%s': %s while encoding %zu bytes",
			       m->name,
			       rc == ERR_NOMEM ? "out of memory"
					       : "internal error", len);
	return 0;
}

int spm_encode(const struct spm *m, const char *text, size_t len, int **ids,
	       size_t *n, struct err *e)
{
	struct spm_state st = {0};
	*ids = NULL;
	*n = 0;
	int rc = spm_encode_state(m, text, len, &st, e);
	if (rc == 0 && st.n) {
		*ids = st.ids;
		*n = st.n;
		st.ids = NULL;
	}
	spm_state_free(&st);
	return rc;
}

/* -------------------------------------------------------------- decoding */

static int flush_bytes(struct sbuf *t, const unsigned char *bytes, size_t n)
{
	size_t off = 0, k;
	while (off < n) {
		if (utf8_char(bytes + off, n - off, &k)) {
			if (sb_put(t, bytes + off, k))
				return ERR_NOMEM;
		} else if (sb_put(t, kReplacement, 3)) {
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
			unsigned char c = (unsigned char)piece_byte(p);
			if (sb_put(&bytes, &c, 1))
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
			if (sb_put(&t, u, strlen(u)))
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
				if (sb_put(&t, " ", 1))
					goto nomem;
				s += 3;
				sl -= 3;
			} else {
				if (sb_put(&t, s, 1))
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
		if (normalize(m, &m->denorm, 0, 0, t.p ? t.p : "", t.n, &d)) {
			free(d.p);
			goto nomem;
		}
		free(t.p);
		t = d;
	}
	if (sb_put(&t, "", 1))
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

/* --------------------------------------------------------------- writing */

static int put_field_len(struct sbuf *o, uint32_t num, const void *d,
			 size_t n)
{
	unsigned char hdr[20];
	size_t h = pb_put_varint(hdr, (uint64_t)num << 3 | 2);
	h += pb_put_varint(hdr + h, n);
	if (sb_put(o, hdr, h) || sb_put(o, d, n))
		return ERR_NOMEM;
	return 0;
}

static int put_field_varint(struct sbuf *o, uint32_t num, uint64_t v)
{
	unsigned char hdr[24];
	size_t h = pb_put_varint(hdr, (uint64_t)num << 3);
	h += pb_put_varint(hdr + h, v);
	return sb_put(o, hdr, h) ? ERR_NOMEM : 0;
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
		} else if (sb_put(o, f.start, (size_t)(b.p - f.start))) {
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
			rc = sb_put(&o, m->buf + fl->off, fl->len);
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
