/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's local safety services over gRPC (proto/bauxite/v1/safety.proto):
 *
 *   SafetyService.WatchEvents  a watchdog's view of the safety monitor: one
 *                              STATE message with the node's current state,
 *                              then every event, in order;
 *   JammingService.Subscribe   the jamming sidecar's feed: one
 *                              JammingStateResponse per peer and path each
 *                              time the application publishes (every 50 ms).
 *
 * Local only, without TLS (control/rpc's bx_rpc_server_create_local):
 * "unix:PATH" (preferred: the socket is made 0600, so only bauxite-app's
 * user, root on a node, may subscribe) or "127.x.y.z:PORT" / "[::1]:PORT"
 * (any local user may). Anything else is refused.
 *
 * Publishing never waits for a subscriber: each message is queued on each
 * stream (bx_rpc_stream_try_send) and goes out from gRPC's side. A
 * subscriber that does not keep up loses what would not fit in its queue
 * (BX_RPC_STREAM_QUEUE_MAX messages, counted in `dropped`) and never
 * delays the caller or the other subscribers. The cost to the caller is a
 * copy per message and subscriber, under one mutex shared with the
 * server's thread (held there only to add or remove a subscriber).
 *
 * Threads: publish from any thread (messages go out in the order of the
 * calls); start and stop from the one thread that owns the server. The
 * server's own thread is control/rpc's. Library code: no logging.
 */
#ifndef BX_SAFETY_SERVER_H
#define BX_SAFETY_SERVER_H

#include <stdint.h>

#include "bx_safety.h"

#define BX_SAFETY_JAMMING_METHOD "/bauxite.v1.JammingService/Subscribe"
#define BX_SAFETY_EVENTS_METHOD "/bauxite.v1.SafetyService/WatchEvents"
/* Streams open at once, both services together; more are refused with
 * RESOURCE_EXHAUSTED. A node has a watchdog, a sidecar and an operator. */
#define BX_SAFETY_SERVER_MAX_SUBSCRIBERS 16u
/*
 * The largest message either service packs: two strings of at most
 * BX_SAFETY_PEER_MAX - 1 and BX_SAFETY_MESSAGE_MAX - 1 bytes and a few
 * varints, with room to spare.
 */
#define BX_SAFETY_SERVER_MSG_MAX 512u

struct bx_safety_server_stats {
	uint32_t event_subscribers;   /* WatchEvents streams open */
	uint32_t jamming_subscribers; /* Subscribe streams open */
	uint64_t sent;                /* messages queued, all streams */
	uint64_t dropped;             /* lost to a full stream queue */
	uint64_t refused;             /* streams over the subscriber limit */
};

struct bx_safety_server;

/*
 * Listens on @listen (see above), serves both services and says the node
 * is NORMAL until told otherwise. Returns NULL with errno and @err (the
 * address and why: EINVAL for an address that is not local, EADDRINUSE,
 * EEXIST, ...; see bx_rpc_server_create_local).
 */
struct bx_safety_server *bx_safety_server_start(const char *listen, char *err,
						size_t errlen);

/* The TCP port listened on (for "127.0.0.1:0"); 0 on a unix socket. */
uint16_t bx_safety_server_port(const struct bx_safety_server *srv);

/*
 * Sends @ev to every WatchEvents stream, with @state, the node's state
 * after it (bx_safety_state() once bx_safety_evaluate returned), which is
 * also what a later subscriber is told first. Returns 0, or -EINVAL for
 * NULL arguments.
 */
int bx_safety_server_publish_event(struct bx_safety_server *srv,
				   const struct bx_safety_event *ev,
				   enum bx_safety_state state);

/*
 * Sends each of @n samples as one JammingStateResponse to every Subscribe
 * stream. Returns 0, or -EINVAL for NULL arguments.
 */
int bx_safety_server_publish_jamming(struct bx_safety_server *srv,
				     const struct bx_jam_sample *samples,
				     unsigned int n);

void bx_safety_server_stats(struct bx_safety_server *srv,
			    struct bx_safety_server_stats *out);

/*
 * Ends every stream (subscribers see an error status, UNAVAILABLE from
 * gRPC 1.51), stops listening (the unix socket file goes) and frees the
 * server. Accepts NULL.
 */
void bx_safety_server_stop(struct bx_safety_server *srv);

#endif /* BX_SAFETY_SERVER_H */
