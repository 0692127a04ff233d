/*
 * commands — the CLI subcommands. Each takes (argc, argv) with argv[0] the
 * subcommand name and returns the process exit status: 0 ok, 1 runtime
 * error, 2 usage. Primary output goes to stdout, chatter to stderr.
 */
#ifndef PUNGUZA_COMMANDS_H
#define PUNGUZA_COMMANDS_H

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

int cmd_info(int argc, char **argv);

#endif
