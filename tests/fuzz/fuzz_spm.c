/* libFuzzer target: the SentencePiece ModelProto reader on arbitrary
 * bytes.  When the bytes load, the model must also encode (fixed strings
 * and the input's own last bytes, through whatever charsmap it carries),
 * decode every id it produced, and survive a write/reload round trip.
 * Build and run: sh tests/fuzz/run.sh 120 THIS.c (needs tokenizer/spm_*.c
 * and -Itokenizer); seeds: tests/data/spm/{bpe,rules}.model. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "spm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void encode_decode(const struct spm *m, const char *text, size_t len)
{
	struct err e;
	int *ids = NULL;
	size_t n = 0;
	char *out = NULL;
	size_t out_len;
	struct spm_state st = {0}, raw = {.no_cache = 1};
	if (spm_encode(m, text, len, &ids, &n, &e) == 0) {
		for (size_t i = 0; i < n; i++)
			if (ids[i] < 0 || ids[i] >= spm_n_pieces(m))
				__builtin_trap();
		if (spm_decode(m, ids, n, &out, &out_len, &e) == 0)
			free(out);
		/* The word cache must agree with the plain merge loop. */
		if (spm_encode_state(m, text, len, &st, &e) == 0 &&
		    spm_encode_state(m, text, len, &raw, &e) == 0) {
			if (st.n != raw.n)
				__builtin_trap();
			for (size_t i = 0; i < st.n; i++)
				if (st.ids[i] != raw.ids[i])
					__builtin_trap();
		}
	}
	free(ids);
	spm_state_free(&st);
	spm_state_free(&raw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char fixed[] =
		"  Habari  za\tasubuhi 123 \xc9\x93 \xef\xbc\xa1 \xef\xac\x81 "
		"\xff\xe2\x96\x81 <unk> <x> a a a ninakupenda ninakupenda ";
	struct spm *m = NULL;
	struct err e;
	if (spm_load_buffer(data, size, "fuzz", &m, &e) != 0)
		return 0;
	encode_decode(m, fixed, sizeof fixed - 1);
	size_t tail = size < 64 ? size : 64;
	encode_decode(m, (const char *)data + size - tail, tail);

	/* Keep every piece: the result must load again, same size. */
	int n = spm_n_pieces(m);
	int *keep = malloc((size_t)n * sizeof *keep);
	unsigned char *buf = NULL;
	size_t len = 0;
	if (keep) {
		for (int i = 0; i < n; i++)
			keep[i] = i;
		if (spm_write_buffer(m, keep, (size_t)n, &buf, &len, &e) == 0) {
			struct spm *r = NULL;
			if (spm_load_buffer(buf, len, "rewritten", &r, &e) != 0 ||
			    spm_n_pieces(r) != n)
				__builtin_trap();
			spm_free(r);
			free(buf);
		}
		free(keep);
	}
	spm_free(m);
	return 0;
}
