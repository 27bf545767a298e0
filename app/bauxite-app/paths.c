/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Path measurement and link state on the control lcore (issue 8, with the
 * safety layer's probes of issue 7):
 *
 *   - what the workers need to probe every path of the peers they own
 *     (the probe configuration, a generation per peer index that starts
 *     its paths' probes over), whether the safety layer or bonding asked
 *     for probes;
 *   - the underlays' carrier, polled every bonding.link_poll_ms and
 *     published as one bitmask the workers read once per pass, so a cut
 *     uplink is left at once instead of after three lost probes;
 *   - reads of a path's measurements for the safety monitor, telemetry
 *     and the handshake's choice of path.
 *
 * Carrier: af_packet and af_xdp ports do not report link state (their
 * link_update is a no-op), so for them the kernel interface's flags are
 * read (IFF_UP and IFF_RUNNING: administratively up with carrier); other
 * ports are asked through rte_eth_link_get_nowait.
 *
 * Control lcore only, but for the shared part the workers read.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_telemetry.h>

#include "app.h"

#define LOG_PREFIX "bauxite-app: paths: "


struct app_paths {
	const struct bx_config *cfg;
	const struct app_ports *ports;
	const struct app_owners *own;
	struct app_paths_shared shared;
	uint32_t n_slots;
	int fd;                    /* for SIOCGIFFLAGS */
	uint64_t next_poll_ms;
	uint32_t logged_up;        /* ul_up as last logged */
};

bool
app_bonding_active(const struct bx_config *cfg)
{
	unsigned i;

	if (cfg->n_underlays > 1)
		return true;
	for (i = 0; i < cfg->n_peers; i++)
		if (cfg->peers[i].n_paths > 1)
			return true;
	return false;
}

/* Has underlay @u carrier? */
static bool
ul_carrier(const struct app_paths *p, unsigned u)
{
	const struct app_ul *ul = &p->ports->ul[u];
	struct rte_eth_link link;
	struct ifreq ifr;

	if (ul->iface[0] != '\0' && p->fd >= 0) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ul->iface);
		if (ioctl(p->fd, SIOCGIFFLAGS, &ifr) != 0)
			return false; /* gone: no carrier either */
		return (ifr.ifr_flags & (IFF_UP | IFF_RUNNING)) ==
		       (IFF_UP | IFF_RUNNING);
	}
	memset(&link, 0, sizeof(link));
	if (rte_eth_link_get_nowait(ul->port, &link) != 0)
		return true; /* a port that cannot say: assume it is up */
	return link.link_status == RTE_ETH_LINK_UP;
}

void
app_paths_poll(struct app_paths *p, uint64_t now)
{
	uint32_t up = 0;
	unsigned u;

	if (p == NULL || now < p->next_poll_ms)
		return;
	p->next_poll_ms = now + p->cfg->bonding.link_poll_ms;
	for (u = 0; u < p->ports->n_ul; u++)
		if (ul_carrier(p, u))
			up |= 1u << u;
	__atomic_store_n(&p->shared.ul_up, up, __ATOMIC_RELEASE);
	if (up != p->logged_up) {
		for (u = 0; u < p->ports->n_ul; u++)
			if (((up ^ p->logged_up) >> u) & 1u)
				printf(LOG_PREFIX "underlay %s: carrier %s\n",
				       p->cfg->underlays[u].name,
				       (up >> u) & 1u ? "up" : "down");
		fflush(stdout);
		p->logged_up = up;
	}
}

const struct app_paths_shared *
app_paths_shared(const struct app_paths *p)
{
	return p != NULL ? &p->shared : NULL;
}

void
app_paths_restart(struct app_paths *p, uint32_t index)
{
	uint32_t i, first = index, end = index + 1;

	if (p == NULL || (index != APP_PATHS_ALL && index >= p->n_slots))
		return;
	if (index == APP_PATHS_ALL) {
		first = 0;
		end = p->n_slots;
	}
	for (i = first; i < end; i++)
		__atomic_store_n(&p->shared.probe_gen[i], p->shared.probe_gen[i] + 1,
				 __ATOMIC_RELEASE);
}

bool
app_paths_read(const struct app_paths *p, uint32_t index, unsigned k,
	       struct bx_probe_stats *out)
{
	const struct app_worker *w;
	uint32_t gen;

	if (p == NULL || index >= p->n_slots || k >= p->shared.stride)
		return false;
	w = p->own->w[index % p->own->n];
	gen = __atomic_load_n(&p->shared.probe_gen[index], __ATOMIC_ACQUIRE);
	/* Measurements of this peer (the owner started them over since the
	 * index changed hands), or none. */
	if (__atomic_load_n(&w->probe_gen_seen[index], __ATOMIC_ACQUIRE) != gen)
		return false;
	bx_probe_read(&w->probe[index * p->shared.stride + k], out);
	return true;
}

/* The probe settings: the safety layer's when it is on (one probe engine
 * serves both; the config made their intervals agree), else bonding's. */
static void
probe_conf(const struct bx_config *cfg, struct bx_probe_conf *pc)
{
	bx_probe_conf_defaults(pc);
	if (cfg->safety.enabled) {
		pc->interval_ms = cfg->safety.probe_interval_ms;
		pc->loss_window = cfg->safety.probe_window;
		pc->timeout_ms = cfg->safety.probe_timeout_ms;
	} else {
		pc->interval_ms = cfg->bonding.probe_interval_ms;
	}
	/* The ring must be able to match every probe in flight. */
	if (pc->timeout_ms / pc->interval_ms >= BX_PROBE_RING)
		pc->timeout_ms = pc->interval_ms * (BX_PROBE_RING - 1u);
}

/* An owner's bonding state: per peer, per path, its reorder pool. */
static int
bond_alloc(struct app_worker *w, uint32_t n_slots, uint32_t slots)
{
	uint32_t i;
	unsigned l;

	w->bpeer = rte_zmalloc("bx_bond_peer", n_slots * sizeof(*w->bpeer),
			       RTE_CACHE_LINE_SIZE);
	w->path_ctr = rte_zmalloc("bx_path_ctr", APP_NH(n_slots, 0) *
				  sizeof(*w->path_ctr), RTE_CACHE_LINE_SIZE);
	w->reo_out = rte_zmalloc("bx_reorder_out", slots * sizeof(void *), 0);
	if (w->bpeer == NULL || w->path_ctr == NULL || w->reo_out == NULL)
		return -ENOMEM;
	for (i = 0; i < n_slots; i++)
		for (l = 0; l < BX_LANE_COUNT; l++)
			w->bpeer[i].reorder[l] = -1;
	w->reo_slots = slots;
	for (l = 0; l < APP_REORDER_BUFFERS; l++) {
		w->reo[l].peer = UINT32_MAX;
		w->reo[l].r = rte_zmalloc("bx_reorder", bx_reorder_size(slots),
					  RTE_CACHE_LINE_SIZE);
		if (w->reo[l].r == NULL ||
		    bx_reorder_init(w->reo[l].r, slots, BX_BOND_REORDER_MIN_NS) != 0)
			return -ENOMEM;
	}
	return 0;
}

static void
bond_free(struct app_worker *w)
{
	unsigned l;

	rte_free(w->bpeer);
	rte_free(w->path_ctr);
	rte_free(w->reo_out);
	w->bpeer = NULL;
	w->path_ctr = NULL;
	w->reo_out = NULL;
	for (l = 0; l < APP_REORDER_BUFFERS; l++) {
		rte_free(w->reo[l].r);
		w->reo[l].r = NULL;
	}
}

/* The scheduler's settings from "bonding". */
static void
bond_conf(const struct bx_config *cfg, struct bx_bond_conf *bc)
{
	const struct bx_config_bonding *b = &cfg->bonding;
	uint64_t interval_ns = (uint64_t)(cfg->safety.enabled ?
				cfg->safety.probe_interval_ms : b->probe_interval_ms) *
			       BX_BOND_MS;

	bx_bond_conf_defaults(bc);
	bc->down_after = b->down_after;
	bc->up_after = b->up_after;
	bc->exclude_loss_permille = b->stripe_exclude_loss_pct * 10u;
	bc->readmit_loss_permille = b->stripe_readmit_loss_pct * 10u;
	bc->readmit_ns = (uint64_t)b->readmit_s * 1000u * BX_BOND_MS;
	bc->hysteresis_pct = b->preferred_hysteresis_pct;
	bc->hold_ns = (uint64_t)b->preferred_hold_ms * BX_BOND_MS;
	bc->reorder_timeout_max_ns = (uint64_t)b->reorder_timeout_max_ms * BX_BOND_MS;
	/* REDUNDANT keeps a path that answered within the loss window. */
	bc->dead_ns = interval_ns * (cfg->safety.enabled ? cfg->safety.probe_window :
							    BX_PROBE_WINDOW_DEFAULT);
}

struct app_paths *
app_paths_create(const struct app_paths_conf *c, char *err, size_t errlen)
{
	const struct bx_config *cfg = c->cfg;
	struct app_paths *p = calloc(1, sizeof(*p));
	uint32_t i;
	unsigned k;

	if (p == NULL) {
		snprintf(err, errlen, "paths: no memory");
		errno = ENOMEM;
		return NULL;
	}
	p->cfg = cfg;
	p->ports = c->ports;
	p->own = c->owners;
	p->n_slots = c->n_slots;
	p->fd = -1;
	p->shared.bonding = app_bonding_active(cfg);
	p->shared.stride = p->shared.bonding ? APP_PATHS : 1u;
	probe_conf(cfg, &p->shared.probe_conf);
	p->shared.probe_interval_tsc =
		rte_get_tsc_hz() / 1000u * p->shared.probe_conf.interval_ms;
	p->shared.ns_per_tsc = 1e9 / (double)rte_get_tsc_hz();
	bond_conf(cfg, &p->shared.bond_conf);
	p->shared.redundant_copies = cfg->bonding.redundant_copies;
	p->shared.reorder = cfg->bonding.reorder;
	p->shared.reorder_slots = cfg->bonding.reorder_slots;
	for (k = 0; k < cfg->n_underlays && k < APP_UL_MAX; k++)
		p->shared.rate_mbps[k] = cfg->underlays[k].rate_mbps;
	p->shared.probe_gen = rte_zmalloc("bx_probe_gen",
					  c->n_slots * sizeof(uint32_t), 0);
	if (p->shared.probe_gen == NULL)
		goto nomem;
	for (i = 0; i < c->n_slots; i++)
		p->shared.probe_gen[i] = 1; /* the workers' 0: not started */
	for (k = 0; k < c->owners->n; k++) {
		struct app_worker *w = c->owners->w[k];

		w->probe = rte_zmalloc("bx_probe", (size_t)c->n_slots *
				       p->shared.stride * sizeof(*w->probe),
				       RTE_CACHE_LINE_SIZE);
		w->probe_gen_seen = rte_zmalloc("bx_probe_gen_seen",
						c->n_slots * sizeof(uint32_t), 0);
		if (w->probe == NULL || w->probe_gen_seen == NULL ||
		    (p->shared.bonding && bond_alloc(w, c->n_slots,
						     cfg->bonding.reorder_slots) != 0))
			goto nomem;
	}
	p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	/* Every underlay starts up until the first poll says otherwise. */
	p->shared.ul_up = (1u << c->ports->n_ul) - 1u;
	p->logged_up = p->shared.ul_up;
	app_paths_poll(p, 0); /* the first poll is due at once */
	if (p->shared.bonding)
		printf(LOG_PREFIX "%u underlay%s, probes every %u ms, a path "
		       "down after %u missed, up after %u answered; carrier "
		       "polled every %u ms\n", c->ports->n_ul,
		       c->ports->n_ul == 1 ? "" : "s",
		       p->shared.probe_conf.interval_ms, cfg->bonding.down_after,
		       cfg->bonding.up_after, cfg->bonding.link_poll_ms);
	return p;
nomem:
	snprintf(err, errlen, "paths: no memory for %u peers' probes",
		 c->n_slots);
	app_paths_free(p);
	errno = ENOMEM;
	return NULL;
}

/* /bauxite/paths' columns: one row per path of each peer (DPDK 22.11's
 * telemetry nests only arrays in a dict). */
enum path_col {
	PC_PEER, PC_UNDERLAY, PC_ENDPOINT, PC_STATE, PC_N_STRING,
	PC_PATH = PC_N_STRING, PC_PREFERRED, PC_IN_STRIPE, PC_IN_REDUNDANT,
	PC_RTT, PC_RTT_MIN, PC_JITTER, PC_LOSS, PC_PROBES_SENT, PC_PROBES_ECHOED,
	PC_CAP, PC_WEIGHT, PC_RATE, PC_COST, PC_TX_PACKETS, PC_TX_BYTES,
	PC_TX_REFUSED, PC_REORDER_TIMEOUT,
	PC_COUNT,
};

static const char *const path_col_name[PC_COUNT] = {
	[PC_PEER] = "peer", [PC_UNDERLAY] = "underlay",
	[PC_ENDPOINT] = "endpoint", [PC_STATE] = "state", [PC_PATH] = "path",
	[PC_PREFERRED] = "preferred", [PC_IN_STRIPE] = "in_stripe",
	[PC_IN_REDUNDANT] = "in_redundant", [PC_RTT] = "rtt_us",
	[PC_RTT_MIN] = "rtt_min_us", [PC_JITTER] = "jitter_us",
	[PC_LOSS] = "loss_permille", [PC_PROBES_SENT] = "probes_sent",
	[PC_PROBES_ECHOED] = "probes_echoed", [PC_CAP] = "capacity_kbps",
	[PC_WEIGHT] = "weight_kbps", [PC_RATE] = "rate_kbps",
	[PC_COST] = "cost_us", [PC_TX_PACKETS] = "tx_packets",
	[PC_TX_BYTES] = "tx_bytes", [PC_TX_REFUSED] = "tx_refused",
	[PC_REORDER_TIMEOUT] = "reorder_timeout_us",
};

static const char *
state_word(bool measured, enum bx_bond_state s)
{
	if (!measured)
		return "-";
	return s == BX_BOND_UP ? "up" : s == BX_BOND_SUSPECT ? "suspect" : "down";
}

/* Path @k of the peer @rec: one row. */
static void
fill_row(const struct app_paths *p, const struct bx_peer *rec, unsigned k,
	 struct rte_tel_data *col[])
{
	const struct app_worker *w = p->own->w[rec->index % p->own->n];
	const struct bx_peer_path *pp = &rec->paths[k];
	uint32_t gen = __atomic_load_n(&p->shared.probe_gen[rec->index],
				       __ATOMIC_ACQUIRE);
	bool fresh = __atomic_load_n(&w->probe_gen_seen[rec->index],
				     __ATOMIC_ACQUIRE) == gen;
	struct bx_probe_stats ps;
	struct bx_bond_stats bs;
	struct app_path_ctr tx;
	char ep[INET_ADDRSTRLEN + 8], ip[INET_ADDRSTRLEN];
	unsigned j;

	memset(&ps, 0, sizeof(ps));
	memset(&bs, 0, sizeof(bs));
	memset(&tx, 0, sizeof(tx));
	bs.preferred = -1;
	if (fresh)
		bx_probe_read(&w->probe[rec->index * p->shared.stride + k], &ps);
	/* The scheduler runs for bonded peers only. */
	if (fresh && w->bpeer != NULL && rec->n_paths > 1)
		bx_bond_read(&w->bpeer[rec->index].bond, &bs);
	else
		fresh = false;
	for (j = 0; w->path_ctr != NULL && j < p->own->n; j++) {
		const struct app_path_ctr *c =
			&p->own->w[j]->path_ctr[APP_NH(rec->index, k)];

		tx.tx_packets += __atomic_load_n(&c->tx_packets, __ATOMIC_RELAXED);
		tx.tx_bytes += __atomic_load_n(&c->tx_bytes, __ATOMIC_RELAXED);
		tx.tx_refused += __atomic_load_n(&c->tx_refused, __ATOMIC_RELAXED);
	}
	inet_ntop(AF_INET, &pp->ip, ip, sizeof(ip));
	snprintf(ep, sizeof(ep), "%s:%u", ip, rte_be_to_cpu_16(pp->port));
	rte_tel_data_add_array_string(col[PC_PEER], rec->id);
	rte_tel_data_add_array_string(col[PC_UNDERLAY],
				      p->cfg->underlays[pp->ul < p->cfg->n_underlays ?
							pp->ul : 0].name);
	rte_tel_data_add_array_string(col[PC_ENDPOINT], ep);
	rte_tel_data_add_array_string(col[PC_STATE],
				      state_word(fresh, bs.path[k].state));
	rte_tel_data_add_array_u64(col[PC_PATH], k);
	rte_tel_data_add_array_u64(col[PC_PREFERRED], bs.preferred == (int)k);
	rte_tel_data_add_array_u64(col[PC_IN_STRIPE], bs.path[k].in_stripe);
	rte_tel_data_add_array_u64(col[PC_IN_REDUNDANT], bs.path[k].in_redundant);
	rte_tel_data_add_array_u64(col[PC_RTT], ps.rtt_ewma_us);
	rte_tel_data_add_array_u64(col[PC_RTT_MIN], ps.rtt_min_us);
	rte_tel_data_add_array_u64(col[PC_JITTER], ps.jitter_us);
	rte_tel_data_add_array_u64(col[PC_LOSS], ps.loss_permille);
	rte_tel_data_add_array_u64(col[PC_PROBES_SENT], ps.sent);
	rte_tel_data_add_array_u64(col[PC_PROBES_ECHOED], ps.echoed);
	rte_tel_data_add_array_u64(col[PC_CAP], bs.path[k].cap_bps / 1000u);
	rte_tel_data_add_array_u64(col[PC_WEIGHT], bs.path[k].weight_bps / 1000u);
	rte_tel_data_add_array_u64(col[PC_RATE], bs.path[k].rate_bps / 1000u);
	rte_tel_data_add_array_u64(col[PC_COST], bs.path[k].cost_us);
	rte_tel_data_add_array_u64(col[PC_TX_PACKETS], tx.tx_packets);
	rte_tel_data_add_array_u64(col[PC_TX_BYTES], tx.tx_bytes);
	rte_tel_data_add_array_u64(col[PC_TX_REFUSED], tx.tx_refused);
	rte_tel_data_add_array_u64(col[PC_REORDER_TIMEOUT],
				   bs.reorder_timeout_ns / 1000u);
}

void
app_paths_fill(const struct app_paths *p, const struct bx_peer_registry *reg,
	       const struct app_warm *book, struct rte_tel_data *d)
{
	struct rte_tel_data *col[PC_COUNT];
	unsigned i, c, k, rows = 0;

	rte_tel_data_start_dict(d);
	if (p == NULL) {
		rte_tel_data_add_dict_string(d, "error", "no path probes (neither "
					     "bonding nor the safety layer is on)");
		return;
	}
	rte_tel_data_add_dict_int(d, "bonding", p->shared.bonding);
	rte_tel_data_add_dict_u64(d, "underlays_up",
				  __atomic_load_n(&p->shared.ul_up, __ATOMIC_ACQUIRE));
	for (c = 0; c < PC_COUNT; c++) {
		col[c] = rte_tel_data_alloc();
		if (col[c] == NULL) {
			while (c-- > 0)
				rte_tel_data_free(col[c]);
			rte_tel_data_add_dict_string(d, "error", "no memory");
			return;
		}
		rte_tel_data_start_array(col[c], c < PC_N_STRING ?
					 RTE_TEL_STRING_VAL : RTE_TEL_U64_VAL);
	}
	for (i = 0; i < book->n; i++) {
		const struct bx_peer *rec = bx_peer_find(reg, book->peers[i].id);

		if (rec == NULL || rec->index >= p->n_slots)
			continue;
		for (k = 0; k < rec->n_paths && k < p->shared.stride; k++) {
			if (rows == APP_PATHS_TELEMETRY_MAX) {
				rte_tel_data_add_dict_int(d, "truncated", 1);
				goto done;
			}
			fill_row(p, rec, k, col);
			rows++;
		}
	}
done:
	for (c = 0; c < PC_COUNT; c++)
		if (rte_tel_data_add_dict_container(d, path_col_name[c], col[c],
						    0) != 0)
			rte_tel_data_free(col[c]);
}

void
app_paths_free(struct app_paths *p)
{
	unsigned k;

	if (p == NULL)
		return;
	for (k = 0; k < p->own->n; k++) {
		struct app_worker *w = p->own->w[k];

		rte_free(w->probe);
		rte_free(w->probe_gen_seen);
		w->probe = NULL;
		w->probe_gen_seen = NULL;
		bond_free(w);
	}
	if (p->fd >= 0)
		close(p->fd);
	rte_free(p->shared.probe_gen);
	free(p);
}
