/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Warm start (DESIGN §4): the peers this node knows come from its config
 * and from the snapshot it wrote last time (<state_dir>/state.snapshot,
 * control/snapshot), and go back into a snapshot at start, on
 * `bauxite snapshot save` and at a clean shutdown.
 *
 * What a snapshot restores
 *   The config is the operator's word: a configured peer is taken from it
 *   (a snapshot entry with another public key is reported, not used). A
 *   snapshot peer the config does not list is restored only when it came
 *   from the hub's topology (from_hub): the node then reaches it at once,
 *   before the hub resyncs. A peer that came from the config and is no
 *   longer in it was removed by the operator and stays removed.
 *
 * A snapshot that cannot be read (missing, corrupt, truncated, another
 * node's) is reported and ignored: never a reason not to start. Session
 * keys are never in it (control/snapshot has no field for them).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "app.h"
#include "bx_snapshot.h"

#define LOG_PREFIX "bauxite-app: "

_Static_assert(BX_SNAPSHOT_KEY_LEN == BX_HS_KEY_LEN, "one key size");
_Static_assert(BX_CONFIG_KEY_LEN == BX_HS_KEY_LEN, "one key size");
_Static_assert(BX_SNAPSHOT_MAX_PREFIXES == BX_PEER_MAX_PREFIXES,
	       "a snapshot holds what a peer may route");
_Static_assert(BX_CONFIG_MAX_PREFIXES == BX_PEER_MAX_PREFIXES,
	       "a config holds what a peer may route");

static void
from_config(const struct bx_config_peer *cp, unsigned i, struct app_peer_src *p)
{
	unsigned j;

	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", cp->id);
	p->vip = cp->virtual_ip;
	p->n_allowed = cp->n_allowed;
	for (j = 0; j < cp->n_allowed; j++) {
		p->allowed[j].addr = cp->allowed[j].addr;
		p->allowed[j].len = cp->allowed[j].len;
	}
	p->endpoint_ip = cp->endpoint_ip;
	p->endpoint_port = rte_cpu_to_be_16(cp->endpoint_port);
	/* One path on another underlay than the primary is a path too. */
	if (cp->n_paths > 1 || (cp->n_paths == 1 && cp->paths[0].underlay != 0)) {
		p->n_paths = cp->n_paths;
		for (j = 0; j < cp->n_paths; j++) {
			p->paths[j].ip = cp->paths[j].endpoint_ip;
			p->paths[j].port = rte_cpu_to_be_16(cp->paths[j].endpoint_port);
			p->paths[j].ul = (uint8_t)cp->paths[j].underlay;
		}
	}
	memcpy(p->public_key, cp->public_key, sizeof(p->public_key));
	p->cfg_index = (int)i;
	p->origin = APP_PEER_CONFIG;
}

static void
from_snapshot(const struct bx_snapshot_peer *sp, struct app_peer_src *p)
{
	unsigned j;

	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", sp->id);
	p->vip = sp->virtual_ip;
	p->n_allowed = sp->n_allowed;
	for (j = 0; j < sp->n_allowed; j++) {
		p->allowed[j].addr = sp->allowed[j].addr;
		p->allowed[j].len = sp->allowed[j].len;
	}
	p->endpoint_ip = sp->endpoint_ip;
	p->endpoint_port = rte_cpu_to_be_16(sp->endpoint_port);
	memcpy(p->public_key, sp->x25519_public, sizeof(p->public_key));
	p->cfg_index = -1;
	p->origin = APP_PEER_SNAPSHOT;
}

static const struct app_peer_src *
find_id(const struct app_peer_src *peers, unsigned n, const char *id)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (strcmp(peers[i].id, id) == 0)
			return &peers[i];
	return NULL;
}

/* A key no handshake can use: its product with any scalar is the
 * identity (a low-order point), which libsodium refuses. */
static bool
low_order(const uint8_t key[BX_HS_KEY_LEN])
{
	uint8_t scalar[crypto_scalarmult_SCALARBYTES], out[crypto_scalarmult_BYTES];
	bool bad;

	randombytes_buf(scalar, sizeof(scalar));
	bad = crypto_scalarmult(out, scalar, key) != 0;
	sodium_memzero(scalar, sizeof(scalar));
	sodium_memzero(out, sizeof(out));
	return bad;
}

/*
 * Why a snapshot peer cannot be restored: it is this node, its key is
 * unusable, or it would take what a configured peer has. NULL if it can.
 */
static const char *
clashes(const struct bx_config *cfg, const uint8_t own_key[BX_HS_KEY_LEN],
	const struct app_peer_src *peers, unsigned n,
	const struct app_peer_src *p)
{
	unsigned i;

	if (strcmp(p->id, cfg->node_id) == 0)
		return "id is this node's";
	if (p->vip == cfg->inner.address.addr)
		return "virtual_ip is this node's";
	if (sodium_memcmp(p->public_key, own_key, BX_HS_KEY_LEN) == 0)
		return "public key is this node's";
	if (low_order(p->public_key))
		return "public key is a low-order point";
	for (i = 0; i < n; i++) {
		if (peers[i].vip == p->vip)
			return "virtual_ip belongs to another peer";
		if (sodium_memcmp(peers[i].public_key, p->public_key,
				  BX_HS_KEY_LEN) == 0)
			return "public key belongs to another peer";
	}
	return NULL;
}

static void
snapshot_path(const struct bx_config *cfg, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", cfg->state_dir, BX_SNAPSHOT_FILE);
}

/* Merges snapshot @s into @w (config peers already in). */
static int
merge(const struct bx_config *cfg, const uint8_t own_key[BX_HS_KEY_LEN],
      struct app_warm *w, const struct bx_snapshot *s)
{
	unsigned i, in_cfg = 0, restored = 0, removed = 0, skipped = 0;
	struct app_peer_src *grown;
	const char *why;

	grown = realloc(w->peers, (w->n + s->n_peers + 1u) * sizeof(*grown));
	if (grown == NULL)
		return -ENOMEM;
	w->peers = grown;
	w->cap = w->n + s->n_peers + 1u;
	for (i = 0; i < s->n_peers; i++) {
		const struct bx_snapshot_peer *sp = &s->peers[i];
		const struct app_peer_src *cp = find_id(w->peers, w->n, sp->id);
		struct app_peer_src *p = &w->peers[w->n];

		if (cp != NULL) {
			in_cfg++;
			if (sodium_memcmp(cp->public_key, sp->x25519_public,
					  BX_HS_KEY_LEN) != 0)
				printf(LOG_PREFIX "snapshot: peer %s has another "
				       "public key in the config now: the config's "
				       "is used\n", sp->id);
			continue;
		}
		if (!sp->from_hub) {
			removed++;
			continue;
		}
		from_snapshot(sp, p);
		/* As for the hub's own updates (hub.c): with ICE on, the
		 * endpoint the hub recorded is no path. */
		if (cfg->ice.enabled) {
			p->endpoint_ip = 0;
			p->endpoint_port = 0;
		}
		why = clashes(cfg, own_key, w->peers, w->n, p);
		if (why != NULL) {
			printf(LOG_PREFIX "snapshot: peer %s not restored: its %s\n",
			       sp->id, why);
			skipped++;
			continue;
		}
		w->n++;
		restored++;
	}
	w->topology_version = s->topology_version;
	printf(LOG_PREFIX "warm start: snapshot of %" PRIu64 " ms since 1970, "
	       "topology version %" PRIu64 ": %u peer(s): %u in the config, "
	       "%u restored, %u no longer configured, %u in conflict\n",
	       s->created_unix_ms, s->topology_version, s->n_peers, in_cfg,
	       restored, removed, skipped);
	return 0;
}

int
app_warm_load(const struct bx_config *cfg,
	      const uint8_t own_key[BX_HS_KEY_LEN], struct app_warm *w,
	      char *err, size_t errlen)
{
	char path[BX_CONFIG_PATH_MAX + sizeof(BX_SNAPSHOT_FILE) + 2];
	char serr[512];
	struct bx_snapshot *s = NULL;
	unsigned i;
	int rc;

	memset(w, 0, sizeof(*w));
	w->peers = calloc(cfg->n_peers + 1u, sizeof(*w->peers));
	if (w->peers == NULL) {
		snprintf(err, errlen, "peers: no memory");
		return -ENOMEM;
	}
	w->cap = cfg->n_peers + 1u;
	for (i = 0; i < cfg->n_peers; i++)
		from_config(&cfg->peers[i], i, &w->peers[i]);
	w->n = cfg->n_peers;

	snapshot_path(cfg, path, sizeof(path));
	rc = bx_snapshot_read(path, &s, serr, sizeof(serr));
	if (rc == -ENOENT) {
		printf(LOG_PREFIX "no snapshot in %s (a first start)\n",
		       cfg->state_dir);
		rc = 0;
	} else if (rc != 0) {
		printf(LOG_PREFIX "snapshot ignored: %s\n", serr);
		rc = 0;
	} else if (strcmp(s->node_id, cfg->node_id) != 0) {
		printf(LOG_PREFIX "snapshot ignored: %s is node %s's, not %s's\n",
		       path, s->node_id, cfg->node_id);
	} else {
		rc = merge(cfg, own_key, w, s);
		if (rc != 0)
			snprintf(err, errlen, "snapshot: no memory");
	}
	fflush(stdout);
	bx_snapshot_free(s);
	return rc;
}

void
app_warm_free(struct app_warm *w)
{
	free(w->peers);
	memset(w, 0, sizeof(*w));
}

static uint64_t
unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int
app_warm_save(const struct bx_config *cfg, const struct bx_peer_registry *reg,
	      const struct app_warm *w, struct app_warm_saved *out, char *err,
	      size_t errlen)
{
	struct bx_snapshot_peer *sp;
	struct bx_snapshot s;
	struct stat st;
	unsigned i, j;
	int rc;

	sp = calloc(w->n + 1u, sizeof(*sp));
	if (sp == NULL) {
		snprintf(err, errlen, "snapshot: no memory");
		return -ENOMEM;
	}
	for (i = 0; i < w->n; i++) {
		const struct app_peer_src *p = &w->peers[i];
		const struct bx_peer *live = bx_peer_find(reg, p->id);

		snprintf(sp[i].id, sizeof(sp[i].id), "%s", p->id);
		sp[i].virtual_ip = p->vip;
		sp[i].n_allowed = p->n_allowed;
		for (j = 0; j < p->n_allowed; j++) {
			sp[i].allowed[j].addr = p->allowed[j].addr;
			sp[i].allowed[j].len = p->allowed[j].len;
		}
		/* Where the peer is now, which may have moved since start;
		 * a path NAT traversal found (ICE, relay) is not an endpoint
		 * and is found again after a restart. */
		if (p->endpoint_ip == 0)
			live = NULL;
		sp[i].endpoint_ip = live != NULL ? live->endpoint_ip : p->endpoint_ip;
		sp[i].endpoint_port = rte_be_to_cpu_16(live != NULL ?
							       live->endpoint_port :
							       p->endpoint_port);
		memcpy(sp[i].x25519_public, p->public_key, BX_HS_KEY_LEN);
		sp[i].from_hub = p->origin != APP_PEER_CONFIG;
	}
	memset(&s, 0, sizeof(s));
	s.version = BX_SNAPSHOT_VERSION;
	snprintf(s.node_id, sizeof(s.node_id), "%s", cfg->node_id);
	s.created_unix_ms = unix_ms();
	s.topology_version = w->topology_version;
	s.n_peers = w->n;
	s.peers = sp;
	snapshot_path(cfg, out->path, sizeof(out->path));
	rc = bx_snapshot_write(out->path, &s, err, errlen);
	free(sp);
	if (rc != 0)
		return rc;
	out->peers = w->n;
	out->bytes = stat(out->path, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}
