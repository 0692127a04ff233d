/*
 * vocab_impl — helpers shared by the rewrite files of the vocabulary
 * feature (vocab_rewrite.c, vocab_rewrite_json.c, vocab_write.c,
 * vocab_spm_to_hf.c). Not for other modules, and never included by a
 * public vocab_*.h header (that would close a circle).
 *
 * Each helper's home is named below. Returned strings and cJSON items are
 * malloc'd and owned by the caller; NULL means out of memory.
 */
#ifndef PUNGUZA_VOCAB_IMPL_H
#define PUNGUZA_VOCAB_IMPL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "tokenizer.h"
#include "vocab_keep.h"

struct spm;

/* --- vocab_rewrite.c -------------------------------------------------- */

/* ERR_INVALID unless k is a keep set of t (sizes, ascending ids, the map
 * agreeing, every kept id a piece). */
int vocab_check_keep(const struct tokenizer *t, const struct vocab_keep *k,
		     struct err *e);

/* d's template and BOS/EOS: the source s's, through k's map. */
int vocab_copy_template(struct tokenizer *d, const struct tokenizer *s,
			const struct vocab_keep *k, struct err *e);

/* --- vocab_rewrite_json.c --------------------------------------------- */

/* Piece id of t as a NUL-terminated string. */
char *vocab_piece_dup(const struct tokenizer *t, int id);

/* A merge as the file had them: "a b", or ["a", "b"] when a part holds a
 * space (or the file used pairs). */
cJSON *vocab_merge_item(const struct tokenizer *t, int l, int r, bool pairs);

/* Kept pieces of m holding a character that is not itself a piece (which
 * a tokenizer.json cannot join as SentencePiece does); the first such
 * character goes to ex (NUL-terminated, at most 4 bytes). */
int vocab_spm_missing_chars(const struct spm *m, char ex[8]);

/* The rewritten tokenizer.json of a TOK_HF_BPE source and, when mbuf is
 * not NULL, the tokenizer.model that goes with it (*mbuf NULL: none;
 * *sib: it is the source's sibling pruned, not a conversion); *missing
 * counts the kept pieces the two would encode differently, ex names a
 * character of them. */
int vocab_json_and_model(const struct tokenizer *t, const struct vocab_keep *k,
			 char **json, size_t *len, unsigned char **mbuf,
			 size_t *mlen, int *missing, char ex[8], bool *sib,
			 struct err *e);

#endif
