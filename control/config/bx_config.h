/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration of bauxite-app: one JSON file, parsed with jansson into a
 * plain struct and validated completely before the application touches a
 * port. Runs on the control lcore at start-up; needs no EAL.
 *
 * The format (config/README.md is the operator's reference, and
 * config/bauxite-app.schema.json the JSON Schema of the same format):
 *
 *   {
 *     "node_id": "edge-a",              required; 1..63 of [A-Za-z0-9._-]
 *     "role": "edge",                   "edge" | "relay"              [edge]
 *     "state_dir": "/var/lib/bauxite",  absolute path     [/var/lib/bauxite]
 *     "underlay": {                     required; one object, or an array
 *                                       of 1..4 of them (several uplinks;
 *                                       errors then say underlay[i].field)
 *       "name": "ul0",                  1..15 of [A-Za-z0-9._-], unique,
 *                                       what paths name it by     [ul<i>]
 *       "port": "net_af_packet0,iface=vA",
 *                                       required; DPDK devargs of a vdev
 *                                       "name[,key[=value]...]" or a PCI
 *                                       address "[0000:]01:00.0[,args]";
 *                                       one device per underlay
 *       "address": "10.99.0.1/24",      required; the node's IPv4/prefix
 *                                       (host bits are the node's own),
 *                                       unique among the underlays
 *       "gateway": "10.99.0.254",       optional; inside the prefix, next
 *                                       hop for endpoints outside it
 *       "exception_iface": "bx-ul0",    kernel TAP, 1..15 chars, unique
 *                                                              [bx-ul<i>]
 *       "rate_mbps": 0                  0..400000, caps the measured
 *                                       capacity; 0 = measured only    [0]
 *     },                                role "relay": one underlay only
 *     "inner": {                        required
 *       "type": "tap",                  "tap" | "dpdk" (gateway box)    [tap]
 *       "iface": "bauxite0",            tap only, 1..15 chars     [bauxite0]
 *       "port": "0000:02:00.0",         dpdk only and required there
 *       "mtu": 1350,                    576..9000                      [1350]
 *       "address": "100.64.0.1/24"      required; virtual IP/prefix
 *     },
 *     "mesh_port": 7600,                UDP port 1..65535              [7600]
 *     "cipher": "chacha20-poly1305",    | "aes-256-gcm" [chacha20-poly1305]
 *     "fips": false,                    true: AES-256-GCM only        [false]
 *     "lcores": {"rx": [1], "workers": [2, 3]},
 *                                       optional; see struct bx_config_lcores
 *     "idle_sleep_us": 0,               0..100000, 0 = busy poll          [0]
 *     "replay_window": 2048,            power of two 64..1048576       [2048]
 *     "stats_interval_s": 0,            0..86400, 0 = off                 [0]
 *     "rules": [...],                   optional; bx_classify_rules_from_json
 *     "session": {...},                 optional; see struct bx_config_session
 *     "hub": {                          optional; written by `bauxite join`
 *       "url": "10.99.0.254:7700",      required "host:port": host an IPv4
 *                                       address or a DNS name, port 1..65535
 *       "server_name": "bauxite-hub",   the name in the hub's certificate,
 *                                       IPv4 or DNS name       [url's host]
 *       "ca_file": "hub-ca.crt",        absolute, or relative  [hub-ca.crt]
 *       "cert_file": "node.crt",        to state_dir; see        [node.crt]
 *       "key_file": "node.key",         struct bx_config_hub     [node.key]
 *       "max_peers": 1024,              1..65536, the hub's peers      [1024]
 *       "metrics_interval_s": 10,       1..3600                          [10]
 *       "reconnect_max_s": 30           1..3600, longest back-off        [30]
 *     },
 *     "ice": {...},                     optional; see struct bx_config_ice
 *     "relay": {...},                   optional; see struct bx_config_relay
 *     "safety": {...},                  optional; see struct bx_config_safety
 *     "bonding": {                      optional; how lanes use a peer's
 *                                       several paths (all defaults)
 *       "critical": "redundant",        "redundant" | "preferred" |
 *       "telemetry": "preferred",       "stripe": the mode of each lane
 *       "bulk": "stripe",               [redundant, preferred, stripe]
 *       "probe_interval_ms": 100,       10..60000; = safety.probe_interval_ms
 *                                       when safety is on and a peer has
 *                                       several paths (one probe engine)
 *       "down_after": 3,                missed probes: path down, 1..60   [3]
 *       "up_after": 5,                  answered probes: up again, 1..60  [5]
 *       "redundant_copies": 1,          per live path, REDUNDANT, 1..4    [1]
 *       "reorder": true,                striped lanes restore order    [true]
 *       "reorder_slots": 1024,          power of two 16..65536, at most
 *                                       replay_window                  [1024]
 *       "reorder_timeout_max_ms": 100,  1..2000, cap of 2 x RTT spread  [100]
 *       "stripe_exclude_loss_pct": 10,  1..100, out of the stripe set    [10]
 *       "stripe_readmit_loss_pct": 2,   0..99, below exclude, back in ... [2]
 *       "readmit_s": 3,                 ... after this long, 0..3600      [3]
 *       "preferred_hysteresis_pct": 20, 0..100, better by this to switch [20]
 *       "preferred_hold_ms": 1000,      0..60000, between switches     [1000]
 *       "link_poll_ms": 1               1..1000, underlay carrier poll    [1]
 *     },
 *     "peers": [                        optional, with a hub too (extras);
 *                                       <= BX_CONFIG_MAX_PEERS
 *       {"id": "edge-b",                required; as node_id, unique
 *        "virtual_ip": "100.64.0.2",    required; unique, inside inner.address
 *        "allowed_prefixes": ["100.64.0.2/32"],
 *                                       1..16 network prefixes, must cover
 *                                       virtual_ip          [virtual_ip/32]
 *        "endpoint": "10.99.0.2:7600",  "IPv4:port": one path, on the first
 *                                       underlay; this or "paths" required
 *        "paths": [                     instead of "endpoint": 1..4 paths
 *          {"underlay": "ul1",          required; an underlay's name
 *           "endpoint": "10.98.0.2:7600"},
 *                                       required; "IPv4:port" reachable
 *                                       from that underlay; each pair once
 *          ...
 *        ],
 *        "bonding": {"bulk": "preferred"},
 *                                       optional; overrides the node's
 *                                       lane modes for this peer
 *        "public_key": "<base64>"}      required; the peer's static X25519
 *     ]                                 public key, unique, not all zero
 *   }
 *
 * A key named "$comment" is allowed in every object (rule objects
 * included) and ignored, whatever its value: JSON has no comments. Any
 * other unknown key is refused by name, so a typo never passes silently.
 *
 * Every error names the file, the field path and what was expected, as
 *   edge-a.json: peers[1].endpoint: expected "IPv4:port", got "10.0.0.2"
 *   edge-a.json: underlay.address: missing (expected "IPv4/prefix")
 *   edge-a.json:3:12: ':' expected near '"edge"'     (JSON syntax, via load)
 * so the application can log it as it is and exit.
 *
 * Keys: the config holds no secret. Sessions come from a handshake
 * (lib/handshake) between nodes that know each other's static X25519
 * public key; each node makes its own identity in state_dir
 * (control/identity), and "public_key" is the peer's, in standard base64
 * of BX_CONFIG_KEY_LEN bytes (BX_CONFIG_KEY_B64_LEN characters) exactly as
 * `bauxite keys show --dir STATE_DIR` prints it on that node. Being
 * public, it is printed by bx_config_dump. The retired "psk_file" is
 * refused with a message saying so. hub.key_file names the node's TLS
 * private key, but only the path is in the config.
 */
#ifndef BX_CONFIG_H
#define BX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <rte_config.h>

#include "bx_classify.h"
#include "bx_crypto.h"
#include "bx_replay.h"

/* String limits, in characters (the arrays below have one more byte). */
#define BX_CONFIG_ID_MAX 63u       /* node_id, peers[].id */
#define BX_CONFIG_IFNAME_MAX 15u   /* IFNAMSIZ - 1 */
#define BX_CONFIG_DEVARGS_MAX 255u /* underlay.port, inner.port */
#define BX_CONFIG_PATH_MAX 1023u   /* state_dir, hub files once resolved */
#define BX_CONFIG_HOST_MAX 253u    /* a DNS name: hub host, server_name */
#define BX_CONFIG_HUB_URL_MAX (BX_CONFIG_HOST_MAX + 6u) /* ":65535" */

#define BX_CONFIG_MAX_PEERS 1024u   /* static peers until the hub takes over */
#define BX_CONFIG_MAX_PREFIXES 16u  /* allowed_prefixes per peer */
#define BX_CONFIG_MAX_LCORES RTE_MAX_LCORE

#define BX_CONFIG_KEY_LEN 32u     /* bytes of an X25519 public key */
#define BX_CONFIG_KEY_B64_LEN 44u /* its standard base64, padding included */

#define BX_CONFIG_MTU_MIN 576u  /* the IPv4 minimum every host must take */
#define BX_CONFIG_MTU_MAX 9000u /* jumbo frames */
#define BX_CONFIG_IDLE_SLEEP_MAX_US 100000u /* beyond 100 ms the path stalls */
#define BX_CONFIG_STATS_INTERVAL_MAX_S 86400u
#define BX_CONFIG_REPLAY_MIN BX_REPLAY_MIN_BITS
#define BX_CONFIG_REPLAY_MAX BX_REPLAY_MAX_BITS

/*
 * "session" limits. A session key lives at most a day: longer buys
 * nothing and keeps a key in use. The reject limits must exceed the rekey
 * ones, so the largest rekey values are one below the largest reject
 * values. Message counts are JSON integers: at most INT64_MAX.
 */
#define BX_CONFIG_SESSION_AGE_MAX_S 86400u
#define BX_CONFIG_REKEY_AFTER_MAX_S (BX_CONFIG_SESSION_AGE_MAX_S - 1)
#define BX_CONFIG_MESSAGES_MAX ((uint64_t)INT64_MAX)
#define BX_CONFIG_REKEY_MESSAGES_MAX (BX_CONFIG_MESSAGES_MAX - 1)
#define BX_CONFIG_KEEP_PREVIOUS_MAX_S 3600u
#define BX_CONFIG_HANDSHAKE_TIMEOUT_MAX_S 300u
#define BX_CONFIG_CLOCK_SKEW_MAX_S 86400u
#define BX_CONFIG_INITIATIONS_MAX 10000u /* initiations_per_sec and _burst */

/* "hub" limits. Beyond an hour a metrics report or a reconnect attempt is
 * as good as none. */
#define BX_CONFIG_HUB_PEERS_MAX 65536u
#define BX_CONFIG_HUB_INTERVAL_MAX_S 3600u /* metrics_interval_s, reconnect_max_s */

#define BX_CONFIG_DEFAULT_STATE_DIR "/var/lib/bauxite"
#define BX_CONFIG_DEFAULT_EXCEPTION_IFACE "bx-ul0" /* the first underlay's */
#define BX_CONFIG_DEFAULT_EXCEPTION_IFACE_FMT "bx-ul%u" /* underlay i's */
#define BX_CONFIG_DEFAULT_UL_NAME_FMT "ul%u"
#define BX_CONFIG_DEFAULT_INNER_IFACE "bauxite0"
#define BX_CONFIG_DEFAULT_MTU 1350u
#define BX_CONFIG_DEFAULT_MESH_PORT 7600u
#define BX_CONFIG_DEFAULT_CIPHER BX_CRYPTO_CHACHA20_POLY1305
#define BX_CONFIG_DEFAULT_REPLAY BX_REPLAY_DEFAULT_BITS

/*
 * "session" defaults. They mirror lib/handshake/bx_handshake.h (BX_HS_*,
 * there in nanoseconds), written out so that the config does not depend
 * on the handshake engine. Keep the two in step.
 */
#define BX_CONFIG_DEFAULT_REKEY_AFTER_S 120u       /* BX_HS_REKEY_AFTER_NS */
#define BX_CONFIG_DEFAULT_REJECT_AFTER_S 180u      /* BX_HS_REJECT_AFTER_NS */
#define BX_CONFIG_DEFAULT_REKEY_AFTER_MESSAGES (UINT64_C(1) << 60)
#define BX_CONFIG_DEFAULT_REJECT_AFTER_MESSAGES                               \
	(BX_CONFIG_DEFAULT_REKEY_AFTER_MESSAGES + BX_CONFIG_REJECT_MARGIN_MESSAGES)
#define BX_CONFIG_DEFAULT_KEEP_PREVIOUS_S 10u      /* BX_HS_KEEP_PREVIOUS_NS */
#define BX_CONFIG_DEFAULT_HANDSHAKE_TIMEOUT_S 5u   /* BX_HS_HANDSHAKE_TIMEOUT_NS */
#define BX_CONFIG_DEFAULT_MAX_CLOCK_SKEW_S 600u    /* BX_HS_MAX_CLOCK_SKEW_NS */
#define BX_CONFIG_DEFAULT_INITIATIONS_PER_SEC 20u  /* BX_HS_INITIATIONS_PER_SEC */
#define BX_CONFIG_DEFAULT_INITIATIONS_BURST 5u     /* BX_HS_INITIATIONS_BURST */
/*
 * When only the rekey limit is given, the reject limit follows it with
 * the default gap: reject_after_s = max(BX_CONFIG_DEFAULT_REJECT_AFTER_S,
 * rekey_after_s + BX_CONFIG_REJECT_MARGIN_S), at most
 * BX_CONFIG_SESSION_AGE_MAX_S; reject_after_messages = rekey_after_messages
 * + BX_CONFIG_REJECT_MARGIN_MESSAGES, at most BX_CONFIG_MESSAGES_MAX. So
 * {"rekey_after_s": 5} or {"rekey_after_messages": 1000} alone is valid.
 */
#define BX_CONFIG_REJECT_MARGIN_S 60u
#define BX_CONFIG_REJECT_MARGIN_MESSAGES (UINT64_C(1) << 32)

/* "hub" defaults: the file names `bauxite join` writes under state_dir. */
#define BX_CONFIG_DEFAULT_HUB_CA_FILE "hub-ca.crt"
#define BX_CONFIG_DEFAULT_HUB_CERT_FILE "node.crt"
#define BX_CONFIG_DEFAULT_HUB_KEY_FILE "node.key"
#define BX_CONFIG_DEFAULT_HUB_MAX_PEERS 1024u
#define BX_CONFIG_DEFAULT_HUB_METRICS_INTERVAL_S 10u
#define BX_CONFIG_DEFAULT_HUB_RECONNECT_MAX_S 30u

/* "ice" limits and defaults. The agents' private ports (the fast path
 * shows them on the wire as mesh_port) come from a range of their own. */
#define BX_CONFIG_MAX_STUN 4u
#define BX_CONFIG_ICE_RETRY_MAX_S 3600u
#define BX_CONFIG_DEFAULT_ICE_PORT_MIN 40000u
#define BX_CONFIG_DEFAULT_ICE_PORT_MAX 40999u
#define BX_CONFIG_DEFAULT_ICE_RETRY_MIN_S 2u
#define BX_CONFIG_DEFAULT_ICE_RETRY_MAX_S 60u

/* "relay" limits and defaults. An edge re-registers well inside the lease
 * (and inside the 30 s a NAT keeps an idle UDP mapping). */
#define BX_CONFIG_RELAY_NODES_MAX (1u << 20)
#define BX_CONFIG_RELAY_LEASE_MIN_S 10u
#define BX_CONFIG_RELAY_LEASE_MAX_S 3600u
#define BX_CONFIG_DEFAULT_RELAY_SECRET_FILE "relay.secret"
#define BX_CONFIG_DEFAULT_RELAY_MAX_NODES 10000u
#define BX_CONFIG_DEFAULT_RELAY_LEASE_S 60u
#define BX_CONFIG_DEFAULT_RELAY_REGISTER_INTERVAL_S 5u

/* "safety" limits and defaults (issue 7; the monitor's own in
 * control/safety). Times in ms or s, loss in percent, as operators write
 * them. */
#define BX_CONFIG_PROBE_INTERVAL_MIN_MS 10u
#define BX_CONFIG_PROBE_INTERVAL_MAX_MS 60000u
#define BX_CONFIG_PROBE_WINDOW_MAX 64u
#define BX_CONFIG_SAFETY_RTT_MAX_MS 10000u /* control/safety: 10 s */
#define BX_CONFIG_SAFETY_TIME_MAX_S 3600u
#define BX_CONFIG_CRITICAL_COPIES_MAX 4u
#define BX_CONFIG_LISTEN_MAX 255u
#define BX_CONFIG_UNIX_PATH_MAX 108u /* sun_path, terminator included */
#define BX_CONFIG_DEFAULT_PROBE_INTERVAL_MS 100u
#define BX_CONFIG_DEFAULT_PROBE_WINDOW 20u
#define BX_CONFIG_DEFAULT_PROBE_TIMEOUT_MS 1000u
#define BX_CONFIG_DEFAULT_WARN_RTT_MS 30u
#define BX_CONFIG_DEFAULT_SEVER_RTT_MS 50u
#define BX_CONFIG_DEFAULT_SEVER_LOSS_PCT 90u
#define BX_CONFIG_DEFAULT_HEALTHY_LOSS_PCT 10u
#define BX_CONFIG_DEFAULT_HOLD_DOWN_S 5u
#define BX_CONFIG_DEFAULT_RECOVERY_S 3u
#define BX_CONFIG_DEFAULT_CRITICAL_COPIES 2u
#define BX_CONFIG_DEFAULT_SAFETY_LISTEN_FILE "safety.sock"

/* Several uplinks (issue 8): "underlay" is one object or an array of up
 * to BX_CONFIG_MAX_UNDERLAYS; a peer has up to BX_CONFIG_MAX_PATHS paths. */
#define BX_CONFIG_MAX_UNDERLAYS 4u
#define BX_CONFIG_MAX_PATHS 4u
#define BX_CONFIG_UL_NAME_MAX 15u
#define BX_CONFIG_RATE_MBPS_MAX 400000u

/* "bonding" limits and defaults (config/README.md). */
#define BX_CONFIG_BOND_DOWN_AFTER_MAX 60u
#define BX_CONFIG_BOND_UP_AFTER_MAX 60u
#define BX_CONFIG_BOND_COPIES_MAX 4u
#define BX_CONFIG_REORDER_SLOTS_MIN 16u
#define BX_CONFIG_REORDER_SLOTS_MAX 65536u
#define BX_CONFIG_REORDER_TIMEOUT_MAX_MS 2000u
#define BX_CONFIG_BOND_READMIT_MAX_S 3600u
#define BX_CONFIG_BOND_HOLD_MAX_MS 60000u
#define BX_CONFIG_LINK_POLL_MIN_MS 1u
#define BX_CONFIG_LINK_POLL_MAX_MS 1000u
#define BX_CONFIG_DEFAULT_BOND_PROBE_INTERVAL_MS 100u
#define BX_CONFIG_DEFAULT_BOND_DOWN_AFTER 3u
#define BX_CONFIG_DEFAULT_BOND_UP_AFTER 5u
#define BX_CONFIG_DEFAULT_REDUNDANT_COPIES 1u
#define BX_CONFIG_DEFAULT_REORDER_SLOTS 1024u
#define BX_CONFIG_DEFAULT_REORDER_TIMEOUT_MAX_MS 100u
#define BX_CONFIG_DEFAULT_STRIPE_EXCLUDE_LOSS_PCT 10u
#define BX_CONFIG_DEFAULT_STRIPE_READMIT_LOSS_PCT 2u
#define BX_CONFIG_DEFAULT_READMIT_S 3u
#define BX_CONFIG_DEFAULT_PREFERRED_HYSTERESIS_PCT 20u
#define BX_CONFIG_DEFAULT_PREFERRED_HOLD_MS 1000u
#define BX_CONFIG_DEFAULT_LINK_POLL_MS 1u

/* How a lane spreads over a peer's paths (issue 8). */
enum bx_config_bond_mode {
	BX_CONFIG_BOND_REDUNDANT = 0, /* every packet on every live path */
	BX_CONFIG_BOND_PREFERRED,     /* the best path, with hysteresis */
	BX_CONFIG_BOND_STRIPE,        /* weighted round robin by capacity */
};

enum bx_config_congestion {
	BX_CONFIG_CONGESTION_EWMA = 0, /* RTT EWMA > 50 ms */
	BX_CONFIG_CONGESTION_NULL,     /* never congested */
};

enum bx_config_role {
	BX_CONFIG_ROLE_EDGE = 0, /* an edge or gateway box */
	BX_CONFIG_ROLE_RELAY,    /* a hub relay */
};

enum bx_config_inner_type {
	BX_CONFIG_INNER_TAP = 0, /* net_tap interface "iface" */
	BX_CONFIG_INNER_DPDK,    /* a second DPDK port (gateway mode) */
	BX_CONFIG_INNER_NONE,    /* a relay without traffic of its own */
};

/* An IPv4 address or prefix: address in network byte order. */
struct bx_config_prefix {
	uint32_t addr;
	uint8_t len; /* 0..32 */
};

struct bx_config_underlay {
	char name[BX_CONFIG_UL_NAME_MAX + 1]; /* "ul<i>" unless named; unique */
	char port[BX_CONFIG_DEVARGS_MAX + 1];
	struct bx_config_prefix address; /* the node's address and its prefix */
	bool has_gateway;
	uint32_t gateway;                /* network order, if has_gateway */
	char exception_iface[BX_CONFIG_IFNAME_MAX + 1];
	uint32_t rate_mbps;              /* 0: measured; else caps the estimate */
};

/* One path to a peer: which of our underlays, to which of its endpoints. */
struct bx_config_path {
	unsigned underlay;       /* index into bx_config.underlays */
	uint32_t endpoint_ip;    /* network order */
	uint16_t endpoint_port;  /* host order */
};

/*
 * "bonding": how lanes use a peer's several paths, path liveness from
 * probes and link state, the receive reorder buffer. Always filled
 * (defaults); it acts only for peers with two or more paths.
 */
struct bx_config_bonding {
	enum bx_config_bond_mode lane_mode[BX_LANE_COUNT]; /* by enum bx_wire_lane */
	uint32_t probe_interval_ms;       /* path probes, also without safety */
	uint32_t down_after;              /* missed probes: the path is down */
	uint32_t up_after;                /* answered probes: up again */
	uint32_t redundant_copies;        /* per live path, REDUNDANT lanes */
	bool reorder;                     /* false: striped lanes do not wait */
	uint32_t reorder_slots;           /* power of two, <= replay_window */
	uint32_t reorder_timeout_max_ms;  /* cap of 2 x RTT spread */
	uint32_t stripe_exclude_loss_pct; /* out of the stripe set at or above */
	uint32_t stripe_readmit_loss_pct; /* back in below this ... */
	uint32_t readmit_s;               /* ... for this long */
	uint32_t preferred_hysteresis_pct;/* a better path must be this much better */
	uint32_t preferred_hold_ms;       /* and not sooner than this after a switch */
	uint32_t link_poll_ms;            /* underlay carrier poll */
};

struct bx_config_inner {
	enum bx_config_inner_type type;
	char iface[BX_CONFIG_IFNAME_MAX + 1];   /* tap only, else "" */
	char port[BX_CONFIG_DEVARGS_MAX + 1];   /* dpdk only, else "" */
	uint16_t mtu;
	struct bx_config_prefix address;        /* the node's virtual IP/prefix */
};

/*
 * Lcore roles. When "lcores" is absent (set false) the application derives
 * them from the EAL lcore list: the main lcore is the control lcore; with
 * one worker it runs to completion; with two or more the first does RX and
 * classification and the rest crypto and TX. When present, "workers" (at
 * least one) do crypto and TX and "rx" (possibly empty: the workers then
 * run to completion) do RX and classification; the two lists are disjoint
 * and free of duplicates. Whether the ids are enabled lcores other than
 * the main one is the application's check, against the EAL.
 */
struct bx_config_lcores {
	bool set;
	unsigned n_rx;
	unsigned n_workers;
	uint16_t rx[BX_CONFIG_MAX_LCORES];
	uint16_t workers[BX_CONFIG_MAX_LCORES];
};

struct bx_config_peer {
	char id[BX_CONFIG_ID_MAX + 1];
	uint32_t virtual_ip;     /* network order */
	unsigned n_allowed;      /* 1..BX_CONFIG_MAX_PREFIXES */
	struct bx_config_prefix allowed[BX_CONFIG_MAX_PREFIXES];
	uint32_t endpoint_ip;    /* network order; = paths[0] */
	uint16_t endpoint_port;  /* host order; = paths[0] */
	/* "endpoint" is one path on underlays[0]; "paths" lists 1..4. */
	unsigned n_paths;
	struct bx_config_path paths[BX_CONFIG_MAX_PATHS];
	/* "bonding": {"critical": ...} overrides the node's lane modes. */
	enum bx_config_bond_mode lane_mode[BX_LANE_COUNT];
	/* The peer's static X25519 public key: never all zero, no two peers
	 * share one. */
	uint8_t public_key[BX_CONFIG_KEY_LEN];
};

/*
 * Session lifetime and handshake limits ("session"), for lib/handshake's
 * bx_hs_config (which counts in nanoseconds). Always filled: absent
 * fields take the BX_CONFIG_DEFAULT_* values, the reject limits as
 * described at BX_CONFIG_REJECT_MARGIN_S. reject_after_s > rekey_after_s
 * and reject_after_messages > rekey_after_messages.
 */
struct bx_config_session {
	uint32_t rekey_after_s;          /* start a new handshake at this age */
	uint32_t reject_after_s;         /* seal and open nothing past it */
	uint64_t rekey_after_messages;   /* messages sealed, then a new handshake */
	uint64_t reject_after_messages;  /* and none sealed or opened past this */
	uint32_t keep_previous_s;        /* a replaced session still opens */
	uint32_t handshake_timeout_s;    /* then a pending initiation is resent */
	uint32_t max_clock_skew_s;       /* peer timestamps ahead of us; 0: any */
	uint32_t initiations_per_sec;    /* per-source initiation rate limit */
	uint32_t initiations_burst;
};

/*
 * The control hub ("hub"), written by `bauxite join TOKEN HUB_URL` along
 * with the three files it names. With a hub, bauxite-app connects to it
 * over mTLS gRPC, takes the topology (peers) and the policy (rules) from
 * it and reports metrics; the config's own peers stay as extras. When
 * "hub" is absent, set is false and every other field is zero.
 *
 * The file paths are resolved here -- absolute as given, relative ones
 * under state_dir -- but no file is opened or checked at load: the config
 * stays a pure function of the document, and a node that has not joined
 * yet fails when it connects, naming the missing file. The application
 * checks key_file (a private key: mode 0600, not readable by group or
 * others, refused by name otherwise) when it loads it.
 */
struct bx_config_hub {
	bool set;
	char url[BX_CONFIG_HUB_URL_MAX + 1];     /* "host:port", as written */
	char host[BX_CONFIG_HOST_MAX + 1];       /* IPv4 address or DNS name */
	uint16_t port;                           /* host order, 1..65535 */
	char server_name[BX_CONFIG_HOST_MAX + 1]; /* verified in the hub's
						   * certificate; default host */
	char ca_file[BX_CONFIG_PATH_MAX + 1];    /* the CA of hub and nodes */
	char cert_file[BX_CONFIG_PATH_MAX + 1];  /* this node's certificate */
	char key_file[BX_CONFIG_PATH_MAX + 1];   /* its TLS private key */
	uint32_t max_peers;          /* room for the hub's peers, 1..65536 */
	uint32_t metrics_interval_s; /* between metrics reports */
	uint32_t reconnect_max_s;    /* longest back-off between reconnects */
};

/* An IPv4 endpoint, address in network order, port in host order. */
struct bx_config_endpoint {
	uint32_t ip;
	uint16_t port;
};

/*
 * "ice": NAT traversal (control/ice) for peers with no endpoint. On by
 * default with a hub on an edge; STUN servers here come before the hub's.
 */
struct bx_config_ice {
	bool enabled;
	unsigned n_stun;
	struct bx_config_endpoint stun[BX_CONFIG_MAX_STUN];
	uint16_t port_min, port_max;   /* the agents' private ports */
	uint32_t retry_min_s;          /* a failed negotiation is retried, */
	uint32_t retry_max_s;          /* doubling from min to max */
};

/* "relay" (see parse_relay). */
struct bx_config_relay {
	char secret_file[BX_CONFIG_PATH_MAX + 1]; /* role relay: 32 bytes, 0600 */
	uint32_t max_nodes;            /* role relay: registrations held */
	uint32_t lease_s;              /* role relay: a registration lasts */
	uint32_t register_interval_s;  /* role edge: between registrations */
};

/*
 * "safety": path probes, the safety monitor and kill-switch, the jamming
 * stream, critical duplication (see config/README.md).
 */
struct bx_config_safety {
	bool enabled;
	uint32_t probe_interval_ms;
	uint32_t probe_window;         /* probes the loss is measured over */
	uint32_t probe_timeout_ms;     /* an unanswered probe is lost */
	uint32_t warn_rtt_ms;          /* DegradationWarning above */
	uint32_t sever_rtt_ms;         /* SafetySeverance above, with: */
	uint32_t sever_loss_pct;       /* loss at or above */
	uint32_t healthy_loss_pct;     /* recovery: loss below, RTT <= warn */
	uint32_t hold_down_s;          /* severed: no handshakes */
	uint32_t recovery_s;           /* healthy this long: traffic again */
	uint32_t critical_copies;      /* of each Critical packet, 1..4 */
	enum bx_config_congestion congestion;
	/* "unix:PATH" or "127.0.0.1:PORT"; "" when the default path (in
	 * state_dir) would not fit a unix socket address. */
	char listen[BX_CONFIG_LISTEN_MAX + 1];
};

struct bx_config {
	char node_id[BX_CONFIG_ID_MAX + 1];
	enum bx_config_role role;
	char state_dir[BX_CONFIG_PATH_MAX + 1];
	/* underlays[0] (the primary: hub, ICE, relay, default route); a
	 * copy of it in "underlay" for the code that knows only one. */
	struct bx_config_underlay underlay;
	unsigned n_underlays;             /* 1..BX_CONFIG_MAX_UNDERLAYS */
	struct bx_config_underlay underlays[BX_CONFIG_MAX_UNDERLAYS];
	struct bx_config_inner inner;
	uint16_t mesh_port;               /* host order */
	enum bx_crypto_cipher cipher;     /* AES-256-GCM whenever fips */
	bool fips;
	struct bx_config_lcores lcores;
	uint32_t idle_sleep_us;           /* 0: busy poll */
	uint32_t replay_window;           /* counters, a power of two */
	uint32_t stats_interval_s;        /* 0: no periodic summary */
	struct bx_classify_rules *rules;  /* NULL: no "rules", defaults only */
	struct bx_config_session session;
	struct bx_config_hub hub;         /* hub.set false: static peers only */
	struct bx_config_ice ice;
	struct bx_config_relay relay;
	struct bx_config_safety safety;
	struct bx_config_bonding bonding;
	unsigned n_peers;
	struct bx_config_peer *peers;
};

/*
 * Reads, parses and validates the config file @path, so the application
 * can refuse to start on any mistake before it opens a port. Errors name
 * the file as @path was given. Duplicate keys in one object are refused.
 * Returns 0 and sets *@out (free it with bx_config_free), or a negative
 * errno with a one-line message in @err (@errlen bytes, always terminated
 * when @errlen > 0; @err may be NULL) and *@out untouched:
 *   -EINVAL   JSON syntax ("FILE:LINE:COLUMN: text"), a field is wrong,
 *             the path is not a regular file
 *   -ENOENT, -EACCES, ...  the file cannot be opened or read
 *   -ENOMEM
 *   -EIO      libsodium (the key decoder) failed to initialise
 */
int bx_config_load(const char *path, struct bx_config **out, char *err,
		   size_t errlen);

/*
 * The same from a parsed document, for callers that got the JSON elsewhere
 * (the hub, tests). Errors print @name as the file. No field is a path
 * relative to the file (state_dir is absolute, the hub's files are under
 * it), so the document alone decides. @root is not modified and not kept.
 * Returns and fills as bx_config_load, with -EINVAL, -ENOMEM or -EIO.
 */
int bx_config_from_json(const json_t *root, const char *name,
			struct bx_config **out, char *err, size_t errlen);

/* Frees everything of @c; NULL is fine. */
void bx_config_free(struct bx_config *c);

/*
 * Prints the effective config -- defaults applied, hub file paths
 * resolved -- to @f, one "field value" line each, for
 * `bauxite-app --check-config`. Peers' public keys
 * are printed in base64, so they can be compared with `bauxite keys show`
 * on the other node; the config holds no secret.
 */
void bx_config_dump(const struct bx_config *c, FILE *f);

/* Name of a role / inner type as written in the config ("edge", "tap"). */
const char *bx_config_role_name(enum bx_config_role r);
const char *bx_config_inner_type_name(enum bx_config_inner_type t);

/* Name of a bonding mode as written in the config ("stripe"), for logs
 * and telemetry; "unknown" for a value outside the enum. */
const char *bx_config_bond_mode_name(enum bx_config_bond_mode m);

/*
 * Which of @c's underlays a path to the address @ip (network order), a
 * peer's @i-th endpoint, goes out of: the first whose subnet holds it;
 * else the underlays with a gateway in turn (endpoint i over the
 * (i mod n)-th of them), so a node with two uplinks to the internet
 * reaches a peer's two public endpoints over both; else the primary (0).
 */
unsigned bx_config_underlay_for(const struct bx_config *c, uint32_t ip,
				unsigned i);

#endif /* BX_CONFIG_H */
