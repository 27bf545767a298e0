/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AEAD for mesh datagrams: ChaCha20-Poly1305 and AES-256-GCM, in place, the
 * 16-byte mesh header as additional data, the header's counter as nonce
 * (4 zero bytes || counter, big-endian, as on the wire).
 *
 * Back ends: Intel ipsec-mb (job burst API; architecture picked once at
 * start-up from CPU flags) and libsodium (reference and fallback). A
 * struct bx_crypto is one engine per lcore and is never shared; keys are
 * read-only after bx_crypto_key_init and may be shared by all lcores.
 *
 * FIPS mode allows AES-256-GCM only.
 */
#ifndef BX_CRYPTO_H
#define BX_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bx_drop.h"

#define BX_CRYPTO_KEY_LEN 32u
#define BX_CRYPTO_TAG_LEN 16u
#define BX_CRYPTO_NONCE_LEN 12u
#define BX_CRYPTO_BURST_MAX 64u

enum bx_crypto_cipher {
	BX_CRYPTO_CHACHA20_POLY1305 = 0,
	BX_CRYPTO_AES256_GCM = 1,
};

enum bx_crypto_backend {
	BX_CRYPTO_BACKEND_AUTO = 0, /* ipsec-mb when the CPU has it, else libsodium */
	BX_CRYPTO_BACKEND_IPSECMB,  /* ipsec-mb job burst API */
	BX_CRYPTO_BACKEND_SODIUM,   /* libsodium */
};

struct bx_crypto;     /* per-lcore engine (opaque) */
struct bx_crypto_key; /* one direction of one session (opaque) */
struct rte_mbuf;

/* Cipher name as in config ("chacha20-poly1305", "aes-256-gcm"). */
const char *bx_crypto_cipher_name(enum bx_crypto_cipher c);
/* Parses a config cipher name; 0 or -EINVAL. @out untouched on failure. */
int bx_crypto_cipher_parse(const char *name, enum bx_crypto_cipher *out);

/*
 * Creates an engine on the calling thread. Returns NULL and sets errno:
 * ENOTSUP if @be cannot run on this CPU, ENOMEM. With @fips only
 * AES-256-GCM keys can be made.
 */
struct bx_crypto *bx_crypto_create(enum bx_crypto_backend be, bool fips);
void bx_crypto_free(struct bx_crypto *c);
/* "ipsec-mb/avx512", "ipsec-mb/avx2", ..., "libsodium". */
const char *bx_crypto_backend_name(const struct bx_crypto *c);
/* The back end AUTO resolved to (IPSECMB or SODIUM): keys are tied to it. */
enum bx_crypto_backend bx_crypto_backend_of(const struct bx_crypto *c);
bool bx_crypto_is_fips(const struct bx_crypto *c);
/* False for ChaCha20-Poly1305 in FIPS mode. */
bool bx_crypto_cipher_allowed(const struct bx_crypto *c, enum bx_crypto_cipher cipher);

/* Size and alignment of a key: callers place keys in their own memory. */
size_t bx_crypto_key_size(void);
#define BX_CRYPTO_KEY_ALIGN 64u

/*
 * Expands @raw (32 bytes) into @k for @cipher using engine @c. Returns 0,
 * -EPERM if FIPS mode forbids @cipher, -ENOTSUP if the back end cannot do
 * @cipher on this CPU (libsodium AES-256-GCM needs AES-NI), -EINVAL (also
 * for @k not aligned to BX_CRYPTO_KEY_ALIGN). @raw is not kept beyond what
 * the cipher needs; the caller wipes its copy. The expansion is specific to
 * the back end of @c: use @k only with engines of that back end (all
 * engines of one process resolve AUTO the same way). @k is untouched on
 * failure.
 */
int bx_crypto_key_init(struct bx_crypto *c, struct bx_crypto_key *k,
		       enum bx_crypto_cipher cipher, const uint8_t raw[BX_CRYPTO_KEY_LEN]);
/* Wipes every byte of @k (sodium_memzero). NULL is fine. */
void bx_crypto_key_wipe(struct bx_crypto_key *k);
enum bx_crypto_cipher bx_crypto_key_cipher(const struct bx_crypto_key *k);

/*
 * One buffer: encrypts @len bytes at @buf in place and writes the tag to
 * @tag. @nonce is the 12-byte nonce. Returns 0 or -EINVAL (a NULL pointer
 * other than an empty @aad or @buf; a NULL or wiped key, one made for the
 * other back end, or one FIPS mode forbids).
 *
 * These take ipsec-mb's direct (synchronous, one buffer) API on the
 * ipsec-mb back end -- IMB_AES256_GCM_ENC/DEC and
 * IMB_CHACHA20_POLY1305_INIT/UPDATE/FINALIZE -- and the libsodium detached
 * AEAD calls on the libsodium back end. They serve the control path, the
 * golden-vector tests and the benchmark's "direct" figures; the data path
 * uses the bursts below.
 */
int bx_crypto_seal(struct bx_crypto *c, const struct bx_crypto_key *k,
		   const uint8_t nonce[BX_CRYPTO_NONCE_LEN],
		   const void *aad, size_t aad_len, void *buf, size_t len,
		   uint8_t tag[BX_CRYPTO_TAG_LEN]);
/* Verifies @tag (constant time) and decrypts in place; 0 or -EBADMSG
 * (then @buf holds no plaintext: its @len bytes are zeroed), -EINVAL. */
int bx_crypto_open(struct bx_crypto *c, const struct bx_crypto_key *k,
		   const uint8_t nonce[BX_CRYPTO_NONCE_LEN],
		   const void *aad, size_t aad_len, void *buf, size_t len,
		   const uint8_t tag[BX_CRYPTO_TAG_LEN]);

/*
 * Bursts of mbufs. Each mbuf is one contiguous segment laid out as
 * [@hdr_off bytes][16-byte mesh header][payload]; pkts[i] uses keys[i].
 *
 * seal: encrypts the payload in place and appends the 16-byte tag.
 * open: payload ends with the tag; verifies, decrypts in place and trims it.
 * The nonce is built from the header's counter; the header must be written
 * before seal.
 *
 * On the ipsec-mb back end a burst is one submission of a burst of jobs
 * (IMB_SUBMIT_BURST_NOCHECK, the checked IMB_SUBMIT_BURST in debug builds),
 * flushed before returning so nothing stays queued in the engine; on
 * libsodium it is one detached AEAD call per packet. No allocation, no
 * locks. A packet that fails open has its payload zeroed, never released
 * as plaintext.
 *
 * Returns how many succeeded; those stay first, in order. Failed mbufs are
 * moved past them (not freed) and, if @why is not NULL, why[i] for
 * i >= return value holds the reason of pkts[i] (CRYPTO_AUTH,
 * CRYPTO_SEGMENTED, CRYPTO_NO_ROOM, CRYPTO_NO_KEY, HDR_BAD_LEN, and
 * CRYPTO_ERROR should the engine itself fail a job); why[i] for good
 * packets is not written. A NULL or wiped key is CRYPTO_NO_KEY. n may be
 * at most BX_CRYPTO_BURST_MAX.
 */
uint16_t bx_crypto_seal_burst(struct bx_crypto *c,
			      const struct bx_crypto_key *const keys[],
			      struct rte_mbuf *pkts[], uint16_t n, uint16_t hdr_off,
			      uint8_t why[]);
uint16_t bx_crypto_open_burst(struct bx_crypto *c,
			      const struct bx_crypto_key *const keys[],
			      struct rte_mbuf *pkts[], uint16_t n, uint16_t hdr_off,
			      uint8_t why[]);

#endif /* BX_CRYPTO_H */
