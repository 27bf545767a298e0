/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/wire: mesh header encode/decode and the outer Ethernet/IPv4/UDP
 * headers. Parsers are fed exact-length heap copies so that ASan catches
 * any read past the end. Expected checksums come from a ones' complement
 * sum written here (ref_sum), not from DPDK's helpers the library uses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "bx_common.h"
#include "bx_test_eal.h"
#include "bx_wire.h"

#define FRAME_LEN 74u   /* golden frame: 42 bytes of headers + 32 payload */
#define PAYLOAD_LEN 32u /* a data datagram with an empty inner packet */
#define OFF_ETHERTYPE 12u
#define OFF_IP 14u
#define OFF_IP_VHL (OFF_IP + 0u)
#define OFF_IP_TOTLEN (OFF_IP + 2u)
#define OFF_IP_FRAG (OFF_IP + 6u)
#define OFF_IP_TTL (OFF_IP + 8u)
#define OFF_IP_PROTO (OFF_IP + 9u)
#define OFF_IP_CSUM (OFF_IP + 10u)
#define OFF_UDP 34u
#define OFF_UDP_LEN (OFF_UDP + 4u)
#define OFF_UDP_CSUM (OFF_UDP + 6u)
#define OFF_PAYLOAD 42u
#define SEG_ROOM 16384u /* mbuf data room: four segments exceed a datagram */
#define POOL_SIZE 15u

/*
 * 192.168.1.10:51820 -> 192.168.1.20:51820, TTL 64, DF, ID 0, carrying a
 * data header (type 1, lane 2, path 3, index 0x01020304, counter
 * 0x1122334455667788) and a 16-byte tag a0..af.
 *
 * IPv4 checksum, by hand: 4500 + 003c + 0000 + 4000 + 4011 + c0a8 + 010a
 * + c0a8 + 0114 = 0x248bb; fold: 0x48bb + 0x2 = 0x48bd; ~ = 0xb742.
 *
 * UDP checksum: pseudo-header c0a8 + 010a + c0a8 + 0114 + 0011 + 0028 =
 * 0x183a7; UDP header ca6c + ca6c + 0028 + 0000 = 0x19500; payload
 * 9100 + 0203 + 0102 + 0304 + 1122 + 3344 + 5566 + 7788 + a0a1 + a2a3 +
 * a4a5 + a6a7 + a8a9 + aaab + acad + aeaf = 0x6e59d; total 0x9fe44;
 * fold: 0xfe44 + 0x9 = 0xfe4d; ~ = 0x01b2.
 */
static const uint8_t golden[FRAME_LEN] = {
	/* Ethernet */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00,
	/* IPv4 */
	0x45, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb7, 0x42,
	0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x14,
	/* UDP */
	0xca, 0x6c, 0xca, 0x6c, 0x00, 0x28, 0x01, 0xb2,
	/* mesh header */
	0x91, 0x00, 0x02, 0x03, 0x01, 0x02, 0x03, 0x04, 0x11, 0x22, 0x33, 0x44,
	0x55, 0x66, 0x77, 0x88,
	/* AEAD tag */
	0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
	0xac, 0xad, 0xae, 0xaf,
};

/* Pseudo-header sum of the golden frame: 0x183a7 folded, 0x83a7 + 1. */
#define GOLDEN_PHDR_SUM 0x83a8u

static const struct bx_wire_outer golden_outer = {
	.src_mac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}},
	.dst_mac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}},
	.src_ip = RTE_BE32(RTE_IPV4(192, 168, 1, 10)),
	.dst_ip = RTE_BE32(RTE_IPV4(192, 168, 1, 20)),
	.src_port = RTE_BE16(51820),
	.dst_port = RTE_BE16(51820),
	.ttl = 0,
};

static struct rte_mempool *pool;

/* Ones' complement sum of big-endian 16-bit words, folded, not inverted. */
static uint16_t
ref_sum(const uint8_t *b, size_t n, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n % 2)
		sum += (uint32_t)b[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)sum;
}

static uint16_t
get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static void
put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

/* Sum of the UDP pseudo-header of the frame at @f (IPv4 at OFF_IP). */
static uint16_t
ref_phdr_sum(const uint8_t *f, uint16_t udp_len)
{
	uint8_t ph[12];

	memcpy(ph, f + OFF_IP + 12, 8);
	ph[8] = 0;
	ph[9] = 17;
	put16(&ph[10], udp_len);
	return ref_sum(ph, sizeof(ph), 0);
}

/* Recomputes the IPv4 header checksum after a test changed the header. */
static void
fix_ip_csum(uint8_t *f, size_t len)
{
	size_t ihl_len = (size_t)(f[OFF_IP_VHL] & 0x0f) * 4;

	if (ihl_len < BX_WIRE_IPV4_LEN)
		ihl_len = BX_WIRE_IPV4_LEN;
	if (ihl_len > len - OFF_IP)
		ihl_len = len - OFF_IP;
	put16(f + OFF_IP_CSUM, 0);
	put16(f + OFF_IP_CSUM, (uint16_t)~ref_sum(f + OFF_IP, ihl_len, 0));
}

static uint8_t *
dup_exact(const uint8_t *src, size_t len)
{
	uint8_t *p = malloc(len == 0 ? 1 : len);

	assert_non_null(p);
	memcpy(p, src, len);
	return p;
}

/* Parses an exact-length heap copy and checks @v is untouched on failure. */
static enum bx_drop_reason
parse_exact(const uint8_t *f, size_t len, bool verify,
	    struct bx_wire_udp_view *v)
{
	struct bx_wire_udp_view sentinel;
	enum bx_drop_reason r;
	uint8_t *copy = dup_exact(f, len);

	memset(v, 0xa5, sizeof(*v));
	memset(&sentinel, 0xa5, sizeof(sentinel));
	r = bx_wire_outer_parse(copy, len, verify, v);
	free(copy);
	if (r != BX_DROP_NONE)
		assert_memory_equal(v, &sentinel, sizeof(sentinel));
	return r;
}

static enum bx_drop_reason
decode_exact(const uint8_t *b, size_t len, struct bx_wire_info *out)
{
	struct bx_wire_info sentinel;
	enum bx_drop_reason r;
	uint8_t *copy = dup_exact(b, len);

	memset(out, 0xa5, sizeof(*out));
	memset(&sentinel, 0xa5, sizeof(sentinel));
	r = bx_wire_decode(copy, len, out);
	free(copy);
	if (r != BX_DROP_NONE)
		assert_memory_equal(out, &sentinel, sizeof(sentinel));
	return r;
}

static void
assert_info_equal(const struct bx_wire_info *a, const struct bx_wire_info *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->lane, b->lane);
	assert_int_equal(a->path_id, b->path_id);
	assert_int_equal(a->rx_index, b->rx_index);
	assert_true(a->counter == b->counter);
}

/* ---- mesh header ---- */

static void
test_encode_layout(void **state)
{
	const struct bx_wire_info in = {
		.type = BX_WIRE_DATA,
		.flags = BX_WIRE_F_DUPLICATE | BX_WIRE_F_ECHO,
		.lane = BX_LANE_BULK,
		.path_id = 0x7f,
		.rx_index = 0xdeadbeef,
		.counter = 0x0102030405060708ull,
	};
	const uint8_t want[BX_WIRE_HDR_LEN] = {
		0x91, 0x03, 0x02, 0x7f, 0xde, 0xad, 0xbe, 0xef,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	};
	uint8_t buf[BX_WIRE_HDR_LEN + 1];

	(void)state;
	/* Odd address: the header is written byte-exact at any alignment. */
	memset(buf, 0, sizeof(buf));
	bx_wire_encode(buf + 1, &in);
	assert_int_equal(buf[0], 0);
	assert_memory_equal(buf + 1, want, sizeof(want));
}

static void
test_decode_golden_header(void **state)
{
	struct bx_wire_info out;

	(void)state;
	assert_int_equal(decode_exact(golden + OFF_PAYLOAD, PAYLOAD_LEN, &out),
			 BX_DROP_NONE);
	assert_int_equal(out.type, BX_WIRE_DATA);
	assert_int_equal(out.flags, 0);
	assert_int_equal(out.lane, BX_LANE_BULK);
	assert_int_equal(out.path_id, 3);
	assert_int_equal(out.rx_index, 0x01020304u);
	assert_true(out.counter == 0x1122334455667788ull);
}

static void
test_encode_decode_roundtrip(void **state)
{
	uint8_t buf[BX_WIRE_HDR_LEN + BX_WIRE_SEQ_LEN + BX_WIRE_AEAD_TAG_LEN];
	struct bx_wire_info in, out;
	unsigned int type, lane, flags;

	(void)state;
	for (type = BX_WIRE_DATA; type <= BX_WIRE_TYPE_MAX; type++) {
		for (lane = 0; lane < BX_LANE_COUNT; lane++) {
			for (flags = 0; flags <= BX_WIRE_F_KNOWN; flags++) {
				/* Encoding F_SEQ on other types is a caller
				 * bug; decoding it is refused (bad_hdrs). */
				if (type != BX_WIRE_DATA && (flags & BX_WIRE_F_SEQ))
					continue;
				in = (struct bx_wire_info){
					.type = (enum bx_wire_type)type,
					.flags = (uint8_t)flags,
					.lane = (uint8_t)lane,
					.path_id = (uint8_t)(0xf0 | type << 2 | lane),
					.rx_index = 0x80000000u | type << 8 | lane,
					.counter = 0xfedcba9876543210ull ^ (type << 4 | lane),
				};
				memset(buf, 0x5a, sizeof(buf));
				bx_wire_encode(buf, &in);
				assert_int_equal(buf[0], 0x90 | type);
				assert_int_equal(buf[1], flags);
				assert_int_equal(buf[2], lane);
				assert_int_equal(decode_exact(buf, sizeof(buf), &out),
						 BX_DROP_NONE);
				assert_info_equal(&out, &in);
				/* A bare header is enough for all but the
				 * sealed ones: data and probes. */
				assert_int_equal(decode_exact(buf, BX_WIRE_HDR_LEN, &out),
						 type == BX_WIRE_DATA ||
								 type == BX_WIRE_PROBE ?
							 BX_DROP_HDR_BAD_LEN :
							 BX_DROP_NONE);
			}
		}
	}
}

static void
test_decode_short_every_length(void **state)
{
	struct bx_wire_info out;
	size_t len;

	(void)state;
	for (len = 0; len < BX_WIRE_HDR_LEN; len++)
		assert_int_equal(decode_exact(golden + OFF_PAYLOAD, len, &out),
				 BX_DROP_HDR_SHORT);
}

struct bad_hdr {
	const char *name;
	uint8_t b0, flags, lane;
	size_t len;
	enum bx_drop_reason reason;
};

static const struct bad_hdr bad_hdrs[] = {
	{"STUN request 0x00", 0x00, 0x00, 0, 32, BX_DROP_HDR_NOT_MESH},
	{"STUN response 0x01", 0x01, 0x00, 0, 32, BX_DROP_HDR_NOT_MESH},
	{"tag clear, rest valid", 0x11, 0x00, 0, 32, BX_DROP_HDR_NOT_MESH},
	{"version 0", 0x81, 0x00, 0, 32, BX_DROP_HDR_BAD_VERSION},
	{"version 2", 0xa1, 0x00, 0, 32, BX_DROP_HDR_BAD_VERSION},
	{"version 3", 0xb1, 0x00, 0, 32, BX_DROP_HDR_BAD_VERSION},
	{"version 4", 0xc1, 0x00, 0, 32, BX_DROP_HDR_BAD_VERSION},
	{"version 5", 0xd1, 0x00, 0, 32, BX_DROP_HDR_BAD_VERSION},
	{"version 6", 0xe1, 0x00, 0, 32, BX_DROP_HDR_BAD_VERSION},
	{"version 7", 0xf1, 0x00, 0, 32, BX_DROP_HDR_BAD_VERSION},
	{"type 0", 0x90, 0x00, 0, 32, BX_DROP_HDR_BAD_TYPE},
	{"type 7", 0x97, 0x00, 0, 32, BX_DROP_HDR_BAD_TYPE},
	{"type 8", 0x98, 0x00, 0, 32, BX_DROP_HDR_BAD_TYPE},
	{"type 9", 0x99, 0x00, 0, 32, BX_DROP_HDR_BAD_TYPE},
	{"type 10", 0x9a, 0x00, 0, 32, BX_DROP_HDR_BAD_TYPE},
	{"type 11", 0x9b, 0x00, 0, 32, BX_DROP_HDR_BAD_TYPE},
	{"type 12", 0x9c, 0x00, 0, 32, BX_DROP_HDR_BAD_TYPE},
	{"type 13", 0x9d, 0x00, 0, 32, BX_DROP_HDR_BAD_TYPE},
	{"type 14", 0x9e, 0x00, 0, 32, BX_DROP_HDR_BAD_TYPE},
	{"type 15", 0x9f, 0x00, 0, 32, BX_DROP_HDR_BAD_TYPE},
	{"lane 3", 0x91, 0x00, 3, 32, BX_DROP_HDR_BAD_LANE},
	{"lane 255", 0x91, 0x00, 255, 32, BX_DROP_HDR_BAD_LANE},
	{"flag 0x08", 0x91, 0x08, 0, 36, BX_DROP_HDR_BAD_FLAGS},
	{"flag 0x40", 0x91, 0x40, 0, 36, BX_DROP_HDR_BAD_FLAGS},
	/* The lane sequence belongs to data only. */
	{"seq on handshake init", 0x92, 0x04, 0, 36, BX_DROP_HDR_BAD_FLAGS},
	{"seq on handshake resp", 0x93, 0x04, 0, 36, BX_DROP_HDR_BAD_FLAGS},
	{"seq on cookie", 0x94, 0x04, 0, 36, BX_DROP_HDR_BAD_FLAGS},
	{"seq on probe", 0x95, 0x04, 0, 36, BX_DROP_HDR_BAD_FLAGS},
	{"seq on probe echo", 0x95, 0x06, 0, 36, BX_DROP_HDR_BAD_FLAGS},
	{"seq on relay", 0x96, 0x04, 0, 36, BX_DROP_HDR_BAD_FLAGS},
	/* ... and must fit between the header and the tag. */
	{"data seq, bare header", 0x91, 0x04, 0, 16, BX_DROP_HDR_BAD_LEN},
	{"data seq, tag only", 0x91, 0x04, 0, 32, BX_DROP_HDR_BAD_LEN},
	{"data seq, seq cut by one", 0x91, 0x04, 1, 35, BX_DROP_HDR_BAD_LEN},
	{"data seq with its tag", 0x91, 0x04, 2, 36, BX_DROP_NONE},
	{"copy with seq", 0x91, 0x05, 2, 36, BX_DROP_NONE},
	{"flag 0x80", 0x91, 0x80, 0, 32, BX_DROP_HDR_BAD_FLAGS},
	{"flags 0xff", 0x91, 0xff, 0, 32, BX_DROP_HDR_BAD_FLAGS},
	{"data, bare header", 0x91, 0x00, 0, 16, BX_DROP_HDR_BAD_LEN},
	{"data, tag cut by one", 0x91, 0x00, 0, 31, BX_DROP_HDR_BAD_LEN},
	{"probe, bare header", 0x95, 0x00, 0, 16, BX_DROP_HDR_BAD_LEN},
	{"probe, tag cut by one", 0x95, 0x02, 0, 31, BX_DROP_HDR_BAD_LEN},
	{"probe with its tag", 0x95, 0x02, 0, 32, BX_DROP_NONE},
	/* Checks run in a fixed order: the first failing field names it. */
	{"short and not mesh", 0x00, 0x00, 0, 15, BX_DROP_HDR_SHORT},
	{"not mesh, bad version", 0x70, 0x00, 0, 32, BX_DROP_HDR_NOT_MESH},
	{"bad version and type", 0x80, 0x00, 0, 32, BX_DROP_HDR_BAD_VERSION},
	{"bad type and lane", 0x90, 0x00, 9, 32, BX_DROP_HDR_BAD_TYPE},
	{"bad lane and flags", 0x91, 0xff, 9, 32, BX_DROP_HDR_BAD_LANE},
	{"bad flags, data short", 0x91, 0x10, 0, 16, BX_DROP_HDR_BAD_FLAGS},
	/* Controls: each field at its largest valid value passes. */
	{"valid data", 0x91, 0x03, 2, 32, BX_DROP_NONE},
	{"valid data, every flag", 0x91, 0x07, 2, 36, BX_DROP_NONE},
	{"valid relay", 0x96, 0x00, 0, 16, BX_DROP_NONE},
};

static void
test_decode_bad_headers(void **state)
{
	uint8_t buf[BX_WIRE_HDR_LEN + BX_WIRE_SEQ_LEN + BX_WIRE_AEAD_TAG_LEN];
	struct bx_wire_info out;
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(bad_hdrs); i++) {
		const struct bad_hdr *t = &bad_hdrs[i];

		assert_true(t->len <= sizeof(buf));
		memset(buf, 0x5a, sizeof(buf));
		memcpy(buf, golden + OFF_PAYLOAD, PAYLOAD_LEN);
		buf[0] = t->b0;
		buf[1] = t->flags;
		buf[2] = t->lane;
		print_message("# bad header: %s\n", t->name);
		assert_string_equal(bx_drop_name(decode_exact(buf, t->len, &out)),
				    bx_drop_name(t->reason));
	}
}

/*
 * A striped copy: data, F_DUPLICATE | F_SEQ, path BX_WIRE_PATH_ANY. Copies
 * of one packet share the counter (the nonce), so the header (the AAD) must
 * come out byte-identical whichever path a copy takes: path id 0xff, pinned
 * here byte by byte, and decoded back unchanged.
 */
static void
test_copy_path_any_roundtrip(void **state)
{
	const struct bx_wire_info in = {
		.type = BX_WIRE_DATA,
		.flags = BX_WIRE_F_DUPLICATE | BX_WIRE_F_SEQ,
		.lane = BX_LANE_BULK,
		.path_id = BX_WIRE_PATH_ANY,
		.rx_index = 0x0a0b0c0d,
		.counter = 0x8000000000000001ull,
	};
	const uint8_t want[BX_WIRE_HDR_LEN] = {
		0x91, 0x05, 0x02, 0xff, 0x0a, 0x0b, 0x0c, 0x0d,
		0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	};
	uint8_t a[BX_WIRE_HDR_LEN + BX_WIRE_SEQ_LEN + BX_WIRE_AEAD_TAG_LEN];
	uint8_t b[sizeof(a)];
	struct bx_wire_info out;

	(void)state;
	memset(a, 0x11, sizeof(a));
	memset(b, 0x22, sizeof(b));
	bx_wire_encode(a, &in);
	bx_wire_encode(b, &in);
	assert_memory_equal(a, want, sizeof(want));
	assert_memory_equal(b, want, sizeof(want));
	assert_int_equal(decode_exact(a, sizeof(a), &out), BX_DROP_NONE);
	assert_info_equal(&out, &in);
	assert_int_equal(out.path_id, 0xff);
	/* Sealed data with the sequence needs header + 4 + tag bytes. */
	assert_int_equal(decode_exact(a, sizeof(a) - 1, &out),
			 BX_DROP_HDR_BAD_LEN);
}

static void
test_stun_vs_mesh(void **state)
{
	/* A STUN Binding request: type 0x0001, length 0, magic cookie. */
	const uint8_t stun[20] = {
		0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 0x01, 0x02,
		0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
	};
	struct bx_wire_info out;
	unsigned int b;

	(void)state;
	/* RFC 5389: the top two bits of a STUN message are zero; RFC 7983
	 * demultiplexes 0..3 as STUN. Every byte with 0x80 is mesh. */
	for (b = 0; b < 256; b++)
		assert_int_equal(bx_wire_is_mesh((uint8_t)b), b >= 0x80);
	assert_false(bx_wire_is_mesh(stun[0]));
	assert_int_equal(decode_exact(stun, sizeof(stun), &out),
			 BX_DROP_HDR_NOT_MESH);
	assert_true(bx_wire_is_mesh(golden[OFF_PAYLOAD]));
}

/* ---- outer headers ---- */

static void
test_outer_build_golden(void **state)
{
	uint8_t *f = malloc(FRAME_LEN);

	(void)state;
	assert_non_null(f);
	memset(f, 0xee, BX_WIRE_OUTER_LEN);
	memcpy(f + OFF_PAYLOAD, golden + OFF_PAYLOAD, PAYLOAD_LEN);
	bx_wire_outer_build(f, &golden_outer, PAYLOAD_LEN, true);
	assert_memory_equal(f, golden, FRAME_LEN);
	/* Independent verification: both sums over their data come to ~0. */
	assert_int_equal(get16(f + OFF_IP_CSUM), 0xb742);
	assert_int_equal(ref_sum(f + OFF_IP, BX_WIRE_IPV4_LEN, 0), 0xffff);
	assert_int_equal(get16(f + OFF_UDP_CSUM), 0x01b2);
	assert_int_equal(ref_sum(f + OFF_UDP, BX_WIRE_UDP_LEN + PAYLOAD_LEN,
				 ref_phdr_sum(f, BX_WIRE_UDP_LEN + PAYLOAD_LEN)),
			 0xffff);
	free(f);
}

static void
test_outer_build_ttl_no_udp_csum(void **state)
{
	struct bx_wire_outer o = golden_outer;
	uint8_t f[FRAME_LEN];

	(void)state;
	memcpy(f + OFF_PAYLOAD, golden + OFF_PAYLOAD, PAYLOAD_LEN);
	o.ttl = 5;
	bx_wire_outer_build(f, &o, PAYLOAD_LEN, false);
	assert_int_equal(f[OFF_IP_TTL], 5);
	assert_int_equal(get16(f + OFF_UDP_CSUM), 0);
	assert_int_equal(ref_sum(f + OFF_IP, BX_WIRE_IPV4_LEN, 0), 0xffff);
	/* Everything but TTL, IP checksum and UDP checksum as in golden. */
	assert_memory_equal(f, golden, OFF_IP_TTL);
	assert_memory_equal(f + OFF_IP_PROTO, golden + OFF_IP_PROTO, 1);
	assert_memory_equal(f + OFF_IP_CSUM + 2, golden + OFF_IP_CSUM + 2,
			    OFF_UDP_CSUM - OFF_IP_CSUM - 2);
	assert_memory_equal(f + OFF_PAYLOAD, golden + OFF_PAYLOAD, PAYLOAD_LEN);
}

/* RFC 768: a checksum that computes to zero goes out as all ones. */
static void
test_outer_build_udp_csum_zero(void **state)
{
	uint8_t f[FRAME_LEN];
	struct bx_wire_udp_view v;

	(void)state;
	memcpy(f, golden, FRAME_LEN);
	/* Make the sum 0xffff: the last payload word takes the value of the
	 * checksum it had while zero (sum + ~sum = 0xffff). */
	put16(f + FRAME_LEN - 2, 0);
	bx_wire_outer_build(f, &golden_outer, PAYLOAD_LEN, true);
	put16(f + FRAME_LEN - 2, get16(f + OFF_UDP_CSUM));
	bx_wire_outer_build(f, &golden_outer, PAYLOAD_LEN, true);
	assert_int_equal(get16(f + OFF_UDP_CSUM), 0xffff);
	assert_int_equal(parse_exact(f, FRAME_LEN, true, &v), BX_DROP_NONE);
}

static void
test_outer_parse_golden(void **state)
{
	static const bool verify[] = {false, true};
	struct bx_wire_udp_view v;
	struct bx_wire_info info;
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(verify); i++) {
		assert_int_equal(parse_exact(golden, FRAME_LEN, verify[i], &v),
				 BX_DROP_NONE);
		assert_memory_equal(&v.src_mac, &golden_outer.src_mac,
				    RTE_ETHER_ADDR_LEN);
		assert_int_equal(v.src_ip, golden_outer.src_ip);
		assert_int_equal(v.dst_ip, golden_outer.dst_ip);
		assert_int_equal(v.src_port, golden_outer.src_port);
		assert_int_equal(v.dst_port, golden_outer.dst_port);
		assert_int_equal(v.payload_off, OFF_PAYLOAD);
		assert_int_equal(v.payload_len, PAYLOAD_LEN);
	}
	assert_int_equal(bx_wire_decode(golden + v.payload_off, v.payload_len,
					&info),
			 BX_DROP_NONE);
	assert_int_equal(info.rx_index, 0x01020304u);
}

/* IHL 6: four option bytes (NOP NOP NOP EOL) between IPv4 and UDP. */
static size_t
make_options_frame(uint8_t *f)
{
	static const uint8_t opts[4] = {0x01, 0x01, 0x01, 0x00};

	memcpy(f, golden, OFF_UDP);
	memcpy(f + OFF_UDP, opts, sizeof(opts));
	memcpy(f + OFF_UDP + sizeof(opts), golden + OFF_UDP,
	       FRAME_LEN - OFF_UDP);
	f[OFF_IP_VHL] = 0x46;
	put16(f + OFF_IP_TOTLEN, 0x40);
	fix_ip_csum(f, FRAME_LEN + sizeof(opts));
	return FRAME_LEN + sizeof(opts);
}

static void
test_outer_parse_ip_options(void **state)
{
	uint8_t f[FRAME_LEN + 4];
	struct bx_wire_udp_view v;
	size_t len = make_options_frame(f);

	(void)state;
	/* The UDP checksum does not cover IPv4 options: still valid. */
	assert_int_equal(parse_exact(f, len, true, &v), BX_DROP_NONE);
	assert_int_equal(v.payload_off, OFF_PAYLOAD + 4);
	assert_int_equal(v.payload_len, PAYLOAD_LEN);
	assert_memory_equal(f + v.payload_off, golden + OFF_PAYLOAD,
			    PAYLOAD_LEN);
}

static void
test_outer_parse_ethernet_padding(void **state)
{
	uint8_t f[FRAME_LEN + 6];
	struct bx_wire_udp_view v;

	(void)state;
	memcpy(f, golden, FRAME_LEN);
	memset(f + FRAME_LEN, 0xcc, 6);
	assert_int_equal(parse_exact(f, sizeof(f), true, &v), BX_DROP_NONE);
	assert_int_equal(v.payload_off, OFF_PAYLOAD);
	assert_int_equal(v.payload_len, PAYLOAD_LEN);
}

/* UDP shorter than the IPv4 payload: the checksum covers UDP length only,
 * so extra bytes inside the IPv4 packet must not enter the sum. */
static void
test_outer_parse_udp_shorter_than_ip(void **state)
{
	uint8_t f[FRAME_LEN + 4];
	struct bx_wire_udp_view v;

	(void)state;
	memcpy(f, golden, FRAME_LEN);
	memcpy(f + FRAME_LEN, "\xde\xad\xbe\xef", 4);
	put16(f + OFF_IP_TOTLEN, 0x40);
	fix_ip_csum(f, sizeof(f));
	assert_int_equal(parse_exact(f, sizeof(f), true, &v), BX_DROP_NONE);
	assert_int_equal(v.payload_len, PAYLOAD_LEN);
}

#define FULL FRAME_LEN

struct frame_edit {
	const char *name;
	uint16_t off;
	uint8_t n; /* bytes of val written at off, 0 for none */
	uint8_t val[2];
	uint16_t len; /* frame cut to this length, or FULL */
	bool fix_csum; /* recompute the IPv4 checksum after the edit */
	enum bx_drop_reason reason;
};

static const struct frame_edit frame_edits[] = {
	{"empty", 0, 0, {0}, 0, false, BX_DROP_ETH_SHORT},
	{"Ethernet cut", 0, 0, {0}, 13, false, BX_DROP_ETH_SHORT},
	{"IPv6 ethertype", OFF_ETHERTYPE, 2, {0x86, 0xdd}, FULL, false, BX_DROP_NOT_IPV4},
	{"VLAN tag", OFF_ETHERTYPE, 2, {0x81, 0x00}, FULL, false, BX_DROP_NOT_IPV4},
	{"ARP", OFF_ETHERTYPE, 2, {0x08, 0x06}, FULL, false, BX_DROP_NOT_IPV4},
	{"IPv4 header cut", 0, 0, {0}, OFF_IP + 19, false, BX_DROP_IP_SHORT},
	{"version 6", OFF_IP_VHL, 1, {0x65}, FULL, true, BX_DROP_IP_BAD_VERSION},
	{"version 0", OFF_IP_VHL, 1, {0x05}, FULL, true, BX_DROP_IP_BAD_VERSION},
	{"IHL 4", OFF_IP_VHL, 1, {0x44}, FULL, true, BX_DROP_IP_BAD_IHL},
	{"IHL 0", OFF_IP_VHL, 1, {0x40}, FULL, true, BX_DROP_IP_BAD_IHL},
	{"IHL 15 past frame", OFF_IP_VHL, 1, {0x4f}, OFF_IP + 59, true, BX_DROP_IP_SHORT},
	{"IHL 15, no room for UDP", OFF_IP_VHL, 1, {0x4f}, FULL, true, BX_DROP_UDP_SHORT},
	{"total length < IHL", OFF_IP_TOTLEN, 2, {0x00, 0x13}, FULL, true, BX_DROP_IP_BAD_LEN},
	{"total length 0", OFF_IP_TOTLEN, 2, {0x00, 0x00}, FULL, true, BX_DROP_IP_BAD_LEN},
	{"total length past frame", OFF_IP_TOTLEN, 2, {0x00, 0x3d}, FULL, true, BX_DROP_IP_BAD_LEN},
	{"total length 0xffff", OFF_IP_TOTLEN, 2, {0xff, 0xff}, FULL, true, BX_DROP_IP_BAD_LEN},
	{"IPv4 checksum off by one", OFF_IP_CSUM, 2, {0xb7, 0x43}, FULL, false, BX_DROP_IP_BAD_CSUM},
	{"IPv4 checksum zero", OFF_IP_CSUM, 2, {0x00, 0x00}, FULL, false, BX_DROP_IP_BAD_CSUM},
	{"TTL changed, stale checksum", OFF_IP_TTL, 1, {0x3f}, FULL, false, BX_DROP_IP_BAD_CSUM},
	{"more fragments", OFF_IP_FRAG, 2, {0x20, 0x00}, FULL, true, BX_DROP_IP_FRAGMENT},
	{"DF and MF", OFF_IP_FRAG, 2, {0x60, 0x00}, FULL, true, BX_DROP_IP_FRAGMENT},
	{"last fragment", OFF_IP_FRAG, 2, {0x00, 0xb9}, FULL, true, BX_DROP_IP_FRAGMENT},
	{"offset 0x1fff", OFF_IP_FRAG, 2, {0x1f, 0xff}, FULL, true, BX_DROP_IP_FRAGMENT},
	{"TCP", OFF_IP_PROTO, 1, {6}, FULL, true, BX_DROP_NOT_UDP},
	{"ICMP", OFF_IP_PROTO, 1, {1}, FULL, true, BX_DROP_NOT_UDP},
	{"UDP header cut", OFF_IP_TOTLEN, 2, {0x00, 0x1b}, FULL, true, BX_DROP_UDP_SHORT},
	{"no IPv4 payload", OFF_IP_TOTLEN, 2, {0x00, 0x14}, FULL, true, BX_DROP_UDP_SHORT},
	{"UDP length 0", OFF_UDP_LEN, 2, {0x00, 0x00}, FULL, false, BX_DROP_UDP_BAD_LEN},
	{"UDP length 7", OFF_UDP_LEN, 2, {0x00, 0x07}, FULL, false, BX_DROP_UDP_BAD_LEN},
	{"UDP length past IPv4", OFF_UDP_LEN, 2, {0x00, 0x29}, FULL, false, BX_DROP_UDP_BAD_LEN},
	{"UDP length 0xffff", OFF_UDP_LEN, 2, {0xff, 0xff}, FULL, false, BX_DROP_UDP_BAD_LEN},
	{"UDP checksum off by one", OFF_UDP_CSUM, 2, {0x01, 0xb3}, FULL, false, BX_DROP_UDP_BAD_CSUM},
	{"payload byte changed", OFF_PAYLOAD + 20, 1, {0x00}, FULL, false, BX_DROP_UDP_BAD_CSUM},
	{"UDP shortened, stale checksum", OFF_UDP_LEN, 2, {0x00, 0x27}, FULL, false, BX_DROP_UDP_BAD_CSUM},
	/* Controls: legal variations that must still parse. */
	{"no UDP checksum", OFF_UDP_CSUM, 2, {0x00, 0x00}, FULL, false, BX_DROP_NONE},
	{"DF clear", OFF_IP_FRAG, 2, {0x00, 0x00}, FULL, true, BX_DROP_NONE},
	{"TOS set", OFF_IP + 1, 1, {0xb8}, FULL, true, BX_DROP_NONE},
};

static void
test_outer_parse_reasons(void **state)
{
	uint8_t f[FRAME_LEN];
	struct bx_wire_udp_view v;
	size_t i, len;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(frame_edits); i++) {
		const struct frame_edit *t = &frame_edits[i];

		memcpy(f, golden, FRAME_LEN);
		memcpy(f + t->off, t->val, t->n);
		if (t->fix_csum)
			fix_ip_csum(f, FRAME_LEN);
		len = t->len;
		print_message("# frame edit: %s\n", t->name);
		assert_string_equal(bx_drop_name(parse_exact(f, len, true, &v)),
				    bx_drop_name(t->reason));
	}
}

/* Without verification, only the checksum reasons go away. */
static void
test_outer_parse_no_verify(void **state)
{
	uint8_t f[FRAME_LEN];
	struct bx_wire_udp_view v;
	size_t i, len;
	enum bx_drop_reason want;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(frame_edits); i++) {
		const struct frame_edit *t = &frame_edits[i];

		memcpy(f, golden, FRAME_LEN);
		memcpy(f + t->off, t->val, t->n);
		if (t->fix_csum)
			fix_ip_csum(f, FRAME_LEN);
		len = t->len;
		want = t->reason;
		if (want == BX_DROP_IP_BAD_CSUM || want == BX_DROP_UDP_BAD_CSUM)
			want = BX_DROP_NONE;
		print_message("# frame edit, no verify: %s\n", t->name);
		assert_string_equal(bx_drop_name(parse_exact(f, len, false, &v)),
				    bx_drop_name(want));
	}
}

static void
check_truncations(const uint8_t *f, size_t full, size_t ihl_len)
{
	struct bx_wire_udp_view v;
	enum bx_drop_reason want;
	size_t len;

	for (len = 0; len < full; len++) {
		if (len < BX_WIRE_ETH_LEN)
			want = BX_DROP_ETH_SHORT;
		else if (len < BX_WIRE_ETH_LEN + ihl_len)
			want = BX_DROP_IP_SHORT;
		else
			want = BX_DROP_IP_BAD_LEN;
		assert_int_equal(parse_exact(f, len, true, &v), want);
		assert_int_equal(parse_exact(f, len, false, &v), want);
	}
	assert_int_equal(parse_exact(f, full, true, &v), BX_DROP_NONE);
}

static void
test_outer_parse_truncated(void **state)
{
	uint8_t f[FRAME_LEN + 4];
	size_t len;

	(void)state;
	check_truncations(golden, FRAME_LEN, BX_WIRE_IPV4_LEN);
	len = make_options_frame(f);
	check_truncations(f, len, BX_WIRE_IPV4_LEN + 4);
}

/*
 * The IPv4 checksum check against the reference sum over many headers:
 * random addresses, identification, TTL and TOS (so the sum carries in
 * every way), the checksum right, or wrong by a random nonzero amount.
 * A header that sums to all ones parses; one that does not is
 * IP_BAD_CSUM.
 */
static void
test_outer_parse_csum_random(void **state)
{
	uint8_t f[FRAME_LEN];
	struct bx_wire_udp_view v;
	uint32_t seed = 12345;
	unsigned i, j, good = 0;

	(void)state;
	for (i = 0; i < 20000; i++) {
		memcpy(f, golden, FRAME_LEN);
		/* The UDP sum covers the addresses: none, so only IPv4's counts. */
		put16(f + OFF_UDP_CSUM, 0);
		for (j = 0; j < 8; j++) { /* src, dst */
			seed = seed * 1103515245u + 12345u;
			f[OFF_IP + 12 + j] = (uint8_t)(seed >> 16);
		}
		seed = seed * 1103515245u + 12345u;
		f[OFF_IP + 1] = (uint8_t)(seed >> 8);       /* TOS */
		put16(f + OFF_IP + 4, (uint16_t)(seed >> 16)); /* ID */
		f[OFF_IP_TTL] = (uint8_t)(seed >> 24);
		put16(f + OFF_IP_CSUM, 0);
		put16(f + OFF_IP_CSUM, (uint16_t)~ref_sum(f + OFF_IP, BX_WIRE_IPV4_LEN, 0));
		if (i % 2) {
			seed = seed * 1103515245u + 12345u;
			/* Off by anything but 0 or its ones' complement twin. */
			put16(f + OFF_IP_CSUM, (uint16_t)(get16(f + OFF_IP_CSUM) +
							  1u + (seed >> 16) % 0xfffdu));
		}
		if (ref_sum(f + OFF_IP, BX_WIRE_IPV4_LEN, 0) == 0xffff) {
			assert_int_equal(bx_wire_outer_parse(f, FRAME_LEN, true, &v),
					 BX_DROP_NONE);
			good++;
		} else {
			assert_int_equal(bx_wire_outer_parse(f, FRAME_LEN, true, &v),
					 BX_DROP_IP_BAD_CSUM);
		}
	}
	/* Half of them were right; the wrong ones stay wrong (a change by
	 * 0xffff would be the same sum, which the offset never is). */
	assert_int_equal(good, 10000);
}

/* ---- mbuf prepend (EAL) ---- */

static struct rte_mbuf *
mbuf_with_payload(const uint8_t *payload, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	char *p;

	assert_non_null(m);
	p = rte_pktmbuf_append(m, len);
	assert_non_null(p);
	memcpy(p, payload, len);
	return m;
}

static void
test_prepend_offload(void **state)
{
	struct rte_mbuf *m = mbuf_with_payload(golden + OFF_PAYLOAD, PAYLOAD_LEN);
	const uint8_t *f;

	(void)state;
	m->ol_flags = RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_CKSUM;
	assert_int_equal(bx_wire_outer_prepend(m, &golden_outer, BX_WIRE_CSUM_OFFLOAD), 0);
	assert_int_equal(rte_pktmbuf_pkt_len(m), FRAME_LEN);
	assert_int_equal(m->l2_len, BX_WIRE_ETH_LEN);
	assert_int_equal(m->l3_len, BX_WIRE_IPV4_LEN);
	assert_int_equal(m->l4_len, BX_WIRE_UDP_LEN);
	assert_true(m->ol_flags == (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
				    RTE_MBUF_F_TX_UDP_CKSUM));

	f = rte_pktmbuf_mtod(m, const uint8_t *);
	/* The NIC fills the IPv4 checksum and finishes the UDP one from the
	 * pseudo-header sum; all else matches the golden frame. */
	assert_memory_equal(f, golden, OFF_IP_CSUM);
	assert_int_equal(get16(f + OFF_IP_CSUM), 0);
	assert_memory_equal(f + OFF_IP_CSUM + 2, golden + OFF_IP_CSUM + 2,
			    OFF_UDP_CSUM - OFF_IP_CSUM - 2);
	assert_int_equal(get16(f + OFF_UDP_CSUM), GOLDEN_PHDR_SUM);
	assert_int_equal(ref_phdr_sum(f, BX_WIRE_UDP_LEN + PAYLOAD_LEN),
			 GOLDEN_PHDR_SUM);
	/* What the NIC computes: ~sum(UDP with pseudo sum in place). */
	assert_int_equal((uint16_t)~ref_sum(f + OFF_UDP,
					    BX_WIRE_UDP_LEN + PAYLOAD_LEN, 0),
			 0x01b2);
	assert_memory_equal(f + OFF_PAYLOAD, golden + OFF_PAYLOAD, PAYLOAD_LEN);
	rte_pktmbuf_free(m);
}

static void
test_prepend_software(void **state)
{
	struct rte_mbuf *m = mbuf_with_payload(golden + OFF_PAYLOAD, PAYLOAD_LEN);

	(void)state;
	m->ol_flags = RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_CKSUM;
	assert_int_equal(bx_wire_outer_prepend(m, &golden_outer, BX_WIRE_CSUM_SW), 0);
	assert_int_equal(rte_pktmbuf_pkt_len(m), FRAME_LEN);
	assert_int_equal(rte_pktmbuf_data_len(m), FRAME_LEN);
	assert_int_equal(m->l2_len, BX_WIRE_ETH_LEN);
	assert_int_equal(m->l3_len, BX_WIRE_IPV4_LEN);
	assert_int_equal(m->l4_len, BX_WIRE_UDP_LEN);
	assert_true(m->ol_flags == 0);
	assert_memory_equal(rte_pktmbuf_mtod(m, const uint8_t *), golden,
			    FRAME_LEN);
	rte_pktmbuf_free(m);
}

/* IP-only mode: the golden frame with UDP checksum 0, which still parses
 * and verifies (0 means "none"); the IPv4 checksum is the golden one. */
static void
test_prepend_ip_only(void **state)
{
	struct rte_mbuf *m = mbuf_with_payload(golden + OFF_PAYLOAD, PAYLOAD_LEN);
	uint8_t want[FRAME_LEN];
	struct bx_wire_udp_view v;

	(void)state;
	memcpy(want, golden, FRAME_LEN);
	want[BX_WIRE_ETH_LEN + BX_WIRE_IPV4_LEN + 6] = 0;
	want[BX_WIRE_ETH_LEN + BX_WIRE_IPV4_LEN + 7] = 0;
	m->ol_flags = RTE_MBUF_F_TX_UDP_CKSUM;
	assert_int_equal(bx_wire_outer_prepend(m, &golden_outer,
					       BX_WIRE_CSUM_IP_ONLY), 0);
	assert_true(m->ol_flags == 0);
	assert_memory_equal(rte_pktmbuf_mtod(m, const uint8_t *), want,
			    FRAME_LEN);
	assert_int_equal(bx_wire_outer_parse(want, FRAME_LEN, true, &v),
			 BX_DROP_NONE);
	rte_pktmbuf_free(m);
}

/* A chain holding @len bytes of a pattern, @first_seg of them in the head
 * segment and full segments after it. */
static struct rte_mbuf *
chain_with_payload(uint32_t len, uint32_t first_seg)
{
	struct rte_mbuf *head = NULL, *m;
	uint32_t done = 0, n;
	uint8_t *p;
	uint32_t i;

	while (done < len) {
		n = done == 0 ? first_seg : SEG_ROOM;
		if (n > len - done)
			n = len - done;
		m = rte_pktmbuf_alloc(pool);
		assert_non_null(m);
		p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)n);
		assert_non_null(p);
		for (i = 0; i < n; i++)
			p[i] = (uint8_t)((done + i) * 7 + 1);
		if (head == NULL)
			head = m;
		else
			assert_int_equal(rte_pktmbuf_chain(head, m), 0);
		done += n;
	}
	return head;
}

static void
check_software_chain(uint32_t payload_len, uint32_t first_seg)
{
	struct rte_mbuf *m = chain_with_payload(payload_len, first_seg);
	uint32_t len = payload_len + BX_WIRE_OUTER_LEN;
	/* Static: a failed assertion longjmps out and would leak a malloc. */
	static uint8_t flat[BX_WIRE_OUTER_LEN + BX_WIRE_UDP_PAYLOAD_MAX];
	struct bx_wire_udp_view v;
	const uint8_t *p;

	assert_true(len <= sizeof(flat));
	assert_true(m->nb_segs > 1);
	assert_int_equal(bx_wire_outer_prepend(m, &golden_outer, BX_WIRE_CSUM_SW), 0);
	assert_int_equal(rte_pktmbuf_pkt_len(m), len);
	p = rte_pktmbuf_read(m, 0, len, flat);
	assert_non_null(p);
	if (p != flat)
		memcpy(flat, p, len);
	assert_int_equal(ref_sum(flat + OFF_IP, BX_WIRE_IPV4_LEN, 0), 0xffff);
	assert_int_equal(ref_sum(flat + OFF_UDP, len - OFF_UDP,
				 ref_phdr_sum(flat, (uint16_t)(len - OFF_UDP))),
			 0xffff);
	assert_int_equal(parse_exact(flat, len, true, &v), BX_DROP_NONE);
	assert_int_equal(v.payload_len, payload_len);
	rte_pktmbuf_free(m);
}

/* Software checksums walk every segment, odd-length ones included: after
 * an odd segment the next one's bytes sit at odd offsets of the sum. */
static void
test_prepend_software_segments(void **state)
{
	(void)state;
	check_software_chain(53, 33);
	check_software_chain(BX_WIRE_UDP_PAYLOAD_MAX, SEG_ROOM - 1);
}

static void
test_prepend_too_big(void **state)
{
	struct rte_mbuf *m = chain_with_payload(BX_WIRE_UDP_PAYLOAD_MAX + 1,
						SEG_ROOM);
	uint16_t data_off = m->data_off;

	(void)state;
	assert_int_equal(bx_wire_outer_prepend(m, &golden_outer, BX_WIRE_CSUM_SW), -EINVAL);
	assert_int_equal(bx_wire_outer_prepend(m, &golden_outer, BX_WIRE_CSUM_OFFLOAD), -EINVAL);
	assert_int_equal(m->data_off, data_off);
	assert_int_equal(rte_pktmbuf_pkt_len(m), BX_WIRE_UDP_PAYLOAD_MAX + 1);
	assert_true(m->ol_flags == 0);
	rte_pktmbuf_free(m);
}

/* A golden payload in an mbuf whose headroom is exactly @headroom. */
static struct rte_mbuf *
mbuf_with_headroom(uint16_t headroom)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	char *p;

	assert_non_null(m);
	m->data_off = headroom;
	p = rte_pktmbuf_append(m, PAYLOAD_LEN);
	assert_non_null(p);
	memcpy(p, golden + OFF_PAYLOAD, PAYLOAD_LEN);
	return m;
}

static void
test_prepend_no_headroom(void **state)
{
	static const enum bx_wire_csum offload[] = {
		BX_WIRE_CSUM_SW, BX_WIRE_CSUM_OFFLOAD, BX_WIRE_CSUM_IP_ONLY,
	};
	struct rte_mbuf *m;
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(offload); i++) {
		m = mbuf_with_headroom(BX_WIRE_OUTER_LEN - 1);
		assert_int_equal(bx_wire_outer_prepend(m, &golden_outer,
						       offload[i]),
				 -ENOSPC);
		assert_int_equal(m->data_off, BX_WIRE_OUTER_LEN - 1);
		assert_int_equal(rte_pktmbuf_pkt_len(m), PAYLOAD_LEN);
		assert_int_equal(rte_pktmbuf_data_len(m), PAYLOAD_LEN);
		assert_true(m->ol_flags == 0);
		assert_memory_equal(rte_pktmbuf_mtod(m, const uint8_t *),
				    golden + OFF_PAYLOAD, PAYLOAD_LEN);
		rte_pktmbuf_free(m);

		/* Exactly enough headroom is enough. */
		m = mbuf_with_headroom(BX_WIRE_OUTER_LEN);
		assert_int_equal(bx_wire_outer_prepend(m, &golden_outer,
						       offload[i]),
				 0);
		assert_int_equal(m->data_off, 0);
		assert_int_equal(rte_pktmbuf_pkt_len(m), FRAME_LEN);
		rte_pktmbuf_free(m);
	}
}

static int
group_setup(void **state)
{
	(void)state;
	if (bx_test_eal_init("0") != 0)
		return -1;
	pool = rte_pktmbuf_pool_create("wire_test", POOL_SIZE, 0, 0,
				       RTE_PKTMBUF_HEADROOM + SEG_ROOM,
				       (int)rte_socket_id());
	return pool == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return 0;
}

/*
 * A template stamps exactly what bx_wire_outer_prepend's IP-only mode
 * writes: every payload length up to what fits an mbuf, for outers whose
 * header sums carry differently (addresses chosen so the IPv4 sum wraps
 * more than once, a TTL, ports), and the mbuf's fields match too.
 */
static void
test_tmpl_matches_prepend(void **state)
{
	struct bx_wire_outer outers[3];
	struct bx_wire_outer_tmpl t;
	uint8_t payload[1600];
	size_t i, len;

	(void)state;
	for (len = 0; len < sizeof(payload); len++)
		payload[len] = (uint8_t)(len * 7 + 3);
	outers[0] = golden_outer;
	outers[1] = golden_outer;
	outers[1].src_ip = RTE_BE32(UINT32_C(0xfffffffe));
	outers[1].dst_ip = RTE_BE32(UINT32_C(0xfffeffff));
	outers[1].ttl = 255;
	outers[2] = golden_outer;
	outers[2].src_ip = RTE_BE32(RTE_IPV4(10, 99, 0, 1));
	outers[2].dst_ip = RTE_BE32(RTE_IPV4(100, 64, 0, 2));
	outers[2].dst_port = RTE_BE16(7600);
	for (i = 0; i < BX_ARRAY_SIZE(outers); i++) {
		bx_wire_outer_tmpl_init(&t, &outers[i]);
		for (len = 0; len < sizeof(payload); len++) {
			struct rte_mbuf *a = mbuf_with_payload(payload, (uint16_t)len);
			struct rte_mbuf *b = mbuf_with_payload(payload, (uint16_t)len);

			a->ol_flags = b->ol_flags = RTE_MBUF_F_TX_UDP_CKSUM;
			assert_int_equal(bx_wire_outer_prepend(a, &outers[i],
							       BX_WIRE_CSUM_IP_ONLY), 0);
			assert_int_equal(bx_wire_outer_tmpl_prepend(b, &t), 0);
			assert_int_equal(rte_pktmbuf_pkt_len(b), rte_pktmbuf_pkt_len(a));
			assert_memory_equal(rte_pktmbuf_mtod(b, const uint8_t *),
					    rte_pktmbuf_mtod(a, const uint8_t *),
					    rte_pktmbuf_pkt_len(a));
			assert_int_equal(b->l2_len, BX_WIRE_ETH_LEN);
			assert_int_equal(b->l3_len, BX_WIRE_IPV4_LEN);
			assert_int_equal(b->l4_len, BX_WIRE_UDP_LEN);
			assert_true(b->ol_flags == 0);
			rte_pktmbuf_free(a);
			rte_pktmbuf_free(b);
		}
	}
}

/* The golden frame from a template (UDP checksum 0, as IP-only), which
 * parses and verifies; a template is reused across datagrams. */
static void
test_tmpl_golden(void **state)
{
	struct bx_wire_outer_tmpl t;
	uint8_t want[FRAME_LEN];
	struct bx_wire_udp_view v;
	int round;

	(void)state;
	memcpy(want, golden, FRAME_LEN);
	want[OFF_UDP_CSUM] = 0;
	want[OFF_UDP_CSUM + 1] = 0;
	bx_wire_outer_tmpl_init(&t, &golden_outer);
	for (round = 0; round < 2; round++) {
		struct rte_mbuf *m = mbuf_with_payload(golden + OFF_PAYLOAD,
						       PAYLOAD_LEN);

		assert_int_equal(bx_wire_outer_tmpl_prepend(m, &t), 0);
		assert_memory_equal(rte_pktmbuf_mtod(m, const uint8_t *), want,
				    FRAME_LEN);
		assert_int_equal(bx_wire_outer_parse(rte_pktmbuf_mtod(m, const void *),
						     FRAME_LEN, true, &v),
				 BX_DROP_NONE);
		assert_int_equal(v.payload_len, PAYLOAD_LEN);
		rte_pktmbuf_free(m);
	}
}

/* Refusals leave the mbuf as it was: a payload too big for IPv4, and one
 * headroom byte short; exactly enough headroom is enough. */
static void
test_tmpl_refusals(void **state)
{
	struct rte_mbuf *m = chain_with_payload(BX_WIRE_UDP_PAYLOAD_MAX + 1,
						SEG_ROOM);
	struct bx_wire_outer_tmpl t;
	uint16_t data_off = m->data_off;

	(void)state;
	bx_wire_outer_tmpl_init(&t, &golden_outer);
	assert_int_equal(bx_wire_outer_tmpl_prepend(m, &t), -EINVAL);
	assert_int_equal(m->data_off, data_off);
	assert_int_equal(rte_pktmbuf_pkt_len(m), BX_WIRE_UDP_PAYLOAD_MAX + 1);
	rte_pktmbuf_free(m);

	m = mbuf_with_headroom(BX_WIRE_OUTER_LEN - 1);
	assert_int_equal(bx_wire_outer_tmpl_prepend(m, &t), -ENOSPC);
	assert_int_equal(m->data_off, BX_WIRE_OUTER_LEN - 1);
	assert_int_equal(rte_pktmbuf_pkt_len(m), PAYLOAD_LEN);
	assert_memory_equal(rte_pktmbuf_mtod(m, const uint8_t *),
			    golden + OFF_PAYLOAD, PAYLOAD_LEN);
	rte_pktmbuf_free(m);

	m = mbuf_with_headroom(BX_WIRE_OUTER_LEN);
	assert_int_equal(bx_wire_outer_tmpl_prepend(m, &t), 0);
	assert_int_equal(m->data_off, 0);
	rte_pktmbuf_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_layout),
		cmocka_unit_test(test_decode_golden_header),
		cmocka_unit_test(test_encode_decode_roundtrip),
		cmocka_unit_test(test_decode_short_every_length),
		cmocka_unit_test(test_decode_bad_headers),
		cmocka_unit_test(test_copy_path_any_roundtrip),
		cmocka_unit_test(test_stun_vs_mesh),
		cmocka_unit_test(test_outer_build_golden),
		cmocka_unit_test(test_outer_build_ttl_no_udp_csum),
		cmocka_unit_test(test_outer_build_udp_csum_zero),
		cmocka_unit_test(test_outer_parse_golden),
		cmocka_unit_test(test_outer_parse_ip_options),
		cmocka_unit_test(test_outer_parse_ethernet_padding),
		cmocka_unit_test(test_outer_parse_udp_shorter_than_ip),
		cmocka_unit_test(test_outer_parse_reasons),
		cmocka_unit_test(test_outer_parse_no_verify),
		cmocka_unit_test(test_outer_parse_truncated),
		cmocka_unit_test(test_prepend_offload),
		cmocka_unit_test(test_prepend_ip_only),
		cmocka_unit_test(test_prepend_software),
		cmocka_unit_test(test_prepend_software_segments),
		cmocka_unit_test(test_prepend_too_big),
		cmocka_unit_test(test_prepend_no_headroom),
		cmocka_unit_test(test_outer_parse_csum_random),
		cmocka_unit_test(test_tmpl_matches_prepend),
		cmocka_unit_test(test_tmpl_golden),
		cmocka_unit_test(test_tmpl_refusals),
	};

	return cmocka_run_group_tests_name("wire", tests, group_setup,
					   group_teardown);
}
