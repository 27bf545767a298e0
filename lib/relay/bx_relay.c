/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Relay messages, credentials, registry and forwarding table (bx_relay.h
 * has the protocol). Parsers see bytes straight from the wire: each length
 * is checked before the bytes it covers are read, and multi-byte fields go
 * through memcpy, so any alignment is fine.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bx_common.h"
#include "bx_relay.h"

/* First header byte of every relay message. */
#define RELAY_FIRST_BYTE                                                      \
	((uint8_t)(BX_WIRE_TAG | (BX_WIRE_VERSION << BX_WIRE_VERSION_SHIFT) | \
		   BX_WIRE_RELAY))
#define HANDLE_HASH_LEN 32u
#define COUNTER_OFF offsetof(struct bx_wire_hdr, counter)
/* Open-addressing tables are at least twice the entries they hold. */
#define SLOT_FACTOR 2u
#define TABLE_MIN_SLOTS 16u
/* Fibonacci hashing of an address: 2^64 / golden ratio. */
#define ADDR_HASH_MUL UINT64_C(0x9e3779b97f4a7c15)

_Static_assert(crypto_generichash_BYTES_MIN <= BX_RELAY_MAC_LEN,
	       "BLAKE2b gives a 16-byte MAC");
_Static_assert(crypto_generichash_KEYBYTES_MAX >= BX_RELAY_SECRET_LEN,
	       "the secret is a BLAKE2b key");
_Static_assert(BX_RELAY_ID_MAX <= UINT8_MAX, "id length is one byte");

/* One node the relay knows, in the registry's open-addressing table. */
struct reg_entry {
	uint64_t handle;       /* 0: free slot */
	uint64_t last_seq;
	uint64_t cred_expiry_s;
	uint64_t lease_end_s;
	uint64_t addr_gen;     /* when the address was set: newest owns it */
	rte_be32_t ip;
	rte_be16_t port;
	uint64_t hop;          /* the caller's next hop towards it */
	bool leased;           /* false: only its last seq is remembered */
	uint8_t id_len;
	char id[BX_RELAY_ID_MAX + 1];
};

struct bx_relay_registry {
	uint32_t max_nodes;
	uint32_t n_entries; /* leased and remembered */
	uint32_t n_leased;
	uint64_t mask;
	uint64_t addr_gen;
	struct reg_entry *slots;
};

/* One reachable node; both tables of bx_relay_table hold these. */
struct relay_slot {
	uint64_t handle; /* 0: free slot */
	rte_be32_t ip;
	rte_be16_t port;
	uint16_t pad;
};

_Static_assert(sizeof(struct relay_slot) == 16, "four slots a cache line");

struct bx_relay_table {
	uint64_t mask;
	unsigned int addr_shift; /* 64 - log2(slots) */
	uint32_t n;
	struct relay_slot *by_handle;
	struct relay_slot *by_addr;
	uint64_t *hop;             /* next hop of by_handle[i] */
	struct relay_slot slots[]; /* by_handle, then by_addr, then hop */
};

/* ---- Bytes ------------------------------------------------------------ */

static uint64_t
get_be64(const uint8_t *p)
{
	rte_be64_t v;

	memcpy(&v, p, sizeof(v));
	return rte_be_to_cpu_64(v);
}

static void
put_be64(uint8_t *p, uint64_t x)
{
	rte_be64_t v = rte_cpu_to_be_64(x);

	memcpy(p, &v, sizeof(v));
}

static uint32_t
get_be32(const uint8_t *p)
{
	rte_be32_t v;

	memcpy(&v, p, sizeof(v));
	return rte_be_to_cpu_32(v);
}

static void
put_be32(uint8_t *p, uint32_t x)
{
	rte_be32_t v = rte_cpu_to_be_32(x);

	memcpy(p, &v, sizeof(v));
}

static void
hdr_write(uint8_t *p, enum bx_relay_op op, uint64_t counter)
{
	struct bx_wire_info in = {
		.type = BX_WIRE_RELAY,
		.path_id = (uint8_t)op,
		.counter = counter,
	};

	bx_wire_encode(p, &in);
}

/* True if @p (BX_WIRE_HDR_LEN readable bytes) is a relay header for @op. */
static bool
hdr_is(const uint8_t *p, enum bx_relay_op op)
{
	struct bx_wire_hdr h;

	memcpy(&h, p, sizeof(h));
	return h.tag_ver_type == RELAY_FIRST_BYTE && h.flags == 0 &&
	       h.lane == 0 && h.path_id == (uint8_t)op && h.rx_index == 0;
}

/* A datagram a relay may carry: a valid mesh datagram, not itself relayed
 * (a relay never sends to a relay, so no loops). */
static bool
inner_ok(const uint8_t *p, size_t len)
{
	struct bx_wire_info info;

	return bx_wire_decode(p, len, &info) == BX_DROP_NONE &&
	       info.type != BX_WIRE_RELAY;
}

/* ---- Ids, keys, handles ----------------------------------------------- */

static bool
id_bytes_valid(const uint8_t *id, size_t len)
{
	size_t i;

	if (len == 0 || len > BX_RELAY_ID_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (id[i] <= ' ' || id[i] > '~')
			return false;
	return true;
}

bool
bx_relay_id_valid(const char *id)
{
	return id_bytes_valid((const uint8_t *)id, strnlen(id, BX_RELAY_ID_MAX + 1));
}

static void
node_key(const uint8_t secret[BX_RELAY_SECRET_LEN], const uint8_t *id,
	 size_t id_len, uint64_t expiry, uint8_t key[BX_RELAY_KEY_LEN])
{
	crypto_generichash_state s;
	uint8_t be_expiry[BX_RELAY_EXPIRY_LEN];
	uint8_t n = (uint8_t)id_len;

	put_be64(be_expiry, expiry);
	crypto_generichash_init(&s, secret, BX_RELAY_SECRET_LEN, BX_RELAY_KEY_LEN);
	crypto_generichash_update(&s, (const uint8_t *)BX_RELAY_KEY_LABEL,
				  sizeof(BX_RELAY_KEY_LABEL) - 1);
	crypto_generichash_update(&s, be_expiry, sizeof(be_expiry));
	crypto_generichash_update(&s, &n, sizeof(n));
	crypto_generichash_update(&s, id, id_len);
	crypto_generichash_final(&s, key, BX_RELAY_KEY_LEN);
	sodium_memzero(&s, sizeof(s));
}

int
bx_relay_node_key(const uint8_t secret[BX_RELAY_SECRET_LEN], const char *id,
		  uint64_t expiry_unix_s, uint8_t key[BX_RELAY_KEY_LEN])
{
	if (!bx_relay_id_valid(id))
		return -EINVAL;
	node_key(secret, (const uint8_t *)id, strlen(id), expiry_unix_s, key);
	return 0;
}

static uint64_t
handle_of(const uint8_t *id, size_t id_len)
{
	crypto_generichash_state s;
	uint8_t h[HANDLE_HASH_LEN];
	uint64_t v;

	crypto_generichash_init(&s, NULL, 0, sizeof(h));
	crypto_generichash_update(&s, (const uint8_t *)BX_RELAY_HANDLE_LABEL,
				  sizeof(BX_RELAY_HANDLE_LABEL) - 1);
	crypto_generichash_update(&s, id, id_len);
	crypto_generichash_final(&s, h, sizeof(h));
	v = get_be64(h);
	return v != 0 ? v : 1;
}

uint64_t
bx_relay_handle(const char *id)
{
	if (!bx_relay_id_valid(id))
		return 0;
	return handle_of((const uint8_t *)id, strlen(id));
}

static void
mac(uint8_t out[BX_RELAY_MAC_LEN], const uint8_t *msg, size_t len,
    const uint8_t key[BX_RELAY_KEY_LEN])
{
	crypto_generichash(out, BX_RELAY_MAC_LEN, msg, len, key, BX_RELAY_KEY_LEN);
}

static bool
mac_ok(const uint8_t *msg, size_t len, const uint8_t key[BX_RELAY_KEY_LEN])
{
	uint8_t want[BX_RELAY_MAC_LEN];

	mac(want, msg, len, key);
	return sodium_memcmp(want, msg + len, BX_RELAY_MAC_LEN) == 0;
}

enum bx_relay_op
bx_relay_msg_op(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	unsigned int op;

	if (len < BX_WIRE_HDR_LEN)
		return BX_RELAY_OP_NONE;
	op = p[offsetof(struct bx_wire_hdr, path_id)];
	if (op < BX_RELAY_OP_REGISTER || op > BX_RELAY_OP_MAX ||
	    !hdr_is(p, (enum bx_relay_op)op))
		return BX_RELAY_OP_NONE;
	return (enum bx_relay_op)op;
}

/* ---- Node side -------------------------------------------------------- */

int
bx_relay_register_encode(void *buf, size_t cap, const char *id, uint64_t expiry,
			 const uint8_t key[BX_RELAY_KEY_LEN], uint64_t seq)
{
	uint8_t *p = buf;
	size_t n, len;

	if (!bx_relay_id_valid(id))
		return -EINVAL;
	n = strlen(id);
	len = BX_RELAY_REGISTER_LEN(n);
	if (cap < len)
		return -ENOSPC;

	hdr_write(p, BX_RELAY_OP_REGISTER, seq);
	p[BX_RELAY_REG_OFF_ID_LEN] = (uint8_t)n;
	memcpy(p + BX_RELAY_REG_OFF_ID, id, n);
	put_be64(p + BX_RELAY_REG_OFF_ID + n, expiry);
	mac(p + len - BX_RELAY_MAC_LEN, p, len - BX_RELAY_MAC_LEN, key);
	return (int)len;
}

enum bx_drop_reason
bx_relay_registered_check(const void *buf, size_t len,
			  const uint8_t key[BX_RELAY_KEY_LEN], uint64_t expect_seq,
			  uint32_t *lease_s)
{
	const uint8_t *p = buf;

	if (len != BX_RELAY_REGISTERED_LEN || !hdr_is(p, BX_RELAY_OP_REGISTERED))
		return BX_DROP_RELAY_MALFORMED;
	if (get_be64(p + COUNTER_OFF) != expect_seq)
		return BX_DROP_RELAY_REPLAYED;
	if (!mac_ok(p, BX_RELAY_REGD_OFF_MAC, key))
		return BX_DROP_RELAY_BAD_CREDENTIAL;
	*lease_s = get_be32(p + BX_RELAY_REGD_OFF_LEASE);
	return BX_DROP_NONE;
}

enum bx_drop_reason
bx_relay_refused_check(const void *buf, size_t len, uint64_t expect_seq,
		       enum bx_drop_reason *why)
{
	const uint8_t *p = buf;
	uint8_t r;

	if (len != BX_RELAY_REFUSED_LEN || !hdr_is(p, BX_RELAY_OP_REFUSED))
		return BX_DROP_RELAY_MALFORMED;
	r = p[BX_RELAY_REFUSED_OFF_REASON];
	if (r == BX_DROP_NONE || r >= BX_DROP__COUNT)
		return BX_DROP_RELAY_MALFORMED;
	if (get_be64(p + COUNTER_OFF) != expect_seq)
		return BX_DROP_RELAY_REPLAYED;
	*why = (enum bx_drop_reason)r;
	return BX_DROP_NONE;
}

void
bx_relay_forward_hdr(void *hdr, uint64_t dest_handle)
{
	hdr_write(hdr, BX_RELAY_OP_FORWARD, dest_handle);
}

enum bx_drop_reason
bx_relay_unwrap(const void *payload, size_t len, uint64_t *from_handle,
		size_t *inner_off)
{
	const uint8_t *p = payload;
	uint64_t from;

	if (len < BX_RELAY_FORWARD_MIN || !hdr_is(p, BX_RELAY_OP_FORWARD) ||
	    !inner_ok(p + BX_RELAY_FORWARD_OFF_INNER,
		      len - BX_RELAY_FORWARD_OFF_INNER))
		return BX_DROP_RELAY_MALFORMED;
	from = get_be64(p + COUNTER_OFF);
	if (from == 0)
		return BX_DROP_RELAY_MALFORMED;
	*from_handle = from;
	*inner_off = BX_RELAY_FORWARD_OFF_INNER;
	return BX_DROP_NONE;
}

/* ---- Relay side: messages --------------------------------------------- */

enum bx_drop_reason
bx_relay_register_verify(const uint8_t secret[BX_RELAY_SECRET_LEN],
			 const void *buf, size_t len, uint64_t now_unix_s,
			 struct bx_relay_reg *out)
{
	const uint8_t *p = buf;
	uint8_t key[BX_RELAY_KEY_LEN];
	const uint8_t *id;
	size_t n, mac_off;
	uint64_t expiry;
	bool good;

	if (len < BX_RELAY_REGISTER_MIN || !hdr_is(p, BX_RELAY_OP_REGISTER))
		return BX_DROP_RELAY_MALFORMED;
	n = p[BX_RELAY_REG_OFF_ID_LEN];
	id = p + BX_RELAY_REG_OFF_ID;
	if (len != BX_RELAY_REGISTER_LEN(n) || !id_bytes_valid(id, n))
		return BX_DROP_RELAY_MALFORMED;
	expiry = get_be64(id + n);
	if (expiry <= now_unix_s)
		return BX_DROP_RELAY_EXPIRED;

	mac_off = len - BX_RELAY_MAC_LEN;
	node_key(secret, id, n, expiry, key);
	good = mac_ok(p, mac_off, key);
	sodium_memzero(key, sizeof(key));
	if (!good)
		return BX_DROP_RELAY_BAD_CREDENTIAL;

	memcpy(out->id, id, n);
	out->id[n] = '\0';
	out->expiry_s = expiry;
	out->seq = get_be64(p + COUNTER_OFF);
	out->handle = handle_of(id, n);
	return BX_DROP_NONE;
}

uint32_t
bx_relay_lease_grant(const struct bx_relay_reg *r, uint64_t now_s,
		     uint32_t lease_s)
{
	if (r->expiry_s <= now_s)
		return 0;
	if (r->expiry_s - now_s < lease_s)
		return (uint32_t)(r->expiry_s - now_s);
	return lease_s;
}

int
bx_relay_registered_encode(void *buf, size_t cap,
			   const uint8_t secret[BX_RELAY_SECRET_LEN],
			   const struct bx_relay_reg *r, uint32_t lease_s)
{
	uint8_t *p = buf;
	uint8_t key[BX_RELAY_KEY_LEN];

	if (bx_relay_node_key(secret, r->id, r->expiry_s, key) != 0)
		return -EINVAL;
	if (cap < BX_RELAY_REGISTERED_LEN) {
		sodium_memzero(key, sizeof(key));
		return -ENOSPC;
	}
	hdr_write(p, BX_RELAY_OP_REGISTERED, r->seq);
	put_be32(p + BX_RELAY_REGD_OFF_LEASE, lease_s);
	mac(p + BX_RELAY_REGD_OFF_MAC, p, BX_RELAY_REGD_OFF_MAC, key);
	sodium_memzero(key, sizeof(key));
	return (int)BX_RELAY_REGISTERED_LEN;
}

int
bx_relay_refused_encode(void *buf, size_t cap, uint64_t seq,
			enum bx_drop_reason why)
{
	uint8_t *p = buf;

	if (why == BX_DROP_NONE || (unsigned int)why >= BX_DROP__COUNT)
		return -EINVAL;
	if (cap < BX_RELAY_REFUSED_LEN)
		return -ENOSPC;
	hdr_write(p, BX_RELAY_OP_REFUSED, seq);
	p[BX_RELAY_REFUSED_OFF_REASON] = (uint8_t)why;
	return (int)BX_RELAY_REFUSED_LEN;
}

/* ---- Relay side: registry --------------------------------------------- */

/* Smallest power of two >= @n (n <= 2^32). */
static uint64_t
pow2_at_least(uint64_t n)
{
	uint64_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

struct bx_relay_registry *
bx_relay_registry_create(uint32_t max_nodes)
{
	struct bx_relay_registry *reg = NULL;
	uint64_t n_slots;
	int err;

	if (max_nodes == 0 || max_nodes > BX_RELAY_MAX_NODES) {
		err = EINVAL;
		goto fail;
	}
	if (sodium_init() < 0) {
		err = EIO;
		goto fail;
	}
	reg = calloc(1, sizeof(*reg));
	if (reg == NULL) {
		err = ENOMEM;
		goto fail;
	}
	n_slots = pow2_at_least((uint64_t)max_nodes * SLOT_FACTOR);
	reg->slots = calloc(n_slots, sizeof(*reg->slots));
	if (reg->slots == NULL) {
		err = ENOMEM;
		goto fail;
	}
	reg->mask = n_slots - 1;
	reg->max_nodes = max_nodes;
	return reg;

fail:
	bx_relay_registry_free(reg);
	errno = err;
	return NULL;
}

void
bx_relay_registry_free(struct bx_relay_registry *reg)
{
	if (reg == NULL)
		return;
	free(reg->slots);
	free(reg);
}

/* Handles are BLAKE2b output: their low bits are a good slot index. */
static struct reg_entry *
reg_find(const struct bx_relay_registry *reg, uint64_t handle)
{
	uint64_t i;

	for (i = handle & reg->mask; reg->slots[i].handle != 0;
	     i = (i + 1) & reg->mask)
		if (reg->slots[i].handle == handle)
			return &reg->slots[i];
	return NULL;
}

static struct reg_entry *
reg_free_slot(const struct bx_relay_registry *reg, uint64_t handle)
{
	uint64_t i;

	for (i = handle & reg->mask; reg->slots[i].handle != 0;
	     i = (i + 1) & reg->mask)
		;
	return &reg->slots[i];
}

/*
 * Empties slot @i without tombstones (linear probing's backward shift):
 * each later entry of the probe run moves into the hole unless its home
 * slot lies cyclically after the hole, so every entry stays reachable from
 * its home slot.
 */
static void
reg_remove(struct bx_relay_registry *reg, uint64_t i)
{
	uint64_t j = i, home;

	if (reg->slots[i].leased)
		reg->n_leased--;
	reg->n_entries--;
	for (;;) {
		j = (j + 1) & reg->mask;
		if (reg->slots[j].handle == 0)
			break;
		home = reg->slots[j].handle & reg->mask;
		/* Stays if home is in (i, j] cyclically. */
		if (((j - home) & reg->mask) < ((j - i) & reg->mask))
			continue;
		reg->slots[i] = reg->slots[j];
		i = j;
	}
	memset(&reg->slots[i], 0, sizeof(reg->slots[i]));
}

/* The remembered (lease ended) node whose credential expires first: the
 * one whose replay protection matters for the shortest time. */
static bool
reg_oldest_remembered(const struct bx_relay_registry *reg, uint64_t *slot)
{
	const struct reg_entry *e;
	bool found = false;
	uint64_t i, best = 0;

	if (reg->n_entries == reg->n_leased)
		return false;
	for (i = 0; i <= reg->mask; i++) {
		e = &reg->slots[i];
		if (e->handle == 0 || e->leased)
			continue;
		if (!found || e->cred_expiry_s < reg->slots[best].cred_expiry_s)
			best = i;
		found = true;
	}
	*slot = best;
	return found;
}

int
bx_relay_registry_accept(struct bx_relay_registry *reg,
			 const struct bx_relay_reg *r, rte_be32_t ip,
			 rte_be16_t port, uint64_t now_s, uint32_t lease_s,
			 uint64_t hop)
{
	uint32_t grant = bx_relay_lease_grant(r, now_s, lease_s);
	struct reg_entry *e;
	size_t n = strnlen(r->id, sizeof(r->id));
	uint64_t victim;
	bool changed;

	if (grant == 0 || !id_bytes_valid((const uint8_t *)r->id, n) ||
	    r->handle != handle_of((const uint8_t *)r->id, n))
		return -EINVAL;

	e = reg_find(reg, r->handle);
	if (e != NULL) {
		if (e->id_len != n || memcmp(e->id, r->id, n) != 0)
			return -EEXIST;
		if (r->seq <= e->last_seq)
			return -EALREADY;
		changed = !e->leased || e->ip != ip || e->port != port ||
			  e->hop != hop;
	} else {
		if (reg->n_entries == reg->max_nodes) {
			if (!reg_oldest_remembered(reg, &victim))
				return -ENOSPC;
			reg_remove(reg, victim);
		}
		e = reg_free_slot(reg, r->handle);
		e->handle = r->handle;
		e->id_len = (uint8_t)n;
		memcpy(e->id, r->id, n + 1);
		reg->n_entries++;
		changed = true;
	}

	e->last_seq = r->seq;
	e->cred_expiry_s = r->expiry_s;
	e->lease_end_s = now_s + grant;
	if (changed) {
		if (!e->leased)
			reg->n_leased++;
		e->leased = true;
		e->ip = ip;
		e->port = port;
		e->hop = hop;
		e->addr_gen = ++reg->addr_gen;
	}
	return changed ? 1 : 0;
}

enum bx_drop_reason
bx_relay_accept_reason(int rc)
{
	switch (rc) {
	case -EALREADY:
		return BX_DROP_RELAY_REPLAYED;
	case -ENOSPC:
	/* No reason of its own: as for a full relay, the node must use another
	 * relay (two ids sharing a 64-bit handle is a ~2^-40 event at 10k). */
	case -EEXIST:
		return BX_DROP_RELAY_FULL;
	default:
		return rc < 0 ? BX_DROP_RELAY_MALFORMED : BX_DROP_NONE;
	}
}

bool
bx_relay_registry_expire(struct bx_relay_registry *reg, uint64_t now_s)
{
	struct reg_entry *e;
	bool changed = false;
	uint64_t i = 0;

	/* A removal may shift a later entry into slot i: look at i again. */
	while (i <= reg->mask) {
		e = &reg->slots[i];
		if (e->handle != 0 && e->cred_expiry_s <= now_s) {
			changed |= e->leased;
			reg_remove(reg, i);
			continue;
		}
		if (e->handle != 0 && e->leased && e->lease_end_s <= now_s) {
			e->leased = false;
			reg->n_leased--;
			changed = true;
		}
		i++;
	}
	return changed;
}

uint32_t
bx_relay_registry_count(const struct bx_relay_registry *reg)
{
	return reg->n_leased;
}

/* ---- Relay side: forwarding table ------------------------------------- */

static uint64_t
addr_slot(const struct bx_relay_table *t, rte_be32_t ip, rte_be16_t port)
{
	uint64_t key = ((uint64_t)ip << 16) | port;

	return (key * ADDR_HASH_MUL) >> t->addr_shift;
}

static const struct relay_slot *
by_handle_find(const struct bx_relay_table *t, uint64_t handle)
{
	uint64_t i;

	for (i = handle & t->mask; t->by_handle[i].handle != 0;
	     i = (i + 1) & t->mask)
		if (t->by_handle[i].handle == handle)
			return &t->by_handle[i];
	return NULL;
}

/* The slot holding @ip:@port, or the free slot where it would go. */
static struct relay_slot *
by_addr_slot(const struct bx_relay_table *t, rte_be32_t ip, rte_be16_t port)
{
	struct relay_slot *s;
	uint64_t i;

	for (i = addr_slot(t, ip, port);; i = (i + 1) & t->mask) {
		s = &t->by_addr[i];
		if (s->handle == 0 || (s->ip == ip && s->port == port))
			return s;
	}
}

struct bx_relay_table *
bx_relay_table_build(const struct bx_relay_registry *reg)
{
	const struct reg_entry *e, *owner;
	struct bx_relay_table *t;
	struct relay_slot *s;
	uint64_t n_slots, i, j, bytes;
	unsigned int bits = 0;

	n_slots = pow2_at_least((uint64_t)reg->n_leased * SLOT_FACTOR);
	if (n_slots < TABLE_MIN_SLOTS)
		n_slots = TABLE_MIN_SLOTS;
	while ((UINT64_C(1) << bits) < n_slots)
		bits++;
	bytes = sizeof(*t) + 2 * n_slots * sizeof(struct relay_slot) +
		n_slots * sizeof(uint64_t);
	bytes = (bytes + BX_CACHE_LINE - 1) / BX_CACHE_LINE * BX_CACHE_LINE;
	t = aligned_alloc(BX_CACHE_LINE, bytes);
	if (t == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	memset(t, 0, bytes);
	t->mask = n_slots - 1;
	t->addr_shift = 64 - bits;
	t->by_handle = t->slots;
	t->by_addr = t->slots + n_slots;
	t->hop = (uint64_t *)(t->by_addr + n_slots);

	/* Addresses first: where two nodes claim one, the newer claim wins. */
	for (i = 0; i <= reg->mask; i++) {
		e = &reg->slots[i];
		if (e->handle == 0 || !e->leased)
			continue;
		s = by_addr_slot(t, e->ip, e->port);
		if (s->handle != 0) {
			owner = reg_find(reg, s->handle);
			if (owner->addr_gen > e->addr_gen)
				continue;
		}
		*s = (struct relay_slot){ .handle = e->handle, .ip = e->ip,
					  .port = e->port };
	}
	/* Then the handles of the nodes that own their address. */
	for (i = 0; i <= reg->mask; i++) {
		e = &reg->slots[i];
		if (e->handle == 0 || !e->leased ||
		    by_addr_slot(t, e->ip, e->port)->handle != e->handle)
			continue;
		for (j = e->handle & t->mask; t->by_handle[j].handle != 0;
		     j = (j + 1) & t->mask)
			;
		t->by_handle[j] = (struct relay_slot){ .handle = e->handle,
						       .ip = e->ip,
						       .port = e->port };
		t->hop[j] = e->hop;
		t->n++;
	}
	return t;
}

void
bx_relay_table_free(struct bx_relay_table *t)
{
	free(t);
}

uint32_t
bx_relay_table_count(const struct bx_relay_table *t)
{
	return t->n;
}

/* ---- Relay side: fast path -------------------------------------------- */

enum bx_drop_reason
bx_relay_forward(const struct bx_relay_table *t, void *payload, size_t len,
		 rte_be32_t src_ip, rte_be16_t src_port, rte_be32_t *dst_ip,
		 rte_be16_t *dst_port, uint64_t *dst_hop)
{
	uint8_t *p = payload;
	const struct relay_slot *src, *dst;
	rte_be64_t from;

	if (BX_UNLIKELY(len < BX_RELAY_FORWARD_MIN ||
			!hdr_is(p, BX_RELAY_OP_FORWARD) ||
			!inner_ok(p + BX_RELAY_FORWARD_OFF_INNER,
				  len - BX_RELAY_FORWARD_OFF_INNER)))
		return BX_DROP_RELAY_MALFORMED;
	src = by_addr_slot(t, src_ip, src_port);
	if (BX_UNLIKELY(src->handle == 0))
		return BX_DROP_RELAY_UNREGISTERED;
	dst = by_handle_find(t, get_be64(p + COUNTER_OFF));
	if (BX_UNLIKELY(dst == NULL))
		return BX_DROP_RELAY_NO_DEST;

	from = rte_cpu_to_be_64(src->handle);
	memcpy(p + COUNTER_OFF, &from, sizeof(from));
	*dst_ip = dst->ip;
	*dst_port = dst->port;
	if (dst_hop != NULL)
		*dst_hop = t->hop[dst - t->by_handle];
	return BX_DROP_NONE;
}
