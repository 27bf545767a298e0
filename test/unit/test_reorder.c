/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of lib/reorder: table-driven scenarios (each run from several
 * base sequences, so every one also crosses or sits next to 2^32 and 2^31),
 * argument checks, and randomized runs that compare every verdict and
 * every output with a naive reference model (linear scans, no bitmap, no
 * FIFO) while checking that each pushed element comes back exactly once
 * and in order, LATE ones aside.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bx_common.h"
#include "bx_reorder.h"

#define T0 5000u          /* scenario clock origin: times are T0 + t */
#define TMO 1000u         /* scenario timeout */
#define OUT_GUARD 4u      /* out[] entries past max that must stay untouched */
#define NO UINT64_MAX     /* DEADLINE step: nothing held */

static void *const guard_ptr = (void *)(uintptr_t)0xdeadbee0u;

/* ---- table-driven scenarios -------------------------------------------- */

enum op {
	PUSH,     /* push seq at t: verdict and out must match */
	POP,      /* pop at t: out must match */
	FLUSH,    /* flush: out must match */
	DEADLINE, /* next_deadline() must be T0 + t, or NO */
	COUNT,    /* bx_reorder_count() must be t */
	TIMEOUT,  /* set_timeout(t) */
};

struct step {
	enum op op;
	int64_t seq;     /* PUSH: offset from the base sequence */
	uint64_t t;      /* see enum op */
	int verdict;     /* PUSH */
	const char *out; /* PUSH, POP, FLUSH: offsets, space separated */
};

#define P(seq, t, v, out) { PUSH, (seq), (t), BX_REORDER_##v, (out) }
#define POPAT(t, out) { POP, 0, (t), 0, (out) }
#define FL(out) { FLUSH, 0, 0, 0, (out) }
#define DL(t) { DEADLINE, 0, (t), 0, NULL }
#define CNT(n) { COUNT, 0, (n), 0, NULL }
#define TMOUT(ns) { TIMEOUT, 0, (ns), 0, NULL }

struct scenario {
	const char *name;
	uint32_t slots;
	const struct step *steps;
	size_t n_steps;
	struct bx_reorder_stats want;
};

static const struct step in_order[] = {
	P(0, 0, DELIVER, "0"), P(1, 0, DELIVER, "1"), P(2, 1, DELIVER, "2"),
	P(3, 2, DELIVER, "3"), CNT(0), DL(NO), POPAT(100000, ""),
};

static const struct step single_swap[] = {
	P(0, 0, DELIVER, "0"), P(2, 10, HELD, ""), CNT(1), DL(1010),
	P(1, 20, DELIVER, "1 2"), CNT(0), DL(NO), P(3, 30, DELIVER, "3"),
};

/* The whole window (next + 1 .. next + 15) filled backwards, then next. */
static const struct step reverse_window[] = {
	P(0, 0, DELIVER, "0"),
	P(16, 1, HELD, ""), P(15, 2, HELD, ""), P(14, 3, HELD, ""),
	P(13, 4, HELD, ""), P(12, 5, HELD, ""), P(11, 6, HELD, ""),
	P(10, 7, HELD, ""), P(9, 8, HELD, ""), P(8, 9, HELD, ""),
	P(7, 10, HELD, ""), P(6, 11, HELD, ""), P(5, 12, HELD, ""),
	P(4, 13, HELD, ""), P(3, 14, HELD, ""), P(2, 15, HELD, ""),
	CNT(15), DL(1001),
	P(1, 16, DELIVER, "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"),
	CNT(0), P(17, 17, DELIVER, "17"),
};

/* The gap is given up at arrival + timeout exactly, not a tick before. */
static const struct step timeout_exact[] = {
	P(0, 0, DELIVER, "0"), P(2, 100, HELD, ""), DL(1100),
	POPAT(1099, ""), CNT(1), POPAT(1100, "2"), CNT(0), DL(NO),
	/* The packet given up turns up after all: delivered, out of order. */
	P(1, 1200, LATE, "1"), P(3, 1300, DELIVER, "3"),
};

/* Two lost in a row: one gap, one timeout, one skip over both. */
static const struct step two_losses_one_timeout[] = {
	P(0, 0, DELIVER, "0"), P(3, 10, HELD, ""), P(4, 20, HELD, ""),
	DL(1010), POPAT(1009, ""), POPAT(1010, "3 4"),
	P(1, 1020, LATE, "1"), P(2, 1030, LATE, "2"), P(5, 1040, DELIVER, "5"),
};

/* 1 and 5 lost; 6 arrived first, so gap 5 was visible as early as gap 1:
 * both expire in the same pop, not one timeout after the other. */
static const struct step losses_seen_together[] = {
	P(0, 0, DELIVER, "0"), P(6, 10, HELD, ""), P(2, 20, HELD, ""),
	P(3, 20, HELD, ""), P(4, 20, HELD, ""), DL(1010),
	POPAT(1009, ""), POPAT(1010, "2 3 4 6"), CNT(0), DL(NO),
	P(7, 1100, DELIVER, "7"),
};

/* Gap 4 became visible only when 5 arrived: it gets its own timeout,
 * counted from then. */
static const struct step losses_seen_apart[] = {
	P(0, 0, DELIVER, "0"), P(2, 10, HELD, ""), P(3, 10, HELD, ""),
	P(5, 500, HELD, ""), DL(1010), POPAT(1010, "2 3"), DL(1500),
	POPAT(1499, ""), POPAT(1500, "5"), DL(NO),
};

/* A fill releases the oldest held: the next gap is dated by what is left. */
static const struct step deadline_after_fill[] = {
	P(0, 0, DELIVER, "0"), P(2, 10, HELD, ""), P(4, 20, HELD, ""),
	DL(1010), P(1, 30, DELIVER, "1 2"), DL(1020), POPAT(1019, ""),
	POPAT(1020, "4"), DL(NO),
};

/* ... and when the oldest held is still there, the date stays. */
static const struct step deadline_oldest_stays[] = {
	P(0, 0, DELIVER, "0"), P(4, 10, HELD, ""), P(2, 20, HELD, ""),
	DL(1010), P(1, 30, DELIVER, "1 2"), DL(1010), POPAT(1010, "4"),
	DL(NO),
};

/* Window full (2..16 held, 1 missing): 17 no longer fits, so 1 is given
 * up and everything goes, 17 included. */
static const struct step forced_full_window[] = {
	P(0, 0, DELIVER, "0"),
	P(2, 1, HELD, ""), P(3, 1, HELD, ""), P(4, 1, HELD, ""),
	P(5, 1, HELD, ""), P(6, 1, HELD, ""), P(7, 1, HELD, ""),
	P(8, 1, HELD, ""), P(9, 1, HELD, ""), P(10, 1, HELD, ""),
	P(11, 1, HELD, ""), P(12, 1, HELD, ""), P(13, 1, HELD, ""),
	P(14, 1, HELD, ""), P(15, 1, HELD, ""), P(16, 1, HELD, ""),
	P(17, 2, FORCED, "2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17"),
	CNT(0), DL(NO), P(1, 3, LATE, "1"), P(18, 4, DELIVER, "18"),
};

/* 20 makes the window 5..20: gaps 1..4 go, 5 with them, 20 waits. */
static const struct step forced_then_held[] = {
	P(0, 0, DELIVER, "0"), P(5, 10, HELD, ""), P(20, 20, FORCED, "5"),
	CNT(1), DL(1020), P(19, 30, HELD, ""), DL(1020),
	POPAT(1020, "19 20"), CNT(0),
};

/* Held 3, 5 and 9; 23 makes the window 8..23: 3 and 5 go, 9 stays. */
static const struct step forced_gaps_below_target[] = {
	P(0, 0, DELIVER, "0"), P(3, 10, HELD, ""), P(5, 10, HELD, ""),
	P(9, 10, HELD, ""), P(23, 20, FORCED, "3 5"), CNT(2), DL(1010),
	POPAT(1010, "9"), DL(1020), POPAT(1020, "23"), DL(NO),
};

/* 20 makes the window 5..20: 4, just below it, must go too. */
static const struct step forced_edge[] = {
	P(0, 0, DELIVER, "0"), P(4, 10, HELD, ""), P(20, 20, FORCED, "4"),
	CNT(1), FL("20"),
};

/* d = 2·slots exactly is still an overflow, not a restart. */
static const struct step forced_at_two_windows[] = {
	P(0, 0, DELIVER, "0"), P(3, 10, HELD, ""), P(33, 20, FORCED, "3"),
	CNT(1), P(18, 30, DELIVER, "18"), P(17, 40, LATE, "17"),
};

/* d = 2·slots + 1: a restart. Held go in order, then the new one. */
static const struct step resync_forward[] = {
	P(0, 0, DELIVER, "0"), P(3, 10, HELD, ""), P(5, 10, HELD, ""),
	P(34, 20, RESYNC, "3 5 34"), CNT(0), DL(NO),
	P(35, 30, DELIVER, "35"), P(33, 40, LATE, "33"),
};

/* 2·slots behind is late; one more is a restart (the sender's new lane
 * sequence), which may also flush what was held. */
static const struct step late_and_resync_back[] = {
	P(0, 0, DELIVER, "0"), P(-31, 1, LATE, "-31"),
	P(-32, 2, RESYNC, "-32"), P(-30, 3, HELD, ""),
	P(-31, 4, DELIVER, "-31 -30"), P(-27, 5, HELD, ""),
	P(-70, 6, RESYNC, "-27 -70"), P(-69, 7, DELIVER, "-69"),
};

/* Half the sequence space away is neither ahead nor behind: a restart. */
static const struct step resync_half_space[] = {
	P(0, 0, DELIVER, "0"), P(2147483649, 1, RESYNC, "2147483649"),
	P(2147483650, 2, DELIVER, "2147483650"),
	P(2147483650 + 2147483647, 3, RESYNC, "4294967297"),
	P(4294967298, 4, DELIVER, "4294967298"),
};

/* A copy of a held sequence is refused; the first one keeps its date. */
static const struct step duplicate[] = {
	P(0, 0, DELIVER, "0"), P(3, 10, HELD, ""), P(3, 20, DUPLICATE, ""),
	CNT(1), DL(1010), P(1, 30, DELIVER, "1"), P(2, 40, DELIVER, "2 3"),
};

/* Flush hands back all, in order, and forgets the flow: the next push
 * starts a new one wherever it is. */
static const struct step flush[] = {
	P(0, 0, DELIVER, "0"), P(5, 10, HELD, ""), P(3, 10, HELD, ""),
	P(9, 10, HELD, ""), FL("3 5 9"), CNT(0), DL(NO), FL(""),
	P(1000, 20, DELIVER, "1000"), P(1001, 21, DELIVER, "1001"),
	P(1003, 22, HELD, ""), FL("1003"), P(-500, 23, DELIVER, "-500"),
};

/* A new timeout applies to a gap already waiting. */
static const struct step set_timeout[] = {
	P(0, 0, DELIVER, "0"), P(2, 100, HELD, ""), DL(1100), TMOUT(5000),
	DL(5100), POPAT(1100, ""), POPAT(5100, "2"), TMOUT(0),
	P(4, 6000, HELD, ""), DL(6000), POPAT(5999, ""), POPAT(6000, "4"),
};

/* A long skip crosses bitmap words (256 slots: four words). */
static const struct step skip_across_words[] = {
	P(0, 0, DELIVER, "0"), P(200, 10, HELD, ""), P(130, 20, HELD, ""),
	P(64, 30, HELD, ""), DL(1010), POPAT(1010, "64 130 200"), DL(NO),
	P(255, 40, HELD, ""), P(456, 50, HELD, ""), CNT(2),
	POPAT(1050, "255 456"), P(457, 60, DELIVER, "457"),
};

#define SC(n, s, st, ...) { n, s, st, BX_ARRAY_SIZE(st), { __VA_ARGS__ } }

static const struct scenario scenarios[] = {
	SC("in order", 16, in_order, .in_order = 4),
	SC("single swap", 16, single_swap, .in_order = 3, .held = 1,
	   .reordered = 1),
	SC("reverse window", 16, reverse_window, .in_order = 3, .held = 15,
	   .reordered = 15),
	SC("timeout exact", 16, timeout_exact, .in_order = 2, .held = 1,
	   .reordered = 1, .late = 1, .timeouts = 1, .skipped = 1),
	SC("two losses one timeout", 16, two_losses_one_timeout,
	   .in_order = 2, .held = 2, .reordered = 2, .late = 2,
	   .timeouts = 1, .skipped = 2),
	SC("losses seen together", 16, losses_seen_together, .in_order = 2,
	   .held = 4, .reordered = 4, .timeouts = 2, .skipped = 2),
	SC("losses seen apart", 16, losses_seen_apart, .in_order = 1,
	   .held = 3, .reordered = 3, .timeouts = 2, .skipped = 2),
	SC("deadline after fill", 16, deadline_after_fill, .in_order = 2,
	   .held = 2, .reordered = 2, .timeouts = 1, .skipped = 1),
	SC("deadline oldest stays", 16, deadline_oldest_stays, .in_order = 2,
	   .held = 2, .reordered = 2, .timeouts = 1, .skipped = 1),
	SC("forced full window", 16, forced_full_window, .in_order = 3,
	   .held = 15, .forced = 15, .late = 1, .skipped = 1),
	SC("forced then held", 16, forced_then_held, .in_order = 1,
	   .held = 3, .forced = 1, .reordered = 2, .timeouts = 1,
	   .skipped = 4 + 13),
	SC("forced gaps below target", 16, forced_gaps_below_target,
	   .in_order = 1, .held = 4, .forced = 2, .reordered = 2,
	   .timeouts = 2, .skipped = 5 + 1 + 13),
	SC("forced edge", 16, forced_edge, .in_order = 1, .held = 2,
	   .forced = 1, .flushed = 1, .skipped = 3),
	SC("forced at two windows", 16, forced_at_two_windows, .in_order = 2,
	   .held = 2, .forced = 1, .late = 1, .skipped = 2 + 14),
	SC("resync forward", 16, resync_forward, .in_order = 3, .held = 2,
	   .flushed = 2, .resyncs = 1, .late = 1),
	SC("late and resync back", 16, late_and_resync_back, .in_order = 5,
	   .late = 1, .held = 2, .reordered = 1, .flushed = 1, .resyncs = 2),
	SC("resync half space", 16, resync_half_space, .in_order = 5,
	   .resyncs = 2),
	SC("duplicate", 16, duplicate, .in_order = 3, .held = 1,
	   .duplicates = 1, .reordered = 1),
	SC("flush", 16, flush, .in_order = 4, .held = 4, .flushed = 4),
	SC("set timeout", 16, set_timeout, .in_order = 1, .held = 2,
	   .reordered = 2, .timeouts = 2, .skipped = 2),
	SC("skip across words", 256, skip_across_words, .in_order = 2,
	   .held = 5, .reordered = 5, .timeouts = 5,
	   .skipped = 63 + 65 + 69 + 54 + 200),
};

/* Bases: plain, straddling 2^32, just below 2^31, ring-index shifted. */
static const uint32_t bases[] = { 0, 0xfffffff9u, 0x7ffffffau, 0xfffffff0u,
				  0x12345u };

/* A scenario element is its sequence, made into a non-NULL pointer the
 * buffer never dereferences. */
static void *
elem_of(uint32_t seq)
{
	return (void *)(uintptr_t)(((uint64_t)seq << 1) | 1);
}

static uint32_t
seq_of(const void *e)
{
	return (uint32_t)((uintptr_t)e >> 1);
}

static void
guard_out(void **out, unsigned int max)
{
	unsigned int i;

	for (i = 0; i < max + OUT_GUARD; i++)
		out[i] = guard_ptr;
}

/* out[0..n) must be the offsets listed in @want; out[n..) untouched. */
static void
assert_out(void *const *out, unsigned int n, unsigned int max, uint32_t base,
	   const char *want)
{
	const char *p = want;
	unsigned int i = 0;
	char *end;
	int64_t off;

	for (;;) {
		off = strtoll(p, &end, 10);
		if (end == p)
			break;
		assert_true(i < n);
		assert_int_equal(seq_of(out[i]), (uint32_t)(base + (uint64_t)off));
		i++;
		p = end;
	}
	assert_int_equal(n, i);
	for (i = n; i < max + OUT_GUARD; i++)
		assert_ptr_equal(out[i], guard_ptr);
}

static void
assert_stats_equal(const struct bx_reorder_stats *a,
		   const struct bx_reorder_stats *b)
{
	assert_int_equal(a->in_order, b->in_order);
	assert_int_equal(a->held, b->held);
	assert_int_equal(a->late, b->late);
	assert_int_equal(a->duplicates, b->duplicates);
	assert_int_equal(a->reordered, b->reordered);
	assert_int_equal(a->forced, b->forced);
	assert_int_equal(a->flushed, b->flushed);
	assert_int_equal(a->timeouts, b->timeouts);
	assert_int_equal(a->skipped, b->skipped);
	assert_int_equal(a->resyncs, b->resyncs);
}

/* What every push and release is counted as adds up, at every step. */
static void
assert_books_balance(const struct bx_reorder *r, uint64_t pushes)
{
	struct bx_reorder_stats s;

	bx_reorder_get_stats(r, &s);
	assert_int_equal(s.in_order + s.held + s.late + s.duplicates, pushes);
	assert_int_equal(s.held, s.reordered + s.forced + s.flushed +
					 bx_reorder_count(r));
}

static void
run_scenario(const struct scenario *sc, uint32_t base)
{
	struct bx_reorder *r = bx_reorder_create(sc->slots, TMO);
	void **out = malloc((sc->slots + OUT_GUARD) * sizeof(*out));
	struct bx_reorder_stats got;
	unsigned int n;
	uint64_t pushes = 0;
	size_t i;
	int v;

	assert_non_null(r);
	assert_non_null(out);
	for (i = 0; i < sc->n_steps; i++) {
		const struct step *st = &sc->steps[i];
		uint32_t seq = (uint32_t)(base + (uint64_t)st->seq);

		print_message("# %s, base %#x, step %zu\n", sc->name, base, i);
		guard_out(out, sc->slots);
		switch (st->op) {
		case PUSH:
			n = 12345;
			v = bx_reorder_push(r, seq, elem_of(seq), T0 + st->t,
					    out, sc->slots, &n);
			assert_int_equal(v, st->verdict);
			assert_out(out, n, sc->slots, base, st->out);
			pushes++;
			break;
		case POP:
			n = bx_reorder_pop(r, T0 + st->t, out, sc->slots);
			assert_out(out, n, sc->slots, base, st->out);
			break;
		case FLUSH:
			n = bx_reorder_flush(r, out, sc->slots);
			assert_out(out, n, sc->slots, base, st->out);
			break;
		case DEADLINE:
			assert_true(bx_reorder_next_deadline(r) ==
				    (st->t == NO ? NO : T0 + st->t));
			break;
		case COUNT:
			assert_int_equal(bx_reorder_count(r), st->t);
			break;
		case TIMEOUT:
			bx_reorder_set_timeout(r, st->t);
			break;
		}
		assert_books_balance(r, pushes);
	}
	bx_reorder_get_stats(r, &got);
	assert_stats_equal(&got, &sc->want);
	free(out);
	bx_reorder_free(r);
}

static void
test_scenarios(void **state)
{
	size_t i, b;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(scenarios); i++)
		for (b = 0; b < BX_ARRAY_SIZE(bases); b++)
			run_scenario(&scenarios[i], bases[b]);
}

/* ---- arguments and small contracts ------------------------------------- */

static void
test_size_and_init(void **state)
{
	static const uint32_t bad[] = { 0, 1, 8, 15, 17, 24, 100, 1000,
					131072, UINT32_MAX };
	static const uint32_t good[] = { 16, 32, 64, 128, 1024, 65536 };
	struct bx_reorder *r;
	unsigned char *mem;
	size_t i, sz;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(bad); i++) {
		assert_int_equal(bx_reorder_size(bad[i]), 0);
		errno = 0;
		assert_null(bx_reorder_create(bad[i], TMO));
		assert_int_equal(errno, EINVAL);
	}
	for (i = 0; i < BX_ARRAY_SIZE(good); i++) {
		sz = bx_reorder_size(good[i]);
		/* At least a pointer per slot, and linear in slots. */
		assert_true(sz >= good[i] * sizeof(void *));
		assert_true(sz <= 64 * (size_t)good[i] + 256);
		/* init touches nothing past the size it asked for (ASan). */
		mem = malloc(sz);
		assert_non_null(mem);
		memset(mem, 0xa5, sz);
		r = (struct bx_reorder *)(void *)mem;
		assert_int_equal(bx_reorder_init(r, good[i], TMO), 0);
		assert_int_equal(bx_reorder_count(r), 0);
		assert_true(bx_reorder_next_deadline(r) == BX_REORDER_NO_DEADLINE);
		free(mem);
	}
	/* A refused init leaves the memory as it was. */
	sz = bx_reorder_size(16);
	mem = malloc(sz);
	assert_non_null(mem);
	memset(mem, 0x5a, sz);
	assert_int_equal(bx_reorder_init((struct bx_reorder *)(void *)mem, 20,
					 TMO),
			 -EINVAL);
	for (i = 0; i < sz; i++)
		assert_int_equal(mem[i], 0x5a);
	free(mem);
	bx_reorder_free(NULL);
}

/* A second init starts over: counters zero, flow unsynced. */
static void
test_reinit(void **state)
{
	struct bx_reorder *r = bx_reorder_create(16, TMO);
	struct bx_reorder_stats s;
	void *out[16];
	unsigned int n;

	(void)state;
	assert_non_null(r);
	assert_int_equal(bx_reorder_push(r, 7, elem_of(7), 0, out, 16, &n),
			 BX_REORDER_DELIVER);
	assert_int_equal(bx_reorder_push(r, 9, elem_of(9), 0, out, 16, &n),
			 BX_REORDER_HELD);
	assert_int_equal(bx_reorder_init(r, 16, TMO), 0);
	assert_int_equal(bx_reorder_count(r), 0);
	bx_reorder_get_stats(r, &s);
	assert_int_equal(s.in_order + s.held, 0);
	/* Unsynced: far behind the old flow is a new start, not a resync. */
	assert_int_equal(bx_reorder_push(r, 7000000, elem_of(7000000), 0, out,
					 16, &n),
			 BX_REORDER_DELIVER);
	assert_int_equal(n, 1);
	assert_ptr_equal(out[0], elem_of(7000000));
	bx_reorder_free(r);
}

/* A timeout too large to add to the arrival time saturates: "never". */
static void
test_deadline_saturates(void **state)
{
	struct bx_reorder *r = bx_reorder_create(16, UINT64_MAX - 10);
	void *out[16];
	unsigned int n;

	(void)state;
	assert_non_null(r);
	bx_reorder_push(r, 0, elem_of(0), 100, out, 16, &n);
	assert_int_equal(bx_reorder_push(r, 2, elem_of(2), 100, out, 16, &n),
			 BX_REORDER_HELD);
	assert_true(bx_reorder_next_deadline(r) == BX_REORDER_NO_DEADLINE);
	assert_int_equal(bx_reorder_pop(r, UINT64_MAX - 1, out, 16), 0);
	assert_int_equal(bx_reorder_count(r), 1);
	bx_reorder_set_timeout(r, 10);
	assert_true(bx_reorder_next_deadline(r) == 110);
	assert_int_equal(bx_reorder_pop(r, 110, out, 16), 1);
	assert_ptr_equal(out[0], elem_of(2));
	bx_reorder_free(r);
}

/* ---- randomized: conservation, order, and a reference model ------------ */

/*
 * The reference model: the same rules, written the slow and obvious way
 * (held elements in an unsorted list, linear scans for the lowest and the
 * oldest). The buffer under test must agree with it on every verdict and
 * every output.
 */
#define MODEL_MAX 1024u

struct model_held {
	uint32_t seq;
	void *elem;
	uint64_t t;
};

struct model {
	uint32_t slots, next;
	bool synced;
	uint64_t timeout;
	unsigned int n;
	struct model_held h[MODEL_MAX];
};

static int
model_find(const struct model *m, uint32_t seq)
{
	unsigned int i;

	for (i = 0; i < m->n; i++)
		if (m->h[i].seq == seq)
			return (int)i;
	return -1;
}

static void
model_take(struct model *m, unsigned int i, void **out, unsigned int *n)
{
	out[(*n)++] = m->h[i].elem;
	m->h[i] = m->h[--m->n];
}

static unsigned int
model_lowest(const struct model *m)
{
	unsigned int i, best = 0;

	for (i = 1; i < m->n; i++)
		if (m->h[i].seq - m->next < m->h[best].seq - m->next)
			best = i;
	return best;
}

static void
model_run(struct model *m, void **out, unsigned int *n)
{
	int i;

	while ((i = model_find(m, m->next)) >= 0) {
		model_take(m, (unsigned int)i, out, n);
		m->next++;
	}
}

static void
model_release_all(struct model *m, void **out, unsigned int *n)
{
	unsigned int i;

	while (m->n > 0) {
		i = model_lowest(m);
		m->next = m->h[i].seq + 1;
		model_take(m, i, out, n);
	}
}

static int
model_push(struct model *m, uint32_t seq, void *elem, uint64_t now,
	   void **out, unsigned int *n)
{
	int32_t d;
	uint32_t target;
	unsigned int i;

	*n = 0;
	if (!m->synced) {
		m->synced = true;
		m->next = seq;
	}
	d = (int32_t)(seq - m->next);
	if (d == 0) {
		out[(*n)++] = elem;
		m->next++;
		model_run(m, out, n);
		return BX_REORDER_DELIVER;
	}
	if (d > 0 && (uint32_t)d < m->slots) {
		if (model_find(m, seq) >= 0)
			return BX_REORDER_DUPLICATE;
		m->h[m->n++] = (struct model_held){ seq, elem, now };
		return BX_REORDER_HELD;
	}
	if (d > 0 && (uint32_t)d <= 2 * m->slots) {
		target = seq - m->slots + 1;
		while (m->n > 0) {
			i = model_lowest(m);
			if ((int32_t)(m->h[i].seq - target) >= 0)
				break;
			m->next = m->h[i].seq + 1;
			model_take(m, i, out, n);
		}
		m->next = target;
		model_run(m, out, n);
		if (seq == m->next) {
			out[(*n)++] = elem;
			m->next++;
		} else {
			m->h[m->n++] = (struct model_held){ seq, elem, now };
		}
		return BX_REORDER_FORCED;
	}
	if (d < 0 && d != INT32_MIN && (uint32_t)-d <= 2 * m->slots) {
		out[(*n)++] = elem;
		return BX_REORDER_LATE;
	}
	model_release_all(m, out, n);
	out[(*n)++] = elem;
	m->next = seq + 1;
	return BX_REORDER_RESYNC;
}

static unsigned int
model_pop(struct model *m, uint64_t now, void **out)
{
	unsigned int i, n = 0;
	uint64_t oldest;

	while (m->n > 0) {
		oldest = m->h[0].t;
		for (i = 1; i < m->n; i++)
			if (m->h[i].t < oldest)
				oldest = m->h[i].t;
		if (now < oldest + m->timeout)
			break;
		m->next = m->h[model_lowest(m)].seq;
		model_run(m, out, &n);
	}
	return n;
}

/* One pushed element: which sequence, and what happened to it. */
struct rec {
	uint64_t idx;  /* unwrapped sequence: position in the sender's stream */
	uint32_t outs; /* times it came back (out[] or DUPLICATE) */
	bool late;     /* its push said LATE */
};

struct rand_cfg {
	const char *name;
	uint32_t slots;
	uint32_t displacement; /* how far an arrival may be from its place */
	uint32_t drop_pm;      /* per mille of the stream lost */
	uint32_t dup_pm;       /* per mille of arrivals followed by a copy */
	uint64_t timeout;
	uint32_t step_ns;      /* time between arrivals: 0..step_ns */
	uint32_t n;            /* stream length */
	bool expect_forced;
};

static const struct rand_cfg rand_cfgs[] = {
	/* Two paths' worth of skew, a little loss: the common case. */
	{ "striping", 1024, 200, 10, 5, 20000, 100, 100000, false },
	/* Skew beyond the window and a timeout longer than it takes to
	 * fill it: overflows all the time. */
	{ "overflowing", 256, 400, 20, 10, 200000, 100, 100000, true },
	/* A tiny window, heavy loss, short timeout: every path of the code. */
	{ "tiny window", 16, 24, 50, 20, 300, 50, 100000, true },
	/* No loss, a timeout that never fires: exactly the stream, in order. */
	{ "lossless", 64, 60, 0, 0, UINT64_MAX / 2, 100, 100000, false },
};

struct arrival {
	uint64_t key;
	uint64_t idx;
};

static int
cmp_arrival(const void *a, const void *b)
{
	const struct arrival *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* xorshift64*: reproducible without libc's rand state. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

struct rand_run {
	const struct rand_cfg *c;
	struct bx_reorder *r;
	struct model *m;
	struct rec *recs;
	void **out, **mout;
	uint64_t last_idx;  /* highest unwrapped sequence delivered in order */
	bool any_out;
	uint64_t n_late, n_dup, n_resync;
};

/* Checks one batch of outputs against the model's and books them. */
static void
take_outputs(struct rand_run *rr, unsigned int n, unsigned int mn)
{
	unsigned int i;
	struct rec *e;

	assert_int_equal(n, mn);
	for (i = 0; i < n; i++) {
		assert_ptr_equal(rr->out[i], rr->mout[i]);
		e = rr->out[i];
		e->outs++;
		assert_int_equal(e->outs, 1);
		if (e->late)
			continue;
		/* In order: strictly increasing in the sender's stream. */
		if (rr->any_out)
			assert_true(e->idx > rr->last_idx);
		rr->last_idx = e->idx;
		rr->any_out = true;
	}
}

static void
run_random(const struct rand_cfg *c, uint64_t seed)
{
	/* The stream starts below 2^32 so that it wraps half way. */
	const uint32_t base = UINT32_MAX - c->n / 2;
	struct rand_run rr = { .c = c };
	struct arrival *arr;
	struct bx_reorder_stats s;
	uint64_t now = 1, i, n_arr = 0, pushes = 0, k;
	unsigned int n, mn, next_pop = 1;
	int v, mv;
	struct rec *e;

	rr.r = bx_reorder_create(c->slots, c->timeout);
	rr.m = calloc(1, sizeof(*rr.m));
	arr = calloc(c->n, sizeof(*arr));
	/* Each arrival may bring a copy: at most 2n records. */
	rr.recs = calloc(2 * (size_t)c->n, sizeof(*rr.recs));
	rr.out = calloc(c->slots, sizeof(*rr.out));
	rr.mout = calloc(c->slots, sizeof(*rr.mout));
	assert_true(rr.r && rr.m && arr && rr.recs && rr.out && rr.mout);
	assert_true(c->slots <= MODEL_MAX);
	rr.m->slots = c->slots;
	rr.m->timeout = c->timeout;

	/* Bounded displacement: sort by position + U(0, displacement). The
	 * first packet arrives first: it syncs the flow, and whatever came
	 * before it would be late. */
	for (i = 0; i < c->n; i++) {
		if (i > 0 && rnd(&seed) % 1000 < c->drop_pm)
			continue;
		arr[n_arr].idx = i;
		arr[n_arr].key = i == 0 ? 0 : i + rnd(&seed) % (c->displacement + 1);
		n_arr++;
	}
	qsort(arr, n_arr, sizeof(*arr), cmp_arrival);

	for (i = 0; i < n_arr; i++) {
		for (k = 0; k < 2; k++) {
			/* k == 1: a copy of an arrival a little before. */
			uint64_t idx = arr[i].idx;

			if (k == 1) {
				if (rnd(&seed) % 1000 >= c->dup_pm)
					break;
				idx = arr[i - rnd(&seed) % (i < 8 ? i + 1 : 8)].idx;
			}
			e = &rr.recs[pushes++];
			e->idx = idx;
			now += rnd(&seed) % (c->step_ns + 1);
			v = bx_reorder_push(rr.r, (uint32_t)(base + idx), e,
					    now, rr.out, c->slots, &n);
			mv = model_push(rr.m, (uint32_t)(base + idx), e, now,
					rr.mout, &mn);
			assert_int_equal(v, mv);
			if (v == BX_REORDER_LATE) {
				e->late = true;
				rr.n_late++;
			}
			if (v == BX_REORDER_DUPLICATE) {
				e->outs++;
				rr.n_dup++;
			}
			rr.n_resync += v == BX_REORDER_RESYNC;
			take_outputs(&rr, n, mn);
		}
		if (--next_pop == 0) {
			n = bx_reorder_pop(rr.r, now, rr.out, c->slots);
			mn = model_pop(rr.m, now, rr.mout);
			take_outputs(&rr, n, mn);
			assert_true(bx_reorder_count(rr.r) == rr.m->n);
			next_pop = 1 + (unsigned int)(rnd(&seed) % 8);
		}
	}
	/* Whatever is left comes back through flush, in order. */
	n = bx_reorder_flush(rr.r, rr.out, c->slots);
	mn = 0;
	model_release_all(rr.m, rr.mout, &mn);
	take_outputs(&rr, n, mn);

	for (i = 0; i < pushes; i++)
		assert_int_equal(rr.recs[i].outs, 1);
	bx_reorder_get_stats(rr.r, &s);
	print_message("# %s: %" PRIu64 " pushes, in order %" PRIu64
		      ", held %" PRIu64 ", late %" PRIu64 ", dup %" PRIu64
		      ", forced %" PRIu64 ", timeouts %" PRIu64
		      ", resyncs %" PRIu64 "\n",
		      c->name, pushes, s.in_order, s.held, s.late,
		      s.duplicates, s.forced, s.timeouts, s.resyncs);
	assert_int_equal(s.in_order + s.held + s.late + s.duplicates, pushes);
	assert_int_equal(s.held, s.reordered + s.forced + s.flushed);
	assert_int_equal(s.late, rr.n_late);
	assert_int_equal(s.duplicates, rr.n_dup);
	assert_int_equal(s.resyncs, rr.n_resync);
	/* A late arrival is at most displacement + 1 behind: never a
	 * backward restart, which would break the order checked above. */
	assert_true(c->displacement + 1 <= 2 * c->slots);
	if (c->expect_forced)
		assert_true(s.forced > 0);
	if (c->drop_pm == 0 && c->dup_pm == 0) {
		/* Nothing lost, nothing given up: the whole stream in order. */
		assert_int_equal(s.late + s.timeouts + s.forced + s.skipped, 0);
		assert_int_equal(rr.last_idx, c->n - 1);
	} else {
		/* Gaps were given up (on time or on overflow), and what
		 * came after them was late. */
		assert_true(s.timeouts + s.forced > 0 && s.late > 0);
	}
	free(rr.mout);
	free(rr.out);
	free(rr.recs);
	free(arr);
	free(rr.m);
	bx_reorder_free(rr.r);
}

static void
test_random_against_model(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(rand_cfgs); i++)
		run_random(&rand_cfgs[i], UINT64_C(0x9e3779b97f4a7c15) + i);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_and_init),
		cmocka_unit_test(test_reinit),
		cmocka_unit_test(test_deadline_saturates),
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_random_against_model),
	};

	return cmocka_run_group_tests_name("reorder", tests, NULL, NULL);
}
