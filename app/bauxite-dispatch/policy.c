/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite-dispatch policy: the mesh's classification rules, kept in the
 * store and streamed by a running `serve` to every node.
 *
 *   policy set FILE    FILE is a JSON array of rules, the config's "rules"
 *                      format (config/README.md), checked as nodes will
 *                      load it; prints the new version
 *   policy show        the version and the rules
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "bx_common.h"
#include "bx_dispatch.h"
#include "bx_store.h"
#include "cli.h"

#define SET_PROG CLI_NAME " policy set"
#define SHOW_PROG CLI_NAME " policy show"

static void
set_help(FILE *f)
{
	fprintf(f,
		"usage: " SET_PROG " FILE [--state-dir D]\n\n"
		"Replaces the mesh's classification rules with those in FILE, a JSON\n"
		"array of rule objects as in a config's \"rules\" (config/README.md),\n"
		"e.g. [{\"proto\": \"tcp\", \"dst_port\": 23, \"action\": \"deny\"}].\n"
		"They are checked as the nodes will load them; a running 'serve'\n"
		"pushes them to every node. Prints the new policy version.\n\n"
		CLI_STATE_DIR_HELP);
}

/* The whole file, at most BX_STORE_POLICY_MAX bytes; prints failures. */
static char *
read_file(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cli_error("%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(BX_STORE_POLICY_MAX + 1);
	if (buf == NULL) {
		cli_error("%s: out of memory", path);
		goto fail;
	}
	/* One byte more than allowed tells a file that is too long. */
	while (len <= BX_STORE_POLICY_MAX) {
		n = read(fd, buf + len, BX_STORE_POLICY_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_error("%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > BX_STORE_POLICY_MAX) {
		cli_error("%s: more than %u bytes", path, BX_STORE_POLICY_MAX);
		goto fail;
	}
	if (memchr(buf, '\0', len) != NULL) {
		cli_error("%s: not a text file (NUL byte)", path);
		goto fail;
	}
	buf[len] = '\0';
	close(fd);
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

static int
policy_set(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_STATE_DIR_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_dir = CLI_DEFAULT_STATE_DIR;
	char *text = NULL, *policy = NULL;
	struct bx_store *st = NULL;
	char err[CLI_ERR_LEN];
	const char *file;
	uint64_t version = 0;
	unsigned n_rules = 0;
	int o, status = CLI_EXIT_FAIL;

	while ((o = cli_getopt(SET_PROG, argc, argv, opts)) != -1) {
		switch (o) {
		case CLI_OPT_STATE_DIR:
			state_dir = optarg;
			break;
		case 'h':
			set_help(stdout);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		cli_usage_error(SET_PROG, "missing the rules FILE");
		return CLI_EXIT_USAGE;
	}
	if (optind + 1 < argc) {
		cli_usage_error(SET_PROG, "unexpected argument '%s'",
				argv[optind + 1]);
		return CLI_EXIT_USAGE;
	}
	file = argv[optind];
	text = read_file(file);
	if (text == NULL)
		goto out;
	if (bx_dispatch_policy_make(text, &policy, &n_rules, err,
				    sizeof(err)) != 0) {
		cli_error("%s: %s", file, err);
		goto out;
	}
	if (cli_store_open(state_dir, false, &st) != 0)
		goto out;
	if (bx_store_policy_set(st, CLI_ACTOR, policy, &version, err,
				sizeof(err)) != 0) {
		cli_error("%s", err);
		goto out;
	}
	printf("policy version %" PRIu64 " (%u rule%s)\n", version, n_rules,
	       n_rules == 1 ? "" : "s");
	status = CLI_EXIT_OK;
out:
	bx_store_close(st);
	free(policy);
	free(text);
	return status;
}

static void
show_help(FILE *f)
{
	fprintf(f,
		"usage: " SHOW_PROG " [--state-dir D]\n\n"
		"Prints \"version N\" and the rules nodes get, as a JSON array.\n"
		"Version 0 and [] when none was ever set (nodes keep their\n"
		"config's rules).\n\n"
		CLI_STATE_DIR_HELP);
}

static int
policy_show(int argc, char **argv)
{
	const char *state_dir = CLI_DEFAULT_STATE_DIR;
	char *policy = NULL, *rules = NULL, *pretty = NULL;
	struct bx_store *st = NULL;
	char err[CLI_ERR_LEN];
	uint64_t version = 0;
	json_t *arr = NULL;
	int o, rc, status = CLI_EXIT_FAIL;

	o = cli_state_dir_only(SHOW_PROG, argc, argv, show_help, &state_dir);
	if (o >= 0)
		return o;
	if (cli_store_open(state_dir, false, &st) != 0)
		return CLI_EXIT_FAIL;
	rc = bx_store_policy_get(st, &policy, &version, err, sizeof(err));
	if (rc == -ENOENT) {
		fprintf(stderr, CLI_NAME ": no policy set: nodes use their "
				"config's rules\n");
		printf("version 0\n[]\n");
		status = CLI_EXIT_OK;
		goto out;
	}
	if (rc != 0 ||
	    bx_dispatch_policy_rules(policy, &rules, err, sizeof(err)) != 0) {
		cli_error("%s", err);
		goto out;
	}
	arr = json_loads(rules, 0, NULL);
	pretty = arr != NULL ? json_dumps(arr, JSON_INDENT(2)) : NULL;
	printf("version %" PRIu64 "\n%s\n", version,
	       pretty != NULL ? pretty : rules);
	status = CLI_EXIT_OK;
out:
	free(pretty);
	json_decref(arr);
	free(rules);
	free(policy);
	bx_store_close(st);
	return status;
}

static const struct cli_cmd policy_commands[] = {
	{ "set", "replace the rules from a JSON file", policy_set },
	{ "show", "print the current rules", policy_show },
};

int
cli_policy(int argc, char **argv)
{
	return cli_dispatch(CLI_NAME " policy", "subcommand", policy_commands,
			    BX_ARRAY_SIZE(policy_commands), argc, argv);
}
