/* punguza info DIR — placeholder until the model loader lands. */
#include <stdio.h>

#include "commands.h"
#include "config.h"

int cmd_info(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: punguza info DIR\n");
		return 2;
	}
	struct config c;
	struct err e = {0};
	if (config_load(argv[1], &c, &e)) {
		fprintf(stderr, "punguza: %s\n", e.msg);
		return 1;
	}
	printf("parameters %llu\n", (unsigned long long)config_param_count(&c));
	config_free(&c);
	return 0;
}
