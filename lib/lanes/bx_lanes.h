/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Egress lane rings of one worker (DESIGN §3.2): Critical, Telemetry and
 * Bulk, filled by the RX/classify lcore (the producer) and drained by the
 * crypto/TX worker (the consumer) in strict priority, Bulk under a token
 * bucket. With one worker both roles are the same lcore.
 *
 *  - Critical (BX_LANES_CRITICAL_SIZE): the newest wins. When it is full
 *    the producer evicts the oldest packets, frees them and counts them:
 *    a fresh position report is worth more than a stale one. Evicting means
 *    the producer dequeues too, so this ring is single-producer but
 *    multi-consumer (RING_F_SP_ENQ, default MC dequeue): the producer's
 *    eviction and the worker's dequeue may race safely.
 *  - Telemetry (BX_LANES_TELEMETRY_SIZE) and Bulk (BX_LANES_BULK_SIZE):
 *    single-producer/single-consumer with tail drop; the refused packets
 *    go back to the caller, which frees them and counts the drop reason.
 *
 * Counters per lane (struct bx_lanes_stats) are single-writer: enqueued and
 * dropped are written only by the producer, dequeued only by the consumer,
 * so no atomics are needed beyond untorn 64-bit stores.
 *
 * Needs the EAL (rings and memory); no locks, no allocation, no logging on
 * enqueue and dequeue.
 */
#ifndef BX_LANES_H
#define BX_LANES_H

#include <stdint.h>

#include "bx_wire.h"

/* Default ring sizes, in packets (exact: a ring holds this many). */
#define BX_LANES_CRITICAL_SIZE 1024u
#define BX_LANES_TELEMETRY_SIZE 2048u
#define BX_LANES_BULK_SIZE 4096u
/* Largest ring a lane may ask for: 64 Ki packets is far past any burst. */
#define BX_LANES_MAX_SIZE 65536u
/* Longest caller-given name: ring names are global in a DPDK process. */
#define BX_LANES_NAME_MAX 16u
/* Bulk bucket when none is configured: unlimited. */
#define BX_LANES_BULK_UNLIMITED 0u

struct rte_mbuf;
struct bx_lanes;

struct bx_lanes_conf {
	/* Unique per process (e.g. "w2" for worker lcore 2), at most
	 * BX_LANES_NAME_MAX characters: it names the three rings. */
	const char *name;
	int socket_id;                 /* NUMA socket of the rings, or SOCKET_ID_ANY */
	uint32_t size[BX_LANE_COUNT];  /* per lane, by enum bx_wire_lane; 0 = default */
	uint64_t tsc_hz;               /* TSC ticks per second; 0 = rte_get_tsc_hz() */
	uint32_t bulk_kbps;            /* Bulk rate limit; 0 = unlimited */
	uint32_t bulk_burst_bytes;     /* Bulk bucket depth in bytes */
};

struct bx_lanes_stats {
	/* Packets the lane took from the producer. Critical takes them all. */
	uint64_t enqueued;
	/* Packets handed to the worker by bx_lanes_dequeue(). */
	uint64_t dequeued;
	/* Telemetry/Bulk: packets refused at the tail (given back to the
	 * caller). Critical: old packets evicted and freed, including the
	 * oldest of a burst larger than the whole ring. So a lane holds
	 * enqueued - dequeued packets, minus dropped for Critical. */
	uint64_t dropped;
};

/*
 * Creates the three rings of one worker and its Bulk bucket (full at the
 * start). Returns NULL with rte_errno set: EINVAL (no conf or name, a size
 * above BX_LANES_MAX_SIZE), ENAMETOOLONG, EEXIST (name already used in this
 * process), ENOMEM.
 */
struct bx_lanes *bx_lanes_create(const struct bx_lanes_conf *conf);

/*
 * Frees every packet still queued, then the rings. Neither the producer nor
 * the consumer may use @l any more. NULL is fine.
 */
void bx_lanes_free(struct bx_lanes *l);

/*
 * Producer side. Queues @pkts[0..@n) on @lane, in order. Returns how many
 * were taken: on Telemetry and Bulk the ones refused because the ring is
 * full are @pkts[ret..@n), still owned by the caller, which frees them and
 * counts BX_DROP_LANE_*_FULL. Critical always takes all @n: to make room it
 * frees the oldest queued packets (the oldest of @pkts themselves if @n is
 * more than the ring holds) and stores how many in *@evicted, for the
 * caller's BX_DROP_LANE_CRITICAL_EVICTED count. *@evicted is 0 for the
 * other lanes; @evicted may be NULL.
 */
uint16_t bx_lanes_enqueue(struct bx_lanes *l, enum bx_wire_lane lane,
			  struct rte_mbuf *pkts[], uint16_t n, uint16_t *evicted);

/*
 * Consumer side. Fills @out with up to @n packets: all that Critical has,
 * then Telemetry, then Bulk as far as the bucket allows at @now_tsc (a TSC
 * reading, monotonic on this lcore). A Bulk packet bigger than the tokens
 * left stays at the head of its ring, so Bulk is never lost or reordered
 * by the bucket; a packet bigger than the whole burst leaves when the
 * bucket is full and leaves it in debt, so the rate holds. Critical and
 * Telemetry are never throttled. Returns how many packets are in @out;
 * entries past that are undefined.
 */
uint16_t bx_lanes_dequeue(struct bx_lanes *l, struct rte_mbuf *out[], uint16_t n,
			  uint64_t now_tsc);

/*
 * Control side, safe while the worker runs: sets the Bulk rate (kbit/s,
 * BX_LANES_BULK_UNLIMITED for none) and bucket depth (bytes). Both values
 * are published as one 64-bit word, so the worker never sees half of a
 * change; it applies it at its next dequeue that reaches Bulk (time up to
 * then is earned at the old rate), keeping the tokens it has up to the new
 * depth (leaving unlimited starts full).
 */
void bx_lanes_set_bulk_rate(struct bx_lanes *l, uint32_t kbps,
			    uint32_t burst_bytes);

/*
 * Copies the counters of @lane into @out. Any lcore may call it at any time;
 * each counter is read untorn, the three are not one snapshot.
 */
void bx_lanes_get_stats(const struct bx_lanes *l, enum bx_wire_lane lane,
			struct bx_lanes_stats *out);

/* Packets queued on @lane now (a moment's view while others run). */
unsigned int bx_lanes_count(const struct bx_lanes *l, enum bx_wire_lane lane);
/* Packets @lane can still take now without a drop (same view). */
unsigned int bx_lanes_room(const struct bx_lanes *l, enum bx_wire_lane lane);

#endif /* BX_LANES_H */
