#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"

/* Upper bounds that keep every product below 2^63 and reject nonsense. */
#define MAX_DIM (1 << 20)
#define MAX_VOCAB (1 << 24)
#define MAX_LAYERS 4096

static int get_int(const cJSON *root, const char *key, int def, int *out,
		   const char *name, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
	if (!v || cJSON_IsNull(v)) {
		if (def == INT_MIN)
			return err_set(e, ERR_FORMAT,
				       "'%s': missing key \"%s\"", name, key);
		*out = def;
		return 0;
	}
	/* Range first: converting 1e300 (or inf, NaN) to an integer type is
	 * undefined behaviour, so only an in-range value is converted. */
	double d = cJSON_IsNumber(v) ? v->valuedouble : 0.5;
	if (!(d >= INT_MIN && d <= INT_MAX) || d != (double)(int)d)
		return err_set(e, ERR_FORMAT, "'%s': \"%s\" is not an integer",
			       name, key);
	*out = (int)d;
	return 0;
}

static int get_double(const cJSON *root, const char *key, double def,
		      double *out, const char *name, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
	if (!v || cJSON_IsNull(v)) {
		*out = def;
		return 0;
	}
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return err_set(e, ERR_FORMAT,
			       "'%s': \"%s\" is not a finite number", name,
			       key);
	*out = v->valuedouble;
	return 0;
}

/* bos/eos may be an int or a list of ints (newer configs); take the first.
 * -1 (common for pad_token_id in Hugging Face configs) means none, as an
 * absent key or null does. */
static int get_token_id(const cJSON *root, const char *key, int *out,
			const char *name, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
	*out = -1;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsArray(v))
		v = cJSON_GetArrayItem(v, 0);
	if (!v)
		return 0;
	double d = cJSON_IsNumber(v) ? v->valuedouble : 0.5;
	if (!(d >= -1 && d <= INT_MAX) || d != (double)(int)d)
		return err_set(e, ERR_FORMAT, "'%s': \"%s\" is not a token id",
			       name, key);
	*out = (int)d; /* -1: none */
	return 0;
}

static bool mentions_vulavula(const cJSON *auto_map)
{
	if (!auto_map)
		return false;
	if (cJSON_IsString(auto_map))
		return strstr(auto_map->valuestring, "vulavula") ||
		       strstr(auto_map->valuestring, "Vulavula");
	const cJSON *it;
	cJSON_ArrayForEach(it, auto_map) if (mentions_vulavula(it)) return true;
	return false;
}

int config_parse(const char *text, size_t len, const char *name,
		 struct config *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	cJSON *root = cJSON_ParseWithLength(text, len);
	if (!root)
		return err_set(e, ERR_FORMAT, "'%s': malformed JSON", name);
	int rc = ERR_FORMAT;
	if (!cJSON_IsObject(root)) {
		err_set(e, ERR_FORMAT, "'%s': not a JSON object", name);
		goto done;
	}
	struct config c = {0};
	if ((rc = get_int(root, "vocab_size", INT_MIN, &c.vocab_size, name, e)) ||
	    (rc = get_int(root, "hidden_size", INT_MIN, &c.hidden_size, name, e)) ||
	    (rc = get_int(root, "intermediate_size", INT_MIN,
			  &c.intermediate_size, name, e)) ||
	    (rc = get_int(root, "num_hidden_layers", INT_MIN, &c.n_layers,
			  name, e)) ||
	    (rc = get_int(root, "num_attention_heads", INT_MIN, &c.n_heads,
			  name, e)) ||
	    (rc = get_int(root, "num_key_value_heads", c.n_heads,
			  &c.n_kv_heads, name, e)) ||
	    (rc = get_int(root, "max_position_embeddings", 2048,
			  &c.max_position_embeddings, name, e)) ||
	    (rc = get_double(root, "rope_theta", 10000.0, &c.rope_theta, name,
			     e)) ||
	    (rc = get_double(root, "rms_norm_eps", 1e-6, &c.rms_norm_eps,
			     name, e)) ||
	    (rc = get_token_id(root, "bos_token_id", &c.bos_token_id, name, e)) ||
	    (rc = get_token_id(root, "eos_token_id", &c.eos_token_id, name, e)) ||
	    (rc = get_token_id(root, "pad_token_id", &c.pad_token_id, name, e)))
		goto done;
	if (c.n_heads <= 0) {
		rc = err_set(e, ERR_FORMAT,
			     "'%s': \"num_attention_heads\" must be positive", name);
		goto done;
	}
	if ((rc = get_int(root, "head_dim",
			  c.hidden_size > 0 ? c.hidden_size / c.n_heads : 0,
			  &c.head_dim, name, e)))
		goto done;
	const cJSON *tie = cJSON_GetObjectItemCaseSensitive(root,
							     "tie_word_embeddings");
	if (tie && !cJSON_IsBool(tie) && !cJSON_IsNull(tie)) {
		rc = err_set(e, ERR_FORMAT,
			     "'%s': \"tie_word_embeddings\" is not a boolean", name);
		goto done;
	}
	/* transformers' LlamaConfig defaults tie_word_embeddings to false. */
	c.tie_word_embeddings = tie && cJSON_IsTrue(tie);
	c.shared_mlp = mentions_vulavula(
		cJSON_GetObjectItemCaseSensitive(root, "auto_map"));
	const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
	snprintf(c.model_type, sizeof c.model_type, "%s",
		 cJSON_IsString(mt) ? mt->valuestring : "llama");
	if ((rc = config_validate(&c, name, e)))
		goto done;
	c.json_text = malloc(len + 1);
	if (!c.json_text) {
		rc = err_set(e, ERR_NOMEM, "'%s': out of memory", name);
		goto done;
	}
	memcpy(c.json_text, text, len);
	c.json_text[len] = '\0';
	*out = c;
	rc = 0;
done:
	cJSON_Delete(root);
	return rc;
}

int config_validate(const struct config *c, const char *name, struct err *e)
{
	struct {
		const char *key;
		int v, max;
	} sizes[] = {
		{"vocab_size", c->vocab_size, MAX_VOCAB},
		{"hidden_size", c->hidden_size, MAX_DIM},
		{"intermediate_size", c->intermediate_size, MAX_DIM},
		{"num_hidden_layers", c->n_layers, MAX_LAYERS},
		{"num_attention_heads", c->n_heads, MAX_DIM},
		{"num_key_value_heads", c->n_kv_heads, MAX_DIM},
		{"head_dim", c->head_dim, MAX_DIM},
		{"max_position_embeddings", c->max_position_embeddings, 1 << 24},
	};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		if (sizes[i].v <= 0 || sizes[i].v > sizes[i].max)
			return err_set(e, ERR_FORMAT,
				       "'%s': \"%s\" = %d is out of range (1..%d)",
				       name, sizes[i].key, sizes[i].v,
				       sizes[i].max);
	if (c->n_heads % c->n_kv_heads)
		return err_set(e, ERR_FORMAT,
			       "'%s': %d key/value heads do not divide %d heads",
			       name, c->n_kv_heads, c->n_heads);
	if (c->head_dim % 2)
		return err_set(e, ERR_FORMAT,
			       "'%s': head_dim %d is odd (RoPE rotates pairs)",
			       name, c->head_dim);
	if (!(c->rope_theta > 0))
		return err_set(e, ERR_FORMAT, "'%s': \"rope_theta\" must be positive",
			       name);
	if (!(c->rms_norm_eps > 0) || c->rms_norm_eps > 1)
		return err_set(e, ERR_FORMAT,
			       "'%s': \"rms_norm_eps\" must be in (0, 1]", name);
	for (int i = 0; i < 3; i++) {
		int id = i == 0 ? c->bos_token_id
			 : i == 1 ? c->eos_token_id : c->pad_token_id;
		if (id >= c->vocab_size)
			return err_set(e, ERR_FORMAT,
				       "'%s': token id %d is outside the vocabulary (%d)",
				       name, id, c->vocab_size);
	}
	return 0;
}

int config_load(const char *path, struct config *out, struct err *e)
{
	char file[4096];
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(file, sizeof file, "%s/config.json", path);
	else
		snprintf(file, sizeof file, "%s", path);
	char *text;
	size_t len;
	int rc = file_read_all(file, 16u << 20, &text, &len, e);
	if (rc)
		return rc;
	rc = config_parse(text, len, file, out, e);
	free(text);
	return rc;
}

void config_params(const struct config *c, struct param_breakdown *p)
{
	uint64_t V = (uint64_t)c->vocab_size, d = (uint64_t)c->hidden_size;
	uint64_t f = (uint64_t)c->intermediate_size, L = (uint64_t)c->n_layers;
	uint64_t q = (uint64_t)c->n_heads * (uint64_t)c->head_dim;
	uint64_t kv = (uint64_t)c->n_kv_heads * (uint64_t)c->head_dim;
	memset(p, 0, sizeof *p);
	p->embed = V * d;
	p->lm_head = c->tie_word_embeddings ? 0 : V * d;
	p->attn_q = L * d * q;
	p->attn_k = L * d * kv;
	p->attn_v = L * d * kv;
	p->attn_o = L * q * d;
	p->attn = p->attn_q + p->attn_k + p->attn_v + p->attn_o;
	p->mlp = 3 * d * f * (c->shared_mlp ? 1 : L);
	p->norms = L * 2 * d + d;
	p->total = p->embed + p->lm_head + p->attn + p->mlp + p->norms;
}

uint64_t config_param_count(const struct config *c)
{
	struct param_breakdown p;
	config_params(c, &p);
	return p.total;
}

int config_copy(struct config *dst, const struct config *src, struct err *e)
{
	*dst = *src;
	dst->json_text = NULL;
	if (src->json_text && !(dst->json_text = strdup(src->json_text)))
		return err_set(e, ERR_NOMEM, "config: out of memory");
	return 0;
}

void config_inkubalm(struct config *c)
{
	memset(c, 0, sizeof *c);
	c->vocab_size = 61788;
	c->hidden_size = 2048;
	c->intermediate_size = 5632;
	c->n_layers = 8;
	c->n_heads = 32;
	c->n_kv_heads = 32;
	c->head_dim = 64;
	c->max_position_embeddings = 2048;
	c->rope_theta = 10000.0;
	c->rms_norm_eps = 1e-5;
	c->tie_word_embeddings = false;
	c->shared_mlp = true;
	c->bos_token_id = 1;
	c->eos_token_id = 2;
	c->pad_token_id = -1;
	snprintf(c->model_type, sizeof c->model_type, "llama");
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->json_text);
	c->json_text = NULL;
}

bool config_same_geometry(const struct config *a, const struct config *b)
{
	return a->vocab_size == b->vocab_size &&
	       a->hidden_size == b->hidden_size &&
	       a->intermediate_size == b->intermediate_size &&
	       a->n_layers == b->n_layers && a->n_heads == b->n_heads &&
	       a->n_kv_heads == b->n_kv_heads && a->head_dim == b->head_dim &&
	       a->tie_word_embeddings == b->tie_word_embeddings &&
	       a->shared_mlp == b->shared_mlp;
}
