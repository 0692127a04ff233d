/*
 * test_bpe — the merge loop of tokenizer/bpe.c on tiny hand-made models,
 * against hand-computed results of the reference's semantics
 * (tokenizers/src/models/bpe/{model,word}.rs):
 *   merges by rank, not by position; ties by leftmost position; a pair
 *   listed twice keeps its last rank; unk fusing; byte fallback (and the
 *   reference's order when an unk is pending across byte-fallback bytes);
 *   ignore_merges; a 100,000-character word in O(n log n); vocabulary and
 *   merge-list errors.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpe.h"
#include "test.h"

static void piece(struct bpe *b, int id, const char *s)
{
	struct err e = {0};
	CHECK_MSG(bpe_set_piece(b, id, s, strlen(s), 0, &e) == 0, "%s", e.msg);
}

static void merge(struct bpe *b, const char *l, const char *r)
{
	struct err e = {0};
	CHECK_MSG(bpe_add_merge_str(b, l, strlen(l), r, strlen(r), &e) == 0,
		  "%s", e.msg);
}

/* Encodes s and compares with the expected ids (terminated by -1). */
static void expect(const struct bpe *b, const char *s, const int *want)
{
	struct bpe_ids out = {0};
	struct err e = {0};
	CHECK_MSG(bpe_encode_word(b, s, strlen(s), &out, &e) == 0, "%s", e.msg);
	size_t n = 0;
	while (want[n] >= 0)
		n++;
	bool same = out.n == n;
	for (size_t i = 0; same && i < n; i++)
		same = out.v[i] == want[i];
	CHECK_MSG(same, "'%s': got %zu ids, first %d", s, out.n,
		  out.n ? out.v[0] : -1);
	free(out.v);
}

static void test_ranks(void)
{
	struct bpe b;
	bpe_init(&b);
	piece(&b, 0, "a");
	piece(&b, 1, "b");
	piece(&b, 2, "c");
	piece(&b, 3, "ab");
	piece(&b, 4, "bc");
	piece(&b, 5, "abc");
	piece(&b, 6, "aa");
	merge(&b, "b", "c");  /* rank 0 */
	merge(&b, "a", "b");  /* rank 1 */
	merge(&b, "a", "bc"); /* rank 2 */
	merge(&b, "a", "a");  /* rank 3 */
	struct err e = {0};
	CHECK(bpe_finish(&b, &e) == 0);
	/* (b,c) outranks (a,b) although (a,b) is to the left */
	expect(&b, "abc", (int[]){5, -1});
	expect(&b, "ab", (int[]){3, -1});
	/* equal ranks: leftmost first */
	expect(&b, "aaa", (int[]){6, 0, -1});
	expect(&b, "aaaaa", (int[]){6, 6, 0, -1});
	expect(&b, "cab", (int[]){2, 3, -1});
	expect(&b, "", (int[]){-1});
	CHECK_EQ_INT(bpe_piece_id(&b, "abc", 3), 5);
	CHECK_EQ_INT(bpe_piece_id(&b, "abcd", 4), -1);
	bpe_free(&b);

	/* a pair listed twice keeps its last rank: (a,b) now ranks below
	 * (b,c), so "abc" -> a + bc */
	bpe_init(&b);
	piece(&b, 0, "a");
	piece(&b, 1, "b");
	piece(&b, 2, "c");
	piece(&b, 3, "ab");
	piece(&b, 4, "bc");
	merge(&b, "a", "b");
	merge(&b, "b", "c");
	merge(&b, "a", "b");
	CHECK(bpe_finish(&b, &e) == 0);
	CHECK_EQ_INT(b.n_merges, 3);
	expect(&b, "abc", (int[]){0, 4, -1});
	bpe_free(&b);
}

static void test_unk_bytes(void)
{
	struct bpe b;
	struct err e = {0};
	bpe_init(&b);
	piece(&b, 0, "<unk>");
	piece(&b, 1, "a");
	piece(&b, 2, "<0x78>"); /* 'x' */
	piece(&b, 3, "<0xC3>");
	CHECK(bpe_finish(&b, &e) == 0);
	b.unk_id = 0;
	/* no fallback, not fused: one unk per unknown character */
	expect(&b, "xya", (int[]){0, 0, 1, -1});
	b.fuse_unk = true;
	expect(&b, "xya", (int[]){0, 1, -1});
	expect(&b, "a\xC3\xA9\xC3\xA9", (int[]){1, 0, -1}); /* "aéé" */
	/* byte fallback: 'x' has its byte piece, 'y' does not -> unk;
	 * "é" = C3 A9 lacks <0xA9> -> unk */
	b.byte_fallback = true;
	expect(&b, "xa", (int[]){2, 1, -1});
	expect(&b, "yxa", (int[]){2, 0, 1, -1}); /* the pending unk comes
						      after the bytes, as in
						      the reference */
	expect(&b, "\xC3\xA9", (int[]){0, -1});
	/* without an unk piece, unknown characters vanish */
	b.unk_id = -1;
	expect(&b, "yay", (int[]){1, -1});
	bpe_free(&b);
}

static void test_ignore_merges(void)
{
	struct bpe b;
	struct err e = {0};
	bpe_init(&b);
	piece(&b, 0, "a");
	piece(&b, 1, "b");
	piece(&b, 2, "c");
	piece(&b, 3, "abc");
	piece(&b, 4, "ab");
	merge(&b, "a", "b");
	CHECK(bpe_finish(&b, &e) == 0);
	expect(&b, "abc", (int[]){4, 2, -1});
	b.ignore_merges = true;
	expect(&b, "abc", (int[]){3, -1}); /* a piece as a whole: no merges */
	expect(&b, "abca", (int[]){4, 2, 0, -1});
	bpe_free(&b);
}

static void test_long_word(void)
{
	struct bpe b;
	struct err e = {0};
	bpe_init(&b);
	char *s = malloc(100001);
	memset(s, 'a', 100000);
	s[100000] = '\0';
	for (int k = 0; k <= 16; k++)
		piece(&b, k, s + 100000 - (1 << k));
	for (int k = 0; k < 16; k++) {
		const char *h = s + 100000 - (1 << k);
		merge(&b, h, h);
	}
	CHECK(bpe_finish(&b, &e) == 0);
	clock_t c0 = clock();
	/* 100000 = 65536 + 32768 + 1024 + 512 + 128 + 32, pairs joined
	 * leftmost first at every rank */
	expect(&b, s, (int[]){16, 15, 10, 9, 7, 5, -1});
	double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
	CHECK_MSG(secs < 2.0, "100k-character word took %.2f s", secs);
	free(s);
	bpe_free(&b);
}

static void test_errors(void)
{
	struct bpe b;
	struct err e = {0};
	bpe_init(&b);
	piece(&b, 0, "a");
	piece(&b, 1, "b");
	CHECK_ERR(bpe_add_merge_str(&b, "a", 1, "z", 1, &e), e, ERR_FORMAT,
		  "'z' is not in the vocabulary");
	CHECK_ERR(bpe_add_merge_str(&b, "a", 1, "b", 1, &e), e, ERR_FORMAT,
		  "'ab' is not in the vocabulary");
	CHECK_ERR(bpe_set_piece(&b, 5, "a", 1, 0, &e), e, ERR_FORMAT,
		  "piece 'a' has two ids");
	CHECK_ERR(bpe_set_piece(&b, 1, "c", 1, 0, &e), e, ERR_FORMAT,
		  "id 1 is given to two pieces");
	CHECK_ERR(bpe_set_piece(&b, -1, "c", 1, 0, &e), e, ERR_INVALID,
		  "out of range");
	CHECK_ERR(bpe_set_piece(&b, BPE_MAX_VOCAB, "c", 1, 0, &e), e,
		  ERR_INVALID, "out of range");
	/* holes are allowed; a hole has no piece */
	piece(&b, 9, "c");
	CHECK_EQ_INT(b.n_vocab, 10);
	CHECK(!(b.flags[5] & BPE_PIECE_PRESENT));
	bpe_free(&b);
	bpe_free(NULL);
}

int main(void)
{
	test_ranks();
	test_unk_bytes();
	test_ignore_merges();
	test_long_word();
	test_errors();
	return TEST_SUMMARY();
}
