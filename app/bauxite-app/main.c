/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite-app: the Bauxite appliance.
 *
 *   bauxite-app <EAL args> -- --config FILE [--check-config]
 *
 * The main lcore is the control lcore: it reads and checks the config
 * (before the EAL or any port is touched, so a bad config costs nothing),
 * loads the identity and the peers (config, then the warm-start snapshot:
 * warm.c), sets up ports and the session layer, launches the workers,
 * then runs handshakes and rekeys (session.c), resolves next hops, writes
 * snapshots, serves telemetry and signals, and shuts everything down
 * cleanly.
 * One worker lcore runs the fast path to completion; with more, the first
 * is the RX/classify lcore and the rest are crypto/TX workers fed through
 * their lane rings (worker.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_telemetry.h>

#include "app.h"
#include "bx_identity.h"

#define APP_NAME "bauxite-app"
#define APP_ERR_LEN 512u
/* The control loop polls the handshake ring and the next hops this often,
 * and runs its slower chores (lcore health, stats) every APP_TICK_MS. */
#define APP_POLL_US 1000u
#define APP_TICK_MS 100u
#define APP_EAL_ARGS_MAX 256u /* EAL arguments, ours included */
/* The RTC worker, or the RX lcore and its crypto workers. */
#define APP_MAX_WORKERS (1u + APP_MAX_CRYPTO)
/* How long a telemetry command waits for the control lcore. */
#define APP_TELEMETRY_WAIT_MS 3000u
#define APP_SNAPSHOT_CMD "/bauxite/snapshot/save"
#define APP_PEERS_CMD "/bauxite/peers"
#define APP_SAFETY_CMD "/bauxite/safety"
#define APP_PATHS_CMD "/bauxite/paths"
#define APP_INTENT_CMD "/bauxite/intent"
/* DPDK telemetry's array limit (RTE_TEL_MAX_ARRAY_ENTRIES in 22.11). */
#define APP_TELEMETRY_MAX_PEERS 512u

static volatile sig_atomic_t sig_stop;
static char eal_rundir[PATH_MAX];
static volatile sig_atomic_t sig_dump;
/* The telemetry callback's way to the app (callbacks take no argument). */
static struct app *tel_app;

struct app;
/*
 * A telemetry command the control lcore answers, because what it reads or
 * does (the registry, the book, the snapshot) is the control lcore's: the
 * telemetry thread takes a ticket and waits; the control lcore runs @fill
 * on the reply and publishes the ticket it served. A telemetry thread
 * that gives up takes its reply back under serve_lock, so a late control
 * lcore never writes into a reply that is gone.
 */
struct app_tel_req {
	uint32_t asked;                  /* last ticket taken */
	uint32_t done;                   /* last ticket served */
	void (*fill)(struct app *a, struct rte_tel_data *d);
	struct rte_tel_data *d;          /* NULL: nothing to fill */
};
static pthread_mutex_t tel_ask_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t tel_serve_lock = PTHREAD_MUTEX_INITIALIZER;

struct app {
	struct bx_config *cfg;
	struct bx_identity *identity;    /* the node's keys, from state_dir */
	struct app_warm warm;            /* the peers it runs with (topo.c) */
	struct app_topo topo;
	struct app_policy policy;        /* the classifier's rules (policy.c) */
	struct app_hub_glue hub;         /* the hub link (hub.c), if configured */
	struct app_tel_req tel;
	bool up;                         /* set up completely: snapshots now */
	bool eal_up;
	unsigned n_workers;              /* fast-path lcores */
	unsigned n_launched;
	unsigned lcore[APP_MAX_WORKERS]; /* [0]: RTC worker or RX lcore */
	bool running;
	struct bx_stats *stats;
	struct rte_rcu_qsbr *qsbr;
	struct bx_peer_registry *reg;
	struct bx_crypto *ctl_crypto;    /* key expansion on this lcore */
	struct bx_crypto *crypto[APP_MAX_WORKERS]; /* one per worker */
	struct app_sessions *sessions;
	struct app_ports ports;
	bool ports_up;
	uint64_t *nexthop;
	struct app_neigh *neigh;
	struct app_lan lan;              /* gateway mode */
	struct app_worker worker[APP_MAX_WORKERS];
	struct app_peer_ctr *peer_ctr[APP_MAX_WORKERS]; /* each worker's */
	struct app_peer_ctr *peer_ctr_base;             /* at each peer's add */
	struct app_worker *crypto_workers[APP_MAX_CRYPTO];
	struct app_nat *nat;             /* edge with ICE (nat.c), else NULL */
	struct app_safety *safety;       /* safety.enabled (safety.c), else NULL */
	struct app_owners owners;        /* the lcores that own peers */
	struct app_paths *paths;         /* probes wanted (paths.c), else NULL */
	struct app_relay *relay;         /* role relay (relay.c), else NULL */
};

/*
 * The EAL arguments, plus --huge-unlink when hugepages are backed by files
 * (neither --in-memory nor --no-huge given): a process that exits, however
 * it exits, then leaves no hugepage files behind.
 */
static int
eal_args(int argc, char **argv, char **out)
{
	bool files = true;
	int i;

	for (i = 0; i < argc; i++) {
		out[i] = argv[i];
		if (strcmp(argv[i], "--in-memory") == 0 ||
		    strcmp(argv[i], "--no-huge") == 0 ||
		    strncmp(argv[i], "--huge-unlink", 13) == 0)
			files = false;
	}
	if (files)
		out[argc++] = (char *)"--huge-unlink";
	out[argc] = NULL;
	return argc;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: " APP_NAME " <EAL args> -- --config FILE "
		   "[--check-config]\n"
		   "  --config FILE    the node's JSON config (config/README.md)\n"
		   "  --check-config   validate it, print the effective config, "
		   "exit\n");
}

/* Application options: everything after "--". */
static int
parse_app_args(int argc, char **argv, const char **config, bool *check)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	optind = 1;
	opterr = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			*config = optarg;
			break;
		case 'k':
			*check = true;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		default:
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, APP_NAME ": unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	if (*config == NULL) {
		fprintf(stderr, APP_NAME ": --config FILE is required\n");
		return -EINVAL;
	}
	return 0;
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		sig_dump = 1;
	else
		sig_stop = 1;
}

static int
install_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGUSR1 };
	struct sigaction sa;
	unsigned i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < BX_ARRAY_SIZE(sigs); i++)
		if (sigaction(sigs[i], &sa, NULL) != 0)
			return -errno;
	return 0;
}

/*
 * net_tap's "Rx trigger": when a TAP is made, the PMD takes the first
 * real-time signal (SIGRTMIN+1 .. SIGRTMAX-1) that still has its default
 * disposition, turns on O_ASYNC with it, and skips the read syscall of an
 * RX poll until a signal has come. Real-time signals queue, one per frame:
 * the kernel raises it in the context of whoever sent the frame and a
 * thread of ours runs a handler for each. Under a 64-byte UDP flood
 * through bauxite0 that was most of the sender's time, and our main
 * thread took a signal per packet. With every one of those signals
 * handled here before the TAPs exist (before the EAL, which makes those
 * given to it with --vdev), the PMD says "No Rx trigger signal
 * available" and polls: one read syscall more per poll, none per frame.
 * None of these signals is ever sent to us; the handlers do nothing.
 */
static void
on_rt_signal(int sig)
{
	(void)sig;
}

static int
claim_rt_signals(void)
{
	struct sigaction sa;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_rt_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		if (sigaction(sig, &sa, NULL) != 0)
			return -errno;
	return 0;
}

/*
 * The EAL leaves its runtime directory (/var/run/dpdk/<file-prefix>)
 * behind, and telemetry unlinks its socket in there from an atexit
 * handler. Registered before rte_eal_init, this handler runs after that
 * one and removes the then empty directory; rmdir fails harmlessly while
 * another process still uses it.
 */
static void
remove_eal_rundir(void)
{
	if (eal_rundir[0] != '\0')
		rmdir(eal_rundir);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A port's own counters: losses before the fast path sees a frame (RX
 * ring full, no mbuf) or after it hands one over. */
static void
print_port_stats(const char *what, uint16_t port)
{
	struct rte_eth_stats es;

	if (port >= RTE_MAX_ETHPORTS || rte_eth_stats_get(port, &es) != 0)
		return;
	printf("  port %-9s rx %" PRIu64 " tx %" PRIu64 " missed %" PRIu64
	       " rx_errors %" PRIu64 " tx_errors %" PRIu64 " no_mbuf %" PRIu64
	       "\n", what, es.ipackets, es.opackets, es.imissed, es.ierrors,
	       es.oerrors, es.rx_nombuf);
}

/* Every counter, every drop reason that happened, every port. */
static void
print_stats(const struct app *a, const char *why)
{
	const struct bx_stats *s = a->stats;
	struct bx_stats_lcore sum;
	unsigned i;

	bx_stats_sum(s, &sum);
	printf(APP_NAME ": stats (%s)\n", why);
	for (i = 0; i < BX_STAT__COUNT; i++)
		printf("  %-22s %" PRIu64 "\n",
		       bx_stats_counter_name((enum bx_stat_id)i), sum.counter[i]);
	for (i = BX_DROP_NONE + 1; i < BX_DROP__COUNT; i++)
		if (sum.drop[i] != 0)
			printf("  drop %-17s %" PRIu64 "\n",
			       bx_drop_name((enum bx_drop_reason)i), sum.drop[i]);
	if (a->ports_up) {
		print_port_stats("underlay", a->ports.underlay);
		if (a->ports.inner != RTE_MAX_ETHPORTS)
			print_port_stats("inner", a->ports.inner);
		print_port_stats("exception", a->ports.exception);
	}
	fflush(stdout);
}

/*
 * Loads the identity in state_dir, or makes it on the first start, and
 * says which, with the public keys (never the private ones).
 */
static int
load_identity(struct app *a, char *err, size_t errlen)
{
	char ed[BX_IDENTITY_KEY_B64_LEN + 1], x[BX_IDENTITY_KEY_B64_LEN + 1];
	bool generated = false;
	int rc;

	rc = bx_identity_load_or_generate(a->cfg->state_dir, &a->identity,
					  &generated, err, errlen);
	if (rc != 0)
		return rc;
	bx_identity_key_to_b64(bx_identity_ed25519_public(a->identity), ed);
	bx_identity_key_to_b64(bx_identity_x25519_public(a->identity), x);
	printf(APP_NAME ": identity %s in %s: ed25519 %s x25519 %s\n",
	       generated ? "generated" : "loaded", a->cfg->state_dir, ed, x);
	fflush(stdout);
	return 0;
}

/* A fast-path lcore must be an EAL worker lcore (-l), not the main one. */
static int
check_lcore(unsigned id, const char *field, unsigned i, char *err,
	    size_t errlen)
{
	if (id < RTE_MAX_LCORE && rte_lcore_is_enabled(id) &&
	    id != rte_get_main_lcore())
		return 0;
	snprintf(err, errlen, "%s[%u]: lcore %u is not an EAL worker lcore "
		 "(-l)", field, i, id);
	return -EINVAL;
}

/*
 * The fast-path lcores, from "lcores" or else the EAL worker lcores: one
 * runs to completion; with more, the first is the RX/classify lcore and
 * the rest are crypto/TX workers. More RX lcores need RSS: not yet.
 */
static int
pick_lcores(struct app *a, char *err, size_t errlen)
{
	const struct bx_config_lcores *lc = &a->cfg->lcores;
	unsigned id, i, n = 0;
	int rc;

	if (lc->set) {
		if (lc->n_rx > 1) {
			snprintf(err, errlen, "lcores.rx: %u RX lcores; this "
				 "bauxite-app runs one (more need RSS)", lc->n_rx);
			return -ENOTSUP;
		}
		if (lc->n_rx == 0 && lc->n_workers > 1) {
			snprintf(err, errlen, "lcores.rx: %u workers without an "
				 "RX lcore; give one \"rx\" lcore, or one "
				 "worker to run to completion", lc->n_workers);
			return -EINVAL;
		}
		for (i = 0; i < lc->n_rx; i++) {
			rc = check_lcore(lc->rx[i], "lcores.rx", i, err, errlen);
			if (rc != 0)
				return rc;
			a->lcore[n++] = lc->rx[i];
		}
		for (i = 0; i < lc->n_workers; i++) {
			rc = check_lcore(lc->workers[i], "lcores.workers", i,
					 err, errlen);
			if (rc != 0)
				return rc;
			if (n == APP_MAX_WORKERS)
				break;
			a->lcore[n++] = lc->workers[i];
		}
	} else {
		RTE_LCORE_FOREACH_WORKER(id) {
			if (n == APP_MAX_WORKERS)
				break;
			a->lcore[n++] = id;
		}
	}
	if (n == 0) {
		snprintf(err, errlen, "EAL lcores: no worker lcore: give the main "
			 "lcore and at least one more (e.g. -l 0-1)");
		return -EINVAL;
	}
	if ((lc->set && lc->n_workers + lc->n_rx > APP_MAX_WORKERS) ||
	    (!lc->set && rte_lcore_count() - 1 > APP_MAX_WORKERS)) {
		snprintf(err, errlen, "lcores: at most %u fast-path lcores (one "
			 "RX + %u crypto workers)", APP_MAX_WORKERS,
			 APP_MAX_CRYPTO);
		return -EINVAL;
	}
	a->n_workers = n;
	return 0;
}

/*
 * The registry, sized for @start's peers (and, with a hub, the hub's
 * topology): per-peer rule and tbl8 budgets from what each peer may route.
 */
static int
registry_create(struct app *a, const struct app_warm *start, char *err,
		size_t errlen)
{
	struct bx_peer_registry_conf rc;
	unsigned i, j, rules = 0, longs = 0, cap = start->n;

	/* The hub's peers come later: room for them now (each may route its
	 * virtual IP and a few prefixes, one of them long). */
	if (a->cfg->hub.set) {
		cap += a->cfg->hub.max_peers;
		rules += a->cfg->hub.max_peers * APP_HUB_RULES_PER_PEER;
		longs += a->cfg->hub.max_peers * APP_HUB_LONG_PER_PEER;
	}

	for (i = 0; i < start->n; i++) {
		rules += start->peers[i].n_allowed + 1u;
		longs += 1u;
		for (j = 0; j < start->peers[i].n_allowed; j++)
			longs += start->peers[i].allowed[j].len > BX_PEER_TBL8_DEPTH;
	}
	memset(&rc, 0, sizeof(rc));
	rc.max_peers = cap ? cap : 1u;
	rc.max_prefixes = rules ? rules : 1u;
	rc.max_long_prefixes = longs ? longs : 1u;
	rc.qsbr = a->qsbr;
	rc.socket_id = (int)rte_socket_id();
	a->reg = bx_peer_registry_create(&rc);
	if (a->reg == NULL) {
		snprintf(err, errlen, "peer registry: %s",
			 rte_strerror(rte_errno));
		return -rte_errno;
	}
	return 0;
}

/*
 * The peers to start with, through topo.c like every later change: a
 * config peer that cannot be added stops the start (its field named); a
 * snapshot's is a hint, skipped with a word.
 */
static int
peers_apply(struct app *a, const struct app_warm *start, char *err,
	    size_t errlen)
{
	unsigned i;
	int rc;

	for (i = 0; i < start->n; i++) {
		const struct app_peer_src *p = &start->peers[i];

		rc = app_topo_upsert(&a->topo, p, err, errlen);
		if (rc != 0 && p->cfg_index >= 0)
			return rc;
		if (rc != 0)
			printf(APP_NAME ": snapshot peer %s not restored: %s\n",
			       p->id, err);
	}
	a->warm.topology_version = start->topology_version;
	/* Nothing reads the registry yet: this commit does not wait. */
	app_topo_commit(&a->topo);
	return 0;
}

/*
 * The fast-path lcores' state: roles, TX queues, the run-to-completion
 * worker's lanes, and in pipeline mode each crypto worker's lane rings and
 * ingress ring.
 */
static int
workers_setup(struct app *a, uint32_t n_slots, char *err, size_t errlen)
{
	bool pipeline = a->n_workers > 1;
	unsigned i;

	for (i = 0; i < a->n_workers; i++) {
		struct app_worker *w = &a->worker[i];

		w->cfg = a->cfg;
		w->ports = &a->ports;
		w->policy = &a->policy;
		w->reg = a->reg;
		w->qsbr = a->qsbr;
		w->stats = a->stats;
		w->crypto = a->crypto[i];
		w->nexthop = a->nexthop;
		w->n_slots = n_slots;
		w->peer_ctr = rte_zmalloc_socket("bx_peer_ctr",
						 n_slots * sizeof(*w->peer_ctr),
						 RTE_CACHE_LINE_SIZE,
						 (int)rte_lcore_to_socket_id(a->lcore[i]));
		if (w->peer_ctr == NULL) {
			snprintf(err, errlen, "lcore %u: per-peer counters: no "
				 "memory", a->lcore[i]);
			return -ENOMEM;
		}
		a->peer_ctr[i] = w->peer_ctr;
		w->running = &a->running;
		w->txq = (uint16_t)i;
		w->lan = a->ports.gateway ? &a->lan : NULL;
		w->role = !pipeline ? APP_ROLE_RTC :
			  i == 0    ? APP_ROLE_RX :
				      APP_ROLE_CRYPTO;
		if (w->role == APP_ROLE_RTC) {
			int rc = app_worker_lanes_init(
				w, "rtc", (int)rte_lcore_to_socket_id(a->lcore[i]),
				a->cfg->replay_window, err, errlen);

			if (rc != 0)
				return rc;
		}
		if (w->role == APP_ROLE_CRYPTO) {
			int socket = (int)rte_lcore_to_socket_id(a->lcore[i]);
			struct bx_lanes_conf lc;
			char name[RTE_RING_NAMESIZE];

			memset(&lc, 0, sizeof(lc));
			snprintf(name, sizeof(name), "w%u", i);
			lc.name = name;
			lc.socket_id = socket;
			w->lanes = bx_lanes_create(&lc);
			snprintf(name, sizeof(name), "bx_ingress_%u", i);
			w->ingress = rte_ring_create(name, APP_INGRESS_RING, socket,
						     RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (w->lanes == NULL || w->ingress == NULL) {
				snprintf(err, errlen, "lcore %u: lane rings: %s",
					 a->lcore[i], rte_strerror(rte_errno));
				return -ENOMEM;
			}
			a->crypto_workers[i - 1] = w;
			w->crypto_id = i - 1;
			w->n_crypto_all = a->n_workers - 1;
		}
	}
	/* The RTC worker or the RX lcore talks to the control lcore. */
	a->worker[0].hs_rx = app_sessions_hs_ring(a->sessions);
	a->worker[0].ctl_tx = app_sessions_tx_ring(a->sessions);
	if (pipeline) {
		a->worker[0].n_crypto = a->n_workers - 1;
		/* The RX lcore's handle on its crypto workers. */
		a->worker[0].crypto_w = a->crypto_workers;
	}
	return 0;
}

/* Gateway mode: the LAN neighbour table, one slot per subnet host. */
static int
lan_setup(struct app *a, char *err, size_t errlen)
{
	const struct bx_config_prefix *in = &a->cfg->inner.address;
	uint32_t hosts = UINT32_C(1) << (32 - in->len);
	struct app_lan *lan = &a->lan;

	lan->host_mask = hosts - 1;
	lan->net = rte_be_to_cpu_32(in->addr) & ~lan->host_mask;
	lan->arp_interval = rte_get_tsc_hz() / 1000 * APP_LAN_ARP_INTERVAL_MS;
	lan->mac = rte_zmalloc("bx_lan_mac", hosts * sizeof(uint64_t),
			       RTE_CACHE_LINE_SIZE);
	lan->asked = rte_zmalloc("bx_lan_asked", hosts * sizeof(uint64_t),
				 RTE_CACHE_LINE_SIZE);
	if (lan->mac == NULL || lan->asked == NULL) {
		snprintf(err, errlen, "inner.address: LAN table for %u hosts: "
			 "no memory", hosts);
		return -ENOMEM;
	}
	return 0;
}

/*
 * What the lcores left in the pipeline's rings when they stopped is freed
 * with them: counted first (on this lcore's block) as dropped at shutdown,
 * so the exit summary still adds up.
 */
static void
count_leftovers(struct app *a)
{
	struct bx_stats_lcore *st = bx_stats_lcore(a->stats, rte_lcore_id());
	unsigned i, lane, n;

	if (st == NULL)
		return;
	for (i = 0; i < a->n_workers; i++) {
		const struct app_worker *w = &a->worker[i];

		for (lane = 0; lane < BX_LANE_COUNT; lane++) {
			n = w->lanes != NULL ?
				    bx_lanes_count(w->lanes, (enum bx_wire_lane)lane) : 0;
			if (n != 0)
				bx_stats_tx_drop(st, BX_DROP_SHUTDOWN, n);
			n = w->in_lanes != NULL ?
				    bx_lanes_count(w->in_lanes, (enum bx_wire_lane)lane) : 0;
			if (n != 0)
				bx_stats_rx_drop(st, BX_DROP_SHUTDOWN, n);
		}
		n = w->ingress != NULL ? rte_ring_count(w->ingress) : 0;
		if (n != 0)
			bx_stats_rx_drop(st, BX_DROP_SHUTDOWN, n);
	}
	/* Handshakes the control lcore did not get to, frames it made that
	 * did not go out. */
	n = rte_ring_count(app_sessions_hs_ring(a->sessions));
	if (n != 0)
		bx_stats_rx_drop(st, BX_DROP_SHUTDOWN, n);
	n = rte_ring_count(app_sessions_tx_ring(a->sessions));
	if (n != 0)
		bx_stats_tx_drop(st, BX_DROP_SHUTDOWN, n);
}

/* Frees a worker's rings and the mbufs still queued in them. */
static void
worker_rings_free(struct app_worker *w)
{
	struct rte_mbuf *pkts[APP_BURST];
	unsigned n;

	app_worker_lanes_free(w);
	if (w->ingress == NULL)
		return;
	while ((n = rte_ring_dequeue_burst(w->ingress, (void **)pkts, APP_BURST,
					   NULL)) != 0)
		rte_pktmbuf_free_bulk(pkts, n);
	rte_ring_free(w->ingress);
	w->ingress = NULL;
}

/* Writes the warm-start snapshot and says so; @why names the occasion. */
static int
save_snapshot(struct app *a, const char *why, struct app_warm_saved *saved,
	      char *err, size_t errlen)
{
	int rc = app_warm_save(a->cfg, a->reg, &a->warm, saved, err, errlen);

	if (rc != 0)
		fprintf(stderr, APP_NAME ": snapshot not written (%s): %s\n", why,
			err);
	else
		printf(APP_NAME ": snapshot written (%s): %s, %u peer(s), %" PRIu64
		       " bytes\n", why, saved->path, saved->peers, saved->bytes);
	fflush(stdout);
	return rc;
}

/* After a hub topology update: the next start finds it. */
static void
topology_saved(void *ctx)
{
	struct app *a = ctx;
	struct app_warm_saved saved;
	char err[APP_ERR_LEN];

	if (a->up)
		save_snapshot(a, "topology", &saved, err, sizeof(err));
}

/* Control lcore: answers what the telemetry thread asked for. */
static void
serve_telemetry(struct app *a)
{
	uint32_t asked = __atomic_load_n(&a->tel.asked, __ATOMIC_ACQUIRE);

	if (asked == a->tel.done)
		return;
	pthread_mutex_lock(&tel_serve_lock);
	if (a->tel.d != NULL)
		a->tel.fill(a, a->tel.d);
	a->tel.d = NULL;
	__atomic_store_n(&a->tel.done, asked, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&tel_serve_lock);
}

/* Telemetry thread: has the control lcore fill @d with @fill. Always a
 * dict (a negative return would read as an unknown command). */
static int
tel_ask(void (*fill)(struct app *a, struct rte_tel_data *d),
	struct rte_tel_data *d)
{
	struct app *a = tel_app;
	uint32_t ticket;
	unsigned waited;
	bool answered;

	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&tel_ask_lock);
	pthread_mutex_lock(&tel_serve_lock);
	a->tel.fill = fill;
	a->tel.d = d;
	pthread_mutex_unlock(&tel_serve_lock);
	ticket = __atomic_add_fetch(&a->tel.asked, 1, __ATOMIC_ACQ_REL);
	for (waited = 0; waited < APP_TELEMETRY_WAIT_MS &&
			 __atomic_load_n(&a->tel.done, __ATOMIC_ACQUIRE) != ticket;
	     waited++)
		usleep(1000);
	pthread_mutex_lock(&tel_serve_lock);
	answered = __atomic_load_n(&a->tel.done, __ATOMIC_ACQUIRE) == ticket;
	a->tel.d = NULL;
	pthread_mutex_unlock(&tel_serve_lock);
	if (!answered)
		rte_tel_data_add_dict_string(d, "error", "the control lcore did "
					     "not answer within 3 s (starting or "
					     "stopping?)");
	pthread_mutex_unlock(&tel_ask_lock);
	return 0;
}

/* /bauxite/snapshot/save: {path, peers, bytes}, or {error}. */
static void
fill_snapshot_save(struct app *a, struct rte_tel_data *d)
{
	struct app_warm_saved saved;
	char err[APP_ERR_LEN];

	if (save_snapshot(a, "asked", &saved, err, sizeof(err)) != 0) {
		rte_tel_data_add_dict_string(d, "error", err);
		return;
	}
	rte_tel_data_add_dict_string(d, "path", saved.path);
	rte_tel_data_add_dict_int(d, "peers", (int)saved.peers);
	rte_tel_data_add_dict_u64(d, "bytes", saved.bytes);
}

static int
tel_snapshot_save(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	return tel_ask(fill_snapshot_save, d);
}

/* /bauxite/safety: the safety state and the intents in force. */
static void
fill_safety(struct app *a, struct rte_tel_data *d)
{
	static const char *const fec[] = { "normal", "aggressive", "absolute" };
	struct app_safety_status st;

	app_safety_status(a->safety, &st);
	if (!st.enabled) {
		rte_tel_data_add_dict_string(d, "error", "the safety layer is off "
					     "(safety.enabled)");
		return;
	}
	rte_tel_data_add_dict_string(d, "state", st.state);
	rte_tel_data_add_dict_u64(d, "bulk_kbps", st.bulk_kbps);
	rte_tel_data_add_dict_string(d, "fec", st.fec < BX_ARRAY_SIZE(fec) ?
				     fec[st.fec] : "?");
	rte_tel_data_add_dict_int(d, "congested", st.congested);
}

static int
tel_safety(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	return tel_ask(fill_safety, d);
}

/*
 * /bauxite/intent,KEY=VALUE: sets an intent (safety.c). The intents are
 * atomic stores the workers read, so the telemetry thread sets them
 * itself. {ok: what was done} or {error: what was wrong}.
 */
static int
tel_intent(const char *cmd, const char *params, struct rte_tel_data *d)
{
	char key[32], msg[160];
	const char *eq = params != NULL ? strchr(params, '=') : NULL;
	size_t klen;

	(void)cmd;
	rte_tel_data_start_dict(d);
	if (eq == NULL || (klen = (size_t)(eq - params)) == 0 || klen >= sizeof(key)) {
		rte_tel_data_add_dict_string(d, "error", "expected KEY=VALUE: "
					     "throttle_bulk_kbps=N or fec=LEVEL");
		return 0;
	}
	memcpy(key, params, klen);
	key[klen] = '\0';
	if (app_safety_intent(tel_app->safety, key, eq + 1, msg, sizeof(msg)) != 0)
		rte_tel_data_add_dict_string(d, "error", msg);
	else
		rte_tel_data_add_dict_string(d, "ok", msg);
	return 0;
}

static const char *
origin_word(enum app_peer_origin o)
{
	return o == APP_PEER_CONFIG ? "config" : o == APP_PEER_HUB ? "hub" :
								   "snapshot";
}

/* /bauxite/peers' columns: DPDK 22.11's telemetry nests only arrays in a
 * dict, and peer ids are not valid dict keys, so a peer is one row across
 * these parallel arrays. */
enum peer_col {
	COL_ID, COL_VIP, COL_PATH, COL_ICE, COL_ENDPOINT, COL_ORIGIN,
	COL_SESSION, COL_N_STRING,
	COL_RX_INDEX = COL_N_STRING, COL_TX_INDEX, COL_SESSIONS, COL_HANDSHAKE,
	COL_RTT, COL_TX_PACKETS, COL_TX_BYTES, COL_RX_PACKETS, COL_RX_BYTES,
	COL_COUNT,
};

static const char *const peer_col_name[COL_COUNT] = {
	[COL_ID] = "id", [COL_VIP] = "virtual_ip", [COL_PATH] = "path",
	[COL_ICE] = "ice",
	[COL_ENDPOINT] = "endpoint", [COL_ORIGIN] = "origin",
	[COL_SESSION] = "session", [COL_RX_INDEX] = "rx_index",
	[COL_TX_INDEX] = "tx_index", [COL_SESSIONS] = "sessions",
	[COL_HANDSHAKE] = "last_handshake_unix_ms", [COL_RTT] = "rtt_us",
	[COL_TX_PACKETS] = "tx_packets", [COL_TX_BYTES] = "tx_bytes",
	[COL_RX_PACKETS] = "rx_packets", [COL_RX_BYTES] = "rx_bytes",
};

/*
 * /bauxite/peers: every peer (at most APP_TELEMETRY_MAX_PEERS, the
 * telemetry library's array limit; "truncated" says so) with its path,
 * endpoint, session, handshake and traffic, as columns.
 */
static void
fill_peers(struct app *a, struct rte_tel_data *d)
{
	const struct app_warm *book = &a->warm;
	struct rte_tel_data *col[COL_COUNT];
	unsigned i, c, shown = 0;

	for (c = 0; c < COL_COUNT; c++) {
		col[c] = rte_tel_data_alloc();
		if (col[c] == NULL) {
			while (c-- > 0)
				rte_tel_data_free(col[c]);
			rte_tel_data_add_dict_string(d, "error", "no memory");
			return;
		}
		rte_tel_data_start_array(col[c], c < COL_N_STRING ?
					 RTE_TEL_STRING_VAL : RTE_TEL_U64_VAL);
	}
	for (i = 0; i < book->n; i++) {
		const struct app_peer_src *p = &book->peers[i];
		const struct bx_peer *rec = bx_peer_find(a->reg, p->id);
		struct app_session_info si;
		struct app_peer_ctr t;
		char ep[INET_ADDRSTRLEN + 8], ip[INET_ADDRSTRLEN], ice[16];

		if (rec == NULL)
			continue;
		if (shown == APP_TELEMETRY_MAX_PEERS) {
			rte_tel_data_add_dict_int(d, "truncated", 1);
			break;
		}
		if (rec->endpoint_ip != 0) {
			inet_ntop(AF_INET, &rec->endpoint_ip, ip, sizeof(ip));
			snprintf(ep, sizeof(ep), "%s:%u", ip,
				 rte_be_to_cpu_16(rec->endpoint_port));
		} else {
			snprintf(ep, sizeof(ep), "-");
		}
		inet_ntop(AF_INET, &rec->vip, ip, sizeof(ip));
		memset(&si, 0, sizeof(si));
		app_sessions_peer_info(a->sessions, rec->index, &si);
		app_topo_traffic(&a->topo, rec->index, &t);
		rte_tel_data_add_array_string(col[COL_ID], p->id);
		rte_tel_data_add_array_string(col[COL_VIP], ip);
		rte_tel_data_add_array_string(col[COL_PATH],
					      rec->relay_handle != 0 ? "relay" :
					      rec->endpoint_ip != 0 ? "direct" :
					      "none");
		if (app_nat_peer_info(a->nat, p->id, ice, sizeof(ice)) != 0)
			snprintf(ice, sizeof(ice), "-");
		rte_tel_data_add_array_string(col[COL_ICE], ice);
		rte_tel_data_add_array_string(col[COL_ENDPOINT], ep);
		rte_tel_data_add_array_string(col[COL_ORIGIN],
					      origin_word(p->origin));
		rte_tel_data_add_array_string(col[COL_SESSION],
					      si.up ? "up" :
					      si.pending ? "handshaking" : "none");
		rte_tel_data_add_array_u64(col[COL_RX_INDEX], si.rx_index);
		rte_tel_data_add_array_u64(col[COL_TX_INDEX], si.tx_index);
		rte_tel_data_add_array_u64(col[COL_SESSIONS], si.sessions);
		rte_tel_data_add_array_u64(col[COL_HANDSHAKE],
					   si.last_handshake_unix_ms);
		rte_tel_data_add_array_u64(col[COL_RTT], si.rtt_us);
		rte_tel_data_add_array_u64(col[COL_TX_PACKETS], t.tx_packets);
		rte_tel_data_add_array_u64(col[COL_TX_BYTES], t.tx_bytes);
		rte_tel_data_add_array_u64(col[COL_RX_PACKETS], t.rx_packets);
		rte_tel_data_add_array_u64(col[COL_RX_BYTES], t.rx_bytes);
		shown++;
	}
	for (c = 0; c < COL_COUNT; c++)
		if (rte_tel_data_add_dict_container(d, peer_col_name[c], col[c],
						    0) != 0)
			rte_tel_data_free(col[c]);
}

static int
tel_peers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	return tel_ask(fill_peers, d);
}

static void
fill_paths(struct app *a, struct rte_tel_data *d)
{
	app_paths_fill(a->paths, a->reg, &a->warm, d);
}

static int
tel_paths(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	return tel_ask(fill_paths, d);
}

/* Everything between rte_eal_init and launching the workers. */
/*
 * Path probes and link state (paths.c), when the safety layer or bonding
 * wants them: each lcore that owns peers gets its probe state.
 */
static int
paths_setup(struct app *a, uint32_t n_slots, char *err, size_t errlen)
{
	struct app_paths_conf c;
	const struct app_paths_shared *sh;
	unsigned i;

	if (a->n_workers == 1) {
		a->owners.w[0] = &a->worker[0];
		a->owners.n = 1;
	} else {
		for (i = 1; i < a->n_workers; i++)
			a->owners.w[i - 1] = &a->worker[i];
		a->owners.n = a->n_workers - 1;
	}
	memset(&c, 0, sizeof(c));
	c.cfg = a->cfg;
	c.ports = &a->ports;
	c.owners = &a->owners;
	c.n_slots = n_slots;
	a->paths = app_paths_create(&c, err, errlen);
	if (a->paths == NULL)
		return -errno;
	sh = app_paths_shared(a->paths);
	for (i = 0; i < a->n_workers; i++)
		a->worker[i].paths = sh;
	app_sessions_set_paths(a->sessions, sh, &a->owners);
	a->topo.paths = a->paths;
	return 0;
}

/* The safety layer: the control side (safety.c). */
static int
safety_setup(struct app *a, uint32_t n_slots, struct bx_stats_lcore *st,
	     char *err, size_t errlen)
{
	struct app_safety_conf c;
	const struct app_safety_shared *sh;
	unsigned i;

	memset(&c, 0, sizeof(c));
	c.cfg = a->cfg;
	c.paths = a->paths;
	c.reg = a->reg;
	c.book = &a->warm;
	c.sessions = a->sessions;
	c.nat = a->nat;
	c.st = st;
	c.n_slots = n_slots;
	a->safety = app_safety_create(&c, err, errlen);
	if (a->safety == NULL)
		return -errno;
	sh = app_safety_shared(a->safety);
	for (i = 0; i < a->n_workers; i++)
		a->worker[i].safety = sh;
	a->topo.safety = a->safety;
	return 0;
}

static int
app_setup(struct app *a, char *err, size_t errlen)
{
	const struct bx_config *cfg = a->cfg;
	struct app_warm start = { 0 };
	struct app_sessions_conf sc;
	size_t qsize;
	uint32_t i, n_slots;
	int rc;

	rc = pick_lcores(a, err, errlen);
	if (rc != 0)
		return rc;
	a->stats = bx_stats_create(SOCKET_ID_ANY);
	if (a->stats == NULL) {
		snprintf(err, errlen, "stats: %s", rte_strerror(rte_errno));
		return -ENOMEM;
	}
	rc = bx_stats_telemetry_register(a->stats);
	tel_app = a;
	if (rc == 0)
		rc = rte_telemetry_register_cmd(APP_SNAPSHOT_CMD, tel_snapshot_save,
						"Writes the warm-start snapshot now. "
						"Takes no parameters");
	if (rc == 0)
		rc = rte_telemetry_register_cmd(APP_PEERS_CMD, tel_peers,
						"Each peer: path, endpoint, session, "
						"handshake, RTT, traffic. Takes no "
						"parameters");
	if (rc == 0)
		rc = rte_telemetry_register_cmd(APP_PATHS_CMD, tel_paths,
						"Each path of each peer: underlay, "
						"endpoint, state, RTT, loss, capacity, "
						"scheduling, traffic. Takes no "
						"parameters");
	if (rc == 0)
		rc = rte_telemetry_register_cmd(APP_SAFETY_CMD, tel_safety,
						"The safety state (NORMAL, SEVERED, "
						"PROBATION) and the intents in force. "
						"Takes no parameters");
	if (rc == 0)
		rc = rte_telemetry_register_cmd(APP_INTENT_CMD, tel_intent,
						"Sets an intent. Parameters: "
						"throttle_bulk_kbps=N (0: off) or "
						"fec=normal|aggressive|absolute");
	if (rc != 0)
		fprintf(stderr, APP_NAME ": telemetry unavailable: %s\n",
			strerror(-rc));
	qsize = rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE);
	a->qsbr = rte_zmalloc("bx_qsbr", qsize, RTE_CACHE_LINE_SIZE);
	if (a->qsbr == NULL || rte_rcu_qsbr_init(a->qsbr, RTE_MAX_LCORE) != 0) {
		snprintf(err, errlen, "QSBR variable: no memory");
		return -ENOMEM;
	}
	app_policy_init(&a->policy, cfg, a->qsbr);
	rc = app_warm_load(cfg, bx_identity_x25519_public(a->identity), &start,
			   err, errlen);
	if (rc == 0)
		rc = registry_create(a, &start, err, errlen);
	if (rc != 0)
		goto out;

	a->ctl_crypto = bx_crypto_create(BX_CRYPTO_BACKEND_AUTO, cfg->fips);
	for (i = 0; a->ctl_crypto != NULL && i < a->n_workers; i++) {
		a->crypto[i] = bx_crypto_create(bx_crypto_backend_of(a->ctl_crypto),
						cfg->fips);
		if (a->crypto[i] == NULL)
			break;
	}
	if (a->ctl_crypto == NULL || i < a->n_workers) {
		rc = -errno;
		snprintf(err, errlen, "crypto engine: %s", strerror(errno));
		goto out;
	}

	/* A TX queue per transmitting lcore on every port. */
	rc = app_ports_setup(cfg, &a->ports, (uint16_t)a->n_workers, err,
			     errlen);
	a->ports_up = true;
	if (rc != 0)
		goto out;

	if (a->ports.gateway) {
		rc = lan_setup(a, err, errlen);
		if (rc != 0)
			goto out;
	}
	n_slots = bx_peer_table_capacity(bx_peer_table_get(a->reg));
	/* One next hop per path of each peer index, and one more for the
	 * relay (nat.c). */
	a->nexthop = rte_zmalloc("bx_nexthop", APP_NH(n_slots + 1u, 0) * sizeof(uint64_t),
				 RTE_CACHE_LINE_SIZE);
	a->topo.path = calloc(n_slots, sizeof(*a->topo.path));
	if (a->nexthop == NULL || a->topo.path == NULL) {
		snprintf(err, errlen, "per-peer state: no memory");
		rc = -ENOMEM;
		goto out;
	}
	a->neigh = app_neigh_create(cfg, a->nexthop, APP_NH(n_slots + 1u, 0));
	if (a->neigh == NULL) {
		rc = -errno;
		snprintf(err, errlen, "next-hop resolution on %s: %s",
			 cfg->underlay.exception_iface, strerror(errno));
		goto out;
	}
	memset(&sc, 0, sizeof(sc));
	sc.cfg = cfg;
	sc.identity = a->identity;
	sc.reg = a->reg;
	sc.crypto = a->ctl_crypto;
	sc.st = bx_stats_lcore(a->stats, rte_lcore_id());
	sc.ports = &a->ports;
	sc.nexthop = a->nexthop;
	sc.n_slots = n_slots;
	a->sessions = app_sessions_create(&sc, err, errlen);
	if (a->sessions == NULL) {
		rc = -errno;
		goto out;
	}
	if (cfg->role == BX_CONFIG_ROLE_RELAY) {
		a->relay = app_relay_create(cfg, a->qsbr, sc.st, &a->ports, err,
					    errlen);
		if (a->relay == NULL) {
			rc = -errno;
			goto out;
		}
		app_relay_set_sessions(a->relay, a->sessions);
		app_sessions_set_relay(a->sessions, app_relay_frame, a->relay);
	}
	rc = workers_setup(a, n_slots, err, errlen);
	a->peer_ctr_base = rte_zmalloc("bx_peer_ctr_base",
				       n_slots * sizeof(*a->peer_ctr_base), 0);
	if (rc == 0 && a->peer_ctr_base == NULL) {
		snprintf(err, errlen, "per-peer counters: no memory");
		rc = -ENOMEM;
	}
	a->topo.cfg = cfg;
	a->topo.reg = a->reg;
	a->topo.sessions = a->sessions;
	a->topo.neigh = a->neigh;
	a->topo.book = &a->warm;
	a->topo.ctr = a->peer_ctr;
	a->topo.n_ctr = a->n_workers;
	a->topo.ctr_base = a->peer_ctr_base;
	if (rc == 0 && cfg->ice.enabled) {
		struct app_nat_conf nc = {
			.cfg = cfg, .topo = &a->topo, .sessions = a->sessions,
			.st = sc.st, .qsbr = a->qsbr, .ports = &a->ports,
			.nexthop = a->nexthop, .neigh = a->neigh,
			.relay_slot = APP_NH(n_slots, 0),
		};

		a->nat = app_nat_create(&nc, err, errlen);
		if (a->nat == NULL)
			rc = -errno;
		else
			app_sessions_set_relay(a->sessions, app_nat_relay_frame,
					       a->nat);
		a->topo.nat = a->nat;
	}
	/* The lcore that reads the underlay and the exception port runs
	 * the STUN translator (edge) or forwards for others (relay). */
	if (rc == 0 && a->nat != NULL) {
		a->worker[0].stunmux = app_nat_stunmux(a->nat);
		a->worker[0].stun_routes = app_nat_routes(a->nat);
	}
	if (rc == 0 && a->relay != NULL)
		a->worker[0].relay_table = app_relay_table(a->relay);
	if (rc == 0 && (cfg->safety.enabled || app_bonding_active(cfg)))
		rc = paths_setup(a, n_slots, err, errlen);
	if (rc == 0 && cfg->safety.enabled)
		rc = safety_setup(a, n_slots, sc.st, err, errlen);
	if (rc == 0)
		rc = peers_apply(a, &start, err, errlen);
	if (rc == 0) {
		a->hub.topo = &a->topo;
		a->hub.policy = &a->policy;
		a->hub.nat = a->nat;
		a->hub.on_topology = topology_saved;
		a->hub.on_topology_ctx = a;
		rc = app_hub_start(&a->hub, cfg, a->stats, err, errlen);
		if (rc != 0)
			goto out;
	}
out:
	app_warm_free(&start);
	return rc;
}

static void
app_teardown(struct app *a)
{
	struct app_warm_saved saved;
	char err[APP_ERR_LEN];
	unsigned i;

	/* ICE says goodbye through the hub link, which then stops first:
	 * its thread reads the counters. The local safety streams end. */
	app_nat_close(a->nat);
	app_safety_stop(a->safety);
	app_hub_stop(&a->hub);
	if (a->n_launched != 0) {
		__atomic_store_n(&a->running, false, __ATOMIC_RELAXED);
		rte_eal_mp_wait_lcore();
		count_leftovers(a);
		print_stats(a, "exit");
	}
	if (a->up)
		save_snapshot(a, "shutdown", &saved, err, sizeof(err));
	/* Its agents go while the registry they point paths at is there. */
	app_nat_free(a->nat);
	a->nat = NULL;
	a->topo.nat = NULL;
	app_relay_free(a->relay);
	a->relay = NULL;
	app_safety_free(a->safety);
	a->safety = NULL;
	a->topo.safety = NULL;
	app_paths_free(a->paths);
	a->paths = NULL;
	a->topo.paths = NULL;
	/* Everything holding mbufs goes before the pool (with the ports). */
	for (i = 0; i < a->n_workers; i++)
		worker_rings_free(&a->worker[i]);
	/* The registry points at the sessions: it goes first. */
	bx_peer_registry_free(a->reg);
	a->reg = NULL;
	app_sessions_free(a->sessions);
	a->sessions = NULL;
	if (a->ports_up)
		app_ports_close(&a->ports);
	app_neigh_free(a->neigh);
	for (i = 0; i < a->n_workers; i++)
		bx_crypto_free(a->crypto[i]);
	bx_crypto_free(a->ctl_crypto);
	app_policy_free(&a->policy);
	for (i = 0; i < a->n_workers; i++)
		rte_free(a->peer_ctr[i]);
	rte_free(a->peer_ctr_base);
	rte_free(a->nexthop);
	free(a->topo.path);
	rte_free(a->lan.mac);
	rte_free(a->lan.asked);
	rte_free(a->qsbr);
	bx_stats_free(a->stats);
	if (a->eal_up)
		rte_eal_cleanup();
	bx_identity_free(a->identity);
	app_warm_free(&a->warm);
	bx_config_free(a->cfg);
}

static int
control_loop(struct app *a)
{
	uint64_t interval = (uint64_t)a->cfg->stats_interval_s * 1000u;
	uint64_t next_stats = now_ms() + interval, next_tick = 0;
	const struct timespec poll = { 0, APP_POLL_US * 1000L };

	while (!sig_stop) {
		uint64_t now = now_ms();
		unsigned i;

		app_sessions_poll(a->sessions);
		app_hub_poll(&a->hub);
		app_nat_poll(a->nat);
		app_paths_poll(a->paths, now);
		app_safety_poll(a->safety);
		serve_telemetry(a);
		/* Cheap when nothing is due; a fresh next hop is found within
		 * milliseconds, so the first handshake does not wait. */
		app_neigh_tick(a->neigh, now);
		if (now < next_tick) {
			nanosleep(&poll, NULL);
			continue;
		}
		next_tick = now + APP_TICK_MS;
		app_relay_tick(a->relay);

		for (i = 0; i < a->n_launched; i++) {
			if (!__atomic_load_n(&a->worker[i].exited, __ATOMIC_ACQUIRE))
				continue;
			fprintf(stderr, APP_NAME ": lcore %u stopped: %s\n",
				a->lcore[i], strerror(-a->worker[i].rc));
			return -EIO;
		}
		if (sig_dump) {
			sig_dump = 0;
			print_stats(a, "SIGUSR1");
		}
		if (interval != 0 && now >= next_stats) {
			next_stats = now + interval;
			print_stats(a, "interval");
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct app a;
	char err[APP_ERR_LEN] = "";
	const char *config = NULL;
	bool check = false;
	char *eal_argv[APP_EAL_ARGS_MAX];
	int eal_argc, i, rc;

	/* Find "--" ourselves: the config must be judged before the EAL. */
	for (eal_argc = 1; eal_argc < argc; eal_argc++)
		if (strcmp(argv[eal_argc], "--") == 0)
			break;
	if (eal_argc == argc || eal_argc + 2 > (int)APP_EAL_ARGS_MAX) {
		usage(stderr);
		return EXIT_FAILURE;
	}
	/* getopt wants a program name first: it takes the place of "--". */
	argv[eal_argc] = argv[0];
	if (parse_app_args(argc - eal_argc, argv + eal_argc, &config, &check) != 0) {
		usage(stderr);
		return EXIT_FAILURE;
	}
	rc = bx_config_load(config, &a.cfg, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, APP_NAME ": %s\n", err);
		return EXIT_FAILURE;
	}
	if (check) {
		bx_config_dump(a.cfg, stdout);
		bx_config_free(a.cfg);
		return EXIT_SUCCESS;
	}

	/* The node's identity: made on first start, loaded afterwards; a key
	 * file others can read stops the start here, before the EAL. */
	rc = load_identity(&a, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, APP_NAME ": %s: state_dir: %s\n", config, err);
		bx_config_free(a.cfg);
		return EXIT_FAILURE;
	}

	/* Before the EAL: a TAP given to it (--vdev) is made in there. */
	rc = claim_rt_signals();
	if (rc != 0) {
		fprintf(stderr, APP_NAME ": real-time signal handlers: %s\n",
			strerror(-rc));
		bx_identity_free(a.identity);
		bx_config_free(a.cfg);
		return EXIT_FAILURE;
	}
	atexit(remove_eal_rundir);
	eal_argc = eal_args(eal_argc, argv, eal_argv);
	rc = rte_eal_init(eal_argc, eal_argv);
	if (rc < 0) {
		fprintf(stderr, APP_NAME ": EAL init failed: %s\n",
			rte_strerror(rte_errno));
		bx_identity_free(a.identity);
		bx_config_free(a.cfg);
		return EXIT_FAILURE;
	}
	a.eal_up = true;
	snprintf(eal_rundir, sizeof(eal_rundir), "%s",
		 rte_eal_get_runtime_dir());
	rc = app_setup(&a, err, sizeof(err));
	if (rc == 0)
		rc = install_signals();
	if (rc != 0) {
		/* Setup errors name the config field they come from. */
		fprintf(stderr, APP_NAME ": %s: %s\n", config,
			err[0] ? err : strerror(-rc));
		goto out;
	}
	a.running = true;
	for (i = 0; i < (int)a.n_workers; i++) {
		rc = rte_eal_remote_launch(app_worker_main, &a.worker[i],
					   a.lcore[i]);
		if (rc != 0) {
			fprintf(stderr, APP_NAME ": cannot launch lcore %u: %s\n",
				a.lcore[i], strerror(-rc));
			goto out;
		}
		a.n_launched++;
	}
	printf(APP_NAME ": %s up: underlay %s (" RTE_ETHER_ADDR_PRT_FMT
	       "), inner %s%s, exception %s, %s on %s, %u peer(s)\n",
	       a.cfg->node_id, a.cfg->underlay.port,
	       RTE_ETHER_ADDR_BYTES(&a.ports.underlay_mac),
	       a.ports.gateway ? a.cfg->inner.port :
	       a.cfg->inner.type == BX_CONFIG_INNER_NONE ? "none" : a.cfg->inner.iface,
	       a.ports.gateway ? " (gateway LAN)" : "",
	       a.cfg->underlay.exception_iface,
	       bx_crypto_cipher_name(a.cfg->cipher),
	       bx_crypto_backend_name(a.crypto[0]), a.warm.n);
	for (i = 1; i < (int)a.ports.n_ul; i++)
		printf(APP_NAME ": underlay %s: %s (" RTE_ETHER_ADDR_PRT_FMT
		       "), exception %s\n", a.cfg->underlays[i].name,
		       a.cfg->underlays[i].port,
		       RTE_ETHER_ADDR_BYTES(&a.ports.ul[i].mac),
		       a.cfg->underlays[i].exception_iface);
	if (a.n_workers == 1)
		printf(APP_NAME ": lcore %u runs to completion\n", a.lcore[0]);
	else
		for (i = 0; i < (int)a.n_workers; i++)
			printf(APP_NAME ": lcore %u: %s\n", a.lcore[i],
			       i == 0 ? "RX/classify" : "crypto/TX");
	/* A node killed from here on still restarts warm. */
	a.up = true;
	{
		struct app_warm_saved saved;

		save_snapshot(&a, "start", &saved, err, sizeof(err));
	}
	rc = control_loop(&a);
out:
	app_teardown(&a);
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
