/* vocab_write — tokenizer files and vocab_map.json of a keep set
 * (vocab_write.h). */
#include "vocab_write.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fileio.h"
#include "tok_impl.h"
#include "vocab_impl.h"
#include "vocab_rewrite.h"
#include "vocab_spm_to_hf.h"

static int write_map(const char *path, const struct vocab_keep *k,
		     struct err *e)
{
	/* {"n_old": V, "n_new": K, "keep": [...], "old_to_new": [...]} */
	size_t cap = 64 + ((size_t)k->n_keep + (size_t)k->n_old) * 12;
	char *s = malloc(cap), *o = s;
	if (!s)
		return err_set(e, ERR_NOMEM, "out of memory");
	o += sprintf(o, "{\"n_old\": %d, \"n_new\": %d, \"keep\": [", k->n_old,
		     k->n_keep);
	for (int i = 0; i < k->n_keep; i++)
		o += sprintf(o, i ? ",%d" : "%d", k->keep[i]);
	o += sprintf(o, "],\n\"old_to_new\": [");
	for (int i = 0; i < k->n_old; i++)
		o += sprintf(o, i ? ",%d" : "%d", k->old_to_new[i]);
	o += sprintf(o, "]}\n");
	int rc = file_write_atomic(path, s, (size_t)(o - s), e);
	free(s);
	return rc;
}

static void skipped_json(struct vocab_files *out, int missing, const char *ex)
{
	if (!out)
		return;
	snprintf(out->warning, sizeof out->warning,
		 "tokenizer.json not written: %d kept pieces hold a character "
		 "the cut dropped (e.g. '%s'); SentencePiece and llama.cpp "
		 "join through it, Hugging Face BPE cannot, so a "
		 "tokenizer.json would encode the same text differently "
		 "(keep merge closure on, or load tokenizer.model with "
		 "transformers' slow LlamaTokenizer)",
		 missing, ex);
}

static void skipped_model(struct vocab_files *out, int missing)
{
	if (!out)
		return;
	snprintf(out->warning, sizeof out->warning,
		 "tokenizer.model not written: without merge closure at "
		 "least %d kept pieces are out of the tokenizer.json's reach "
		 "and in SentencePiece's, so a converted tokenizer.model "
		 "would encode the same text differently; a GGUF of this "
		 "model (SentencePiece semantics in llama.cpp) may too "
		 "(keep merge closure on)",
		 missing);
}

int vocab_write_files(const struct tokenizer *src, const struct vocab_keep *k,
		      const char *outdir, struct vocab_files *out,
		      struct err *e)
{
	if (out)
		*out = (struct vocab_files){0};
	int rc = vocab_check_keep(src, k, e);
	if (rc)
		return rc;
	if (!path_is_dir(outdir) && mkdir(outdir, 0777) && errno != EEXIST)
		return err_errno(e, ERR_IO, "cannot create '%s'", outdir);
	char pj[4096], pm[4096], pv[4096], ex[8] = "";
	if (path_join(pj, sizeof pj, outdir, "tokenizer.json", e) ||
	    path_join(pm, sizeof pm, outdir, "tokenizer.model", e) ||
	    path_join(pv, sizeof pv, outdir, "vocab_map.json", e))
		return e ? e->code : ERR_INVALID;
	char *json = NULL;
	size_t jl = 0, ml = 0;
	unsigned char *mb = NULL;
	int missing = 0;
	if (src->kind == TOK_SPM) {
		struct tokenizer *d;
		if ((rc = vocab_rewrite(src, k, &d, e)))
			return rc;
		if (spm_model_type(src->spm) == SPM_BPE) {
			missing = vocab_spm_missing_chars(d->spm, ex);
			if (!missing)
				rc = vocab_spm_to_hf_json(d, &json, &jl, e);
		}
		tok_free(d);
		if (!rc)
			rc = spm_write_buffer(src->spm, k->keep,
					      (size_t)k->n_keep, &mb, &ml, e);
	} else {
		/* the tokenizer.model beside the source pruned, or the
		 * filtered tokenizer.json converted; the json's merges are
		 * derived from it, so both encode alike */
		bool sib;
		rc = vocab_json_and_model(src, k, &json, &jl, &mb, &ml,
					  &missing, ex, &sib, e);
		if (!rc && missing && !sib) {
			/* the json leads: no model that would disagree */
			free(mb);
			mb = NULL;
			skipped_model(out, missing);
			missing = 0;
		}
	}
	if (!rc && missing) {
		free(json);
		json = NULL;
		skipped_json(out, missing, ex);
	}
	if (!rc && mb)
		rc = file_write_atomic(pm, mb, ml, e);
	if (!rc && json)
		rc = file_write_atomic(pj, json, jl, e);
	if (!rc && out) {
		out->json = json != NULL;
		out->model = mb != NULL;
	}
	free(json);
	free(mb);
	if (!rc)
		rc = write_map(pv, k, e);
	return rc;
}
