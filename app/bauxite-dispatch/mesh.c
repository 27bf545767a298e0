/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite-dispatch mesh: what nodes need for NAT traversal, kept in the
 * store and handed to each node by a running `serve` (GetMeshSettings).
 *
 *   mesh set [--stun IP:PORT]... [--relay IP:PORT]...
 *            [--relay-key-lifetime SECONDS]
 *                     replaces each list given (`none` empties it) and
 *                     the lifetime if given; keeps the rest; prints the
 *                     result as `mesh show` does
 *   mesh show         the version, the lists and the key lifetime
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bx_common.h"
#include "bx_store.h"
#include "cli.h"

#define SET_PROG CLI_NAME " mesh set"
#define SHOW_PROG CLI_NAME " mesh show"
/* The word that empties a list. */
#define MESH_NONE "none"

enum {
	OPT_STUN = 0x200,
	OPT_RELAY,
	OPT_LIFETIME,
};

/* One list as the command line gives it. */
struct list_arg {
	const char *opt;                /* "--stun" */
	unsigned max;
	bool given;
	bool none;                      /* MESH_NONE was given */
	unsigned n;
	struct bx_store_endpoint *eps;  /* max entries */
};

static void
set_help(FILE *f)
{
	fprintf(f,
		"usage: " SET_PROG " [--state-dir D] [--stun IP:PORT]...\n"
		"       [--relay IP:PORT]... [--relay-key-lifetime SECONDS]\n\n"
		"Sets what nodes get for NAT traversal: the STUN servers their ICE\n"
		"agents ask, the hub relays that carry their traffic when no direct\n"
		"path comes up, and how long the relay key each node gets lives\n"
		"(nodes fetch a new one at half its life). A list given replaces the\n"
		"stored one ('" MESH_NONE "' empties it); what is not given is kept.\n"
		"Nodes get the change when they next fetch: after a reconnect, or at\n"
		"half their key's life. Prints the result.\n\n"
		CLI_STATE_DIR_HELP
		"  --stun IP:PORT      a STUN server; repeat for more (at most %u)\n"
		"  --relay IP:PORT     a hub relay; repeat for more (at most %u)\n"
		"  --relay-key-lifetime SECONDS\n"
		"                      %u..%u (default %u)\n",
		BX_STORE_MAX_STUN, BX_STORE_MAX_RELAYS,
		BX_STORE_RELAY_KEY_LIFETIME_MIN_S,
		BX_STORE_RELAY_KEY_LIFETIME_MAX_S,
		BX_STORE_RELAY_KEY_LIFETIME_DEFAULT_S);
}

static void
show_help(FILE *f)
{
	fprintf(f,
		"usage: " SHOW_PROG " [--state-dir D]\n\n"
		"Prints the mesh settings nodes get: their version (0: never set),\n"
		"the STUN servers, the relays and the relay key lifetime.\n\n"
		CLI_STATE_DIR_HELP);
}

/* Takes one value of a list option; -1 after a usage error. */
static int
list_add(struct list_arg *l, const char *text)
{
	struct bx_store_endpoint e;
	unsigned i;

	l->given = true;
	if (strcmp(text, MESH_NONE) == 0) {
		l->none = true;
	} else {
		if (cli_parse_endpoint(SET_PROG, l->opt, text, &e) != 0)
			return -1;
		for (i = 0; i < l->n; i++)
			if (l->eps[i].ip == e.ip && l->eps[i].port == e.port) {
				cli_usage_error(SET_PROG, "%s '%s': given twice",
						l->opt, text);
				return -1;
			}
		if (l->n == l->max) {
			cli_usage_error(SET_PROG, "%s: at most %u", l->opt,
					l->max);
			return -1;
		}
		l->eps[l->n++] = e;
	}
	if (l->none && l->n > 0) {
		cli_usage_error(SET_PROG, "%s " MESH_NONE " empties the list: "
				"give it alone", l->opt);
		return -1;
	}
	return 0;
}

static void
print_list(const char *name, const struct bx_store_endpoint *eps,
	   unsigned n)
{
	char ip[INET_ADDRSTRLEN];
	struct in_addr a;
	unsigned i;

	printf("%s:", name);
	if (n == 0)
		printf(" " MESH_NONE);
	for (i = 0; i < n; i++) {
		a.s_addr = eps[i].ip;
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		printf("%s %s:%u", i > 0 ? "," : "", ip, eps[i].port);
	}
	printf("\n");
}

static void
print_mesh(const struct bx_store_mesh *m)
{
	char when[CLI_TIME_LEN];

	cli_time_text(m->set_ms, when);
	printf("version %" PRIu64 " (set %s)\n", m->version, when);
	print_list("stun", m->stun, m->n_stun);
	print_list("relays", m->relays, m->n_relays);
	printf("relay key lifetime: %" PRIu32 " s\n", m->relay_key_lifetime_s);
}

static int
mesh_set(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_STATE_DIR_OPTION,
		{ "stun", required_argument, NULL, OPT_STUN },
		{ "relay", required_argument, NULL, OPT_RELAY },
		{ "relay-key-lifetime", required_argument, NULL, OPT_LIFETIME },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bx_store_endpoint stun[BX_STORE_MAX_STUN];
	struct bx_store_endpoint relays[BX_STORE_MAX_RELAYS];
	struct list_arg stun_arg = {
		.opt = "--stun", .max = BX_STORE_MAX_STUN, .eps = stun,
	};
	struct list_arg relay_arg = {
		.opt = "--relay", .max = BX_STORE_MAX_RELAYS, .eps = relays,
	};
	const char *state_dir = CLI_DEFAULT_STATE_DIR;
	unsigned long lifetime = 0;
	struct bx_store *st = NULL;
	struct bx_store_mesh m;
	char err[CLI_ERR_LEN];
	int o, status = CLI_EXIT_FAIL;

	while ((o = cli_getopt(SET_PROG, argc, argv, opts)) != -1) {
		switch (o) {
		case CLI_OPT_STATE_DIR:
			state_dir = optarg;
			break;
		case OPT_STUN:
			if (list_add(&stun_arg, optarg) != 0)
				return CLI_EXIT_USAGE;
			break;
		case OPT_RELAY:
			if (list_add(&relay_arg, optarg) != 0)
				return CLI_EXIT_USAGE;
			break;
		case OPT_LIFETIME:
			if (cli_parse_uint(SET_PROG, "--relay-key-lifetime",
					   optarg,
					   BX_STORE_RELAY_KEY_LIFETIME_MIN_S,
					   BX_STORE_RELAY_KEY_LIFETIME_MAX_S,
					   &lifetime) != 0)
				return CLI_EXIT_USAGE;
			break;
		case 'h':
			set_help(stdout);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_usage_error(SET_PROG, "unexpected argument '%s'",
				argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (!stun_arg.given && !relay_arg.given && lifetime == 0) {
		cli_usage_error(SET_PROG, "nothing to set: give --stun, --relay "
				"or --relay-key-lifetime");
		return CLI_EXIT_USAGE;
	}
	if (cli_store_open(state_dir, false, &st) != 0)
		return CLI_EXIT_FAIL;
	if (bx_store_mesh_get(st, &m, err, sizeof(err)) != 0) {
		cli_error("%s", err);
		goto out;
	}
	if (stun_arg.given) {
		m.n_stun = stun_arg.n;
		memcpy(m.stun, stun, stun_arg.n * sizeof(*stun));
	}
	if (relay_arg.given) {
		m.n_relays = relay_arg.n;
		memcpy(m.relays, relays, relay_arg.n * sizeof(*relays));
	}
	if (lifetime != 0)
		m.relay_key_lifetime_s = (uint32_t)lifetime;
	if (bx_store_mesh_set(st, CLI_ACTOR, &m, NULL, err, sizeof(err)) != 0 ||
	    bx_store_mesh_get(st, &m, err, sizeof(err)) != 0) {
		cli_error("%s", err);
		goto out;
	}
	print_mesh(&m);
	status = CLI_EXIT_OK;
out:
	bx_store_close(st);
	return status;
}

static int
mesh_show(int argc, char **argv)
{
	const char *state_dir = CLI_DEFAULT_STATE_DIR;
	struct bx_store *st = NULL;
	struct bx_store_mesh m;
	char err[CLI_ERR_LEN];
	int o, rc;

	o = cli_state_dir_only(SHOW_PROG, argc, argv, show_help, &state_dir);
	if (o >= 0)
		return o;
	if (cli_store_open(state_dir, false, &st) != 0)
		return CLI_EXIT_FAIL;
	rc = bx_store_mesh_get(st, &m, err, sizeof(err));
	bx_store_close(st);
	if (rc != 0) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	print_mesh(&m);
	return CLI_EXIT_OK;
}

static const struct cli_cmd mesh_commands[] = {
	{ "set", "set the STUN servers, relays and relay key lifetime",
	  mesh_set },
	{ "show", "print the mesh settings", mesh_show },
};

int
cli_mesh(int argc, char **argv)
{
	return cli_dispatch(CLI_NAME " mesh", "subcommand", mesh_commands,
			    BX_ARRAY_SIZE(mesh_commands), argc, argv);
}
