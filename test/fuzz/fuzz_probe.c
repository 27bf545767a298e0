/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for lib/probe. An input is a path configuration and a
 * script of operations on one path, each with a step of the clock (forward
 * or back, microseconds or milliseconds):
 *
 *   byte 0     loss window - 1 (mod BX_PROBE_WINDOW_MAX)
 *   byte 1     interval_ms - 1
 *   bytes 2-3  timeout_ms = interval_ms * (b2 % RING) + b3 % interval_ms
 *              (at least 1), so every configuration is valid
 *   byte 4     rtt_shift - 1 (mod BX_PROBE_RTT_SHIFT_MAX)
 *   bytes 5-8  first_seq, big-endian
 *   then operations: code, u16 clock step (big-endian), arguments
 *     code & 7 = 0  tick
 *                1  a probe if due
 *                2  a probe regardless
 *                3  echo one of the bodies sent: index, xor position, xor value
 *                4  echo raw bytes: length (0..BX_PROBE_BODY_LEN * 2), bytes
 *                5  the last RTT sample to the EWMA congestion strategy
 *                6  bx_probe_init with the next sizeof(conf) bytes as a conf
 *     code & 8: the step is in milliseconds (else microseconds)
 *     code & 16: the clock steps back
 *
 * Beyond "no crash, no read past the end" (ASan), after every operation:
 *   - loss_permille in 0..1000, known <= window, known 0 -> loss 0;
 *   - echoed + lost <= sent, sent is the number of probes sent, and the
 *     counters never go down;
 *   - with a sample: min <= last, min <= EWMA, every RTT figure and the
 *     jitter at most timeout_ms;
 *   - an echo is accepted (one more sample, last_echo_ns = now) or refused
 *     with PROBE_MALFORMED exactly when bx_probe_validate() says so, or
 *     PROBE_UNKNOWN; a refusal changes nothing but, for a late echo, one
 *     more loss;
 *   - a refused bx_probe_init leaves the path untouched;
 *   - the EWMA strategy after one sample is congested exactly above 50 ms.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bx_common.h"
#include "bx_probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR_LEN 9u
#define OP_HDR_LEN 3u
#define SENT_KEPT 128u  /* bodies remembered for echoes: twice the ring */
#define RAW_MAX (BX_PROBE_BODY_LEN * 2)
#define US UINT64_C(1000)
#define MS UINT64_C(1000000)
#define START_NS (UINT64_C(1) << 40)

enum {
	OP_TICK,
	OP_DUE_NEXT,
	OP_NEXT,
	OP_ECHO_SENT,
	OP_ECHO_RAW,
	OP_CONGESTION,
	OP_REINIT,
	OP_KINDS,
};
#define OP_KIND_MASK 7u
#define OP_STEP_MS 8u
#define OP_STEP_BACK 16u

static struct {
	struct bx_probe_path path;
	struct bx_probe_conf conf;
	uint8_t sent[SENT_KEPT][BX_PROBE_BODY_LEN];
	uint64_t n_sent;
	struct bx_probe_stats prev;
} g;

static struct bx_probe_stats
read_stats(void)
{
	struct bx_probe_stats s;

	bx_probe_read(&g.path, &s);
	return s;
}

static void
check_invariants(void)
{
	struct bx_probe_stats s = read_stats();
	uint64_t timeout_us = (uint64_t)g.conf.timeout_ms * 1000;

	BX_ASSERT(s.loss_permille <= 1000);
	BX_ASSERT(s.known <= g.conf.loss_window);
	BX_ASSERT(s.known > 0 || s.loss_permille == 0);
	BX_ASSERT(s.echoed + s.lost <= s.sent);
	BX_ASSERT(s.sent == g.n_sent);
	BX_ASSERT(s.known <= s.echoed + s.lost);
	BX_ASSERT(s.echoed >= g.prev.echoed && s.lost >= g.prev.lost);
	if (s.has_rtt) {
		BX_ASSERT(s.rtt_min_us <= s.rtt_last_us);
		BX_ASSERT(s.rtt_min_us <= s.rtt_ewma_us);
		BX_ASSERT(s.rtt_last_us <= timeout_us);
		BX_ASSERT(s.rtt_ewma_us <= timeout_us);
		BX_ASSERT(s.jitter_us <= timeout_us);
	} else {
		BX_ASSERT(s.echoed == 0);
		BX_ASSERT(s.rtt_last_us == 0 && s.rtt_min_us == 0 &&
			  s.rtt_ewma_us == 0 && s.jitter_us == 0);
	}
	g.prev = s;
}

static void
do_echo(const uint8_t *body, size_t len, uint64_t now)
{
	struct bx_probe_stats before = read_stats(), after;
	enum bx_drop_reason why = bx_probe_on_echo(&g.path, body, len, now);

	after = read_stats();
	BX_ASSERT((why == BX_DROP_PROBE_MALFORMED) ==
		  (bx_probe_validate(body, len) == BX_DROP_PROBE_MALFORMED));
	if (why == BX_DROP_NONE) {
		BX_ASSERT(after.echoed == before.echoed + 1);
		BX_ASSERT(after.lost == before.lost);
		BX_ASSERT(after.has_rtt && after.last_echo_ns == now);
		return;
	}
	BX_ASSERT(why == BX_DROP_PROBE_MALFORMED || why == BX_DROP_PROBE_UNKNOWN);
	BX_ASSERT(after.echoed == before.echoed && after.sent == before.sent);
	BX_ASSERT(after.lost == before.lost ||
		  (why == BX_DROP_PROBE_UNKNOWN && after.lost == before.lost + 1));
	BX_ASSERT(after.has_rtt == before.has_rtt);
	BX_ASSERT(after.rtt_last_us == before.rtt_last_us);
	BX_ASSERT(after.rtt_min_us == before.rtt_min_us);
	BX_ASSERT(after.rtt_ewma_us == before.rtt_ewma_us);
	BX_ASSERT(after.jitter_us == before.jitter_us);
	BX_ASSERT(after.last_echo_ns == before.last_echo_ns);
	if (after.lost == before.lost)
		BX_ASSERT(after.known == before.known &&
			  after.loss_permille == before.loss_permille);
}

static void
send_probe(uint64_t now)
{
	uint8_t *body = g.sent[g.n_sent % SENT_KEPT];
	uint32_t seq = bx_probe_next(&g.path, now, body);

	BX_ASSERT(seq == g.conf.first_seq + (uint32_t)g.n_sent);
	BX_ASSERT(bx_probe_validate(body, BX_PROBE_BODY_LEN) == BX_DROP_NONE);
	g.n_sent++;
}

static void
try_reinit(const uint8_t *raw)
{
	struct bx_probe_conf c;
	struct bx_probe_path before;

	memcpy(&c, raw, sizeof(c));
	memcpy(&before, &g.path, sizeof(before));
	if (bx_probe_init(&g.path, &c) != 0) {
		BX_ASSERT(memcmp(&before, &g.path, sizeof(before)) == 0);
		return;
	}
	BX_ASSERT(c.interval_ms >= 1 && c.interval_ms <= BX_PROBE_INTERVAL_MS_MAX);
	BX_ASSERT(c.loss_window >= 1 && c.loss_window <= BX_PROBE_WINDOW_MAX);
	BX_ASSERT(c.timeout_ms >= 1 && c.timeout_ms <= BX_PROBE_TIMEOUT_MS_MAX);
	BX_ASSERT(c.rtt_shift >= 1 && c.rtt_shift <= BX_PROBE_RTT_SHIFT_MAX);
	BX_ASSERT(c.timeout_ms / c.interval_ms < BX_PROBE_RING);
	g.conf = c;
	g.n_sent = 0;
	memset(&g.prev, 0, sizeof(g.prev));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bx_congestion cong;
	uint64_t now = START_NS;
	size_t off = HDR_LEN;

	if (size < HDR_LEN)
		return 0;
	memset(&g, 0, sizeof(g));
	g.conf.loss_window = 1 + data[0] % BX_PROBE_WINDOW_MAX;
	g.conf.interval_ms = 1 + (uint32_t)data[1];
	g.conf.timeout_ms = g.conf.interval_ms * (data[2] % BX_PROBE_RING) +
			    data[3] % g.conf.interval_ms;
	if (g.conf.timeout_ms == 0)
		g.conf.timeout_ms = 1;
	g.conf.rtt_shift = 1 + data[4] % BX_PROBE_RTT_SHIFT_MAX;
	g.conf.first_seq = (uint32_t)data[5] << 24 | (uint32_t)data[6] << 16 |
			   (uint32_t)data[7] << 8 | data[8];
	BX_ASSERT(bx_probe_init(&g.path, &g.conf) == 0);
	bx_congestion_init(&cong, &bx_congestion_ewma);

	while (size - off >= OP_HDR_LEN) {
		uint8_t code = data[off];
		uint64_t step = (uint64_t)data[off + 1] << 8 | data[off + 2];
		const uint8_t *arg = data + off + OP_HDR_LEN;
		size_t left = size - off - OP_HDR_LEN;

		off += OP_HDR_LEN;
		step *= (code & OP_STEP_MS) ? MS : US;
		if (code & OP_STEP_BACK)
			now = now > step ? now - step : 0;
		else
			now += step;

		switch ((code & OP_KIND_MASK) % OP_KINDS) {
		case OP_TICK:
			bx_probe_tick(&g.path, now);
			break;
		case OP_DUE_NEXT:
			if (bx_probe_due(&g.path, now))
				send_probe(now);
			break;
		case OP_NEXT:
			send_probe(now);
			break;
		case OP_ECHO_SENT: {
			uint8_t body[BX_PROBE_BODY_LEN];

			if (left < 3 || g.n_sent == 0)
				return 0;
			memcpy(body, g.sent[arg[0] % (g.n_sent < SENT_KEPT ? g.n_sent
									 : SENT_KEPT)],
			       sizeof(body));
			body[arg[1] % BX_PROBE_BODY_LEN] ^= arg[2];
			do_echo(body, sizeof(body), now);
			off += 3;
			break;
		}
		case OP_ECHO_RAW: {
			size_t len;

			if (left < 1)
				return 0;
			len = arg[0] % (RAW_MAX + 1);
			if (left - 1 < len)
				return 0;
			do_echo(arg + 1, len, now);
			off += 1 + len;
			break;
		}
		case OP_CONGESTION: {
			struct bx_congestion one;
			uint64_t rtt = read_stats().rtt_last_us;

			bx_congestion_on_rtt(&cong, rtt);
			bx_congestion_init(&one, &bx_congestion_ewma);
			bx_congestion_on_rtt(&one, rtt);
			BX_ASSERT(bx_congestion_is_congested(&one) ==
				  (rtt > BX_CONGESTION_RTT_US));
			break;
		}
		case OP_REINIT:
			if (left < sizeof(struct bx_probe_conf))
				return 0;
			try_reinit(arg);
			off += sizeof(struct bx_probe_conf);
			break;
		}
		check_invariants();
	}
	return 0;
}
