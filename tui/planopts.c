/* planopts — knob options shared by plan and prune. See planopts.h. */
#include "planopts.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cliopts.h"

int planopts_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int planopts_double(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

static int parse_list(const char *s, int **out, int *n)
{
	int cap = 8, k = 0;
	int *v = malloc((size_t)cap * sizeof *v);
	const char *p = s;
	if (!v)
		return -1;
	while (*p) {
		char *end;
		errno = 0;
		long x = strtol(p, &end, 10);
		if (errno || end == p || x < INT_MIN || x > INT_MAX ||
		    (*end && *end != ',')) {
			free(v);
			return -1;
		}
		if (k == cap) {
			int *t = realloc(v, (size_t)(cap *= 2) * sizeof *v);
			if (!t) {
				free(v);
				return -1;
			}
			v = t;
		}
		v[k++] = (int)x;
		p = *end ? end + 1 : end;
	}
	if (!k) {
		free(v);
		return -1;
	}
	*out = v;
	*n = k;
	return 0;
}

bool planopts_is_flag(const char *opt)
{
	return !strcmp(opt, "--no-closure");
}

void planopts_help(FILE *out)
{
	fprintf(out,
		"  --vocab K           keep the K most frequent pieces (>= 259)\n"
		"  --min-count C       keep pieces counted >= C\n"
		"  --no-closure        do not keep merge parents of kept "
		"pieces\n"
		"  --width F           width factor in (0, 1]\n"
		"  --hidden D          explicit hidden size d'\n"
		"  --inter F           explicit intermediate size f' (default: "
		"scaled with d)\n"
		"  --heads-mode M      headdim (keep heads, shrink head_dim) or "
		"heads (drop heads)\n"
		"  --select S          random, magnitude, activation, "
		"recipe-random\n"
		"  --layers N          keep the first N layers\n"
		"  --keep-layers LIST  keep these layers, e.g. 0,1,2,7\n"
		"  --rank-layers N     keep the N most influential layers\n"
		"  --tie SRC           off, lm_head, embed, mean\n"
		"  --dtype T           export dtype f32, bf16, f16\n"
		"  --seed N            selection seed\n");
}

int planopts_apply(struct prune_plan *p, const char *cmd, const char *a,
		   const char *v)
{
	long n;
	double x;
	if (!strcmp(a, "--no-closure")) {
		p->merge_closure = false;
		return 1;
	}
	if (!v)
		return 0;
	if (!strcmp(a, "--vocab")) {
		if (planopts_long(v, 0, INT_MAX, &n))
			goto bad;
		p->vocab_mode = n ? PLAN_VOCAB_TOP_K : PLAN_VOCAB_NONE;
		p->vocab_keep = (int)n;
	} else if (!strcmp(a, "--min-count")) {
		if (planopts_long(v, 0, INT_MAX, &n))
			goto bad;
		p->vocab_mode = PLAN_VOCAB_MIN_COUNT;
		p->vocab_min_count = (int)n;
	} else if (!strcmp(a, "--width")) {
		if (planopts_double(v, &x))
			goto bad;
		p->width_factor = x;
		p->hidden = 0;
	} else if (!strcmp(a, "--hidden")) {
		if (planopts_long(v, 1, INT_MAX, &n))
			goto bad;
		p->hidden = (int)n;
	} else if (!strcmp(a, "--inter")) {
		if (planopts_long(v, 0, INT_MAX, &n))
			goto bad;
		p->intermediate = (int)n;
	} else if (!strcmp(a, "--heads-mode")) {
		int m = plan_head_mode_parse(v);
		if (m < 0)
			goto bad;
		p->head_mode = (enum plan_head_mode)m;
	} else if (!strcmp(a, "--select")) {
		int m = plan_select_parse(v);
		if (m < 0)
			goto bad;
		p->select = (enum plan_select)m;
	} else if (!strcmp(a, "--layers") || !strcmp(a, "--rank-layers")) {
		if (planopts_long(v, 1, INT_MAX, &n))
			goto bad;
		p->layer_mode =
		    a[2] == 'r' ? PLAN_LAYERS_RANK : PLAN_LAYERS_FIRST;
		p->n_layers = (int)n;
	} else if (!strcmp(a, "--keep-layers")) {
		int *list, k;
		if (parse_list(v, &list, &k))
			goto bad;
		free(p->layer_list);
		p->layer_list = list;
		p->n_layer_list = k;
		p->layer_mode = PLAN_LAYERS_LIST;
	} else if (!strcmp(a, "--tie")) {
		int t = plan_tie_parse(v);
		if (t < 0)
			goto bad;
		p->tie = (enum plan_tie)t;
	} else if (!strcmp(a, "--dtype")) {
		enum dtype t;
		if (dtype_parse(v, &t))
			goto bad;
		p->export_dtype = t;
	} else if (!strcmp(a, "--seed")) {
		char *end;
		errno = 0;
		unsigned long long s = strtoull(v, &end, 10);
		if (errno || end == v || *end || v[0] == '-')
			goto bad;
		p->seed = s;
	} else {
		return 0;
	}
	return 1;
bad:
	cliopts_bad_value(cmd, a, v);
	return -1;
}
