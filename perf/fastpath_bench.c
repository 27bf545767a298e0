/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fastpath-bench: what one worker lcore running the appliance's own
 * run-to-completion loop (app_worker_main, from bx_appcore) forwards, and
 * how close that comes to the AEAD limit of the core (perf/crypto-bench's
 * best back end at each size and op, run by this program in the same run).
 *
 * Two nodes, a sender and a receiver, are set up as bauxite-app sets
 * itself up -- config from JSON, peer registry, a worker struct -- except
 * that their ports are net_ring ports over rings this program owns, wired
 * so that one node's output is the other's input:
 *
 *   link_inner  (P inner frames)  --sender worker, egress-->  link_underlay
 *   link_underlay (P datagrams)   --receiver worker, ingress--> link_inner
 *
 * Their session comes from one real handshake (lib/handshake, Noise IK
 * between fresh static keys), run here in-process rather than over the
 * ports, and is installed as bauxite-app's control lcore installs it.
 *
 * A round launches one node's worker on the worker lcore, which finds P
 * packets waiting on its input ring and runs its loop until all P are on
 * its output ring; then the worker is stopped. Egress and ingress rounds
 * alternate, so the receiver always gets freshly sealed datagrams (its
 * replay window only ever sees new counters) and the sender gets back
 * exactly the inner packets it sealed. The main lcore neither feeds nor
 * drains while a round runs: it sleeps, and the worker lcore does nothing
 * but the worker's own work.
 *
 * Timing is the worker's: an ethdev RX callback on the input port stamps
 * the TSC at the first non-empty burst, a TX callback on the output port
 * when the round's last packet is handed to the port (each adds one call
 * per burst, well under a cycle per packet). cycles/pkt is that interval
 * over P; the TSC rate is measured against CLOCK_MONOTONIC; a figure is
 * the median round, as in crypto-bench.
 *
 * Correctness is checked on every round: each node's drop counters stay
 * 0, its packet counters move by exactly P and every packet is on the
 * output ring, nothing anywhere else. The first and a last, untimed round
 * also check the bytes: outer headers and checksums of the sealed
 * datagrams, and the opened packets equal to the ones sealed. Any failure
 * ends the run with a message and a non-zero exit.
 *
 * Sizes are inner IP packet sizes; Gbps counts inner IP bytes, as
 * crypto-bench counts payload bytes, so ratio_to_ceiling = fastpath Gbps /
 * ceiling Gbps = ceiling cycles/pkt / fastpath cycles/pkt.
 *
 * Each node's worker has its own lanes, as bauxite-app's run-to-
 * completion worker has them (app_worker_lanes_init): a round is a
 * backlog, so the worker reads it ahead into them and seals by priority.
 * A round is a closed loop, though: what the worker reads is refilled,
 * so its input never falls behind by more than the round's packets. The
 * worker's standing Bulk queue, for an input that stays faster than it
 * (a NIC's line), would take that for one and drop, where a closed loop
 * offers no more than is read; so the rounds run without it
 * (overload_tsc UINT64_MAX). The Critical section's phases, whose Bulk
 * comes at a line rate whatever the worker does, run with it.
 * The inner packets are UDP to port 5201: by the default policy (the
 * configs carry no rules) 64 bytes go on the Critical lane (under
 * BX_CLASSIFY_SMALL_PKT), 512 and 1400 on Bulk; the text table says so.
 *
 * Scale (issue 9): the same two nodes with N peers each (--peers; by
 * default a second table for 1, 1 000 and 10 000). Pair i is peer i of
 * the sender and peer i of the receiver, each the other's mirror: pair 0
 * is the one above (the nodes' own virtual IPs, the config's peer, the
 * handshake's session); pair i > 0 has its own addresses (100.65.x.y on
 * the receiver's side, 100.66.x.y on the sender's, x.y = i), comes into
 * each registry as the hub's peers do (bx_peer_add: the config holds at
 * most BX_CONFIG_MAX_PEERS), its one route its virtual IP, its endpoint
 * the node behind it, reached through a next-hop MAC of its own (the
 * other node's with i in bytes 1-2, as if each peer were a neighbour on
 * the underlay): so each peer's datagrams get an outer header of their
 * own, as at a hub whose peers each have their own endpoint (the receiver
 * takes mesh datagrams to its address and port whatever the MAC, and the
 * ring port filters none); and its own session, made of fresh random keys
 * each way and fresh receiver indices and installed as session.c
 * installs a handshake's output (app_session_create, bx_peer_set_session)
 * -- a handshake per pair would add nothing the keys do not: no two pairs
 * share a key or an index.
 *
 * Packet g of a run (counting every round since the nodes were made) is
 * an inner packet from the sender's side of pair g mod N to the
 * receiver's: consecutive packets go to different peers, routes,
 * sessions and replay windows, and every peer gets its share, as at a
 * hub. A round holds fewer packets than 10 000 peers, so before each round
 * the worker lcore itself, untimed, rewrites the addresses of the round's
 * packets for the next pairs in line (the packets stay in its cache, as
 * after any round): ceil(N / P) rounds visit every peer. The checks above
 * hold per pair: each datagram carries its pair's receiver index and that
 * pair's next counter, each opened packet is its pair's, and after each
 * size every pair's session counter and per-peer counters on both nodes
 * equal what was sent to it.
 *
 * Each spread round pair is followed by one whose every packet goes to
 * pair 0, on the same nodes: a scale figure is the median of the spread
 * rounds, its ratio = cycles/pkt of those 1-peer rounds / cycles/pkt
 * spread over N (1.00 costs nothing, 0.80 is 20 % slower). Side by side,
 * because the machine is shared: a 1-peer figure from a minute before,
 * as the first table's, is further off than the effect measured. With
 * N = 1 both kinds of round are the same, and the ratio shows the noise.
 * The memory is what the two nodes' tables (registries, sessions,
 * per-peer arrays) take of the DPDK heap, by rte_malloc's statistics,
 * per peer and node over that with 1 peer.
 *
 * Critical lane (issue 9: Critical p99 under Bulk load within 50 us of
 * idle): the sender's worker on its own, egress, running all along rather
 * than in rounds, its input ring (link_inner, APP_RX_DESC entries) a NIC
 * RX ring, the main lcore the NIC on both sides. Four phases per cipher:
 * idle, one Critical packet (an ICMP echo, checked to classify Critical)
 * every 20 us and nothing else; loaded, the same with a Bulk load (1400-
 * byte UDP, checked to classify Bulk) offered at a line rate above what
 * the worker seals, so its input ring stays full (but for a top burst the
 * Bulk leaves to the Critical packets: see BENCH_CRIT_RESERVE); and
 * fifo.loaded, loaded again with the worker's lanes freed: strictly in
 * order, as before it had them; saturated, with its lanes, Bulk offered
 * at BENCH_CRIT_SATURATE times what fifo.loaded sealed (a stream that
 * keeps the tunnel full, not a line forty times over it). A Critical
 * packet's latency runs from
 * the TSC the main lcore stamps on it as it puts it on the input ring
 * (when a NIC would have received it: its wait in the ring counts) to the
 * TSC a TX callback on the output port stamps when the worker hands it
 * over; both stamps live in the Critical packets' mbufs (their own pool),
 * which sealing keeps (it works in place). The main lcore drains the
 * sealed datagrams, measures and frees the Critical ones, and offers the
 * Bulk mbufs again, refilled with the inner frame. Figures: p50, p90, p99 and
 * max of each phase (nearest rank, in us), loaded p99 - idle p99 with and
 * without lanes, the Bulk rate sealed under load. A phase fails the run
 * if a Critical packet does not come out, is not a Critical datagram, or
 * the worker drops anything but Bulk at its lane (lane_bulk_full); Bulk
 * the full input ring refused is counted on the feeding side.
 *
 * Usage: fastpath-bench [--json] [--quick] [--seconds S] [--cipher NAME]
 *                       [--size BYTES] [--dir egress|ingress] [--hugepages]
 *                       [--peers N[,N...]] [--no-critical | --critical-only]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>
#include <sodium.h>

#include "app.h"
#include "bench.h"
#include "bx_common.h"
#include "bx_config.h"
#include "bx_handshake.h"
#include "bx_wire.h"

#define BENCH_WORKER_LCORE 1u
/* Packets per round: a receive ring's worth, and the mbufs of one round
 * (about 1.6 MB at 1400 bytes) stay in the worker core's 2 MB L2 here, as
 * a NIC's recycled mbufs stay in cache. A multiple of the worker's burst,
 * so every burst is a full one. */
#define BENCH_ROUND_PKTS 1024u
_Static_assert(BENCH_ROUND_PKTS % APP_BURST == 0, "rounds are whole bursts");
/* The worker's input ring (link_inner) is a NIC RX ring. */
_Static_assert(BENCH_ROUND_PKTS == APP_RX_DESC, "a round is an RX ring's worth");
/* What the main lcore drains or feeds at a time in the Critical section. */
#define BENCH_FEED_BURST 256u
#define BENCH_SPARE_RING 64u /* idle and stray rings */
#define BENCH_WARMUP_ROUNDS 8u
#define BENCH_DEFAULT_SECONDS 1.0
#define BENCH_QUICK_SECONDS 0.25
/* A round pair is two launches and two wake-ups of the main lcore: never
 * under 20 us. Bounds the samples a run keeps. */
#define BENCH_MIN_PAIR_NS 20000.0
#define BENCH_MAX_ROUNDS (1u << 20)
/* A round that takes this long has lost packets (or runs under valgrind). */
#define BENCH_ROUND_TIMEOUT_S 30.0
/* A round not done after this long is looked at: if the worker dropped,
 * it will never be done (a round takes under a millisecond). Not sooner,
 * so the main lcore keeps off the worker's counters while it runs. */
#define BENCH_ROUND_STALL_S 0.5
#define BENCH_POLL_NS 10000L
#define BENCH_ERR_LEN 512u
/* Of an error, what is kept behind a prefix. */
#define BENCH_ERR_KEEP 448
/* EAL memory: two peer registries (64 MiB of rte_lpm tbl24 each), the
 * mbuf pools (pool_mbufs: 20 to 30 MB), rings; and per peer and node at most this much of the
 * heap (5.1 KiB measured: two expanded keys, a tbl8 group, the replay
 * window, the record, the session, hashes). 2 x 10 000 peers: +157 MB. */
#define BENCH_EAL_BASE_MB 256u
#define BENCH_EAL_PEER_BYTES 8192u
#define BENCH_MB (1024u * 1024u)
/* Inner packets are UDP, so the classifier reads ports too. */
#define BENCH_MIN_SIZE (BX_WIRE_IPV4_LEN + BX_WIRE_UDP_LEN)
/* The sealed datagram must fit the mbuf's data room. */
#define BENCH_MAX_SIZE (RTE_MBUF_DEFAULT_DATAROOM - BX_WIRE_OVERHEAD)
#define BENCH_INNER_SPORT 40000u
#define BENCH_INNER_DPORT 5201u /* bulk lane, like iperf3 (64 B: critical) */
#define BENCH_MESH_PORT 7600u
#define BENCH_CEILING_OUT_MAX 8192u
/* The public keys the configs carry are the handshake's static keys. */
_Static_assert(BX_CONFIG_KEY_LEN == BX_HS_KEY_LEN, "X25519 public keys");

static const uint16_t default_sizes[] = { 64, 512, 1400 };

/* Scale: peers per node up to what a node under a hub may hold
 * (hub.max_peers); pair i > 0's addresses are i in a /16 per side. */
#define BENCH_MAX_PEERS BX_CONFIG_HUB_PEERS_MAX
#define BENCH_PAIR_NET_BITS 16u
_Static_assert(BENCH_MAX_PEERS <= (1u << BENCH_PAIR_NET_BITS),
	       "pair i > 0 is a host of its /16");
#define BENCH_MAX_PEER_COUNTS 8u
static const uint32_t default_peer_counts[] = { 1, 1000, 10000 };
/* Sizes of the scale table (those the first table measures too): the
 * per-packet cost, and a full-size packet where the AEAD dominates. */
static const uint16_t scale_sizes[] = { 64, 1400 };
/* Warm-up of a scale run: every peer's state visited this often. */
#define BENCH_WARMUP_VISITS 2u
/* Pair i > 0's next-hop MAC: the node's, with i in bytes 1-2 (byte 0
 * keeps it unicast and locally administered). */
#define BENCH_PAIR_MAC_SHIFT 24u
_Static_assert(BENCH_PAIR_NET_BITS + BENCH_PAIR_MAC_SHIFT <= 40u,
	       "pair i > 0 fits bytes 1-2 of the MAC");
/* Pair i > 0's peer id: the config peer's, at most this long, and "-i". */
#define BENCH_ID_BASE_MAX 32
static const enum bx_crypto_cipher all_ciphers[] = {
	BX_CRYPTO_CHACHA20_POLY1305,
	BX_CRYPTO_AES256_GCM,
};

/* Critical-lane latency (see the top). The Critical packet: ping's
 * default echo request (56 bytes of data), an ICMP packet and under
 * BX_CLASSIFY_SMALL_PKT, Critical twice over by the default policy. */
#define BENCH_CRIT_SIZE 84u
#define BENCH_CRIT_ICMP_DATA (BENCH_CRIT_SIZE - BX_WIRE_IPV4_LEN - \
			      sizeof(struct rte_icmp_hdr))
#define BENCH_CRIT_ICMP_ID 0xb0u
/* The Bulk load: a video stream's full-size UDP packets (to iperf3's
 * port, as the first table's), offered at a 100 GbE line's rate, above
 * what one core seals at this size (the first table's 1400-byte egress
 * figure: 15 to 40 Gbps here). */
#define BENCH_CRIT_BULK_SIZE 1400u
#define BENCH_CRIT_OFFER_GBPS 100.0
#define BENCH_CRIT_PERIOD_NS 20000.0 /* a Critical packet every 20 us */
/* A phase lasts this many times --seconds: 3 s, --quick 0.75 s (three
 * phases per cipher: the section takes about 20 s, --quick 5 s). */
#define BENCH_CRIT_PHASE_FACTOR 3.0
/* Not measured at the start of a phase: the input ring and the lanes
 * filling (a ring's worth at 1.3 Mpps is under 1 ms). */
#define BENCH_CRIT_WARMUP_S 0.02
/* The top of the input ring the Bulk load leaves free: a Critical packet
 * is never refused there (a NIC drops whatever meets a full ring, which
 * no lane can help: the figure is the wait in the ring, not that loss). */
#define BENCH_CRIT_RESERVE APP_BURST
/* The Critical packets' own pool (their stamps in its private area):
 * 80 ms of them in flight at one every 20 us. */
#define BENCH_CRIT_MBUFS 4096u
#define BENCH_CRIT_ROOM 256u /* frame, outer headers, tag */
/* Longest phase: bounds the latencies a phase keeps (3 M, 24 MB). */
#define BENCH_CRIT_MAX_PHASE_S 60.0
/* Issue 9: Critical p99 under Bulk load within this much of idle. */
#define BENCH_CRIT_TARGET_US 50.0
#define BENCH_US_PER_S 1e6
#define BENCH_PCT 100u

enum dir { DIR_EGRESS, DIR_INGRESS, DIR_COUNT };

/* Per direction: its name, crypto-bench's op and the two counters that
 * must each move by exactly one round on the node measured in it. */
static const struct {
	const char *name;
	const char *op;
	enum bx_stat_id in;
	enum bx_stat_id out;
} dirs[DIR_COUNT] = {
	[DIR_EGRESS] = { "egress", "seal", BX_STAT_INNER_RX_PACKETS, BX_STAT_TX_PACKETS },
	[DIR_INGRESS] = { "ingress", "open", BX_STAT_RX_PACKETS, BX_STAT_INNER_TX_PACKETS },
};

/* The sender is measured in egress, the receiver in ingress. */
enum role { ROLE_SENDER = DIR_EGRESS, ROLE_RECEIVER = DIR_INGRESS, ROLE_COUNT };

static const struct {
	const char *id;
	const char *tag; /* in port names: devargs allow no '-' */
	const char *underlay_ip;
	const char *vip;
	uint32_t pair_net; /* this side of pair i > 0 is pair_net | i */
	struct rte_ether_addr underlay_mac;
	struct rte_ether_addr inner_kernel_mac;
} nodes_desc[ROLE_COUNT] = {
	[ROLE_RECEIVER] = { "bench-a", "a", "10.99.0.1", "100.64.0.1",
			    RTE_IPV4(100, 65, 0, 0),
			    { { 0x02, 0, 0, 0, 0, 0x0a } },
			    { { 0x02, 0, 0, 0, 1, 0x0a } } },
	[ROLE_SENDER] = { "bench-b", "b", "10.99.0.2", "100.64.0.2",
			  RTE_IPV4(100, 66, 0, 0),
			  { { 0x02, 0, 0, 0, 0, 0x0b } },
			  { { 0x02, 0, 0, 0, 1, 0x0b } } },
};

static enum role
role_other(enum role r)
{
	return r == ROLE_SENDER ? ROLE_RECEIVER : ROLE_SENDER;
}

enum port_kind { PORT_INNER, PORT_UNDERLAY, PORT_EXCEPTION, PORT_COUNT };
static const char *const port_kind_name[PORT_COUNT] = { "in", "ul", "ex" };

/* Worker-side timestamps of one round, written by the ethdev callbacks on
 * the worker lcore, read by the main lcore once done is set or the worker
 * has stopped. */
struct probe {
	uint64_t t_first;
	uint64_t t_last;
	uint32_t sent;
	bool done;
};

struct node {
	enum role role;
	struct bx_config *cfg;
	struct bx_stats *stats;
	struct rte_rcu_qsbr *qsbr;
	struct bx_peer_registry *reg;
	struct bx_crypto *ctl_crypto;
	struct bx_crypto *crypto;
	uint32_t n_peers;
	uint32_t *peer_idx;          /* per pair: its peer's registry index */
	struct app_session **sess;   /* per pair: the session with its peer */
	struct app_ports ports;
	struct app_policy policy;
	char port_name[PORT_COUNT][RTE_ETH_NAME_MAX_LEN];
	bool port_made[PORT_COUNT];
	uint16_t port_id[PORT_COUNT];
	uint64_t *nexthop;
	struct app_worker w;
	bool running;
	struct probe probe;
	uint16_t probe_rx_port;
	uint16_t probe_tx_port;
	const struct rte_eth_rxtx_callback *rx_cb;
	const struct rte_eth_rxtx_callback *tx_cb;
};

struct bench {
	struct rte_mempool *pool;
	struct rte_ring *link_inner;    /* sender's inner RX, receiver's inner TX */
	struct rte_ring *link_underlay; /* sender's underlay TX, receiver's underlay RX */
	struct rte_ring *idle;          /* RX of every other port and the
					 * workers' ctl_tx: stays empty */
	struct rte_ring *stray;         /* TX of every other port and the
					 * workers' hs_rx: must stay empty */
	struct rte_mbuf *pkts[BENCH_ROUND_PKTS];
	uint8_t tmpl[BX_WIRE_ETH_LEN + BENCH_MAX_SIZE]; /* the inner frame */
	uint16_t size;
	uint64_t *samples[DIR_COUNT];
	uint64_t *single[DIR_COUNT];    /* scale: the 1-peer round pairs' */
	size_t n_samples;
	size_t cap;
	double tsc_hz;
	double seconds;
	bool json;
	bool report[DIR_COUNT];
	/* The rounds' traffic (see the top): packet k of the round in flight
	 * goes to pair (first_pair + k) mod active, active being n_pairs or,
	 * in a scale run's 1-peer rounds, 1; scale rounds (spread) have their
	 * addresses rewritten to match before they start. */
	uint32_t n_pairs;
	uint32_t active;
	uint32_t first_pair;
	uint64_t *sent;                 /* per pair: packets sealed for it */
	bool spread;
	/* The first table's sizes. */
	const uint16_t *sizes;
	size_t n_sizes;
	/* The heap both nodes' tables take (registries, sessions, per-peer
	 * arrays): of the nodes being made, and with 1 peer per cipher
	 * (all_ciphers' order). */
	size_t heap_tables;
	size_t heap_one[BX_ARRAY_SIZE(all_ciphers)];
	/* The Critical section: bench_nodes runs it instead of sizes. Its
	 * Critical packets come from their own pool, the Bulk from pool. */
	bool critical;
	struct rte_mempool *crit_pool;
	uint8_t crit_tmpl[BX_WIRE_ETH_LEN + BENCH_CRIT_SIZE];
	uint64_t *lat;                  /* a phase's latencies, cycles */
	size_t lat_cap;
	char crypto_bench[PATH_MAX];
	char err[BENCH_ERR_LEN];
};

static uint16_t
probe_rx(uint16_t port __rte_unused, uint16_t queue __rte_unused,
	 struct rte_mbuf *pkts[] __rte_unused, uint16_t n,
	 uint16_t max __rte_unused, void *arg)
{
	struct probe *p = arg;

	if (n != 0 && p->t_first == 0)
		p->t_first = rte_rdtsc();
	return n;
}

static uint16_t
probe_tx(uint16_t port __rte_unused, uint16_t queue __rte_unused,
	 struct rte_mbuf *pkts[] __rte_unused, uint16_t n, void *arg)
{
	struct probe *p = arg;

	p->sent += n;
	if (!p->done && p->sent >= BENCH_ROUND_PKTS) {
		p->t_last = rte_rdtsc();
		__atomic_store_n(&p->done, true, __ATOMIC_RELEASE);
	}
	return n;
}

/* ---- configs ---------------------------------------------------------- */

/* The config of node @r for @cipher, its one peer being the other node,
 * whose static public key is @peer_pub (base64). */
static int
config_make(enum role r, enum bx_crypto_cipher cipher, const char *peer_pub,
	    struct bx_config **out, char *err, size_t errlen)
{
	const enum role peer = r == ROLE_SENDER ? ROLE_RECEIVER : ROLE_SENDER;
	char ul_addr[32], vip_addr[32], endpoint[32], port[RTE_ETH_NAME_MAX_LEN];
	json_t *root;
	int rc;

	snprintf(ul_addr, sizeof(ul_addr), "%s/24", nodes_desc[r].underlay_ip);
	snprintf(vip_addr, sizeof(vip_addr), "%s/24", nodes_desc[r].vip);
	snprintf(endpoint, sizeof(endpoint), "%s:%u", nodes_desc[peer].underlay_ip,
		 BENCH_MESH_PORT);
	/* Only its shape is checked: the ports are made here, not probed. */
	snprintf(port, sizeof(port), "net_ring_%s", nodes_desc[r].tag);
	root = json_pack("{s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:i, s:s,"
			 " s:[{s:s, s:s, s:s, s:s}]}",
			 "node_id", nodes_desc[r].id,
			 "underlay", "port", port, "address", ul_addr,
			 "inner", "iface", "bxbench0", "address", vip_addr,
			 "mesh_port", (int)BENCH_MESH_PORT,
			 "cipher", bx_crypto_cipher_name(cipher),
			 "peers", "id", nodes_desc[peer].id,
			 "virtual_ip", nodes_desc[peer].vip,
			 "endpoint", endpoint, "public_key", peer_pub);
	if (root == NULL) {
		snprintf(err, errlen, "config of %s: out of memory", nodes_desc[r].id);
		return -ENOMEM;
	}
	rc = bx_config_from_json(root, nodes_desc[r].id, out, err, errlen);
	json_decref(root);
	return rc;
}

/*
 * A fresh static X25519 key pair per node (@priv, which the caller wipes
 * once the handshake has them) and both nodes' configs, each naming the
 * other's public key.
 */
static int
configs_make(enum bx_crypto_cipher cipher,
	     uint8_t priv[ROLE_COUNT][BX_HS_KEY_LEN],
	     struct bx_config *cfg[ROLE_COUNT], char *err, size_t errlen)
{
	uint8_t pub[BX_HS_KEY_LEN];
	char b64[ROLE_COUNT][BX_CONFIG_KEY_B64_LEN + 1];
	unsigned r;
	int rc;

	for (r = 0; r < ROLE_COUNT; r++) {
		randombytes_buf(priv[r], BX_HS_KEY_LEN);
		if (crypto_scalarmult_base(pub, priv[r]) != 0) {
			snprintf(err, errlen, "%s: no public key for its static "
				 "key", nodes_desc[r].id);
			return -EINVAL;
		}
		sodium_bin2base64(b64[r], sizeof(b64[r]), pub, sizeof(pub),
				  sodium_base64_VARIANT_ORIGINAL);
	}
	rc = config_make(ROLE_SENDER, cipher, b64[ROLE_RECEIVER],
			 &cfg[ROLE_SENDER], err, errlen);
	if (rc == 0)
		rc = config_make(ROLE_RECEIVER, cipher, b64[ROLE_SENDER],
				 &cfg[ROLE_RECEIVER], err, errlen);
	return rc;
}

/* ---- nodes ------------------------------------------------------------ */

static uint64_t
mac_pack(const struct rte_ether_addr *mac)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < RTE_ETHER_ADDR_LEN; i++)
		v = v << 8 | mac->addr_bytes[i];
	return v;
}

/* The rings behind port @k of a node in role @r: see the top. */
static void
port_rings(const struct bench *b, enum role r, enum port_kind k,
	   struct rte_ring **rx, struct rte_ring **tx)
{
	*rx = b->idle;
	*tx = b->stray;
	if (r == ROLE_SENDER && k == PORT_INNER)
		*rx = b->link_inner;
	if (r == ROLE_SENDER && k == PORT_UNDERLAY)
		*tx = b->link_underlay;
	if (r == ROLE_RECEIVER && k == PORT_UNDERLAY)
		*rx = b->link_underlay;
	if (r == ROLE_RECEIVER && k == PORT_INNER)
		*tx = b->link_inner;
}

/* One started net_ring port, one queue pair, over the rings of @k. */
static int
port_make(struct bench *b, struct node *n, enum port_kind k, uint16_t *port)
{
	struct rte_ring *rx, *tx;
	struct rte_eth_conf conf;
	int id, rc;

	port_rings(b, n->role, k, &rx, &tx);
	/* The vdev bus finds the ring driver by this name prefix. */
	snprintf(n->port_name[k], sizeof(n->port_name[k]), "net_ring_%s_%s",
		 nodes_desc[n->role].tag, port_kind_name[k]);
	id = rte_eth_from_rings(n->port_name[k], &rx, 1, &tx, 1, rte_socket_id());
	if (id < 0) {
		snprintf(b->err, sizeof(b->err), "%s: %s", n->port_name[k],
			 rte_strerror(rte_errno));
		return -rte_errno;
	}
	n->port_made[k] = true;
	n->port_id[k] = (uint16_t)id;
	*port = (uint16_t)id;
	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_configure(*port, 1, 1, &conf);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(*port, 0, APP_RX_DESC, rte_socket_id(),
					    NULL, b->pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(*port, 0, APP_TX_DESC, rte_socket_id(),
					    NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(*port);
	if (rc != 0)
		snprintf(b->err, sizeof(b->err), "%s: cannot start: %s",
			 n->port_name[k], strerror(-rc));
	return rc;
}

static int
node_ports(struct bench *b, struct node *n)
{
	struct app_ports *p = &n->ports;
	int rc;

	p->n_queues = 1;
	/* Ring ports carry no wire: any size the bench sends may go. */
	p->max_inner = BENCH_MAX_SIZE;
	p->pool = b->pool;
	p->underlay_mac = nodes_desc[n->role].underlay_mac;
	p->inner_kernel_mac = nodes_desc[n->role].inner_kernel_mac;
	rc = port_make(b, n, PORT_INNER, &p->inner);
	p->inner_started = rc == 0;
	if (rc == 0)
		rc = port_make(b, n, PORT_UNDERLAY, &p->underlay);
	p->ul[0].port_started = rc == 0;
	if (rc == 0)
		rc = port_make(b, n, PORT_EXCEPTION, &p->exception);
	p->ul[0].exception_started = rc == 0;
	if (rc != 0)
		return rc;
	p->n_ul = 1;
	p->ul[0].port = p->underlay;
	p->ul[0].exception = p->exception;
	p->ul[0].mac = p->underlay_mac;
	p->ul[0].ip = n->cfg->underlay.address.addr;

	n->probe_rx_port = n->role == ROLE_SENDER ? p->inner : p->underlay;
	n->probe_tx_port = n->role == ROLE_SENDER ? p->underlay : p->inner;
	n->rx_cb = rte_eth_add_rx_callback(n->probe_rx_port, 0, probe_rx, &n->probe);
	n->tx_cb = rte_eth_add_tx_callback(n->probe_tx_port, 0, probe_tx, &n->probe);
	if (n->rx_cb == NULL || n->tx_cb == NULL) {
		snprintf(b->err, sizeof(b->err), "%s: ethdev callbacks: %s",
			 nodes_desc[n->role].id, rte_strerror(rte_errno));
		return -rte_errno;
	}
	return 0;
}

/* The id of the peer of pair @i on @n: the config's peer's, then that
 * (nodes_desc: a short one) with the pair's number. */
static void
pair_peer_id(const struct node *n, uint32_t i, char id[BX_PEER_ID_MAX])
{
	const char *base = n->cfg->peers[0].id;

	if (i == 0)
		snprintf(id, BX_PEER_ID_MAX, "%s", base);
	else
		snprintf(id, BX_PEER_ID_MAX, "%.*s-%" PRIu32, BENCH_ID_BASE_MAX,
			 base, i);
}

/* Side @r's virtual IP in pair @i > 0 (network order). */
static rte_be32_t
extra_vip(enum role r, uint32_t i)
{
	return rte_cpu_to_be_32(nodes_desc[r].pair_net | i);
}

/* The next hop (APP_NH_VALID | MAC) through which side @r of pair @i is
 * reached: its node's underlay MAC, with i in bytes 1-2 for i > 0. */
static uint64_t
pair_nh(enum role r, uint32_t i)
{
	return APP_NH_VALID | mac_pack(&nodes_desc[r].underlay_mac) |
	       (uint64_t)i << BENCH_PAIR_MAC_SHIFT;
}

/* Side @r's address in pair @i: the inner source (sender) or destination
 * (receiver) of the pair's packets. */
static rte_be32_t
pair_vip(const struct node nodes[ROLE_COUNT], enum role r, uint32_t i)
{
	return i == 0 ? nodes[r].cfg->inner.address.addr : extra_vip(r, i);
}

/*
 * The peer of pair @i into @n's registry (staged): pair 0 is the config's
 * peer, the others come as the hub's peers do -- an id, a virtual IP that
 * is their one route, the endpoint of the node behind them.
 */
static int
node_peer_add(struct bench *b, struct node *n, uint32_t i)
{
	const struct bx_config_peer *cp = &n->cfg->peers[0];
	struct bx_peer_prefix pfx[BX_CONFIG_MAX_PREFIXES];
	char id[BX_PEER_ID_MAX];
	struct bx_peer_conf pc;
	unsigned k;
	int rc;

	pair_peer_id(n, i, id);
	memset(&pc, 0, sizeof(pc));
	pc.id = id;
	pc.vip = i == 0 ? cp->virtual_ip : extra_vip(role_other(n->role), i);
	pc.endpoint_ip = cp->endpoint_ip;
	pc.endpoint_port = rte_cpu_to_be_16(cp->endpoint_port);
	if (i == 0) {
		for (k = 0; k < cp->n_allowed; k++) {
			pfx[k].addr = cp->allowed[k].addr;
			pfx[k].len = cp->allowed[k].len;
		}
		pc.n_prefixes = cp->n_allowed;
		pc.prefixes = pfx;
	}
	rc = bx_peer_add(n->reg, &pc, &n->peer_idx[i]);
	if (rc != 0)
		snprintf(b->err, sizeof(b->err), "peer %s: %s", id, strerror(-rc));
	return rc;
}

/* The registry with the node's n_peers peers, sized as bauxite-app sizes
 * it for its start peers (main.c): each one's rules and a tbl8 group for
 * its /32. */
static int
node_registry(struct bench *b, struct node *n)
{
	const struct bx_config_peer *cp = &n->cfg->peers[0];
	struct bx_peer_registry_conf rc;
	uint32_t i;
	int ret = 0;

	memset(&rc, 0, sizeof(rc));
	rc.max_peers = n->n_peers;
	rc.max_prefixes = cp->n_allowed + n->n_peers;
	rc.max_long_prefixes = cp->n_allowed + n->n_peers;
	rc.qsbr = n->qsbr;
	rc.socket_id = (int)rte_socket_id();
	n->reg = bx_peer_registry_create(&rc);
	if (n->reg == NULL) {
		snprintf(b->err, sizeof(b->err), "peer registry: %s",
			 rte_strerror(rte_errno));
		return -rte_errno;
	}
	for (i = 0; ret == 0 && i < n->n_peers; i++)
		ret = node_peer_add(b, n, i);
	return ret;
}

/* What the rte_malloc heap holds. */
static size_t
heap_used(void)
{
	struct rte_malloc_socket_stats st;

	if (rte_malloc_get_socket_stats((int)rte_socket_id(), &st) != 0)
		return 0;
	return st.heap_allocsz_bytes;
}

/*
 * The node's per-peer tables but for the sessions: the registry with its
 * peers, the next hops, the per-peer counters. Their heap is added to
 * b->heap_tables (not the whole node's: the first port made in the process
 * also allocates ethdev state for good).
 */
static int
node_tables(struct bench *b, struct node *n)
{
	size_t heap0 = heap_used();
	uint32_t n_slots, i;
	int rc;

	rc = node_registry(b, n);
	if (rc != 0)
		return rc;
	/* Nothing reads the registry yet: this commit does not wait. The
	 * sessions come later (sessions_make). */
	bx_peer_commit(n->reg);
	n_slots = bx_peer_table_capacity(bx_peer_table_get(n->reg));
	n->nexthop = rte_zmalloc("fpb_nexthop", APP_NH(n_slots, 0) * sizeof(uint64_t),
				 RTE_CACHE_LINE_SIZE);
	n->w.peer_ctr = rte_zmalloc("fpb_peer_ctr", n_slots * sizeof(*n->w.peer_ctr),
				    RTE_CACHE_LINE_SIZE);
	if (n->nexthop == NULL || n->w.peer_ctr == NULL) {
		snprintf(b->err, sizeof(b->err), "per-peer state: no memory");
		return -ENOMEM;
	}
	/* What neigh.c would have resolved for each peer's endpoint. */
	for (i = 0; i < n->n_peers; i++)
		__atomic_store_n(&n->nexthop[APP_NH(n->peer_idx[i], 0)],
				 pair_nh(role_other(n->role), i), __ATOMIC_RELEASE);
	n->w.n_slots = n_slots;
	b->heap_tables += heap_used() - heap0;
	return 0;
}

/* Everything bauxite-app's control lcore does before it launches the
 * worker, with ring ports and a fixed next hop instead of the kernel's. */
static int
node_start(struct bench *b, struct node *n, enum role r, struct bx_config *cfg,
	   uint32_t n_peers)
{
	int rc;

	memset(n, 0, sizeof(*n));
	n->role = r;
	n->cfg = cfg;
	n->n_peers = n_peers;
	n->ports.underlay = n->ports.inner = n->ports.exception = RTE_MAX_ETHPORTS;
	n->peer_idx = calloc(n_peers, sizeof(*n->peer_idx));
	n->sess = calloc(n_peers, sizeof(*n->sess));
	n->stats = bx_stats_create(SOCKET_ID_ANY);
	n->qsbr = rte_zmalloc("fpb_qsbr", rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE),
			      RTE_CACHE_LINE_SIZE);
	if (n->peer_idx == NULL || n->sess == NULL || n->stats == NULL ||
	    n->qsbr == NULL || rte_rcu_qsbr_init(n->qsbr, RTE_MAX_LCORE) != 0) {
		snprintf(b->err, sizeof(b->err), "stats and QSBR: no memory");
		return -ENOMEM;
	}
	n->ctl_crypto = bx_crypto_create(BX_CRYPTO_BACKEND_AUTO, cfg->fips);
	if (n->ctl_crypto != NULL)
		n->crypto = bx_crypto_create(bx_crypto_backend_of(n->ctl_crypto),
					     cfg->fips);
	if (n->crypto == NULL) {
		rc = -errno;
		snprintf(b->err, sizeof(b->err), "crypto engine: %s", strerror(errno));
		return rc;
	}
	rc = node_ports(b, n);
	if (rc == 0)
		rc = node_tables(b, n);
	if (rc != 0)
		return rc;

	n->w.role = APP_ROLE_RTC;
	n->w.txq = 0;
	app_policy_init(&n->policy, cfg, n->qsbr);
	n->w.cfg = cfg;
	n->w.ports = &n->ports;
	n->w.policy = &n->policy;
	n->w.reg = n->reg;
	n->w.qsbr = n->qsbr;
	n->w.stats = n->stats;
	n->w.crypto = n->crypto;
	n->w.nexthop = n->nexthop;
	/* No control lcore runs: nothing comes down to send, and a handshake
	 * datagram going up would be a packet where none may go. */
	n->w.ctl_tx = b->idle;
	n->w.hs_rx = b->stray;
	n->w.running = &n->running;
	/* Its own lanes, as bauxite-app's workers_setup gives its
	 * run-to-completion worker: ring names are global, hence the tag.
	 * No standing queue in the rounds' closed loop (see the top). */
	rc = app_worker_lanes_init(&n->w, nodes_desc[r].tag,
				   (int)rte_socket_id(), cfg->replay_window,
				   b->err, sizeof(b->err));
	n->w.overload_tsc = UINT64_MAX;
	return rc;
}

/* Undoes node_start, however far it got. The worker is stopped. */
static void
node_stop(struct node *n)
{
	struct rte_eth_dev_info info;
	uint32_t i;
	unsigned k;

	if (n->rx_cb != NULL &&
	    rte_eth_remove_rx_callback(n->probe_rx_port, 0, n->rx_cb) == 0)
		rte_free((void *)(uintptr_t)n->rx_cb);
	if (n->tx_cb != NULL &&
	    rte_eth_remove_tx_callback(n->probe_tx_port, 0, n->tx_cb) == 0)
		rte_free((void *)(uintptr_t)n->tx_cb);
	if (n->ports.inner_started)
		rte_eth_dev_stop(n->ports.inner);
	if (n->ports.ul[0].port_started)
		rte_eth_dev_stop(n->ports.underlay);
	if (n->ports.ul[0].exception_started)
		rte_eth_dev_stop(n->ports.exception);
	/* Removes the vdev the port was made as (closing the port leaves it
	 * on the bus); the rings stay ours. */
	for (k = 0; k < PORT_COUNT; k++)
		if (n->port_made[k] &&
		    rte_eth_dev_info_get(n->port_id[k], &info) == 0)
			rte_dev_remove(info.device);
	app_worker_lanes_free(&n->w);
	/* The registry points at the sessions: it goes first. */
	bx_peer_registry_free(n->reg);
	for (i = 0; n->sess != NULL && i < n->n_peers; i++)
		app_session_free(n->sess[i]);
	free(n->sess);
	free(n->peer_idx);
	bx_crypto_free(n->crypto);
	bx_crypto_free(n->ctl_crypto);
	rte_free(n->nexthop);
	rte_free(n->w.peer_ctr);
	rte_free(n->qsbr);
	bx_stats_free(n->stats);
	bx_config_free(n->cfg);
	memset(n, 0, sizeof(*n));
}

/* ---- the session: one real handshake ---------------------------------- */

/* One node's side of the handshake: its engine and the other node as its
 * one peer. Holds the static private key: sodium_allocarray'd, wiped. */
struct hs_node {
	struct bx_hs hs;
	struct bx_hs_peer peer;
};

/* The engine's peer lookup: the node's one peer, if the key is its. */
static struct bx_hs_peer *
hs_lookup(void *ctx, const uint8_t static_pub[BX_HS_KEY_LEN])
{
	struct hs_node *h = ctx;

	return sodium_memcmp(h->peer.remote_static, static_pub,
			     BX_HS_KEY_LEN) == 0 ? &h->peer : NULL;
}

static uint64_t
wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * BX_HS_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/*
 * Makes @out (one side's handshake output, wiped here) @n's session with
 * the peer of pair @i and stages it as that peer's CURRENT one, as
 * session.c does. The node owns the session from here on (node_stop frees
 * it).
 */
static int
session_install(struct bench *b, struct node *n, uint32_t i,
		struct bx_hs_session *out)
{
	const struct bx_config *cfg = n->cfg;
	char id[BX_PEER_ID_MAX];
	struct app_session *s;
	int rc;

	pair_peer_id(n, i, id);
	s = app_session_create(n->ctl_crypto, cfg->cipher, cfg->replay_window,
			       BX_HS_REJECT_AFTER_MESSAGES, out);
	rc = s == NULL ? (errno ? -errno : -ENOMEM) : 0;
	bx_hs_session_wipe(out);
	if (rc != 0) {
		snprintf(b->err, sizeof(b->err), "%s: session with %s: %s",
			 cfg->node_id, id, strerror(-rc));
		return rc;
	}
	n->sess[i] = s;
	/* The responder's side may not send until confirmed. In bauxite-app
	 * the initiator's keepalive confirms it; the bench's traffic only goes
	 * sender -> receiver and sends no keepalive, so confirm it here. */
	if (!s->initiator)
		s->confirmed = true;
	rc = bx_peer_set_session(n->reg, id, BX_PEER_SESSION_CURRENT,
				 s->rx_index, s);
	if (rc != 0)
		snprintf(b->err, sizeof(b->err), "%s: installing the session "
			 "with %s: %s", cfg->node_id, id, strerror(-rc));
	return rc;
}

/*
 * Pair 0: the sender initiates, the receiver answers, the sender takes the
 * response: each node ends with the session its engine made, staged.
 * @priv: the nodes' static private keys (configs_make).
 */
static int
sessions_handshake(struct bench *b, struct node nodes[ROLE_COUNT],
		   uint8_t priv[ROLE_COUNT][BX_HS_KEY_LEN])
{
	struct node *tx = &nodes[ROLE_SENDER], *rx = &nodes[ROLE_RECEIVER];
	uint8_t init[BX_HS_INIT_LEN];
	struct bx_hs_session out;
	struct bx_hs_result res;
	struct bx_hs_rx in;
	struct hs_node *h;
	enum bx_hs_reason why;
	uint64_t now = bench_now_ns();
	unsigned r;
	int rc = 0;

	memset(&out, 0, sizeof(out));
	memset(&res, 0, sizeof(res));
	h = sodium_allocarray(ROLE_COUNT, sizeof(*h));
	if (h == NULL) {
		snprintf(b->err, sizeof(b->err), "handshake: no memory for the "
			 "engines");
		return -ENOMEM;
	}
	memset(h, 0, ROLE_COUNT * sizeof(*h));
	for (r = 0; rc == 0 && r < ROLE_COUNT; r++) {
		const struct bx_config *cfg = nodes[r].cfg;

		rc = bx_hs_init(&h[r].hs, NULL, priv[r], hs_lookup, &h[r], now);
		if (rc == 0)
			rc = bx_hs_peer_init(&h[r].hs, &h[r].peer,
					     cfg->peers[0].public_key,
					     bx_peer_id_cmp(cfg->node_id,
							    cfg->peers[0].id) < 0,
					     NULL);
		if (rc != 0)
			snprintf(b->err, sizeof(b->err), "handshake: %s: engine "
				 "and peer %s: %s", cfg->node_id,
				 cfg->peers[0].id, strerror(-rc));
	}
	if (rc != 0)
		goto out;

	rc = bx_hs_create_initiation(&h[ROLE_SENDER].hs, &h[ROLE_SENDER].peer,
				     bx_hs_random_index(), now, wall_ns(), init);
	if (rc != 0) {
		snprintf(b->err, sizeof(b->err), "handshake: %s cannot initiate: "
			 "%s", tx->cfg->node_id, strerror(-rc));
		goto out;
	}
	memset(&in, 0, sizeof(in));
	in.msg = init;
	in.len = sizeof(init);
	in.source = (uint64_t)rte_be_to_cpu_32(tx->cfg->underlay.address.addr)
			    << 16 | BENCH_MESH_PORT;
	in.now = now;
	in.wall_ns = wall_ns();
	in.local_index = bx_hs_random_index();
	why = bx_hs_consume_initiation(&h[ROLE_RECEIVER].hs, &in, &res);
	if (why != BX_HS_OK) {
		snprintf(b->err, sizeof(b->err), "handshake: %s refused the "
			 "initiation: %s", rx->cfg->node_id,
			 bx_hs_reason_name(why));
		rc = -EPROTO;
		goto out;
	}
	why = bx_hs_consume_response(&h[ROLE_SENDER].hs, &h[ROLE_SENDER].peer,
				     res.reply, res.reply_len, now, &out);
	if (why != BX_HS_OK) {
		snprintf(b->err, sizeof(b->err), "handshake: %s refused the "
			 "response: %s", tx->cfg->node_id,
			 bx_hs_reason_name(why));
		rc = -EPROTO;
		goto out;
	}

	rc = session_install(b, tx, 0, &out);
	if (rc == 0)
		rc = session_install(b, rx, 0, &res.session);
	/* Each sends to the index the other receives on. */
	if (rc == 0 && (tx->sess[0]->tx_index != rx->sess[0]->rx_index ||
			rx->sess[0]->tx_index != tx->sess[0]->rx_index)) {
		snprintf(b->err, sizeof(b->err), "handshake: the two nodes "
			 "disagree on the session indices");
		rc = -EPROTO;
	}
out:
	bx_hs_session_wipe(&out);
	sodium_memzero(&res, sizeof(res));
	for (r = 0; r < ROLE_COUNT; r++) {
		bx_hs_peer_wipe(&h[r].peer);
		bx_hs_wipe(&h[r].hs);
	}
	sodium_free(h);
	return rc;
}

/*
 * Receiver indices given out so far, on either node, so that no two
 * sessions of a node share one (session.c's index table sees to it in
 * bauxite-app). Open addressing, at most half full; 0 marks a free slot
 * (bx_hs_random_index never draws it).
 */
struct index_set {
	uint32_t *slot;
	uint32_t mask;
};

static int
index_set_init(struct index_set *set, uint32_t n)
{
	uint32_t cap = rte_align32pow2(2u * n);

	set->slot = calloc(cap, sizeof(*set->slot));
	set->mask = cap - 1u;
	return set->slot != NULL ? 0 : -ENOMEM;
}

/* False if @v is in the set already. */
static bool
index_set_add(struct index_set *set, uint32_t v)
{
	uint32_t i;

	/* The indices are random: their low bits are hash enough. */
	for (i = v & set->mask; set->slot[i] != 0; i = (i + 1u) & set->mask)
		if (set->slot[i] == v)
			return false;
	set->slot[i] = v;
	return true;
}

/* A random receiver index no session has yet. */
static uint32_t
index_fresh(struct index_set *set)
{
	uint32_t v;

	do
		v = bx_hs_random_index();
	while (!index_set_add(set, v));
	return v;
}

/*
 * Pair @i > 0: what one handshake between its two sides would leave --
 * a fresh random key each way, a fresh receiver index on each node, the
 * sender the initiator -- made into each node's session and staged.
 */
static int
sessions_direct(struct bench *b, struct node nodes[ROLE_COUNT], uint32_t i,
		struct index_set *seen)
{
	struct bx_hs_session hs[ROLE_COUNT];
	struct bx_hs_session *snd = &hs[ROLE_SENDER], *rcv = &hs[ROLE_RECEIVER];
	int rc;

	memset(hs, 0, sizeof(hs));
	randombytes_buf(snd->send_key, sizeof(snd->send_key));
	randombytes_buf(snd->recv_key, sizeof(snd->recv_key));
	memcpy(rcv->send_key, snd->recv_key, sizeof(rcv->send_key));
	memcpy(rcv->recv_key, snd->send_key, sizeof(rcv->recv_key));
	snd->local_index = rcv->remote_index = index_fresh(seen);
	rcv->local_index = snd->remote_index = index_fresh(seen);
	snd->initiator = true;
	snd->created_ns = rcv->created_ns = bench_now_ns();
	rc = session_install(b, &nodes[ROLE_SENDER], i, snd);
	if (rc == 0)
		rc = session_install(b, &nodes[ROLE_RECEIVER], i, rcv);
	/* What session_install did not get to. */
	bx_hs_session_wipe(snd);
	bx_hs_session_wipe(rcv);
	return rc;
}

/* Every pair's session on both nodes, published. */
static int
sessions_make(struct bench *b, struct node nodes[ROLE_COUNT],
	      uint8_t priv[ROLE_COUNT][BX_HS_KEY_LEN])
{
	const uint32_t n_pairs = nodes[ROLE_SENDER].n_peers;
	struct index_set seen = { NULL, 0 };
	unsigned r;
	uint32_t i;
	int rc;

	rc = sessions_handshake(b, nodes, priv);
	if (rc == 0 && n_pairs > 1) {
		rc = index_set_init(&seen, ROLE_COUNT * n_pairs);
		if (rc != 0)
			snprintf(b->err, sizeof(b->err), "session indices: no memory");
	}
	if (rc == 0 && n_pairs > 1)
		for (r = 0; r < ROLE_COUNT; r++)
			index_set_add(&seen, nodes[r].sess[0]->rx_index);
	for (i = 1; rc == 0 && i < n_pairs; i++)
		rc = sessions_direct(b, nodes, i, &seen);
	/* No worker runs yet: these commits do not wait. */
	for (r = 0; rc == 0 && r < ROLE_COUNT; r++)
		bx_peer_commit(nodes[r].reg);
	free(seen.slot);
	return rc;
}

/* ---- packets ---------------------------------------------------------- */

/* The Ethernet and IPv4 headers of an inner frame of @size IP bytes the
 * sender's kernel writes on its TAP to the receiver's virtual IP (the
 * proxy MAC answers for every peer address). */
static void
inner_hdrs(const struct node nodes[ROLE_COUNT], struct rte_ether_hdr *eh,
	   uint16_t size, uint8_t proto)
{
	const struct rte_ether_addr proxy = { .addr_bytes = APP_PROXY_MAC };
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);

	eh->dst_addr = proxy;
	eh->src_addr = nodes[ROLE_SENDER].ports.inner_kernel_mac;
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	*ip = (struct rte_ipv4_hdr){
		.version_ihl = RTE_IPV4_VHL_DEF,
		.total_length = rte_cpu_to_be_16(size),
		.fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG),
		.time_to_live = BX_WIRE_DEFAULT_TTL,
		.next_proto_id = proto,
		.src_addr = nodes[ROLE_SENDER].cfg->inner.address.addr,
		.dst_addr = nodes[ROLE_RECEIVER].cfg->inner.address.addr,
	};
	ip->hdr_checksum = rte_ipv4_cksum(ip);
}

/* The inner frame the sender's kernel would write on its TAP: to the
 * receiver's virtual IP, UDP, a byte pattern as payload. */
static void
template_make(struct bench *b, const struct node nodes[ROLE_COUNT],
	      uint16_t size)
{
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)b->tmpl;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	uint8_t *payload = (uint8_t *)(udp + 1);
	uint16_t i;

	b->size = size;
	inner_hdrs(nodes, eh, size, IPPROTO_UDP);
	*udp = (struct rte_udp_hdr){
		.src_port = RTE_BE16(BENCH_INNER_SPORT),
		.dst_port = RTE_BE16(BENCH_INNER_DPORT),
		.dgram_len = rte_cpu_to_be_16((uint16_t)(size - BX_WIRE_IPV4_LEN)),
	};
	for (i = 0; i < size - BENCH_MIN_SIZE; i++)
		payload[i] = (uint8_t)(i * 7u + 1u);
}

/* Puts one round of inner frames on the sender's inner RX ring. */
static int
packets_load(struct bench *b)
{
	uint16_t len = (uint16_t)(BX_WIRE_ETH_LEN + b->size);
	unsigned i;

	if (rte_pktmbuf_alloc_bulk(b->pool, b->pkts, BENCH_ROUND_PKTS) != 0) {
		snprintf(b->err, sizeof(b->err), "no mbufs for a round");
		return -ENOMEM;
	}
	for (i = 0; i < BENCH_ROUND_PKTS; i++)
		memcpy(rte_pktmbuf_append(b->pkts[i], len), b->tmpl, len);
	rte_ring_sp_enqueue_bulk(b->link_inner, (void **)b->pkts,
				 BENCH_ROUND_PKTS, NULL);
	return 0;
}

/* Frees every mbuf left on any ring. */
static void
packets_drain(struct bench *b)
{
	struct rte_ring *rings[] = { b->link_inner, b->link_underlay, b->idle,
				     b->stray };
	unsigned i, n;

	for (i = 0; i < BX_ARRAY_SIZE(rings); i++)
		while ((n = rte_ring_sc_dequeue_burst(rings[i], (void **)b->pkts,
						      BENCH_ROUND_PKTS, NULL)) != 0)
			rte_pktmbuf_free_bulk(b->pkts, n);
}

/* Pair @i's inner IP header: the template's, with its addresses. */
static void
pair_ip_hdr(const struct bench *b, const struct node nodes[ROLE_COUNT],
	    uint32_t i, struct rte_ipv4_hdr *ip)
{
	memcpy(ip, b->tmpl + BX_WIRE_ETH_LEN, sizeof(*ip));
	ip->src_addr = pair_vip(nodes, ROLE_SENDER, i);
	ip->dst_addr = pair_vip(nodes, ROLE_RECEIVER, i);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
}

/* True if the b->size bytes at @pkt are pair @i's inner packet. */
static bool
inner_is(const struct bench *b, const struct node nodes[ROLE_COUNT],
	 uint32_t i, const uint8_t *pkt)
{
	const size_t hl = sizeof(struct rte_ipv4_hdr);
	struct rte_ipv4_hdr want;

	pair_ip_hdr(b, nodes, i, &want);
	return memcmp(pkt, &want, hl) == 0 &&
	       memcmp(pkt + hl, b->tmpl + BX_WIRE_ETH_LEN + hl, b->size - hl) == 0;
}

/* The pair of packet @k of the round in flight. */
static uint32_t
pkt_pair(const struct bench *b, uint32_t k)
{
	return (uint32_t)(((uint64_t)b->first_pair + k) % b->active);
}

/* What packets_retarget, on the worker lcore, works on. */
struct retarget {
	struct bench *b;
	const struct node *nodes;
};

/*
 * Runs on the worker lcore before a scale round: the round's inner
 * packets (on link_inner) get the addresses of their pairs. There, and
 * not on the main lcore, so the worker finds them in its own cache as it
 * does after any round, and the timed round pays nothing for it.
 */
static int
packets_retarget(void *arg)
{
	const struct retarget *rt = arg;
	struct bench *b = rt->b;
	unsigned k, n;

	n = rte_ring_sc_dequeue_bulk(b->link_inner, (void **)b->pkts,
				     BENCH_ROUND_PKTS, NULL);
	for (k = 0; k < n; k++)
		pair_ip_hdr(b, rt->nodes, pkt_pair(b, k),
			    rte_pktmbuf_mtod_offset(b->pkts[k],
						    struct rte_ipv4_hdr *,
						    BX_WIRE_ETH_LEN));
	rte_ring_sp_enqueue_bulk(b->link_inner, (void **)b->pkts, n, NULL);
	return n == BENCH_ROUND_PKTS ? 0 : -EPROTO;
}

static int
round_retarget(struct bench *b, const struct node nodes[ROLE_COUNT])
{
	struct retarget rt = { b, nodes };
	int rc;

	rc = rte_eal_remote_launch(packets_retarget, &rt, BENCH_WORKER_LCORE);
	if (rc == 0)
		rc = rte_eal_wait_lcore(BENCH_WORKER_LCORE);
	if (rc != 0)
		snprintf(b->err, sizeof(b->err), "readdressing a round: %s",
			 strerror(-rc));
	return rc;
}

/* Sealed datagrams on link_underlay (looked at in place, ring order
 * kept): well-formed outer headers with valid checksums, addressed to the
 * receiver through its pair's next hop, each with its pair's session
 * index and that pair's next counter, no plaintext. */
static int
check_sealed(struct bench *b, const struct node nodes[ROLE_COUNT])
{
	const struct node *rx = &nodes[ROLE_RECEIVER], *tx = &nodes[ROLE_SENDER];
	unsigned k, n;
	int rc = 0;

	n = rte_ring_sc_dequeue_bulk(b->link_underlay, (void **)b->pkts,
				     BENCH_ROUND_PKTS, NULL);
	for (k = 0; k < n; k++) {
		const struct rte_mbuf *m = b->pkts[k];
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
		const struct rte_ether_hdr *eh = (const struct rte_ether_hdr *)f;
		const uint32_t i = pkt_pair(b, k);
		struct bx_wire_udp_view v;
		struct bx_wire_info info;

		if (m->nb_segs != 1 || m->data_len != b->size + BX_WIRE_OVERHEAD ||
		    bx_wire_outer_parse(f, m->data_len, true, &v) != BX_DROP_NONE ||
		    (APP_NH_VALID | mac_pack(&eh->dst_addr)) !=
			    pair_nh(ROLE_RECEIVER, i) ||
		    !rte_is_same_ether_addr(&eh->src_addr, &tx->ports.underlay_mac) ||
		    v.dst_ip != rx->cfg->underlay.address.addr ||
		    v.src_ip != tx->cfg->underlay.address.addr ||
		    v.dst_port != RTE_BE16(BENCH_MESH_PORT) ||
		    v.src_port != RTE_BE16(BENCH_MESH_PORT) ||
		    v.payload_len != b->size + BX_WIRE_HDR_LEN + BX_WIRE_AEAD_TAG_LEN ||
		    bx_wire_decode(f + v.payload_off, v.payload_len, &info) !=
			    BX_DROP_NONE ||
		    info.type != BX_WIRE_DATA ||
		    info.rx_index != rx->sess[i]->rx_index ||
		    /* The pair's earlier packets of this round are k - N, k - 2N.. */
		    info.counter != b->sent[i] + k / b->active ||
		    inner_is(b, nodes, i, f + v.payload_off + BX_WIRE_HDR_LEN))
			break;
	}
	if (n != BENCH_ROUND_PKTS || k != n) {
		snprintf(b->err, sizeof(b->err),
			 "egress: datagram %u of %u is not what was sent", k, n);
		rc = -EPROTO;
	}
	rte_ring_sp_enqueue_bulk(b->link_underlay, (void **)b->pkts, n, NULL);
	return rc;
}

/* Opened frames on link_inner: to the receiver's kernel from the proxy
 * MAC, each its pair's inner packet exactly as the sender's kernel wrote
 * it. */
static int
check_opened(struct bench *b, const struct node nodes[ROLE_COUNT])
{
	const struct rte_ether_addr proxy = { .addr_bytes = APP_PROXY_MAC };
	const struct node *rx = &nodes[ROLE_RECEIVER];
	unsigned k, n;
	int rc = 0;

	n = rte_ring_sc_dequeue_bulk(b->link_inner, (void **)b->pkts,
				     BENCH_ROUND_PKTS, NULL);
	for (k = 0; k < n; k++) {
		const struct rte_mbuf *m = b->pkts[k];
		const struct rte_ether_hdr *eh =
			rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);

		if (m->nb_segs != 1 || m->data_len != BX_WIRE_ETH_LEN + b->size ||
		    !rte_is_same_ether_addr(&eh->dst_addr, &rx->ports.inner_kernel_mac) ||
		    !rte_is_same_ether_addr(&eh->src_addr, &proxy) ||
		    eh->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
		    !inner_is(b, nodes, pkt_pair(b, k), (const uint8_t *)(eh + 1)))
			break;
	}
	if (n != BENCH_ROUND_PKTS || k != n) {
		snprintf(b->err, sizeof(b->err),
			 "ingress: packet %u of %u is not the one sealed", k, n);
		rc = -EPROTO;
	}
	rte_ring_sp_enqueue_bulk(b->link_inner, (void **)b->pkts, n, NULL);
	return rc;
}

/* A round pair went through: its packets are counted to their pairs; the
 * next spread round starts with the next pair in line. */
static void
pairs_account(struct bench *b)
{
	uint32_t k;

	for (k = 0; k < BENCH_ROUND_PKTS; k++)
		b->sent[pkt_pair(b, k)]++;
	if (b->active == b->n_pairs)
		b->first_pair = pkt_pair(b, BENCH_ROUND_PKTS);
}

/*
 * After a size: what each pair was sent is what its own session sealed
 * (its counter) and what each node counted for its peer (per-peer
 * counters), so no packet went to or came from another pair's peer. The
 * workers are stopped.
 */
static int
pairs_check(struct bench *b, const struct node nodes[ROLE_COUNT])
{
	const struct node *tx = &nodes[ROLE_SENDER], *rx = &nodes[ROLE_RECEIVER];
	uint32_t i;

	for (i = 0; i < b->n_pairs; i++) {
		uint64_t sealed = __atomic_load_n(&tx->sess[i]->tx_counter,
						  __ATOMIC_RELAXED);
		uint64_t out = tx->w.peer_ctr[tx->peer_idx[i]].tx_packets;
		uint64_t in = rx->w.peer_ctr[rx->peer_idx[i]].rx_packets;

		if (sealed != b->sent[i] || out != b->sent[i] || in != b->sent[i]) {
			snprintf(b->err, sizeof(b->err),
				 "pair %" PRIu32 ": %" PRIu64 " packets sent, "
				 "%" PRIu64 " sealed, %" PRIu64 " counted out, "
				 "%" PRIu64 " counted in", i, b->sent[i], sealed,
				 out, in);
			return -EPROTO;
		}
	}
	return 0;
}

/* ---- rounds ----------------------------------------------------------- */

static int
stats_check(struct bench *b, const struct node *n,
	    const struct bx_stats_lcore *before, enum dir d)
{
	struct bx_stats_lcore after;
	size_t len;
	unsigned i;

	bx_stats_sum(n->stats, &after);
	if (after.counter[BX_STAT_RX_DROPPED] == 0 &&
	    after.counter[BX_STAT_TX_DROPPED] == 0) {
		if (after.counter[dirs[d].in] - before->counter[dirs[d].in] ==
			    BENCH_ROUND_PKTS &&
		    after.counter[dirs[d].out] - before->counter[dirs[d].out] ==
			    BENCH_ROUND_PKTS)
			return 0;
		snprintf(b->err, sizeof(b->err),
			 "%s: %s moved by %" PRIu64 " and %s by %" PRIu64
			 ", expected %u each",
			 dirs[d].name, bx_stats_counter_name(dirs[d].in),
			 after.counter[dirs[d].in] - before->counter[dirs[d].in],
			 bx_stats_counter_name(dirs[d].out),
			 after.counter[dirs[d].out] - before->counter[dirs[d].out],
			 BENCH_ROUND_PKTS);
		return -EPROTO;
	}
	len = (size_t)snprintf(b->err, sizeof(b->err), "%s: the worker dropped:",
			       dirs[d].name);
	for (i = BX_DROP_NONE + 1; i < BX_DROP__COUNT && len < sizeof(b->err); i++)
		if (after.drop[i] != 0)
			len += (size_t)snprintf(b->err + len, sizeof(b->err) - len,
						" %s %" PRIu64,
						bx_drop_name((enum bx_drop_reason)i),
						after.drop[i]);
	return -EPROTO;
}

/* True if the worker of @n dropped packets since @before. */
static bool
worker_dropped(const struct node *n, const struct bx_stats_lcore *before)
{
	struct bx_stats_lcore now;

	bx_stats_sum(n->stats, &now);
	return now.counter[BX_STAT_RX_DROPPED] != before->counter[BX_STAT_RX_DROPPED] ||
	       now.counter[BX_STAT_TX_DROPPED] != before->counter[BX_STAT_TX_DROPPED];
}

/* Launches node @n's worker loop on the worker lcore; it runs until
 * n->running is cleared. */
static int
worker_launch(struct bench *b, struct node *n)
{
	int rc;

	n->w.rc = 0;
	n->w.exited = false;
	n->running = true;
	rc = rte_eal_remote_launch(app_worker_main, &n->w, BENCH_WORKER_LCORE);
	if (rc != 0)
		snprintf(b->err, sizeof(b->err), "cannot launch the worker: %s",
			 strerror(-rc));
	return rc;
}

/*
 * One round in direction @d: the worker of the node measured in @d takes
 * the round's packets from its input ring until all are on its output
 * ring, then stops. *@cycles is the worker's TSC interval.
 */
static int
round_run(struct bench *b, struct node nodes[ROLE_COUNT], enum dir d,
	  uint64_t *cycles)
{
	static const struct timespec poll = { 0, BENCH_POLL_NS };
	struct node *n = &nodes[d == DIR_EGRESS ? ROLE_SENDER : ROLE_RECEIVER];
	struct rte_ring *in = d == DIR_EGRESS ? b->link_inner : b->link_underlay;
	struct rte_ring *out = d == DIR_EGRESS ? b->link_underlay : b->link_inner;
	struct bx_stats_lcore before;
	uint64_t deadline, stall, now;
	int rc, wrc;

	memset(&n->probe, 0, sizeof(n->probe));
	bx_stats_sum(n->stats, &before);
	rc = worker_launch(b, n);
	if (rc != 0)
		return rc;
	now = rte_rdtsc();
	deadline = now + (uint64_t)(BENCH_ROUND_TIMEOUT_S * b->tsc_hz);
	stall = now + (uint64_t)(BENCH_ROUND_STALL_S * b->tsc_hz);
	while (!__atomic_load_n(&n->probe.done, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&n->w.exited, __ATOMIC_ACQUIRE) && now < deadline &&
	       (now < stall || !worker_dropped(n, &before))) {
		nanosleep(&poll, NULL);
		now = rte_rdtsc();
	}
	__atomic_store_n(&n->running, false, __ATOMIC_RELAXED);
	wrc = rte_eal_wait_lcore(BENCH_WORKER_LCORE);
	if (wrc != 0 || n->w.rc != 0) {
		snprintf(b->err, sizeof(b->err), "the worker stopped: %s",
			 strerror(-(wrc != 0 ? wrc : n->w.rc)));
		return -EIO;
	}
	rc = stats_check(b, n, &before, d);
	if (rc != 0)
		return rc;
	if (!n->probe.done || rte_ring_count(out) != BENCH_ROUND_PKTS ||
	    rte_ring_count(in) != 0 || rte_ring_count(b->stray) != 0) {
		snprintf(b->err, sizeof(b->err),
			 "%s: %u of %u packets out, %u left in, %u elsewhere",
			 dirs[d].name, rte_ring_count(out), BENCH_ROUND_PKTS,
			 rte_ring_count(in), rte_ring_count(b->stray));
		return -EPROTO;
	}
	*cycles = n->probe.t_last - n->probe.t_first;
	return 0;
}

/* An egress round then an ingress round (scale rounds readdressed
 * first); @check looks at every byte. */
static int
round_pair(struct bench *b, struct node nodes[ROLE_COUNT], bool check,
	   uint64_t cycles[DIR_COUNT])
{
	int rc = 0;

	if (b->spread)
		rc = round_retarget(b, nodes);
	if (rc == 0)
		rc = round_run(b, nodes, DIR_EGRESS, &cycles[DIR_EGRESS]);
	if (rc == 0 && check)
		rc = check_sealed(b, nodes);
	if (rc == 0)
		rc = round_run(b, nodes, DIR_INGRESS, &cycles[DIR_INGRESS]);
	if (rc == 0 && check)
		rc = check_opened(b, nodes);
	if (rc == 0)
		pairs_account(b);
	return rc;
}

/*
 * A round pair spread over every pair; in a scale run, then one whose
 * every packet goes to pair 0, with the same nodes and tables: the 1-peer
 * figure, measured next to the spread one so that both see the same
 * machine (it is shared: a baseline taken a minute apart is noise).
 */
static int
round_pairs(struct bench *b, struct node nodes[ROLE_COUNT], bool check,
	    uint64_t spread[DIR_COUNT], uint64_t single[DIR_COUNT])
{
	int rc;

	b->active = b->n_pairs;
	rc = round_pair(b, nodes, check, spread);
	if (rc == 0 && b->spread) {
		b->active = 1;
		rc = round_pair(b, nodes, check, single);
		b->active = b->n_pairs;
	}
	return rc;
}

/* ---- the ceiling: perf/crypto-bench, run from here --------------------- */

/* crypto-bench's best Gbps over its back ends for @cipher and @size, seal
 * and open. */
static int
ceiling_parse(struct bench *b, char *out, enum bx_crypto_cipher cipher,
	      uint16_t size, double gbps[DIR_COUNT])
{
	char *line, *save = NULL;
	unsigned found = 0, d;

	for (line = strtok_r(out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *c, *be, *op;
		json_t *o = json_loads(line, 0, NULL);
		double g;
		int sz;

		if (o != NULL &&
		    json_unpack(o, "{s:s, s:s, s:s, s:i, s:F}", "cipher", &c,
				"backend", &be, "op", &op, "size", &sz, "gbps", &g) == 0 &&
		    strcmp(c, bx_crypto_cipher_name(cipher)) == 0 && sz == size) {
			/* The ceiling is the best back end's, per op. */
			for (d = 0; d < DIR_COUNT; d++) {
				if (strcmp(op, dirs[d].op) == 0 &&
				    (!(found & (1u << d)) || g > gbps[d])) {
					gbps[d] = g;
					found |= 1u << d;
				}
			}
		}
		json_decref(o);
	}
	if (found != (1u << DIR_COUNT) - 1) {
		snprintf(b->err, sizeof(b->err),
			 "crypto-bench printed no seal and open figures for %s, %u bytes",
			 bx_crypto_cipher_name(cipher), size);
		return -EPROTO;
	}
	return 0;
}

static int
ceiling_measure(struct bench *b, enum bx_crypto_cipher cipher, uint16_t size,
		double gbps[DIR_COUNT])
{
	char size_arg[16], secs_arg[32], out[BENCH_CEILING_OUT_MAX];
	char *argv[] = {
		b->crypto_bench, (char *)"--json", (char *)"--cipher",
		(char *)bx_crypto_cipher_name(cipher), (char *)"--size", size_arg,
		(char *)"--seconds", secs_arg, NULL,
	};
	posix_spawn_file_actions_t fa;
	size_t len = 0;
	ssize_t got;
	int pfd[2], status = 0, rc;
	pid_t pid;

	snprintf(size_arg, sizeof(size_arg), "%u", size);
	snprintf(secs_arg, sizeof(secs_arg), "%g", b->seconds);
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		rc = -errno;
		snprintf(b->err, sizeof(b->err), "pipe: %s", strerror(errno));
		return rc;
	}
	rc = posix_spawn_file_actions_init(&fa);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
	if (rc == 0)
		rc = posix_spawn(&pid, b->crypto_bench, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (rc != 0) {
		snprintf(b->err, sizeof(b->err), "cannot run crypto-bench: %s",
			 strerror(rc));
		close(pfd[0]);
		return -rc;
	}
	while ((got = read(pfd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)got;
	close(pfd[0]);
	out[len] = '\0';
	while ((rc = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (rc < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != 0) {
		snprintf(b->err, sizeof(b->err), "crypto-bench failed (status %d)",
			 status);
		return -EIO;
	}
	return ceiling_parse(b, out, cipher, size, gbps);
}

/* ---- figures ---------------------------------------------------------- */

static void
report(const struct bench *b, enum bx_crypto_cipher cipher, enum dir d,
       double round_cycles, double ceiling_gbps)
{
	double cpp = round_cycles / BENCH_ROUND_PKTS;
	double mpps = b->tsc_hz / cpp / 1e6;
	double gbps = mpps * b->size * 8.0 / 1e3;

	if (b->json)
		printf("{\"name\":\"fastpath\",\"cipher\":\"%s\",\"dir\":\"%s\","
		       "\"size\":%u,\"mpps\":%.3f,\"gbps\":%.3f,"
		       "\"cycles_per_pkt\":%.1f,\"ceiling_gbps\":%.3f,"
		       "\"ratio_to_ceiling\":%.3f}\n",
		       bx_crypto_cipher_name(cipher), dirs[d].name, b->size, mpps,
		       gbps, cpp, ceiling_gbps, gbps / ceiling_gbps);
	else
		printf("%-18s %-8s %5u %9.2f %9.2f %11.1f %13.2f %6.2f\n",
		       bx_crypto_cipher_name(cipher), dirs[d].name, b->size, mpps,
		       gbps, cpp, ceiling_gbps, gbps / ceiling_gbps);
	fflush(stdout);
}

/* Position of @cipher in all_ciphers. */
static size_t
cipher_slot(enum bx_crypto_cipher cipher)
{
	size_t i;

	for (i = 0; i < BX_ARRAY_SIZE(all_ciphers) - 1; i++)
		if (all_ciphers[i] == cipher)
			break;
	return i;
}

/* One scale figure: @cpp spread over the N peers, @one all to one of
 * them; ratio = @one / @cpp. */
static void
report_scale(const struct bench *b, enum bx_crypto_cipher cipher, enum dir d,
	     double cpp, double one)
{
	const char *c = bx_crypto_cipher_name(cipher);
	double mpps = b->tsc_hz / cpp / 1e6;

	if (b->json) {
		printf("{\"name\":\"fastpath.%s.%s.%u.peers%" PRIu32 "\","
		       "\"unit\":\"cycles/pkt\",\"value\":%.1f,\"ratio\":%.3f}\n",
		       c, dirs[d].name, b->size, b->n_pairs, cpp, one / cpp);
		printf("{\"name\":\"fastpath.%s.%s.%u.peers%" PRIu32 ".mpps\","
		       "\"unit\":\"Mpps\",\"value\":%.3f,\"ratio\":%.3f}\n",
		       c, dirs[d].name, b->size, b->n_pairs, mpps, one / cpp);
	} else {
		printf("%-18s %-8s %5u %7" PRIu32 " %9.2f %11.1f %11.1f %6.2f\n",
		       c, dirs[d].name, b->size, b->n_pairs, mpps, cpp, one,
		       one / cpp);
	}
	fflush(stdout);
}

/* What a scale run's nodes took: b->heap_tables, made in @ns; per peer
 * and node over the tables with 1 peer. */
static void
report_setup(const struct bench *b, enum bx_crypto_cipher cipher, uint64_t ns)
{
	const char *c = bx_crypto_cipher_name(cipher);
	const size_t heap = b->heap_tables, one = b->heap_one[cipher_slot(cipher)];
	double per_peer = 0.0;

	if (b->n_pairs > 1 && one > 0 && heap > one)
		per_peer = (double)(heap - one) / (b->n_pairs - 1u) / ROLE_COUNT;
	if (b->json) {
		if (per_peer > 0.0)
			printf("{\"name\":\"fastpath.%s.peers%" PRIu32
			       ".heap_per_peer\",\"unit\":\"bytes\","
			       "\"value\":%.0f,\"ratio\":null}\n",
			       c, b->n_pairs, per_peer);
	} else {
		printf("# %s, %" PRIu32 " peers per node: set up in %.2f s; "
		       "both nodes' tables %.1f MiB of DPDK heap", c, b->n_pairs,
		       (double)ns / BENCH_NS_PER_S, (double)heap / BENCH_MB);
		if (per_peer > 0.0)
			printf(", %.2f KiB per peer and node", per_peer / 1024.0);
		printf("\n");
	}
	fflush(stdout);
}

/* Both directions at one size: warm-up, timed round pairs, a last check;
 * the first table's figures with the ceiling, or scale figures. */
static int
bench_size(struct bench *b, struct node nodes[ROLE_COUNT],
	   enum bx_crypto_cipher cipher, uint16_t size)
{
	const uint32_t rounds_per_visit =
		(b->n_pairs + BENCH_ROUND_PKTS - 1u) / BENCH_ROUND_PKTS;
	unsigned warmup = BENCH_WARMUP_ROUNDS;
	double ceiling[DIR_COUNT] = { 0.0, 0.0 }, cpp[DIR_COUNT], one[DIR_COUNT];
	uint64_t cycles[DIR_COUNT], single[DIR_COUNT], deadline;
	unsigned i, d;
	int rc = 0;

	/* Every peer's state met twice before timing: at 10 000 peers that
	 * is more rounds than the 1-peer warm-up. */
	if (b->spread)
		warmup = RTE_MAX(warmup, BENCH_WARMUP_VISITS * rounds_per_visit);
	else
		rc = ceiling_measure(b, cipher, size, ceiling);
	if (rc != 0)
		return rc;
	template_make(b, nodes, size);
	rc = packets_load(b);
	for (i = 0; rc == 0 && i < warmup; i++)
		rc = round_pairs(b, nodes, i == 0, cycles, single);
	b->n_samples = 0;
	deadline = rte_rdtsc() + (uint64_t)(b->seconds * b->tsc_hz);
	while (rc == 0 && b->n_samples < b->cap) {
		rc = round_pairs(b, nodes, false, cycles, single);
		for (d = 0; rc == 0 && d < DIR_COUNT; d++) {
			b->samples[d][b->n_samples] = cycles[d];
			b->single[d][b->n_samples] = single[d];
		}
		b->n_samples += rc == 0;
		if (rte_rdtsc() >= deadline)
			break;
	}
	if (rc == 0)
		rc = round_pairs(b, nodes, true, cycles, single);
	if (rc == 0)
		rc = pairs_check(b, nodes);
	packets_drain(b);
	if (rc != 0)
		return rc;
	for (d = 0; d < DIR_COUNT; d++) {
		if (!b->report[d])
			continue;
		cpp[d] = bench_median(b->samples[d], b->n_samples) /
			 BENCH_ROUND_PKTS;
		if (b->spread) {
			one[d] = bench_median(b->single[d], b->n_samples) /
				 BENCH_ROUND_PKTS;
			report_scale(b, cipher, (enum dir)d, cpp[d], one[d]);
		} else {
			report(b, cipher, (enum dir)d, cpp[d] * BENCH_ROUND_PKTS,
			       ceiling[d]);
		}
	}
	return 0;
}

/* ---- Critical-lane latency -------------------------------------------- */

/* The Critical packets' mbufs carry their time stamps. */
struct crit_stamp {
	uint64_t in;  /* TSC: the main lcore put it on the input ring */
	uint64_t out; /* TSC: the worker handed it to the output port */
};

static struct crit_stamp *
crit_stamp(struct rte_mbuf *m)
{
	return rte_mbuf_to_priv(m);
}

/* The classifier's lanes, and BX_LANE_COUNT for a packet it drops. */
static const char *const lane_name[BX_LANE_COUNT + 1] = {
	[BX_LANE_CRITICAL] = "critical",
	[BX_LANE_TELEMETRY] = "telemetry",
	[BX_LANE_BULK] = "bulk",
	[BX_LANE_COUNT] = "dropped",
};

/* The lane node @n's worker puts the inner frame @f (a @size-byte IP
 * packet) on: its classifier with its rules (the bench's configs carry
 * none: the default policy). */
static enum bx_wire_lane
frame_lane(const struct node *n, const uint8_t *f, uint16_t size)
{
	enum bx_wire_lane lane;

	if (bx_classify_packet(app_policy_rules(&n->policy), f + BX_WIRE_ETH_LEN,
			       size, &lane) != BX_DROP_NONE)
		return BX_LANE_COUNT;
	return lane;
}

enum crit_phase { CRIT_IDLE, CRIT_LOADED, CRIT_FIFO, CRIT_SATURATED, CRIT_PHASES };

/* The saturated phase offers Bulk this much above what the worker sealed
 * strictly FIFO at the line rate (its capacity): a stream that fills the
 * tunnel and a bit more, as a video encoder or a TCP flow keeps it full,
 * rather than a line forty times over it. */
#define BENCH_CRIT_SATURATE 1.2

/*
 * The line's Bulk reaches the input ring as the main lcore, the NIC model,
 * goes round its loop. When it comes back after a longer gap than this
 * (its vCPU taken away: the machine is shared), the Bulk of the rest of
 * the gap lapses instead of landing on the ring at once: a line does not
 * pause and then burst with the CPU that models it, and such a dump would
 * put up to a full ring of Bulk ahead of the next Critical packet, a wait
 * the worker itself never caused (measured: the Critical packets that
 * took over 300 us under saturated load had found the ring ~900 deep).
 * What lapsed is printed per phase and not counted as offered.
 */
#define BENCH_FEED_GAP_US 50u

/* Per phase: its name in the figures, whether the Bulk load runs, whether
 * the worker has its lanes (without, it is strictly FIFO: as before), and
 * whether Bulk comes at the line rate or at BENCH_CRIT_SATURATE times the
 * FIFO phase's (which runs before it). */
static const struct {
	const char *name;
	bool bulk;
	bool lanes;
	bool saturate;
} crit_phases[CRIT_PHASES] = {
	[CRIT_IDLE] = { "idle", false, true, false },
	[CRIT_LOADED] = { "loaded", true, true, false },
	[CRIT_FIFO] = { "fifo.loaded", true, false, false },
	[CRIT_SATURATED] = { "saturated", true, true, true },
};

/* What a phase measured. */
struct crit_result {
	double p50, p90, p99, max; /* us */
	size_t n;             /* Critical packets measured */
	double ahead;         /* mean packets on the input ring before one */
	double bulk_mpps;     /* Bulk sealed in the measured window */
	double bulk_gbps;     /* of inner IP bytes, as the first table */
	uint64_t offered;     /* Bulk offered at the line rate */
	uint64_t refused;     /* of that, what the input ring had no room for */
	uint64_t lane_full;   /* the worker's lane_bulk_full */
	uint64_t skipped;     /* Critical packets due but not sent */
	uint64_t lapsed;      /* Bulk of the line lost in the feeder's gaps */
};

/*
 * The main lcore in a phase: it plays the NIC on both sides of the
 * worker. A free Bulk mbuf holds the inner frame already: the pool's are
 * filled before the phases (bulk_prefill), one the worker drops at its
 * Bulk lane comes back untouched (classifying only reads), and a sealed
 * one (sealing works in place) is filled again as it is drained. So this
 * lcore copies frames at the rate the worker seals, not at the rate it
 * reads: one that reads ahead of a full lane and drops there takes
 * several times what it seals, more than a core copies.
 */
struct feed {
	struct bench *b;
	const struct node *n;
	struct bx_stats_lcore before; /* the worker's counters at the start */
	bool bulk;
	uint64_t t_start;         /* TSC */
	uint64_t t_measure;       /* measured from here... */
	uint64_t t_end;           /* ...to here, then drained */
	uint64_t period;          /* cycles between Critical packets */
	uint64_t next_crit;
	double offer_per_cycle;   /* Bulk packets the line offers per cycle */
	struct rte_mbuf *pending; /* a Critical packet the ring refused, stamped */
	uint64_t crit_sent;
	uint64_t crit_out;
	uint64_t crit_skipped;
	uint64_t offered;         /* the line's Bulk so far, lapsed included */
	uint64_t lapsed;          /* of that, in this lcore's gaps (feed_bulk) */
	uint64_t gap_max;         /* Bulk the line offers in BENCH_FEED_GAP_US */
	uint64_t refused;
	uint64_t accepted;
	uint64_t bulk_out;        /* Bulk datagrams out */
	uint64_t bulk_measured;   /* of those, drained in the measured window */
	uint64_t ahead_sum;
	uint64_t ahead_n;
	size_t n_lat;
	struct rte_mbuf *stash[BENCH_FEED_BURST]; /* sealed Bulk, to refill */
	unsigned n_stash;
	int rc;
};

/* The Critical packet: an ICMP echo request from the sender's kernel to
 * the receiver's virtual IP, as ping sends it. */
static void
crit_template_make(struct bench *b, const struct node nodes[ROLE_COUNT])
{
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)b->crit_tmpl;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)(ip + 1);
	uint8_t *data = (uint8_t *)(icmp + 1);
	uint16_t ck;
	size_t i;

	inner_hdrs(nodes, eh, BENCH_CRIT_SIZE, IPPROTO_ICMP);
	*icmp = (struct rte_icmp_hdr){
		.icmp_type = RTE_IP_ICMP_ECHO_REQUEST,
		.icmp_ident = RTE_BE16(BENCH_CRIT_ICMP_ID),
		.icmp_seq_nb = RTE_BE16(1),
	};
	for (i = 0; i < BENCH_CRIT_ICMP_DATA; i++)
		data[i] = (uint8_t)i;
	ck = rte_raw_cksum(icmp, BENCH_CRIT_SIZE - BX_WIRE_IPV4_LEN);
	icmp->icmp_cksum = ck == UINT16_MAX ? ck : (uint16_t)~ck;
}

/* The section's two packets are on the lanes it is about, by the
 * classifier the worker runs: else its figures would mean nothing. */
static int
crit_lanes_check(struct bench *b, const struct node *n)
{
	enum bx_wire_lane crit = frame_lane(n, b->crit_tmpl, BENCH_CRIT_SIZE);
	enum bx_wire_lane bulk = frame_lane(n, b->tmpl, b->size);

	if (crit == BX_LANE_CRITICAL && bulk == BX_LANE_BULK)
		return 0;
	snprintf(b->err, sizeof(b->err), "critical section: the ICMP echo goes "
		 "on the %s lane, the %u-byte UDP packet on the %s lane",
		 lane_name[crit], b->size, lane_name[bulk]);
	return -EPROTO;
}

/*
 * TX callback on the sender's underlay port in the Critical section,
 * on the worker lcore: when it hands a sealed Critical packet to the port
 * (sealing works in place: the mbuf is the one the main lcore stamped).
 */
static uint16_t
crit_tx(uint16_t port __rte_unused, uint16_t queue __rte_unused,
	struct rte_mbuf *pkts[], uint16_t n, void *arg)
{
	const struct rte_mempool *crit_pool = arg;
	uint64_t now = 0;
	uint16_t i;

	for (i = 0; i < n; i++) {
		if (pkts[i]->pool != crit_pool)
			continue;
		if (now == 0)
			now = rte_rdtsc();
		crit_stamp(pkts[i])->out = now;
	}
	return n;
}

static void
feed_fail(struct feed *f, int rc, const char *what)
{
	if (f->rc != 0)
		return;
	f->rc = rc;
	snprintf(f->b->err, sizeof(f->b->err), "%s", what);
}

/* A sealed Critical packet: a Critical datagram, its latency kept if it
 * entered the ring in the measured window. */
static void
feed_crit_out(struct feed *f, struct rte_mbuf *m)
{
	const struct crit_stamp *st = crit_stamp(m);
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	struct bx_wire_udp_view v;
	struct bx_wire_info info;

	f->crit_out++;
	if (m->nb_segs != 1 ||
	    bx_wire_outer_parse(p, m->data_len, true, &v) != BX_DROP_NONE ||
	    bx_wire_decode(p + v.payload_off, v.payload_len, &info) != BX_DROP_NONE ||
	    info.lane != BX_LANE_CRITICAL || st->out < st->in)
		feed_fail(f, -EPROTO, "a Critical packet came out as no sealed "
			  "Critical datagram, or unstamped");
	else if (st->in >= f->t_measure && f->n_lat < f->b->lat_cap)
		f->b->lat[f->n_lat++] = st->out - st->in;
	rte_pktmbuf_free(m);
}

/*
 * Takes all the worker sent: Critical packets measured and freed, Bulk
 * ones counted, filled with the inner frame again and kept to be offered.
 * All, not a burst: while this lcore refills the input, the worker keeps
 * sealing, and an output drained slower than that would fill up and drop.
 */
static void
feed_drain(struct feed *f, uint64_t now)
{
	const size_t len = BX_WIRE_ETH_LEN + f->b->size;
	struct rte_mbuf *out[BENCH_FEED_BURST];
	unsigned n, i, bulk = 0;

	do {
		n = rte_ring_sc_dequeue_burst(f->b->link_underlay, (void **)out,
					      BENCH_FEED_BURST, NULL);
		for (i = 0; i < n; i++) {
			if (out[i]->pool == f->b->crit_pool) {
				feed_crit_out(f, out[i]);
				continue;
			}
			bulk++;
			rte_pktmbuf_reset(out[i]);
			memcpy(rte_pktmbuf_mtod(out[i], void *), f->b->tmpl, len);
			if (f->n_stash < BENCH_FEED_BURST)
				f->stash[f->n_stash++] = out[i];
			else
				rte_pktmbuf_free(out[i]);
		}
	} while (n == BENCH_FEED_BURST);
	f->bulk_out += bulk;
	if (now >= f->t_measure && now < f->t_end)
		f->bulk_measured += bulk;
}

/*
 * With @due, a new Critical packet if one is due at @now; then the one
 * pending, if any, onto the input ring. Stamped when first offered: the
 * moment a NIC would have received it, so a wait for room counts.
 */
static void
feed_critical(struct feed *f, uint64_t now, bool due)
{
	struct bench *b = f->b;
	struct rte_mbuf *m;
	unsigned ahead;

	if (due && now >= f->next_crit) {
		f->next_crit += f->period;
		/* After a lost core, the next one a period on: no catch-up
		 * burst of them. */
		if (f->next_crit <= now)
			f->next_crit = now + f->period;
		m = f->pending == NULL ? rte_pktmbuf_alloc(b->crit_pool) : NULL;
		if (m == NULL) {
			f->crit_skipped++;
		} else {
			memcpy(rte_pktmbuf_append(m, sizeof(b->crit_tmpl)),
			       b->crit_tmpl, sizeof(b->crit_tmpl));
			crit_stamp(m)->out = 0;
			crit_stamp(m)->in = rte_rdtsc();
			f->pending = m;
			f->crit_sent++;
		}
	}
	if (f->pending == NULL)
		return;
	ahead = rte_ring_count(b->link_inner);
	if (rte_ring_sp_enqueue(b->link_inner, f->pending) != 0)
		return;
	f->pending = NULL;
	if (now >= f->t_measure) {
		f->ahead_sum += ahead;
		f->ahead_n++;
	}
}

/*
 * The Bulk load: what the line offered since the start and not yet
 * offered; the input ring takes what fits under the room kept for
 * Critical, the rest is refused (a NIC's missed packets). Drained mbufs
 * go first; each holds the frame already (see struct feed).
 */
static void
feed_bulk(struct feed *f, uint64_t now)
{
	const uint16_t len = (uint16_t)(BX_WIRE_ETH_LEN + f->b->size);
	const unsigned line = APP_RX_DESC - BENCH_CRIT_RESERVE;
	struct bench *b = f->b;
	struct rte_mbuf *pkts[BENCH_FEED_BURST];
	uint64_t want = (uint64_t)((double)(now - f->t_start) * f->offer_per_cycle);
	unsigned count = rte_ring_count(b->link_inner), put, k, got, i;

	if (want <= f->offered)
		return;
	want -= f->offered;
	f->offered += want;
	if (want > f->gap_max) {
		f->lapsed += want - f->gap_max;
		want = f->gap_max;
	}
	put = count < line ? (unsigned)RTE_MIN(want, (uint64_t)(line - count)) : 0;
	f->refused += want - put;
	for (; put > 0; put -= k) {
		k = RTE_MIN(put, BENCH_FEED_BURST);
		got = RTE_MIN(k, f->n_stash);
		f->n_stash -= got;
		memcpy(pkts, &f->stash[f->n_stash], got * sizeof(pkts[0]));
		if (got < k && rte_pktmbuf_alloc_bulk(b->pool, pkts + got, k - got) != 0) {
			rte_pktmbuf_free_bulk(pkts, got);
			feed_fail(f, -ENOMEM, "the mbuf pool ran dry: packets are "
				  "held where none should be");
			return;
		}
		for (i = 0; i < k; i++)
			rte_pktmbuf_append(pkts[i], len);
		/* This lcore is the ring's only producer: the room is there. */
		rte_ring_sp_enqueue_bulk(b->link_inner, (void **)pkts, k, NULL);
		f->accepted += k;
	}
}

/* Packets in @w's lanes (none without lanes). */
static unsigned
lanes_held(const struct app_worker *w)
{
	unsigned lane, n = 0;

	if (w->lanes == NULL)
		return 0;
	for (lane = 0; lane < BX_LANE_COUNT; lane++)
		n += bx_lanes_count(w->lanes, (enum bx_wire_lane)lane);
	return n;
}

/* True while packets of the phase are on their way: one pending, some on
 * the input ring or in the lanes, or taken by the worker and neither sent
 * nor dropped yet (a drop ends the wait: crit_account names it). */
static bool
feed_busy(const struct feed *f)
{
	const uint64_t *c0 = f->before.counter;
	struct bx_stats_lcore now;

	if (f->pending != NULL || rte_ring_count(f->b->link_inner) != 0 ||
	    lanes_held(&f->n->w) != 0)
		return true;
	bx_stats_sum(f->n->stats, &now);
	return now.counter[BX_STAT_INNER_RX_PACKETS] - c0[BX_STAT_INNER_RX_PACKETS] !=
	       now.counter[BX_STAT_TX_PACKETS] - c0[BX_STAT_TX_PACKETS] +
		       now.counter[BX_STAT_TX_DROPPED] - c0[BX_STAT_TX_DROPPED];
}

/* Nearest-rank @pct-th percentile of the sorted @s[0..@n), in us. */
static double
pct_us(const struct bench *b, const uint64_t *s, size_t n, unsigned pct)
{
	size_t rank = (pct * n + BENCH_PCT - 1u) / BENCH_PCT;

	return (double)s[RTE_MAX(rank, (size_t)1) - 1] * BENCH_US_PER_S / b->tsc_hz;
}

static int
cmp_u64(const void *a, const void *b)
{
	const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/*
 * The worker's counters over a phase: every packet it took is out or a
 * Bulk one dropped at its lane (lane_bulk_full, the one drop a load
 * beyond its rate may cause there); any other drop fails the run.
 */
static int
crit_account(struct bench *b, const struct feed *f, struct crit_result *res)
{
	const struct bx_stats_lcore *before = &f->before;
	struct bx_stats_lcore after;
	uint64_t d, in, out;
	size_t len = 0;
	unsigned i;

	bx_stats_sum(f->n->stats, &after);
	res->lane_full = after.drop[BX_DROP_LANE_BULK_FULL] -
			 before->drop[BX_DROP_LANE_BULK_FULL];
	for (i = BX_DROP_NONE + 1; i < BX_DROP__COUNT; i++) {
		d = after.drop[i] - before->drop[i];
		if (d == 0 || i == BX_DROP_LANE_BULK_FULL)
			continue;
		if (len == 0)
			len = (size_t)snprintf(b->err, sizeof(b->err),
					       "the worker dropped:");
		if (len < sizeof(b->err))
			len += (size_t)snprintf(b->err + len, sizeof(b->err) - len,
						" %s %" PRIu64,
						bx_drop_name((enum bx_drop_reason)i), d);
	}
	if (len != 0)
		return -EPROTO;
	in = after.counter[BX_STAT_INNER_RX_PACKETS] -
	     before->counter[BX_STAT_INNER_RX_PACKETS];
	out = after.counter[BX_STAT_TX_PACKETS] - before->counter[BX_STAT_TX_PACKETS];
	if (f->crit_out != f->crit_sent || in != f->crit_sent + f->accepted ||
	    out != f->crit_out + f->bulk_out || out + res->lane_full != in) {
		snprintf(b->err, sizeof(b->err), "%" PRIu64
			 " of %" PRIu64 " Critical packets out; the worker took %"
			 PRIu64 " of %" PRIu64 " packets, sent %" PRIu64 " (%"
			 PRIu64 " drained), dropped %" PRIu64 " at its Bulk lane",
			 f->crit_out, f->crit_sent, in, f->crit_sent + f->accepted,
			 out, f->crit_out + f->bulk_out, res->lane_full);
		return -EPROTO;
	}
	return 0;
}

/* The figures of a phase from its latencies and counts. */
static int
crit_figures(struct bench *b, const struct feed *f, struct crit_result *res)
{
	const double window_s = (double)(f->t_end - f->t_measure) / b->tsc_hz;

	if (f->n_lat == 0) {
		snprintf(b->err, sizeof(b->err), "no Critical packet measured");
		return -EPROTO;
	}
	qsort(b->lat, f->n_lat, sizeof(b->lat[0]), cmp_u64);
	res->n = f->n_lat;
	res->p50 = pct_us(b, b->lat, f->n_lat, 50u);
	res->p90 = pct_us(b, b->lat, f->n_lat, 90u);
	res->p99 = pct_us(b, b->lat, f->n_lat, 99u);
	res->max = pct_us(b, b->lat, f->n_lat, BENCH_PCT);
	res->ahead = f->ahead_n != 0 ? (double)f->ahead_sum / (double)f->ahead_n : 0.0;
	res->bulk_mpps = (double)f->bulk_measured / window_s / BENCH_US_PER_S;
	res->bulk_gbps = res->bulk_mpps * b->size * 8.0 / 1e3;
	res->offered = f->offered - f->lapsed;
	res->refused = f->refused;
	res->skipped = f->crit_skipped;
	res->lapsed = f->lapsed;
	return 0;
}

/* How long a phase lasts, in seconds. */
static double
crit_phase_s(const struct bench *b)
{
	return RTE_MIN(BENCH_CRIT_PHASE_FACTOR * b->seconds, BENCH_CRIT_MAX_PHASE_S);
}

/* Latencies a phase keeps at most: one per period of it. */
static size_t
crit_lat_cap(const struct bench *b)
{
	return (size_t)(crit_phase_s(b) * BENCH_NS_PER_S / BENCH_CRIT_PERIOD_NS) + 2u;
}

/*
 * One phase on node @n's worker, launched for it and running all along:
 * Critical packets every BENCH_CRIT_PERIOD_NS, with the Bulk load if the
 * phase has it; then nothing more offered until all is out, or the
 * round timeout.
 */
static int
crit_phase(struct bench *b, struct node *n, enum crit_phase ph,
	   const struct crit_result done[], struct crit_result *res)
{
	const double phase_s = crit_phase_s(b);
	struct feed f;
	uint64_t now, deadline;
	int rc, wrc;

	memset(&f, 0, sizeof(f));
	memset(res, 0, sizeof(*res));
	f.b = b;
	f.n = n;
	f.bulk = crit_phases[ph].bulk;
	f.period = (uint64_t)(BENCH_CRIT_PERIOD_NS * b->tsc_hz / BENCH_NS_PER_S);
	if (f.bulk)
		f.offer_per_cycle = BENCH_CRIT_OFFER_GBPS * 1e9 /
				    (b->size * 8.0) / b->tsc_hz;
	if (crit_phases[ph].saturate)
		f.offer_per_cycle = BENCH_CRIT_SATURATE * done[CRIT_FIFO].bulk_mpps *
				    1e6 / b->tsc_hz;
	f.gap_max = RTE_MAX((uint64_t)(f.offer_per_cycle * b->tsc_hz *
				       BENCH_FEED_GAP_US / BENCH_US_PER_S),
			    (uint64_t)BENCH_FEED_BURST);
	/* Fresh lanes, as bauxite-app makes them (the standing queue the
	 * throughput rounds turn off included), or none: strictly FIFO. */
	app_worker_lanes_free(&n->w);
	if (crit_phases[ph].lanes) {
		rc = app_worker_lanes_init(&n->w, nodes_desc[ROLE_SENDER].tag,
					   (int)rte_socket_id(),
					   n->cfg->replay_window, b->err,
					   sizeof(b->err));
		if (rc != 0)
			return rc;
	}
	bx_stats_sum(n->stats, &f.before);
	rc = worker_launch(b, n);
	if (rc != 0)
		return rc;
	f.t_start = rte_rdtsc();
	f.t_measure = f.t_start + (uint64_t)(BENCH_CRIT_WARMUP_S * b->tsc_hz);
	f.t_end = f.t_start + (uint64_t)(phase_s * b->tsc_hz);
	f.next_crit = f.t_start + f.period;
	for (now = f.t_start; now < f.t_end && f.rc == 0 &&
	     !__atomic_load_n(&n->w.exited, __ATOMIC_ACQUIRE); now = rte_rdtsc()) {
		feed_drain(&f, now);
		feed_critical(&f, now, true);
		if (f.bulk)
			feed_bulk(&f, now);
	}
	deadline = now + (uint64_t)(BENCH_ROUND_TIMEOUT_S * b->tsc_hz);
	while (f.rc == 0 && feed_busy(&f) && now < deadline &&
	       !__atomic_load_n(&n->w.exited, __ATOMIC_ACQUIRE)) {
		feed_drain(&f, now);
		feed_critical(&f, now, false);
		now = rte_rdtsc();
	}
	__atomic_store_n(&n->running, false, __ATOMIC_RELAXED);
	wrc = rte_eal_wait_lcore(BENCH_WORKER_LCORE);
	/* What it sent last. */
	feed_drain(&f, now);
	rte_pktmbuf_free_bulk(f.stash, f.n_stash);
	rte_pktmbuf_free(f.pending);
	if (wrc != 0 || n->w.rc != 0) {
		snprintf(b->err, sizeof(b->err), "the worker stopped: %s",
			 strerror(-(wrc != 0 ? wrc : n->w.rc)));
		return -EIO;
	}
	rc = f.rc;
	if (rc == 0)
		rc = crit_account(b, &f, res);
	if (rc == 0)
		rc = crit_figures(b, &f, res);
	return rc;
}

static void
crit_figure(const char *c, const char *what, const char *unit, double v)
{
	printf("{\"name\":\"fastpath.critical.%s.%s\",\"unit\":\"%s\","
	       "\"value\":%.3f,\"ratio\":null}\n", c, what, unit, v);
}

/* A cipher's phases: figures, or a table row each and the p99 added. */
static void
crit_report(const struct bench *b, enum bx_crypto_cipher cipher,
	    const struct crit_result res[CRIT_PHASES])
{
	static const char *const pct_name[] = { "p50", "p90", "p99", "max" };
	const char *c = bx_crypto_cipher_name(cipher);
	const double idle = res[CRIT_IDLE].p99;
	char what[64];
	unsigned ph, k;

	for (ph = 0; ph < CRIT_PHASES; ph++) {
		const struct crit_result *r = &res[ph];
		const double pct[] = { r->p50, r->p90, r->p99, r->max };

		if (!b->json) {
			printf("%-18s %-12s %8zu %8.2f %8.2f %8.2f %9.2f %7.1f", c,
			       crit_phases[ph].name, r->n, r->p50, r->p90, r->p99,
			       r->max, r->ahead);
			if (crit_phases[ph].bulk)
				printf(" %9.3f %9.2f %11" PRIu64 " %10" PRIu64
				       " %10" PRIu64 "\n", r->bulk_mpps,
				       r->bulk_gbps, r->offered, r->refused,
				       r->lane_full);
			else
				printf(" %9s %9s %11s %10s %10s\n", "-", "-", "-",
				       "-", "-");
			if (r->skipped != 0)
				printf("# %s %s: %" PRIu64 " Critical packets not "
				       "sent (the input ring or their pool full "
				       "of earlier ones)\n", c, crit_phases[ph].name,
				       r->skipped);
			if (r->lapsed != 0)
				printf("# %s %s: %" PRIu64 " Bulk packets of the "
				       "line lapsed in this lcore's gaps over %u us "
				       "(not offered)\n", c, crit_phases[ph].name,
				       r->lapsed, BENCH_FEED_GAP_US);
			continue;
		}
		for (k = 0; k < BX_ARRAY_SIZE(pct_name); k++) {
			snprintf(what, sizeof(what), "%s.%s", crit_phases[ph].name,
				 pct_name[k]);
			crit_figure(c, what, "us", pct[k]);
		}
		if (!crit_phases[ph].bulk)
			continue;
		snprintf(what, sizeof(what), "%s.bulk.mpps", crit_phases[ph].name);
		crit_figure(c, what, "Mpps", r->bulk_mpps);
		snprintf(what, sizeof(what), "%s.bulk.gbps", crit_phases[ph].name);
		crit_figure(c, what, "Gbps", r->bulk_gbps);
	}
	if (b->json) {
		crit_figure(c, "p99_added", "us", res[CRIT_LOADED].p99 - idle);
		crit_figure(c, "fifo.p99_added", "us", res[CRIT_FIFO].p99 - idle);
		crit_figure(c, "saturated.p99_added", "us",
			    res[CRIT_SATURATED].p99 - idle);
	} else {
		printf("# %s: p99 added by Bulk at the line rate %.2f us with the "
		       "lanes, %.2f us strictly FIFO; by Bulk at %.1fx the FIFO "
		       "capacity %.2f us (issue 9: within %.0f us)\n", c,
		       res[CRIT_LOADED].p99 - idle, res[CRIT_FIFO].p99 - idle,
		       BENCH_CRIT_SATURATE, res[CRIT_SATURATED].p99 - idle,
		       BENCH_CRIT_TARGET_US);
	}
	fflush(stdout);
}

/* rte_mempool_obj_iter callback: the Bulk frame where a pool mbuf's data
 * starts once allocated (rte_pktmbuf_reset: after the headroom). */
static void
bulk_prefill(struct rte_mempool *mp __rte_unused, void *arg, void *obj,
	     unsigned idx __rte_unused)
{
	const struct bench *b = arg;
	struct rte_mbuf *m = obj;

	memcpy((uint8_t *)m->buf_addr + RTE_PKTMBUF_HEADROOM, b->tmpl,
	       BX_WIRE_ETH_LEN + b->size);
}

/*
 * The Critical section on the sender of @nodes (1 peer): its worker's
 * egress, idle, loaded with its lanes and loaded without them.
 */
static int
critical_run(struct bench *b, struct node nodes[ROLE_COUNT],
	     enum bx_crypto_cipher cipher)
{
	struct node *n = &nodes[ROLE_SENDER];
	struct crit_result res[CRIT_PHASES];
	const struct rte_eth_rxtx_callback *cb;
	unsigned ph;
	int rc;

	template_make(b, nodes, BENCH_CRIT_BULK_SIZE);
	crit_template_make(b, nodes);
	rc = crit_lanes_check(b, n);
	if (rc != 0)
		return rc;
	/* Every mbuf is in the pool: the rounds before left none out. */
	rte_mempool_obj_iter(b->pool, bulk_prefill, b);
	cb = rte_eth_add_tx_callback(n->probe_tx_port, 0, crit_tx, b->crit_pool);
	if (cb == NULL) {
		snprintf(b->err, sizeof(b->err), "critical section: TX callback: %s",
			 rte_strerror(rte_errno));
		return -rte_errno;
	}
	for (ph = 0; rc == 0 && ph < CRIT_PHASES; ph++)
		rc = crit_phase(b, n, (enum crit_phase)ph, res, &res[ph]);
	if (rc != 0) {
		char why[BENCH_ERR_LEN];

		snprintf(why, sizeof(why), "%s", b->err);
		snprintf(b->err, sizeof(b->err), "critical section, %s phase: %.*s",
			 crit_phases[ph - 1].name, BENCH_ERR_KEEP, why);
	}
	/* The worker is stopped: nothing runs the callback any more. */
	if (rte_eth_remove_tx_callback(n->probe_tx_port, 0, cb) == 0)
		rte_free((void *)(uintptr_t)cb);
	packets_drain(b);
	if (rc == 0)
		crit_report(b, cipher, res);
	return rc;
}

/* Text: the lane the worker's classifier puts the first table's packets
 * on, by size (the default policy: under BX_CLASSIFY_SMALL_PKT bytes,
 * Critical). */
static void
report_lanes(struct bench *b, const struct node nodes[ROLE_COUNT])
{
	size_t i;

	printf("# lanes of its inner UDP packets to port %u:", BENCH_INNER_DPORT);
	for (i = 0; i < b->n_sizes; i++) {
		template_make(b, nodes, b->sizes[i]);
		printf(" %u B %s", b->sizes[i],
		       lane_name[frame_lane(&nodes[ROLE_SENDER], b->tmpl,
					    b->sizes[i])]);
	}
	printf("\n");
}

/*
 * The two nodes for @cipher with @n_peers pairs, their sessions, then
 * each of @sizes. b->spread: scale rounds and figures; b->critical: the
 * Critical section instead of sizes.
 */
static int
bench_nodes(struct bench *b, enum bx_crypto_cipher cipher, uint32_t n_peers,
	    const uint16_t *sizes, size_t n_sizes)
{
	struct bx_config *cfg[ROLE_COUNT] = { NULL, NULL };
	uint8_t priv[ROLE_COUNT][BX_HS_KEY_LEN];
	struct node nodes[ROLE_COUNT];
	uint64_t t0 = bench_now_ns();
	size_t heap0, i;
	unsigned r;
	int rc;

	memset(nodes, 0, sizeof(nodes));
	b->n_pairs = n_peers;
	b->active = n_peers;
	b->first_pair = 0;
	b->heap_tables = 0;
	b->sent = calloc(n_peers, sizeof(*b->sent));
	if (b->sent == NULL) {
		snprintf(b->err, sizeof(b->err), "per-pair counts: no memory");
		rc = -ENOMEM;
		goto out;
	}
	rc = configs_make(cipher, priv, cfg, b->err, sizeof(b->err));
	for (r = 0; rc == 0 && r < ROLE_COUNT; r++) {
		/* The node owns its config from here on, whatever happens. */
		rc = node_start(b, &nodes[r], (enum role)r, cfg[r], n_peers);
		cfg[r] = NULL;
	}
	heap0 = heap_used();
	if (rc == 0)
		rc = sessions_make(b, nodes, priv);
	sodium_memzero(priv, sizeof(priv));
	if (rc != 0)
		goto out;
	b->heap_tables += heap_used() - heap0;
	if (n_peers == 1)
		b->heap_one[cipher_slot(cipher)] = b->heap_tables;
	if (b->spread)
		report_setup(b, cipher, bench_now_ns() - t0);
	else if (!b->json)
		printf("# %s: worker crypto engine %s\n",
		       bx_crypto_cipher_name(cipher),
		       bx_crypto_backend_name(nodes[ROLE_SENDER].crypto));
	if (!b->spread && !b->critical && !b->json)
		report_lanes(b, nodes);
	if (b->critical)
		rc = critical_run(b, nodes, cipher);
	for (i = 0; rc == 0 && !b->critical && i < n_sizes; i++)
		rc = bench_size(b, nodes, cipher, sizes[i]);
out:
	node_stop(&nodes[ROLE_RECEIVER]);
	node_stop(&nodes[ROLE_SENDER]);
	bx_config_free(cfg[ROLE_RECEIVER]);
	bx_config_free(cfg[ROLE_SENDER]);
	free(b->sent);
	b->sent = NULL;
	return rc;
}

/* ---- set-up ----------------------------------------------------------- */

static void
usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [--json] [--quick] [--seconds S] [--cipher NAME] [--size BYTES]\n"
		"          [--dir egress|ingress] [--hugepages] [--peers N[,N...]]\n"
		"          [--no-critical | --critical-only]\n"
		"  --json          one JSON object per line instead of a table\n"
		"  --quick         %.2f s per cipher and size instead of %.1f s\n"
		"  --seconds S     seconds per cipher and size (both directions,\n"
		"                  and crypto-bench's ceiling gets as much per back end)\n"
		"  --cipher NAME   chacha20-poly1305 or aes-256-gcm (default: both)\n"
		"  --size BYTES    inner IP packet size, %u..%u (default: 64, 512, 1400;\n"
		"                  the scale table: 64, 1400)\n"
		"  --dir DIR       report egress or ingress only (both still run:\n"
		"                  each one's output is the other's input)\n"
		"  --hugepages     run on 2 MB hugepages, as the appliance does,\n"
		"                  instead of 4 KB pages: %u MB, and %u MB more per\n"
		"                  1000 peers of the largest --peers\n"
		"  --peers LIST    peers per node in the scale table after the first\n"
		"                  one, 1..%u each (default: 1,1000,10000)\n"
		"  --no-critical   leave out the Critical-lane latency section (each of\n"
		"                  its three phases per cipher lasts %.0f x --seconds)\n"
		"  --critical-only that section alone (--size, --dir, --peers: unused)\n",
		prog, BENCH_QUICK_SECONDS, BENCH_DEFAULT_SECONDS,
		(unsigned int)BENCH_MIN_SIZE, (unsigned int)BENCH_MAX_SIZE,
		BENCH_EAL_BASE_MB,
		(unsigned int)(1000ull * ROLE_COUNT * BENCH_EAL_PEER_BYTES / BENCH_MB),
		(unsigned int)BENCH_MAX_PEERS, BENCH_CRIT_PHASE_FACTOR);
}

/* EAL memory for nodes of up to @max_peers peers each, in MB. */
static unsigned
eal_mem_mb(uint32_t max_peers)
{
	uint64_t peers = (uint64_t)max_peers * ROLE_COUNT * BENCH_EAL_PEER_BYTES;

	return BENCH_EAL_BASE_MB + (unsigned)((peers + BENCH_MB - 1u) / BENCH_MB);
}

/*
 * No PCI, no files; lcore 1 is the worker; @mem_mb of memory. 4 KB pages
 * by default, so the bench runs anywhere; with @huge, 2 MB hugepages as
 * the appliance uses them (--in-memory: nothing left behind), which spares
 * the worker the TLB misses of mbufs spread over hundreds of small pages.
 */
static int
eal_start(const char *prog, bool huge, unsigned mem_mb)
{
	char mem[16];
	char *argv[] = {
		(char *)prog, (char *)"-l", (char *)"0-1", (char *)"--no-pci",
		(char *)"--no-shconf", (char *)"--no-telemetry",
		(char *)"--log-level=*:error",
		huge ? (char *)"--in-memory" : (char *)"--no-huge",
		(char *)"-m", mem,
	};

	snprintf(mem, sizeof(mem), "%u", mem_mb);
	if (rte_eal_init(RTE_DIM(argv), argv) < 0)
		return -1;
	return rte_lcore_is_enabled(BENCH_WORKER_LCORE) &&
		       rte_get_main_lcore() != BENCH_WORKER_LCORE ? 0 : -1;
}

/* crypto-bench is built next to this program. */
static int
crypto_bench_find(struct bench *b)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return -errno;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL)
		return -ENOENT;
	*slash = '\0';
	if (snprintf(b->crypto_bench, sizeof(b->crypto_bench), "%s/crypto-bench",
		     self) >= (int)sizeof(b->crypto_bench))
		return -ENAMETOOLONG;
	return access(b->crypto_bench, X_OK) == 0 ? 0 : -errno;
}

/* What a worker's lanes can hold (app_worker_lanes_mbufs, as ports.c
 * counts them for bauxite-app): the most, whatever the replay window. */
static unsigned
lanes_mbufs(void)
{
	return app_worker_lanes_mbufs(BX_CONFIG_REPLAY_MAX);
}

/*
 * The worker's output ring (link_underlay): as much as its input ring and
 * its lanes hold together, so a main lcore that loses its core for a
 * while in the Critical section (it drains this ring and is the only one
 * to refill the input) does not make the worker drop at TX.
 */
static unsigned
out_ring_size(void)
{
	return APP_RX_DESC + lanes_mbufs();
}

/* Mbufs of the pool: the input ring's (a round, or the Critical section's
 * NIC RX ring), the lanes', the output ring's, and the bursts in hand,
 * the worker's and the main lcore's. */
static unsigned
pool_mbufs(void)
{
	return APP_RX_DESC + lanes_mbufs() + out_ring_size() + APP_BURST +
	       BENCH_FEED_BURST;
}

static int
rings_make(struct bench *b)
{
	const unsigned flags = RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ;

	b->pool = rte_pktmbuf_pool_create("fpb_mbufs", pool_mbufs(), 0, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	b->crit_pool = rte_pktmbuf_pool_create("fpb_crit", BENCH_CRIT_MBUFS, 0,
					       RTE_ALIGN(sizeof(struct crit_stamp),
							 RTE_MBUF_PRIV_ALIGN),
					       RTE_PKTMBUF_HEADROOM + BENCH_CRIT_ROOM,
					       SOCKET_ID_ANY);
	b->link_inner = rte_ring_create("fpb_inner", BENCH_ROUND_PKTS,
					SOCKET_ID_ANY, flags);
	b->link_underlay = rte_ring_create("fpb_underlay", out_ring_size(),
					   SOCKET_ID_ANY, flags);
	b->idle = rte_ring_create("fpb_idle", BENCH_SPARE_RING, SOCKET_ID_ANY, flags);
	b->stray = rte_ring_create("fpb_stray", BENCH_SPARE_RING, SOCKET_ID_ANY,
				   flags);
	if (b->pool == NULL || b->crit_pool == NULL || b->link_inner == NULL ||
	    b->link_underlay == NULL || b->idle == NULL || b->stray == NULL)
		return -ENOMEM;
	return 0;
}

/* --peers: a comma-separated list of 1..BENCH_MAX_PEERS. */
static int
parse_peers(const char *arg, uint32_t *counts, size_t *n)
{
	const char *p = arg;
	unsigned long v;
	size_t got = 0;
	char *end;

	do {
		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno != 0 || end == p || *p == '-' || v < 1 ||
		    v > BENCH_MAX_PEERS || got == BENCH_MAX_PEER_COUNTS ||
		    (*end != ',' && *end != '\0'))
			return -EINVAL;
		counts[got++] = (uint32_t)v;
		p = end + 1;
	} while (*end == ',');
	*n = got;
	return 0;
}

static int
parse_size(const char *arg, uint16_t *size)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno != 0 || *end != '\0' || *arg == '\0' || v < BENCH_MIN_SIZE ||
	    v > BENCH_MAX_SIZE)
		return -EINVAL;
	*size = (uint16_t)v;
	return 0;
}

/* The sizes of the scale table: scale_sizes the first table has, or the
 * one --size. Returns how many. */
static size_t
scale_sizes_pick(const struct bench *b, uint16_t out[BX_ARRAY_SIZE(scale_sizes)])
{
	size_t i, j, n = 0;

	for (i = 0; i < BX_ARRAY_SIZE(scale_sizes); i++)
		for (j = 0; j < b->n_sizes; j++)
			if (b->sizes[j] == scale_sizes[i])
				out[n++] = scale_sizes[i];
	if (n == 0 && b->n_sizes == 1)
		out[n++] = b->sizes[0];
	return n;
}

/* The first table, then the scale table, for each of @ciphers; *@cur
 * is the cipher being run. */
static int
tables_run(struct bench *b, const enum bx_crypto_cipher *ciphers,
	   size_t n_ciphers, const uint32_t *peer_counts, size_t n_counts,
	   bool huge, enum bx_crypto_cipher *cur)
{
	uint16_t ssizes[BX_ARRAY_SIZE(scale_sizes)];
	size_t n_ssizes = scale_sizes_pick(b, ssizes), ci, k;
	int rc = 0;

	if (!b->json) {
		printf("fastpath-bench: app_worker_main (run to completion) on lcore %u, "
		       "net_ring ports; rounds of %u packets, median round; "
		       "%s pages; TSC %.3f GHz (measured); %.2f s per cipher and "
		       "size; ceiling: crypto-bench's best back end\n",
		       BENCH_WORKER_LCORE, BENCH_ROUND_PKTS, huge ? "2 MB" : "4 KB",
		       b->tsc_hz / 1e9, b->seconds);
		printf("%-18s %-8s %5s %9s %9s %11s %13s %6s\n", "cipher", "dir", "size",
		       "Mpps", "Gbps", "cycles/pkt", "ceiling Gbps", "ratio");
	}
	for (ci = 0; rc == 0 && ci < n_ciphers; ci++) {
		*cur = ciphers[ci];
		rc = bench_nodes(b, *cur, 1, b->sizes, b->n_sizes);
	}
	if (rc == 0 && !b->json) {
		printf("\nscale: N peers per node, each with its own route, "
		       "session and replay window; packet g of a run goes to peer "
		       "g mod N; interleaved with rounds all to one of them: "
		       "ratio = cycles/pkt with 1 peer / with N\n");
		printf("%-18s %-8s %5s %7s %9s %11s %11s %6s\n", "cipher", "dir",
		       "size", "peers", "Mpps", "cycles/pkt", "1 peer", "ratio");
	}
	b->spread = true;
	for (ci = 0; rc == 0 && ci < n_ciphers; ci++) {
		*cur = ciphers[ci];
		for (k = 0; rc == 0 && k < n_counts; k++)
			rc = bench_nodes(b, *cur, peer_counts[k], ssizes, n_ssizes);
	}
	b->spread = false;
	return rc;
}

/* The Critical section for each of @ciphers, on nodes of its own (one
 * peer); *@cur is the cipher being run. */
static int
critical_section(struct bench *b, const enum bx_crypto_cipher *ciphers,
		 size_t n_ciphers, enum bx_crypto_cipher *cur)
{
	size_t ci;
	int rc = 0;

	if (!b->json) {
		printf("\ncritical lane: egress of the worker on lcore %u, the main "
		       "lcore its NIC (an input ring of %u); an ICMP echo of %u B "
		       "(critical lane) every %.0f us, from its enqueue on the "
		       "ring until the worker hands it to the port; loaded: "
		       "%u B UDP to port %u (bulk lane) offered at %.0f Gbps, the "
		       "ring kept full but for its top %u; fifo.loaded: the same, "
		       "the worker without its lanes; saturated: with its lanes, "
		       "Bulk at %.1fx what fifo.loaded sealed; %.2f s per phase, "
		       "the first %.0f ms not measured; ahead: mean packets on "
		       "the ring before a Critical one\n",
		       BENCH_WORKER_LCORE, APP_RX_DESC, BENCH_CRIT_SIZE,
		       BENCH_CRIT_PERIOD_NS / 1e3, BENCH_CRIT_BULK_SIZE,
		       BENCH_INNER_DPORT, BENCH_CRIT_OFFER_GBPS, BENCH_CRIT_RESERVE,
		       BENCH_CRIT_SATURATE, crit_phase_s(b),
		       BENCH_CRIT_WARMUP_S * 1e3);
		printf("%-18s %-12s %8s %8s %8s %8s %9s %7s %9s %9s %11s %10s %10s\n",
		       "cipher", "phase", "Critical", "p50 us", "p90 us", "p99 us",
		       "max us",
		       "ahead", "Bulk Mpps", "Bulk Gbps", "offered", "refused",
		       "lane_full");
	}
	b->critical = true;
	for (ci = 0; rc == 0 && ci < n_ciphers; ci++) {
		*cur = ciphers[ci];
		rc = bench_nodes(b, *cur, 1, NULL, 0);
	}
	b->critical = false;
	return rc;
}

/* The tables, then the Critical section, as asked. */
static int
bench_run(struct bench *b, const enum bx_crypto_cipher *ciphers,
	  size_t n_ciphers, const uint32_t *peer_counts, size_t n_counts,
	  bool huge, bool tables, bool critical)
{
	enum bx_crypto_cipher cur = ciphers[0];
	int rc = 0;

	if (tables)
		rc = tables_run(b, ciphers, n_ciphers, peer_counts, n_counts, huge,
				&cur);
	if (rc == 0 && critical)
		rc = critical_section(b, ciphers, n_ciphers, &cur);
	if (rc != 0)
		fprintf(stderr, "fastpath-bench: %s: %s\n",
			bx_crypto_cipher_name(cur), b->err[0] ? b->err : strerror(-rc));
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "quick", no_argument, NULL, 'q' },
		{ "seconds", required_argument, NULL, 's' },
		{ "cipher", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 'z' },
		{ "dir", required_argument, NULL, 'd' },
		{ "hugepages", no_argument, NULL, 'H' },
		{ "peers", required_argument, NULL, 'p' },
		{ "no-critical", no_argument, NULL, 'C' },
		{ "critical-only", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct bench b = {
		.seconds = BENCH_DEFAULT_SECONDS,
		.report = { true, true },
	};
	enum bx_crypto_cipher ciphers[BX_ARRAY_SIZE(all_ciphers)];
	uint16_t sizes[BX_ARRAY_SIZE(default_sizes)];
	uint32_t peer_counts[BENCH_MAX_PEER_COUNTS], max_peers = 1;
	size_t n_ciphers = BX_ARRAY_SIZE(all_ciphers), n_sizes = BX_ARRAY_SIZE(default_sizes);
	size_t n_counts = BX_ARRAY_SIZE(default_peer_counts), d, k;
	int opt, rc, status = EXIT_FAILURE;
	unsigned mem_mb;
	bool huge = false, tables = true, critical = true;

	memcpy(ciphers, all_ciphers, sizeof(all_ciphers));
	memcpy(sizes, default_sizes, sizeof(default_sizes));
	memcpy(peer_counts, default_peer_counts, sizeof(default_peer_counts));
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			b.json = true;
			break;
		case 'q':
			b.seconds = BENCH_QUICK_SECONDS;
			break;
		case 's':
			if (bench_parse_seconds(optarg, &b.seconds) != 0)
				return EXIT_FAILURE;
			break;
		case 'c':
			if (bench_parse_cipher(optarg, &ciphers[0]) != 0)
				return EXIT_FAILURE;
			n_ciphers = 1;
			break;
		case 'z':
			if (parse_size(optarg, &sizes[0]) != 0) {
				fprintf(stderr, "--size: want %u..%u bytes: %s\n",
					(unsigned int)BENCH_MIN_SIZE,
					(unsigned int)BENCH_MAX_SIZE, optarg);
				return EXIT_FAILURE;
			}
			n_sizes = 1;
			break;
		case 'd':
			for (d = 0; d < DIR_COUNT; d++)
				b.report[d] = strcmp(optarg, dirs[d].name) == 0;
			if (!b.report[DIR_EGRESS] && !b.report[DIR_INGRESS]) {
				fprintf(stderr, "--dir: want egress or ingress: %s\n", optarg);
				return EXIT_FAILURE;
			}
			break;
		case 'H':
			huge = true;
			break;
		case 'p':
			if (parse_peers(optarg, peer_counts, &n_counts) != 0) {
				fprintf(stderr, "--peers: want up to %u counts of "
					"1..%u, comma-separated: %s\n",
					BENCH_MAX_PEER_COUNTS,
					(unsigned int)BENCH_MAX_PEERS, optarg);
				return EXIT_FAILURE;
			}
			break;
		case 'C':
			critical = false;
			break;
		case 'O':
			tables = false;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return EXIT_SUCCESS;
		default:
			usage(stderr, argv[0]);
			return EXIT_FAILURE;
		}
	}
	if (optind != argc || (!tables && !critical)) {
		usage(stderr, argv[0]);
		return EXIT_FAILURE;
	}
	b.sizes = sizes;
	b.n_sizes = n_sizes;
	for (k = 0; k < n_counts; k++)
		max_peers = RTE_MAX(max_peers, peer_counts[k]);
	mem_mb = eal_mem_mb(max_peers);
	rc = crypto_bench_find(&b);
	if (rc != 0) {
		fprintf(stderr, "fastpath-bench: %s: %s (it is built with this "
			"program)\n", b.crypto_bench[0] ? b.crypto_bench : "crypto-bench",
			strerror(-rc));
		return EXIT_FAILURE;
	}
	if (sodium_init() < 0 || eal_start(argv[0], huge, mem_mb) != 0) {
		fprintf(stderr, "fastpath-bench: EAL init failed (needs lcores 0 and "
			"%u", BENCH_WORKER_LCORE);
		if (huge)
			fprintf(stderr, " and %u MB of free hugepages", mem_mb);
		fprintf(stderr, ")\n");
		return EXIT_FAILURE;
	}
	/* The main lcore polls by sleeping: keep its wake-ups prompt. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	b.tsc_hz = bench_tsc_hz();
	b.cap = (size_t)RTE_MIN(b.seconds * BENCH_NS_PER_S / BENCH_MIN_PAIR_NS + 1,
				(double)BENCH_MAX_ROUNDS);
	for (d = 0; d < DIR_COUNT; d++) {
		b.samples[d] = calloc(b.cap, sizeof(uint64_t));
		b.single[d] = calloc(b.cap, sizeof(uint64_t));
	}
	b.lat_cap = critical ? crit_lat_cap(&b) : 0;
	b.lat = critical ? calloc(b.lat_cap, sizeof(uint64_t)) : NULL;
	if (rings_make(&b) != 0 || (critical && b.lat == NULL) ||
	    b.samples[DIR_EGRESS] == NULL ||
	    b.samples[DIR_INGRESS] == NULL || b.single[DIR_EGRESS] == NULL ||
	    b.single[DIR_INGRESS] == NULL) {
		fprintf(stderr, "fastpath-bench: out of memory\n");
		goto out;
	}
	if (bench_run(&b, ciphers, n_ciphers, peer_counts, n_counts, huge, tables,
		      critical) == 0)
		status = EXIT_SUCCESS;

out:
	packets_drain(&b);
	rte_ring_free(b.stray);
	rte_ring_free(b.idle);
	rte_ring_free(b.link_underlay);
	rte_ring_free(b.link_inner);
	rte_mempool_free(b.crit_pool);
	rte_mempool_free(b.pool);
	for (d = 0; d < DIR_COUNT; d++) {
		free(b.samples[d]);
		free(b.single[d]);
	}
	free(b.lat);
	rte_eal_cleanup();
	return status;
}
