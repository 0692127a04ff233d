/*
 * hf_config — tokenizer_config.json (see hf_config.h).
 */
#include "hf_config.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "hf_pipeline.h"
#include "tok_impl.h"

static int config_token(const struct tokenizer *t, const cJSON *j,
			const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	const char *s = cJSON_IsString(v) ? v->valuestring : hf_json_str(v, "content");
	return s ? bpe_piece_id(&t->bpe, s, strlen(s)) : -1;
}

int hf_load_config(struct tokenizer *t, const char *path, struct err *e)
{
	char *data = NULL;
	size_t len = 0;
	int rc = file_read_all(path, 16u << 20, &data, &len, e);
	if (rc)
		return rc;
	cJSON *j = cJSON_ParseWithLength(data, len);
	free(data);
	if (!j)
		return err_set(e, ERR_FORMAT, "'%s': malformed JSON", path);
	int bos = config_token(t, j, "bos_token");
	int eos = config_token(t, j, "eos_token");
	if (bos >= 0)
		t->bos_id = bos;
	if (eos >= 0)
		t->eos_id = eos;
	/* transformers' Llama/Gemma fast tokenizers rebuild the template from
	 * add_bos_token / add_eos_token (update_post_processor). */
	const char *cls = hf_json_str(j, "tokenizer_class");
	const cJSON *ab = cJSON_GetObjectItemCaseSensitive(j, "add_bos_token");
	const cJSON *ae = cJSON_GetObjectItemCaseSensitive(j, "add_eos_token");
	/* A SentencePiece model has no template of its own: the flags (with
	 * the same defaults) decide, whatever the class. */
	bool rebuild = t->kind == TOK_SPM ||
		       (cls && (strstr(cls, "Llama") || strstr(cls, "Gemma")));
	if (rebuild && (cJSON_IsBool(ab) || cJSON_IsBool(ae))) {
		bool add_bos = cJSON_IsBool(ab) ? cJSON_IsTrue(ab) : true;
		bool add_eos = cJSON_IsBool(ae) ? cJSON_IsTrue(ae) : false;
		if ((add_bos && t->bos_id < 0) || (add_eos && t->eos_id < 0)) {
			cJSON_Delete(j);
			return err_set(e, ERR_FORMAT,
				       "'%s': add_%s_token without a %s token",
				       path, add_bos && t->bos_id < 0 ? "bos" : "eos",
				       add_bos && t->bos_id < 0 ? "bos" : "eos");
		}
		t->n_tpl_pre = t->n_tpl_post = 0;
		if ((add_bos &&
		     hf_ids_append(&t->tpl_pre, &t->n_tpl_pre, t->bos_id)) ||
		    (add_eos &&
		     hf_ids_append(&t->tpl_post, &t->n_tpl_post, t->eos_id))) {
			cJSON_Delete(j);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
	}
	cJSON_Delete(j);
	return 0;
}
