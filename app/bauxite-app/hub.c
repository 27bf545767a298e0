/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite-app's side of the hub link (control/hub): what its thread
 * received is applied here, on the control lcore -- topology through
 * topo.c (one registry commit per update), policy through policy.c -- and
 * its metrics reports read the counters.
 *
 * Topology: a full update is the whole set of the hub's peers: every peer
 * that came from the hub (or from a hub snapshot at start) and is not in
 * it goes; a diff upserts and removes. Updates not above the applied
 * version are ignored, so a replayed or duplicated update changes nothing.
 * Each applied update is also written to the warm-start snapshot, so a
 * restart finds the latest topology even when the hub is away.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "app.h"
#include "bx_ice.h"

#define LOG_PREFIX "bauxite-app: "

/*
 * With ICE on, the endpoint the hub recorded (the address a node's hub
 * connection came from: behind a NAT, the NAT's) is not a path: ICE finds
 * the pair that works, or the relay carries the traffic (nat.c). Without
 * it, a node that bonds makes one path of each endpoint the hub lists for
 * the peer (`bauxite-dispatch nodes endpoints`); others use the first.
 */
static void
from_hub(const struct bx_config *cfg, const struct bx_hub_peer *h,
	 struct app_peer_src *p)
{
	unsigned j;

	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", h->id);
	p->vip = h->virtual_ip;
	for (j = 0; j < h->n_allowed && j < BX_PEER_MAX_PREFIXES; j++) {
		p->allowed[j].addr = h->allowed[j].addr;
		p->allowed[j].len = h->allowed[j].len;
	}
	p->n_allowed = j;
	if (!cfg->ice.enabled) {
		p->endpoint_ip = h->endpoint_ip;
		p->endpoint_port = rte_cpu_to_be_16(h->endpoint_port);
	}
	/* With several underlays even one endpoint needs the right one. */
	if (!cfg->ice.enabled && h->n_endpoints > 0 && app_bonding_active(cfg)) {
		for (j = 0; j < h->n_endpoints && j < APP_PATHS; j++) {
			p->paths[j].ip = h->endpoints[j].ip;
			p->paths[j].port = rte_cpu_to_be_16(h->endpoints[j].port);
			p->paths[j].ul = (uint8_t)bx_config_underlay_for(
				cfg, h->endpoints[j].ip, j);
		}
		p->n_paths = j;
	}
	memcpy(p->public_key, h->x25519_public, sizeof(p->public_key));
	p->cfg_index = -1;
	p->origin = APP_PEER_HUB;
}

static bool
listed(const struct bx_hub_event *ev, const char *id)
{
	unsigned i;

	for (i = 0; i < ev->n_upsert; i++)
		if (strcmp(ev->upsert[i].id, id) == 0)
			return true;
	return false;
}

/* Full update: hub peers (and restored ones) the hub no longer lists. */
static void
remove_unlisted(struct app_hub_glue *g, const struct bx_hub_event *ev)
{
	struct app_warm *book = g->topo->book;
	unsigned i = 0;

	/* app_topo_remove moves the last entry into the removed one's
	 * place: look at the same position again. */
	while (i < book->n) {
		const struct app_peer_src *p = &book->peers[i];

		if (p->origin != APP_PEER_CONFIG && !listed(ev, p->id) &&
		    app_topo_remove(g->topo, p->id) == 0)
			continue;
		i++;
	}
}

static void
apply_topology(struct app_hub_glue *g, const struct bx_hub_event *ev)
{
	struct app_warm *book = g->topo->book;
	char err[256];
	unsigned i, bad = 0;

	if (ev->version <= book->topology_version && !ev->full)
		return;
	if (ev->full)
		remove_unlisted(g, ev);
	for (i = 0; i < ev->n_remove; i++) {
		const struct app_peer_src *p = NULL;
		unsigned k;

		for (k = 0; k < book->n; k++)
			if (strcmp(book->peers[k].id, ev->remove[i]) == 0)
				p = &book->peers[k];
		/* The hub cannot remove what the operator configured. */
		if (p != NULL && p->origin != APP_PEER_CONFIG)
			app_topo_remove(g->topo, ev->remove[i]);
	}
	for (i = 0; i < ev->n_upsert; i++) {
		struct app_peer_src p;

		from_hub(g->topo->cfg, &ev->upsert[i], &p);
		if (app_topo_upsert(g->topo, &p, err, sizeof(err)) != 0) {
			fprintf(stderr, LOG_PREFIX "hub topology %" PRIu64 ": %s\n",
				ev->version, err);
			bad++;
		}
	}
	app_topo_commit(g->topo);
	book->topology_version = ev->version;
	/* A peer left out (here, or by the link's checks: the warning) is
	 * a version we do not fully have: until a full update applies
	 * cleanly, tell the hub "nothing", so the next connect brings
	 * everything again. */
	if (bad != 0 || ev->warning[0] != '\0')
		g->resync = true;
	else if (ev->full)
		g->resync = false;
	printf(LOG_PREFIX "hub topology %" PRIu64 " applied (%s): %u upsert, "
	       "%u remove%s%s; %u peer(s)\n", ev->version,
	       ev->full ? "full" : "diff", ev->n_upsert - bad, ev->n_remove,
	       ev->warning[0] ? "; " : "", ev->warning, book->n);
	fflush(stdout);
}

_Static_assert(BX_ICE_ID_MAX == BX_HUB_ID_MAX &&
	       BX_ICE_UFRAG_MAX == BX_HUB_SIG_CRED_MAX &&
	       BX_ICE_PWD_MAX == BX_HUB_SIG_CRED_MAX &&
	       BX_ICE_CAND_MAX == BX_HUB_SIG_CAND_MAX &&
	       BX_ICE_CAND_LEN == BX_HUB_SIG_CAND_LEN,
	       "ICE's signals and the hub link's have the same sizes");
_Static_assert((int)BX_ICE_INVITE == (int)BX_HUB_SIG_INVITE &&
	       (int)BX_ICE_OFFER == (int)BX_HUB_SIG_OFFER &&
	       (int)BX_ICE_ANSWER == (int)BX_HUB_SIG_ANSWER &&
	       (int)BX_ICE_CANDIDATE == (int)BX_HUB_SIG_CANDIDATE &&
	       (int)BX_ICE_END_OF_CANDIDATES == (int)BX_HUB_SIG_END_OF_CANDIDATES &&
	       (int)BX_ICE_BYE == (int)BX_HUB_SIG_BYE,
	       "a signal's kind is the same number on both sides");
_Static_assert(APP_MESH_MAX == BX_HUB_MAX_STUN && APP_MESH_MAX == BX_HUB_MAX_RELAYS,
	       "every STUN server and relay the hub names fits");

/* nat.c's signals out: to the hub link's queue. */
static int
signal_out(void *ctx, const struct bx_ice_signal *is)
{
	struct app_hub_glue *g = ctx;
	struct bx_hub_signal hs;
	int rc;

	memset(&hs, 0, sizeof(hs));
	hs.kind = (enum bx_hub_signal_kind)is->kind;
	memcpy(hs.peer, is->peer, sizeof(hs.peer));
	hs.session = is->session;
	memcpy(hs.ufrag, is->ufrag, sizeof(hs.ufrag));
	memcpy(hs.pwd, is->pwd, sizeof(hs.pwd));
	hs.n_cand = is->n_cand;
	memcpy(hs.cand, is->cand, sizeof(hs.cand));
	rc = bx_hub_signal_send(g->hub, &hs);
	sodium_memzero(&hs, sizeof(hs));
	return rc;
}

static void
signal_in(struct app_hub_glue *g, const struct bx_hub_signal *hs)
{
	struct bx_ice_signal is;

	memset(&is, 0, sizeof(is));
	is.kind = (enum bx_ice_kind)hs->kind;
	memcpy(is.peer, hs->peer, sizeof(is.peer));
	is.session = hs->session;
	memcpy(is.ufrag, hs->ufrag, sizeof(is.ufrag));
	memcpy(is.pwd, hs->pwd, sizeof(is.pwd));
	is.n_cand = hs->n_cand;
	memcpy(is.cand, hs->cand, sizeof(is.cand));
	app_nat_signal_in(g->nat, &is);
	sodium_memzero(&is, sizeof(is));
}

static void
mesh_in(struct app_hub_glue *g, const struct bx_hub_event *ev)
{
	const struct bx_hub_mesh *hm = &ev->mesh;
	struct app_mesh m;
	unsigned i;

	memset(&m, 0, sizeof(m));
	for (i = 0; i < hm->n_stun && i < APP_MESH_MAX; i++) {
		m.stun[i].ip = hm->stun[i].ip;
		m.stun[i].port = hm->stun[i].port;
	}
	m.n_stun = i;
	for (i = 0; i < hm->n_relays && i < APP_MESH_MAX; i++) {
		m.relays[i].ip = hm->relays[i].ip;
		m.relays[i].port = hm->relays[i].port;
	}
	m.n_relays = i;
	memcpy(m.relay_key, hm->relay_key, sizeof(m.relay_key));
	m.relay_key_expiry = hm->relay_key_expiry;
	printf(LOG_PREFIX "hub mesh settings: %u STUN server(s), %u relay(s)%s%s\n",
	       m.n_stun, m.n_relays, ev->warning[0] ? "; " : "", ev->warning);
	fflush(stdout);
	app_nat_mesh(g->nat, &m);
	sodium_memzero(&m, sizeof(m));
}

void
app_hub_poll(struct app_hub_glue *g)
{
	struct bx_hub_event *ev;
	char err[512];
	bool topology = false;
	int rc;

	if (g->hub == NULL)
		return;
	while (bx_hub_poll(g->hub, &ev) == 0) {
		switch (ev->kind) {
		case BX_HUB_EV_TOPOLOGY:
			apply_topology(g, ev);
			topology = true;
			break;
		case BX_HUB_EV_POLICY:
			rc = app_policy_apply(g->policy, ev->rules_json,
					      ev->version, err, sizeof(err));
			if (rc != 0 && rc != -EALREADY)
				fprintf(stderr, LOG_PREFIX "hub policy: %s\n", err);
			break;
		case BX_HUB_EV_MESH:
			if (g->nat != NULL)
				mesh_in(g, ev);
			break;
		case BX_HUB_EV_SIGNAL:
			if (g->nat != NULL)
				signal_in(g, &ev->signal);
			break;
		default:
			printf(LOG_PREFIX "hub %s: %s\n",
			       ev->connected ? "connected" : "unreachable",
			       ev->warning);
			fflush(stdout);
			break;
		}
		bx_hub_event_free(ev);
	}
	bx_hub_applied(g->hub, g->resync ? 0 : g->topo->book->topology_version,
		       g->policy->version);
	if (topology && g->on_topology != NULL)
		g->on_topology(g->on_topology_ctx);
}

/* Hub thread: every counter and every drop reason that happened. */
static unsigned
collect(void *ctx, struct bx_hub_counter *out, unsigned max)
{
	const struct bx_stats *stats = ctx;
	struct bx_stats_lcore sum;
	unsigned i, n = 0;

	bx_stats_sum(stats, &sum);
	for (i = 0; i < BX_STAT__COUNT && n < max; i++, n++) {
		snprintf(out[n].name, sizeof(out[n].name), "%s",
			 bx_stats_counter_name((enum bx_stat_id)i));
		out[n].value = sum.counter[i];
	}
	for (i = BX_DROP_NONE + 1; i < BX_DROP__COUNT && n < max; i++) {
		if (sum.drop[i] == 0)
			continue;
		snprintf(out[n].name, sizeof(out[n].name), "drop_%s",
			 bx_drop_name((enum bx_drop_reason)i));
		out[n].value = sum.drop[i];
		n++;
	}
	return n;
}

int
app_hub_start(struct app_hub_glue *g, const struct bx_config *cfg,
	      const struct bx_stats *stats, char *err, size_t errlen)
{
	const struct bx_config_hub *h = &cfg->hub;
	struct bx_hub_conf hc;

	if (!h->set)
		return 0;
	memset(&hc, 0, sizeof(hc));
	hc.target = h->url;
	hc.server_name = h->server_name[0] ? h->server_name : NULL;
	hc.ca_file = h->ca_file;
	hc.cert_file = h->cert_file;
	hc.key_file = h->key_file;
	hc.metrics_interval_s = h->metrics_interval_s;
	hc.reconnect_max_s = h->reconnect_max_s;
	/* Ask for everything on the first connect: the snapshot's peers
	 * keep working meanwhile, and the full update reconciles what the
	 * snapshot may hold that the hub no longer has. */
	hc.topology_version = 0;
	g->resync = true;
	hc.collect = collect;
	hc.collect_ctx = (void *)(uintptr_t)stats;
	g->hub = bx_hub_start(&hc, err, errlen);
	if (g->hub == NULL)
		return -errno;
	if (g->nat != NULL)
		app_nat_set_signal(g->nat, signal_out, g);
	printf(LOG_PREFIX "hub %s: connecting (have topology version %" PRIu64
	       " from the snapshot)\n", h->url, g->topo->book->topology_version);
	fflush(stdout);
	return 0;
}

void
app_hub_stop(struct app_hub_glue *g)
{
	if (g->nat != NULL)
		app_nat_set_signal(g->nat, NULL, NULL);
	bx_hub_stop(g->hub);
	g->hub = NULL;
}
