/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suite "classify": lane classification on real packet bytes (IPv4, IPv6,
 * options, fragments, truncation), rule sets from structs and from JSON,
 * and the burst helper over mbufs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <jansson.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "bx_classify.h"
#include "bx_common.h"
#include "bx_test_eal.h"

#define PKT_MAX 2048    /* scratch: headers may be written past a tiny packet's end */
#define ETH_LEN 14
#define P_ICMP 1
#define P_TCP 6
#define P_UDP 17
#define P_GRE 47
#define P_ICMPV6 58
#define IP_MF 0x2000u
#define NO_LANE BX_LANE_COUNT /* sentinel: "the lane was not written" */
#define POOL_SIZE 63

/* ---- packet builder --------------------------------------------------- */

struct pkt {
	uint8_t ver;       /* 0 or 4: IPv4; 6: IPv6 */
	uint8_t proto;
	uint16_t len;      /* total IP length, headers included */
	uint16_t sport;
	uint16_t dport;
	uint8_t opt_words; /* IPv4 options (NOPs), in 32-bit words */
	uint16_t frag;     /* IPv4 flags + fragment offset field */
	bool hbh;          /* IPv6: a hop-by-hop options header before L4 */
	const char *src;
	const char *dst;
};

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t
sum16(const uint8_t *p, size_t n, uint32_t acc)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		acc += (uint32_t)(p[n - 1] << 8);
	return acc;
}

static uint16_t
fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffffu) + (acc >> 16);
	return (uint16_t)~acc;
}

/* Builds the packet @s describes at @b (PKT_MAX bytes) with valid IP and
 * L4 headers and checksums; returns its length. */
static size_t
build(const struct pkt *s, uint8_t *b)
{
	bool v6 = s->ver == 6;
	size_t l3 = v6 ? 40u + (s->hbh ? 8u : 0u) : 20u + 4u * s->opt_words;
	uint8_t *l4 = b + l3;
	size_t l4len, i, csum_at = 0;
	bool whole = (s->frag & 0x3fffu) == 0;
	uint32_t acc;

	assert_true(s->len >= l3 && s->len <= PKT_MAX - 64);
	l4len = s->len - l3;
	memset(b, 0, PKT_MAX);
	for (i = l3; i < s->len; i++)
		b[i] = (uint8_t)(i * 7);

	if (v6) {
		b[0] = 0x60;
		put16(b + 4, (uint16_t)(s->len - 40));
		b[6] = s->hbh ? 0 : s->proto;
		b[7] = 64;
		assert_int_equal(inet_pton(AF_INET6, s->src ? s->src : "2001:db8:1::1", b + 8), 1);
		assert_int_equal(inet_pton(AF_INET6, s->dst ? s->dst : "2001:db8:2::2", b + 24), 1);
		if (s->hbh) {
			b[40] = s->proto;
			b[41] = 0;   /* 8 bytes */
			b[42] = 1;   /* PadN */
			b[43] = 4;
			memset(b + 44, 0, 4);
		}
	} else {
		b[0] = (uint8_t)(0x40 | (5 + s->opt_words));
		put16(b + 2, s->len);
		put16(b + 4, 0x1234);
		put16(b + 6, s->frag);
		b[8] = 64;
		b[9] = s->proto;
		assert_int_equal(inet_pton(AF_INET, s->src ? s->src : "192.0.2.1", b + 12), 1);
		assert_int_equal(inet_pton(AF_INET, s->dst ? s->dst : "198.51.100.7", b + 16), 1);
		memset(b + 20, 1, 4u * s->opt_words); /* NOP options */
	}

	/* A non-first fragment's "L4 header" is payload: these bytes are
	 * written anyway, so a classifier that read them would be caught. */
	switch (s->proto) {
	case P_UDP:
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
		put16(l4 + 4, (uint16_t)l4len);
		csum_at = 6;
		break;
	case P_TCP:
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
		memset(l4 + 4, 0, 16);
		l4[7] = 1;            /* seq */
		l4[12] = 5 << 4;      /* data offset */
		l4[13] = 0x18;        /* PSH ACK */
		put16(l4 + 14, 65535);
		csum_at = 16;
		break;
	case P_ICMP:
	case P_ICMPV6:
		l4[0] = s->proto == P_ICMP ? 8 : 128; /* echo request */
		l4[1] = 0;
		put16(l4 + 2, 0);
		put16(l4 + 4, 0x42);
		put16(l4 + 6, 1);
		csum_at = 2;
		break;
	default:
		break;
	}

	if (csum_at != 0 && whole && l4len >= csum_at + 2) {
		if (s->proto == P_ICMP) {
			acc = 0;
		} else if (v6) {
			acc = sum16(b + 8, 32, 0) + (uint32_t)l4len + s->proto;
		} else {
			acc = sum16(b + 12, 8, 0) + (uint32_t)l4len + s->proto;
		}
		put16(l4 + csum_at, fold(sum16(l4, l4len, acc)));
	}
	if (!v6)
		put16(b + 10, fold(sum16(b, l3, 0)));
	return s->len;
}

/* ---- expectations ----------------------------------------------------- */

struct want {
	enum bx_drop_reason why;
	enum bx_wire_lane lane;
};

#define LANE(l) {BX_DROP_NONE, BX_LANE_##l}
#define DROP(r) {BX_DROP_##r, NO_LANE}

/*
 * Classifies @len bytes of @bytes from an exact-size heap copy, so ASan
 * reports any read past @len, and checks reason and lane (untouched on a
 * drop).
 */
static void
expect_bytes(const struct bx_classify_rules *rules, const uint8_t *bytes,
	     size_t len, struct want w, const char *name)
{
	enum bx_wire_lane lane = NO_LANE;
	enum bx_drop_reason r;
	uint8_t *copy = malloc(len);

	assert_true(copy != NULL || len == 0);
	if (len > 0)
		memcpy(copy, bytes, len);
	r = bx_classify_packet(rules, copy, (uint32_t)len, &lane);
	free(copy);
	if (r != w.why || lane != w.lane) {
		print_error("%s (len %zu): got %s lane %d, want %s lane %d\n",
			    name, len, bx_drop_name(r), (int)lane,
			    bx_drop_name(w.why), (int)w.lane);
		fail();
	}
}

static void
expect_pkt(const struct bx_classify_rules *rules, const struct pkt *s,
	   struct want w, const char *name)
{
	uint8_t b[PKT_MAX];
	size_t len = build(s, b);

	expect_bytes(rules, b, len, w, name);
}

struct pkt_case {
	const char *name;
	struct pkt pkt;
	struct want want;
};

static void
run_cases(const struct bx_classify_rules *rules, const struct pkt_case *c,
	  size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		expect_pkt(rules, &c[i].pkt, c[i].want, c[i].name);
}

/* ---- default policy --------------------------------------------------- */

static const struct pkt_case default_cases[] = {
	{"icmp echo", {.proto = P_ICMP, .len = 84}, LANE(CRITICAL)},
	{"icmp large", {.proto = P_ICMP, .len = 1400}, LANE(CRITICAL)},
	{"udp 60 B port 80", {.proto = P_UDP, .len = 60, .sport = 40000, .dport = 80}, LANE(CRITICAL)},
	{"udp 99 B port 80", {.proto = P_UDP, .len = 99, .sport = 40000, .dport = 80}, LANE(CRITICAL)},
	{"udp 100 B port 80", {.proto = P_UDP, .len = 100, .sport = 40000, .dport = 80}, LANE(BULK)},
	{"udp 99 B port 5006", {.proto = P_UDP, .len = 99, .dport = 5006}, LANE(CRITICAL)},
	{"udp dst 5006", {.proto = P_UDP, .len = 1000, .sport = 40000, .dport = 5006}, LANE(TELEMETRY)},
	{"udp src 5006", {.proto = P_UDP, .len = 1000, .sport = 5006, .dport = 40000}, LANE(TELEMETRY)},
	{"udp dst 5007", {.proto = P_UDP, .len = 1000, .sport = 40000, .dport = 5007}, LANE(BULK)},
	{"tcp src 5006", {.proto = P_TCP, .len = 1000, .sport = 5006, .dport = 40000}, LANE(TELEMETRY)},
	{"tcp dst 5006", {.proto = P_TCP, .len = 1000, .sport = 40000, .dport = 5006}, LANE(TELEMETRY)},
	{"tcp 443", {.proto = P_TCP, .len = 1000, .sport = 40000, .dport = 443}, LANE(BULK)},
	{"gre", {.proto = P_GRE, .len = 1000}, LANE(BULK)},
	{"ipv4 proto 58 is not icmp", {.proto = P_ICMPV6, .len = 1000}, LANE(BULK)},
	{"options 4 B + udp 5006", {.proto = P_UDP, .len = 1000, .dport = 5006, .opt_words = 1}, LANE(TELEMETRY)},
	{"options 40 B + udp 5006", {.proto = P_UDP, .len = 1000, .dport = 5006, .opt_words = 10}, LANE(TELEMETRY)},
	{"options 40 B + tcp 443", {.proto = P_TCP, .len = 1000, .dport = 443, .opt_words = 10}, LANE(BULK)},
	{"first fragment udp 5006", {.proto = P_UDP, .len = 1000, .dport = 5006, .frag = IP_MF}, LANE(TELEMETRY)},
	{"first fragment DF udp 5006", {.proto = P_UDP, .len = 1000, .dport = 5006, .frag = 0x4000}, LANE(TELEMETRY)},
	{"middle fragment, 5006 bytes", {.proto = P_UDP, .len = 1000, .sport = 5006, .dport = 5006, .frag = IP_MF | 185}, LANE(BULK)},
	{"last fragment, 5006 bytes", {.proto = P_UDP, .len = 1000, .sport = 5006, .dport = 5006, .frag = 370}, LANE(BULK)},
	{"last fragment small", {.proto = P_UDP, .len = 60, .frag = 370}, LANE(CRITICAL)},
	{"icmp fragment", {.proto = P_ICMP, .len = 1000, .frag = 185}, LANE(CRITICAL)},
	{"tcp 22 B, ports cut", {.proto = P_TCP, .len = 22, .dport = 5006}, LANE(CRITICAL)},
	{"ipv6 udp dst 5006", {.ver = 6, .proto = P_UDP, .len = 1000, .dport = 5006}, LANE(TELEMETRY)},
	{"ipv6 tcp src 5006", {.ver = 6, .proto = P_TCP, .len = 1000, .sport = 5006, .dport = 443}, LANE(TELEMETRY)},
	{"ipv6 icmpv6", {.ver = 6, .proto = P_ICMPV6, .len = 1000}, LANE(CRITICAL)},
	{"ipv6 next header 1 is not icmpv6", {.ver = 6, .proto = P_ICMP, .len = 1000}, LANE(BULK)},
	{"ipv6 tcp 443", {.ver = 6, .proto = P_TCP, .len = 1000, .dport = 443}, LANE(BULK)},
	{"ipv6 udp 60 B", {.ver = 6, .proto = P_UDP, .len = 60, .dport = 80}, LANE(CRITICAL)},
	{"ipv6 header only", {.ver = 6, .proto = 59, .len = 40}, LANE(CRITICAL)},
	{"ipv6 hop-by-hop + udp 5006", {.ver = 6, .proto = P_UDP, .len = 1000, .dport = 5006, .hbh = true}, LANE(BULK)},
};

static void
test_defaults(void **state)
{
	(void)state;
	run_cases(NULL, default_cases, BX_ARRAY_SIZE(default_cases));
}

/* An empty rule set is the defaults. */
static void
test_empty_rule_set(void **state)
{
	struct bx_classify_rules *rules = bx_classify_rules_create(NULL, 0);

	(void)state;
	assert_non_null(rules);
	assert_int_equal(bx_classify_rules_count(rules), 0);
	run_cases(rules, default_cases, BX_ARRAY_SIZE(default_cases));
	bx_classify_rules_free(rules);
}

/* The IP header's length counts, not the buffer's: link padding after a
 * small packet does not make it big. */
static void
test_padding_ignored(void **state)
{
	const struct pkt small = {.proto = P_UDP, .len = 46, .dport = 5006};
	const struct pkt small6 = {.ver = 6, .proto = P_UDP, .len = 60, .dport = 5006};
	uint8_t b[PKT_MAX];
	size_t len;

	(void)state;
	len = build(&small, b);
	expect_bytes(NULL, b, len, (struct want)LANE(CRITICAL), "v4 exact");
	expect_bytes(NULL, b, 1000, (struct want)LANE(CRITICAL), "v4 padded");
	len = build(&small6, b);
	expect_bytes(NULL, b, len, (struct want)LANE(CRITICAL), "v6 exact");
	expect_bytes(NULL, b, 1000, (struct want)LANE(CRITICAL), "v6 padded");
}

/* Every prefix of a valid packet is truncated: the IP header's length
 * always claims more than is there. */
static void
test_truncated_every_length(void **state)
{
	static const struct pkt_case whole[] = {
		{"udp 5006 + options", {.proto = P_UDP, .len = 300, .dport = 5006, .opt_words = 10}, LANE(TELEMETRY)},
		{"tcp 443", {.proto = P_TCP, .len = 120, .dport = 443}, LANE(BULK)},
		{"icmp", {.proto = P_ICMP, .len = 84}, LANE(CRITICAL)},
		{"small udp", {.proto = P_UDP, .len = 28, .dport = 53}, LANE(CRITICAL)},
		{"ipv6 udp 5006", {.ver = 6, .proto = P_UDP, .len = 200, .dport = 5006}, LANE(TELEMETRY)},
		{"ipv6 icmpv6", {.ver = 6, .proto = P_ICMPV6, .len = 48}, LANE(CRITICAL)},
	};
	uint8_t b[PKT_MAX];
	size_t i, cut, len;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(whole); i++) {
		len = build(&whole[i].pkt, b);
		for (cut = 0; cut < len; cut++)
			expect_bytes(NULL, b, cut, (struct want)DROP(CLASSIFY_TRUNCATED),
				     whole[i].name);
		expect_bytes(NULL, b, len, whole[i].want, whole[i].name);
	}
}

static void
test_malformed_headers(void **state)
{
	static const uint8_t versions[] = {0, 1, 2, 3, 5, 7, 8, 15};
	const struct pkt udp = {.proto = P_UDP, .len = 1000, .dport = 5006};
	uint8_t b[PKT_MAX];
	size_t i, len;

	(void)state;
	len = build(&udp, b);
	for (i = 0; i < BX_ARRAY_SIZE(versions); i++) {
		b[0] = (uint8_t)(versions[i] << 4 | 5);
		expect_bytes(NULL, b, len, (struct want)DROP(CLASSIFY_NOT_IP), "version");
		expect_bytes(NULL, b, 1, (struct want)DROP(CLASSIFY_NOT_IP), "version, 1 byte");
	}
	for (i = 0; i < 5; i++) {
		b[0] = (uint8_t)(0x40 | i);
		expect_bytes(NULL, b, len, (struct want)DROP(CLASSIFY_NOT_IP), "ihl < 5");
	}

	/* Total length shorter than the header it belongs to. */
	len = build(&udp, b);
	put16(b + 2, 19);
	expect_bytes(NULL, b, len, (struct want)DROP(CLASSIFY_TRUNCATED), "total 19");
	b[0] = 0x46;
	put16(b + 2, 23);
	expect_bytes(NULL, b, len, (struct want)DROP(CLASSIFY_TRUNCATED), "total 23, ihl 6");
	put16(b + 2, 24);
	expect_bytes(NULL, b, len, (struct want)LANE(CRITICAL), "total 24, ihl 6");

	/* IHL 15 with fewer bytes than the header. */
	len = build(&udp, b);
	b[0] = 0x4f;
	put16(b + 2, 60);
	expect_bytes(NULL, b, 59, (struct want)DROP(CLASSIFY_TRUNCATED), "ihl 15, 59 B");
	expect_bytes(NULL, b, 60, (struct want)LANE(CRITICAL), "ihl 15, 60 B");

	/* IPv6 payload length beyond the buffer. */
	{
		const struct pkt v6 = {.ver = 6, .proto = P_UDP, .len = 200, .dport = 5006};

		len = build(&v6, b);
		put16(b + 4, 161);
		expect_bytes(NULL, b, len, (struct want)DROP(CLASSIFY_TRUNCATED), "v6 plen +1");
	}
}

/* ---- rules from structs ----------------------------------------------- */

static struct bx_classify_prefix
pfx(const char *addr, uint8_t len)
{
	struct bx_classify_prefix p = {.len = len};

	if (inet_pton(AF_INET, addr, p.addr) == 1)
		p.af = AF_INET;
	else if (inet_pton(AF_INET6, addr, p.addr) == 1)
		p.af = AF_INET6;
	return p;
}

struct rule_suite {
	const char *name;
	struct bx_classify_rule rules[4];
	unsigned n;
	struct pkt_case cases[8];
	unsigned ncases;
};

static void
run_rule_suite(const struct rule_suite *s)
{
	struct bx_classify_rules *rules = bx_classify_rules_create(s->rules, s->n);

	if (rules == NULL) {
		print_error("%s: create failed: %s\n", s->name, strerror(errno));
		fail();
	}
	assert_int_equal(bx_classify_rules_count(rules), s->n);
	run_cases(rules, s->cases, s->ncases);
	bx_classify_rules_free(rules);
}

#define M_PROTO BX_CLASSIFY_MATCH_PROTO
#define M_SRC BX_CLASSIFY_MATCH_SRC
#define M_DST BX_CLASSIFY_MATCH_DST
#define M_SPORT BX_CLASSIFY_MATCH_SPORT
#define M_DPORT BX_CLASSIFY_MATCH_DPORT

static void
test_rule_deny(void **state)
{
	const struct rule_suite s = {
		"deny telnet",
		{{.match = M_PROTO | M_DPORT, .proto = P_TCP, .dport_lo = 23,
		  .dport_hi = 23, .action = BX_CLASSIFY_DENY}},
		1,
		{
			{"tcp 23", {.proto = P_TCP, .len = 1000, .dport = 23}, DROP(POLICY_DENY)},
			{"tcp 23 small", {.proto = P_TCP, .len = 60, .dport = 23}, DROP(POLICY_DENY)},
			{"ipv6 tcp 23", {.ver = 6, .proto = P_TCP, .len = 1000, .dport = 23}, DROP(POLICY_DENY)},
			{"tcp src 23", {.proto = P_TCP, .len = 1000, .sport = 23, .dport = 443}, LANE(BULK)},
			{"udp 23", {.proto = P_UDP, .len = 1000, .dport = 23}, LANE(BULK)},
			{"tcp 24", {.proto = P_TCP, .len = 1000, .dport = 24}, LANE(BULK)},
			{"icmp", {.proto = P_ICMP, .len = 84}, LANE(CRITICAL)},
		},
		7,
	};

	(void)state;
	run_rule_suite(&s);
}

static void
test_rule_prefix_overrides_default(void **state)
{
	const struct rule_suite s = {
		"dst prefix to bulk",
		{{.match = M_DST, .dst = pfx("10.1.0.0", 16), .action = BX_CLASSIFY_BULK}},
		1,
		{
			{"udp 5006 inside", {.proto = P_UDP, .len = 1000, .dport = 5006, .dst = "10.1.2.3"}, LANE(BULK)},
			{"icmp inside, top", {.proto = P_ICMP, .len = 84, .dst = "10.1.255.255"}, LANE(BULK)},
			{"icmp inside, bottom", {.proto = P_ICMP, .len = 84, .dst = "10.1.0.0"}, LANE(BULK)},
			{"udp 5006 next /16", {.proto = P_UDP, .len = 1000, .dport = 5006, .dst = "10.2.0.1"}, LANE(TELEMETRY)},
			{"icmp below", {.proto = P_ICMP, .len = 84, .dst = "10.0.255.255"}, LANE(CRITICAL)},
			{"src inside, dst outside", {.proto = P_ICMP, .len = 84, .src = "10.1.0.1"}, LANE(CRITICAL)},
			{"ipv6 never matches v4 prefix", {.ver = 6, .proto = P_UDP, .len = 1000, .dport = 5006}, LANE(TELEMETRY)},
		},
		7,
	};

	(void)state;
	run_rule_suite(&s);
}

static void
test_rule_port_range_edges(void **state)
{
	const struct rule_suite s = {
		"udp 5000-5010 critical",
		{{.match = M_PROTO | M_DPORT, .proto = P_UDP, .dport_lo = 5000,
		  .dport_hi = 5010, .action = BX_CLASSIFY_CRITICAL}},
		1,
		{
			{"4999", {.proto = P_UDP, .len = 1000, .dport = 4999}, LANE(BULK)},
			{"5000", {.proto = P_UDP, .len = 1000, .dport = 5000}, LANE(CRITICAL)},
			{"5006", {.proto = P_UDP, .len = 1000, .dport = 5006}, LANE(CRITICAL)},
			{"5010", {.proto = P_UDP, .len = 1000, .dport = 5010}, LANE(CRITICAL)},
			{"5011", {.proto = P_UDP, .len = 1000, .dport = 5011}, LANE(BULK)},
			{"src 5005 only", {.proto = P_UDP, .len = 1000, .sport = 5005, .dport = 80}, LANE(BULK)},
			{"tcp 5005", {.proto = P_TCP, .len = 1000, .dport = 5005}, LANE(BULK)},
		},
		7,
	};

	(void)state;
	run_rule_suite(&s);
}

static void
test_rule_first_match_wins(void **state)
{
	const struct rule_suite s = {
		"overlapping",
		{
			{.match = M_DPORT, .dport_lo = 8000, .dport_hi = 8999, .action = BX_CLASSIFY_TELEMETRY},
			{.match = M_DPORT, .dport_lo = 8080, .dport_hi = 8080, .action = BX_CLASSIFY_DENY},
			{.match = M_PROTO, .proto = P_TCP, .action = BX_CLASSIFY_CRITICAL},
		},
		3,
		{
			{"tcp 8080: first", {.proto = P_TCP, .len = 1000, .dport = 8080}, LANE(TELEMETRY)},
			{"udp 8080: first", {.proto = P_UDP, .len = 1000, .dport = 8080}, LANE(TELEMETRY)},
			{"tcp 9000: third", {.proto = P_TCP, .len = 1000, .dport = 9000}, LANE(CRITICAL)},
			{"udp 9000: default", {.proto = P_UDP, .len = 1000, .dport = 9000}, LANE(BULK)},
		},
		4,
	};

	(void)state;
	run_rule_suite(&s);
}

static void
test_rule_proto_only(void **state)
{
	const struct rule_suite s = {
		"protocols",
		{
			{.match = M_PROTO, .proto = P_GRE, .action = BX_CLASSIFY_CRITICAL},
			{.match = M_PROTO, .proto = P_ICMP, .action = BX_CLASSIFY_BULK},
		},
		2,
		{
			{"gre", {.proto = P_GRE, .len = 1000}, LANE(CRITICAL)},
			{"icmp", {.proto = P_ICMP, .len = 84}, LANE(BULK)},
			{"icmpv6 is not icmp", {.ver = 6, .proto = P_ICMPV6, .len = 84}, LANE(CRITICAL)},
			{"udp 5006", {.proto = P_UDP, .len = 1000, .dport = 5006}, LANE(TELEMETRY)},
		},
		4,
	};

	(void)state;
	run_rule_suite(&s);
}

static void
test_rule_src_v6_and_sport(void **state)
{
	const struct rule_suite s = {
		"src prefixes",
		{
			{.match = M_SRC | M_SPORT, .src = pfx("2001:db8:1::", 48),
			 .sport_lo = 1000, .sport_hi = 2000, .action = BX_CLASSIFY_DENY},
			{.match = M_SRC | M_PROTO, .src = pfx("192.0.2.0", 24),
			 .proto = P_UDP, .action = BX_CLASSIFY_TELEMETRY},
			{.match = M_DST, .dst = pfx("::", 0), .action = BX_CLASSIFY_CRITICAL},
		},
		3,
		{
			{"v6 in, sport 1500", {.ver = 6, .proto = P_UDP, .len = 1000, .sport = 1500, .src = "2001:db8:1:ffff::9"}, DROP(POLICY_DENY)},
			{"v6 in, sport 999", {.ver = 6, .proto = P_TCP, .len = 1000, .sport = 999, .src = "2001:db8:1::9"}, LANE(CRITICAL)},
			{"v6 out, sport 1500", {.ver = 6, .proto = P_UDP, .len = 1000, .sport = 1500, .src = "2001:db8:2::9"}, LANE(CRITICAL)},
			{"v4 in /24", {.proto = P_UDP, .len = 1000, .dport = 443, .src = "192.0.2.200"}, LANE(TELEMETRY)},
			{"v4 in /24, tcp", {.proto = P_TCP, .len = 1000, .dport = 443, .src = "192.0.2.200"}, LANE(BULK)},
			{"v4 out /24", {.proto = P_UDP, .len = 1000, .dport = 443, .src = "192.0.3.1"}, LANE(BULK)},
		},
		6,
	};

	(void)state;
	run_rule_suite(&s);
}

/* A port rule cannot see ports that are not there: non-first fragments and
 * non-TCP/UDP pass it by; TCP/UDP whose IP length ends before the ports
 * cannot be judged. */
static void
test_rule_ports_not_visible(void **state)
{
	const struct rule_suite s = {
		"deny 5006",
		{{.match = M_DPORT, .dport_lo = 5006, .dport_hi = 5006, .action = BX_CLASSIFY_DENY}},
		1,
		{
			{"first fragment", {.proto = P_UDP, .len = 1000, .dport = 5006, .frag = IP_MF}, DROP(POLICY_DENY)},
			{"middle fragment", {.proto = P_UDP, .len = 1000, .dport = 5006, .frag = IP_MF | 185}, LANE(BULK)},
			{"icmp", {.proto = P_ICMP, .len = 84}, LANE(CRITICAL)},
			{"ipv6 hop-by-hop", {.ver = 6, .proto = P_UDP, .len = 1000, .dport = 5006, .hbh = true}, LANE(BULK)},
			{"tcp 22 B", {.proto = P_TCP, .len = 22, .dport = 5006}, DROP(CLASSIFY_TRUNCATED)},
			{"udp 23 B", {.proto = P_UDP, .len = 23, .dport = 5006}, DROP(CLASSIFY_TRUNCATED)},
			{"udp 24 B", {.proto = P_UDP, .len = 24, .dport = 5006}, DROP(POLICY_DENY)},
		},
		7,
	};

	(void)state;
	run_rule_suite(&s);
}

static void
test_rule_catch_all(void **state)
{
	const struct rule_suite s = {
		"everything bulk",
		{
			{.match = M_DST, .dst = pfx("0.0.0.0", 0), .action = BX_CLASSIFY_BULK},
			{.match = 0, .action = BX_CLASSIFY_TELEMETRY},
		},
		2,
		{
			{"v4 icmp", {.proto = P_ICMP, .len = 84}, LANE(BULK)},
			{"v4 small", {.proto = P_UDP, .len = 40}, LANE(BULK)},
			{"v6 icmpv6", {.ver = 6, .proto = P_ICMPV6, .len = 84}, LANE(TELEMETRY)},
		},
		3,
	};

	(void)state;
	run_rule_suite(&s);
}

/* The set is a copy: changing the caller's array afterwards changes nothing. */
static void
test_rules_are_copied(void **state)
{
	struct bx_classify_rule r = {.match = M_PROTO, .proto = P_TCP,
				     .action = BX_CLASSIFY_DENY};
	const struct pkt tcp = {.proto = P_TCP, .len = 1000, .dport = 443};
	struct bx_classify_rules *rules = bx_classify_rules_create(&r, 1);

	(void)state;
	assert_non_null(rules);
	r.action = BX_CLASSIFY_BULK;
	r.proto = P_UDP;
	expect_pkt(rules, &tcp, (struct want)DROP(POLICY_DENY), "copied");
	bx_classify_rules_free(rules);
}

static void
test_rules_create_refuses(void **state)
{
	static const struct {
		const char *name;
		struct bx_classify_rule rule;
	} bad[] = {
		{"unknown match bit", {.match = 0x20, .action = BX_CLASSIFY_BULK}},
		{"unknown action", {.action = (enum bx_classify_action)(BX_CLASSIFY_DENY + 1)}},
		{"bad family", {.match = M_SRC, .src = {.af = 99, .len = 8}, .action = BX_CLASSIFY_BULK}},
		{"v4 /33", {.match = M_SRC, .src = {.af = AF_INET, .len = 33}, .action = BX_CLASSIFY_BULK}},
		{"v6 /129", {.match = M_DST, .dst = {.af = AF_INET6, .len = 129}, .action = BX_CLASSIFY_BULK}},
		{"v4 host bits", {.match = M_DST, .dst = {.af = AF_INET, .len = 8, .addr = {10, 0, 0, 1}}, .action = BX_CLASSIFY_BULK}},
		{"v6 host bits", {.match = M_DST, .dst = {.af = AF_INET6, .len = 64, .addr = {[15] = 1}}, .action = BX_CLASSIFY_BULK}},
		{"sport lo > hi", {.match = M_SPORT, .sport_lo = 10, .sport_hi = 9, .action = BX_CLASSIFY_BULK}},
		{"dport lo > hi", {.match = M_DPORT, .dport_lo = 10, .dport_hi = 9, .action = BX_CLASSIFY_BULK}},
		{"ports with icmp", {.match = M_PROTO | M_DPORT, .proto = P_ICMP, .dport_lo = 1, .dport_hi = 1, .action = BX_CLASSIFY_BULK}},
	};
	struct bx_classify_rule two[2] = {{.match = 0, .action = BX_CLASSIFY_BULK}};
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(bad); i++) {
		errno = 0;
		if (bx_classify_rules_create(&bad[i].rule, 1) != NULL || errno != EINVAL) {
			print_error("%s: accepted (errno %d)\n", bad[i].name, errno);
			fail();
		}
		/* One bad rule spoils the whole set. */
		two[1] = bad[i].rule;
		errno = 0;
		assert_null(bx_classify_rules_create(two, 2));
		assert_int_equal(errno, EINVAL);
	}
	errno = 0;
	assert_null(bx_classify_rules_create(NULL, 1));
	assert_int_equal(errno, EINVAL);
	bx_classify_rules_free(NULL);
	assert_int_equal(bx_classify_rules_count(NULL), 0);
}

static void
test_rules_bound(void **state)
{
	static struct bx_classify_rule many[BX_CLASSIFY_MAX_RULES + 1];
	const struct pkt tcp = {.proto = P_TCP, .len = 1000, .dport = 443};
	struct bx_classify_rules *rules;
	size_t i;

	(void)state;
	/* Only the last rule matches: the scan reaches the end of a full set. */
	for (i = 0; i < BX_ARRAY_SIZE(many); i++)
		many[i] = (struct bx_classify_rule){.match = M_PROTO, .proto = P_UDP,
						    .action = BX_CLASSIFY_CRITICAL};
	many[BX_CLASSIFY_MAX_RULES - 1] = (struct bx_classify_rule){.action = BX_CLASSIFY_DENY};
	errno = 0;
	assert_null(bx_classify_rules_create(many, BX_CLASSIFY_MAX_RULES + 1));
	assert_int_equal(errno, E2BIG);
	rules = bx_classify_rules_create(many, BX_CLASSIFY_MAX_RULES);
	assert_non_null(rules);
	assert_int_equal(bx_classify_rules_count(rules), BX_CLASSIFY_MAX_RULES);
	expect_pkt(rules, &tcp, (struct want)DROP(POLICY_DENY), "last of 256");
	bx_classify_rules_free(rules);
}

/* ---- rules from JSON -------------------------------------------------- */

static struct bx_classify_rules *
rules_from_text(const char *text, char *err, size_t errlen)
{
	struct bx_classify_rules *rules;
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

	if (j == NULL) {
		print_error("test JSON does not parse: %s: %s\n", jerr.text, text);
		fail();
	}
	rules = bx_classify_rules_from_json(j, err, errlen);
	json_decref(j);
	return rules;
}

static void
test_json_good(void **state)
{
	static const char text[] =
		"[{\"proto\": \"tcp\", \"dst_port\": 23, \"action\": \"deny\"},"
		" {\"proto\": \"udp\", \"dst_prefix\": \"10.0.0.0/8\","
		"  \"dst_port\": \"5000-5010\", \"action\": \"telemetry\"},"
		" {\"src_prefix\": \"2001:db8:1::/48\", \"action\": \"critical\"},"
		" {\"proto\": 47, \"action\": \"critical\"},"
		" {\"dst_prefix\": \"198.51.100.7\", \"src_port\": \"1-1023\","
		"  \"action\": \"bulk\"},"
		" {\"proto\": \"icmpv6\", \"action\": \"bulk\"}]";
	static const struct pkt_case cases[] = {
		{"tcp 23", {.proto = P_TCP, .len = 1000, .dport = 23}, DROP(POLICY_DENY)},
		{"udp 10/8 5000", {.proto = P_UDP, .len = 1000, .dport = 5000, .dst = "10.9.9.9"}, LANE(TELEMETRY)},
		{"udp 10/8 5010", {.proto = P_UDP, .len = 1000, .dport = 5010, .dst = "10.0.0.0"}, LANE(TELEMETRY)},
		{"udp 10/8 5011", {.proto = P_UDP, .len = 1000, .dport = 5011, .dst = "10.9.9.9"}, LANE(BULK)},
		{"udp 11/8 5005", {.proto = P_UDP, .len = 1000, .dport = 5005, .dst = "11.0.0.1"}, LANE(BULK)},
		{"v6 from /48", {.ver = 6, .proto = P_TCP, .len = 1000, .dport = 443, .src = "2001:db8:1::7"}, LANE(CRITICAL)},
		{"v6 not from /48", {.ver = 6, .proto = P_TCP, .len = 1000, .dport = 443, .src = "2001:db8:2::7"}, LANE(BULK)},
		{"gre", {.proto = P_GRE, .len = 1000}, LANE(CRITICAL)},
		{"to host, sport 80", {.proto = P_UDP, .len = 1000, .sport = 80, .dport = 5006}, LANE(BULK)},
		{"to host, sport 1024", {.proto = P_UDP, .len = 1000, .sport = 1024, .dport = 5006}, LANE(TELEMETRY)},
		{"to other host, sport 80", {.proto = P_UDP, .len = 1000, .sport = 80, .dport = 5006, .dst = "198.51.100.8"}, LANE(TELEMETRY)},
		{"icmpv6", {.ver = 6, .proto = P_ICMPV6, .len = 84, .src = "2001:db8:2::7"}, LANE(BULK)},
		{"icmp", {.proto = P_ICMP, .len = 84}, LANE(CRITICAL)},
	};
	char err[256] = "";
	struct bx_classify_rules *rules = rules_from_text(text, err, sizeof(err));

	(void)state;
	if (rules == NULL) {
		print_error("refused: %s\n", err);
		fail();
	}
	assert_int_equal(bx_classify_rules_count(rules), 6);
	run_cases(rules, cases, BX_ARRAY_SIZE(cases));
	bx_classify_rules_free(rules);

	rules = rules_from_text("[]", err, sizeof(err));
	assert_non_null(rules);
	assert_int_equal(bx_classify_rules_count(rules), 0);
	bx_classify_rules_free(rules);
}

static void
test_json_bad(void **state)
{
	static const struct {
		const char *json;
		const char *msg; /* must appear in the error */
	} bad[] = {
		{"{\"action\": \"bulk\"}", "rules: expected an array"},
		{"\"bulk\"", "rules: expected an array"},
		{"[{\"action\": \"bulk\"}, 7]", "rules[1]: expected an object"},
		{"[{\"action\": \"bulk\"}, {\"action\": \"bulk\", \"dst_prefix\": \"10.0.0.0/33\"}]",
		 "rules[1].dst_prefix: prefix length above 32"},
		{"[{\"action\": \"bulk\", \"src_prefix\": \"2001:db8::/129\"}]",
		 "rules[0].src_prefix: prefix length above 128"},
		{"[{\"action\": \"bulk\", \"dst_prefix\": \"10.0.0.1/8\"}]",
		 "rules[0].dst_prefix: address bits set past the prefix length"},
		{"[{\"action\": \"bulk\", \"src_prefix\": \"10.0.0/8\"}]", "rules[0].src_prefix: expected"},
		{"[{\"action\": \"bulk\", \"src_prefix\": \"10.0.0.0/\"}]", "rules[0].src_prefix: expected"},
		{"[{\"action\": \"bulk\", \"src_prefix\": \"/8\"}]", "rules[0].src_prefix: expected"},
		{"[{\"action\": \"bulk\", \"src_prefix\": \"10.0.0.0/8 \"}]", "rules[0].src_prefix: expected"},
		{"[{\"action\": \"bulk\", \"src_prefix\": \"10.0.0.0/+8\"}]", "rules[0].src_prefix: expected"},
		{"[{\"action\": \"bulk\", \"src_prefix\": \"\"}]", "rules[0].src_prefix: expected"},
		{"[{\"action\": \"bulk\", \"src_prefix\": 167772160}]", "rules[0].src_prefix: expected"},
		{"[{\"action\": \"bulk\", \"dst_prefix\": \"10.0.0.0\\u0000/8\"}]", "rules[0].dst_prefix: expected"},
		{"[{\"action\": \"bulk\", \"dst_port\": 65536}]",
		 "rules[0].dst_port: expected an integer 0..65535 or \"lo-hi\""},
		{"[{\"action\": \"bulk\", \"dst_port\": -1}]", "rules[0].dst_port: expected an integer"},
		{"[{\"action\": \"bulk\", \"dst_port\": 5.0}]", "rules[0].dst_port: expected an integer"},
		{"[{\"action\": \"bulk\", \"dst_port\": \"5000\"}]", "rules[0].dst_port: expected an integer"},
		{"[{\"action\": \"bulk\", \"dst_port\": \"5000-\"}]", "rules[0].dst_port: expected an integer"},
		{"[{\"action\": \"bulk\", \"dst_port\": \"-5000\"}]", "rules[0].dst_port: expected an integer"},
		{"[{\"action\": \"bulk\", \"dst_port\": \"5000-70000\"}]", "rules[0].dst_port: expected an integer"},
		{"[{\"action\": \"bulk\", \"dst_port\": \"1 -2\"}]", "rules[0].dst_port: expected an integer"},
		{"[{\"action\": \"bulk\", \"dst_port\": \"1-2-3\"}]", "rules[0].dst_port: expected an integer"},
		{"[{\"action\": \"bulk\", \"dst_port\": \"5010-5000\"}]", "rules[0].dst_port: empty range"},
		{"[{\"action\": \"bulk\", \"src_port\": \"9-8\", \"proto\": \"udp\"}]", "rules[0].src_port: empty range"},
		{"[{\"action\": \"bulk\", \"src_port\": true}]", "rules[0].src_port: expected an integer"},
		{"[{\"action\": \"bulk\", \"proto\": \"icmp\", \"dst_port\": 7}]",
		 "rules[0].dst_port: ports need proto tcp or udp"},
		{"[{\"action\": \"bulk\", \"proto\": 47, \"src_port\": 7}]",
		 "rules[0].src_port: ports need proto tcp or udp"},
		{"[{\"action\": \"bulk\", \"proto\": \"sctp\"}]", "rules[0].proto: expected"},
		{"[{\"action\": \"bulk\", \"proto\": \"TCP\"}]", "rules[0].proto: expected"},
		{"[{\"action\": \"bulk\", \"proto\": 256}]", "rules[0].proto: expected"},
		{"[{\"action\": \"bulk\", \"proto\": -1}]", "rules[0].proto: expected"},
		{"[{\"action\": \"allow\"}]", "rules[0].action: expected"},
		{"[{\"action\": 2}]", "rules[0].action: expected"},
		{"[{\"action\": null}]", "rules[0].action: expected"},
		{"[{\"proto\": \"tcp\"}]", "rules[0].action: missing"},
		{"[{}]", "rules[0].action: missing"},
		{"[{\"action\": \"bulk\", \"dport\": 5}]", "rules[0].dport: unknown key"},
		{"[{\"action\": \"bulk\"}, {\"action\": \"bulk\"}, {\"action\": \"bulk\", \"lane\": \"bulk\"}]",
		 "rules[2].lane: unknown key"},
	};
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(bad); i++) {
		struct bx_classify_rules *rules;

		memset(err, 0, sizeof(err));
		errno = 0;
		rules = rules_from_text(bad[i].json, err, sizeof(err));
		if (rules != NULL || errno != EINVAL || strstr(err, bad[i].msg) == NULL) {
			print_error("%s\n  accepted: %d, errno %d, error \"%s\", want \"%s\"\n",
				    bad[i].json, rules != NULL, errno, err, bad[i].msg);
			bx_classify_rules_free(rules);
			fail();
		}
		/* Without a buffer, or with a tiny one, it still refuses. */
		assert_null(rules_from_text(bad[i].json, NULL, 0));
		memset(err, 'x', sizeof(err));
		assert_null(rules_from_text(bad[i].json, err, 6));
		assert_int_equal(strlen(err), 5);
	}
}

static void
test_json_too_many(void **state)
{
	json_t *arr = json_array();
	struct bx_classify_rules *rules;
	char err[256] = "";
	unsigned i;

	(void)state;
	assert_non_null(arr);
	for (i = 0; i < BX_CLASSIFY_MAX_RULES; i++)
		assert_int_equal(json_array_append_new(arr, json_pack("{s:s}", "action", "bulk")), 0);
	rules = bx_classify_rules_from_json(arr, err, sizeof(err));
	assert_non_null(rules);
	assert_int_equal(bx_classify_rules_count(rules), BX_CLASSIFY_MAX_RULES);
	bx_classify_rules_free(rules);

	assert_int_equal(json_array_append_new(arr, json_pack("{s:s}", "action", "bulk")), 0);
	errno = 0;
	assert_null(bx_classify_rules_from_json(arr, err, sizeof(err)));
	assert_int_equal(errno, E2BIG);
	assert_non_null(strstr(err, "rules: 257 rules, at most 256"));
	json_decref(arr);
}

/* ---- burst helper over mbufs ------------------------------------------ */

static struct rte_mempool *pool;

/* An mbuf holding an Ethernet header and @len bytes of @ip, split over
 * two segments after @split bytes of the frame when @split != 0. */
static struct rte_mbuf *
frame(const uint8_t *ip, size_t len, size_t split)
{
	uint8_t f[ETH_LEN + PKT_MAX];
	size_t flen = ETH_LEN + len;
	struct rte_mbuf *m, *tail;
	char *d;

	memset(f, 0, ETH_LEN);
	f[0] = 0x02;
	f[6] = 0x02;
	f[12] = (ip[0] >> 4) == 6 ? 0x86 : 0x08;
	f[13] = (ip[0] >> 4) == 6 ? 0xdd : 0x00;
	memcpy(f + ETH_LEN, ip, len);

	m = rte_pktmbuf_alloc(pool);
	assert_non_null(m);
	if (split == 0 || split >= flen) {
		d = rte_pktmbuf_append(m, (uint16_t)flen);
		assert_non_null(d);
		memcpy(d, f, flen);
		return m;
	}
	d = rte_pktmbuf_append(m, (uint16_t)split);
	assert_non_null(d);
	memcpy(d, f, split);
	tail = rte_pktmbuf_alloc(pool);
	assert_non_null(tail);
	d = rte_pktmbuf_append(tail, (uint16_t)(flen - split));
	assert_non_null(d);
	memcpy(d, f + split, flen - split);
	assert_int_equal(rte_pktmbuf_chain(m, tail), 0);
	return m;
}

static struct rte_mbuf *
frame_pkt(const struct pkt *s, size_t split)
{
	uint8_t b[PKT_MAX];
	size_t len = build(s, b);

	return frame(b, len, split);
}

static void
test_process_burst(void **state)
{
	const struct bx_classify_rule telnet = {
		.match = M_PROTO | M_DPORT, .proto = P_TCP, .dport_lo = 23,
		.dport_hi = 23, .action = BX_CLASSIFY_DENY};
	const struct pkt udp5006 = {.proto = P_UDP, .len = 1000, .dport = 5006};
	const struct pkt tcp23 = {.proto = P_TCP, .len = 1000, .dport = 23};
	const struct pkt icmp = {.proto = P_ICMP, .len = 84};
	const struct pkt tcp443 = {.proto = P_TCP, .len = 1000, .dport = 443};
	const struct pkt v6 = {.ver = 6, .proto = P_UDP, .len = 500, .sport = 5006};
	struct bx_classify_rules *rules = bx_classify_rules_create(&telnet, 1);
	uint8_t b[PKT_MAX];
	struct {
		struct rte_mbuf *m;
		struct want want;
	} in[8];
	struct rte_mbuf *pkts[8];
	enum bx_wire_lane lane[8];
	enum bx_drop_reason why[8];
	uint16_t k, i, j, good = 0;
	size_t len;

	(void)state;
	assert_non_null(rules);
	in[0].m = frame_pkt(&udp5006, 0);
	in[0].want = (struct want)LANE(TELEMETRY);
	in[1].m = frame_pkt(&tcp23, 0);
	in[1].want = (struct want)DROP(POLICY_DENY);
	in[2].m = frame_pkt(&icmp, 0);
	in[2].want = (struct want)LANE(CRITICAL);
	len = build(&tcp443, b);
	in[3].m = frame(b, len - 1, 0);
	in[3].want = (struct want)DROP(CLASSIFY_TRUNCATED);
	in[4].m = frame_pkt(&tcp443, 0);
	in[4].want = (struct want)LANE(BULK);
	b[0] = 0x55;
	in[5].m = frame(b, len, 0);
	in[5].want = (struct want)DROP(CLASSIFY_NOT_IP);
	in[6].m = frame(b, 0, 0); /* Ethernet header only: nothing at l3_off */
	in[6].want = (struct want)DROP(CLASSIFY_TRUNCATED);
	in[7].m = frame_pkt(&v6, 0);
	in[7].want = (struct want)LANE(TELEMETRY);
	for (i = 0; i < 8; i++)
		pkts[i] = in[i].m;

	k = bx_classify_process(rules, pkts, 8, ETH_LEN, lane, why);
	assert_int_equal(k, 4);
	/* Kept ones first, in arrival order, with their lanes. */
	for (i = 0; i < 8; i++) {
		if (in[i].want.why != BX_DROP_NONE)
			continue;
		assert_ptr_equal(pkts[good], in[i].m);
		assert_int_equal(lane[good], in[i].want.lane);
		good++;
	}
	/* Every dropped one exactly once past the end, with its reason. */
	for (i = 0; i < 8; i++) {
		unsigned seen = 0;

		if (in[i].want.why == BX_DROP_NONE)
			continue;
		for (j = k; j < 8; j++) {
			if (pkts[j] != in[i].m)
				continue;
			seen++;
			assert_int_equal(why[j], in[i].want.why);
		}
		assert_int_equal(seen, 1);
	}

	assert_int_equal(bx_classify_process(rules, pkts, 0, ETH_LEN, lane, why), 0);
	for (i = 0; i < 8; i++)
		rte_pktmbuf_free(pkts[i]);
	bx_classify_rules_free(rules);
}

/* Headers split over two segments: the ports after 40 bytes of options sit
 * in the second one. */
static void
test_process_segmented(void **state)
{
	const struct pkt opts = {.proto = P_UDP, .len = 1000, .dport = 5006, .opt_words = 10};
	const struct pkt telnet = {.proto = P_TCP, .len = 1000, .dport = 23};
	const struct bx_classify_rule deny = {
		.match = M_PROTO | M_DPORT, .proto = P_TCP, .dport_lo = 23,
		.dport_hi = 23, .action = BX_CLASSIFY_DENY};
	struct bx_classify_rules *rules = bx_classify_rules_create(&deny, 1);
	static const size_t splits[] = {1, ETH_LEN, ETH_LEN + 1, ETH_LEN + 30,
					ETH_LEN + 61, ETH_LEN + 63, ETH_LEN + 64};
	struct rte_mbuf *pkts[2];
	enum bx_wire_lane lane[2];
	enum bx_drop_reason why[2];
	size_t i;

	(void)state;
	assert_non_null(rules);
	for (i = 0; i < BX_ARRAY_SIZE(splits); i++) {
		pkts[0] = frame_pkt(&telnet, splits[i]);
		pkts[1] = frame_pkt(&opts, splits[i]);
		assert_int_equal(pkts[1]->nb_segs, 2);
		assert_int_equal(bx_classify_process(rules, pkts, 2, ETH_LEN, lane, why), 1);
		assert_int_equal(lane[0], BX_LANE_TELEMETRY);
		assert_int_equal(why[1], BX_DROP_POLICY_DENY);
		assert_int_equal(rte_pktmbuf_pkt_len(pkts[0]), ETH_LEN + 1000);
		assert_int_equal(pkts[0]->data_len, splits[i]);
		rte_pktmbuf_free(pkts[0]);
		rte_pktmbuf_free(pkts[1]);
	}
	bx_classify_rules_free(rules);
}

static int
group_setup(void **state)
{
	(void)state;
	if (bx_test_eal_init("0") < 0)
		return -1;
	pool = rte_pktmbuf_pool_create("classify_test", POOL_SIZE, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	return pool != NULL ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_rule_set),
		cmocka_unit_test(test_padding_ignored),
		cmocka_unit_test(test_truncated_every_length),
		cmocka_unit_test(test_malformed_headers),
		cmocka_unit_test(test_rule_deny),
		cmocka_unit_test(test_rule_prefix_overrides_default),
		cmocka_unit_test(test_rule_port_range_edges),
		cmocka_unit_test(test_rule_first_match_wins),
		cmocka_unit_test(test_rule_proto_only),
		cmocka_unit_test(test_rule_src_v6_and_sport),
		cmocka_unit_test(test_rule_ports_not_visible),
		cmocka_unit_test(test_rule_catch_all),
		cmocka_unit_test(test_rules_are_copied),
		cmocka_unit_test(test_rules_create_refuses),
		cmocka_unit_test(test_rules_bound),
		cmocka_unit_test(test_json_good),
		cmocka_unit_test(test_json_bad),
		cmocka_unit_test(test_json_too_many),
		cmocka_unit_test(test_process_burst),
		cmocka_unit_test(test_process_segmented),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
