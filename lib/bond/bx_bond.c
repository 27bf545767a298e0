/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-peer path scheduler (bx_bond.h has the rules). An update works
 * in two passes: each path first takes its observation (state, rate,
 * capacity, weight, cost), then the choices that compare paths are made
 * (preferred and hedge, stripe set, redundant set, reorder timeout). The
 * per-packet work is only bx_bond_stripe_pick(), over at most four paths.
 *
 * Everything readers see lives in b->pub and is only written with relaxed
 * stores; the writer never reads it back.
 */
#include "bx_bond.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define NS_PER_S UINT64_C(1000000000)
#define NS_PER_US UINT64_C(1000)
#define BITS_PER_BYTE 8u
#define BPS_PER_KBPS 1000u
#define PCT 100u

#define PUB(b, field, v) \
	__atomic_store_n(&(b)->pub.field, (uint64_t)(v), __ATOMIC_RELAXED)
#define GET(b, field) __atomic_load_n(&(b)->pub.field, __ATOMIC_RELAXED)

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

/* a * b / c without intermediate overflow, saturated at UINT64_MAX. */
static uint64_t
muldiv(uint64_t a, uint64_t b, uint64_t c)
{
	unsigned __int128 v = (unsigned __int128)a * b / c;

	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

void
bx_bond_conf_defaults(struct bx_bond_conf *c)
{
	c->down_after = BX_BOND_DOWN_AFTER_DEFAULT;
	c->up_after = BX_BOND_UP_AFTER_DEFAULT;
	c->exclude_loss_permille = BX_BOND_EXCLUDE_LOSS_PERMILLE_DEFAULT;
	c->readmit_loss_permille = BX_BOND_READMIT_LOSS_PERMILLE_DEFAULT;
	c->readmit_ns = BX_BOND_READMIT_NS_DEFAULT;
	c->hysteresis_pct = BX_BOND_HYSTERESIS_PCT_DEFAULT;
	c->hold_ns = BX_BOND_HOLD_NS_DEFAULT;
	c->reorder_timeout_max_ns = BX_BOND_REORDER_TIMEOUT_MAX_NS_DEFAULT;
	c->dead_ns = BX_BOND_DEAD_NS_DEFAULT;
	c->initial_bps = BX_BOND_INITIAL_BPS_DEFAULT;
	c->floor_bps = BX_BOND_FLOOR_BPS_DEFAULT;
}

static bool
conf_valid(const struct bx_bond_conf *c)
{
	if (c->down_after == 0 || c->down_after > BX_BOND_COUNT_MAX)
		return false;
	if (c->up_after == 0 || c->up_after > BX_BOND_COUNT_MAX)
		return false;
	if (c->exclude_loss_permille == 0 || c->exclude_loss_permille > BX_BOND_PERMILLE)
		return false;
	/* A path must be better to come back than it was when it left. */
	if (c->readmit_loss_permille >= c->exclude_loss_permille)
		return false;
	if (c->hysteresis_pct > PCT)
		return false;
	if (c->readmit_ns > BX_BOND_TIME_MAX_NS || c->hold_ns > BX_BOND_TIME_MAX_NS ||
	    c->dead_ns > BX_BOND_TIME_MAX_NS)
		return false;
	if (c->reorder_timeout_max_ns == 0 ||
	    c->reorder_timeout_max_ns > BX_BOND_TIME_MAX_NS)
		return false;
	if (c->floor_bps == 0 || c->floor_bps > BX_BOND_BPS_MAX)
		return false;
	return c->initial_bps >= c->floor_bps && c->initial_bps <= BX_BOND_BPS_MAX;
}

/* ---- publication ------------------------------------------------------- */

static void
publish(struct bx_bond *b)
{
	unsigned k;

	for (k = 0; k < b->n_paths; k++) {
		const struct bx_bond_path *p = &b->path[k];

		PUB(b, state[k], p->state);
		PUB(b, c_bps[k], p->c_bps);
		PUB(b, w_bps[k], p->w_bps);
		PUB(b, r_bps[k], p->r_bps);
		PUB(b, cost_us[k], p->cost_ns / NS_PER_US);
		PUB(b, in_stripe[k], p->in_stripe);
		PUB(b, in_redundant[k], p->not_dead);
	}
	PUB(b, n_paths, b->n_paths);
	PUB(b, preferred, (int64_t)b->preferred);
	PUB(b, hedge, (int64_t)b->hedge);
	PUB(b, reorder_ns, b->reorder_ns);
	PUB(b, preferred_switches, b->preferred_switches);
	PUB(b, stripe_excluded, b->stripe_excluded);
	PUB(b, path_down, b->path_down);
	PUB(b, path_up, b->path_up);
}

void
bx_bond_read(const struct bx_bond *b, struct bx_bond_stats *out)
{
	unsigned k, n = (unsigned)GET(b, n_paths);

	memset(out, 0, sizeof(*out));
	if (n > BX_BOND_MAX_PATHS)
		n = BX_BOND_MAX_PATHS;
	out->n_paths = n;
	for (k = 0; k < n; k++) {
		struct bx_bond_path_stats *s = &out->path[k];

		s->state = (enum bx_bond_state)GET(b, state[k]);
		s->cap_bps = GET(b, c_bps[k]);
		s->weight_bps = GET(b, w_bps[k]);
		s->rate_bps = GET(b, r_bps[k]);
		s->cost_us = GET(b, cost_us[k]);
		s->in_stripe = GET(b, in_stripe[k]) != 0;
		s->in_redundant = GET(b, in_redundant[k]) != 0;
	}
	out->preferred = (int)(int64_t)GET(b, preferred);
	out->hedge = (int)(int64_t)GET(b, hedge);
	out->reorder_timeout_ns = GET(b, reorder_ns);
	out->preferred_switches = GET(b, preferred_switches);
	out->stripe_excluded = GET(b, stripe_excluded);
	out->path_down = GET(b, path_down);
	out->path_up = GET(b, path_up);
}

/* ---- one path ---------------------------------------------------------- */

static void
path_init(struct bx_bond *b, unsigned k, uint64_t now_ns)
{
	struct bx_bond_path *p = &b->path[k];

	memset(p, 0, sizeof(*p));
	p->state = BX_BOND_UP;
	p->link_up = true;
	p->live = true;
	p->not_dead = true;
	p->c_bps = b->conf.initial_bps;
	p->w_bps = p->c_bps;
	p->cost_ns = BX_BOND_COST_NO_RTT_NS + k;
	p->cap_next_ns = now_ns + BX_BOND_CAP_PERIOD_NS;
	p->in_stripe = true;
	p->joined_ns = now_ns;
}

static void
go_down(struct bx_bond *b, struct bx_bond_path *p, uint64_t now_ns)
{
	if (p->state == BX_BOND_DOWN)
		return;
	p->state = BX_BOND_DOWN;
	p->down_ns = now_ns;
	b->path_down++;
}

static void
take_state(struct bx_bond *b, struct bx_bond_path *p, const struct bx_bond_obs *o,
	   uint64_t now_ns)
{
	const struct bx_bond_conf *c = &b->conf;
	bool echo_recent;

	if (!o->link_up) {
		go_down(b, p, now_ns);
	} else if (p->state == BX_BOND_DOWN) {
		/* Echoes from before the cut do not vouch for the path now. */
		if (o->streak >= c->up_after && o->last_echo_ns > p->down_ns) {
			p->state = BX_BOND_UP;
			b->path_up++;
		}
	} else if (o->misses >= c->down_after) {
		go_down(b, p, now_ns);
	} else {
		p->state = o->misses > 0 ? BX_BOND_SUSPECT : BX_BOND_UP;
	}
	p->live = o->link_up && p->state != BX_BOND_DOWN;

	echo_recent = o->last_echo_ns != 0 &&
		      (o->last_echo_ns >= now_ns || now_ns - o->last_echo_ns <= c->dead_ns);
	p->not_dead = o->link_up && (o->misses < c->down_after || echo_recent);
}

/*
 * r: an EWMA of the send rate whose gain is dt / tau, so a constant rate
 * reads the same whatever the tick, and a tick of tau or more takes the
 * sample as it is.
 */
static void
take_rate(struct bx_bond_path *p, const struct bx_bond_obs *o, uint64_t now_ns)
{
	uint64_t dt, s;

	if (!p->seen || now_ns < p->last_ns || o->tx_bytes < p->last_bytes) {
		/* Nothing to compare with, or a clock or counter that went
		 * back: start measuring again from here. */
		p->last_ns = now_ns;
		p->last_bytes = o->tx_bytes;
		return;
	}
	/* Two readings at one instant: the newer is the baseline, or a
	 * counter that goes back after it would pass for a sample. */
	if (now_ns == p->last_ns) {
		p->last_bytes = o->tx_bytes;
		return;
	}
	dt = now_ns - p->last_ns;
	s = min64(muldiv(o->tx_bytes - p->last_bytes, BITS_PER_BYTE * NS_PER_S, dt),
		  BX_BOND_BPS_MAX);
	if (!p->rate_valid || dt >= BX_BOND_RATE_TAU_NS)
		p->r_bps = s;
	else if (s >= p->r_bps)
		p->r_bps += muldiv(s - p->r_bps, dt, BX_BOND_RATE_TAU_NS);
	else
		p->r_bps -= muldiv(p->r_bps - s, dt, BX_BOND_RATE_TAU_NS);
	p->rate_valid = true;
	p->last_ns = now_ns;
	p->last_bytes = o->tx_bytes;
}

/*
 * The path's base RTT: the probes' all-time minimum, or, once a whole
 * window has passed, the smallest srtt of the last one or two windows when
 * that is higher, so a path whose delay rose for good (a new route) does
 * not read as a standing queue forever.
 */
static uint64_t
base_rtt(struct bx_bond_path *p, uint64_t srtt, uint64_t rttmin,
	 uint64_t now_ns)
{
	uint64_t base = rttmin;

	if (p->base_end_ns == 0) {
		p->base_cur_ns = srtt;
		p->base_prev_ns = UINT64_MAX;
		p->base_end_ns = now_ns + BX_BOND_BASE_WINDOW_NS;
	}
	p->base_cur_ns = min64(p->base_cur_ns, srtt);
	if (now_ns >= p->base_end_ns) {
		p->base_prev_ns = p->base_cur_ns;
		p->base_cur_ns = srtt;
		p->base_end_ns = now_ns + BX_BOND_BASE_WINDOW_NS;
	}
	if (p->base_prev_ns != UINT64_MAX)
		base = max64(base, min64(p->base_prev_ns, p->base_cur_ns));
	return min64(base, srtt);
}

/* One step of the capacity rule (bx_bond.h), on a live path with RTT. */
static void
capacity_step(const struct bx_bond_conf *c, struct bx_bond_path *p,
	      const struct bx_bond_obs *o, uint64_t now_ns)
{
	uint64_t srtt = min64(o->srtt_ns, BX_BOND_RTT_MAX_NS);
	uint64_t rttmin = base_rtt(p, srtt, min64(o->rttmin_ns, srtt), now_ns);
	uint64_t jit = min64(o->jitter_ns, BX_BOND_RTT_MAX_NS);
	uint64_t q = srtt - rttmin;
	uint64_t qhi = max64(BX_BOND_QHI_MIN_NS, 2 * jit + BX_BOND_QHI_SLACK_NS);

	bool growing = q > p->q_prev_ns + BX_BOND_QUEUE_GROWTH_NS;

	p->q_prev_ns = q;
	if (q > qhi) {
		/* A queue that grows while we send: we are sending more than
		 * fits. One that stands still is a delay that rose (a new
		 * route) until the base RTT follows it; one while we send
		 * next to nothing (probes) is someone else's. Neither says
		 * anything about what we may send. */
		if (growing && p->r_bps >= c->floor_bps)
			p->c_bps = max64(c->floor_bps,
					 min64(p->c_bps, p->r_bps * 85 / PCT));
	} else if (10 * p->r_bps > 7 * p->c_bps && 2 * q < qhi) {
		/* Near the estimate and no queue: there is room to probe. */
		p->c_bps = min64(BX_BOND_BPS_MAX,
				 p->c_bps + max64(p->c_bps / 8, BX_BOND_CAP_STEP_MIN_BPS));
	}
}

static void
take_capacity(const struct bx_bond_conf *c, struct bx_bond_path *p,
	      const struct bx_bond_obs *o, uint64_t now_ns)
{
	uint64_t cap = min64(o->cap_bps, BX_BOND_BPS_MAX);

	if (!p->seen && cap != 0)
		p->c_bps = cap;
	if (now_ns >= p->cap_next_ns) {
		if (p->live && o->has_rtt)
			capacity_step(c, p, o, now_ns);
		/* A fixed grid: one step per period whatever the tick, and
		 * after a stall no burst of catching-up steps. */
		p->cap_next_ns += BX_BOND_CAP_PERIOD_NS;
		if (p->cap_next_ns <= now_ns)
			p->cap_next_ns = now_ns + BX_BOND_CAP_PERIOD_NS;
	}
	if (cap != 0)
		p->c_bps = min64(p->c_bps, cap);
	p->w_bps = p->c_bps * (BX_BOND_PERMILLE - p->loss_permille) / BX_BOND_PERMILLE;
}

/* PREFERRED's cost (bx_bond.h), in ns. */
static uint64_t
path_cost(const struct bx_bond_path *p, unsigned k)
{
	uint64_t cost, over = 0;

	if (!p->has_rtt)
		return BX_BOND_COST_NO_RTT_NS + k;
	cost = p->srtt_ns + 2 * p->jitter_ns +
	       (uint64_t)p->loss_permille * BX_BOND_COST_PER_PERMILLE_NS;
	/* r / w - 0.8 > 0  <=>  10 r > 8 w, and the term is 100 ms (10 r - 8 w) / (10 w). */
	if (10 * p->r_bps > 8 * p->w_bps)
		over = p->w_bps == 0 ? BX_BOND_COST_OVERLOAD_MAX_NS
				     : muldiv(BX_BOND_COST_OVERLOAD_NS,
					      10 * p->r_bps - 8 * p->w_bps, 10 * p->w_bps);
	cost += min64(over, BX_BOND_COST_OVERLOAD_MAX_NS);
	if (p->refused_grew)
		cost += BX_BOND_COST_REFUSED_NS;
	return cost;
}

static void
observe(struct bx_bond *b, unsigned k, const struct bx_bond_obs *o, uint64_t now_ns)
{
	struct bx_bond_path *p = &b->path[k];

	p->link_up = o->link_up;
	p->has_rtt = o->has_rtt;
	p->srtt_ns = o->has_rtt ? min64(o->srtt_ns, BX_BOND_RTT_MAX_NS) : 0;
	p->jitter_ns = o->has_rtt ? min64(o->jitter_ns, BX_BOND_RTT_MAX_NS) : 0;
	p->loss_permille = (uint32_t)min64(o->loss_permille, BX_BOND_PERMILLE);
	p->known = o->known;
	p->refused_grew = p->seen && o->tx_refused > p->last_refused;
	p->last_refused = o->tx_refused;

	take_state(b, p, o, now_ns);
	take_rate(p, o, now_ns);
	take_capacity(&b->conf, p, o, now_ns);
	p->cost_ns = path_cost(p, k);
	p->seen = true;
}

/* ---- choices across paths ---------------------------------------------- */

/* The cheapest live path other than @skip (UP only if @up_only), ties to
 * the lower index; -1 if there is none. */
static int
cheapest(const struct bx_bond *b, int skip, bool up_only)
{
	int best = -1;
	unsigned k;

	for (k = 0; k < b->n_paths; k++) {
		const struct bx_bond_path *p = &b->path[k];

		if ((int)k == skip || !p->live || (up_only && p->state != BX_BOND_UP))
			continue;
		if (best < 0 || p->cost_ns < b->path[best].cost_ns)
			best = (int)k;
	}
	return best;
}

static void
switch_to(struct bx_bond *b, int k, uint64_t now_ns)
{
	if (k == b->preferred)
		return;
	b->preferred = k;
	b->better_updates = 0;
	if (k < 0)
		return;
	b->preferred_switches++;
	b->switched = true;
	b->last_switch_ns = now_ns;
}

/*
 * @evaluate: an update (the hysteresis counts); otherwise a link event,
 * which may only take the current path away.
 */
static void
choose_preferred(struct bx_bond *b, uint64_t now_ns, bool evaluate)
{
	int c = b->preferred, cand;
	uint64_t cost_c, margin;

	if (c < 0 || !b->path[c].live) {
		switch_to(b, cheapest(b, -1, false), now_ns);
		b->better_updates = 0;
	} else if (evaluate) {
		cost_c = b->path[c].cost_ns;
		/* Costs stay below 2^40 ns (inputs are clamped): no overflow. */
		margin = max64(BX_BOND_SWITCH_MARGIN_MIN_NS,
			       cost_c * b->conf.hysteresis_pct / PCT);
		cand = cheapest(b, c, true);
		if (cand >= 0 && b->path[cand].cost_ns + margin < cost_c) {
			if (b->better_updates < BX_BOND_SWITCH_UPDATES)
				b->better_updates++;
		} else {
			b->better_updates = 0;
		}
		if (b->better_updates >= BX_BOND_SWITCH_UPDATES &&
		    (!b->switched || (now_ns >= b->last_switch_ns &&
				      now_ns - b->last_switch_ns >= b->conf.hold_ns)))
			switch_to(b, cand, now_ns);
	}
	c = b->preferred;
	b->hedge = c >= 0 && b->path[c].state == BX_BOND_SUSPECT ? cheapest(b, c, false) : -1;
}

static void
stripe_leave(struct bx_bond *b, struct bx_bond_path *p)
{
	p->in_stripe = false;
	p->good = false;
	b->stripe_excluded++;
}

static void
stripe_join(struct bx_bond_path *p, uint64_t now_ns)
{
	p->in_stripe = true;
	p->good = false;
	p->joined_ns = now_ns;
}

/* Exit and readmission rules (bx_bond.h), one update's worth. */
static void
stripe_evaluate(struct bx_bond *b, int best, uint64_t now_ns)
{
	const struct bx_bond_conf *c = &b->conf;
	uint64_t min_srtt = UINT64_MAX, sum_c = 0;
	unsigned k;

	for (k = 0; k < b->n_paths; k++) {
		const struct bx_bond_path *p = &b->path[k];

		if (!p->live)
			continue;
		sum_c += p->c_bps;
		if (p->has_rtt)
			min_srtt = min64(min_srtt, p->srtt_ns);
	}
	for (k = 0; k < b->n_paths; k++) {
		struct bx_bond_path *p = &b->path[k];
		/* min_srtt is set whenever p is live with RTT. */
		bool too_slow = p->live && p->has_rtt &&
				p->srtt_ns - min_srtt > c->reorder_timeout_max_ns;

		if (p->in_stripe) {
			bool lossy = p->loss_permille >= c->exclude_loss_permille &&
				     p->known >= BX_BOND_LOSS_MIN_KNOWN;
			bool small = now_ns >= p->joined_ns &&
				     now_ns - p->joined_ns >= c->readmit_ns &&
				     p->c_bps * PCT < sum_c * BX_BOND_STRIPE_MIN_SHARE_PCT;

			if ((int)k != best && (!p->live || lossy || too_slow || small))
				stripe_leave(b, p);
			continue;
		}
		if (!p->live || p->loss_permille >= c->readmit_loss_permille || too_slow) {
			p->good = false;
			continue;
		}
		if (!p->good) {
			p->good = true;
			p->good_since_ns = now_ns;
		}
		if (now_ns >= p->good_since_ns && now_ns - p->good_since_ns >= c->readmit_ns)
			stripe_join(p, now_ns);
	}
}

static uint64_t
reorder_timeout(const struct bx_bond *b)
{
	uint64_t max_t = b->conf.reorder_timeout_max_ns;
	uint64_t lo = UINT64_MAX, hi = 0, jit = 0, t;
	unsigned i, with_rtt = 0;

	if (b->n_stripe < 2)
		return min64(max_t, BX_BOND_REORDER_MIN_NS);
	for (i = 0; i < b->n_stripe; i++) {
		const struct bx_bond_path *p = &b->path[b->stripe[i]];

		if (!p->has_rtt)
			continue;
		with_rtt++;
		lo = min64(lo, p->srtt_ns);
		hi = max64(hi, p->srtt_ns);
		jit = max64(jit, p->jitter_ns);
	}
	if (with_rtt < 2)
		return max_t;
	t = max64(BX_BOND_REORDER_MIN_NS, 2 * (hi - lo) + 4 * jit);
	return min64(max_t, t);
}

/*
 * Re-decides everything that compares paths. Called after an update
 * (@evaluate) and after a link event or a reset (not @evaluate: nothing
 * but what the event changed moves).
 */
static void
decide(struct bx_bond *b, uint64_t now_ns, bool evaluate)
{
	int best = cheapest(b, -1, false);
	uint8_t old_set = 0, new_set = 0;
	unsigned k, i, n;

	choose_preferred(b, now_ns, evaluate);

	for (k = 0; k < b->n_paths; k++)
		old_set |= (uint8_t)(b->path[k].in_stripe << k);
	if (evaluate) {
		stripe_evaluate(b, best, now_ns);
	} else {
		for (k = 0; k < b->n_paths; k++)
			if (b->path[k].in_stripe && !b->path[k].live)
				stripe_leave(b, &b->path[k]);
	}
	if (best >= 0 && !b->path[best].in_stripe)
		stripe_join(&b->path[best], now_ns);

	b->n_stripe = 0;
	b->swrr_total = 0;
	for (k = 0; k < b->n_paths; k++) {
		struct bx_bond_path *p = &b->path[k];

		new_set |= (uint8_t)(p->in_stripe << k);
		if (!p->in_stripe)
			continue;
		p->swrr_w = max64(1, p->w_bps / BPS_PER_KBPS);
		b->swrr_total += p->swrr_w;
		b->stripe[b->n_stripe++] = (uint8_t)k;
	}
	/* The counters' sum is 0 only over a fixed set (see bx_bond.h). */
	if (new_set != old_set)
		for (k = 0; k < b->n_paths; k++)
			b->path[k].swrr_cur = 0;

	/* Not-dead paths, cheapest first (insertion sort of at most 4). */
	n = 0;
	for (k = 0; k < b->n_paths; k++) {
		if (!b->path[k].not_dead)
			continue;
		for (i = n; i > 0 && b->path[b->redundant[i - 1]].cost_ns > b->path[k].cost_ns;
		     i--)
			b->redundant[i] = b->redundant[i - 1];
		b->redundant[i] = (uint8_t)k;
		n++;
	}
	b->n_redundant = (uint8_t)n;

	b->reorder_ns = reorder_timeout(b);
}

/* ---- public ------------------------------------------------------------- */

int
bx_bond_init(struct bx_bond *b, const struct bx_bond_conf *c, unsigned n_paths,
	     uint64_t now_ns)
{
	unsigned k;

	if (c == NULL || n_paths == 0 || n_paths > BX_BOND_MAX_PATHS || !conf_valid(c))
		return -EINVAL;

	/* Readers may be looking: no memset over what they read. */
	memset((char *)b + offsetof(struct bx_bond, conf), 0,
	       sizeof(*b) - offsetof(struct bx_bond, conf));
	b->conf = *c;
	b->n_paths = n_paths;
	for (k = 0; k < n_paths; k++)
		path_init(b, k, now_ns);
	b->preferred = 0;
	b->hedge = -1;
	decide(b, now_ns, false);
	publish(b);
	return 0;
}

void
bx_bond_reset_path(struct bx_bond *b, unsigned k, uint64_t now_ns)
{
	BX_ASSERT(k < b->n_paths);
	path_init(b, k, now_ns);
	decide(b, now_ns, false);
	publish(b);
}

void
bx_bond_update(struct bx_bond *b, const struct bx_bond_obs obs[], uint64_t now_ns)
{
	unsigned k;

	for (k = 0; k < b->n_paths; k++)
		observe(b, k, &obs[k], now_ns);
	decide(b, now_ns, true);
	publish(b);
}

void
bx_bond_link_down(struct bx_bond *b, unsigned k, uint64_t now_ns)
{
	struct bx_bond_path *p;

	BX_ASSERT(k < b->n_paths);
	p = &b->path[k];
	p->link_up = false;
	p->live = false;
	p->not_dead = false;
	/* A carrier flap between two updates is a break too: readmission
	 * waits readmit_ns again. */
	p->good = false;
	go_down(b, p, now_ns);
	decide(b, now_ns, false);
	publish(b);
}

int
bx_bond_stripe_pick(struct bx_bond *b, uint32_t len)
{
	struct bx_bond_path *best = NULL;
	int64_t l;
	int pick = -1;
	unsigned i;

	if (b->n_stripe <= 1)
		return b->n_stripe == 0 ? -1 : b->stripe[0];
	l = len == 0 ? 1 : len > BX_BOND_STRIPE_LEN_MAX ? BX_BOND_STRIPE_LEN_MAX : len;
	for (i = 0; i < b->n_stripe; i++) {
		struct bx_bond_path *p = &b->path[b->stripe[i]];

		p->swrr_cur += (int64_t)p->swrr_w * l;
		if (best == NULL || p->swrr_cur > best->swrr_cur) {
			best = p;
			pick = b->stripe[i];
		}
	}
	best->swrr_cur -= (int64_t)b->swrr_total * l;
	return pick;
}

int
bx_bond_preferred(const struct bx_bond *b)
{
	return b->preferred;
}

int
bx_bond_hedge(const struct bx_bond *b)
{
	return b->hedge;
}

unsigned
bx_bond_redundant(const struct bx_bond *b, uint8_t out[BX_BOND_MAX_PATHS])
{
	memcpy(out, b->redundant, b->n_redundant);
	return b->n_redundant;
}

uint64_t
bx_bond_reorder_timeout_ns(const struct bx_bond *b)
{
	return b->reorder_ns;
}
