/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NAT traversal: one libnice agent per peer and the signaling state
 * machine. See bx_ice.h.
 *
 * Invariant: a peer has a current session (non-zero) exactly while it has
 * an agent. Closing the agent ends the session, so every later message of
 * that session is stale.
 *
 * libnice emits its signals both from the context and synchronously inside
 * its own calls (host-only gathering finishes inside
 * nice_agent_gather_candidates). Two rules follow:
 *   - local candidates are queued until our OFFER/ANSWER is out, so the
 *     order on the wire is always route, credentials, candidates, end;
 *   - an agent closed from inside one of its own signal handlers is only
 *     unreferenced later, from an idle source (libnice still uses it after
 *     the emission returns), and every caller of a libnice function that
 *     can emit checks afterwards that the agent is still the peer's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <nice/agent.h>
#include <sodium.h>

#include "bx_common.h"
#include "bx_ice.h"

/* Our single stream has a single component (no RTCP-style pair). */
#define ICE_COMPONENT 1u
/* Draws of a ufrag before giving up on finding one no agent uses. */
#define UFRAG_DRAWS 8u
/* RFC 8445 ice-char: ALPHA / DIGIT / "+" / "/"; 64 symbols, 6 bits each. */
static const char ice_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
#define ICE_CHARS_MASK 63u

_Static_assert(sizeof(ice_chars) - 1 == ICE_CHARS_MASK + 1, "ice alphabet");
_Static_assert(BX_ICE_UFRAG_LEN < BX_ICE_UFRAG_MAX, "ufrag fits a signal");
_Static_assert(BX_ICE_PWD_LEN < BX_ICE_PWD_MAX, "pwd fits a signal");
_Static_assert(BX_ICE_UFRAG_LEN >= 16 && BX_ICE_PWD_LEN >= 22,
	       "credentials long enough to be unguessable");

struct bx_ice;

struct peer {
	struct bx_ice *ice;
	char id[BX_ICE_ID_MAX];
	bool controlling;        /* our id is the lower one */
	uint64_t session;        /* 0: no negotiation, no agent */
	NiceAgent *agent;
	guint stream;
	NiceComponentState nstate;
	bool failed;             /* the last negotiation failed */
	char ufrag[BX_ICE_UFRAG_LEN + 1];
	char pwd[BX_ICE_PWD_LEN + 1];
	uint16_t port;           /* the agent's bound port, host order */
	bool routed;             /* cbs.route(add) reported */
	bool creds_sent;         /* our OFFER/ANSWER is out */
	bool remote_creds;       /* the peer's credentials are set */
	bool local_done;         /* our gathering finished */
	bool eoc_sent;
	bool remote_done;        /* the peer's END_OF_CANDIDATES came */
	GPtrArray *local;        /* our SDP lines not sent yet (g_free) */
	GSList *pending;         /* NiceCandidate *, newest first */
	unsigned n_pending;
	struct bx_ice_path path;
	unsigned attempts;
	uint32_t backoff_ms;
	GSource *retry;
	GSource *connect;
};

struct bx_ice {
	GMainContext *ctx;
	char self[BX_ICE_ID_MAX];
	char local_ip[INET_ADDRSTRLEN];
	uint16_t port_min;
	uint16_t port_max;
	uint16_t advertised_port;
	char stun_ip[INET_ADDRSTRLEN]; /* "": none */
	uint16_t stun_port;
	uint32_t retry_min_ms;
	uint32_t retry_max_ms;
	uint32_t connect_timeout_ms;
	struct bx_ice_cbs cbs;
	void *ud;
	GHashTable *peers;       /* id -> struct peer *, keys owned by peers */
	GSList *graveyard;       /* closed agents waiting for the reaper */
	GSource *reaper;
	unsigned in_handler;     /* libnice signal handlers on the stack */
	unsigned in_callback;    /* caller callbacks on the stack */
	struct bx_ice_stats stats;
};

static int
fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Length of @s if it is terminated within @max bytes, else @max. */
static size_t
bounded_len(const char *s, size_t max)
{
	const char *nul = memchr(s, '\0', max);

	return nul != NULL ? (size_t)(nul - s) : max;
}

/* Ids are what the hub stamps: printable ASCII, no room for tricks. */
static bool
id_valid(const char *id, size_t len)
{
	size_t i;

	if (len == 0 || len >= BX_ICE_ID_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (id[i] < 0x20 || id[i] > 0x7e)
			return false;
	return true;
}

static bool
ice_chars_only(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] == '\0' || strchr(ice_chars, s[i]) == NULL)
			return false;
	return true;
}

static bool
ipv4_valid(const char *s)
{
	struct in_addr a;

	return s != NULL && inet_pton(AF_INET, s, &a) == 1;
}

/* ---- callbacks out, with the reentrancy guard ---- */

static void
emit_route(struct peer *p, bool add)
{
	struct bx_ice *ice = p->ice;

	ice->in_callback++;
	ice->cbs.route(ice->ud, p->ufrag, p->port, add);
	ice->in_callback--;
}

static void
emit_path(struct peer *p)
{
	struct bx_ice *ice = p->ice;

	ice->in_callback++;
	ice->cbs.path(ice->ud, p->id, &p->path);
	ice->in_callback--;
}

static void
send_signal(struct peer *p, enum bx_ice_kind kind, char *const *lines,
	    unsigned n)
{
	struct bx_ice *ice = p->ice;
	struct bx_ice_signal s;
	unsigned i;

	memset(&s, 0, sizeof(s));
	s.kind = kind;
	memcpy(s.peer, p->id, sizeof(s.peer));
	s.session = p->session;
	if (kind == BX_ICE_OFFER || kind == BX_ICE_ANSWER) {
		memcpy(s.ufrag, p->ufrag, sizeof(p->ufrag));
		memcpy(s.pwd, p->pwd, sizeof(p->pwd));
	}
	for (i = 0; i < n; i++)
		g_strlcpy(s.cand[i], lines[i], sizeof(s.cand[i]));
	s.n_cand = n;
	ice->in_callback++;
	ice->cbs.signal(ice->ud, &s);
	ice->in_callback--;
	ice->stats.signals_out++;
	/* The copy held our pwd. */
	sodium_memzero(&s, sizeof(s));
}

/* ---- timers, all on the caller's context ---- */

static GSource *
timer_start(struct bx_ice *ice, uint32_t ms, GSourceFunc fn, void *data)
{
	GSource *src = g_timeout_source_new(ms);

	g_source_set_callback(src, fn, data, NULL);
	g_source_attach(src, ice->ctx);
	return src;
}

/* Safe from inside the source's own dispatch: GLib holds a reference. */
static void
timer_stop(GSource **src)
{
	if (*src == NULL)
		return;
	g_source_destroy(*src);
	g_source_unref(*src);
	*src = NULL;
}

static gboolean
reap(gpointer data)
{
	struct bx_ice *ice = data;

	g_slist_free_full(ice->graveyard, g_object_unref);
	ice->graveyard = NULL;
	timer_stop(&ice->reaper);
	return G_SOURCE_REMOVE;
}

/* ---- agents ---- */

static void
pending_clear(struct peer *p)
{
	g_slist_free_full(p->pending, (GDestroyNotify)nice_candidate_free);
	p->pending = NULL;
	p->n_pending = 0;
}

/*
 * Closes the peer's agent: route withdrawn, credentials wiped, queues
 * dropped, session over. The path is the caller's business.
 */
static void
agent_close(struct peer *p)
{
	struct bx_ice *ice = p->ice;
	NiceAgent *agent = p->agent;

	if (agent == NULL)
		return;
	g_signal_handlers_disconnect_by_data(agent, p);
	if (p->stream != 0)
		nice_agent_attach_recv(agent, p->stream, ICE_COMPONENT,
				       ice->ctx, NULL, NULL);
	if (ice->in_handler > 0) {
		ice->graveyard = g_slist_prepend(ice->graveyard, agent);
		if (ice->reaper == NULL) {
			ice->reaper = g_idle_source_new();
			g_source_set_callback(ice->reaper, reap, ice, NULL);
			g_source_attach(ice->reaper, ice->ctx);
		}
	} else {
		g_object_unref(agent);
	}
	p->agent = NULL;
	timer_stop(&p->connect);
	if (p->routed)
		emit_route(p, false);
	p->routed = false;
	sodium_memzero(p->pwd, sizeof(p->pwd));
	sodium_memzero(p->ufrag, sizeof(p->ufrag));
	p->port = 0;
	p->stream = 0;
	p->nstate = NICE_COMPONENT_STATE_DISCONNECTED;
	p->session = 0;
	p->creds_sent = false;
	p->remote_creds = false;
	p->local_done = false;
	p->eoc_sent = false;
	p->remote_done = false;
	g_ptr_array_set_size(p->local, 0);
	pending_clear(p);
}

/*
 * Ends the current negotiation. The path goes down when it was up, and on
 * failure even when it never came up: the caller hears of every failed
 * negotiation and can keep the peer on its relay path.
 */
static void
negotiation_end(struct peer *p, bool failed)
{
	bool report = failed || p->path.up;

	agent_close(p);
	p->failed = failed;
	if (report) {
		memset(&p->path, 0, sizeof(p->path));
		emit_path(p);
	}
}

static void negotiation_start(struct peer *p);

static gboolean
on_retry(gpointer data)
{
	struct peer *p = data;

	timer_stop(&p->retry);
	negotiation_start(p);
	return G_SOURCE_REMOVE;
}

/* Controller only: invite again after the back-off, then double it. */
static void
retry_schedule(struct peer *p)
{
	struct bx_ice *ice = p->ice;
	uint32_t delay = p->backoff_ms;

	if (!p->controlling)
		return;
	timer_stop(&p->retry);
	p->retry = timer_start(ice, delay, on_retry, p);
	p->backoff_ms = delay > ice->retry_max_ms / 2 ? ice->retry_max_ms :
							 delay * 2;
}

static void
negotiation_failed(struct peer *p)
{
	p->ice->stats.failed++;
	/* The responder tells the controller, which would otherwise wait for
	 * consent to run out before inviting again. */
	if (!p->controlling && p->session != 0)
		send_signal(p, BX_ICE_BYE, NULL, 0);
	negotiation_end(p, true);
	retry_schedule(p);
}

static gboolean
on_connect_timeout(gpointer data)
{
	struct peer *p = data;

	timer_stop(&p->connect);
	negotiation_failed(p);
	return G_SOURCE_REMOVE;
}

/* Sends what our OFFER/ANSWER has cleared: queued lines, then the end. */
static void
flush(struct peer *p)
{
	unsigned n;

	if (p->agent == NULL || !p->creds_sent)
		return;
	while (p->local->len > 0) {
		n = MIN(p->local->len, BX_ICE_CAND_MAX);
		send_signal(p, BX_ICE_CANDIDATE, (char *const *)p->local->pdata,
			    n);
		g_ptr_array_remove_range(p->local, 0, n);
	}
	if (p->local_done && !p->eoc_sent) {
		p->eoc_sent = true;
		send_signal(p, BX_ICE_END_OF_CANDIDATES, NULL, 0);
	}
}

/*
 * The SDP line for one of our candidates, with the private port replaced
 * by the mesh port wherever the wire would show it: the address of a host
 * candidate and the related port of a srflx one.
 */
static gchar *
local_sdp(const struct peer *p, NiceCandidate *c)
{
	uint16_t adv = p->ice->advertised_port;
	NiceCandidate *copy;
	gchar *sdp;

	if (adv == 0)
		return nice_agent_generate_local_candidate_sdp(p->agent, c);
	copy = nice_candidate_copy(c);
	if (copy->type == NICE_CANDIDATE_TYPE_HOST)
		nice_address_set_port(&copy->addr, adv);
	else if (copy->type == NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE &&
		 nice_address_get_port(&copy->base_addr) != 0)
		nice_address_set_port(&copy->base_addr, adv);
	sdp = nice_agent_generate_local_candidate_sdp(p->agent, copy);
	nice_candidate_free(copy);
	return sdp;
}

static void
on_candidate(NiceAgent *agent, NiceCandidate *c, gpointer data)
{
	struct peer *p = data;
	gchar *sdp;

	(void)agent;
	/* The peer learns our peer-reflexive candidates from its checks. */
	if (c->type == NICE_CANDIDATE_TYPE_PEER_REFLEXIVE ||
	    c->component_id != ICE_COMPONENT)
		return;
	p->ice->in_handler++;
	sdp = local_sdp(p, c);
	if (sdp == NULL || strlen(sdp) >= BX_ICE_CAND_LEN ||
	    p->local->len >= BX_ICE_LOCAL_CAND_MAX) {
		p->ice->stats.cand_dropped++;
		g_free(sdp);
	} else {
		g_ptr_array_add(p->local, sdp);
		flush(p);
	}
	p->ice->in_handler--;
}

static void
on_gathering_done(NiceAgent *agent, guint stream, gpointer data)
{
	struct peer *p = data;

	(void)agent;
	(void)stream;
	p->ice->in_handler++;
	p->local_done = true;
	flush(p);
	p->ice->in_handler--;
}

static void
on_state(NiceAgent *agent, guint stream, guint component, guint state,
	 gpointer data)
{
	struct peer *p = data;

	(void)agent;
	(void)stream;
	if (component != ICE_COMPONENT)
		return;
	p->ice->in_handler++;
	p->nstate = state;
	switch (state) {
	case NICE_COMPONENT_STATE_READY:
		p->backoff_ms = p->ice->retry_min_ms;
		/* fall through */
	case NICE_COMPONENT_STATE_CONNECTED:
		timer_stop(&p->connect);
		break;
	case NICE_COMPONENT_STATE_FAILED:
		negotiation_failed(p);
		break;
	default:
		break;
	}
	p->ice->in_handler--;
}

static void
on_selected_pair(NiceAgent *agent, guint stream, guint component,
		 NiceCandidate *lc, NiceCandidate *rc, gpointer data)
{
	struct peer *p = data;
	struct sockaddr_storage ss;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;

	(void)agent;
	(void)stream;
	/* The fast path carries IPv4 only (struct bx_ice_path). */
	if (component != ICE_COMPONENT || nice_address_ip_version(&rc->addr) != 4)
		return;
	p->ice->in_handler++;
	memset(&ss, 0, sizeof(ss));
	nice_address_copy_to_sockaddr(&rc->addr, (struct sockaddr *)&ss);
	memset(&p->path, 0, sizeof(p->path));
	p->path.up = true;
	p->path.remote_ip = sin->sin_addr.s_addr;
	p->path.remote_port = sin->sin_port;
	g_strlcpy(p->path.local_type, nice_candidate_type_to_string(lc->type),
		  sizeof(p->path.local_type));
	g_strlcpy(p->path.remote_type, nice_candidate_type_to_string(rc->type),
		  sizeof(p->path.remote_type));
	emit_path(p);
	p->ice->in_handler--;
}

/* The fast path carries the data; libnice only needs a reader attached. */
static void
on_recv(NiceAgent *agent, guint stream, guint component, guint len,
	gchar *buf, gpointer data)
{
	(void)agent;
	(void)stream;
	(void)component;
	(void)len;
	(void)buf;
	(void)data;
}

static void
random_chars(char *out, size_t n)
{
	uint8_t r[BX_ICE_PWD_LEN];
	size_t i;

	BX_ASSERT(n <= sizeof(r));
	randombytes_buf(r, n);
	for (i = 0; i < n; i++)
		out[i] = ice_chars[r[i] & ICE_CHARS_MASK];
	out[n] = '\0';
	sodium_memzero(r, sizeof(r));
}

static bool
ufrag_in_use(const struct bx_ice *ice, const char *ufrag)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, ice->peers);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const struct peer *q = v;

		if (q->agent != NULL && strcmp(q->ufrag, ufrag) == 0)
			return true;
	}
	return false;
}

static int
draw_credentials(struct peer *p)
{
	char ufrag[BX_ICE_UFRAG_LEN + 1];
	unsigned i;

	for (i = 0; i < UFRAG_DRAWS; i++) {
		random_chars(ufrag, BX_ICE_UFRAG_LEN);
		if (!ufrag_in_use(p->ice, ufrag))
			break;
	}
	if (i == UFRAG_DRAWS)
		return -EAGAIN;
	memcpy(p->ufrag, ufrag, sizeof(ufrag));
	random_chars(p->pwd, BX_ICE_PWD_LEN);
	return 0;
}

static uint16_t
host_port(NiceAgent *agent, guint stream)
{
	GSList *l, *cands = nice_agent_get_local_candidates(agent, stream,
							    ICE_COMPONENT);
	uint16_t port = 0;

	for (l = cands; l != NULL; l = l->next) {
		const NiceCandidate *c = l->data;

		if (c->type == NICE_CANDIDATE_TYPE_HOST &&
		    c->transport == NICE_CANDIDATE_TRANSPORT_UDP)
			port = (uint16_t)nice_address_get_port(&c->addr);
	}
	g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
	return port;
}

/*
 * Opens an agent for @session: bound, gathering, its route reported.
 * Nothing is signalled yet. On error the peer is left without an agent.
 */
static int
agent_open(struct peer *p, uint64_t session)
{
	struct bx_ice *ice = p->ice;
	NiceAddress addr;
	NiceAgent *agent;
	gboolean ok;
	int rc;

	agent = nice_agent_new_full(ice->ctx, NICE_COMPATIBILITY_RFC5245,
				    NICE_AGENT_OPTION_ICE_TRICKLE |
				    NICE_AGENT_OPTION_CONSENT_FRESHNESS);
	if (agent == NULL)
		return -ENOMEM;
	g_object_set(agent, "upnp", FALSE, "ice-tcp", FALSE,
		     "controlling-mode", (gboolean)p->controlling, NULL);
	if (ice->stun_ip[0] != '\0')
		g_object_set(agent, "stun-server", ice->stun_ip,
			     "stun-server-port", (guint)ice->stun_port, NULL);
	p->agent = agent;
	p->session = session;
	p->stream = nice_agent_add_stream(agent, 1);
	if (p->stream == 0) {
		rc = -ENOMEM;
		goto fail;
	}
	nice_address_init(&addr);
	if (!nice_address_set_from_string(&addr, ice->local_ip) ||
	    !nice_agent_add_local_address(agent, &addr)) {
		rc = -EINVAL;
		goto fail;
	}
	nice_agent_set_port_range(agent, p->stream, ICE_COMPONENT,
				  ice->port_min, ice->port_max);
	rc = draw_credentials(p);
	if (rc < 0)
		goto fail;
	if (!nice_agent_set_local_credentials(agent, p->stream, p->ufrag,
					      p->pwd)) {
		rc = -EINVAL;
		goto fail;
	}
	nice_agent_attach_recv(agent, p->stream, ICE_COMPONENT, ice->ctx,
			       on_recv, NULL);
	g_signal_connect(agent, "new-candidate-full", G_CALLBACK(on_candidate),
			 p);
	g_signal_connect(agent, "candidate-gathering-done",
			 G_CALLBACK(on_gathering_done), p);
	g_signal_connect(agent, "component-state-changed", G_CALLBACK(on_state),
			 p);
	g_signal_connect(agent, "new-selected-pair-full",
			 G_CALLBACK(on_selected_pair), p);
	ok = nice_agent_gather_candidates(agent, p->stream);
	if (p->agent != agent) {
		/* Failed inside the gathering: already closed and reported. */
		return -ECONNABORTED;
	}
	if (!ok) {
		rc = -EADDRINUSE;
		goto fail;
	}
	p->port = host_port(agent, p->stream);
	if (p->port == 0) {
		rc = -EADDRNOTAVAIL;
		goto fail;
	}
	emit_route(p, true);
	p->routed = true;
	p->connect = timer_start(ice, ice->connect_timeout_ms,
				 on_connect_timeout, p);
	p->failed = false;
	p->attempts++;
	ice->stats.negotiations++;
	return 0;
fail:
	agent_close(p);
	ice->stats.open_failed++;
	return rc;
}

static uint64_t
new_session(void)
{
	uint64_t s;

	do
		randombytes_buf(&s, sizeof(s));
	while (s == 0);
	return s;
}

/* Controller: a fresh agent and session, then the INVITE. */
static void
negotiation_start(struct peer *p)
{
	if (p->agent != NULL)
		negotiation_end(p, false);
	if (agent_open(p, new_session()) < 0) {
		/* Unless a failure inside the gathering already scheduled it. */
		if (p->retry == NULL) {
			p->failed = true;
			retry_schedule(p);
		}
		return;
	}
	send_signal(p, BX_ICE_INVITE, NULL, 0);
}

/* ---- public API ---- */

struct bx_ice *
bx_ice_create(const struct bx_ice_conf *c, const struct bx_ice_cbs *cbs,
	      void *ud, char *err, size_t errlen)
{
	struct bx_ice *ice = NULL;
	int rc;

	if (c == NULL || cbs == NULL || c->ctx == NULL) {
		rc = fail(err, errlen, -EINVAL, "no conf, callbacks or context");
		goto out;
	}
	if (cbs->signal == NULL || cbs->path == NULL || cbs->route == NULL) {
		rc = fail(err, errlen, -EINVAL,
			  "cbs: signal, path and route are all required");
		goto out;
	}
	if (c->self_id == NULL ||
	    !id_valid(c->self_id, strnlen(c->self_id, BX_ICE_ID_MAX))) {
		rc = fail(err, errlen, -EINVAL,
			  "self_id: 1..%u printable characters",
			  BX_ICE_ID_MAX - 1);
		goto out;
	}
	if (!ipv4_valid(c->local_ip)) {
		rc = fail(err, errlen, -EINVAL, "local_ip: not an IPv4 address");
		goto out;
	}
	if (c->port_min == 0 || c->port_max < c->port_min) {
		rc = fail(err, errlen, -EINVAL,
			  "port_min..port_max: %u..%u is not a port range",
			  c->port_min, c->port_max);
		goto out;
	}
	if (c->advertised_port >= c->port_min &&
	    c->advertised_port <= c->port_max) {
		rc = fail(err, errlen, -EINVAL,
			  "advertised_port %u: inside the agents' port range",
			  c->advertised_port);
		goto out;
	}
	if (c->stun_ip != NULL && (!ipv4_valid(c->stun_ip) ||
				   c->stun_port == 0)) {
		rc = fail(err, errlen, -EINVAL,
			  "stun_ip/stun_port: not an IPv4 address and port");
		goto out;
	}
	if (sodium_init() < 0) {
		rc = fail(err, errlen, -EIO, "libsodium failed to initialise");
		goto out;
	}
	ice = g_try_new0(struct bx_ice, 1);
	if (ice == NULL) {
		rc = fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	ice->retry_min_ms = c->retry_min_ms ? c->retry_min_ms :
					      BX_ICE_RETRY_MIN_MS_DEFAULT;
	ice->retry_max_ms = c->retry_max_ms ? c->retry_max_ms :
					      BX_ICE_RETRY_MAX_MS_DEFAULT;
	if (ice->retry_max_ms < ice->retry_min_ms) {
		rc = fail(err, errlen, -EINVAL,
			  "retry_max_ms %u: below retry_min_ms %u",
			  ice->retry_max_ms, ice->retry_min_ms);
		goto out;
	}
	ice->connect_timeout_ms = c->connect_timeout_ms ?
		c->connect_timeout_ms : BX_ICE_CONNECT_TIMEOUT_MS_DEFAULT;
	ice->ctx = g_main_context_ref(c->ctx);
	g_strlcpy(ice->self, c->self_id, sizeof(ice->self));
	g_strlcpy(ice->local_ip, c->local_ip, sizeof(ice->local_ip));
	ice->port_min = c->port_min;
	ice->port_max = c->port_max;
	ice->advertised_port = c->advertised_port;
	if (c->stun_ip != NULL) {
		g_strlcpy(ice->stun_ip, c->stun_ip, sizeof(ice->stun_ip));
		ice->stun_port = c->stun_port;
	}
	ice->cbs = *cbs;
	ice->ud = ud;
	ice->peers = g_hash_table_new(g_str_hash, g_str_equal);
	return ice;
out:
	g_free(ice);
	errno = -rc;
	return NULL;
}

int
bx_ice_peer_add(struct bx_ice *ice, const char *peer)
{
	struct peer *p;

	BX_ASSERT(ice->in_callback == 0);
	if (peer == NULL || !id_valid(peer, strnlen(peer, BX_ICE_ID_MAX)) ||
	    strcmp(peer, ice->self) == 0)
		return -EINVAL;
	if (g_hash_table_contains(ice->peers, peer))
		return -EEXIST;
	if (g_hash_table_size(ice->peers) >= BX_ICE_PEER_MAX)
		return -ENOSPC;
	p = g_new0(struct peer, 1);
	p->ice = ice;
	g_strlcpy(p->id, peer, sizeof(p->id));
	p->controlling = strcmp(ice->self, p->id) < 0;
	p->local = g_ptr_array_new_with_free_func(g_free);
	p->backoff_ms = ice->retry_min_ms;
	g_hash_table_insert(ice->peers, p->id, p);
	if (p->controlling)
		negotiation_start(p);
	return 0;
}

static void
peer_drop(struct peer *p)
{
	if (p->session != 0)
		send_signal(p, BX_ICE_BYE, NULL, 0);
	negotiation_end(p, false);
	timer_stop(&p->retry);
	g_ptr_array_unref(p->local);
	g_free(p);
}

void
bx_ice_peer_remove(struct bx_ice *ice, const char *peer)
{
	struct peer *p;

	if (ice == NULL || peer == NULL)
		return;
	BX_ASSERT(ice->in_callback == 0);
	p = g_hash_table_lookup(ice->peers, peer);
	if (p == NULL)
		return;
	g_hash_table_remove(ice->peers, peer);
	peer_drop(p);
}

/* Field checks that need no state: everything the sender wrote. */
static int
signal_check(const struct bx_ice_signal *s, char *err, size_t errlen)
{
	size_t ulen, plen, len;
	unsigned i;

	if ((unsigned)s->kind > BX_ICE_BYE)
		return fail(err, errlen, -EINVAL, "kind %u: unknown",
			    (unsigned)s->kind);
	if (!id_valid(s->peer, bounded_len(s->peer, sizeof(s->peer))))
		return fail(err, errlen, -EINVAL,
			    "peer: not an id of 1..%u printable characters",
			    BX_ICE_ID_MAX - 1);
	if (s->session == 0)
		return fail(err, errlen, -EINVAL, "from %s: session 0",
			    s->peer);
	switch (s->kind) {
	case BX_ICE_OFFER:
	case BX_ICE_ANSWER:
		ulen = bounded_len(s->ufrag, sizeof(s->ufrag));
		if (ulen < BX_ICE_UFRAG_MIN || ulen == sizeof(s->ufrag) ||
		    !ice_chars_only(s->ufrag, ulen))
			return fail(err, errlen, -EINVAL,
				    "from %s: ufrag not %u..%u ice-chars",
				    s->peer, BX_ICE_UFRAG_MIN,
				    BX_ICE_UFRAG_MAX - 1);
		plen = bounded_len(s->pwd, sizeof(s->pwd));
		if (plen < BX_ICE_PWD_MIN || plen == sizeof(s->pwd) ||
		    !ice_chars_only(s->pwd, plen))
			return fail(err, errlen, -EINVAL,
				    "from %s: pwd not %u..%u ice-chars",
				    s->peer, BX_ICE_PWD_MIN,
				    BX_ICE_PWD_MAX - 1);
		break;
	case BX_ICE_CANDIDATE:
		if (s->n_cand == 0 || s->n_cand > BX_ICE_CAND_MAX)
			return fail(err, errlen, -EINVAL,
				    "from %s: %u candidate lines, not 1..%u",
				    s->peer, s->n_cand, BX_ICE_CAND_MAX);
		for (i = 0; i < s->n_cand; i++) {
			len = bounded_len(s->cand[i], sizeof(s->cand[i]));
			if (len == 0 || len == sizeof(s->cand[i]))
				return fail(err, errlen, -EINVAL,
					    "from %s: candidate %u empty or "
					    "unterminated", s->peer, i);
		}
		break;
	default:
		break;
	}
	return 0;
}

/* Messages each role may receive: the INVITE and ANSWER come from the
 * controller (the lower id), the OFFER from the responder. */
static bool
role_fits(const struct peer *p, enum bx_ice_kind kind)
{
	switch (kind) {
	case BX_ICE_INVITE:
	case BX_ICE_ANSWER:
		return !p->controlling;
	case BX_ICE_OFFER:
		return p->controlling;
	default:
		return true;
	}
}

static const char *const kind_names[] = {
	[BX_ICE_INVITE] = "INVITE",
	[BX_ICE_OFFER] = "OFFER",
	[BX_ICE_ANSWER] = "ANSWER",
	[BX_ICE_CANDIDATE] = "CANDIDATE",
	[BX_ICE_END_OF_CANDIDATES] = "END_OF_CANDIDATES",
	[BX_ICE_BYE] = "BYE",
};

static int
on_invite(struct peer *p, uint64_t session, char *err, size_t errlen)
{
	int rc;

	if (session == p->session)
		return fail(err, errlen, -EALREADY,
			    "INVITE from %s: session already under way", p->id);
	if (p->agent != NULL)
		negotiation_end(p, false);
	rc = agent_open(p, session);
	if (rc < 0) {
		p->failed = true;
		return fail(err, errlen, rc,
			    "INVITE from %s: no agent on a port of %u..%u (%s)",
			    p->id, p->ice->port_min, p->ice->port_max,
			    g_strerror(-rc));
	}
	p->creds_sent = true;
	send_signal(p, BX_ICE_OFFER, NULL, 0);
	flush(p);
	return 0;
}

/* OFFER (we control) or ANSWER (we respond): the peer's credentials. */
static int
on_credentials(struct peer *p, const struct bx_ice_signal *s, char *err,
	       size_t errlen)
{
	NiceAgent *agent = p->agent;
	GSList *cands;

	if (p->remote_creds)
		return fail(err, errlen, -EALREADY,
			    "%s from %s: credentials already given",
			    kind_names[s->kind], p->id);
	if (!nice_agent_set_remote_credentials(agent, p->stream, s->ufrag,
					       s->pwd))
		return fail(err, errlen, -EINVAL,
			    "%s from %s: credentials refused by libnice",
			    kind_names[s->kind], p->id);
	if (p->agent != agent)
		return 0; /* failed while libnice took them: already reported */
	p->remote_creds = true;
	if (p->controlling) {
		p->creds_sent = true;
		send_signal(p, BX_ICE_ANSWER, NULL, 0);
		flush(p);
	}
	if (p->pending != NULL) {
		cands = g_slist_reverse(p->pending);
		p->pending = NULL;
		p->n_pending = 0;
		nice_agent_set_remote_candidates(agent, p->stream,
						 ICE_COMPONENT, cands);
		g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
	}
	if (p->agent == agent && p->remote_done)
		nice_agent_peer_candidate_gathering_done(agent, p->stream);
	return 0;
}

static int
on_candidates(struct peer *p, const struct bx_ice_signal *s, char *err,
	      size_t errlen)
{
	GSList *cands = NULL;
	NiceCandidate *c;
	unsigned i;
	int rc = 0;

	for (i = 0; i < s->n_cand; i++) {
		c = nice_agent_parse_remote_candidate_sdp(p->agent, p->stream,
							  s->cand[i]);
		if (c == NULL) {
			rc = fail(err, errlen, -EINVAL,
				  "CANDIDATE from %s: line %u is not an SDP "
				  "candidate", p->id, i);
			goto out;
		}
		cands = g_slist_prepend(cands, c);
		if (c->component_id != ICE_COMPONENT ||
		    c->transport != NICE_CANDIDATE_TRANSPORT_UDP) {
			rc = fail(err, errlen, -EINVAL,
				  "CANDIDATE from %s: line %u is not UDP "
				  "component %u", p->id, i, ICE_COMPONENT);
			goto out;
		}
	}
	if (!p->remote_creds) {
		if (p->n_pending + s->n_cand > BX_ICE_PENDING_MAX) {
			rc = fail(err, errlen, -ENOBUFS,
				  "CANDIDATE from %s: more than %u lines before "
				  "the credentials", p->id, BX_ICE_PENDING_MAX);
			goto out;
		}
		/* Both lists are newest first. */
		p->pending = g_slist_concat(cands, p->pending);
		p->n_pending += s->n_cand;
		return 0;
	}
	cands = g_slist_reverse(cands);
	nice_agent_set_remote_candidates(p->agent, p->stream, ICE_COMPONENT,
					 cands);
out:
	g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
	return rc;
}

static int
dispatch(struct peer *p, const struct bx_ice_signal *s, char *err,
	 size_t errlen)
{
	switch (s->kind) {
	case BX_ICE_INVITE:
		return on_invite(p, s->session, err, errlen);
	case BX_ICE_OFFER:
	case BX_ICE_ANSWER:
		return on_credentials(p, s, err, errlen);
	case BX_ICE_CANDIDATE:
		return on_candidates(p, s, err, errlen);
	case BX_ICE_END_OF_CANDIDATES:
		/* Flag first: libnice may fail the agent inside the call. */
		if (p->remote_done)
			return 0;
		p->remote_done = true;
		if (p->remote_creds)
			nice_agent_peer_candidate_gathering_done(p->agent,
								 p->stream);
		return 0;
	case BX_ICE_BYE:
		negotiation_end(p, false);
		retry_schedule(p);
		return 0;
	}
	return -EINVAL;
}

int
bx_ice_signal_in(struct bx_ice *ice, const struct bx_ice_signal *s,
		 char *err, size_t errlen)
{
	struct peer *p;
	int rc;

	BX_ASSERT(ice->in_callback == 0);
	if (s == NULL) {
		rc = fail(err, errlen, -EINVAL, "no message");
		goto refused;
	}
	rc = signal_check(s, err, errlen);
	if (rc < 0)
		goto refused;
	p = g_hash_table_lookup(ice->peers, s->peer);
	if (p == NULL) {
		rc = fail(err, errlen, -ENOENT, "%s from %s: not a peer of ours",
			  kind_names[s->kind], s->peer);
		goto refused;
	}
	if (!role_fits(p, s->kind)) {
		rc = fail(err, errlen, -EPROTO,
			  "%s from %s: not its role (%s controls)",
			  kind_names[s->kind], p->id,
			  p->controlling ? ice->self : p->id);
		goto refused;
	}
	if (s->kind != BX_ICE_INVITE && s->session != p->session) {
		ice->stats.stale++;
		return fail(err, errlen, -ESTALE,
			    "%s from %s: session %016" PRIx64 " is not the "
			    "current one", kind_names[s->kind], p->id,
			    s->session);
	}
	BX_ASSERT(s->kind == BX_ICE_INVITE || p->agent != NULL);
	rc = dispatch(p, s, err, errlen);
	if (rc < 0)
		goto refused;
	ice->stats.signals_in++;
	return 0;
refused:
	ice->stats.refused++;
	return rc;
}

int
bx_ice_set_stun(struct bx_ice *ice, const char *ip, uint16_t port)
{
	if (ip == NULL) {
		ice->stun_ip[0] = '\0';
		ice->stun_port = 0;
		return 0;
	}
	if (!ipv4_valid(ip) || port == 0)
		return -EINVAL;
	g_strlcpy(ice->stun_ip, ip, sizeof(ice->stun_ip));
	ice->stun_port = port;
	return 0;
}

static const char *
state_name(const struct peer *p)
{
	if (p->agent == NULL)
		return p->failed ? "failed" : "idle";
	switch (p->nstate) {
	case NICE_COMPONENT_STATE_CONNECTING:
		return "connecting";
	case NICE_COMPONENT_STATE_CONNECTED:
		return "connected";
	case NICE_COMPONENT_STATE_READY:
		return "ready";
	case NICE_COMPONENT_STATE_FAILED:
		return "failed";
	default:
		return "gathering";
	}
}

int
bx_ice_peer_info(const struct bx_ice *ice, const char *peer,
		 struct bx_ice_peer_info *out)
{
	const struct peer *p;

	if (peer == NULL)
		return -ENOENT;
	p = g_hash_table_lookup(ice->peers, peer);
	if (p == NULL)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	g_strlcpy(out->state, state_name(p), sizeof(out->state));
	out->session = p->session;
	out->attempts = p->attempts;
	out->retry_ms = p->backoff_ms;
	out->path = p->path;
	return 0;
}

const struct bx_ice_stats *
bx_ice_stats(const struct bx_ice *ice)
{
	return &ice->stats;
}

void
bx_ice_free(struct bx_ice *ice)
{
	GHashTableIter it;
	gpointer v;

	if (ice == NULL)
		return;
	BX_ASSERT(ice->in_callback == 0);
	g_hash_table_iter_init(&it, ice->peers);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		g_hash_table_iter_steal(&it);
		peer_drop(v);
	}
	g_hash_table_unref(ice->peers);
	g_slist_free_full(ice->graveyard, g_object_unref);
	timer_stop(&ice->reaper);
	g_main_context_unref(ice->ctx);
	g_free(ice);
}
