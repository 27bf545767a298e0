/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SafetyService and JammingService on a local gRPC server.
 *
 * The subscribers are a fixed table under one mutex. The server's thread
 * takes it to add a stream (and, for WatchEvents, to queue its STATE
 * message) and to remove one; publishers take it to queue a message on
 * each stream. So a new watcher's STATE message and the events published
 * after it are queued in that order, and a watcher misses none in between.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bauxite/v1/safety.pb-c.h"
#include "bx_common.h"
#include "bx_rpc.h"
#include "bx_safety.h"
#include "bx_safety_server.h"

enum sub_kind {
	SUB_EVENTS,
	SUB_JAMMING,
};

struct sub {
	struct bx_rpc_stream *s; /* NULL: free slot */
	enum sub_kind kind;
};

struct bx_safety_server {
	struct bx_rpc_server *rpc;
	pthread_mutex_t lock;
	/* Under lock. */
	struct sub subs[BX_SAFETY_SERVER_MAX_SUBSCRIBERS];
	enum bx_safety_state state;
	uint64_t state_unix_ms; /* when the node entered it */
	struct bx_safety_server_stats stats;
};

static uint64_t unix_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static Bauxite__V1__SafetyState pb_state(enum bx_safety_state state)
{
	switch (state) {
	case BX_SAFETY_NORMAL:
		break;
	case BX_SAFETY_SEVERED:
		return BAUXITE__V1__SAFETY_STATE__SAFETY_STATE_SEVERED;
	case BX_SAFETY_PROBATION:
		return BAUXITE__V1__SAFETY_STATE__SAFETY_STATE_PROBATION;
	}
	return BAUXITE__V1__SAFETY_STATE__SAFETY_STATE_NORMAL;
}

static Bauxite__V1__SafetyEvent__Kind pb_kind(enum bx_safety_event_kind kind)
{
	switch (kind) {
	case BX_SAFETY_EV_DEGRADATION_WARNING:
		return BAUXITE__V1__SAFETY_EVENT__KIND__DEGRADATION_WARNING;
	case BX_SAFETY_EV_DEGRADATION_CLEARED:
		return BAUXITE__V1__SAFETY_EVENT__KIND__DEGRADATION_CLEARED;
	case BX_SAFETY_EV_SEVERANCE:
		return BAUXITE__V1__SAFETY_EVENT__KIND__SAFETY_SEVERANCE;
	case BX_SAFETY_EV_PROBATION:
		return BAUXITE__V1__SAFETY_EVENT__KIND__SAFETY_PROBATION;
	case BX_SAFETY_EV_RECOVERED:
		return BAUXITE__V1__SAFETY_EVENT__KIND__SAFETY_RECOVERED;
	}
	/* Unreachable for a valid enum; STATE says nothing wrong. */
	return BAUXITE__V1__SAFETY_EVENT__KIND__STATE;
}

static Bauxite__V1__ThreatLevel pb_level(enum bx_jam_level level)
{
	switch (level) {
	case BX_JAM_NONE:
		break;
	case BX_JAM_LOW:
		return BAUXITE__V1__THREAT_LEVEL__THREAT_LOW;
	case BX_JAM_MODERATE:
		return BAUXITE__V1__THREAT_LEVEL__THREAT_MODERATE;
	case BX_JAM_HIGH:
		return BAUXITE__V1__THREAT_LEVEL__THREAT_HIGH;
	case BX_JAM_CRITICAL:
		return BAUXITE__V1__THREAT_LEVEL__THREAT_CRITICAL;
	}
	return BAUXITE__V1__THREAT_LEVEL__THREAT_NONE;
}

/* Queues @msg (@len bytes) on @sub's stream; a full queue drops it. */
static void send_locked(struct bx_safety_server *srv, struct sub *sub,
			const uint8_t *msg, size_t len)
{
	int rc = bx_rpc_stream_try_send(sub->s, msg, len);

	if (rc == 0)
		srv->stats.sent++;
	else if (rc == -EAGAIN || rc == -ENOMEM)
		srv->stats.dropped++;
	/* -EPIPE: the stream is ending; closed removes it soon. */
}

/* Sends one packed message to every subscriber of @kind. */
static void broadcast_locked(struct bx_safety_server *srv, enum sub_kind kind,
			     const uint8_t *msg, size_t len)
{
	unsigned int i;

	for (i = 0; i < BX_SAFETY_SERVER_MAX_SUBSCRIBERS; i++)
		if (srv->subs[i].s != NULL && srv->subs[i].kind == kind)
			send_locked(srv, &srv->subs[i], msg, len);
}

static size_t pack_event(const Bauxite__V1__SafetyEvent *m,
			 uint8_t buf[BX_SAFETY_SERVER_MSG_MAX])
{
	BX_ASSERT(bauxite__v1__safety_event__get_packed_size(m) <=
		  BX_SAFETY_SERVER_MSG_MAX);
	return bauxite__v1__safety_event__pack(m, buf);
}

/* The STATE message a new watcher gets first. */
static size_t pack_state_locked(const struct bx_safety_server *srv,
				uint8_t buf[BX_SAFETY_SERVER_MSG_MAX])
{
	Bauxite__V1__SafetyEvent m = BAUXITE__V1__SAFETY_EVENT__INIT;
	char text[BX_SAFETY_MESSAGE_MAX];

	snprintf(text, sizeof(text), "node state %s",
		 bx_safety_state_name(srv->state));
	m.kind = BAUXITE__V1__SAFETY_EVENT__KIND__STATE;
	m.state = pb_state(srv->state);
	m.unix_ms = srv->state_unix_ms;
	m.message = text;
	return pack_event(&m, buf);
}

/*
 * A new stream of either service: the request must be what the service
 * takes (an empty message today; unknown fields are skipped, so later
 * filters stay compatible), and there must be room.
 */
static enum bx_rpc_code open_sub(struct bx_safety_server *srv,
				 struct bx_rpc_stream *s, enum sub_kind kind,
				 const char **msg)
{
	uint8_t buf[BX_SAFETY_SERVER_MSG_MAX];
	struct sub *sub = NULL;
	unsigned int i;
	size_t len;

	pthread_mutex_lock(&srv->lock);
	for (i = 0; i < BX_SAFETY_SERVER_MAX_SUBSCRIBERS && sub == NULL; i++)
		if (srv->subs[i].s == NULL)
			sub = &srv->subs[i];
	if (sub == NULL) {
		srv->stats.refused++;
		pthread_mutex_unlock(&srv->lock);
		*msg = "too many subscribers";
		return BX_RPC_RESOURCE_EXHAUSTED;
	}
	/* The handler's reference is the table's until closed. */
	sub->s = s;
	sub->kind = kind;
	bx_rpc_stream_set_user(s, sub);
	if (kind == SUB_EVENTS) {
		srv->stats.event_subscribers++;
		len = pack_state_locked(srv, buf);
		send_locked(srv, sub, buf, len);
	} else {
		srv->stats.jamming_subscribers++;
	}
	pthread_mutex_unlock(&srv->lock);
	return BX_RPC_OK;
}

static enum bx_rpc_code on_watch_events(void *ctx, struct bx_rpc_stream *s,
					const uint8_t *req, size_t len,
					const char **msg)
{
	Bauxite__V1__WatchEventsRequest *r =
		bauxite__v1__watch_events_request__unpack(NULL, len, req);

	if (r == NULL) {
		*msg = "WatchEventsRequest does not decode";
		return BX_RPC_INVALID_ARGUMENT;
	}
	bauxite__v1__watch_events_request__free_unpacked(r, NULL);
	return open_sub(ctx, s, SUB_EVENTS, msg);
}

static enum bx_rpc_code on_subscribe(void *ctx, struct bx_rpc_stream *s,
				     const uint8_t *req, size_t len,
				     const char **msg)
{
	Bauxite__V1__JammingSubscribeRequest *r =
		bauxite__v1__jamming_subscribe_request__unpack(NULL, len, req);

	if (r == NULL) {
		*msg = "JammingSubscribeRequest does not decode";
		return BX_RPC_INVALID_ARGUMENT;
	}
	bauxite__v1__jamming_subscribe_request__free_unpacked(r, NULL);
	return open_sub(ctx, s, SUB_JAMMING, msg);
}

static void on_closed(void *ctx, struct bx_rpc_stream *s,
		      enum bx_rpc_code code)
{
	struct bx_safety_server *srv = ctx;
	struct sub *sub = bx_rpc_stream_user(s);

	(void)code;
	pthread_mutex_lock(&srv->lock);
	if (sub->kind == SUB_EVENTS)
		srv->stats.event_subscribers--;
	else
		srv->stats.jamming_subscribers--;
	sub->s = NULL;
	pthread_mutex_unlock(&srv->lock);
	bx_rpc_stream_release(s);
}

struct bx_safety_server *bx_safety_server_start(const char *listen, char *err,
						size_t errlen)
{
	struct bx_safety_server *srv;
	const struct bx_rpc_method methods[] = {
		{.path = BX_SAFETY_EVENTS_METHOD, .kind = BX_RPC_SERVER_STREAM,
		 .allow_anonymous = true, .open = on_watch_events,
		 .closed = on_closed},
		{.path = BX_SAFETY_JAMMING_METHOD, .kind = BX_RPC_SERVER_STREAM,
		 .allow_anonymous = true, .open = on_subscribe,
		 .closed = on_closed},
	};
	unsigned int i;
	int rc;

	srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		rc = -ENOMEM;
		goto fail_msg;
	}
	pthread_mutex_init(&srv->lock, NULL);
	srv->state = BX_SAFETY_NORMAL;
	srv->state_unix_ms = unix_now_ms();
	srv->rpc = bx_rpc_server_create_local(listen, err, errlen);
	if (srv->rpc == NULL) {
		rc = -errno;
		goto fail;
	}
	for (i = 0; i < BX_ARRAY_SIZE(methods); i++) {
		struct bx_rpc_method m = methods[i];

		m.ctx = srv;
		rc = bx_rpc_server_register(srv->rpc, &m);
		if (rc != 0)
			goto fail_msg;
	}
	rc = bx_rpc_server_start(srv->rpc);
	if (rc != 0)
		goto fail_msg;
	return srv;
fail_msg:
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "safety server %s: %s",
			 listen ? listen : "(null)", strerror(-rc));
fail:
	bx_safety_server_stop(srv);
	errno = -rc;
	return NULL;
}

uint16_t bx_safety_server_port(const struct bx_safety_server *srv)
{
	return bx_rpc_server_port(srv->rpc);
}

int bx_safety_server_publish_event(struct bx_safety_server *srv,
				   const struct bx_safety_event *ev,
				   enum bx_safety_state state)
{
	Bauxite__V1__SafetyEvent m = BAUXITE__V1__SAFETY_EVENT__INIT;
	uint8_t buf[BX_SAFETY_SERVER_MSG_MAX];
	/* Copies: protobuf-c wants char *, and both must end inside. */
	char peer[BX_SAFETY_PEER_MAX], text[BX_SAFETY_MESSAGE_MAX];
	size_t len;

	if (srv == NULL || ev == NULL)
		return -EINVAL;
	snprintf(peer, sizeof(peer), "%.*s", (int)sizeof(peer) - 1, ev->peer);
	snprintf(text, sizeof(text), "%.*s", (int)sizeof(text) - 1,
		 ev->message);
	m.kind = pb_kind(ev->kind);
	m.peer = peer;
	m.path_id = ev->path_id;
	m.rtt_us = ev->rtt_us;
	m.loss_permille = ev->loss_permille;
	m.unix_ms = ev->unix_ms;
	m.message = text;
	m.state = pb_state(state);
	len = pack_event(&m, buf);

	pthread_mutex_lock(&srv->lock);
	if (state != srv->state) {
		srv->state = state;
		srv->state_unix_ms = ev->unix_ms;
	}
	broadcast_locked(srv, SUB_EVENTS, buf, len);
	pthread_mutex_unlock(&srv->lock);
	return 0;
}

int bx_safety_server_publish_jamming(struct bx_safety_server *srv,
				     const struct bx_jam_sample *samples,
				     unsigned int n)
{
	Bauxite__V1__JammingStateResponse m =
		BAUXITE__V1__JAMMING_STATE_RESPONSE__INIT;
	uint8_t buf[BX_SAFETY_SERVER_MSG_MAX];
	char peer[BX_SAFETY_PEER_MAX];
	unsigned int i;
	size_t len;

	if (srv == NULL || (samples == NULL && n > 0))
		return -EINVAL;
	pthread_mutex_lock(&srv->lock);
	/* Nobody listening is the common case: skip the packing. */
	if (srv->stats.jamming_subscribers == 0)
		n = 0;
	for (i = 0; i < n; i++) {
		const struct bx_jam_sample *js = &samples[i];

		snprintf(peer, sizeof(peer), "%.*s", (int)sizeof(peer) - 1,
			 js->peer);
		m.peer = peer;
		m.path_id = js->path_id;
		m.level = pb_level(js->level);
		m.rtt_us = js->rtt_us;
		m.loss_permille = js->loss_permille;
		m.unix_ms = js->unix_ms;
		m.has_rtt = js->has_rtt;
		BX_ASSERT(bauxite__v1__jamming_state_response__get_packed_size(&m) <=
			  BX_SAFETY_SERVER_MSG_MAX);
		len = bauxite__v1__jamming_state_response__pack(&m, buf);
		broadcast_locked(srv, SUB_JAMMING, buf, len);
	}
	pthread_mutex_unlock(&srv->lock);
	return 0;
}

void bx_safety_server_stats(struct bx_safety_server *srv,
			    struct bx_safety_server_stats *out)
{
	pthread_mutex_lock(&srv->lock);
	*out = srv->stats;
	pthread_mutex_unlock(&srv->lock);
}

void bx_safety_server_stop(struct bx_safety_server *srv)
{
	if (srv == NULL)
		return;
	/* Nothing ends these streams but us: no grace to wait for. closed
	 * runs for each of them before this returns. */
	bx_rpc_server_stop(srv->rpc, 0);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}
