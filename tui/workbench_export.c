/* workbench_export — the export task and the export folder: what it
 * holds (wb_export_inspect) and its default. See workbench.h. */
#include "workbench_impl.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "export.h"
#include "fileio.h"
#include "recipe.h"
#include "vocab.h"

static int export_fn(void *arg, const struct progress *prog, struct err *e)
{
	struct task_ctx *t = arg;
	struct workbench *wb = t->wb;
	struct recipe r;
	recipe_init(&r);
	int rc = prune_plan_copy(&r.plan, &t->plan, e);
	if (rc)
		goto done;
	snprintf(r.source_name, sizeof r.source_name, "%s", wb->name);
	struct sub_progress sp = {prog, 0, 0.3};
	struct progress sub = {wb_sub_report, &sp};
	if ((rc = export_source_checksum(wb->model, r.source_checksum,
					 sizeof r.source_checksum, &sub, e)))
		goto done;
	recipe_set_counts(&r, &wb->pruned->cfg);
	r.formats = t->formats;
	/* the kept pieces: `prune --recipe` then needs no corpus */
	if (wb->pruned_tok && wb->keep &&
	    (rc = recipe_set_kept(&r, wb->keep->keep, wb->keep->n_keep, e)))
		goto done;
	struct export_opts o = {
		.src_dir = wb->dir,
		.out_dir = t->out_dir,
		.formats = t->formats,
		.dtype = t->plan.export_dtype,
		.force = t->force,
		.recipe = &r,
		.tok = wb->pruned_tok ? wb->pruned_tok : wb->tok,
		.src_tok = wb->pruned_tok ? wb->tok : NULL,
		.keep = wb->pruned_tok ? wb->keep : NULL,
		.name = wb->name,
	};
	sp.lo = 0.3;
	sp.hi = 1.0;
	if ((rc = export_model(wb->pruned, &o, &sub, e)) ||
	    (rc = recipe_to_json(&r, &t->ex.recipe_json, e)))
		goto done;
	if (recipe_plan_args(&t->plan, t->ex.args, sizeof t->ex.args, NULL))
		t->ex.args[0] = '\0';
	/* counting and calibration read the corpus: the command needs it */
	if (t->ex.args[0] &&
	    (wb_plan_needs_vocab(&t->plan) || wb_plan_needs_calib(&t->plan)))
		for (int i = 0; i < wb->n_corpus; i++) {
			size_t l = strlen(t->ex.args);
			int n = snprintf(t->ex.args + l, sizeof t->ex.args - l,
					 " --corpus %s", wb->corpus[i]);
			if (n < 0 || (size_t)n >= sizeof t->ex.args - l) {
				t->ex.args[0] = '\0'; /* too long: --recipe */
				break;
			}
		}
	/* list what was written, for the screen */
	snprintf(t->ex.out_dir, sizeof t->ex.out_dir, "%s", t->out_dir);
	DIR *d = opendir(t->out_dir);
	struct dirent *de;
	while (d && (de = readdir(d)) && t->ex.n_files < 16) {
		if (de->d_name[0] == '.')
			continue;
		char path[2048];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", t->out_dir, de->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		int i = t->ex.n_files++;
		snprintf(t->ex.files[i], sizeof t->ex.files[i], "%s", de->d_name);
		t->ex.sizes[i] = (uint64_t)st.st_size;
	}
	if (d)
		closedir(d);
	/* readdir's order is the file system's: sort by name for the screen */
	for (int i = 1; i < t->ex.n_files; i++)
		for (int j = i; j > 0 && strcmp(t->ex.files[j - 1],
						t->ex.files[j]) > 0;
		     j--) {
			char tmp[256];
			uint64_t sz = t->ex.sizes[j];
			memcpy(tmp, t->ex.files[j], sizeof tmp);
			memcpy(t->ex.files[j], t->ex.files[j - 1], sizeof tmp);
			memcpy(t->ex.files[j - 1], tmp, sizeof tmp);
			t->ex.sizes[j] = t->ex.sizes[j - 1];
			t->ex.sizes[j - 1] = sz;
		}
	t->ex.done = true;
done:
	recipe_free(&r);
	return rc;
}

/* The files an export writes (export.h): a folder holding only these and
 * a punguza.json is a previous export, which may be replaced. */
static const char *const export_files[] = {
	"config.json",		"model.safetensors",	   "model.gguf",
	"generation_config.json", "tokenizer.json",	   "tokenizer.model",
	"tokenizer_config.json",	"special_tokens_map.json", "vocab_map.json",
	"vulavulaslm.py",		"punguza.json",
};

static bool is_export_file(const char *name)
{
	for (size_t i = 0; i < sizeof export_files / sizeof export_files[0];
	     i++)
		if (!strcmp(name, export_files[i]))
			return true;
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* a is b or inside b (both resolved) */
static bool path_under(const char *a, const char *b)
{
	size_t n = strlen(b);
	return !strncmp(a, b, n) && (a[n] == '\0' || a[n] == '/' ||
				     (n == 1 && b[0] == '/'));
}

void wb_default_export_dir(const struct workbench *wb, char *buf, size_t cap)
{
	const char *home = getenv("HOME");
	uint64_t p = wb->est.dst.total;
	char size[32];
	if (p >= 1000000000ull)
		snprintf(size, sizeof size, "%.2fB", (double)p / 1e9);
	else if (p >= 1000000ull)
		snprintf(size, sizeof size, "%.1fM", (double)p / 1e6);
	else
		snprintf(size, sizeof size, "%.0fk", (double)p / 1e3);
	snprintf(buf, cap, "%s%spunguza-exports/%s-%s",
		 home && *home ? home : "", home && *home ? "/" : "", wb->name,
		 size);
}

/* The parent folder of path (without trailing slashes), "." for none. */
static void parent_of(const char *path, char *out, size_t cap)
{
	snprintf(out, cap, "%s", path);
	size_t n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	char *sl = strrchr(out, '/');
	if (!sl)
		snprintf(out, cap, ".");
	else if (sl == out)
		out[1] = '\0';
	else
		*sl = '\0';
}

int wb_export_inspect(const struct workbench *wb, const char *out_dir,
		      struct wb_export_target *t, struct err *e)
{
	memset(t, 0, sizeof *t);
	if (!out_dir || !*out_dir) {
		t->kind = WB_TARGET_REFUSED;
		snprintf(t->why, sizeof t->why, "no export folder given");
		return 0;
	}
	char rout[PATH_MAX], rsrc[PATH_MAX];
	if (wb->dir && realpath(wb->dir, rsrc) &&
	    !path_resolve(out_dir, rout, sizeof rout, NULL) &&
	    path_under(rsrc, rout)) {
		t->kind = WB_TARGET_REFUSED;
		snprintf(t->why, sizeof t->why,
			 "'%s' is or holds the source folder '%s': the source "
			 "is never written; choose another folder",
			 out_dir, wb->dir);
		return 0;
	}
	struct stat st;
	if (stat(out_dir, &st) != 0) {
		if (errno != ENOENT)
			return err_errno(e, ERR_IO, "cannot look at '%s'",
					 out_dir);
		char par[PATH_MAX], def[PATH_MAX];
		parent_of(out_dir, par, sizeof par);
		if (path_is_dir(par)) {
			t->kind = WB_TARGET_NEW;
			return 0;
		}
		wb_default_export_dir(wb, def, sizeof def);
		char gp[PATH_MAX];
		parent_of(par, gp, sizeof gp);
		if (!strcmp(out_dir, def) && path_is_dir(gp)) {
			t->kind = WB_TARGET_NEW; /* the export makes it */
			t->create_parent = true;
			return 0;
		}
		t->kind = WB_TARGET_REFUSED;
		snprintf(t->why, sizeof t->why,
			 path_exists(par) ? "'%s' is not a folder"
					  : "folder '%s' does not exist: "
					    "create it first or choose another",
			 par);
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		t->kind = WB_TARGET_REFUSED;
		snprintf(t->why, sizeof t->why,
			 "'%s' is a file, not a folder: choose another name",
			 out_dir);
		return 0;
	}
	DIR *d = opendir(out_dir);
	if (!d)
		return err_errno(e, ERR_IO, "cannot read folder '%s'", out_dir);
	char foreign[WB_TARGET_LIST][64];
	int n_foreign = 0;
	bool has_recipe = false;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *nm = de->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		t->n_entries++;
		char path[PATH_MAX];
		struct stat es;
		bool file = snprintf(path, sizeof path, "%s/%s", out_dir, nm) <
				    (int)sizeof path &&
			    lstat(path, &es) == 0 && S_ISREG(es.st_mode);
		if (file && is_export_file(nm)) {
			has_recipe |= !strcmp(nm, "punguza.json");
			if (t->n_listed < WB_TARGET_LIST)
				snprintf(t->entries[t->n_listed++], 64, "%.62s",
					 nm);
		} else if (n_foreign < WB_TARGET_LIST) {
			snprintf(foreign[n_foreign++], 64, "%.61s%s", nm,
				 !file && S_ISDIR(es.st_mode) ? "/" : "");
		} else {
			n_foreign++;
		}
	}
	closedir(d);
	if (t->n_entries == 0) {
		t->kind = WB_TARGET_EMPTY;
		return 0;
	}
	if (!n_foreign && has_recipe) {
		t->kind = WB_TARGET_EXPORT;
		qsort(t->entries, (size_t)t->n_listed, sizeof t->entries[0],
		      cmp_str);
		return 0;
	}
	t->kind = WB_TARGET_FOREIGN;
	int shown = n_foreign < WB_TARGET_LIST ? n_foreign : WB_TARGET_LIST;
	qsort(foreign, (size_t)shown, sizeof foreign[0], cmp_str);
	t->n_listed = shown;
	memcpy(t->entries, foreign, sizeof foreign);
	char list[256] = "";
	for (int i = 0; i < shown && i < 4; i++) {
		size_t l = strlen(list);
		snprintf(list + l, sizeof list - l, "%s%.60s", i ? ", " : "",
			 foreign[i]);
	}
	if (!n_foreign) {
		snprintf(t->why, sizeof t->why,
			 "'%s' is not empty and has no punguza.json (not a "
			 "punguza export): choose an empty or new folder",
			 out_dir);
	} else {
		snprintf(t->why, sizeof t->why,
			 "'%s' holds %s%s, not written by punguza: it is never "
			 "replaced; choose an empty or new folder",
			 out_dir, list, n_foreign > 4 ? ", ..." : "");
	}
	return 0;
}

int wb_start_export(struct workbench *wb, const char *out_dir,
		    unsigned formats, bool replace, struct err *e)
{
	/* a new attempt: the last result no longer describes it */
	if (wb->task_kind == WB_TASK_NONE) {
		free(wb->exported.recipe_json);
		memset(&wb->exported, 0, sizeof wb->exported);
	}
	if (!(formats & (EXPORT_HF | EXPORT_GGUF)))
		return err_set(e, ERR_INVALID,
			       "no format chosen: choose Hugging Face or GGUF "
			       "(or both)");
	if (wb->task_kind != WB_TASK_NONE)
		return err_set(e, ERR_INVALID, "another task is running");
	struct wb_export_target tg;
	int rc = wb_export_inspect(wb, out_dir, &tg, e);
	if (rc)
		return rc;
	switch (tg.kind) {
	case WB_TARGET_NEW:
	case WB_TARGET_EMPTY:
		break;
	case WB_TARGET_EXPORT:
		if (!replace)
			return err_set(e, ERR_INVALID,
				       "'%s' holds a previous export: confirm "
				       "replacing it",
				       out_dir);
		break;
	case WB_TARGET_FOREIGN:
	case WB_TARGET_REFUSED:
		return err_set(e, ERR_INVALID, "%s", tg.why);
	}
	if (!wb_applied(wb))
		return err_set(e, ERR_INVALID, "apply the plan first");
	if (tg.create_parent) {
		char par[PATH_MAX];
		parent_of(out_dir, par, sizeof par);
		if (mkdir(par, 0777) != 0 && errno != EEXIST)
			return err_errno(e, ERR_IO, "cannot create folder '%s'",
					 par);
	}
	struct task_ctx *t;
	if ((rc = wb_task_begin(wb, WB_TASK_EXPORT, &t, e)))
		return rc;
	snprintf(t->out_dir, sizeof t->out_dir, "%s", out_dir);
	t->formats = formats;
	t->force = tg.kind == WB_TARGET_EXPORT;
	return wb_task_launch(wb, WB_TASK_EXPORT, t, export_fn, e);
}
