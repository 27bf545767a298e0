/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command tables and option parsing shared by Bauxite's command-line
 * programs (`bauxite`, `bauxite-dispatch`): every command is a row in a
 * table; a command with subcommands dispatches through a table of its
 * own. Each program defines cli_name, the word its messages start with.
 */
#ifndef BX_CLI_CORE_H
#define BX_CLI_CORE_H

#include <getopt.h>
#include <stddef.h>

/* The program's name, for its messages ("bauxite"); defined by its main.c. */
extern const char cli_name[];

#define CLI_ERR_LEN 1024u

/* Exit status: 0 done, 1 the operation failed, 2 the command line is wrong. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

struct cli_cmd {
	const char *name;
	const char *summary; /* one line for the parent's help */
	/* argv[0] is the command's own name; returns an exit status. */
	int (*run)(int argc, char **argv);
};

/*
 * Runs the command argv[1] of @cmds with argv shifted by one, getopt
 * reset for it: help for -h/--help/help (stdout, exit 0), a usage error
 * naming the word otherwise. @prog names the level ("bauxite",
 * "bauxite keys") and @what its words ("command") in messages and help.
 */
int cli_dispatch(const char *prog, const char *what,
		 const struct cli_cmd *cmds, size_t n_cmds, int argc,
		 char **argv);

/* Prints "<cli_name>: " and the message to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The same for a command line mistake in command @prog ("bauxite keys
 * show"): "bauxite: keys show: message".
 */
void cli_usage_error(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * getopt_long over the argv a command was given (-h is --help), with
 * errors that name @prog and the option. Returns the option's value, -1
 * at the end, or '?' after it printed a usage error.
 */
int cli_getopt(const char *prog, int argc, char **argv,
	       const struct option *opts);

#endif /* BX_CLI_CORE_H */
