#include "recipe.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

#define MAX_SAFE_INT 9007199254740992.0 /* 2^53 */
#define RECIPE_MAX_BYTES ((size_t)64 << 20)

void recipe_init(struct recipe *r)
{
	memset(r, 0, sizeof *r);
	prune_plan_init(&r->plan);
}

void recipe_free(struct recipe *r)
{
	if (!r)
		return;
	prune_plan_free(&r->plan);
	recipe_init(r);
}

void recipe_set_counts(struct recipe *r, const struct config *c)
{
	r->have_counts = true;
	r->counts.vocab_size = c->vocab_size;
	r->counts.hidden_size = c->hidden_size;
	r->counts.intermediate_size = c->intermediate_size;
	r->counts.n_heads = c->n_heads;
	r->counts.n_kv_heads = c->n_kv_heads;
	r->counts.head_dim = c->head_dim;
	r->counts.n_layers = c->n_layers;
	r->counts.tied = c->tie_word_embeddings;
	r->counts.params = config_param_count(c);
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */

static int add_ints(cJSON *obj, const char *key, const int *v, int n)
{
	cJSON *a = cJSON_AddArrayToObject(obj, key);
	if (!a)
		return -1;
	for (int i = 0; i < n; i++) {
		cJSON *x = cJSON_CreateNumber(v[i]);
		if (!x || !cJSON_AddItemToArray(a, x)) {
			cJSON_Delete(x);
			return -1;
		}
	}
	return 0;
}

static int add_u64(cJSON *obj, const char *key, uint64_t v)
{
	if ((double)v <= MAX_SAFE_INT)
		return cJSON_AddNumberToObject(obj, key, (double)v) ? 0 : -1;
	char buf[32];
	snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
	return cJSON_AddStringToObject(obj, key, buf) ? 0 : -1;
}

static int build_heal(const struct recipe_heal *h, cJSON *root)
{
	cJSON *o = cJSON_AddObjectToObject(root, "heal"), *a;
	if (!o)
		return -1;
	int bad = add_u64(o, "steps", h->steps) != 0;
	bad |= !cJSON_AddNumberToObject(o, "batch", h->batch);
	bad |= !cJSON_AddNumberToObject(o, "ctx", h->ctx);
	bad |= !cJSON_AddNumberToObject(o, "lr", h->lr);
	bad |= !cJSON_AddNumberToObject(o, "warmup", h->warmup);
	bad |= !cJSON_AddNumberToObject(o, "min_lr_ratio", h->min_lr_ratio);
	bad |= !cJSON_AddNumberToObject(o, "beta1", h->beta1);
	bad |= !cJSON_AddNumberToObject(o, "beta2", h->beta2);
	bad |= !cJSON_AddNumberToObject(o, "eps", h->eps);
	bad |= !cJSON_AddNumberToObject(o, "weight_decay", h->weight_decay);
	bad |= !cJSON_AddNumberToObject(o, "clip", h->clip);
	bad |= !cJSON_AddNumberToObject(o, "temperature", h->temperature);
	bad |= !cJSON_AddNumberToObject(o, "kd_weight", h->kd_weight);
	bad |= add_u64(o, "seed", h->seed) != 0;
	bad |= !cJSON_AddBoolToObject(o, "whole_text", h->whole_text);
	bad |= !cJSON_AddNumberToObject(o, "pool", h->pool);
	bad |= !cJSON_AddNumberToObject(o, "threads", h->threads);
	bad |= !(a = cJSON_AddArrayToObject(o, "data"));
	for (int i = 0; !bad && i < h->n_data && i < RECIPE_HEAL_MAX_DATA;
	     i++) {
		cJSON *d = cJSON_CreateObject();
		if (!d || !cJSON_AddItemToArray(a, d)) {
			cJSON_Delete(d);
			return -1;
		}
		bad |= !cJSON_AddStringToObject(d, "name", h->data[i].name);
		bad |= add_u64(d, "bytes", h->data[i].bytes) != 0;
		bad |= !cJSON_AddStringToObject(d, "checksum",
						h->data[i].checksum);
	}
	return bad ? -1 : 0;
}

static int build(const struct recipe *r, cJSON *root)
{
	const struct prune_plan *p = &r->plan;
	cJSON *v, *w, *l, *s, *c;
	int bad = 0;
	bad |= !cJSON_AddStringToObject(root, "format", "punguza-recipe");
	bad |= !cJSON_AddNumberToObject(root, "version", RECIPE_VERSION);

	bad |= !(v = cJSON_AddObjectToObject(root, "vocab"));
	if (bad)
		return -1;
	bad |= !cJSON_AddStringToObject(v, "mode",
					plan_vocab_mode_name(p->vocab_mode));
	bad |= !cJSON_AddNumberToObject(v, "keep", p->vocab_keep);
	bad |= !cJSON_AddNumberToObject(v, "min_count", p->vocab_min_count);
	bad |= !cJSON_AddBoolToObject(v, "merge_closure", p->merge_closure);
	if (p->vocab_mode == PLAN_VOCAB_LIST)
		bad |= add_ints(v, "ids", p->vocab_ids, p->n_vocab_ids) != 0;

	bad |= !(w = cJSON_AddObjectToObject(root, "width"));
	if (bad)
		return -1;
	bad |= !cJSON_AddNumberToObject(w, "factor", p->width_factor);
	bad |= !cJSON_AddNumberToObject(w, "hidden", p->hidden);
	bad |= !cJSON_AddNumberToObject(w, "intermediate", p->intermediate);
	bad |= !cJSON_AddStringToObject(w, "head_mode",
					plan_head_mode_name(p->head_mode));
	bad |=
	    !cJSON_AddStringToObject(w, "select", plan_select_name(p->select));

	bad |= !(l = cJSON_AddObjectToObject(root, "layers"));
	if (bad)
		return -1;
	bad |= !cJSON_AddStringToObject(l, "mode",
					plan_layer_mode_name(p->layer_mode));
	bad |= !cJSON_AddNumberToObject(l, "n", p->n_layers);
	if (p->layer_mode == PLAN_LAYERS_LIST)
		bad |= add_ints(l, "list", p->layer_list, p->n_layer_list) != 0;

	bad |= !cJSON_AddStringToObject(root, "tie", plan_tie_name(p->tie));
	bad |= !cJSON_AddStringToObject(root, "dtype",
					dtype_name(p->export_dtype));
	bad |= add_u64(root, "seed", p->seed) != 0;

	bad |= !(s = cJSON_AddObjectToObject(root, "source"));
	if (bad)
		return -1;
	bad |= !cJSON_AddStringToObject(s, "name", r->source_name);
	bad |= !cJSON_AddStringToObject(s, "checksum", r->source_checksum);

	if (r->have_counts) {
		const struct recipe_counts *k = &r->counts;
		bad |= !(c = cJSON_AddObjectToObject(root, "counts"));
		if (bad)
			return -1;
		bad |= !cJSON_AddNumberToObject(c, "vocab_size", k->vocab_size);
		bad |=
		    !cJSON_AddNumberToObject(c, "hidden_size", k->hidden_size);
		bad |= !cJSON_AddNumberToObject(c, "intermediate_size",
						k->intermediate_size);
		bad |= !cJSON_AddNumberToObject(c, "num_attention_heads",
						k->n_heads);
		bad |= !cJSON_AddNumberToObject(c, "num_key_value_heads",
						k->n_kv_heads);
		bad |= !cJSON_AddNumberToObject(c, "head_dim", k->head_dim);
		bad |= !cJSON_AddNumberToObject(c, "num_hidden_layers",
						k->n_layers);
		bad |= !cJSON_AddBoolToObject(c, "tied", k->tied);
		bad |= add_u64(c, "params", k->params) != 0;
	}
	if (r->have_heal && !bad)
		bad |= build_heal(&r->heal, root) != 0;
	return bad ? -1 : 0;
}

int recipe_to_json(const struct recipe *r, char **out, struct err *e)
{
	*out = NULL;
	cJSON *root = cJSON_CreateObject();
	if (!root || build(r, root)) {
		cJSON_Delete(root);
		return err_set(e, ERR_NOMEM, "recipe: out of memory");
	}
	char *text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return err_set(e, ERR_NOMEM, "recipe: out of memory");
	/* cJSON allocates with malloc by default; copy with a newline so the
	 * caller frees with free() whatever hooks are installed */
	size_t n = strlen(text);
	*out = malloc(n + 2);
	if (!*out) {
		cJSON_free(text);
		return err_set(e, ERR_NOMEM, "recipe: out of memory");
	}
	memcpy(*out, text, n);
	(*out)[n] = '\n';
	(*out)[n + 1] = '\0';
	cJSON_free(text);
	return 0;
}

int recipe_save(const struct recipe *r, const char *path, struct err *e)
{
	char *text;
	int rc = recipe_to_json(r, &text, e);
	if (rc)
		return rc;
	rc = file_write_atomic(path, text, strlen(text), e);
	free(text);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */

struct ctx {
	const char *name;
	struct err *e;
};

static const cJSON *item(const cJSON *obj, const char *key)
{
	const cJSON *v =
	    obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
	return v && !cJSON_IsNull(v) ? v : NULL;
}

/* An integer in [lo, hi] at sec.key; absent keeps *out. */
static int get_int(struct ctx *c, const cJSON *obj, const char *sec,
		   const char *key, long lo, long hi, int *out)
{
	const cJSON *v = item(obj, key);
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
		return err_set(c->e, ERR_FORMAT,
			       "'%s': \"%s%s%s\" must be an integer", c->name,
			       sec, *sec ? "." : "", key);
	if (v->valuedouble < (double)lo || v->valuedouble > (double)hi)
		return err_set(c->e, ERR_FORMAT,
			       "'%s': \"%s%s%s\" = %.17g is outside %ld..%ld",
			       c->name, sec, *sec ? "." : "", key,
			       v->valuedouble, lo, hi);
	*out = (int)v->valuedouble;
	return 0;
}

static int get_bool(struct ctx *c, const cJSON *obj, const char *sec,
		    const char *key, bool *out)
{
	const cJSON *v = item(obj, key);
	if (!v)
		return 0;
	if (!cJSON_IsBool(v))
		return err_set(c->e, ERR_FORMAT,
			       "'%s': \"%s.%s\" must be true or false", c->name,
			       sec, key);
	*out = cJSON_IsTrue(v);
	return 0;
}

static int get_str(struct ctx *c, const cJSON *obj, const char *sec,
		   const char *key, const char **out)
{
	const cJSON *v = item(obj, key);
	if (!v)
		return 0;
	if (!cJSON_IsString(v))
		return err_set(c->e, ERR_FORMAT,
			       "'%s': \"%s%s%s\" must be a "
			       "string",
			       c->name, sec, *sec ? "." : "", key);
	*out = v->valuestring;
	return 0;
}

/* A string naming an enum value via parse(); absent keeps *out. */
static int get_enum(struct ctx *c, const cJSON *obj, const char *sec,
		    const char *key, int (*parse)(const char *),
		    const char *choices, int *out)
{
	const char *s = NULL;
	int rc = get_str(c, obj, sec, key, &s);
	if (rc || !s)
		return rc;
	int v = parse(s);
	if (v < 0)
		return err_set(c->e, ERR_FORMAT,
			       "'%s': \"%s%s%s\" = \"%s\" is not one of %s",
			       c->name, sec, *sec ? "." : "", key, s, choices);
	*out = v;
	return 0;
}

static int get_u64(struct ctx *c, const cJSON *obj, const char *sec,
		   const char *key, uint64_t *out)
{
	const cJSON *v = item(obj, key);
	if (!v)
		return 0;
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble != floor(v->valuedouble) ||
		    v->valuedouble < 0 || v->valuedouble > MAX_SAFE_INT)
			return err_set(c->e, ERR_FORMAT,
				       "'%s': \"%s%s%s\" must be an integer in "
				       "0..2^53 (larger ones as a string)",
				       c->name, sec, *sec ? "." : "", key);
		*out = (uint64_t)v->valuedouble;
		return 0;
	}
	if (cJSON_IsString(v)) {
		const char *s = v->valuestring;
		uint64_t x = 0;
		int ok = *s != '\0';
		for (; ok && *s; s++) {
			if (*s < '0' || *s > '9' ||
			    x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
				ok = 0;
			else
				x = x * 10 + (uint64_t)(*s - '0');
		}
		if (ok) {
			*out = x;
			return 0;
		}
	}
	return err_set(c->e, ERR_FORMAT,
		       "'%s': \"%s%s%s\" must be an unsigned 64-bit integer",
		       c->name, sec, *sec ? "." : "", key);
}

static int get_ints(struct ctx *c, const cJSON *obj, const char *sec,
		    const char *key, int **out, int *n)
{
	const cJSON *a = item(obj, key);
	if (!a)
		return 0;
	if (!cJSON_IsArray(a))
		return err_set(c->e, ERR_FORMAT,
			       "'%s': \"%s.%s\" must be an "
			       "array of integers",
			       c->name, sec, key);
	int len = cJSON_GetArraySize(a);
	int *v = malloc(((size_t)len + 1) * sizeof *v);
	if (!v)
		return err_set(c->e, ERR_NOMEM, "'%s': out of memory", c->name);
	int i = 0;
	const cJSON *x;
	cJSON_ArrayForEach(x, a)
	{
		if (!cJSON_IsNumber(x) ||
		    x->valuedouble != floor(x->valuedouble) ||
		    x->valuedouble < 0 || x->valuedouble > INT_MAX) {
			free(v);
			return err_set(c->e, ERR_FORMAT,
				       "'%s': \"%s.%s\"[%d] must be a "
				       "non-negative integer",
				       c->name, sec, key, i);
		}
		v[i++] = (int)x->valuedouble;
	}
	free(*out);
	*out = v;
	*n = i;
	return 0;
}

/* A finite number in [lo, hi] at sec.key; absent keeps *out. */
static int get_double(struct ctx *c, const cJSON *obj, const char *sec,
		      const char *key, double lo, double hi, double *out)
{
	const cJSON *v = item(obj, key);
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return err_set(c->e, ERR_FORMAT,
			       "'%s': \"%s.%s\" must be a number", c->name,
			       sec, key);
	if (v->valuedouble < lo || v->valuedouble > hi)
		return err_set(c->e, ERR_FORMAT,
			       "'%s': \"%s.%s\" = %.17g is outside %g..%g",
			       c->name, sec, key, v->valuedouble, lo, hi);
	*out = v->valuedouble;
	return 0;
}

/* A bounded string at sec.key copied into buf (cap bytes). */
static int get_strbuf(struct ctx *c, const cJSON *obj, const char *sec,
		      const char *key, char *buf, size_t cap)
{
	const char *str = NULL;
	int rc = get_str(c, obj, sec, key, &str);
	if (rc || !str)
		return rc;
	if (strlen(str) >= cap)
		return err_set(c->e, ERR_FORMAT,
			       "'%s': \"%s.%s\" is longer than %zu characters",
			       c->name, sec, key, cap - 1);
	snprintf(buf, cap, "%s", str);
	return 0;
}

static int parse_heal(struct ctx *c, const cJSON *o, struct recipe_heal *h)
{
	static const char sec[] = "heal";
	int rc;
	if ((rc = get_u64(c, o, sec, "steps", &h->steps)) ||
	    (rc = get_int(c, o, sec, "batch", 1, 1 << 16, &h->batch)) ||
	    (rc = get_int(c, o, sec, "ctx", 2, 1 << 20, &h->ctx)) ||
	    (rc = get_int(c, o, sec, "warmup", 0, INT_MAX, &h->warmup)) ||
	    (rc = get_double(c, o, sec, "lr", 0, 1e3, &h->lr)) ||
	    (rc = get_double(c, o, sec, "min_lr_ratio", 0, 1,
			     &h->min_lr_ratio)) ||
	    (rc = get_double(c, o, sec, "beta1", 0, 1, &h->beta1)) ||
	    (rc = get_double(c, o, sec, "beta2", 0, 1, &h->beta2)) ||
	    (rc = get_double(c, o, sec, "eps", 0, 1, &h->eps)) ||
	    (rc = get_double(c, o, sec, "weight_decay", 0, 1e3,
			     &h->weight_decay)) ||
	    (rc = get_double(c, o, sec, "clip", 0, 1e30, &h->clip)) ||
	    (rc = get_double(c, o, sec, "temperature", 1e-6, 1e6,
			     &h->temperature)) ||
	    (rc = get_double(c, o, sec, "kd_weight", 0, 1, &h->kd_weight)) ||
	    (rc = get_u64(c, o, sec, "seed", &h->seed)) ||
	    (rc = get_bool(c, o, sec, "whole_text", &h->whole_text)) ||
	    (rc = get_int(c, o, sec, "pool", 0, INT_MAX, &h->pool)) ||
	    (rc = get_int(c, o, sec, "threads", 0, 4096, &h->threads)))
		return rc;
	const cJSON *a = item(o, "data"), *d;
	if (!a)
		return 0;
	if (!cJSON_IsArray(a))
		return err_set(c->e, ERR_FORMAT,
			       "'%s': \"heal.data\" must be an array",
			       c->name);
	if (cJSON_GetArraySize(a) > RECIPE_HEAL_MAX_DATA)
		return err_set(c->e, ERR_FORMAT,
			       "'%s': \"heal.data\" lists more than %d files",
			       c->name, RECIPE_HEAL_MAX_DATA);
	h->n_data = 0;
	cJSON_ArrayForEach(d, a)
	{
		struct recipe_heal_data *x = &h->data[h->n_data];
		char key[32];
		snprintf(key, sizeof key, "heal.data[%d]", h->n_data);
		if (!cJSON_IsObject(d))
			return err_set(c->e, ERR_FORMAT,
				       "'%s': \"%s\" must be an object",
				       c->name, key);
		if ((rc = get_strbuf(c, d, key, "name", x->name,
				     sizeof x->name)) ||
		    (rc = get_strbuf(c, d, key, "checksum", x->checksum,
				     sizeof x->checksum)) ||
		    (rc = get_u64(c, d, key, "bytes", &x->bytes)))
			return rc;
		h->n_data++;
	}
	return 0;
}

static int section(struct ctx *c, const cJSON *root, const char *key,
		   const cJSON **out)
{
	*out = item(root, key);
	if (*out && !cJSON_IsObject(*out))
		return err_set(c->e, ERR_FORMAT,
			       "'%s': \"%s\" must be an object", c->name, key);
	return 0;
}

static int parse_dtype(const char *s)
{
	enum dtype t;
	return dtype_parse(s, &t) ? -1 : (int)t;
}

static int parse_root(struct ctx *c, const cJSON *root, struct recipe *r)
{
	struct prune_plan *p = &r->plan;
	const cJSON *v, *w, *l, *s, *k, *hl;
	const char *str = NULL;
	int x, rc;

	if (!cJSON_IsObject(root))
		return err_set(c->e, ERR_FORMAT, "'%s': not a JSON object",
			       c->name);
	if ((rc = get_str(c, root, "", "format", &str)))
		return rc;
	if (str && strcmp(str, "punguza-recipe"))
		return err_set(c->e, ERR_FORMAT,
			       "'%s': \"format\" is \"%s\", not "
			       "\"punguza-recipe\"",
			       c->name, str);
	x = -1;
	if ((rc = get_int(c, root, "", "version", 0, INT_MAX, &x)))
		return rc;
	if (x < 0)
		return err_set(c->e, ERR_FORMAT, "'%s': missing \"version\"",
			       c->name);
	if (x > RECIPE_VERSION)
		return err_set(c->e, ERR_UNSUPPORTED,
			       "'%s': recipe version %d is newer than this "
			       "punguza's (%d)",
			       c->name, x, RECIPE_VERSION);

	if ((rc = section(c, root, "vocab", &v)) ||
	    (rc = section(c, root, "width", &w)) ||
	    (rc = section(c, root, "layers", &l)) ||
	    (rc = section(c, root, "source", &s)) ||
	    (rc = section(c, root, "counts", &k)) ||
	    (rc = section(c, root, "heal", &hl)))
		return rc;
	if (hl) {
		if ((rc = parse_heal(c, hl, &r->heal)))
			return rc;
		r->have_heal = true;
	}

	x = p->vocab_mode;
	if ((rc = get_enum(c, v, "vocab", "mode", plan_vocab_mode_parse,
			   "none, top_k, min_count, list", &x)))
		return rc;
	p->vocab_mode = (enum plan_vocab_mode)x;
	if ((rc = get_int(c, v, "vocab", "keep", 0, INT_MAX, &p->vocab_keep)) ||
	    (rc = get_int(c, v, "vocab", "min_count", 0, INT_MAX,
			  &p->vocab_min_count)) ||
	    (rc =
		 get_bool(c, v, "vocab", "merge_closure", &p->merge_closure)) ||
	    (rc = get_ints(c, v, "vocab", "ids", &p->vocab_ids,
			   &p->n_vocab_ids)))
		return rc;
	if (p->vocab_mode == PLAN_VOCAB_TOP_K && p->vocab_keep <= 0)
		return err_set(c->e, ERR_FORMAT,
			       "'%s': \"vocab.keep\" must be positive in "
			       "top_k mode",
			       c->name);
	if (p->vocab_mode == PLAN_VOCAB_LIST && p->n_vocab_ids <= 0)
		return err_set(c->e, ERR_FORMAT,
			       "'%s': \"vocab.ids\" must list the kept ids in "
			       "list mode",
			       c->name);

	const cJSON *f = item(w, "factor");
	if (f) {
		if (!cJSON_IsNumber(f))
			return err_set(
			    c->e, ERR_FORMAT,
			    "'%s': \"width.factor\" must be a number", c->name);
		if (!(f->valuedouble > 0 && f->valuedouble <= 1))
			return err_set(c->e, ERR_FORMAT,
				       "'%s': \"width.factor\" = %.17g is not "
				       "in (0, 1]",
				       c->name, f->valuedouble);
		p->width_factor = f->valuedouble;
	}
	if ((rc = get_int(c, w, "width", "hidden", 0, INT_MAX, &p->hidden)) ||
	    (rc = get_int(c, w, "width", "intermediate", 0, INT_MAX,
			  &p->intermediate)))
		return rc;
	x = p->head_mode;
	if ((rc = get_enum(c, w, "width", "head_mode", plan_head_mode_parse,
			   "head_dim, heads", &x)))
		return rc;
	p->head_mode = (enum plan_head_mode)x;
	x = p->select;
	if ((rc = get_enum(c, w, "width", "select", plan_select_parse,
			   "random, magnitude, activation, recipe_random", &x)))
		return rc;
	p->select = (enum plan_select)x;

	x = p->layer_mode;
	if ((rc = get_enum(c, l, "layers", "mode", plan_layer_mode_parse,
			   "first, list, rank", &x)))
		return rc;
	p->layer_mode = (enum plan_layer_mode)x;
	if ((rc = get_int(c, l, "layers", "n", 0, INT_MAX, &p->n_layers)) ||
	    (rc = get_ints(c, l, "layers", "list", &p->layer_list,
			   &p->n_layer_list)))
		return rc;
	if (p->layer_mode == PLAN_LAYERS_LIST && p->n_layer_list <= 0)
		return err_set(c->e, ERR_FORMAT,
			       "'%s': \"layers.list\" must list the kept "
			       "layers in list mode",
			       c->name);

	x = p->tie;
	if ((rc = get_enum(c, root, "", "tie", plan_tie_parse,
			   "off, lm_head, embed, mean", &x)))
		return rc;
	p->tie = (enum plan_tie)x;
	x = p->export_dtype;
	if ((rc = get_enum(c, root, "", "dtype", parse_dtype, "F32, BF16, F16",
			   &x)))
		return rc;
	p->export_dtype = (enum dtype)x;
	if ((rc = get_u64(c, root, "", "seed", &p->seed)))
		return rc;

	str = NULL;
	if ((rc = get_str(c, s, "source", "name", &str)))
		return rc;
	if (str)
		snprintf(r->source_name, sizeof r->source_name, "%s", str);
	str = NULL;
	if ((rc = get_str(c, s, "source", "checksum", &str)))
		return rc;
	if (str) {
		if (strlen(str) >= sizeof r->source_checksum)
			return err_set(c->e, ERR_FORMAT,
				       "'%s': \"source.checksum\" is longer "
				       "than %zu characters",
				       c->name, sizeof r->source_checksum - 1);
		snprintf(r->source_checksum, sizeof r->source_checksum, "%s",
			 str);
	}

	if (k) {
		struct recipe_counts *n = &r->counts;
		static const char sec[] = "counts";
		if ((rc = get_int(c, k, sec, "vocab_size", 1, INT_MAX,
				  &n->vocab_size)) ||
		    (rc = get_int(c, k, sec, "hidden_size", 1, INT_MAX,
				  &n->hidden_size)) ||
		    (rc = get_int(c, k, sec, "intermediate_size", 1, INT_MAX,
				  &n->intermediate_size)) ||
		    (rc = get_int(c, k, sec, "num_attention_heads", 1, INT_MAX,
				  &n->n_heads)) ||
		    (rc = get_int(c, k, sec, "num_key_value_heads", 1, INT_MAX,
				  &n->n_kv_heads)) ||
		    (rc = get_int(c, k, sec, "head_dim", 1, INT_MAX,
				  &n->head_dim)) ||
		    (rc = get_int(c, k, sec, "num_hidden_layers", 1, INT_MAX,
				  &n->n_layers)) ||
		    (rc = get_bool(c, k, sec, "tied", &n->tied)) ||
		    (rc = get_u64(c, k, sec, "params", &n->params)))
			return rc;
		if (!item(k, "params"))
			return err_set(c->e, ERR_FORMAT,
				       "'%s': \"counts.params\" is missing",
				       c->name);
		r->have_counts = true;
	}
	return 0;
}

int recipe_parse(const char *text, size_t len, const char *name,
		 struct recipe *out, struct err *e)
{
	struct ctx c = {name ? name : "recipe", e};
	recipe_init(out);
	cJSON *root = cJSON_ParseWithLength(text, len);
	if (!root)
		return err_set(e, ERR_FORMAT, "'%s': not valid JSON", c.name);
	/* `punguza plan --json` output holds the recipe under "recipe" */
	const cJSON *body = root;
	if (cJSON_IsObject(root) && !item(root, "version") &&
	    cJSON_IsObject(item(root, "recipe")))
		body = item(root, "recipe");
	int rc = parse_root(&c, body, out);
	cJSON_Delete(root);
	if (rc)
		recipe_free(out);
	return rc;
}

int recipe_load(const char *path, struct recipe *out, struct err *e)
{
	char *text;
	size_t len;
	recipe_init(out);
	int rc = file_read_all(path, RECIPE_MAX_BYTES, &text, &len, e);
	if (rc)
		return rc;
	rc = recipe_parse(text, len, path, out, e);
	free(text);
	return rc;
}

/* Appends printf output to buf at *len; -1 when it does not fit. */
static int append_arg(char *buf, size_t cap, size_t *len, const char *fmt,
		      ...) __attribute__((format(printf, 4, 5)));
static int append_arg(char *buf, size_t cap, size_t *len, const char *fmt,
		      ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return -1;
	*len += (size_t)n;
	return 0;
}

/* "recipe_random" -> "recipe-random": the CLI's spelling. */
static void dashed(char *out, size_t cap, const char *name)
{
	size_t i = 0;
	for (; name[i] && i + 1 < cap; i++)
		out[i] = name[i] == '_' ? '-' : name[i];
	out[i] = '\0';
}

int recipe_plan_args(const struct prune_plan *p, char *buf, size_t cap,
		     struct err *e)
{
	struct prune_plan id;
	prune_plan_init(&id);
	size_t n = 0;
	int bad = 0;
	char name[32];
	if (cap == 0)
		return err_set(e, ERR_INVALID, "plan arguments: no room");
	buf[0] = '\0';
	switch (p->vocab_mode) {
	case PLAN_VOCAB_NONE:
		break;
	case PLAN_VOCAB_TOP_K:
		bad |= append_arg(buf, cap, &n, " --vocab %d", p->vocab_keep);
		break;
	case PLAN_VOCAB_MIN_COUNT:
		bad |= append_arg(buf, cap, &n, " --min-count %d",
				  p->vocab_min_count);
		break;
	case PLAN_VOCAB_LIST:
		return err_set(e, ERR_UNSUPPORTED,
			       "an explicit vocabulary list has no flag: use "
			       "--recipe");
	}
	if (p->vocab_mode != PLAN_VOCAB_NONE && !p->merge_closure)
		bad |= append_arg(buf, cap, &n, " --no-closure");
	if (p->hidden > 0)
		bad |= append_arg(buf, cap, &n, " --hidden %d", p->hidden);
	else if (p->width_factor != id.width_factor)
		bad |= append_arg(buf, cap, &n, " --width %.17g",
				  p->width_factor);
	if (p->intermediate > 0)
		bad |= append_arg(buf, cap, &n, " --inter %d", p->intermediate);
	if (p->head_mode == PLAN_HEADS_DROP)
		bad |= append_arg(buf, cap, &n, " --heads-mode heads");
	if (p->select != id.select) {
		dashed(name, sizeof name, plan_select_name(p->select));
		bad |= append_arg(buf, cap, &n, " --select %s", name);
	}
	switch (p->layer_mode) {
	case PLAN_LAYERS_FIRST:
		if (p->n_layers > 0)
			bad |= append_arg(buf, cap, &n, " --layers %d",
					  p->n_layers);
		break;
	case PLAN_LAYERS_RANK:
		bad |= append_arg(buf, cap, &n, " --rank-layers %d",
				  p->n_layers);
		break;
	case PLAN_LAYERS_LIST:
		bad |= append_arg(buf, cap, &n, " --keep-layers ");
		for (int i = 0; i < p->n_layer_list && !bad; i++)
			bad |= append_arg(buf, cap, &n, "%s%d", i ? "," : "",
					  p->layer_list[i]);
		break;
	}
	if (p->tie != id.tie)
		bad |= append_arg(buf, cap, &n, " --tie %s", plan_tie_name(p->tie));
	if (p->export_dtype != id.export_dtype) {
		const char *dn = p->export_dtype == DTYPE_BF16 ? "bf16"
				 : p->export_dtype == DTYPE_F16 ? "f16"
								 : "f32";
		bad |= append_arg(buf, cap, &n, " --dtype %s", dn);
	}
	if (p->seed != id.seed)
		bad |= append_arg(buf, cap, &n, " --seed %llu",
				  (unsigned long long)p->seed);
	if (bad)
		return err_set(e, ERR_INVALID, "plan arguments: no room");
	if (n > 0) /* drop the leading space */
		memmove(buf, buf + 1, n);
	return 0;
}
