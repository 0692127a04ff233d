/*
 * hf_pipeline — tokenizer.json's pipeline members, each a small object
 * parsed with cJSON into struct tokenizer (tok_impl.h):
 *   added_tokens    t->added and their vocabulary entries (a content that
 *                   is a model piece keeps the piece's id);
 *   normalizer      t->norm (normalize.h), Sequences flattened;
 *   pre_tokenizer   t->pretok: Metaspace, WhitespaceSplit, Split with a
 *                   String pattern (a Sequence of one);
 *   post_processor  TemplateProcessing: t->tpl_pre / t->tpl_post;
 *   decoder         t->dec: Replace, ByteFallback, Fuse, Strip, Metaspace.
 * A NULL or null member is absent (nothing set). Anything else is
 * ERR_UNSUPPORTED naming it ("'x.json': unsupported decoder 'CTC'");
 * malformed members are ERR_FORMAT. path is for messages.
 */
#ifndef PUNGUZA_HF_PIPELINE_H
#define PUNGUZA_HF_PIPELINE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct tokenizer;

int hf_parse_added(struct tokenizer *t, const cJSON *j, const char *path,
		   struct err *e);
/* depth: of Sequence nesting (at most 16), 0 at the top */
int hf_parse_normalizer(struct tokenizer *t, const cJSON *j,
			const char *path, int depth, struct err *e);
int hf_parse_pretok(struct tokenizer *t, const cJSON *j, const char *path,
		    struct err *e);
int hf_parse_post(struct tokenizer *t, const cJSON *j, const char *path,
		  struct err *e);
int hf_parse_decoder(struct tokenizer *t, const cJSON *j, const char *path,
		     int depth, struct err *e);

/* Shared with hf_config.c: o's string member key, or NULL. */
const char *hf_json_str(const cJSON *o, const char *key);

/* Appends id to the malloc'd array *v of *n ids; -1 when out of memory. */
int hf_ids_append(int **v, size_t *n, int id);

#endif
