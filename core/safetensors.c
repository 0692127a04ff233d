#include "safetensors.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytebuf.h"
#include "wfile.h"

/* ---- reading ---- */

/* Valid safetensors dtypes punguza does not handle (ERR_UNSUPPORTED rather
 * than "unknown"). */
static const char *const other_dtypes[] = {
    "BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3", "F8_E8M0",
    "I16",  "U16", "I32", "U32",     "I64",	"U64",
    "F64",  "C64", "F4",  "F6_E2M3", "F6_E3M2",
};

static int st_dtype(const char *s, enum dtype *out)
{
	if (strcmp(s, "F32") == 0)
		*out = DTYPE_F32;
	else if (strcmp(s, "F16") == 0)
		*out = DTYPE_F16;
	else if (strcmp(s, "BF16") == 0)
		*out = DTYPE_BF16;
	else
		return -1;
	return 0;
}

static int known_other_dtype(const char *s)
{
	for (size_t i = 0; i < sizeof other_dtypes / sizeof other_dtypes[0];
	     i++)
		if (strcmp(s, other_dtypes[i]) == 0)
			return 1;
	return 0;
}

/* A JSON number that is a non-negative integer exactly representable in a
 * double (cJSON stores numbers as doubles: refuse what it cannot hold). */
static int json_u64(const cJSON *v, uint64_t *out)
{
	if (!cJSON_IsNumber(v))
		return -1;
	double d = v->valuedouble;
	if (!(d >= 0.0) || d > 9007199254740992.0 || d != (double)(uint64_t)d)
		return -1;
	*out = (uint64_t)d;
	return 0;
}

struct span {
	uint64_t begin, end;
	size_t idx;
};

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return 0;
}

/* Fills t from one header entry; returns 0 or an error naming the tensor. */
static int parse_entry(const cJSON *item, const char *name,
		       const unsigned char *data, uint64_t data_len,
		       struct tensor *t, struct span *sp, struct err *e)
{
	const char *tn = item->string;
	if (!cJSON_IsObject(item))
		return err_set(e, ERR_FORMAT,
			       "'%s': header entry '%s' is not an object", name,
			       tn);
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
	const cJSON *sh = cJSON_GetObjectItemCaseSensitive(item, "shape");
	const cJSON *of =
	    cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
	if (!cJSON_IsString(dt))
		return err_set(e, ERR_FORMAT,
			       "'%s': tensor '%s' has no \"dtype\" string",
			       name, tn);
	if (st_dtype(dt->valuestring, &t->dtype) < 0) {
		if (known_other_dtype(dt->valuestring))
			return err_set(e, ERR_UNSUPPORTED,
				       "'%s': tensor '%s' has dtype '%s' "
				       "(only F32, F16 and BF16 are supported)",
				       name, tn, dt->valuestring);
		return err_set(e, ERR_FORMAT,
			       "'%s': tensor '%s' has unknown dtype '%.40s'",
			       name, tn, dt->valuestring);
	}
	if (!cJSON_IsArray(sh))
		return err_set(e, ERR_FORMAT,
			       "'%s': tensor '%s' has no \"shape\" array", name,
			       tn);
	int nd = cJSON_GetArraySize(sh);
	if (nd > TENSOR_MAX_DIMS)
		return err_set(
		    e, ERR_UNSUPPORTED,
		    "'%s': tensor '%s' has %d dimensions (at most %d)", name,
		    tn, nd, TENSOR_MAX_DIMS);
	t->ndim = nd;
	int k = 0;
	const cJSON *d;
	cJSON_ArrayForEach(d, sh)
	{
		uint64_t v;
		if (json_u64(d, &v) < 0 || v > INT64_MAX)
			return err_set(e, ERR_FORMAT,
				       "'%s': tensor '%s': shape entry %d is "
				       "not a non-negative integer",
				       name, tn, k);
		t->shape[k++] = (int64_t)v;
	}
	if (tensor_shape_size(t->ndim, t->shape, t->dtype, tn, &t->numel,
			      &t->nbytes, e) < 0)
		return err_wrap(e, "'%s'", name);
	if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 ||
	    json_u64(cJSON_GetArrayItem(of, 0), &sp->begin) < 0 ||
	    json_u64(cJSON_GetArrayItem(of, 1), &sp->end) < 0)
		return err_set(e, ERR_FORMAT,
			       "'%s': tensor '%s': \"data_offsets\" must be "
			       "two non-negative integers",
			       name, tn);
	if (sp->begin > sp->end)
		return err_set(e, ERR_FORMAT,
			       "'%s': tensor '%s': data offsets [%llu, %llu] "
			       "are reversed",
			       name, tn, (unsigned long long)sp->begin,
			       (unsigned long long)sp->end);
	if (sp->end > data_len)
		return err_set(e, ERR_FORMAT,
			       "'%s': tensor '%s': data offsets [%llu, %llu] "
			       "lie beyond the data section (%llu bytes)",
			       name, tn, (unsigned long long)sp->begin,
			       (unsigned long long)sp->end,
			       (unsigned long long)data_len);
	if (sp->end - sp->begin != t->nbytes)
		return err_set(e, ERR_FORMAT,
			       "'%s': tensor '%s': data offsets span %llu "
			       "bytes, shape and dtype need %llu",
			       name, tn,
			       (unsigned long long)(sp->end - sp->begin),
			       (unsigned long long)t->nbytes);
	t->data = data + sp->begin;
	t->name = strdup(tn);
	if (!t->name)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", name);
	return 0;
}

/* Reads the u64 header length that starts the file; the caller checks it
 * against len (it is hostile). */
static int header_len(const unsigned char *p, size_t len, const char *name,
		      uint64_t *hlen, struct err *e)
{
	if (len < 8)
		return err_set(e, ERR_FORMAT,
			       "'%s': file too small for a safetensors header "
			       "(%zu bytes)",
			       name, len);
	*hlen = load_le64(p);
	return 0;
}

int safetensors_parse(const void *buf, size_t len, const char *name,
		      struct tensor **out, size_t *n, struct err *e)
{
	const unsigned char *p = buf;
	*out = NULL;
	*n = 0;
	uint64_t hlen;
	int rc = header_len(p, len, name, &hlen, e);
	if (rc < 0)
		return rc;
	if (hlen > len - 8)
		return err_set(e, ERR_FORMAT,
			       "'%s': header length %llu exceeds file size %zu",
			       name, (unsigned long long)hlen, len);
	if (hlen > SAFETENSORS_MAX_HEADER)
		return err_set(e, ERR_FORMAT,
			       "'%s': header length %llu exceeds the limit of "
			       "%llu bytes",
			       name, (unsigned long long)hlen,
			       (unsigned long long)SAFETENSORS_MAX_HEADER);
	const char *json = (const char *)p + 8;
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(json, (size_t)hlen, &end, 0);
	if (!root) {
		size_t at = end && end >= json ? (size_t)(end - json) : 0;
		return err_set(e, ERR_FORMAT,
			       "'%s': header is not valid JSON (near byte %zu)",
			       name, at);
	}
	/* Only padding may follow the JSON value. */
	for (const char *q = end; q && q < json + hlen; q++)
		if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
			cJSON_Delete(root);
			return err_set(e, ERR_FORMAT,
				       "'%s': garbage after the JSON header "
				       "(byte %zu)",
				       name, (size_t)(q - json));
		}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return err_set(e, ERR_FORMAT,
			       "'%s': header is not a JSON object", name);
	}
	size_t count = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, root)
	{
		if (strcmp(item->string, "__metadata__") == 0) {
			if (!cJSON_IsObject(item)) {
				cJSON_Delete(root);
				return err_set(e, ERR_FORMAT,
					       "'%s': \"__metadata__\" is not "
					       "an object",
					       name);
			}
			continue;
		}
		count++;
	}
	struct tensor *t = calloc(count ? count : 1, sizeof *t);
	struct span *sp = calloc(count ? count : 1, sizeof *sp);
	if (!t || !sp) {
		free(t);
		free(sp);
		cJSON_Delete(root);
		return err_set(e, ERR_NOMEM, "'%s': out of memory", name);
	}
	const unsigned char *data = p + 8 + hlen;
	uint64_t data_len = len - 8 - hlen;
	size_t k = 0;
	rc = 0;
	cJSON_ArrayForEach(item, root)
	{
		if (strcmp(item->string, "__metadata__") == 0)
			continue;
		sp[k].idx = k;
		rc = parse_entry(item, name, data, data_len, &t[k], &sp[k], e);
		if (rc < 0)
			break;
		k++;
	}
	cJSON_Delete(root);
	if (rc == 0) {
		qsort(sp, count, sizeof *sp, span_cmp);
		uint64_t reach = 0;
		size_t last = 0;
		for (size_t i = 0; i < count; i++) {
			if (sp[i].begin == sp[i].end)
				continue; /* empty tensors overlap nothing */
			if (sp[i].begin < reach) {
				rc = err_set(e, ERR_FORMAT,
					     "'%s': tensors '%s' and '%s' "
					     "overlap",
					     name, t[last].name,
					     t[sp[i].idx].name);
				break;
			}
			reach = sp[i].end;
			last = sp[i].idx;
		}
	}
	free(sp);
	if (rc < 0) {
		tensor_array_free(t, k);
		return rc;
	}
	*out = t;
	*n = count;
	return 0;
}

int safetensors_metadata(const void *buf, size_t len, const char *name,
			 const char *key, char *out, size_t cap,
			 struct err *e)
{
	const unsigned char *p = buf;
	uint64_t hlen;
	int rc = header_len(p, len, name, &hlen, e);
	if (rc < 0)
		return rc;
	if (hlen > len - 8 || hlen > SAFETENSORS_MAX_HEADER)
		return err_set(e, ERR_FORMAT,
			       "'%s': header length %llu is out of range", name,
			       (unsigned long long)hlen);
	cJSON *root = cJSON_ParseWithLength((const char *)p + 8, (size_t)hlen);
	if (!root)
		return err_set(e, ERR_FORMAT,
			       "'%s': header is not valid JSON", name);
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
	const cJSON *v = md ? cJSON_GetObjectItemCaseSensitive(md, key) : NULL;
	rc = 0;
	if (!cJSON_IsString(v))
		rc = err_set(e, ERR_NOTFOUND,
			     "'%s': no metadata string '%s'", name, key);
	else if (strlen(v->valuestring) >= cap)
		rc = err_set(e, ERR_FORMAT, "'%s': metadata '%s' is too long",
			     name, key);
	else
		snprintf(out, cap, "%s", v->valuestring);
	cJSON_Delete(root);
	return rc;
}

/* ---- writing ---- */

/* A JSON string literal for s. */
static void sb_json_string(struct bytebuf *b, const char *s)
{
	bytebuf_add(b, "\"", 1);
	for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
		char esc[8];
		if (*q == '"' || *q == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*q;
			bytebuf_add(b, esc, 2);
		} else if (*q < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", *q);
			bytebuf_add(b, esc, 6);
		} else {
			bytebuf_add(b, (const char *)q, 1);
		}
	}
	bytebuf_add(b, "\"", 1);
}

/* The reference writer's order: larger elements first (so every tensor
 * starts aligned to its element size), then by name. */
static int name_cmp(const void *a, const void *b)
{
	const struct tensor_src *const *x = a, *const *y = b;
	size_t sx = dtype_size((*x)->dtype), sy = dtype_size((*y)->dtype);
	if (sx != sy)
		return sx > sy ? -1 : 1;
	return strcmp((*x)->name, (*y)->name);
}

int safetensors_write(const char *path, const struct tensor_src *t, size_t n,
		      const struct progress *prog, struct err *e)
{
	return safetensors_write_meta(path, t, n, NULL, 0, prog, e);
}

int safetensors_write_meta(const char *path, const struct tensor_src *t,
			   size_t n, const char *const *meta, size_t n_meta,
			   const struct progress *prog, struct err *e)
{
	const struct tensor_src **order = calloc(n ? n : 1, sizeof *order);
	uint64_t *nbytes = calloc(n ? n : 1, sizeof *nbytes);
	struct bytebuf h = {0};
	struct wfile f = {.fd = -1};
	void *chunk = NULL;
	float *scratch = NULL;
	int rc = 0;
	if (!order || !nbytes) {
		rc = err_set(e, ERR_NOMEM, "'%s': out of memory", path);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = &t[i];
	qsort(order, n, sizeof *order, name_cmp);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n && !h.oom; j++)
			if (strcmp(order[i]->name, order[j]->name) == 0) {
				rc = err_set(e, ERR_INVALID,
					     "'%s': tensor name '%s' appears "
					     "twice",
					     path, order[i]->name);
				goto out;
			}
	bytebuf_str(&h, "{\"__metadata__\":{\"format\":\"pt\"");
	for (size_t i = 0; i < n_meta; i++) {
		bytebuf_add(&h, ",", 1);
		sb_json_string(&h, meta[2 * i]);
		bytebuf_add(&h, ":", 1);
		sb_json_string(&h, meta[2 * i + 1]);
	}
	bytebuf_add(&h, "}", 1);
	uint64_t off = 0;
	for (size_t i = 0; i < n; i++) {
		const struct tensor_src *s = order[i];
		uint64_t numel;
		if (tensor_shape_size(s->ndim, s->shape, s->dtype, s->name,
				      &numel, &nbytes[i], e) < 0) {
			rc = err_wrap(e, "writing '%s'", path);
			goto out;
		}
		char num[64];
		bytebuf_add(&h, ",", 1);
		sb_json_string(&h, s->name);
		bytebuf_str(&h, ":{\"dtype\":\"");
		bytebuf_str(&h, dtype_name(s->dtype));
		bytebuf_str(&h, "\",\"shape\":[");
		for (int d = 0; d < s->ndim; d++) {
			snprintf(num, sizeof num, "%s%lld", d ? "," : "",
				 (long long)s->shape[d]);
			bytebuf_str(&h, num);
		}
		snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}",
			 (unsigned long long)off,
			 (unsigned long long)(off + nbytes[i]));
		bytebuf_str(&h, num);
		off += nbytes[i];
	}
	bytebuf_add(&h, "}", 1);
	while (!h.oom && (h.len % 8) != 0)
		bytebuf_add(&h, " ", 1);
	if (h.oom) {
		rc = err_set(e, ERR_NOMEM, "'%s': out of memory", path);
		goto out;
	}
	uint64_t total = off;
	chunk = malloc(TENSOR_CHUNK_ELEMS * 4);
	scratch = malloc(TENSOR_CHUNK_ELEMS * sizeof(float));
	if (!chunk || !scratch) {
		rc = err_set(e, ERR_NOMEM, "'%s': out of memory", path);
		goto out;
	}
	if ((rc = wfile_open(&f, path, e)) < 0)
		goto out;
	unsigned char len8[8];
	for (int i = 0; i < 8; i++)
		len8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
	if ((rc = wfile_write(&f, len8, 8, e)) < 0 ||
	    (rc = wfile_write(&f, h.p, h.len, e)) < 0)
		goto out;
	uint64_t done = 0;
	for (size_t i = 0; i < n; i++) {
		const struct tensor_src *s = order[i];
		size_t es = dtype_size(s->dtype);
		uint64_t numel = nbytes[i] / es;
		for (uint64_t first = 0; first < numel;
		     first += TENSOR_CHUNK_ELEMS) {
			uint64_t cnt = numel - first;
			if (cnt > TENSOR_CHUNK_ELEMS)
				cnt = TENSOR_CHUNK_ELEMS;
			if ((rc = tensor_src_chunk(s, chunk, scratch, first,
						   cnt, e)) < 0) {
				err_wrap(e, "writing '%s'", path);
				goto out;
			}
			if ((rc = wfile_write(&f, chunk, (size_t)(cnt * es),
					      e)) < 0)
				goto out;
			done += cnt * es;
			if ((rc = progress_report(
				 prog,
				 total ? (double)done / (double)total : 1.0,
				 "writing safetensors", e)) < 0)
				goto out;
		}
	}
	rc = wfile_commit(&f, e);
out:
	if (rc < 0)
		wfile_abort(&f);
	free(order);
	free(nbytes);
	free(h.p);
	free(chunk);
	free(scratch);
	return rc;
}
