#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "tok_impl.h"

/* --- load / free ------------------------------------------------------ */

void tok_impl_clear(struct tokenizer *t)
{
	bpe_free(&t->bpe);
	for (size_t i = 0; i < t->n_added; i++) {
		free(t->added[i].content);
		free(t->added[i].norm);
	}
	free(t->added);
	normalizer_free(&t->norm);
	free(t->pretok.pattern);
	free(t->tpl_pre);
	free(t->tpl_post);
	for (size_t i = 0; i < t->n_dec; i++) {
		free(t->dec[i].a);
		free(t->dec[i].b);
	}
	free(t->dec);
	free(t->path);
	spm_free(t->spm);
	free(t->note);
	free(t->src_json);
}

void tok_free(struct tokenizer *t)
{
	if (!t)
		return;
	tok_impl_clear(t);
	free(t);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

static struct tokenizer *tok_alloc(const char *name)
{
	struct tokenizer *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	bpe_init(&t->bpe);
	t->bos_id = t->eos_id = -1;
	t->spm_sentinel = -1;
	t->chunk = TOK_CHUNK;
	t->max_run = TOK_MAX_RUN;
	t->path = strdup(name);
	if (!t->path) {
		free(t);
		return NULL;
	}
	return t;
}

static bool has_metaspace(const char *p, size_t len)
{
	for (size_t i = 0; i + 3 <= len; i++)
		if (!memcmp(p + i, "\xe2\x96\x81", 3))
			return true;
	return false;
}

/* One SentencePiece BPE merge derived from the pieces. */
struct spm_merge {
	float score; /* of the result */
	int result, left, right;
	size_t split; /* byte offset of the split */
};

static int spm_merge_cmp(const void *a, const void *b)
{
	const struct spm_merge *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->result != y->result)
		return x->result < y->result ? -1 : 1;
	return (x->split > y->split) - (x->split < y->split);
}

/* SentencePiece BPE has no merge list: it joins any adjacent pair whose
 * concatenation is a piece, best score first. The merges that produce a
 * piece are therefore its splits into two mergeable pieces (NORMAL or
 * UNUSED; user-defined, control and byte pieces never merge), listed by
 * the result's score (highest first), then result id, then split offset. */
static int spm_derive_merges(struct tokenizer *t, struct err *e)
{
	const struct spm *m = t->spm;
	int n = spm_n_pieces(m);
	struct spm_merge *v = NULL;
	size_t nv = 0, cap = 0;
	int rc = 0;
	for (int id = 0; id < n; id++) {
		int ty = spm_type(m, id);
		if (ty != SPM_NORMAL && ty != SPM_UNUSED)
			continue;
		size_t len;
		const char *p = spm_piece(m, id, &len);
		for (size_t k = 1; k < len; k++) {
			if (((unsigned char)p[k] & 0xC0) == 0x80)
				continue;
			int l = spm_piece_id(m, p, k);
			int r = spm_piece_id(m, p + k, len - k);
			if (l < 0 || r < 0)
				continue;
			int tl = spm_type(m, l), tr = spm_type(m, r);
			if ((tl != SPM_NORMAL && tl != SPM_UNUSED) ||
			    (tr != SPM_NORMAL && tr != SPM_UNUSED))
				continue;
			if (nv == cap) {
				size_t c = cap ? cap * 2 : 1024;
				struct spm_merge *w = realloc(v, c * sizeof *w);
				if (!w) {
					free(v);
					return err_set(e, ERR_NOMEM,
						       "out of memory");
				}
				v = w;
				cap = c;
			}
			v[nv++] = (struct spm_merge){spm_score(m, id), id, l, r, k};
		}
	}
	if (nv)
		qsort(v, nv, sizeof *v, spm_merge_cmp);
	for (size_t i = 0; i < nv && !rc; i++)
		rc = bpe_add_merge(&t->bpe, v[i].left, v[i].right, v[i].result,
				   e);
	free(v);
	return rc;
}

int tok_from_spm(struct spm *m, const char *name, struct tokenizer **out,
		 struct err *e)
{
	*out = NULL;
	struct tokenizer *t = tok_alloc(name);
	if (!t) {
		spm_free(m);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	t->kind = TOK_SPM;
	t->spm = m;
	const struct spm_info *in = spm_info(m);
	int n = spm_n_pieces(m), rc = bpe_reserve_ids(&t->bpe, n, e);
	for (int id = 0; id < n && !rc; id++) {
		size_t len;
		const char *p = spm_piece(m, id, &len);
		int ty = spm_type(m, id);
		uint8_t fl = 0;
		if (ty == SPM_CONTROL || ty == SPM_UNKNOWN)
			fl = BPE_PIECE_SPECIAL;
		else if (ty == SPM_USER_DEFINED)
			fl = BPE_PIECE_ADDED;
		rc = bpe_set_piece(&t->bpe, id, p, len, fl, e);
		if (t->spm_sentinel < 0 && ty == SPM_NORMAL && len &&
		    !has_metaspace(p, len))
			t->spm_sentinel = id;
	}
	if (!rc && in->model_type == SPM_BPE)
		rc = spm_derive_merges(t, e);
	if (!rc)
		rc = bpe_finish(&t->bpe, e);
	if (rc) {
		tok_free(t);
		return err_wrap(e, "'%s'", name);
	}
	/* A byte piece of another type (SentencePiece allows it) is not a
	 * byte-fallback piece. */
	for (int i = 0; i < 256; i++) {
		int id = t->bpe.byte_id[i];
		if (id >= 0 && spm_type(m, id) != SPM_BYTE) {
			t->bpe.flags[id] &= (uint8_t)~BPE_PIECE_BYTE;
			t->bpe.byte_id[i] = -1;
		}
	}
	t->bpe.unk_id = in->unk_id;
	t->bpe.byte_fallback = in->byte_fallback != 0;
	t->bpe.fuse_unk = true;
	t->bos_id = in->bos_id;
	t->eos_id = in->eos_id;
	if (t->bos_id >= 0 && !(t->tpl_pre = malloc(sizeof *t->tpl_pre))) {
		tok_free(t);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	if (t->bos_id >= 0) {
		t->tpl_pre[0] = t->bos_id;
		t->n_tpl_pre = 1;
	}
	*out = t;
	return 0;
}

int tok_from_json_text(const char *json, size_t len, const char *name,
		       struct tokenizer **out, struct err *e)
{
	*out = NULL;
	struct tokenizer *t = tok_alloc(name);
	if (!t)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = hf_load_json_text(t, json, len, name, e);
	if (rc) {
		tok_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

static int load_file(const char *file, struct tokenizer **out, struct err *e)
{
	*out = NULL;
	if (ends_with(file, ".model")) {
		struct spm *m;
		int rc = spm_load_file(file, &m, e);
		return rc ? rc : tok_from_spm(m, file, out, e);
	}
	struct tokenizer *t = tok_alloc(file);
	if (!t)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = hf_load_json(t, file, e);
	if (rc) {
		tok_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int tok_load(const char *path_or_dir, struct tokenizer **out, struct err *e)
{
	char json[4096], cfg[4096], model[4096];
	const char *file = NULL, *dir = NULL;
	char dirbuf[4096];
	bool fallback = false;
	*out = NULL;
	if (path_is_dir(path_or_dir)) {
		dir = path_or_dir;
		if (path_join(json, sizeof json, dir, "tokenizer.json", e) ||
		    path_join(model, sizeof model, dir, "tokenizer.model", e))
			return e ? e->code : ERR_INVALID;
		if (path_exists(json)) {
			file = json;
			fallback = path_exists(model);
		} else if (path_exists(model)) {
			file = model;
		} else {
			return err_set(e, ERR_NOTFOUND,
				       "'%s': no tokenizer.json or "
				       "tokenizer.model",
				       dir);
		}
	} else {
		if (!path_exists(path_or_dir))
			return err_set(e, ERR_NOTFOUND,
				       "cannot open '%s': No such file or "
				       "directory",
				       path_or_dir);
		file = path_or_dir;
		/* tokenizer_config.json beside the file */
		const char *slash = strrchr(file, '/');
		size_t dl = slash ? (size_t)(slash - file) : 1;
		if (dl >= sizeof dirbuf)
			return err_set(e, ERR_INVALID, "'%s': path too long", file);
		memcpy(dirbuf, slash ? file : ".", dl);
		dirbuf[dl] = '\0';
		if (slash && dl == 0)
			strcpy(dirbuf, "/");
		dir = dirbuf;
	}
	struct tokenizer *t;
	int rc = load_file(file, &t, e);
	if (rc && fallback && rc != ERR_NOMEM) {
		/* A tokenizer.json that does not load (the published 8,064
		 * piece one names merges out of its vocabulary; the reference
		 * refuses it too): use the tokenizer.model, and say why. */
		char why[ERR_MSG_MAX];
		snprintf(why, sizeof why, "%s", e ? e->msg : "cannot load");
		struct err e2;
		int rc2 = load_file(model, &t, &e2);
		if (rc2)
			return rc; /* the first error is the one to show */
		size_t nl = strlen(why) + 64;
		t->note = malloc(nl);
		if (!t->note) {
			tok_free(t);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
		snprintf(t->note, nl, "tokenizer.model used: %s", why);
		if (e)
			err_clear(e);
		rc = 0;
	}
	if (rc)
		return rc;
	if (path_join(cfg, sizeof cfg, dir, "tokenizer_config.json", NULL) ==
		    0 &&
	    path_exists(cfg) && (rc = hf_load_config(t, cfg, e))) {
		tok_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

const char *tok_note(const struct tokenizer *t)
{
	return t->note ? t->note : "";
}

/* --- encode ----------------------------------------------------------- */

static uint32_t cp_at(const char *s, size_t i, size_t *len)
{
	return utf8_decode((const unsigned char *)s + i, len);
}

/* The code point ending at byte i (i > 0). */
static uint32_t cp_before(const char *s, size_t i)
{
	size_t k = i - 1, l;
	while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	return cp_at(s, k, &l);
}

struct split {
	size_t a, b; /* byte range */
	int id;      /* added token id, or -1 for text */
};

struct splits {
	struct split *v;
	size_t n, cap;
};

static int splits_push(struct splits *s, size_t a, size_t b, int id)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct split *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct split){a, b, id};
	return 0;
}

/* Splits s[0..n) around added tokens of one kind (normalized or not), as
 * AddedVocabulary::find_matches: leftmost-longest matches, single_word,
 * lstrip, rstrip; a discarded match still consumes its text. */
static int find_added(const struct tokenizer *t, const char *s, size_t n,
		      bool normalized, struct splits *out)
{
	size_t pos = 0, start_offset = 0;
	bool any = false;
	for (size_t i = 0; i < t->n_added; i++)
		if (t->added[i].normalized == normalized)
			any = true;
	while (any && pos < n) {
		const struct tok_added *best = NULL;
		size_t p = pos, blen = 0;
		for (; p < n && !best; p++) {
			unsigned char c = (unsigned char)s[p];
			const uint8_t *filter = normalized ? t->added_first_norm
							   : t->added_first;
			if (!(filter[c >> 3] & (1u << (c & 7))))
				continue;
			for (size_t i = 0; i < t->n_added; i++) {
				const struct tok_added *a = &t->added[i];
				if (a->normalized != normalized)
					continue;
				const char *pat = normalized ? a->norm : a->content;
				size_t pl = normalized ? a->norm_len : a->len;
				if (pl && pl <= n - p && pl > blen &&
				    !memcmp(s + p, pat, pl)) {
					best = a;
					blen = pl;
				}
			}
		}
		if (!best)
			break;
		size_t start = p - 1, stop = start + blen, l;
		pos = stop;
		if (best->single_word) {
			bool ok_l = start == 0 || !uni_is_word(cp_before(s, start));
			bool ok_r = stop == n || !uni_is_word(cp_at(s, stop, &l));
			if (!ok_l || !ok_r)
				continue;
		}
		if (best->lstrip) {
			size_t k = start;
			while (k > 0 && uni_is_space(cp_before(s, k))) {
				k--;
				while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
					k--;
			}
			start = k > start_offset ? k : start_offset;
		}
		if (best->rstrip)
			while (stop < n && uni_is_space(cp_at(s, stop, &l)))
				stop += l;
		if (start < start_offset)
			start = start_offset;
		if (start_offset < start &&
		    splits_push(out, start_offset, start, -1))
			return -1;
		if (splits_push(out, start, stop, best->id))
			return -1;
		start_offset = stop;
	}
	if (start_offset < n && splits_push(out, start_offset, n, -1))
		return -1;
	return 0;
}

/* The end of the next piece of a long word starting at a: the first safe
 * cut at or after a + chunk, else a character boundary at a + max_run
 * (see tok_set_chunking). */
static size_t next_cut(const struct tokenizer *t, const char *s, size_t n,
		       size_t a)
{
	if (n - a <= t->chunk)
		return n;
	size_t lim = n - a > t->max_run ? a + t->max_run : n;
	if (!t->bpe.ignore_merges)
		for (size_t p = a + t->chunk; p < lim; p++)
			if ((unsigned char)s[p] == 0xE2 &&
			    bpe_cut_safe(&t->bpe, s, n, p))
				return p;
	if (lim == n)
		return n;
	while (lim > a + 1 && ((unsigned char)s[lim] & 0xC0) == 0x80)
		lim--;
	return lim;
}

static int word(const struct tokenizer *t, const char *s, size_t n,
		struct bpe_ids *out, struct err *e)
{
	int rc = 0;
	for (size_t a = 0, b; a < n && !rc; a = b) {
		b = next_cut(t, s, n, a);
		rc = bpe_encode_word(&t->bpe, s + a, b - a, out, e);
	}
	return rc;
}

/* Pre-tokenizes one normalized piece and encodes its words. */
static int pretok_encode(const struct tokenizer *t, const char *s, size_t n,
			 bool first, struct bpe_ids *out, struct err *e)
{
	const struct tok_pretok *p = &t->pretok;
	int rc = 0;
	switch (p->kind) {
	case PRETOK_NONE:
		return word(t, s, n, out, e);
	case PRETOK_WHITESPACE_SPLIT: {
		size_t i = 0, l;
		while (i < n && !rc) {
			while (i < n && uni_is_space(cp_at(s, i, &l)))
				i += l;
			size_t a = i;
			while (i < n && !uni_is_space(cp_at(s, i, &l)))
				i += l;
			rc = word(t, s + a, i - a, out, e);
		}
		return rc;
	}
	case PRETOK_METASPACE: {
		/* replace ' ' by the replacement, maybe prepend it, split
		 * with the replacement merged with the next word */
		size_t cap = (n + 1) * p->repl_len + 1, m = 0;
		char *buf = malloc(cap);
		if (!buf)
			return err_set(e, ERR_NOMEM, "out of memory");
		bool starts = n >= p->repl_len && !memcmp(s, p->repl, p->repl_len);
		bool starts_space = n > 0 && s[0] == ' ';
		if (!starts && !starts_space &&
		    (p->prepend == PREPEND_ALWAYS ||
		     (p->prepend == PREPEND_FIRST && first))) {
			memcpy(buf, p->repl, p->repl_len);
			m = p->repl_len;
		}
		for (size_t i = 0; i < n; i++) {
			if (s[i] == ' ') {
				memcpy(buf + m, p->repl, p->repl_len);
				m += p->repl_len;
			} else {
				buf[m++] = s[i];
			}
		}
		if (!p->split) {
			rc = word(t, buf, m, out, e);
		} else {
			size_t a = 0;
			for (size_t i = 1; i + p->repl_len <= m && !rc; i++)
				if (!memcmp(buf + i, p->repl, p->repl_len)) {
					rc = word(t, buf + a, i - a, out, e);
					a = i;
				}
			if (!rc)
				rc = word(t, buf + a, m - a, out, e);
		}
		free(buf);
		return rc;
	}
	case PRETOK_SPLIT: {
		size_t a = 0, i = 0, pl = p->pattern_len;
		size_t pend = 0; /* MergedWithNext: start of the pending match */
		bool have_pend = false;
		while (i + pl <= n && !rc) {
			if (memcmp(s + i, p->pattern, pl)) {
				i++;
				continue;
			}
			switch (p->behavior) {
			case SPLIT_REMOVED:
				rc = word(t, s + a, i - a, out, e);
				a = i + pl;
				break;
			case SPLIT_ISOLATED:
				rc = word(t, s + a, i - a, out, e);
				if (!rc)
					rc = word(t, s + i, pl, out, e);
				a = i + pl;
				break;
			case SPLIT_CONTIGUOUS: {
				size_t j = i + pl;
				while (j + pl <= n && !memcmp(s + j, p->pattern, pl))
					j += pl;
				rc = word(t, s + a, i - a, out, e);
				if (!rc)
					rc = word(t, s + i, j - i, out, e);
				a = j;
				i = j;
				continue;
			}
			case SPLIT_MERGED_WITH_PREVIOUS:
				rc = word(t, s + a, i + pl - a, out, e);
				a = i + pl;
				break;
			case SPLIT_MERGED_WITH_NEXT:
				rc = word(t, s + (have_pend ? pend : a),
					  i - (have_pend ? pend : a), out, e);
				pend = i;
				have_pend = true;
				a = i + pl;
				break;
			}
			i += pl;
		}
		if (!rc)
			rc = word(t, s + (have_pend ? pend : a),
				  n - (have_pend ? pend : a), out, e);
		return rc;
	}
	}
	return 0;
}

/* Normalizes one raw text piece, splits normalized added tokens out of it,
 * pre-tokenizes and encodes the rest. orig is its offset in the input. */
static int encode_piece(const struct tokenizer *t, const char *s, size_t n,
			size_t orig, struct bpe_ids *out, struct err *e)
{
	char *norm = NULL;
	size_t nl = 0;
	int rc = normalizer_apply(&t->norm, s, n, &norm, &nl, e);
	if (rc)
		return rc;
	/* Metaspace's prepend_scheme "first" asks whether the piece starts
	 * at original offset 0; a left Strip that removed leading
	 * whitespace moves that offset (the reference tracks alignments). */
	bool first = orig == 0;
	size_t cl;
	for (size_t i = 0; first && n && i < t->norm.n; i++)
		if (t->norm.ops[i].kind == NORM_STRIP && t->norm.ops[i].left &&
		    uni_is_space(cp_at(s, 0, &cl)))
			first = false;
	struct splits sp = {0};
	if (find_added(t, norm, nl, true, &sp)) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < sp.n && !rc; i++) {
		if (sp.v[i].id >= 0) {
			if (bpe_ids_push(out, sp.v[i].id))
				rc = err_set(e, ERR_NOMEM, "out of memory");
			continue;
		}
		rc = pretok_encode(t, norm + sp.v[i].a, sp.v[i].b - sp.v[i].a,
				   first && sp.v[i].a == 0, out, e);
	}
out:
	free(sp.v);
	free(norm);
	return rc;
}

/* SentencePiece: its own encoder, then the template's BOS/EOS. */
static int spm_encode_tok(const struct tokenizer *t, const char *text,
			  size_t len, bool add_special, int **ids, size_t *n,
			  struct err *e)
{
	struct spm_state st = {0};
	int rc = spm_encode_state(t->spm, text, len, &st, e);
	if (rc) {
		spm_state_free(&st);
		return rc;
	}
	size_t pre = add_special ? t->n_tpl_pre : 0;
	size_t post = add_special ? t->n_tpl_post : 0;
	size_t total = pre + st.n + post;
	/* in place: a long line's ids are not copied */
	int *v = realloc(st.ids, (total ? total : 1) * sizeof *v);
	if (!v) {
		spm_state_free(&st);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	if (st.n && pre)
		memmove(v + pre, v, st.n * sizeof *v);
	for (size_t i = 0; i < pre; i++)
		v[i] = t->tpl_pre[i];
	for (size_t i = 0; i < post; i++)
		v[pre + st.n + i] = t->tpl_post[i];
	st.ids = NULL;
	spm_state_free(&st);
	*ids = v;
	*n = total;
	return 0;
}

int tok_encode(const struct tokenizer *t, const char *text, size_t len,
	       bool add_special, int **ids, size_t *n, struct err *e)
{
	*ids = NULL;
	*n = 0;
	if (t->kind == TOK_SPM)
		return spm_encode_tok(t, text, len, add_special, ids, n, e);
	char *clean = NULL;
	size_t cl = 0;
	int rc = utf8_sanitize(text, len, &clean, &cl, e);
	if (rc < 0)
		return rc;
	const char *s = clean ? clean : text;
	size_t sl = clean ? cl : len;
	struct bpe_ids out = {0};
	struct splits sp = {0};
	rc = 0;
	if (find_added(t, s, sl, false, &sp)) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; add_special && i < t->n_tpl_pre && !rc; i++)
		if (bpe_ids_push(&out, t->tpl_pre[i]))
			rc = err_set(e, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < sp.n && !rc; i++) {
		if (sp.v[i].id >= 0) {
			if (bpe_ids_push(&out, sp.v[i].id))
				rc = err_set(e, ERR_NOMEM, "out of memory");
		} else {
			rc = encode_piece(t, s + sp.v[i].a, sp.v[i].b - sp.v[i].a,
					  sp.v[i].a, &out, e);
		}
	}
	for (size_t i = 0; add_special && i < t->n_tpl_post && !rc; i++)
		if (bpe_ids_push(&out, t->tpl_post[i]))
			rc = err_set(e, ERR_NOMEM, "out of memory");
	if (!rc && !out.v && !(out.v = malloc(sizeof *out.v)))
		rc = err_set(e, ERR_NOMEM, "out of memory");
out:
	free(sp.v);
	free(clean);
	if (rc) {
		free(out.v);
		return rc;
	}
	*ids = out.v;
	*n = out.n;
	return 0;
}

/* --- decode ----------------------------------------------------------- */

struct tstr {
	char *p;
	size_t n;
};

struct tlist {
	struct tstr *v;
	size_t n, cap;
};

static void tlist_free(struct tlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].p);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int tlist_push(struct tlist *l, const char *s, size_t n)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct tstr *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	char *p = malloc(n + 1);
	if (!p)
		return -1;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	l->v[l->n++] = (struct tstr){p, n};
	return 0;
}

static int hexval_dec(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ByteFallback's test: exactly "<0x" + 2 chars + ">" that Rust's
 * u8::from_str_radix(.., 16) accepts (which allows a leading '+'). */
static int byte_piece(const char *s, size_t n)
{
	if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>')
		return -1;
	int h = hexval_dec(s[3]), l = hexval_dec(s[4]);
	if (s[3] == '+' && l >= 0)
		return l;
	if (h < 0 || l < 0)
		return -1;
	return h * 16 + l;
}

static int tstr_replace(struct tstr *t, const char *a, size_t al,
			const char *b, size_t bl)
{
	size_t count = 0;
	for (size_t i = 0; i + al <= t->n;)
		if (!memcmp(t->p + i, a, al)) {
			count++;
			i += al;
		} else {
			i++;
		}
	if (!count)
		return 0;
	size_t n = t->n - count * al + count * bl;
	char *p = malloc(n + 1), *o = p;
	if (!p)
		return -1;
	for (size_t i = 0; i < t->n;) {
		if (i + al <= t->n && !memcmp(t->p + i, a, al)) {
			memcpy(o, b, bl);
			o += bl;
			i += al;
		} else {
			*o++ = t->p[i++];
		}
	}
	*o = '\0';
	free(t->p);
	t->p = p;
	t->n = n;
	return 0;
}

static bool utf8_all_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t l = utf8_valid_len((const unsigned char *)s + i, n - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

static int flush_bytes(struct tlist *out, const char *run, size_t n)
{
	if (!n)
		return 0;
	if (utf8_all_valid(run, n))
		return tlist_push(out, run, n);
	for (size_t i = 0; i < n; i++)
		if (tlist_push(out, "\xEF\xBF\xBD", 3))
			return -1;
	return 0;
}

static int dec_byte_fallback(struct tlist *l)
{
	struct tlist out = {0};
	char *run = malloc(l->n + 1);
	size_t rn = 0;
	int rc = run ? 0 : -1;
	for (size_t i = 0; i < l->n && !rc; i++) {
		int b = byte_piece(l->v[i].p, l->v[i].n);
		if (b >= 0) {
			run[rn++] = (char)b;
			continue;
		}
		rc = flush_bytes(&out, run, rn);
		rn = 0;
		if (!rc)
			rc = tlist_push(&out, l->v[i].p, l->v[i].n);
	}
	if (!rc)
		rc = flush_bytes(&out, run, rn);
	free(run);
	if (rc) {
		tlist_free(&out);
		return -1;
	}
	tlist_free(l);
	*l = out;
	return 0;
}

static int dec_fuse(struct tlist *l)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += l->v[i].n;
	char *p = malloc(n + 1);
	if (!p)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < l->n; i++) {
		memcpy(p + o, l->v[i].p, l->v[i].n);
		o += l->v[i].n;
	}
	p[o] = '\0';
	tlist_free(l);
	l->v = malloc(sizeof *l->v);
	if (!l->v) {
		free(p);
		return -1;
	}
	l->v[0] = (struct tstr){p, n};
	l->n = l->cap = 1;
	return 0;
}

static void dec_strip(const struct tok_dec_op *op, struct tstr *t,
		      bool do_start, bool do_stop)
{
	const char *c = op->repl;
	size_t cl = op->repl_len, a = 0, b = t->n, k;
	size_t nchars = 0, cut_chars = 0;
	for (size_t i = 0; i < t->n; i += k, nchars++)
		utf8_decode((const unsigned char *)t->p + i, &k);
	if (do_start)
		for (size_t i = 0; i < op->start && a + cl <= t->n &&
				   !memcmp(t->p + a, c, cl);
		     i++) {
			a += cl;
			cut_chars++;
		}
	if (do_stop) {
		size_t lim = op->stop < nchars - cut_chars ? op->stop
							    : nchars - cut_chars;
		for (size_t i = 0; i < lim && b >= a + cl &&
				   !memcmp(t->p + b - cl, c, cl);
		     i++)
			b -= cl;
	}
	memmove(t->p, t->p + a, b - a);
	t->n = b - a;
	t->p[t->n] = '\0';
}

static int dec_metaspace(const struct tok_dec_op *op, struct tlist *l,
			 bool cont)
{
	for (size_t i = 0; i < l->n; i++) {
		bool drop = i == 0 && !cont && op->prepend != PREPEND_NEVER;
		if (tstr_replace(&l->v[i], op->repl, op->repl_len, drop ? "" : " ",
				 drop ? 0 : 1))
			return -1;
	}
	return 0;
}

/* Decodes ids. cont: the ids continue earlier output (no "first token"
 * effects). partial: more ids may follow (Strip's stop is not applied to
 * a fused text). */
/* SentencePiece: ids out of range dropped, control pieces vanish (its
 * decoder drops them whatever skip_special says). cont: decode after the
 * sentinel piece and cut its text off, so that a window decodes as the
 * continuation of earlier text (no leading-U+2581 rule). */
static int spm_decode_impl(const struct tokenizer *t, const int *ids,
			   size_t n, bool cont, char **out, size_t *out_len,
			   struct err *e)
{
	int *v = malloc((n + 1) * sizeof *v);
	size_t k = 0, cut = 0;
	if (!v)
		return err_set(e, ERR_NOMEM, "out of memory decoding %zu ids", n);
	if (cont && t->spm_sentinel >= 0) {
		v[k++] = t->spm_sentinel;
		spm_piece(t->spm, t->spm_sentinel, &cut);
	}
	for (size_t i = 0; i < n; i++)
		if (ids[i] >= 0 && ids[i] < t->bpe.n_vocab)
			v[k++] = ids[i];
	int rc = spm_decode(t->spm, v, k, out, out_len, e);
	free(v);
	if (rc)
		return rc;
	if (cut) {
		memmove(*out, *out + cut, *out_len - cut + 1);
		*out_len -= cut;
	}
	return 0;
}

static int decode_impl(const struct tokenizer *t, const int *ids, size_t n,
		       bool skip_special, bool cont, bool partial, char **out,
		       size_t *out_len, struct err *e)
{
	if (t->kind == TOK_SPM)
		return spm_decode_impl(t, ids, n, cont, out, out_len, e);
	struct tlist l = {0};
	const struct bpe *b = &t->bpe;
	*out = NULL;
	*out_len = 0;
	for (size_t i = 0; i < n; i++) {
		int id = ids[i];
		if (id < 0 || id >= b->n_vocab ||
		    !(b->flags[id] & BPE_PIECE_PRESENT))
			continue;
		if (skip_special && (b->flags[id] & BPE_PIECE_SPECIAL))
			continue;
		if (tlist_push(&l, b->arena + b->piece_off[id], b->piece_len[id]))
			goto nomem;
	}
	bool fused = false;
	if (!t->has_decoder) {
		/* the reference joins the pieces with ' ' */
		size_t total = 0;
		for (size_t i = 0; i < l.n; i++)
			total += l.v[i].n + 1;
		char *p = malloc(total + 2), *o = p;
		if (!p)
			goto nomem;
		for (size_t i = 0; i < l.n; i++) {
			if (i > 0 || cont)
				*o++ = ' ';
			memcpy(o, l.v[i].p, l.v[i].n);
			o += l.v[i].n;
		}
		*o = '\0';
		tlist_free(&l);
		*out = p;
		*out_len = (size_t)(o - p);
		return 0;
	}
	for (size_t k = 0; k < t->n_dec; k++) {
		const struct tok_dec_op *op = &t->dec[k];
		int rc = 0;
		switch (op->kind) {
		case DEC_REPLACE:
			for (size_t i = 0; i < l.n && !rc; i++)
				rc = tstr_replace(&l.v[i], op->a, op->a_len, op->b,
						  op->b_len);
			break;
		case DEC_BYTE_FALLBACK:
			rc = dec_byte_fallback(&l);
			break;
		case DEC_FUSE:
			rc = dec_fuse(&l);
			fused = true;
			break;
		case DEC_STRIP:
			for (size_t i = 0; i < l.n; i++)
				dec_strip(op, &l.v[i], !(fused && cont),
					  !(fused && partial));
			break;
		case DEC_METASPACE:
			rc = dec_metaspace(op, &l, cont);
			break;
		}
		if (rc)
			goto nomem;
	}
	size_t total = 0;
	for (size_t i = 0; i < l.n; i++)
		total += l.v[i].n;
	char *p = malloc(total + 1);
	if (!p)
		goto nomem;
	size_t o = 0;
	for (size_t i = 0; i < l.n; i++) {
		memcpy(p + o, l.v[i].p, l.v[i].n);
		o += l.v[i].n;
	}
	p[o] = '\0';
	tlist_free(&l);
	*out = p;
	*out_len = o;
	return 0;
nomem:
	tlist_free(&l);
	return err_set(e, ERR_NOMEM, "out of memory decoding %zu ids", n);
}

int tok_decode(const struct tokenizer *t, const int *ids, size_t n,
	       bool skip_special, char **out, size_t *len, struct err *e)
{
	return decode_impl(t, ids, n, skip_special, false, false, out, len, e);
}

/* --- streaming decode ------------------------------------------------- */

void tok_stream_init(struct tok_stream *s, bool skip_special)
{
	memset(s, 0, sizeof *s);
	s->skip_special = skip_special;
}

void tok_stream_free(struct tok_stream *s)
{
	if (!s)
		return;
	free(s->ids);
	tok_stream_init(s, s->skip_special);
}

static bool has_dec(const struct tokenizer *t, enum tok_dec_kind k)
{
	for (size_t i = 0; i < t->n_dec; i++)
		if (t->dec[i].kind == k)
			return true;
	return false;
}

/* Strip with stop > 0 after a Fuse: the content char it would cut, or
 * NULL. */
static const struct tok_dec_op *stop_strip(const struct tokenizer *t)
{
	bool fused = false;
	for (size_t i = 0; i < t->n_dec; i++) {
		if (t->dec[i].kind == DEC_FUSE)
			fused = true;
		if (fused && t->dec[i].kind == DEC_STRIP && t->dec[i].stop)
			return &t->dec[i];
	}
	return NULL;
}

/* Copies up to cap bytes of text[from..to) without splitting a UTF-8
 * character; returns the count. */
static size_t emit(const char *text, size_t from, size_t to, char *buf,
		   size_t cap)
{
	size_t n = to - from;
	if (n > cap) {
		n = cap;
		while (n > 0 && ((unsigned char)text[from + n] & 0xC0) == 0x80)
			n--;
	}
	if (n)
		memcpy(buf, text + from, n);
	return n;
}

static int stream_step(const struct tokenizer *t, struct tok_stream *s,
		       bool final, char *buf, size_t cap, size_t *out_len,
		       struct err *e)
{
	*out_len = 0;
	const struct bpe *b = &t->bpe;
	size_t k = s->n;
	/* Hold back the trailing run of byte pieces: later bytes decide
	 * whether it becomes text or U+FFFDs. Ids that decode drops (unknown,
	 * skipped specials) do not end a run, so they are held too. */
	if (!final && (t->kind == TOK_SPM || has_dec(t, DEC_BYTE_FALLBACK)))
		while (k > 0) {
			int id = s->ids[k - 1];
			bool dropped = id < 0 || id >= b->n_vocab ||
				       !(b->flags[id] & BPE_PIECE_PRESENT) ||
				       (s->skip_special &&
					(b->flags[id] & BPE_PIECE_SPECIAL));
			if (!dropped && byte_piece(b->arena + b->piece_off[id],
						   b->piece_len[id]) < 0)
				break;
			k--;
		}
	char *text;
	size_t tl;
	int rc = decode_impl(t, s->ids, k, s->skip_special, s->cont, !final,
			     &text, &tl, e);
	if (rc)
		return rc;
	size_t safe = tl;
	const struct tok_dec_op *ss = final ? NULL : stop_strip(t);
	if (ss)
		while (safe >= s->emitted + ss->repl_len &&
		       !memcmp(text + safe - ss->repl_len, ss->repl, ss->repl_len))
			safe -= ss->repl_len;
	if (safe > s->emitted) {
		*out_len = emit(text, s->emitted, safe, buf, cap);
		s->emitted += *out_len;
		if (*out_len)
			s->any_output = true;
	}
	/* Everything decoded is final: start a new window after it. */
	bool restart = t->kind != TOK_SPM || t->spm_sentinel >= 0;
	if ((k == s->n && s->emitted == tl && s->any_output && !ss &&
	     restart) ||
	    (final && s->emitted == tl)) {
		s->n = 0;
		s->emitted = 0;
		s->cont = s->any_output || s->cont;
		if (final && !s->any_output)
			s->cont = false;
	}
	free(text);
	return 0;
}

int tok_stream_push(const struct tokenizer *t, struct tok_stream *s, int id,
		    char *buf, size_t cap, size_t *out_len, struct err *e)
{
	*out_len = 0;
	if (s->n == s->cap) {
		size_t c = s->cap ? s->cap * 2 : 16;
		int *v = realloc(s->ids, c * sizeof *v);
		if (!v)
			return err_set(e, ERR_NOMEM, "out of memory");
		s->ids = v;
		s->cap = c;
	}
	s->ids[s->n++] = id;
	return stream_step(t, s, false, buf, cap, out_len, e);
}

int tok_stream_next(const struct tokenizer *t, struct tok_stream *s,
		    char *buf, size_t cap, size_t *out_len, struct err *e)
{
	*out_len = 0;
	return stream_step(t, s, false, buf, cap, out_len, e);
}

int tok_stream_flush(const struct tokenizer *t, struct tok_stream *s,
		     char *buf, size_t cap, size_t *out_len, struct err *e)
{
	*out_len = 0;
	return stream_step(t, s, true, buf, cap, out_len, e);
}

/* --- vocabulary ------------------------------------------------------- */

int tok_vocab_size(const struct tokenizer *t)
{
	return t->bpe.n_vocab;
}

const char *tok_piece(const struct tokenizer *t, int id, size_t *len)
{
	const struct bpe *b = &t->bpe;
	if (id < 0 || id >= b->n_vocab || !(b->flags[id] & BPE_PIECE_PRESENT)) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = b->piece_len[id];
	return b->arena + b->piece_off[id];
}

int tok_piece_id(const struct tokenizer *t, const char *piece, size_t len)
{
	return bpe_piece_id(&t->bpe, piece, len);
}

int tok_bos_id(const struct tokenizer *t) { return t->bos_id; }
int tok_eos_id(const struct tokenizer *t) { return t->eos_id; }
int tok_unk_id(const struct tokenizer *t) { return t->bpe.unk_id; }

static bool has_flag(const struct tokenizer *t, int id, uint8_t f)
{
	return id >= 0 && id < t->bpe.n_vocab && (t->bpe.flags[id] & f);
}

bool tok_is_special(const struct tokenizer *t, int id)
{
	return has_flag(t, id, BPE_PIECE_SPECIAL);
}

bool tok_is_added(const struct tokenizer *t, int id)
{
	return has_flag(t, id, BPE_PIECE_ADDED);
}

bool tok_is_byte(const struct tokenizer *t, int id)
{
	return has_flag(t, id, BPE_PIECE_BYTE);
}

int tok_byte_id(const struct tokenizer *t, unsigned char byte)
{
	return t->bpe.byte_id[byte];
}

size_t tok_merge_count(const struct tokenizer *t)
{
	return t->bpe.n_merges;
}

int tok_merge(const struct tokenizer *t, size_t rank, int *left, int *right,
	      int *result)
{
	if (rank >= t->bpe.n_merges)
		return ERR_INVALID;
	*left = t->bpe.merge_left[rank];
	*right = t->bpe.merge_right[rank];
	*result = t->bpe.merge_result[rank];
	return 0;
}

enum tok_kind tok_kind(const struct tokenizer *t) { return t->kind; }
const char *tok_path(const struct tokenizer *t) { return t->path; }
bool tok_add_bos(const struct tokenizer *t)
{
	return t->n_tpl_pre > 0 && t->tpl_pre[0] == t->bos_id;
}
bool tok_add_eos(const struct tokenizer *t)
{
	return t->n_tpl_post > 0 && t->tpl_post[t->n_tpl_post - 1] == t->eos_id;
}

bool tok_spm_score(const struct tokenizer *t, int id, float *score)
{
	if (!t || t->kind != TOK_SPM || id < 0 || id >= spm_n_pieces(t->spm))
		return false;
	*score = spm_score(t->spm, id);
	return true;
}

void tok_set_chunking(struct tokenizer *t, size_t chunk, size_t max_run)
{
	if (chunk)
		t->chunk = chunk;
	if (max_run)
		t->max_run = max_run;
	if (t->max_run < t->chunk)
		t->max_run = t->chunk;
	if (t->spm)
		spm_set_max_run(t->spm, t->max_run);
}
