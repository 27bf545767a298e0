/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suite "bond": lib/bond, the per-peer path scheduler. Configuration
 * limits; the path state machine (table of observation sequences); which
 * paths REDUNDANT keeps, also under 25 % random loss; STRIPE's split over
 * 10 000 picks, exclusion, readmission and the always-kept best path;
 * PREFERRED's cost (table), hysteresis (table), consecutive updates, hold,
 * failover and hedge; the capacity rule (table), its growth whatever the
 * tick, the rate estimate; the reorder timeout (table); link events and
 * path resets.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bx_bond.h"
#include "bx_common.h"

#define MS UINT64_C(1000000) /* ns */
#define US UINT64_C(1000)    /* ns */
#define S_NS UINT64_C(1000000000)
#define MBIT UINT64_C(1000000)
#define T0 (UINT64_C(5000) * MS) /* any start time but 0 */
#define TICK (10 * MS)
#define NEVER UINT64_MAX

/* ---- a simulated owner ------------------------------------------------- */

struct sim {
	struct bx_bond b;
	struct bx_bond_obs obs[BX_BOND_MAX_PATHS];
	uint64_t rate[BX_BOND_MAX_PATHS]; /* bit/s sent on each path */
	uint64_t now, tick;
	unsigned n;
	bool auto_echo; /* a path with misses 0 and a streak just got an echo */
};

/* A path answering every probe with RTT @srtt, no jitter, no loss. */
static void
healthy(struct bx_bond_obs *o, uint64_t srtt)
{
	o->link_up = true;
	o->has_rtt = true;
	o->srtt_ns = srtt;
	o->rttmin_ns = srtt;
	o->jitter_ns = 0;
	o->loss_permille = 0;
	o->known = 20;
	o->misses = 0;
	o->streak = 20;
}

static void
sim_init(struct sim *s, unsigned n, const struct bx_bond_conf *conf)
{
	struct bx_bond_conf def;
	unsigned k;

	memset(s, 0, sizeof(*s));
	bx_bond_conf_defaults(&def);
	s->n = n;
	s->now = T0;
	s->tick = TICK;
	s->auto_echo = true;
	assert_int_equal(bx_bond_init(&s->b, conf != NULL ? conf : &def, n, T0), 0);
	for (k = 0; k < n; k++)
		healthy(&s->obs[k], 20 * MS);
}

static void
sim_tick(struct sim *s)
{
	unsigned k;

	s->now += s->tick;
	for (k = 0; k < s->n; k++) {
		struct bx_bond_obs *o = &s->obs[k];

		o->tx_bytes += s->rate[k] / 8 * s->tick / S_NS;
		if (s->auto_echo && o->link_up && o->misses == 0 && o->streak > 0)
			o->last_echo_ns = s->now;
	}
	bx_bond_update(&s->b, s->obs, s->now);
}

static void
sim_ticks(struct sim *s, unsigned n)
{
	while (n-- > 0)
		sim_tick(s);
}

static struct bx_bond_stats
rd(const struct sim *s)
{
	struct bx_bond_stats st;

	bx_bond_read(&s->b, &st);
	return st;
}

static bool
in_redundant(const struct bx_bond *b, unsigned k)
{
	uint8_t out[BX_BOND_MAX_PATHS];
	unsigned i, n = bx_bond_redundant(b, out);

	for (i = 0; i < n; i++)
		if (out[i] == k)
			return true;
	return false;
}

/* ---- configuration ------------------------------------------------------ */

static void
test_conf_defaults(void **state)
{
	struct bx_bond_conf c;
	struct sim s;
	struct bx_bond_stats st;
	unsigned k;

	(void)state;
	memset(&c, 0xa5, sizeof(c));
	bx_bond_conf_defaults(&c);
	assert_int_equal(c.down_after, 3);
	assert_int_equal(c.up_after, 5);
	assert_int_equal(c.exclude_loss_permille, 100);
	assert_int_equal(c.readmit_loss_permille, 20);
	assert_int_equal(c.readmit_ns, 3 * S_NS);
	assert_int_equal(c.hysteresis_pct, 20);
	assert_int_equal(c.hold_ns, 1 * S_NS);
	assert_int_equal(c.reorder_timeout_max_ns, 100 * MS);
	assert_int_equal(c.dead_ns, 2 * S_NS);
	assert_int_equal(c.initial_bps, 10 * MBIT);
	assert_int_equal(c.floor_bps, 1 * MBIT);

	/* A new bond: all UP, all in S and not dead, path 0 preferred. */
	sim_init(&s, 3, &c);
	st = rd(&s);
	assert_int_equal(st.n_paths, 3);
	assert_int_equal(st.preferred, 0);
	assert_int_equal(st.hedge, -1);
	for (k = 0; k < 3; k++) {
		assert_int_equal(st.path[k].state, BX_BOND_UP);
		assert_int_equal(st.path[k].cap_bps, 10 * MBIT);
		assert_int_equal(st.path[k].weight_bps, 10 * MBIT);
		assert_int_equal(st.path[k].rate_bps, 0);
		assert_true(st.path[k].in_stripe);
		assert_true(st.path[k].in_redundant);
	}
	/* Three members, no RTT yet: the skew is unknown, so the cap. */
	assert_int_equal(bx_bond_reorder_timeout_ns(&s.b), 100 * MS);
	assert_int_equal(st.reorder_timeout_ns, 100 * MS);
	assert_int_equal(st.preferred_switches + st.stripe_excluded + st.path_down +
				 st.path_up, 0);
	/* Picks work before any update. */
	for (k = 0; k < 6; k++)
		assert_int_equal(bx_bond_stripe_pick(&s.b, 1000), (int)(k % 3));
}

struct conf_case {
	const char *name;
	void (*set)(struct bx_bond_conf *c);
	unsigned n_paths;
	int ret;
};

static void set_none(struct bx_bond_conf *c) { (void)c; }
static void set_down0(struct bx_bond_conf *c) { c->down_after = 0; }
static void set_down65(struct bx_bond_conf *c) { c->down_after = 65; }
static void set_down64(struct bx_bond_conf *c) { c->down_after = 64; }
static void set_up0(struct bx_bond_conf *c) { c->up_after = 0; }
static void set_up65(struct bx_bond_conf *c) { c->up_after = 65; }
static void set_excl0(struct bx_bond_conf *c)
{
	c->exclude_loss_permille = 0;
	c->readmit_loss_permille = 0;
}
static void set_excl1001(struct bx_bond_conf *c) { c->exclude_loss_permille = 1001; }
static void set_excl1000(struct bx_bond_conf *c) { c->exclude_loss_permille = 1000; }
static void set_readmit_eq(struct bx_bond_conf *c) { c->readmit_loss_permille = 100; }
static void set_readmit0(struct bx_bond_conf *c) { c->readmit_loss_permille = 0; }
static void set_hyst101(struct bx_bond_conf *c) { c->hysteresis_pct = 101; }
static void set_hyst100(struct bx_bond_conf *c) { c->hysteresis_pct = 100; }
static void set_readmit_long(struct bx_bond_conf *c) { c->readmit_ns = BX_BOND_TIME_MAX_NS + 1; }
static void set_hold_long(struct bx_bond_conf *c) { c->hold_ns = BX_BOND_TIME_MAX_NS + 1; }
static void set_dead_long(struct bx_bond_conf *c) { c->dead_ns = BX_BOND_TIME_MAX_NS + 1; }
static void set_reorder0(struct bx_bond_conf *c) { c->reorder_timeout_max_ns = 0; }
static void set_reorder_long(struct bx_bond_conf *c)
{
	c->reorder_timeout_max_ns = BX_BOND_TIME_MAX_NS + 1;
}
static void set_floor0(struct bx_bond_conf *c) { c->floor_bps = 0; }
static void set_initial_low(struct bx_bond_conf *c) { c->initial_bps = c->floor_bps - 1; }
static void set_initial_high(struct bx_bond_conf *c) { c->initial_bps = BX_BOND_BPS_MAX + 1; }
static void set_initial_max(struct bx_bond_conf *c) { c->initial_bps = BX_BOND_BPS_MAX; }
static void set_zero_times(struct bx_bond_conf *c)
{
	c->readmit_ns = 0;
	c->hold_ns = 0;
	c->dead_ns = 0;
}

static const struct conf_case conf_cases[] = {
	{ "defaults", set_none, 2, 0 },
	{ "one path", set_none, 1, 0 },
	{ "four paths", set_none, 4, 0 },
	{ "no path", set_none, 0, -EINVAL },
	{ "five paths", set_none, 5, -EINVAL },
	{ "down_after 0", set_down0, 2, -EINVAL },
	{ "down_after 65", set_down65, 2, -EINVAL },
	{ "down_after 64", set_down64, 2, 0 },
	{ "up_after 0", set_up0, 2, -EINVAL },
	{ "up_after 65", set_up65, 2, -EINVAL },
	{ "exclude 0", set_excl0, 2, -EINVAL },
	{ "exclude 1001", set_excl1001, 2, -EINVAL },
	{ "exclude 1000", set_excl1000, 2, 0 },
	{ "readmit == exclude", set_readmit_eq, 2, -EINVAL },
	{ "readmit 0", set_readmit0, 2, 0 },
	{ "hysteresis 101", set_hyst101, 2, -EINVAL },
	{ "hysteresis 100", set_hyst100, 2, 0 },
	{ "readmit too long", set_readmit_long, 2, -EINVAL },
	{ "hold too long", set_hold_long, 2, -EINVAL },
	{ "dead too long", set_dead_long, 2, -EINVAL },
	{ "reorder max 0", set_reorder0, 2, -EINVAL },
	{ "reorder max too long", set_reorder_long, 2, -EINVAL },
	{ "floor 0", set_floor0, 2, -EINVAL },
	{ "initial below floor", set_initial_low, 2, -EINVAL },
	{ "initial above max", set_initial_high, 2, -EINVAL },
	{ "initial at max", set_initial_max, 2, 0 },
	{ "zero times", set_zero_times, 2, 0 },
};

static void
test_conf_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(conf_cases); i++) {
		const struct conf_case *k = &conf_cases[i];
		struct bx_bond b, before;
		struct bx_bond_conf c;

		print_message("# conf: %s\n", k->name);
		bx_bond_conf_defaults(&c);
		k->set(&c);
		memset(&b, 0x5a, sizeof(b));
		memcpy(&before, &b, sizeof(b));
		assert_int_equal(bx_bond_init(&b, &c, k->n_paths, T0), k->ret);
		if (k->ret != 0)
			assert_memory_equal(&b, &before, sizeof(b));
		else
			assert_int_equal(bx_bond_preferred(&b), 0);
	}
	{
		struct bx_bond b;

		assert_int_equal(bx_bond_init(&b, NULL, 2, T0), -EINVAL);
	}
}

/* ---- path state ---------------------------------------------------------- */

struct state_step {
	bool link;
	uint32_t misses, streak;
	bool echo; /* an echo arrived at this update */
	enum bx_bond_state want;
};

#define STEPS_MAX 6

struct state_case {
	const char *name;
	unsigned n_steps;
	struct state_step steps[STEPS_MAX];
	uint64_t path_down, path_up;
};

#define U BX_BOND_UP
#define SU BX_BOND_SUSPECT
#define D BX_BOND_DOWN

static const struct state_case state_cases[] = {
	{ "one miss: SUSPECT; an echo: UP", 3,
	  { { true, 0, 20, true, U }, { true, 1, 0, false, SU }, { true, 0, 1, true, U } }, 0, 0 },
	{ "misses climb to DOWN at 3", 4,
	  { { true, 1, 0, false, SU }, { true, 2, 0, false, SU }, { true, 3, 0, false, D },
	    { true, 4, 0, false, D } }, 1, 0 },
	{ "UP straight to DOWN", 1, { { true, 5, 0, false, D } }, 1, 0 },
	{ "DOWN needs 5 echoes in a row", 4,
	  { { true, 3, 0, false, D }, { true, 0, 4, true, D }, { true, 0, 5, true, U },
	    { true, 0, 6, true, U } }, 1, 1 },
	{ "DOWN: no misses is not enough", 2,
	  { { true, 3, 0, false, D }, { true, 0, 0, false, D } }, 1, 0 },
	{ "link down: DOWN at once", 2,
	  { { true, 0, 20, true, U }, { false, 0, 20, true, D } }, 1, 0 },
	{ "link down from SUSPECT", 2,
	  { { true, 1, 0, false, SU }, { false, 1, 0, false, D } }, 1, 0 },
	{ "link down: echoes do not help", 2,
	  { { false, 0, 20, true, D }, { false, 0, 20, true, D } }, 1, 0 },
	{ "link back: echoes from before the cut do not count", 4,
	  { { true, 0, 20, true, U }, { false, 0, 20, false, D }, { true, 0, 20, false, D },
	    { true, 0, 20, true, U } }, 1, 1 },
	{ "down and up twice", 4,
	  { { true, 3, 0, false, D }, { true, 0, 5, true, U }, { true, 3, 0, false, D },
	    { true, 0, 5, true, U } }, 2, 2 },
};

#undef U
#undef SU
#undef D

static void
test_state_table(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(state_cases); i++) {
		const struct state_case *k = &state_cases[i];
		struct bx_bond_stats st = { 0 };
		struct sim s;

		print_message("# state: %s\n", k->name);
		sim_init(&s, 2, NULL);
		s.auto_echo = false;
		s.obs[1].last_echo_ns = T0;
		for (j = 0; j < k->n_steps; j++) {
			const struct state_step *t = &k->steps[j];

			s.obs[0].link_up = t->link;
			s.obs[0].misses = t->misses;
			s.obs[0].streak = t->streak;
			if (t->echo)
				s.obs[0].last_echo_ns = s.now + s.tick;
			sim_tick(&s);
			st = rd(&s);
			assert_int_equal(st.path[0].state, t->want);
			assert_int_equal(st.path[1].state, BX_BOND_UP);
		}
		assert_int_equal(st.path_down, k->path_down);
		assert_int_equal(st.path_up, k->path_up);
	}
}

/* Carrier lost: everything moves off the path before the next tick. */
static void
test_link_down_immediate(void **state)
{
	struct sim s;
	struct bx_bond_stats st;
	uint8_t out[BX_BOND_MAX_PATHS];
	int i;

	(void)state;
	sim_init(&s, 2, NULL);
	healthy(&s.obs[0], 10 * MS);
	healthy(&s.obs[1], 30 * MS);
	sim_tick(&s);
	assert_int_equal(bx_bond_preferred(&s.b), 0);

	bx_bond_link_down(&s.b, 0, s.now + 1);
	st = rd(&s);
	assert_int_equal(st.path[0].state, BX_BOND_DOWN);
	assert_false(st.path[0].in_stripe);
	assert_false(st.path[0].in_redundant);
	assert_int_equal(st.preferred, 1);
	assert_int_equal(bx_bond_preferred(&s.b), 1);
	assert_int_equal(st.preferred_switches, 1);
	assert_int_equal(st.stripe_excluded, 1);
	assert_int_equal(st.path_down, 1);
	assert_int_equal(bx_bond_redundant(&s.b, out), 1);
	assert_int_equal(out[0], 1);
	for (i = 0; i < 100; i++)
		assert_int_equal(bx_bond_stripe_pick(&s.b, 1200), 1);
	/* Only one path to stripe over: nothing to wait for. */
	assert_int_equal(bx_bond_reorder_timeout_ns(&s.b), 2 * MS);

	/* A second event changes nothing; the next tick agrees. */
	bx_bond_link_down(&s.b, 0, s.now + 2);
	assert_int_equal(rd(&s).path_down, 1);
	s.obs[0].link_up = false;
	sim_tick(&s);
	st = rd(&s);
	assert_int_equal(st.path_down, 1);
	assert_int_equal(st.preferred, 1);

	/* Both gone: nowhere to send. */
	bx_bond_link_down(&s.b, 1, s.now + 1);
	st = rd(&s);
	assert_int_equal(st.preferred, -1);
	assert_int_equal(st.hedge, -1);
	assert_int_equal(bx_bond_stripe_pick(&s.b, 100), -1);
	assert_int_equal(bx_bond_redundant(&s.b, out), 0);
	assert_int_equal(st.path_down, 2);
	assert_int_equal(st.preferred_switches, 1);
}

/* ---- REDUNDANT ------------------------------------------------------------ */

struct dead_case {
	const char *name;
	bool link;
	uint32_t misses;
	uint64_t echo_age; /* NEVER: no echo ever */
	bool not_dead;
};

static const struct dead_case dead_cases[] = {
	{ "answering", true, 0, 0, true },
	{ "two misses, no recent echo", true, 2, NEVER, true },
	{ "down, echo 1 s ago", true, 3, 1 * S_NS, true },
	{ "down, echo exactly dead_ns ago", true, 3, 2 * S_NS, true },
	{ "down, echo dead_ns + 1 ago", true, 3, 2 * S_NS + 1, false },
	{ "down, never an echo", true, 3, NEVER, false },
	{ "many misses, echo just now", true, 40, 0, true },
	{ "link down, echo just now", false, 0, 0, false },
};

static void
test_not_dead_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(dead_cases); i++) {
		const struct dead_case *k = &dead_cases[i];
		struct sim s;

		print_message("# not dead: %s\n", k->name);
		sim_init(&s, 2, NULL);
		s.auto_echo = false;
		s.obs[0].link_up = k->link;
		s.obs[0].misses = k->misses;
		s.obs[0].streak = 0;
		s.obs[0].last_echo_ns = k->echo_age == NEVER ? 0 : s.now + s.tick - k->echo_age;
		sim_tick(&s);
		assert_int_equal(in_redundant(&s.b, 0), k->not_dead);
		assert_int_equal(rd(&s).path[0].in_redundant, k->not_dead);
		assert_true(in_redundant(&s.b, 1));
	}
}

/* Cheapest first. */
static void
test_redundant_order(void **state)
{
	struct sim s;
	uint8_t out[BX_BOND_MAX_PATHS];

	(void)state;
	sim_init(&s, 3, NULL);
	healthy(&s.obs[0], 50 * MS);
	healthy(&s.obs[1], 10 * MS);
	healthy(&s.obs[2], 30 * MS);
	sim_tick(&s);
	assert_int_equal(bx_bond_redundant(&s.b, out), 3);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 2);
	assert_int_equal(out[2], 0);
}

static uint64_t
xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

#define RL_PROBES 3000u
#define RL_LOSS_PCT 25u
#define RL_WINDOW 20u

/*
 * Two paths losing 25 % of probes at random, as the probe engine would
 * report them (probe every 100 ms, judged 20 ms later, a 20-fate loss
 * window), with a tick every 10 ms. Runs of 3 losses take the paths DOWN
 * now and then, yet REDUNDANT never loses either of them.
 */
static void
test_redundant_random_loss(void **state)
{
	struct sim s;
	uint64_t rng = 0x9e3779b97f4a7c15u, fates[2] = { 0, 0 };
	uint32_t known[2] = { 0, 0 };
	unsigned probe, t, k, down_seen = 0;
	uint8_t out[BX_BOND_MAX_PATHS];

	(void)state;
	sim_init(&s, 2, NULL);
	s.auto_echo = false;
	for (probe = 0; probe < RL_PROBES; probe++) {
		for (t = 0; t < 10; t++) {
			if (t == 2) {
				for (k = 0; k < 2; k++) {
					struct bx_bond_obs *o = &s.obs[k];
					bool lost = xorshift(&rng) % 100 < RL_LOSS_PCT;
					uint64_t w;

					fates[k] = fates[k] << 1 | lost;
					if (known[k] < RL_WINDOW)
						known[k]++;
					w = fates[k] & ((UINT64_C(1) << RL_WINDOW) - 1);
					o->known = known[k];
					o->loss_permille = (uint32_t)__builtin_popcountll(w) * 1000 /
							   known[k];
					if (lost) {
						o->misses++;
						o->streak = 0;
					} else {
						o->misses = 0;
						o->streak++;
						o->last_echo_ns = s.now + s.tick;
					}
				}
			}
			sim_tick(&s);
			assert_int_equal(bx_bond_redundant(&s.b, out), 2);
			if (rd(&s).path[0].state == BX_BOND_DOWN ||
			    rd(&s).path[1].state == BX_BOND_DOWN)
				down_seen++;
		}
	}
	print_message("# random loss: %" PRIu64 " transitions to DOWN, %u ticks with a path DOWN\n",
		      rd(&s).path_down, down_seen);
	/* The test bites: the state machine did take paths down. */
	assert_true(rd(&s).path_down >= 10);
	assert_true(down_seen > 0);
}

/* ---- STRIPE ----------------------------------------------------------- */

#define PICKS 10000u

struct split_case {
	const char *name;
	unsigned n;
	uint64_t cap_mbps[BX_BOND_MAX_PATHS];
	uint32_t len_a, len_b; /* packet lengths, alternating */
	unsigned picks[BX_BOND_MAX_PATHS]; /* exact, when len_a == len_b */
};

static const struct split_case split_cases[] = {
	{ "1:1", 2, { 10, 10 }, 1000, 1000, { 5000, 5000 } },
	{ "1:3", 2, { 10, 30 }, 1000, 1000, { 2500, 7500 } },
	{ "3:1", 2, { 30, 10 }, 1400, 1400, { 7500, 2500 } },
	{ "1:2:5", 3, { 10, 20, 50 }, 1000, 1000, { 1250, 2500, 6250 } },
	{ "1:1:1:1", 4, { 25, 25, 25, 25 }, 64, 64, { 2500, 2500, 2500, 2500 } },
	{ "1:3, mixed lengths", 2, { 10, 30 }, 100, 1400, { 0, 0 } },
	{ "1:2:5, mixed lengths", 3, { 10, 20, 50 }, 64, 1500, { 0, 0, 0 } },
};

static void
test_stripe_split_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(split_cases); i++) {
		const struct split_case *c = &split_cases[i];
		uint64_t bytes[BX_BOND_MAX_PATHS] = { 0 }, total = 0, wsum = 0;
		unsigned picks[BX_BOND_MAX_PATHS] = { 0 }, k, j;
		struct sim s;

		print_message("# split: %s\n", c->name);
		sim_init(&s, c->n, NULL);
		for (k = 0; k < c->n; k++) {
			s.obs[k].cap_bps = c->cap_mbps[k] * MBIT;
			wsum += c->cap_mbps[k];
		}
		sim_tick(&s);
		for (k = 0; k < c->n; k++) {
			assert_int_equal(rd(&s).path[k].weight_bps, c->cap_mbps[k] * MBIT);
			assert_true(rd(&s).path[k].in_stripe);
		}
		for (j = 0; j < PICKS; j++) {
			uint32_t len = j % 2 ? c->len_b : c->len_a;
			int p = bx_bond_stripe_pick(&s.b, len);

			assert_true(p >= 0 && p < (int)c->n);
			picks[p]++;
			bytes[p] += len;
			total += len;
		}
		for (k = 0; k < c->n; k++) {
			uint64_t want = total * c->cap_mbps[k] / wsum;
			uint64_t off = bytes[k] > want ? bytes[k] - want : want - bytes[k];

			if (c->len_a == c->len_b)
				assert_int_equal(picks[k], c->picks[k]);
			/* Bytes in proportion, off by less than a packet per path. */
			assert_true(off <= (uint64_t)c->n * 1500);
		}
	}
}

/*
 * Lengths outside 1..65535 are clamped: a 0-byte packet still moves the
 * round robin on, and the largest weights times UINT32_MAX would overflow
 * the counters (UBSan would say so) and scramble the split.
 */
static void
test_stripe_len_clamp(void **state)
{
	unsigned picks[BX_BOND_MAX_PATHS] = { 0 }, j, k;
	struct sim s;

	(void)state;
	sim_init(&s, 2, NULL);
	sim_tick(&s);
	for (j = 0; j < 1000; j++)
		picks[bx_bond_stripe_pick(&s.b, 0)]++;
	assert_int_equal(picks[0], 500);
	assert_int_equal(picks[1], 500);

	memset(picks, 0, sizeof(picks));
	sim_init(&s, 4, NULL);
	for (k = 0; k < 4; k++)
		s.obs[k].cap_bps = BX_BOND_BPS_MAX;
	sim_tick(&s);
	for (j = 0; j < PICKS; j++)
		picks[bx_bond_stripe_pick(&s.b, UINT32_MAX)]++;
	for (k = 0; k < 4; k++)
		assert_int_equal(picks[k], PICKS / 4);
}

struct exclude_case {
	const char *name;
	uint32_t loss, known;
	bool in_stripe;
};

static const struct exclude_case exclude_cases[] = {
	{ "no loss", 0, 20, true },
	{ "just below the threshold", 99, 20, true },
	{ "at the threshold", 100, 20, false },
	{ "lossy", 300, 20, false },
	{ "lossy but only 9 fates known", 500, 9, true },
	{ "lossy with 10 fates known", 500, 10, false },
};

static void
test_stripe_exclude_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(exclude_cases); i++) {
		const struct exclude_case *c = &exclude_cases[i];
		unsigned j, picks[2] = { 0, 0 };
		struct sim s;

		print_message("# exclude: %s\n", c->name);
		sim_init(&s, 2, NULL);
		s.obs[1].loss_permille = c->loss;
		s.obs[1].known = c->known;
		sim_tick(&s);
		assert_int_equal(rd(&s).path[1].in_stripe, c->in_stripe);
		assert_int_equal(rd(&s).stripe_excluded, c->in_stripe ? 0 : 1);
		for (j = 0; j < PICKS; j++)
			picks[bx_bond_stripe_pick(&s.b, 1000)]++;
		if (c->in_stripe) {
			assert_true(picks[1] > 0);
		} else {
			assert_int_equal(picks[1], 0);
			assert_int_equal(picks[0], PICKS);
		}
	}
}

/* Back in after readmit_ns of loss below the readmit level, not before;
 * a relapse restarts the clock. */
static void
test_stripe_readmission(void **state)
{
	struct sim s;
	uint64_t good_from;
	unsigned picks[2] = { 0, 0 }, j;

	(void)state;
	sim_init(&s, 2, NULL);
	s.obs[1].loss_permille = 300;
	sim_tick(&s);
	assert_false(rd(&s).path[1].in_stripe);

	/* Exactly the readmit level is not below it. */
	s.obs[1].loss_permille = 20;
	sim_ticks(&s, 400);
	assert_false(rd(&s).path[1].in_stripe);

	s.obs[1].loss_permille = 19;
	sim_tick(&s);
	good_from = s.now;
	/* A relapse 1 s in restarts the clock. */
	while (s.now < good_from + 1 * S_NS)
		sim_tick(&s);
	s.obs[1].loss_permille = 50;
	sim_tick(&s);
	assert_false(rd(&s).path[1].in_stripe);
	s.obs[1].loss_permille = 19;
	sim_tick(&s);
	good_from = s.now;
	while (s.now + s.tick < good_from + 3 * S_NS) {
		sim_tick(&s);
		assert_false(rd(&s).path[1].in_stripe);
		assert_int_equal(bx_bond_stripe_pick(&s.b, 1000), 0);
	}
	sim_tick(&s);
	assert_int_equal(s.now, good_from + 3 * S_NS);
	assert_true(rd(&s).path[1].in_stripe);
	/* Weights 10 and 9.81 Mbit/s: 504.8 of 1000 on path 0. */
	assert_int_equal(rd(&s).path[1].weight_bps, 9810000);
	for (j = 0; j < 1000; j++)
		picks[bx_bond_stripe_pick(&s.b, 1000)]++;
	assert_true(picks[0] == 504 || picks[0] == 505);
	assert_int_equal(picks[0] + picks[1], 1000);
	assert_int_equal(rd(&s).stripe_excluded, 1);
}

/* Too slow for the reorder buffer: out when the srtt spread exceeds the cap. */
static void
test_stripe_srtt_spread(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, 2, NULL);
	healthy(&s.obs[0], 10 * MS);
	healthy(&s.obs[1], 110 * MS);
	sim_tick(&s);
	assert_true(rd(&s).path[1].in_stripe);
	s.obs[1].srtt_ns = 110 * MS + 1;
	sim_tick(&s);
	assert_false(rd(&s).path[1].in_stripe);
	assert_int_equal(rd(&s).stripe_excluded, 1);
	/* The spread alone keeps it out, however clean it is. */
	sim_ticks(&s, 500);
	assert_false(rd(&s).path[1].in_stripe);
	/* Once the spread is back, it returns after readmit_ns. */
	s.obs[1].srtt_ns = 50 * MS;
	sim_tick(&s);
	sim_ticks(&s, 299);
	assert_false(rd(&s).path[1].in_stripe);
	sim_tick(&s);
	assert_true(rd(&s).path[1].in_stripe);
}

/*
 * Capacity below 5 % of the total: out, but only after readmit_ns in the
 * set (a starved path would never show more), and let back in on the
 * readmission clock to try again.
 */
static void
test_stripe_small_capacity(void **state)
{
	struct sim s;
	uint64_t t_in;

	(void)state;
	sim_init(&s, 3, NULL);
	s.obs[0].cap_bps = 100 * MBIT;
	s.obs[1].cap_bps = 6 * MBIT;   /* 6 / 110: 5.5 % */
	s.obs[2].cap_bps = 4 * MBIT;   /* 4 / 110: 3.6 % */
	while (s.now + s.tick < T0 + 3 * S_NS) {
		sim_tick(&s);
		assert_true(rd(&s).path[2].in_stripe);
	}
	sim_tick(&s);
	assert_false(rd(&s).path[2].in_stripe);
	assert_true(rd(&s).path[1].in_stripe);
	assert_int_equal(rd(&s).stripe_excluded, 1);
	/* Clean otherwise: back readmit_ns after the first clean update that
	 * finds it out, and out again readmit_ns later. */
	sim_ticks(&s, 300);
	assert_false(rd(&s).path[2].in_stripe);
	sim_tick(&s);
	assert_true(rd(&s).path[2].in_stripe);
	t_in = s.now;
	while (s.now + s.tick < t_in + 3 * S_NS)
		sim_tick(&s);
	assert_true(rd(&s).path[2].in_stripe);
	sim_tick(&s);
	assert_false(rd(&s).path[2].in_stripe);
	assert_int_equal(rd(&s).stripe_excluded, 2);
}

/* The cheapest live path always stays in S, however bad. */
static void
test_stripe_best_always_in(void **state)
{
	struct sim s;
	unsigned j;

	(void)state;
	sim_init(&s, 2, NULL);
	healthy(&s.obs[0], 10 * MS);
	healthy(&s.obs[1], 20 * MS);
	s.obs[0].loss_permille = 500;
	s.obs[1].loss_permille = 400;
	sim_tick(&s);
	/* Costs 510 ms and 420 ms: path 1 stays, path 0 leaves. */
	assert_false(rd(&s).path[0].in_stripe);
	assert_true(rd(&s).path[1].in_stripe);
	for (j = 0; j < 100; j++)
		assert_int_equal(bx_bond_stripe_pick(&s.b, 1000), 1);
	/* Path 1 cut: path 0, still lossy, is the best live one and goes in
	 * at once, without the readmission wait. */
	bx_bond_link_down(&s.b, 1, s.now + 1);
	assert_true(rd(&s).path[0].in_stripe);
	for (j = 0; j < 100; j++)
		assert_int_equal(bx_bond_stripe_pick(&s.b, 1000), 0);
	s.obs[1].link_up = false;
	sim_tick(&s);
	assert_true(rd(&s).path[0].in_stripe);
	assert_int_equal(bx_bond_stripe_pick(&s.b, 1000), 0);
}

/* ---- PREFERRED ------------------------------------------------------------ */

struct cost_case {
	const char *name;
	bool has_rtt;
	uint64_t srtt, jitter;
	uint32_t loss;
	uint64_t cap, rate; /* bit/s */
	bool refused;
	uint64_t cost_us;
};

static const struct cost_case cost_cases[] = {
	{ "srtt + 2 jitter", true, 10 * MS, 1 * MS, 0, 10 * MBIT, 0, false, 12000 },
	{ "1 ms per permille", true, 10 * MS, 1 * MS, 5, 10 * MBIT, 0, false, 17000 },
	{ "r / w = 0.8: no load term", true, 10 * MS, 0, 0, 10 * MBIT, 8 * MBIT, false, 10000 },
	{ "r / w = 0.9: 10 ms", true, 10 * MS, 0, 0, 10 * MBIT, 9 * MBIT, false, 20000 },
	{ "loss lowers w: r / w = 1", true, 10 * MS, 0, 100, 10 * MBIT, 9 * MBIT, false, 130000 },
	{ "load term capped at 1 s", true, 10 * MS, 0, 0, 10 * MBIT, 400 * MBIT, false, 1010000 },
	{ "queue refused: 20 ms", true, 10 * MS, 0, 0, 10 * MBIT, 0, true, 30000 },
	{ "all lost: w = 0, idle", true, 10 * MS, 0, 1000, 10 * MBIT, 0, false, 1010000 },
	{ "all lost: w = 0, sending", true, 10 * MS, 0, 1000, 10 * MBIT, 1 * MBIT, false, 2010000 },
	{ "no RTT yet", false, 10 * MS, 1 * MS, 5, 10 * MBIT, 9 * MBIT, true, 10000000 },
};

static void
test_cost_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cost_cases); i++) {
		const struct cost_case *c = &cost_cases[i];
		struct sim s;

		print_message("# cost: %s\n", c->name);
		sim_init(&s, 2, NULL);
		s.obs[0].has_rtt = c->has_rtt;
		s.obs[0].srtt_ns = c->srtt;
		s.obs[0].rttmin_ns = c->srtt;
		s.obs[0].jitter_ns = c->jitter;
		s.obs[0].loss_permille = c->loss;
		s.obs[0].cap_bps = c->cap;
		s.rate[0] = c->rate;
		sim_tick(&s);
		if (c->refused)
			s.obs[0].tx_refused += 3;
		sim_tick(&s);
		assert_int_equal(rd(&s).path[0].rate_bps, c->rate);
		assert_int_equal(rd(&s).path[0].cost_us, c->cost_us);
		/* A refusal counts for the update that sees it only. */
		sim_tick(&s);
		if (c->refused && c->has_rtt)
			assert_int_equal(rd(&s).path[0].cost_us, c->cost_us - 20000);
	}
}

static void
test_preferred_lower_rtt(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, 2, NULL);
	healthy(&s.obs[0], 50 * MS);
	healthy(&s.obs[1], 10 * MS);
	sim_ticks(&s, 2);
	assert_int_equal(bx_bond_preferred(&s.b), 0);
	sim_tick(&s);
	assert_int_equal(bx_bond_preferred(&s.b), 1);
	assert_int_equal(rd(&s).preferred, 1);
	assert_int_equal(rd(&s).preferred_switches, 1);
	sim_ticks(&s, 500);
	assert_int_equal(bx_bond_preferred(&s.b), 1);
	assert_int_equal(rd(&s).preferred_switches, 1);
}

/* Without RTT, by index; a measured path beats an unmeasured one. */
static void
test_preferred_unmeasured(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, 3, NULL);
	s.obs[0].has_rtt = false;
	s.obs[1].has_rtt = false;
	s.obs[2].has_rtt = false;
	sim_ticks(&s, 10);
	assert_int_equal(bx_bond_preferred(&s.b), 0);
	/* Path 0 gone: the lowest index of the rest. */
	s.obs[0].link_up = false;
	sim_tick(&s);
	assert_int_equal(bx_bond_preferred(&s.b), 1);
	/* Path 2 measured: it wins over the unmeasured current one. */
	s.obs[2].has_rtt = true;
	sim_ticks(&s, 2);
	assert_int_equal(bx_bond_preferred(&s.b), 1);
	sim_ticks(&s, 200);
	assert_int_equal(bx_bond_preferred(&s.b), 2);
}

struct hyst_case {
	const char *name;
	uint32_t hysteresis_pct;
	uint64_t cost_c, cost_b;
	bool switches;
};

static const struct hyst_case hyst_cases[] = {
	{ "10 % better: no", 20, 50 * MS, 45 * MS, false },
	{ "exactly 20 % better: no", 20, 50 * MS, 40 * MS, false },
	{ "just over 20 % better: yes", 20, 50 * MS, 40 * MS - 1, true },
	{ "50 % better: yes", 20, 50 * MS, 25 * MS, true },
	{ "small costs: 2 ms at least, exactly: no", 20, 5 * MS, 3 * MS, false },
	{ "small costs: just over 2 ms: yes", 20, 5 * MS, 3 * MS - 1, true },
	{ "no hysteresis: 2 ms still", 0, 50 * MS, 48 * MS, false },
	{ "no hysteresis: over 2 ms", 0, 50 * MS, 48 * MS - 1, true },
	{ "worse: no", 20, 50 * MS, 60 * MS, false },
};

static void
test_preferred_hysteresis_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(hyst_cases); i++) {
		const struct hyst_case *c = &hyst_cases[i];
		struct bx_bond_conf conf;
		struct sim s;

		print_message("# hysteresis: %s\n", c->name);
		bx_bond_conf_defaults(&conf);
		conf.hysteresis_pct = c->hysteresis_pct;
		sim_init(&s, 2, &conf);
		healthy(&s.obs[0], c->cost_c);
		healthy(&s.obs[1], c->cost_b);
		sim_ticks(&s, 300);
		assert_int_equal(bx_bond_preferred(&s.b), c->switches ? 1 : 0);
		assert_int_equal(rd(&s).preferred_switches, c->switches ? 1 : 0);
		assert_int_equal(rd(&s).path[0].cost_us, c->cost_c / US);
	}
}

/* Three updates in a row, and not within hold_ns of the last switch. */
static void
test_preferred_updates_and_hold(void **state)
{
	struct sim s;
	uint64_t t_switch;

	(void)state;
	sim_init(&s, 2, NULL);
	healthy(&s.obs[0], 10 * MS);
	healthy(&s.obs[1], 50 * MS);
	sim_ticks(&s, 5);
	assert_int_equal(bx_bond_preferred(&s.b), 0);

	/* Better for two updates, then not: the count starts over. */
	s.obs[0].srtt_ns = 100 * MS;
	sim_ticks(&s, 2);
	s.obs[0].srtt_ns = 55 * MS;
	sim_tick(&s);
	s.obs[0].srtt_ns = 100 * MS;
	sim_ticks(&s, 2);
	assert_int_equal(bx_bond_preferred(&s.b), 0);
	sim_tick(&s);
	assert_int_equal(bx_bond_preferred(&s.b), 1);
	t_switch = s.now;

	/* Path 0 is back and 80 % better: three updates are not enough
	 * within the hold. */
	s.obs[0].srtt_ns = 10 * MS;
	while (s.now + s.tick < t_switch + 1 * S_NS) {
		sim_tick(&s);
		assert_int_equal(bx_bond_preferred(&s.b), 1);
	}
	sim_tick(&s);
	assert_int_equal(s.now, t_switch + 1 * S_NS);
	assert_int_equal(bx_bond_preferred(&s.b), 0);
	assert_int_equal(rd(&s).preferred_switches, 2);
}

/* The current path dies: the cheapest live one takes over at once, hold
 * or not; striped packets go only where something is live. */
static void
test_preferred_failover(void **state)
{
	struct sim s;
	unsigned j, picks[3] = { 0, 0, 0 };

	(void)state;
	sim_init(&s, 3, NULL);
	healthy(&s.obs[0], 50 * MS);
	healthy(&s.obs[1], 10 * MS);
	healthy(&s.obs[2], 30 * MS);
	sim_ticks(&s, 3);
	assert_int_equal(bx_bond_preferred(&s.b), 1);
	assert_int_equal(rd(&s).preferred_switches, 1);

	/* Within the hold, misses take path 1 down: path 2 (30 ms) at once. */
	s.obs[1].misses = 3;
	s.obs[1].streak = 0;
	sim_tick(&s);
	assert_int_equal(rd(&s).path[1].state, BX_BOND_DOWN);
	assert_int_equal(bx_bond_preferred(&s.b), 2);
	assert_int_equal(rd(&s).preferred_switches, 2);

	for (j = 0; j < 10; j++)
		picks[bx_bond_stripe_pick(&s.b, 1000)]++;
	assert_int_equal(picks[0], 5);
	assert_int_equal(picks[1], 0);
	assert_int_equal(picks[2], 5);

	/* Carrier lost on the new one: the last path, before any tick. */
	bx_bond_link_down(&s.b, 2, s.now + 1);
	assert_int_equal(bx_bond_preferred(&s.b), 0);
	assert_int_equal(rd(&s).preferred_switches, 3);
	for (j = 0; j < 10; j++)
		picks[bx_bond_stripe_pick(&s.b, 1000)]++;
	assert_int_equal(picks[0], 15);
}

static void
test_hedge(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, 3, NULL);
	healthy(&s.obs[0], 10 * MS);
	healthy(&s.obs[1], 50 * MS);
	healthy(&s.obs[2], 30 * MS);
	sim_tick(&s);
	assert_int_equal(bx_bond_preferred(&s.b), 0);
	assert_int_equal(bx_bond_hedge(&s.b), -1);

	/* SUSPECT: copy to the cheapest other live path. */
	s.obs[0].misses = 1;
	s.obs[0].streak = 0;
	sim_tick(&s);
	assert_int_equal(rd(&s).path[0].state, BX_BOND_SUSPECT);
	assert_int_equal(bx_bond_preferred(&s.b), 0);
	assert_int_equal(bx_bond_hedge(&s.b), 2);
	assert_int_equal(rd(&s).hedge, 2);
	/* The hedge itself cut: the next one. */
	bx_bond_link_down(&s.b, 2, s.now + 1);
	assert_int_equal(bx_bond_hedge(&s.b), 1);
	s.obs[2].link_up = false;
	/* Healed: no more copies. */
	s.obs[0].misses = 0;
	s.obs[0].streak = 1;
	sim_tick(&s);
	assert_int_equal(bx_bond_hedge(&s.b), -1);
	/* SUSPECT again with no other live path: nothing to copy to. */
	s.obs[1].link_up = false;
	s.obs[0].misses = 2;
	s.obs[0].streak = 0;
	sim_tick(&s);
	assert_int_equal(bx_bond_preferred(&s.b), 0);
	assert_int_equal(bx_bond_hedge(&s.b), -1);
	/* DOWN: preferred moves (nowhere), no hedge either. */
	s.obs[0].misses = 3;
	sim_tick(&s);
	assert_int_equal(bx_bond_preferred(&s.b), -1);
	assert_int_equal(bx_bond_hedge(&s.b), -1);
}

/* ---- capacity ------------------------------------------------------------ */

struct cap_case {
	const char *name;
	uint64_t initial, cap, rate; /* bit/s */
	uint64_t q, jitter;          /* ns */
	bool has_rtt;
	uint64_t want; /* C after the first 100 ms */
};

static const struct cap_case cap_cases[] = {
	{ "grow by C/8", 10 * MBIT, 0, 50 * MBIT, 0, 0, true, 11250000 },
	{ "grow by 1 Mbit/s at least", 4 * MBIT, 0, 50 * MBIT, 0, 0, true, 5 * MBIT },
	{ "r = 0.7 C: no growth", 10 * MBIT, 0, 7 * MBIT, 0, 0, true, 10 * MBIT },
	{ "r = 0.8 C: growth", 10 * MBIT, 0, 8 * MBIT, 0, 0, true, 11250000 },
	{ "q just under Qhi / 2: growth", 10 * MBIT, 0, 50 * MBIT, 2500 * US - 1, 0, true, 11250000 },
	{ "q = Qhi / 2: hold", 10 * MBIT, 0, 50 * MBIT, 2500 * US, 0, true, 10 * MBIT },
	{ "q = Qhi: hold", 10 * MBIT, 0, 8 * MBIT, 5 * MS, 0, true, 10 * MBIT },
	{ "q > Qhi: 0.85 r", 10 * MBIT, 0, 8 * MBIT, 5 * MS + 1, 0, true, 6800000 },
	{ "q > Qhi never raises C", 10 * MBIT, 0, 20 * MBIT, 6 * MS, 0, true, 10 * MBIT },
	{ "q > Qhi: not below the floor", 10 * MBIT, 0, 1 * MBIT, 6 * MS, 0, true, 1 * MBIT },
	{ "q > Qhi, r below the floor: not ours, C stays", 10 * MBIT, 0, 900000, 6 * MS,
	  0, true, 10 * MBIT },
	{ "jitter raises Qhi: 6 ms holds", 10 * MBIT, 0, 8 * MBIT, 6 * MS, 3 * MS, true, 10 * MBIT },
	{ "jitter raises Qhi: 8 ms + 1 shrinks", 10 * MBIT, 0, 8 * MBIT, 8 * MS + 1, 3 * MS, true,
	  6800000 },
	{ "jitter raises Qhi/2: 3.9 ms grows", 10 * MBIT, 0, 8 * MBIT, 3900 * US, 3 * MS, true, 11250000 },
	{ "cap is the start and the ceiling", 10 * MBIT, 12 * MBIT, 50 * MBIT, 0, 0, true, 12 * MBIT },
	{ "cap below the start", 10 * MBIT, 6 * MBIT, 0, 0, 0, true, 6 * MBIT },
	{ "no RTT: no step", 10 * MBIT, 0, 50 * MBIT, 0, 0, false, 10 * MBIT },
};

static void
test_capacity_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cap_cases); i++) {
		const struct cap_case *c = &cap_cases[i];
		struct bx_bond_conf conf;
		struct bx_bond_stats st;
		struct sim s;

		print_message("# capacity: %s\n", c->name);
		bx_bond_conf_defaults(&conf);
		conf.initial_bps = c->initial;
		sim_init(&s, 2, &conf);
		s.obs[0].has_rtt = c->has_rtt;
		s.obs[0].rttmin_ns = 20 * MS;
		s.obs[0].srtt_ns = 20 * MS + c->q;
		s.obs[0].jitter_ns = c->jitter;
		s.obs[0].cap_bps = c->cap;
		s.rate[0] = c->rate;
		sim_ticks(&s, 9);
		assert_int_equal(rd(&s).path[0].cap_bps, c->cap ? c->cap : c->initial);
		sim_tick(&s);
		st = rd(&s);
		assert_int_equal(st.path[0].rate_bps, c->rate);
		assert_int_equal(st.path[0].cap_bps, c->want);
		assert_int_equal(st.path[0].weight_bps, c->want);
		/* The idle path next to it does not move. */
		assert_int_equal(st.path[1].cap_bps, c->initial);
	}
}

/* 50 Mbit/s without queueing: C grows by C/8 every 100 ms whatever the
 * tick, until 0.7 C reaches r. */
static void
test_capacity_growth_any_tick(void **state)
{
	/* The first update only takes the byte counter's baseline, so ticks
	 * up to half the 100 ms step period see the first step in time. */
	static const uint64_t ticks[] = { 1 * MS, 10 * MS, 20 * MS, 25 * MS, 50 * MS };
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(ticks); i++) {
		struct sim s;

		print_message("# growth: tick %" PRIu64 " ms\n", ticks[i] / MS);
		sim_init(&s, 2, NULL);
		s.tick = ticks[i];
		s.rate[0] = 50 * MBIT;
		while (s.now < T0 + 1 * S_NS)
			sim_tick(&s);
		/* 10 Mbit/s * (9/8)^10, rounded down at every step. */
		assert_int_equal(rd(&s).path[0].cap_bps, 32473207);
		while (s.now < T0 + 5 * S_NS)
			sim_tick(&s);
		/* 17 steps: the first C with 0.7 C >= 50 Mbit/s. */
		assert_int_equal(rd(&s).path[0].cap_bps, 74061551);
		assert_int_equal(rd(&s).path[0].rate_bps, 50 * MBIT);
		assert_int_equal(rd(&s).path[1].cap_bps, 10 * MBIT);
	}
}

/*
 * A queue builds: C drops to 0.85 r; idle with a queue, or sending while
 * it stands still, C stays (not our queue); sending while it grows, down
 * to the floor; the queue gone, it grows back by at least 1 Mbit/s a
 * step. Ticks of 100 ms, so r is each tick's own rate.
 */
static void
test_capacity_shrink(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, 2, NULL);
	s.tick = 100 * MS;
	s.rate[0] = 50 * MBIT;
	sim_ticks(&s, 30);
	assert_int_equal(rd(&s).path[0].cap_bps, 74061551);
	s.obs[0].srtt_ns = s.obs[0].rttmin_ns + 10 * MS;
	s.rate[0] = 20 * MBIT;
	sim_tick(&s);
	assert_int_equal(rd(&s).path[0].rate_bps, 20 * MBIT);
	assert_int_equal(rd(&s).path[0].cap_bps, 17 * MBIT);
	sim_ticks(&s, 5);
	assert_int_equal(rd(&s).path[0].cap_bps, 17 * MBIT);
	s.rate[0] = 0;
	sim_tick(&s);
	assert_int_equal(rd(&s).path[0].rate_bps, 0);
	assert_int_equal(rd(&s).path[0].cap_bps, 17 * MBIT);
	/* The queue stands still: not ours to shrink for. */
	s.rate[0] = 17 * MBIT;
	sim_ticks(&s, 5);
	assert_int_equal(rd(&s).path[0].cap_bps, 17 * MBIT);
	/* It grows while we send what C allows: 0.85 r each step, 17 ->
	 * 14.45 -> ... until the floor. */
	while (rd(&s).path[0].cap_bps > 1 * MBIT) {
		s.rate[0] = rd(&s).path[0].cap_bps;
		s.obs[0].srtt_ns += 2 * MS;
		sim_tick(&s);
	}
	assert_int_equal(rd(&s).path[0].cap_bps, 1 * MBIT);
	s.obs[0].srtt_ns = s.obs[0].rttmin_ns;
	s.rate[0] = 20 * MBIT;
	sim_ticks(&s, 10);
	/* 1, 2, ... 9 Mbit/s, then 9 * 9/8, then that * 9/8. */
	assert_int_equal(rd(&s).path[0].cap_bps, 11390625);
}

/*
 * Base RTT: a path whose delay rose for good (srtt 20 ms above the
 * all-time minimum) reads as a queue that stands still for one window (C
 * neither shrinks nor grows), and from the end of the first whole window
 * on as its new base: C grows again.
 */
static void
test_capacity_base_moves(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, 2, NULL);
	s.tick = 100 * MS;
	s.obs[0].srtt_ns = s.obs[0].rttmin_ns + 20 * MS;
	s.rate[0] = 10 * MBIT;
	/* Within the first window: a queue of 20 ms that does not grow. */
	sim_ticks(&s, 50);
	assert_int_equal(rd(&s).path[0].cap_bps, 10 * MBIT);
	/* After it: base = the window's srtt, q = 0, r > 0.7 C: growth. */
	sim_ticks(&s, 60);
	assert_true(rd(&s).path[0].cap_bps > 10 * MBIT);
}

/* r: exact for a steady rate, follows a change within a few time
 * constants, survives a counter reset and a clock going back. */
static void
test_rate_estimate(void **state)
{
	static const uint64_t ticks[] = { 1 * MS, 10 * MS, 50 * MS };
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(ticks); i++) {
		struct sim s;
		uint64_t r, c;

		print_message("# rate: tick %" PRIu64 " ms\n", ticks[i] / MS);
		sim_init(&s, 2, NULL);
		s.tick = ticks[i];
		s.rate[0] = 40 * MBIT;
		sim_ticks(&s, 2);
		assert_int_equal(rd(&s).path[0].rate_bps, 40 * MBIT);
		s.rate[0] = 80 * MBIT;
		sim_tick(&s);
		r = rd(&s).path[0].rate_bps;
		assert_true(r > 40 * MBIT && r <= 80 * MBIT);
		while (s.now < T0 + 1 * S_NS)
			sim_tick(&s);
		r = rd(&s).path[0].rate_bps;
		assert_true(r >= 79 * MBIT && r <= 80 * MBIT);

		/* The counter starts over (a new path slot): no sample. */
		s.obs[0].tx_bytes = 0;
		sim_tick(&s);
		assert_int_equal(rd(&s).path[0].rate_bps, r);
		/* A clock that went back: no sample, no capacity step. */
		c = rd(&s).path[0].cap_bps;
		bx_bond_update(&s.b, s.obs, s.now - 5 * MS);
		assert_int_equal(rd(&s).path[0].rate_bps, r);
		assert_int_equal(rd(&s).path[0].cap_bps, c);
		while (s.now < T0 + 3 * S_NS)
			sim_tick(&s);
		r = rd(&s).path[0].rate_bps;
		assert_true(r >= 79 * MBIT && r <= 80 * MBIT);
	}
}

/* ---- reorder timeout ---------------------------------------------------- */

struct reorder_case {
	const char *name;
	unsigned n;
	uint64_t srtt_ms[BX_BOND_MAX_PATHS];
	uint64_t jitter_ms[BX_BOND_MAX_PATHS];
	bool no_rtt[BX_BOND_MAX_PATHS];
	bool link_down[BX_BOND_MAX_PATHS];
	uint32_t loss[BX_BOND_MAX_PATHS];
	uint64_t max_ms;
	uint64_t want_us;
};

static const struct reorder_case reorder_cases[] = {
	{ "10 / 30 ms, jitter 1 / 2", 2, { 10, 30 }, { 1, 2 }, { 0 }, { 0 }, { 0 }, 100, 48000 },
	{ "equal paths: 2 ms", 2, { 20, 20 }, { 0, 0 }, { 0 }, { 0 }, { 0 }, 100, 2000 },
	{ "spread 1 ms, no jitter: 2 ms", 2, { 20, 21 }, { 0, 0 }, { 0 }, { 0 }, { 0 }, 100, 2000 },
	{ "capped", 2, { 10, 90 }, { 0, 0 }, { 0 }, { 0 }, { 0 }, 100, 100000 },
	{ "three paths", 3, { 10, 15, 25 }, { 0, 3, 1 }, { 0 }, { 0 }, { 0 }, 100, 42000 },
	{ "one live path: 2 ms", 2, { 10, 30 }, { 1, 2 }, { 0 }, { false, true }, { 0 }, 100, 2000 },
	{ "one path, cap below 2 ms", 1, { 10 }, { 0 }, { 0 }, { 0 }, { 0 }, 1, 1000 },
	{ "a member without RTT: the cap", 2, { 10, 30 }, { 0, 0 }, { false, true }, { 0 }, { 0 },
	  100, 100000 },
	{ "excluded path does not count", 3, { 10, 30, 12 }, { 0, 0, 1 }, { 0 }, { 0 }, { 0, 300, 0 },
	  100, 8000 },
	{ "other cap", 2, { 10, 30 }, { 1, 2 }, { 0 }, { 0 }, { 0 }, 40, 40000 },
};

static void
test_reorder_timeout_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(reorder_cases); i++) {
		const struct reorder_case *c = &reorder_cases[i];
		struct bx_bond_conf conf;
		struct sim s;
		unsigned k;

		print_message("# reorder: %s\n", c->name);
		bx_bond_conf_defaults(&conf);
		conf.reorder_timeout_max_ns = c->max_ms * MS;
		sim_init(&s, c->n, &conf);
		for (k = 0; k < c->n; k++) {
			healthy(&s.obs[k], c->srtt_ms[k] * MS);
			s.obs[k].jitter_ns = c->jitter_ms[k] * MS;
			s.obs[k].has_rtt = !c->no_rtt[k];
			s.obs[k].link_up = !c->link_down[k];
			s.obs[k].loss_permille = c->loss[k];
		}
		sim_tick(&s);
		assert_int_equal(bx_bond_reorder_timeout_ns(&s.b), c->want_us * US);
		assert_int_equal(rd(&s).reorder_timeout_ns, c->want_us * US);
	}
}

/* ---- reset ------------------------------------------------------------------ */

static void
test_reset_path(void **state)
{
	struct sim s;
	struct bx_bond_stats st;

	(void)state;
	sim_init(&s, 2, NULL);
	s.obs[1].misses = 3;
	s.obs[1].streak = 0;
	s.obs[1].cap_bps = 5 * MBIT;
	s.rate[1] = 50 * MBIT;
	sim_ticks(&s, 20);
	st = rd(&s);
	assert_int_equal(st.path[1].state, BX_BOND_DOWN);
	assert_false(st.path[1].in_stripe);

	/* New endpoint in the slot: a fresh path, the counters stay. */
	bx_bond_reset_path(&s.b, 1, s.now);
	st = rd(&s);
	assert_int_equal(st.path[1].state, BX_BOND_UP);
	assert_true(st.path[1].in_stripe);
	assert_true(st.path[1].in_redundant);
	assert_int_equal(st.path[1].cap_bps, 10 * MBIT);
	assert_int_equal(st.path[1].rate_bps, 0);
	assert_int_equal(st.path_down, 1);
	assert_int_equal(st.stripe_excluded, 1);
	/* Its probes start over too; the cap applies again at once. */
	s.obs[1].misses = 0;
	s.obs[1].streak = 0;
	sim_tick(&s);
	st = rd(&s);
	assert_int_equal(st.path[1].state, BX_BOND_UP);
	assert_int_equal(st.path[1].cap_bps, 5 * MBIT);
	assert_int_equal(st.path[1].rate_bps, 0);
	sim_tick(&s);
	assert_int_equal(rd(&s).path[1].rate_bps, 50 * MBIT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_defaults),
		cmocka_unit_test(test_conf_table),
		cmocka_unit_test(test_state_table),
		cmocka_unit_test(test_link_down_immediate),
		cmocka_unit_test(test_not_dead_table),
		cmocka_unit_test(test_redundant_order),
		cmocka_unit_test(test_redundant_random_loss),
		cmocka_unit_test(test_stripe_split_table),
		cmocka_unit_test(test_stripe_len_clamp),
		cmocka_unit_test(test_stripe_exclude_table),
		cmocka_unit_test(test_stripe_readmission),
		cmocka_unit_test(test_stripe_srtt_spread),
		cmocka_unit_test(test_stripe_small_capacity),
		cmocka_unit_test(test_stripe_best_always_in),
		cmocka_unit_test(test_cost_table),
		cmocka_unit_test(test_preferred_lower_rtt),
		cmocka_unit_test(test_preferred_unmeasured),
		cmocka_unit_test(test_preferred_hysteresis_table),
		cmocka_unit_test(test_preferred_updates_and_hold),
		cmocka_unit_test(test_preferred_failover),
		cmocka_unit_test(test_hedge),
		cmocka_unit_test(test_capacity_table),
		cmocka_unit_test(test_capacity_growth_any_tick),
		cmocka_unit_test(test_capacity_shrink),
		cmocka_unit_test(test_capacity_base_moves),
		cmocka_unit_test(test_rate_estimate),
		cmocka_unit_test(test_reorder_timeout_table),
		cmocka_unit_test(test_reset_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
