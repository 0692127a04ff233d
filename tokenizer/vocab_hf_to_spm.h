/*
 * vocab_hf_to_spm — tokenizer.json -> SentencePiece: a tokenizer.model
 * (ModelProto bytes) for an InkubaLM-style Hugging Face BPE tokenizer, what
 * vocab_write_files writes beside a pruned tokenizer.json that has no
 * tokenizer.model of its own.
 *
 * Ownership: *out is malloc'd and owned by the caller.
 */
#ifndef PUNGUZA_VOCAB_HF_TO_SPM_H
#define PUNGUZA_VOCAB_HF_TO_SPM_H

#include <stddef.h>

#include "err.h"
#include "tokenizer.h"

/* A SentencePiece BPE ModelProto for an HF BPE tokenizer with no
 * pre-tokenizer and the normalizer [Prepend "▁"] + Replace " " -> "▁"
 * (InkubaLM's): the pieces in id order (unk UNKNOWN, other specials
 * CONTROL, byte pieces BYTE, other added tokens USER_DEFINED, the rest
 * NORMAL), each NORMAL piece scored minus the rank of the first merge that
 * makes it (pieces no merge makes: below every merged piece), trainer_spec
 * model_type BPE / vocab_size / byte_fallback / unk,bos,eos ids (pad -1),
 * normalizer_spec identity with add_dummy_prefix = the Prepend,
 * remove_extra_whitespaces off. The encodings agree with the
 * tokenizer.json except where HF's merge order differs from "best-scored
 * concatenation first" (a piece made by several merges of different
 * ranks; a pair that joins into a piece no merge lists): measured, not
 * exact (see tests/test_vocab.c). ERR_UNSUPPORTED otherwise.
 * *out is malloc'd; caller frees. */
int vocab_hf_to_spm_model(const struct tokenizer *t, unsigned char **out,
			  size_t *len, struct err *e);

#endif
