/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server half: one completion queue, one thread draining it.
 *
 * Every accepted call is a struct bx_rpc_stream with at most one batch of
 * each direction in flight, as gRPC requires:
 *   - receives (the close notification, bidi messages) are started only by
 *     the completion-queue thread;
 *   - sends (messages, the status) are started under the stream's lock, by
 *     whichever thread produced them: the application thread that queued a
 *     message when nothing was in flight, or the completion-queue thread
 *     when the previous send completed and more are queued. gRPC allows
 *     send batches and receive batches to be synchronised separately, and
 *     starting a send where it is produced spares us a way to wake the
 *     completion-queue thread (core's C API has none; a polling timeout
 *     would add its period to every message's latency).
 * A call is finished when the close notification has arrived and no batch
 * is in flight; the completion-queue thread then runs closed, unrefs the
 * grpc_call and drops its reference. From then on the handle holds no gRPC
 * object, so the application may keep it past bx_rpc_server_stop.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "bx_common.h"
#include "bx_rpc.h"
#include "rpc_internal.h"

enum tag_kind {
	TAG_NEW,      /* a call arrived for a waiting handle */
	TAG_SEND,     /* a send batch completed */
	TAG_RECV,     /* a bidi message (or the client's half-close) arrived */
	TAG_CLOSE,    /* the call is over on the wire */
	TAG_SHUTDOWN, /* the server has no calls left */
};

struct tag {
	enum tag_kind kind;
	struct bx_rpc_stream *s;
};

struct method {
	struct bx_rpc_method m; /* m.path is our copy */
	void *reg;              /* gRPC's handle for the registered method */
};

struct qmsg {
	struct qmsg *next;
	grpc_byte_buffer *bb;
	size_t len;
};

struct bx_rpc_stream {
	atomic_uint refs;
	pthread_mutex_t lock;
	enum bx_rpc_kind kind;

	/*
	 * Other threads start sends on call only under lock and while not
	 * closed; the completion-queue thread unrefs it once done.
	 */
	grpc_call *call;

	/* Completion-queue thread only. */
	struct bx_rpc_server *srv;
	const struct method *method; /* NULL: a method nobody registered */
	grpc_call_details details;   /* filled for unregistered methods */
	grpc_metadata_array req_md;
	gpr_timespec deadline;
	grpc_byte_buffer *payload;
	grpc_byte_buffer *recv_bb;
	int cancelled;
	struct tag t_new, t_send, t_recv, t_close;

	/* Set before the handler runs, constant afterwards. */
	struct bx_rpc_peer peer;
	char *identity;
	char *address;
	void *user;

	/* Under lock. */
	struct qmsg *head, *tail;
	size_t queued, queued_bytes;
	grpc_byte_buffer *send_bb; /* message of the send in flight */
	unsigned inflight;         /* batches started and not completed */
	bool send_busy;
	bool md_sent;
	bool finishing;      /* no more messages accepted */
	bool status_started; /* status sent or the call cancelled by us */
	bool overflow;
	bool closed;         /* the close notification arrived */
	bool done;
	bool accepted;       /* closed is due to the application */
	enum bx_rpc_code end_code;
	char *end_msg;
};

struct bx_rpc_server {
	grpc_server *server;
	grpc_completion_queue *cq;
	uint16_t port;
	/* A local server's unix socket, removed at stop if still ours. */
	char *unix_path;
	dev_t unix_dev;
	ino_t unix_ino;
	struct method *methods;
	size_t n_methods;
	bool started;
	bool thread_running;
	pthread_t thread;
	atomic_bool stopping; /* no more waiting handles */
	struct tag t_shutdown;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool shutdown_seen; /* under lock */
};

static void stream_free(struct bx_rpc_stream *s);

void bx_rpc_stream_ref(struct bx_rpc_stream *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void bx_rpc_stream_release(struct bx_rpc_stream *s)
{
	if (s == NULL)
		return;
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		stream_free(s);
}

const struct bx_rpc_peer *bx_rpc_stream_peer(const struct bx_rpc_stream *s)
{
	return &s->peer;
}

void bx_rpc_stream_set_user(struct bx_rpc_stream *s, void *user)
{
	s->user = user;
}

void *bx_rpc_stream_user(const struct bx_rpc_stream *s)
{
	return s->user;
}

/*
 * A handle waiting for a call of @method (NULL: any unregistered one).
 * Out of memory here would leave a method without a waiting handle, i.e.
 * silently dead; gRPC itself aborts on allocation failure (gpr_malloc), so
 * we do the same rather than serve a degraded server.
 */
static struct bx_rpc_stream *stream_new(struct bx_rpc_server *srv,
					const struct method *method)
{
	struct bx_rpc_stream *s = calloc(1, sizeof(*s));

	BX_ASSERT(s != NULL);
	atomic_init(&s->refs, 1);
	BX_ASSERT(pthread_mutex_init(&s->lock, NULL) == 0);
	s->srv = srv;
	s->method = method;
	s->kind = method ? method->m.kind : BX_RPC_UNARY;
	grpc_call_details_init(&s->details);
	grpc_metadata_array_init(&s->req_md);
	s->t_new = (struct tag){TAG_NEW, s};
	s->t_send = (struct tag){TAG_SEND, s};
	s->t_recv = (struct tag){TAG_RECV, s};
	s->t_close = (struct tag){TAG_CLOSE, s};
	return s;
}

static void drop_queue_locked(struct bx_rpc_stream *s)
{
	while (s->head != NULL) {
		struct qmsg *q = s->head;

		s->head = q->next;
		grpc_byte_buffer_destroy(q->bb);
		free(q);
	}
	s->tail = NULL;
	s->queued = 0;
	s->queued_bytes = 0;
}

/*
 * Gives back everything gRPC allocated for the call, on the completion-queue
 * thread, so that a handle the application keeps past the server (and past
 * grpc_shutdown) owns only plain memory.
 */
static void stream_drop_grpc(struct bx_rpc_stream *s)
{
	drop_queue_locked(s);
	if (s->payload != NULL)
		grpc_byte_buffer_destroy(s->payload);
	if (s->recv_bb != NULL)
		grpc_byte_buffer_destroy(s->recv_bb);
	if (s->send_bb != NULL)
		grpc_byte_buffer_destroy(s->send_bb);
	s->payload = s->recv_bb = s->send_bb = NULL;
	grpc_call_details_destroy(&s->details);
	grpc_metadata_array_destroy(&s->req_md);
	if (s->call != NULL)
		grpc_call_unref(s->call);
	s->call = NULL;
}

static void stream_free(struct bx_rpc_stream *s)
{
	pthread_mutex_destroy(&s->lock);
	free(s->identity);
	free(s->address);
	free(s->end_msg);
	free(s);
}

/* Waits for the next call of @method on a fresh handle. */
static void arm(struct bx_rpc_server *srv, const struct method *method)
{
	struct bx_rpc_stream *s = stream_new(srv, method);
	grpc_call_error e;

	if (method == NULL)
		e = grpc_server_request_call(srv->server, &s->call, &s->details,
					     &s->req_md, srv->cq, srv->cq,
					     &s->t_new);
	else
		e = grpc_server_request_registered_call(
			srv->server, method->reg, &s->call, &s->deadline,
			&s->req_md,
			method->m.kind == BX_RPC_BIDI_STREAM ? NULL : &s->payload,
			srv->cq, srv->cq, &s->t_new);
	/* Fails only on misuse (e.g. a completion queue not registered). */
	BX_ASSERT(e == GRPC_CALL_OK);
}

/*
 * Starts the next send if none is in flight: the oldest queued message,
 * else the status once finishing. Initial metadata rides on the first.
 */
static void pump_locked(struct bx_rpc_stream *s)
{
	grpc_slice details = grpc_empty_slice();
	struct qmsg *q = s->head;
	grpc_op ops[2];
	size_t n = 0;

	if (s->send_busy || s->closed)
		return;
	if (q == NULL && !(s->finishing && !s->status_started))
		return;
	memset(ops, 0, sizeof(ops));
	if (!s->md_sent) {
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		s->md_sent = true;
	}
	if (q != NULL) {
		s->head = q->next;
		if (s->head == NULL)
			s->tail = NULL;
		s->queued--;
		s->queued_bytes -= q->len;
		s->send_bb = q->bb;
		free(q);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = s->send_bb;
	} else {
		s->status_started = true;
		details = grpc_slice_from_copied_string(s->end_msg ? s->end_msg
								   : "");
		ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
		ops[n].data.send_status_from_server.status =
			(grpc_status_code)s->end_code;
		ops[n++].data.send_status_from_server.status_details = &details;
	}
	s->send_busy = true;
	s->inflight++;
	BX_ASSERT(grpc_call_start_batch(s->call, ops, n, &s->t_send, NULL) ==
		  GRPC_CALL_OK);
	/* gRPC copied the status message. */
	grpc_slice_unref(details);
}

/*
 * Ends the call with @code once queued messages are out. Returns -EPIPE
 * when it has already ended or is ending.
 */
static int finish_locked(struct bx_rpc_stream *s, enum bx_rpc_code code,
			 char *msg)
{
	if (s->closed || s->finishing) {
		free(msg);
		return -EPIPE;
	}
	s->finishing = true;
	s->end_code = code;
	s->end_msg = msg;
	pump_locked(s);
	return 0;
}

/* Ends the call now, even with a send stuck behind flow control. */
static void cancel_locked(struct bx_rpc_stream *s, enum bx_rpc_code code,
			  const char *msg)
{
	s->finishing = true;
	s->status_started = true;
	s->end_code = code;
	drop_queue_locked(s);
	grpc_call_cancel_with_status(s->call, (grpc_status_code)code, msg, NULL);
}

/* Internal answers (unknown method, anonymous caller, missing request). */
static void refuse(struct bx_rpc_stream *s, enum bx_rpc_code code,
		   const char *msg)
{
	pthread_mutex_lock(&s->lock);
	finish_locked(s, code, msg ? strdup(msg) : NULL);
	pthread_mutex_unlock(&s->lock);
}

/*
 * Queues a copy of @msg. Past the queue's bounds a @fatal send ends the
 * stream (-ENOBUFS); another one only refuses the message (-EAGAIN).
 */
static int stream_send(struct bx_rpc_stream *s, const void *msg, size_t len,
		       bool fatal)
{
	struct qmsg *q;
	int rc = 0;

	if (s->kind == BX_RPC_UNARY)
		return -EINVAL;
	if (len > BX_RPC_MAX_MESSAGE)
		return -EMSGSIZE;
	q = malloc(sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	q->next = NULL;
	q->len = len;
	q->bb = rpc_bb_from(msg, len);
	if (q->bb == NULL) {
		free(q);
		return -ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	if (s->closed || s->finishing) {
		rc = -EPIPE;
	} else if (s->queued + 1 > BX_RPC_STREAM_QUEUE_MAX ||
		   s->queued_bytes + len > BX_RPC_STREAM_QUEUE_BYTES) {
		if (fatal) {
			s->overflow = true;
			cancel_locked(s, BX_RPC_RESOURCE_EXHAUSTED,
				      "stream queue overflow: client reads too slowly");
		}
		rc = fatal ? -ENOBUFS : -EAGAIN;
	} else {
		if (s->tail != NULL)
			s->tail->next = q;
		else
			s->head = q;
		s->tail = q;
		s->queued++;
		s->queued_bytes += len;
		q = NULL;
		pump_locked(s);
	}
	pthread_mutex_unlock(&s->lock);
	if (q != NULL) {
		grpc_byte_buffer_destroy(q->bb);
		free(q);
	}
	return rc;
}

int bx_rpc_stream_send(struct bx_rpc_stream *s, const void *msg, size_t len)
{
	return stream_send(s, msg, len, true);
}

int bx_rpc_stream_try_send(struct bx_rpc_stream *s, const void *msg,
			   size_t len)
{
	return stream_send(s, msg, len, false);
}

int bx_rpc_stream_finish(struct bx_rpc_stream *s, enum bx_rpc_code code,
			 const char *msg)
{
	char *copy = NULL;
	int rc;

	if (s->kind == BX_RPC_UNARY)
		return -EINVAL;
	if (msg != NULL) {
		copy = strdup(msg);
		if (copy == NULL)
			return -ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	rc = finish_locked(s, code, copy);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int bx_rpc_unary_reply(struct bx_rpc_stream *call, enum bx_rpc_code code,
		       const char *msg, const void *resp, size_t len)
{
	struct bx_rpc_stream *s = call;
	grpc_byte_buffer *bb = NULL;
	grpc_slice details;
	grpc_op ops[3];
	size_t n = 0;
	int rc = 0;

	BX_ASSERT(s->kind == BX_RPC_UNARY);
	if (code == BX_RPC_OK) {
		if (len > BX_RPC_MAX_MESSAGE)
			rc = -EMSGSIZE;
		else if ((bb = rpc_bb_from(resp, len)) == NULL)
			rc = -ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	if (s->closed || s->finishing) {
		rc = -EPIPE;
	} else if (rc != 0) {
		cancel_locked(s, BX_RPC_INTERNAL, "server could not reply");
	} else {
		memset(ops, 0, sizeof(ops));
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		if (bb != NULL) {
			ops[n].op = GRPC_OP_SEND_MESSAGE;
			ops[n++].data.send_message.send_message = bb;
		}
		details = grpc_slice_from_copied_string(msg ? msg : "");
		ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
		ops[n].data.send_status_from_server.status =
			(grpc_status_code)code;
		ops[n++].data.send_status_from_server.status_details = &details;
		s->finishing = true;
		s->status_started = true;
		s->md_sent = true;
		s->end_code = code;
		s->send_busy = true;
		s->send_bb = bb;
		bb = NULL;
		s->inflight++;
		BX_ASSERT(grpc_call_start_batch(s->call, ops, n, &s->t_send,
						NULL) == GRPC_CALL_OK);
		grpc_slice_unref(details);
	}
	pthread_mutex_unlock(&s->lock);
	if (bb != NULL)
		grpc_byte_buffer_destroy(bb);
	bx_rpc_stream_release(s);
	return rc;
}

/* Starts a receive batch of one op; completion-queue thread only. */
static void start_recv(struct bx_rpc_stream *s, grpc_op_type type,
		       struct tag *t)
{
	grpc_op op;

	memset(&op, 0, sizeof(op));
	op.op = type;
	if (type == GRPC_OP_RECV_MESSAGE)
		op.data.recv_message.recv_message = &s->recv_bb;
	else
		op.data.recv_close_on_server.cancelled = &s->cancelled;
	pthread_mutex_lock(&s->lock);
	s->inflight++;
	pthread_mutex_unlock(&s->lock);
	BX_ASSERT(grpc_call_start_batch(s->call, &op, 1, t, NULL) ==
		  GRPC_CALL_OK);
}

/* SHA-256 of the DER of the certificate in @pem (@len bytes). */
static bool pem_cert_sha256(const char *pem, size_t len,
			    uint8_t out[BX_RPC_SHA256_LEN])
{
	BIO *bio = NULL;
	X509 *x = NULL;
	unsigned int n = 0;
	bool ok = false;

	if (len > INT_MAX)
		goto out;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		goto out;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	/* X509_digest hashes the DER encoding. */
	ok = x != NULL && X509_digest(x, EVP_sha256(), out, &n) == 1 &&
	     n == BX_RPC_SHA256_LEN;
out:
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
	return ok;
}

/*
 * The caller's identity -- the first DNS SAN of a certificate gRPC
 * verified -- and that certificate's hash, into @s->peer. gRPC 1.51 lists
 * each DNS SAN, in certificate order, under "peer_dns"
 * ("x509_subject_alternative_name" mixes in URI, e-mail and IP names) and
 * the leaf as PEM under "x509_pem_cert".
 */
static void caller_auth(struct bx_rpc_stream *s)
{
	grpc_auth_context *ac = grpc_call_auth_context(s->call);
	grpc_auth_property_iterator it;
	const grpc_auth_property *p;

	if (ac == NULL)
		return;
	if (grpc_auth_context_peer_is_authenticated(ac)) {
		it = grpc_auth_context_find_properties_by_name(
			ac, GRPC_PEER_DNS_PROPERTY_NAME);
		p = grpc_auth_property_iterator_next(&it);
		if (p != NULL && p->value_length > 0)
			s->identity = strndup(p->value, p->value_length);
		it = grpc_auth_context_find_properties_by_name(
			ac, GRPC_X509_PEM_CERT_PROPERTY_NAME);
		p = grpc_auth_property_iterator_next(&it);
		if (s->identity != NULL && p != NULL)
			s->peer.has_cert = pem_cert_sha256(
				p->value, p->value_length, s->peer.cert_sha256);
	}
	grpc_auth_context_release(ac);
}

static void fill_peer(struct bx_rpc_stream *s)
{
	char *p = grpc_call_get_peer(s->call);

	s->address = p ? strdup(p) : NULL;
	s->peer.address = s->address ? s->address : "";
	s->peer.has_addr = bx_rpc_addr_parse(p, &s->peer.addr) == 0;
	gpr_free(p);
	caller_auth(s);
	s->peer.identity = s->identity;
}

/* The request as one slice; false when the client sent no message. */
static bool take_request(struct bx_rpc_stream *s, grpc_slice *req)
{
	if (s->payload == NULL)
		return false;
	*req = rpc_bb_slice(s->payload);
	grpc_byte_buffer_destroy(s->payload);
	s->payload = NULL;
	return true;
}

static void dispatch(struct bx_rpc_stream *s)
{
	const struct bx_rpc_method *m = &s->method->m;
	const char *msg = NULL;
	enum bx_rpc_code code;
	grpc_slice req = grpc_empty_slice();
	const uint8_t *p = NULL;
	size_t len = 0;

	if (m->kind != BX_RPC_BIDI_STREAM) {
		if (!take_request(s, &req)) {
			refuse(s, BX_RPC_INVALID_ARGUMENT,
			       "request message missing");
			return;
		}
		p = GRPC_SLICE_START_PTR(req);
		len = GRPC_SLICE_LENGTH(req);
	}
	/* The handler's reference. */
	bx_rpc_stream_ref(s);
	if (m->kind == BX_RPC_UNARY) {
		m->unary(m->ctx, s, p, len);
		grpc_slice_unref(req);
		return;
	}
	code = m->open(m->ctx, s, p, len, &msg);
	grpc_slice_unref(req);
	if (code != BX_RPC_OK) {
		refuse(s, code, msg);
		bx_rpc_stream_release(s);
		return;
	}
	pthread_mutex_lock(&s->lock);
	s->accepted = true;
	pthread_mutex_unlock(&s->lock);
	if (m->kind == BX_RPC_BIDI_STREAM)
		start_recv(s, GRPC_OP_RECV_MESSAGE, &s->t_recv);
}

static void on_new(struct bx_rpc_stream *s, bool success)
{
	struct bx_rpc_server *srv = s->srv;

	if (!success) {
		/* The server is shutting down: this handle never got a call. */
		stream_drop_grpc(s);
		bx_rpc_stream_release(s);
		return;
	}
	if (!atomic_load(&srv->stopping))
		arm(srv, s->method);
	fill_peer(s);
	/* Tells us when the client goes away, whatever the method does. */
	start_recv(s, GRPC_OP_RECV_CLOSE_ON_SERVER, &s->t_close);
	if (s->method == NULL)
		refuse(s, BX_RPC_UNIMPLEMENTED, "unknown method");
	else if (!s->method->m.allow_anonymous && s->identity == NULL)
		refuse(s, BX_RPC_UNAUTHENTICATED,
		       "a client certificate is required");
	else
		dispatch(s);
}

/* Runs once no batch is in flight after the close: the end of the call. */
static void maybe_done(struct bx_rpc_stream *s)
{
	enum bx_rpc_code code;
	bool accepted;

	pthread_mutex_lock(&s->lock);
	if (!s->closed || s->inflight > 0 || s->done) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	s->done = true;
	accepted = s->accepted;
	if (s->overflow)
		code = BX_RPC_RESOURCE_EXHAUSTED;
	else if (s->cancelled || !s->status_started)
		code = BX_RPC_CANCELLED;
	else
		code = s->end_code;
	stream_drop_grpc(s);
	pthread_mutex_unlock(&s->lock);
	if (accepted && s->method->m.closed != NULL)
		s->method->m.closed(s->method->m.ctx, s, code);
	bx_rpc_stream_release(s);
}

static void on_send(struct bx_rpc_stream *s)
{
	pthread_mutex_lock(&s->lock);
	s->inflight--;
	s->send_busy = false;
	if (s->send_bb != NULL)
		grpc_byte_buffer_destroy(s->send_bb);
	s->send_bb = NULL;
	pump_locked(s);
	pthread_mutex_unlock(&s->lock);
	maybe_done(s);
}

static void on_recv(struct bx_rpc_stream *s, bool success)
{
	const struct bx_rpc_method *m = &s->method->m;
	grpc_byte_buffer *bb = s->recv_bb;
	grpc_slice msg;
	bool closed;

	s->recv_bb = NULL;
	pthread_mutex_lock(&s->lock);
	s->inflight--;
	closed = s->closed;
	pthread_mutex_unlock(&s->lock);
	if (bb != NULL) {
		msg = rpc_bb_slice(bb);
		grpc_byte_buffer_destroy(bb);
		if (!closed)
			m->recv(m->ctx, s, GRPC_SLICE_START_PTR(msg),
				GRPC_SLICE_LENGTH(msg));
		grpc_slice_unref(msg);
		if (!closed)
			start_recv(s, GRPC_OP_RECV_MESSAGE, &s->t_recv);
	} else if (success && !closed) {
		/* No message and no failure: the client half-closed. */
		m->recv(m->ctx, s, NULL, 0);
	}
	maybe_done(s);
}

static void on_close(struct bx_rpc_stream *s)
{
	pthread_mutex_lock(&s->lock);
	s->inflight--;
	s->closed = true;
	drop_queue_locked(s);
	pthread_mutex_unlock(&s->lock);
	maybe_done(s);
}

/* After the shutdown tag no call is left: the server can go. */
static void on_shutdown(struct bx_rpc_server *srv)
{
	pthread_mutex_lock(&srv->lock);
	srv->shutdown_seen = true;
	pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
	grpc_server_destroy(srv->server);
	srv->server = NULL;
	grpc_completion_queue_shutdown(srv->cq);
}

/* Drains the completion queue until it is shut down. */
static void cq_loop(struct bx_rpc_server *srv)
{
	for (;;) {
		grpc_event ev = grpc_completion_queue_next(
			srv->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
		struct tag *t;

		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			return;
		BX_ASSERT(ev.type == GRPC_OP_COMPLETE);
		t = ev.tag;
		switch (t->kind) {
		case TAG_NEW:
			on_new(t->s, ev.success != 0);
			break;
		case TAG_SEND:
			on_send(t->s);
			break;
		case TAG_RECV:
			on_recv(t->s, ev.success != 0);
			break;
		case TAG_CLOSE:
			on_close(t->s);
			break;
		case TAG_SHUTDOWN:
			on_shutdown(srv);
			break;
		}
	}
}

static void *cq_thread(void *arg)
{
	cq_loop(arg);
	return NULL;
}

static int check_conf(const struct bx_rpc_server_conf *conf, char *err,
		      size_t errlen)
{
	int rc;

	if (conf == NULL || conf->listen == NULL || conf->ca_pem == NULL ||
	    conf->cert_chain_pem == NULL || conf->key_pem == NULL) {
		rpc_err(err, errlen,
			"server: listen, ca_pem, cert_chain_pem and key_pem are required");
		return -EINVAL;
	}
	if (rpc_pem_cert_count(conf->ca_pem) == 0) {
		rpc_err(err, errlen, "server ca_pem: no PEM certificate found");
		return -EINVAL;
	}
	/* The pinned-CA join needs the CA in the chain: leaf + CA at least. */
	if (rpc_pem_cert_count(conf->cert_chain_pem) < 2) {
		rpc_err(err, errlen,
			"server cert_chain_pem: needs the server certificate followed by its CA");
		return -EINVAL;
	}
	rc = rpc_pem_check_pair(conf->cert_chain_pem, conf->key_pem, err,
				errlen);
	return rc;
}

/*
 * A server bound to @listen with @creds, not started. Consumes @creds and
 * the caller's grpc_init() (needed to make them): the server gives it back
 * when it stops, or this on failure. errno and @err say why on failure.
 */
static struct bx_rpc_server *server_new(const char *listen,
					grpc_server_credentials *creds,
					char *err, size_t errlen)
{
	grpc_arg args[] = {
		/* gRPC sets SO_REUSEPORT by default: a second hub on our
		 * port would silently share its connections. */
		{GRPC_ARG_INTEGER, GRPC_ARG_ALLOW_REUSEPORT, {.integer = 0}},
		{GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
		 {.integer = BX_RPC_MAX_MESSAGE}},
		{GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
		 {.integer = BX_RPC_MAX_MESSAGE}},
		{GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS,
		 {.integer = BX_RPC_KEEPALIVE_MS}},
		{GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
		 {.integer = BX_RPC_KEEPALIVE_TIMEOUT_MS}},
		/* Our own pings must not stop on a connection without data. */
		{GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA,
		 {.integer = 0}},
		{GRPC_ARG_INTEGER,
		 GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
		 {.integer = BX_RPC_MIN_PING_INTERVAL_MS}},
	};
	grpc_channel_args cargs = {BX_ARRAY_SIZE(args), args};
	struct bx_rpc_server *srv;
	int port;

	srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		grpc_server_credentials_release(creds);
		grpc_shutdown();
		rpc_err(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&srv->stopping, false);
	srv->t_shutdown = (struct tag){TAG_SHUTDOWN, NULL};
	pthread_mutex_init(&srv->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&srv->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	srv->server = grpc_server_create(&cargs, NULL);
	srv->cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(srv->server, srv->cq, NULL);

	port = grpc_server_add_http2_port(srv->server, listen, creds);
	grpc_server_credentials_release(creds);
	if (port <= 0) {
		rpc_err(err, errlen, "server: cannot listen on %s", listen);
		bx_rpc_server_stop(srv, 0);
		errno = EADDRINUSE;
		return NULL;
	}
	/* gRPC answers 1 for a unix socket, which has no port. */
	if (strncmp(listen, BX_RPC_UNIX_PREFIX, strlen(BX_RPC_UNIX_PREFIX)) != 0)
		srv->port = (uint16_t)port;
	return srv;
}

struct bx_rpc_server *bx_rpc_server_create(const struct bx_rpc_server_conf *conf,
					   char *err, size_t errlen)
{
	grpc_ssl_pem_key_cert_pair pair;
	grpc_server_credentials *creds;
	int rc;

	rc = check_conf(conf, err, errlen);
	if (rc != 0) {
		errno = -rc;
		return NULL;
	}
	/* gRPC's objects need it before the credentials are made. */
	grpc_init();
	pair.private_key = conf->key_pem;
	pair.cert_chain = conf->cert_chain_pem;
	/* Request and verify, not require: see "Security" in bx_rpc.h. */
	creds = grpc_ssl_server_credentials_create_ex(
		conf->ca_pem, &pair, 1,
		GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY, NULL);
	return server_new(conf->listen, creds, err, errlen);
}

/*
 * Makes room for a local server's socket at @path: nothing there, or a
 * socket nobody accepts on (its server died without removing it), which
 * is removed. Returns 0 or -errno with @err set.
 */
static int unix_path_free(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		rpc_err(err, errlen, "server: %s: %s", path, strerror(-rc));
		return rc;
	}
	if (!S_ISSOCK(st.st_mode)) {
		rpc_err(err, errlen,
			"server: %s exists and is not a socket: not replaced",
			path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		rpc_err(err, errlen, "server: socket: %s", strerror(-rc));
		return rc;
	}
	/* rpc_unix_path checked that the path fits. */
	memcpy(sa.sun_path, path, strlen(path) + 1);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : -errno;
	close(fd);
	if (rc == 0) {
		rpc_err(err, errlen,
			"server: another server listens on %s", path);
		return -EADDRINUSE;
	}
	if (rc != -ECONNREFUSED) {
		rpc_err(err, errlen, "server: %s: %s", path, strerror(-rc));
		return rc;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		rc = -errno;
		rpc_err(err, errlen, "server: cannot remove the stale socket %s: %s",
			path, strerror(-rc));
		return rc;
	}
	return 0;
}

/* Owner-only mode on a local server's fresh socket; remembers the file. */
static int unix_path_claim(struct bx_rpc_server *srv, const char *path,
			   char *err, size_t errlen)
{
	struct stat st;
	int rc;

	if (chmod(path, BX_RPC_LOCAL_SOCKET_MODE) != 0 ||
	    lstat(path, &st) != 0) {
		rc = -errno;
		rpc_err(err, errlen, "server: %s: %s", path, strerror(-rc));
		return rc;
	}
	srv->unix_path = strdup(path);
	if (srv->unix_path == NULL) {
		rpc_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	srv->unix_dev = st.st_dev;
	srv->unix_ino = st.st_ino;
	return 0;
}

struct bx_rpc_server *bx_rpc_server_create_local(const char *listen,
						 char *err, size_t errlen)
{
	char path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
	struct bx_rpc_server *srv;
	int rc;

	if (!bx_rpc_addr_is_local(listen)) {
		if (rpc_unix_path(listen, path, sizeof(path)) == -ENAMETOOLONG) {
			rpc_err(err, errlen,
				"server %s: the path is longer than a unix socket address takes (%zu bytes)",
				listen, sizeof(path) - 1);
			errno = ENAMETOOLONG;
			return NULL;
		}
		rpc_err(err, errlen,
			"server %s: without TLS a server listens only on unix:PATH, 127.x.y.z:PORT or [::1]:PORT",
			listen ? listen : "(null)");
		errno = EINVAL;
		return NULL;
	}
	if (rpc_unix_path(listen, path, sizeof(path)) != 0)
		path[0] = '\0'; /* loopback TCP */
	if (path[0] != '\0') {
		rc = unix_path_free(path, err, errlen);
		if (rc != 0) {
			errno = -rc;
			return NULL;
		}
	}
	grpc_init();
	srv = server_new(listen, grpc_insecure_server_credentials_create(), err,
			 errlen);
	if (srv == NULL || path[0] == '\0')
		return srv;
	rc = unix_path_claim(srv, path, err, errlen);
	if (rc != 0) {
		bx_rpc_server_stop(srv, 0);
		errno = -rc;
		return NULL;
	}
	return srv;
}

uint16_t bx_rpc_server_port(const struct bx_rpc_server *srv)
{
	return srv->port;
}

static bool method_valid(const struct bx_rpc_method *m)
{
	if (m->path == NULL || m->path[0] != '/')
		return false;
	switch (m->kind) {
	case BX_RPC_UNARY:
		return m->unary != NULL;
	case BX_RPC_SERVER_STREAM:
		return m->open != NULL;
	case BX_RPC_BIDI_STREAM:
		return m->open != NULL && m->recv != NULL;
	}
	return false;
}

int bx_rpc_server_register(struct bx_rpc_server *srv,
			   const struct bx_rpc_method *m)
{
	struct method *grown, *nm;
	size_t i;

	if (srv->started)
		return -EBUSY;
	if (!method_valid(m))
		return -EINVAL;
	for (i = 0; i < srv->n_methods; i++)
		if (strcmp(srv->methods[i].m.path, m->path) == 0)
			return -EEXIST;
	grown = realloc(srv->methods, (srv->n_methods + 1) * sizeof(*grown));
	if (grown == NULL)
		return -ENOMEM;
	srv->methods = grown;
	nm = &srv->methods[srv->n_methods];
	nm->m = *m;
	nm->m.path = strdup(m->path);
	if (nm->m.path == NULL)
		return -ENOMEM;
	/* Unary and server-stream calls arrive with their request read. */
	nm->reg = grpc_server_register_method(
		srv->server, nm->m.path, NULL,
		m->kind == BX_RPC_BIDI_STREAM ?
			GRPC_SRM_PAYLOAD_NONE :
			GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
		0);
	if (nm->reg == NULL) {
		free((char *)nm->m.path);
		return -EINVAL;
	}
	srv->n_methods++;
	return 0;
}

int bx_rpc_server_start(struct bx_rpc_server *srv)
{
	size_t i;
	int rc;

	if (srv->started)
		return -EBUSY;
	srv->started = true;
	grpc_server_start(srv->server);
	for (i = 0; i < srv->n_methods; i++)
		arm(srv, &srv->methods[i]);
	arm(srv, NULL);
	rc = pthread_create(&srv->thread, NULL, cq_thread, srv);
	if (rc != 0)
		return -rc;
	srv->thread_running = true;
	return 0;
}

/*
 * Removes a local server's socket file, unless another has taken the path
 * since (after someone removed ours): that one is not ours to remove.
 */
static void unix_path_release(struct bx_rpc_server *srv)
{
	struct stat st;

	if (srv->unix_path == NULL)
		return;
	if (lstat(srv->unix_path, &st) == 0 && st.st_dev == srv->unix_dev &&
	    st.st_ino == srv->unix_ino)
		unlink(srv->unix_path);
	free(srv->unix_path);
	srv->unix_path = NULL;
}

void bx_rpc_server_stop(struct bx_rpc_server *srv, uint32_t grace_ms)
{
	struct timespec until;
	size_t i;

	if (srv == NULL)
		return;
	atomic_store(&srv->stopping, true);
	grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->t_shutdown);
	if (srv->thread_running) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += grace_ms / 1000;
		until.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&srv->lock);
		while (!srv->shutdown_seen &&
		       pthread_cond_timedwait(&srv->cond, &srv->lock, &until) !=
			       ETIMEDOUT)
			;
		/* Under the lock: the thread destroys the server only after
		 * setting shutdown_seen. */
		if (!srv->shutdown_seen)
			grpc_server_cancel_all_calls(srv->server);
		pthread_mutex_unlock(&srv->lock);
		pthread_join(srv->thread, NULL);
	} else {
		/* Never started, or its thread could not be created. */
		grpc_server_cancel_all_calls(srv->server);
		cq_loop(srv);
	}
	grpc_completion_queue_destroy(srv->cq);
	unix_path_release(srv);
	for (i = 0; i < srv->n_methods; i++)
		free((char *)srv->methods[i].m.path);
	free(srv->methods);
	pthread_cond_destroy(&srv->cond);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
	grpc_shutdown();
}
