/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite-dispatch relay: the relay secret the hub derives each node's
 * relay key from (control/dispatch). Relay boxes (bauxite-app in role
 * relay) hold a copy and check nodes' keys with it.
 *
 *   relay export-secret --out FILE [--force]
 *       writes the secret (made first if the hub has none yet) to FILE,
 *       mode 0600; an existing FILE only with --force
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "bx_common.h"
#include "bx_dispatch.h"
#include "bx_store.h"
#include "cli.h"

#define EXPORT_PROG CLI_NAME " relay export-secret"

enum {
	OPT_OUT = 0x200,
	OPT_FORCE,
};

static void
export_help(FILE *f)
{
	fprintf(f,
		"usage: " EXPORT_PROG " --out FILE [--force] [--state-dir D]\n\n"
		"Writes the hub's relay secret (%u bytes, made first if the hub has\n"
		"none yet) to FILE with mode 0600, for the relay boxes: a relay\n"
		"checks each node's relay key with it, and the hub derives those keys\n"
		"from it. Anyone holding it can make relay keys: move it as you would\n"
		"a private key, and delete the copy once the relay has it.\n\n"
		CLI_STATE_DIR_HELP
		"  --out FILE          where to write it\n"
		"  --force             replace FILE if it exists\n",
		BX_DISPATCH_RELAY_SECRET_LEN);
}

static int
relay_export(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_STATE_DIR_OPTION,
		{ "out", required_argument, NULL, OPT_OUT },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_dir = CLI_DEFAULT_STATE_DIR, *out = NULL;
	struct bx_store *st = NULL;
	char err[CLI_ERR_LEN];
	bool force = false;
	int o;

	while ((o = cli_getopt(EXPORT_PROG, argc, argv, opts)) != -1) {
		switch (o) {
		case CLI_OPT_STATE_DIR:
			state_dir = optarg;
			break;
		case OPT_OUT:
			out = optarg;
			break;
		case OPT_FORCE:
			force = true;
			break;
		case 'h':
			export_help(stdout);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_usage_error(EXPORT_PROG, "unexpected argument '%s'",
				argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (out == NULL || out[0] == '\0') {
		cli_usage_error(EXPORT_PROG, "missing --out FILE");
		return CLI_EXIT_USAGE;
	}
	/* Only a hub's directory: a typo must not mint a secret elsewhere
	 * that no hub derives keys from. */
	if (cli_store_open(state_dir, false, &st) != 0)
		return CLI_EXIT_FAIL;
	bx_store_close(st);
	if (bx_dispatch_relay_secret_export(state_dir, out, force, err,
					    sizeof(err)) != 0) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	printf("relay secret written to %s (mode 0600)\n", out);
	return CLI_EXIT_OK;
}

static const struct cli_cmd relay_commands[] = {
	{ "export-secret", "write the relay secret for the relay boxes",
	  relay_export },
};

int
cli_relay(int argc, char **argv)
{
	return cli_dispatch(CLI_NAME " relay", "subcommand", relay_commands,
			    BX_ARRAY_SIZE(relay_commands), argc, argv);
}
