/* punguza — command-line entry point: dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct command commands[] = {
	{"info", cmd_info, "show a model's config, tensors and parameter breakdown"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: punguza [DIR]\n       punguza COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\nRun 'punguza COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2)
		for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
			if (!strcmp(argv[1], commands[i].name))
				return commands[i].fn(argc - 1, argv + 1);
	usage(stderr);
	return 2;
}
