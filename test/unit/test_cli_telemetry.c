/* SPDX-License-Identifier: Apache-2.0 */
/*
 * app/bauxite/telemetry.c: the CLI's client for DPDK's telemetry v2
 * socket. A server thread in this process plays the DPDK side on a real
 * SOCK_SEQPACKET socket in a temporary directory, one scripted connection
 * per case (greeting, then a reply, silence or a hang-up), and records the
 * command it was sent. No EAL: the protocol is what is under test; the
 * manual check against a real EAL process is in the CLI's report.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "bx_common.h"
#include "cli.h"

#define SAVE_CMD "/bauxite/snapshot/save"
#define GREETING                                                              \
	"{\"version\":\"DPDK 22.11.0\",\"pid\":42,\"max_output_len\":16384}"
#define SHORT_TIMEOUT_MS 200
/* A server thread gives up on a client that never comes, so a broken
 * client fails its test instead of hanging the suite. */
#define ACCEPT_TIMEOUT_MS 10000
#define ERR_LEN 512u
#define PATH_LEN 160u /* socket paths under tmp_dir, with room to spare */

/* What the scripted server does at one step of the conversation. */
enum step {
	STEP_SEND,   /* send the message */
	STEP_SILENT, /* say nothing until the client hangs up */
	STEP_CLOSE,  /* hang up */
};

struct server {
	char path[PATH_LEN];
	int listen_fd;
	pthread_t thread;
	enum step greet;
	const char *greeting;
	enum step answer;
	const char *reply;
	char got[2048]; /* the command received, NUL-terminated */
	ssize_t got_len; /* -1: none */
};

/* "/tmp/bx_cli_tel.XXXXXX": short, so socket paths under it fit. */
static char tmp_dir[64];
static json_t *const untouched = (json_t *)&tmp_dir; /* never dereferenced */

static int
group_setup(void **state)
{
	(void)state;
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/bx_cli_tel.XXXXXX");
	return mkdtemp(tmp_dir) != NULL ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	return rmdir(tmp_dir);
}

/* Waits for the client to hang up, reading and dropping what it sends. */
static void
drain(int fd)
{
	char buf[64];

	while (recv(fd, buf, sizeof(buf), 0) > 0)
		continue;
}

static void *
serve_one(void *arg)
{
	struct server *s = arg;
	struct pollfd pfd = { .fd = s->listen_fd, .events = POLLIN };
	ssize_t n;
	int fd;

	if (poll(&pfd, 1, ACCEPT_TIMEOUT_MS) != 1)
		return NULL;
	fd = accept(s->listen_fd, NULL, NULL);
	if (fd < 0)
		return NULL;
	if (s->greet == STEP_CLOSE)
		goto out;
	if (s->greet == STEP_SEND)
		send(fd, s->greeting, strlen(s->greeting), MSG_NOSIGNAL);
	n = recv(fd, s->got, sizeof(s->got) - 1, 0);
	if (n <= 0)
		goto out;
	s->got[n] = '\0';
	s->got_len = n;
	if (s->answer == STEP_SEND)
		send(fd, s->reply, strlen(s->reply), MSG_NOSIGNAL);
	if (s->answer != STEP_CLOSE)
		drain(fd);
out:
	close(fd);
	return NULL;
}

/* Listens on @path (its directory must exist) and serves one client. */
static void
server_start(struct server *s, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	assert_true(strlen(path) < sizeof(addr.sun_path));
	snprintf(s->path, sizeof(s->path), "%s", path);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	s->got_len = -1;
	s->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_true(s->listen_fd >= 0);
	assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&addr,
			      sizeof(addr)), 0);
	assert_int_equal(listen(s->listen_fd, 1), 0);
	assert_int_equal(pthread_create(&s->thread, NULL, serve_one, s), 0);
}

static void
server_stop(struct server *s)
{
	assert_int_equal(pthread_join(s->thread, NULL), 0);
	close(s->listen_fd);
	unlink(s->path);
}

static void
assert_json_equal(const json_t *got, const char *want_text)
{
	json_t *want = json_loads(want_text, JSON_DECODE_ANY, NULL);

	assert_non_null(want);
	if (!json_equal(got, want)) {
		char *text = json_dumps(got, JSON_COMPACT);
		char msg[ERR_LEN];

		snprintf(msg, sizeof(msg), "data %s, expected %s",
			 text != NULL ? text : "?", want_text);
		free(text);
		json_decref(want);
		fail_msg("%s", msg);
	}
	json_decref(want);
}

static void
assert_contains(const char *s, const char *part)
{
	if (strstr(s, part) == NULL)
		fail_msg("'%s' does not contain '%s'", s, part);
}

struct exchange_case {
	const char *name;
	enum step greet;
	const char *greeting;
	const char *cmd;
	enum step answer;
	const char *reply;
	int rc;
	const char *err;  /* part of the error, "%s" standing for the path */
	const char *data; /* JSON expected in *data when rc is 0 */
	bool cmd_sent;    /* whether the server must have received cmd */
};

static const struct exchange_case exchange_cases[] = {
	{ "saved", STEP_SEND, GREETING, SAVE_CMD, STEP_SEND,
	  "{\"" SAVE_CMD "\":{\"path\":\"/var/lib/bauxite/state.snapshot\","
	  "\"peers\":1,\"bytes\":123}}",
	  0, NULL,
	  "{\"path\":\"/var/lib/bauxite/state.snapshot\",\"peers\":1,"
	  "\"bytes\":123}",
	  true },
	{ "failure is data too", STEP_SEND, GREETING, SAVE_CMD, STEP_SEND,
	  "{\"" SAVE_CMD "\":{\"error\":\"state_dir /x: Permission denied\"}}",
	  0, NULL, "{\"error\":\"state_dir /x: Permission denied\"}", true },
	{ "params are not in the key", STEP_SEND, GREETING,
	  "/ethdev/stats,0", STEP_SEND,
	  "{\"/ethdev/stats\":{\"ipackets\":7}}", 0, NULL,
	  "{\"ipackets\":7}", true },
	{ "unknown command", STEP_SEND, GREETING, SAVE_CMD, STEP_SEND,
	  "{\"" SAVE_CMD "\":null}", -EOPNOTSUPP,
	  "bauxite-app does not know the command " SAVE_CMD " (too old?)",
	  NULL, true },
	{ "reply not JSON", STEP_SEND, GREETING, SAVE_CMD, STEP_SEND,
	  "{\"" SAVE_CMD "\":{\"path\":", -EPROTO,
	  "reply to " SAVE_CMD " is not JSON: ", NULL, true },
	{ "reply under another key", STEP_SEND, GREETING, SAVE_CMD, STEP_SEND,
	  "{\"/bauxite/stats\":{\"rx\":1}}", -EPROTO,
	  "reply to " SAVE_CMD " is not the object", NULL, true },
	{ "reply with a second key", STEP_SEND, GREETING, SAVE_CMD, STEP_SEND,
	  "{\"" SAVE_CMD "\":{},\"x\":1}", -EPROTO,
	  "reply to " SAVE_CMD " is not the object", NULL, true },
	{ "reply not an object", STEP_SEND, GREETING, SAVE_CMD, STEP_SEND,
	  "[\"" SAVE_CMD "\"]", -EPROTO,
	  "reply to " SAVE_CMD " is not the object", NULL, true },
	{ "no reply", STEP_SEND, GREETING, SAVE_CMD, STEP_SILENT, NULL,
	  -ETIMEDOUT, "no reply to " SAVE_CMD " within 0.2 s", NULL, true },
	{ "hang-up instead of a reply", STEP_SEND, GREETING, SAVE_CMD,
	  STEP_CLOSE, NULL, -ECONNRESET,
	  "closed the connection without replying to " SAVE_CMD, NULL, true },
	{ "reply longer than announced", STEP_SEND,
	  "{\"version\":\"x\",\"pid\":1,\"max_output_len\":32}", SAVE_CMD,
	  STEP_SEND,
	  "{\"" SAVE_CMD "\":{\"path\":\"/var/lib/bauxite/state.snapshot\"}}",
	  -EMSGSIZE, "reply to " SAVE_CMD " is longer than the 32 bytes",
	  NULL, true },
	{ "no greeting", STEP_SILENT, NULL, SAVE_CMD, STEP_SILENT, NULL,
	  -ETIMEDOUT, "no greeting from %s within 0.2 s", NULL, false },
	{ "hang-up instead of a greeting", STEP_CLOSE, NULL, SAVE_CMD,
	  STEP_CLOSE, NULL, -ECONNRESET,
	  "%s closed the connection before its greeting", NULL, false },
	{ "greeting not JSON", STEP_SEND, "DPDK telemetry", SAVE_CMD,
	  STEP_SILENT, NULL, -EPROTO, "greeting from %s is not JSON: ", NULL,
	  false },
	{ "greeting without max_output_len", STEP_SEND,
	  "{\"version\":\"x\",\"pid\":1}", SAVE_CMD, STEP_SILENT, NULL,
	  -EPROTO, "greeting from %s has no positive max_output_len", NULL,
	  false },
	{ "greeting with max_output_len 0", STEP_SEND,
	  "{\"version\":\"x\",\"pid\":1,\"max_output_len\":0}", SAVE_CMD,
	  STEP_SILENT, NULL, -EPROTO,
	  "greeting from %s has no positive max_output_len", NULL, false },
};

static void
test_exchanges(void **state)
{
	char path[PATH_LEN], err[ERR_LEN], want_err[ERR_LEN];
	size_t i;

	(void)state;
	snprintf(path, sizeof(path), "%s/tel.sock", tmp_dir);
	for (i = 0; i < BX_ARRAY_SIZE(exchange_cases); i++) {
		const struct exchange_case *c = &exchange_cases[i];
		struct server s = {
			.greet = c->greet,
			.greeting = c->greeting,
			.answer = c->answer,
			.reply = c->reply,
		};
		json_t *data = untouched;
		int rc;

		print_message("# exchange: %s\n", c->name);
		err[0] = '\0';
		server_start(&s, path);
		rc = cli_telemetry_query_timeout(path, c->cmd, SHORT_TIMEOUT_MS,
						 &data, err, sizeof(err));
		server_stop(&s);
		if (rc != c->rc)
			fail_msg("%s: rc %d (%s), expected %d", c->name, rc,
				 err, c->rc);
		if (c->cmd_sent) {
			/* The command goes out as is: one message, no NUL. */
			assert_int_equal(s.got_len, (ssize_t)strlen(c->cmd));
			assert_string_equal(s.got, c->cmd);
		} else {
			assert_int_equal(s.got_len, -1);
		}
		if (c->rc == 0) {
			assert_json_equal(data, c->data);
			json_decref(data);
			continue;
		}
		assert_ptr_equal(data, untouched);
		snprintf(want_err, sizeof(want_err), c->err, path);
		assert_contains(err, want_err);
	}
}

/* A reply as long as max_output_len says fits: the bound is inclusive. */
static void
test_reply_of_max_len(void **state)
{
	static const char reply[] = "{\"/x\":\"abcdefghij\"}";
	char path[PATH_LEN], greeting[128], err[ERR_LEN] = "";
	struct server s = { .greet = STEP_SEND, .answer = STEP_SEND,
			    .reply = reply };
	json_t *data = untouched;

	(void)state;
	snprintf(greeting, sizeof(greeting),
		 "{\"version\":\"x\",\"pid\":1,\"max_output_len\":%zu}",
		 strlen(reply));
	s.greeting = greeting;
	snprintf(path, sizeof(path), "%s/tel.sock", tmp_dir);
	server_start(&s, path);
	assert_int_equal(cli_telemetry_query_timeout(path, "/x",
						     SHORT_TIMEOUT_MS, &data,
						     err, sizeof(err)),
			 0);
	server_stop(&s);
	assert_json_equal(data, "\"abcdefghij\"");
	json_decref(data);
}

static void
test_no_socket(void **state)
{
	char path[PATH_LEN], err[ERR_LEN] = "", want[ERR_LEN];
	json_t *data = untouched;

	(void)state;
	snprintf(path, sizeof(path), "%s/absent/" CLI_TELEMETRY_SOCKET_NAME,
		 tmp_dir);
	assert_int_equal(cli_telemetry_query(path, SAVE_CMD, &data, err,
					     sizeof(err)),
			 -ENOENT);
	assert_ptr_equal(data, untouched);
	snprintf(want, sizeof(want), "cannot connect to %s: %s", path,
		 strerror(ENOENT));
	assert_string_equal(err, want);
}

/* Bad arguments are refused before any connection is tried. */
static void
test_bad_arguments(void **state)
{
	char long_name[CLI_TELEMETRY_NAME_MAX + 2];
	char long_cmd[CLI_TELEMETRY_CMD_MAX + 2];
	char long_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	char err[ERR_LEN];
	json_t *data = untouched;

	(void)state;
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[0] = '/';
	long_name[sizeof(long_name) - 1] = '\0';
	memcpy(long_cmd, "/x,", 3);
	memset(long_cmd + 3, 'p', sizeof(long_cmd) - 4);
	long_cmd[sizeof(long_cmd) - 1] = '\0';
	memset(long_path, 'd', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';

	assert_int_equal(cli_telemetry_query("/nonexistent", "bauxite",
					     &data, err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "'bauxite' is not /name[,params]");
	assert_int_equal(cli_telemetry_query("/nonexistent", long_name, &data,
					     err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(cli_telemetry_query("/nonexistent", long_cmd, &data,
					     err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(cli_telemetry_query(long_path, SAVE_CMD, &data, err,
					     sizeof(err)),
			 -ENAMETOOLONG);
	assert_contains(err, long_path);
	assert_int_equal(cli_telemetry_query(NULL, SAVE_CMD, &data, err,
					     sizeof(err)),
			 -EINVAL);
	assert_int_equal(cli_telemetry_query("/x", SAVE_CMD, NULL, err,
					     sizeof(err)),
			 -EINVAL);
	assert_int_equal(cli_telemetry_query_timeout("/x", SAVE_CMD, 0, &data,
						     err, sizeof(err)),
			 -EINVAL);
	assert_ptr_equal(data, untouched);
}

/* Sets or (NULL) unsets an environment variable for one path case. */
static void
set_env(const char *name, const char *value)
{
	if (value != NULL)
		assert_int_equal(setenv(name, value, 1), 0);
	else
		assert_int_equal(unsetenv(name), 0);
}

struct path_case {
	const char *prefix;
	const char *socket;
	const char *runtime_directory; /* $RUNTIME_DIRECTORY */
	const char *xdg_runtime_dir;   /* $XDG_RUNTIME_DIR */
	size_t outlen;
	int rc;
	const char *root;   /* path expected when running as root */
	const char *user;   /* and as anyone else */
};

#define SOCK "/" CLI_TELEMETRY_SOCKET_NAME

static const struct path_case path_cases[] = {
	{ NULL, NULL, NULL, NULL, PATH_MAX, 0,
	  "/var/run/dpdk/rte" SOCK, "/tmp/dpdk/rte" SOCK },
	{ "cli1", NULL, NULL, NULL, PATH_MAX, 0,
	  "/var/run/dpdk/cli1" SOCK, "/tmp/dpdk/cli1" SOCK },
	{ "cli1", NULL, NULL, "/run/user/1000", PATH_MAX, 0,
	  "/var/run/dpdk/cli1" SOCK, "/run/user/1000/dpdk/cli1" SOCK },
	{ NULL, NULL, "/run/bauxite", "/run/user/1000", PATH_MAX, 0,
	  "/run/bauxite/dpdk/rte" SOCK, "/run/bauxite/dpdk/rte" SOCK },
	{ "cli1", "/run/b.sock", "/run/bauxite", NULL, PATH_MAX, 0,
	  "/run/b.sock", "/run/b.sock" },
	{ NULL, "/run/b.sock", NULL, NULL, sizeof("/run/b.sock"), 0,
	  "/run/b.sock", "/run/b.sock" },
	{ NULL, "/run/b.sock", NULL, NULL, sizeof("/run/b.sock") - 1,
	  -ENAMETOOLONG, NULL, NULL },
	{ "cli1", NULL, "/r", NULL, sizeof("/r/dpdk/cli1" SOCK) - 1,
	  -ENAMETOOLONG, NULL, NULL },
	{ "", NULL, NULL, NULL, PATH_MAX, -EINVAL, NULL, NULL },
	{ "a/b", NULL, NULL, NULL, PATH_MAX, -EINVAL, NULL, NULL },
	{ NULL, "", NULL, NULL, PATH_MAX, -EINVAL, NULL, NULL },
};

static void
test_paths(void **state)
{
	static const char marker[] = "untouched";
	char out[PATH_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(path_cases); i++) {
		const struct path_case *c = &path_cases[i];

		set_env("RUNTIME_DIRECTORY", c->runtime_directory);
		set_env("XDG_RUNTIME_DIR", c->xdg_runtime_dir);
		memcpy(out, marker, sizeof(marker));
		if (cli_telemetry_path(c->prefix, c->socket, out, c->outlen) !=
		    c->rc)
			fail_msg("path case %zu: expected %d", i, c->rc);
		if (c->rc == 0)
			assert_string_equal(out, getuid() == 0 ? c->root
							       : c->user);
		else
			assert_string_equal(out, marker);
	}
	unsetenv("RUNTIME_DIRECTORY");
	unsetenv("XDG_RUNTIME_DIR");
	assert_int_equal(cli_telemetry_path(NULL, NULL, NULL, PATH_MAX),
			 -EINVAL);
}

/* End to end through --file-prefix: the socket is found where EAL puts it. */
static void
test_call_by_prefix(void **state)
{
	char dpdk_dir[PATH_LEN], prefix_dir[PATH_LEN], path[ERR_LEN];
	char err[ERR_LEN] = "";
	struct cli_telemetry_target t = { .file_prefix = "cli1" };
	struct server s = {
		.greet = STEP_SEND,
		.greeting = GREETING,
		.answer = STEP_SEND,
		.reply = "{\"" SAVE_CMD "\":{\"path\":\"/p\",\"peers\":0,"
			 "\"bytes\":28}}",
	};
	json_t *data = untouched;

	(void)state;
	snprintf(dpdk_dir, sizeof(dpdk_dir), "%s/dpdk", tmp_dir);
	snprintf(prefix_dir, sizeof(prefix_dir), "%s/dpdk/cli1", tmp_dir);
	snprintf(path, sizeof(path), "%s/dpdk/cli1" SOCK, tmp_dir);
	assert_int_equal(mkdir(dpdk_dir, 0700), 0);
	assert_int_equal(mkdir(prefix_dir, 0700), 0);
	set_env("RUNTIME_DIRECTORY", tmp_dir);

	server_start(&s, path);
	assert_int_equal(cli_telemetry_call(&t, SAVE_CMD, &data, err,
					    sizeof(err)),
			 0);
	server_stop(&s);
	assert_string_equal(s.got, SAVE_CMD);
	assert_json_equal(data, "{\"path\":\"/p\",\"peers\":0,\"bytes\":28}");
	json_decref(data);

	/* Nobody there: the error says which prefix to check. */
	data = untouched;
	t.file_prefix = "other";
	assert_int_equal(cli_telemetry_call(&t, SAVE_CMD, &data, err,
					    sizeof(err)),
			 -ENOENT);
	assert_ptr_equal(data, untouched);
	snprintf(path, sizeof(path),
		 "cannot connect to %s/dpdk/other" SOCK
		 ": %s (is bauxite-app running with --file-prefix other?)",
		 tmp_dir, strerror(ENOENT));
	assert_string_equal(err, path);

	unsetenv("RUNTIME_DIRECTORY");
	assert_int_equal(rmdir(prefix_dir), 0);
	assert_int_equal(rmdir(dpdk_dir), 0);
}

/* --socket wins over the prefix; a stale socket file gets the hint too. */
static void
test_call_by_socket(void **state)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct cli_telemetry_target t = { .file_prefix = "cli1" };
	char err[ERR_LEN] = "";
	json_t *data = untouched;
	int fd;

	(void)state;
	/* Bound but never listening: what a crashed process leaves behind. */
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/stale.sock",
		 tmp_dir);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	t.socket = addr.sun_path;
	assert_int_equal(cli_telemetry_call(&t, SAVE_CMD, &data, err,
					    sizeof(err)),
			 -ECONNREFUSED);
	assert_ptr_equal(data, untouched);
	assert_contains(err, addr.sun_path);
	assert_contains(err, "(is bauxite-app running, and is this its "
			     "telemetry socket?)");
	close(fd);
	unlink(addr.sun_path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exchanges),
		cmocka_unit_test(test_reply_of_max_len),
		cmocka_unit_test(test_no_socket),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_call_by_prefix),
		cmocka_unit_test(test_call_by_socket),
	};

	return cmocka_run_group_tests_name("cli_telemetry", tests,
					   group_setup, group_teardown);
}
