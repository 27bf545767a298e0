/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite-dispatch: the control hub (DESIGN §1, §4 "Dispatch").
 *
 *   bauxite-dispatch serve [--listen ADDR] [--mesh-prefix P] ...
 *   bauxite-dispatch token create [--ttl DURATION] [--uses N] [--tag T]...
 *   bauxite-dispatch token list
 *   bauxite-dispatch nodes list
 *   bauxite-dispatch nodes revoke ID
 *   bauxite-dispatch audit verify
 *   bauxite-dispatch policy set FILE
 *   bauxite-dispatch policy show
 *   bauxite-dispatch mesh set [--stun IP:PORT]... [--relay IP:PORT]...
 *                             [--relay-key-lifetime SECONDS]
 *   bauxite-dispatch mesh show
 *   bauxite-dispatch relay export-secret --out FILE [--force]
 *   (each with [--state-dir D])
 *
 * Output meant for scripts goes to stdout; notes and errors, each naming
 * the file, option or record at fault, go to stderr. Exit status: 0 done,
 * 1 failed, 2 bad command line.
 */
#include "bx_common.h"
#include "cli.h"

const char cli_name[] = CLI_NAME;

static const struct cli_cmd commands[] = {
	{ "serve", "run the hub's services", cli_serve },
	{ "token", "create and list join tokens", cli_token },
	{ "nodes", "list and revoke provisioned nodes", cli_nodes },
	{ "audit", "verify the hash-chained audit log", cli_audit },
	{ "policy", "set and show the classification rules of the mesh",
	  cli_policy },
	{ "mesh", "set and show the STUN servers and relays nodes get",
	  cli_mesh },
	{ "relay", "hand the relay secret to the relay boxes", cli_relay },
};

int
main(int argc, char **argv)
{
	return cli_dispatch(CLI_NAME, "command", commands,
			    BX_ARRAY_SIZE(commands), argc, argv);
}
