/* Tests for core/score: chrF and macro-F1 worked by hand, answer parsing,
 * both LB definitions on a small table, malformed inputs, and the whole
 * 900-row test set against an independent Python recomputation
 * (tests/ref/score_ref.py -> tests/data/score/expected.json). */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "fileio.h"
#include "score.h"
#include "test.h"

#define COMP SHARED_DATA "/competition"

static double chrf(const char *h, const char *r)
{
	double v = -1;
	struct err e = {0};
	if (score_chrf(h, r, &v, &e))
		fprintf(stderr, "chrf: %s\n", e.msg);
	return v;
}

static void test_chrf(void)
{
	/* "ab"/"ab": n=1 2/2, n=2 1/1, n=3..6 no n-grams: P_n = R_n = 0 but
	 * they still count (DESIGN §1.3). P = R = 2/6 = 1/3;
	 * F = 5PR/(4P+R) = P when P = R -> 1/3 (not 1). */
	CHECK_NEAR(chrf("ab", "ab"), 1.0 / 3, 1e-15);
	/* a string of 6 or more identical characters matches every order */
	CHECK_NEAR(chrf("abcdef", "abcdef"), 1.0, 1e-15);
	CHECK_NEAR(chrf("habari ya asubuhi", "habari ya asubuhi"), 1.0, 1e-15);
	/* "abc"/"abd": n=1 {a,b,c} vs {a,b,d}: 2 matches, P1 = R1 = 2/3;
	 * n=2 {ab,bc} vs {ab,bd}: 1, P2 = R2 = 1/2; n=3 abc vs abd: 0.
	 * P = R = (2/3 + 1/2)/6 = 7/36 -> F = 7/36 = 0.19444... */
	CHECK_NEAR(chrf("abc", "abd"), 7.0 / 36, 1e-15);
	/* "aa"/"a": n=1 hyp a:2, ref a:1, clipped 1: P1 = 1/2, R1 = 1;
	 * n=2 hyp {aa}, ref none: 0. P = 1/12, R = 1/6;
	 * F = 5(1/12)(1/6) / (4/12 + 1/6) = (5/72)/(1/2) = 5/36 */
	CHECK_NEAR(chrf("aa", "a"), 5.0 / 36, 1e-15);
	/* clipping: "aaaa"/"aa": n=1 min(4,2) = 2: P1 = 2/4, R1 = 1;
	 * n=2 min(3,1) = 1: P2 = 1/3, R2 = 1; n=3,4: 0 matches.
	 * P = (1/2 + 1/3)/6 = 5/36, R = 2/6 = 1/3;
	 * F = 5(5/36)(1/3) / (20/36 + 12/36) = (25/108)(36/32) = 25/96 */
	CHECK_NEAR(chrf("aaaa", "aa"), 25.0 / 96, 1e-15);
	/* only U+0020 is removed: "a b" = "ab" ... */
	CHECK_NEAR(chrf("a b", "ab"), 1.0 / 3, 1e-15);
	CHECK_NEAR(chrf("  ab", "a  b "), 1.0 / 3, 1e-15);
	/* ... a tab stays: "a\tb"/"ab": n=1 2 of 3 hyp, P1 = 2/3, R1 = 1;
	 * n=2 {a\t, \tb} vs {ab}: 0. P = 1/9, R = 1/6;
	 * F = 5(1/9)(1/6) / (4/9 + 1/6) = (5/54)/(11/18) = 5/33 */
	CHECK_NEAR(chrf("a\tb", "ab"), 5.0 / 33, 1e-15);
	/* code points, not bytes: "ɗa" is 2 characters (3 bytes), so it
	 * scores like "ab" (1/3; by bytes it would be 1/2) */
	CHECK_NEAR(chrf("ɗa", "ɗa"), 1.0 / 3, 1e-15);
	CHECK_NEAR(chrf("ɗab", "ɗac"), 7.0 / 36, 1e-15);
	CHECK_NEAR(chrf("ƙ🙏", "ƙ🙏"), 1.0 / 3, 1e-15);
	/* empty or space-only sides: P + R = 0 -> 0 */
	CHECK_NEAR(chrf("", "abc"), 0, 0);
	CHECK_NEAR(chrf("abc", ""), 0, 0);
	CHECK_NEAR(chrf("", ""), 0, 0);
	CHECK_NEAR(chrf("   ", "   "), 0, 0);
	CHECK_NEAR(chrf("xyz", "abc"), 0, 0);
	/* invalid UTF-8 bytes are one replacement character each */
	CHECK_NEAR(chrf("\xff"
			"a",
			"\xef\xbf\xbd"
			"a"),
		   1.0 / 3, 1e-15);
}

static void test_f1(void)
{
	/* [true][pred], column 3 = wrong answers:
	 *   true 0: pred 0 x2, pred 1 x1;  true 1: pred 1 x1, wrong x1;
	 *   true 2: pred 0 x1
	 * class 0: tp 2, fp 1, fn 1 -> p = r = 2/3 -> F1 2/3
	 * class 1: tp 1, fp 1, fn 1 (the wrong answer) -> F1 1/2
	 * class 2: tp 0, fp 0 (p's denominator 0 -> 0), fn 1 -> F1 0
	 * macro = (2/3 + 1/2 + 0)/3 = 7/18 */
	int m[3][4] = {{2, 1, 0, 0}, {0, 1, 0, 1}, {1, 0, 0, 0}};
	double pc[3];
	CHECK_NEAR(score_macro_f1((const int(*)[4])m, pc), 7.0 / 18, 1e-15);
	CHECK_NEAR(pc[0], 2.0 / 3, 1e-15);
	CHECK_NEAR(pc[1], 0.5, 1e-15);
	CHECK_NEAR(pc[2], 0, 0);
	/* a class absent everywhere counts 0: perfect on 0 and 1 -> 2/3 */
	int a[3][4] = {{2, 0, 0, 0}, {0, 2, 0, 0}, {0, 0, 0, 0}};
	CHECK_NEAR(score_macro_f1((const int(*)[4])a, NULL), 2.0 / 3, 1e-15);
	/* everything wrong -> 0 */
	int w[3][4] = {{0, 0, 0, 3}, {0, 0, 0, 1}, {0, 0, 0, 0}};
	CHECK_NEAR(score_macro_f1((const int(*)[4])w, NULL), 0, 0);
}

static void test_parse(void)
{
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, "0"), 0);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, " 2\r\n"), 2);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, "1.0"), 1);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, "Chanya"), 0);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, "wastani"), 1);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, "HASI"), 2);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, "Kyakkyawa"), 0);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, "tsaka-tsaki"), 1);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, "\tKorau "), 2);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, "Positive"), 0);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, "neutral"), 1);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, "NEGATIVE"), 2);
	CHECK_EQ_INT(score_parse_class(SCORE_XNLI, "entailment"), 0);
	CHECK_EQ_INT(score_parse_class(SCORE_XNLI, "Neutral"), 1);
	CHECK_EQ_INT(score_parse_class(SCORE_XNLI, "contradiction"), 2);
	CHECK_EQ_INT(score_parse_class(SCORE_XNLI, "True"), 0);
	CHECK_EQ_INT(score_parse_class(SCORE_XNLI, "neither"), 1);
	CHECK_EQ_INT(score_parse_class(SCORE_XNLI, "FALSE"), 2);
	CHECK_EQ_INT(score_parse_class(SCORE_XNLI, "2"), 2);
	/* wrong answers */
	CHECK_EQ_INT(score_parse_class(SCORE_XNLI, "Chanya"), -1);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, "True"), -1);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, "3"), -1);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, "-1"), -1);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, "1, 2"), -1);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, "01"), -1);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, ""), -1);
	CHECK_EQ_INT(score_parse_class(SCORE_SENTIMENT, "Chanya sana"), -1);
	CHECK_EQ_INT(score_parse_class(SCORE_MT, "0"), -1);

	enum score_task t;
	enum score_lang l;
	CHECK(score_id_task("ID_f3c74c7b_sentiment_test__hausa", &t, &l) == 0 &&
	      t == SCORE_SENTIMENT && l == SCORE_HAU);
	CHECK(score_id_task("ID_cbec84fe_sentiment_test__swahili", &t, &l) ==
		  0 &&
	      t == SCORE_SENTIMENT && l == SCORE_SWA);
	CHECK(score_id_task("ID_f373d29e_test__afrixnli_hau", &t, &l) == 0 &&
	      t == SCORE_XNLI && l == SCORE_HAU);
	CHECK(score_id_task("ID_d3568f00_test__afrixnli_swa", &t, &l) == 0 &&
	      t == SCORE_XNLI && l == SCORE_SWA);
	CHECK(score_id_task("ID_290c7da3_test__mt_eng-hau", &t, &l) == 0 &&
	      t == SCORE_MT && l == SCORE_HAU);
	CHECK(score_id_task("ID_929c7333_test__mt_eng-swa", &t, &l) == 0 &&
	      t == SCORE_MT && l == SCORE_SWA);
	CHECK(score_id_task("ID_6aba33a1_sentiment_ dev_hausa", &t, &l) == 0 &&
	      t == SCORE_SENTIMENT && l == SCORE_HAU);
	CHECK(score_id_task("ID_4185b417_dev_mt_eng-swa", &t, &l) == 0 &&
	      t == SCORE_MT && l == SCORE_SWA);
	CHECK(score_id_task("ID_x_test__mt_eng-yor", &t, &l) < 0);
	CHECK(score_id_task("ID_x_summary_hau", &t, &l) < 0);
}

static int table(const char *text, const char *name, struct csv_table *t)
{
	struct err e = {0};
	int rc = csv_parse(text, strlen(text), name, t, &e);
	if (rc)
		fprintf(stderr, "%s\n", e.msg);
	return rc;
}

static int refs_of(const char *text, enum score_split split,
		   struct score_refs *r, struct err *e)
{
	struct csv_table t;
	memset(r, 0, sizeof *r);
	if (table(text, "ref.csv", &t))
		return -99;
	int rc = score_refs_add(r, &t, "ref.csv", split, e);
	csv_free(&t);
	if (rc) /* r keeps its earlier rows (none here): still to be freed */
		score_refs_free(r);
	return rc;
}

static int score_text(const struct score_refs *r, const char *text,
		      struct score_result *res, struct err *e)
{
	struct csv_table t;
	if (table(text, "sub.csv", &t))
		return -99;
	int rc = score_submission(r, &t, "sub.csv", res, e);
	csv_free(&t);
	return rc;
}

static const char small_ref[] = "ID,task,lang,split,instruction,input,target\n"
				"S1,sentiment,hau,public,i,x,Korau\n"
				"S2,sentiment,swa,private,i,x,Chanya\n"
				"X1,xnli,hau,public,i,x,1\n"
				"M1,mt,hau,public,i,x,ab\n"
				"M2,mt,swa,private,i,\"x,y\",abd\n";

static void test_small(void)
{
	struct score_refs r;
	struct score_result s;
	struct err e = {0};
	CHECK_EQ_INT(refs_of(small_ref, SCORE_ALL, &r, &e), 0);
	CHECK(r.has_split);
	/* S1 right (word), S2 wrong class, X1 right, M1 "ab"/"ab" = 1/3,
	 * M2 "abc"/"abd" = 7/36 (see test_chrf) */
	CHECK_EQ_INT(score_text(&r,
				"ID,Response\r\nM2,abc\r\nS1, korau\r\n"
				"S2,1\r\nX1,Neither\r\nM1,ab\r\n",
				&s, &e),
		     0);
	const struct score_part *a = &s.part[SCORE_ALL];
	/* sentiment pooled: true 2 -> 2, true 0 -> 1.
	 * class 0: fn 1 -> 0; class 1: fp 1 -> 0; class 2: 1 -> 1/3 */
	CHECK_NEAR(a->f1[SCORE_SENTIMENT][SCORE_POOLED], 1.0 / 3, 1e-15);
	CHECK_NEAR(a->f1[SCORE_SENTIMENT][SCORE_HAU], 1.0 / 3, 1e-15);
	CHECK_NEAR(a->f1[SCORE_SENTIMENT][SCORE_SWA], 0, 0);
	CHECK_NEAR(a->f1[SCORE_XNLI][SCORE_POOLED], 1.0 / 3, 1e-15);
	CHECK_EQ_INT(a->confusion[SCORE_SENTIMENT][SCORE_POOLED][0][1], 1);
	CHECK_EQ_INT(a->confusion[SCORE_SENTIMENT][SCORE_POOLED][2][2], 1);
	/* MT mean = (1/3 + 7/36)/2 = 19/72 */
	CHECK_NEAR(a->chrf[SCORE_POOLED], 19.0 / 72, 1e-15);
	CHECK_NEAR(a->chrf[SCORE_HAU], 1.0 / 3, 1e-15);
	CHECK_NEAR(a->chrf[SCORE_SWA], 7.0 / 36, 1e-15);
	/* (a) = (1/3 + 1/3 + 19/72)/3 = 67/216
	 * (b) = (1/3 [sent] + 1/3 [xnli] + 1/3 [M1] + 7/36 [M2])/4 = 43/144 */
	CHECK_NEAR(a->lb_tasks, 67.0 / 216, 1e-15);
	CHECK_NEAR(a->lb_pooled, 43.0 / 144, 1e-15);
	CHECK_EQ_INT(a->n_rows, 5);
	/* public: S1, X1, M1 -> 1/3 everywhere */
	const struct score_part *pu = &s.part[SCORE_PUBLIC];
	CHECK_EQ_INT(pu->n_rows, 3);
	CHECK_NEAR(pu->lb_tasks, 1.0 / 3, 1e-15);
	CHECK_NEAR(pu->lb_pooled, 1.0 / 3, 1e-15);
	/* private: S2 (F1 0), M2 (7/36), no XNLI row: left out of both
	 * means -> (0 + 7/36)/2 = 7/72 for both */
	const struct score_part *pr = &s.part[SCORE_PRIVATE];
	CHECK_EQ_INT(pr->n[SCORE_XNLI][SCORE_POOLED], 0);
	CHECK_NEAR(pr->lb_tasks, 7.0 / 72, 1e-15);
	CHECK_NEAR(pr->lb_pooled, 7.0 / 72, 1e-15);
	CHECK_EQ_INT(s.n_wrong, 0);
	/* zindi: LB (2 - P/PS)/2 */
	CHECK_NEAR(score_zindi(a->lb_tasks, 0), 67.0 / 216, 1e-15);

	/* wrong answers are counted, shown, and miss the true class */
	CHECK_EQ_INT(score_text(&r,
				"ID,Response,extra\nS1,\"I think, Korau\",z\n"
				"S2,True,z\nX1,Neither,z\nM1,ab,z\nM2,abc,z\n",
				&s, &e),
		     0);
	CHECK_EQ_INT(s.n_wrong, 2);
	CHECK_EQ_INT(s.n_examples, 2);
	CHECK_STR(s.examples[0].id, "S1");
	CHECK_STR(s.examples[0].response, "I think, Korau");
	CHECK_EQ_INT(s.examples[0].line, 2);
	CHECK_STR(s.examples[1].response, "True");
	a = &s.part[SCORE_ALL];
	CHECK_EQ_INT(a->wrong[SCORE_SENTIMENT][SCORE_POOLED], 2);
	CHECK_EQ_INT(a->wrong[SCORE_SENTIMENT][SCORE_HAU], 1);
	CHECK_EQ_INT(a->confusion[SCORE_SENTIMENT][SCORE_POOLED][2][3], 1);
	CHECK_NEAR(a->f1[SCORE_SENTIMENT][SCORE_POOLED], 0, 0);
	score_refs_free(&r);
	score_refs_free(&r);
	score_refs_free(NULL);

	/* the organisers' layout: task/lang from the ID, split given */
	const char *org = "ID,Targets\n"
			  "ID_1_sentiment_test__swahili,Hasi\n"
			  "ID_2_test__afrixnli_swa,0\n"
			  "ID_3_test__mt_eng-hau,ɗa\n";
	CHECK_EQ_INT(refs_of(org, SCORE_PRIVATE, &r, &e), 0);
	CHECK(r.has_split);
	CHECK(score_refs_find(&r, "ID_3_test__mt_eng-hau") &&
	      score_refs_find(&r, "ID_3_test__mt_eng-hau")->task == SCORE_MT);
	CHECK(score_refs_find(&r, "nope") == NULL);
	CHECK_EQ_INT(score_text(&r,
				"ID,Response\nID_1_sentiment_test__swahili,"
				"negative\nID_2_test__afrixnli_swa,"
				"entailment\nID_3_test__mt_eng-hau,ɗa\n",
				&s, &e),
		     0);
	/* sentiment, XNLI: one right answer each -> 1/3; chrF 1/3 */
	CHECK_NEAR(s.part[SCORE_PRIVATE].lb_tasks, 1.0 / 3, 1e-15);
	CHECK_NEAR(s.part[SCORE_ALL].lb_pooled, 1.0 / 3, 1e-15);
	CHECK_EQ_INT(s.part[SCORE_PUBLIC].n_rows, 0);
	score_refs_free(&r);
}

static void test_malformed(void)
{
	struct score_refs r;
	struct score_result s;
	struct err e = {0};
	CHECK_ERR(refs_of("Key,target\n", SCORE_ALL, &r, &e), e, ERR_FORMAT,
		  "'ref.csv': missing column 'ID'");
	CHECK_ERR(refs_of("ID,task\n", SCORE_ALL, &r, &e), e, ERR_FORMAT,
		  "missing column 'target' or 'Targets'");
	CHECK_ERR(
	    refs_of("ID,Targets\nID_1_something_hau,x\n", SCORE_ALL, &r, &e), e,
	    ERR_FORMAT,
	    "line 2: cannot tell task and language from ID "
	    "'ID_1_something_hau'");
	CHECK_ERR(refs_of("ID,Targets\nA_sentiment_hausa,Kyakkyawa\n"
			  "B_sentiment_hausa,maybe\n",
			  SCORE_ALL, &r, &e),
		  e, ERR_FORMAT,
		  "line 3: target 'maybe' of 'B_sentiment_hausa' is not a "
		  "sentiment class");
	CHECK_ERR(refs_of("ID,Targets\nA_sentiment_hausa,Korau\nx,y\n"
			  "A_sentiment_hausa,Korau\n",
			  SCORE_ALL, &r, &e),
		  e, ERR_FORMAT, "line 3: cannot tell");
	CHECK_ERR(refs_of("ID,Targets\nA_sentiment_hausa,Korau\n"
			  "B_mt_eng-hau,x\nA_sentiment_hausa,Korau\n",
			  SCORE_ALL, &r, &e),
		  e, ERR_FORMAT,
		  "line 4: duplicate ID 'A_sentiment_hausa' (first on line 2)");
	CHECK_ERR(
	    refs_of("ID,task,lang,target\nA,sent,hau,1\n", SCORE_ALL, &r, &e),
	    e, ERR_FORMAT, "line 2: unknown task 'sent'");
	CHECK_ERR(
	    refs_of("ID,task,lang,target\nA,mt,yor,1\n", SCORE_ALL, &r, &e), e,
	    ERR_FORMAT, "line 2: unknown language 'yor'");
	CHECK_ERR(refs_of("ID,task,lang,split,target\nA,mt,hau,dev,1\n",
			  SCORE_ALL, &r, &e),
		  e, ERR_FORMAT, "line 2: split 'dev' is neither");

	CHECK_EQ_INT(refs_of(small_ref, SCORE_ALL, &r, &e), 0);
	CHECK_ERR(score_text(&r, "ID,Answer\nS1,1\n", &s, &e), e, ERR_FORMAT,
		  "'sub.csv': missing column 'Response'");
	CHECK_ERR(score_text(&r, "Key,Response\nS1,1\n", &s, &e), e, ERR_FORMAT,
		  "'sub.csv': missing column 'ID'");
	CHECK_ERR(score_text(&r,
			     "ID,Response\nS1,1\nS2,1\nX1,1\nM1,a\nS1,2\n"
			     "M2,b\n",
			     &s, &e),
		  e, ERR_FORMAT,
		  "'sub.csv': line 6: duplicate ID 'S1' (first on line 2)");
	CHECK_ERR(score_text(&r,
			     "ID,Response\nS1,1\nS2,1\nX1,1\nM1,a\n"
			     "\"M3\",b\n",
			     &s, &e),
		  e, ERR_FORMAT,
		  "'sub.csv': line 6: ID 'M3' is not in the references");
	CHECK_ERR(score_text(&r, "ID,Response\nS1,1\nX1,1\nM1,a\n", &s, &e), e,
		  ERR_FORMAT,
		  "'sub.csv': 2 reference IDs are missing, the first 'S2' "
		  "(reference line 3)");
	CHECK_ERR(
	    score_text(&r, "ID,Response\nS1,1\nS2,1\nX1,1\nM1,a\n", &s, &e), e,
	    ERR_FORMAT, "1 reference ID is missing, the first 'M2'");
	/* an unterminated quote is the CSV reader's error, naming the line */
	struct csv_table t;
	CHECK_ERR(
	    csv_parse("ID,Response\nS1,1\nS2,\"oops\n", 24, "sub.csv", &t, &e),
	    e, ERR_FORMAT, "'sub.csv': line 3: unterminated quoted field");
	/* the same ID in a second reference file */
	struct csv_table t2;
	CHECK_EQ_INT(
	    table("ID,task,lang,target\nM9,mt,hau,x\nS2,sentiment,swa,Hasi\n",
		  "pri.csv", &t2),
	    0);
	CHECK_ERR(score_refs_add(&r, &t2, "pri.csv", SCORE_PRIVATE, &e), e,
		  ERR_FORMAT,
		  "'pri.csv': line 3: duplicate ID 'S2' (first on line 3 of an "
		  "earlier file)");
	CHECK_EQ_INT(r.n, 5); /* unchanged */
	CHECK(score_refs_find(&r, "M9") == NULL);
	CHECK(score_refs_find(&r, "M2") != NULL);
	csv_free(&t2);
	score_refs_free(&r);
	struct score_refs empty = {0};
	CHECK_ERR(score_text(&empty, "ID,Response\n", &s, &e), e, ERR_INVALID,
		  "no reference rows");
}

/* ---- the 900 test rows vs the Python recomputation ---------------- */

/* Appends s as one RFC 4180 field. */
static void put_field(char **buf, size_t *n, size_t *cap, const char *s,
		      int last)
{
	size_t need = 2 * strlen(s) + 4;
	if (*n + need >= *cap) {
		*cap = (*cap + need) * 2;
		*buf = realloc(*buf, *cap);
	}
	char *p = *buf + *n;
	*p++ = '"';
	for (; *s; s++) {
		if (*s == '"')
			*p++ = '"';
		*p++ = *s;
	}
	*p++ = '"';
	*p++ = last ? '\n' : ',';
	*n = (size_t)(p - *buf);
}

/* The starter code's argmax of "tensor([[-15.3, -9.1, -15.3]], ...)":
 * the first maximum. */
static int argmax_tensor(const char *s)
{
	const char *p = strstr(s, "[[");
	if (!p)
		return -1;
	p += 2;
	int best = -1;
	double bv = 0;
	for (int i = 0; i < 3; i++) {
		char *end;
		double v = strtod(p, &end);
		if (end == p)
			return -1;
		if (best < 0 || v > bv) {
			best = i;
			bv = v;
		}
		p = end;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return best;
}

/* The baseline submission built from Output/<lang>_<task>_prediction.csv, with
 * the responses of `over` (ID,Response) replacing those IDs when not NULL. */
static int build_submission(const struct csv_table *over, struct csv_table *sub)
{
	static const char *const files[] = {
	    "hau_sent", "hau_xnli", "hau_mt", "swa_sent", "swa_xnli", "swa_mt",
	};
	char *buf = NULL;
	size_t n = 0, cap = 0;
	struct err e = {0};
	put_field(&buf, &n, &cap, "ID", 0);
	put_field(&buf, &n, &cap, "Response", 1);
	for (int f = 0; f < 6; f++) {
		char path[256];
		struct csv_table t;
		snprintf(path, sizeof path, COMP "/Output/%s_prediction.csv",
			 files[f]);
		if (csv_read_file(path, &t, &e)) {
			fprintf(stderr, "%s\n", e.msg);
			free(buf);
			return -1;
		}
		int cid = csv_col(&t, "ID"), cr = csv_col(&t, "Response");
		int cl = csv_col(&t, "Log-Likelihood");
		for (int i = 0; i < t.n_rows; i++) {
			const char *id = csv_cell(&t, i, cid);
			char cls[16];
			const char *resp = csv_cell(&t, i, cr);
			if (!strstr(files[f], "_mt")) {
				snprintf(cls, sizeof cls, "%d",
					 argmax_tensor(csv_cell(&t, i, cl)));
				resp = cls;
			}
			if (over) {
				int oid = csv_col(over, "ID");
				int orr = csv_col(over, "Response");
				for (int k = 0; k < over->n_rows; k++)
					if (!strcmp(csv_cell(over, k, oid), id))
						resp = csv_cell(over, k, orr);
			}
			put_field(&buf, &n, &cap, id, 0);
			put_field(&buf, &n, &cap, resp, 1);
		}
		csv_free(&t);
	}
	int rc = csv_parse(buf, n, "baseline submission", sub, &e);
	if (rc)
		fprintf(stderr, "%s\n", e.msg);
	free(buf);
	return rc;
}

static double num(const cJSON *o, const char *a, const char *b, const char *c)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
	if (b)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	if (c)
		x = cJSON_GetObjectItemCaseSensitive(x, c);
	return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static void compare(const char *what, const cJSON *exp,
		    const struct score_result *s)
{
	static const char *const langs[] = {"hau", "swa", "both"};
	static const char *const tasks[] = {"sentiment", "xnli"};
	const cJSON *set = cJSON_GetObjectItemCaseSensitive(exp, what);
	CHECK_MSG(set != NULL, "expected.json has no '%s'", what);
	for (int sp = 0; sp < SCORE_N_SPLITS; sp++) {
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(
		    set, score_split_name((enum score_split)sp));
		const struct score_part *p = &s->part[sp];
		if (!x) {
			CHECK_EQ_INT(p->n_rows, 0);
			continue;
		}
		CHECK_EQ_INT(p->n_rows, num(x, "n_rows", NULL, NULL));
		for (int t = 0; t < 2; t++) {
			for (int l = 0; l <= SCORE_N_LANGS; l++)
				CHECK_MSG(
				    fabs(p->f1[t][l] - num(x, "f1", tasks[t],
							   langs[l])) <= 1e-9,
				    "%s %s f1 %s %s: %.12f vs %.12f", what,
				    score_split_name((enum score_split)sp),
				    tasks[t], langs[l], p->f1[t][l],
				    num(x, "f1", tasks[t], langs[l]));
			const cJSON *cm = cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(x, "confusion"),
			    tasks[t]);
			for (int i = 0; i < 3; i++)
				for (int j = 0; j < 4; j++) {
					const cJSON *v = cJSON_GetArrayItem(
					    cJSON_GetArrayItem(cm, i), j);
					CHECK(v && p->confusion[t][SCORE_POOLED]
							       [i][j] ==
						       (int)v->valuedouble);
				}
			CHECK_EQ_INT(p->wrong[t][SCORE_POOLED],
				     num(x, "wrong", tasks[t], NULL));
		}
		for (int l = 0; l <= SCORE_N_LANGS; l++)
			CHECK_MSG(fabs(p->chrf[l] -
				       num(x, "chrf", langs[l], NULL)) <= 1e-9,
				  "%s chrf %s: %.12f vs %.12f", what, langs[l],
				  p->chrf[l], num(x, "chrf", langs[l], NULL));
		CHECK_NEAR(p->lb_tasks, num(x, "lb_tasks", NULL, NULL), 1e-9);
		CHECK_NEAR(p->lb_pooled, num(x, "lb_pooled", NULL, NULL), 1e-9);
	}
}

static void test_golden(void)
{
	struct err e = {0};
	if (!path_exists(COMP "/test_with_targets.csv")) {
		SKIP("%s is absent: no comparison with the Python reference",
		     COMP);
		return;
	}
	char *text;
	size_t len;
	if (file_read_all("tests/data/score/expected.json", 1 << 24, &text,
			  &len, &e)) {
		CHECK_MSG(0, "%s", e.msg);
		return;
	}
	cJSON *exp = cJSON_ParseWithLength(text, len);
	free(text);
	CHECK(exp != NULL);

	struct score_refs twt = {0}, org = {0}, dev = {0};
	struct score_result s;
	struct csv_table base, mixed, over;
	CHECK_EQ_INT(
	    score_refs_load(&twt, COMP "/test_with_targets.csv", SCORE_ALL, &e),
	    0);
	CHECK_EQ_INT(twt.n, 900);
	CHECK_EQ_INT(score_refs_load(&org, COMP "/Notebooks/pubRef.csv",
				     SCORE_PUBLIC, &e),
		     0);
	CHECK_EQ_INT(score_refs_load(&org, COMP "/Notebooks/priRef.csv",
				     SCORE_PRIVATE, &e),
		     0);
	CHECK_EQ_INT(org.n, 900);
	CHECK_EQ_INT(build_submission(NULL, &base), 0);
	CHECK_EQ_INT(base.n_rows, 900);
	CHECK_EQ_INT(
	    csv_read_file("tests/data/score/mixed_overrides.csv", &over, &e),
	    0);
	CHECK_EQ_INT(build_submission(&over, &mixed), 0);

	CHECK_EQ_INT(score_submission(&twt, &base, "baseline", &s, &e), 0);
	compare("baseline_vs_test_with_targets", exp, &s);
	CHECK(s.has_split);
	CHECK_EQ_INT(score_submission(&org, &base, "baseline", &s, &e), 0);
	compare("baseline_vs_organisers", exp, &s);
	CHECK_EQ_INT(score_submission(&twt, &mixed, "mixed", &s, &e), 0);
	compare("mixed_vs_test_with_targets", exp, &s);
	CHECK(s.n_wrong == 100);
	CHECK_EQ_INT(s.n_examples, SCORE_MAX_EXAMPLES);

	/* the 18 dev rows: submission_test.csv is its own reference */
	CHECK_EQ_INT(score_refs_load(&dev, COMP "/Output/submission_test.csv",
				     SCORE_ALL, &e),
		     0);
	CHECK(!dev.has_split);
	CHECK_EQ_INT(score_submission_file(
			 &dev, COMP "/Output/submission_test.csv", &s, &e),
		     0);
	compare("dev_submission_test", exp, &s);

	/* sentence chrF of single rows */
	const cJSON *rows = cJSON_GetObjectItemCaseSensitive(exp, "chrf_rows");
	const cJSON *row;
	int idc = csv_col(&base, "ID"), rc = csv_col(&base, "Response");
	cJSON_ArrayForEach(row, rows)
	{
		const char *id =
		    cJSON_GetObjectItemCaseSensitive(row, "id")->valuestring;
		const struct score_ref *x = score_refs_find(&twt, id);
		for (int i = 0; x && i < base.n_rows; i++)
			if (!strcmp(csv_cell(&base, i, idc), id)) {
				double v;
				score_chrf(csv_cell(&base, i, rc), x->target,
					   &v, &e);
				CHECK_NEAR(v, num(row, "chrf", NULL, NULL),
					   1e-12);
			}
	}
	csv_free(&base);
	csv_free(&mixed);
	csv_free(&over);
	score_refs_free(&twt);
	score_refs_free(&org);
	score_refs_free(&dev);
	cJSON_Delete(exp);
}

int main(void)
{
	test_chrf();
	test_f1();
	test_parse();
	test_small();
	test_malformed();
	test_golden();
	return TEST_SUMMARY();
}
