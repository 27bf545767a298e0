/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite hub check --config FILE: is this node's link to its hub good?
 *
 * Connects with the credentials the config's "hub" section names, as
 * bauxite-app would, opens the topology stream and reports the hub's
 * answer: its topology version and peer count, or why it refused (a
 * certificate from another CA, a revoked node, an unreachable hub).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bauxite/v1/topology.pb-c.h"
#include "bx_common.h"
#include "bx_config.h"
#include "bx_pki.h"
#include "bx_rpc.h"
#include "cli.h"

#define CHECK_PROG CLI_NAME " hub check"
#define TOPOLOGY_METHOD "/bauxite.v1.TopologyService/WatchTopology"
#define CHECK_TIMEOUT_MS 5000

static void
check_help(FILE *f)
{
	fprintf(f,
		"usage: " CHECK_PROG " --config FILE\n\n"
		"Connects to the hub of the bauxite-app config FILE with the node's\n"
		"certificate, as bauxite-app does, and prints the hub's topology version\n"
		"and peer count; or why the hub refused (exit 1).\n");
}

static int
hub_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	Bauxite__V1__WatchTopologyRequest req = BAUXITE__V1__WATCH_TOPOLOGY_REQUEST__INIT;
	Bauxite__V1__TopologyUpdate *u;
	struct bx_rpc_client_creds creds;
	struct bx_rpc_channel *ch = NULL;
	struct bx_rpc_call *call = NULL;
	struct bx_config *cfg = NULL;
	char *ca = NULL, *cert = NULL, *key = NULL;
	char err[CLI_ERR_LEN];
	const char *config = NULL, *msg;
	enum bx_rpc_code code;
	uint8_t buf[16], *data;
	size_t len;
	int o, rc = CLI_EXIT_FAIL;

	while ((o = cli_getopt(CHECK_PROG, argc, argv, opts)) != -1) {
		switch (o) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			check_help(stdout);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (config == NULL || optind != argc) {
		cli_usage_error(CHECK_PROG, "expected --config FILE and nothing else");
		return CLI_EXIT_USAGE;
	}
	if (bx_config_load(config, &cfg, err, sizeof(err)) != 0) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	if (!cfg->hub.set) {
		cli_error("%s: no \"hub\" section: this node is not joined to a hub",
			  config);
		goto out;
	}
	if (bx_pki_cert_read(cfg->hub.ca_file, &ca, err, sizeof(err)) != 0 ||
	    bx_pki_cert_read(cfg->hub.cert_file, &cert, err, sizeof(err)) != 0 ||
	    bx_pki_key_read(cfg->hub.key_file, &key, err, sizeof(err)) != 0) {
		cli_error("hub check: %s", err);
		goto out;
	}
	memset(&creds, 0, sizeof(creds));
	creds.kind = BX_RPC_CREDS_TLS;
	creds.ca_pem = ca;
	creds.cert_pem = cert;
	creds.key_pem = key;
	creds.server_name = cfg->hub.server_name[0] ? cfg->hub.server_name : NULL;
	ch = bx_rpc_channel_create(cfg->hub.url, &creds, err, sizeof(err));
	if (ch == NULL) {
		cli_error("hub check: %s: %s", cfg->hub.url, err);
		goto out;
	}
	len = bauxite__v1__watch_topology_request__pack(&req, buf);
	if (bx_rpc_call_open_stream(ch, TOPOLOGY_METHOD, buf, len, &call) != 0) {
		cli_error("hub check: cannot start a call");
		goto out;
	}
	switch (bx_rpc_call_next(call, CHECK_TIMEOUT_MS, &data, &len)) {
	case 0:
		u = bauxite__v1__topology_update__unpack(NULL, len, data);
		free(data);
		if (u == NULL) {
			cli_error("hub check: %s sent a topology that does not "
				  "decode", cfg->hub.url);
			break;
		}
		printf("hub %s: ok, topology version %" PRIu64 ", %zu peer(s)\n",
		       cfg->hub.url, u->version, u->n_changes);
		bauxite__v1__topology_update__free_unpacked(u, NULL);
		rc = CLI_EXIT_OK;
		break;
	case -EAGAIN:
		/* A hub answers every stream at once (a snapshot, or an
		 * empty update): silence is a hub that is not there. */
		cli_error("hub %s: no answer within %d s", cfg->hub.url,
			  CHECK_TIMEOUT_MS / 1000);
		break;
	default:
		if (bx_rpc_call_status(call, &code, &msg) == 0)
			cli_error("hub %s refused: %s%s%s", cfg->hub.url,
				  bx_rpc_code_name(code), msg[0] ? ": " : "", msg);
		else
			cli_error("hub %s: the call failed", cfg->hub.url);
		break;
	}
out:
	bx_rpc_call_free(call);
	bx_rpc_channel_destroy(ch);
	free(ca);
	free(cert);
	bx_pki_key_free(key);
	bx_config_free(cfg);
	return rc;
}

static const struct cli_cmd hub_cmds[] = {
	{ "check", "check this node's link to its hub", hub_check },
};

int
cli_hub(int argc, char **argv)
{
	return cli_dispatch(CLI_NAME " hub", "subcommand", hub_cmds,
			    BX_ARRAY_SIZE(hub_cmds), argc, argv);
}
