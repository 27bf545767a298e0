/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NAT traversal (DESIGN §4 ICE): one libnice agent per peer, and the
 * signaling state machine that the hub relays between two nodes.
 *
 * Threading
 *   Everything runs on the caller's GMainContext (the control lcore
 *   iterates it): libnice's signals, this module's timers and every
 *   callback below. Call the functions from the thread that iterates that
 *   context. Nothing here blocks or starts a thread.
 *
 * Ports
 *   libnice cannot let several agents bind the mesh port, so each agent
 *   binds a private port from [port_min, port_max] on local_ip, and the
 *   fast path's STUN translator (lib/stunmux) maps it to the mesh port on
 *   the wire, routing inbound STUN requests by our ufrag. Hence:
 *   - cbs.route(ufrag, port, true) is reported for each agent after it has
 *     bound its port and before its credentials or candidates are sent;
 *     (ufrag, port, false) when that agent closes. @port is host order.
 *   - Our host candidates are advertised with port = advertised_port (the
 *     mesh port), and the related port (rport) of our srflx candidates
 *     too: the wire never shows the private port. 0 disables the rewrite.
 *   - Each agent gets its own ufrag (BX_ICE_UFRAG_LEN characters) and pwd
 *     (BX_ICE_PWD_LEN) from libsodium's CSPRNG, the ufrag unique among this
 *     object's agents. Our pwd is wiped when its agent closes.
 *   The port range needs room for two agents per peer: a replaced agent
 *   may still hold its port while the next one binds.
 *
 * Signaling (proto/bauxite/v1/signaling.proto)
 *   The peer with the lower id (bytewise strcmp) controls and invites:
 *     controller                        responder
 *     INVITE(session)            ->
 *                                <-     OFFER(session, ufrag, pwd)
 *                                <-     CANDIDATE...  END_OF_CANDIDATES
 *     ANSWER(session, ufrag, pwd) ->
 *     CANDIDATE... END_OF_CANDIDATES ->
 *   Both sides open their agent when the INVITE is sent or received, so
 *   gathering overlaps the round trip. Candidates (trickle, up to
 *   BX_ICE_CAND_MAX SDP "a=candidate:" lines per message) go out only after
 *   our OFFER or ANSWER; those that arrive before the peer's credentials
 *   are kept (up to BX_ICE_PENDING_MAX lines) and applied in order when the
 *   credentials come.
 *   - Messages of another session than the current one are ignored and
 *     counted (stats.stale). A new INVITE replaces the current negotiation.
 *     BYE ends it.
 *   - A negotiation that fails (libnice FAILED, consent lost, or no working
 *     pair within connect_timeout_ms) reports the path down and closes its
 *     agent. The controller then invites again after a back-off that starts
 *     at retry_min_ms and doubles up to retry_max_ms; a READY pair resets
 *     it. That is also how traffic moves to a direct path that appears
 *     while it flows on a relay. The responder waits for the next INVITE.
 *   - After a BYE the controller keeps inviting with the same back-off, so
 *     a peer that comes back is reached without any other signal.
 *
 * Paths
 *   cbs.path(peer, up) on every selected pair libnice reports (it can
 *   change pairs more than once); cbs.path(peer, down) when a negotiation
 *   fails and when an agent whose path was up closes.
 *
 * Callbacks run inside this module's calls and inside libnice's signal
 * emissions: they must not call a function of the same bx_ice object other
 * than bx_ice_peer_info, bx_ice_stats and bx_ice_set_stun (queue the work
 * instead; the hub link's send queue is the intended target of
 * cbs.signal). The others check it with BX_ASSERT: re-entering them would
 * close an agent libnice is still emitting from.
 *
 * Errors are a negative errno and, where the function takes @err, a
 * one-line message naming the field or the peer (@errlen bytes, always
 * terminated when @errlen > 0; @err may be NULL). This library never
 * prints.
 */
#ifndef BX_ICE_H
#define BX_ICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

/* Sizes of the string fields below, terminator included. */
#define BX_ICE_ID_MAX 64u
#define BX_ICE_UFRAG_MAX 256u
#define BX_ICE_PWD_MAX 256u
#define BX_ICE_CAND_LEN 256u
/* SDP candidate lines in one CANDIDATE message. */
#define BX_ICE_CAND_MAX 8u
/* Remote candidate lines kept while the peer's credentials are missing. */
#define BX_ICE_PENDING_MAX 32u
/* Local candidate lines one agent may queue before its OFFER/ANSWER. */
#define BX_ICE_LOCAL_CAND_MAX 16u
/* Peers one object negotiates with. */
#define BX_ICE_PEER_MAX 4096u

/*
 * RFC 8445 §5.3: ufrag 4..256 and pwd 22..256 ice-chars. Ours are longer
 * than the minimum because the STUN translator routes by ufrag, so one
 * must not be guessable or collide: 24 and 32 characters of a 64-symbol
 * alphabet are 144 and 192 random bits.
 */
#define BX_ICE_UFRAG_MIN 4u
#define BX_ICE_PWD_MIN 22u
#define BX_ICE_UFRAG_LEN 24u
#define BX_ICE_PWD_LEN 32u

/* Defaults for the conf fields left 0. */
#define BX_ICE_RETRY_MIN_MS_DEFAULT 1000u
#define BX_ICE_RETRY_MAX_MS_DEFAULT 60000u
/*
 * Longer than libnice needs to fail a hopeless checklist (about 7 s) plus
 * srflx gathering against a silent STUN server.
 */
#define BX_ICE_CONNECT_TIMEOUT_MS_DEFAULT 30000u

/* Values of SignalMessage.Kind. */
enum bx_ice_kind {
	BX_ICE_INVITE = 0,
	BX_ICE_OFFER = 1,
	BX_ICE_ANSWER = 2,
	BX_ICE_CANDIDATE = 3,
	BX_ICE_END_OF_CANDIDATES = 4,
	BX_ICE_BYE = 5,
};

/*
 * One signaling message. @peer is the recipient on the way out and the
 * sender (the hub's from_id) on the way in. @ufrag and @pwd are set in
 * OFFER and ANSWER only, @cand[0..@n_cand) in CANDIDATE only; every string
 * is terminated inside its array.
 */
struct bx_ice_signal {
	enum bx_ice_kind kind;
	char peer[BX_ICE_ID_MAX];
	uint64_t session;
	char ufrag[BX_ICE_UFRAG_MAX];
	char pwd[BX_ICE_PWD_MAX];
	unsigned n_cand;
	char cand[BX_ICE_CAND_MAX][BX_ICE_CAND_LEN];
};

/* Candidate types as libnice and SDP spell them: host srflx prflx relay. */
#define BX_ICE_TYPE_MAX 8u

/*
 * The 5-tuple the fast path should use for a peer: from the mesh port on
 * local_ip to @remote_ip:@remote_port (both network order). @local_type
 * relay means the pair goes through a TURN server.
 */
struct bx_ice_path {
	bool up;
	uint32_t remote_ip;
	uint16_t remote_port;
	char local_type[BX_ICE_TYPE_MAX];
	char remote_type[BX_ICE_TYPE_MAX];
};

struct bx_ice_cbs {
	/* A message for the hub to relay to s->peer. */
	void (*signal)(void *ud, const struct bx_ice_signal *s);
	/* The peer's path changed; @p is valid during the call only. */
	void (*path)(void *ud, const char *peer, const struct bx_ice_path *p);
	/* STUN requests for @ufrag go to private port @port (host order). */
	void (*route)(void *ud, const char *ufrag, uint16_t port, bool add);
};

struct bx_ice_conf {
	GMainContext *ctx;       /* iterated by the caller, never blocked */
	const char *self_id;     /* our node id, as the hub knows it */
	const char *local_ip;    /* IPv4 underlay address the agents bind */
	uint16_t port_min;       /* private agent ports, inclusive */
	uint16_t port_max;
	uint16_t advertised_port; /* the mesh port; 0: no rewrite */
	const char *stun_ip;     /* IPv4; NULL: no STUN server */
	uint16_t stun_port;
	uint32_t retry_min_ms;   /* 0: BX_ICE_RETRY_MIN_MS_DEFAULT */
	uint32_t retry_max_ms;   /* 0: BX_ICE_RETRY_MAX_MS_DEFAULT */
	uint32_t connect_timeout_ms; /* 0: BX_ICE_CONNECT_TIMEOUT_MS_DEFAULT */
};

struct bx_ice; /* opaque */

/*
 * Prepares ICE for this node; no agent exists until a peer is added.
 * @cbs is copied (every member required), @ud is passed to each callback.
 * Returns NULL with errno EINVAL (a conf field is wrong; @err names it),
 * ENOMEM, or EIO (libsodium cannot initialise its CSPRNG).
 */
struct bx_ice *bx_ice_create(const struct bx_ice_conf *c,
			     const struct bx_ice_cbs *cbs, void *ud,
			     char *err, size_t errlen);

/*
 * Starts negotiating with @peer, on both sides: the controller (lower id)
 * opens an agent and sends the INVITE now; the responder only accepts the
 * INVITE of a peer it added. If the agent cannot be opened (no free port)
 * the peer is still added and the controller retries after the back-off,
 * as after any failure. Returns 0, -EINVAL (@peer empty, too long, not
 * printable, or our own id), -EEXIST, -ENOSPC (BX_ICE_PEER_MAX peers).
 */
int bx_ice_peer_add(struct bx_ice *ice, const char *peer);

/*
 * Stops ICE with @peer: a BYE if a negotiation is under way, its agent
 * closed (route removed, path down if it was up), its timers stopped.
 * Unknown peers and NULL @ice are ignored.
 */
void bx_ice_peer_remove(struct bx_ice *ice, const char *peer);

/*
 * Feeds a message the hub relayed from s->peer. Bad input is refused
 * without touching the negotiation under way:
 *   -EINVAL  a field is malformed (kind, session 0, unterminated string,
 *            ufrag/pwd not 4..255/22..255 ice-chars, n_cand not
 *            1..BX_ICE_CAND_MAX, a line libnice cannot parse or not UDP
 *            component 1); a CANDIDATE message is applied whole or not at
 *            all
 *   -ENOENT  s->peer was not added
 *   -EPROTO  the message does not fit the sender's role (an INVITE or
 *            ANSWER from the higher id, an OFFER from the lower)
 *   -ESTALE  another session than the current one (counted, ignored)
 *   -EALREADY the INVITE of the current session, or credentials already
 *            given in it, came again
 *   -ENOBUFS more than BX_ICE_PENDING_MAX lines before the credentials
 *   -EADDRINUSE (no free port in the range), -ENOMEM: an INVITE that
 *            replaced the negotiation could not open an agent; the
 *            controller will invite again
 */
int bx_ice_signal_in(struct bx_ice *ice, const struct bx_ice_signal *s,
		     char *err, size_t errlen);

/*
 * The STUN server the hub announces; applies from the next agent opened,
 * never to a negotiation under way. NULL @ip removes it. Returns 0 or
 * -EINVAL (not an IPv4 address, or port 0).
 */
int bx_ice_set_stun(struct bx_ice *ice, const char *ip, uint16_t port);

#define BX_ICE_STATE_MAX 16u

/*
 * What `bauxite status` shows for a peer. @state is one of idle (no
 * agent), gathering, connecting, connected, ready, failed (the last
 * negotiation failed; the controller waits @retry_ms before inviting
 * again). @session is the current negotiation (0: none), @attempts counts
 * the negotiations started with this peer, @retry_ms is the back-off the
 * next failure will wait.
 */
struct bx_ice_peer_info {
	char state[BX_ICE_STATE_MAX];
	uint64_t session;
	unsigned attempts;
	uint32_t retry_ms;
	struct bx_ice_path path;
};

/* Fills *@out for @peer: 0, or -ENOENT with *@out untouched. */
int bx_ice_peer_info(const struct bx_ice *ice, const char *peer,
		     struct bx_ice_peer_info *out);

struct bx_ice_stats {
	uint64_t signals_in;    /* accepted by bx_ice_signal_in */
	uint64_t signals_out;   /* passed to cbs.signal */
	uint64_t refused;       /* bx_ice_signal_in errors other than stale */
	uint64_t stale;         /* messages of another session */
	uint64_t negotiations;  /* agents opened */
	uint64_t open_failed;   /* agents that could not be opened */
	uint64_t failed;        /* negotiations failed or timed out */
	uint64_t cand_dropped;  /* local candidates over the queue or length */
};

/* Counters since bx_ice_create, for metrics. */
const struct bx_ice_stats *bx_ice_stats(const struct bx_ice *ice);

/*
 * Removes every peer as bx_ice_peer_remove does (BYE, routes removed,
 * paths down: the callbacks must still work) and frees @ice. NULL is
 * fine.
 */
void bx_ice_free(struct bx_ice *ice);

#endif /* BX_ICE_H */
