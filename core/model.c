#include "model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dtype.h"
#include "weights.h"

int model_own(struct model *m, void *buf, struct err *e)
{
	if (m->n_owned == m->cap_owned) {
		size_t cap = m->cap_owned ? 2 * m->cap_owned : 16;
		void **p = realloc(m->owned, cap * sizeof *p);
		if (!p) {
			free(buf);
			return err_set(e, ERR_NOMEM, "model: out of memory");
		}
		m->owned = p;
		m->cap_owned = cap;
	}
	m->owned[m->n_owned++] = buf;
	return 0;
}

/* An owned, zeroed f32 buffer of n elements. */
static int alloc_f32(struct model *m, uint64_t n, float **out, struct err *e)
{
	if (n == 0 || n > SIZE_MAX / sizeof(float))
		return err_set(e, ERR_NOMEM,
			       "model: tensor of %llu floats is "
			       "too large",
			       (unsigned long long)n);
	float *p = calloc((size_t)n, sizeof(float));
	if (!p)
		return err_set(e, ERR_NOMEM,
			       "model: out of memory (%llu "
			       "floats)",
			       (unsigned long long)n);
	int rc = model_own(m, p, e);
	if (rc)
		return rc;
	m->owned_bytes += n * sizeof(float);
	*out = p;
	return 0;
}

void model_free(struct model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_owned; i++)
		free(m->owned[i]);
	free(m->owned);
	free(m->layers);
	weights_free(m->w);
	config_free(&m->cfg);
	free(m);
}

static struct model *model_alloc(const struct config *cfg, struct err *e)
{
	struct model *m = calloc(1, sizeof *m);
	if (!m) {
		err_set(e, ERR_NOMEM, "model: out of memory");
		return NULL;
	}
	if (config_copy(&m->cfg, cfg, e)) {
		free(m);
		return NULL;
	}
	m->layers = calloc((size_t)cfg->n_layers, sizeof *m->layers);
	if (!m->layers) {
		err_set(e, ERR_NOMEM, "model: out of memory");
		model_free(m);
		return NULL;
	}
	return m;
}

int model_alloc_tensor(struct model *m, uint64_t n, float **out, struct err *e)
{
	return alloc_f32(m, n, out, e);
}

int model_new_empty(const struct config *cfg, struct model **out, struct err *e)
{
	*out = NULL;
	int rc = config_validate(cfg, "model", e);
	if (rc)
		return rc;
	struct model *m = model_alloc(cfg, e);
	if (!m)
		return e ? e->code : ERR_NOMEM;
	m->tied = cfg->tie_word_embeddings;
	*out = m;
	return 0;
}

int model_check(const struct model *m, struct err *e)
{
	const struct config *c = &m->cfg;
	if (!m->embed || !m->norm || !m->lm_head)
		return err_set(e, ERR_INVALID, "model: %s is not set",
			       !m->embed  ? "the embedding"
			       : !m->norm ? "the final norm"
					  : "lm_head");
	if (m->tied != (m->lm_head == m->embed))
		return err_set(e, ERR_INVALID,
			       "model: tied is %s but lm_head %s the embedding",
			       m->tied ? "true" : "false",
			       m->tied ? "is not" : "is");
	for (int i = 0; i < c->n_layers; i++) {
		const struct layer_weights *l = &m->layers[i];
		const float *p[9] = {l->wq,	l->wk,	      l->wv,
				     l->wo,	l->attn_norm, l->mlp_norm,
				     l->w_gate, l->w_up,      l->w_down};
		for (int k = 0; k < 9; k++)
			if (!p[k])
				return err_set(e, ERR_INVALID,
					       "model: layer %d has a tensor "
					       "not set",
					       i);
		if (c->shared_mlp && (l->w_gate != m->layers[0].w_gate ||
				      l->w_up != m->layers[0].w_up ||
				      l->w_down != m->layers[0].w_down))
			return err_set(e, ERR_INVALID,
				       "model: shared MLP, but layer %d has "
				       "its own",
				       i);
	}
	return 0;
}

int model_new(const struct config *cfg, struct model **out, struct err *e)
{
	*out = NULL;
	struct model *m;
	int rc = model_new_empty(cfg, &m, e);
	if (rc)
		return rc;
	const struct config *c = &m->cfg;
	uint64_t V = (uint64_t)c->vocab_size, d = (uint64_t)c->hidden_size;
	uint64_t f = (uint64_t)c->intermediate_size;
	uint64_t q = (uint64_t)c->n_heads * (uint64_t)c->head_dim;
	uint64_t kv = (uint64_t)c->n_kv_heads * (uint64_t)c->head_dim;
	float *gate = NULL, *up = NULL, *down = NULL;
	if ((rc = alloc_f32(m, V * d, &m->embed, e)) ||
	    (rc = alloc_f32(m, d, &m->norm, e)))
		goto fail;
	if (c->tie_word_embeddings)
		m->lm_head = m->embed;
	else if ((rc = alloc_f32(m, V * d, &m->lm_head, e)))
		goto fail;
	if (c->shared_mlp && ((rc = alloc_f32(m, f * d, &gate, e)) ||
			      (rc = alloc_f32(m, f * d, &up, e)) ||
			      (rc = alloc_f32(m, d * f, &down, e))))
		goto fail;
	for (int i = 0; i < c->n_layers; i++) {
		struct layer_weights *l = &m->layers[i];
		if ((rc = alloc_f32(m, q * d, &l->wq, e)) ||
		    (rc = alloc_f32(m, kv * d, &l->wk, e)) ||
		    (rc = alloc_f32(m, kv * d, &l->wv, e)) ||
		    (rc = alloc_f32(m, d * q, &l->wo, e)) ||
		    (rc = alloc_f32(m, d, &l->attn_norm, e)) ||
		    (rc = alloc_f32(m, d, &l->mlp_norm, e)))
			goto fail;
		if (c->shared_mlp) {
			l->w_gate = gate;
			l->w_up = up;
			l->w_down = down;
		} else if ((rc = alloc_f32(m, f * d, &l->w_gate, e)) ||
			   (rc = alloc_f32(m, f * d, &l->w_up, e)) ||
			   (rc = alloc_f32(m, d * f, &l->w_down, e))) {
			goto fail;
		}
	}
	*out = m;
	return 0;
fail:
	model_free(m);
	return rc;
}

/* ---- loading ---------------------------------------------------------- */

struct loader {
	struct model *m;
	const char *dir;
	struct err *e;
};

static void shape_str(char *buf, size_t cap, const int64_t *shape, int ndim)
{
	size_t n = 0;
	n += (size_t)snprintf(buf + n, cap - n, "[");
	for (int i = 0; i < ndim && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "",
				      (long long)shape[i]);
	if (n < cap)
		snprintf(buf + n, cap - n, "]");
}

/* Finds `name`, checks its shape is [rows, cols] ([rows] when cols == 0).
 * Returns the tensor, NULL with ERR_NOTFOUND in *rc when absent (and
 * `required` false, no message), or NULL with an error set. */
static const struct tensor *find_checked(struct loader *ld, const char *name,
					 int64_t rows, int64_t cols,
					 bool required, int *rc)
{
	const struct tensor *t = weights_find(ld->m->w, name);
	*rc = 0;
	if (!t) {
		*rc = ERR_NOTFOUND;
		if (required)
			err_set(ld->e, ERR_NOTFOUND,
				"'%s': missing tensor '%s'", ld->dir, name);
		return NULL;
	}
	int64_t want[2] = {rows, cols};
	int ndim = cols ? 2 : 1;
	bool ok = t->ndim == ndim;
	for (int i = 0; ok && i < ndim; i++)
		ok = t->shape[i] == want[i];
	if (!ok) {
		char got[128], exp[64];
		shape_str(got, sizeof got, t->shape,
			  t->ndim < TENSOR_MAX_DIMS ? t->ndim
						    : TENSOR_MAX_DIMS);
		shape_str(exp, sizeof exp, want, ndim);
		*rc = err_set(ld->e, ERR_FORMAT,
			      "'%s': tensor '%s' has shape %s, expected %s",
			      ld->dir, name, got, exp);
		return NULL;
	}
	return t;
}

/* An f32 view of t: in place when f32 and aligned, else an owned copy. */
static int to_f32(struct loader *ld, const struct tensor *t, float **out)
{
	if (t->dtype == DTYPE_F32 && ((uintptr_t)t->data & 3) == 0) {
		/* The mapping is read-only; model.h forbids writes. */
		*out = (float *)(uintptr_t)t->data;
		return 0;
	}
	int rc = alloc_f32(ld->m, t->numel, out, ld->e);
	if (rc)
		return err_wrap(ld->e, "'%s': tensor '%s'", ld->dir, t->name);
	dtype_to_f32(*out, t->data, t->dtype, (size_t)t->numel);
	return 0;
}

static int load_tensor(struct loader *ld, const char *name, int64_t rows,
		       int64_t cols, float **out)
{
	int rc;
	const struct tensor *t = find_checked(ld, name, rows, cols, true, &rc);
	return t ? to_f32(ld, t, out) : rc;
}

/* 1 when a and b (same shape) hold the same values, compared as f32
 * (bitwise when the dtypes match, so NaNs and -0 count as stored). */
static bool same_values(const struct tensor *a, const struct tensor *b)
{
	if (a->dtype == b->dtype)
		return memcmp(a->data, b->data, (size_t)a->nbytes) == 0;
	enum { CHUNK = 4096 };
	float x[CHUNK], y[CHUNK];
	size_t es_a = dtype_size(a->dtype), es_b = dtype_size(b->dtype);
	for (uint64_t i = 0; i < a->numel; i += CHUNK) {
		size_t n =
		    (size_t)(a->numel - i < CHUNK ? a->numel - i : CHUNK);
		dtype_to_f32(x, (const char *)a->data + i * es_a, a->dtype, n);
		dtype_to_f32(y, (const char *)b->data + i * es_b, b->dtype, n);
		if (memcmp(x, y, n * sizeof(float)))
			return false;
	}
	return true;
}

/* Gives back the pages of a stored copy the model will not use (read for
 * the comparison only): the mapping is private, read-only and never
 * written, so dropping its pages loses nothing (a later access re-reads
 * the file). Keeps the resident size of InkubaLM's 7 unused MLP copies
 * (~1 GB) out of the process. A hint: failures are ignored. */
static void drop_pages(const void *data, uint64_t nbytes)
{
	long pg = sysconf(_SC_PAGESIZE);
	if (pg <= 0)
		return;
	uintptr_t a =
	    ((uintptr_t)data + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
	uintptr_t b =
	    ((uintptr_t)data + (uintptr_t)nbytes) & ~((uintptr_t)pg - 1);
	if (b > a)
		madvise((void *)a, (size_t)(b - a), MADV_DONTNEED);
}

static const char *const MLP_NAMES[3] = {"gate_proj", "up_proj", "down_proj"};

/* Looks up the three MLP tensors under prefix ("model.layers.3.mlp" or
 * "model.mlp"). Returns how many exist (0..3); t[] gets NULL for absent
 * ones. A present tensor of the wrong shape is an error (*rc set). */
static int find_mlp(struct loader *ld, const char *prefix,
		    const struct tensor *t[3], int *rc)
{
	int64_t d = ld->m->cfg.hidden_size, f = ld->m->cfg.intermediate_size;
	int found = 0;
	*rc = 0;
	for (int k = 0; k < 3; k++) {
		char name[128];
		snprintf(name, sizeof name, "%s.%s.weight", prefix,
			 MLP_NAMES[k]);
		int r;
		t[k] = find_checked(ld, name, k < 2 ? f : d, k < 2 ? d : f,
				    false, &r);
		if (t[k])
			found++;
		else if (r != ERR_NOTFOUND) {
			*rc = r;
			return found;
		}
	}
	return found;
}

static int missing_mlp(struct loader *ld, const char *prefix,
		       const struct tensor *t[3])
{
	for (int k = 0; k < 3; k++)
		if (!t[k])
			return err_set(ld->e, ERR_NOTFOUND,
				       "'%s': missing tensor '%s.%s.weight'",
				       ld->dir, prefix, MLP_NAMES[k]);
	return 0;
}

static int load_mlps(struct loader *ld)
{
	struct model *m = ld->m;
	int L = m->cfg.n_layers, rc;
	char prefix[64];
	/* Which layers store an MLP (complete or partial)? */
	int any_layer = 0, last_full = -1;
	for (int i = 0; i < L; i++) {
		const struct tensor *t[3];
		snprintf(prefix, sizeof prefix, "model.layers.%d.mlp", i);
		int n = find_mlp(ld, prefix, t, &rc);
		if (rc)
			return rc;
		any_layer += n > 0;
		if (n == 3)
			last_full = i;
	}
	const struct tensor *shared[3];
	int n_shared = find_mlp(ld, "model.mlp", shared, &rc);
	if (rc)
		return rc;
	if (!any_layer && n_shared > 0)
		m->cfg.shared_mlp = true;

	if (!m->cfg.shared_mlp) {
		for (int i = 0; i < L; i++) {
			const struct tensor *t[3];
			struct layer_weights *l = &m->layers[i];
			snprintf(prefix, sizeof prefix, "model.layers.%d.mlp",
				 i);
			find_mlp(ld, prefix, t, &rc);
			if ((rc = missing_mlp(ld, prefix, t)) ||
			    (rc = to_f32(ld, t[0], &l->w_gate)) ||
			    (rc = to_f32(ld, t[1], &l->w_up)) ||
			    (rc = to_f32(ld, t[2], &l->w_down)))
				return rc;
		}
		return 0;
	}

	/* Shared: the last stored layer copy wins, else model.mlp.*. */
	const struct tensor *src[3];
	if (last_full >= 0) {
		snprintf(prefix, sizeof prefix, "model.layers.%d.mlp",
			 last_full);
		find_mlp(ld, prefix, src, &rc);
	} else {
		snprintf(prefix, sizeof prefix, "model.%s", "mlp");
		if (n_shared == 0)
			snprintf(prefix, sizeof prefix, "model.layers.%d.mlp",
				 L - 1);
		memcpy(src, shared, sizeof src);
		if ((rc = missing_mlp(ld, prefix, src)))
			return rc;
	}
	snprintf(m->shared_mlp_source, sizeof m->shared_mlp_source, "%s",
		 prefix);
	float *w[3];
	for (int k = 0; k < 3; k++)
		if ((rc = to_f32(ld, src[k], &w[k])))
			return rc;
	for (int i = 0; i < L; i++) {
		m->layers[i].w_gate = w[0];
		m->layers[i].w_up = w[1];
		m->layers[i].w_down = w[2];
	}
	/* Compare the other stored copies with the one used. */
	char differ[160] = "";
	size_t nd = 0;
	int n_differ = 0;
	for (int i = 0; i < L; i++) {
		if (i == last_full)
			continue;
		const struct tensor *t[3];
		snprintf(prefix, sizeof prefix, "model.layers.%d.mlp", i);
		find_mlp(ld, prefix, t, &rc);
		bool same = true;
		for (int k = 0; k < 3; k++) {
			if (!t[k] || t[k]->data == src[k]->data)
				continue;
			same = same && same_values(t[k], src[k]);
			drop_pages(t[k]->data, t[k]->nbytes);
		}
		if (!same) {
			if (n_differ++ < 12 && nd < sizeof differ)
				nd += (size_t)snprintf(
				    differ + nd, sizeof differ - nd, "%s%d",
				    nd ? ", " : "", i);
		}
	}
	if (n_differ)
		snprintf(m->note, sizeof m->note,
			 "mlp copies differ (layer%s %s%s); using %s's, as "
			 "PyTorch's load does",
			 n_differ > 1 ? "s" : "", differ,
			 n_differ > 12 ? ", ..." : "", m->shared_mlp_source);
	return 0;
}

static void add_note(struct model *m, const char *text)
{
	size_t n = strlen(m->note);
	snprintf(m->note + n, sizeof m->note - n, "%s%s", n ? "; " : "", text);
}

int model_load(const char *dir, struct model **out, const struct progress *prog,
	       struct err *e)
{
	*out = NULL;
	struct config cfg;
	int rc = config_load(dir, &cfg, e);
	if (rc)
		return rc;
	struct model *m = model_alloc(&cfg, e);
	config_free(&cfg);
	if (!m)
		return e ? e->code : ERR_NOMEM;
	if ((rc = weights_open_dir(dir, &m->w, prog, e)))
		goto fail;
	struct loader ld = {m, dir, e};
	const struct config *c = &m->cfg;
	int64_t V = c->vocab_size, d = c->hidden_size;
	int64_t q = (int64_t)c->n_heads * c->head_dim;
	int64_t kv = (int64_t)c->n_kv_heads * c->head_dim;
	if ((rc = load_tensor(&ld, "model.embed_tokens.weight", V, d,
			      &m->embed)) ||
	    (rc = load_tensor(&ld, "model.norm.weight", d, 0, &m->norm)))
		goto fail;
	if (c->tie_word_embeddings) {
		m->lm_head = m->embed;
		if (weights_find(m->w, "lm_head.weight"))
			add_note(m, "lm_head.weight ignored: embeddings are "
				    "tied");
	} else if ((rc = load_tensor(&ld, "lm_head.weight", V, d,
				     &m->lm_head))) {
		goto fail;
	}
	m->tied = c->tie_word_embeddings;
	for (int i = 0; i < c->n_layers; i++) {
		struct layer_weights *l = &m->layers[i];
		char name[128];
		struct {
			const char *suffix;
			int64_t rows, cols;
			float **dst;
		} want[] = {
		    {"self_attn.q_proj.weight", q, d, &l->wq},
		    {"self_attn.k_proj.weight", kv, d, &l->wk},
		    {"self_attn.v_proj.weight", kv, d, &l->wv},
		    {"self_attn.o_proj.weight", d, q, &l->wo},
		    {"input_layernorm.weight", d, 0, &l->attn_norm},
		    {"post_attention_layernorm.weight", d, 0, &l->mlp_norm},
		};
		for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
			snprintf(name, sizeof name, "model.layers.%d.%s", i,
				 want[k].suffix);
			if ((rc = load_tensor(&ld, name, want[k].rows,
					      want[k].cols, want[k].dst)))
				goto fail;
		}
		if ((rc = progress_report(prog, (i + 1.0) / (c->n_layers + 1.0),
					  "loading model", e)))
			goto fail;
	}
	if ((rc = load_mlps(&ld)))
		goto fail;
	if ((rc = progress_report(prog, 1.0, "loading model", e)))
		goto fail;
	*out = m;
	return 0;
fail:
	model_free(m);
	return rc;
}

uint64_t model_decode_bytes(const struct model *m, const unsigned char *skip)
{
	const struct config *c = &m->cfg;
	uint64_t V = (uint64_t)c->vocab_size, d = (uint64_t)c->hidden_size;
	uint64_t f = (uint64_t)c->intermediate_size;
	uint64_t q = (uint64_t)c->n_heads * (uint64_t)c->head_dim;
	uint64_t kv = (uint64_t)c->n_kv_heads * (uint64_t)c->head_dim;
	uint64_t per_layer = 2 * q * d + 2 * kv * d + 3 * d * f + 2 * d;
	uint64_t n = 0;
	for (int i = 0; i < c->n_layers; i++)
		if (!skip || !skip[i])
			n += per_layer;
	n += d + V * d + d; /* final norm, lm_head, one embedding row */
	return n * sizeof(float);
}

uint64_t model_param_count(const struct model *m)
{
	return config_param_count(&m->cfg);
}

/* ---- training support ------------------------------------------------- */

int model_clone(const struct model *src, struct model **out, struct err *e)
{
	*out = NULL;
	int rc = model_check(src, e);
	if (rc)
		return rc;
	/* model_new has the aliasing wanted (cfg.shared_mlp is final, tied
	 * follows the config); check the source agrees before copying. */
	if (src->tied != src->cfg.tie_word_embeddings)
		return err_set(e, ERR_INVALID,
			       "model: tied is %s but the config says %s",
			       src->tied ? "true" : "false",
			       src->cfg.tie_word_embeddings ? "tied" : "untied");
	struct model *m;
	if ((rc = model_new(&src->cfg, &m, e)))
		return rc;
	int n = model_params(src, NULL, 0);
	struct model_param *ps = malloc((size_t)n * sizeof *ps);
	struct model_param *pd = malloc((size_t)n * sizeof *pd);
	if (!ps || !pd) {
		free(ps);
		free(pd);
		model_free(m);
		return err_set(e, ERR_NOMEM, "model: out of memory");
	}
	/* Both lists are in the same documented order and shapes. */
	model_params(src, ps, n);
	model_params(m, pd, n);
	for (int k = 0; k < n; k++)
		memcpy(pd[k].w, ps[k].w, (size_t)ps[k].n * sizeof(float));
	free(ps);
	free(pd);
	memcpy(m->shared_mlp_source, src->shared_mlp_source,
	       sizeof m->shared_mlp_source);
	memcpy(m->note, src->note, sizeof m->note);
	*out = m;
	return 0;
}

/* Appends one entry when there is room; returns the new count. name is
 * the full name (layer < 0) or the part after "model.layers.<layer>.". */
static int param_add(struct model_param *out, int cap, int k, float *w,
		     int rows, int cols, bool norm, int layer, const char *name)
{
	if (k < cap) {
		struct model_param *p = &out[k];
		if (layer < 0)
			snprintf(p->name, sizeof p->name, "%s", name);
		else
			snprintf(p->name, sizeof p->name, "model.layers.%d.%s",
				 layer, name);
		p->w = w;
		p->rows = rows;
		p->cols = cols;
		p->n = (uint64_t)rows * (uint64_t)(cols ? cols : 1);
		p->norm = norm;
	}
	return k + 1;
}

int model_params(const struct model *m, struct model_param *out, int cap)
{
	const struct config *c = &m->cfg;
	int V = c->vocab_size, d = c->hidden_size, f = c->intermediate_size;
	int q = c->n_heads * c->head_dim, kv = c->n_kv_heads * c->head_dim;
	int k = 0;
	k = param_add(out, cap, k, m->embed, V, d, false,
		      -1, "model.embed_tokens.weight");
	for (int i = 0; i < c->n_layers; i++) {
		const struct layer_weights *l = &m->layers[i];
		k = param_add(out, cap, k, l->wq, q, d, false,
			      i, "self_attn.q_proj.weight");
		k = param_add(out, cap, k, l->wk, kv, d, false,
			      i, "self_attn.k_proj.weight");
		k = param_add(out, cap, k, l->wv, kv, d, false,
			      i, "self_attn.v_proj.weight");
		k = param_add(out, cap, k, l->wo, d, q, false,
			      i, "self_attn.o_proj.weight");
		k = param_add(out, cap, k, l->attn_norm, d, 0, true,
			      i, "input_layernorm.weight");
		k = param_add(out, cap, k, l->mlp_norm, d, 0, true,
			      i, "post_attention_layernorm.weight");
		if (c->shared_mlp)
			continue;
		k = param_add(out, cap, k, l->w_gate, f, d, false,
			      i, "mlp.gate_proj.weight");
		k = param_add(out, cap, k, l->w_up, f, d, false,
			      i, "mlp.up_proj.weight");
		k = param_add(out, cap, k, l->w_down, d, f, false,
			      i, "mlp.down_proj.weight");
	}
	if (c->shared_mlp) {
		const struct layer_weights *l = &m->layers[0];
		k = param_add(out, cap, k, l->w_gate, f, d, false,
			      -1, "model.mlp.gate_proj.weight");
		k = param_add(out, cap, k, l->w_up, f, d, false,
			      -1, "model.mlp.up_proj.weight");
		k = param_add(out, cap, k, l->w_down, d, f, false,
			      -1, "model.mlp.down_proj.weight");
	}
	k = param_add(out, cap, k, m->norm, d, 0, true,
		      -1, "model.norm.weight");
	if (!m->tied)
		k = param_add(out, cap, k, m->lm_head, V, d, false,
			      -1, "lm_head.weight");
	return k;
}
