/* libFuzzer target: the whole .bin reader (zip directory, local headers,
 * zip64 records, unpickler, storage bounds) on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "torchbin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tensor *t = NULL;
	size_t n = 0;
	struct err e;
	if (torchbin_parse(data, size, "fuzz", &t, &n, &e) == 0) {
		volatile uint8_t sink = 0;
		for (size_t i = 0; i < n; i++) {
			const uint8_t *p = t[i].data;
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
