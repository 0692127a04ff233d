/*
 * chain_model.h — a hand-built model whose next token is a fixed function
 * of the current one (tests of generation and label scoring).
 *
 * d >= V; every attention and MLP weight is 0, so the residual stream at a
 * position is the embedding of its token: embed[v] = e_v (one-hot). The
 * final norm weight is 1, so the normed state is sqrt(d / (1 + d*eps)) *
 * e_v. lm_head[w][v] = 1 when chain_set(m, v, w): the logit of w after v is
 * then CHAIN_LOGIT(d) (about sqrt(d)), every other logit 0. A token v with
 * no successor gives all-zero logits (greedy argmax: id 0).
 */
#ifndef PUNGUZA_CHAIN_MODEL_H
#define PUNGUZA_CHAIN_MODEL_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

static struct model *chain_new(int V, int max_pos)
{
	struct config c;
	memset(&c, 0, sizeof c);
	c.vocab_size = V;
	c.hidden_size = (V + 7) / 8 * 8; /* d >= V, divisible by 2 heads*4 */
	c.intermediate_size = 8;
	c.n_layers = 1;
	c.n_heads = 2;
	c.n_kv_heads = 2;
	c.head_dim = c.hidden_size / 2;
	c.max_position_embeddings = max_pos;
	c.rope_theta = 10000;
	c.rms_norm_eps = 1e-6;
	c.tie_word_embeddings = false;
	c.bos_token_id = 1;
	c.eos_token_id = 2;
	c.pad_token_id = -1;
	strcpy(c.model_type, "llama");
	struct model *m = NULL;
	struct err e = {0};
	if (model_new(&c, &m, &e)) {
		fprintf(stderr, "chain_new: %s\n", e.msg);
		return NULL;
	}
	int d = c.hidden_size;
	for (int v = 0; v < V; v++)
		m->embed[(size_t)v * d + v] = 1;
	for (int i = 0; i < d; i++)
		m->norm[i] = 1;
	return m;
}

static void chain_set(struct model *m, int v, int w)
{
	int d = m->cfg.hidden_size;
	m->lm_head[(size_t)w * d + v] = 1;
}

#endif
