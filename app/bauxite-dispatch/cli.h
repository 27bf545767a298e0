/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite-dispatch, the control hub's binary (DESIGN §1): its commands and
 * their shared plumbing, in the style of the `bauxite` CLI
 * (app/bauxite/cli.h). Every command is a row in a table; a command with
 * subcommands dispatches through a table of its own.
 *
 * Every command works on a state directory (--state-dir, default
 * CLI_DEFAULT_STATE_DIR): the store (dispatch.db, SQLite in WAL mode, so
 * these commands work while `serve` runs in another process) and the CA.
 */
#ifndef BX_DISPATCH_CLI_H
#define BX_DISPATCH_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bx_pki.h"
#include "bx_store.h"

#include "cli_core.h"

#define CLI_NAME "bauxite-dispatch"

#define CLI_DEFAULT_STATE_DIR "/var/lib/bauxite-dispatch"
#define CLI_STATE_DIR_MODE 0700
/* Permission bits a state directory must not have (see cli_state_dir_make). */
#define CLI_STATE_DIR_OTHERS 0077
/* Who the audit log names for what these commands change. */
#define CLI_ACTOR "cli"
/* "2024-05-01T12:00:00Z" */
#define CLI_TIME_LEN 21u


/*
 * --state-dir D, in every command: put CLI_STATE_DIR_OPTION in the option
 * table and CLI_STATE_DIR_HELP in the help.
 */
#define CLI_OPT_STATE_DIR 0x100
#define CLI_STATE_DIR_OPTION                                                  \
	{ "state-dir", required_argument, NULL, CLI_OPT_STATE_DIR }
#define CLI_STATE_DIR_HELP                                                    \
	"  --state-dir D       the hub's state directory (default\n"           \
	"                      " CLI_DEFAULT_STATE_DIR ")\n"

/*
 * The command line of a command that takes --state-dir and --help and no
 * argument: *@state_dir is the directory (CLI_DEFAULT_STATE_DIR when not
 * given). Returns -1 to go on, or the exit status to return at once
 * (after @help, or a usage error it printed).
 */
int cli_state_dir_only(const char *prog, int argc, char **argv,
		       void (*help)(FILE *f), const char **state_dir);

/*
 * Opens the store in @state_dir for a command, printing what failed.
 * With @create the directory (mode 0700) and the database are made when
 * missing; without, both must exist (a command that only reads should not
 * leave an empty hub behind a typo). Either way the directory's mode is
 * checked as in cli_state_dir_make. Returns 0 and *@out, or
 * CLI_EXIT_FAIL.
 */
int cli_store_open(const char *state_dir, bool create, struct bx_store **out);

/* Loads (or creates, like `serve` would) the hub's CA; prints failures. */
int cli_ca_open(const char *state_dir, struct bx_pki_ca **out);

/*
 * Makes @dir with mode 0700 if missing; an existing one must be a
 * directory without group or other permission bits (CLI_STATE_DIR_OTHERS),
 * or it is refused naming the fix. 0 or CLI_EXIT_FAIL (printed).
 */
int cli_state_dir_make(const char *dir);

/* @ms as ISO 8601 UTC to the second; "never" for 0. */
void cli_time_text(int64_t ms, char out[CLI_TIME_LEN]);

/* Now, in Unix ms. */
int64_t cli_now_ms(void);

/*
 * Option values. Each returns 0, or prints a usage error naming option
 * @opt of @prog and returns -1.
 *   cli_parse_uint     a decimal integer in [min, max]
 *   cli_parse_duration "30s", "15m", "1h", "2d" (a number and a unit) into
 *                      seconds, 1..max
 *   cli_parse_prefix   "a.b.c.d/len", host bits zero
 *   cli_parse_endpoint "a.b.c.d:port", a unicast IPv4 host (not 0.0.0.0/8,
 *                      multicast, reserved or broadcast) and a port
 *                      1..65535: a server nodes send to
 */
int cli_parse_uint(const char *prog, const char *opt, const char *text,
		   unsigned long min, unsigned long max, unsigned long *out);
int cli_parse_duration(const char *prog, const char *opt, const char *text,
		       uint32_t max, uint32_t *out);
int cli_parse_prefix(const char *prog, const char *opt, const char *text,
		     struct bx_store_prefix *out);
int cli_parse_endpoint(const char *prog, const char *opt, const char *text,
		       struct bx_store_endpoint *out);

/* The CA pin in base64url, as join tokens carry it. */
void cli_pin_text(const uint8_t pin[BX_PKI_SHA256_LEN],
		  char out[BX_PKI_PIN_B64_LEN + 1]);

int cli_serve(int argc, char **argv);
int cli_token(int argc, char **argv);
int cli_nodes(int argc, char **argv);
int cli_audit(int argc, char **argv);
int cli_policy(int argc, char **argv);
int cli_mesh(int argc, char **argv);
int cli_relay(int argc, char **argv);

#endif /* BX_DISPATCH_CLI_H */
