/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Multi-path bonding (issue 8): the per-peer path scheduler. Plain C, no
 * EAL, no clock of its own (the caller passes now_ns, a CLOCK_MONOTONIC-
 * like time in nanoseconds), no allocation.
 *
 * One struct bx_bond per peer with two or more paths, owned by the worker
 * lcore that owns the peer. That worker is the only writer:
 *
 *     every tick (probe interval / 10 or so; any period works):
 *             obs[k] = what it measured on path k   (struct bx_bond_obs)
 *             bx_bond_update(b, obs, now);
 *     carrier lost on path k (link poll):  bx_bond_link_down(b, k, now);
 *     per packet, by the lane's mode:
 *             STRIPE     k = bx_bond_stripe_pick(b, len)
 *             PREFERRED  k = bx_bond_preferred(b), plus a copy on
 *                        bx_bond_hedge(b) when that is not -1
 *             REDUNDANT  n = bx_bond_redundant(b, paths)
 *     reorder buffer of striped lanes:  bx_bond_reorder_timeout_ns(b)
 *
 * Any other lcore (telemetry) calls bx_bond_read() at any time, without
 * locks: every published value is a relaxed 64-bit atomic store, so none is
 * torn; values may come from neighbouring ticks.
 *
 * ---- Path state ----------------------------------------------------------
 *
 *   UP --misses >= 1--> SUSPECT --misses >= down_after--> DOWN
 *   SUSPECT --misses == 0--> UP
 *   any --link down--> DOWN                         (at once)
 *   DOWN --streak >= up_after, link up, an echo since it went down--> UP
 *
 * A path starts UP with its link assumed up, so traffic flows before the
 * first probe returns. Live = UP or SUSPECT, with link up. Not dead = link
 * up and (misses < down_after or an echo within dead_ns): REDUNDANT sends
 * on every path that is not dead, because random 20-30 % loss makes the
 * miss count reach down_after now and then, and copies are what carry a
 * lossy path's traffic through.
 *
 * ---- Capacity and weight -------------------------------------------------
 *
 * r, our own send rate on the path, is an EWMA (time constant
 * BX_BOND_RATE_TAU_NS) of the cumulative tx_bytes over now deltas. The
 * queue is q = srtt - base, with Qhi = max(5 ms, 2 jitter + 2 ms); base is
 * rttmin, or, once a BX_BOND_BASE_WINDOW_NS window has passed, the
 * smallest srtt of the last one or two windows if that is higher (a delay
 * that rose for good stops reading as a queue within two windows). At
 * most once per BX_BOND_CAP_PERIOD_NS (so the tick does not change the
 * speed), on a live path with RTT:
 *   q > Qhi, q grew by more than BX_BOND_QUEUE_GROWTH_NS since the
 *   last step and r >= floor:   C = max(floor, min(C, 0.85 r))
 *   r > 0.7 C and q < Qhi / 2:  C += max(C / 8, 1 Mbit/s)
 * (a queue that stands still is a delay that rose, one while we send next
 * to nothing someone else's: C stays).
 * cap_bps (the configured rate) caps C whenever set, and is C's starting
 * value; otherwise C starts at initial_bps. The weight is goodput:
 * w = C (1 - loss).
 *
 * ---- STRIPE --------------------------------------------------------------
 *
 * Smooth weighted round robin in bytes over the stripe set S. A member
 * leaves S when it is not live, or loss >= exclude with at least
 * BX_BOND_LOSS_MIN_KNOWN fates known, or its srtt exceeds the smallest srtt
 * of the live paths by more than reorder_timeout_max (the reorder buffer
 * could not hide it), or, once it has been in S for readmit_ns, C is below
 * BX_BOND_STRIPE_MIN_SHARE_PCT of the live paths' total C. It comes back
 * once it has been live, below readmit loss and within the srtt spread for
 * readmit_ns without a break. The capacity rule does not keep a path out:
 * a path outside S is not sent on, so its C could never grow back; it gets
 * readmit_ns in S to show its capacity instead. The cheapest live path
 * (PREFERRED's cost) is always in S, so there is somewhere to send while
 * anything is live.
 *
 * ---- PREFERRED -----------------------------------------------------------
 *
 *   cost = srtt + 2 jitter + 1 ms * loss permille
 *          + 100 ms * max(0, r / w - 0.8)          (capped at 1 s)
 *          + 20 ms if tx_refused grew since the last update
 * A path without RTT costs BX_BOND_COST_NO_RTT_NS + its index: behind every
 * measured path that costs less (an RTT of seconds is no better than
 * none), and by index among the unmeasured. The current path c
 * gives way to the cheapest UP path b only when
 * cost_b < cost_c - max(2 ms, hysteresis_pct % of cost_c) on
 * BX_BOND_SWITCH_UPDATES consecutive updates and at least hold_ns after
 * the previous switch (the first switch has no previous one). When c is
 * not live, the cheapest live path takes over at once, hold or not; that
 * touches only the preferred choice (not the stripe set, not its round
 * robin). While c is SUSPECT, the hedge is the cheapest other live path.
 *
 * ---- Reorder timeout -----------------------------------------------------
 *
 * Over the members of S that have RTT:
 *   min(reorder_timeout_max, max(2 ms, 2 (max srtt - min srtt) + 4 max jitter))
 * With one member, nothing is reordered by striping: 2 ms (capped). With
 * two or more members but fewer than two with RTT, the skew is unknown:
 * reorder_timeout_max, what the cap is for.
 */
#ifndef BX_BOND_H
#define BX_BOND_H

#include <stdbool.h>
#include <stdint.h>

#include "bx_common.h"

#define BX_BOND_MAX_PATHS 4u

/* Lane modes, in the order of enum bx_config_bond_mode (the caller maps
 * one onto the other and can _Static_assert that). */
enum bx_bond_mode {
	BX_BOND_REDUNDANT = 0,
	BX_BOND_PREFERRED,
	BX_BOND_STRIPE,
};

enum bx_bond_state {
	BX_BOND_UP = 0,
	BX_BOND_SUSPECT,
	BX_BOND_DOWN,
};

#define BX_BOND_MS UINT64_C(1000000) /* ns */
#define BX_BOND_MBPS UINT64_C(1000000) /* bit/s */

/* Defaults of struct bx_bond_conf (the "bonding" config section's). */
#define BX_BOND_DOWN_AFTER_DEFAULT 3u
#define BX_BOND_UP_AFTER_DEFAULT 5u
#define BX_BOND_EXCLUDE_LOSS_PERMILLE_DEFAULT 100u
#define BX_BOND_READMIT_LOSS_PERMILLE_DEFAULT 20u
#define BX_BOND_READMIT_NS_DEFAULT (3000 * BX_BOND_MS)
#define BX_BOND_HYSTERESIS_PCT_DEFAULT 20u
#define BX_BOND_HOLD_NS_DEFAULT (1000 * BX_BOND_MS)
#define BX_BOND_REORDER_TIMEOUT_MAX_NS_DEFAULT (100 * BX_BOND_MS)
/* An echo within the probes' loss window (20 probes at 100 ms). */
#define BX_BOND_DEAD_NS_DEFAULT (2000 * BX_BOND_MS)
#define BX_BOND_INITIAL_BPS_DEFAULT (10 * BX_BOND_MBPS)
#define BX_BOND_FLOOR_BPS_DEFAULT (1 * BX_BOND_MBPS)

/* Limits of struct bx_bond_conf. */
#define BX_BOND_COUNT_MAX 64u  /* down_after, up_after: BX_PROBE_RING */
#define BX_BOND_TIME_MAX_NS (3600000 * BX_BOND_MS) /* one hour */
#define BX_BOND_BPS_MAX (400000 * BX_BOND_MBPS)    /* 400 Gbit/s */
#define BX_BOND_PERMILLE 1000u

/* Fixed parameters of the design (i8-design §3). */
#define BX_BOND_LOSS_MIN_KNOWN 10u         /* fates before loss excludes */
#define BX_BOND_STRIPE_MIN_SHARE_PCT 5u    /* of the live paths' total C */
#define BX_BOND_SWITCH_UPDATES 3u          /* consecutive better updates */
#define BX_BOND_SWITCH_MARGIN_MIN_NS (2 * BX_BOND_MS)
#define BX_BOND_COST_PER_PERMILLE_NS (1 * BX_BOND_MS)
#define BX_BOND_COST_OVERLOAD_NS (100 * BX_BOND_MS) /* per unit of r/w - 0.8 */
#define BX_BOND_COST_OVERLOAD_MAX_NS (1000 * BX_BOND_MS)
#define BX_BOND_COST_REFUSED_NS (20 * BX_BOND_MS)
#define BX_BOND_COST_NO_RTT_NS (10000 * BX_BOND_MS)
#define BX_BOND_RTT_MAX_NS (60000 * BX_BOND_MS) /* inputs clamped here */
#define BX_BOND_RATE_TAU_NS (100 * BX_BOND_MS)
#define BX_BOND_CAP_PERIOD_NS (100 * BX_BOND_MS)
#define BX_BOND_CAP_STEP_MIN_BPS (1 * BX_BOND_MBPS)
#define BX_BOND_QHI_MIN_NS (5 * BX_BOND_MS)
#define BX_BOND_QHI_SLACK_NS (2 * BX_BOND_MS)
#define BX_BOND_REORDER_MIN_NS (2 * BX_BOND_MS)
#define BX_BOND_BASE_WINDOW_NS (10000 * BX_BOND_MS) /* base RTT window */
#define BX_BOND_QUEUE_GROWTH_NS (1 * BX_BOND_MS) /* per capacity step */
/* Striped lengths are clamped here: it bounds the round robin's counters. */
#define BX_BOND_STRIPE_LEN_MAX 65535u

struct bx_bond_conf {
	uint32_t down_after;            /* misses: DOWN; 1..BX_BOND_COUNT_MAX */
	uint32_t up_after;              /* echoes in a row: UP; 1..BX_BOND_COUNT_MAX */
	uint32_t exclude_loss_permille; /* out of S at or above; 1..1000 */
	uint32_t readmit_loss_permille; /* back below this; < exclude (0: never by loss) */
	uint64_t readmit_ns;            /* ... for this long; <= BX_BOND_TIME_MAX_NS */
	uint32_t hysteresis_pct;        /* 0..100 */
	uint64_t hold_ns;               /* between PREFERRED switches */
	uint64_t reorder_timeout_max_ns;/* 1..BX_BOND_TIME_MAX_NS */
	uint64_t dead_ns;               /* REDUNDANT keeps a path with an echo this recent */
	uint64_t initial_bps;           /* C without a cap; floor..BX_BOND_BPS_MAX */
	uint64_t floor_bps;             /* C never shrinks below; 1..BX_BOND_BPS_MAX */
};

/* One path, one tick, as the owner measured it. */
struct bx_bond_obs {
	bool link_up;            /* carrier up and next hop known */
	bool has_rtt;            /* the RTT fields are meaningful */
	uint64_t srtt_ns, rttmin_ns, jitter_ns;
	uint32_t loss_permille;  /* from bx_probe_read() */
	uint32_t known;          /* fates that loss is over */
	uint32_t misses, streak; /* bx_probe_misses(), bx_probe_streak() */
	uint64_t last_echo_ns;   /* on now_ns's clock; 0: never */
	uint64_t tx_bytes;       /* cumulative bytes sent on the path (all lanes) */
	uint64_t tx_refused;     /* cumulative packets its TX queue refused */
	uint64_t cap_bps;        /* configured rate cap, 0: none */
};

struct bx_bond_path_stats {
	enum bx_bond_state state;
	uint64_t cap_bps;    /* C, the capacity estimate */
	uint64_t weight_bps; /* w = C (1 - loss) */
	uint64_t rate_bps;   /* r, our send rate */
	uint64_t cost_us;    /* PREFERRED's cost */
	bool in_stripe;      /* in S */
	bool in_redundant;   /* not dead */
};

struct bx_bond_stats {
	unsigned n_paths;
	int preferred, hedge; /* -1: none */
	uint64_t reorder_timeout_ns;
	uint64_t preferred_switches; /* changes of the preferred path */
	uint64_t stripe_excluded;    /* exits from S */
	uint64_t path_down;          /* transitions to DOWN */
	uint64_t path_up;            /* DOWN to UP */
	struct bx_bond_path_stats path[BX_BOND_MAX_PATHS];
};

/* Writer-side state of one path (private). */
struct bx_bond_path {
	uint8_t state;
	bool link_up, has_rtt, in_stripe, live, not_dead;
	bool seen;          /* an update has brought its observation */
	bool rate_valid;    /* r has had a sample */
	bool refused_grew;
	uint32_t loss_permille, known;
	uint64_t srtt_ns, jitter_ns;
	uint64_t down_ns;   /* when it went DOWN */
	uint64_t c_bps, w_bps, r_bps, cost_ns;
	uint64_t last_bytes, last_refused, last_ns;
	uint64_t cap_next_ns;
	uint64_t base_cur_ns, base_prev_ns, base_end_ns; /* base RTT windows */
	uint64_t q_prev_ns;  /* the queue at the last capacity step */
	uint64_t good_since_ns; /* readmission clock; valid while good */
	bool good;
	uint64_t joined_ns;  /* when it (re)entered S */
	uint64_t swrr_w;     /* weight in kbit/s, >= 1, while in S */
	int64_t swrr_cur;    /* the round robin's current value */
};

/*
 * One peer's scheduler. A complete type so the owner can keep arrays of
 * them; the fields are private: use the functions. The published values
 * have a cache line of their own, as in struct bx_probe_path.
 */
struct bx_bond {
	struct {
		uint64_t state[BX_BOND_MAX_PATHS], c_bps[BX_BOND_MAX_PATHS];
		uint64_t w_bps[BX_BOND_MAX_PATHS], r_bps[BX_BOND_MAX_PATHS];
		uint64_t cost_us[BX_BOND_MAX_PATHS];
		uint64_t in_stripe[BX_BOND_MAX_PATHS], in_redundant[BX_BOND_MAX_PATHS];
		uint64_t n_paths, preferred, hedge, reorder_ns;
		uint64_t preferred_switches, stripe_excluded, path_down, path_up;
	} pub BX_CACHE_ALIGNED;

	struct bx_bond_conf conf;
	unsigned n_paths;
	struct bx_bond_path path[BX_BOND_MAX_PATHS];
	uint64_t swrr_total;   /* sum of swrr_w over S */
	uint8_t stripe[BX_BOND_MAX_PATHS], n_stripe;
	uint8_t redundant[BX_BOND_MAX_PATHS], n_redundant;
	int preferred, hedge;
	uint32_t better_updates;
	bool switched;         /* last_switch_ns is meaningful */
	uint64_t last_switch_ns;
	uint64_t reorder_ns;
	uint64_t preferred_switches, stripe_excluded, path_down, path_up;
} BX_CACHE_ALIGNED;

/* Fills @c with the defaults above (the "bonding" config section's). */
void bx_bond_conf_defaults(struct bx_bond_conf *c);

/*
 * Makes @b a scheduler over @n_paths paths (1..BX_BOND_MAX_PATHS) with
 * @c, at @now_ns: every path UP, link assumed up, C at initial_bps, all in
 * S, path 0 preferred. Returns 0, or -EINVAL (@b untouched) for a path
 * count or a conf field out of range.
 */
int bx_bond_init(struct bx_bond *b, const struct bx_bond_conf *c, unsigned n_paths,
		 uint64_t now_ns);

/*
 * Forgets path @k's measurements, as for a new path (its slot now names
 * another endpoint): UP, link assumed up, C at initial_bps (the cap applies
 * at the next update), back in S, counters kept. The caller restarts its
 * probes too, or old misses would take it straight down again.
 */
void bx_bond_reset_path(struct bx_bond *b, unsigned k, uint64_t now_ns);

/*
 * Takes one tick's observations, @obs[0..n_paths-1], at @now_ns, and
 * re-decides everything: states, rates and capacities, costs, the
 * preferred path and hedge, S and the redundant set, the reorder timeout;
 * then publishes. Time-based rules run on now_ns differences, so the tick
 * period may be anything; only "consecutive updates" counts updates. A
 * path's first update only takes its tx_bytes baseline (r samples from the
 * second on), and a clock or a tx_bytes that went back starts the
 * baseline over: no bogus sample, no capacity step.
 */
void bx_bond_update(struct bx_bond *b, const struct bx_bond_obs obs[], uint64_t now_ns);

/*
 * Carrier lost on path @k: DOWN at once, out of S and of the redundant
 * set, and a new preferred path if it was the current one, without waiting
 * for the next tick. The next update's obs[k].link_up says when it is back.
 */
void bx_bond_link_down(struct bx_bond *b, unsigned k, uint64_t now_ns);

/*
 * The path for the next striped packet of @len bytes (clamped to
 * 1..BX_BOND_STRIPE_LEN_MAX), or -1 when S is empty (nothing live): the
 * caller drops it as no path. Over any run of packets each member gets
 * bytes in proportion to its weight, off by less than a few packets.
 *
 * The round robin's 64-bit counters cannot overflow: a pick adds w_k L to
 * every member and takes W L (W the sum of the weights) from the one
 * picked, so the counters' sum stays 0 (they are zeroed whenever S
 * changes); the one picked was the largest, so at least W L / n, and ends
 * above -W L; the others only grow, and with the sum at 0 none exceeds
 * n W L. Weights are in kbit/s (<= 4e8 each, 4 paths) and L <= 65535, so
 * |counter| <= 4 * 1.6e9 * 65535 ~ 4.2e14, whatever the weights do
 * between picks, against INT64_MAX ~ 9.2e18.
 */
int bx_bond_stripe_pick(struct bx_bond *b, uint32_t len);

/* The path PREFERRED lanes send on, or -1 when none is live. */
int bx_bond_preferred(const struct bx_bond *b);

/* A second path that PREFERRED lanes copy to while the preferred path is
 * SUSPECT (a cut is half detected), else -1. */
int bx_bond_hedge(const struct bx_bond *b);

/* Writes the paths that are not dead to @out, cheapest first, and returns
 * how many (0: none; REDUNDANT lanes then drop as no path). */
unsigned bx_bond_redundant(const struct bx_bond *b, uint8_t out[BX_BOND_MAX_PATHS]);

/* How long a striped lane's reorder buffer waits for a gap (see above). */
uint64_t bx_bond_reorder_timeout_ns(const struct bx_bond *b);

/* Copies the published state into @out. Any thread, any time, no lock. */
void bx_bond_read(const struct bx_bond *b, struct bx_bond_stats *out);

#endif /* BX_BOND_H */
