/*
 * spm_normalize — SentencePiece's normalizer (see spm.h, spm_impl.h):
 * user-defined pieces verbatim, else the longest precompiled_charsmap rule
 * (a Darts-clone double array, range-checked at every step), whitespace
 * handling (remove_extra_whitespaces, add_dummy_prefix,
 * escape_whitespaces).
 */
#include <stdlib.h>
#include <string.h>

#include "spm_impl.h"
#include "spm_text.h"

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
		k = spm_ud_prefix(m, in, len);
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
	if (!spm_utf8_char(in, len, &k)) {
		*out = kReplacement;
		*out_len = 3;
		return 1;
	}
	*out = (const char *)in;
	*out_len = k;
	return k;
}

int spm_norm_apply(const struct spm *m, const struct spm_norm *ns,
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
	if (spm_sb_reserve(b, 3 * (len - pos) + 8))
		return ERR_NOMEM;
	if (!ws_suffix && ns->add_dummy_prefix) {
		if (spm_sb_put(b, ns->escape_whitespaces ? kSpace : " ",
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
			if (spm_sb_reserve(b, 3 * sl))
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
		if (spm_sb_put(b, ns->escape_whitespaces ? kSpace : " ",
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
	if (spm_norm_apply(m, &m->norm, 1, m->info.treat_whitespace_as_suffix,
			   text, len, &b) || spm_sb_put(&b, "", 1)) {
		free(b.p);
		return err_set(e, ERR_NOMEM, "'%s': out of memory", m->name);
	}
	*out = b.p;
	if (out_len)
		*out_len = b.n - 1;
	return 0;
}
