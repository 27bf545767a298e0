/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client half: channels, blocking unary calls and polled stream calls.
 *
 * Each call has a completion queue of its own, so a unary call can wait
 * for its one event on any thread and a stream is driven entirely by its
 * owner's bx_rpc_call_next/send: gRPC reads the socket for it inside those
 * calls (no background thread of ours), which is why a poll with timeout 0
 * still makes progress.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/string_util.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "bx_common.h"
#include "bx_rpc.h"
#include "rpc_internal.h"

/* The longest host name or address we verify a hub certificate against. */
#define PIN_NAME_MAX 256

struct bx_rpc_channel {
	grpc_channel *ch;
};

/* ------------------------------------------------------------------ */
/* Pinned-CA verification                                             */
/* ------------------------------------------------------------------ */

/*
 * gRPC calls verify after the handshake with the certificates the server
 * sent; with verify_server_cert off it has checked nothing itself. It frees
 * this object through destruct when the last credentials using it go.
 */
struct pin {
	grpc_tls_certificate_verifier_external ext;
	uint8_t sha256[BX_RPC_SHA256_LEN];
	char name[PIN_NAME_MAX]; /* host name or IP the leaf must carry */
};

static STACK_OF(X509) *pem_chain(const char *pem)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x;

	if (sk == NULL || bio == NULL)
		goto fail;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			goto fail;
		}
	}
	ERR_clear_error();
	BIO_free(bio);
	return sk;
fail:
	BIO_free(bio);
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

static X509 *pem_leaf(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	return x;
}

/* The chain member whose DER SHA-256 is the pin, or NULL. */
static X509 *find_pinned(const struct pin *pin, STACK_OF(X509) *chain)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	int i;

	for (i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1 &&
		    mdlen == BX_RPC_SHA256_LEN &&
		    CRYPTO_memcmp(md, pin->sha256, BX_RPC_SHA256_LEN) == 0)
			return x;
	}
	return NULL;
}

/*
 * Verifies the server's leaf against the pinned CA: found by hash in what
 * the server sent, it becomes the only trust anchor, and OpenSSL checks the
 * leaf's signature, validity, purpose and name. Without the signature check
 * anyone could send our CA's public certificate next to a leaf of his own;
 * without the name check any node of the fleet could pose as the hub.
 * Returns NULL when trusted, else why not.
 */
static const char *pin_check(const struct pin *pin, const char *leaf_pem,
			     const char *chain_pem)
{
	STACK_OF(X509) *chain = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *param;
	struct in6_addr ip;
	X509 *leaf = NULL, *ca;
	const char *why;

	if (leaf_pem == NULL || chain_pem == NULL)
		return "server sent no certificate chain";
	leaf = pem_leaf(leaf_pem);
	chain = pem_chain(chain_pem);
	if (leaf == NULL || chain == NULL) {
		why = "cannot parse the server's certificates";
		goto out;
	}
	ca = find_pinned(pin, chain);
	if (ca == NULL) {
		why = "no certificate in the server's chain matches the CA pin";
		goto out;
	}
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	why = "out of memory";
	if (store == NULL || ctx == NULL || X509_STORE_add_cert(store, ca) != 1 ||
	    X509_STORE_CTX_init(ctx, store, leaf, chain) != 1)
		goto out;
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	param = X509_STORE_CTX_get0_param(ctx);
	/* The pinned certificate is the anchor even if it is not a root. */
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	if (inet_pton(AF_INET, pin->name, &ip) == 1 ||
	    inet_pton(AF_INET6, pin->name, &ip) == 1) {
		if (X509_VERIFY_PARAM_set1_ip_asc(param, pin->name) != 1)
			goto out;
	} else if (X509_VERIFY_PARAM_set1_host(param, pin->name, 0) != 1) {
		goto out;
	}
	if (X509_verify_cert(ctx) == 1)
		why = NULL;
	else
		why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	return why;
}

static int pin_verify(void *user_data,
		      grpc_tls_custom_verification_check_request *request,
		      grpc_tls_on_custom_verification_check_done_cb callback,
		      void *callback_arg, grpc_status_code *sync_status,
		      char **sync_error_details)
{
	const struct pin *pin = user_data;
	const char *why = pin_check(pin, request->peer_info.peer_cert,
				    request->peer_info.peer_cert_full_chain);

	(void)callback;
	(void)callback_arg;
	if (why == NULL) {
		*sync_status = GRPC_STATUS_OK;
	} else {
		*sync_status = GRPC_STATUS_UNAUTHENTICATED;
		*sync_error_details = gpr_strdup(why);
	}
	/* Verified synchronously. */
	return 1;
}

static void pin_cancel(void *user_data,
		       grpc_tls_custom_verification_check_request *request)
{
	/* Nothing pending: verification never outlives pin_verify. */
	(void)user_data;
	(void)request;
}

static void pin_destruct(void *user_data)
{
	free(user_data);
}

/*
 * The name the hub's certificate must carry: server_name, else the host of
 * "host:port" / "[v6]:port" / "dns:///host:port".
 */
static int pin_name(const char *target, const char *server_name, char *out)
{
	const char *h = target, *end;
	size_t n;

	if (server_name != NULL) {
		h = server_name;
		end = h + strlen(h);
	} else {
		if (strncmp(h, "dns:///", 7) == 0)
			h += 7;
		if (*h == '[') {
			h++;
			end = strchr(h, ']');
		} else {
			end = strrchr(h, ':');
		}
		if (end == NULL)
			end = h + strlen(h);
	}
	n = (size_t)(end - h);
	if (n == 0 || n >= PIN_NAME_MAX)
		return -EINVAL;
	memcpy(out, h, n);
	out[n] = '\0';
	return 0;
}

static grpc_channel_credentials *pinned_creds(const char *target,
					      const struct bx_rpc_client_creds *c,
					      char *err, size_t errlen)
{
	grpc_tls_credentials_options *opts;
	grpc_tls_certificate_verifier *v;
	struct pin *pin = calloc(1, sizeof(*pin));

	if (pin == NULL) {
		rpc_err(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	if (pin_name(target, c->server_name, pin->name) != 0) {
		rpc_err(err, errlen, "no server name to verify for target %s",
			target);
		free(pin);
		errno = EINVAL;
		return NULL;
	}
	memcpy(pin->sha256, c->ca_sha256, BX_RPC_SHA256_LEN);
	pin->ext.user_data = pin;
	pin->ext.verify = pin_verify;
	pin->ext.cancel = pin_cancel;
	pin->ext.destruct = pin_destruct;

	opts = grpc_tls_credentials_options_create();
	/* Nothing to verify against but the pin: pin_check does it all. */
	grpc_tls_credentials_options_set_verify_server_cert(opts, 0);
	grpc_tls_credentials_options_set_check_call_host(opts, 0);
	v = grpc_tls_certificate_verifier_external_create(&pin->ext);
	grpc_tls_credentials_options_set_certificate_verifier(opts, v);
	grpc_tls_certificate_verifier_release(v);
	return grpc_tls_credentials_create(opts);
}

static grpc_channel_credentials *tls_creds(const struct bx_rpc_client_creds *c,
					   char *err, size_t errlen)
{
	grpc_ssl_pem_key_cert_pair pair;
	int rc;

	if (c->ca_pem == NULL || rpc_pem_cert_count(c->ca_pem) == 0) {
		rpc_err(err, errlen, "client ca_pem: no PEM certificate found");
		errno = EINVAL;
		return NULL;
	}
	if ((c->cert_pem == NULL) != (c->key_pem == NULL)) {
		rpc_err(err, errlen,
			"client cert_pem and key_pem go together");
		errno = EINVAL;
		return NULL;
	}
	if (c->cert_pem == NULL)
		return grpc_ssl_credentials_create(c->ca_pem, NULL, NULL, NULL);
	rc = rpc_pem_check_pair(c->cert_pem, c->key_pem, err, errlen);
	if (rc != 0) {
		errno = -rc;
		return NULL;
	}
	pair.private_key = c->key_pem;
	pair.cert_chain = c->cert_pem;
	return grpc_ssl_credentials_create(c->ca_pem, &pair, NULL, NULL);
}

struct bx_rpc_channel *bx_rpc_channel_create(const char *target,
					     const struct bx_rpc_client_creds *creds,
					     char *err, size_t errlen)
{
	grpc_arg args[] = {
		{GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
		 {.integer = BX_RPC_MAX_MESSAGE}},
		{GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS,
		 {.integer = BX_RPC_KEEPALIVE_MS}},
		{GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
		 {.integer = BX_RPC_KEEPALIVE_TIMEOUT_MS}},
		{GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_RETRIES, {.integer = 0}},
		/* A long quiet stream is still worth pinging. */
		{GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA,
		 {.integer = 0}},
		/* gRPC takes a copy; it never writes through the pointer. */
		{GRPC_ARG_STRING, GRPC_SSL_TARGET_NAME_OVERRIDE_ARG,
		 {.string = (char *)(creds ? creds->server_name : NULL)}},
	};
	grpc_channel_args cargs = {BX_ARRAY_SIZE(args), args};
	grpc_channel_credentials *gc;
	struct bx_rpc_channel *ch;

	if (target == NULL || creds == NULL ||
	    (creds->kind != BX_RPC_CREDS_TLS &&
	     creds->kind != BX_RPC_CREDS_PINNED_CA &&
	     creds->kind != BX_RPC_CREDS_LOCAL)) {
		rpc_err(err, errlen, "channel: target and credentials required");
		errno = EINVAL;
		return NULL;
	}
	if (creds->kind == BX_RPC_CREDS_LOCAL && !bx_rpc_addr_is_local(target)) {
		rpc_err(err, errlen,
			"channel %s: without TLS only unix:PATH, 127.x.y.z:PORT or [::1]:PORT",
			target);
		errno = EINVAL;
		return NULL;
	}
	if (creds->server_name == NULL)
		cargs.num_args--;
	ch = calloc(1, sizeof(*ch));
	if (ch == NULL) {
		rpc_err(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	grpc_init();
	if (creds->kind == BX_RPC_CREDS_TLS)
		gc = tls_creds(creds, err, errlen);
	else if (creds->kind == BX_RPC_CREDS_PINNED_CA)
		gc = pinned_creds(target, creds, err, errlen);
	else
		gc = grpc_insecure_credentials_create();
	if (gc == NULL) {
		int e = errno;

		free(ch);
		grpc_shutdown();
		errno = e;
		return NULL;
	}
	ch->ch = grpc_channel_create(target, gc, &cargs);
	grpc_channel_credentials_release(gc);
	return ch;
}

void bx_rpc_channel_destroy(struct bx_rpc_channel *ch)
{
	if (ch == NULL)
		return;
	grpc_channel_destroy(ch->ch);
	free(ch);
	grpc_shutdown();
}

/* ------------------------------------------------------------------ */
/* Unary                                                              */
/* ------------------------------------------------------------------ */

/* Shuts a completion queue down, drains it and frees it. */
static void cq_destroy(grpc_completion_queue *cq)
{
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC),
					  NULL)
		       .type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
}

static grpc_call *new_call(struct bx_rpc_channel *ch, grpc_completion_queue *cq,
			   const char *method, gpr_timespec deadline)
{
	grpc_slice m = grpc_slice_from_copied_string(method);
	grpc_call *call = grpc_channel_create_call(ch->ch, NULL,
						   GRPC_PROPAGATE_DEFAULTS, cq,
						   m, NULL, deadline, NULL);

	grpc_slice_unref(m);
	return call;
}

int bx_rpc_unary(struct bx_rpc_channel *ch, const char *method,
		 const void *req, size_t len, uint32_t timeout_ms,
		 struct bx_rpc_result *out)
{
	grpc_metadata_array md_in, md_trail;
	grpc_byte_buffer *send_bb, *recv_bb = NULL;
	grpc_status_code status = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	struct bx_rpc_result r = {0};
	grpc_completion_queue *cq;
	grpc_call *call;
	grpc_event ev;
	grpc_op ops[6];
	grpc_slice body;
	int rc = 0;

	if (out == NULL)
		return -EINVAL;
	/* Always safe to clear, whatever happens below. */
	*out = (struct bx_rpc_result){.code = BX_RPC_UNKNOWN};
	if (ch == NULL || method == NULL || timeout_ms == 0 ||
	    (req == NULL && len > 0))
		return -EINVAL;
	send_bb = rpc_bb_from(req, len);
	if (send_bb == NULL)
		return -ENOMEM;
	/* One event on a queue of its own: next is as good as pluck. */
	cq = grpc_completion_queue_create_for_next(NULL);
	call = new_call(ch, cq, method, rpc_deadline_ms(timeout_ms));
	grpc_metadata_array_init(&md_in);
	grpc_metadata_array_init(&md_trail);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send_bb;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &md_in;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &recv_bb;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &md_trail;
	ops[5].data.recv_status_on_client.status = &status;
	ops[5].data.recv_status_on_client.status_details = &details;
	BX_ASSERT(grpc_call_start_batch(call, ops, BX_ARRAY_SIZE(ops), cq,
					NULL) == GRPC_CALL_OK);
	/* The call's deadline bounds the wait. */
	ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC),
					NULL);
	BX_ASSERT(ev.type == GRPC_OP_COMPLETE);

	r.code = (enum bx_rpc_code)status;
	r.message = rpc_slice_strdup(details);
	if (r.message == NULL)
		rc = -ENOMEM;
	if (rc == 0 && status == GRPC_STATUS_OK && recv_bb != NULL) {
		body = rpc_bb_slice(recv_bb);
		r.len = GRPC_SLICE_LENGTH(body);
		r.data = malloc(r.len ? r.len : 1);
		if (r.data == NULL)
			rc = -ENOMEM;
		else
			memcpy(r.data, GRPC_SLICE_START_PTR(body), r.len);
		grpc_slice_unref(body);
	} else if (rc == 0 && status == GRPC_STATUS_OK) {
		/* OK without a message breaks the unary contract. */
		r.code = BX_RPC_INTERNAL;
	}

	if (recv_bb != NULL)
		grpc_byte_buffer_destroy(recv_bb);
	grpc_byte_buffer_destroy(send_bb);
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&md_in);
	grpc_metadata_array_destroy(&md_trail);
	grpc_call_unref(call);
	cq_destroy(cq);
	if (rc != 0) {
		bx_rpc_result_clear(&r);
		return rc;
	}
	*out = r;
	return bx_rpc_code_to_errno(r.code);
}

void bx_rpc_result_clear(struct bx_rpc_result *r)
{
	if (r == NULL)
		return;
	free(r->data);
	free(r->message);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------------ */
/* Streams                                                            */
/* ------------------------------------------------------------------ */

/* Tags on a call's own queue only need to tell the three batches apart. */
enum { CT_SEND = 1, CT_RECV, CT_STATUS };
#define CT(kind) ((void *)(uintptr_t)(kind))

struct cmsg {
	struct cmsg *next;
	grpc_byte_buffer *bb;
};

struct bx_rpc_call {
	grpc_call *call;
	grpc_completion_queue *cq;
	bool bidi;
	unsigned inflight;

	grpc_metadata_array md_in;
	bool md_requested;

	/*
	 * Receiving: one message at a time. gRPC may fill recv_bb before its
	 * completion is dequeued; only the completion moves it to ready.
	 */
	grpc_byte_buffer *recv_bb;
	grpc_byte_buffer *ready;
	bool recv_busy;
	bool recv_eof; /* no more messages will come */

	/* Sending: one batch in flight, the rest queued. */
	grpc_byte_buffer *send_bb;
	bool send_busy;
	struct cmsg *head, *tail;
	size_t queued;
	bool close_wanted;
	bool close_sent;

	/* Status, valid once ended. */
	bool ended;
	grpc_metadata_array md_trail;
	grpc_status_code status;
	grpc_slice details;
	char *status_msg;
};

static void call_start(struct bx_rpc_call *c, grpc_op *ops, size_t n,
		       int kind)
{
	c->inflight++;
	BX_ASSERT(grpc_call_start_batch(c->call, ops, n, CT(kind), NULL) ==
		  GRPC_CALL_OK);
}

static void call_start_recv(struct bx_rpc_call *c)
{
	grpc_op ops[2];
	size_t n = 0;

	if (c->recv_busy || c->recv_eof || c->ready != NULL)
		return;
	memset(ops, 0, sizeof(ops));
	if (!c->md_requested) {
		ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
		ops[n++].data.recv_initial_metadata.recv_initial_metadata =
			&c->md_in;
		c->md_requested = true;
	}
	ops[n].op = GRPC_OP_RECV_MESSAGE;
	ops[n++].data.recv_message.recv_message = &c->recv_bb;
	c->recv_busy = true;
	call_start(c, ops, n, CT_RECV);
}

/* Hands gRPC the next queued message, or the half-close once none is left. */
static void call_pump_send(struct bx_rpc_call *c)
{
	grpc_op op;
	struct cmsg *q = c->head;

	if (c->send_busy || c->ended)
		return;
	memset(&op, 0, sizeof(op));
	if (q != NULL) {
		c->head = q->next;
		if (c->head == NULL)
			c->tail = NULL;
		c->queued--;
		c->send_bb = q->bb;
		free(q);
		op.op = GRPC_OP_SEND_MESSAGE;
		op.data.send_message.send_message = c->send_bb;
	} else if (c->close_wanted && !c->close_sent) {
		c->close_sent = true;
		op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	} else {
		return;
	}
	c->send_busy = true;
	call_start(c, &op, 1, CT_SEND);
}

static void call_handle(struct bx_rpc_call *c, grpc_event ev)
{
	BX_ASSERT(ev.type == GRPC_OP_COMPLETE);
	c->inflight--;
	switch ((uintptr_t)ev.tag) {
	case CT_SEND:
		c->send_busy = false;
		if (c->send_bb != NULL)
			grpc_byte_buffer_destroy(c->send_bb);
		c->send_bb = NULL;
		call_pump_send(c);
		break;
	case CT_RECV:
		c->recv_busy = false;
		c->ready = c->recv_bb;
		c->recv_bb = NULL;
		if (c->ready == NULL)
			c->recv_eof = true;
		break;
	case CT_STATUS:
		c->ended = true;
		c->status_msg = rpc_slice_strdup(c->details);
		break;
	default:
		BX_ASSERT(false);
	}
}

/* Processes whatever is ready without waiting. */
static void call_poll(struct bx_rpc_call *c)
{
	grpc_event ev;

	while ((ev = grpc_completion_queue_next(c->cq,
						gpr_inf_past(GPR_CLOCK_MONOTONIC),
						NULL))
		       .type == GRPC_OP_COMPLETE)
		call_handle(c, ev);
}

static int call_open(struct bx_rpc_channel *ch, const char *method,
		     const void *req, size_t len, bool bidi,
		     struct bx_rpc_call **out)
{
	grpc_byte_buffer *bb = NULL;
	struct bx_rpc_call *c;
	grpc_op ops[3];
	size_t n = 0;

	if (ch == NULL || method == NULL || out == NULL ||
	    (req == NULL && len > 0))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	if (!bidi) {
		bb = rpc_bb_from(req, len);
		if (bb == NULL) {
			free(c);
			return -ENOMEM;
		}
	}
	c->bidi = bidi;
	c->details = grpc_empty_slice();
	grpc_metadata_array_init(&c->md_in);
	grpc_metadata_array_init(&c->md_trail);
	c->cq = grpc_completion_queue_create_for_next(NULL);
	c->call = new_call(ch, c->cq, method,
			   gpr_inf_future(GPR_CLOCK_MONOTONIC));

	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[0].data.recv_status_on_client.trailing_metadata = &c->md_trail;
	ops[0].data.recv_status_on_client.status = &c->status;
	ops[0].data.recv_status_on_client.status_details = &c->details;
	call_start(c, ops, 1, CT_STATUS);

	memset(ops, 0, sizeof(ops));
	ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (!bidi) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = bb;
		ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
		c->send_bb = bb;
		c->close_wanted = c->close_sent = true;
	}
	c->send_busy = true;
	call_start(c, ops, n, CT_SEND);
	/* Read ahead: the first message may arrive before next() is called. */
	call_start_recv(c);
	*out = c;
	return 0;
}

int bx_rpc_call_open_stream(struct bx_rpc_channel *ch, const char *method,
			    const void *req, size_t len,
			    struct bx_rpc_call **out)
{
	return call_open(ch, method, req, len, false, out);
}

int bx_rpc_call_open_bidi(struct bx_rpc_channel *ch, const char *method,
			  struct bx_rpc_call **out)
{
	return call_open(ch, method, NULL, 0, true, out);
}

int bx_rpc_call_next(struct bx_rpc_call *c, int timeout_ms, uint8_t **msg,
		     size_t *len)
{
	gpr_timespec deadline;
	grpc_slice body;
	grpc_event ev;
	uint8_t *copy;

	if (timeout_ms < 0)
		deadline = gpr_inf_future(GPR_CLOCK_MONOTONIC);
	else if (timeout_ms == 0)
		deadline = gpr_inf_past(GPR_CLOCK_MONOTONIC);
	else
		deadline = rpc_deadline_ms(timeout_ms);
	for (;;) {
		if (c->ready != NULL) {
			body = rpc_bb_slice(c->ready);
			copy = malloc(GRPC_SLICE_LENGTH(body) ?
					      GRPC_SLICE_LENGTH(body) : 1);
			if (copy == NULL) {
				grpc_slice_unref(body);
				return -ENOMEM;
			}
			memcpy(copy, GRPC_SLICE_START_PTR(body),
			       GRPC_SLICE_LENGTH(body));
			*msg = copy;
			*len = GRPC_SLICE_LENGTH(body);
			grpc_slice_unref(body);
			grpc_byte_buffer_destroy(c->ready);
			c->ready = NULL;
			call_start_recv(c);
			return 0;
		}
		if (c->recv_eof && c->ended)
			return -EPIPE;
		call_start_recv(c);
		ev = grpc_completion_queue_next(c->cq, deadline, NULL);
		if (ev.type == GRPC_QUEUE_TIMEOUT)
			return -EAGAIN;
		call_handle(c, ev);
	}
}

int bx_rpc_call_send(struct bx_rpc_call *c, const void *msg, size_t len)
{
	struct cmsg *q;

	if (!c->bidi || (msg == NULL && len > 0))
		return -EINVAL;
	if (len > BX_RPC_MAX_MESSAGE)
		return -EMSGSIZE;
	call_poll(c);
	if (c->ended || c->close_wanted)
		return -EPIPE;
	if (c->queued >= BX_RPC_CALL_SEND_QUEUE_MAX)
		return -ENOBUFS;
	q = malloc(sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	q->next = NULL;
	q->bb = rpc_bb_from(msg, len);
	if (q->bb == NULL) {
		free(q);
		return -ENOMEM;
	}
	if (c->tail != NULL)
		c->tail->next = q;
	else
		c->head = q;
	c->tail = q;
	c->queued++;
	call_pump_send(c);
	return 0;
}

int bx_rpc_call_close_send(struct bx_rpc_call *c)
{
	if (!c->bidi)
		return -EINVAL;
	call_poll(c);
	if (c->ended || c->close_wanted)
		return -EPIPE;
	c->close_wanted = true;
	call_pump_send(c);
	return 0;
}

int bx_rpc_call_status(const struct bx_rpc_call *c, enum bx_rpc_code *code,
		       const char **msg)
{
	if (!c->ended)
		return -EAGAIN;
	if (code != NULL)
		*code = (enum bx_rpc_code)c->status;
	if (msg != NULL)
		*msg = c->status_msg ? c->status_msg : "";
	return 0;
}

void bx_rpc_call_cancel(struct bx_rpc_call *c)
{
	grpc_call_cancel(c->call, NULL);
}

void bx_rpc_call_free(struct bx_rpc_call *c)
{
	if (c == NULL)
		return;
	while (c->head != NULL) {
		struct cmsg *q = c->head;

		c->head = q->next;
		grpc_byte_buffer_destroy(q->bb);
		free(q);
	}
	c->tail = NULL;
	c->queued = 0;
	if (!c->ended)
		grpc_call_cancel(c->call, NULL);
	/* Every batch must complete before the call and queue can go. */
	while (c->inflight > 0)
		call_handle(c, grpc_completion_queue_next(
				       c->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC),
				       NULL));
	grpc_call_unref(c->call);
	cq_destroy(c->cq);
	if (c->ready != NULL)
		grpc_byte_buffer_destroy(c->ready);
	if (c->send_bb != NULL)
		grpc_byte_buffer_destroy(c->send_bb);
	grpc_slice_unref(c->details);
	grpc_metadata_array_destroy(&c->md_in);
	grpc_metadata_array_destroy(&c->md_trail);
	free(c->status_msg);
	free(c);
}
