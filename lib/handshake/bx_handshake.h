/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Session handshake engine (DESIGN §3.4): a one-round-trip authenticated
 * key exchange between two nodes that know each other's static X25519
 * public keys. Plain C over byte buffers: no EAL, no sockets, no clock, no
 * allocation. The caller owns every struct (sized by this header), passes
 * the time in, sends the bytes the engine writes and installs the keys it
 * outputs. One engine belongs to one thread (the control lcore or a
 * dedicated handshake lcore): no locking.
 *
 * ---- Protocol ---------------------------------------------------------
 *
 * Pattern: Noise_IK_25519_ChaChaPoly_SHA256 (Noise revision 34), exactly
 * as specified, with prologue BX_HS_PROLOGUE ("Bauxite handshake v1"):
 *
 *     <- s
 *     ...
 *     -> e, es, s, ss     payload: 12-byte TAI64N timestamp
 *     <- e, ee, se        payload: empty
 *
 * It is WireGuard's Noise_IKpsk2 without the PSK. SHA-256 rather than
 * BLAKE2: libsodium has no BLAKE2s, HMAC-SHA256 is native there (Noise's
 * HMAC over BLAKE2b would be hand-built), and its HKDF is checked against
 * RFC 5869 and the whole pattern against the published Noise test
 * vectors (test_handshake.c).
 *
 *   HASH = SHA-256, HMAC = HMAC-SHA256, DH = X25519 (all-zero output
 *   refused), AEAD = ChaCha20-Poly1305 IETF with nonce 0^32 || LE64(n)
 *   and the handshake hash as additional data.
 *   HKDF(ck, ikm): t = HMAC(ck, ikm); o1 = HMAC(t, 0x01);
 *                  o2 = HMAC(t, o1 || 0x02).
 *   MixKey(x): ck, k = HKDF(ck, x); n = 0.   MixHash(x): h = HASH(h || x).
 *   Start: h = ck = "Noise_IK_25519_ChaChaPoly_SHA256" (exactly 32 bytes);
 *          MixHash(prologue); MixHash(responder's static public key).
 *   Split: k1, k2 = HKDF(ck, empty). The initiator sends with k1 and
 *          receives with k2, the responder the other way round.
 *
 * The two 32-byte transport keys go to lib/crypto (ChaCha20-Poly1305 or
 * AES-256-GCM, whichever the node is configured for); the transport phase
 * is Bauxite's data datagram (bx_wire.h), not Noise's.
 *
 * MACs (outside the Noise transcript, as in WireGuard):
 *   MAC(key, x)   = BLAKE2b with a 16-byte output, keyed (libsodium
 *                   crypto_generichash).
 *   mac1_key(P)   = HASH("mac1----" || P's static public key)
 *   cookie_key(P) = HASH("cookie--" || P's static public key)
 *   mac1 = MAC(mac1_key(receiver), message up to mac1): anyone who knows
 *          the receiver's public key can make it; it lets the receiver drop
 *          garbage before any DH.
 *   mac2 = MAC(cookie, message up to mac2), or 16 zero bytes without a
 *          cookie.
 *   cookie = MAC(secret, source as 8 bytes big-endian); the responder's
 *          secret is random and replaced every BX_HS_COOKIE_SECRET_NS; the
 *          previous one is still accepted, so a cookie stays good for at
 *          least that long after it was made. The initiator uses a cookie
 *          for BX_HS_COOKIE_MAX_AGE_NS after it arrived.
 *
 * Messages are mesh datagrams (bx_wire.h) on the data port. Their 16-byte
 * header has flags 0, lane 0, path id 0 and counter 0, and anything else
 * is refused. Byte offsets from the start of the mesh datagram; integers
 * big-endian:
 *
 *   Initiation, type BX_WIRE_HANDSHAKE_INIT, rx_index 0       160 bytes
 *       0  mesh header                                        16
 *      16  sender index (initiator's receiver index, != 0)     4
 *      20  ephemeral public key                               32
 *      52  encrypted static public key (32 + tag)             48
 *     100  encrypted timestamp, TAI64N (12 + tag)             28
 *     128  mac1 over bytes 0..127                             16
 *     144  mac2 over bytes 0..143                             16
 *
 *   Response, type BX_WIRE_HANDSHAKE_RESP, rx_index = initiator's sender
 *   index                                                     100 bytes
 *       0  mesh header                                        16
 *      16  sender index (responder's receiver index, != 0)     4
 *      20  ephemeral public key                               32
 *      52  encrypted empty payload (tag only)                 16
 *      68  mac1 over bytes 0..67                              16
 *      84  mac2: 16 zero bytes (reserved: the initiator accepts a response
 *          only to its own pending initiation, so it needs no cookie)
 *
 *   Cookie reply, type BX_WIRE_COOKIE, rx_index = initiator's sender
 *   index                                                      72 bytes
 *       0  mesh header                                        16
 *      16  nonce, random                                      24
 *      40  cookie sealed with XChaCha20-Poly1305, key =
 *          cookie_key(responder), additional data = the mac1 of the
 *          initiation it answers (16 + tag)                   32
 *   The key is public knowledge; binding the reply to mac1 means only
 *   someone who saw the initiation can forge one (as in WireGuard), and a
 *   cookie only ever adds mac2 to our next initiation.
 *
 * TAI64N: 8 bytes 2^62 + 10 + Unix seconds, then 4 bytes nanoseconds
 * (< 10^9), as WireGuard writes it.
 *
 * ---- Rules --------------------------------------------------------------
 *
 * Responder, for an initiation, in this order (cheapest first; the first
 * failure is the returned reason):
 *   1. length and header exact                      BAD_LEN, BAD_HEADER
 *   2. mac1                                         BAD_MAC1
 *   3. mac2: zero and not under load -> go on; zero and under load ->
 *      cookie reply (COOKIE_SENT); non-zero and valid for this source with
 *      the current or previous secret -> go on; otherwise a cookie reply
 *      (BAD_MAC2), so an initiator holding a stale cookie gets a fresh one.
 *   4. per-source token bucket (bx_hs_config.initiations_per_sec/_burst)
 *                                                   RATE_LIMITED
 *   5. Noise: e, es, s                              BAD_KEY, DECRYPT_FAILED
 *   6. peer lookup by its static key                UNKNOWN_PEER
 *   7. Noise: ss, timestamp                         DECRYPT_FAILED,
 *                                                   BAD_TIMESTAMP
 *   8. timestamp greater than the greatest accepted from this peer
 *      (replay and staleness)                       STALE_TIMESTAMP
 *   9. timestamp not ahead of our wall clock by more than
 *      bx_hs_config.max_clock_skew_ns (0 = no bound) FUTURE_TIMESTAMP
 *  10. tie-break (below)                            SIMULTANEOUS
 *  11. accepted: the timestamp is recorded, the response and the keys are
 *      output (OK).
 * Nothing is changed by a message that fails (the rate limiter's bucket
 * and the cookie secret's rotation aside).
 *
 * Timestamps come from the initiator's wall clock, so they grow across
 * its restarts; the initiator also makes each one greater than its
 * previous. A node whose clock steps back is refused by peers that saw a
 * later timestamp until its clock passes it, or until they restart. The
 * future bound keeps one wrong clock (a GPS glitch) from locking its node
 * out for as long as it was ahead; its price is that a responder whose own
 * clock is behind by more than the bound refuses everyone (it can still
 * initiate). Default BX_HS_MAX_CLOCK_SKEW_NS.
 *
 * Simultaneous initiation. By convention the peer with the lower node id
 * initiates, but both may (a restart, a rekey timer on both sides). A node
 * holding a live pending initiation towards P that receives a valid
 * initiation from P answers it if P's id is lower than its own, and drops
 * its own pending initiation (reported in bx_hs_result.dropped_index);
 * otherwise it ignores P's (SIMULTANEOUS): P will answer ours by the same
 * rule. Both ends so end with one session, the one the lower id
 * initiated. A pending initiation is
 * live for bx_hs_config.handshake_timeout_ns; after that it neither blocks
 * P nor accepts a response, and the caller sends a fresh one (with some
 * jitter, so two retrying sides do not stay in step).
 *
 * Initiator, for a response: length and header, mac1, mac2 zero, a live
 * pending initiation with the header's rx_index, then Noise; a failure
 * leaves the pending initiation as it was (a forged response cannot kill
 * a real handshake). For a cookie reply: length and header, a live pending
 * initiation with that index whose mac1 was not yet answered by a cookie,
 * then the AEAD; the cookie goes into mac2 of the next initiation.
 *
 * Receiver indices are 32-bit random numbers (bx_hs_random_index), never 0
 * (0 in rx_index means "none"). The caller draws them and passes them in,
 * because only it can check them against its session table; that table
 * must also hold the index of every pending initiation (a response and a
 * cookie reply are routed to their peer by it).
 *
 * Key confirmation: the responder holds the keys one message earlier than
 * the initiator. It installs the receive side at once, but must not send
 * on the new session until a data packet has arrived on it (until then
 * it keeps sending on the previous one), as WireGuard does.
 *
 * Secrets: ephemeral private keys, chaining keys, DH outputs and the
 * handshake hash are wiped (sodium_memzero) as soon as they are no longer
 * needed: stack copies before each function returns, the pending
 * initiation when it is answered, replaced, expired or dropped. Transport
 * keys are in bx_hs_session until the caller wipes it
 * (bx_hs_session_wipe), which it does right after handing them to
 * lib/crypto. bx_hs_wipe and bx_hs_peer_wipe zero every byte.
 */
#ifndef BX_HANDSHAKE_H
#define BX_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bx_wire.h"

#define BX_HS_PROLOGUE "Bauxite handshake v1"
#define BX_HS_KEY_LEN 32u
#define BX_HS_MAC_LEN 16u
#define BX_HS_COOKIE_LEN 16u
#define BX_HS_TAG_LEN 16u
#define BX_HS_INDEX_LEN 4u
#define BX_HS_TIMESTAMP_LEN 12u
#define BX_HS_COOKIE_NONCE_LEN 24u

/* Initiation layout. */
#define BX_HS_INIT_OFF_SENDER BX_WIRE_HDR_LEN
#define BX_HS_INIT_OFF_EPHEMERAL (BX_HS_INIT_OFF_SENDER + BX_HS_INDEX_LEN)
#define BX_HS_INIT_OFF_STATIC (BX_HS_INIT_OFF_EPHEMERAL + BX_HS_KEY_LEN)
#define BX_HS_INIT_OFF_TIMESTAMP (BX_HS_INIT_OFF_STATIC + BX_HS_KEY_LEN + BX_HS_TAG_LEN)
#define BX_HS_INIT_OFF_MAC1 (BX_HS_INIT_OFF_TIMESTAMP + BX_HS_TIMESTAMP_LEN + BX_HS_TAG_LEN)
#define BX_HS_INIT_OFF_MAC2 (BX_HS_INIT_OFF_MAC1 + BX_HS_MAC_LEN)
#define BX_HS_INIT_LEN (BX_HS_INIT_OFF_MAC2 + BX_HS_MAC_LEN)

/* Response layout. */
#define BX_HS_RESP_OFF_SENDER BX_WIRE_HDR_LEN
#define BX_HS_RESP_OFF_EPHEMERAL (BX_HS_RESP_OFF_SENDER + BX_HS_INDEX_LEN)
#define BX_HS_RESP_OFF_EMPTY (BX_HS_RESP_OFF_EPHEMERAL + BX_HS_KEY_LEN)
#define BX_HS_RESP_OFF_MAC1 (BX_HS_RESP_OFF_EMPTY + BX_HS_TAG_LEN)
#define BX_HS_RESP_OFF_MAC2 (BX_HS_RESP_OFF_MAC1 + BX_HS_MAC_LEN)
#define BX_HS_RESP_LEN (BX_HS_RESP_OFF_MAC2 + BX_HS_MAC_LEN)

/* Cookie reply layout. */
#define BX_HS_COOKIE_OFF_NONCE BX_WIRE_HDR_LEN
#define BX_HS_COOKIE_OFF_SEALED (BX_HS_COOKIE_OFF_NONCE + BX_HS_COOKIE_NONCE_LEN)
#define BX_HS_COOKIE_REPLY_LEN (BX_HS_COOKIE_OFF_SEALED + BX_HS_COOKIE_LEN + BX_HS_TAG_LEN)

/* Largest message the responder writes back (response or cookie reply). */
#define BX_HS_REPLY_MAX BX_HS_RESP_LEN

_Static_assert(BX_HS_INIT_LEN == 160, "initiation is 160 bytes");
_Static_assert(BX_HS_RESP_LEN == 100, "response is 100 bytes");
_Static_assert(BX_HS_COOKIE_REPLY_LEN == 72, "cookie reply is 72 bytes");
_Static_assert(BX_HS_COOKIE_REPLY_LEN <= BX_HS_REPLY_MAX, "reply buffer");

/* Time limits (ns). The *_AFTER_* and timeouts are defaults of
 * struct bx_hs_config; the cookie ones are protocol constants. */
#define BX_HS_NS_PER_SEC UINT64_C(1000000000)
#define BX_HS_REKEY_AFTER_NS (120 * BX_HS_NS_PER_SEC)
#define BX_HS_REJECT_AFTER_NS (180 * BX_HS_NS_PER_SEC)
/* Overlap: the replaced session still opens packets in flight. */
#define BX_HS_KEEP_PREVIOUS_NS (10 * BX_HS_NS_PER_SEC)
/* Life of a pending initiation; also the retransmit interval it implies. */
#define BX_HS_HANDSHAKE_TIMEOUT_NS (5 * BX_HS_NS_PER_SEC)
#define BX_HS_MAX_CLOCK_SKEW_NS (600 * BX_HS_NS_PER_SEC)
#define BX_HS_COOKIE_SECRET_NS (120 * BX_HS_NS_PER_SEC)
/* 5 s less than the secret's life: a cookie used at that age still reaches
 * the responder while it is good. */
#define BX_HS_COOKIE_MAX_AGE_NS (BX_HS_COOKIE_SECRET_NS - 5 * BX_HS_NS_PER_SEC)

/* Message limits: rekey at 2^60 sealed messages; refuse beyond 2^60 + 2^32,
 * a margin that covers one handshake round trip at any packet rate. Give
 * the receiver's replay window (bx_replay_init) reject_after_messages as
 * its limit. */
#define BX_HS_REKEY_AFTER_MESSAGES (UINT64_C(1) << 60)
#define BX_HS_REJECT_AFTER_MESSAGES (BX_HS_REKEY_AFTER_MESSAGES + (UINT64_C(1) << 32))

/* Initiation rate limit per source (WireGuard's figures). */
#define BX_HS_INITIATIONS_PER_SEC 20u
#define BX_HS_INITIATIONS_BURST 5u
/* Rate limiter table: fixed size, set-associative, least recently used
 * entry of a set replaced. 2048 x 32 bytes. */
#define BX_HS_RATELIMIT_ENTRIES 2048u
#define BX_HS_RATELIMIT_WAYS 4u
_Static_assert((BX_HS_RATELIMIT_ENTRIES & (BX_HS_RATELIMIT_ENTRIES - 1)) == 0 &&
	       BX_HS_RATELIMIT_ENTRIES % BX_HS_RATELIMIT_WAYS == 0,
	       "rate limiter sets are a power of two");

/*
 * Why a message was refused; the caller counts them (until they become
 * bx_drop.h reasons). X(symbol, stable name).
 */
#define BX_HS_REASONS(X)                                                      \
	X(OK, "ok")                                                           \
	X(COOKIE_SENT, "cookie_sent")                                         \
	X(BAD_LEN, "bad_len")                                                 \
	X(BAD_HEADER, "bad_header")                                           \
	X(BAD_MAC1, "bad_mac1")                                               \
	X(BAD_MAC2, "bad_mac2")                                               \
	X(RATE_LIMITED, "rate_limited")                                       \
	X(DECRYPT_FAILED, "decrypt_failed")                                   \
	X(BAD_KEY, "bad_key")                                                 \
	X(UNKNOWN_PEER, "unknown_peer")                                       \
	X(BAD_TIMESTAMP, "bad_timestamp")                                     \
	X(STALE_TIMESTAMP, "stale_timestamp")                                 \
	X(FUTURE_TIMESTAMP, "future_timestamp")                               \
	X(SIMULTANEOUS, "simultaneous")                                       \
	X(NO_PENDING, "no_pending")

enum bx_hs_reason {
#define BX_HS_REASON_ENUM_(sym, name) BX_HS_##sym,
	BX_HS_REASONS(BX_HS_REASON_ENUM_)
#undef BX_HS_REASON_ENUM_
	BX_HS__COUNT,
};

/* Stable name of @r ("unknown" out of range). */
const char *bx_hs_reason_name(enum bx_hs_reason r);

/* What the caller may tune; bx_hs_config_default() fills the defaults
 * (tests shrink the times to seconds). */
struct bx_hs_config {
	uint64_t rekey_after_ns;         /* BX_HS_REKEY_AFTER_NS */
	uint64_t rekey_after_messages;   /* BX_HS_REKEY_AFTER_MESSAGES */
	uint64_t reject_after_ns;        /* BX_HS_REJECT_AFTER_NS */
	uint64_t reject_after_messages;  /* BX_HS_REJECT_AFTER_MESSAGES */
	uint64_t keep_previous_ns;       /* BX_HS_KEEP_PREVIOUS_NS */
	uint64_t handshake_timeout_ns;   /* BX_HS_HANDSHAKE_TIMEOUT_NS */
	uint64_t max_clock_skew_ns;      /* BX_HS_MAX_CLOCK_SKEW_NS; 0 = no bound */
	uint32_t initiations_per_sec;    /* BX_HS_INITIATIONS_PER_SEC */
	uint32_t initiations_burst;      /* BX_HS_INITIATIONS_BURST */
};

void bx_hs_config_default(struct bx_hs_config *cfg);

/*
 * Per remote peer: caller-owned (inside its peer record), filled and
 * changed only by the engine. Members are not part of the API except
 * remote_static (read it to match a lookup) and ctx (the caller's).
 */
struct bx_hs_pending {
	uint8_t e_priv[BX_HS_KEY_LEN];   /* our ephemeral private key */
	uint8_t ck[BX_HS_KEY_LEN];       /* Noise state after message 1 */
	uint8_t h[BX_HS_KEY_LEN];
	uint64_t sent_ns;
	uint32_t local_index;            /* != 0 while pending */
};

struct bx_hs_peer {
	uint8_t remote_static[BX_HS_KEY_LEN];
	uint8_t ss[BX_HS_KEY_LEN];          /* DH(our static, its static) */
	uint8_t mac1_key[BX_HS_KEY_LEN];    /* mac1_key(peer): what we send it */
	uint8_t cookie_key[BX_HS_KEY_LEN];  /* cookie_key(peer): its replies */
	uint64_t last_ts_received;          /* greatest accepted, ns since 1970 */
	uint64_t last_ts_sent;
	struct bx_hs_pending pending;
	uint8_t cookie[BX_HS_COOKIE_LEN];   /* from its last cookie reply */
	uint64_t cookie_ns;                 /* when it arrived */
	uint8_t last_mac1[BX_HS_MAC_LEN];   /* of our last initiation */
	bool have_cookie;
	bool mac1_unanswered;               /* last_mac1 may get a cookie reply */
	bool local_is_lower;                /* our node id sorts before its id */
	void *ctx;                          /* the caller's; never touched */
};

struct bx_hs_ratelimit_entry {
	uint64_t source;
	uint64_t last_ns;
	uint64_t tokens_ns; /* budget: one initiation costs 10^9 / rate */
	uint64_t used;
};

/*
 * Finds the peer whose static public key is @static_pub (compare with
 * sodium_memcmp or a hash table keyed by it), NULL if it is no peer of
 * ours. Called once per initiation that passed mac1 and decrypted.
 */
typedef struct bx_hs_peer *(*bx_hs_lookup_fn)(void *ctx,
					      const uint8_t static_pub[BX_HS_KEY_LEN]);

/* The engine: this node's identity, cookie secrets and rate limiter
 * (about 64 KiB). Caller-owned; members are not part of the API. */
struct bx_hs {
	struct bx_hs_config cfg;
	uint8_t static_priv[BX_HS_KEY_LEN];
	uint8_t static_pub[BX_HS_KEY_LEN];
	uint8_t mac1_key[BX_HS_KEY_LEN];    /* mac1_key(us): checks what we get */
	uint8_t cookie_key[BX_HS_KEY_LEN];  /* cookie_key(us): seals our replies */
	uint8_t cookie_secret[BX_HS_KEY_LEN];
	uint8_t cookie_secret_prev[BX_HS_KEY_LEN];
	uint64_t cookie_secret_ns;          /* when cookie_secret was drawn */
	bool cookie_secret_prev_valid;
	uint8_t ratelimit_key[16];          /* SipHash key of the table */
	bx_hs_lookup_fn lookup;
	void *lookup_ctx;
	struct bx_hs_ratelimit_entry ratelimit[BX_HS_RATELIMIT_ENTRIES];
};

/* Output of a completed handshake. */
struct bx_hs_session {
	uint8_t send_key[BX_HS_KEY_LEN];
	uint8_t recv_key[BX_HS_KEY_LEN];
	uint32_t local_index;   /* ours: the peer puts it in what it sends us */
	uint32_t remote_index;  /* the peer's: goes into what we send it */
	bool initiator;         /* we sent the initiation */
	uint64_t created_ns;    /* `now` of the call that made it */
	struct bx_hs_peer *peer;
};

/* A received initiation and what the responder knows about it. */
struct bx_hs_rx {
	const uint8_t *msg;     /* the mesh datagram (UDP payload) */
	size_t len;
	uint64_t source;        /* sender's address as the caller keys it,
				 * e.g. IPv4 << 16 | UDP port */
	uint64_t now;           /* monotonic ns */
	uint64_t wall_ns;       /* CLOCK_REALTIME ns, for the future bound */
	uint32_t local_index;   /* our receiver index, if a session is made */
	bool under_load;        /* the caller's handshake queue is filling */
};

/* What the responder produced. */
struct bx_hs_result {
	struct bx_hs_session session;      /* OK only */
	uint8_t reply[BX_HS_REPLY_MAX];    /* send this back to the source */
	size_t reply_len;                  /* response (OK), cookie reply
					    * (COOKIE_SENT, BAD_MAC2) */
	uint32_t dropped_index;            /* OK: our pending initiation to this
					    * peer that the answer replaced (drop
					    * it from the index table), or 0 */
	/* SIMULTANEOUS only (else untouched, like the rest on a failure):
	 * the peer whose initiation crossed our pending one. It reached us,
	 * so ours may have been lost on the way: the caller may send it
	 * again. */
	struct bx_hs_peer *simultaneous;
};

/*
 * Makes @hs the engine of the node whose static private key is
 * @static_priv. @cfg NULL means the defaults. @lookup finds initiators by
 * their static key. @now (monotonic ns) starts the first cookie secret.
 * Returns 0, or -EINVAL (NULL pointers, a zero rate or burst, rekey limits
 * not below reject limits, a zero timeout) with @hs untouched.
 */
int bx_hs_init(struct bx_hs *hs, const struct bx_hs_config *cfg,
	       const uint8_t static_priv[BX_HS_KEY_LEN], bx_hs_lookup_fn lookup,
	       void *lookup_ctx, uint64_t now);

/* Zeroes every byte of @hs (keys, secrets, table). NULL is fine. */
void bx_hs_wipe(struct bx_hs *hs);

/*
 * Makes @p the state of remote peer @remote_static for engine @hs (the
 * static-static DH and the MAC keys are computed once here).
 * @local_is_lower: this node's id sorts before the peer's (strcmp < 0),
 * i.e. this node is the designated initiator and wins the tie-break.
 * Returns 0, or -EINVAL for a low-order key or our own key (@p untouched).
 */
int bx_hs_peer_init(const struct bx_hs *hs, struct bx_hs_peer *p,
		    const uint8_t remote_static[BX_HS_KEY_LEN],
		    bool local_is_lower, void *ctx);

/* Zeroes every byte of @p. NULL is fine. */
void bx_hs_peer_wipe(struct bx_hs_peer *p);

/*
 * Drops what has expired at @now: a pending initiation older than the
 * handshake timeout (wiped) and a cookie older than
 * BX_HS_COOKIE_MAX_AGE_NS. Call it from the retransmit timer so ephemeral
 * keys do not outlive their use. Returns the dropped pending initiation's
 * index (remove it from the index table), or 0.
 */
uint32_t bx_hs_peer_expire(const struct bx_hs *hs, struct bx_hs_peer *p,
			   uint64_t now);

/* Index of @p's pending initiation, 0 if none (live or not). */
uint32_t bx_hs_pending_index(const struct bx_hs_peer *p);

/* A random receiver index, never 0. The caller redraws while its table
 * already has it. */
uint32_t bx_hs_random_index(void);

/*
 * Initiator: writes a fresh initiation to @p into @out with receiver index
 * @local_index (!= 0, unique in the caller's table). A previous pending
 * initiation is replaced and wiped: drop its index (bx_hs_pending_index
 * before this call) from the table. @now is monotonic ns, @wall_ns
 * CLOCK_REALTIME ns (the timestamp; made greater than the previous one
 * to @p in any case). Carries mac2 if @p has a cookie younger than
 * BX_HS_COOKIE_MAX_AGE_NS. Returns 0, -EINVAL for @local_index 0 (@out
 * and @p untouched).
 */
int bx_hs_create_initiation(struct bx_hs *hs, struct bx_hs_peer *p,
			    uint32_t local_index, uint64_t now, uint64_t wall_ns,
			    uint8_t out[BX_HS_INIT_LEN]);

/*
 * Responder: judges the initiation @rx by the rules above. On OK, @res
 * holds the session (responder side), the response to send and
 * dropped_index. On COOKIE_SENT and BAD_MAC2, @res holds only a cookie
 * reply to send (reply, reply_len). Otherwise @res is untouched and
 * nothing is sent. @rx->local_index must not be 0.
 */
enum bx_hs_reason bx_hs_consume_initiation(struct bx_hs *hs,
					   const struct bx_hs_rx *rx,
					   struct bx_hs_result *res);

/*
 * Initiator: a response of @len bytes at @msg, routed to @p by its
 * rx_index. On OK, @out holds the session (initiator side) and the
 * pending initiation is wiped; otherwise @out and @p are untouched
 * (NO_PENDING: no live pending initiation with that index).
 */
enum bx_hs_reason bx_hs_consume_response(struct bx_hs *hs, struct bx_hs_peer *p,
					 const uint8_t *msg, size_t len,
					 uint64_t now, struct bx_hs_session *out);

/*
 * Initiator: a cookie reply of @len bytes at @msg, routed to @p by its
 * rx_index. On OK the cookie is stored for the next initiation's mac2
 * (send one now or at the retransmit timer); one cookie reply per
 * initiation is taken (NO_PENDING for another). @p is untouched on
 * failure.
 */
enum bx_hs_reason bx_hs_consume_cookie(struct bx_hs *hs, struct bx_hs_peer *p,
				       const uint8_t *msg, size_t len,
				       uint64_t now);

/* Zeroes @s (its keys). Call it once the keys are in lib/crypto. NULL is fine. */
void bx_hs_session_wipe(struct bx_hs_session *s);

/* ---- rekey policy (pure functions) -------------------------------------- */

/* What the caller tracks per installed session. */
struct bx_hs_usage {
	uint64_t created_ns;  /* bx_hs_session.created_ns */
	uint64_t sent;        /* messages sealed with its send key */
	uint64_t received;    /* highest counter accepted + 1, 0 before any */
	bool initiator;       /* bx_hs_session.initiator */
};

/*
 * True when a new handshake should start: @u->sent reached
 * rekey_after_messages, or the session's age reached rekey_after_ns (the
 * initiator's) / rekey_after_ns + handshake_timeout_ns (the responder's:
 * it steps in only when the initiator did not, which keeps the two from
 * initiating together).
 */
bool bx_hs_should_rekey(const struct bx_hs_config *cfg,
			const struct bx_hs_usage *u, uint64_t now);

/*
 * True when the session must not seal or open any more: its age reached
 * reject_after_ns, or @u->sent or @u->received reached
 * reject_after_messages. Packets are then refused until a new session is
 * up; its keys should be wiped.
 */
bool bx_hs_expired(const struct bx_hs_config *cfg, const struct bx_hs_usage *u,
		   uint64_t now);

/*
 * True while a session replaced at @replaced_ns may still open packets
 * (the overlap for packets in flight): @now - @replaced_ns <
 * keep_previous_ns. After that its keys are wiped.
 */
bool bx_hs_keep_previous(const struct bx_hs_config *cfg, uint64_t replaced_ns,
			 uint64_t now);

#endif /* BX_HANDSHAKE_H */
