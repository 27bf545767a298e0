/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for lib/handshake. Two fixed identities, initiator I
 * and responder R, with fixed ephemeral keys, indices and clocks, so the
 * genuine messages are the same in every process; they are the seed
 * corpus (corpus/handshake: init.bin, response.bin, cookie.bin). Every
 * input is given, each time from the same starting state, to:
 *   - R's bx_hs_consume_initiation, as received and with mac1 remade (as
 *     anyone who knows R's public key can), with and without load;
 *   - I's bx_hs_consume_response (the genuine initiation pending), as
 *     received and with mac1 remade;
 *   - I's bx_hs_consume_cookie.
 * Beyond "no crash, no read past the end" (ASan), it checks:
 *   - a session comes only from the genuine Noise bytes: an accepted
 *     initiation or response carries exactly the genuine ephemeral key and
 *     ciphertexts (its sender index, not covered by Noise, may differ);
 *   - a refusal changes neither the result nor the peer's state, and a
 *     reply is written exactly when documented (response on OK, cookie
 *     reply on COOKIE_SENT / BAD_MAC2);
 *   - a cookie reply touches the cookie and nothing of the handshake.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "bx_common.h"
#include "bx_handshake.h"
#include "handshake_priv.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEC BX_HS_NS_PER_SEC
#define NOW (1000 * SEC)
#define WALL (UINT64_C(1700000000) * SEC)
#define SOURCE UINT64_C(0x0a0000011194)
#define IDX_I 0x01020304u
#define IDX_R 0x0a0b0c0du

static const uint8_t i_priv[BX_HS_KEY_LEN] = {
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
};
static const uint8_t r_priv[BX_HS_KEY_LEN] = {
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
};
static const uint8_t i_eph[BX_HS_KEY_LEN] = {
	0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33,
	0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33,
	0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33,
};
static const uint8_t r_eph[BX_HS_KEY_LEN] = {
	0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44,
	0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44,
	0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44,
};

/* Engines and peers as they start every run, and the working copies. */
static struct {
	struct bx_hs i_hs, r_hs;
	struct bx_hs_peer i_peer, r_peer; /* I's state of R, R's of I */
	uint8_t i_pub[BX_HS_KEY_LEN], r_pub[BX_HS_KEY_LEN];
	uint8_t init[BX_HS_INIT_LEN];
	uint8_t response[BX_HS_RESP_LEN];
	uint8_t cookie[BX_HS_COOKIE_REPLY_LEN];
} g;
static struct bx_hs r_work;
static struct bx_hs_peer i_work, r_peer_work;

static struct bx_hs_peer *
r_lookup(void *ctx, const uint8_t pub[BX_HS_KEY_LEN])
{
	(void)ctx;
	return sodium_memcmp(pub, g.i_pub, BX_HS_KEY_LEN) == 0 ? &r_peer_work : NULL;
}

/* I's lookup is never called: I only initiates. */
static struct bx_hs_peer *
i_lookup(void *ctx, const uint8_t pub[BX_HS_KEY_LEN])
{
	(void)ctx;
	(void)pub;
	return NULL;
}

static void
mac1_fix(uint8_t *msg, size_t mac1_off, const uint8_t receiver_pub[BX_HS_KEY_LEN])
{
	crypto_hash_sha256_state s;
	uint8_t key[BX_HS_KEY_LEN];

	crypto_hash_sha256_init(&s);
	crypto_hash_sha256_update(&s, (const uint8_t *)"mac1----", 8);
	crypto_hash_sha256_update(&s, receiver_pub, BX_HS_KEY_LEN);
	crypto_hash_sha256_final(&s, key);
	crypto_generichash(msg + mac1_off, BX_HS_MAC_LEN, msg, mac1_off, key,
			   sizeof(key));
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct bx_hs_result res;
	struct bx_hs_rx rx = {
		.source = SOURCE,
		.now = NOW,
		.wall_ns = WALL + SEC,
		.local_index = IDX_R,
	};
	struct bx_hs_session s;

	(void)argc;
	(void)argv;
	BX_ASSERT(sodium_init() >= 0);
	BX_ASSERT(bx_hs_init(&g.i_hs, NULL, i_priv, i_lookup, NULL, NOW) == 0);
	BX_ASSERT(bx_hs_init(&g.r_hs, NULL, r_priv, r_lookup, NULL, NOW) == 0);
	memcpy(g.i_pub, g.i_hs.static_pub, BX_HS_KEY_LEN);
	memcpy(g.r_pub, g.r_hs.static_pub, BX_HS_KEY_LEN);
	BX_ASSERT(bx_hs_peer_init(&g.i_hs, &g.i_peer, g.r_pub, true, NULL) == 0);
	BX_ASSERT(bx_hs_peer_init(&g.r_hs, &g.r_peer, g.i_pub, false, NULL) == 0);

	/* The genuine messages; I keeps its initiation pending. */
	BX_ASSERT(hs_create_initiation_with(&g.i_hs, &g.i_peer, IDX_I, NOW, WALL,
					    i_eph, g.init) == 0);
	memcpy(&r_work, &g.r_hs, sizeof(r_work));
	memcpy(&r_peer_work, &g.r_peer, sizeof(r_peer_work));
	rx.msg = g.init;
	rx.len = sizeof(g.init);
	rx.under_load = true;
	BX_ASSERT(bx_hs_consume_initiation(&r_work, &rx, &res) == BX_HS_COOKIE_SENT);
	memcpy(g.cookie, res.reply, sizeof(g.cookie));
	rx.under_load = false;
	BX_ASSERT(hs_consume_initiation_with(&r_work, &rx, r_eph, &res) == BX_HS_OK);
	memcpy(g.response, res.reply, sizeof(g.response));
	bx_hs_session_wipe(&res.session);

	/* They work from the starting state. */
	memcpy(&i_work, &g.i_peer, sizeof(i_work));
	BX_ASSERT(bx_hs_consume_cookie(&g.i_hs, &i_work, g.cookie,
				       sizeof(g.cookie), NOW) == BX_HS_OK);
	memcpy(&i_work, &g.i_peer, sizeof(i_work));
	BX_ASSERT(bx_hs_consume_response(&g.i_hs, &i_work, g.response,
					 sizeof(g.response), NOW, &s) == BX_HS_OK);
	bx_hs_session_wipe(&s);
	return 0;
}

static bool
is_reason(enum bx_hs_reason r)
{
	return (unsigned int)r < BX_HS__COUNT;
}

static void
try_initiation(const uint8_t *m, size_t len, bool under_load)
{
	struct bx_hs_result res, before;
	struct bx_hs_rx rx = {
		.msg = m,
		.len = len,
		.source = SOURCE,
		.now = NOW,
		.wall_ns = WALL + SEC,
		.local_index = IDX_R,
		.under_load = under_load,
	};
	enum bx_hs_reason r;

	memcpy(&r_work, &g.r_hs, sizeof(r_work));
	memcpy(&r_peer_work, &g.r_peer, sizeof(r_peer_work));
	memset(&res, 0xa5, sizeof(res));
	memcpy(&before, &res, sizeof(before));
	r = bx_hs_consume_initiation(&r_work, &rx, &res);
	BX_ASSERT(is_reason(r));
	switch (r) {
	case BX_HS_OK:
		/* Only the genuine Noise message makes a session. */
		BX_ASSERT(len == BX_HS_INIT_LEN);
		BX_ASSERT(memcmp(m + BX_HS_INIT_OFF_EPHEMERAL,
				 g.init + BX_HS_INIT_OFF_EPHEMERAL,
				 BX_HS_INIT_OFF_MAC1 - BX_HS_INIT_OFF_EPHEMERAL) == 0);
		BX_ASSERT(res.reply_len == BX_HS_RESP_LEN);
		BX_ASSERT(res.session.peer == &r_peer_work);
		BX_ASSERT(r_peer_work.last_ts_received != 0);
		bx_hs_session_wipe(&res.session);
		break;
	case BX_HS_COOKIE_SENT:
	case BX_HS_BAD_MAC2:
		BX_ASSERT(len == BX_HS_INIT_LEN);
		BX_ASSERT(res.reply_len == BX_HS_COOKIE_REPLY_LEN);
		BX_ASSERT(memcmp(&r_peer_work, &g.r_peer, sizeof(r_peer_work)) == 0);
		break;
	default:
		BX_ASSERT(memcmp(&res, &before, sizeof(res)) == 0);
		BX_ASSERT(memcmp(&r_peer_work, &g.r_peer, sizeof(r_peer_work)) == 0);
		break;
	}
}

static void
try_response(const uint8_t *m, size_t len)
{
	struct bx_hs_session s, before;
	enum bx_hs_reason r;

	memcpy(&i_work, &g.i_peer, sizeof(i_work));
	memset(&s, 0x5a, sizeof(s));
	memcpy(&before, &s, sizeof(before));
	r = bx_hs_consume_response(&g.i_hs, &i_work, m, len, NOW, &s);
	BX_ASSERT(is_reason(r));
	if (r == BX_HS_OK) {
		BX_ASSERT(len == BX_HS_RESP_LEN);
		BX_ASSERT(memcmp(m + BX_HS_RESP_OFF_EPHEMERAL,
				 g.response + BX_HS_RESP_OFF_EPHEMERAL,
				 BX_HS_RESP_OFF_MAC1 - BX_HS_RESP_OFF_EPHEMERAL) == 0);
		BX_ASSERT(s.initiator && s.local_index == IDX_I);
		BX_ASSERT(bx_hs_pending_index(&i_work) == 0);
		bx_hs_session_wipe(&s);
	} else {
		BX_ASSERT(memcmp(&s, &before, sizeof(s)) == 0);
		BX_ASSERT(memcmp(&i_work, &g.i_peer, sizeof(i_work)) == 0);
	}
}

static void
try_cookie(const uint8_t *m, size_t len)
{
	enum bx_hs_reason r;

	memcpy(&i_work, &g.i_peer, sizeof(i_work));
	r = bx_hs_consume_cookie(&g.i_hs, &i_work, m, len, NOW);
	BX_ASSERT(is_reason(r));
	if (r == BX_HS_OK) {
		BX_ASSERT(len == BX_HS_COOKIE_REPLY_LEN);
		BX_ASSERT(i_work.have_cookie && !i_work.mac1_unanswered);
		/* The handshake itself is untouched. */
		BX_ASSERT(memcmp(&i_work.pending, &g.i_peer.pending,
				 sizeof(i_work.pending)) == 0);
	} else {
		BX_ASSERT(memcmp(&i_work, &g.i_peer, sizeof(i_work)) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t m[BX_HS_INIT_LEN]; /* the longest message */

	try_initiation(data, size, false);
	try_initiation(data, size, true);
	try_response(data, size);
	try_cookie(data, size);

	/* With mac1 remade, the input reaches the Noise layer. */
	if (size == BX_HS_INIT_LEN) {
		memcpy(m, data, size);
		mac1_fix(m, BX_HS_INIT_OFF_MAC1, g.r_pub);
		try_initiation(m, size, false);
	}
	if (size == BX_HS_RESP_LEN) {
		memcpy(m, data, size);
		mac1_fix(m, BX_HS_RESP_OFF_MAC1, g.i_pub);
		try_response(m, size);
	}
	return 0;
}
