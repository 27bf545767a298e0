/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A node's link to its hub (DESIGN §4 Hub sync): mutual-TLS gRPC to
 * bauxite-dispatch, holding the topology and policy streams open,
 * reporting the node's counters, fetching what NAT traversal needs (STUN
 * servers, relays, the node's relay key) and carrying ICE signaling to and
 * from its peers.
 *
 * Threads
 *   bx_hub_start starts one thread of its own that does all the gRPC work
 *   (connects, streams, reconnects with back-off, reports metrics). The
 *   control lcore only polls: bx_hub_poll hands over what arrived as
 *   events, decoded and checked, never blocking; bx_hub_signal_send queues
 *   a signal for the thread, never blocking either. Nothing the hub sends
 *   reaches the data plane except through the caller, which applies the
 *   events (registry, RCU).
 *
 * Two legs
 *   The watch leg holds WatchTopology and WatchPolicy (the link is
 *   "connected" while both are up) and makes the unary calls:
 *   ReportMetrics, and GetMeshSettings after every connect and again once
 *   the relay key has lived half its lifetime (a MESH event each time;
 *   a failed fetch is retried with the back-off below, without an event).
 *   The signal leg holds ExchangeCandidates. They share one channel but
 *   end and come back apart: the hub replacing or ending the signaling
 *   stream does not touch the topology, and a resync of the topology
 *   leaves signaling up. When neither is up the channel is dropped, so a
 *   reconnect starts on a fresh one (gRPC's own back-off would otherwise
 *   make ours meaningless).
 *
 * Hub down
 *   The link says so (a STATE event) and retries: after 1 s, doubling up to
 *   reconnect_max_s, back to 1 s after a session that delivered and lasted
 *   (a hub that accepts and drops the link at once is not hammered); the
 *   signal leg backs off the same way on its own. The node keeps
 *   forwarding on what it has; on reconnect it tells the hub the versions
 *   it applied (bx_hub_applied), and the hub sends what it missed or a
 *   full snapshot.
 *
 * What the hub sends is checked before it becomes an event: a peer with a
 * bad id, key, address, endpoint or prefix is left out and said in the
 * event's `warning`, as are a peer's endpoints past BX_HUB_MAX_ENDPOINTS,
 * a bad STUN server or relay and a signal's bad ufrag, pwd or candidate;
 * a signal of an unknown kind or from a bad sender is dropped (counted,
 * bx_hub_signal_stats). A topology or policy message
 * that does not decode ends the watch leg (the link reconnects and gets a
 * full snapshot); a signal that does not decode is dropped, since peers,
 * not the hub, wrote it.
 *
 * Library code: no logging; errors as -errno and a message.
 */
#ifndef BX_HUB_H
#define BX_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BX_HUB_ID_MAX 64u          /* node ids: 1..63 characters + NUL */
#define BX_HUB_KEY_LEN 32u
#define BX_HUB_MAX_PREFIXES 16u    /* as a config peer's allowed_prefixes */
/* A peer's endpoints a node keeps: the most uplinks of a peer it bonds. */
#define BX_HUB_MAX_ENDPOINTS 4u
#define BX_HUB_WARNING_LEN 256u
#define BX_HUB_COUNTER_NAME_MAX 48u
#define BX_HUB_MAX_COUNTERS 256u
/* First wait before a reconnect; doubles up to reconnect_max_s. */
#define BX_HUB_RECONNECT_MIN_MS 1000u
/*
 * A metrics report, or a GetMeshSettings call (then retried), that takes
 * longer than this is given up: the longest the thread is away from its
 * streams, and the longest bx_hub_stop can wait for it.
 */
#define BX_HUB_REPORT_TIMEOUT_MS 1000u
#define BX_HUB_MESH_TIMEOUT_MS 1000u
/*
 * The thread waits this long for a message before it looks at its other
 * streams, its timers and the signals queued for sending: the longest a
 * signal waits before the thread hands it to gRPC, unless one of the
 * calls above is under way.
 */
#define BX_HUB_POLL_MS 20
/* Messages one stream hands over per turn, so none starves the others. */
#define BX_HUB_BURST 32u

/* NAT traversal (MESH events): as many as the hub stores. */
#define BX_HUB_MAX_STUN 8u
#define BX_HUB_MAX_RELAYS 8u
#define BX_HUB_RELAY_KEY_LEN 32u

/*
 * Signaling: the sizes of control/ice's struct bx_ice_signal, which the
 * application copies to and from (strings terminated inside their arrays).
 */
#define BX_HUB_SIG_CRED_MAX 256u   /* ufrag, pwd */
#define BX_HUB_SIG_CAND_MAX 8u     /* candidate lines per message */
#define BX_HUB_SIG_CAND_LEN 256u
/* Signals queued by bx_hub_signal_send before the thread takes them. */
#define BX_HUB_SIG_QUEUE_MAX 64u
/*
 * SIGNAL events waiting for bx_hub_poll at most: a control loop that
 * stalls loses peers' signals (ICE retries), not memory.
 */
#define BX_HUB_SIG_EVENTS_MAX 256u

struct bx_hub_counter {
	char name[BX_HUB_COUNTER_NAME_MAX];
	uint64_t value;
};

/*
 * Fills up to @max counters for a metrics report; returns how many. Runs
 * on the hub's thread: it must only read what is safe to read from there
 * (per-lcore counters are).
 */
typedef unsigned (*bx_hub_collect_fn)(void *ctx, struct bx_hub_counter *out,
				      unsigned max);

struct bx_hub_conf {
	const char *target;         /* "host:port" */
	const char *server_name;    /* the hub certificate's name; NULL: host */
	const char *ca_file;        /* PEM files, read once at start */
	const char *cert_file;
	const char *key_file;       /* must be mode 0600 or stricter */
	uint32_t metrics_interval_s;
	uint32_t reconnect_max_s;
	uint64_t topology_version;  /* applied before (warm start), 0: none */
	bx_hub_collect_fn collect;  /* NULL: no metrics reports */
	void *collect_ctx;
};

struct bx_hub_prefix {
	uint32_t addr;              /* network order, host bits zero */
	uint8_t len;                /* 1..32 */
};

/*
 * An IPv4 UDP address (a peer's endpoint, a STUN server, a relay):
 * address in network order, port in host order.
 */
struct bx_hub_endpoint {
	uint32_t ip;
	uint16_t port;
};

/*
 * A peer as the hub describes it, checked.
 *
 * Endpoints: where the peer's mesh datagrams reach it, one per uplink of
 * the peer, in the hub's order, the first the preferred one. A node with
 * one underlay uses endpoints[0] only; one with several pairs its
 * underlays with these to make its paths to the peer. Each is a non-zero
 * address and a port 1..65535: a peer with a bad one is left out whole
 * ("bad endpoint"), since a path to a wrong address is worse than none.
 * A repeated one adds no path and is dropped without a word. Past
 * BX_HUB_MAX_ENDPOINTS distinct ones the rest are dropped and said in
 * the event's warning; the peer is kept. No endpoint (n_endpoints 0): the
 * peer is reached through ICE or a relay only.
 * endpoint_ip/endpoint_port repeat endpoints[0] (0 when there is none)
 * for the users that know one endpoint only.
 */
struct bx_hub_peer {
	char id[BX_HUB_ID_MAX];
	uint8_t ed25519_public[BX_HUB_KEY_LEN];
	uint8_t x25519_public[BX_HUB_KEY_LEN];
	uint32_t virtual_ip;        /* network order, not 0 */
	unsigned n_allowed;         /* besides virtual_ip/32 */
	struct bx_hub_prefix allowed[BX_HUB_MAX_PREFIXES];
	unsigned n_endpoints;       /* 0..BX_HUB_MAX_ENDPOINTS */
	struct bx_hub_endpoint endpoints[BX_HUB_MAX_ENDPOINTS];
	uint32_t endpoint_ip;       /* endpoints[0].ip; 0: none known */
	uint16_t endpoint_port;     /* endpoints[0].port */
};

/* What NAT traversal needs, as the hub's GetMeshSettings gave it. */
struct bx_hub_mesh {
	unsigned n_stun;
	struct bx_hub_endpoint stun[BX_HUB_MAX_STUN];
	unsigned n_relays;
	struct bx_hub_endpoint relays[BX_HUB_MAX_RELAYS];
	/* The node's credential at the relays: secret, wiped by
	 * bx_hub_event_free; refused by them after relay_key_expiry. */
	uint8_t relay_key[BX_HUB_RELAY_KEY_LEN];
	uint64_t relay_key_expiry;  /* Unix seconds, in the future */
};

/* SignalMessage.Kind, with the proto's values. */
enum bx_hub_signal_kind {
	BX_HUB_SIG_INVITE = 0,
	BX_HUB_SIG_OFFER = 1,
	BX_HUB_SIG_ANSWER = 2,
	BX_HUB_SIG_CANDIDATE = 3,
	BX_HUB_SIG_END_OF_CANDIDATES = 4,
	BX_HUB_SIG_BYE = 5,
};

/*
 * One ICE signaling message. @peer is the recipient on the way out and
 * the sender on the way in (the id the hub stamped from its certificate).
 * Every string is printable ASCII terminated inside its array; ufrag and
 * pwd without spaces, "" when the message has none; candidates 1..255
 * characters each.
 */
struct bx_hub_signal {
	enum bx_hub_signal_kind kind;
	char peer[BX_HUB_ID_MAX];
	uint64_t session;
	char ufrag[BX_HUB_SIG_CRED_MAX];
	char pwd[BX_HUB_SIG_CRED_MAX];
	unsigned n_cand;
	char cand[BX_HUB_SIG_CAND_MAX][BX_HUB_SIG_CAND_LEN];
};

/* The signal leg's counters (bx_hub_signal_stats). */
struct bx_hub_signal_stats {
	uint64_t sent;          /* handed to the hub's stream */
	uint64_t lost;          /* queued, but the stream ended first */
	uint64_t received;      /* became SIGNAL events */
	uint64_t refused;       /* did not decode, unknown kind, bad sender */
	uint64_t dropped;       /* BX_HUB_SIG_EVENTS_MAX events were waiting */
};

enum bx_hub_event_kind {
	BX_HUB_EV_TOPOLOGY,
	BX_HUB_EV_POLICY,
	BX_HUB_EV_STATE,
	BX_HUB_EV_MESH,
	BX_HUB_EV_SIGNAL,
};

struct bx_hub_event {
	enum bx_hub_event_kind kind;
	/* TOPOLOGY: version; full = the peer set is exactly `upsert` (remove
	 * every hub peer not in it); otherwise apply upsert and remove. */
	uint64_t version;
	bool full;
	unsigned n_upsert;
	struct bx_hub_peer *upsert;
	unsigned n_remove;
	char (*remove)[BX_HUB_ID_MAX];
	/* POLICY: version and the rules (the config's "rules" JSON; "" for
	 * none). */
	char *rules_json;
	/* STATE: connected or not, and why. */
	bool connected;
	/* MESH: STUN servers, relays and the relay key. */
	struct bx_hub_mesh mesh;
	/* SIGNAL: a peer's signaling message. */
	struct bx_hub_signal signal;
	/* TOPOLOGY, MESH and SIGNAL (what was left out), STATE (the
	 * reason). */
	char warning[BX_HUB_WARNING_LEN];
};

struct bx_hub;

/*
 * Reads the credentials and starts the link's thread. Errors (the files:
 * missing, unreadable, a key file others can read, PEM that does not
 * parse) name the file in @err; NULL and errno then.
 */
struct bx_hub *bx_hub_start(const struct bx_hub_conf *conf, char *err,
			    size_t errlen);

/* 0 and the next event (free it with bx_hub_event_free), or -EAGAIN. */
int bx_hub_poll(struct bx_hub *hub, struct bx_hub_event **ev);
/* Wipes the event (a MESH event's relay key, a SIGNAL's credentials) and
 * frees it. NULL is fine. */
void bx_hub_event_free(struct bx_hub_event *ev);

/*
 * Queues @s (copied) for the hub to relay to s->peer; the link thread
 * sends it within BX_HUB_POLL_MS (see there). For the control lcore: takes
 * the link's lock for a moment, never waits on the network. Returns 0, -EINVAL for a
 * message that breaks the rules of struct bx_hub_signal (kind, peer id,
 * string lengths and characters, n_cand), -EAGAIN when the signaling
 * stream is down or BX_HUB_SIG_QUEUE_MAX signals wait (ICE retries), or
 * -ENOMEM. A queued signal is not a delivered one: the hub drops signals
 * to a node that has no stream open.
 */
int bx_hub_signal_send(struct bx_hub *hub, const struct bx_hub_signal *s);

/* A consistent copy of the signal leg's counters. */
void bx_hub_signal_stats(struct bx_hub *hub, struct bx_hub_signal_stats *out);

/* What the node applied, for reconnects and metrics reports. */
void bx_hub_applied(struct bx_hub *hub, uint64_t topology_version,
		    uint64_t policy_version);

/* True while the watch leg's streams (topology, policy) are both up. */
bool bx_hub_connected(const struct bx_hub *hub);

/* Stops the thread, closes the link, frees everything (events not yet
 * polled too). NULL is fine. */
void bx_hub_stop(struct bx_hub *hub);

#endif /* BX_HUB_H */
