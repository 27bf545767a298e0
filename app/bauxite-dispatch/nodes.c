/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite-dispatch nodes: the provisioned nodes (control/store).
 *
 *   nodes list          one line per node: id, virtual IP, endpoints, state,
 *                       last seen, rx/tx bytes of its latest metrics report
 *   nodes endpoints ID IP:PORT...
 *                       replaces where peers reach the node, one endpoint
 *                       per uplink; a running `serve` pushes the change
 *   nodes revoke ID     removes it from the mesh; a running `serve` pushes
 *                       the removal to every peer and cuts the node off
 *   nodes purge ID      deletes a revoked node, freeing its id, keys and
 *                       virtual IP, so that it can join again
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "bx_common.h"
#include "bx_store.h"
#include "cli.h"

#define LIST_PROG CLI_NAME " nodes list"
#define REVOKE_PROG CLI_NAME " nodes revoke"
#define PURGE_PROG CLI_NAME " nodes purge"
#define ENDPOINTS_PROG CLI_NAME " nodes endpoints"
/* Every endpoint a node may have, "a.b.c.d:port" joined with ','. */
#define ENDPOINT_TEXT_LEN                                                     \
	(BX_STORE_MAX_ENDPOINTS * sizeof("255.255.255.255:65535,"))
/* What names the n-th endpoint argument in a usage error. */
#define ENDPOINT_ARG_LEN 24u
#define COUNTER_TEXT_LEN 24u
#define METRIC_RX "rx_bytes"
#define METRIC_TX "tx_bytes"

static void
list_help(FILE *f)
{
	fprintf(f,
		"usage: " LIST_PROG " [--state-dir D]\n\n"
		"Lists the provisioned nodes, revoked ones too. ENDPOINTS are where peers\n"
		"reach the node, joined with ',', the preferred one first; RX/TX bytes\n"
		"come from the node's latest metrics report (counters " METRIC_RX " and\n"
		METRIC_TX "), '-' without one.\n\n"
		CLI_STATE_DIR_HELP);
}

/* A node's endpoints as "a.b.c.d:port,..." in @out; "-" for none. */
static void
endpoints_text(const struct bx_store_endpoint *eps, unsigned n, char *out,
	       size_t outlen)
{
	char ip[INET_ADDRSTRLEN];
	size_t used = 0;
	struct in_addr a;
	unsigned i;

	snprintf(out, outlen, "-");
	for (i = 0; i < n && used < outlen; i++) {
		a.s_addr = eps[i].ip;
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		used += (size_t)snprintf(out + used, outlen - used, "%s%s:%u",
					 i > 0 ? "," : "", ip, eps[i].port);
	}
}

/* A counter of the metrics JSON as text; "-" when it is not there. */
static void
counter_text(const json_t *metrics, const char *name, char *out,
	     size_t outlen)
{
	const json_t *v = json_object_get(metrics, name);

	if (json_is_integer(v))
		snprintf(out, outlen, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
	else
		snprintf(out, outlen, "-");
}

static int
print_node(const struct bx_store_node *n, void *arg)
{
	char vip[INET_ADDRSTRLEN], endpoint[ENDPOINT_TEXT_LEN];
	char seen[CLI_TIME_LEN];
	char rx[COUNTER_TEXT_LEN], tx[COUNTER_TEXT_LEN];
	struct in_addr a;
	json_t *metrics = NULL;

	(void)arg;
	a.s_addr = n->virtual_ip;
	inet_ntop(AF_INET, &a, vip, sizeof(vip));
	endpoints_text(n->endpoints, n->n_endpoints, endpoint,
		       sizeof(endpoint));
	cli_time_text(n->last_seen_ms, seen);
	if (n->metrics_json != NULL)
		metrics = json_loads(n->metrics_json, 0, NULL);
	counter_text(metrics, METRIC_RX, rx, sizeof(rx));
	counter_text(metrics, METRIC_TX, tx, sizeof(tx));
	json_decref(metrics);
	printf("%-20s  %-15s  %-27s  %-7s  %-20s  %12s  %12s\n", n->id, vip,
	       endpoint, n->revoked_ms != 0 ? "revoked" : "active", seen, rx,
	       tx);
	return 0;
}

static int
nodes_list(int argc, char **argv)
{
	const char *state_dir = CLI_DEFAULT_STATE_DIR;
	struct bx_store *st = NULL;
	char err[CLI_ERR_LEN];
	int o, status = CLI_EXIT_FAIL;

	o = cli_state_dir_only(LIST_PROG, argc, argv, list_help, &state_dir);
	if (o >= 0)
		return o;
	if (cli_store_open(state_dir, false, &st) != 0)
		return CLI_EXIT_FAIL;
	printf("%-20s  %-15s  %-27s  %-7s  %-20s  %12s  %12s\n", "ID",
	       "VIRTUAL-IP", "ENDPOINTS", "STATE", "LAST-SEEN", "RX-BYTES",
	       "TX-BYTES");
	if (bx_store_node_list(st, print_node, NULL, err, sizeof(err)) != 0)
		cli_error("%s", err);
	else
		status = CLI_EXIT_OK;
	bx_store_close(st);
	return status;
}

static void
revoke_help(FILE *f)
{
	fprintf(f,
		"usage: " REVOKE_PROG " ID [--state-dir D]\n\n"
		"Revokes node ID: it leaves the mesh, keeping its virtual IP and keys\n"
		"reserved ('nodes purge' frees them). A running 'serve' tells every\n"
		"peer within a fraction of a second and refuses the node's certificate\n"
		"from then on.\n\n"
		CLI_STATE_DIR_HELP);
}

static void
purge_help(FILE *f)
{
	fprintf(f,
		"usage: " PURGE_PROG " ID [--state-dir D]\n\n"
		"Deletes node ID, which must be revoked first, with its metrics: its id,\n"
		"keys and virtual IP are free again, and it may join anew (with a new\n"
		"token; the certificate it had stays refused).\n\n"
		CLI_STATE_DIR_HELP);
}

static void
endpoints_help(FILE *f)
{
	fprintf(f,
		"usage: " ENDPOINTS_PROG " ID IP:PORT [IP:PORT...] [--state-dir D]\n\n"
		"Replaces where peers reach node ID: 1..%u endpoints, one per uplink of\n"
		"the node, each listed once, the one peers prefer first. A peer with one\n"
		"underlay uses the first only; one with several makes a path per\n"
		"endpoint. A running 'serve' pushes the change to every peer within a\n"
		"fraction of a second; the same list again changes nothing.\n\n"
		CLI_STATE_DIR_HELP,
		BX_STORE_MAX_ENDPOINTS);
}

/*
 * The shape of the node commands: "ID [--state-dir D]", and with @more
 * not NULL "ID ARG... [--state-dir D]", the ARGs in *@more (*@n_more of
 * them, maybe none: the command counts them). Returns 0 with *@id and
 * *@state_dir, or the exit status (help printed: CLI_EXIT_OK).
 */
static int
node_args(const char *prog, void (*help)(FILE *), int argc, char **argv,
	  const char **id, char ***more, int *n_more, const char **state_dir)
{
	static const struct option opts[] = {
		CLI_STATE_DIR_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	*state_dir = CLI_DEFAULT_STATE_DIR;
	while ((o = cli_getopt(prog, argc, argv, opts)) != -1) {
		switch (o) {
		case CLI_OPT_STATE_DIR:
			*state_dir = optarg;
			break;
		case 'h':
			help(stdout);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		cli_usage_error(prog, "missing the node ID");
		return CLI_EXIT_USAGE;
	}
	if (more == NULL && optind + 1 < argc) {
		cli_usage_error(prog, "unexpected argument '%s'",
				argv[optind + 1]);
		return CLI_EXIT_USAGE;
	}
	if (more != NULL) {
		*more = &argv[optind + 1];
		*n_more = argc - optind - 1;
	}
	*id = argv[optind];
	return 0;
}

static int
nodes_revoke(int argc, char **argv)
{
	const char *state_dir = NULL, *id = NULL;
	struct bx_store *st = NULL;
	char err[CLI_ERR_LEN];
	int rc;

	rc = node_args(REVOKE_PROG, revoke_help, argc, argv, &id, NULL, NULL,
		       &state_dir);
	if (rc != 0 || id == NULL)
		return rc;
	if (cli_store_open(state_dir, false, &st) != 0)
		return CLI_EXIT_FAIL;
	rc = bx_store_node_revoke(st, CLI_ACTOR, id, err, sizeof(err));
	bx_store_close(st);
	if (rc != 0) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	printf("node %s revoked\n", id);
	return CLI_EXIT_OK;
}

static int
nodes_purge(int argc, char **argv)
{
	const char *state_dir = NULL, *id = NULL;
	struct bx_store *st = NULL;
	char err[CLI_ERR_LEN];
	int rc;

	rc = node_args(PURGE_PROG, purge_help, argc, argv, &id, NULL, NULL,
		       &state_dir);
	if (rc != 0 || id == NULL)
		return rc;
	if (cli_store_open(state_dir, false, &st) != 0)
		return CLI_EXIT_FAIL;
	rc = bx_store_node_purge(st, CLI_ACTOR, id, err, sizeof(err));
	bx_store_close(st);
	if (rc == -EBUSY) {
		/* Peers learn of a node's departure from its revocation. */
		cli_error("node %s is active: revoke it first ('" CLI_NAME
			  " nodes revoke %s')", id, id);
		return CLI_EXIT_FAIL;
	}
	if (rc != 0) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	printf("node %s purged: its id, keys and virtual IP are free\n", id);
	return CLI_EXIT_OK;
}

static int
nodes_endpoints(int argc, char **argv)
{
	struct bx_store_endpoint eps[BX_STORE_MAX_ENDPOINTS];
	const char *state_dir = NULL, *id = NULL;
	char text[ENDPOINT_TEXT_LEN], what[ENDPOINT_ARG_LEN];
	char err[CLI_ERR_LEN], **args = NULL;
	struct bx_store *st = NULL;
	int rc, n = 0, i, j;

	rc = node_args(ENDPOINTS_PROG, endpoints_help, argc, argv, &id, &args,
		       &n, &state_dir);
	if (rc != 0 || id == NULL)
		return rc;
	if (n < 1) {
		cli_usage_error(ENDPOINTS_PROG, "missing the endpoints "
				"(IP:PORT, 1..%u)", BX_STORE_MAX_ENDPOINTS);
		return CLI_EXIT_USAGE;
	}
	if (n > (int)BX_STORE_MAX_ENDPOINTS) {
		cli_usage_error(ENDPOINTS_PROG, "%d endpoints, at most %u", n,
				BX_STORE_MAX_ENDPOINTS);
		return CLI_EXIT_USAGE;
	}
	/* Counted from 1, as the operator reads the command line. */
	for (i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "endpoint %d", i + 1);
		if (cli_parse_endpoint(ENDPOINTS_PROG, what, args[i],
				       &eps[i]) != 0)
			return CLI_EXIT_USAGE;
		for (j = 0; j < i; j++) {
			if (eps[j].ip != eps[i].ip || eps[j].port != eps[i].port)
				continue;
			cli_usage_error(ENDPOINTS_PROG,
					"%s '%s': the same as endpoint %d", what,
					args[i], j + 1);
			return CLI_EXIT_USAGE;
		}
	}
	if (cli_store_open(state_dir, false, &st) != 0)
		return CLI_EXIT_FAIL;
	rc = bx_store_node_set_endpoints(st, id, eps, (unsigned)n, err,
					 sizeof(err));
	bx_store_close(st);
	if (rc != 0) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	endpoints_text(eps, (unsigned)n, text, sizeof(text));
	printf("node %s endpoints: %s\n", id, text);
	return CLI_EXIT_OK;
}

static const struct cli_cmd nodes_commands[] = {
	{ "list", "list the provisioned nodes", nodes_list },
	{ "revoke", "revoke a node", nodes_revoke },
	{ "purge", "delete a revoked node so that it can re-join", nodes_purge },
	{ "endpoints", "set where peers reach a node", nodes_endpoints },
};

int
cli_nodes(int argc, char **argv)
{
	return cli_dispatch(CLI_NAME " nodes", "subcommand", nodes_commands,
			    BX_ARRAY_SIZE(nodes_commands), argc, argv);
}
