/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside control/dispatch: the hub object, the subscriber registry shared
 * by the completion-queue thread and the watcher, and the proto helpers.
 */
#ifndef DISPATCH_INTERNAL_H
#define DISPATCH_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bauxite/v1/topology.pb-c.h"
#include "bx_dispatch.h"
#include "bx_pki.h"
#include "bx_rpc.h"
#include "bx_store.h"

/* Status messages we compose: ids, addresses and a store's message. */
#define DISPATCH_MSG_LEN 512u
/* "100.64.0.0/24" */
#define DISPATCH_PREFIX_TEXT_LEN 20u

enum sub_kind {
	SUB_TOPOLOGY,
	SUB_POLICY,
	SUB_SIGNALING,
	SUB_KINDS,
};

/*
 * One open stream of a node. Lives from its open handler to its closed
 * callback; `listed` while it is in its kind's list (a stream replaced or
 * cut off leaves the list before it closes).
 */
struct sub {
	struct sub *prev, *next;
	struct bx_rpc_stream *s;     /* the handler's reference */
	enum sub_kind kind;
	bool listed;
	uint64_t version;            /* topology/policy version it has */
	/* Signaling: the sender's token bucket, in thousandths of a
	 * message, and when it was last filled (monotonic ms). Only the
	 * completion-queue thread touches them. */
	uint64_t bucket;
	int64_t bucket_ms;
	char node_id[BX_STORE_ID_MAX + 1];
};

/* When a node last reported metrics (one entry per active reporter). */
struct report_gate {
	struct report_gate *next;
	int64_t last_ms;
	char id[BX_STORE_ID_MAX + 1];
};

struct bx_dispatch {
	struct bx_store *store;
	struct bx_pki_ca *ca;
	struct bx_rpc_server *srv;
	uint8_t ca_pin[BX_DISPATCH_PIN_LEN];

	char *state_dir;             /* where the relay secret lives */
	struct bx_store_prefix mesh;
	char mesh_text[DISPATCH_PREFIX_TEXT_LEN];
	uint16_t mesh_port;
	const char *cipher;          /* one of the BX_DISPATCH_CIPHER_* */
	unsigned node_cert_days;
	bx_dispatch_log_fn log;
	void *log_arg;
	int64_t (*clock_ms)(void *arg);
	void *clock_arg;

	/* Refusal text of an open handler: it must outlive the handler's
	 * frame (control/rpc sends it after the handler returns). Handlers
	 * run one at a time on the completion-queue thread, its only user. */
	char open_msg[DISPATCH_MSG_LEN];

	pthread_mutex_t lock;        /* everything below */
	pthread_cond_t wake;         /* the watcher's sleep, cut short by stop */
	bool stopping;
	pthread_t watcher;
	bool watcher_running;
	struct sub *subs[SUB_KINDS];
	uint64_t topology_version;   /* changes pushed up to this version */
	uint64_t policy_version;     /* policy pushed */
	uint64_t audit_seq;          /* audit head when the policy was read */
	bool store_failing;          /* logged once until it works again */
	bool tick_failed;            /* in the watcher's current pass */
	struct bx_dispatch_stats stats;
	/* Metrics reports by node id: a hash table of report_gate chains. */
	struct report_gate **gates;
	size_t n_gates, gate_buckets;
};

/* bx_dispatch.c */
void dispatch_log(struct bx_dispatch *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int64_t dispatch_now_ms(const struct bx_dispatch *d);
/*
 * Whether @peer, the node its certificate names, may use the hub:
 * BX_RPC_OK, or PERMISSION_DENIED for an unknown or revoked node or a
 * certificate that is not the one the store holds for it (one from before
 * a revoke, purge and re-join), and UNAVAILABLE when the store fails, with
 * the message in @msg.
 */
enum bx_rpc_code dispatch_node_check(struct bx_dispatch *d,
				     const struct bx_rpc_peer *peer,
				     char *msg, size_t msglen);
/* Registry, lock held. */
void dispatch_sub_link(struct bx_dispatch *d, struct sub *sub);
void dispatch_sub_unlink(struct bx_dispatch *d, struct sub *sub);
struct sub *dispatch_sub_find(struct bx_dispatch *d, enum sub_kind kind,
			      const char *node_id);
/* Ends every listed stream of node @id (lock held); returns how many. */
unsigned dispatch_cut_off(struct bx_dispatch *d, const char *id,
			  const char *why);
/* The closed callback of every stream method. */
void dispatch_stream_closed(void *ctx, struct bx_rpc_stream *s,
			    enum bx_rpc_code code);

/* dispatch_rpc.c: the method table, registered by bx_dispatch_start. */
int dispatch_register(struct bx_dispatch *d);
/* Drops node @id's metrics gate, e.g. once it is revoked (lock held). */
void dispatch_gate_forget(struct bx_dispatch *d, const char *id);
/* Frees every metrics gate (at stop, no handler left). */
void dispatch_gates_free(struct bx_dispatch *d);

/* dispatch_mesh.c: the GetMeshSettings handler (unary). */
void dispatch_get_mesh_settings(void *ctx, struct bx_rpc_stream *call,
				const uint8_t *req, size_t len);

/* dispatch_proto.c: store nodes as proto messages. */

/* A Peer message with its storage, self-contained (never moved once
 * filled: its pointers point into it). */
struct peer_msg {
	Bauxite__V1__Peer peer;
	Bauxite__V1__Ipv4Prefix prefixes[BX_STORE_MAX_PREFIXES];
	Bauxite__V1__Ipv4Prefix *prefix_ptrs[BX_STORE_MAX_PREFIXES];
	Bauxite__V1__Endpoint endpoints[BX_STORE_MAX_ENDPOINTS];
	Bauxite__V1__Endpoint *endpoint_ptrs[BX_STORE_MAX_ENDPOINTS];
	uint8_t ed25519[BX_STORE_KEY_LEN];
	uint8_t x25519[BX_STORE_KEY_LEN];
	char id[BX_STORE_ID_MAX + 1];
};

/* The active nodes of the store. */
struct peer_set {
	struct peer_msg **peers;
	size_t n, cap;
};

void dispatch_peer_fill(struct peer_msg *pm, const struct bx_store_node *n);
/* Every active node; 0 or the store's error. */
int dispatch_peer_set_load(struct bx_store *st, struct peer_set *set,
			   char *err, size_t errlen);
void dispatch_peer_set_clear(struct peer_set *set);
/*
 * A packed TopologyUpdate (malloc'd into *@buf, *@len): a full snapshot of
 * @set at @version without node @skip_id; one upsert of @pm; one removal
 * of @id. 0 or -ENOMEM.
 */
int dispatch_pack_snapshot(const struct peer_set *set, uint64_t version,
			   const char *skip_id, uint8_t **buf, size_t *len);
int dispatch_pack_upsert(struct peer_msg *pm, uint64_t version,
			 uint8_t **buf, size_t *len);
int dispatch_pack_remove(const char *id, uint64_t version, uint8_t **buf,
			 size_t *len);
/* A packed PolicyUpdate. 0 or -ENOMEM. */
int dispatch_pack_policy(const char *rules_json, uint64_t version,
			 uint8_t **buf, size_t *len);
/* "a.b.c.d" of a network-order address into @out (INET_ADDRSTRLEN). */
void dispatch_ip_text(uint32_t ip, char *out, size_t outlen);

#endif /* DISPATCH_INTERNAL_H */
