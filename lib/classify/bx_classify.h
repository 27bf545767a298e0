/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Egress lane classification of inner IP packets (DESIGN §3.2).
 *
 * Every packet that enters the mesh from the inner port is put on one of
 * three lanes (enum bx_wire_lane) or dropped. An optional rule set is
 * evaluated first, in order, and the first matching rule decides; when no
 * rule matches, the default policy decides, in this order:
 *
 *   1. ICMP (IPv4 protocol 1) or ICMPv6 (IPv6 next header 58) -> Critical
 *   2. total IP packet length < BX_CLASSIFY_SMALL_PKT            -> Critical
 *   3. TCP or UDP with source or destination port
 *      BX_CLASSIFY_TELEMETRY_PORT                                 -> Telemetry
 *   4. everything else                                            -> Bulk
 *
 * What the classifier sees of a packet:
 *   - The protocol is the IPv4 protocol field or the IPv6 fixed header's
 *     next header. IPv6 extension headers are not walked: a packet that has
 *     them carries the extension header's number as its protocol and has no
 *     ports.
 *   - Ports are read only for TCP and UDP, and only from an unfragmented
 *     packet or the first fragment (offset 0, MF set): a non-first IPv4
 *     fragment has no L4 header, so it matches no port rule and never gets
 *     the Telemetry default. Fragments of one datagram may therefore travel
 *     on different lanes and arrive out of order, which IP reassembly
 *     tolerates.
 *   - The packet's length is the one in its IP header (IPv4 total length,
 *     40 + IPv6 payload length); bytes beyond it (link padding) are ignored.
 *
 * Malformed input is a drop reason, never a crash or a read past the end:
 *   - BX_DROP_CLASSIFY_NOT_IP: version nibble neither 4 nor 6, or an IPv4
 *     header shorter than its 20-byte minimum (IHL < 5).
 *   - BX_DROP_CLASSIFY_TRUNCATED: fewer bytes than the fixed IP header, the
 *     IP header's length exceeds the bytes present, the IPv4 total length is
 *     shorter than the IPv4 header, or a rule needs the ports of a TCP/UDP
 *     packet whose IP length ends before them.
 *   - BX_DROP_POLICY_DENY: a rule with action deny matched.
 *
 * Rule sets are immutable once built, so the control lcore can publish a
 * new one by pointer swap and free the old one after an RCU grace period.
 * They live in ordinary heap memory: classification needs no EAL.
 */
#ifndef BX_CLASSIFY_H
#define BX_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bx_drop.h"
#include "bx_wire.h"

#define BX_CLASSIFY_SMALL_PKT 100u       /* packets shorter than this: Critical */
#define BX_CLASSIFY_TELEMETRY_PORT 5006u /* TCP/UDP port of the Telemetry lane */
#define BX_CLASSIFY_MAX_RULES 256u       /* linear scan per packet: keep it short */

/*
 * Most bytes of a packet's head the classifier reads: the largest IPv4
 * header (60) plus the two ports. The burst helper linearises at most this
 * much of a segmented mbuf.
 */
#define BX_CLASSIFY_HDR_MAX 64u

enum bx_classify_action {
	BX_CLASSIFY_CRITICAL = BX_LANE_CRITICAL,
	BX_CLASSIFY_TELEMETRY = BX_LANE_TELEMETRY,
	BX_CLASSIFY_BULK = BX_LANE_BULK,
	BX_CLASSIFY_DENY = BX_LANE_COUNT, /* drop, BX_DROP_POLICY_DENY */
};

/* Which fields of struct bx_classify_rule take part in the match. A rule
 * with none of them matches every packet. */
#define BX_CLASSIFY_MATCH_PROTO 0x01u
#define BX_CLASSIFY_MATCH_SRC 0x02u   /* src prefix */
#define BX_CLASSIFY_MATCH_DST 0x04u   /* dst prefix */
#define BX_CLASSIFY_MATCH_SPORT 0x08u /* src port range */
#define BX_CLASSIFY_MATCH_DPORT 0x10u /* dst port range */
#define BX_CLASSIFY_MATCH_ALL                                                 \
	(BX_CLASSIFY_MATCH_PROTO | BX_CLASSIFY_MATCH_SRC |                    \
	 BX_CLASSIFY_MATCH_DST | BX_CLASSIFY_MATCH_SPORT |                    \
	 BX_CLASSIFY_MATCH_DPORT)

/* An address prefix. An IPv4 prefix never matches an IPv6 packet and the
 * other way round. */
struct bx_classify_prefix {
	uint8_t af;        /* AF_INET or AF_INET6 */
	uint8_t len;       /* bits: 0..32 or 0..128 */
	uint8_t addr[16];  /* network byte order; IPv4 uses the first 4 bytes */
};

struct bx_classify_rule {
	uint32_t match;    /* BX_CLASSIFY_MATCH_* */
	uint8_t proto;     /* IPv4 protocol / IPv6 next header */
	struct bx_classify_prefix src;
	struct bx_classify_prefix dst;
	uint16_t sport_lo; /* inclusive ranges, host byte order */
	uint16_t sport_hi;
	uint16_t dport_lo;
	uint16_t dport_hi;
	enum bx_classify_action action;
};

/* An immutable, validated rule set. */
struct bx_classify_rules;

/*
 * Builds a rule set from @n rules (copied; @r may be freed afterwards), so
 * the control plane can prepare a complete set before publishing it.
 * A rule is refused (EINVAL) when it has an unknown match bit or action, a
 * prefix with a bad family, a length beyond the family's or address bits
 * set past the length (almost always a typo in the length), a port range
 * with low > high, or ports together with a protocol other than TCP/UDP
 * (ports are matched only on TCP and UDP; a port rule without a protocol
 * matches both). @n == 0 gives a set that leaves everything to the
 * defaults. Returns NULL with errno EINVAL (bad rule, or @r NULL with
 * @n > 0), E2BIG (@n > BX_CLASSIFY_MAX_RULES) or ENOMEM.
 */
struct bx_classify_rules *bx_classify_rules_create(const struct bx_classify_rule *r,
						   unsigned n);

/*
 * Builds a rule set from its configuration form, a JSON array of rule
 * objects evaluated in order:
 *
 *   [
 *     {"proto": "udp", "dst_prefix": "10.0.0.0/8", "dst_port": "5000-5010",
 *      "action": "telemetry"},
 *     {"proto": "tcp", "dst_port": 23, "action": "deny"},
 *     {"src_prefix": "2001:db8::/32", "action": "bulk"}
 *   ]
 *
 *   "action"     required: "critical" | "telemetry" | "bulk" | "deny"
 *   "proto"      "icmp" (1) | "icmpv6" (58) | "tcp" (6) | "udp" (17) or an
 *                integer 0..255; "icmp" does not match ICMPv6
 *   "src_prefix", "dst_prefix"
 *                "a.b.c.d/len" or an IPv6 "addr/len"; without "/len" the
 *                address alone (/32, /128); no address bits past len
 *   "src_port", "dst_port"
 *                an integer 0..65535 or a string "lo-hi" (inclusive, lo <=
 *                hi); only with proto tcp or udp, or without proto (then
 *                the rule matches TCP and UDP only)
 *
 * Any other key is refused. On error returns NULL with errno EINVAL (E2BIG
 * for more than BX_CLASSIFY_MAX_RULES rules, ENOMEM) and writes to @err
 * (@errlen bytes, always terminated; @err may be NULL) one message that
 * names the field by its path from the array, called "rules", e.g.
 * `rules[3].dst_port: expected an integer 0..65535 or "lo-hi"`, so the
 * application can log it as it is.
 */
struct bx_classify_rules *bx_classify_rules_from_json(const json_t *arr,
						      char *err, size_t errlen);

/* Frees a rule set; NULL is fine. Only once no lcore can still read it. */
void bx_classify_rules_free(struct bx_classify_rules *rules);

/* Number of rules in @rules (0 for NULL), for the application's logs. */
unsigned bx_classify_rules_count(const struct bx_classify_rules *rules);

/*
 * Classifies the inner IP packet at @pkt (@len bytes, starting at the IP
 * header) with @rules first (NULL: defaults only). Returns BX_DROP_NONE and
 * sets *@lane, or CLASSIFY_TRUNCATED, CLASSIFY_NOT_IP or POLICY_DENY with
 * *@lane untouched. Never reads past @len; no allocation, no locks.
 */
enum bx_drop_reason bx_classify_packet(const struct bx_classify_rules *rules,
				       const void *pkt, uint32_t len,
				       enum bx_wire_lane *lane);

struct rte_mbuf;

/*
 * Burst form for the RX lcore: classifies @n mbufs whose IP header starts
 * @l3_off bytes into the packet (segmented mbufs are fine). Returns k, the
 * number kept: pkts[0..k) are those packets in their original order with
 * their lanes in lane[0..k); the dropped ones are moved to pkts[k..n), in
 * no particular order, with why[i] the reason of pkts[i]. Nothing is
 * freed: the caller counts and frees. @lane and @why hold @n entries; the
 * entries not named here are left unspecified.
 */
uint16_t bx_classify_process(const struct bx_classify_rules *rules,
			     struct rte_mbuf *pkts[], uint16_t n,
			     uint32_t l3_off, enum bx_wire_lane lane[],
			     enum bx_drop_reason why[]);

#endif /* BX_CLASSIFY_H */
