/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AEAD engine: back-end choice, keys, single-buffer calls and the mbuf
 * bursts (checks and reordering); the ciphers themselves live in
 * crypto_ipsecmb.c and crypto_sodium.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#include <rte_mbuf.h>
#include <sodium.h>

#include "bx_crypto.h"
#include "crypto_priv.h"

_Static_assert(BX_DROP__COUNT <= UINT8_MAX, "drop reasons fit the uint8_t why[]");

static const char *const cipher_names[] = {
	[BX_CRYPTO_CHACHA20_POLY1305] = "chacha20-poly1305",
	[BX_CRYPTO_AES256_GCM] = "aes-256-gcm",
};

/* Only the architectures that accelerate both ciphers are worth using. */
static const char *const imb_arch_names[IMB_ARCH_NUM] = {
	[IMB_ARCH_SSE] = "ipsec-mb/sse",
	[IMB_ARCH_AVX] = "ipsec-mb/avx",
	[IMB_ARCH_AVX2] = "ipsec-mb/avx2",
	[IMB_ARCH_AVX512] = "ipsec-mb/avx512",
};

static const char sodium_name[] = "libsodium";

const char *
bx_crypto_cipher_name(enum bx_crypto_cipher c)
{
	if ((unsigned)c >= BX_ARRAY_SIZE(cipher_names))
		return "unknown";
	return cipher_names[c];
}

int
bx_crypto_cipher_parse(const char *name, enum bx_crypto_cipher *out)
{
	size_t i;

	if (name == NULL || out == NULL)
		return -EINVAL;
	for (i = 0; i < BX_ARRAY_SIZE(cipher_names); i++) {
		if (strcmp(name, cipher_names[i]) == 0) {
			*out = (enum bx_crypto_cipher)i;
			return 0;
		}
	}
	return -EINVAL;
}

static bool
cipher_valid(enum bx_crypto_cipher cipher)
{
	return (unsigned)cipher < BX_ARRAY_SIZE(cipher_names);
}

/* Sets up ipsec-mb for the best architecture the CPU flags allow; 0,
 * -ENOMEM, or -ENOTSUP when that is no better than software AES. */
static int
imb_open(struct bx_crypto *c)
{
	IMB_ARCH arch = IMB_ARCH_NONE;
	IMB_MGR *mgr;
	int rc;

	mgr = alloc_mb_mgr(0);
	if (mgr == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	init_mb_mgr_auto(mgr, &arch);
	if (imb_get_errno(mgr) != 0 || arch >= IMB_ARCH_NUM ||
	    imb_arch_names[arch] == NULL) {
		rc = -ENOTSUP;
		goto free_mgr;
	}
	c->mgr = mgr;
	c->name = imb_arch_names[arch];
	c->backend = BX_CRYPTO_BACKEND_IPSECMB;
	return 0;

free_mgr:
	free_mb_mgr(mgr);
out:
	return rc;
}

struct bx_crypto *
bx_crypto_create(enum bx_crypto_backend be, bool fips)
{
	struct bx_crypto *c = NULL;
	int err = 0;
	int rc;

	if (be != BX_CRYPTO_BACKEND_AUTO && be != BX_CRYPTO_BACKEND_IPSECMB &&
	    be != BX_CRYPTO_BACKEND_SODIUM) {
		err = EINVAL;
		goto fail;
	}
	/* libsodium is needed by every back end: tag comparison, wiping. */
	if (sodium_init() < 0) {
		err = ENOTSUP;
		goto fail;
	}
	if (posix_memalign((void **)&c, BX_CACHE_LINE, sizeof(*c)) != 0) {
		err = ENOMEM;
		goto fail;
	}
	memset(c, 0, sizeof(*c));
	c->fips = fips;

	if (be != BX_CRYPTO_BACKEND_SODIUM) {
		rc = imb_open(c);
		if (rc < 0 && be == BX_CRYPTO_BACKEND_IPSECMB) {
			err = -rc;
			goto free_c;
		}
	}
	if (c->mgr == NULL) {
		/* FIPS needs AES-256-GCM, which libsodium has only with AES-NI. */
		if (fips && !crypto_aead_aes256gcm_is_available()) {
			err = ENOTSUP;
			goto free_c;
		}
		c->name = sodium_name;
		c->backend = BX_CRYPTO_BACKEND_SODIUM;
	}
	return c;

free_c:
	free(c);
fail:
	errno = err;
	return NULL;
}

void
bx_crypto_free(struct bx_crypto *c)
{
	if (c == NULL)
		return;
	if (c->mgr != NULL)
		free_mb_mgr(c->mgr);
	/* The scratch holds the last burst's tags. */
	sodium_memzero(c, sizeof(*c));
	free(c);
}

const char *
bx_crypto_backend_name(const struct bx_crypto *c)
{
	return c->name;
}

enum bx_crypto_backend
bx_crypto_backend_of(const struct bx_crypto *c)
{
	return c->backend;
}

bool
bx_crypto_is_fips(const struct bx_crypto *c)
{
	return c->fips;
}

bool
bx_crypto_cipher_allowed(const struct bx_crypto *c, enum bx_crypto_cipher cipher)
{
	if (!cipher_valid(cipher))
		return false;
	return !c->fips || cipher == BX_CRYPTO_AES256_GCM;
}

size_t
bx_crypto_key_size(void)
{
	return sizeof(struct bx_crypto_key);
}

int
bx_crypto_key_init(struct bx_crypto *c, struct bx_crypto_key *k,
		   enum bx_crypto_cipher cipher, const uint8_t raw[BX_CRYPTO_KEY_LEN])
{
	if (c == NULL || k == NULL || raw == NULL || !cipher_valid(cipher) ||
	    ((uintptr_t)k % BX_CRYPTO_KEY_ALIGN) != 0)
		return -EINVAL;
	if (!bx_crypto_cipher_allowed(c, cipher))
		return -EPERM;
	if (cipher == BX_CRYPTO_AES256_GCM && c->mgr == NULL &&
	    !crypto_aead_aes256gcm_is_available())
		return -ENOTSUP;

	sodium_memzero(k, sizeof(*k));
	if (cipher == BX_CRYPTO_CHACHA20_POLY1305)
		memcpy(k->raw, raw, BX_CRYPTO_KEY_LEN);
	else if (c->mgr != NULL)
		IMB_AES256_GCM_PRE(c->mgr, raw, &k->gcm.imb);
	else
		crypto_aead_aes256gcm_beforenm(&k->gcm.sodium, raw);
	k->cipher = cipher;
	k->backend = c->backend;
	k->magic = CRYPTO_KEY_MAGIC;
	return 0;
}

void
bx_crypto_key_wipe(struct bx_crypto_key *k)
{
	if (k != NULL)
		sodium_memzero(k, sizeof(*k));
}

enum bx_crypto_cipher
bx_crypto_key_cipher(const struct bx_crypto_key *k)
{
	return k->cipher;
}

static bool
key_live(const struct bx_crypto_key *k)
{
	return k != NULL && k->magic == CRYPTO_KEY_MAGIC;
}

/* Arguments common to seal and open; true if the engine can use them. */
static bool
one_args_ok(const struct bx_crypto *c, const struct bx_crypto_key *k,
	    const uint8_t *nonce, const void *aad, size_t aad_len,
	    const void *buf, size_t len, const uint8_t *tag)
{
	return c != NULL && key_live(k) && k->backend == c->backend &&
	       bx_crypto_cipher_allowed(c, k->cipher) && nonce != NULL &&
	       tag != NULL && (aad != NULL || aad_len == 0) &&
	       (buf != NULL || len == 0);
}

int
bx_crypto_seal(struct bx_crypto *c, const struct bx_crypto_key *k,
	       const uint8_t nonce[BX_CRYPTO_NONCE_LEN],
	       const void *aad, size_t aad_len, void *buf, size_t len,
	       uint8_t tag[BX_CRYPTO_TAG_LEN])
{
	/* Back ends get real pointers even for empty inputs. */
	uint8_t empty = 0;

	if (!one_args_ok(c, k, nonce, aad, aad_len, buf, len, tag))
		return -EINVAL;
	if (aad == NULL)
		aad = &empty;
	if (buf == NULL)
		buf = &empty;
	if (c->mgr != NULL)
		return crypto_imb_seal_one(c, k, nonce, aad, aad_len, buf, len, tag);
	return crypto_sodium_seal_one(k, nonce, aad, aad_len, buf, len, tag);
}

int
bx_crypto_open(struct bx_crypto *c, const struct bx_crypto_key *k,
	       const uint8_t nonce[BX_CRYPTO_NONCE_LEN],
	       const void *aad, size_t aad_len, void *buf, size_t len,
	       const uint8_t tag[BX_CRYPTO_TAG_LEN])
{
	uint8_t empty = 0;

	if (!one_args_ok(c, k, nonce, aad, aad_len, buf, len, tag))
		return -EINVAL;
	if (aad == NULL)
		aad = &empty;
	if (buf == NULL)
		buf = &empty;
	if (c->mgr != NULL)
		return crypto_imb_open_one(c, k, nonce, aad, aad_len, buf, len, tag);
	return crypto_sodium_open_one(k, nonce, aad, aad_len, buf, len, tag);
}

/*
 * Why @m cannot be processed, before any crypto: it must be one segment
 * holding at least the header and @min_payload bytes after @hdr_off.
 */
static inline enum bx_drop_reason
burst_check(const struct rte_mbuf *m, const struct bx_crypto_key *k,
	    uint16_t hdr_off, uint32_t min_payload)
{
	if (BX_UNLIKELY(!key_live(k)))
		return BX_DROP_CRYPTO_NO_KEY;
	if (BX_UNLIKELY(m->nb_segs != 1))
		return BX_DROP_CRYPTO_SEGMENTED;
	if (BX_UNLIKELY((uint32_t)m->data_len <
			(uint32_t)hdr_off + BX_WIRE_HDR_LEN + min_payload))
		return BX_DROP_HDR_BAD_LEN;
	return BX_DROP_NONE;
}

static inline void
burst_add_op(struct crypto_op *op, const struct bx_crypto *c,
	     const struct bx_crypto_key *k, struct rte_mbuf *m,
	     uint16_t hdr_off, uint32_t trailer)
{
	BX_ASSERT_HOT(k->backend == c->backend);
	BX_ASSERT_HOT(bx_crypto_cipher_allowed(c, k->cipher));
	(void)c;
	op->key = k;
	op->hdr = rte_pktmbuf_mtod_offset(m, uint8_t *, hdr_off);
	op->len = (uint32_t)m->data_len - hdr_off - BX_WIRE_HDR_LEN - trailer;
}

/*
 * Keeps the packets whose reason is NONE first, in order, and moves the
 * others behind them, in order, with their reasons in why[].
 */
static uint16_t
burst_partition(struct rte_mbuf *pkts[], uint16_t n, const uint8_t reason[],
		uint8_t why[])
{
	struct rte_mbuf *bad[BX_CRYPTO_BURST_MAX];
	uint8_t bad_why[BX_CRYPTO_BURST_MAX];
	uint16_t good = 0, nbad = 0, i;

	for (i = 0; i < n; i++) {
		if (BX_LIKELY(reason[i] == BX_DROP_NONE)) {
			pkts[good++] = pkts[i];
		} else {
			bad[nbad] = pkts[i];
			bad_why[nbad++] = reason[i];
		}
	}
	for (i = 0; i < nbad; i++) {
		pkts[good + i] = bad[i];
		if (why != NULL)
			why[good + i] = bad_why[i];
	}
	return good;
}

/*
 * True if the burst can take the AES-256-GCM fast path: ipsec-mb, and
 * every key (when live) an AES-256-GCM one, as a node's keys all are.
 */
static inline bool
burst_gcm(const struct bx_crypto *c, const struct bx_crypto_key *const keys[],
	  uint16_t n)
{
	uint16_t i;

	if (c->mgr == NULL)
		return false;
	for (i = 0; i < n; i++)
		if (key_live(keys[i]) && keys[i]->cipher != BX_CRYPTO_AES256_GCM)
			return false;
	return true;
}

/*
 * The AES-256-GCM burst in one pass: each packet checked, sealed (or
 * opened and its tag compared) with ipsec-mb's direct call and resized,
 * without an op array or a job queue; reordered (burst_partition) only
 * if one failed. The same results as the general path below.
 */
static uint16_t
gcm_burst(struct bx_crypto *c, const struct bx_crypto_key *const keys[],
	  struct rte_mbuf *pkts[], uint16_t n, uint16_t hdr_off, bool seal,
	  uint8_t why[])
{
	struct gcm_context_data ctx;
	uint8_t reason[BX_CRYPTO_BURST_MAX];
	uint8_t iv[CRYPTO_IV_SLOT] __rte_aligned(CRYPTO_IV_SLOT);
	uint8_t tag[BX_CRYPTO_TAG_LEN];
	const uint32_t trailer = seal ? 0 : BX_CRYPTO_TAG_LEN;
	bool bad = false;
	uint16_t i;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		enum bx_drop_reason r = burst_check(m, keys[i], hdr_off, trailer);
		uint8_t *hdr;
		uint32_t len;

		if (r == BX_DROP_NONE && seal &&
		    rte_pktmbuf_tailroom(m) < BX_CRYPTO_TAG_LEN)
			r = BX_DROP_CRYPTO_NO_ROOM;
		reason[i] = (uint8_t)r;
		if (BX_UNLIKELY(r != BX_DROP_NONE)) {
			bad = true;
			continue;
		}
		BX_ASSERT_HOT(keys[i]->backend == c->backend);
		BX_ASSERT_HOT(bx_crypto_cipher_allowed(c, keys[i]->cipher));
		hdr = rte_pktmbuf_mtod_offset(m, uint8_t *, hdr_off);
		len = (uint32_t)m->data_len - hdr_off - BX_WIRE_HDR_LEN - trailer;
		if (seal) {
			crypto_imb_gcm(c->mgr, keys[i], &ctx, iv, hdr, len, true,
				       hdr + BX_WIRE_HDR_LEN + len);
			m->data_len += BX_CRYPTO_TAG_LEN;
			m->pkt_len += BX_CRYPTO_TAG_LEN;
			continue;
		}
		crypto_imb_gcm(c->mgr, keys[i], &ctx, iv, hdr, len, false, tag);
		if (BX_UNLIKELY(!crypto_tag_equal(tag, hdr + BX_WIRE_HDR_LEN + len))) {
			/* Decryption ran alongside authentication: never
			 * hand back plaintext of a forgery. */
			memset(hdr + BX_WIRE_HDR_LEN, 0, len);
			reason[i] = BX_DROP_CRYPTO_AUTH;
			bad = true;
			continue;
		}
		m->data_len -= BX_CRYPTO_TAG_LEN;
		m->pkt_len -= BX_CRYPTO_TAG_LEN;
	}
	/* The context holds the last packet's key stream and hash state. */
	sodium_memzero(&ctx, sizeof(ctx));
	return bad ? burst_partition(pkts, n, reason, why) : n;
}

/* Any burst: checked, then the back end's ops, then reordered. */
static uint16_t
ops_seal_burst(struct bx_crypto *c, const struct bx_crypto_key *const keys[],
	      struct rte_mbuf *pkts[], uint16_t n, uint16_t hdr_off,
	      uint8_t why[])
{
	struct crypto_op ops[BX_CRYPTO_BURST_MAX];
	uint8_t reason[BX_CRYPTO_BURST_MAX];
	uint8_t res[BX_CRYPTO_BURST_MAX];
	uint16_t idx[BX_CRYPTO_BURST_MAX];
	uint16_t i, nops = 0;

	BX_ASSERT(n <= BX_CRYPTO_BURST_MAX);
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		enum bx_drop_reason r = burst_check(m, keys[i], hdr_off, 0);

		if (r == BX_DROP_NONE && rte_pktmbuf_tailroom(m) < BX_CRYPTO_TAG_LEN)
			r = BX_DROP_CRYPTO_NO_ROOM;
		reason[i] = (uint8_t)r;
		if (r == BX_DROP_NONE) {
			burst_add_op(&ops[nops], c, keys[i], m, hdr_off, 0);
			idx[nops++] = i;
		}
	}

	if (c->mgr != NULL)
		crypto_imb_seal_ops(c, ops, nops, res);
	else
		crypto_sodium_seal_ops(ops, nops, res);

	for (i = 0; i < nops; i++) {
		struct rte_mbuf *m = pkts[idx[i]];

		reason[idx[i]] = res[i];
		if (BX_LIKELY(res[i] == BX_DROP_NONE)) {
			/* One segment (checked): the tag is in its tailroom. */
			m->data_len += BX_CRYPTO_TAG_LEN;
			m->pkt_len += BX_CRYPTO_TAG_LEN;
		}
	}
	return burst_partition(pkts, n, reason, why);
}

/* Any burst: checked, then the back end's ops, then reordered. */
static uint16_t
ops_open_burst(struct bx_crypto *c, const struct bx_crypto_key *const keys[],
	      struct rte_mbuf *pkts[], uint16_t n, uint16_t hdr_off,
	      uint8_t why[])
{
	struct crypto_op ops[BX_CRYPTO_BURST_MAX];
	uint8_t reason[BX_CRYPTO_BURST_MAX];
	uint8_t res[BX_CRYPTO_BURST_MAX];
	uint16_t idx[BX_CRYPTO_BURST_MAX];
	uint16_t i, nops = 0;

	BX_ASSERT(n <= BX_CRYPTO_BURST_MAX);
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		enum bx_drop_reason r = burst_check(m, keys[i], hdr_off,
						    BX_CRYPTO_TAG_LEN);

		reason[i] = (uint8_t)r;
		if (r == BX_DROP_NONE) {
			burst_add_op(&ops[nops], c, keys[i], m, hdr_off,
				     BX_CRYPTO_TAG_LEN);
			idx[nops++] = i;
		}
	}

	if (c->mgr != NULL)
		crypto_imb_open_ops(c, ops, nops, res);
	else
		crypto_sodium_open_ops(ops, nops, res);

	for (i = 0; i < nops; i++) {
		struct rte_mbuf *m = pkts[idx[i]];

		reason[idx[i]] = res[i];
		if (BX_LIKELY(res[i] == BX_DROP_NONE)) {
			m->data_len -= BX_CRYPTO_TAG_LEN;
			m->pkt_len -= BX_CRYPTO_TAG_LEN;
		}
	}
	return burst_partition(pkts, n, reason, why);
}

uint16_t
bx_crypto_seal_burst(struct bx_crypto *c,
		     const struct bx_crypto_key *const keys[],
		     struct rte_mbuf *pkts[], uint16_t n, uint16_t hdr_off,
		     uint8_t why[])
{
	BX_ASSERT(n <= BX_CRYPTO_BURST_MAX);
	if (burst_gcm(c, keys, n))
		return gcm_burst(c, keys, pkts, n, hdr_off, true, why);
	return ops_seal_burst(c, keys, pkts, n, hdr_off, why);
}

uint16_t
bx_crypto_open_burst(struct bx_crypto *c,
		     const struct bx_crypto_key *const keys[],
		     struct rte_mbuf *pkts[], uint16_t n, uint16_t hdr_off,
		     uint8_t why[])
{
	BX_ASSERT(n <= BX_CRYPTO_BURST_MAX);
	if (burst_gcm(c, keys, n))
		return gcm_burst(c, keys, pkts, n, hdr_off, false, why);
	return ops_open_burst(c, keys, pkts, n, hdr_off, why);
}
