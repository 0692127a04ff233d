/* torch_plan — the token file and torchrun command that continue a heal
 * in PyTorch (torch_plan.h). */
#include "torch_plan.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "eval.h"
#include "fileio.h"
#include "recipe.h"
#include "tokenizer.h"

#define CORPUS_MAX_BYTES ((size_t)1 << 31) /* per file, as heal reads */
#define MAX_CORPUS 16			   /* RECIPE_HEAL_MAX_DATA */

/* ---- the plan ---------------------------------------------------- */

static uint64_t fnv1a64(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Non-empty lines as eval_encode_lines counts them (a CR before the
 * newline is not content). */
static uint64_t count_lines(const char *p, size_t len)
{
	uint64_t n = 0;
	const char *end = p + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (ll && p[ll - 1] == '\r')
			ll--;
		n += ll > 0;
		p = nl ? nl + 1 : end;
	}
	return n;
}

/* Shortest "%g" that reads back as v. */
static void fmt_num(char *buf, size_t cap, double v)
{
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(buf, cap, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* Appends s to buf (cap) shell-quoted when it needs quoting; -1 when it
 * does not fit. */
static int add_word(char *buf, size_t cap, const char *s)
{
	size_t at = strlen(buf);
	bool plain = *s != '\0';
	for (const char *c = s; *c; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789_-+=./,:@%",
			    *c))
			plain = false;
	char *w = buf + at;
	size_t room = cap - at;
	if (at && room > 1) {
		*w++ = ' ';
		room--;
	}
	if (plain) {
		if (strlen(s) + 1 > room)
			return -1;
		memcpy(w, s, strlen(s) + 1);
		return 0;
	}
	size_t k = 0;
	if (room < 3)
		return -1;
	w[k++] = '\'';
	for (const char *c = s; *c; c++) {
		if (*c == '\'') {
			if (k + 5 >= room)
				return -1;
			memcpy(w + k, "'\\''", 4);
			k += 4;
		} else {
			if (k + 2 >= room)
				return -1;
			w[k++] = *c;
		}
	}
	w[k++] = '\'';
	w[k] = '\0';
	return 0;
}

static int add_opt(char *buf, size_t cap, const char *opt, const char *val)
{
	return add_word(buf, cap, opt) || (val && add_word(buf, cap, val)) ? -1
									   : 0;
}

static int add_num(char *buf, size_t cap, const char *opt, double v)
{
	char s[40];
	fmt_num(s, sizeof s, v);
	return add_opt(buf, cap, opt, s);
}

static int add_u64(char *buf, size_t cap, const char *opt, uint64_t v)
{
	char s[32];
	snprintf(s, sizeof s, "%llu", (unsigned long long)v);
	return add_opt(buf, cap, opt, s);
}

static int mkdir_p(const char *dir, struct err *e)
{
	char tmp[4096];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof tmp)
		return err_set(e, ERR_INVALID, "bad directory name '%s'", dir);
	memcpy(tmp, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		char c = tmp[i];
		tmp[i] = '\0';
		if (mkdir(tmp, 0777) && errno != EEXIST)
			return err_set(e, ERR_IO, "cannot create '%s': %s", tmp,
				       strerror(errno));
		tmp[i] = c;
	}
	if (!path_is_dir(dir))
		return err_set(e, ERR_IO, "'%s' is not a directory", dir);
	return 0;
}

/* The ids file: header (JSON, space-padded to 8 bytes), then the tokens
 * as little-endian int32, written to a temporary and renamed. */
static int write_ids(const char *path, const int *ids, size_t n,
		     const char *meta_json, struct err *e)
{
	int rc = 0;
	cJSON *root = cJSON_Parse(meta_json), *t = NULL, *a;
	char *hdr = NULL;
	if (!root)
		return err_set(e, ERR_NOMEM, "heal --plan-torch: out of memory");
	/* __metadata__ is the first key, as the reference writer puts it */
	if (!(t = cJSON_AddObjectToObject(root, "tokens")) ||
	    !cJSON_AddStringToObject(t, "dtype", "I32") ||
	    !(a = cJSON_AddArrayToObject(t, "shape")) ||
	    !cJSON_AddItemToArray(a, cJSON_CreateNumber((double)n)) ||
	    !(a = cJSON_AddArrayToObject(t, "data_offsets")) ||
	    !cJSON_AddItemToArray(a, cJSON_CreateNumber(0)) ||
	    !cJSON_AddItemToArray(a, cJSON_CreateNumber(4.0 * (double)n)) ||
	    !(hdr = cJSON_PrintUnformatted(root))) {
		cJSON_Delete(root);
		return err_set(e, ERR_NOMEM, "heal --plan-torch: out of memory");
	}
	cJSON_Delete(root);
	size_t hl = strlen(hdr), pad = (8 - hl % 8) % 8;
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		free(hdr);
		return err_set(e, ERR_IO, "cannot create '%s': %s", tmp,
			       strerror(errno));
	}
	mode_t um = umask(0);
	umask(um);
	(void)fchmod(fd, 0666 & ~um);
	FILE *f = fdopen(fd, "wb");
	if (!f) {
		close(fd);
		unlink(tmp);
		free(hdr);
		return err_set(e, ERR_IO, "cannot open '%s': %s", tmp,
			       strerror(errno));
	}
	unsigned char le[8];
	uint64_t H = hl + pad;
	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(H >> (8 * i));
	bool bad = fwrite(le, 1, 8, f) != 8 || fwrite(hdr, 1, hl, f) != hl;
	for (size_t i = 0; i < pad && !bad; i++)
		bad = fputc(' ', f) == EOF;
	free(hdr);
	unsigned char buf[4096];
	for (size_t i = 0; i < n && !bad;) {
		size_t k = 0;
		for (; k < sizeof buf / 4 && i < n; k++, i++) {
			uint32_t v = (uint32_t)ids[i];
			buf[4 * k] = (unsigned char)v;
			buf[4 * k + 1] = (unsigned char)(v >> 8);
			buf[4 * k + 2] = (unsigned char)(v >> 16);
			buf[4 * k + 3] = (unsigned char)(v >> 24);
		}
		bad = fwrite(buf, 4, k, f) != k;
	}
	if (!bad)
		bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
	int saved = errno;
	if (fclose(f) != 0 && !bad) {
		bad = true;
		saved = errno;
	}
	if (!bad && rename(tmp, path) != 0) {
		bad = true;
		saved = errno;
	}
	if (bad) {
		unlink(tmp);
		rc = err_set(e, ERR_IO, "cannot write '%s': %s", path,
			     strerror(saved));
	}
	return rc;
}

int torch_plan_write(const struct torch_plan *p, struct torch_plan_result *r,
		     const struct progress *prog, struct err *e)
{
	memset(r, 0, sizeof *r);
	const struct torch_plan_hp *h = &p->hp;
	if (p->n_corpus < 1 || p->n_corpus > MAX_CORPUS)
		return err_set(e, ERR_INVALID,
			       "heal --plan-torch: heal.py needs 1 to %d corpus files "
			       "(data-free healing stays in punguza heal)",
			       MAX_CORPUS);
	if (h->steps < 1 || h->batch < 1 || h->ctx < 2 || p->nproc < 1)
		return err_set(e, ERR_INVALID,
			       "heal --plan-torch: steps, batch and processes must be "
			       ">= 1 and ctx >= 2");
	if (h->batch % p->nproc)
		return err_set(e, ERR_INVALID,
			       "heal --plan-torch: batch %d is not a multiple of the "
			       "%d processes",
			       h->batch, p->nproc);
	if (h->kd_weight > 0 && !p->teacher_dir)
		return err_set(e, ERR_INVALID,
			       "heal --plan-torch: distillation (kd weight %g) needs "
			       "a teacher",
			       h->kd_weight);
	char script[4096];
	if (p->script)
		snprintf(script, sizeof script, "%s", p->script);
	else
		return err_set(e, ERR_NOTFOUND,
			       "heal --plan-torch: cannot find torch/heal.py in the "
			       "assets (set PUNGUZA_ASSETS)");
	struct config cfg;
	char cpath[4096];
	int rc = path_join(cpath, sizeof cpath, p->student_dir, "config.json",
			   e);
	if (rc || (rc = config_load(cpath, &cfg, e)))
		return rc;
	int V = cfg.vocab_size, mp = cfg.max_position_embeddings;
	config_free(&cfg);
	if (!rc && p->teacher_dir &&
	    !(rc = path_join(cpath, sizeof cpath, p->teacher_dir,
			     "config.json", e)) &&
	    !(rc = config_load(cpath, &cfg, e))) {
		if (cfg.max_position_embeddings < mp)
			mp = cfg.max_position_embeddings;
		config_free(&cfg);
	}
	if (rc)
		return rc;
	if (h->ctx > mp)
		return err_set(e, ERR_INVALID,
			       "heal --plan-torch: context %d exceeds the models' "
			       "positions (%d)",
			       h->ctx, mp);

	/* the stream, file by file, as heal_data_corpus builds it */
	int *all = NULL;
	size_t n = 0;
	cJSON *sources = cJSON_CreateArray();
	if (!sources)
		return err_set(e, ERR_NOMEM, "heal --plan-torch: out of memory");
	for (int i = 0; i < p->n_corpus && !rc; i++) {
		char *text = NULL;
		size_t len = 0, k = 0;
		int *v = NULL;
		if ((rc = progress_report(prog, (double)i / p->n_corpus,
					  "tokenizing", e)) ||
		    (rc = file_read_all(p->corpus[i], CORPUS_MAX_BYTES, &text,
					&len, e)))
			break;
		char ck[40];
		snprintf(ck, sizeof ck, "fnv1a64:%016llx",
			 (unsigned long long)fnv1a64(text, len));
		const char *base = strrchr(p->corpus[i], '/');
		base = base && base[1] ? base + 1 : p->corpus[i];
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(sources, o) ||
		    !cJSON_AddStringToObject(o, "name", base) ||
		    !cJSON_AddNumberToObject(o, "bytes", (double)len) ||
		    !cJSON_AddStringToObject(o, "checksum", ck)) {
			free(text);
			rc = err_set(e, ERR_NOMEM, "heal --plan-torch: out of memory");
			break;
		}
		r->bytes += len;
		r->documents += h->whole_text ? 1 : count_lines(text, len);
		rc = h->whole_text ? tok_encode(p->tok, text, len, true, &v, &k, e)
				   : eval_encode_lines(p->tok, text, len, &v,
						       &k, e);
		free(text);
		if (rc) {
			err_wrap(e, "'%s'", p->corpus[i]);
			break;
		}
		int *na = k ? realloc(all, (n + k) * sizeof *na) : all;
		if (k && !na) {
			free(v);
			rc = err_set(e, ERR_NOMEM, "heal --plan-torch: out of memory");
			break;
		}
		all = na;
		if (k)
			memcpy(all + n, v, k * sizeof *v);
		n += k;
		free(v);
	}
	for (size_t i = 0; !rc && i < n; i++)
		if (all[i] < 0 || all[i] >= V)
			rc = err_set(e, ERR_INVALID,
				     "heal --plan-torch: token id %d is outside the "
				     "student's vocabulary (%d)",
				     all[i], V);
	if (!rc && n < (size_t)h->ctx)
		rc = err_set(e, ERR_INVALID,
			     "heal --plan-torch: the corpus has %zu tokens, fewer "
			     "than one sequence of %d",
			     n, h->ctx);
	char *src_json = rc ? NULL : cJSON_PrintUnformatted(sources);
	cJSON_Delete(sources);
	if (!rc && !src_json)
		rc = err_set(e, ERR_NOMEM, "heal --plan-torch: out of memory");
	if (!rc)
		rc = mkdir_p(p->plan_dir, e);
	if (!rc)
		rc = path_join(r->ids_path, sizeof r->ids_path, p->plan_dir,
			       "train.ids", e);
	if (!rc) {
		cJSON *root = cJSON_CreateObject(), *m;
		char num[4][32];
		snprintf(num[0], 32, "%d", V);
		snprintf(num[1], 32, "%llu", (unsigned long long)r->documents);
		snprintf(num[2], 32, "%d", tok_bos_id(p->tok));
		snprintf(num[3], 32, "%d", tok_eos_id(p->tok));
		char *meta = NULL;
		if (root && (m = cJSON_AddObjectToObject(root, "__metadata__")) &&
		    cJSON_AddStringToObject(m, "format", "punguza-ids") &&
		    cJSON_AddStringToObject(m, "version", "1") &&
		    cJSON_AddStringToObject(m, "vocab_size", num[0]) &&
		    cJSON_AddStringToObject(m, "documents", num[1]) &&
		    cJSON_AddStringToObject(m, "mode", h->whole_text ? "whole"
								     : "lines") &&
		    cJSON_AddStringToObject(m, "bos", num[2]) &&
		    cJSON_AddStringToObject(m, "eos", num[3]) &&
		    cJSON_AddStringToObject(m, "sources", src_json))
			meta = cJSON_PrintUnformatted(root);
		cJSON_Delete(root);
		rc = meta ? write_ids(r->ids_path, all, n, meta, e)
			  : err_set(e, ERR_NOMEM, "heal --plan-torch: out of memory");
		free(meta);
	}
	free(src_json);
	free(all);
	if (rc)
		return rc;
	r->tokens = n;

	/* the command */
	int warmup = h->warmup;
	if (warmup < 0) {
		uint64_t w = h->steps / 20;
		warmup = (int)(w < 1 ? 1 : w > 100 ? 100 : w);
	}
	char np[16];
	snprintf(np, sizeof np, "%d", p->nproc);
	char *c = r->command;
	size_t cap = sizeof r->command;
	c[0] = '\0';
	/* --redirects 1 --tee 1: rank 0's stdout teed to the console; the
	 * default ("0") crashes torchrun 1.13 under Python 3.11 (Debian 12),
	 * and these values work with every torchrun */
	bool bad = add_word(c, cap, "torchrun") ||
		   add_opt(c, cap, "--standalone", NULL) ||
		   add_opt(c, cap, "--nproc_per_node", np) ||
		   add_opt(c, cap, "--redirects", "1") ||
		   add_opt(c, cap, "--tee", "1") || add_word(c, cap, script);
	if (p->teacher_dir)
		bad |= add_opt(c, cap, "--teacher", p->teacher_dir) != 0;
	bad |= add_opt(c, cap, "--student", p->student_dir) ||
	       add_opt(c, cap, "--ids", r->ids_path) ||
	       add_opt(c, cap, "-o", p->out_dir) ||
	       add_u64(c, cap, "--steps", h->steps) ||
	       add_u64(c, cap, "--batch", (uint64_t)h->batch) ||
	       add_u64(c, cap, "--ctx", (uint64_t)h->ctx) ||
	       add_num(c, cap, "--lr", h->lr) ||
	       add_u64(c, cap, "--warmup", (uint64_t)warmup) ||
	       add_num(c, cap, "--min-lr-ratio", h->min_lr_ratio) ||
	       add_num(c, cap, "--beta1", h->beta1) ||
	       add_num(c, cap, "--beta2", h->beta2) ||
	       add_num(c, cap, "--eps", h->eps) ||
	       add_num(c, cap, "--weight-decay", h->weight_decay) ||
	       add_num(c, cap, "--clip", h->clip) ||
	       add_num(c, cap, "--temperature", h->temperature) ||
	       add_num(c, cap, "--kd-weight", h->kd_weight) ||
	       add_u64(c, cap, "--seed", h->seed);
	if (bad)
		return err_set(e, ERR_INVALID,
			       "heal --plan-torch: the command is longer than %zu "
			       "characters",
			       cap - 1);
	char sh[4200], *body = NULL;
	if ((rc = path_join(sh, sizeof sh, p->plan_dir, "torchrun.sh", e)))
		return rc;
	size_t bl = strlen(c) + 256;
	if (!(body = malloc(bl)))
		return err_set(e, ERR_NOMEM, "heal --plan-torch: out of memory");
	snprintf(body, bl,
		 "#!/bin/sh\n# written by punguza heal --plan-torch: continue this "
		 "heal in PyTorch (README: \"When your model\n# outgrows this "
		 "machine\"); set --nproc_per_node to your GPU count.\nset "
		 "-e\n%s\n",
		 c);
	rc = file_write_atomic(sh, body, strlen(body), e);
	free(body);
	if (!rc && chmod(sh, 0755) != 0)
		rc = err_set(e, ERR_IO, "cannot chmod '%s': %s", sh,
			     strerror(errno));
	return rc;
}

void torch_plan_hp_from_heal(struct torch_plan_hp *h,
			     const struct recipe_heal *hp, uint64_t tokens)
{
	h->steps = hp->steps;
	h->batch = hp->batch;
	h->ctx = hp->ctx;
	h->warmup = hp->warmup;
	h->lr = hp->lr;
	h->min_lr_ratio = hp->min_lr_ratio;
	h->beta1 = hp->beta1;
	h->beta2 = hp->beta2;
	h->eps = hp->eps;
	h->weight_decay = hp->weight_decay;
	h->clip = hp->clip;
	h->temperature = hp->temperature;
	h->kd_weight = hp->kd_weight;
	h->seed = hp->seed;
	h->whole_text = hp->whole_text;
	uint64_t BT = (uint64_t)h->batch * (uint64_t)h->ctx;
	if (tokens)
		h->steps = (tokens + BT - 1) / BT;
}
