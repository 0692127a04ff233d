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
int cmd_run(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_heal(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_tasks(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_vocab(int argc, char **argv);
/* The explorer (no subcommand): punguza [DIR | --preset NAME]. */
int cmd_explore(int argc, char **argv);

#endif
