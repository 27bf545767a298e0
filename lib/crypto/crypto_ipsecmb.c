/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel ipsec-mb back end: the job burst API for mbuf bursts, the direct
 * API for single buffers.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#include <sodium.h>

#include "crypto_priv.h"

/*
 * Every job is built here from checked mbufs and a live key: its pointers,
 * lengths, IV, tag length and chain order are valid by construction, and
 * only the payload bytes come from the network. Having ipsec-mb validate
 * each job again costs ~30 cycles per packet (131 -> 98 cycles for a
 * 64-byte AES-256-GCM seal on AVX512), a quarter of the work at small
 * sizes; debug builds, like BX_ASSERT_HOT, keep the check.
 */
#ifdef BX_DEBUG
#define CRYPTO_IMB_SUBMIT IMB_SUBMIT_BURST
#else
#define CRYPTO_IMB_SUBMIT IMB_SUBMIT_BURST_NOCHECK
#endif

/*
 * Fills @job for @op. @iv must outlive the job; @tag_out is where the
 * library writes the tag it computes (after the payload when sealing, a
 * scratch slot when opening so the received tag can be compared).
 */
static inline void
imb_fill_job(IMB_JOB *job, const struct crypto_op *op, const uint8_t *iv,
	     uint8_t *tag_out, IMB_CIPHER_DIRECTION dir, uint16_t idx)
{
	const struct bx_crypto_key *k = op->key;
	uint8_t *data = crypto_op_data(op);

	job->src = data;
	job->dst = data;
	job->cipher_start_src_offset_in_bytes = 0;
	job->msg_len_to_cipher_in_bytes = op->len;
	job->hash_start_src_offset_in_bytes = 0;
	job->msg_len_to_hash_in_bytes = op->len;
	job->iv = iv;
	job->iv_len_in_bytes = BX_CRYPTO_NONCE_LEN;
	job->auth_tag_output = tag_out;
	job->auth_tag_output_len_in_bytes = BX_CRYPTO_TAG_LEN;
	job->key_len_in_bytes = IMB_KEY_256_BYTES;
	job->cipher_direction = dir;
	/* AEAD: authenticate the ciphertext, i.e. after encrypting, before
	 * decrypting. */
	job->chain_order = dir == IMB_DIR_ENCRYPT ? IMB_ORDER_CIPHER_HASH :
						    IMB_ORDER_HASH_CIPHER;
	job->user_data = (void *)(uintptr_t)idx;
	if (k->cipher == BX_CRYPTO_AES256_GCM) {
		job->cipher_mode = IMB_CIPHER_GCM;
		job->hash_alg = IMB_AUTH_AES_GMAC;
		job->enc_keys = &k->gcm.imb;
		job->dec_keys = &k->gcm.imb;
		job->u.GCM.aad = op->hdr;
		job->u.GCM.aad_len_in_bytes = BX_WIRE_HDR_LEN;
	} else {
		job->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
		job->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
		job->enc_keys = k->raw;
		job->dec_keys = k->raw;
		job->u.CHACHA20_POLY1305.aad = op->hdr;
		job->u.CHACHA20_POLY1305.aad_len_in_bytes = BX_WIRE_HDR_LEN;
	}
}

/*
 * AES-256-GCM operations of a burst, one by one through the direct API.
 * The job manager runs GCM jobs one at a time anyway (VAES already fills
 * the vector units with one buffer; there are no lanes to batch into), so
 * for GCM a job only adds its filling and queueing: crypto-bench has the
 * direct API at 90 against 99 cycles for a 64-byte seal, 334 against 353
 * at 1400 bytes. Sets res[i] for the GCM operations and true in
 * direct[i]; the others are left to the jobs.
 */
static uint16_t
imb_gcm_direct(struct bx_crypto *c, const struct crypto_op *ops, uint16_t n,
	       IMB_CIPHER_DIRECTION dir, uint8_t res[], bool direct[])
{
	struct gcm_context_data ctx;
	uint16_t i, done = 0;

	for (i = 0; i < n; i++) {
		const struct crypto_op *op = &ops[i];

		direct[i] = op->key->cipher == BX_CRYPTO_AES256_GCM;
		if (!direct[i])
			continue;
		crypto_imb_gcm(c->mgr, op->key, &ctx, c->iv[i], op->hdr, op->len,
			       dir == IMB_DIR_ENCRYPT,
			       dir == IMB_DIR_ENCRYPT ? crypto_op_tag(op) : c->tag[i]);
		res[i] = BX_DROP_NONE;
		done++;
	}
	/* The context holds the last packet's key stream and hash state. */
	if (done > 0)
		sodium_memzero(&ctx, sizeof(ctx));
	return done;
}

/*
 * Runs @n operations and sets res[j] for each: AES-256-GCM directly
 * (imb_gcm_direct), the others as one burst of jobs. The queue is flushed
 * before returning, so it is empty at the start of every burst and
 * IMB_GET_NEXT_BURST grants all the jobs asked for; should it not, or
 * should a job fail, the operations concerned end in CRYPTO_ERROR.
 */
static void
imb_run(struct bx_crypto *c, const struct crypto_op *ops, uint16_t n,
	IMB_CIPHER_DIRECTION dir, uint8_t res[])
{
	IMB_MGR *mgr = c->mgr;
	IMB_JOB **jobs = c->jobs;
	bool direct[BX_CRYPTO_BURST_MAX];
	uint32_t want, got, done, i, k;

	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		res[i] = BX_DROP_CRYPTO_ERROR;
	want = n - imb_gcm_direct(c, ops, n, dir, res, direct);
	if (want == 0)
		return;

	got = IMB_GET_NEXT_BURST(mgr, want, jobs);
	for (i = 0, k = 0; k < got; i++) {
		uint8_t *tag_out;

		if (direct[i])
			continue;
		tag_out = dir == IMB_DIR_ENCRYPT ? crypto_op_tag(&ops[i]) : c->tag[i];
		crypto_nonce_from_hdr(c->iv[i], ops[i].hdr);
		imb_fill_job(jobs[k++], &ops[i], c->iv[i], tag_out, dir, (uint16_t)i);
	}

	done = CRYPTO_IMB_SUBMIT(mgr, got, jobs);
	if (BX_UNLIKELY(done == 0 && imb_get_errno(mgr) != 0)) {
		/* A job was refused (checked submit only) and none of the
		 * burst was submitted. Flushing the (empty) queue clears the
		 * manager's error. */
		IMB_FLUSH_BURST(mgr, 0, jobs);
		return;
	}
	if (done < got)
		done += IMB_FLUSH_BURST(mgr, got - done, jobs + done);

	for (i = 0; i < done; i++) {
		const IMB_JOB *job = jobs[i];
		uint16_t j = (uint16_t)(uintptr_t)job->user_data;

		if (BX_LIKELY(job->status == IMB_STATUS_COMPLETED))
			res[j] = BX_DROP_NONE;
	}
}

void
crypto_imb_seal_ops(struct bx_crypto *c, const struct crypto_op *ops,
		    uint16_t n, uint8_t res[])
{
	imb_run(c, ops, n, IMB_DIR_ENCRYPT, res);
}

void
crypto_imb_open_ops(struct bx_crypto *c, const struct crypto_op *ops,
		    uint16_t n, uint8_t res[])
{
	uint16_t j;

	imb_run(c, ops, n, IMB_DIR_DECRYPT, res);
	for (j = 0; j < n; j++) {
		if (res[j] != BX_DROP_NONE)
			continue;
		if (BX_UNLIKELY(!crypto_tag_equal(c->tag[j], crypto_op_tag(&ops[j])))) {
			/* Decryption ran alongside authentication: never
			 * hand back plaintext of a forgery. */
			memset(crypto_op_data(&ops[j]), 0, ops[j].len);
			res[j] = BX_DROP_CRYPTO_AUTH;
		}
	}
}

/*
 * The direct API reports bad arguments only through a process-global error
 * variable (in 1.3) that every lcore shares, so it cannot tell this call's
 * failure apart from another lcore's. bx_crypto_seal/open validate every
 * argument before calling here instead; the library has nothing to refuse.
 */
int
crypto_imb_seal_one(struct bx_crypto *c, const struct bx_crypto_key *k,
		    const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
		    uint8_t *buf, size_t len, uint8_t *tag)
{
	if (k->cipher == BX_CRYPTO_AES256_GCM) {
		struct gcm_context_data ctx;

		IMB_AES256_GCM_ENC(c->mgr, &k->gcm.imb, &ctx, buf, buf, len, nonce,
				   aad, aad_len, tag, BX_CRYPTO_TAG_LEN);
		/* The context holds key stream. */
		sodium_memzero(&ctx, sizeof(ctx));
	} else {
		struct chacha20_poly1305_context_data ctx;

		IMB_CHACHA20_POLY1305_INIT(c->mgr, k->raw, &ctx, nonce, aad, aad_len);
		IMB_CHACHA20_POLY1305_ENC_UPDATE(c->mgr, k->raw, &ctx, buf, buf, len);
		IMB_CHACHA20_POLY1305_ENC_FINALIZE(c->mgr, &ctx, tag, BX_CRYPTO_TAG_LEN);
		/* The context holds the one-time Poly1305 key and key stream. */
		sodium_memzero(&ctx, sizeof(ctx));
	}
	return 0;
}

int
crypto_imb_open_one(struct bx_crypto *c, const struct bx_crypto_key *k,
		    const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
		    uint8_t *buf, size_t len, const uint8_t *tag)
{
	uint8_t computed[BX_CRYPTO_TAG_LEN];
	int rc = 0;

	if (k->cipher == BX_CRYPTO_AES256_GCM) {
		struct gcm_context_data ctx;

		IMB_AES256_GCM_DEC(c->mgr, &k->gcm.imb, &ctx, buf, buf, len, nonce,
				   aad, aad_len, computed, sizeof(computed));
		sodium_memzero(&ctx, sizeof(ctx));
	} else {
		struct chacha20_poly1305_context_data ctx;

		IMB_CHACHA20_POLY1305_INIT(c->mgr, k->raw, &ctx, nonce, aad, aad_len);
		IMB_CHACHA20_POLY1305_DEC_UPDATE(c->mgr, k->raw, &ctx, buf, buf, len);
		IMB_CHACHA20_POLY1305_DEC_FINALIZE(c->mgr, &ctx, computed,
						   sizeof(computed));
		sodium_memzero(&ctx, sizeof(ctx));
	}
	if (crypto_verify_16(computed, tag) != 0) {
		memset(buf, 0, len);
		rc = -EBADMSG;
	}
	return rc;
}
