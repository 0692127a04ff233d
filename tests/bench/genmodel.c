/*
 * genmodel — writes a random-weight model of the InkubaLM/Llama family, of
 * any geometry, for benchmarks:
 *
 *   genmodel OUTDIR [--preset inkubalm|tiny] [--vocab V --hidden D
 *            --inter F --layers L --heads H --kv-heads K] [--tied]
 *            [--no-shared-mlp] [--format safetensors|bin|both]
 *            [--dtype f32|bf16] [--seed S] [--tokenizer DIR]
 *
 * OUTDIR (created with its missing parents) gets config.json (with InkubaLM's auto_map, so shared-MLP mode,
 * unless --no-shared-mlp) and model.safetensors and/or pytorch_model.bin.
 * Like InkubaLM's checkpoint, a shared MLP is still stored once per layer
 * (identical copies). Weights are ~N(0, 0.02) (a sum of four uniforms),
 * norms are 1; every value is a pure function of (seed, tensor, index), so
 * the files are streamed chunk by chunk and never held in memory: the full
 * InkubaLM geometry (2.66 GB f32) needs a few MB of RAM. --tokenizer DIR
 * copies the tokenizer files found in DIR.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dtype.h"
#include "err.h"
#include "fileio.h"
#include "progress.h"
#include "safetensors.h"
#include "torchbin.h"
#include "weights.h"

struct geom {
	long V, d, f, L, H, K;
	int tied, shared;
};

struct gen {
	uint64_t seed; /* per tensor */
	int ones;      /* a norm: all 1 */
};

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t hash_name(uint64_t seed, const char *s)
{
	uint64_t h = 1469598103934665603ull ^ seed;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return splitmix(h);
}

/* ~N(0, 0.02): four 16-bit uniforms summed (Irwin-Hall, variance 1/3),
 * centred and scaled. */
static int fill(void *ctx, float *dst, uint64_t first, uint64_t count,
		struct err *e)
{
	(void)e;
	const struct gen *g = ctx;
	if (g->ones) {
		for (uint64_t i = 0; i < count; i++)
			dst[i] = 1.0f;
		return 0;
	}
	const float scale = 0.02f * 1.7320508f / 65536.0f;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t r = splitmix(g->seed + first + i);
		uint32_t s = (uint32_t)(r & 0xffff) +
			     (uint32_t)(r >> 16 & 0xffff) +
			     (uint32_t)(r >> 32 & 0xffff) + (uint32_t)(r >> 48);
		dst[i] = ((float)s - 2.0f * 65535.0f) * scale;
	}
	return 0;
}

static int report(void *ctx, double done, const char *stage)
{
	int *last = ctx;
	int pct = (int)(done * 100);
	if (pct / 10 != *last / 10 || pct == 100) {
		fprintf(stderr, "\rgenmodel: %s %3d%%", stage, pct);
		if (pct == 100)
			fputc('\n', stderr);
		*last = pct;
	}
	return 0;
}

static int write_config(const char *dir, const struct geom *g,
			const char *dtype, struct err *e)
{
	char buf[2048], path[4096];
	int n =
	    snprintf(buf, sizeof buf,
		     "{\n"
		     "  \"architectures\": [\"LlamaForCausalLM\"],\n"
		     "%s"
		     "  \"attention_bias\": false,\n"
		     "  \"bos_token_id\": 1,\n"
		     "  \"eos_token_id\": 2,\n"
		     "  \"hidden_act\": \"silu\",\n"
		     "  \"hidden_size\": %ld,\n"
		     "  \"initializer_range\": 0.02,\n"
		     "  \"intermediate_size\": %ld,\n"
		     "  \"max_position_embeddings\": 2048,\n"
		     "  \"model_type\": \"llama\",\n"
		     "  \"num_attention_heads\": %ld,\n"
		     "  \"num_hidden_layers\": %ld,\n"
		     "  \"num_key_value_heads\": %ld,\n"
		     "  \"rms_norm_eps\": 1e-05,\n"
		     "  \"rope_theta\": 10000.0,\n"
		     "  \"tie_word_embeddings\": %s,\n"
		     "  \"torch_dtype\": \"%s\",\n"
		     "  \"vocab_size\": %ld\n"
		     "}\n",
		     g->shared ? "  \"auto_map\": {\"AutoModelForCausalLM\": "
				 "\"vulavulaslm.VulavulaLlamaForCausalLM\"},\n"
			       : "",
		     g->d, g->f, g->H, g->L, g->K, g->tied ? "true" : "false",
		     dtype, g->V);
	if (path_join(path, sizeof path, dir, "config.json", e) < 0)
		return ERR_INVALID;
	return file_write_atomic(path, buf, (size_t)n, e);
}

static void copy_tokenizer(const char *from, const char *to)
{
	static const char *const files[] = {"tokenizer.json", "tokenizer.model",
					    "tokenizer_config.json",
					    "special_tokens_map.json"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char src[4096], dst[4096], *buf;
		size_t len;
		struct err e;
		if (path_join(src, sizeof src, from, files[i], &e) < 0 ||
		    path_join(dst, sizeof dst, to, files[i], &e) < 0 ||
		    !path_exists(src))
			continue;
		if (file_read_all(src, (size_t)256 << 20, &buf, &len, &e) < 0 ||
		    file_write_atomic(dst, buf, len, &e) < 0)
			fprintf(stderr, "genmodel: %s\n", e.msg);
		else
			free(buf);
	}
}

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: genmodel OUTDIR [--preset inkubalm|tiny] [--vocab V] "
		"[--hidden D]\n"
		"         [--inter F] [--layers L] [--heads H] [--kv-heads K] "
		"[--tied]\n"
		"         [--no-shared-mlp] [--format safetensors|bin|both]\n"
		"         [--dtype f32|bf16] [--seed S] [--tokenizer DIR]\n");
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* mkdir -p: creates path and its missing parents (0 or -1 with errno). */
static int mkdir_p(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof buf) {
		errno = n ? ENAMETOOLONG : ENOENT;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		struct stat st;
		if (mkdir(buf, 0777) < 0 &&
		    (errno != EEXIST || stat(buf, &st) < 0 ||
		     !S_ISDIR(st.st_mode))) {
			if (errno == EEXIST)
				errno = ENOTDIR;
			return -1;
		}
		buf[i] = c;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct geom g = {61788, 2048, 5632, 8, 32, 32, 0, 1};
	const char *out = NULL, *format = "safetensors", *tok = NULL;
	enum dtype dt = DTYPE_F32;
	uint64_t seed = 42;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		long *num = NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--tied") == 0) {
			g.tied = 1;
			continue;
		} else if (strcmp(a, "--no-shared-mlp") == 0) {
			g.shared = 0;
			continue;
		} else if (a[0] != '-') {
			out = a;
			continue;
		}
		if (!v) {
			usage(stderr);
			return 2;
		}
		i++;
		if (strcmp(a, "--preset") == 0) {
			if (strcmp(v, "tiny") == 0) {
				struct geom t = {512, 64, 176, 2, 4, 4, 0, 1};
				g = t;
			} else if (strcmp(v, "inkubalm") != 0) {
				fprintf(stderr,
					"genmodel: unknown preset "
					"'%s'\n",
					v);
				return 2;
			}
		} else if (strcmp(a, "--vocab") == 0) {
			num = &g.V;
		} else if (strcmp(a, "--hidden") == 0) {
			num = &g.d;
		} else if (strcmp(a, "--inter") == 0) {
			num = &g.f;
		} else if (strcmp(a, "--layers") == 0) {
			num = &g.L;
		} else if (strcmp(a, "--heads") == 0) {
			num = &g.H;
		} else if (strcmp(a, "--kv-heads") == 0) {
			num = &g.K;
		} else if (strcmp(a, "--format") == 0) {
			format = v;
		} else if (strcmp(a, "--dtype") == 0) {
			if (dtype_parse(v, &dt) < 0 || dt == DTYPE_F16) {
				fprintf(stderr, "genmodel: --dtype is f32 or "
						"bf16\n");
				return 2;
			}
		} else if (strcmp(a, "--seed") == 0) {
			seed = strtoull(v, NULL, 10);
		} else if (strcmp(a, "--tokenizer") == 0) {
			tok = v;
		} else {
			usage(stderr);
			return 2;
		}
		if (num) {
			char *end;
			*num = strtol(v, &end, 10);
			if (*end || *num <= 0 || *num > (1L << 24)) {
				fprintf(stderr,
					"genmodel: bad value '%s' for "
					"%s\n",
					v, a);
				return 2;
			}
		}
	}
	int st =
	    strcmp(format, "safetensors") == 0 || strcmp(format, "both") == 0;
	int bin = strcmp(format, "bin") == 0 || strcmp(format, "both") == 0;
	if (!out || (!st && !bin)) {
		usage(stderr);
		return 2;
	}
	if (g.d % g.H || g.H % g.K || (g.d / g.H) % 2) {
		fprintf(stderr, "genmodel: heads must divide hidden (even "
				"head_dim) and kv-heads divide heads\n");
		return 2;
	}
	if (mkdir_p(out) < 0) {
		perror(out);
		return 1;
	}
	long hd = g.d / g.H, kvd = hd * g.K;
	size_t cap = (size_t)(3 + 9 * g.L);
	struct tensor_src *t = calloc(cap, sizeof *t);
	struct gen *gens = calloc(cap, sizeof *gens);
	char(*names)[96] = calloc(cap, sizeof *names);
	if (!t || !gens || !names) {
		fprintf(stderr, "genmodel: out of memory\n");
		return 1;
	}
	size_t n = 0;
	uint64_t params = 0;
#define ADD(NAME_FMT, LAYER, R, C, ONES, SEEDNAME)                             \
	do {                                                                   \
		snprintf(names[n], sizeof names[n], NAME_FMT, LAYER);          \
		t[n].name = names[n];                                          \
		t[n].dtype = dt;                                               \
		t[n].ndim = (C) ? 2 : 1;                                       \
		t[n].shape[0] = (R);                                           \
		t[n].shape[1] = (C);                                           \
		t[n].fill = fill;                                              \
		gens[n].ones = (ONES);                                         \
		gens[n].seed = hash_name(seed, SEEDNAME);                      \
		t[n].ctx = &gens[n];                                           \
		params += (uint64_t)(R) * (uint64_t)((C) ? (C) : 1);           \
		n++;                                                           \
	} while (0)
	ADD("model.embed_tokens.weight%.0d", 0, g.V, g.d, 0,
	    "model.embed_tokens.weight");
	for (long l = 0; l < g.L; l++) {
		char mlp[3][96];
		static const char *const m[3] = {"gate_proj", "up_proj",
						 "down_proj"};
		for (int k = 0; k < 3; k++)
			/* a shared MLP: every layer's copy identical */
			snprintf(mlp[k], sizeof mlp[k], "mlp.%s.%ld", m[k],
				 g.shared ? -1L : l);
		ADD("model.layers.%ld.self_attn.q_proj.weight", l, g.d, g.d, 0,
		    names[n]);
		ADD("model.layers.%ld.self_attn.k_proj.weight", l, kvd, g.d, 0,
		    names[n]);
		ADD("model.layers.%ld.self_attn.v_proj.weight", l, kvd, g.d, 0,
		    names[n]);
		ADD("model.layers.%ld.self_attn.o_proj.weight", l, g.d, g.d, 0,
		    names[n]);
		ADD("model.layers.%ld.mlp.gate_proj.weight", l, g.f, g.d, 0,
		    mlp[0]);
		ADD("model.layers.%ld.mlp.up_proj.weight", l, g.f, g.d, 0,
		    mlp[1]);
		ADD("model.layers.%ld.mlp.down_proj.weight", l, g.d, g.f, 0,
		    mlp[2]);
		ADD("model.layers.%ld.input_layernorm.weight", l, g.d, 0, 1,
		    "");
		ADD("model.layers.%ld.post_attention_layernorm.weight", l, g.d,
		    0, 1, "");
	}
	ADD("model.norm.weight%.0d", 0, g.d, 0, 1, "");
	if (!g.tied)
		ADD("lm_head.weight%.0d", 0, g.V, g.d, 0, "lm_head.weight");
	struct err e;
	const char *dtname = dt == DTYPE_F32 ? "float32" : "bfloat16";
	if (write_config(out, &g, dtname, &e) < 0) {
		fprintf(stderr, "genmodel: %s\n", e.msg);
		return 1;
	}
	if (tok)
		copy_tokenizer(tok, out);
	char path[4096];
	uint64_t st_bytes = 0, bin_bytes = 0;
	double t0 = now(), t_st = 0, t_bin = 0;
	int last = -1;
	struct progress prog = {.fn = report, .ctx = &last};
	if (st) {
		if (path_join(path, sizeof path, out, "model.safetensors", &e) <
			0 ||
		    safetensors_write(path, t, n, &prog, &e) < 0) {
			fprintf(stderr, "\ngenmodel: %s\n", e.msg);
			return 1;
		}
		struct stat sb;
		if (stat(path, &sb) == 0)
			st_bytes = (uint64_t)sb.st_size;
		t_st = now() - t0;
	}
	if (bin) {
		double t1 = now();
		last = -1;
		if (path_join(path, sizeof path, out, "pytorch_model.bin", &e) <
			0 ||
		    torchbin_write(path, t, n, NULL, &prog, &e) < 0) {
			fprintf(stderr, "\ngenmodel: %s\n", e.msg);
			return 1;
		}
		struct stat sb;
		if (stat(path, &sb) == 0)
			bin_bytes = (uint64_t)sb.st_size;
		t_bin = now() - t1;
	}
	printf("genmodel: %s V=%ld d=%ld f=%ld L=%ld heads=%ld kv=%ld %s%s "
	       "dtype=%s tensors=%zu stored_params=%llu safetensors_bytes=%llu "
	       "(%.1f s) bin_bytes=%llu (%.1f s)\n",
	       out, g.V, g.d, g.f, g.L, g.H, g.K, g.shared ? "shared-mlp" : "",
	       g.tied ? " tied" : "", dtname, n, (unsigned long long)params,
	       (unsigned long long)st_bytes, t_st,
	       (unsigned long long)bin_bytes, t_bin);
	free(t);
	free(gens);
	free(names);
	return 0;
}
