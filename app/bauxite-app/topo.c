/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The peer set at run time: one place that adds, changes and removes a
 * peer everywhere it lives -- the book (struct app_warm: what the node
 * knows and snapshots), the registry (routes and session slots, RCU), the
 * session layer (handshake state), neigh.c (next hop) and the kernel's
 * routes into the inner TAP. The config's peers come through here at
 * start, the hub's topology later, in the same way.
 *
 * Changes are staged; app_topo_commit publishes them in one registry
 * commit (one grace period for a whole topology diff).
 *
 * Origins: a peer the config lists is the operator's and stays as the
 * config says; the hub cannot change or remove it (a hub entry with its id
 * is ignored, said once).
 *
 * Control lcore only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "app.h"

#define LOG_PREFIX "bauxite-app: "

static struct app_peer_src *
book_find(struct app_warm *w, const char *id)
{
	unsigned i;

	for (i = 0; i < w->n; i++)
		if (strcmp(w->peers[i].id, id) == 0)
			return &w->peers[i];
	return NULL;
}

static int
book_append(struct app_warm *w, const struct app_peer_src *p)
{
	if (w->n == w->cap) {
		unsigned cap = w->cap ? 2u * w->cap : 16u;
		struct app_peer_src *grown = realloc(w->peers, cap * sizeof(*grown));

		if (grown == NULL)
			return -ENOMEM;
		w->peers = grown;
		w->cap = cap;
	}
	w->peers[w->n++] = *p;
	return 0;
}

static void
book_delete(struct app_warm *w, struct app_peer_src *p)
{
	*p = w->peers[--w->n];
}

/* The registry's view of @p; @path is what NAT traversal found for a
 * peer without an endpoint (NULL: nothing yet). Lane modes: the config
 * peer's own, else the node's. */
static void
conf_of(const struct app_topo *t, const struct app_peer_src *p,
	const struct app_path *path, struct bx_peer_conf *pc)
{
	const enum bx_config_bond_mode *mode = p->cfg_index >= 0 ?
		t->cfg->peers[p->cfg_index].lane_mode : t->cfg->bonding.lane_mode;
	unsigned l;

	memset(pc, 0, sizeof(*pc));
	for (l = 0; l < BX_LANE_COUNT; l++)
		pc->lane_mode[l] = (uint8_t)mode[l];
	if (p->n_paths > 0) {
		pc->n_paths = p->n_paths;
		memcpy(pc->paths, p->paths, p->n_paths * sizeof(p->paths[0]));
	}
	pc->id = p->id;
	pc->vip = p->vip;
	pc->endpoint_ip = p->endpoint_ip;
	pc->endpoint_port = p->endpoint_port;
	if (p->endpoint_ip == 0 && path != NULL && path->kind != APP_PATH_NONE) {
		pc->endpoint_ip = path->ip;
		pc->endpoint_port = path->port;
		pc->relay_handle = path->relay_handle;
	}
	pc->n_prefixes = p->n_allowed;
	pc->prefixes = p->allowed;
}

/* Next hops of every path of the peer at @idx (the others' slots
 * cleared). */
static void
neigh_paths(struct app_topo *t, uint32_t idx, const char *id,
	    const struct bx_peer_conf *pc)
{
	unsigned k;

	if (pc->n_paths == 0)
		app_neigh_set(t->neigh, APP_NH(idx, 0), 0, id, pc->endpoint_ip);
	for (k = 0; k < pc->n_paths; k++)
		app_neigh_set(t->neigh, APP_NH(idx, k), pc->paths[k].ul, id,
			      pc->paths[k].ip);
	for (k = pc->n_paths > 0 ? pc->n_paths : 1; k < APP_PATHS; k++)
		app_neigh_clear(t->neigh, APP_NH(idx, k));
}

static const struct app_path *
path_at(const struct app_topo *t, const struct bx_peer *rec)
{
	return t->path != NULL && rec != NULL ? &t->path[rec->index] : NULL;
}

static void
routes(struct app_topo *t, const struct app_peer_src *p, bool add)
{
	char err[256];

	if (app_routes_peer(t->cfg, p, add, err, sizeof(err)) != 0)
		fprintf(stderr, LOG_PREFIX "%s\n", err);
}

static void
ctr_sum(const struct app_topo *t, uint32_t idx, struct app_peer_ctr *out)
{
	unsigned k;

	memset(out, 0, sizeof(*out));
	for (k = 0; k < t->n_ctr; k++) {
		const struct app_peer_ctr *c = &t->ctr[k][idx];

		out->tx_packets += __atomic_load_n(&c->tx_packets, __ATOMIC_RELAXED);
		out->tx_bytes += __atomic_load_n(&c->tx_bytes, __ATOMIC_RELAXED);
		out->rx_packets += __atomic_load_n(&c->rx_packets, __ATOMIC_RELAXED);
		out->rx_bytes += __atomic_load_n(&c->rx_bytes, __ATOMIC_RELAXED);
	}
}

void
app_topo_traffic(const struct app_topo *t, uint32_t idx,
		 struct app_peer_ctr *out)
{
	const struct app_peer_ctr *b = &t->ctr_base[idx];

	ctr_sum(t, idx, out);
	out->tx_packets -= b->tx_packets;
	out->tx_bytes -= b->tx_bytes;
	out->rx_packets -= b->rx_packets;
	out->rx_bytes -= b->rx_bytes;
}

static const char *
origin_name(enum app_peer_origin o)
{
	switch (o) {
	case APP_PEER_CONFIG:
		return "config";
	case APP_PEER_HUB:
		return "hub";
	default:
		return "snapshot";
	}
}

/* A new peer: registry, session layer, next hop, routes, book. */
static int
add(struct app_topo *t, const struct app_peer_src *p, char *err, size_t errlen)
{
	struct bx_peer_conf pc;
	uint32_t idx;
	int rc;

	conf_of(t, p, NULL, &pc);
	rc = bx_peer_add(t->reg, &pc, &idx);
	if (rc != 0) {
		if (p->cfg_index >= 0)
			snprintf(err, errlen, "peers[%d] (%s): cannot add: %s",
				 p->cfg_index, p->id, strerror(-rc));
		else
			snprintf(err, errlen, "peer %s (%s): cannot add: %s",
				 p->id, origin_name(p->origin), strerror(-rc));
		return rc;
	}
	rc = app_sessions_peer_add(t->sessions, p, err, errlen);
	if (rc == 0)
		rc = book_append(t->book, p);
	if (rc != 0) {
		/* Undo the staged add; the removal cannot fail for a
		 * staged peer but without memory, which the commit reports. */
		app_sessions_peer_remove(t->sessions, idx);
		bx_peer_remove(t->reg, p->id);
		if (rc == -ENOMEM)
			snprintf(err, errlen, "peer %s: no memory", p->id);
		return rc;
	}
	neigh_paths(t, idx, p->id, &pc);
	routes(t, p, true);
	/* The index may have served a peer before: count from here. */
	if (t->ctr_base != NULL)
		ctr_sum(t, idx, &t->ctr_base[idx]);
	if (t->path != NULL)
		memset(&t->path[idx], 0, sizeof(t->path[idx]));
	app_paths_restart(t->paths, idx);
	app_safety_peer_added(t->safety, idx);
	/* Without an endpoint, NAT traversal finds the way. */
	if (p->endpoint_ip == 0 && t->nat != NULL)
		app_nat_peer_add(t->nat, p->id);
	return 0;
}

int
app_topo_remove(struct app_topo *t, const char *id)
{
	struct app_peer_src *p = book_find(t->book, id);
	const struct bx_peer *rec;
	uint32_t idx, k;
	int rc;

	if (p == NULL)
		return 0; /* idempotent */
	rec = bx_peer_find(t->reg, id);
	if (rec == NULL)
		return -ENOENT;
	idx = rec->index;
	rc = bx_peer_remove(t->reg, id);
	if (rc != 0)
		return rc;
	app_sessions_peer_remove(t->sessions, idx);
	for (k = 0; k < APP_PATHS; k++)
		app_neigh_clear(t->neigh, APP_NH(idx, k));
	routes(t, p, false);
	if (t->nat != NULL)
		app_nat_peer_remove(t->nat, id);
	printf(LOG_PREFIX "peer %s removed (%s)\n", id, origin_name(p->origin));
	book_delete(t->book, p);
	return 0;
}

/* Same identity, new routes or endpoint: the peer keeps its index and
 * its sessions. */
static int
change(struct app_topo *t, struct app_peer_src *old,
       const struct app_peer_src *p, char *err, size_t errlen)
{
	const struct bx_peer *rec = bx_peer_find(t->reg, p->id);
	struct bx_peer_conf pc;
	bool managed = old->endpoint_ip == 0, now_managed = p->endpoint_ip == 0;
	int rc;

	conf_of(t, p, path_at(t, rec), &pc);
	rc = bx_peer_replace(t->reg, &pc);
	if (rc != 0) {
		snprintf(err, errlen, "peer %s: cannot change: %s", p->id,
			 strerror(-rc));
		return rc;
	}
	rec = bx_peer_find(t->reg, p->id);
	routes(t, old, false);
	routes(t, p, true);
	if (rec != NULL && (old->endpoint_ip != p->endpoint_ip ||
			    old->n_paths != p->n_paths ||
			    memcmp(old->paths, p->paths, sizeof(p->paths)) != 0))
		neigh_paths(t, rec->index, p->id, &pc);
	*old = *p;
	if (managed != now_managed) {
		/* A path NAT traversal found no longer applies either way. */
		if (rec != NULL && t->path != NULL)
			memset(&t->path[rec->index], 0, sizeof(t->path[0]));
		if (t->nat != NULL && now_managed)
			app_nat_peer_add(t->nat, p->id);
		else if (t->nat != NULL)
			app_nat_peer_remove(t->nat, p->id);
	}
	return 0;
}

int
app_topo_set_path(struct app_topo *t, const char *id,
		  const struct app_path *path)
{
	struct app_peer_src *p = book_find(t->book, id);
	const struct bx_peer *rec = bx_peer_find(t->reg, id);
	struct bx_peer_conf pc;
	rte_be32_t was;
	uint32_t idx;
	int rc;

	if (p == NULL || rec == NULL || t->path == NULL)
		return -ENOENT;
	if (p->endpoint_ip != 0)
		return -EPERM;
	/* The replace frees a record staged earlier in this round: keep
	 * what is needed of it first. */
	idx = rec->index;
	was = rec->endpoint_ip;
	conf_of(t, p, path, &pc);
	rc = bx_peer_replace(t->reg, &pc);
	if (rc != 0)
		return rc;
	t->path[idx] = *path;
	if (was != pc.endpoint_ip)
		app_neigh_set(t->neigh, APP_NH(idx, 0), 0, id, pc.endpoint_ip);
	app_sessions_path_changed(t->sessions, idx);
	return 0;
}

int
app_topo_upsert(struct app_topo *t, const struct app_peer_src *p, char *err,
		size_t errlen)
{
	struct app_peer_src *old = book_find(t->book, p->id);
	int rc;

	if (strcmp(p->id, t->cfg->node_id) == 0) {
		snprintf(err, errlen, "peer %s: that is this node", p->id);
		return -EINVAL;
	}
	/* This node's own address is the kernel's, never a peer's (a low-
	 * order key or our own is refused by the session layer). */
	if (p->vip == t->cfg->inner.address.addr) {
		snprintf(err, errlen, "peer %s: its virtual IP is this node's",
			 p->id);
		return -EINVAL;
	}
	if (old == NULL)
		return add(t, p, err, errlen);
	if (old->origin == APP_PEER_CONFIG && p->origin != APP_PEER_CONFIG) {
		if (!old->shadowed)
			printf(LOG_PREFIX "peer %s: the config lists it; the "
			       "%s's entry is ignored\n", p->id,
			       origin_name(p->origin));
		old->shadowed = true;
		return 0;
	}
	if (sodium_memcmp(old->public_key, p->public_key, BX_HS_KEY_LEN) != 0) {
		/* A new identity under an old name: new sessions, new
		 * index (the old one is free at the commit). */
		rc = app_topo_remove(t, p->id);
		return rc != 0 ? rc : add(t, p, err, errlen);
	}
	return change(t, old, p, err, errlen);
}

void
app_topo_commit(struct app_topo *t)
{
	app_sessions_commit(t->sessions);
}
