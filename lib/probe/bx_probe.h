/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-path probe bookkeeping (DESIGN §3.5, §4 Safety) and the congestion
 * strategy. Plain C over byte buffers: no EAL, no clock of its own (the
 * caller passes now_ns, a CLOCK_MONOTONIC-like time), no allocation.
 *
 * Each path of a peer has its own probe sequence, so RTT, jitter and loss
 * are measured per path and never from the data counter. The worker lcore
 * that owns the peer, per path and per poll round:
 *
 *     bx_probe_tick(p, now);                      probes past timeout: lost
 *     if (bx_probe_due(p, now))
 *             seq = bx_probe_next(p, now, body);  seal body, type PROBE
 *     ... an echo arrives (type PROBE, flag ECHO), AEAD verified:
 *     why = bx_probe_on_echo(p, plaintext, len, now);
 *
 * The peer echoes a probe's body unchanged (after bx_probe_validate()). The
 * control lcore reads the results at any time with bx_probe_read().
 *
 * ---- Probe body (the AEAD plaintext of a probe and of its echo) --------
 *
 *   offset  size  field     (big-endian)
 *        0     4  seq       the path's probe sequence number: conf.first_seq
 *                           (default 1) for the first probe, +1 per probe,
 *                           wrapping modulo 2^32
 *        4     4  reserved  0; anything else is BX_DROP_PROBE_MALFORMED
 *        8     8  sent_ns   the sender's send time; opaque to the echoer
 *
 * The sender accepts an echo only if its seq is one it sent among the last
 * BX_PROBE_RING probes, it was neither echoed nor declared lost yet, and
 * sent_ns is exactly the time it recorded for that seq: the AEAD keeps
 * outsiders out, this keeps an old or confused echo from passing for a new
 * one (an echo of seq s cannot carry a made-up time).
 *
 * ---- What is measured --------------------------------------------------
 *
 * A probe's fate becomes known when its echo is accepted (a sample) or
 * when it has gone more than timeout_ms without one (lost). An echo whose
 * RTT is exactly timeout_ms is still a sample; one nanosecond more and the
 * probe is lost and its echo refused as BX_DROP_PROBE_UNKNOWN.
 *   - loss_permille: lost share of the last loss_window fates, in the order
 *     they became known, rounded down; while fewer are known, of those
 *     known (known = 0: no data, loss 0).
 *   - rtt_last_us: the latest sample; rtt_min_us: the smallest;
 *     rtt_ewma_us: SRTT += (R - SRTT) / 2^rtt_shift (RFC 6298, alpha 1/8
 *     by default), the first sample sets it; jitter_us: J += (|D| - J) / 16
 *     (RFC 3550 §6.4.1) where D is the difference of consecutive samples.
 *   All kept in nanoseconds, reported in whole microseconds (rounded down).
 *
 * ---- Concurrency -------------------------------------------------------
 *
 * One writer: the worker that owns the path calls every function except
 * bx_probe_read(). Any number of readers (the control lcore) call
 * bx_probe_read() concurrently, without locks: every published value is a
 * 64-bit atomic store, so no value is ever torn. Values may come from
 * slightly different moments, except that what a reader gets always has
 * echoed + lost <= sent, rtt_min_us <= rtt_last_us, and the RTT fields
 * valid when has_rtt is true (stores are release, loads acquire, in an
 * order that makes these hold; both are plain moves on x86).
 */
#ifndef BX_PROBE_H
#define BX_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bx_common.h"
#include "bx_drop.h"

/* Probe body layout. */
#define BX_PROBE_BODY_LEN 16u
#define BX_PROBE_OFF_SEQ 0u
#define BX_PROBE_OFF_RESERVED 4u
#define BX_PROBE_OFF_SENT_NS 8u

/* Defaults and limits of struct bx_probe_conf. */
#define BX_PROBE_INTERVAL_MS_DEFAULT 100u
#define BX_PROBE_INTERVAL_MS_MAX 60000u
#define BX_PROBE_WINDOW_DEFAULT 20u
#define BX_PROBE_WINDOW_MAX 64u         /* fates kept in one 64-bit history */
#define BX_PROBE_TIMEOUT_MS_DEFAULT 1000u
#define BX_PROBE_TIMEOUT_MS_MAX 60000u
#define BX_PROBE_RTT_SHIFT_DEFAULT 3u   /* alpha = 1/8, RFC 6298 */
#define BX_PROBE_RTT_SHIFT_MAX 8u
#define BX_PROBE_FIRST_SEQ_DEFAULT 1u
/* RFC 3550's jitter gain, 1/16: fixed, so jitter means the same everywhere. */
#define BX_PROBE_JITTER_SHIFT 4u
/*
 * Probes remembered for matching echoes (a power of two). A path must have
 * fewer than this many in flight: timeout_ms / interval_ms < BX_PROBE_RING.
 * A sender that still outruns it (sends without asking bx_probe_due())
 * makes the oldest unanswered probe lost when its slot is reused.
 */
#define BX_PROBE_RING 64u

_Static_assert((BX_PROBE_RING & (BX_PROBE_RING - 1)) == 0,
	       "the probe ring is indexed with a mask");
_Static_assert(BX_PROBE_WINDOW_MAX <= 64, "the fate history is one uint64_t");
_Static_assert(__atomic_always_lock_free(sizeof(uint64_t), 0),
	       "published stats need lock-free 64-bit atomics");

struct bx_probe_conf {
	uint32_t interval_ms; /* between probes; 1..BX_PROBE_INTERVAL_MS_MAX */
	uint32_t loss_window; /* fates loss is computed over; 1..BX_PROBE_WINDOW_MAX */
	uint32_t timeout_ms;  /* unanswered this long: lost; 1..BX_PROBE_TIMEOUT_MS_MAX */
	uint32_t rtt_shift;   /* EWMA gain 1/2^rtt_shift; 1..BX_PROBE_RTT_SHIFT_MAX */
	uint32_t first_seq;   /* seq of the first probe (any value) */
};

/* A snapshot of a path's measurements, as bx_probe_read() gives it. */
struct bx_probe_stats {
	uint64_t sent;          /* probes sent */
	uint64_t echoed;        /* echoes accepted (RTT samples) */
	uint64_t lost;          /* probes declared lost */
	uint64_t rtt_last_us;   /* the RTT fields are 0 until has_rtt */
	uint64_t rtt_ewma_us;
	uint64_t rtt_min_us;
	uint64_t jitter_us;
	uint64_t last_echo_ns;  /* now_ns of the last accepted echo; 0: none */
	uint32_t loss_permille; /* 0..1000 over the last `known` fates */
	uint32_t known;         /* fates loss is computed over; 0: no data */
	bool has_rtt;           /* at least one sample */
};

/* Writer-side record of one probe in flight (private). */
struct bx_probe_slot {
	uint64_t sent_ns;
	uint8_t state;
};

/*
 * One path's probe state. A complete type so the owning worker can keep
 * its paths in a plain per-lcore array (or hugepage memory) it sizes
 * itself; the fields are private: use the functions. The published values
 * have a cache line of their own so the control lcore's reads do not keep
 * taking the line the worker writes its private state in.
 */
struct bx_probe_path {
	struct {
		uint64_t sent, echoed, lost;
		uint64_t rtt_last_us, rtt_ewma_us, rtt_min_us, jitter_us;
		uint64_t last_echo_ns, loss_permille, known, has_rtt;
	} pub BX_CACHE_ALIGNED;

	uint64_t interval_ns, timeout_ns;
	uint32_t window, rtt_shift, first_seq;
	uint64_t n_sent;       /* probes sent; probe k (from 0) has seq first_seq + k */
	uint64_t oldest;       /* lowest k that may still be in flight */
	uint64_t last_send_ns;
	uint64_t echoed, lost;
	uint64_t fates;        /* bit i: the (i+1)-th latest fate was a loss */
	uint32_t known;        /* fates in the history, at most window */
	bool has_rtt;
	uint64_t rtt_last_ns, rtt_min_ns;
	uint64_t srtt_scaled;   /* SRTT << rtt_shift, ns */
	uint64_t jitter_scaled; /* J << BX_PROBE_JITTER_SHIFT, ns */
	struct bx_probe_slot ring[BX_PROBE_RING];
} BX_CACHE_ALIGNED;

/* Fills @conf with the defaults (100 ms, 20 probes, 1 s, 1/8, seq 1). */
void bx_probe_conf_defaults(struct bx_probe_conf *conf);

/*
 * Makes @p a path that has sent nothing, with @conf (NULL: the defaults).
 * Calling it again on a live path starts it over (e.g. when the path comes
 * back); a read that overlaps that may mix old and new values (none torn).
 * Returns 0, or -EINVAL
 * (@p untouched) when a field is out of its range or
 * timeout_ms / interval_ms >= BX_PROBE_RING (more probes in flight than it
 * can match echoes for).
 */
int bx_probe_init(struct bx_probe_path *p, const struct bx_probe_conf *conf);

/*
 * Should a probe go out now? True before the first probe and once
 * interval_ms has passed since the last one (so probes never bunch up
 * after a stall). A clock that went back is never due.
 */
bool bx_probe_due(const struct bx_probe_path *p, uint64_t now_ns);

/*
 * Records a probe sent at @now_ns and writes its body to @body
 * (BX_PROBE_BODY_LEN bytes). Returns its seq. Never fails: the caller sends
 * the body or, if it cannot, the probe simply goes unanswered and is lost,
 * which is what happened to it.
 */
uint32_t bx_probe_next(struct bx_probe_path *p, uint64_t now_ns, uint8_t *body);

/*
 * Declares lost every probe in flight unanswered for more than timeout_ms
 * at @now_ns, so loss rises even when no echo ever comes back (what a
 * jammed link looks like). Call it before bx_probe_due() each round.
 * Returns how many probes it declared lost.
 */
uint32_t bx_probe_tick(struct bx_probe_path *p, uint64_t now_ns);

/*
 * Takes the echo @body (@len bytes of AEAD-verified plaintext) received at
 * @now_ns. Returns BX_DROP_NONE after taking its RTT sample, or
 *   BX_DROP_PROBE_MALFORMED: not BX_PROBE_BODY_LEN bytes, or reserved != 0;
 *   BX_DROP_PROBE_UNKNOWN: seq never sent or older than the last
 *     BX_PROBE_RING probes, already echoed, already lost, sent_ns not the
 *     one recorded, @now_ns before the send time, or late (RTT over
 *     timeout_ms: the probe is then declared lost right away).
 * Apart from a late echo's loss, a refused echo changes nothing.
 */
enum bx_drop_reason bx_probe_on_echo(struct bx_probe_path *p, const void *body,
				     size_t len, uint64_t now_ns);

/*
 * The echoer's check before it sends @body (@len bytes of a received probe's
 * plaintext) back unchanged: BX_DROP_NONE, or BX_DROP_PROBE_MALFORMED for a
 * body that the sender's bx_probe_on_echo() would refuse as malformed
 * anyway (no point echoing it).
 */
enum bx_drop_reason bx_probe_validate(const void *body, size_t len);

/*
 * ---- Failover inputs (writer side) ---------------------------------------
 *
 * The loss timeout (timeout_ms, 1 s by default) is far too slow to notice a
 * cut path, and loss over a window of 20 is too slow to notice it healed.
 * These two judge the newest probes against a much shorter grace instead:
 * the owner passes grace = srtt + max(4 * jitter, 10 ms), so an echo that
 * is merely late by the path's own standards does not count, while a cut
 * shows as misses one grace after the first unanswered probe.
 *
 * A probe is judged a miss once it was declared lost or has been in flight
 * for more than @grace_ns at @now_ns; a probe in flight for no more than
 * @grace_ns (or stamped after @now_ns) is not judged yet and is skipped:
 * with send times in order those are the newest ones. Only the last
 * BX_PROBE_RING probes are remembered, so both results are at most
 * BX_PROBE_RING. A miss whose echo still comes back before the timeout
 * stops being a miss (the path was slow, not cut). Owner only: they read
 * the writer's private ring, not the published values.
 */

/* Consecutive misses counting back from the newest judged probe, up to
 * the first echoed one. 0 when the newest judged probe was echoed. */
uint32_t bx_probe_misses(const struct bx_probe_path *p, uint64_t now_ns,
			 uint64_t grace_ns);

/* Consecutive echoed probes counting back from the newest judged probe, up
 * to the first miss. 0 when the newest judged probe is a miss. */
uint32_t bx_probe_streak(const struct bx_probe_path *p, uint64_t now_ns,
			 uint64_t grace_ns);

/*
 * Copies the path's measurements into @out. Safe from any thread while the
 * owner writes, without locks (see Concurrency above).
 */
void bx_probe_read(const struct bx_probe_path *p, struct bx_probe_stats *out);

/*
 * ---- Congestion strategy -------------------------------------------------
 *
 * Decides whether a path is congested from its RTT samples (the bulk lane's
 * burst shrinks while it is). A strategy is a table of operations over a
 * small state the caller owns; the owner of the state feeds it every RTT
 * sample (each accepted echo's rtt_last_us) and asks it when it sizes a
 * burst. Not thread-safe: one owner per struct bx_congestion.
 */
/* RTT EWMA above this (strictly) is congestion (DESIGN §4). */
#define BX_CONGESTION_RTT_US 50000u
/* The EWMA strategy's gain, 1/8 as for the path's SRTT. */
#define BX_CONGESTION_EWMA_SHIFT 3u

struct bx_congestion;

struct bx_congestion_ops {
	const char *name; /* what a config names it by */
	void (*on_rtt)(struct bx_congestion *c, uint64_t rtt_us);
	bool (*is_congested)(const struct bx_congestion *c);
};

struct bx_congestion {
	const struct bx_congestion_ops *ops;
	uint64_t state[4]; /* the strategy's own */
};

/* Never congested: for links whose RTT says nothing about load. */
extern const struct bx_congestion_ops bx_congestion_null;
/* Congested while the EWMA (gain 1/8) of the RTT samples exceeds
 * BX_CONGESTION_RTT_US; the first sample sets the EWMA. */
extern const struct bx_congestion_ops bx_congestion_ewma;

/* Makes @c a fresh instance of strategy @ops (must not be NULL). */
void bx_congestion_init(struct bx_congestion *c, const struct bx_congestion_ops *ops);

/* The strategy called @name ("null", "ewma"), or NULL if there is none. */
const struct bx_congestion_ops *bx_congestion_find(const char *name);

/* Feeds one RTT sample (microseconds) to @c's strategy. */
static inline void
bx_congestion_on_rtt(struct bx_congestion *c, uint64_t rtt_us)
{
	c->ops->on_rtt(c, rtt_us);
}

/* True while @c's strategy judges the path congested. */
static inline bool
bx_congestion_is_congested(const struct bx_congestion *c)
{
	return c->ops->is_congested(c);
}

#endif /* BX_PROBE_H */
