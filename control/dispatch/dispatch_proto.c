/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Store nodes as the proto messages of the topology and policy streams.
 * Addresses go from the store's network order to the protos' numbers
 * (common.proto: first octet in the most significant byte).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bauxite/v1/policy.pb-c.h"
#include "bauxite/v1/topology.pb-c.h"
#include "dispatch_internal.h"

void
dispatch_ip_text(uint32_t ip, char *out, size_t outlen)
{
	struct in_addr a = { .s_addr = ip };

	if (inet_ntop(AF_INET, &a, out, (socklen_t)outlen) == NULL)
		snprintf(out, outlen, "?");
}

void
dispatch_peer_fill(struct peer_msg *pm, const struct bx_store_node *n)
{
	unsigned i;

	memset(pm, 0, sizeof(*pm));
	bauxite__v1__peer__init(&pm->peer);
	snprintf(pm->id, sizeof(pm->id), "%s", n->id);
	memcpy(pm->ed25519, n->ed25519_public, sizeof(pm->ed25519));
	memcpy(pm->x25519, n->x25519_public, sizeof(pm->x25519));
	pm->peer.id = pm->id;
	pm->peer.ed25519_public.data = pm->ed25519;
	pm->peer.ed25519_public.len = sizeof(pm->ed25519);
	pm->peer.x25519_public.data = pm->x25519;
	pm->peer.x25519_public.len = sizeof(pm->x25519);
	pm->peer.virtual_ip = ntohl(n->virtual_ip);
	for (i = 0; i < n->n_allowed && i < BX_STORE_MAX_PREFIXES; i++) {
		bauxite__v1__ipv4_prefix__init(&pm->prefixes[i]);
		pm->prefixes[i].addr = ntohl(n->allowed[i].addr);
		pm->prefixes[i].len = n->allowed[i].len;
		pm->prefix_ptrs[i] = &pm->prefixes[i];
	}
	pm->peer.n_allowed_prefixes = i;
	pm->peer.allowed_prefixes = i > 0 ? pm->prefix_ptrs : NULL;
	for (i = 0; i < n->n_endpoints && i < BX_STORE_MAX_ENDPOINTS; i++) {
		bauxite__v1__endpoint__init(&pm->endpoints[i]);
		pm->endpoints[i].ip = ntohl(n->endpoints[i].ip);
		pm->endpoints[i].port = n->endpoints[i].port;
		pm->endpoint_ptrs[i] = &pm->endpoints[i];
	}
	pm->peer.n_endpoints = i;
	pm->peer.endpoints = i > 0 ? pm->endpoint_ptrs : NULL;
}

/* Store list callback: runs with the store's lock held, so no store call. */
static int
collect_active(const struct bx_store_node *n, void *arg)
{
	struct peer_set *set = arg;
	struct peer_msg **grown, *pm;

	if (n->revoked_ms != 0)
		return 0;
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;

		grown = realloc(set->peers, cap * sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		set->peers = grown;
		set->cap = cap;
	}
	pm = malloc(sizeof(*pm));
	if (pm == NULL)
		return -ENOMEM;
	dispatch_peer_fill(pm, n);
	set->peers[set->n++] = pm;
	return 0;
}

int
dispatch_peer_set_load(struct bx_store *st, struct peer_set *set, char *err,
		       size_t errlen)
{
	int rc = bx_store_node_list(st, collect_active, set, err, errlen);

	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (rc != 0)
		dispatch_peer_set_clear(set);
	return rc;
}

void
dispatch_peer_set_clear(struct peer_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		free(set->peers[i]);
	free(set->peers);
	memset(set, 0, sizeof(*set));
}

/* Packs @u into a new buffer. */
static int
pack_update(const Bauxite__V1__TopologyUpdate *u, uint8_t **buf, size_t *len)
{
	size_t n = bauxite__v1__topology_update__get_packed_size(u);
	/* An empty message packs to 0 bytes: still a valid buffer. */
	uint8_t *b = malloc(n > 0 ? n : 1);

	if (b == NULL)
		return -ENOMEM;
	bauxite__v1__topology_update__pack(u, b);
	*buf = b;
	*len = n;
	return 0;
}

int
dispatch_pack_snapshot(const struct peer_set *set, uint64_t version,
		       const char *skip_id, uint8_t **buf, size_t *len)
{
	Bauxite__V1__TopologyUpdate u = BAUXITE__V1__TOPOLOGY_UPDATE__INIT;
	Bauxite__V1__PeerChange *changes = NULL, **ptrs = NULL;
	size_t i, n = 0;
	int rc = -ENOMEM;

	if (set->n > 0) {
		changes = calloc(set->n, sizeof(*changes));
		ptrs = calloc(set->n, sizeof(*ptrs));
		if (changes == NULL || ptrs == NULL)
			goto out;
	}
	for (i = 0; i < set->n; i++) {
		if (skip_id != NULL && strcmp(set->peers[i]->id, skip_id) == 0)
			continue;
		bauxite__v1__peer_change__init(&changes[n]);
		changes[n].op = BAUXITE__V1__PEER_CHANGE__OP__UPSERT;
		changes[n].peer = &set->peers[i]->peer;
		ptrs[n] = &changes[n];
		n++;
	}
	u.version = version;
	u.full = true;
	u.n_changes = n;
	u.changes = n > 0 ? ptrs : NULL;
	rc = pack_update(&u, buf, len);
out:
	free(ptrs);
	free(changes);
	return rc;
}

int
dispatch_pack_upsert(struct peer_msg *pm, uint64_t version, uint8_t **buf,
		     size_t *len)
{
	Bauxite__V1__TopologyUpdate u = BAUXITE__V1__TOPOLOGY_UPDATE__INIT;
	Bauxite__V1__PeerChange c = BAUXITE__V1__PEER_CHANGE__INIT;
	Bauxite__V1__PeerChange *ptr = &c;

	c.op = BAUXITE__V1__PEER_CHANGE__OP__UPSERT;
	c.peer = &pm->peer;
	u.version = version;
	u.n_changes = 1;
	u.changes = &ptr;
	return pack_update(&u, buf, len);
}

int
dispatch_pack_remove(const char *id, uint64_t version, uint8_t **buf,
		     size_t *len)
{
	Bauxite__V1__TopologyUpdate u = BAUXITE__V1__TOPOLOGY_UPDATE__INIT;
	Bauxite__V1__PeerChange c = BAUXITE__V1__PEER_CHANGE__INIT;
	Bauxite__V1__PeerChange *ptr = &c;

	c.op = BAUXITE__V1__PEER_CHANGE__OP__REMOVE;
	c.id = (char *)id;
	u.version = version;
	u.n_changes = 1;
	u.changes = &ptr;
	return pack_update(&u, buf, len);
}

int
dispatch_pack_policy(const char *rules_json, uint64_t version, uint8_t **buf,
		     size_t *len)
{
	Bauxite__V1__PolicyUpdate u = BAUXITE__V1__POLICY_UPDATE__INIT;
	size_t n;
	uint8_t *b;

	u.version = version;
	u.rules_json = (char *)rules_json;
	n = bauxite__v1__policy_update__get_packed_size(&u);
	b = malloc(n > 0 ? n : 1);
	if (b == NULL)
		return -ENOMEM;
	bauxite__v1__policy_update__pack(&u, b);
	*buf = b;
	*len = n;
	return 0;
}
