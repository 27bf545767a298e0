/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite snapshot: warm-start state snapshots (control/snapshot).
 *
 *   snapshot show FILE   decode, check and print FILE, or say what is wrong
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bx_common.h"
#include "bx_identity.h"
#include "bx_snapshot.h"
#include "cli.h"

#define SHOW_PROG CLI_NAME " snapshot show"
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

static const struct cli_cmd snapshot_commands[] = {
	{ "show", "check and print a snapshot file", snapshot_show },
};

int
cli_snapshot(int argc, char **argv)
{
	return cli_dispatch(CLI_NAME " snapshot", "subcommand",
			    snapshot_commands, BX_ARRAY_SIZE(snapshot_commands),
			    argc, argv);
}
