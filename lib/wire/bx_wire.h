/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bauxite wire format: the mesh datagram header (DESIGN §3.3) and helpers
 * for the outer Ethernet/IPv4/UDP headers it travels in.
 *
 * Mesh datagram, inside UDP to the mesh port (all integers big-endian):
 *
 *   0               1               2               3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-----+-------+---------------+---------------+---------------+
 *  |1| ver | type  |     flags     |     lane      |    path id    |
 *  +-+-----+-------+---------------+---------------+---------------+
 *  |                 receiver session index                        |
 *  +---------------------------------------------------------------+
 *  |                 counter (64 bits, AEAD nonce)                 |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |  ciphertext (inner IP packet) ...          | 16-byte AEAD tag |
 *
 * Bit 0x80 of the first byte is always set: a STUN message's first byte
 * never has it, so mesh data and ICE share one UDP port. The 16-byte header
 * is the AEAD additional data; the nonce is 4 zero bytes followed by the
 * counter's 8 bytes exactly as they are on the wire.
 *
 * Path id: for a probe, the prober's path slot, echoed unchanged; for data,
 * the sender's path slot. A deliberate copy (F_DUPLICATE) carries
 * BX_WIRE_PATH_ANY on every path: copies share one counter, hence one
 * nonce, so their AAD (this header) must be byte-identical too, or one
 * nonce would seal under two AADs. The receiver takes a copy's path from
 * the outer headers.
 *
 * With F_SEQ (data only), the plaintext starts with the lane sequence, 4
 * bytes big-endian, then the inner IP packet:
 *
 *  | header | lane seq (4) | inner IP packet ... | 16-byte AEAD tag |
 *
 * It numbers one peer's packets of one lane across all paths, so the
 * receiver can restore the order striping broke (lib/reorder). Only peers
 * with several paths get it; nodes without it refuse the flag.
 *
 * Header only parsing needs no EAL; the mbuf helpers need DPDK headers only.
 */
#ifndef BX_WIRE_H
#define BX_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>

#include "bx_common.h"
#include "bx_drop.h"

#define BX_WIRE_TAG 0x80u           /* first-byte bit: mesh, not STUN */
#define BX_WIRE_VERSION 1u          /* 3 bits: 0x70 of the first byte */
#define BX_WIRE_VERSION_SHIFT 4
#define BX_WIRE_VERSION_MASK 0x70u
#define BX_WIRE_TYPE_MASK 0x0fu
#define BX_WIRE_HDR_LEN 16u
#define BX_WIRE_AEAD_TAG_LEN 16u
#define BX_WIRE_NONCE_LEN 12u
#define BX_WIRE_ETH_LEN 14u
#define BX_WIRE_IPV4_LEN 20u
#define BX_WIRE_UDP_LEN 8u
#define BX_WIRE_OUTER_LEN (BX_WIRE_ETH_LEN + BX_WIRE_IPV4_LEN + BX_WIRE_UDP_LEN)
/* Bytes a data datagram adds around the inner packet. */
#define BX_WIRE_OVERHEAD (BX_WIRE_OUTER_LEN + BX_WIRE_HDR_LEN + BX_WIRE_AEAD_TAG_LEN)
#define BX_WIRE_DEFAULT_TTL 64u
/* Largest UDP payload one IPv4 packet can carry (65535 - 20 - 8). */
#define BX_WIRE_UDP_PAYLOAD_MAX (UINT16_MAX - BX_WIRE_IPV4_LEN - BX_WIRE_UDP_LEN)

enum bx_wire_type {
	BX_WIRE_DATA = 1,           /* encrypted inner packet */
	BX_WIRE_HANDSHAKE_INIT = 2, /* session handshake, initiator */
	BX_WIRE_HANDSHAKE_RESP = 3, /* session handshake, responder */
	BX_WIRE_COOKIE = 4,         /* cookie reply under load */
	BX_WIRE_PROBE = 5,          /* keepalive / path probe */
	BX_WIRE_RELAY = 6,          /* datagram for a relay to forward */
	BX_WIRE_TYPE_MAX = BX_WIRE_RELAY,
};

enum bx_wire_lane {
	BX_LANE_CRITICAL = 0,
	BX_LANE_TELEMETRY = 1,
	BX_LANE_BULK = 2,
	BX_LANE_COUNT = 3,
};

/* Header flags; an unknown bit is refused (BX_DROP_HDR_BAD_FLAGS), and so
 * is F_SEQ on anything but data. */
#define BX_WIRE_F_DUPLICATE 0x01u /* a deliberate copy (critical duplication) */
#define BX_WIRE_F_ECHO 0x02u      /* probe echo, not a probe */
#define BX_WIRE_F_SEQ 0x04u       /* plaintext starts with the lane sequence */
#define BX_WIRE_F_KNOWN (BX_WIRE_F_DUPLICATE | BX_WIRE_F_ECHO | BX_WIRE_F_SEQ)

/* Bytes of the lane sequence an F_SEQ datagram's plaintext starts with. */
#define BX_WIRE_SEQ_LEN 4u
/* Path id of deliberate copies: identical on every path (see above). */
#define BX_WIRE_PATH_ANY 0xffu

struct bx_wire_hdr {
	uint8_t tag_ver_type;
	uint8_t flags;
	uint8_t lane;
	uint8_t path_id;
	rte_be32_t rx_index;
	rte_be64_t counter;
} __attribute__((packed));

_Static_assert(sizeof(struct bx_wire_hdr) == BX_WIRE_HDR_LEN,
	       "mesh header is 16 bytes on the wire");

/* A decoded header, host byte order. */
struct bx_wire_info {
	enum bx_wire_type type;
	uint8_t flags;
	uint8_t lane;
	uint8_t path_id;
	uint32_t rx_index;
	uint64_t counter;
};

/* True if a UDP payload starting with this byte is a mesh datagram. */
static inline bool
bx_wire_is_mesh(uint8_t first_byte)
{
	return (first_byte & BX_WIRE_TAG) != 0;
}


/* Writes the 16-byte header for @in at @hdr (any alignment). Inline, as
 * decode: the fast path calls both once per packet. */
static inline void
bx_wire_encode(void *hdr, const struct bx_wire_info *in)
{
	struct bx_wire_hdr h;

	BX_ASSERT_HOT(in->type >= BX_WIRE_DATA && in->type <= BX_WIRE_TYPE_MAX);
	BX_ASSERT_HOT(in->lane < BX_LANE_COUNT);
	BX_ASSERT_HOT((in->flags & ~BX_WIRE_F_KNOWN) == 0);
	BX_ASSERT_HOT(in->type == BX_WIRE_DATA || !(in->flags & BX_WIRE_F_SEQ));

	h.tag_ver_type = (uint8_t)(BX_WIRE_TAG |
				   (BX_WIRE_VERSION << BX_WIRE_VERSION_SHIFT) |
				   ((unsigned int)in->type & BX_WIRE_TYPE_MASK));
	h.flags = in->flags;
	h.lane = in->lane;
	h.path_id = in->path_id;
	h.rx_index = rte_cpu_to_be_32(in->rx_index);
	h.counter = rte_cpu_to_be_64(in->counter);
	memcpy(hdr, &h, sizeof(h));
}

/*
 * Decodes and validates the mesh datagram at @buf (@len bytes of UDP
 * payload). Returns BX_DROP_NONE and fills @out, or the drop reason
 * (HDR_SHORT, HDR_NOT_MESH, HDR_BAD_VERSION, HDR_BAD_TYPE, HDR_BAD_LANE,
 * HDR_BAD_FLAGS, HDR_BAD_LEN for a data datagram or probe too short to
 * hold a tag, or an F_SEQ datagram too short to hold the sequence too);
 * @out is untouched on failure. Never reads past @len.
 */
static inline enum bx_drop_reason
bx_wire_decode(const void *buf, size_t len, struct bx_wire_info *out)
{
	struct bx_wire_hdr h;
	unsigned int version, type, known;

	if (BX_UNLIKELY(len < BX_WIRE_HDR_LEN))
		return BX_DROP_HDR_SHORT;
	memcpy(&h, buf, sizeof(h));

	if (BX_UNLIKELY(!bx_wire_is_mesh(h.tag_ver_type)))
		return BX_DROP_HDR_NOT_MESH;
	version = (h.tag_ver_type & BX_WIRE_VERSION_MASK) >> BX_WIRE_VERSION_SHIFT;
	if (BX_UNLIKELY(version != BX_WIRE_VERSION))
		return BX_DROP_HDR_BAD_VERSION;
	type = h.tag_ver_type & BX_WIRE_TYPE_MASK;
	if (BX_UNLIKELY(type < BX_WIRE_DATA || type > BX_WIRE_TYPE_MAX))
		return BX_DROP_HDR_BAD_TYPE;
	if (BX_UNLIKELY(h.lane >= BX_LANE_COUNT))
		return BX_DROP_HDR_BAD_LANE;
	/* Only data carries a lane sequence: no other type may claim one. */
	known = type == BX_WIRE_DATA ? BX_WIRE_F_KNOWN :
				       BX_WIRE_F_KNOWN & ~BX_WIRE_F_SEQ;
	if (BX_UNLIKELY((h.flags & ~known) != 0))
		return BX_DROP_HDR_BAD_FLAGS;
	/* Data and probes are sealed with an AEAD tag; the handshake and
	 * relay messages size their own bodies and are checked by their
	 * parsers. The sequence is plaintext, so it must fit before the tag:
	 * the receiver then strips it without another length check. */
	if (BX_UNLIKELY((type == BX_WIRE_DATA || type == BX_WIRE_PROBE) &&
			len < BX_WIRE_HDR_LEN + BX_WIRE_AEAD_TAG_LEN +
				      ((h.flags & BX_WIRE_F_SEQ) ?
					       BX_WIRE_SEQ_LEN : 0)))
		return BX_DROP_HDR_BAD_LEN;

	out->type = (enum bx_wire_type)type;
	out->flags = h.flags;
	out->lane = h.lane;
	out->path_id = h.path_id;
	out->rx_index = rte_be_to_cpu_32(h.rx_index);
	out->counter = rte_be_to_cpu_64(h.counter);
	return BX_DROP_NONE;
}

/* Outer headers for a datagram this node sends. Addresses and ports in
 * network byte order, as they go on the wire. */
struct bx_wire_outer {
	struct rte_ether_addr src_mac;
	struct rte_ether_addr dst_mac;
	rte_be32_t src_ip;
	rte_be32_t dst_ip;
	rte_be16_t src_port;
	rte_be16_t dst_port;
	uint8_t ttl; /* 0 means BX_WIRE_DEFAULT_TTL */
};

/* What bx_wire_outer_parse found: a UDP datagram over IPv4. */
struct bx_wire_udp_view {
	struct rte_ether_addr src_mac;
	rte_be32_t src_ip;
	rte_be32_t dst_ip;
	rte_be16_t src_port;
	rte_be16_t dst_port;
	uint16_t payload_off; /* from the start of the frame */
	uint16_t payload_len; /* from the UDP length field */
};

/*
 * Writes Ethernet + IPv4 (no options, DF set, checksum computed) + UDP
 * headers (BX_WIRE_OUTER_LEN bytes) at @buf for a UDP payload of
 * @payload_len bytes that already follows them in memory. With
 * @udp_csum the UDP checksum is computed over the payload, otherwise 0.
 * @payload_len must not exceed BX_WIRE_UDP_PAYLOAD_MAX (a caller bug).
 */
void bx_wire_outer_build(void *buf, const struct bx_wire_outer *o,
			 uint16_t payload_len, bool udp_csum);

/*
 * Parses the frame at @frame (@len bytes) as Ethernet/IPv4/UDP. Verifies
 * the IPv4 header checksum when @verify_csum (and the UDP checksum when it
 * is non-zero). Returns BX_DROP_NONE and fills @v, or the reason: ETH_SHORT,
 * NOT_IPV4, IP_SHORT, IP_BAD_VERSION, IP_BAD_IHL, IP_BAD_LEN, IP_BAD_CSUM,
 * IP_FRAGMENT, NOT_UDP, UDP_SHORT, UDP_BAD_LEN, UDP_BAD_CSUM. IPv4 options
 * are allowed. Never reads past @len.
 */
enum bx_drop_reason bx_wire_outer_parse(const void *frame, size_t len,
					bool verify_csum,
					struct bx_wire_udp_view *v);

struct rte_mbuf;

/* How bx_wire_outer_prepend fills the IPv4 and UDP checksums. */
enum bx_wire_csum {
	BX_WIRE_CSUM_SW = 0,      /* both computed here */
	BX_WIRE_CSUM_OFFLOAD = 1, /* both left to the NIC */
	/*
	 * IPv4 computed here, UDP sent as 0 ("no checksum", RFC 768): for mesh
	 * data, whose AEAD tag already covers every payload byte, so a sum
	 * over ~1.4 KB per packet would buy nothing (VXLAN does the same).
	 */
	BX_WIRE_CSUM_IP_ONLY = 2,
};

/*
 * Prepends the outer headers to @m, whose data starts with the UDP payload
 * (any number of segments; the headers go into the first one's headroom).
 * @csum says who fills the checksums: with BX_WIRE_CSUM_OFFLOAD the NIC
 * (RTE_MBUF_F_TX_IPV4 | IP_CKSUM | UDP_CKSUM, UDP pseudo-header checksum
 * filled); l2/l3/l4 lengths are set in every mode.
 * Returns 0, -ENOSPC without headroom, -EINVAL for a payload too big for
 * IPv4. @m is unchanged on failure.
 */
int bx_wire_outer_prepend(struct rte_mbuf *m, const struct bx_wire_outer *o,
			  enum bx_wire_csum csum);

/*
 * The outer headers to one destination, built once for many datagrams:
 * the fast path sends bursts to few destinations, and writing three
 * headers field by field and summing the IPv4 header for every packet
 * costs as much as the rest of its header work. Only the two lengths and
 * the IPv4 checksum (from the sum kept here) change per datagram.
 */
struct bx_wire_outer_tmpl {
	uint8_t hdr[BX_WIRE_OUTER_LEN]; /* lengths and checksums zero */
	uint32_t ip_sum;                /* ones' complement sum of that IPv4 header */
};

/* Builds @t for @o: what bx_wire_outer_prepend(m, @o, BX_WIRE_CSUM_IP_ONLY)
 * would write, but for the lengths. */
void bx_wire_outer_tmpl_init(struct bx_wire_outer_tmpl *t,
			     const struct bx_wire_outer *o);

/*
 * bx_wire_outer_prepend(m, o, BX_WIRE_CSUM_IP_ONLY) for the @o that @t was
 * built from, byte for byte (the headers go into the first segment's
 * headroom). Returns 0, -ENOSPC without headroom, -EINVAL for a payload
 * too big for IPv4. @m is unchanged on failure.
 */
int bx_wire_outer_tmpl_prepend(struct rte_mbuf *m,
			       const struct bx_wire_outer_tmpl *t);

#endif /* BX_WIRE_H */
