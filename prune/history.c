#include "history.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "measured.h"
#include "score.h"

#define HISTORY_FILE "plans.json"

void history_free(struct history *h)
{
	if (!h)
		return;
	for (int i = 0; i < h->n; i++)
		recipe_free(&h->v[i].recipe);
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

void history_remove(struct history *h, int i)
{
	if (i < 0 || i >= h->n)
		return;
	recipe_free(&h->v[i].recipe);
	memmove(h->v + i, h->v + i + 1, (size_t)(h->n - i - 1) * sizeof *h->v);
	h->n--;
}

/* The plan's identity: its recipe JSON with no source and no counts. */
static int plan_text(const struct recipe *r, char **out, struct err *e)
{
	struct recipe k = *r; /* shallow: only read */
	k.source_name[0] = k.source_checksum[0] = '\0';
	k.have_counts = false;
	k.formats = 0; /* what an export wrote or a heal did is not the plan */
	k.kept = NULL;
	k.n_kept = 0;
	k.have_heal = false;
	return recipe_to_json(&k, out, e);
}

static int recipe_dup(struct recipe *dst, const struct recipe *src,
		      struct err *e)
{
	recipe_init(dst);
	int rc = prune_plan_copy(&dst->plan, &src->plan, e);
	if (rc)
		return rc;
	memcpy(dst->source_name, src->source_name, sizeof dst->source_name);
	memcpy(dst->source_checksum, src->source_checksum,
	       sizeof dst->source_checksum);
	dst->have_counts = src->have_counts;
	dst->counts = src->counts;
	return 0;
}

/* Index of the entry with the same plan as r, or -1. */
static int find(const struct history *h, const struct recipe *r, struct err *e,
		int *rc)
{
	char *want = NULL;
	if ((*rc = plan_text(r, &want, e)))
		return -1;
	int found = -1;
	for (int i = 0; i < h->n && found < 0; i++) {
		char *have = NULL;
		if ((*rc = plan_text(&h->v[i].recipe, &have, e)))
			break;
		if (!strcmp(have, want))
			found = i;
		free(have);
	}
	free(want);
	return found;
}

static int grow(struct history *h, struct err *e)
{
	if (h->n < h->cap)
		return 0;
	int cap = h->cap ? h->cap * 2 : 8;
	struct history_entry *v = realloc(h->v, (size_t)cap * sizeof *v);
	if (!v)
		return err_set(e, ERR_NOMEM, "plan history: out of memory");
	h->v = v;
	h->cap = cap;
	return 0;
}

int history_record(struct history *h, const struct history_entry *src,
		   int *index, struct err *e)
{
	int rc = 0;
	int i = find(h, &src->recipe, e, &rc);
	if (rc)
		return rc;
	if (i < 0) {
		if ((rc = grow(h, e)))
			return rc;
		struct history_entry *x = &h->v[h->n];
		*x = *src;
		if ((rc = recipe_dup(&x->recipe, &src->recipe, e))) {
			recipe_free(&x->recipe);
			return rc;
		}
		i = h->n++;
	} else {
		struct history_entry *x = &h->v[i];
		x->params = src->params;
		if (src->have_cut) {
			x->have_cut = true;
			x->bpb_src = src->bpb_src;
			x->bpb_cut = src->bpb_cut;
		}
		if (src->have_cut_ref) {
			x->have_cut_ref = true;
			x->kl_cut = src->kl_cut;
			x->top1_cut = src->top1_cut;
		}
		if (src->have_healed) {
			x->have_healed = true;
			x->bpb_healed = src->bpb_healed;
			x->heal_tokens = src->heal_tokens;
			x->heal_seconds = src->heal_seconds;
		}
		if (src->have_healed_ref) {
			x->have_healed_ref = true;
			x->kl_healed = src->kl_healed;
			x->top1_healed = src->top1_healed;
		}
		if (src->have_lb) {
			x->have_lb = true;
			x->lb = src->lb;
		}
	}
	if (index)
		*index = i;
	return 0;
}

/* ---- reading and writing ------------------------------------------ */


/* A finite number at key into *v; false when absent or not one. */
static bool num(const cJSON *o, const char *key, double *v)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
		return false;
	*v = x->valuedouble;
	return true;
}

/* One record into x; false when it is malformed (skipped). */
static bool parse_entry(const cJSON *o, const char *file,
			struct history_entry *x)
{
	memset(x, 0, sizeof *x);
	recipe_init(&x->recipe);
	const cJSON *plan = cJSON_GetObjectItemCaseSensitive(o, "plan");
	double params;
	if (!cJSON_IsObject(plan) || !num(o, "params", &params) || params < 0 ||
	    params > 1e15)
		return false;
	char *text = cJSON_PrintUnformatted(plan);
	if (!text)
		return false;
	int rc = recipe_parse(text, strlen(text), file, &x->recipe, NULL);
	cJSON_free(text);
	if (rc)
		return false;
	x->params = (uint64_t)params;
	x->have_cut =
	    num(o, "bpb_src", &x->bpb_src) && num(o, "bpb_cut", &x->bpb_cut);
	x->have_cut_ref =
	    num(o, "kl_cut", &x->kl_cut) && num(o, "top1_cut", &x->top1_cut);
	double tokens = 0;
	x->have_healed = num(o, "bpb_healed", &x->bpb_healed);
	if (x->have_healed && num(o, "heal_tokens", &tokens) && tokens >= 0 &&
	    tokens < 1e18)
		x->heal_tokens = (uint64_t)tokens;
	if (x->have_healed)
		num(o, "heal_seconds", &x->heal_seconds);
	x->have_healed_ref = num(o, "kl_healed", &x->kl_healed) &&
			     num(o, "top1_healed", &x->top1_healed);
	x->have_lb = num(o, "lb", &x->lb);
	return true;
}

int history_load(const char *model_dir, struct history *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	if (!realpath(model_dir, out->model_key))
		return err_errno(e, ERR_IO, "cannot resolve '%s'", model_dir);
	char file[PATH_MAX + 32];
	if (measured_cache_file(HISTORY_FILE, false, file, sizeof file, NULL) ||
	    !path_exists(file))
		return 0; /* nothing tried yet */
	cJSON *root;
	int rc = measured_read_cache(file, &root, e);
	if (rc)
		return rc;
	const cJSON *list =
	    cJSON_GetObjectItemCaseSensitive(root, out->model_key);
	const cJSON *it;
	if (!cJSON_IsArray(list))
		list = NULL;
	cJSON_ArrayForEach(it, list)
	{
		struct history_entry x;
		if (!parse_entry(it, file, &x)) {
			recipe_free(&x.recipe);
			continue;
		}
		rc = history_record(out, &x, NULL, e);
		recipe_free(&x.recipe);
		if (rc)
			break;
	}
	cJSON_Delete(root);
	if (rc)
		history_free(out);
	return rc;
}

static bool add_num(cJSON *o, const char *key, double v)
{
	return cJSON_AddNumberToObject(o, key, v) != NULL;
}

static cJSON *entry_json(const struct history_entry *x, struct err *e)
{
	char *text = NULL;
	if (plan_text(&x->recipe, &text, e))
		return NULL;
	cJSON *o = cJSON_CreateObject();
	cJSON *plan = cJSON_Parse(text);
	free(text);
	bool ok = o && plan && cJSON_AddItemToObject(o, "plan", plan);
	if (!ok)
		cJSON_Delete(plan);
	ok = ok && add_num(o, "params", (double)x->params);
	if (ok && x->have_cut)
		ok = add_num(o, "bpb_src", x->bpb_src) &&
		     add_num(o, "bpb_cut", x->bpb_cut);
	if (ok && x->have_cut_ref)
		ok = add_num(o, "kl_cut", x->kl_cut) &&
		     add_num(o, "top1_cut", x->top1_cut);
	if (ok && x->have_healed)
		ok = add_num(o, "bpb_healed", x->bpb_healed) &&
		     add_num(o, "heal_tokens", (double)x->heal_tokens) &&
		     add_num(o, "heal_seconds", x->heal_seconds);
	if (ok && x->have_healed_ref)
		ok = add_num(o, "kl_healed", x->kl_healed) &&
		     add_num(o, "top1_healed", x->top1_healed);
	if (ok && x->have_lb)
		ok = add_num(o, "lb", x->lb);
	if (!ok) {
		cJSON_Delete(o);
		err_set(e, ERR_NOMEM, "plan history: out of memory");
		return NULL;
	}
	return o;
}

int history_save(const struct history *h, struct err *e)
{
	char file[PATH_MAX + 32];
	int rc = measured_cache_file(HISTORY_FILE, true, file, sizeof file, e);
	if (rc)
		return rc;
	cJSON *root;
	if ((rc = measured_read_cache(file, &root, e)))
		return rc;
	cJSON *list = cJSON_CreateArray();
	for (int i = 0; list && i < h->n && !rc; i++) {
		cJSON *o = entry_json(&h->v[i], e);
		if (!o)
			rc = e && e->code ? e->code : ERR_NOMEM;
		else
			cJSON_AddItemToArray(list, o);
	}
	if (!list && !rc)
		rc = err_set(e, ERR_NOMEM, "plan history: out of memory");
	if (rc) {
		cJSON_Delete(list);
		cJSON_Delete(root);
		return rc;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(root, h->model_key);
	cJSON_AddItemToObject(root, h->model_key, list);
	char *text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return err_set(e, ERR_NOMEM, "plan history: out of memory");
	rc = file_write_atomic(file, text, strlen(text), e);
	cJSON_free(text);
	return rc;
}

int history_note(const char *model_dir, const struct history_entry *x,
		 struct err *e)
{
	struct history h;
	int rc = history_load(model_dir, &h, e);
	if (!rc)
		rc = history_record(&h, x, NULL, e);
	if (!rc)
		rc = history_save(&h, e);
	history_free(&h);
	return rc;
}

/* ---- comparing ------------------------------------------------------ */

double history_best_bpb(const struct history_entry *x)
{
	if (x->have_healed)
		return x->bpb_healed;
	return x->have_cut ? x->bpb_cut : NAN;
}

double history_zindi(const struct history_entry *x)
{
	return x->have_lb ? score_zindi(x->lb, x->params) : NAN;
}

static enum history_sort sort_key;

/* Lower is better for params and bpb, higher for zindi; NAN last. */
static int cmp_value(double a, double b, bool higher_first)
{
	bool na = isnan(a), nb = isnan(b);
	if (na || nb)
		return na - nb;
	if (a == b)
		return 0;
	return (a < b) == higher_first ? 1 : -1;
}

static int cmp_entry(const void *pa, const void *pb)
{
	const struct history_entry *a = pa, *b = pb;
	int c = 0;
	if (sort_key == HISTORY_BY_BPB)
		c = cmp_value(history_best_bpb(a), history_best_bpb(b), false);
	else if (sort_key == HISTORY_BY_ZINDI)
		c = cmp_value(history_zindi(a), history_zindi(b), true);
	if (!c)
		c = (a->params > b->params) - (a->params < b->params);
	if (!c) {
		char *ta = NULL, *tb = NULL;
		if (!plan_text(&a->recipe, &ta, NULL) &&
		    !plan_text(&b->recipe, &tb, NULL))
			c = strcmp(ta, tb);
		free(ta);
		free(tb);
	}
	return c;
}

void history_sort(struct history *h, enum history_sort by)
{
	/* qsort has no context argument in C11; the explorer sorts from one
	 * thread, so a file-scope key is enough. */
	sort_key = by;
	if (h->n > 1)
		qsort(h->v, (size_t)h->n, sizeof *h->v, cmp_entry);
}

void history_pareto(const struct history *h, bool *front)
{
	for (int i = 0; i < h->n; i++) {
		double bi = history_best_bpb(&h->v[i]);
		front[i] = !isnan(bi);
		for (int j = 0; j < h->n && front[i]; j++) {
			double bj = history_best_bpb(&h->v[j]);
			if (j == i || isnan(bj))
				continue;
			uint64_t pi = h->v[i].params, pj = h->v[j].params;
			if (pj <= pi && bj <= bi && (pj < pi || bj < bi))
				front[i] = false;
		}
	}
}
