/*
 * hf_config — applies a tokenizer_config.json to a loaded tokenizer:
 * bos_token / eos_token (a string or {"content": ...}) set bos_id /
 * eos_id when they name a piece, and add_bos_token / add_eos_token
 * rebuild the template (tpl_pre / tpl_post) as transformers' Llama and
 * Gemma fast tokenizers do, and always for a SentencePiece model (which
 * has no template of its own). Other keys are ignored.
 */
#ifndef PUNGUZA_HF_CONFIG_H
#define PUNGUZA_HF_CONFIG_H

#include "err.h"

struct tokenizer;

/* Reads path (at most 16 MiB) and applies it to t. */
int hf_load_config(struct tokenizer *t, const char *path, struct err *e);

#endif
