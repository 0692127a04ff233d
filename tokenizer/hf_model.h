/*
 * hf_model — tokenizer.json's "model" member: type, vocab, merges (either
 * "a b" strings or ["a", "b"] pairs), unk_token and the BPE options
 * (fuse_unk, byte_fallback, ignore_merges; continuing_subword_prefix,
 * end_of_word_suffix and dropout only in their neutral values).
 *
 * Reading and building are apart because the file's other members decide
 * nothing here but the file must parse as a whole before anything is
 * built: hf_model_read copies the model's strings into a struct hf_model
 * with the streaming cursor (json_cursor.h) and sets the BPE options on t;
 * hf_model_build then fills t->bpe (pieces, merges, unk_id). Errors name
 * the file ("'x.json': unsupported model 'Unigram'").
 */
#ifndef PUNGUZA_HF_MODEL_H
#define PUNGUZA_HF_MODEL_H

#include "json_cursor.h"

struct tokenizer;

/* The model as read: zero-initialise, free with hf_model_free. */
struct hf_model {
	struct buf type, unk, scratch;
	bool have_type, have_unk;
	struct buf vstr;           /* vocab piece bytes */
	size_t *voff;              /* (nv) */
	uint32_t *vlen;            /* (nv) */
	int32_t *vid;              /* (nv) */
	size_t nv, vcap;
	struct buf mstr;           /* merge parts: left then right */
	size_t *moff;              /* (nm) */
	uint32_t *mll, *mrl;       /* (nm) */
	size_t nm, mcap;
	bool have_merges;
};

void hf_model_free(struct hf_model *m); /* frees the members, keeps m */

/* Reads the model object at the cursor into m (and t's BPE options). */
int hf_model_read(struct jc *c, struct tokenizer *t, struct hf_model *m);

/* Fills t->bpe from m: vocabulary, merges, unk_id. */
int hf_model_build(struct tokenizer *t, struct hf_model *m,
		   const char *path, struct err *e);

#endif
