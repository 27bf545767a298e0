/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suite "probe": lib/probe. Configuration limits, the body's bytes, RTT /
 * EWMA / min / jitter against the RFC formulas computed here in floating
 * point, loss over the window (table of fate patterns), loss rising from
 * timeouts alone, both sides of the timeout, every refused echo leaving the
 * stats alone, the u32 seq wrap, the probe schedule, the congestion
 * strategies around 50 ms, a reader thread racing the writer, and the
 * failover inputs (misses and streak against the grace, over the ring wrap).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bx_common.h"
#include "bx_probe.h"

#define MS UINT64_C(1000000) /* ns */
#define US UINT64_C(1000)    /* ns */
#define T0 (UINT64_C(5000) * MS) /* any start time but 0 */
#define LEN BX_PROBE_BODY_LEN
#define UNKNOWN BX_DROP_PROBE_UNKNOWN
#define MALFORMED BX_DROP_PROBE_MALFORMED

/* ---- helpers ------------------------------------------------------------ */

static void
init_conf(struct bx_probe_path *p, uint32_t interval_ms, uint32_t window,
	  uint32_t timeout_ms, uint32_t shift, uint32_t first_seq)
{
	struct bx_probe_conf c = {
		.interval_ms = interval_ms,
		.loss_window = window,
		.timeout_ms = timeout_ms,
		.rtt_shift = shift,
		.first_seq = first_seq,
	};

	assert_int_equal(bx_probe_init(p, &c), 0);
}

static struct bx_probe_stats
stats(const struct bx_probe_path *p)
{
	struct bx_probe_stats s;

	bx_probe_read(p, &s);
	return s;
}

static void
assert_stats_equal(const struct bx_probe_stats *a, const struct bx_probe_stats *b)
{
	assert_int_equal(a->sent, b->sent);
	assert_int_equal(a->echoed, b->echoed);
	assert_int_equal(a->lost, b->lost);
	assert_int_equal(a->rtt_last_us, b->rtt_last_us);
	assert_int_equal(a->rtt_ewma_us, b->rtt_ewma_us);
	assert_int_equal(a->rtt_min_us, b->rtt_min_us);
	assert_int_equal(a->jitter_us, b->jitter_us);
	assert_int_equal(a->last_echo_ns, b->last_echo_ns);
	assert_int_equal(a->loss_permille, b->loss_permille);
	assert_int_equal(a->known, b->known);
	assert_int_equal(a->has_rtt, b->has_rtt);
}

static uint32_t
seq_of(const uint8_t *body)
{
	return (uint32_t)body[0] << 24 | (uint32_t)body[1] << 16 |
	       (uint32_t)body[2] << 8 | body[3];
}

static void
set_seq(uint8_t *body, uint32_t seq)
{
	body[0] = (uint8_t)(seq >> 24);
	body[1] = (uint8_t)(seq >> 16);
	body[2] = (uint8_t)(seq >> 8);
	body[3] = (uint8_t)seq;
}

/* Adds @d to the big-endian sent_ns of @body. */
static void
shift_sent_ns(uint8_t *body, int64_t d)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | body[BX_PROBE_OFF_SENT_NS + i];
	v += (uint64_t)d;
	for (i = 7; i >= 0; i--) {
		body[BX_PROBE_OFF_SENT_NS + i] = (uint8_t)v;
		v >>= 8;
	}
}

static double
absd(double x)
{
	return x < 0 ? -x : x;
}

/* Rounded down, as the library reports: @x >= 0. */
static double
floord(double x)
{
	return (double)(uint64_t)x;
}

/* ---- configuration -------------------------------------------------- */

static void
test_conf_defaults(void **state)
{
	struct bx_probe_conf c;
	struct bx_probe_path p;
	uint8_t body[LEN];
	uint64_t t;
	struct bx_probe_stats s;

	(void)state;
	memset(&c, 0xa5, sizeof(c));
	bx_probe_conf_defaults(&c);
	assert_int_equal(c.interval_ms, 100);
	assert_int_equal(c.loss_window, 20);
	assert_int_equal(c.timeout_ms, 1000);
	assert_int_equal(c.rtt_shift, 3);
	assert_int_equal(c.first_seq, 1);

	/* NULL conf behaves as the defaults: seq 1, 100 ms, 1 s, window 20. */
	assert_int_equal(bx_probe_init(&p, NULL), 0);
	s = stats(&p);
	assert_int_equal(s.sent, 0);
	assert_int_equal(s.known, 0);
	assert_false(s.has_rtt);
	assert_true(bx_probe_due(&p, T0));
	assert_int_equal(bx_probe_next(&p, T0, body), 1);
	assert_false(bx_probe_due(&p, T0 + 100 * MS - 1));
	assert_true(bx_probe_due(&p, T0 + 100 * MS));
	assert_int_equal(bx_probe_tick(&p, T0 + 1000 * MS), 0);
	assert_int_equal(bx_probe_tick(&p, T0 + 1000 * MS + 1), 1);
	for (t = 1; t <= 30; t++) {
		bx_probe_next(&p, T0 + t * 2000 * MS, body);
		bx_probe_tick(&p, T0 + t * 2000 * MS + 1001 * MS);
	}
	assert_int_equal(stats(&p).known, 20);
}

struct conf_case {
	const char *name;
	struct bx_probe_conf c;
	int expect;
};

static const struct conf_case conf_cases[] = {
	{ "defaults", { 100, 20, 1000, 3, 1 }, 0 },
	{ "interval 0", { 0, 20, 1000, 3, 1 }, -EINVAL },
	{ "interval max", { BX_PROBE_INTERVAL_MS_MAX, 20, 1000, 3, 1 }, 0 },
	{ "interval max + 1", { BX_PROBE_INTERVAL_MS_MAX + 1, 20, 1000, 3, 1 }, -EINVAL },
	{ "window 0", { 100, 0, 1000, 3, 1 }, -EINVAL },
	{ "window 1", { 100, 1, 1000, 3, 1 }, 0 },
	{ "window max", { 100, BX_PROBE_WINDOW_MAX, 1000, 3, 1 }, 0 },
	{ "window max + 1", { 100, BX_PROBE_WINDOW_MAX + 1, 1000, 3, 1 }, -EINVAL },
	{ "timeout 0", { 100, 20, 0, 3, 1 }, -EINVAL },
	{ "timeout 1", { 100, 20, 1, 3, 1 }, 0 },
	{ "timeout max", { 1000, 20, BX_PROBE_TIMEOUT_MS_MAX, 3, 1 }, 0 },
	{ "timeout max + 1", { 1000, 20, BX_PROBE_TIMEOUT_MS_MAX + 1, 3, 1 }, -EINVAL },
	{ "shift 0", { 100, 20, 1000, 0, 1 }, -EINVAL },
	{ "shift 1", { 100, 20, 1000, 1, 1 }, 0 },
	{ "shift max", { 100, 20, 1000, BX_PROBE_RTT_SHIFT_MAX, 1 }, 0 },
	{ "shift max + 1", { 100, 20, 1000, BX_PROBE_RTT_SHIFT_MAX + 1, 1 }, -EINVAL },
	{ "first seq 0", { 100, 20, 1000, 3, 0 }, 0 },
	{ "first seq max", { 100, 20, 1000, 3, UINT32_MAX }, 0 },
	/* In flight: timeout / interval must stay below the ring. */
	{ "ring - 1 in flight", { 10, 20, 10 * (BX_PROBE_RING - 1), 3, 1 }, 0 },
	{ "ring - 1 in flight, rounded", { 10, 20, 10 * BX_PROBE_RING - 1, 3, 1 }, 0 },
	{ "ring in flight", { 10, 20, 10 * BX_PROBE_RING, 3, 1 }, -EINVAL },
	{ "1 ms probes, 1 s timeout", { 1, 20, 1000, 3, 1 }, -EINVAL },
};

static void
test_conf_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(conf_cases); i++) {
		const struct conf_case *k = &conf_cases[i];
		struct bx_probe_path p, before;

		print_message("# conf: %s\n", k->name);
		memset(&p, 0x5a, sizeof(p));
		memcpy(&before, &p, sizeof(p));
		assert_int_equal(bx_probe_init(&p, &k->c), k->expect);
		if (k->expect != 0)
			assert_memory_equal(&p, &before, sizeof(p));
		else
			assert_int_equal(stats(&p).sent, 0);
	}
}

/* ---- the body ---------------------------------------------------------- */

static void
test_body_bytes(void **state)
{
	static const uint8_t want[2][LEN] = {
		{ 0xa0, 0xb0, 0xc0, 0xd0, 0, 0, 0, 0,
		  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 },
		{ 0xa0, 0xb0, 0xc0, 0xd1, 0, 0, 0, 0,
		  0x01, 0x02, 0x03, 0x04, 0x0b, 0x0c, 0x0d, 0x0e },
	};
	struct bx_probe_path p;
	uint8_t body[LEN];

	(void)state;
	init_conf(&p, 100, 20, 1000, 3, 0xa0b0c0d0u);
	memset(body, 0xee, sizeof(body));
	assert_int_equal(bx_probe_next(&p, UINT64_C(0x0102030405060708), body),
			 0xa0b0c0d0u);
	assert_memory_equal(body, want[0], LEN);
	assert_int_equal(bx_probe_next(&p, UINT64_C(0x010203040b0c0d0e), body),
			 0xa0b0c0d1u);
	assert_memory_equal(body, want[1], LEN);
	assert_int_equal(stats(&p).sent, 2);
	/* What the echoer checks before sending the body back. */
	assert_int_equal(bx_probe_validate(body, LEN), BX_DROP_NONE);
	assert_int_equal(bx_probe_validate(body, LEN - 1), MALFORMED);
	assert_int_equal(bx_probe_validate(body, LEN + 1), MALFORMED);
	body[BX_PROBE_OFF_RESERVED + 3] = 1;
	assert_int_equal(bx_probe_validate(body, LEN), MALFORMED);
}

/* ---- RTT, EWMA, min, jitter -------------------------------------------- */

struct rtt_case {
	const char *name;
	uint32_t shift;
	size_t n;
	uint64_t rtt_us[8];
};

static const struct rtt_case rtt_cases[] = {
	{ "constant 20 ms", 3, 6, { 20000, 20000, 20000, 20000, 20000, 20000 } },
	{ "rising", 3, 6, { 10000, 20000, 30000, 40000, 50000, 60000 } },
	{ "alternating", 3, 8, { 10000, 50000, 10000, 50000, 10000, 50000, 10000, 50000 } },
	{ "spike", 3, 7, { 20000, 20000, 20000, 500000, 20000, 20000, 20000 } },
	{ "odd values", 3, 6, { 1234, 987, 3456, 12, 999999, 1 } },
	{ "alpha 1/2", 1, 4, { 10000, 30000, 50000, 10000 } },
	{ "alpha 1/256", 8, 3, { 80000, 1000, 1000 } },
};

static void
test_rtt_table(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(rtt_cases); i++) {
		const struct rtt_case *k = &rtt_cases[i];
		double ewma = 0, jitter = 0;
		uint64_t min = UINT64_MAX, t = T0;
		struct bx_probe_path p;
		uint8_t body[LEN];

		print_message("# rtt: %s\n", k->name);
		init_conf(&p, 100, 20, 1000, k->shift, 1);
		for (j = 0; j < k->n; j++) {
			uint64_t r = k->rtt_us[j], echo_at;
			struct bx_probe_stats s;

			/* The reference, straight from RFC 6298 and RFC 3550. */
			if (j == 0) {
				ewma = (double)r;
			} else {
				double d = absd((double)r - (double)k->rtt_us[j - 1]);

				ewma += ((double)r - ewma) / (double)(1u << k->shift);
				jitter += (d - jitter) / 16.0;
			}
			if (r < min)
				min = r;

			t += 2000 * MS;
			bx_probe_next(&p, t, body);
			echo_at = t + r * US;
			assert_int_equal(bx_probe_on_echo(&p, body, LEN, echo_at),
					 BX_DROP_NONE);
			s = stats(&p);
			assert_true(s.has_rtt);
			assert_int_equal(s.rtt_last_us, r);
			assert_int_equal(s.rtt_min_us, min);
			/* Kept in ns, reported rounded down: within 1 us. */
			assert_true(absd((double)s.rtt_ewma_us - floord(ewma)) <= 1.0);
			assert_true(absd((double)s.jitter_us - floord(jitter)) <= 1.0);
			assert_int_equal(s.last_echo_ns, echo_at);
			assert_int_equal(s.echoed, j + 1);
			assert_int_equal(s.sent, j + 1);
			assert_int_equal(s.lost, 0);
			assert_int_equal(s.loss_permille, 0);
		}
	}
}

/* Values exact enough to state without a reference model. */
static void
test_rtt_exact(void **state)
{
	struct bx_probe_path p;
	struct bx_probe_stats s;
	uint8_t body[LEN];

	(void)state;
	init_conf(&p, 100, 20, 1000, 3, 1);
	s = stats(&p);
	assert_false(s.has_rtt);
	assert_int_equal(s.rtt_last_us, 0);
	assert_int_equal(s.rtt_min_us, 0);
	assert_int_equal(s.last_echo_ns, 0);

	/* 40 ms then 48 ms: EWMA 40 + 8/8 = 41 ms, jitter 8/16 = 0.5 ms. */
	bx_probe_next(&p, T0, body);
	assert_int_equal(bx_probe_on_echo(&p, body, LEN, T0 + 40 * MS), BX_DROP_NONE);
	s = stats(&p);
	assert_int_equal(s.rtt_ewma_us, 40000);
	assert_int_equal(s.jitter_us, 0);
	bx_probe_next(&p, T0 + 100 * MS, body);
	assert_int_equal(bx_probe_on_echo(&p, body, LEN, T0 + 148 * MS), BX_DROP_NONE);
	s = stats(&p);
	assert_int_equal(s.rtt_last_us, 48000);
	assert_int_equal(s.rtt_min_us, 40000);
	assert_int_equal(s.rtt_ewma_us, 41000);
	assert_int_equal(s.jitter_us, 500);

	/* A sub-microsecond RTT reports 0 us but counts as a sample. */
	init_conf(&p, 100, 20, 1000, 3, 1);
	bx_probe_next(&p, T0, body);
	assert_int_equal(bx_probe_on_echo(&p, body, LEN, T0 + 999), BX_DROP_NONE);
	s = stats(&p);
	assert_true(s.has_rtt);
	assert_int_equal(s.rtt_last_us, 0);
}

/* Echoes out of order: each matched to its own send time. */
static void
test_rtt_out_of_order(void **state)
{
	struct bx_probe_path p;
	uint8_t body[3][LEN];
	struct bx_probe_stats s;

	(void)state;
	init_conf(&p, 100, 20, 1000, 3, 1);
	bx_probe_next(&p, T0, body[0]);
	bx_probe_next(&p, T0 + 100 * MS, body[1]);
	bx_probe_next(&p, T0 + 200 * MS, body[2]);
	assert_int_equal(bx_probe_on_echo(&p, body[2], LEN, T0 + 230 * MS), BX_DROP_NONE);
	assert_int_equal(stats(&p).rtt_last_us, 30000);
	assert_int_equal(bx_probe_on_echo(&p, body[0], LEN, T0 + 250 * MS), BX_DROP_NONE);
	assert_int_equal(stats(&p).rtt_last_us, 250000);
	assert_int_equal(bx_probe_on_echo(&p, body[1], LEN, T0 + 260 * MS), BX_DROP_NONE);
	s = stats(&p);
	assert_int_equal(s.rtt_last_us, 160000);
	assert_int_equal(s.rtt_min_us, 30000);
	assert_int_equal(s.echoed, 3);
	assert_int_equal(s.known, 3);
}

/* ---- loss over the window -------------------------------------------- */

struct phase {
	uint32_t n;     /* probes */
	uint64_t lost;  /* bit i: probe i of the phase gets no echo */
};

struct loss_case {
	const char *name;
	uint32_t window;
	size_t n_phases;
	struct phase phases[3];
	uint32_t known, permille;
};

#define ALL(n) ((n) >= 64 ? UINT64_MAX : (UINT64_C(1) << (n)) - 1)

/*
 * Within a phase the echoed probes' fates are known at once, the others'
 * at the phase's end when their timeout passes (long enough for a whole
 * ring of probes in flight): fates count in the order they became known.
 */
#define LOSS_INTERVAL_MS 100u
#define LOSS_TIMEOUT_MS (LOSS_INTERVAL_MS * (BX_PROBE_RING - 1) + 50)
static const struct loss_case loss_cases[] = {
	{ "0 %", 20, 1, { { 20, 0 } }, 20, 0 },
	{ "50 %", 20, 1, { { 20, 0xaaaaa } }, 20, 500 },
	{ "90 %", 20, 1, { { 20, ALL(20) & ~UINT64_C(0x00401) } }, 20, 900 },
	{ "95 %", 20, 1, { { 20, ALL(20) & ~UINT64_C(0x80000) } }, 20, 950 },
	{ "100 %", 20, 1, { { 20, ALL(20) } }, 20, 1000 },
	{ "no data", 20, 0, { { 0, 0 } }, 0, 0 },
	{ "1 of 3 so far", 20, 1, { { 3, 0x2 } }, 3, 333 },
	{ "2 of 3 so far", 20, 1, { { 3, 0x5 } }, 3, 666 },
	{ "1 of 1 so far", 20, 1, { { 1, 0x1 } }, 1, 1000 },
	{ "losses slide out", 20, 2, { { 20, ALL(20) }, { 20, 0 } }, 20, 0 },
	{ "half slid in", 20, 2, { { 20, 0 }, { 10, ALL(10) } }, 20, 500 },
	/* Last 20 fates: 2 lost, 15 echoed, 3 lost from the first phase. */
	{ "more than a window", 20, 3, { { 30, ALL(30) }, { 15, 0 }, { 2, 0x3 } }, 20, 250 },
	{ "window 64", 64, 1, { { 64, ALL(64) & ~UINT64_C(1) } }, 64, 984 },
	{ "window 64, slid", 64, 2, { { 64, ALL(64) }, { 32, 0 } }, 64, 500 },
	{ "window 1, last lost", 1, 1, { { 5, 0x10 } }, 1, 1000 },
	{ "window 1, none lost", 1, 2, { { 5, 0x1f }, { 1, 0 } }, 1, 0 },
	/* Losses become known after the echoes sent later than them. */
	{ "order of knowing", 5, 1, { { 10, 0x1f } }, 5, 1000 },
};

static void
test_loss_table(void **state)
{
	size_t i, ph;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(loss_cases); i++) {
		const struct loss_case *k = &loss_cases[i];
		uint64_t t = T0, sent = 0, lost = 0;
		struct bx_probe_path p;
		struct bx_probe_stats s;
		uint8_t body[LEN];

		print_message("# loss: %s\n", k->name);
		init_conf(&p, LOSS_INTERVAL_MS, k->window, LOSS_TIMEOUT_MS, 3, 1);
		for (ph = 0; ph < k->n_phases; ph++) {
			const struct phase *f = &k->phases[ph];
			uint32_t j, n_lost = (uint32_t)__builtin_popcountll(f->lost);

			for (j = 0; j < f->n; j++) {
				t += LOSS_INTERVAL_MS * MS;
				assert_int_equal(bx_probe_tick(&p, t), 0);
				assert_true(bx_probe_due(&p, t));
				bx_probe_next(&p, t, body);
				if (f->lost >> j & 1)
					continue;
				assert_int_equal(bx_probe_on_echo(&p, body, LEN, t + 5 * MS),
						 BX_DROP_NONE);
			}
			t += (LOSS_TIMEOUT_MS + 1) * MS;
			assert_int_equal(bx_probe_tick(&p, t), n_lost);
			sent += f->n;
			lost += n_lost;
		}
		s = stats(&p);
		assert_int_equal(s.known, k->known);
		assert_int_equal(s.loss_permille, k->permille);
		assert_int_equal(s.sent, sent);
		assert_int_equal(s.lost, lost);
		assert_int_equal(s.echoed, sent - lost);
	}
}

/* No echo ever: the worker's rounds alone make loss climb to 100 %. */
static void
test_loss_rises_without_echoes(void **state)
{
	struct bx_probe_path p;
	uint8_t body[LEN];
	uint64_t i;

	(void)state;
	assert_int_equal(bx_probe_init(&p, NULL), 0);
	for (i = 0; i <= 60; i++) {
		uint64_t t = T0 + i * 100 * MS;
		/* Probe j (sent at j * 100 ms) is lost once older than 1 s. */
		uint64_t want_lost = i > 10 ? i - 10 : 0;
		struct bx_probe_stats s;

		assert_int_equal(bx_probe_tick(&p, t), i > 10 ? 1 : 0);
		assert_true(bx_probe_due(&p, t));
		bx_probe_next(&p, t, body);
		s = stats(&p);
		assert_int_equal(s.sent, i + 1);
		assert_int_equal(s.lost, want_lost);
		assert_int_equal(s.echoed, 0);
		assert_int_equal(s.known, want_lost < 20 ? want_lost : 20);
		assert_int_equal(s.loss_permille, want_lost > 0 ? 1000 : 0);
		assert_false(s.has_rtt);
	}
}

/*
 * Sending faster than the ring can remember (here a burst in one poll, all
 * with the same time): the forgotten probe is lost, and its echo is not
 * taken for the newer probe in its slot even though the times agree.
 */
static void
test_ring_overrun(void **state)
{
	struct bx_probe_path p;
	uint8_t first[LEN], second[LEN], body[LEN];
	struct bx_probe_stats s;
	uint32_t i;

	(void)state;
	init_conf(&p, 100, 20, 1000, 3, 1);
	bx_probe_next(&p, T0, first);
	bx_probe_next(&p, T0, second);
	for (i = 2; i < BX_PROBE_RING; i++)
		bx_probe_next(&p, T0, body);
	assert_int_equal(stats(&p).lost, 0);
	bx_probe_next(&p, T0, body);
	s = stats(&p);
	assert_int_equal(s.sent, BX_PROBE_RING + 1);
	assert_int_equal(s.lost, 1);
	assert_int_equal(bx_probe_on_echo(&p, first, LEN, T0 + MS), UNKNOWN);
	assert_int_equal(stats(&p).echoed, 0);
	assert_int_equal(bx_probe_on_echo(&p, second, LEN, T0 + MS), BX_DROP_NONE);
	/* The rest time out normally, the forgotten one is not lost twice. */
	assert_int_equal(bx_probe_tick(&p, T0 + 2000 * MS), BX_PROBE_RING - 1);
	s = stats(&p);
	assert_int_equal(s.lost, BX_PROBE_RING);
	assert_int_equal(s.echoed + s.lost, s.sent);
}

/* ---- the timeout boundary -------------------------------------------- */

static void
test_timeout_boundary(void **state)
{
	struct bx_probe_path p;
	uint8_t body[LEN];
	struct bx_probe_stats s;

	(void)state;
	/* An RTT of exactly timeout_ms is a sample. */
	init_conf(&p, 100, 20, 1000, 3, 1);
	bx_probe_next(&p, T0, body);
	assert_int_equal(bx_probe_tick(&p, T0 + 1000 * MS), 0);
	assert_int_equal(bx_probe_on_echo(&p, body, LEN, T0 + 1000 * MS), BX_DROP_NONE);
	s = stats(&p);
	assert_int_equal(s.echoed, 1);
	assert_int_equal(s.lost, 0);
	assert_int_equal(s.rtt_last_us, 1000000);

	/* One nanosecond more: lost, refused, no sample. */
	init_conf(&p, 100, 20, 1000, 3, 1);
	bx_probe_next(&p, T0, body);
	assert_int_equal(bx_probe_on_echo(&p, body, LEN, T0 + 1000 * MS + 1), UNKNOWN);
	s = stats(&p);
	assert_int_equal(s.echoed, 0);
	assert_int_equal(s.lost, 1);
	assert_int_equal(s.loss_permille, 1000);
	assert_false(s.has_rtt);
	/* Already lost: neither a tick nor another copy counts it again. */
	assert_int_equal(bx_probe_tick(&p, T0 + 5000 * MS), 0);
	assert_int_equal(bx_probe_on_echo(&p, body, LEN, T0 + 500 * MS), UNKNOWN);
	assert_int_equal(stats(&p).lost, 1);

	/* The tick's side of the same boundary, then the echo arrives late. */
	init_conf(&p, 100, 20, 1000, 3, 1);
	bx_probe_next(&p, T0, body);
	assert_int_equal(bx_probe_tick(&p, T0 + 1000 * MS + 1), 1);
	assert_int_equal(bx_probe_on_echo(&p, body, LEN, T0 + 1000 * MS + 2), UNKNOWN);
	s = stats(&p);
	assert_int_equal(s.lost, 1);
	assert_int_equal(s.echoed, 0);
	assert_int_equal(s.known, 1);
}

/* ---- refused echoes ------------------------------------------------ */

enum mutation {
	M_NONE,        /* the genuine echo of probe 1 */
	M_RESERVED,    /* arg: which reserved byte becomes 1 */
	M_LEN,         /* arg: the length given */
	M_SEQ,         /* arg: seq */
	M_SENT_NS,     /* arg: added to sent_ns */
	M_EARLY,       /* arrives before it was sent */
};

struct refuse_case {
	const char *name;
	enum mutation m;
	int64_t arg;
	bool echo_first; /* the genuine echo was accepted before */
	enum bx_drop_reason expect;
};

/* The path sent seqs 100, 101 and 102; the case plays with 101's echo. */
static const struct refuse_case refuse_cases[] = {
	{ "genuine", M_NONE, 0, false, BX_DROP_NONE },
	{ "duplicate", M_NONE, 0, true, UNKNOWN },
	{ "reserved byte 0", M_RESERVED, 0, false, MALFORMED },
	{ "reserved byte 3", M_RESERVED, 3, false, MALFORMED },
	{ "short", M_LEN, LEN - 1, false, MALFORMED },
	{ "long", M_LEN, LEN + 1, false, MALFORMED },
	{ "empty", M_LEN, 0, false, MALFORMED },
	{ "seq not sent yet", M_SEQ, 103, false, UNKNOWN },
	{ "seq far ahead", M_SEQ, 0x7fffffff, false, UNKNOWN },
	{ "seq before the first", M_SEQ, 99, false, UNKNOWN },
	{ "seq a ring back", M_SEQ, 102 - BX_PROBE_RING, false, UNKNOWN },
	{ "sent_ns + 1", M_SENT_NS, 1, false, UNKNOWN },
	{ "sent_ns - 1", M_SENT_NS, -1, false, UNKNOWN },
	{ "sent_ns of another probe", M_SENT_NS, 100 * (int64_t)MS, false, UNKNOWN },
	{ "before its send time", M_EARLY, 0, false, UNKNOWN },
};

static void
test_refused_echoes(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(refuse_cases); i++) {
		const struct refuse_case *k = &refuse_cases[i];
		uint8_t body[3][LEN], echo[LEN];
		uint64_t now = T0 + 250 * MS;
		struct bx_probe_stats before, after;
		struct bx_probe_path p;
		size_t len = LEN;

		print_message("# refuse: %s\n", k->name);
		init_conf(&p, 100, 20, 1000, 3, 100);
		bx_probe_next(&p, T0, body[0]);
		bx_probe_next(&p, T0 + 100 * MS, body[1]);
		bx_probe_next(&p, T0 + 200 * MS, body[2]);
		assert_int_equal(bx_probe_on_echo(&p, body[0], LEN, T0 + 20 * MS),
				 BX_DROP_NONE);
		if (k->echo_first)
			assert_int_equal(bx_probe_on_echo(&p, body[1], LEN, now - MS),
					 BX_DROP_NONE);
		memcpy(echo, body[1], LEN);
		switch (k->m) {
		case M_NONE:
			break;
		case M_RESERVED:
			echo[BX_PROBE_OFF_RESERVED + k->arg] = 1;
			break;
		case M_LEN:
			len = (size_t)k->arg;
			break;
		case M_SEQ:
			set_seq(echo, (uint32_t)k->arg);
			break;
		case M_SENT_NS:
			shift_sent_ns(echo, k->arg);
			break;
		case M_EARLY:
			now = T0 + 100 * MS - 1;
			break;
		}
		before = stats(&p);
		assert_int_equal(bx_probe_on_echo(&p, echo, len, now), k->expect);
		after = stats(&p);
		if (k->expect != BX_DROP_NONE) {
			assert_stats_equal(&before, &after);
			/* A confused echo does not cost the real one its sample. */
			if (!k->echo_first)
				assert_int_equal(bx_probe_on_echo(&p, body[1], LEN, now + MS),
						 BX_DROP_NONE);
		} else {
			assert_int_equal(after.echoed, before.echoed + 1);
			assert_int_equal(after.rtt_last_us, 150000);
		}
	}
}

static void
test_echo_before_any_probe(void **state)
{
	static const uint8_t body[LEN] = { 0, 0, 0, 1 };
	struct bx_probe_path p;
	struct bx_probe_stats before, after;

	(void)state;
	init_conf(&p, 100, 20, 1000, 3, 1);
	before = stats(&p);
	assert_int_equal(bx_probe_on_echo(&p, body, LEN, T0), UNKNOWN);
	after = stats(&p);
	assert_stats_equal(&before, &after);
}

/* ---- seq wrap -------------------------------------------------------- */

static void
test_seq_wrap(void **state)
{
	static const uint32_t want[] = {
		UINT32_MAX - 2, UINT32_MAX - 1, UINT32_MAX, 0, 1, 2,
	};
	static const size_t echo_order[] = { 3, 0, 5, 2, 4, 1 };
	uint8_t body[BX_ARRAY_SIZE(want)][LEN], echo[LEN];
	struct bx_probe_path p;
	struct bx_probe_stats s;
	size_t i;

	(void)state;
	init_conf(&p, 100, 20, 1000, 3, UINT32_MAX - 2);
	for (i = 0; i < BX_ARRAY_SIZE(want); i++) {
		assert_int_equal(bx_probe_next(&p, T0 + i * MS, body[i]), want[i]);
		assert_int_equal(seq_of(body[i]), want[i]);
	}
	for (i = 0; i < BX_ARRAY_SIZE(echo_order); i++) {
		size_t j = echo_order[i];

		assert_int_equal(bx_probe_on_echo(&p, body[j], LEN, T0 + 50 * MS),
				 BX_DROP_NONE);
		assert_int_equal(stats(&p).rtt_last_us, 50000 - j * 1000);
	}
	assert_int_equal(bx_probe_on_echo(&p, body[3], LEN, T0 + 60 * MS), UNKNOWN);
	memcpy(echo, body[5], LEN);
	set_seq(echo, 3);
	assert_int_equal(bx_probe_on_echo(&p, echo, LEN, T0 + 60 * MS), UNKNOWN);
	set_seq(echo, UINT32_MAX - 3);
	assert_int_equal(bx_probe_on_echo(&p, echo, LEN, T0 + 60 * MS), UNKNOWN);
	s = stats(&p);
	assert_int_equal(s.echoed, 6);
	assert_int_equal(s.sent, 6);
	assert_int_equal(s.loss_permille, 0);
}

/* A ring's worth of probes straddling the wrap, echoes in reverse. */
static void
test_seq_wrap_full_ring(void **state)
{
	uint8_t body[BX_PROBE_RING][LEN];
	struct bx_probe_path p;
	uint32_t i;

	(void)state;
	init_conf(&p, 1000, 20, 1000, 3, UINT32_MAX - BX_PROBE_RING / 2);
	for (i = 0; i < BX_PROBE_RING; i++)
		bx_probe_next(&p, T0 + i * US, body[i]);
	for (i = BX_PROBE_RING; i-- > 0;)
		assert_int_equal(bx_probe_on_echo(&p, body[i], LEN, T0 + MS),
				 BX_DROP_NONE);
	assert_int_equal(stats(&p).echoed, BX_PROBE_RING);
	assert_int_equal(stats(&p).lost, 0);
}

/* ---- the schedule ---------------------------------------------------- */

enum sched_op { ASK, SEND };

struct sched_step {
	enum sched_op op;
	uint64_t at_us; /* from T0 */
	bool due;       /* ASK: expected answer */
};

static const struct sched_step sched[] = {
	{ ASK, 0, true },           /* nothing sent yet */
	{ ASK, 5000, true },
	{ SEND, 5000, false },
	{ ASK, 5000, false },
	{ ASK, 104999, false },
	{ ASK, 105000, true },      /* exactly one interval after the send */
	{ ASK, 150000, true },      /* late poll: still due, no catching up */
	{ SEND, 150000, false },
	{ ASK, 249999, false },
	{ ASK, 250000, true },
	{ ASK, 149999, false },     /* a clock that went back */
	{ SEND, 250000, false },
	{ SEND, 260000, false },    /* sent anyway: the interval runs from here */
	{ ASK, 350000, false },
	{ ASK, 360000, true },
};

static void
test_due_schedule(void **state)
{
	struct bx_probe_path p;
	uint8_t body[LEN];
	size_t i;

	(void)state;
	init_conf(&p, 100, 20, 1000, 3, 1);
	for (i = 0; i < BX_ARRAY_SIZE(sched); i++) {
		uint64_t now = T0 + sched[i].at_us * US;

		if (sched[i].op == SEND)
			bx_probe_next(&p, now, body);
		else
			assert_int_equal(bx_probe_due(&p, now), sched[i].due);
	}
}

/* A worker polling every millisecond sends exactly one probe per interval. */
static void
test_due_every_interval(void **state)
{
	struct bx_probe_path p;
	uint8_t body[LEN];
	uint64_t ms, last = 0;
	uint32_t n = 0;

	(void)state;
	init_conf(&p, 100, 20, 1000, 3, 1);
	for (ms = 0; ms < 10000; ms++) {
		uint64_t now = T0 + ms * MS;

		bx_probe_tick(&p, now);
		if (!bx_probe_due(&p, now))
			continue;
		if (n > 0)
			assert_int_equal(ms - last, 100);
		bx_probe_next(&p, now, body);
		last = ms;
		n++;
	}
	assert_int_equal(n, 100);
	assert_int_equal(stats(&p).sent, 100);
}

/* ---- congestion strategies ------------------------------------------- */

struct cong_case {
	const char *name;
	const struct bx_congestion_ops *ops;
	size_t n;
	uint64_t rtt_us[8];
	bool congested;
};

static const struct cong_case cong_cases[] = {
	{ "ewma: no sample", &bx_congestion_ewma, 0, { 0 }, false },
	{ "ewma: 49.999 ms", &bx_congestion_ewma, 1, { 49999 }, false },
	{ "ewma: 50.000 ms", &bx_congestion_ewma, 1, { 50000 }, false },
	{ "ewma: 50.001 ms", &bx_congestion_ewma, 1, { 50001 }, true },
	/* EWMA (alpha 1/8) landing on the boundary from two samples. */
	{ "ewma: 50 + (49.992 - 50) / 8 = 49.999", &bx_congestion_ewma, 2, { 50000, 49992 }, false },
	{ "ewma: 49.992 + (50.056 - 49.992) / 8 = 50.000", &bx_congestion_ewma, 2, { 49992, 50056 }, false },
	{ "ewma: 50 + (50.008 - 50) / 8 = 50.001", &bx_congestion_ewma, 2, { 50000, 50008 }, true },
	/* From 40 ms toward 60 ms: 49.742 ms after five samples, 51.024 after six. */
	{ "ewma: 40, 5 x 60", &bx_congestion_ewma, 6, { 40000, 60000, 60000, 60000, 60000, 60000 }, false },
	{ "ewma: 40, 6 x 60", &bx_congestion_ewma, 7, { 40000, 60000, 60000, 60000, 60000, 60000, 60000 }, true },
	/* One spike does not make congestion; nor does one good sample end it. */
	{ "ewma: one spike", &bx_congestion_ewma, 4, { 20000, 20000, 20000, 250000 }, false },
	{ "ewma: one good sample", &bx_congestion_ewma, 4, { 80000, 80000, 80000, 1000 }, true },
	{ "ewma: huge sample", &bx_congestion_ewma, 1, { UINT64_MAX }, true },
	{ "null: no sample", &bx_congestion_null, 0, { 0 }, false },
	{ "null: 49.999 ms", &bx_congestion_null, 1, { 49999 }, false },
	{ "null: 50.000 ms", &bx_congestion_null, 1, { 50000 }, false },
	{ "null: 50.001 ms", &bx_congestion_null, 1, { 50001 }, false },
	{ "null: 10 s", &bx_congestion_null, 3, { 10000000, 10000000, 10000000 }, false },
};

static void
test_congestion_table(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cong_cases); i++) {
		const struct cong_case *k = &cong_cases[i];
		struct bx_congestion c;
		double ewma = 0;

		print_message("# congestion: %s\n", k->name);
		memset(&c, 0xa5, sizeof(c));
		bx_congestion_init(&c, k->ops);
		assert_ptr_equal(c.ops, k->ops);
		for (j = 0; j < k->n; j++) {
			bx_congestion_on_rtt(&c, k->rtt_us[j]);
			ewma = j == 0 ? (double)k->rtt_us[j]
				      : ewma + ((double)k->rtt_us[j] - ewma) / 8.0;
		}
		assert_int_equal(bx_congestion_is_congested(&c), k->congested);
		/* The table agrees with the reference EWMA. */
		if (k->ops == &bx_congestion_ewma)
			assert_int_equal(ewma > BX_CONGESTION_RTT_US, k->congested);
	}
}

static void
test_congestion_find_and_reset(void **state)
{
	struct bx_congestion c;

	(void)state;
	assert_ptr_equal(bx_congestion_find("null"), &bx_congestion_null);
	assert_ptr_equal(bx_congestion_find("ewma"), &bx_congestion_ewma);
	assert_null(bx_congestion_find("EWMA"));
	assert_null(bx_congestion_find(""));
	assert_string_equal(bx_congestion_null.name, "null");
	assert_string_equal(bx_congestion_ewma.name, "ewma");

	/* init starts over: the next sample alone sets the EWMA. */
	bx_congestion_init(&c, &bx_congestion_ewma);
	bx_congestion_on_rtt(&c, 90000);
	assert_true(bx_congestion_is_congested(&c));
	bx_congestion_init(&c, &bx_congestion_ewma);
	assert_false(bx_congestion_is_congested(&c));
	bx_congestion_on_rtt(&c, 10000);
	assert_false(bx_congestion_is_congested(&c));
}

/* A path's samples fed to the strategy, as the app does. */
static void
test_congestion_from_probes(void **state)
{
	struct bx_probe_path p;
	struct bx_congestion c;
	uint8_t body[LEN];
	uint64_t t = T0;
	int i;

	(void)state;
	init_conf(&p, 100, 20, 1000, 3, 1);
	bx_congestion_init(&c, &bx_congestion_ewma);
	for (i = 0; i < 20; i++) {
		t += 100 * MS;
		bx_probe_next(&p, t, body);
		assert_int_equal(bx_probe_on_echo(&p, body, LEN, t + 70 * MS), BX_DROP_NONE);
		bx_congestion_on_rtt(&c, stats(&p).rtt_last_us);
	}
	assert_true(bx_congestion_is_congested(&c));
	assert_true(stats(&p).rtt_ewma_us > BX_CONGESTION_RTT_US);
}

/* ---- re-init ----------------------------------------------------------- */

static void
test_reinit(void **state)
{
	struct bx_probe_path p;
	uint8_t body[LEN], old[LEN];
	struct bx_probe_stats s;

	(void)state;
	init_conf(&p, 100, 20, 1000, 3, 1);
	bx_probe_next(&p, T0, old);
	bx_probe_next(&p, T0 + 100 * MS, body);
	assert_int_equal(bx_probe_on_echo(&p, body, LEN, T0 + 130 * MS), BX_DROP_NONE);
	bx_probe_tick(&p, T0 + 5000 * MS);
	init_conf(&p, 100, 20, 1000, 3, 1);
	s = stats(&p);
	assert_int_equal(s.sent, 0);
	assert_int_equal(s.echoed, 0);
	assert_int_equal(s.lost, 0);
	assert_int_equal(s.known, 0);
	assert_false(s.has_rtt);
	assert_int_equal(s.rtt_min_us, 0);
	/* The old path's echo matches nothing, even with the same seq. */
	assert_int_equal(bx_probe_next(&p, T0 + 6000 * MS, body), 1);
	assert_int_equal(bx_probe_on_echo(&p, old, LEN, T0 + 6010 * MS), UNKNOWN);
	assert_int_equal(bx_probe_on_echo(&p, body, LEN, T0 + 6010 * MS), BX_DROP_NONE);
	assert_int_equal(stats(&p).rtt_min_us, 10000);
}

/* ---- a reader racing the writer ------------------------------------ */

#define RACE_ROUNDS 300000u
#define RACE_WINDOW 20u
#define RACE_RTT_MIN_US 1000u
#define RACE_RTT_MAX_US 90000u
#define RACE_LOSS_PCT 30u

static struct {
	struct bx_probe_path path;
	int started, done;
	uint64_t reads, bad;
	uint64_t sent, echoed;
} race;

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Counts every read that breaks a promise of bx_probe_read(). */
static void *
race_reader(void *arg)
{
	struct bx_probe_stats prev = { 0 }, s;

	(void)arg;
	__atomic_store_n(&race.started, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&race.done, __ATOMIC_ACQUIRE)) {
		bool ok = true;

		bx_probe_read(&race.path, &s);
		ok &= s.loss_permille <= 1000;
		ok &= s.known <= RACE_WINDOW;
		ok &= s.known > 0 || s.loss_permille == 0;
		ok &= s.echoed + s.lost <= s.sent;
		ok &= s.sent >= prev.sent && s.echoed >= prev.echoed && s.lost >= prev.lost;
		if (s.has_rtt) {
			ok &= s.rtt_min_us >= RACE_RTT_MIN_US;
			ok &= s.rtt_min_us <= s.rtt_last_us;
			ok &= s.rtt_last_us <= RACE_RTT_MAX_US;
			ok &= s.rtt_ewma_us >= RACE_RTT_MIN_US - 1;
			ok &= s.rtt_ewma_us <= RACE_RTT_MAX_US;
			ok &= s.jitter_us <= RACE_RTT_MAX_US - RACE_RTT_MIN_US;
			ok &= s.last_echo_ns > T0;
		}
		if (!ok)
			race.bad++;
		race.reads++;
		prev = s;
	}
	return NULL;
}

static void
test_concurrent_reader(void **state)
{
	uint64_t t = T0, rng = 0x9e3779b97f4a7c15u;
	struct bx_probe_stats s;
	pthread_t reader;
	uint8_t body[LEN];
	uint32_t i;

	(void)state;
	memset(&race, 0, sizeof(race));
	init_conf(&race.path, 100, RACE_WINDOW, 1000, 3, 1);
	assert_int_equal(pthread_create(&reader, NULL, race_reader, NULL), 0);
	while (!__atomic_load_n(&race.started, __ATOMIC_ACQUIRE))
		;
	for (i = 0; i < RACE_ROUNDS; i++) {
		uint64_t r = xorshift(&rng);
		uint64_t rtt = RACE_RTT_MIN_US +
			       r % (RACE_RTT_MAX_US - RACE_RTT_MIN_US + 1);

		t += 100 * MS;
		bx_probe_tick(&race.path, t);
		if (!bx_probe_due(&race.path, t))
			continue;
		bx_probe_next(&race.path, t, body);
		race.sent++;
		if ((r >> 32) % 100 < RACE_LOSS_PCT)
			continue;
		if (bx_probe_on_echo(&race.path, body, LEN, t + rtt * US) == BX_DROP_NONE)
			race.echoed++;
	}
	bx_probe_tick(&race.path, t + 2000 * MS);
	__atomic_store_n(&race.done, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(reader, NULL), 0);

	print_message("# race: %" PRIu64 " reads\n", race.reads);
	assert_int_equal(race.bad, 0);
	assert_true(race.reads > 0);
	s = stats(&race.path);
	assert_int_equal(s.sent, RACE_ROUNDS);
	assert_int_equal(race.sent, RACE_ROUNDS);
	assert_int_equal(s.echoed, race.echoed);
	assert_int_equal(s.echoed + s.lost, s.sent);
	/* About RACE_LOSS_PCT of the probes got no echo. */
	assert_true(s.lost > RACE_ROUNDS / 100 * (RACE_LOSS_PCT - 2));
	assert_true(s.lost < RACE_ROUNDS / 100 * (RACE_LOSS_PCT + 2));
}

/* ---- misses and streak (failover inputs) ------------------------------ */

#define RUN_INTERVAL_MS 100u
#define RUN_TIMEOUT_MS 1000u
#define RUN_ECHO_DELAY (1 * MS)

/*
 * Probe i is sent at T0 + i * 100 ms; its fate is @tail's character for
 * the last strlen(tail) probes and @fill for the others: 'e' echoed 1 ms
 * later, '.' never answered. The path is judged @after ns after the last
 * send (bx_probe_tick first, so probes older than 1 s are lost, not just
 * overdue).
 */
struct run_case {
	const char *name;
	uint32_t n;
	char fill;
	const char *tail;
	int64_t after;
	uint64_t grace;
	uint32_t misses, streak;
};

static const struct run_case run_cases[] = {
	{ "nothing sent", 0, 'e', "", 50 * MS, 150 * MS, 0, 0 },
	{ "one young probe", 1, '.', "", 50 * MS, 150 * MS, 0, 0 },
	{ "one echo", 1, 'e', "", 50 * MS, 150 * MS, 0, 1 },
	{ "in flight exactly grace: young", 3, 'e', ".", 150 * MS, 150 * MS, 0, 2 },
	{ "in flight grace + 1 ns: a miss", 3, 'e', ".", 150 * MS + 1, 150 * MS, 1, 0 },
	{ "grace 0, age 0: young", 3, 'e', ".", 0, 0, 0, 2 },
	{ "grace 0, age 1 ns: a miss", 3, 'e', ".", 1, 0, 1, 0 },
	{ "young newest skipped, older one judged", 3, 'e', "..", 50 * MS, 120 * MS, 1, 0 },
	{ "newest echoed: older misses do not count", 3, '.', "e", 50 * MS, 150 * MS, 0, 1 },
	{ "cut path", 8, 'e', "...", 50 * MS, 120 * MS, 2, 0 },
	/* Ages 50..1150 ms: the oldest is lost, the rest overdue or young. */
	{ "lost and overdue both count", 15, 'e', "............", 50 * MS, 200 * MS, 10, 0 },
	{ "healed path", 7, '.', "eeeee", 50 * MS, 150 * MS, 0, 5 },
	{ "streak past a young probe, stops at a miss", 6, 'e', ".eee.", 50 * MS, 150 * MS, 0, 3 },
	{ "send stamped after now: young", 3, 'e', "..", -1 * (int64_t)MS, 150 * MS, 0, 1 },
	{ "ring wrap: all echoed", 100, 'e', "", 50 * MS, 150 * MS, 0, BX_PROBE_RING },
	{ "ring wrap: none echoed", 100, '.', "", 50 * MS, 120 * MS, BX_PROBE_RING - 1, 0 },
	{ "ring wrap: misses across the slot wrap", 70, 'e', ".....", 50 * MS, 120 * MS, 4, 0 },
	{ "ring wrap: streak across the slot wrap", 130, '.', "eeeeeee", 50 * MS, 150 * MS, 0, 7 },
	{ "ring wrap: one echo among misses", 130, '.', "e..", 50 * MS, 120 * MS, 1, 0 },
};

static void
test_misses_streak_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(run_cases); i++) {
		const struct run_case *k = &run_cases[i];
		uint32_t tail = (uint32_t)strlen(k->tail), j;
		uint64_t last = T0, now;
		struct bx_probe_path p;
		uint8_t body[LEN];

		print_message("# runs: %s\n", k->name);
		assert_true(tail <= k->n);
		init_conf(&p, RUN_INTERVAL_MS, 20, RUN_TIMEOUT_MS, 3, 1);
		for (j = 0; j < k->n; j++) {
			char fate = j < k->n - tail ? k->fill : k->tail[j - (k->n - tail)];

			last = T0 + j * RUN_INTERVAL_MS * MS;
			bx_probe_next(&p, last, body);
			if (fate == 'e')
				assert_int_equal(bx_probe_on_echo(&p, body, LEN,
								  last + RUN_ECHO_DELAY),
						 BX_DROP_NONE);
		}
		now = last + (uint64_t)k->after;
		bx_probe_tick(&p, now);
		assert_int_equal(bx_probe_misses(&p, now, k->grace), k->misses);
		assert_int_equal(bx_probe_streak(&p, now, k->grace), k->streak);
	}
}

/*
 * An echo later than the grace but inside the loss timeout: a miss while
 * it is out, an echo once it is back; the probe is never lost.
 */
static void
test_misses_late_echo_heals(void **state)
{
	struct bx_probe_path p;
	uint8_t first[LEN], second[LEN];
	const uint64_t grace = 20 * MS;

	(void)state;
	init_conf(&p, 100, 20, 1000, 3, 1);
	bx_probe_next(&p, T0, first);
	assert_int_equal(bx_probe_on_echo(&p, first, LEN, T0 + 5 * MS), BX_DROP_NONE);
	bx_probe_next(&p, T0 + 100 * MS, second);
	assert_int_equal(bx_probe_misses(&p, T0 + 120 * MS, grace), 0);
	assert_int_equal(bx_probe_streak(&p, T0 + 120 * MS, grace), 1);
	assert_int_equal(bx_probe_misses(&p, T0 + 130 * MS, grace), 1);
	assert_int_equal(bx_probe_streak(&p, T0 + 130 * MS, grace), 0);
	assert_int_equal(bx_probe_on_echo(&p, second, LEN, T0 + 140 * MS), BX_DROP_NONE);
	assert_int_equal(bx_probe_misses(&p, T0 + 140 * MS, grace), 0);
	assert_int_equal(bx_probe_streak(&p, T0 + 140 * MS, grace), 2);
	assert_int_equal(stats(&p).lost, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_defaults),
		cmocka_unit_test(test_conf_table),
		cmocka_unit_test(test_body_bytes),
		cmocka_unit_test(test_rtt_table),
		cmocka_unit_test(test_rtt_exact),
		cmocka_unit_test(test_rtt_out_of_order),
		cmocka_unit_test(test_loss_table),
		cmocka_unit_test(test_loss_rises_without_echoes),
		cmocka_unit_test(test_ring_overrun),
		cmocka_unit_test(test_timeout_boundary),
		cmocka_unit_test(test_refused_echoes),
		cmocka_unit_test(test_echo_before_any_probe),
		cmocka_unit_test(test_seq_wrap),
		cmocka_unit_test(test_seq_wrap_full_ring),
		cmocka_unit_test(test_due_schedule),
		cmocka_unit_test(test_due_every_interval),
		cmocka_unit_test(test_congestion_table),
		cmocka_unit_test(test_congestion_find_and_reset),
		cmocka_unit_test(test_congestion_from_probes),
		cmocka_unit_test(test_reinit),
		cmocka_unit_test(test_concurrent_reader),
		cmocka_unit_test(test_misses_streak_table),
		cmocka_unit_test(test_misses_late_echo_heals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
