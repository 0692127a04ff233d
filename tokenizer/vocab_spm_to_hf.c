/* vocab_spm_to_hf — SentencePiece -> tokenizer.json (vocab_spm_to_hf.h). */
#include "vocab_spm_to_hf.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "tok_impl.h"
#include "vocab_impl.h"

static cJSON *j_replace(const char *pat, const char *content)
{
	cJSON *r = cJSON_CreateObject(), *p = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "type", "Replace");
	cJSON_AddStringToObject(p, "String", pat);
	cJSON_AddItemToObject(r, "pattern", p);
	cJSON_AddStringToObject(r, "content", content);
	return r;
}

/* A TemplateProcessing item: {kind: {"id": id, "type_id": type_id}}, kind
 * "SpecialToken" (id a piece) or "Sequence" (id "A" or "B"). */
static cJSON *j_tpl_item(const char *kind, const char *id, int type_id)
{
	cJSON *o = cJSON_CreateObject(), *s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "id", id);
	cJSON_AddNumberToObject(s, "type_id", type_id);
	cJSON_AddItemToObject(o, kind, s);
	return o;
}

static void tpl_add(cJSON *arr, const struct tokenizer *t, const int *ids,
		    size_t n, int type_id)
{
	for (size_t i = 0; i < n; i++) {
		char *p = vocab_piece_dup(t, ids[i]);
		if (p)
			cJSON_AddItemToArray(
			    arr, j_tpl_item("SpecialToken", p, type_id));
		free(p);
	}
}

int vocab_spm_to_hf_json(const struct tokenizer *t, char **json, size_t *len,
			 struct err *e)
{
	*json = NULL;
	*len = 0;
	if (t->kind != TOK_SPM)
		return err_set(e, ERR_INVALID,
			       "'%s': not a sentencepiece model", t->path);
	const struct spm_info *in = spm_info(t->spm);
	if (in->model_type != SPM_BPE)
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': only a BPE sentencepiece model converts "
			       "to tokenizer.json",
			       t->path);
	if (in->charsmap_size)
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': normalizer '%s' has rules; only identity "
			       "converts",
			       t->path, in->normalizer_name);
	if (in->treat_whitespace_as_suffix || !in->escape_whitespaces)
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': treat_whitespace_as_suffix / no "
			       "escape_whitespaces do not convert",
			       t->path);
	const char *ms = "\xe2\x96\x81";
	int n = tok_vocab_size(t);
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return err_set(e, ERR_NOMEM, "out of memory");
	cJSON_AddStringToObject(root, "version", "1.0");
	cJSON_AddNullToObject(root, "truncation");
	cJSON_AddNullToObject(root, "padding");
	cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
	for (int id = 0; id < n; id++) {
		int ty = spm_type(t->spm, id);
		if (ty != SPM_CONTROL && ty != SPM_UNKNOWN &&
		    ty != SPM_USER_DEFINED)
			continue;
		cJSON *a = cJSON_CreateObject();
		cJSON_AddNumberToObject(a, "id", id);
		cJSON_AddStringToObject(a, "content",
					spm_piece(t->spm, id, NULL));
		cJSON_AddBoolToObject(a, "single_word", 0);
		cJSON_AddBoolToObject(a, "lstrip", 0);
		cJSON_AddBoolToObject(a, "rstrip", 0);
		cJSON_AddBoolToObject(a, "normalized", 0);
		cJSON_AddBoolToObject(a, "special", ty != SPM_USER_DEFINED);
		cJSON_AddItemToArray(added, a);
	}
	/* normalizer: SentencePiece's remove_extra_whitespaces (strip, then
	 * collapse runs of ' ') as Strip + repeated Replace "  " -> " "
	 * (each pass halves a run: 20 passes collapse a million spaces) */
	cJSON *norm = cJSON_CreateObject();
	cJSON_AddStringToObject(norm, "type", "Sequence");
	cJSON *ns = cJSON_AddArrayToObject(norm, "normalizers");
	if (in->remove_extra_whitespaces) {
		cJSON *st = cJSON_CreateObject();
		cJSON_AddStringToObject(st, "type", "Strip");
		cJSON_AddBoolToObject(st, "strip_left", 1);
		cJSON_AddBoolToObject(st, "strip_right", 1);
		cJSON_AddItemToArray(ns, st);
		for (int i = 0; i < 20; i++)
			cJSON_AddItemToArray(ns, j_replace("  ", " "));
	}
	if (in->add_dummy_prefix) {
		cJSON *pp = cJSON_CreateObject();
		cJSON_AddStringToObject(pp, "type", "Prepend");
		cJSON_AddStringToObject(pp, "prepend", ms);
		cJSON_AddItemToArray(ns, pp);
	}
	cJSON_AddItemToArray(ns, j_replace(" ", ms));
	cJSON_AddItemToObject(root, "normalizer", norm);
	cJSON_AddNullToObject(root, "pre_tokenizer");
	/* post-processor: the template t applies */
	cJSON *post = cJSON_CreateObject();
	cJSON_AddStringToObject(post, "type", "TemplateProcessing");
	cJSON *single = cJSON_AddArrayToObject(post, "single");
	tpl_add(single, t, t->tpl_pre, t->n_tpl_pre, 0);
	cJSON_AddItemToArray(single, j_tpl_item("Sequence", "A", 0));
	tpl_add(single, t, t->tpl_post, t->n_tpl_post, 0);
	cJSON *pair = cJSON_AddArrayToObject(post, "pair");
	tpl_add(pair, t, t->tpl_pre, t->n_tpl_pre, 0);
	cJSON_AddItemToArray(pair, j_tpl_item("Sequence", "A", 0));
	tpl_add(pair, t, t->tpl_post, t->n_tpl_post, 0);
	tpl_add(pair, t, t->tpl_pre, t->n_tpl_pre, 1);
	cJSON_AddItemToArray(pair, j_tpl_item("Sequence", "B", 1));
	tpl_add(pair, t, t->tpl_post, t->n_tpl_post, 1);
	cJSON *sp = cJSON_AddObjectToObject(post, "special_tokens");
	for (size_t i = 0; i < t->n_tpl_pre + t->n_tpl_post; i++) {
		int id = i < t->n_tpl_pre ? t->tpl_pre[i]
					  : t->tpl_post[i - t->n_tpl_pre];
		char *p = vocab_piece_dup(t, id);
		if (!p || cJSON_GetObjectItemCaseSensitive(sp, p)) {
			free(p);
			continue;
		}
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", p);
		cJSON *ids = cJSON_AddArrayToObject(o, "ids");
		cJSON_AddItemToArray(ids, cJSON_CreateNumber(id));
		cJSON *toks = cJSON_AddArrayToObject(o, "tokens");
		cJSON_AddItemToArray(toks, cJSON_CreateString(p));
		cJSON_AddItemToObject(sp, p, o);
		free(p);
	}
	cJSON_AddItemToObject(root, "post_processor", post);
	/* decoder: InkubaLM's */
	cJSON *dec = cJSON_CreateObject();
	cJSON_AddStringToObject(dec, "type", "Sequence");
	cJSON *ds = cJSON_AddArrayToObject(dec, "decoders");
	cJSON_AddItemToArray(ds, j_replace(ms, " "));
	cJSON *bf = cJSON_CreateObject();
	cJSON_AddStringToObject(bf, "type", "ByteFallback");
	cJSON_AddItemToArray(ds, bf);
	cJSON *fu = cJSON_CreateObject();
	cJSON_AddStringToObject(fu, "type", "Fuse");
	cJSON_AddItemToArray(ds, fu);
	if (in->add_dummy_prefix) {
		cJSON *st = cJSON_CreateObject();
		cJSON_AddStringToObject(st, "type", "Strip");
		cJSON_AddStringToObject(st, "content", " ");
		cJSON_AddNumberToObject(st, "start", 1);
		cJSON_AddNumberToObject(st, "stop", 0);
		cJSON_AddItemToArray(ds, st);
	}
	cJSON_AddItemToObject(root, "decoder", dec);
	/* model */
	cJSON *model = cJSON_CreateObject();
	cJSON_AddStringToObject(model, "type", "BPE");
	cJSON_AddNullToObject(model, "dropout");
	if (tok_unk_id(t) >= 0)
		cJSON_AddStringToObject(model, "unk_token",
					spm_piece(t->spm, tok_unk_id(t), NULL));
	else
		cJSON_AddNullToObject(model, "unk_token");
	cJSON_AddNullToObject(model, "continuing_subword_prefix");
	cJSON_AddNullToObject(model, "end_of_word_suffix");
	cJSON_AddBoolToObject(model, "fuse_unk", 1);
	cJSON_AddBoolToObject(model, "byte_fallback", in->byte_fallback != 0);
	cJSON_AddBoolToObject(model, "ignore_merges", 0);
	cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
	for (int id = 0; id < n; id++)
		cJSON_AddItemToObject(vocab, spm_piece(t->spm, id, NULL),
				      cJSON_CreateNumber(id));
	cJSON *merges = cJSON_AddArrayToObject(model, "merges");
	size_t nm = tok_merge_count(t);
	bool pairs = false;
	for (int id = 0; id < n && !pairs; id++)
		pairs = strchr(spm_piece(t->spm, id, NULL), ' ') != NULL;
	for (size_t r = 0; r < nm; r++) {
		int a, b, c;
		tok_merge(t, r, &a, &b, &c);
		cJSON_AddItemToArray(merges, vocab_merge_item(t, a, b, pairs));
	}
	cJSON_AddItemToObject(root, "model", model);
	*json = cJSON_Print(root);
	cJSON_Delete(root);
	if (!*json)
		return err_set(e, ERR_NOMEM, "out of memory");
	*len = strlen(*json);
	return 0;
}
