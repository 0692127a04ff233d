/*
 * tok_load — building a struct tokenizer (tokenizer.h): tok_load picks the
 * file (a directory's tokenizer.json, else its tokenizer.model; a path by
 * its extension) and hands it to its loader (hfjson.h for tokenizer.json,
 * spm.h for tokenizer.model), then applies tokenizer_config.json
 * (hf_config.h); tok_from_spm and tok_from_json_text (tok_impl.h) build
 * one from a loaded model or from text; tok_free / tok_impl_clear free it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "hf_config.h"
#include "hfjson.h"
#include "tok_impl.h"
#include "tokenizer.h"

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
