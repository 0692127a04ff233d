/* vocab_rewrite — the in-memory tokenizer of a keep set (vocab_rewrite.h). */
#include "vocab_rewrite.h"

#include <stdio.h>
#include <stdlib.h>

#include "tok_impl.h"
#include "vocab_impl.h"

int vocab_check_keep(const struct tokenizer *t, const struct vocab_keep *k,
		     struct err *e)
{
	if (k->n_old != tok_vocab_size(t) || k->n_keep <= 0 ||
	    k->n_keep > k->n_old)
		return err_set(
		    e, ERR_INVALID,
		    "keep set for %d ids used with a tokenizer of %d", k->n_old,
		    tok_vocab_size(t));
	for (int i = 0; i < k->n_keep; i++) {
		int id = k->keep[i];
		if (id < 0 || id >= k->n_old || (i && id <= k->keep[i - 1]) ||
		    k->old_to_new[id] != i || !tok_piece(t, id, NULL))
			return err_set(e, ERR_INVALID,
				       "keep set: entry %d (id %d) is invalid",
				       i, id);
	}
	return 0;
}

/* The new tokenizer's template and BOS/EOS follow the source's. */
int vocab_copy_template(struct tokenizer *d, const struct tokenizer *s,
			const struct vocab_keep *k, struct err *e)
{
	int *pre = malloc((s->n_tpl_pre + 1) * sizeof *pre);
	int *post = malloc((s->n_tpl_post + 1) * sizeof *post);
	if (!pre || !post) {
		free(pre);
		free(post);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	size_t np = 0, nq = 0;
	for (size_t i = 0; i < s->n_tpl_pre; i++)
		if (k->old_to_new[s->tpl_pre[i]] >= 0)
			pre[np++] = k->old_to_new[s->tpl_pre[i]];
	for (size_t i = 0; i < s->n_tpl_post; i++)
		if (k->old_to_new[s->tpl_post[i]] >= 0)
			post[nq++] = k->old_to_new[s->tpl_post[i]];
	free(d->tpl_pre);
	free(d->tpl_post);
	d->tpl_pre = pre;
	d->tpl_post = post;
	d->n_tpl_pre = np;
	d->n_tpl_post = nq;
	d->bos_id = s->bos_id >= 0 ? k->old_to_new[s->bos_id] : -1;
	d->eos_id = s->eos_id >= 0 ? k->old_to_new[s->eos_id] : -1;
	return 0;
}

/* The tokenizer of the SentencePiece model bytes buf (freed here). */
static int tok_from_model(unsigned char *buf, size_t len, const char *name,
			  struct tokenizer **d, struct err *e)
{
	struct spm *m;
	int rc = spm_load_buffer(buf, len, name, &m, e);
	free(buf);
	if (rc)
		return rc;
	return tok_from_spm(m, name, d, e);
}

int vocab_rewrite(const struct tokenizer *t, const struct vocab_keep *k,
		  struct tokenizer **out, struct err *e)
{
	*out = NULL;
	int rc = vocab_check_keep(t, k, e);
	if (rc)
		return rc;
	struct tokenizer *d = NULL;
	char name[4096];
	snprintf(name, sizeof name, "%s (%d pieces)", t->path, k->n_keep);
	if (t->kind == TOK_SPM) {
		unsigned char *buf;
		size_t len;
		if ((rc = spm_write_buffer(t->spm, k->keep, (size_t)k->n_keep,
					   &buf, &len, e)))
			return rc;
		if ((rc = tok_from_model(buf, len, name, &d, e)))
			return rc;
	} else {
		char *json, ex[8];
		size_t len, ml;
		unsigned char *mb;
		int missing;
		bool sib;
		if ((rc = vocab_json_and_model(t, k, &json, &len, &mb, &ml,
					       &missing, ex, &sib, e)))
			return rc;
		if (missing && sib) {
			/* no tokenizer.json is written (vocab_write_files):
			 * the model's semantics */
			free(json);
			if ((rc = tok_from_model(mb, ml, name, &d, e)))
				return rc;
		} else {
			free(mb);
			rc = tok_from_json_text(json, len, name, &d, e);
			if (rc) {
				free(json);
				return rc;
			}
			d->src_json = json;
			d->src_json_len = len;
		}
	}
	if ((rc = vocab_copy_template(d, t, k, e))) {
		tok_free(d);
		return rc;
	}
	*out = d;
	return 0;
}
