/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite-app internals shared by its files: the ports, the per-peer state
 * the control lcore publishes to the worker, the sessions and the worker.
 */
#ifndef BX_APP_H
#define BX_APP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "bx_bond.h"
#include "bx_classify.h"
#include "bx_config.h"
#include "bx_crypto.h"
#include "bx_handshake.h"
#include "bx_hub.h"
#include "bx_identity.h"
#include "bx_lanes.h"
#include "bx_peer.h"
#include "bx_probe.h"
#include "bx_reorder.h"
#include "bx_replay.h"
#include "bx_stats.h"
#include "bx_wire.h"

/* Frames per RX/TX burst: the crypto engine's largest burst. */
#define APP_BURST 32u
_Static_assert(APP_BURST <= BX_CRYPTO_BURST_MAX, "a burst is one crypto burst");
#define APP_RX_DESC 1024u
#define APP_TX_DESC 1024u
/* Mbufs per port: its RX and TX rings plus bursts in flight. */
#define APP_MBUFS_PER_PORT (APP_RX_DESC + APP_TX_DESC + 2u * APP_BURST)
#define APP_MBUF_CACHE 256u
/* Pipeline mode: crypto workers one RX lcore can feed. */
#define APP_MAX_CRYPTO 16u
/* Pipeline mode: each crypto worker's ring of mesh datagrams to open. */
#define APP_INGRESS_RING 4096u
/*
 * The run-to-completion worker's own lanes, used while its input is
 * backlogged (worker.c: rtc_pass): each at most a NIC ring's worth, so
 * they add no queue of their own. Egress by the classifier's lane;
 * ingress by the datagram header's lane. An ingress datagram that waits
 * while later ones of its session overtake it must still be inside the
 * replay window when its turn comes: only Critical and Telemetry overtake
 * (each lane is FIFO), so those two lanes hold at most a quarter of the
 * window each.
 */
#define APP_RTC_LANE APP_RX_DESC
#define APP_RTC_IN_WINDOW_DIV 4u

/*
 * MAC the inner TAP's kernel side sees for every peer address (proxy ARP):
 * locally administered, unicast. The kernel sends peer-bound frames to it.
 */
#define APP_PROXY_MAC { 0x02, 0xba, 0x55, 0x17, 0x00, 0x01 }

/* Next hop MAC slot: 48-bit MAC in the low bits, valid flag on top. */
#define APP_NH_VALID (UINT64_C(1) << 63)
/* Gateway mode: the LAN subnet must be a /16 or longer (one slot a host). */
#define APP_LAN_MIN_PREFIX 16u
/* Gateway mode: one ARP request per unresolved LAN host per this long. */
#define APP_LAN_ARP_INTERVAL_MS 200u

/* Underlay ports (several uplinks, issue 8) and paths per peer. */
#define APP_UL_MAX BX_CONFIG_MAX_UNDERLAYS
#define APP_PATHS BX_PEER_MAX_PATHS
_Static_assert(BX_CONFIG_MAX_PATHS == BX_PEER_MAX_PATHS, "one path limit");
_Static_assert(BX_PEER_LANES == BX_LANE_COUNT, "a mode per lane");
_Static_assert((int)BX_CONFIG_BOND_REDUNDANT == (int)BX_BOND_REDUNDANT &&
	       (int)BX_CONFIG_BOND_PREFERRED == (int)BX_BOND_PREFERRED &&
	       (int)BX_CONFIG_BOND_STRIPE == (int)BX_BOND_STRIPE,
	       "the config's lane modes are the scheduler's");
/* Reorder buffers each lcore that owns peers has for striped lanes
 * (taken by the first flows that need one). */
#define APP_REORDER_BUFFERS 8u
/* Next-hop slot of path @k of the peer at registry index @idx (neigh.c
 * writes it, the fast path reads it). */
#define APP_NH(idx, k) ((uint32_t)(idx) * APP_PATHS + (uint32_t)(k))

/* One uplink: its DPDK port, its exception TAP, its address. */
struct app_ul {
	uint16_t port;
	uint16_t exception;
	bool port_started;
	bool exception_started;
	struct rte_ether_addr mac;
	rte_be32_t ip;
	/* The kernel interface under an af_packet/af_xdp port ("iface="):
	 * its carrier is the link state (those PMDs do not report it). */
	char iface[BX_CONFIG_IFNAME_MAX + 1];
};

struct app_ports {
	/* RX/TX queue pairs per port: one per lcore that transmits on it
	 * (queue 0 is the RTC worker or the pipeline's RX lcore, queue 1 + i
	 * crypto worker i). The RX lcore polls every RX queue. */
	uint16_t n_queues;
	unsigned n_ul;
	struct app_ul ul[APP_UL_MAX];
	/* ul[0]'s, for the code that knows one uplink. */
	uint16_t underlay;
	uint16_t exception;
	struct rte_ether_addr underlay_mac;
	uint16_t inner;
	bool inner_started;
	/* TAP: MAC of the inner kernel interface, dst of delivered frames. */
	struct rte_ether_addr inner_kernel_mac;
	/* Largest inner IPv4 packet whose datagram fits every underlay's MTU
	 * (with a lane sequence when bonding is on). */
	uint16_t max_inner;
	/* Gateway (inner.type dpdk): the inner port is a LAN NIC; its MAC. */
	bool gateway;
	/* The inner port is the kernel's TAP: what the fast path leaves
	 * unread waits in its queue and the kernel pushes back on senders
	 * (worker.c: rtc_dir). A NIC ring only overflows. */
	bool inner_pushback;
	struct rte_ether_addr inner_mac;
	struct rte_mempool *pool;
};

/* Does this node bond (several underlays or a peer with several paths)?
 * Without it nothing of issue 8 runs and the wire is as before. */
bool app_bonding_active(const struct bx_config *cfg);

/* Handshake datagrams from the fast path to the control lcore. */
#define APP_HS_RING 1024u
/* Above this many queued, the handshake engine is "under load" and answers
 * initiations without a valid mac2 with a cookie reply. */
#define APP_HS_LOAD_MARK (APP_HS_RING / 8u)
/* Frames the control lcore made, out through the queue-0 lcore. */
#define APP_CTL_TX_RING 256u
/* Mbufs the control lcore's rings and its batch of replies may hold. */
#define APP_CTL_MBUFS (APP_HS_RING + APP_CTL_TX_RING + 64u)

/*
 * One session with one peer (session.c): the keys of both directions,
 * made by a handshake. The control lcore builds it, publishes it through
 * the peer registry (slot CURRENT or PREVIOUS), and wipes and frees it
 * after the commit that unpublished it.
 */
struct app_session {
	/* Read-only once published. */
	struct bx_crypto_key *tx_key; /* us -> peer */
	struct bx_crypto_key *rx_key; /* peer -> us */
	uint32_t tx_index;            /* the peer's receiver index */
	uint32_t rx_index;            /* ours */
	uint64_t tx_limit;            /* counters from here on are refused */
	/*
	 * Written only by the worker that owns the peer (worker.c,
	 * owns_peer); the control lcore reads them with relaxed atomics.
	 */
	struct bx_replay *replay;     /* over the peer's counters */
	uint64_t tx_counter;          /* next counter to seal */
	/* We may send on it: we initiated it, or a packet arrived on it
	 * (key confirmation, bx_handshake.h). */
	bool confirmed;
	/* Control lcore only. */
	uint64_t created_ns;          /* monotonic */
	bool initiator;
	struct app_session *next;     /* retired list */
};

/*
 * Gateway mode: the LAN hosts' MACs, learned from ARP on the inner port,
 * one slot per host address of inner.address's subnet. Written only by the
 * lcore that receives on the inner port (the RTC worker or the RX lcore),
 * read by every lcore that delivers; a slot is one 64-bit word, so readers
 * never see half an entry.
 */
struct app_lan {
	uint32_t net;         /* subnet, host order */
	uint32_t host_mask;   /* ~netmask, host order */
	uint64_t *mac;        /* APP_NH_VALID | MAC per host */
	uint64_t *asked;      /* TSC of the last ARP request (racy: a hint) */
	uint64_t arp_interval; /* TSC cycles between requests */
};

/*
 * What a fast-path lcore does (DESIGN §3.2). One worker runs everything to
 * completion; with more, the RX lcore receives, classifies and hands each
 * peer's packets to one crypto worker (peer index modulo their number):
 * egress through that worker's lane rings, ingress through its ring of
 * mesh datagrams; crypto workers seal/open and transmit on their own queue.
 */
enum app_role {
	APP_ROLE_RTC = 0,
	APP_ROLE_RX,
	APP_ROLE_CRYPTO,
};

/*
 * One peer's traffic on one lcore: datagrams sealed and sent, and
 * datagrams that opened (data and keepalives), with their bytes. Written
 * by that lcore only (relaxed stores), summed over lcores by readers.
 */
struct app_peer_ctr {
	uint64_t tx_packets;
	uint64_t tx_bytes;
	uint64_t rx_packets;
	uint64_t rx_bytes;
};

/*
 * The safety layer's state the workers read (issue 7): what the control
 * lcore decided (block, intents, congestion), written with relaxed
 * atomic stores, read once per burst. Fixed at start: the rest.
 */
enum app_fec {
	APP_FEC_NORMAL = 0,
	APP_FEC_AGGRESSIVE,  /* Bulk rides the Telemetry lane */
	APP_FEC_ABSOLUTE,    /* the same (the lanes are the lever we have) */
};

struct app_safety_shared {
	uint32_t block;            /* severed or on probation: data dropped */
	uint32_t bulk_kbps;        /* intent throttle; 0: none */
	uint32_t fec;              /* enum app_fec */
	uint32_t congested;        /* some path's congestion strategy says so */
	uint32_t copies;           /* of each Critical packet (1: none extra) */
};

/*
 * Path probes and link state (paths.c) as the workers read them: set
 * before launch but for what says otherwise. The probes of the peer at
 * index i, path k, live in its owner's probe[i * stride + k].
 */
struct app_paths_shared {
	bool bonding;              /* app_bonding_active: the scheduler runs */
	uint32_t stride;           /* APP_PATHS with bonding, else 1 */
	uint64_t probe_interval_tsc;
	struct bx_probe_conf probe_conf;
	double ns_per_tsc;
	uint32_t *probe_gen;       /* per peer index: bump = start its paths over */
	uint32_t ul_up;            /* bit u: underlay u has carrier (release) */
	/* Bonding (bonding.*): the scheduler's settings, copies per path of
	 * a REDUNDANT lane, the receive reorder buffer. */
	struct bx_bond_conf bond_conf;
	uint32_t redundant_copies;
	bool reorder;
	uint32_t reorder_slots;
	uint32_t rate_mbps[APP_UL_MAX]; /* per underlay; 0: measured */
};

/*
 * Bonding state of one peer on the lcore that owns it (issue 8): what it
 * was built for (the probes' generation, the path set), the scheduler, the
 * lane sequences it sends, the reorder buffers of the lanes it receives
 * striped. The scheduler's published part is read by the control lcore.
 */
struct app_bond_peer {
	char id[BX_PEER_ID_MAX];          /* the peer it was built for */
	uint8_t n_paths;
	struct bx_peer_path paths[APP_PATHS];
	uint32_t lseq[BX_LANE_COUNT];     /* next lane sequence to send */
	int8_t reorder[BX_LANE_COUNT];    /* buffer in the lcore's pool; -1 */
	uint8_t state[APP_PATHS];         /* enum bx_bond_state at the last tick */
	uint64_t switches, excluded, downs, ups; /* counted into the stats */
	struct bx_bond bond;
};

/* One reorder buffer of an lcore's pool, and the flow that has it. */
struct app_reorder_slot {
	struct bx_reorder *r;
	uint32_t peer;                    /* index; UINT32_MAX: free */
	struct bx_reorder_stats seen;     /* counted into the stats so far */
};

/* Per path of each peer index (APP_NH), on one lcore: what it sent on the
 * path and what the port refused (the scheduler's measure of load). */
struct app_path_ctr {
	uint64_t tx_packets;
	uint64_t tx_bytes;
	uint64_t tx_refused;
};

/* Where this lcore last sent a datagram, and from the second datagram
 * there on, the outer headers as a template (worker.c: outer_put). An
 * edge sends bursts to few destinations; a hub to many in turn. */
struct app_outer_cache {
	uint64_t nh;     /* the next hop as nexthop[] held it: valid bit, MAC */
	rte_be32_t ip;
	rte_be16_t port;
	unsigned ul;
	bool valid;      /* t is for that destination */
	struct bx_wire_outer_tmpl t;
};

/* Everything a fast-path lcore reads; built by the control lcore before
 * launch. */
struct app_worker {
	enum app_role role;
	uint16_t txq;                   /* this lcore's TX queue on every port */
	unsigned crypto_id;             /* APP_ROLE_CRYPTO: its number, 0.. */
	unsigned n_crypto_all;          /* APP_ROLE_CRYPTO: how many there are */
	/* APP_ROLE_CRYPTO: what the RX lcore feeds this worker; APP_ROLE_RTC:
	 * its own, while backlogged (NULL: none, strictly in order). */
	struct bx_lanes *lanes;         /* egress, by lane */
	struct bx_lanes *in_lanes;      /* APP_ROLE_RTC: mesh datagrams, by lane */
	uint32_t out_held;              /* APP_ROLE_RTC: packets in lanes */
	uint32_t in_held;               /* APP_ROLE_RTC: datagrams in in_lanes */
	/* APP_ROLE_RTC: when each lane set's Bulk rose above its standing
	 * queue (0: it is not above), whether that has lasted (worker.c,
	 * bulk_room), and how long it must last, in TSC ticks. */
	uint64_t out_over_tsc, in_over_tsc, overload_tsc;
	bool out_standing, in_standing;
	struct rte_ring *ingress;       /* mesh datagrams, from their UDP payload */
	/* APP_ROLE_RX: the crypto workers it feeds. */
	struct app_worker *const *crypto_w;
	unsigned n_crypto;
	const struct bx_config *cfg;
	struct app_ports *ports;
	const struct app_policy *policy; /* the classifier's rules */
	struct bx_peer_registry *reg;
	struct rte_rcu_qsbr *qsbr;
	struct bx_stats *stats;
	struct bx_crypto *crypto;       /* the worker's own engine */
	/* Per APP_NH slot (APP_PATHS per registry index, and the relay's). */
	uint64_t *nexthop;              /* APP_NH_VALID | MAC, release-stored */
	struct app_peer_ctr *peer_ctr;  /* this lcore's, per peer index */
	/* The RTC worker or the RX lcore: handshake datagrams go up this
	 * ring, control-made frames come down the other to go out. */
	struct rte_ring *hs_rx;
	struct rte_ring *ctl_tx;
	/* That same lcore, with ICE on: the STUN port translator (its own)
	 * and the agents' routes the control lcore publishes (RCU). */
	struct bx_stunmux *stunmux;
	struct bx_stunmux_routes *const *stun_routes;
	/* Role relay: the registrations the control lcore publishes (RCU);
	 * NULL on an edge. */
	struct bx_relay_table *const *relay_table;
	struct app_lan *lan;            /* gateway mode, else NULL */
	/* The safety layer (NULL: off). */
	const struct app_safety_shared *safety;
	/* Probes (NULL: neither safety nor bonding wants them). Those of the
	 * peers this lcore owns, per path, written here, read by the
	 * control lcore; per peer index the generation they are of. */
	const struct app_paths_shared *paths;
	struct bx_probe_path *probe;
	uint32_t *probe_gen_seen;
	uint64_t next_probe_tsc;
	struct app_path_ctr *path_ctr;  /* per APP_NH slot, with bonding */
	struct app_bond_peer *bpeer;    /* per peer index, with bonding */
	struct app_reorder_slot reo[APP_REORDER_BUFFERS];
	void **reo_out;                 /* room for one buffer's release */
	uint32_t reo_slots;
	uint32_t ul_up_seen;
	/* The Bulk intent's token bucket (bytes), this lcore's share. */
	uint64_t bulk_tokens;
	uint64_t bulk_tsc;
	uint32_t n_slots;
	struct app_outer_cache ocache;  /* this lcore's own */
	const bool *running;             /* read with __atomic_load_n */
	int rc;                         /* 0, or why the worker could not run */
	bool exited;                    /* set (release) when the loop ends */
};

struct app_peer_src;
struct bx_stunmux;
struct bx_stunmux_routes;
struct bx_relay_table;

/* ports.c */
/* Probes and starts the ports with @n_queues queue pairs each. */
int app_ports_setup(const struct bx_config *cfg, struct app_ports *p,
		    uint16_t n_queues, char *err, size_t errlen);
/* Adds or deletes the kernel routes of @p's prefixes through the inner
 * TAP (those outside the inner subnet). */
int app_routes_peer(const struct bx_config *cfg, const struct app_peer_src *p,
		    bool add, char *err, size_t errlen);
void app_ports_close(struct app_ports *p);

/* neigh.c: the control lcore's next-hop resolution through the kernel. */
struct app_neigh;
/* @n_slots next-hop slots (APP_NH). */
struct app_neigh *app_neigh_create(const struct bx_config *cfg,
				   uint64_t *nexthop, uint32_t n_slots);
/* Resolves the next hop towards @endpoint_ip (network order; 0: none) on
 * underlay @ul for next-hop @slot (peer @id's path), from the next tick
 * on; a changed next hop starts from no MAC. */
void app_neigh_set(struct app_neigh *n, uint32_t slot, unsigned ul,
		   const char *id, uint32_t endpoint_ip);
/* The path at @slot is gone: it holds no MAC any more. */
void app_neigh_clear(struct app_neigh *n, uint32_t slot);
/* Checks / provokes every peer whose time has come; @now_ms monotonic. */
void app_neigh_tick(struct app_neigh *n, uint64_t now_ms);
void app_neigh_free(struct app_neigh *n);

/* warm.c: the peers this node knows (config + snapshot), and snapshots. */
enum app_peer_origin {
	APP_PEER_CONFIG = 0,
	APP_PEER_SNAPSHOT,                 /* restored from a hub snapshot */
	APP_PEER_HUB,                      /* the hub's topology */
};

struct app_peer_src {
	char id[BX_PEER_ID_MAX];
	rte_be32_t vip;
	unsigned n_allowed;
	struct bx_peer_prefix allowed[BX_PEER_MAX_PREFIXES];
	rte_be32_t endpoint_ip;
	rte_be16_t endpoint_port;
	/* Config peers with "paths": all of them (paths[0] = endpoint_*);
	 * else 0 (one path: the endpoint on underlay 0). */
	unsigned n_paths;
	struct bx_peer_path paths[APP_PATHS];
	uint8_t public_key[BX_HS_KEY_LEN]; /* X25519 static */
	int cfg_index;                     /* peers[i] of the config; else -1 */
	enum app_peer_origin origin;
	bool shadowed;                     /* the hub lists it too (config) */
};

/* A list of peers: what a snapshot and the config hold at start, and the
 * book of every peer the node runs with (topo.c). */
struct app_warm {
	struct app_peer_src *peers;
	unsigned n;
	unsigned cap;
	uint64_t topology_version;         /* of the hub topology it reflects */
};

struct app_warm_saved {
	char path[BX_CONFIG_PATH_MAX + 32];
	unsigned peers;
	uint64_t bytes;
};

/*
 * The config's peers, then those of the snapshot in state_dir that it
 * restores (warm.c's rules; never this node, whose X25519 public key is
 * @own_key, nor a peer whose key no handshake can use). Reports what it found on stdout; a snapshot
 * it cannot use is reported and ignored. Fails only without memory.
 */
int app_warm_load(const struct bx_config *cfg,
		  const uint8_t own_key[BX_HS_KEY_LEN], struct app_warm *w,
		  char *err, size_t errlen);
void app_warm_free(struct app_warm *w);
/* Writes the snapshot of @w's peers, with their endpoints from @reg. */
int app_warm_save(const struct bx_config *cfg,
		  const struct bx_peer_registry *reg, const struct app_warm *w,
		  struct app_warm_saved *out, char *err, size_t errlen);

/* policy.c: the classifier's rules, replaced at run time (RCU). */
struct app_policy {
	struct bx_classify_rules *rules;         /* what workers read */
	struct bx_classify_rules *config_rules;  /* the config's; never freed here */
	struct rte_rcu_qsbr *qsbr;
	uint64_t version;                        /* applied hub policy, 0: none */
};

void app_policy_init(struct app_policy *p, const struct bx_config *cfg,
		     struct rte_rcu_qsbr *qsbr);
/*
 * Parses @rules_json (the config's "rules" array; "" = the config's own
 * rules again) and publishes it unless @version is the applied one (a
 * lower one is a restored hub: applied too). Blocks for one grace period.
 * -EALREADY for the applied version, -EINVAL with the field named in @err
 * for bad rules (the old set stays).
 */
int app_policy_apply(struct app_policy *p, const char *rules_json,
		     uint64_t version, char *err, size_t errlen);
/* Workers: the rule set for this burst. */
static inline const struct bx_classify_rules *
app_policy_rules(const struct app_policy *p)
{
	return __atomic_load_n(&p->rules, __ATOMIC_ACQUIRE);
}
/* After the workers stopped. */
void app_policy_free(struct app_policy *p);

/*
 * Where a peer's datagrams go. A peer with an endpoint of its own (the
 * config's) always uses it; the others get one from NAT traversal
 * (nat.c): the pair ICE selected, else the relay, else none (dropped and
 * counted as no_path).
 */
enum app_path_kind {
	APP_PATH_NONE = 0,
	APP_PATH_DIRECT,
	APP_PATH_RELAY,
};

struct app_path {
	enum app_path_kind kind;
	rte_be32_t ip;          /* the peer's, or the relay's */
	rte_be16_t port;
	uint64_t relay_handle;  /* APP_PATH_RELAY: the peer's handle */
};

struct app_nat;

/* topo.c: peers added, changed and removed at run time. */
struct app_topo {
	const struct bx_config *cfg;
	struct bx_peer_registry *reg;
	struct app_sessions *sessions;
	struct app_neigh *neigh;
	struct app_warm *book;
	/* Per-peer traffic: each worker's counters, and their sums when the
	 * peer now at an index was added (an index outlives its peer). */
	struct app_peer_ctr *const *ctr;
	unsigned n_ctr;
	struct app_peer_ctr *ctr_base;
	/* Per registry index: the path of a peer without an endpoint. */
	struct app_path *path;
	struct app_nat *nat;              /* NULL: no NAT traversal */
	struct app_safety *safety;        /* NULL: no safety layer */
	struct app_paths *paths;          /* NULL: no probes */
};

/*
 * Adds @p, or brings the peer of that id to what @p says (new routes and
 * endpoint keep its sessions; a new public key starts over). A config
 * peer is never changed by another origin. Staged: app_topo_commit.
 * Errors name the config field or the peer in @err.
 */
int app_topo_upsert(struct app_topo *t, const struct app_peer_src *p,
		    char *err, size_t errlen);
/* Removes the peer @id (none: nothing to do). Staged. */
int app_topo_remove(struct app_topo *t, const char *id);
void app_topo_commit(struct app_topo *t);
/*
 * Sends the peer @id's datagrams along @path from the next commit on (its
 * sessions stay). -ENOENT for an unknown peer, -EPERM for one with an
 * endpoint of its own (the config's wins).
 */
int app_topo_set_path(struct app_topo *t, const char *id,
		      const struct app_path *path);
/* The traffic of the peer at registry index @idx since it was added. */
void app_topo_traffic(const struct app_topo *t, uint32_t idx,
		      struct app_peer_ctr *out);

/* relay.c: role relay, the control side of forwarding. */
struct app_relay;
/* Reads relay.secret_file (errors name it) and publishes an empty table. */
struct app_relay *app_relay_create(const struct bx_config *cfg,
				   struct rte_rcu_qsbr *qsbr,
				   struct bx_stats_lcore *st,
				   const struct app_ports *ports, char *err,
				   size_t errlen);
/* Where answers go out (set before the first frame arrives). */
void app_relay_set_sessions(struct app_relay *r, struct app_sessions *s);
/* app_relay_frame_fn: a REGISTER, verified, recorded and answered. */
void app_relay_frame(void *ctx, const uint8_t *msg, size_t len,
		     const struct bx_wire_udp_view *v);
/* Ends registrations whose lease ran out (every second). */
void app_relay_tick(struct app_relay *r);
/* The table the workers read (RCU). */
struct bx_relay_table *const *app_relay_table(const struct app_relay *r);
void app_relay_free(struct app_relay *r);

/* nat.c: NAT traversal on an edge (ICE, the relay client, paths). */
struct bx_ice_signal;
/* Hands a signaling message to the hub link: 0, or -errno if it cannot. */
typedef int (*app_nat_signal_fn)(void *ctx, const struct bx_ice_signal *s);

#define APP_MESH_MAX BX_HUB_MAX_STUN
/* What the hub says about the mesh: STUN servers, relays and this node's
 * relay credential. Addresses network order, ports host order. */
struct app_mesh {
	unsigned n_stun;
	struct bx_config_endpoint stun[APP_MESH_MAX];
	unsigned n_relays;
	struct bx_config_endpoint relays[APP_MESH_MAX];
	uint8_t relay_key[32];
	uint64_t relay_key_expiry;
};

struct app_nat_conf {
	const struct bx_config *cfg;
	struct app_topo *topo;
	struct app_sessions *sessions;
	struct bx_stats_lcore *st;        /* the control lcore's */
	struct rte_rcu_qsbr *qsbr;
	const struct app_ports *ports;
	const uint64_t *nexthop;
	struct app_neigh *neigh;
	uint32_t relay_slot;              /* a neigh.c slot of its own */
};

struct app_nat *app_nat_create(const struct app_nat_conf *c, char *err,
			       size_t errlen);
/* Peers without an endpoint: topo.c says when they come and go. */
void app_nat_peer_add(struct app_nat *n, const char *id);
void app_nat_peer_remove(struct app_nat *n, const char *id);
/* A signaling message the hub relayed. */
void app_nat_signal_in(struct app_nat *n, const struct bx_ice_signal *s);
void app_nat_set_signal(struct app_nat *n, app_nat_signal_fn fn, void *ctx);
/* The hub's mesh settings (STUN, relays, credential). */
void app_nat_mesh(struct app_nat *n, const struct app_mesh *m);
/* app_relay_frame_fn: the relay's answers to our registrations. */
void app_nat_relay_frame(void *ctx, const uint8_t *msg, size_t len,
			 const struct bx_wire_udp_view *v);
/* GLib's due work (libnice), then the relay client's timers. */
void app_nat_poll(struct app_nat *n);
/* The ICE state of @id for status ("idle", "connecting", "ready", ...). */
int app_nat_peer_info(const struct app_nat *n, const char *id, char *state,
		      size_t len);
/* The translator and its routes, for the lcore that runs it. */
struct bx_stunmux *app_nat_stunmux(const struct app_nat *n);
struct bx_stunmux_routes *const *app_nat_routes(const struct app_nat *n);
/* The safety layer's severance: every ICE agent closed (BYE), and later
 * negotiated again. */
void app_nat_suspend(struct app_nat *n);
void app_nat_resume(struct app_nat *n);
/* Closes every agent (BYE to each peer): before the hub link stops. */
void app_nat_close(struct app_nat *n);
/* After the workers stopped, before the registry goes. */
void app_nat_free(struct app_nat *n);

/* The lcores that own peers: the peer at index i is w[i % n]'s. */
struct app_owners {
	struct app_worker *w[APP_MAX_CRYPTO];
	unsigned n;
};

/* paths.c: path probes' settings, link state (issue 8). */
struct app_paths;
struct app_paths_conf {
	const struct bx_config *cfg;
	const struct app_ports *ports;
	const struct app_owners *owners;
	uint32_t n_slots;
};
/* Also gives each owner its probe arrays. */
struct app_paths *app_paths_create(const struct app_paths_conf *c, char *err,
				   size_t errlen);
const struct app_paths_shared *app_paths_shared(const struct app_paths *p);
/* Every control loop pass, with the loop's monotonic ms: carrier of each
 * underlay every link_poll_ms. */
void app_paths_poll(struct app_paths *p, uint64_t now_ms);
/* The paths of the peer at @index (APP_PATHS_ALL: of every peer) start
 * their probes over: a new peer there, or a severance. */
#define APP_PATHS_ALL UINT32_MAX
void app_paths_restart(struct app_paths *p, uint32_t index);
/* Path @k of the peer at @index, as its owner measures it; false if
 * there is nothing of this peer yet. */
bool app_paths_read(const struct app_paths *p, uint32_t index, unsigned k,
		    struct bx_probe_stats *out);
/* /bauxite/paths: one row per path of every peer in @book (at most
 * APP_PATHS_TELEMETRY_MAX: the telemetry library's array limit). */
#define APP_PATHS_TELEMETRY_MAX 512u
struct rte_tel_data;
void app_paths_fill(const struct app_paths *p, const struct bx_peer_registry *reg,
		    const struct app_warm *book, struct rte_tel_data *d);
/* After the workers stopped. */
void app_paths_free(struct app_paths *p);

/* safety.c: the safety layer on the control lcore (issue 7). */
struct app_safety;

struct app_safety_conf {
	const struct bx_config *cfg;
	struct app_paths *paths;
	struct bx_peer_registry *reg;
	const struct app_warm *book;
	struct app_sessions *sessions;
	struct app_nat *nat;              /* NULL: no ICE */
	struct bx_stats_lcore *st;        /* the control lcore's */
	uint32_t n_slots;
};

/* Largest Bulk throttle an intent may ask for, kbit/s (100 Gbit/s). */
#define APP_INTENT_KBPS_MAX 100000000u

struct app_safety_status {
	bool enabled;
	const char *state;                /* NORMAL, SEVERED, PROBATION */
	uint32_t bulk_kbps;
	uint32_t fec;                     /* enum app_fec */
	bool congested;
};

/* Errors name the safety.* field in @err. Prints what it runs with. */
struct app_safety *app_safety_create(const struct app_safety_conf *c,
				     char *err, size_t errlen);
/* What the workers read (set before launch). */
const struct app_safety_shared *app_safety_shared(const struct app_safety *s);
/* Every control loop pass: the monitor every 5 ms, jamming every 50 ms. */
void app_safety_poll(struct app_safety *s);
/* An intent: "throttle_bulk_kbps" N, or "fec" normal|aggressive|absolute.
 * -EINVAL with @msg naming what was wrong; @msg says what was done. */
int app_safety_intent(struct app_safety *s, const char *what, const char *arg,
		      char *msg, size_t len);
void app_safety_status(const struct app_safety *s,
		       struct app_safety_status *out);
/* A new peer at registry @index: its probes start over. */
void app_safety_peer_added(struct app_safety *s, uint32_t index);
/* Stops the local services (before the hub link and the workers go). */
void app_safety_stop(struct app_safety *s);
void app_safety_free(struct app_safety *s);

/* hub.c: the hub link's events applied on the control lcore. */
/* Registry room per hub peer: its virtual IP and prefixes, long ones. */
#define APP_HUB_RULES_PER_PEER 4u
#define APP_HUB_LONG_PER_PEER 2u
struct app_hub_glue {
	struct bx_hub *hub;                /* NULL: no "hub" in the config */
	struct app_topo *topo;
	struct app_policy *policy;
	struct app_nat *nat;               /* NULL: no NAT traversal */
	bool resync;                       /* ask the hub for a full update */
	/* Called after topology updates were applied (snapshot them). */
	void (*on_topology)(void *ctx);
	void *on_topology_ctx;
};

/* Starts the link when the config has a hub (else does nothing). Errors
 * name the credential file. */
int app_hub_start(struct app_hub_glue *g, const struct bx_config *cfg,
		  const struct bx_stats *stats, char *err, size_t errlen);
/* Applies whatever the link received; never blocks but for a registry
 * commit or a policy swap (a grace period each). */
void app_hub_poll(struct app_hub_glue *g);
void app_hub_stop(struct app_hub_glue *g);

/* session.c: sessions from handshakes, driven by the control lcore. */
struct app_sessions;

/* A relay registration or its answer for the relay module (relay.c):
 * @msg is the UDP payload (a valid mesh header of type RELAY), @v where it
 * came from. Runs on the control lcore. */
typedef void (*app_relay_frame_fn)(void *ctx, const uint8_t *msg, size_t len,
				   const struct bx_wire_udp_view *v);

struct app_sessions_conf {
	const struct bx_config *cfg;
	const struct bx_identity *identity;
	struct bx_peer_registry *reg;
	struct bx_crypto *crypto;      /* the control lcore's engine */
	struct bx_stats_lcore *st;     /* the control lcore's counters */
	const struct app_ports *ports;
	const uint64_t *nexthop;       /* per peer index, from neigh.c */
	uint32_t n_slots;              /* the registry's capacity */
};

/*
 * The session layer for @c->reg: its handshake engine, the rings to and
 * from the fast path, no peer yet. NULL and @err on failure.
 */
struct app_sessions *app_sessions_create(const struct app_sessions_conf *c,
					 char *err, size_t errlen);
/*
 * Takes on @p, already added to the registry (staged or committed): the
 * first handshake starts at the next timer. Errors name the config field
 * (peers[i].public_key) or the peer: -EINVAL for a key no handshake can
 * use, -EEXIST, -ENOENT, -ENOMEM.
 */
int app_sessions_peer_add(struct app_sessions *s, const struct app_peer_src *p,
			  char *err, size_t errlen);
/*
 * Forgets the peer at registry @index, whose removal the caller staged
 * (bx_peer_remove): its sessions are wiped after the next commit.
 */
void app_sessions_peer_remove(struct app_sessions *s, uint32_t index);
/* Publishes what is staged (bx_peer_commit), frees what it unpublished. */
void app_sessions_commit(struct app_sessions *s);
struct rte_ring *app_sessions_hs_ring(const struct app_sessions *s);
struct rte_ring *app_sessions_tx_ring(const struct app_sessions *s);
/*
 * One round of the control lcore's work: handshake datagrams the fast
 * path queued, then the timers (initiation, retransmission, rekey, expiry)
 * when their period is due. Publishes what changed (one registry commit).
 */
void app_sessions_poll(struct app_sessions *s);
/* Peers with a session we can send on. */
unsigned app_sessions_up(const struct app_sessions *s);
/*
 * The peer at registry @index has a new path: if it has no session yet,
 * its next initiation goes out at the next timer (10 ms) along it rather
 * than after the retransmission timeout of one sent along the old path.
 */
void app_sessions_path_changed(struct app_sessions *s, uint32_t index);
/* Link state and the owners' bonding state (read-only, lock-free) for
 * the choice of an initiation's path (NULL: none known). */
struct app_owners;
void app_sessions_set_paths(struct app_sessions *s,
			    const struct app_paths_shared *p,
			    const struct app_owners *owners);
/*
 * The safety layer's kill-switch: every session unpublished and its keys
 * wiped, and no handshake sent or answered until app_sessions_allow.
 */
void app_sessions_sever(struct app_sessions *s);
void app_sessions_allow(struct app_sessions *s);
/* Who handles relay registrations and their answers (NULL: dropped as
 * msg_unhandled). */
void app_sessions_set_relay(struct app_sessions *s, app_relay_frame_fn fn,
			    void *ctx);
/*
 * Queues @len bytes of UDP payload to @o's destination on the control
 * lcore's batch (sent with the next flush, counted under @stat): for the
 * other control-lcore modules, which share the ring to the fast path.
 */
bool app_sessions_send(struct app_sessions *s, const void *payload,
		       uint16_t len, const struct bx_wire_outer *o,
		       enum bx_stat_id stat);

/* What `bauxite status` shows of a peer's sessions. */
struct app_session_info {
	bool up;                         /* a CURRENT session we send on */
	bool pending;                    /* an initiation awaits its answer */
	bool initiator;                  /* we made the CURRENT one */
	uint32_t rx_index, tx_index;     /* of the CURRENT one */
	uint64_t last_handshake_unix_ms; /* 0: none yet */
	uint64_t rtt_us;                 /* initiation -> response; 0: never
					  * measured (we never initiated) */
	uint64_t sessions;               /* made since start */
};
/* Control lcore: the peer at registry @index. -ENOENT if none. */
int app_sessions_peer_info(const struct app_sessions *s, uint32_t index,
			   struct app_session_info *out);
/* After the workers stopped and the registry is freed: wipes every key. */
void app_sessions_free(struct app_sessions *s);

/*
 * A session object from a handshake's output (also the benchmark's way to
 * make sessions): keys expanded for @cipher with @crypto, a replay window
 * of @window counters refusing counters from @limit on, tx_limit @limit.
 * @hs's keys are not wiped here. NULL (errno) on failure.
 */
struct app_session *app_session_create(struct bx_crypto *crypto,
				       enum bx_crypto_cipher cipher,
				       uint32_t window, uint64_t limit,
				       const struct bx_hs_session *hs);
/* Wipes the keys and frees @s; NULL is fine. */
void app_session_free(struct app_session *s);

/* worker.c */
int app_worker_main(void *arg);
/*
 * The run-to-completion worker's lanes (APP_RTC_*): @name unique in the
 * process; the ingress lanes sized from @replay_window. 0, or -errno with
 * @err saying why; app_worker_lanes_free undoes it (also half-done).
 */
int app_worker_lanes_init(struct app_worker *w, const char *name, int socket,
			  uint32_t replay_window, char *err, size_t errlen);
/* Frees both lane sets of @w and the packets still in them (count them
 * first: bx_lanes_count). */
void app_worker_lanes_free(struct app_worker *w);
/* Mbufs app_worker_lanes_init's lanes can hold at most. */
unsigned app_worker_lanes_mbufs(uint32_t replay_window);

#endif /* BX_APP_H */
