/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of lib/lanes under --no-huge. Packets carry a sequence number
 * in their first payload bytes so order, eviction and tail drop are checked
 * packet by packet; every test ends with the mempool full again, so a
 * packet leaked anywhere fails it. The last test runs a real producer on
 * lcore 1 against the worker on lcore 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "bx_common.h"
#include "bx_lanes.h"
#include "bx_test_eal.h"

#define POOL_SIZE 8191u
#define PKT_LEN 100u
#define BURST 32u
/* Fake TSC for bucket tests: one tick is one microsecond. */
#define FAKE_HZ 1000000u

static struct rte_mempool *pool;

static int
group_setup(void **state)
{
	(void)state;
	if (bx_test_eal_init("0-1") != 0)
		return -1;
	pool = rte_pktmbuf_pool_create("bx_lanes_test", POOL_SIZE, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
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

static struct rte_mbuf *
mk(uint32_t seq, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	char *p;

	assert_non_null(m);
	p = rte_pktmbuf_append(m, (uint16_t)len);
	assert_non_null(p);
	memset(p, 0, len);
	memcpy(p, &seq, sizeof(seq));
	return m;
}

static uint32_t
seq_of(const struct rte_mbuf *m)
{
	uint32_t seq;

	memcpy(&seq, rte_pktmbuf_mtod(m, const char *), sizeof(seq));
	return seq;
}

static void
assert_pool_full(void)
{
	assert_int_equal(rte_mempool_avail_count(pool), POOL_SIZE);
}

static struct bx_lanes *
lanes_new(const char *name, uint32_t kbps, uint32_t burst)
{
	struct bx_lanes_conf conf = {
		.name = name,
		.socket_id = SOCKET_ID_ANY,
		.tsc_hz = FAKE_HZ,
		.bulk_kbps = kbps,
		.bulk_burst_bytes = burst,
	};
	struct bx_lanes *l = bx_lanes_create(&conf);

	assert_non_null(l);
	return l;
}

/* Enqueues seq first..first+n-1 of @len bytes on @lane; returns how many were taken. */
static unsigned int
put(struct bx_lanes *l, enum bx_wire_lane lane, uint32_t first, unsigned int n,
    uint32_t len)
{
	struct rte_mbuf *pkts[BURST];
	unsigned int done = 0, taken = 0;

	while (done < n) {
		uint16_t k = (uint16_t)RTE_MIN(n - done, BURST), ok, ev;
		uint16_t i;

		for (i = 0; i < k; i++)
			pkts[i] = mk(first + done + i, len);
		ok = bx_lanes_enqueue(l, lane, pkts, k, &ev);
		/* Refused packets are ours again, still in order at the end. */
		for (i = ok; i < k; i++) {
			assert_int_equal(seq_of(pkts[i]), first + done + i);
			rte_pktmbuf_free(pkts[i]);
		}
		done += k;
		taken += ok;
	}
	return taken;
}

/* Dequeues up to @n at @now, checks their sequence numbers, frees them. */
static void
expect_out(struct bx_lanes *l, uint64_t now, uint16_t n, const uint32_t *seqs,
	   uint16_t want)
{
	struct rte_mbuf *out[64];
	uint16_t got, i;

	assert_true(n <= BX_ARRAY_SIZE(out));
	got = bx_lanes_dequeue(l, out, n, now);
	for (i = 0; i < got && i < want; i++) {
		if (seq_of(out[i]) != seqs[i])
			fail_msg("packet %u: seq %u, want %u", i, seq_of(out[i]),
				 seqs[i]);
	}
	rte_pktmbuf_free_bulk(out, got);
	assert_int_equal(got, want);
}

/* Drains everything at @now; checks it is seq first, first + 1, ... */
static unsigned int
drain_in_order(struct bx_lanes *l, uint64_t now, uint32_t first)
{
	struct rte_mbuf *out[BURST];
	unsigned int total = 0;
	uint16_t got, i;

	while ((got = bx_lanes_dequeue(l, out, BURST, now)) > 0) {
		for (i = 0; i < got; i++) {
			if (seq_of(out[i]) != first + total + i)
				fail_msg("drained seq %u, want %u", seq_of(out[i]),
					 first + total + i);
		}
		rte_pktmbuf_free_bulk(out, got);
		total += got;
	}
	return total;
}

static void
expect_stats(struct bx_lanes *l, enum bx_wire_lane lane, uint64_t enq,
	     uint64_t deq, uint64_t dropped)
{
	struct bx_lanes_stats s;

	bx_lanes_get_stats(l, lane, &s);
	assert_int_equal(s.enqueued, enq);
	assert_int_equal(s.dequeued, deq);
	assert_int_equal(s.dropped, dropped);
}

/* ---- creation ----------------------------------------------------------- */

static void
test_create_args(void **state)
{
	static const struct {
		const char *name;
		uint32_t size[BX_LANE_COUNT];
		int err;
	} bad[] = {
		{ NULL, { 0, 0, 0 }, EINVAL },
		{ "", { 0, 0, 0 }, EINVAL },
		{ "seventeen_chars_x", { 0, 0, 0 }, ENAMETOOLONG },
		{ "big_c", { BX_LANES_MAX_SIZE + 1, 0, 0 }, EINVAL },
		{ "big_t", { 0, BX_LANES_MAX_SIZE + 1, 0 }, EINVAL },
		{ "big_b", { 0, 0, BX_LANES_MAX_SIZE + 1 }, EINVAL },
	};
	struct bx_lanes_conf conf = { .socket_id = SOCKET_ID_ANY };
	struct bx_lanes *l, *again;
	size_t i;

	(void)state;
	rte_errno = 0;
	assert_null(bx_lanes_create(NULL));
	assert_int_equal(rte_errno, EINVAL);
	for (i = 0; i < BX_ARRAY_SIZE(bad); i++) {
		conf.name = bad[i].name;
		memcpy(conf.size, bad[i].size, sizeof(conf.size));
		rte_errno = 0;
		assert_null(bx_lanes_create(&conf));
		assert_int_equal(rte_errno, bad[i].err);
	}

	/* Sixteen characters is the longest name; the same name twice is refused. */
	memset(conf.size, 0, sizeof(conf.size));
	conf.name = "sixteen_chars_xy";
	l = bx_lanes_create(&conf);
	assert_non_null(l);
	rte_errno = 0;
	again = bx_lanes_create(&conf);
	assert_null(again);
	assert_int_equal(rte_errno, EEXIST);
	bx_lanes_free(l);
	/* Its rings are gone: the name can be used again. */
	l = bx_lanes_create(&conf);
	assert_non_null(l);
	bx_lanes_free(l);
	bx_lanes_free(NULL);
}

/* Each lane holds exactly its size: default or configured. */
static void
test_sizes(void **state)
{
	static const struct {
		uint32_t size[BX_LANE_COUNT];
		uint32_t want[BX_LANE_COUNT];
	} cases[] = {
		{ { 0, 0, 0 },
		  { BX_LANES_CRITICAL_SIZE, BX_LANES_TELEMETRY_SIZE, BX_LANES_BULK_SIZE } },
		{ { 8, 100, 33 }, { 8, 100, 33 } },
	};
	size_t i;
	unsigned int lane;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		struct bx_lanes_conf conf = {
			.name = "sizes",
			.socket_id = SOCKET_ID_ANY,
			.tsc_hz = FAKE_HZ,
		};
		struct bx_lanes *l;

		memcpy(conf.size, cases[i].size, sizeof(conf.size));
		l = bx_lanes_create(&conf);
		assert_non_null(l);
		for (lane = 0; lane < BX_LANE_COUNT; lane++) {
			/* Empty, a lane has room for exactly its size. */
			assert_int_equal(bx_lanes_room(l, lane), cases[i].want[lane]);
			/* Critical takes everything, so count what it keeps. */
			put(l, lane, 0, cases[i].want[lane] + 3, PKT_LEN);
			assert_int_equal(bx_lanes_count(l, lane), cases[i].want[lane]);
			assert_int_equal(bx_lanes_room(l, lane), 0);
		}
		bx_lanes_free(l);
		assert_pool_full();
	}
}

/* ---- priority ----------------------------------------------------------- */

static void
test_strict_priority(void **state)
{
	struct bx_lanes *l = lanes_new("prio", BX_LANES_BULK_UNLIMITED, 0);
	static const uint32_t all[] = {
		100, 101, 102, 103, 104, 200, 201, 202, 203, 204,
		300, 301, 302, 303, 304,
	};
	static const uint32_t first[] = { 200, 201, 202 };
	static const uint32_t second[] = { 100, 203, 204, 300 };
	static const uint32_t third[] = { 301, 302, 303, 304 };

	(void)state;
	/* Arrival order is the reverse of priority. */
	assert_int_equal(put(l, BX_LANE_BULK, 300, 5, PKT_LEN), 5);
	assert_int_equal(put(l, BX_LANE_TELEMETRY, 200, 5, PKT_LEN), 5);
	assert_int_equal(put(l, BX_LANE_CRITICAL, 100, 5, PKT_LEN), 5);
	expect_out(l, 0, 64, all, BX_ARRAY_SIZE(all));

	/* A critical packet that arrives between bursts jumps the queue. */
	put(l, BX_LANE_BULK, 300, 5, PKT_LEN);
	put(l, BX_LANE_TELEMETRY, 200, 5, PKT_LEN);
	expect_out(l, 0, 3, first, BX_ARRAY_SIZE(first));
	put(l, BX_LANE_CRITICAL, 100, 1, PKT_LEN);
	expect_out(l, 0, 4, second, BX_ARRAY_SIZE(second));
	expect_out(l, 0, 64, third, BX_ARRAY_SIZE(third));
	expect_out(l, 0, 64, NULL, 0);

	expect_stats(l, BX_LANE_CRITICAL, 6, 6, 0);
	expect_stats(l, BX_LANE_TELEMETRY, 10, 10, 0);
	expect_stats(l, BX_LANE_BULK, 10, 10, 0);
	bx_lanes_free(l);
	assert_pool_full();
}

/* ---- Critical: newest wins ---------------------------------------------- */

static void
test_critical_evicts_oldest(void **state)
{
	struct bx_lanes *l = lanes_new("crit", BX_LANES_BULK_UNLIMITED, 0);
	struct rte_mbuf *pkts[BURST];
	uint32_t seq = 0;
	unsigned int total_ev = 0;
	uint16_t i, ok, ev;

	(void)state;
	/* Fill 1024 + 10 in bursts; the last burst makes room by evicting. */
	while (seq < BX_LANES_CRITICAL_SIZE + 10) {
		uint16_t k = (uint16_t)RTE_MIN(BX_LANES_CRITICAL_SIZE + 10 - seq, BURST);

		for (i = 0; i < k; i++)
			pkts[i] = mk(seq + i, PKT_LEN);
		ev = 99;
		ok = bx_lanes_enqueue(l, BX_LANE_CRITICAL, pkts, k, &ev);
		assert_int_equal(ok, k);
		total_ev += ev;
		seq += k;
	}
	assert_int_equal(total_ev, 10);
	assert_int_equal(bx_lanes_count(l, BX_LANE_CRITICAL), BX_LANES_CRITICAL_SIZE);
	/* The evicted ones were freed, not leaked: only the queued are out. */
	assert_int_equal(rte_mempool_avail_count(pool),
			 POOL_SIZE - BX_LANES_CRITICAL_SIZE);
	expect_stats(l, BX_LANE_CRITICAL, BX_LANES_CRITICAL_SIZE + 10, 0, 10);
	/* The first ten sent are the ones gone. */
	assert_int_equal(drain_in_order(l, 0, 10), BX_LANES_CRITICAL_SIZE);
	expect_stats(l, BX_LANE_CRITICAL, BX_LANES_CRITICAL_SIZE + 10,
		     BX_LANES_CRITICAL_SIZE, 10);
	bx_lanes_free(l);
	assert_pool_full();
}

/* A burst bigger than the whole ring keeps only its own newest packets. */
static void
test_critical_burst_larger_than_ring(void **state)
{
	struct bx_lanes_conf conf = {
		.name = "crit_small",
		.socket_id = SOCKET_ID_ANY,
		.size = { [BX_LANE_CRITICAL] = 8 },
		.tsc_hz = FAKE_HZ,
	};
	struct bx_lanes *l = bx_lanes_create(&conf);
	struct rte_mbuf *pkts[20];
	uint16_t i, ev;

	(void)state;
	assert_non_null(l);
	assert_int_equal(put(l, BX_LANE_CRITICAL, 0, 3, PKT_LEN), 3);
	for (i = 0; i < 20; i++)
		pkts[i] = mk(100 + i, PKT_LEN);
	assert_int_equal(bx_lanes_enqueue(l, BX_LANE_CRITICAL, pkts, 20, &ev), 20);
	/* The three queued and the burst's own first twelve. */
	assert_int_equal(ev, 3 + 12);
	assert_int_equal(drain_in_order(l, 0, 112), 8);
	expect_stats(l, BX_LANE_CRITICAL, 23, 8, 15);
	bx_lanes_free(l);
	assert_pool_full();
}

/* ---- Telemetry and Bulk: tail drop -------------------------------------- */

static void
test_tail_drop(void **state)
{
	static const struct {
		enum bx_wire_lane lane;
		unsigned int size;
	} cases[] = {
		{ BX_LANE_TELEMETRY, BX_LANES_TELEMETRY_SIZE },
		{ BX_LANE_BULK, BX_LANES_BULK_SIZE },
	};
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		struct bx_lanes *l = lanes_new("tail", BX_LANES_BULK_UNLIMITED, 0);
		struct rte_mbuf *one;
		uint16_t ev = 99;

		/* put() checks the refused ones come back in order, then frees them. */
		assert_int_equal(put(l, cases[i].lane, 0, cases[i].size + 10, PKT_LEN),
				 cases[i].size);
		expect_stats(l, cases[i].lane, cases[i].size, 0, 10);
		assert_int_equal(rte_mempool_avail_count(pool), POOL_SIZE - cases[i].size);

		/* A full lane refuses even one, and says nothing was evicted. */
		one = mk(7777, PKT_LEN);
		assert_int_equal(bx_lanes_enqueue(l, cases[i].lane, &one, 1, &ev), 0);
		assert_int_equal(ev, 0);
		rte_pktmbuf_free(one);

		/* What stayed is the head of the stream, in order. */
		assert_int_equal(drain_in_order(l, 0, 0), cases[i].size);
		expect_stats(l, cases[i].lane, cases[i].size, cases[i].size, 11);
		expect_stats(l, BX_LANE_CRITICAL, 0, 0, 0);
		bx_lanes_free(l);
		assert_pool_full();
	}
}

/* ---- Bulk token bucket -------------------------------------------------- */

/*
 * 800 kbit/s = 100000 bytes/s = 0.1 byte per fake tick; burst 1000 bytes;
 * packets of 300 bytes.
 */
#define TB_KBPS 800u
#define TB_BURST 1000u
#define TB_LEN 300u

static void
test_bucket_exact(void **state)
{
	struct bx_lanes *l = lanes_new("bucket", TB_KBPS, TB_BURST);
	static const uint32_t s012[] = { 0, 1, 2 };
	static const uint32_t s3[] = { 3 };
	static const uint32_t s4[] = { 4 };
	static const uint32_t crit_tel[] = { 100, 200 };
	static const uint32_t s567[] = { 5, 6, 7 };
	uint64_t now = 5000;
	unsigned int t;

	(void)state;
	assert_int_equal(put(l, BX_LANE_BULK, 0, 20, TB_LEN), 20);

	/* A full bucket pays for three: 900 of 1000 bytes. */
	expect_out(l, now, 64, s012, 3);
	expect_out(l, now, 64, NULL, 0);
	assert_int_equal(bx_lanes_count(l, BX_LANE_BULK), 17);

	/* 100 left; 200 more bytes take 2000 ticks, not one tick less. */
	now += 1999;
	expect_out(l, now, 64, NULL, 0);
	now += 1;
	expect_out(l, now, 64, s3, 1);

	/* Fractions of a byte add up over many short intervals. */
	for (t = 0; t < 2999; t++)
		expect_out(l, ++now, 64, NULL, 0);
	expect_out(l, ++now, 64, s4, 1);

	/* Critical and Telemetry pass while Bulk waits. */
	put(l, BX_LANE_CRITICAL, 100, 1, TB_LEN);
	put(l, BX_LANE_TELEMETRY, 200, 1, TB_LEN);
	expect_out(l, now, 64, crit_tel, 2);

	/* Idle for a second: the bucket holds the burst, no more. */
	now += FAKE_HZ;
	expect_out(l, now, 64, s567, 3);
	expect_out(l, now, 64, NULL, 0);

	/* Over 10 s the bytes out are rate * time, to the packet. */
	{
		uint64_t end = now + 10 * FAKE_HZ, bytes = 0;
		struct rte_mbuf *out[4];
		uint16_t got;

		put(l, BX_LANE_BULK, 20, 3400, TB_LEN);
		for (; now < end; now += 977) {
			got = bx_lanes_dequeue(l, out, 4, now);
			bytes += (uint64_t)got * TB_LEN;
			rte_pktmbuf_free_bulk(out, got);
		}
		/* 100 bytes in hand + 1 000 000 earned: 3333 packets, no burst. */
		assert_int_equal(bytes, 3333u * TB_LEN);
	}
	bx_lanes_free(l);
	assert_pool_full();
}

/* A packet bigger than the burst leaves when the bucket is full, then repays. */
static void
test_bucket_oversize(void **state)
{
	struct bx_lanes *l = lanes_new("oversize", TB_KBPS, 500);
	static const uint32_t s0[] = { 0 };
	static const uint32_t s1[] = { 1 };
	uint64_t now = 1;

	(void)state;
	put(l, BX_LANE_BULK, 0, 1, 1200);
	put(l, BX_LANE_BULK, 1, 1, 100);
	expect_out(l, now, 64, s0, 1);  /* 500 - 1200: 700 in debt */
	now += 7999;                    /* 800 bytes to earn for the next 100 */
	expect_out(l, now, 64, NULL, 0);
	now += 1;
	expect_out(l, now, 64, s1, 1);
	bx_lanes_free(l);
	assert_pool_full();
}

static void
test_bucket_rate_change(void **state)
{
	struct bx_lanes *l = lanes_new("ratechg", TB_KBPS, 600);
	static const uint32_t s01[] = { 0, 1 };
	static const uint32_t s2[] = { 2 };
	static const uint32_t s3[] = { 3 };
	static const uint32_t s45[] = { 4, 5 };
	static const uint32_t s6[] = { 6 };
	static const uint32_t rest[] = { 7, 8, 9 };
	static const uint32_t s10[] = { 10 };
	uint64_t now = 100;

	(void)state;
	put(l, BX_LANE_BULK, 0, 10, TB_LEN);
	expect_out(l, now, 64, s01, 2);   /* 600-byte burst: two */
	now += 3000;                      /* 300 bytes at 0.1/tick */
	expect_out(l, now, 64, s2, 1);

	/* Double the rate. Time before the worker saw it was earned at the
	 * old rate; from then on the same interval pays for two. */
	bx_lanes_set_bulk_rate(l, 2 * TB_KBPS, 600);
	now += 3000;
	expect_out(l, now, 64, s3, 1);
	now += 3000;
	expect_out(l, now, 64, s45, 2);

	/* Shrink the burst: tokens are cut to it. */
	now += FAKE_HZ;                   /* bucket full: 600 */
	bx_lanes_set_bulk_rate(l, 2 * TB_KBPS, 300);
	expect_out(l, now, 64, s6, 1);

	/* Unlimited: everything leaves at once. */
	bx_lanes_set_bulk_rate(l, BX_LANES_BULK_UNLIMITED, 0);
	expect_out(l, now, 64, rest, 3);

	/* Back to a limit: the bucket starts full (300), then paces again. */
	put(l, BX_LANE_BULK, 10, 2, TB_LEN);
	bx_lanes_set_bulk_rate(l, TB_KBPS, 300);
	expect_out(l, now, 64, s10, 1);
	now += 2999;
	expect_out(l, now, 64, NULL, 0);
	bx_lanes_free(l);
	assert_pool_full();
}

/* Freeing a loaded object frees every packet, including Bulk ones waiting for tokens. */
static void
test_free_with_queued(void **state)
{
	struct bx_lanes *l = lanes_new("leak", TB_KBPS, 500);
	struct rte_mbuf *out[64];
	uint16_t got;

	(void)state;
	put(l, BX_LANE_CRITICAL, 100, 41, PKT_LEN);
	put(l, BX_LANE_TELEMETRY, 200, 50, PKT_LEN);
	put(l, BX_LANE_BULK, 300, 60, TB_LEN);
	/* 41 + 50 pass, then one Bulk packet the bucket pays for. */
	got = bx_lanes_dequeue(l, out, 64, 1);
	rte_pktmbuf_free_bulk(out, got);
	assert_int_equal(got, 64);
	got = bx_lanes_dequeue(l, out, 64, 1);
	rte_pktmbuf_free_bulk(out, got);
	assert_int_equal(got, 28);
	assert_int_equal(bx_lanes_count(l, BX_LANE_BULK), 59);
	assert_int_equal(rte_mempool_avail_count(pool), POOL_SIZE - 59);
	bx_lanes_free(l);
	assert_pool_full();
}

/* ---- two lcores ---------------------------------------------------------- */

#define MT_PACKETS 200000u
/* Telemetry sequence numbers start here, so the worker tells the lanes apart. */
#define MT_TEL_BASE (1u << 30)
/* The worker waits until this many were offered to each lane, without
 * dequeuing, so Critical must have evicted and Telemetry tail-dropped. */
#define MT_HEAD_START 3000u

struct mt_producer {
	struct bx_lanes *l;
	uint64_t evicted;
	uint64_t tel_refused;
};

/* Lcore 1: Critical and Telemetry in turns, bursts of 32, as fast as it can. */
static int
mt_produce(void *arg)
{
	struct mt_producer *p = arg;
	struct rte_mbuf *pkts[BURST];
	uint32_t next[2] = { 0, 0 };
	unsigned int lane = 0;

	while (next[0] < MT_PACKETS || next[1] < MT_PACKETS) {
		uint16_t k = 0, ok, ev, i;

		if (next[lane] == MT_PACKETS)
			lane = 1 - lane;
		while (k < BURST && next[lane] < MT_PACKETS) {
			uint32_t seq = next[lane] + (lane ? MT_TEL_BASE : 0);

			pkts[k] = rte_pktmbuf_alloc(pool);
			if (pkts[k] == NULL)
				break; /* the worker holds many: retry later */
			memcpy(rte_pktmbuf_append(pkts[k], PKT_LEN), &seq, sizeof(seq));
			next[lane]++;
			k++;
		}
		ok = bx_lanes_enqueue(p->l, lane ? BX_LANE_TELEMETRY : BX_LANE_CRITICAL,
				      pkts, k, &ev);
		p->evicted += ev;
		p->tel_refused += k - ok;
		for (i = ok; i < k; i++)
			rte_pktmbuf_free(pkts[i]);
		lane = 1 - lane;
	}
	return 0;
}

static void
test_two_lcores(void **state)
{
	struct bx_lanes *l = lanes_new("mt", BX_LANES_BULK_UNLIMITED, 0);
	struct mt_producer p = { .l = l };
	struct rte_mbuf *out[8];
	int64_t last[2] = { -1, -1 };
	uint64_t received[2] = { 0, 0 };
	struct bx_lanes_stats cs, ts;
	bool done = false;

	(void)state;
	if (rte_lcore_count() < 2)
		skip();
	assert_int_equal(rte_eal_remote_launch(mt_produce, &p, 1), 0);
	do {
		bx_lanes_get_stats(l, BX_LANE_CRITICAL, &cs);
		bx_lanes_get_stats(l, BX_LANE_TELEMETRY, &ts);
	} while (cs.enqueued < MT_HEAD_START ||
		 ts.enqueued + ts.dropped < MT_HEAD_START);

	while (!done) {
		uint16_t got, i;

		/* Done once the producer had finished before an empty poll. */
		done = rte_eal_get_lcore_state(1) == WAIT;
		got = bx_lanes_dequeue(l, out, RTE_DIM(out), rte_rdtsc());
		for (i = 0; i < got; i++) {
			uint32_t seq = seq_of(out[i]);
			int lane = seq >= MT_TEL_BASE;
			int64_t s = seq - (lane ? MT_TEL_BASE : 0);

			/* Gaps are drops; going back would be reordering. */
			if (s <= last[lane])
				fail_msg("lane %d: seq %lld after %lld", lane,
					 (long long)s, (long long)last[lane]);
			last[lane] = s;
			received[lane]++;
		}
		rte_pktmbuf_free_bulk(out, got);
		if (got > 0)
			done = false;
	}
	assert_int_equal(rte_eal_wait_lcore(1), 0);

	bx_lanes_get_stats(l, BX_LANE_CRITICAL, &cs);
	bx_lanes_get_stats(l, BX_LANE_TELEMETRY, &ts);
	assert_int_equal(cs.enqueued, MT_PACKETS);
	assert_int_equal(cs.dropped, p.evicted);
	assert_int_equal(cs.dequeued, received[0]);
	assert_int_equal(cs.dequeued + cs.dropped, MT_PACKETS);
	assert_int_equal(ts.enqueued + ts.dropped, MT_PACKETS);
	assert_int_equal(ts.dropped, p.tel_refused);
	assert_int_equal(ts.dequeued, received[1]);
	assert_int_equal(ts.dequeued, ts.enqueued);
	/* The newest always survive: the last packet of each lane arrived. */
	assert_int_equal(last[0], MT_PACKETS - 1);
	assert_true(p.evicted >= MT_HEAD_START - BX_LANES_CRITICAL_SIZE);
	assert_true(p.tel_refused >= MT_HEAD_START - BX_LANES_TELEMETRY_SIZE);
	bx_lanes_free(l);
	assert_pool_full();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_args),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_strict_priority),
		cmocka_unit_test(test_critical_evicts_oldest),
		cmocka_unit_test(test_critical_burst_larger_than_ring),
		cmocka_unit_test(test_tail_drop),
		cmocka_unit_test(test_bucket_exact),
		cmocka_unit_test(test_bucket_oversize),
		cmocka_unit_test(test_bucket_rate_change),
		cmocka_unit_test(test_free_with_queued),
		cmocka_unit_test(test_two_lcores),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
