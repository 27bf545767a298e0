/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suite "peer": the peer registry. Routing by longest prefix, session index
 * lookup, the ingress source check, replace/remove, every error, batches,
 * the session hash under churn, a commit waiting for a reader, a reader on
 * lcore 1 racing thousands of changes, and 10000 peers.
 *
 * About use-after-free: ASan cannot see inside rte_malloc heaps (Debian's
 * DPDK is not built with RTE_MALLOC_ASAN). So the racing reader checks by
 * content: every record carries a checksum of its fields (rte_free clears
 * freed memory here; a reused block holds another record), and the session
 * objects the registry points to are libc-malloc'd and freed as soon as
 * bx_peer_commit returns, where ASan does see a late reader.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_byteorder.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "bx_common.h"
#include "bx_peer.h"
#include "bx_test_eal.h"

#define READER_LCORE 1u
#define HOLD_WAIT_MS 100u   /* how long a commit must stay blocked by a held reader */
#define PUBLISH_WAIT_MS 10000u
#define CHURN_SLOTS 16u     /* peers in the racing test (= max_peers) */
#define CHURN_BATCHES 4000u
#define CHURN_BATCH_MAX 4u
#define CHURN_MAX_PFX 4u
#define HASH_CHURN_PEERS 8u
#define HASH_CHURN_OPS 20000u
#define SCALE_PEERS 10000u
#define SESS_MAGIC 0x5e55105eu

static struct {
	struct rte_rcu_qsbr *qsbr;
} g;

/* ---- helpers ------------------------------------------------------------ */

static rte_be32_t
ip4(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	return rte_cpu_to_be_32(a << 24 | b << 16 | c << 8 | d);
}

static struct bx_peer_prefix
pfx(uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint8_t len)
{
	struct bx_peer_prefix p = { .addr = ip4(a, b, c, d), .len = len };
	return p;
}

static bool
in_prefix(rte_be32_t addr, const struct bx_peer_prefix *p)
{
	uint32_t mask = p->len == 0 ? 0 : UINT32_MAX << (32 - p->len);

	return (rte_be_to_cpu_32(addr) & mask) == rte_be_to_cpu_32(p->addr);
}

static bool
peer_allows(const struct bx_peer *p, rte_be32_t addr)
{
	unsigned int i;

	for (i = 0; i < p->n_allowed; i++)
		if (in_prefix(addr, &p->allowed[i]))
			return true;
	return false;
}

static struct bx_peer_registry *
reg_new(uint32_t max_peers, uint32_t max_prefixes, uint32_t max_long)
{
	struct bx_peer_registry_conf rc = {
		.max_peers = max_peers,
		.max_prefixes = max_prefixes,
		.max_long_prefixes = max_long,
		.qsbr = g.qsbr,
		.socket_id = SOCKET_ID_ANY,
	};
	struct bx_peer_registry *reg = bx_peer_registry_create(&rc);

	assert_non_null(reg);
	return reg;
}

static struct bx_peer_conf
conf(const char *id, rte_be32_t vip, const struct bx_peer_prefix *p,
     unsigned int n)
{
	struct bx_peer_conf c = {
		.id = id,
		.vip = vip,
		.endpoint_ip = ip4(192, 0, 2, 1),
		.endpoint_port = rte_cpu_to_be_16(51820),
		.n_prefixes = n,
		.prefixes = p,
	};
	return c;
}

static const struct bx_peer *
find(struct bx_peer_registry *reg, const char *id)
{
	const struct bx_peer *p = bx_peer_find(reg, id);

	assert_non_null(p);
	return p;
}

/* A bijection on 32 bits: distinct counters give distinct random-looking indices. */
static uint32_t
mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

static uint32_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 32);
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/*
 * Two peers with nested prefixes: A routes 10.0.0.0/16, B the more specific
 * 10.0.1.0/24 inside it.
 */
static struct bx_peer_registry *
two_peers(uint32_t *ia, uint32_t *ib)
{
	struct bx_peer_registry *reg = reg_new(4, 0, 0);
	struct bx_peer_prefix a[] = { pfx(10, 0, 0, 0, 16) };
	struct bx_peer_prefix b[] = { pfx(10, 0, 1, 0, 24) };
	struct bx_peer_conf ca = conf("node-a", ip4(100, 64, 0, 1), a, 1);
	struct bx_peer_conf cb = conf("node-b", ip4(100, 64, 0, 2), b, 1);

	assert_int_equal(bx_peer_add(reg, &ca, ia), 0);
	assert_int_equal(bx_peer_add(reg, &cb, ib), 0);
	bx_peer_commit(reg);
	return reg;
}

/* ---- ids ---------------------------------------------------------------- */

static void
test_id_rules(void **state)
{
	char longest[BX_PEER_ID_MAX], too_long[BX_PEER_ID_MAX + 1];
	static const struct {
		const char *id;
		bool valid;
	} cases[] = {
		{ "a", true },
		{ "node-1", true },
		{ "3f9a:b2.c_d~!", true },
		{ "", false },
		{ "has space", false },
		{ "tab\there", false },
		{ "del\x7f", false },
		{ "utf8-\xc3\xa9", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++)
		assert_int_equal(bx_peer_id_valid(cases[i].id), cases[i].valid);
	assert_false(bx_peer_id_valid(NULL));
	memset(longest, 'x', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	assert_true(bx_peer_id_valid(longest));
	memset(too_long, 'x', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	assert_false(bx_peer_id_valid(too_long));

	/* Bytewise: both ends of a pair must reach the same answer. */
	assert_true(bx_peer_id_cmp("node-a", "node-b") < 0);
	assert_true(bx_peer_id_cmp("node-b", "node-a") > 0);
	assert_true(bx_peer_id_cmp("node-10", "node-9") < 0);
	assert_true(bx_peer_id_cmp("Z", "a") < 0);
	assert_true(bx_peer_id_cmp("node", "node-1") < 0);
	assert_int_equal(bx_peer_id_cmp("node-a", "node-a"), 0);
}

/* ---- basic behaviour ---------------------------------------------------- */

static void
test_add_lookup_dst(void **state)
{
	struct bx_peer_registry *reg = reg_new(4, 0, 0);
	/* B lists its own virtual IP: it is deduplicated, not an error. */
	struct bx_peer_prefix a[] = { pfx(10, 0, 0, 0, 16) };
	struct bx_peer_prefix b[] = { pfx(10, 0, 1, 0, 24), pfx(100, 64, 0, 2, 32),
				      pfx(10, 0, 1, 128, 25) };
	struct bx_peer_conf ca = conf("node-a", ip4(100, 64, 0, 1), a, 1);
	struct bx_peer_conf cb = conf("node-b", ip4(100, 64, 0, 2), b, 3);
	const struct bx_peer_table *t;
	const struct bx_peer *pa, *pb;
	uint32_t ia = UINT32_MAX, ib = UINT32_MAX;
	static const struct {
		uint32_t addr[4];
		int want; /* 0: A, 1: B, -1: no peer */
	} routes[] = {
		{ { 10, 0, 0, 1 }, 0 },
		{ { 10, 0, 255, 255 }, 0 },
		{ { 10, 0, 1, 1 }, 1 },     /* /24 beats /16 */
		{ { 10, 0, 1, 200 }, 1 },   /* /25 inside B's own /24 */
		{ { 10, 0, 2, 0 }, 0 },
		{ { 100, 64, 0, 1 }, 0 },   /* virtual IPs */
		{ { 100, 64, 0, 2 }, 1 },
		{ { 100, 64, 0, 3 }, -1 },
		{ { 10, 1, 0, 0 }, -1 },
		{ { 192, 168, 1, 1 }, -1 },
	};
	size_t i;

	(void)state;
	t = bx_peer_table_get(reg);
	assert_non_null(t);
	assert_int_equal(bx_peer_table_count(t), 0);
	assert_int_equal(bx_peer_table_capacity(t), 4);
	assert_null(bx_peer_lookup_dst(t, ip4(10, 0, 0, 1)));

	assert_int_equal(bx_peer_add(reg, &ca, &ia), 0);
	assert_int_equal(bx_peer_add(reg, &cb, &ib), 0);
	assert_int_equal(ia, 0);
	assert_int_equal(ib, 1);

	/* Staged, not published: readers still see the empty table. */
	t = bx_peer_table_get(reg);
	assert_int_equal(bx_peer_table_count(t), 0);
	assert_null(bx_peer_lookup_dst(t, ip4(10, 0, 0, 1)));
	assert_int_equal(find(reg, "node-a")->index, ia);

	bx_peer_commit(reg);
	t = bx_peer_table_get(reg);
	assert_int_equal(bx_peer_table_count(t), 2);
	pa = bx_peer_table_at(t, ia);
	pb = bx_peer_table_at(t, ib);
	assert_non_null(pa);
	assert_non_null(pb);
	assert_null(bx_peer_table_at(t, 2));
	assert_null(bx_peer_table_at(t, 4));
	assert_ptr_equal(bx_peer_find(reg, "node-b"), pb);

	assert_string_equal(pa->id, "node-a");
	assert_int_equal(pa->index, ia);
	assert_int_equal(pa->vip, ip4(100, 64, 0, 1));
	assert_int_equal(pa->endpoint_ip, ip4(192, 0, 2, 1));
	assert_int_equal(pa->endpoint_port, rte_cpu_to_be_16(51820));
	assert_int_equal(pa->n_allowed, 2);
	assert_int_equal(pa->allowed[0].addr, ip4(100, 64, 0, 1));
	assert_int_equal(pa->allowed[0].len, 32);
	assert_int_equal(pa->allowed[1].addr, ip4(10, 0, 0, 0));
	assert_int_equal(pa->allowed[1].len, 16);
	assert_int_equal(pb->n_allowed, 3);
	assert_int_equal(pb->allowed[2].addr, ip4(10, 0, 1, 128));
	assert_int_equal(pb->allowed[2].len, 25);
	assert_null(pa->sessions[0].ctx);

	for (i = 0; i < BX_ARRAY_SIZE(routes); i++) {
		const uint32_t *q = routes[i].addr;
		const struct bx_peer *want = routes[i].want < 0 ? NULL :
					     routes[i].want == 0 ? pa : pb;

		assert_ptr_equal(bx_peer_lookup_dst(t, ip4(q[0], q[1], q[2], q[3])),
				 want);
	}
	bx_peer_registry_free(reg);
}

static void
test_session_lookup(void **state)
{
	int ctx[4];
	uint32_t ia, ib;
	struct bx_peer_registry *reg = two_peers(&ia, &ib);
	const struct bx_peer_table *t;
	unsigned int slot = 99;

	(void)state;
	assert_int_equal(bx_peer_set_session(reg, "node-a", BX_PEER_SESSION_CURRENT,
					     0x11111111u, &ctx[0]), 0);
	assert_int_equal(bx_peer_set_session(reg, "node-b", BX_PEER_SESSION_CURRENT,
					     0x22222222u, &ctx[1]), 0);
	/* 0 is a session index like any other. */
	assert_int_equal(bx_peer_set_session(reg, "node-b", BX_PEER_SESSION_PREVIOUS, 0,
					     &ctx[2]), 0);
	t = bx_peer_table_get(reg);
	assert_null(bx_peer_lookup_session(t, 0x11111111u, &slot));
	assert_int_equal(slot, 99);
	bx_peer_commit(reg);

	t = bx_peer_table_get(reg);
	assert_ptr_equal(bx_peer_lookup_session(t, 0x11111111u, &slot),
			 bx_peer_table_at(t, ia));
	assert_int_equal(slot, BX_PEER_SESSION_CURRENT);
	assert_ptr_equal(bx_peer_lookup_session(t, 0x22222222u, &slot),
			 bx_peer_table_at(t, ib));
	assert_int_equal(slot, 0);
	assert_ptr_equal(bx_peer_lookup_session(t, 0, &slot), bx_peer_table_at(t, ib));
	assert_int_equal(slot, BX_PEER_SESSION_PREVIOUS);
	assert_ptr_equal(bx_peer_table_at(t, ib)->sessions[1].ctx, &ctx[2]);
	assert_int_equal(bx_peer_table_at(t, ib)->sessions[0].rx_index, 0x22222222u);
	slot = 99;
	assert_null(bx_peer_lookup_session(t, 0x33333333u, &slot));
	assert_int_equal(slot, 99);

	/* Rekey: a new index in the slot replaces the old one. */
	assert_int_equal(bx_peer_set_session(reg, "node-a", 0, 0x44444444u, &ctx[3]), 0);
	/* Same index, same slot: only the ctx changes. */
	assert_int_equal(bx_peer_set_session(reg, "node-b", 0, 0x22222222u, &ctx[0]), 0);
	assert_int_equal(bx_peer_clear_session(reg, "node-b", 1), 0);
	assert_int_equal(bx_peer_clear_session(reg, "node-b", 1), 0);
	bx_peer_commit(reg);
	t = bx_peer_table_get(reg);
	assert_null(bx_peer_lookup_session(t, 0x11111111u, &slot));
	assert_null(bx_peer_lookup_session(t, 0, &slot));
	assert_ptr_equal(bx_peer_lookup_session(t, 0x44444444u, &slot),
			 bx_peer_table_at(t, ia));
	assert_ptr_equal(bx_peer_table_at(t, ia)->sessions[0].ctx, &ctx[3]);
	assert_ptr_equal(bx_peer_lookup_session(t, 0x22222222u, &slot),
			 bx_peer_table_at(t, ib));
	assert_ptr_equal(bx_peer_table_at(t, ib)->sessions[0].ctx, &ctx[0]);
	assert_null(bx_peer_table_at(t, ib)->sessions[1].ctx);
	bx_peer_registry_free(reg);
}

static void
test_src_allowed(void **state)
{
	uint32_t ia, ib;
	struct bx_peer_registry *reg = two_peers(&ia, &ib);
	const struct bx_peer_table *t = bx_peer_table_get(reg);
	const struct bx_peer *pa = bx_peer_table_at(t, ia);
	const struct bx_peer *pb = bx_peer_table_at(t, ib);
	static const struct {
		uint32_t addr[4];
		bool a, b; /* allowed from A, from B */
	} cases[] = {
		{ { 10, 0, 2, 5 }, true, false },
		{ { 10, 0, 1, 5 }, false, true },  /* B's /24: A cannot use it */
		{ { 10, 0, 0, 0 }, true, false },
		{ { 100, 64, 0, 1 }, true, false },
		{ { 100, 64, 0, 2 }, false, true },
		{ { 100, 64, 0, 3 }, false, false },
		{ { 192, 168, 1, 1 }, false, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		const uint32_t *q = cases[i].addr;
		rte_be32_t src = ip4(q[0], q[1], q[2], q[3]);

		assert_int_equal(bx_peer_src_allowed(t, pa, src), cases[i].a);
		assert_int_equal(bx_peer_src_allowed(t, pb, src), cases[i].b);
	}
	bx_peer_registry_free(reg);
}

static void
test_replace_keeps_index(void **state)
{
	int ctx;
	uint32_t ia, ib;
	struct bx_peer_registry *reg = two_peers(&ia, &ib);
	struct bx_peer_prefix a2[] = { pfx(172, 16, 0, 0, 12), pfx(10, 9, 9, 9, 32) };
	struct bx_peer_conf ca = conf("node-a", ip4(100, 64, 0, 11), a2, 2);
	const struct bx_peer_table *t;
	const struct bx_peer *old, *p;
	unsigned int slot;
	uint64_t version;

	(void)state;
	assert_int_equal(bx_peer_set_session(reg, "node-a", 1, 77, &ctx), 0);
	bx_peer_commit(reg);
	t = bx_peer_table_get(reg);
	old = bx_peer_table_at(t, ia);
	version = bx_peer_table_version(t);

	ca.endpoint_ip = ip4(198, 51, 100, 7);
	ca.endpoint_port = rte_cpu_to_be_16(4500);
	ca.relay_handle = UINT64_C(0x1122334455667788); /* a relayed path */
	assert_int_equal(bx_peer_replace(reg, &ca), 0);
	/* The control view shows the staged record, readers the old one. */
	assert_int_equal(find(reg, "node-a")->vip, ip4(100, 64, 0, 11));
	assert_ptr_equal(bx_peer_table_get(reg), t);
	assert_ptr_equal(bx_peer_lookup_dst(t, ip4(10, 0, 2, 1)), old);
	bx_peer_commit(reg);

	t = bx_peer_table_get(reg);
	assert_int_equal(bx_peer_table_version(t), version + 1);
	p = bx_peer_table_at(t, ia);
	assert_non_null(p);
	assert_int_equal(p->index, ia);
	assert_int_equal(bx_peer_table_count(t), 2);
	assert_int_equal(p->endpoint_ip, ip4(198, 51, 100, 7));
	assert_int_equal(p->endpoint_port, rte_cpu_to_be_16(4500));
	assert_true(p->relay_handle == UINT64_C(0x1122334455667788));
	/* Sessions survive a config change. */
	assert_ptr_equal(p->sessions[1].ctx, &ctx);
	assert_ptr_equal(bx_peer_lookup_session(t, 77, &slot), p);
	assert_int_equal(slot, 1);
	/* Old prefixes and old virtual IP gone, new ones routed. */
	assert_null(bx_peer_lookup_dst(t, ip4(10, 0, 2, 1)));
	assert_null(bx_peer_lookup_dst(t, ip4(100, 64, 0, 1)));
	assert_ptr_equal(bx_peer_lookup_dst(t, ip4(10, 0, 1, 1)), bx_peer_table_at(t, ib));
	assert_ptr_equal(bx_peer_lookup_dst(t, ip4(172, 31, 255, 1)), p);
	assert_ptr_equal(bx_peer_lookup_dst(t, ip4(10, 9, 9, 9)), p);
	assert_ptr_equal(bx_peer_lookup_dst(t, ip4(100, 64, 0, 11)), p);
	assert_false(bx_peer_src_allowed(t, p, ip4(10, 0, 2, 1)));
	assert_true(bx_peer_src_allowed(t, p, ip4(172, 16, 0, 1)));
	bx_peer_registry_free(reg);
}

static void
test_remove(void **state)
{
	int ctx;
	uint32_t ia, ib, ic;
	struct bx_peer_registry *reg = two_peers(&ia, &ib);
	struct bx_peer_prefix none[1];
	struct bx_peer_conf cc = conf("node-c", ip4(100, 64, 0, 3), none, 0);
	struct bx_peer_conf cd = conf("node-d", ip4(100, 64, 0, 4), none, 0);
	struct bx_peer_conf ce = conf("node-e", ip4(100, 64, 0, 5), none, 0);
	struct bx_peer_conf cf = conf("node-f", ip4(100, 64, 0, 6), none, 0);
	const struct bx_peer_table *t;
	unsigned int slot;

	(void)state;
	assert_int_equal(bx_peer_set_session(reg, "node-b", 0, 1234, &ctx), 0);
	bx_peer_commit(reg);
	assert_int_equal(bx_peer_remove(reg, "node-b"), 0);
	assert_null(bx_peer_find(reg, "node-b"));
	bx_peer_commit(reg);

	t = bx_peer_table_get(reg);
	assert_int_equal(bx_peer_table_count(t), 1);
	assert_null(bx_peer_table_at(t, ib));
	/* B's /24 falls back to A's /16; B's virtual IP and session miss. */
	assert_ptr_equal(bx_peer_lookup_dst(t, ip4(10, 0, 1, 1)), bx_peer_table_at(t, ia));
	assert_null(bx_peer_lookup_dst(t, ip4(100, 64, 0, 2)));
	assert_null(bx_peer_lookup_session(t, 1234, &slot));
	assert_int_equal(bx_peer_remove(reg, "node-b"), -ENOENT);

	/* Its id and rules are free again; its index comes back first. */
	assert_int_equal(bx_peer_add(reg, &cc, &ic), 0);
	assert_int_equal(ic, ib);
	assert_int_equal(bx_peer_set_session(reg, "node-c", 0, 1234, &ctx), 0);
	bx_peer_commit(reg);

	/* A freed index is handed out only after the commit of the removal. */
	assert_int_equal(bx_peer_add(reg, &cd, NULL), 0);
	assert_int_equal(bx_peer_add(reg, &cf, NULL), 0); /* 4 of 4 used */
	bx_peer_commit(reg);
	assert_int_equal(bx_peer_remove(reg, "node-c"), 0);
	assert_int_equal(bx_peer_add(reg, &ce, NULL), -ENOSPC);
	bx_peer_commit(reg);
	assert_int_equal(bx_peer_add(reg, &ce, &ic), 0);
	assert_int_equal(ic, ib);
	bx_peer_commit(reg);
	t = bx_peer_table_get(reg);
	assert_int_equal(bx_peer_table_count(t), 4);
	assert_string_equal(bx_peer_table_at(t, ib)->id, "node-e");
	bx_peer_registry_free(reg);
}

/* ---- errors ------------------------------------------------------------- */

static void
test_create_errors(void **state)
{
	struct bx_peer_registry_conf ok = {
		.max_peers = 4, .qsbr = g.qsbr, .socket_id = SOCKET_ID_ANY,
	};
	struct bx_peer_registry_conf bad[3];
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(bad); i++)
		bad[i] = ok;
	bad[0].qsbr = NULL;
	bad[1].max_peers = 0;
	bad[2].max_peers = BX_PEER_MAX_PEERS + 1;
	for (i = 0; i < BX_ARRAY_SIZE(bad); i++) {
		rte_errno = 0;
		assert_null(bx_peer_registry_create(&bad[i]));
		assert_int_equal(rte_errno, EINVAL);
	}
	rte_errno = 0;
	assert_null(bx_peer_registry_create(NULL));
	assert_int_equal(rte_errno, EINVAL);
	bx_peer_registry_free(NULL);
}

static void
test_conf_errors(void **state)
{
	struct bx_peer_registry *reg = reg_new(4, 2 * BX_PEER_MAX_RULES, 0);
	struct bx_peer_prefix many[BX_PEER_MAX_PREFIXES + 1];
	static const struct {
		const char *id;
		uint32_t vip;
		struct bx_peer_prefix p[2];
		unsigned int n;
	} cases[] = {
		{ "", 0x64400001u, { { 0 } }, 0 },
		{ "bad id", 0x64400001u, { { 0 } }, 0 },
		{ "node-x", 0, { { 0 } }, 0 },                            /* no virtual IP */
		{ "node-x", 0x64400001u, { { 0, 0 } }, 1 },               /* /0 */
		{ "node-x", 0x64400001u, { { 0x0a000000u, 33 } }, 1 },    /* /33 */
		{ "node-x", 0x64400001u, { { 0x0a000001u, 24 } }, 1 },    /* host bits */
		{ "node-x", 0x64400001u,
		  { { 0x0a000000u, 24 }, { 0x0a000000u, 24 } }, 2 },      /* twice */
	};
	const struct bx_peer_table *t = bx_peer_table_get(reg);
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		struct bx_peer_prefix p[2];
		struct bx_peer_conf c;
		unsigned int k;

		for (k = 0; k < 2; k++) {
			p[k].addr = rte_cpu_to_be_32(cases[i].p[k].addr);
			p[k].len = cases[i].p[k].len;
		}
		c = conf(cases[i].id, rte_cpu_to_be_32(cases[i].vip), p, cases[i].n);
		assert_int_equal(bx_peer_add(reg, &c, NULL), -EINVAL);
	}
	for (i = 0; i < BX_ARRAY_SIZE(many); i++)
		many[i] = pfx(10, (uint32_t)i, 0, 0, 16);
	{
		struct bx_peer_conf c = conf("node-x", ip4(100, 64, 0, 1), many,
					     BX_PEER_MAX_PREFIXES + 1);

		assert_int_equal(bx_peer_add(reg, &c, NULL), -EINVAL);
		c.n_prefixes = BX_PEER_MAX_PREFIXES; /* the limit itself is fine */
		assert_int_equal(bx_peer_add(reg, &c, NULL), 0);
		c.n_prefixes = 1;
		c.prefixes = NULL;
		assert_int_equal(bx_peer_replace(reg, &c), -EINVAL);
		assert_int_equal(bx_peer_add(reg, NULL, NULL), -EINVAL);
		assert_int_equal(bx_peer_replace(reg, NULL), -EINVAL);
	}
	bx_peer_commit(reg);
	t = bx_peer_table_get(reg);
	assert_int_equal(bx_peer_table_count(t), 1);
	assert_int_equal(find(reg, "node-x")->n_allowed, BX_PEER_MAX_PREFIXES + 1);
	bx_peer_registry_free(reg);
}

static void
test_state_errors(void **state)
{
	int ctx;
	uint32_t ia, ib;
	struct bx_peer_registry *reg = two_peers(&ia, &ib);
	struct bx_peer_prefix dup[] = { pfx(10, 0, 1, 0, 24) };
	struct bx_peer_prefix vip_b[] = { pfx(100, 64, 0, 2, 32) };
	struct bx_peer_prefix fresh[] = { pfx(10, 7, 0, 0, 16) };
	struct bx_peer_conf c;
	const struct bx_peer_table *t;
	uint64_t version;
	uint32_t idx = 12345;

	(void)state;
	assert_int_equal(bx_peer_set_session(reg, "node-a", 0, 500, &ctx), 0);
	bx_peer_commit(reg);
	version = bx_peer_table_version(bx_peer_table_get(reg));

	c = conf("node-a", ip4(100, 64, 0, 9), fresh, 1);
	assert_int_equal(bx_peer_add(reg, &c, &idx), -EEXIST);      /* same id */
	assert_int_equal(idx, 12345);                               /* untouched */
	c = conf("node-c", ip4(100, 64, 0, 9), dup, 1);
	assert_int_equal(bx_peer_add(reg, &c, NULL), -EEXIST);      /* B's /24 */
	c = conf("node-c", ip4(100, 64, 0, 2), fresh, 1);
	assert_int_equal(bx_peer_add(reg, &c, NULL), -EEXIST);      /* B's vip */
	c = conf("node-c", ip4(100, 64, 0, 9), vip_b, 1);
	assert_int_equal(bx_peer_add(reg, &c, NULL), -EEXIST);      /* B's vip as prefix */
	c = conf("node-a", ip4(100, 64, 0, 1), dup, 1);
	assert_int_equal(bx_peer_replace(reg, &c), -EEXIST);        /* B's /24 */
	c = conf("node-c", ip4(100, 64, 0, 9), fresh, 1);
	assert_int_equal(bx_peer_replace(reg, &c), -ENOENT);
	assert_int_equal(bx_peer_remove(reg, "node-c"), -ENOENT);
	assert_int_equal(bx_peer_remove(reg, "bad id"), -EINVAL);
	assert_int_equal(bx_peer_set_session(reg, "node-c", 0, 1, &ctx), -ENOENT);
	assert_int_equal(bx_peer_clear_session(reg, "node-c", 0), -ENOENT);
	assert_int_equal(bx_peer_set_session(reg, "node-a", BX_PEER_MAX_SESSIONS, 1, &ctx),
			 -EINVAL);
	assert_int_equal(bx_peer_set_session(reg, "node-a", 0, 1, NULL), -EINVAL);
	assert_int_equal(bx_peer_clear_session(reg, "node-a", BX_PEER_MAX_SESSIONS),
			 -EINVAL);
	/* A session index is unique across peers and across slots. */
	assert_int_equal(bx_peer_set_session(reg, "node-b", 0, 500, &ctx), -EEXIST);
	assert_int_equal(bx_peer_set_session(reg, "node-a", 1, 500, &ctx), -EEXIST);

	/* None of the failures staged anything. */
	bx_peer_commit(reg);
	t = bx_peer_table_get(reg);
	assert_int_equal(bx_peer_table_version(t), version);
	assert_null(bx_peer_find(reg, "node-c"));
	assert_int_equal(find(reg, "node-a")->n_allowed, 2);
	bx_peer_registry_free(reg);
}

static void
test_budget_errors(void **state)
{
	/* 3 peers, 5 rules in all, 2 longer than /24 (virtual IPs count). */
	struct bx_peer_registry *reg = reg_new(3, 5, 2);
	struct bx_peer_prefix two24[] = { pfx(10, 0, 0, 0, 24), pfx(10, 0, 1, 0, 24) };
	struct bx_peer_prefix other24[] = { pfx(10, 0, 5, 0, 24), pfx(10, 0, 6, 0, 24) };
	struct bx_peer_prefix one32[] = { pfx(10, 9, 9, 9, 32) };
	struct bx_peer_conf c;
	uint32_t idx;

	(void)state;
	c = conf("p1", ip4(100, 64, 0, 1), two24, 2);   /* 3 rules, 1 long */
	assert_int_equal(bx_peer_add(reg, &c, NULL), 0);
	c = conf("p2", ip4(100, 64, 0, 2), one32, 1);   /* 5 rules, 3 long */
	assert_int_equal(bx_peer_add(reg, &c, NULL), -ENOSPC);
	c = conf("p2", ip4(100, 64, 0, 2), other24, 2); /* 6 rules, 2 long */
	assert_int_equal(bx_peer_add(reg, &c, NULL), -ENOSPC);
	c = conf("p2", ip4(100, 64, 0, 2), NULL, 0);    /* 4 rules, 2 long */
	assert_int_equal(bx_peer_add(reg, &c, NULL), 0);
	c = conf("p3", ip4(100, 64, 0, 3), NULL, 0);    /* 5 rules, 3 long */
	assert_int_equal(bx_peer_add(reg, &c, NULL), -ENOSPC);
	/* A replace is measured without the peer's old rules. */
	c = conf("p1", ip4(100, 64, 0, 1), other24, 1); /* 3 rules, 2 long */
	assert_int_equal(bx_peer_replace(reg, &c), 0);
	c = conf("p1", ip4(100, 64, 0, 1), one32, 1);   /* 3 rules, 3 long */
	assert_int_equal(bx_peer_replace(reg, &c), -ENOSPC);
	c = conf("p3", ip4(100, 64, 0, 3), NULL, 0);
	assert_int_equal(bx_peer_add(reg, &c, NULL), -ENOSPC);
	assert_int_equal(bx_peer_remove(reg, "p2"), 0);   /* budgets free at once */
	assert_int_equal(bx_peer_add(reg, &c, &idx), 0);
	assert_int_equal(idx, 2);
	bx_peer_commit(reg);
	assert_int_equal(bx_peer_table_count(bx_peer_table_get(reg)), 2);
	assert_ptr_equal(bx_peer_lookup_dst(bx_peer_table_get(reg), ip4(10, 0, 5, 1)),
			 bx_peer_find(reg, "p1"));
	/* Freed with changes staged: they are dropped. */
	c = conf("p4", ip4(100, 64, 0, 4), NULL, 0);
	assert_int_equal(bx_peer_remove(reg, "p3"), 0);
	assert_int_equal(bx_peer_replace(reg, &c), -ENOENT);
	bx_peer_registry_free(reg);
}

/* ---- batches ------------------------------------------------------------ */

static void
test_batch_moves_prefix(void **state)
{
	uint32_t ia, ib;
	struct bx_peer_registry *reg = two_peers(&ia, &ib);
	struct bx_peer_prefix b_with[] = { pfx(10, 0, 1, 0, 24), pfx(10, 0, 0, 0, 16) };
	struct bx_peer_conf ca = conf("node-a", ip4(100, 64, 0, 1), NULL, 0);
	struct bx_peer_conf cb = conf("node-b", ip4(100, 64, 0, 2), b_with, 2);
	const struct bx_peer_table *t = bx_peer_table_get(reg);
	uint64_t version = bx_peer_table_version(t);

	(void)state;
	/* Order matters inside a batch: B cannot take A's /16 before A drops it. */
	assert_int_equal(bx_peer_replace(reg, &cb), -EEXIST);
	assert_int_equal(bx_peer_replace(reg, &ca), 0);
	assert_int_equal(bx_peer_replace(reg, &cb), 0);
	/* Replacing a staged record again stages the latest one. */
	cb.endpoint_port = rte_cpu_to_be_16(9);
	assert_int_equal(bx_peer_replace(reg, &cb), 0);
	assert_ptr_equal(bx_peer_table_get(reg), t);
	assert_ptr_equal(bx_peer_lookup_dst(t, ip4(10, 0, 7, 7)), bx_peer_table_at(t, ia));
	bx_peer_commit(reg);

	t = bx_peer_table_get(reg);
	assert_int_equal(bx_peer_table_version(t), version + 1); /* one publication */
	assert_ptr_equal(bx_peer_lookup_dst(t, ip4(10, 0, 7, 7)), bx_peer_table_at(t, ib));
	assert_ptr_equal(bx_peer_lookup_dst(t, ip4(10, 0, 1, 7)), bx_peer_table_at(t, ib));
	assert_ptr_equal(bx_peer_lookup_dst(t, ip4(100, 64, 0, 1)), bx_peer_table_at(t, ia));
	assert_int_equal(bx_peer_table_at(t, ib)->endpoint_port, rte_cpu_to_be_16(9));
	assert_true(bx_peer_src_allowed(t, bx_peer_table_at(t, ib), ip4(10, 0, 7, 7)));
	assert_false(bx_peer_src_allowed(t, bx_peer_table_at(t, ia), ip4(10, 0, 7, 7)));

	/* Added and removed within one batch: never visible, index reusable. */
	ca = conf("node-tmp", ip4(100, 64, 0, 50), NULL, 0);
	assert_int_equal(bx_peer_add(reg, &ca, NULL), 0);
	assert_int_equal(bx_peer_remove(reg, "node-tmp"), 0);
	bx_peer_commit(reg);
	t = bx_peer_table_get(reg);
	assert_int_equal(bx_peer_table_count(t), 2);
	assert_null(bx_peer_lookup_dst(t, ip4(100, 64, 0, 50)));
	bx_peer_registry_free(reg);
}

/* ---- session hash under churn ------------------------------------------ */

static void
test_session_hash_churn(void **state)
{
	struct bx_peer_registry *reg = reg_new(HASH_CHURN_PEERS, 0, 0);
	struct {
		bool live;
		uint32_t rx;
	} model[HASH_CHURN_PEERS][BX_PEER_MAX_SESSIONS] = { { { 0 } } };
	uint32_t idx[HASH_CHURN_PEERS], removed[64], n_removed = 0, seq = 0;
	char ids[HASH_CHURN_PEERS][16];
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	int ctx;
	unsigned int k, s, op;

	(void)state;
	for (k = 0; k < HASH_CHURN_PEERS; k++) {
		struct bx_peer_conf c;

		snprintf(ids[k], sizeof(ids[k]), "h%u", k);
		c = conf(ids[k], ip4(100, 64, 1, k + 1), NULL, 0);
		assert_int_equal(bx_peer_add(reg, &c, &idx[k]), 0);
	}
	bx_peer_commit(reg);

	/* Table of 32 slots for 16 sessions: long probe chains, many shifts. */
	for (op = 0; op < HASH_CHURN_OPS; op++) {
		const struct bx_peer_table *t;
		unsigned int got;

		k = rnd(&seed) % HASH_CHURN_PEERS;
		s = rnd(&seed) % BX_PEER_MAX_SESSIONS;
		if (model[k][s].live && rnd(&seed) % 2 == 0) {
			assert_int_equal(bx_peer_clear_session(reg, ids[k], s), 0);
			removed[n_removed++ % BX_ARRAY_SIZE(removed)] = model[k][s].rx;
			model[k][s].live = false;
		} else {
			uint32_t rx = mix32(seq++);

			assert_int_equal(bx_peer_set_session(reg, ids[k], s, rx, &ctx), 0);
			if (model[k][s].live)
				removed[n_removed++ % BX_ARRAY_SIZE(removed)] = model[k][s].rx;
			model[k][s].live = true;
			model[k][s].rx = rx;
		}
		if (rnd(&seed) % 3 != 0)
			continue;
		bx_peer_commit(reg);
		t = bx_peer_table_get(reg);
		for (k = 0; k < HASH_CHURN_PEERS; k++) {
			for (s = 0; s < BX_PEER_MAX_SESSIONS; s++) {
				if (!model[k][s].live)
					continue;
				got = 99;
				assert_ptr_equal(bx_peer_lookup_session(t, model[k][s].rx, &got),
						 bx_peer_table_at(t, idx[k]));
				assert_int_equal(got, s);
			}
		}
		for (k = 0; k < RTE_MIN(n_removed, (uint32_t)BX_ARRAY_SIZE(removed)); k++)
			assert_null(bx_peer_lookup_session(t, removed[k], &got));
	}
	bx_peer_registry_free(reg);
}

/* ---- a commit waits for its readers ------------------------------------- */

/* Test-side checksum of a record's fields, stored in its endpoint_ip. */
static uint32_t
record_sum(const struct bx_peer *p)
{
	uint32_t h = 0x811c9dc5u;
	unsigned int i;
	size_t n = strnlen(p->id, BX_PEER_ID_MAX);

	for (i = 0; i < n; i++)
		h = (h ^ (uint8_t)p->id[i]) * 0x01000193u;
	h = (h ^ p->vip) * 0x01000193u;
	h = (h ^ p->endpoint_port) * 0x01000193u;
	h = (h ^ p->n_allowed) * 0x01000193u;
	for (i = 0; i < p->n_allowed && i < BX_PEER_MAX_RULES; i++) {
		h = (h ^ p->allowed[i].addr) * 0x01000193u;
		h = (h ^ p->allowed[i].len) * 0x01000193u;
	}
	return h | 1; /* never 0: a cleared record cannot match */
}

/* What record_sum will see for @c once the registry built the record. */
static void
conf_seal(struct bx_peer_conf *c)
{
	struct bx_peer p;
	unsigned int i;

	memset(&p, 0, sizeof(p));
	strcpy(p.id, c->id);
	p.vip = c->vip;
	p.endpoint_port = c->endpoint_port;
	p.allowed[0].addr = c->vip;
	p.allowed[0].len = 32;
	p.n_allowed = 1;
	for (i = 0; i < c->n_prefixes; i++)
		p.allowed[p.n_allowed++] = c->prefixes[i];
	c->endpoint_ip = rte_cpu_to_be_32(record_sum(&p));
}

static bool
record_ok(const struct bx_peer *p)
{
	return bx_peer_id_valid(p->id) && p->n_allowed >= 1 &&
	       p->n_allowed <= BX_PEER_MAX_RULES &&
	       rte_be_to_cpu_32(p->endpoint_ip) == record_sum(p);
}

static struct {
	struct bx_peer_registry *reg;
	int held;    /* reader holds a record, has not reported quiescent */
	int release; /* main lets the reader go on */
	int done;    /* the commit returned */
	int intact;  /* the held record was intact when released */
} hold;

static int
hold_reader(void *arg)
{
	unsigned int id = rte_lcore_id();
	const struct bx_peer_table *t;
	const struct bx_peer *p;

	(void)arg;
	rte_rcu_qsbr_thread_register(g.qsbr, id);
	rte_rcu_qsbr_thread_online(g.qsbr, id);
	t = bx_peer_table_get(hold.reg);
	p = bx_peer_lookup_dst(t, ip4(10, 0, 0, 1));
	__atomic_store_n(&hold.held, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&hold.release, __ATOMIC_ACQUIRE))
		rte_pause();
	hold.intact = p != NULL && record_ok(p) && p->endpoint_port == rte_cpu_to_be_16(1);
	rte_rcu_qsbr_quiescent(g.qsbr, id);
	rte_rcu_qsbr_thread_offline(g.qsbr, id);
	rte_rcu_qsbr_thread_unregister(g.qsbr, id);
	return 0;
}

static void *
hold_writer(void *arg)
{
	struct bx_peer_prefix a[] = { pfx(10, 0, 0, 0, 16) };
	struct bx_peer_conf c = conf("node-a", ip4(100, 64, 0, 1), a, 1);

	(void)arg;
	c.endpoint_port = rte_cpu_to_be_16(2);
	conf_seal(&c);
	BX_ASSERT(bx_peer_replace(hold.reg, &c) == 0);
	bx_peer_commit(hold.reg);
	__atomic_store_n(&hold.done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void
test_commit_waits_for_reader(void **state)
{
	struct bx_peer_prefix a[] = { pfx(10, 0, 0, 0, 16) };
	struct bx_peer_conf c = conf("node-a", ip4(100, 64, 0, 1), a, 1);
	const struct bx_peer *p;
	pthread_t writer;
	double t0;

	(void)state;
	memset(&hold, 0, sizeof(hold));
	hold.reg = reg_new(4, 0, 0);
	c.endpoint_port = rte_cpu_to_be_16(1);
	conf_seal(&c);
	assert_int_equal(bx_peer_add(hold.reg, &c, NULL), 0);
	bx_peer_commit(hold.reg);

	assert_int_equal(rte_eal_remote_launch(hold_reader, NULL, READER_LCORE), 0);
	while (!__atomic_load_n(&hold.held, __ATOMIC_ACQUIRE))
		rte_pause();
	assert_int_equal(pthread_create(&writer, NULL, hold_writer, NULL), 0);
	/* Wait for the publication (safe to read: nothing is freed while the
	 * reader holds on), then give the commit time to return if it would. */
	t0 = now_us();
	do {
		assert_true(now_us() - t0 < PUBLISH_WAIT_MS * 1e3);
		usleep(1000);
		p = bx_peer_lookup_dst(bx_peer_table_get(hold.reg), ip4(10, 0, 0, 1));
		assert_non_null(p);
	} while (p->endpoint_port != rte_cpu_to_be_16(2));
	usleep(HOLD_WAIT_MS * 1000);
	/* Published, but the old record must outlive the reader's burst. */
	assert_int_equal(__atomic_load_n(&hold.done, __ATOMIC_ACQUIRE), 0);

	__atomic_store_n(&hold.release, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(writer, NULL), 0);
	assert_int_equal(rte_eal_wait_lcore(READER_LCORE), 0);
	assert_int_equal(hold.done, 1);
	assert_true(hold.intact);
	bx_peer_registry_free(hold.reg);
}

/* ---- a reader racing thousands of changes -------------------------------- */

/* Pool of nested prefixes peers take and drop: /16s, /24s in them, /28s in those. */
#define POOL_16 4u
#define POOL_24 16u
#define POOL_28 16u
#define POOL_N (POOL_16 + POOL_24 + POOL_28)
#define PROBE_N (POOL_N + CHURN_SLOTS)

struct sess_obj {
	uint32_t magic;
	uint32_t rx_index;
	unsigned int peer_slot;
	unsigned int sess_slot;
};

static struct bx_peer_prefix pool[POOL_N];
static rte_be32_t probes[PROBE_N];

static struct {
	struct bx_peer_registry *reg;
	int online;
	int stop;
	/* Written by the reader only; read by main after rte_eal_wait_lcore. */
	uint64_t iterations;
	uint64_t hits;
	uint64_t session_hits;
	uint64_t versions;
	uint64_t failures;
	char first_failure[160];
} race;

static void
pool_init(void)
{
	unsigned int i;

	for (i = 0; i < POOL_16; i++) {
		pool[i] = pfx(10, i, 0, 0, 16);
		probes[i] = ip4(10, i, 200, 1);       /* only the /16 covers it */
	}
	for (i = 0; i < POOL_24; i++) {
		pool[POOL_16 + i] = pfx(10, i / 4, i % 4, 0, 24);
		probes[POOL_16 + i] = ip4(10, i / 4, i % 4, 100);
	}
	for (i = 0; i < POOL_28; i++) {
		pool[POOL_16 + POOL_24 + i] = pfx(10, i / 4, i % 4, 16, 28);
		probes[POOL_16 + POOL_24 + i] = ip4(10, i / 4, i % 4, 20);
	}
	for (i = 0; i < CHURN_SLOTS; i++)
		probes[POOL_N + i] = ip4(100, 64, 0, i + 1);
}

static void
race_fail(const char *what, rte_be32_t addr)
{
	if (race.failures++ == 0)
		snprintf(race.first_failure, sizeof(race.first_failure),
			 "%s (addr 0x%08x, iteration %" PRIu64 ")", what,
			 rte_be_to_cpu_32(addr), race.iterations);
}

/* Everything a reader may rely on about a peer it found in table @t. */
static void
race_check_peer(const struct bx_peer_table *t, const struct bx_peer *p,
		rte_be32_t addr)
{
	unsigned int s, peer_slot;

	if (p->index >= CHURN_SLOTS || t->peers[p->index] != p) {
		race_fail("peer not at its index", addr);
		return;
	}
	if (!record_ok(p) || sscanf(p->id, "peer-%u", &peer_slot) != 1 ||
	    p->vip != ip4(100, 64, 0, peer_slot + 1)) {
		race_fail("torn or freed record", addr);
		return;
	}
	if (!peer_allows(p, addr))
		race_fail("routed to a peer that does not own the address", addr);
	for (s = 0; s < BX_PEER_MAX_SESSIONS; s++) {
		const struct sess_obj *o = p->sessions[s].ctx;
		unsigned int got = 99;

		if (o == NULL)
			continue;
		/* A freed object would be an ASan report right here. */
		if (o->magic != SESS_MAGIC || o->rx_index != p->sessions[s].rx_index ||
		    o->peer_slot != peer_slot || o->sess_slot != s)
			race_fail("session object does not match", addr);
		if (bx_peer_lookup_session(t, o->rx_index, &got) != p || got != s)
			race_fail("session index does not lead back", addr);
		race.session_hits++;
	}
}

static int
race_reader(void *arg)
{
	unsigned int id = rte_lcore_id();
	uint64_t last_version = UINT64_MAX;

	(void)arg;
	rte_rcu_qsbr_thread_register(g.qsbr, id);
	rte_rcu_qsbr_thread_online(g.qsbr, id);
	__atomic_store_n(&race.online, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&race.stop, __ATOMIC_ACQUIRE)) {
		const struct bx_peer_table *t = bx_peer_table_get(race.reg);
		uint32_t i, n = 0;

		if (bx_peer_table_version(t) != last_version) {
			last_version = bx_peer_table_version(t);
			race.versions++;
		}
		for (i = 0; i < PROBE_N; i++) {
			const struct bx_peer *p = bx_peer_lookup_dst(t, probes[i]);
			rte_be32_t other = probes[(i + 1) % PROBE_N];

			if (p == NULL)
				continue;
			race.hits++;
			race_check_peer(t, p, probes[i]);
			if (bx_peer_src_allowed(t, p, other) && !peer_allows(p, other))
				race_fail("source allowed outside the peer's prefixes", other);
		}
		for (i = 0; i < bx_peer_table_capacity(t); i++) {
			const struct bx_peer *p = bx_peer_table_at(t, i);

			if (p == NULL)
				continue;
			n++;
			if (p->index != i || !record_ok(p))
				race_fail("bad record in the peer array", 0);
		}
		if (n != bx_peer_table_count(t))
			race_fail("peer count does not match the array", 0);
		race.iterations++;
		rte_rcu_qsbr_quiescent(g.qsbr, id);
	}
	rte_rcu_qsbr_thread_offline(g.qsbr, id);
	rte_rcu_qsbr_thread_unregister(g.qsbr, id);
	return 0;
}

/* The writer's model of what the registry should hold. */
struct churn_peer {
	bool present;
	uint32_t gen;
	uint64_t owned; /* bit i: pool[i] */
	struct sess_obj *sess[BX_PEER_MAX_SESSIONS];
	char id[16];
};

struct churn {
	struct churn_peer peer[CHURN_SLOTS];
	int owner[POOL_N];              /* slot or -1 */
	unsigned int n_present;
	unsigned int n_released;        /* removed in the open batch */
	struct sess_obj *retired[CHURN_BATCH_MAX * BX_PEER_MAX_SESSIONS * 2];
	unsigned int n_retired;
	uint32_t rx_seq;
	uint64_t seed;
};

static struct bx_peer_conf
churn_conf(struct churn *m, unsigned int k, uint32_t gen, uint64_t owned,
	   struct bx_peer_prefix out[CHURN_MAX_PFX])
{
	struct bx_peer_conf c;
	unsigned int i, n = 0;

	for (i = 0; i < POOL_N; i++)
		if (owned & (1ull << i))
			out[n++] = pool[i];
	c = conf(m->peer[k].id, ip4(100, 64, 0, k + 1), out, n);
	c.endpoint_port = rte_cpu_to_be_16((uint16_t)gen);
	conf_seal(&c);
	return c;
}

/* A random prefix set for slot k; with @steal, one owned by another peer. */
static uint64_t
churn_pick(struct churn *m, unsigned int k, bool steal)
{
	unsigned int n = rnd(&m->seed) % (CHURN_MAX_PFX + 1), tries;
	uint64_t owned = 0;

	for (tries = 0; tries < 64 && (unsigned int)__builtin_popcountll(owned) < n; tries++) {
		unsigned int i = rnd(&m->seed) % POOL_N;

		if (m->owner[i] < 0 || m->owner[i] == (int)k)
			owned |= 1ull << i;
	}
	if (steal) {
		for (tries = 0; tries < POOL_N; tries++) {
			unsigned int i = rnd(&m->seed) % POOL_N;

			if (m->owner[i] >= 0 && m->owner[i] != (int)k) {
				if ((unsigned int)__builtin_popcountll(owned) == CHURN_MAX_PFX)
					owned &= owned - 1;
				return owned | 1ull << i;
			}
		}
	}
	return owned;
}

static void
churn_own(struct churn *m, unsigned int k, uint64_t owned)
{
	unsigned int i;

	for (i = 0; i < POOL_N; i++) {
		if (m->owner[i] == (int)k)
			m->owner[i] = -1;
		if (owned & (1ull << i))
			m->owner[i] = (int)k;
	}
	m->peer[k].owned = owned;
}

static bool
churn_steals(const struct churn *m, unsigned int k, uint64_t owned)
{
	unsigned int i;

	for (i = 0; i < POOL_N; i++)
		if ((owned & (1ull << i)) && m->owner[i] >= 0 && m->owner[i] != (int)k)
			return true;
	return false;
}

static void
churn_retire(struct churn *m, struct sess_obj *o)
{
	if (o != NULL)
		m->retired[m->n_retired++] = o;
}

static void
churn_op(struct churn *m, struct bx_peer_registry *reg)
{
	unsigned int k = rnd(&m->seed) % CHURN_SLOTS;
	unsigned int op = rnd(&m->seed) % 100;
	struct churn_peer *cp = &m->peer[k];
	struct bx_peer_prefix pf[CHURN_MAX_PFX];
	struct bx_peer_conf c;
	uint64_t owned;

	if (!cp->present) {
		if (op < 85) {
			bool steal = op < 10;
			int want;

			owned = churn_pick(m, k, steal);
			c = churn_conf(m, k, cp->gen + 1, owned, pf);
			want = churn_steals(m, k, owned) ? -EEXIST :
			       m->n_present + m->n_released == CHURN_SLOTS ? -ENOSPC : 0;
			assert_int_equal(bx_peer_add(reg, &c, NULL), want);
			if (want == 0) {
				cp->gen++;
				cp->present = true;
				m->n_present++;
				churn_own(m, k, owned);
			}
		} else if (op < 90) {
			c = churn_conf(m, k, cp->gen, 0, pf);
			assert_int_equal(bx_peer_replace(reg, &c), -ENOENT);
		} else if (op < 95) {
			assert_int_equal(bx_peer_remove(reg, cp->id), -ENOENT);
		} else {
			assert_int_equal(bx_peer_set_session(reg, cp->id, 0, 1, m), -ENOENT);
		}
		return;
	}

	if (op < 35) {
		bool steal = op < 5;

		owned = churn_pick(m, k, steal);
		c = churn_conf(m, k, cp->gen + 1, owned, pf);
		if (churn_steals(m, k, owned)) {
			assert_int_equal(bx_peer_replace(reg, &c), -EEXIST);
		} else {
			assert_int_equal(bx_peer_replace(reg, &c), 0);
			cp->gen++;
			churn_own(m, k, owned);
		}
	} else if (op < 50) {
		unsigned int s;

		assert_int_equal(bx_peer_remove(reg, cp->id), 0);
		cp->present = false;
		m->n_present--;
		m->n_released++;
		churn_own(m, k, 0);
		for (s = 0; s < BX_PEER_MAX_SESSIONS; s++) {
			churn_retire(m, cp->sess[s]);
			cp->sess[s] = NULL;
		}
	} else if (op < 80) {
		unsigned int s = rnd(&m->seed) % BX_PEER_MAX_SESSIONS;
		unsigned int j = rnd(&m->seed) % CHURN_SLOTS;
		const struct sess_obj *taken = m->peer[j].sess[rnd(&m->seed) % BX_PEER_MAX_SESSIONS];
		struct sess_obj *o;

		if (op < 55 && taken != NULL && taken != cp->sess[s]) {
			o = &(struct sess_obj){ 0 };
			assert_int_equal(bx_peer_set_session(reg, cp->id, s, taken->rx_index, o),
					 -EEXIST);
			return;
		}
		o = malloc(sizeof(*o));
		assert_non_null(o);
		o->magic = SESS_MAGIC;
		o->rx_index = mix32(m->rx_seq++);
		o->peer_slot = k;
		o->sess_slot = s;
		assert_int_equal(bx_peer_set_session(reg, cp->id, s, o->rx_index, o), 0);
		churn_retire(m, cp->sess[s]);
		cp->sess[s] = o;
	} else if (op < 95) {
		unsigned int s = rnd(&m->seed) % BX_PEER_MAX_SESSIONS;

		assert_int_equal(bx_peer_clear_session(reg, cp->id, s), 0);
		churn_retire(m, cp->sess[s]);
		cp->sess[s] = NULL;
	} else {
		c = churn_conf(m, k, cp->gen, 0, pf);
		assert_int_equal(bx_peer_add(reg, &c, NULL), -EEXIST);
	}
}

/* After a commit returns, the published table is exactly the model. */
static void
churn_verify(const struct churn *m, struct bx_peer_registry *reg)
{
	const struct bx_peer_table *t = bx_peer_table_get(reg);
	unsigned int i, k, s;

	assert_int_equal(bx_peer_table_count(t), m->n_present);
	for (i = 0; i < PROBE_N; i++) {
		const struct bx_peer *p = bx_peer_lookup_dst(t, probes[i]);
		int want = -1, best_len = -1;

		for (k = 0; k < POOL_N; k++) {
			if (m->owner[k] >= 0 && in_prefix(probes[i], &pool[k]) &&
			    pool[k].len > best_len) {
				want = m->owner[k];
				best_len = pool[k].len;
			}
		}
		if (i >= POOL_N && m->peer[i - POOL_N].present)
			want = (int)(i - POOL_N);
		if (want < 0) {
			assert_null(p);
		} else {
			assert_non_null(p);
			assert_string_equal(p->id, m->peer[want].id);
		}
	}
	for (k = 0; k < CHURN_SLOTS; k++) {
		const struct bx_peer *p = bx_peer_find(reg, m->peer[k].id);

		assert_int_equal(p != NULL, m->peer[k].present);
		if (p == NULL)
			continue;
		assert_ptr_equal(bx_peer_table_at(t, p->index), p);
		assert_int_equal(p->endpoint_port, rte_cpu_to_be_16((uint16_t)m->peer[k].gen));
		for (s = 0; s < BX_PEER_MAX_SESSIONS; s++)
			assert_ptr_equal(p->sessions[s].ctx, m->peer[k].sess[s]);
	}
}

static void
test_concurrent_churn(void **state)
{
	struct churn *m = calloc(1, sizeof(*m));
	unsigned int b, i, k, s;
	double t0;

	(void)state;
	assert_non_null(m);
	pool_init();
	m->seed = 0x243f6a8885a308d3ull;
	for (i = 0; i < POOL_N; i++)
		m->owner[i] = -1;
	for (k = 0; k < CHURN_SLOTS; k++)
		snprintf(m->peer[k].id, sizeof(m->peer[k].id), "peer-%02u", k);

	memset(&race, 0, sizeof(race));
	/* Exactly enough rules: 16 virtual IPs + 16 /28s are the long ones. */
	race.reg = reg_new(CHURN_SLOTS, CHURN_SLOTS + POOL_N, CHURN_SLOTS + POOL_28);
	assert_int_equal(rte_eal_remote_launch(race_reader, NULL, READER_LCORE), 0);
	while (!__atomic_load_n(&race.online, __ATOMIC_ACQUIRE))
		rte_pause();

	t0 = now_us();
	for (b = 0; b < CHURN_BATCHES; b++) {
		unsigned int n = 1 + rnd(&m->seed) % CHURN_BATCH_MAX;

		for (i = 0; i < n; i++)
			churn_op(m, race.reg);
		bx_peer_commit(race.reg);
		/* The commit waited out every reader: old objects may go. */
		for (i = 0; i < m->n_retired; i++)
			free(m->retired[i]);
		m->n_retired = 0;
		m->n_released = 0;
		churn_verify(m, race.reg);
	}
	__atomic_store_n(&race.stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(rte_eal_wait_lcore(READER_LCORE), 0);
	printf("# churn: %u batches in %.0f ms; reader: %" PRIu64 " bursts, %" PRIu64
	       " route hits, %" PRIu64 " session checks, %" PRIu64 " table versions\n",
	       CHURN_BATCHES, (now_us() - t0) / 1e3, race.iterations, race.hits,
	       race.session_hits, race.versions);
	if (race.failures != 0)
		fail_msg("reader saw %" PRIu64 " inconsistencies, first: %s",
			 race.failures, race.first_failure);
	/* The race really happened: the reader saw changing tables with data. */
	assert_true(race.versions > 100);
	assert_true(race.hits > 1000);
	assert_true(race.session_hits > 100);

	bx_peer_registry_free(race.reg);
	for (k = 0; k < CHURN_SLOTS; k++)
		for (s = 0; s < BX_PEER_MAX_SESSIONS; s++)
			free(m->peer[k].sess[s]);
	free(m);
}

/* ---- 10000 peers -------------------------------------------------------- */

static void
scale_conf(uint32_t i, char id[16], struct bx_peer_prefix *p, struct bx_peer_conf *c)
{
	snprintf(id, 16, "node-%05u", i);
	/* Virtual IP and /24 in a /24 of their own: one tbl8 group per peer,
	 * rte_lpm's costly case. */
	*p = pfx(10, i >> 8, i & 0xff, 0, 24);
	*c = conf(id, ip4(10, i >> 8, i & 0xff, 1), p, 1);
}

static void
test_scale_10000(void **state)
{
	struct bx_peer_registry *reg = reg_new(SCALE_PEERS, 0, 0);
	const struct bx_peer_table *t;
	struct bx_peer_prefix p;
	struct bx_peer_conf c;
	char id[16];
	double t0, last = 0, worst = 0, sum = 0, t_batch, t_replace, t_remove;
	int ctx;
	uint32_t i, idx;

	(void)state;
	for (i = 0; i < SCALE_PEERS; i++) {
		scale_conf(i, id, &p, &c);
		t0 = now_us();
		assert_int_equal(bx_peer_add(reg, &c, &idx), 0);
		bx_peer_commit(reg);
		last = now_us() - t0;
		sum += last;
		worst = RTE_MAX(worst, last);
		assert_int_equal(idx, i);
	}
	scale_conf(SCALE_PEERS, id, &p, &c);
	assert_int_equal(bx_peer_add(reg, &c, NULL), -ENOSPC);

	/* One session each, in one batch. */
	t0 = now_us();
	for (i = 0; i < SCALE_PEERS; i++) {
		snprintf(id, sizeof(id), "node-%05u", i);
		assert_int_equal(bx_peer_set_session(reg, id, 0, mix32(i), &ctx), 0);
	}
	bx_peer_commit(reg);
	t_batch = now_us() - t0;

	t = bx_peer_table_get(reg);
	assert_int_equal(bx_peer_table_count(t), SCALE_PEERS);
	for (i = 0; i < SCALE_PEERS; i++) {
		const struct bx_peer *pi = bx_peer_table_at(t, i);
		unsigned int slot = 99;

		assert_non_null(pi);
		assert_ptr_equal(bx_peer_lookup_dst(t, ip4(10, i >> 8, i & 0xff, 1)), pi);
		assert_ptr_equal(bx_peer_lookup_dst(t, ip4(10, i >> 8, i & 0xff, 77)), pi);
		assert_ptr_equal(bx_peer_lookup_session(t, mix32(i), &slot), pi);
		assert_int_equal(slot, 0);
		assert_true(bx_peer_src_allowed(t, pi, ip4(10, i >> 8, i & 0xff, 254)));
		assert_false(bx_peer_src_allowed(t, pi, ip4(10, (i + 1) >> 8, (i + 1) & 0xff, 1)));
	}
	assert_null(bx_peer_lookup_dst(t, ip4(10, SCALE_PEERS >> 8, SCALE_PEERS & 0xff, 1)));

	/* Change one peer at full size. */
	scale_conf(SCALE_PEERS / 2, id, &p, &c);
	p = pfx(172, 16, 0, 0, 24);
	t0 = now_us();
	assert_int_equal(bx_peer_replace(reg, &c), 0);
	bx_peer_commit(reg);
	t_replace = now_us() - t0;
	t = bx_peer_table_get(reg);
	assert_ptr_equal(bx_peer_lookup_dst(t, ip4(172, 16, 0, 9)),
			 bx_peer_table_at(t, SCALE_PEERS / 2));
	assert_null(bx_peer_lookup_dst(t, ip4(10, (SCALE_PEERS / 2) >> 8,
					      (SCALE_PEERS / 2) & 0xff, 77)));
	t0 = now_us();
	assert_int_equal(bx_peer_remove(reg, "node-00000"), 0);
	bx_peer_commit(reg);
	t_remove = now_us() - t0;
	t = bx_peer_table_get(reg);
	assert_null(bx_peer_lookup_dst(t, ip4(10, 0, 0, 1)));
	assert_int_equal(bx_peer_table_count(t), SCALE_PEERS - 1);

	printf("# %u peers, one commit each: 10000th add %.0f us, mean %.0f us, worst %.0f us;"
	       " %u sessions in one batch %.1f ms; replace %.0f us; remove %.0f us\n",
	       SCALE_PEERS, last, sum / SCALE_PEERS, worst, SCALE_PEERS, t_batch / 1e3,
	       t_replace, t_remove);
	bx_peer_registry_free(reg);
}

/* ---- suite -------------------------------------------------------------- */

static int
group_setup(void **state)
{
	size_t sz;

	(void)state;
	if (bx_test_eal_init("0-1") != 0)
		return -1;
	if (rte_lcore_count() < 2 || !rte_lcore_is_enabled(READER_LCORE))
		return -1;
	sz = rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE);
	g.qsbr = rte_zmalloc("test_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (g.qsbr == NULL || rte_rcu_qsbr_init(g.qsbr, RTE_MAX_LCORE) != 0)
		return -1;
	return 0;
}

/*
 * Paths: a conf without them is one path (its endpoint, underlay 0); a
 * conf with them is copied with its lane modes; more than
 * BX_PEER_MAX_PATHS is refused and the old record stays.
 */
static void
test_paths(void **state)
{
	struct bx_peer_registry *reg = reg_new(16, 0, 0);
	struct bx_peer_conf c = conf("node-a", ip4(100, 64, 0, 1), NULL, 0);
	const struct bx_peer *p;
	uint32_t index;

	(void)state;
	assert_int_equal(bx_peer_add(reg, &c, &index), 0);
	bx_peer_commit(reg);
	p = find(reg, "node-a");
	assert_int_equal(p->n_paths, 1);
	assert_int_equal(p->paths[0].ip, ip4(192, 0, 2, 1));
	assert_int_equal(p->paths[0].port, rte_cpu_to_be_16(51820));
	assert_int_equal(p->paths[0].ul, 0);

	c.n_paths = 2;
	c.paths[0] = (struct bx_peer_path){ ip4(192, 0, 2, 1), rte_cpu_to_be_16(7600), 0 };
	c.paths[1] = (struct bx_peer_path){ ip4(198, 51, 100, 7), rte_cpu_to_be_16(7601), 1 };
	c.lane_mode[0] = 0;
	c.lane_mode[1] = 1;
	c.lane_mode[2] = 2;
	assert_int_equal(bx_peer_replace(reg, &c), 0);
	bx_peer_commit(reg);
	p = find(reg, "node-a");
	assert_int_equal(p->index, index);
	assert_int_equal(p->n_paths, 2);
	assert_int_equal(p->paths[1].ip, ip4(198, 51, 100, 7));
	assert_int_equal(p->paths[1].port, rte_cpu_to_be_16(7601));
	assert_int_equal(p->paths[1].ul, 1);
	assert_int_equal(p->lane_mode[2], 2);

	c.n_paths = BX_PEER_MAX_PATHS + 1;
	assert_int_equal(bx_peer_replace(reg, &c), -EINVAL);
	bx_peer_commit(reg);
	assert_int_equal(find(reg, "node-a")->n_paths, 2);
	bx_peer_registry_free(reg);
}

static int
group_teardown(void **state)
{
	(void)state;
	rte_free(g.qsbr);
	rte_eal_cleanup();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_rules),
		cmocka_unit_test(test_add_lookup_dst),
		cmocka_unit_test(test_session_lookup),
		cmocka_unit_test(test_src_allowed),
		cmocka_unit_test(test_replace_keeps_index),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_conf_errors),
		cmocka_unit_test(test_state_errors),
		cmocka_unit_test(test_budget_errors),
		cmocka_unit_test(test_batch_moves_prefix),
		cmocka_unit_test(test_session_hash_churn),
		cmocka_unit_test(test_commit_waits_for_reader),
		cmocka_unit_test(test_concurrent_churn),
		cmocka_unit_test(test_scale_10000),
	};

	return cmocka_run_group_tests_name("peer", tests, group_setup, group_teardown);
}
