/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the benchmarks in perf/ share: the clock, the TSC rate, medians and
 * the options every one of them takes. Figures are TSC cycles converted with
 * a rate measured against CLOCK_MONOTONIC, and a figure is the median of
 * many rounds, so a round that lost the core on a shared machine does not
 * move it.
 */
#ifndef BX_BENCH_H
#define BX_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "bx_crypto.h"

#define BENCH_NS_PER_S 1000000000.0
#define BENCH_TSC_CALIBRATE_NS 200000000ull

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* TSC ticks per second, measured against CLOCK_MONOTONIC (200 ms). */
double bench_tsc_hz(void);

/* Median of @n samples (n > 0); sorts @s in place. */
double bench_median(uint64_t *s, size_t n);

/* --seconds: a positive number; 0, or -1 after saying what was wrong. */
int bench_parse_seconds(const char *arg, double *out);

/* --cipher: a config cipher name; 0, or -1 after saying what was wrong. */
int bench_parse_cipher(const char *arg, enum bx_crypto_cipher *out);

#endif /* BX_BENCH_H */
