/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What nodes need for NAT traversal: the relay secret in the state
 * directory and GetMeshSettings, which hands a node the store's STUN
 * servers and relays with its own relay key.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bauxite/v1/mesh.pb-c.h"
#include "bx_common.h"
#include "bx_relay.h"
#include "dispatch_internal.h"

#define ERR_LEN 512u
/* "2024-05-01T12:00:00Z" */
#define TIME_TEXT_LEN 32u
/* mkstemp's template suffix. */
#define TMP_SUFFIX ".XXXXXX"

_Static_assert(BX_DISPATCH_RELAY_SECRET_LEN == BX_RELAY_SECRET_LEN,
	       "the hub's relay secret is the relays' secret");

static int
fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* ---- the relay secret --------------------------------------------------- */

/* Reads exactly @len bytes from @fd; -EIO on a short file. */
static int
read_all(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		got += (size_t)n;
	}
	return 0;
}

static int
write_all(int fd, const uint8_t *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = write(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

/*
 * Opens and checks the secret file @path: 1 with @secret filled, 0 when it
 * does not exist, or -errno.
 */
static int
secret_read(const char *path, uint8_t secret[BX_DISPATCH_RELAY_SECRET_LEN],
	    char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return fail(err, errlen, -errno, "%s: %s", path,
			    strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		rc = fail(err, errlen, -EINVAL, "%s: not a regular file", path);
	} else if ((st.st_mode & 077) != 0) {
		rc = fail(err, errlen, -EPERM,
			  "%s has mode %04o; the relay secret must not be "
			  "accessible by group or others (chmod 600)",
			  path, (unsigned)(st.st_mode & 07777));
	} else if (st.st_size != BX_DISPATCH_RELAY_SECRET_LEN) {
		rc = fail(err, errlen, -EINVAL,
			  "%s: not a relay secret (%lld bytes, expected %u)",
			  path, (long long)st.st_size,
			  BX_DISPATCH_RELAY_SECRET_LEN);
	} else {
		rc = read_all(fd, secret, BX_DISPATCH_RELAY_SECRET_LEN);
		rc = rc == 0 ? 1
			     : fail(err, errlen, rc, "%s: %s", path,
				    strerror(-rc));
	}
	close(fd);
	return rc;
}

/*
 * Writes @secret to a new file next to @path (mode 0600 whatever the
 * umask, synced) and returns its name in @tmp. 0 or -errno.
 */
static int
tmp_write(const char *path, const uint8_t *secret, char tmp[PATH_MAX],
	  char *err, size_t errlen)
{
	int fd, rc;

	if ((size_t)snprintf(tmp, PATH_MAX, "%s" TMP_SUFFIX, path) >= PATH_MAX)
		return fail(err, errlen, -ENAMETOOLONG, "%s: path too long",
			    path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
	rc = fchmod(fd, BX_DISPATCH_RELAY_SECRET_MODE) != 0 ? -errno : 0;
	if (rc == 0)
		rc = write_all(fd, secret, BX_DISPATCH_RELAY_SECRET_LEN);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (rc != 0) {
		unlink(tmp);
		return fail(err, errlen, rc, "%s: %s", tmp, strerror(-rc));
	}
	return 0;
}

/* Makes the directory entry of a new file durable. */
static void
dir_sync(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path) + 1,
			 path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int
bx_dispatch_relay_secret_load(const char *state_dir,
			      uint8_t secret[BX_DISPATCH_RELAY_SECRET_LEN],
			      bool *created, char *err, size_t errlen)
{
	uint8_t fresh[BX_DISPATCH_RELAY_SECRET_LEN];
	char path[PATH_MAX], tmp[PATH_MAX];
	bool made = false;
	int rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir,
			     BX_DISPATCH_RELAY_SECRET_FILE) >= sizeof(path))
		return fail(err, errlen, -ENAMETOOLONG,
			    "state directory %s: path too long", state_dir);
	rc = secret_read(path, fresh, err, errlen);
	if (rc != 0)
		goto out;
	randombytes_buf(fresh, sizeof(fresh));
	rc = tmp_write(path, fresh, tmp, err, errlen);
	if (rc != 0)
		goto out;
	/* link() never replaces: of two processes making the secret at once,
	 * the one that lost reads the winner's. */
	if (link(tmp, path) == 0) {
		made = true;
		rc = 1;
		dir_sync(path);
	} else if (errno == EEXIST) {
		rc = secret_read(path, fresh, err, errlen);
		if (rc == 0)
			rc = fail(err, errlen, -ENOENT,
				  "%s: vanished while being made", path);
	} else {
		rc = fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
	}
	unlink(tmp);
out:
	if (rc == 1) {
		memcpy(secret, fresh, sizeof(fresh));
		if (created != NULL)
			*created = made;
		rc = 0;
	}
	sodium_memzero(fresh, sizeof(fresh));
	return rc;
}

int
bx_dispatch_relay_secret_export(const char *state_dir, const char *path,
				bool force, char *err, size_t errlen)
{
	uint8_t secret[BX_DISPATCH_RELAY_SECRET_LEN];
	char tmp[PATH_MAX];
	int fd, rc;

	rc = bx_dispatch_relay_secret_load(state_dir, secret, NULL, err,
					   errlen);
	if (rc != 0)
		return rc;
	if (force) {
		/* Whole or not at all: a relay reading it meanwhile sees the
		 * old secret or the new one. */
		rc = tmp_write(path, secret, tmp, err, errlen);
		if (rc == 0 && rename(tmp, path) != 0) {
			rc = fail(err, errlen, -errno, "%s: %s", path,
				  strerror(errno));
			unlink(tmp);
		}
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  BX_DISPATCH_RELAY_SECRET_MODE);
	if (fd < 0) {
		rc = fail(err, errlen, -errno, "%s: %s%s", path,
			  strerror(errno),
			  errno == EEXIST ? " (--force replaces it)" : "");
		goto out;
	}
	rc = fchmod(fd, BX_DISPATCH_RELAY_SECRET_MODE) != 0 ? -errno : 0;
	if (rc == 0)
		rc = write_all(fd, secret, sizeof(secret));
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (rc != 0) {
		unlink(path);
		fail(err, errlen, rc, "%s: %s", path, strerror(-rc));
	}
out:
	if (rc == 0)
		dir_sync(path);
	sodium_memzero(secret, sizeof(secret));
	return rc;
}

/* ---- GetMeshSettings ---------------------------------------------------- */

static enum bx_rpc_code
say(char *msg, size_t msglen, enum bx_rpc_code code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum bx_rpc_code
say(char *msg, size_t msglen, enum bx_rpc_code code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return code;
}

static void
time_text(uint64_t unix_s, char out[TIME_TEXT_LEN])
{
	time_t t = (time_t)unix_s;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, TIME_TEXT_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, TIME_TEXT_LEN, "%" PRIu64 " s", unix_s);
}

/* @eps as Endpoint messages in @msgs, pointed to by @ptrs. */
static void
endpoints_fill(const struct bx_store_endpoint *eps, unsigned n,
	       Bauxite__V1__Endpoint *msgs, Bauxite__V1__Endpoint **ptrs)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		bauxite__v1__endpoint__init(&msgs[i]);
		msgs[i].ip = ntohl(eps[i].ip);
		msgs[i].port = eps[i].port;
		ptrs[i] = &msgs[i];
	}
}

/*
 * The reply for node @id: the settings @m and its key until @expiry,
 * packed into *@resp (malloc'd; the caller wipes it: it holds the key).
 */
static enum bx_rpc_code
pack_settings(const struct bx_store_mesh *m, const uint8_t *key,
	      uint64_t expiry, uint8_t **resp, size_t *resp_len, char *msg,
	      size_t msglen)
{
	Bauxite__V1__TraversalSettings out =
		BAUXITE__V1__TRAVERSAL_SETTINGS__INIT;
	Bauxite__V1__Endpoint stun[BX_STORE_MAX_STUN];
	Bauxite__V1__Endpoint relays[BX_STORE_MAX_RELAYS];
	Bauxite__V1__Endpoint *stun_ptrs[BX_STORE_MAX_STUN];
	Bauxite__V1__Endpoint *relay_ptrs[BX_STORE_MAX_RELAYS];

	endpoints_fill(m->stun, m->n_stun, stun, stun_ptrs);
	endpoints_fill(m->relays, m->n_relays, relays, relay_ptrs);
	out.n_stun_servers = m->n_stun;
	out.stun_servers = m->n_stun > 0 ? stun_ptrs : NULL;
	out.n_relays = m->n_relays;
	out.relays = m->n_relays > 0 ? relay_ptrs : NULL;
	out.relay_key.data = (uint8_t *)key;
	out.relay_key.len = BX_RELAY_KEY_LEN;
	out.relay_key_expiry_unix_s = expiry;
	*resp_len = bauxite__v1__traversal_settings__get_packed_size(&out);
	*resp = malloc(*resp_len);
	if (*resp == NULL)
		return say(msg, msglen, BX_RPC_INTERNAL, "out of memory");
	bauxite__v1__traversal_settings__pack(&out, *resp);
	return BX_RPC_OK;
}

/*
 * The caller is checked first (a revoked node learns nothing), then the
 * store and the secret are read; the secret and the key live only for the
 * call.
 */
void
dispatch_get_mesh_settings(void *ctx, struct bx_rpc_stream *call,
			   const uint8_t *req, size_t len)
{
	struct bx_dispatch *d = ctx;
	const struct bx_rpc_peer *peer = bx_rpc_stream_peer(call);
	uint8_t secret[BX_DISPATCH_RELAY_SECRET_LEN], key[BX_RELAY_KEY_LEN];
	Bauxite__V1__GetMeshSettingsRequest *r;
	char msg[DISPATCH_MSG_LEN], err[ERR_LEN], until[TIME_TEXT_LEN];
	struct bx_store_mesh m = { 0 };
	enum bx_rpc_code code;
	uint8_t *resp = NULL;
	size_t resp_len = 0;
	uint64_t expiry = 0;
	bool created = false;

	r = bauxite__v1__get_mesh_settings_request__unpack(NULL, len, req);
	if (r == NULL) {
		code = say(msg, sizeof(msg), BX_RPC_INVALID_ARGUMENT,
			   "request does not decode");
		goto out;
	}
	bauxite__v1__get_mesh_settings_request__free_unpacked(r, NULL);
	code = dispatch_node_check(d, peer, msg, sizeof(msg));
	if (code != BX_RPC_OK)
		goto out;
	if (bx_store_mesh_get(d->store, &m, err, sizeof(err)) != 0) {
		dispatch_log(d, "store: %s", err);
		code = say(msg, sizeof(msg), BX_RPC_UNAVAILABLE,
			   "hub store unavailable, retry later");
		goto out;
	}
	if (bx_dispatch_relay_secret_load(d->state_dir, secret, &created, err,
					  sizeof(err)) != 0) {
		dispatch_log(d, "relay secret: %s", err);
		code = say(msg, sizeof(msg), BX_RPC_UNAVAILABLE,
			   "hub relay secret unavailable, retry later");
		goto out;
	}
	if (created)
		dispatch_log(d, "relay secret created in %s/%s (relays get it "
			     "with 'bauxite-dispatch relay export-secret')",
			     d->state_dir, BX_DISPATCH_RELAY_SECRET_FILE);
	expiry = (uint64_t)(dispatch_now_ms(d) / 1000) +
		 m.relay_key_lifetime_s;
	/* Fails only for an id the relays could not name, which no node
	 * the store holds has. */
	if (bx_relay_node_key(secret, peer->identity, expiry, key) == 0)
		code = pack_settings(&m, key, expiry, &resp, &resp_len, msg,
				     sizeof(msg));
	else
		code = say(msg, sizeof(msg), BX_RPC_INTERNAL,
			   "node id %s cannot name a relay key",
			   peer->identity);
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(key, sizeof(key));
out:
	if (code == BX_RPC_OK) {
		pthread_mutex_lock(&d->lock);
		d->stats.mesh_settings++;
		pthread_mutex_unlock(&d->lock);
		time_text(expiry, until);
		dispatch_log(d, "node %s: mesh settings (%u STUN, %u relay(s), "
			     "relay key until %s)", peer->identity, m.n_stun,
			     m.n_relays, until);
	} else {
		dispatch_log(d, "node %s: mesh settings refused: %s: %s",
			     peer->identity, bx_rpc_code_name(code), msg);
	}
	bx_rpc_unary_reply(call, code, code == BX_RPC_OK ? NULL : msg, resp,
			   resp_len);
	if (resp != NULL)
		sodium_memzero(resp, resp_len);
	free(resp);
}
