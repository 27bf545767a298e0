/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lane classifier: a bounds-checked look at the IP header (and the ports),
 * a linear scan of precompiled rules, then the default policy.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_common.h>
#include <rte_mbuf.h>

#include "bx_common.h"
#include "bx_classify.h"

#define IPV4_HDR_MIN 20u
#define IPV4_HDR_MAX 60u
#define IPV4_FRAG_OFF_MASK 0x1fffu /* offset bits of the flags/offset field */
#define IPV6_HDR_LEN 40u
#define L4_PORTS_LEN 4u            /* source + destination port, TCP and UDP */
#define PROTO_ICMP 1u
#define PROTO_TCP 6u
#define PROTO_UDP 17u
#define PROTO_ICMPV6 58u
#define IPV4_WORDS 1u
#define IPV6_WORDS 4u
#define PORT_DIGITS_MAX 5u         /* "65535" */
#define JSON_KEY_SHOWN_MAX 64      /* an unknown key is quoted up to this */

_Static_assert(BX_CLASSIFY_HDR_MAX >= IPV4_HDR_MAX + L4_PORTS_LEN,
	       "the burst helper linearises every byte the parser reads");
/* The default policy relies on this: a first fragment of at least
 * BX_CLASSIFY_SMALL_PKT bytes always holds its ports. */
_Static_assert(BX_CLASSIFY_SMALL_PKT >= IPV4_HDR_MAX + L4_PORTS_LEN,
	       "a non-small TCP/UDP packet always carries its ports");

/* A prefix ready for matching: address and mask as 32-bit words in network
 * byte order, so a packet's address is compared word by word unconverted. */
struct cprefix {
	uint8_t version; /* IP version nibble it applies to: 4 or 6 */
	uint8_t nwords;
	uint32_t net[IPV6_WORDS];
	uint32_t mask[IPV6_WORDS];
};

struct crule {
	uint32_t match;
	uint8_t proto;
	uint8_t action;
	uint16_t sport_lo;
	uint16_t sport_hi;
	uint16_t dport_lo;
	uint16_t dport_hi;
	struct cprefix src;
	struct cprefix dst;
};

struct bx_classify_rules {
	unsigned n;
	struct crule rule[];
};

enum ports_state {
	PORTS_NONE, /* not TCP/UDP, a non-first fragment, or IPv6 ext headers */
	PORTS_OK,
	PORTS_CUT,  /* TCP/UDP, but the IP length ends before the ports */
};

/* What the classifier can see of one packet. */
struct view {
	const uint8_t *src; /* addresses, inside the packet */
	const uint8_t *dst;
	uint32_t len;       /* IP length from the header */
	uint16_t sport;
	uint16_t dport;
	uint8_t version;
	uint8_t proto;
	uint8_t ports;      /* enum ports_state */
	bool icmp;
};

static inline uint16_t
load_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/*
 * Fills @v from the packet at @p: @caplen bytes are readable, @len is the
 * packet's real length (the burst helper linearises only the head). Reads
 * stay below BX_CLASSIFY_HDR_MAX, so caplen >= min(len, BX_CLASSIFY_HDR_MAX)
 * is enough.
 */
static inline enum bx_drop_reason
parse(const uint8_t *p, uint32_t caplen, uint32_t len, struct view *v)
{
	uint32_t l4;
	bool has_l4;

	if (BX_UNLIKELY(caplen < 1))
		return BX_DROP_CLASSIFY_TRUNCATED;
	switch (p[0] >> 4) {
	case 4:
		if (BX_UNLIKELY(caplen < IPV4_HDR_MIN))
			return BX_DROP_CLASSIFY_TRUNCATED;
		l4 = (p[0] & 0x0fu) * 4u;
		if (BX_UNLIKELY(l4 < IPV4_HDR_MIN))
			return BX_DROP_CLASSIFY_NOT_IP;
		v->len = load_be16(p + 2);
		if (BX_UNLIKELY(v->len < l4 || v->len > len))
			return BX_DROP_CLASSIFY_TRUNCATED;
		v->version = 4;
		v->proto = p[9];
		v->icmp = v->proto == PROTO_ICMP;
		v->src = p + 12;
		v->dst = p + 16;
		/* Only the fragment at offset 0 carries the L4 header. */
		has_l4 = (load_be16(p + 6) & IPV4_FRAG_OFF_MASK) == 0;
		break;
	case 6:
		if (BX_UNLIKELY(caplen < IPV6_HDR_LEN))
			return BX_DROP_CLASSIFY_TRUNCATED;
		v->len = IPV6_HDR_LEN + load_be16(p + 4);
		if (BX_UNLIKELY(v->len > len))
			return BX_DROP_CLASSIFY_TRUNCATED;
		v->version = 6;
		v->proto = p[6];
		v->icmp = v->proto == PROTO_ICMPV6;
		v->src = p + 8;
		v->dst = p + 24;
		l4 = IPV6_HDR_LEN;
		has_l4 = true;
		break;
	default:
		return BX_DROP_CLASSIFY_NOT_IP;
	}

	v->ports = PORTS_NONE;
	/* Read only when ports are present; set so -O3 can see that too. */
	v->sport = v->dport = 0;
	if ((v->proto == PROTO_TCP || v->proto == PROTO_UDP) && has_l4) {
		if (l4 + L4_PORTS_LEN > v->len) {
			v->ports = PORTS_CUT;
		} else {
			/* l4 + 4 <= v->len <= len and l4 + 4 <= HDR_MAX. */
			BX_ASSERT_HOT(l4 + L4_PORTS_LEN <= caplen);
			v->sport = load_be16(p + l4);
			v->dport = load_be16(p + l4 + 2);
			v->ports = PORTS_OK;
		}
	}
	return BX_DROP_NONE;
}

static inline bool
prefix_match(const struct cprefix *c, const struct view *v, const uint8_t *addr)
{
	uint32_t w;
	unsigned i;

	if (c->version != v->version)
		return false;
	for (i = 0; i < c->nwords; i++) {
		memcpy(&w, addr + 4 * i, sizeof(w));
		if ((w & c->mask[i]) != c->net[i])
			return false;
	}
	return true;
}

static inline bool
port_in(uint16_t port, uint16_t lo, uint16_t hi)
{
	return port >= lo && port <= hi;
}

static inline enum bx_drop_reason
decide(const struct bx_classify_rules *rules, const struct view *v,
       enum bx_wire_lane *lane)
{
	unsigned i, n = rules != NULL ? rules->n : 0;

	for (i = 0; i < n; i++) {
		const struct crule *c = &rules->rule[i];

		if ((c->match & BX_CLASSIFY_MATCH_PROTO) && c->proto != v->proto)
			continue;
		if ((c->match & BX_CLASSIFY_MATCH_SRC) &&
		    !prefix_match(&c->src, v, v->src))
			continue;
		if ((c->match & BX_CLASSIFY_MATCH_DST) &&
		    !prefix_match(&c->dst, v, v->dst))
			continue;
		if (c->match & (BX_CLASSIFY_MATCH_SPORT | BX_CLASSIFY_MATCH_DPORT)) {
			if (v->ports == PORTS_CUT)
				return BX_DROP_CLASSIFY_TRUNCATED;
			if (v->ports == PORTS_NONE)
				continue;
			if ((c->match & BX_CLASSIFY_MATCH_SPORT) &&
			    !port_in(v->sport, c->sport_lo, c->sport_hi))
				continue;
			if ((c->match & BX_CLASSIFY_MATCH_DPORT) &&
			    !port_in(v->dport, c->dport_lo, c->dport_hi))
				continue;
		}
		if (c->action == BX_CLASSIFY_DENY)
			return BX_DROP_POLICY_DENY;
		*lane = (enum bx_wire_lane)c->action;
		return BX_DROP_NONE;
	}

	if (v->icmp || v->len < BX_CLASSIFY_SMALL_PKT)
		*lane = BX_LANE_CRITICAL;
	else if (v->ports == PORTS_OK &&
		 (v->sport == BX_CLASSIFY_TELEMETRY_PORT ||
		  v->dport == BX_CLASSIFY_TELEMETRY_PORT))
		*lane = BX_LANE_TELEMETRY;
	else
		*lane = BX_LANE_BULK;
	return BX_DROP_NONE;
}

static inline enum bx_drop_reason
classify(const struct bx_classify_rules *rules, const uint8_t *p,
	 uint32_t caplen, uint32_t len, enum bx_wire_lane *lane)
{
	struct view v;
	enum bx_drop_reason r;

	r = parse(p, caplen, len, &v);
	if (BX_UNLIKELY(r != BX_DROP_NONE))
		return r;
	return decide(rules, &v, lane);
}

enum bx_drop_reason
bx_classify_packet(const struct bx_classify_rules *rules, const void *pkt,
		   uint32_t len, enum bx_wire_lane *lane)
{
	return classify(rules, pkt, len, len, lane);
}

static inline enum bx_drop_reason
classify_mbuf(const struct bx_classify_rules *rules, const struct rte_mbuf *m,
	      uint32_t l3_off, uint8_t *buf, enum bx_wire_lane *lane)
{
	uint32_t pkt_len = rte_pktmbuf_pkt_len(m);
	uint32_t len, caplen;
	const uint8_t *p;

	if (BX_UNLIKELY(pkt_len <= l3_off))
		return BX_DROP_CLASSIFY_TRUNCATED;
	len = pkt_len - l3_off;
	caplen = RTE_MIN(len, BX_CLASSIFY_HDR_MAX);
	/* A pointer into the mbuf when the head is contiguous, else a copy. */
	p = rte_pktmbuf_read(m, l3_off, caplen, buf);
	if (BX_UNLIKELY(p == NULL)) /* segments shorter than pkt_len says */
		return BX_DROP_CLASSIFY_TRUNCATED;
	return classify(rules, p, caplen, len, lane);
}

uint16_t
bx_classify_process(const struct bx_classify_rules *rules,
		    struct rte_mbuf *pkts[], uint16_t n, uint32_t l3_off,
		    enum bx_wire_lane lane[], enum bx_drop_reason why[])
{
	uint8_t buf[BX_CLASSIFY_HDR_MAX];
	uint16_t i, k = 0;

	/* Keeps pkts[0..k) good in order and pkts[k..i) dropped: a good packet
	 * swaps places with the first dropped one. */
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		enum bx_wire_lane l = BX_LANE_BULK;
		enum bx_drop_reason r;

		r = classify_mbuf(rules, m, l3_off, buf, &l);
		if (BX_UNLIKELY(r != BX_DROP_NONE)) {
			why[i] = r;
			continue;
		}
		if (k != i) {
			pkts[i] = pkts[k];
			why[i] = why[k];
			pkts[k] = m;
		}
		lane[k++] = l;
	}
	return k;
}

/* Rule sets: control plane, not the fast path. */

static void
prefix_compile(const struct bx_classify_prefix *p, struct cprefix *c)
{
	unsigned i, bits = p->len;
	uint32_t m, w;

	memset(c, 0, sizeof(*c));
	c->version = p->af == AF_INET ? 4 : 6;
	c->nwords = p->af == AF_INET ? IPV4_WORDS : IPV6_WORDS;
	for (i = 0; i < c->nwords; i++) {
		/* A shift by 32 is undefined: whole and empty words apart. */
		if (bits >= 32)
			m = UINT32_MAX;
		else if (bits == 0)
			m = 0;
		else
			m = ~(UINT32_MAX >> bits);
		bits -= RTE_MIN(bits, 32u);
		c->mask[i] = htonl(m);
		memcpy(&w, p->addr + 4 * i, sizeof(w));
		c->net[i] = w & c->mask[i];
	}
}

/* Why @p is unusable, or NULL. */
static const char *
prefix_check(const struct bx_classify_prefix *p)
{
	struct cprefix c;
	uint32_t w;
	unsigned i;

	if (p->af != AF_INET && p->af != AF_INET6)
		return "address family is neither IPv4 nor IPv6";
	if (p->len > (p->af == AF_INET ? 32 : 128))
		return p->af == AF_INET ? "prefix length above 32" :
					  "prefix length above 128";
	prefix_compile(p, &c);
	for (i = 0; i < c.nwords; i++) {
		memcpy(&w, p->addr + 4 * i, sizeof(w));
		if (w != c.net[i])
			return "address bits set past the prefix length";
	}
	return NULL;
}

/*
 * Why @r is unusable, or NULL; *@field gets the JSON name of the field at
 * fault, so the JSON loader and the struct API share one set of rules.
 */
static const char *
rule_check(const struct bx_classify_rule *r, const char **field)
{
	bool ports = r->match & (BX_CLASSIFY_MATCH_SPORT | BX_CLASSIFY_MATCH_DPORT);
	const char *msg;

	*field = "match";
	if (r->match & ~BX_CLASSIFY_MATCH_ALL)
		return "unknown match bits";
	*field = "action";
	if ((unsigned)r->action > BX_CLASSIFY_DENY)
		return "unknown action";
	*field = "src_prefix";
	if ((r->match & BX_CLASSIFY_MATCH_SRC) && (msg = prefix_check(&r->src)))
		return msg;
	*field = "dst_prefix";
	if ((r->match & BX_CLASSIFY_MATCH_DST) && (msg = prefix_check(&r->dst)))
		return msg;
	*field = (r->match & BX_CLASSIFY_MATCH_SPORT) ? "src_port" : "dst_port";
	if (ports && (r->match & BX_CLASSIFY_MATCH_PROTO) &&
	    r->proto != PROTO_TCP && r->proto != PROTO_UDP)
		return "ports need proto tcp or udp";
	*field = "src_port";
	if ((r->match & BX_CLASSIFY_MATCH_SPORT) && r->sport_lo > r->sport_hi)
		return "empty range: low end above high end";
	*field = "dst_port";
	if ((r->match & BX_CLASSIFY_MATCH_DPORT) && r->dport_lo > r->dport_hi)
		return "empty range: low end above high end";
	*field = NULL;
	return NULL;
}

struct bx_classify_rules *
bx_classify_rules_create(const struct bx_classify_rule *r, unsigned n)
{
	struct bx_classify_rules *rules = NULL;
	const char *field;
	unsigned i;
	int e = 0;

	if (n > BX_CLASSIFY_MAX_RULES) {
		e = E2BIG;
		goto out;
	}
	if (r == NULL && n > 0) {
		e = EINVAL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (rule_check(&r[i], &field) != NULL) {
			e = EINVAL;
			goto out;
		}
	}
	rules = calloc(1, sizeof(*rules) + (size_t)n * sizeof(rules->rule[0]));
	if (rules == NULL) {
		e = ENOMEM;
		goto out;
	}
	rules->n = n;
	for (i = 0; i < n; i++) {
		struct crule *c = &rules->rule[i];

		c->match = r[i].match;
		c->proto = r[i].proto;
		c->action = (uint8_t)r[i].action;
		c->sport_lo = r[i].sport_lo;
		c->sport_hi = r[i].sport_hi;
		c->dport_lo = r[i].dport_lo;
		c->dport_hi = r[i].dport_hi;
		if (c->match & BX_CLASSIFY_MATCH_SRC)
			prefix_compile(&r[i].src, &c->src);
		if (c->match & BX_CLASSIFY_MATCH_DST)
			prefix_compile(&r[i].dst, &c->dst);
	}
out:
	if (rules == NULL)
		errno = e;
	return rules;
}

void
bx_classify_rules_free(struct bx_classify_rules *rules)
{
	free(rules);
}

unsigned
bx_classify_rules_count(const struct bx_classify_rules *rules)
{
	return rules != NULL ? rules->n : 0;
}

/* JSON form. Each parser returns NULL or what is wrong with the value. */

static const char *const action_names[] = {
	[BX_CLASSIFY_CRITICAL] = "critical",
	[BX_CLASSIFY_TELEMETRY] = "telemetry",
	[BX_CLASSIFY_BULK] = "bulk",
	[BX_CLASSIFY_DENY] = "deny",
};

static const struct {
	const char *name;
	uint8_t proto;
} proto_names[] = {
	{"icmp", PROTO_ICMP},
	{"icmpv6", PROTO_ICMPV6},
	{"tcp", PROTO_TCP},
	{"udp", PROTO_UDP},
};

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A JSON string without embedded NUL, or NULL. */
static const char *
json_cstr(const json_t *v, size_t *len)
{
	const char *s;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	*len = json_string_length(v);
	return strlen(s) == *len ? s : NULL;
}

/* Decimal digits only (no sign, no blanks), at most @max. */
static int
parse_dec(const char *s, size_t n, unsigned max, unsigned *out)
{
	unsigned x = 0;
	size_t i;

	if (n == 0 || n > PORT_DIGITS_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		x = x * 10 + (unsigned)(s[i] - '0');
	}
	if (x > max)
		return -ERANGE;
	*out = x;
	return 0;
}

static const char *
parse_action(const json_t *v, enum bx_classify_action *out)
{
	const char *s;
	size_t len;
	unsigned i;

	s = json_cstr(v, &len);
	for (i = 0; s != NULL && i < BX_ARRAY_SIZE(action_names); i++) {
		if (strcmp(s, action_names[i]) == 0) {
			*out = (enum bx_classify_action)i;
			return NULL;
		}
	}
	return "expected \"critical\", \"telemetry\", \"bulk\" or \"deny\"";
}

static const char *
parse_proto(const json_t *v, uint8_t *out)
{
	static const char bad[] =
		"expected \"icmp\", \"icmpv6\", \"tcp\", \"udp\" or an integer 0..255";
	const char *s;
	size_t len;
	unsigned i;

	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);

		if (x < 0 || x > UINT8_MAX)
			return bad;
		*out = (uint8_t)x;
		return NULL;
	}
	s = json_cstr(v, &len);
	for (i = 0; s != NULL && i < BX_ARRAY_SIZE(proto_names); i++) {
		if (strcmp(s, proto_names[i].name) == 0) {
			*out = proto_names[i].proto;
			return NULL;
		}
	}
	return bad;
}

static const char *
parse_prefix(const json_t *v, struct bx_classify_prefix *out)
{
	static const char bad[] =
		"expected an IPv4 or IPv6 prefix \"addr/len\", e.g. \"10.0.0.0/8\"";
	char addr[INET6_ADDRSTRLEN];
	const char *s, *slash;
	size_t len, alen;
	unsigned plen;

	s = json_cstr(v, &len);
	if (s == NULL)
		return bad;
	slash = memchr(s, '/', len);
	alen = slash != NULL ? (size_t)(slash - s) : len;
	if (alen == 0 || alen >= sizeof(addr))
		return bad;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, addr, out->addr) == 1)
		out->af = AF_INET;
	else if (inet_pton(AF_INET6, addr, out->addr) == 1)
		out->af = AF_INET6;
	else
		return bad;
	plen = out->af == AF_INET ? 32 : 128;
	/* Lengths beyond the family's are rule_check's to name. */
	if (slash != NULL &&
	    parse_dec(slash + 1, len - alen - 1, UINT8_MAX, &plen) < 0)
		return bad;
	out->len = (uint8_t)plen;
	return NULL;
}

static const char *
parse_port(const json_t *v, uint16_t *lo, uint16_t *hi)
{
	static const char bad[] = "expected an integer 0..65535 or \"lo-hi\"";
	const char *s, *dash;
	unsigned a, b;
	size_t len;

	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);

		if (x < 0 || x > UINT16_MAX)
			return bad;
		*lo = *hi = (uint16_t)x;
		return NULL;
	}
	s = json_cstr(v, &len);
	if (s == NULL)
		return bad;
	dash = memchr(s, '-', len);
	if (dash == NULL ||
	    parse_dec(s, (size_t)(dash - s), UINT16_MAX, &a) < 0 ||
	    parse_dec(dash + 1, len - (size_t)(dash - s) - 1, UINT16_MAX, &b) < 0)
		return bad;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return NULL;
}

static int
rule_from_json(const json_t *obj, size_t idx, struct bx_classify_rule *r,
	       char *err, size_t errlen)
{
	const char *key, *msg, *field;
	bool have_action = false;
	json_t *val;

	if (!json_is_object(obj)) {
		set_err(err, errlen, "rules[%zu]: expected an object", idx);
		return -EINVAL;
	}
	memset(r, 0, sizeof(*r));
	/* Iterating does not modify the object; jansson's iterator is not const. */
	json_object_foreach((json_t *)obj, key, val) {
		if (strcmp(key, "action") == 0) {
			msg = parse_action(val, &r->action);
			have_action = true;
		} else if (strcmp(key, "proto") == 0) {
			msg = parse_proto(val, &r->proto);
			r->match |= BX_CLASSIFY_MATCH_PROTO;
		} else if (strcmp(key, "src_prefix") == 0) {
			msg = parse_prefix(val, &r->src);
			r->match |= BX_CLASSIFY_MATCH_SRC;
		} else if (strcmp(key, "dst_prefix") == 0) {
			msg = parse_prefix(val, &r->dst);
			r->match |= BX_CLASSIFY_MATCH_DST;
		} else if (strcmp(key, "src_port") == 0) {
			msg = parse_port(val, &r->sport_lo, &r->sport_hi);
			r->match |= BX_CLASSIFY_MATCH_SPORT;
		} else if (strcmp(key, "dst_port") == 0) {
			msg = parse_port(val, &r->dport_lo, &r->dport_hi);
			r->match |= BX_CLASSIFY_MATCH_DPORT;
		} else {
			msg = "unknown key (known: action, proto, src_prefix, "
			      "dst_prefix, src_port, dst_port)";
		}
		if (msg != NULL) {
			set_err(err, errlen, "rules[%zu].%.*s: %s", idx,
				JSON_KEY_SHOWN_MAX, key, msg);
			return -EINVAL;
		}
	}
	if (!have_action) {
		set_err(err, errlen,
			"rules[%zu].action: missing (critical, telemetry, bulk or deny)",
			idx);
		return -EINVAL;
	}
	msg = rule_check(r, &field);
	if (msg != NULL) {
		set_err(err, errlen, "rules[%zu].%s: %s", idx, field, msg);
		return -EINVAL;
	}
	return 0;
}

struct bx_classify_rules *
bx_classify_rules_from_json(const json_t *arr, char *err, size_t errlen)
{
	struct bx_classify_rules *rules = NULL;
	struct bx_classify_rule *tmp = NULL;
	size_t i, n;
	int e = EINVAL;

	if (!json_is_array(arr)) {
		set_err(err, errlen, "rules: expected an array");
		goto out;
	}
	n = json_array_size(arr);
	if (n > BX_CLASSIFY_MAX_RULES) {
		set_err(err, errlen, "rules: %zu rules, at most %u", n,
			BX_CLASSIFY_MAX_RULES);
		e = E2BIG;
		goto out;
	}
	tmp = calloc(n > 0 ? n : 1, sizeof(*tmp));
	if (tmp == NULL) {
		set_err(err, errlen, "rules: out of memory");
		e = ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (rule_from_json(json_array_get(arr, i), i, &tmp[i], err,
				   errlen) < 0)
			goto out;
	}
	/* Every rule passed rule_check: only memory can fail here. */
	rules = bx_classify_rules_create(tmp, (unsigned)n);
	if (rules == NULL) {
		e = errno;
		set_err(err, errlen, "rules: %s", strerror(e));
	}
out:
	free(tmp);
	if (rules == NULL)
		errno = e;
	return rules;
}
