/* libFuzzer target: the restricted unpickler on arbitrary bytes (must
 * never crash, leak or escape its budget). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "unpickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pickled_tensor *t = NULL;
	size_t n = 0;
	struct err e;
	if (unpickle_state_dict(data, size, "fuzz", &t, &n, &e) == 0) {
		for (size_t i = 0; i < n; i++)
			if (!t[i].name || !t[i].key || !t[i].key[0] ||
			    t[i].offset + t[i].numel > t[i].storage_numel ||
			    t[i].ndim > TENSOR_MAX_DIMS)
				__builtin_trap();
	} else if (strlen(e.msg) == 0) {
		__builtin_trap(); /* every failure explains itself */
	}
	unpickle_free(t, n);
	return 0;
}
