/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Relay messages, relay credentials and the relay's forwarding table
 * (DESIGN §3.5, path (2)). When two nodes cannot reach each other directly
 * (symmetric NATs on both sides), their mesh datagrams go through a relay:
 * a bauxite-app in role "relay" on a public address. The relay forwards
 * mesh datagrams between registered nodes without being able to decrypt
 * them, and only for nodes holding a relay credential issued by the hub.
 *
 * ---- Protocol ---------------------------------------------------------
 *
 * Every relay message is a UDP payload to or from the mesh port, starting
 * with the 16-byte mesh header of bx_wire.h: type BX_WIRE_RELAY, flags 0,
 * lane 0, path id = the operation (enum bx_relay_op), rx_index 0, counter
 * as below. Anything else in those fields is refused. Offsets from the
 * start of the UDP payload; integers big-endian.
 *
 *   REGISTER (node -> relay), counter = seq                41 + n bytes
 *       0  mesh header                                        16
 *      16  n = id length, 1..BX_RELAY_ID_MAX                   1
 *      17  node id (printable ASCII, no spaces)                n
 *    17+n  credential expiry, Unix seconds                     8
 *    25+n  MAC(node_key, bytes 0 .. 24+n)                     16
 *   seq grows strictly with every REGISTER a node sends (the node uses its
 *   Unix time in milliseconds), so a captured REGISTER cannot be replayed.
 *
 *   REGISTERED (relay -> node), counter = the seq answered      36 bytes
 *       0  mesh header                                        16
 *      16  lease, seconds                                      4
 *      20  MAC(node_key, bytes 0..19)                         16
 *   Proves the relay knows the secret the credential came from.
 *
 *   FORWARD (node -> relay -> node)                        16 + m bytes
 *       0  mesh header; counter = the destination's handle (node ->
 *          relay), the sender's handle (relay -> node)       16
 *      16  one whole mesh datagram, never of type RELAY        m
 *   The relay swaps the counter and passes every other byte on unchanged:
 *   the inner datagram is AEAD-protected end to end and the receiver
 *   answers through the relay to the handle it came from. A relayed
 *   datagram is BX_RELAY_FORWARD_OVERHEAD bytes longer than a direct one.
 *
 *   REFUSED (relay -> node), counter = the seq refused          17 bytes
 *       0  mesh header                                        16
 *      16  enum bx_drop_reason (one byte)                      1
 *   Unauthenticated and informative only: a node may take RELAY_EXPIRED or
 *   RELAY_BAD_CREDENTIAL as a hint to fetch a new credential.
 *
 *   MAC(k, x)   = BLAKE2b with a 16-byte output keyed with k.
 *   node_key    = BLAKE2b-256(key = the relay's 32-byte secret,
 *                 "bauxite relay key v1" || u64 expiry || u8 n || id).
 *                 The hub computes it and hands it to the node over mTLS
 *                 together with the expiry: that pair is the credential.
 *                 The relay recomputes it from the secret, so it keeps no
 *                 per-node state before a node registers.
 *   handle(id)  = first 8 bytes, big-endian, of
 *                 BLAKE2b-256("bauxite relay handle v1" || id); 0 becomes
 *                 1, so 0 is never a handle. Any node computes any peer's
 *                 handle from its id: no signaling needed.
 *
 * ---- The relay ------------------------------------------------------
 *
 * Control lcore: a REGISTER goes through bx_relay_register_verify, then
 * bx_relay_registry_accept, and is answered with REGISTERED (lease from
 * bx_relay_lease_grant) or REFUSED (reason from bx_relay_accept_reason or
 * the verify). bx_relay_registry_expire runs periodically. Whenever accept
 * or expire say so, the app builds a new bx_relay_table, publishes it to
 * the workers by pointer swap and frees the old one after an RCU grace
 * period.
 *
 * Workers: bx_relay_forward per FORWARD datagram on the table they hold.
 *
 * A registration lasts for its lease, never beyond its credential's
 * expiry. When the lease runs out the node leaves the table, but the relay
 * remembers its last seq until the credential expires, so a REGISTER
 * captured earlier cannot move the node's traffic to another address (such
 * remembered nodes give up their place when a new node needs it). A relay
 * restart forgets every seq: credentials should be short-lived.
 *
 * An address belongs to one node: if two registrations name the same
 * address (a NAT gave a departed node's mapping to another), the more
 * recent one owns it and the older node is left out of the table until
 * it registers again.
 *
 * Secrets: node keys are wiped (sodium_memzero) before every function
 * returns; MACs are compared in constant time. Libsodium must have been
 * initialised (sodium_init) before any function here is called;
 * bx_relay_registry_create does it itself.
 *
 * Addresses and ports are in network byte order, as in packet headers.
 * Plain C over byte buffers: no EAL, no logging, no clock (the caller
 * passes the time). Any buffer alignment is fine.
 */
#ifndef BX_RELAY_H
#define BX_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_byteorder.h>

#include "bx_drop.h"
#include "bx_wire.h"

#define BX_RELAY_SECRET_LEN 32u
#define BX_RELAY_KEY_LEN 32u
#define BX_RELAY_MAC_LEN 16u
#define BX_RELAY_ID_MAX 63u /* node id bytes, without the NUL */
#define BX_RELAY_KEY_LABEL "bauxite relay key v1"
#define BX_RELAY_HANDLE_LABEL "bauxite relay handle v1"

/* Operations, in the path id byte of the header. */
enum bx_relay_op {
	BX_RELAY_OP_NONE = 0, /* not a relay message */
	BX_RELAY_OP_REGISTER = 1,
	BX_RELAY_OP_REGISTERED = 2,
	BX_RELAY_OP_FORWARD = 3,
	BX_RELAY_OP_REFUSED = 4,
	BX_RELAY_OP_MAX = BX_RELAY_OP_REFUSED,
};

/* Message layouts (offsets from the start of the UDP payload). */
#define BX_RELAY_REG_OFF_ID_LEN BX_WIRE_HDR_LEN
#define BX_RELAY_REG_OFF_ID (BX_RELAY_REG_OFF_ID_LEN + 1u)
#define BX_RELAY_EXPIRY_LEN 8u
#define BX_RELAY_REGISTER_LEN(id_len)                                         \
	(BX_RELAY_REG_OFF_ID + (id_len) + BX_RELAY_EXPIRY_LEN + BX_RELAY_MAC_LEN)
#define BX_RELAY_REGISTER_MIN BX_RELAY_REGISTER_LEN(1u)
#define BX_RELAY_REGISTER_MAX BX_RELAY_REGISTER_LEN(BX_RELAY_ID_MAX)

#define BX_RELAY_LEASE_LEN 4u
#define BX_RELAY_REGD_OFF_LEASE BX_WIRE_HDR_LEN
#define BX_RELAY_REGD_OFF_MAC (BX_RELAY_REGD_OFF_LEASE + BX_RELAY_LEASE_LEN)
#define BX_RELAY_REGISTERED_LEN (BX_RELAY_REGD_OFF_MAC + BX_RELAY_MAC_LEN)

#define BX_RELAY_REFUSED_OFF_REASON BX_WIRE_HDR_LEN
#define BX_RELAY_REFUSED_LEN (BX_RELAY_REFUSED_OFF_REASON + 1u)

#define BX_RELAY_FORWARD_OVERHEAD BX_WIRE_HDR_LEN
#define BX_RELAY_FORWARD_OFF_INNER BX_RELAY_FORWARD_OVERHEAD
/* The shortest datagram worth relaying is a bare mesh header. */
#define BX_RELAY_FORWARD_MIN (BX_RELAY_FORWARD_OVERHEAD + BX_WIRE_HDR_LEN)

_Static_assert(BX_RELAY_REGISTER_MAX == 104, "REGISTER is at most 104 bytes");
_Static_assert(BX_RELAY_REGISTERED_LEN == 36, "REGISTERED is 36 bytes");
_Static_assert(BX_RELAY_REFUSED_LEN == 17, "REFUSED is 17 bytes");
_Static_assert(BX_DROP__COUNT <= 256, "a drop reason fits REFUSED's byte");

/*
 * Lease defaults for the relay app. Nodes refresh well within the lease;
 * the refresh also keeps their NAT's UDP mapping towards the relay alive,
 * and many NATs drop idle mappings after 30 s.
 */
#define BX_RELAY_LEASE_DEFAULT_S 90u
#define BX_RELAY_REFRESH_S 25u

/* Most nodes one registry can hold (bounds its allocation). */
#define BX_RELAY_MAX_NODES (UINT32_C(1) << 20)

/* A REGISTER the relay verified, host byte order. */
struct bx_relay_reg {
	char id[BX_RELAY_ID_MAX + 1]; /* NUL-terminated */
	uint64_t expiry_s;            /* credential expiry, Unix seconds */
	uint64_t seq;
	uint64_t handle;              /* bx_relay_handle(id) */
};

struct bx_relay_registry;
struct bx_relay_table;

/* ---- Credentials and handles (hub, nodes, relay) ---------------------- */

/* True if @id can name a node here: 1..BX_RELAY_ID_MAX printable ASCII
 * bytes without spaces (the same rule as bx_peer.h). */
bool bx_relay_id_valid(const char *id);

/*
 * The hub hands a node @key together with @expiry_unix_s as its relay
 * credential; only holders of @secret can make or check one, and it is
 * bound to the id and the expiry, so neither can be changed. Returns 0, or
 * -EINVAL for an invalid id (@key untouched).
 */
int bx_relay_node_key(const uint8_t secret[BX_RELAY_SECRET_LEN],
		      const char *id, uint64_t expiry_unix_s,
		      uint8_t key[BX_RELAY_KEY_LEN]);

/* The name a node has at every relay, computable by any peer from its id.
 * Never 0 for a valid id; 0 for an invalid one. */
uint64_t bx_relay_handle(const char *id);

/*
 * The operation of a relay message whose header is well formed (type
 * RELAY, flags, lane and rx_index 0, a known op), so the receiver can hand
 * it to the right parser; BX_RELAY_OP_NONE for anything else. Reads at
 * most the header.
 */
enum bx_relay_op bx_relay_msg_op(const void *buf, size_t len);

/* ---- Node side -------------------------------------------------------- */

/*
 * Writes a REGISTER for @id with the credential (@expiry, @key) and @seq,
 * which must be greater than that of every REGISTER this node sent before.
 * Returns its length, -EINVAL for an invalid id, -ENOSPC if @cap is short
 * (BX_RELAY_REGISTER_MAX is always enough); @buf is untouched on failure.
 */
int bx_relay_register_encode(void *buf, size_t cap, const char *id,
			     uint64_t expiry, const uint8_t key[BX_RELAY_KEY_LEN],
			     uint64_t seq);

/*
 * Checks a REGISTERED answering the REGISTER with @expect_seq, so a node
 * trusts only a relay that knows the credential's secret and only a fresh
 * answer. Returns BX_DROP_NONE and sets @lease_s, or RELAY_MALFORMED
 * (length, header), RELAY_REPLAYED (answers another REGISTER),
 * RELAY_BAD_CREDENTIAL (MAC); @lease_s untouched on failure.
 */
enum bx_drop_reason bx_relay_registered_check(const void *buf, size_t len,
					      const uint8_t key[BX_RELAY_KEY_LEN],
					      uint64_t expect_seq,
					      uint32_t *lease_s);

/*
 * Reads a REFUSED answering the REGISTER with @expect_seq. It is not
 * authenticated: take it as a hint only. Returns BX_DROP_NONE and sets
 * @why (a reason other than BX_DROP_NONE), or RELAY_MALFORMED (length,
 * header, unknown reason), RELAY_REPLAYED (answers another REGISTER); @why
 * untouched on failure.
 */
enum bx_drop_reason bx_relay_refused_check(const void *buf, size_t len,
					   uint64_t expect_seq,
					   enum bx_drop_reason *why);

/* Writes the BX_RELAY_FORWARD_OVERHEAD bytes a node puts in front of a
 * mesh datagram it sends through a relay to the node @dest_handle. */
void bx_relay_forward_hdr(void *hdr, uint64_t dest_handle);

/*
 * A node receiving a FORWARD: the handle of the node that sent it (answer
 * through the relay to that handle) and where the inner mesh datagram
 * starts. Returns BX_DROP_NONE, or RELAY_MALFORMED (short, header, handle
 * 0, inner not a valid mesh datagram or of type RELAY); out-params
 * untouched on failure.
 */
enum bx_drop_reason bx_relay_unwrap(const void *payload, size_t len,
				    uint64_t *from_handle, size_t *inner_off);

/* ---- Relay side, control lcore ---------------------------------------- */

/*
 * Verifies a REGISTER against the relay's @secret at @now_unix_s. Cheapest
 * checks first, so garbage costs no hashing. Returns BX_DROP_NONE and fills
 * @out, or RELAY_MALFORMED (length, header, id), RELAY_EXPIRED (credential
 * expiry not after now), RELAY_BAD_CREDENTIAL (MAC: wrong secret, or id,
 * expiry or seq changed); @out untouched on failure. The replay check
 * needs the registry: bx_relay_registry_accept.
 */
enum bx_drop_reason bx_relay_register_verify(const uint8_t secret[BX_RELAY_SECRET_LEN],
					     const void *buf, size_t len,
					     uint64_t now_unix_s,
					     struct bx_relay_reg *out);

/*
 * The lease the relay grants @r at @now_s when it would give @lease_s: no
 * longer than the credential is good, so a credential the hub stops
 * renewing ends the node's relaying. 0 if the credential has expired.
 */
uint32_t bx_relay_lease_grant(const struct bx_relay_reg *r, uint64_t now_s,
			      uint32_t lease_s);

/*
 * Writes the REGISTERED answering @r with @lease_s (what
 * bx_relay_lease_grant gave). Returns its length, -EINVAL for an invalid
 * @r->id, -ENOSPC if @cap is short; @buf is untouched on failure.
 */
int bx_relay_registered_encode(void *buf, size_t cap,
			       const uint8_t secret[BX_RELAY_SECRET_LEN],
			       const struct bx_relay_reg *r, uint32_t lease_s);

/*
 * Writes a REFUSED of the REGISTER whose header counter was @seq (from
 * bx_wire_decode when the REGISTER did not verify), giving @why. Returns
 * its length, -EINVAL if @why is BX_DROP_NONE or unknown, -ENOSPC if @cap
 * is short; @buf is untouched on failure.
 */
int bx_relay_refused_encode(void *buf, size_t cap, uint64_t seq,
			    enum bx_drop_reason why);

/*
 * A registry for up to @max_nodes nodes (1..BX_RELAY_MAX_NODES), owned by
 * one control thread (no locking). NULL with errno EINVAL (bad count),
 * ENOMEM, or EIO (libsodium failed to initialise).
 */
struct bx_relay_registry *bx_relay_registry_create(uint32_t max_nodes);

/* Accepts NULL. Tables built from it stay valid. */
void bx_relay_registry_free(struct bx_relay_registry *reg);

/*
 * Records @r (verified by bx_relay_register_verify) as coming from
 * @ip:@port at @now_s with the lease bx_relay_lease_grant(@r, @now_s,
 * @lease_s): a new node, a node that moved (its NAT mapping changed) or a
 * refresh. @hop is the caller's, handed back by bx_relay_forward for this
 * node (the relay app keeps the MAC the REGISTER came from: the next hop
 * back towards the node). Returns 1 if the forwarding table must be
 * rebuilt (new node, moved, a new @hop, or back after its lease ran out),
 * 0 for a refresh, or
 * -EALREADY  seq not above the last accepted from this node (replay),
 * -ENOSPC    @max_nodes nodes hold a lease,
 * -EEXIST    another id has the same handle,
 * -EINVAL    @r is not a verified registration or its credential expired.
 * Nothing changes on failure.
 */
int bx_relay_registry_accept(struct bx_relay_registry *reg,
			     const struct bx_relay_reg *r, rte_be32_t ip,
			     rte_be16_t port, uint64_t now_s, uint32_t lease_s,
			     uint64_t hop);

/* The reason to send in a REFUSED for what bx_relay_registry_accept
 * returned (BX_DROP_NONE when it accepted). */
enum bx_drop_reason bx_relay_accept_reason(int rc);

/*
 * Ends the registrations whose lease ran out by @now_s, and forgets the
 * nodes whose credential expired. True if the forwarding table must be
 * rebuilt. Call it every few seconds.
 */
bool bx_relay_registry_expire(struct bx_relay_registry *reg, uint64_t now_s);

/* Nodes holding a lease, for status and telemetry. */
uint32_t bx_relay_registry_count(const struct bx_relay_registry *reg);

/*
 * An immutable snapshot of the registry for the fast path: every node
 * holding a lease, by handle and by address (open addressing, at most
 * half full, so lookups are O(1)). Built in O(nodes). NULL with errno
 * ENOMEM.
 */
struct bx_relay_table *bx_relay_table_build(const struct bx_relay_registry *reg);

/* Accepts NULL. */
void bx_relay_table_free(struct bx_relay_table *t);

/* Nodes reachable through @t. */
uint32_t bx_relay_table_count(const struct bx_relay_table *t);

/* ---- Relay side, fast path -------------------------------------------- */

/*
 * One FORWARD datagram (@payload, @len bytes of UDP payload) received from
 * @src_ip:@src_port: checks it, finds the destination and rewrites the
 * counter in place to the sender's handle, so the datagram can go out to
 * *@dst_ip:*@dst_port as it is (*@dst_hop, unless NULL, gets the hop it
 * registered with). Only registered nodes may send, so the
 * relay cannot be used by strangers. No allocation, no locks; reads only
 * @t. Returns BX_DROP_NONE, or RELAY_MALFORMED (short, header, inner not a
 * valid mesh datagram or of type RELAY), RELAY_UNREGISTERED (the source
 * address holds no registration), RELAY_NO_DEST (no node with that
 * handle); on failure nothing is written.
 */
enum bx_drop_reason bx_relay_forward(const struct bx_relay_table *t,
				     void *payload, size_t len,
				     rte_be32_t src_ip, rte_be16_t src_port,
				     rte_be32_t *dst_ip, rte_be16_t *dst_port,
				     uint64_t *dst_hop);

#endif /* BX_RELAY_H */
