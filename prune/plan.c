#include "plan.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Plans                                                               */

void prune_plan_init(struct prune_plan *p)
{
	memset(p, 0, sizeof *p);
	p->vocab_mode = PLAN_VOCAB_NONE;
	p->merge_closure = true;
	p->width_factor = 1.0;
	p->head_mode = PLAN_HEADS_HEADDIM;
	p->select = PLAN_SELECT_RANDOM;
	p->layer_mode = PLAN_LAYERS_FIRST;
	p->tie = PLAN_TIE_OFF;
	p->export_dtype = DTYPE_F32;
	p->seed = 1;
}

void prune_plan_free(struct prune_plan *p)
{
	if (!p)
		return;
	free(p->vocab_ids);
	free(p->layer_list);
	prune_plan_init(p);
}

static int dup_ints(int **dst, const int *src, int n, struct err *e)
{
	*dst = NULL;
	if (n <= 0 || !src)
		return 0;
	*dst = malloc((size_t)n * sizeof **dst);
	if (!*dst)
		return err_set(e, ERR_NOMEM, "plan: out of memory for %d ids",
			       n);
	memcpy(*dst, src, (size_t)n * sizeof **dst);
	return 0;
}

int prune_plan_copy(struct prune_plan *dst, const struct prune_plan *src,
		    struct err *e)
{
	struct prune_plan t = *src;
	t.vocab_ids = NULL;
	t.layer_list = NULL;
	if (dup_ints(&t.vocab_ids, src->vocab_ids, src->n_vocab_ids, e) ||
	    dup_ints(&t.layer_list, src->layer_list, src->n_layer_list, e)) {
		free(t.vocab_ids);
		return ERR_NOMEM;
	}
	if (!t.vocab_ids)
		t.n_vocab_ids = 0;
	if (!t.layer_list)
		t.n_layer_list = 0;
	*dst = t;
	return 0;
}

int plan_set_vocab_ids(struct prune_plan *p, const int *ids, int n,
		       struct err *e)
{
	int *copy;
	if (n < 0)
		return err_set(e, ERR_INVALID, "vocab list: negative length %d",
			       n);
	if (dup_ints(&copy, ids, n, e))
		return ERR_NOMEM;
	free(p->vocab_ids);
	p->vocab_ids = copy;
	p->n_vocab_ids = copy ? n : 0;
	return 0;
}

int plan_set_layer_list(struct prune_plan *p, const int *layers, int n,
			struct err *e)
{
	int *copy;
	if (n < 0)
		return err_set(e, ERR_INVALID, "layer list: negative length %d",
			       n);
	if (dup_ints(&copy, layers, n, e))
		return ERR_NOMEM;
	free(p->layer_list);
	p->layer_list = copy;
	p->n_layer_list = copy ? n : 0;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Geometry helpers                                                    */

static int vocab_floor(const struct config *c)
{
	if (c->vocab_size >= PLAN_MIN_VOCAB)
		return PLAN_MIN_VOCAB;
	return c->vocab_size < 3 ? c->vocab_size : 3;
}

/* Attention's inner width equals d: the usual Llama layout, where head
 * cuts and width cuts are the same thing. */
static int standard_heads(const struct config *c)
{
	return (long)c->n_heads * c->head_dim == c->hidden_size;
}

static int kv_group(const struct config *c)
{
	return c->n_heads / c->n_kv_heads;
}

/* d' must be a multiple of this. */
static int hidden_unit(const struct config *c, enum plan_head_mode m)
{
	if (!standard_heads(c))
		return 1;
	if (m == PLAN_HEADS_DROP)
		return c->head_dim * kv_group(c);
	return c->n_heads * 2; /* head_dim' even: RoPE rotates pairs */
}

static int nearest_multiple(double t, int unit, int max)
{
	double k = floor(t / unit + 0.5);
	if (k < 1)
		k = 1;
	if (k * unit > max)
		k = max / unit;
	return (int)k * unit;
}

static const char *unit_reason(const struct config *c, enum plan_head_mode m,
			       char *buf, size_t n)
{
	if (!standard_heads(c))
		snprintf(buf, n, "at most d");
	else if (m == PLAN_HEADS_DROP)
		snprintf(buf, n,
			 "d must be a whole number of %s%d-dim heads (%d)",
			 kv_group(c) > 1 ? "kv groups of " : "", c->head_dim,
			 hidden_unit(c, m));
	else
		snprintf(buf, n,
			 "head_dim must be even (%d heads): d a multiple of %d",
			 c->n_heads, hidden_unit(c, m));
	return buf;
}

int plan_resolve_hidden(const struct prune_plan *p, const struct config *c)
{
	double t = p->hidden > 0 ? (double)p->hidden
				 : p->width_factor * c->hidden_size;
	if (!(t > 0))
		t = 1;
	return nearest_multiple(t, hidden_unit(c, p->head_mode),
				c->hidden_size);
}

/* ------------------------------------------------------------------ */
/* Validation and snapping                                             */

static void note(struct plan_notes *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note(struct plan_notes *n, const char *fmt, ...)
{
	va_list ap;
	if (!n)
		return;
	if (n->n >= PLAN_MAX_NOTES) {
		n->n_dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(n->text[n->n++], PLAN_NOTE_MAX, fmt, ap);
	va_end(ap);
}

int plan_validate(const struct prune_plan *p, const struct config *c,
		  struct err *e)
{
	int rc = config_validate(c, "source", e);
	if (rc)
		return rc;
	switch (p->vocab_mode) {
	case PLAN_VOCAB_NONE:
		break;
	case PLAN_VOCAB_TOP_K:
		if (p->vocab_keep <= 0)
			return err_set(e, ERR_INVALID,
				       "vocab: keep %d pieces is impossible "
				       "(must be at least %d)",
				       p->vocab_keep, vocab_floor(c));
		break;
	case PLAN_VOCAB_MIN_COUNT:
		if (p->vocab_min_count < 0)
			return err_set(e, ERR_INVALID,
				       "vocab: min count %d is negative",
				       p->vocab_min_count);
		break;
	case PLAN_VOCAB_LIST:
		if (p->n_vocab_ids <= 0 || !p->vocab_ids)
			return err_set(e, ERR_INVALID,
				       "vocab: the keep list is empty");
		for (int i = 0; i < p->n_vocab_ids; i++)
			if (p->vocab_ids[i] < 0 ||
			    p->vocab_ids[i] >= c->vocab_size)
				return err_set(
				    e, ERR_INVALID,
				    "vocab: keep list entry %d is id "
				    "%d, outside 0..%d",
				    i, p->vocab_ids[i], c->vocab_size - 1);
		break;
	default:
		return err_set(e, ERR_INVALID, "vocab: unknown mode %d",
			       (int)p->vocab_mode);
	}
	if (p->hidden < 0)
		return err_set(e, ERR_INVALID,
			       "width: hidden size %d is negative", p->hidden);
	if (p->hidden == 0 && !(p->width_factor > 0))
		return err_set(e, ERR_INVALID,
			       "width: factor %g is not in (0, 1]",
			       p->width_factor);
	if (p->intermediate < 0)
		return err_set(e, ERR_INVALID,
			       "width: intermediate size %d is negative",
			       p->intermediate);
	if (p->head_mode != PLAN_HEADS_HEADDIM &&
	    p->head_mode != PLAN_HEADS_DROP)
		return err_set(e, ERR_INVALID, "width: unknown head mode %d",
			       (int)p->head_mode);
	if ((unsigned)p->select > PLAN_SELECT_RECIPE_RANDOM)
		return err_set(e, ERR_INVALID, "width: unknown selection %d",
			       (int)p->select);
	switch (p->layer_mode) {
	case PLAN_LAYERS_FIRST:
	case PLAN_LAYERS_RANK:
		if (p->n_layers < 0)
			return err_set(e, ERR_INVALID,
				       "layers: %d layers is negative",
				       p->n_layers);
		break;
	case PLAN_LAYERS_LIST:
		if (p->n_layer_list <= 0 || !p->layer_list)
			return err_set(e, ERR_INVALID,
				       "layers: the keep list is empty");
		for (int i = 0; i < p->n_layer_list; i++)
			if (p->layer_list[i] < 0 ||
			    p->layer_list[i] >= c->n_layers)
				return err_set(e, ERR_INVALID,
					       "layers: keep list entry %d is "
					       "layer %d, outside 0..%d",
					       i, p->layer_list[i],
					       c->n_layers - 1);
		break;
	default:
		return err_set(e, ERR_INVALID, "layers: unknown mode %d",
			       (int)p->layer_mode);
	}
	if ((unsigned)p->tie > PLAN_TIE_MEAN)
		return err_set(e, ERR_INVALID, "tie: unknown source %d",
			       (int)p->tie);
	if (p->export_dtype != DTYPE_F32 && p->export_dtype != DTYPE_F16 &&
	    p->export_dtype != DTYPE_BF16)
		return err_set(e, ERR_INVALID, "export: unknown dtype %d",
			       (int)p->export_dtype);
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* Sorts and dedups; returns the number of duplicates removed. */
static int sort_unique(int *v, int *n)
{
	int w = 0;
	qsort(v, (size_t)*n, sizeof *v, cmp_int);
	for (int i = 0; i < *n; i++)
		if (w == 0 || v[w - 1] != v[i])
			v[w++] = v[i];
	int removed = *n - w;
	*n = w;
	return removed;
}

static int snap_vocab_list(struct prune_plan *p, const struct config *c,
			   struct plan_notes *notes, struct err *e)
{
	int fl = vocab_floor(c), n = p->n_vocab_ids;
	int sorted = 1;
	for (int i = 1; i < n; i++)
		if (p->vocab_ids[i] <= p->vocab_ids[i - 1])
			sorted = 0;
	if (!sorted) {
		int dups = sort_unique(p->vocab_ids, &p->n_vocab_ids);
		if (dups)
			note(notes, "vocab list: %d duplicate id%s removed",
			     dups, dups == 1 ? "" : "s");
		n = p->n_vocab_ids;
	}
	/* specials and byte pieces are always kept */
	int have = 0;
	for (int i = 0; i < n && p->vocab_ids[i] < fl; i++)
		have++;
	if (have < fl) {
		int *v = malloc(((size_t)n + (size_t)fl) * sizeof *v);
		if (!v)
			return err_set(e, ERR_NOMEM,
				       "vocab list: out of memory");
		for (int i = 0; i < fl; i++)
			v[i] = i;
		memcpy(v + fl, p->vocab_ids + have,
		       (size_t)(n - have) * sizeof *v);
		free(p->vocab_ids);
		p->vocab_ids = v;
		p->n_vocab_ids = fl + n - have;
		note(notes,
		     "vocab list: added %d special/byte piece%s (ids < %d are "
		     "always kept)",
		     fl - have, fl - have == 1 ? "" : "s", fl);
	}
	return 0;
}

int plan_snap(struct prune_plan *p, const struct config *c,
	      struct plan_notes *notes, struct err *e)
{
	char why[128];
	int rc = plan_validate(p, c, e);
	if (rc)
		return rc;

	/* vocabulary */
	int fl = vocab_floor(c);
	if (p->vocab_mode == PLAN_VOCAB_TOP_K) {
		if (p->vocab_keep < fl) {
			note(notes,
			     "vocab %d -> %d: byte fallback needs the 3 "
			     "specials "
			     "and 256 byte pieces",
			     p->vocab_keep, fl);
			p->vocab_keep = fl;
		} else if (p->vocab_keep > c->vocab_size) {
			note(notes, "vocab %d -> %d: the source has %d pieces",
			     p->vocab_keep, c->vocab_size, c->vocab_size);
			p->vocab_keep = c->vocab_size;
		}
	} else if (p->vocab_mode == PLAN_VOCAB_LIST) {
		if ((rc = snap_vocab_list(p, c, notes, e)))
			return rc;
	}

	/* width */
	int d = c->hidden_size;
	int dn = plan_resolve_hidden(p, c);
	if (p->hidden > 0) {
		if (p->hidden != dn) {
			note(notes, "hidden %d -> %d: %s", p->hidden, dn,
			     p->hidden > d ? "at most the source's d"
					   : unit_reason(c, p->head_mode, why,
							 sizeof why));
			p->hidden = dn;
		}
	} else if (p->width_factor > 1.0) {
		note(notes, "width %g -> 1: pruning cannot widen the model",
		     p->width_factor);
		p->width_factor = 1.0;
	} else if (p->width_factor * d != (double)dn) {
		note(notes, "width %g -> d %d (factor %g): %s", p->width_factor,
		     dn, (double)dn / d,
		     unit_reason(c, p->head_mode, why, sizeof why));
		p->width_factor = (double)dn / d;
	}
	if (p->intermediate > c->intermediate_size) {
		note(notes, "intermediate %d -> %d: at most the source's f",
		     p->intermediate, c->intermediate_size);
		p->intermediate = c->intermediate_size;
	}

	/* layers */
	int L = c->n_layers;
	if (p->layer_mode == PLAN_LAYERS_LIST) {
		int sorted = 1;
		for (int i = 1; i < p->n_layer_list; i++)
			if (p->layer_list[i] <= p->layer_list[i - 1])
				sorted = 0;
		if (!sorted) {
			int dups = sort_unique(p->layer_list, &p->n_layer_list);
			note(notes, "layer list sorted into model order%s",
			     dups ? ", duplicates removed" : "");
		}
	} else if (p->n_layers > L) {
		note(notes, "layers %d -> %d: the source has %d", p->n_layers,
		     L, L);
		p->n_layers = L;
	} else if (p->layer_mode == PLAN_LAYERS_RANK && p->n_layers == 0) {
		note(notes, "layers: rank needs a count; keeping all %d", L);
		p->n_layers = L;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Estimate                                                            */

int plan_apply_config(const struct prune_plan *p, const struct config *c,
		      long vocab_count, struct config *out, struct err *e)
{
	int rc = plan_validate(p, c, e);
	if (rc)
		return rc;
	struct config o = *c;
	o.json_text = NULL;

	switch (p->vocab_mode) {
	case PLAN_VOCAB_NONE:
		break;
	case PLAN_VOCAB_TOP_K:
		o.vocab_size = p->vocab_keep;
		break;
	case PLAN_VOCAB_MIN_COUNT:
		if (vocab_count > 0) /* specials and bytes always stay */
			o.vocab_size =
			    vocab_count > c->vocab_size	   ? c->vocab_size
			    : vocab_count < vocab_floor(c) ? vocab_floor(c)
							   : (int)vocab_count;
		break;
	case PLAN_VOCAB_LIST:
		o.vocab_size = p->n_vocab_ids;
		break;
	}
	if (o.vocab_size < vocab_floor(c) || o.vocab_size > c->vocab_size)
		return err_set(e, ERR_INVALID,
			       "vocab: %d pieces is outside %d..%d (snap the "
			       "plan first)",
			       o.vocab_size, vocab_floor(c), c->vocab_size);

	int d = c->hidden_size, dn = plan_resolve_hidden(p, c);
	o.hidden_size = dn;
	if (p->intermediate > 0) {
		o.intermediate_size = p->intermediate > c->intermediate_size
					  ? c->intermediate_size
					  : p->intermediate;
	} else {
		long f = lround((double)c->intermediate_size * dn / d);
		o.intermediate_size = f < 1 ? 1 : (int)f;
	}
	int g = kv_group(c);
	if (p->head_mode == PLAN_HEADS_HEADDIM) {
		if (standard_heads(c)) {
			o.head_dim = dn / c->n_heads;
		} else {
			long hd = 2 * lround((double)c->head_dim * dn / d / 2);
			o.head_dim = hd < 2 ? 2 : (int)hd;
		}
	} else {
		if (standard_heads(c)) {
			o.n_heads = dn / c->head_dim;
		} else {
			long k = lround((double)c->n_heads * dn / d / g);
			o.n_heads = (int)(k < 1 ? 1 : k) * g;
		}
		o.n_kv_heads = o.n_heads / g;
	}

	switch (p->layer_mode) {
	case PLAN_LAYERS_FIRST:
	case PLAN_LAYERS_RANK:
		if (p->n_layers > 0)
			o.n_layers = p->n_layers > c->n_layers ? c->n_layers
							       : p->n_layers;
		break;
	case PLAN_LAYERS_LIST:
		o.n_layers = p->n_layer_list;
		break;
	}
	o.tie_word_embeddings =
	    c->tie_word_embeddings || p->tie != PLAN_TIE_OFF;
	if ((rc = config_validate(&o, "pruned", e)))
		return rc;
	*out = o;
	return 0;
}

int plan_estimate(const struct prune_plan *p, const struct config *c,
		  long vocab_count, struct plan_estimate *out,
		  struct prune_plan *snapped, struct err *e)
{
	struct prune_plan s;
	int rc;
	memset(out, 0, sizeof *out);
	if ((rc = plan_validate(p, c, e)))
		return rc;
	if ((rc = prune_plan_copy(&s, p, e)))
		return rc;
	if ((rc = plan_snap(&s, c, &out->notes, e)) ||
	    (rc = plan_apply_config(&s, c, vocab_count, &out->cfg, e))) {
		prune_plan_free(&s);
		return rc;
	}
	out->vocab_known = true;
	if (s.vocab_mode == PLAN_VOCAB_MIN_COUNT && vocab_count <= 0) {
		out->vocab_known = false;
		note(&out->notes,
		     "vocab: min count %d needs token counts; %d pieces shown "
		     "(an upper bound)",
		     s.vocab_min_count, out->cfg.vocab_size);
	} else if (s.vocab_mode == PLAN_VOCAB_LIST && s.merge_closure) {
		out->vocab_known = false;
		note(&out->notes,
		     "vocab: merge closure may add parents to the %d listed "
		     "pieces (a lower bound)",
		     s.n_vocab_ids);
	}
	config_params(c, &out->src);
	config_params(&out->cfg, &out->dst);
	out->bytes_f32 = out->dst.total * dtype_size(DTYPE_F32);
	out->bytes_bf16 = out->dst.total * dtype_size(DTYPE_BF16);
	out->bytes_f16 = out->dst.total * dtype_size(DTYPE_F16);
	if (snapped)
		*snapped = s;
	else
		prune_plan_free(&s);
	return 0;
}

double plan_pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* ------------------------------------------------------------------ */
/* Stepping                                                            */

static const int vocab_ladder[] = {
    259,   512,	  1024,	 2048,	4096,  8064,  8192,   12288,
    16384, 24576, 32000, 32768, 49152, 65536, 131072, 262144,
};

int plan_vocab_step(const struct config *c, int cur, int dir)
{
	int fl = vocab_floor(c), V = c->vocab_size;
	int best = cur;
	int n = (int)(sizeof vocab_ladder / sizeof vocab_ladder[0]);
	for (int i = -2; i < n; i++) {
		int v = i == -2 ? fl : i == -1 ? V : vocab_ladder[i];
		if (v < fl || v > V)
			continue;
		if (dir > 0 && v > cur && (best == cur || v < best))
			best = v;
		if (dir < 0 && v < cur && (best == cur || v > best))
			best = v;
	}
	return best;
}

static int step_multiple(int cur, int unit, int max, int dir)
{
	int top = max / unit * unit;
	int k = cur / unit;
	int v;
	if (dir > 0)
		v = (k + 1) * unit;
	else
		v = cur % unit ? k * unit : (k - 1) * unit;
	if (v < unit || v > top) {
		/* the source size is valid even when not a multiple */
		if (dir > 0 && cur < max)
			return max;
		return cur;
	}
	return v;
}

int plan_hidden_step(const struct config *c, enum plan_head_mode m, int cur,
		     int dir)
{
	return step_multiple(cur, hidden_unit(c, m), c->hidden_size, dir);
}

int plan_inter_step(const struct config *c, int cur, int dir)
{
	int f = c->intermediate_size;
	return step_multiple(cur, f >= 64 ? 64 : 1, f, dir);
}

int plan_layers_step(const struct config *c, int cur, int dir)
{
	int v = cur + (dir > 0 ? 1 : -1);
	return v < 1 || v > c->n_layers ? cur : v;
}

/* ------------------------------------------------------------------ */
/* Presets                                                             */

const char *const plan_preset_names[] = {
    "identity", "published-50m", "published-100m", "published-40m", NULL,
};
const char *const plan_geometry_names[] = {"inkubalm-0.4b", NULL};

static void published(struct prune_plan *p, int vocab, int layers)
{
	prune_plan_init(p);
	if (vocab > 0) {
		p->vocab_mode = PLAN_VOCAB_TOP_K;
		p->vocab_keep = vocab;
	}
	p->merge_closure = false;
	p->width_factor = 0.5;
	p->head_mode = PLAN_HEADS_HEADDIM;
	p->select = PLAN_SELECT_RECIPE_RANDOM;
	p->layer_mode = PLAN_LAYERS_FIRST;
	p->n_layers = layers;
	p->tie = PLAN_TIE_LM_HEAD;
}

int plan_preset(const char *name, struct prune_plan *out, struct err *e)
{
	if (!strcmp(name, "identity"))
		prune_plan_init(out);
	else if (!strcmp(name, "published-50m"))
		published(out, 8064, 8);
	else if (!strcmp(name, "published-100m"))
		published(out, 0, 8);
	else if (!strcmp(name, "published-40m"))
		published(out, 8064, 6);
	else
		return err_set(e, ERR_NOTFOUND,
			       "unknown plan preset '%s' (identity, "
			       "published-50m, published-100m, published-40m)",
			       name);
	return 0;
}

int plan_geometry_preset(const char *name, struct config *out, struct err *e)
{
	if (!strcmp(name, "inkubalm-0.4b") || !strcmp(name, "inkubalm")) {
		config_inkubalm(out);
		return 0;
	}
	return err_set(e, ERR_NOTFOUND,
		       "unknown geometry preset '%s' (inkubalm-0.4b)", name);
}

/* ------------------------------------------------------------------ */
/* Names                                                               */

static const char *const vocab_names[] = {"none", "top_k", "min_count", "list"};
static const char *const head_names[] = {"head_dim", "heads"};
static const char *const select_names[] = {"random", "magnitude", "activation",
					   "recipe_random"};
static const char *const layer_names[] = {"first", "list", "rank"};
static const char *const tie_names[] = {"off", "lm_head", "embed", "mean"};

#define NAME_OF(tab, v)                                                        \
	((unsigned)(v) < sizeof tab / sizeof tab[0] ? tab[v] : "?")

const char *plan_vocab_mode_name(enum plan_vocab_mode m)
{
	return NAME_OF(vocab_names, m);
}
const char *plan_head_mode_name(enum plan_head_mode m)
{
	return NAME_OF(head_names, m);
}
const char *plan_select_name(enum plan_select s)
{
	return NAME_OF(select_names, s);
}
const char *plan_layer_mode_name(enum plan_layer_mode m)
{
	return NAME_OF(layer_names, m);
}
const char *plan_tie_name(enum plan_tie t)
{
	return NAME_OF(tie_names, t);
}

/* Case-insensitive, '-' and '_' alike ("recipe-random" = "recipe_random"). */
static int name_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return *a == *b;
}

static int parse_name(const char *const *tab, int n, const char *s)
{
	for (int i = 0; s && i < n; i++)
		if (name_eq(s, tab[i]))
			return i;
	return -1;
}

#define PARSE(tab, s) parse_name(tab, (int)(sizeof tab / sizeof tab[0]), s)

int plan_vocab_mode_parse(const char *s)
{
	return PARSE(vocab_names, s);
}
int plan_head_mode_parse(const char *s)
{
	if (s && (name_eq(s, "headdim") || name_eq(s, "head")))
		return PLAN_HEADS_HEADDIM;
	if (s && name_eq(s, "drop"))
		return PLAN_HEADS_DROP;
	return PARSE(head_names, s);
}
int plan_select_parse(const char *s)
{
	return PARSE(select_names, s);
}
int plan_layer_mode_parse(const char *s)
{
	return PARSE(layer_names, s);
}
int plan_tie_parse(const char *s)
{
	if (s && (name_eq(s, "lmhead") || name_eq(s, "lm")))
		return PLAN_TIE_LM_HEAD;
	if (s && name_eq(s, "embedding"))
		return PLAN_TIE_EMBED;
	return PARSE(tie_names, s);
}
