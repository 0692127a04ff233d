/* vocab_rewrite_json — the rewritten tokenizer.json and its tokenizer.model
 * (vocab_rewrite_json.h). */
#include "vocab_rewrite_json.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "tok_impl.h"
#include "vocab_hf_to_spm.h"
#include "vocab_impl.h"

#define MAX_OUT_JSON ((size_t)1 << 30)

static int source_json(const struct tokenizer *t, char **data, size_t *len,
		       struct err *e)
{
	if (t->src_json) {
		*data = malloc(t->src_json_len + 1);
		if (!*data)
			return err_set(e, ERR_NOMEM, "out of memory");
		memcpy(*data, t->src_json, t->src_json_len + 1);
		*len = t->src_json_len;
		return 0;
	}
	return file_read_all(t->path, MAX_OUT_JSON, data, len, e);
}

/* Maps the ids of a post_processor (TemplateProcessing special_tokens
 * "ids", Bert/Roberta "sep"/"cls" pairs), recursively. */
static void map_post(cJSON *j, const struct vocab_keep *k)
{
	if (!j)
		return;
	cJSON *it;
	if (cJSON_IsObject(j)) {
		cJSON_ArrayForEach(it, j)
		{
			if (cJSON_IsArray(it) && it->string &&
			    (!strcmp(it->string, "ids") ||
			     !strcmp(it->string, "sep") ||
			     !strcmp(it->string, "cls"))) {
				cJSON *x;
				cJSON_ArrayForEach(x, it)
				{
					if (!cJSON_IsNumber(x))
						continue;
					int id = (int)x->valuedouble;
					int nid = id >= 0 && id < k->n_old
						      ? k->old_to_new[id]
						      : -1;
					cJSON_SetNumberValue(x, nid);
				}
			} else {
				map_post(it, k);
			}
		}
	} else if (cJSON_IsArray(j)) {
		cJSON_ArrayForEach(it, j) map_post(it, k);
	}
}

char *vocab_piece_dup(const struct tokenizer *t, int id)
{
	size_t l;
	const char *s = tok_piece(t, id, &l);
	char *d = malloc(l + 1);
	if (d) {
		memcpy(d, s, l);
		d[l] = '\0';
	}
	return d;
}

/* A merge as the file had them: "a b", or ["a", "b"] when a part holds a
 * space (or the file used pairs). */
cJSON *vocab_merge_item(const struct tokenizer *t, int l, int r, bool pairs)
{
	size_t ll, rl;
	const char *a = tok_piece(t, l, &ll), *b = tok_piece(t, r, &rl);
	if (!pairs && !memchr(a, ' ', ll) && !memchr(b, ' ', rl)) {
		char *s = malloc(ll + rl + 2);
		if (!s)
			return NULL;
		memcpy(s, a, ll);
		s[ll] = ' ';
		memcpy(s + ll + 1, b, rl);
		s[ll + rl + 1] = '\0';
		cJSON *x = cJSON_CreateString(s);
		free(s);
		return x;
	}
	char *da = vocab_piece_dup(t, l), *db = vocab_piece_dup(t, r);
	cJSON *x = NULL;
	if (da && db && (x = cJSON_CreateArray())) {
		cJSON_AddItemToArray(x, cJSON_CreateString(da));
		cJSON_AddItemToArray(x, cJSON_CreateString(db));
	}
	free(da);
	free(db);
	return x;
}

/* Whether the file's merges om are ["a", "b"] pairs (else "a b"). */
static bool merges_are_pairs(const cJSON *om)
{
	return cJSON_IsArray(om) && om->child && cJSON_IsArray(om->child);
}

/* nm (owned by model from here) in place of model's merges om, or added
 * when there were none. */
static void set_merges(cJSON *model, cJSON *om, cJSON *nm)
{
	if (om)
		cJSON_ReplaceItemInObjectCaseSensitive(model, "merges", nm);
	else
		cJSON_AddItemToObject(model, "merges", nm);
}

/* The source's directory, for a tokenizer.model beside a tokenizer.json. */
static int sibling(const struct tokenizer *t, const char *name, char *buf,
		   size_t cap)
{
	const char *slash = strrchr(t->path, '/');
	size_t dl = slash ? (size_t)(slash - t->path) : 1;
	char dir[4096];
	if (dl >= sizeof dir)
		return -1;
	memcpy(dir, slash ? t->path : ".", dl);
	dir[dl] = '\0';
	return path_join(buf, cap, dir, name, NULL);
}

/* The tokenizer.model beside a tokenizer.json source (not one made from
 * text by vocab_rewrite), pruned by piece string to k in the new
 * tokenizer.json's id order: *buf (malloc'd, caller frees) and *path; *buf
 * NULL when there is none. ERR_FORMAT when a kept piece is not in it. */
static int sibling_model(const struct tokenizer *src,
			 const struct vocab_keep *k, unsigned char **buf,
			 size_t *len, char *path, size_t cap, struct err *e)
{
	*buf = NULL;
	*len = 0;
	struct spm *m = NULL;
	int rc;
	if (src->src_json || sibling(src, "tokenizer.model", path, cap) ||
	    !path_exists(path))
		return 0;
	if ((rc = spm_load_file(path, &m, e)))
		return rc;
	int *ids = malloc((size_t)k->n_keep * sizeof *ids);
	if (!ids)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	for (int i = 0; i < k->n_keep && !rc; i++) {
		size_t l;
		const char *p = tok_piece(src, k->keep[i], &l);
		ids[i] = p ? spm_piece_id(m, p, l) : -1;
		if (ids[i] < 0)
			rc = err_set(e, ERR_FORMAT,
				     "'%s': piece '%.*s' of the tokenizer.json "
				     "is not in it",
				     path, p ? (int)l : 0, p ? p : "");
	}
	if (!rc)
		rc = spm_write_buffer(m, ids, (size_t)k->n_keep, buf, len, e);
	free(ids);
	spm_free(m);
	return rc;
}

/* The tokenizer.json text with the source's merges that survive (the
 * first pass of vocab_json_text). */
static int filtered_json_text(const struct tokenizer *t,
			      const struct vocab_keep *k, char **json,
			      size_t *len, struct err *e)
{
	*json = NULL;
	*len = 0;
	if (t->kind != TOK_HF_BPE)
		return err_set(e, ERR_INVALID,
			       "'%s': not a tokenizer.json tokenizer", t->path);
	int rc = vocab_check_keep(t, k, e);
	if (rc)
		return rc;
	char *data;
	size_t dlen;
	if ((rc = source_json(t, &data, &dlen, e)))
		return rc;
	cJSON *root = cJSON_ParseWithLength(data, dlen);
	free(data);
	if (!root)
		return err_set(e, ERR_FORMAT, "'%s': malformed JSON", t->path);
	cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
	cJSON *ov = cJSON_GetObjectItemCaseSensitive(model, "vocab");
	cJSON *om = cJSON_GetObjectItemCaseSensitive(model, "merges");
	const char **key = calloc((size_t)k->n_keep, sizeof *key);
	cJSON *nv = NULL, *nm = NULL;
	if (!cJSON_IsObject(ov) || !key) {
		rc = !key ? err_set(e, ERR_NOMEM, "out of memory")
			  : err_set(e, ERR_FORMAT, "'%s': no model.vocab",
				    t->path);
		goto out;
	}
	/* the vocabulary: the source's model.vocab entries that survive */
	cJSON *it;
	cJSON_ArrayForEach(it, ov)
	{
		if (!cJSON_IsNumber(it))
			continue;
		double d = it->valuedouble;
		if (d < 0 || d >= k->n_old)
			continue;
		int nid = k->old_to_new[(int)d];
		if (nid < 0)
			continue;
		size_t pl;
		const char *p = tok_piece(t, (int)d, &pl);
		if (!it->string || strlen(it->string) != pl ||
		    memcmp(it->string, p, pl)) {
			rc = err_set(e, ERR_FORMAT,
				     "'%s': id %d is not the piece it was when "
				     "loaded",
				     t->path, (int)d);
			goto out;
		}
		key[nid] = it->string;
	}
	if (!(nv = cJSON_CreateObject()) || !(nm = cJSON_CreateArray())) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < k->n_keep; i++)
		if (key[i] && !cJSON_AddNumberToObject(nv, key[i], i)) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
	bool pairs = merges_are_pairs(om);
	size_t n_merges = tok_merge_count(t);
	for (size_t r = 0; r < n_merges; r++) {
		int a, b, c;
		tok_merge(t, r, &a, &b, &c);
		if (k->old_to_new[a] < 0 || k->old_to_new[b] < 0 ||
		    k->old_to_new[c] < 0)
			continue;
		/* parts must be in the written model.vocab */
		if (!key[k->old_to_new[a]] || !key[k->old_to_new[b]] ||
		    !key[k->old_to_new[c]])
			continue;
		cJSON *x = vocab_merge_item(t, a, b, pairs);
		if (!x) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		cJSON_AddItemToArray(nm, x);
	}
	cJSON_ReplaceItemInObjectCaseSensitive(model, "vocab", nv);
	nv = NULL;
	set_merges(model, om, nm);
	nm = NULL;
	/* added tokens: new ids; a dropped one goes */
	cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
	if (cJSON_IsArray(added)) {
		cJSON *x = added->child;
		while (x) {
			cJSON *next = x->next;
			cJSON *idv = cJSON_GetObjectItemCaseSensitive(x, "id");
			const cJSON *cv =
			    cJSON_GetObjectItemCaseSensitive(x, "content");
			int nid = -1;
			if (cJSON_IsString(cv)) {
				int old = tok_piece_id(t, cv->valuestring,
						       strlen(cv->valuestring));
				if (old >= 0)
					nid = k->old_to_new[old];
			}
			if (nid < 0 || !cJSON_IsNumber(idv))
				cJSON_Delete(
				    cJSON_DetachItemViaPointer(added, x));
			else
				cJSON_SetNumberValue(idv, nid);
			x = next;
		}
	}
	map_post(cJSON_GetObjectItemCaseSensitive(root, "post_processor"), k);
	*json = cJSON_Print(root);
	if (!*json)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	else
		*len = strlen(*json);
out:
	cJSON_Delete(nv);
	cJSON_Delete(nm);
	free(key);
	cJSON_Delete(root);
	return rc;
}

/* The tokenizer.model that goes with the rewritten tokenizer.json of a
 * TOK_HF_BPE source: the one beside the source pruned by piece string
 * (*sib true), or else the conversion of the filtered tokenizer.json
 * (vocab_hf_to_spm_model; none when it does not convert). *buf malloc'd or
 * NULL. */
static int model_for_json(const struct tokenizer *t, const struct vocab_keep *k,
			  const char *filtered, size_t flen,
			  unsigned char **buf, size_t *len, bool *sib,
			  struct err *e)
{
	char path[4096];
	int rc = sibling_model(t, k, buf, len, path, sizeof path, e);
	*sib = *buf != NULL;
	if (rc || *buf)
		return rc;
	struct tokenizer *d0;
	if ((rc = tok_from_json_text(filtered, flen, t->path, &d0, e)))
		return rc;
	if ((rc = vocab_copy_template(d0, t, k, e))) {
		tok_free(d0);
		return rc;
	}
	if (vocab_hf_to_spm_model(d0, buf, len, NULL)) {
		*buf = NULL;
		*len = 0;
	}
	tok_free(d0);
	return 0;
}

/* Kept pieces SentencePiece may join that hold a character which is not
 * itself a piece (a cut without merge closure can drop 'w' and keep "wa").
 * SentencePiece and llama.cpp join through such a character, Hugging Face
 * BPE turns it into byte pieces first and never joins it: a tokenizer.json
 * then cannot encode like the model. The first such character goes to ex
 * (NUL-terminated, at most 4 bytes). */
int vocab_spm_missing_chars(const struct spm *m, char ex[8])
{
	int n = spm_n_pieces(m), bad = 0;
	ex[0] = '\0';
	for (int id = 0; id < n; id++) {
		int ty = spm_type(m, id);
		if (ty != SPM_NORMAL && ty != SPM_UNUSED)
			continue;
		size_t len, i = 0;
		const char *p = spm_piece(m, id, &len);
		bool piece_bad = false;
		while (i < len && !piece_bad) {
			size_t c = 1;
			while (i + c < len &&
			       ((unsigned char)p[i + c] & 0xC0) == 0x80)
				c++;
			if (c < len && spm_piece_id(m, p + i, c) < 0) {
				piece_bad = true;
				if (!ex[0] && c <= 4) {
					memcpy(ex, p + i, c);
					ex[c] = '\0';
				}
			}
			i += c;
		}
		bad += piece_bad;
	}
	return bad;
}

/* The merges SentencePiece model buf implies (every split of a piece into
 * two pieces, by the piece's score: tok_merge of a TOK_SPM tokenizer), in
 * place of root's model.merges. The model's ids are the json's. */
static int merges_from_model(cJSON *root, const unsigned char *buf, size_t len,
			     const char *name, struct err *e)
{
	struct spm *m;
	struct tokenizer *d;
	int rc;
	if ((rc = spm_load_buffer(buf, len, name, &m, e)))
		return rc;
	if (spm_model_type(m) != SPM_BPE) {
		spm_free(m);
		return 0;
	}
	if ((rc = tok_from_spm(m, name, &d, e)))
		return rc;
	cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
	cJSON *om = cJSON_GetObjectItemCaseSensitive(model, "merges");
	bool pairs = merges_are_pairs(om);
	cJSON *nm = cJSON_CreateArray();
	if (!nm)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	size_t n = tok_merge_count(d);
	for (size_t r = 0; r < n && !rc; r++) {
		int a, b, c;
		tok_merge(d, r, &a, &b, &c);
		cJSON *x = vocab_merge_item(d, a, b, pairs);
		if (!x)
			rc = err_set(e, ERR_NOMEM, "out of memory");
		else
			cJSON_AddItemToArray(nm, x);
	}
	tok_free(d);
	if (rc) {
		cJSON_Delete(nm);
		return rc;
	}
	set_merges(model, om, nm);
	return 0;
}

/* vocab_json_text's work: also the model bytes and its missing chars.
 * A tokenizer.model beside the source is the reference: the json's merges
 * are derived from it, *missing counts what the json cannot follow. A
 * converted one follows the json (the reference then): *missing is the
 * larger of the kept pieces the json cannot reach (k->unreachable; without
 * closure) and those holding a dropped character, both of which
 * SentencePiece may reach. */
int vocab_json_and_model(const struct tokenizer *t, const struct vocab_keep *k,
			 char **json, size_t *len, unsigned char **mbuf,
			 size_t *mlen, int *missing, char ex[8], bool *sib,
			 struct err *e)
{
	char *f;
	size_t fl;
	unsigned char *mb = NULL;
	size_t ml = 0;
	*json = NULL;
	*len = 0;
	*missing = 0;
	ex[0] = '\0';
	if (mbuf) {
		*mbuf = NULL;
		*mlen = 0;
	}
	int rc = filtered_json_text(t, k, &f, &fl, e);
	if (rc)
		return rc;
	if ((rc = model_for_json(t, k, f, fl, &mb, &ml, sib, e))) {
		free(f);
		return rc;
	}
	if (mb && !*sib) { /* converted from the json: the json leads */
		struct spm *m = NULL;
		if ((rc = spm_load_buffer(mb, ml, t->path, &m, e))) {
			free(mb);
			free(f);
			return rc;
		}
		int chars = vocab_spm_missing_chars(m, ex);
		*missing = chars > k->unreachable ? chars : k->unreachable;
		spm_free(m);
	}
	if (!mb || !*sib) {
		*json = f;
		*len = fl;
		if (mbuf) {
			*mbuf = mb;
			*mlen = ml;
		} else {
			free(mb);
		}
		return 0;
	}
	cJSON *root = cJSON_ParseWithLength(f, fl);
	free(f);
	struct spm *m = NULL;
	if (!root)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	else if (!(rc = spm_load_buffer(mb, ml, t->path, &m, e))) {
		*missing = vocab_spm_missing_chars(m, ex);
		spm_free(m);
		rc = merges_from_model(root, mb, ml, t->path, e);
	}
	if (!rc && !(*json = cJSON_Print(root)))
		rc = err_set(e, ERR_NOMEM, "out of memory");
	if (!rc)
		*len = strlen(*json);
	cJSON_Delete(root);
	if (!rc && mbuf) {
		*mbuf = mb;
		*mlen = ml;
	} else {
		free(mb);
	}
	return rc;
}

int vocab_json_text(const struct tokenizer *t, const struct vocab_keep *k,
		    char **json, size_t *len, struct err *e)
{
	int missing;
	char ex[8];
	bool sib;
	return vocab_json_and_model(t, k, json, len, NULL, NULL, &missing, ex,
				    &sib, e);
}
