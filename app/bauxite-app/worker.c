/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The run-to-completion worker (one worker lcore, DESIGN §3.2): egress
 * (inner TAP -> classify -> peer -> seal -> underlay), ingress (underlay ->
 * mesh datagram -> replay -> open -> source check -> inner TAP, everything
 * else up the exception TAP) and the exception path down (exception TAP ->
 * underlay), in one loop. No locks, no allocation, no logging: every packet
 * that does not leave is counted under its drop reason and freed.
 */
#include <errno.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "app.h"
#include "bx_wire.h"

#define ETH_LEN ((uint16_t)sizeof(struct rte_ether_hdr))
#define IPV4_MIN_LEN ((uint16_t)sizeof(struct rte_ipv4_hdr))
#define IPV4_VERSION 4u

static const struct rte_ether_addr proxy_mac = { .addr_bytes = APP_PROXY_MAC };

/* What egress needs to build a packet's outer headers after sealing. */
struct tx_meta {
	const struct bx_peer *peer;
	uint64_t nh; /* APP_NH_VALID | next-hop MAC */
};

/* What ingress needs after opening. */
struct rx_meta {
	const struct bx_peer *peer;
	struct app_session *sess;
	uint64_t counter;
};

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

/* Sends @n frames on queue 0 of @port; returns how many the port took and
 * leaves the rest in pkts[sent..n) for the caller to count and free. */
static inline uint16_t
send_burst(uint16_t port, struct rte_mbuf *pkts[], uint16_t n)
{
	return n ? rte_eth_tx_burst(port, 0, pkts, n) : 0;
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
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(eh + 1);
	struct rte_arp_ipv4 *d = &ah->arp_data;
	rte_be32_t tip;

	if (rte_pktmbuf_data_len(m) < ETH_LEN + sizeof(*ah) ||
	    ah->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
	    ah->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
	    ah->arp_hlen != RTE_ETHER_ADDR_LEN || ah->arp_plen != 4 ||
	    ah->arp_opcode != RTE_BE16(RTE_ARP_OP_REQUEST))
		return false;
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

/* Inner port -> mesh. Returns the number of frames received. */
static uint16_t
egress(struct app_worker *w, struct bx_stats_lcore *st,
       const struct bx_peer_table *t)
{
	const struct app_ports *ports = w->ports;
	struct rte_mbuf *rx[APP_BURST], *ip[APP_BURST], *arp[APP_BURST];
	struct rte_mbuf *seal[APP_BURST], *sealed_in[APP_BURST];
	const struct bx_crypto_key *keys[APP_BURST];
	struct tx_meta meta[APP_BURST];
	enum bx_wire_lane lane[APP_BURST];
	enum bx_drop_reason why[APP_BURST];
	uint8_t cwhy[APP_BURST];
	struct bx_wire_outer o;
	uint16_t n, i, j, k, n_ip = 0, n_arp = 0, n_seal = 0, good, n_out, sent;
	uint64_t bytes = 0;

	n = rte_eth_rx_burst(ports->inner, 0, rx, APP_BURST);
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
		if (eh->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4))
			ip[n_ip++] = m;
		else if (eh->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP) &&
			 proxy_arp(w, m))
			arp[n_arp++] = m;
		else /* the mesh carries IPv4 only */
			drop_tx(st, BX_DROP_INNER_NOT_IPV4, m);
	}
	sent = send_burst(ports->inner, arp, n_arp);
	for (i = sent; i < n_arp; i++)
		drop_tx(st, BX_DROP_TX_PORT_FULL, arp[i]);
	if (n_ip == 0)
		return n;

	k = bx_classify_process(w->cfg->rules, ip, n_ip, ETH_LEN, lane, why);
	for (i = k; i < n_ip; i++)
		drop_tx(st, why[i], ip[i]);

	for (i = 0; i < k; i++) {
		struct rte_mbuf *m = ip[i];
		const struct rte_ipv4_hdr *ih;
		const struct bx_peer *p;
		struct app_session *s;
		struct bx_wire_info info;
		uint32_t ip_len;
		uint64_t nh;
		void *hdr;

		/* The classifier read the header; crypto wants one segment. */
		if (m->nb_segs != 1 ||
		    rte_pktmbuf_data_len(m) < ETH_LEN + IPV4_MIN_LEN) {
			drop_tx(st, BX_DROP_CRYPTO_SEGMENTED, m);
			continue;
		}
		ih = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *,
					     ETH_LEN);
		p = bx_peer_lookup_dst(t, ih->dst_addr);
		if (p == NULL) {
			drop_tx(st, BX_DROP_NO_PEER, m);
			continue;
		}
		s = p->sessions[BX_PEER_SESSION_CURRENT].ctx;
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
		info.flags = 0;
		info.lane = (uint8_t)lane[i];
		info.path_id = 0;
		info.rx_index = s->tx_index;
		info.counter = w->tx_counter[p->index]++;
		bx_wire_encode(hdr, &info);
		keys[n_seal] = s->tx_key;
		meta[n_seal].peer = p;
		meta[n_seal].nh = nh;
		seal[n_seal++] = m;
	}
	if (n_seal == 0)
		return n;

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
		rc = bx_wire_outer_prepend(m, &o, false);
		if (rc != 0) {
			drop_tx(st, rc == -ENOSPC ? BX_DROP_CRYPTO_NO_ROOM :
						    BX_DROP_IP_BAD_LEN, m);
			continue;
		}
		seal[n_out++] = m;
	}
	sent = send_burst(ports->underlay, seal, n_out);
	for (i = 0; i < sent; i++)
		bytes += rte_pktmbuf_pkt_len(seal[i]);
	bx_stats_add(st, BX_STAT_TX_PACKETS, sent);
	bx_stats_add(st, BX_STAT_TX_BYTES, bytes);
	for (i = sent; i < n_out; i++)
		drop_tx(st, BX_DROP_TX_PORT_FULL, seal[i]);
	return n;
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

/* Underlay -> inner port or exception TAP. Returns frames received. */
static uint16_t
ingress(struct app_worker *w, struct bx_stats_lcore *st,
	const struct bx_peer_table *t)
{
	const struct app_ports *ports = w->ports;
	struct rte_mbuf *rx[APP_BURST], *exc[APP_BURST], *open[APP_BURST];
	struct rte_mbuf *open_in[APP_BURST], *out[APP_BURST];
	const struct bx_crypto_key *keys[APP_BURST];
	struct rx_meta meta[APP_BURST];
	uint8_t cwhy[APP_BURST];
	uint16_t n, i, j, n_exc = 0, n_open = 0, n_out = 0, good, sent;
	uint64_t bytes = 0;

	n = rte_eth_rx_burst(ports->underlay, 0, rx, APP_BURST);
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(rx[i]);
	bx_stats_add(st, BX_STAT_RX_PACKETS, n);
	bx_stats_add(st, BX_STAT_RX_BYTES, bytes);

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = rx[i];
		struct bx_wire_udp_view v;
		struct bx_wire_info info;
		const struct bx_peer *p;
		struct app_session *s;
		enum bx_drop_reason r;
		unsigned slot;
		bool mesh;

		r = underlay_sort(w, m, &v, &mesh);
		if (r != BX_DROP_NONE) {
			drop_rx(st, r, m);
			continue;
		}
		if (!mesh) {
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
		/* Handshakes, probes and relaying arrive with later issues;
		 * until then they are well-formed but not handled here. */
		if (info.type != BX_WIRE_DATA) {
			drop_rx(st, BX_DROP_MSG_UNHANDLED, m);
			continue;
		}
		p = bx_peer_lookup_session(t, info.rx_index, &slot);
		s = p != NULL ? p->sessions[slot].ctx : NULL;
		if (s == NULL) {
			drop_rx(st, BX_DROP_NO_SESSION, m);
			continue;
		}
		r = bx_replay_check(s->replay, info.counter);
		if (r != BX_DROP_NONE) {
			drop_rx(st, r, m);
			continue;
		}
		/* Keep exactly the mesh datagram: header, ciphertext, tag. */
		rte_pktmbuf_adj(m, v.payload_off);
		if (rte_pktmbuf_pkt_len(m) > v.payload_len)
			rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_pkt_len(m) -
						       v.payload_len));
		keys[n_open] = s->rx_key;
		meta[n_open].peer = p;
		meta[n_open].sess = s;
		meta[n_open].counter = info.counter;
		open[n_open++] = m;
	}

	sent = send_burst(ports->exception, exc, n_exc);
	bx_stats_add(st, BX_STAT_EXCEPTION_RX_PACKETS, sent);
	for (i = sent; i < n_exc; i++)
		drop_rx(st, BX_DROP_EXCEPTION_FULL, exc[i]);
	if (n_open == 0)
		return n;

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
			drop_rx(st, r, m);
			continue;
		}
		rte_pktmbuf_adj(m, BX_WIRE_HDR_LEN);
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
		eh = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, ETH_LEN);
		if (eh == NULL) {
			drop_rx(st, BX_DROP_CRYPTO_NO_ROOM, m);
			continue;
		}
		eh->dst_addr = ports->inner_kernel_mac;
		eh->src_addr = proxy_mac;
		eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
		out[n_out++] = m;
	}
	sent = send_burst(ports->inner, out, n_out);
	bx_stats_add(st, BX_STAT_INNER_TX_PACKETS, sent);
	for (i = sent; i < n_out; i++)
		drop_rx(st, BX_DROP_TX_PORT_FULL, out[i]);
	return n;
}

/* What the kernel sends on the exception TAP goes out unchanged. */
static uint16_t
exception_down(struct app_worker *w, struct bx_stats_lcore *st)
{
	struct rte_mbuf *pkts[APP_BURST];
	uint16_t n, i, sent;

	n = rte_eth_rx_burst(w->ports->exception, 0, pkts, APP_BURST);
	if (n == 0)
		return 0;
	sent = send_burst(w->ports->underlay, pkts, n);
	bx_stats_add(st, BX_STAT_EXCEPTION_TX_PACKETS, sent);
	for (i = sent; i < n; i++)
		drop_tx(st, BX_DROP_TX_PORT_FULL, pkts[i]);
	return n;
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

		got = egress(w, st, t);
		got += ingress(w, st, t);
		got += exception_down(w, st);
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
