/*
 * hf_pipeline — tokenizer.json's pipeline members (see hf_pipeline.h).
 */
#include "hf_pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "tok_impl.h"

const char *hf_json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool jbool(const cJSON *o, const char *key, bool def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

int hf_parse_normalizer(struct tokenizer *t, const cJSON *j,
			const char *path, int depth, struct err *e)
{
	if (!j || cJSON_IsNull(j))
		return 0;
	const char *type = hf_json_str(j, "type");
	if (!type || depth > 16)
		return err_set(e, ERR_FORMAT, "'%s': normalizer without a type",
			       path);
	if (!strcmp(type, "Sequence")) {
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "normalizers");
		const cJSON *it;
		cJSON_ArrayForEach(it, arr)
		{
			int rc = hf_parse_normalizer(t, it, path, depth + 1, e);
			if (rc)
				return rc;
		}
		return 0;
	}
	static const struct {
		const char *name;
		enum norm_kind kind;
	} simple[] = {{"NFC", NORM_NFC},	 {"NFD", NORM_NFD},
		      {"NFKC", NORM_NFKC},	 {"NFKD", NORM_NFKD},
		      {"Lowercase", NORM_LOWERCASE}};
	for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
		if (!strcmp(type, simple[i].name))
			return normalizer_add(&t->norm, simple[i].kind, NULL, 0,
					      NULL, 0, e);
	if (!strcmp(type, "Prepend")) {
		const char *p = hf_json_str(j, "prepend");
		if (!p)
			return err_set(e, ERR_FORMAT,
				       "'%s': Prepend normalizer without prepend",
				       path);
		return normalizer_add(&t->norm, NORM_PREPEND, p, strlen(p), NULL,
				      0, e);
	}
	if (!strcmp(type, "Replace")) {
		const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
		const char *s = hf_json_str(pat, "String");
		const char *content = hf_json_str(j, "content");
		if (!s && hf_json_str(pat, "Regex"))
			return err_set(e, ERR_UNSUPPORTED,
				       "'%s': unsupported normalizer 'Replace' "
				       "with a Regex pattern '%s'",
				       path, hf_json_str(pat, "Regex"));
		if (!s || !*s || !content)
			return err_set(e, ERR_FORMAT,
				       "'%s': Replace normalizer needs a non-empty "
				       "String pattern and a content",
				       path);
		return normalizer_add(&t->norm, NORM_REPLACE, s, strlen(s),
				      content, strlen(content), e);
	}
	if (!strcmp(type, "Strip")) {
		int rc = normalizer_add(&t->norm, NORM_STRIP, NULL, 0, NULL, 0, e);
		if (!rc) {
			t->norm.ops[t->norm.n - 1].left = jbool(j, "strip_left", true);
			t->norm.ops[t->norm.n - 1].right =
				jbool(j, "strip_right", true);
		}
		return rc;
	}
	return err_set(e, ERR_UNSUPPORTED, "'%s': unsupported normalizer '%s'",
		       path, type);
}

static int one_char(const char *s, char *out, size_t cap, size_t *len)
{
	size_t n = s ? strlen(s) : 0;
	if (!n || n >= cap || utf8_valid_len((const unsigned char *)s, n) != n)
		return -1;
	memcpy(out, s, n + 1);
	*len = n;
	return 0;
}

static int parse_prepend(const cJSON *j, enum tok_prepend *p)
{
	const char *s = hf_json_str(j, "prepend_scheme");
	if (!s) {
		*p = jbool(j, "add_prefix_space", true) ? PREPEND_ALWAYS
							: PREPEND_NEVER;
		return 0;
	}
	if (!strcmp(s, "always"))
		*p = PREPEND_ALWAYS;
	else if (!strcmp(s, "first"))
		*p = PREPEND_FIRST;
	else if (!strcmp(s, "never"))
		*p = PREPEND_NEVER;
	else
		return -1;
	return 0;
}

int hf_parse_pretok(struct tokenizer *t, const cJSON *j, const char *path,
		    struct err *e)
{
	if (!j || cJSON_IsNull(j))
		return 0;
	const char *type = hf_json_str(j, "type");
	if (!type)
		return err_set(e, ERR_FORMAT, "'%s': pre_tokenizer without a type",
			       path);
	struct tok_pretok *p = &t->pretok;
	if (!strcmp(type, "Sequence")) {
		const cJSON *arr =
			cJSON_GetObjectItemCaseSensitive(j, "pretokenizers");
		if (cJSON_GetArraySize(arr) == 1)
			return hf_parse_pretok(t, cJSON_GetArrayItem(arr, 0), path, e);
		if (cJSON_GetArraySize(arr) == 0)
			return 0;
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': unsupported pre_tokenizer 'Sequence' of "
			       "%d pre-tokenizers",
			       path, cJSON_GetArraySize(arr));
	}
	if (!strcmp(type, "Metaspace")) {
		p->kind = PRETOK_METASPACE;
		if (one_char(hf_json_str(j, "replacement"), p->repl, sizeof p->repl,
			     &p->repl_len) ||
		    parse_prepend(j, &p->prepend))
			return err_set(e, ERR_FORMAT,
				       "'%s': bad Metaspace pre_tokenizer", path);
		p->split = jbool(j, "split", true);
		return 0;
	}
	if (!strcmp(type, "WhitespaceSplit")) {
		p->kind = PRETOK_WHITESPACE_SPLIT;
		return 0;
	}
	if (!strcmp(type, "Split")) {
		const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
		const char *s = hf_json_str(pat, "String");
		const char *beh = hf_json_str(j, "behavior");
		static const char *names[] = {"Removed", "Isolated",
					      "MergedWithPrevious",
					      "MergedWithNext", "Contiguous"};
		if (!s || !*s || jbool(j, "invert", false) || !beh)
			return err_set(e, ERR_UNSUPPORTED,
				       "'%s': unsupported pre_tokenizer 'Split' "
				       "(only a String pattern, invert false)",
				       path);
		p->kind = PRETOK_SPLIT;
		size_t k = 0;
		for (; k < 5 && strcmp(beh, names[k]); k++)
			;
		if (k == 5)
			return err_set(e, ERR_UNSUPPORTED,
				       "'%s': unsupported Split behavior '%s'",
				       path, beh);
		p->behavior = (enum tok_split_behavior)k;
		p->pattern_len = strlen(s);
		p->pattern = malloc(p->pattern_len + 1);
		if (!p->pattern)
			return err_set(e, ERR_NOMEM, "out of memory");
		memcpy(p->pattern, s, p->pattern_len + 1);
		return 0;
	}
	return err_set(e, ERR_UNSUPPORTED, "'%s': unsupported pre_tokenizer '%s'",
		       path, type);
}

int hf_ids_append(int **v, size_t *n, int id)
{
	int *p = realloc(*v, (*n + 1) * sizeof *p);
	if (!p)
		return -1;
	p[(*n)++] = id;
	*v = p;
	return 0;
}

int hf_parse_post(struct tokenizer *t, const cJSON *j, const char *path,
		  struct err *e)
{
	if (!j || cJSON_IsNull(j))
		return 0;
	const char *type = hf_json_str(j, "type");
	if (!type || strcmp(type, "TemplateProcessing"))
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': unsupported post_processor '%s'", path,
			       type ? type : "(no type)");
	const cJSON *single = cJSON_GetObjectItemCaseSensitive(j, "single");
	const cJSON *specials =
		cJSON_GetObjectItemCaseSensitive(j, "special_tokens");
	const cJSON *it;
	int seen_a = 0;
	if (!cJSON_IsArray(single))
		return err_set(e, ERR_FORMAT,
			       "'%s': TemplateProcessing without a single template",
			       path);
	cJSON_ArrayForEach(it, single)
	{
		const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
		const cJSON *sq = cJSON_GetObjectItemCaseSensitive(it, "Sequence");
		if (sq) {
			if (seen_a++)
				return err_set(e, ERR_UNSUPPORTED,
					       "'%s': template with two sequences",
					       path);
			continue;
		}
		const char *name = hf_json_str(sp, "id");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(specials, name ? name : "");
		const cJSON *ids = cJSON_GetObjectItemCaseSensitive(st, "ids");
		if (!name || !cJSON_IsArray(ids))
			return err_set(e, ERR_FORMAT,
				       "'%s': template special token '%s' is not "
				       "in special_tokens",
				       path, name ? name : "?");
		const cJSON *idv;
		cJSON_ArrayForEach(idv, ids)
		{
			if (!cJSON_IsNumber(idv) || idv->valuedouble < 0 ||
			    idv->valuedouble >= BPE_MAX_VOCAB)
				return err_set(e, ERR_FORMAT,
					       "'%s': bad id of template token '%s'",
					       path, name);
			int id = (int)idv->valuedouble;
			if (seen_a ? hf_ids_append(&t->tpl_post, &t->n_tpl_post, id)
				   : hf_ids_append(&t->tpl_pre, &t->n_tpl_pre, id))
				return err_set(e, ERR_NOMEM, "out of memory");
		}
	}
	return 0;
}

int hf_parse_decoder(struct tokenizer *t, const cJSON *j, const char *path,
		     int depth, struct err *e)
{
	if (!j || cJSON_IsNull(j))
		return 0;
	t->has_decoder = true;
	const char *type = hf_json_str(j, "type");
	if (!type || depth > 16)
		return err_set(e, ERR_FORMAT, "'%s': decoder without a type", path);
	if (!strcmp(type, "Sequence")) {
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "decoders");
		const cJSON *it;
		cJSON_ArrayForEach(it, arr)
		{
			int rc = hf_parse_decoder(t, it, path, depth + 1, e);
			if (rc)
				return rc;
		}
		return 0;
	}
	struct tok_dec_op op;
	memset(&op, 0, sizeof op);
	if (!strcmp(type, "ByteFallback")) {
		op.kind = DEC_BYTE_FALLBACK;
	} else if (!strcmp(type, "Fuse")) {
		op.kind = DEC_FUSE;
	} else if (!strcmp(type, "Replace")) {
		const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
		const char *s = hf_json_str(pat, "String"), *c = hf_json_str(j, "content");
		if (!s && hf_json_str(pat, "Regex"))
			return err_set(e, ERR_UNSUPPORTED,
				       "'%s': unsupported decoder 'Replace' with a "
				       "Regex pattern",
				       path);
		if (!s || !*s || !c)
			return err_set(e, ERR_FORMAT, "'%s': bad Replace decoder",
				       path);
		op.kind = DEC_REPLACE;
		op.a = strdup(s);
		op.b = strdup(c);
		op.a_len = strlen(s);
		op.b_len = strlen(c);
		if (!op.a || !op.b) {
			free(op.a);
			free(op.b);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
	} else if (!strcmp(type, "Strip")) {
		const char *c = hf_json_str(j, "content");
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "start");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "stop");
		if (one_char(c, op.repl, sizeof op.repl, &op.repl_len) ||
		    !cJSON_IsNumber(a) || !cJSON_IsNumber(b) ||
		    a->valuedouble < 0 || b->valuedouble < 0 ||
		    a->valuedouble > 1e6 || b->valuedouble > 1e6)
			return err_set(e, ERR_FORMAT, "'%s': bad Strip decoder",
				       path);
		op.kind = DEC_STRIP;
		op.start = (size_t)a->valuedouble;
		op.stop = (size_t)b->valuedouble;
	} else if (!strcmp(type, "Metaspace")) {
		op.kind = DEC_METASPACE;
		if (one_char(hf_json_str(j, "replacement"), op.repl, sizeof op.repl,
			     &op.repl_len) ||
		    parse_prepend(j, &op.prepend))
			return err_set(e, ERR_FORMAT, "'%s': bad Metaspace decoder",
				       path);
	} else {
		return err_set(e, ERR_UNSUPPORTED, "'%s': unsupported decoder '%s'",
			       path, type);
	}
	struct tok_dec_op *d = realloc(t->dec, (t->n_dec + 1) * sizeof *d);
	if (!d) {
		free(op.a);
		free(op.b);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	t->dec = d;
	t->dec[t->n_dec++] = op;
	return 0;
}

int hf_parse_added(struct tokenizer *t, const cJSON *j, const char *path,
		   struct err *e)
{
	if (!j || cJSON_IsNull(j))
		return 0;
	if (!cJSON_IsArray(j))
		return err_set(e, ERR_FORMAT, "'%s': added_tokens is not a list",
			       path);
	int n = cJSON_GetArraySize(j);
	t->added = calloc(n ? (size_t)n : 1, sizeof *t->added);
	if (!t->added)
		return err_set(e, ERR_NOMEM, "out of memory");
	const cJSON *it;
	cJSON_ArrayForEach(it, j)
	{
		const char *content = hf_json_str(it, "content");
		const cJSON *idv = cJSON_GetObjectItemCaseSensitive(it, "id");
		if (!content || !cJSON_IsNumber(idv) || idv->valuedouble < 0 ||
		    idv->valuedouble >= BPE_MAX_VOCAB)
			return err_set(e, ERR_FORMAT,
				       "'%s': added token %zu lacks a content or "
				       "a valid id",
				       path, t->n_added);
		size_t len = strlen(content);
		if (!len)
			continue; /* the reference ignores empty tokens */
		struct tok_added *a = &t->added[t->n_added];
		a->special = jbool(it, "special", false);
		a->single_word = jbool(it, "single_word", false);
		a->lstrip = jbool(it, "lstrip", false);
		a->rstrip = jbool(it, "rstrip", false);
		a->normalized = jbool(it, "normalized", !a->special);
		/* A content already in the model keeps the model's id. */
		int id = bpe_piece_id(&t->bpe, content, len);
		if (id < 0) {
			id = (int)idv->valuedouble;
			if (id < t->bpe.n_vocab &&
			    (t->bpe.flags[id] & BPE_PIECE_PRESENT))
				return err_set(e, ERR_FORMAT,
					       "'%s': added token '%s' has id %d, "
					       "which is the piece '%s'",
					       path, content, id,
					       t->bpe.arena + t->bpe.piece_off[id]);
		}
		uint8_t fl = BPE_PIECE_ADDED | (a->special ? BPE_PIECE_SPECIAL : 0);
		if (bpe_set_piece(&t->bpe, id, content, len, fl, e))
			return err_wrap(e, "'%s'", path);
		a->id = id;
		a->len = len;
		a->content = strdup(content);
		if (!a->content)
			return err_set(e, ERR_NOMEM, "out of memory");
		t->n_added++;
	}
	return 0;
}
