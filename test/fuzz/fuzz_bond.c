/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for lib/bond. An input is a configuration, a path
 * count and a script of operations on one scheduler, each with a step of
 * the clock (forward only: now_ns is monotonic):
 *
 *   byte 0      flags: bit 0 raw conf (else every field is mapped into its
 *               range and init must succeed)
 *   byte 1      a conf field to break (b1 % 16, 13..15: none): init again
 *               with it must fail with -EINVAL and leave the bond untouched
 *   mapped:     bytes 2-21, see conf_mapped(); byte 21 is n_paths - 1 (% 4)
 *   raw:        bytes 2-70, see conf_raw(): fields little-endian, n_paths
 *               last; a refused init must leave the struct untouched, and
 *               then the input ends
 *   then operations: code, u16 clock step (big-endian) in units of
 *   unit[(code >> 3) & 3] (1 us, 1 ms, 10 ms, 100 ms), arguments
 *     code & 7 = 0, 6  update: a mask byte, then OBS_LEN bytes (see
 *                      obs_mapped()) for each path in the mask; the others
 *                      repeat their last observation, tx_bytes growing by
 *                      the same step
 *                1, 7  update, every path repeating its observation
 *                2     link_down(k % n_paths): one byte
 *                3     stripe_pick: count - 1, length mode, two bytes (see
 *                      stripe())
 *                4     reset_path(k % n_paths): one byte
 *                5     update with path k's observation raw: k, then
 *                      RAW_OBS_LEN bytes (see obs_raw())
 *
 * Invariants, each from the contract in bx_bond.h, checked after every
 * operation against bx_bond_read() and the query functions:
 *   - the queries agree with what is published; states in range;
 *   - preferred is -1 exactly when no path is live, else a live path; it
 *     changes only to the cheapest live path when the current one is not
 *     live, or, on an update, to the cheapest UP path after
 *     BX_BOND_SWITCH_UPDATES updates that each had a path cheaper by the
 *     margin and at least hold_ns after the previous switch;
 *   - hedge is -1 unless the preferred path is SUSPECT, and then the
 *     cheapest other live path;
 *   - redundant() lists the not-dead paths once each, cheapest first, as
 *     in_redundant; not dead follows the observation's link, misses and
 *     last echo;
 *   - S holds only live paths and, while any is live, a cheapest one; a
 *     path leaves it only for a reason the header gives, must leave when
 *     lossy or too slow (unless the cheapest), and comes back only as the
 *     cheapest or after readmit_ns live, below readmit loss and within
 *     the srtt spread without a break (a link_down is a break);
 *     stripe_pick() returns -1 exactly when S is empty, else a member,
 *     and over a run of picks with S and weights fixed each member gets
 *     bytes in proportion to its weight within a few packets;
 *   - states follow the header's state machine; path_down, path_up,
 *     stripe_excluded and preferred_switches count what happened;
 *   - weight = C (1 - loss) <= C; C within the cap, never below floor (or
 *     a lower cap), moving on an update only as the capacity rule allows;
 *     r does not move on a path's first update or when tx_bytes went back;
 *   - cost_us and the reorder timeout follow the header's formulas.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bx_bond.h"
#include "bx_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAPPED_LEN 22u
#define RAW_LEN 71u
#define OP_HDR_LEN 3u
#define OBS_LEN 13u
#define RAW_OBS_LEN 82u
#define STRIPE_ARGS 4u
#define OPS_MAX 2048u
#define START_NS (UINT64_C(1) << 40)
#define US UINT64_C(1000)
#define MS BX_BOND_MS
#define PCT 100u
#define NONE_BROKEN 13u

enum {
	OP_UPDATE,
	OP_UPDATE_SAME,
	OP_LINK_DOWN,
	OP_STRIPE,
	OP_RESET,
	OP_UPDATE_RAW,
	OP_UPDATE_2,
	OP_UPDATE_SAME_2,
};
#define OP_KIND_MASK 7u
#define OP_UNIT_SHIFT 3u

/* What the harness knows of one path beyond what bx_bond_read() says. */
struct pth {
	struct bx_bond_obs o;  /* the last observation given */
	uint64_t tx_step;      /* its tx_bytes growth per repeated update */
	bool seen;             /* an update since init or reset */
	bool nd_known, nd;     /* "not dead", when the header settles it */
	uint64_t down_first, down_last; /* when it went DOWN: the bounds */
	uint64_t joined;       /* earliest it can have (re)entered S */
	bool good;             /* live, below readmit loss, within the spread */
	uint64_t good_since;   /* ... without a break since */
	uint64_t min_cap;      /* smallest cap since init or reset */
	uint64_t cap_now;      /* the last update's cap since reset, 0: none */
	uint32_t loss;         /* clamped; 0 until seen */
	bool has_rtt;
	uint64_t srtt, jit;    /* clamped, as cost and reorder use them */
};

static struct {
	struct bx_bond b, copy;
	struct bx_bond_conf c;
	unsigned n;
	uint64_t now;
	struct pth p[BX_BOND_MAX_PATHS];
	unsigned better;       /* consecutive updates with a cheaper path */
	bool switched;
	uint64_t last_switch;
	/* stripe_pick() accounting since the round robin was last zeroed */
	bool acct;
	uint64_t bytes[BX_BOND_MAX_PATHS], total, lmax;
} g;

static uint64_t
min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t
max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t
le(const uint8_t *p, unsigned len)
{
	uint64_t v = 0;

	while (len-- > 0)
		v = v << 8 | p[len];
	return v;
}

static struct bx_bond_stats
rd(void)
{
	struct bx_bond_stats s;

	bx_bond_read(&g.b, &s);
	return s;
}

static bool
live(const struct bx_bond_stats *s, unsigned k)
{
	return s->path[k].state != BX_BOND_DOWN;
}

/* The smallest cost_us of the live paths (@up_only: UP ones) other than
 * @skip; UINT64_MAX when there is none. Costs are published in us, so
 * the cheapest path in ns is among those at this value. */
static uint64_t
min_cost(const struct bx_bond_stats *s, int skip, bool up_only)
{
	uint64_t m = UINT64_MAX;
	unsigned k;

	for (k = 0; k < g.n; k++)
		if ((int)k != skip && live(s, k) &&
		    (!up_only || s->path[k].state == BX_BOND_UP))
			m = min64(m, s->path[k].cost_us);
	return m;
}

/* ---- configuration ------------------------------------------------------ */

static void
conf_mapped(const uint8_t *d, struct bx_bond_conf *c, unsigned *n)
{
	c->down_after = 1 + d[0] % BX_BOND_COUNT_MAX;
	c->up_after = 1 + d[1] % BX_BOND_COUNT_MAX;
	c->exclude_loss_permille = 1 + be16(d + 2) % BX_BOND_PERMILLE;
	c->readmit_loss_permille = be16(d + 4) % c->exclude_loss_permille;
	c->readmit_ns = be16(d + 6) * 100 * US;
	c->hysteresis_pct = d[8] % (PCT + 1);
	c->hold_ns = be16(d + 9) * 100 * US;
	c->reorder_timeout_max_ns = 1 + be16(d + 11) * 10 * US;
	c->dead_ns = be16(d + 13) * 100 * US;
	c->floor_bps = 1 + be16(d + 15) * UINT64_C(100000);
	c->initial_bps = c->floor_bps + be16(d + 17) * UINT64_C(100000);
	*n = 1 + d[19] % BX_BOND_MAX_PATHS;
}

static void
conf_raw(const uint8_t *d, struct bx_bond_conf *c, unsigned *n)
{
	c->down_after = (uint32_t)le(d, 4);
	c->up_after = (uint32_t)le(d + 4, 4);
	c->exclude_loss_permille = (uint32_t)le(d + 8, 4);
	c->readmit_loss_permille = (uint32_t)le(d + 12, 4);
	c->readmit_ns = le(d + 16, 8);
	c->hysteresis_pct = (uint32_t)le(d + 24, 4);
	c->hold_ns = le(d + 28, 8);
	c->reorder_timeout_max_ns = le(d + 36, 8);
	c->dead_ns = le(d + 44, 8);
	c->initial_bps = le(d + 52, 8);
	c->floor_bps = le(d + 60, 8);
	*n = d[68];
}

/* The ranges bx_bond.h gives. hold_ns and dead_ns have none: @unsure is
 * set when only they are past BX_BOND_TIME_MAX_NS, where either answer
 * is fine. */
static bool
conf_in_range(const struct bx_bond_conf *c, unsigned n, bool *unsure)
{
	bool ok = n >= 1 && n <= BX_BOND_MAX_PATHS &&
		  c->down_after >= 1 && c->down_after <= BX_BOND_COUNT_MAX &&
		  c->up_after >= 1 && c->up_after <= BX_BOND_COUNT_MAX &&
		  c->exclude_loss_permille >= 1 &&
		  c->exclude_loss_permille <= BX_BOND_PERMILLE &&
		  c->readmit_loss_permille < c->exclude_loss_permille &&
		  c->readmit_ns <= BX_BOND_TIME_MAX_NS &&
		  c->hysteresis_pct <= PCT &&
		  c->reorder_timeout_max_ns >= 1 &&
		  c->reorder_timeout_max_ns <= BX_BOND_TIME_MAX_NS &&
		  c->floor_bps >= 1 && c->floor_bps <= BX_BOND_BPS_MAX &&
		  c->initial_bps >= c->floor_bps && c->initial_bps <= BX_BOND_BPS_MAX;

	*unsure = ok && (c->hold_ns > BX_BOND_TIME_MAX_NS ||
			 c->dead_ns > BX_BOND_TIME_MAX_NS);
	return ok;
}

/* A copy of @c with one field out of its range (@which < NONE_BROKEN). */
static void
break_conf(struct bx_bond_conf *c, unsigned *n, unsigned which)
{
	switch (which) {
	case 0: c->down_after = 0; break;
	case 1: c->up_after = BX_BOND_COUNT_MAX + 1; break;
	case 2: c->exclude_loss_permille = 0; break;
	case 3: c->exclude_loss_permille = BX_BOND_PERMILLE + 1; break;
	case 4: c->readmit_loss_permille = c->exclude_loss_permille; break;
	case 5: c->readmit_ns = BX_BOND_TIME_MAX_NS + 1; break;
	case 6: c->hysteresis_pct = PCT + 1; break;
	case 7: c->reorder_timeout_max_ns = 0; break;
	case 8: c->reorder_timeout_max_ns = BX_BOND_TIME_MAX_NS + 1; break;
	case 9: c->floor_bps = 0; break;
	case 10: c->initial_bps = c->floor_bps - 1; break;
	case 11: *n = 0; break;
	default: *n = BX_BOND_MAX_PATHS + 1; break;
	}
}

/* A refused init leaves @b as it was, byte for byte. */
static void
init_refused(const struct bx_bond_conf *c, unsigned n)
{
	memcpy(&g.copy, &g.b, sizeof(g.b));
	BX_ASSERT(bx_bond_init(&g.b, c, n, g.now) == -EINVAL);
	BX_ASSERT(memcmp(&g.copy, &g.b, sizeof(g.b)) == 0);
}

/* ---- the invariants ------------------------------------------------------ */

static void
check_queries(const struct bx_bond_stats *s)
{
	uint8_t red[BX_BOND_MAX_PATHS];
	bool seen[BX_BOND_MAX_PATHS] = { false };
	unsigned m, i, k, n_red = 0;

	BX_ASSERT(s->n_paths == g.n);
	BX_ASSERT(bx_bond_preferred(&g.b) == s->preferred);
	BX_ASSERT(bx_bond_hedge(&g.b) == s->hedge);
	BX_ASSERT(bx_bond_reorder_timeout_ns(&g.b) == s->reorder_timeout_ns);
	memset(red, 0xff, sizeof(red));
	m = bx_bond_redundant(&g.b, red);
	BX_ASSERT(m <= g.n);
	for (i = 0; i < m; i++) {
		BX_ASSERT(red[i] < g.n && !seen[red[i]]);
		seen[red[i]] = true;
		BX_ASSERT(s->path[red[i]].in_redundant);
		if (i > 0)
			BX_ASSERT(s->path[red[i - 1]].cost_us <= s->path[red[i]].cost_us);
	}
	for (k = 0; k < g.n; k++)
		n_red += s->path[k].in_redundant;
	BX_ASSERT(n_red == m);
}

static void
check_preferred_hedge(const struct bx_bond_stats *s)
{
	bool any_live = min_cost(s, -1, false) != UINT64_MAX;
	int c = s->preferred, h = s->hedge;

	BX_ASSERT(c >= -1 && c < (int)g.n);
	BX_ASSERT((c == -1) == !any_live);
	if (c >= 0)
		BX_ASSERT(live(s, (unsigned)c));
	BX_ASSERT(h >= -1 && h < (int)g.n);
	if (c < 0 || s->path[c].state != BX_BOND_SUSPECT) {
		BX_ASSERT(h == -1);
		return;
	}
	/* The preferred path is SUSPECT: the cheapest other live one. */
	if (min_cost(s, c, false) == UINT64_MAX) {
		BX_ASSERT(h == -1);
		return;
	}
	BX_ASSERT(h >= 0 && h != c && live(s, (unsigned)h));
	BX_ASSERT(s->path[h].cost_us == min_cost(s, c, false));
}

static void
check_stripe_set(const struct bx_bond_stats *s)
{
	uint64_t m = min_cost(s, -1, false);
	bool cheapest_in = false;
	unsigned k;

	for (k = 0; k < g.n; k++) {
		if (!s->path[k].in_stripe)
			continue;
		BX_ASSERT(live(s, k));
		cheapest_in |= s->path[k].cost_us == m;
	}
	BX_ASSERT(m == UINT64_MAX || cheapest_in);
}

static void
check_reorder(const struct bx_bond_stats *s)
{
	uint64_t max_t = g.c.reorder_timeout_max_ns, t = s->reorder_timeout_ns;
	uint64_t lo = UINT64_MAX, hi = 0, jit = 0;
	unsigned k, members = 0, with_rtt = 0;

	BX_ASSERT(t >= min64(BX_BOND_REORDER_MIN_NS, max_t) && t <= max_t);
	for (k = 0; k < g.n; k++) {
		if (!s->path[k].in_stripe)
			continue;
		members++;
		if (!g.p[k].has_rtt)
			continue;
		with_rtt++;
		lo = min64(lo, g.p[k].srtt);
		hi = max64(hi, g.p[k].srtt);
		jit = max64(jit, g.p[k].jit);
	}
	if (members == 1)
		BX_ASSERT(t == min64(max_t, BX_BOND_REORDER_MIN_NS));
	else if (members >= 2 && with_rtt < 2)
		BX_ASSERT(t == max_t);
	else if (members >= 2)
		BX_ASSERT(t == min64(max_t, max64(BX_BOND_REORDER_MIN_NS,
						  2 * (hi - lo) + 4 * jit)));
}

static void
check_path(const struct bx_bond_stats *s, unsigned k)
{
	const struct bx_bond_path_stats *ps = &s->path[k];
	const struct pth *p = &g.p[k];
	unsigned __int128 w1000 = (unsigned __int128)ps->weight_bps * BX_BOND_PERMILLE;
	unsigned __int128 cl = (unsigned __int128)ps->cap_bps * (BX_BOND_PERMILLE - p->loss);

	BX_ASSERT(ps->state == BX_BOND_UP || ps->state == BX_BOND_SUSPECT ||
		  ps->state == BX_BOND_DOWN);
	BX_ASSERT(ps->weight_bps <= ps->cap_bps);
	/* w = C (1 - loss), rounded either way */
	BX_ASSERT(w1000 + BX_BOND_PERMILLE > cl && w1000 < cl + BX_BOND_PERMILLE);
	BX_ASSERT(ps->cap_bps >= min64(g.c.floor_bps, p->min_cap));
	if (p->cap_now != 0)
		BX_ASSERT(ps->cap_bps <= p->cap_now);
	if (p->nd_known)
		BX_ASSERT(ps->in_redundant == p->nd);
}

/* PREFERRED's cost after an update, in us; @refused: the 20 ms term. */
static uint64_t
cost_us(const struct bx_bond_stats *s, unsigned k, bool refused)
{
	const struct pth *p = &g.p[k];
	unsigned __int128 r = s->path[k].rate_bps, w = s->path[k].weight_bps;
	unsigned __int128 over = 0;
	uint64_t cost;

	if (!p->has_rtt)
		return (BX_BOND_COST_NO_RTT_NS + k) / US;
	cost = p->srtt + 2 * p->jit + (uint64_t)p->loss * BX_BOND_COST_PER_PERMILLE_NS;
	/* 100 ms (r / w - 0.8) = 100 ms (10 r - 8 w) / (10 w), capped */
	if (10 * r > 8 * w)
		over = w == 0 ? BX_BOND_COST_OVERLOAD_MAX_NS
			      : BX_BOND_COST_OVERLOAD_NS * (10 * r - 8 * w) / (10 * w);
	cost += over < BX_BOND_COST_OVERLOAD_MAX_NS ? (uint64_t)over
						    : BX_BOND_COST_OVERLOAD_MAX_NS;
	if (refused)
		cost += BX_BOND_COST_REFUSED_NS;
	return cost / US;
}

static bool
near(uint64_t a, uint64_t b)
{
	return a + 1 >= b && b + 1 >= a;
}

/* Its srtt exceeds the smallest srtt of the live paths by more than
 * reorder_timeout_max: the reorder buffer could not hide it. */
static bool
too_slow(const struct bx_bond_stats *s, unsigned k)
{
	uint64_t min_srtt = UINT64_MAX;
	unsigned j;

	for (j = 0; j < g.n; j++)
		if (live(s, j) && g.p[j].has_rtt)
			min_srtt = min64(min_srtt, g.p[j].srtt);
	return live(s, k) && g.p[k].has_rtt &&
	       g.p[k].srtt - min_srtt > g.c.reorder_timeout_max_ns;
}

static bool
lossy(const struct pth *p)
{
	return p->loss >= g.c.exclude_loss_permille &&
	       p->o.known >= BX_BOND_LOSS_MIN_KNOWN;
}

/* A path that left S on an update had one of the header's reasons. */
static bool
may_leave(const struct bx_bond_stats *s, unsigned k)
{
	uint64_t sum_c = 0;
	unsigned j;

	if (!live(s, k) || lossy(&g.p[k]) || too_slow(s, k))
		return true;
	for (j = 0; j < g.n; j++)
		if (live(s, j))
			sum_c += s->path[j].cap_bps;
	return g.now - g.p[k].joined >= g.c.readmit_ns &&
	       (unsigned __int128)s->path[k].cap_bps * PCT <
		       (unsigned __int128)sum_c * BX_BOND_STRIPE_MIN_SHARE_PCT;
}

/* Changes of S between @s0 and @s1; @update: made by an update. */
static void
check_stripe_moves(const struct bx_bond_stats *s0, const struct bx_bond_stats *s1,
		   bool update, int reset_k)
{
	uint64_t m = min_cost(s1, -1, false), left = 0;
	unsigned k;

	for (k = 0; k < g.n; k++) {
		bool in0 = s0->path[k].in_stripe, in1 = s1->path[k].in_stripe;
		bool maybe_cheapest = live(s1, k) && s1->path[k].cost_us == m;
		struct pth *p = &g.p[k];

		if (in0 && !in1) {
			/* The cheapest live path never leaves. */
			BX_ASSERT(!(live(s1, k) &&
				    s1->path[k].cost_us < min_cost(s1, (int)k, false)));
			BX_ASSERT(update ? may_leave(s1, k) : !live(s1, k));
			left++;
		} else if (!in0 && in1) {
			if (!maybe_cheapest && (int)k != reset_k) {
				BX_ASSERT(update);
				BX_ASSERT(p->good && g.now - p->good_since >= g.c.readmit_ns);
			}
			p->joined = g.now;
		} else if (in1 && update && !maybe_cheapest) {
			/* Members that must have left. */
			BX_ASSERT(!lossy(p) && !too_slow(s1, k));
		}
	}
	BX_ASSERT(s1->stripe_excluded == s0->stripe_excluded + left);
}

static void
check_counters(const struct bx_bond_stats *s0, const struct bx_bond_stats *s1, bool reset)
{
	uint64_t down = 0, up = 0;
	unsigned k;

	for (k = 0; k < g.n; k++) {
		enum bx_bond_state a = s0->path[k].state, b = s1->path[k].state;

		down += a != BX_BOND_DOWN && b == BX_BOND_DOWN;
		up += a == BX_BOND_DOWN && b == BX_BOND_UP;
	}
	BX_ASSERT(s1->path_down == s0->path_down + down);
	if (reset)
		BX_ASSERT(s1->path_up >= s0->path_up && s1->path_up <= s0->path_up + up);
	else
		BX_ASSERT(s1->path_up == s0->path_up + up);
	if (s1->preferred == s0->preferred)
		BX_ASSERT(s1->preferred_switches == s0->preferred_switches);
	else if (s1->preferred >= 0)
		BX_ASSERT(s1->preferred_switches == s0->preferred_switches + 1);
	else
		BX_ASSERT(s1->preferred_switches - s0->preferred_switches <= 1);
}

/* Preferred changes; @update: made by an update. */
static void
check_switch(const struct bx_bond_stats *s0, const struct bx_bond_stats *s1, bool update)
{
	int c = s0->preferred, b = s1->preferred;
	unsigned k;

	if (update && c >= 0 && live(s1, (unsigned)c)) {
		/* A necessary condition of "cost_b < cost_c - margin" on the
		 * costs in us. */
		uint64_t cc = s1->path[c].cost_us;
		uint64_t margin = max64(BX_BOND_SWITCH_MARGIN_MIN_NS,
					cc * g.c.hysteresis_pct * US / PCT);
		bool better = false;

		for (k = 0; k < g.n; k++)
			if ((int)k != c && s1->path[k].state == BX_BOND_UP &&
			    s1->path[k].cost_us * US + margin < cc * US + US)
				better = true;
		g.better = better ? g.better + 1 : 0;
	}
	if (b == c)
		return;
	if (c < 0 || !live(s1, (unsigned)c)) {
		/* Taken away: the cheapest live path, at once. */
		if (b >= 0)
			BX_ASSERT(s1->path[b].cost_us == min_cost(s1, -1, false));
	} else {
		BX_ASSERT(update);
		BX_ASSERT(s1->path[b].state == BX_BOND_UP);
		BX_ASSERT(s1->path[b].cost_us == min_cost(s1, c, true));
		BX_ASSERT(g.better >= BX_BOND_SWITCH_UPDATES);
		BX_ASSERT(!g.switched || g.now - g.last_switch >= g.c.hold_ns);
	}
	g.better = 0;
	if (b >= 0) {
		g.switched = true;
		g.last_switch = g.now;
	}
}

/* The round robin is zeroed when S changes; the accounting follows it. */
static void
track_acct(const struct bx_bond_stats *s0, const struct bx_bond_stats *s1, bool reset)
{
	bool same_set = true, same_w = true;
	unsigned k;

	for (k = 0; k < g.n; k++) {
		same_set &= s0->path[k].in_stripe == s1->path[k].in_stripe;
		if (s1->path[k].in_stripe)
			same_w &= s0->path[k].weight_bps == s1->path[k].weight_bps;
	}
	if (reset) {
		/* The path reset rejoins with a zeroed counter of its own,
		 * the others keep theirs: no clean start. */
		g.acct = false;
	} else if (!same_set) {
		g.acct = true;
		memset(g.bytes, 0, sizeof(g.bytes));
		g.total = 0;
		g.lmax = 0;
	} else if (!same_w) {
		g.acct = false;
	}
}

static void
check_all(const struct bx_bond_stats *s0, const struct bx_bond_stats *s1,
	  bool update, int reset_k)
{
	unsigned k;

	check_queries(s1);
	check_preferred_hedge(s1);
	check_stripe_set(s1);
	check_reorder(s1);
	for (k = 0; k < g.n; k++)
		check_path(s1, k);
	check_counters(s0, s1, reset_k >= 0);
	check_switch(s0, s1, update);
	check_stripe_moves(s0, s1, update, reset_k);
	track_acct(s0, s1, reset_k >= 0);
}

/* ---- observations -------------------------------------------------------- */

enum {
	OBS_LINK_DOWN = 1,
	OBS_NO_RTT = 2,
	OBS_REFUSED = 4,
	OBS_TX_BACK = 8,
	OBS_CAP = 16,
	OBS_ECHO_NOW = 32,
	OBS_ECHO_NEVER = 64,
	OBS_ECHO_AGO = 128,
};
#define MISSES_SPAN 72u /* a little past BX_BOND_COUNT_MAX */
#define TX_SHIFT_SPAN 40u

/* Path @p's next observation into @o (a copy of the last one). */
static void
obs_mapped(struct pth *p, struct bx_bond_obs *o, const uint8_t *d)
{
	uint8_t f = d[0];

	o->link_up = !(f & OBS_LINK_DOWN);
	o->has_rtt = !(f & OBS_NO_RTT);
	o->srtt_ns = be16(d + 1) * 10 * US;
	o->jitter_ns = d[3] * 100 * US;
	o->rttmin_ns = o->srtt_ns - min64(o->srtt_ns, d[4] * 200 * US);
	o->loss_permille = d[5] * 4u;
	o->known = d[6];
	o->misses = d[7] % MISSES_SPAN;
	o->streak = d[8] % MISSES_SPAN;
	p->tx_step = (uint64_t)d[9] << (d[10] % TX_SHIFT_SPAN);
	if (f & OBS_TX_BACK)
		o->tx_bytes = o->tx_bytes / 2;
	else
		o->tx_bytes += p->tx_step;
	o->tx_refused += !!(f & OBS_REFUSED);
	o->cap_bps = !(f & OBS_CAP) ? 0 : d[11] == UINT8_MAX ? UINT64_MAX
				 : (d[11] + UINT64_C(1)) * 4 * BX_BOND_MBPS;
	if (f & OBS_ECHO_NEVER)
		o->last_echo_ns = 0;
	else if (f & OBS_ECHO_NOW)
		o->last_echo_ns = g.now;
	else if (f & OBS_ECHO_AGO)
		o->last_echo_ns = g.now - d[12] * 10 * MS;
}

static void
obs_raw(struct pth *p, struct bx_bond_obs *o, const uint8_t *d)
{
	o->link_up = d[0] & 1;
	o->has_rtt = d[1] & 1;
	o->srtt_ns = le(d + 2, 8);
	o->rttmin_ns = le(d + 10, 8);
	o->jitter_ns = le(d + 18, 8);
	o->loss_permille = (uint32_t)le(d + 26, 4);
	o->known = (uint32_t)le(d + 30, 4);
	o->misses = (uint32_t)le(d + 34, 4);
	o->streak = (uint32_t)le(d + 38, 4);
	o->last_echo_ns = le(d + 42, 8);
	o->tx_bytes = le(d + 50, 8);
	o->tx_refused = le(d + 58, 8);
	o->cap_bps = le(d + 66, 8);
	p->tx_step = 0;
}

/* State machine of bx_bond.h for path @k from @s0 to @s1 under @o. */
static void
check_state(const struct bx_bond_stats *s0, const struct bx_bond_stats *s1,
	    unsigned k, const struct bx_bond_obs *o)
{
	enum bx_bond_state a = s0->path[k].state, b = s1->path[k].state;
	const struct pth *p = &g.p[k];

	if (!o->link_up) {
		BX_ASSERT(b == BX_BOND_DOWN);
	} else if (a == BX_BOND_DOWN) {
		bool streak = o->streak >= g.c.up_after;
		bool echo_yes = o->last_echo_ns > p->down_last;
		bool echo_no = o->last_echo_ns == 0 || o->last_echo_ns < p->down_first;

		if (streak && echo_yes)
			BX_ASSERT(b == BX_BOND_UP);
		else if (!streak || echo_no)
			BX_ASSERT(b == BX_BOND_DOWN);
		else
			BX_ASSERT(b == BX_BOND_UP || b == BX_BOND_DOWN);
	} else if (o->misses >= g.c.down_after) {
		BX_ASSERT(b == BX_BOND_DOWN || (a == BX_BOND_UP && b == BX_BOND_SUSPECT));
	} else {
		BX_ASSERT(b == (o->misses > 0 ? BX_BOND_SUSPECT : BX_BOND_UP));
	}
}

/* Capacity and rate of path @k over one update; @first: its first since
 * init or reset; @tx_back: tx_bytes went back. */
static void
check_capacity(const struct bx_bond_stats *s0, const struct bx_bond_stats *s1,
	       unsigned k, const struct bx_bond_obs *o, bool first, bool tx_back)
{
	uint64_t c0 = s0->path[k].cap_bps, c1 = s1->path[k].cap_bps;
	uint64_t r1 = s1->path[k].rate_bps, fl = g.c.floor_bps;
	bool stepped = live(s1, k) && o->has_rtt;

	if (first || tx_back)
		BX_ASSERT(r1 == s0->path[k].rate_bps);
	if (first)
		return;
	if (c1 > c0) {
		/* r > 0.7 C and no queue: one step (up to the cap, or the
		 * top of the range); or the queue rule's floor for a C that
		 * a cap had put below it. */
		BX_ASSERT(stepped);
		BX_ASSERT((10 * (unsigned __int128)r1 > 7 * (unsigned __int128)c0 &&
			   (c1 == c0 + max64(c0 / 8, BX_BOND_CAP_STEP_MIN_BPS) ||
			    c1 == o->cap_bps || c1 == BX_BOND_BPS_MAX)) ||
			  (r1 >= fl && c1 == fl));
	} else if (c1 < c0 && (o->cap_bps == 0 || c1 < o->cap_bps)) {
		/* Not the cap: the queue rule, max(floor, 0.85 r), which
		 * needs r >= floor. */
		BX_ASSERT(stepped && r1 >= fl);
		BX_ASSERT(near(c1, max64(fl, (uint64_t)((unsigned __int128)r1 * 85 / PCT))));
	}
}

/* The not-dead model after an update of path @k. */
static void
model_not_dead(struct pth *p)
{
	const struct bx_bond_obs *o = &p->o;

	p->nd_known = true;
	if (!o->link_up) {
		p->nd = false;
	} else if (o->misses < g.c.down_after) {
		p->nd = true;
	} else if (o->last_echo_ns == 0) {
		p->nd = false;
	} else if (o->last_echo_ns > g.now || g.now - o->last_echo_ns == g.c.dead_ns) {
		p->nd_known = false; /* the future, or the edge: either */
	} else {
		p->nd = g.now - o->last_echo_ns < g.c.dead_ns;
	}
}

static void
path_forget(struct pth *p)
{
	struct bx_bond_obs keep = p->o;

	memset(p, 0, sizeof(*p));
	/* The owner's counters go on (cumulative): they are not reset. */
	p->o.tx_bytes = keep.tx_bytes;
	p->o.tx_refused = keep.tx_refused;
	p->o.link_up = true;
	p->nd_known = true;
	p->nd = true;
	p->min_cap = UINT64_MAX;
	p->joined = g.now;
}


/* The readmission clock of path @k after an update (bx_bond.h: "live,
 * below readmit loss and within the srtt spread for readmit_ns without a
 * break"); kept whether the path is in S or not, so it can only start
 * earlier than the scheduler's. */
static void
track_good(const struct bx_bond_stats *s, unsigned k)
{
	struct pth *p = &g.p[k];
	bool good = live(s, k) && p->loss < g.c.readmit_loss_permille && !too_slow(s, k);

	if (good && !p->good)
		p->good_since = g.now;
	p->good = good;
}

static void
update(const struct bx_bond_obs obs[])
{
	struct bx_bond_stats s0 = rd(), s1;
	bool first[BX_BOND_MAX_PATHS], back[BX_BOND_MAX_PATHS], grew[BX_BOND_MAX_PATHS];
	unsigned k;

	bx_bond_update(&g.b, obs, g.now);
	s1 = rd();
	for (k = 0; k < g.n; k++) {
		struct pth *p = &g.p[k];
		const struct bx_bond_obs *o = &obs[k];

		first[k] = !p->seen;
		back[k] = p->seen && o->tx_bytes < p->o.tx_bytes;
		grew[k] = o->tx_refused > p->o.tx_refused;
		check_state(&s0, &s1, k, o);
		if (s0.path[k].state != BX_BOND_DOWN && s1.path[k].state == BX_BOND_DOWN)
			p->down_first = p->down_last = g.now;
		p->o = *o;
		p->seen = true;
		p->loss = (uint32_t)min64(o->loss_permille, BX_BOND_PERMILLE);
		p->has_rtt = o->has_rtt;
		p->srtt = o->has_rtt ? min64(o->srtt_ns, BX_BOND_RTT_MAX_NS) : 0;
		p->jit = o->has_rtt ? min64(o->jitter_ns, BX_BOND_RTT_MAX_NS) : 0;
		p->cap_now = o->cap_bps;
		if (o->cap_bps != 0)
			p->min_cap = min64(p->min_cap, o->cap_bps);
		model_not_dead(p);
	}
	for (k = 0; k < g.n; k++)
		track_good(&s1, k);
	check_all(&s0, &s1, true, -1);
	for (k = 0; k < g.n; k++) {
		uint64_t got = s1.path[k].cost_us;

		check_capacity(&s0, &s1, k, &obs[k], first[k], back[k]);
		/* Whether tx_refused "grew since the last update" is open on
		 * a path's first one. */
		BX_ASSERT(near(got, cost_us(&s1, k, grew[k] && !first[k])) ||
			  (first[k] && near(got, cost_us(&s1, k, grew[k]))));
	}
}

/* Nothing a link event did not touch may move. */
static void
check_untouched(const struct bx_bond_stats *s0, const struct bx_bond_stats *s1,
		unsigned except)
{
	unsigned k;

	for (k = 0; k < g.n; k++) {
		const struct bx_bond_path_stats *a = &s0->path[k], *b = &s1->path[k];

		if (k == except)
			continue;
		BX_ASSERT(a->state == b->state && a->cap_bps == b->cap_bps &&
			  a->weight_bps == b->weight_bps && a->rate_bps == b->rate_bps &&
			  a->cost_us == b->cost_us && a->in_redundant == b->in_redundant);
	}
}

static void
link_down(unsigned k)
{
	struct bx_bond_stats s0 = rd(), s1;
	struct pth *p = &g.p[k];

	bx_bond_link_down(&g.b, k, g.now);
	s1 = rd();
	BX_ASSERT(s1.path[k].state == BX_BOND_DOWN && !s1.path[k].in_stripe &&
		  !s1.path[k].in_redundant);
	/* No observation came: the measured figures stay. */
	BX_ASSERT(s1.path[k].cap_bps == s0.path[k].cap_bps &&
		  s1.path[k].weight_bps == s0.path[k].weight_bps &&
		  s1.path[k].rate_bps == s0.path[k].rate_bps &&
		  s1.path[k].cost_us == s0.path[k].cost_us);
	check_untouched(&s0, &s1, k);
	if (s0.path[k].state != BX_BOND_DOWN)
		p->down_first = g.now;
	p->down_last = g.now;
	p->nd_known = true;
	p->nd = false;
	p->good = false;
	check_all(&s0, &s1, false, -1);
}

static void
reset(unsigned k)
{
	struct bx_bond_stats s0 = rd(), s1;
	struct pth *p = &g.p[k];
	uint64_t joined = p->joined;

	bx_bond_reset_path(&g.b, k, g.now);
	s1 = rd();
	BX_ASSERT(s1.path[k].state == BX_BOND_UP && s1.path[k].in_stripe &&
		  s1.path[k].in_redundant &&
		  s1.path[k].cap_bps == g.c.initial_bps &&
		  s1.path[k].cost_us == (BX_BOND_COST_NO_RTT_NS + k) / US);
	check_untouched(&s0, &s1, k);
	path_forget(p);
	/* Still a member: "in S for readmit_ns" may count from before. */
	if (s0.path[k].in_stripe)
		p->joined = joined;
	check_all(&s0, &s1, false, (int)k);
}

static uint32_t
stripe_len(unsigned mode, uint16_t x, uint32_t *lcg)
{
	switch (mode % 4) {
	case 0: return x;
	case 1:
		*lcg = *lcg * 1103515245u + 12345u;
		return (*lcg >> 8) % (BX_BOND_STRIPE_LEN_MAX + 5000);
	case 2: return UINT32_MAX - x;
	default: return 0;
	}
}

/* @count picks; each goes to a member of S, and over the run the bytes
 * follow the weights within a few packets (bx_bond_stripe_pick()). */
static void
stripe(unsigned count, unsigned mode, uint16_t x)
{
	struct bx_bond_stats s0 = rd(), s1;
	unsigned i, k, members = 0, only = 0;
	uint32_t lcg = x;
	unsigned __int128 wsum = 0;

	for (k = 0; k < g.n; k++)
		if (s0.path[k].in_stripe) {
			members++;
			only = k;
			wsum += s0.path[k].weight_bps / 1000;
		}
	for (i = 0; i < count; i++) {
		uint32_t len = stripe_len(mode, x, &lcg);
		uint64_t l = len == 0 ? 1 : min64(len, BX_BOND_STRIPE_LEN_MAX);
		int pick = bx_bond_stripe_pick(&g.b, len);

		if (members == 0) {
			BX_ASSERT(pick == -1);
			continue;
		}
		BX_ASSERT(pick >= 0 && pick < (int)g.n && s0.path[pick].in_stripe);
		if (members == 1)
			BX_ASSERT(pick == (int)only);
		g.bytes[pick] += l;
		g.total += l;
		g.lmax = max64(g.lmax, l);
	}
	s1 = rd();
	BX_ASSERT(memcmp(&s0, &s1, sizeof(s0)) == 0);
	if (!g.acct || members < 2 || wsum == 0)
		return;
	/* Weights are in kbit/s; whatever the rounding, within one per
	 * path: hence the (members + 1) * total term. */
	for (k = 0; k < g.n; k++) {
		unsigned __int128 got, want, tol;

		if (!s0.path[k].in_stripe)
			continue;
		got = (unsigned __int128)g.bytes[k] * wsum;
		want = (unsigned __int128)(s0.path[k].weight_bps / 1000) * g.total;
		tol = (unsigned __int128)members * g.lmax * wsum +
		      (unsigned __int128)(members + 1) * g.total + wsum;
		BX_ASSERT(got > want ? got - want <= tol : want - got <= tol);
	}
}

/* ---- the input ------------------------------------------------------------ */

static bool
start(const uint8_t *data, size_t size)
{
	struct bx_bond_conf broken;
	struct bx_bond_stats s;
	bool raw = data[0] & 1, in_range, unsure;
	unsigned which = data[1] % 16, n, k;
	int rc;

	if (size < (raw ? RAW_LEN : MAPPED_LEN))
		return false;
	if (raw)
		conf_raw(data + 2, &g.c, &n);
	else
		conf_mapped(data + 2, &g.c, &n);
	in_range = conf_in_range(&g.c, n, &unsure);
	BX_ASSERT(raw || (in_range && !unsure));
	/* Whatever was there before must survive a refusal. */
	memset(&g.b, 0x5a, sizeof(g.b));
	memcpy(&g.copy, &g.b, sizeof(g.b));
	rc = bx_bond_init(&g.b, &g.c, n, g.now);
	if (rc != 0) {
		BX_ASSERT(rc == -EINVAL && (!in_range || unsure));
		BX_ASSERT(memcmp(&g.copy, &g.b, sizeof(g.b)) == 0);
		return false;
	}
	BX_ASSERT(in_range);
	g.n = n;
	if (which < NONE_BROKEN) {
		unsigned n2 = n;

		broken = g.c;
		break_conf(&broken, &n2, which);
		init_refused(&broken, n2);
	}
	for (k = 0; k < n; k++) {
		path_forget(&g.p[k]);
		g.p[k].o.tx_bytes = 0;
		g.p[k].o.tx_refused = 0;
	}
	g.acct = true;
	s = rd();
	BX_ASSERT(s.preferred == 0 && s.hedge == -1);
	for (k = 0; k < n; k++)
		BX_ASSERT(s.path[k].state == BX_BOND_UP && s.path[k].in_stripe &&
			  s.path[k].in_redundant &&
			  s.path[k].cap_bps == g.c.initial_bps &&
			  s.path[k].weight_bps == g.c.initial_bps);
	check_all(&s, &s, false, -1);
	return true;
}

static void
run(const uint8_t *data, size_t size, size_t off)
{
	static const uint64_t unit[4] = { US, MS, 10 * MS, 100 * MS };
	struct bx_bond_obs obs[BX_BOND_MAX_PATHS];
	unsigned ops = 0, k;

	while (size - off >= OP_HDR_LEN && ops++ < OPS_MAX) {
		uint8_t code = data[off];
		const uint8_t *a = data + off + OP_HDR_LEN;
		size_t left = size - off - OP_HDR_LEN;

		g.now += be16(data + off + 1) * unit[(code >> OP_UNIT_SHIFT) & 3];
		off += OP_HDR_LEN;
		for (k = 0; k < g.n; k++) {
			obs[k] = g.p[k].o;
			obs[k].tx_bytes += g.p[k].tx_step;
		}
		switch (code & OP_KIND_MASK) {
		case OP_UPDATE:
		case OP_UPDATE_2: {
			unsigned mask;

			if (left < 1)
				return;
			mask = a[0];
			off++;
			for (k = 0; k < g.n; k++) {
				if (!(mask & (1u << k)))
					continue;
				if (size - off < OBS_LEN)
					return;
				obs[k] = g.p[k].o;
				obs_mapped(&g.p[k], &obs[k], data + off);
				off += OBS_LEN;
			}
			update(obs);
			break;
		}
		case OP_UPDATE_SAME:
		case OP_UPDATE_SAME_2:
			update(obs);
			break;
		case OP_LINK_DOWN:
			if (left < 1)
				return;
			off++;
			link_down(a[0] % g.n);
			break;
		case OP_STRIPE:
			if (left < STRIPE_ARGS)
				return;
			off += STRIPE_ARGS;
			stripe(1u + a[0], a[1], be16(a + 2));
			break;
		case OP_RESET:
			if (left < 1)
				return;
			off++;
			reset(a[0] % g.n);
			break;
		case OP_UPDATE_RAW:
			if (left < 1 + RAW_OBS_LEN)
				return;
			k = a[0] % g.n;
			obs_raw(&g.p[k], &obs[k], a + 1);
			off += 1 + RAW_OBS_LEN;
			update(obs);
			break;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < MAPPED_LEN)
		return 0;
	memset(&g, 0, sizeof(g));
	g.now = START_NS;
	if (start(data, size))
		run(data, size, (data[0] & 1) ? RAW_LEN : MAPPED_LEN);
	return 0;
}
