/* SPDX-License-Identifier: Apache-2.0 */
/*
 * topology-fanout: how long bauxite-dispatch takes to deliver one topology
 * change to N nodes that watch the topology (WatchTopology streams over
 * mTLS), from the moment the change is committed to the store until the
 * last node has it.
 *
 * Everything runs in this one process: the hub (bx_dispatch, with its
 * gRPC server thread and its store watcher) in a temporary state
 * directory, and N nodes, each a channel of its own -- its own TLS
 * connection, its own client certificate, so the hub sees N identities --
 * carrying one stream. The nodes are provisioned without RPC: this program
 * opens the hub's SQLite store itself (the hub shares the file, WAL mode),
 * adds them, and signs each one's certificate with the hub's CA, as the
 * join flow would.
 *
 * Set-up: N nodes, N certificates, then N streams (known_version 0), each
 * of which must start with a full snapshot of the N - 1 other nodes. At
 * most BENCH_CONNECT_WINDOW streams wait for their snapshot at a time: TLS
 * handshakes and snapshots all run on the same two cores, and opening a
 * thousand at once only pushes the late ones past gRPC's connect timeout.
 * One thread polls them: a sweep asks each waiting stream with timeout 0,
 * and a sweep that found nothing makes the next start with a wait of up to
 * BENCH_IDLE_WAIT_MS, so that this thread does not spin.
 *
 * A round: wait a random part of the watcher's poll interval, so that the
 * change lands anywhere in its cycle rather than always just after a poll;
 * add one node to the store and take T0 when bx_store_node_add returns;
 * then take each stream's update, stamping when it is handed over.
 *
 * How arrivals are stamped. One thread, again, but here it waits on the
 * streams one at a time, each until its update is there, in the order the
 * hub sends: the watcher pushes to its newest subscriber first, and the
 * hub subscribes a stream when it sends its snapshot, so that order is the
 * reverse of the snapshots' arrival. A blocked wait returns when its
 * message arrives, so each stamp is the arrival, and the thread sleeps in
 * between. Had the order been wrong, a stamp could only be late (the
 * message was there before its turn), never early; the last one is exact
 * in any order. Not a sweep with timeout 0 over all streams: here one such
 * poll of a stream with nothing for it costs ~30 us (gRPC waits on a
 * condition variable with a deadline already past), so each sweep of a
 * thousand streams would take ~30 ms, as long as the fan-out itself.
 *
 * The watcher only sees a change at its next poll, so latency has a floor
 * that is uniform in [0, poll interval): "first" is mostly that wait, and
 * "spread" (last - first) is the fan-out itself: the hub's send loop and
 * the nodes' TLS and HTTP/2 work, all on this machine's cores.
 *
 * Every message is checked: a full snapshot with the right number of
 * peers, none of them the node itself, then an update with the new version
 * that upserts the new node with its endpoint; after the set-up the hub
 * must count N topology streams. A wrong message, a stream that ends, or a
 * round that does not complete within BENCH_ROUND_TIMEOUT_S ends the run
 * with a message and a non-zero exit.
 *
 * Usage: topology-fanout [--json] [--quick] [--streams N] [--rounds R]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "bauxite/v1/topology.pb-c.h"
#include "bench.h"
#include "bx_common.h"
#include "bx_dispatch.h"
#include "bx_pki.h"
#include "bx_rpc.h"
#include "bx_store.h"

#define BENCH_DEFAULT_STREAMS 1000u
#define BENCH_DEFAULT_ROUNDS 5u
#define BENCH_QUICK_STREAMS 50u
#define BENCH_QUICK_ROUNDS 2u
/* Two streams make the smallest mesh where a node has a peer. */
#define BENCH_MIN_STREAMS 2u
/* Descriptors bind first; the mesh below has room for 65 534 nodes. */
#define BENCH_MAX_STREAMS 30000u
#define BENCH_MAX_ROUNDS 1000u
/* Streams waiting for their snapshot at a time, see the top. */
#define BENCH_CONNECT_WINDOW 64u
#define BENCH_IDLE_WAIT_MS 1
#define BENCH_ROUND_TIMEOUT_S 60u
/* For the whole set-up, a full snapshot per stream included. */
#define BENCH_CONNECT_TIMEOUT_S 900u
/* A node's socket and the hub's end of it, both in this process. */
#define BENCH_FDS_PER_STREAM 2u
/* The store, gRPC's own descriptors, stdio. */
#define BENCH_FDS_SPARE 256u
/* 100.64.0.0/16: a /24 holds 254 nodes, not a thousand. */
#define BENCH_MESH_ADDR 0x64400000u
#define BENCH_MESH_LEN 16u
#define BENCH_MESH_PORT 7600u
/* Node endpoints: 198.18.0.0/15, the benchmarking range (RFC 2544). */
#define BENCH_ENDPOINT_BASE 0xc6120000u
#define BENCH_ENDPOINT_PORT 7600u
/* Endpoints of the nodes the rounds add, above those of the streams. */
#define BENCH_EXTRA_ENDPOINT_BASE (BENCH_ENDPOINT_BASE + 0x10000u)
#define BENCH_NODE_DAYS 1u
#define BENCH_HUB_NAME "127.0.0.1"
#define BENCH_ACTOR "bench:topology-fanout"
#define BENCH_ID_FMT "fanout-%05u"
#define BENCH_EXTRA_ID_FMT "fanout-extra-%04u"
#define BENCH_ERR_LEN 512u
/* A state directory path fits in an error message. */
#define BENCH_TMPDIR_MAX 256u
#define BENCH_DIR_LEN (BENCH_TMPDIR_MAX + 32u)   /* + "/bx-fanout-XXXXXX" */
#define BENCH_PATH_LEN (BENCH_DIR_LEN + 32u)     /* + "/dispatch.db" */
#define BENCH_TARGET_LEN 64u
#define BENCH_NS_PER_MS 1e6
#define BENCH_PERCENTILE 0.99

/* One node and its stream. */
struct sub {
	char id[BX_STORE_ID_MAX + 1];
	char *key_pem;                 /* until its channel has a copy */
	char *cert_pem;
	struct bx_rpc_channel *ch;
	struct bx_rpc_call *call;
};

/* One round's figures, in nanoseconds from T0. */
struct round_fig {
	uint64_t version;
	uint64_t first, median, p99, last;
};

struct bench {
	unsigned streams;
	unsigned rounds;
	bool json;

	char dir[BENCH_DIR_LEN];       /* the hub's state directory */
	char target[BENCH_TARGET_LEN]; /* 127.0.0.1:<port> */
	struct bx_dispatch *hub;
	struct bx_store *store;
	struct bx_pki_ca *ca;
	struct sub *subs;
	uint32_t *waiting;             /* indices into subs */
	/* The order the hub pushes in: newest stream first (see the top). */
	uint32_t *send_order;
	uint64_t *lat;                 /* per stream, this round */
	struct round_fig *figs;

	/* Set-up figures. */
	uint64_t nodes_ns, certs_ns, connect_ns;
	uint64_t snapshot_version;
	uint64_t peer_entries;
	long rss_before_kb, rss_kb, threads;
	/* Updates older than the round's change, skipped (see round_run). */
	uint64_t stale;

	char err[BENCH_ERR_LEN];
};

static double
ms(uint64_t ns)
{
	return (double)ns / BENCH_NS_PER_MS;
}

static double
secs(uint64_t ns)
{
	return (double)ns / BENCH_NS_PER_S;
}

/* ---- the process ------------------------------------------------------ */

/* A field of /proc/self/status ("VmRSS", "Threads"), or -1. */
static long
proc_status(const char *field)
{
	char line[256];
	size_t flen = strlen(field);
	long v = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			v = strtol(line + flen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/*
 * Every stream is two sockets of this process. The soft limit is raised
 * as far as needed; the hard limit only root can raise, so say so.
 */
static int
fds_raise(struct bench *b)
{
	rlim_t need = (rlim_t)b->streams * BENCH_FDS_PER_STREAM + BENCH_FDS_SPARE;
	struct rlimit rl;
	int rc;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		rc = -errno;
		snprintf(b->err, sizeof(b->err), "getrlimit: %s", strerror(-rc));
		return rc;
	}
	/* RLIM_INFINITY is the largest rlim_t: no special case needed. */
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max < need) {
		snprintf(b->err, sizeof(b->err),
			 "%u streams need %llu descriptors (%u per stream: "
			 "node and hub side), but the hard RLIMIT_NOFILE is %llu: "
			 "raise it (ulimit -Hn, as root) or use fewer --streams",
			 b->streams, (unsigned long long)need,
			 BENCH_FDS_PER_STREAM, (unsigned long long)rl.rlim_max);
		return -EMFILE;
	}
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		rc = -errno;
		snprintf(b->err, sizeof(b->err), "setrlimit(RLIMIT_NOFILE, %llu): %s",
			 (unsigned long long)need, strerror(-rc));
		return rc;
	}
	return 0;
}

static int
rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void
dir_remove(const char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- provisioning, without RPC ----------------------------------------- */

/* The serial as the store keeps it: hex digits. */
static int
cert_serial(const char *pem, char out[BX_STORE_SERIAL_MAX + 1])
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIGNUM *bn = x != NULL ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)
			       : NULL;
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	int rc = -EINVAL;

	if (hex != NULL && strlen(hex) <= BX_STORE_SERIAL_MAX) {
		memcpy(out, hex, strlen(hex) + 1);
		rc = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	BIO_free(bio);
	return rc;
}

/* Node @id with random keys and endpoint @ep_ip (host order). */
static void
node_make(struct bx_store_node *n, const char *id, uint32_t ep_ip)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->id, sizeof(n->id), "%s", id);
	randombytes_buf(n->ed25519_public, sizeof(n->ed25519_public));
	randombytes_buf(n->x25519_public, sizeof(n->x25519_public));
	n->n_endpoints = 1;
	n->endpoints[0].ip = htonl(ep_ip);
	n->endpoints[0].port = BENCH_ENDPOINT_PORT;
}

/*
 * Stream @i's node as a joined node would be: a key of its own, a
 * certificate from the hub's CA, and a row in the store that carries it.
 */
static int
sub_provision(struct bench *b, unsigned i)
{
	struct sub *s = &b->subs[i];
	struct bx_store_node n;
	uint8_t *csr = NULL;
	size_t csr_len = 0;
	int64_t not_after;
	uint64_t t;
	int rc;

	snprintf(s->id, sizeof(s->id), BENCH_ID_FMT, i);
	t = bench_now_ns();
	rc = bx_pki_key_generate(&s->key_pem, b->err, sizeof(b->err));
	if (rc == 0)
		rc = bx_pki_csr_make(s->key_pem, s->id, &csr, &csr_len, b->err,
				     sizeof(b->err));
	if (rc == 0)
		rc = bx_pki_ca_sign_node(b->ca, csr, csr_len, s->id,
					 BENCH_NODE_DAYS, &s->cert_pem, b->err,
					 sizeof(b->err));
	free(csr);
	b->certs_ns += bench_now_ns() - t;
	if (rc != 0)
		return rc;

	node_make(&n, s->id, BENCH_ENDPOINT_BASE + i + 1);
	n.cert_pem = s->cert_pem;
	if (cert_serial(s->cert_pem, n.cert_serial) != 0 ||
	    bx_pki_cert_not_after(s->cert_pem, &not_after) != 0) {
		snprintf(b->err, sizeof(b->err), "%s: cannot read the signed "
			 "certificate's serial or notAfter", s->id);
		return -EINVAL;
	}
	n.cert_not_after_ms = not_after * 1000;
	t = bench_now_ns();
	rc = bx_store_node_add(b->store, BENCH_ACTOR, &n, NULL, b->err,
			       sizeof(b->err));
	b->nodes_ns += bench_now_ns() - t;
	return rc;
}

/* ---- streams ----------------------------------------------------------- */

static int
sub_open(struct bench *b, struct sub *s)
{
	Bauxite__V1__WatchTopologyRequest req =
		BAUXITE__V1__WATCH_TOPOLOGY_REQUEST__INIT;
	struct bx_rpc_client_creds creds;
	uint8_t buf[16];
	size_t len;
	int rc;

	memset(&creds, 0, sizeof(creds));
	creds.kind = BX_RPC_CREDS_TLS;
	creds.ca_pem = bx_pki_ca_cert_pem(b->ca);
	creds.cert_pem = s->cert_pem;
	creds.key_pem = s->key_pem;
	creds.server_name = BENCH_HUB_NAME;
	s->ch = bx_rpc_channel_create(b->target, &creds, b->err, sizeof(b->err));
	/* The channel keeps its own copies. */
	bx_pki_key_free(s->key_pem);
	s->key_pem = NULL;
	free(s->cert_pem);
	s->cert_pem = NULL;
	if (s->ch == NULL)
		return -errno;
	req.known_version = 0;
	len = bauxite__v1__watch_topology_request__pack(&req, buf);
	rc = bx_rpc_call_open_stream(s->ch, BX_DISPATCH_WATCH_TOPOLOGY, buf, len,
				     &s->call);
	if (rc != 0)
		snprintf(b->err, sizeof(b->err), "%s: cannot open WatchTopology: %s",
			 s->id, strerror(-rc));
	return rc;
}

/* bx_rpc_call_next failed on @s: why, for the message. */
static int
sub_failed(struct bench *b, const struct sub *s, int rc)
{
	enum bx_rpc_code code;
	const char *msg = "";

	if (rc == -EPIPE && bx_rpc_call_status(s->call, &code, &msg) == 0)
		snprintf(b->err, sizeof(b->err), "%s: stream ended: %s %s", s->id,
			 bx_rpc_code_name(code), msg);
	else
		snprintf(b->err, sizeof(b->err), "%s: stream: %s", s->id,
			 strerror(-rc));
	return rc == -EPIPE ? -EPROTO : rc;
}

/* The first message of @s: a full snapshot of every other node. */
static int
snapshot_check(struct bench *b, struct sub *s, const uint8_t *msg, size_t len)
{
	Bauxite__V1__TopologyUpdate *u;
	size_t i, peers = 0;
	int rc = 0;

	u = bauxite__v1__topology_update__unpack(NULL, len, msg);
	if (u == NULL) {
		snprintf(b->err, sizeof(b->err), "%s: snapshot does not decode",
			 s->id);
		return -EBADMSG;
	}
	for (i = 0; i < u->n_changes; i++) {
		const Bauxite__V1__PeerChange *c = u->changes[i];

		if (c->op != BAUXITE__V1__PEER_CHANGE__OP__UPSERT || c->peer == NULL)
			continue;
		peers++;
		if (c->peer->id != NULL && strcmp(c->peer->id, s->id) == 0) {
			snprintf(b->err, sizeof(b->err),
				 "%s: snapshot lists the node itself as a peer",
				 s->id);
			rc = -EPROTO;
		}
	}
	if (rc == 0 && (!u->full || peers != b->streams - 1u ||
			peers != u->n_changes)) {
		snprintf(b->err, sizeof(b->err),
			 "%s: first message: full=%d, %zu changes, %zu upserts; "
			 "expected a full snapshot of %u peers", s->id, u->full,
			 u->n_changes, peers, b->streams - 1u);
		rc = -EPROTO;
	}
	if (rc == 0 && b->snapshot_version != 0 &&
	    u->version != b->snapshot_version) {
		snprintf(b->err, sizeof(b->err),
			 "%s: snapshot at version %" PRIu64 ", others at %" PRIu64,
			 s->id, u->version, b->snapshot_version);
		rc = -EPROTO;
	}
	if (rc == 0) {
		b->snapshot_version = u->version;
		b->peer_entries += peers;
	}
	bauxite__v1__topology_update__free_unpacked(u, NULL);
	return rc;
}

/*
 * Opens every stream and takes each one's snapshot, at most
 * BENCH_CONNECT_WINDOW waiting at a time.
 */
static int
streams_open(struct bench *b)
{
	uint64_t t0 = bench_now_ns(), deadline;
	unsigned next = 0, done = 0, n_wait = 0, k;
	struct bx_dispatch_stats st;
	int wait_ms = 0, rc;

	deadline = t0 + (uint64_t)BENCH_CONNECT_TIMEOUT_S * 1000000000ull;
	while (done < b->streams) {
		bool got = false;

		while (next < b->streams && n_wait < BENCH_CONNECT_WINDOW) {
			rc = sub_open(b, &b->subs[next]);
			if (rc != 0)
				return rc;
			b->waiting[n_wait++] = next++;
		}
		for (k = 0; k < n_wait;) {
			struct sub *s = &b->subs[b->waiting[k]];
			uint8_t *msg;
			size_t len;

			rc = bx_rpc_call_next(s->call, k == 0 ? wait_ms : 0, &msg,
					      &len);
			if (rc == -EAGAIN) {
				k++;
				continue;
			}
			if (rc != 0)
				return sub_failed(b, s, rc);
			rc = snapshot_check(b, s, msg, len);
			free(msg);
			if (rc != 0)
				return rc;
			b->send_order[b->streams - 1u - done] = b->waiting[k];
			b->waiting[k] = b->waiting[--n_wait];
			done++;
			got = true;
		}
		wait_ms = got ? 0 : BENCH_IDLE_WAIT_MS;
		if (bench_now_ns() > deadline) {
			snprintf(b->err, sizeof(b->err),
				 "%u of %u streams had no snapshot after %u s",
				 b->streams - done, b->streams,
				 BENCH_CONNECT_TIMEOUT_S);
			return -ETIMEDOUT;
		}
	}
	b->connect_ns = bench_now_ns() - t0;
	/* One hub-side stream per node: no two nodes share a connection. */
	bx_dispatch_stats_get(b->hub, &st);
	if (st.topology_streams != b->streams) {
		snprintf(b->err, sizeof(b->err),
			 "the hub counts %u topology streams, not %u",
			 st.topology_streams, b->streams);
		return -EPROTO;
	}
	return 0;
}

/*
 * A message on @s during a round: 1 when it is the round's update (version
 * @version or later, upserting @id at @ep_ip), 0 when it is older (a
 * change the watcher had not pushed when the stream started: skipped), or
 * an error.
 */
static int
update_check(struct bench *b, struct sub *s, const uint8_t *msg, size_t len,
	     uint64_t version, const char *id, uint32_t ep_ip)
{
	Bauxite__V1__TopologyUpdate *u;
	bool found = false;
	size_t i;
	int rc;

	u = bauxite__v1__topology_update__unpack(NULL, len, msg);
	if (u == NULL) {
		snprintf(b->err, sizeof(b->err), "%s: update does not decode", s->id);
		return -EBADMSG;
	}
	if (u->version < version) {
		b->stale++;
		bauxite__v1__topology_update__free_unpacked(u, NULL);
		return 0;
	}
	for (i = 0; i < u->n_changes; i++) {
		const Bauxite__V1__PeerChange *c = u->changes[i];
		const Bauxite__V1__Peer *p = c->peer;

		if (c->op == BAUXITE__V1__PEER_CHANGE__OP__UPSERT && p != NULL &&
		    p->id != NULL && strcmp(p->id, id) == 0 &&
		    p->n_endpoints >= 1 && p->endpoints[0]->ip == ep_ip &&
		    p->endpoints[0]->port == BENCH_ENDPOINT_PORT)
			found = true;
	}
	if (found) {
		rc = 1;
	} else {
		snprintf(b->err, sizeof(b->err),
			 "%s: update %" PRIu64 " (%zu changes, full=%d) does not "
			 "upsert %s with its endpoint", s->id, u->version,
			 u->n_changes, u->full, id);
		rc = -EPROTO;
	}
	bauxite__v1__topology_update__free_unpacked(u, NULL);
	return rc;
}

/* Nearest-rank percentile @p of @n sorted samples. */
static uint64_t
percentile(const uint64_t *sorted, size_t n, double p)
{
	size_t rank = (size_t)(p * (double)n + 0.999999);

	return sorted[rank > 0 ? rank - 1 : 0];
}

/* One change, fanned out to every stream. */
static int
round_run(struct bench *b, unsigned r, struct round_fig *fig)
{
	char id[BX_STORE_ID_MAX + 1];
	uint32_t ep_ip = BENCH_EXTRA_ENDPOINT_BASE + r + 1;
	struct bx_store_node n;
	uint64_t t0, version, deadline;
	unsigned k;
	int rc;

	/* Land anywhere in the watcher's cycle, see the top. */
	usleep(randombytes_uniform(BX_DISPATCH_WATCH_MS) * 1000u);
	snprintf(id, sizeof(id), BENCH_EXTRA_ID_FMT, r);
	node_make(&n, id, ep_ip);
	rc = bx_store_node_add(b->store, BENCH_ACTOR, &n, NULL, b->err,
			       sizeof(b->err));
	t0 = bench_now_ns();
	if (rc == 0)
		rc = bx_store_topology_version(b->store, &version, b->err,
					       sizeof(b->err));
	if (rc != 0)
		return rc;

	deadline = t0 + (uint64_t)BENCH_ROUND_TIMEOUT_S * 1000000000ull;
	for (k = 0; k < b->streams; k++) {
		unsigned i = b->send_order[k];
		struct sub *s = &b->subs[i];

		do {
			uint64_t t = bench_now_ns();
			uint8_t *msg;
			size_t len;

			if (t >= deadline) {
				snprintf(b->err, sizeof(b->err),
					 "round %u: %u of %u streams had no update %"
					 PRIu64 " after %u s", r + 1, b->streams - k,
					 b->streams, version, BENCH_ROUND_TIMEOUT_S);
				return -ETIMEDOUT;
			}
			rc = bx_rpc_call_next(s->call,
					      (int)((deadline - t) / 1000000u) + 1,
					      &msg, &len);
			t = bench_now_ns();
			if (rc == -EAGAIN)
				continue; /* the deadline check above ends it */
			if (rc != 0)
				return sub_failed(b, s, rc);
			rc = update_check(b, s, msg, len, version, id, ep_ip);
			free(msg);
			if (rc < 0)
				return rc;
			if (rc == 1)
				b->lat[i] = t - t0;
		} while (rc != 1);
	}

	fig->version = version;
	fig->median = (uint64_t)bench_median(b->lat, b->streams);
	fig->first = b->lat[0];
	fig->last = b->lat[b->streams - 1];
	fig->p99 = percentile(b->lat, b->streams, BENCH_PERCENTILE);
	return 0;
}

/* ---- figures ----------------------------------------------------------- */

static void
report_setup(const struct bench *b)
{
	if (b->json) {
		printf("{\"name\":\"topology-fanout\",\"phase\":\"setup\","
		       "\"streams\":%u,\"nodes_s\":%.3f,\"certs_s\":%.3f,"
		       "\"connect_s\":%.3f,\"peers_per_snapshot\":%u,"
		       "\"peer_entries\":%" PRIu64 ",\"rss_before_mb\":%.1f,"
		       "\"rss_mb\":%.1f,\"rss_per_stream_kb\":%.1f,"
		       "\"threads\":%ld,\"watch_interval_ms\":%u}\n",
		       b->streams, secs(b->nodes_ns), secs(b->certs_ns),
		       secs(b->connect_ns), b->streams - 1u, b->peer_entries,
		       b->rss_before_kb / 1024.0, b->rss_kb / 1024.0,
		       (double)(b->rss_kb - b->rss_before_kb) / b->streams,
		       b->threads, BX_DISPATCH_WATCH_MS);
	} else {
		printf("set-up: %u nodes added to the store in %.2f s; %u keys, "
		       "CSRs and certificates in %.2f s\n",
		       b->streams, secs(b->nodes_ns), b->streams, secs(b->certs_ns));
		printf("        %u streams connected (mTLS) with their snapshots "
		       "(%u peers each, %" PRIu64 " peer entries) in %.2f s\n",
		       b->streams, b->streams - 1u, b->peer_entries,
		       secs(b->connect_ns));
		printf("        RSS %.1f MB with every stream open (%.1f MB before "
		       "them: %.1f kB per stream, hub and node side), %ld threads\n",
		       b->rss_kb / 1024.0, b->rss_before_kb / 1024.0,
		       (double)(b->rss_kb - b->rss_before_kb) / b->streams,
		       b->threads);
		printf("%5s %8s %9s %9s %9s %9s %10s\n", "round", "version",
		       "first ms", "median ms", "p99 ms", "last ms", "spread ms");
	}
	fflush(stdout);
}

static void
report_round(const struct bench *b, unsigned r, const struct round_fig *f)
{
	if (b->json)
		printf("{\"name\":\"topology-fanout\",\"phase\":\"round\","
		       "\"streams\":%u,\"round\":%u,\"version\":%" PRIu64 ","
		       "\"first_ms\":%.2f,\"median_ms\":%.2f,\"p99_ms\":%.2f,"
		       "\"last_ms\":%.2f,\"spread_ms\":%.2f}\n",
		       b->streams, r + 1, f->version, ms(f->first), ms(f->median),
		       ms(f->p99), ms(f->last), ms(f->last - f->first));
	else
		printf("%5u %8" PRIu64 " %9.2f %9.2f %9.2f %9.2f %10.2f\n", r + 1,
		       f->version, ms(f->first), ms(f->median), ms(f->p99),
		       ms(f->last), ms(f->last - f->first));
	fflush(stdout);
}

static void
report_summary(const struct bench *b)
{
	uint64_t *last = calloc(b->rounds, sizeof(*last));
	uint64_t *first = calloc(b->rounds, sizeof(*first));
	uint64_t *spread = calloc(b->rounds, sizeof(*spread));
	uint64_t worst = 0;
	double last_med, first_med, spread_med;
	unsigned r;

	if (last == NULL || first == NULL || spread == NULL) {
		free(last);
		free(first);
		free(spread);
		return;
	}
	for (r = 0; r < b->rounds; r++) {
		last[r] = b->figs[r].last;
		first[r] = b->figs[r].first;
		spread[r] = b->figs[r].last - b->figs[r].first;
		if (last[r] > worst)
			worst = last[r];
	}
	last_med = bench_median(last, b->rounds);
	first_med = bench_median(first, b->rounds);
	spread_med = bench_median(spread, b->rounds);
	if (b->json)
		printf("{\"name\":\"topology-fanout\",\"phase\":\"summary\","
		       "\"streams\":%u,\"rounds\":%u,\"last_median_ms\":%.2f,"
		       "\"last_worst_ms\":%.2f,\"first_median_ms\":%.2f,"
		       "\"spread_median_ms\":%.2f,\"watch_interval_ms\":%u,"
		       "\"stale_updates\":%" PRIu64 "}\n",
		       b->streams, b->rounds, last_med / BENCH_NS_PER_MS, ms(worst),
		       first_med / BENCH_NS_PER_MS, spread_med / BENCH_NS_PER_MS,
		       BX_DISPATCH_WATCH_MS, b->stale);
	else
		printf("last stream received the change after %.2f ms (median of "
		       "%u rounds), %.2f ms at worst; first after %.2f ms, spread "
		       "%.2f ms (medians). Floor: the hub's watcher polls the store "
		       "every %u ms.\n",
		       last_med / BENCH_NS_PER_MS, b->rounds, ms(worst),
		       first_med / BENCH_NS_PER_MS, spread_med / BENCH_NS_PER_MS,
		       BX_DISPATCH_WATCH_MS);
	fflush(stdout);
	free(last);
	free(first);
	free(spread);
}

/* ---- set-up ------------------------------------------------------------ */

static int
hub_start(struct bench *b)
{
	static const char *const names[] = { BENCH_HUB_NAME };
	char path[BENCH_PATH_LEN];
	struct bx_dispatch_conf conf;
	struct bx_store_options opts;
	struct bx_store_prefix mesh = { .len = BENCH_MESH_LEN };
	uint8_t pin[BX_PKI_SHA256_LEN], hub_pin[BX_PKI_SHA256_LEN];
	const char *tmp = getenv("TMPDIR");
	int rc;

	mesh.addr = htonl(BENCH_MESH_ADDR);
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	/* Room for the store's and the CA's file names under it. */
	if (strlen(tmp) > BENCH_TMPDIR_MAX) {
		snprintf(b->err, sizeof(b->err), "TMPDIR: longer than %u bytes",
			 BENCH_TMPDIR_MAX);
		return -ENAMETOOLONG;
	}
	snprintf(b->dir, sizeof(b->dir), "%s/bx-fanout-XXXXXX", tmp);
	if (mkdtemp(b->dir) == NULL) {
		rc = -errno;
		snprintf(b->err, sizeof(b->err), "mkdtemp %s: %s", b->dir,
			 strerror(-rc));
		b->dir[0] = '\0';
		return rc;
	}

	memset(&conf, 0, sizeof(conf));
	conf.state_dir = b->dir;
	conf.listen = BENCH_HUB_NAME ":0";
	conf.names = names;
	conf.n_names = BX_ARRAY_SIZE(names);
	conf.mesh = mesh;
	conf.mesh_port = BENCH_MESH_PORT;
	conf.cipher = BX_DISPATCH_CIPHER_CHACHA;
	conf.node_cert_days = BENCH_NODE_DAYS;
	b->hub = bx_dispatch_start(&conf, b->err, sizeof(b->err));
	if (b->hub == NULL)
		return -errno;
	snprintf(b->target, sizeof(b->target), BENCH_HUB_NAME ":%u",
		 bx_dispatch_port(b->hub));

	/* The hub's CA, loaded from where the hub keeps it. */
	snprintf(path, sizeof(path), "%s/%s", b->dir, BX_DISPATCH_CA_DIR);
	rc = bx_pki_ca_load_or_create(path, &b->ca, NULL, b->err, sizeof(b->err));
	if (rc != 0)
		return rc;
	bx_pki_ca_cert_sha256(b->ca, pin);
	bx_dispatch_ca_pin(b->hub, hub_pin);
	if (memcmp(pin, hub_pin, sizeof(pin)) != 0) {
		snprintf(b->err, sizeof(b->err), "%s is not the CA the hub uses",
			 path);
		return -EINVAL;
	}

	memset(&opts, 0, sizeof(opts));
	opts.mesh = mesh;
	snprintf(path, sizeof(path), "%s/%s", b->dir, BX_STORE_DB_FILE);
	return bx_store_open_sqlite(path, &opts, &b->store, b->err,
				    sizeof(b->err));
}

static int
bench_run(struct bench *b)
{
	unsigned i, r;
	int rc;

	b->subs = calloc(b->streams, sizeof(*b->subs));
	b->waiting = calloc(b->streams, sizeof(*b->waiting));
	b->send_order = calloc(b->streams, sizeof(*b->send_order));
	b->lat = calloc(b->streams, sizeof(*b->lat));
	b->figs = calloc(b->rounds, sizeof(*b->figs));
	if (b->subs == NULL || b->waiting == NULL || b->send_order == NULL ||
	    b->lat == NULL || b->figs == NULL) {
		snprintf(b->err, sizeof(b->err), "out of memory");
		return -ENOMEM;
	}
	rc = fds_raise(b);
	if (rc == 0)
		rc = hub_start(b);
	for (i = 0; rc == 0 && i < b->streams; i++)
		rc = sub_provision(b, i);
	if (rc != 0)
		return rc;
	if (!b->json)
		printf("topology-fanout: bauxite-dispatch and %u nodes in one "
		       "process, one WatchTopology stream per node over its own "
		       "mTLS connection (loopback); %u rounds of one change\n",
		       b->streams, b->rounds);
	/* Let the watcher catch up with the set-up's changes first. */
	usleep(2u * BX_DISPATCH_WATCH_MS * 1000u);
	b->rss_before_kb = proc_status("VmRSS");
	rc = streams_open(b);
	if (rc != 0)
		return rc;
	b->rss_kb = proc_status("VmRSS");
	b->threads = proc_status("Threads");
	report_setup(b);
	for (r = 0; r < b->rounds; r++) {
		rc = round_run(b, r, &b->figs[r]);
		if (rc != 0)
			return rc;
		report_round(b, r, &b->figs[r]);
	}
	report_summary(b);
	return 0;
}

static void
bench_free(struct bench *b)
{
	unsigned i;

	for (i = 0; b->subs != NULL && i < b->streams; i++) {
		bx_rpc_call_free(b->subs[i].call);
		bx_rpc_channel_destroy(b->subs[i].ch);
		bx_pki_key_free(b->subs[i].key_pem);
		free(b->subs[i].cert_pem);
	}
	bx_dispatch_stop(b->hub);
	bx_store_close(b->store);
	bx_pki_ca_free(b->ca);
	dir_remove(b->dir);
	free(b->subs);
	free(b->waiting);
	free(b->send_order);
	free(b->lat);
	free(b->figs);
}

static void
usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [--json] [--quick] [--streams N] [--rounds R]\n"
		"  --json        one JSON object per line instead of a table\n"
		"  --quick       %u streams, %u rounds (instead of %u and %u)\n"
		"  --streams N   nodes watching the topology, %u..%u\n"
		"  --rounds R    changes fanned out, one at a time, 1..%u\n",
		prog, BENCH_QUICK_STREAMS, BENCH_QUICK_ROUNDS,
		BENCH_DEFAULT_STREAMS, BENCH_DEFAULT_ROUNDS, BENCH_MIN_STREAMS,
		BENCH_MAX_STREAMS, BENCH_MAX_ROUNDS);
}

static int
parse_uint(const char *name, const char *arg, unsigned min, unsigned max,
	   unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno != 0 || *end != '\0' || *arg == '\0' || v < min || v > max) {
		fprintf(stderr, "--%s: want %u..%u: %s\n", name, min, max, arg);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "quick", no_argument, NULL, 'q' },
		{ "streams", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench b;
	int opt, rc;

	memset(&b, 0, sizeof(b));
	b.streams = BENCH_DEFAULT_STREAMS;
	b.rounds = BENCH_DEFAULT_ROUNDS;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			b.json = true;
			break;
		case 'q':
			b.streams = BENCH_QUICK_STREAMS;
			b.rounds = BENCH_QUICK_ROUNDS;
			break;
		case 'n':
			if (parse_uint("streams", optarg, BENCH_MIN_STREAMS,
				       BENCH_MAX_STREAMS, &b.streams) != 0)
				return EXIT_FAILURE;
			break;
		case 'r':
			if (parse_uint("rounds", optarg, 1, BENCH_MAX_ROUNDS,
				       &b.rounds) != 0)
				return EXIT_FAILURE;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return EXIT_SUCCESS;
		default:
			usage(stderr, argv[0]);
			return EXIT_FAILURE;
		}
	}
	if (optind != argc) {
		usage(stderr, argv[0]);
		return EXIT_FAILURE;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "topology-fanout: libsodium init failed\n");
		return EXIT_FAILURE;
	}
	/* The bench holds a gRPC reference of its own for the whole run, so
	 * that the last one is given back blocking: a plain grpc_shutdown()
	 * finishes on a detached thread, and a loaded machine could end the
	 * process (and the leak check) before it freed the TLS contexts. */
	grpc_init();
	rc = bench_run(&b);
	if (rc != 0)
		fprintf(stderr, "topology-fanout: %s\n",
			b.err[0] ? b.err : strerror(-rc));
	bench_free(&b);
	grpc_shutdown_blocking();
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
