/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Probe bookkeeping. Probe k (counting from 0) has seq first_seq + k and
 * lives in ring slot k & (BX_PROBE_RING - 1) until its fate is known; an
 * echo's seq is turned back into k relative to the latest probe, so the
 * u32 wrap needs no special case. Fates go into a shift register, newest
 * in bit 0, so loss over the window is one popcount.
 *
 * Everything readers see lives in p->pub and is only ever written with
 * release stores; the writer keeps its own copy of every value it needs, so
 * it never reads p->pub back.
 */
#include "bx_probe.h"

#include <errno.h>
#include <string.h>

#define NS_PER_MS UINT64_C(1000000)
#define NS_PER_US UINT64_C(1000)
#define PERMILLE 1000u
#define RING_MASK (BX_PROBE_RING - 1)

enum slot_state {
	SLOT_FREE = 0,  /* never used since init */
	SLOT_IN_FLIGHT,
	SLOT_ECHOED,
	SLOT_LOST,
};

#define PUB(p, field, v) \
	__atomic_store_n(&(p)->pub.field, (uint64_t)(v), __ATOMIC_RELEASE)
#define GET(p, field) __atomic_load_n(&(p)->pub.field, __ATOMIC_ACQUIRE)

static uint32_t
get_be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
	       (uint32_t)b[3];
}

static uint64_t
get_be64(const uint8_t *b)
{
	return (uint64_t)get_be32(b) << 32 | get_be32(b + 4);
}

static void
put_be32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static void
put_be64(uint8_t *b, uint64_t v)
{
	put_be32(b, (uint32_t)(v >> 32));
	put_be32(b + 4, (uint32_t)v);
}

void
bx_probe_conf_defaults(struct bx_probe_conf *conf)
{
	conf->interval_ms = BX_PROBE_INTERVAL_MS_DEFAULT;
	conf->loss_window = BX_PROBE_WINDOW_DEFAULT;
	conf->timeout_ms = BX_PROBE_TIMEOUT_MS_DEFAULT;
	conf->rtt_shift = BX_PROBE_RTT_SHIFT_DEFAULT;
	conf->first_seq = BX_PROBE_FIRST_SEQ_DEFAULT;
}

static bool
conf_valid(const struct bx_probe_conf *c)
{
	if (c->interval_ms == 0 || c->interval_ms > BX_PROBE_INTERVAL_MS_MAX)
		return false;
	if (c->loss_window == 0 || c->loss_window > BX_PROBE_WINDOW_MAX)
		return false;
	if (c->timeout_ms == 0 || c->timeout_ms > BX_PROBE_TIMEOUT_MS_MAX)
		return false;
	if (c->rtt_shift == 0 || c->rtt_shift > BX_PROBE_RTT_SHIFT_MAX)
		return false;
	/* Probes sent on time never outnumber the ring while in flight. */
	return c->timeout_ms / c->interval_ms < BX_PROBE_RING;
}

int
bx_probe_init(struct bx_probe_path *p, const struct bx_probe_conf *conf)
{
	struct bx_probe_conf def;

	if (conf == NULL) {
		bx_probe_conf_defaults(&def);
		conf = &def;
	}
	if (!conf_valid(conf))
		return -EINVAL;

	p->interval_ns = conf->interval_ms * NS_PER_MS;
	p->timeout_ns = conf->timeout_ms * NS_PER_MS;
	p->window = conf->loss_window;
	p->rtt_shift = conf->rtt_shift;
	p->first_seq = conf->first_seq;
	p->n_sent = 0;
	p->oldest = 0;
	p->last_send_ns = 0;
	p->echoed = 0;
	p->lost = 0;
	p->fates = 0;
	p->known = 0;
	p->has_rtt = false;
	p->rtt_last_ns = 0;
	p->rtt_min_ns = 0;
	p->srtt_scaled = 0;
	p->jitter_scaled = 0;
	memset(p->ring, 0, sizeof(p->ring));

	/* Readers may be looking: no memset over what they read. */
	PUB(p, has_rtt, 0);
	PUB(p, rtt_last_us, 0);
	PUB(p, rtt_ewma_us, 0);
	PUB(p, rtt_min_us, 0);
	PUB(p, jitter_us, 0);
	PUB(p, last_echo_ns, 0);
	PUB(p, known, 0);
	PUB(p, loss_permille, 0);
	PUB(p, echoed, 0);
	PUB(p, lost, 0);
	PUB(p, sent, 0);
	return 0;
}

bool
bx_probe_due(const struct bx_probe_path *p, uint64_t now_ns)
{
	if (p->n_sent == 0)
		return true;
	return now_ns >= p->last_send_ns &&
	       now_ns - p->last_send_ns >= p->interval_ns;
}

/*
 * Records one probe's fate. Publishes loss before the counter so a reader
 * that sees the new counter sees the loss that goes with it.
 */
static void
record_fate(struct bx_probe_path *p, bool lost)
{
	/* A shift by 64 is undefined: the full-width window is spelled out. */
	uint64_t mask = p->window >= 64 ? UINT64_MAX : (UINT64_C(1) << p->window) - 1;
	uint32_t lost_in_window;

	p->fates = p->fates << 1 | (lost ? 1u : 0u);
	if (p->known < p->window)
		p->known++;
	/* Bits past `known` are still the zeros init left there. */
	lost_in_window = (uint32_t)__builtin_popcountll(p->fates & mask);
	PUB(p, known, p->known);
	PUB(p, loss_permille, lost_in_window * PERMILLE / p->known);
	if (lost) {
		p->lost++;
		PUB(p, lost, p->lost);
	} else {
		p->echoed++;
		PUB(p, echoed, p->echoed);
	}
}

uint32_t
bx_probe_next(struct bx_probe_path *p, uint64_t now_ns, uint8_t *body)
{
	uint64_t k = p->n_sent;
	struct bx_probe_slot *s = &p->ring[k & RING_MASK];
	uint32_t seq = p->first_seq + (uint32_t)k;

	if (k >= BX_PROBE_RING) {
		/* The slot held probe k - RING: past it no echo can be matched. */
		if (s->state == SLOT_IN_FLIGHT)
			record_fate(p, true);
		if (p->oldest <= k - BX_PROBE_RING)
			p->oldest = k - BX_PROBE_RING + 1;
	}
	s->sent_ns = now_ns;
	s->state = SLOT_IN_FLIGHT;
	p->n_sent = k + 1;
	p->last_send_ns = now_ns;

	put_be32(body + BX_PROBE_OFF_SEQ, seq);
	put_be32(body + BX_PROBE_OFF_RESERVED, 0);
	put_be64(body + BX_PROBE_OFF_SENT_NS, now_ns);
	PUB(p, sent, p->n_sent);
	return seq;
}

static bool
expired(const struct bx_probe_path *p, uint64_t sent_ns, uint64_t now_ns)
{
	return now_ns > sent_ns && now_ns - sent_ns > p->timeout_ns;
}

uint32_t
bx_probe_tick(struct bx_probe_path *p, uint64_t now_ns)
{
	uint32_t n = 0;

	/* Send times grow with k: the first probe still in time ends the scan. */
	for (; p->oldest < p->n_sent; p->oldest++) {
		struct bx_probe_slot *s = &p->ring[p->oldest & RING_MASK];

		if (s->state != SLOT_IN_FLIGHT)
			continue;
		if (!expired(p, s->sent_ns, now_ns))
			break;
		s->state = SLOT_LOST;
		record_fate(p, true);
		n++;
	}
	return n;
}

/*
 * Takes one RTT sample. Publishes min before last (a reader loads last
 * first, so it never sees a last below the min it loads next) and every
 * RTT field and last_echo_ns before has_rtt.
 */
static void
take_sample(struct bx_probe_path *p, uint64_t rtt_ns, uint64_t now_ns)
{
	if (!p->has_rtt) {
		p->srtt_scaled = rtt_ns << p->rtt_shift;
		p->jitter_scaled = 0;
		p->rtt_min_ns = rtt_ns;
	} else {
		uint64_t d = rtt_ns > p->rtt_last_ns ? rtt_ns - p->rtt_last_ns
						     : p->rtt_last_ns - rtt_ns;

		/* Scaled forms of RFC 6298 and RFC 3550 A.8: no division. */
		p->srtt_scaled = p->srtt_scaled - (p->srtt_scaled >> p->rtt_shift) + rtt_ns;
		p->jitter_scaled = p->jitter_scaled -
				   (p->jitter_scaled >> BX_PROBE_JITTER_SHIFT) + d;
		if (rtt_ns < p->rtt_min_ns)
			p->rtt_min_ns = rtt_ns;
	}
	p->rtt_last_ns = rtt_ns;
	p->has_rtt = true;

	PUB(p, rtt_min_us, p->rtt_min_ns / NS_PER_US);
	PUB(p, rtt_last_us, rtt_ns / NS_PER_US);
	PUB(p, rtt_ewma_us, (p->srtt_scaled >> p->rtt_shift) / NS_PER_US);
	PUB(p, jitter_us, (p->jitter_scaled >> BX_PROBE_JITTER_SHIFT) / NS_PER_US);
	PUB(p, last_echo_ns, now_ns);
	PUB(p, has_rtt, 1);
}

enum bx_drop_reason
bx_probe_validate(const void *body, size_t len)
{
	if (len != BX_PROBE_BODY_LEN)
		return BX_DROP_PROBE_MALFORMED;
	if (get_be32((const uint8_t *)body + BX_PROBE_OFF_RESERVED) != 0)
		return BX_DROP_PROBE_MALFORMED;
	return BX_DROP_NONE;
}

enum bx_drop_reason
bx_probe_on_echo(struct bx_probe_path *p, const void *body, size_t len,
		 uint64_t now_ns)
{
	const uint8_t *b = body;
	enum bx_drop_reason why = bx_probe_validate(body, len);
	uint32_t seq, back;
	uint64_t sent_ns, k;
	struct bx_probe_slot *s;

	if (why != BX_DROP_NONE)
		return why;
	seq = get_be32(b + BX_PROBE_OFF_SEQ);
	sent_ns = get_be64(b + BX_PROBE_OFF_SENT_NS);
	if (p->n_sent == 0)
		return BX_DROP_PROBE_UNKNOWN;
	/* How many probes before the latest one this seq was, modulo 2^32. */
	back = p->first_seq + (uint32_t)(p->n_sent - 1) - seq;
	if (back >= BX_PROBE_RING || back >= p->n_sent)
		return BX_DROP_PROBE_UNKNOWN;
	k = p->n_sent - 1 - back;
	s = &p->ring[k & RING_MASK];
	if (s->state != SLOT_IN_FLIGHT || s->sent_ns != sent_ns || now_ns < sent_ns)
		return BX_DROP_PROBE_UNKNOWN;
	if (expired(p, sent_ns, now_ns)) {
		/* Too late to be a sample, and proof enough that it is lost. */
		s->state = SLOT_LOST;
		record_fate(p, true);
		return BX_DROP_PROBE_UNKNOWN;
	}
	s->state = SLOT_ECHOED;
	take_sample(p, now_ns - sent_ns, now_ns);
	record_fate(p, false);
	return BX_DROP_NONE;
}

/* ---- failover inputs --------------------------------------------------- */

enum judgement {
	JUDGE_YOUNG,  /* in flight within the grace: no verdict yet */
	JUDGE_ECHOED,
	JUDGE_MISS,
};

static enum judgement
judge(const struct bx_probe_slot *s, uint64_t now_ns, uint64_t grace_ns)
{
	if (s->state == SLOT_ECHOED)
		return JUDGE_ECHOED;
	if (s->state == SLOT_IN_FLIGHT &&
	    (now_ns < s->sent_ns || now_ns - s->sent_ns <= grace_ns))
		return JUDGE_YOUNG;
	return JUDGE_MISS;
}

/*
 * Walks back from the newest probe over those the ring still holds (probe
 * k sits in slot k & RING_MASK for the last BX_PROBE_RING k), skipping the
 * young ones, and counts the run of @want that the newest judged probe
 * starts.
 */
static uint32_t
run_of(const struct bx_probe_path *p, uint64_t now_ns, uint64_t grace_ns,
       enum judgement want)
{
	uint64_t span = p->n_sent < BX_PROBE_RING ? p->n_sent : BX_PROBE_RING;
	uint64_t i;
	uint32_t n = 0;

	for (i = 1; i <= span; i++) {
		enum judgement j = judge(&p->ring[(p->n_sent - i) & RING_MASK],
					 now_ns, grace_ns);

		if (j == JUDGE_YOUNG)
			continue;
		if (j != want)
			break;
		n++;
	}
	return n;
}

uint32_t
bx_probe_misses(const struct bx_probe_path *p, uint64_t now_ns, uint64_t grace_ns)
{
	return run_of(p, now_ns, grace_ns, JUDGE_MISS);
}

uint32_t
bx_probe_streak(const struct bx_probe_path *p, uint64_t now_ns, uint64_t grace_ns)
{
	return run_of(p, now_ns, grace_ns, JUDGE_ECHOED);
}

/*
 * Load order is the reverse of the writer's store order for every pair
 * whose relation is promised: has_rtt before the RTT fields and
 * last_echo_ns, last before min, loss before known (a loss is never seen
 * without the known fate it comes from), the fate counters before sent.
 */
void
bx_probe_read(const struct bx_probe_path *p, struct bx_probe_stats *out)
{
	out->has_rtt = GET(p, has_rtt) != 0;
	out->rtt_last_us = GET(p, rtt_last_us);
	out->rtt_min_us = GET(p, rtt_min_us);
	out->rtt_ewma_us = GET(p, rtt_ewma_us);
	out->jitter_us = GET(p, jitter_us);
	out->last_echo_ns = GET(p, last_echo_ns);
	out->loss_permille = (uint32_t)GET(p, loss_permille);
	out->known = (uint32_t)GET(p, known);
	out->echoed = GET(p, echoed);
	out->lost = GET(p, lost);
	out->sent = GET(p, sent);
}

/* ---- congestion strategies ------------------------------------------- */

enum { EWMA_SCALED = 0, EWMA_HAS_SAMPLE = 1 };
/* Samples are clamped here so the scaled EWMA cannot overflow. */
#define EWMA_RTT_CAP_US (UINT64_MAX >> (BX_CONGESTION_EWMA_SHIFT + 1))

static void
null_on_rtt(struct bx_congestion *c, uint64_t rtt_us)
{
	(void)c;
	(void)rtt_us;
}

static bool
null_is_congested(const struct bx_congestion *c)
{
	(void)c;
	return false;
}

const struct bx_congestion_ops bx_congestion_null = {
	.name = "null",
	.on_rtt = null_on_rtt,
	.is_congested = null_is_congested,
};

/* state[EWMA_SCALED] = EWMA << BX_CONGESTION_EWMA_SHIFT, microseconds. */
static void
ewma_on_rtt(struct bx_congestion *c, uint64_t rtt_us)
{
	uint64_t *s = &c->state[EWMA_SCALED];

	if (rtt_us > EWMA_RTT_CAP_US)
		rtt_us = EWMA_RTT_CAP_US;
	if (c->state[EWMA_HAS_SAMPLE] == 0) {
		*s = rtt_us << BX_CONGESTION_EWMA_SHIFT;
		c->state[EWMA_HAS_SAMPLE] = 1;
		return;
	}
	*s = *s - (*s >> BX_CONGESTION_EWMA_SHIFT) + rtt_us;
}

static bool
ewma_is_congested(const struct bx_congestion *c)
{
	/* Compared scaled, so the fraction the shift would drop still counts. */
	return c->state[EWMA_SCALED] >
	       (uint64_t)BX_CONGESTION_RTT_US << BX_CONGESTION_EWMA_SHIFT;
}

const struct bx_congestion_ops bx_congestion_ewma = {
	.name = "ewma",
	.on_rtt = ewma_on_rtt,
	.is_congested = ewma_is_congested,
};

void
bx_congestion_init(struct bx_congestion *c, const struct bx_congestion_ops *ops)
{
	BX_ASSERT(ops != NULL);
	c->ops = ops;
	memset(c->state, 0, sizeof(c->state));
}

const struct bx_congestion_ops *
bx_congestion_find(const char *name)
{
	static const struct bx_congestion_ops *const all[] = {
		&bx_congestion_null,
		&bx_congestion_ewma,
	};
	size_t i;

	for (i = 0; i < BX_ARRAY_SIZE(all); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}
