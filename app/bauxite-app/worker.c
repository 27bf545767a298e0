/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fast-path lcores (DESIGN §3.2). Egress: inner TAP -> classify -> peer
 * -> seal -> underlay. Ingress: underlay -> mesh datagram -> replay
 * pre-check -> open -> replay commit -> source check -> inner TAP;
 * handshake datagrams go to the control lcore's ring (session.c), and
 * what it sends comes back down another ring and out on the underlay;
 * everything else goes up the exception TAP, and what the kernel sends on
 * it goes out the underlay.
 *
 * The stages are split where the pipeline splits them: the receiving half
 * (inner_rx, underlay_rx, exception_down) and the crypto half (seal_tx,
 * open_tx). One worker runs both halves to completion; with more, the RX
 * lcore runs the first and hands each peer's packets to one crypto worker
 * (lane rings for egress, a ring of datagrams for ingress), which runs the
 * second. A crypto worker looks the peer and session up again in its own
 * table snapshot: what the RX lcore saw may be reclaimed once it has
 * passed a quiescent state.
 *
 * No locks, no allocation, no logging: every packet that does not leave is
 * counted under its drop reason and freed.
 */
#include <errno.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "app.h"
#include "bx_relay.h"
#include "bx_stunmux.h"
#include "bx_wire.h"

#define ETH_LEN ((uint16_t)sizeof(struct rte_ether_hdr))
#define IPV4_MIN_LEN ((uint16_t)sizeof(struct rte_ipv4_hdr))
#define IPV4_VERSION 4u

static const struct rte_ether_addr proxy_mac = { .addr_bytes = APP_PROXY_MAC };

/* Copies of one packet at most (critical duplication x paths). */
#define COPIES_MAX 8u
#define OUT_MAX (APP_BURST * COPIES_MAX)

/* What open_tx needs after opening. */
struct rx_meta {
	const struct bx_peer *peer;
	struct app_session *sess;
	uint64_t counter;
	uint8_t type;  /* enum bx_wire_type: data or probe */
	uint8_t flags;
	uint8_t path_id;
	uint8_t lane;
};

/* The lane classify chose, carried in the mbuf to seal_tx (the hash field
 * is the PMD's on receive only). */
#define MBUF_LANE(m) ((m)->hash.usr)
/* A received datagram: bytes from its mesh header back to its Ethernet
 * header (the outer headers stay in the headroom), so an echo can go back
 * the way its probe came. */
#define MBUF_OUTER_OFF(m) ((m)->hash.usr)
/* ... with this bit: it came through a relay (answers go back through it). */
#define OUTER_RELAYED (UINT32_C(1) << 31)

static inline void
drop_tx(struct bx_stats_lcore *st, enum bx_drop_reason why, struct rte_mbuf *m)
{
	bx_stats_tx_drop(st, why, 1);
	rte_pktmbuf_free(m);
}

static inline void
drop_rx(struct bx_stats_lcore *st, enum bx_drop_reason why, struct rte_mbuf *m)
{
	bx_stats_rx_drop(st, why, 1);
	rte_pktmbuf_free(m);
}

static inline void
mac_unpack(uint64_t v, struct rte_ether_addr *mac)
{
	int i;

	for (i = RTE_ETHER_ADDR_LEN - 1; i >= 0; i--, v >>= 8)
		mac->addr_bytes[i] = (uint8_t)v;
}

/* Sends @n frames on queue @q of @port; returns how many the port took and
 * leaves the rest in pkts[sent..n) for the caller to count and free. */
static inline uint16_t
send_burst(uint16_t port, uint16_t q, struct rte_mbuf *pkts[], uint16_t n)
{
	return n ? rte_eth_tx_burst(port, q, pkts, n) : 0;
}

/* tx_batch: a frame counted against no peer (a control-lcore frame). */
#define TX_NO_PEER UINT32_MAX

/*
 * Frames to send, by underlay, each with the peer and path it is counted
 * against. A caller adds at most OUT_MAX frames per underlay.
 */
struct tx_batch {
	uint16_t n[APP_UL_MAX];
	struct rte_mbuf *m[APP_UL_MAX][OUT_MAX];
	uint32_t peer[APP_UL_MAX][OUT_MAX];
	uint8_t path[APP_UL_MAX][OUT_MAX];
};

static inline void
tx_batch_init(struct tx_batch *b)
{
	memset(b->n, 0, sizeof(b->n));
}

static inline void
tx_batch_add(struct tx_batch *b, unsigned ul, struct rte_mbuf *m, uint32_t peer,
	     uint8_t path)
{
	uint16_t i = b->n[ul]++;

	b->m[ul][i] = m;
	b->peer[ul][i] = peer;
	b->path[ul][i] = path;
}

/* @pkts frames of @bytes sent on path @path of @peer (or refused). */
static inline void
path_count_tx(struct app_worker *w, uint32_t peer, uint8_t path, uint32_t pkts,
	      uint32_t bytes, bool refused)
{
	struct app_path_ctr *c;

	if (w->path_ctr == NULL || peer == TX_NO_PEER || peer >= w->n_slots)
		return;
	c = &w->path_ctr[APP_NH(peer, path)];
	if (refused) {
		__atomic_store_n(&c->tx_refused, c->tx_refused + pkts, __ATOMIC_RELAXED);
		return;
	}
	__atomic_store_n(&c->tx_packets, c->tx_packets + pkts, __ATOMIC_RELAXED);
	__atomic_store_n(&c->tx_bytes, c->tx_bytes + bytes, __ATOMIC_RELAXED);
}

static inline void peer_count_tx(struct app_worker *w, uint32_t idx,
				 uint32_t pkts, uint32_t bytes);

/* Sends @b on this lcore's queue of each underlay, counted (under @stat
 * too unless BX_STAT__COUNT); what a port refuses is dropped. */
static void
tx_batch_send(struct app_worker *w, struct bx_stats_lcore *st,
	      struct tx_batch *b, enum bx_stat_id stat)
{
	unsigned u;
	uint16_t i, run, sent;

	for (u = 0; u < w->ports->n_ul; u++) {
		uint64_t bytes = 0;

		if (b->n[u] == 0)
			continue;
		sent = send_burst(w->ports->ul[u].port, w->txq, b->m[u], b->n[u]);
		/* Counted per run of frames to one peer and path: a burst
		 * mostly goes to one. */
		for (i = 0; i < sent; i = run) {
			uint32_t peer = b->peer[u][i], run_bytes = 0;
			uint8_t path = b->path[u][i];

			for (run = i; run < sent && b->peer[u][run] == peer &&
				      b->path[u][run] == path;
			     run++)
				run_bytes += rte_pktmbuf_pkt_len(b->m[u][run]);
			bytes += run_bytes;
			if (peer != TX_NO_PEER) {
				peer_count_tx(w, peer, run - i, run_bytes);
				path_count_tx(w, peer, path, run - i, run_bytes, false);
			}
		}
		bx_stats_add(st, BX_STAT_TX_PACKETS, sent);
		bx_stats_add(st, BX_STAT_TX_BYTES, bytes);
		if (stat != BX_STAT__COUNT)
			bx_stats_add(st, stat, sent);
		for (i = sent; i < b->n[u]; i++) {
			path_count_tx(w, b->peer[u][i], b->path[u][i], 1, 0, true);
			drop_tx(st, BX_DROP_TX_PORT_FULL, b->m[u][i]);
		}
	}
}

/* The underlay a control-lcore frame leaves on: the one whose address is
 * its IPv4 source (underlay 0 for anything else). */
static unsigned
frame_ul(const struct app_ports *ports, const struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	const struct rte_ipv4_hdr *ih;
	unsigned u;

	if (ports->n_ul == 1 || rte_pktmbuf_data_len(m) < ETH_LEN + IPV4_MIN_LEN ||
	    eh->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4))
		return 0;
	ih = (const struct rte_ipv4_hdr *)(eh + 1);
	for (u = 1; u < ports->n_ul; u++)
		if (ports->ul[u].ip == ih->src_addr)
			return u;
	return 0;
}

/* Where a datagram to one peer goes: the underlay, the outer destination,
 * the next hop's MAC, and the relay handle to wrap it for (0: none). */
struct tx_dest {
	unsigned ul;
	rte_be32_t ip;
	rte_be16_t port;
	uint64_t nh;
	uint64_t relay_handle;
};

/* What seal_tx needs to send a packet after sealing: its peer and the
 * path of each copy (one entry per copy; the same path again is the same
 * frame once more). A peer sent to on its first path only, without the
 * bonding: choose_paths already looked that path up, here in @one. */
struct tx_meta {
	const struct bx_peer *peer;
	uint8_t n;
	uint8_t path[COPIES_MAX];
	bool has_one;
	struct tx_dest one;
};

/* Path @k of @p as a destination; false while it has no next hop (or no
 * endpoint yet). */
static inline bool
path_dest(const struct app_worker *w, const struct bx_peer *p, unsigned k,
	  struct tx_dest *d)
{
	const struct bx_peer_path *pp = &p->paths[k];

	if (BX_UNLIKELY(p->index >= w->n_slots || k >= p->n_paths))
		return false;
	d->nh = __atomic_load_n(&w->nexthop[APP_NH(p->index, k)], __ATOMIC_ACQUIRE);
	d->ul = pp->ul < w->ports->n_ul ? pp->ul : 0;
	d->ip = pp->ip;
	d->port = pp->port;
	d->relay_handle = k == 0 ? p->relay_handle : 0;
	return (d->nh & APP_NH_VALID) != 0 && d->ip != 0;
}

/* The outer headers from underlay @ul to @d. */
static inline void
outer_fill(const struct app_worker *w, const struct app_ul *ul,
	   const struct tx_dest *d, struct bx_wire_outer *o)
{
	memset(o, 0, sizeof(*o));
	o->src_mac = ul->mac;
	o->src_ip = ul->ip;
	o->src_port = rte_cpu_to_be_16(w->cfg->mesh_port);
	mac_unpack(d->nh, &o->dst_mac);
	o->dst_ip = d->ip;
	o->dst_port = d->port;
}

/*
 * Prepends @d's relay header (if any) and outer headers from underlay
 * @d->ul to the sealed datagram in @m. A drop reason on failure (@m
 * untouched but for what was prepended, the caller frees it).
 */
static __rte_always_inline enum bx_drop_reason
outer_put(struct app_worker *w, struct rte_mbuf *m, const struct tx_dest *d)
{
	const struct app_ul *ul = &w->ports->ul[d->ul];
	struct app_outer_cache *c = &w->ocache;
	struct bx_wire_outer o;
	bool relayed = d->relay_handle != 0;
	int rc;

	if (relayed) {
		void *rh = rte_pktmbuf_prepend(m, BX_RELAY_FORWARD_OVERHEAD);

		if (rh == NULL)
			return BX_DROP_CRYPTO_NO_ROOM;
		bx_relay_forward_hdr(rh, d->relay_handle);
	}
	if (BX_LIKELY(c->nh == d->nh && c->ip == d->ip && c->port == d->port &&
		      c->ul == d->ul)) {
		/* The destination before: a template from its second datagram
		 * on (a hub sending to many peers in turn never builds one). */
		if (BX_UNLIKELY(!c->valid)) {
			outer_fill(w, ul, d, &o);
			bx_wire_outer_tmpl_init(&c->t, &o);
			c->valid = true;
		}
		rc = bx_wire_outer_tmpl_prepend(m, &c->t);
	} else {
		c->nh = d->nh;
		c->ip = d->ip;
		c->port = d->port;
		c->ul = d->ul;
		c->valid = false;
		outer_fill(w, ul, d, &o);
		rc = bx_wire_outer_prepend(m, &o, BX_WIRE_CSUM_IP_ONLY);
	}
	if (rc != 0)
		return rc == -ENOSPC ? BX_DROP_CRYPTO_NO_ROOM : BX_DROP_IP_BAD_LEN;
	return BX_DROP_NONE;
}

/* An ARP header that is Ethernet/IPv4, or NULL. */
static struct rte_arp_hdr *
arp_ipv4(struct rte_mbuf *m)
{
	struct rte_arp_hdr *ah;

	if (rte_pktmbuf_data_len(m) < ETH_LEN + sizeof(*ah))
		return NULL;
	ah = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, ETH_LEN);
	if (ah->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
	    ah->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
	    ah->arp_hlen != RTE_ETHER_ADDR_LEN || ah->arp_plen != 4)
		return NULL;
	return ah;
}

/*
 * Turns an ARP request of the inner kernel for any address but our own
 * virtual IP into the reply "that address is at proxy_mac", in place.
 * False if @m is not such a request.
 */
static bool
proxy_arp(const struct app_worker *w, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *ah = arp_ipv4(m);
	struct rte_arp_ipv4 *d;
	rte_be32_t tip;

	if (ah == NULL || ah->arp_opcode != RTE_BE16(RTE_ARP_OP_REQUEST))
		return false;
	d = &ah->arp_data;
	tip = d->arp_tip;
	/* Our own address is the kernel's to defend; sender 0 is a probe. */
	if (tip == w->cfg->inner.address.addr || d->arp_sip == 0)
		return false;
	ah->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
	d->arp_tha = d->arp_sha;
	d->arp_tip = d->arp_sip;
	d->arp_sha = proxy_mac;
	d->arp_sip = tip;
	eh->dst_addr = eh->src_addr;
	eh->src_addr = proxy_mac;
	return true;
}

/* Slot of @ip_be in the gateway's LAN table, or -1 if not a LAN host. */
static inline int64_t
lan_slot(const struct app_lan *lan, rte_be32_t ip_be)
{
	uint32_t ip = rte_be_to_cpu_32(ip_be);

	if ((ip & ~lan->host_mask) != lan->net)
		return -1;
	return ip & lan->host_mask;
}

static inline uint64_t
mac_pack(const struct rte_ether_addr *mac)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < RTE_ETHER_ADDR_LEN; i++)
		v = v << 8 | mac->addr_bytes[i];
	return v;
}

/*
 * Gateway mode: learns the sender of any ARP on the LAN and turns a
 * request for our LAN address into the reply, in place. False if there is
 * nothing to send back.
 */
static bool
lan_arp(const struct app_worker *w, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *ah = arp_ipv4(m);
	rte_be32_t own = w->cfg->inner.address.addr;
	struct rte_arp_ipv4 *d;
	int64_t slot;

	if (ah == NULL)
		return false;
	d = &ah->arp_data;
	slot = lan_slot(w->lan, d->arp_sip);
	if (slot >= 0 && d->arp_sip != own && !rte_is_zero_ether_addr(&d->arp_sha))
		__atomic_store_n(&w->lan->mac[slot],
				 APP_NH_VALID | mac_pack(&d->arp_sha),
				 __ATOMIC_RELEASE);
	if (ah->arp_opcode != RTE_BE16(RTE_ARP_OP_REQUEST) || d->arp_tip != own)
		return false;
	ah->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
	d->arp_tha = d->arp_sha;
	d->arp_tip = d->arp_sip;
	d->arp_sha = w->ports->inner_mac;
	d->arp_sip = own;
	eh->dst_addr = eh->src_addr;
	eh->src_addr = w->ports->inner_mac;
	return true;
}

/*
 * Gateway mode: rewrites @m, a packet for LAN host @dst that has no MAC
 * yet, into the ARP request for it. The packet itself is lost (counted by
 * the caller); reusing its mbuf asks without allocating.
 */
static void
lan_arp_request(const struct app_worker *w, struct rte_mbuf *m, rte_be32_t dst)
{
	struct rte_ether_hdr *eh;
	struct rte_arp_hdr *ah;

	rte_pktmbuf_reset(m);
	eh = (struct rte_ether_hdr *)rte_pktmbuf_append(m, ETH_LEN + sizeof(*ah));
	ah = (struct rte_arp_hdr *)(eh + 1);
	memset(&eh->dst_addr, 0xff, sizeof(eh->dst_addr));
	eh->src_addr = w->ports->inner_mac;
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	ah->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = RTE_ETHER_ADDR_LEN;
	ah->arp_plen = 4;
	ah->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
	ah->arp_data.arp_sha = w->ports->inner_mac;
	ah->arp_data.arp_sip = w->cfg->inner.address.addr;
	memset(&ah->arp_data.arp_tha, 0, sizeof(ah->arp_data.arp_tha));
	ah->arp_data.arp_tip = dst;
}

/*
 * Receives a burst from inner queue @q, answers ARP (on this lcore's TX
 * queue) and classifies the IPv4 frames. Returns how many are left in
 * ip[], each with its lane in MBUF_LANE; *@n_rx is how many arrived.
 */
static uint16_t
inner_rx(struct app_worker *w, struct bx_stats_lcore *st, uint16_t q,
	 struct rte_mbuf *ip[], uint16_t *n_rx)
{
	const struct app_ports *ports = w->ports;
	struct rte_mbuf *rx[APP_BURST], *arp[APP_BURST];
	enum bx_wire_lane lane[APP_BURST];
	enum bx_drop_reason why[APP_BURST];
	bool gateway = ports->gateway, fec_lift;
	uint16_t n, i, k, n_ip = 0, n_arp = 0, sent;

	*n_rx = 0;
	if (ports->inner == RTE_MAX_ETHPORTS) /* a relay's: none */
		return 0;
	n = rte_eth_rx_burst(ports->inner, q, rx, APP_BURST);
	*n_rx = n;
	if (n == 0)
		return 0;
	bx_stats_add(st, BX_STAT_INNER_RX_PACKETS, n);
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = rx[i];
		const struct rte_ether_hdr *eh;

		if (rte_pktmbuf_data_len(m) < ETH_LEN) {
			drop_tx(st, BX_DROP_ETH_SHORT, m);
			continue;
		}
		eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
		if (eh->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
			/* A LAN NIC sees its neighbours' unicast too. */
			if (gateway && !rte_is_same_ether_addr(&eh->dst_addr,
							       &ports->inner_mac))
				drop_tx(st, BX_DROP_INNER_NOT_FOR_US, m);
			else
				ip[n_ip++] = m;
		} else if (eh->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP) &&
			   (gateway ? lan_arp(w, m) : proxy_arp(w, m))) {
			arp[n_arp++] = m;
		} else { /* the mesh carries IPv4 only */
			drop_tx(st, BX_DROP_INNER_NOT_IPV4, m);
		}
	}
	sent = send_burst(ports->inner, w->txq, arp, n_arp);
	bx_stats_add(st, BX_STAT_ARP_REPLIES, sent);
	for (i = sent; i < n_arp; i++)
		drop_tx(st, BX_DROP_TX_PORT_FULL, arp[i]);
	if (n_ip == 0)
		return 0;

	k = bx_classify_process(app_policy_rules(w->policy), ip, n_ip, ETH_LEN,
				lane, why);
	for (i = k; i < n_ip; i++)
		drop_tx(st, why[i], ip[i]);
	/* The FEC intent (aggressive, absolute) lifts Bulk into Telemetry. */
	fec_lift = w->safety != NULL &&
		   __atomic_load_n(&w->safety->fec, __ATOMIC_RELAXED) != APP_FEC_NORMAL;
	for (i = 0; i < k; i++)
		MBUF_LANE(ip[i]) = lane[i] == BX_LANE_BULK && fec_lift ?
					   BX_LANE_TELEMETRY : lane[i];
	return k;
}

/*
 * The inner IPv4 header of a classified frame, or NULL (counted, freed)
 * when it is not in the first segment: crypto wants one segment anyway.
 */
static inline const struct rte_ipv4_hdr *
inner_ipv4(struct bx_stats_lcore *st, struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ih;

	if (m->nb_segs != 1 || rte_pktmbuf_data_len(m) < ETH_LEN + IPV4_MIN_LEN) {
		drop_tx(st, BX_DROP_CRYPTO_SEGMENTED, m);
		return NULL;
	}
	ih = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, ETH_LEN);
	/* The classifier takes IPv6 too; the mesh routes IPv4 only. */
	if ((ih->version_ihl >> 4) != IPV4_VERSION) {
		drop_tx(st, BX_DROP_CLASSIFY_NOT_IP, m);
		return NULL;
	}
	return ih;
}

/*
 * A crypto worker serves only the peers whose index maps to it: the one
 * place that peer's counter and replay window are touched. Its table may
 * be newer than the RX lcore's was when it dispatched; a packet for a peer
 * that now maps elsewhere is dropped rather than sealed or opened here.
 */
static inline bool
owns_peer(const struct app_worker *w, const struct bx_peer *p)
{
	return w->role != APP_ROLE_CRYPTO ||
	       p->index % w->n_crypto_all == w->crypto_id;
}

/* Per-peer traffic on this lcore's own block (bx_stats' model: one
 * writer, readers sum blocks); datagram bytes, outer headers included. */
static inline void
peer_count_tx(struct app_worker *w, uint32_t idx, uint32_t pkts, uint32_t bytes)
{
	struct app_peer_ctr *c = &w->peer_ctr[idx];

	__atomic_store_n(&c->tx_packets, c->tx_packets + pkts, __ATOMIC_RELAXED);
	__atomic_store_n(&c->tx_bytes, c->tx_bytes + bytes, __ATOMIC_RELAXED);
}

static inline void
peer_count_rx(struct app_worker *w, uint32_t idx, uint32_t len)
{
	struct app_peer_ctr *c = &w->peer_ctr[idx];

	__atomic_store_n(&c->rx_packets, c->rx_packets + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&c->rx_bytes, c->rx_bytes + len, __ATOMIC_RELAXED);
}

/*
 * The session to seal a peer's packets with: CURRENT once confirmed (a
 * packet arrived on it, or we initiated it); until then the one it
 * replaced, which the peer still has. NULL if neither can be used.
 */
static inline struct app_session *
send_session(const struct bx_peer *p)
{
	struct app_session *s = p->sessions[BX_PEER_SESSION_CURRENT].ctx;

	if (BX_LIKELY(s != NULL && s->confirmed))
		return s;
	s = p->sessions[BX_PEER_SESSION_PREVIOUS].ctx;
	return s != NULL && s->confirmed ? s : NULL;
}

/* The Bulk intent's bucket: this long at the rate, at least a frame. */
#define BULK_BURST_DIV 10u            /* rate / 10: 100 ms */
#define BULK_BURST_MIN 3000u          /* bytes */
/* Congestion shrinks it to this fraction. */
#define BULK_CONGESTED_DIV 4u

/*
 * The Bulk intent (bauxite intent throttle-bulk): a token bucket of
 * @kbps (this lcore's share of it), 100 ms deep, a quarter of that while
 * a path is congested. Tokens are bytes * TSC Hz, so no division per
 * packet. True if @len bytes may go.
 */
static bool
bulk_admit(struct app_worker *w, uint32_t kbps, bool congested, uint32_t len,
	   uint64_t now)
{
	const uint64_t hz = rte_get_tsc_hz();
	uint64_t rate = (uint64_t)kbps * 125u, burst, elapsed;

	if (w->role == APP_ROLE_CRYPTO && w->n_crypto_all > 1)
		rate = rate / w->n_crypto_all + 1u;
	burst = rate / BULK_BURST_DIV;
	if (congested)
		burst /= BULK_CONGESTED_DIV;
	if (burst < BULK_BURST_MIN)
		burst = BULK_BURST_MIN;
	elapsed = now - w->bulk_tsc;
	w->bulk_tsc = now;
	/* Saturating: elapsed * rate overflows 64 bits at tens of Gbit/s. */
	if (w->bulk_tokens >= burst * hz ||
	    elapsed >= (burst * hz - w->bulk_tokens) / rate)
		w->bulk_tokens = burst * hz;
	else
		w->bulk_tokens += elapsed * rate;
	if (w->bulk_tokens < (uint64_t)len * hz)
		return false;
	w->bulk_tokens -= (uint64_t)len * hz;
	return true;
}

/* ---- bonding (issue 8) ---------------------------------------------- */

static inline uint64_t
tsc_ns(const struct app_worker *w)
{
	return (uint64_t)((double)rte_rdtsc() * w->paths->ns_per_tsc);
}

/* A probe is missed once it is this much later than the path's RTT at
 * least (more with jitter): scheduling noise on a shared core is not a
 * lost probe. */
#define BOND_GRACE_MIN_NS UINT64_C(10000000)

/* The reorder buffer of lane @lane of the peer @bp is given back to the
 * pool, what it held dropped (the peer changed: not theirs to have). */
static void
reorder_drop(struct app_worker *w, struct bx_stats_lcore *st,
	     struct app_bond_peer *bp, unsigned lane)
{
	struct app_reorder_slot *rs;
	unsigned n;

	if (bp->reorder[lane] < 0)
		return;
	rs = &w->reo[bp->reorder[lane]];
	n = bx_reorder_flush(rs->r, w->reo_out, w->reo_slots);
	if (n > 0) {
		bx_stats_rx_drop(st, BX_DROP_REORDER_FLUSHED, n);
		rte_pktmbuf_free_bulk((struct rte_mbuf **)w->reo_out, n);
	}
	rs->peer = UINT32_MAX;
	bp->reorder[lane] = -1;
}

/*
 * The bonding state of @p on this lcore, made anew when the control lcore
 * started the peer's probes over (a new peer at the index, a severance)
 * or the peer's path set changed; its probes start over with it. NULL
 * without bonding.
 */
static struct app_bond_peer *
bond_sync(struct app_worker *w, struct bx_stats_lcore *st, const struct bx_peer *p)
{
	const struct app_paths_shared *ps = w->paths;
	struct bx_probe_path *probes = &w->probe[p->index * ps->stride];
	uint32_t gen = __atomic_load_n(&ps->probe_gen[p->index], __ATOMIC_ACQUIRE);
	struct app_bond_peer *bp;
	bool restart = w->probe_gen_seen[p->index] != gen;
	unsigned j;

	if (BX_LIKELY(w->bpeer == NULL)) {
		if (BX_UNLIKELY(restart)) {
			bx_probe_init(probes, &ps->probe_conf);
			__atomic_store_n(&w->probe_gen_seen[p->index], gen,
					 __ATOMIC_RELEASE);
		}
		return NULL;
	}
	bp = &w->bpeer[p->index];
	if (BX_LIKELY(!restart && bp->n_paths == p->n_paths &&
		      memcmp(bp->paths, p->paths, sizeof(bp->paths)) == 0))
		return bp;
	for (j = 0; j < ps->stride; j++)
		bx_probe_init(&probes[j], &ps->probe_conf);
	/* Another peer at this index: its lane sequences start over and
	 * what waits in the buffers was the last one's. The same peer (a
	 * severance, a changed path set) goes on where it was: the buffers
	 * and the receiver's know where. */
	if (strncmp(bp->id, p->id, sizeof(bp->id)) != 0) {
		for (j = 0; j < BX_LANE_COUNT; j++)
			reorder_drop(w, st, bp, j);
		memset(bp->lseq, 0, sizeof(bp->lseq));
		memcpy(bp->id, p->id, sizeof(bp->id));
	}
	bp->n_paths = p->n_paths;
	memcpy(bp->paths, p->paths, sizeof(bp->paths));
	bx_bond_init(&bp->bond, &ps->bond_conf, p->n_paths, tsc_ns(w));
	memset(bp->state, BX_BOND_UP, sizeof(bp->state));
	bp->switches = bp->excluded = bp->downs = bp->ups = 0;
	__atomic_store_n(&w->probe_gen_seen[p->index], gen, __ATOMIC_RELEASE);
	return bp;
}

/* What path @k of @p looked like this tick, for the scheduler. */
static void
bond_observe(struct app_worker *w, const struct bx_peer *p, unsigned k,
	     uint32_t up, uint64_t now_ns, struct bx_bond_obs *o)
{
	const struct app_paths_shared *ps = w->paths;
	const struct bx_probe_path *pp = &w->probe[p->index * ps->stride + k];
	const struct app_path_ctr *c = &w->path_ctr[APP_NH(p->index, k)];
	uint8_t ul = p->paths[k].ul;
	struct bx_probe_stats pm;
	uint64_t nh, grace;

	bx_probe_read(pp, &pm);
	nh = __atomic_load_n(&w->nexthop[APP_NH(p->index, k)], __ATOMIC_ACQUIRE);
	memset(o, 0, sizeof(*o));
	o->link_up = ul < APP_UL_MAX && ((up >> ul) & 1u) != 0 &&
		     (nh & APP_NH_VALID) != 0;
	o->has_rtt = pm.has_rtt;
	o->srtt_ns = pm.rtt_ewma_us * 1000u;
	o->rttmin_ns = pm.rtt_min_us * 1000u;
	o->jitter_ns = pm.jitter_us * 1000u;
	o->loss_permille = pm.loss_permille;
	o->known = pm.known;
	/* A probe is missed once it is late by more than the path's normal
	 * variation: srtt + max(4 jitter, BOND_GRACE_MIN_NS). */
	grace = pm.has_rtt ? o->srtt_ns + RTE_MAX(4u * o->jitter_ns, BOND_GRACE_MIN_NS) :
			     (uint64_t)ps->probe_conf.timeout_ms * 1000000u;
	o->misses = bx_probe_misses(pp, now_ns, grace);
	o->streak = bx_probe_streak(pp, now_ns, grace);
	o->last_echo_ns = pm.last_echo_ns;
	o->tx_bytes = c->tx_bytes;
	o->tx_refused = c->tx_refused;
	o->cap_bps = ul < APP_UL_MAX ? (uint64_t)ps->rate_mbps[ul] * BX_BOND_MBPS : 0;
}

/* One tick of @p's scheduler: its paths judged, the reorder buffers'
 * timeout set from their RTT spread, its events counted. */
static void
bond_tick(struct app_worker *w, struct bx_stats_lcore *st,
	  const struct bx_peer *p, struct app_bond_peer *bp, uint32_t up,
	  uint64_t now_ns)
{
	struct bx_bond_obs obs[APP_PATHS];
	struct bx_bond_stats bs;
	unsigned k;

	for (k = 0; k < p->n_paths; k++)
		bond_observe(w, p, k, up, now_ns, &obs[k]);
	bx_bond_update(&bp->bond, obs, now_ns);
	for (k = 0; k < BX_LANE_COUNT; k++)
		if (bp->reorder[k] >= 0)
			bx_reorder_set_timeout(w->reo[bp->reorder[k]].r,
					       bx_bond_reorder_timeout_ns(&bp->bond));
	bx_bond_read(&bp->bond, &bs);
	/* A path back from DOWN starts a fresh loss window: what it lost
	 * while down is not what it loses now (and would keep PREFERRED off
	 * it for a whole window). */
	for (k = 0; k < p->n_paths; k++) {
		if (bp->state[k] == BX_BOND_DOWN && bs.path[k].state != BX_BOND_DOWN)
			bx_probe_init(&w->probe[p->index * w->paths->stride + k],
				      &w->paths->probe_conf);
		bp->state[k] = (uint8_t)bs.path[k].state;
	}
	bx_stats_add(st, BX_STAT_PREFERRED_SWITCHES, bs.preferred_switches - bp->switches);
	bx_stats_add(st, BX_STAT_STRIPE_EXCLUDED, bs.stripe_excluded - bp->excluded);
	bx_stats_add(st, BX_STAT_PATH_DOWN, bs.path_down - bp->downs);
	bx_stats_add(st, BX_STAT_PATH_UP, bs.path_up - bp->ups);
	bp->switches = bs.preferred_switches;
	bp->excluded = bs.stripe_excluded;
	bp->downs = bs.path_down;
	bp->ups = bs.path_up;
}

/*
 * What the packets of one burst before this one found: most bursts carry
 * one flow, or a few, so the next packet is likely for the same peer.
 * @p: the last peer looked up (NULL: none yet), its inner address @dst;
 * @one: its first path as a destination, when @one_ok.
 */
struct seal_memo {
	const struct bx_peer *p;
	rte_be32_t dst;
	bool one_ok;
	struct tx_dest one;
};

/*
 * The paths the packet @m (@len bytes of IP) for @p goes on, one entry
 * per copy, into @meta, and the header fields that follow (path id,
 * duplicate flag); *@seq: it carries a lane sequence (a striped lane).
 * @copies: the Critical duplication's count. False: no path can take it.
 *
 * Copies on several paths are the very same bytes (path id ANY): the
 * header is authenticated and they share a nonce.
 */
static bool
choose_paths(struct app_worker *w, struct bx_stats_lcore *st,
	     const struct bx_peer *p, struct rte_mbuf *m, uint32_t len,
	     uint32_t copies, struct seal_memo *memo, struct tx_meta *meta,
	     struct bx_wire_info *info, bool *seq)
{
	unsigned lane = MBUF_LANE(m), total, n = 1, c;
	uint8_t list[APP_PATHS] = { 0 };
	struct app_bond_peer *bp;
	int k, h;

	total = copies > 1 && lane == BX_LANE_CRITICAL ? copies : 1u;
	*seq = false;
	info->flags = 0;
	info->path_id = 0;
	bp = w->bpeer != NULL && p->n_paths > 1 ? bond_sync(w, st, p) : NULL;
	meta->has_one = bp == NULL;
	if (bp == NULL) {
		/* A peer's first path does not change within a burst. */
		if (memo->one_ok) {
			meta->one = memo->one;
		} else {
			if (!path_dest(w, p, 0, &meta->one))
				return false;
			memo->one = meta->one;
			memo->one_ok = true;
		}
	} else {
		switch (p->lane_mode[lane]) {
		case BX_BOND_STRIPE:
			k = bx_bond_stripe_pick(&bp->bond, len);
			if (k < 0)
				return false;
			list[0] = (uint8_t)k;
			*seq = true;
			break;
		case BX_BOND_PREFERRED:
			k = bx_bond_preferred(&bp->bond);
			if (k < 0)
				return false;
			list[0] = (uint8_t)k;
			/* While it misses probes, a copy on the next best. */
			h = bx_bond_hedge(&bp->bond);
			if (h >= 0)
				list[n++] = (uint8_t)h;
			break;
		default: /* BX_BOND_REDUNDANT */
			n = bx_bond_redundant(&bp->bond, list);
			if (n == 0)
				return false;
			if (n * w->paths->redundant_copies > total)
				total = n * w->paths->redundant_copies;
			break;
		}
		if (n > total)
			total = n;
	}
	if (total > COPIES_MAX)
		total = COPIES_MAX;
	meta->n = (uint8_t)total;
	for (c = 0; c < total; c++)
		meta->path[c] = list[c % n];
	info->path_id = n > 1 ? BX_WIRE_PATH_ANY : list[0];
	/* Copies carry the flag in the sealed header, so the receiver
	 * counts the later ones as duplicates, not as replays. */
	if (total > 1)
		info->flags = BX_WIRE_F_DUPLICATE;
	return true;
}

/*
 * Sends the sealed datagram @m along the paths @meta lists: one frame per
 * path (a copy of the datagram for each path after the first), as many
 * references to it as that path has copies.
 */
static void
send_copies(struct app_worker *w, struct bx_stats_lcore *st,
	    const struct tx_meta *meta, struct rte_mbuf *m, struct tx_batch *b)
{
	const struct bx_peer *p = meta->peer;
	struct rte_mbuf *frame[APP_PATHS];
	unsigned per_path[APP_PATHS] = { 0 };
	unsigned c, k, extra = 0;

	/* The common case: one copy on the one path. */
	if (BX_LIKELY(meta->n == 1 && meta->has_one)) {
		enum bx_drop_reason r = outer_put(w, m, &meta->one);

		if (BX_UNLIKELY(r != BX_DROP_NONE)) {
			drop_tx(st, r, m);
			return;
		}
		tx_batch_add(b, meta->one.ul, m, p->index, 0);
		return;
	}
	if (meta->n == 1) {
		struct tx_dest d;
		enum bx_drop_reason r;

		k = meta->path[0];
		r = path_dest(w, p, k, &d) ? outer_put(w, m, &d) : BX_DROP_NO_PATH;
		if (BX_UNLIKELY(r != BX_DROP_NONE)) {
			drop_tx(st, r, m);
			return;
		}
		tx_batch_add(b, d.ul, m, p->index, (uint8_t)k);
		return;
	}
	for (c = 0; c < meta->n; c++)
		per_path[meta->path[c]]++;
	/* Copies first: the datagram must not carry outer headers yet. */
	for (k = 0; k < APP_PATHS; k++) {
		frame[k] = NULL;
		if (per_path[k] == 0)
			continue;
		if (k == meta->path[0]) {
			frame[k] = m;
			continue;
		}
		frame[k] = rte_pktmbuf_copy(m, w->ports->pool, 0, UINT32_MAX);
		if (frame[k] == NULL) {
			bx_stats_tx_drop(st, BX_DROP_NO_MBUF, per_path[k]);
			per_path[k] = 0;
		}
	}
	for (k = 0; k < APP_PATHS; k++) {
		struct tx_dest d;
		enum bx_drop_reason r;

		if (frame[k] == NULL)
			continue;
		r = path_dest(w, p, k, &d) ? outer_put(w, frame[k], &d) :
					     BX_DROP_NO_PATH;
		if (r != BX_DROP_NONE) {
			bx_stats_tx_drop(st, r, per_path[k]);
			rte_pktmbuf_free(frame[k]);
			frame[k] = NULL;
			continue;
		}
		/* The very same frame again: one more reference, which the
		 * port frees like the first. */
		if (per_path[k] > 1)
			rte_mbuf_refcnt_update(frame[k], (int16_t)(per_path[k] - 1));
		for (c = 0; c < per_path[k]; c++)
			tx_batch_add(b, d.ul, frame[k], p->index, (uint8_t)k);
		extra += per_path[k];
	}
	/* Copies on the first path are the Critical duplication's; those on
	 * other paths the bonding's. */
	k = meta->path[0];
	c = frame[k] != NULL ? per_path[k] : 0;
	if (c > 1 && MBUF_LANE(m) == BX_LANE_CRITICAL)
		bx_stats_add(st, BX_STAT_CRITICAL_COPIES, c - 1);
	if (extra > c)
		bx_stats_add(st, BX_STAT_PATH_COPIES, extra - c);
}

/*
 * Classified inner frames -> sealed mesh datagrams out on the underlays
 * (this lcore's TX queue on each). Peers and sessions come from @t. With
 * the safety layer: nothing while severed or on probation, Bulk under the
 * intent's bucket, each Critical packet @copies times (the same bytes:
 * the receiver's replay window keeps the first). With several paths, the
 * lane's bonding mode picks them (choose_paths).
 */
static void
seal_tx(struct app_worker *w, struct bx_stats_lcore *st,
	const struct bx_peer_table *t, struct rte_mbuf *pkts[], uint16_t n)
{
	const struct app_ports *ports = w->ports;
	const struct app_safety_shared *sf = w->safety;
	struct rte_mbuf *seal[APP_BURST], *sealed_in[APP_BURST];
	const struct bx_crypto_key *keys[APP_BURST];
	struct tx_meta meta[APP_BURST];
	uint8_t cwhy[APP_BURST];
	struct tx_batch b;
	struct seal_memo memo = { .p = NULL };
	uint16_t i, j, n_seal = 0, good;
	uint32_t copies = 1, bulk_kbps = 0;
	bool congested = false;
	uint64_t now = 0;

	if (sf != NULL && n > 0) {
		if (__atomic_load_n(&sf->block, __ATOMIC_RELAXED)) {
			/* Severed or on probation: nothing goes. */
			for (i = 0; i < n; i++)
				drop_tx(st, BX_DROP_SAFETY_BLOCKED, pkts[i]);
			return;
		}
		copies = __atomic_load_n(&sf->copies, __ATOMIC_RELAXED);
		bulk_kbps = __atomic_load_n(&sf->bulk_kbps, __ATOMIC_RELAXED);
		congested = __atomic_load_n(&sf->congested, __ATOMIC_RELAXED);
		if (bulk_kbps != 0)
			now = rte_rdtsc();
	}
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const struct rte_ipv4_hdr *ih = inner_ipv4(st, m);
		const struct bx_peer *p;
		struct app_session *s;
		struct bx_wire_info info;
		uint32_t ip_len;
		void *hdr, *sq;
		bool seq;

		if (ih == NULL)
			continue;
		if (memo.p != NULL && memo.dst == ih->dst_addr) {
			p = memo.p;
		} else {
			p = bx_peer_lookup_dst(t, ih->dst_addr);
			if (p == NULL) {
				drop_tx(st, BX_DROP_NO_PEER, m);
				continue;
			}
			if (BX_UNLIKELY(!owns_peer(w, p))) {
				drop_tx(st, BX_DROP_PEER_MOVED, m);
				continue;
			}
			memo.dst = ih->dst_addr;
			if (memo.p != p) {
				memo.p = p;
				memo.one_ok = false;
			}
		}
		s = send_session(p);
		if (s == NULL) {
			drop_tx(st, BX_DROP_NO_SESSION, m);
			continue;
		}
		/* Encrypt the IP packet, not the link's padding after it. */
		ip_len = rte_be_to_cpu_16(ih->total_length);
		if (BX_UNLIKELY(ip_len > ports->max_inner)) {
			drop_tx(st, BX_DROP_TOO_BIG, m);
			continue;
		}
		if (bulk_kbps != 0 && MBUF_LANE(m) == BX_LANE_BULK &&
		    !bulk_admit(w, bulk_kbps, congested, ip_len, now)) {
			drop_tx(st, BX_DROP_INTENT_THROTTLED, m);
			continue;
		}
		meta[n_seal].peer = p;
		if (!choose_paths(w, st, p, m, ip_len, copies, &memo, &meta[n_seal],
				  &info, &seq)) {
			drop_tx(st, BX_DROP_NO_PATH, m);
			continue;
		}
		if (rte_pktmbuf_pkt_len(m) > ETH_LEN + ip_len)
			rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_pkt_len(m) -
						       ETH_LEN - ip_len));
		/* The mesh header (and a striped lane's sequence, which leads
		 * the plaintext) takes the Ethernet header's place and the
		 * bytes before it: one move of the start, not three. */
		hdr = rte_pktmbuf_prepend(m, BX_WIRE_HDR_LEN - ETH_LEN +
						     (seq ? BX_WIRE_SEQ_LEN : 0));
		sq = seq && hdr != NULL ? (uint8_t *)hdr + BX_WIRE_HDR_LEN : NULL;
		if (hdr == NULL) {
			drop_tx(st, BX_DROP_CRYPTO_NO_ROOM, m);
			continue;
		}
		info.type = BX_WIRE_DATA;
		info.lane = (uint8_t)MBUF_LANE(m);
		info.rx_index = s->tx_index;
		/* Only the worker that owns this peer ever sends to it. */
		info.counter = s->tx_counter;
		if (BX_UNLIKELY(info.counter >= s->tx_limit)) {
			drop_tx(st, BX_DROP_SESSION_EXHAUSTED, m);
			continue;
		}
		__atomic_store_n(&s->tx_counter, info.counter + 1,
				 __ATOMIC_RELAXED);
		if (seq) {
			uint32_t *lseq = &w->bpeer[p->index].lseq[info.lane];
			rte_be32_t v = rte_cpu_to_be_32((*lseq)++);

			memcpy(sq, &v, sizeof(v));
			info.flags |= BX_WIRE_F_SEQ;
		}
		bx_wire_encode(hdr, &info);
		keys[n_seal] = s->tx_key;
		seal[n_seal++] = m;
	}
	if (n_seal == 0)
		return;

	memcpy(sealed_in, seal, n_seal * sizeof(seal[0]));
	good = bx_crypto_seal_burst(w->crypto, keys, seal, n_seal, 0, cwhy);
	for (i = good; i < n_seal; i++)
		drop_tx(st, (enum bx_drop_reason)cwhy[i], seal[i]);

	tx_batch_init(&b);
	/* Sealed packets keep their order: find each one's meta again. */
	for (i = 0, j = 0; i < good; i++, j++) {
		while (sealed_in[j] != seal[i])
			j++;
		send_copies(w, st, &meta[j], seal[i], &b);
	}
	tx_batch_send(w, st, &b, BX_STAT__COUNT);
}

/*
 * Classifies one underlay frame: BX_DROP_NONE with *@mesh set for a mesh
 * datagram to us (then *@v describes it), BX_DROP_NONE with *@mesh clear
 * for the kernel, or a drop reason for a broken IPv4/UDP frame.
 */
static enum bx_drop_reason
underlay_sort(const struct app_worker *w, unsigned u, struct rte_mbuf *m,
	      struct bx_wire_udp_view *v, bool *mesh)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	enum bx_drop_reason r;

	*mesh = false;
	/* The kernel can reassemble what the fast path cannot parse in one
	 * piece; it also discards it the same way a host would. */
	if (m->nb_segs != 1)
		return BX_DROP_NONE;
	r = bx_wire_outer_parse(frame, rte_pktmbuf_data_len(m), true, v);
	if (r == BX_DROP_NOT_IPV4 || r == BX_DROP_NOT_UDP ||
	    r == BX_DROP_IP_FRAGMENT)
		return BX_DROP_NONE;
	if (r != BX_DROP_NONE)
		return r;
	*mesh = v->dst_ip == w->ports->ul[u].ip &&
		v->dst_port == rte_cpu_to_be_16(w->cfg->mesh_port) &&
		v->payload_len > 0 && bx_wire_is_mesh(frame[v->payload_off]);
	return BX_DROP_NONE;
}

/*
 * A well-formed mesh datagram that is not data: handshakes and relay
 * messages (registrations, relayed handshakes) go whole to the control
 * lcore (its ring full: dropped, the flood's price is paid here); probes
 * arrive with a later issue.
 */
static void
to_control(struct app_worker *w, struct bx_stats_lcore *st,
	   const struct bx_wire_info *info, struct rte_mbuf *m)
{
	if (info->type != BX_WIRE_HANDSHAKE_INIT &&
	    info->type != BX_WIRE_HANDSHAKE_RESP && info->type != BX_WIRE_COOKIE &&
	    info->type != BX_WIRE_RELAY) {
		drop_rx(st, BX_DROP_MSG_UNHANDLED, m);
		return;
	}
	if (rte_ring_sp_enqueue(w->hs_rx, m) != 0) {
		drop_rx(st, BX_DROP_HS_QUEUE_FULL, m);
		return;
	}
	bx_stats_add(st, BX_STAT_HANDSHAKE_RX, 1);
}

/* Milliseconds of the TSC: the translator's clock, one read per burst. */
static inline uint64_t
tsc_ms(void)
{
	return rte_get_tsc_cycles() / (rte_get_tsc_hz() / 1000u);
}

/*
 * Role relay: a FORWARD from a registered node goes on to the node it
 * names, rewritten outer headers around the same payload (lib/relay swaps
 * in the sender's handle). Returns true if @m is in fwd[] to be sent.
 */
static bool
relay_forward(struct app_worker *w, struct bx_stats_lcore *st,
	      const struct bx_relay_table *t, struct rte_mbuf *m,
	      const struct bx_wire_udp_view *v)
{
	struct bx_wire_outer o;
	enum bx_drop_reason r;
	uint64_t mac;

	memset(&o, 0, sizeof(o));
	r = bx_relay_forward(t, rte_pktmbuf_mtod_offset(m, void *, v->payload_off),
			     v->payload_len, v->src_ip, v->src_port, &o.dst_ip,
			     &o.dst_port, &mac);
	if (r != BX_DROP_NONE) {
		drop_rx(st, r, m);
		return false;
	}
	rte_pktmbuf_adj(m, v->payload_off);
	if (rte_pktmbuf_pkt_len(m) > v->payload_len)
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_pkt_len(m) - v->payload_len));
	o.src_mac = w->ports->underlay_mac;
	mac_unpack(mac, &o.dst_mac);
	o.src_ip = w->cfg->underlay.address.addr;
	o.src_port = rte_cpu_to_be_16(w->cfg->mesh_port);
	if (bx_wire_outer_prepend(m, &o, BX_WIRE_CSUM_IP_ONLY) != 0) {
		drop_rx(st, BX_DROP_RELAY_MALFORMED, m);
		return false;
	}
	return true;
}

/*
 * Role edge: a datagram a relay forwarded to us. Data is unwrapped and
 * opened like any other (trimmed to the inner datagram, left in dg[]);
 * handshakes go whole to the control lcore, which unwraps them itself to
 * answer through the relay. Returns true if @m is in dg[].
 */
static bool
relay_unwrap(struct app_worker *w, struct bx_stats_lcore *st,
	     struct rte_mbuf *m, const struct bx_wire_udp_view *v)
{
	const uint8_t *payload = rte_pktmbuf_mtod_offset(m, const uint8_t *,
							 v->payload_off);
	struct bx_wire_info inner;
	enum bx_drop_reason r;
	uint64_t from;
	size_t off;

	r = bx_relay_unwrap(payload, v->payload_len, &from, &off);
	if (r == BX_DROP_NONE)
		r = bx_wire_decode(payload + off, v->payload_len - off, &inner);
	if (r != BX_DROP_NONE) {
		drop_rx(st, r, m);
		return false;
	}
	if (inner.type != BX_WIRE_DATA && inner.type != BX_WIRE_PROBE) {
		to_control(w, st, &inner, m);
		return false;
	}
	rte_pktmbuf_adj(m, (uint16_t)(v->payload_off + off));
	MBUF_OUTER_OFF(m) = OUTER_RELAYED | (uint32_t)(v->payload_off + off);
	if (rte_pktmbuf_pkt_len(m) > v->payload_len - off)
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_pkt_len(m) -
					       (v->payload_len - off)));
	return true;
}

/*
 * A frame for the kernel: with ICE on, one to the mesh port is STUN for one
 * of the agents, whose private port the translator puts in (or drops it:
 * the kernel has no socket on the mesh port). True if it may go up.
 */
static bool
stun_in(struct app_worker *w, struct bx_stats_lcore *st, struct rte_mbuf *m,
	uint64_t now_ms)
{
	enum bx_drop_reason r = BX_DROP_NONE;
	enum bx_stunmux_verdict vd;

	if (w->stunmux == NULL || m->nb_segs != 1 ||
	    rte_pktmbuf_data_len(m) <= ETH_LEN)
		return true;
	vd = bx_stunmux_in(w->stunmux, __atomic_load_n(w->stun_routes, __ATOMIC_ACQUIRE),
			   rte_pktmbuf_mtod_offset(m, void *, ETH_LEN),
			   rte_pktmbuf_data_len(m) - ETH_LEN, now_ms, &r);
	if (vd == BX_STUNMUX_DROP) {
		drop_rx(st, r, m);
		return false;
	}
	if (vd == BX_STUNMUX_TRANSLATED)
		bx_stats_add(st, BX_STAT_STUN_IN, 1);
	return true;
}

/*
 * Receives a burst from queue @q of underlay @u. Frames that are not mesh
 * data for us go up that underlay's exception TAP (this lcore's TX queue),
 * broken ones are dropped. Returns how many mesh data datagrams are left
 * in dg[], each mbuf trimmed to exactly the datagram (header, ciphertext,
 * tag), its header valid, the way back to the outer headers in
 * MBUF_OUTER_OFF; *@n_rx is how many frames arrived.
 */
static uint16_t
underlay_rx(struct app_worker *w, struct bx_stats_lcore *st, unsigned u,
	    uint16_t q, struct rte_mbuf *dg[], uint16_t *n_rx)
{
	const struct app_ports *ports = w->ports;
	const struct app_ul *ul = &ports->ul[u];
	const struct bx_relay_table *relay = NULL;
	struct rte_mbuf *rx[APP_BURST], *exc[APP_BURST], *fwd[APP_BURST];
	uint16_t n, i, n_exc = 0, n_dg = 0, n_fwd = 0, sent;
	uint64_t bytes = 0, now_ms = 0;

	n = rte_eth_rx_burst(ul->port, q, rx, APP_BURST);
	*n_rx = n;
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(rx[i]);
	bx_stats_add(st, BX_STAT_RX_PACKETS, n);
	bx_stats_add(st, BX_STAT_RX_BYTES, bytes);
	/* ICE runs on the primary underlay only. */
	if (w->stunmux != NULL && u == 0)
		now_ms = tsc_ms();
	if (w->relay_table != NULL)
		relay = __atomic_load_n(w->relay_table, __ATOMIC_ACQUIRE);

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = rx[i];
		struct bx_wire_udp_view v;
		struct bx_wire_info info;
		enum bx_drop_reason r;
		bool mesh;

		r = underlay_sort(w, u, m, &v, &mesh);
		if (r != BX_DROP_NONE) {
			drop_rx(st, r, m);
			continue;
		}
		if (!mesh) {
			if (u != 0 || stun_in(w, st, m, now_ms))
				exc[n_exc++] = m;
			continue;
		}
		r = bx_wire_decode(rte_pktmbuf_mtod_offset(m, const void *,
							   v.payload_off),
				   v.payload_len, &info);
		if (r != BX_DROP_NONE) {
			drop_rx(st, r, m);
			continue;
		}
		if (info.type == BX_WIRE_RELAY && info.path_id == BX_RELAY_OP_FORWARD) {
			if (relay != NULL) {
				if (relay_forward(w, st, relay, m, &v))
					fwd[n_fwd++] = m;
			} else if (relay_unwrap(w, st, m, &v)) {
				dg[n_dg++] = m;
			}
			continue;
		}
		MBUF_OUTER_OFF(m) = v.payload_off;
		if (info.type != BX_WIRE_DATA && info.type != BX_WIRE_PROBE) {
			to_control(w, st, &info, m);
			continue;
		}
		rte_pktmbuf_adj(m, v.payload_off);
		if (rte_pktmbuf_pkt_len(m) > v.payload_len)
			rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_pkt_len(m) -
						       v.payload_len));
		dg[n_dg++] = m;
	}

	sent = send_burst(ul->exception, w->txq, exc, n_exc);
	bx_stats_add(st, BX_STAT_EXCEPTION_RX_PACKETS, sent);
	for (i = sent; i < n_exc; i++)
		drop_rx(st, BX_DROP_EXCEPTION_FULL, exc[i]);
	if (n_fwd > 0) {
		bytes = 0;
		sent = send_burst(ul->port, w->txq, fwd, n_fwd);
		for (i = 0; i < sent; i++)
			bytes += rte_pktmbuf_pkt_len(fwd[i]);
		bx_stats_add(st, BX_STAT_RELAY_FORWARDED, sent);
		bx_stats_add(st, BX_STAT_TX_PACKETS, sent);
		bx_stats_add(st, BX_STAT_TX_BYTES, bytes);
		/* Received, then lost on the way out: an ingress drop keeps
		 * the receive accounting whole. */
		for (i = sent; i < n_fwd; i++)
			drop_rx(st, BX_DROP_TX_PORT_FULL, fwd[i]);
	}
	return n_dg;
}

/* lan_lookup: no MAC, and time to ask for it. */
#define LAN_ASK UINT64_C(1)

/*
 * Gateway mode: APP_NH_VALID | MAC of LAN host @dst; else LAN_ASK when an
 * ARP request for it is due (one per APP_LAN_ARP_INTERVAL_MS), or 0. Our
 * own LAN address and addresses off the LAN have no MAC to find.
 */
static inline uint64_t
lan_lookup(const struct app_worker *w, rte_be32_t dst, uint64_t now)
{
	struct app_lan *lan = w->lan;
	int64_t slot = lan_slot(lan, dst);
	uint64_t v;

	if (slot < 0 || dst == w->cfg->inner.address.addr)
		return 0;
	v = __atomic_load_n(&lan->mac[slot], __ATOMIC_ACQUIRE);
	if (v & APP_NH_VALID)
		return v;
	/* Several workers may race here: at worst two requests go out. */
	if (now - __atomic_load_n(&lan->asked[slot], __ATOMIC_RELAXED) <
	    lan->arp_interval)
		return 0;
	__atomic_store_n(&lan->asked[slot], now, __ATOMIC_RELAXED);
	return LAN_ASK;
}

/* Receiver session index of a datagram underlay_rx kept. */
static inline uint32_t
dg_rx_index(const struct rte_mbuf *m)
{
	const struct bx_wire_hdr *h = rte_pktmbuf_mtod(m, const struct bx_wire_hdr *);

	return rte_be_to_cpu_32(h->rx_index);
}

/* A replayed counter on an authenticated datagram flagged as a
 * deliberate copy: the first copy was delivered, this one is not an
 * attack. */
static inline enum bx_drop_reason
dup_reason(enum bx_drop_reason r, uint8_t flags)
{
	return r == BX_DROP_REPLAY_DUPLICATE && (flags & BX_WIRE_F_DUPLICATE) ?
		       BX_DROP_DUPLICATE_COPY : r;
}

/* This lcore's probe state for path @k of @p; all of @p's paths start
 * over when the control lcore says so (a new peer at the index, a
 * severance) or its path set changed (bond_sync). */
static struct bx_probe_path *
probe_path(struct app_worker *w, struct bx_stats_lcore *st,
	   const struct bx_peer *p, unsigned k)
{
	bond_sync(w, st, p);
	return &w->probe[p->index * w->paths->stride + k];
}

/*
 * A probe or an echo that opened (header and 16-byte body in @m). An
 * echo updates the path's measurements and is freed; a probe becomes our
 * echo of it, sealed again by echo_tx: returns true then.
 */
static bool
probe_in(struct app_worker *w, struct bx_stats_lcore *st,
	 const struct bx_peer *p, uint8_t flags, uint8_t path_id,
	 struct rte_mbuf *m, uint64_t now_ns)
{
	const uint8_t *body = rte_pktmbuf_mtod_offset(m, const uint8_t *,
						      BX_WIRE_HDR_LEN);
	size_t len = rte_pktmbuf_data_len(m) - BX_WIRE_HDR_LEN;
	enum bx_drop_reason r;

	/* Without probes of our own (no safety layer, no bonding) we
	 * still echo the peers' (their monitor needs us to). An echo names
	 * the path its probe measured, ours. */
	if (flags & BX_WIRE_F_ECHO)
		r = w->paths != NULL && path_id < p->n_paths &&
				    path_id < w->paths->stride ?
			    bx_probe_on_echo(probe_path(w, st, p, path_id), body,
					     len, now_ns) :
			    BX_DROP_PROBE_UNKNOWN;
	else
		r = bx_probe_validate(body, len);
	if (r != BX_DROP_NONE) {
		drop_rx(st, r, m);
		return false;
	}
	bx_stats_add(st, BX_STAT_PROBE_RX, 1);
	if (flags & BX_WIRE_F_ECHO) {
		rte_pktmbuf_free(m);
		return false;
	}
	return true;
}

/*
 * Seals the datagrams in pkts[] (each: header written but for its
 * counter, then the plaintext) for their peers and sends them to @dest[],
 * counted under @stat. For probes and echoes: the control lcore's
 * keepalives aside, only the lcore that owns a peer sends to it, so its
 * counter is this lcore's to take.
 */
static void
ctl_seal_tx(struct app_worker *w, struct bx_stats_lcore *st,
	    struct rte_mbuf *pkts[], const struct bx_peer *peers[],
	    const struct tx_dest dest[], uint8_t path[], uint16_t n,
	    enum bx_stat_id stat)
{
	const struct bx_crypto_key *keys[APP_BURST];
	uint16_t meta[APP_BURST];
	struct rte_mbuf *seal[APP_BURST], *in[APP_BURST];
	uint8_t cwhy[APP_BURST];
	struct tx_batch b;
	uint16_t i, j, k = 0, good;

	for (i = 0; i < n; i++) {
		struct bx_wire_hdr *h = rte_pktmbuf_mtod(pkts[i], struct bx_wire_hdr *);
		struct app_session *s = send_session(peers[i]);
		uint64_t c;

		if (s == NULL) {
			drop_tx(st, BX_DROP_NO_SESSION, pkts[i]);
			continue;
		}
		c = s->tx_counter;
		if (BX_UNLIKELY(c >= s->tx_limit)) {
			drop_tx(st, BX_DROP_SESSION_EXHAUSTED, pkts[i]);
			continue;
		}
		__atomic_store_n(&s->tx_counter, c + 1, __ATOMIC_RELAXED);
		h->rx_index = rte_cpu_to_be_32(s->tx_index);
		h->counter = rte_cpu_to_be_64(c);
		keys[k] = s->tx_key;
		meta[k] = i;
		seal[k++] = pkts[i];
	}
	if (k == 0)
		return;
	memcpy(in, seal, k * sizeof(seal[0]));
	good = bx_crypto_seal_burst(w->crypto, keys, seal, k, 0, cwhy);
	for (i = good; i < k; i++)
		drop_tx(st, (enum bx_drop_reason)cwhy[i], seal[i]);
	tx_batch_init(&b);
	for (i = 0, j = 0; i < good; i++, j++) {
		struct rte_mbuf *m = seal[i];
		const struct tx_dest *d;
		enum bx_drop_reason r;

		while (in[j] != m)
			j++;
		d = &dest[meta[j]];
		r = outer_put(w, m, d);
		if (r != BX_DROP_NONE) {
			drop_tx(st, r, m);
			continue;
		}
		tx_batch_add(&b, d->ul, m, peers[meta[j]]->index, path[meta[j]]);
	}
	tx_batch_send(w, st, &b, stat);
}

/*
 * Where an echo of the probe @m (from @p) goes: back the way the probe
 * came -- the underlay it arrived on, to its outer source address and
 * MAC -- so each probe measures its own pair, whatever paths we know the
 * peer by; one that came through a relay goes back along the peer's path
 * (the relay's, wrapped for it).
 */
static bool
echo_dest(const struct app_worker *w, const struct bx_peer *p,
	  const struct rte_mbuf *m, struct tx_dest *d, uint8_t *path)
{
	const uint8_t *frame;
	const struct rte_ipv4_hdr *ih;
	const struct rte_udp_hdr *uh;
	struct rte_ether_addr mac;
	uint32_t off = MBUF_OUTER_OFF(m);
	unsigned u;

	*path = 0;
	if (off & OUTER_RELAYED)
		return path_dest(w, p, 0, d);
	if (off < ETH_LEN + IPV4_MIN_LEN + sizeof(*uh) || off > rte_pktmbuf_headroom(m))
		return false;
	frame = rte_pktmbuf_mtod_offset(m, const uint8_t *, -(int32_t)off);
	ih = (const struct rte_ipv4_hdr *)(frame + ETH_LEN);
	uh = (const struct rte_udp_hdr *)(frame + ETH_LEN + rte_ipv4_hdr_len(ih));
	memcpy(&mac, frame + RTE_ETHER_ADDR_LEN, sizeof(mac));
	d->nh = APP_NH_VALID | mac_pack(&mac);
	d->ip = ih->src_addr;
	d->port = uh->src_port;
	d->relay_handle = 0;
	d->ul = 0;
	for (u = 0; u < w->ports->n_ul; u++)
		if (w->ports->ul[u].port == m->port)
			d->ul = u;
	/* Counted against our path of that pair, if we have it. */
	*path = 0;
	for (u = 0; u < p->n_paths; u++)
		if (p->paths[u].ul == d->ul && p->paths[u].ip == d->ip &&
		    p->paths[u].port == d->port)
			*path = (uint8_t)u;
	return true;
}

/* Our echoes of the peers' probes: the same body back, flagged. */
static void
echo_tx(struct app_worker *w, struct bx_stats_lcore *st,
	const struct bx_peer_table *t, struct rte_mbuf *pkts[], uint16_t n)
{
	const struct bx_peer *peers[APP_BURST];
	struct tx_dest dest[APP_BURST];
	uint8_t path[APP_BURST];
	uint16_t i, k = 0;

	for (i = 0; i < n; i++) {
		struct bx_wire_hdr *h = rte_pktmbuf_mtod(pkts[i], struct bx_wire_hdr *);
		unsigned slot;
		const struct bx_peer *p = bx_peer_lookup_session(t,
					rte_be_to_cpu_32(h->rx_index), &slot);

		if (p == NULL) {
			drop_tx(st, BX_DROP_NO_SESSION, pkts[i]);
			continue;
		}
		if (!echo_dest(w, p, pkts[i], &dest[k], &path[k])) {
			drop_tx(st, BX_DROP_NO_PATH, pkts[i]);
			continue;
		}
		h->flags = BX_WIRE_F_ECHO;
		peers[k] = p;
		pkts[k++] = pkts[i];
	}
	ctl_seal_tx(w, st, pkts, peers, dest, path, k, BX_STAT_PROBE_ECHO_TX);
}

/*
 * An underlay lost or regained carrier: every bonded peer's paths on a
 * lost one are down at once, before the next packet is scheduled (one
 * regained comes back through its probes).
 */
static void
links_changed(struct app_worker *w, struct bx_stats_lcore *st,
	      const struct bx_peer_table *t, uint32_t up)
{
	uint32_t idx, cap = bx_peer_table_capacity(t);
	uint64_t now_ns = tsc_ns(w);
	unsigned k;

	for (idx = 0; idx < cap && idx < w->n_slots; idx++) {
		const struct bx_peer *p = bx_peer_table_at(t, idx);
		struct app_bond_peer *bp;

		if (p == NULL || p->n_paths < 2 || !owns_peer(w, p))
			continue;
		bp = bond_sync(w, st, p);
		for (k = 0; k < p->n_paths; k++)
			if (((up >> p->paths[k].ul) & 1u) == 0)
				bx_bond_link_down(&bp->bond, k, now_ns);
	}
}

/* Probes in @pkts to send to their paths. */
struct probe_batch {
	struct rte_mbuf *pkts[APP_BURST];
	const struct bx_peer *peers[APP_BURST];
	struct tx_dest dest[APP_BURST];
	uint8_t path[APP_BURST];
	uint16_t n;
};

/* Path @k of @p: its lost probes counted, and a probe if one is due. */
static void
probe_one(struct app_worker *w, struct bx_stats_lcore *st,
	  const struct bx_peer *p, unsigned k, uint64_t now_ns,
	  struct probe_batch *b)
{
	struct bx_probe_path *pp = probe_path(w, st, p, k);
	struct bx_wire_info info;
	struct rte_mbuf *m;
	uint8_t *d;

	bx_probe_tick(pp, now_ns);
	if (!bx_probe_due(pp, now_ns))
		return;
	/* No next hop (yet), or its underlay has no carrier: nothing can go
	 * (a port without carrier may hold the frame and send it when the
	 * link comes back, a stale probe), and nothing is lost. */
	if (!path_dest(w, p, k, &b->dest[b->n]) ||
	    (w->bpeer != NULL && ((w->ul_up_seen >> b->dest[b->n].ul) & 1u) == 0))
		return;
	m = rte_pktmbuf_alloc(w->ports->pool);
	d = m != NULL ? (uint8_t *)rte_pktmbuf_append(m, BX_WIRE_HDR_LEN +
						      BX_PROBE_BODY_LEN) : NULL;
	if (d == NULL) {
		rte_pktmbuf_free(m);
		bx_stats_tx_drop(st, BX_DROP_NO_MBUF, 1);
		return;
	}
	memset(&info, 0, sizeof(info));
	info.type = BX_WIRE_PROBE;
	info.lane = BX_LANE_CRITICAL;
	info.path_id = (uint8_t)k;
	bx_wire_encode(d, &info);
	bx_probe_next(pp, now_ns, d + BX_WIRE_HDR_LEN);
	b->peers[b->n] = p;
	b->path[b->n] = (uint8_t)k;
	b->pkts[b->n++] = m;
	if (b->n == APP_BURST) {
		ctl_seal_tx(w, st, b->pkts, b->peers, b->dest, b->path, b->n,
			    BX_STAT_PROBE_TX);
		b->n = 0;
	}
}

/*
 * Every few ms: a probe on each path due for one, to every peer this
 * lcore owns that has a session (the probes are sealed like data).
 */
static void
probe_scan(struct app_worker *w, struct bx_stats_lcore *st,
	   const struct bx_peer_table *t)
{
	const struct app_paths_shared *ps = w->paths;
	struct probe_batch b;
	uint64_t tsc = rte_rdtsc(), now_ns;
	uint32_t idx, cap = bx_peer_table_capacity(t), up;
	unsigned k;

	up = __atomic_load_n(&ps->ul_up, __ATOMIC_ACQUIRE);
	if (BX_UNLIKELY(up != w->ul_up_seen) && w->bpeer != NULL)
		links_changed(w, st, t, up);
	w->ul_up_seen = up;
	if (tsc < w->next_probe_tsc)
		return;
	/* A tenth of the interval: probes go out at most that late, and a
	 * bonded peer's paths are judged as often. */
	w->next_probe_tsc = tsc + ps->probe_interval_tsc / 10u;
	now_ns = tsc_ns(w);
	b.n = 0;
	for (idx = 0; idx < cap && idx < w->n_slots; idx++) {
		const struct bx_peer *p = bx_peer_table_at(t, idx);
		struct app_bond_peer *bp;

		if (p == NULL || !owns_peer(w, p) || send_session(p) == NULL)
			continue;
		for (k = 0; k < p->n_paths && k < ps->stride; k++)
			probe_one(w, st, p, k, now_ns, &b);
		bp = w->bpeer != NULL && p->n_paths > 1 ? bond_sync(w, st, p) : NULL;
		if (bp != NULL)
			bond_tick(w, st, p, bp, up, now_ns);
	}
	ctl_seal_tx(w, st, b.pkts, b.peers, b.dest, b.path, b.n, BX_STAT_PROBE_TX);
}

/* Frames for the inner port (delivered packets, a gateway's ARP
 * requests), sent whenever a batch fills and at the end. */
struct inner_batch {
	struct rte_mbuf *out[APP_BURST];
	struct rte_mbuf *ask[APP_BURST];
	uint16_t n_out, n_ask;
};

static void
inner_flush(struct app_worker *w, struct bx_stats_lcore *st,
	    struct inner_batch *ib)
{
	const struct app_ports *ports = w->ports;
	uint16_t i, sent;

	sent = send_burst(ports->inner, w->txq, ib->out, ib->n_out);
	bx_stats_add(st, BX_STAT_INNER_TX_PACKETS, sent);
	for (i = sent; i < ib->n_out; i++)
		drop_rx(st, BX_DROP_TX_PORT_FULL, ib->out[i]);
	/* The packets behind these requests are counted as no_path already. */
	sent = send_burst(ports->inner, w->txq, ib->ask, ib->n_ask);
	bx_stats_add(st, BX_STAT_ARP_REQUESTS, sent);
	if (sent < ib->n_ask)
		rte_pktmbuf_free_bulk(&ib->ask[sent], ib->n_ask - sent);
	ib->n_out = ib->n_ask = 0;
}

/*
 * An opened, checked inner IPv4 packet (@m starts at its IP header) goes
 * to the inner port: the kernel's TAP, or a gateway's LAN host (whose MAC
 * it may have to ask for first).
 */
static void
inner_deliver(struct app_worker *w, struct bx_stats_lcore *st,
	      struct rte_mbuf *m, uint64_t now, struct inner_batch *ib)
{
	const struct app_ports *ports = w->ports;
	const struct rte_ipv4_hdr *ih = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	struct rte_ether_hdr *eh;
	uint64_t lan_mac = 0;

	if (ports->gateway) {
		lan_mac = lan_lookup(w, ih->dst_addr, now);
		if ((lan_mac & APP_NH_VALID) == 0) {
			bx_stats_rx_drop(st, BX_DROP_NO_PATH, 1);
			if (lan_mac == LAN_ASK) {
				lan_arp_request(w, m, ih->dst_addr);
				ib->ask[ib->n_ask++] = m;
			} else {
				rte_pktmbuf_free(m);
			}
			goto out;
		}
	}
	eh = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, ETH_LEN);
	if (eh == NULL) {
		drop_rx(st, BX_DROP_CRYPTO_NO_ROOM, m);
		return;
	}
	if (ports->gateway) {
		mac_unpack(lan_mac, &eh->dst_addr);
		eh->src_addr = ports->inner_mac;
	} else {
		eh->dst_addr = ports->inner_kernel_mac;
		eh->src_addr = proxy_mac;
	}
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ib->out[ib->n_out++] = m;
out:
	if (ib->n_out == APP_BURST || ib->n_ask == APP_BURST)
		inner_flush(w, st, ib);
}

/* Releases from a reorder buffer go on to the inner port, in order. */
static void
reorder_deliver(struct app_worker *w, struct bx_stats_lcore *st, unsigned n,
		uint64_t now, struct inner_batch *ib)
{
	unsigned i;

	for (i = 0; i < n; i++)
		inner_deliver(w, st, (struct rte_mbuf *)w->reo_out[i], now, ib);
}

/* The stats learn what a reorder buffer did since they last looked. */
static void
reorder_count(struct bx_stats_lcore *st, struct app_reorder_slot *rs)
{
	struct bx_reorder_stats now;

	bx_reorder_get_stats(rs->r, &now);
	bx_stats_add(st, BX_STAT_REORDER_HELD, now.held - rs->seen.held);
	bx_stats_add(st, BX_STAT_REORDER_LATE, now.late - rs->seen.late);
	bx_stats_add(st, BX_STAT_REORDER_TIMEOUTS, now.timeouts - rs->seen.timeouts);
	bx_stats_add(st, BX_STAT_REORDER_FORCED, now.forced - rs->seen.forced);
	rs->seen = now;
}

/* The reorder buffer of lane @lane of the peer at @idx, taken from the
 * pool on first use; NULL when the pool is spent (delivered unordered). */
static struct app_reorder_slot *
reorder_of(struct app_worker *w, struct bx_stats_lcore *st,
	   const struct bx_peer *p, struct app_bond_peer *bp, unsigned lane)
{
	struct app_reorder_slot *rs;
	unsigned i;

	if (bp->reorder[lane] >= 0)
		return &w->reo[bp->reorder[lane]];
	for (i = 0; i < APP_REORDER_BUFFERS; i++) {
		rs = &w->reo[i];
		if (rs->peer != UINT32_MAX)
			continue;
		/* With one path of our own to the peer we run no scheduler
		 * for it and know no RTT spread: wait as long as allowed. */
		bx_reorder_init(rs->r, w->reo_slots, p->n_paths > 1 ?
				bx_bond_reorder_timeout_ns(&bp->bond) :
				w->paths->bond_conf.reorder_timeout_max_ns);
		memset(&rs->seen, 0, sizeof(rs->seen));
		rs->peer = p->index;
		bp->reorder[lane] = (int8_t)i;
		return rs;
	}
	bx_stats_add(st, BX_STAT_REORDER_NO_BUFFER, 1);
	return NULL;
}

/*
 * A striped lane's packet with lane sequence @seq: through the peer's
 * reorder buffer for the lane (bonding.reorder), else straight on.
 */
static void
reorder_push(struct app_worker *w, struct bx_stats_lcore *st,
	     const struct bx_peer *p, unsigned lane, uint32_t seq,
	     struct rte_mbuf *m, uint64_t now, uint64_t now_ns,
	     struct inner_batch *ib)
{
	struct app_bond_peer *bp = w->bpeer != NULL ? bond_sync(w, st, p) : NULL;
	struct app_reorder_slot *rs;
	unsigned n = 0;

	if (bp == NULL || !w->paths->reorder || lane >= BX_LANE_COUNT ||
	    (rs = reorder_of(w, st, p, bp, lane)) == NULL) {
		inner_deliver(w, st, m, now, ib);
		return;
	}
	if (bx_reorder_push(rs->r, seq, m, now_ns, w->reo_out, w->reo_slots,
			    &n) == BX_REORDER_DUPLICATE) {
		drop_rx(st, BX_DROP_REORDER_DUPLICATE, m);
		return;
	}
	reorder_deliver(w, st, n, now, ib);
}

/*
 * Every pass: reorder buffers whose head gap timed out release what
 * waits behind it (one lost packet never stalls a flow for longer).
 */
static void
reorder_scan(struct app_worker *w, struct bx_stats_lcore *st,
	     const struct bx_peer_table *t)
{
	struct inner_batch ib;
	uint64_t now_ns = 0, now = w->lan != NULL ? rte_rdtsc() : 0;
	bool block = w->safety != NULL &&
		     __atomic_load_n(&w->safety->block, __ATOMIC_RELAXED) != 0;
	unsigned i, n, l;

	ib.n_out = ib.n_ask = 0;
	for (i = 0; i < APP_REORDER_BUFFERS; i++) {
		struct app_reorder_slot *rs = &w->reo[i];
		struct app_bond_peer *bp;
		const struct bx_peer *p;
		uint64_t deadline;

		if (rs->peer == UINT32_MAX)
			continue;
		/* Its peer is gone, or the tunnels were severed: nothing
		 * that waits may go in any more, and the buffer goes back. */
		p = bx_peer_table_at(t, rs->peer);
		bp = &w->bpeer[rs->peer];
		if (p == NULL || block || strncmp(p->id, bp->id, sizeof(bp->id)) != 0) {
			for (l = 0; l < BX_LANE_COUNT; l++)
				if (bp->reorder[l] == (int8_t)i)
					reorder_drop(w, st, bp, l);
			continue;
		}
		deadline = bx_reorder_next_deadline(rs->r);
		if (deadline != BX_REORDER_NO_DEADLINE) {
			if (now_ns == 0)
				now_ns = tsc_ns(w);
			if (now_ns >= deadline) {
				n = bx_reorder_pop(rs->r, now_ns, w->reo_out,
						   w->reo_slots);
				reorder_deliver(w, st, n, now, &ib);
			}
		}
		reorder_count(st, rs);
	}
	inner_flush(w, st, &ib);
}

/* At exit: whatever waits in a reorder buffer is freed (the pool goes). */
static void
reorder_release_all(struct app_worker *w, struct bx_stats_lcore *st)
{
	unsigned i, n;

	for (i = 0; i < APP_REORDER_BUFFERS; i++) {
		if (w->reo[i].r == NULL || w->reo[i].peer == UINT32_MAX)
			continue;
		n = bx_reorder_flush(w->reo[i].r, w->reo_out, w->reo_slots);
		bx_stats_rx_drop(st, BX_DROP_SHUTDOWN, n);
		rte_pktmbuf_free_bulk((struct rte_mbuf **)w->reo_out, n);
		w->reo[i].peer = UINT32_MAX;
	}
}

/*
 * Mesh data datagrams (as underlay_rx leaves them) -> replay pre-check ->
 * open -> replay commit -> source check -> inner TAP (this lcore's queue),
 * a striped lane's through its reorder buffer.
 */
static void
open_tx(struct app_worker *w, struct bx_stats_lcore *st,
	const struct bx_peer_table *t, struct rte_mbuf *pkts[], uint16_t n)
{
	struct rte_mbuf *open[APP_BURST], *open_in[APP_BURST];
	struct rte_mbuf *echo[APP_BURST];
	const struct bx_crypto_key *keys[APP_BURST];
	struct rx_meta meta[APP_BURST];
	struct inner_batch ib;
	uint8_t cwhy[APP_BURST];
	uint16_t i, j, n_open = 0, n_echo = 0, good;
	uint64_t now = w->lan != NULL ? rte_rdtsc() : 0, now_ns = 0;
	bool block = false;
	/* The burst before this packet: its last session (most bursts carry
	 * one peer's datagrams) and the last inner source found allowed. */
	const struct bx_peer *last_p = NULL, *src_p = NULL;
	struct app_session *last_s = NULL;
	uint32_t last_index = 0;
	rte_be32_t src_ok = 0;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const struct bx_wire_hdr *h =
			rte_pktmbuf_mtod(m, const struct bx_wire_hdr *);
		const struct bx_peer *p;
		struct app_session *s;
		enum bx_drop_reason r;
		uint64_t counter;
		uint32_t index = dg_rx_index(m);
		unsigned slot;

		if (last_s != NULL && index == last_index) {
			p = last_p;
			s = last_s;
		} else {
			p = bx_peer_lookup_session(t, index, &slot);
			s = p != NULL ? p->sessions[slot].ctx : NULL;
			if (s != NULL) {
				last_p = p;
				last_s = s;
				last_index = index;
			}
		}
		if (s == NULL) {
			drop_rx(st, BX_DROP_NO_SESSION, m);
			continue;
		}
		if (BX_UNLIKELY(!owns_peer(w, p))) {
			drop_rx(st, BX_DROP_PEER_MOVED, m);
			continue;
		}
		counter = rte_be_to_cpu_64(h->counter);
		r = bx_replay_check(s->replay, counter);
		/* A duplicate flagged as a deliberate copy is opened anyway:
		 * the flag is only believed once the tag has covered it, so a
		 * replay cannot hide under it (dup_reason at the commit). */
		if (r != BX_DROP_NONE &&
		    !(r == BX_DROP_REPLAY_DUPLICATE && (h->flags & BX_WIRE_F_DUPLICATE))) {
			drop_rx(st, r, m);
			continue;
		}
		keys[n_open] = s->rx_key;
		meta[n_open].peer = p;
		meta[n_open].sess = s;
		meta[n_open].counter = counter;
		meta[n_open].type = h->tag_ver_type & BX_WIRE_TYPE_MASK;
		meta[n_open].flags = h->flags;
		meta[n_open].path_id = h->path_id;
		meta[n_open].lane = h->lane;
		open[n_open++] = m;
	}
	if (n_open == 0)
		return;
	if (w->safety != NULL)
		block = __atomic_load_n(&w->safety->block, __ATOMIC_RELAXED) != 0;
	if (w->paths != NULL)
		now_ns = tsc_ns(w);

	memcpy(open_in, open, n_open * sizeof(open[0]));
	good = bx_crypto_open_burst(w->crypto, keys, open, n_open, 0, cwhy);
	for (i = good; i < n_open; i++)
		drop_rx(st, (enum bx_drop_reason)cwhy[i], open[i]);

	ib.n_out = ib.n_ask = 0;
	for (i = 0, j = 0; i < good; i++, j++) {
		struct rte_mbuf *m = open[i];
		const struct rte_ipv4_hdr *ih;
		enum bx_drop_reason r;
		uint32_t seq = 0;

		while (open_in[j] != m)
			j++;
		r = bx_replay_commit(meta[j].sess->replay, meta[j].counter);
		if (r != BX_DROP_NONE) {
			drop_rx(st, dup_reason(r, meta[j].flags), m);
			continue;
		}
		/* The peer has these keys: we may send on them too. */
		if (BX_UNLIKELY(!meta[j].sess->confirmed))
			__atomic_store_n(&meta[j].sess->confirmed, true,
					 __ATOMIC_RELAXED);
		/* Authentic: what the peer sent us, delivered or not. */
		peer_count_rx(w, meta[j].peer->index, rte_pktmbuf_pkt_len(m));
		if (meta[j].type == BX_WIRE_PROBE) {
			if (probe_in(w, st, meta[j].peer, meta[j].flags,
				     meta[j].path_id, m, now_ns))
				echo[n_echo++] = m;
			continue;
		}
		rte_pktmbuf_adj(m, BX_WIRE_HDR_LEN);
		if (rte_pktmbuf_data_len(m) == 0) { /* a keepalive */
			bx_stats_add(st, BX_STAT_KEEPALIVE_RX, 1);
			rte_pktmbuf_free(m);
			continue;
		}
		if (block) {
			drop_rx(st, BX_DROP_SAFETY_BLOCKED, m);
			continue;
		}
		if (meta[j].flags & BX_WIRE_F_SEQ) {
			rte_be32_t v;

			if (rte_pktmbuf_data_len(m) < BX_WIRE_SEQ_LEN + IPV4_MIN_LEN) {
				drop_rx(st, BX_DROP_CLASSIFY_TRUNCATED, m);
				continue;
			}
			memcpy(&v, rte_pktmbuf_mtod(m, const void *), sizeof(v));
			seq = rte_be_to_cpu_32(v);
			rte_pktmbuf_adj(m, BX_WIRE_SEQ_LEN);
		}
		if (rte_pktmbuf_data_len(m) < IPV4_MIN_LEN) {
			drop_rx(st, BX_DROP_CLASSIFY_TRUNCATED, m);
			continue;
		}
		ih = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
		if ((ih->version_ihl >> 4) != IPV4_VERSION) {
			drop_rx(st, BX_DROP_CLASSIFY_NOT_IP, m);
			continue;
		}
		if (src_p != meta[j].peer || src_ok != ih->src_addr) {
			if (!bx_peer_src_allowed(t, meta[j].peer, ih->src_addr)) {
				drop_rx(st, BX_DROP_SRC_NOT_ALLOWED, m);
				continue;
			}
			src_p = meta[j].peer;
			src_ok = ih->src_addr;
		}
		if (meta[j].flags & BX_WIRE_F_SEQ)
			reorder_push(w, st, meta[j].peer, meta[j].lane, seq, m, now,
				     now_ns, &ib);
		else
			inner_deliver(w, st, m, now, &ib);
	}
	inner_flush(w, st, &ib);
	if (n_echo > 0)
		echo_tx(w, st, t, echo, n_echo);
}

/* The kernel's frames with agents' STUN moved to the mesh port; returns
 * how many are left in pkts[] (the others counted and freed). */
static uint16_t
stun_out(struct app_worker *w, struct bx_stats_lcore *st,
	 struct rte_mbuf *pkts[], uint16_t n)
{
	uint64_t now_ms = tsc_ms();
	uint16_t i, kept = 0;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		enum bx_drop_reason r = BX_DROP_NONE;
		enum bx_stunmux_verdict vd = BX_STUNMUX_PASS;

		if (m->nb_segs == 1 && rte_pktmbuf_data_len(m) > ETH_LEN)
			vd = bx_stunmux_out(w->stunmux,
					    rte_pktmbuf_mtod_offset(m, void *, ETH_LEN),
					    rte_pktmbuf_data_len(m) - ETH_LEN,
					    now_ms, &r);
		if (vd == BX_STUNMUX_DROP) {
			drop_tx(st, r, m);
			continue;
		}
		if (vd == BX_STUNMUX_TRANSLATED)
			bx_stats_add(st, BX_STAT_STUN_OUT, 1);
		pkts[kept++] = m;
	}
	return kept;
}

/* What the kernel sends on exception queue @q of underlay @u goes out
 * there (an ICE agent's STUN from the mesh port). */
static uint16_t
exception_down(struct app_worker *w, struct bx_stats_lcore *st, unsigned u,
	       uint16_t q)
{
	const struct app_ul *ul = &w->ports->ul[u];
	struct rte_mbuf *pkts[APP_BURST];
	uint16_t got, n, i, sent;

	got = n = rte_eth_rx_burst(ul->exception, q, pkts, APP_BURST);
	if (n == 0)
		return 0;
	/* An ICE agent's STUN leaves from the mesh port, as the fast path's
	 * datagrams do: one 5-tuple per node on the wire. */
	if (w->stunmux != NULL && u == 0)
		n = stun_out(w, st, pkts, n);
	sent = send_burst(ul->port, w->txq, pkts, n);
	bx_stats_add(st, BX_STAT_EXCEPTION_TX_PACKETS, sent);
	for (i = sent; i < n; i++)
		drop_tx(st, BX_DROP_TX_PORT_FULL, pkts[i]);
	return got;
}

/* Frames the control lcore made (handshakes, keepalives) go out on the
 * underlay whose address is their source. */
static void
control_down(struct app_worker *w, struct bx_stats_lcore *st)
{
	struct rte_mbuf *pkts[APP_BURST];
	struct tx_batch b;
	uint16_t n, i;

	n = (uint16_t)rte_ring_sc_dequeue_burst(w->ctl_tx, (void **)pkts,
						APP_BURST, NULL);
	if (n == 0)
		return;
	tx_batch_init(&b);
	for (i = 0; i < n; i++)
		tx_batch_add(&b, frame_ul(w->ports, pkts[i]), pkts[i],
			     TX_NO_PEER, 0);
	tx_batch_send(w, st, &b, BX_STAT__COUNT);
}

/* Bursts a backlogged input is read ahead per pass (rtc_pass): a
 * quarter of a NIC ring while Bulk has room; once Bulk is full, one burst
 * more than the pass seals -- reading further would only classify and
 * drop Bulk, taking the time sealing needs. */
#define RTC_DRAIN_BURSTS 8u
#define RTC_FULL_BURSTS 2u

/*
 * A standing Bulk queue (bulk_room). Bulk above RTC_BULK_STANDING packets
 * for RTC_OVERLOAD_US is not a burst the lane absorbs (a NIC ring of them
 * drains in half a millisecond) but an input that stays faster than the
 * worker. From then on, until Bulk has stayed a burst below that for as
 * long, Bulk is kept to RTC_BULK_STANDING and each pass reads
 * RTC_STANDING_BURSTS ahead, dropping the Bulk beyond it: the input ring,
 * where a Critical packet waits behind everything, stays short instead of
 * full, and what is sealed comes from a queue that fits in the cache
 * instead of two NIC rings' worth. Measured in fastpath-bench's Critical
 * section (AES-GCM, Bulk at 1.2x capacity): Critical p50 ~315 -> ~20 us,
 * Bulk sealed 1.4 -> 1.8-2.4 Mpps; at a line rate forty times capacity,
 * Bulk sealed ~15 % lower, the price of reading four bursts for one. Not
 * from the kernel's TAP, which waits for room: there a shorter lane would
 * only move the queue into the TAP's FIFO, where Critical cannot overtake
 * (perf/e2e.sh: loaded ping p50 1.1-1.4 ms as before, 3.2-3.8 ms with it).
 */
#define RTC_BULK_STANDING (8u * APP_BURST)
#define RTC_OVERLOAD_US 1000u
#define RTC_STANDING_BURSTS 4u

static const enum bx_drop_reason lane_full[BX_LANE_COUNT] = {
	[BX_LANE_CRITICAL] = BX_DROP_LANE_CRITICAL_EVICTED,
	[BX_LANE_TELEMETRY] = BX_DROP_LANE_TELEMETRY_FULL,
	[BX_LANE_BULK] = BX_DROP_LANE_BULK_FULL,
};

/*
 * Queues @pkts[0..@n) on @l by lane: egress (@in false) by the
 * classifier's MBUF_LANE, ingress by the datagram header's lane (checked
 * by bx_wire_decode). Bulk takes at most *@bulk_room (which goes down by
 * what it took). What a full lane refuses, or Critical evicts, is dropped
 * and counted; *@held follows what the lanes hold.
 */
static void
lanes_put(struct bx_stats_lcore *st, struct bx_lanes *l, bool in,
	  struct rte_mbuf *pkts[], uint16_t n, uint32_t *held,
	  unsigned *bulk_room)
{
	struct rte_mbuf *g[BX_LANE_COUNT][APP_BURST];
	uint16_t cnt[BX_LANE_COUNT] = { 0 }, i, ok, evicted, offer;
	unsigned lane;

	for (i = 0; i < n; i++) {
		lane = in ? rte_pktmbuf_mtod(pkts[i], const struct bx_wire_hdr *)->lane :
			    MBUF_LANE(pkts[i]);
		g[lane][cnt[lane]++] = pkts[i];
	}
	for (lane = 0; lane < BX_LANE_COUNT; lane++) {
		if (cnt[lane] == 0)
			continue;
		evicted = 0;
		offer = cnt[lane];
		if (lane == BX_LANE_BULK && offer > *bulk_room)
			offer = (uint16_t)*bulk_room;
		ok = bx_lanes_enqueue(l, (enum bx_wire_lane)lane, g[lane], offer,
				      &evicted);
		if (lane == BX_LANE_BULK)
			*bulk_room -= ok;
		*held += ok - evicted;
		for (i = ok; i < cnt[lane]; i++) {
			if (in)
				drop_rx(st, lane_full[lane], g[lane][i]);
			else
				drop_tx(st, lane_full[lane], g[lane][i]);
		}
		if (evicted == 0)
			continue;
		if (in)
			bx_stats_rx_drop(st, lane_full[lane], evicted);
		else
			bx_stats_tx_drop(st, lane_full[lane], evicted);
	}
}

/* The next burst to process from @l, by priority; *@held follows. */
static uint16_t
lanes_take(struct bx_lanes *l, struct rte_mbuf *pkts[], uint32_t *held)
{
	uint16_t n = bx_lanes_dequeue(l, pkts, APP_BURST, rte_rdtsc());

	*held -= n;
	return n;
}

/*
 * True while reading one more burst into @l cannot push out what the
 * input would have kept: Critical and Telemetry each have room for a
 * burst, and Bulk too (@bulk_room) with @bulk. Bulk may otherwise
 * overflow, dropped where a full NIC ring would have dropped it, after
 * Critical was found.
 */
static inline bool
lanes_have_room(const struct bx_lanes *l, unsigned bulk_room, bool bulk)
{
	return bx_lanes_room(l, BX_LANE_CRITICAL) >= APP_BURST &&
	       bx_lanes_room(l, BX_LANE_TELEMETRY) >= APP_BURST &&
	       (!bulk || bulk_room >= APP_BURST);
}

/*
 * The Bulk @l may take this pass: its lane's room; or, once Bulk has stood
 * above RTC_BULK_STANDING for w->overload_tsc (*@standing), only up to
 * that, until Bulk has stayed a burst below it for as long (the overload
 * is over). *@mark is when Bulk went above (0: it is not) or, standing,
 * when it last pressed against the limit.
 */
static unsigned
bulk_room(const struct app_worker *w, const struct bx_lanes *l,
	  uint64_t *mark, bool *standing)
{
	unsigned n = bx_lanes_count(l, BX_LANE_BULK);
	uint64_t now = rte_rdtsc();

	if (*standing) {
		if (n + APP_BURST > RTC_BULK_STANDING) {
			*mark = now;
		} else if (now - *mark > w->overload_tsc) {
			*standing = false;
			*mark = 0;
		}
	} else if (n <= RTC_BULK_STANDING) {
		*mark = 0;
	} else if (*mark == 0) {
		*mark = now;
	} else if (now - *mark > w->overload_tsc) {
		*standing = true;
		*mark = now;
	}
	if (*standing)
		return n < RTC_BULK_STANDING ? RTC_BULK_STANDING - n : 0;
	return bx_lanes_room(l, BX_LANE_BULK);
}

/* How many bursts this pass reads ahead in all, with @bulk_room. */
static inline unsigned
read_ahead(unsigned bulk_room, bool standing)
{
	if (standing)
		return RTC_STANDING_BURSTS;
	return bulk_room >= APP_BURST ? RTC_DRAIN_BURSTS : RTC_FULL_BURSTS;
}

/*
 * One direction of a run-to-completion pass: egress (@in false: the inner
 * input, sealed) or ingress from underlay @u (@in true: mesh datagrams,
 * opened, by their header's lane). While the input keeps up, a burst goes
 * straight from RX to crypto, in order. Once it is backlogged (a full
 * burst, or packets already waiting in the lanes), the pass reads ahead
 * (read_ahead) into the lanes and processes one burst from them by
 * priority: a Critical packet waits behind one burst and the read-ahead,
 * not behind all a NIC ring holds. Reading ahead never evicts Critical or
 * refuses Telemetry (it stops while they lack room); Bulk past its lane's
 * room (bulk_room) is dropped and counted where the NIC would have dropped
 * it unseen. From the kernel's TAP reading also stops while Bulk lacks
 * room: the rest waits in the TAP queue and the kernel pushes back on its
 * senders (TCP slows down without a loss). Always inlined with a constant
 * @in, so each direction compiles to its own loop. Returns frames received
 * or taken from the lanes (0: idle).
 */
static __rte_always_inline unsigned
rtc_dir(struct app_worker *w, struct bx_stats_lcore *st,
	const struct bx_peer_table *t, bool in, unsigned u)
{
	struct bx_lanes *l = in ? w->in_lanes : w->lanes;
	uint32_t *held = in ? &w->in_held : &w->out_held;
	bool *standing = in ? &w->in_standing : &w->out_standing;
	/* The kernel's TAP waits for room: a shorter Bulk lane would only
	 * move the queue into its FIFO, where Critical cannot overtake. */
	const bool pushback = !in && w->ports->inner_pushback;
	struct rte_mbuf *pkts[APP_BURST];
	uint16_t n = 0, n_rx = APP_BURST;
	unsigned got = 0, d, room, ahead;

	if (l == NULL || *held == 0) {
		n = in ? underlay_rx(w, st, u, 0, pkts, &n_rx) :
			 inner_rx(w, st, 0, pkts, &n_rx);
		got = n_rx;
		if (l == NULL || n_rx < APP_BURST) {
			if (n == 0) /* idle: no call into a large frame */
				return got;
			if (in)
				open_tx(w, st, t, pkts, n);
			else
				seal_tx(w, st, t, pkts, n);
			return got;
		}
	}
	room = pushback ? bx_lanes_room(l, BX_LANE_BULK) :
			  bulk_room(w, l, in ? &w->in_over_tsc : &w->out_over_tsc,
				    standing);
	ahead = read_ahead(room, *standing);
	if (got != 0) /* the full burst read above */
		lanes_put(st, l, in, pkts, n, held, &room);
	for (d = 0; d < ahead && n_rx == APP_BURST &&
		    lanes_have_room(l, room, pushback);
	     d++) {
		n = in ? underlay_rx(w, st, u, 0, pkts, &n_rx) :
			 inner_rx(w, st, 0, pkts, &n_rx);
		got += n_rx;
		lanes_put(st, l, in, pkts, n, held, &room);
	}
	n = lanes_take(l, pkts, held);
	if (in)
		open_tx(w, st, t, pkts, n);
	else
		seal_tx(w, st, t, pkts, n);
	return got + n;
}

/* One pass of the run-to-completion worker; returns frames received or
 * taken from its lanes (0: nothing to do, it may sleep). */
static unsigned
rtc_pass(struct app_worker *w, struct bx_stats_lcore *st,
	 const struct bx_peer_table *t)
{
	unsigned got, u;

	got = rtc_dir(w, st, t, false, 0);
	for (u = 0; u < w->ports->n_ul; u++)
		got += rtc_dir(w, st, t, true, u);
	control_down(w, st);
	if (w->paths != NULL)
		probe_scan(w, st, t);
	if (w->bpeer != NULL)
		reorder_scan(w, st, t);
	for (u = 0; u < w->ports->n_ul; u++)
		got += exception_down(w, st, u, 0);
	return got;
}

/* Egress packets of one RX burst, grouped by crypto worker and lane. */
struct egress_groups {
	struct rte_mbuf *pkts[APP_MAX_CRYPTO][BX_LANE_COUNT][APP_BURST];
	uint16_t n[APP_MAX_CRYPTO][BX_LANE_COUNT];
};

/* Hands classified frames to the crypto worker of their peer, by lane. */
static void
dispatch_egress(struct app_worker *w, struct bx_stats_lcore *st,
		const struct bx_peer_table *t, struct rte_mbuf *pkts[],
		uint16_t n)
{
	struct egress_groups g;
	unsigned c, lane;
	uint16_t i;

	memset(g.n, 0, sizeof(g.n));
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const struct rte_ipv4_hdr *ih = inner_ipv4(st, m);
		const struct bx_peer *p;

		if (ih == NULL)
			continue;
		p = bx_peer_lookup_dst(t, ih->dst_addr);
		if (p == NULL) {
			drop_tx(st, BX_DROP_NO_PEER, m);
			continue;
		}
		c = p->index % w->n_crypto;
		lane = MBUF_LANE(m);
		g.pkts[c][lane][g.n[c][lane]++] = m;
	}
	for (c = 0; c < w->n_crypto; c++) {
		for (lane = 0; lane < BX_LANE_COUNT; lane++) {
			uint16_t k = g.n[c][lane], ok, evicted = 0;

			if (k == 0)
				continue;
			ok = bx_lanes_enqueue(w->crypto_w[c]->lanes,
					      (enum bx_wire_lane)lane,
					      g.pkts[c][lane], k, &evicted);
			/* Critical takes everything and frees the oldest. */
			if (evicted != 0)
				bx_stats_tx_drop(st, lane_full[lane], evicted);
			for (i = ok; i < k; i++)
				drop_tx(st, lane_full[lane], g.pkts[c][lane][i]);
		}
	}
}

/* Hands mesh datagrams to the crypto worker of their peer. */
static void
dispatch_ingress(struct app_worker *w, struct bx_stats_lcore *st,
		 const struct bx_peer_table *t, struct rte_mbuf *pkts[],
		 uint16_t n)
{
	struct rte_mbuf *g[APP_MAX_CRYPTO][APP_BURST];
	uint16_t cnt[APP_MAX_CRYPTO] = { 0 };
	unsigned c, slot;
	uint16_t i;

	for (i = 0; i < n; i++) {
		const struct bx_peer *p;

		p = bx_peer_lookup_session(t, dg_rx_index(pkts[i]), &slot);
		if (p == NULL) {
			drop_rx(st, BX_DROP_NO_SESSION, pkts[i]);
			continue;
		}
		c = p->index % w->n_crypto;
		g[c][cnt[c]++] = pkts[i];
	}
	for (c = 0; c < w->n_crypto; c++) {
		uint16_t ok;

		if (cnt[c] == 0)
			continue;
		ok = (uint16_t)rte_ring_sp_enqueue_burst(w->crypto_w[c]->ingress,
							 (void **)g[c], cnt[c],
							 NULL);
		for (i = ok; i < cnt[c]; i++)
			drop_rx(st, BX_DROP_INGRESS_FULL, g[c][i]);
	}
}

/* One pass of the pipeline's RX lcore over every queue of every port. */
static unsigned
rx_pass(struct app_worker *w, struct bx_stats_lcore *st,
	const struct bx_peer_table *t)
{
	struct rte_mbuf *pkts[APP_BURST];
	unsigned got = 0, u;
	uint16_t q, n, n_rx;

	for (q = 0; q < w->ports->n_queues; q++) {
		n = inner_rx(w, st, q, pkts, &n_rx);
		dispatch_egress(w, st, t, pkts, n);
		got += n_rx;
		for (u = 0; u < w->ports->n_ul; u++) {
			n = underlay_rx(w, st, u, q, pkts, &n_rx);
			dispatch_ingress(w, st, t, pkts, n);
			got += n_rx;
			got += exception_down(w, st, u, q);
		}
	}
	control_down(w, st);
	return got;
}

/* One pass of a pipeline crypto worker: its lanes, then its datagrams. */
static unsigned
crypto_pass(struct app_worker *w, struct bx_stats_lcore *st,
	    const struct bx_peer_table *t)
{
	struct rte_mbuf *pkts[APP_BURST];
	uint16_t n;
	unsigned got;

	n = bx_lanes_dequeue(w->lanes, pkts, APP_BURST, rte_rdtsc());
	seal_tx(w, st, t, pkts, n);
	got = n;
	n = (uint16_t)rte_ring_sc_dequeue_burst(w->ingress, (void **)pkts,
						APP_BURST, NULL);
	open_tx(w, st, t, pkts, n);
	if (w->paths != NULL)
		probe_scan(w, st, t);
	if (w->bpeer != NULL)
		reorder_scan(w, st, t);
	return got + n;
}

static int
worker_run(struct app_worker *w)
{
	unsigned lcore = rte_lcore_id();
	struct bx_stats_lcore *st = bx_stats_lcore(w->stats, lcore);
	uint32_t idle_us = w->cfg->idle_sleep_us;
	int rc;

	if (st == NULL) {
		w->rc = -EINVAL;
		return w->rc;
	}
	rc = rte_rcu_qsbr_thread_register(w->qsbr, lcore);
	if (rc != 0) {
		w->rc = -rte_errno;
		return w->rc;
	}
	rte_rcu_qsbr_thread_online(w->qsbr, lcore);
	while (__atomic_load_n(w->running, __ATOMIC_RELAXED)) {
		const struct bx_peer_table *t = bx_peer_table_get(w->reg);
		unsigned got;

		switch (w->role) {
		case APP_ROLE_RX:
			got = rx_pass(w, st, t);
			break;
		case APP_ROLE_CRYPTO:
			got = crypto_pass(w, st, t);
			break;
		default:
			got = rtc_pass(w, st, t);
			break;
		}
		rte_rcu_qsbr_quiescent(w->qsbr, lcore);
		if (got == 0 && idle_us > 0)
			rte_delay_us_sleep(idle_us);
	}
	if (w->bpeer != NULL)
		reorder_release_all(w, st);
	rte_rcu_qsbr_thread_offline(w->qsbr, lcore);
	rte_rcu_qsbr_thread_unregister(w->qsbr, lcore);
	return 0;
}

int
app_worker_main(void *arg)
{
	struct app_worker *w = arg;
	int rc = worker_run(w);

	__atomic_store_n(&w->exited, true, __ATOMIC_RELEASE);
	return rc;
}

/* Ingress lane sizes for @replay_window (APP_RTC_*). */
static void
in_lane_sizes(uint32_t replay_window, uint32_t size[BX_LANE_COUNT])
{
	uint32_t cap = replay_window / APP_RTC_IN_WINDOW_DIV;

	size[BX_LANE_CRITICAL] = RTE_MIN(APP_RTC_LANE, cap);
	size[BX_LANE_TELEMETRY] = RTE_MIN(APP_RTC_LANE, cap);
	size[BX_LANE_BULK] = APP_RTC_LANE;
}

int
app_worker_lanes_init(struct app_worker *w, const char *name, int socket,
		      uint32_t replay_window, char *err, size_t errlen)
{
	struct bx_lanes_conf lc;
	char ring[BX_LANES_NAME_MAX + 1];

	memset(&lc, 0, sizeof(lc));
	lc.socket_id = socket;
	lc.name = ring;
	snprintf(ring, sizeof(ring), "o%s", name);
	lc.size[BX_LANE_CRITICAL] = APP_RTC_LANE;
	lc.size[BX_LANE_TELEMETRY] = APP_RTC_LANE;
	lc.size[BX_LANE_BULK] = APP_RTC_LANE;
	w->lanes = bx_lanes_create(&lc);
	if (w->lanes == NULL)
		goto fail;
	snprintf(ring, sizeof(ring), "i%s", name);
	in_lane_sizes(replay_window, lc.size);
	w->in_lanes = bx_lanes_create(&lc);
	if (w->in_lanes == NULL)
		goto fail;
	w->out_held = w->in_held = 0;
	w->out_over_tsc = w->in_over_tsc = 0;
	w->out_standing = w->in_standing = false;
	w->overload_tsc = rte_get_tsc_hz() / 1000000u * RTC_OVERLOAD_US;
	return 0;
fail:
	snprintf(err, errlen, "lane rings %s: %s", ring, rte_strerror(rte_errno));
	return -(rte_errno != 0 ? rte_errno : ENOMEM);
}

void
app_worker_lanes_free(struct app_worker *w)
{
	bx_lanes_free(w->lanes);
	bx_lanes_free(w->in_lanes);
	w->lanes = w->in_lanes = NULL;
	w->out_held = w->in_held = 0;
}

unsigned
app_worker_lanes_mbufs(uint32_t replay_window)
{
	uint32_t in[BX_LANE_COUNT];

	in_lane_sizes(replay_window, in);
	return BX_LANE_COUNT * APP_RTC_LANE + in[BX_LANE_CRITICAL] +
	       in[BX_LANE_TELEMETRY] + in[BX_LANE_BULK];
}
