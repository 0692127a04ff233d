#include "prompts.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

const char prompts_challenge_template[] =
	"Below is an instruction that describes a task, paired with an input "
	"that provides further context. Write a response that appropriately "
	"completes the request.\n\n ### Instruction: {instruction}\n{input}"
	"\n\n ### Response: ";

/* Appends n bytes to a growing buffer; returns -1 when out of memory. */
static int append(char **buf, size_t *len, size_t *cap, const char *s,
		  size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t nc = (*cap ? *cap * 2 : 256);
		while (nc < *len + n + 1)
			nc *= 2;
		char *nb = realloc(*buf, nc);
		if (!nb)
			return -1;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

char *prompts_fill(const char *tpl, const char *instruction, const char *input)
{
	char *out = NULL;
	size_t len = 0, cap = 0;
	const char *p = tpl;
	while (*p) {
		const char *ins = strstr(p, "{instruction}");
		const char *inp = strstr(p, "{input}");
		const char *next = ins && (!inp || ins < inp) ? ins : inp;
		if (!next) {
			if (append(&out, &len, &cap, p, strlen(p)))
				goto oom;
			break;
		}
		if (append(&out, &len, &cap, p, (size_t)(next - p)))
			goto oom;
		const char *val = next == ins ? instruction : input;
		if (append(&out, &len, &cap, val, strlen(val)))
			goto oom;
		p = next + (next == ins ? strlen("{instruction}")
					: strlen("{input}"));
	}
	if (!out && append(&out, &len, &cap, "", 0))
		goto oom;
	return out;
oom:
	free(out);
	return NULL;
}

static const char *str_field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int dup_field(const cJSON *o, const char *key, bool required,
		     char **out, const char *path, size_t i, struct err *e)
{
	const char *s = str_field(o, key);
	*out = NULL;
	if (!s) {
		if (required)
			return err_set(e, ERR_FORMAT,
				       "'%s': prompts[%zu]: \"%s\" is missing or "
				       "not a string",
				       path, i, key);
		return 0;
	}
	if (!(*out = strdup(s)))
		return err_set(e, ERR_NOMEM, "'%s': out of memory", path);
	return 0;
}

static void prompt_clear(struct prompt *p)
{
	free(p->id);
	free(p->kind);
	free(p->lang);
	free(p->task);
	free(p->text);
	free(p->target);
	free(p->source);
}

void prompts_free(struct prompt_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		prompt_clear(&s->items[i]);
	free(s->items);
	free(s->template_text);
	free(s);
}

static int load_one(const cJSON *o, const char *tpl, struct prompt *p,
		    const char *path, size_t i, struct err *e)
{
	int rc;
	if (!cJSON_IsObject(o))
		return err_set(e, ERR_FORMAT, "'%s': prompts[%zu] is not an object",
			       path, i);
	if ((rc = dup_field(o, "id", true, &p->id, path, i, e)) ||
	    (rc = dup_field(o, "kind", true, &p->kind, path, i, e)) ||
	    (rc = dup_field(o, "lang", true, &p->lang, path, i, e)) ||
	    (rc = dup_field(o, "target", false, &p->target, path, i, e)) ||
	    (rc = dup_field(o, "source", false, &p->source, path, i, e)))
		return rc;
	if (!strcmp(p->kind, "text"))
		return dup_field(o, "text", true, &p->text, path, i, e);
	if (strcmp(p->kind, "task"))
		return err_set(e, ERR_FORMAT,
			       "'%s': prompts[%zu]: kind '%s' is neither "
			       "\"text\" nor \"task\"",
			       path, i, p->kind);
	if ((rc = dup_field(o, "task", true, &p->task, path, i, e)))
		return rc;
	const char *ins = str_field(o, "instruction");
	const char *inp = str_field(o, "input");
	if (!ins || !inp)
		return err_set(e, ERR_FORMAT,
			       "'%s': prompts[%zu]: a task needs \"instruction\" "
			       "and \"input\"",
			       path, i);
	if (!(p->text = prompts_fill(tpl, ins, inp)))
		return err_set(e, ERR_NOMEM, "'%s': out of memory", path);
	return 0;
}

int prompts_load(const char *path, struct prompt_set **out, struct err *e)
{
	*out = NULL;
	char *text;
	size_t len;
	int rc = file_read_all(path, 64u << 20, &text, &len, e);
	if (rc)
		return rc;
	cJSON *root = cJSON_ParseWithLength(text, len);
	free(text);
	if (!root)
		return err_set(e, ERR_FORMAT, "'%s': malformed JSON", path);
	struct prompt_set *s = calloc(1, sizeof *s);
	if (!s) {
		rc = err_set(e, ERR_NOMEM, "'%s': out of memory", path);
		goto done;
	}
	const char *fmt = str_field(root, "format");
	if (!fmt || strcmp(fmt, "punguza-prompts")) {
		rc = err_set(e, ERR_FORMAT,
			     "'%s': \"format\" is not \"punguza-prompts\"", path);
		goto done;
	}
	const char *tpl = str_field(root, "template");
	if (!(s->template_text = strdup(tpl ? tpl : prompts_challenge_template))) {
		rc = err_set(e, ERR_NOMEM, "'%s': out of memory", path);
		goto done;
	}
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "prompts");
	if (!cJSON_IsArray(arr)) {
		rc = err_set(e, ERR_FORMAT, "'%s': \"prompts\" is not an array",
			     path);
		goto done;
	}
	size_t n = (size_t)cJSON_GetArraySize(arr);
	if (n && !(s->items = calloc(n, sizeof *s->items))) {
		rc = err_set(e, ERR_NOMEM, "'%s': out of memory", path);
		goto done;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		rc = load_one(it, s->template_text, &s->items[s->n], path, s->n,
			      e);
		s->n++;
		if (rc)
			goto done;
	}
	*out = s;
	s = NULL;
	rc = 0;
done:
	prompts_free(s);
	cJSON_Delete(root);
	return rc;
}
