/* SPDX-License-Identifier: Apache-2.0 */
/*
 * STUN port translator. Every byte it parses comes from the wire or from a
 * kernel socket: each length is checked before the bytes it covers are
 * read, and multi-byte fields go through packed structs or memcpy, so any
 * buffer alignment is fine.
 *
 * The transaction and remote tables are one structure ("age map"): a
 * fixed array of slots, hash buckets chained through the slots, and a list
 * of the slots from least to most recently stored. The list gives the
 * oldest entry in O(1) for eviction and expiry; since now_ms does not go
 * backwards it is also sorted by time, so expired entries are reaped from
 * its head.
 *
 * Hashes are SipHash (crypto_shorthash) under a random key per table:
 * remote addresses are partly chosen by other hosts, and a keyed hash keeps
 * them from piling entries into one bucket.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_ip.h>
#include <rte_udp.h>
#include <sodium.h>

#include "bx_common.h"
#include "bx_stunmux.h"
#include "bx_wire.h"

#define IPV4_VERSION 4u
#define IPV4_VERSION_SHIFT 4
/* Source and destination port: all a packet must show to be ours. */
#define UDP_PORTS_LEN 4u

/* First byte of a STUN message: the two top bits are zero (RFC 8489 §5). */
#define STUN_TOP_BITS 0xc0u
#define STUN_OFF_LEN 2u
#define STUN_OFF_MAGIC 4u
#define STUN_OFF_TXID 8u
/* Bytes needed to see the cookie, i.e. to claim to be STUN. */
#define STUN_CLAIM_LEN (STUN_OFF_MAGIC + 4u)
/* The class is bits C1 (0x0100) and C0 (0x0010) of the message type;
 * 0x0010 alone is an indication. */
#define STUN_CLASS_MASK 0x0110u
#define STUN_CLASS_REQUEST 0x0000u
#define STUN_CLASS_SUCCESS 0x0100u
#define STUN_CLASS_ERROR 0x0110u

#define NIL UINT32_MAX
/* The longest key: a transaction id. A remote (address + port) is
 * zero-padded to it. */
#define KEY_LEN BX_STUNMUX_TXID_LEN

_Static_assert(sizeof(struct rte_ipv4_hdr) == BX_WIRE_IPV4_LEN, "IPv4");
_Static_assert(sizeof(struct rte_udp_hdr) == BX_WIRE_UDP_LEN, "UDP");
_Static_assert(sizeof(rte_be32_t) + sizeof(rte_be16_t) <= KEY_LEN,
	       "a remote fits a key");
_Static_assert(BX_STUNMUX_ATTR_HDR_LEN == BX_STUNMUX_ATTR_ALIGN &&
	       BX_STUNMUX_STUN_HDR_LEN % BX_STUNMUX_ATTR_ALIGN == 0,
	       "the attribute walk moves in whole 4-byte units");
_Static_assert(BX_STUNMUX_UFRAG_MAX <= UINT16_MAX &&
	       BX_STUNMUX_USERNAME_MAX <= UINT16_MAX, "lengths fit 16 bits");

/* ---- age map: bounded key -> port table with TTL and oldest eviction ----- */

struct slot {
	uint8_t key[KEY_LEN];
	uint32_t chain;   /* next slot in the bucket, or NIL */
	uint64_t stamp_ms; /* when stored or last refreshed */
	uint32_t older;   /* age list; free slots chain through newer */
	uint32_t newer;
	uint32_t bucket;
	uint16_t port;
};

struct age_map {
	struct slot *slots;
	uint32_t *buckets;
	uint32_t mask; /* buckets - 1 */
	uint32_t cap;
	uint32_t count;
	uint32_t oldest, newest, free;
	uint64_t ttl_ms;
	uint64_t *evicted, *expired; /* the owner's counters */
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
};

static uint64_t
hash_bytes(const uint8_t key[crypto_shorthash_KEYBYTES], const void *p,
	   size_t n)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	_Static_assert(sizeof(h) == sizeof(v), "SipHash gives 64 bits");
	crypto_shorthash(h, p, n, key);
	memcpy(&v, h, sizeof(v));
	return v;
}

static int
age_map_init(struct age_map *a, uint32_t cap, uint32_t ttl_ms,
	     uint64_t *evicted, uint64_t *expired)
{
	uint32_t i, n_buckets = rte_align32pow2(cap);

	a->slots = calloc(cap, sizeof(*a->slots));
	a->buckets = malloc(n_buckets * sizeof(*a->buckets));
	if (a->slots == NULL || a->buckets == NULL)
		return -ENOMEM;
	memset(a->buckets, 0xff, n_buckets * sizeof(*a->buckets));
	for (i = 0; i < cap; i++)
		a->slots[i].newer = i + 1 < cap ? i + 1 : NIL;
	a->mask = n_buckets - 1;
	a->cap = cap;
	a->count = 0;
	a->oldest = a->newest = NIL;
	a->free = 0;
	a->ttl_ms = ttl_ms;
	a->evicted = evicted;
	a->expired = expired;
	randombytes_buf(a->hash_key, sizeof(a->hash_key));
	return 0;
}

static void
age_map_fini(struct age_map *a)
{
	free(a->slots);
	free(a->buckets);
}

/* A clock that went backwards makes an entry look expired: a dropped
 * packet is retransmitted, a misrouted one is not noticed. */
static bool
age_map_alive(const struct age_map *a, const struct slot *s, uint64_t now_ms)
{
	return now_ms - s->stamp_ms < a->ttl_ms;
}

static uint32_t
age_map_bucket(const struct age_map *a, const uint8_t key[KEY_LEN])
{
	return (uint32_t)hash_bytes(a->hash_key, key, KEY_LEN) & a->mask;
}

static uint32_t
age_map_lookup(const struct age_map *a, const uint8_t key[KEY_LEN],
	       uint32_t bucket)
{
	uint32_t i;

	for (i = a->buckets[bucket]; i != NIL; i = a->slots[i].chain)
		if (memcmp(a->slots[i].key, key, KEY_LEN) == 0)
			return i;
	return NIL;
}

static void
age_list_unlink(struct age_map *a, uint32_t i)
{
	struct slot *s = &a->slots[i];

	if (s->older != NIL)
		a->slots[s->older].newer = s->newer;
	else
		a->oldest = s->newer;
	if (s->newer != NIL)
		a->slots[s->newer].older = s->older;
	else
		a->newest = s->older;
}

static void
age_list_append(struct age_map *a, uint32_t i)
{
	struct slot *s = &a->slots[i];

	s->older = a->newest;
	s->newer = NIL;
	if (a->newest != NIL)
		a->slots[a->newest].newer = i;
	else
		a->oldest = i;
	a->newest = i;
}

static void
age_map_remove(struct age_map *a, uint32_t i)
{
	struct slot *s = &a->slots[i];
	uint32_t *link = &a->buckets[s->bucket];

	while (*link != i)
		link = &a->slots[*link].chain;
	*link = s->chain;
	age_list_unlink(a, i);
	s->newer = a->free;
	a->free = i;
	a->count--;
}

/* The live entry for @key, or NIL; an expired one is reaped on the way. */
static uint32_t
age_map_find(struct age_map *a, const uint8_t key[KEY_LEN], uint64_t now_ms)
{
	uint32_t bucket = age_map_bucket(a, key);
	uint32_t i = age_map_lookup(a, key, bucket);

	if (i == NIL)
		return NIL;
	if (!age_map_alive(a, &a->slots[i], now_ms)) {
		age_map_remove(a, i);
		(*a->expired)++;
		return NIL;
	}
	return i;
}

/* Stores @key -> @port as the newest entry, refreshing it if present; a
 * full table gives up its oldest entry. */
static void
age_map_put(struct age_map *a, const uint8_t key[KEY_LEN], uint16_t port,
	    uint64_t now_ms)
{
	uint32_t bucket = age_map_bucket(a, key);
	uint32_t i;
	struct slot *s;

	/* Each entry is reaped once: O(1) per call on average, even when a
	 * quiet spell lets the whole table expire at once. */
	while (a->oldest != NIL &&
	       !age_map_alive(a, &a->slots[a->oldest], now_ms)) {
		age_map_remove(a, a->oldest);
		(*a->expired)++;
	}

	i = age_map_lookup(a, key, bucket);
	if (i != NIL) {
		s = &a->slots[i];
		age_list_unlink(a, i);
	} else {
		if (a->count == a->cap) {
			age_map_remove(a, a->oldest);
			(*a->evicted)++;
		}
		i = a->free;
		s = &a->slots[i];
		a->free = s->newer;
		memcpy(s->key, key, KEY_LEN);
		s->bucket = bucket;
		s->chain = a->buckets[bucket];
		a->buckets[bucket] = i;
		a->count++;
	}
	s->port = port;
	s->stamp_ms = now_ms;
	age_list_append(a, i);
}

/* ---- routes: ufrag -> agent port, immutable once published --------------- */

struct route {
	uint64_t hash;
	char *ufrag;
	uint32_t chain; /* next route in the bucket, or NIL */
	uint16_t len;
	uint16_t port;
};

struct bx_stunmux_routes {
	struct route *routes;
	uint32_t *buckets;
	uint32_t mask;
	uint32_t cap;
	uint32_t count;
	uint16_t port_min, port_max;
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
};

static bool
is_ice_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

struct bx_stunmux_routes *
bx_stunmux_routes_create(uint32_t capacity, uint16_t port_min,
			 uint16_t port_max)
{
	struct bx_stunmux_routes *r = NULL;
	uint32_t n_buckets;
	int err;

	if (capacity == 0 || capacity > BX_STUNMUX_ROUTES_MAX || port_min == 0 ||
	    port_min > port_max) {
		err = EINVAL;
		goto fail;
	}
	if (sodium_init() < 0) {
		err = EIO;
		goto fail;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		err = ENOMEM;
		goto fail;
	}
	n_buckets = rte_align32pow2(capacity);
	r->routes = calloc(capacity, sizeof(*r->routes));
	r->buckets = malloc(n_buckets * sizeof(*r->buckets));
	if (r->routes == NULL || r->buckets == NULL) {
		err = ENOMEM;
		goto fail;
	}
	memset(r->buckets, 0xff, n_buckets * sizeof(*r->buckets));
	r->mask = n_buckets - 1;
	r->cap = capacity;
	r->port_min = port_min;
	r->port_max = port_max;
	randombytes_buf(r->hash_key, sizeof(r->hash_key));
	return r;

fail:
	bx_stunmux_routes_free(r);
	errno = err;
	return NULL;
}

void
bx_stunmux_routes_free(struct bx_stunmux_routes *r)
{
	uint32_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->count; i++)
		free(r->routes[i].ufrag);
	free(r->routes);
	free(r->buckets);
	free(r);
}

/* The port of the agent whose ufrag is @ufrag (@len bytes), or NIL. */
static uint32_t
routes_lookup(const struct bx_stunmux_routes *r, const void *ufrag, size_t len)
{
	uint64_t h = hash_bytes(r->hash_key, ufrag, len);
	const struct route *e;
	uint32_t i;

	for (i = r->buckets[h & r->mask]; i != NIL; i = e->chain) {
		e = &r->routes[i];
		if (e->hash == h && e->len == len &&
		    memcmp(e->ufrag, ufrag, len) == 0)
			return e->port;
	}
	return NIL;
}

int
bx_stunmux_routes_add(struct bx_stunmux_routes *r, const char *ufrag,
		      uint16_t port)
{
	struct route *e;
	size_t len, i;
	char *copy;
	uint64_t h;

	if (r == NULL || ufrag == NULL || port < r->port_min ||
	    port > r->port_max)
		return -EINVAL;
	len = strnlen(ufrag, BX_STUNMUX_UFRAG_MAX + 1);
	if (len < BX_STUNMUX_UFRAG_MIN || len > BX_STUNMUX_UFRAG_MAX)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (!is_ice_char(ufrag[i]))
			return -EINVAL;
	if (routes_lookup(r, ufrag, len) != NIL)
		return -EEXIST;
	if (r->count == r->cap)
		return -ENOSPC;
	copy = malloc(len);
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, ufrag, len);

	h = hash_bytes(r->hash_key, ufrag, len);
	e = &r->routes[r->count];
	e->hash = h;
	e->ufrag = copy;
	e->len = (uint16_t)len;
	e->port = port;
	e->chain = r->buckets[h & r->mask];
	r->buckets[h & r->mask] = r->count;
	r->count++;
	return 0;
}

/* ---- STUN ---------------------------------------------------------------- */

enum stun_shape {
	STUN_NOT,     /* does not claim to be STUN */
	STUN_OK,
	STUN_BAD,     /* claims to be STUN (top bits, cookie) but is broken */
};

struct stun_view {
	uint16_t cls;              /* STUN_CLASS_* */
	const uint8_t *txid;
	const uint8_t *username;   /* the first USERNAME, or NULL */
	uint16_t username_len;
};

static uint16_t
load_be16(const uint8_t *p)
{
	rte_be16_t v;

	memcpy(&v, p, sizeof(v));
	return rte_be_to_cpu_16(v);
}

static uint32_t
load_be32(const uint8_t *p)
{
	rte_be32_t v;

	memcpy(&v, p, sizeof(v));
	return rte_be_to_cpu_32(v);
}

static enum stun_shape
stun_parse(const uint8_t *p, size_t len, struct stun_view *v)
{
	size_t off, end, alen, step;
	uint16_t type, atype;

	if (len < STUN_CLAIM_LEN || (p[0] & STUN_TOP_BITS) != 0 ||
	    load_be32(p + STUN_OFF_MAGIC) != BX_STUNMUX_STUN_MAGIC)
		return STUN_NOT;
	if (len < BX_STUNMUX_STUN_HDR_LEN)
		return STUN_BAD;
	/* Over UDP one datagram is one message: its length must match. */
	end = BX_STUNMUX_STUN_HDR_LEN + load_be16(p + STUN_OFF_LEN);
	if (end != len || (end % BX_STUNMUX_ATTR_ALIGN) != 0)
		return STUN_BAD;

	type = load_be16(p);
	v->cls = type & STUN_CLASS_MASK;
	v->txid = p + STUN_OFF_TXID;
	v->username = NULL;
	v->username_len = 0;
	/* Every attribute must fit, padding included. Offsets and the end are
	 * multiples of 4, so an attribute header always fits and the walk
	 * lands on the end exactly. */
	for (off = BX_STUNMUX_STUN_HDR_LEN; off < end; off += step) {
		atype = load_be16(p + off);
		alen = load_be16(p + off + 2);
		step = BX_STUNMUX_ATTR_HDR_LEN +
		       RTE_ALIGN_CEIL(alen, BX_STUNMUX_ATTR_ALIGN);
		if (step > end - off)
			return STUN_BAD;
		if (atype == BX_STUNMUX_ATTR_USERNAME && v->username == NULL) {
			if (alen > BX_STUNMUX_USERNAME_MAX)
				return STUN_BAD;
			v->username = p + off + BX_STUNMUX_ATTR_HDR_LEN;
			v->username_len = (uint16_t)alen;
		}
	}
	return STUN_OK;
}

bool
bx_stunmux_is_stun(const void *payload, size_t len)
{
	struct stun_view v;

	return stun_parse(payload, len, &v) == STUN_OK;
}

/* ---- IPv4 / UDP ---------------------------------------------------------- */

struct bx_stunmux {
	struct bx_stunmux_conf conf;
	struct bx_stunmux_stats stats;
	struct age_map txns;    /* transaction id -> agent port */
	struct age_map remotes; /* remote address and port -> agent port */
};

enum locate {
	NOT_OURS,
	OURS,
	OURS_BROKEN, /* addressed to the translator, but not a sound datagram */
	AGENT_DIRECT, /* from the wire straight to an agent's private port */
};

struct udp_view {
	uint8_t *udp;
	const uint8_t *payload;
	size_t payload_len;
	rte_be32_t remote_ip; /* the other end: source in, destination out */
	rte_be16_t remote_port;
	uint16_t agent_port;  /* out only: the source port, host order */
};

/*
 * Finds the UDP datagram in @pkt and says whether it is the translator's:
 * inbound, to local_ip:mesh_port; outbound, from local_ip and an agent
 * port. Only addresses and ports are read before that is decided, so what is
 * not ours passes however broken it is: it is the kernel's or the peer's
 * to judge.
 */
static enum locate
udp_locate(const struct bx_stunmux *m, uint8_t *pkt, size_t len, bool inbound,
	   struct udp_view *u)
{
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)pkt;
	const struct rte_udp_hdr *udp;
	size_t ihl, total, udp_len;
	uint16_t frag, sport, dport;
	bool ours;

	if (len < BX_WIRE_IPV4_LEN ||
	    (ip->version_ihl >> IPV4_VERSION_SHIFT) != IPV4_VERSION ||
	    ip->next_proto_id != IPPROTO_UDP ||
	    (inbound ? ip->dst_addr : ip->src_addr) != m->conf.local_ip)
		return NOT_OURS;
	/* A later fragment carries no ports; it cannot be reassembled without
	 * the first, which is judged here. */
	frag = rte_be_to_cpu_16(ip->fragment_offset);
	if ((frag & RTE_IPV4_HDR_OFFSET_MASK) != 0)
		return NOT_OURS;
	ihl = rte_ipv4_hdr_len(ip);
	total = rte_be_to_cpu_16(ip->total_length);
	if (ihl < BX_WIRE_IPV4_LEN || ihl + UDP_PORTS_LEN > len ||
	    ihl + UDP_PORTS_LEN > total)
		return NOT_OURS;

	udp = (const struct rte_udp_hdr *)(pkt + ihl);
	sport = rte_be_to_cpu_16(udp->src_port);
	dport = rte_be_to_cpu_16(udp->dst_port);
	/* The agents' ports exist on the wire only as the mesh port: one
	 * sent to directly could reach an agent past the translator. */
	if (inbound && dport >= m->conf.agent_port_min &&
	    dport <= m->conf.agent_port_max)
		return AGENT_DIRECT;
	if (inbound)
		ours = dport == m->conf.mesh_port;
	else
		ours = sport >= m->conf.agent_port_min &&
		       sport <= m->conf.agent_port_max;
	if (!ours)
		return NOT_OURS;

	if (total > len || (frag & RTE_IPV4_HDR_MF_FLAG) != 0 ||
	    total - ihl < BX_WIRE_UDP_LEN)
		return OURS_BROKEN;
	udp_len = rte_be_to_cpu_16(udp->dgram_len);
	if (udp_len < BX_WIRE_UDP_LEN || udp_len > total - ihl)
		return OURS_BROKEN;

	u->udp = pkt + ihl;
	u->payload = pkt + ihl + BX_WIRE_UDP_LEN;
	u->payload_len = udp_len - BX_WIRE_UDP_LEN;
	u->remote_ip = inbound ? ip->src_addr : ip->dst_addr;
	u->remote_port = inbound ? udp->src_port : udp->dst_port;
	u->agent_port = sport;
	return OURS;
}

/*
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). A ones' complement sum does not
 * depend on byte order, so the network-order words go in as they are.
 */
static rte_be16_t
csum_replace(rte_be16_t hc, rte_be16_t old, rte_be16_t new)
{
	uint32_t sum = (uint32_t)(uint16_t)~hc + (uint16_t)~old + new;

	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	/* A computed 0 goes out as 0xffff: 0 means "no checksum" (RFC 768). */
	return sum == 0xffffu ? 0xffffu : (rte_be16_t)~sum;
}

/* Rewrites the port at @port_off in the UDP header @udp to @port. */
static void
udp_set_port(uint8_t *udp, size_t port_off, uint16_t port)
{
	rte_be16_t old, new = rte_cpu_to_be_16(port), csum;
	const size_t csum_off = offsetof(struct rte_udp_hdr, dgram_cksum);

	memcpy(&old, udp + port_off, sizeof(old));
	memcpy(udp + port_off, &new, sizeof(new));
	memcpy(&csum, udp + csum_off, sizeof(csum));
	/* The sender computed no checksum, and none is owed. */
	if (csum == 0)
		return;
	csum = csum_replace(csum, old, new);
	memcpy(udp + csum_off, &csum, sizeof(csum));
}

static void
remote_key(uint8_t key[KEY_LEN], rte_be32_t ip, rte_be16_t port)
{
	memset(key, 0, KEY_LEN);
	memcpy(key, &ip, sizeof(ip));
	memcpy(key + sizeof(ip), &port, sizeof(port));
}

/* ---- translator ---------------------------------------------------------- */

static bool
conf_valid(const struct bx_stunmux_conf *c)
{
	return c->local_ip != 0 && c->mesh_port != 0 && c->agent_port_min != 0 &&
	       c->agent_port_min <= c->agent_port_max &&
	       (c->mesh_port < c->agent_port_min ||
		c->mesh_port > c->agent_port_max) &&
	       c->max_transactions <= BX_STUNMUX_TABLE_MAX &&
	       c->max_remotes <= BX_STUNMUX_TABLE_MAX;
}

struct bx_stunmux *
bx_stunmux_create(const struct bx_stunmux_conf *c)
{
	struct bx_stunmux *m = NULL;
	struct bx_stunmux_conf conf;
	int err;

	if (c == NULL || !conf_valid(c)) {
		err = EINVAL;
		goto fail;
	}
	if (sodium_init() < 0) {
		err = EIO;
		goto fail;
	}
	conf = *c;
	if (conf.max_transactions == 0)
		conf.max_transactions = BX_STUNMUX_DEFAULT_MAX_TRANSACTIONS;
	if (conf.transaction_ttl_ms == 0)
		conf.transaction_ttl_ms = BX_STUNMUX_DEFAULT_TRANSACTION_TTL_MS;
	if (conf.max_remotes == 0)
		conf.max_remotes = BX_STUNMUX_DEFAULT_MAX_REMOTES;
	if (conf.remote_ttl_ms == 0)
		conf.remote_ttl_ms = BX_STUNMUX_DEFAULT_REMOTE_TTL_MS;

	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		err = ENOMEM;
		goto fail;
	}
	m->conf = conf;
	if (age_map_init(&m->txns, conf.max_transactions, conf.transaction_ttl_ms,
			 &m->stats.txn_evicted, &m->stats.txn_expired) < 0 ||
	    age_map_init(&m->remotes, conf.max_remotes, conf.remote_ttl_ms,
			 &m->stats.remote_evicted, &m->stats.remote_expired) < 0) {
		err = ENOMEM;
		goto fail;
	}
	return m;

fail:
	bx_stunmux_free(m);
	errno = err;
	return NULL;
}

void
bx_stunmux_free(struct bx_stunmux *m)
{
	if (m == NULL)
		return;
	age_map_fini(&m->txns);
	age_map_fini(&m->remotes);
	free(m);
}

const struct bx_stunmux_stats *
bx_stunmux_stats(const struct bx_stunmux *m)
{
	return &m->stats;
}

/*
 * Which agent an inbound datagram is for: sets *@port and *@via (the
 * counter of the way it was found) and returns BX_DROP_NONE, or the drop
 * reason.
 */
static enum bx_drop_reason
route_in(struct bx_stunmux *m, const struct bx_stunmux_routes *r,
	 const struct udp_view *u, uint64_t now_ms, uint16_t *port,
	 uint64_t **via)
{
	uint8_t key[KEY_LEN];
	struct stun_view s;
	const uint8_t *colon;
	enum stun_shape shape;
	size_t ufrag_len;
	uint32_t found, i;

	shape = stun_parse(u->payload, u->payload_len, &s);
	if (shape == STUN_BAD)
		return BX_DROP_STUN_MALFORMED;

	if (shape == STUN_OK &&
	    (s.cls == STUN_CLASS_SUCCESS || s.cls == STUN_CLASS_ERROR)) {
		/* A response answers one request: a copy finds nothing. */
		memcpy(key, s.txid, KEY_LEN);
		i = age_map_find(&m->txns, key, now_ms);
		if (i == NIL)
			return BX_DROP_STUN_UNROUTED;
		*port = m->txns.slots[i].port;
		age_map_remove(&m->txns, i);
		*via = &m->stats.in_by_txn;
		return BX_DROP_NONE;
	}

	if (shape == STUN_OK && s.username != NULL) {
		colon = memchr(s.username, ':', s.username_len);
		if (colon == NULL)
			return BX_DROP_STUN_MALFORMED;
		ufrag_len = (size_t)(colon - s.username);
		if (ufrag_len < BX_STUNMUX_UFRAG_MIN ||
		    ufrag_len > BX_STUNMUX_UFRAG_MAX)
			return BX_DROP_STUN_MALFORMED;
		found = r != NULL ? routes_lookup(r, s.username, ufrag_len)
				  : NIL;
		if (found == NIL)
			return BX_DROP_STUN_UNROUTED;
		*port = (uint16_t)found;
		*via = &m->stats.in_by_ufrag;
		return BX_DROP_NONE;
	}

	remote_key(key, u->remote_ip, u->remote_port);
	i = age_map_find(&m->remotes, key, now_ms);
	if (i == NIL)
		return BX_DROP_STUN_UNROUTED;
	*port = m->remotes.slots[i].port;
	*via = &m->stats.in_by_remote;
	return BX_DROP_NONE;
}

enum bx_stunmux_verdict
bx_stunmux_in(struct bx_stunmux *m, const struct bx_stunmux_routes *r,
	      void *ip, size_t len, uint64_t now_ms,
	      enum bx_drop_reason *reason)
{
	struct udp_view u;
	enum bx_drop_reason why;
	uint64_t *via = NULL;
	uint16_t port = 0;

	switch (udp_locate(m, ip, len, true, &u)) {
	case NOT_OURS:
		return BX_STUNMUX_PASS;
	case OURS_BROKEN:
		why = BX_DROP_STUN_MALFORMED;
		goto drop;
	case AGENT_DIRECT:
		why = BX_DROP_STUN_UNROUTED;
		goto drop;
	case OURS:
		break;
	}
	if (u.payload_len > 0 && bx_wire_is_mesh(u.payload[0]))
		return BX_STUNMUX_PASS;

	why = route_in(m, r, &u, now_ms, &port, &via);
	if (why != BX_DROP_NONE)
		goto drop;
	udp_set_port(u.udp, offsetof(struct rte_udp_hdr, dst_port), port);
	(*via)++;
	m->stats.in_translated++;
	return BX_STUNMUX_TRANSLATED;

drop:
	*reason = why;
	return BX_STUNMUX_DROP;
}

enum bx_stunmux_verdict
bx_stunmux_out(struct bx_stunmux *m, void *ip, size_t len, uint64_t now_ms,
	       enum bx_drop_reason *reason)
{
	uint8_t key[KEY_LEN];
	struct udp_view u;
	struct stun_view s;

	switch (udp_locate(m, ip, len, false, &u)) {
	case NOT_OURS:
	case AGENT_DIRECT: /* inbound only */
		return BX_STUNMUX_PASS;
	case OURS_BROKEN:
		*reason = BX_DROP_STUN_MALFORMED;
		return BX_STUNMUX_DROP;
	case OURS:
		break;
	}
	udp_set_port(u.udp, offsetof(struct rte_udp_hdr, src_port),
		     m->conf.mesh_port);
	m->stats.out_translated++;

	remote_key(key, u.remote_ip, u.remote_port);
	age_map_put(&m->remotes, key, u.agent_port, now_ms);
	if (stun_parse(u.payload, u.payload_len, &s) == STUN_OK &&
	    s.cls == STUN_CLASS_REQUEST) {
		memcpy(key, s.txid, KEY_LEN);
		age_map_put(&m->txns, key, u.agent_port, now_ms);
		m->stats.txn_recorded++;
	}
	return BX_STUNMUX_TRANSLATED;
}
