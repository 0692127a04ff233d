#include "weights.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "safetensors.h"
#include "torchbin.h"
#include "zip.h"

/* ---- the weights of a model ---- */

struct shard {
	struct file_map map;
	char *path;
	/* A PyTorch zip's storages, by address, and which passed their
	 * CRC-32 check (weights_check). */
	struct zip_entry *zents;
	unsigned char *zchecked;
	size_t n_zents;
};

struct weights {
	struct shard *shards;
	size_t n_shards, shards_cap;
	struct tensor *t; /* all tensors, file by file, in file order */
	size_t *shard_of; /* index into shards, per tensor */
	size_t n, cap;
	const struct tensor **sorted; /* by name, for weights_find */
	uint64_t file_bytes;
	char format[64];
};

/* torch.save before PyTorch 1.6 (and with
 * _use_new_zipfile_serialization=False): a protocol-2 pickle of the magic
 * number 0x1950a86a20f9469cfc6c (LONG1, 10 bytes) comes first. */
static int is_legacy_torch(const unsigned char *p, uint64_t n)
{
	static const unsigned char magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c,
					      0xfc, 0x9c, 0x46, 0xf9, 0x20,
					      0x6a, 0xa8, 0x50, 0x19};
	return n >= sizeof magic && memcmp(p, magic, sizeof magic) == 0;
}

static int add_file(struct weights *w, const char *path, int *is_zip,
		    struct err *e)
{
	if (w->n_shards == w->shards_cap) {
		size_t cap = w->shards_cap ? 2 * w->shards_cap : 4;
		struct shard *ns = realloc(w->shards, cap * sizeof *ns);
		if (!ns)
			return err_set(e, ERR_NOMEM, "'%s': out of memory",
				       path);
		w->shards = ns;
		w->shards_cap = cap;
	}
	struct shard *s = &w->shards[w->n_shards];
	memset(s, 0, sizeof *s);
	s->path = strdup(path);
	if (!s->path)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", path);
	w->n_shards++;
	int rc = file_map_open(path, &s->map, e);
	if (rc < 0)
		return rc;
	w->file_bytes += s->map.size;
	struct tensor *t = NULL;
	size_t n = 0;
	int zip = s->map.size >= 4 && memcmp(s->map.data, "PK\3\4", 4) == 0;
	if (is_zip)
		*is_zip = zip;
	if (zip) {
		rc = torchbin_parse_entries(s->map.data, (size_t)s->map.size,
					    path, &t, &n, &s->zents,
					    &s->n_zents, e);
		if (rc == 0 &&
		    !(s->zchecked = calloc(s->n_zents ? s->n_zents : 1, 1))) {
			tensor_array_free(t, n);
			return err_set(e, ERR_NOMEM, "'%s': out of memory",
				       path);
		}
	} else if (is_legacy_torch(s->map.data, s->map.size))
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': legacy (non-zip) torch.save format is "
			       "not supported; re-save with torch.save(..., "
			       "_use_new_zipfile_serialization=True)",
			       path);
	else
		rc = safetensors_parse(s->map.data, (size_t)s->map.size, path,
				       &t, &n, e);
	if (rc < 0)
		return rc;
	if (w->n + n > w->cap) {
		size_t cap = w->cap ? w->cap : 64;
		while (cap < w->n + n)
			cap *= 2;
		struct tensor *nt = realloc(w->t, cap * sizeof *nt);
		if (nt)
			w->t = nt;
		size_t *ns = realloc(w->shard_of, cap * sizeof *ns);
		if (ns)
			w->shard_of = ns;
		if (!nt || !ns) {
			tensor_array_free(t, n);
			return err_set(e, ERR_NOMEM, "'%s': out of memory",
				       path);
		}
		w->cap = cap;
	}
	if (n) /* an empty file ("{}" header) has t == NULL, w->t may be */
		memcpy(w->t + w->n, t, n * sizeof *t);
	for (size_t i = 0; i < n; i++)
		w->shard_of[w->n + i] = w->n_shards - 1;
	w->n += n;
	free(t); /* the names now belong to w->t */
	return 0;
}

static int tensor_ptr_cmp(const void *a, const void *b)
{
	const struct tensor *const *x = a, *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

static int build_index(struct weights *w, struct err *e)
{
	w->sorted = malloc((w->n ? w->n : 1) * sizeof *w->sorted);
	if (!w->sorted)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < w->n; i++)
		w->sorted[i] = &w->t[i];
	qsort(w->sorted, w->n, sizeof *w->sorted, tensor_ptr_cmp);
	for (size_t i = 0; i + 1 < w->n; i++)
		if (strcmp(w->sorted[i]->name, w->sorted[i + 1]->name) == 0) {
			size_t a = w->shard_of[w->sorted[i] - w->t];
			size_t b = w->shard_of[w->sorted[i + 1] - w->t];
			return err_set(e, ERR_FORMAT,
				       "duplicate tensor '%s' in '%s' and '%s'",
				       w->sorted[i]->name, w->shards[a].path,
				       w->shards[b].path);
		}
	return 0;
}

static struct weights *weights_new(void)
{
	return calloc(1, sizeof(struct weights));
}

int weights_open_file(const char *path, struct weights **out, struct err *e)
{
	*out = NULL;
	struct weights *w = weights_new();
	if (!w)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", path);
	int zip = 0;
	int rc = add_file(w, path, &zip, e);
	if (rc == 0)
		rc = build_index(w, e);
	if (rc < 0) {
		weights_free(w);
		return rc;
	}
	snprintf(w->format, sizeof w->format, "%s",
		 zip ? "pytorch" : "safetensors");
	*out = w;
	return 0;
}

/* A shard name from an index file: a plain file name in the same
 * directory (no path separators, no "." or ".."). */
static int shard_name_ok(const char *s)
{
	return s[0] && !strchr(s, '/') && strcmp(s, ".") != 0 &&
	       strcmp(s, "..") != 0;
}

struct name_pos {
	const char *name;
	size_t pos;
};

static int name_pos_by_name(const void *a, const void *b)
{
	const struct name_pos *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static int name_pos_by_pos(const void *a, const void *b)
{
	const struct name_pos *x = a, *y = b;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

static int open_index(struct weights *w, const char *dir,
		      const char *index_path, const struct progress *prog,
		      struct err *e)
{
	char *text = NULL;
	size_t len = 0;
	int rc = file_read_all(index_path, (size_t)64 << 20, &text, &len, e);
	if (rc < 0)
		return rc;
	cJSON *root = cJSON_ParseWithLength(text, len);
	free(text);
	if (!root)
		return err_set(e, ERR_FORMAT, "'%s': not valid JSON",
			       index_path);
	const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
	const char **files = NULL;
	size_t n_files = 0;
	if (!cJSON_IsObject(map)) {
		rc = err_set(e, ERR_FORMAT, "'%s': no \"weight_map\" object",
			     index_path);
		goto out;
	}
	size_t n_entries = (size_t)cJSON_GetArraySize(map);
	files = calloc(n_entries ? n_entries : 1, sizeof *files);
	if (!files) {
		rc = err_set(e, ERR_NOMEM, "'%s': out of memory", index_path);
		goto out;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, map)
	{
		if (!cJSON_IsString(it) || !shard_name_ok(it->valuestring)) {
			rc = err_set(e, ERR_FORMAT,
				     "'%s': tensor '%s' maps to a bad shard "
				     "name",
				     index_path, it->string);
			goto out;
		}
		files[n_files++] = it->valuestring;
	}
	/* The distinct names in order of first appearance, in O(n log n):
	 * sort by (name, position), keep each name's first, re-sort those
	 * by position. */
	if (n_files > 1) {
		struct name_pos *np = malloc(n_files * sizeof *np);
		if (!np) {
			rc = err_set(e, ERR_NOMEM, "'%s': out of memory",
				     index_path);
			goto out;
		}
		for (size_t k = 0; k < n_files; k++)
			np[k] = (struct name_pos){files[k], k};
		qsort(np, n_files, sizeof *np, name_pos_by_name);
		size_t u = 0;
		for (size_t k = 0; k < n_files; k++)
			if (u == 0 || strcmp(np[u - 1].name, np[k].name) != 0)
				np[u++] = np[k];
		qsort(np, u, sizeof *np, name_pos_by_pos);
		for (size_t k = 0; k < u; k++)
			files[k] = np[k].name;
		n_files = u;
		free(np);
	}
	if (n_files == 0) {
		rc = err_set(e, ERR_FORMAT, "'%s': \"weight_map\" is empty",
			     index_path);
		goto out;
	}
	for (size_t k = 0; k < n_files; k++) {
		if ((rc = progress_report(prog, (double)k / (double)n_files,
					  "loading weights", e)) < 0)
			goto out;
		char path[4096];
		if ((rc = path_join(path, sizeof path, dir, files[k], e)) < 0)
			goto out;
		if ((rc = add_file(w, path, NULL, e)) < 0)
			goto out;
	}
	if ((rc = build_index(w, e)) < 0)
		goto out;
	/* Every tensor the index names must be in the shard it names. */
	cJSON_ArrayForEach(it, map)
	{
		const struct tensor *t = weights_find(w, it->string);
		const char *want = it->valuestring;
		if (!t) {
			rc = err_set(e, ERR_NOTFOUND,
				     "'%s': tensor '%s' is not in '%s'",
				     index_path, it->string, want);
			goto out;
		}
		const char *got = w->shards[w->shard_of[t - w->t]].path;
		const char *base = strrchr(got, '/');
		base = base ? base + 1 : got;
		if (strcmp(base, want) != 0) {
			rc = err_set(e, ERR_FORMAT,
				     "'%s': tensor '%s' is in '%s', not in "
				     "'%s'",
				     index_path, it->string, got, want);
			goto out;
		}
	}
	rc = progress_report(prog, 1.0, "loading weights", e);
out:
	free(files);
	cJSON_Delete(root);
	return rc;
}

int weights_open_dir(const char *dir, struct weights **out,
		     const struct progress *prog, struct err *e)
{
	static const char *const names[] = {
	    "model.safetensors",
	    "model.safetensors.index.json",
	    "pytorch_model.bin",
	    "pytorch_model.bin.index.json",
	};
	*out = NULL;
	char path[4096];
	int which = -1;
	for (int i = 0; i < 4 && which < 0; i++) {
		if (path_join(path, sizeof path, dir, names[i], e) < 0)
			return ERR_INVALID;
		if (path_exists(path))
			which = i;
	}
	if (which < 0) {
		if (!path_is_dir(dir))
			return err_set(e, ERR_NOTFOUND,
				       "'%s' is not a directory", dir);
		return err_set(e, ERR_NOTFOUND,
			       "no weights in '%s' (looked for "
			       "model.safetensors, model.safetensors.index."
			       "json, pytorch_model.bin, pytorch_model.bin."
			       "index.json)",
			       dir);
	}
	struct weights *w = weights_new();
	if (!w)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", dir);
	int rc;
	if (which == 0 || which == 2) {
		rc = progress_report(prog, 0.0, "loading weights", e);
		if (rc == 0)
			rc = add_file(w, path, NULL, e);
		if (rc == 0)
			rc = build_index(w, e);
		if (rc == 0)
			rc = progress_report(prog, 1.0, "loading weights", e);
		snprintf(w->format, sizeof w->format, "%s",
			 which == 0 ? "safetensors" : "pytorch");
	} else {
		rc = open_index(w, dir, path, prog, e);
		snprintf(w->format, sizeof w->format, "%s (sharded, %zu files)",
			 which == 1 ? "safetensors" : "pytorch", w->n_shards);
	}
	if (rc < 0) {
		weights_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

const struct tensor *weights_find(const struct weights *w, const char *name)
{
	if (!w || !name || !w->sorted)
		return NULL;
	struct tensor key = {.name = name};
	const struct tensor *kp = &key;
	const struct tensor **hit =
	    bsearch(&kp, w->sorted, w->n, sizeof *w->sorted, tensor_ptr_cmp);
	return hit ? *hit : NULL;
}

size_t weights_count(const struct weights *w)
{
	return w ? w->n : 0;
}

const struct tensor *weights_at(const struct weights *w, size_t i)
{
	return w && i < w->n ? &w->t[i] : NULL;
}

const char *weights_format(const struct weights *w)
{
	return w ? w->format : "";
}

uint64_t weights_file_bytes(const struct weights *w)
{
	return w ? w->file_bytes : 0;
}

int weights_check(const struct weights *w, const struct tensor *t,
		  struct err *e)
{
	if (!w || !t || t < w->t || t >= w->t + w->n)
		return 0;
	const struct shard *s = &w->shards[w->shard_of[t - w->t]];
	const unsigned char *p = t->data;
	/* The last storage starting at or before p. */
	size_t lo = 0, hi = s->n_zents;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->zents[mid].data <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return 0;
	size_t i = lo - 1;
	const struct zip_entry *z = &s->zents[i];
	if (p > z->data + z->size || s->zchecked[i])
		return 0;
	int rc = zip_check_entry(z, s->path, e);
	if (rc == 0)
		s->zchecked[i] = 1;
	return rc;
}

void weights_free(struct weights *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_shards; i++) {
		file_map_close(&w->shards[i].map);
		free(w->shards[i].path);
		free(w->shards[i].zents);
		free(w->shards[i].zchecked);
	}
	free(w->shards);
	for (size_t i = 0; i < w->n; i++)
		free((char *)w->t[i].name);
	free(w->t);
	free(w->shard_of);
	free(w->sorted);
	free(w);
}
