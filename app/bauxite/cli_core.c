/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command tables and option parsing shared by Bauxite's command-line
 * programs (cli_core.h).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli_core.h"

void
cli_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cli_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
cli_usage_error(const char *prog, const char *fmt, ...)
{
	size_t top = strlen(cli_name);
	va_list ap;

	fprintf(stderr, "%s: ", cli_name);
	/* "bauxite keys show" -> "bauxite: keys show: ..." */
	if (strncmp(prog, cli_name, top) == 0 && prog[top] == ' ')
		fprintf(stderr, "%s: ", prog + top + 1);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage(FILE *f, const char *prog, const char *what, const struct cli_cmd *cmds,
      size_t n_cmds)
{
	size_t i;

	fprintf(f, "usage: %s <%s> [options]\n\n%ss:\n", prog, what, what);
	for (i = 0; i < n_cmds; i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nRun '%s <%s> --help' for its options.\n", prog, what);
}

int
cli_dispatch(const char *prog, const char *what, const struct cli_cmd *cmds,
	     size_t n_cmds, int argc, char **argv)
{
	const char *word = argc > 1 ? argv[1] : NULL;
	size_t i;

	if (word == NULL) {
		cli_usage_error(prog, "missing %s", what);
		usage(stderr, prog, what, cmds, n_cmds);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(word, "-h") == 0 || strcmp(word, "--help") == 0 ||
	    strcmp(word, "help") == 0) {
		usage(stdout, prog, what, cmds, n_cmds);
		return CLI_EXIT_OK;
	}
	for (i = 0; i < n_cmds; i++)
		if (strcmp(word, cmds[i].name) == 0) {
			/* 0, not 1: a new argv, getopt must forget the last. */
			optind = 0;
			return cmds[i].run(argc - 1, argv + 1);
		}
	cli_usage_error(prog, "unknown %s '%s'; run '%s --help' for the list",
			what, word, prog);
	return CLI_EXIT_USAGE;
}

int
cli_getopt(const char *prog, int argc, char **argv, const struct option *opts)
{
	int o;

	opterr = 0; /* our messages name the command, getopt's would not */
	o = getopt_long(argc, argv, ":h", opts, NULL);
	if (o == '?') {
		if (optopt != 0)
			cli_usage_error(prog, "unknown option '-%c'", optopt);
		else
			cli_usage_error(prog, "unknown option '%s'",
					argv[optind - 1]);
	} else if (o == ':') {
		cli_usage_error(prog, "option '%s' needs a value",
				argv[optind - 1]);
		o = '?';
	}
	return o;
}
