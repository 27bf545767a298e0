/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hub link's thread and its event queue (bx_hub.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bauxite/v1/metrics.pb-c.h"
#include "bauxite/v1/policy.pb-c.h"
#include "bauxite/v1/topology.pb-c.h"
#include "bx_hub.h"
#include "bx_rpc.h"

#define TOPOLOGY_METHOD "/bauxite.v1.TopologyService/WatchTopology"
#define POLICY_METHOD "/bauxite.v1.PolicyService/WatchPolicy"
#define METRICS_METHOD "/bauxite.v1.MetricsService/ReportMetrics"
/* Certificates and keys are a few KiB; anything bigger is not one. */
#define PEM_FILE_MAX (64u << 10)
/* A session that lasted this long was a real one: the next reconnect
 * starts from the shortest wait again. Shorter ones (a hub that accepts,
 * then drops the link) keep the back-off growing. */
#define SESSION_GOOD_MS 10000u
#define NS_PER_MS 1000000ull

struct ev_node {
	struct bx_hub_event *ev;
	struct ev_node *next;
};

struct bx_hub {
	struct bx_hub_conf conf;
	char *target;
	char *server_name;
	char *ca_pem;
	char *cert_pem;
	char *key_pem;                 /* wiped when freed */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;          /* everything below */
	pthread_cond_t wake;
	bool stop;
	struct ev_node *head, *tail;
	uint64_t topology_applied;
	uint64_t policy_applied;
	struct bx_hub_counter *counters; /* the report's, BX_HUB_MAX_COUNTERS */
	bool connected;
	bool state_said;               /* a STATE event went out already */
};

/* ---- files -------------------------------------------------------------- */

static int
read_pem(const char *path, bool secret, char **out, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
			 errno == ENOENT ? " (has this node joined? bauxite join)" : "");
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (size_t)st.st_size > PEM_FILE_MAX) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: not a PEM file of 1..%u bytes", path,
			 PEM_FILE_MAX);
		goto out;
	}
	if (secret && (st.st_mode & 077) != 0) {
		rc = -EPERM;
		snprintf(err, errlen, "%s has mode %04o, must not be readable or "
			 "writable by group or others (chmod 600)", path,
			 (unsigned)(st.st_mode & 07777));
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: no memory", path);
		goto out;
	}
	while (got < (size_t)st.st_size &&
	       (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	if (got != (size_t)st.st_size) {
		rc = -EIO;
		snprintf(err, errlen, "%s: short read", path);
		goto out;
	}
	buf[got] = '\0';
	if (strstr(buf, "-----BEGIN ") == NULL) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: not PEM", path);
		goto out;
	}
	*out = buf;
	buf = NULL;
out:
	if (buf != NULL)
		OPENSSL_clear_free(buf, (size_t)st.st_size + 1);
	close(fd);
	return rc;
}

/* ---- events ----------------------------------------------------------- */

void
bx_hub_event_free(struct bx_hub_event *ev)
{
	if (ev == NULL)
		return;
	free(ev->upsert);
	free(ev->remove);
	free(ev->rules_json);
	free(ev);
}

static void
push(struct bx_hub *hub, struct bx_hub_event *ev)
{
	struct ev_node *n = malloc(sizeof(*n));

	if (n == NULL) {
		bx_hub_event_free(ev);
		return;
	}
	n->ev = ev;
	n->next = NULL;
	pthread_mutex_lock(&hub->lock);
	if (hub->tail != NULL)
		hub->tail->next = n;
	else
		hub->head = n;
	hub->tail = n;
	pthread_mutex_unlock(&hub->lock);
}

int
bx_hub_poll(struct bx_hub *hub, struct bx_hub_event **ev)
{
	struct ev_node *n;

	pthread_mutex_lock(&hub->lock);
	n = hub->head;
	if (n != NULL) {
		hub->head = n->next;
		if (hub->head == NULL)
			hub->tail = NULL;
	}
	pthread_mutex_unlock(&hub->lock);
	if (n == NULL)
		return -EAGAIN;
	*ev = n->ev;
	free(n);
	return 0;
}

static void
set_state(struct bx_hub *hub, bool connected, const char *why)
{
	struct bx_hub_event *ev;
	bool changed;

	pthread_mutex_lock(&hub->lock);
	/* The first outcome is news too: a hub never reached is said. */
	changed = hub->connected != connected || !hub->state_said;
	hub->connected = connected;
	hub->state_said = true;
	pthread_mutex_unlock(&hub->lock);
	if (!changed)
		return;
	ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return;
	ev->kind = BX_HUB_EV_STATE;
	ev->connected = connected;
	snprintf(ev->warning, sizeof(ev->warning), "%s", why);
	push(hub, ev);
}

/* ---- decoding --------------------------------------------------------- */

static bool
id_ok(const char *id)
{
	size_t n = strlen(id), i;

	if (n == 0 || n >= BX_HUB_ID_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char ch = id[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return false;
	}
	return true;
}

static void
warn(char *buf, const char *id, const char *what)
{
	size_t used = strlen(buf);

	if (used == 0)
		snprintf(buf, BX_HUB_WARNING_LEN, "left out: %.*s (%s)", 40, id, what);
	else if (used < BX_HUB_WARNING_LEN - 1)
		snprintf(buf + used, BX_HUB_WARNING_LEN - used, ", %.*s (%s)", 40,
			 id, what);
}

/* Checks and converts one peer; false (said in @warning) when it is bad. */
static bool
take_peer(const Bauxite__V1__Peer *pp, struct bx_hub_peer *p, char *warning)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	if (pp == NULL || pp->id == NULL || !id_ok(pp->id)) {
		warn(warning, pp != NULL && pp->id != NULL ? pp->id : "?", "bad id");
		return false;
	}
	snprintf(p->id, sizeof(p->id), "%s", pp->id);
	if (pp->x25519_public.len != BX_HUB_KEY_LEN ||
	    (pp->ed25519_public.len != 0 && pp->ed25519_public.len != BX_HUB_KEY_LEN)) {
		warn(warning, p->id, "bad key length");
		return false;
	}
	memcpy(p->x25519_public, pp->x25519_public.data, BX_HUB_KEY_LEN);
	if (pp->ed25519_public.len != 0)
		memcpy(p->ed25519_public, pp->ed25519_public.data, BX_HUB_KEY_LEN);
	if (pp->virtual_ip == 0) {
		warn(warning, p->id, "no virtual IP");
		return false;
	}
	p->virtual_ip = htonl(pp->virtual_ip);
	if (pp->n_allowed_prefixes > BX_HUB_MAX_PREFIXES) {
		warn(warning, p->id, "too many prefixes");
		return false;
	}
	for (i = 0; i < pp->n_allowed_prefixes; i++) {
		const Bauxite__V1__Ipv4Prefix *x = pp->allowed_prefixes[i];
		uint32_t host;

		if (x == NULL || x->len < 1 || x->len > 32) {
			warn(warning, p->id, "bad prefix length");
			return false;
		}
		host = x->len == 32 ? 0 : x->addr & (UINT32_MAX >> x->len);
		if (host != 0) {
			warn(warning, p->id, "prefix with host bits");
			return false;
		}
		p->allowed[p->n_allowed].addr = htonl(x->addr);
		p->allowed[p->n_allowed].len = (uint8_t)x->len;
		p->n_allowed++;
	}
	if (pp->n_endpoints > 0 && pp->endpoints[0] != NULL) {
		const Bauxite__V1__Endpoint *e = pp->endpoints[0];

		if (e->ip == 0 || e->port == 0 || e->port > UINT16_MAX) {
			warn(warning, p->id, "bad endpoint");
			return false;
		}
		p->endpoint_ip = htonl(e->ip);
		p->endpoint_port = (uint16_t)e->port;
	}
	return true;
}

/* A topology update as an event; NULL when it does not decode. */
static struct bx_hub_event *
topology_event(const uint8_t *msg, size_t len)
{
	Bauxite__V1__TopologyUpdate *u;
	struct bx_hub_event *ev;
	size_t i;

	u = bauxite__v1__topology_update__unpack(NULL, len, msg);
	if (u == NULL)
		return NULL;
	ev = calloc(1, sizeof(*ev));
	if (ev != NULL) {
		ev->upsert = calloc(u->n_changes + 1, sizeof(*ev->upsert));
		ev->remove = calloc(u->n_changes + 1, sizeof(*ev->remove));
	}
	if (ev == NULL || ev->upsert == NULL || ev->remove == NULL) {
		bx_hub_event_free(ev);
		bauxite__v1__topology_update__free_unpacked(u, NULL);
		return NULL;
	}
	ev->kind = BX_HUB_EV_TOPOLOGY;
	ev->version = u->version;
	ev->full = u->full;
	for (i = 0; i < u->n_changes; i++) {
		const Bauxite__V1__PeerChange *c = u->changes[i];

		if (c == NULL)
			continue;
		if (c->op == BAUXITE__V1__PEER_CHANGE__OP__REMOVE) {
			if (c->id == NULL || !id_ok(c->id)) {
				warn(ev->warning, c->id != NULL ? c->id : "?",
				     "bad id to remove");
				continue;
			}
			snprintf(ev->remove[ev->n_remove++], BX_HUB_ID_MAX, "%s",
				 c->id);
		} else if (take_peer(c->peer, &ev->upsert[ev->n_upsert],
				     ev->warning)) {
			ev->n_upsert++;
		}
	}
	bauxite__v1__topology_update__free_unpacked(u, NULL);
	return ev;
}

static struct bx_hub_event *
policy_event(const uint8_t *msg, size_t len)
{
	Bauxite__V1__PolicyUpdate *u;
	struct bx_hub_event *ev;

	u = bauxite__v1__policy_update__unpack(NULL, len, msg);
	if (u == NULL)
		return NULL;
	ev = calloc(1, sizeof(*ev));
	if (ev != NULL)
		ev->rules_json = strdup(u->rules_json != NULL ? u->rules_json : "");
	if (ev == NULL || ev->rules_json == NULL) {
		bx_hub_event_free(ev);
		ev = NULL;
	} else {
		ev->kind = BX_HUB_EV_POLICY;
		ev->version = u->version;
	}
	bauxite__v1__policy_update__free_unpacked(u, NULL);
	return ev;
}

/* ---- the thread -------------------------------------------------------- */

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / NS_PER_MS;
}

static bool
stopping(struct bx_hub *hub)
{
	bool s;

	pthread_mutex_lock(&hub->lock);
	s = hub->stop;
	pthread_mutex_unlock(&hub->lock);
	return s;
}

/* Waits @ms or until stopped; true when stopped. */
static bool
nap(struct bx_hub *hub, uint64_t ms)
{
	struct timespec until;
	bool s;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(ms / 1000u);
	until.tv_nsec += (long)((ms % 1000u) * NS_PER_MS);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&hub->lock);
	while (!hub->stop &&
	       pthread_cond_timedwait(&hub->wake, &hub->lock, &until) == 0)
		;
	s = hub->stop;
	pthread_mutex_unlock(&hub->lock);
	return s;
}

static void
applied(struct bx_hub *hub, uint64_t *topo, uint64_t *policy)
{
	pthread_mutex_lock(&hub->lock);
	*topo = hub->topology_applied;
	*policy = hub->policy_applied;
	pthread_mutex_unlock(&hub->lock);
}

static void
report(struct bx_hub *hub, struct bx_rpc_channel *ch)
{
	struct bx_hub_counter *counters = hub->counters;
	Bauxite__V1__Counter cs[BX_HUB_MAX_COUNTERS];
	Bauxite__V1__Counter *cps[BX_HUB_MAX_COUNTERS];
	Bauxite__V1__MetricsReport r = BAUXITE__V1__METRICS_REPORT__INIT;
	struct bx_rpc_result res;
	struct timespec ts;
	uint8_t *buf;
	size_t len;
	unsigned n, i;

	n = hub->conf.collect(hub->conf.collect_ctx, counters, BX_HUB_MAX_COUNTERS);
	if (n > BX_HUB_MAX_COUNTERS)
		n = BX_HUB_MAX_COUNTERS;
	for (i = 0; i < n; i++) {
		bauxite__v1__counter__init(&cs[i]);
		cs[i].name = counters[i].name;
		cs[i].value = counters[i].value;
		cps[i] = &cs[i];
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	r.unix_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / NS_PER_MS;
	r.n_counters = n;
	r.counters = cps;
	applied(hub, &r.topology_version, &r.policy_version);
	len = bauxite__v1__metrics_report__get_packed_size(&r);
	buf = malloc(len ? len : 1);
	if (buf == NULL)
		return;
	bauxite__v1__metrics_report__pack(&r, buf);
	memset(&res, 0, sizeof(res));
	/* A failed report is not worth a reconnect: the streams say whether
	 * the hub is there. */
	bx_rpc_unary(ch, METRICS_METHOD, buf, len, BX_HUB_REPORT_TIMEOUT_MS, &res);
	bx_rpc_result_clear(&res);
	free(buf);
}

/* Opens a watch stream asking from @known. */
static int
open_watch(struct bx_rpc_channel *ch, const char *method, uint64_t known,
	   bool topology, struct bx_rpc_call **call)
{
	uint8_t buf[16];
	size_t len;

	if (topology) {
		Bauxite__V1__WatchTopologyRequest r =
			BAUXITE__V1__WATCH_TOPOLOGY_REQUEST__INIT;

		r.known_version = known;
		len = bauxite__v1__watch_topology_request__pack(&r, buf);
	} else {
		Bauxite__V1__WatchPolicyRequest r =
			BAUXITE__V1__WATCH_POLICY_REQUEST__INIT;

		r.known_version = known;
		len = bauxite__v1__watch_policy_request__pack(&r, buf);
	}
	return bx_rpc_call_open_stream(ch, method, buf, len, call);
}

/*
 * One message from @call within BX_HUB_POLL_MS, turned into an event.
 * Returns 0 (a message, or none yet), or -EPIPE with @why when the stream
 * is over or sent something that does not decode.
 */
static int
pump(struct bx_hub *hub, struct bx_rpc_call *call, bool topology, bool *got,
     char *why, size_t whylen)
{
	struct bx_hub_event *ev;
	enum bx_rpc_code code;
	const char *msg;
	uint8_t *data;
	size_t len;
	int rc;

	rc = bx_rpc_call_next(call, BX_HUB_POLL_MS, &data, &len);
	if (rc == -EAGAIN)
		return 0;
	if (rc == -EPIPE) {
		if (bx_rpc_call_status(call, &code, &msg) == 0)
			snprintf(why, whylen, "%s stream ended: %s%s%s",
				 topology ? "topology" : "policy",
				 bx_rpc_code_name(code), msg[0] ? ": " : "", msg);
		else
			snprintf(why, whylen, "%s stream ended",
				 topology ? "topology" : "policy");
		return -EPIPE;
	}
	if (rc != 0) {
		snprintf(why, whylen, "%s stream: %s",
			 topology ? "topology" : "policy", strerror(-rc));
		return -EPIPE;
	}
	ev = topology ? topology_event(data, len) : policy_event(data, len);
	free(data);
	if (ev == NULL) {
		snprintf(why, whylen, "%s stream: a message that does not decode",
			 topology ? "topology" : "policy");
		return -EPIPE;
	}
	*got = true;
	push(hub, ev);
	return 0;
}

/* One connection, until a stream ends or the link stops. */
static void
session(struct bx_hub *hub, struct bx_rpc_channel *ch, bool *delivered,
	char *why, size_t whylen)
{
	struct bx_rpc_call *topo = NULL, *pol = NULL;
	uint64_t known_topo, known_pol, next_report;
	bool got;

	applied(hub, &known_topo, &known_pol);
	if (open_watch(ch, TOPOLOGY_METHOD, known_topo, true, &topo) != 0 ||
	    open_watch(ch, POLICY_METHOD, known_pol, false, &pol) != 0) {
		snprintf(why, whylen, "cannot open the streams");
		goto out;
	}
	next_report = mono_ms() + (uint64_t)hub->conf.metrics_interval_s * 1000u;
	while (!stopping(hub)) {
		got = false;
		if (pump(hub, topo, true, &got, why, whylen) != 0 ||
		    pump(hub, pol, false, &got, why, whylen) != 0)
			break;
		if (got) {
			*delivered = true;
			set_state(hub, true, "streams up");
		}
		if (hub->conf.collect != NULL && *delivered &&
		    mono_ms() >= next_report && !stopping(hub)) {
			next_report = mono_ms() +
				      (uint64_t)hub->conf.metrics_interval_s * 1000u;
			report(hub, ch);
		}
	}
out:
	bx_rpc_call_free(topo);
	bx_rpc_call_free(pol);
}

static void *
hub_thread(void *arg)
{
	struct bx_hub *hub = arg;
	struct bx_rpc_client_creds creds;
	struct bx_rpc_channel *ch = NULL;
	uint64_t backoff = BX_HUB_RECONNECT_MIN_MS;
	uint64_t max = (uint64_t)hub->conf.reconnect_max_s * 1000u;
	char why[BX_HUB_WARNING_LEN];

	memset(&creds, 0, sizeof(creds));
	creds.kind = BX_RPC_CREDS_TLS;
	creds.ca_pem = hub->ca_pem;
	creds.cert_pem = hub->cert_pem;
	creds.key_pem = hub->key_pem;
	creds.server_name = hub->server_name;
	while (!stopping(hub)) {
		bool delivered = false;
		uint64_t began = mono_ms();

		why[0] = '\0';
		if (ch == NULL)
			ch = bx_rpc_channel_create(hub->target, &creds, why,
						   sizeof(why));
		if (ch != NULL)
			session(hub, ch, &delivered, why, sizeof(why));
		/* A fresh channel next time: gRPC's own reconnect back-off
		 * (up to two minutes) would otherwise fail our attempts fast
		 * and make ours meaningless. */
		bx_rpc_channel_destroy(ch);
		ch = NULL;
		if (stopping(hub))
			break;
		set_state(hub, false, why[0] ? why : "disconnected");
		if (delivered && mono_ms() - began >= SESSION_GOOD_MS)
			backoff = BX_HUB_RECONNECT_MIN_MS;
		if (nap(hub, backoff))
			break;
		backoff = backoff * 2u > max ? max : backoff * 2u;
	}
	bx_rpc_channel_destroy(ch);
	return NULL;
}

/* ---- life --------------------------------------------------------------- */

struct bx_hub *
bx_hub_start(const struct bx_hub_conf *conf, char *err, size_t errlen)
{
	struct bx_hub *hub;
	int rc;

	if (conf == NULL || conf->target == NULL || conf->ca_file == NULL ||
	    conf->cert_file == NULL || conf->key_file == NULL ||
	    conf->metrics_interval_s == 0 || conf->reconnect_max_s == 0) {
		snprintf(err, errlen, "hub: incomplete settings");
		errno = EINVAL;
		return NULL;
	}
	hub = calloc(1, sizeof(*hub));
	if (hub == NULL) {
		snprintf(err, errlen, "hub: no memory");
		errno = ENOMEM;
		return NULL;
	}
	hub->conf = *conf;
	hub->counters = calloc(BX_HUB_MAX_COUNTERS, sizeof(*hub->counters));
	pthread_mutex_init(&hub->lock, NULL);
	pthread_cond_init(&hub->wake, NULL);
	hub->topology_applied = conf->topology_version;
	hub->target = strdup(conf->target);
	hub->server_name = conf->server_name ? strdup(conf->server_name) : NULL;
	if (hub->target == NULL || hub->counters == NULL ||
	    (conf->server_name != NULL && hub->server_name == NULL)) {
		rc = -ENOMEM;
		snprintf(err, errlen, "hub: no memory");
		goto fail;
	}
	rc = read_pem(conf->ca_file, false, &hub->ca_pem, err, errlen);
	if (rc == 0)
		rc = read_pem(conf->cert_file, false, &hub->cert_pem, err, errlen);
	if (rc == 0)
		rc = read_pem(conf->key_file, true, &hub->key_pem, err, errlen);
	if (rc != 0)
		goto fail;
	hub->conf.target = hub->target;
	hub->conf.server_name = hub->server_name;
	rc = -pthread_create(&hub->thread, NULL, hub_thread, hub);
	if (rc != 0) {
		snprintf(err, errlen, "hub: thread: %s", strerror(-rc));
		goto fail;
	}
	hub->thread_started = true;
	return hub;
fail:
	bx_hub_stop(hub);
	errno = -rc;
	return NULL;
}

void
bx_hub_applied(struct bx_hub *hub, uint64_t topology_version,
	       uint64_t policy_version)
{
	pthread_mutex_lock(&hub->lock);
	hub->topology_applied = topology_version;
	hub->policy_applied = policy_version;
	pthread_mutex_unlock(&hub->lock);
}

bool
bx_hub_connected(const struct bx_hub *hub)
{
	struct bx_hub *h = (struct bx_hub *)hub;
	bool c;

	pthread_mutex_lock(&h->lock);
	c = h->connected;
	pthread_mutex_unlock(&h->lock);
	return c;
}

void
bx_hub_stop(struct bx_hub *hub)
{
	struct bx_hub_event *ev;

	if (hub == NULL)
		return;
	if (hub->thread_started) {
		pthread_mutex_lock(&hub->lock);
		hub->stop = true;
		pthread_cond_broadcast(&hub->wake);
		pthread_mutex_unlock(&hub->lock);
		pthread_join(hub->thread, NULL);
	}
	while (bx_hub_poll(hub, &ev) == 0)
		bx_hub_event_free(ev);
	free(hub->target);
	free(hub->server_name);
	free(hub->counters);
	free(hub->ca_pem);
	free(hub->cert_pem);
	if (hub->key_pem != NULL)
		OPENSSL_clear_free(hub->key_pem, strlen(hub->key_pem) + 1);
	pthread_mutex_destroy(&hub->lock);
	pthread_cond_destroy(&hub->wake);
	free(hub);
}
