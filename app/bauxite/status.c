/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite status [--file-prefix NAME | --socket PATH]: the running
 * bauxite-app's peers, over its telemetry socket (/bauxite/peers and
 * /bauxite/stats).
 *
 *   node: tx 232062 datagrams (330421952 bytes), rx 32439 (4215514), dropped 0/0
 *   PEER    PATH    ENDPOINT        SESSION  RTT     LAST HANDSHAKE        TX BYTES  RX BYTES
 *   edge-b  direct  10.99.0.2:7600  up       2.6 ms  2026-11-22T02:08:59Z  632       400
 *
 * RTT is the handshake's round trip as this node measured it (it shows
 * "-" where the peer initiated every session); bytes are datagrams on the
 * underlay, outer headers included, since the peer was added.
 *
 * A node that bonds (several underlays or paths) also gets one line per
 * path of each peer, from /bauxite/paths:
 *
 *   PEER    PATH  UNDERLAY  ENDPOINT        STATE  RTT      LOSS  CAPACITY    ROLES         TX BYTES
 *   edge-b  0     ul0       10.99.0.2:7600  up     11.2 ms  0.0%  10.0 Mbit/s preferred,stripe  52796
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bx_common.h"
#include "cli.h"

#define STATUS_PROG CLI_NAME " status"
#define PEERS_CMD "/bauxite/peers"
#define STATS_CMD "/bauxite/stats"
#define PATHS_CMD "/bauxite/paths"

static void
status_help(FILE *f)
{
	fprintf(f,
		"usage: " STATUS_PROG " [--file-prefix NAME | --socket PATH]\n\n"
		"Shows the running bauxite-app's traffic and, per peer: path (direct\n"
		"or relay), remote endpoint, session state, the handshake's round-trip\n"
		"time, the last handshake, and bytes each way since the peer was added.\n"
		"A node that bonds also shows each path: underlay, endpoint, state,\n"
		"RTT, loss, measured capacity, what it is used for, bytes sent.\n\n"
		CLI_TELEMETRY_HELP);
}

static uint64_t
stat_u64(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

/* Column @key's row @i as text or number. */
static const char *
col_str(const json_t *data, const char *key, size_t i)
{
	const json_t *v = json_array_get(json_object_get(data, key), i);

	return json_is_string(v) ? json_string_value(v) : "?";
}

static uint64_t
col_u64(const json_t *data, const char *key, size_t i)
{
	const json_t *v = json_array_get(json_object_get(data, key), i);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

static void
format_ms(uint64_t unix_ms, char *buf, size_t len)
{
	time_t t = (time_t)(unix_ms / 1000u);
	struct tm tm;

	if (unix_ms == 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "never");
}

static int
print_status(const json_t *stats, const json_t *peers)
{
	const json_t *ids = json_object_get(peers, "id");
	size_t i, n;

	if (!json_is_array(ids)) {
		cli_error("status: bauxite-app's %s reply has no peer list",
			  PEERS_CMD);
		return CLI_EXIT_FAIL;
	}
	printf("node: tx %" PRIu64 " datagrams (%" PRIu64 " bytes), rx %" PRIu64
	       " (%" PRIu64 "), dropped tx %" PRIu64 " rx %" PRIu64 "\n",
	       stat_u64(stats, "tx_packets"), stat_u64(stats, "tx_bytes"),
	       stat_u64(stats, "rx_packets"), stat_u64(stats, "rx_bytes"),
	       stat_u64(stats, "tx_dropped"), stat_u64(stats, "rx_dropped"));
	n = json_array_size(ids);
	printf("%-20s %-7s %-10s %-21s %-11s %-9s %-21s %12s %12s\n", "PEER",
	       "PATH", "ICE", "ENDPOINT", "SESSION", "RTT", "LAST HANDSHAKE",
	       "TX BYTES", "RX BYTES");
	for (i = 0; i < n; i++) {
		char rtt[24], when[32];
		uint64_t us = col_u64(peers, "rtt_us", i);

		if (us == 0)
			snprintf(rtt, sizeof(rtt), "-");
		else
			snprintf(rtt, sizeof(rtt), "%.1f ms", (double)us / 1000.0);
		format_ms(col_u64(peers, "last_handshake_unix_ms", i), when,
			  sizeof(when));
		printf("%-20s %-7s %-10s %-21s %-11s %-9s %-21s %12" PRIu64
		       " %12" PRIu64 "\n", col_str(peers, "id", i),
		       col_str(peers, "path", i), col_str(peers, "ice", i),
		       col_str(peers, "endpoint", i), col_str(peers, "session", i),
		       rtt, when, col_u64(peers, "tx_bytes", i),
		       col_u64(peers, "rx_bytes", i));
	}
	if (json_object_get(peers, "truncated") != NULL)
		printf("(more peers than the telemetry reply holds)\n");
	return CLI_EXIT_OK;
}

/* The paths table, when the node bonds (nothing otherwise). */
static void
print_paths(const json_t *paths)
{
	const json_t *peer = json_object_get(paths, "peer");
	size_t i, n;

	if (!json_is_array(peer) || stat_u64(paths, "bonding") == 0)
		return;
	n = json_array_size(peer);
	printf("%-20s %-4s %-9s %-21s %-8s %-9s %-6s %-13s %-24s %12s\n", "PEER",
	       "PATH", "UNDERLAY", "ENDPOINT", "STATE", "RTT", "LOSS",
	       "CAPACITY", "ROLES", "TX BYTES");
	for (i = 0; i < n; i++) {
		char rtt[24], loss[16], cap[24], roles[32];
		uint64_t us = col_u64(paths, "rtt_us", i);

		if (us == 0)
			snprintf(rtt, sizeof(rtt), "-");
		else
			snprintf(rtt, sizeof(rtt), "%.1f ms", (double)us / 1000.0);
		snprintf(loss, sizeof(loss), "%.1f%%",
			 (double)col_u64(paths, "loss_permille", i) / 10.0);
		snprintf(cap, sizeof(cap), "%.1f Mbit/s",
			 (double)col_u64(paths, "capacity_kbps", i) / 1000.0);
		snprintf(roles, sizeof(roles), "%s%s%s",
			 col_u64(paths, "preferred", i) ? "preferred," : "",
			 col_u64(paths, "in_stripe", i) ? "stripe," : "",
			 col_u64(paths, "in_redundant", i) ? "redundant," : "");
		if (roles[0] == '\0')
			snprintf(roles, sizeof(roles), "-");
		else
			roles[strlen(roles) - 1] = '\0';
		printf("%-20s %-4" PRIu64 " %-9s %-21s %-8s %-9s %-6s %-13s %-24s %12"
		       PRIu64 "\n", col_str(paths, "peer", i),
		       col_u64(paths, "path", i), col_str(paths, "underlay", i),
		       col_str(paths, "endpoint", i), col_str(paths, "state", i),
		       rtt, loss, cap, roles, col_u64(paths, "tx_bytes", i));
	}
}

int
cli_status(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_TELEMETRY_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_telemetry_target target = { NULL, NULL };
	json_t *peers = NULL, *stats = NULL, *paths = NULL;
	char err[CLI_ERR_LEN];
	const json_t *e;
	int o, rc;

	while ((o = cli_getopt(STATUS_PROG, argc, argv, opts)) != -1) {
		rc = cli_telemetry_option(STATUS_PROG, &target, o, optarg);
		if (rc < 0)
			return CLI_EXIT_USAGE;
		if (rc > 0)
			continue;
		if (o != 'h')
			return CLI_EXIT_USAGE;
		status_help(stdout);
		return CLI_EXIT_OK;
	}
	if (optind < argc) {
		cli_usage_error(STATUS_PROG, "unexpected argument '%s'",
				argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (cli_telemetry_call(&target, STATS_CMD, &stats, err, sizeof(err)) < 0 ||
	    cli_telemetry_call(&target, PEERS_CMD, &peers, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		json_decref(stats);
		return CLI_EXIT_FAIL;
	}
	e = json_object_get(peers, "error");
	if (json_is_string(e)) {
		cli_error("status: %s", json_string_value(e));
		rc = CLI_EXIT_FAIL;
	} else {
		rc = print_status(stats, peers);
	}
	/* Older apps and nodes without probes have no paths to show. */
	if (rc == CLI_EXIT_OK &&
	    cli_telemetry_call(&target, PATHS_CMD, &paths, err, sizeof(err)) == 0) {
		print_paths(paths);
		json_decref(paths);
	}
	json_decref(peers);
	json_decref(stats);
	return rc;
}
