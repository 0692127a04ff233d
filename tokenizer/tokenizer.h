/*
 * tokenizer — the one tokenizer API every other module uses: load,
 * encode, decode (batch and streaming), vocabulary queries, merge list.
 *
 * Backends: a Hugging Face tokenizer.json with a BPE model (hfjson.h,
 * bpe.h, normalize.h), and a SentencePiece tokenizer.model (spm.h; kind
 * TOK_SPM). This header is implemented by tok_load.c (load, dispatch by
 * file type, free), tok_encode.c, tok_decode.c (batch and streaming) and
 * tok_query.c (vocabulary, merges, provenance), over the private layout
 * of struct tokenizer in tok_impl.h (which includes this header, never
 * the other way round).
 *
 * SentencePiece (TOK_SPM) follows SentencePiece's own semantics: encode is
 * spm_encode plus the template's BOS/EOS (add_special): BOS when the model
 * has a bos piece, no EOS, unless tokenizer_config.json beside the file
 * says otherwise (add_bos_token, add_eos_token; any tokenizer_class).
 * Decode is spm_decode: control pieces vanish whatever skip_special says,
 * <unk> becomes " ⁇ ". Vocabulary flags: CONTROL and UNKNOWN pieces are
 * "special", USER_DEFINED ones "added", BYTE ones "byte". Merges: a
 * SentencePiece BPE model has no merge list (it joins any adjacent pair
 * whose concatenation is a piece, best score first); tok_merge exposes
 * the derived list: every split of a NORMAL/UNUSED piece into two
 * NORMAL/UNUSED pieces, ordered by the result's score (highest first),
 * then result id, then split offset. A Unigram model has no merges.
 *
 * Encoding (tokenizer.json) follows Hugging Face `tokenizers` exactly:
 *  1. invalid UTF-8 in the input is first replaced, each maximal invalid
 *     subpart by one U+FFFD (the WHATWG decoder's rule: what a JavaScript or
 *     Python caller of the reference passes to it for the same bytes);
 *  2. added tokens with normalized=false are split out of the raw text
 *     (leftmost-longest, honouring single_word / lstrip / rstrip);
 *  3. each remaining piece is normalized on its own (so "a<s>b" normalizes
 *     "a" and "b" separately: InkubaLM's Prepend adds "▁" to both), then
 *     added tokens with normalized=true are split out of it;
 *  4. the pre-tokenizer splits words; each word goes through BPE (bpe.h);
 *  5. with add_special, the post-processor's template adds its specials.
 * Truncation and padding in the file are ignored: tok_encode never
 * truncates (the caller decides).
 *
 * Decoding maps ids to pieces (unknown ids dropped; specials dropped with
 * skip_special) and runs the decoder chain (Replace, ByteFallback, Fuse,
 * Strip, Metaspace; no decoder: pieces joined by ' '). Output is valid
 * UTF-8: ByteFallback turns an invalid byte run into one U+FFFD per byte.
 *
 * Ownership: tok_load returns a tokenizer owned by the caller (tok_free).
 * Strings returned by tok_piece point into the tokenizer (valid until
 * tok_free, not NUL-safe: use *len). tok_encode/tok_decode return malloc'd
 * buffers the caller frees. A loaded tokenizer is immutable; concurrent
 * encodes on one tokenizer from several threads are safe.
 */
#ifndef PUNGUZA_TOKENIZER_H
#define PUNGUZA_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct tokenizer;

/* Loads a tokenizer from a directory (tokenizer.json preferred, else
 * tokenizer.model; tokenizer_config.json read when present for
 * add_bos_token / add_eos_token / bos_token / eos_token) or from a path to
 * a tokenizer.json or tokenizer.model file (by extension: ".model" is
 * SentencePiece). When a directory's tokenizer.json fails to load and a
 * tokenizer.model is there, that is loaded instead and tok_note says why;
 * if both fail, the tokenizer.json's error is returned. */
int tok_load(const char *path_or_dir, struct tokenizer **out, struct err *e);

/* Why tok_load chose what it loaded ("tokenizer.model used: <the
 * tokenizer.json's error>"), or "" — valid until tok_free. */
const char *tok_note(const struct tokenizer *t);
void tok_free(struct tokenizer *t);

/* Encodes text[0..len) (need not be NUL-terminated; may hold any bytes).
 * add_special applies the post-processor (InkubaLM: BOS first). *ids is
 * malloc'd (never NULL on success, even when *n == 0); caller frees. */
int tok_encode(const struct tokenizer *t, const char *text, size_t len,
	       bool add_special, int **ids, size_t *n, struct err *e);

/* Decodes ids into a malloc'd NUL-terminated UTF-8 string of *len bytes. */
int tok_decode(const struct tokenizer *t, const int *ids, size_t n,
	       bool skip_special, char **out, size_t *len, struct err *e);

/*
 * Streaming decode for generation: push ids one at a time and print what
 * each push returns; the concatenation of every push and the final flush
 * equals tok_decode of all the ids. Text that later ids could still change
 * (a run of byte pieces: an incomplete UTF-8 sequence, or one that will
 * turn into U+FFFD) is held back. The stream allocates; tok_stream_free.
 */
struct tok_stream {
	bool skip_special;
	int *ids;        /* ids not yet final (a window of the stream) */
	size_t n, cap;
	size_t emitted;  /* bytes of the window's decode already returned */
	bool cont;       /* the window continues earlier output */
	bool any_output; /* something was returned already */
};

void tok_stream_init(struct tok_stream *s, bool skip_special);
void tok_stream_free(struct tok_stream *s);

/* Pushes id; writes up to cap bytes of newly final text to buf and their
 * count to *out_len (never splits a UTF-8 character; what does not fit is
 * returned by the next push or flush). */
int tok_stream_push(const struct tokenizer *t, struct tok_stream *s, int id,
		    char *buf, size_t cap, size_t *out_len, struct err *e);

/* Returns more of the text that is already final (what a push could not
 * fit in cap) without pushing an id; *out_len == 0 when there is none. */
int tok_stream_next(const struct tokenizer *t, struct tok_stream *s,
		    char *buf, size_t cap, size_t *out_len, struct err *e);

/* Ends the stream: writes the held-back rest (up to cap bytes; call again
 * while *out_len > 0 if it may not fit). */
int tok_stream_flush(const struct tokenizer *t, struct tok_stream *s,
		     char *buf, size_t cap, size_t *out_len, struct err *e);

/* --- vocabulary ------------------------------------------------------ */

/* Ids are 0..tok_vocab_size()-1 (the largest id + 1, added tokens
 * included); an id may have no piece (tok_piece returns NULL). */
int tok_vocab_size(const struct tokenizer *t);
const char *tok_piece(const struct tokenizer *t, int id, size_t *len);
int tok_piece_id(const struct tokenizer *t, const char *piece, size_t len);
int tok_bos_id(const struct tokenizer *t); /* -1 when none */
int tok_eos_id(const struct tokenizer *t); /* -1 when none */
int tok_unk_id(const struct tokenizer *t); /* -1 when none */

bool tok_is_special(const struct tokenizer *t, int id); /* special added */
bool tok_is_added(const struct tokenizer *t, int id);   /* any added token */
bool tok_is_byte(const struct tokenizer *t, int id);    /* "<0xXX>" */
int tok_byte_id(const struct tokenizer *t, unsigned char byte); /* or -1 */

/* --- merges (BPE), in rank order -------------------------------------- */

size_t tok_merge_count(const struct tokenizer *t);
/* Merge `rank` joins pieces *left and *right into *result; ERR_INVALID when
 * rank >= tok_merge_count. */
int tok_merge(const struct tokenizer *t, size_t rank, int *left, int *right,
	      int *result);

/* --- provenance ------------------------------------------------------ */

enum tok_kind {
	TOK_HF_BPE = 1, /* tokenizer.json, model BPE */
	TOK_SPM = 2,    /* SentencePiece tokenizer.model */
};
enum tok_kind tok_kind(const struct tokenizer *t);
/* Memory on long lines. Without a pre-tokenizer (InkubaLM's
 * tokenizer.json) a whole line is one BPE word, whose merge loop needs
 * about 40 bytes per byte. A word longer than `chunk` bytes is therefore
 * encoded in pieces, cut before a U+2581 where bpe_cut_safe says no merge
 * can join across (InkubaLM: before every "▁" that does not follow a
 * "▁"): the ids are exactly those of the whole word. A stretch of more
 * than `max_run` bytes with no such place (50 MB of "a") is cut every
 * max_run bytes at a character boundary: there, and only there, the ids
 * can differ from an unbounded encode (the pieces at each cut; at most a
 * few tokens per max_run bytes). A SentencePiece BPE model encodes words
 * (U+2581 after something else) apart already when its pieces allow it
 * (exact), and cuts a longer word, or the whole text when its pieces do
 * not allow words apart, every max_run bytes likewise. So encoding takes
 * about 3 bytes per input byte (the text, its normalized copy, the ids)
 * plus O(max_run) of merge state. Defaults: TOK_CHUNK and TOK_MAX_RUN;
 * 0 keeps a value; max_run is at least chunk. Set before the tokenizer is
 * shared between threads. */
#define TOK_CHUNK ((size_t)64 << 10)
#define TOK_MAX_RUN ((size_t)1 << 20)
void tok_set_chunking(struct tokenizer *t, size_t chunk, size_t max_run);

/* A TOK_SPM tokenizer's score of piece id (true), else false. */
bool tok_spm_score(const struct tokenizer *t, int id, float *score);
const char *tok_path(const struct tokenizer *t); /* the file loaded */
bool tok_add_bos(const struct tokenizer *t); /* the template starts with BOS */
bool tok_add_eos(const struct tokenizer *t); /* the template ends with EOS */

#endif
