/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for lib/reorder. An input is a buffer configuration
 * and a script of operations on one buffer; every element pushed is a new
 * small integer cast to a pointer, so the harness knows where each one is.
 *
 *   byte 0      slots = 2^(4 + b0 % 7): 16..1024
 *   bytes 1-3   timeout: mode b1 % 8, value v = b2 << 8 | b3 (see
 *               timeout_of(): v ns/us/ms/100 ms/s, 0, UINT64_MAX - v, or
 *               a huge one that never saturates)
 *   bytes 4-7   first sequence (big-endian): where the flow starts
 *   bytes 8-11  a raw slots value for bx_reorder_size()/init()/create()
 *   then operations: code, arguments; sub = code >> 3
 *     code & 7 = 0  push one: seq relative to next (or to the last pushed
 *                   while unsynced), by sub % 8 (see push_seq())
 *                1  push a burst of 1 + arg % 64 (pattern sub % 4), one
 *                   arg byte
 *                2  pop after a clock step of arg * unit(sub), one byte
 *                3  pop at next_deadline() (sub & 1: one ns before it)
 *                4  flush
 *                5  set_timeout: 3 bytes as bytes 1-3
 *                6  clock forward by u16 * unit(sub)
 *                7  clock back by u16 * unit(sub): allowed, "a gap only
 *                   waits longer"; from then on deadlines are checked as
 *                   bounds, not exactly
 *
 * Oracle: a naive model of the header's table (linear scans, no bitmap,
 * no FIFO) gives every verdict and every out[] exactly; beyond that, and
 * independently of the model, after every operation:
 *   - conservation: an element comes out once, and only after it went in;
 *     DUPLICATE hands it straight back; count() is how many are inside;
 *     at the end a flush empties the buffer and every element is out;
 *   - order: outputs in increasing serial order but for LATE ones and
 *     what a RESYNC restarts (a flush also restarts the flow);
 *   - one call never writes more than slots entries: out[] has exactly
 *     slots (ASan sees any write past it);
 *   - stats: in_order + held + late + duplicates == pushes, held ==
 *     reordered + forced + flushed + count(), and each counter moves only
 *     as the verdict or the call says;
 *   - next_deadline() is the oldest held arrival + timeout (saturating),
 *     NO_DEADLINE when empty, and after pop() it lies after now.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bx_common.h"
#include "bx_reorder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR_LEN 12u
#define SLOTS_EXP_MIN 4u
#define SLOTS_EXP_SPAN 7u /* 2^4..2^10 */
#define MODEL_SLOTS_MAX 1024u
#define IDS_MAX (1u << 17)
/* Steps are at most 65535 * 10 s: OPS_MAX of them keep now below 2^63, so
 * now never reaches a saturated deadline. */
#define OPS_MAX 4096u
#define START_NS (UINT64_C(1) << 40)
#define BURST_MAX 64u
#define BURST_PATTERNS 4u
#define PUSH_KINDS 8u
#define SERIAL_BEHIND (UINT32_C(1) << 31)
#define NO_DL BX_REORDER_NO_DEADLINE

enum {
	OP_PUSH,
	OP_BURST,
	OP_POP,
	OP_POP_DEADLINE,
	OP_FLUSH,
	OP_SET_TIMEOUT,
	OP_TIME,
	OP_TIME_BACK,
};
#define OP_KIND_MASK 7u
#define OP_SUB_SHIFT 3u

enum fate { FATE_NONE, FATE_INSIDE, FATE_OUT, FATE_REFUSED };

struct mslot {
	bool used;
	uint32_t seq, id;
	uint64_t arrival;
};

static struct {
	struct bx_reorder *r;
	void **out;                      /* exactly slots entries */
	uint32_t slots, mask;
	uint64_t timeout, now;
	bool clock_back;                 /* deadlines checked as bounds only */
	/* the model */
	bool synced;
	uint32_t next, count;
	struct mslot held[MODEL_SLOTS_MAX];
	uint32_t exp[MODEL_SLOTS_MAX];   /* ids the call must output */
	unsigned n_exp;
	uint32_t below_target;           /* FORCED: released below the target */
	uint64_t gaps;                   /* pop: gaps given up */
	/* element bookkeeping */
	uint32_t n_ids, inside, base;
	uint64_t pushes;
	bool have_last;
	uint32_t last;
	struct bx_reorder_stats st;
	/* Not cleared between inputs (set at each push): keep them last. */
	uint8_t fate[IDS_MAX + 1];
	uint32_t seq_of[IDS_MAX + 1];
} g;

static uint64_t
unit_of(unsigned sub)
{
	static const uint64_t unit[8] = {
		1, 1000, 1000000, 10000000, 100000000, 1000000000, 10000000000, 0,
	};

	return unit[sub % 8];
}

static uint64_t
timeout_of(uint8_t mode, uint16_t v)
{
	switch (mode % 8) {
	case 0: return v;
	case 1: return (uint64_t)v * 1000;
	case 2: return (uint64_t)v * 1000000;
	case 3: return (uint64_t)v * 100000000;
	case 4: return 0;
	case 5: return UINT64_MAX - v;
	case 6: return (UINT64_MAX >> 2) + v;
	default: return (uint64_t)v * 1000000000;
	}
}

/* ---- the model ---------------------------------------------------------- */

static bool
m_held(uint32_t seq)
{
	const struct mslot *s = &g.held[seq & g.mask];

	return seq - g.next < g.slots && s->used && s->seq == seq;
}

/* The lowest held sequence from next on (count > 0). */
static uint32_t
m_lowest(void)
{
	uint32_t d;

	BX_ASSERT(g.count > 0);
	for (d = 0; d < g.slots; d++)
		if (m_held(g.next + d))
			return g.next + d;
	BX_ASSERT(0);
	return 0;
}

static void
m_take(uint32_t seq)
{
	struct mslot *s = &g.held[seq & g.mask];

	BX_ASSERT(g.n_exp < g.slots);
	g.exp[g.n_exp++] = s->id;
	s->used = false;
	g.count--;
}

static void
m_store(uint32_t seq, uint32_t id, uint64_t now)
{
	struct mslot *s = &g.held[seq & g.mask];

	BX_ASSERT(!s->used);
	s->used = true;
	s->seq = seq;
	s->id = id;
	s->arrival = now;
	g.count++;
}

static void
m_run(void)
{
	while (g.count > 0 && m_held(g.next)) {
		m_take(g.next);
		g.next++;
	}
}

static void
m_deliver(uint32_t id)
{
	BX_ASSERT(g.n_exp < g.slots);
	g.exp[g.n_exp++] = id;
	g.next++;
	m_run();
}

static void
m_arrivals(uint64_t *lo, uint64_t *hi)
{
	uint32_t i;

	*lo = UINT64_MAX;
	*hi = 0;
	for (i = 0; i < g.slots; i++) {
		if (!g.held[i].used)
			continue;
		*lo = g.held[i].arrival < *lo ? g.held[i].arrival : *lo;
		*hi = g.held[i].arrival > *hi ? g.held[i].arrival : *hi;
	}
}

static uint64_t
deadline_of(uint64_t arrival)
{
	return arrival > NO_DL - g.timeout ? NO_DL : arrival + g.timeout;
}

static uint64_t
m_deadline(void)
{
	uint64_t lo, hi;

	if (g.count == 0)
		return NO_DL;
	m_arrivals(&lo, &hi);
	return deadline_of(lo);
}

static enum bx_reorder_verdict
m_push(uint32_t seq, uint32_t id, uint64_t now)
{
	uint32_t d, span = BX_REORDER_RESYNC_WINDOWS * g.slots, target, h;

	g.n_exp = 0;
	g.below_target = 0;
	if (!g.synced) {
		g.synced = true;
		g.next = seq;
	}
	d = seq - g.next;
	if (d == 0) {
		m_deliver(id);
		return BX_REORDER_DELIVER;
	}
	if (d < g.slots) {
		if (m_held(seq))
			return BX_REORDER_DUPLICATE;
		m_store(seq, id, now);
		return BX_REORDER_HELD;
	}
	if (d <= span) {
		target = seq - g.slots + 1;
		while (g.count > 0 && (h = m_lowest()) - target >= SERIAL_BEHIND) {
			m_take(h);
			g.next = h + 1;
			g.below_target++;
		}
		g.next = target;
		m_run();
		if (seq == g.next)
			m_deliver(id);
		else
			m_store(seq, id, now);
		return BX_REORDER_FORCED;
	}
	if (d >= SERIAL_BEHIND && -d <= span) {
		g.exp[g.n_exp++] = id;
		return BX_REORDER_LATE;
	}
	while (g.count > 0) {
		h = m_lowest();
		m_take(h);
		g.next = h + 1;
	}
	g.next = seq;
	m_deliver(id);
	return BX_REORDER_RESYNC;
}

/* One gap given up: skip to the lowest held and release the run. */
static void
m_give_up_gap(void)
{
	g.next = m_lowest();
	m_run();
	g.gaps++;
}

/* ---- checks ------------------------------------------------------------- */

static void
ordered(uint32_t id)
{
	uint32_t seq = g.seq_of[id];

	BX_ASSERT(!g.have_last || seq - g.last - 1 < SERIAL_BEHIND - 1);
	g.have_last = true;
	g.last = seq;
}

/* Takes the call's outputs: each one must be inside the buffer, comes out
 * once, and matches the model. @skip_order: the index whose order is not
 * checked (LATE, the element a RESYNC restarts with), or n for none. */
static void
take_out(unsigned n, unsigned skip_order)
{
	unsigned i;

	BX_ASSERT(n <= g.slots);
	BX_ASSERT(n == g.n_exp);
	for (i = 0; i < n; i++) {
		uintptr_t id = (uintptr_t)g.out[i];

		BX_ASSERT(id >= 1 && id <= g.n_ids);
		BX_ASSERT(g.fate[id] == FATE_INSIDE);
		BX_ASSERT(id == g.exp[i]);
		g.fate[id] = FATE_OUT;
		g.inside--;
		if (i != skip_order)
			ordered((uint32_t)id);
	}
}

static struct bx_reorder_stats
stats(void)
{
	struct bx_reorder_stats s;

	bx_reorder_get_stats(g.r, &s);
	return s;
}

static void
check_deadline(void)
{
	uint64_t dl = bx_reorder_next_deadline(g.r), lo, hi;

	if (!g.clock_back) {
		BX_ASSERT(dl == m_deadline());
		return;
	}
	if (g.count == 0) {
		BX_ASSERT(dl == NO_DL);
		return;
	}
	/* Arrival stamps out of order: the deadline is that of one of the
	 * held elements, and no earlier than the oldest stamp's. */
	m_arrivals(&lo, &hi);
	BX_ASSERT(dl >= deadline_of(lo) && dl <= deadline_of(hi));
}

/* After every operation; @d is the stats delta it must have made. */
static void
check(const struct bx_reorder_stats *d)
{
	struct bx_reorder_stats s = stats();

	BX_ASSERT(bx_reorder_count(g.r) == g.count);
	BX_ASSERT(g.inside == g.count);
	BX_ASSERT(s.in_order == g.st.in_order + d->in_order);
	BX_ASSERT(s.held == g.st.held + d->held);
	BX_ASSERT(s.late == g.st.late + d->late);
	BX_ASSERT(s.duplicates == g.st.duplicates + d->duplicates);
	BX_ASSERT(s.reordered == g.st.reordered + d->reordered);
	BX_ASSERT(s.forced == g.st.forced + d->forced);
	BX_ASSERT(s.flushed == g.st.flushed + d->flushed);
	BX_ASSERT(s.timeouts == g.st.timeouts + d->timeouts);
	BX_ASSERT(s.skipped == g.st.skipped + d->skipped);
	BX_ASSERT(s.resyncs == g.st.resyncs + d->resyncs);
	BX_ASSERT(s.in_order + s.held + s.late + s.duplicates == g.pushes);
	BX_ASSERT(s.held == s.reordered + s.forced + s.flushed + g.count);
	check_deadline();
	g.st = s;
}

/* ---- operations --------------------------------------------------------- */

static void
push(uint32_t seq)
{
	struct bx_reorder_stats d = { 0 }, before = stats();
	enum bx_reorder_verdict v, want;
	unsigned n = UINT32_MAX, released;
	uint32_t id = ++g.n_ids, next_before = g.synced ? g.next : seq;

	g.seq_of[id] = seq;
	g.fate[id] = FATE_INSIDE;
	g.inside++;
	g.pushes++;
	want = m_push(seq, id, g.now);
	v = bx_reorder_push(g.r, seq, (void *)(uintptr_t)id, g.now, g.out,
			    g.slots, &n);
	BX_ASSERT(v == want);
	switch (v) {
	case BX_REORDER_DELIVER:
		take_out(n, n);
		BX_ASSERT(g.out[0] == (void *)(uintptr_t)id);
		d.in_order = 1;
		d.reordered = n - 1;
		break;
	case BX_REORDER_HELD:
		take_out(n, n);
		BX_ASSERT(n == 0);
		d.held = 1;
		break;
	case BX_REORDER_FORCED:
		take_out(n, n);
		released = g.fate[id] == FATE_OUT ? n - 1 : n;
		d.in_order = g.fate[id] == FATE_OUT;
		d.held = !d.in_order;
		/* Released because the window overflowed, or completed by
		 * the element: the header splits them between these two. */
		d.forced = stats().forced - before.forced;
		BX_ASSERT(d.forced >= g.below_target && d.forced <= released);
		d.reordered = released - d.forced;
		break;
	case BX_REORDER_LATE:
		take_out(n, 0);
		BX_ASSERT(n == 1 && g.out[0] == (void *)(uintptr_t)id);
		d.late = 1;
		break;
	case BX_REORDER_RESYNC:
		BX_ASSERT(n >= 1);
		take_out(n, n - 1);
		BX_ASSERT(g.out[n - 1] == (void *)(uintptr_t)id);
		g.have_last = true;
		g.last = seq;
		d.in_order = 1;
		d.flushed = n - 1;
		d.resyncs = 1;
		break;
	case BX_REORDER_DUPLICATE:
		BX_ASSERT(n == 0 && g.n_exp == 0);
		g.fate[id] = FATE_REFUSED;
		g.inside--;
		d.duplicates = 1;
		break;
	default:
		BX_ASSERT(0);
	}
	/* Sequence numbers given up: those next moved past without output. */
	if (v == BX_REORDER_FORCED || v == BX_REORDER_DELIVER)
		d.skipped = (uint32_t)(g.next - next_before) - n;
	check(&d);
	g.base = g.synced ? g.next : seq;
}

static void
pop(void)
{
	struct bx_reorder_stats d = { 0 };
	uint32_t next_before = g.next;
	uint64_t due = bx_reorder_next_deadline(g.r);
	unsigned n;

	g.n_exp = 0;
	g.gaps = 0;
	n = bx_reorder_pop(g.r, g.now, g.out, g.slots);
	/* Something is released exactly when the deadline has come. */
	BX_ASSERT((n > 0) == (g.now >= due));
	if (!g.clock_back) {
		while (g.count > 0 && g.now >= m_deadline())
			m_give_up_gap();
	} else {
		/* Stamps out of order: how many gaps are due is the
		 * buffer's call; each one must be a whole run from the
		 * lowest held. */
		while (g.n_exp < n)
			m_give_up_gap();
	}
	take_out(n, n);
	d.timeouts = g.gaps;
	d.reordered = n;
	d.skipped = (uint32_t)(g.next - next_before) - n;
	check(&d);
	BX_ASSERT(g.count == 0 || bx_reorder_next_deadline(g.r) > g.now);
}

static void
flush(void)
{
	struct bx_reorder_stats d = { 0 };
	unsigned n;
	uint32_t h;

	g.n_exp = 0;
	while (g.count > 0) {
		h = m_lowest();
		m_take(h);
		g.next = h + 1;
	}
	g.synced = false;
	n = bx_reorder_flush(g.r, g.out, g.slots);
	take_out(n, n);
	g.have_last = false;
	d.flushed = n;
	check(&d);
}

/* Where a single push lands, by @kind, relative to next. */
static uint32_t
push_seq(unsigned kind, const uint8_t *a)
{
	uint32_t b = g.base, s = g.slots;

	switch (kind % PUSH_KINDS) {
	case 0: return b + a[0];                                  /* near */
	case 1: return b + a[0] % s;                              /* window */
	case 2: return b - 1 - a[0];                              /* late */
	case 3: return b + s + ((uint32_t)a[0] << 8 | a[1]) % (s + 1); /* forced */
	case 4: return b + (uint32_t)(int32_t)(int16_t)(a[0] << 8 | a[1]);
	case 5: return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
		       (uint32_t)a[2] << 8 | a[3];                /* anywhere */
	case 6: /* around +-2 windows, the resync edge */
		return (a[0] & 1 ? b - 2 * s : b + 2 * s) + (uint32_t)(int32_t)(int8_t)a[1];
	default: return b;                                        /* next */
	}
}

static size_t
push_args(unsigned kind)
{
	static const size_t len[PUSH_KINDS] = { 1, 1, 1, 2, 2, 4, 2, 0 };

	return len[kind % PUSH_KINDS];
}

static void
burst(unsigned pattern, unsigned n)
{
	uint32_t b = g.base, i, x = 0;

	for (i = 0; i < n && g.n_ids < IDS_MAX; i++) {
		switch (pattern % BURST_PATTERNS) {
		case 0: push(b + n - 1 - i); break;   /* backwards, then next */
		case 1: push(b + 1 + i); break;       /* a gap at next */
		case 2: push(b + 2 * i); break;       /* every other one */
		default: /* strided: a shuffle, or duplicates when the stride
			  * shares a factor with n */
			x = (x + 2 * n / 3 + 1) % n;
			push(b + x);
			break;
		}
	}
}

static void
check_size_api(uint32_t raw)
{
	bool ok = raw >= BX_REORDER_SLOTS_MIN && raw <= BX_REORDER_SLOTS_MAX &&
		  (raw & (raw - 1)) == 0;
	size_t sz = bx_reorder_size(g.slots);
	struct bx_reorder *c;
	void *copy;

	BX_ASSERT((bx_reorder_size(raw) != 0) == ok);
	if (!ok) {
		copy = malloc(sz);
		BX_ASSERT(copy != NULL);
		memcpy(copy, g.r, sz);
		BX_ASSERT(bx_reorder_init(g.r, raw, g.timeout) == -EINVAL);
		BX_ASSERT(memcmp(copy, g.r, sz) == 0);
		free(copy);
		errno = 0;
		BX_ASSERT(bx_reorder_create(raw, g.timeout) == NULL && errno == EINVAL);
		return;
	}
	if (raw > MODEL_SLOTS_MAX)
		return;
	c = bx_reorder_create(raw, g.timeout);
	BX_ASSERT(c != NULL && bx_reorder_count(c) == 0 &&
		  bx_reorder_next_deadline(c) == NO_DL);
	bx_reorder_free(c);
	bx_reorder_free(NULL);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
run(const uint8_t *data, size_t size)
{
	size_t off = HDR_LEN;
	unsigned ops = 0;

	check_size_api(be32(data + 8));
	while (off < size && ops++ < OPS_MAX && g.n_ids < IDS_MAX) {
		uint8_t code = data[off++];
		unsigned sub = code >> OP_SUB_SHIFT;
		const uint8_t *a = data + off;
		size_t left = size - off;
		uint64_t step;

		switch (code & OP_KIND_MASK) {
		case OP_PUSH:
			if (left < push_args(sub))
				return;
			off += push_args(sub);
			push(push_seq(sub, a));
			break;
		case OP_BURST:
			if (left < 1)
				return;
			off++;
			burst(sub, 1 + a[0] % BURST_MAX);
			break;
		case OP_POP:
			if (left < 1)
				return;
			off++;
			g.now += a[0] * unit_of(sub);
			pop();
			break;
		case OP_POP_DEADLINE: {
			uint64_t dl = bx_reorder_next_deadline(g.r);

			if (dl != NO_DL && dl > g.now && dl < (UINT64_C(1) << 62))
				g.now = (sub & 1) ? dl - 1 : dl;
			pop();
			break;
		}
		case OP_FLUSH:
			flush();
			break;
		case OP_SET_TIMEOUT: {
			struct bx_reorder_stats d = { 0 };

			if (left < 3)
				return;
			off += 3;
			g.timeout = timeout_of(a[0], (uint16_t)(a[1] << 8 | a[2]));
			bx_reorder_set_timeout(g.r, g.timeout);
			check(&d);
			break;
		}
		case OP_TIME:
		case OP_TIME_BACK: {
			struct bx_reorder_stats d = { 0 };

			if (left < 2)
				return;
			off += 2;
			step = (uint64_t)(a[0] << 8 | a[1]) * unit_of(sub);
			if ((code & OP_KIND_MASK) == OP_TIME) {
				g.now += step;
			} else {
				g.now = g.now > step ? g.now - step : 0;
				g.clock_back |= step != 0;
			}
			check(&d);
			break;
		}
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t id;

	if (size < HDR_LEN)
		return 0;
	memset(&g, 0, offsetof(__typeof__(g), fate));
	g.slots = UINT32_C(1) << (SLOTS_EXP_MIN + data[0] % SLOTS_EXP_SPAN);
	g.mask = g.slots - 1;
	g.timeout = timeout_of(data[1], (uint16_t)(data[2] << 8 | data[3]));
	g.now = START_NS;
	g.base = be32(data + 4);
	g.r = malloc(bx_reorder_size(g.slots));
	g.out = malloc(g.slots * sizeof(*g.out));
	BX_ASSERT(g.r != NULL && g.out != NULL);
	BX_ASSERT(bx_reorder_init(g.r, g.slots, g.timeout) == 0);
	BX_ASSERT(bx_reorder_count(g.r) == 0 &&
		  bx_reorder_next_deadline(g.r) == NO_DL);

	run(data, size);

	flush();
	BX_ASSERT(bx_reorder_count(g.r) == 0 && g.inside == 0);
	for (id = 1; id <= g.n_ids; id++)
		BX_ASSERT(g.fate[id] == FATE_OUT || g.fate[id] == FATE_REFUSED);
	free(g.out);
	free(g.r);
	return 0;
}
