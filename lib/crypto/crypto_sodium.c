/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libsodium back end: the reference, and the fallback on CPUs ipsec-mb
 * cannot serve. One detached AEAD call per buffer.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "crypto_priv.h"

int
crypto_sodium_seal_one(const struct bx_crypto_key *k, const uint8_t *nonce,
		       const uint8_t *aad, size_t aad_len, uint8_t *buf,
		       size_t len, uint8_t *tag)
{
	int rc;

	if (k->cipher == BX_CRYPTO_AES256_GCM)
		rc = crypto_aead_aes256gcm_encrypt_detached_afternm(
			buf, tag, NULL, buf, len, aad, aad_len, NULL, nonce,
			&k->gcm.sodium);
	else
		rc = crypto_aead_chacha20poly1305_ietf_encrypt_detached(
			buf, tag, NULL, buf, len, aad, aad_len, NULL, nonce, k->raw);
	/* libsodium refuses only messages beyond the cipher's limit. */
	return rc == 0 ? 0 : -EINVAL;
}

int
crypto_sodium_open_one(const struct bx_crypto_key *k, const uint8_t *nonce,
		       const uint8_t *aad, size_t aad_len, uint8_t *buf,
		       size_t len, const uint8_t *tag)
{
	int rc;

	if (k->cipher == BX_CRYPTO_AES256_GCM)
		rc = crypto_aead_aes256gcm_decrypt_detached_afternm(
			buf, NULL, buf, len, tag, aad, aad_len, nonce,
			&k->gcm.sodium);
	else
		rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
			buf, NULL, buf, len, tag, aad, aad_len, nonce, k->raw);
	if (rc != 0) {
		/* Whatever libsodium left in place is not authentic. */
		memset(buf, 0, len);
		return -EBADMSG;
	}
	return 0;
}

void
crypto_sodium_seal_ops(const struct crypto_op *ops, uint16_t n, uint8_t res[])
{
	uint8_t nonce[CRYPTO_IV_SLOT];
	uint16_t j;

	for (j = 0; j < n; j++) {
		const struct crypto_op *op = &ops[j];

		crypto_nonce_from_hdr(nonce, op->hdr);
		res[j] = crypto_sodium_seal_one(op->key, nonce, op->hdr,
						BX_WIRE_HDR_LEN, crypto_op_data(op),
						op->len, crypto_op_tag(op)) == 0 ?
				 BX_DROP_NONE :
				 BX_DROP_CRYPTO_ERROR;
	}
}

void
crypto_sodium_open_ops(const struct crypto_op *ops, uint16_t n, uint8_t res[])
{
	uint8_t nonce[CRYPTO_IV_SLOT];
	uint16_t j;

	for (j = 0; j < n; j++) {
		const struct crypto_op *op = &ops[j];

		crypto_nonce_from_hdr(nonce, op->hdr);
		res[j] = crypto_sodium_open_one(op->key, nonce, op->hdr,
						BX_WIRE_HDR_LEN, crypto_op_data(op),
						op->len, crypto_op_tag(op)) == 0 ?
				 BX_DROP_NONE :
				 BX_DROP_CRYPTO_AUTH;
	}
}
