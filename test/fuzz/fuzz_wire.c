/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for lib/wire. Every input is tried as a bare mesh
 * header and as a whole Ethernet frame (with and without checksum
 * verification). Beyond "no crash, no read past the end" (ASan), it
 * checks properties that must hold for any input:
 *  - a parsed frame's payload lies inside the input;
 *  - verification only adds checks: what parses verified parses unverified,
 *    to the same view;
 *  - a decoded header re-encodes to the same 16 bytes and decodes again to
 *    the same fields;
 *  - every refusal is a reason of the parser's own group, and checksum
 *    reasons appear only when verifying.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bx_common.h"
#include "bx_drop.h"
#include "bx_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
is_hdr_reason(enum bx_drop_reason r)
{
	switch (r) {
	case BX_DROP_HDR_SHORT:
	case BX_DROP_HDR_NOT_MESH:
	case BX_DROP_HDR_BAD_VERSION:
	case BX_DROP_HDR_BAD_TYPE:
	case BX_DROP_HDR_BAD_LANE:
	case BX_DROP_HDR_BAD_FLAGS:
	case BX_DROP_HDR_BAD_LEN:
		return true;
	default:
		return false;
	}
}

static void
check_header(const uint8_t *buf, size_t len)
{
	/* Room for the longest minimum: a data datagram with a lane
	 * sequence. */
	uint8_t re[BX_WIRE_HDR_LEN + BX_WIRE_SEQ_LEN + BX_WIRE_AEAD_TAG_LEN];
	struct bx_wire_info a, b;
	enum bx_drop_reason r;

	r = bx_wire_decode(buf, len, &a);
	if (r != BX_DROP_NONE) {
		BX_ASSERT(is_hdr_reason(r));
		return;
	}
	BX_ASSERT(len >= BX_WIRE_HDR_LEN);
	BX_ASSERT(a.type != BX_WIRE_DATA ||
		  len >= BX_WIRE_HDR_LEN + BX_WIRE_AEAD_TAG_LEN +
				 ((a.flags & BX_WIRE_F_SEQ) ? BX_WIRE_SEQ_LEN : 0u));
	BX_ASSERT(!(a.flags & BX_WIRE_F_SEQ) || a.type == BX_WIRE_DATA);

	/* Every bit of the header is a checked field: re-encoding is exact. */
	memset(re, 0, sizeof(re));
	bx_wire_encode(re, &a);
	BX_ASSERT(memcmp(re, buf, BX_WIRE_HDR_LEN) == 0);
	BX_ASSERT(bx_wire_decode(re, sizeof(re), &b) == BX_DROP_NONE);
	BX_ASSERT(a.type == b.type && a.flags == b.flags && a.lane == b.lane &&
		  a.path_id == b.path_id && a.rx_index == b.rx_index &&
		  a.counter == b.counter);
}

/* A refusal of the outer parser that does not depend on checksums. */
static bool
is_outer_shape_reason(enum bx_drop_reason r)
{
	switch (r) {
	case BX_DROP_ETH_SHORT:
	case BX_DROP_NOT_IPV4:
	case BX_DROP_IP_SHORT:
	case BX_DROP_IP_BAD_VERSION:
	case BX_DROP_IP_BAD_IHL:
	case BX_DROP_IP_BAD_LEN:
	case BX_DROP_IP_FRAGMENT:
	case BX_DROP_NOT_UDP:
	case BX_DROP_UDP_SHORT:
	case BX_DROP_UDP_BAD_LEN:
		return true;
	default:
		return false;
	}
}

static bool
views_equal(const struct bx_wire_udp_view *a, const struct bx_wire_udp_view *b)
{
	return memcmp(&a->src_mac, &b->src_mac, sizeof(a->src_mac)) == 0 &&
	       a->src_ip == b->src_ip && a->dst_ip == b->dst_ip &&
	       a->src_port == b->src_port && a->dst_port == b->dst_port &&
	       a->payload_off == b->payload_off &&
	       a->payload_len == b->payload_len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bx_wire_udp_view plain, verified;
	enum bx_drop_reason r, rv;

	check_header(data, size);

	r = bx_wire_outer_parse(data, size, false, &plain);
	rv = bx_wire_outer_parse(data, size, true, &verified);
	if (r != BX_DROP_NONE) {
		BX_ASSERT(is_outer_shape_reason(r));
		/* The IPv4 checksum is checked once the lengths are sane, so it
		 * may name a frame that is also wrong further in. */
		BX_ASSERT(rv == r ||
			  (rv == BX_DROP_IP_BAD_CSUM && r != BX_DROP_ETH_SHORT &&
			   r != BX_DROP_NOT_IPV4 && r != BX_DROP_IP_SHORT &&
			   r != BX_DROP_IP_BAD_VERSION &&
			   r != BX_DROP_IP_BAD_IHL && r != BX_DROP_IP_BAD_LEN));
		return 0;
	}
	BX_ASSERT(plain.payload_off >= BX_WIRE_OUTER_LEN);
	BX_ASSERT((size_t)plain.payload_off + plain.payload_len <= size);
	check_header(data + plain.payload_off, plain.payload_len);

	if (rv == BX_DROP_NONE)
		BX_ASSERT(views_equal(&plain, &verified));
	else
		BX_ASSERT(rv == BX_DROP_IP_BAD_CSUM || rv == BX_DROP_UDP_BAD_CSUM);
	return 0;
}
