/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hub link's thread, its event queue and its queue of signals to send
 * (bx_hub.h).
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

#include "bauxite/v1/mesh.pb-c.h"
#include "bauxite/v1/metrics.pb-c.h"
#include "bauxite/v1/policy.pb-c.h"
#include "bauxite/v1/signaling.pb-c.h"
#include "bauxite/v1/topology.pb-c.h"
#include "bx_hub.h"
#include "bx_rpc.h"

#define TOPOLOGY_METHOD "/bauxite.v1.TopologyService/WatchTopology"
#define POLICY_METHOD "/bauxite.v1.PolicyService/WatchPolicy"
#define METRICS_METHOD "/bauxite.v1.MetricsService/ReportMetrics"
#define MESH_METHOD "/bauxite.v1.MeshService/GetMeshSettings"
#define SIGNAL_METHOD "/bauxite.v1.SignalingService/ExchangeCandidates"
/* Certificates and keys are a few KiB; anything bigger is not one. */
#define PEM_FILE_MAX (64u << 10)
/* A session that lasted this long was a real one: the next reconnect
 * starts from the shortest wait again. Shorter ones (a hub that accepts,
 * then drops the link) keep the back-off growing. */
#define SESSION_GOOD_MS 10000u
#define NS_PER_MS 1000000ull
/* "stun_servers[18446744073709551615]": an entry named in a warning. */
#define WHAT_LEN 48u

/* Signal kinds are the proto's values: they cross without a table. */
#define SAME_KIND(ours, proto)                                                \
	_Static_assert((int)BX_HUB_SIG_##ours ==                              \
			       (int)BAUXITE__V1__SIGNAL_MESSAGE__KIND__##proto, \
		       #ours " is the proto's")
SAME_KIND(INVITE, INVITE);
SAME_KIND(OFFER, OFFER);
SAME_KIND(ANSWER, ANSWER);
SAME_KIND(CANDIDATE, CANDIDATE);
SAME_KIND(END_OF_CANDIDATES, END_OF_CANDIDATES);
SAME_KIND(BYE, BYE);
#undef SAME_KIND

struct ev_node {
	struct bx_hub_event *ev;
	struct ev_node *next;
};

/* A signal packed for the wire, waiting for the link thread. */
struct sig_out {
	uint8_t *buf;
	size_t len;
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
	/* Signals to send: a ring, open while the signal leg is up. */
	struct sig_out sig_q[BX_HUB_SIG_QUEUE_MAX];
	unsigned sig_head, sig_n;
	bool sig_up;
	unsigned sig_events;           /* SIGNAL events in the event queue */
	struct bx_hub_signal_stats sig_stats;
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

/* Frees malloc'd memory that held a secret (a key, ICE credentials). */
static void
wipe_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

void
bx_hub_event_free(struct bx_hub_event *ev)
{
	if (ev == NULL)
		return;
	free(ev->upsert);
	free(ev->remove);
	free(ev->rules_json);
	/* A MESH event's relay key, a SIGNAL's ICE credentials. */
	wipe_free(ev, sizeof(*ev));
}

static void
push(struct bx_hub *hub, struct bx_hub_event *ev)
{
	struct ev_node *n = malloc(sizeof(*n));
	bool full = false;

	if (n == NULL) {
		bx_hub_event_free(ev);
		return;
	}
	n->ev = ev;
	n->next = NULL;
	pthread_mutex_lock(&hub->lock);
	if (ev->kind == BX_HUB_EV_SIGNAL) {
		full = hub->sig_events >= BX_HUB_SIG_EVENTS_MAX;
		if (full) {
			hub->sig_stats.dropped++;
		} else {
			hub->sig_events++;
			hub->sig_stats.received++;
		}
	}
	if (!full) {
		if (hub->tail != NULL)
			hub->tail->next = n;
		else
			hub->head = n;
		hub->tail = n;
	}
	pthread_mutex_unlock(&hub->lock);
	if (full) {
		bx_hub_event_free(ev);
		free(n);
	}
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
		if (n->ev->kind == BX_HUB_EV_SIGNAL)
			hub->sig_events--;
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

static bool
endpoint_known(const struct bx_hub_peer *p, uint32_t ip, uint16_t port)
{
	unsigned i;

	for (i = 0; i < p->n_endpoints; i++)
		if (p->endpoints[i].ip == ip && p->endpoints[i].port == port)
			return true;
	return false;
}

/*
 * A peer's endpoints, in order (struct bx_hub_peer says what is kept).
 * Every one is checked, also past the ones kept: a hub that sends a bad
 * address anywhere in the list is not trusted with the rest of it.
 */
static bool
take_endpoints(const Bauxite__V1__Peer *pp, struct bx_hub_peer *p,
	       char *warning)
{
	char what[WHAT_LEN];
	bool more = false;
	uint32_t ip;
	uint16_t port;
	size_t i;

	for (i = 0; i < pp->n_endpoints; i++) {
		const Bauxite__V1__Endpoint *e = pp->endpoints[i];

		if (e == NULL || e->ip == 0 || e->port == 0 ||
		    e->port > UINT16_MAX) {
			warn(warning, p->id, "bad endpoint");
			return false;
		}
		ip = htonl(e->ip);
		port = (uint16_t)e->port;
		if (endpoint_known(p, ip, port))
			continue;
		if (p->n_endpoints == BX_HUB_MAX_ENDPOINTS) {
			more = true;
			continue;
		}
		p->endpoints[p->n_endpoints].ip = ip;
		p->endpoints[p->n_endpoints].port = port;
		p->n_endpoints++;
	}
	if (more) {
		snprintf(what, sizeof(what), "endpoints past the first %u",
			 BX_HUB_MAX_ENDPOINTS);
		warn(warning, p->id, what);
	}
	return true;
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
	if (!take_endpoints(pp, p, warning))
		return false;
	if (p->n_endpoints > 0) {
		p->endpoint_ip = p->endpoints[0].ip;
		p->endpoint_port = p->endpoints[0].port;
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

/*
 * Whether @s, in an array of @cap bytes, is terminated inside it and
 * printable ASCII: spaces only where @spaces (candidate lines), empty only
 * where @empty_ok.
 */
static bool
text_ok(const char *s, size_t cap, bool spaces, bool empty_ok)
{
	size_t n = strnlen(s, cap), i;

	if (n == cap)
		return false;
	if (n == 0)
		return empty_ok;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch > '~' || ch < ' ' || (ch == ' ' && !spaces))
			return false;
	}
	return true;
}

/* The rules of struct bx_hub_signal, for what the caller hands us. */
static bool
signal_valid(const struct bx_hub_signal *s)
{
	unsigned i;

	if ((unsigned)s->kind > BX_HUB_SIG_BYE ||
	    strnlen(s->peer, BX_HUB_ID_MAX) == BX_HUB_ID_MAX ||
	    !id_ok(s->peer) ||
	    !text_ok(s->ufrag, sizeof(s->ufrag), false, true) ||
	    !text_ok(s->pwd, sizeof(s->pwd), false, true) ||
	    s->n_cand > BX_HUB_SIG_CAND_MAX)
		return false;
	for (i = 0; i < s->n_cand; i++)
		if (!text_ok(s->cand[i], sizeof(s->cand[i]), true, false))
			return false;
	return true;
}

/* @s as a SignalMessage to s->peer (malloc'd); NULL when out of memory. */
static uint8_t *
signal_pack(const struct bx_hub_signal *s, size_t *len)
{
	Bauxite__V1__SignalMessage m = BAUXITE__V1__SIGNAL_MESSAGE__INIT;
	char *cands[BX_HUB_SIG_CAND_MAX];
	uint8_t *buf;
	unsigned i;

	m.kind = (Bauxite__V1__SignalMessage__Kind)s->kind;
	m.to_id = (char *)s->peer;
	m.session = s->session;
	m.ufrag = (char *)s->ufrag;
	m.pwd = (char *)s->pwd;
	for (i = 0; i < s->n_cand; i++)
		cands[i] = (char *)s->cand[i];
	m.n_candidates = s->n_cand;
	m.candidates = s->n_cand > 0 ? cands : NULL;
	*len = bauxite__v1__signal_message__get_packed_size(&m);
	buf = malloc(*len > 0 ? *len : 1);
	if (buf != NULL)
		bauxite__v1__signal_message__pack(&m, buf);
	return buf;
}

/*
 * Copies @text into @out (@cap bytes) when it passes text_ok; otherwise
 * leaves @out empty and says so in @warning under @what.
 */
static bool
take_text(const char *text, char *out, size_t cap, bool spaces,
	  const char *what, char *warning)
{
	if (text == NULL)
		text = "";
	if (!text_ok(text, cap, spaces, true)) {
		warn(warning, what, "too long or not printable");
		return false;
	}
	memcpy(out, text, strlen(text) + 1);
	return true;
}

/*
 * A peer's signal as an event; NULL (counted as refused) when it cannot
 * be used at all: it does not decode, its kind is unknown or its sender
 * is not a node id. A bad ufrag, pwd or candidate is left out and said.
 */
static struct bx_hub_event *
signal_event(const uint8_t *msg, size_t len)
{
	Bauxite__V1__SignalMessage *m;
	struct bx_hub_event *ev = NULL;
	struct bx_hub_signal *s;
	char what[WHAT_LEN];
	size_t i;

	m = bauxite__v1__signal_message__unpack(NULL, len, msg);
	if (m == NULL)
		return NULL;
	if ((unsigned)m->kind > BX_HUB_SIG_BYE || m->from_id == NULL ||
	    strnlen(m->from_id, BX_HUB_ID_MAX) == BX_HUB_ID_MAX ||
	    !id_ok(m->from_id))
		goto out;
	ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		goto out;
	ev->kind = BX_HUB_EV_SIGNAL;
	s = &ev->signal;
	s->kind = (enum bx_hub_signal_kind)m->kind;
	snprintf(s->peer, sizeof(s->peer), "%s", m->from_id);
	s->session = m->session;
	take_text(m->ufrag, s->ufrag, sizeof(s->ufrag), false, "ufrag",
		  ev->warning);
	take_text(m->pwd, s->pwd, sizeof(s->pwd), false, "pwd", ev->warning);
	for (i = 0; i < m->n_candidates; i++) {
		snprintf(what, sizeof(what), "candidates[%zu]", i);
		if (s->n_cand == BX_HUB_SIG_CAND_MAX) {
			warn(ev->warning, what,
			     "more candidates than a signal carries");
			break;
		}
		if (m->candidates[i] == NULL || m->candidates[i][0] == '\0') {
			warn(ev->warning, what, "empty");
			continue;
		}
		if (take_text(m->candidates[i], s->cand[s->n_cand],
			      sizeof(s->cand[0]), true, what, ev->warning))
			s->n_cand++;
	}
out:
	if (m->pwd != NULL)
		OPENSSL_cleanse(m->pwd, strlen(m->pwd));
	bauxite__v1__signal_message__free_unpacked(m, NULL);
	return ev;
}

/* Checks and takes the servers of one list; bad ones are said. */
static unsigned
take_servers(Bauxite__V1__Endpoint *const *eps, size_t n,
	     struct bx_hub_endpoint *out, unsigned max, const char *list,
	     char *warning)
{
	char what[WHAT_LEN];
	unsigned got = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		const Bauxite__V1__Endpoint *e = eps[i];

		snprintf(what, sizeof(what), "%s[%zu]", list, i);
		if (got == max) {
			warn(warning, what, "more servers than a node takes");
			break;
		}
		if (e == NULL || e->ip == 0 || e->port == 0 ||
		    e->port > UINT16_MAX) {
			warn(warning, what, "bad endpoint");
			continue;
		}
		out[got].ip = htonl(e->ip);
		out[got].port = (uint16_t)e->port;
		got++;
	}
	return got;
}

/*
 * The hub's TraversalSettings as an event; NULL when it does not decode,
 * its key is not a key or it has expired by our clock (@now_s): all worth
 * a retry, none worth handing to the relays.
 */
static struct bx_hub_event *
mesh_event(const uint8_t *msg, size_t len, uint64_t now_s)
{
	Bauxite__V1__TraversalSettings *t;
	struct bx_hub_event *ev = NULL;
	struct bx_hub_mesh *m;

	t = bauxite__v1__traversal_settings__unpack(NULL, len, msg);
	if (t == NULL)
		return NULL;
	if (t->relay_key.len != BX_HUB_RELAY_KEY_LEN ||
	    t->relay_key_expiry_unix_s <= now_s)
		goto out;
	ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		goto out;
	ev->kind = BX_HUB_EV_MESH;
	m = &ev->mesh;
	m->n_stun = take_servers(t->stun_servers, t->n_stun_servers, m->stun,
				 BX_HUB_MAX_STUN, "stun_servers", ev->warning);
	m->n_relays = take_servers(t->relays, t->n_relays, m->relays,
				   BX_HUB_MAX_RELAYS, "relays", ev->warning);
	memcpy(m->relay_key, t->relay_key.data, BX_HUB_RELAY_KEY_LEN);
	m->relay_key_expiry = t->relay_key_expiry_unix_s;
out:
	if (t->relay_key.data != NULL)
		OPENSSL_cleanse(t->relay_key.data, t->relay_key.len);
	bauxite__v1__traversal_settings__free_unpacked(t, NULL);
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

/* The clock relay keys expire by. */
static uint64_t
unix_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec;
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
 * One message from a watch stream within @wait_ms, turned into an event.
 * Returns 1 (a message), 0 (none yet), or -EPIPE with @why when the
 * stream is over or sent something that does not decode.
 */
static int
pump(struct bx_hub *hub, struct bx_rpc_call *call, bool topology,
     int wait_ms, char *why, size_t whylen)
{
	const char *name = topology ? "topology" : "policy";
	struct bx_hub_event *ev;
	enum bx_rpc_code code;
	const char *msg;
	uint8_t *data;
	size_t len;
	int rc;

	rc = bx_rpc_call_next(call, wait_ms, &data, &len);
	if (rc == -EAGAIN)
		return 0;
	if (rc == -EPIPE) {
		if (bx_rpc_call_status(call, &code, &msg) == 0)
			snprintf(why, whylen, "%s stream ended: %s%s%s", name,
				 bx_rpc_code_name(code), msg[0] ? ": " : "", msg);
		else
			snprintf(why, whylen, "%s stream ended", name);
		return -EPIPE;
	}
	if (rc != 0) {
		snprintf(why, whylen, "%s stream: %s", name, strerror(-rc));
		return -EPIPE;
	}
	ev = topology ? topology_event(data, len) : policy_event(data, len);
	free(data);
	if (ev == NULL) {
		snprintf(why, whylen, "%s stream: a message that does not decode",
			 name);
		return -EPIPE;
	}
	push(hub, ev);
	return 1;
}

/* Up to BX_HUB_BURST messages of one stream; counts them in *@got. */
static int
drain(struct bx_hub *hub, struct bx_rpc_call *call, bool topology,
      int wait_ms, unsigned *got, char *why, size_t whylen)
{
	unsigned i;
	int rc;

	for (i = 0; i < BX_HUB_BURST; i++) {
		rc = pump(hub, call, topology, i == 0 ? wait_ms : 0, why, whylen);
		if (rc <= 0)
			return rc;
		(*got)++;
	}
	return 0;
}

/* One leg's life: its session and, while it is down, its next try. */
struct leg {
	bool open;
	bool delivered;     /* the session did its job (watch: a message) */
	uint64_t began;     /* mono ms, when it opened */
	uint64_t retry_at;  /* mono ms, while it is down */
	uint64_t backoff;   /* the wait after the next failure */
};

/* What the thread holds: the channel and the two legs on it. */
struct link {
	struct bx_rpc_client_creds creds;
	struct bx_rpc_channel *ch;
	uint64_t max_backoff;
	/* Watch leg: topology, policy; metrics and mesh settings. */
	struct leg watch;
	struct bx_rpc_call *topo, *pol;
	uint64_t next_report;
	bool mesh_armed;    /* fetch at mesh_due (after a connect) */
	uint64_t mesh_due;
	uint64_t mesh_backoff;
	/* Signal leg. */
	struct leg sig;
	struct bx_rpc_call *sig_call;
};

static uint64_t
doubled(uint64_t ms, uint64_t max)
{
	return ms * 2u > max ? max : ms * 2u;
}

static struct bx_rpc_channel *
link_channel(struct bx_hub *hub, struct link *l, char *why, size_t whylen)
{
	if (l->ch == NULL)
		l->ch = bx_rpc_channel_create(hub->target, &l->creds, why,
					      whylen);
	return l->ch;
}

/*
 * A leg's session is over (its calls freed): the next try after its
 * back-off, which starts over after a session that did its job and
 * lasted. With both legs down the channel goes too: a fresh one next
 * time.
 */
static void
leg_down(struct link *l, struct leg *g, uint64_t now)
{
	if (g->delivered && now - g->began >= SESSION_GOOD_MS)
		g->backoff = BX_HUB_RECONNECT_MIN_MS;
	g->open = false;
	g->delivered = false;
	g->retry_at = now + g->backoff;
	g->backoff = doubled(g->backoff, l->max_backoff);
	if (!l->watch.open && !l->sig.open) {
		bx_rpc_channel_destroy(l->ch);
		l->ch = NULL;
	}
}

static void
watch_down(struct bx_hub *hub, struct link *l, const char *why,
	   uint64_t now)
{
	bx_rpc_call_free(l->topo);
	bx_rpc_call_free(l->pol);
	l->topo = l->pol = NULL;
	l->mesh_armed = false;
	leg_down(l, &l->watch, now);
	if (!stopping(hub))
		set_state(hub, false, why[0] != '\0' ? why : "disconnected");
}

static void
watch_up(struct bx_hub *hub, struct link *l, uint64_t now)
{
	char why[BX_HUB_WARNING_LEN] = "";
	uint64_t known_topo, known_pol;

	applied(hub, &known_topo, &known_pol);
	l->watch.open = true;
	l->watch.began = now;
	if (link_channel(hub, l, why, sizeof(why)) == NULL ||
	    open_watch(l->ch, TOPOLOGY_METHOD, known_topo, true, &l->topo) != 0 ||
	    open_watch(l->ch, POLICY_METHOD, known_pol, false, &l->pol) != 0) {
		if (why[0] == '\0')
			snprintf(why, sizeof(why), "cannot open the streams");
		watch_down(hub, l, why, now);
		return;
	}
	l->next_report = now + (uint64_t)hub->conf.metrics_interval_s * 1000u;
}

static void
watch_turn(struct bx_hub *hub, struct link *l, int wait_ms, uint64_t now)
{
	char why[BX_HUB_WARNING_LEN] = "";
	unsigned got = 0;

	if (drain(hub, l->topo, true, wait_ms, &got, why, sizeof(why)) < 0 ||
	    drain(hub, l->pol, false, 0, &got, why, sizeof(why)) < 0) {
		watch_down(hub, l, why, now);
		return;
	}
	if (got == 0)
		return;
	/* Connected: what NAT traversal needs is fetched now. */
	if (!l->watch.delivered) {
		l->mesh_armed = true;
		l->mesh_due = now;
		l->mesh_backoff = BX_HUB_RECONNECT_MIN_MS;
	}
	l->watch.delivered = true;
	set_state(hub, true, "streams up");
}

/*
 * GetMeshSettings when due: a MESH event, and the next fetch at half the
 * key's remaining life; a failure is retried with the back-off.
 */
static void
mesh_turn(struct bx_hub *hub, struct link *l, uint64_t now)
{
	Bauxite__V1__GetMeshSettingsRequest r =
		BAUXITE__V1__GET_MESH_SETTINGS_REQUEST__INIT;
	struct bx_hub_event *ev = NULL;
	struct bx_rpc_result res;
	uint64_t now_s, left_s, wait;
	uint8_t buf[8];
	size_t len;

	if (!l->watch.open || !l->mesh_armed || now < l->mesh_due)
		return;
	len = bauxite__v1__get_mesh_settings_request__pack(&r, buf);
	if (bx_rpc_unary(l->ch, MESH_METHOD, buf, len, BX_HUB_MESH_TIMEOUT_MS,
			 &res) == 0)
		ev = mesh_event(res.data, res.len, unix_s());
	if (res.data != NULL)
		OPENSSL_cleanse(res.data, res.len);
	bx_rpc_result_clear(&res);
	now = mono_ms();
	if (ev == NULL) {
		l->mesh_due = now + l->mesh_backoff;
		l->mesh_backoff = doubled(l->mesh_backoff, l->max_backoff);
		return;
	}
	now_s = unix_s();
	left_s = ev->mesh.relay_key_expiry > now_s
			 ? ev->mesh.relay_key_expiry - now_s
			 : 0;
	/* Whatever expiry a hub sends, the wait does not overflow. */
	if (left_s > UINT32_MAX)
		left_s = UINT32_MAX;
	wait = left_s * 1000u / 2u;
	if (wait < BX_HUB_RECONNECT_MIN_MS)
		wait = BX_HUB_RECONNECT_MIN_MS;
	l->mesh_due = now + wait;
	l->mesh_backoff = BX_HUB_RECONNECT_MIN_MS;
	push(hub, ev);
}

static void
report_turn(struct bx_hub *hub, struct link *l, uint64_t now)
{
	if (hub->conf.collect == NULL || !l->watch.open ||
	    !l->watch.delivered || now < l->next_report)
		return;
	l->next_report = now + (uint64_t)hub->conf.metrics_interval_s * 1000u;
	report(hub, l->ch);
}

/* Drops the signals waiting to be sent (lock held); they count as lost. */
static void
sig_queue_clear(struct bx_hub *hub)
{
	struct sig_out *o;
	unsigned i;

	for (i = 0; i < hub->sig_n; i++) {
		o = &hub->sig_q[(hub->sig_head + i) % BX_HUB_SIG_QUEUE_MAX];
		wipe_free(o->buf, o->len);
		o->buf = NULL;
	}
	hub->sig_stats.lost += hub->sig_n;
	hub->sig_head = hub->sig_n = 0;
}

static void
sig_down(struct bx_hub *hub, struct link *l, uint64_t now)
{
	bx_rpc_call_free(l->sig_call);
	l->sig_call = NULL;
	pthread_mutex_lock(&hub->lock);
	hub->sig_up = false;
	sig_queue_clear(hub);
	pthread_mutex_unlock(&hub->lock);
	leg_down(l, &l->sig, now);
}

static void
sig_up(struct bx_hub *hub, struct link *l, uint64_t now)
{
	char why[BX_HUB_WARNING_LEN];

	l->sig.open = true;
	/* Nothing needs to arrive: lasting is the signal leg's job. */
	l->sig.delivered = true;
	l->sig.began = now;
	if (link_channel(hub, l, why, sizeof(why)) == NULL ||
	    bx_rpc_call_open_bidi(l->ch, SIGNAL_METHOD, &l->sig_call) != 0) {
		sig_down(hub, l, now);
		return;
	}
	pthread_mutex_lock(&hub->lock);
	hub->sig_up = true;
	pthread_mutex_unlock(&hub->lock);
}

/*
 * Hands queued signals to gRPC while it takes them. Only this thread
 * removes from the queue, so the head stays put while it is sent.
 */
static void
sig_flush(struct bx_hub *hub, struct link *l)
{
	struct sig_out o;
	int rc;

	for (;;) {
		pthread_mutex_lock(&hub->lock);
		if (hub->sig_n == 0) {
			pthread_mutex_unlock(&hub->lock);
			return;
		}
		o = hub->sig_q[hub->sig_head];
		pthread_mutex_unlock(&hub->lock);
		rc = bx_rpc_call_send(l->sig_call, o.buf, o.len);
		/* Full: later. Ended: the next receive says so. */
		if (rc == -ENOBUFS || rc == -EPIPE)
			return;
		pthread_mutex_lock(&hub->lock);
		hub->sig_q[hub->sig_head].buf = NULL;
		hub->sig_head = (hub->sig_head + 1) % BX_HUB_SIG_QUEUE_MAX;
		hub->sig_n--;
		if (rc == 0)
			hub->sig_stats.sent++;
		else
			hub->sig_stats.lost++;
		pthread_mutex_unlock(&hub->lock);
		wipe_free(o.buf, o.len);
	}
}

static void
sig_turn(struct bx_hub *hub, struct link *l, int wait_ms, uint64_t now)
{
	struct bx_hub_event *ev;
	uint8_t *data;
	unsigned i;
	size_t len;
	int rc = 0;

	sig_flush(hub, l);
	for (i = 0; i < BX_HUB_BURST; i++) {
		rc = bx_rpc_call_next(l->sig_call, i == 0 ? wait_ms : 0, &data,
				      &len);
		if (rc != 0)
			break;
		ev = signal_event(data, len);
		wipe_free(data, len);
		if (ev != NULL) {
			push(hub, ev);
			continue;
		}
		pthread_mutex_lock(&hub->lock);
		hub->sig_stats.refused++;
		pthread_mutex_unlock(&hub->lock);
	}
	if (rc == -EPIPE)
		sig_down(hub, l, now);
	else
		sig_flush(hub, l);
}

static void *
hub_thread(void *arg)
{
	struct bx_hub *hub = arg;
	struct link l;
	uint64_t now, next;
	bool waited;

	memset(&l, 0, sizeof(l));
	l.creds.kind = BX_RPC_CREDS_TLS;
	l.creds.ca_pem = hub->ca_pem;
	l.creds.cert_pem = hub->cert_pem;
	l.creds.key_pem = hub->key_pem;
	l.creds.server_name = hub->server_name;
	l.max_backoff = (uint64_t)hub->conf.reconnect_max_s * 1000u;
	l.watch.backoff = l.sig.backoff = BX_HUB_RECONNECT_MIN_MS;
	l.mesh_backoff = BX_HUB_RECONNECT_MIN_MS;
	while (!stopping(hub)) {
		now = mono_ms();
		if (!l.watch.open && now >= l.watch.retry_at)
			watch_up(hub, &l, now);
		if (!l.sig.open && now >= l.sig.retry_at)
			sig_up(hub, &l, now);
		/* One wait per turn, on the signal stream when it is up: what
		 * the control lcore queued goes out after at most that. */
		waited = l.sig.open;
		if (l.sig.open)
			sig_turn(hub, &l, BX_HUB_POLL_MS, now);
		if (l.watch.open) {
			watch_turn(hub, &l, waited ? 0 : BX_HUB_POLL_MS,
				   mono_ms());
			waited = true;
		}
		if (stopping(hub))
			break;
		now = mono_ms();
		mesh_turn(hub, &l, now);
		report_turn(hub, &l, mono_ms());
		if (waited || l.watch.open || l.sig.open)
			continue;
		next = l.watch.retry_at < l.sig.retry_at ? l.watch.retry_at
							 : l.sig.retry_at;
		if (next > now)
			nap(hub, next - now);
	}
	bx_rpc_call_free(l.topo);
	bx_rpc_call_free(l.pol);
	bx_rpc_call_free(l.sig_call);
	bx_rpc_channel_destroy(l.ch);
	pthread_mutex_lock(&hub->lock);
	hub->sig_up = false;
	sig_queue_clear(hub);
	pthread_mutex_unlock(&hub->lock);
	return NULL;
}

/* ---- signals from the control lcore --------------------------------------- */

int
bx_hub_signal_send(struct bx_hub *hub, const struct bx_hub_signal *s)
{
	struct sig_out *o;
	uint8_t *buf;
	size_t len = 0;
	bool room;
	int rc = 0;

	if (hub == NULL || s == NULL || !signal_valid(s))
		return -EINVAL;
	/* Not packed for nothing when it could not be queued anyway. */
	pthread_mutex_lock(&hub->lock);
	room = hub->sig_up && hub->sig_n < BX_HUB_SIG_QUEUE_MAX;
	pthread_mutex_unlock(&hub->lock);
	if (!room)
		return -EAGAIN;
	buf = signal_pack(s, &len);
	if (buf == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&hub->lock);
	if (!hub->sig_up || hub->sig_n == BX_HUB_SIG_QUEUE_MAX) {
		rc = -EAGAIN;
	} else {
		o = &hub->sig_q[(hub->sig_head + hub->sig_n) %
				BX_HUB_SIG_QUEUE_MAX];
		o->buf = buf;
		o->len = len;
		hub->sig_n++;
		buf = NULL;
	}
	pthread_mutex_unlock(&hub->lock);
	if (buf != NULL)
		wipe_free(buf, len);
	return rc;
}

void
bx_hub_signal_stats(struct bx_hub *hub, struct bx_hub_signal_stats *out)
{
	pthread_mutex_lock(&hub->lock);
	*out = hub->sig_stats;
	pthread_mutex_unlock(&hub->lock);
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
	sig_queue_clear(hub);
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
