/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NAT traversal on an edge (DESIGN §3.5, §4 ICE): the path of every peer
 * that has no endpoint of its own, in the order direct -> relay -> drop.
 *
 * Direct: one libnice agent per peer (control/ice) on the control lcore's
 * GLib context, signaling through the hub. The agents bind private ports;
 * the fast path's STUN translator (lib/stunmux) shows them on the wire as
 * the mesh port and routes STUN back by the agents' ufrags, which this file
 * publishes (RCU). The pair ICE selects is the peer's endpoint.
 *
 * Relay: with a relay credential from the hub, the node registers with the
 * relay every relay.register_interval_s from the mesh port (which also
 * keeps its NAT mapping open). While the relay answers, a peer without a
 * direct path is sent through it: datagrams wrapped for the peer's handle.
 *
 * Otherwise the peer has no path: its packets are dropped as no_path.
 * A direct path that appears later (ICE retries after a failure) takes
 * over from the relay at once; sessions stay, as the keys do not depend on
 * the path.
 *
 * Control lcore only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <sodium.h>

#include "app.h"
#include "bx_ice.h"
#include "bx_relay.h"
#include "bx_stunmux.h"

#define LOG_PREFIX "bauxite-app: "
/* GLib dispatches per poll, at most (the loop stays responsive). */
#define GLIB_DISPATCH_MAX 64u
/* The relay counts as gone after this many unanswered registrations. */
#define RELAY_MISSES 3u
/* An INVITE the hub link could not take goes again this much later. */
#define NAT_REINVITE_MS 1000u
/* An ICE negotiation with no working pair by then is retried. */
#define NAT_CONNECT_TIMEOUT_MS 10000u
/* Until the relay answers, registrations go out this often. */
#define RELAY_FAST_MS 1000u

struct nat_peer {
	char id[BX_PEER_ID_MAX];
	bool ice_up;
	rte_be32_t ice_ip;
	rte_be16_t ice_port;
	char ice_type[BX_ICE_TYPE_MAX];   /* remote candidate type */
	struct app_path cur;              /* what the registry has */
	uint64_t restart_ms;              /* invite again then; 0: no */
};

struct nat_route {
	char ufrag[BX_ICE_UFRAG_MAX];
	uint16_t port;
};

struct app_nat {
	const struct bx_config *cfg;
	struct app_topo *topo;
	struct app_sessions *sessions;
	struct bx_stats_lcore *st;
	struct rte_rcu_qsbr *qsbr;
	const struct app_ports *ports;
	const uint64_t *nexthop;
	struct app_neigh *neigh;
	uint32_t relay_slot;              /* neigh.c slot of the relay */
	GMainContext *ctx;
	struct bx_ice *ice;
	struct bx_stunmux *mux;
	struct bx_stunmux_routes *routes; /* what the translator reads */
	struct nat_route *route;
	unsigned n_route, cap_route;
	struct nat_peer *peer;
	unsigned n_peer, cap_peer;
	app_nat_signal_fn signal_out;
	void *signal_ctx;
	bool stun_from_config;
	/* The relay client. */
	bool relay_known;
	rte_be32_t relay_ip;
	rte_be16_t relay_port;
	uint8_t *relay_key;               /* sodium_malloc */
	uint64_t relay_key_expiry;
	uint64_t relay_seq;               /* of the latest REGISTER */
	bool relay_up;
	uint64_t relay_ok_ms;
	uint64_t relay_next_ms;
	bool relay_refused_said;
	unsigned relay_unanswered;        /* registrations since an answer */
	uint32_t relay_lease_s;           /* the relay's latest grant */
	bool routes_stale;                /* a publish failed: retry */
	bool suspended;                   /* severed: no agents until resumed */
	bool closing;                     /* app_nat_close: no more changes */
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t
unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct nat_peer *
peer_find(struct app_nat *n, const char *id)
{
	unsigned i;

	for (i = 0; i < n->n_peer; i++)
		if (strcmp(n->peer[i].id, id) == 0)
			return &n->peer[i];
	return NULL;
}

static const char *
kind_name(enum app_path_kind k)
{
	switch (k) {
	case APP_PATH_DIRECT:
		return "direct";
	case APP_PATH_RELAY:
		return "relay";
	default:
		return "none";
	}
}

static bool
path_same(const struct app_path *a, const struct app_path *b)
{
	return a->kind == b->kind && a->ip == b->ip && a->port == b->port &&
	       a->relay_handle == b->relay_handle;
}

/* Direct if ICE has a pair, else the relay if it answers, else none.
 * Staged: the caller commits (once for many peers). */
static void
path_update(struct app_nat *n, struct nat_peer *np)
{
	struct app_path want;
	char ip[INET_ADDRSTRLEN];
	int rc;

	memset(&want, 0, sizeof(want));
	if (np->ice_up) {
		want.kind = APP_PATH_DIRECT;
		want.ip = np->ice_ip;
		want.port = np->ice_port;
	} else if (n->relay_up) {
		want.kind = APP_PATH_RELAY;
		want.ip = n->relay_ip;
		want.port = n->relay_port;
		want.relay_handle = bx_relay_handle(np->id);
	}
	if (path_same(&want, &np->cur))
		return;
	rc = app_topo_set_path(n->topo, np->id, &want);
	if (rc != 0) {
		fprintf(stderr, LOG_PREFIX "peer %s: cannot set its path: %s\n",
			np->id, strerror(-rc));
		return;
	}
	np->cur = want;
	inet_ntop(AF_INET, &want.ip, ip, sizeof(ip));
	if (want.kind == APP_PATH_NONE)
		printf(LOG_PREFIX "peer %s: path none (no direct pair, no relay)\n",
		       np->id);
	else
		printf(LOG_PREFIX "peer %s: path %s via %s:%u%s%s%s\n", np->id,
		       kind_name(want.kind), ip, rte_be_to_cpu_16(want.port),
		       want.kind == APP_PATH_DIRECT ? " (ICE " : "",
		       want.kind == APP_PATH_DIRECT ? np->ice_type : "",
		       want.kind == APP_PATH_DIRECT ? ")" : "");
	fflush(stdout);
}

static void
paths_update_all(struct app_nat *n)
{
	unsigned i;

	for (i = 0; i < n->n_peer; i++)
		path_update(n, &n->peer[i]);
	app_topo_commit(n->topo);
}

/* ---- ICE callbacks ------------------------------------------------------ */

static const char *
signal_name(enum bx_ice_kind k)
{
	static const char *const names[] = {
		[BX_ICE_INVITE] = "INVITE", [BX_ICE_OFFER] = "OFFER",
		[BX_ICE_ANSWER] = "ANSWER", [BX_ICE_CANDIDATE] = "CANDIDATE",
		[BX_ICE_END_OF_CANDIDATES] = "END_OF_CANDIDATES",
		[BX_ICE_BYE] = "BYE",
	};

	return (unsigned)k < BX_ARRAY_SIZE(names) ? names[k] : "?";
}

static void
on_signal(void *ud, const struct bx_ice_signal *s)
{
	struct app_nat *n = ud;
	struct nat_peer *np;

	if (n->signal_out != NULL && n->signal_out(n->signal_ctx, s) == 0)
		return;
	/* At exit the BYEs may not make it: nothing to retry. */
	if (n->closing || s->kind == BX_ICE_BYE)
		return;
	/* An INVITE the hub link could not take (its signaling stream not
	 * up yet, e.g. just after start): invite again shortly rather than
	 * after the negotiation's timeout. Other messages are covered by
	 * that timeout. */
	np = peer_find(n, s->peer);
	if (s->kind == BX_ICE_INVITE && np != NULL) {
		if (np->restart_ms == 0)
			fprintf(stderr, LOG_PREFIX "peer %s: ICE %s not sent (hub "
				"signaling not up); again in %u ms\n", s->peer,
				signal_name(s->kind), NAT_REINVITE_MS);
		np->restart_ms = mono_ms() + NAT_REINVITE_MS;
		return;
	}
	fprintf(stderr, LOG_PREFIX "peer %s: ICE %s not sent (hub signaling "
		"down or busy); the negotiation retries\n", s->peer,
		signal_name(s->kind));
}

static void
on_path(void *ud, const char *peer, const struct bx_ice_path *p)
{
	struct app_nat *n = ud;
	struct nat_peer *np = peer_find(n, peer);

	if (np == NULL || n->closing)
		return;
	np->ice_up = p->up;
	np->ice_ip = p->remote_ip;
	np->ice_port = p->remote_port;
	snprintf(np->ice_type, sizeof(np->ice_type), "%s", p->remote_type);
	path_update(n, np);
	app_topo_commit(n->topo);
}

/* The translator's routes, rebuilt and published whole (RCU). */
static void
routes_publish(struct app_nat *n)
{
	struct bx_stunmux_routes *next, *old;
	unsigned i;

	next = bx_stunmux_routes_create(n->n_route * 2u + 16u,
					n->cfg->ice.port_min, n->cfg->ice.port_max);
	for (i = 0; next != NULL && i < n->n_route; i++)
		if (bx_stunmux_routes_add(next, n->route[i].ufrag,
					  n->route[i].port) != 0)
			break;
	if (next == NULL || i < n->n_route) {
		if (!n->routes_stale)
			fprintf(stderr, LOG_PREFIX "STUN routes: cannot publish (%s); "
				"the previous ones stay, retrying\n",
				strerror(errno));
		bx_stunmux_routes_free(next);
		n->routes_stale = true;
		return;
	}
	n->routes_stale = false;
	old = n->routes;
	__atomic_store_n(&n->routes, next, __ATOMIC_RELEASE);
	rte_rcu_qsbr_synchronize(n->qsbr, RTE_QSBR_THRID_INVALID);
	bx_stunmux_routes_free(old);
}

static void
on_route(void *ud, const char *ufrag, uint16_t port, bool add)
{
	struct app_nat *n = ud;
	unsigned i;

	if (n->closing)
		return;
	for (i = 0; i < n->n_route; i++)
		if (strcmp(n->route[i].ufrag, ufrag) == 0)
			break;
	if (add && i == n->n_route) {
		if (n->n_route == n->cap_route) {
			unsigned cap = n->cap_route ? 2u * n->cap_route : 16u;
			struct nat_route *g = realloc(n->route, cap * sizeof(*g));

			if (g == NULL) {
				fprintf(stderr, LOG_PREFIX "STUN routes: no memory\n");
				return;
			}
			n->route = g;
			n->cap_route = cap;
		}
		snprintf(n->route[i].ufrag, sizeof(n->route[i].ufrag), "%s", ufrag);
		n->route[i].port = port;
		n->n_route++;
	} else if (!add && i < n->n_route) {
		n->route[i] = n->route[--n->n_route];
	} else {
		return;
	}
	routes_publish(n);
}

/* ---- peers -------------------------------------------------------------- */

void
app_nat_peer_add(struct app_nat *n, const char *id)
{
	struct nat_peer *np;
	int rc;

	if (peer_find(n, id) != NULL)
		return;
	if (n->n_peer == n->cap_peer) {
		unsigned cap = n->cap_peer ? 2u * n->cap_peer : 16u;
		struct nat_peer *g = realloc(n->peer, cap * sizeof(*g));

		if (g == NULL) {
			fprintf(stderr, LOG_PREFIX "peer %s: no memory for NAT "
				"traversal\n", id);
			return;
		}
		n->peer = g;
		n->cap_peer = cap;
	}
	np = &n->peer[n->n_peer++];
	memset(np, 0, sizeof(*np));
	snprintf(np->id, sizeof(np->id), "%s", id);
	if (n->ice != NULL && !n->suspended) {
		rc = bx_ice_peer_add(n->ice, id);
		if (rc != 0 && rc != -EEXIST)
			fprintf(stderr, LOG_PREFIX "peer %s: no ICE: %s\n", id,
				strerror(-rc));
	}
	path_update(n, np);
}

void
app_nat_peer_remove(struct app_nat *n, const char *id)
{
	struct nat_peer *np = peer_find(n, id);

	if (np == NULL)
		return;
	*np = n->peer[--n->n_peer];
	if (n->ice != NULL)
		bx_ice_peer_remove(n->ice, id);
}

void
app_nat_signal_in(struct app_nat *n, const struct bx_ice_signal *s)
{
	char err[256];
	int rc;

	if (n->ice == NULL)
		return;
	rc = bx_ice_signal_in(n->ice, s, err, sizeof(err));
	/* Another session's leftovers are routine; the rest is worth a line. */
	if (rc != 0 && rc != -ESTALE)
		fprintf(stderr, LOG_PREFIX "signal from %s refused: %s\n",
			s->peer, err);
}

void
app_nat_set_signal(struct app_nat *n, app_nat_signal_fn fn, void *ctx)
{
	n->signal_out = fn;
	n->signal_ctx = ctx;
}

/* ---- the relay client ---------------------------------------------------- */

/* Between registrations: the configured interval, or sooner when the
 * relay granted a short lease (a credential about to expire). */
static uint64_t
relay_interval_ms(const struct app_nat *n)
{
	uint64_t ms = (uint64_t)n->cfg->relay.register_interval_s * 1000u;

	if (n->relay_lease_s != 0 && (uint64_t)n->relay_lease_s * 500u < ms)
		ms = (uint64_t)n->relay_lease_s * 500u;
	return ms > RELAY_FAST_MS ? ms : RELAY_FAST_MS;
}

static void
relay_register(struct app_nat *n, uint64_t now)
{
	uint8_t msg[BX_RELAY_REGISTER_MAX];
	struct bx_wire_outer o;
	uint64_t nh, seq;
	int len, i;

	nh = __atomic_load_n(&n->nexthop[n->relay_slot], __ATOMIC_ACQUIRE);
	if ((nh & APP_NH_VALID) == 0) {
		n->relay_next_ms = now + 100u; /* neigh.c is on it */
		return;
	}
	/* Strictly growing, even if the wall clock steps back. */
	seq = unix_ms();
	if (seq <= n->relay_seq)
		seq = n->relay_seq + 1u;
	len = bx_relay_register_encode(msg, sizeof(msg), n->cfg->node_id,
				       n->relay_key_expiry, n->relay_key, seq);
	if (len < 0) {
		fprintf(stderr, LOG_PREFIX "relay: cannot register: %s\n",
			strerror(-len));
		n->relay_next_ms = now + n->cfg->relay.register_interval_s * 1000u;
		return;
	}
	n->relay_seq = seq;
	memset(&o, 0, sizeof(o));
	o.src_mac = n->ports->underlay_mac;
	for (i = RTE_ETHER_ADDR_LEN - 1; i >= 0; i--, nh >>= 8)
		o.dst_mac.addr_bytes[i] = (uint8_t)nh;
	o.src_ip = n->cfg->underlay.address.addr;
	o.dst_ip = n->relay_ip;
	o.src_port = rte_cpu_to_be_16(n->cfg->mesh_port);
	o.dst_port = n->relay_port;
	app_sessions_send(n->sessions, msg, (uint16_t)len, &o,
			  BX_STAT_RELAY_CONTROL_TX);
	n->relay_next_ms = now + (n->relay_up ? relay_interval_ms(n) : RELAY_FAST_MS);
	if (++n->relay_unanswered == RELAY_MISSES && !n->relay_up) {
		char ip[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &n->relay_ip, ip, sizeof(ip));
		fprintf(stderr, LOG_PREFIX "relay %s:%u: no answer to %u "
			"registrations; still trying every %u ms\n", ip,
			rte_be_to_cpu_16(n->relay_port), RELAY_MISSES,
			RELAY_FAST_MS);
	}
}

static void
relay_set_up(struct app_nat *n, bool up)
{
	char ip[INET_ADDRSTRLEN];

	if (n->relay_up == up)
		return;
	n->relay_up = up;
	inet_ntop(AF_INET, &n->relay_ip, ip, sizeof(ip));
	printf(LOG_PREFIX "relay %s:%u %s\n", ip, rte_be_to_cpu_16(n->relay_port),
	       up ? "up: registered" : "down: no answer");
	fflush(stdout);
	paths_update_all(n);
}

void
app_nat_relay_frame(void *ctx, const uint8_t *msg, size_t len,
		    const struct bx_wire_udp_view *v)
{
	struct app_nat *n = ctx;
	enum bx_drop_reason r, why;
	uint32_t lease;

	/* Only our relay's answers: nobody else's matter. */
	if (!n->relay_known || v->src_ip != n->relay_ip ||
	    v->src_port != n->relay_port) {
		bx_stats_rx_drop(n->st, BX_DROP_RELAY_UNREGISTERED, 1);
		return;
	}
	switch (bx_relay_msg_op(msg, len)) {
	case BX_RELAY_OP_REGISTERED:
		r = bx_relay_registered_check(msg, len, n->relay_key,
					      n->relay_seq, &lease);
		if (r != BX_DROP_NONE) {
			bx_stats_rx_drop(n->st, r, 1);
			return;
		}
		bx_stats_add(n->st, BX_STAT_RELAY_CONTROL_RX, 1);
		n->relay_ok_ms = mono_ms();
		n->relay_refused_said = false;
		n->relay_unanswered = 0;
		n->relay_lease_s = lease;
		relay_set_up(n, true);
		break;
	case BX_RELAY_OP_REFUSED:
		r = bx_relay_refused_check(msg, len, n->relay_seq, &why);
		if (r != BX_DROP_NONE) {
			bx_stats_rx_drop(n->st, r, 1);
			return;
		}
		bx_stats_add(n->st, BX_STAT_RELAY_CONTROL_RX, 1);
		if (!n->relay_refused_said)
			fprintf(stderr, LOG_PREFIX "relay refused our registration: %s\n",
				bx_drop_name(why));
		n->relay_refused_said = true;
		break;
	default:
		bx_stats_rx_drop(n->st, BX_DROP_MSG_UNHANDLED, 1);
		break;
	}
}

void
app_nat_mesh(struct app_nat *n, const struct app_mesh *m)
{
	char ip[INET_ADDRSTRLEN];
	bool moved;

	if (n->ice != NULL && !n->stun_from_config) {
		if (m->n_stun > 0) {
			inet_ntop(AF_INET, &m->stun[0].ip, ip, sizeof(ip));
			bx_ice_set_stun(n->ice, ip, m->stun[0].port);
		} else {
			bx_ice_set_stun(n->ice, NULL, 0);
		}
	}
	if (m->n_relays == 0) {
		n->relay_known = false;
		relay_set_up(n, false);
		return;
	}
	moved = !n->relay_known || n->relay_ip != m->relays[0].ip ||
		n->relay_port != rte_cpu_to_be_16(m->relays[0].port);
	memcpy(n->relay_key, m->relay_key, BX_RELAY_KEY_LEN);
	n->relay_key_expiry = m->relay_key_expiry;
	n->relay_known = true;
	if (moved) {
		relay_set_up(n, false);
		n->relay_unanswered = 0;
		n->relay_lease_s = 0;
		n->relay_ip = m->relays[0].ip;
		n->relay_port = rte_cpu_to_be_16(m->relays[0].port);
		app_neigh_set(n->neigh, n->relay_slot, 0, "relay", n->relay_ip);
		inet_ntop(AF_INET, &n->relay_ip, ip, sizeof(ip));
		printf(LOG_PREFIX "relay %s:%u from the hub\n", ip,
		       m->relays[0].port);
		fflush(stdout);
	}
	n->relay_next_ms = 0; /* register (again) now: a fresh credential */
}

void
app_nat_poll(struct app_nat *n)
{
	uint64_t now;
	unsigned i;

	if (n == NULL)
		return;
	for (i = 0; i < GLIB_DISPATCH_MAX; i++)
		if (!g_main_context_iteration(n->ctx, FALSE))
			break;
	now = mono_ms();
	/* Outside libnice's callbacks: a negotiation can start over. */
	for (i = 0; n->ice != NULL && i < n->n_peer; i++) {
		struct nat_peer *np = &n->peer[i];

		if (np->restart_ms == 0 || now < np->restart_ms)
			continue;
		np->restart_ms = 0;
		bx_ice_peer_remove(n->ice, np->id);
		bx_ice_peer_add(n->ice, np->id);
	}
	if (n->routes_stale)
		routes_publish(n);
	if (!n->relay_known)
		return;
	if (n->relay_up &&
	    now - n->relay_ok_ms > RELAY_MISSES * n->cfg->relay.register_interval_s * 1000u)
		relay_set_up(n, false);
	if (now >= n->relay_next_ms)
		relay_register(n, now);
}

void
app_nat_suspend(struct app_nat *n)
{
	unsigned i;

	if (n == NULL || n->ice == NULL)
		return;
	n->suspended = true;
	/* Agents closed (BYE to each peer); the peers stay known. */
	for (i = 0; i < n->n_peer; i++) {
		n->peer[i].restart_ms = 0;
		bx_ice_peer_remove(n->ice, n->peer[i].id);
	}
}

void
app_nat_resume(struct app_nat *n)
{
	unsigned i;

	if (n == NULL || n->ice == NULL || !n->suspended)
		return;
	n->suspended = false;
	for (i = 0; i < n->n_peer; i++)
		bx_ice_peer_add(n->ice, n->peer[i].id);
}

/* ---- what status shows --------------------------------------------------- */

int
app_nat_peer_info(const struct app_nat *n, const char *id, char *state,
		  size_t len)
{
	struct bx_ice_peer_info info;

	if (n == NULL || n->ice == NULL ||
	    bx_ice_peer_info(n->ice, id, &info) != 0)
		return -ENOENT;
	snprintf(state, len, "%s", info.state);
	return 0;
}

/* ---- set up -------------------------------------------------------------- */

struct bx_stunmux *
app_nat_stunmux(const struct app_nat *n)
{
	return n != NULL ? n->mux : NULL;
}

struct bx_stunmux_routes *const *
app_nat_routes(const struct app_nat *n)
{
	return &n->routes;
}

struct app_nat *
app_nat_create(const struct app_nat_conf *c, char *err, size_t errlen)
{
	const struct bx_config *cfg = c->cfg;
	struct bx_stunmux_conf mc;
	struct bx_ice_conf ic;
	struct bx_ice_cbs cbs = {
		.signal = on_signal, .path = on_path, .route = on_route,
	};
	char local[INET_ADDRSTRLEN], stun[INET_ADDRSTRLEN];
	struct app_nat *n = calloc(1, sizeof(*n));

	if (n == NULL || sodium_init() < 0) {
		free(n);
		snprintf(err, errlen, "NAT traversal: no memory");
		errno = ENOMEM;
		return NULL;
	}
	n->cfg = cfg;
	n->topo = c->topo;
	n->sessions = c->sessions;
	n->st = c->st;
	n->qsbr = c->qsbr;
	n->ports = c->ports;
	n->nexthop = c->nexthop;
	n->neigh = c->neigh;
	n->relay_slot = c->relay_slot;
	n->relay_key = sodium_malloc(BX_RELAY_KEY_LEN);
	n->ctx = g_main_context_new();
	if (n->relay_key == NULL || n->ctx == NULL) {
		snprintf(err, errlen, "NAT traversal: no memory");
		goto fail;
	}

	memset(&mc, 0, sizeof(mc));
	mc.local_ip = cfg->underlay.address.addr;
	mc.mesh_port = cfg->mesh_port;
	mc.agent_port_min = cfg->ice.port_min;
	mc.agent_port_max = cfg->ice.port_max;
	n->mux = bx_stunmux_create(&mc);
	n->routes = bx_stunmux_routes_create(16u, cfg->ice.port_min,
					     cfg->ice.port_max);
	if (n->mux == NULL || n->routes == NULL) {
		snprintf(err, errlen, "ice: the STUN translator: %s",
			 strerror(errno));
		goto fail;
	}

	inet_ntop(AF_INET, &cfg->underlay.address.addr, local, sizeof(local));
	memset(&ic, 0, sizeof(ic));
	ic.ctx = n->ctx;
	ic.self_id = cfg->node_id;
	ic.local_ip = local;
	ic.port_min = cfg->ice.port_min;
	ic.port_max = cfg->ice.port_max;
	ic.advertised_port = cfg->mesh_port;
	if (cfg->ice.n_stun > 0) {
		inet_ntop(AF_INET, &cfg->ice.stun[0].ip, stun, sizeof(stun));
		ic.stun_ip = stun;
		ic.stun_port = cfg->ice.stun[0].port;
		n->stun_from_config = true;
	}
	/* A negotiation whose INVITE or OFFER the hub could not deliver
	 * (the peer's signaling stream not up yet) ends well before
	 * libnice's own timers would give up, and is retried. */
	ic.connect_timeout_ms = NAT_CONNECT_TIMEOUT_MS;
	ic.retry_min_ms = cfg->ice.retry_min_s * 1000u;
	ic.retry_max_ms = cfg->ice.retry_max_s * 1000u;
	n->ice = bx_ice_create(&ic, &cbs, n, err, errlen);
	if (n->ice == NULL)
		goto fail;
	return n;
fail:
	app_nat_free(n);
	errno = errno != 0 ? errno : EINVAL;
	return NULL;
}

void
app_nat_close(struct app_nat *n)
{
	if (n == NULL || n->closing)
		return;
	/* Every agent closes with a BYE while the hub link can still take
	 * it; the callbacks change nothing any more. */
	n->closing = true;
	bx_ice_free(n->ice);
	n->ice = NULL;
}

void
app_nat_free(struct app_nat *n)
{
	if (n == NULL)
		return;
	app_nat_close(n);
	bx_stunmux_free(n->mux);
	bx_stunmux_routes_free(n->routes);
	if (n->ctx != NULL)
		g_main_context_unref(n->ctx);
	sodium_free(n->relay_key);
	free(n->route);
	free(n->peer);
	free(n);
}
