#define _GNU_SOURCE /* renameat2 */
/* heal_checkpoint — the heal run's output folder: checks, log, checkpoints
 * and resuming from one (heal_impl.h). */
#include "heal_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "export.h"
#include "fileio.h"

double heal_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ */
/* paths                                                               */

/* OUT resolved even when it does not exist yet: realpath of its parent
 * plus its last component. */
int heal_resolve_out(const char *out, char *buf, size_t cap)
{
	char tmp[PATH_MAX], parent[PATH_MAX];
	size_t n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		n--;
	if (n >= sizeof tmp)
		return -1;
	memcpy(tmp, out, n);
	tmp[n] = '\0';
	if (realpath(tmp, parent)) {
		snprintf(buf, cap, "%s", parent);
		return 0;
	}
	char *slash = strrchr(tmp, '/');
	const char *base = slash ? slash + 1 : tmp;
	if (slash == tmp)
		snprintf(parent, sizeof parent, "/");
	else if (slash) {
		*slash = '\0';
		if (!realpath(tmp, parent))
			return -1;
	} else if (!realpath(".", parent))
		return -1;
	size_t pl = strlen(parent), bl = strlen(base);
	if (pl + bl + 2 > cap)
		return -1;
	memcpy(buf, parent, pl);
	if (strcmp(parent, "/"))
		buf[pl++] = '/';
	memcpy(buf + pl, base, bl + 1);
	return 0;
}

/* 1 when a is b or lies inside it. */
static int inside(const char *a, const char *b)
{
	size_t n = strlen(b);
	if (!strcmp(b, "/"))
		return 1;
	return !strncmp(a, b, n) && (a[n] == '\0' || a[n] == '/');
}

int heal_check_out(const struct heal_opts *o, struct err *e)
{
	char ro[PATH_MAX], rs[PATH_MAX];
	if (!o->out_dir || !*o->out_dir)
		return err_set(e, ERR_INVALID, "heal: no output directory");
	if (heal_resolve_out(o->out_dir, ro, sizeof ro))
		return err_errno(e, ERR_IO, "cannot resolve '%s'", o->out_dir);
	const char *src[6] = {o->protect[0], o->protect[1], o->protect[2],
			      o->protect[3], o->xo.src_dir, NULL};
	for (int i = 0; i < 5; i++) {
		if (!src[i] || !realpath(src[i], rs))
			continue;
		if (inside(ro, rs) || inside(rs, ro))
			return err_set(
			    e, ERR_INVALID,
			    "'%s' is, holds or lies inside the source "
			    "directory '%s': sources are never "
			    "written",
			    o->out_dir, src[i]);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* the run                                                             */

int heal_log_add(struct heal_ctx *r, const char *line, struct err *e)
{
	size_t n = strlen(line);
	if (r->log_len + n + 1 > r->log_cap) {
		size_t c = r->log_cap ? r->log_cap * 2 : 4096;
		while (c < r->log_len + n + 1)
			c *= 2;
		char *p = realloc(r->log, c);
		if (!p)
			return err_set(e, ERR_NOMEM, "heal: out of memory");
		r->log = p;
		r->log_cap = c;
	}
	memcpy(r->log + r->log_len, line, n + 1);
	r->log_len += n;
	return 0;
}

/* Appends a line to the log and to OUT/heal_log.tsv (best effort: the
 * checkpoint's copy is the one that counts). */
int heal_log_line(struct heal_ctx *r, const char *line, struct err *e)
{
	int rc = heal_log_add(r, line, e);
	if (rc)
		return rc;
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/heal_log.tsv", r->out);
	FILE *f = fopen(path, "a");
	if (f) {
		fputs(line, f);
		fclose(f);
	}
	return 0;
}

double heal_elapsed(const struct heal_ctx *r)
{
	return r->elapsed_base + heal_now_s() - r->t0;
}

static int state_text(struct heal_ctx *r, uint64_t step, bool done, char **out,
		      struct err *e)
{
	char *rj = NULL;
	int rc = recipe_to_json(&r->rec, &rj, e);
	if (rc)
		return rc;
	size_t n = strlen(rj) + 256;
	char *s = malloc(n);
	if (!s) {
		free(rj);
		return err_set(e, ERR_NOMEM, "heal: out of memory");
	}
	snprintf(s, n,
		 "{\"format\": \"punguza-heal-state\", \"step\": %llu, "
		 "\"done\": %s, \"elapsed\": %.3f,\n\"recipe\": %s}\n",
		 (unsigned long long)step, done ? "true" : "false",
		 heal_elapsed(r), rj);
	free(rj);
	*out = s;
	return 0;
}

static int write_file(const char *dir, const char *name, const char *text,
		      size_t len, struct err *e)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return file_write_atomic(path, text, len, e);
}

/* Puts the complete directory stage where OUT is, in one step when the
 * kernel can exchange two names. */
static int swap_in(const char *stage, const char *out, struct err *e)
{
	struct err e2 = {0};
	if (!path_exists(out)) {
		if (rename(stage, out) < 0)
			return err_errno(e, ERR_IO,
					 "cannot rename '%s' to '%s'", stage,
					 out);
		return 0;
	}
#ifdef RENAME_EXCHANGE
	if (renameat2(AT_FDCWD, stage, AT_FDCWD, out, RENAME_EXCHANGE) == 0) {
		export_remove_tree(stage, &e2); /* now the old OUT */
		return 0;
	}
#endif
	char old[PATH_MAX + 16];
	snprintf(old, sizeof old, "%s.old-XXXXXX", out);
	if (!mkdtemp(old) || rmdir(old) < 0 || rename(out, old) < 0)
		return err_errno(e, ERR_IO, "cannot move '%s' aside", out);
	if (rename(stage, out) < 0) {
		int rc = err_errno(e, ERR_IO, "cannot rename '%s' to '%s'",
				   stage, out);
		rename(old, out);
		return rc;
	}
	export_remove_tree(old, &e2);
	return 0;
}

static int copy_map(const char *src_dir, const char *dir, struct err *e)
{
	char path[PATH_MAX + 32], *text = NULL;
	size_t len;
	snprintf(path, sizeof path, "%s/vocab_map.json", src_dir);
	if (!path_exists(path))
		return 0;
	int rc = file_read_all(path, HEAL_STATE_MAX, &text, &len, e);
	if (!rc)
		rc = write_file(dir, "vocab_map.json", text, len, e);
	free(text);
	return rc;
}

/* Writes the checkpoint of `step` (done: the final result). */
int heal_checkpoint(struct heal_ctx *r, uint64_t step, bool done, struct err *e)
{
	const struct heal_opts *o = r->o;
	struct err e2 = {0};
	int rc;
	heal_mon_phase(o->monitor,
		       done ? "writing the result" : "writing a checkpoint",
		       -1);
	r->rec.have_heal = true;
	r->rec.heal = r->hp;
	if (path_exists(r->stage) && (rc = export_remove_tree(r->stage, e)))
		return rc;
	struct export_opts xo = o->xo;
	xo.out_dir = r->stage;
	xo.force = false;
	xo.recipe = o->xo.recipe ? &r->rec : NULL;
	xo.formats = done ? (o->xo.formats | EXPORT_HF) : EXPORT_HF;
	xo.dtype = done ? o->xo.dtype : DTYPE_F32;
	char *st = NULL, path[PATH_MAX + 64];
	if ((rc = export_model(r->student, &xo, NULL, e)))
		return rc;
	/* a cut vocabulary's map travels with the student's tokenizer */
	if (!xo.keep && xo.src_dir && (rc = copy_map(xo.src_dir, r->stage, e)))
		goto fail;
	snprintf(path, sizeof path, "%s/optimizer.safetensors", r->stage);
	if (!done && (rc = adamw_save(r->opt, path, e)))
		goto fail;
	if ((rc =
		 write_file(r->stage, "heal_log.tsv", r->log, r->log_len, e)) ||
	    (rc = state_text(r, step, done, &st, e)) ||
	    (rc = write_file(r->stage, "heal_state.json", st, strlen(st), e)))
		goto fail;
	free(st);
	st = NULL;
	if ((rc = swap_in(r->stage, r->out, e)))
		goto fail;
	r->have_ckpt = true;
	return 0;
fail:
	free(st);
	export_remove_tree(r->stage, &e2);
	return err_wrap(e, "checkpoint at step %llu", (unsigned long long)step);
}

/* Reads OUT's heal_state.json: the settings into r->hp, the step, done,
 * and the log up to that step. */
int heal_load_state(struct heal_ctx *r, uint64_t *step, bool *done,
		    struct err *e)
{
	char path[PATH_MAX + 64], *text = NULL;
	size_t len;
	snprintf(path, sizeof path, "%s/heal_state.json", r->out);
	if (!path_exists(path))
		return err_set(e, ERR_NOTFOUND,
			       "'%s' holds no heal checkpoint (no "
			       "heal_state.json): nothing to resume",
			       r->out);
	int rc = file_read_all(path, HEAL_STATE_MAX, &text, &len, e);
	if (rc)
		return rc;
	struct recipe rec;
	if ((rc = recipe_parse(text, len, path, &rec, e))) {
		free(text);
		return rc;
	}
	cJSON *root = cJSON_ParseWithLength(text, len);
	free(text);
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "step");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "done");
	const cJSON *el = cJSON_GetObjectItemCaseSensitive(root, "elapsed");
	if (!rec.have_heal || !cJSON_IsNumber(s) || s->valuedouble < 0 ||
	    s->valuedouble > 9007199254740992.0 ||
	    s->valuedouble != floor(s->valuedouble) ||
	    s->valuedouble > (double)rec.heal.steps) {
		cJSON_Delete(root);
		recipe_free(&rec);
		return err_set(e, ERR_FORMAT,
			       "'%s': expected a \"step\" within the recorded "
			       "steps and a \"recipe\" with a \"heal\" "
			       "section",
			       path);
	}
	*step = (uint64_t)s->valuedouble;
	*done = cJSON_IsTrue(d);
	r->elapsed_base =
	    cJSON_IsNumber(el) && el->valuedouble > 0 ? el->valuedouble : 0;
	cJSON_Delete(root);
	r->hp = rec.heal;
	recipe_free(&rec);

	/* the log up to the checkpoint's step */
	snprintf(path, sizeof path, "%s/heal_log.tsv", r->out);
	if (file_read_all(path, HEAL_TEXT_MAX, &text, &len, NULL) == 0) {
		char *p = text, *end = text + len;
		while (p < end) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl)
				break;
			char line[1024];
			size_t ll = (size_t)(nl + 1 - p);
			if (ll < sizeof line) {
				memcpy(line, p, ll);
				line[ll] = '\0';
				char *num_end;
				unsigned long long k =
				    strtoull(line, &num_end, 10);
				bool header = p == text;
				if (header || (num_end != line && k <= *step))
					if ((rc = heal_log_add(r, line, e))) {
						free(text);
						return rc;
					}
			}
			p = nl + 1;
		}
		free(text);
	}
	if (!r->log_len && (rc = heal_log_add(r, HEAL_LOG_HEADER, e)))
		return rc;
	/* the live log restarts from the checkpoint's lines */
	return write_file(r->out, "heal_log.tsv", r->log, r->log_len, e);
}
