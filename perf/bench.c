/* SPDX-License-Identifier: Apache-2.0 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <rte_cycles.h>

uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double
bench_tsc_hz(void)
{
	uint64_t ns0, ns1, t0, t1;

	ns0 = bench_now_ns();
	t0 = rte_rdtsc();
	do {
		ns1 = bench_now_ns();
	} while (ns1 - ns0 < BENCH_TSC_CALIBRATE_NS);
	t1 = rte_rdtsc();
	return (double)(t1 - t0) * BENCH_NS_PER_S / (double)(ns1 - ns0);
}

static int
cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return (a > b) - (a < b);
}

double
bench_median(uint64_t *s, size_t n)
{
	qsort(s, n, sizeof(*s), cmp_u64);
	return n % 2 ? (double)s[n / 2] : ((double)s[n / 2 - 1] + (double)s[n / 2]) / 2;
}

int
bench_parse_seconds(const char *arg, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || *end != '\0' || !(v > 0.0)) {
		fprintf(stderr, "--seconds: not a positive number: %s\n", arg);
		return -1;
	}
	*out = v;
	return 0;
}

int
bench_parse_cipher(const char *arg, enum bx_crypto_cipher *out)
{
	if (bx_crypto_cipher_parse(arg, out) != 0) {
		fprintf(stderr, "--cipher: unknown cipher %s\n", arg);
		return -1;
	}
	return 0;
}
