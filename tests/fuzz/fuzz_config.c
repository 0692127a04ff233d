/* libFuzzer target: config.json parsing and validation on arbitrary bytes
 * (every numeric key is range-checked before it is converted; a failure
 * always explains itself). Seeds: tests/data/models/... /config.json. */
#include <stddef.h>
#include <stdint.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	struct err e = {0};
	if (config_parse((const char *)data, size, "fuzz", &c, &e) == 0) {
		struct param_breakdown p;
		config_params(&c, &p);
		if (p.total == 0 || c.head_dim <= 0 || c.n_layers <= 0)
			__builtin_trap();
		config_free(&c);
	} else if (!e.msg[0]) {
		__builtin_trap();
	}
	return 0;
}
