/*
 * hfjson — tokenizer.json as a whole (see hfjson.h): the top-level walk,
 * then the model, the pipeline members and the finishing checks.
 */
#include "hfjson.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "hf_model.h"
#include "hf_pipeline.h"
#include "json_cursor.h"
#include "tok_impl.h"

#define TOKJSON_MAX_BYTES ((size_t)1 << 30)

/* --- the whole file ----------------------------------------------------- */

struct span {
	const char *s;
	size_t n;
};

static int parse_span(const struct span *sp, cJSON **out, const char *path,
		      const char *what, struct err *e)
{
	*out = NULL;
	if (!sp->s)
		return 0;
	*out = cJSON_ParseWithLength(sp->s, sp->n);
	if (!*out)
		return err_set(e, ERR_FORMAT, "'%s': cannot parse '%s'", path,
			       what);
	return 0;
}

int hf_load_json(struct tokenizer *t, const char *path, struct err *e)
{
	char *data = NULL;
	size_t len = 0;
	int rc = file_read_all(path, TOKJSON_MAX_BYTES, &data, &len, e);
	if (rc)
		return rc;
	rc = hf_load_json_text(t, data, len, path, e);
	free(data);
	return rc;
}

int hf_load_json_text(struct tokenizer *t, const char *data, size_t len,
		      const char *path, struct err *e)
{
	int rc;
	t->kind = TOK_HF_BPE;
	struct hf_model m;
	memset(&m, 0, sizeof m);
	struct jc c = {data, len, 0, path, e};
	struct span added = {0}, norm = {0}, pre = {0}, post = {0}, dec = {0};
	bool have_model = false;
	struct buf key = {0};
	cJSON *ja = NULL, *jn = NULL, *jp = NULL, *jpo = NULL, *jd = NULL;

	if ((rc = jc_expect(&c, '{')))
		goto out;
	if (jc_peek(&c) == '}') {
		c.i++;
	} else {
		for (;;) {
			if ((rc = jc_string(&c, &key)) || (rc = jc_expect(&c, ':')))
				goto out;
			struct span *sp = NULL;
			if (!strcmp(key.p, "model")) {
				have_model = true;
				if ((rc = hf_model_read(&c, t, &m)))
					goto out;
			} else {
				if (!strcmp(key.p, "added_tokens"))
					sp = &added;
				else if (!strcmp(key.p, "normalizer"))
					sp = &norm;
				else if (!strcmp(key.p, "pre_tokenizer"))
					sp = &pre;
				else if (!strcmp(key.p, "post_processor"))
					sp = &post;
				else if (!strcmp(key.p, "decoder"))
					sp = &dec;
				jc_ws(&c);
				size_t start = c.i;
				if ((rc = jc_skip(&c, 1)))
					goto out;
				if (sp) {
					sp->s = data + start;
					sp->n = c.i - start;
				}
			}
			bool more;
			if ((rc = jc_next(&c, '}', "expected ',' or '}'", &more)))
				goto out;
			if (!more)
				break;
		}
	}
	if (jc_peek(&c) != -1) {
		rc = jc_fail(&c, "trailing data after the top-level object");
		goto out;
	}
	if (!have_model) {
		rc = err_set(e, ERR_FORMAT, "'%s': no model", path);
		goto out;
	}
	if ((rc = hf_model_build(t, &m, path, e)))
		goto out;
	hf_model_free(&m);
	memset(&m, 0, sizeof m);
	if ((rc = parse_span(&added, &ja, path, "added_tokens", e)) ||
	    (rc = parse_span(&norm, &jn, path, "normalizer", e)) ||
	    (rc = parse_span(&pre, &jp, path, "pre_tokenizer", e)) ||
	    (rc = parse_span(&post, &jpo, path, "post_processor", e)) ||
	    (rc = parse_span(&dec, &jd, path, "decoder", e)))
		goto out;
	if ((rc = hf_parse_added(t, ja, path, e)) ||
	    (rc = hf_parse_normalizer(t, jn, path, 0, e)) ||
	    (rc = hf_parse_pretok(t, jp, path, e)) ||
	    (rc = hf_parse_post(t, jpo, path, e)) ||
	    (rc = hf_parse_decoder(t, jd, path, 0, e)))
		goto out;
	if ((rc = bpe_finish(&t->bpe, e)))
		goto out;
	/* added tokens: normalized forms and the first-byte filter */
	for (size_t i = 0; i < t->n_added; i++) {
		struct tok_added *a = &t->added[i];
		if (!a->normalized) {
			unsigned char b0 = (unsigned char)a->content[0];
			t->added_first[b0 >> 3] |= (uint8_t)(1u << (b0 & 7));
			continue;
		}
		if ((rc = normalizer_apply(&t->norm, a->content, a->len,
					   &a->norm, &a->norm_len, e)))
			goto out;
		if (a->norm_len) {
			unsigned char b0 = (unsigned char)a->norm[0];
			t->added_first_norm[b0 >> 3] |= (uint8_t)(1u << (b0 & 7));
		}
	}
	for (size_t i = 0; i < t->n_tpl_pre + t->n_tpl_post; i++) {
		int id = i < t->n_tpl_pre ? t->tpl_pre[i]
					  : t->tpl_post[i - t->n_tpl_pre];
		if (id >= t->bpe.n_vocab ||
		    !(t->bpe.flags[id] & BPE_PIECE_PRESENT)) {
			rc = err_set(e, ERR_FORMAT,
				     "'%s': post_processor id %d is not in the "
				     "vocabulary",
				     path, id);
			goto out;
		}
	}
	t->bos_id = t->n_tpl_pre ? t->tpl_pre[0] : bpe_piece_id(&t->bpe, "<s>", 3);
	t->eos_id = t->n_tpl_post ? t->tpl_post[t->n_tpl_post - 1]
				  : bpe_piece_id(&t->bpe, "</s>", 4);
out:
	cJSON_Delete(ja);
	cJSON_Delete(jn);
	cJSON_Delete(jp);
	cJSON_Delete(jpo);
	cJSON_Delete(jd);
	free(key.p);
	hf_model_free(&m);
	return rc;
}
