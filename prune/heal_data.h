/*
 * heal_data — what healing trains on: a corpus packed into fixed-length
 * sequences, or (no corpus) sequences sampled from the teacher; and the
 * teacher's view of the student's vocabulary.
 *
 * Batches are a pure function of (seed, step): step s's batch never
 * depends on earlier batches, so a resumed run needs no generator state
 * and reads exactly what an uninterrupted one would.
 *
 * Corpus. Each file is tokenized with the student's tokenizer — one
 * document per line (BOS, the line, EOS: eval_encode_lines) or, with
 * whole_text, the file as one text (tok_encode with the post-processor) —
 * and the files' ids are concatenated into one stream of n tokens. For
 * T-token sequences the stream is cut into n_chunks consecutive chunks;
 * epoch k (every chunk once) shifts the grid by an offset in [0, T) and
 * visits the chunks in a permuted order, both drawn from (seed, k): row i
 * of step s is global row r = s*B + i, epoch r / n_chunks, position r %
 * n_chunks. (n_chunks = (n - T + 1) / T when n >= 2T - 1, so every offset
 * fits; else n / T with offset 0; n < T is an error.)
 *
 * Data-free. A pool of `pool` sequences; row i of step s is pool entry
 * hash(seed, s, i) % pool, and entry k is sampled from the teacher view
 * with a generator seeded by (seed, k): BOS, then T - 1 tokens drawn at
 * temperature 1 from the teacher's distribution over the student's
 * vocabulary (so every token is a student token). Entries are made on
 * first use and cached, so what a run reads does not depend on when it
 * was made (a resumed run regenerates the entries it needs).
 *
 * Teacher view. When the student's vocabulary was cut from the teacher's
 * (vocab_map.json, written by every export of a cut vocabulary: student id
 * i is teacher id keep[i]), the view is the teacher with its embedding and
 * lm_head rows gathered at keep: it reads the student's ids as the
 * teacher reads the pieces they stand for, and its logits are the
 * teacher's logits at the kept pieces — the same token sequence, the same
 * vocabulary, so KL and top-1 compare like with like.
 *
 * Ownership: struct heal_data owns its arrays (heal_data_free); the view
 * borrows every tensor but the two gathered ones from the teacher (which
 * must outlive it).
 */
#ifndef PUNGUZA_HEAL_DATA_H
#define PUNGUZA_HEAL_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "model.h"
#include "progress.h"
#include "recipe.h"

struct tokenizer;
struct fwd_state;

struct heal_data {
	/* corpus */
	int *ids; /* (n) the token stream; NULL when data-free */
	size_t n;
	uint64_t bytes; /* UTF-8 bytes of every file */
	int n_files;
	struct recipe_heal_data files[RECIPE_HEAL_MAX_DATA];
	/* data-free */
	const struct model *teacher; /* the view (borrowed) */
	int pool;		     /* entries */
	int *pool_ids;		     /* (pool, ctx); row valid when made */
	unsigned char *made;	     /* (pool) */
	struct fwd_state *fwd;	     /* the teacher's decode state */
	float *probs;		     /* (V) scratch */
	int bos;
	/* both */
	int ctx;
	uint64_t seed;
	int *perm;	 /* (n_chunks) the current epoch's order */
	uint64_t perm_epoch; /* UINT64_MAX: none */
	size_t n_chunks;
};

/* FNV-1a 64 of a file's bytes, as "fnv1a64:<16 hex>" (cap >= 25), and
 * its size. */
int heal_file_checksum(const char *path, char *buf, size_t cap,
		       uint64_t *bytes, struct err *e);

/* Tokenizes paths[0..n) (1 <= n <= RECIPE_HEAL_MAX_DATA) into a corpus
 * for ctx-token sequences. ERR_INVALID when the stream is shorter than
 * ctx tokens. */
int heal_data_corpus(const struct tokenizer *t, const char *const *paths,
		     int n, bool whole_text, int ctx, uint64_t seed,
		     struct heal_data **out, const struct progress *prog,
		     struct err *e);

/* Data-free data from a teacher view (its vocabulary = the student's);
 * bos is the student's BOS id (>= 0). Nothing is sampled yet. */
int heal_data_free_new(const struct model *teacher_view, int bos, int pool,
		       int ctx, uint64_t seed, struct heal_data **out,
		       struct err *e);

void heal_data_free(struct heal_data *d); /* NULL is a no-op */

/* Step `step`'s batch: B rows of ctx tokens into tokens (B*ctx). For
 * data-free data this may sample (cancellable through prog). */
int heal_data_batch(struct heal_data *d, uint64_t step, int B, int *tokens,
		    const struct progress *prog, struct err *e);

/* Samples data-free pool entry k into out (ctx tokens); what the batch
 * call uses, public for tests. */
int heal_data_sample(struct heal_data *d, uint64_t k, int *out,
		     struct err *e);

/* Reads dir/vocab_map.json: *keep (n_new, malloc'd) student id -> teacher
 * id, *n_old the teacher's vocabulary size. Every id is range-checked and
 * must be distinct. ERR_NOTFOUND when the file is absent (the vocabulary
 * was not cut). */
int heal_vocab_map_load(const char *dir, int **keep, int *n_new, int *n_old,
			struct err *e);

/* The teacher restricted to keep[0..n_keep) (ids < teacher V, distinct):
 * a model of vocabulary n_keep whose embedding and lm_head rows are the
 * teacher's rows keep[i]; every other tensor borrowed. keep NULL: *out is
 * a view identical to the teacher (everything borrowed). */
int heal_teacher_view(const struct model *teacher, const int *keep,
		      int n_keep, struct model **out, struct err *e);

/* 64-bit mixing of (seed, a, b): splitmix64's finalizer, three rounds. */
uint64_t heal_hash(uint64_t seed, uint64_t a, uint64_t b);

#endif
