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
	return 2 * (window_bits / BX_REPLAY_WORD_BITS);
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
