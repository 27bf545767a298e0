/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client side of DPDK's telemetry v2 socket: how `bauxite` commands
 * ask a running bauxite-app to do something (protocol summary in cli.h).
 * One connection per command; nothing here knows what a command means.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))
#define MS_PER_S 1000

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

bool
cli_telemetry_prefix_ok(const char *prefix)
{
	return prefix != NULL && prefix[0] != '\0' &&
	       strchr(prefix, '/') == NULL;
}

/* EAL 22.11 eal_create_runtime_dir(): the directory above dpdk/<prefix>. */
static const char *
runtime_base(void)
{
	const char *dir = getenv("RUNTIME_DIRECTORY");

	if (dir != NULL)
		return dir;
	if (getuid() == 0)
		return "/var/run";
	dir = getenv("XDG_RUNTIME_DIR");
	return dir != NULL ? dir : "/tmp";
}

int
cli_telemetry_path(const char *file_prefix, const char *socket, char *out,
		   size_t outlen)
{
	const char *prefix = file_prefix != NULL ? file_prefix
						 : CLI_TELEMETRY_DEFAULT_PREFIX;
	const char *base = runtime_base();
	int n;

	if (out == NULL)
		return -EINVAL;
	if (socket != NULL) {
		if (socket[0] == '\0')
			return -EINVAL;
		n = snprintf(NULL, 0, "%s", socket);
	} else {
		if (!cli_telemetry_prefix_ok(prefix))
			return -EINVAL;
		n = snprintf(NULL, 0, "%s/dpdk/%s/%s", base, prefix,
			     CLI_TELEMETRY_SOCKET_NAME);
	}
	/* Measured first so that @out stays untouched when it is too small. */
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	if (socket != NULL)
		snprintf(out, outlen, "%s", socket);
	else
		snprintf(out, outlen, "%s/dpdk/%s/%s", base, prefix,
			 CLI_TELEMETRY_SOCKET_NAME);
	return 0;
}

/*
 * Waits up to @timeout_ms for one message on @fd. Returns 0 with its
 * length in *@got, -ETIMEDOUT, -ECONNRESET (peer hung up), -EMSGSIZE
 * (longer than @len: SEQPACKET drops the rest, so it cannot be used), or
 * -errno.
 */
static int
recv_msg(int fd, char *buf, size_t len, int timeout_ms, size_t *got)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;
	int rc;

	do
		rc = poll(&pfd, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	n = recvmsg(fd, &msg, MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	if (msg.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	*got = (size_t)n;
	return 0;
}

/*
 * Checks @cmd is "/name[,params]" within DPDK's limits and copies the
 * name, the key its reply is filed under, into @name.
 */
static int
command_name(const char *cmd, char name[CLI_TELEMETRY_NAME_MAX], char *err,
	     size_t errlen)
{
	size_t len = strcspn(cmd, ",");

	if (cmd[0] != '/' || len >= CLI_TELEMETRY_NAME_MAX ||
	    strlen(cmd) > CLI_TELEMETRY_CMD_MAX) {
		set_err(err, errlen,
			"telemetry command '%.64s' is not /name[,params] "
			"with a name under %u and all under %u bytes",
			cmd, CLI_TELEMETRY_NAME_MAX, CLI_TELEMETRY_CMD_MAX + 1);
		return -EINVAL;
	}
	memcpy(name, cmd, len);
	name[len] = '\0';
	return 0;
}

/* Connects to @path, giving up after @timeout_ms if nobody accepts. */
static int
connect_socket(const char *path, int timeout_ms, int *fd_out, char *err,
	       size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	/* A unix connect waits for room in the listen backlog up to the send
	 * timeout, so a wedged server cannot hold us forever. */
	struct timeval tv = {
		.tv_sec = timeout_ms / MS_PER_S,
		.tv_usec = (timeout_ms % MS_PER_S) * 1000,
	};
	int fd, rc;

	if (strlen(path) >= SUN_PATH_MAX) {
		set_err(err, errlen,
			"telemetry socket path %s is longer than the %zu bytes "
			"a unix socket address holds",
			path, SUN_PATH_MAX - 1);
		return -ENAMETOOLONG;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		set_err(err, errlen, "cannot create a socket: %s",
			strerror(-rc));
		return rc;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) != 0) {
		rc = -errno;
		if (rc == -EAGAIN || rc == -EINPROGRESS) {
			rc = -ETIMEDOUT;
			set_err(err, errlen,
				"%s did not accept the connection within %g s",
				path, (double)timeout_ms / MS_PER_S);
		} else {
			set_err(err, errlen, "cannot connect to %s: %s", path,
				strerror(-rc));
		}
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

/*
 * Reads the greeting and returns the reply buffer size it announces,
 * bounded by CLI_TELEMETRY_REPLY_CAP.
 */
static int
read_greeting(int fd, const char *path, int timeout_ms, size_t *reply_len,
	      char *err, size_t errlen)
{
	char buf[CLI_TELEMETRY_GREETING_MAX];
	json_t *greeting = NULL, *max_len;
	json_int_t announced;
	json_error_t jerr;
	size_t n = 0;
	int rc;

	rc = recv_msg(fd, buf, sizeof(buf), timeout_ms, &n);
	if (rc == -ETIMEDOUT) {
		set_err(err, errlen, "no greeting from %s within %g s", path,
			(double)timeout_ms / MS_PER_S);
		goto out;
	}
	if (rc == -ECONNRESET) {
		set_err(err, errlen,
			"%s closed the connection before its greeting (too "
			"many telemetry clients at once?)",
			path);
		goto out;
	}
	if (rc == -EMSGSIZE) {
		rc = -EPROTO;
		set_err(err, errlen, "greeting from %s is longer than %u bytes",
			path, CLI_TELEMETRY_GREETING_MAX);
		goto out;
	}
	if (rc < 0) {
		set_err(err, errlen, "cannot read the greeting from %s: %s",
			path, strerror(-rc));
		goto out;
	}
	greeting = json_loadb(buf, n, 0, &jerr);
	if (greeting == NULL) {
		rc = -EPROTO;
		set_err(err, errlen, "greeting from %s is not JSON: %s", path,
			jerr.text);
		goto out;
	}
	max_len = json_object_get(greeting, "max_output_len");
	if (!json_is_integer(max_len) || json_integer_value(max_len) <= 0) {
		rc = -EPROTO;
		set_err(err, errlen,
			"greeting from %s has no positive max_output_len: is "
			"it a DPDK telemetry v2 socket?",
			path);
		goto out;
	}
	announced = json_integer_value(max_len);
	*reply_len = announced < (json_int_t)CLI_TELEMETRY_REPLY_CAP
			     ? (size_t)announced
			     : CLI_TELEMETRY_REPLY_CAP;
out:
	json_decref(greeting);
	return rc;
}

/* Reads the reply to command @name and takes its data out of it. */
static int
read_reply(int fd, const char *name, char *buf, size_t len, int timeout_ms,
	   json_t **data, char *err, size_t errlen)
{
	json_t *reply = NULL, *value;
	json_error_t jerr;
	size_t n = 0;
	int rc;

	rc = recv_msg(fd, buf, len, timeout_ms, &n);
	if (rc == -ETIMEDOUT) {
		set_err(err, errlen, "no reply to %s within %g s", name,
			(double)timeout_ms / MS_PER_S);
		goto out;
	}
	if (rc == -ECONNRESET) {
		set_err(err, errlen,
			"bauxite-app closed the connection without replying "
			"to %s",
			name);
		goto out;
	}
	if (rc == -EMSGSIZE) {
		set_err(err, errlen,
			"reply to %s is longer than the %zu bytes the greeting "
			"announced",
			name, len);
		goto out;
	}
	if (rc < 0) {
		set_err(err, errlen, "cannot read the reply to %s: %s", name,
			strerror(-rc));
		goto out;
	}
	reply = json_loadb(buf, n, 0, &jerr);
	if (reply == NULL) {
		rc = -EPROTO;
		set_err(err, errlen, "reply to %s is not JSON: %s", name,
			jerr.text);
		goto out;
	}
	value = json_object_get(reply, name);
	if (!json_is_object(reply) || json_object_size(reply) != 1 ||
	    value == NULL) {
		rc = -EPROTO;
		set_err(err, errlen,
			"reply to %s is not the object {\"%s\": data} the "
			"protocol gives",
			name, name);
		goto out;
	}
	if (json_is_null(value)) {
		rc = -EOPNOTSUPP;
		set_err(err, errlen,
			"bauxite-app does not know the command %s (too old?)",
			name);
		goto out;
	}
	*data = json_incref(value);
out:
	json_decref(reply);
	return rc;
}

int
cli_telemetry_query_timeout(const char *path, const char *cmd, int timeout_ms,
			    json_t **data, char *err, size_t errlen)
{
	char name[CLI_TELEMETRY_NAME_MAX];
	size_t reply_len = 0, len;
	char *buf = NULL;
	int fd = -1, rc;

	if (path == NULL || cmd == NULL || data == NULL || timeout_ms <= 0) {
		set_err(err, errlen, "telemetry query: missing argument");
		return -EINVAL;
	}
	rc = command_name(cmd, name, err, errlen);
	if (rc < 0)
		goto out;
	rc = connect_socket(path, timeout_ms, &fd, err, errlen);
	if (rc < 0)
		goto out;
	rc = read_greeting(fd, path, timeout_ms, &reply_len, err, errlen);
	if (rc < 0)
		goto out;
	buf = malloc(reply_len);
	if (buf == NULL) {
		rc = -ENOMEM;
		set_err(err, errlen, "no memory for a %zu-byte reply",
			reply_len);
		goto out;
	}
	len = strlen(cmd);
	/* One message is one command: SEQPACKET sends it whole or not at
	 * all. */
	if (send(fd, cmd, len, MSG_NOSIGNAL) != (ssize_t)len) {
		rc = -errno;
		if (rc == -EAGAIN)
			rc = -ETIMEDOUT;
		set_err(err, errlen, "cannot send %s to %s: %s", name, path,
			strerror(-rc));
		goto out;
	}
	rc = read_reply(fd, name, buf, reply_len, timeout_ms, data, err,
			errlen);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

int
cli_telemetry_query(const char *path, const char *cmd, json_t **data,
		    char *err, size_t errlen)
{
	return cli_telemetry_query_timeout(path, cmd, CLI_TELEMETRY_TIMEOUT_MS,
					   data, err, errlen);
}

int
cli_telemetry_call(const struct cli_telemetry_target *t, const char *cmd,
		   json_t **data, char *err, size_t errlen)
{
	const char *prefix;
	/* Roomier than a socket address: the query names a path too long. */
	char path[PATH_MAX];
	size_t used;
	int rc;

	if (t == NULL) {
		set_err(err, errlen, "telemetry call: missing target");
		return -EINVAL;
	}
	prefix = t->file_prefix != NULL ? t->file_prefix
					: CLI_TELEMETRY_DEFAULT_PREFIX;
	rc = cli_telemetry_path(t->file_prefix, t->socket, path, sizeof(path));
	if (rc == -EINVAL) {
		set_err(err, errlen, "%s",
			t->socket != NULL ? "--socket needs a path"
					  : "--file-prefix needs a name "
					    "without '/'");
		return rc;
	}
	if (rc < 0) {
		set_err(err, errlen, "telemetry socket path longer than %zu "
			"bytes", sizeof(path) - 1);
		return rc;
	}
	rc = cli_telemetry_query(path, cmd, data, err, errlen);
	if ((rc == -ENOENT || rc == -ECONNREFUSED) && err != NULL) {
		used = strnlen(err, errlen);
		if (t->socket != NULL)
			set_err(err + used, errlen - used,
				" (is bauxite-app running, and is this its "
				"telemetry socket?)");
		else
			set_err(err + used, errlen - used,
				" (is bauxite-app running with --file-prefix "
				"%s?)",
				prefix);
	}
	return rc;
}
