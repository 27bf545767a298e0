/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite intent: what the operator (or the robot's planner) wants of the
 * running bauxite-app's traffic, through its telemetry socket:
 *
 *   bauxite intent throttle-bulk KBPS   Bulk lane at most KBPS kbit/s (0: off)
 *   bauxite intent fec LEVEL            normal | aggressive | absolute:
 *                                       aggressive and absolute lift Bulk
 *                                       into the Telemetry lane
 *   bauxite intent show                 the safety state and the intents
 *
 * Each takes [--file-prefix NAME | --socket PATH] like `bauxite status`.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "bx_common.h"
#include "cli.h"

#define INTENT_PROG CLI_NAME " intent"
/* bauxite-app's telemetry commands (app/bauxite-app/main.c). */
#define INTENT_CMD "/bauxite/intent"
#define SAFETY_CMD "/bauxite/safety"
/* "/bauxite/intent," + "throttle_bulk_kbps=" + the value. */
#define CMD_LEN 128u

static void
intent_help(FILE *f, const char *prog, const char *args, const char *what)
{
	fprintf(f,
		"usage: %s %s [--file-prefix NAME | --socket PATH]\n\n%s\n\n"
		"  --file-prefix NAME  the app's EAL --file-prefix (default rte)\n"
		"  --socket PATH       its telemetry socket, if elsewhere\n",
		prog, args, what);
}

/* Parses the common options; the positional arguments are left from
 * optind. Returns 1 after --help, 0 to go on, -1 on a usage error. */
static int
intent_options(const char *prog, int argc, char **argv,
	       struct cli_telemetry_target *target, const char *args,
	       const char *what)
{
	static const struct option opts[] = {
		CLI_TELEMETRY_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o, rc;

	while ((o = cli_getopt(prog, argc, argv, opts)) != -1) {
		rc = cli_telemetry_option(prog, target, o, optarg);
		if (rc < 0)
			return -1;
		if (rc > 0)
			continue;
		if (o != 'h')
			return -1;
		intent_help(stdout, prog, args, what);
		return 1;
	}
	return 0;
}

/* Sends KEY=VALUE and prints the app's answer (or its refusal). */
static int
intent_set(const char *prog, int argc, char **argv, const char *key,
	   const char *args, const char *what)
{
	struct cli_telemetry_target target = { NULL, NULL };
	char cmd[CMD_LEN], err[CLI_ERR_LEN];
	const json_t *v;
	json_t *data = NULL;
	int rc;

	rc = intent_options(prog, argc, argv, &target, args, what);
	if (rc != 0)
		return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (argc - optind != 1) {
		cli_usage_error(prog, "expected %s, got %d arguments", args,
				argc - optind);
		return CLI_EXIT_USAGE;
	}
	if (strchr(argv[optind], ',') != NULL ||
	    (size_t)snprintf(cmd, sizeof(cmd), INTENT_CMD ",%s=%s", key,
			     argv[optind]) >= sizeof(cmd)) {
		cli_usage_error(prog, "'%s' is not a value", argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (cli_telemetry_call(&target, cmd, &data, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	v = json_object_get(data, "error");
	if (json_is_string(v)) {
		cli_error("intent: bauxite-app refused: %s", json_string_value(v));
		json_decref(data);
		return CLI_EXIT_FAIL;
	}
	v = json_object_get(data, "ok");
	printf("%s\n", json_is_string(v) ? json_string_value(v) : "done");
	json_decref(data);
	return CLI_EXIT_OK;
}

static int
intent_throttle(int argc, char **argv)
{
	return intent_set(INTENT_PROG " throttle-bulk", argc, argv,
			  "throttle_bulk_kbps", "KBPS",
			  "Limits the Bulk lane to KBPS kbit/s (a token bucket on each\n"
			  "worker; excess is dropped as intent_throttled). 0 lifts it.");
}

static int
intent_fec(int argc, char **argv)
{
	return intent_set(INTENT_PROG " fec", argc, argv, "fec", "LEVEL",
			  "LEVEL normal, aggressive or absolute. Aggressive and absolute\n"
			  "lift Bulk traffic into the Telemetry lane; normal restores it.");
}

static int
intent_show(int argc, char **argv)
{
	struct cli_telemetry_target target = { NULL, NULL };
	char err[CLI_ERR_LEN];
	const char *keys[] = { "state", "bulk_kbps", "fec", "congested" };
	json_t *data = NULL;
	size_t i;
	int rc;

	rc = intent_options(INTENT_PROG " show", argc, argv, &target, "",
			    "Prints the safety state (NORMAL, SEVERED, PROBATION) and\n"
			    "the intents in force.");
	if (rc != 0)
		return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (optind < argc) {
		cli_usage_error(INTENT_PROG " show", "unexpected argument '%s'",
				argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (cli_telemetry_call(&target, SAFETY_CMD, &data, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	if (json_is_string(json_object_get(data, "error"))) {
		cli_error("intent show: %s",
			  json_string_value(json_object_get(data, "error")));
		json_decref(data);
		return CLI_EXIT_FAIL;
	}
	for (i = 0; i < BX_ARRAY_SIZE(keys); i++) {
		const json_t *v = json_object_get(data, keys[i]);

		if (json_is_string(v))
			printf("%-12s %s\n", keys[i], json_string_value(v));
		else if (json_is_integer(v))
			printf("%-12s %" JSON_INTEGER_FORMAT "\n", keys[i],
			       json_integer_value(v));
	}
	json_decref(data);
	return CLI_EXIT_OK;
}

static const struct cli_cmd intent_commands[] = {
	{ "throttle-bulk", "limit the Bulk lane to KBPS kbit/s (0: no limit)",
	  intent_throttle },
	{ "fec", "normal | aggressive | absolute: lift Bulk into Telemetry",
	  intent_fec },
	{ "show", "the safety state and the intents in force", intent_show },
};

int
cli_intent(int argc, char **argv)
{
	return cli_dispatch(INTENT_PROG, "subcommand", intent_commands,
			    BX_ARRAY_SIZE(intent_commands), argc, argv);
}
