/*
 * tok_query — what a loaded tokenizer holds (tokenizer.h): vocabulary
 * (pieces, ids, flags, byte ids), merges in rank order, provenance (kind,
 * path, template BOS/EOS, SentencePiece scores), and tok_set_chunking.
 */
#include "tok_impl.h"
#include "tokenizer.h"

int tok_vocab_size(const struct tokenizer *t)
{
	return t->bpe.n_vocab;
}

const char *tok_piece(const struct tokenizer *t, int id, size_t *len)
{
	const struct bpe *b = &t->bpe;
	if (id < 0 || id >= b->n_vocab || !(b->flags[id] & BPE_PIECE_PRESENT)) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = b->piece_len[id];
	return b->arena + b->piece_off[id];
}

int tok_piece_id(const struct tokenizer *t, const char *piece, size_t len)
{
	return bpe_piece_id(&t->bpe, piece, len);
}

int tok_bos_id(const struct tokenizer *t) { return t->bos_id; }
int tok_eos_id(const struct tokenizer *t) { return t->eos_id; }
int tok_unk_id(const struct tokenizer *t) { return t->bpe.unk_id; }

static bool has_flag(const struct tokenizer *t, int id, uint8_t f)
{
	return id >= 0 && id < t->bpe.n_vocab && (t->bpe.flags[id] & f);
}

bool tok_is_special(const struct tokenizer *t, int id)
{
	return has_flag(t, id, BPE_PIECE_SPECIAL);
}

bool tok_is_added(const struct tokenizer *t, int id)
{
	return has_flag(t, id, BPE_PIECE_ADDED);
}

bool tok_is_byte(const struct tokenizer *t, int id)
{
	return has_flag(t, id, BPE_PIECE_BYTE);
}

int tok_byte_id(const struct tokenizer *t, unsigned char byte)
{
	return t->bpe.byte_id[byte];
}

size_t tok_merge_count(const struct tokenizer *t)
{
	return t->bpe.n_merges;
}

int tok_merge(const struct tokenizer *t, size_t rank, int *left, int *right,
	      int *result)
{
	if (rank >= t->bpe.n_merges)
		return ERR_INVALID;
	*left = t->bpe.merge_left[rank];
	*right = t->bpe.merge_right[rank];
	*result = t->bpe.merge_result[rank];
	return 0;
}

enum tok_kind tok_kind(const struct tokenizer *t) { return t->kind; }
const char *tok_path(const struct tokenizer *t) { return t->path; }
bool tok_add_bos(const struct tokenizer *t)
{
	return t->n_tpl_pre > 0 && t->tpl_pre[0] == t->bos_id;
}
bool tok_add_eos(const struct tokenizer *t)
{
	return t->n_tpl_post > 0 && t->tpl_post[t->n_tpl_post - 1] == t->eos_id;
}

bool tok_spm_score(const struct tokenizer *t, int id, float *score)
{
	if (!t || t->kind != TOK_SPM || id < 0 || id >= spm_n_pieces(t->spm))
		return false;
	*score = spm_score(t->spm, id);
	return true;
}

void tok_set_chunking(struct tokenizer *t, size_t chunk, size_t max_run)
{
	if (chunk)
		t->chunk = chunk;
	if (max_run)
		t->max_run = max_run;
	if (t->max_run < t->chunk)
		t->max_run = t->chunk;
	if (t->spm)
		spm_set_max_run(t->spm, t->max_run);
}
