/*
 * test_tokenizer — tokenizer.json loading, encode and decode against golden
 * files written once by the reference (tests/ref/tok_goldens.js: Hugging
 * Face `tokenizers`, cross-checked with `@huggingface/tokenizers`).
 *
 * - the real InkubaLM tokenizer (../shared/data): ids of every corpus line
 *   (the two Bibles: every other line), of tests/data/tok/hard_cases.txt and
 *   of invalid UTF-8 byte strings; agreement printed per file as
 *   "lines identical / lines total"; decode of the hard cases; encode ->
 *   decode is the identity on every corpus line; streaming decode equals
 *   batch decode;
 * - small hand-made tokenizer.json files (tests/data/tok/small_*.json):
 *   pairs-form merges, added tokens with lstrip/rstrip/single_word/
 *   normalized, NFKC, Lowercase, NFD, Strip, Metaspace (always/first,
 *   split on/off), WhitespaceSplit, ignore_merges, no decoder;
 * - errors: unsupported components, malformed / truncated JSON, merges
 *   naming a missing piece, an empty tokenizer.model;
 * - SentencePiece through the façade (test_spm_facade): ids equal the
 *   spm_encode goldens of tests/data/spm/golden, BOS/EOS from
 *   tokenizer_config.json, decode and streaming decode, vocabulary
 *   accessors, derived merges; the directory fallback on
 *   ../shared/data/inkubalm-8064 (tokenizer.json refused, tokenizer.model
 *   used, tok_note says why).
 */
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "test.h"
#include "tokenizer.h"

#define TOKDIR "tests/data/tok"
#define GOLD TOKDIR "/golden"
#define REAL SHARED_DATA "/inkubalm-0.4b/tokenizer.json"

/* Lines of a file, split on '\n' only (a final '\n' ends the last line). */
struct lines {
	char *buf;
	char **v;
	size_t *len;
	size_t n;
};

static int lines_read(const char *path, struct lines *l)
{
	size_t size;
	memset(l, 0, sizeof *l);
	if (file_read_all(path, 64u << 20, &l->buf, &size, NULL))
		return -1;
	size_t cap = 1;
	for (size_t i = 0; i < size; i++)
		cap += l->buf[i] == '\n';
	l->v = malloc(cap * sizeof *l->v);
	l->len = malloc(cap * sizeof *l->len);
	char *p = l->buf, *end = l->buf + size;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		l->v[l->n] = p;
		l->len[l->n++] = n;
		p[n] = '\0';
		p += n + 1;
	}
	return 0;
}

static void lines_free(struct lines *l)
{
	free(l->buf);
	free(l->v);
	free(l->len);
}

static char *ids_str(const int *ids, size_t n)
{
	char *s = malloc(n * 12 + 1), *o = s;
	*o = '\0';
	for (size_t i = 0; i < n; i++)
		o += sprintf(o, i ? " %d" : "%d", ids[i]);
	return s;
}

/* Compares encode(line) with the golden ids of every line; returns the
 * number identical and prints the figure. */
static void golden_file(struct tokenizer *t, const char *name,
			const char *input)
{
	char gpath[512];
	snprintf(gpath, sizeof gpath, GOLD "/%s.ids", name);
	struct lines in, gold;
	if (lines_read(input, &in)) {
		SKIP("cannot read '%s'", input);
		return;
	}
	if (lines_read(gpath, &gold)) {
		CHECK_MSG(0, "cannot read '%s'", gpath);
		lines_free(&in);
		return;
	}
	size_t stride = 1, g0 = 0;
	if (gold.n && !strncmp(gold.v[0], "#stride ", 8)) {
		stride = (size_t)atoi(gold.v[0] + 8);
		g0 = 1;
	}
	size_t same = 0, total = 0, shown = 0;
	for (size_t i = 0; i < in.n; i += stride, total++) {
		int *ids;
		size_t n;
		struct err e = {0};
		if (tok_encode(t, in.v[i], in.len[i], true, &ids, &n, &e)) {
			CHECK_MSG(0, "%s line %zu: %s", name, i + 1, e.msg);
			continue;
		}
		char *s = ids_str(ids, n);
		size_t g = g0 + total;
		if (g < gold.n && !strcmp(s, gold.v[g]))
			same++;
		else if (shown++ < 3)
			fprintf(stderr, "%s line %zu differs:\n  want %.300s\n  got  %.300s\n",
				name, i + 1, g < gold.n ? gold.v[g] : "(none)", s);
		free(s);
		free(ids);
	}
	printf("agreement %-14s %zu / %zu lines identical\n", name, same, total);
	CHECK_MSG(same == total && g0 + total == gold.n,
		  "%s: %zu / %zu identical (golden has %zu lines)", name, same,
		  total, gold.n - g0);
	lines_free(&in);
	lines_free(&gold);
}

/* Unescapes one JSON string literal (as JSON.stringify writes it). */
static char *json_unescape(const char *s, size_t *len)
{
	size_t n = strlen(s);
	char *out = malloc(n + 1), *o = out;
	if (n < 2 || s[0] != '"') {
		*len = 0;
		*out = '\0';
		return out;
	}
	for (size_t i = 1; i + 1 < n; i++) {
		if (s[i] != '\\') {
			*o++ = s[i];
			continue;
		}
		char c = s[++i];
		switch (c) {
		case 'n': *o++ = '\n'; break;
		case 't': *o++ = '\t'; break;
		case 'r': *o++ = '\r'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'u': {
			unsigned cp = (unsigned)strtoul((char[]){s[i + 1], s[i + 2], s[i + 3], s[i + 4], 0}, NULL, 16);
			i += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF && s[i + 1] == '\\') {
				unsigned lo = (unsigned)strtoul((char[]){s[i + 3], s[i + 4], s[i + 5], s[i + 6], 0}, NULL, 16);
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				i += 6;
			}
			if (cp < 0x80) {
				*o++ = (char)cp;
			} else if (cp < 0x800) {
				*o++ = (char)(0xC0 | cp >> 6);
				*o++ = (char)(0x80 | (cp & 63));
			} else if (cp < 0x10000) {
				*o++ = (char)(0xE0 | cp >> 12);
				*o++ = (char)(0x80 | ((cp >> 6) & 63));
				*o++ = (char)(0x80 | (cp & 63));
			} else {
				*o++ = (char)(0xF0 | cp >> 18);
				*o++ = (char)(0x80 | ((cp >> 12) & 63));
				*o++ = (char)(0x80 | ((cp >> 6) & 63));
				*o++ = (char)(0x80 | (cp & 63));
			}
			break;
		}
		default: *o++ = c; break;
		}
	}
	*o = '\0';
	*len = (size_t)(o - out);
	return out;
}

/* Streams ids through tok_stream (tiny buffer, to exercise the cap) and
 * returns the concatenation. */
static char *stream_decode(struct tokenizer *t, const int *ids, size_t n,
			   bool skip, size_t *len)
{
	struct tok_stream s;
	tok_stream_init(&s, skip);
	size_t cap = 64, out_n = 0;
	char *out = malloc(cap), buf[7];
	struct err e = {0};
	for (size_t i = 0; i <= n; i++) {
		for (int round = 0;; round++) {
			size_t got = 0;
			int rc = i == n ? tok_stream_flush(t, &s, buf, sizeof buf, &got, &e)
				 : round == 0 ? tok_stream_push(t, &s, ids[i], buf, sizeof buf, &got, &e)
					      : tok_stream_next(t, &s, buf, sizeof buf, &got, &e);
			if (rc)
				break;
			if (out_n + got + 1 > cap)
				out = realloc(out, cap = 2 * (out_n + got + 1));
			memcpy(out + out_n, buf, got);
			out_n += got;
			if (got == 0)
				break;
		}
	}
	tok_stream_free(&s);
	out[out_n] = '\0';
	*len = out_n;
	return out;
}

/* Random id sequences: decode (skip_special on odd lines) equals the
 * reference's, and streaming equals batch. */
static void decode_fuzz(struct tokenizer *t, const char *name)
{
	char path[256];
	snprintf(path, sizeof path, GOLD "/%s.decfuzz", name);
	struct lines g;
	if (lines_read(path, &g)) {
		CHECK_MSG(0, "cannot read %s", path);
		return;
	}
	size_t same = 0, ssame = 0;
	for (size_t i = 0; i < g.n; i++) {
		char *f1 = strchr(g.v[i], '\t'), *f2 = f1 ? strchr(f1 + 1, '\t') : NULL;
		if (!f2)
			continue;
		int ids[64];
		size_t n = 0;
		for (char *q = g.v[i]; q < f1 && n < 64;) {
			ids[n++] = (int)strtol(q, &q, 10);
			while (*q == ' ')
				q++;
		}
		bool skip = f1[1] == '1';
		char *dec, *st;
		size_t dl, sl;
		if (tok_decode(t, ids, n, skip, &dec, &dl, NULL))
			continue;
		char *hex = malloc(2 * dl + 1);
		for (size_t k = 0; k < dl; k++)
			sprintf(hex + 2 * k, "%02x", (unsigned char)dec[k]);
		hex[2 * dl] = '\0';
		if (!strcmp(hex, f2 + 1))
			same++;
		else if (same + 3 > i)
			fprintf(stderr, "%s line %zu: want %s got %s\n", name, i + 1,
				f2 + 1, hex);
		st = stream_decode(t, ids, n, skip, &sl);
		ssame += sl == dl && !memcmp(st, dec, dl);
		free(st);
		free(hex);
		free(dec);
	}
	printf("decode    %-14s random ids: %zu / %zu identical, stream == "
	       "batch %zu / %zu\n",
	       name, same, g.n, ssame, g.n);
	CHECK_EQ_INT(same, g.n);
	CHECK_EQ_INT(ssame, g.n);
	lines_free(&g);
}

static void roundtrip_file(struct tokenizer *t, const char *name,
			   const char *input, size_t stream_every)
{
	struct lines in;
	if (lines_read(input, &in))
		return;
	size_t ok = 0, sok = 0, stotal = 0;
	for (size_t i = 0; i < in.n; i++) {
		int *ids;
		size_t n, dl, sl;
		char *dec;
		if (tok_encode(t, in.v[i], in.len[i], false, &ids, &n, NULL))
			continue;
		if (!tok_decode(t, ids, n, false, &dec, &dl, NULL)) {
			ok += dl == in.len[i] && !memcmp(dec, in.v[i], dl);
			if (i % stream_every == 0) {
				char *st = stream_decode(t, ids, n, false, &sl);
				stotal++;
				sok += sl == dl && !memcmp(st, dec, dl);
				free(st);
			}
			free(dec);
		}
		free(ids);
	}
	printf("roundtrip %-14s encode->decode %zu / %zu, stream == batch "
	       "%zu / %zu\n",
	       name, ok, in.n, sok, stotal);
	CHECK_MSG(ok == in.n, "%s: round trip %zu / %zu", name, ok, in.n);
	CHECK_MSG(sok == stotal, "%s: stream %zu / %zu", name, sok, stotal);
	lines_free(&in);
}

static const char *corpus[][2] = {
	{"hau_bible", SHARED_DATA "/corpus/hau_bible.txt"},
	{"swh_nt", SHARED_DATA "/corpus/swh_nt.txt"},
	{"eng_aligned", SHARED_DATA "/corpus/aligned/eng_aligned.txt"},
	{"hau_aligned", SHARED_DATA "/corpus/aligned/hau_aligned.txt"},
	{"swh_aligned", SHARED_DATA "/corpus/aligned/swh_aligned.txt"},
	{"udhr_eng", SHARED_DATA "/corpus/udhr/udhr_eng.txt"},
	{"udhr_hau", SHARED_DATA "/corpus/udhr/udhr_hau.txt"},
	{"udhr_swh", SHARED_DATA "/corpus/udhr/udhr_swh.txt"},
};

static void test_real(void)
{
	if (!path_exists(REAL)) {
		SKIP("%s is absent: InkubaLM goldens not checked", REAL);
		return;
	}
	struct tokenizer *t = NULL;
	struct err e = {0};
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int rc = tok_load(SHARED_DATA "/inkubalm-0.4b", &t, &e);
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK_MSG(rc == 0, "load: %s", e.msg);
	if (rc)
		return;
	printf("load %.1f ms\n", (double)(b.tv_sec - a.tv_sec) * 1e3 +
					  (double)(b.tv_nsec - a.tv_nsec) / 1e6);
	/* DESIGN §1.4 facts */
	CHECK_EQ_INT(tok_vocab_size(t), 61788);
	CHECK_EQ_INT(tok_merge_count(t), 136619);
	CHECK_EQ_INT(tok_bos_id(t), 1);
	CHECK_EQ_INT(tok_eos_id(t), 2);
	CHECK_EQ_INT(tok_unk_id(t), 0);
	CHECK(tok_add_bos(t) && !tok_add_eos(t));
	CHECK_EQ_INT(tok_byte_id(t, 0x00), 3);
	CHECK_EQ_INT(tok_byte_id(t, 0xFF), 258);
	CHECK(tok_is_byte(t, 3) && tok_is_byte(t, 258) && !tok_is_byte(t, 259));
	CHECK(tok_is_special(t, 1) && tok_is_special(t, 2) && !tok_is_special(t, 32000));
	size_t pl;
	const char *p = tok_piece(t, 32000, &pl);
	CHECK(p && pl == 5 && !memcmp(p, "<pad>", 5));
	CHECK_EQ_INT(tok_piece_id(t, "<pad>", 5), 32000);
	int l, r, x;
	CHECK(tok_merge(t, 0, &l, &r, &x) == 0);
	p = tok_piece(t, x, &pl);
	CHECK(p && pl == 5 && !memcmp(p, "\xE2\x96\x81ku", 5));
	CHECK(tok_merge(t, 1, &l, &r, &x) == 0 && tok_piece(t, x, &pl) &&
	      pl == 5); /* "▁ ku" -> ▁ku as well */
	CHECK(tok_merge(t, 136619, &l, &r, &x) == ERR_INVALID);

	for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++)
		golden_file(t, corpus[i][0], corpus[i][1]);
	golden_file(t, "hard_cases", TOKDIR "/hard_cases.txt");

	/* invalid UTF-8: the hex file, decoded here into bytes */
	struct lines hex, gold;
	if (!lines_read(TOKDIR "/invalid_utf8.hex", &hex) &&
	    !lines_read(GOLD "/invalid_utf8.ids", &gold)) {
		size_t same = 0;
		for (size_t i = 0; i < hex.n; i++) {
			char bytes[256];
			size_t bn = hex.len[i] / 2;
			for (size_t k = 0; k < bn && k < sizeof bytes; k++)
				bytes[k] = (char)strtoul((char[]){hex.v[i][2 * k], hex.v[i][2 * k + 1], 0}, NULL, 16);
			int *ids;
			size_t n;
			if (tok_encode(t, bytes, bn, true, &ids, &n, NULL))
				continue;
			char *s = ids_str(ids, n);
			if (i < gold.n && !strcmp(s, gold.v[i]))
				same++;
			else
				fprintf(stderr, "invalid_utf8 line %zu: want %s got %s\n",
					i + 1, i < gold.n ? gold.v[i] : "-", s);
			free(s);
			free(ids);
		}
		printf("agreement %-14s %zu / %zu lines identical\n",
		       "invalid_utf8", same, hex.n);
		CHECK_EQ_INT(same, hex.n);
		lines_free(&hex);
		lines_free(&gold);
	}

	/* decode of the hard cases (with <s>) against the reference */
	struct lines ids_g, dec_g;
	if (!lines_read(GOLD "/hard_cases.ids", &ids_g) &&
	    !lines_read(GOLD "/hard_cases.dec", &dec_g)) {
		size_t same = 0, ssame = 0;
		for (size_t i = 0; i < ids_g.n && i < dec_g.n; i++) {
			int ids[20000];
			size_t n = 0;
			for (char *q = ids_g.v[i]; *q && n < 20000;) {
				ids[n++] = (int)strtol(q, &q, 10);
				while (*q == ' ')
					q++;
			}
			size_t wl, dl, sl;
			char *want = json_unescape(dec_g.v[i], &wl), *dec = NULL;
			if (!tok_decode(t, ids, n, false, &dec, &dl, NULL)) {
				same += dl == wl && !memcmp(dec, want, wl);
				char *st = stream_decode(t, ids, n, false, &sl);
				ssame += sl == dl && !memcmp(st, dec, dl);
				free(st);
			}
			free(dec);
			free(want);
		}
		printf("decode    %-14s %zu / %zu identical, stream %zu / %zu\n",
		       "hard_cases", same, dec_g.n, ssame, dec_g.n);
		CHECK_EQ_INT(same, dec_g.n);
		CHECK_EQ_INT(ssame, dec_g.n);
		lines_free(&ids_g);
		lines_free(&dec_g);
	}

	decode_fuzz(t, "inkubalm");

	/* skip_special drops <s>; specials inside text are matched */
	int *ids;
	size_t n, dl;
	char *dec;
	CHECK(tok_encode(t, "a<s>b", 5, true, &ids, &n, NULL) == 0);
	CHECK(n >= 4 && ids[0] == 1);
	CHECK(tok_decode(t, ids, n, true, &dec, &dl, NULL) == 0);
	CHECK_STR(dec, "a b"); /* each side gets its own "▁" prefix */
	free(dec);
	free(ids);
	CHECK(tok_encode(t, "", 0, true, &ids, &n, NULL) == 0);
	CHECK(n == 1 && ids[0] == 1);
	free(ids);

	/* streaming holds back an incomplete UTF-8 sequence: "é" = C3 A9 as
	 * byte pieces <0xC3> (id 3 + 0xC3), <0xA9> */
	struct tok_stream st;
	char buf[16];
	size_t got;
	tok_stream_init(&st, true);
	CHECK(tok_stream_push(t, &st, 1, buf, sizeof buf, &got, NULL) == 0 &&
	      got == 0);
	CHECK(tok_stream_push(t, &st, 3 + 0xC3, buf, sizeof buf, &got, NULL) == 0 &&
	      got == 0);
	CHECK(tok_stream_push(t, &st, 3 + 0xA9, buf, sizeof buf, &got, NULL) == 0);
	CHECK(got == 2 || got == 0); /* final only once a non-byte id follows */
	size_t first = got;
	int px = tok_piece_id(t, "\xE2\x96\x81x", 4);
	CHECK(px > 0);
	CHECK(tok_stream_push(t, &st, px, buf + first, sizeof buf - first, &got,
			      NULL) == 0);
	got += first;
	CHECK(tok_stream_flush(t, &st, buf + got, sizeof buf - got, &first,
			       NULL) == 0);
	got += first;
	CHECK(got == 4 && !memcmp(buf, "\xC3\xA9 x", 4));
	tok_stream_free(&st);

	for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++)
		roundtrip_file(t, corpus[i][0], corpus[i][1], 7);
	tok_free(t);
}

static void test_small(void)
{
	static const char *names[] = {"small_llama_pairs", "small_nfkc_metaspace",
				      "small_first_ignore", "small_wsplit",
				      "small_split_next", "small_split_contig"};
	struct lines in;
	if (lines_read(TOKDIR "/small_inputs.txt", &in)) {
		CHECK_MSG(0, "cannot read small_inputs.txt");
		return;
	}
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
		char path[256], gpath[256];
		snprintf(path, sizeof path, TOKDIR "/%s.json", names[k]);
		snprintf(gpath, sizeof gpath, GOLD "/%s.ids", names[k]);
		struct tokenizer *t = NULL;
		struct err e = {0};
		struct lines gold;
		if (tok_load(path, &t, &e)) {
			CHECK_MSG(0, "%s: %s", path, e.msg);
			continue;
		}
		if (lines_read(gpath, &gold)) {
			CHECK_MSG(0, "cannot read %s", gpath);
			tok_free(t);
			continue;
		}
		size_t same = 0, dsame = 0;
		for (size_t i = 0; i < in.n && i < gold.n; i++) {
			char *tab = strchr(gold.v[i], '\t');
			if (!tab)
				continue;
			*tab = '\0';
			int *ids;
			size_t n, wl, dl, sl;
			if (tok_encode(t, in.v[i], in.len[i], true, &ids, &n, &e)) {
				CHECK_MSG(0, "%s: %s", names[k], e.msg);
				continue;
			}
			char *s = ids_str(ids, n);
			if (!strcmp(s, gold.v[i]))
				same++;
			else
				fprintf(stderr, "%s line %zu:\n  want %s\n  got  %s\n",
					names[k], i + 1, gold.v[i], s);
			char *want = json_unescape(tab + 1, &wl), *dec = NULL;
			if (!tok_decode(t, ids, n, false, &dec, &dl, &e)) {
				char *st = stream_decode(t, ids, n, false, &sl);
				if (dl == wl && !memcmp(dec, want, wl) && sl == dl &&
				    !memcmp(st, dec, dl))
					dsame++;
				else
					fprintf(stderr, "%s line %zu decode:\n  want \"%s\"\n  got  \"%s\"\n  stream \"%s\"\n",
						names[k], i + 1, want, dec, st);
				free(st);
			}
			free(dec);
			free(want);
			free(s);
			free(ids);
		}
		printf("agreement %-20s %zu / %zu ids, %zu / %zu decode\n",
		       names[k], same, in.n, dsame, in.n);
		if (k == 0)
			decode_fuzz(t, names[k]);
		CHECK_EQ_INT(same, in.n);
		CHECK_EQ_INT(dsame, in.n);
		lines_free(&gold);
		tok_free(t);
	}
	lines_free(&in);
}

/* tokenizer_config.json of a Llama tokenizer rebuilds the template from
 * add_bos_token / add_eos_token (as transformers does). */
static void test_config(void)
{
	char dir[] = "/tmp/punguza-tokcfg-XXXXXX", path[300];
	char *json;
	size_t len;
	if (!mkdtemp(dir) ||
	    file_read_all(TOKDIR "/small_llama_pairs.json", 1 << 20, &json, &len,
			  NULL))
		return;
	snprintf(path, sizeof path, "%s/tokenizer.json", dir);
	CHECK(file_write_atomic(path, json, len, NULL) == 0);
	free(json);
	const char *cfg = "{\"tokenizer_class\": \"LlamaTokenizer\", "
			  "\"add_bos_token\": false, \"add_eos_token\": true, "
			  "\"bos_token\": \"<s>\", \"eos_token\": {\"content\": \"</s>\"}}";
	char cpath[300];
	snprintf(cpath, sizeof cpath, "%s/tokenizer_config.json", dir);
	CHECK(file_write_atomic(cpath, cfg, strlen(cfg), NULL) == 0);
	struct tokenizer *t = NULL;
	struct err e = {0};
	CHECK_MSG(tok_load(dir, &t, &e) == 0, "%s", e.msg);
	if (t) {
		int *ids;
		size_t n;
		CHECK(tok_encode(t, "the", 3, true, &ids, &n, NULL) == 0);
		CHECK(n >= 2 && ids[0] != 1 && ids[n - 1] == 2);
		CHECK(!tok_add_bos(t) && tok_add_eos(t));
		free(ids);
		tok_free(t);
	}
	unlink(cpath);
	unlink(path);
	rmdir(dir);
}

static void expect_err(const char *file, int code, const char *needle)
{
	char path[256];
	snprintf(path, sizeof path, TOKDIR "/%s", file);
	struct tokenizer *t = NULL;
	struct err e = {0};
	CHECK_ERR(tok_load(path, &t, &e), e, code, needle);
	CHECK(t == NULL);
	if (!strstr(e.msg, file))
		CHECK_MSG(0, "message does not name the file: %s", e.msg);
}

static void test_errors(void)
{
	expect_err("bad_normalizer.json", ERR_UNSUPPORTED,
		   "unsupported normalizer 'BertNormalizer'");
	expect_err("bad_regex.json", ERR_UNSUPPORTED, "Regex");
	expect_err("bad_model.json", ERR_UNSUPPORTED, "unsupported model 'WordPiece'");
	expect_err("bad_pretok.json", ERR_UNSUPPORTED,
		   "unsupported pre_tokenizer 'ByteLevel'");
	expect_err("bad_prefix.json", ERR_UNSUPPORTED, "continuing_subword_prefix");
	expect_err("bad_dropout.json", ERR_UNSUPPORTED, "dropout");
	expect_err("bad_merge_missing.json", ERR_FORMAT,
		   "'zz' is not in the vocabulary");
	expect_err("bad_merge_result.json", ERR_FORMAT,
		   "'xy' is not in the vocabulary");
	expect_err("bad_truncated.json", ERR_FORMAT, "unexpected end of file");
	expect_err("bad_malformed.json", ERR_FORMAT, "malformed JSON at byte");

	struct tokenizer *t = NULL;
	struct err e = {0};
	CHECK_ERR(tok_load(TOKDIR "/no_such.json", &t, &e), e, ERR_NOTFOUND,
		  "no_such.json");
	/* a directory with only tokenizer.model: that is loaded (an empty
	 * one is malformed) */
	char dir[] = "/tmp/punguza-tok-XXXXXX";
	if (mkdtemp(dir)) {
		char f[300];
		snprintf(f, sizeof f, "%s/tokenizer.model", dir);
		FILE *fp = fopen(f, "w");
		if (fp)
			fclose(fp);
		CHECK_ERR(tok_load(dir, &t, &e), e, ERR_FORMAT,
			  "tokenizer.model': empty model");
		unlink(f);
		CHECK_ERR(tok_load(dir, &t, &e), e, ERR_NOTFOUND, "no tokenizer.json");
		rmdir(dir);
	}
}

/* Hostile input: every 5th truncation and 300 random byte mutations of a
 * small tokenizer.json load or fail cleanly (ASan/UBSan catch the rest);
 * random bytes encode, and valid UTF-8 round-trips. */
static void test_hostile(void)
{
	char *json;
	size_t len;
	if (file_read_all(TOKDIR "/small_llama_pairs.json", 1 << 20, &json, &len,
			  NULL)) {
		CHECK_MSG(0, "cannot read small_llama_pairs.json");
		return;
	}
	const char *tmp = "/tmp/punguza-tok-hostile.json";
	size_t loaded = 0, failed = 0;
	unsigned seed = 12345;
	for (size_t k = 0; k < len / 5 + 300; k++) {
		char *m = malloc(len);
		memcpy(m, json, len);
		size_t n = len;
		if (k < len / 5) {
			n = k * 5;
		} else {
			for (int j = 0; j < 3; j++) {
				seed = seed * 1103515245u + 12345u;
				size_t at = (seed >> 8) % len;
				seed = seed * 1103515245u + 12345u;
				m[at] = (char)(seed >> 16);
			}
		}
		struct err e = {0};
		struct tokenizer *t = NULL;
		FILE *fp = fopen(tmp, "wb");
		bool wrote = fp && fwrite(m, 1, n, fp) == n;
		if (fp && fclose(fp) != 0)
			wrote = false;
		if (wrote) {
			if (tok_load(tmp, &t, &e) == 0) {
				int *ids;
				size_t ni;
				if (tok_encode(t, "the <mask> kuku", 15, true, &ids, &ni,
					       &e) == 0)
					free(ids);
				loaded++;
				tok_free(t);
			} else {
				failed += e.msg[0] != '\0';
			}
		}
		free(m);
	}
	unlink(tmp);
	printf("hostile: %zu loaded, %zu refused with a message\n", loaded,
	       failed);
	CHECK(loaded + failed == len / 5 + 300);
	free(json);

	struct tokenizer *t = NULL;
	if (tok_load(TOKDIR "/small_llama_pairs.json", &t, NULL))
		return;
	size_t rt = 0;
	for (int k = 0; k < 500; k++) {
		char buf[64];
		size_t n = (size_t)(k % 60);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (char)(k % 2 ? (seed >> 16) : 0x20 + (seed >> 16) % 95);
		}
		int *ids;
		size_t ni, dl;
		char *dec;
		if (tok_encode(t, buf, n, false, &ids, &ni, NULL) == 0) {
			if (tok_decode(t, ids, ni, false, &dec, &dl, NULL) == 0) {
				/* printable ASCII round-trips (leading spaces:
				 * the Strip decoder eats one "▁") */
				if (k % 2 == 0 && (n == 0 || buf[0] != ' '))
					rt += dl == n && !memcmp(dec, buf, n);
				else if (k % 2 == 0)
					rt++;
				free(dec);
			}
			free(ids);
		}
	}
	CHECK_EQ_INT(rt, 250);
	tok_free(t);
}

/* --- SentencePiece through the façade ---------------------------------- */

#define SPMDIR "tests/data/spm"

static int gold_varint(const unsigned char **p, const unsigned char *end,
		       unsigned long long *v)
{
	unsigned long long r = 0;
	for (int i = 0; i < 10 && *p < end; i++) {
		unsigned char c = *(*p)++;
		r |= (unsigned long long)(c & 0x7F) << (7 * i);
		if (!(c & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -1;
}

/* ids (add_special false, then true: BOS first) of each line equal
 * spm_encode's golden (tests/data/spm/golden: per line a varint count then
 * varint ids, written by tests/ref/spm_goldens.py); stream == batch. */
static void spm_golden(struct tokenizer *t, const char *tag,
		       const char *input, const char *gold, size_t limit)
{
	struct lines in;
	char *g;
	size_t glen;
	if (lines_read(input, &in)) {
		SKIP("cannot read '%s'", input);
		return;
	}
	if (file_read_all(gold, 64u << 20, &g, &glen, NULL)) {
		CHECK_MSG(0, "cannot read '%s'", gold);
		lines_free(&in);
		return;
	}
	const unsigned char *p = (const unsigned char *)g, *end = p + glen;
	size_t same = 0, total = 0, stream_same = 0;
	for (size_t i = 0; i < in.n && i < limit; i++, total++) {
		unsigned long long cnt = 0, v;
		int ok = !gold_varint(&p, end, &cnt);
		int *ids = NULL, *ids2 = NULL;
		size_t n = 0, n2 = 0;
		struct err e = {0};
		if (tok_encode(t, in.v[i], in.len[i], false, &ids, &n, &e) ||
		    tok_encode(t, in.v[i], in.len[i], true, &ids2, &n2, &e)) {
			CHECK_MSG(0, "%s line %zu: %s", tag, i + 1, e.msg);
			ok = 0;
		}
		ok = ok && cnt == n && n2 == n + 1 && ids2[0] == tok_bos_id(t) &&
		     (!n || !memcmp(ids, ids2 + 1, n * sizeof *ids));
		for (unsigned long long k = 0; k < cnt; k++) {
			if (gold_varint(&p, end, &v))
				ok = 0;
			else if (ok && (int)v != ids[k])
				ok = 0;
		}
		same += ok;
		if (!ok)
			fprintf(stderr, "%s line %zu differs\n", tag, i + 1);
		/* streaming decode of ids2 equals tok_decode */
		char *d = NULL, buf[7];
		size_t dl = 0;
		if (!tok_decode(t, ids2, n2, true, &d, &dl, &e)) {
			struct tok_stream st;
			tok_stream_init(&st, true);
			char *acc = malloc(dl + 64);
			size_t al = 0, ol;
			int bad = 0;
			for (size_t k = 0; k < n2 && !bad; k++) {
				bad |= tok_stream_push(t, &st, ids2[k], buf,
						       sizeof buf, &ol, &e) != 0;
				for (;;) {
					if (al + ol > dl + 32)
						bad = 1;
					else
						memcpy(acc + al, buf, ol);
					al += ol;
					if (!ol || bad ||
					    tok_stream_next(t, &st, buf,
							    sizeof buf, &ol, &e))
						break;
				}
			}
			do {
				bad |= tok_stream_flush(t, &st, buf, sizeof buf,
							&ol, &e) != 0;
				if (al + ol > dl + 32)
					bad = 1;
				else
					memcpy(acc + al, buf, ol);
				al += ol;
			} while (ol && !bad);
			stream_same += !bad && al == dl && !memcmp(acc, d, dl);
			tok_stream_free(&st);
			free(acc);
		}
		free(d);
		free(ids);
		free(ids2);
	}
	CHECK_MSG(same == total, "%s: %zu / %zu lines identical", tag, same,
		  total);
	CHECK_MSG(stream_same == total, "%s: stream == batch %zu / %zu", tag,
		  stream_same, total);
	printf("spm facade %-22s %zu / %zu lines identical, stream == batch "
	       "%zu / %zu\n", tag, same, total, stream_same, total);
	free(g);
	lines_free(&in);
}

static void test_spm_facade(void)
{
	struct tokenizer *t = NULL;
	struct err e = {0};
	int rc = tok_load(SPMDIR "/bpe.model", &t, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	if (rc)
		return;
	CHECK_EQ_INT(tok_kind(t), TOK_SPM);
	CHECK_EQ_INT(tok_vocab_size(t), 1000);
	CHECK_EQ_INT(tok_unk_id(t), 0);
	CHECK_EQ_INT(tok_bos_id(t), 1);
	CHECK_EQ_INT(tok_eos_id(t), 2);
	CHECK(tok_add_bos(t) && !tok_add_eos(t));
	CHECK(tok_is_special(t, 1) && !tok_is_special(t, 300));
	CHECK(tok_is_byte(t, 3) && tok_is_byte(t, 258) && !tok_is_byte(t, 2));
	CHECK_EQ_INT(tok_byte_id(t, 0), 3);
	CHECK_EQ_INT(tok_byte_id(t, 0xFF), 258);
	size_t pl;
	CHECK_STR(tok_piece(t, 3, &pl), "<0x00>");
	CHECK_EQ_INT(tok_piece_id(t, "</s>", 4), 2);
	CHECK_STR(tok_note(t), "");
	/* derived merges: each joins two pieces into their concatenation,
	 * and every way of splitting "▁the" into two pieces is listed */
	size_t nm = tok_merge_count(t), bad = 0, the_splits = 0;
	int the = tok_piece_id(t, "\xe2\x96\x81the", 6);
	CHECK(nm > 0 && the > 0);
	for (size_t r = 0; r < nm; r++) {
		int a, b, c;
		size_t la, lb, lc;
		tok_merge(t, r, &a, &b, &c);
		const char *pa = tok_piece(t, a, &la), *pb = tok_piece(t, b, &lb);
		const char *pc = tok_piece(t, c, &lc);
		if (!pa || !pb || !pc || la + lb != lc || memcmp(pa, pc, la) ||
		    memcmp(pb, pc + la, lb))
			bad++;
		the_splits += c == the;
	}
	CHECK_EQ_INT(bad, 0);
	/* "▁the" = "▁" + "the" | "▁t" + "he" | "▁th" + "e", when each part
	 * is a piece: count the ones present by hand */
	size_t expect = 0;
	const char *parts[][2] = {{"\xe2\x96\x81", "the"},
				  {"\xe2\x96\x81t", "he"},
				  {"\xe2\x96\x81th", "e"}};
	for (int k = 0; k < 3; k++)
		expect += tok_piece_id(t, parts[k][0], strlen(parts[k][0])) >= 0 &&
			  tok_piece_id(t, parts[k][1], strlen(parts[k][1])) >= 0;
	CHECK(expect > 0);
	CHECK_EQ_INT(the_splits, expect);
	spm_golden(t, "bpe hard_cases", SPMDIR "/hard_cases.txt",
		   SPMDIR "/golden/bpe.hard_cases.ids", SIZE_MAX);
	spm_golden(t, "bpe swh_aligned",
		   SHARED_DATA "/corpus/aligned/swh_aligned.txt",
		   SPMDIR "/golden/bpe.swh_aligned.ids", 200);
	/* decode equals SentencePiece's (golden .decoded) */
	struct lines in, dec;
	if (!lines_read(SPMDIR "/hard_cases.txt", &in)) {
		if (!lines_read(SPMDIR "/golden/bpe.hard_cases.decoded", &dec)) {
			size_t same = 0;
			for (size_t i = 0; i < in.n && i < dec.n; i++) {
				int *ids;
				size_t n, dl;
				char *d;
				if (tok_encode(t, in.v[i], in.len[i], true, &ids,
					       &n, &e))
					continue;
				if (!tok_decode(t, ids, n, false, &d, &dl, &e)) {
					same += dl == dec.len[i] &&
						!memcmp(d, dec.v[i], dl);
					free(d);
				}
				free(ids);
			}
			CHECK_EQ_INT(same, in.n);
			lines_free(&dec);
		}
		lines_free(&in);
	}
	tok_free(t);

	/* tokenizer_config.json beside a tokenizer.model */
	char dir[] = "/tmp/punguza-spmtok-XXXXXX";
	if (mkdtemp(dir)) {
		char f[300], c[300];
		char *data;
		size_t len;
		snprintf(f, sizeof f, "%s/tokenizer.model", dir);
		snprintf(c, sizeof c, "%s/tokenizer_config.json", dir);
		if (!file_read_all(SPMDIR "/bpe.model", 1 << 24, &data, &len,
				   NULL)) {
			file_write_atomic(f, data, len, NULL);
			free(data);
		}
		const char *cfg = "{\"add_bos_token\": false, "
				  "\"add_eos_token\": true}";
		file_write_atomic(c, cfg, strlen(cfg), NULL);
		rc = tok_load(dir, &t, &e);
		CHECK_MSG(rc == 0, "%s", e.msg);
		if (!rc) {
			int *ids;
			size_t n;
			CHECK(!tok_add_bos(t) && tok_add_eos(t));
			if (!tok_encode(t, "hello", 5, true, &ids, &n, &e)) {
				CHECK(n >= 2 && ids[n - 1] == 2 && ids[0] != 1);
				free(ids);
			}
			tok_free(t);
		}
		unlink(f);
		unlink(c);
		rmdir(dir);
	}

	/* the published 8,064-piece directory: its tokenizer.json names
	 * merges out of its vocabulary, so tokenizer.model is used */
	const char *d8 = SHARED_DATA "/inkubalm-8064";
	if (!path_exists(d8)) {
		SKIP("%s is absent: directory fallback not checked", d8);
		return;
	}
	rc = tok_load(d8, &t, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	if (rc)
		return;
	CHECK_EQ_INT(tok_kind(t), TOK_SPM);
	CHECK_EQ_INT(tok_vocab_size(t), 8064);
	CHECK_MSG(strstr(tok_note(t), "tokenizer.model used") &&
			  strstr(tok_note(t), "not in the vocabulary"),
		  "note: %s", tok_note(t));
	printf("inkubalm-8064 note: %s\n", tok_note(t));
	CHECK(tok_add_bos(t) && !tok_add_eos(t));
	spm_golden(t, "inkuba8064 hard_cases", SPMDIR "/hard_cases.txt",
		   SPMDIR "/golden/inkuba8064.hard_cases.ids", SIZE_MAX);
	spm_golden(t, "inkuba8064 udhr_swh",
		   SHARED_DATA "/corpus/udhr/udhr_swh.txt",
		   SPMDIR "/golden/inkuba8064.udhr_swh.ids", SIZE_MAX);
	spm_golden(t, "inkuba8064 hau_aligned",
		   SHARED_DATA "/corpus/aligned/hau_aligned.txt",
		   SPMDIR "/golden/inkuba8064.hau_aligned.ids", 300);
	tok_free(t);
}

/* --- long lines ---------------------------------------------------------- */

/* The first max bytes of path's lines joined by spaces: one long line. */
static char *long_line(const char *path, size_t max, size_t *len)
{
	char *s = NULL, *out;
	size_t n;
	if (file_read_all(path, 64u << 20, &s, &n, NULL) || !n)
		return NULL;
	out = malloc(max + 1);
	if (!out) {
		free(s);
		return NULL;
	}
	size_t k = 0;
	while (k < max) {
		size_t c = n < max - k ? n : max - k;
		memcpy(out + k, s, c);
		k += c;
	}
	for (size_t i = 0; i < k; i++)
		if (out[i] == '\n' || out[i] == '\r')
			out[i] = ' ';
	while (k > 0 && ((unsigned char)out[k - 1] & 0xC0) == 0x80)
		k--; /* no cut character at the end */
	if (k > 0 && (unsigned char)out[k - 1] >= 0xC0)
		k--;
	out[k] = '\0';
	*len = k;
	free(s);
	return out;
}

static bool same_ids(const struct tokenizer *a, const struct tokenizer *b,
		     const char *s, size_t n)
{
	int *x = NULL, *y = NULL;
	size_t nx = 0, ny = 0;
	bool ok = !tok_encode(a, s, n, true, &x, &nx, NULL) &&
		  !tok_encode(b, s, n, true, &y, &ny, NULL) && nx == ny &&
		  !memcmp(x, y, nx * sizeof *x);
	free(x);
	free(y);
	return ok;
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* (Under ASan memory is the sanitizer's: the bound is not checked.) */
#ifndef UNDER_ASAN
/* Peak memory of encoding s in a child process: the growth of its
 * maximum RSS, in bytes (-1 on failure). */
static long encode_peak(const struct tokenizer *t, const char *s, size_t n)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		struct rusage r0, r1;
		int *ids = NULL;
		size_t k = 0;
#ifdef __GLIBC__
		malloc_trim(0); /* the parent's freed heap is not reused */
#endif
		/* forget the parent's peak (Linux: reset VmHWM) */
		FILE *f = fopen("/proc/self/clear_refs", "w");
		if (f) {
			fputs("5", f);
			fclose(f);
		}
		getrusage(RUSAGE_SELF, &r0);
		int rc = tok_encode(t, s, n, true, &ids, &k, NULL);
		getrusage(RUSAGE_SELF, &r1);
		free(ids);
		long mb = (r1.ru_maxrss - r0.ru_maxrss) / 1024; /* KB -> MB */
		_exit(rc ? 255 : mb > 250 ? 250 : (int)mb);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) == 255)
		return -1;
	return (long)WEXITSTATUS(st) << 20;
}
#endif

/* A long line is encoded in pieces cut where no merge joins across (the
 * same ids as whole), and in bounded memory (tok_set_chunking). */
static void long_lines_one(const char *tok_path, const char *text)
{
	struct tokenizer *t = NULL, *whole = NULL, *fine = NULL;
	struct err e = {0};
	if (tok_load(tok_path, &t, &e) || tok_load(tok_path, &whole, &e) ||
	    tok_load(tok_path, &fine, &e)) {
		CHECK_MSG(0, "%s: %s", tok_path, e.msg);
		goto out;
	}
	tok_set_chunking(whole, SIZE_MAX, SIZE_MAX); /* never cut */
	tok_set_chunking(fine, 1, SIZE_MAX);	     /* at every safe place */
	/* every corpus line, cut at every safe place: the same ids */
	char *s = NULL;
	size_t n, lines = 0, same = 0;
	if (!file_read_all(text, 64u << 20, &s, &n, NULL)) {
		for (char *p = s, *nl; p < s + n; p = nl + 1) {
			nl = memchr(p, '\n', (size_t)(s + n - p));
			if (!nl)
				nl = s + n;
			lines++;
			same += same_ids(whole, fine, p, (size_t)(nl - p));
		}
	}
	free(s);
	CHECK(lines > 50);
	CHECK_MSG(same == lines, "%s on %s: %zu / %zu lines the same cut", tok_path,
		  text, same, lines);
	/* a 2 MB line: the same ids as whole, and bounded memory */
	size_t len;
	char *line = long_line(text, (size_t)2 << 20, &len);
	CHECK(line != NULL);
	if (line) {
		CHECK_MSG(same_ids(whole, t, line, len),
			  "%s: a 2 MB line encodes differently in pieces",
			  tok_path);
#ifndef UNDER_ASAN
		long peak = encode_peak(t, line, len);
		printf("%s: a %zu-byte line takes %.1f MB to encode "
		       "(%.1f bytes per byte)\n",
		       tok_path, len, peak / 1048576.0, (double)peak / len);
		CHECK_MSG(peak >= 0 && peak < 12 * (long)len + (16L << 20),
			  "%s: encoding a %zu-byte line grew the RSS by %ld "
			  "bytes",
			  tok_path, len, peak);
#endif
		free(line);
	}
	/* 2 MB with no safe place at all: cut every max_run bytes, still
	 * bounded, and every character accounted for */
	line = malloc((size_t)2 << 20);
	if (line) {
		memset(line, 'a', (size_t)2 << 20);
#ifndef UNDER_ASAN
		long peak = encode_peak(t, line, (size_t)2 << 20);
		printf("%s: 2 MB of 'a' takes %.1f MB to encode\n", tok_path,
		       peak / 1048576.0);
		CHECK_MSG(peak >= 0 && peak < 12 * (2L << 20) + (48L << 20),
			  "%s: encoding 2 MB of 'a' grew the RSS by %ld bytes",
			  tok_path, peak);
#endif
		int *ids = NULL;
		size_t k = 0;
		char *back = NULL;
		size_t bl = 0;
		CHECK(tok_encode(t, line, (size_t)2 << 20, false, &ids, &k,
				 &e) == 0);
		CHECK(tok_decode(t, ids, k, true, &back, &bl, &e) == 0);
		CHECK_EQ_INT(bl, (size_t)2 << 20);
		free(back);
		free(ids);
		free(line);
	}
out:
	tok_free(t);
	tok_free(whole);
	tok_free(fine);
}

static void test_long_lines(void)
{
	long_lines_one("assets/tiny-inkuba/tokenizer.json",
		       "assets/corpus/udhr_swh.txt");
	long_lines_one("assets/tiny-inkuba/tokenizer.model",
		       "assets/corpus/udhr_hau.txt");
	if (path_exists(REAL))
		long_lines_one(REAL, SHARED_DATA "/corpus/swh_nt.txt");
	else
		SKIP(REAL " is absent: InkubaLM's tokenizer.json is not "
			  "checked on long lines");
}

int main(void)
{
	test_long_lines();
	test_hostile();
	test_config();
	test_errors();
	test_small();
	test_real();
	test_spm_facade();
	return TEST_SUMMARY();
}
