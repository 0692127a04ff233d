#include "torchbin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytebuf.h"
#include "unpickle.h"
#include "wfile.h"
#include "zip.h"

/* ==== reading ==== */

/* A storage entry <prefix>/data/<key> of the archive. */
struct storage_rec {
	struct zip_record z;
	const char *key; /* after "<prefix>/data/", inside the buffer */
	size_t key_len;
};

static int storage_rec_cmp(const void *a, const void *b)
{
	const struct storage_rec *x = a, *y = b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);
	if (c)
		return c;
	return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

static int zip_entry_ptr_cmp(const void *a, const void *b)
{
	const struct zip_entry *x = a, *y = b;
	return (x->data > y->data) - (x->data < y->data);
}

int torchbin_parse(const void *buf, size_t len, const char *name,
		   struct tensor **out, size_t *n, struct err *e)
{
	return torchbin_parse_entries(buf, len, name, out, n, NULL, NULL, e);
}

int torchbin_parse_entries(const void *buf, size_t len, const char *name,
			   struct tensor **out, size_t *n,
			   struct zip_entry **zents, size_t *n_zents,
			   struct err *e)
{
	*out = NULL;
	*n = 0;
	if (zents) {
		*zents = NULL;
		*n_zents = 0;
	}
	unsigned char *used = NULL;
	struct zip z;
	int rc = zip_open(&z, buf, len, name, e);
	if (rc < 0)
		return rc;
	struct storage_rec *ents =
	    calloc(z.count ? (size_t)z.count : 1, sizeof *ents);
	if (!ents)
		return err_set(e, ERR_NOMEM, "'%s': out of memory", name);
	size_t nd = 0; /* data/<key> entries, first in ents */
	struct zip_record pkl = {0};
	size_t prefix_len = 0; /* of data.pkl's "<prefix>/" */
	int have_pkl = 0;
	/* First pass: find data.pkl, which fixes the archive prefix. */
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		const unsigned char *c = z.p + z.cd_off;
		for (uint64_t i = 0; i < z.count; i++) {
			struct zip_record ze;
			if ((rc = zip_record_read(&z, &c, i, &ze)) < 0)
				break;
			size_t nlen = ze.name_len;
			const char *slash = memchr(ze.name, '/', nlen);
			size_t plen = slash ? (size_t)(slash - ze.name) : 0;
			if (pass == 0) {
				if (have_pkl || !slash || nlen - plen != 9 ||
				    memcmp(slash, "/data.pkl", 9) != 0)
					continue;
				have_pkl = 1;
			} else {
				/* An entry without a '/' (e.g. "version"
				 * beside "/data.pkl") is outside any
				 * prefix, the empty one included. */
				if (!slash || plen != prefix_len ||
				    nlen < plen + 7 ||
				    memcmp(ze.name, pkl.name, plen) != 0 ||
				    memcmp(slash, "/data/", 6) != 0)
					continue;
			}
			rc = zip_record_zip64(&z, &ze);
			if (rc < 0)
				break;
			if (pass == 0) {
				pkl = ze;
				prefix_len = plen;
			} else {
				ents[nd++] = (struct storage_rec){
				    ze, slash + 6, nlen - plen - 6};
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
		rc = zip_record_data(&z, &pkl, &pdata, e);
	/* The pickle is small and read whole: its CRC is checked now (the
	 * storages' when first used, see zip_check_entry). */
	if (rc == 0) {
		struct zip_entry pe = {pdata, pkl.usize, pkl.crc, pkl.name,
				       pkl.name_len};
		rc = zip_check_entry(&pe, name, e);
	}
	if (rc == 0)
		rc = unpickle_state_dict(pdata, (size_t)pkl.usize, name, &pt,
					 &np, e);
	if (rc < 0)
		goto out;
	qsort(ents, nd, sizeof *ents, storage_rec_cmp);
	t = calloc(np ? np : 1, sizeof *t);
	used = calloc(nd ? nd : 1, 1);
	if (!t || !used) {
		rc = err_set(e, ERR_NOMEM, "'%s': out of memory", name);
		goto out;
	}
	for (k = 0; k < np; k++) {
		struct storage_rec key = {.key = pt[k].key,
					  .key_len = strlen(pt[k].key)};
		const struct storage_rec *ze =
		    bsearch(&key, ents, nd, sizeof *ents, storage_rec_cmp);
		if (!ze) {
			rc = err_set(e, ERR_FORMAT,
				     "'%s': tensor '%s' needs storage "
				     "'data/%s', which is not in the archive",
				     name, pt[k].name, pt[k].key);
			break;
		}
		const unsigned char *d;
		if ((rc = zip_record_data(&z, &ze->z, &d, e)) < 0)
			break;
		used[ze - ents] = 1;
		uint64_t es = dtype_size(pt[k].dtype);
		if (pt[k].storage_numel > ze->z.usize / es) {
			rc = err_set(
			    e, ERR_FORMAT,
			    "'%s': storage 'data/%s' holds %llu "
			    "bytes, tensor '%s' needs %llu elements "
			    "of %llu bytes",
			    name, pt[k].key, (unsigned long long)ze->z.usize,
			    pt[k].name, (unsigned long long)pt[k].storage_numel,
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
		struct zip_entry *ze = malloc((nu ? nu : 1) * sizeof *ze);
		if (!ze) {
			rc = err_set(e, ERR_NOMEM, "'%s': out of memory", name);
			goto out;
		}
		nu = 0;
		for (size_t i = 0; i < nd; i++) {
			const unsigned char *d;
			if (!used[i] || zip_record_data(&z, &ents[i].z, &d, e))
				continue; /* checked above */
			ze[nu++] = (struct zip_entry){
			    d, ents[i].z.usize, ents[i].z.crc, ents[i].z.name,
			    ents[i].z.name_len};
		}
		qsort(ze, nu, sizeof *ze, zip_entry_ptr_cmp);
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
	unpickle_free(pt, np);
	free(used);
	free(ents);
	return rc;
}

/* ==== writing: the pickle of a state dict ==== */

static void pk_str(struct bytebuf *b, const char *s)
{
	size_t n = strlen(s);
	bytebuf_u8(b, 'X');
	bytebuf_le(b, n, 4);
	bytebuf_add(b, s, n);
}

/* An int the way Python's pickler writes it (protocol 2). */
static void pk_int(struct bytebuf *b, int64_t v)
{
	if (v >= 0 && v < 256) {
		bytebuf_u8(b, 'K');
		bytebuf_u8(b, (unsigned)v);
	} else if (v >= 0 && v < 65536) {
		bytebuf_u8(b, 'M');
		bytebuf_le(b, (uint64_t)v, 2);
	} else if (v >= INT32_MIN && v <= INT32_MAX) {
		bytebuf_u8(b, 'J');
		bytebuf_le(b, (uint64_t)v, 4);
	} else {
		/* LONG1: shortest two's complement */
		int n = 8;
		while (n > 1) {
			int64_t hi = v >> (8 * (n - 1) - 1);
			if (hi != 0 && hi != -1)
				break;
			n--;
		}
		bytebuf_u8(b, 0x8a);
		bytebuf_u8(b, (unsigned)n);
		bytebuf_le(b, (uint64_t)v, n);
	}
}

static void pk_global(struct bytebuf *b, const char *mod, const char *name)
{
	bytebuf_u8(b, 'c');
	bytebuf_add(b, mod, strlen(mod));
	bytebuf_u8(b, '\n');
	bytebuf_add(b, name, strlen(name));
	bytebuf_u8(b, '\n');
}

/* data.pkl: OrderedDict of _rebuild_tensor_v2(storage i, 0, shape, stride,
 * False, OrderedDict()). */
static void make_pickle(struct bytebuf *b, const struct tensor_src *t, size_t n,
			const uint64_t *numel)
{
	static const char *const storage[] = {"FloatStorage", "HalfStorage",
					      "BFloat16Storage"};
	bytebuf_u8(b, 0x80);
	bytebuf_u8(b, 2);
	pk_global(b, "collections", "OrderedDict");
	bytebuf_u8(b, ')');
	bytebuf_u8(b, 'R');
	bytebuf_u8(b, '(');
	for (size_t i = 0; i < n; i++) {
		char key[32];
		snprintf(key, sizeof key, "%zu", i);
		pk_str(b, t[i].name);
		pk_global(b, "torch._utils", "_rebuild_tensor_v2");
		bytebuf_u8(b, '(');
		bytebuf_u8(b, '(');
		pk_str(b, "storage");
		pk_global(b, "torch", storage[t[i].dtype]);
		pk_str(b, key);
		pk_str(b, "cpu");
		pk_int(b, (int64_t)numel[i]);
		bytebuf_u8(b, 't');
		bytebuf_u8(b, 'Q');
		pk_int(b, 0);
		bytebuf_u8(b, '(');
		for (int d = 0; d < t[i].ndim; d++)
			pk_int(b, t[i].shape[d]);
		bytebuf_u8(b, 't');
		bytebuf_u8(b, '(');
		int64_t stride = 1;
		int64_t strides[TENSOR_MAX_DIMS];
		for (int d = t[i].ndim - 1; d >= 0; d--) {
			strides[d] = stride;
			stride *= t[i].shape[d] ? t[i].shape[d] : 1;
		}
		for (int d = 0; d < t[i].ndim; d++)
			pk_int(b, strides[d]);
		bytebuf_u8(b, 't');
		bytebuf_u8(b, 0x89);
		pk_global(b, "collections", "OrderedDict");
		bytebuf_u8(b, ')');
		bytebuf_u8(b, 'R');
		bytebuf_u8(b, 't');
		bytebuf_u8(b, 'R');
	}
	bytebuf_u8(b, 'u');
	bytebuf_u8(b, '.');
}

int torchbin_write(const char *path, const struct tensor_src *t, size_t n,
		   const struct torchbin_write_opts *opts,
		   const struct progress *prog, struct err *e)
{
	int force64 = opts && opts->force_zip64;
	uint64_t *numel = calloc(n ? n : 1, sizeof *numel);
	uint64_t *nbytes = calloc(n ? n : 1, sizeof *nbytes);
	struct zip_wentry *r = calloc(n + 2, sizeof *r);
	void *chunk = malloc(TENSOR_CHUNK_ELEMS * 4);
	float *scratch = malloc(TENSOR_CHUNK_ELEMS * sizeof(float));
	struct bytebuf pk = {0};
	struct wfile f = {.fd = -1};
	int rc = 0;
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
	if ((rc = zip_write_small(&f, &r[0], pk.p, pk.len, force64, e)) < 0)
		goto out;
	uint64_t done = 0;
	for (size_t i = 0; i < n; i++) {
		struct zip_wentry *z = &r[i + 1];
		snprintf(z->name, sizeof z->name, "archive/data/%zu", i);
		z->size = nbytes[i];
		z->z64 = force64 || nbytes[i] >= 0xffffffffu;
		if ((rc = zip_write_local(&f, z, e)) < 0)
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
			crc = zip_crc32(crc, chunk, (size_t)cnt * es);
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
		if ((rc = zip_patch_crc(&f, z, e)) < 0)
			goto out;
	}
	snprintf(r[n + 1].name, sizeof r[n + 1].name, "archive/version");
	if ((rc = zip_write_small(&f, &r[n + 1], "3\n", 2, force64, e)) < 0)
		goto out;
	if ((rc = zip_write_central(&f, r, n + 2, force64, e)) < 0)
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
