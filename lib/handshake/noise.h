/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Noise_IK_25519_ChaChaPoly_SHA256, the handshake core of lib/handshake
 * (private). It follows the Noise specification (revision 34) to the
 * letter, so it can be checked against the published test vectors
 * (cacophony); the engine in bx_handshake.c wraps it in Bauxite's message
 * layout, MACs, cookies and policy.
 *
 * Every function takes the ephemeral private key from its caller: the
 * engine draws it with randombytes_buf, tests pass known-answer keys.
 */
#ifndef HS_NOISE_H
#define HS_NOISE_H

#include <stddef.h>
#include <stdint.h>

#define HS_NOISE_KEY_LEN 32u  /* X25519 keys, ChaChaPoly keys */
#define HS_NOISE_HASH_LEN 32u /* SHA-256 */
#define HS_NOISE_TAG_LEN 16u  /* Poly1305 */
#define HS_NOISE_PROTOCOL "Noise_IK_25519_ChaChaPoly_SHA256"
/* Message 1 without payload: e (32) + encrypted s (32 + 16). */
#define HS_NOISE_MSG1_FIXED (HS_NOISE_KEY_LEN + HS_NOISE_KEY_LEN + HS_NOISE_TAG_LEN)
/* Message 2 without payload: e (32). */
#define HS_NOISE_MSG2_FIXED HS_NOISE_KEY_LEN

/* Noise's SymmetricState plus the CipherState it holds. Secret throughout. */
struct hs_noise {
	uint8_t ck[HS_NOISE_HASH_LEN]; /* chaining key */
	uint8_t h[HS_NOISE_HASH_LEN];  /* handshake hash (transcript) */
	uint8_t k[HS_NOISE_KEY_LEN];   /* current cipher key */
	uint64_t n;                    /* its nonce */
};

/* Why a Noise step failed. */
enum hs_noise_err {
	HS_NOISE_OK = 0,
	HS_NOISE_BAD_KEY,  /* a DH gave the all-zero output (low-order point) */
	HS_NOISE_DECRYPT,  /* an AEAD tag did not verify */
};

/* HKDF(ck, ikm) with two outputs, as Noise defines it (RFC 5869 with salt
 * = ck and empty info). @out1/@out2 may alias @ck. */
void hs_noise_hkdf2(const uint8_t ck[HS_NOISE_HASH_LEN], const uint8_t *ikm,
		    size_t ikm_len, uint8_t out1[HS_NOISE_HASH_LEN],
		    uint8_t out2[HS_NOISE_HASH_LEN]);

/* X25519; HS_NOISE_BAD_KEY (and @out zeroed) for a low-order @pub. */
enum hs_noise_err hs_noise_dh(uint8_t out[HS_NOISE_KEY_LEN],
			      const uint8_t priv[HS_NOISE_KEY_LEN],
			      const uint8_t pub[HS_NOISE_KEY_LEN]);

/* Initialize("Noise_IK_25519_ChaChaPoly_SHA256"), MixHash(prologue), and
 * the pre-message "<- s": MixHash(responder's static public key). */
void hs_noise_init(struct hs_noise *st, const uint8_t *prologue,
		   size_t prologue_len,
		   const uint8_t responder_static[HS_NOISE_KEY_LEN]);

/*
 * Initiator, message 1: "-> e, es, s, ss" + payload. Writes
 * HS_NOISE_MSG1_FIXED + @len + 16 bytes to @out. @ss is DH(s, rs),
 * precomputed per peer.
 */
enum hs_noise_err hs_noise_write1(struct hs_noise *st,
				  const uint8_t e_priv[HS_NOISE_KEY_LEN],
				  const uint8_t s_pub[HS_NOISE_KEY_LEN],
				  const uint8_t rs[HS_NOISE_KEY_LEN],
				  const uint8_t ss[HS_NOISE_KEY_LEN],
				  const uint8_t *payload, size_t len, uint8_t *out);

/*
 * Responder, first half of message 1: "e, es, s". Reads the first
 * HS_NOISE_MSG1_FIXED bytes of @msg, outputs the initiator's ephemeral and
 * static public keys. The caller finds the peer by @rs_out before the
 * second half.
 */
enum hs_noise_err hs_noise_read1_static(struct hs_noise *st,
					const uint8_t s_priv[HS_NOISE_KEY_LEN],
					const uint8_t *msg,
					uint8_t re_out[HS_NOISE_KEY_LEN],
					uint8_t rs_out[HS_NOISE_KEY_LEN]);

/* Responder, second half of message 1: "ss" + payload. @ct holds
 * @len + 16 bytes; @len bytes of plaintext go to @payload. */
enum hs_noise_err hs_noise_read1_payload(struct hs_noise *st,
					 const uint8_t ss[HS_NOISE_KEY_LEN],
					 const uint8_t *ct, size_t len,
					 uint8_t *payload);

/* Responder, message 2: "<- e, ee, se" + payload. Writes
 * HS_NOISE_MSG2_FIXED + @len + 16 bytes to @out. */
enum hs_noise_err hs_noise_write2(struct hs_noise *st,
				  const uint8_t e_priv[HS_NOISE_KEY_LEN],
				  const uint8_t re[HS_NOISE_KEY_LEN],
				  const uint8_t rs[HS_NOISE_KEY_LEN],
				  const uint8_t *payload, size_t len, uint8_t *out);

/* Initiator, message 2. @msg holds HS_NOISE_MSG2_FIXED + @len + 16 bytes. */
enum hs_noise_err hs_noise_read2(struct hs_noise *st,
				 const uint8_t e_priv[HS_NOISE_KEY_LEN],
				 const uint8_t s_priv[HS_NOISE_KEY_LEN],
				 const uint8_t *msg, size_t len, uint8_t *payload);

/* Split(): @k1 is the initiator's sending key, @k2 the responder's. Wipes
 * @st: nothing of the handshake outlives the transport keys. */
void hs_noise_split(struct hs_noise *st, uint8_t k1[HS_NOISE_KEY_LEN],
		    uint8_t k2[HS_NOISE_KEY_LEN]);

#endif /* HS_NOISE_H */
