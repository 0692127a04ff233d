/* export — Hugging Face directory and GGUF, atomically. See export.h. */
#include "export.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "gguf.h"
#include "safetensors.h"
#include "tokenizer.h"
#include "vocab.h"
#include "weights.h"

#define COPY_MAX_BYTES ((size_t)512 << 20)

/* ------------------------------------------------------------------ */
/* Directories                                                         */

int export_parse_formats(const char *list, unsigned *out)
{
	*out = 0;
	const char *v = list;
	while (*v) {
		size_t n = strcspn(v, ",");
		if (n == 2 && !strncmp(v, "hf", 2))
			*out |= EXPORT_HF;
		else if (n == 4 && !strncmp(v, "gguf", 4))
			*out |= EXPORT_GGUF;
		else
			return -1;
		v += n;
		if (*v == ',')
			v++;
	}
	return *out ? 0 : -1;
}

int export_remove_tree(const char *path, struct err *e)
{
	return path_remove_tree(path, e);
}

static void notes_add(struct export_notes *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void notes_add(struct export_notes *n, const char *fmt, ...)
{
	if (!n)
		return;
	if (n->n >= EXPORT_MAX_NOTES) {
		n->n_dropped++;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(n->text[n->n++], EXPORT_NOTE_MAX, fmt, ap);
	va_end(ap);
}

/* out_dir without trailing slashes, split: dir (or "."), base. */
static int split_out(const char *out_dir, char *dir, char *base, size_t cap,
		     struct err *e)
{
	size_t n = strlen(out_dir);
	while (n > 1 && out_dir[n - 1] == '/')
		n--;
	size_t s = n;
	while (s > 0 && out_dir[s - 1] != '/')
		s--;
	if (n - s == 0 || n - s >= cap || s >= cap)
		return err_set(e, ERR_INVALID, "'%s': not a usable output path",
			       out_dir);
	memcpy(base, out_dir + s, n - s);
	base[n - s] = '\0';
	if (s == 0) {
		strcpy(dir, ".");
	} else {
		size_t dl = s > 1 ? s - 1 : 1; /* keep "/" for the root */
		memcpy(dir, out_dir, dl);
		dir[dl] = '\0';
	}
	return 0;
}

static void host_name(char *buf, size_t cap)
{
	if (gethostname(buf, cap) < 0)
		buf[0] = '\0';
	buf[cap - 1] = '\0';
	for (char *p = buf; *p; p++) /* one line in the marker */
		if (*p == '\n' || *p == '\r')
			*p = '_';
}

static int write_marker(const char *tmp, struct err *e)
{
	char path[PATH_MAX], host[256], text[512];
	int rc;
	if ((rc = path_join(path, sizeof path, tmp, EXPORT_MARKER, e)))
		return rc;
	host_name(host, sizeof host);
	int n = snprintf(text, sizeof text, "punguza export\npid %ld\nhost %s\n",
			 (long)getpid(), host);
	return file_write_atomic(path, text, (size_t)n, e);
}

/* The pid in a marker written by this host, or 0 (not ours / unreadable). */
static long marker_pid(const char *tmp)
{
	char path[PATH_MAX], host[256], want[256 + 8], *text = NULL;
	size_t len;
	struct err e = {0};
	long pid = 0;
	if (path_join(path, sizeof path, tmp, EXPORT_MARKER, &e) ||
	    file_read_all(path, 512, &text, &len, &e))
		return 0;
	host_name(host, sizeof host);
	snprintf(want, sizeof want, "\nhost %s\n", host);
	char *p = NULL;
	if (!strncmp(text, "punguza export\npid ", 19) && strstr(text, want)) {
		errno = 0;
		pid = strtol(text + 19, &p, 10);
		if (errno || p == text + 19 || *p != '\n' || pid <= 0 ||
		    pid > INT_MAX)
			pid = 0;
	}
	free(text);
	return pid;
}

int export_remove_stale(const char *out_dir, struct export_notes *notes,
			struct err *e)
{
	char dir[PATH_MAX], base[NAME_MAX + 1], path[PATH_MAX];
	int rc;
	if ((rc = split_out(out_dir, dir, base, sizeof base, e)))
		return rc;
	DIR *d = opendir(dir);
	if (!d)
		return err_errno(e, ERR_IO, "cannot open '%s'", dir);
	size_t bl = strlen(base);
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *nm = de->d_name, *x;
		if (strncmp(nm, base, bl) || strncmp(nm + bl, ".tmp-", 5))
			continue;
		x = nm + bl + 5;
		if (strlen(x) != 6)
			continue;
		bool ok = true;
		for (int i = 0; i < 6; i++)
			ok &= (x[i] >= '0' && x[i] <= '9') ||
			      (x[i] >= 'a' && x[i] <= 'z') ||
			      (x[i] >= 'A' && x[i] <= 'Z');
		struct stat st;
		struct err e2 = {0};
		if (!ok || path_join(path, sizeof path, dir, nm, &e2) ||
		    lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		long pid = marker_pid(path);
		if (!pid) {
			notes_add(notes,
				  "left '%s' alone: it has no punguza export "
				  "marker of this host (remove it by hand if "
				  "it is an interrupted export)",
				  path);
			continue;
		}
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue; /* alive (or not ours to signal) */
		if (export_remove_tree(path, &e2))
			notes_add(notes,
				  "could not remove '%s', left by an "
				  "interrupted export (pid %ld): %s",
				  path, pid, e2.msg);
		else
			notes_add(notes,
				  "removed '%s', left by an interrupted export "
				  "(pid %ld)",
				  path, pid);
	}
	closedir(d);
	return 0;
}

/* Copies src_dir/name to dir/name when it exists (1 copied, 0 absent). */
static int copy_file(const char *src_dir, const char *dir, const char *name,
		     struct err *e)
{
	char from[PATH_MAX], to[PATH_MAX];
	char *buf;
	size_t len;
	int rc;
	if (!src_dir)
		return 0;
	if ((rc = path_join(from, sizeof from, src_dir, name, e)) ||
	    (rc = path_join(to, sizeof to, dir, name, e)))
		return rc;
	if (!path_exists(from))
		return 0;
	if ((rc = file_read_all(from, COPY_MAX_BYTES, &buf, &len, e)))
		return rc;
	rc = file_write_atomic(to, buf, len, e);
	free(buf);
	return rc ? rc : 1;
}

static int write_json(const char *dir, const char *name, cJSON *root,
		      struct err *e)
{
	char path[PATH_MAX];
	int rc = path_join(path, sizeof path, dir, name, e);
	if (rc)
		return rc;
	char *text = cJSON_Print(root);
	if (!text)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", name);
	size_t n = strlen(text);
	char *t2 = realloc(text, n + 2);
	if (!t2) {
		cJSON_free(text);
		return err_set(e, ERR_NOMEM, "'%s': out of memory", name);
	}
	t2[n] = '\n';
	t2[n + 1] = '\0';
	rc = file_write_atomic(path, t2, n + 1, e);
	free(t2);
	return rc;
}

/* ------------------------------------------------------------------ */
/* config.json, generation_config.json                                 */

/* Sets o[k] = v, replacing an existing k; v NULL (out of memory) is
 * skipped. */
static void set_item(cJSON *o, const char *k, cJSON *v)
{
	if (!v)
		return;
	if (cJSON_GetObjectItemCaseSensitive(o, k))
		cJSON_ReplaceItemInObjectCaseSensitive(o, k, v);
	else
		cJSON_AddItemToObject(o, k, v);
}

static void set_num(cJSON *o, const char *k, double v)
{
	set_item(o, k, cJSON_CreateNumber(v));
}

static const char *torch_dtype(enum dtype t)
{
	return t == DTYPE_BF16 ? "bfloat16"
	       : t == DTYPE_F16 ? "float16"
				: "float32";
}

static int write_config(const struct model *m, enum dtype dt, const char *dir,
			struct err *e)
{
	const struct config *c = &m->cfg;
	cJSON *o = c->json_text ? cJSON_Parse(c->json_text) : NULL;
	if (o && !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		o = NULL;
	}
	if (!o) {
		o = cJSON_CreateObject();
		if (!o)
			return err_set(e, ERR_NOMEM, "config.json: out of memory");
		cJSON *a = cJSON_AddArrayToObject(o, "architectures");
		if (a)
			cJSON_AddItemToArray(a,
					     cJSON_CreateString("LlamaForCausalLM"));
		cJSON_AddStringToObject(o, "model_type", "llama");
		cJSON_AddStringToObject(o, "hidden_act", "silu");
	}
	bool had_hd = cJSON_GetObjectItemCaseSensitive(o, "head_dim") != NULL;
	set_num(o, "vocab_size", c->vocab_size);
	set_num(o, "hidden_size", c->hidden_size);
	set_num(o, "intermediate_size", c->intermediate_size);
	set_num(o, "num_attention_heads", c->n_heads);
	set_num(o, "num_key_value_heads", c->n_kv_heads);
	set_num(o, "num_hidden_layers", c->n_layers);
	if (had_hd || (long)c->head_dim * c->n_heads != c->hidden_size)
		set_num(o, "head_dim", c->head_dim);
	set_num(o, "max_position_embeddings", c->max_position_embeddings);
	set_num(o, "rms_norm_eps", c->rms_norm_eps);
	set_num(o, "rope_theta", c->rope_theta);
	set_item(o, "tie_word_embeddings", cJSON_CreateBool(m->tied));
	if (c->bos_token_id >= 0)
		set_num(o, "bos_token_id", c->bos_token_id);
	if (c->eos_token_id >= 0)
		set_num(o, "eos_token_id", c->eos_token_id);
	if (c->pad_token_id >= 0)
		set_num(o, "pad_token_id", c->pad_token_id);
	else if (cJSON_GetObjectItemCaseSensitive(o, "pad_token_id"))
		set_item(o, "pad_token_id", cJSON_CreateNull()); /* dropped */
	set_item(o, "torch_dtype", cJSON_CreateString(torch_dtype(dt)));
	int rc = write_json(dir, "config.json", o, e);
	cJSON_Delete(o);
	return rc;
}

static int write_generation_config(const struct model *m, const char *src_dir,
				   const char *dir, struct err *e)
{
	const struct config *c = &m->cfg;
	cJSON *o = NULL;
	char path[PATH_MAX];
	int rc;
	if (src_dir &&
	    !path_join(path, sizeof path, src_dir, "generation_config.json",
		       NULL) &&
	    path_exists(path)) {
		char *buf;
		size_t len;
		if ((rc = file_read_all(path, COPY_MAX_BYTES, &buf, &len, e)))
			return rc;
		o = cJSON_ParseWithLength(buf, len);
		free(buf);
		if (!o || !cJSON_IsObject(o)) {
			cJSON_Delete(o);
			return err_set(e, ERR_FORMAT, "'%s': not a JSON object",
				       path);
		}
	} else if (!(o = cJSON_CreateObject())) {
		return err_set(e, ERR_NOMEM, "generation_config.json: out of "
					     "memory");
	}
	if (c->bos_token_id >= 0)
		set_num(o, "bos_token_id", c->bos_token_id);
	if (c->eos_token_id >= 0)
		set_num(o, "eos_token_id", c->eos_token_id);
	if (c->pad_token_id >= 0 &&
	    cJSON_GetObjectItemCaseSensitive(o, "pad_token_id"))
		set_num(o, "pad_token_id", c->pad_token_id);
	rc = write_json(dir, "generation_config.json", o, e);
	cJSON_Delete(o);
	return rc;
}

/* tokenizer_config.json with added_tokens_decoder's ids renumbered. */
static int write_tokenizer_config(const char *src_dir, const char *dir,
				  const struct vocab_keep *k, struct err *e)
{
	char path[PATH_MAX];
	char *buf;
	size_t len;
	int rc;
	if (!src_dir ||
	    path_join(path, sizeof path, src_dir, "tokenizer_config.json",
		      NULL) ||
	    !path_exists(path))
		return 0;
	if ((rc = file_read_all(path, COPY_MAX_BYTES, &buf, &len, e)))
		return rc;
	cJSON *o = cJSON_ParseWithLength(buf, len);
	free(buf);
	if (!o || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return err_set(e, ERR_FORMAT, "'%s': not a JSON object", path);
	}
	cJSON *dec = cJSON_GetObjectItemCaseSensitive(o, "added_tokens_decoder");
	if (cJSON_IsObject(dec)) {
		cJSON *nd = cJSON_CreateObject();
		cJSON *it = dec->child;
		while (it) {
			cJSON *next = it->next;
			char *end;
			long old = strtol(it->string ? it->string : "", &end, 10);
			if (*end == '\0' && old >= 0 && old < k->n_old &&
			    k->old_to_new[old] >= 0) {
				char key[32];
				snprintf(key, sizeof key, "%d",
					 k->old_to_new[old]);
				cJSON_AddItemToObject(
				    nd, key, cJSON_DetachItemViaPointer(dec, it));
			}
			it = next;
		}
		cJSON_ReplaceItemInObjectCaseSensitive(o, "added_tokens_decoder",
						       nd);
	}
	rc = write_json(dir, "tokenizer_config.json", o, e);
	cJSON_Delete(o);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Tensor lists                                                        */

struct tlist {
	struct tensor_src *t;
	char (*names)[96];
	size_t n, cap;
};

static void tlist_free(struct tlist *l)
{
	free(l->t);
	free(l->names);
	memset(l, 0, sizeof *l);
}

static int tlist_init(struct tlist *l, size_t cap, struct err *e)
{
	memset(l, 0, sizeof *l);
	l->t = calloc(cap, sizeof *l->t);
	l->names = calloc(cap, sizeof *l->names);
	l->cap = cap;
	if (!l->t || !l->names) {
		tlist_free(l);
		return err_set(e, ERR_NOMEM, "export: out of memory");
	}
	return 0;
}

/* Adds a tensor of f32 data (rows x cols; cols 0: a vector). */
static struct tensor_src *tlist_add(struct tlist *l, enum dtype dt,
				    const float *data, int64_t rows,
				    int64_t cols, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static struct tensor_src *tlist_add(struct tlist *l, enum dtype dt,
				    const float *data, int64_t rows,
				    int64_t cols, const char *fmt, ...)
{
	struct tensor_src *t = &l->t[l->n];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->names[l->n], sizeof l->names[0], fmt, ap);
	va_end(ap);
	t->name = l->names[l->n];
	l->n++;
	t->dtype = dt;
	if (cols) {
		t->ndim = 2;
		t->shape[0] = rows;
		t->shape[1] = cols;
	} else {
		t->ndim = 1;
		t->shape[0] = rows;
	}
	t->src = data;
	t->src_dtype = DTYPE_F32;
	return t;
}

/* Q/K rows from HF's rotate_half layout to GGUF's interleaved one:
 * within each head, row 2i + s <- row s*hd/2 + i (LlamaModel.permute). */
struct permute_ctx {
	const float *w;
	int64_t cols;
	int hd;
};

static int permute_fill(void *ctx, float *dst, uint64_t first, uint64_t count,
			struct err *e)
{
	const struct permute_ctx *p = ctx;
	(void)e;
	uint64_t C = (uint64_t)p->cols, hd = (uint64_t)p->hd;
	for (uint64_t k = 0; k < count; k++) {
		uint64_t idx = first + k, r = idx / C, c = idx % C;
		uint64_t head = r / hd, w = r % hd;
		uint64_t src = head * hd + (w % 2) * (hd / 2) + w / 2;
		dst[k] = p->w[src * C + c];
	}
	return 0;
}

/* One tensor of every layer, as a format names and stores it. The two
 * writers list the same nine tensors in their own order. */
enum dim { DIM_NONE, DIM_D, DIM_F, DIM_QD, DIM_KD };

struct layer_tensor {
	size_t field;	     /* offsetof(struct layer_weights, ...) */
	enum dim rows, cols; /* cols DIM_NONE: a vector */
	bool keep_f32;	     /* stored f32 whatever the export dtype */
	bool permute;	     /* Q/K rows to GGUF's interleaved layout */
	const char *name;    /* after "model.layers.N." or "blk.N." */
};

#define LAYER_T(f, r, c, f32, p, n)                                            \
	{offsetof(struct layer_weights, f), r, c, f32, p, n}

static const struct layer_tensor hf_layer[] = {
    LAYER_T(wq, DIM_QD, DIM_D, false, false, "self_attn.q_proj.weight"),
    LAYER_T(wk, DIM_KD, DIM_D, false, false, "self_attn.k_proj.weight"),
    LAYER_T(wv, DIM_KD, DIM_D, false, false, "self_attn.v_proj.weight"),
    LAYER_T(wo, DIM_D, DIM_QD, false, false, "self_attn.o_proj.weight"),
    LAYER_T(attn_norm, DIM_D, DIM_NONE, false, false,
	    "input_layernorm.weight"),
    LAYER_T(mlp_norm, DIM_D, DIM_NONE, false, false,
	    "post_attention_layernorm.weight"),
    LAYER_T(w_gate, DIM_F, DIM_D, false, false, "mlp.gate_proj.weight"),
    LAYER_T(w_up, DIM_F, DIM_D, false, false, "mlp.up_proj.weight"),
    LAYER_T(w_down, DIM_D, DIM_F, false, false, "mlp.down_proj.weight"),
};

static const struct layer_tensor gguf_layer[] = {
    LAYER_T(attn_norm, DIM_D, DIM_NONE, true, false, "attn_norm.weight"),
    LAYER_T(wq, DIM_QD, DIM_D, false, true, "attn_q.weight"),
    LAYER_T(wk, DIM_KD, DIM_D, false, true, "attn_k.weight"),
    LAYER_T(wv, DIM_KD, DIM_D, false, false, "attn_v.weight"),
    LAYER_T(wo, DIM_D, DIM_QD, false, false, "attn_output.weight"),
    LAYER_T(mlp_norm, DIM_D, DIM_NONE, true, false, "ffn_norm.weight"),
    LAYER_T(w_gate, DIM_F, DIM_D, false, false, "ffn_gate.weight"),
    LAYER_T(w_up, DIM_F, DIM_D, false, false, "ffn_up.weight"),
    LAYER_T(w_down, DIM_D, DIM_F, false, false, "ffn_down.weight"),
};

#define LAYER_TENSORS 9 /* the entries of hf_layer and gguf_layer */

/* Adds every layer's tensors in the order of spec (hf_layer or
 * gguf_layer); the permuted ones read through pc ((n_layers * 2), GGUF
 * only). */
static void tlist_add_layers(struct tlist *l, const struct model *m,
			     enum dtype dt, const struct layer_tensor *spec,
			     struct permute_ctx *pc)
{
	const struct config *c = &m->cfg;
	const int64_t dim[] = {
	    [DIM_NONE] = 0,
	    [DIM_D] = c->hidden_size,
	    [DIM_F] = c->intermediate_size,
	    [DIM_QD] = (int64_t)c->n_heads * c->head_dim,
	    [DIM_KD] = (int64_t)c->n_kv_heads * c->head_dim,
	};
	bool gguf = spec == gguf_layer;
	for (int i = 0; i < c->n_layers; i++) {
		const char *w = (const char *)&m->layers[i];
		int np = 0;
		for (int k = 0; k < LAYER_TENSORS; k++) {
			const struct layer_tensor *s = &spec[k];
			const float *data =
			    *(float *const *)(const void *)(w + s->field);
			enum dtype tdt = s->keep_f32 ? DTYPE_F32 : dt;
			int64_t r = dim[s->rows], cols = dim[s->cols];
			struct tensor_src *t =
			    gguf ? tlist_add(l, tdt, s->permute ? NULL : data,
					     r, cols, "blk.%d.%s", i, s->name)
				 : tlist_add(l, tdt, data, r, cols,
					     "model.layers.%d.%s", i, s->name);
			if (s->permute) {
				struct permute_ctx *p = &pc[2 * i + np++];
				*p = (struct permute_ctx){data, cols,
							  c->head_dim};
				t->fill = permute_fill;
				t->ctx = p;
			}
		}
	}
}

static int write_safetensors(const struct model *m, enum dtype dt,
			     const char *dir, const struct progress *prog,
			     struct err *e)
{
	const struct config *c = &m->cfg;
	int64_t V = c->vocab_size, d = c->hidden_size;
	struct tlist l;
	char path[PATH_MAX];
	int rc;
	if ((rc = path_join(path, sizeof path, dir, "model.safetensors", e)) ||
	    (rc = tlist_init(&l, (size_t)c->n_layers * LAYER_TENSORS + 3, e)))
		return rc;
	tlist_add(&l, dt, m->embed, V, d, "model.embed_tokens.weight");
	tlist_add(&l, dt, m->norm, d, 0, "model.norm.weight");
	if (!m->tied)
		tlist_add(&l, dt, m->lm_head, V, d, "lm_head.weight");
	tlist_add_layers(&l, m, dt, hf_layer, NULL);
	rc = safetensors_write(path, l.t, l.n, prog, e);
	tlist_free(&l);
	return rc;
}

/* ------------------------------------------------------------------ */
/* GGUF                                                                */

static int gguf_meta(struct gguf_writer *g, const struct model *m,
		     const struct tokenizer *tok, enum dtype dt,
		     const char *name, struct err *e)
{
	const struct config *c = &m->cfg;
	int rc;
	uint32_t ftype = dt == DTYPE_F16 ? 1 : dt == DTYPE_BF16 ? 32 : 0;
	if ((rc = gguf_add_str(g, "general.architecture", "llama", e)) ||
	    (rc = gguf_add_str(g, "general.name",
			       name && *name ? name : "punguza", e)) ||
	    (rc = gguf_add_u32(g, "general.alignment", GGUF_ALIGNMENT, e)) ||
	    (rc = gguf_add_u32(g, "general.file_type", ftype, e)) ||
	    (rc = gguf_add_u32(g, "llama.context_length",
			       (uint32_t)c->max_position_embeddings, e)) ||
	    (rc = gguf_add_u32(g, "llama.embedding_length",
			       (uint32_t)c->hidden_size, e)) ||
	    (rc = gguf_add_u32(g, "llama.block_count", (uint32_t)c->n_layers,
			       e)) ||
	    (rc = gguf_add_u32(g, "llama.feed_forward_length",
			       (uint32_t)c->intermediate_size, e)) ||
	    (rc = gguf_add_u32(g, "llama.rope.dimension_count",
			       (uint32_t)c->head_dim, e)) ||
	    (rc = gguf_add_u32(g, "llama.attention.head_count",
			       (uint32_t)c->n_heads, e)) ||
	    (rc = gguf_add_u32(g, "llama.attention.head_count_kv",
			       (uint32_t)c->n_kv_heads, e)) ||
	    (rc = gguf_add_f32(g, "llama.attention.layer_norm_rms_epsilon",
			       (float)c->rms_norm_eps, e)) ||
	    (rc = gguf_add_f32(g, "llama.rope.freq_base", (float)c->rope_theta,
			       e)) ||
	    (rc = gguf_add_u32(g, "llama.vocab_size", (uint32_t)c->vocab_size,
			       e)))
		return rc;
	if ((long)c->head_dim * c->n_heads != c->hidden_size &&
	    ((rc = gguf_add_u32(g, "llama.attention.key_length",
				(uint32_t)c->head_dim, e)) ||
	     (rc = gguf_add_u32(g, "llama.attention.value_length",
				(uint32_t)c->head_dim, e))))
		return rc;

	/* the vocabulary */
	int V = c->vocab_size;
	if (tok_vocab_size(tok) > V)
		return err_set(e, ERR_INVALID,
			       "gguf: the tokenizer has %d pieces, the model %d",
			       tok_vocab_size(tok), V);
	const char **s = calloc((size_t)V, sizeof *s);
	size_t *len = calloc((size_t)V, sizeof *len);
	float *score = calloc((size_t)V, sizeof *score);
	int32_t *type = calloc((size_t)V, sizeof *type);
	char (*pad)[24] = calloc((size_t)V, sizeof *pad);
	unsigned char *merged = calloc((size_t)V, 1);
	if (!s || !len || !score || !type || !pad || !merged) {
		rc = err_set(e, ERR_NOMEM, "gguf: out of memory");
		goto out;
	}
	/* score: a SentencePiece tokenizer's own scores; otherwise -(rank of
	 * the first merge producing the piece), so llama.cpp's score-ordered
	 * merging follows the merge ranks; pieces no merge produces rank
	 * after every merge. */
	size_t nm = tok_merge_count(tok);
	for (size_t r = 0; r < nm; r++) {
		int a, b, res;
		if (tok_merge(tok, r, &a, &b, &res) == 0 && res >= 0 &&
		    res < V && !merged[res]) {
			merged[res] = 1;
			score[res] = -(float)r;
		}
	}
	int unk = tok_unk_id(tok);
	for (int i = 0; i < V; i++) {
		size_t n = 0;
		const char *p = i < tok_vocab_size(tok) ? tok_piece(tok, i, &n)
							: NULL;
		if (!p) {
			snprintf(pad[i], sizeof pad[i], "[PAD%d]", i);
			s[i] = pad[i];
			len[i] = strlen(pad[i]);
			type[i] = 5; /* unused */
			score[i] = -(float)(nm + (size_t)i);
			continue;
		}
		s[i] = p;
		len[i] = n;
		if (i == unk)
			type[i] = 2;
		else if (tok_is_byte(tok, i))
			type[i] = 6;
		else if (tok_is_special(tok, i))
			type[i] = 3;
		else if (tok_is_added(tok, i))
			type[i] = 4;
		else
			type[i] = 1;
		float sc;
		if (type[i] != 1 && type[i] != 4)
			score[i] = 0;
		else if (tok_spm_score(tok, i, &sc))
			score[i] = sc; /* the tokenizer.model's own */
		else if (!merged[i])
			score[i] = -(float)(nm + (size_t)i);
	}
	if ((rc = gguf_add_str(g, "tokenizer.ggml.model", "llama", e)) ||
	    (rc = gguf_add_str_array(g, "tokenizer.ggml.tokens", s, len,
				     (size_t)V, e)) ||
	    (rc = gguf_add_f32_array(g, "tokenizer.ggml.scores", score,
				     (size_t)V, e)) ||
	    (rc = gguf_add_i32_array(g, "tokenizer.ggml.token_type", type,
				     (size_t)V, e)))
		goto out;
	if (tok_bos_id(tok) >= 0 &&
	    (rc = gguf_add_u32(g, "tokenizer.ggml.bos_token_id",
			       (uint32_t)tok_bos_id(tok), e)))
		goto out;
	if (tok_eos_id(tok) >= 0 &&
	    (rc = gguf_add_u32(g, "tokenizer.ggml.eos_token_id",
			       (uint32_t)tok_eos_id(tok), e)))
		goto out;
	if (unk >= 0 && (rc = gguf_add_u32(g, "tokenizer.ggml.unknown_token_id",
					   (uint32_t)unk, e)))
		goto out;
	if (c->pad_token_id >= 0 &&
	    (rc = gguf_add_u32(g, "tokenizer.ggml.padding_token_id",
			       (uint32_t)c->pad_token_id, e)))
		goto out;
	/* llama.cpp prepends a space unless told not to: say what the
	 * tokenizer does ("a" encodes to a piece starting with U+2581) */
	bool prefix = false;
	int *ids = NULL;
	size_t nid = 0;
	if (tok_encode(tok, "a", 1, false, &ids, &nid, NULL) == 0 && nid) {
		size_t pl = 0;
		const char *pc = tok_piece(tok, ids[0], &pl);
		prefix = pc && pl >= 3 && !memcmp(pc, "\xe2\x96\x81", 3);
	}
	free(ids);
	if ((rc = gguf_add_bool(g, "tokenizer.ggml.add_space_prefix", prefix,
				e)) ||
	    (rc = gguf_add_bool(g, "tokenizer.ggml.add_bos_token",
				tok_add_bos(tok), e)) ||
	    (rc = gguf_add_bool(g, "tokenizer.ggml.add_eos_token",
				tok_add_eos(tok), e)))
		goto out;
out:
	free(s);
	free(len);
	free(score);
	free(type);
	free(pad);
	free(merged);
	return rc;
}

static int write_gguf(const struct model *m, const struct export_opts *o,
		      const char *dir, const struct progress *prog,
		      struct err *e)
{
	const struct config *c = &m->cfg;
	int64_t V = c->vocab_size, d = c->hidden_size;
	enum dtype dt = o->dtype;
	struct gguf_writer *g = NULL;
	struct permute_ctx *pc = NULL;
	struct tlist l;
	char path[PATH_MAX];
	int rc;
	if (!o->tok)
		return err_set(e, ERR_INVALID,
			       "gguf: a tokenizer is needed (its vocabulary "
			       "goes into the file)");
	if ((rc = path_join(path, sizeof path, dir, "model.gguf", e)) ||
	    (rc = tlist_init(&l, (size_t)c->n_layers * LAYER_TENSORS + 3, e)))
		return rc;
	pc = calloc((size_t)c->n_layers * 2, sizeof *pc);
	if (!pc) {
		rc = err_set(e, ERR_NOMEM, "export: out of memory");
		goto out;
	}
	if ((rc = gguf_writer_new(&g, e)) ||
	    (rc = gguf_meta(g, m, o->tok, dt, o->name, e)))
		goto out;
	tlist_add(&l, dt, m->embed, V, d, "token_embd.weight");
	tlist_add(&l, DTYPE_F32, m->norm, d, 0, "output_norm.weight");
	if (!m->tied)
		tlist_add(&l, dt, m->lm_head, V, d, "output.weight");
	tlist_add_layers(&l, m, dt, gguf_layer, pc);
	rc = gguf_write(g, path, l.t, l.n, prog, e);
out:
	gguf_writer_free(g);
	free(pc);
	tlist_free(&l);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The whole export                                                    */

static int write_all(const struct model *m, const struct export_opts *o,
		     const char *tmp, const struct progress *prog,
		     struct err *e)
{
	static const char *const tok_files[] = {
	    "tokenizer.json", "tokenizer.model", "tokenizer_config.json",
	    "special_tokens_map.json"};
	int rc;
	if (o->formats & EXPORT_HF) {
		if ((rc = write_config(m, o->dtype, tmp, e)) ||
		    (rc = write_generation_config(m, o->src_dir, tmp, e)))
			return rc;
		if (o->keep && o->src_tok) {
			struct vocab_files vf;
			if ((rc = vocab_write_files(o->src_tok, o->keep, tmp,
						    &vf, e)))
				return rc;
			if (vf.warning[0])
				notes_add(o->notes, "warning: %s", vf.warning);
			if ((rc = write_tokenizer_config(o->src_dir, tmp,
							 o->keep, e)) ||
			    (rc = copy_file(o->src_dir, tmp,
					    "special_tokens_map.json", e)) < 0)
				return rc;
		} else {
			for (size_t i = 0; i < 4; i++)
				if ((rc = copy_file(o->src_dir, tmp,
						    tok_files[i], e)) < 0)
					return rc;
		}
		if ((rc = copy_file(o->src_dir, tmp, "vulavulaslm.py", e)) < 0)
			return rc;
		if (o->recipe) {
			char *json = NULL, path[PATH_MAX];
			if ((rc = recipe_to_json(o->recipe, &json, e)) ||
			    (rc = path_join(path, sizeof path, tmp,
					    "punguza.json", e))) {
				free(json);
				return rc;
			}
			size_t n = strlen(json);
			rc = file_write_atomic(path, json, n, e);
			free(json);
			if (rc)
				return rc;
		}
		if ((rc = write_safetensors(m, o->dtype, tmp, prog, e)))
			return rc;
	}
	if (o->formats & EXPORT_GGUF) {
		if (!(o->formats & EXPORT_HF) && o->recipe) {
			char *json = NULL, path[PATH_MAX];
			if ((rc = recipe_to_json(o->recipe, &json, e)) ||
			    (rc = path_join(path, sizeof path, tmp,
					    "punguza.json", e))) {
				free(json);
				return rc;
			}
			rc = file_write_atomic(path, json, strlen(json), e);
			free(json);
			if (rc)
				return rc;
		}
		if ((rc = write_gguf(m, o, tmp, prog, e)))
			return rc;
	}
	return 0;
}

int export_model(const struct model *m, const struct export_opts *o,
		 const struct progress *prog, struct err *e)
{
	char out[PATH_MAX], tmp[PATH_MAX + 16], old[PATH_MAX + 16];
	struct err e2 = {0};
	int rc;
	size_t n;
	if (!o->out_dir || !*o->out_dir)
		return err_set(e, ERR_INVALID, "export: no output directory");
	if (!(o->formats & (EXPORT_HF | EXPORT_GGUF)))
		return err_set(e, ERR_INVALID, "export: no format chosen");
	n = strlen(o->out_dir);
	while (n > 1 && o->out_dir[n - 1] == '/')
		n--;
	if (n >= sizeof out)
		return err_set(e, ERR_INVALID, "'%s': path too long", o->out_dir);
	memcpy(out, o->out_dir, n);
	out[n] = '\0';

	/* The source is never written: OUT may not be, hold or lie inside
	 * it, whether or not OUT exists yet. */
	bool exists;
	if ((rc = out_dir_check(out, o->src_dir, o->force, &exists, e)))
		return rc;
	/* best effort: an unreadable parent shows up in mkdtemp's error */
	export_remove_stale(out, o->notes, &e2);
	e2 = (struct err){0};
	snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", out);
	if (!mkdtemp(tmp))
		return err_errno(e, ERR_IO, "cannot create '%s'", tmp);
	mode_t um = umask(0);
	umask(um);
	chmod(tmp, 0777 & ~um);
	char marker[PATH_MAX];

	if ((rc = write_marker(tmp, e)) ||
	    (rc = path_join(marker, sizeof marker, tmp, EXPORT_MARKER, e)))
		goto fail;
	if ((rc = write_all(m, o, tmp, prog, e)))
		goto fail;
	if ((rc = progress_report(prog, 1.0, "finishing export", e)))
		goto fail;
	if (unlink(marker) < 0) {
		rc = err_errno(e, ERR_IO, "cannot remove '%s'", marker);
		goto fail;
	}
	if (exists) {
		snprintf(old, sizeof old, "%s.old-XXXXXX", out);
		if (!mkdtemp(old) || rmdir(old) < 0 || rename(out, old) < 0) {
			rc = err_errno(e, ERR_IO, "cannot move '%s' aside", out);
			goto fail;
		}
		if (rename(tmp, out) < 0) {
			rc = err_errno(e, ERR_IO, "cannot rename '%s' to '%s'",
				       tmp, out);
			rename(old, out);
			goto fail;
		}
		export_remove_tree(old, &e2); /* best effort */
	} else if (rename(tmp, out) < 0) {
		rc = err_errno(e, ERR_IO, "cannot rename '%s' to '%s'", tmp,
			       out);
		goto fail;
	}
	return 0;
fail:
	if (export_remove_tree(tmp, &e2) == 0)
		err_wrap(e, "export to '%s' failed (partial output removed)",
			 out);
	else
		err_wrap(e, "export to '%s' failed; could not remove '%s' (%s)",
			 out, tmp, e2.msg);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Source checksum                                                     */

struct fnv {
	uint64_t h;
};

static void fnv_add(struct fnv *f, const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = f->h;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	f->h = h;
}

static const struct weights *sort_w;

static int cmp_tensor_name(const void *a, const void *b)
{
	const struct tensor *x = weights_at(sort_w, *(const size_t *)a);
	const struct tensor *y = weights_at(sort_w, *(const size_t *)b);
	return strcmp(x->name, y->name);
}

int export_source_checksum(const struct model *m, char *buf, size_t cap,
			   const struct progress *prog, struct err *e)
{
	if (!m->w)
		return err_set(e, ERR_INVALID,
			       "checksum: the model was not loaded from files");
	size_t n = weights_count(m->w);
	size_t *ord = malloc((n ? n : 1) * sizeof *ord);
	if (!ord)
		return err_set(e, ERR_NOMEM, "checksum: out of memory");
	for (size_t i = 0; i < n; i++)
		ord[i] = i;
	sort_w = m->w;
	qsort(ord, n, sizeof *ord, cmp_tensor_name);
	uint64_t total = 0, done = 0;
	for (size_t i = 0; i < n; i++)
		total += weights_at(m->w, i)->nbytes;
	struct fnv f = {0xcbf29ce484222325ULL};
	int rc = 0;
	for (size_t k = 0; k < n && !rc; k++) {
		const struct tensor *t = weights_at(m->w, ord[k]);
		const char *dn = dtype_name(t->dtype);
		fnv_add(&f, t->name, strlen(t->name) + 1);
		fnv_add(&f, dn, strlen(dn) + 1);
		for (int d = 0; d < t->ndim; d++) {
			unsigned char b[8];
			for (int j = 0; j < 8; j++)
				b[j] = (unsigned char)((uint64_t)t->shape[d] >>
						       (8 * j));
			fnv_add(&f, b, 8);
		}
		const unsigned char *p = t->data;
		for (uint64_t at = 0; at < t->nbytes && !rc;
		     at += (uint64_t)1 << 24) {
			uint64_t c = t->nbytes - at < ((uint64_t)1 << 24)
					 ? t->nbytes - at
					 : (uint64_t)1 << 24;
			fnv_add(&f, p + at, (size_t)c);
			done += c;
			rc = progress_report(prog,
					     total ? (double)done / total : 1.0,
					     "checksumming the source", e);
		}
	}
	free(ord);
	if (!rc)
		snprintf(buf, cap, "fnv1a64:%016llx", (unsigned long long)f.h);
	return rc;
}
