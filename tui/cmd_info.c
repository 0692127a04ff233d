/* punguza info DIR — a model's config, weights file, tensors (grouped over
 * layers) and parameter breakdown (DESIGN §1.2). A directory with a
 * config.json but no weights shows the config part only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "fileio.h"
#include "model.h"
#include "weights.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: punguza info DIR\n\n"
	    "Shows the model in DIR: config (geometry, shared MLP, tied\n"
	    "embeddings), weights file and tensors, parameter breakdown.\n");
}

/* 1234567 -> "1,234,567" into buf (>= 32 bytes). */
static const char *commas(uint64_t v, char *buf)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v), o = 0;
	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}

static void print_params(const struct config *c)
{
	struct param_breakdown p;
	char b[32];
	config_params(c, &p);
	double tot = p.total ? (double)p.total : 1;
	printf("parameters  %s", commas(p.total, b));
	printf(" (DESIGN §1.2: shared MLP once, tied embeddings once)\n");
	struct {
		const char *name;
		uint64_t v;
	} rows[] = {
	    {"embed", p.embed}, {"lm_head", p.lm_head}, {"attention", p.attn},
	    {"  q", p.attn_q},	{"  k", p.attn_k},	{"  v", p.attn_v},
	    {"  o", p.attn_o},	{"mlp", p.mlp},		{"norms", p.norms},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		printf("  %-10s %15s  %5.1f%%\n", rows[i].name,
		       commas(rows[i].v, b), 100.0 * (double)rows[i].v / tot);
}

static void print_config(const struct config *c)
{
	printf("type        %s\n", c->model_type);
	printf("geometry    vocab %d, hidden %d, intermediate %d, layers %d\n",
	       c->vocab_size, c->hidden_size, c->intermediate_size,
	       c->n_layers);
	printf("attention   %d heads, %d key/value heads%s, head_dim %d\n",
	       c->n_heads, c->n_kv_heads,
	       c->n_kv_heads < c->n_heads ? " (grouped)" : "", c->head_dim);
	printf("rope        theta %g, rms_norm_eps %g, max positions %d\n",
	       c->rope_theta, c->rms_norm_eps, c->max_position_embeddings);
	int ids[3] = {c->bos_token_id, c->eos_token_id, c->pad_token_id};
	const char *names[3] = {"bos", "eos", "pad"};
	printf("tokens     ");
	for (int i = 0; i < 3; i++) {
		if (ids[i] >= 0)
			printf(" %s %d%s", names[i], ids[i], i < 2 ? "," : "");
		else
			printf(" %s none%s", names[i], i < 2 ? "," : "");
	}
	printf("\n");
}

/* A tensor name with its layer index replaced by '*'. */
static void group_key(const char *name, char *out, size_t cap, int *layer)
{
	const char *p = strstr(name, "layers.");
	*layer = -1;
	if (!p) {
		snprintf(out, cap, "%s", name);
		return;
	}
	const char *q = p + 7, *r = q;
	while (*r >= '0' && *r <= '9')
		r++;
	if (r == q) {
		snprintf(out, cap, "%s", name);
		return;
	}
	*layer = atoi(q);
	snprintf(out, cap, "%.*s*%s", (int)(q - name), name, r);
}

struct group {
	char key[160];
	enum dtype dtype;
	int ndim;
	int64_t shape[TENSOR_MAX_DIMS];
	int count, lo, hi;
};

static void print_tensors(const struct weights *w)
{
	size_t n = weights_count(w);
	struct group *g = calloc(n ? n : 1, sizeof *g);
	size_t ng = 0, by_dtype[3] = {0};
	if (!g)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct tensor *t = weights_at(w, i);
		char key[160];
		int layer;
		group_key(t->name, key, sizeof key, &layer);
		if ((unsigned)t->dtype < 3)
			by_dtype[t->dtype]++;
		size_t j;
		for (j = 0; j < ng; j++)
			if (!strcmp(g[j].key, key) && g[j].dtype == t->dtype &&
			    g[j].ndim == t->ndim &&
			    !memcmp(g[j].shape, t->shape,
				    sizeof(int64_t) * (size_t)t->ndim))
				break;
		if (j == ng) {
			snprintf(g[j].key, sizeof g[j].key, "%s", key);
			g[j].dtype = t->dtype;
			g[j].ndim = t->ndim;
			memcpy(g[j].shape, t->shape, sizeof g[j].shape);
			g[j].lo = g[j].hi = layer;
			ng++;
		}
		g[j].count++;
		if (layer >= 0 && layer < g[j].lo)
			g[j].lo = layer;
		if (layer > g[j].hi)
			g[j].hi = layer;
	}
	printf("tensors     %zu (", n);
	const char *sep = "";
	for (int d = 0; d < 3; d++)
		if (by_dtype[d]) {
			printf("%s%s %zu", sep, dtype_name((enum dtype)d),
			       by_dtype[d]);
			sep = ", ";
		}
	printf(")\n");
	for (size_t j = 0; j < ng; j++) {
		char shape[96];
		size_t o = 0;
		o += (size_t)snprintf(shape, sizeof shape, "[");
		for (int k = 0; k < g[j].ndim && o < sizeof shape; k++)
			o += (size_t)snprintf(shape + o, sizeof shape - o,
					      "%s%" PRId64, k ? ", " : "",
					      g[j].shape[k]);
		if (o < sizeof shape)
			snprintf(shape + o, sizeof shape - o, "]");
		if (g[j].lo >= 0)
			printf("  %-48s %-4s %-14s x%d (layers %d-%d)\n",
			       g[j].key, dtype_name(g[j].dtype), shape,
			       g[j].count, g[j].lo, g[j].hi);
		else
			printf("  %-48s %-4s %s\n", g[j].key,
			       dtype_name(g[j].dtype), shape);
	}
	free(g);
}

static int has_weights(const char *dir)
{
	static const char *names[] = {
	    "model.safetensors", "model.safetensors.index.json",
	    "pytorch_model.bin", "pytorch_model.bin.index.json"};
	char p[4096];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!path_join(p, sizeof p, dir, names[i], NULL) &&
		    path_exists(p))
			return 1;
	return 0;
}

int cmd_info(int argc, char **argv)
{
	if (argc == 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		usage(stderr);
		return 2;
	}
	const char *dir = argv[1];
	struct err e = {0};
	char b[32];
	if (!has_weights(dir)) {
		struct config c;
		if (config_load(dir, &c, &e)) {
			fprintf(stderr, "punguza: %s\n", e.msg);
			return 1;
		}
		printf("model       %s\n", dir);
		printf("weights     none (config only)\n");
		print_config(&c);
		printf("mlp         %s\n",
		       c.shared_mlp ? "shared (one MLP for every layer)"
				    : "per layer");
		printf("embeddings  %s\n", c.tie_word_embeddings
					       ? "tied (lm_head = embedding)"
					       : "untied");
		print_params(&c);
		config_free(&c);
		return 0;
	}
	struct model *m;
	if (model_load(dir, &m, NULL, &e)) {
		fprintf(stderr, "punguza: %s\n", e.msg);
		return 1;
	}
	const struct config *c = &m->cfg;
	printf("model       %s\n", dir);
	printf("weights     %s, %s bytes\n", weights_format(m->w),
	       commas(weights_file_bytes(m->w), b));
	print_config(c);
	if (c->shared_mlp)
		printf("mlp         shared (one MLP for every layer, from "
		       "%s)\n",
		       m->shared_mlp_source);
	else
		printf("mlp         per layer\n");
	printf("embeddings  %s\n",
	       m->tied ? "tied (lm_head = embedding)" : "untied");
	print_params(c);
	printf("memory      %s bytes converted to f32 (the rest is used in "
	       "place)\n",
	       commas(m->owned_bytes, b));
	print_tensors(m->w);
	if (m->note[0])
		printf("note        %s\n", m->note);
	model_free(m);
	return 0;
}
