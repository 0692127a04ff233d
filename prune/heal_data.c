#include "heal_data.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "fileio.h"
#include "forward.h"
#include "tokenizer.h"

#define CORPUS_MAX_BYTES ((size_t)1 << 31)
#define MAP_MAX_BYTES ((size_t)64 << 20)

static uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t heal_hash(uint64_t seed, uint64_t a, uint64_t b)
{
	return mix64(mix64(mix64(seed) ^ a) ^ b);
}

/* A uniform double in [0, 1) from the generator state (splitmix64). */
static double next_unit(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	uint64_t z = *s;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

int heal_file_checksum(const char *path, char *buf, size_t cap,
		       uint64_t *bytes, struct err *e)
{
	struct file_map fm;
	int rc = file_map_open(path, &fm, e);
	if (rc)
		return rc;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (uint64_t i = 0; i < fm.size; i++) {
		h ^= fm.data[i];
		h *= 0x100000001b3ULL;
	}
	*bytes = fm.size;
	file_map_close(&fm);
	snprintf(buf, cap, "fnv1a64:%016llx", (unsigned long long)h);
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s && s[1] ? s + 1 : path;
}

int heal_data_corpus(const struct tokenizer *t, const char *const *paths,
		     int n, bool whole_text, int ctx, uint64_t seed,
		     struct heal_data **out, const struct progress *prog,
		     struct err *e)
{
	*out = NULL;
	if (n < 1 || n > RECIPE_HEAL_MAX_DATA)
		return err_set(e, ERR_INVALID,
			       "heal: %d corpus files (1 to %d allowed)", n,
			       RECIPE_HEAL_MAX_DATA);
	if (ctx < 2)
		return err_set(e, ERR_INVALID, "heal: context %d is below 2",
			       ctx);
	struct heal_data *d = calloc(1, sizeof *d);
	if (!d)
		return err_set(e, ERR_NOMEM, "heal: out of memory");
	d->ctx = ctx;
	d->seed = seed;
	d->perm_epoch = UINT64_MAX;
	int rc = 0;
	for (int i = 0; i < n && !rc; i++) {
		char *text = NULL;
		size_t len = 0, k = 0;
		int *v = NULL;
		struct recipe_heal_data *f = &d->files[i];
		snprintf(f->name, sizeof f->name, "%s", base_name(paths[i]));
		if ((rc = progress_report(prog, (double)i / n, "reading corpus",
					  e)) ||
		    (rc = file_read_all(paths[i], CORPUS_MAX_BYTES, &text,
					&len, e)))
			break;
		/* the checksum of the bytes read, not of a second read */
		uint64_t h = 0xcbf29ce484222325ULL;
		for (size_t j = 0; j < len; j++) {
			h ^= (unsigned char)text[j];
			h *= 0x100000001b3ULL;
		}
		snprintf(f->checksum, sizeof f->checksum, "fnv1a64:%016llx",
			 (unsigned long long)h);
		f->bytes = len;
		d->bytes += len;
		rc = whole_text ? tok_encode(t, text, len, true, &v, &k, e)
				: eval_encode_lines(t, text, len, &v, &k, e);
		free(text);
		if (rc) {
			err_wrap(e, "'%s'", paths[i]);
			break;
		}
		if (k > SIZE_MAX / sizeof(int) - d->n) {
			free(v);
			rc = err_set(e, ERR_NOMEM, "heal: corpus too large");
			break;
		}
		int *na = realloc(d->ids, (d->n + k + 1) * sizeof *na);
		if (!na) {
			free(v);
			rc = err_set(e, ERR_NOMEM, "heal: out of memory");
			break;
		}
		d->ids = na;
		if (k)
			memcpy(d->ids + d->n, v, k * sizeof *v);
		d->n += k;
		d->n_files++;
		free(v);
	}
	if (!rc && d->n < (size_t)ctx)
		rc = err_set(e, ERR_INVALID,
			     "heal: the corpus has %zu tokens, fewer than one "
			     "sequence of %d",
			     d->n, ctx);
	if (!rc) {
		size_t T = (size_t)ctx;
		d->n_chunks = d->n >= 2 * T - 1 ? (d->n - T + 1) / T : d->n / T;
		d->perm = malloc(d->n_chunks * sizeof *d->perm);
		if (!d->perm)
			rc = err_set(e, ERR_NOMEM, "heal: out of memory");
	}
	if (rc) {
		heal_data_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

int heal_data_free_new(const struct model *teacher_view, int bos, int pool,
		       int ctx, uint64_t seed, struct heal_data **out,
		       struct err *e)
{
	*out = NULL;
	int V = teacher_view->cfg.vocab_size;
	if (bos < 0 || bos >= V)
		return err_set(e, ERR_INVALID,
			       "heal: data-free sampling needs a BOS token "
			       "(the tokenizer has none)");
	if (pool < 1 || ctx < 2)
		return err_set(e, ERR_INVALID,
			       "heal: pool %d and context %d: need pool >= 1 "
			       "and context >= 2",
			       pool, ctx);
	if ((size_t)pool > SIZE_MAX / sizeof(int) / (size_t)ctx)
		return err_set(e, ERR_NOMEM, "heal: pool too large");
	struct heal_data *d = calloc(1, sizeof *d);
	if (!d)
		return err_set(e, ERR_NOMEM, "heal: out of memory");
	d->teacher = teacher_view;
	d->pool = pool;
	d->ctx = ctx;
	d->seed = seed;
	d->bos = bos;
	d->perm_epoch = UINT64_MAX;
	d->pool_ids = malloc((size_t)pool * (size_t)ctx * sizeof(int));
	d->made = calloc((size_t)pool, 1);
	d->probs = malloc((size_t)V * sizeof(float));
	int rc = 0;
	if (!d->pool_ids || !d->made || !d->probs)
		rc = err_set(e, ERR_NOMEM, "heal: out of memory");
	if (!rc)
		rc = fwd_new(teacher_view, ctx, 0, &d->fwd, e);
	if (rc) {
		heal_data_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void heal_data_free(struct heal_data *d)
{
	if (!d)
		return;
	free(d->ids);
	free(d->pool_ids);
	free(d->made);
	free(d->probs);
	free(d->perm);
	fwd_free(d->fwd);
	free(d);
}

int heal_data_sample(struct heal_data *d, uint64_t k, int *out, struct err *e)
{
	if (!d->fwd)
		return err_set(e, ERR_INVALID, "heal: not data-free data");
	int V = d->teacher->cfg.vocab_size, rc;
	uint64_t s = heal_hash(d->seed, 0x5a4d504c45ULL, k); /* "SAMPLE" */
	fwd_reset(d->fwd);
	out[0] = d->bos;
	for (int i = 1; i < d->ctx; i++) {
		if ((rc = fwd_run(d->fwd, out + i - 1, 1, NULL, e)))
			return rc;
		/* temperature 1: softmax in double, one uniform draw */
		const float *l = d->fwd->logits;
		float mx = l[0];
		for (int v = 1; v < V; v++)
			if (l[v] > mx)
				mx = l[v];
		double z = 0;
		for (int v = 0; v < V; v++)
			z += (d->probs[v] = (float)exp((double)l[v] - mx));
		double u = next_unit(&s) * z, c = 0;
		int pick = V - 1;
		for (int v = 0; v < V; v++) {
			c += d->probs[v];
			if (u < c) {
				pick = v;
				break;
			}
		}
		out[i] = pick;
	}
	return 0;
}

/* Epoch k's chunk order: a Fisher-Yates shuffle seeded by (seed, k). */
static void make_perm(struct heal_data *d, uint64_t epoch)
{
	size_t n = d->n_chunks;
	uint64_t s = heal_hash(d->seed, 0x5045524dULL, epoch); /* "PERM" */
	for (size_t i = 0; i < n; i++)
		d->perm[i] = (int)i;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(next_unit(&s) * (double)i);
		if (j >= i)
			j = i - 1;
		int t = d->perm[i - 1];
		d->perm[i - 1] = d->perm[j];
		d->perm[j] = t;
	}
	d->perm_epoch = epoch;
}

int heal_data_batch(struct heal_data *d, uint64_t step, int B, int *tokens,
		    const struct progress *prog, struct err *e)
{
	size_t T = (size_t)d->ctx;
	int rc;
	for (int i = 0; i < B; i++) {
		int *row = tokens + (size_t)i * T;
		if (d->ids) {
			uint64_t r = step * (uint64_t)B + (uint64_t)i;
			uint64_t epoch = r / d->n_chunks;
			size_t pos = (size_t)(r % d->n_chunks);
			if (epoch != d->perm_epoch)
				make_perm(d, epoch);
			size_t off = 0;
			if (d->n >= 2 * T - 1)
				off = (size_t)(heal_hash(d->seed, 0x4f4646ULL,
							 epoch) %
					       T);
			size_t at = off + (size_t)d->perm[pos] * T;
			memcpy(row, d->ids + at, T * sizeof *row);
			continue;
		}
		uint64_t k = heal_hash(d->seed, step, (uint64_t)i) %
			     (uint64_t)d->pool;
		int *entry = d->pool_ids + (size_t)k * T;
		if (!d->made[k]) {
			if ((rc = progress_report(prog, (double)i / B,
						  "sampling from the teacher",
						  e)) ||
			    (rc = heal_data_sample(d, k, entry, e)))
				return rc;
			d->made[k] = 1;
		}
		memcpy(row, entry, T * sizeof *row);
	}
	return 0;
}

int heal_vocab_map_load(const char *dir, int **keep, int *n_new, int *n_old,
			struct err *e)
{
	*keep = NULL;
	char path[4096], *text = NULL;
	size_t len;
	int rc = path_join(path, sizeof path, dir, "vocab_map.json", e);
	if (rc)
		return rc;
	if (!path_exists(path))
		return err_set(e, ERR_NOTFOUND, "'%s': no such file", path);
	if ((rc = file_read_all(path, MAP_MAX_BYTES, &text, &len, e)))
		return rc;
	cJSON *root = cJSON_ParseWithLength(text, len);
	free(text);
	const cJSON *jo = cJSON_GetObjectItemCaseSensitive(root, "n_old");
	const cJSON *jk = cJSON_GetObjectItemCaseSensitive(root, "keep");
	if (!root || !cJSON_IsNumber(jo) || !cJSON_IsArray(jk) ||
	    jo->valuedouble < 1 || jo->valuedouble > (1 << 30) ||
	    jo->valuedouble != floor(jo->valuedouble)) {
		cJSON_Delete(root);
		return err_set(e, ERR_FORMAT,
			       "'%s': expected {\"n_old\": V, \"keep\": [ids]}",
			       path);
	}
	int V = (int)jo->valuedouble, n = cJSON_GetArraySize(jk), i = 0;
	int *k = malloc(((size_t)n + 1) * sizeof *k);
	unsigned char *seen = calloc((size_t)V, 1);
	rc = !k || !seen ? err_set(e, ERR_NOMEM, "heal: out of memory") : 0;
	const cJSON *x;
	cJSON_ArrayForEach(x, jk)
	{
		if (rc)
			break;
		double v = cJSON_IsNumber(x) ? x->valuedouble : -1;
		if (v < 0 || v >= V || v != floor(v) || seen[(int)v])
			rc = err_set(e, ERR_FORMAT,
				     "'%s': \"keep\"[%d] is not a distinct id "
				     "below %d",
				     path, i, V);
		else {
			seen[(int)v] = 1;
			k[i++] = (int)v;
		}
	}
	if (!rc && n < 1)
		rc = err_set(e, ERR_FORMAT, "'%s': \"keep\" is empty", path);
	cJSON_Delete(root);
	free(seen);
	if (rc) {
		free(k);
		return rc;
	}
	*keep = k;
	*n_new = n;
	*n_old = V;
	return 0;
}

/* The new id of old id `old` in keep, or -1. */
static int new_id(const int *keep, int n, int old)
{
	for (int i = 0; i < n; i++)
		if (keep[i] == old)
			return i;
	return -1;
}

int heal_teacher_view(const struct model *t, const int *keep, int n_keep,
		      struct model **out, struct err *e)
{
	*out = NULL;
	const struct config *tc = &t->cfg;
	int V = keep ? n_keep : tc->vocab_size;
	if (keep) {
		if (n_keep < 1)
			return err_set(e, ERR_INVALID,
				       "heal: an empty vocabulary map");
		for (int i = 0; i < n_keep; i++)
			if (keep[i] < 0 || keep[i] >= tc->vocab_size)
				return err_set(e, ERR_INVALID,
					       "heal: vocabulary map id %d (at "
					       "%d) is outside the teacher's "
					       "vocabulary (%d)",
					       keep[i], i, tc->vocab_size);
	}
	struct config c;
	int rc = config_copy(&c, tc, e);
	if (rc)
		return rc;
	c.vocab_size = V;
	if (keep) {
		c.bos_token_id = c.bos_token_id >= 0
				     ? new_id(keep, n_keep, c.bos_token_id)
				     : -1;
		c.eos_token_id = c.eos_token_id >= 0
				     ? new_id(keep, n_keep, c.eos_token_id)
				     : -1;
		c.pad_token_id = c.pad_token_id >= 0
				     ? new_id(keep, n_keep, c.pad_token_id)
				     : -1;
	}
	struct model *m = NULL;
	rc = model_new_empty(&c, &m, e);
	config_free(&c);
	if (rc)
		return rc;
	for (int l = 0; l < tc->n_layers; l++)
		m->layers[l] = t->layers[l];
	m->norm = t->norm;
	m->tied = t->tied;
	uint64_t d = (uint64_t)tc->hidden_size;
	if (!keep) {
		m->embed = t->embed;
		m->lm_head = t->lm_head;
	} else {
		if ((rc = model_alloc_tensor(m, (uint64_t)V * d, &m->embed,
					     e)))
			goto fail;
		if (t->tied)
			m->lm_head = m->embed;
		else if ((rc = model_alloc_tensor(m, (uint64_t)V * d,
						  &m->lm_head, e)))
			goto fail;
		for (int i = 0; i < V; i++) {
			memcpy(m->embed + (size_t)i * d,
			       t->embed + (size_t)keep[i] * d, d * sizeof(float));
			if (!t->tied)
				memcpy(m->lm_head + (size_t)i * d,
				       t->lm_head + (size_t)keep[i] * d,
				       d * sizeof(float));
		}
	}
	if ((rc = model_check(m, e)))
		goto fail;
	*out = m;
	return 0;
fail:
	model_free(m);
	return rc;
}
