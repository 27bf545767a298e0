/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reorder buffer: a ring of slots indexed by seq & mask, a bitmap of the
 * slots that hold an element (to find the next held sequence a word at a
 * time when a gap is given up) and a FIFO of held sequences in arrival
 * order (to know the oldest held element, which dates the head gap).
 *
 * Invariants between calls:
 *  - every held sequence s satisfies 0 < s - next < slots, so s & mask is
 *    unique among them, and next's own slot is empty;
 *  - the FIFO's first entry is held (or the FIFO is empty). Entries of
 *    elements already released stay behind it until they reach the front
 *    ("lazy deletion"): after each release the front is trimmed.
 *
 * FIFO bound: while its front F is held, every later entry was held at
 * some time when next < F (F was in the window then), so each lies in
 * (next at F's arrival, F + slots) and they are distinct (a sequence held
 * once is never held again: next only grows, until a resync empties
 * everything). That is fewer than 2 * slots entries: the FIFO's size.
 */
#include "bx_reorder.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bx_common.h"

#define WORD_BITS 64u
#define WORD_SHIFT 6u
/* Serial arithmetic: a difference with this bit set lies behind. */
#define SERIAL_BEHIND (UINT32_C(1) << 31)

struct slot {
	void *elem;
	uint64_t arrival; /* now_ns at push */
};

struct bx_reorder {
	uint32_t slots;
	uint32_t mask;      /* slots - 1 */
	uint32_t word_mask; /* bitmap words - 1 */
	uint32_t next;      /* lowest sequence not yet delivered */
	uint32_t count;     /* elements held */
	uint32_t fifo_head; /* free-running indexes into the FIFO */
	uint32_t fifo_tail;
	bool synced;        /* false until the first push (and after flush) */
	uint64_t timeout_ns;
	struct bx_reorder_stats st;
	/* slots entries, then the bitmap (word_mask + 1 words), then the
	 * FIFO (2 * slots sequences). */
	struct slot ring[];
};

static bool
slots_ok(uint32_t slots)
{
	return slots >= BX_REORDER_SLOTS_MIN && slots <= BX_REORDER_SLOTS_MAX &&
	       (slots & (slots - 1)) == 0;
}

/* Small windows still use one whole word; the bits past slots stay 0. */
static uint32_t
bitmap_words(uint32_t slots)
{
	return slots >= WORD_BITS ? slots / WORD_BITS : 1;
}

static uint32_t
fifo_len(uint32_t slots)
{
	return 2 * slots;
}

/* The areas behind the ring; const and mutable views. */
static inline const uint64_t *
bitmap(const struct bx_reorder *r)
{
	return (const uint64_t *)(const void *)(r->ring + r->slots);
}

static inline uint64_t *
bitmap_mut(struct bx_reorder *r)
{
	return (uint64_t *)(void *)(r->ring + r->slots);
}

static inline const uint32_t *
fifo(const struct bx_reorder *r)
{
	return (const uint32_t *)(const void *)(bitmap(r) + r->word_mask + 1);
}

static inline uint32_t *
fifo_mut(struct bx_reorder *r)
{
	return (uint32_t *)(void *)(bitmap_mut(r) + r->word_mask + 1);
}

size_t
bx_reorder_size(uint32_t slots)
{
	if (!slots_ok(slots))
		return 0;
	return sizeof(struct bx_reorder) + slots * sizeof(struct slot) +
	       bitmap_words(slots) * sizeof(uint64_t) +
	       fifo_len(slots) * sizeof(uint32_t);
}

int
bx_reorder_init(struct bx_reorder *r, uint32_t slots, uint64_t timeout_ns)
{
	if (!slots_ok(slots))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->slots = slots;
	r->mask = slots - 1;
	r->word_mask = bitmap_words(slots) - 1;
	r->timeout_ns = timeout_ns;
	memset(bitmap_mut(r), 0, bitmap_words(slots) * sizeof(uint64_t));
	return 0;
}

struct bx_reorder *
bx_reorder_create(uint32_t slots, uint64_t timeout_ns)
{
	size_t sz = bx_reorder_size(slots);
	struct bx_reorder *r;
	int rc;

	if (sz == 0) {
		errno = EINVAL;
		return NULL;
	}
	r = malloc(sz);
	if (r == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	rc = bx_reorder_init(r, slots, timeout_ns);
	BX_ASSERT(rc == 0);
	return r;
}

void
bx_reorder_free(struct bx_reorder *r)
{
	free(r);
}

static inline bool
is_held(const struct bx_reorder *r, uint32_t seq)
{
	uint32_t i = seq & r->mask;

	return (bitmap(r)[i >> WORD_SHIFT] >> (i & (WORD_BITS - 1))) & 1;
}

static inline void
flip_held(struct bx_reorder *r, uint32_t seq)
{
	uint32_t i = seq & r->mask;

	bitmap_mut(r)[i >> WORD_SHIFT] ^= UINT64_C(1) << (i & (WORD_BITS - 1));
}

/* The lowest held sequence at or after @from. Needs count > 0 and every
 * held sequence within slots after @from, so the scan ends inside one
 * turn of the ring. */
static uint32_t
first_held(const struct bx_reorder *r, uint32_t from)
{
	const uint64_t *map = bitmap(r);
	uint32_t i = from & r->mask;
	uint32_t w = i >> WORD_SHIFT;
	uint64_t bits = map[w] & (~UINT64_C(0) << (i & (WORD_BITS - 1)));
	uint32_t pos;

	BX_ASSERT_HOT(r->count > 0);
	/* Past the last word the scan wraps to word 0, whose low bits (below
	 * i when w is i's word again) are the positions after the wrap. */
	while (bits == 0) {
		w = (w + 1) & r->word_mask;
		bits = map[w];
	}
	pos = (w << WORD_SHIFT) + (uint32_t)__builtin_ctzll(bits);
	return from + ((pos - i) & r->mask);
}

/* Takes the element at @seq (held) out, to out[*n]. */
static inline void
take(struct bx_reorder *r, uint32_t seq, void *out[], unsigned int *n)
{
	out[(*n)++] = r->ring[seq & r->mask].elem;
	flip_held(r, seq);
	r->count--;
}

/* Delivers the held run starting at next, counting each in @ctr. */
static void
release_run(struct bx_reorder *r, void *out[], unsigned int *n, uint64_t *ctr)
{
	while (r->count > 0 && is_held(r, r->next)) {
		take(r, r->next, out, n);
		r->next++;
		(*ctr)++;
	}
}

/* Drops FIFO entries of elements no longer held, so the front is the
 * oldest held element. */
static void
fifo_trim(struct bx_reorder *r)
{
	const uint32_t *q = fifo(r);
	uint32_t fmask = fifo_len(r->slots) - 1;
	uint32_t s;

	if (r->count == 0) {
		r->fifo_head = r->fifo_tail;
		return;
	}
	/* Every held element has an entry: the tail is never reached unless
	 * an invariant broke, and then a wrong deadline beats a hung lcore. */
	for (; r->fifo_head != r->fifo_tail; r->fifo_head++) {
		s = q[r->fifo_head & fmask];
		/* In the window and its slot occupied: the one held there. */
		if (s - r->next - 1 < r->slots - 1 && is_held(r, s))
			return;
	}
	BX_ASSERT_HOT(0);
}

static void
hold(struct bx_reorder *r, uint32_t seq, void *elem, uint64_t now_ns)
{
	struct slot *sl = &r->ring[seq & r->mask];

	BX_ASSERT_HOT(r->fifo_tail - r->fifo_head < fifo_len(r->slots));
	sl->elem = elem;
	sl->arrival = now_ns;
	flip_held(r, seq);
	r->count++;
	r->st.held++;
	fifo_mut(r)[r->fifo_tail & (fifo_len(r->slots) - 1)] = seq;
	r->fifo_tail++;
}

/* Releases every held element in order, counting each in @ctr. */
static void
release_all(struct bx_reorder *r, void *out[], unsigned int *n, uint64_t *ctr)
{
	uint32_t h;

	while (r->count > 0) {
		h = first_held(r, r->next);
		take(r, h, out, n);
		r->next = h + 1;
		(*ctr)++;
	}
	r->fifo_head = r->fifo_tail;
}

/*
 * The window overflowed: @seq lies slots..2·slots past next. Gives up the
 * gaps below target = seq - slots + 1, releasing what is held there in
 * order, so that seq is the top of the new window.
 */
static void
force(struct bx_reorder *r, uint32_t seq, void *out[], unsigned int *n)
{
	uint32_t target = seq - r->slots + 1;
	uint32_t h;

	while (r->count > 0) {
		h = first_held(r, r->next);
		if ((h - target) < SERIAL_BEHIND)
			break;
		r->st.skipped += h - r->next;
		take(r, h, out, n);
		r->next = h + 1;
		r->st.forced++;
	}
	r->st.skipped += target - r->next;
	r->next = target;
	release_run(r, out, n, &r->st.forced);
	fifo_trim(r);
}

/* Delivers @elem, which is next, then the held run it completes. */
static void
deliver(struct bx_reorder *r, void *elem, void *out[], unsigned int *n)
{
	out[(*n)++] = elem;
	r->next++;
	r->st.in_order++;
	if (r->count > 0) {
		release_run(r, out, n, &r->st.reordered);
		fifo_trim(r);
	}
}

enum bx_reorder_verdict
bx_reorder_push(struct bx_reorder *r, uint32_t seq, void *elem,
		uint64_t now_ns, void *out[], unsigned int max,
		unsigned int *n_out)
{
	uint32_t d, span = BX_REORDER_RESYNC_WINDOWS * r->slots;
	enum bx_reorder_verdict v;
	unsigned int n = 0;

	BX_ASSERT(max >= r->slots);

	if (BX_UNLIKELY(!r->synced)) {
		r->synced = true;
		r->next = seq;
	}
	/* Serial distance: ahead below 2^31, behind from 2^31 on. */
	d = seq - r->next;
	if (BX_LIKELY(d == 0)) {
		deliver(r, elem, out, &n);
		v = BX_REORDER_DELIVER;
	} else if (d < r->slots) {
		if (is_held(r, seq)) {
			r->st.duplicates++;
			v = BX_REORDER_DUPLICATE;
		} else {
			hold(r, seq, elem, now_ns);
			v = BX_REORDER_HELD;
		}
	} else if (d <= span) {
		force(r, seq, out, &n);
		if (seq == r->next)
			deliver(r, elem, out, &n);
		else
			hold(r, seq, elem, now_ns);
		v = BX_REORDER_FORCED;
	} else if (d >= SERIAL_BEHIND && -d <= span) {
		out[n++] = elem;
		r->st.late++;
		v = BX_REORDER_LATE;
	} else {
		/* More than 2 windows away either way, 2^31 included. */
		release_all(r, out, &n, &r->st.flushed);
		r->next = seq;
		r->st.resyncs++;
		deliver(r, elem, out, &n);
		v = BX_REORDER_RESYNC;
	}
	*n_out = n;
	return v;
}

uint64_t
bx_reorder_next_deadline(const struct bx_reorder *r)
{
	uint32_t oldest;
	uint64_t arrival;

	if (r->count == 0)
		return BX_REORDER_NO_DEADLINE;
	oldest = fifo(r)[r->fifo_head & (fifo_len(r->slots) - 1)];
	arrival = r->ring[oldest & r->mask].arrival;
	return arrival > BX_REORDER_NO_DEADLINE - r->timeout_ns ?
		       BX_REORDER_NO_DEADLINE :
		       arrival + r->timeout_ns;
}

unsigned int
bx_reorder_pop(struct bx_reorder *r, uint64_t now_ns, void *out[],
	       unsigned int max)
{
	unsigned int n = 0;
	uint32_t h;

	BX_ASSERT(max >= r->slots);
	while (r->count > 0 && now_ns >= bx_reorder_next_deadline(r)) {
		h = first_held(r, r->next);
		r->st.timeouts++;
		r->st.skipped += h - r->next;
		r->next = h;
		release_run(r, out, &n, &r->st.reordered);
		fifo_trim(r);
	}
	return n;
}

unsigned int
bx_reorder_flush(struct bx_reorder *r, void *out[], unsigned int max)
{
	unsigned int n = 0;

	BX_ASSERT(max >= r->slots);
	release_all(r, out, &n, &r->st.flushed);
	r->synced = false;
	return n;
}

void
bx_reorder_set_timeout(struct bx_reorder *r, uint64_t timeout_ns)
{
	r->timeout_ns = timeout_ns;
}

uint32_t
bx_reorder_count(const struct bx_reorder *r)
{
	return r->count;
}

void
bx_reorder_get_stats(const struct bx_reorder *r, struct bx_reorder_stats *out)
{
	*out = r->st;
}
