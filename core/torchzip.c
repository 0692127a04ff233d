#include "torchzip.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== little-endian readers (any alignment) ==== */

static uint16_t rd16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* ==== the restricted unpickler ==== */

enum vkind {
	V_NONE,
	V_BOOL,
	V_INT,
	V_FLOAT,
	V_STR,
	V_TUPLE,
	V_LIST,
	V_DICT,
	V_GLOBAL,
	V_STORAGE,
	V_TENSOR,
};

/* The only callables and classes a state dict may name. */
enum global {
	G_ORDERED_DICT,
	G_REBUILD_TENSOR,
	G_REBUILD_PARAM,
	G_STORAGE_F32,
	G_STORAGE_F16,
	G_STORAGE_BF16,
};

static const struct {
	const char *module, *name;
	enum global g;
} allowed_globals[] = {
    {"collections", "OrderedDict", G_ORDERED_DICT},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAM},
    {"torch", "FloatStorage", G_STORAGE_F32},
    {"torch", "HalfStorage", G_STORAGE_F16},
    {"torch", "BFloat16Storage", G_STORAGE_BF16},
};

/* Storage types of other dtypes: well-formed, but not ours. */
static const char *const other_storages[] = {
    "DoubleStorage",  "LongStorage",	     "IntStorage",
    "ShortStorage",   "CharStorage",	     "ByteStorage",
    "BoolStorage",    "ComplexFloatStorage", "ComplexDoubleStorage",
    "UntypedStorage", "QInt8Storage",	     "QUInt8Storage",
};

struct obj;

struct val {
	enum vkind kind;
	union {
		int64_t i;
		double f;
		struct {
			const char *p;
			uint32_t n;
		} s;
		struct obj *o;
		enum global g;
	} u;
};

struct obj {
	struct obj *next; /* every object, for freeing */
	enum vkind kind;  /* V_TUPLE, V_LIST, V_DICT, V_STORAGE, V_TENSOR */
	/* tuple, list: n values; dict: n pairs as 2n values */
	struct val *items;
	size_t n, cap;
	/* storage */
	enum dtype dtype;
	const char *key;
	uint32_t key_len;
	uint64_t storage_numel;
	/* tensor */
	const struct obj *storage;
	uint64_t offset, numel;
	int ndim;
	int64_t shape[TENSOR_MAX_DIMS];
};

/* Largest jump of a memo index past the slots in use. */
#define TORCHZIP_MEMO_GAP 65536

struct up {
	const unsigned char *p;
	size_t len, pos;
	const char *name;
	struct err *e;
	struct obj *objs;
	size_t mem; /* bytes charged against TORCHZIP_MAX_MEMORY */
	struct val *stack;
	size_t sp, scap;
	size_t *marks;
	size_t nmarks, mcap;
	struct val *memo;
	size_t nmemo, memo_cap;
};

static int up_err(struct up *u, int code, const char *what, size_t at)
{
	return err_set(u->e, code, "'%s': pickle %s at offset %zu", u->name,
		       what, at);
}

static int charge(struct up *u, size_t bytes)
{
	if (bytes > TORCHZIP_MAX_MEMORY - u->mem)
		return err_set(u->e, ERR_NOMEM,
			       "'%s': pickle needs more than %zu MB", u->name,
			       TORCHZIP_MAX_MEMORY >> 20);
	u->mem += bytes;
	return 0;
}

/* Grows *arr (elements of size sz) to hold at least need, charging the
 * budget for what is added. */
static int grow(struct up *u, void **arr, size_t *cap, size_t need, size_t sz)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 16;
	while (nc < need) {
		if (nc > TORCHZIP_MAX_MEMORY / sz)
			return charge(u, TORCHZIP_MAX_MEMORY); /* fails */
		nc *= 2;
	}
	if (charge(u, (nc - *cap) * sz) < 0)
		return ERR_NOMEM;
	void *q = realloc(*arr, nc * sz);
	if (!q)
		return err_set(u->e, ERR_NOMEM, "'%s': out of memory", u->name);
	*arr = q;
	*cap = nc;
	return 0;
}

static struct obj *new_obj(struct up *u, enum vkind kind)
{
	if (charge(u, sizeof(struct obj)) < 0)
		return NULL;
	struct obj *o = calloc(1, sizeof *o);
	if (!o) {
		err_set(u->e, ERR_NOMEM, "'%s': out of memory", u->name);
		return NULL;
	}
	o->kind = kind;
	o->next = u->objs;
	u->objs = o;
	return o;
}

static int obj_add(struct up *u, struct obj *o, struct val v)
{
	int rc = grow(u, (void **)&o->items, &o->cap, o->n + 1, sizeof v);
	if (rc < 0)
		return rc;
	o->items[o->n++] = v;
	return 0;
}

static int push(struct up *u, struct val v)
{
	int rc = grow(u, (void **)&u->stack, &u->scap, u->sp + 1, sizeof v);
	if (rc < 0)
		return rc;
	u->stack[u->sp++] = v;
	return 0;
}

static int push_obj(struct up *u, enum vkind kind)
{
	struct obj *o = new_obj(u, kind);
	if (!o)
		return u->e ? u->e->code : ERR_NOMEM;
	struct val v = {.kind = kind, .u.o = o};
	return push(u, v);
}

/* The floor of the stack: the last mark, or 0. */
static size_t stack_floor(const struct up *u)
{
	return u->nmarks ? u->marks[u->nmarks - 1] : 0;
}

static int pop(struct up *u, struct val *out, size_t at)
{
	if (u->sp <= stack_floor(u))
		return up_err(u, ERR_FORMAT, "stack underflow", at);
	*out = u->stack[--u->sp];
	return 0;
}

static int pop_mark(struct up *u, size_t *base, size_t at)
{
	if (!u->nmarks)
		return up_err(u, ERR_FORMAT, "has no mark", at);
	*base = u->marks[--u->nmarks];
	return 0;
}

static int need(struct up *u, size_t n, size_t at)
{
	if (n > u->len - u->pos)
		return up_err(u, ERR_FORMAT, "is truncated", at);
	return 0;
}

static const char *kind_name(enum vkind k)
{
	switch (k) {
	case V_NONE:
		return "None";
	case V_BOOL:
		return "bool";
	case V_INT:
		return "int";
	case V_FLOAT:
		return "float";
	case V_STR:
		return "str";
	case V_TUPLE:
		return "tuple";
	case V_LIST:
		return "list";
	case V_DICT:
		return "dict";
	case V_GLOBAL:
		return "global";
	case V_STORAGE:
		return "storage";
	case V_TENSOR:
		return "tensor";
	}
	return "?";
}

static int str_is(struct val v, const char *s)
{
	return v.kind == V_STR && v.u.s.n == strlen(s) &&
	       memcmp(v.u.s.p, s, v.u.s.n) == 0;
}

/* Resolves module.name against the allow-list. */
static int resolve_global(struct up *u, const char *mod, size_t ml,
			  const char *name, size_t nl, size_t at)
{
	for (size_t i = 0;
	     i < sizeof allowed_globals / sizeof allowed_globals[0]; i++) {
		const char *m = allowed_globals[i].module;
		const char *n = allowed_globals[i].name;
		if (strlen(m) == ml && memcmp(m, mod, ml) == 0 &&
		    strlen(n) == nl && memcmp(n, name, nl) == 0) {
			struct val v = {.kind = V_GLOBAL,
					.u.g = allowed_globals[i].g};
			return push(u, v);
		}
	}
	int ml_i = ml > 100 ? 100 : (int)ml, nl_i = nl > 100 ? 100 : (int)nl;
	if (ml == 5 && memcmp(mod, "torch", 5) == 0)
		for (size_t i = 0;
		     i < sizeof other_storages / sizeof other_storages[0]; i++)
			if (strlen(other_storages[i]) == nl &&
			    memcmp(other_storages[i], name, nl) == 0)
				return err_set(
				    u->e, ERR_UNSUPPORTED,
				    "'%s': storage type 'torch.%.*s' "
				    "is not supported (only float32, "
				    "float16 and bfloat16 tensors)",
				    u->name, nl_i, name);
	(void)at;
	return err_set(u->e, ERR_UNSUPPORTED,
		       "'%s': pickle asks for forbidden global '%.*s.%.*s'",
		       u->name, ml_i, mod, nl_i, name);
}

/* Reads a "text\n" line of GLOBAL (at most 256 bytes). */
static int read_line(struct up *u, const char **s, size_t *n, size_t at)
{
	size_t max = u->len - u->pos;
	if (max > 257)
		max = 257;
	const unsigned char *nl = memchr(u->p + u->pos, '\n', max);
	if (!nl)
		return up_err(u, ERR_FORMAT, "GLOBAL name is malformed", at);
	*s = (const char *)u->p + u->pos;
	*n = (size_t)(nl - (u->p + u->pos));
	u->pos += *n + 1;
	return 0;
}

/* (storage, storage_offset, size, stride, requires_grad, hooks[, meta]) */
static int rebuild_tensor(struct up *u, const struct obj *args, struct val *out,
			  size_t at)
{
	if (args->n < 6 || args->n > 7)
		return up_err(u, ERR_FORMAT,
			      "_rebuild_tensor_v2 has the wrong arguments", at);
	const struct val *a = args->items;
	if (a[0].kind != V_STORAGE || a[1].kind != V_INT ||
	    a[2].kind != V_TUPLE || a[3].kind != V_TUPLE)
		return up_err(u, ERR_FORMAT,
			      "_rebuild_tensor_v2 has the wrong arguments", at);
	const struct obj *size = a[2].u.o, *stride = a[3].u.o;
	if (size->n > TENSOR_MAX_DIMS)
		return up_err(u, ERR_UNSUPPORTED,
			      "tensor has too many dimensions", at);
	if (stride->n != size->n)
		return up_err(u, ERR_FORMAT,
			      "tensor size and stride differ in length", at);
	if (a[1].u.i < 0)
		return up_err(u, ERR_FORMAT, "tensor has a negative offset",
			      at);
	struct obj *t = new_obj(u, V_TENSOR);
	if (!t)
		return u->e ? u->e->code : ERR_NOMEM;
	t->storage = a[0].u.o;
	t->offset = (uint64_t)a[1].u.i;
	t->ndim = (int)size->n;
	for (size_t i = 0; i < size->n; i++) {
		if (size->items[i].kind != V_INT ||
		    stride->items[i].kind != V_INT)
			return up_err(u, ERR_FORMAT,
				      "tensor size or stride is not an int",
				      at);
		t->shape[i] = size->items[i].u.i;
	}
	uint64_t nb;
	if (tensor_shape_size(t->ndim, t->shape, t->storage->dtype, "?",
			      &t->numel, &nb, u->e) < 0)
		return up_err(u, ERR_FORMAT, "tensor shape is invalid", at);
	/* Row-major contiguous; like PyTorch, size-1 dims' strides are free
	 * (and an empty tensor's are all free). */
	int64_t want = 1;
	for (int i = t->ndim - 1; i >= 0 && t->numel != 0; i--) {
		if (t->shape[i] != 1 && stride->items[i].u.i != want)
			return err_set(u->e, ERR_UNSUPPORTED,
				       "'%s': pickle at offset %zu: tensor is "
				       "not contiguous (dim %d has stride "
				       "%lld, row-major needs %lld)",
				       u->name, at, i,
				       (long long)stride->items[i].u.i,
				       (long long)want);
		want *= t->shape[i];
	}
	if (t->offset > t->storage->storage_numel ||
	    t->numel > t->storage->storage_numel - t->offset)
		return err_set(
		    u->e, ERR_FORMAT,
		    "'%s': pickle at offset %zu: tensor of %llu "
		    "elements at offset %llu exceeds its storage "
		    "'%.*s' of %llu",
		    u->name, at, (unsigned long long)t->numel,
		    (unsigned long long)t->offset,
		    (int)(t->storage->key_len > 64 ? 64 : t->storage->key_len),
		    t->storage->key,
		    (unsigned long long)t->storage->storage_numel);
	out->kind = V_TENSOR;
	out->u.o = t;
	return 0;
}

static int do_reduce(struct up *u, size_t at)
{
	struct val args, fn;
	int rc;
	if ((rc = pop(u, &args, at)) < 0 || (rc = pop(u, &fn, at)) < 0)
		return rc;
	if (fn.kind != V_GLOBAL)
		return up_err(u, ERR_UNSUPPORTED,
			      "REDUCE on something not callable", at);
	if (args.kind != V_TUPLE)
		return up_err(u, ERR_FORMAT, "REDUCE arguments are not a tuple",
			      at);
	struct obj *a = args.u.o;
	struct val res = {0};
	switch (fn.u.g) {
	case G_ORDERED_DICT:
		if (a->n != 0)
			return up_err(u, ERR_UNSUPPORTED,
				      "OrderedDict with arguments", at);
		if ((rc = push_obj(u, V_DICT)) < 0)
			return rc;
		return 0;
	case G_REBUILD_TENSOR:
		if ((rc = rebuild_tensor(u, a, &res, at)) < 0)
			return rc;
		return push(u, res);
	case G_REBUILD_PARAM:
		if (a->n < 1 || a->n > 3 || a->items[0].kind != V_TENSOR)
			return up_err(u, ERR_FORMAT,
				      "_rebuild_parameter has the wrong "
				      "arguments",
				      at);
		return push(u, a->items[0]);
	default:
		return up_err(u, ERR_UNSUPPORTED, "REDUCE calls a storage type",
			      at);
	}
}

/* ('storage', storage_type, key, location, numel) -> a storage. */
static int do_persid(struct up *u, size_t at)
{
	struct val pid;
	int rc = pop(u, &pid, at);
	if (rc < 0)
		return rc;
	if (pid.kind != V_TUPLE || pid.u.o->n != 5 ||
	    !str_is(pid.u.o->items[0], "storage"))
		return up_err(u, ERR_UNSUPPORTED,
			      "persistent id is not a storage", at);
	const struct val *a = pid.u.o->items;
	if (a[1].kind != V_GLOBAL || a[2].kind != V_STR || a[4].kind != V_INT)
		return up_err(u, ERR_FORMAT, "storage id is malformed", at);
	enum dtype dt;
	switch (a[1].u.g) {
	case G_STORAGE_F32:
		dt = DTYPE_F32;
		break;
	case G_STORAGE_F16:
		dt = DTYPE_F16;
		break;
	case G_STORAGE_BF16:
		dt = DTYPE_BF16;
		break;
	default:
		return up_err(u, ERR_FORMAT, "storage id names no storage type",
			      at);
	}
	if (a[2].u.s.n == 0 || memchr(a[2].u.s.p, '\0', a[2].u.s.n) ||
	    memchr(a[2].u.s.p, '/', a[2].u.s.n) || a[4].u.i < 0)
		return up_err(u, ERR_FORMAT, "storage id is malformed", at);
	struct obj *s = new_obj(u, V_STORAGE);
	if (!s)
		return u->e ? u->e->code : ERR_NOMEM;
	s->dtype = dt;
	s->key = a[2].u.s.p;
	s->key_len = a[2].u.s.n;
	s->storage_numel = (uint64_t)a[4].u.i;
	struct val v = {.kind = V_STORAGE, .u.o = s};
	return push(u, v);
}

static int do_setitems(struct up *u, size_t base, size_t at)
{
	if (base == 0 || u->stack[base - 1].kind != V_DICT ||
	    (u->sp - base) % 2)
		return up_err(u, ERR_FORMAT, "SETITEMS without a dict", at);
	struct obj *d = u->stack[base - 1].u.o;
	for (size_t i = base; i < u->sp; i++) {
		int rc = obj_add(u, d, u->stack[i]);
		if (rc < 0)
			return rc;
	}
	u->sp = base;
	return 0;
}

static int do_appends(struct up *u, size_t base, size_t at)
{
	if (base == 0 || u->stack[base - 1].kind != V_LIST)
		return up_err(u, ERR_FORMAT, "APPENDS without a list", at);
	struct obj *l = u->stack[base - 1].u.o;
	for (size_t i = base; i < u->sp; i++) {
		int rc = obj_add(u, l, u->stack[i]);
		if (rc < 0)
			return rc;
	}
	u->sp = base;
	return 0;
}

/* Pops the values above base into a new tuple. */
static int make_tuple(struct up *u, size_t base)
{
	struct obj *t = new_obj(u, V_TUPLE);
	if (!t)
		return u->e ? u->e->code : ERR_NOMEM;
	for (size_t i = base; i < u->sp; i++) {
		int rc = obj_add(u, t, u->stack[i]);
		if (rc < 0)
			return rc;
	}
	u->sp = base;
	struct val v = {.kind = V_TUPLE, .u.o = t};
	return push(u, v);
}

static int memo_put(struct up *u, size_t idx, size_t at)
{
	if (u->sp <= stack_floor(u))
		return up_err(u, ERR_FORMAT, "memoizes an empty stack", at);
	if (idx >= u->nmemo) {
		/* Picklers number memo slots 0, 1, 2, ...; allow gaps (an
		 * optimiser may drop puts) but no leap across memory. */
		if (idx - u->nmemo > TORCHZIP_MEMO_GAP)
			return up_err(u, ERR_FORMAT, "memo index leaps too far",
				      at);
		int rc = grow(u, (void **)&u->memo, &u->memo_cap, idx + 1,
			      sizeof *u->memo);
		if (rc < 0)
			return rc;
		for (size_t i = u->nmemo; i <= idx; i++) {
			u->memo[i].kind = V_NONE;
			u->memo[i].u.i = -1; /* a None with i = -1: unset */
		}
		u->nmemo = idx + 1;
	}
	u->memo[idx] = u->stack[u->sp - 1];
	return 0;
}

static int memo_get(struct up *u, size_t idx, size_t at)
{
	if (idx >= u->nmemo ||
	    (u->memo[idx].kind == V_NONE && u->memo[idx].u.i == -1))
		return up_err(u, ERR_FORMAT, "reads an unset memo slot", at);
	return push(u, u->memo[idx]);
}

static int push_str(struct up *u, uint64_t n, size_t at)
{
	int rc = need(u, n, at);
	if (rc < 0)
		return rc;
	if (n > UINT32_MAX)
		return up_err(u, ERR_FORMAT, "string is too long", at);
	struct val v = {.kind = V_STR};
	v.u.s.p = (const char *)u->p + u->pos;
	v.u.s.n = (uint32_t)n;
	u->pos += (size_t)n;
	return push(u, v);
}

static int push_int(struct up *u, int64_t i)
{
	struct val v = {.kind = V_INT, .u.i = i};
	return push(u, v);
}

/* Runs the pickle; the result is left in *result. */
static int run(struct up *u, struct val *result)
{
	int rc = 0;
	while (rc == 0) {
		size_t at = u->pos;
		if (u->pos >= u->len)
			return up_err(u, ERR_FORMAT, "ends without STOP", at);
		unsigned op = u->p[u->pos++];
		struct val a, b;
		size_t base = 0;
		switch (op) {
		case 0x80: /* PROTO */
			if ((rc = need(u, 1, at)) < 0)
				break;
			if (u->p[u->pos] < 2 || u->p[u->pos] > 5)
				return up_err(u, ERR_UNSUPPORTED,
					      "protocol is not 2-5", at);
			u->pos++;
			break;
		case 0x95: /* FRAME: a length hint only */
			if ((rc = need(u, 8, at)) == 0)
				u->pos += 8;
			break;
		case '}':
			rc = push_obj(u, V_DICT);
			break;
		case ']':
			rc = push_obj(u, V_LIST);
			break;
		case ')':
			rc = push_obj(u, V_TUPLE);
			break;
		case '(':
			rc = grow(u, (void **)&u->marks, &u->mcap,
				  u->nmarks + 1, sizeof *u->marks);
			if (rc == 0)
				u->marks[u->nmarks++] = u->sp;
			break;
		case 'X': /* BINUNICODE */
			if ((rc = need(u, 4, at)) < 0)
				break;
			u->pos += 4;
			rc = push_str(u, rd32(u->p + u->pos - 4), at);
			break;
		case 0x8c: /* SHORT_BINUNICODE */
			if ((rc = need(u, 1, at)) < 0)
				break;
			u->pos += 1;
			rc = push_str(u, u->p[u->pos - 1], at);
			break;
		case 0x8d: /* BINUNICODE8 */
			if ((rc = need(u, 8, at)) < 0)
				break;
			u->pos += 8;
			rc = push_str(u, rd64(u->p + u->pos - 8), at);
			break;
		case 'J': /* BININT */
			if ((rc = need(u, 4, at)) < 0)
				break;
			u->pos += 4;
			rc = push_int(u, (int32_t)rd32(u->p + u->pos - 4));
			break;
		case 'K': /* BININT1 */
			if ((rc = need(u, 1, at)) < 0)
				break;
			rc = push_int(u, u->p[u->pos++]);
			break;
		case 'M': /* BININT2 */
			if ((rc = need(u, 2, at)) < 0)
				break;
			u->pos += 2;
			rc = push_int(u, rd16(u->p + u->pos - 2));
			break;
		case 0x8a: { /* LONG1: little-endian two's complement */
			if ((rc = need(u, 1, at)) < 0)
				break;
			size_t n = u->p[u->pos++];
			if (n > 8)
				return up_err(u, ERR_UNSUPPORTED,
					      "integer exceeds 64 bits", at);
			if ((rc = need(u, n, at)) < 0)
				break;
			uint64_t x = 0;
			for (size_t i = 0; i < n; i++)
				x |= (uint64_t)u->p[u->pos + i] << (8 * i);
			if (n > 0 && n < 8 && (u->p[u->pos + n - 1] & 0x80))
				x |= ~(uint64_t)0 << (8 * n); /* sign */
			u->pos += n;
			rc = push_int(u, (int64_t)x);
			break;
		}
		case 'G': { /* BINFLOAT, big-endian */
			if ((rc = need(u, 8, at)) < 0)
				break;
			uint64_t x = 0;
			for (int i = 0; i < 8; i++)
				x = x << 8 | u->p[u->pos + (size_t)i];
			u->pos += 8;
			struct val v = {.kind = V_FLOAT};
			memcpy(&v.u.f, &x, 8);
			rc = push(u, v);
			break;
		}
		case 'N': {
			struct val v = {.kind = V_NONE};
			rc = push(u, v);
			break;
		}
		case 0x88:
		case 0x89: {
			struct val v = {.kind = V_BOOL, .u.i = op == 0x88};
			rc = push(u, v);
			break;
		}
		case 't':
			if ((rc = pop_mark(u, &base, at)) == 0)
				rc = make_tuple(u, base);
			break;
		case 0x85:
		case 0x86:
		case 0x87: {
			size_t k = op - 0x84;
			if (u->sp < stack_floor(u) + k)
				return up_err(u, ERR_FORMAT, "stack underflow",
					      at);
			rc = make_tuple(u, u->sp - k);
			break;
		}
		case 's': /* SETITEM */
			if (u->sp < stack_floor(u) + 3)
				return up_err(u, ERR_FORMAT, "stack underflow",
					      at);
			rc = do_setitems(u, u->sp - 2, at);
			break;
		case 'u':
			if ((rc = pop_mark(u, &base, at)) == 0)
				rc = do_setitems(u, base, at);
			break;
		case 'a':
			if (u->sp < stack_floor(u) + 2)
				return up_err(u, ERR_FORMAT, "stack underflow",
					      at);
			rc = do_appends(u, u->sp - 1, at);
			break;
		case 'e':
			if ((rc = pop_mark(u, &base, at)) == 0)
				rc = do_appends(u, base, at);
			break;
		case 'q':
			if ((rc = need(u, 1, at)) == 0)
				rc = memo_put(u, u->p[u->pos++], at);
			break;
		case 'r':
			if ((rc = need(u, 4, at)) < 0)
				break;
			u->pos += 4;
			rc = memo_put(u, rd32(u->p + u->pos - 4), at);
			break;
		case 0x94: /* MEMOIZE */
			rc = memo_put(u, u->nmemo, at);
			break;
		case 'h':
			if ((rc = need(u, 1, at)) == 0)
				rc = memo_get(u, u->p[u->pos++], at);
			break;
		case 'j':
			if ((rc = need(u, 4, at)) < 0)
				break;
			u->pos += 4;
			rc = memo_get(u, rd32(u->p + u->pos - 4), at);
			break;
		case 'c': { /* GLOBAL "module\nname\n" */
			const char *m, *n;
			size_t ml, nl;
			if ((rc = read_line(u, &m, &ml, at)) < 0 ||
			    (rc = read_line(u, &n, &nl, at)) < 0)
				break;
			rc = resolve_global(u, m, ml, n, nl, at);
			break;
		}
		case 0x93: /* STACK_GLOBAL */
			if ((rc = pop(u, &b, at)) < 0 ||
			    (rc = pop(u, &a, at)) < 0)
				break;
			if (a.kind != V_STR || b.kind != V_STR)
				return up_err(u, ERR_FORMAT,
					      "STACK_GLOBAL needs two strings",
					      at);
			rc = resolve_global(u, a.u.s.p, a.u.s.n, b.u.s.p,
					    b.u.s.n, at);
			break;
		case 'R':
			rc = do_reduce(u, at);
			break;
		case 'Q':
			rc = do_persid(u, at);
			break;
		case 'b': /* BUILD: state of an OrderedDict or a tensor */
			if ((rc = pop(u, &a, at)) < 0)
				break;
			if (u->sp <= stack_floor(u))
				return up_err(u, ERR_FORMAT, "stack underflow",
					      at);
			b = u->stack[u->sp - 1];
			if (b.kind != V_DICT && b.kind != V_TENSOR) {
				char what[64];
				snprintf(what, sizeof what, "BUILD on a %s",
					 kind_name(b.kind));
				return up_err(u, ERR_UNSUPPORTED, what, at);
			}
			break; /* state (metadata) ignored */
		case '.':
			if ((rc = pop(u, result, at)) < 0)
				break;
			return 0;
		default: {
			char what[64];
			if (op >= 0x21 && op < 0x7f)
				snprintf(what, sizeof what,
					 "opcode 0x%02x ('%c') is not "
					 "supported",
					 op, (int)op);
			else
				snprintf(what, sizeof what,
					 "opcode 0x%02x is not supported", op);
			return up_err(u, ERR_UNSUPPORTED, what, at);
		}
		}
	}
	return rc;
}

static char *dup_str(struct val v)
{
	char *s = malloc((size_t)v.u.s.n + 1);
	if (s) {
		memcpy(s, v.u.s.p, v.u.s.n);
		s[v.u.s.n] = '\0';
	}
	return s;
}

void torchzip_pickled_free(struct pickled_tensor *t, size_t n)
{
	if (!t)
		return;
	for (size_t i = 0; i < n; i++) {
		free(t[i].name);
		free(t[i].key);
	}
	free(t);
}

int torchzip_unpickle(const void *buf, size_t len, const char *name,
		      struct pickled_tensor **out, size_t *n, struct err *e)
{
	*out = NULL;
	*n = 0;
	if (len > TORCHZIP_MAX_PICKLE)
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': pickle of %zu bytes is too large", name,
			       len);
	struct up u = {.p = buf, .len = len, .name = name, .e = e};
	struct val res;
	struct pickled_tensor *pt = NULL;
	size_t k = 0;
	int rc = run(&u, &res);
	if (rc < 0)
		goto out;
	if (res.kind != V_DICT) {
		rc = err_set(e, ERR_UNSUPPORTED,
			     "'%s': pickle holds a %s, not a state dict", name,
			     kind_name(res.kind));
		goto out;
	}
	const struct obj *d = res.u.o;
	size_t count = d->n / 2;
	pt = calloc(count ? count : 1, sizeof *pt);
	if (!pt) {
		rc = err_set(e, ERR_NOMEM, "'%s': out of memory", name);
		goto out;
	}
	for (k = 0; k < count; k++) {
		struct val key = d->items[2 * k], v = d->items[2 * k + 1];
		if (key.kind != V_STR || memchr(key.u.s.p, '\0', key.u.s.n)) {
			rc = err_set(e, ERR_UNSUPPORTED,
				     "'%s': state dict key %zu is not a "
				     "string",
				     name, k);
			break;
		}
		if (v.kind != V_TENSOR) {
			rc = err_set(e, ERR_UNSUPPORTED,
				     "'%s': state dict entry '%.*s' is a %s, "
				     "not a tensor",
				     name,
				     (int)(key.u.s.n > 200 ? 200 : key.u.s.n),
				     key.u.s.p, kind_name(v.kind));
			break;
		}
		const struct obj *t = v.u.o;
		struct val kv = {.kind = V_STR};
		kv.u.s.p = t->storage->key;
		kv.u.s.n = t->storage->key_len;
		pt[k].name = dup_str(key);
		pt[k].key = dup_str(kv);
		if (!pt[k].name || !pt[k].key) {
			k++;
			rc = err_set(e, ERR_NOMEM, "'%s': out of memory", name);
			break;
		}
		pt[k].dtype = t->storage->dtype;
		pt[k].storage_numel = t->storage->storage_numel;
		pt[k].offset = t->offset;
		pt[k].ndim = t->ndim;
		memcpy(pt[k].shape, t->shape, sizeof pt[k].shape);
		pt[k].numel = t->numel;
	}
	if (rc == 0) {
		*out = pt;
		*n = count;
		pt = NULL;
	}
out:
	torchzip_pickled_free(pt, k);
	while (u.objs) {
		struct obj *o = u.objs;
		u.objs = o->next;
		free(o->items);
		free(o);
	}
	free(u.stack);
	free(u.marks);
	free(u.memo);
	return rc;
}

/* ==== CRC-32 ==== */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_make_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] =
			    (crc_table[t - 1][i] >> 8) ^
			    crc_table[0][crc_table[t - 1][i] & 0xff];
}

static void crc_init(void)
{
	pthread_once(&crc_once, crc_make_table);
}

/* CRC-32 (zip's), slicing by 8; crc_init() first. */
static uint32_t crc32_update(uint32_t crc, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	crc = ~crc;
	while (n >= 8) {
		uint32_t a = crc ^ rd32(p);
		uint32_t b = rd32(p + 4);
		crc = crc_table[7][a & 0xff] ^ crc_table[6][(a >> 8) & 0xff] ^
		      crc_table[5][(a >> 16) & 0xff] ^ crc_table[4][a >> 24] ^
		      crc_table[3][b & 0xff] ^ crc_table[2][(b >> 8) & 0xff] ^
		      crc_table[1][(b >> 16) & 0xff] ^ crc_table[0][b >> 24];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CRC_CLMUL 1

/* Folds 64-byte blocks with carry-less multiplication (Gopal et al., "Fast
 * CRC Computation for Generic Polynomials Using PCLMULQDQ", Intel 2009;
 * the bit-reflected constants of zlib's crc32_simd.c): n a multiple of 16
 * and >= 64; crc is the inverted running value, as is the result. About
 * ten times the table's speed, which matters when a 2.66 GB checkpoint's
 * storages are checked on load. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t
crc32_clmul(uint32_t crc, const unsigned char *buf, size_t n)
{
	const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
	const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
	const __m128i k5k0 = _mm_set_epi64x(0, 0x0163cd6124);
	const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641);
	__m128i x0, x1, x2, x3, x4, x5, x6, x7, x8;
	x1 = _mm_loadu_si128((const __m128i *)(const void *)(buf + 0x00));
	x2 = _mm_loadu_si128((const __m128i *)(const void *)(buf + 0x10));
	x3 = _mm_loadu_si128((const __m128i *)(const void *)(buf + 0x20));
	x4 = _mm_loadu_si128((const __m128i *)(const void *)(buf + 0x30));
	x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
	x0 = k1k2;
	buf += 64;
	n -= 64;
	while (n >= 64) {
		x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
		x6 = _mm_clmulepi64_si128(x2, x0, 0x00);
		x7 = _mm_clmulepi64_si128(x3, x0, 0x00);
		x8 = _mm_clmulepi64_si128(x4, x0, 0x00);
		x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
		x2 = _mm_clmulepi64_si128(x2, x0, 0x11);
		x3 = _mm_clmulepi64_si128(x3, x0, 0x11);
		x4 = _mm_clmulepi64_si128(x4, x0, 0x11);
		x1 = _mm_xor_si128(_mm_xor_si128(x1, x5),
				   _mm_loadu_si128((const __m128i *)(const void *)(buf + 0x00)));
		x2 = _mm_xor_si128(_mm_xor_si128(x2, x6),
				   _mm_loadu_si128((const __m128i *)(const void *)(buf + 0x10)));
		x3 = _mm_xor_si128(_mm_xor_si128(x3, x7),
				   _mm_loadu_si128((const __m128i *)(const void *)(buf + 0x20)));
		x4 = _mm_xor_si128(_mm_xor_si128(x4, x8),
				   _mm_loadu_si128((const __m128i *)(const void *)(buf + 0x30)));
		buf += 64;
		n -= 64;
	}
	/* Four lanes into one. */
	x0 = k3k4;
	x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
	x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
	x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
	x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
	x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
	x1 = _mm_xor_si128(_mm_xor_si128(x1, x3), x5);
	x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
	x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
	x1 = _mm_xor_si128(_mm_xor_si128(x1, x4), x5);
	while (n >= 16) {
		x2 = _mm_loadu_si128((const __m128i *)(const void *)buf);
		x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
		x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
		x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
		buf += 16;
		n -= 16;
	}
	/* 128 bits to 64, then Barrett reduction to 32. */
	x2 = _mm_clmulepi64_si128(x1, x0, 0x10);
	x3 = _mm_setr_epi32(~0, 0, ~0, 0);
	x1 = _mm_srli_si128(x1, 8);
	x1 = _mm_xor_si128(x1, x2);
	x0 = k5k0;
	x2 = _mm_srli_si128(x1, 4);
	x1 = _mm_and_si128(x1, x3);
	x1 = _mm_clmulepi64_si128(x1, x0, 0x00);
	x1 = _mm_xor_si128(x1, x2);
	x0 = poly;
	x2 = _mm_and_si128(x1, x3);
	x2 = _mm_clmulepi64_si128(x2, x0, 0x10);
	x2 = _mm_and_si128(x2, x3);
	x2 = _mm_clmulepi64_si128(x2, x0, 0x00);
	x1 = _mm_xor_si128(x1, x2);
	return (uint32_t)_mm_extract_epi32(x1, 1);
}

static int clmul_ok;

static void crc_probe(void)
{
	__builtin_cpu_init();
	clmul_ok = __builtin_cpu_supports("pclmul") &&
		   __builtin_cpu_supports("sse4.1");
}
#endif

uint32_t torchzip_crc32(uint32_t crc, const void *buf, size_t n)
{
	crc_init();
#ifdef CRC_CLMUL
	static pthread_once_t probe = PTHREAD_ONCE_INIT;
	pthread_once(&probe, crc_probe);
	if (clmul_ok && n >= 64) {
		size_t k = n & ~(size_t)15;
		crc = ~crc32_clmul(~crc, buf, k);
		buf = (const unsigned char *)buf + k;
		n -= k;
	}
#endif
	return crc32_update(crc, buf, n);
}

int torchzip_check_entry(const struct torchzip_entry *z, const char *file,
			 struct err *e)
{
	uint32_t got = torchzip_crc32(0, z->data, (size_t)z->size);
	if (got != z->crc)
		return err_set(e, ERR_FORMAT,
			       "'%s': zip entry '%.*s' is corrupt (CRC-32 "
			       "%08x, the archive says %08x)",
			       file, (int)(z->name_len > 200 ? 200 : z->name_len),
			       z->name, got, z->crc);
	return 0;
}

/* ==== the zip container ==== */

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u

struct zentry {
	const char *name;
	size_t name_len;
	const char *key; /* after "<prefix>/data/" */
	size_t key_len;
	uint64_t local, csize, usize;
	uint16_t method, flags;
	uint32_t crc; /* as the central directory records it */
};

struct zip {
	const unsigned char *p;
	uint64_t len;
	const char *fname;
	struct err *e;
	uint64_t cd_off, cd_size, count;
};

/* Finds the (zip64) end of central directory. */
static int zip_find_cd(struct zip *z)
{
	if (z->len < 22)
		return err_set(z->e, ERR_FORMAT,
			       "'%s': not a zip archive (too small)", z->fname);
	uint64_t lo = z->len > 22 + 65535 ? z->len - 22 - 65535 : 0;
	uint64_t pos = z->len - 22;
	for (;;) {
		const unsigned char *q = z->p + pos;
		if (rd32(q) == SIG_EOCD && pos + 22 + rd16(q + 20) <= z->len)
			break;
		if (pos == lo)
			return err_set(z->e, ERR_FORMAT,
				       "'%s': no zip end-of-central-directory "
				       "record (truncated?)",
				       z->fname);
		pos--;
	}
	const unsigned char *q = z->p + pos;
	if (rd16(q + 4) != 0 || rd16(q + 6) != 0)
		return err_set(z->e, ERR_UNSUPPORTED,
			       "'%s': multi-disk zip archives are not "
			       "supported",
			       z->fname);
	z->count = rd16(q + 10);
	z->cd_size = rd32(q + 12);
	z->cd_off = rd32(q + 16);
	if (pos >= 20 && rd32(q - 20) == SIG_LOC64) {
		uint64_t off = rd64(q - 20 + 8);
		if (off > z->len || z->len - off < 56 ||
		    rd32(z->p + off) != SIG_EOCD64)
			return err_set(z->e, ERR_FORMAT,
				       "'%s': bad zip64 end-of-central-"
				       "directory record",
				       z->fname);
		const unsigned char *r = z->p + off;
		z->count = rd64(r + 32);
		z->cd_size = rd64(r + 40);
		z->cd_off = rd64(r + 48);
	}
	if (z->cd_off > z->len || z->cd_size > z->len - z->cd_off)
		return err_set(z->e, ERR_FORMAT,
			       "'%s': zip central directory (offset %llu, %llu "
			       "bytes) lies beyond the file (%llu bytes)",
			       z->fname, (unsigned long long)z->cd_off,
			       (unsigned long long)z->cd_size,
			       (unsigned long long)z->len);
	if (z->count > z->cd_size / 46)
		return err_set(z->e, ERR_FORMAT,
			       "'%s': zip says %llu entries, its central "
			       "directory holds at most %llu",
			       z->fname, (unsigned long long)z->count,
			       (unsigned long long)(z->cd_size / 46));
	return 0;
}

/* Reads the zip64 extra field's replacements for saturated values. */
static int zip64_extra(struct zip *z, const unsigned char *x, size_t xl,
		       struct zentry *ze, int need_u, int need_c, int need_o)
{
	size_t i = 0;
	while (i + 4 <= xl) {
		uint16_t id = rd16(x + i), sz = rd16(x + i + 2);
		if (sz > xl - i - 4)
			break;
		if (id == 1) {
			const unsigned char *f = x + i + 4;
			size_t left = sz;
			uint64_t *dst[3] = {need_u ? &ze->usize : NULL,
					    need_c ? &ze->csize : NULL,
					    need_o ? &ze->local : NULL};
			for (int k = 0; k < 3; k++) {
				if (!dst[k])
					continue;
				if (left < 8)
					return err_set(
					    z->e, ERR_FORMAT,
					    "'%s': zip entry '%.*s' has a "
					    "short zip64 field",
					    z->fname,
					    (int)(ze->name_len > 200
						      ? 200
						      : ze->name_len),
					    ze->name);
				*dst[k] = rd64(f);
				f += 8;
				left -= 8;
			}
			return 0;
		}
		i += 4 + (size_t)sz;
	}
	if (need_u || need_c || need_o)
		return err_set(
		    z->e, ERR_FORMAT,
		    "'%s': zip entry '%.*s' lacks its zip64 field", z->fname,
		    (int)(ze->name_len > 200 ? 200 : ze->name_len), ze->name);
	return 0;
}

static int zentry_cmp(const void *a, const void *b)
{
	const struct zentry *x = a, *y = b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);
	if (c)
		return c;
	return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

/* Where a stored entry's bytes are, checked against the file. */
static int zentry_data(struct zip *z, const struct zentry *ze,
		       const unsigned char **data, struct err *e)
{
	int nl = (int)(ze->name_len > 200 ? 200 : ze->name_len);
	if (ze->flags & 1)
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': zip entry '%.*s' is encrypted", z->fname,
			       nl, ze->name);
	if (ze->method != 0)
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s': zip entry '%.*s' is compressed (method "
			       "%u); only stored entries are supported",
			       z->fname, nl, ze->name, ze->method);
	if (ze->csize != ze->usize)
		return err_set(e, ERR_FORMAT,
			       "'%s': stored zip entry '%.*s' has different "
			       "sizes",
			       z->fname, nl, ze->name);
	if (ze->local > z->len || z->len - ze->local < 30 ||
	    rd32(z->p + ze->local) != SIG_LOCAL)
		return err_set(e, ERR_FORMAT,
			       "'%s': zip entry '%.*s': no local header at "
			       "offset %llu",
			       z->fname, nl, ze->name,
			       (unsigned long long)ze->local);
	const unsigned char *l = z->p + ze->local;
	uint64_t start = ze->local + 30 + rd16(l + 26) + rd16(l + 28);
	if (start > z->len || ze->csize > z->len - start)
		return err_set(
		    e, ERR_FORMAT,
		    "'%s': zip entry '%.*s' (%llu bytes at %llu) "
		    "lies beyond the file (%llu bytes)",
		    z->fname, nl, ze->name, (unsigned long long)ze->csize,
		    (unsigned long long)start, (unsigned long long)z->len);
	*data = z->p + start;
	return 0;
}

static int zentry_ptr_cmp(const void *a, const void *b)
{
	const struct torchzip_entry *x = a, *y = b;
	return (x->data > y->data) - (x->data < y->data);
}

int torchzip_parse(const void *buf, size_t len, const char *name,
		   struct tensor **out, size_t *n, struct err *e)
{
	return torchzip_parse_entries(buf, len, name, out, n, NULL, NULL, e);
}

int torchzip_parse_entries(const void *buf, size_t len, const char *name,
			   struct tensor **out, size_t *n,
			   struct torchzip_entry **zents, size_t *n_zents,
			   struct err *e)
{
	*out = NULL;
	*n = 0;
	if (zents) {
		*zents = NULL;
		*n_zents = 0;
	}
	unsigned char *used = NULL;
	struct zip z = {.p = buf, .len = len, .fname = name, .e = e};
	int rc = zip_find_cd(&z);
	if (rc < 0)
		return rc;
	struct zentry *ents =
	    calloc(z.count ? (size_t)z.count : 1, sizeof *ents);
	if (!ents)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", name);
	size_t nd = 0; /* data/<key> entries, first in ents */
	struct zentry pkl = {0};
	int have_pkl = 0;
	const unsigned char *c = z.p + z.cd_off, *cend = c + z.cd_size;
	/* First pass: find data.pkl, which fixes the archive prefix. */
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		c = z.p + z.cd_off;
		for (uint64_t i = 0; i < z.count; i++) {
			if (cend - c < 46 || rd32(c) != SIG_CENTRAL) {
				rc = err_set(e, ERR_FORMAT,
					     "'%s': zip central directory "
					     "entry %llu is malformed",
					     name, (unsigned long long)i);
				break;
			}
			size_t nlen = rd16(c + 28), xlen = rd16(c + 30),
			       clen = rd16(c + 32);
			if ((size_t)(cend - c) < 46 + nlen + xlen + clen) {
				rc = err_set(e, ERR_FORMAT,
					     "'%s': zip central directory "
					     "entry %llu is truncated",
					     name, (unsigned long long)i);
				break;
			}
			struct zentry ze = {
			    .name = (const char *)c + 46,
			    .name_len = nlen,
			    .local = rd32(c + 42),
			    .csize = rd32(c + 20),
			    .usize = rd32(c + 24),
			    .method = rd16(c + 10),
			    .flags = rd16(c + 8),
			    .crc = rd32(c + 16),
			};
			const char *slash = memchr(ze.name, '/', nlen);
			size_t plen = slash ? (size_t)(slash - ze.name) : 0;
			c += 46 + nlen + xlen + clen;
			if (pass == 0) {
				if (have_pkl || !slash || nlen - plen != 9 ||
				    memcmp(slash, "/data.pkl", 9) != 0)
					continue;
				have_pkl = 1;
			} else {
				/* An entry without a '/' (e.g. "version"
				 * beside "/data.pkl") is outside any
				 * prefix, the empty one included. */
				if (!slash || plen != pkl.key_len ||
				    nlen < plen + 7 ||
				    memcmp(ze.name, pkl.name, plen) != 0 ||
				    memcmp(slash, "/data/", 6) != 0)
					continue;
				ze.key = slash + 6;
				ze.key_len = nlen - plen - 6;
			}
			rc = zip64_extra(&z, c - clen - xlen, xlen, &ze,
					 ze.usize == 0xffffffffu,
					 ze.csize == 0xffffffffu,
					 ze.local == 0xffffffffu);
			if (rc < 0)
				break;
			if (pass == 0) {
				pkl = ze;
				pkl.key_len = plen; /* the prefix length */
			} else {
				ents[nd++] = ze;
			}
		}
		if (pass == 0 && rc == 0 && !have_pkl)
			rc = err_set(e, ERR_FORMAT,
				     "'%s': no data.pkl in the zip archive "
				     "(not a torch.save checkpoint?)",
				     name);
	}
	struct pickled_tensor *pt = NULL;
	size_t np = 0;
	const unsigned char *pdata = NULL;
	struct tensor *t = NULL;
	size_t k = 0;
	if (rc == 0)
		rc = zentry_data(&z, &pkl, &pdata, e);
	/* The pickle is small and read whole: its CRC is checked now (the
	 * storages' when first used, see torchzip_check_entry). */
	if (rc == 0) {
		struct torchzip_entry pe = {pdata, pkl.usize, pkl.crc,
					    pkl.name, pkl.name_len};
		rc = torchzip_check_entry(&pe, name, e);
	}
	if (rc == 0)
		rc = torchzip_unpickle(pdata, (size_t)pkl.usize, name, &pt, &np,
				       e);
	if (rc < 0)
		goto out;
	qsort(ents, nd, sizeof *ents, zentry_cmp);
	t = calloc(np ? np : 1, sizeof *t);
	used = calloc(nd ? nd : 1, 1);
	if (!t || !used) {
		rc = err_set(e, ERR_NOMEM, "'%s': out of memory", name);
		goto out;
	}
	for (k = 0; k < np; k++) {
		struct zentry key = {.key = pt[k].key,
				     .key_len = strlen(pt[k].key)};
		const struct zentry *ze =
		    bsearch(&key, ents, nd, sizeof *ents, zentry_cmp);
		if (!ze) {
			rc = err_set(e, ERR_FORMAT,
				     "'%s': tensor '%s' needs storage "
				     "'data/%s', which is not in the archive",
				     name, pt[k].name, pt[k].key);
			break;
		}
		const unsigned char *d;
		if ((rc = zentry_data(&z, ze, &d, e)) < 0)
			break;
		used[ze - ents] = 1;
		uint64_t es = dtype_size(pt[k].dtype);
		if (pt[k].storage_numel > ze->usize / es) {
			rc = err_set(e, ERR_FORMAT,
				     "'%s': storage 'data/%s' holds %llu "
				     "bytes, tensor '%s' needs %llu elements "
				     "of %llu bytes",
				     name, pt[k].key,
				     (unsigned long long)ze->usize, pt[k].name,
				     (unsigned long long)pt[k].storage_numel,
				     (unsigned long long)es);
			break;
		}
		t[k].name = pt[k].name;
		pt[k].name = NULL; /* moved */
		t[k].dtype = pt[k].dtype;
		t[k].ndim = pt[k].ndim;
		memcpy(t[k].shape, pt[k].shape, sizeof t[k].shape);
		t[k].numel = pt[k].numel;
		t[k].nbytes = pt[k].numel * es;
		t[k].data = d + pt[k].offset * es;
	}
	/* The storages the tensors use, by address (weights.c finds a
	 * tensor's by bisection). */
	if (rc == 0 && zents) {
		size_t nu = 0;
		for (size_t i = 0; i < nd; i++)
			nu += used[i];
		struct torchzip_entry *ze = malloc((nu ? nu : 1) * sizeof *ze);
		if (!ze) {
			rc = err_set(e, ERR_NOMEM, "'%s': out of memory", name);
			goto out;
		}
		nu = 0;
		for (size_t i = 0; i < nd; i++) {
			const unsigned char *d;
			if (!used[i] || zentry_data(&z, &ents[i], &d, e))
				continue; /* checked above */
			ze[nu++] = (struct torchzip_entry){
			    d, ents[i].usize, ents[i].crc, ents[i].name,
			    ents[i].name_len};
		}
		qsort(ze, nu, sizeof *ze, zentry_ptr_cmp);
		*zents = ze;
		*n_zents = nu;
	}
	if (rc == 0) {
		*out = t;
		*n = np;
		t = NULL;
	}
out:
	tensor_array_free(t, k);
	torchzip_pickled_free(pt, np);
	free(used);
	free(ents);
	return rc;
}

/* ==== writing ==== */


struct bytes {
	unsigned char *p;
	size_t len, cap;
	int oom;
};

static void by_add(struct bytes *b, const void *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		unsigned char *q = realloc(b->p, cap);
		if (!q) {
			b->oom = 1;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void by_u8(struct bytes *b, unsigned v)
{
	unsigned char c = (unsigned char)v;
	by_add(b, &c, 1);
}

static void by_le(struct bytes *b, uint64_t v, int n)
{
	unsigned char c[8];
	for (int i = 0; i < n; i++)
		c[i] = (unsigned char)(v >> (8 * i));
	by_add(b, c, (size_t)n);
}

static void pk_str(struct bytes *b, const char *s)
{
	size_t n = strlen(s);
	by_u8(b, 'X');
	by_le(b, n, 4);
	by_add(b, s, n);
}

/* An int the way Python's pickler writes it (protocol 2). */
static void pk_int(struct bytes *b, int64_t v)
{
	if (v >= 0 && v < 256) {
		by_u8(b, 'K');
		by_u8(b, (unsigned)v);
	} else if (v >= 0 && v < 65536) {
		by_u8(b, 'M');
		by_le(b, (uint64_t)v, 2);
	} else if (v >= INT32_MIN && v <= INT32_MAX) {
		by_u8(b, 'J');
		by_le(b, (uint64_t)v, 4);
	} else {
		/* LONG1: shortest two's complement */
		int n = 8;
		while (n > 1) {
			int64_t hi = v >> (8 * (n - 1) - 1);
			if (hi != 0 && hi != -1)
				break;
			n--;
		}
		by_u8(b, 0x8a);
		by_u8(b, (unsigned)n);
		by_le(b, (uint64_t)v, n);
	}
}

static void pk_global(struct bytes *b, const char *mod, const char *name)
{
	by_u8(b, 'c');
	by_add(b, mod, strlen(mod));
	by_u8(b, '\n');
	by_add(b, name, strlen(name));
	by_u8(b, '\n');
}

/* data.pkl: OrderedDict of _rebuild_tensor_v2(storage i, 0, shape, stride,
 * False, OrderedDict()). */
static void make_pickle(struct bytes *b, const struct tensor_src *t, size_t n,
			const uint64_t *numel)
{
	static const char *const storage[] = {"FloatStorage", "HalfStorage",
					      "BFloat16Storage"};
	by_u8(b, 0x80);
	by_u8(b, 2);
	pk_global(b, "collections", "OrderedDict");
	by_u8(b, ')');
	by_u8(b, 'R');
	by_u8(b, '(');
	for (size_t i = 0; i < n; i++) {
		char key[32];
		snprintf(key, sizeof key, "%zu", i);
		pk_str(b, t[i].name);
		pk_global(b, "torch._utils", "_rebuild_tensor_v2");
		by_u8(b, '(');
		by_u8(b, '(');
		pk_str(b, "storage");
		pk_global(b, "torch", storage[t[i].dtype]);
		pk_str(b, key);
		pk_str(b, "cpu");
		pk_int(b, (int64_t)numel[i]);
		by_u8(b, 't');
		by_u8(b, 'Q');
		pk_int(b, 0);
		by_u8(b, '(');
		for (int d = 0; d < t[i].ndim; d++)
			pk_int(b, t[i].shape[d]);
		by_u8(b, 't');
		by_u8(b, '(');
		int64_t stride = 1;
		int64_t strides[TENSOR_MAX_DIMS];
		for (int d = t[i].ndim - 1; d >= 0; d--) {
			strides[d] = stride;
			stride *= t[i].shape[d] ? t[i].shape[d] : 1;
		}
		for (int d = 0; d < t[i].ndim; d++)
			pk_int(b, strides[d]);
		by_u8(b, 't');
		by_u8(b, 0x89);
		pk_global(b, "collections", "OrderedDict");
		by_u8(b, ')');
		by_u8(b, 'R');
		by_u8(b, 't');
		by_u8(b, 'R');
	}
	by_u8(b, 'u');
	by_u8(b, '.');
}

struct zrec {
	char name[64];
	uint64_t local, size;
	uint32_t crc;
	int z64; /* sizes saturated in headers */
};

#define ZIP_ALIGN 64
#define ZIP_DOSDATE 0x0021 /* 1980-01-01 */

static int write_local(struct wfile *f, struct zrec *r, struct err *e)
{
	struct bytes b = {0};
	size_t nl = strlen(r->name);
	r->local = f->pos;
	by_le(&b, SIG_LOCAL, 4);
	by_le(&b, r->z64 ? 45 : 20, 2);
	by_le(&b, 0, 2); /* flags */
	by_le(&b, 0, 2); /* stored */
	by_le(&b, 0, 2); /* time */
	by_le(&b, ZIP_DOSDATE, 2);
	by_le(&b, r->crc, 4); /* patched after the data */
	by_le(&b, r->z64 ? 0xffffffffu : r->size, 4);
	by_le(&b, r->z64 ? 0xffffffffu : r->size, 4);
	size_t xl = r->z64 ? 20 : 0;
	uint64_t start = f->pos + 30 + nl + xl + 4;
	size_t pad = (size_t)((ZIP_ALIGN - start % ZIP_ALIGN) % ZIP_ALIGN);
	xl += 4 + pad;
	by_le(&b, nl, 2);
	by_le(&b, xl, 2);
	by_add(&b, r->name, nl);
	if (r->z64) {
		by_le(&b, 1, 2);
		by_le(&b, 16, 2);
		by_le(&b, r->size, 8);
		by_le(&b, r->size, 8);
	}
	by_add(&b, "FB", 2); /* PyTorch's alignment padding field */
	by_le(&b, pad, 2);
	static const unsigned char zeros[ZIP_ALIGN];
	by_add(&b, zeros, pad);
	int rc = b.oom ? err_set(e, ERR_NOMEM, "out of memory")
		       : wfile_write(f, b.p, b.len, e);
	free(b.p);
	return rc;
}

static int patch_crc(struct wfile *f, const struct zrec *r, struct err *e)
{
	unsigned char c[4];
	for (int i = 0; i < 4; i++)
		c[i] = (unsigned char)(r->crc >> (8 * i));
	return wfile_pwrite(f, r->local + 14, c, 4, e);
}

static int write_central(struct wfile *f, const struct zrec *r, size_t nr,
			 int force64, struct err *e)
{
	struct bytes b = {0};
	uint64_t cd_off = f->pos;
	for (size_t i = 0; i < nr; i++) {
		int big = r[i].z64;
		int off64 = force64 || r[i].local >= 0xffffffffu;
		size_t nl = strlen(r[i].name);
		size_t x64 = (big ? 16 : 0) + (off64 ? 8 : 0);
		size_t xl = x64 ? 4 + x64 : 0;
		by_le(&b, SIG_CENTRAL, 4);
		by_le(&b, 0x0300 | 45, 2); /* made by: unix, 4.5 */
		by_le(&b, big || off64 ? 45 : 20, 2);
		by_le(&b, 0, 2);
		by_le(&b, 0, 2);
		by_le(&b, 0, 2);
		by_le(&b, ZIP_DOSDATE, 2);
		by_le(&b, r[i].crc, 4);
		by_le(&b, big ? 0xffffffffu : r[i].size, 4);
		by_le(&b, big ? 0xffffffffu : r[i].size, 4);
		by_le(&b, nl, 2);
		by_le(&b, xl, 2);
		by_le(&b, 0, 2); /* comment */
		by_le(&b, 0, 2); /* disk */
		by_le(&b, 0, 2); /* internal attributes */
		by_le(&b, 0100644u << 16, 4);
		by_le(&b, off64 ? 0xffffffffu : r[i].local, 4);
		by_add(&b, r[i].name, nl);
		if (xl) {
			by_le(&b, 1, 2);
			by_le(&b, x64, 2);
			if (big) {
				by_le(&b, r[i].size, 8);
				by_le(&b, r[i].size, 8);
			}
			if (off64)
				by_le(&b, r[i].local, 8);
		}
	}
	uint64_t cd_size = b.len;
	uint64_t eocd64 = cd_off + cd_size;
	int z64 = force64 || nr >= 0xffff || cd_off >= 0xffffffffu ||
		  cd_size >= 0xffffffffu;
	if (z64) {
		by_le(&b, SIG_EOCD64, 4);
		by_le(&b, 44, 8);
		by_le(&b, 0x0300 | 45, 2);
		by_le(&b, 45, 2);
		by_le(&b, 0, 4);
		by_le(&b, 0, 4);
		by_le(&b, nr, 8);
		by_le(&b, nr, 8);
		by_le(&b, cd_size, 8);
		by_le(&b, cd_off, 8);
		by_le(&b, SIG_LOC64, 4);
		by_le(&b, 0, 4);
		by_le(&b, eocd64, 8);
		by_le(&b, 1, 4);
	}
	by_le(&b, SIG_EOCD, 4);
	by_le(&b, 0, 2);
	by_le(&b, 0, 2);
	by_le(&b, z64 ? 0xffff : nr, 2);
	by_le(&b, z64 ? 0xffff : nr, 2);
	by_le(&b, z64 ? 0xffffffffu : cd_size, 4);
	by_le(&b, z64 ? 0xffffffffu : cd_off, 4);
	by_le(&b, 0, 2);
	int rc = b.oom ? err_set(e, ERR_NOMEM, "out of memory")
		       : wfile_write(f, b.p, b.len, e);
	free(b.p);
	return rc;
}

/* Writes a small in-memory entry. */
static int write_small(struct wfile *f, struct zrec *r, const void *p, size_t n,
		       int force64, struct err *e)
{
	r->size = n;
	r->crc = crc32_update(0, p, n);
	r->z64 = force64;
	int rc = write_local(f, r, e);
	return rc < 0 ? rc : wfile_write(f, p, n, e);
}

int torchzip_write(const char *path, const struct tensor_src *t, size_t n,
		   const struct torchzip_write_opts *opts,
		   const struct progress *prog, struct err *e)
{
	int force64 = opts && opts->force_zip64;
	uint64_t *numel = calloc(n ? n : 1, sizeof *numel);
	uint64_t *nbytes = calloc(n ? n : 1, sizeof *nbytes);
	struct zrec *r = calloc(n + 2, sizeof *r);
	void *chunk = malloc(TENSOR_CHUNK_ELEMS * 4);
	float *scratch = malloc(TENSOR_CHUNK_ELEMS * sizeof(float));
	struct bytes pk = {0};
	struct wfile f = {.fd = -1};
	int rc = 0;
	crc_init();
	if (!numel || !nbytes || !r || !chunk || !scratch) {
		rc = err_set(e, ERR_NOMEM, "'%s': out of memory", path);
		goto out;
	}
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (tensor_shape_size(t[i].ndim, t[i].shape, t[i].dtype,
				      t[i].name, &numel[i], &nbytes[i],
				      e) < 0) {
			rc = err_wrap(e, "writing '%s'", path);
			goto out;
		}
		if ((unsigned)t[i].dtype > DTYPE_BF16) {
			rc = err_set(e, ERR_INVALID,
				     "writing '%s': tensor '%s' has a bad "
				     "dtype",
				     path, t[i].name);
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(t[i].name, t[j].name) == 0) {
				rc = err_set(e, ERR_INVALID,
					     "'%s': tensor name '%s' appears "
					     "twice",
					     path, t[i].name);
				goto out;
			}
		total += nbytes[i];
	}
	make_pickle(&pk, t, n, numel);
	if (pk.oom) {
		rc = err_set(e, ERR_NOMEM, "'%s': out of memory", path);
		goto out;
	}
	if ((rc = wfile_open(&f, path, e)) < 0)
		goto out;
	snprintf(r[0].name, sizeof r[0].name, "archive/data.pkl");
	if ((rc = write_small(&f, &r[0], pk.p, pk.len, force64, e)) < 0)
		goto out;
	uint64_t done = 0;
	for (size_t i = 0; i < n; i++) {
		struct zrec *z = &r[i + 1];
		snprintf(z->name, sizeof z->name, "archive/data/%zu", i);
		z->size = nbytes[i];
		z->z64 = force64 || nbytes[i] >= 0xffffffffu;
		if ((rc = write_local(&f, z, e)) < 0)
			goto out;
		size_t es = dtype_size(t[i].dtype);
		uint32_t crc = 0;
		for (uint64_t first = 0; first < numel[i];
		     first += TENSOR_CHUNK_ELEMS) {
			uint64_t cnt = numel[i] - first;
			if (cnt > TENSOR_CHUNK_ELEMS)
				cnt = TENSOR_CHUNK_ELEMS;
			if ((rc = tensor_src_chunk(&t[i], chunk, scratch, first,
						   cnt, e)) < 0) {
				err_wrap(e, "writing '%s'", path);
				goto out;
			}
			crc = crc32_update(crc, chunk, (size_t)cnt * es);
			if ((rc = wfile_write(&f, chunk, (size_t)cnt * es, e)) <
			    0)
				goto out;
			done += cnt * es;
			if ((rc = progress_report(
				 prog, total ? (double)done / (double)total : 1,
				 "writing pytorch checkpoint", e)) < 0)
				goto out;
		}
		z->crc = crc;
		if ((rc = patch_crc(&f, z, e)) < 0)
			goto out;
	}
	snprintf(r[n + 1].name, sizeof r[n + 1].name, "archive/version");
	if ((rc = write_small(&f, &r[n + 1], "3\n", 2, force64, e)) < 0)
		goto out;
	if ((rc = write_central(&f, r, n + 2, force64, e)) < 0)
		goto out;
	rc = wfile_commit(&f, e);
out:
	if (rc < 0)
		wfile_abort(&f);
	free(numel);
	free(nbytes);
	free(r);
	free(chunk);
	free(scratch);
	free(pk.p);
	return rc;
}
