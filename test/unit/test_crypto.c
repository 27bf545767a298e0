/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/crypto: golden vectors (RFC 8439, GCM spec), ipsec-mb against
 * libsodium byte for byte, tampering, the mbuf bursts and FIPS mode.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_byteorder.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <sodium.h>

#include "bx_common.h"
#include "bx_crypto.h"
#include "bx_test_eal.h"
#include "bx_wire.h"

#define POOL_SIZE 255u
#define MAX_VEC 256u
#define CROSS_MAX_LEN 2048u
#define OUTER_OFF BX_WIRE_OUTER_LEN /* datagrams start after Eth/IPv4/UDP */
#define TAMPER_PAYLOAD 100u
#define E2E_BURST 32u

static const enum bx_crypto_backend backends[] = {
	BX_CRYPTO_BACKEND_IPSECMB,
	BX_CRYPTO_BACKEND_SODIUM,
};
static const enum bx_crypto_cipher ciphers[] = {
	BX_CRYPTO_CHACHA20_POLY1305,
	BX_CRYPTO_AES256_GCM,
};

static struct {
	struct rte_mempool *pool;
	struct bx_crypto *eng[BX_ARRAY_SIZE(backends)];
} g;

static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2, i;

	assert_true(n <= cap);
	for (i = 0; i < n; i++) {
		unsigned int byte;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
		out[i] = (uint8_t)byte;
	}
	return n;
}

static struct bx_crypto_key *
key_new(struct bx_crypto *c, enum bx_crypto_cipher cipher,
	const uint8_t raw[BX_CRYPTO_KEY_LEN])
{
	struct bx_crypto_key *k = aligned_alloc(BX_CRYPTO_KEY_ALIGN,
						bx_crypto_key_size());

	assert_non_null(k);
	assert_int_equal(bx_crypto_key_init(c, k, cipher, raw), 0);
	return k;
}

static void
key_free(struct bx_crypto_key *k)
{
	bx_crypto_key_wipe(k);
	free(k);
}

/* A data datagram at OUTER_OFF: mesh header with @counter, then @len
 * payload bytes following @seed. */
static struct rte_mbuf *
pkt_new(uint64_t counter, uint16_t len, uint8_t seed)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(g.pool);
	struct bx_wire_hdr *h;
	uint8_t *p;
	uint16_t i;

	assert_non_null(m);
	p = (uint8_t *)rte_pktmbuf_append(m, OUTER_OFF + BX_WIRE_HDR_LEN + len);
	assert_non_null(p);
	memset(p, 0xee, OUTER_OFF);
	h = (struct bx_wire_hdr *)(p + OUTER_OFF);
	h->tag_ver_type = BX_WIRE_TAG | (BX_WIRE_VERSION << BX_WIRE_VERSION_SHIFT) |
			  BX_WIRE_DATA;
	h->flags = 0;
	h->lane = BX_LANE_BULK;
	h->path_id = 3;
	h->rx_index = rte_cpu_to_be_32(0x01020304u);
	h->counter = rte_cpu_to_be_64(counter);
	for (i = 0; i < len; i++)
		p[OUTER_OFF + BX_WIRE_HDR_LEN + i] = (uint8_t)(seed + i * 7u);
	return m;
}

static uint8_t *
pkt_payload(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, uint8_t *, OUTER_OFF + BX_WIRE_HDR_LEN);
}

static void
assert_plain(struct rte_mbuf *m, uint16_t len, uint8_t seed)
{
	const uint8_t *p = pkt_payload(m);
	uint16_t i;

	assert_int_equal(m->data_len, OUTER_OFF + BX_WIRE_HDR_LEN + len);
	assert_int_equal(m->pkt_len, m->data_len);
	for (i = 0; i < len; i++)
		assert_int_equal(p[i], (uint8_t)(seed + i * 7u));
}

static void
pkts_free(struct rte_mbuf *pkts[], unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		rte_pktmbuf_free(pkts[i]);
}

static int
group_setup(void **state)
{
	size_t i;

	(void)state;
	if (bx_test_eal_init("0") != 0)
		return -1;
	g.pool = rte_pktmbuf_pool_create("crypto_test", POOL_SIZE, 0, 0,
					 RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (g.pool == NULL)
		return -1;
	for (i = 0; i < BX_ARRAY_SIZE(backends); i++) {
		g.eng[i] = bx_crypto_create(backends[i], false);
		if (g.eng[i] == NULL)
			return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(backends); i++)
		bx_crypto_free(g.eng[i]);
	rte_mempool_free(g.pool);
	rte_eal_cleanup();
	return 0;
}

static void
test_cipher_names(void **state)
{
	static const struct {
		const char *name;
		int rc;
		enum bx_crypto_cipher cipher;
	} cases[] = {
		{ "chacha20-poly1305", 0, BX_CRYPTO_CHACHA20_POLY1305 },
		{ "aes-256-gcm", 0, BX_CRYPTO_AES256_GCM },
		{ "", -EINVAL, 0 },
		{ "AES-256-GCM", -EINVAL, 0 },
		{ "aes-128-gcm", -EINVAL, 0 },
		{ "chacha20", -EINVAL, 0 },
		{ "chacha20-poly1305 ", -EINVAL, 0 },
		{ "xchacha20-poly1305", -EINVAL, 0 },
	};
	enum bx_crypto_cipher out;
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		out = (enum bx_crypto_cipher)77;
		assert_int_equal(bx_crypto_cipher_parse(cases[i].name, &out), cases[i].rc);
		if (cases[i].rc == 0) {
			assert_int_equal(out, cases[i].cipher);
			assert_string_equal(bx_crypto_cipher_name(out), cases[i].name);
		} else {
			assert_int_equal(out, 77);
		}
	}
	assert_int_equal(bx_crypto_cipher_parse(NULL, &out), -EINVAL);
	assert_string_equal(bx_crypto_cipher_name((enum bx_crypto_cipher)9), "unknown");
}

static void
test_backend_choice(void **state)
{
	struct bx_crypto *c;

	(void)state;
	/* This CPU kind has AES-NI and AVX: AUTO must take ipsec-mb. */
	c = bx_crypto_create(BX_CRYPTO_BACKEND_AUTO, false);
	assert_non_null(c);
	assert_int_equal(bx_crypto_backend_of(c), BX_CRYPTO_BACKEND_IPSECMB);
	assert_memory_equal(bx_crypto_backend_name(c), "ipsec-mb/", 9);
	assert_false(bx_crypto_is_fips(c));
	bx_crypto_free(c);

	assert_string_equal(bx_crypto_backend_name(g.eng[1]), "libsodium");
	assert_int_equal(bx_crypto_backend_of(g.eng[1]), BX_CRYPTO_BACKEND_SODIUM);

	errno = 0;
	assert_null(bx_crypto_create((enum bx_crypto_backend)42, false));
	assert_int_equal(errno, EINVAL);
	bx_crypto_free(NULL);
}

struct aead_vector {
	const char *name;
	enum bx_crypto_cipher cipher;
	const char *key;
	const char *nonce;
	const char *aad;
	const char *pt_hex;  /* or pt_text */
	const char *pt_text;
	const char *ct;
	const char *tag;
};

static const char gcm_spec_pt[] =
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
static const char gcm_spec_ct[] =
	"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	"8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad";
static const char gcm_spec_key[] =
	"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
static const char zero_key[] =
	"0000000000000000000000000000000000000000000000000000000000000000";

static const struct aead_vector vectors[] = {
	{
		.name = "RFC 8439 2.8.2",
		.cipher = BX_CRYPTO_CHACHA20_POLY1305,
		.key = "808182838485868788898a8b8c8d8e8f"
		       "909192939495969798999a9b9c9d9e9f",
		.nonce = "070000004041424344454647",
		.aad = "50515253c0c1c2c3c4c5c6c7",
		.pt_text = "Ladies and Gentlemen of the class of '99: If I could "
			   "offer you only one tip for the future, sunscreen "
			   "would be it.",
		.ct = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
		      "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
		      "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
		      "3ff4def08e4b7a9de576d26586cec64b6116",
		.tag = "1ae10b594f09e26a7e902ecbd0600691",
	},
	{
		.name = "GCM test case 13",
		.cipher = BX_CRYPTO_AES256_GCM,
		.key = zero_key,
		.nonce = "000000000000000000000000",
		.aad = "",
		.pt_hex = "",
		.ct = "",
		.tag = "530f8afbc74536b9a963b4f1c4cb738b",
	},
	{
		.name = "GCM test case 14",
		.cipher = BX_CRYPTO_AES256_GCM,
		.key = zero_key,
		.nonce = "000000000000000000000000",
		.aad = "",
		.pt_hex = "00000000000000000000000000000000",
		.ct = "cea7403d4d606b6e074ec5d3baf39d18",
		.tag = "d0d1c8a799996bf0265b98b5d48ab919",
	},
	{
		.name = "GCM test case 15",
		.cipher = BX_CRYPTO_AES256_GCM,
		.key = gcm_spec_key,
		.nonce = "cafebabefacedbaddecaf888",
		.aad = "",
		.pt_hex = gcm_spec_pt,
		.ct = gcm_spec_ct,
		.tag = "b094dac5d93471bdec1a502270e3cc6c",
	},
	{
		.name = "GCM test case 16",
		.cipher = BX_CRYPTO_AES256_GCM,
		.key = gcm_spec_key,
		.nonce = "cafebabefacedbaddecaf888",
		.aad = "feedfacedeadbeeffeedfacedeadbeefabaddad2",
		/* the first 60 bytes of test case 15 */
		.pt_hex = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
			  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
		.ct = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
		      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
		.tag = "76fc6ece0f4e1768cddf8853bb2d551b",
	},
};

static void
check_vector(struct bx_crypto *c, const struct aead_vector *v)
{
	uint8_t key[BX_CRYPTO_KEY_LEN], nonce[BX_CRYPTO_NONCE_LEN];
	uint8_t aad[MAX_VEC], pt[MAX_VEC], ct[MAX_VEC], buf[MAX_VEC];
	uint8_t tag[BX_CRYPTO_TAG_LEN], want_tag[BX_CRYPTO_TAG_LEN];
	struct bx_crypto_key *k;
	size_t aad_len, pt_len, ct_len;

	print_message("# %s on %s\n", v->name, bx_crypto_backend_name(c));
	assert_int_equal(unhex(v->key, key, sizeof(key)), sizeof(key));
	assert_int_equal(unhex(v->nonce, nonce, sizeof(nonce)), sizeof(nonce));
	assert_int_equal(unhex(v->tag, want_tag, sizeof(want_tag)), sizeof(want_tag));
	aad_len = unhex(v->aad, aad, sizeof(aad));
	if (v->pt_text != NULL) {
		pt_len = strlen(v->pt_text);
		memcpy(pt, v->pt_text, pt_len);
	} else {
		pt_len = unhex(v->pt_hex, pt, sizeof(pt));
	}
	ct_len = unhex(v->ct, ct, sizeof(ct));
	assert_int_equal(ct_len, pt_len);

	k = key_new(c, v->cipher, key);
	memcpy(buf, pt, pt_len);
	assert_int_equal(bx_crypto_seal(c, k, nonce, aad, aad_len, buf, pt_len, tag), 0);
	assert_memory_equal(buf, ct, ct_len);
	assert_memory_equal(tag, want_tag, sizeof(tag));

	assert_int_equal(bx_crypto_open(c, k, nonce, aad, aad_len, buf, ct_len, want_tag), 0);
	if (pt_len > 0)
		assert_memory_equal(buf, pt, pt_len);

	/* A wrong tag is refused and leaves no plaintext behind. */
	memcpy(buf, ct, ct_len);
	want_tag[BX_CRYPTO_TAG_LEN - 1] ^= 0x01;
	assert_int_equal(bx_crypto_open(c, k, nonce, aad, aad_len, buf, ct_len, want_tag),
			 -EBADMSG);
	assert_true(ct_len == 0 || sodium_is_zero(buf, ct_len));
	key_free(k);
}

static void
test_golden_vectors(void **state)
{
	size_t e, v;

	(void)state;
	for (e = 0; e < BX_ARRAY_SIZE(backends); e++)
		for (v = 0; v < BX_ARRAY_SIZE(vectors); v++)
			check_vector(g.eng[e], &vectors[v]);
}

/* Both back ends agree byte for byte on every length up to a jumbo
 * payload, and each opens what the other sealed. */
static void
test_cross_check(void **state)
{
	static uint8_t pt[CROSS_MAX_LEN], a[CROSS_MAX_LEN], b[CROSS_MAX_LEN];
	uint8_t raw[BX_CRYPTO_KEY_LEN], nonce[BX_CRYPTO_NONCE_LEN], aad[BX_WIRE_HDR_LEN];
	uint8_t tag_a[BX_CRYPTO_TAG_LEN], tag_b[BX_CRYPTO_TAG_LEN];
	struct bx_crypto *ca = g.eng[0], *cb = g.eng[1];
	size_t ci, len;

	(void)state;
	for (ci = 0; ci < BX_ARRAY_SIZE(ciphers); ci++) {
		struct bx_crypto_key *ka, *kb;

		randombytes_buf(raw, sizeof(raw));
		ka = key_new(ca, ciphers[ci], raw);
		kb = key_new(cb, ciphers[ci], raw);
		for (len = 0; len <= CROSS_MAX_LEN; len++) {
			size_t aad_len = len % (sizeof(aad) + 1);

			randombytes_buf(nonce, sizeof(nonce));
			randombytes_buf(aad, sizeof(aad));
			randombytes_buf(pt, len);
			memcpy(a, pt, len);
			memcpy(b, pt, len);
			assert_int_equal(bx_crypto_seal(ca, ka, nonce, aad, aad_len, a, len, tag_a), 0);
			assert_int_equal(bx_crypto_seal(cb, kb, nonce, aad, aad_len, b, len, tag_b), 0);
			assert_memory_equal(tag_a, tag_b, sizeof(tag_a));
			if (len > 0)
				assert_memory_equal(a, b, len);

			assert_int_equal(bx_crypto_open(cb, kb, nonce, aad, aad_len, a, len, tag_a), 0);
			assert_int_equal(bx_crypto_open(ca, ka, nonce, aad, aad_len, b, len, tag_b), 0);
			if (len > 0) {
				assert_memory_equal(a, pt, len);
				assert_memory_equal(b, pt, len);
			}
		}
		key_free(ka);
		key_free(kb);
	}
}

/* The burst nonce is 4 zero bytes || the header's counter as on the wire,
 * the AAD the 16-byte header: open a burst-sealed datagram by hand. */
static void
test_burst_nonce_layout(void **state)
{
	static const uint8_t nonce[BX_CRYPTO_NONCE_LEN] = {
		0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
	};
	const uint64_t counter = 0x1122334455667788ull;
	uint8_t raw[BX_CRYPTO_KEY_LEN];
	const uint16_t len = 77;
	size_t e, ci;

	(void)state;
	randombytes_buf(raw, sizeof(raw));
	for (e = 0; e < BX_ARRAY_SIZE(backends); e++) {
		for (ci = 0; ci < BX_ARRAY_SIZE(ciphers); ci++) {
			struct bx_crypto_key *k = key_new(g.eng[e], ciphers[ci], raw);
			const struct bx_crypto_key *keys[1] = { k };
			struct rte_mbuf *m = pkt_new(counter, len, 9);
			uint8_t *hdr = rte_pktmbuf_mtod_offset(m, uint8_t *, OUTER_OFF);

			assert_int_equal(bx_crypto_seal_burst(g.eng[e], keys, &m, 1,
							      OUTER_OFF, NULL), 1);
			assert_int_equal(m->data_len, OUTER_OFF + BX_WIRE_HDR_LEN + len +
							      BX_CRYPTO_TAG_LEN);
			assert_int_equal(bx_crypto_open(g.eng[e], k, nonce, hdr, BX_WIRE_HDR_LEN,
							pkt_payload(m), len, pkt_payload(m) + len), 0);
			assert_int_equal(rte_pktmbuf_trim(m, BX_CRYPTO_TAG_LEN), 0);
			assert_plain(m, len, 9);
			rte_pktmbuf_free(m);
			key_free(k);
		}
	}
}

/*
 * A burst that mixes the two ciphers (keys of both, in turn, with a
 * failing packet among them): the ipsec-mb engine seals AES-256-GCM
 * directly and ChaCha20-Poly1305 as jobs, so every packet must still get
 * its own key, nonce and verdict. Each engine's burst opens with the
 * other engine, one packet at a time, and back through its own burst.
 */
static void
test_burst_mixed_ciphers(void **state)
{
	enum { N = 9, LEN = 100 };
	uint8_t raw[2][BX_CRYPTO_KEY_LEN];
	size_t e;
	unsigned i;

	(void)state;
	randombytes_buf(raw, sizeof(raw));
	for (e = 0; e < BX_ARRAY_SIZE(backends); e++) {
		struct bx_crypto *c = g.eng[e], *other = g.eng[1 - e];
		struct bx_crypto_key *k[2], *ko[2];
		const struct bx_crypto_key *keys[N];
		struct rte_mbuf *pkts[N], *bad;
		uint8_t why[N];

		for (i = 0; i < 2; i++) {
			k[i] = key_new(c, ciphers[i], raw[i]);
			ko[i] = key_new(other, ciphers[i], raw[i]);
		}
		for (i = 0; i < N; i++) {
			keys[i] = k[i % 2];
			pkts[i] = pkt_new(100 + i, LEN, (uint8_t)i);
		}
		/* Packet 4 has no room for its tag: it alone fails. */
		bad = pkts[4];
		bad->data_len = bad->pkt_len = (uint16_t)(bad->buf_len - bad->data_off);
		assert_int_equal(bx_crypto_seal_burst(c, keys, pkts, N, OUTER_OFF, why), N - 1);
		assert_ptr_equal(pkts[N - 1], bad);
		assert_int_equal(why[N - 1], BX_DROP_CRYPTO_NO_ROOM);
		for (i = 0; i < N - 1; i++) {
			unsigned orig = i < 4 ? i : i + 1;
			uint8_t *hdr = rte_pktmbuf_mtod_offset(pkts[i], uint8_t *, OUTER_OFF);
			uint8_t nonce[BX_CRYPTO_NONCE_LEN] = { 0 };
			uint8_t copy[BX_WIRE_HDR_LEN + LEN + BX_CRYPTO_TAG_LEN];

			memcpy(nonce + 4, hdr + BX_WIRE_HDR_LEN - 8, 8);
			memcpy(copy, hdr, sizeof(copy));
			assert_int_equal(bx_crypto_open(other, ko[orig % 2], nonce, copy,
							BX_WIRE_HDR_LEN, copy + BX_WIRE_HDR_LEN,
							LEN, copy + BX_WIRE_HDR_LEN + LEN), 0);
			keys[i] = k[orig % 2];
		}
		assert_int_equal(bx_crypto_open_burst(c, keys, pkts, N - 1, OUTER_OFF, why),
				 N - 1);
		/* Opened: the tags are off again, the plaintext back. */
		for (i = 0; i < N - 1; i++) {
			unsigned orig = i < 4 ? i : i + 1;

			assert_plain(pkts[i], LEN, (uint8_t)orig);
		}
		pkts_free(pkts, N);
		for (i = 0; i < 2; i++) {
			key_free(k[i]);
			key_free(ko[i]);
		}
	}
}

/*
 * Flipping any one authenticated byte -- mesh header, ciphertext, tag --
 * fails open with CRYPTO_AUTH; the packet moves behind the good ones of
 * its burst and its payload is zeroed.
 */
static void
tamper_one(struct bx_crypto *c, const struct bx_crypto_key *k)
{
	const struct bx_crypto_key *keys[3] = { k, k, k };
	const uint16_t span = BX_WIRE_HDR_LEN + TAMPER_PAYLOAD + BX_CRYPTO_TAG_LEN;
	uint8_t sealed[OUTER_OFF + BX_WIRE_HDR_LEN + TAMPER_PAYLOAD + BX_CRYPTO_TAG_LEN];
	struct rte_mbuf *pkts[3];
	uint8_t why[3];
	uint16_t pos;

	pkts[0] = pkt_new(41, TAMPER_PAYLOAD, 1);
	pkts[1] = pkt_new(42, TAMPER_PAYLOAD, 2);
	pkts[2] = pkt_new(43, TAMPER_PAYLOAD, 3);
	assert_int_equal(bx_crypto_seal_burst(c, keys, pkts, 3, OUTER_OFF, NULL), 3);
	assert_int_equal(pkts[1]->data_len, sizeof(sealed));
	memcpy(sealed, rte_pktmbuf_mtod(pkts[1], uint8_t *), sizeof(sealed));

	for (pos = 0; pos < span; pos++) {
		struct rte_mbuf *a = pkts[0], *victim = pkts[1], *b = pkts[2];
		uint8_t *p = rte_pktmbuf_mtod(victim, uint8_t *);

		memcpy(p, sealed, sizeof(sealed));
		victim->data_len = sizeof(sealed);
		victim->pkt_len = sizeof(sealed);
		p[OUTER_OFF + pos] ^= 0x01;
		why[2] = BX_DROP_NONE;

		assert_int_equal(bx_crypto_open_burst(c, keys, pkts, 3, OUTER_OFF, why), 2);
		assert_ptr_equal(pkts[0], a);
		assert_ptr_equal(pkts[1], b);
		assert_ptr_equal(pkts[2], victim);
		assert_int_equal(why[2], BX_DROP_CRYPTO_AUTH);
		assert_int_equal(victim->data_len, sizeof(sealed));
		assert_true(sodium_is_zero(p + OUTER_OFF + BX_WIRE_HDR_LEN, TAMPER_PAYLOAD));
		assert_plain(a, TAMPER_PAYLOAD, 1);
		assert_plain(b, TAMPER_PAYLOAD, 3);

		/* Seal the good ones again and restore the burst order. */
		assert_int_equal(bx_crypto_seal_burst(c, keys, pkts, 2, OUTER_OFF, NULL), 2);
		pkts[0] = a;
		pkts[1] = victim;
		pkts[2] = b;
	}
	/* Untampered, the saved datagram opens. */
	memcpy(rte_pktmbuf_mtod(pkts[1], uint8_t *), sealed, sizeof(sealed));
	assert_int_equal(bx_crypto_open_burst(c, keys, pkts, 3, OUTER_OFF, why), 3);
	assert_plain(pkts[1], TAMPER_PAYLOAD, 2);
	pkts_free(pkts, 3);
}

static void
test_tamper(void **state)
{
	uint8_t raw[BX_CRYPTO_KEY_LEN];
	size_t e, ci;

	(void)state;
	randombytes_buf(raw, sizeof(raw));
	for (e = 0; e < BX_ARRAY_SIZE(backends); e++) {
		for (ci = 0; ci < BX_ARRAY_SIZE(ciphers); ci++) {
			struct bx_crypto_key *k = key_new(g.eng[e], ciphers[ci], raw);

			tamper_one(g.eng[e], k);
			key_free(k);
		}
	}
}

/* 32 packets of mixed sizes under two keys of different ciphers: each
 * ciphertext equals the single-buffer result, and open restores all. */
static void
burst_round_trip(struct bx_crypto *c)
{
	static const uint16_t lens[E2E_BURST] = {
		0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255,
		256, 257, 511, 512, 513, 777, 1000, 1023, 1024, 1025, 1279, 1280,
		1350, 1399, 1400, 1500,
	};
	uint8_t raw_a[BX_CRYPTO_KEY_LEN], raw_b[BX_CRYPTO_KEY_LEN];
	struct bx_crypto_key *ka, *kb;
	const struct bx_crypto_key *keys[E2E_BURST];
	struct rte_mbuf *pkts[E2E_BURST], *orig[E2E_BURST];
	uint8_t why[E2E_BURST];
	unsigned int i;

	randombytes_buf(raw_a, sizeof(raw_a));
	randombytes_buf(raw_b, sizeof(raw_b));
	ka = key_new(c, BX_CRYPTO_CHACHA20_POLY1305, raw_a);
	kb = key_new(c, BX_CRYPTO_AES256_GCM, raw_b);
	for (i = 0; i < E2E_BURST; i++) {
		keys[i] = (i % 3 == 0) ? kb : ka;
		pkts[i] = pkt_new(1000 + i, lens[i], (uint8_t)i);
		orig[i] = pkts[i];
	}

	assert_int_equal(bx_crypto_seal_burst(c, keys, pkts, E2E_BURST, OUTER_OFF, why),
			 E2E_BURST);
	for (i = 0; i < E2E_BURST; i++) {
		struct rte_mbuf *ref = pkt_new(1000 + i, lens[i], (uint8_t)i);
		uint8_t nonce[BX_CRYPTO_NONCE_LEN] = { 0 };
		uint8_t tag[BX_CRYPTO_TAG_LEN];
		uint8_t *hdr = rte_pktmbuf_mtod_offset(ref, uint8_t *, OUTER_OFF);

		assert_ptr_equal(pkts[i], orig[i]);
		assert_int_equal(pkts[i]->data_len, OUTER_OFF + BX_WIRE_HDR_LEN + lens[i] +
							    BX_CRYPTO_TAG_LEN);
		assert_int_equal(pkts[i]->pkt_len, pkts[i]->data_len);
		memcpy(nonce + 4, hdr + 8, 8);
		assert_int_equal(bx_crypto_seal(c, keys[i], nonce, hdr, BX_WIRE_HDR_LEN,
						pkt_payload(ref), lens[i], tag), 0);
		assert_memory_equal(rte_pktmbuf_mtod(pkts[i], uint8_t *),
				    rte_pktmbuf_mtod(ref, uint8_t *),
				    OUTER_OFF + BX_WIRE_HDR_LEN + lens[i]);
		assert_memory_equal(pkt_payload(pkts[i]) + lens[i], tag, sizeof(tag));
		rte_pktmbuf_free(ref);
	}

	assert_int_equal(bx_crypto_open_burst(c, keys, pkts, E2E_BURST, OUTER_OFF, why),
			 E2E_BURST);
	for (i = 0; i < E2E_BURST; i++) {
		assert_ptr_equal(pkts[i], orig[i]);
		assert_plain(pkts[i], lens[i], (uint8_t)i);
	}

	/* The wrong key of the two fails open; the right one still opens. */
	assert_int_equal(bx_crypto_seal_burst(c, keys, pkts, E2E_BURST, OUTER_OFF, NULL),
			 E2E_BURST);
	keys[4] = kb;
	keys[7] = kb;
	assert_int_equal(bx_crypto_open_burst(c, keys, pkts, E2E_BURST, OUTER_OFF, why),
			 E2E_BURST - 2);
	assert_ptr_equal(pkts[E2E_BURST - 2], orig[4]);
	assert_ptr_equal(pkts[E2E_BURST - 1], orig[7]);
	assert_int_equal(why[E2E_BURST - 2], BX_DROP_CRYPTO_AUTH);
	assert_int_equal(why[E2E_BURST - 1], BX_DROP_CRYPTO_AUTH);
	assert_ptr_equal(pkts[4], orig[5]);
	assert_plain(pkts[4], lens[5], 5);

	pkts_free(pkts, E2E_BURST);
	key_free(ka);
	key_free(kb);
}

static void
test_burst_round_trip(void **state)
{
	size_t e;

	(void)state;
	for (e = 0; e < BX_ARRAY_SIZE(backends); e++)
		burst_round_trip(g.eng[e]);
}

enum pkt_kind { GOOD, NO_KEY, WIPED_KEY, SEGMENTED, SHORT, NO_ROOM, TRUNCATED, FORGED };

/* What seal and then open of each packet of one burst must say. */
static const struct {
	enum pkt_kind kind;
	uint8_t seal_why; /* BX_DROP_NONE: good */
	uint8_t open_why;
} failure_table[] = {
	{ GOOD, BX_DROP_NONE, BX_DROP_NONE },
	{ NO_KEY, BX_DROP_CRYPTO_NO_KEY, BX_DROP_CRYPTO_NO_KEY },
	{ GOOD, BX_DROP_NONE, BX_DROP_NONE },
	{ SEGMENTED, BX_DROP_CRYPTO_SEGMENTED, BX_DROP_CRYPTO_SEGMENTED },
	{ SHORT, BX_DROP_HDR_BAD_LEN, BX_DROP_HDR_BAD_LEN },
	{ GOOD, BX_DROP_NONE, BX_DROP_NONE },
	/* never sealed, so open finds a garbage tag */
	{ NO_ROOM, BX_DROP_CRYPTO_NO_ROOM, BX_DROP_CRYPTO_AUTH },
	{ WIPED_KEY, BX_DROP_CRYPTO_NO_KEY, BX_DROP_CRYPTO_NO_KEY },
	/* cut below header + tag between seal and open */
	{ TRUNCATED, BX_DROP_NONE, BX_DROP_HDR_BAD_LEN },
	{ FORGED, BX_DROP_NONE, BX_DROP_CRYPTO_AUTH },
	{ GOOD, BX_DROP_NONE, BX_DROP_NONE },
};
#define FAILURE_N BX_ARRAY_SIZE(failure_table)

/* The burst kept the good packets of @before first and in order, then the
 * bad ones in order with their reasons; why[] of good ones untouched. */
static void
assert_partition(struct rte_mbuf *const pkts[], struct rte_mbuf *const before[],
		 const uint8_t why[], uint16_t ret, bool open)
{
	unsigned int i, j = 0;

	for (i = 0; i < FAILURE_N; i++) {
		uint8_t want = open ? failure_table[i].open_why : failure_table[i].seal_why;

		if (want == BX_DROP_NONE) {
			assert_ptr_equal(pkts[j], before[i]);
			assert_int_equal(why[j], 0xff);
			j++;
		}
	}
	assert_int_equal(ret, j);
	for (i = 0; i < FAILURE_N; i++) {
		uint8_t want = open ? failure_table[i].open_why : failure_table[i].seal_why;

		if (want != BX_DROP_NONE) {
			assert_ptr_equal(pkts[j], before[i]);
			assert_int_equal(why[j], want);
			j++;
		}
	}
}

/* A two-segment datagram. */
static struct rte_mbuf *
pkt_new_segmented(void)
{
	struct rte_mbuf *head = pkt_new(7, 30, 0);
	struct rte_mbuf *tail = rte_pktmbuf_alloc(g.pool);

	assert_non_null(tail);
	assert_non_null(rte_pktmbuf_append(tail, 30));
	assert_int_equal(rte_pktmbuf_chain(head, tail), 0);
	return head;
}

/*
 * Every reason a burst refuses a packet, table driven, through a seal and
 * an open of the same burst.
 */
static void
burst_failures(struct bx_crypto *c)
{
	const uint16_t full = RTE_MBUF_DEFAULT_DATAROOM - OUTER_OFF - BX_WIRE_HDR_LEN - 8;
	uint8_t raw[BX_CRYPTO_KEY_LEN];
	struct bx_crypto_key *k, *wiped;
	const struct bx_crypto_key *keys[FAILURE_N];
	struct rte_mbuf *pkts[FAILURE_N], *before[FAILURE_N];
	uint8_t why[FAILURE_N];
	uint16_t ret;
	unsigned int i, j;

	randombytes_buf(raw, sizeof(raw));
	k = key_new(c, BX_CRYPTO_AES256_GCM, raw);
	wiped = key_new(c, BX_CRYPTO_AES256_GCM, raw);
	bx_crypto_key_wipe(wiped);

	for (i = 0; i < FAILURE_N; i++) {
		keys[i] = k;
		switch (failure_table[i].kind) {
		case NO_KEY:
			keys[i] = NULL;
			pkts[i] = pkt_new(i, 50, (uint8_t)i);
			break;
		case WIPED_KEY:
			keys[i] = wiped;
			pkts[i] = pkt_new(i, 50, (uint8_t)i);
			break;
		case SEGMENTED:
			pkts[i] = pkt_new_segmented();
			break;
		case SHORT:
			/* ends inside the mesh header */
			pkts[i] = pkt_new(i, 0, 0);
			assert_int_equal(rte_pktmbuf_trim(pkts[i], 1), 0);
			break;
		case NO_ROOM:
			pkts[i] = pkt_new(i, full, (uint8_t)i);
			assert_int_equal(rte_pktmbuf_tailroom(pkts[i]), 8);
			break;
		default:
			pkts[i] = pkt_new(i, (uint16_t)(10 * i), (uint8_t)i);
			break;
		}
		before[i] = pkts[i];
	}

	memset(why, 0xff, sizeof(why));
	ret = bx_crypto_seal_burst(c, keys, pkts, FAILURE_N, OUTER_OFF, why);
	assert_partition(pkts, before, why, ret, false);

	/* Same burst, table order, for open. */
	for (i = 0; i < FAILURE_N; i++) {
		pkts[i] = before[i];
		if (failure_table[i].kind == TRUNCATED)
			assert_int_equal(rte_pktmbuf_trim(pkts[i], 10 * i + 1), 0);
		else if (failure_table[i].kind == FORGED)
			pkt_payload(pkts[i])[0] ^= 0x80;
	}
	memset(why, 0xff, sizeof(why));
	ret = bx_crypto_open_burst(c, keys, pkts, FAILURE_N, OUTER_OFF, why);
	assert_partition(pkts, before, why, ret, true);

	for (i = 0, j = 0; i < FAILURE_N; i++) {
		if (failure_table[i].open_why == BX_DROP_NONE)
			assert_plain(pkts[j++], (uint16_t)(10 * i), (uint8_t)i);
		else if (failure_table[i].kind == FORGED)
			assert_true(sodium_is_zero(pkt_payload(before[i]), 10 * i));
	}

	pkts_free(pkts, FAILURE_N);
	assert_int_equal(bx_crypto_seal_burst(c, keys, pkts, 0, OUTER_OFF, why), 0);
	assert_int_equal(bx_crypto_open_burst(c, keys, pkts, 0, OUTER_OFF, NULL), 0);
	key_free(k);
	key_free(wiped);
}

static void
test_burst_failures(void **state)
{
	size_t e;

	(void)state;
	for (e = 0; e < BX_ARRAY_SIZE(backends); e++)
		burst_failures(g.eng[e]);
}

static void
test_keys(void **state)
{
	uint8_t raw[BX_CRYPTO_KEY_LEN], nonce[BX_CRYPTO_NONCE_LEN] = { 0 };
	uint8_t buf[32] = { 0 }, tag[BX_CRYPTO_TAG_LEN];
	struct bx_crypto *c = g.eng[0];
	size_t size = bx_crypto_key_size();
	uint8_t *mem = aligned_alloc(BX_CRYPTO_KEY_ALIGN, size + BX_CRYPTO_KEY_ALIGN);
	struct bx_crypto_key *k = (struct bx_crypto_key *)mem;
	struct bx_crypto_key *misaligned = (struct bx_crypto_key *)(mem + 8);

	(void)state;
	assert_non_null(mem);
	assert_int_equal(size % BX_CRYPTO_KEY_ALIGN, 0);
	randombytes_buf(raw, sizeof(raw));

	assert_int_equal(bx_crypto_key_init(NULL, k, BX_CRYPTO_AES256_GCM, raw), -EINVAL);
	assert_int_equal(bx_crypto_key_init(c, NULL, BX_CRYPTO_AES256_GCM, raw), -EINVAL);
	assert_int_equal(bx_crypto_key_init(c, k, BX_CRYPTO_AES256_GCM, NULL), -EINVAL);
	assert_int_equal(bx_crypto_key_init(c, k, (enum bx_crypto_cipher)5, raw), -EINVAL);
	assert_int_equal(bx_crypto_key_init(c, misaligned, BX_CRYPTO_AES256_GCM, raw),
			 -EINVAL);

	assert_int_equal(bx_crypto_key_init(c, k, BX_CRYPTO_AES256_GCM, raw), 0);
	assert_int_equal(bx_crypto_key_cipher(k), BX_CRYPTO_AES256_GCM);
	assert_int_equal(bx_crypto_seal(c, k, nonce, NULL, 0, buf, sizeof(buf), tag), 0);
	/* A key of the other back end is refused, not misused. */
	assert_int_equal(bx_crypto_seal(g.eng[1], k, nonce, NULL, 0, buf, sizeof(buf), tag),
			 -EINVAL);
	assert_int_equal(bx_crypto_seal(c, k, nonce, NULL, 0, NULL, 5, tag), -EINVAL);
	assert_int_equal(bx_crypto_seal(c, k, nonce, NULL, 3, buf, 5, tag), -EINVAL);
	assert_int_equal(bx_crypto_seal(c, k, NULL, NULL, 0, buf, 5, tag), -EINVAL);

	/* Wiping clears every byte, and a wiped key cannot encrypt. */
	bx_crypto_key_wipe(k);
	assert_true(sodium_is_zero(mem, size));
	assert_int_equal(bx_crypto_seal(c, k, nonce, NULL, 0, buf, sizeof(buf), tag), -EINVAL);
	assert_int_equal(bx_crypto_open(c, k, nonce, NULL, 0, buf, sizeof(buf), tag), -EINVAL);
	bx_crypto_key_wipe(NULL);
	free(mem);
}

static void
test_fips(void **state)
{
	uint8_t raw[BX_CRYPTO_KEY_LEN], nonce[BX_CRYPTO_NONCE_LEN] = { 1 };
	uint8_t aad[BX_WIRE_HDR_LEN] = { 2 }, buf[64], tag[BX_CRYPTO_TAG_LEN];
	size_t size = bx_crypto_key_size();
	size_t e;

	(void)state;
	randombytes_buf(raw, sizeof(raw));
	for (e = 0; e < BX_ARRAY_SIZE(backends); e++) {
		struct bx_crypto *c = bx_crypto_create(backends[e], true);
		struct bx_crypto_key *k = aligned_alloc(BX_CRYPTO_KEY_ALIGN, size);
		uint8_t *before = malloc(size);

		assert_non_null(c);
		assert_non_null(k);
		assert_non_null(before);
		assert_true(bx_crypto_is_fips(c));
		assert_int_equal(bx_crypto_backend_of(c), backends[e]);
		assert_false(bx_crypto_cipher_allowed(c, BX_CRYPTO_CHACHA20_POLY1305));
		assert_true(bx_crypto_cipher_allowed(c, BX_CRYPTO_AES256_GCM));
		assert_true(bx_crypto_cipher_allowed(g.eng[e], BX_CRYPTO_CHACHA20_POLY1305));

		memset(k, 0x5a, size);
		memcpy(before, k, size);
		assert_int_equal(bx_crypto_key_init(c, k, BX_CRYPTO_CHACHA20_POLY1305, raw),
				 -EPERM);
		assert_memory_equal(k, before, size);

		assert_int_equal(bx_crypto_key_init(c, k, BX_CRYPTO_AES256_GCM, raw), 0);
		memset(buf, 0x33, sizeof(buf));
		assert_int_equal(bx_crypto_seal(c, k, nonce, aad, sizeof(aad), buf,
						sizeof(buf), tag), 0);
		assert_int_equal(bx_crypto_open(c, k, nonce, aad, sizeof(aad), buf,
						sizeof(buf), tag), 0);
		for (size_t i = 0; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0x33);

		key_free(k);
		free(before);
		bx_crypto_free(c);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cipher_names),
		cmocka_unit_test(test_backend_choice),
		cmocka_unit_test(test_golden_vectors),
		cmocka_unit_test(test_cross_check),
		cmocka_unit_test(test_burst_nonce_layout),
		cmocka_unit_test(test_burst_mixed_ciphers),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_burst_round_trip),
		cmocka_unit_test(test_burst_failures),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_fips),
	};

	return cmocka_run_group_tests_name("crypto", tests, group_setup, group_teardown);
}
