/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mesh datagram header and outer Ethernet/IPv4/UDP headers. Every parser
 * here sees bytes straight from the wire: each length is checked before the
 * bytes it covers are read, and multi-byte fields are read through packed
 * structs or memcpy so any buffer alignment is fine.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "bx_common.h"
#include "bx_wire.h"

#define IPV4_VERSION 4u
#define IPV4_VERSION_SHIFT 4
/* A valid ones' complement sum over data that includes its own checksum. */
#define CKSUM_OK 0xffffu
/* Checksum and L3 type requests a previous user of the mbuf may have left. */
#define TX_CKSUM_FLAGS                                                        \
	(RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_IP_CKSUM |   \
	 RTE_MBUF_F_TX_L4_MASK)
#define TX_OFFLOAD_FLAGS                                                      \
	(RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM)

/* Where the per-datagram fields of the outer headers lie in the frame. */
#define IPV4_TOTAL_LEN_OFF (BX_WIRE_ETH_LEN + offsetof(struct rte_ipv4_hdr, total_length))
#define IPV4_CSUM_OFF (BX_WIRE_ETH_LEN + offsetof(struct rte_ipv4_hdr, hdr_checksum))
#define UDP_LEN_OFF                                                           \
	(BX_WIRE_ETH_LEN + BX_WIRE_IPV4_LEN + offsetof(struct rte_udp_hdr, dgram_len))

_Static_assert(sizeof(struct rte_ether_hdr) == BX_WIRE_ETH_LEN, "Ethernet");
_Static_assert(sizeof(struct rte_ipv4_hdr) == BX_WIRE_IPV4_LEN, "IPv4");
_Static_assert(sizeof(struct rte_udp_hdr) == BX_WIRE_UDP_LEN, "UDP");

/*
 * Writes the three headers with both checksums zero. rte_ether_hdr is
 * 2-byte aligned, so the Ethernet fields go through memcpy; the IPv4 and
 * UDP structs are packed and safe at any address.
 */
static void
outer_write(uint8_t *buf, const struct bx_wire_outer *o, uint16_t payload_len)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(buf + BX_WIRE_ETH_LEN);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(buf + BX_WIRE_ETH_LEN +
							 BX_WIRE_IPV4_LEN);
	const rte_be16_t ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);

	memcpy(buf + offsetof(struct rte_ether_hdr, dst_addr), &o->dst_mac,
	       RTE_ETHER_ADDR_LEN);
	memcpy(buf + offsetof(struct rte_ether_hdr, src_addr), &o->src_mac,
	       RTE_ETHER_ADDR_LEN);
	memcpy(buf + offsetof(struct rte_ether_hdr, ether_type), &ether_type,
	       sizeof(ether_type));

	/* ID 0 is fine with DF set: the packet is never reassembled (RFC 6864). */
	*ip = (struct rte_ipv4_hdr){
		.version_ihl = RTE_IPV4_VHL_DEF,
		.total_length = rte_cpu_to_be_16((uint16_t)(BX_WIRE_IPV4_LEN +
							    BX_WIRE_UDP_LEN +
							    payload_len)),
		.packet_id = 0,
		.fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG),
		.time_to_live = o->ttl != 0 ? o->ttl : BX_WIRE_DEFAULT_TTL,
		.next_proto_id = IPPROTO_UDP,
		.hdr_checksum = 0,
		.src_addr = o->src_ip,
		.dst_addr = o->dst_ip,
	};
	*udp = (struct rte_udp_hdr){
		.src_port = o->src_port,
		.dst_port = o->dst_port,
		.dgram_len = rte_cpu_to_be_16((uint16_t)(BX_WIRE_UDP_LEN +
							 payload_len)),
		.dgram_cksum = 0,
	};
}

void
bx_wire_outer_build(void *buf, const struct bx_wire_outer *o,
		    uint16_t payload_len, bool udp_csum)
{
	uint8_t *p = buf;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + BX_WIRE_ETH_LEN);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(p + BX_WIRE_ETH_LEN +
							 BX_WIRE_IPV4_LEN);

	BX_ASSERT_HOT(payload_len <= BX_WIRE_UDP_PAYLOAD_MAX);

	outer_write(p, o, payload_len);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	/* rte_ipv4_udptcp_cksum already turns a computed 0 into 0xffff, since
	 * 0 on the wire means "no checksum" (RFC 768). */
	if (udp_csum)
		udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
}

/*
 * True if the IPv4 header of @ihl_len bytes (a multiple of 4) sums to all
 * ones. 32-bit words into a 64-bit sum, folded: the same ones' complement
 * sum as 16-bit words (the carries only move), in a quarter of the adds
 * rte_raw_cksum's 16-bit loop takes -- this runs on every received frame.
 */
static inline bool
ipv4_csum_ok(const void *ip, size_t ihl_len)
{
	const uint8_t *p = ip;
	uint64_t sum = 0;
	uint32_t w;
	size_t i;

	if (BX_LIKELY(ihl_len == BX_WIRE_IPV4_LEN)) {
		/* No options, the usual case: five words, unrolled. */
		for (i = 0; i < BX_WIRE_IPV4_LEN; i += sizeof(w)) {
			memcpy(&w, p + i, sizeof(w));
			sum += w;
		}
	} else {
		for (i = 0; i < ihl_len; i += sizeof(w)) {
			memcpy(&w, p + i, sizeof(w));
			sum += w;
		}
	}
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return sum == CKSUM_OK;
}

/* Checks the UDP checksum over exactly @udp_len bytes: the IPv4 payload may
 * be longer, and DPDK's helpers would sum those extra bytes too. */
static bool
udp_csum_ok(const struct rte_ipv4_hdr *ip, const struct rte_udp_hdr *udp,
	    uint16_t udp_len)
{
	struct {
		rte_be32_t src;
		rte_be32_t dst;
		uint8_t zero;
		uint8_t proto;
		rte_be16_t len;
	} __attribute__((packed)) ph = {
		.src = ip->src_addr,
		.dst = ip->dst_addr,
		.zero = 0,
		.proto = IPPROTO_UDP,
		.len = rte_cpu_to_be_16(udp_len),
	};
	uint32_t sum;

	sum = (uint32_t)rte_raw_cksum(&ph, sizeof(ph)) +
	      rte_raw_cksum(udp, udp_len);
	sum = (sum & 0xffffu) + (sum >> 16);
	return sum == CKSUM_OK;
}

enum bx_drop_reason
bx_wire_outer_parse(const void *frame, size_t len, bool verify_csum,
		    struct bx_wire_udp_view *v)
{
	const uint8_t *p = frame;
	const struct rte_ipv4_hdr *ip;
	const struct rte_udp_hdr *udp;
	rte_be16_t ether_type;
	size_t avail, ihl_len, ip_len, udp_len;
	uint16_t frag;

	if (BX_UNLIKELY(len < BX_WIRE_ETH_LEN))
		return BX_DROP_ETH_SHORT;
	memcpy(&ether_type, p + offsetof(struct rte_ether_hdr, ether_type),
	       sizeof(ether_type));
	if (BX_UNLIKELY(ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4)))
		return BX_DROP_NOT_IPV4;

	ip = (const struct rte_ipv4_hdr *)(p + BX_WIRE_ETH_LEN);
	avail = len - BX_WIRE_ETH_LEN;
	if (BX_UNLIKELY(avail < BX_WIRE_IPV4_LEN))
		return BX_DROP_IP_SHORT;
	if (BX_UNLIKELY((ip->version_ihl >> IPV4_VERSION_SHIFT) != IPV4_VERSION))
		return BX_DROP_IP_BAD_VERSION;
	ihl_len = rte_ipv4_hdr_len(ip);
	if (BX_UNLIKELY(ihl_len < BX_WIRE_IPV4_LEN))
		return BX_DROP_IP_BAD_IHL;
	if (BX_UNLIKELY(ihl_len > avail))
		return BX_DROP_IP_SHORT;
	/* Bytes past the total length are Ethernet padding and are ignored. */
	ip_len = rte_be_to_cpu_16(ip->total_length);
	if (BX_UNLIKELY(ip_len < ihl_len || ip_len > avail))
		return BX_DROP_IP_BAD_LEN;
	if (verify_csum && BX_UNLIKELY(!ipv4_csum_ok(ip, ihl_len)))
		return BX_DROP_IP_BAD_CSUM;
	frag = rte_be_to_cpu_16(ip->fragment_offset);
	if (BX_UNLIKELY((frag & (RTE_IPV4_HDR_MF_FLAG |
				 RTE_IPV4_HDR_OFFSET_MASK)) != 0))
		return BX_DROP_IP_FRAGMENT;
	if (BX_UNLIKELY(ip->next_proto_id != IPPROTO_UDP))
		return BX_DROP_NOT_UDP;
	if (BX_UNLIKELY(ip_len - ihl_len < BX_WIRE_UDP_LEN))
		return BX_DROP_UDP_SHORT;

	udp = (const struct rte_udp_hdr *)((const uint8_t *)ip + ihl_len);
	udp_len = rte_be_to_cpu_16(udp->dgram_len);
	if (BX_UNLIKELY(udp_len < BX_WIRE_UDP_LEN || udp_len > ip_len - ihl_len))
		return BX_DROP_UDP_BAD_LEN;
	/* A zero UDP checksum means the sender did not compute one. */
	if (verify_csum && udp->dgram_cksum != 0 &&
	    BX_UNLIKELY(!udp_csum_ok(ip, udp, (uint16_t)udp_len)))
		return BX_DROP_UDP_BAD_CSUM;

	memcpy(&v->src_mac, p + offsetof(struct rte_ether_hdr, src_addr),
	       RTE_ETHER_ADDR_LEN);
	v->src_ip = ip->src_addr;
	v->dst_ip = ip->dst_addr;
	v->src_port = udp->src_port;
	v->dst_port = udp->dst_port;
	v->payload_off = (uint16_t)(BX_WIRE_ETH_LEN + ihl_len + BX_WIRE_UDP_LEN);
	v->payload_len = (uint16_t)(udp_len - BX_WIRE_UDP_LEN);
	return BX_DROP_NONE;
}

/*
 * UDP checksum of a datagram that may span segments, @off bytes into @m.
 * Not rte_ipv4_udptcp_cksum_mbuf: in DPDK 22.11 it cuts the partial sum of
 * a segment to 16 bits before byte-swapping it after an odd-length
 * segment, losing the carries. Each segment here is folded first.
 */
static uint16_t
udp_csum_mbuf(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip,
	      uint32_t off)
{
	uint32_t sum = rte_ipv4_phdr_cksum(ip, 0);
	uint32_t done = 0, seg_len;
	uint16_t part;

	for (; m != NULL; m = m->next) {
		seg_len = rte_pktmbuf_data_len(m);
		if (off >= seg_len) {
			off -= seg_len;
			continue;
		}
		part = rte_raw_cksum(rte_pktmbuf_mtod_offset(m, const void *, off),
				     seg_len - off);
		/* After an odd byte count this segment's words are shifted by
		 * one byte; a ones' complement sum is fixed by a byte swap. */
		if (done & 1)
			part = rte_bswap16(part);
		sum += part;
		done += seg_len - off;
		off = 0;
	}
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (uint16_t)~sum;
	/* 0 on the wire means "no checksum" (RFC 768). */
	return sum == 0 ? 0xffff : (uint16_t)sum;
}

/*
 * Room for the outer headers in front of @m's payload (its length in
 * *@payload_len), and @m described as carrying them: header lengths set,
 * and of the checksum requests the mbuf may bring from RX or an inner
 * packet none left. NULL with -EINVAL or -ENOSPC in *@rc, @m unchanged.
 */
static inline uint8_t *
outer_reserve(struct rte_mbuf *m, uint32_t *payload_len, int *rc)
{
	uint8_t *buf;

	*payload_len = rte_pktmbuf_pkt_len(m);
	if (BX_UNLIKELY(*payload_len > BX_WIRE_UDP_PAYLOAD_MAX)) {
		*rc = -EINVAL;
		return NULL;
	}
	buf = (uint8_t *)rte_pktmbuf_prepend(m, BX_WIRE_OUTER_LEN);
	if (BX_UNLIKELY(buf == NULL)) {
		*rc = -ENOSPC;
		return NULL;
	}
	m->l2_len = BX_WIRE_ETH_LEN;
	m->l3_len = BX_WIRE_IPV4_LEN;
	m->l4_len = BX_WIRE_UDP_LEN;
	m->ol_flags &= ~TX_CKSUM_FLAGS;
	return buf;
}

int
bx_wire_outer_prepend(struct rte_mbuf *m, const struct bx_wire_outer *o,
		      enum bx_wire_csum csum)
{
	uint32_t payload_len;
	struct rte_ipv4_hdr *ip;
	struct rte_udp_hdr *udp;
	uint8_t *buf;
	int rc;

	buf = outer_reserve(m, &payload_len, &rc);
	if (BX_UNLIKELY(buf == NULL))
		return rc;
	outer_write(buf, o, (uint16_t)payload_len);
	ip = (struct rte_ipv4_hdr *)(buf + BX_WIRE_ETH_LEN);
	udp = (struct rte_udp_hdr *)(buf + BX_WIRE_ETH_LEN + BX_WIRE_IPV4_LEN);
	switch (csum) {
	case BX_WIRE_CSUM_OFFLOAD:
		m->ol_flags |= TX_OFFLOAD_FLAGS;
		/* The NIC finishes the UDP sum from the pseudo-header sum. */
		udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
		break;
	case BX_WIRE_CSUM_IP_ONLY:
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		udp->dgram_cksum = 0;
		break;
	default:
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		udp->dgram_cksum = udp_csum_mbuf(m, ip, BX_WIRE_ETH_LEN +
							BX_WIRE_IPV4_LEN);
		break;
	}
	return 0;
}

void
bx_wire_outer_tmpl_init(struct bx_wire_outer_tmpl *t,
			const struct bx_wire_outer *o)
{
	outer_write(t->hdr, o, 0);
	/* The lengths are added per datagram: take them out of the sum. */
	memset(t->hdr + IPV4_TOTAL_LEN_OFF, 0, sizeof(rte_be16_t));
	memset(t->hdr + UDP_LEN_OFF, 0, sizeof(rte_be16_t));
	t->ip_sum = rte_raw_cksum(t->hdr + BX_WIRE_ETH_LEN, BX_WIRE_IPV4_LEN);
}

int
bx_wire_outer_tmpl_prepend(struct rte_mbuf *m,
			   const struct bx_wire_outer_tmpl *t)
{
	uint32_t payload_len, sum;
	rte_be16_t ip_len, udp_len;
	uint16_t csum;
	uint8_t *buf;
	int rc;

	buf = outer_reserve(m, &payload_len, &rc);
	if (BX_UNLIKELY(buf == NULL))
		return rc;
	memcpy(buf, t->hdr, BX_WIRE_OUTER_LEN);
	ip_len = rte_cpu_to_be_16((uint16_t)(BX_WIRE_IPV4_LEN + BX_WIRE_UDP_LEN +
					     payload_len));
	udp_len = rte_cpu_to_be_16((uint16_t)(BX_WIRE_UDP_LEN + payload_len));
	memcpy(buf + IPV4_TOTAL_LEN_OFF, &ip_len, sizeof(ip_len));
	memcpy(buf + UDP_LEN_OFF, &udp_len, sizeof(udp_len));
	/* The sum is over 16-bit words as they lie in memory, like
	 * rte_raw_cksum's: the length goes in as stored. */
	sum = t->ip_sum + ip_len;
	sum = (sum & 0xffffu) + (sum >> 16);
	csum = (uint16_t)~sum;
	memcpy(buf + IPV4_CSUM_OFF, &csum, sizeof(csum));
	return 0;
}
