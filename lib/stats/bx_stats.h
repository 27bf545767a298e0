/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bauxite counters: one cache-aligned block per lcore, written only by its
 * own lcore and summed by readers (the control lcore, the telemetry thread).
 * Exported through DPDK telemetry under /bauxite/... and as JSON for
 * `bauxite status` and the metrics endpoint.
 *
 * Directions, from the mesh's point of view:
 *   rx = datagrams arriving from the underlay (decrypt side),
 *   tx = datagrams leaving to the underlay (encrypt side).
 * Every drop is counted twice: under its reason (bx_drop.h) and in the
 * total of its direction (rx_dropped / tx_dropped), so the totals need no
 * summing over reasons and a new reason needs no new total.
 *
 * Concurrency: one writer per block, no atomics with a lock prefix. The
 * writer does a relaxed load and a relaxed store (the same mov/add/mov as a
 * plain +=) and readers do relaxed loads: this states the single-writer
 * contract to the compiler so it never tears or caches an access. On 64-bit
 * x86 an aligned 8-byte load or store is atomic, so a reader never sees a
 * torn value; it may see a block a few increments behind, which is fine for
 * counters.
 */
#ifndef BX_STATS_H
#define BX_STATS_H

#include <stdint.h>

#include <jansson.h>
#include <rte_common.h>
#include <rte_lcore.h>
#include <rte_memory.h> /* SOCKET_ID_ANY */

#include "bx_common.h"
#include "bx_drop.h"

/*
 * The named counters: X(symbol, telemetry name, help text). Names are
 * stable (telemetry and metrics keys); add new ones at the end.
 */
#define BX_STATS_COUNTERS(X)                                                  \
	X(RX_PACKETS, "rx_packets", "frames received on underlay ports")      \
	X(RX_BYTES, "rx_bytes", "bytes received on underlay ports")           \
	X(RX_DROPPED, "rx_dropped",                                           \
	  "underlay frames dropped on the decrypt side, any reason")          \
	X(TX_PACKETS, "tx_packets", "datagrams sent on underlay ports")       \
	X(TX_BYTES, "tx_bytes", "bytes sent on underlay ports")               \
	X(TX_DROPPED, "tx_dropped",                                           \
	  "inner packets dropped on the encrypt side, any reason")            \
	X(INNER_RX_PACKETS, "inner_rx_packets",                               \
	  "packets taken from the inner port to be encrypted")                \
	X(INNER_TX_PACKETS, "inner_tx_packets",                               \
	  "decrypted packets delivered to the inner port")                    \
	X(EXCEPTION_RX_PACKETS, "exception_rx_packets",                       \
	  "underlay frames passed up to the kernel (not mesh data)")          \
	X(EXCEPTION_TX_PACKETS, "exception_tx_packets",                       \
	  "kernel frames sent out on the underlay")                           \
	X(HANDSHAKE_RX, "handshake_rx",                                       \
	  "handshake, cookie and relay control datagrams handed to the "      \
	  "control lcore")                                                    \
	X(ARP_REPLIES, "arp_replies",                                         \
	  "ARP replies sent on the inner port (proxy ARP, gateway address)")  \
	X(ARP_REQUESTS, "arp_requests",                                       \
	  "ARP requests sent on a gateway's LAN for unresolved hosts")        \
	X(HANDSHAKE_ACCEPTED, "handshake_accepted",                           \
	  "handshake datagrams the control lcore accepted (the others are "   \
	  "counted under an hs_ drop reason)")                                \
	X(HANDSHAKE_TX, "handshake_tx",                                       \
	  "initiations, responses and cookie replies the control lcore sent") \
	X(KEEPALIVE_TX, "keepalive_tx",                                       \
	  "empty data datagrams sent to confirm a new session")               \
	X(KEEPALIVE_RX, "keepalive_rx",                                       \
	  "empty data datagrams received (opened, nothing to deliver)")       \
	X(SESSIONS_INITIATED, "sessions_initiated",                           \
	  "sessions established by our initiation (first or rekey)")          \
	X(SESSIONS_RESPONDED, "sessions_responded",                           \
	  "sessions established by answering a peer's initiation")            \
	X(SESSIONS_EXPIRED, "sessions_expired",                               \
	  "sessions ended by their age or message limit before a rekey")      \
	X(RELAY_FORWARDED, "relay_forwarded",                                 \
	  "role relay: datagrams forwarded from one registered node to "     \
	  "another")                                                          \
	X(RELAY_CONTROL_RX, "relay_control_rx",                               \
	  "relay registrations (relay) and their answers (edge) accepted")   \
	X(RELAY_CONTROL_TX, "relay_control_tx",                               \
	  "relay registrations (edge) and their answers (relay) sent")       \
	X(STUN_IN, "stun_in",                                                 \
	  "STUN messages to the mesh port handed to an ICE agent")           \
	X(STUN_OUT, "stun_out",                                               \
	  "STUN messages of an ICE agent sent from the mesh port")            \
	X(PROBE_TX, "probe_tx",                                               \
	  "path probes sent (their echoes count as probe_echo_tx)")           \
	X(PROBE_ECHO_TX, "probe_echo_tx",                                     \
	  "echoes of the peers' probes sent")                                 \
	X(PROBE_RX, "probe_rx",                                               \
	  "probes and echoes received and accepted")                          \
	X(CRITICAL_COPIES, "critical_copies",                                 \
	  "extra copies of Critical packets handed to the port (critical "   \
	  "duplication; one the port refuses counts as tx_port_full)")        \
	X(SAFETY_WARNINGS, "safety_warnings",                                 \
	  "DegradationWarning events (a path's RTT above the warning level)")  \
	X(SAFETY_SEVERANCES, "safety_severances",                             \
	  "SafetySeverance events: every tunnel torn down")                   \
	X(SAFETY_RECOVERIES, "safety_recoveries",                             \
	  "recoveries from a severance (traffic flows again)")                \
	X(PATH_COPIES, "path_copies",                                         \
	  "copies of a datagram sent on another path than its first "        \
	  "(REDUNDANT lanes, PREFERRED while its path misses probes)")       \
	X(PREFERRED_SWITCHES, "preferred_switches",                           \
	  "changes of a bonded peer's preferred path")                       \
	X(STRIPE_EXCLUDED, "stripe_excluded",                                 \
	  "paths taken out of a stripe set (lossy, slow or dead)")           \
	X(PATH_DOWN, "path_down",                                             \
	  "paths found down (missed probes or lost carrier)")                \
	X(PATH_UP, "path_up",                                                 \
	  "paths back up after being down")                                  \
	X(REORDER_HELD, "reorder_held",                                       \
	  "striped datagrams that waited in a reorder buffer for an "        \
	  "earlier one")                                                     \
	X(REORDER_LATE, "reorder_late",                                       \
	  "striped datagrams that arrived after their turn was given up "    \
	  "(delivered out of order)")                                        \
	X(REORDER_TIMEOUTS, "reorder_timeouts",                               \
	  "gaps a reorder buffer gave up waiting for (timeout)")             \
	X(REORDER_FORCED, "reorder_forced",                                   \
	  "datagrams a full reorder buffer released past a gap")              \
	X(REORDER_NO_BUFFER, "reorder_no_buffer",                             \
	  "striped datagrams delivered unordered: every reorder buffer of "  \
	  "the lcore was taken")

enum bx_stat_id {
#define BX_STATS_ENUM_(sym, name, help) BX_STAT_##sym,
	BX_STATS_COUNTERS(BX_STATS_ENUM_)
#undef BX_STATS_ENUM_
	BX_STAT__COUNT,
};

/*
 * One lcore's counters. Public so the fast-path helpers below inline to a
 * plain add; only the owning lcore writes it.
 */
struct bx_stats_lcore {
	uint64_t counter[BX_STAT__COUNT];
	/* Indexed by enum bx_drop_reason; drop[BX_DROP_NONE] stays 0. */
	uint64_t drop[BX_DROP__COUNT];
} __rte_cache_aligned;

/* All lcores' blocks. One allocation; opaque to callers. */
struct bx_stats;

/* Single-writer increment: see the concurrency note at the top. */
static inline void
bx_stats_bump_(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

/* Fast path: adds @n to a named counter of the caller's own block. */
static inline void
bx_stats_add(struct bx_stats_lcore *lc, enum bx_stat_id id, uint64_t n)
{
	BX_ASSERT_HOT((unsigned)id < BX_STAT__COUNT);
	bx_stats_bump_(&lc->counter[id], n);
}

/*
 * Fast path: @n packets dropped on the decrypt side for @reason. Bumps the
 * reason and rx_dropped together so the total always equals the sum of
 * what its callers reported. @reason is never BX_DROP_NONE.
 */
static inline void
bx_stats_rx_drop(struct bx_stats_lcore *lc, enum bx_drop_reason reason,
		 uint64_t n)
{
	BX_ASSERT_HOT(reason > BX_DROP_NONE && reason < BX_DROP__COUNT);
	bx_stats_bump_(&lc->drop[reason], n);
	bx_stats_bump_(&lc->counter[BX_STAT_RX_DROPPED], n);
}

/* Fast path: as bx_stats_rx_drop, for the encrypt side (tx_dropped). */
static inline void
bx_stats_tx_drop(struct bx_stats_lcore *lc, enum bx_drop_reason reason,
		 uint64_t n)
{
	BX_ASSERT_HOT(reason > BX_DROP_NONE && reason < BX_DROP__COUNT);
	bx_stats_bump_(&lc->drop[reason], n);
	bx_stats_bump_(&lc->counter[BX_STAT_TX_DROPPED], n);
}

/* Stable telemetry name of a counter; "unknown" out of range. */
const char *bx_stats_counter_name(enum bx_stat_id id);

/* One-line description of a counter (metrics HELP); "" out of range. */
const char *bx_stats_counter_help(enum bx_stat_id id);

/*
 * Allocates zeroed blocks for all RTE_MAX_LCORE lcore ids with rte_zmalloc
 * on @socket_id (SOCKET_ID_ANY allowed), so they live in DPDK memory next
 * to the workers. Needs the EAL. Returns NULL and sets rte_errno (ENOMEM).
 */
struct bx_stats *bx_stats_create(int socket_id);

/*
 * Frees @s (NULL allowed). If @s is the instance exported through
 * telemetry it is withdrawn first, under the lock the telemetry handlers
 * take, so a query in flight never reads freed memory; the commands then
 * answer null. Workers must have stopped counting into @s.
 */
void bx_stats_free(struct bx_stats *s);

/*
 * The block of @lcore_id, for that lcore to write (look it up once at lcore
 * start, keep the pointer). Returns NULL for an id outside RTE_MAX_LCORE,
 * e.g. LCORE_ID_ANY from a thread that never called rte_thread_register:
 * such a thread has no block of its own and must not share one.
 */
struct bx_stats_lcore *bx_stats_lcore(struct bx_stats *s,
				      unsigned int lcore_id);

/*
 * Sums every lcore's block into @out (overwritten). Safe while workers
 * count; each counter is read once, so totals are consistent per counter,
 * not across counters.
 *
 * There is deliberately no reset: a reset from another thread races with
 * the owner's load-add-store and is silently undone. Readers take
 * differences between two sums instead (counters are monotonic).
 */
void bx_stats_sum(const struct bx_stats *s, struct bx_stats_lcore *out);

/*
 * Builds {"counters": {name: n, ...}, "drops": {reason: n, ...}} from the
 * sum of all lcores, every counter and every drop reason (zeros included,
 * so consumers see a fixed schema). On success *@out is a new reference
 * the caller json_decref()s. Returns 0, -EINVAL for NULL arguments or
 * -ENOMEM; *@out is untouched on failure.
 */
int bx_stats_to_json(const struct bx_stats *s, json_t **out);

/*
 * Exports @s through the DPDK telemetry socket:
 *   /bauxite/stats   dict: every named counter, summed over lcores
 *   /bauxite/drops   dict: every drop reason (zeros included), summed
 *   /bauxite/lcores  dict of columns: "lcore" (ids) and rx_packets,
 *                    rx_dropped, tx_packets, tx_dropped, one entry per
 *                    lcore, for lcores with an EAL role or a non-zero
 *                    counter (so the columns add up to the totals)
 * The 22.11 telemetry callback has no user-data argument, so one instance
 * per process is exported. Commands are registered on the first call and
 * stay registered (22.11 cannot unregister); after bx_stats_free of the
 * exported instance, another one may be registered. Returns 0, -EINVAL for
 * NULL, -EBUSY if an instance is already exported, or the error of
 * rte_telemetry_register_cmd. Works before or after rte_eal_init; the
 * socket exists only when the EAL runs without --no-telemetry.
 */
int bx_stats_telemetry_register(struct bx_stats *s);

#endif /* BX_STATS_H */
