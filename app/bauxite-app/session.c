/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sessions (DESIGN §3.4): the control lcore runs the handshake engine
 * (lib/handshake) for every peer and publishes the keys it yields to the
 * fast path through the peer registry's session slots.
 *
 * Datagrams
 *   The RX (or RTC) lcore puts every handshake datagram -- initiation,
 *   response, cookie reply -- whole onto the hs ring; a full ring drops it
 *   (hs_queue_full), which with the engine's per-source rate limit and
 *   cookie replies is what bounds the work a flood can cause. What this
 *   layer sends (its handshake messages, a keepalive) goes down the ctl_tx
 *   ring and out on the underlay through that same lcore's TX queue.
 *   Replies go back to the frame they answer (its source MAC, address and
 *   port, from the underlay it came in on); initiations go along one of
 *   the peer's paths (initiation_path) through the next hop neigh.c
 *   resolved for it.
 *
 * Slots
 *   CURRENT is what we send on, PREVIOUS the session it replaced, which
 *   still opens packets in flight for keep_previous_s. A new session always
 *   enters CURRENT and pushes the old CURRENT into PREVIOUS (the old
 *   PREVIOUS is wiped). Key confirmation: a session we answered
 *   (responder) is not sent on until a packet arrived on it -- the worker
 *   sends on PREVIOUS meanwhile; a session we initiated is confirmed
 *   already, and we send a keepalive on it at once so the responder's
 *   side is confirmed without waiting for traffic.
 *
 * Who initiates
 *   The peer with the lower node id initiates and rekeys, whoever made
 *   the current session (bx_hs_should_rekey with "initiator" = lower id:
 *   the other side steps in only a handshake timeout later). A node with no session at all (its start, or a peer
 *   that lost its session) initiates whatever its id: a restarted node
 *   reaches its peers in one round trip instead of waiting for theirs to
 *   notice. When both initiate together the engine's tie-break keeps the
 *   lower id's and both end on one session.
 *
 * Limits
 *   Age: a session is rekeyed after rekey_after_s and cleared (refused)
 *   after reject_after_s. Messages: the worker refuses to seal at
 *   reject_after_messages (session_exhausted) and the replay window
 *   refuses to open from there on; the rekey starts at
 *   rekey_after_messages sent. Every key is wiped when its session leaves
 *   the registry.
 *
 * Control lcore only: no locking. Session keys never reach a log or a file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <sodium.h>

#include "app.h"
#include "bx_relay.h"
#include "bx_wire.h"

#define LOG_PREFIX "bauxite-app: "
/* Handshake datagrams taken per poll, and frames sent per flush. */
#define HS_BATCH 32u
_Static_assert(HS_BATCH <= APP_CTL_MBUFS - APP_HS_RING - APP_CTL_TX_RING,
	       "the pool has room for a batch of replies");
/* Batches per poll: the control loop stays responsive under a flood. */
#define HS_BATCHES_PER_POLL 8u
/* Timers (initiation, rekey, expiry) run this often. */
#define TIMER_PERIOD_NS (10u * 1000000u)
/* A sessionless peer's first initiation is sent again after this long
 * without an answer, doubling (see peer_timers). */
#define FIRST_RETRY_NS (250u * 1000000ull)
/* Our pending initiation is sent again when the peer's crosses it this
 * long after ours went out (see on_initiation). */
#define SIMULTANEOUS_RESEND_NS (250u * 1000000u)
/* Retransmit jitter: up to this fraction of the handshake timeout. */
#define RETRY_JITTER_DIV 8u
/* Index table: a peer can hold four local receiver indices at once (both
 * slots, a pending initiation, a session being answered); twice that, and
 * an extendable table, so an insert never fails on a cuckoo collision. */
#define INDICES_PER_PEER 8u
#define HASH_MIN_ENTRIES 64u

/* One per registry index: peers come and go with the topology. */
struct hs_peer {
	struct bx_hs_peer hs;           /* engine state; hs.ctx = this */
	bool in_use;
	char id[BX_PEER_ID_MAX];
	uint32_t index;                 /* registry index */
	struct app_session *slot[BX_PEER_MAX_SESSIONS];
	uint64_t prev_since_ns;         /* when slot PREVIOUS was replaced */
	uint64_t next_init_ns;          /* earliest next initiation */
	uint64_t init_sent_ns;          /* our latest initiation went out */
	uint32_t init_index;            /* ... with this receiver index */
	uint64_t up_unix_ms;            /* the latest session came up */
	uint64_t rtt_ns;                /* initiation -> response, latest */
	uint64_t sessions;              /* made with this peer */
	bool kick;                      /* a new path: initiate now */
	unsigned first_retries;         /* unanswered while sessionless */
};

struct app_sessions {
	const struct bx_config *cfg;
	struct bx_hs_config hcfg;
	struct bx_peer_registry *reg;
	struct bx_crypto *crypto;
	struct bx_stats_lcore *st;
	const struct app_ports *ports;
	const uint64_t *nexthop;
	const struct app_paths_shared *paths; /* NULL: every underlay is up */
	const struct app_owners *owners;      /* their bonding state, or NULL */
	uint32_t n_slots;
	struct rte_ring *hs_rx;
	struct rte_ring *ctl_tx;
	struct rte_hash *by_index;      /* local rx index -> hs_peer */
	struct rte_hash *by_key;        /* static public key -> hs_peer */
	struct hs_peer *peers;          /* [n_slots], sodium_allocarray:
					 * holds secrets */
	unsigned n_peers;               /* in use */
	struct bx_hs *hs;               /* sodium_malloc: holds our key */
	struct app_session *retired;    /* freed after the next commit */
	struct rte_mbuf *out[HS_BATCH]; /* sent after the next commit */
	enum bx_stat_id out_stat[HS_BATCH]; /* counted once it is queued */
	unsigned n_out;
	uint64_t next_timer_ns;
	/* The frame being handled came through a relay from this handle:
	 * answers go back the same way. 0: it came directly. */
	uint64_t via_relay;
	app_relay_frame_fn relay_frame;
	void *relay_ctx;
	/* The safety layer's hold-down: no handshake either way. */
	bool blocked;
};

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * BX_HS_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* ---- session objects ---------------------------------------------------- */

struct app_session *
app_session_create(struct bx_crypto *crypto, enum bx_crypto_cipher cipher,
		   uint32_t window, uint64_t limit,
		   const struct bx_hs_session *hs)
{
	struct app_session *s;
	int rc = -ENOMEM;

	s = rte_zmalloc("bx_session", sizeof(*s), RTE_CACHE_LINE_SIZE);
	if (s == NULL)
		goto fail;
	s->tx_key = rte_zmalloc("bx_key", bx_crypto_key_size(),
				BX_CRYPTO_KEY_ALIGN);
	s->rx_key = rte_zmalloc("bx_key", bx_crypto_key_size(),
				BX_CRYPTO_KEY_ALIGN);
	s->replay = rte_zmalloc("bx_replay", bx_replay_size(window),
				RTE_CACHE_LINE_SIZE);
	if (s->tx_key == NULL || s->rx_key == NULL || s->replay == NULL)
		goto fail;
	rc = bx_replay_init(s->replay, window, limit);
	if (rc == 0)
		rc = bx_crypto_key_init(crypto, s->tx_key, cipher, hs->send_key);
	if (rc == 0)
		rc = bx_crypto_key_init(crypto, s->rx_key, cipher, hs->recv_key);
	if (rc != 0)
		goto fail;
	s->tx_index = hs->remote_index;
	s->rx_index = hs->local_index;
	s->tx_limit = limit;
	s->created_ns = hs->created_ns;
	s->initiator = hs->initiator;
	s->confirmed = hs->initiator;
	return s;
fail:
	app_session_free(s);
	errno = -rc;
	return NULL;
}

void
app_session_free(struct app_session *s)
{
	if (s == NULL)
		return;
	bx_crypto_key_wipe(s->tx_key);
	bx_crypto_key_wipe(s->rx_key);
	rte_free(s->tx_key);
	rte_free(s->rx_key);
	rte_free(s->replay);
	rte_free(s);
}

/* ---- indices --------------------------------------------------------------- */

static struct hs_peer *
index_peer(const struct app_sessions *ss, uint32_t idx)
{
	void *data;

	return rte_hash_lookup_data(ss->by_index, &idx, &data) >= 0 ? data : NULL;
}

/* A fresh receiver index no session or pending initiation of ours has. */
static uint32_t
index_new(const struct app_sessions *ss)
{
	uint32_t idx;

	do
		idx = bx_hs_random_index();
	while (rte_hash_lookup(ss->by_index, &idx) >= 0);
	return idx;
}

static int
index_add(struct app_sessions *ss, uint32_t idx, struct hs_peer *hp)
{
	return rte_hash_add_key_data(ss->by_index, &idx, hp);
}

static void
index_del(struct app_sessions *ss, uint32_t idx)
{
	if (idx != 0)
		rte_hash_del_key(ss->by_index, &idx);
}

static struct bx_hs_peer *
lookup_static(void *ctx, const uint8_t static_pub[BX_HS_KEY_LEN])
{
	struct app_sessions *ss = ctx;
	uint8_t key[BX_HS_KEY_LEN] __attribute__((aligned(8)));
	void *data;

	/* rte_jhash reads the key a word at a time. */
	memcpy(key, static_pub, sizeof(key));
	if (rte_hash_lookup_data(ss->by_key, key, &data) < 0)
		return NULL;
	return &((struct hs_peer *)data)->hs;
}

/* ---- sending --------------------------------------------------------------- */

/* Takes @m (an outer frame) into the batch sent at flush, counted under
 * @stat once it is on its way; false (counted, freed) without room. */
static bool
queue_mbuf(struct app_sessions *ss, struct rte_mbuf *m, enum bx_stat_id stat)
{
	if (ss->n_out == HS_BATCH) {
		rte_pktmbuf_free(m);
		bx_stats_tx_drop(ss->st, BX_DROP_CTL_TX_FULL, 1);
		return false;
	}
	ss->out_stat[ss->n_out] = stat;
	ss->out[ss->n_out++] = m;
	return true;
}

/* Wraps the datagram @m starts with for the relay to pass to @relay
 * (0: sent directly, nothing to do). */
static int
relay_wrap(struct rte_mbuf *m, uint64_t relay)
{
	void *h;

	if (relay == 0)
		return 0;
	h = rte_pktmbuf_prepend(m, BX_RELAY_FORWARD_OVERHEAD);
	if (h == NULL)
		return -ENOSPC;
	bx_relay_forward_hdr(h, relay);
	return 0;
}

/* Queues @len bytes of UDP payload to @o's destination (through the relay
 * for handle @relay when not 0), sent at flush and counted under @stat. */
static bool
queue_payload(struct app_sessions *ss, const void *payload, uint16_t len,
	      const struct bx_wire_outer *o, uint64_t relay, enum bx_stat_id stat)
{
	struct rte_mbuf *m;
	void *p;

	m = rte_pktmbuf_alloc(ss->ports->pool);
	if (m == NULL) {
		bx_stats_tx_drop(ss->st, BX_DROP_CTL_TX_FULL, 1);
		return false;
	}
	p = rte_pktmbuf_append(m, len);
	if (p != NULL)
		memcpy(p, payload, len);
	if (p == NULL || relay_wrap(m, relay) != 0 ||
	    bx_wire_outer_prepend(m, o, BX_WIRE_CSUM_SW) != 0) {
		rte_pktmbuf_free(m);
		bx_stats_tx_drop(ss->st, BX_DROP_CTL_TX_FULL, 1);
		return false;
	}
	return queue_mbuf(ss, m, stat);
}

static bool
queue_frame(struct app_sessions *ss, const void *payload, uint16_t len,
	    const struct bx_wire_outer *o, uint64_t relay)
{
	return queue_payload(ss, payload, len, o, relay, BX_STAT_HANDSHAKE_TX);
}

/* Sends what was queued: after the commit that made it meaningful. */
static void
flush_frames(struct app_sessions *ss)
{
	unsigned sent, i;

	if (ss->n_out == 0)
		return;
	sent = rte_ring_sp_enqueue_burst(ss->ctl_tx, (void **)ss->out,
					 ss->n_out, NULL);
	for (i = 0; i < sent; i++)
		bx_stats_add(ss->st, ss->out_stat[i], 1);
	for (i = sent; i < ss->n_out; i++) {
		rte_pktmbuf_free(ss->out[i]);
		bx_stats_tx_drop(ss->st, BX_DROP_CTL_TX_FULL, 1);
	}
	ss->n_out = 0;
}

/* Outer headers from us to the sender of the frame @v describes, from the
 * underlay it arrived on (the fast path sends a frame out of the underlay
 * whose address is its source). */
static void
reply_to(const struct app_sessions *ss, const struct bx_wire_udp_view *v,
	 struct bx_wire_outer *o)
{
	unsigned u, ul = 0;

	for (u = 1; u < ss->ports->n_ul; u++)
		if (ss->ports->ul[u].ip == v->dst_ip)
			ul = u;
	memset(o, 0, sizeof(*o));
	o->src_mac = ss->ports->ul[ul].mac;
	o->dst_mac = v->src_mac;
	o->src_ip = ss->ports->ul[ul].ip;
	o->dst_ip = v->src_ip;
	o->src_port = rte_cpu_to_be_16(ss->cfg->mesh_port);
	o->dst_port = v->src_port;
}

/*
 * Seals an empty data datagram with counter 0 on @s (not yet published,
 * so its counter is still ours) and queues it to @v's sender; the worker
 * goes on from counter 1.
 */
static void
queue_keepalive(struct app_sessions *ss, struct app_session *s,
		const struct bx_wire_udp_view *v)
{
	const struct bx_crypto_key *key = s->tx_key;
	struct bx_wire_outer o;
	struct bx_wire_info info;
	struct rte_mbuf *m;
	uint8_t why;
	void *hdr;

	s->tx_counter = 1;
	m = rte_pktmbuf_alloc(ss->ports->pool);
	hdr = m != NULL ? rte_pktmbuf_append(m, BX_WIRE_HDR_LEN) : NULL;
	if (hdr == NULL) {
		rte_pktmbuf_free(m);
		bx_stats_tx_drop(ss->st, BX_DROP_CTL_TX_FULL, 1);
		return;
	}
	memset(&info, 0, sizeof(info));
	info.type = BX_WIRE_DATA;
	info.lane = BX_LANE_CRITICAL;
	info.rx_index = s->tx_index;
	info.counter = 0;
	bx_wire_encode(hdr, &info);
	reply_to(ss, v, &o);
	if (bx_crypto_seal_burst(ss->crypto, &key, &m, 1, 0, &why) != 1 ||
	    relay_wrap(m, ss->via_relay) != 0 ||
	    bx_wire_outer_prepend(m, &o, BX_WIRE_CSUM_SW) != 0) {
		rte_pktmbuf_free(m);
		bx_stats_tx_drop(ss->st, BX_DROP_CTL_TX_FULL, 1);
		return;
	}
	queue_mbuf(ss, m, BX_STAT_KEEPALIVE_TX);
}

/* ---- registry ------------------------------------------------------------ */

static void
retire(struct app_sessions *ss, struct app_session *s)
{
	index_del(ss, s->rx_index);
	s->next = ss->retired;
	ss->retired = s;
}

/*
 * Publishes what was staged -- by this layer or by topo.c, who share the
 * registry -- then frees what it unpublished. bx_peer_commit returns at
 * once when nothing is staged.
 */
static void
commit(struct app_sessions *ss)
{
	struct app_session *s;

	/* Returns once no worker can still hold a retired session. */
	bx_peer_commit(ss->reg);
	while ((s = ss->retired) != NULL) {
		ss->retired = s->next;
		app_session_free(s);
	}
}

/* Stages emptying @slot of @hp and retires what was there. */
static void
slot_clear(struct app_sessions *ss, struct hs_peer *hp, unsigned slot)
{
	struct app_session *s = hp->slot[slot];

	if (s == NULL)
		return;
	/* Cannot fail for a known peer but for -ENOMEM; the session then
	 * stays published, and is retried at the next timer. */
	if (bx_peer_clear_session(ss->reg, hp->id, slot) != 0)
		return;
	hp->slot[slot] = NULL;
	retire(ss, s);
}

/*
 * Stages @s as @hp's CURRENT session. A confirmed CURRENT moves to
 * PREVIOUS (the old PREVIOUS is retired) so packets in flight on it still
 * open; an unconfirmed one is retired instead, so a confirmed PREVIOUS --
 * the session the peer may still be sending on -- stays. On a registry
 * failure (no memory) @s is retired, the peer keeps what was staged
 * before, and control state matches the registry; returns false then.
 */
static bool
slot_install(struct app_sessions *ss, struct hs_peer *hp, struct app_session *s,
	     uint64_t now)
{
	struct app_session *old = hp->slot[BX_PEER_SESSION_CURRENT];
	int rc;

	if (old != NULL && __atomic_load_n(&old->confirmed, __ATOMIC_RELAXED)) {
		slot_clear(ss, hp, BX_PEER_SESSION_PREVIOUS);
		if (hp->slot[BX_PEER_SESSION_PREVIOUS] != NULL)
			goto fail;
		if (bx_peer_clear_session(ss->reg, hp->id,
					  BX_PEER_SESSION_CURRENT) != 0)
			goto fail;
		hp->slot[BX_PEER_SESSION_CURRENT] = NULL;
		/* Unpublished by that clear; if it cannot go to PREVIOUS, it
		 * just ends. */
		if (bx_peer_set_session(ss->reg, hp->id, BX_PEER_SESSION_PREVIOUS,
					old->rx_index, old) == 0) {
			hp->slot[BX_PEER_SESSION_PREVIOUS] = old;
			hp->prev_since_ns = now;
		} else {
			retire(ss, old);
		}
	} else if (old != NULL) {
		slot_clear(ss, hp, BX_PEER_SESSION_CURRENT);
		if (hp->slot[BX_PEER_SESSION_CURRENT] != NULL)
			goto fail;
	}
	rc = bx_peer_set_session(ss->reg, hp->id, BX_PEER_SESSION_CURRENT,
				 s->rx_index, s);
	if (rc != 0)
		goto fail;
	hp->slot[BX_PEER_SESSION_CURRENT] = s;
	return true;
fail:
	fprintf(stderr, LOG_PREFIX "peer %s: cannot install a session: no "
		"memory in the peer registry\n", hp->id);
	retire(ss, s);
	return false;
}

/*
 * Makes the session @out describes (wiping @out) and stages it as @hp's
 * CURRENT; the initiator's gets a keepalive to @v's sender. True when it
 * is in: only then may the caller answer the peer.
 */
static bool
session_up(struct app_sessions *ss, struct hs_peer *hp,
	   struct bx_hs_session *out, const struct bx_wire_udp_view *v,
	   uint64_t now)
{
	struct app_session *s;
	bool initiator = out->initiator;
	uint32_t local_index = out->local_index;

	s = app_session_create(ss->crypto, ss->cfg->cipher,
			       ss->cfg->replay_window,
			       ss->hcfg.reject_after_messages, out);
	bx_hs_session_wipe(out);
	if (s == NULL) {
		fprintf(stderr, LOG_PREFIX "peer %s: no memory for a session\n",
			hp->id);
		index_del(ss, local_index);
		return false;
	}
	if (!slot_install(ss, hp, s, now))
		return false;
	/* Answered: the next handshake is due by the policy alone, not by
	 * the retransmit timer of the initiation that made this one. */
	hp->next_init_ns = 0;
	hp->first_retries = 0;
	hp->up_unix_ms = clock_ns(CLOCK_REALTIME) / 1000000u;
	hp->sessions++;
	/* Staged, not yet published: counter 0 is still ours to use. */
	if (initiator)
		queue_keepalive(ss, s, v);
	bx_stats_add(ss->st, initiator ? BX_STAT_SESSIONS_INITIATED :
					 BX_STAT_SESSIONS_RESPONDED, 1);
	printf(LOG_PREFIX "peer %s: session up (%s), index rx %08" PRIx32
	       " tx %08" PRIx32 "\n", hp->id,
	       initiator ? "we initiated" : "peer initiated", s->rx_index,
	       s->tx_index);
	fflush(stdout);
	return true;
}

/* ---- received handshake datagrams ------------------------------------------ */

static const enum bx_drop_reason hs_drop[BX_HS__COUNT] = {
	[BX_HS_OK] = BX_DROP_NONE,
	[BX_HS_COOKIE_SENT] = BX_DROP_HS_COOKIE_SENT,
	[BX_HS_BAD_LEN] = BX_DROP_HS_BAD_LEN,
	[BX_HS_BAD_HEADER] = BX_DROP_HS_BAD_HEADER,
	[BX_HS_BAD_MAC1] = BX_DROP_HS_BAD_MAC1,
	[BX_HS_BAD_MAC2] = BX_DROP_HS_BAD_MAC2,
	[BX_HS_RATE_LIMITED] = BX_DROP_HS_RATE_LIMITED,
	[BX_HS_DECRYPT_FAILED] = BX_DROP_HS_DECRYPT_FAILED,
	[BX_HS_BAD_KEY] = BX_DROP_HS_BAD_KEY,
	[BX_HS_UNKNOWN_PEER] = BX_DROP_HS_UNKNOWN_PEER,
	[BX_HS_BAD_TIMESTAMP] = BX_DROP_HS_BAD_TIMESTAMP,
	[BX_HS_STALE_TIMESTAMP] = BX_DROP_HS_STALE_TIMESTAMP,
	[BX_HS_FUTURE_TIMESTAMP] = BX_DROP_HS_FUTURE_TIMESTAMP,
	[BX_HS_SIMULTANEOUS] = BX_DROP_HS_SIMULTANEOUS,
	[BX_HS_NO_PENDING] = BX_DROP_HS_NO_PENDING,
};

static void
count_refused(struct app_sessions *ss, enum bx_hs_reason r)
{
	bx_stats_rx_drop(ss->st, (unsigned)r < BX_HS__COUNT ? hs_drop[r] :
					BX_DROP_HS_BAD_HEADER, 1);
}

static void
on_initiation(struct app_sessions *ss, const uint8_t *msg, size_t len,
	      const struct bx_wire_udp_view *v, uint64_t now)
{
	struct bx_hs_result res;
	struct bx_wire_outer o;
	struct bx_hs_rx rx;
	struct hs_peer *hp;
	enum bx_hs_reason r;

	memset(&rx, 0, sizeof(rx));
	rx.msg = msg;
	rx.len = len;
	/* The rate limit and cookies are per sender: through a relay, the
	 * node behind it (its handle), not the relay every node shares. */
	rx.source = ss->via_relay != 0 ? ss->via_relay :
		    (uint64_t)rte_be_to_cpu_32(v->src_ip) << 16 |
		    rte_be_to_cpu_16(v->src_port);
	rx.now = now;
	rx.wall_ns = clock_ns(CLOCK_REALTIME);
	rx.local_index = index_new(ss);
	rx.under_load = rte_ring_count(ss->hs_rx) >= APP_HS_LOAD_MARK;
	res.simultaneous = NULL;
	r = bx_hs_consume_initiation(ss->hs, &rx, &res);
	reply_to(ss, v, &o);
	if (r == BX_HS_COOKIE_SENT || r == BX_HS_BAD_MAC2)
		queue_frame(ss, res.reply, (uint16_t)res.reply_len, &o,
			    ss->via_relay);
	if (r != BX_HS_OK) {
		count_refused(ss, r);
		/* The peer's initiation crossed ours, which it should answer;
		 * but it got here and ours has had time to arrive: ours may
		 * be lost (a relay that did not know the peer yet). Send it
		 * again now rather than after the handshake timeout. */
		hp = r == BX_HS_SIMULTANEOUS && res.simultaneous != NULL ?
			     res.simultaneous->ctx : NULL;
		if (hp != NULL && now - hp->init_sent_ns >= SIMULTANEOUS_RESEND_NS)
			hp->kick = true;
		return;
	}
	hp = res.session.peer->ctx;
	index_del(ss, res.dropped_index);
	/* The answer goes out only if our side of the session is in. */
	if (index_add(ss, rx.local_index, hp) != 0 ||
	    !session_up(ss, hp, &res.session, v, now)) {
		bx_stats_rx_drop(ss->st, BX_DROP_HS_NO_MEMORY, 1);
		sodium_memzero(&res, sizeof(res));
		return;
	}
	bx_stats_add(ss->st, BX_STAT_HANDSHAKE_ACCEPTED, 1);
	queue_frame(ss, res.reply, (uint16_t)res.reply_len, &o, ss->via_relay);
	sodium_memzero(&res, sizeof(res));
}

static void
on_response(struct app_sessions *ss, const uint8_t *msg, size_t len,
	    uint32_t rx_index, const struct bx_wire_udp_view *v, uint64_t now)
{
	struct hs_peer *hp = index_peer(ss, rx_index);
	struct bx_hs_session out;
	enum bx_hs_reason r;

	if (hp == NULL) {
		count_refused(ss, BX_HS_NO_PENDING);
		return;
	}
	r = bx_hs_consume_response(ss->hs, &hp->hs, msg, len, now, &out);
	if (r != BX_HS_OK) {
		count_refused(ss, r);
		return;
	}
	/* A round trip, measured where it starts and ends: here. */
	if (rx_index == hp->init_index)
		hp->rtt_ns = now - hp->init_sent_ns;
	/* The pending initiation's index is the session's now. */
	if (session_up(ss, hp, &out, v, now))
		bx_stats_add(ss->st, BX_STAT_HANDSHAKE_ACCEPTED, 1);
	else
		bx_stats_rx_drop(ss->st, BX_DROP_HS_NO_MEMORY, 1);
}

static void
on_cookie(struct app_sessions *ss, const uint8_t *msg, size_t len,
	  uint32_t rx_index, uint64_t now)
{
	struct hs_peer *hp = index_peer(ss, rx_index);
	enum bx_hs_reason r;

	if (hp == NULL) {
		count_refused(ss, BX_HS_NO_PENDING);
		return;
	}
	/* The cookie rides on our next initiation (the retransmit timer). */
	r = bx_hs_consume_cookie(ss->hs, &hp->hs, msg, len, now);
	if (r != BX_HS_OK)
		count_refused(ss, r);
	else
		bx_stats_add(ss->st, BX_STAT_HANDSHAKE_ACCEPTED, 1);
}

/* One queued frame: the RX lcore checked its outer headers and type. */
static void
on_frame(struct app_sessions *ss, struct rte_mbuf *m, uint64_t now)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	struct bx_wire_udp_view v;
	struct bx_wire_info info;
	const uint8_t *msg;
	enum bx_drop_reason r;
	size_t len, off;

	r = bx_wire_outer_parse(frame, rte_pktmbuf_data_len(m), false, &v);
	if (r != BX_DROP_NONE) {
		bx_stats_rx_drop(ss->st, r, 1);
		return;
	}
	msg = frame + v.payload_off;
	len = v.payload_len;
	r = bx_wire_decode(msg, len, &info);
	if (r != BX_DROP_NONE) {
		bx_stats_rx_drop(ss->st, r, 1);
		return;
	}
	ss->via_relay = 0;
	if (info.type == BX_WIRE_RELAY && info.path_id != BX_RELAY_OP_FORWARD) {
		/* Registrations and their answers: the relay module's. */
		if (ss->relay_frame == NULL)
			bx_stats_rx_drop(ss->st, BX_DROP_MSG_UNHANDLED, 1);
		else
			ss->relay_frame(ss->relay_ctx, msg, len, &v);
		return;
	}
	if (info.type == BX_WIRE_RELAY) {
		/* A handshake a relay passed on: handled as any other, and
		 * answered through the relay to the node that sent it. */
		r = bx_relay_unwrap(msg, len, &ss->via_relay, &off);
		if (r == BX_DROP_NONE)
			r = bx_wire_decode(msg + off, len - off, &info);
		if (r != BX_DROP_NONE) {
			bx_stats_rx_drop(ss->st, r, 1);
			ss->via_relay = 0;
			return;
		}
		msg += off;
		len -= off;
	}
	if (ss->blocked) {
		/* Severed (safety layer): no tunnel until the hold-down ends. */
		bx_stats_rx_drop(ss->st, BX_DROP_SAFETY_BLOCKED, 1);
		ss->via_relay = 0;
		return;
	}
	switch (info.type) {
	case BX_WIRE_HANDSHAKE_INIT:
		on_initiation(ss, msg, len, &v, now);
		break;
	case BX_WIRE_HANDSHAKE_RESP:
		on_response(ss, msg, len, info.rx_index, &v, now);
		break;
	case BX_WIRE_COOKIE:
		on_cookie(ss, msg, len, info.rx_index, now);
		break;
	default:
		bx_stats_rx_drop(ss->st, BX_DROP_MSG_UNHANDLED, 1);
		break;
	}
	ss->via_relay = 0;
}

/* ---- timers ---------------------------------------------------------------- */

static struct bx_hs_usage
usage_of(const struct hs_peer *hp, const struct app_session *s)
{
	struct bx_hs_usage u;

	u.created_ns = s->created_ns;
	u.sent = __atomic_load_n(&s->tx_counter, __ATOMIC_RELAXED);
	/* The receive limit is the replay window's (bx_replay_init limit). */
	u.received = 0;
	/* Whoever made this session, the lower id rekeys it; the other
	 * steps in only a handshake timeout later (bx_hs_should_rekey). */
	u.initiator = hp->hs.local_is_lower;
	return u;
}

/* A new handshake is due: no session, one the peer never confirmed, or
 * the rekey policy says so. */
static bool
wants_handshake(const struct app_sessions *ss, const struct hs_peer *hp,
		uint64_t now)
{
	const struct app_session *s = hp->slot[BX_PEER_SESSION_CURRENT];
	struct bx_hs_usage u;

	if (s == NULL)
		return true;
	if (!__atomic_load_n(&s->confirmed, __ATOMIC_RELAXED) &&
	    now - s->created_ns >= ss->hcfg.handshake_timeout_ns)
		return true;
	u = usage_of(hp, s);
	return bx_hs_should_rekey(&ss->hcfg, &u, now);
}

/* Can path @k of @p take a frame now: carrier and a next hop (*@nh)? */
static bool
path_ready(const struct app_sessions *ss, const struct bx_peer *p, unsigned k,
	   uint32_t up, uint64_t *nh)
{
	uint64_t v = __atomic_load_n(&ss->nexthop[APP_NH(p->index, k)],
				     __ATOMIC_ACQUIRE);

	if ((v & APP_NH_VALID) == 0 || ((up >> p->paths[k].ul) & 1u) == 0 ||
	    p->paths[k].ip == 0)
		return false;
	*nh = v;
	return true;
}

/*
 * The path an initiation to @p takes: with bonding, the one its owner's
 * scheduler prefers, else one it judges UP (a path that lost its probes
 * but not its carrier would otherwise take every rekey until the session
 * died); else the first whose underlay has carrier and whose next hop is
 * known (*@nh). -1 if none.
 */
static int
initiation_path(const struct app_sessions *ss, const struct bx_peer *p,
		uint64_t *nh)
{
	uint32_t up = ss->paths != NULL ?
		__atomic_load_n(&ss->paths->ul_up, __ATOMIC_ACQUIRE) : UINT32_MAX;
	const struct app_bond_peer *bp = NULL;
	struct bx_bond_stats bs;
	unsigned k;

	if (ss->owners != NULL && p->n_paths > 1)
		bp = ss->owners->w[p->index % ss->owners->n]->bpeer;
	if (bp != NULL) {
		bp += p->index;
		/* The owner's view of this very peer, not of one before it. */
		if (strncmp(bp->id, p->id, sizeof(bp->id)) == 0) {
			bx_bond_read(&bp->bond, &bs);
			if (bs.preferred >= 0 && (unsigned)bs.preferred < p->n_paths &&
			    path_ready(ss, p, (unsigned)bs.preferred, up, nh))
				return bs.preferred;
			for (k = 0; k < p->n_paths && k < bs.n_paths; k++)
				if (bs.path[k].state == BX_BOND_UP &&
				    path_ready(ss, p, k, up, nh))
					return (int)k;
		}
	}
	for (k = 0; k < p->n_paths; k++) {
		if (path_ready(ss, p, k, up, nh))
			return (int)k;
	}
	return -1;
}

static void
send_initiation(struct app_sessions *ss, struct hs_peer *hp, uint64_t now)
{
	const struct bx_peer *p = bx_peer_find(ss->reg, hp->id);
	const struct app_ul *ul;
	uint8_t msg[BX_HS_INIT_LEN];
	struct bx_wire_outer o;
	uint64_t nh = 0, jitter;
	uint32_t idx;
	int i, k;

	if (p == NULL || p->endpoint_ip == 0 || p->index >= ss->n_slots)
		return;
	k = initiation_path(ss, p, &nh);
	if (k < 0)
		return; /* neigh.c is resolving it: the next timer retries */
	idx = index_new(ss);
	if (index_add(ss, idx, hp) != 0) {
		bx_stats_tx_drop(ss->st, BX_DROP_CTL_TX_FULL, 1);
		return;
	}
	index_del(ss, bx_hs_pending_index(&hp->hs));
	if (bx_hs_create_initiation(ss->hs, &hp->hs, idx, now,
				    clock_ns(CLOCK_REALTIME), msg) != 0) {
		index_del(ss, idx);
		return;
	}
	ul = &ss->ports->ul[p->paths[k].ul < ss->ports->n_ul ? p->paths[k].ul : 0];
	memset(&o, 0, sizeof(o));
	o.src_mac = ul->mac;
	for (i = RTE_ETHER_ADDR_LEN - 1; i >= 0; i--, nh >>= 8)
		o.dst_mac.addr_bytes[i] = (uint8_t)nh;
	o.src_ip = ul->ip;
	o.dst_ip = p->paths[k].ip;
	o.src_port = rte_cpu_to_be_16(ss->cfg->mesh_port);
	o.dst_port = p->paths[k].port;
	queue_frame(ss, msg, sizeof(msg), &o, k == 0 ? p->relay_handle : 0);
	/* Retransmit once it expired, with jitter so two retrying sides
	 * drift apart. */
	jitter = randombytes_uniform((uint32_t)(ss->hcfg.handshake_timeout_ns /
						 RETRY_JITTER_DIV / 1000u) + 1u);
	hp->next_init_ns = now + ss->hcfg.handshake_timeout_ns + jitter * 1000u;
	hp->init_sent_ns = now;
	hp->init_index = idx;
}

static uint64_t
first_retry_ns(const struct app_sessions *ss, const struct hs_peer *hp)
{
	uint64_t ns = FIRST_RETRY_NS << (hp->first_retries < 16 ? hp->first_retries : 16);

	return ns < ss->hcfg.handshake_timeout_ns ? ns : ss->hcfg.handshake_timeout_ns;
}

static void
peer_timers(struct app_sessions *ss, struct hs_peer *hp, uint64_t now)
{
	struct app_session *s;
	struct bx_hs_usage u;
	unsigned slot;

	index_del(ss, bx_hs_peer_expire(ss->hs, &hp->hs, now));
	for (slot = 0; slot < BX_PEER_MAX_SESSIONS; slot++) {
		s = hp->slot[slot];
		if (s == NULL)
			continue;
		u = usage_of(hp, s);
		if (bx_hs_expired(&ss->hcfg, &u, now)) {
			printf(LOG_PREFIX "peer %s: session %08" PRIx32
			       " expired\n", hp->id, s->rx_index);
			bx_stats_add(ss->st, BX_STAT_SESSIONS_EXPIRED, 1);
			slot_clear(ss, hp, slot);
		} else if (slot == BX_PEER_SESSION_PREVIOUS &&
			   !bx_hs_keep_previous(&ss->hcfg, hp->prev_since_ns,
						now)) {
			slot_clear(ss, hp, slot);
		}
	}
	if (hp->kick) {
		/* An initiation sent along the old path is not waited for. */
		hp->kick = false;
		if (wants_handshake(ss, hp, now)) {
			send_initiation(ss, hp, now);
			return;
		}
	}
	if (bx_hs_pending_index(&hp->hs) == 0 && now >= hp->next_init_ns &&
	    wants_handshake(ss, hp, now)) {
		send_initiation(ss, hp, now);
		return;
	}
	/* No session at all yet: an unanswered initiation goes again after
	 * FIRST_RETRY_NS, doubling up to the handshake timeout, instead of
	 * only after the timeout. One lost on a path that just came up (a
	 * relay that does not know the peer yet) then costs little. */
	if (bx_hs_pending_index(&hp->hs) != 0 &&
	    hp->slot[BX_PEER_SESSION_CURRENT] == NULL &&
	    now - hp->init_sent_ns >= first_retry_ns(ss, hp)) {
		hp->first_retries++;
		send_initiation(ss, hp, now);
	}
}


void
app_sessions_set_paths(struct app_sessions *s, const struct app_paths_shared *p,
		       const struct app_owners *owners)
{
	s->paths = p;
	s->owners = owners;
}

void
app_sessions_path_changed(struct app_sessions *ss, uint32_t index)
{
	struct hs_peer *hp;

	if (index >= ss->n_slots)
		return;
	hp = &ss->peers[index];
	/* Only a peer still waiting for a session: a working one keeps its
	 * keys and its rekey schedule whatever the path. */
	if (hp->in_use && (hp->slot[BX_PEER_SESSION_CURRENT] == NULL ||
			   !__atomic_load_n(&hp->slot[BX_PEER_SESSION_CURRENT]->confirmed,
					    __ATOMIC_RELAXED)))
		hp->kick = true;
}

/* ---- the layer --------------------------------------------------------------- */

void
app_sessions_poll(struct app_sessions *ss)
{
	struct rte_mbuf *pkts[HS_BATCH];
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	unsigned n, i, b;

	for (b = 0; b < HS_BATCHES_PER_POLL; b++) {
		n = rte_ring_sc_dequeue_burst(ss->hs_rx, (void **)pkts,
					      HS_BATCH, NULL);
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			/* Each reply needs room in the batch of frames. */
			if (ss->n_out == HS_BATCH) {
				commit(ss);
				flush_frames(ss);
			}
			on_frame(ss, pkts[i], now);
			rte_pktmbuf_free(pkts[i]);
		}
		/* Sessions first, then the frames that announce them: the
		 * peer's answer must find them published. */
		commit(ss);
		flush_frames(ss);
	}
	if (now >= ss->next_timer_ns) {
		ss->next_timer_ns = now + TIMER_PERIOD_NS;
		for (i = 0; i < ss->n_slots; i++) {
			if (!ss->peers[i].in_use || ss->blocked)
				continue;
			if (ss->n_out == HS_BATCH) {
				commit(ss);
				flush_frames(ss);
			}
			peer_timers(ss, &ss->peers[i], now);
		}
		commit(ss);
		flush_frames(ss);
	}
}

int
app_sessions_peer_info(const struct app_sessions *ss, uint32_t index,
		       struct app_session_info *out)
{
	const struct hs_peer *hp;
	const struct app_session *s;

	if (index >= ss->n_slots || !ss->peers[index].in_use)
		return -ENOENT;
	hp = &ss->peers[index];
	s = hp->slot[BX_PEER_SESSION_CURRENT];
	memset(out, 0, sizeof(*out));
	out->up = s != NULL && __atomic_load_n(&s->confirmed, __ATOMIC_RELAXED);
	out->pending = bx_hs_pending_index(&hp->hs) != 0;
	if (s != NULL) {
		out->rx_index = s->rx_index;
		out->tx_index = s->tx_index;
		out->initiator = s->initiator;
	}
	out->last_handshake_unix_ms = hp->up_unix_ms;
	out->rtt_us = hp->rtt_ns / 1000u;
	out->sessions = hp->sessions;
	return 0;
}

bool
app_sessions_send(struct app_sessions *ss, const void *payload, uint16_t len,
		  const struct bx_wire_outer *o, enum bx_stat_id stat)
{
	bool queued = queue_payload(ss, payload, len, o, 0, stat);

	/* Out at once, behind what the sessions staged (nothing usually). */
	commit(ss);
	flush_frames(ss);
	return queued;
}

void
app_sessions_sever(struct app_sessions *ss)
{
	unsigned i, slot, n = 0;

	ss->blocked = true;
	for (i = 0; i < ss->n_slots; i++) {
		struct hs_peer *hp = &ss->peers[i];

		if (!hp->in_use)
			continue;
		for (slot = 0; slot < BX_PEER_MAX_SESSIONS; slot++) {
			n += hp->slot[slot] != NULL;
			slot_clear(ss, hp, slot);
		}
		/* A pending initiation's ephemeral key and cookie too: as if
		 * their time had come. */
		index_del(ss, bx_hs_peer_expire(ss->hs, &hp->hs, UINT64_MAX));
		hp->first_retries = 0;
		hp->kick = false;
	}
	/* Unpublished, then wiped and freed (retire). */
	commit(ss);
	printf(LOG_PREFIX "severed: %u session(s) torn down, keys wiped; "
	       "no handshakes until the hold-down ends\n", n);
	fflush(stdout);
}

void
app_sessions_allow(struct app_sessions *ss)
{
	unsigned i;

	ss->blocked = false;
	/* Every peer initiates again at once. */
	for (i = 0; i < ss->n_slots; i++)
		if (ss->peers[i].in_use)
			ss->peers[i].kick = true;
}

void
app_sessions_set_relay(struct app_sessions *ss, app_relay_frame_fn fn,
		       void *ctx)
{
	ss->relay_frame = fn;
	ss->relay_ctx = ctx;
}

unsigned
app_sessions_up(const struct app_sessions *ss)
{
	unsigned i, n = 0;

	for (i = 0; i < ss->n_slots; i++) {
		const struct app_session *s =
			ss->peers[i].slot[BX_PEER_SESSION_CURRENT];

		n += s != NULL && __atomic_load_n(&s->confirmed, __ATOMIC_RELAXED);
	}
	return n;
}

struct rte_ring *
app_sessions_hs_ring(const struct app_sessions *ss)
{
	return ss->hs_rx;
}

struct rte_ring *
app_sessions_tx_ring(const struct app_sessions *ss)
{
	return ss->ctl_tx;
}

/* The config's defaults are lib/handshake's, written out where config
 * cannot include it. */
#define SAME_DEFAULT_(cfg_s, hs_ns)                                           \
	_Static_assert((uint64_t)(cfg_s) * BX_HS_NS_PER_SEC == (hs_ns),        \
		       #cfg_s " is " #hs_ns)
SAME_DEFAULT_(BX_CONFIG_DEFAULT_REKEY_AFTER_S, BX_HS_REKEY_AFTER_NS);
SAME_DEFAULT_(BX_CONFIG_DEFAULT_REJECT_AFTER_S, BX_HS_REJECT_AFTER_NS);
SAME_DEFAULT_(BX_CONFIG_DEFAULT_KEEP_PREVIOUS_S, BX_HS_KEEP_PREVIOUS_NS);
SAME_DEFAULT_(BX_CONFIG_DEFAULT_HANDSHAKE_TIMEOUT_S, BX_HS_HANDSHAKE_TIMEOUT_NS);
SAME_DEFAULT_(BX_CONFIG_DEFAULT_MAX_CLOCK_SKEW_S, BX_HS_MAX_CLOCK_SKEW_NS);
_Static_assert(BX_CONFIG_DEFAULT_REKEY_AFTER_MESSAGES == BX_HS_REKEY_AFTER_MESSAGES,
	       "rekey_after_messages default");
_Static_assert(BX_CONFIG_DEFAULT_REJECT_AFTER_MESSAGES == BX_HS_REJECT_AFTER_MESSAGES,
	       "reject_after_messages default");
_Static_assert(BX_CONFIG_DEFAULT_INITIATIONS_PER_SEC == BX_HS_INITIATIONS_PER_SEC,
	       "initiations_per_sec default");
_Static_assert(BX_CONFIG_DEFAULT_INITIATIONS_BURST == BX_HS_INITIATIONS_BURST,
	       "initiations_burst default");
#undef SAME_DEFAULT_

static void
hs_config(const struct bx_config *cfg, struct bx_hs_config *h)
{
	const struct bx_config_session *c = &cfg->session;

	bx_hs_config_default(h);
	h->rekey_after_ns = (uint64_t)c->rekey_after_s * BX_HS_NS_PER_SEC;
	h->reject_after_ns = (uint64_t)c->reject_after_s * BX_HS_NS_PER_SEC;
	h->rekey_after_messages = c->rekey_after_messages;
	h->reject_after_messages = c->reject_after_messages;
	h->keep_previous_ns = (uint64_t)c->keep_previous_s * BX_HS_NS_PER_SEC;
	h->handshake_timeout_ns =
		(uint64_t)c->handshake_timeout_s * BX_HS_NS_PER_SEC;
	h->max_clock_skew_ns = (uint64_t)c->max_clock_skew_s * BX_HS_NS_PER_SEC;
	h->initiations_per_sec = c->initiations_per_sec;
	h->initiations_burst = c->initiations_burst;
}

static struct rte_hash *
hash_make(const char *name, uint32_t key_len, uint32_t entries)
{
	struct rte_hash_parameters hp;

	memset(&hp, 0, sizeof(hp));
	hp.name = name;
	hp.entries = entries < HASH_MIN_ENTRIES ? HASH_MIN_ENTRIES : entries;
	hp.key_len = key_len;
	hp.hash_func = rte_jhash;
	hp.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
	hp.socket_id = (int)rte_socket_id();
	return rte_hash_create(&hp);
}

/* What a peer's errors call it: its config field, or where it came from. */
static void
peer_field(const struct app_peer_src *p, char *buf, size_t len)
{
	if (p->cfg_index >= 0)
		snprintf(buf, len, "peers[%d].public_key", p->cfg_index);
	else
		snprintf(buf, len, "peer %s: public key", p->id);
}

int
app_sessions_peer_add(struct app_sessions *ss, const struct app_peer_src *ps,
		      char *err, size_t errlen)
{
	uint8_t key[BX_HS_KEY_LEN] __attribute__((aligned(8)));
	const struct bx_peer *p = bx_peer_find(ss->reg, ps->id);
	char field[BX_PEER_ID_MAX + 64];
	struct hs_peer *hp;
	int rc;

	peer_field(ps, field, sizeof(field));
	if (p == NULL || p->index >= ss->n_slots) {
		snprintf(err, errlen, "peer %s: not in the registry", ps->id);
		return -ENOENT;
	}
	hp = &ss->peers[p->index];
	if (hp->in_use) {
		snprintf(err, errlen, "peer %s: index %u has a peer already",
			 ps->id, p->index);
		return -EEXIST;
	}
	rc = bx_hs_peer_init(ss->hs, &hp->hs, ps->public_key,
			     bx_peer_id_cmp(ss->cfg->node_id, ps->id) < 0, hp);
	if (rc != 0) {
		snprintf(err, errlen, "%s: not a usable X25519 public key (a "
			 "low-order point, or this node's own key)", field);
		return rc;
	}
	memcpy(key, ps->public_key, sizeof(key));
	rc = rte_hash_add_key_data(ss->by_key, key, hp);
	if (rc != 0) {
		bx_hs_peer_wipe(&hp->hs);
		snprintf(err, errlen, "%s: %s", field, strerror(-rc));
		return rc;
	}
	snprintf(hp->id, sizeof(hp->id), "%s", ps->id);
	hp->index = p->index;
	hp->next_init_ns = 0;
	hp->in_use = true;
	ss->n_peers++;
	return 0;
}

void
app_sessions_peer_remove(struct app_sessions *ss, uint32_t index)
{
	uint8_t key[BX_HS_KEY_LEN] __attribute__((aligned(8)));
	struct hs_peer *hp;
	unsigned slot;

	if (index >= ss->n_slots || !ss->peers[index].in_use)
		return;
	hp = &ss->peers[index];
	/* bx_peer_remove unpublishes the sessions with the peer: retire
	 * them for the next commit. */
	for (slot = 0; slot < BX_PEER_MAX_SESSIONS; slot++) {
		if (hp->slot[slot] != NULL)
			retire(ss, hp->slot[slot]);
		hp->slot[slot] = NULL;
	}
	index_del(ss, bx_hs_pending_index(&hp->hs));
	memcpy(key, hp->hs.remote_static, sizeof(key));
	rte_hash_del_key(ss->by_key, key);
	bx_hs_peer_wipe(&hp->hs);
	memset(hp, 0, sizeof(*hp));
	ss->n_peers--;
}

void
app_sessions_commit(struct app_sessions *ss)
{
	commit(ss);
	flush_frames(ss);
}

struct app_sessions *
app_sessions_create(const struct app_sessions_conf *c, char *err,
		    size_t errlen)
{
	const struct bx_config *cfg = c->cfg;
	uint8_t priv[BX_HS_KEY_LEN];
	struct app_sessions *ss;
	uint32_t n = c->n_slots ? c->n_slots : 1u;
	int rc = -ENOMEM;

	ss = rte_zmalloc("bx_sessions", sizeof(*ss), RTE_CACHE_LINE_SIZE);
	if (ss == NULL) {
		snprintf(err, errlen, "sessions: no memory");
		return NULL;
	}
	ss->cfg = cfg;
	ss->reg = c->reg;
	ss->crypto = c->crypto;
	ss->st = c->st;
	ss->ports = c->ports;
	ss->nexthop = c->nexthop;
	ss->n_slots = c->n_slots;
	hs_config(cfg, &ss->hcfg);
	ss->hs_rx = rte_ring_create("bx_hs_rx", APP_HS_RING, (int)rte_socket_id(),
				    RING_F_SP_ENQ | RING_F_SC_DEQ);
	ss->ctl_tx = rte_ring_create("bx_ctl_tx", APP_CTL_TX_RING,
				     (int)rte_socket_id(),
				     RING_F_SP_ENQ | RING_F_SC_DEQ);
	ss->by_index = hash_make("bx_hs_index", sizeof(uint32_t),
				 n * INDICES_PER_PEER);
	ss->by_key = hash_make("bx_hs_key", BX_HS_KEY_LEN, n);
	ss->hs = sodium_malloc(sizeof(*ss->hs));
	ss->peers = sodium_allocarray(n, sizeof(*ss->peers));
	if (ss->hs_rx == NULL || ss->ctl_tx == NULL || ss->by_index == NULL ||
	    ss->by_key == NULL || ss->hs == NULL || ss->peers == NULL) {
		snprintf(err, errlen, "sessions: no memory for the handshake "
			 "state of %u peer(s)", n);
		goto fail;
	}
	memset(ss->peers, 0, n * sizeof(*ss->peers));
	rc = bx_identity_x25519_private(c->identity, priv);
	if (rc == 0)
		rc = bx_hs_init(ss->hs, &ss->hcfg, priv, lookup_static, ss,
				clock_ns(CLOCK_MONOTONIC));
	sodium_memzero(priv, sizeof(priv));
	if (rc != 0) {
		snprintf(err, errlen, "session: handshake engine: %s",
			 strerror(-rc));
		goto fail;
	}
	return ss;
fail:
	app_sessions_free(ss);
	errno = -rc;
	return NULL;
}

static void
ring_drain_free(struct rte_ring *r)
{
	struct rte_mbuf *pkts[HS_BATCH];
	unsigned n;

	if (r == NULL)
		return;
	while ((n = rte_ring_dequeue_burst(r, (void **)pkts, HS_BATCH, NULL)) != 0)
		rte_pktmbuf_free_bulk(pkts, n);
	rte_ring_free(r);
}

void
app_sessions_free(struct app_sessions *ss)
{
	struct app_session *s;
	unsigned i, slot;

	if (ss == NULL)
		return;
	for (i = 0; ss->peers != NULL && i < ss->n_slots; i++) {
		for (slot = 0; slot < BX_PEER_MAX_SESSIONS; slot++)
			app_session_free(ss->peers[i].slot[slot]);
		bx_hs_peer_wipe(&ss->peers[i].hs);
	}
	while ((s = ss->retired) != NULL) {
		ss->retired = s->next;
		app_session_free(s);
	}
	if (ss->n_out != 0)
		rte_pktmbuf_free_bulk(ss->out, ss->n_out);
	ring_drain_free(ss->hs_rx);
	ring_drain_free(ss->ctl_tx);
	rte_hash_free(ss->by_index);
	rte_hash_free(ss->by_key);
	bx_hs_wipe(ss->hs);
	sodium_free(ss->hs);        /* zeroes before it frees */
	sodium_free(ss->peers);
	rte_free(ss);
}
