/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Noise_IK_25519_ChaChaPoly_SHA256 over libsodium. Names follow the Noise
 * specification (MixHash, MixKey, EncryptAndHash, ...) so the code reads
 * against it. Every intermediate secret (DH outputs, HKDF temporaries,
 * HMAC states) is wiped before its function returns.
 */
#include <string.h>

#include <sodium.h>

#include "bx_common.h"
#include "noise.h"

#define CHACHA_NONCE_LEN 12u
#define NONCE_COUNTER_OFF 4u /* 32 zero bits, then the counter little-endian */

_Static_assert(sizeof(HS_NOISE_PROTOCOL) - 1 == HS_NOISE_HASH_LEN,
	       "the protocol name is exactly HASHLEN: h = name, no hashing");
_Static_assert(crypto_hash_sha256_BYTES == HS_NOISE_HASH_LEN, "SHA-256");
_Static_assert(crypto_auth_hmacsha256_BYTES == HS_NOISE_HASH_LEN, "HMAC");
_Static_assert(crypto_scalarmult_BYTES == HS_NOISE_KEY_LEN, "X25519");
_Static_assert(crypto_aead_chacha20poly1305_ietf_ABYTES == HS_NOISE_TAG_LEN, "tag");
_Static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == CHACHA_NONCE_LEN,
	       "nonce");

static void
hmac(uint8_t out[HS_NOISE_HASH_LEN], const uint8_t key[HS_NOISE_HASH_LEN],
     const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	crypto_auth_hmacsha256_state s;

	crypto_auth_hmacsha256_init(&s, key, HS_NOISE_HASH_LEN);
	crypto_auth_hmacsha256_update(&s, a, alen);
	if (blen != 0)
		crypto_auth_hmacsha256_update(&s, b, blen);
	crypto_auth_hmacsha256_final(&s, out);
	sodium_memzero(&s, sizeof(s));
}

void
hs_noise_hkdf2(const uint8_t ck[HS_NOISE_HASH_LEN], const uint8_t *ikm,
	       size_t ikm_len, uint8_t out1[HS_NOISE_HASH_LEN],
	       uint8_t out2[HS_NOISE_HASH_LEN])
{
	static const uint8_t one = 0x01, two = 0x02;
	uint8_t temp[HS_NOISE_HASH_LEN];

	/* temp is computed before out1 is written: @ck may be @out1. */
	hmac(temp, ck, ikm, ikm_len, NULL, 0);
	hmac(out1, temp, &one, 1, NULL, 0);
	hmac(out2, temp, out1, HS_NOISE_HASH_LEN, &two, 1);
	sodium_memzero(temp, sizeof(temp));
}

enum hs_noise_err
hs_noise_dh(uint8_t out[HS_NOISE_KEY_LEN], const uint8_t priv[HS_NOISE_KEY_LEN],
	    const uint8_t pub[HS_NOISE_KEY_LEN])
{
	/* libsodium refuses (and zeroes) an all-zero result: a low-order point
	 * that would make the "shared" secret known to everyone. */
	if (crypto_scalarmult(out, priv, pub) != 0) {
		sodium_memzero(out, HS_NOISE_KEY_LEN);
		return HS_NOISE_BAD_KEY;
	}
	return HS_NOISE_OK;
}

static void
mix_hash(struct hs_noise *st, const uint8_t *data, size_t len)
{
	crypto_hash_sha256_state s;

	crypto_hash_sha256_init(&s);
	crypto_hash_sha256_update(&s, st->h, sizeof(st->h));
	crypto_hash_sha256_update(&s, data, len);
	crypto_hash_sha256_final(&s, st->h);
	sodium_memzero(&s, sizeof(s));
}

static void
mix_key(struct hs_noise *st, const uint8_t ikm[HS_NOISE_KEY_LEN])
{
	hs_noise_hkdf2(st->ck, ikm, HS_NOISE_KEY_LEN, st->ck, st->k);
	st->n = 0;
}

/* MixKey(DH(priv, pub)), the DH output wiped at once. */
static enum hs_noise_err
mix_dh(struct hs_noise *st, const uint8_t priv[HS_NOISE_KEY_LEN],
       const uint8_t pub[HS_NOISE_KEY_LEN])
{
	uint8_t dh[HS_NOISE_KEY_LEN];
	enum hs_noise_err e;

	e = hs_noise_dh(dh, priv, pub);
	if (e == HS_NOISE_OK)
		mix_key(st, dh);
	sodium_memzero(dh, sizeof(dh));
	return e;
}

static void
nonce_of(uint8_t nonce[CHACHA_NONCE_LEN], uint64_t n)
{
	unsigned int i;

	memset(nonce, 0, CHACHA_NONCE_LEN);
	for (i = 0; i < 8; i++)
		nonce[NONCE_COUNTER_OFF + i] = (uint8_t)(n >> (8 * i));
}

/* EncryptAndHash: @len bytes of @pt become @len + 16 bytes at @out. In the
 * IK pattern a key is always set before the first encryption. */
static void
encrypt_and_hash(struct hs_noise *st, const uint8_t *pt, size_t len, uint8_t *out)
{
	uint8_t nonce[CHACHA_NONCE_LEN];

	nonce_of(nonce, st->n);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, st->h,
						  sizeof(st->h), NULL, nonce,
						  st->k);
	st->n++;
	mix_hash(st, out, len + HS_NOISE_TAG_LEN);
}

/* DecryptAndHash: @len + 16 bytes at @ct, @len bytes of plaintext to @pt. */
static enum hs_noise_err
decrypt_and_hash(struct hs_noise *st, const uint8_t *ct, size_t len, uint8_t *pt)
{
	uint8_t nonce[CHACHA_NONCE_LEN];

	nonce_of(nonce, st->n);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(pt, NULL, NULL, ct,
						      len + HS_NOISE_TAG_LEN,
						      st->h, sizeof(st->h),
						      nonce, st->k) != 0)
		return HS_NOISE_DECRYPT;
	st->n++;
	mix_hash(st, ct, len + HS_NOISE_TAG_LEN);
	return HS_NOISE_OK;
}

void
hs_noise_init(struct hs_noise *st, const uint8_t *prologue, size_t prologue_len,
	      const uint8_t responder_static[HS_NOISE_KEY_LEN])
{
	memcpy(st->h, HS_NOISE_PROTOCOL, HS_NOISE_HASH_LEN);
	memcpy(st->ck, st->h, HS_NOISE_HASH_LEN);
	memset(st->k, 0, sizeof(st->k));
	st->n = 0;
	mix_hash(st, prologue, prologue_len);
	mix_hash(st, responder_static, HS_NOISE_KEY_LEN);
}

enum hs_noise_err
hs_noise_write1(struct hs_noise *st, const uint8_t e_priv[HS_NOISE_KEY_LEN],
		const uint8_t s_pub[HS_NOISE_KEY_LEN],
		const uint8_t rs[HS_NOISE_KEY_LEN],
		const uint8_t ss[HS_NOISE_KEY_LEN], const uint8_t *payload,
		size_t len, uint8_t *out)
{
	enum hs_noise_err e;

	crypto_scalarmult_base(out, e_priv);
	mix_hash(st, out, HS_NOISE_KEY_LEN);
	e = mix_dh(st, e_priv, rs);
	if (e != HS_NOISE_OK)
		return e;
	encrypt_and_hash(st, s_pub, HS_NOISE_KEY_LEN, out + HS_NOISE_KEY_LEN);
	mix_key(st, ss);
	encrypt_and_hash(st, payload, len, out + HS_NOISE_MSG1_FIXED);
	return HS_NOISE_OK;
}

enum hs_noise_err
hs_noise_read1_static(struct hs_noise *st, const uint8_t s_priv[HS_NOISE_KEY_LEN],
		      const uint8_t *msg, uint8_t re_out[HS_NOISE_KEY_LEN],
		      uint8_t rs_out[HS_NOISE_KEY_LEN])
{
	enum hs_noise_err e;

	memcpy(re_out, msg, HS_NOISE_KEY_LEN);
	mix_hash(st, re_out, HS_NOISE_KEY_LEN);
	e = mix_dh(st, s_priv, re_out);
	if (e != HS_NOISE_OK)
		return e;
	return decrypt_and_hash(st, msg + HS_NOISE_KEY_LEN, HS_NOISE_KEY_LEN,
				rs_out);
}

enum hs_noise_err
hs_noise_read1_payload(struct hs_noise *st, const uint8_t ss[HS_NOISE_KEY_LEN],
		       const uint8_t *ct, size_t len, uint8_t *payload)
{
	mix_key(st, ss);
	return decrypt_and_hash(st, ct, len, payload);
}

enum hs_noise_err
hs_noise_write2(struct hs_noise *st, const uint8_t e_priv[HS_NOISE_KEY_LEN],
		const uint8_t re[HS_NOISE_KEY_LEN],
		const uint8_t rs[HS_NOISE_KEY_LEN], const uint8_t *payload,
		size_t len, uint8_t *out)
{
	enum hs_noise_err e;

	crypto_scalarmult_base(out, e_priv);
	mix_hash(st, out, HS_NOISE_KEY_LEN);
	e = mix_dh(st, e_priv, re);
	if (e == HS_NOISE_OK)
		e = mix_dh(st, e_priv, rs);
	if (e != HS_NOISE_OK)
		return e;
	encrypt_and_hash(st, payload, len, out + HS_NOISE_MSG2_FIXED);
	return HS_NOISE_OK;
}

enum hs_noise_err
hs_noise_read2(struct hs_noise *st, const uint8_t e_priv[HS_NOISE_KEY_LEN],
	       const uint8_t s_priv[HS_NOISE_KEY_LEN], const uint8_t *msg,
	       size_t len, uint8_t *payload)
{
	enum hs_noise_err e;

	mix_hash(st, msg, HS_NOISE_KEY_LEN);
	e = mix_dh(st, e_priv, msg);
	if (e == HS_NOISE_OK)
		e = mix_dh(st, s_priv, msg);
	if (e != HS_NOISE_OK)
		return e;
	return decrypt_and_hash(st, msg + HS_NOISE_MSG2_FIXED, len, payload);
}

void
hs_noise_split(struct hs_noise *st, uint8_t k1[HS_NOISE_KEY_LEN],
	       uint8_t k2[HS_NOISE_KEY_LEN])
{
	static const uint8_t empty[1];

	hs_noise_hkdf2(st->ck, empty, 0, k1, k2);
	sodium_memzero(st, sizeof(*st));
}
