/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one list of reasons a packet is dropped. The X-macro makes the enum,
 * the names exported through telemetry and the per-lcore counters
 * (lib/stats). Modules return these values; they never log per packet.
 * Header only, no EAL.
 *
 * Add a reason at the end of its group; names are stable (telemetry keys).
 */
#ifndef BX_DROP_H
#define BX_DROP_H

#define BX_DROP_REASONS(X)                                                    \
	/* outer Ethernet / IPv4 / UDP (lib/wire) */                          \
	X(ETH_SHORT, "eth_short")                                             \
	X(NOT_IPV4, "not_ipv4")                                               \
	X(IP_SHORT, "ip_short")                                               \
	X(IP_BAD_VERSION, "ip_bad_version")                                   \
	X(IP_BAD_IHL, "ip_bad_ihl")                                           \
	X(IP_BAD_LEN, "ip_bad_len")                                           \
	X(IP_BAD_CSUM, "ip_bad_csum")                                         \
	X(IP_FRAGMENT, "ip_fragment")                                         \
	X(NOT_UDP, "not_udp")                                                 \
	X(UDP_SHORT, "udp_short")                                             \
	X(UDP_BAD_LEN, "udp_bad_len")                                         \
	X(UDP_BAD_CSUM, "udp_bad_csum")                                       \
	/* mesh datagram header (lib/wire) */                                 \
	X(HDR_SHORT, "hdr_short")                                             \
	X(HDR_NOT_MESH, "hdr_not_mesh")                                       \
	X(HDR_BAD_VERSION, "hdr_bad_version")                                 \
	X(HDR_BAD_TYPE, "hdr_bad_type")                                       \
	X(HDR_BAD_LANE, "hdr_bad_lane")                                       \
	X(HDR_BAD_FLAGS, "hdr_bad_flags")                                     \
	X(HDR_BAD_LEN, "hdr_bad_len")                                         \
	/* replay window (lib/replay) */                                      \
	X(REPLAY_DUPLICATE, "replay_duplicate")                               \
	X(REPLAY_TOO_OLD, "replay_too_old")                                   \
	X(REPLAY_LIMIT, "replay_limit")                                       \
	/* crypto (lib/crypto) */                                             \
	X(CRYPTO_AUTH, "crypto_auth")                                         \
	X(CRYPTO_NO_KEY, "crypto_no_key")                                     \
	X(CRYPTO_SEGMENTED, "crypto_segmented")                               \
	X(CRYPTO_NO_ROOM, "crypto_no_room")                                   \
	X(CRYPTO_ERROR, "crypto_error")                                       \
	/* classifier (lib/classify) */                                       \
	X(CLASSIFY_TRUNCATED, "classify_truncated")                           \
	X(CLASSIFY_NOT_IP, "classify_not_ip")                                 \
	X(POLICY_DENY, "policy_deny")                                         \
	/* lane rings (lib/lanes) */                                          \
	X(LANE_CRITICAL_EVICTED, "lane_critical_evicted")                     \
	X(LANE_TELEMETRY_FULL, "lane_telemetry_full")                         \
	X(LANE_BULK_FULL, "lane_bulk_full")                                   \
	/* peers, sessions and paths (lib/peer, app) */                       \
	X(NO_PEER, "no_peer")                                                 \
	X(NO_SESSION, "no_session")                                           \
	X(SRC_NOT_ALLOWED, "src_not_allowed")                                 \
	X(NO_PATH, "no_path")                                                 \
	/* ports (app) */                                                     \
	X(TX_PORT_FULL, "tx_port_full")                                       \
	X(EXCEPTION_FULL, "exception_full")                                   \
	X(INGRESS_FULL, "ingress_full")                                       \
	X(TOO_BIG, "too_big")                                                 \
	X(PEER_MOVED, "peer_moved")                                           \
	X(SHUTDOWN, "shutdown")                                               \
	/* inner port (app) */                                                \
	X(INNER_NOT_IPV4, "inner_not_ipv4")                                   \
	X(INNER_NOT_FOR_US, "inner_not_for_us")                               \
	/* well-formed mesh message this node does not handle (app) */        \
	X(MSG_UNHANDLED, "msg_unhandled")                                     \
	/* sessions (app): the send side's hard limit, control's own sends */ \
	X(SESSION_EXHAUSTED, "session_exhausted")                             \
	X(CTL_TX_FULL, "ctl_tx_full")                                         \
	/* handshake datagrams (control lcore; lib/handshake's reasons) */    \
	X(HS_QUEUE_FULL, "hs_queue_full")                                     \
	X(HS_BAD_LEN, "hs_bad_len")                                           \
	X(HS_BAD_HEADER, "hs_bad_header")                                     \
	X(HS_BAD_MAC1, "hs_bad_mac1")                                         \
	X(HS_BAD_MAC2, "hs_bad_mac2")                                         \
	X(HS_COOKIE_SENT, "hs_cookie_sent")                                   \
	X(HS_RATE_LIMITED, "hs_rate_limited")                                 \
	X(HS_DECRYPT_FAILED, "hs_decrypt_failed")                             \
	X(HS_BAD_KEY, "hs_bad_key")                                           \
	X(HS_UNKNOWN_PEER, "hs_unknown_peer")                                 \
	X(HS_BAD_TIMESTAMP, "hs_bad_timestamp")                               \
	X(HS_STALE_TIMESTAMP, "hs_stale_timestamp")                           \
	X(HS_FUTURE_TIMESTAMP, "hs_future_timestamp")                         \
	X(HS_SIMULTANEOUS, "hs_simultaneous")                                 \
	X(HS_NO_PENDING, "hs_no_pending")                                     \
	X(HS_NO_MEMORY, "hs_no_memory")                                       \
	/* the exception path's STUN port translator (lib/stunmux) */         \
	X(STUN_UNROUTED, "stun_unrouted")                                     \
	X(STUN_MALFORMED, "stun_malformed")                                   \
	/* relay messages (lib/relay, the relay role) */                      \
	X(RELAY_MALFORMED, "relay_malformed")                                 \
	X(RELAY_UNREGISTERED, "relay_unregistered")                           \
	X(RELAY_NO_DEST, "relay_no_dest")                                     \
	X(RELAY_BAD_CREDENTIAL, "relay_bad_credential")                       \
	X(RELAY_EXPIRED, "relay_expired")                                     \
	X(RELAY_REPLAYED, "relay_replayed")                                   \
	X(RELAY_FULL, "relay_full")                                           \
	/* path probes (lib/probe) */                                         \
	X(PROBE_MALFORMED, "probe_malformed")                                 \
	X(PROBE_UNKNOWN, "probe_unknown")                                     \
	/* the safety layer (app): severed or on probation; a deliberate */   \
	/* copy of a Critical packet already delivered; an intent's limit */  \
	X(SAFETY_BLOCKED, "safety_blocked")                                   \
	X(DUPLICATE_COPY, "duplicate_copy")                                   \
	X(INTENT_THROTTLED, "intent_throttled")                               \
	/* bonding (app): no mbuf for a path's copy or a probe; a datagram */ \
	/* already waiting in a reorder buffer; a reorder buffer given up */  \
	X(NO_MBUF, "no_mbuf")                                                 \
	X(REORDER_DUPLICATE, "reorder_duplicate")                             \
	X(REORDER_FLUSHED, "reorder_flushed")

enum bx_drop_reason {
	BX_DROP_NONE = 0,
#define BX_DROP_ENUM_(sym, name) BX_DROP_##sym,
	BX_DROP_REASONS(BX_DROP_ENUM_)
#undef BX_DROP_ENUM_
	BX_DROP__COUNT,
};

/* Stable telemetry name of a reason ("none" for BX_DROP_NONE, "unknown" out of range). */
static inline const char *
bx_drop_name(enum bx_drop_reason r)
{
	static const char *const names[] = {
		"none",
#define BX_DROP_NAME_(sym, name) name,
		BX_DROP_REASONS(BX_DROP_NAME_)
#undef BX_DROP_NAME_
	};
	if ((unsigned)r >= BX_DROP__COUNT)
		return "unknown";
	return names[r];
}

#endif /* BX_DROP_H */
