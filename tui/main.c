/* punguza — command-line entry point: dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

static const struct command commands[] = {
	{"info", cmd_info, "show a model's config, tensors and parameter breakdown"},
	{"run", cmd_run, "generate text from a prompt (streamed), with speeds"},
	{"eval", cmd_eval, "perplexity, bits per byte, KL vs a reference, on a text"},
	{"plan", cmd_plan, "estimate a pruning plan: parameters, bytes, projected zindi"},
	{"prune", cmd_prune, "apply a pruning plan, measure it, export HF / GGUF"},
	{"heal", cmd_heal, "train a pruned model back towards the original (distillation)"},
	{"score", cmd_score, "score a submission CSV exactly as the Zindi challenge did"},
	{"tasks", cmd_tasks, "run the challenge's tasks on a model, write and score a submission"},
	{"tokenize", cmd_tokenize, "tokenize standard input line by line (ids or pieces)"},
	{"vocab", cmd_vocab, "count tokens on a corpus, keep a merge-closed vocabulary"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: punguza [DIR | --preset NAME [--tokenizer FILE]]\n"
		     "       punguza COMMAND [ARGS]\n\n"
		     "With no command, opens the explorer (the shipped model by "
		     "default).\n\ncommands:\n");
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
	if (argc >= 2 && argv[1][0] != '-' && strchr(argv[1], '/') == NULL &&
	    access(argv[1], F_OK) != 0) {
		fprintf(stderr, "punguza: unknown command '%s'\n\n", argv[1]);
		usage(stderr);
		return 2;
	}
	/* No command: the explorer, on DIR or the shipped model. */
	return cmd_explore(argc, argv);
}
