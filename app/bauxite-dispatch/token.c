/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite-dispatch token: join tokens (control/store, control/pki).
 *
 *   token create [--ttl DURATION] [--uses N] [--tag T]...
 *       prints only the join token, "<id>.<secret>.<CA pin>", on stdout
 *       (for scripts: TOKEN=$(bauxite-dispatch token create)); the secret
 *       exists nowhere else, the store keeps its hash
 *   token list
 *       every stored token, spent and expired ones too; never a secret
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "bx_common.h"
#include "bx_pki.h"
#include "bx_store.h"
#include "cli.h"

#define CREATE_PROG CLI_NAME " token create"
#define LIST_PROG CLI_NAME " token list"
#define TOKEN_DEFAULT_TTL_S 3600u
#define TOKEN_DEFAULT_USES 1u
/* Credential, '.', pin, NUL. */
#define JOIN_TOKEN_LEN (BX_STORE_TOKEN_LEN + 1u + BX_PKI_PIN_B64_LEN + 1u)
#define TAGS_TEXT_LEN (BX_STORE_MAX_TAGS * (BX_STORE_TAG_MAX + 1u) + 1u)

enum {
	OPT_TTL = 0x200,
	OPT_USES,
	OPT_TAG,
};

static void
create_help(FILE *f)
{
	fprintf(f,
		"usage: " CREATE_PROG " [--state-dir D] [--ttl DURATION] [--uses N]\n"
		"       [--tag T]...\n\n"
		"Makes a join token and prints it, alone, on stdout. A node joins\n"
		"with 'bauxite join TOKEN HUB'; the token carries the hub CA's pin, so\n"
		"the node needs no other trust. Works while 'serve' runs.\n\n"
		CLI_STATE_DIR_HELP
		"  --ttl DURATION      valid for 30s, 15m, 1h, 2d... (default 1h)\n"
		"  --uses N            nodes that may join with it (default 1)\n"
		"  --tag T             a tag the nodes get ([A-Za-z0-9._:=/-]);\n"
		"                      repeat for more (at most %u)\n",
		BX_STORE_MAX_TAGS);
}

static void
tags_text(const char tags[][BX_STORE_TAG_MAX + 1], unsigned n, char *out,
	  size_t outlen)
{
	size_t used = 0;
	unsigned i;

	out[0] = '\0';
	for (i = 0; i < n && used < outlen; i++)
		used += (size_t)snprintf(out + used, outlen - used, "%s%s",
					 i > 0 ? "," : "", tags[i]);
	if (n == 0)
		snprintf(out, outlen, "-");
}

static int
token_create(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_STATE_DIR_OPTION,
		{ "ttl", required_argument, NULL, OPT_TTL },
		{ "uses", required_argument, NULL, OPT_USES },
		{ "tag", required_argument, NULL, OPT_TAG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_dir = CLI_DEFAULT_STATE_DIR;
	const char *tags[BX_STORE_MAX_TAGS];
	char cred[BX_STORE_TOKEN_LEN + 1], token[JOIN_TOKEN_LEN];
	char err[CLI_ERR_LEN], expires[CLI_TIME_LEN];
	uint8_t pin[BX_PKI_SHA256_LEN];
	uint32_t ttl_s = TOKEN_DEFAULT_TTL_S;
	unsigned long uses = TOKEN_DEFAULT_USES;
	struct bx_store *st = NULL;
	struct bx_pki_ca *ca = NULL;
	unsigned n_tags = 0;
	int o, status = CLI_EXIT_FAIL;

	while ((o = cli_getopt(CREATE_PROG, argc, argv, opts)) != -1) {
		switch (o) {
		case CLI_OPT_STATE_DIR:
			state_dir = optarg;
			break;
		case OPT_TTL:
			if (cli_parse_duration(CREATE_PROG, "--ttl", optarg,
					       BX_STORE_TOKEN_TTL_MAX_S,
					       &ttl_s) != 0)
				return CLI_EXIT_USAGE;
			break;
		case OPT_USES:
			if (cli_parse_uint(CREATE_PROG, "--uses", optarg, 1,
					   BX_STORE_TOKEN_USES_MAX, &uses) != 0)
				return CLI_EXIT_USAGE;
			break;
		case OPT_TAG:
			if (n_tags == BX_STORE_MAX_TAGS) {
				cli_usage_error(CREATE_PROG,
						"--tag: at most %u tags",
						BX_STORE_MAX_TAGS);
				return CLI_EXIT_USAGE;
			}
			tags[n_tags++] = optarg;
			break;
		case 'h':
			create_help(stdout);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_usage_error(CREATE_PROG, "unexpected argument '%s'",
				argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (cli_store_open(state_dir, true, &st) != 0 ||
	    cli_ca_open(state_dir, &ca) != 0)
		goto out;
	bx_pki_ca_cert_sha256(ca, pin);
	if (bx_store_token_create(st, CLI_ACTOR, ttl_s, (uint32_t)uses, tags,
				  n_tags, cred, err, sizeof(err)) != 0) {
		/* The store names the tag or the limit. */
		cli_error("%s", err);
		goto out;
	}
	if (bx_pki_join_token_make(cred, pin, token, sizeof(token)) != 0) {
		cli_error("cannot make the join token");
		goto out;
	}
	printf("%s\n", token);
	cli_time_text(cli_now_ms() + (int64_t)ttl_s * 1000, expires);
	fprintf(stderr,
		CLI_NAME ": token %.*s: %lu use(s), expires %s, %u tag(s)\n",
		(int)BX_STORE_TOKEN_ID_LEN, cred, uses, expires, n_tags);
	status = CLI_EXIT_OK;
out:
	sodium_memzero(cred, sizeof(cred));
	sodium_memzero(token, sizeof(token));
	bx_pki_ca_free(ca);
	bx_store_close(st);
	return status;
}

struct list_ctx {
	int64_t now;
	unsigned n;
};

static int
print_token(const struct bx_store_token_info *t, void *arg)
{
	struct list_ctx *c = arg;
	char created[CLI_TIME_LEN], expires[CLI_TIME_LEN];
	char uses[24], tags[TAGS_TEXT_LEN];
	const char *state;

	cli_time_text(t->created_ms, created);
	cli_time_text(t->expires_ms, expires);
	snprintf(uses, sizeof(uses), "%u/%u", t->uses_left, t->uses_total);
	tags_text(t->tags, t->n_tags, tags, sizeof(tags));
	if (t->uses_left == 0)
		state = "used";
	else if (t->expires_ms <= c->now)
		state = "expired";
	else
		state = "valid";
	printf("%-16s  %-20s  %-20s  %-9s  %-7s  %s\n", t->id, created,
	       expires, uses, state, tags);
	c->n++;
	return 0;
}

static void
list_help(FILE *f)
{
	fprintf(f,
		"usage: " LIST_PROG " [--state-dir D]\n\n"
		"Lists every stored join token (USES is left/total). Secrets are\n"
		"never stored, so never shown.\n\n" CLI_STATE_DIR_HELP);
}

static int
token_list(int argc, char **argv)
{
	const char *state_dir = CLI_DEFAULT_STATE_DIR;
	struct list_ctx c = { cli_now_ms(), 0 };
	struct bx_store *st = NULL;
	char err[CLI_ERR_LEN];
	int o, status = CLI_EXIT_FAIL;

	o = cli_state_dir_only(LIST_PROG, argc, argv, list_help, &state_dir);
	if (o >= 0)
		return o;
	if (cli_store_open(state_dir, false, &st) != 0)
		return CLI_EXIT_FAIL;
	printf("%-16s  %-20s  %-20s  %-9s  %-7s  %s\n", "ID", "CREATED",
	       "EXPIRES", "USES", "STATE", "TAGS");
	if (bx_store_token_list(st, print_token, &c, err, sizeof(err)) != 0)
		cli_error("%s", err);
	else
		status = CLI_EXIT_OK;
	bx_store_close(st);
	return status;
}

static const struct cli_cmd token_commands[] = {
	{ "create", "make a join token and print it", token_create },
	{ "list", "list the join tokens", token_list },
};

int
cli_token(int argc, char **argv)
{
	return cli_dispatch(CLI_NAME " token", "subcommand", token_commands,
			    BX_ARRAY_SIZE(token_commands), argc, argv);
}
