#include "unpickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytebuf.h"

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
#define UNPICKLE_MEMO_GAP 65536

struct up {
	const unsigned char *p;
	size_t len, pos;
	const char *name;
	struct err *e;
	struct obj *objs;
	size_t mem; /* bytes charged against UNPICKLE_MAX_MEMORY */
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
	if (bytes > UNPICKLE_MAX_MEMORY - u->mem)
		return err_set(u->e, ERR_NOMEM,
			       "'%s': pickle needs more than %zu MB", u->name,
			       UNPICKLE_MAX_MEMORY >> 20);
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
		if (nc > UNPICKLE_MAX_MEMORY / sz)
			return charge(u, UNPICKLE_MAX_MEMORY); /* fails */
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
		if (idx - u->nmemo > UNPICKLE_MEMO_GAP)
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
			rc = push_str(u, load_le32(u->p + u->pos - 4), at);
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
			rc = push_str(u, load_le64(u->p + u->pos - 8), at);
			break;
		case 'J': /* BININT */
			if ((rc = need(u, 4, at)) < 0)
				break;
			u->pos += 4;
			rc = push_int(u, (int32_t)load_le32(u->p + u->pos - 4));
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
			rc = push_int(u, load_le16(u->p + u->pos - 2));
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
			rc = memo_put(u, load_le32(u->p + u->pos - 4), at);
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
			rc = memo_get(u, load_le32(u->p + u->pos - 4), at);
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

void unpickle_free(struct pickled_tensor *t, size_t n)
{
	if (!t)
		return;
	for (size_t i = 0; i < n; i++) {
		free(t[i].name);
		free(t[i].key);
	}
	free(t);
}

int unpickle_state_dict(const void *buf, size_t len, const char *name,
			struct pickled_tensor **out, size_t *n, struct err *e)
{
	*out = NULL;
	*n = 0;
	if (len > UNPICKLE_MAX_PICKLE)
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
	unpickle_free(pt, k);
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
