/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small layer over gRPC core's C API, shared by the hub (bauxite-dispatch)
 * and the nodes (bauxite-app's control lcore, the `bauxite` CLI).
 *
 * Payload-agnostic: messages are byte buffers, callers pack and unpack
 * protobuf-c themselves. Methods are full gRPC paths,
 * "/bauxite.v1.TopologyService/WatchTopology". Nothing here includes a gRPC
 * header, so callers need none; status codes are gRPC's values under our own
 * names.
 *
 * Security
 *   Every connection is TLS 1.2+. The server asks each client for a
 *   certificate and verifies it against the fleet CA when one is presented;
 *   a certificate from another CA fails the handshake. It does not require
 *   one, because ProvisionNode must accept a node that has no certificate
 *   yet: instead each method says whether it allows anonymous callers, and
 *   any other method answers UNAUTHENTICATED before its handler runs. A
 *   caller's identity is the first DNS name in the subjectAltName of its
 *   verified certificate.
 *
 *   A client either holds a certificate (mutual TLS) or, when joining, knows
 *   only the SHA-256 of the hub CA's DER encoding from its join token. For
 *   the latter the hub must send its whole chain, leaf then CA: the client
 *   finds the CA by that hash among what the server sent and verifies the
 *   leaf against it with OpenSSL (signature, validity, name). Hence
 *   bx_rpc_server_conf.cert_chain_pem must include the CA certificate.
 *
 *   The one exception is a local server (bx_rpc_server_create_local): the
 *   services a node offers to processes on its own machine (the safety
 *   sidecar, the operator CLI) listen without TLS, on a unix socket or a
 *   loopback address and nowhere else. Who may call them is whoever may
 *   open the socket, so a unix socket is the one to prefer.
 *
 * Threads
 *   A server runs one completion-queue thread of its own. Every handler and
 *   callback of struct bx_rpc_method runs on it, one at a time, and must not
 *   block: it delays every other call of that server. Replies, stream
 *   messages and stream ends may come from any thread (see below); they
 *   start the gRPC operation on the calling thread when nothing else is in
 *   flight, so the completion-queue thread needs no wake-up and adds no
 *   latency (≈ 50 µs from bx_rpc_stream_send on an application thread to
 *   bx_rpc_call_next returning it, over loopback TLS). Creating,
 *   registering, starting and stopping a server belong to the one thread
 *   that owns it.
 *
 *   A channel is thread-safe and may carry calls from several threads. A
 *   client stream (struct bx_rpc_call) belongs to one thread at a time, and
 *   gRPC does that call's network work inside bx_rpc_call_next/send: poll
 *   it regularly (a control loop's timeout-0 poll is enough).
 *
 *   gRPC starts threads of its own (timers, executor) at the first object
 *   created; in an EAL process they inherit the creating thread's CPU set.
 *
 * Errors: constructors return NULL and set errno, with a one-line reason in
 * the caller's @err buffer (@errlen bytes, always terminated when @errlen >
 * 0; @err may be NULL). Actions return 0 or a negative errno. The library
 * never logs (gRPC itself may write to stderr, see GRPC_VERBOSITY).
 */
#ifndef BX_RPC_H
#define BX_RPC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Largest message either side accepts (gRPC's own default). A larger request
 * is refused by gRPC with RESOURCE_EXHAUSTED before any handler sees it.
 */
#define BX_RPC_MAX_MESSAGE (4u << 20)
/*
 * What one server stream may hold queued for a client that reads slower
 * than the server writes. Past either bound the stream ends with
 * RESOURCE_EXHAUSTED: a stalled node must resynchronise instead of growing
 * the hub's memory (bx_rpc_stream_try_send refuses the one message
 * instead).
 */
#define BX_RPC_STREAM_QUEUE_MAX 1024u
#define BX_RPC_STREAM_QUEUE_BYTES (8u << 20)
/* Messages a client stream holds before gRPC has taken the previous one. */
#define BX_RPC_CALL_SEND_QUEUE_MAX 64u
/*
 * HTTP/2 keepalive: both sides ping an idle connection that carries a call,
 * so a node that vanished (power loss, NAT timeout) ends its streams within
 * KEEPALIVE + KEEPALIVE_TIMEOUT instead of TCP's many minutes. The server
 * tolerates client pings down to MIN_PING_INTERVAL apart.
 */
#define BX_RPC_KEEPALIVE_MS 20000
#define BX_RPC_KEEPALIVE_TIMEOUT_MS 10000
#define BX_RPC_MIN_PING_INTERVAL_MS 10000
/* A CA pin: SHA-256 of the CA certificate's DER encoding. */
#define BX_RPC_SHA256_LEN 32u
/*
 * A local server's unix socket is made owner-only: the services behind it
 * have no authentication of their own (see "Security").
 */
#define BX_RPC_LOCAL_SOCKET_MODE 0600
/* "unix:" */
#define BX_RPC_UNIX_PREFIX "unix:"

/* gRPC status codes, with gRPC's numbers (the wire protocol fixes them). */
enum bx_rpc_code {
	BX_RPC_OK = 0,
	BX_RPC_CANCELLED = 1,
	BX_RPC_UNKNOWN = 2,
	BX_RPC_INVALID_ARGUMENT = 3,
	BX_RPC_DEADLINE_EXCEEDED = 4,
	BX_RPC_NOT_FOUND = 5,
	BX_RPC_ALREADY_EXISTS = 6,
	BX_RPC_PERMISSION_DENIED = 7,
	BX_RPC_RESOURCE_EXHAUSTED = 8,
	BX_RPC_FAILED_PRECONDITION = 9,
	BX_RPC_ABORTED = 10,
	BX_RPC_OUT_OF_RANGE = 11,
	BX_RPC_UNIMPLEMENTED = 12,
	BX_RPC_INTERNAL = 13,
	BX_RPC_UNAVAILABLE = 14,
	BX_RPC_DATA_LOSS = 15,
	BX_RPC_UNAUTHENTICATED = 16,
};

/* "NOT_FOUND" etc. for logs; "UNKNOWN_CODE" for a value outside the enum. */
const char *bx_rpc_code_name(enum bx_rpc_code code);

/*
 * The errno a client function returns for a status, so callers that only
 * care about success or a class of failure need not know gRPC codes:
 *   OK 0, CANCELLED -ECANCELED, INVALID_ARGUMENT -EINVAL,
 *   DEADLINE_EXCEEDED -ETIMEDOUT, NOT_FOUND -ENOENT, ALREADY_EXISTS -EEXIST,
 *   PERMISSION_DENIED -EPERM, RESOURCE_EXHAUSTED -ENOBUFS,
 *   FAILED_PRECONDITION -EBUSY, ABORTED -ECONNABORTED, OUT_OF_RANGE -ERANGE,
 *   UNIMPLEMENTED -ENOSYS, UNAVAILABLE -ECONNREFUSED,
 *   UNAUTHENTICATED -EACCES, DATA_LOSS -EBADMSG,
 *   UNKNOWN, INTERNAL and anything else -EPROTO.
 */
int bx_rpc_code_to_errno(enum bx_rpc_code code);

/*
 * Whether @addr names only this machine, so that a call through it in clear
 * never crosses a network: "unix:PATH" (a file path without '%', '?' or
 * '#'; "unix:///abs/path" too), "127.x.y.z:PORT" or "[::1]:PORT", with a
 * decimal port. Host names
 * (even "localhost"), wildcards, abstract unix sockets (no file mode, so
 * anyone in the network namespace may connect) and gRPC's other URI
 * schemes are not.
 */
bool bx_rpc_addr_is_local(const char *addr);

/* A peer address as gRPC reports it, parsed. */
struct bx_rpc_addr {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} ip;
	uint16_t port; /* host byte order */
};

/*
 * Parses gRPC's peer form, "ipv4:10.0.0.1:5555" or "ipv6:[::1]:5555" (the
 * brackets possibly percent-encoded, as newer gRPC writes them). Returns 0,
 * or -EINVAL with *@out untouched for anything else (e.g. "unix:...").
 */
int bx_rpc_addr_parse(const char *peer, struct bx_rpc_addr *out);

/* Who is calling, as seen by a server handler. */
struct bx_rpc_peer {
	/* First DNS SAN of the caller's verified certificate; NULL when the
	 * caller presented none (or one without a DNS SAN): anonymous. */
	const char *identity;
	/* gRPC's peer string, "ipv4:10.0.0.1:5555". Informational: it comes
	 * from the socket, never authenticates anything. */
	const char *address;
	/* address parsed; has_addr is false when it is not an IP peer. */
	bool has_addr;
	struct bx_rpc_addr addr;
	/*
	 * SHA-256 of the DER of the caller's verified leaf certificate, set
	 * (has_cert) only for a caller with an identity. A name is all the
	 * CA vouches for; the hash tells apart two certificates for the same
	 * name, e.g. a revoked node's and the one it got on re-joining.
	 */
	bool has_cert;
	uint8_t cert_sha256[BX_RPC_SHA256_LEN];
};

/* ------------------------------------------------------------------ */
/* Server                                                             */
/* ------------------------------------------------------------------ */

struct bx_rpc_server_conf {
	/* "0.0.0.0:7700"; port 0 binds an ephemeral port, see
	 * bx_rpc_server_port(). */
	const char *listen;
	/* PEM: the CA that signs client certificates. */
	const char *ca_pem;
	/* PEM: server certificate, then the CA certificate (see "Security"). */
	const char *cert_chain_pem;
	/* PEM: the server certificate's private key. */
	const char *key_pem;
};

struct bx_rpc_server;
/*
 * One server-side call. For a stream method it is the stream; for a unary
 * method it carries the single reply. Reference counted: it stays valid
 * while the caller holds a reference, even after the call ended or the
 * server stopped (then sends report -EPIPE).
 */
struct bx_rpc_stream;

enum bx_rpc_kind {
	BX_RPC_UNARY,
	BX_RPC_SERVER_STREAM,
	BX_RPC_BIDI_STREAM,
};

/*
 * Unary handler. @req (@len bytes) is valid until it returns. The handler
 * owns one reference to @call and must answer exactly once with
 * bx_rpc_unary_reply(), which consumes that reference: before returning,
 * or later from any thread when the answer needs work that would block.
 */
typedef void (*bx_rpc_unary_fn)(void *ctx, struct bx_rpc_stream *call,
				const uint8_t *req, size_t len);
/*
 * Stream open handler. @req is the request of a server stream, valid until
 * it returns; a bidi stream has none yet (NULL, 0): its messages come to
 * recv. Return BX_RPC_OK to accept: the handler then owns one reference to
 * @s and releases it with bx_rpc_stream_release() when done (typically
 * after closed). Any other code refuses the call with that status and
 * *@msg as its message if the handler set it (a string that need only live
 * until the handler returns); the handler then owns no reference.
 */
typedef enum bx_rpc_code (*bx_rpc_open_fn)(void *ctx, struct bx_rpc_stream *s,
					   const uint8_t *req, size_t len,
					   const char **msg);
/*
 * Bidi message from the client, valid until it returns. @msg NULL means the
 * client has finished sending; the stream stays open for the server's
 * messages until it finishes it.
 */
typedef void (*bx_rpc_recv_fn)(void *ctx, struct bx_rpc_stream *s,
			       const uint8_t *msg, size_t len);
/*
 * An accepted stream ended, once per stream: @code is the status it was
 * finished with, or CANCELLED when the client went away, its deadline
 * passed or the server stopped (RESOURCE_EXHAUSTED after a queue overflow).
 * Sends fail from now on; the handler's reference is still valid.
 */
typedef void (*bx_rpc_closed_fn)(void *ctx, struct bx_rpc_stream *s,
				 enum bx_rpc_code code);

struct bx_rpc_method {
	const char *path; /* "/package.Service/Method", copied */
	enum bx_rpc_kind kind;
	/* Callers without a verified certificate may call it. */
	bool allow_anonymous;
	bx_rpc_unary_fn unary;   /* BX_RPC_UNARY */
	bx_rpc_open_fn open;     /* streams */
	bx_rpc_recv_fn recv;     /* BX_RPC_BIDI_STREAM */
	bx_rpc_closed_fn closed; /* streams, may be NULL */
	void *ctx;               /* passed to each of them */
};

/*
 * Creates a server and binds its listening socket (without SO_REUSEPORT),
 * so a port conflict shows here and an ephemeral port is known before
 * start. Calls to unknown methods are answered UNIMPLEMENTED. Errors:
 * EINVAL (missing field, unreadable PEM, a key that is not the
 * certificate's, a chain without the CA: the PEM is checked here so that
 * the message names it rather than a failure to listen), EADDRINUSE
 * (cannot bind @conf->listen), ENOMEM.
 */
struct bx_rpc_server *bx_rpc_server_create(const struct bx_rpc_server_conf *conf,
					   char *err, size_t errlen);

/*
 * A server for this machine's processes only, without TLS (see "Security"):
 * @listen must satisfy bx_rpc_addr_is_local(), anything else is refused
 * with EINVAL and a message, because a server without TLS on a routable
 * address would hand its streams to anyone on the network.
 *
 * No caller has an identity: only methods registered with allow_anonymous
 * can be called (the others answer UNAUTHENTICATED as usual).
 *
 * "unix:PATH": the socket file gets mode BX_RPC_LOCAL_SOCKET_MODE (0600,
 * the owner only) right after it is bound, before the server is started;
 * to keep out even that moment, put it in a directory only the owner can
 * enter (/run/bauxite, 0700). A socket file left by a server that is gone
 * (nobody accepts on it) is replaced; a live one is EADDRINUSE and
 * anything else at PATH is EEXIST: neither is removed. The file goes at
 * bx_rpc_server_stop, unless something else has replaced it by then.
 * Errors: EINVAL, EADDRINUSE, EEXIST, ENAMETOOLONG (PATH does not fit in a
 * unix socket address), ENOMEM, or the errno of a failed chmod.
 */
struct bx_rpc_server *bx_rpc_server_create_local(const char *listen,
						 char *err, size_t errlen);

/*
 * The bound TCP port (the ephemeral one when conf.listen asked for 0); 0
 * for a unix socket.
 */
uint16_t bx_rpc_server_port(const struct bx_rpc_server *srv);

/*
 * Adds a method (copied). Only before bx_rpc_server_start.
 * -EINVAL: a handler its kind needs is missing, or the path is not
 *  "/..."; -EEXIST: path already registered; -EBUSY: server started;
 *  -ENOMEM.
 */
int bx_rpc_server_register(struct bx_rpc_server *srv,
			   const struct bx_rpc_method *m);

/*
 * Starts serving on the server's own completion-queue thread.
 * -EBUSY when already started; -EAGAIN/-ENOMEM when the thread cannot be
 * created.
 */
int bx_rpc_server_start(struct bx_rpc_server *srv);

/*
 * Stops and frees the server: no new calls; open calls get @grace_ms to
 * end by themselves, then are cancelled; closed runs for every open stream
 * (on the server thread, before this returns); the thread is joined.
 * Stream references the application still holds stay valid. Works on a
 * server never started. Accepts NULL. Not from a handler.
 */
void bx_rpc_server_stop(struct bx_rpc_server *srv, uint32_t grace_ms);

/*
 * Answers a unary call: @code BX_RPC_OK with @resp (@len bytes, copied), or
 * an error code with @msg (may be NULL; @resp is then ignored). Any thread,
 * exactly once per call; consumes the handler's reference in every case.
 * Returns 0, -EPIPE when the call is already gone (client cancelled,
 * deadline passed, server stopped; the answer is dropped), -EMSGSIZE when
 * @len exceeds BX_RPC_MAX_MESSAGE or -ENOMEM (the call then ends with
 * INTERNAL).
 */
int bx_rpc_unary_reply(struct bx_rpc_stream *call, enum bx_rpc_code code,
		       const char *msg, const void *resp, size_t len);

/*
 * Queues a message (copied) on an accepted stream. Any thread; messages
 * go out in the order of the calls. Returns 0, or:
 *   -EPIPE     the stream ended or is finishing
 *   -ENOBUFS   the queue would exceed BX_RPC_STREAM_QUEUE_MAX messages or
 *              BX_RPC_STREAM_QUEUE_BYTES: the client does not keep up, the
 *              stream is ended with RESOURCE_EXHAUSTED and the queue dropped
 *   -EMSGSIZE  @len exceeds BX_RPC_MAX_MESSAGE
 *   -EINVAL    @s is a unary call (answer it with bx_rpc_unary_reply)
 *   -ENOMEM
 */
int bx_rpc_stream_send(struct bx_rpc_stream *s, const void *msg, size_t len);

/*
 * bx_rpc_stream_send for messages that may be lost, e.g. one node's relayed
 * signals to another: a full queue refuses the message with -EAGAIN and
 * leaves the stream open, rather than ending a stream the receiver cannot
 * be blamed for. Other returns as bx_rpc_stream_send (never -ENOBUFS).
 */
int bx_rpc_stream_try_send(struct bx_rpc_stream *s, const void *msg,
			   size_t len);

/*
 * Ends an accepted stream with @code and @msg (may be NULL) once the queued
 * messages are out. Any thread. 0, or -EPIPE when already ended or
 * finishing, -EINVAL on a unary call, -ENOMEM.
 */
int bx_rpc_stream_finish(struct bx_rpc_stream *s, enum bx_rpc_code code,
			 const char *msg);

/* Takes one more reference, e.g. for a second thread. Any thread. */
void bx_rpc_stream_ref(struct bx_rpc_stream *s);

/* Drops a reference; the last one frees the handle. Any thread; NULL ok. */
void bx_rpc_stream_release(struct bx_rpc_stream *s);

/* The caller; valid as long as the reference it came through. */
const struct bx_rpc_peer *bx_rpc_stream_peer(const struct bx_rpc_stream *s);

/*
 * One pointer of the application's, e.g. its subscriber record, for closed
 * and recv to find. Set it in the open handler, before any other thread
 * sees the stream: it is not synchronised.
 */
void bx_rpc_stream_set_user(struct bx_rpc_stream *s, void *user);
void *bx_rpc_stream_user(const struct bx_rpc_stream *s);

/* ------------------------------------------------------------------ */
/* Client                                                             */
/* ------------------------------------------------------------------ */

enum bx_rpc_creds_kind {
	/* Trust ca_pem; present cert_pem/key_pem when both are set. */
	BX_RPC_CREDS_TLS,
	/* No client certificate; trust a server whose chain holds a CA with
	 * this SHA-256 that signed its leaf (`bauxite join`). */
	BX_RPC_CREDS_PINNED_CA,
	/* No TLS, to a local server (bx_rpc_server_create_local): the target
	 * must satisfy bx_rpc_addr_is_local(), so that a wrong target never
	 * sends a call in clear over a network. */
	BX_RPC_CREDS_LOCAL,
};

struct bx_rpc_client_creds {
	enum bx_rpc_creds_kind kind;
	const char *ca_pem;   /* TLS: trusted root (PEM) */
	const char *cert_pem; /* TLS: client certificate chain (PEM) or NULL */
	const char *key_pem;  /* TLS: its private key (PEM) or NULL */
	uint8_t ca_sha256[BX_RPC_SHA256_LEN]; /* PINNED_CA */
	/*
	 * The name the server's certificate must carry, when it is not the
	 * target's host (tests reach "bauxite-hub" at 127.0.0.1; a join token
	 * holds the hub's address). NULL: the target's host.
	 */
	const char *server_name;
};

struct bx_rpc_channel;

/*
 * A channel to @target "host:port" (LOCAL: also "unix:PATH") with @creds
 * (copied). Connects lazily, reconnects by itself; a call made while the
 * server cannot be reached fails at once with UNAVAILABLE rather than
 * waiting for it. Errors: EINVAL (missing field, unparsable PEM, a LOCAL
 * target that is not local), ENOMEM.
 */
struct bx_rpc_channel *bx_rpc_channel_create(const char *target,
					     const struct bx_rpc_client_creds *creds,
					     char *err, size_t errlen);

/* Frees the channel; its calls must be freed first. Accepts NULL. */
void bx_rpc_channel_destroy(struct bx_rpc_channel *ch);

/* The outcome of a unary call. */
struct bx_rpc_result {
	uint8_t *data;      /* response when code is OK, else NULL */
	size_t len;
	enum bx_rpc_code code;
	char *message;      /* status message, "" when none */
};

/*
 * One unary call, blocking the calling thread up to @timeout_ms (> 0),
 * after which it ends with DEADLINE_EXCEEDED. Thread-safe on one channel.
 * Returns 0 when it ended OK, else bx_rpc_code_to_errno(out->code). *@out
 * is filled whatever the outcome (unlike other out-parameters: a failed
 * call has a status worth reading) and must be cleared with
 * bx_rpc_result_clear(). A call that could not even start (bad argument,
 * no memory) returns -EINVAL/-ENOMEM with *@out empty and code UNKNOWN.
 */
int bx_rpc_unary(struct bx_rpc_channel *ch, const char *method,
		 const void *req, size_t len, uint32_t timeout_ms,
		 struct bx_rpc_result *out);

/* Frees what a result holds and empties it. NULL ok. */
void bx_rpc_result_clear(struct bx_rpc_result *r);

/* A client stream call (server-streaming or bidi). */
struct bx_rpc_call;

/*
 * Starts a server-streaming call with its one request. No deadline: it lives
 * until the server ends it or bx_rpc_call_free(). Nothing blocks: failures
 * to connect show as the stream's end in bx_rpc_call_next(). Returns 0 and
 * *@out, or -EINVAL/-ENOMEM.
 */
int bx_rpc_call_open_stream(struct bx_rpc_channel *ch, const char *method,
			    const void *req, size_t len,
			    struct bx_rpc_call **out);

/* Starts a bidi call; messages go out with bx_rpc_call_send(). */
int bx_rpc_call_open_bidi(struct bx_rpc_channel *ch, const char *method,
			  struct bx_rpc_call **out);

/*
 * The next message from the server, waiting up to @timeout_ms (0: just
 * poll, for a loop that must not block; < 0: no limit). Returns 0 with
 * *@msg (malloc'd, free() it) and *@len; -EAGAIN when none came in time;
 * -EPIPE when the stream has ended (see bx_rpc_call_status); -ENOMEM.
 * Also hands queued bidi messages to gRPC as earlier ones leave.
 */
int bx_rpc_call_next(struct bx_rpc_call *call, int timeout_ms, uint8_t **msg,
		     size_t *len);

/*
 * Sends a bidi message (copied) without waiting: up to
 * BX_RPC_CALL_SEND_QUEUE_MAX wait while gRPC holds the previous one; they
 * move on inside later bx_rpc_call_send/next calls. Returns 0, -ENOBUFS
 * (queue full: call next and retry), -EPIPE (stream ended or send side
 * closed), -EINVAL (not bidi), -EMSGSIZE, -ENOMEM.
 */
int bx_rpc_call_send(struct bx_rpc_call *call, const void *msg, size_t len);

/* Tells the server a bidi client is done sending, after the queued ones. */
int bx_rpc_call_close_send(struct bx_rpc_call *call);

/*
 * Once the stream has ended (bx_rpc_call_next returned -EPIPE): 0 with its
 * status code and message (valid until the call is freed). -EAGAIN while
 * it runs.
 */
int bx_rpc_call_status(const struct bx_rpc_call *call, enum bx_rpc_code *code,
		       const char **msg);

/* Ends the call from our side; next then reports CANCELLED. */
void bx_rpc_call_cancel(struct bx_rpc_call *call);

/* Cancels the call if still running and frees it. Accepts NULL. */
void bx_rpc_call_free(struct bx_rpc_call *call);

#endif /* BX_RPC_H */
