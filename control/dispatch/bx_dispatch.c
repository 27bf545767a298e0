/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hub's life cycle, its subscriber registry and the watcher thread
 * that pushes what other processes changed in the store.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "bx_common.h"
#include "bx_dispatch.h"
#include "bx_pki.h"
#include "bx_rpc.h"
#include "bx_store.h"
#include "dispatch_internal.h"

#define ERR_LEN 512u
#define PATH_LEN 4096u
#define NS_PER_MS 1000000L
#define NS_PER_S 1000000000L

_Static_assert(BX_DISPATCH_PIN_LEN == BX_PKI_SHA256_LEN,
	       "the pin is the CA certificate's SHA-256");
_Static_assert(BX_RPC_SHA256_LEN == BX_PKI_SHA256_LEN,
	       "a caller's certificate hash compares with the stored one's");

static const char *const sub_kind_name[SUB_KINDS] = {
	[SUB_TOPOLOGY] = "topology",
	[SUB_POLICY] = "policy",
	[SUB_SIGNALING] = "signaling",
};

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

void
dispatch_log(struct bx_dispatch *d, const char *fmt, ...)
{
	char line[BX_DISPATCH_LOG_MAX];
	va_list ap;

	if (d->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	d->log(d->log_arg, line);
}

int64_t
dispatch_now_ms(const struct bx_dispatch *d)
{
	struct timespec ts;

	if (d->clock_ms != NULL)
		return d->clock_ms(d->clock_arg);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / NS_PER_MS;
}

/* The store's clock is ours, so token expiry and its times agree. */
static int64_t
store_clock(void *arg)
{
	return dispatch_now_ms(arg);
}

enum bx_rpc_code
dispatch_node_check(struct bx_dispatch *d, const struct bx_rpc_peer *peer,
		    char *msg, size_t msglen)
{
	const char *id = peer->identity;
	uint8_t stored[BX_PKI_SHA256_LEN];
	struct bx_store_node *n = NULL;
	char err[ERR_LEN];
	bool revoked, current;
	int rc;

	rc = bx_store_node_get(d->store, id, &n, err, sizeof(err));
	if (rc == -ENOENT) {
		snprintf(msg, msglen, "node %s is not provisioned at this hub",
			 id);
		return BX_RPC_PERMISSION_DENIED;
	}
	if (rc != 0) {
		dispatch_log(d, "store: %s", err);
		snprintf(msg, msglen, "hub store unavailable, retry later");
		return BX_RPC_UNAVAILABLE;
	}
	revoked = n->revoked_ms != 0;
	/* The CA vouches for a name only: a certificate it signed before
	 * the node was revoked, purged and joined again names the same id
	 * and is still within its validity, but is not the node's. */
	current = n->cert_pem != NULL && peer->has_cert &&
		  bx_pki_cert_sha256_pem(n->cert_pem, stored) == 0 &&
		  sodium_memcmp(stored, peer->cert_sha256, sizeof(stored)) == 0;
	bx_store_node_free(n);
	if (revoked) {
		snprintf(msg, msglen, "node %s is revoked", id);
		return BX_RPC_PERMISSION_DENIED;
	}
	if (!current) {
		snprintf(msg, msglen, "certificate is not node %s's current one",
			 id);
		return BX_RPC_PERMISSION_DENIED;
	}
	return BX_RPC_OK;
}

/* ---- subscriber registry (lock held) ------------------------------------ */

static unsigned *
stream_count(struct bx_dispatch *d, enum sub_kind kind)
{
	switch (kind) {
	case SUB_TOPOLOGY:
		return &d->stats.topology_streams;
	case SUB_POLICY:
		return &d->stats.policy_streams;
	default:
		return &d->stats.signaling_streams;
	}
}

void
dispatch_sub_link(struct bx_dispatch *d, struct sub *sub)
{
	struct sub **head = &d->subs[sub->kind];

	sub->prev = NULL;
	sub->next = *head;
	if (*head != NULL)
		(*head)->prev = sub;
	*head = sub;
	sub->listed = true;
	(*stream_count(d, sub->kind))++;
}

void
dispatch_sub_unlink(struct bx_dispatch *d, struct sub *sub)
{
	if (!sub->listed)
		return;
	if (sub->prev != NULL)
		sub->prev->next = sub->next;
	else
		d->subs[sub->kind] = sub->next;
	if (sub->next != NULL)
		sub->next->prev = sub->prev;
	sub->prev = sub->next = NULL;
	sub->listed = false;
	(*stream_count(d, sub->kind))--;
}

struct sub *
dispatch_sub_find(struct bx_dispatch *d, enum sub_kind kind,
		  const char *node_id)
{
	struct sub *sub;

	for (sub = d->subs[kind]; sub != NULL; sub = sub->next)
		if (strcmp(sub->node_id, node_id) == 0)
			return sub;
	return NULL;
}

unsigned
dispatch_cut_off(struct bx_dispatch *d, const char *id, const char *why)
{
	struct sub *sub, *next;
	unsigned n = 0;
	int k;

	for (k = 0; k < SUB_KINDS; k++) {
		for (sub = d->subs[k]; sub != NULL; sub = next) {
			next = sub->next;
			if (strcmp(sub->node_id, id) != 0)
				continue;
			dispatch_sub_unlink(d, sub);
			bx_rpc_stream_finish(sub->s, BX_RPC_PERMISSION_DENIED,
					     why);
			n++;
		}
	}
	return n;
}

void
dispatch_stream_closed(void *ctx, struct bx_rpc_stream *s,
		       enum bx_rpc_code code)
{
	struct bx_dispatch *d = ctx;
	struct sub *sub = bx_rpc_stream_user(s);

	pthread_mutex_lock(&d->lock);
	dispatch_sub_unlink(d, sub);
	pthread_mutex_unlock(&d->lock);
	dispatch_log(d, "node %s: %s stream closed (%s)", sub->node_id,
		     sub_kind_name[sub->kind], bx_rpc_code_name(code));
	free(sub);
	bx_rpc_stream_release(s);
}

/* ---- the watcher (lock held) -------------------------------------------- */

/* A store failure is logged when it starts, not every watch period. */
static void
store_trouble(struct bx_dispatch *d, const char *err)
{
	if (!d->store_failing && !d->tick_failed)
		dispatch_log(d, "store: %s (retrying every %u ms)", err,
			     BX_DISPATCH_WATCH_MS);
	d->tick_failed = true;
}

/*
 * A stream that could not take an update (-@rc) would miss it for good:
 * it ends, and the node's reconnection brings a full snapshot.
 */
static void
resync_needed(struct bx_dispatch *d, struct sub *sub, int rc)
{
	dispatch_sub_unlink(d, sub);
	/* -EPIPE: it is ending anyway, its closed callback follows. */
	if (rc == -EPIPE)
		return;
	bx_rpc_stream_finish(sub->s, BX_RPC_UNAVAILABLE, "resync needed");
	d->stats.resyncs++;
	dispatch_log(d, "node %s: %s update not sent (%s): stream ended, "
		     "resync needed", sub->node_id, sub_kind_name[sub->kind],
		     strerror(-rc));
}

/* A topology change copied out of the store's callback. */
struct change {
	uint64_t version;
	enum bx_store_change_op op;
	char id[BX_STORE_ID_MAX + 1];
};

struct change_list {
	struct change *v;
	size_t n, cap;
};

/* Store callback, store lock held: copies only. */
static int
collect_change(const struct bx_store_change *c, void *arg)
{
	struct change_list *cl = arg;
	struct change *v;

	if (cl->n == cl->cap) {
		size_t cap = cl->cap ? cl->cap * 2 : 16;

		v = realloc(cl->v, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		cl->v = v;
		cl->cap = cap;
	}
	v = &cl->v[cl->n++];
	v->version = c->version;
	v->op = c->op;
	snprintf(v->id, sizeof(v->id), "%s", c->node_id);
	return 0;
}

/*
 * Sends change @c to every topology stream that lacks it and is not about
 * its own node; a removal also cuts the removed node off. Returns 0, or
 * the store's error (the change is then retried next time).
 */
static int
push_change(struct bx_dispatch *d, const struct change *c)
{
	const char *id = c->id;
	struct bx_store_node *node = NULL;
	struct peer_msg *pm = NULL;
	char err[ERR_LEN], why[DISPATCH_MSG_LEN];
	unsigned sent = 0, ended;
	uint8_t *buf = NULL;
	size_t len = 0;
	struct sub *sub, *next;
	int rc, sent_rc;

	if (c->op == BX_STORE_CHANGE_UPSERT) {
		rc = bx_store_node_get(d->store, id, &node, err, sizeof(err));
		if (rc == -ENOENT)
			return 0; /* purged since: its removal came before */
		if (rc != 0) {
			store_trouble(d, err);
			return rc;
		}
		if (node->revoked_ms != 0) {
			/* Revoked since: its removal comes next, and peers
			 * must not take the node back in meanwhile. */
			bx_store_node_free(node);
			return 0;
		}
		pm = malloc(sizeof(*pm));
		if (pm == NULL) {
			bx_store_node_free(node);
			return -ENOMEM;
		}
		dispatch_peer_fill(pm, node);
		bx_store_node_free(node);
		rc = dispatch_pack_upsert(pm, c->version, &buf, &len);
	} else {
		rc = dispatch_pack_remove(id, c->version, &buf, &len);
	}
	if (rc != 0)
		goto out;
	for (sub = d->subs[SUB_TOPOLOGY]; sub != NULL; sub = next) {
		next = sub->next;
		if (sub->version >= c->version || strcmp(sub->node_id, id) == 0)
			continue;
		sent_rc = bx_rpc_stream_send(sub->s, buf, len);
		if (sent_rc != 0) {
			resync_needed(d, sub, sent_rc);
			continue;
		}
		d->stats.topology_updates++;
		sent++;
		sub->version = c->version;
	}
	if (c->op == BX_STORE_CHANGE_REMOVE) {
		snprintf(why, sizeof(why), "node %s is revoked", id);
		ended = dispatch_cut_off(d, id, why);
		dispatch_gate_forget(d, id);
		d->stats.revocations++;
		dispatch_log(d,
			     "node %s revoked: removal (version %" PRIu64
			     ") pushed to %u node(s), %u stream(s) of its own ended",
			     id, c->version, sent, ended);
	}
out:
	free(buf);
	free(pm);
	return rc;
}

/* The change log no longer reaches back: everyone starts over. */
static void
resync(struct bx_dispatch *d)
{
	struct peer_set set = { 0 };
	char err[ERR_LEN], why[DISPATCH_MSG_LEN];
	struct sub *sub, *next;
	uint64_t cur = 0;
	uint8_t *buf;
	size_t len, i;
	bool active;
	int k, rc;

	if (bx_store_topology_version(d->store, &cur, err, sizeof(err)) != 0 ||
	    dispatch_peer_set_load(d->store, &set, err, sizeof(err)) != 0) {
		store_trouble(d, err);
		return;
	}
	/* Streams of nodes no longer active: their removal may be lost. */
	for (k = 0; k < SUB_KINDS; k++) {
		for (sub = d->subs[k]; sub != NULL; sub = next) {
			next = sub->next;
			active = false;
			for (i = 0; i < set.n && !active; i++)
				active = strcmp(set.peers[i]->id,
						sub->node_id) == 0;
			if (active)
				continue;
			snprintf(why, sizeof(why), "node %s is revoked",
				 sub->node_id);
			dispatch_sub_unlink(d, sub);
			bx_rpc_stream_finish(sub->s, BX_RPC_PERMISSION_DENIED,
					     why);
		}
	}
	for (sub = d->subs[SUB_TOPOLOGY]; sub != NULL; sub = next) {
		next = sub->next;
		if (sub->version == cur)
			continue;
		if (dispatch_pack_snapshot(&set, cur, sub->node_id, &buf,
					   &len) != 0) {
			/* Out of memory: the version stays behind, so the
			 * next pass resyncs the streams not yet at cur. */
			dispatch_log(d, "topology: snapshot not sent: out of "
				     "memory (retrying every %u ms)",
				     BX_DISPATCH_WATCH_MS);
			goto out;
		}
		rc = bx_rpc_stream_send(sub->s, buf, len);
		free(buf);
		if (rc != 0) {
			resync_needed(d, sub, rc);
			continue;
		}
		d->stats.topology_updates++;
		sub->version = cur;
	}
	d->topology_version = cur;
out:
	dispatch_peer_set_clear(&set);
}

static void
topology_tick(struct bx_dispatch *d)
{
	struct change_list cl = { 0 };
	char err[ERR_LEN];
	uint64_t cur = 0, upto = 0;
	struct sub *sub;
	size_t i;
	int rc;

	rc = bx_store_topology_version(d->store, &cur, err, sizeof(err));
	if (rc != 0) {
		store_trouble(d, err);
		return;
	}
	if (cur == d->topology_version)
		return;
	rc = bx_store_changes_since(d->store, d->topology_version,
				    collect_change, &cl, &upto, err,
				    sizeof(err));
	if (rc == -ERANGE) {
		dispatch_log(d, "topology: %s: full snapshot to every stream",
			     err);
		resync(d);
		goto out;
	}
	if (rc != 0) {
		store_trouble(d, rc == -ENOMEM ? "out of memory" : err);
		goto out;
	}
	for (i = 0; i < cl.n; i++) {
		if (push_change(d, &cl.v[i]) != 0)
			goto out;
		d->topology_version = cl.v[i].version;
	}
	/* Streams skipped only changes about themselves: they are current. */
	for (sub = d->subs[SUB_TOPOLOGY]; sub != NULL; sub = sub->next)
		if (sub->version < upto)
			sub->version = upto;
	d->topology_version = upto;
out:
	free(cl.v);
}

/*
 * The store offers no version-only read of the policy, and the policy can
 * be up to BX_STORE_POLICY_MAX bytes; but every policy change appends an
 * audit record in its own transaction, so an unchanged audit head means an
 * unchanged policy and the policy is read only when the head moved.
 */
static void
policy_tick(struct bx_dispatch *d)
{
	uint8_t head[BX_STORE_HASH_LEN];
	char err[ERR_LEN];
	char *json = NULL, *rules = NULL;
	uint64_t seq = 0, version = 0;
	uint8_t *buf = NULL;
	unsigned sent = 0;
	struct sub *sub, *next;
	size_t len = 0;
	int rc;

	rc = bx_store_audit_head(d->store, &seq, head, err, sizeof(err));
	if (rc != 0) {
		store_trouble(d, err);
		return;
	}
	if (seq == d->audit_seq)
		return;
	rc = bx_store_policy_get(d->store, &json, &version, err, sizeof(err));
	if (rc == -ENOENT) {
		d->audit_seq = seq;
		return;
	}
	if (rc != 0) {
		store_trouble(d, err);
		return;
	}
	if (version == d->policy_version) {
		d->audit_seq = seq;
		goto out;
	}
	if (bx_dispatch_policy_rules(json, &rules, err, sizeof(err)) != 0) {
		/* This text will not get better: not retried. */
		dispatch_log(d, "policy version %" PRIu64 " not pushed: %s",
			     version, err);
		d->audit_seq = seq;
		d->policy_version = version;
		goto out;
	}
	if (dispatch_pack_policy(rules, version, &buf, &len) != 0) {
		/* The audit head stays behind: the next pass retries. */
		dispatch_log(d, "policy version %" PRIu64
			     " not pushed: out of memory (retrying every %u ms)",
			     version, BX_DISPATCH_WATCH_MS);
		goto out;
	}
	d->audit_seq = seq;
	d->policy_version = version;
	/* Any other version, older ones too: nodes follow the hub's. */
	for (sub = d->subs[SUB_POLICY]; sub != NULL; sub = next) {
		next = sub->next;
		if (sub->version == version)
			continue;
		rc = bx_rpc_stream_send(sub->s, buf, len);
		if (rc != 0) {
			resync_needed(d, sub, rc);
			continue;
		}
		d->stats.policy_updates++;
		sent++;
		sub->version = version;
	}
	dispatch_log(d, "policy version %" PRIu64 " pushed to %u node(s)",
		     version, sent);
out:
	free(buf);
	free(rules);
	free(json);
}

static void *
watcher_main(void *arg)
{
	struct bx_dispatch *d = arg;
	struct timespec until;

	pthread_mutex_lock(&d->lock);
	while (!d->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += (long)BX_DISPATCH_WATCH_MS * NS_PER_MS;
		if (until.tv_nsec >= NS_PER_S) {
			until.tv_sec++;
			until.tv_nsec -= NS_PER_S;
		}
		while (!d->stopping &&
		       pthread_cond_timedwait(&d->wake, &d->lock, &until) !=
			       ETIMEDOUT)
			;
		if (d->stopping)
			break;
		d->tick_failed = false;
		topology_tick(d);
		policy_tick(d);
		if (d->store_failing && !d->tick_failed)
			dispatch_log(d, "store: readable again");
		d->store_failing = d->tick_failed;
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* ---- life cycle --------------------------------------------------------- */

static int
check_conf(const struct bx_dispatch_conf *conf, char *err, size_t errlen)
{
	if (conf == NULL)
		return fail(err, errlen, -EINVAL, "conf: missing");
	if (conf->state_dir == NULL || conf->state_dir[0] == '\0')
		return fail(err, errlen, -EINVAL, "state_dir: missing");
	if (conf->listen == NULL || conf->listen[0] == '\0')
		return fail(err, errlen, -EINVAL, "listen: missing");
	if (conf->names == NULL || conf->n_names == 0)
		return fail(err, errlen, -EINVAL,
			    "names: the hub certificate needs at least one name");
	if (conf->mesh_port == 0)
		return fail(err, errlen, -EINVAL,
			    "mesh_port: expected 1..65535");
	if (conf->cipher == NULL ||
	    (strcmp(conf->cipher, BX_DISPATCH_CIPHER_CHACHA) != 0 &&
	     strcmp(conf->cipher, BX_DISPATCH_CIPHER_GCM) != 0))
		return fail(err, errlen, -EINVAL,
			    "cipher: '%s': expected " BX_DISPATCH_CIPHER_CHACHA
			    " or " BX_DISPATCH_CIPHER_GCM,
			    conf->cipher != NULL ? conf->cipher : "");
	if (conf->node_cert_days > BX_PKI_NODE_DAYS_MAX)
		return fail(err, errlen, -EINVAL,
			    "node_cert_days: expected 1..%u", BX_PKI_NODE_DAYS_MAX);
	return 0;
}

static int
open_state(struct bx_dispatch *d, const struct bx_dispatch_conf *conf,
	   char *err, size_t errlen)
{
	struct bx_store_options opts;
	char path[PATH_LEN];
	bool created = false;
	int rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", conf->state_dir,
			     BX_STORE_DB_FILE) >= sizeof(path))
		return fail(err, errlen, -ENAMETOOLONG,
			    "state_dir: path too long");
	memset(&opts, 0, sizeof(opts));
	opts.mesh = conf->mesh;
	if (conf->clock_ms != NULL) {
		opts.clock_ms = store_clock;
		opts.clock_arg = d;
	}
	rc = bx_store_open_sqlite(path, &opts, &d->store, err, errlen);
	if (rc != 0)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", conf->state_dir,
		 BX_DISPATCH_CA_DIR);
	rc = bx_pki_ca_load_or_create(path, &d->ca, &created, err, errlen);
	if (rc != 0)
		return rc;
	bx_pki_ca_cert_sha256(d->ca, d->ca_pin);
	dispatch_log(d, "CA %s in %s", created ? "created" : "loaded", path);
	return 0;
}

static int
start_server(struct bx_dispatch *d, const struct bx_dispatch_conf *conf,
	     char *err, size_t errlen)
{
	struct bx_rpc_server_conf sc;
	enum bx_pki_server_state state;
	char *key = NULL, *cert = NULL, *chain = NULL;
	char dir[PATH_LEN];
	int rc;

	snprintf(dir, sizeof(dir), "%s/%s", conf->state_dir,
		 BX_DISPATCH_CA_DIR);
	rc = bx_pki_server_load_or_create(dir, d->ca, conf->names,
					  conf->n_names, &key, &cert, &state,
					  err, errlen);
	if (rc != 0)
		return rc;
	dispatch_log(d, "hub certificate %s (first name %s)",
		     bx_pki_server_state_name(state), conf->names[0]);
	/* Leaf then CA: joining nodes find the CA they pinned in it. */
	chain = bx_pki_chain_pem(cert, bx_pki_ca_cert_pem(d->ca));
	if (chain == NULL) {
		rc = fail(err, errlen, -errno, "hub certificate chain: %s",
			  strerror(errno));
		goto out;
	}
	memset(&sc, 0, sizeof(sc));
	sc.listen = conf->listen;
	sc.ca_pem = bx_pki_ca_cert_pem(d->ca);
	sc.cert_chain_pem = chain;
	sc.key_pem = key;
	d->srv = bx_rpc_server_create(&sc, err, errlen);
	if (d->srv == NULL) {
		rc = -errno;
		goto out;
	}
	rc = dispatch_register(d);
	if (rc != 0)
		fail(err, errlen, rc, "registering the methods: %s",
		     strerror(-rc));
out:
	bx_pki_key_free(key);
	free(cert);
	free(chain);
	return rc;
}

/* Where the watcher starts: what the store holds now is what nodes get
 * from their streams' first messages. */
static int
read_versions(struct bx_dispatch *d, char *err, size_t errlen)
{
	uint8_t head[BX_STORE_HASH_LEN];
	char hex[2 * BX_STORE_HASH_LEN + 1];
	char *json = NULL;
	int rc;

	rc = bx_store_topology_version(d->store, &d->topology_version, err,
				       errlen);
	if (rc == 0)
		rc = bx_store_audit_head(d->store, &d->audit_seq, head, err,
					 errlen);
	if (rc == 0) {
		/* Published in the log: a rewrite of the chain's tail then
		 * shows against it (bx_store.h, "Audit record hash"). */
		sodium_bin2hex(hex, sizeof(hex), head, sizeof(head));
		dispatch_log(d, "audit log head: record %" PRIu64 ", %s",
			     d->audit_seq, hex);
	}
	if (rc == 0) {
		rc = bx_store_policy_get(d->store, &json, &d->policy_version,
					 err, errlen);
		free(json);
		if (rc == -ENOENT)
			rc = 0;
	}
	return rc;
}

struct bx_dispatch *
bx_dispatch_start(const struct bx_dispatch_conf *conf, char *err,
		  size_t errlen)
{
	struct bx_dispatch *d;
	pthread_condattr_t ca;
	char ip[INET_ADDRSTRLEN];
	int rc;

	rc = check_conf(conf, err, errlen);
	if (rc != 0) {
		errno = -rc;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		fail(err, errlen, -ENOMEM, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	d->state_dir = strdup(conf->state_dir);
	if (d->state_dir == NULL) {
		fail(err, errlen, -ENOMEM, "out of memory");
		free(d);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->wake, &ca);
	pthread_condattr_destroy(&ca);
	d->mesh = conf->mesh;
	dispatch_ip_text(conf->mesh.addr, ip, sizeof(ip));
	snprintf(d->mesh_text, sizeof(d->mesh_text), "%s/%u", ip,
		 conf->mesh.len);
	d->mesh_port = conf->mesh_port;
	d->cipher = strcmp(conf->cipher, BX_DISPATCH_CIPHER_GCM) == 0
			    ? BX_DISPATCH_CIPHER_GCM
			    : BX_DISPATCH_CIPHER_CHACHA;
	d->node_cert_days = conf->node_cert_days != 0
				    ? conf->node_cert_days
				    : BX_PKI_NODE_DAYS_DEFAULT;
	d->log = conf->log;
	d->log_arg = conf->log_arg;
	d->clock_ms = conf->clock_ms;
	d->clock_arg = conf->clock_arg;

	rc = open_state(d, conf, err, errlen);
	if (rc == 0)
		rc = start_server(d, conf, err, errlen);
	if (rc == 0)
		rc = read_versions(d, err, errlen);
	if (rc != 0)
		goto fail;
	rc = -pthread_create(&d->watcher, NULL, watcher_main, d);
	if (rc != 0) {
		fail(err, errlen, rc, "watcher thread: %s", strerror(-rc));
		goto fail;
	}
	d->watcher_running = true;
	rc = bx_rpc_server_start(d->srv);
	if (rc != 0) {
		fail(err, errlen, rc, "server thread: %s", strerror(-rc));
		goto fail;
	}
	return d;
fail:
	bx_dispatch_stop(d);
	errno = -rc;
	return NULL;
}

uint16_t
bx_dispatch_port(const struct bx_dispatch *d)
{
	return bx_rpc_server_port(d->srv);
}

void
bx_dispatch_ca_pin(const struct bx_dispatch *d,
		   uint8_t out[BX_DISPATCH_PIN_LEN])
{
	memcpy(out, d->ca_pin, BX_DISPATCH_PIN_LEN);
}

void
bx_dispatch_stats_get(struct bx_dispatch *d, struct bx_dispatch_stats *out)
{
	pthread_mutex_lock(&d->lock);
	*out = d->stats;
	pthread_mutex_unlock(&d->lock);
}

void
bx_dispatch_stop(struct bx_dispatch *d)
{
	struct sub *sub;
	int k;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	pthread_cond_broadcast(&d->wake);
	pthread_mutex_unlock(&d->lock);
	if (d->watcher_running)
		pthread_join(d->watcher, NULL);

	/* Tell the nodes why, rather than letting the server cancel them. */
	pthread_mutex_lock(&d->lock);
	for (k = 0; k < SUB_KINDS; k++)
		for (sub = d->subs[k]; sub != NULL; sub = sub->next)
			bx_rpc_stream_finish(sub->s, BX_RPC_UNAVAILABLE,
					     "hub is shutting down");
	pthread_mutex_unlock(&d->lock);
	/* Runs closed for every stream left, which frees its record. */
	bx_rpc_server_stop(d->srv, BX_DISPATCH_STOP_GRACE_MS);
	for (k = 0; k < SUB_KINDS; k++)
		BX_ASSERT(d->subs[k] == NULL);

	dispatch_gates_free(d);
	bx_store_close(d->store);
	bx_pki_ca_free(d->ca);
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->lock);
	free(d->state_dir);
	free(d);
}
