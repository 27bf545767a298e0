/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The exception path's STUN port translator (issue 6, ice-research §5).
 *
 * Why it exists
 *   libnice cannot let several agents bind the mesh UDP port, so each
 *   per-peer agent binds a private port P_i in an agent range on the
 *   underlay address. The fast path sits between the wire and the kernel's
 *   exception interface and translates, so that on the wire every ICE/STUN
 *   packet of the node uses local_ip:mesh_port, the same 5-tuple the mesh
 *   data uses once ICE has picked a pair.
 *
 * Kernel -> wire (bx_stunmux_out)
 *   UDP from local_ip with a source port in the agent range: the source port
 *   becomes mesh_port. A STUN request's transaction id is remembered with
 *   its P_i (the response carries nothing else to route it by), and so is
 *   the destination address (the last agent that talked to a remote gets
 *   that remote's indications and ChannelData).
 *
 * Wire -> kernel (bx_stunmux_in)
 *   UDP to local_ip:mesh_port that is not a mesh datagram gets its
 *   destination port rewritten to the agent's P_i, found by
 *     - a STUN request or indication with USERNAME: the part before ':' is
 *       our ufrag (RFC 8445 §7.2.2: receiver's ufrag first) -> routes;
 *     - a STUN success or error response: its transaction id, used once;
 *     - anything else (indication without USERNAME, ChannelData, ...): the
 *       remote address.
 *   Without a route the packet is dropped: the kernel has no socket on the
 *   mesh port, so an untranslated packet must never reach it.
 *
 * Both directions of one translator run on one lcore (the RX lcore), so
 * its tables have a single writer and need no atomics. The routes (ufrag ->
 * P_i) are an immutable object the control lcore builds and publishes by
 * RCU pointer swap; the translator only reads the one it is given.
 *
 * Checksums: only UDP ports change, so the IPv4 header checksum stays valid
 * and the UDP checksum is updated incrementally (RFC 1624). Neither is
 * verified: a corrupted packet stays exactly as wrong after translation and
 * the kernel or the peer drops it.
 *
 * Plain C over byte buffers: no EAL, no clock (the caller passes now_ms, a
 * monotonic millisecond clock), no allocation or logging per packet.
 * Addresses are in network byte order, ports in host order.
 */
#ifndef BX_STUNMUX_H
#define BX_STUNMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_byteorder.h>

#include "bx_drop.h"

/* STUN message layout (RFC 8489 §5, §14). */
#define BX_STUNMUX_STUN_HDR_LEN 20u
#define BX_STUNMUX_STUN_MAGIC 0x2112a442u
#define BX_STUNMUX_TXID_LEN 12u
#define BX_STUNMUX_ATTR_HDR_LEN 4u
#define BX_STUNMUX_ATTR_ALIGN 4u
#define BX_STUNMUX_ATTR_USERNAME 0x0006u

/* An ICE ufrag: 4 to 256 ice-chars (ALPHA / DIGIT / '+' / '/'), RFC 8445 §5.3. */
#define BX_STUNMUX_UFRAG_MIN 4u
#define BX_STUNMUX_UFRAG_MAX 256u
/* The longest ICE USERNAME, "ours:theirs" with both ufrags at their maximum. */
#define BX_STUNMUX_USERNAME_MAX (2u * BX_STUNMUX_UFRAG_MAX + 1u)

/* Routes: one per agent, so one per peer. */
#define BX_STUNMUX_ROUTES_MAX 65536u

/* Transaction and remote tables: entries, and the most a conf may ask for. */
#define BX_STUNMUX_DEFAULT_MAX_TRANSACTIONS 4096u
#define BX_STUNMUX_DEFAULT_MAX_REMOTES 4096u
#define BX_STUNMUX_TABLE_MAX (1u << 20)
/* A STUN transaction over UDP gives up after Rc = 7 sends and Rm * RTO =
 * 16 * 500 ms of waiting, 39.5 s in all (RFC 8489 §6.2.1): a response later
 * than that answers nobody. */
#define BX_STUNMUX_DEFAULT_TRANSACTION_TTL_MS 40000u
/* Three of libnice's 25 s keepalive periods: an agent still talking to a
 * remote refreshes its entry long before it expires. */
#define BX_STUNMUX_DEFAULT_REMOTE_TTL_MS 75000u

struct bx_stunmux_conf {
	rte_be32_t local_ip;         /* underlay address of the exception iface */
	uint16_t mesh_port;          /* the node's one wire port */
	uint16_t agent_port_min;     /* agents' private ports, inclusive */
	uint16_t agent_port_max;
	uint32_t max_transactions;   /* 0: BX_STUNMUX_DEFAULT_MAX_TRANSACTIONS */
	uint32_t transaction_ttl_ms; /* 0: BX_STUNMUX_DEFAULT_TRANSACTION_TTL_MS */
	uint32_t max_remotes;        /* 0: BX_STUNMUX_DEFAULT_MAX_REMOTES */
	uint32_t remote_ttl_ms;      /* 0: BX_STUNMUX_DEFAULT_REMOTE_TTL_MS */
};

/*
 * Counters, owned by the translator's lcore. Drops are not here: the caller
 * counts them under the drop reason it is given, like every other drop.
 */
struct bx_stunmux_stats {
	uint64_t out_translated; /* kernel -> wire, source port rewritten */
	uint64_t in_translated;  /* wire -> kernel: by_ufrag + by_txn + by_remote */
	uint64_t in_by_ufrag;
	uint64_t in_by_txn;
	uint64_t in_by_remote;
	uint64_t txn_recorded;   /* requests sent (a retransmission counts again) */
	uint64_t txn_evicted;    /* live entries pushed out by a full table */
	uint64_t txn_expired;    /* entries that outlived the TTL unanswered */
	uint64_t remote_evicted;
	uint64_t remote_expired;
};

enum bx_stunmux_verdict {
	BX_STUNMUX_PASS,       /* not the translator's packet: untouched */
	BX_STUNMUX_TRANSLATED, /* port rewritten: send it on */
	BX_STUNMUX_DROP,       /* the translator's packet, but unusable */
};

struct bx_stunmux;
struct bx_stunmux_routes;

/*
 * Makes a translator for one exception interface, with both tables
 * allocated up front so that no packet ever allocates. mesh_port must lie
 * outside the agent range (a packet to it would be ambiguous) and local_ip
 * must be set. Returns NULL with errno EINVAL (bad conf), ENOMEM, or EIO
 * (libsodium, which seeds the table hashes, failed to start).
 */
struct bx_stunmux *bx_stunmux_create(const struct bx_stunmux_conf *c);

/* Frees a translator; NULL is fine. */
void bx_stunmux_free(struct bx_stunmux *m);

/*
 * Wire -> kernel. @ip points at an IPv4 header with @len contiguous bytes
 * from there (Ethernet already stripped; bytes past the IPv4 total length
 * are padding and left alone). @r is the routes table the caller currently
 * holds under RCU, or NULL before the first one is published (no ufrag
 * then routes).
 *
 * PASS: not UDP to local_ip:mesh_port (other address, protocol or port, not
 * IPv4, a non-first fragment, whose ports cannot be seen), or a mesh
 * datagram (first payload byte >= 0x80), which the caller's mesh pipeline
 * handles. TRANSLATED: the destination port now names the agent; push the
 * packet up the exception interface. DROP, with *@reason set:
 * BX_DROP_STUN_MALFORMED for a packet to the mesh port that is broken
 * (lengths, fragment) or that claims to be STUN (top bits 00 and the magic
 * cookie) but is not well-formed, USERNAME included; BX_DROP_STUN_UNROUTED
 * when no agent is known for it, and for UDP sent straight to an agent's
 * private port (agents are reachable only through the mesh port). The packet is untouched unless TRANSLATED,
 * *@reason untouched unless DROP. Never reads past @len.
 */
enum bx_stunmux_verdict bx_stunmux_in(struct bx_stunmux *m,
				      const struct bx_stunmux_routes *r,
				      void *ip, size_t len, uint64_t now_ms,
				      enum bx_drop_reason *reason);

/*
 * Kernel -> wire, for a frame the kernel sent on the exception interface
 * (same buffer rules as bx_stunmux_in). TRANSLATED: UDP from local_ip with
 * an agent source port, now from mesh_port; a well-formed STUN request also
 * recorded its transaction id, and every such packet its destination as
 * that agent's remote. PASS: any other packet, untouched. DROP, with
 * *@reason BX_DROP_STUN_MALFORMED: from an agent port but not a sound
 * IPv4/UDP datagram (lengths, or a fragment: a STUN message never needs
 * one), untouched.
 */
enum bx_stunmux_verdict bx_stunmux_out(struct bx_stunmux *m, void *ip,
				       size_t len, uint64_t now_ms,
				       enum bx_drop_reason *reason);

/* The translator's counters, live (read them on its lcore, or accept a
 * value one packet old). */
const struct bx_stunmux_stats *bx_stunmux_stats(const struct bx_stunmux *m);

/*
 * Whether a UDP payload is a well-formed STUN message: top bits 00, the
 * magic cookie, a length that is a multiple of 4 and matches @len exactly,
 * and attributes that tile it without overrun. The control side can use it
 * to tell STUN from ChannelData or junk; the translator judges with it too.
 */
bool bx_stunmux_is_stun(const void *payload, size_t len);

/*
 * An empty routes table for up to @capacity agents (1 ..
 * BX_STUNMUX_ROUTES_MAX) whose ports must lie in [@port_min, @port_max],
 * the translator's agent range. Built by the control lcore with
 * bx_stunmux_routes_add(), then published; never changed once a translator
 * may read it (build a new one instead). Returns NULL with errno EINVAL,
 * ENOMEM or EIO (libsodium failed to start).
 */
struct bx_stunmux_routes *bx_stunmux_routes_create(uint32_t capacity,
						   uint16_t port_min,
						   uint16_t port_max);

/*
 * Adds agent @ufrag (NUL-terminated, BX_STUNMUX_UFRAG_MIN ..
 * BX_STUNMUX_UFRAG_MAX ice-chars) on @port. Returns 0; -EINVAL for a bad
 * ufrag or a port outside the table's range; -EEXIST when the ufrag is
 * already there (two agents cannot share one); -ENOSPC when the table holds
 * @capacity routes; -ENOMEM. The table is unchanged on failure.
 */
int bx_stunmux_routes_add(struct bx_stunmux_routes *r, const char *ufrag,
			  uint16_t port);

/* Frees a routes table (after the RCU grace period); NULL is fine. */
void bx_stunmux_routes_free(struct bx_stunmux_routes *r);

#endif /* BX_STUNMUX_H */
