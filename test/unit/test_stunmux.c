/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of lib/stunmux on real byte vectors: the RFC 5769 sample
 * request and response verbatim, and STUN messages built here the way
 * libnice sends them (PRIORITY, ICE-CONTROLLING, USERNAME, an opaque
 * MESSAGE-INTEGRITY and a real FINGERPRINT), wrapped in IPv4/UDP with
 * checksums this file computes itself from the pseudo-header. No EAL.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bx_common.h"
#include "bx_stunmux.h"

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define LOCAL_IP IP4(192, 0, 2, 10)
#define OTHER_LOCAL_IP IP4(192, 0, 2, 11)
#define REMOTE_IP IP4(198, 51, 100, 7)
#define REMOTE2_IP IP4(203, 0, 113, 9)
#define MESH_PORT 7600
#define REMOTE_PORT 7600
#define TURN_PORT 3478
#define AGENT_MIN 40000
#define AGENT_MAX 40999

#define IP_HDR 20u
#define UDP_HDR 8u
#define OFF_SPORT 0u
#define OFF_DPORT 2u
#define OFF_ULEN 4u
#define OFF_UCSUM 6u
#define PROTO_UDP 17
#define PROTO_TCP 6
#define FLAG_DF 0x4000u
#define FLAG_MF 0x2000u

#define PKT_MAX 2048
#define STUN_MAX 1600

#define BINDING_REQUEST 0x0001
#define BINDING_INDICATION 0x0011
#define BINDING_SUCCESS 0x0101
#define BINDING_ERROR 0x0111
#define ATTR_USERNAME 0x0006
#define ATTR_MESSAGE_INTEGRITY 0x0008
#define ATTR_PRIORITY 0x0024
#define ATTR_ICE_CONTROLLING 0x802a
#define ATTR_FINGERPRINT 0x8028
#define FINGERPRINT_XOR 0x5354554eu
#define MI_LEN 20

/* ---- RFC 5769 sample messages (§2.1, §2.2), verbatim ---------------------- */

static const uint8_t rfc5769_request[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
	0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
	0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
	0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
	0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
	0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
	0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

static const uint8_t rfc5769_response[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
	0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
	0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* ---- byte helpers and checksums computed independently ------------------- */

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* Ones' complement sum of big-endian 16-bit words, an odd byte padded. */
static uint32_t
sum16(const uint8_t *p, size_t n, uint32_t acc)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		acc += get16(p + i);
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	return acc;
}

static uint16_t
fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

static size_t
ihl_of(const uint8_t *ip)
{
	return (size_t)(ip[0] & 0x0f) * 4;
}

/* Sum over the pseudo-header and the UDP datagram as it stands. */
static uint16_t
udp_sum(const uint8_t *ip)
{
	const uint8_t *udp = ip + ihl_of(ip);
	uint16_t ulen = get16(udp + OFF_ULEN);
	uint8_t ph[12];

	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = PROTO_UDP;
	put16(ph + 10, ulen);
	return fold(sum16(udp, ulen, sum16(ph, sizeof(ph), 0)));
}

static bool
udp_csum_verifies(const uint8_t *ip)
{
	return udp_sum(ip) == 0xffff;
}

/* ---- packets ------------------------------------------------------------- */

struct pkt {
	uint8_t b[PKT_MAX];
	size_t len;
};

struct udp_spec {
	uint32_t src, dst;
	uint16_t sport, dport;
	const void *payload;
	size_t plen;
	size_t opt_len; /* IPv4 option bytes, a multiple of 4 */
	bool no_csum;
};

static void
ip_fix_csum(uint8_t *ip)
{
	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~fold(sum16(ip, ihl_of(ip), 0)));
}

static void
udp_fix_csum(uint8_t *ip)
{
	uint8_t *udp = ip + ihl_of(ip);
	uint16_t c;

	put16(udp + OFF_UCSUM, 0);
	c = (uint16_t)~udp_sum(ip);
	put16(udp + OFF_UCSUM, c == 0 ? 0xffff : c);
}

static void
pkt_build(struct pkt *p, const struct udp_spec *s)
{
	size_t ihl = IP_HDR + s->opt_len;
	uint8_t *udp = p->b + ihl;
	size_t i;

	assert_true(ihl + UDP_HDR + s->plen <= sizeof(p->b));
	memset(p->b, 0, sizeof(p->b));
	p->b[0] = (uint8_t)(0x40 | (ihl / 4));
	put16(p->b + 2, (uint16_t)(ihl + UDP_HDR + s->plen));
	put16(p->b + 4, 0x1234);
	put16(p->b + 6, FLAG_DF);
	p->b[8] = 64;
	p->b[9] = PROTO_UDP;
	put32(p->b + 12, s->src);
	put32(p->b + 16, s->dst);
	/* Option bytes the translator must leave alone (NOPs would do, but
	 * distinct values show any byte moving). */
	for (i = 0; i < s->opt_len; i++)
		p->b[IP_HDR + i] = (uint8_t)(0x90 + i);
	ip_fix_csum(p->b);

	put16(udp + OFF_SPORT, s->sport);
	put16(udp + OFF_DPORT, s->dport);
	put16(udp + OFF_ULEN, (uint16_t)(UDP_HDR + s->plen));
	if (s->plen > 0)
		memcpy(udp + UDP_HDR, s->payload, s->plen);
	if (!s->no_csum)
		udp_fix_csum(p->b);
	p->len = ihl + UDP_HDR + s->plen;
}

/* Wire -> kernel: from a remote to LOCAL_IP:MESH_PORT. */
static void
pkt_in(struct pkt *p, uint32_t src, uint16_t sport, const void *payload,
       size_t plen)
{
	struct udp_spec s = { .src = src, .dst = LOCAL_IP, .sport = sport,
			      .dport = MESH_PORT, .payload = payload,
			      .plen = plen };

	pkt_build(p, &s);
}

/* Kernel -> wire: from LOCAL_IP:agent_port to a remote. */
static void
pkt_out(struct pkt *p, uint16_t agent_port, uint32_t dst, uint16_t dport,
	const void *payload, size_t plen)
{
	struct udp_spec s = { .src = LOCAL_IP, .dst = dst, .sport = agent_port,
			      .dport = dport, .payload = payload, .plen = plen };

	pkt_build(p, &s);
}

/*
 * @after is @before with only the UDP port at @port_off set to @port and the
 * UDP checksum changed, and that checksum still verifies (or stays 0).
 */
static void
assert_translated(const struct pkt *before, const struct pkt *after,
		  size_t port_off, uint16_t port)
{
	size_t udp = ihl_of(before->b), i;

	assert_int_equal(after->len, before->len);
	for (i = 0; i < before->len; i++) {
		if (i == udp + port_off || i == udp + port_off + 1 ||
		    i == udp + OFF_UCSUM || i == udp + OFF_UCSUM + 1)
			continue;
		assert_int_equal(after->b[i], before->b[i]);
	}
	assert_int_equal(get16(after->b + udp + port_off), port);
	if (get16(before->b + udp + OFF_UCSUM) == 0)
		assert_int_equal(get16(after->b + udp + OFF_UCSUM), 0);
	else
		assert_true(udp_csum_verifies(after->b));
}

/* ---- STUN messages ------------------------------------------------------- */

struct stun {
	uint8_t b[STUN_MAX];
	size_t len;
};

static uint32_t
crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static void
txid_make(uint8_t txid[12], uint32_t n)
{
	int i;

	for (i = 0; i < 12; i++)
		txid[i] = (uint8_t)(0xa0 + i + 7 * n);
	put32(txid + 8, n);
}

static void
stun_begin(struct stun *s, uint16_t type, const uint8_t txid[12])
{
	memset(s, 0, sizeof(*s));
	put16(s->b, type);
	put32(s->b + 4, BX_STUNMUX_STUN_MAGIC);
	memcpy(s->b + 8, txid, 12);
	s->len = BX_STUNMUX_STUN_HDR_LEN;
}

/* Appends an attribute (zero padding) and updates the message length. */
static void
stun_attr(struct stun *s, uint16_t type, const void *val, size_t n)
{
	size_t padded = (n + 3) & ~(size_t)3;

	assert_true(s->len + 4 + padded <= sizeof(s->b));
	put16(s->b + s->len, type);
	put16(s->b + s->len + 2, (uint16_t)n);
	if (n > 0)
		memcpy(s->b + s->len + 4, val, n);
	s->len += 4 + padded;
	put16(s->b + 2, (uint16_t)(s->len - BX_STUNMUX_STUN_HDR_LEN));
}

/* MESSAGE-INTEGRITY (opaque: the translator never checks it) and a real
 * FINGERPRINT (RFC 8489 §14.7), as libnice ends its messages. */
static void
stun_finish(struct stun *s)
{
	uint8_t mi[MI_LEN], fp[4];
	size_t i;

	for (i = 0; i < sizeof(mi); i++)
		mi[i] = (uint8_t)(0x5a ^ i);
	stun_attr(s, ATTR_MESSAGE_INTEGRITY, mi, sizeof(mi));
	put16(s->b + 2, (uint16_t)(s->len + 8 - BX_STUNMUX_STUN_HDR_LEN));
	put32(fp, crc32_ieee(s->b, s->len) ^ FINGERPRINT_XOR);
	stun_attr(s, ATTR_FINGERPRINT, fp, sizeof(fp));
}

/* A connectivity check (or, with BINDING_INDICATION, an indication) as
 * libnice sends it; @username NULL leaves USERNAME out. */
static void
stun_check(struct stun *s, uint16_t type, const uint8_t txid[12],
	   const char *username)
{
	const uint8_t prio[4] = { 0x6e, 0x00, 0x01, 0xff };
	const uint8_t tie[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	stun_begin(s, type, txid);
	if (type == BINDING_REQUEST) {
		stun_attr(s, ATTR_PRIORITY, prio, sizeof(prio));
		stun_attr(s, ATTR_ICE_CONTROLLING, tie, sizeof(tie));
	}
	if (username != NULL)
		stun_attr(s, ATTR_USERNAME, username, strlen(username));
	stun_finish(s);
}

/* A success or error response carrying only what libnice adds. */
static void
stun_response(struct stun *s, uint16_t type, const uint8_t txid[12])
{
	const uint8_t xor_mapped[8] = { 0x00, 0x01, 0xa1, 0x47,
					0xe1, 0x12, 0xa6, 0x43 };

	stun_begin(s, type, txid);
	stun_attr(s, 0x0020, xor_mapped, sizeof(xor_mapped));
	stun_finish(s);
}

/* ---- fixtures ------------------------------------------------------------ */

static struct bx_stunmux_conf
conf_make(uint32_t max_txn, uint32_t txn_ttl, uint32_t max_remotes,
	  uint32_t remote_ttl)
{
	struct bx_stunmux_conf c = {
		.local_ip = rte_cpu_to_be_32(LOCAL_IP),
		.mesh_port = MESH_PORT,
		.agent_port_min = AGENT_MIN,
		.agent_port_max = AGENT_MAX,
		.max_transactions = max_txn,
		.transaction_ttl_ms = txn_ttl,
		.max_remotes = max_remotes,
		.remote_ttl_ms = remote_ttl,
	};

	return c;
}

static struct bx_stunmux *
mux_new(uint32_t max_txn, uint32_t txn_ttl, uint32_t max_remotes,
	uint32_t remote_ttl)
{
	struct bx_stunmux_conf c = conf_make(max_txn, txn_ttl, max_remotes,
					     remote_ttl);
	struct bx_stunmux *m = bx_stunmux_create(&c);

	assert_non_null(m);
	return m;
}

static struct bx_stunmux *
mux_default(void)
{
	return mux_new(0, 0, 0, 0);
}

/* The last route is a 256-character ufrag. */
static const struct {
	const char *ufrag;
	uint16_t port;
} route_table[] = {
	{ "ourufrag", 40010 },
	{ "ourufragX", 40011 },
	{ "evtj", 40020 },
	{ "A+/9", 40030 },
	{ "Zz09+/Zz09+/Zz09", AGENT_MIN },
};

static char long_ufrag[BX_STUNMUX_UFRAG_MAX + 1];
#define LONG_UFRAG_PORT AGENT_MAX

static struct bx_stunmux_routes *
routes_new(void)
{
	struct bx_stunmux_routes *r;
	size_t i;

	r = bx_stunmux_routes_create(16, AGENT_MIN, AGENT_MAX);
	assert_non_null(r);
	for (i = 0; i < BX_ARRAY_SIZE(route_table); i++)
		assert_int_equal(bx_stunmux_routes_add(r, route_table[i].ufrag,
						       route_table[i].port), 0);
	assert_int_equal(bx_stunmux_routes_add(r, long_ufrag, LONG_UFRAG_PORT), 0);
	return r;
}

static int
group_setup(void **state)
{
	static const char ice_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
					"abcdefghijklmnopqrstuvwxyz"
					"0123456789+/";
	size_t i;

	(void)state;
	/* All 64 ice-chars in turn. */
	for (i = 0; i < BX_STUNMUX_UFRAG_MAX; i++)
		long_ufrag[i] = ice_chars[i % (sizeof(ice_chars) - 1)];
	long_ufrag[BX_STUNMUX_UFRAG_MAX] = '\0';
	return 0;
}

static const struct bx_stunmux_stats zero_stats;

/* Runs @p through a direction and checks the verdict; on anything but DROP
 * the reason must stay untouched, on DROP it must be @want_reason. */
static void
expect_in(struct bx_stunmux *m, const struct bx_stunmux_routes *r,
	  struct pkt *p, uint64_t now, enum bx_stunmux_verdict want,
	  enum bx_drop_reason want_reason)
{
	enum bx_drop_reason why = BX_DROP_NONE;

	assert_int_equal(bx_stunmux_in(m, r, p->b, p->len, now, &why), want);
	assert_int_equal(why, want == BX_STUNMUX_DROP ? want_reason : BX_DROP_NONE);
}

static void
expect_out(struct bx_stunmux *m, struct pkt *p, uint64_t now,
	   enum bx_stunmux_verdict want, enum bx_drop_reason want_reason)
{
	enum bx_drop_reason why = BX_DROP_NONE;

	assert_int_equal(bx_stunmux_out(m, p->b, p->len, now, &why), want);
	assert_int_equal(why, want == BX_STUNMUX_DROP ? want_reason : BX_DROP_NONE);
}

/* Inbound @p must be routed to @port with nothing else changed. */
static void
expect_routed_in(struct bx_stunmux *m, const struct bx_stunmux_routes *r,
		 const struct pkt *p, uint64_t now, uint16_t port)
{
	struct pkt q = *p;

	expect_in(m, r, &q, now, BX_STUNMUX_TRANSLATED, BX_DROP_NONE);
	assert_translated(p, &q, OFF_DPORT, port);
}

/* Inbound @p must be dropped for @reason and left byte for byte. */
static void
expect_dropped_in(struct bx_stunmux *m, const struct bx_stunmux_routes *r,
		  const struct pkt *p, uint64_t now, enum bx_drop_reason reason)
{
	struct pkt q = *p;

	expect_in(m, r, &q, now, BX_STUNMUX_DROP, reason);
	assert_memory_equal(q.b, p->b, p->len);
}

/* Sends a request from @agent_port to @dst:@dport, as the kernel would. */
static void
send_request(struct bx_stunmux *m, uint16_t agent_port, uint32_t dst,
	     uint16_t dport, uint32_t txn, uint64_t now)
{
	uint8_t txid[12];
	struct stun s;
	struct pkt p, q;

	txid_make(txid, txn);
	stun_check(&s, BINDING_REQUEST, txid, "theirs:ourufrag");
	pkt_out(&p, agent_port, dst, dport, s.b, s.len);
	q = p;
	expect_out(m, &q, now, BX_STUNMUX_TRANSLATED, BX_DROP_NONE);
	assert_translated(&p, &q, OFF_SPORT, MESH_PORT);
}

static void
response_pkt(struct pkt *p, uint16_t type, uint32_t txn, uint32_t src,
	     uint16_t sport)
{
	uint8_t txid[12];
	struct stun s;

	txid_make(txid, txn);
	stun_response(&s, type, txid);
	pkt_in(p, src, sport, s.b, s.len);
}

/* ---- the RFC 5769 exchange ----------------------------------------------- */

/* The sample request leaves through the translator and the sample response
 * (same transaction id) comes back to the agent that sent it, once. */
static void
test_rfc5769_request_and_response(void **state)
{
	struct bx_stunmux *m = mux_default();
	struct pkt req, resp, q;

	(void)state;
	pkt_out(&req, 40007, REMOTE_IP, REMOTE_PORT, rfc5769_request,
		sizeof(rfc5769_request));
	q = req;
	expect_out(m, &q, 1000, BX_STUNMUX_TRANSLATED, BX_DROP_NONE);
	assert_translated(&req, &q, OFF_SPORT, MESH_PORT);
	assert_int_equal(bx_stunmux_stats(m)->out_translated, 1);
	assert_int_equal(bx_stunmux_stats(m)->txn_recorded, 1);

	pkt_in(&resp, REMOTE_IP, REMOTE_PORT, rfc5769_response,
	       sizeof(rfc5769_response));
	expect_routed_in(m, NULL, &resp, 1010, 40007);
	assert_int_equal(bx_stunmux_stats(m)->in_by_txn, 1);
	assert_int_equal(bx_stunmux_stats(m)->in_translated, 1);

	/* A duplicate answers nothing any more, although the remote map knows
	 * REMOTE: responses never fall back to it. */
	expect_dropped_in(m, NULL, &resp, 1020, BX_DROP_STUN_UNROUTED);
	assert_int_equal(bx_stunmux_stats(m)->in_by_txn, 1);
	assert_int_equal(bx_stunmux_stats(m)->in_by_remote, 0);
	bx_stunmux_free(m);
}

/* ---- requests and indications by ufrag ----------------------------------- */

static void
test_request_routed_by_ufrag(void **state)
{
	static const struct {
		uint16_t type;
		const char *username; /* "@" stands for the 256-char ufrag */
		uint16_t port;
	} cases[] = {
		{ BINDING_REQUEST, "ourufrag:theirs", 40010 },
		{ BINDING_REQUEST, "ourufragX:theirs", 40011 },
		{ BINDING_REQUEST, "evtj:h6vY", 40020 },
		{ BINDING_REQUEST, "A+/9:z", 40030 },
		{ BINDING_REQUEST, "Zz09+/Zz09+/Zz09:a:b", AGENT_MIN },
		{ BINDING_REQUEST, "@", LONG_UFRAG_PORT },
		{ BINDING_INDICATION, "ourufrag:theirs", 40010 },
		{ BINDING_INDICATION, "evtj:x", 40020 },
	};
	struct bx_stunmux_routes *r = routes_new();
	struct bx_stunmux *m = mux_default();
	const struct bx_stunmux_stats *st;
	char username[BX_STUNMUX_USERNAME_MAX + 1];
	const char *user;
	uint8_t txid[12];
	struct stun s;
	struct pkt p;
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		user = cases[i].username;
		if (strcmp(user, "@") == 0) {
			snprintf(username, sizeof(username), "%s:theirs",
				 long_ufrag);
			user = username;
		}
		txid_make(txid, (uint32_t)i);
		stun_check(&s, cases[i].type, txid, user);
		pkt_in(&p, REMOTE_IP, REMOTE_PORT, s.b, s.len);
		expect_routed_in(m, r, &p, 5, cases[i].port);
	}
	/* The RFC 5769 sample request, verbatim: USERNAME "evtj:h6vY". */
	pkt_in(&p, REMOTE2_IP, 5000, rfc5769_request, sizeof(rfc5769_request));
	expect_routed_in(m, r, &p, 5, 40020);

	st = bx_stunmux_stats(m);
	assert_int_equal(st->in_by_ufrag, BX_ARRAY_SIZE(cases) + 1);
	assert_int_equal(st->in_translated, BX_ARRAY_SIZE(cases) + 1);
	assert_int_equal(st->in_by_txn, 0);
	assert_int_equal(st->in_by_remote, 0);
	bx_stunmux_free(m);
	bx_stunmux_routes_free(r);
}

/* A ufrag we do not have is dropped, even from a remote an agent talks to:
 * ufrags are exact (no prefix, no case folding). */
static void
test_unknown_ufrag_unrouted(void **state)
{
	static const char *const usernames[] = {
		"nobody:theirs",
		"ourufra:theirs",
		"ourufragXY:theirs",
		"OURUFRAG:theirs",
		"theirs:ourufrag",
	};
	struct bx_stunmux_routes *r = routes_new();
	struct bx_stunmux *m = mux_default();
	uint8_t txid[12];
	struct stun s;
	struct pkt p;
	size_t i;

	(void)state;
	send_request(m, 40010, REMOTE_IP, REMOTE_PORT, 99, 1);
	for (i = 0; i < BX_ARRAY_SIZE(usernames); i++) {
		txid_make(txid, (uint32_t)i);
		stun_check(&s, BINDING_REQUEST, txid, usernames[i]);
		pkt_in(&p, REMOTE_IP, REMOTE_PORT, s.b, s.len);
		expect_dropped_in(m, r, &p, 2, BX_DROP_STUN_UNROUTED);
	}
	/* No routes published yet: nothing is routed by ufrag. */
	stun_check(&s, BINDING_REQUEST, txid, "ourufrag:theirs");
	pkt_in(&p, REMOTE_IP, REMOTE_PORT, s.b, s.len);
	expect_dropped_in(m, NULL, &p, 2, BX_DROP_STUN_UNROUTED);
	/* Sent straight to the agent's private port, even with its ufrag:
	 * agents are reachable only through the mesh port. */
	put16(p.b + IP_HDR + OFF_DPORT, 40010);
	expect_dropped_in(m, r, &p, 2, BX_DROP_STUN_UNROUTED);
	put16(p.b + IP_HDR + OFF_DPORT, MESH_PORT);
	expect_routed_in(m, r, &p, 2, 40010);
	assert_int_equal(bx_stunmux_stats(m)->in_translated, 1);
	bx_stunmux_free(m);
	bx_stunmux_routes_free(r);
}

/* ---- responses by transaction id ----------------------------------------- */

static void
test_response_routed_by_txid(void **state)
{
	struct bx_stunmux *m = mux_default();
	struct pkt p, q;
	uint8_t txid[12];
	struct stun s;

	(void)state;
	send_request(m, 40005, REMOTE_IP, REMOTE_PORT, 1, 10);
	send_request(m, 40006, REMOTE_IP, REMOTE_PORT, 2, 11);
	/* A STUN server answers an agent's srflx query. */
	send_request(m, 40007, REMOTE2_IP, TURN_PORT, 3, 12);
	assert_int_equal(bx_stunmux_stats(m)->txn_recorded, 3);

	response_pkt(&p, BINDING_ERROR, 2, REMOTE_IP, REMOTE_PORT);
	expect_routed_in(m, NULL, &p, 20, 40006);
	response_pkt(&p, BINDING_SUCCESS, 3, REMOTE2_IP, TURN_PORT);
	expect_routed_in(m, NULL, &p, 20, 40007);
	response_pkt(&p, BINDING_SUCCESS, 1, REMOTE_IP, REMOTE_PORT);
	expect_routed_in(m, NULL, &p, 20, 40005);
	expect_dropped_in(m, NULL, &p, 21, BX_DROP_STUN_UNROUTED);
	response_pkt(&p, BINDING_SUCCESS, 4, REMOTE_IP, REMOTE_PORT);
	expect_dropped_in(m, NULL, &p, 21, BX_DROP_STUN_UNROUTED);
	assert_int_equal(bx_stunmux_stats(m)->in_by_txn, 3);

	/* What an agent sends that is not a request records nothing: its
	 * answer to a peer's check, or a keepalive indication. */
	txid_make(txid, 5);
	stun_response(&s, BINDING_SUCCESS, txid);
	pkt_out(&p, 40005, REMOTE_IP, REMOTE_PORT, s.b, s.len);
	q = p;
	expect_out(m, &q, 30, BX_STUNMUX_TRANSLATED, BX_DROP_NONE);
	assert_translated(&p, &q, OFF_SPORT, MESH_PORT);
	txid_make(txid, 6);
	stun_check(&s, BINDING_INDICATION, txid, NULL);
	pkt_out(&p, 40005, REMOTE_IP, REMOTE_PORT, s.b, s.len);
	expect_out(m, &p, 30, BX_STUNMUX_TRANSLATED, BX_DROP_NONE);
	assert_int_equal(bx_stunmux_stats(m)->txn_recorded, 3);
	response_pkt(&p, BINDING_SUCCESS, 5, REMOTE_IP, REMOTE_PORT);
	expect_dropped_in(m, NULL, &p, 31, BX_DROP_STUN_UNROUTED);
	response_pkt(&p, BINDING_SUCCESS, 6, REMOTE_IP, REMOTE_PORT);
	expect_dropped_in(m, NULL, &p, 31, BX_DROP_STUN_UNROUTED);
	bx_stunmux_free(m);
}

static void
test_txid_expiry(void **state)
{
	static const struct {
		uint32_t ttl_ms;  /* 0: the default, 40 s */
		int64_t after_ms; /* response time minus request time */
		bool routed;
	} cases[] = {
		{ 1000, 0, true },
		{ 1000, 999, true },
		{ 1000, 1000, false },
		{ 1000, 60000, false },
		{ 1000, -1, false }, /* a clock that went back: never misroute */
		{ 0, 39999, true },
		{ 0, 40000, false },
	};
	const uint64_t t0 = 100000;
	struct bx_stunmux *m;
	struct pkt p;
	uint64_t now;
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		m = mux_new(0, cases[i].ttl_ms, 0, 0);
		send_request(m, 40001, REMOTE_IP, REMOTE_PORT, 7, t0);
		response_pkt(&p, BINDING_SUCCESS, 7, REMOTE_IP, REMOTE_PORT);
		now = t0 + (uint64_t)cases[i].after_ms;
		if (cases[i].routed) {
			expect_routed_in(m, NULL, &p, now, 40001);
			assert_int_equal(bx_stunmux_stats(m)->txn_expired, 0);
		} else {
			expect_dropped_in(m, NULL, &p, now,
					  BX_DROP_STUN_UNROUTED);
			assert_int_equal(bx_stunmux_stats(m)->txn_expired, 1);
		}
		bx_stunmux_free(m);
	}
}

/* Full: the entry stored or refreshed longest ago goes, and is counted. */
static void
test_txn_table_full_evicts_oldest(void **state)
{
	struct bx_stunmux *m = mux_new(4, 0, 0, 0);
	struct pkt p;
	uint32_t t;

	(void)state;
	for (t = 0; t < 4; t++)
		send_request(m, (uint16_t)(40100 + t), REMOTE_IP, REMOTE_PORT, t,
			     1 + t);
	/* Transaction 0 is retransmitted (same id): now the newest. */
	send_request(m, 40100, REMOTE_IP, REMOTE_PORT, 0, 5);
	assert_int_equal(bx_stunmux_stats(m)->txn_evicted, 0);
	send_request(m, 40104, REMOTE_IP, REMOTE_PORT, 4, 6);
	assert_int_equal(bx_stunmux_stats(m)->txn_evicted, 1);
	assert_int_equal(bx_stunmux_stats(m)->txn_recorded, 6);

	response_pkt(&p, BINDING_SUCCESS, 1, REMOTE_IP, REMOTE_PORT);
	expect_dropped_in(m, NULL, &p, 7, BX_DROP_STUN_UNROUTED);
	for (t = 0; t < 5; t++) {
		if (t == 1)
			continue;
		response_pkt(&p, BINDING_SUCCESS, t, REMOTE_IP, REMOTE_PORT);
		expect_routed_in(m, NULL, &p, 7, (uint16_t)(40100 + t));
	}
	assert_int_equal(bx_stunmux_stats(m)->txn_expired, 0);
	bx_stunmux_free(m);
}

/* Expired entries make room before any live one is evicted. */
static void
test_txn_expired_reaped_before_eviction(void **state)
{
	struct bx_stunmux *m = mux_new(2, 100, 0, 0);
	struct pkt p;

	(void)state;
	send_request(m, 40001, REMOTE_IP, REMOTE_PORT, 1, 0);
	send_request(m, 40002, REMOTE_IP, REMOTE_PORT, 2, 50);
	send_request(m, 40003, REMOTE_IP, REMOTE_PORT, 3, 120);
	assert_int_equal(bx_stunmux_stats(m)->txn_expired, 1);
	assert_int_equal(bx_stunmux_stats(m)->txn_evicted, 0);
	response_pkt(&p, BINDING_SUCCESS, 2, REMOTE_IP, REMOTE_PORT);
	expect_routed_in(m, NULL, &p, 130, 40002);
	response_pkt(&p, BINDING_SUCCESS, 3, REMOTE_IP, REMOTE_PORT);
	expect_routed_in(m, NULL, &p, 130, 40003);
	bx_stunmux_free(m);
}

/* The default capacity is 4096 transactions. */
static void
test_txn_default_capacity(void **state)
{
	struct bx_stunmux *m = mux_default();
	struct pkt p;
	uint32_t t;

	(void)state;
	for (t = 0; t < BX_STUNMUX_DEFAULT_MAX_TRANSACTIONS + 1; t++)
		send_request(m, 40001, REMOTE_IP, REMOTE_PORT, t, 1);
	assert_int_equal(bx_stunmux_stats(m)->txn_evicted, 1);
	response_pkt(&p, BINDING_SUCCESS, 0, REMOTE_IP, REMOTE_PORT);
	expect_dropped_in(m, NULL, &p, 2, BX_DROP_STUN_UNROUTED);
	response_pkt(&p, BINDING_SUCCESS, 1, REMOTE_IP, REMOTE_PORT);
	expect_routed_in(m, NULL, &p, 2, 40001);
	bx_stunmux_free(m);
}

/* ---- everything else by remote address ------------------------------------ */

static void
test_indication_routed_by_remote(void **state)
{
	static const uint8_t channel_data[] = { 0x40, 0x00, 0x00, 0x04,
						0x81, 0x02, 0x03, 0x04 };
	static const uint8_t send_ind[] = { 0x00, 0x16, 0x00, 0x00 };
	struct bx_stunmux_routes *r = routes_new();
	struct bx_stunmux *m = mux_default();
	uint8_t txid[12];
	struct stun ind, req_no_user;
	struct pkt p;

	(void)state;
	txid_make(txid, 40);
	stun_check(&ind, BINDING_INDICATION, txid, NULL);
	txid_make(txid, 41);
	stun_check(&req_no_user, BINDING_REQUEST, txid, NULL);

	/* Agent 40003 talks to the TURN server (anything counts, even what
	 * is not STUN); its indications and ChannelData come back to it. */
	pkt_out(&p, 40003, REMOTE_IP, TURN_PORT, send_ind, sizeof(send_ind));
	expect_out(m, &p, 1, BX_STUNMUX_TRANSLATED, BX_DROP_NONE);
	pkt_in(&p, REMOTE_IP, TURN_PORT, ind.b, ind.len);
	expect_routed_in(m, r, &p, 2, 40003);
	pkt_in(&p, REMOTE_IP, TURN_PORT, channel_data, sizeof(channel_data));
	expect_routed_in(m, r, &p, 2, 40003);
	/* A request without USERNAME has nothing better either. */
	pkt_in(&p, REMOTE_IP, TURN_PORT, req_no_user.b, req_no_user.len);
	expect_routed_in(m, r, &p, 2, 40003);

	/* The last agent that talked to a remote gets it. */
	send_request(m, 40004, REMOTE_IP, TURN_PORT, 1, 3);
	pkt_in(&p, REMOTE_IP, TURN_PORT, ind.b, ind.len);
	expect_routed_in(m, r, &p, 4, 40004);
	assert_int_equal(bx_stunmux_stats(m)->in_by_remote, 4);

	/* A remote is address and port. */
	pkt_in(&p, REMOTE_IP, TURN_PORT + 1, ind.b, ind.len);
	expect_dropped_in(m, r, &p, 4, BX_DROP_STUN_UNROUTED);
	pkt_in(&p, REMOTE2_IP, TURN_PORT, ind.b, ind.len);
	expect_dropped_in(m, r, &p, 4, BX_DROP_STUN_UNROUTED);
	assert_int_equal(bx_stunmux_stats(m)->in_translated, 4);
	bx_stunmux_free(m);
	bx_stunmux_routes_free(r);
}

static void
test_remote_expiry_and_eviction(void **state)
{
	struct bx_stunmux *m = mux_new(0, 0, 2, 1000);
	uint8_t txid[12];
	struct stun ind;
	struct pkt p;

	(void)state;
	txid_make(txid, 1);
	stun_check(&ind, BINDING_INDICATION, txid, NULL);

	send_request(m, 40001, REMOTE_IP, 1001, 1, 0);
	pkt_in(&p, REMOTE_IP, 1001, ind.b, ind.len);
	expect_routed_in(m, NULL, &p, 999, 40001);
	expect_dropped_in(m, NULL, &p, 1000, BX_DROP_STUN_UNROUTED);
	assert_int_equal(bx_stunmux_stats(m)->remote_expired, 1);

	/* Two remotes fit; a third pushes out the one refreshed longest ago. */
	send_request(m, 40001, REMOTE_IP, 1001, 2, 2000);
	send_request(m, 40002, REMOTE_IP, 1002, 3, 2001);
	send_request(m, 40001, REMOTE_IP, 1001, 4, 2002);
	send_request(m, 40003, REMOTE_IP, 1003, 5, 2003);
	assert_int_equal(bx_stunmux_stats(m)->remote_evicted, 1);
	pkt_in(&p, REMOTE_IP, 1002, ind.b, ind.len);
	expect_dropped_in(m, NULL, &p, 2004, BX_DROP_STUN_UNROUTED);
	pkt_in(&p, REMOTE_IP, 1001, ind.b, ind.len);
	expect_routed_in(m, NULL, &p, 2004, 40001);
	pkt_in(&p, REMOTE_IP, 1003, ind.b, ind.len);
	expect_routed_in(m, NULL, &p, 2004, 40003);
	bx_stunmux_free(m);
}

/* Not STUN, to the mesh port, from nobody an agent talks to: dropped. A
 * mesh datagram is not the translator's at all. */
static void
test_non_stun_to_mesh_port(void **state)
{
	static const uint8_t hello[] = "hello";
	static const uint8_t channel_data[] = { 0x40, 0x01, 0x00, 0x00 };
	/* RFC 3489 (no magic cookie) and too short to show a cookie. */
	static const uint8_t classic[20] = { 0x00, 0x01, 0x00, 0x00, 0x12, 0x34 };
	static const uint8_t short_stun[7] = { 0x00, 0x01, 0x00, 0x00,
					       0x21, 0x12, 0xa4 };
	static const uint8_t mesh[24] = { 0x91, 0x00, 0x02, 0x00, 0, 0, 0, 9 };
	static const struct {
		const uint8_t *payload;
		size_t len;
	} cases[] = {
		{ hello, sizeof(hello) - 1 },
		{ channel_data, sizeof(channel_data) },
		{ classic, sizeof(classic) },
		{ short_stun, sizeof(short_stun) },
		{ NULL, 0 },
	};
	struct bx_stunmux_routes *r = routes_new();
	struct bx_stunmux *m = mux_default();
	struct pkt p, q;
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		pkt_in(&p, REMOTE_IP, REMOTE_PORT, cases[i].payload, cases[i].len);
		expect_dropped_in(m, r, &p, 1, BX_DROP_STUN_UNROUTED);
	}
	pkt_in(&p, REMOTE_IP, REMOTE_PORT, mesh, sizeof(mesh));
	q = p;
	expect_in(m, r, &q, 1, BX_STUNMUX_PASS, BX_DROP_NONE);
	assert_memory_equal(q.b, p.b, p.len);
	assert_memory_equal(bx_stunmux_stats(m), &zero_stats, sizeof(zero_stats));
	bx_stunmux_free(m);
	bx_stunmux_routes_free(r);
}

/* ---- malformed ------------------------------------------------------------ */

enum mutation {
	M_NONE,
	M_STUN_LEN_NOT_ALIGNED, /* length +2 and 2 more bytes: still matches */
	M_STUN_LEN_LONG,        /* length says 4 more than there is */
	M_STUN_TRAILING,        /* 4 bytes after the message */
	M_STUN_CUT_HEADER,      /* 12 bytes: cookie, no whole header */
	M_ATTR_OVERRUN,         /* FINGERPRINT claims 8 bytes */
	M_ATTR_PADDING_OVERRUN, /* FINGERPRINT claims 5: padded to 8 */
	M_USER_NO_COLON,
	M_USER_UFRAG_SHORT,
	M_USER_UFRAG_EMPTY,
	M_USER_UFRAG_LONG,      /* 257 characters before ':' */
	M_USER_TOO_LONG,        /* 514 bytes */
	M_IP_TRUNCATED,         /* one byte short of the total length */
	M_IP_FIRST_FRAGMENT,    /* MF set */
	M_IP_NO_UDP_LEN,        /* total length covers the ports only */
	M_UDP_LEN_LONG,
	M_UDP_LEN_SHORT,
};

static void
malformed_build(struct pkt *p, enum mutation mu)
{
	char username[2 * BX_STUNMUX_USERNAME_MAX];
	uint8_t txid[12], *udp;
	struct stun s;
	size_t n;

	txid_make(txid, 77);
	switch (mu) {
	case M_USER_NO_COLON:
		snprintf(username, sizeof(username), "ourufragtheirs");
		break;
	case M_USER_UFRAG_SHORT:
		snprintf(username, sizeof(username), "our:theirs");
		break;
	case M_USER_UFRAG_EMPTY:
		snprintf(username, sizeof(username), ":ourufrag");
		break;
	case M_USER_UFRAG_LONG:
		snprintf(username, sizeof(username), "%sx:theirs", long_ufrag);
		break;
	case M_USER_TOO_LONG:
		n = (size_t)snprintf(username, sizeof(username), "ourufrag:%s%s",
				     long_ufrag, long_ufrag);
		assert_true(n >= BX_STUNMUX_USERNAME_MAX + 1);
		username[BX_STUNMUX_USERNAME_MAX + 1] = '\0';
		break;
	default:
		snprintf(username, sizeof(username), "ourufrag:theirs");
		break;
	}
	stun_check(&s, BINDING_REQUEST, txid, username);

	switch (mu) {
	case M_STUN_LEN_NOT_ALIGNED:
		put16(s.b + 2, (uint16_t)(get16(s.b + 2) + 2));
		s.len += 2;
		break;
	case M_STUN_LEN_LONG:
		put16(s.b + 2, (uint16_t)(get16(s.b + 2) + 4));
		break;
	case M_STUN_TRAILING:
		s.len += 4;
		break;
	case M_STUN_CUT_HEADER:
		s.len = 12;
		break;
	case M_ATTR_OVERRUN:
		put16(s.b + s.len - 6, 8);
		break;
	case M_ATTR_PADDING_OVERRUN:
		put16(s.b + s.len - 6, 5);
		break;
	default:
		break;
	}
	pkt_in(p, REMOTE_IP, REMOTE_PORT, s.b, s.len);

	udp = p->b + IP_HDR;
	switch (mu) {
	case M_IP_TRUNCATED:
		p->len--;
		break;
	case M_IP_FIRST_FRAGMENT:
		put16(p->b + 6, FLAG_MF);
		ip_fix_csum(p->b);
		break;
	case M_IP_NO_UDP_LEN:
		put16(p->b + 2, IP_HDR + 4);
		ip_fix_csum(p->b);
		break;
	case M_UDP_LEN_LONG:
		put16(udp + OFF_ULEN, (uint16_t)(get16(udp + OFF_ULEN) + 1));
		break;
	case M_UDP_LEN_SHORT:
		put16(udp + OFF_ULEN, UDP_HDR - 1);
		break;
	default:
		break;
	}
}

static void
test_malformed_in(void **state)
{
	static const enum mutation cases[] = {
		M_STUN_LEN_NOT_ALIGNED, M_STUN_LEN_LONG, M_STUN_TRAILING,
		M_STUN_CUT_HEADER, M_ATTR_OVERRUN, M_ATTR_PADDING_OVERRUN,
		M_USER_NO_COLON, M_USER_UFRAG_SHORT, M_USER_UFRAG_EMPTY,
		M_USER_UFRAG_LONG, M_USER_TOO_LONG, M_IP_TRUNCATED,
		M_IP_FIRST_FRAGMENT, M_IP_NO_UDP_LEN, M_UDP_LEN_LONG,
		M_UDP_LEN_SHORT,
	};
	struct bx_stunmux_routes *r = routes_new();
	struct bx_stunmux *m = mux_default();
	struct pkt p;
	size_t i;

	(void)state;
	/* Unmutated, the same message is routed: the mutation is what breaks it. */
	malformed_build(&p, M_NONE);
	expect_routed_in(m, r, &p, 1, 40010);
	/* The remote is known too: a malformed packet must not fall back to it. */
	send_request(m, 40001, REMOTE_IP, REMOTE_PORT, 1, 1);
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		malformed_build(&p, cases[i]);
		expect_dropped_in(m, r, &p, 2, BX_DROP_STUN_MALFORMED);
	}
	assert_int_equal(bx_stunmux_stats(m)->in_translated, 1);
	bx_stunmux_free(m);
	bx_stunmux_routes_free(r);
}

/* From an agent port but not a sound datagram: dropped, never sent out
 * with the private port showing. */
static void
test_malformed_out(void **state)
{
	static const enum mutation cases[] = {
		M_IP_TRUNCATED, M_IP_FIRST_FRAGMENT, M_IP_NO_UDP_LEN,
		M_UDP_LEN_LONG, M_UDP_LEN_SHORT,
	};
	struct bx_stunmux *m = mux_default();
	enum bx_drop_reason why;
	struct pkt p, q;
	uint8_t *ip;
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		/* The inbound packet, turned around: LOCAL_IP:40010 -> REMOTE. */
		malformed_build(&p, cases[i]);
		ip = p.b;
		put32(ip + 12, LOCAL_IP);
		put32(ip + 16, REMOTE_IP);
		ip_fix_csum(ip);
		put16(ip + IP_HDR + OFF_SPORT, 40010);
		put16(ip + IP_HDR + OFF_DPORT, REMOTE_PORT);
		q = p;
		why = BX_DROP_NONE;
		assert_int_equal(bx_stunmux_out(m, q.b, q.len, 1, &why),
				 BX_STUNMUX_DROP);
		assert_int_equal(why, BX_DROP_STUN_MALFORMED);
		assert_memory_equal(q.b, p.b, p.len);
	}
	assert_memory_equal(bx_stunmux_stats(m), &zero_stats, sizeof(zero_stats));
	bx_stunmux_free(m);
}

/* ---- not the translator's: untouched ---------------------------------------- */

enum pass_case {
	P_IN_OTHER_PORT,
		P_IN_TCP,
	P_IN_OTHER_IP,
	P_IN_IPV6,
	P_IN_SHORT,
	P_IN_BAD_IHL,
	P_IN_LATER_FRAGMENT,
	P_IN_PORTS_PAST_TOTAL,
	P_OUT_OTHER_IP,
	P_OUT_BELOW_RANGE,
	P_OUT_ABOVE_RANGE,
	P_OUT_MESH_PORT,
	P_OUT_TCP,
	P_OUT_LATER_FRAGMENT,
};

static void
test_pass_untouched(void **state)
{
	static const struct {
		enum pass_case c;
		bool inbound;
	} cases[] = {
		{ P_IN_OTHER_PORT, true },
		{ P_IN_TCP, true },          { P_IN_OTHER_IP, true },
		{ P_IN_IPV6, true },         { P_IN_SHORT, true },
		{ P_IN_BAD_IHL, true },      { P_IN_LATER_FRAGMENT, true },
		{ P_IN_PORTS_PAST_TOTAL, true },
		{ P_OUT_OTHER_IP, false },   { P_OUT_BELOW_RANGE, false },
		{ P_OUT_ABOVE_RANGE, false }, { P_OUT_MESH_PORT, false },
		{ P_OUT_TCP, false },        { P_OUT_LATER_FRAGMENT, false },
	};
	struct bx_stunmux_routes *r = routes_new();
	struct bx_stunmux *m = mux_default();
	uint8_t txid[12];
	struct stun s;
	struct pkt p, q;
	uint8_t *udp = p.b + IP_HDR;
	size_t i;

	(void)state;
	txid_make(txid, 3);
	stun_check(&s, BINDING_REQUEST, txid, "ourufrag:theirs");
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		if (cases[i].inbound)
			pkt_in(&p, REMOTE_IP, REMOTE_PORT, s.b, s.len);
		else
			pkt_out(&p, 40010, REMOTE_IP, REMOTE_PORT, s.b, s.len);
		switch (cases[i].c) {
		case P_IN_OTHER_PORT:
			put16(udp + OFF_DPORT, MESH_PORT + 1);
			break;
		case P_IN_TCP:
		case P_OUT_TCP:
			p.b[9] = PROTO_TCP;
			break;
		case P_IN_OTHER_IP:
			put32(p.b + 16, OTHER_LOCAL_IP);
			break;
		case P_IN_IPV6:
			p.b[0] = 0x65;
			break;
		case P_IN_SHORT:
			p.len = IP_HDR - 1;
			break;
		case P_IN_BAD_IHL:
			p.b[0] = 0x44;
			break;
		case P_IN_LATER_FRAGMENT:
		case P_OUT_LATER_FRAGMENT:
			put16(p.b + 6, 0x0001);
			break;
		case P_IN_PORTS_PAST_TOTAL:
			put16(p.b + 2, IP_HDR + 3);
			break;
		case P_OUT_OTHER_IP:
			put32(p.b + 12, OTHER_LOCAL_IP);
			break;
		case P_OUT_BELOW_RANGE:
			put16(udp + OFF_SPORT, AGENT_MIN - 1);
			break;
		case P_OUT_ABOVE_RANGE:
			put16(udp + OFF_SPORT, AGENT_MAX + 1);
			break;
		case P_OUT_MESH_PORT:
			put16(udp + OFF_SPORT, MESH_PORT);
			break;
		}
		q = p;
		if (cases[i].inbound)
			expect_in(m, r, &q, 1, BX_STUNMUX_PASS, BX_DROP_NONE);
		else
			expect_out(m, &q, 1, BX_STUNMUX_PASS, BX_DROP_NONE);
		assert_memory_equal(q.b, p.b, sizeof(p.b));
	}
	assert_memory_equal(bx_stunmux_stats(m), &zero_stats, sizeof(zero_stats));

	/* The edges of the agent range are in it. */
	pkt_out(&p, AGENT_MIN, REMOTE_IP, REMOTE_PORT, s.b, s.len);
	expect_out(m, &p, 1, BX_STUNMUX_TRANSLATED, BX_DROP_NONE);
	pkt_out(&p, AGENT_MAX, REMOTE_IP, REMOTE_PORT, s.b, s.len);
	expect_out(m, &p, 1, BX_STUNMUX_TRANSLATED, BX_DROP_NONE);
	bx_stunmux_free(m);
	bx_stunmux_routes_free(r);
}

/* ---- checksums and header shapes -------------------------------------------- */

static void
test_zero_checksum_stays_zero(void **state)
{
	struct bx_stunmux_routes *r = routes_new();
	struct bx_stunmux *m = mux_default();
	uint8_t txid[12];
	struct stun s;
	struct udp_spec spec;
	struct pkt p, q;

	(void)state;
	txid_make(txid, 8);
	stun_check(&s, BINDING_REQUEST, txid, "ourufrag:theirs");
	spec = (struct udp_spec){ .src = LOCAL_IP, .dst = REMOTE_IP,
				  .sport = 40010, .dport = REMOTE_PORT,
				  .payload = s.b, .plen = s.len, .no_csum = true };
	pkt_build(&p, &spec);
	q = p;
	expect_out(m, &q, 1, BX_STUNMUX_TRANSLATED, BX_DROP_NONE);
	assert_translated(&p, &q, OFF_SPORT, MESH_PORT);
	assert_int_equal(get16(q.b + IP_HDR + OFF_UCSUM), 0);

	spec = (struct udp_spec){ .src = REMOTE_IP, .dst = LOCAL_IP,
				  .sport = REMOTE_PORT, .dport = MESH_PORT,
				  .payload = s.b, .plen = s.len, .no_csum = true };
	pkt_build(&p, &spec);
	q = p;
	expect_in(m, r, &q, 1, BX_STUNMUX_TRANSLATED, BX_DROP_NONE);
	assert_translated(&p, &q, OFF_DPORT, 40010);
	assert_int_equal(get16(q.b + IP_HDR + OFF_UCSUM), 0);
	bx_stunmux_free(m);
	bx_stunmux_routes_free(r);
}

/*
 * A datagram whose checksum, once the port changes, computes to 0 must
 * carry 0xffff (0 would mean "no checksum"). Its payload has a free word
 * set so that the translated datagram sums to 0xffff.
 */
static void
test_checksum_computing_to_zero(void **state)
{
	struct bx_stunmux *m = mux_default();
	uint8_t payload[4] = { 0x40, 0x01, 0, 0 }; /* ChannelData-like */
	struct pkt p, q;
	uint16_t w;
	int dir;

	(void)state;
	/* Both directions go to/from REMOTE_IP:TURN_PORT and agent 40011. */
	send_request(m, 40011, REMOTE_IP, TURN_PORT, 1, 0);
	for (dir = 0; dir < 2; dir++) {
		/* The translated datagram with the free word 0 ... */
		if (dir == 0)
			pkt_out(&p, MESH_PORT, REMOTE_IP, TURN_PORT, payload, 4);
		else
			pkt_build(&p, &(struct udp_spec){
				.src = REMOTE_IP, .dst = LOCAL_IP,
				.sport = TURN_PORT, .dport = 40011,
				.payload = payload, .plen = 4 });
		put16(p.b + IP_HDR + OFF_UCSUM, 0);
		/* ... then the word that makes its sum 0xffff. */
		w = (uint16_t)~udp_sum(p.b);
		put16(payload + 2, w);

		if (dir == 0)
			pkt_out(&p, 40011, REMOTE_IP, TURN_PORT, payload, 4);
		else
			pkt_in(&p, REMOTE_IP, TURN_PORT, payload, 4);
		assert_true(udp_csum_verifies(p.b));
		assert_int_not_equal(get16(p.b + IP_HDR + OFF_UCSUM), 0xffff);
		q = p;
		if (dir == 0) {
			expect_out(m, &q, 1, BX_STUNMUX_TRANSLATED, BX_DROP_NONE);
			assert_translated(&p, &q, OFF_SPORT, MESH_PORT);
		} else {
			expect_in(m, NULL, &q, 1, BX_STUNMUX_TRANSLATED,
				  BX_DROP_NONE);
			assert_translated(&p, &q, OFF_DPORT, 40011);
		}
		assert_int_equal(get16(q.b + IP_HDR + OFF_UCSUM), 0xffff);
		payload[2] = payload[3] = 0;
	}
	bx_stunmux_free(m);
}

/* IPv4 options move the UDP header; Ethernet padding past the total length
 * is neither part of the datagram nor touched. */
static void
test_options_and_padding(void **state)
{
	struct bx_stunmux_routes *r = routes_new();
	struct bx_stunmux *m = mux_default();
	uint8_t txid[12];
	struct stun s;
	struct pkt p, q;
	size_t total;

	(void)state;
	txid_make(txid, 9);
	stun_check(&s, BINDING_REQUEST, txid, "evtj:theirs");
	pkt_build(&p, &(struct udp_spec){ .src = REMOTE_IP, .dst = LOCAL_IP,
					  .sport = REMOTE_PORT,
					  .dport = MESH_PORT, .payload = s.b,
					  .plen = s.len, .opt_len = 8 });
	expect_routed_in(m, r, &p, 1, 40020);

	pkt_build(&p, &(struct udp_spec){ .src = LOCAL_IP, .dst = REMOTE_IP,
					  .sport = 40020,
					  .dport = REMOTE_PORT, .payload = s.b,
					  .plen = s.len, .opt_len = 4 });
	total = p.len;
	memset(p.b + total, 0xaa, 6);
	p.len = total + 6;
	q = p;
	expect_out(m, &q, 1, BX_STUNMUX_TRANSLATED, BX_DROP_NONE);
	assert_translated(&p, &q, OFF_SPORT, MESH_PORT);
	assert_int_equal(get16(q.b + 2), total);

	/* Padding inbound too, with the request it now answers. */
	response_pkt(&p, BINDING_SUCCESS, 9, REMOTE_IP, REMOTE_PORT);
	memset(p.b + p.len, 0x55, 10);
	p.len += 10;
	expect_routed_in(m, r, &p, 2, 40020);
	bx_stunmux_free(m);
	bx_stunmux_routes_free(r);
}

static void
test_is_stun(void **state)
{
	uint8_t txid[12], buf[STUN_MAX];
	struct stun s;

	(void)state;
	txid_make(txid, 1);
	stun_check(&s, BINDING_REQUEST, txid, "ourufrag:theirs");

	assert_true(bx_stunmux_is_stun(rfc5769_request, sizeof(rfc5769_request)));
	assert_true(bx_stunmux_is_stun(rfc5769_response, sizeof(rfc5769_response)));
	assert_true(bx_stunmux_is_stun(s.b, s.len));
	/* The header alone, its length still counting the attributes: no. */
	assert_false(bx_stunmux_is_stun(s.b, BX_STUNMUX_STUN_HDR_LEN));
	/* A bare header saying so is well-formed. */
	memcpy(buf, s.b, BX_STUNMUX_STUN_HDR_LEN);
	put16(buf + 2, 0);
	assert_true(bx_stunmux_is_stun(buf, BX_STUNMUX_STUN_HDR_LEN));

	assert_false(bx_stunmux_is_stun(s.b, 0));
	assert_false(bx_stunmux_is_stun(s.b, s.len - 4));
	memcpy(buf, s.b, s.len);
	buf[0] |= 0x40; /* ChannelData range */
	assert_false(bx_stunmux_is_stun(buf, s.len));
	memcpy(buf, s.b, s.len);
	buf[0] |= 0x80; /* mesh range */
	assert_false(bx_stunmux_is_stun(buf, s.len));
	memcpy(buf, s.b, s.len);
	buf[7] ^= 1; /* cookie */
	assert_false(bx_stunmux_is_stun(buf, s.len));
	memcpy(buf, s.b, s.len);
	put16(buf + s.len - 6, 8); /* FINGERPRINT overruns */
	assert_false(bx_stunmux_is_stun(buf, s.len));
}

/* ---- routes --------------------------------------------------------------- */

static void
test_routes_validation(void **state)
{
	static const struct {
		const char *ufrag; /* "@": 256 chars, "@+": 257 chars */
		uint16_t port;
		int ret;
	} cases[] = {
		{ "abcd", 40000, 0 },
		{ "@", 40999, 0 },
		{ "A+/0", 40500, 0 },
		{ "abcd", 40001, -EEXIST },
		{ "abc", 40001, -EINVAL },
		{ "", 40001, -EINVAL },
		{ "@+", 40001, -EINVAL },
		{ "ab:cd", 40001, -EINVAL },
		{ "ab-cd", 40001, -EINVAL },
		{ "ab cd", 40001, -EINVAL },
		{ "ab=cd", 40001, -EINVAL },
		{ "abcd\n", 40001, -EINVAL },
		{ "abc\xc3\xa9", 40001, -EINVAL },
		{ "efgh", AGENT_MIN - 1, -EINVAL },
		{ "efgh", AGENT_MAX + 1, -EINVAL },
		{ "efgh", 0, -EINVAL },
		{ "efgh", MESH_PORT, -EINVAL },
		{ "efgh", 40002, 0 },
		{ "ijkl", 40003, -ENOSPC },
	};
	char ufrag[BX_STUNMUX_UFRAG_MAX + 2];
	struct bx_stunmux_routes *r;
	struct bx_stunmux *m = mux_default();
	uint8_t txid[12];
	struct stun s;
	struct pkt p;
	size_t i;

	(void)state;
	r = bx_stunmux_routes_create(4, AGENT_MIN, AGENT_MAX);
	assert_non_null(r);
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		if (strcmp(cases[i].ufrag, "@") == 0)
			snprintf(ufrag, sizeof(ufrag), "%s", long_ufrag);
		else if (strcmp(cases[i].ufrag, "@+") == 0)
			snprintf(ufrag, sizeof(ufrag), "%sA", long_ufrag);
		else
			snprintf(ufrag, sizeof(ufrag), "%s", cases[i].ufrag);
		assert_int_equal(bx_stunmux_routes_add(r, ufrag, cases[i].port),
				 cases[i].ret);
	}
	assert_int_equal(bx_stunmux_routes_add(NULL, "abcd", 40000), -EINVAL);
	assert_int_equal(bx_stunmux_routes_add(r, NULL, 40000), -EINVAL);

	/* The refused duplicate left the first route as it was. */
	txid_make(txid, 1);
	stun_check(&s, BINDING_REQUEST, txid, "abcd:x");
	pkt_in(&p, REMOTE_IP, REMOTE_PORT, s.b, s.len);
	expect_routed_in(m, r, &p, 1, 40000);
	stun_check(&s, BINDING_REQUEST, txid, "efgh:x");
	pkt_in(&p, REMOTE_IP, REMOTE_PORT, s.b, s.len);
	expect_routed_in(m, r, &p, 1, 40002);
	stun_check(&s, BINDING_REQUEST, txid, "ijkl:x");
	pkt_in(&p, REMOTE_IP, REMOTE_PORT, s.b, s.len);
	expect_dropped_in(m, r, &p, 1, BX_DROP_STUN_UNROUTED);
	bx_stunmux_routes_free(r);
	bx_stunmux_free(m);
}

static void
test_routes_create_validation(void **state)
{
	static const struct {
		uint32_t capacity;
		uint16_t min, max;
		bool ok;
	} cases[] = {
		{ 1, 40000, 40000, true },
		{ BX_STUNMUX_ROUTES_MAX, 1, UINT16_MAX, true },
		{ 0, 40000, 40999, false },
		{ BX_STUNMUX_ROUTES_MAX + 1, 40000, 40999, false },
		{ 8, 0, 40999, false },
		{ 8, 40999, 40000, false },
	};
	struct bx_stunmux_routes *r;
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		errno = 0;
		r = bx_stunmux_routes_create(cases[i].capacity, cases[i].min,
					     cases[i].max);
		if (cases[i].ok) {
			assert_non_null(r);
		} else {
			assert_null(r);
			assert_int_equal(errno, EINVAL);
		}
		bx_stunmux_routes_free(r);
	}
	bx_stunmux_routes_free(NULL);
}

/* A full table of 65536 agents: each ufrag finds its own port. */
static void
test_routes_at_capacity(void **state)
{
	struct bx_stunmux_routes *r;
	struct bx_stunmux *m = mux_default();
	char ufrag[32], username[64];
	uint8_t txid[12];
	struct stun s;
	struct pkt p;
	uint16_t port;
	uint32_t i;

	(void)state;
	r = bx_stunmux_routes_create(BX_STUNMUX_ROUTES_MAX, AGENT_MIN, AGENT_MAX);
	assert_non_null(r);
	for (i = 0; i < BX_STUNMUX_ROUTES_MAX; i++) {
		snprintf(ufrag, sizeof(ufrag), "peer%06u", i);
		port = (uint16_t)(AGENT_MIN + i % 1000);
		assert_int_equal(bx_stunmux_routes_add(r, ufrag, port), 0);
	}
	assert_int_equal(bx_stunmux_routes_add(r, "onemore", AGENT_MIN), -ENOSPC);
	for (i = 0; i < BX_STUNMUX_ROUTES_MAX; i += 997) {
		snprintf(username, sizeof(username), "peer%06u:x", i);
		txid_make(txid, i);
		stun_check(&s, BINDING_REQUEST, txid, username);
		pkt_in(&p, REMOTE_IP, REMOTE_PORT, s.b, s.len);
		expect_routed_in(m, r, &p, 1, (uint16_t)(AGENT_MIN + i % 1000));
	}
	bx_stunmux_routes_free(r);
	bx_stunmux_free(m);
}

/* ---- creation ------------------------------------------------------------- */

static void
test_create_validation(void **state)
{
	enum { BAD_IP, BAD_MESH, BAD_MIN, MIN_GT_MAX, MESH_IN, MESH_AT_MIN,
	       MESH_AT_MAX, BIG_TXN, BIG_REMOTES, OK_BELOW, OK_ABOVE };
	static const struct {
		int c;
		bool ok;
	} cases[] = {
		{ BAD_IP, false },      { BAD_MESH, false },
		{ BAD_MIN, false },     { MIN_GT_MAX, false },
		{ MESH_IN, false },     { MESH_AT_MIN, false },
		{ MESH_AT_MAX, false }, { BIG_TXN, false },
		{ BIG_REMOTES, false }, { OK_BELOW, true },
		{ OK_ABOVE, true },
	};
	struct bx_stunmux_conf c;
	struct bx_stunmux *m;
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		c = conf_make(0, 0, 0, 0);
		switch (cases[i].c) {
		case BAD_IP:
			c.local_ip = 0;
			break;
		case BAD_MESH:
			c.mesh_port = 0;
			break;
		case BAD_MIN:
			c.agent_port_min = 0;
			break;
		case MIN_GT_MAX:
			c.agent_port_min = AGENT_MAX + 1;
			break;
		case MESH_IN:
			c.mesh_port = 40500;
			break;
		case MESH_AT_MIN:
			c.mesh_port = AGENT_MIN;
			break;
		case MESH_AT_MAX:
			c.mesh_port = AGENT_MAX;
			break;
		case BIG_TXN:
			c.max_transactions = BX_STUNMUX_TABLE_MAX + 1;
			break;
		case BIG_REMOTES:
			c.max_remotes = BX_STUNMUX_TABLE_MAX + 1;
			break;
		case OK_BELOW:
			c.mesh_port = AGENT_MIN - 1;
			break;
		case OK_ABOVE:
			c.mesh_port = AGENT_MAX + 1;
			break;
		}
		errno = 0;
		m = bx_stunmux_create(&c);
		if (cases[i].ok) {
			assert_non_null(m);
		} else {
			assert_null(m);
			assert_int_equal(errno, EINVAL);
		}
		bx_stunmux_free(m);
	}
	errno = 0;
	assert_null(bx_stunmux_create(NULL));
	assert_int_equal(errno, EINVAL);
	bx_stunmux_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5769_request_and_response),
		cmocka_unit_test(test_request_routed_by_ufrag),
		cmocka_unit_test(test_unknown_ufrag_unrouted),
		cmocka_unit_test(test_response_routed_by_txid),
		cmocka_unit_test(test_txid_expiry),
		cmocka_unit_test(test_txn_table_full_evicts_oldest),
		cmocka_unit_test(test_txn_expired_reaped_before_eviction),
		cmocka_unit_test(test_txn_default_capacity),
		cmocka_unit_test(test_indication_routed_by_remote),
		cmocka_unit_test(test_remote_expiry_and_eviction),
		cmocka_unit_test(test_non_stun_to_mesh_port),
		cmocka_unit_test(test_malformed_in),
		cmocka_unit_test(test_malformed_out),
		cmocka_unit_test(test_pass_untouched),
		cmocka_unit_test(test_zero_checksum_stays_zero),
		cmocka_unit_test(test_checksum_computing_to_zero),
		cmocka_unit_test(test_options_and_padding),
		cmocka_unit_test(test_is_stun),
		cmocka_unit_test(test_routes_validation),
		cmocka_unit_test(test_routes_create_validation),
		cmocka_unit_test(test_routes_at_capacity),
		cmocka_unit_test(test_create_validation),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
