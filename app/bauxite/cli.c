/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Option handling shared by `bauxite` commands that talk to a running
 * bauxite-app (the command tables themselves are cli_core.c's).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int
cli_telemetry_option(const char *prog, struct cli_telemetry_target *t, int o,
		     const char *arg)
{
	if (o == CLI_OPT_FILE_PREFIX) {
		if (!cli_telemetry_prefix_ok(arg)) {
			cli_usage_error(prog,
					"--file-prefix '%s': expected the name "
					"given to bauxite-app's --file-prefix "
					"(not empty, no '/')",
					arg);
			return -1;
		}
		t->file_prefix = arg;
	} else if (o == CLI_OPT_SOCKET) {
		if (arg[0] == '\0') {
			cli_usage_error(prog, "--socket needs a path");
			return -1;
		}
		t->socket = arg;
	} else {
		return 0;
	}
	if (t->file_prefix != NULL && t->socket != NULL) {
		cli_usage_error(prog,
				"give --file-prefix or --socket, not both");
		return -1;
	}
	return 1;
}
