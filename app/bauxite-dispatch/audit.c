/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite-dispatch audit verify: walks the hash-chained audit log
 * (control/store) and says whether it is intact, naming the first record
 * that is not.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#include <sodium.h>

#include "bx_common.h"
#include "bx_store.h"
#include "cli.h"

#define VERIFY_PROG CLI_NAME " audit verify"

static void
verify_help(FILE *f)
{
	fprintf(f,
		"usage: " VERIFY_PROG " [--state-dir D]\n\n"
		"Checks every audit record's hash and its link to the previous one,\n"
		"and that the chain ends at the stored head. Prints the head: kept\n"
		"elsewhere, it also catches a rewrite of the chain's whole tail.\n"
		"Exit 0 intact, 1 not (the first bad record is named).\n\n"
		CLI_STATE_DIR_HELP);
}

static int
audit_verify(int argc, char **argv)
{
	const char *state_dir = CLI_DEFAULT_STATE_DIR;
	uint8_t head[BX_STORE_HASH_LEN];
	char hex[2 * BX_STORE_HASH_LEN + 1], err[CLI_ERR_LEN];
	struct bx_store *st = NULL;
	uint64_t n = 0;
	int o, rc;

	o = cli_state_dir_only(VERIFY_PROG, argc, argv, verify_help, &state_dir);
	if (o >= 0)
		return o;
	if (cli_store_open(state_dir, false, &st) != 0)
		return CLI_EXIT_FAIL;
	rc = bx_store_audit_verify(st, &n, head, err, sizeof(err));
	bx_store_close(st);
	if (rc != 0) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	sodium_bin2hex(hex, sizeof(hex), head, sizeof(head));
	printf("audit: %" PRIu64 " records, chain intact, head %s\n", n, hex);
	return CLI_EXIT_OK;
}

static const struct cli_cmd audit_commands[] = {
	{ "verify", "check the audit log's hash chain", audit_verify },
};

int
cli_audit(int argc, char **argv)
{
	return cli_dispatch(CLI_NAME " audit", "subcommand", audit_commands,
			    BX_ARRAY_SIZE(audit_commands), argc, argv);
}
