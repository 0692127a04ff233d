/*
 * calib_text — the calibration text prune_apply (apply.h) reads for activation
 * selection and layer ranking, as one sequence of token ids.
 *
 * Each file is read whole (at most 1 GiB) and encoded with the
 * tokenizer's template (BOS per file); the files' ids follow one another
 * and the sequence is cut at max_tokens (the files after the cut are not
 * read).
 */
#ifndef PUNGUZA_CALIB_TEXT_H
#define PUNGUZA_CALIB_TEXT_H

#include <stddef.h>

#include "err.h"
#include "tokenizer.h"

/* The ids of files[0..n) into *ids (malloc'd, caller frees; NULL when no
 * file was read), *n_ids of them. */
int calib_text_encode(const struct tokenizer *t, const char *const *files,
		       int n, size_t max_tokens, int **ids, size_t *n_ids,
		       struct err *e);

#endif
