#include "measured.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"

static int cache_dir(char *buf, size_t cap, struct err *e)
{
	const char *p = getenv("PUNGUZA_CACHE");
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	int n;
	if (p && *p)
		n = snprintf(buf, cap, "%s", p);
	else if (xdg && *xdg)
		n = snprintf(buf, cap, "%s/punguza", xdg);
	else if (home && *home)
		n = snprintf(buf, cap, "%s/.cache/punguza", home);
	else
		return err_set(e, ERR_NOTFOUND,
			       "no cache directory (set HOME or PUNGUZA_CACHE)");
	if (n < 0 || (size_t)n >= cap)
		return err_set(e, ERR_INVALID, "cache directory path too long");
	return 0;
}

/* mkdir -p */
static int make_dirs(char *path, struct err *e)
{
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		int rc = mkdir(path, 0755);
		*s = '/';
		if (rc && errno != EEXIST)
			return err_errno(e, ERR_IO, "cannot create '%s'", path);
	}
	if (mkdir(path, 0755) && errno != EEXIST)
		return err_errno(e, ERR_IO, "cannot create '%s'", path);
	return 0;
}

int measured_cache_file(const char *name, bool create, char *buf, size_t cap,
			struct err *e)
{
	char dir[PATH_MAX];
	int rc = cache_dir(dir, sizeof dir, e);
	if (rc)
		return rc;
	if (create && (rc = make_dirs(dir, e)))
		return rc;
	int n = snprintf(buf, cap, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= cap)
		return err_set(e, ERR_INVALID, "cache file path too long");
	return 0;
}

uint64_t measured_weights_bytes(const char *model_dir)
{
	uint64_t total = 0;
	DIR *d = opendir(model_dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		const char *n = de->d_name;
		size_t l = strlen(n);
		bool weights = (l > 12 && !strcmp(n + l - 12, ".safetensors")) ||
			       (l > 4 && !strcmp(n + l - 4, ".bin"));
		if (!weights)
			continue;
		char p[PATH_MAX];
		struct stat st;
		if (snprintf(p, sizeof p, "%s/%s", model_dir, n) < (int)sizeof p &&
		    stat(p, &st) == 0)
			total += (uint64_t)st.st_size;
	}
	if (d)
		closedir(d);
	return total;
}

int measured_read_cache(const char *file, struct cJSON **out, struct err *e)
{
	char *text;
	size_t len;
	int rc = file_read_all(file, 64u << 20, &text, &len, e);
	if (rc == ERR_NOTFOUND) {
		err_clear(e); /* no file yet is not an error */
		*out = cJSON_CreateObject();
		return *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
	}
	if (rc)
		return rc;
	*out = cJSON_ParseWithLength(text, len);
	free(text);
	if (!*out || !cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return err_set(e, ERR_FORMAT, "'%s': not a JSON object", file);
	}
	return 0;
}

int measured_save(const char *model_dir, const struct measured *m,
		  struct err *e)
{
	char dir[PATH_MAX], file[PATH_MAX + 32], key[PATH_MAX];
	int rc = cache_dir(dir, sizeof dir, e);
	if (rc)
		return rc;
	if (!realpath(model_dir, key))
		return err_errno(e, ERR_IO, "cannot resolve '%s'", model_dir);
	if ((rc = make_dirs(dir, e)))
		return rc;
	snprintf(file, sizeof file, "%s/measured.json", dir);
	cJSON *root;
	if ((rc = measured_read_cache(file, &root, e)))
		return rc;
	cJSON *rec = cJSON_CreateObject();
	if (!rec || !cJSON_AddNumberToObject(rec, "lb_tasks", m->lb_tasks) ||
	    !cJSON_AddNumberToObject(rec, "lb_pooled", m->lb_pooled) ||
	    !cJSON_AddNumberToObject(rec, "rows", m->rows) ||
	    !cJSON_AddNumberToObject(rec, "weights_bytes",
				     (double)measured_weights_bytes(model_dir))) {
		cJSON_Delete(rec);
		cJSON_Delete(root);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	cJSON_DeleteItemFromObjectCaseSensitive(root, key);
	cJSON_AddItemToObject(root, key, rec);
	char *text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = file_write_atomic(file, text, strlen(text), e);
	free(text);
	return rc;
}

int measured_load(const char *model_dir, struct measured *out, bool *found,
		  struct err *e)
{
	*found = false;
	char dir[PATH_MAX], file[PATH_MAX + 32], key[PATH_MAX];
	if (cache_dir(dir, sizeof dir, NULL) || !realpath(model_dir, key))
		return 0; /* no cache: nothing measured */
	snprintf(file, sizeof file, "%s/measured.json", dir);
	if (!path_exists(file))
		return 0;
	cJSON *root;
	int rc = measured_read_cache(file, &root, e);
	if (rc)
		return rc;
	const cJSON *rec = cJSON_GetObjectItemCaseSensitive(root, key);
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(rec, "lb_tasks");
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(rec, "lb_pooled");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(rec, "rows");
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(rec, "weights_bytes");
	if (cJSON_IsNumber(a) && cJSON_IsNumber(b) && cJSON_IsNumber(n) &&
	    cJSON_IsNumber(w) &&
	    (uint64_t)w->valuedouble == measured_weights_bytes(model_dir)) {
		out->lb_tasks = a->valuedouble;
		out->lb_pooled = b->valuedouble;
		out->rows = (int)n->valuedouble;
		out->weights_bytes = (uint64_t)w->valuedouble;
		*found = true;
	}
	cJSON_Delete(root);
	return 0;
}
