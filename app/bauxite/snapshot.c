/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite snapshot: warm-start state snapshots (control/snapshot).
 *
 *   snapshot show FILE   decode, check and print FILE, or say what is wrong
 *   snapshot save [--file-prefix NAME | --socket PATH]
 *                        have the running bauxite-app write its snapshot now
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bx_common.h"
#include "bx_identity.h"
#include "bx_snapshot.h"
#include "cli.h"

#define SHOW_PROG CLI_NAME " snapshot show"
#define SAVE_PROG CLI_NAME " snapshot save"
/* bauxite-app's telemetry command: writes the snapshot, replies
 * {"path", "peers", "bytes"} or {"error": message}. */
#define SAVE_CMD "/bauxite/snapshot/save"
#define FIELD_FMT "%-32s %s\n"
#define FIELD_LEN 64u
/* "a.b.c.d/nn " per prefix, all of them on one line. */
#define PREFIXES_LEN (BX_SNAPSHOT_MAX_PREFIXES * (INET_ADDRSTRLEN + 4u))

_Static_assert(BX_SNAPSHOT_KEY_LEN == BX_IDENTITY_KEY_LEN,
	       "snapshot keys print as identity keys");

static void
show_help(FILE *f)
{
	fprintf(f,
		"usage: " SHOW_PROG " FILE\n\n"
		"Checks the snapshot FILE (frame, checksum, every field) and prints\n"
		"what it holds, one \"field value\" line each; or names what is wrong\n"
		"with it and exits 1. A node's snapshot is <state_dir>/" BX_SNAPSHOT_FILE ".\n");
}

/* "2023-11-14T22:13:20.123Z", the time a snapshot was written. */
static void
format_time(char *buf, size_t size, uint64_t unix_ms)
{
	time_t t = (time_t)(unix_ms / 1000u);
	struct tm tm;
	char day[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(buf, size, "%" PRIu64 " ms", unix_ms);
		return;
	}
	snprintf(buf, size, "%s.%03uZ", day, (unsigned)(unix_ms % 1000u));
}

static void
print_peer(unsigned i, const struct bx_snapshot_peer *p)
{
	char field[FIELD_LEN], a[INET_ADDRSTRLEN], value[PREFIXES_LEN + 1];
	char b64[BX_IDENTITY_KEY_B64_LEN + 1];
	size_t used = 0;
	unsigned j;

	snprintf(field, sizeof(field), "peers[%u].id", i);
	printf(FIELD_FMT, field, p->id);
	snprintf(field, sizeof(field), "peers[%u].virtual_ip", i);
	printf(FIELD_FMT, field, inet_ntop(AF_INET, &p->virtual_ip, a, sizeof(a)));
	value[0] = '\0';
	for (j = 0; j < p->n_allowed; j++) {
		inet_ntop(AF_INET, &p->allowed[j].addr, a, sizeof(a));
		used += (size_t)snprintf(value + used, sizeof(value) - used,
					 "%s%s/%u", j > 0 ? " " : "", a,
					 (unsigned)p->allowed[j].len);
	}
	snprintf(field, sizeof(field), "peers[%u].allowed_prefixes", i);
	printf(FIELD_FMT, field, p->n_allowed > 0 ? value : "-");
	snprintf(field, sizeof(field), "peers[%u].endpoint", i);
	if (p->endpoint_ip == 0) {
		printf(FIELD_FMT, field, "unknown");
	} else {
		inet_ntop(AF_INET, &p->endpoint_ip, a, sizeof(a));
		snprintf(value, sizeof(value), "%s:%u", a,
			 (unsigned)p->endpoint_port);
		printf(FIELD_FMT, field, value);
	}
	snprintf(field, sizeof(field), "peers[%u].ed25519_public", i);
	bx_identity_key_to_b64(p->ed25519_public, b64);
	printf(FIELD_FMT, field, b64);
	snprintf(field, sizeof(field), "peers[%u].x25519_public", i);
	bx_identity_key_to_b64(p->x25519_public, b64);
	printf(FIELD_FMT, field, b64);
}

static int
snapshot_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bx_snapshot *s = NULL;
	char err[CLI_ERR_LEN], value[64];
	unsigned i;
	int o;

	while ((o = cli_getopt(SHOW_PROG, argc, argv, opts)) != -1) {
		if (o != 'h')
			return CLI_EXIT_USAGE;
		show_help(stdout);
		return CLI_EXIT_OK;
	}
	if (argc - optind != 1) {
		cli_usage_error(SHOW_PROG, "expected one FILE, got %d arguments",
			  argc - optind);
		return CLI_EXIT_USAGE;
	}
	if (bx_snapshot_read(argv[optind], &s, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	printf(FIELD_FMT, "file", argv[optind]);
	snprintf(value, sizeof(value), "%" PRIu32, s->version);
	printf(FIELD_FMT, "version", value);
	printf(FIELD_FMT, "node_id", s->node_id);
	format_time(value, sizeof(value), s->created_unix_ms);
	printf(FIELD_FMT, "created", value);
	snprintf(value, sizeof(value), "%" PRIu64, s->topology_version);
	printf(FIELD_FMT, "topology_version", value);
	snprintf(value, sizeof(value), "%u", s->n_peers);
	printf(FIELD_FMT, "peers", value);
	for (i = 0; i < s->n_peers; i++)
		print_peer(i, &s->peers[i]);
	bx_snapshot_free(s);
	return CLI_EXIT_OK;
}

static void
save_help(FILE *f)
{
	fprintf(f,
		"usage: " SAVE_PROG " [--file-prefix NAME | --socket PATH]\n\n"
		"Has the running bauxite-app write its warm-start snapshot now, to\n"
		"<state_dir>/" BX_SNAPSHOT_FILE " (peers and their public keys, never\n"
		"session keys), and prints\n"
		"  saved PATH: N peer(s), B bytes\n"
		"It asks over bauxite-app's DPDK telemetry socket, so it runs on the\n"
		"same machine, as the same user (root). Exits 1, saying why, when\n"
		"bauxite-app cannot be reached or cannot write the file.\n\n"
		CLI_TELEMETRY_HELP);
}

/* Prints what bauxite-app said it did; returns the exit status. */
static int
print_saved(const json_t *data)
{
	json_t *msg = json_object_get(data, "error");
	json_int_t peers, bytes;
	const char *path;
	char *text;

	if (json_is_string(msg)) {
		cli_error("snapshot save: %s", json_string_value(msg));
		return CLI_EXIT_FAIL;
	}
	/* json_unpack takes no const, but only reads. */
	if (json_unpack((json_t *)data, "{s:s, s:I, s:I}", "path", &path,
			"peers", &peers, "bytes", &bytes) == 0 &&
	    peers >= 0 && bytes >= 0) {
		printf("saved %s: %" JSON_INTEGER_FORMAT " peer(s), "
		       "%" JSON_INTEGER_FORMAT " bytes\n",
		       path, peers, bytes);
		return CLI_EXIT_OK;
	}
	text = json_dumps(data, JSON_COMPACT);
	cli_error("snapshot save: unexpected reply from bauxite-app: %s",
		  text != NULL ? text : "(unprintable)");
	free(text);
	return CLI_EXIT_FAIL;
}

static int
snapshot_save(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_TELEMETRY_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_telemetry_target target = { NULL, NULL };
	char err[CLI_ERR_LEN];
	json_t *data = NULL;
	int o, rc, status;

	while ((o = cli_getopt(SAVE_PROG, argc, argv, opts)) != -1) {
		rc = cli_telemetry_option(SAVE_PROG, &target, o, optarg);
		if (rc < 0)
			return CLI_EXIT_USAGE;
		if (rc > 0)
			continue;
		if (o != 'h')
			return CLI_EXIT_USAGE;
		save_help(stdout);
		return CLI_EXIT_OK;
	}
	if (optind < argc) {
		cli_usage_error(SAVE_PROG, "unexpected argument '%s'",
				argv[optind]);
		return CLI_EXIT_USAGE;
	}
	rc = cli_telemetry_call(&target, SAVE_CMD, &data, err, sizeof(err));
	if (rc < 0) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	status = print_saved(data);
	json_decref(data);
	return status;
}

static const struct cli_cmd snapshot_commands[] = {
	{ "show", "check and print a snapshot file", snapshot_show },
	{ "save", "have the running bauxite-app write its snapshot now",
	  snapshot_save },
};

int
cli_snapshot(int argc, char **argv)
{
	return cli_dispatch(CLI_NAME " snapshot", "subcommand",
			    snapshot_commands, BX_ARRAY_SIZE(snapshot_commands),
			    argc, argv);
}
