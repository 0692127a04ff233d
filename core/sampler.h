/*
 * sampler — picks the next token from a row of logits.
 *
 * The steps follow Hugging Face generate()'s order: repetition penalty
 * (over every token seen: prompt and generation; a logit > 0 is divided by
 * the penalty, otherwise multiplied), then greedy argmax when temperature
 * is 0, else temperature, top-k, top-p (nucleus: the smallest set of the
 * most likely tokens whose probability reaches top_p, at least one token),
 * and a draw from the renormalised distribution.
 *
 * Defaults (sampler_defaults) are the challenge starter code's settings:
 * temperature 0.5, top-k 5, top-p 1 (off), repetition penalty 1.2, seed
 * 42. The random numbers come from a private xorshift64* generator seeded
 * with `seed` (through splitmix64), so a run is reproducible: same seed,
 * same logits → same tokens. No global state.
 *
 * Ownership: the sampler owns its scratch; logits passed to
 * sampler_sample() are modified in place (penalty, temperature).
 */
#ifndef PUNGUZA_SAMPLER_H
#define PUNGUZA_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct sampler_opts {
	float temperature;    /* 0 = greedy; > 0 divides the logits */
	int top_k;	      /* 0 = off */
	float top_p;	      /* in (0, 1]; 1 = off */
	float repeat_penalty; /* 1 = off; > 1 discourages repeats */
	uint64_t seed;
};

struct sampler;

void sampler_defaults(struct sampler_opts *o);

/* Checks o: temperature >= 0, top_k >= 0, 0 < top_p <= 1,
 * repeat_penalty > 0. */
int sampler_opts_check(const struct sampler_opts *o, struct err *e);

int sampler_new(int vocab, const struct sampler_opts *o, struct sampler **out,
		struct err *e);
void sampler_free(struct sampler *s); /* NULL is a no-op */

/* Forgets the tokens seen and reseeds the generator with o->seed. */
void sampler_reset(struct sampler *s);

/* Marks tokens as seen (the prompt), for the repetition penalty. Ids
 * outside the vocabulary are ignored. */
void sampler_observe(struct sampler *s, const int *ids, size_t n);

/* Returns the next token (and marks it seen). logits: (vocab), modified. */
int sampler_sample(struct sampler *s, float *logits);

#endif
