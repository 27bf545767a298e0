/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Static sessions from the configured pre-shared keys.
 *
 * Stop-gap until the identity/handshake issue replaces this file with real
 * sessions (ephemeral X25519, rekeying, forward secrecy). It is kept to this
 * one file so that replacement touches nothing else.
 *
 * The PSK is never used as an AEAD key itself: both ends would then encrypt
 * under one key with independent counters, and equal counters would reuse a
 * nonce. Each direction gets its own key and receiver index instead:
 *
 *   k(A->B)   = BLAKE2b-256(key = PSK, "bauxite-psk-v1" || A || 0x00 || B)
 *   idx(A->B) = first 4 bytes (big-endian) of
 *               BLAKE2b-256(key = PSK, "bauxite-idx-v1" || A || 0x00 || B)
 *
 * A and B are node ids; the 0x00 keeps "ab"+"c" apart from "a"+"bc" (ids
 * contain no NUL). Both ends compute the same four values.
 *
 * Nonces: the sender's counter starts at CLOCK_REALTIME in 32.32 fixed
 * point (seconds << 32 plus the fraction), so a restarted process never
 * reuses a counter of its previous life, however soon it restarts. This
 * assumes the clock never steps back and that fewer than 2^32 packets per
 * second go to one peer. The receiver's replay window accepts the forward
 * jump. The counter then lives in the top of its 64-bit space (seconds since
 * 1970 are about 2^31, so it starts near 2^63): the windows take every
 * counter up to UINT64_MAX instead of BX_REPLAY_DEFAULT_LIMIT (2^60, a
 * rekey threshold, and these sessions never rekey); the counter cannot
 * reach 2^64 before the clock reaches 2^32 seconds (year 2106) at the rate
 * assumed above. A restarted *receiver* starts with an empty window and
 * would accept a replay of old datagrams: protection across receiver
 * restarts is the handshake's job (fresh keys per session), not this
 * file's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_malloc.h>
#include <sodium.h>

#include "app.h"

#define PSK_KEY_LABEL "bauxite-psk-v1"
#define PSK_IDX_LABEL "bauxite-idx-v1"
#define PSK_HASH_LEN 32u
/* See the top: time-based counters start far above BX_REPLAY_DEFAULT_LIMIT. */
#define PSK_REPLAY_LIMIT UINT64_MAX
_Static_assert(PSK_HASH_LEN == BX_CRYPTO_KEY_LEN, "one hash is one key");

uint64_t
app_tx_counter_start(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* 32.32 fixed-point seconds: a restart within the same second still
	 * starts above every counter the previous run could have used. */
	return ((uint64_t)ts.tv_sec << 32) +
	       (((uint64_t)ts.tv_nsec << 32) / 1000000000u);
}

/* BLAKE2b-256 keyed with @psk over @label || @from || 0x00 || @to. */
static int
psk_hash(const uint8_t *psk, const char *label, const char *from,
	 const char *to, uint8_t out[PSK_HASH_LEN])
{
	crypto_generichash_state st;
	static const uint8_t sep = 0;
	int rc;

	rc = crypto_generichash_init(&st, psk, BX_CONFIG_PSK_LEN, PSK_HASH_LEN);
	if (rc == 0)
		rc = crypto_generichash_update(&st, (const uint8_t *)label,
					       strlen(label));
	if (rc == 0)
		rc = crypto_generichash_update(&st, (const uint8_t *)from,
					       strlen(from));
	if (rc == 0)
		rc = crypto_generichash_update(&st, &sep, 1);
	if (rc == 0)
		rc = crypto_generichash_update(&st, (const uint8_t *)to,
					       strlen(to));
	if (rc == 0)
		rc = crypto_generichash_final(&st, out, PSK_HASH_LEN);
	sodium_memzero(&st, sizeof(st));
	return rc == 0 ? 0 : -EINVAL;
}

static int
psk_index(const uint8_t *psk, const char *from, const char *to, uint32_t *idx)
{
	uint8_t h[PSK_HASH_LEN];
	int rc;

	rc = psk_hash(psk, PSK_IDX_LABEL, from, to, h);
	if (rc == 0)
		*idx = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
		       (uint32_t)h[2] << 8 | h[3];
	sodium_memzero(h, sizeof(h));
	return rc;
}

static int
psk_key(struct bx_crypto *crypto, enum bx_crypto_cipher cipher,
	const uint8_t *psk, const char *from, const char *to,
	struct bx_crypto_key *k)
{
	uint8_t raw[PSK_HASH_LEN];
	int rc;

	rc = psk_hash(psk, PSK_KEY_LABEL, from, to, raw);
	if (rc == 0)
		rc = bx_crypto_key_init(crypto, k, cipher, raw);
	sodium_memzero(raw, sizeof(raw));
	return rc;
}

static void
session_wipe(struct app_session *s)
{
	bx_crypto_key_wipe(s->tx_key);
	bx_crypto_key_wipe(s->rx_key);
	rte_free(s->tx_key);
	rte_free(s->rx_key);
	rte_free(s->replay);
	memset(s, 0, sizeof(*s));
}

static int
session_init(const struct bx_config *cfg, const struct bx_config_peer *cp,
	     struct bx_crypto *crypto, struct app_session *s, char *err,
	     size_t errlen)
{
	const char *me = cfg->node_id;
	size_t wsize = bx_replay_size(cfg->replay_window);
	int rc;

	s->tx_key = rte_zmalloc("bx_key", bx_crypto_key_size(),
				BX_CRYPTO_KEY_ALIGN);
	s->rx_key = rte_zmalloc("bx_key", bx_crypto_key_size(),
				BX_CRYPTO_KEY_ALIGN);
	s->replay = wsize ? rte_zmalloc("bx_replay", wsize, RTE_CACHE_LINE_SIZE)
			  : NULL;
	if (s->tx_key == NULL || s->rx_key == NULL || s->replay == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "peer %s: no memory for its session",
			 cp->id);
		goto fail;
	}
	rc = bx_replay_init(s->replay, cfg->replay_window, PSK_REPLAY_LIMIT);
	if (rc == 0)
		rc = psk_key(crypto, cfg->cipher, cp->psk, me, cp->id, s->tx_key);
	if (rc == 0)
		rc = psk_key(crypto, cfg->cipher, cp->psk, cp->id, me, s->rx_key);
	if (rc == 0)
		rc = psk_index(cp->psk, me, cp->id, &s->tx_index);
	if (rc == 0)
		rc = psk_index(cp->psk, cp->id, me, &s->rx_index);
	if (rc != 0) {
		snprintf(err, errlen, "peer %s: cannot make its %s session: %s",
			 cp->id, bx_crypto_cipher_name(cfg->cipher),
			 strerror(-rc));
		goto fail;
	}
	return 0;
fail:
	session_wipe(s);
	return rc;
}

int
app_psk_sessions_create(const struct bx_config *cfg, struct bx_crypto *crypto,
			struct bx_peer_registry *reg, struct app_session **out,
			char *err, size_t errlen)
{
	struct app_session *s;
	unsigned i = 0;
	int rc = 0;

	s = rte_zmalloc("bx_sessions",
			sizeof(*s) * (cfg->n_peers ? cfg->n_peers : 1),
			RTE_CACHE_LINE_SIZE);
	if (s == NULL) {
		snprintf(err, errlen, "no memory for sessions");
		return -ENOMEM;
	}
	for (i = 0; i < cfg->n_peers; i++) {
		const struct bx_config_peer *cp = &cfg->peers[i];

		rc = session_init(cfg, cp, crypto, &s[i], err, errlen);
		if (rc != 0)
			goto fail;
		rc = bx_peer_set_session(reg, cp->id, BX_PEER_SESSION_CURRENT,
					 s[i].rx_index, &s[i]);
		if (rc != 0) {
			snprintf(err, errlen,
				 "peer %s: cannot register session index %08x: %s",
				 cp->id, s[i].rx_index, strerror(-rc));
			session_wipe(&s[i]);
			goto fail;
		}
	}
	*out = s;
	return 0;
fail:
	app_psk_sessions_free(s, i);
	return rc;
}

void
app_psk_sessions_free(struct app_session *s, unsigned n)
{
	unsigned i;

	if (s == NULL)
		return;
	for (i = 0; i < n; i++)
		session_wipe(&s[i]);
	rte_free(s);
}
