/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Peer registry: who the mesh peers are, which inner addresses route to
 * them, and which receiver session index belongs to which of their sessions.
 * The control lcore changes it; worker lcores read it on every packet
 * without locks (DESIGN §3.2, CONVENTIONS 6).
 *
 * Model
 *   A peer has a stable dense index (0 .. max_peers-1) for its whole life,
 *   so per-lcore arrays can be indexed by it. Its allowed prefixes are its
 *   virtual IP as a /32 plus up to BX_PEER_MAX_PREFIXES IPv4 CIDRs; they
 *   form the routing table (inner destination -> peer, longest prefix wins)
 *   and the ingress source check (inner source must route back to the peer
 *   it came from, so one peer cannot speak for another's addresses). A
 *   prefix belongs to one peer at most. rte_lpm has no /0: a default route
 *   is written as 0.0.0.0/1 + 128.0.0.0/1.
 *
 * Writers (one control thread)
 *   bx_peer_add / _replace / _remove / _set_session / _clear_session stage
 *   a change; bx_peer_commit publishes every staged change at once. So a
 *   single change is "change, commit" and a topology diff is "changes,
 *   commit". A change that fails stages nothing; earlier ones stay staged.
 *
 * Readers (worker lcores)
 *   Once per burst: t = bx_peer_table_get(reg), then any number of lookups
 *   in t; between bursts (also when idle) rte_rcu_qsbr_quiescent() on the
 *   QSBR variable given at creation. Peers and tables read in a burst stay
 *   valid and unchanged until that quiescent report.
 *
 * How readers stay lock-free and consistent
 *   Peer records and the table (peer array + session hash) are immutable
 *   once published. A commit copies the table, applies the staged changes
 *   to the copy, publishes it with one atomic pointer store and frees the
 *   old table and the replaced records after an RCU grace period.
 *
 *   The routing LPM is the exception: rte_lpm's tbl24 alone is 64 MiB, and
 *   copying or rebuilding it per change would write 64 MiB per change and
 *   hold it twice. There is one rte_lpm, updated in place (its entries are
 *   written atomically, and its tbl8 groups are recycled through an RCU
 *   defer queue, rte_lpm_rcu_qsbr_add). A commit orders the edits so that
 *   every rule a reader can find maps an address to a peer whose record,
 *   in whichever table that reader holds, lists that address:
 *     1. delete the rules the new table drops or moves,
 *     2. publish the new table,
 *     3. wait for a grace period (no reader holds the old table any more),
 *     4. add the rules the new table gains.
 *   Between 1 and 4 an address whose rule moves misses or falls back to a
 *   shorter prefix: a transient drop, never a wrong peer. Index reuse waits
 *   for that same grace period.
 *
 *   Cost of a change at 10000 peers: one copy of the table (~0.6 MiB), a
 *   few rte_hash and rte_lpm operations and one grace period (a reader
 *   burst): about 0.1 ms measured here (test_scale_10000 prints it).
 *
 * Memory: 64 MiB of rte_lpm tbl24 per registry, 1 KiB per tbl8 group
 *   (max_long_prefixes of them), two tables while a commit runs, one record
 *   (~256 bytes) per peer, and the control-side id and prefix maps.
 *
 * Addresses and ports are in network byte order, as in packet headers.
 * Library code: no logging, no exit; errors are -errno.
 */
#ifndef BX_PEER_H
#define BX_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_byteorder.h>
#include <rte_lpm.h>
#include <rte_rcu_qsbr.h>

#include "bx_common.h"

/* Node id: printable ASCII without spaces, 1..BX_PEER_ID_MAX-1 bytes. */
#define BX_PEER_ID_MAX 64u
/* CIDRs a peer may route besides its virtual IP. */
#define BX_PEER_MAX_PREFIXES 16u
/* Rules a peer puts in the routing table: its virtual IP /32 + prefixes. */
#define BX_PEER_MAX_RULES (BX_PEER_MAX_PREFIXES + 1u)
/* Sessions per peer: the current one and the previous one during rekey. */
#define BX_PEER_MAX_SESSIONS 2u
/* Slot convention: senders use CURRENT; receivers accept both. */
#define BX_PEER_SESSION_CURRENT 0u
#define BX_PEER_SESSION_PREVIOUS 1u
/* Paths to one peer (multi-path bonding): our underlay x its endpoint. */
#define BX_PEER_MAX_PATHS 4u
/* Lanes a record keeps a bonding mode for (enum bx_wire_lane's count). */
#define BX_PEER_LANES 3u
/* Registry size limit: keeps tables (and rte_lpm's 24-bit next hop) in range. */
#define BX_PEER_MAX_PEERS (1u << 20)
/* Rules longer than /24 each may need one 1 KiB rte_lpm tbl8 group. */
#define BX_PEER_TBL8_DEPTH 24u

struct bx_peer_prefix {
	rte_be32_t addr; /* host bits must be zero */
	uint8_t len;     /* 1..32 */
};

/* One path: which local underlay (its index) to which peer endpoint. */
struct bx_peer_path {
	rte_be32_t ip;
	rte_be16_t port;
	uint8_t ul;
};

struct bx_peer_session {
	void *ctx;         /* session layer's object; NULL = slot unused */
	uint32_t rx_index; /* receiver session index, valid iff ctx != NULL */
};

/* A published peer. Read-only for everyone; the registry owns it. */
struct bx_peer {
	char id[BX_PEER_ID_MAX];
	uint32_t index;
	rte_be32_t vip;
	rte_be32_t endpoint_ip;   /* 0 until an endpoint is known */
	rte_be16_t endpoint_port;
	/* Not 0: the endpoint is a relay, and datagrams for the peer go to
	 * it wrapped for this handle (lib/relay). */
	uint64_t relay_handle;
	/* Paths (paths[0] is endpoint_ip:endpoint_port on underlay 0 when
	 * the conf gave none) and the bonding mode of each lane, opaque here:
	 * the fast path's scheduler reads them. */
	uint8_t n_paths;
	struct bx_peer_path paths[BX_PEER_MAX_PATHS];
	uint8_t lane_mode[BX_PEER_LANES];
	uint8_t n_allowed;
	/* allowed[0] is vip/32, then the configured prefixes in order. */
	struct bx_peer_prefix allowed[BX_PEER_MAX_RULES];
	struct bx_peer_session sessions[BX_PEER_MAX_SESSIONS];
};

/* What the control plane knows about a peer (add, replace). */
struct bx_peer_conf {
	const char *id;
	rte_be32_t vip;           /* not 0.0.0.0 */
	rte_be32_t endpoint_ip;
	rte_be16_t endpoint_port;
	uint64_t relay_handle;    /* 0: direct */
	/* 0: one path, {endpoint, underlay 0}; else paths[0..n_paths), and
	 * endpoint_* should equal paths[0]. At most BX_PEER_MAX_PATHS. */
	unsigned int n_paths;
	struct bx_peer_path paths[BX_PEER_MAX_PATHS];
	uint8_t lane_mode[BX_PEER_LANES];
	unsigned int n_prefixes;  /* <= BX_PEER_MAX_PREFIXES */
	const struct bx_peer_prefix *prefixes; /* vip/32 may be listed too */
};

struct bx_peer_registry_conf {
	uint32_t max_peers;         /* 1..BX_PEER_MAX_PEERS */
	/* Rules (virtual IPs included) over all peers; 0 = 4 per peer. */
	uint32_t max_prefixes;
	/* Rules longer than /24 over all peers; 0 = 2 per peer. */
	uint32_t max_long_prefixes;
	/* Readers' QSBR variable, caller-owned, outlives the registry. One
	 * variable can serve every table the control lcore publishes. */
	struct rte_rcu_qsbr *qsbr;
	int socket_id;              /* SOCKET_ID_ANY is fine */
};

struct bx_peer_registry; /* control side (opaque) */

/*
 * Receiver session index -> (peer index, slot); ref 0 = empty slot.
 * An open-addressing table of our own rather than rte_hash: it lives inside
 * the immutable table, so copying it per commit is a memcpy, a lookup is a
 * probe or two in one array with no lock-free-mode rte_hash and its own RCU
 * key reclamation, and a rekey that moves an index between slots is
 * published atomically with everything else. Indices are random (chosen by
 * the session layer), multiplicative hashing spreads them anyway.
 */
struct bx_peer_sess_ent {
	uint32_t rx_index;
	uint32_t ref; /* peer index * BX_PEER_MAX_SESSIONS + slot + 1 */
};

/*
 * One published generation of the registry. Visible only so the lookups
 * below can be inline; treat every field as private and read-only.
 */
struct bx_peer_table {
	const struct rte_lpm *lpm;    /* shared by all generations */
	const struct bx_peer **peers; /* [max_peers]; NULL = free index */
	struct bx_peer_sess_ent *sess; /* [sess_mask + 1], linear probing */
	uint32_t sess_mask;
	uint32_t sess_shift;          /* 32 - log2(sess_mask + 1) */
	uint32_t max_peers;
	uint32_t n_peers;
	uint64_t version;             /* +1 per commit */
} __attribute__((aligned(BX_CACHE_LINE)));

/* Multiplier spreading session indices over the hash (Fibonacci hashing). */
#define BX_PEER_SESS_HASH_MUL 0x9e3779b1u

/* True if @id can name a peer (see BX_PEER_ID_MAX). */
bool bx_peer_id_valid(const char *id);

/*
 * Orders two valid ids bytewise (<0, 0, >0), the same on every node, so
 * both ends of a pair agree which one initiates (the lower id does).
 */
int bx_peer_id_cmp(const char *a, const char *b);

/*
 * Creates an empty registry and publishes its empty table, so readers never
 * see NULL. Returns NULL and sets rte_errno: EINVAL (bad conf), ENOMEM,
 * or what rte_lpm/rte_hash creation reported.
 */
struct bx_peer_registry *
bx_peer_registry_create(const struct bx_peer_registry_conf *conf);

/* Frees everything, staged changes included. No reader may still use it. */
void bx_peer_registry_free(struct bx_peer_registry *reg);

/*
 * Stages a new peer and writes its index to @idx (may be NULL): a free
 * index, low ones first. Errors: -EINVAL (bad id, virtual IP
 * 0.0.0.0, prefix length 0 or >32, host bits set, a prefix listed twice,
 * more than BX_PEER_MAX_PREFIXES), -EEXIST (id known, or a rule already
 * routes to another peer), -ENOSPC (no free index — an index freed by
 * remove becomes free at the commit that publishes the removal — or the
 * max_prefixes / max_long_prefixes budget is spent), -ENOMEM.
 */
int bx_peer_add(struct bx_peer_registry *reg, const struct bx_peer_conf *conf,
		uint32_t *idx);

/*
 * Stages new settings for the peer conf->id: it keeps its index and its
 * sessions, so a config change never drops traffic or keys. Errors as
 * bx_peer_add, with -ENOENT for an unknown id.
 */
int bx_peer_replace(struct bx_peer_registry *reg,
		    const struct bx_peer_conf *conf);

/* Stages the removal of a peer and its sessions. -EINVAL, -ENOENT, -ENOMEM. */
int bx_peer_remove(struct bx_peer_registry *reg, const char *id);

/*
 * Stages @ctx (the session layer's object, not NULL) as session @slot of
 * peer @id, found by receivers under @rx_index. The session that held the
 * slot is replaced. Errors: -EINVAL (slot, ctx), -ENOENT (id), -EEXIST
 * (@rx_index belongs to another peer or slot), -ENOMEM.
 */
int bx_peer_set_session(struct bx_peer_registry *reg, const char *id,
			unsigned int slot, uint32_t rx_index, void *ctx);

/* Stages emptying session @slot of @id (already empty: 0). -EINVAL, -ENOENT, -ENOMEM. */
int bx_peer_clear_session(struct bx_peer_registry *reg, const char *id,
			  unsigned int slot);

/*
 * Publishes every staged change. Blocks the calling (control) thread for
 * one grace period — until each online reader has reported a quiescent
 * state — so when it returns no reader can reach a replaced or removed
 * peer record or session ctx: the caller may free session objects it
 * replaced. The control thread must not be an online reader of the QSBR
 * variable. Cannot fail: everything was allocated and checked while
 * staging. Nothing staged: returns at once.
 */
void bx_peer_commit(struct bx_peer_registry *reg);

/*
 * Control-side view including staged changes: the peer named @id, or NULL.
 * The pointer is valid until the next change or commit.
 */
const struct bx_peer *bx_peer_find(const struct bx_peer_registry *reg,
				   const char *id);

/* Reader: the current table, to use until the next quiescent report. */
const struct bx_peer_table *bx_peer_table_get(const struct bx_peer_registry *reg);

/* Peers in the table. */
static inline uint32_t
bx_peer_table_count(const struct bx_peer_table *t)
{
	return t->n_peers;
}

/* Indices run from 0 to capacity - 1 (max_peers): size per-index arrays by it. */
static inline uint32_t
bx_peer_table_capacity(const struct bx_peer_table *t)
{
	return t->max_peers;
}

/* Grows by one per commit: a reader can tell a new table from the last one. */
static inline uint64_t
bx_peer_table_version(const struct bx_peer_table *t)
{
	return t->version;
}

/* The peer at index @idx, NULL if the index is free or out of range. */
static inline const struct bx_peer *
bx_peer_table_at(const struct bx_peer_table *t, uint32_t idx)
{
	return idx < t->max_peers ? t->peers[idx] : NULL;
}

/* Egress: the peer an inner destination routes to (longest prefix), or NULL. */
static inline const struct bx_peer *
bx_peer_lookup_dst(const struct bx_peer_table *t, rte_be32_t dst)
{
	uint32_t idx;

	if (rte_lpm_lookup(t->lpm, rte_be_to_cpu_32(dst), &idx) != 0)
		return NULL;
	BX_ASSERT_HOT(idx < t->max_peers && t->peers[idx] != NULL);
	/* A rule is in the LPM only while every table a reader may hold has
	 * its peer at idx (the commit order above). */
	return t->peers[idx];
}

/*
 * Ingress: the peer owning receiver session index @rx_index and the slot it
 * is in (@slot untouched on a miss), or NULL.
 */
static inline const struct bx_peer *
bx_peer_lookup_session(const struct bx_peer_table *t, uint32_t rx_index,
		       unsigned int *slot)
{
	uint32_t i = (rx_index * BX_PEER_SESS_HASH_MUL) >> t->sess_shift;

	/* Terminates: the table is never more than half full. */
	for (;; i = (i + 1) & t->sess_mask) {
		const struct bx_peer_sess_ent *e = &t->sess[i];

		if (e->ref == 0)
			return NULL;
		if (e->rx_index == rx_index) {
			uint32_t ref = e->ref - 1;

			*slot = ref % BX_PEER_MAX_SESSIONS;
			return t->peers[ref / BX_PEER_MAX_SESSIONS];
		}
	}
}

/*
 * Ingress source check: true if inner source @src routes back to @p (from
 * this table), i.e. @p may send from it. A longer prefix of another peer
 * wins, as for routing: a peer cannot speak for another's addresses.
 */
static inline bool
bx_peer_src_allowed(const struct bx_peer_table *t, const struct bx_peer *p,
		    rte_be32_t src)
{
	uint32_t idx;

	return rte_lpm_lookup(t->lpm, rte_be_to_cpu_32(src), &idx) == 0 &&
	       idx == p->index;
}

#endif /* BX_PEER_H */
