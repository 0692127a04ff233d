/*
 * hfjson — loads a Hugging Face tokenizer.json into struct tokenizer
 * (tok_impl.h; kind TOK_HF_BPE).
 *
 * The model's vocab and merges are read by the streaming cursor
 * (json_cursor.h, hf_model.h) straight into the vocabulary, so loading
 * takes a few tens of ms and no DOM of 200k nodes is ever built; the small
 * top-level members (added_tokens, normalizer, pre_tokenizer,
 * post_processor, decoder) are located by the cursor and parsed with cJSON
 * (hf_pipeline.h). Then the added tokens' normalized forms, the template
 * ids' check and bos_id / eos_id. Everything read is hostile: every count
 * is bounded. On failure t holds what was read so far (tok_free it).
 */
#ifndef PUNGUZA_HFJSON_H
#define PUNGUZA_HFJSON_H

#include <stddef.h>

#include "err.h"

struct tokenizer;

/* Fills t from the tokenizer.json at path (at most 1 GiB). */
int hf_load_json(struct tokenizer *t, const char *path, struct err *e);

/* The same from a buffer (name is used in messages). */
int hf_load_json_text(struct tokenizer *t, const char *data, size_t len,
		      const char *name, struct err *e);

#endif
