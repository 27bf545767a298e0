/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `bauxite` operator CLI (DESIGN §1): its commands. The command
 * tables and option parsing are cli_core.h's, shared with
 * bauxite-dispatch; join, status and the rest are new rows, not new
 * parsing code.
 */
#ifndef BX_CLI_H
#define BX_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "cli_core.h"

#define CLI_NAME "bauxite"

/*
 * Talking to a running bauxite-app (telemetry.c): DPDK's telemetry v2
 * socket, a SOCK_SEQPACKET unix socket that DPDK 22.11 (lib/telemetry)
 * serves in every EAL process. Each connection starts with a greeting
 * {"version": ..., "pid": ..., "max_output_len": N}; after it, every
 * message sent is one command "/name" or "/name,params" and gets one
 * reply {"/name": data} of at most N bytes. data is null when the
 * process does not know the command (or its handler returned < 0, so
 * bauxite-app's handlers report failures inside data instead).
 */
#define CLI_TELEMETRY_SOCKET_NAME "dpdk_telemetry.v2"
#define CLI_TELEMETRY_DEFAULT_PREFIX "rte" /* EAL's --file-prefix default */
/* How long each step (connect, greeting, reply) may take. */
#define CLI_TELEMETRY_TIMEOUT_MS 5000
/* DPDK formats its greeting into 1 KiB and reads a command into 1 KiB
 * with room for a NUL, so neither is ever longer. */
#define CLI_TELEMETRY_GREETING_MAX 1024u
#define CLI_TELEMETRY_CMD_MAX 1023u
/* DPDK's MAX_CMD_LEN: a command name (before the ',') is shorter. */
#define CLI_TELEMETRY_NAME_MAX 56u
/* Reply buffer bound, whatever max_output_len a greeting claims (DPDK
 * 22.11 says 16 KiB): a confused peer cannot make us allocate more. */
#define CLI_TELEMETRY_REPLY_CAP (1024u * 1024u)

/* Whether @prefix can be an EAL --file-prefix here: non-empty, no '/'. */
bool cli_telemetry_prefix_ok(const char *prefix);

/*
 * The socket a command talks to: @socket when given, else the one an EAL
 * process started with --file-prefix @file_prefix (NULL: "rte") serves,
 * found the way EAL 22.11 picks its runtime directory:
 *   $RUNTIME_DIRECTORY (systemd RuntimeDirectory=), else /var/run for
 *   root, else $XDG_RUNTIME_DIR, else /tmp; then /dpdk/<prefix>/.
 * So the CLI must run as the same user, with the same environment, as
 * bauxite-app -- or be given --socket. Writes @out only on success.
 * Returns 0, -EINVAL (empty socket, bad prefix) or -ENAMETOOLONG (does
 * not fit in @outlen).
 */
int cli_telemetry_path(const char *file_prefix, const char *socket, char *out,
		       size_t outlen);

/*
 * One command round trip on the telemetry socket @path: connects, checks
 * the greeting, sends @cmd ("/name" or "/name,params"), waits up to
 * CLI_TELEMETRY_TIMEOUT_MS for the reply and checks it is the object
 * {"/name": data}. On success *@data is a new reference to data (never
 * JSON null); the caller json_decref()s it. On failure *@data is
 * untouched and @err names what failed ("cannot connect to PATH: ...",
 * "no reply to /name within 5 s", "reply to /name is not JSON: ...").
 * Returns 0 or
 *   -EINVAL        @cmd is not "/name[,params]" within the limits above
 *   -ENAMETOOLONG  @path does not fit in a unix socket address
 *   -ENOENT, -ECONNREFUSED, -EACCES, ...  connect failed (nobody there)
 *   -ETIMEDOUT     a step took longer than the timeout
 *   -ECONNRESET    the peer hung up before its greeting or reply (DPDK
 *                  closes connections beyond its 10th at once)
 *   -EPROTO        the greeting or reply is not what the protocol says
 *   -EMSGSIZE      the reply is longer than the greeting's max_output_len
 *   -EOPNOTSUPP    data is null: the process does not know the command
 *   -ENOMEM
 */
int cli_telemetry_query(const char *path, const char *cmd, json_t **data,
			char *err, size_t errlen);

/* The same with another timeout in ms (> 0) for each step. */
int cli_telemetry_query_timeout(const char *path, const char *cmd,
				int timeout_ms, json_t **data, char *err,
				size_t errlen);

/*
 * --file-prefix NAME | --socket PATH: how every command that talks to a
 * running bauxite-app names it. Such a command
 *   - puts CLI_TELEMETRY_OPTIONS in its struct option table,
 *   - puts CLI_TELEMETRY_HELP in its --help,
 *   - hands every option getopt returns to cli_telemetry_option() first,
 *   - and calls cli_telemetry_call() with the filled target.
 * The option values are above any char, so they never clash with a
 * command's own short options.
 */
#define CLI_OPT_FILE_PREFIX 0x100
#define CLI_OPT_SOCKET 0x101
#define CLI_TELEMETRY_OPTIONS                                                 \
	{ "file-prefix", required_argument, NULL, CLI_OPT_FILE_PREFIX },      \
	{ "socket", required_argument, NULL, CLI_OPT_SOCKET }
#define CLI_TELEMETRY_HELP                                                    \
	"  --file-prefix NAME  the EAL --file-prefix bauxite-app runs with\n" \
	"                      (default "                                     \
	CLI_TELEMETRY_DEFAULT_PREFIX "); its socket is then\n"                \
	"                      /var/run/dpdk/NAME/"                            \
	CLI_TELEMETRY_SOCKET_NAME " for root\n"                                \
	"  --socket PATH       the telemetry socket itself\n"

struct cli_telemetry_target {
	const char *file_prefix; /* NULL: CLI_TELEMETRY_DEFAULT_PREFIX */
	const char *socket;      /* NULL: found from file_prefix */
};

/*
 * Takes option @o (value @arg) into @t if it is one of
 * CLI_TELEMETRY_OPTIONS. Returns 1 if it was, 0 if @o is not one of them,
 * -1 after a usage error naming @prog (bad prefix, both options given).
 */
int cli_telemetry_option(const char *prog, struct cli_telemetry_target *t,
			 int o, const char *arg);

/*
 * cli_telemetry_query() on the socket @t names. When nothing listens
 * there, @err adds the likely reason: "(is bauxite-app running with
 * --file-prefix rte?)". Same returns and contract.
 */
int cli_telemetry_call(const struct cli_telemetry_target *t, const char *cmd,
		       json_t **data, char *err, size_t errlen);

int cli_keys(int argc, char **argv);
int cli_join(int argc, char **argv);
int cli_hub(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_intent(int argc, char **argv);
int cli_snapshot(int argc, char **argv);
int cli_safety(int argc, char **argv);
int cli_jamming(int argc, char **argv);

#endif /* BX_CLI_H */
