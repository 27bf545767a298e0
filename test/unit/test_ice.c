/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suite "ice": two bx_ice objects in one process negotiate through real
 * libnice agents on 127.0.0.1. The test plays the hub: it carries their
 * signals (and drops, holds, rewrites or forges some) while iterating the
 * GMainContext both share, as the control lcore does. A small STUN
 * responder in the test gives one side a server-reflexive candidate. No
 * EAL, no mocks of libnice.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>
#include <stun/stunagent.h>
#include <stun/stunmessage.h>

#include "bx_common.h"
#include "bx_ice.h"

#define ID_A "node-a" /* the lower id: A controls */
#define ID_B "node-b"
#define LOOPBACK "127.0.0.1"
/* Private agent ports of each node; room for every agent a test opens. */
#define PORT_A_MIN 47100u
#define PORT_A_MAX 47119u
#define PORT_B_MIN 47120u
#define PORT_B_MAX 47139u
#define MESH_PORT 7600u
/* What the test's STUN responder claims to have seen. */
#define MAPPED_IP "192.0.2.7"
#define RETRY_MIN_MS 400u
#define RETRY_MAX_MS 1600u
#define CONNECT_TIMEOUT_MS 5000u
/* Loopback negotiations take tens of ms; this only bounds a broken run. */
#define WAIT_MS 8000u
#define EVENTS_MAX 512u
#define ERR_LEN 256u

enum ev_kind { EV_SIGNAL, EV_ROUTE, EV_PATH };

/* What the carrier does with a signal. */
enum verdict { PASS, DROP, HOLD };

/* Everything the two nodes reported, in order. */
struct event {
	enum ev_kind kind;
	int node;                 /* who reported it */
	gint64 at_us;
	struct bx_ice_signal sig; /* EV_SIGNAL, peer = the recipient */
	bool handled;             /* delivered, dropped or held */
	enum verdict verdict;
	int rc;                   /* bx_ice_signal_in's answer */
	char err[ERR_LEN];
	char ufrag[BX_ICE_UFRAG_MAX]; /* EV_ROUTE */
	uint16_t port;
	bool add;
	char peer[BX_ICE_ID_MAX];     /* EV_PATH */
	struct bx_ice_path path;
};

struct node {
	struct bx_ice *ice;
	const char *id;
	int idx;
};

static struct {
	GMainContext *ctx;
	struct node node[2];
	struct event ev[EVENTS_MAX];
	unsigned n_ev;
	bool overflow;
	enum verdict (*filter)(struct event *e);
	int stun_fd;
	StunAgent stun;
	unsigned stun_requests;
	int sink_fd;              /* a bound socket that never answers */
	uint16_t sink_port;
} h;

/* ---- the nodes' callbacks ----------------------------------------------- */

static struct event *
ev_new(enum ev_kind kind, void *ud)
{
	struct event *e;

	if (h.n_ev == EVENTS_MAX) {
		h.overflow = true;
		return NULL;
	}
	e = &h.ev[h.n_ev++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->node = ((const struct node *)ud)->idx;
	e->at_us = g_get_monotonic_time();
	return e;
}

static void
cb_signal(void *ud, const struct bx_ice_signal *s)
{
	struct event *e = ev_new(EV_SIGNAL, ud);

	if (e != NULL)
		e->sig = *s;
}

static void
cb_path(void *ud, const char *peer, const struct bx_ice_path *p)
{
	struct event *e = ev_new(EV_PATH, ud);

	if (e == NULL)
		return;
	g_strlcpy(e->peer, peer, sizeof(e->peer));
	e->path = *p;
}

static void
cb_route(void *ud, const char *ufrag, uint16_t port, bool add)
{
	struct event *e = ev_new(EV_ROUTE, ud);

	if (e == NULL)
		return;
	g_strlcpy(e->ufrag, ufrag, sizeof(e->ufrag));
	e->port = port;
	e->add = add;
}

static const struct bx_ice_cbs cbs = {
	.signal = cb_signal,
	.path = cb_path,
	.route = cb_route,
};

/* ---- the hub: carrying signals, iterating the context ------------------- */

static int
node_by_id(const char *id)
{
	int i;

	for (i = 0; i < 2; i++)
		if (strcmp(h.node[i].id, id) == 0)
			return i;
	return -1;
}

/* Hands one signal to its recipient, stamped with the sender's id. */
static void
deliver_one(struct event *e)
{
	struct bx_ice_signal s = e->sig;
	int to = node_by_id(e->sig.peer);

	e->handled = true;
	if (to < 0 || h.node[to].ice == NULL) {
		e->verdict = DROP;
		return;
	}
	g_strlcpy(s.peer, h.node[e->node].id, sizeof(s.peer));
	e->verdict = PASS;
	e->rc = bx_ice_signal_in(h.node[to].ice, &s, e->err, sizeof(e->err));
}

static void
deliver(void)
{
	unsigned i;

	/* Deliveries add events: n_ev is read again on every round. */
	for (i = 0; i < h.n_ev; i++) {
		struct event *e = &h.ev[i];

		if (e->kind != EV_SIGNAL || e->handled)
			continue;
		e->verdict = h.filter != NULL ? h.filter(e) : PASS;
		if (e->verdict == PASS) {
			deliver_one(e);
		} else {
			e->handled = true;
		}
	}
}

static void
stun_serve(void)
{
	uint8_t in[1500], out[1500];
	struct sockaddr_storage from, mapped;
	struct sockaddr_in *m = (struct sockaddr_in *)&mapped;
	socklen_t flen = sizeof(from);
	StunMessage req, res;
	ssize_t n;
	size_t len;

	if (h.stun_fd < 0)
		return;
	while ((n = recvfrom(h.stun_fd, in, sizeof(in), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &flen)) > 0) {
		flen = sizeof(from);
		if (stun_agent_validate(&h.stun, &req, in, (size_t)n, NULL,
					NULL) != STUN_VALIDATION_SUCCESS ||
		    stun_message_get_class(&req) != STUN_REQUEST ||
		    stun_message_get_method(&req) != STUN_BINDING)
			continue;
		h.stun_requests++;
		memset(&mapped, 0, sizeof(mapped));
		m->sin_family = AF_INET;
		m->sin_port = htons(MESH_PORT);
		m->sin_addr.s_addr = inet_addr(MAPPED_IP);
		if (!stun_agent_init_response(&h.stun, &res, out, sizeof(out),
					      &req) ||
		    stun_message_append_addr(&res, STUN_ATTRIBUTE_MAPPED_ADDRESS,
					     (struct sockaddr *)&mapped,
					     sizeof(*m)) !=
			    STUN_MESSAGE_RETURN_SUCCESS)
			continue;
		len = stun_agent_finish_message(&h.stun, &res, NULL, 0);
		if (len > 0)
			(void)sendto(h.stun_fd, out, len, 0,
				     (struct sockaddr *)&from, sizeof(from));
	}
}

typedef bool (*cond_fn)(void);

/*
 * Runs the context as the control lcore does (one non-blocking iteration,
 * then a millisecond's rest when idle) and carries signals, until @cond
 * holds or @ms pass. Returns whether @cond held.
 */
static bool
pump_until(cond_fn cond, unsigned ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

	for (;;) {
		deliver();
		if (cond != NULL && cond())
			return true;
		if (g_get_monotonic_time() > end)
			return false;
		stun_serve();
		if (!g_main_context_iteration(h.ctx, FALSE))
			g_usleep(1000);
	}
}

/* ---- looking at what happened ------------------------------------------- */

/* Index of the @nth (0-based) signal of @kind sent by @node, or -1. */
static int
signal_at(int node, enum bx_ice_kind kind, unsigned nth)
{
	unsigned i;

	for (i = 0; i < h.n_ev; i++)
		if (h.ev[i].kind == EV_SIGNAL && h.ev[i].node == node &&
		    h.ev[i].sig.kind == kind && nth-- == 0)
			return (int)i;
	return -1;
}

static unsigned
signal_count(int node, enum bx_ice_kind kind)
{
	unsigned i, n = 0;

	for (i = 0; i < h.n_ev; i++)
		if (h.ev[i].kind == EV_SIGNAL && h.ev[i].node == node &&
		    h.ev[i].sig.kind == kind)
			n++;
	return n;
}

/* Index of the @nth route event of @node (adds and removals), or -1. */
static int
route_at(int node, unsigned nth)
{
	unsigned i;

	for (i = 0; i < h.n_ev; i++)
		if (h.ev[i].kind == EV_ROUTE && h.ev[i].node == node &&
		    nth-- == 0)
			return (int)i;
	return -1;
}

static unsigned
route_count(int node, bool add)
{
	unsigned i, n = 0;

	for (i = 0; i < h.n_ev; i++)
		if (h.ev[i].kind == EV_ROUTE && h.ev[i].node == node &&
		    h.ev[i].add == add)
			n++;
	return n;
}

/* Index of the @nth path event of @node with up == @up, or -1. */
static int
path_at(int node, bool up, unsigned nth)
{
	unsigned i;

	for (i = 0; i < h.n_ev; i++)
		if (h.ev[i].kind == EV_PATH && h.ev[i].node == node &&
		    h.ev[i].path.up == up && nth-- == 0)
			return (int)i;
	return -1;
}

static const struct event *
last_path(int node)
{
	unsigned i;

	for (i = h.n_ev; i-- > 0;)
		if (h.ev[i].kind == EV_PATH && h.ev[i].node == node)
			return &h.ev[i];
	return NULL;
}

static struct bx_ice_peer_info
info(int node)
{
	struct bx_ice_peer_info pi;

	assert_int_equal(bx_ice_peer_info(h.node[node].ice,
					  h.node[!node].id, &pi), 0);
	return pi;
}

/* Every delivered signal was accepted, or answered @also_ok. */
static void
assert_accepted_or(int also_ok)
{
	unsigned i;

	for (i = 0; i < h.n_ev; i++) {
		const struct event *e = &h.ev[i];

		if (e->kind == EV_SIGNAL && e->verdict == PASS && e->handled &&
		    e->rc != 0 && e->rc != also_ok)
			fail_msg("signal %u (kind %d from node %d) refused: "
				 "%d %s", i, e->sig.kind, e->node, e->rc,
				 e->err);
	}
	assert_false(h.overflow);
}

static void
assert_all_accepted(void)
{
	assert_accepted_or(0);
}

static bool
ufrag_well_formed(const char *u)
{
	size_t len = strlen(u);

	return len >= 16 && strspn(u, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				      "abcdefghijklmnopqrstuvwxyz"
				      "0123456789+/") == len;
}

static bool
path_up(int node)
{
	const struct event *e = last_path(node);

	return e != NULL && e->path.up;
}

static bool
both_ready(void)
{
	struct bx_ice_peer_info a, b;

	return bx_ice_peer_info(h.node[0].ice, ID_B, &a) == 0 &&
	       bx_ice_peer_info(h.node[1].ice, ID_A, &b) == 0 &&
	       strcmp(a.state, "ready") == 0 &&
	       strcmp(b.state, "ready") == 0 && path_up(0) && path_up(1);
}

/* ---- fixtures ----------------------------------------------------------- */

static struct bx_ice_conf
conf_of(int node)
{
	struct bx_ice_conf c = {
		.ctx = h.ctx,
		.self_id = node == 0 ? ID_A : ID_B,
		.local_ip = LOOPBACK,
		.port_min = node == 0 ? PORT_A_MIN : PORT_B_MIN,
		.port_max = node == 0 ? PORT_A_MAX : PORT_B_MAX,
		.retry_min_ms = RETRY_MIN_MS,
		.retry_max_ms = RETRY_MAX_MS,
		.connect_timeout_ms = CONNECT_TIMEOUT_MS,
	};

	return c;
}

static void
node_start(int node, const struct bx_ice_conf *c)
{
	char err[ERR_LEN] = "";

	h.node[node].ice = bx_ice_create(c, &cbs, &h.node[node], err,
					 sizeof(err));
	if (h.node[node].ice == NULL)
		fail_msg("bx_ice_create: %s", err);
}

/* Both nodes with their default conf, peers of each other. */
static void
pair_start(void)
{
	struct bx_ice_conf a = conf_of(0), b = conf_of(1);

	node_start(0, &a);
	node_start(1, &b);
	assert_int_equal(bx_ice_peer_add(h.node[0].ice, ID_B), 0);
	assert_int_equal(bx_ice_peer_add(h.node[1].ice, ID_A), 0);
}

static int
udp_socket(uint16_t *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = inet_addr(LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static int
setup(void **state)
{
	(void)state;
	memset(&h, 0, sizeof(h));
	h.ctx = g_main_context_new();
	h.node[0].id = ID_A;
	h.node[1].id = ID_B;
	h.node[1].idx = 1;
	h.stun_fd = -1;
	h.sink_fd = -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	bx_ice_free(h.node[0].ice);
	bx_ice_free(h.node[1].ice);
	/* Sources the agents left behind go with the context. */
	while (g_main_context_iteration(h.ctx, FALSE))
		;
	g_main_context_unref(h.ctx);
	if (h.stun_fd >= 0)
		close(h.stun_fd);
	if (h.sink_fd >= 0)
		close(h.sink_fd);
	return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_connect(void **state)
{
	const struct event *ra, *rb, *pa, *pb, *inv, *offer, *answer;
	struct bx_ice_peer_info ia, ib;
	int i;

	(void)state;
	pair_start();
	assert_true(pump_until(both_ready, WAIT_MS));
	assert_all_accepted();

	/* One agent each, its route first; ufrags long, random, distinct. */
	assert_int_equal(route_count(0, true), 1);
	assert_int_equal(route_count(1, true), 1);
	assert_int_equal(route_count(0, false), 0);
	ra = &h.ev[route_at(0, 0)];
	rb = &h.ev[route_at(1, 0)];
	assert_true(ufrag_well_formed(ra->ufrag));
	assert_true(ufrag_well_formed(rb->ufrag));
	assert_string_not_equal(ra->ufrag, rb->ufrag);
	assert_in_range(ra->port, PORT_A_MIN, PORT_A_MAX);
	assert_in_range(rb->port, PORT_B_MIN, PORT_B_MAX);

	/* Each side's path is the other's real bound port. */
	pa = last_path(0);
	pb = last_path(1);
	assert_string_equal(pa->peer, ID_B);
	assert_string_equal(pb->peer, ID_A);
	assert_int_equal(pa->path.remote_ip, inet_addr(LOOPBACK));
	assert_int_equal(pb->path.remote_ip, inet_addr(LOOPBACK));
	assert_int_equal(pa->path.remote_port, htons(rb->port));
	assert_int_equal(pb->path.remote_port, htons(ra->port));
	assert_string_equal(pa->path.local_type, "host");
	assert_string_equal(pb->path.local_type, "host");

	/* Only the lower id invites; the order on the wire is route,
	 * credentials, candidates, end of candidates. */
	assert_int_equal(signal_count(0, BX_ICE_INVITE), 1);
	assert_int_equal(signal_count(1, BX_ICE_INVITE), 0);
	assert_int_equal(signal_count(0, BX_ICE_OFFER), 0);
	assert_int_equal(signal_count(1, BX_ICE_ANSWER), 0);
	inv = &h.ev[signal_at(0, BX_ICE_INVITE, 0)];
	offer = &h.ev[signal_at(1, BX_ICE_OFFER, 0)];
	answer = &h.ev[signal_at(0, BX_ICE_ANSWER, 0)];
	assert_true(route_at(0, 0) < signal_at(0, BX_ICE_INVITE, 0));
	assert_true(route_at(1, 0) < signal_at(1, BX_ICE_OFFER, 0));
	assert_true(signal_at(1, BX_ICE_OFFER, 0) <
		    signal_at(1, BX_ICE_CANDIDATE, 0));
	assert_true(signal_at(1, BX_ICE_CANDIDATE, 0) <
		    signal_at(1, BX_ICE_END_OF_CANDIDATES, 0));
	assert_true(signal_at(0, BX_ICE_ANSWER, 0) <
		    signal_at(0, BX_ICE_CANDIDATE, 0));
	assert_true(signal_at(0, BX_ICE_CANDIDATE, 0) <
		    signal_at(0, BX_ICE_END_OF_CANDIDATES, 0));

	/* The credentials are the routed ufrags, in one session. */
	assert_string_equal(offer->sig.ufrag, rb->ufrag);
	assert_string_equal(answer->sig.ufrag, ra->ufrag);
	assert_true(strlen(offer->sig.pwd) >= 22);
	assert_true(strlen(answer->sig.pwd) >= 22);
	assert_string_not_equal(offer->sig.pwd, answer->sig.pwd);
	assert_int_not_equal(inv->sig.session, 0);
	assert_true(offer->sig.session == inv->sig.session);
	assert_true(answer->sig.session == inv->sig.session);
	for (i = 0; i < (int)h.n_ev; i++)
		if (h.ev[i].kind == EV_SIGNAL)
			assert_true(h.ev[i].sig.session == inv->sig.session);

	ia = info(0);
	ib = info(1);
	assert_string_equal(ia.state, "ready");
	assert_true(ia.session == inv->sig.session);
	assert_true(ib.session == inv->sig.session);
	assert_int_equal(ia.attempts, 1);
	assert_int_equal(ib.attempts, 1);
	assert_true(ia.path.up);
	assert_int_equal(ia.path.remote_port, htons(rb->port));
	assert_int_equal(bx_ice_stats(h.node[0].ice)->negotiations, 1);
	assert_int_equal(bx_ice_stats(h.node[0].ice)->refused, 0);
	assert_int_equal(bx_ice_stats(h.node[1].ice)->refused, 0);
	assert_true(bx_ice_stats(h.node[1].ice)->signals_in >= 3);
}

/* Unique on the node: every agent of one object has its own ufrag. */
static void
test_ufrags_unique(void **state)
{
	static const char *const peers[] = {
		"node-c", "node-d", "node-e", "node-f", "node-g", "node-h",
	};
	struct bx_ice_conf a = conf_of(0);
	unsigned i, j;
	int ri, rj;

	(void)state;
	node_start(0, &a);
	for (i = 0; i < BX_ARRAY_SIZE(peers); i++)
		assert_int_equal(bx_ice_peer_add(h.node[0].ice, peers[i]), 0);
	assert_int_equal(route_count(0, true), BX_ARRAY_SIZE(peers));
	assert_int_equal(signal_count(0, BX_ICE_INVITE), BX_ARRAY_SIZE(peers));
	for (i = 0; i < BX_ARRAY_SIZE(peers); i++) {
		ri = route_at(0, i);
		assert_true(ufrag_well_formed(h.ev[ri].ufrag));
		for (j = 0; j < i; j++) {
			rj = route_at(0, j);
			assert_string_not_equal(h.ev[ri].ufrag, h.ev[rj].ufrag);
			assert_int_not_equal(h.ev[ri].port, h.ev[rj].port);
			assert_true(h.ev[signal_at(0, BX_ICE_INVITE, i)]
					    .sig.session !=
				    h.ev[signal_at(0, BX_ICE_INVITE, j)]
					    .sig.session);
		}
	}
}

static bool
both_ended_candidates(void)
{
	return signal_count(0, BX_ICE_END_OF_CANDIDATES) > 0 &&
	       signal_count(1, BX_ICE_END_OF_CANDIDATES) > 0;
}

/* Up to @max candidate lines @node sent that contain @typ, into @out. */
static unsigned
lines_of(int node, const char *typ, const char **out, unsigned max)
{
	unsigned i, k, n = 0;

	for (i = 0; i < h.n_ev; i++) {
		const struct event *e = &h.ev[i];

		if (e->kind != EV_SIGNAL || e->node != node ||
		    e->sig.kind != BX_ICE_CANDIDATE)
			continue;
		for (k = 0; k < e->sig.n_cand; k++)
			if (strstr(e->sig.cand[k], typ) != NULL && n < max)
				out[n++] = e->sig.cand[k];
	}
	return n;
}

/*
 * A's host candidate and its srflx's related port carry the mesh port, not
 * the private one; B (no rewrite) shows its bound port. The STUN server
 * comes from bx_ice_set_stun, as the hub would send it.
 */
static void
test_advertised_port(void **state)
{
	struct bx_ice_conf a = conf_of(0), b = conf_of(1);
	const char *lines[BX_ICE_LOCAL_CAND_MAX];
	char want[64], bound[64];
	uint16_t stun_port;

	(void)state;
	h.stun_fd = udp_socket(&stun_port);
	/* libnice discovers srflx with classic (RFC 3489) binding requests. */
	stun_agent_init(&h.stun, NULL, STUN_COMPATIBILITY_RFC3489,
			STUN_AGENT_USAGE_IGNORE_CREDENTIALS);
	a.advertised_port = MESH_PORT;
	node_start(0, &a);
	node_start(1, &b);
	assert_int_equal(bx_ice_set_stun(h.node[0].ice, LOOPBACK, stun_port),
			 0);
	assert_int_equal(bx_ice_peer_add(h.node[0].ice, ID_B), 0);
	assert_int_equal(bx_ice_peer_add(h.node[1].ice, ID_A), 0);
	assert_true(pump_until(both_ended_candidates, WAIT_MS));
	assert_all_accepted();
	assert_true(h.stun_requests > 0);

	snprintf(bound, sizeof(bound), " %u typ",
		 (unsigned)h.ev[route_at(0, 0)].port);
	assert_int_equal(lines_of(0, "typ host", lines, BX_ARRAY_SIZE(lines)),
			 1);
	snprintf(want, sizeof(want), " %s %u typ host", LOOPBACK, MESH_PORT);
	assert_non_null(strstr(lines[0], want));
	assert_null(strstr(lines[0], bound));

	assert_int_equal(lines_of(0, "typ srflx", lines, BX_ARRAY_SIZE(lines)),
			 1);
	snprintf(want, sizeof(want), " %s %u typ srflx raddr %s rport %u",
		 MAPPED_IP, MESH_PORT, LOOPBACK, MESH_PORT);
	assert_non_null(strstr(lines[0], want));

	/* B rewrites nothing and has no STUN server. */
	assert_int_equal(lines_of(1, "typ host", lines, BX_ARRAY_SIZE(lines)),
			 1);
	snprintf(want, sizeof(want), " %s %u typ host", LOOPBACK,
		 (unsigned)h.ev[route_at(1, 0)].port);
	assert_non_null(strstr(lines[0], want));
	assert_int_equal(lines_of(1, "typ srflx", lines, BX_ARRAY_SIZE(lines)),
			 0);
}

/* The first INVITE's session: the one the filters sabotage. */
static uint64_t
first_session(void)
{
	int i = signal_at(0, BX_ICE_INVITE, 0);

	return i < 0 ? 0 : h.ev[i].sig.session;
}

static enum verdict
drop_first_candidates(struct event *e)
{
	return e->sig.kind == BX_ICE_CANDIDATE &&
			       e->sig.session == first_session() ?
		       DROP :
		       PASS;
}

static bool
a_failed_once(void)
{
	return path_at(0, false, 0) >= 0;
}

static bool
a_invited_twice(void)
{
	return signal_at(0, BX_ICE_INVITE, 1) >= 0;
}

/*
 * No candidate gets through, so no pair is ever checked: the controller's
 * connect timeout fails the negotiation, reports the path down, and
 * invites again with a new session after retry_min_ms; that one connects
 * and resets the back-off.
 */
static void
test_retry_after_timeout(void **state)
{
	struct bx_ice_conf a = conf_of(0), b = conf_of(1);
	struct bx_ice_peer_info ia;
	const struct event *down, *inv2;
	int r;

	(void)state;
	a.connect_timeout_ms = 1500;
	b.connect_timeout_ms = 4000; /* A fails first, B's agent is replaced */
	h.filter = drop_first_candidates;
	node_start(0, &a);
	node_start(1, &b);
	assert_int_equal(bx_ice_peer_add(h.node[0].ice, ID_B), 0);
	assert_int_equal(bx_ice_peer_add(h.node[1].ice, ID_A), 0);

	assert_true(pump_until(a_failed_once, WAIT_MS));
	down = &h.ev[path_at(0, false, 0)];
	assert_string_equal(down->peer, ID_B);
	assert_int_equal(path_at(0, true, 0), -1);
	ia = info(0);
	assert_string_equal(ia.state, "failed");
	assert_true(ia.session == 0);
	assert_int_equal(ia.retry_ms, 2 * RETRY_MIN_MS);
	/* The failed agent's route is withdrawn. */
	assert_int_equal(route_count(0, false), 1);
	assert_false(h.ev[route_at(0, 1)].add);
	assert_string_equal(h.ev[route_at(0, 1)].ufrag,
			    h.ev[route_at(0, 0)].ufrag);

	assert_true(pump_until(a_invited_twice, WAIT_MS));
	inv2 = &h.ev[signal_at(0, BX_ICE_INVITE, 1)];
	assert_true(inv2->at_us - down->at_us >= (gint64)RETRY_MIN_MS * 1000);
	assert_true(inv2->at_us - down->at_us <
		    (gint64)(RETRY_MIN_MS + 1000) * 1000);
	assert_true(inv2->sig.session != first_session());

	assert_true(pump_until(both_ready, WAIT_MS));
	assert_all_accepted();
	ia = info(0);
	assert_int_equal(ia.attempts, 2);
	assert_int_equal(ia.retry_ms, RETRY_MIN_MS);
	assert_true(ia.session == inv2->sig.session);
	assert_int_equal(bx_ice_stats(h.node[0].ice)->failed, 1);
	/* B's first agent was closed by the new INVITE: its route went, a
	 * new one came; it never reported a path it did not have. */
	r = route_at(1, 1);
	assert_true(r >= 0 && !h.ev[r].add);
	assert_string_equal(h.ev[r].ufrag, h.ev[route_at(1, 0)].ufrag);
	assert_true(h.ev[route_at(1, 2)].add);
	assert_int_equal(path_at(1, false, 0), -1);
}

/* Points every candidate line of the first session at a silent port. */
static enum verdict
blackhole_first_candidates(struct event *e)
{
	unsigned k;

	if (e->sig.kind != BX_ICE_CANDIDATE || e->sig.session != first_session())
		return PASS;
	for (k = 0; k < e->sig.n_cand; k++) {
		char *line = e->sig.cand[k], *typ = strstr(line, " typ ");
		char rest[BX_ICE_CAND_LEN], *port;

		assert_non_null(typ);
		g_strlcpy(rest, typ, sizeof(rest));
		*typ = '\0';
		port = strrchr(line, ' ');
		assert_non_null(port);
		snprintf(port, BX_ICE_CAND_LEN - (size_t)(port - line), " %u%s",
			 (unsigned)h.sink_port, rest);
	}
	return PASS;
}

/*
 * Candidates that lead nowhere: libnice itself declares FAILED (inside its
 * own signal emission, which the agent must survive), both sides report
 * the path down, the responder says BYE, and the controller's next INVITE
 * connects.
 */
static void
test_retry_after_libnice_failed(void **state)
{
	struct bx_ice_conf a = conf_of(0), b = conf_of(1);
	struct bx_ice_peer_info ia;
	int bye;

	(void)state;
	h.sink_fd = udp_socket(&h.sink_port);
	a.connect_timeout_ms = 20000; /* libnice must be the one failing */
	b.connect_timeout_ms = 20000;
	h.filter = blackhole_first_candidates;
	node_start(0, &a);
	node_start(1, &b);
	assert_int_equal(bx_ice_peer_add(h.node[0].ice, ID_B), 0);
	assert_int_equal(bx_ice_peer_add(h.node[1].ice, ID_A), 0);

	assert_true(pump_until(a_failed_once, 15000));
	assert_int_equal(path_at(0, true, 0), -1);
	assert_true(pump_until(both_ready, WAIT_MS));
	/* B's BYE may reach A after A's own failure ended the session. */
	assert_accepted_or(-ESTALE);
	/* B failed too (its down reported) and told A with a BYE. */
	assert_true(path_at(1, false, 0) >= 0);
	bye = signal_at(1, BX_ICE_BYE, 0);
	assert_true(bye >= 0);
	assert_true(h.ev[bye].sig.session == first_session());
	ia = info(0);
	assert_int_equal(ia.attempts, 2);
	assert_true(bx_ice_stats(h.node[0].ice)->failed >= 1);
	assert_true(bx_ice_stats(h.node[1].ice)->failed >= 1);
}

/* ---- bad input ---------------------------------------------------------- */

#define GOOD_LINE "a=candidate:9 1 UDP 1 127.0.0.1 9 typ host"
#define GOOD_UFRAG "abcdEFGH0123+/xy"
#define GOOD_PWD "abcdefghijklmnopqrstuvwxyz012345"

enum sess { CUR, OTHER, ZERO };

struct bad_case {
	const char *name;
	int to;                /* the recipient */
	int kind;              /* enum bx_ice_kind, or out of range */
	const char *from;      /* NULL: the other node */
	enum sess sess;
	unsigned n_cand;
	const char *line[2];   /* NULL: GOOD_LINE */
	const char *ufrag;     /* NULL: GOOD_UFRAG */
	const char *pwd;       /* NULL: GOOD_PWD */
	bool long_peer;        /* the peer id fills its array, unterminated */
	bool long_line;        /* line 0 fills its array, unterminated */
	int rc;
	const char *err_has;
};

static const struct bad_case bad_cases[] = {
	{ "garbage line", 0, BX_ICE_CANDIDATE, .n_cand = 1,
	  .line = { "a=candidate:garbage" }, .rc = -EINVAL,
	  .err_has = "line 0 is not" },
	{ "good line then garbage", 0, BX_ICE_CANDIDATE, .n_cand = 2,
	  .line = { GOOD_LINE, "a=candidate:1 1 UDP" }, .rc = -EINVAL,
	  .err_has = "line 1 is not" },
	{ "no a= prefix", 0, BX_ICE_CANDIDATE, .n_cand = 1,
	  .line = { "candidate:9 1 UDP 1 127.0.0.1 9 typ host" },
	  .rc = -EINVAL, .err_has = "line 0 is not" },
	{ "TCP candidate", 0, BX_ICE_CANDIDATE, .n_cand = 1,
	  .line = { "a=candidate:9 1 TCP 1 127.0.0.1 9 typ host tcptype "
		    "active" },
	  .rc = -EINVAL, .err_has = "not UDP component 1" },
	{ "component 2", 0, BX_ICE_CANDIDATE, .n_cand = 1,
	  .line = { "a=candidate:9 2 UDP 1 127.0.0.1 9 typ host" },
	  .rc = -EINVAL, .err_has = "not UDP component 1" },
	{ "no lines", 0, BX_ICE_CANDIDATE, .n_cand = 0, .rc = -EINVAL,
	  .err_has = "0 candidate lines" },
	{ "too many lines", 0, BX_ICE_CANDIDATE, .n_cand = BX_ICE_CAND_MAX + 1,
	  .rc = -EINVAL, .err_has = "9 candidate lines" },
	{ "unterminated line", 0, BX_ICE_CANDIDATE, .n_cand = 1,
	  .long_line = true, .rc = -EINVAL, .err_has = "unterminated" },
	{ "short ufrag", 0, BX_ICE_OFFER, .ufrag = "abc", .rc = -EINVAL,
	  .err_has = "ufrag" },
	{ "ufrag with a colon", 0, BX_ICE_OFFER, .ufrag = "abcd:efgh",
	  .rc = -EINVAL, .err_has = "ufrag" },
	{ "short pwd", 0, BX_ICE_OFFER, .pwd = "tooshort", .rc = -EINVAL,
	  .err_has = "pwd" },
	{ "credentials twice", 0, BX_ICE_OFFER, .rc = -EALREADY,
	  .err_has = "already given" },
	{ "unknown session", 0, BX_ICE_CANDIDATE, .sess = OTHER, .n_cand = 1,
	  .rc = -ESTALE, .err_has = "not the current one" },
	{ "unknown peer", 0, BX_ICE_CANDIDATE, .from = "node-z", .n_cand = 1,
	  .rc = -ENOENT, .err_has = "node-z" },
	{ "INVITE from the higher id", 0, BX_ICE_INVITE, .rc = -EPROTO,
	  .err_has = "not its role" },
	{ "ANSWER from the higher id", 0, BX_ICE_ANSWER, .rc = -EPROTO,
	  .err_has = "not its role" },
	{ "OFFER from the lower id", 1, BX_ICE_OFFER, .rc = -EPROTO,
	  .err_has = "not its role" },
	{ "INVITE of the current session", 1, BX_ICE_INVITE,
	  .rc = -EALREADY, .err_has = "under way" },
	{ "unknown kind", 0, BX_ICE_BYE + 1, .rc = -EINVAL,
	  .err_has = "kind 6" },
	{ "session 0", 0, BX_ICE_CANDIDATE, .sess = ZERO, .n_cand = 1,
	  .rc = -EINVAL, .err_has = "session 0" },
	{ "unterminated peer", 0, BX_ICE_CANDIDATE, .n_cand = 1,
	  .long_peer = true, .rc = -EINVAL, .err_has = "peer" },
};

static void
bad_signal(const struct bad_case *c, struct bx_ice_signal *s)
{
	uint64_t cur = info(c->to).session;
	unsigned i;

	memset(s, 0, sizeof(*s));
	s->kind = (enum bx_ice_kind)c->kind;
	g_strlcpy(s->peer, c->from != NULL ? c->from : h.node[!c->to].id,
		  sizeof(s->peer));
	if (c->long_peer)
		memset(s->peer, 'p', sizeof(s->peer));
	s->session = c->sess == CUR ? cur : c->sess == OTHER ? cur + 1 : 0;
	g_strlcpy(s->ufrag, c->ufrag != NULL ? c->ufrag : GOOD_UFRAG,
		  sizeof(s->ufrag));
	g_strlcpy(s->pwd, c->pwd != NULL ? c->pwd : GOOD_PWD, sizeof(s->pwd));
	s->n_cand = c->n_cand;
	for (i = 0; i < BX_ICE_CAND_MAX; i++)
		g_strlcpy(s->cand[i],
			  i < 2 && c->line[i] != NULL ? c->line[i] : GOOD_LINE,
			  sizeof(s->cand[i]));
	if (c->long_line)
		memset(s->cand[0], 'c', sizeof(s->cand[0]));
}

static bool
a_has_offer(void)
{
	int i = signal_at(1, BX_ICE_OFFER, 0);

	return i >= 0 && h.ev[i].handled;
}

/*
 * Every kind of bad message, thrown at both sides in the middle of a
 * negotiation: each refused with its errno and a message naming what was
 * wrong, and the negotiation connects as if nothing happened.
 */
static void
test_bad_input(void **state)
{
	struct bx_ice_signal s;
	char err[ERR_LEN];
	uint64_t refused[2], stale[2];
	unsigned i;
	int rc;

	(void)state;
	pair_start();
	assert_true(pump_until(a_has_offer, WAIT_MS));
	for (i = 0; i < 2; i++) {
		refused[i] = bx_ice_stats(h.node[i].ice)->refused;
		stale[i] = bx_ice_stats(h.node[i].ice)->stale;
	}
	for (i = 0; i < BX_ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];

		bad_signal(c, &s);
		err[0] = '\0';
		rc = bx_ice_signal_in(h.node[c->to].ice, &s, err, sizeof(err));
		if (rc != c->rc || strstr(err, c->err_has) == NULL)
			fail_msg("%s: got %d \"%s\", want %d \"%s\"", c->name,
				 rc, err, c->rc, c->err_has);
		if (c->rc == -ESTALE)
			stale[c->to]++;
		else
			refused[c->to]++;
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(bx_ice_stats(h.node[i].ice)->refused,
				 refused[i]);
		assert_int_equal(bx_ice_stats(h.node[i].ice)->stale, stale[i]);
	}

	assert_true(pump_until(both_ready, WAIT_MS));
	assert_all_accepted();
	assert_int_equal(path_at(0, false, 0), -1);
	assert_int_equal(path_at(1, false, 0), -1);
	assert_int_equal(info(0).attempts, 1);
	assert_int_equal(info(1).attempts, 1);
	assert_int_equal(route_count(0, true), 1);
	assert_int_equal(route_count(1, true), 1);
}

/* ---- candidates before credentials -------------------------------------- */

static enum verdict
hold_answer_drop_b_candidates(struct event *e)
{
	if (e->sig.kind == BX_ICE_ANSWER)
		return HOLD;
	if (e->sig.kind == BX_ICE_CANDIDATE && e->node == 1)
		return DROP;
	return PASS;
}

static bool
a_ended_candidates(void)
{
	int i = signal_at(0, BX_ICE_END_OF_CANDIDATES, 0);

	return i >= 0 && h.ev[i].handled;
}

/*
 * The ANSWER is late: A's candidates and end-of-candidates reach B first
 * and wait, up to BX_ICE_PENDING_MAX lines. A never learns B's candidates,
 * so the only way to connect is B checking the candidate it kept: it must
 * have been applied once the credentials came.
 */
static void
test_candidates_before_credentials(void **state)
{
	struct bx_ice_signal s;
	char err[ERR_LEN];
	const struct event *pb;
	unsigned pending, k;
	int answer, rc;

	(void)state;
	h.filter = hold_answer_drop_b_candidates;
	pair_start();
	assert_true(pump_until(a_ended_candidates, WAIT_MS));
	assert_all_accepted();
	answer = signal_at(0, BX_ICE_ANSWER, 0);
	assert_true(answer >= 0 && h.ev[answer].verdict == HOLD);
	assert_string_equal(info(1).state, "gathering");

	/* Fill B's queue to the brim with low-priority dead ends. */
	pending = 0;
	for (k = 0; k < h.n_ev; k++)
		if (h.ev[k].kind == EV_SIGNAL && h.ev[k].node == 0 &&
		    h.ev[k].sig.kind == BX_ICE_CANDIDATE)
			pending += h.ev[k].sig.n_cand;
	assert_true(pending >= 1);
	memset(&s, 0, sizeof(s));
	s.kind = BX_ICE_CANDIDATE;
	g_strlcpy(s.peer, ID_A, sizeof(s.peer));
	s.session = info(1).session;
	while (pending < BX_ICE_PENDING_MAX) {
		s.n_cand = MIN(BX_ICE_CAND_MAX, BX_ICE_PENDING_MAX - pending);
		for (k = 0; k < s.n_cand; k++)
			snprintf(s.cand[k], sizeof(s.cand[k]),
				 "a=candidate:d%u 1 UDP 1 127.0.0.1 %u typ host",
				 pending + k, 20000 + pending + k);
		assert_int_equal(bx_ice_signal_in(h.node[1].ice, &s, err,
						  sizeof(err)), 0);
		pending += s.n_cand;
	}
	s.n_cand = 1;
	rc = bx_ice_signal_in(h.node[1].ice, &s, err, sizeof(err));
	assert_int_equal(rc, -ENOBUFS);
	assert_non_null(strstr(err, "before the credentials"));

	deliver_one(&h.ev[answer]);
	assert_int_equal(h.ev[answer].rc, 0);
	assert_true(pump_until(both_ready, WAIT_MS));
	pb = last_path(1);
	assert_string_equal(pb->path.remote_type, "host");
	assert_int_equal(pb->path.remote_port,
			 htons(h.ev[route_at(0, 0)].port));
	assert_string_equal(last_path(0)->path.remote_type, "prflx");
}

/* ---- ending ------------------------------------------------------------- */

static bool
a_path_down(void)
{
	return path_at(0, false, 0) >= 0;
}

/*
 * B stops ICE with A: BYE, its route withdrawn, its path down. A closes
 * too, goes idle, and keeps inviting after the back-off (B no longer knows
 * A: -ENOENT) until A removes B in turn. Every route added is removed.
 */
static void
test_bye_and_remove(void **state)
{
	struct bx_ice_peer_info pi;
	unsigned n0;
	int bye, down, inv2, i;

	(void)state;
	pair_start();
	assert_true(pump_until(both_ready, WAIT_MS));
	n0 = h.n_ev;
	bx_ice_peer_remove(h.node[1].ice, ID_A);
	assert_int_equal(bx_ice_peer_info(h.node[1].ice, ID_A, &pi), -ENOENT);
	bye = signal_at(1, BX_ICE_BYE, 0);
	assert_true(bye >= (int)n0);
	assert_true(h.ev[bye].sig.session == first_session());
	i = path_at(1, false, 0);
	assert_true(i >= (int)n0);
	assert_string_equal(h.ev[i].peer, ID_A);
	assert_int_equal(route_count(1, false), 1);
	assert_string_equal(h.ev[route_at(1, 1)].ufrag,
			    h.ev[route_at(1, 0)].ufrag);

	assert_true(pump_until(a_path_down, WAIT_MS));
	assert_int_equal(h.ev[bye].rc, 0);
	down = path_at(0, false, 0);
	assert_string_equal(h.ev[down].peer, ID_B);
	assert_int_equal(route_count(0, false), 1);
	pi = info(0);
	assert_string_equal(pi.state, "idle");
	assert_true(pi.session == 0);
	assert_false(pi.path.up);

	assert_true(pump_until(a_invited_twice, WAIT_MS));
	inv2 = signal_at(0, BX_ICE_INVITE, 1);
	assert_true(h.ev[inv2].at_us - h.ev[down].at_us >=
		    (gint64)RETRY_MIN_MS * 1000);
	assert_int_equal(h.ev[inv2].rc, -ENOENT);

	n0 = h.n_ev;
	bx_ice_peer_remove(h.node[0].ice, ID_B);
	bx_ice_peer_remove(h.node[0].ice, "nobody");
	assert_int_equal(signal_at(0, BX_ICE_BYE, 0), (int)n0);
	assert_true(h.ev[n0].sig.session == h.ev[inv2].sig.session);
	assert_int_equal(route_count(0, true), 2);
	assert_int_equal(route_count(0, false), 2);
	assert_int_equal(route_count(1, true), 1);
	/* Nothing is left to fire. */
	n0 = h.n_ev;
	pump_until(NULL, 2 * RETRY_MIN_MS);
	assert_int_equal(h.n_ev, n0);
}

/* bx_ice_free is a peer_remove of everyone: BYE, path down, route gone. */
static void
test_free_closes(void **state)
{
	unsigned n0;
	int bye;

	(void)state;
	pair_start();
	assert_true(pump_until(both_ready, WAIT_MS));
	n0 = h.n_ev;
	bx_ice_free(h.node[0].ice);
	h.node[0].ice = NULL;
	bye = signal_at(0, BX_ICE_BYE, 0);
	assert_true(bye >= (int)n0);
	assert_true(path_at(0, false, 0) >= (int)n0);
	assert_int_equal(route_count(0, true), 1);
	assert_int_equal(route_count(0, false), 1);
	deliver();
	assert_int_equal(h.ev[bye].rc, 0);
	assert_true(path_at(1, false, 0) >= (int)n0);
	assert_int_equal(route_count(1, false), 1);
	assert_string_equal(info(1).state, "idle");
}

/*
 * A new INVITE from the controller replaces the negotiation: the old
 * agent's path and route go, a new agent with a new ufrag offers in the
 * new session, and the old session's messages are stale from then on.
 */
static void
test_invite_replaces(void **state)
{
	struct bx_ice_signal s;
	char err[ERR_LEN];
	uint64_t old;
	unsigned n0;
	int offer;

	(void)state;
	pair_start();
	assert_true(pump_until(both_ready, WAIT_MS));
	old = info(1).session;
	n0 = h.n_ev;
	memset(&s, 0, sizeof(s));
	s.kind = BX_ICE_INVITE;
	g_strlcpy(s.peer, ID_A, sizeof(s.peer));
	s.session = old ^ 0x5a5a;
	assert_int_equal(bx_ice_signal_in(h.node[1].ice, &s, err, sizeof(err)),
			 0);
	assert_true(path_at(1, false, 0) >= (int)n0);
	assert_int_equal(route_count(1, false), 1);
	assert_int_equal(route_count(1, true), 2);
	assert_string_not_equal(h.ev[route_at(1, 2)].ufrag,
				h.ev[route_at(1, 0)].ufrag);
	offer = signal_at(1, BX_ICE_OFFER, 1);
	assert_true(offer >= (int)n0);
	assert_true(h.ev[offer].sig.session == s.session);
	assert_string_equal(h.ev[offer].sig.ufrag, h.ev[route_at(1, 2)].ufrag);
	assert_true(info(1).session == s.session);
	assert_int_equal(info(1).attempts, 2);

	s.kind = BX_ICE_END_OF_CANDIDATES;
	s.session = old;
	assert_int_equal(bx_ice_signal_in(h.node[1].ice, &s, err, sizeof(err)),
			 -ESTALE);
	/* A is in the old session: B's new OFFER is stale there. */
	deliver();
	assert_int_equal(h.ev[offer].rc, -ESTALE);
}

/* ---- configuration and arguments ---------------------------------------- */

enum conf_fault {
	NO_CTX, NO_ROUTE_CB, EMPTY_ID, LONG_ID, ID_NEWLINE, IP_V6, IP_NAME,
	PORT_MIN_0, PORT_MAX_LOW, ADV_IN_RANGE, STUN_BAD, STUN_PORT_0,
	RETRY_MAX_LOW,
};

static const struct {
	enum conf_fault fault;
	const char *err_has;
} conf_cases[] = {
	{ NO_CTX, "context" },
	{ NO_ROUTE_CB, "route" },
	{ EMPTY_ID, "self_id" },
	{ LONG_ID, "self_id" },
	{ ID_NEWLINE, "self_id" },
	{ IP_V6, "local_ip" },
	{ IP_NAME, "local_ip" },
	{ PORT_MIN_0, "port_min" },
	{ PORT_MAX_LOW, "port_min" },
	{ ADV_IN_RANGE, "advertised_port" },
	{ STUN_BAD, "stun_ip" },
	{ STUN_PORT_0, "stun_ip" },
	{ RETRY_MAX_LOW, "retry_max_ms" },
};

static void
conf_break(enum conf_fault f, struct bx_ice_conf *c, struct bx_ice_cbs *cb,
	   char *long_id)
{
	switch (f) {
	case NO_CTX: c->ctx = NULL; break;
	case NO_ROUTE_CB: cb->route = NULL; break;
	case EMPTY_ID: c->self_id = ""; break;
	case LONG_ID: c->self_id = long_id; break;
	case ID_NEWLINE: c->self_id = "node\n"; break;
	case IP_V6: c->local_ip = "::1"; break;
	case IP_NAME: c->local_ip = "localhost"; break;
	case PORT_MIN_0: c->port_min = 0; break;
	case PORT_MAX_LOW: c->port_max = c->port_min - 1; break;
	case ADV_IN_RANGE: c->advertised_port = c->port_min + 1; break;
	case STUN_BAD: c->stun_ip = "1.2.3"; c->stun_port = 3478; break;
	case STUN_PORT_0: c->stun_ip = LOOPBACK; c->stun_port = 0; break;
	case RETRY_MAX_LOW: c->retry_max_ms = c->retry_min_ms - 1; break;
	}
}

static void
test_bad_conf_and_args(void **state)
{
	char long_id[BX_ICE_ID_MAX + 1], err[ERR_LEN];
	struct bx_ice_conf c;
	struct bx_ice_cbs cb;
	struct bx_ice_peer_info pi, untouched;
	struct bx_ice *ice;
	unsigned i;

	(void)state;
	memset(long_id, 'x', BX_ICE_ID_MAX);
	long_id[BX_ICE_ID_MAX] = '\0';
	for (i = 0; i < BX_ARRAY_SIZE(conf_cases); i++) {
		c = conf_of(0);
		cb = cbs;
		conf_break(conf_cases[i].fault, &c, &cb, long_id);
		err[0] = '\0';
		errno = 0;
		ice = bx_ice_create(&c, &cb, NULL, err, sizeof(err));
		if (ice != NULL || errno != EINVAL ||
		    strstr(err, conf_cases[i].err_has) == NULL)
			fail_msg("conf case %u: %p errno %d \"%s\"", i,
				 (void *)ice, errno, err);
	}

	/* Node B as responder: adding A sends nothing and opens no agent. */
	c = conf_of(1);
	node_start(1, &c);
	assert_int_equal(bx_ice_peer_add(h.node[1].ice, ID_A), 0);
	assert_int_equal(h.n_ev, 0);
	pi = info(1);
	assert_string_equal(pi.state, "idle");
	assert_int_equal(pi.attempts, 0);
	assert_true(pi.session == 0);

	assert_int_equal(bx_ice_peer_add(h.node[1].ice, ID_A), -EEXIST);
	assert_int_equal(bx_ice_peer_add(h.node[1].ice, ID_B), -EINVAL);
	assert_int_equal(bx_ice_peer_add(h.node[1].ice, ""), -EINVAL);
	assert_int_equal(bx_ice_peer_add(h.node[1].ice, long_id), -EINVAL);
	assert_int_equal(bx_ice_peer_add(h.node[1].ice, "tab\there"), -EINVAL);
	assert_int_equal(bx_ice_set_stun(h.node[1].ice, "stun.example", 3478),
			 -EINVAL);
	assert_int_equal(bx_ice_set_stun(h.node[1].ice, LOOPBACK, 0), -EINVAL);
	assert_int_equal(bx_ice_set_stun(h.node[1].ice, LOOPBACK, 3478), 0);
	assert_int_equal(bx_ice_set_stun(h.node[1].ice, NULL, 0), 0);

	memset(&pi, 0xa5, sizeof(pi));
	untouched = pi;
	assert_int_equal(bx_ice_peer_info(h.node[1].ice, "node-z", &pi),
			 -ENOENT);
	assert_memory_equal(&pi, &untouched, sizeof(pi));
	bx_ice_peer_remove(h.node[1].ice, "node-z");
	bx_ice_peer_remove(NULL, ID_A);
	bx_ice_free(NULL);
	assert_int_equal(h.n_ev, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_conf_and_args, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ufrags_unique, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_advertised_port, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_candidates_before_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invite_replaces, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bye_and_remove, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_free_closes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_retry_after_timeout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_retry_after_libnice_failed,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
