/*
 * Tests for spm (SentencePiece models): the protobuf reader on hand-built
 * and hostile buffers, hand-computed BPE/Unigram segmentations, decode,
 * the writer, and ids against goldens made once by Debian's SentencePiece
 * 0.1.97 (tests/ref/spm_goldens.py; agreement printed per file as
 * "lines identical / lines total").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "spm.h"
#include "test.h"

#define INKUBA SHARED_DATA "/inkubalm-8064/tokenizer.model"
#define SPMDATA "tests/data/spm"

/* ------------------------------------------------- a tiny protobuf writer */

struct pbw {
	unsigned char b[8192];
	size_t n;
};

static void w_varint(struct pbw *w, uint64_t v)
{
	while (v >= 0x80) {
		w->b[w->n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	w->b[w->n++] = (unsigned char)v;
}

static void w_tag(struct pbw *w, unsigned field, unsigned wt)
{
	w_varint(w, (uint64_t)field << 3 | wt);
}

static void w_bytes(struct pbw *w, unsigned field, const void *d, size_t n)
{
	w_tag(w, field, 2);
	w_varint(w, n);
	memcpy(w->b + w->n, d, n);
	w->n += n;
}

static void w_uint(struct pbw *w, unsigned field, uint64_t v)
{
	w_tag(w, field, 0);
	w_varint(w, v);
}

static void w_piece(struct pbw *w, const char *s, float score, int type)
{
	struct pbw p = {.n = 0};
	uint32_t u;
	w_bytes(&p, 1, s, strlen(s));
	w_tag(&p, 2, 5);
	memcpy(&u, &score, 4);
	for (int i = 0; i < 4; i++)
		p.b[p.n++] = (unsigned char)(u >> (8 * i));
	if (type != SPM_NORMAL)
		w_uint(&p, 3, (uint64_t)type);
	w_bytes(w, 1, p.b, p.n);
}

/* trainer_spec{model_type, byte_fallback} + identity normalizer without
 * dummy prefix or whitespace removal. */
static void w_specs(struct pbw *w, int model_type, int byte_fallback)
{
	struct pbw t = {.n = 0}, ns = {.n = 0};
	w_uint(&t, 3, (uint64_t)model_type);
	if (byte_fallback)
		w_uint(&t, 35, 1);
	w_bytes(w, 2, t.b, t.n);
	w_bytes(&ns, 1, "identity", 8);
	w_uint(&ns, 3, 0);
	w_uint(&ns, 4, 0);
	w_bytes(w, 3, ns.b, ns.n);
}

static void w_specials(struct pbw *w)
{
	w_piece(w, "<unk>", 0, SPM_UNKNOWN);
	w_piece(w, "<s>", 0, SPM_CONTROL);
	w_piece(w, "</s>", 0, SPM_CONTROL);
}

static int enc_eq(const struct spm *m, const char *text, const int *want,
		  size_t n_want)
{
	int *ids;
	size_t n;
	struct err e;
	if (spm_encode(m, text, strlen(text), &ids, &n, &e)) {
		fprintf(stderr, "encode '%s': %s\n", text, e.msg);
		return 0;
	}
	int ok = n == n_want && (n == 0 || !memcmp(ids, want, n * sizeof *ids));
	if (!ok) {
		fprintf(stderr, "encode '%s': got", text);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, " %d", ids[i]);
		fprintf(stderr, "\n");
	}
	free(ids);
	return ok;
}

#define ENC(m, text, ...)                                                     \
	do {                                                                  \
		const int want_[] = {__VA_ARGS__};                            \
		CHECK_MSG(enc_eq(m, text, want_, sizeof want_ / sizeof *want_),\
			  "encode \"%s\"", text);                             \
	} while (0)

static int dec_eq(const struct spm *m, const int *ids, size_t n,
		  const char *want)
{
	char *t;
	size_t len;
	struct err e;
	if (spm_decode(m, ids, n, &t, &len, &e))
		return 0;
	int ok = len == strlen(want) && !memcmp(t, want, len);
	if (!ok)
		fprintf(stderr, "decode: got \"%s\", want \"%s\"\n", t, want);
	free(t);
	return ok;
}

/* ---------------------------------------------------- reader: hostile */

static void test_reader_errors(void)
{
	struct spm *m = NULL;
	struct err e;
	static const unsigned char trunc_varint[] = {0x0A, 0x80};
	static const unsigned char long_len[] = {0x0A, 0x05, 'a'};
	static const unsigned char group[] = {0x0B, 0x0C};
	static const unsigned char bad_wt[] = {0x0E, 0x00};
	static const unsigned char long_varint[] = {
		0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
		0xFF, 0x01};

	CHECK_ERR(spm_load_buffer("", 0, "empty", &m, &e), e, ERR_FORMAT,
		  "'empty': empty model");
	CHECK(m == NULL);
	CHECK_ERR(spm_load_buffer(trunc_varint, sizeof trunc_varint, "tv", &m,
				  &e), e, ERR_FORMAT, "truncated varint");
	CHECK_ERR(spm_load_buffer(long_len, sizeof long_len, "ll", &m, &e), e,
		  ERR_FORMAT, "length exceeds");
	CHECK_ERR(spm_load_buffer(group, sizeof group, "g", &m, &e), e,
		  ERR_FORMAT, "groups");
	CHECK_ERR(spm_load_buffer(bad_wt, sizeof bad_wt, "w", &m, &e), e,
		  ERR_FORMAT, "wire type");
	CHECK_ERR(spm_load_buffer(long_varint, sizeof long_varint, "lv", &m,
				  &e), e, ERR_FORMAT, "varint");
	CHECK_ERR(spm_load_file("/nonexistent/x.model", &m, &e), e, ERR_NOTFOUND,
		  "x.model");

	struct pbw w = {.n = 0};
	w_piece(&w, "a", -1, SPM_NORMAL);
	w_specs(&w, SPM_BPE, 0);
	CHECK_ERR(spm_load_buffer(w.b, w.n, "nounk", &m, &e), e, ERR_FORMAT,
		  "unk is not defined");

	w.n = 0;
	w_specials(&w);
	w_piece(&w, "\xff", -1, SPM_NORMAL);
	w_specs(&w, SPM_BPE, 0);
	CHECK_ERR(spm_load_buffer(w.b, w.n, "utf8", &m, &e), e, ERR_FORMAT,
		  "piece 3: invalid UTF-8");

	w.n = 0;
	w_specials(&w);
	w_piece(&w, "a", -1, SPM_NORMAL);
	w_piece(&w, "a", -2, SPM_NORMAL);
	w_specs(&w, SPM_BPE, 0);
	CHECK_ERR(spm_load_buffer(w.b, w.n, "dup", &m, &e), e, ERR_FORMAT,
		  "already defined");

	w.n = 0;
	w_specials(&w);
	w_specs(&w, 3, 0);
	CHECK_ERR(spm_load_buffer(w.b, w.n, "word", &m, &e), e,
		  ERR_UNSUPPORTED, "WORD models are not supported");

	w.n = 0;
	w_specials(&w);
	w_piece(&w, "<0x41>", 0, SPM_BYTE);
	w_specs(&w, SPM_BPE, 0);
	CHECK_ERR(spm_load_buffer(w.b, w.n, "byte", &m, &e), e, ERR_FORMAT,
		  "byte_fallback is false");

	w.n = 0;
	w_specials(&w);
	w_piece(&w, "<0x41>", 0, SPM_BYTE);
	w_specs(&w, SPM_BPE, 1);
	CHECK_ERR(spm_load_buffer(w.b, w.n, "bytes", &m, &e), e, ERR_FORMAT,
		  "<0x00> is missing");

	w.n = 0;
	w_specs(&w, SPM_BPE, 0);
	CHECK_ERR(spm_load_buffer(w.b, w.n, "nopieces", &m, &e), e,
		  ERR_FORMAT, "no pieces");
}

/* Unknown fields of every wire type are skipped, and the writer given
 * every piece in order reproduces the file byte for byte. */
static void test_reader_unknown_fields(void)
{
	struct pbw w = {.n = 0}, p = {.n = 0};
	struct spm *m = NULL;
	struct err e;
	w_uint(&w, 100, 7);             /* varint */
	w_tag(&w, 101, 1);              /* fixed64 */
	memset(w.b + w.n, 0xAB, 8);
	w.n += 8;
	w_specials(&w);
	w_bytes(&p, 1, "ab", 2);        /* a piece with an unknown field */
	w_uint(&p, 200, 5);
	w_bytes(&w, 1, p.b, p.n);
	w_bytes(&w, 102, "xyz", 3);     /* length-delimited */
	w_tag(&w, 103, 5);              /* fixed32 */
	memset(w.b + w.n, 0xCD, 4);
	w.n += 4;
	w_specs(&w, SPM_UNIGRAM, 0);
	int rc = spm_load_buffer(w.b, w.n, "unknown", &m, &e);
	CHECK_MSG(rc == 0, "load: %s", e.msg);
	if (rc)
		return;
	CHECK_EQ_INT(spm_n_pieces(m), 4);
	CHECK_STR(spm_piece(m, 3, NULL), "ab");
	CHECK_EQ_INT(spm_type(m, 3), SPM_NORMAL);
	CHECK_EQ_INT(spm_model_type(m), SPM_UNIGRAM);
	CHECK_EQ_INT(spm_info(m)->unk_id, 0);
	CHECK_EQ_INT(spm_info(m)->bos_id, 1);
	CHECK_EQ_INT(spm_info(m)->eos_id, 2);
	CHECK_EQ_INT(spm_info(m)->pad_id, -1);
	CHECK_EQ_INT(spm_info(m)->add_dummy_prefix, 0);
	CHECK_EQ_INT(spm_info(m)->split_by_whitespace, 1); /* default */
	CHECK_STR(spm_info(m)->normalizer_name, "identity");

	int all[] = {0, 1, 2, 3};
	unsigned char *out;
	size_t len;
	CHECK_EQ_INT(spm_write_buffer(m, all, 4, &out, &len, &e), 0);
	CHECK(len == w.n && memcmp(out, w.b, len) == 0);
	free(out);
	int nounk[] = {1, 2, 3};
	CHECK_ERR(spm_write_buffer(m, nounk, 3, &out, &len, &e), e,
		  ERR_INVALID, "unknown piece");
	int rep[] = {0, 3, 3};
	CHECK_ERR(spm_write_buffer(m, rep, 3, &out, &len, &e), e,
		  ERR_INVALID, "repeated");
	spm_free(m);
	spm_free(NULL);
}

/* ------------------------------------------- encode: hand-computed cases */

static void test_bpe_small(void)
{
	struct pbw w = {.n = 0};
	struct spm *m = NULL;
	struct err e;
	w_specials(&w);
	w_piece(&w, "a", -1, SPM_NORMAL);      /* 3 */
	w_piece(&w, "b", -2, SPM_NORMAL);      /* 4 */
	w_piece(&w, "c", -3, SPM_NORMAL);      /* 5 */
	w_piece(&w, "ab", -0.5f, SPM_NORMAL);  /* 6 */
	w_piece(&w, "bc", -0.4f, SPM_NORMAL);  /* 7 */
	w_piece(&w, "abc", -5, SPM_NORMAL);    /* 8 */
	w_piece(&w, "aa", -1.5f, SPM_NORMAL);  /* 9 */
	w_piece(&w, "bb", 10, SPM_UNUSED);     /* 10 */
	w_piece(&w, "\xe2\x96\x81" "a", -0.1f, SPM_NORMAL); /* 11 "▁a" */
	w_piece(&w, "<x>", 0, SPM_USER_DEFINED); /* 12 */
	w_piece(&w, "x>", 100, SPM_NORMAL);    /* 13 */
	w_specs(&w, SPM_BPE, 0);
	int rc = spm_load_buffer(w.b, w.n, "bpe-small", &m, &e);
	CHECK_MSG(rc == 0, "load: %s", e.msg);
	if (rc)
		return;
	/* bc (-0.4) beats ab (-0.5); then a+bc = abc. */
	ENC(m, "abc", 8);
	/* "aa" twice at the same score: the leftmost pair merges first. */
	ENC(m, "aaa", 9, 3);
	/* Unknown characters fuse into one <unk> (no byte_fallback). */
	ENC(m, "axyb", 3, 0, 4);
	/* The UNUSED "bb" outranks "bc", merges, then is split back. */
	ENC(m, "bbc", 4, 4, 5);
	/* ' ' -> U+2581; no dummy prefix in this model. */
	ENC(m, "a a", 3, 11);
	/* A user-defined piece is matched whole and never merged, even
	 * with a high-scoring neighbour piece ("x>"). */
	ENC(m, "a<x>a", 3, 12, 3);
	int dids[] = {11, 1, 3, 0, 12};
	CHECK(dec_eq(m, dids, 5, " aa \xE2\x81\x87 <x>"));
	int bad = 99;
	char *t;
	size_t tl;
	CHECK_ERR(spm_decode(m, &bad, 1, &t, &tl, &e), e, ERR_INVALID,
		  "id 99 out of range");
	CHECK_EQ_INT(spm_piece_id(m, "bc", 2), 7);
	CHECK_EQ_INT(spm_piece_id(m, "zz", 2), -1);
	spm_free(m);

	/* byte_fallback: unknown characters become their UTF-8 bytes. */
	w.n = 0;
	w_specials(&w);
	for (int i = 0; i < 256; i++) {
		char b[8];
		snprintf(b, sizeof b, "<0x%02X>", i);
		w_piece(&w, b, 0, SPM_BYTE);    /* 3 + i */
	}
	w_piece(&w, "a", -1, SPM_NORMAL);      /* 259 */
	w_specs(&w, SPM_BPE, 1);
	rc = spm_load_buffer(w.b, w.n, "bpe-bytes", &m, &e);
	CHECK_MSG(rc == 0, "load: %s", e.msg);
	if (rc)
		return;
	ENC(m, "a\xc3\xa9z", 259, 3 + 0xC3, 3 + 0xA9, 3 + 'z');
	/* Words encode apart here; the second "▁a" comes from the cache
	 * (an unknown U+2581 falls back to its bytes E2 96 81). */
	CHECK_EQ_INT(spm_info(m)->words_independent, 1);
	ENC(m, "a a a", 259, 3 + 0xE2, 3 + 0x96, 3 + 0x81, 259, 3 + 0xE2,
	    3 + 0x96, 3 + 0x81, 259);
	/* Invalid UTF-8 is normalized to U+FFFD first (EF BF BD). */
	ENC(m, "\xff", 3 + 0xEF, 3 + 0xBF, 3 + 0xBD);
	/* Decode reassembles bytes; an invalid byte becomes U+FFFD. */
	int dd[] = {259, 3 + 0xC3, 3 + 0xA9, 3 + 0xC3, 259};
	CHECK(dec_eq(m, dd, 5, "a\xc3\xa9\xef\xbf\xbd" "a"));
	spm_free(m);

	/* A piece spanning a word start ("a▁b"): words are not independent
	 * and the merge across the space happens. */
	w.n = 0;
	w_specials(&w);
	w_piece(&w, "a", -1, SPM_NORMAL);                  /* 3 */
	w_piece(&w, "b", -1, SPM_NORMAL);                  /* 4 */
	w_piece(&w, "\xe2\x96\x81", -1, SPM_NORMAL);      /* 5 */
	w_piece(&w, "a\xe2\x96\x81", -2, SPM_NORMAL);     /* 6 */
	w_piece(&w, "a\xe2\x96\x81" "b", -3, SPM_NORMAL); /* 7 */
	w_specs(&w, SPM_BPE, 0);
	rc = spm_load_buffer(w.b, w.n, "bpe-span", &m, &e);
	CHECK_MSG(rc == 0, "load: %s", e.msg);
	if (rc)
		return;
	CHECK_EQ_INT(spm_info(m)->words_independent, 0);
	ENC(m, "a b", 7);
	ENC(m, "b a", 4, 5, 3); /* neither "b▁" nor "▁a" is a piece */
	spm_free(m);
}

static void test_unigram_small(void)
{
	struct pbw w = {.n = 0};
	struct spm *m = NULL;
	struct err e;
	w_specials(&w);
	w_piece(&w, "a", -1, SPM_NORMAL);      /* 3 */
	w_piece(&w, "b", -1, SPM_NORMAL);      /* 4 */
	w_piece(&w, "ab", -1.5f, SPM_NORMAL);  /* 5 */
	w_piece(&w, "c", -2, SPM_NORMAL);      /* 6 */
	w_piece(&w, "abc", -4, SPM_NORMAL);    /* 7 */
	w_piece(&w, "bcd", 1, SPM_UNUSED);     /* 8 */
	w_piece(&w, "d", -3, SPM_NORMAL);      /* 9 */
	w_specs(&w, SPM_UNIGRAM, 0);
	int rc = spm_load_buffer(w.b, w.n, "uni-small", &m, &e);
	CHECK_MSG(rc == 0, "load: %s", e.msg);
	if (rc)
		return;
	/* ab+c = -3.5 beats abc = -4 and a+b+c = -4. */
	ENC(m, "abc", 5, 6);
	/* Unknowns score min - 10 and fuse; UNUSED "bcd" is ignored. */
	ENC(m, "abxy", 5, 0);
	ENC(m, "abcd", 5, 6, 9);
	int *none;
	size_t n_none;
	CHECK(spm_encode(m, "", 0, &none, &n_none, &e) == 0 && n_none == 0);
	spm_free(m);
}

/* -------------------------------------------------------------- goldens */

struct lines {
	char *buf;
	size_t len;
	size_t n;
	char **s;
	size_t *l;
};

static int lines_read(const char *path, size_t limit, struct lines *L)
{
	struct err e;
	memset(L, 0, sizeof *L);
	if (file_read_all(path, 64u << 20, &L->buf, &L->len, &e))
		return -1;
	size_t cap = 1024;
	L->s = malloc(cap * sizeof *L->s);
	L->l = malloc(cap * sizeof *L->l);
	char *p = L->buf, *end = L->buf + L->len;
	while (p < end && L->n < limit) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (L->n == cap) {
			cap *= 2;
			L->s = realloc(L->s, cap * sizeof *L->s);
			L->l = realloc(L->l, cap * sizeof *L->l);
		}
		L->s[L->n] = p;
		L->l[L->n++] = ll;
		p += ll + 1;
	}
	return 0;
}

static void lines_free(struct lines *L)
{
	free(L->buf);
	free(L->s);
	free(L->l);
}

static int get_varint(const unsigned char **p, const unsigned char *end,
		      uint64_t *v)
{
	uint64_t r = 0;
	for (int i = 0; i < 10 && *p < end; i++) {
		unsigned char c = *(*p)++;
		r |= (uint64_t)(c & 0x7F) << (7 * i);
		if (!(c & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -1;
}

static int utf8_ok(const char *s, size_t n)
{
	/* Strict enough for choosing round-trip lines. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0xF8 || s[i] == '\r')
			return 0;
	return 1;
}

/* Compares every line's ids with the golden; prints the agreement. */
static void golden_file(const struct spm *m, const char *tag,
			const char *text, size_t limit, const char *gold,
			int roundtrip)
{
	struct lines L;
	char *g;
	size_t glen, same = 0, rt_ok = 0, rt_n = 0;
	struct err e;
	struct spm_state st = {0}, raw = {.no_cache = 1};
	if (lines_read(text, limit, &L)) {
		SKIP("%s is absent", text);
		return;
	}
	if (file_read_all(gold, 64u << 20, &g, &glen, &e)) {
		CHECK_MSG(0, "golden %s: %s", gold, e.msg);
		lines_free(&L);
		return;
	}
	/* Hard cases also carry SentencePiece's decode of the ids. */
	struct lines D = {0};
	size_t dec_same = 0;
	char dpath[300];
	snprintf(dpath, sizeof dpath, "%.*s.decoded", (int)strlen(gold) - 4,
		 gold);
	int have_dec = path_exists(dpath) && !lines_read(dpath, SIZE_MAX, &D);
	const unsigned char *p = (unsigned char *)g, *end = p + glen;
	int reported = 0;
	for (size_t i = 0; i < L.n; i++) {
		uint64_t cnt = 0, v;
		int ok = get_varint(&p, end, &cnt) == 0;
		if (spm_encode_state(m, L.s[i], L.l[i], &st, &e)) {
			CHECK_MSG(0, "%s line %zu: %s", text, i + 1, e.msg);
			ok = 0;
		}
		/* The word cache must not change anything. */
		if (spm_encode_state(m, L.s[i], L.l[i], &raw, &e) ||
		    raw.n != st.n ||
		    (st.n && memcmp(raw.ids, st.ids, st.n * sizeof *st.ids)))
			ok = 0;
		ok = ok && cnt == st.n;
		for (uint64_t k = 0; k < cnt; k++) {
			if (get_varint(&p, end, &v)) {
				ok = 0;
				break;
			}
			if (ok && (int)v != st.ids[k])
				ok = 0;
		}
		if (ok)
			same++;
		else if (reported++ < 3)
			fprintf(stderr, "%s: %s line %zu differs (%zu ids, "
				"golden %llu)\n", tag, text, i + 1, st.n,
				(unsigned long long)cnt);
		if (have_dec && i < D.n) {
			char *t;
			size_t tl;
			if (!spm_decode(m, st.ids, st.n, &t, &tl, &e)) {
				int d = tl == D.l[i] && !memcmp(t, D.s[i], tl);
				dec_same += d;
				if (!d)
					fprintf(stderr, "%s: line %zu decodes "
						"to \"%s\"\n", tag, i + 1, t);
				free(t);
			}
		}
		if (roundtrip && ok && utf8_ok(L.s[i], L.l[i])) {
			char *t;
			size_t tl;
			rt_n++;
			if (!spm_decode(m, st.ids, st.n, &t, &tl, &e)) {
				rt_ok += tl == L.l[i] &&
					 !memcmp(t, L.s[i], tl);
				free(t);
			}
		}
	}
	CHECK_MSG(p == end, "%s: golden has more lines than %s", gold, text);
	printf("spm %s %s: %zu / %zu lines identical", tag,
	       strrchr(text, '/') + 1, same, L.n);
	if (roundtrip)
		printf(", decode round trip %zu / %zu", rt_ok, rt_n);
	if (have_dec)
		printf(", decoded as SentencePiece %zu / %zu", dec_same, D.n);
	printf("\n");
	if (have_dec) {
		CHECK_EQ_INT(D.n, L.n);
		CHECK_EQ_INT(dec_same, D.n);
		lines_free(&D);
	}
	CHECK_EQ_INT(same, L.n);
	if (roundtrip)
		CHECK_EQ_INT(rt_ok, rt_n);
	spm_state_free(&st);
	spm_state_free(&raw);
	free(g);
	lines_free(&L);
}

static const char *const corpus_files[] = {
	"corpus/hau_bible.txt",  "corpus/hau_bible.vref.txt",
	"corpus/swh_nt.txt",     "corpus/swh_nt.vref.txt",
	"corpus/aligned/eng_aligned.txt", "corpus/aligned/hau_aligned.txt",
	"corpus/aligned/swh_aligned.txt", "corpus/aligned/vref.txt",
	"corpus/udhr/udhr_eng.txt", "corpus/udhr/udhr_hau.txt",
	"corpus/udhr/udhr_swh.txt",
};

static void gold_path(char *buf, size_t cap, const char *model,
		      const char *text)
{
	const char *base = strrchr(text, '/');
	base = base ? base + 1 : text;
	snprintf(buf, cap, SPMDATA "/golden/%s.%.*s.ids", model,
		 (int)(strlen(base) - 4), base);
}

static void test_goldens_inkuba(void)
{
	struct spm *m;
	struct err e;
	char text[256], gold[256];
	if (!path_exists(INKUBA)) {
		SKIP("%s is absent: InkubaLM goldens not checked", INKUBA);
		return;
	}
	int rc = spm_load_file(INKUBA, &m, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	if (rc)
		return;
	const struct spm_info *in = spm_info(m);
	CHECK_EQ_INT(spm_n_pieces(m), 8064);
	CHECK_EQ_INT(spm_model_type(m), SPM_BPE);
	CHECK_EQ_INT(in->byte_fallback, 1);
	CHECK_EQ_INT(in->split_digits, 1);
	CHECK_EQ_INT(in->add_dummy_prefix, 0);
	CHECK_EQ_INT(in->vocab_size, 32000); /* stale, as SOURCE.md says */
	CHECK_EQ_INT(in->bos_id, 1);
	CHECK_EQ_INT(in->eos_id, 2);
	CHECK_EQ_INT(in->unk_id, 0);
	CHECK_EQ_INT(in->words_independent, 1); /* the cached path is used */
	CHECK_STR(spm_piece(m, 3, NULL), "<0x00>");
	CHECK_EQ_INT(spm_type(m, 258), SPM_BYTE);
	for (size_t i = 0; i < sizeof corpus_files / sizeof *corpus_files;
	     i++) {
		snprintf(text, sizeof text, SHARED_DATA "/%s",
			 corpus_files[i]);
		gold_path(gold, sizeof gold, "inkuba8064", text);
		golden_file(m, "inkuba8064", text, SIZE_MAX, gold, 1);
	}
	gold_path(gold, sizeof gold, "inkuba8064", "hard_cases.txt");
	golden_file(m, "inkuba8064", SPMDATA "/hard_cases.txt", SIZE_MAX,
		    gold, 0);
	spm_free(m);
}

static void test_goldens_trained(const char *name, int model_type)
{
	struct spm *m;
	struct err e;
	char path[256], text[256], gold[256];
	static const char *const langs[] = {"eng", "hau", "swh"};
	snprintf(path, sizeof path, SPMDATA "/%s.model", name);
	int rc = spm_load_file(path, &m, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	if (rc)
		return;
	CHECK_EQ_INT(spm_model_type(m), model_type);
	CHECK_EQ_INT(spm_n_pieces(m), 1000);
	/* Both run with the defaults: dummy prefix, extra whitespace
	 * removed; the Unigram one with the nmt_nfkc charsmap. */
	CHECK_EQ_INT(spm_info(m)->add_dummy_prefix, 1);
	CHECK_EQ_INT(spm_info(m)->remove_extra_whitespaces, 1);
	if (model_type == SPM_UNIGRAM) {
		CHECK_STR(spm_info(m)->normalizer_name, "nmt_nfkc");
		CHECK(spm_info(m)->charsmap_size > 1000);
		/* NFKC via the charsmap: full-width letters, a ligature. */
		char *n;
		size_t nl;
		CHECK_EQ_INT(spm_normalize(m, "\xef\xbd\x81  \xef\xac\x81 ",
					   9, &n, &nl, &e), 0);
		CHECK_STR(n, "\xe2\x96\x81" "a\xe2\x96\x81" "fi");
		free(n);
	} else {
		CHECK_EQ_INT(spm_info(m)->byte_fallback, 1);
		CHECK_EQ_INT(spm_info(m)->split_digits, 1);
		CHECK_STR(spm_info(m)->normalizer_name, "identity");
	}
	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof text,
			 SHARED_DATA "/corpus/aligned/%s_aligned.txt",
			 langs[i]);
		gold_path(gold, sizeof gold, name, text);
		golden_file(m, name, text, 500, gold, 0);
	}
	gold_path(gold, sizeof gold, name, "hard_cases.txt");
	golden_file(m, name, SPMDATA "/hard_cases.txt", SIZE_MAX, gold, 0);
	spm_free(m);
}

/* A tiny Unigram model with a custom rule table (A->a, B->b, full-width
 * A->a, ligature fi->"fi", ideographic space and tab->space: a small
 * charsmap) and a user-defined piece "<x>", which is never normalized. */
static void test_goldens_rules(void)
{
	struct spm *m;
	struct err e;
	char gold[256], *n;
	size_t nl;
	int rc = spm_load_file(SPMDATA "/rules.model", &m, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	if (rc)
		return;
	CHECK_EQ_INT(spm_n_pieces(m), 200);
	CHECK_STR(spm_info(m)->normalizer_name, "user_defined");
	CHECK_EQ_INT(spm_type(m, 3), SPM_USER_DEFINED);
	CHECK_STR(spm_piece(m, 3, NULL), "<x>");
	static const char in[] = "ABC \xef\xbc\xa1 \xef\xac\x81\tx<x>";
	CHECK_EQ_INT(spm_normalize(m, in, sizeof in - 1, &n, &nl, &e), 0);
	CHECK_STR(n, "\xe2\x96\x81" "abC\xe2\x96\x81" "a\xe2\x96\x81"
		     "fi\xe2\x96\x81" "x<x>");
	free(n);
	/* Ids from SentencePiece 0.1.97 (Python binding) for these texts:
	 * user-defined pieces win over everything (score len * max - 0.1). */
	ENC(m, in, 5, 4, 193, 0, 5, 4, 5, 135, 9, 5, 0, 3);
	ENC(m, "<x><x> a<x>b", 5, 3, 3, 5, 4, 3, 193);
	gold_path(gold, sizeof gold, "rules", "swh_aligned.txt");
	golden_file(m, "rules",
		    SHARED_DATA "/corpus/aligned/swh_aligned.txt", 500, gold,
		    0);
	gold_path(gold, sizeof gold, "rules", "hard_cases.txt");
	golden_file(m, "rules", SPMDATA "/hard_cases.txt", SIZE_MAX, gold, 0);
	spm_free(m);
}

/* ---------------------------------------------------------------- writer */

/* Writes the first 2,000 pieces of the InkubaLM model (specials, bytes,
 * 1,741 normal pieces), reads it back, and compares its encoding of the
 * hard cases with SentencePiece's on the same written file (golden made
 * by tests/ref/spm_goldens.py --subset FILE, from SPM_WRITE_SUBSET). */
static void test_writer(void)
{
	struct spm *m, *w;
	struct err e;
	char dir[] = "/tmp/test_spm.XXXXXX", path[256];
	enum { KEEP = 2000 };
	int keep[KEEP];
	if (!path_exists(INKUBA)) {
		SKIP("%s is absent: writer not checked", INKUBA);
		return;
	}
	if (spm_load_file(INKUBA, &m, &e)) {
		CHECK_MSG(0, "%s", e.msg);
		return;
	}
	for (int i = 0; i < KEEP; i++)
		keep[i] = i;
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/subset.model", dir);
	CHECK_EQ_INT(spm_write_file(path, m, keep, KEEP, &e), 0);
	const char *keep_copy = getenv("SPM_WRITE_SUBSET");
	if (keep_copy)
		CHECK_EQ_INT(spm_write_file(keep_copy, m, keep, KEEP, &e), 0);
	int rc = spm_load_file(path, &w, &e);
	CHECK_MSG(rc == 0, "reload: %s", e.msg);
	unlink(path);
	rmdir(dir);
	if (rc) {
		spm_free(m);
		return;
	}
	CHECK_EQ_INT(spm_n_pieces(w), KEEP);
	CHECK_EQ_INT(spm_info(w)->vocab_size, KEEP);
	CHECK_EQ_INT(spm_info(w)->byte_fallback, 1);
	CHECK_EQ_INT(spm_info(w)->add_dummy_prefix, 0);
	CHECK_STR(spm_info(w)->normalizer_name,
		  spm_info(m)->normalizer_name);
	int same = 1;
	for (int i = 0; i < KEEP; i++)
		same &= !strcmp(spm_piece(w, i, NULL), spm_piece(m, i, NULL)) &&
			spm_score(w, i) == spm_score(m, i) &&
			spm_type(w, i) == spm_type(m, i);
	CHECK(same);
	golden_file(w, "subset2000", SPMDATA "/hard_cases.txt", SIZE_MAX,
		    SPMDATA "/golden/subset2000.hard_cases.ids", 0);

	/* A reordered subset: the new ids follow keep[]'s order. */
	int perm[259 + 2];
	for (int i = 0; i < 259; i++)
		perm[i] = i;
	perm[259] = 1999;
	perm[260] = 1000;
	unsigned char *buf;
	size_t len;
	struct spm *r;
	CHECK_EQ_INT(spm_write_buffer(m, perm, 261, &buf, &len, &e), 0);
	CHECK_EQ_INT(spm_load_buffer(buf, len, "perm", &r, &e), 0);
	CHECK_STR(spm_piece(r, 259, NULL), spm_piece(m, 1999, NULL));
	CHECK_STR(spm_piece(r, 260, NULL), spm_piece(m, 1000, NULL));
	free(buf);
	spm_free(r);
	int missing_byte[] = {0, 1, 2, 3};
	CHECK_ERR(spm_write_buffer(m, missing_byte, 4, &buf, &len, &e), e,
		  ERR_INVALID, "256 byte pieces");
	spm_free(w);
	spm_free(m);
}

/* Damaged copies of a real model: every outcome is a clean load or a
 * clean error (run under ASan/UBSan in CI). */
static void test_damaged(void)
{
	char *buf;
	size_t len;
	struct err e;
	if (file_read_all(SPMDATA "/bpe.model", 1u << 24, &buf, &len, &e)) {
		CHECK_MSG(0, "%s", e.msg);
		return;
	}
	unsigned char *c = malloc(len);
	int loaded = 0, failed = 0;
	uint32_t x = 12345;
	for (int t = 0; t < 300; t++) {
		struct spm *m = NULL;
		size_t cut = len;
		memcpy(c, buf, len);
		x = x * 1103515245u + 12345u;
		if (t % 3 == 0)
			cut = (x >> 8) % len;
		else
			c[(x >> 8) % len] ^= (unsigned char)(1u << (t % 8));
		if (spm_load_buffer(c, cut, "damaged", &m, &e) == 0) {
			int *ids;
			size_t n;
			loaded++;
			if (!spm_encode(m, "Habari za asubuhi 123", 21, &ids,
					&n, &e))
				free(ids);
			spm_free(m);
		} else {
			failed++;
			CHECK(strstr(e.msg, "'damaged'") != NULL);
		}
	}
	CHECK_EQ_INT(loaded + failed, 300);
	CHECK(failed > 0);
	free(c);
	free(buf);
}

int main(void)
{
	test_reader_errors();
	test_reader_unknown_fields();
	test_bpe_small();
	test_unigram_small();
	test_goldens_inkuba();
	test_goldens_trained("unigram", SPM_UNIGRAM);
	test_goldens_trained("bpe", SPM_BPE);
	test_goldens_rules();
	test_writer();
	test_damaged();
	return TEST_SUMMARY();
}
