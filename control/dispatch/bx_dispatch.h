/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control hub's services (DESIGN §4 "Dispatch"), the library behind
 * `bauxite-dispatch serve`: provisioning, topology and policy streams,
 * metrics reports and the ICE signaling relay, over control/rpc, with the
 * state in control/store and the CA of control/pki.
 *
 * Methods (proto/bauxite/v1/)
 *   ProvisionNode       unary, the only one open to callers without a
 *                       certificate: checks the request and its identity
 *                       signature, signs the CSR, spends a join token,
 *                       allocates a virtual IP and stores the node. What
 *                       the node got wrong (a field, a CSR, a key, an id
 *                       taken) is refused before the token is spent.
 *   WatchTopology       server stream: a full snapshot (every active node
 *                       but the caller) unless the caller already has the
 *                       current version, then one update per change.
 *   WatchPolicy         server stream: the current rules when their
 *                       version is not the caller's (a hub restored from
 *                       an older database corrects its nodes), then every
 *                       later change.
 *   ReportMetrics       unary: keeps the caller's counters in the store;
 *                       at most one report per BX_DISPATCH_METRICS_MIN_MS
 *                       per node, faster ones are RESOURCE_EXHAUSTED.
 *   ExchangeCandidates  bidi: relays each SignalMessage to the open stream
 *                       of its to_id, from_id stamped with the caller's
 *                       certificate identity. A sender past
 *                       BX_DISPATCH_SIGNAL_RATE, or a recipient whose
 *                       queue is full, loses the message, not the stream.
 *   GetMeshSettings     unary: the store's STUN servers and relays, and
 *                       the caller's relay key (lib/relay's
 *                       bx_relay_node_key of the relay secret, its id and
 *                       an expiry the key lifetime from now). The secret
 *                       is read for each call and wiped after it.
 *   The caller of every method but ProvisionNode is the node named by its
 *   client certificate, which must be the certificate the store holds for
 *   that node; a node that is unknown or revoked, or an older certificate
 *   of its id, is refused with PERMISSION_DENIED by each method.
 *
 * Streams that fall behind
 *   A topology or policy update a stream could not take (its queue full,
 *   no memory) ends that stream with UNAVAILABLE "resync needed": the node
 *   reconnects and gets a snapshot, rather than silently missing a
 *   change.
 *
 * Other writers
 *   `bauxite-dispatch nodes revoke` and `policy set` are other processes
 *   writing the same SQLite file. A watcher thread reads the topology
 *   version and the audit head every BX_DISPATCH_WATCH_MS and pushes what
 *   changed: topology changes to every topology stream (a stream never
 *   hears about its own node), the new policy to every policy stream. A
 *   removed (revoked) node also has its own streams ended with
 *   PERMISSION_DENIED, so it is cut off within about one watch period.
 *
 * Threads
 *   Handlers run on the rpc server's completion-queue thread, the watcher
 *   on its own; one mutex guards the subscriber lists. Store operations
 *   run on those threads: they are short (SQLite in WAL mode, readers never
 *   wait for a writer) except that a write may wait up to
 *   BX_STORE_BUSY_TIMEOUT_MS for another process's write lock.
 *
 * The library does not print: what an operator should see (provisioning,
 * refusals, revocations pushed, streams opening and closing) is handed,
 * one line at a time and never with a secret in it, to the log callback
 * of struct bx_dispatch_conf.
 */
#ifndef BX_DISPATCH_H
#define BX_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bx_store.h"

/* In the state directory: the store is BX_STORE_DB_FILE, the CA and the
 * hub's TLS pair (bx_pki's files) live in this subdirectory. */
#define BX_DISPATCH_CA_DIR "ca"
/* How often the watcher looks for changes made by other processes. */
#define BX_DISPATCH_WATCH_MS 100u
/* How long open streams get to take their final status at stop. */
#define BX_DISPATCH_STOP_GRACE_MS 1000u
/* The CA pin: SHA-256 of the CA certificate's DER (BX_PKI_SHA256_LEN). */
#define BX_DISPATCH_PIN_LEN 32u
/* One log line at most, terminator included (longer ones are cut). */
#define BX_DISPATCH_LOG_MAX 512u
/* A counter name in a metrics report: 1..this many bytes of UTF-8. */
#define BX_DISPATCH_COUNTER_NAME_MAX 127u
/*
 * One metrics report per node per this many ms at most (by the hub's
 * clock): half the shortest interval a node may be configured with (1 s),
 * so that network jitter never refuses a well-behaved node's report.
 */
#define BX_DISPATCH_METRICS_MIN_MS 500u
/*
 * What one node may have relayed: BX_DISPATCH_SIGNAL_RATE messages a
 * second on average, bursts of BX_DISPATCH_SIGNAL_BURST. An ICE exchange
 * is a handful of messages per peer.
 */
#define BX_DISPATCH_SIGNAL_RATE 50u
#define BX_DISPATCH_SIGNAL_BURST 100u
/*
 * In the state directory: the relay secret, BX_DISPATCH_RELAY_SECRET_LEN
 * random bytes, mode 0600, made on first need. Relays hold a copy
 * (bx_dispatch_relay_secret_export); nodes only ever get keys derived
 * from it.
 */
#define BX_DISPATCH_RELAY_SECRET_FILE "relay.secret"
#define BX_DISPATCH_RELAY_SECRET_LEN 32u
#define BX_DISPATCH_RELAY_SECRET_MODE 0600
/* The mesh ciphers a hub may announce (MeshSettings.cipher). */
#define BX_DISPATCH_CIPHER_CHACHA "chacha20-poly1305"
#define BX_DISPATCH_CIPHER_GCM "aes-256-gcm"
/*
 * The store keeps the policy as a JSON object; the rules are its member
 * BX_DISPATCH_POLICY_RULES, so the object can grow other members later.
 */
#define BX_DISPATCH_POLICY_RULES "rules"

/* gRPC paths of the methods served. */
#define BX_DISPATCH_PROVISION "/bauxite.v1.ProvisioningService/ProvisionNode"
#define BX_DISPATCH_WATCH_TOPOLOGY "/bauxite.v1.TopologyService/WatchTopology"
#define BX_DISPATCH_WATCH_POLICY "/bauxite.v1.PolicyService/WatchPolicy"
#define BX_DISPATCH_REPORT_METRICS "/bauxite.v1.MetricsService/ReportMetrics"
#define BX_DISPATCH_EXCHANGE_CANDIDATES                                       \
	"/bauxite.v1.SignalingService/ExchangeCandidates"
#define BX_DISPATCH_GET_MESH_SETTINGS "/bauxite.v1.MeshService/GetMeshSettings"

/* Receives each log line (no newline); may be called from any thread. */
typedef void (*bx_dispatch_log_fn)(void *arg, const char *line);

struct bx_dispatch_conf {
	/* Must exist: holds BX_STORE_DB_FILE and BX_DISPATCH_CA_DIR. */
	const char *state_dir;
	/* "0.0.0.0:7700"; port 0 binds an ephemeral one (bx_dispatch_port). */
	const char *listen;
	/* The names nodes dial, the hub certificate's SANs (DNS or IP). */
	const char *const *names;
	size_t n_names;
	/* Virtual IPs are allocated from it (network order, host bits 0). */
	struct bx_store_prefix mesh;
	/* Told to nodes; also the port of an endpoint given without one. */
	uint16_t mesh_port;
	/* BX_DISPATCH_CIPHER_CHACHA or BX_DISPATCH_CIPHER_GCM. */
	const char *cipher;
	/* Node certificate lifetime, 1..BX_PKI_NODE_DAYS_MAX; 0: default. */
	unsigned node_cert_days;
	/* Log lines go here; NULL: nowhere. */
	bx_dispatch_log_fn log;
	void *log_arg;
	/* Unix ms for token expiry, the store's times and the metrics
	 * interval; NULL: realtime. */
	int64_t (*clock_ms)(void *arg);
	void *clock_arg;
};

/* What the hub did since it started, for tests and status output. */
struct bx_dispatch_stats {
	uint64_t provisioned;        /* nodes added */
	uint64_t provision_refused;  /* ProvisionNode answered with an error */
	uint64_t topology_updates;   /* messages sent on topology streams */
	uint64_t policy_updates;     /* messages sent on policy streams */
	uint64_t revocations;        /* removals pushed by the watcher */
	uint64_t signals_relayed;
	uint64_t signals_dropped;    /* no open stream for to_id, or its queue full */
	uint64_t signals_throttled;  /* sender past BX_DISPATCH_SIGNAL_RATE */
	uint64_t metrics_throttled;  /* reports within BX_DISPATCH_METRICS_MIN_MS */
	uint64_t mesh_settings;      /* GetMeshSettings answered (a relay key each) */
	uint64_t resyncs;            /* streams ended: an update could not be sent */
	unsigned topology_streams;   /* open now */
	unsigned policy_streams;
	unsigned signaling_streams;
};

struct bx_dispatch; /* opaque */

/*
 * Opens the store in conf->state_dir with conf->mesh as the virtual IP
 * range, loads (or creates, first start) the CA and the hub's server
 * certificate for conf->names, and starts serving on conf->listen and
 * watching the store. Everything @conf points to may be freed after the
 * call. Returns the hub, or NULL with errno and a one-line reason in @err
 * (@errlen bytes, always terminated when @errlen > 0; may be NULL):
 * EINVAL (a conf field, named), EADDRINUSE, or what the store, the PKI
 * files or thread creation reported.
 */
struct bx_dispatch *bx_dispatch_start(const struct bx_dispatch_conf *conf,
				      char *err, size_t errlen);

/* The TCP port served, the ephemeral one when conf.listen asked for 0. */
uint16_t bx_dispatch_port(const struct bx_dispatch *d);

/* The CA pin (SHA-256 of the CA certificate's DER) join tokens carry. */
void bx_dispatch_ca_pin(const struct bx_dispatch *d,
			uint8_t out[BX_DISPATCH_PIN_LEN]);

/* A consistent copy of the counters. */
void bx_dispatch_stats_get(struct bx_dispatch *d,
			   struct bx_dispatch_stats *out);

/*
 * Stops watching, ends every open stream with UNAVAILABLE, stops the
 * server (BX_DISPATCH_STOP_GRACE_MS for the ends to go out) and frees
 * everything. NULL is fine.
 */
void bx_dispatch_stop(struct bx_dispatch *d);

/*
 * Policy texts, shared by the hub and `bauxite-dispatch policy`.
 *
 * bx_dispatch_policy_make checks @rules_json, a JSON array of rules in the
 * config's "rules" form (config/README.md), with lib/classify -- nodes
 * load exactly these rules, so what they would refuse is refused here --
 * and makes the store's policy object from it: {"rules": [...]}, with the
 * "$comment" members of the rules dropped as the config loader does.
 * Returns 0 with *@policy_json (free()) and *@n_rules (may be NULL), or
 * -EINVAL with @err naming the place ("rules: not JSON: ... (line 3,
 * column 5)", "rules[2].dst_port: ..."), -E2BIG (too many rules), -ENOMEM.
 *
 * bx_dispatch_policy_rules extracts the rules array of a stored policy as
 * compact JSON text, what PolicyUpdate.rules_json carries. Returns 0 with
 * *@rules_json (free()), or -EINVAL (not such an object), -ENOMEM.
 */
int bx_dispatch_policy_make(const char *rules_json, char **policy_json,
			    unsigned *n_rules, char *err, size_t errlen);
int bx_dispatch_policy_rules(const char *policy_json, char **rules_json,
			     char *err, size_t errlen);

/*
 * The relay secret, shared by the hub and `bauxite-dispatch relay`.
 *
 * bx_dispatch_relay_secret_load reads <@state_dir>/
 * BX_DISPATCH_RELAY_SECRET_FILE into @secret, making it first when it is
 * missing (*@created, may be NULL, says so): random bytes written to a
 * temporary file and linked into place, so two processes making it at
 * once end up with the one that was linked first. The file must be a
 * regular file of exactly BX_DISPATCH_RELAY_SECRET_LEN bytes that group
 * and others cannot access. The caller wipes @secret after use. Returns
 * 0, or -EPERM (mode, naming the fix), -EINVAL (not a secret: its size),
 * -ENOENT (no state directory) or another -errno, the file named in
 * @err.
 *
 * bx_dispatch_relay_secret_export writes the secret (made first if
 * missing) to @path with mode BX_DISPATCH_RELAY_SECRET_MODE, for a relay
 * box. An existing @path is refused with -EEXIST unless @force, which
 * replaces it in one rename (a reader never sees half a secret). Returns
 * 0 or -errno with @err naming the file.
 */
int bx_dispatch_relay_secret_load(const char *state_dir,
				  uint8_t secret[BX_DISPATCH_RELAY_SECRET_LEN],
				  bool *created, char *err, size_t errlen);
int bx_dispatch_relay_secret_export(const char *state_dir, const char *path,
				    bool force, char *err, size_t errlen);

#endif /* BX_DISPATCH_H */
