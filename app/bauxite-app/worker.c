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

/* What seal_tx needs to build a packet's outer headers after sealing. */
struct tx_meta {
	const struct bx_peer *peer;
	uint64_t nh; /* APP_NH_VALID | next-hop MAC */
	bool copy;   /* Critical under duplication: send it more than once */
};

/* What open_tx needs after opening. */
struct rx_meta {
	const struct bx_peer *peer;
	struct app_session *sess;
	uint64_t counter;
	uint8_t type;  /* enum bx_wire_type: data or probe */
	uint8_t flags;
};

/* The lane classify chose, carried in the mbuf to seal_tx (the hash field
 * is the PMD's on receive only). */
#define MBUF_LANE(m) ((m)->hash.usr)

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
peer_count_tx(struct app_worker *w, uint32_t idx, uint32_t len)
{
	struct app_peer_ctr *c = &w->peer_ctr[idx];

	__atomic_store_n(&c->tx_packets, c->tx_packets + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&c->tx_bytes, c->tx_bytes + len, __ATOMIC_RELAXED);
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

/* Copies of each Critical packet at most (config: critical_copies). */
#define COPIES_MAX 4u
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

/*
 * Classified inner frames -> sealed mesh datagrams out on the underlay
 * (this lcore's TX queue). Peers and sessions come from @t. With the
 * safety layer: nothing while severed or on probation, Bulk under the
 * intent's bucket, each Critical packet @copies times (the same bytes:
 * the receiver's replay window keeps the first).
 */
static void
seal_tx(struct app_worker *w, struct bx_stats_lcore *st,
	const struct bx_peer_table *t, struct rte_mbuf *pkts[], uint16_t n)
{
	const struct app_ports *ports = w->ports;
	const struct app_safety_shared *sf = w->safety;
	struct rte_mbuf *seal[APP_BURST], *sealed_in[APP_BURST];
	struct rte_mbuf *out[APP_BURST * COPIES_MAX];
	const struct bx_crypto_key *keys[APP_BURST];
	struct tx_meta meta[APP_BURST];
	uint8_t cwhy[APP_BURST];
	struct bx_wire_outer o;
	uint16_t i, j, n_seal = 0, good, n_out, sent;
	uint32_t out_peer[APP_BURST * COPIES_MAX];
	uint32_t copies = 1, bulk_kbps = 0;
	bool congested = false;
	uint64_t bytes = 0, now = 0;

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
		uint64_t nh;
		void *hdr;

		if (ih == NULL)
			continue;
		p = bx_peer_lookup_dst(t, ih->dst_addr);
		if (p == NULL) {
			drop_tx(st, BX_DROP_NO_PEER, m);
			continue;
		}
		if (BX_UNLIKELY(!owns_peer(w, p))) {
			drop_tx(st, BX_DROP_PEER_MOVED, m);
			continue;
		}
		s = send_session(p);
		if (s == NULL) {
			drop_tx(st, BX_DROP_NO_SESSION, m);
			continue;
		}
		nh = p->index < w->n_slots ?
			     __atomic_load_n(&w->nexthop[p->index], __ATOMIC_ACQUIRE) :
			     0;
		if ((nh & APP_NH_VALID) == 0 || p->endpoint_ip == 0) {
			drop_tx(st, BX_DROP_NO_PATH, m);
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
		if (rte_pktmbuf_pkt_len(m) > ETH_LEN + ip_len)
			rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_pkt_len(m) -
						       ETH_LEN - ip_len));
		rte_pktmbuf_adj(m, ETH_LEN);
		hdr = rte_pktmbuf_prepend(m, BX_WIRE_HDR_LEN);
		if (hdr == NULL) {
			drop_tx(st, BX_DROP_CRYPTO_NO_ROOM, m);
			continue;
		}
		info.type = BX_WIRE_DATA;
		/* Copies carry the flag in the sealed header, so the receiver
		 * counts the later ones as duplicates, not as replays. */
		info.flags = copies > 1 && MBUF_LANE(m) == BX_LANE_CRITICAL ?
				     BX_WIRE_F_DUPLICATE : 0;
		info.lane = (uint8_t)MBUF_LANE(m);
		info.path_id = 0;
		info.rx_index = s->tx_index;
		/* Only the worker that owns this peer ever sends to it. */
		info.counter = s->tx_counter;
		if (BX_UNLIKELY(info.counter >= s->tx_limit)) {
			drop_tx(st, BX_DROP_SESSION_EXHAUSTED, m);
			continue;
		}
		__atomic_store_n(&s->tx_counter, info.counter + 1,
				 __ATOMIC_RELAXED);
		bx_wire_encode(hdr, &info);
		keys[n_seal] = s->tx_key;
		meta[n_seal].peer = p;
		meta[n_seal].nh = nh;
		meta[n_seal].copy = info.flags != 0;
		seal[n_seal++] = m;
	}
	if (n_seal == 0)
		return;

	memcpy(sealed_in, seal, n_seal * sizeof(seal[0]));
	good = bx_crypto_seal_burst(w->crypto, keys, seal, n_seal, 0, cwhy);
	for (i = good; i < n_seal; i++)
		drop_tx(st, (enum bx_drop_reason)cwhy[i], seal[i]);

	memset(&o, 0, sizeof(o));
	o.src_mac = ports->underlay_mac;
	o.src_ip = w->cfg->underlay.address.addr;
	o.src_port = rte_cpu_to_be_16(w->cfg->mesh_port);
	n_out = 0;
	/* Sealed packets keep their order: find each one's meta again. */
	for (i = 0, j = 0; i < good; i++, j++) {
		struct rte_mbuf *m = seal[i];
		int rc;

		while (sealed_in[j] != m)
			j++;
		mac_unpack(meta[j].nh, &o.dst_mac);
		o.dst_ip = meta[j].peer->endpoint_ip;
		o.dst_port = meta[j].peer->endpoint_port;
		if (meta[j].peer->relay_handle != 0) {
			void *rh = rte_pktmbuf_prepend(m, BX_RELAY_FORWARD_OVERHEAD);

			if (rh == NULL) {
				drop_tx(st, BX_DROP_CRYPTO_NO_ROOM, m);
				continue;
			}
			bx_relay_forward_hdr(rh, meta[j].peer->relay_handle);
		}
		rc = bx_wire_outer_prepend(m, &o, BX_WIRE_CSUM_IP_ONLY);
		if (rc != 0) {
			drop_tx(st, rc == -ENOSPC ? BX_DROP_CRYPTO_NO_ROOM :
						    BX_DROP_IP_BAD_LEN, m);
			continue;
		}
		out_peer[n_out] = meta[j].peer->index;
		out[n_out++] = m;
		if (meta[j].copy) {
			/* The very same frame again: one more reference, which
			 * the port frees like the first. */
			unsigned c;

			rte_mbuf_refcnt_update(m, (int16_t)(copies - 1));
			for (c = 1; c < copies; c++) {
				out_peer[n_out] = meta[j].peer->index;
				out[n_out++] = m;
			}
			bx_stats_add(st, BX_STAT_CRITICAL_COPIES, copies - 1);
		}
	}
	sent = send_burst(ports->underlay, w->txq, out, n_out);
	for (i = 0; i < sent; i++) {
		uint32_t len = rte_pktmbuf_pkt_len(out[i]);

		bytes += len;
		peer_count_tx(w, out_peer[i], len);
	}
	bx_stats_add(st, BX_STAT_TX_PACKETS, sent);
	bx_stats_add(st, BX_STAT_TX_BYTES, bytes);
	for (i = sent; i < n_out; i++)
		drop_tx(st, BX_DROP_TX_PORT_FULL, out[i]);
}

/*
 * Classifies one underlay frame: BX_DROP_NONE with *@mesh set for a mesh
 * datagram to us (then *@v describes it), BX_DROP_NONE with *@mesh clear
 * for the kernel, or a drop reason for a broken IPv4/UDP frame.
 */
static enum bx_drop_reason
underlay_sort(const struct app_worker *w, struct rte_mbuf *m,
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
	*mesh = v->dst_ip == w->cfg->underlay.address.addr &&
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
 * Receives a burst from underlay queue @q. Frames that are not mesh data
 * for us go up the exception TAP (this lcore's TX queue), broken ones are
 * dropped. Returns how many mesh data datagrams are left in dg[], each
 * mbuf trimmed to exactly the datagram (header, ciphertext, tag) and its
 * header valid; *@n_rx is how many frames arrived.
 */
static uint16_t
underlay_rx(struct app_worker *w, struct bx_stats_lcore *st, uint16_t q,
	    struct rte_mbuf *dg[], uint16_t *n_rx)
{
	const struct app_ports *ports = w->ports;
	const struct bx_relay_table *relay = NULL;
	struct rte_mbuf *rx[APP_BURST], *exc[APP_BURST], *fwd[APP_BURST];
	uint16_t n, i, n_exc = 0, n_dg = 0, n_fwd = 0, sent;
	uint64_t bytes = 0, now_ms = 0;

	n = rte_eth_rx_burst(ports->underlay, q, rx, APP_BURST);
	*n_rx = n;
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(rx[i]);
	bx_stats_add(st, BX_STAT_RX_PACKETS, n);
	bx_stats_add(st, BX_STAT_RX_BYTES, bytes);
	if (w->stunmux != NULL)
		now_ms = tsc_ms();
	if (w->relay_table != NULL)
		relay = __atomic_load_n(w->relay_table, __ATOMIC_ACQUIRE);

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = rx[i];
		struct bx_wire_udp_view v;
		struct bx_wire_info info;
		enum bx_drop_reason r;
		bool mesh;

		r = underlay_sort(w, m, &v, &mesh);
		if (r != BX_DROP_NONE) {
			drop_rx(st, r, m);
			continue;
		}
		if (!mesh) {
			if (stun_in(w, st, m, now_ms))
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

	sent = send_burst(ports->exception, w->txq, exc, n_exc);
	bx_stats_add(st, BX_STAT_EXCEPTION_RX_PACKETS, sent);
	for (i = sent; i < n_exc; i++)
		drop_rx(st, BX_DROP_EXCEPTION_FULL, exc[i]);
	if (n_fwd > 0) {
		bytes = 0;
		sent = send_burst(ports->underlay, w->txq, fwd, n_fwd);
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

static inline uint64_t
tsc_ns(const struct app_worker *w)
{
	return (uint64_t)((double)rte_rdtsc() * w->ns_per_tsc);
}

/* This lcore's probe state for @p, started over when the control lcore
 * says so (a new peer at the index, a severance). */
static struct bx_probe_path *
probe_path(struct app_worker *w, const struct bx_peer *p)
{
	const struct app_safety_shared *sf = w->safety;
	uint32_t gen = __atomic_load_n(&sf->probe_gen[p->index], __ATOMIC_ACQUIRE);

	if (BX_UNLIKELY(w->probe_gen_seen[p->index] != gen)) {
		bx_probe_init(&w->probe[p->index], &sf->probe_conf);
		__atomic_store_n(&w->probe_gen_seen[p->index], gen, __ATOMIC_RELEASE);
	}
	return &w->probe[p->index];
}

/*
 * A probe or an echo that opened (header and 16-byte body in @m). An
 * echo updates the path's measurements and is freed; a probe becomes our
 * echo of it, sealed again by echo_tx: returns true then.
 */
static bool
probe_in(struct app_worker *w, struct bx_stats_lcore *st,
	 const struct bx_peer *p, uint8_t flags, struct rte_mbuf *m,
	 uint64_t now_ns)
{
	const uint8_t *body = rte_pktmbuf_mtod_offset(m, const uint8_t *,
						      BX_WIRE_HDR_LEN);
	size_t len = rte_pktmbuf_data_len(m) - BX_WIRE_HDR_LEN;
	enum bx_drop_reason r;

	/* Without the safety layer we send no probes, but we echo the
	 * peers' (their monitor needs us to). */
	if (flags & BX_WIRE_F_ECHO)
		r = w->safety != NULL ?
			    bx_probe_on_echo(probe_path(w, p), body, len, now_ns) :
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
 * counter, then the plaintext) for their peers along their paths and
 * sends them, counted under @stat. For probes and echoes: the control
 * lcore's keepalives aside, only the lcore that owns a peer sends to it,
 * so its counter is this lcore's to take.
 */
static void
ctl_seal_tx(struct app_worker *w, struct bx_stats_lcore *st,
	    struct rte_mbuf *pkts[], const struct bx_peer *peers[], uint16_t n,
	    enum bx_stat_id stat)
{
	const struct bx_crypto_key *keys[APP_BURST];
	const struct bx_peer *meta[APP_BURST];
	struct rte_mbuf *seal[APP_BURST], *in[APP_BURST];
	uint32_t out_peer[APP_BURST];
	uint8_t cwhy[APP_BURST];
	struct bx_wire_outer o;
	uint16_t i, j, k = 0, good, sent;
	uint64_t bytes = 0;

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
		meta[k] = peers[i];
		seal[k++] = pkts[i];
	}
	if (k == 0)
		return;
	memcpy(in, seal, k * sizeof(seal[0]));
	good = bx_crypto_seal_burst(w->crypto, keys, seal, k, 0, cwhy);
	for (i = good; i < k; i++)
		drop_tx(st, (enum bx_drop_reason)cwhy[i], seal[i]);
	memset(&o, 0, sizeof(o));
	o.src_mac = w->ports->underlay_mac;
	o.src_ip = w->cfg->underlay.address.addr;
	o.src_port = rte_cpu_to_be_16(w->cfg->mesh_port);
	for (i = 0, j = 0, n = 0; i < good; i++, j++) {
		struct rte_mbuf *m = seal[i];
		const struct bx_peer *p;
		uint64_t nh;

		while (in[j] != m)
			j++;
		p = meta[j];
		nh = __atomic_load_n(&w->nexthop[p->index], __ATOMIC_ACQUIRE);
		if ((nh & APP_NH_VALID) == 0 || p->endpoint_ip == 0) {
			drop_tx(st, BX_DROP_NO_PATH, m);
			continue;
		}
		if (p->relay_handle != 0) {
			void *rh = rte_pktmbuf_prepend(m, BX_RELAY_FORWARD_OVERHEAD);

			if (rh == NULL) {
				drop_tx(st, BX_DROP_CRYPTO_NO_ROOM, m);
				continue;
			}
			bx_relay_forward_hdr(rh, p->relay_handle);
		}
		mac_unpack(nh, &o.dst_mac);
		o.dst_ip = p->endpoint_ip;
		o.dst_port = p->endpoint_port;
		if (bx_wire_outer_prepend(m, &o, BX_WIRE_CSUM_IP_ONLY) != 0) {
			drop_tx(st, BX_DROP_CRYPTO_NO_ROOM, m);
			continue;
		}
		out_peer[n] = p->index;
		seal[n++] = m;
	}
	sent = send_burst(w->ports->underlay, w->txq, seal, n);
	for (i = 0; i < sent; i++) {
		bytes += rte_pktmbuf_pkt_len(seal[i]);
		peer_count_tx(w, out_peer[i], rte_pktmbuf_pkt_len(seal[i]));
	}
	bx_stats_add(st, BX_STAT_TX_PACKETS, sent);
	bx_stats_add(st, BX_STAT_TX_BYTES, bytes);
	bx_stats_add(st, stat, sent);
	for (i = sent; i < n; i++)
		drop_tx(st, BX_DROP_TX_PORT_FULL, seal[i]);
}

/* Our echoes of the peers' probes: the same body back, flagged. */
static void
echo_tx(struct app_worker *w, struct bx_stats_lcore *st,
	const struct bx_peer_table *t, struct rte_mbuf *pkts[], uint16_t n)
{
	const struct bx_peer *peers[APP_BURST];
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
		h->flags = BX_WIRE_F_ECHO;
		peers[k] = p;
		pkts[k++] = pkts[i];
	}
	ctl_seal_tx(w, st, pkts, peers, k, BX_STAT_PROBE_ECHO_TX);
}

/*
 * Every few ms: a probe on each path due for one, to every peer this
 * lcore owns that has a session (the probes are sealed like data).
 */
static void
probe_scan(struct app_worker *w, struct bx_stats_lcore *st,
	   const struct bx_peer_table *t)
{
	const struct app_safety_shared *sf = w->safety;
	struct rte_mbuf *pkts[APP_BURST];
	const struct bx_peer *peers[APP_BURST];
	uint64_t tsc = rte_rdtsc(), now_ns;
	uint32_t idx, cap = bx_peer_table_capacity(t);
	uint16_t n = 0;

	if (tsc < w->next_probe_tsc)
		return;
	/* A tenth of the interval: probes go out at most that late. */
	w->next_probe_tsc = tsc + sf->probe_interval_tsc / 10u;
	now_ns = tsc_ns(w);
	for (idx = 0; idx < cap && idx < w->n_slots; idx++) {
		const struct bx_peer *p = bx_peer_table_at(t, idx);
		struct bx_probe_path *pp;
		struct bx_wire_info info;
		struct rte_mbuf *m;
		uint8_t *d;

		if (p == NULL || !owns_peer(w, p) || send_session(p) == NULL)
			continue;
		pp = probe_path(w, p);
		bx_probe_tick(pp, now_ns);
		if (!bx_probe_due(pp, now_ns))
			continue;
		m = rte_pktmbuf_alloc(w->ports->pool);
		d = m != NULL ? (uint8_t *)rte_pktmbuf_append(m, BX_WIRE_HDR_LEN +
							      BX_PROBE_BODY_LEN) : NULL;
		if (d == NULL) {
			rte_pktmbuf_free(m);
			bx_stats_tx_drop(st, BX_DROP_CTL_TX_FULL, 1);
			continue;
		}
		memset(&info, 0, sizeof(info));
		info.type = BX_WIRE_PROBE;
		info.lane = BX_LANE_CRITICAL;
		bx_wire_encode(d, &info);
		bx_probe_next(pp, now_ns, d + BX_WIRE_HDR_LEN);
		peers[n] = p;
		pkts[n++] = m;
		if (n == APP_BURST) {
			ctl_seal_tx(w, st, pkts, peers, n, BX_STAT_PROBE_TX);
			n = 0;
		}
	}
	ctl_seal_tx(w, st, pkts, peers, n, BX_STAT_PROBE_TX);
}

/*
 * Mesh data datagrams (as underlay_rx leaves them) -> replay pre-check ->
 * open -> replay commit -> source check -> inner TAP (this lcore's queue).
 */
static void
open_tx(struct app_worker *w, struct bx_stats_lcore *st,
	const struct bx_peer_table *t, struct rte_mbuf *pkts[], uint16_t n)
{
	const struct app_ports *ports = w->ports;
	struct rte_mbuf *open[APP_BURST], *open_in[APP_BURST], *out[APP_BURST];
	struct rte_mbuf *ask[APP_BURST], *echo[APP_BURST];
	const struct bx_crypto_key *keys[APP_BURST];
	struct rx_meta meta[APP_BURST];
	uint8_t cwhy[APP_BURST];
	uint16_t i, j, n_open = 0, n_out = 0, n_ask = 0, n_echo = 0, good, sent;
	uint64_t now = w->lan != NULL ? rte_rdtsc() : 0, lan_mac = 0, now_ns = 0;
	bool block = false;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const struct bx_wire_hdr *h =
			rte_pktmbuf_mtod(m, const struct bx_wire_hdr *);
		const struct bx_peer *p;
		struct app_session *s;
		enum bx_drop_reason r;
		uint64_t counter;
		unsigned slot;

		p = bx_peer_lookup_session(t, dg_rx_index(m), &slot);
		s = p != NULL ? p->sessions[slot].ctx : NULL;
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
		open[n_open++] = m;
	}
	if (n_open == 0)
		return;
	if (w->safety != NULL) {
		block = __atomic_load_n(&w->safety->block, __ATOMIC_RELAXED) != 0;
		now_ns = tsc_ns(w);
	}

	memcpy(open_in, open, n_open * sizeof(open[0]));
	good = bx_crypto_open_burst(w->crypto, keys, open, n_open, 0, cwhy);
	for (i = good; i < n_open; i++)
		drop_rx(st, (enum bx_drop_reason)cwhy[i], open[i]);

	for (i = 0, j = 0; i < good; i++, j++) {
		struct rte_mbuf *m = open[i];
		const struct rte_ipv4_hdr *ih;
		struct rte_ether_hdr *eh;
		enum bx_drop_reason r;

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
			if (probe_in(w, st, meta[j].peer, meta[j].flags, m, now_ns))
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
		if (rte_pktmbuf_data_len(m) < IPV4_MIN_LEN) {
			drop_rx(st, BX_DROP_CLASSIFY_TRUNCATED, m);
			continue;
		}
		ih = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
		if ((ih->version_ihl >> 4) != IPV4_VERSION) {
			drop_rx(st, BX_DROP_CLASSIFY_NOT_IP, m);
			continue;
		}
		if (!bx_peer_src_allowed(t, meta[j].peer, ih->src_addr)) {
			drop_rx(st, BX_DROP_SRC_NOT_ALLOWED, m);
			continue;
		}
		if (ports->gateway) {
			lan_mac = lan_lookup(w, ih->dst_addr, now);
			if ((lan_mac & APP_NH_VALID) == 0) {
				bx_stats_rx_drop(st, BX_DROP_NO_PATH, 1);
				if (lan_mac == LAN_ASK) {
					lan_arp_request(w, m, ih->dst_addr);
					ask[n_ask++] = m;
				} else {
					rte_pktmbuf_free(m);
				}
				continue;
			}
		}
		eh = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, ETH_LEN);
		if (eh == NULL) {
			drop_rx(st, BX_DROP_CRYPTO_NO_ROOM, m);
			continue;
		}
		if (ports->gateway) {
			mac_unpack(lan_mac, &eh->dst_addr);
			eh->src_addr = ports->inner_mac;
		} else {
			eh->dst_addr = ports->inner_kernel_mac;
			eh->src_addr = proxy_mac;
		}
		eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
		out[n_out++] = m;
	}
	sent = send_burst(ports->inner, w->txq, out, n_out);
	bx_stats_add(st, BX_STAT_INNER_TX_PACKETS, sent);
	for (i = sent; i < n_out; i++)
		drop_rx(st, BX_DROP_TX_PORT_FULL, out[i]);
	/* The packets behind these requests are counted as no_path already. */
	sent = send_burst(ports->inner, w->txq, ask, n_ask);
	bx_stats_add(st, BX_STAT_ARP_REQUESTS, sent);
	if (sent < n_ask)
		rte_pktmbuf_free_bulk(&ask[sent], n_ask - sent);
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

/* What the kernel sends on exception queue @q goes out (an ICE agent's
 * STUN from the mesh port). */
static uint16_t
exception_down(struct app_worker *w, struct bx_stats_lcore *st, uint16_t q)
{
	struct rte_mbuf *pkts[APP_BURST];
	uint16_t got, n, i, sent;

	got = n = rte_eth_rx_burst(w->ports->exception, q, pkts, APP_BURST);
	if (n == 0)
		return 0;
	/* An ICE agent's STUN leaves from the mesh port, as the fast path's
	 * datagrams do: one 5-tuple per node on the wire. */
	if (w->stunmux != NULL)
		n = stun_out(w, st, pkts, n);
	sent = send_burst(w->ports->underlay, w->txq, pkts, n);
	bx_stats_add(st, BX_STAT_EXCEPTION_TX_PACKETS, sent);
	for (i = sent; i < n; i++)
		drop_tx(st, BX_DROP_TX_PORT_FULL, pkts[i]);
	return got;
}

/* Frames the control lcore made (handshakes, keepalives) go out. */
static void
control_down(struct app_worker *w, struct bx_stats_lcore *st)
{
	struct rte_mbuf *pkts[APP_BURST];
	uint16_t n, i, sent;
	uint64_t bytes = 0;

	n = (uint16_t)rte_ring_sc_dequeue_burst(w->ctl_tx, (void **)pkts,
						APP_BURST, NULL);
	if (n == 0)
		return;
	sent = send_burst(w->ports->underlay, w->txq, pkts, n);
	for (i = 0; i < sent; i++)
		bytes += rte_pktmbuf_pkt_len(pkts[i]);
	bx_stats_add(st, BX_STAT_TX_PACKETS, sent);
	bx_stats_add(st, BX_STAT_TX_BYTES, bytes);
	for (i = sent; i < n; i++)
		drop_tx(st, BX_DROP_TX_PORT_FULL, pkts[i]);
}

/* One pass of the run-to-completion worker; returns frames received. */
static unsigned
rtc_pass(struct app_worker *w, struct bx_stats_lcore *st,
	 const struct bx_peer_table *t)
{
	struct rte_mbuf *pkts[APP_BURST];
	uint16_t n, n_rx;
	unsigned got;

	n = inner_rx(w, st, 0, pkts, &n_rx);
	seal_tx(w, st, t, pkts, n);
	got = n_rx;
	n = underlay_rx(w, st, 0, pkts, &n_rx);
	open_tx(w, st, t, pkts, n);
	got += n_rx;
	control_down(w, st);
	if (w->safety != NULL)
		probe_scan(w, st, t);
	return got + exception_down(w, st, 0);
}

/* Egress packets of one RX burst, grouped by crypto worker and lane. */
struct egress_groups {
	struct rte_mbuf *pkts[APP_MAX_CRYPTO][BX_LANE_COUNT][APP_BURST];
	uint16_t n[APP_MAX_CRYPTO][BX_LANE_COUNT];
};

static const enum bx_drop_reason lane_full[BX_LANE_COUNT] = {
	[BX_LANE_CRITICAL] = BX_DROP_LANE_CRITICAL_EVICTED,
	[BX_LANE_TELEMETRY] = BX_DROP_LANE_TELEMETRY_FULL,
	[BX_LANE_BULK] = BX_DROP_LANE_BULK_FULL,
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
	unsigned got = 0;
	uint16_t q, n, n_rx;

	for (q = 0; q < w->ports->n_queues; q++) {
		n = inner_rx(w, st, q, pkts, &n_rx);
		dispatch_egress(w, st, t, pkts, n);
		got += n_rx;
		n = underlay_rx(w, st, q, pkts, &n_rx);
		dispatch_ingress(w, st, t, pkts, n);
		got += n_rx;
		got += exception_down(w, st, q);
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
	if (w->safety != NULL)
		probe_scan(w, st, t);
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
