/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for lib/stunmux. Every input is an IPv4 packet handed
 * to both directions of a fresh translator that already knows two agents
 * by ufrag, one outstanding transaction and one remote, so inputs can reach
 * every way of routing (the seeds do). Each input gets its own heap copy of
 * exactly its size, so ASan sees a read one byte past the end. Beyond "no
 * crash, no read past the end", it checks for any input:
 *  - the verdict is one of the three; a drop names a translator reason
 *    (outbound only MALFORMED) and the reason is untouched otherwise;
 *  - PASS and DROP leave every byte as it was;
 *  - TRANSLATED changes only the one port (to mesh_port outbound, into the
 *    agent range inbound) and the UDP checksum, which verifies afterwards
 *    if it verified before, and stays 0 if it was 0.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bx_common.h"
#include "bx_drop.h"
#include "bx_stunmux.h"

#define LOCAL_IP 0xc000020au  /* 192.0.2.10 */
#define REMOTE_IP 0xc6336407u /* 198.51.100.7 */
#define MESH_PORT 7600
#define AGENT_MIN 40000
#define AGENT_MAX 40999
#define PRIMED_AGENT 40001
#define PRIMED_REMOTE_PORT 3478
/* Small tables, so a few packets already evict. */
#define FUZZ_TABLE_SIZE 4
#define FUZZ_TTL_MS 1000

#define OFF_SPORT 0u
#define OFF_DPORT 2u
#define OFF_ULEN 4u
#define OFF_UCSUM 6u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	const char *ufrag;
	uint16_t port;
} routes_spec[] = {
	{ "fuzzufrag", 40002 },
	{ "evtj", 40003 },
};

/*
 * LOCAL_IP:PRIMED_AGENT -> REMOTE_IP:3478, a Binding request with
 * transaction id "fuzz-txid-01": afterwards a response with that id and
 * anything from REMOTE_IP:3478 route to PRIMED_AGENT.
 */
static const uint8_t primed_request[] = {
	0x45, 0x00, 0x00, 0x30, 0x00, 0x01, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
	0xc0, 0x00, 0x02, 0x0a, 0xc6, 0x33, 0x64, 0x07,
	0x9c, 0x41, 0x0d, 0x96, 0x00, 0x1c, 0x00, 0x00,
	0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42,
	'f', 'u', 'z', 'z', '-', 't', 'x', 'i', 'd', '-', '0', '1',
};

static struct bx_stunmux_routes *routes;

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Whether the UDP checksum of the (sound) datagram at @ip verifies. */
static bool
udp_csum_ok(const uint8_t *ip)
{
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4, i;
	const uint8_t *udp = ip + ihl;
	uint16_t ulen = get16(udp + OFF_ULEN);
	uint32_t sum = 0;

	for (i = 12; i < 20; i += 2)
		sum += get16(ip + i);
	sum += 17u + ulen;
	for (i = 0; i + 1 < ulen; i += 2)
		sum += get16(udp + i);
	if (ulen & 1)
		sum += (uint32_t)udp[ulen - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static void
check(const uint8_t *orig, const uint8_t *now, size_t size,
      enum bx_stunmux_verdict v, enum bx_drop_reason why, bool inbound)
{
	size_t udp, i, port_off = inbound ? OFF_DPORT : OFF_SPORT;
	uint16_t port;

	switch (v) {
	case BX_STUNMUX_PASS:
		BX_ASSERT(why == BX_DROP_NONE);
		BX_ASSERT(memcmp(orig, now, size) == 0);
		return;
	case BX_STUNMUX_DROP:
		BX_ASSERT(why == BX_DROP_STUN_MALFORMED ||
			  (inbound && why == BX_DROP_STUN_UNROUTED));
		BX_ASSERT(memcmp(orig, now, size) == 0);
		return;
	case BX_STUNMUX_TRANSLATED:
		break;
	default:
		BX_ASSERT(!"unknown verdict");
	}
	BX_ASSERT(why == BX_DROP_NONE);
	/* Translated means a sound datagram: its UDP header lies inside. */
	udp = (size_t)(orig[0] & 0x0f) * 4;
	BX_ASSERT(size >= udp + 8);
	for (i = 0; i < size; i++)
		BX_ASSERT(orig[i] == now[i] || i == udp + port_off ||
			  i == udp + port_off + 1 || i == udp + OFF_UCSUM ||
			  i == udp + OFF_UCSUM + 1);
	port = get16(now + udp + port_off);
	if (inbound)
		BX_ASSERT(port >= AGENT_MIN && port <= AGENT_MAX);
	else
		BX_ASSERT(port == MESH_PORT);
	if (get16(orig + udp + OFF_UCSUM) == 0)
		BX_ASSERT(get16(now + udp + OFF_UCSUM) == 0);
	else if (udp_csum_ok(orig))
		BX_ASSERT(udp_csum_ok(now));
}

static struct bx_stunmux *
translator_new(void)
{
	struct bx_stunmux_conf c = {
		.local_ip = rte_cpu_to_be_32(LOCAL_IP),
		.mesh_port = MESH_PORT,
		.agent_port_min = AGENT_MIN,
		.agent_port_max = AGENT_MAX,
		.max_transactions = FUZZ_TABLE_SIZE,
		.transaction_ttl_ms = FUZZ_TTL_MS,
		.max_remotes = FUZZ_TABLE_SIZE,
		.remote_ttl_ms = FUZZ_TTL_MS,
	};
	uint8_t primed[sizeof(primed_request)];
	enum bx_drop_reason why = BX_DROP_NONE;
	struct bx_stunmux *m = bx_stunmux_create(&c);
	size_t i;

	BX_ASSERT(m != NULL);
	if (routes == NULL) {
		/* Immutable once built, like the published table: shared. */
		routes = bx_stunmux_routes_create(BX_ARRAY_SIZE(routes_spec),
						  AGENT_MIN, AGENT_MAX);
		BX_ASSERT(routes != NULL);
		for (i = 0; i < BX_ARRAY_SIZE(routes_spec); i++)
			BX_ASSERT(bx_stunmux_routes_add(routes, routes_spec[i].ufrag,
							routes_spec[i].port) == 0);
	}
	memcpy(primed, primed_request, sizeof(primed));
	BX_ASSERT(bx_stunmux_out(m, primed, sizeof(primed), 0, &why) ==
		  BX_STUNMUX_TRANSLATED);
	BX_ASSERT(bx_stunmux_stats(m)->txn_recorded == 1);
	return m;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bx_stunmux *m = translator_new();
	enum bx_drop_reason why;
	enum bx_stunmux_verdict v;
	uint8_t *buf = malloc(size > 0 ? size : 1);

	BX_ASSERT(buf != NULL);

	memcpy(buf, data, size);
	why = BX_DROP_NONE;
	v = bx_stunmux_out(m, buf, size, 1, &why);
	check(data, buf, size, v, why, false);

	/* Inbound, before and after the TTL of what was primed. */
	memcpy(buf, data, size);
	why = BX_DROP_NONE;
	v = bx_stunmux_in(m, routes, buf, size, 2, &why);
	check(data, buf, size, v, why, true);

	memcpy(buf, data, size);
	why = BX_DROP_NONE;
	v = bx_stunmux_in(m, routes, buf, size, FUZZ_TTL_MS + 1, &why);
	check(data, buf, size, v, why, true);

	free(buf);
	bx_stunmux_free(m);
	return 0;
}
