/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-flow bounded reorder buffer (issue 8, design §4): restores the order
 * of one peer's striped lane from the lane sequence (BX_WIRE_F_SEQ) that
 * striping over paths of different RTTs broke, and gives up on a gap after
 * a timeout so that one lost packet never stalls a flow for longer than
 * that. Plain C, no EAL, no clock of its own (the caller passes now_ns),
 * no allocation after init. Elements are opaque pointers (mbufs), never
 * dereferenced. One buffer belongs to one lcore: no locking.
 *
 * Not rte_reorder: DPDK 22.11 has no way to skip a gap on a timeout (a gap
 * passes only when the window overflows, so one loss stalls a slow flow
 * indefinitely), wants a contiguous seqn dynfield and a named memzone per
 * buffer.
 *
 * Model. "next" is the lowest sequence not yet delivered; the buffer holds
 * elements whose sequence lies in the window (next, next + slots). Serial
 * arithmetic on 32 bits (RFC 1982): d = (int32_t)(seq - next) says where
 * seq lies, so the sequence wraps through 2^32 freely. What push does:
 *
 *   unsynced (first push)  deliver, next = seq + 1              DELIVER
 *   d == 0                 deliver, with the held run behind it DELIVER
 *   0 < d < slots          hold                                 HELD
 *   slots <= d <= 2·slots  release (FORCED) in order until seq
 *                          fits at the top of the window, then
 *                          deliver or hold it                   FORCED
 *   -2·slots <= d < 0      deliver at once, out of order: the
 *                          replay window already vouched that
 *                          it is no duplicate                   LATE
 *   |d| > 2·slots          the sequence restarted (a new sender)
 *                          or everything between was lost:
 *                          release all held in order, then seq,
 *                          next = seq + 1                       RESYNC
 *   seq already held       refused; the caller frees it         DUPLICATE
 *
 * The lane sequence never runs ahead of the session counter, so a packet
 * the replay window accepts is at most replay-window sequences behind:
 * with a replay window of at most 2·slots (1024 slots, 2048 bits by
 * default) a real straggler is always LATE, never taken for a restart.
 *
 * Timeout. While anything is held, "next" is a gap (its element is
 * missing). That gap has been visible since the oldest held element
 * arrived: every held element lies beyond it. pop() gives the gap up once
 * now_ns >= that arrival + timeout, skips to the lowest held sequence,
 * releases the run from there, and repeats while the new head gap is also
 * that old. So losses that were visible at the same time expire together:
 * a burst of losses, or two losses a few packets apart, cost one timeout,
 * not one each; one lost packet costs at most one timeout after the packet
 * behind it arrived.
 *
 * Conservation: every element pushed comes back exactly once, in the out[]
 * of the push itself or of a later push, pop or flush, except DUPLICATE
 * (handed straight back to the caller). The output is in sequence order,
 * except LATE elements (delivered on arrival) and what a RESYNC restarts.
 *
 * Out arrays: one call never releases more than @slots elements (at most
 * slots - 1 are held, plus the one pushed), so every out[] the caller
 * passes must hold at least the @slots given to init (asserted). One
 * array of BX_REORDER_SLOTS_MAX or of the configured size per lcore does.
 *
 * Memory: bx_reorder_size(slots) bytes, 8-byte aligned (malloc,
 * rte_malloc), about 32 bytes per slot.
 */
#ifndef BX_REORDER_H
#define BX_REORDER_H

#include <stdint.h>
#include <stddef.h>

#define BX_REORDER_SLOTS_MIN 16u
#define BX_REORDER_SLOTS_MAX 65536u
#define BX_REORDER_DEFAULT_SLOTS 1024u
/* A jump of more than this many windows, either way, restarts the flow. */
#define BX_REORDER_RESYNC_WINDOWS 2u
/* next_deadline() when nothing is held: no deadline. */
#define BX_REORDER_NO_DEADLINE UINT64_MAX

struct bx_reorder;

/* What push did with the element it was given; out[] is always what the
 * caller delivers, in order, whatever the verdict. */
enum bx_reorder_verdict {
	BX_REORDER_DELIVER,   /* it was next: out[0], then the run it freed */
	BX_REORDER_HELD,      /* stored until the gap before it fills or expires */
	BX_REORDER_FORCED,    /* the window overflowed: the oldest went to out[],
			       * then the element was delivered or held */
	BX_REORDER_LATE,      /* behind next: delivered at once, out[0] */
	BX_REORDER_RESYNC,    /* a jump: all held went to out[], then it */
	BX_REORDER_DUPLICATE, /* already held: not taken, out[] empty */
};

/*
 * Counters since init. Every pushed element is counted once by its fate at
 * push (in_order, held, late or duplicates), and every held one once more
 * when it leaves (reordered, forced or flushed), so
 *   held == reordered + forced + flushed + bx_reorder_count().
 */
struct bx_reorder_stats {
	uint64_t in_order;   /* delivered at push: it was next, or (re)started a flow */
	uint64_t held;       /* stored at push */
	uint64_t late;       /* behind next: delivered out of order */
	uint64_t duplicates; /* refused: that sequence was already held */
	uint64_t reordered;  /* held, then released in order by a fill or a timeout */
	uint64_t forced;     /* held, then released because the window overflowed */
	uint64_t flushed;    /* held, then released by flush() or a resync */
	uint64_t timeouts;   /* gaps given up after the timeout */
	uint64_t skipped;    /* sequence numbers those gaps and overflows gave up */
	uint64_t resyncs;    /* restarts on a jump of more than 2 windows */
};

/*
 * Bytes a buffer of @slots needs, so the caller can place it where it
 * likes (hugepage memory of the owning lcore). @slots must be a power of
 * two in [BX_REORDER_SLOTS_MIN, BX_REORDER_SLOTS_MAX]; 0 otherwise.
 */
size_t bx_reorder_size(uint32_t slots);

/*
 * Makes @r, of at least bx_reorder_size(@slots) bytes, an empty, unsynced
 * buffer of @slots that gives a gap up after @timeout_ns. Calling it again
 * drops what is held without returning it: flush first. Returns 0, or
 * -EINVAL for bad @slots (@r untouched).
 */
int bx_reorder_init(struct bx_reorder *r, uint32_t slots, uint64_t timeout_ns);

/*
 * Convenience for tests and the control lcore: a buffer in malloc memory.
 * Returns NULL with errno EINVAL (bad @slots) or ENOMEM.
 */
struct bx_reorder *bx_reorder_create(uint32_t slots, uint64_t timeout_ns);

/* Frees a buffer made by bx_reorder_create(); NULL is fine. What is still
 * held is not freed: flush first. */
void bx_reorder_free(struct bx_reorder *r);

/*
 * Hands @elem, with lane sequence @seq, arriving at @now_ns, to
 * the buffer. Writes to @out (room for @max >= slots pointers) what the
 * caller must deliver now, in order, and its number to @n_out; returns
 * what happened to @elem (see the table above). On BX_REORDER_DUPLICATE
 * the buffer did not take @elem: the caller frees it. Push never gives a
 * gap up on time, so it needs no clock but the arrival stamp: call pop()
 * after a burst of pushes and when next_deadline() has passed. @now_ns
 * must not go backwards (if it does, a gap only waits longer).
 */
enum bx_reorder_verdict bx_reorder_push(struct bx_reorder *r, uint32_t seq,
					void *elem, uint64_t now_ns,
					void *out[], unsigned int max,
					unsigned int *n_out);

/*
 * Gives up every head gap whose timeout has passed at @now_ns and writes
 * to @out (room for @max >= slots pointers), in order, what that frees.
 * Returns how many; 0 when nothing is due. Cheap when nothing is held;
 * next_deadline() tells when it is worth calling.
 */
unsigned int bx_reorder_pop(struct bx_reorder *r, uint64_t now_ns,
			    void *out[], unsigned int max);

/*
 * Releases everything held, in sequence order, to @out (room for
 * @max >= slots pointers) and returns how many: for a path set change,
 * a peer removal or teardown. The buffer is then empty and unsynced: the
 * next push starts a new flow.
 */
unsigned int bx_reorder_flush(struct bx_reorder *r, void *out[],
			      unsigned int max);

/* Changes the timeout (it follows the paths' RTT spread); a gap already
 * waiting is judged by the new value from the next pop() on. */
void bx_reorder_set_timeout(struct bx_reorder *r, uint64_t timeout_ns);

/*
 * When pop() will next have something to release: the oldest held
 * element's arrival + timeout (saturating), or BX_REORDER_NO_DEADLINE when
 * nothing is held, so a scan over many buffers is one comparison each.
 */
uint64_t bx_reorder_next_deadline(const struct bx_reorder *r);

/* Elements held now. */
uint32_t bx_reorder_count(const struct bx_reorder *r);

/* Copies the counters to @out. */
void bx_reorder_get_stats(const struct bx_reorder *r,
			  struct bx_reorder_stats *out);

#endif /* BX_REORDER_H */
