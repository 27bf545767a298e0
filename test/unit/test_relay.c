/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/relay: messages, credentials, registry, forwarding table. Expected
 * keys, handles and MACs are computed here with one-shot
 * crypto_generichash over buffers laid out by hand, not with the
 * library's code. Parsers are fed exact-length heap copies so that ASan
 * catches any read past the end, and every failure is checked to leave
 * the out-parameters alone.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "bx_common.h"
#include "bx_relay.h"
#include "bx_wire.h"

#define NOW UINT64_C(1700000000)          /* 0x6553f100 */
#define EXPIRY (NOW + 86400)               /* 0x65554280 */
#define SEQ UINT64_C(1700000000123)        /* Unix ms */
#define LEASE 90u
#define ID_A "edge-7"
#define ID_B "gateway.b"
#define ID_C "robot_c"
#define IP(a, b, c, d)                                                         \
	RTE_BE32((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | \
		 (uint32_t)(d))
#define INNER_BODY_LEN 40u /* ciphertext + tag of the inner datagram */
#define INNER_LEN (BX_WIRE_HDR_LEN + INNER_BODY_LEN)
#define FWD_LEN (BX_RELAY_FORWARD_OVERHEAD + INNER_LEN)
#define OFF_COUNTER 8u
#define SENTINEL 0xa5
#define SCALE_NODES 10000u

static const uint8_t secret[BX_RELAY_SECRET_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
	0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
	0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
static const uint8_t other_secret[BX_RELAY_SECRET_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
	0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
	0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1e,
};

/* ---- Independent references ------------------------------------------- */

static void
ref_node_key(const uint8_t s[BX_RELAY_SECRET_LEN], const uint8_t *id,
	     size_t n, uint64_t expiry, uint8_t key[BX_RELAY_KEY_LEN])
{
	static const char label[] = "bauxite relay key v1";
	uint8_t msg[sizeof(label) - 1 + 8 + 1 + 255];
	size_t off = sizeof(label) - 1;
	int i;

	memcpy(msg, label, off);
	for (i = 7; i >= 0; i--)
		msg[off++] = (uint8_t)(expiry >> (8 * i));
	msg[off++] = (uint8_t)n;
	memcpy(msg + off, id, n);
	off += n;
	assert_int_equal(crypto_generichash(key, BX_RELAY_KEY_LEN, msg, off, s,
					    BX_RELAY_SECRET_LEN), 0);
}

static uint64_t
ref_handle(const char *id)
{
	static const char label[] = "bauxite relay handle v1";
	uint8_t msg[sizeof(label) - 1 + 64], h[32];
	size_t n = strlen(id), off = sizeof(label) - 1;
	uint64_t v = 0;
	int i;

	memcpy(msg, label, off);
	memcpy(msg + off, id, n);
	assert_int_equal(crypto_generichash(h, sizeof(h), msg, off + n, NULL, 0), 0);
	for (i = 0; i < 8; i++)
		v = v << 8 | h[i];
	return v != 0 ? v : 1;
}

static void
ref_mac(uint8_t out[BX_RELAY_MAC_LEN], const uint8_t *msg, size_t len,
	const uint8_t key[BX_RELAY_KEY_LEN])
{
	assert_int_equal(crypto_generichash(out, BX_RELAY_MAC_LEN, msg, len, key,
					    BX_RELAY_KEY_LEN), 0);
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint8_t *
dup_exact(const uint8_t *src, size_t len)
{
	uint8_t *p = malloc(len == 0 ? 1 : len);

	assert_non_null(p);
	memcpy(p, src, len);
	return p;
}

/* The relay's verify on an exact-length copy; @out untouched on failure. */
static enum bx_drop_reason
verify_exact(const uint8_t *s, const uint8_t *msg, size_t len, uint64_t now,
	     struct bx_relay_reg *out)
{
	struct bx_relay_reg sentinel;
	uint8_t *copy = dup_exact(msg, len);
	enum bx_drop_reason r;

	memset(out, SENTINEL, sizeof(*out));
	memset(&sentinel, SENTINEL, sizeof(sentinel));
	r = bx_relay_register_verify(s, copy, len, now, out);
	free(copy);
	if (r != BX_DROP_NONE)
		assert_memory_equal(out, &sentinel, sizeof(sentinel));
	return r;
}

static enum bx_drop_reason
registered_exact(const uint8_t *msg, size_t len, const uint8_t *key,
		 uint64_t seq, uint32_t *lease)
{
	uint8_t *copy = dup_exact(msg, len);
	enum bx_drop_reason r;

	*lease = 0xa5a5a5a5u;
	r = bx_relay_registered_check(copy, len, key, seq, lease);
	free(copy);
	if (r != BX_DROP_NONE)
		assert_int_equal(*lease, 0xa5a5a5a5u);
	return r;
}

static enum bx_drop_reason
refused_exact(const uint8_t *msg, size_t len, uint64_t seq,
	      enum bx_drop_reason *why)
{
	uint8_t *copy = dup_exact(msg, len);
	enum bx_drop_reason r;

	*why = BX_DROP__COUNT;
	r = bx_relay_refused_check(copy, len, seq, why);
	free(copy);
	if (r != BX_DROP_NONE)
		assert_int_equal(*why, BX_DROP__COUNT);
	return r;
}

/* A REGISTER from @id with its credential, verified by the relay. */
static struct bx_relay_reg
make_reg(const char *id, uint64_t expiry, uint64_t seq)
{
	uint8_t key[BX_RELAY_KEY_LEN], msg[BX_RELAY_REGISTER_MAX];
	struct bx_relay_reg r;
	int len;

	assert_int_equal(bx_relay_node_key(secret, id, expiry, key), 0);
	len = bx_relay_register_encode(msg, sizeof(msg), id, expiry, key, seq);
	assert_int_equal(len, (int)BX_RELAY_REGISTER_LEN(strlen(id)));
	assert_int_equal(verify_exact(secret, msg, (size_t)len, NOW, &r),
			 BX_DROP_NONE);
	return r;
}

/* A data datagram as a node would hand it to the relay, wrapped in FORWARD
 * for @dest. */
static void
make_forward(uint8_t fwd[FWD_LEN], uint64_t dest)
{
	struct bx_wire_info in = {
		.type = BX_WIRE_DATA,
		.lane = BX_LANE_BULK,
		.path_id = 1,
		.rx_index = 0x01020304u,
		.counter = 77,
	};
	size_t i;

	bx_relay_forward_hdr(fwd, dest);
	bx_wire_encode(fwd + BX_RELAY_FORWARD_OFF_INNER, &in);
	for (i = 0; i < INNER_BODY_LEN; i++)
		fwd[BX_RELAY_FORWARD_OFF_INNER + BX_WIRE_HDR_LEN + i] = (uint8_t)(0xc0 + i);
}

/* Forward on an exact-length copy; returns the reason, copies the result
 * back, and checks that a refusal writes nothing. */
static enum bx_drop_reason
forward_exact(const struct bx_relay_table *t, uint8_t *msg, size_t len,
	      rte_be32_t ip, rte_be16_t port, rte_be32_t *dip, rte_be16_t *dport)
{
	uint8_t *copy = dup_exact(msg, len);
	enum bx_drop_reason r;

	*dip = 0xa5a5a5a5u;
	*dport = 0xa5a5;
	r = bx_relay_forward(t, copy, len, ip, port, dip, dport, NULL);
	if (r != BX_DROP_NONE) {
		assert_memory_equal(copy, msg, len);
		assert_int_equal(*dip, 0xa5a5a5a5u);
		assert_int_equal(*dport, 0xa5a5);
	}
	memcpy(msg, copy, len);
	free(copy);
	return r;
}

/* ---- Ids, keys, handles ---------------------------------------------- */

static void
test_id_valid(void **state)
{
	static const struct {
		const char *id;
		bool valid;
	} cases[] = {
		{ "a", true },
		{ "edge-7", true },
		{ "!~", true },
		{ "012345678901234567890123456789012345678901234567890123456789012", true },
		{ "0123456789012345678901234567890123456789012345678901234567890123", false },
		{ "", false },
		{ "has space", false },
		{ "tab\tid", false },
		{ "del\x7f", false },
		{ "high\x80", false },
		{ "ctl\x1f", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		assert_int_equal(bx_relay_id_valid(cases[i].id), cases[i].valid);
		if (cases[i].valid)
			assert_true(bx_relay_handle(cases[i].id) == ref_handle(cases[i].id));
		else
			assert_true(bx_relay_handle(cases[i].id) == 0);
	}
}

static void
test_handle_known_answer(void **state)
{
	static const char *const ids[] = { ID_A, ID_B, ID_C, "x" };
	size_t i, j;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(ids); i++) {
		assert_true(bx_relay_handle(ids[i]) == ref_handle(ids[i]));
		assert_true(bx_relay_handle(ids[i]) != 0);
		for (j = 0; j < i; j++)
			assert_true(bx_relay_handle(ids[i]) != bx_relay_handle(ids[j]));
	}
}

static void
test_node_key_known_answer(void **state)
{
	uint8_t key[BX_RELAY_KEY_LEN], want[BX_RELAY_KEY_LEN];

	(void)state;
	ref_node_key(secret, (const uint8_t *)ID_A, strlen(ID_A), EXPIRY, want);
	assert_int_equal(bx_relay_node_key(secret, ID_A, EXPIRY, key), 0);
	assert_memory_equal(key, want, sizeof(key));

	ref_node_key(secret, (const uint8_t *)ID_B, strlen(ID_B), UINT64_MAX, want);
	assert_int_equal(bx_relay_node_key(secret, ID_B, UINT64_MAX, key), 0);
	assert_memory_equal(key, want, sizeof(key));
}

static void
test_node_key_deterministic_and_distinct(void **state)
{
	uint8_t k[5][BX_RELAY_KEY_LEN], again[BX_RELAY_KEY_LEN];
	uint8_t untouched[BX_RELAY_KEY_LEN];
	size_t i, j;

	(void)state;
	assert_int_equal(bx_relay_node_key(secret, ID_A, EXPIRY, k[0]), 0);
	assert_int_equal(bx_relay_node_key(secret, ID_A, EXPIRY, again), 0);
	assert_memory_equal(k[0], again, sizeof(again));

	assert_int_equal(bx_relay_node_key(secret, ID_B, EXPIRY, k[1]), 0);
	assert_int_equal(bx_relay_node_key(secret, ID_A, EXPIRY + 1, k[2]), 0);
	assert_int_equal(bx_relay_node_key(other_secret, ID_A, EXPIRY, k[3]), 0);
	/* "edge-7" vs "edge-" + expiry: the length byte keeps them apart. */
	assert_int_equal(bx_relay_node_key(secret, "edge-", EXPIRY, k[4]), 0);
	for (i = 0; i < BX_ARRAY_SIZE(k); i++)
		for (j = 0; j < i; j++)
			assert_memory_not_equal(k[i], k[j], BX_RELAY_KEY_LEN);

	memset(untouched, SENTINEL, sizeof(untouched));
	memcpy(again, untouched, sizeof(again));
	assert_int_equal(bx_relay_node_key(secret, "bad id", EXPIRY, again), -EINVAL);
	assert_int_equal(bx_relay_node_key(secret, "", EXPIRY, again), -EINVAL);
	assert_memory_equal(again, untouched, sizeof(again));
}

/* ---- REGISTER ------------------------------------------------------- */

static void
test_register_layout_and_roundtrip(void **state)
{
	static const char longest[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
	uint8_t key[BX_RELAY_KEY_LEN], msg[BX_RELAY_REGISTER_MAX];
	uint8_t want_mac[BX_RELAY_MAC_LEN];
	const size_t n = strlen(ID_A), want_len = 41 + n;
	struct bx_relay_reg r;
	int len;

	(void)state;
	ref_node_key(secret, (const uint8_t *)ID_A, n, EXPIRY, key);
	len = bx_relay_register_encode(msg, sizeof(msg), ID_A, EXPIRY, key, SEQ);
	assert_int_equal(len, (int)want_len);

	/* Header: tag | version 1 | type 6, flags, lane, op, rx_index, seq. */
	assert_int_equal(msg[0], 0x96);
	assert_int_equal(msg[1], 0);
	assert_int_equal(msg[2], 0);
	assert_int_equal(msg[3], BX_RELAY_OP_REGISTER);
	assert_int_equal(msg[4] | msg[5] | msg[6] | msg[7], 0);
	assert_true(get64(msg + 8) == SEQ);
	assert_int_equal(msg[16], n);
	assert_memory_equal(msg + 17, ID_A, n);
	assert_true(get64(msg + 17 + n) == EXPIRY);
	ref_mac(want_mac, msg, 25 + n, key);
	assert_memory_equal(msg + 25 + n, want_mac, BX_RELAY_MAC_LEN);
	assert_int_equal(bx_relay_msg_op(msg, want_len), BX_RELAY_OP_REGISTER);

	assert_int_equal(verify_exact(secret, msg, want_len, NOW, &r), BX_DROP_NONE);
	assert_string_equal(r.id, ID_A);
	assert_true(r.expiry_s == EXPIRY);
	assert_true(r.seq == SEQ);
	assert_true(r.handle == ref_handle(ID_A));

	/* Longest id. */
	assert_int_equal(strlen(longest), BX_RELAY_ID_MAX);
	r = make_reg(longest, EXPIRY, SEQ);
	assert_string_equal(r.id, longest);
}

static void
test_register_encode_errors(void **state)
{
	uint8_t key[BX_RELAY_KEY_LEN] = { 0 }, buf[BX_RELAY_REGISTER_MAX];
	uint8_t untouched[sizeof(buf)];

	(void)state;
	memset(buf, SENTINEL, sizeof(buf));
	memcpy(untouched, buf, sizeof(buf));
	assert_int_equal(bx_relay_register_encode(buf, sizeof(buf), "a b", EXPIRY,
						  key, SEQ), -EINVAL);
	assert_int_equal(bx_relay_register_encode(buf, BX_RELAY_REGISTER_LEN(6) - 1,
						  ID_A, EXPIRY, key, SEQ), -ENOSPC);
	assert_memory_equal(buf, untouched, sizeof(buf));
	assert_int_equal(bx_relay_register_encode(buf, BX_RELAY_REGISTER_LEN(6),
						  ID_A, EXPIRY, key, SEQ),
			 (int)BX_RELAY_REGISTER_LEN(6));
}

static void
test_register_wrong_credentials(void **state)
{
	uint8_t key[BX_RELAY_KEY_LEN], msg[BX_RELAY_REGISTER_MAX];
	struct bx_relay_reg r;
	int len;

	(void)state;
	/* Relay with another secret. */
	assert_int_equal(bx_relay_node_key(secret, ID_A, EXPIRY, key), 0);
	len = bx_relay_register_encode(msg, sizeof(msg), ID_A, EXPIRY, key, SEQ);
	assert_int_equal(verify_exact(other_secret, msg, (size_t)len, NOW, &r),
			 BX_DROP_RELAY_BAD_CREDENTIAL);
	/* A node claiming a later expiry than its key was made for. */
	len = bx_relay_register_encode(msg, sizeof(msg), ID_A, EXPIRY + 1, key, SEQ);
	assert_int_equal(verify_exact(secret, msg, (size_t)len, NOW, &r),
			 BX_DROP_RELAY_BAD_CREDENTIAL);
	/* Another node's key. */
	len = bx_relay_register_encode(msg, sizeof(msg), ID_B, EXPIRY, key, SEQ);
	assert_int_equal(verify_exact(secret, msg, (size_t)len, NOW, &r),
			 BX_DROP_RELAY_BAD_CREDENTIAL);
}

/*
 * Every byte of a REGISTER of "edge-7" (47 bytes) flipped by 0x01.
 * "edge-7" flips to other valid ids. The expiry is 00 00 00 00 65 55 42 80:
 * only 0x65 -> 0x64 (offset 27, -2^24 s) moves it before now; 0x55 -> 0x54
 * (-65536 s) still leaves it 20864 s ahead.
 */
static void
test_register_flip_every_byte(void **state)
{
	uint8_t key[BX_RELAY_KEY_LEN], msg[BX_RELAY_REGISTER_MAX];
	struct bx_relay_reg r;
	enum bx_drop_reason want;
	size_t i;
	int len;

	(void)state;
	assert_int_equal(bx_relay_node_key(secret, ID_A, EXPIRY, key), 0);
	len = bx_relay_register_encode(msg, sizeof(msg), ID_A, EXPIRY, key, SEQ);
	assert_int_equal(len, 47);
	for (i = 0; i < (size_t)len; i++) {
		if (i < 8 || i == 16)
			want = BX_DROP_RELAY_MALFORMED; /* header, id length */
		else if (i == 27)
			want = BX_DROP_RELAY_EXPIRED;
		else
			want = BX_DROP_RELAY_BAD_CREDENTIAL; /* seq, id, expiry, MAC */
		msg[i] ^= 0x01;
		assert_int_equal(verify_exact(secret, msg, (size_t)len, NOW, &r), want);
		msg[i] ^= 0x01;
	}
	assert_int_equal(verify_exact(secret, msg, (size_t)len, NOW, &r), BX_DROP_NONE);
}

static void
test_register_expired(void **state)
{
	struct bx_relay_reg r;
	uint8_t key[BX_RELAY_KEY_LEN], msg[BX_RELAY_REGISTER_MAX];
	int len;

	(void)state;
	assert_int_equal(bx_relay_node_key(secret, ID_A, EXPIRY, key), 0);
	len = bx_relay_register_encode(msg, sizeof(msg), ID_A, EXPIRY, key, SEQ);
	assert_int_equal(verify_exact(secret, msg, (size_t)len, EXPIRY - 1, &r),
			 BX_DROP_NONE);
	assert_int_equal(verify_exact(secret, msg, (size_t)len, EXPIRY, &r),
			 BX_DROP_RELAY_EXPIRED);
	assert_int_equal(verify_exact(secret, msg, (size_t)len, EXPIRY + 3600, &r),
			 BX_DROP_RELAY_EXPIRED);
}

static void
test_register_truncated_and_long(void **state)
{
	uint8_t key[BX_RELAY_KEY_LEN], msg[BX_RELAY_REGISTER_MAX + 1];
	struct bx_relay_reg r;
	size_t i;
	int len;

	(void)state;
	assert_int_equal(bx_relay_node_key(secret, ID_A, EXPIRY, key), 0);
	len = bx_relay_register_encode(msg, sizeof(msg), ID_A, EXPIRY, key, SEQ);
	for (i = 0; i < (size_t)len; i++)
		assert_int_equal(verify_exact(secret, msg, i, NOW, &r),
				 BX_DROP_RELAY_MALFORMED);
	msg[len] = 0;
	assert_int_equal(verify_exact(secret, msg, (size_t)len + 1, NOW, &r),
			 BX_DROP_RELAY_MALFORMED);
}

/*
 * REGISTERs whose MAC is right for their bytes (made here with the
 * reference key), so only the id rule can refuse them.
 */
static void
test_register_bad_ids(void **state)
{
	static const struct {
		const char *id;
		size_t n;
	} cases[] = {
		{ "", 0 },
		{ "a b", 3 },
		{ "a\x7f", 2 },
		{ "a\x1f", 2 },
		{ "nul\0in", 6 },
		{ "\xc3\xa9t\xc3\xa9", 6 },
		{ "0123456789012345678901234567890123456789012345678901234567890123", 64 },
	};
	uint8_t msg[256], key[BX_RELAY_KEY_LEN];
	struct bx_relay_reg r;
	size_t i, n, len;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		n = cases[i].n;
		len = 41 + n;
		memset(msg, 0, sizeof(msg));
		msg[0] = 0x96;
		msg[3] = BX_RELAY_OP_REGISTER;
		put64(msg + 8, SEQ);
		msg[16] = (uint8_t)n;
		memcpy(msg + 17, cases[i].id, n);
		put64(msg + 17 + n, EXPIRY);
		ref_node_key(secret, (const uint8_t *)cases[i].id, n, EXPIRY, key);
		ref_mac(msg + 25 + n, msg, 25 + n, key);
		assert_int_equal(verify_exact(secret, msg, len, NOW, &r),
				 BX_DROP_RELAY_MALFORMED);
		/* The same bytes with a valid id do verify: only the id failed. */
		memcpy(msg + 17, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl", n);
		ref_node_key(secret, msg + 17, n, EXPIRY, key);
		ref_mac(msg + 25 + n, msg, 25 + n, key);
		if (n >= 1 && n <= BX_RELAY_ID_MAX)
			assert_int_equal(verify_exact(secret, msg, len, NOW, &r),
					 BX_DROP_NONE);
	}
}

/* ---- REGISTERED, REFUSED, ops --------------------------------------- */

static void
test_registered_roundtrip(void **state)
{
	struct bx_relay_reg r = make_reg(ID_A, EXPIRY, SEQ);
	uint8_t key[BX_RELAY_KEY_LEN], msg[BX_RELAY_REGISTERED_LEN];
	uint8_t untouched[sizeof(msg)], want_mac[BX_RELAY_MAC_LEN];
	uint32_t lease;

	(void)state;
	ref_node_key(secret, (const uint8_t *)ID_A, strlen(ID_A), EXPIRY, key);
	memset(msg, SENTINEL, sizeof(msg));
	memcpy(untouched, msg, sizeof(msg));
	assert_int_equal(bx_relay_registered_encode(msg, sizeof(msg) - 1, secret,
						    &r, LEASE), -ENOSPC);
	assert_memory_equal(msg, untouched, sizeof(msg));
	assert_int_equal(bx_relay_registered_encode(msg, sizeof(msg), secret, &r,
						    0x01020304u), 36);
	assert_int_equal(msg[0], 0x96);
	assert_int_equal(msg[3], BX_RELAY_OP_REGISTERED);
	assert_true(get64(msg + 8) == SEQ);
	assert_int_equal(msg[16], 0x01);
	assert_int_equal(msg[19], 0x04);
	ref_mac(want_mac, msg, 20, key);
	assert_memory_equal(msg + 20, want_mac, sizeof(want_mac));
	assert_int_equal(bx_relay_msg_op(msg, sizeof(msg)), BX_RELAY_OP_REGISTERED);

	assert_int_equal(registered_exact(msg, sizeof(msg), key, SEQ, &lease),
			 BX_DROP_NONE);
	assert_int_equal(lease, 0x01020304u);
	assert_int_equal(registered_exact(msg, sizeof(msg), key, SEQ + 1, &lease),
			 BX_DROP_RELAY_REPLAYED);
	key[0] ^= 1;
	assert_int_equal(registered_exact(msg, sizeof(msg), key, SEQ, &lease),
			 BX_DROP_RELAY_BAD_CREDENTIAL);
	key[0] ^= 1;

	strcpy(r.id, "bad id");
	assert_int_equal(bx_relay_registered_encode(msg, sizeof(msg), secret, &r,
						    LEASE), -EINVAL);
}

static void
test_registered_flip_and_truncate(void **state)
{
	struct bx_relay_reg r = make_reg(ID_B, EXPIRY, SEQ);
	uint8_t key[BX_RELAY_KEY_LEN], msg[BX_RELAY_REGISTERED_LEN + 1] = { 0 };
	enum bx_drop_reason want;
	uint32_t lease;
	size_t i;

	(void)state;
	assert_int_equal(bx_relay_node_key(secret, ID_B, EXPIRY, key), 0);
	assert_int_equal(bx_relay_registered_encode(msg, sizeof(msg), secret, &r,
						    LEASE), 36);
	for (i = 0; i < BX_RELAY_REGISTERED_LEN; i++) {
		if (i < 8)
			want = BX_DROP_RELAY_MALFORMED;
		else if (i < 16)
			want = BX_DROP_RELAY_REPLAYED; /* answers another seq */
		else
			want = BX_DROP_RELAY_BAD_CREDENTIAL; /* lease, MAC */
		msg[i] ^= 0x01;
		assert_int_equal(registered_exact(msg, 36, key, SEQ, &lease), want);
		msg[i] ^= 0x01;
	}
	for (i = 0; i < BX_RELAY_REGISTERED_LEN; i++)
		assert_int_equal(registered_exact(msg, i, key, SEQ, &lease),
				 BX_DROP_RELAY_MALFORMED);
	assert_int_equal(registered_exact(msg, 37, key, SEQ, &lease),
			 BX_DROP_RELAY_MALFORMED);
	assert_int_equal(registered_exact(msg, 36, key, SEQ, &lease), BX_DROP_NONE);
	assert_int_equal(lease, LEASE);
}

static void
test_refused(void **state)
{
	uint8_t msg[BX_RELAY_REFUSED_LEN + 1] = { 0 }, untouched[sizeof(msg)];
	enum bx_drop_reason why;
	size_t i;

	(void)state;
	memcpy(untouched, msg, sizeof(msg));
	assert_int_equal(bx_relay_refused_encode(msg, sizeof(msg), SEQ, BX_DROP_NONE),
			 -EINVAL);
	assert_int_equal(bx_relay_refused_encode(msg, sizeof(msg), SEQ, BX_DROP__COUNT),
			 -EINVAL);
	assert_int_equal(bx_relay_refused_encode(msg, 16, SEQ, BX_DROP_RELAY_EXPIRED),
			 -ENOSPC);
	assert_memory_equal(msg, untouched, sizeof(msg));

	assert_int_equal(bx_relay_refused_encode(msg, sizeof(msg), SEQ,
						 BX_DROP_RELAY_EXPIRED), 17);
	assert_int_equal(msg[0], 0x96);
	assert_int_equal(msg[3], BX_RELAY_OP_REFUSED);
	assert_true(get64(msg + 8) == SEQ);
	assert_int_equal(msg[16], BX_DROP_RELAY_EXPIRED);
	assert_int_equal(bx_relay_msg_op(msg, 17), BX_RELAY_OP_REFUSED);

	assert_int_equal(refused_exact(msg, 17, SEQ, &why), BX_DROP_NONE);
	assert_int_equal(why, BX_DROP_RELAY_EXPIRED);
	assert_int_equal(refused_exact(msg, 17, SEQ - 1, &why), BX_DROP_RELAY_REPLAYED);
	for (i = 0; i < 17; i++)
		assert_int_equal(refused_exact(msg, i, SEQ, &why), BX_DROP_RELAY_MALFORMED);
	assert_int_equal(refused_exact(msg, 18, SEQ, &why), BX_DROP_RELAY_MALFORMED);
	msg[16] = BX_DROP_NONE;
	assert_int_equal(refused_exact(msg, 17, SEQ, &why), BX_DROP_RELAY_MALFORMED);
	msg[16] = BX_DROP__COUNT;
	assert_int_equal(refused_exact(msg, 17, SEQ, &why), BX_DROP_RELAY_MALFORMED);
	msg[16] = BX_DROP__COUNT - 1;
	assert_int_equal(refused_exact(msg, 17, SEQ, &why), BX_DROP_NONE);
	assert_int_equal(why, BX_DROP__COUNT - 1);
}

static void
test_msg_op(void **state)
{
	static const struct {
		uint8_t hdr[BX_WIRE_HDR_LEN];
		size_t len;
		enum bx_relay_op op;
	} cases[] = {
		{ { 0x96, 0, 0, 1 }, 16, BX_RELAY_OP_REGISTER },
		{ { 0x96, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff }, 16, BX_RELAY_OP_REGISTERED },
		{ { 0x96, 0, 0, 3 }, 16, BX_RELAY_OP_FORWARD },
		{ { 0x96, 0, 0, 4 }, 16, BX_RELAY_OP_REFUSED },
		{ { 0x96, 0, 0, 1 }, 15, BX_RELAY_OP_NONE },     /* short */
		{ { 0x96, 0, 0, 0 }, 16, BX_RELAY_OP_NONE },     /* op 0 */
		{ { 0x96, 0, 0, 5 }, 16, BX_RELAY_OP_NONE },     /* op 5 */
		{ { 0x91, 0, 0, 1 }, 16, BX_RELAY_OP_NONE },     /* data */
		{ { 0xa6, 0, 0, 1 }, 16, BX_RELAY_OP_NONE },     /* version 2 */
		{ { 0x16, 0, 0, 1 }, 16, BX_RELAY_OP_NONE },     /* not mesh */
		{ { 0x96, 1, 0, 1 }, 16, BX_RELAY_OP_NONE },     /* flags */
		{ { 0x96, 0, 1, 1 }, 16, BX_RELAY_OP_NONE },     /* lane */
		{ { 0x96, 0, 0, 1, 0, 0, 0, 1 }, 16, BX_RELAY_OP_NONE }, /* rx_index */
	};
	uint8_t *copy;
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		copy = dup_exact(cases[i].hdr, cases[i].len);
		assert_int_equal(bx_relay_msg_op(copy, cases[i].len), cases[i].op);
		free(copy);
	}
}

/* ---- Registry ------------------------------------------------------- */

static void
test_lease_grant(void **state)
{
	static const struct {
		uint64_t expiry, now;
		uint32_t lease, want;
	} cases[] = {
		{ NOW + 1000, NOW, 90, 90 },
		{ NOW + 90, NOW, 90, 90 },
		{ NOW + 30, NOW, 90, 30 },
		{ NOW + 1, NOW, 90, 1 },
		{ NOW, NOW, 90, 0 },
		{ NOW - 1, NOW, 90, 0 },
		{ UINT64_MAX, NOW, UINT32_MAX, UINT32_MAX },
		{ NOW + 1000, NOW, 0, 0 },
	};
	struct bx_relay_reg r = { .id = ID_A };
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		r.expiry_s = cases[i].expiry;
		assert_int_equal(bx_relay_lease_grant(&r, cases[i].now, cases[i].lease),
				 cases[i].want);
	}
}

static void
test_registry_create_bad(void **state)
{
	(void)state;
	errno = 0;
	assert_null(bx_relay_registry_create(0));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(bx_relay_registry_create(BX_RELAY_MAX_NODES + 1));
	assert_int_equal(errno, EINVAL);
	bx_relay_registry_free(NULL);
	bx_relay_table_free(NULL);
}

/* Where @t sends a FORWARD from @ip:@port to @dest, or the refusal. */
static enum bx_drop_reason
route(const struct bx_relay_table *t, rte_be32_t ip, rte_be16_t port,
      uint64_t dest, rte_be32_t *dip, rte_be16_t *dport)
{
	uint8_t fwd[FWD_LEN];

	make_forward(fwd, dest);
	return forward_exact(t, fwd, sizeof(fwd), ip, port, dip, dport);
}

/* Builds a table and checks that @id is reachable at @ip:@port (from
 * @via, a registered node) or not at all. */
static void
assert_at(const struct bx_relay_registry *reg, const char *id, rte_be32_t ip,
	  rte_be16_t port, rte_be32_t via_ip, rte_be16_t via_port)
{
	struct bx_relay_table *t = bx_relay_table_build(reg);
	rte_be32_t dip;
	rte_be16_t dport;

	assert_non_null(t);
	if (ip == 0) {
		assert_int_equal(route(t, via_ip, via_port, bx_relay_handle(id),
				       &dip, &dport), BX_DROP_RELAY_NO_DEST);
	} else {
		assert_int_equal(route(t, via_ip, via_port, bx_relay_handle(id),
				       &dip, &dport), BX_DROP_NONE);
		assert_int_equal(dip, ip);
		assert_int_equal(dport, port);
	}
	bx_relay_table_free(t);
}

static void
test_registry_new_refresh_moved(void **state)
{
	struct bx_relay_registry *reg = bx_relay_registry_create(4);
	struct bx_relay_reg a = make_reg(ID_A, EXPIRY, SEQ);
	struct bx_relay_reg b = make_reg(ID_B, EXPIRY, SEQ);
	const rte_be32_t ip_a = IP(198, 51, 100, 1), ip_b = IP(203, 0, 113, 9);
	const rte_be16_t pa = RTE_BE16(40000), pb = RTE_BE16(50000);

	(void)state;
	assert_non_null(reg);
	assert_int_equal(bx_relay_registry_count(reg), 0);
	assert_int_equal(bx_relay_registry_accept(reg, &a, ip_a, pa, NOW, LEASE, 0), 1);
	assert_int_equal(bx_relay_registry_accept(reg, &b, ip_b, pb, NOW, LEASE, 0), 1);
	assert_int_equal(bx_relay_registry_count(reg), 2);
	assert_at(reg, ID_A, ip_a, pa, ip_b, pb);

	/* Refresh: same address, later seq. */
	a.seq++;
	assert_int_equal(bx_relay_registry_accept(reg, &a, ip_a, pa, NOW + 20, LEASE, 0), 0);
	assert_int_equal(bx_relay_registry_count(reg), 2);

	/* New NAT port, then new address: moved. */
	a.seq++;
	assert_int_equal(bx_relay_registry_accept(reg, &a, ip_a, RTE_BE16(40001),
						  NOW + 30, LEASE, 0), 1);
	assert_at(reg, ID_A, ip_a, RTE_BE16(40001), ip_b, pb);
	a.seq++;
	assert_int_equal(bx_relay_registry_accept(reg, &a, IP(198, 51, 100, 2),
						  RTE_BE16(40001), NOW + 40, LEASE, 0), 1);
	assert_at(reg, ID_A, IP(198, 51, 100, 2), RTE_BE16(40001), ip_b, pb);
	assert_int_equal(bx_relay_registry_count(reg), 2);
	bx_relay_registry_free(reg);
}

/* The hop a node registered with is what forwarding to it gives back, and
 * a new hop (the way back changed) rebuilds the table. */
static void
test_registry_hop(void **state)
{
	struct bx_relay_registry *reg = bx_relay_registry_create(4);
	struct bx_relay_reg a = make_reg(ID_A, EXPIRY, SEQ);
	struct bx_relay_reg b = make_reg(ID_B, EXPIRY, SEQ);
	const rte_be32_t ip_a = IP(198, 51, 100, 1), ip_b = IP(203, 0, 113, 9);
	const rte_be16_t pa = RTE_BE16(40000), pb = RTE_BE16(50000);
	struct bx_relay_table *t;
	uint8_t fwd[FWD_LEN];
	rte_be32_t dip;
	rte_be16_t dport;
	uint64_t hop = 0;

	(void)state;
	assert_non_null(reg);
	assert_int_equal(bx_relay_registry_accept(reg, &a, ip_a, pa, NOW, LEASE, 0xa1), 1);
	assert_int_equal(bx_relay_registry_accept(reg, &b, ip_b, pb, NOW, LEASE, 0xb1), 1);
	t = bx_relay_table_build(reg);
	assert_non_null(t);
	make_forward(fwd, bx_relay_handle(ID_B));
	assert_int_equal(bx_relay_forward(t, fwd, sizeof(fwd), ip_a, pa, &dip, &dport,
					  &hop), BX_DROP_NONE);
	assert_true(hop == 0xb1);
	bx_relay_table_free(t);

	b.seq++;
	assert_int_equal(bx_relay_registry_accept(reg, &b, ip_b, pb, NOW + 1, LEASE, 0xb2), 1);
	t = bx_relay_table_build(reg);
	assert_non_null(t);
	make_forward(fwd, bx_relay_handle(ID_B));
	assert_int_equal(bx_relay_forward(t, fwd, sizeof(fwd), ip_a, pa, &dip, &dport,
					  &hop), BX_DROP_NONE);
	assert_true(hop == 0xb2);
	assert_int_equal(dip, ip_b);
	bx_relay_table_free(t);
	bx_relay_registry_free(reg);
}

static void
test_registry_replay(void **state)
{
	struct bx_relay_registry *reg = bx_relay_registry_create(4);
	struct bx_relay_reg a = make_reg(ID_A, EXPIRY, SEQ);
	struct bx_relay_reg old = a;
	const rte_be32_t ip_a = IP(198, 51, 100, 1), evil = IP(192, 0, 2, 66);

	(void)state;
	assert_int_equal(bx_relay_registry_accept(reg, &a, ip_a, 1000, NOW, LEASE, 0), 1);
	/* The same REGISTER again, from anywhere: refused, nothing moves. */
	assert_int_equal(bx_relay_registry_accept(reg, &a, ip_a, 1000, NOW, LEASE, 0),
			 -EALREADY);
	assert_int_equal(bx_relay_registry_accept(reg, &a, evil, 1000, NOW, LEASE, 0),
			 -EALREADY);
	a.seq = SEQ + 10;
	assert_int_equal(bx_relay_registry_accept(reg, &a, ip_a, 1000, NOW, LEASE, 0), 0);
	old.seq = SEQ + 9;
	assert_int_equal(bx_relay_registry_accept(reg, &old, evil, 1000, NOW, LEASE, 0),
			 -EALREADY);
	assert_at(reg, ID_A, ip_a, 1000, ip_a, 1000);

	/* After the lease ran out the seq is still remembered. */
	assert_true(bx_relay_registry_expire(reg, NOW + LEASE));
	assert_int_equal(bx_relay_registry_count(reg), 0);
	assert_int_equal(bx_relay_registry_accept(reg, &old, evil, 1000,
						  NOW + LEASE, LEASE, 0), -EALREADY);
	a.seq++;
	assert_int_equal(bx_relay_registry_accept(reg, &a, ip_a, 1000, NOW + LEASE,
						  LEASE, 0), 1);
	assert_int_equal(bx_relay_registry_count(reg), 1);
	bx_relay_registry_free(reg);
}

static void
test_registry_full(void **state)
{
	struct bx_relay_registry *reg = bx_relay_registry_create(2);
	/* A's credential expires first, but A holds a lease: never evicted. */
	struct bx_relay_reg a = make_reg(ID_A, EXPIRY - 1000, SEQ);
	struct bx_relay_reg b = make_reg(ID_B, EXPIRY, SEQ);
	struct bx_relay_reg c = make_reg(ID_C, EXPIRY, SEQ);
	struct bx_relay_table *t;

	(void)state;
	assert_int_equal(bx_relay_registry_accept(reg, &a, IP(10, 0, 0, 1), 1, NOW, LEASE, 0), 1);
	assert_int_equal(bx_relay_registry_accept(reg, &b, IP(10, 0, 0, 2), 2, NOW, 30, 0), 1);
	assert_int_equal(bx_relay_registry_accept(reg, &c, IP(10, 0, 0, 3), 3, NOW, LEASE, 0),
			 -ENOSPC);
	assert_int_equal(bx_relay_accept_reason(-ENOSPC), BX_DROP_RELAY_FULL);
	assert_int_equal(bx_relay_registry_count(reg), 2);
	assert_at(reg, ID_C, 0, 0, IP(10, 0, 0, 1), 1);

	/* A node whose lease ended gives its place up to a new one. */
	assert_true(bx_relay_registry_expire(reg, NOW + 30));
	assert_int_equal(bx_relay_registry_accept(reg, &c, IP(10, 0, 0, 3), 3, NOW + 30,
						  LEASE, 0), 1);
	assert_int_equal(bx_relay_registry_count(reg), 2);
	t = bx_relay_table_build(reg);
	assert_non_null(t);
	assert_int_equal(bx_relay_table_count(t), 2);
	bx_relay_table_free(t);
	assert_at(reg, ID_C, IP(10, 0, 0, 3), 3, IP(10, 0, 0, 1), 1);
	assert_at(reg, ID_A, IP(10, 0, 0, 1), 1, IP(10, 0, 0, 3), 3);
	assert_at(reg, ID_B, 0, 0, IP(10, 0, 0, 1), 1);

	/* Full again, now with two leased nodes: B cannot come back. */
	b.seq++;
	assert_int_equal(bx_relay_registry_accept(reg, &b, IP(10, 0, 0, 2), 2, NOW + 31,
						  LEASE, 0), -ENOSPC);
	bx_relay_registry_free(reg);
}

/*
 * When a new node needs a place, the remembered node whose credential
 * expires first is forgotten: its old REGISTER is then a new node again,
 * while the other's is still a replay.
 */
static void
test_registry_evicts_oldest_remembered(void **state)
{
	struct bx_relay_registry *reg = bx_relay_registry_create(3);
	struct bx_relay_reg a = make_reg(ID_A, EXPIRY, SEQ);
	struct bx_relay_reg b = make_reg(ID_B, EXPIRY, SEQ);
	struct bx_relay_reg c = make_reg(ID_C, EXPIRY - 100, SEQ);
	struct bx_relay_reg d = make_reg("node-d", EXPIRY, SEQ);

	(void)state;
	assert_int_equal(bx_relay_registry_accept(reg, &a, 1, 1, NOW, LEASE, 0), 1);
	assert_int_equal(bx_relay_registry_accept(reg, &b, 2, 2, NOW, 10, 0), 1);
	assert_int_equal(bx_relay_registry_accept(reg, &c, 3, 3, NOW, 10, 0), 1);
	assert_true(bx_relay_registry_expire(reg, NOW + 10));
	assert_int_equal(bx_relay_registry_count(reg), 1);

	assert_int_equal(bx_relay_registry_accept(reg, &d, 4, 4, NOW + 10, LEASE, 0), 1);
	assert_int_equal(bx_relay_registry_accept(reg, &b, 2, 2, NOW + 10, LEASE, 0),
			 -EALREADY);
	/* C was forgotten; taking its place again forgets B. */
	assert_int_equal(bx_relay_registry_accept(reg, &c, 3, 3, NOW + 10, LEASE, 0), 1);
	assert_int_equal(bx_relay_registry_accept(reg, &b, 2, 2, NOW + 10, LEASE, 0),
			 -ENOSPC);
	assert_int_equal(bx_relay_registry_count(reg), 3);
	bx_relay_registry_free(reg);
}

static void
test_registry_expiry(void **state)
{
	struct bx_relay_registry *reg = bx_relay_registry_create(4);
	/* A's credential runs out before its lease would. */
	struct bx_relay_reg a = make_reg(ID_A, NOW + 60, SEQ);
	struct bx_relay_reg b = make_reg(ID_B, EXPIRY, SEQ);
	const rte_be32_t ip_b = IP(10, 0, 0, 2);

	(void)state;
	assert_int_equal(bx_relay_registry_accept(reg, &a, IP(10, 0, 0, 1), 1, NOW, LEASE, 0), 1);
	assert_int_equal(bx_relay_registry_accept(reg, &b, ip_b, 2, NOW, LEASE, 0), 1);

	assert_false(bx_relay_registry_expire(reg, NOW + 59));
	assert_at(reg, ID_A, IP(10, 0, 0, 1), 1, ip_b, 2);
	assert_true(bx_relay_registry_expire(reg, NOW + 60));
	assert_int_equal(bx_relay_registry_count(reg), 1);
	assert_at(reg, ID_A, 0, 0, ip_b, 2);
	assert_false(bx_relay_registry_expire(reg, NOW + 60));

	assert_false(bx_relay_registry_expire(reg, NOW + LEASE - 1));
	assert_at(reg, ID_B, ip_b, 2, ip_b, 2);
	assert_true(bx_relay_registry_expire(reg, NOW + LEASE));
	assert_int_equal(bx_relay_registry_count(reg), 0);
	/* B remembered until its credential expires, then forgotten; neither
	 * changes the table. */
	assert_false(bx_relay_registry_expire(reg, EXPIRY));
	b.seq = 0;
	b.expiry_s = EXPIRY + 1;
	assert_int_equal(bx_relay_registry_accept(reg, &b, ip_b, 2, EXPIRY, LEASE, 0), 1);
	bx_relay_registry_free(reg);
}

static void
test_registry_accept_invalid(void **state)
{
	struct bx_relay_registry *reg = bx_relay_registry_create(4);
	struct bx_relay_reg a = make_reg(ID_A, EXPIRY, SEQ), bad;

	(void)state;
	assert_int_equal(bx_relay_registry_accept(reg, &a, 1, 1, EXPIRY, LEASE, 0), -EINVAL);
	assert_int_equal(bx_relay_registry_accept(reg, &a, 1, 1, NOW, 0, 0), -EINVAL);
	bad = a;
	bad.handle++;
	assert_int_equal(bx_relay_registry_accept(reg, &bad, 1, 1, NOW, LEASE, 0), -EINVAL);
	bad = a;
	strcpy(bad.id, "a b");
	assert_int_equal(bx_relay_registry_accept(reg, &bad, 1, 1, NOW, LEASE, 0), -EINVAL);
	bad = a;
	memset(bad.id, 'x', sizeof(bad.id));
	assert_int_equal(bx_relay_registry_accept(reg, &bad, 1, 1, NOW, LEASE, 0), -EINVAL);
	assert_int_equal(bx_relay_registry_count(reg), 0);
	assert_int_equal(bx_relay_registry_accept(reg, &a, 1, 1, NOW, LEASE, 0), 1);
	bx_relay_registry_free(reg);
}

static void
test_accept_reason(void **state)
{
	static const struct {
		int rc;
		enum bx_drop_reason want;
	} cases[] = {
		{ 1, BX_DROP_NONE },
		{ 0, BX_DROP_NONE },
		{ -EALREADY, BX_DROP_RELAY_REPLAYED },
		{ -ENOSPC, BX_DROP_RELAY_FULL },
		{ -EEXIST, BX_DROP_RELAY_FULL },
		{ -EINVAL, BX_DROP_RELAY_MALFORMED },
	};
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++)
		assert_int_equal(bx_relay_accept_reason(cases[i].rc), cases[i].want);
}

/* ---- Forwarding ----------------------------------------------------- */

struct fixture {
	struct bx_relay_registry *reg;
	struct bx_relay_table *t;
};

#define IP_A IP(198, 51, 100, 1)
#define PORT_A RTE_BE16(40000)
#define IP_B IP(203, 0, 113, 9)
#define PORT_B RTE_BE16(50000)

static int
fwd_setup(void **state)
{
	static struct fixture f;
	struct bx_relay_reg a = make_reg(ID_A, EXPIRY, SEQ);
	struct bx_relay_reg b = make_reg(ID_B, EXPIRY, SEQ);

	f.reg = bx_relay_registry_create(8);
	if (f.reg == NULL ||
	    bx_relay_registry_accept(f.reg, &a, IP_A, PORT_A, NOW, LEASE, 0) != 1 ||
	    bx_relay_registry_accept(f.reg, &b, IP_B, PORT_B, NOW, LEASE, 0) != 1)
		return -1;
	f.t = bx_relay_table_build(f.reg);
	if (f.t == NULL)
		return -1;
	*state = &f;
	return 0;
}

static int
fwd_teardown(void **state)
{
	struct fixture *f = *state;

	bx_relay_table_free(f->t);
	bx_relay_registry_free(f->reg);
	return 0;
}

static void
test_forward_rewrites_counter_only(void **state)
{
	struct fixture *f = *state;
	uint8_t fwd[FWD_LEN], orig[FWD_LEN];
	rte_be32_t dip;
	rte_be16_t dport;
	uint64_t from;
	size_t off;

	make_forward(fwd, bx_relay_handle(ID_B));
	memcpy(orig, fwd, sizeof(fwd));
	assert_int_equal(bx_relay_msg_op(fwd, sizeof(fwd)), BX_RELAY_OP_FORWARD);
	assert_true(get64(fwd + OFF_COUNTER) == ref_handle(ID_B));
	assert_int_equal(forward_exact(f->t, fwd, sizeof(fwd), IP_A, PORT_A, &dip,
				       &dport), BX_DROP_NONE);
	assert_int_equal(dip, IP_B);
	assert_int_equal(dport, PORT_B);
	assert_true(get64(fwd + OFF_COUNTER) == ref_handle(ID_A));
	assert_memory_equal(fwd, orig, OFF_COUNTER);
	assert_memory_equal(fwd + 16, orig + 16, sizeof(fwd) - 16);

	/* B unwraps it: from A, the inner datagram as A sent it. */
	assert_int_equal(bx_relay_unwrap(fwd, sizeof(fwd), &from, &off), BX_DROP_NONE);
	assert_true(from == ref_handle(ID_A));
	assert_int_equal(off, 16);
	assert_memory_equal(fwd + off, orig + 16, INNER_LEN);

	/* And B's answer goes back to A. */
	make_forward(fwd, from);
	assert_int_equal(forward_exact(f->t, fwd, sizeof(fwd), IP_B, PORT_B, &dip,
				       &dport), BX_DROP_NONE);
	assert_int_equal(dip, IP_A);
	assert_int_equal(dport, PORT_A);
	assert_true(get64(fwd + OFF_COUNTER) == ref_handle(ID_B));
}

static void
test_forward_unregistered_and_no_dest(void **state)
{
	struct fixture *f = *state;
	struct bx_relay_registry *empty;
	struct bx_relay_table *t;
	rte_be32_t dip;
	rte_be16_t dport;

	/* Right IP, wrong port; unknown IP. */
	assert_int_equal(route(f->t, IP_A, RTE_BE16(40001), bx_relay_handle(ID_B),
			       &dip, &dport), BX_DROP_RELAY_UNREGISTERED);
	assert_int_equal(route(f->t, IP(192, 0, 2, 1), PORT_A, bx_relay_handle(ID_B),
			       &dip, &dport), BX_DROP_RELAY_UNREGISTERED);
	assert_int_equal(route(f->t, IP_A, PORT_A, bx_relay_handle(ID_C), &dip, &dport),
			 BX_DROP_RELAY_NO_DEST);
	assert_int_equal(route(f->t, IP_A, PORT_A, 0, &dip, &dport),
			 BX_DROP_RELAY_NO_DEST);
	assert_int_equal(route(f->t, IP_A, PORT_A, bx_relay_handle(ID_B) ^ 1, &dip,
			       &dport), BX_DROP_RELAY_NO_DEST);
	/* A table without nodes. */
	empty = bx_relay_registry_create(1);
	assert_non_null(empty);
	t = bx_relay_table_build(empty);
	assert_non_null(t);
	assert_int_equal(bx_relay_table_count(t), 0);
	assert_int_equal(route(t, IP_A, PORT_A, bx_relay_handle(ID_B), &dip, &dport),
			 BX_DROP_RELAY_UNREGISTERED);
	bx_relay_table_free(t);
	bx_relay_registry_free(empty);
}

/* FORWARD variants that are not well formed, each one byte off a good one
 * (offsets from the start of the FORWARD; the inner header is at 16). */
static void
test_forward_malformed(void **state)
{
	static const struct {
		const char *what;
		size_t off;
		uint8_t val;
	} cases[] = {
		{ "outer not mesh", 0, 0x16 },
		{ "outer type data", 0, 0x91 },
		{ "outer version", 0, 0xa6 },
		{ "outer flags", 1, 0x01 },
		{ "outer lane", 2, 0x01 },
		{ "outer op register", 3, BX_RELAY_OP_REGISTER },
		{ "outer rx_index", 7, 0x01 },
		{ "inner not mesh", 16, 0x11 },
		{ "inner type relay (loop)", 16, 0x96 },
		{ "inner type 0", 16, 0x90 },
		{ "inner version", 16, 0xa1 },
		{ "inner flags", 17, 0x80 },
		{ "inner lane", 18, BX_LANE_COUNT },
	};
	struct fixture *f = *state;
	uint8_t fwd[FWD_LEN];
	rte_be32_t dip;
	rte_be16_t dport;
	uint64_t from;
	size_t i, off;

	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		make_forward(fwd, bx_relay_handle(ID_B));
		fwd[cases[i].off] = cases[i].val;
		if (forward_exact(f->t, fwd, sizeof(fwd), IP_A, PORT_A, &dip,
				  &dport) != BX_DROP_RELAY_MALFORMED)
			fail_msg("forward took %s", cases[i].what);
		from = 7;
		off = 9;
		if (bx_relay_unwrap(fwd, sizeof(fwd), &from, &off) !=
		    BX_DROP_RELAY_MALFORMED)
			fail_msg("unwrap took %s", cases[i].what);
		assert_true(from == 7 && off == 9);
	}

	/* Every truncation: a data datagram needs header + tag. */
	make_forward(fwd, bx_relay_handle(ID_B));
	for (i = 0; i < 16 + BX_WIRE_HDR_LEN + BX_WIRE_AEAD_TAG_LEN; i++)
		assert_int_equal(forward_exact(f->t, fwd, i, IP_A, PORT_A, &dip, &dport),
				 BX_DROP_RELAY_MALFORMED);
	assert_int_equal(forward_exact(f->t, fwd, i, IP_A, PORT_A, &dip, &dport),
			 BX_DROP_NONE);

	/* A bare header of an unsealed type (here a cookie reply's) is the
	 * shortest thing relayed; data and probes also need their tag. */
	make_forward(fwd, bx_relay_handle(ID_B));
	fwd[16] = 0x94;
	assert_int_equal(forward_exact(f->t, fwd, BX_RELAY_FORWARD_MIN, IP_A, PORT_A,
				       &dip, &dport), BX_DROP_NONE);
	assert_int_equal(forward_exact(f->t, fwd, BX_RELAY_FORWARD_MIN - 1, IP_A,
				       PORT_A, &dip, &dport), BX_DROP_RELAY_MALFORMED);
}

static void
test_unwrap(void **state)
{
	uint8_t fwd[FWD_LEN], *copy;
	uint64_t from;
	size_t off, i;

	(void)state;
	make_forward(fwd, UINT64_C(0x0102030405060708));
	assert_int_equal(bx_relay_unwrap(fwd, sizeof(fwd), &from, &off), BX_DROP_NONE);
	assert_true(from == UINT64_C(0x0102030405060708));
	assert_int_equal(off, BX_RELAY_FORWARD_OFF_INNER);

	for (i = 0; i < sizeof(fwd); i++) {
		copy = dup_exact(fwd, i);
		from = 7;
		assert_int_equal(bx_relay_unwrap(copy, i, &from, &off),
				 i < 48 ? BX_DROP_RELAY_MALFORMED : BX_DROP_NONE);
		assert_true(i < 48 ? from == 7 : from == UINT64_C(0x0102030405060708));
		free(copy);
	}
	/* Handle 0 names nobody. */
	make_forward(fwd, 0);
	from = 7;
	assert_int_equal(bx_relay_unwrap(fwd, sizeof(fwd), &from, &off),
			 BX_DROP_RELAY_MALFORMED);
	assert_true(from == 7);
}

/* A node that took over another's address (its NAT reused the mapping)
 * owns it; the older node is out of the table until it registers again. */
static void
test_forward_address_taken_over(void **state)
{
	struct bx_relay_registry *reg = bx_relay_registry_create(4);
	struct bx_relay_reg a = make_reg(ID_A, EXPIRY, SEQ);
	struct bx_relay_reg b = make_reg(ID_B, EXPIRY, SEQ);
	struct bx_relay_reg c = make_reg(ID_C, EXPIRY, SEQ);
	struct bx_relay_table *t;
	rte_be32_t dip;
	rte_be16_t dport;

	(void)state;
	assert_int_equal(bx_relay_registry_accept(reg, &a, IP_A, PORT_A, NOW, LEASE, 0), 1);
	assert_int_equal(bx_relay_registry_accept(reg, &b, IP_B, PORT_B, NOW, LEASE, 0), 1);
	assert_int_equal(bx_relay_registry_accept(reg, &c, IP_A, PORT_A, NOW + 1, LEASE, 0), 1);
	t = bx_relay_table_build(reg);
	assert_non_null(t);
	assert_int_equal(bx_relay_table_count(t), 2);
	assert_int_equal(route(t, IP_B, PORT_B, bx_relay_handle(ID_C), &dip, &dport),
			 BX_DROP_NONE);
	assert_int_equal(dip, IP_A);
	assert_int_equal(route(t, IP_B, PORT_B, bx_relay_handle(ID_A), &dip, &dport),
			 BX_DROP_RELAY_NO_DEST);
	bx_relay_table_free(t);

	/* A comes back from a new address. */
	a.seq++;
	assert_int_equal(bx_relay_registry_accept(reg, &a, IP(198, 51, 100, 7), PORT_A,
						  NOW + 2, LEASE, 0), 1);
	assert_at(reg, ID_A, IP(198, 51, 100, 7), PORT_A, IP_B, PORT_B);
	assert_at(reg, ID_C, IP_A, PORT_A, IP_B, PORT_B);

	/* And the other way round: A takes its old address back from C. */
	a.seq++;
	assert_int_equal(bx_relay_registry_accept(reg, &a, IP_A, PORT_A, NOW + 3,
						  LEASE, 0), 1);
	assert_at(reg, ID_A, IP_A, PORT_A, IP_B, PORT_B);
	assert_at(reg, ID_C, 0, 0, IP_B, PORT_B);
	bx_relay_registry_free(reg);
}

/* ---- Scale ---------------------------------------------------------- */

static rte_be32_t
scale_ip(uint32_t i)
{
	return rte_cpu_to_be_32(UINT32_C(0x0a000000) + i / 4); /* 10.0.0.0/18 */
}

static rte_be16_t
scale_port(uint32_t i)
{
	return rte_cpu_to_be_16((uint16_t)(30000 + i % 4));
}

/*
 * 10000 nodes, four behind each address (ports differ). Every node reaches
 * the next one. Then the even half's credentials expire: the registry
 * forgets them (its deletions shift entries around), only the odd half
 * stays reachable, and the registry still finds every odd node (a refresh,
 * not a new node; a replay still refused).
 */
static void
test_table_10000(void **state)
{
	struct bx_relay_registry *reg = bx_relay_registry_create(SCALE_NODES);
	struct bx_relay_reg *r = calloc(SCALE_NODES, sizeof(*r));
	struct bx_relay_reg extra = make_reg("one-too-many", EXPIRY, SEQ);
	struct bx_relay_table *t;
	char id[32];
	uint8_t fwd[FWD_LEN];
	rte_be32_t dip;
	rte_be16_t dport;
	uint32_t i, next;

	(void)state;
	assert_non_null(reg);
	assert_non_null(r);
	for (i = 0; i < SCALE_NODES; i++) {
		snprintf(id, sizeof(id), "node-%05u", i);
		r[i] = make_reg(id, i % 2 ? EXPIRY : NOW + 30, SEQ);
		assert_int_equal(bx_relay_registry_accept(reg, &r[i], scale_ip(i),
							  scale_port(i), NOW, LEASE, 0), 1);
	}
	assert_int_equal(bx_relay_registry_count(reg), SCALE_NODES);
	assert_int_equal(bx_relay_registry_accept(reg, &extra, 1, 1, NOW, LEASE, 0),
			 -ENOSPC);

	t = bx_relay_table_build(reg);
	assert_non_null(t);
	assert_int_equal(bx_relay_table_count(t), SCALE_NODES);
	for (i = 0; i < SCALE_NODES; i++) {
		next = (i + 1) % SCALE_NODES;
		make_forward(fwd, r[next].handle);
		assert_int_equal(bx_relay_forward(t, fwd, sizeof(fwd), scale_ip(i),
						  scale_port(i), &dip, &dport, NULL),
				 BX_DROP_NONE);
		assert_int_equal(dip, scale_ip(next));
		assert_int_equal(dport, scale_port(next));
		assert_true(get64(fwd + OFF_COUNTER) == r[i].handle);
	}
	bx_relay_table_free(t);

	assert_false(bx_relay_registry_expire(reg, NOW + 29));
	assert_true(bx_relay_registry_expire(reg, NOW + 30));
	assert_int_equal(bx_relay_registry_count(reg), SCALE_NODES / 2);
	t = bx_relay_table_build(reg);
	assert_non_null(t);
	assert_int_equal(bx_relay_table_count(t), SCALE_NODES / 2);
	for (i = 0; i < SCALE_NODES; i++) {
		/* From odd i to i + 2 (odd): fine. From even i: unregistered. */
		next = (i + 2) % SCALE_NODES;
		make_forward(fwd, r[next].handle);
		assert_int_equal(bx_relay_forward(t, fwd, sizeof(fwd), scale_ip(i),
						  scale_port(i), &dip, &dport, NULL),
				 i % 2 ? BX_DROP_NONE : BX_DROP_RELAY_UNREGISTERED);
		/* To even nodes: gone. */
		make_forward(fwd, r[i & ~1u].handle);
		assert_int_equal(bx_relay_forward(t, fwd, sizeof(fwd), scale_ip(1),
						  scale_port(1), &dip, &dport, NULL),
				 BX_DROP_RELAY_NO_DEST);
	}
	bx_relay_table_free(t);

	for (i = 1; i < SCALE_NODES; i += 2) {
		assert_int_equal(bx_relay_registry_accept(reg, &r[i], scale_ip(i),
							  scale_port(i), NOW + 30,
							  LEASE, 0), -EALREADY);
		r[i].seq++;
		assert_int_equal(bx_relay_registry_accept(reg, &r[i], scale_ip(i),
							  scale_port(i), NOW + 30,
							  LEASE, 0), 0);
	}
	assert_int_equal(bx_relay_registry_count(reg), SCALE_NODES / 2);

	/* The forgotten nodes' places are free for others now. */
	assert_int_equal(bx_relay_registry_accept(reg, &extra, 1, 1, NOW + 30, LEASE, 0), 1);
	free(r);
	bx_relay_registry_free(reg);
}

static int
group_setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_handle_known_answer),
		cmocka_unit_test(test_node_key_known_answer),
		cmocka_unit_test(test_node_key_deterministic_and_distinct),
		cmocka_unit_test(test_register_layout_and_roundtrip),
		cmocka_unit_test(test_register_encode_errors),
		cmocka_unit_test(test_register_wrong_credentials),
		cmocka_unit_test(test_register_flip_every_byte),
		cmocka_unit_test(test_register_expired),
		cmocka_unit_test(test_register_truncated_and_long),
		cmocka_unit_test(test_register_bad_ids),
		cmocka_unit_test(test_registered_roundtrip),
		cmocka_unit_test(test_registered_flip_and_truncate),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_msg_op),
		cmocka_unit_test(test_lease_grant),
		cmocka_unit_test(test_registry_create_bad),
		cmocka_unit_test(test_registry_new_refresh_moved),
		cmocka_unit_test(test_registry_hop),
		cmocka_unit_test(test_registry_replay),
		cmocka_unit_test(test_registry_full),
		cmocka_unit_test(test_registry_evicts_oldest_remembered),
		cmocka_unit_test(test_registry_expiry),
		cmocka_unit_test(test_registry_accept_invalid),
		cmocka_unit_test(test_accept_reason),
		cmocka_unit_test_setup_teardown(test_forward_rewrites_counter_only,
						fwd_setup, fwd_teardown),
		cmocka_unit_test_setup_teardown(test_forward_unregistered_and_no_dest,
						fwd_setup, fwd_teardown),
		cmocka_unit_test_setup_teardown(test_forward_malformed, fwd_setup,
						fwd_teardown),
		cmocka_unit_test(test_unwrap),
		cmocka_unit_test(test_forward_address_taken_over),
		cmocka_unit_test(test_table_10000),
	};

	return cmocka_run_group_tests_name("relay", tests, group_setup, NULL);
}
