/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite keys: the node identity (control/identity).
 *
 *   keys generate --dir DIR [--force]   create the key pair files in DIR
 *   keys show [--dir DIR | --config FILE]
 *                                       print the public keys
 *
 * Both print the public keys, labelled, one per line:
 *   ed25519_public  <base64>
 *   x25519_public   <base64>
 * Private keys are never printed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "bx_common.h"
#include "bx_config.h"
#include "bx_identity.h"
#include "cli.h"

#define GENERATE_PROG CLI_NAME " keys generate"
#define SHOW_PROG CLI_NAME " keys show"

static void
print_public_keys(const struct bx_identity *id)
{
	char b64[BX_IDENTITY_KEY_B64_LEN + 1];

	bx_identity_key_to_b64(bx_identity_ed25519_public(id), b64);
	printf("ed25519_public  %s\n", b64);
	bx_identity_key_to_b64(bx_identity_x25519_public(id), b64);
	printf("x25519_public   %s\n", b64);
}

static void
generate_help(FILE *f)
{
	fprintf(f,
		"usage: " GENERATE_PROG " --dir DIR [--force]\n\n"
		"Creates the node identity in DIR (made with mode 0700 if missing):\n"
		"an Ed25519 signing key (" BX_IDENTITY_ED25519_FILE ") and an X25519\n"
		"key-exchange key (" BX_IDENTITY_X25519_FILE "), private, mode 0600.\n"
		"Prints the public keys. DIR is the node's state_dir.\n\n"
		"  --dir DIR   where to create the key files (required)\n"
		"  --force     replace an existing identity: peers and the hub\n"
		"              will no longer recognise the node by its old keys\n");
}

static int
keys_generate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bx_identity *id = NULL;
	const char *dir = NULL;
	char err[CLI_ERR_LEN];
	bool force = false;
	int o, rc;

	while ((o = cli_getopt(GENERATE_PROG, argc, argv, opts)) != -1) {
		switch (o) {
		case 'd':
			dir = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			generate_help(stdout);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_usage_error(GENERATE_PROG, "unexpected argument '%s'",
				argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (dir == NULL) {
		cli_usage_error(GENERATE_PROG, "--dir DIR is required");
		return CLI_EXIT_USAGE;
	}
	rc = bx_identity_generate(dir, force, &id, err, sizeof(err));
	if (rc < 0) {
		cli_error("%s%s", err,
			  rc == -EEXIST ? " (--force replaces it)" : "");
		return CLI_EXIT_FAIL;
	}
	print_public_keys(id);
	fprintf(stderr, CLI_NAME ": wrote %s/" BX_IDENTITY_ED25519_FILE
			" and %s/" BX_IDENTITY_X25519_FILE " (mode 0600)\n",
		dir, dir);
	bx_identity_free(id);
	return CLI_EXIT_OK;
}

static void
show_help(FILE *f)
{
	fprintf(f,
		"usage: " SHOW_PROG " [--dir DIR | --config FILE]\n\n"
		"Prints the node's Ed25519 and X25519 public keys in base64.\n\n"
		"  --dir DIR      the state directory holding the key files\n"
		"  --config FILE  a bauxite-app config: use its state_dir\n"
		"With neither, DIR is " BX_CONFIG_DEFAULT_STATE_DIR ".\n");
}

static int
keys_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *config = NULL;
	struct bx_identity *id = NULL;
	struct bx_config *cfg = NULL;
	char err[CLI_ERR_LEN];
	int o, rc, status = CLI_EXIT_FAIL;

	while ((o = cli_getopt(SHOW_PROG, argc, argv, opts)) != -1) {
		switch (o) {
		case 'd':
			dir = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			show_help(stdout);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_usage_error(SHOW_PROG, "unexpected argument '%s'",
				argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (dir != NULL && config != NULL) {
		cli_usage_error(SHOW_PROG, "give --dir or --config, not both");
		return CLI_EXIT_USAGE;
	}
	if (config != NULL) {
		if (bx_config_load(config, &cfg, err, sizeof(err)) < 0) {
			cli_error("%s", err);
			return CLI_EXIT_FAIL;
		}
		dir = cfg->state_dir;
	} else if (dir == NULL) {
		dir = BX_CONFIG_DEFAULT_STATE_DIR;
	}
	rc = bx_identity_load(dir, &id, err, sizeof(err));
	if (rc == -ENOENT) {
		cli_error("%s (no identity yet? create it with '" CLI_NAME
			  " keys generate --dir %s')", err, dir);
		goto out;
	}
	if (rc < 0) {
		cli_error("%s", err);
		goto out;
	}
	print_public_keys(id);
	status = CLI_EXIT_OK;
out:
	bx_identity_free(id);
	bx_config_free(cfg);
	return status;
}

static const struct cli_cmd keys_commands[] = {
	{ "generate", "create the identity key files in a directory",
	  keys_generate },
	{ "show", "print the node's public keys", keys_show },
};

int
cli_keys(int argc, char **argv)
{
	return cli_dispatch(CLI_NAME " keys", "subcommand", keys_commands,
			    BX_ARRAY_SIZE(keys_commands), argc, argv);
}
