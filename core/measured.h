/*
 * measured — leaderboard scores measured on a model, remembered between
 * runs, so the explorer can show a *measured* LB instead of an assumed one.
 *
 * `punguza tasks` records what it measured for a model directory; the
 * explorer looks the directory up when it opens it. The record lives in
 * $PUNGUZA_CACHE, else $XDG_CACHE_HOME/punguza, else ~/.cache/punguza, as
 * measured.json: {"<realpath of the model dir>": {"lb_tasks": ..,
 * "lb_pooled": .., "rows": .., "weights_bytes": ..}}. A record whose
 * weights size no longer matches the directory is ignored (the model was
 * replaced). Source model directories are never written.
 */
#ifndef PUNGUZA_MEASURED_H
#define PUNGUZA_MEASURED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct measured {
	double lb_tasks;  /* LB (a): mean of the three task scores */
	double lb_pooled; /* LB (b): the organisers' pooled list */
	int rows;         /* rows scored */
	uint64_t weights_bytes;
};

/* Records m for model_dir (replacing an earlier record). */
int measured_save(const char *model_dir, const struct measured *m,
		  struct err *e);

/* Looks model_dir up: 0 and *found = true with a record, 0 and *found =
 * false without one; an error only for an unreadable cache file. */
int measured_load(const char *model_dir, struct measured *out, bool *found,
		  struct err *e);

/* The path of a file named `name` in punguza's cache directory (see
 * above); with create, the directory is made when missing. */
int measured_cache_file(const char *name, bool create, char *buf, size_t cap,
			struct err *e);

struct cJSON;

/* Reads a cache file (a JSON object, at most 64 MiB) into *out, which the
 * caller frees with cJSON_Delete; a missing file reads as an empty
 * object. */
int measured_read_cache(const char *file, struct cJSON **out, struct err *e);

/* The weights' total size of a model dir (the record's fingerprint). */
uint64_t measured_weights_bytes(const char *model_dir);

#endif
