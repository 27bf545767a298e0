/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for lib/relay. A relay with a fixed secret has two
 * registered nodes, A and B; A holds a credential (key, expiry) and sent a
 * REGISTER with seq SEQ. The genuine messages are the seed corpus
 * (corpus/relay: register.bin, registered.bin, refused.bin, forward.bin,
 * a FORWARD from A to B). Every input goes to:
 *   - the relay's bx_relay_register_verify,
 *   - A's bx_relay_registered_check and bx_relay_refused_check,
 *   - the relay's bx_relay_forward, from A's address and from a stranger's,
 *   - a node's bx_relay_unwrap,
 *   - bx_relay_msg_op.
 * Beyond "no crash, no read past the end" (ASan), it checks:
 *   - an accepted REGISTER or REGISTERED is exactly what the genuine
 *     encoder writes for what it says (nobody without the key makes one),
 *     and an accepted REFUSED is what the encoder writes for its reason;
 *   - a refusal leaves every out-parameter and the datagram untouched;
 *   - a forwarded datagram differs from the input only in its counter,
 *     which is now A's handle, goes to the node the old counter named and
 *     unwraps on arrival; a stranger never gets anything forwarded;
 *   - the parsers agree with bx_relay_msg_op on what the message is.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bx_common.h"
#include "bx_relay.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW UINT64_C(1700000000)
#define EXPIRY (NOW + 86400)
#define SEQ UINT64_C(1700000000123)
#define LEASE BX_RELAY_LEASE_DEFAULT_S
#define ID_A "fuzz-a"
#define ID_B "fuzz-b"
#define IP_A RTE_BE32(UINT32_C(0xc6336401)) /* 198.51.100.1 */
#define PORT_A RTE_BE16(40000)
#define IP_B RTE_BE32(UINT32_C(0xcb007109)) /* 203.0.113.9 */
#define PORT_B RTE_BE16(50000)
#define IP_STRANGER RTE_BE32(UINT32_C(0xc0000201)) /* 192.0.2.1 */
#define COUNTER_OFF 8u
#define COUNTER_LEN 8u
#define SENTINEL 0xa5

static const uint8_t secret[BX_RELAY_SECRET_LEN] = {
	0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e,
	0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e,
	0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e,
};

static struct {
	uint8_t key_a[BX_RELAY_KEY_LEN];
	uint64_t handle_a, handle_b;
	struct bx_relay_registry *reg;
	struct bx_relay_table *t;
} g;

static struct bx_relay_reg
reg_of(const char *id)
{
	uint8_t key[BX_RELAY_KEY_LEN], msg[BX_RELAY_REGISTER_MAX];
	struct bx_relay_reg r;
	int len;

	BX_ASSERT(bx_relay_node_key(secret, id, EXPIRY, key) == 0);
	len = bx_relay_register_encode(msg, sizeof(msg), id, EXPIRY, key, SEQ);
	BX_ASSERT(len > 0);
	BX_ASSERT(bx_relay_register_verify(secret, msg, (size_t)len, NOW, &r) ==
		  BX_DROP_NONE);
	return r;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct bx_relay_reg a, b;

	(void)argc;
	(void)argv;
	BX_ASSERT(sodium_init() >= 0);
	BX_ASSERT(bx_relay_node_key(secret, ID_A, EXPIRY, g.key_a) == 0);
	g.handle_a = bx_relay_handle(ID_A);
	g.handle_b = bx_relay_handle(ID_B);
	a = reg_of(ID_A);
	b = reg_of(ID_B);
	g.reg = bx_relay_registry_create(4);
	BX_ASSERT(g.reg != NULL);
	BX_ASSERT(bx_relay_registry_accept(g.reg, &a, IP_A, PORT_A, NOW, LEASE, 0) == 1);
	BX_ASSERT(bx_relay_registry_accept(g.reg, &b, IP_B, PORT_B, NOW, LEASE, 0) == 1);
	g.t = bx_relay_table_build(g.reg);
	BX_ASSERT(g.t != NULL && bx_relay_table_count(g.t) == 2);
	return 0;
}

static void
try_register(const uint8_t *m, size_t len, enum bx_relay_op op)
{
	struct bx_relay_reg r, before;
	uint8_t key[BX_RELAY_KEY_LEN], again[BX_RELAY_REGISTER_MAX];
	enum bx_drop_reason why;

	memset(&r, SENTINEL, sizeof(r));
	memcpy(&before, &r, sizeof(before));
	why = bx_relay_register_verify(secret, m, len, NOW, &r);
	BX_ASSERT((unsigned int)why < BX_DROP__COUNT);
	if (why != BX_DROP_NONE) {
		BX_ASSERT(memcmp(&r, &before, sizeof(r)) == 0);
		return;
	}
	BX_ASSERT(op == BX_RELAY_OP_REGISTER);
	BX_ASSERT(r.expiry_s > NOW && r.handle == bx_relay_handle(r.id));
	BX_ASSERT(bx_relay_node_key(secret, r.id, r.expiry_s, key) == 0);
	BX_ASSERT(bx_relay_register_encode(again, sizeof(again), r.id, r.expiry_s,
					   key, r.seq) == (int)len);
	BX_ASSERT(memcmp(again, m, len) == 0);
}

static void
try_registered(const uint8_t *m, size_t len, enum bx_relay_op op)
{
	struct bx_relay_reg a = { .id = ID_A, .expiry_s = EXPIRY, .seq = SEQ };
	uint8_t again[BX_RELAY_REGISTERED_LEN];
	uint32_t lease = 0xa5a5a5a5u;
	enum bx_drop_reason why;

	why = bx_relay_registered_check(m, len, g.key_a, SEQ, &lease);
	BX_ASSERT((unsigned int)why < BX_DROP__COUNT);
	if (why != BX_DROP_NONE) {
		BX_ASSERT(lease == 0xa5a5a5a5u);
		return;
	}
	BX_ASSERT(op == BX_RELAY_OP_REGISTERED);
	BX_ASSERT(bx_relay_registered_encode(again, sizeof(again), secret, &a,
					     lease) == (int)len);
	BX_ASSERT(memcmp(again, m, len) == 0);
}

static void
try_refused(const uint8_t *m, size_t len, enum bx_relay_op op)
{
	enum bx_drop_reason why, inside = BX_DROP__COUNT;
	uint8_t again[BX_RELAY_REFUSED_LEN];

	why = bx_relay_refused_check(m, len, SEQ, &inside);
	BX_ASSERT((unsigned int)why < BX_DROP__COUNT);
	if (why != BX_DROP_NONE) {
		BX_ASSERT(inside == BX_DROP__COUNT);
		return;
	}
	BX_ASSERT(op == BX_RELAY_OP_REFUSED);
	BX_ASSERT(bx_relay_refused_encode(again, sizeof(again), SEQ, inside) ==
		  (int)len);
	BX_ASSERT(memcmp(again, m, len) == 0);
}

/* Returns whether the relay forwarded the input from A. */
static bool
try_forward(const uint8_t *m, size_t len, enum bx_relay_op op)
{
	uint8_t *copy = malloc(len == 0 ? 1 : len);
	rte_be32_t ip = 0xa5a5a5a5u;
	rte_be16_t port = 0xa5a5;
	enum bx_drop_reason why;
	uint64_t dest = 0, from = 0;
	size_t off = 0;

	BX_ASSERT(copy != NULL);
	memcpy(copy, m, len);
	why = bx_relay_forward(g.t, copy, len, IP_STRANGER, PORT_A, &ip, &port, NULL);
	BX_ASSERT(why == BX_DROP_RELAY_MALFORMED || why == BX_DROP_RELAY_UNREGISTERED);
	BX_ASSERT(memcmp(copy, m, len) == 0);
	BX_ASSERT(ip == 0xa5a5a5a5u && port == 0xa5a5);

	why = bx_relay_forward(g.t, copy, len, IP_A, PORT_A, &ip, &port, NULL);
	if (why != BX_DROP_NONE) {
		BX_ASSERT(why == BX_DROP_RELAY_MALFORMED || why == BX_DROP_RELAY_NO_DEST);
		BX_ASSERT(memcmp(copy, m, len) == 0);
		BX_ASSERT(ip == 0xa5a5a5a5u && port == 0xa5a5);
		free(copy);
		return false;
	}
	BX_ASSERT(op == BX_RELAY_OP_FORWARD);
	memcpy(&dest, m + COUNTER_OFF, COUNTER_LEN);
	dest = rte_be_to_cpu_64(dest);
	if (dest == g.handle_b)
		BX_ASSERT(ip == IP_B && port == PORT_B);
	else
		BX_ASSERT(dest == g.handle_a && ip == IP_A && port == PORT_A);
	BX_ASSERT(memcmp(copy, m, COUNTER_OFF) == 0);
	BX_ASSERT(memcmp(copy + COUNTER_OFF + COUNTER_LEN, m + COUNTER_OFF + COUNTER_LEN,
			 len - COUNTER_OFF - COUNTER_LEN) == 0);
	BX_ASSERT(bx_relay_unwrap(copy, len, &from, &off) == BX_DROP_NONE);
	BX_ASSERT(from == g.handle_a && off == BX_RELAY_FORWARD_OFF_INNER);
	free(copy);
	return true;
}

/* A node's view; returns whether it took the input as a FORWARD. */
static bool
try_unwrap(const uint8_t *m, size_t len, enum bx_relay_op op)
{
	uint64_t from = 7, counter;
	size_t off = 9;
	enum bx_drop_reason why;

	why = bx_relay_unwrap(m, len, &from, &off);
	if (why != BX_DROP_NONE) {
		BX_ASSERT(why == BX_DROP_RELAY_MALFORMED);
		BX_ASSERT(from == 7 && off == 9);
		return false;
	}
	BX_ASSERT(op == BX_RELAY_OP_FORWARD);
	memcpy(&counter, m + COUNTER_OFF, COUNTER_LEN);
	BX_ASSERT(from == rte_be_to_cpu_64(counter) && from != 0);
	BX_ASSERT(off == BX_RELAY_FORWARD_OFF_INNER && off < len);
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum bx_relay_op op = bx_relay_msg_op(data, size);
	bool forwarded, unwrapped, known_dest = false;
	uint64_t counter;

	BX_ASSERT((unsigned int)op <= BX_RELAY_OP_MAX);
	try_register(data, size, op);
	try_registered(data, size, op);
	try_refused(data, size, op);
	forwarded = try_forward(data, size, op);
	unwrapped = try_unwrap(data, size, op);
	if (size >= COUNTER_OFF + COUNTER_LEN) {
		memcpy(&counter, data + COUNTER_OFF, COUNTER_LEN);
		counter = rte_be_to_cpu_64(counter);
		known_dest = counter == g.handle_a || counter == g.handle_b;
	}
	/* The relay and the receiver judge a FORWARD's shape alike. */
	BX_ASSERT(forwarded == (unwrapped && known_dest));
	return 0;
}
