/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside lib/crypto: the engine and key layouts and the interface between
 * the generic part (bx_crypto.c: names, keys, mbuf checks, reordering) and
 * the two back ends (crypto_ipsecmb.c, crypto_sodium.c). Not installed.
 */
#ifndef CRYPTO_PRIV_H
#define CRYPTO_PRIV_H

#include <stdint.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#include <sodium.h>

#include "bx_common.h"
#include "bx_crypto.h"
#include "bx_wire.h"

/* Marks an initialised key: a zeroed (wiped) or never-initialised key is
 * refused instead of encrypting under an all-zero key. */
#define CRYPTO_KEY_MAGIC 0x62784b59u /* "bxKY" */

/* ipsec-mb wants the IV in a buffer that outlives the job; 16 bytes keeps
 * each slot aligned. */
#define CRYPTO_IV_SLOT 16u

struct bx_crypto_key {
	/* Only one expansion is ever used: the one of the engine's back end. */
	union {
		struct gcm_key_data imb;            /* IMB_AES256_GCM_PRE */
		crypto_aead_aes256gcm_state sodium; /* crypto_aead_aes256gcm_beforenm */
	} gcm;
	uint8_t raw[BX_CRYPTO_KEY_LEN]; /* ChaCha20-Poly1305 only */
	uint32_t magic;
	enum bx_crypto_cipher cipher;
	enum bx_crypto_backend backend;
} BX_CACHE_ALIGNED;

_Static_assert(BX_CRYPTO_KEY_ALIGN == BX_CACHE_LINE,
	       "key alignment is the cache line the struct is aligned to");

struct bx_crypto {
	IMB_MGR *mgr; /* NULL on libsodium */
	enum bx_crypto_backend backend; /* IPSECMB or SODIUM, never AUTO */
	bool fips;
	const char *name;
	/* Per-burst scratch, owned by the one lcore using the engine. */
	uint8_t iv[BX_CRYPTO_BURST_MAX][CRYPTO_IV_SLOT] BX_CACHE_ALIGNED;
	uint8_t tag[BX_CRYPTO_BURST_MAX][BX_CRYPTO_TAG_LEN];
	IMB_JOB *jobs[BX_CRYPTO_BURST_MAX];
};

/*
 * One AEAD operation of a burst, laid out as a mesh datagram: the 16-byte
 * header (additional data, counter = nonce) directly followed by @len
 * bytes of payload and then the 16-byte tag.
 */
struct crypto_op {
	const struct bx_crypto_key *key;
	uint8_t *hdr;
	uint32_t len;
};

static inline uint8_t *
crypto_op_data(const struct crypto_op *op)
{
	return op->hdr + BX_WIRE_HDR_LEN;
}

static inline uint8_t *
crypto_op_tag(const struct crypto_op *op)
{
	return op->hdr + BX_WIRE_HDR_LEN + op->len;
}

typedef uint64_t crypto_iv_vec __attribute__((vector_size(CRYPTO_IV_SLOT)));
_Static_assert(RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN,
	       "crypto_nonce_from_hdr places the counter by lane shifts");

/*
 * Nonce = 4 zero bytes || the header's 8 counter bytes as on the wire,
 * into a CRYPTO_IV_SLOT-byte slot (4 zero bytes after it). Written as one
 * 16-byte store: ipsec-mb loads the IV with one 16-byte load, which the
 * CPU forwards only from a store as wide. Built from a 4- and an 8-byte
 * store just before the call, that load waits for both to reach the
 * cache (crypto-bench's note: ~40 cycles per 64-byte AES-GCM seal).
 */
static inline void
crypto_nonce_from_hdr(uint8_t nonce[CRYPTO_IV_SLOT], const uint8_t *hdr)
{
	const size_t ctr_off = BX_WIRE_HDR_LEN - sizeof(uint64_t);
	crypto_iv_vec v;
	uint64_t ctr;

	memcpy(&ctr, hdr + ctr_off, sizeof(ctr));
	/* Little-endian lanes: bytes 4..11 get the counter's bytes 0..7. */
	v = (crypto_iv_vec){ ctr << 32, ctr >> 32 };
	memcpy(nonce, &v, sizeof(v));
}

/*
 * Back-end burst entry points: run @n (<= BX_CRYPTO_BURST_MAX) checked
 * operations and set res[j] to BX_DROP_NONE or the reason op j failed
 * (CRYPTO_AUTH, CRYPTO_ERROR). seal writes the tag after the payload; open
 * verifies it and zeroes the payload of a forgery.
 */
/*
 * True if the 16-byte tags @a and @b are equal, in constant time (no
 * early exit, no data-dependent branch): two XORs folded into one test,
 * inline where libsodium's crypto_verify_16 is a call per packet.
 */
static inline bool
crypto_tag_equal(const uint8_t a[BX_CRYPTO_TAG_LEN],
		 const uint8_t b[BX_CRYPTO_TAG_LEN])
{
	uint64_t a0, a1, b0, b1, d;

	memcpy(&a0, a, sizeof(a0));
	memcpy(&a1, a + sizeof(a0), sizeof(a1));
	memcpy(&b0, b, sizeof(b0));
	memcpy(&b1, b + sizeof(b0), sizeof(b1));
	d = (a0 ^ b0) | (a1 ^ b1);
	/* The compiler may not split the test into two early-exit halves. */
	__asm__ volatile("" : "+r"(d));
	return d == 0;
}

/*
 * AES-256-GCM on ipsec-mb's direct calls, one packet in place: the @len
 * bytes after the wire header @hdr, the nonce from the header's counter,
 * the header as AAD. Sealing writes the tag to @tag (after the bytes);
 * opening writes the tag it computes there, for the caller to compare.
 * @ctx and @iv are the caller's scratch, which it wipes after the burst.
 */
static inline void
crypto_imb_gcm(IMB_MGR *mgr, const struct bx_crypto_key *k,
	       struct gcm_context_data *ctx, uint8_t iv[CRYPTO_IV_SLOT],
	       uint8_t *hdr, uint32_t len, bool seal, uint8_t *tag)
{
	uint8_t *data = hdr + BX_WIRE_HDR_LEN;

	crypto_nonce_from_hdr(iv, hdr);
	if (seal)
		IMB_AES256_GCM_ENC(mgr, &k->gcm.imb, ctx, data, data, len, iv, hdr,
				   BX_WIRE_HDR_LEN, tag, BX_CRYPTO_TAG_LEN);
	else
		IMB_AES256_GCM_DEC(mgr, &k->gcm.imb, ctx, data, data, len, iv, hdr,
				   BX_WIRE_HDR_LEN, tag, BX_CRYPTO_TAG_LEN);
}

void crypto_imb_seal_ops(struct bx_crypto *c, const struct crypto_op *ops,
			 uint16_t n, uint8_t res[]);
void crypto_imb_open_ops(struct bx_crypto *c, const struct crypto_op *ops,
			 uint16_t n, uint8_t res[]);
void crypto_sodium_seal_ops(const struct crypto_op *ops, uint16_t n, uint8_t res[]);
void crypto_sodium_open_ops(const struct crypto_op *ops, uint16_t n, uint8_t res[]);

/* Single-buffer operations; 0, or -EBADMSG for open (buffer zeroed). */
int crypto_imb_seal_one(struct bx_crypto *c, const struct bx_crypto_key *k,
			const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
			uint8_t *buf, size_t len, uint8_t *tag);
int crypto_imb_open_one(struct bx_crypto *c, const struct bx_crypto_key *k,
			const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
			uint8_t *buf, size_t len, const uint8_t *tag);
int crypto_sodium_seal_one(const struct bx_crypto_key *k, const uint8_t *nonce,
			   const uint8_t *aad, size_t aad_len, uint8_t *buf,
			   size_t len, uint8_t *tag);
int crypto_sodium_open_one(const struct bx_crypto_key *k, const uint8_t *nonce,
			   const uint8_t *aad, size_t aad_len, uint8_t *buf,
			   size_t len, const uint8_t *tag);

#endif /* CRYPTO_PRIV_H */
