/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sliding replay window over the 64-bit per-session counter (DESIGN §3.3),
 * in the manner of RFC 6479 and WireGuard's counter.c, with a configurable
 * size. Plain C, no EAL, no clock.
 *
 * A window of B bits accepts each counter at most once, as long as it is
 * within the B counters that end at the highest counter accepted so far
 * ("top"): with top = T, counter T - B + 1 is still judged, T - B is too
 * old. Counters above top are always new (forward jumps of any size are
 * fine). Counter 0 is a valid first counter.
 *
 * B is rounded up to a power of two, at least BX_REPLAY_MIN_BITS and at most
 * BX_REPLAY_MAX_BITS. The bitmap is a ring of 64-bit words twice the window
 * (the word holding top is only partly used, so B bits of history need one
 * word more than B / 64; a power-of-two ring keeps the index a mask): a
 * window of B bits takes B / 4 bytes plus a small header.
 *
 * Use on the fast path is two-phase, so a forged packet can never move the
 * window: bx_replay_check() before decryption rejects cheaply and changes
 * nothing; bx_replay_commit() after the tag verifies checks again and marks
 * the counter. One window belongs to one lcore: check and commit are called
 * by the same thread, no locking.
 */
#ifndef BX_REPLAY_H
#define BX_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bx_common.h"
#include "bx_drop.h"

/* Striping over links of different RTTs reorders far more than 64 packets. */
#define BX_REPLAY_DEFAULT_BITS 2048u
#define BX_REPLAY_MIN_BITS 64u
/* 1 Mi counters of history (256 KiB per window): beyond any sane reordering. */
#define BX_REPLAY_MAX_BITS (1u << 20)
/* Counters from here on are refused: the session must have rekeyed. */
#define BX_REPLAY_DEFAULT_LIMIT (UINT64_C(1) << 60)

/* The window, in the header only for the inline check and commit (the
 * fast path calls both per packet): use the functions, not the fields. */
#define BX_REPLAY_WORD_BITS 64u
#define BX_REPLAY_WORD_SHIFT 6u

struct bx_replay {
	uint64_t next;      /* top + 1; 0 while nothing was committed */
	uint64_t limit;     /* counters >= limit are refused */
	uint32_t bits;      /* window size in counters, a power of two */
	uint32_t word_mask; /* ring words - 1 */
	uint64_t map[];
};

static inline uint32_t
bx_replay_slot_(const struct bx_replay *w, uint64_t counter)
{
	return (uint32_t)(counter >> BX_REPLAY_WORD_SHIFT) & w->word_mask;
}

static inline uint64_t
bx_replay_bit_(uint64_t counter)
{
	return UINT64_C(1) << (counter & (BX_REPLAY_WORD_BITS - 1));
}

/*
 * Bytes of memory a window of @bits needs (after rounding @bits up to a
 * power of two), so the caller can place it where it likes (hugepage
 * memory next to its session, 8-byte aligned at least). Returns 0 when
 * @bits is outside [BX_REPLAY_MIN_BITS, BX_REPLAY_MAX_BITS].
 */
size_t bx_replay_size(uint32_t bits);

/*
 * Makes @w, of at least bx_replay_size(@bits) bytes, an empty window of
 * @bits (rounded up to a power of two) that refuses counters >= @limit.
 * Calling it again on a live window resets it, as a new session does.
 * Returns 0, or -EINVAL when @bits is out of range or @limit is 0 (@w is
 * then untouched).
 */
int bx_replay_init(struct bx_replay *w, uint32_t bits, uint64_t limit);

/*
 * Convenience for tests and the control lcore: a window in malloc memory.
 * Returns NULL with errno EINVAL (bad @bits or @limit) or ENOMEM.
 */
struct bx_replay *bx_replay_create(uint32_t bits, uint64_t limit);

/* Frees a window made by bx_replay_create(); NULL is fine. */
void bx_replay_free(struct bx_replay *w);

/*
 * Pre-check before decryption: would @counter be accepted now? Returns
 * BX_DROP_NONE, BX_DROP_REPLAY_LIMIT (@counter >= limit),
 * BX_DROP_REPLAY_TOO_OLD (left of the window) or BX_DROP_REPLAY_DUPLICATE.
 * Changes nothing: an unauthenticated packet must not move the window.
 */
static inline enum bx_drop_reason
bx_replay_check(const struct bx_replay *w, uint64_t counter)
{
	if (BX_UNLIKELY(counter >= w->limit))
		return BX_DROP_REPLAY_LIMIT;
	if (counter >= w->next)
		return BX_DROP_NONE;
	/* top - counter >= bits, written without top so next == 0 cannot wrap. */
	if (w->next - counter > w->bits)
		return BX_DROP_REPLAY_TOO_OLD;
	if (w->map[bx_replay_slot_(w, counter)] & bx_replay_bit_(counter))
		return BX_DROP_REPLAY_DUPLICATE;
	return BX_DROP_NONE;
}

/* Moves top to @counter (> top), clearing the words it enters. */
static inline void
bx_replay_advance_(struct bx_replay *w, uint64_t counter)
{
	uint64_t new_word = counter >> BX_REPLAY_WORD_SHIFT;

	if (w->next != 0) {
		uint64_t old_word = (w->next - 1) >> BX_REPLAY_WORD_SHIFT;
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

/*
 * After the AEAD tag has verified: checks @counter again (a copy of the same
 * packet may have passed bx_replay_check() in the same burst, or the window
 * may have moved since) and, when it is accepted, marks it seen and slides
 * the window forward if it is a new top. Returns BX_DROP_NONE or the same
 * reasons as bx_replay_check(); the window is unchanged unless it returns
 * BX_DROP_NONE. Cost is bounded by the window size even for a jump of 2^40.
 */
static inline enum bx_drop_reason
bx_replay_commit(struct bx_replay *w, uint64_t counter)
{
	enum bx_drop_reason r = bx_replay_check(w, counter);

	if (r != BX_DROP_NONE)
		return r;
	if (counter >= w->next)
		bx_replay_advance_(w, counter);
	w->map[bx_replay_slot_(w, counter)] |= bx_replay_bit_(counter);
	return BX_DROP_NONE;
}

/*
 * The highest counter committed so far, for rekey decisions and
 * diagnostics. Returns false, @top untouched, while nothing was committed.
 */
bool bx_replay_top(const struct bx_replay *w, uint64_t *top);

/*
 * True once counter limit - 1 has been committed: every later counter is
 * refused, so the session cannot receive any more and must rekey. Soft
 * thresholds (rekey before it comes to this) are the session layer's.
 */
bool bx_replay_must_rekey(const struct bx_replay *w);

/* The window size in counters after rounding (what bx_replay_init made of @bits). */
uint32_t bx_replay_bits(const struct bx_replay *w);

#endif /* BX_REPLAY_H */
