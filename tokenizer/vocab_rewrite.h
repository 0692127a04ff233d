/*
 * vocab_rewrite — a tokenizer holding only the pieces of a keep set
 * (vocab_keep.h), in memory: what the pruned model encodes with.
 *
 * New ids are the kept pieces in their original order; the merges are
 * those of the tokenizer.model written with it (see vocab_write_files in
 * vocab_write.h), else a merge survives when its two parts and its result
 * survive, in the original rank order; specials, added tokens and byte
 * pieces keep their flags and the post-processor / BOS / EOS follow their
 * pieces. For a tokenizer.json source the new tokenizer is the JSON text
 * vocab_json_text (vocab_rewrite_json.h) produces, read back by the loader
 * (so the written file and the in-memory tokenizer cannot differ); for a
 * tokenizer.model source it is the spm_write_buffer output read back.
 *
 * Ownership: *out is malloc'd and owned by the caller (tok_free). The
 * tokenizer passed in is never modified.
 */
#ifndef PUNGUZA_VOCAB_REWRITE_H
#define PUNGUZA_VOCAB_REWRITE_H

#include "err.h"
#include "tokenizer.h"
#include "vocab_keep.h"

/* A new tokenizer holding only the kept pieces (see above). */
int vocab_rewrite(const struct tokenizer *t, const struct vocab_keep *k,
		  struct tokenizer **out, struct err *e);

#endif
