/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crypto-bench: the AEAD limit of one core, measured through lib/crypto's
 * own calls on mbufs laid out as mesh datagrams (outer headers, 16-byte
 * mesh header as AAD, payload, tag), so the figures are those of the code
 * the fast path runs:
 *
 *   ipsec-mb-burst   bx_crypto_seal_burst/open_burst on an ipsec-mb engine
 *                    (one IMB_SUBMIT_BURST per burst)
 *   ipsec-mb-direct  bx_crypto_seal/open per packet on an ipsec-mb engine
 *                    (ipsec-mb's direct API)
 *   libsodium        bx_crypto_seal_burst/open_burst on a libsodium engine
 *
 * Each burst is sealed and then opened again, which restores it for the
 * next round; seal and open are timed separately, per round, with the TSC,
 * whose rate is measured against CLOCK_MONOTONIC. A figure is the median
 * round: on a shared machine a round that lost the core to another
 * process says nothing about the code.
 *
 * Usage: crypto-bench [--json] [--quick] [--seconds S] [--cipher NAME]
 *                     [--size BYTES]
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <sodium.h>

#include "bench.h"
#include "bx_common.h"
#include "bx_crypto.h"
#include "bx_wire.h"

#define BENCH_BURST 32u
#define BENCH_POOL_SIZE 63u
#define BENCH_HDR_OFF BX_WIRE_OUTER_LEN
#define BENCH_MAX_SIZE                                                        \
	(RTE_MBUF_DEFAULT_DATAROOM - BENCH_HDR_OFF - BX_WIRE_HDR_LEN -        \
	 BX_CRYPTO_TAG_LEN)
#define BENCH_DEFAULT_SECONDS 1.0
#define BENCH_QUICK_SECONDS 0.1
#define BENCH_WARMUP_ROUNDS 64u
/* A round seals and opens BENCH_BURST packets: never under ~100 cycles
 * each. Bounds the samples a run keeps; a run stops early at the cap. */
#define BENCH_MIN_ROUND_CYCLES 4096.0
#define BENCH_MAX_ROUNDS (1u << 22)

static const uint16_t default_sizes[] = { 64, 512, 1400 };
static const enum bx_crypto_cipher all_ciphers[] = {
	BX_CRYPTO_CHACHA20_POLY1305,
	BX_CRYPTO_AES256_GCM,
};

enum bench_path { PATH_IMB_BURST, PATH_IMB_DIRECT, PATH_SODIUM, PATH_COUNT };

static const struct {
	const char *name;
	enum bx_crypto_backend backend;
	bool direct;
} paths[PATH_COUNT] = {
	[PATH_IMB_BURST] = { "ipsec-mb-burst", BX_CRYPTO_BACKEND_IPSECMB, false },
	[PATH_IMB_DIRECT] = { "ipsec-mb-direct", BX_CRYPTO_BACKEND_IPSECMB, true },
	[PATH_SODIUM] = { "libsodium", BX_CRYPTO_BACKEND_SODIUM, false },
};

struct bench {
	struct rte_mempool *pool;
	struct bx_crypto *eng[PATH_COUNT];
	struct bx_crypto_key *key;
	double tsc_hz;
	double seconds;
	bool json;
};

/* Cycles of each timed round, seal and open apart. */
struct bench_result {
	uint64_t *seal;
	uint64_t *open;
	size_t rounds;
	size_t cap;
};

#if RTE_BYTE_ORDER != RTE_LITTLE_ENDIAN
#error "ipsec-mb, and so this benchmark, runs on x86 only"
#endif

typedef uint64_t nonce_slot __attribute__((vector_size(16)));

/*
 * The direct path's nonce: 4 zero bytes || the header's counter bytes.
 * ipsec-mb reads the 12-byte IV with one 16-byte load, which the CPU can
 * forward only from one store as wide: a nonce assembled from smaller
 * stores just before the call stalls that load (~40 cycles per 64-byte
 * AES-GCM seal here). So it is written as one 16-byte vector, as a caller
 * of the direct API should. (The burst path fills all jobs before
 * submitting any, so its stores have long completed.)
 */
static inline void
nonce_from_hdr(nonce_slot *slot, const uint8_t *hdr)
{
	uint64_t ctr;

	memcpy(&ctr, hdr + BX_WIRE_HDR_LEN - sizeof(ctr), sizeof(ctr));
	*slot = (nonce_slot){ ctr << 32, ctr >> 32 };
}

/* The direct path: one bx_crypto_seal per packet. */
static bool
direct_seal(struct bx_crypto *c, const struct bx_crypto_key *k,
	    struct rte_mbuf *pkts[], unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint8_t *hdr = rte_pktmbuf_mtod_offset(m, uint8_t *, BENCH_HDR_OFF);
		uint8_t *payload = hdr + BX_WIRE_HDR_LEN;
		size_t len = m->data_len - BENCH_HDR_OFF - BX_WIRE_HDR_LEN;
		nonce_slot nonce;

		nonce_from_hdr(&nonce, hdr);
		if (bx_crypto_seal(c, k, (const uint8_t *)&nonce, hdr,
				   BX_WIRE_HDR_LEN, payload, len, payload + len) != 0)
			return false;
		m->data_len += BX_CRYPTO_TAG_LEN;
		m->pkt_len += BX_CRYPTO_TAG_LEN;
	}
	return true;
}

static bool
direct_open(struct bx_crypto *c, const struct bx_crypto_key *k,
	    struct rte_mbuf *pkts[], unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint8_t *hdr = rte_pktmbuf_mtod_offset(m, uint8_t *, BENCH_HDR_OFF);
		uint8_t *payload = hdr + BX_WIRE_HDR_LEN;
		size_t len = m->data_len - BENCH_HDR_OFF - BX_WIRE_HDR_LEN -
			     BX_CRYPTO_TAG_LEN;
		nonce_slot nonce;

		nonce_from_hdr(&nonce, hdr);
		if (bx_crypto_open(c, k, (const uint8_t *)&nonce, hdr,
				   BX_WIRE_HDR_LEN, payload, len, payload + len) != 0)
			return false;
		m->data_len -= BX_CRYPTO_TAG_LEN;
		m->pkt_len -= BX_CRYPTO_TAG_LEN;
	}
	return true;
}

/* One round: seal the burst, then open it back; false if any packet
 * failed, which would make the figures meaningless. */
static bool
round_trip(struct bench *b, enum bench_path p, struct rte_mbuf *pkts[],
	   const struct bx_crypto_key *const keys[], struct bench_result *r)
{
	struct bx_crypto *c = b->eng[p];
	uint64_t t0, t1, t2;
	bool ok;

	if (paths[p].direct) {
		t0 = rte_rdtsc();
		ok = direct_seal(c, keys[0], pkts, BENCH_BURST);
		t1 = rte_rdtsc();
		ok = ok && direct_open(c, keys[0], pkts, BENCH_BURST);
		t2 = rte_rdtsc();
	} else {
		t0 = rte_rdtsc();
		ok = bx_crypto_seal_burst(c, keys, pkts, BENCH_BURST, BENCH_HDR_OFF,
					  NULL) == BENCH_BURST;
		t1 = rte_rdtsc();
		ok = ok && bx_crypto_open_burst(c, keys, pkts, BENCH_BURST,
						BENCH_HDR_OFF, NULL) == BENCH_BURST;
		t2 = rte_rdtsc();
	}
	if (r != NULL) {
		r->seal[r->rounds] = t1 - t0;
		r->open[r->rounds] = t2 - t1;
		r->rounds++;
	}
	return ok;
}

static int
run_one(struct bench *b, enum bench_path p, enum bx_crypto_cipher cipher,
	uint16_t size, struct bench_result *r)
{
	const struct bx_crypto_key *keys[BENCH_BURST];
	struct rte_mbuf *pkts[BENCH_BURST] = { 0 };
	uint8_t raw[BX_CRYPTO_KEY_LEN];
	uint64_t deadline, counter = 1;
	unsigned int i;
	int rc;

	randombytes_buf(raw, sizeof(raw));
	rc = bx_crypto_key_init(b->eng[p], b->key, cipher, raw);
	sodium_memzero(raw, sizeof(raw));
	if (rc != 0)
		goto out;
	for (i = 0; i < BENCH_BURST; i++)
		keys[i] = b->key;

	rc = rte_pktmbuf_alloc_bulk(b->pool, pkts, BENCH_BURST);
	if (rc != 0)
		goto wipe;
	for (i = 0; i < BENCH_BURST; i++) {
		uint8_t *d = (uint8_t *)rte_pktmbuf_append(
			pkts[i], BENCH_HDR_OFF + BX_WIRE_HDR_LEN + size);
		struct bx_wire_hdr *h = (struct bx_wire_hdr *)(d + BENCH_HDR_OFF);

		randombytes_buf(d, BENCH_HDR_OFF + BX_WIRE_HDR_LEN + size);
		h->tag_ver_type = BX_WIRE_TAG |
				  (BX_WIRE_VERSION << BX_WIRE_VERSION_SHIFT) | BX_WIRE_DATA;
		h->flags = 0;
		h->lane = BX_LANE_BULK;
		h->path_id = 0;
		h->rx_index = rte_cpu_to_be_32(i);
	}

	r->rounds = 0;
	for (i = 0; i < BENCH_WARMUP_ROUNDS; i++) {
		if (!round_trip(b, p, pkts, keys, NULL)) {
			rc = -EBADMSG;
			goto free_pkts;
		}
	}
	deadline = rte_rdtsc() + (uint64_t)(b->seconds * b->tsc_hz);
	do {
		/* Each round seals under fresh nonces, as the fast path does. */
		for (i = 0; i < BENCH_BURST; i++) {
			struct bx_wire_hdr *h = rte_pktmbuf_mtod_offset(
				pkts[i], struct bx_wire_hdr *, BENCH_HDR_OFF);

			h->counter = rte_cpu_to_be_64(counter++);
		}
		if (!round_trip(b, p, pkts, keys, r)) {
			rc = -EBADMSG;
			goto free_pkts;
		}
	} while (rte_rdtsc() < deadline && r->rounds < r->cap);
	rc = 0;

free_pkts:
	for (i = 0; i < BENCH_BURST; i++)
		rte_pktmbuf_free(pkts[i]);
wipe:
	bx_crypto_key_wipe(b->key);
out:
	return rc;
}

static void
report(const struct bench *b, enum bench_path p, enum bx_crypto_cipher cipher,
       uint16_t size, const char *op, uint64_t *samples, size_t rounds)
{
	double cpp = bench_median(samples, rounds) / BENCH_BURST;
	double mpps = b->tsc_hz / cpp / 1e6;
	double gbps = mpps * size * 8.0 / 1e3;

	if (b->json)
		printf("{\"cipher\":\"%s\",\"backend\":\"%s\",\"op\":\"%s\","
		       "\"size\":%u,\"mpps\":%.3f,\"gbps\":%.3f,"
		       "\"cycles_per_pkt\":%.1f}\n",
		       bx_crypto_cipher_name(cipher), paths[p].name, op, size, mpps,
		       gbps, cpp);
	else
		printf("%-18s %-16s %-5s %5u %9.2f %9.2f %11.1f\n",
		       bx_crypto_cipher_name(cipher), paths[p].name, op, size, mpps,
		       gbps, cpp);
	fflush(stdout);
}

static void
usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [--json] [--quick] [--seconds S] [--cipher NAME] [--size BYTES]\n"
		"  --json          one JSON object per line instead of a table\n"
		"  --quick         %.1f s per figure instead of %.1f s\n"
		"  --seconds S     seconds per cipher, back end and size\n"
		"  --cipher NAME   chacha20-poly1305 or aes-256-gcm (default: both)\n"
		"  --size BYTES    payload size, 0..%u (default: 64, 512, 1400)\n",
		prog, BENCH_QUICK_SECONDS, BENCH_DEFAULT_SECONDS,
		(unsigned int)BENCH_MAX_SIZE);
}

/* No hugepages, no devices, no files: it only needs mbufs. */
static int
eal_start(const char *prog)
{
	char *argv[] = {
		(char *)prog, (char *)"-l", (char *)"0", (char *)"--no-pci",
		(char *)"--no-huge", (char *)"--no-shconf", (char *)"-m",
		(char *)"64", (char *)"--no-telemetry", (char *)"--log-level=*:error",
	};

	return rte_eal_init(RTE_DIM(argv), argv) < 0 ? -1 : 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "quick", no_argument, NULL, 'q' },
		{ "seconds", required_argument, NULL, 's' },
		{ "cipher", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 'z' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench b = { .seconds = BENCH_DEFAULT_SECONDS };
	struct bench_result r = { 0 };
	enum bx_crypto_cipher ciphers[BX_ARRAY_SIZE(all_ciphers)];
	uint16_t sizes[BX_ARRAY_SIZE(default_sizes)];
	size_t n_ciphers = BX_ARRAY_SIZE(all_ciphers), n_sizes = BX_ARRAY_SIZE(default_sizes);
	size_t ci, si, p;
	int opt, status = EXIT_FAILURE;
	char *end;

	memcpy(ciphers, all_ciphers, sizeof(all_ciphers));
	memcpy(sizes, default_sizes, sizeof(default_sizes));
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			b.json = true;
			break;
		case 'q':
			b.seconds = BENCH_QUICK_SECONDS;
			break;
		case 's':
			if (bench_parse_seconds(optarg, &b.seconds) != 0)
				return EXIT_FAILURE;
			break;
		case 'c':
			if (bench_parse_cipher(optarg, &ciphers[0]) != 0)
				return EXIT_FAILURE;
			n_ciphers = 1;
			break;
		case 'z': {
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || *optarg == '\0' ||
			    v > BENCH_MAX_SIZE) {
				fprintf(stderr, "--size: want 0..%u bytes: %s\n",
					(unsigned int)BENCH_MAX_SIZE, optarg);
				return EXIT_FAILURE;
			}
			sizes[0] = (uint16_t)v;
			n_sizes = 1;
			break;
		}
		case 'h':
			usage(stdout, argv[0]);
			return EXIT_SUCCESS;
		default:
			usage(stderr, argv[0]);
			return EXIT_FAILURE;
		}
	}
	if (optind != argc) {
		usage(stderr, argv[0]);
		return EXIT_FAILURE;
	}

	if (eal_start(argv[0]) != 0) {
		fprintf(stderr, "crypto-bench: EAL init failed\n");
		return EXIT_FAILURE;
	}
	b.pool = rte_pktmbuf_pool_create("crypto_bench", BENCH_POOL_SIZE, 0, 0,
					 RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	b.key = aligned_alloc(BX_CRYPTO_KEY_ALIGN, bx_crypto_key_size());
	if (b.pool == NULL || b.key == NULL) {
		fprintf(stderr, "crypto-bench: out of memory\n");
		goto out;
	}
	for (p = 0; p < PATH_COUNT; p++) {
		b.eng[p] = bx_crypto_create(paths[p].backend, false);
		if (b.eng[p] == NULL) {
			fprintf(stderr, "crypto-bench: %s engine: %s\n", paths[p].name,
				strerror(errno));
			goto out;
		}
	}
	b.tsc_hz = bench_tsc_hz();
	r.cap = (size_t)RTE_MIN(b.seconds * b.tsc_hz / BENCH_MIN_ROUND_CYCLES + 1,
				(double)BENCH_MAX_ROUNDS);
	r.seal = calloc(r.cap, sizeof(*r.seal));
	r.open = calloc(r.cap, sizeof(*r.open));
	if (r.seal == NULL || r.open == NULL) {
		fprintf(stderr, "crypto-bench: out of memory for %zu rounds\n", r.cap);
		goto out;
	}

	if (!b.json) {
		printf("crypto-bench: one core, burst %u, %u-byte AAD; ipsec-mb arch %s; "
		       "TSC %.3f GHz (measured); %.2f s per row pair; median round\n",
		       BENCH_BURST, BX_WIRE_HDR_LEN, bx_crypto_backend_name(b.eng[PATH_IMB_BURST]),
		       b.tsc_hz / 1e9, b.seconds);
		printf("%-18s %-16s %-5s %5s %9s %9s %11s\n", "cipher", "backend", "op",
		       "size", "Mpps", "Gbps", "cycles/pkt");
	}
	for (ci = 0; ci < n_ciphers; ci++) {
		for (p = 0; p < PATH_COUNT; p++) {
			for (si = 0; si < n_sizes; si++) {
				int rc = run_one(&b, (enum bench_path)p, ciphers[ci],
						 sizes[si], &r);

				if (rc != 0) {
					fprintf(stderr, "crypto-bench: %s %s %u B: %s\n",
						bx_crypto_cipher_name(ciphers[ci]),
						paths[p].name, sizes[si], strerror(-rc));
					goto out;
				}
				report(&b, (enum bench_path)p, ciphers[ci], sizes[si],
				       "seal", r.seal, r.rounds);
				report(&b, (enum bench_path)p, ciphers[ci], sizes[si],
				       "open", r.open, r.rounds);
			}
		}
	}
	status = EXIT_SUCCESS;

out:
	for (p = 0; p < PATH_COUNT; p++)
		bx_crypto_free(b.eng[p]);
	free(r.seal);
	free(r.open);
	free(b.key);
	rte_mempool_free(b.pool);
	rte_eal_cleanup();
	return status;
}
