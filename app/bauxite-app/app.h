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

#include "bx_classify.h"
#include "bx_config.h"
#include "bx_crypto.h"
#include "bx_lanes.h"
#include "bx_peer.h"
#include "bx_replay.h"
#include "bx_stats.h"

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

struct app_ports {
	/* RX/TX queue pairs per port: one per lcore that transmits on it
	 * (queue 0 is the RTC worker or the pipeline's RX lcore, queue 1 + i
	 * crypto worker i). The RX lcore polls every RX queue. */
	uint16_t n_queues;
	uint16_t underlay;
	uint16_t inner;
	uint16_t exception;
	bool underlay_started;
	bool inner_started;
	bool exception_started;
	struct rte_ether_addr underlay_mac;
	/* TAP: MAC of the inner kernel interface, dst of delivered frames. */
	struct rte_ether_addr inner_kernel_mac;
	/* Largest inner IPv4 packet whose datagram fits the underlay MTU. */
	uint16_t max_inner;
	/* Gateway (inner.type dpdk): the inner port is a LAN NIC; its MAC. */
	bool gateway;
	struct rte_ether_addr inner_mac;
	struct rte_mempool *pool;
};

/*
 * One peer's static-key session (psk.c). Keys and window are read and
 * written by the worker only once published; the control lcore builds it
 * before the worker starts and frees it after the worker stopped.
 */
struct app_session {
	struct bx_crypto_key *tx_key; /* our direction: us -> peer */
	struct bx_crypto_key *rx_key; /* peer -> us */
	struct bx_replay *replay;     /* over the peer's counters */
	uint32_t tx_index;            /* peer's receiver index for us -> peer */
	uint32_t rx_index;            /* our receiver index for peer -> us */
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

/* Everything a fast-path lcore reads; built by the control lcore before
 * launch. */
struct app_worker {
	enum app_role role;
	uint16_t txq;                   /* this lcore's TX queue on every port */
	unsigned crypto_id;             /* APP_ROLE_CRYPTO: its number, 0.. */
	unsigned n_crypto_all;          /* APP_ROLE_CRYPTO: how many there are */
	/* APP_ROLE_CRYPTO: what the RX lcore feeds this worker. */
	struct bx_lanes *lanes;         /* egress, by lane */
	struct rte_ring *ingress;       /* mesh datagrams, from their UDP payload */
	/* APP_ROLE_RX: the crypto workers it feeds. */
	struct app_worker *const *crypto_w;
	unsigned n_crypto;
	const struct bx_config *cfg;
	struct app_ports *ports;
	struct bx_peer_registry *reg;
	struct rte_rcu_qsbr *qsbr;
	struct bx_stats *stats;
	struct bx_crypto *crypto;       /* the worker's own engine */
	/* Per peer index (registry capacity entries). */
	uint64_t *nexthop;              /* APP_NH_VALID | MAC, release-stored */
	uint64_t *tx_counter;           /* worker-owned nonce counters */
	struct app_lan *lan;            /* gateway mode, else NULL */
	uint32_t n_slots;
	const bool *running;             /* read with __atomic_load_n */
	int rc;                         /* 0, or why the worker could not run */
	bool exited;                    /* set (release) when the loop ends */
};

/* ports.c */
/* Probes and starts the ports with @n_queues queue pairs each. */
int app_ports_setup(const struct bx_config *cfg, struct app_ports *p,
		    uint16_t n_queues, char *err, size_t errlen);
void app_ports_close(struct app_ports *p);

/* neigh.c: the control lcore's next-hop resolution through the kernel. */
struct app_neigh;
struct app_neigh *app_neigh_create(const struct bx_config *cfg,
				   const struct bx_peer_registry *reg,
				   uint64_t *nexthop, uint32_t n_slots);
/* Checks / provokes every peer whose time has come; @now_ms monotonic. */
void app_neigh_tick(struct app_neigh *n, uint64_t now_ms);
void app_neigh_free(struct app_neigh *n);

/* psk.c */
int app_psk_sessions_create(const struct bx_config *cfg,
			    struct bx_crypto *crypto,
			    struct bx_peer_registry *reg,
			    struct app_session **out, char *err, size_t errlen);
void app_psk_sessions_free(struct app_session *s, unsigned n);

/* worker.c */
int app_worker_main(void *arg);
/* First TX counter of a fresh process: see psk.c. */
uint64_t app_tx_counter_start(void);

#endif /* BX_APP_H */
