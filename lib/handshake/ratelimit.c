/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-source token buckets for initiations, in a fixed table: bounded
 * memory whatever the number of sources. The table is set-associative
 * (BX_HS_RATELIMIT_WAYS entries per set); a source's set is chosen by a
 * keyed SipHash, so a flooder cannot aim its sources at one set, and a new
 * source takes a free entry of its set or the least recently used one.
 *
 * Budgets are kept in nanoseconds: time adds to a bucket one for one, an
 * initiation costs 10^9 / rate, a bucket holds at most burst of them. A
 * source evicted by others starts again with a full bucket: that is the
 * price of bounded memory, and a source that forges many addresses to get
 * it is what cookies (mac2) answer.
 */
#include <string.h>

#include <sodium.h>

#include "bx_common.h"
#include "handshake_priv.h"

#define SETS (BX_HS_RATELIMIT_ENTRIES / BX_HS_RATELIMIT_WAYS)

_Static_assert(crypto_shorthash_KEYBYTES == sizeof(((struct bx_hs *)0)->ratelimit_key),
	       "SipHash key");

static struct bx_hs_ratelimit_entry *
find_or_take(struct bx_hs *hs, uint64_t source, uint64_t now, uint64_t full)
{
	struct bx_hs_ratelimit_entry *set, *victim = NULL;
	uint8_t in[sizeof(source)], h[crypto_shorthash_BYTES];
	uint64_t hv = 0;
	unsigned int i;

	memcpy(in, &source, sizeof(in));
	crypto_shorthash(h, in, sizeof(in), hs->ratelimit_key);
	memcpy(&hv, h, sizeof(hv));
	set = &hs->ratelimit[(hv & (SETS - 1)) * BX_HS_RATELIMIT_WAYS];

	for (i = 0; i < BX_HS_RATELIMIT_WAYS; i++) {
		struct bx_hs_ratelimit_entry *e = &set[i];

		if (e->used && e->source == source)
			return e;
		if (victim == NULL || !e->used ||
		    (victim->used && e->last_ns < victim->last_ns))
			victim = e;
	}
	victim->used = 1;
	victim->source = source;
	victim->last_ns = now;
	victim->tokens_ns = full;
	return victim;
}

bool
hs_ratelimit_allow(struct bx_hs *hs, uint64_t source, uint64_t now)
{
	const uint64_t cost = BX_HS_NS_PER_SEC / hs->cfg.initiations_per_sec;
	const uint64_t full = cost * hs->cfg.initiations_burst;
	struct bx_hs_ratelimit_entry *e = find_or_take(hs, source, now, full);

	/* A clock that went back adds nothing. */
	if (now > e->last_ns) {
		uint64_t add = now - e->last_ns;

		e->tokens_ns = add >= full - e->tokens_ns ? full : e->tokens_ns + add;
	}
	e->last_ns = now;
	if (e->tokens_ns < cost)
		return false;
	e->tokens_ns -= cost;
	return true;
}
