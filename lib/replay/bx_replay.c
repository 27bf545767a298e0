/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replay window: a ring of 64-bit words indexed by counter / 64. Counter c
 * lives in word (c >> 6) & word_mask, bit c & 63. Bits for counters above
 * top are always zero: whenever top moves into a new word, every word from
 * the old top's word (exclusive) to the new one (inclusive) is cleared, and
 * a jump of a whole ring or more clears the whole ring. The words between
 * the window's left edge and top are never reused while inside the window
 * because the ring holds twice the window.
 */
#include "bx_replay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bx_common.h"

#define WORD_BITS 64u
#define WORD_SHIFT 6u

struct bx_replay {
	uint64_t next;      /* top + 1; 0 while nothing was committed */
	uint64_t limit;     /* counters >= limit are refused */
	uint32_t bits;      /* window size in counters, a power of two */
	uint32_t word_mask; /* ring words - 1 */
	uint64_t map[];
};

/* Window size after rounding, or 0 if @bits is out of range. */
static uint32_t
round_bits(uint32_t bits)
{
	if (bits < BX_REPLAY_MIN_BITS || bits > BX_REPLAY_MAX_BITS)
		return 0;
	/* Next power of two: bits >= 64, so bits - 1 is never 0 for clz. */
	return UINT32_C(1) << (32 - __builtin_clz(bits - 1));
}

static uint32_t
ring_words(uint32_t window_bits)
{
	return 2 * (window_bits / WORD_BITS);
}

size_t
bx_replay_size(uint32_t bits)
{
	uint32_t b = round_bits(bits);

	if (b == 0)
		return 0;
	return sizeof(struct bx_replay) + ring_words(b) * sizeof(uint64_t);
}

int
bx_replay_init(struct bx_replay *w, uint32_t bits, uint64_t limit)
{
	uint32_t b = round_bits(bits);

	if (b == 0 || limit == 0)
		return -EINVAL;
	w->next = 0;
	w->limit = limit;
	w->bits = b;
	w->word_mask = ring_words(b) - 1;
	memset(w->map, 0, ring_words(b) * sizeof(uint64_t));
	return 0;
}

struct bx_replay *
bx_replay_create(uint32_t bits, uint64_t limit)
{
	size_t sz = bx_replay_size(bits);
	struct bx_replay *w;
	int rc;

	if (sz == 0 || limit == 0) {
		errno = EINVAL;
		return NULL;
	}
	w = malloc(sz);
	if (w == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	rc = bx_replay_init(w, bits, limit);
	BX_ASSERT(rc == 0);
	return w;
}

void
bx_replay_free(struct bx_replay *w)
{
	free(w);
}

static inline uint32_t
slot_of(const struct bx_replay *w, uint64_t counter)
{
	return (uint32_t)(counter >> WORD_SHIFT) & w->word_mask;
}

static inline uint64_t
bit_of(uint64_t counter)
{
	return UINT64_C(1) << (counter & (WORD_BITS - 1));
}

enum bx_drop_reason
bx_replay_check(const struct bx_replay *w, uint64_t counter)
{
	if (BX_UNLIKELY(counter >= w->limit))
		return BX_DROP_REPLAY_LIMIT;
	if (counter >= w->next)
		return BX_DROP_NONE;
	/* top - counter >= bits, written without top so next == 0 cannot wrap. */
	if (w->next - counter > w->bits)
		return BX_DROP_REPLAY_TOO_OLD;
	if (w->map[slot_of(w, counter)] & bit_of(counter))
		return BX_DROP_REPLAY_DUPLICATE;
	return BX_DROP_NONE;
}

/* Moves top to @counter (> top), clearing the words it enters. */
static void
advance(struct bx_replay *w, uint64_t counter)
{
	uint64_t new_word = counter >> WORD_SHIFT;

	if (w->next != 0) {
		uint64_t old_word = (w->next - 1) >> WORD_SHIFT;
		uint64_t n = new_word - old_word;
		uint64_t i;

		/* Past a whole ring every slot is stale: bounded cost. */
		if (n > (uint64_t)w->word_mask + 1)
			n = (uint64_t)w->word_mask + 1;
		for (i = 1; i <= n; i++)
			w->map[(old_word + i) & w->word_mask] = 0;
	}
	w->next = counter + 1;
}

enum bx_drop_reason
bx_replay_commit(struct bx_replay *w, uint64_t counter)
{
	enum bx_drop_reason r = bx_replay_check(w, counter);

	if (r != BX_DROP_NONE)
		return r;
	if (counter >= w->next)
		advance(w, counter);
	w->map[slot_of(w, counter)] |= bit_of(counter);
	return BX_DROP_NONE;
}

bool
bx_replay_top(const struct bx_replay *w, uint64_t *top)
{
	if (w->next == 0)
		return false;
	*top = w->next - 1;
	return true;
}

bool
bx_replay_must_rekey(const struct bx_replay *w)
{
	return w->next >= w->limit;
}

uint32_t
bx_replay_bits(const struct bx_replay *w)
{
	return w->bits;
}
