/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite: the operator CLI that sits next to bauxite-app (DESIGN §1).
 *
 *   bauxite keys generate --dir DIR [--force]
 *   bauxite keys show [--dir DIR | --config FILE]
 *   bauxite status [--file-prefix NAME | --socket PATH]
 *   bauxite intent throttle-bulk KBPS | fec LEVEL | show [--file-prefix NAME]
 *   bauxite snapshot show FILE            (builds with protobuf-c)
 *   bauxite snapshot save [--file-prefix NAME | --socket PATH]
 *   bauxite join TOKEN HUB --underlay-port P --underlay-address A [...]
 *   bauxite hub check --config FILE      (both build with gRPC)
 *   bauxite safety watch --listen ADDR [--count N]   (gRPC)
 *   bauxite jamming watch --listen ADDR [--count N]  (gRPC)
 *
 * Output meant for scripts goes to stdout; notes and errors, each naming
 * the file or field at fault, go to stderr. Exit status: 0 done, 1 failed,
 * 2 bad command line.
 */
#include "bx_common.h"
#include "cli.h"

const char cli_name[] = CLI_NAME;

static const struct cli_cmd commands[] = {
	{ "keys", "show or create the node's identity keys", cli_keys },
#ifdef BX_CLI_JOIN
	{ "join", "provision this node at a hub with a join token", cli_join },
	{ "hub", "check this node's link to its hub", cli_hub },
#endif
	{ "status", "the running bauxite-app's peers: path, endpoint, RTT, "
	  "traffic", cli_status },
	{ "intent", "throttle Bulk or lift it into Telemetry on the running "
	  "bauxite-app", cli_intent },
#ifdef BX_CLI_SNAPSHOT
	{ "snapshot", "inspect or save warm-start state snapshots",
	  cli_snapshot },
#endif
#ifdef BX_CLI_SAFETY
	{ "safety", "follow the safety monitor of a running bauxite-app",
	  cli_safety },
	{ "jamming", "follow the jamming threat levels of a running "
	  "bauxite-app", cli_jamming },
#endif
};

int
main(int argc, char **argv)
{
	return cli_dispatch(CLI_NAME, "command", commands,
			    BX_ARRAY_SIZE(commands), argc, argv);
}
