/*
 * export — write a (pruned) model where other tools load it: a Hugging Face
 * directory and/or a GGUF file, atomically.
 *
 * OUT (a directory) receives, for EXPORT_HF:
 *   config.json             the source's config.json text (cJSON) with the
 *                           sizes replaced: vocab_size, hidden_size,
 *                           intermediate_size, num_attention_heads,
 *                           num_key_value_heads, num_hidden_layers,
 *                           tie_word_embeddings, bos/eos(/pad)_token_id,
 *                           torch_dtype; head_dim written when it differs
 *                           from d/heads (or the source had the key);
 *                           every other key (auto_map, ...) kept in place
 *   model.safetensors       every tensor in the export dtype; the MLP
 *                           written under EVERY layer's names (a shared MLP
 *                           too, so a plain LlamaForCausalLM loads it);
 *                           tied: no lm_head.weight
 *   generation_config.json  the source's, bos/eos ids updated (written
 *                           fresh when the source has none)
 *   tokenizer files         vocabulary unchanged: copied from the source
 *                           (tokenizer.json, tokenizer.model,
 *                           tokenizer_config.json, special_tokens_map.json,
 *                           when present); pruned: written by vocab.h
 *                           (tokenizer.json, tokenizer.model, vocab_map
 *                           .json) and tokenizer_config.json's
 *                           added_tokens_decoder renumbered
 *   vulavulaslm.py          copied when the source has it
 *   punguza.json            the recipe (recipe.h), when given
 * and for EXPORT_GGUF: model.gguf (llama architecture, see export.c for
 * the metadata; Q/K rows permuted to GGUF's interleaved RoPE layout as
 * llama.cpp's convert_hf_to_gguf.py LlamaModel.permute does: within each
 * head, new row 2i + s = old row s*hd/2 + i; norms always F32 as the
 * converter writes 1-D tensors).
 *
 * Atomicity: everything is written into OUT.tmp-XXXXXX beside OUT and
 * renamed to OUT when complete. While it is being written the temporary
 * directory holds a marker file, EXPORT_MARKER ("punguza export\npid
 * N\nhost H\n", removed before the rename), naming the writing process;
 * each export first removes the temporary directories that earlier exports
 * to the same OUT left behind when they were killed (export_remove_stale)
 * and notes each one it removed. An existing non-empty OUT is refused
 * unless force; with force it is replaced only after the new one is
 * complete (moved aside, the new one renamed in, the old one removed). On
 * any failure (write error, cancel) the temporary directory is removed and
 * the error says so; OUT is untouched. The source directory is never
 * written (an OUT that is, holds or lies inside it is refused, whether
 * or not OUT exists yet: fileio.h out_dir_check).
 *
 * Determinism: the same model, options and recipe give the same bytes
 * (no timestamps; safetensors sorted by name; JSON from cJSON).
 */
#ifndef PUNGUZA_EXPORT_H
#define PUNGUZA_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "err.h"
#include "model.h"
#include "progress.h"
#include "recipe.h"

struct tokenizer;
struct vocab_keep;

/* The marker file inside an export's temporary directory. */
#define EXPORT_MARKER ".punguza-export"

/* What an export has to tell besides success or failure, for the caller to
 * show (lowercase sentences, no trailing newline): stale temporary
 * directories removed or left alone, warnings about the written files.
 * Notes beyond EXPORT_MAX_NOTES are counted in n_dropped. */
#define EXPORT_MAX_NOTES 8
#define EXPORT_NOTE_MAX 1024
struct export_notes {
	int n;
	int n_dropped;
	char text[EXPORT_MAX_NOTES][EXPORT_NOTE_MAX];
};

#define EXPORT_HF 1u
#define EXPORT_GGUF 2u

struct export_opts {
	const char *src_dir; /* files to copy from (may be NULL) */
	const char *out_dir;
	unsigned formats;    /* EXPORT_HF | EXPORT_GGUF */
	enum dtype dtype;
	bool force;
	const struct recipe *recipe; /* punguza.json (NULL: not written) */
	/* The tokenizer of the exported model (required for GGUF: its
	 * vocabulary goes into the file). */
	const struct tokenizer *tok;
	/* A pruned vocabulary: the source tokenizer and the keep set, for
	 * vocab_write_files (both NULL when the vocabulary is unchanged). */
	const struct tokenizer *src_tok;
	const struct vocab_keep *keep;
	const char *name; /* general.name in the GGUF ("" / NULL: "punguza") */
	/* Receives the export's notes (may be NULL); owned by the caller,
	 * appended to (not cleared). */
	struct export_notes *notes;
};

/* Exports m (see above). Cancelling through prog (e.g. the CLI's
 * SIGINT/SIGTERM handler setting a flag its callback returns) unwinds and
 * removes the temporary directory: ERR_CANCELLED. */
int export_model(const struct model *m, const struct export_opts *o,
		 const struct progress *prog, struct err *e);

/* Removes the temporary directories of dead exports to out_dir: entries
 * OUT.tmp-XXXXXX beside OUT that are directories (not symlinks) holding an
 * EXPORT_MARKER whose host is this host and whose pid is no longer alive
 * (kill(pid, 0) fails with ESRCH). One note per directory removed; one per
 * OUT.tmp-XXXXXX left alone because it has no readable marker (not ours to
 * judge). Directories of live processes are skipped silently. Returns 0, or
 * < 0 only when the parent directory cannot be read; a directory that
 * cannot be removed is noted, not an error. notes may be NULL. */
int export_remove_stale(const char *out_dir, struct export_notes *notes,
			struct err *e);

/* The source checksum recorded in a recipe: FNV-1a 64 over the source
 * checkpoint's tensors in name order — for each: name, NUL, dtype name,
 * NUL, each dim as 8 little-endian bytes, then the raw data bytes as
 * stored — written "fnv1a64:<16 hex digits>". Independent of the file
 * layout (one or more safetensors/.bin files). m must be loaded
 * (model_load). */
int export_source_checksum(const struct model *m, char *buf, size_t cap,
			   const struct progress *prog, struct err *e);

/* Parses a format list ("hf", "gguf", "hf,gguf") into EXPORT_* bits;
 * -1 for an unknown name or an empty list. */
int export_parse_formats(const char *list, unsigned *out);

/* Removes a directory tree (no symlinks followed). For cleanup. */
int export_remove_tree(const char *path, struct err *e);

#endif
