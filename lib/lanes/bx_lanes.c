/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lane rings. The object is split by writer: producer counters, consumer
 * state (counters and the Bulk bucket) and the read-mostly part each sit in
 * their own cache lines, so the two lcores never write the same line.
 */
#include "bx_lanes.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_peek.h>

#include "bx_common.h"

/* Packets freed per ring call while evicting or draining. */
#define EVICT_BURST 64u
/* kbit/s to bytes/s. */
#define BYTES_PER_KBIT 125u

struct producer {
	uint64_t enqueued[BX_LANE_COUNT];
	uint64_t dropped[BX_LANE_COUNT];
} BX_CACHE_ALIGNED;

struct bucket {
	uint64_t conf;      /* the published word this state was built from */
	uint64_t rate;      /* bytes per second; 0 = unlimited */
	int64_t burst;      /* bytes */
	int64_t tokens;     /* bytes; below 0 after an oversize packet */
	uint64_t rem;       /* fraction of a token, in 1/tsc_hz bytes */
	uint64_t last_tsc;
};

struct consumer {
	uint64_t dequeued[BX_LANE_COUNT];
	struct bucket bulk;
} BX_CACHE_ALIGNED;

struct bx_lanes {
	struct rte_ring *ring[BX_LANE_COUNT];
	uint64_t tsc_hz;
	uint64_t bulk_conf; /* kbps << 32 | burst bytes, written by control */
	struct producer prod;
	struct consumer cons;
};

static const char lane_tag[BX_LANE_COUNT] = {
	[BX_LANE_CRITICAL] = 'c',
	[BX_LANE_TELEMETRY] = 't',
	[BX_LANE_BULK] = 'b',
};

static const uint32_t default_size[BX_LANE_COUNT] = {
	[BX_LANE_CRITICAL] = BX_LANES_CRITICAL_SIZE,
	[BX_LANE_TELEMETRY] = BX_LANES_TELEMETRY_SIZE,
	[BX_LANE_BULK] = BX_LANES_BULK_SIZE,
};

/* Critical keeps the default multi-consumer dequeue: the producer evicts. */
static const unsigned int ring_flags[BX_LANE_COUNT] = {
	[BX_LANE_CRITICAL] = RING_F_SP_ENQ | RING_F_EXACT_SZ,
	[BX_LANE_TELEMETRY] = RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ,
	[BX_LANE_BULK] = RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ,
};

/* Single-writer counter: a plain add, stored untorn for readers elsewhere. */
static inline void
counter_add(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, *c + v, __ATOMIC_RELAXED);
}

static inline uint64_t
conf_pack(uint32_t kbps, uint32_t burst_bytes)
{
	return (uint64_t)kbps << 32 | burst_bytes;
}

/* Takes a new bucket configuration; tokens carry over up to the new depth. */
static void
bucket_apply(struct bucket *b, uint64_t conf, uint64_t now_tsc)
{
	uint64_t old_rate = b->rate;

	b->conf = conf;
	b->rate = (conf >> 32) * BYTES_PER_KBIT;
	b->burst = (int64_t)(uint32_t)conf;
	if (old_rate == 0) {
		/* Unlimited until now, the bucket meant nothing: start full. */
		b->tokens = b->burst;
		b->rem = 0;
		b->last_tsc = now_tsc;
	} else if (b->tokens > b->burst) {
		b->tokens = b->burst;
		b->rem = 0;
	}
}

/* Adds the tokens earned since the last call, up to the depth. */
static void
bucket_refill(struct bucket *b, uint64_t now_tsc, uint64_t tsc_hz)
{
	unsigned __int128 acc;
	uint64_t dt, room, add;

	if (now_tsc <= b->last_tsc)
		return;
	dt = now_tsc - b->last_tsc;
	b->last_tsc = now_tsc;
	if (b->tokens >= b->burst) {
		b->rem = 0;
		return;
	}
	/* Exact in integers: the remainder keeps fractions of a byte, so many
	 * short intervals earn what one long interval does. */
	acc = (unsigned __int128)dt * b->rate + b->rem;
	add = acc / tsc_hz > UINT64_MAX ? UINT64_MAX : (uint64_t)(acc / tsc_hz);
	room = (uint64_t)(b->burst - b->tokens);
	if (add >= room) {
		b->tokens = b->burst;
		b->rem = 0;
	} else {
		b->tokens += (int64_t)add;
		b->rem = (uint64_t)(acc % tsc_hz);
	}
}

struct bx_lanes *
bx_lanes_create(const struct bx_lanes_conf *conf)
{
	char name[RTE_RING_NAMESIZE];
	struct bx_lanes *l = NULL;
	unsigned int lane;
	int err;

	if (conf == NULL || conf->name == NULL || conf->name[0] == '\0') {
		err = EINVAL;
		goto fail;
	}
	if (strlen(conf->name) > BX_LANES_NAME_MAX) {
		err = ENAMETOOLONG;
		goto fail;
	}
	for (lane = 0; lane < BX_LANE_COUNT; lane++) {
		if (conf->size[lane] > BX_LANES_MAX_SIZE) {
			err = EINVAL;
			goto fail;
		}
	}
	l = rte_zmalloc_socket("bx_lanes", sizeof(*l), RTE_CACHE_LINE_SIZE,
			       conf->socket_id);
	if (l == NULL) {
		err = ENOMEM;
		goto fail;
	}
	for (lane = 0; lane < BX_LANE_COUNT; lane++) {
		uint32_t size = conf->size[lane] ? conf->size[lane] : default_size[lane];

		snprintf(name, sizeof(name), "bxl_%c_%s", lane_tag[lane], conf->name);
		/* Checked first so a taken name is a plain EEXIST, not an
		 * EAL error log about memory. */
		if (rte_ring_lookup(name) != NULL) {
			err = EEXIST;
			goto fail;
		}
		l->ring[lane] = rte_ring_create(name, size, conf->socket_id,
						ring_flags[lane]);
		if (l->ring[lane] == NULL) {
			err = rte_errno;
			goto fail;
		}
	}
	l->tsc_hz = conf->tsc_hz ? conf->tsc_hz : rte_get_tsc_hz();
	l->bulk_conf = conf_pack(conf->bulk_kbps, conf->bulk_burst_bytes);
	bucket_apply(&l->cons.bulk, l->bulk_conf, 0);
	return l;

fail:
	bx_lanes_free(l);
	rte_errno = err;
	return NULL;
}

void
bx_lanes_free(struct bx_lanes *l)
{
	struct rte_mbuf *buf[EVICT_BURST];
	unsigned int lane, n;

	if (l == NULL)
		return;
	for (lane = 0; lane < BX_LANE_COUNT; lane++) {
		if (l->ring[lane] == NULL)
			continue;
		while ((n = rte_ring_dequeue_burst(l->ring[lane], (void **)buf,
						   EVICT_BURST, NULL)) > 0)
			rte_pktmbuf_free_bulk(buf, n);
		rte_ring_free(l->ring[lane]);
	}
	rte_free(l);
}

/*
 * Dequeues and frees up to @k of the oldest Critical packets. It gets fewer
 * only if the worker emptied the ring meanwhile.
 */
static unsigned int
evict_oldest(struct rte_ring *r, unsigned int k)
{
	struct rte_mbuf *buf[EVICT_BURST];
	unsigned int total = 0, got;

	while (total < k) {
		got = rte_ring_mc_dequeue_burst(r, (void **)buf,
						RTE_MIN(k - total, EVICT_BURST), NULL);
		if (got == 0)
			break;
		rte_pktmbuf_free_bulk(buf, got);
		total += got;
	}
	return total;
}

static uint16_t
critical_enqueue(struct bx_lanes *l, struct rte_mbuf *pkts[], uint16_t n)
{
	struct rte_ring *r = l->ring[BX_LANE_CRITICAL];
	unsigned int cap = rte_ring_get_capacity(r);
	unsigned int evicted = 0, room, ok;

	if (BX_UNLIKELY(n > cap)) {
		/* The burst alone overflows the lane: its own oldest lose. */
		evicted = n - cap;
		rte_pktmbuf_free_bulk(pkts, evicted);
		pkts += evicted;
		n = (uint16_t)cap;
	}
	room = rte_ring_free_count(r);
	if (BX_UNLIKELY(room < n))
		evicted += evict_oldest(r, n - room);
	/*
	 * Now there is room for all n: either n - room packets were evicted
	 * or the ring was emptied, and as the only producer nobody else can
	 * fill it in between; the worker only makes more room.
	 */
	ok = rte_ring_sp_enqueue_burst(r, (void **)pkts, n, NULL);
	BX_ASSERT_HOT(ok == n);
	(void)ok;
	return (uint16_t)evicted;
}

uint16_t
bx_lanes_enqueue(struct bx_lanes *l, enum bx_wire_lane lane,
		 struct rte_mbuf *pkts[], uint16_t n, uint16_t *evicted)
{
	uint16_t ok, ev = 0;

	BX_ASSERT_HOT((unsigned int)lane < BX_LANE_COUNT);
	if (lane == BX_LANE_CRITICAL) {
		ev = critical_enqueue(l, pkts, n);
		ok = n;
		counter_add(&l->prod.dropped[lane], ev);
	} else {
		ok = (uint16_t)rte_ring_sp_enqueue_burst(l->ring[lane],
							 (void **)pkts, n, NULL);
		counter_add(&l->prod.dropped[lane], n - ok);
	}
	counter_add(&l->prod.enqueued[lane], ok);
	if (evicted != NULL)
		*evicted = ev;
	return ok;
}

/* Bulk as far as the bucket allows; what does not fit stays in the ring. */
static unsigned int
bulk_dequeue(struct bx_lanes *l, struct rte_mbuf *out[], unsigned int n,
	     uint64_t now_tsc)
{
	struct rte_ring *r = l->ring[BX_LANE_BULK];
	struct bucket *b = &l->cons.bulk;
	uint64_t conf = __atomic_load_n(&l->bulk_conf, __ATOMIC_ACQUIRE);
	unsigned int got, k;

	if (BX_UNLIKELY(conf != b->conf)) {
		/* Earned time counts at the rate it was earned under. */
		if (b->rate != 0)
			bucket_refill(b, now_tsc, l->tsc_hz);
		bucket_apply(b, conf, now_tsc);
	}
	if (b->rate == 0)
		return rte_ring_sc_dequeue_burst(r, (void **)out, n, NULL);

	bucket_refill(b, now_tsc, l->tsc_hz);
	/* Peek: only the packets the tokens pay for are taken off the ring. */
	got = rte_ring_dequeue_burst_start(r, (void **)out, n, NULL);
	for (k = 0; k < got; k++) {
		int64_t len = out[k]->pkt_len;

		if (len > b->tokens && b->tokens < b->burst)
			break;
		b->tokens -= len;
	}
	rte_ring_dequeue_finish(r, k);
	return k;
}

uint16_t
bx_lanes_dequeue(struct bx_lanes *l, struct rte_mbuf *out[], uint16_t n,
		 uint64_t now_tsc)
{
	struct consumer *c = &l->cons;
	unsigned int got, k;

	got = rte_ring_mc_dequeue_burst(l->ring[BX_LANE_CRITICAL], (void **)out,
					n, NULL);
	counter_add(&c->dequeued[BX_LANE_CRITICAL], got);
	if (got < n) {
		k = rte_ring_sc_dequeue_burst(l->ring[BX_LANE_TELEMETRY],
					      (void **)(out + got), n - got, NULL);
		counter_add(&c->dequeued[BX_LANE_TELEMETRY], k);
		got += k;
	}
	if (got < n) {
		k = bulk_dequeue(l, out + got, n - got, now_tsc);
		counter_add(&c->dequeued[BX_LANE_BULK], k);
		got += k;
	}
	return (uint16_t)got;
}

void
bx_lanes_set_bulk_rate(struct bx_lanes *l, uint32_t kbps, uint32_t burst_bytes)
{
	__atomic_store_n(&l->bulk_conf, conf_pack(kbps, burst_bytes),
			 __ATOMIC_RELEASE);
}

void
bx_lanes_get_stats(const struct bx_lanes *l, enum bx_wire_lane lane,
		   struct bx_lanes_stats *out)
{
	BX_ASSERT((unsigned int)lane < BX_LANE_COUNT);
	out->enqueued = __atomic_load_n(&l->prod.enqueued[lane], __ATOMIC_RELAXED);
	out->dropped = __atomic_load_n(&l->prod.dropped[lane], __ATOMIC_RELAXED);
	out->dequeued = __atomic_load_n(&l->cons.dequeued[lane], __ATOMIC_RELAXED);
}

unsigned int
bx_lanes_count(const struct bx_lanes *l, enum bx_wire_lane lane)
{
	BX_ASSERT((unsigned int)lane < BX_LANE_COUNT);
	return rte_ring_count(l->ring[lane]);
}

unsigned int
bx_lanes_room(const struct bx_lanes *l, enum bx_wire_lane lane)
{
	BX_ASSERT((unsigned int)lane < BX_LANE_COUNT);
	return rte_ring_free_count(l->ring[lane]);
}
