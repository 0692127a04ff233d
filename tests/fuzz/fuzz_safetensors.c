/* libFuzzer target: the safetensors header parser on arbitrary bytes.
 * Every tensor handed out must lie inside the input (touched here, so
 * ASan sees any escape). Build and run: sh tests/fuzz/run.sh 60 THIS.c */
#include <stddef.h>
#include <stdint.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tensor *t = NULL;
	size_t n = 0;
	struct err e;
	if (safetensors_parse(data, size, "fuzz", &t, &n, &e) == 0) {
		volatile uint8_t sink = 0;
		for (size_t i = 0; i < n; i++) {
			const uint8_t *p = t[i].data;
			if (t[i].nbytes != t[i].numel * dtype_size(t[i].dtype))
				__builtin_trap();
			if (t[i].nbytes) {
				sink ^= p[0];
				sink ^= p[t[i].nbytes - 1];
			}
		}
		(void)sink;
	}
	tensor_array_free(t, n);
	return 0;
}
