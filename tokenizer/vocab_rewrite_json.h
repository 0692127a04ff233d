/*
 * vocab_rewrite_json — the rewritten tokenizer.json of a tokenizer.json
 * source (kind TOK_HF_BPE) for a keep set, and the tokenizer.model that
 * goes with it: the one beside the source pruned by piece string, else the
 * filtered tokenizer.json converted (vocab_hf_to_spm.h).
 *
 * The source file's JSON keeps every section; model.vocab, model.merges,
 * the added_tokens ids and the post-processor ids are replaced. When a
 * tokenizer.model beside the source is pruned with it, the json's merges
 * are the ones that model implies (see vocab_write.h for why).
 *
 * Ownership: *json is malloc'd, NUL-terminated, owned by the caller. The
 * tokenizer passed in is never modified.
 */
#ifndef PUNGUZA_VOCAB_REWRITE_JSON_H
#define PUNGUZA_VOCAB_REWRITE_JSON_H

#include <stddef.h>

#include "err.h"
#include "tokenizer.h"
#include "vocab_keep.h"

/* The rewritten tokenizer.json text (source kind TOK_HF_BPE: the source
 * file's JSON with model.vocab, model.merges, added_tokens ids and the
 * post-processor ids replaced, every other section preserved).  *json is
 * malloc'd, NUL-terminated. */
int vocab_json_text(const struct tokenizer *t, const struct vocab_keep *k,
		    char **json, size_t *len, struct err *e);

#endif
