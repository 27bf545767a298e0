/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suite "rpc": real gRPC over 127.0.0.1 on ephemeral ports, with a PKI made
 * here in memory (EC P-256): our CA, the hub's certificate for
 * "bauxite-hub", node certificates, and a rogue CA that even copies our CA's
 * name. Covers unary calls (echo with the caller's identity, handler
 * statuses, deadlines, an unreachable server, oversized requests),
 * anonymous and authenticated methods, foreign client certificates, the
 * pinned-CA join credentials (right pin, wrong pin, a forged leaf, another
 * node posing as the hub), server streams (1000 messages from another
 * thread, client cancel, slow-client overflow, a full queue refusing a
 * try_send without ending the stream, refusal), bidi echo, the hash of the
 * caller's certificate, and stopping a server with streams open; then the
 * local servers without TLS: which addresses count as local, a unix socket
 * (owner-only mode, anonymous callers only, a live socket kept, a stale one
 * replaced, a file kept, the socket removed at stop), loopback TCP, and
 * routable addresses refused on both sides. No EAL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "bx_common.h"
#include "bx_rpc.h"

#define ERR_LEN 256
/* How long a test waits for something that should take milliseconds. */
#define WAIT_MS 5000
#define MAX_STREAMS 4
#define STREAM_MSGS 1000

#define M_ECHO "/bauxite.test.Echo/Echo"
#define M_ANON "/bauxite.test.Echo/Anon"
#define M_NOTFOUND "/bauxite.test.Echo/NotFound"
#define M_SLOW "/bauxite.test.Echo/Slow"
#define M_WATCH "/bauxite.test.Echo/Watch"
#define M_DENY "/bauxite.test.Echo/Deny"
#define M_CHAT "/bauxite.test.Echo/Chat"

/* ---- an in-memory PKI ---------------------------------------------------- */

struct kc {
	EVP_PKEY *key;
	X509 *cert;
	char *key_pem;
	char *cert_pem;
};

struct pki {
	struct kc ca;       /* "Bauxite CA" */
	struct kc rogue_ca; /* also "Bauxite CA", another key */
	struct kc hub;      /* DNS:bauxite-hub, from ca */
	struct kc edge_a;   /* DNS:edge-a, from ca */
	struct kc multi;    /* URI first, then DNS:edge-b, DNS:edge-c */
	struct kc foreign;  /* DNS:edge-a, from rogue_ca */
	struct kc rogue_hub; /* DNS:bauxite-hub, from rogue_ca */
	char *hub_chain;       /* hub + ca */
	char *rogue_hub_chain; /* rogue_hub + ca: our CA, a leaf it never signed */
	char *node_as_hub_chain; /* edge_a + ca */
	uint8_t ca_sha256[BX_RPC_SHA256_LEN];
};

static struct pki pki;

static char *bio_string(BIO *bio)
{
	char *data, *s;
	long n = BIO_get_mem_data(bio, &data);

	assert_true(n > 0);
	s = strndup(data, (size_t)n);
	assert_non_null(s);
	BIO_free(bio);
	return s;
}

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* A fresh key and a certificate for it, self-signed when @issuer is NULL. */
static void make_kc(struct kc *out, const char *cn, const char *san,
		    const struct kc *issuer)
{
	static long serial = 1;
	X509V3_CTX ctx;
	X509_NAME *name;
	X509 *x;
	BIO *bio;

	out->key = EVP_EC_gen("P-256");
	assert_non_null(out->key);
	x = X509_new();
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	assert_int_equal(X509_set_pubkey(x, out->key), 1);
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						    (const unsigned char *)cn,
						    -1, -1, 0),
			 1);
	assert_int_equal(X509_set_issuer_name(x, issuer ?
						  X509_get_subject_name(issuer->cert) :
						  name),
			 1);
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer ? issuer->cert : x, x, NULL, NULL, 0);
	if (issuer == NULL) {
		add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature");
		add_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
		add_ext(x, &ctx, NID_subject_alt_name, san);
	}
	assert_true(X509_sign(x, issuer ? issuer->key : out->key,
			      EVP_sha256()) > 0);
	out->cert = x;

	bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PrivateKey(bio, out->key, NULL, NULL, 0,
						  NULL, NULL),
			 1);
	out->key_pem = bio_string(bio);
	bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_X509(bio, x), 1);
	out->cert_pem = bio_string(bio);
}

static void free_kc(struct kc *k)
{
	EVP_PKEY_free(k->key);
	X509_free(k->cert);
	free(k->key_pem);
	free(k->cert_pem);
}

static char *concat(const char *a, const char *b)
{
	char *s = malloc(strlen(a) + strlen(b) + 1);

	assert_non_null(s);
	strcpy(s, a);
	strcat(s, b);
	return s;
}

static int group_setup(void **state)
{
	unsigned int n;

	(void)state;
	make_kc(&pki.ca, "Bauxite CA", NULL, NULL);
	make_kc(&pki.rogue_ca, "Bauxite CA", NULL, NULL);
	make_kc(&pki.hub, "bauxite-hub", "DNS:bauxite-hub", &pki.ca);
	make_kc(&pki.edge_a, "edge-a", "DNS:edge-a", &pki.ca);
	make_kc(&pki.multi, "edge-b",
		"URI:spiffe://bauxite/edge-b,DNS:edge-b,DNS:edge-c", &pki.ca);
	make_kc(&pki.foreign, "edge-a", "DNS:edge-a", &pki.rogue_ca);
	make_kc(&pki.rogue_hub, "bauxite-hub", "DNS:bauxite-hub",
		&pki.rogue_ca);
	pki.hub_chain = concat(pki.hub.cert_pem, pki.ca.cert_pem);
	pki.rogue_hub_chain = concat(pki.rogue_hub.cert_pem, pki.ca.cert_pem);
	pki.node_as_hub_chain = concat(pki.edge_a.cert_pem, pki.ca.cert_pem);
	assert_int_equal(X509_digest(pki.ca.cert, EVP_sha256(), pki.ca_sha256,
				     &n),
			 1);
	assert_int_equal(n, BX_RPC_SHA256_LEN);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	free_kc(&pki.ca);
	free_kc(&pki.rogue_ca);
	free_kc(&pki.hub);
	free_kc(&pki.edge_a);
	free_kc(&pki.multi);
	free_kc(&pki.foreign);
	free_kc(&pki.rogue_hub);
	free(pki.hub_chain);
	free(pki.rogue_hub_chain);
	free(pki.node_as_hub_chain);
	return 0;
}

/* ---- a server with one method of each shape ----------------------------- */

struct fx {
	struct bx_rpc_server *srv;
	char target[32];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Under lock, written by handlers on the server thread. */
	pthread_t cq_thread;
	int echo_calls;
	int anon_calls;
	int watch_opens;
	char identity[64]; /* last caller of Echo/Anon, "" when anonymous */
	struct bx_rpc_peer peer;
	struct bx_rpc_stream *streams[MAX_STREAMS]; /* Watch and Chat */
	int n_streams;
	int closed;
	enum bx_rpc_code closed_code[MAX_STREAMS];
	struct bx_rpc_stream *slow;
};

static struct fx *fx_now;

static void note_call(struct fx *f, struct bx_rpc_stream *s, int *counter)
{
	const struct bx_rpc_peer *p = bx_rpc_stream_peer(s);

	pthread_mutex_lock(&f->lock);
	f->cq_thread = pthread_self();
	(*counter)++;
	snprintf(f->identity, sizeof(f->identity), "%s",
		 p->identity ? p->identity : "");
	f->peer = *p;
	f->peer.identity = NULL;
	f->peer.address = NULL;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void h_echo(void *ctx, struct bx_rpc_stream *call, const uint8_t *req,
		   size_t len)
{
	note_call(ctx, call, &((struct fx *)ctx)->echo_calls);
	assert_int_equal(bx_rpc_unary_reply(call, BX_RPC_OK, NULL, req, len), 0);
}

static void h_anon(void *ctx, struct bx_rpc_stream *call, const uint8_t *req,
		   size_t len)
{
	const struct bx_rpc_peer *p = bx_rpc_stream_peer(call);
	char out[128];
	int n;

	note_call(ctx, call, &((struct fx *)ctx)->anon_calls);
	n = snprintf(out, sizeof(out), "%s:%.*s",
		     p->identity ? p->identity : "-", (int)len, (const char *)req);
	assert_int_equal(bx_rpc_unary_reply(call, BX_RPC_OK, NULL, out,
					    (size_t)n),
			 0);
}

static void h_notfound(void *ctx, struct bx_rpc_stream *call,
		       const uint8_t *req, size_t len)
{
	(void)ctx;
	(void)req;
	(void)len;
	assert_int_equal(bx_rpc_unary_reply(call, BX_RPC_NOT_FOUND,
					    "no such node", NULL, 0),
			 0);
}

/* Keeps the call unanswered: the test answers it (late) itself. */
static void h_slow(void *ctx, struct bx_rpc_stream *call, const uint8_t *req,
		   size_t len)
{
	struct fx *f = ctx;

	(void)req;
	(void)len;
	pthread_mutex_lock(&f->lock);
	f->slow = call;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static enum bx_rpc_code keep_stream(struct fx *f, struct bx_rpc_stream *s)
{
	pthread_mutex_lock(&f->lock);
	f->cq_thread = pthread_self();
	assert_true(f->n_streams < MAX_STREAMS);
	bx_rpc_stream_set_user(s, (void *)(intptr_t)f->n_streams);
	f->streams[f->n_streams++] = s;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return BX_RPC_OK;
}

static enum bx_rpc_code h_watch_open(void *ctx, struct bx_rpc_stream *s,
				     const uint8_t *req, size_t len,
				     const char **msg)
{
	struct fx *f = ctx;

	(void)msg;
	assert_int_equal(len, 5);
	assert_memory_equal(req, "watch", 5);
	pthread_mutex_lock(&f->lock);
	f->watch_opens++;
	pthread_mutex_unlock(&f->lock);
	return keep_stream(f, s);
}

static enum bx_rpc_code h_deny_open(void *ctx, struct bx_rpc_stream *s,
				    const uint8_t *req, size_t len,
				    const char **msg)
{
	(void)ctx;
	(void)s;
	(void)req;
	(void)len;
	*msg = "not your topology";
	return BX_RPC_PERMISSION_DENIED;
}

static enum bx_rpc_code h_chat_open(void *ctx, struct bx_rpc_stream *s,
				    const uint8_t *req, size_t len,
				    const char **msg)
{
	(void)msg;
	assert_null(req);
	assert_int_equal(len, 0);
	return keep_stream(ctx, s);
}

/* Echoes each message back; ends the stream when the client is done. */
static void h_chat_recv(void *ctx, struct bx_rpc_stream *s, const uint8_t *msg,
			size_t len)
{
	(void)ctx;
	if (msg == NULL)
		assert_int_equal(bx_rpc_stream_finish(s, BX_RPC_OK, "bye"), 0);
	else
		assert_int_equal(bx_rpc_stream_send(s, msg, len), 0);
}

static void h_closed(void *ctx, struct bx_rpc_stream *s, enum bx_rpc_code code)
{
	struct fx *f = ctx;
	int i = (int)(intptr_t)bx_rpc_stream_user(s);

	pthread_mutex_lock(&f->lock);
	assert_true(pthread_equal(f->cq_thread, pthread_self()));
	assert_ptr_equal(f->streams[i], s);
	f->closed_code[i] = code;
	f->closed++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

/* Waits until *@v reaches @want; false after WAIT_MS. */
static bool wait_int(struct fx *f, const int *v, int want)
{
	struct timespec until;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&f->lock);
	while (*v < want &&
	       pthread_cond_timedwait(&f->cond, &f->lock, &until) == 0)
		;
	ok = *v >= want;
	pthread_mutex_unlock(&f->lock);
	return ok;
}

static struct bx_rpc_server *server_new(const char *chain, const char *key,
					char *target, size_t tlen)
{
	const struct bx_rpc_server_conf conf = {
		.listen = "127.0.0.1:0",
		.ca_pem = pki.ca.cert_pem,
		.cert_chain_pem = chain,
		.key_pem = key,
	};
	char err[ERR_LEN] = "";
	struct bx_rpc_server *srv = bx_rpc_server_create(&conf, err, sizeof(err));

	if (srv == NULL)
		fail_msg("server: %s", err);
	assert_true(bx_rpc_server_port(srv) > 0);
	snprintf(target, tlen, "127.0.0.1:%u", bx_rpc_server_port(srv));
	return srv;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const struct bx_rpc_method methods[] = {
		{.path = M_ECHO, .kind = BX_RPC_UNARY, .unary = h_echo},
		{.path = M_ANON, .kind = BX_RPC_UNARY, .allow_anonymous = true,
		 .unary = h_anon},
		{.path = M_NOTFOUND, .kind = BX_RPC_UNARY, .unary = h_notfound},
		{.path = M_SLOW, .kind = BX_RPC_UNARY, .unary = h_slow},
		{.path = M_WATCH, .kind = BX_RPC_SERVER_STREAM,
		 .open = h_watch_open, .closed = h_closed},
		{.path = M_DENY, .kind = BX_RPC_SERVER_STREAM,
		 .open = h_deny_open, .closed = h_closed},
		{.path = M_CHAT, .kind = BX_RPC_BIDI_STREAM,
		 .open = h_chat_open, .recv = h_chat_recv, .closed = h_closed},
	};
	size_t i;

	assert_non_null(f);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->srv = server_new(pki.hub_chain, pki.hub.key_pem, f->target,
			    sizeof(f->target));
	for (i = 0; i < BX_ARRAY_SIZE(methods); i++) {
		struct bx_rpc_method m = methods[i];

		m.ctx = f;
		assert_int_equal(bx_rpc_server_register(f->srv, &m), 0);
	}
	assert_int_equal(bx_rpc_server_start(f->srv), 0);
	fx_now = f;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	int i;

	bx_rpc_server_stop(f->srv, 0);
	for (i = 0; i < f->n_streams; i++)
		bx_rpc_stream_release(f->streams[i]);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
	fx_now = NULL;
	return 0;
}

/* ---- client helpers ------------------------------------------------------ */

static struct bx_rpc_channel *tls_channel(const char *target,
					  const struct kc *client)
{
	const struct bx_rpc_client_creds creds = {
		.kind = BX_RPC_CREDS_TLS,
		.ca_pem = pki.ca.cert_pem,
		.cert_pem = client ? client->cert_pem : NULL,
		.key_pem = client ? client->key_pem : NULL,
		.server_name = "bauxite-hub",
	};
	char err[ERR_LEN] = "";
	struct bx_rpc_channel *ch = bx_rpc_channel_create(target, &creds, err,
							  sizeof(err));

	if (ch == NULL)
		fail_msg("channel: %s", err);
	return ch;
}

static struct bx_rpc_channel *pinned_channel(const char *target,
					     const uint8_t *pin,
					     const char *server_name)
{
	struct bx_rpc_client_creds creds = {
		.kind = BX_RPC_CREDS_PINNED_CA,
		.server_name = server_name,
	};
	char err[ERR_LEN] = "";
	struct bx_rpc_channel *ch;

	memcpy(creds.ca_sha256, pin, BX_RPC_SHA256_LEN);
	ch = bx_rpc_channel_create(target, &creds, err, sizeof(err));
	if (ch == NULL)
		fail_msg("channel: %s", err);
	return ch;
}

/* A unary call expected to succeed with @want as the answer. */
static void call_expect(struct bx_rpc_channel *ch, const char *method,
			const char *req, const char *want)
{
	struct bx_rpc_result r;
	int rc = bx_rpc_unary(ch, method, req, strlen(req), WAIT_MS, &r);

	if (rc != 0)
		fail_msg("%s: %s %s", method, bx_rpc_code_name(r.code),
			 r.message);
	assert_int_equal(r.code, BX_RPC_OK);
	assert_int_equal(r.len, strlen(want));
	assert_memory_equal(r.data, want, r.len);
	bx_rpc_result_clear(&r);
}

/*
 * A unary call expected to fail with @code and a status message containing
 * @why (NULL: any); returns its errno.
 */
static int call_fail(struct bx_rpc_channel *ch, const char *method,
		     enum bx_rpc_code code, const char *why)
{
	struct bx_rpc_result r;
	int rc = bx_rpc_unary(ch, method, "x", 1, WAIT_MS, &r);

	assert_int_equal(r.code, code);
	assert_null(r.data);
	assert_int_equal(rc, bx_rpc_code_to_errno(code));
	if (why != NULL && strstr(r.message, why) == NULL)
		fail_msg("status message \"%s\" lacks \"%s\"", r.message, why);
	bx_rpc_result_clear(&r);
	return rc;
}

/* Reads a stream to its end; returns the number of messages seen. */
static int drain_stream(struct bx_rpc_call *c, enum bx_rpc_code *code)
{
	uint8_t *msg;
	size_t len;
	int n = 0, rc;

	while ((rc = bx_rpc_call_next(c, WAIT_MS, &msg, &len)) == 0) {
		free(msg);
		n++;
	}
	assert_int_equal(rc, -EPIPE);
	assert_int_equal(bx_rpc_call_status(c, code, NULL), 0);
	return n;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- tables -------------------------------------------------------------- */

static void test_code_errno(void **state)
{
	static const struct {
		enum bx_rpc_code code;
		int err;
		const char *name;
	} t[] = {
		{BX_RPC_OK, 0, "OK"},
		{BX_RPC_CANCELLED, -ECANCELED, "CANCELLED"},
		{BX_RPC_UNKNOWN, -EPROTO, "UNKNOWN"},
		{BX_RPC_INVALID_ARGUMENT, -EINVAL, "INVALID_ARGUMENT"},
		{BX_RPC_DEADLINE_EXCEEDED, -ETIMEDOUT, "DEADLINE_EXCEEDED"},
		{BX_RPC_NOT_FOUND, -ENOENT, "NOT_FOUND"},
		{BX_RPC_ALREADY_EXISTS, -EEXIST, "ALREADY_EXISTS"},
		{BX_RPC_PERMISSION_DENIED, -EPERM, "PERMISSION_DENIED"},
		{BX_RPC_RESOURCE_EXHAUSTED, -ENOBUFS, "RESOURCE_EXHAUSTED"},
		{BX_RPC_FAILED_PRECONDITION, -EBUSY, "FAILED_PRECONDITION"},
		{BX_RPC_ABORTED, -ECONNABORTED, "ABORTED"},
		{BX_RPC_OUT_OF_RANGE, -ERANGE, "OUT_OF_RANGE"},
		{BX_RPC_UNIMPLEMENTED, -ENOSYS, "UNIMPLEMENTED"},
		{BX_RPC_INTERNAL, -EPROTO, "INTERNAL"},
		{BX_RPC_UNAVAILABLE, -ECONNREFUSED, "UNAVAILABLE"},
		{BX_RPC_DATA_LOSS, -EBADMSG, "DATA_LOSS"},
		{BX_RPC_UNAUTHENTICATED, -EACCES, "UNAUTHENTICATED"},
		{(enum bx_rpc_code)17, -EPROTO, "UNKNOWN_CODE"},
		{(enum bx_rpc_code)-1, -EPROTO, "UNKNOWN_CODE"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(t); i++) {
		assert_int_equal(bx_rpc_code_to_errno(t[i].code), t[i].err);
		assert_string_equal(bx_rpc_code_name(t[i].code), t[i].name);
	}
}

static void test_addr_parse(void **state)
{
	static const struct {
		const char *in;
		int rc;
		int family;
		const char *ip;
		uint16_t port;
	} t[] = {
		{"ipv4:10.0.0.1:5555", 0, AF_INET, "10.0.0.1", 5555},
		{"ipv4:127.0.0.1:0", 0, AF_INET, "127.0.0.1", 0},
		{"ipv4:255.255.255.255:65535", 0, AF_INET, "255.255.255.255",
		 65535},
		{"ipv6:[::1]:7700", 0, AF_INET6, "::1", 7700},
		{"ipv6:%5B2001:db8::2%5D:443", 0, AF_INET6, "2001:db8::2", 443},
		{"ipv6:%5b::ffff:10.0.0.1%5d:1", 0, AF_INET6, "::ffff:10.0.0.1",
		 1},
		{"ipv4:10.0.0.1:65536", -EINVAL, 0, NULL, 0},
		{"ipv4:10.0.0.1:", -EINVAL, 0, NULL, 0},
		{"ipv4:10.0.0.1:+5", -EINVAL, 0, NULL, 0},
		{"ipv4:10.0.0.256:5", -EINVAL, 0, NULL, 0},
		{"ipv4:10.0.0.1", -EINVAL, 0, NULL, 0},
		{"ipv4::5", -EINVAL, 0, NULL, 0},
		{"ipv6:::1:5", -EINVAL, 0, NULL, 0},
		{"ipv6:[::1]5", -EINVAL, 0, NULL, 0},
		{"ipv6:[::1", -EINVAL, 0, NULL, 0},
		{"ipv6:[10.0.0.1]:5", -EINVAL, 0, NULL, 0},
		{"unix:/run/bauxite.sock", -EINVAL, 0, NULL, 0},
		{"", -EINVAL, 0, NULL, 0},
		{NULL, -EINVAL, 0, NULL, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(t); i++) {
		struct bx_rpc_addr a = {.family = -7, .port = 9};
		uint8_t want[16];

		assert_int_equal(bx_rpc_addr_parse(t[i].in, &a), t[i].rc);
		if (t[i].rc != 0) {
			/* Untouched on failure. */
			assert_int_equal(a.family, -7);
			assert_int_equal(a.port, 9);
			continue;
		}
		assert_int_equal(a.family, t[i].family);
		assert_int_equal(a.port, t[i].port);
		assert_int_equal(inet_pton(t[i].family, t[i].ip, want), 1);
		assert_memory_equal(&a.ip, want,
				    t[i].family == AF_INET ? 4 : 16);
	}
}

/* ---- server lifecycle errors -------------------------------------------- */

static void test_server_conf_errors(void **state)
{
	struct bx_rpc_server_conf conf = {
		.listen = "127.0.0.1:0",
		.ca_pem = pki.ca.cert_pem,
		.cert_chain_pem = pki.hub_chain,
		.key_pem = pki.hub.key_pem,
	};
	const struct bx_rpc_method ok = {.path = M_ECHO, .kind = BX_RPC_UNARY,
					 .unary = h_echo};
	struct bx_rpc_method bad = ok;
	struct bx_rpc_server *srv, *second;
	char err[ERR_LEN];
	char listen[32];

	(void)state;
	/* Leaf alone: the pinned join would have no CA to find. */
	conf.cert_chain_pem = pki.hub.cert_pem;
	errno = 0;
	assert_null(bx_rpc_server_create(&conf, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "CA"));
	/* A key of another certificate. */
	conf.cert_chain_pem = pki.hub_chain;
	conf.key_pem = pki.edge_a.key_pem;
	errno = 0;
	assert_null(bx_rpc_server_create(&conf, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	conf.key_pem = pki.hub.key_pem;
	conf.ca_pem = "not a certificate";
	errno = 0;
	assert_null(bx_rpc_server_create(&conf, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	conf.ca_pem = pki.ca.cert_pem;

	/* A port already bound. */
	srv = bx_rpc_server_create(&conf, err, sizeof(err));
	assert_non_null(srv);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u",
		 bx_rpc_server_port(srv));
	conf.listen = listen;
	errno = 0;
	second = bx_rpc_server_create(&conf, err, sizeof(err));
	assert_null(second);
	assert_int_equal(errno, EADDRINUSE);

	/* Registration rules, then a stop without a start. */
	bad.unary = NULL;
	assert_int_equal(bx_rpc_server_register(srv, &bad), -EINVAL);
	bad = ok;
	bad.path = "Echo";
	assert_int_equal(bx_rpc_server_register(srv, &bad), -EINVAL);
	bad = ok;
	bad.kind = BX_RPC_BIDI_STREAM;
	bad.open = h_chat_open;
	assert_int_equal(bx_rpc_server_register(srv, &bad), -EINVAL);
	assert_int_equal(bx_rpc_server_register(srv, &ok), 0);
	assert_int_equal(bx_rpc_server_register(srv, &ok), -EEXIST);
	bx_rpc_server_stop(srv, 0);
	bx_rpc_server_stop(NULL, 0);
}

static void test_register_after_start(void **state)
{
	struct fx *f = *state;
	const struct bx_rpc_method m = {.path = "/x.Y/Z", .kind = BX_RPC_UNARY,
					.unary = h_echo};

	assert_int_equal(bx_rpc_server_register(f->srv, &m), -EBUSY);
	assert_int_equal(bx_rpc_server_start(f->srv), -EBUSY);
}

/* ---- unary ---------------------------------------------------------------- */

/* The SHA-256 of @k's certificate DER, as the server must report it. */
static void cert_sha256(const struct kc *k, uint8_t out[BX_RPC_SHA256_LEN])
{
	unsigned int n = 0;

	assert_int_equal(X509_digest(k->cert, EVP_sha256(), out, &n), 1);
	assert_int_equal(n, BX_RPC_SHA256_LEN);
}

static void test_unary_echo_identity(void **state)
{
	struct fx *f = *state;
	struct bx_rpc_channel *ch = tls_channel(f->target, &pki.edge_a);
	const uint8_t bin[] = {0, 1, 2, 0xff, 0, 'z'};
	uint8_t sha[BX_RPC_SHA256_LEN];
	struct bx_rpc_result r;
	struct in_addr lo;

	call_expect(ch, M_ECHO, "hello hub", "hello hub");
	assert_int_equal(f->echo_calls, 1);
	assert_string_equal(f->identity, "edge-a");
	/* The very certificate the client presented. */
	cert_sha256(&pki.edge_a, sha);
	assert_true(f->peer.has_cert);
	assert_memory_equal(f->peer.cert_sha256, sha, sizeof(sha));
	assert_true(f->peer.has_addr);
	assert_int_equal(f->peer.addr.family, AF_INET);
	inet_pton(AF_INET, "127.0.0.1", &lo);
	assert_int_equal(f->peer.addr.ip.v4.s_addr, lo.s_addr);
	assert_true(f->peer.addr.port > 0);
	assert_false(pthread_equal(f->cq_thread, pthread_self()));

	/* Binary payloads with NULs, and an empty message, come through. */
	assert_int_equal(bx_rpc_unary(ch, M_ECHO, bin, sizeof(bin), WAIT_MS, &r),
			 0);
	assert_int_equal(r.len, sizeof(bin));
	assert_memory_equal(r.data, bin, sizeof(bin));
	assert_string_equal(r.message, "");
	bx_rpc_result_clear(&r);
	assert_int_equal(bx_rpc_unary(ch, M_ECHO, NULL, 0, WAIT_MS, &r), 0);
	assert_int_equal(r.len, 0);
	assert_non_null(r.data);
	bx_rpc_result_clear(&r);
	assert_int_equal(f->echo_calls, 3);
	bx_rpc_channel_destroy(ch);
}

static void test_identity_first_dns_san(void **state)
{
	struct fx *f = *state;
	struct bx_rpc_channel *ch = tls_channel(f->target, &pki.multi);

	uint8_t sha[BX_RPC_SHA256_LEN], other[BX_RPC_SHA256_LEN];

	/* The URI SAN comes first in the certificate; the identity is DNS. */
	call_expect(ch, M_ECHO, "x", "x");
	assert_string_equal(f->identity, "edge-b");
	/* Another certificate, another hash. */
	cert_sha256(&pki.multi, sha);
	cert_sha256(&pki.edge_a, other);
	assert_true(f->peer.has_cert);
	assert_memory_equal(f->peer.cert_sha256, sha, sizeof(sha));
	assert_memory_not_equal(f->peer.cert_sha256, other, sizeof(other));
	bx_rpc_channel_destroy(ch);
}

static void test_unary_status(void **state)
{
	struct fx *f = *state;
	struct bx_rpc_channel *ch = tls_channel(f->target, &pki.edge_a);
	struct bx_rpc_result r;

	assert_int_equal(bx_rpc_unary(ch, M_NOTFOUND, "q", 1, WAIT_MS, &r),
			 -ENOENT);
	assert_int_equal(r.code, BX_RPC_NOT_FOUND);
	assert_string_equal(r.message, "no such node");
	assert_null(r.data);
	bx_rpc_result_clear(&r);
	assert_int_equal(call_fail(ch, "/bauxite.test.Echo/Nope",
				   BX_RPC_UNIMPLEMENTED, "unknown method"),
			 -ENOSYS);
	/* A call that cannot start still leaves a result safe to clear. */
	r.data = (uint8_t *)"stale";
	assert_int_equal(bx_rpc_unary(ch, M_ECHO, "q", 1, 0, &r), -EINVAL);
	assert_null(r.data);
	assert_null(r.message);
	assert_int_equal(r.code, BX_RPC_UNKNOWN);
	bx_rpc_result_clear(&r);
	assert_int_equal(bx_rpc_unary(ch, M_ECHO, NULL, 1, WAIT_MS, &r),
			 -EINVAL);
	bx_rpc_result_clear(&r);
	assert_int_equal(f->echo_calls, 0);
	/* The server serves on. */
	call_expect(ch, M_ECHO, "still", "still");
	bx_rpc_channel_destroy(ch);
}

static void test_unary_deadline(void **state)
{
	struct fx *f = *state;
	struct bx_rpc_channel *ch = tls_channel(f->target, &pki.edge_a);
	struct bx_rpc_result r;
	uint64_t t0, dt;
	struct bx_rpc_stream *slow;

	call_expect(ch, M_ECHO, "warm", "warm"); /* connection up */
	t0 = now_ms();
	assert_int_equal(bx_rpc_unary(ch, M_SLOW, "z", 1, 200, &r), -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_int_equal(r.code, BX_RPC_DEADLINE_EXCEEDED);
	assert_null(r.data);
	bx_rpc_result_clear(&r);
	assert_true(dt >= 190 && dt < 2000);

	/* The handler got it and answers too late: the answer is dropped. */
	pthread_mutex_lock(&f->lock);
	slow = f->slow;
	f->slow = NULL;
	pthread_mutex_unlock(&f->lock);
	assert_non_null(slow);
	usleep(300 * 1000);
	assert_int_equal(bx_rpc_unary_reply(slow, BX_RPC_OK, NULL, "late", 4),
			 -EPIPE);
	call_expect(ch, M_ECHO, "after", "after");
	bx_rpc_channel_destroy(ch);
}

static void test_unreachable(void **state)
{
	struct fx *f = *state;
	struct bx_rpc_channel *ch;
	struct bx_rpc_result r;
	char target[32];
	uint64_t t0;

	/* The fixture's port, once its server is gone, refuses connections. */
	snprintf(target, sizeof(target), "%s", f->target);
	bx_rpc_server_stop(f->srv, 0);
	f->srv = NULL;
	ch = tls_channel(target, &pki.edge_a);
	t0 = now_ms();
	assert_int_equal(bx_rpc_unary(ch, M_ECHO, "x", 1, 3000, &r),
			 -ECONNREFUSED);
	assert_int_equal(r.code, BX_RPC_UNAVAILABLE);
	bx_rpc_result_clear(&r);
	assert_true(now_ms() - t0 < 3000);
	bx_rpc_channel_destroy(ch);
}

static void test_oversized_request(void **state)
{
	struct fx *f = *state;
	struct bx_rpc_channel *ch = tls_channel(f->target, &pki.edge_a);
	size_t big = BX_RPC_MAX_MESSAGE + 1;
	uint8_t *buf = calloc(1, big);
	struct bx_rpc_result r;

	assert_non_null(buf);
	assert_int_equal(bx_rpc_unary(ch, M_ECHO, buf, big, WAIT_MS, &r),
			 -ENOBUFS);
	assert_int_equal(r.code, BX_RPC_RESOURCE_EXHAUSTED);
	bx_rpc_result_clear(&r);
	assert_int_equal(f->echo_calls, 0);
	/* Exactly the limit is fine, and the server keeps serving. */
	assert_int_equal(bx_rpc_unary(ch, M_ECHO, buf, big - 1 - 64, WAIT_MS,
				      &r),
			 0);
	assert_int_equal(r.len, big - 1 - 64);
	bx_rpc_result_clear(&r);
	call_expect(ch, M_ECHO, "next", "next");
	assert_int_equal(f->echo_calls, 2);
	free(buf);
	bx_rpc_channel_destroy(ch);
}

/* ---- authentication -------------------------------------------------------- */

static void test_anonymous(void **state)
{
	struct fx *f = *state;
	/* TLS that trusts the hub but presents no certificate. */
	struct bx_rpc_channel *ch = tls_channel(f->target, NULL);
	struct bx_rpc_call *c;
	enum bx_rpc_code code;

	call_expect(ch, M_ANON, "hi", "-:hi");
	assert_int_equal(f->anon_calls, 1);
	assert_string_equal(f->identity, "");
	assert_false(f->peer.has_cert);
	assert_int_equal(call_fail(ch, M_ECHO, BX_RPC_UNAUTHENTICATED,
				   "client certificate is required"),
			 -EACCES);
	assert_int_equal(call_fail(ch, M_NOTFOUND, BX_RPC_UNAUTHENTICATED,
				   NULL),
			 -EACCES);
	assert_int_equal(bx_rpc_call_open_stream(ch, M_WATCH, "watch", 5, &c), 0);
	assert_int_equal(drain_stream(c, &code), 0);
	assert_int_equal(code, BX_RPC_UNAUTHENTICATED);
	bx_rpc_call_free(c);
	/* No handler ran for them. */
	assert_int_equal(f->echo_calls, 0);
	assert_int_equal(f->watch_opens, 0);

	/* With a certificate the same anonymous method sees who calls. */
	bx_rpc_channel_destroy(ch);
	ch = tls_channel(f->target, &pki.edge_a);
	call_expect(ch, M_ANON, "hi", "edge-a:hi");
	assert_true(f->peer.has_cert);
	bx_rpc_channel_destroy(ch);
}

static void test_foreign_ca_refused(void **state)
{
	struct fx *f = *state;
	struct bx_rpc_channel *ch = tls_channel(f->target, &pki.foreign);

	/* The handshake fails: even the anonymous method is out of reach. */
	call_fail(ch, M_ECHO, BX_RPC_UNAVAILABLE, NULL);
	call_fail(ch, M_ANON, BX_RPC_UNAVAILABLE, NULL);
	assert_int_equal(f->echo_calls, 0);
	assert_int_equal(f->anon_calls, 0);
	bx_rpc_channel_destroy(ch);
}

static void test_pinned_ca(void **state)
{
	struct fx *f = *state;
	uint8_t wrong[BX_RPC_SHA256_LEN];
	struct bx_rpc_channel *ch;

	ch = pinned_channel(f->target, pki.ca_sha256, "bauxite-hub");
	call_expect(ch, M_ANON, "join", "-:join");
	call_fail(ch, M_ECHO, BX_RPC_UNAUTHENTICATED, NULL);
	bx_rpc_channel_destroy(ch);

	/* Our verifier's reason reaches the caller in the status message. */
	memcpy(wrong, pki.ca_sha256, sizeof(wrong));
	wrong[BX_RPC_SHA256_LEN - 1] ^= 1;
	ch = pinned_channel(f->target, wrong, "bauxite-hub");
	call_fail(ch, M_ANON, BX_RPC_UNAVAILABLE, "matches the CA pin");
	bx_rpc_channel_destroy(ch);

	/* Without a name the target's host, 127.0.0.1, is not the cert's. */
	ch = pinned_channel(f->target, pki.ca_sha256, NULL);
	call_fail(ch, M_ANON, BX_RPC_UNAVAILABLE, "IP address mismatch");
	bx_rpc_channel_destroy(ch);
	assert_int_equal(f->anon_calls, 1);
}

/*
 * A hub whose chain is @chain/@key: pinned join with our CA must fail, for
 * the reason @why.
 */
static void pinned_refuses(const char *chain, const char *key, const char *why)
{
	char target[32];
	struct bx_rpc_server *srv = server_new(chain, key, target,
					       sizeof(target));
	struct bx_rpc_method m = {.path = M_ANON, .kind = BX_RPC_UNARY,
				  .allow_anonymous = true, .unary = h_anon,
				  .ctx = fx_now};
	struct bx_rpc_channel *ch;

	assert_int_equal(bx_rpc_server_register(srv, &m), 0);
	assert_int_equal(bx_rpc_server_start(srv), 0);
	ch = pinned_channel(target, pki.ca_sha256, "bauxite-hub");
	call_fail(ch, M_ANON, BX_RPC_UNAVAILABLE, why);
	bx_rpc_channel_destroy(ch);
	bx_rpc_server_stop(srv, 0);
}

static void test_pinned_forged_leaf(void **state)
{
	struct fx *f = *state;

	/* Our CA's public certificate next to a leaf it never signed (the
	 * forger's CA even copies our CA's name). */
	pinned_refuses(pki.rogue_hub_chain, pki.rogue_hub.key_pem,
		       "certificate signature failure");
	/* A genuine node certificate is not the hub's. */
	pinned_refuses(pki.node_as_hub_chain, pki.edge_a.key_pem,
		       "hostname mismatch");
	assert_int_equal(f->anon_calls, 0);
}

/* ---- streams -------------------------------------------------------------- */

struct producer {
	struct bx_rpc_stream *s;
	pthread_t self;
	int sent;
};

/* Sends STREAM_MSGS numbered messages of varying size, then finishes. */
static void *produce(void *arg)
{
	struct producer *p = arg;
	uint8_t buf[300];
	int i;

	p->self = pthread_self();
	memset(buf, 0xab, sizeof(buf));
	for (i = 0; i < STREAM_MSGS; i++) {
		uint32_t be = htonl((uint32_t)i);

		memcpy(buf, &be, sizeof(be));
		if (bx_rpc_stream_send(p->s, buf, 4 + (size_t)i % 256) != 0)
			break;
		p->sent++;
	}
	bx_rpc_stream_finish(p->s, BX_RPC_OK, "all sent");
	bx_rpc_stream_release(p->s);
	return NULL;
}

static void test_stream_in_order(void **state)
{
	struct fx *f = *state;
	struct bx_rpc_channel *ch = tls_channel(f->target, &pki.edge_a);
	struct producer p = {0};
	struct bx_rpc_call *c;
	enum bx_rpc_code code;
	const char *msg;
	pthread_t th;
	uint8_t *m;
	size_t len;
	int i, rc;

	assert_int_equal(bx_rpc_call_open_stream(ch, M_WATCH, "watch", 5, &c), 0);
	assert_int_equal(bx_rpc_call_status(c, NULL, NULL), -EAGAIN);
	assert_true(wait_int(f, &f->n_streams, 1));
	p.s = f->streams[0];
	bx_rpc_stream_ref(p.s);
	assert_int_equal(pthread_create(&th, NULL, produce, &p), 0);
	for (i = 0; i < STREAM_MSGS; i++) {
		uint32_t be;

		rc = bx_rpc_call_next(c, WAIT_MS, &m, &len);
		assert_int_equal(rc, 0);
		assert_int_equal(len, 4 + (size_t)i % 256);
		memcpy(&be, m, sizeof(be));
		assert_int_equal(ntohl(be), (uint32_t)i);
		free(m);
	}
	assert_int_equal(bx_rpc_call_next(c, WAIT_MS, &m, &len), -EPIPE);
	assert_int_equal(bx_rpc_call_status(c, &code, &msg), 0);
	assert_int_equal(code, BX_RPC_OK);
	assert_string_equal(msg, "all sent");
	pthread_join(th, NULL);
	assert_int_equal(p.sent, STREAM_MSGS);
	assert_false(pthread_equal(p.self, f->cq_thread));
	assert_true(wait_int(f, &f->closed, 1));
	assert_int_equal(f->closed_code[0], BX_RPC_OK);
	/* Ended: nothing more goes out. */
	assert_int_equal(bx_rpc_stream_send(f->streams[0], "x", 1), -EPIPE);
	assert_int_equal(bx_rpc_stream_finish(f->streams[0], BX_RPC_OK, NULL),
			 -EPIPE);
	bx_rpc_call_free(c);
	bx_rpc_channel_destroy(ch);
}

static void test_stream_client_cancel(void **state)
{
	struct fx *f = *state;
	struct bx_rpc_channel *ch = tls_channel(f->target, &pki.edge_a);
	struct bx_rpc_call *c;
	enum bx_rpc_code code;
	uint8_t *m;
	size_t len;

	assert_int_equal(bx_rpc_call_open_stream(ch, M_WATCH, "watch", 5, &c), 0);
	assert_true(wait_int(f, &f->n_streams, 1));
	assert_int_equal(bx_rpc_stream_send(f->streams[0], "one", 3), 0);
	assert_int_equal(bx_rpc_call_next(c, WAIT_MS, &m, &len), 0);
	assert_int_equal(len, 3);
	free(m);
	/* Polling an idle stream does not block. */
	assert_int_equal(bx_rpc_call_next(c, 0, &m, &len), -EAGAIN);
	bx_rpc_call_cancel(c);
	assert_int_equal(bx_rpc_call_next(c, WAIT_MS, &m, &len), -EPIPE);
	assert_int_equal(bx_rpc_call_status(c, &code, NULL), 0);
	assert_int_equal(code, BX_RPC_CANCELLED);
	assert_true(wait_int(f, &f->closed, 1));
	assert_int_equal(f->closed_code[0], BX_RPC_CANCELLED);
	assert_int_equal(bx_rpc_stream_send(f->streams[0], "two", 3), -EPIPE);
	bx_rpc_call_free(c);

	/* Freeing a running call cancels it too. */
	assert_int_equal(bx_rpc_call_open_stream(ch, M_WATCH, "watch", 5, &c), 0);
	assert_true(wait_int(f, &f->n_streams, 2));
	bx_rpc_call_free(c);
	assert_true(wait_int(f, &f->closed, 2));
	assert_int_equal(f->closed_code[1], BX_RPC_CANCELLED);
	bx_rpc_channel_destroy(ch);
}

static void test_stream_refused(void **state)
{
	struct fx *f = *state;
	struct bx_rpc_channel *ch = tls_channel(f->target, &pki.edge_a);
	struct bx_rpc_call *c;
	enum bx_rpc_code code;
	const char *msg;

	assert_int_equal(bx_rpc_call_open_stream(ch, M_DENY, "q", 1, &c), 0);
	assert_int_equal(drain_stream(c, &code), 0);
	assert_int_equal(code, BX_RPC_PERMISSION_DENIED);
	assert_int_equal(bx_rpc_call_status(c, NULL, &msg), 0);
	assert_string_equal(msg, "not your topology");
	bx_rpc_call_free(c);
	/* A refused stream was never the application's: no closed. */
	assert_int_equal(f->closed, 0);
	bx_rpc_channel_destroy(ch);
}

static void test_stream_overflow(void **state)
{
	struct fx *f = *state;
	struct bx_rpc_channel *ch = tls_channel(f->target, &pki.edge_a);
	size_t chunk = 64 * 1024;
	uint8_t *buf = calloc(1, chunk);
	struct bx_rpc_stream *s;
	struct bx_rpc_call *c;
	enum bx_rpc_code code;
	size_t sent = 0;
	int rc;

	assert_non_null(buf);
	assert_int_equal(bx_rpc_call_open_stream(ch, M_WATCH, "watch", 5, &c), 0);
	assert_true(wait_int(f, &f->n_streams, 1));
	s = f->streams[0];
	/* The client never reads: flow control stops gRPC, our queue fills. */
	while ((rc = bx_rpc_stream_send(s, buf, chunk)) == 0)
		sent += chunk;
	assert_int_equal(rc, -ENOBUFS);
	assert_true(sent >= BX_RPC_STREAM_QUEUE_BYTES);
	/* Past our queue, gRPC's flow-control window (grown by its bandwidth
	 * probing, a few MiB here) is all that was in flight. */
	assert_true(sent <= BX_RPC_STREAM_QUEUE_BYTES + 16 * 1024 * 1024);
	assert_int_equal(bx_rpc_stream_send(s, buf, 1), -EPIPE);
	assert_true(wait_int(f, &f->closed, 1));
	assert_int_equal(f->closed_code[0], BX_RPC_RESOURCE_EXHAUSTED);
	/* The client sees whatever made it before, then the status. */
	(void)drain_stream(c, &code);
	assert_int_equal(code, BX_RPC_RESOURCE_EXHAUSTED);
	bx_rpc_call_free(c);
	free(buf);
	bx_rpc_channel_destroy(ch);
}

/* A full queue refuses a try_send but keeps the stream. */
static void test_stream_try_send(void **state)
{
	struct fx *f = *state;
	struct bx_rpc_channel *ch = tls_channel(f->target, &pki.edge_a);
	size_t chunk = 16 * 1024;
	uint8_t *buf = calloc(1, chunk);
	struct bx_rpc_stream *s;
	struct bx_rpc_call *c;
	enum bx_rpc_code code;
	uint32_t sent = 0, got = 0, be;
	uint8_t *m;
	size_t len;
	int rc;

	assert_non_null(buf);
	assert_int_equal(bx_rpc_call_open_stream(ch, M_WATCH, "watch", 5, &c), 0);
	assert_true(wait_int(f, &f->n_streams, 1));
	s = f->streams[0];
	/* The client does not read yet: the queue fills. */
	for (;;) {
		be = htonl(sent);
		memcpy(buf, &be, sizeof(be));
		rc = bx_rpc_stream_try_send(s, buf, chunk);
		if (rc != 0)
			break;
		sent++;
	}
	assert_int_equal(rc, -EAGAIN);
	assert_true((size_t)sent * chunk >= BX_RPC_STREAM_QUEUE_BYTES);
	/* Refused again, and still open: nothing was cancelled. */
	assert_int_equal(bx_rpc_stream_try_send(s, buf, chunk), -EAGAIN);
	assert_int_equal(f->closed, 0);

	/* Every message accepted arrives, in order; then room again. */
	while (got < sent) {
		assert_int_equal(bx_rpc_call_next(c, WAIT_MS, &m, &len), 0);
		assert_int_equal(len, chunk);
		memcpy(&be, m, sizeof(be));
		assert_int_equal(ntohl(be), got);
		free(m);
		got++;
	}
	assert_int_equal(bx_rpc_stream_try_send(s, "after", 5), 0);
	assert_int_equal(bx_rpc_call_next(c, WAIT_MS, &m, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(m, "after", 5);
	free(m);
	assert_int_equal(bx_rpc_stream_finish(s, BX_RPC_OK, NULL), 0);
	assert_int_equal(drain_stream(c, &code), 0);
	assert_int_equal(code, BX_RPC_OK);
	assert_true(wait_int(f, &f->closed, 1));
	assert_int_equal(f->closed_code[0], BX_RPC_OK);
	bx_rpc_call_free(c);
	free(buf);
	bx_rpc_channel_destroy(ch);
}

static void test_bidi_echo(void **state)
{
	struct fx *f = *state;
	struct bx_rpc_channel *ch = tls_channel(f->target, &pki.edge_a);
	static const char *const words[] = {"alpha", "", "gamma-gamma"};
	struct bx_rpc_call *c;
	enum bx_rpc_code code;
	const char *msg;
	uint8_t *m;
	size_t i, len;

	assert_int_equal(bx_rpc_call_open_bidi(ch, M_CHAT, &c), 0);
	/* Bidi only: a server stream takes no further messages. */
	for (i = 0; i < BX_ARRAY_SIZE(words); i++)
		assert_int_equal(bx_rpc_call_send(c, words[i], strlen(words[i])),
				 0);
	for (i = 0; i < BX_ARRAY_SIZE(words); i++) {
		assert_int_equal(bx_rpc_call_next(c, WAIT_MS, &m, &len), 0);
		assert_int_equal(len, strlen(words[i]));
		assert_memory_equal(m, words[i], len);
		free(m);
	}
	/* A round trip after the others. */
	assert_int_equal(bx_rpc_call_send(c, "ping", 4), 0);
	assert_int_equal(bx_rpc_call_next(c, WAIT_MS, &m, &len), 0);
	assert_memory_equal(m, "ping", 4);
	free(m);
	assert_int_equal(bx_rpc_call_close_send(c), 0);
	assert_int_equal(bx_rpc_call_send(c, "late", 4), -EPIPE);
	assert_int_equal(bx_rpc_call_next(c, WAIT_MS, &m, &len), -EPIPE);
	assert_int_equal(bx_rpc_call_status(c, &code, &msg), 0);
	assert_int_equal(code, BX_RPC_OK);
	assert_string_equal(msg, "bye");
	assert_true(wait_int(f, &f->closed, 1));
	assert_int_equal(f->closed_code[0], BX_RPC_OK);
	bx_rpc_call_free(c);

	/* A server stream takes no further messages. */
	assert_int_equal(bx_rpc_call_open_stream(ch, M_WATCH, "watch", 5, &c), 0);
	assert_int_equal(bx_rpc_call_send(c, "x", 1), -EINVAL);
	assert_int_equal(bx_rpc_call_close_send(c), -EINVAL);
	bx_rpc_call_free(c);
	bx_rpc_channel_destroy(ch);
}

static void test_stop_with_open_streams(void **state)
{
	struct fx *f = *state;
	struct bx_rpc_channel *ch = tls_channel(f->target, &pki.edge_a);
	struct bx_rpc_call *w, *b;
	enum bx_rpc_code code;
	uint64_t t0;
	uint8_t *m;
	size_t len;

	/* One after the other: streams[0] is the Watch, streams[1] the Chat. */
	assert_int_equal(bx_rpc_call_open_stream(ch, M_WATCH, "watch", 5, &w), 0);
	assert_true(wait_int(f, &f->n_streams, 1));
	assert_int_equal(bx_rpc_call_open_bidi(ch, M_CHAT, &b), 0);
	assert_true(wait_int(f, &f->n_streams, 2));
	assert_int_equal(bx_rpc_stream_send(f->streams[0], "u1", 2), 0);
	assert_int_equal(bx_rpc_call_next(w, WAIT_MS, &m, &len), 0);
	free(m);

	t0 = now_ms();
	bx_rpc_server_stop(f->srv, 100);
	f->srv = NULL;
	/* Closed ran for both before stop returned, on the server thread. */
	assert_int_equal(f->closed, 2);
	assert_int_equal(f->closed_code[0], BX_RPC_CANCELLED);
	assert_int_equal(f->closed_code[1], BX_RPC_CANCELLED);
	assert_true(now_ms() - t0 < 2000);
	/* The handles outlive the server. */
	assert_int_equal(bx_rpc_stream_send(f->streams[0], "u2", 2), -EPIPE);
	assert_int_equal(bx_rpc_stream_finish(f->streams[1], BX_RPC_OK, NULL),
			 -EPIPE);

	assert_int_equal(drain_stream(w, &code), 0);
	assert_true(code != BX_RPC_OK);
	assert_int_equal(drain_stream(b, &code), 0);
	assert_true(code != BX_RPC_OK);
	assert_int_equal(bx_rpc_call_send(b, "x", 1), -EPIPE);
	bx_rpc_call_free(w);
	bx_rpc_call_free(b);
	bx_rpc_channel_destroy(ch);
}

/* ---- local servers without TLS ------------------------------------------- */

static void test_addr_is_local(void **state)
{
	static const struct {
		const char *addr;
		bool local;
	} t[] = {
		{"unix:/run/bauxite/safety.sock", true},
		{"unix:///run/bauxite/safety.sock", true},
		{"unix:relative.sock", true},
		{"unix:", false},
		{"unix:/tmp/a%20b.sock", false},
		{"unix:/tmp/a.sock?x", false},
		{"unix://host/x.sock", false},
		{"unix-abstract:bauxite", false},
		{"127.0.0.1:7700", true},
		{"127.0.0.1:0", true},
		{"127.255.1.2:65535", true},
		{"[::1]:7700", true},
		{"::1:7700", false},       /* IPv6 only in brackets */
		{"128.0.0.1:7700", false},
		{"126.255.255.255:7700", false},
		{"0.0.0.0:7700", false},
		{"10.0.0.1:7700", false},
		{"[::]:7700", false},
		{"[::ffff:127.0.0.1]:7700", false},
		{"localhost:7700", false},
		{"127.0.0.1", false},
		{"127.0.0.1:", false},
		{"127.0.0.1:65536", false},
		{"127.0.0.1:77a", false},
		{"[::1]7700", false},
		{"ipv4:127.0.0.1:7700", false},
		{"dns:///127.0.0.1:7700", false},
		{"", false},
	};
	char longpath[200];
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(t); i++)
		if (bx_rpc_addr_is_local(t[i].addr) != t[i].local)
			fail_msg("%s: expected %s", t[i].addr,
				 t[i].local ? "local" : "not local");
	assert_false(bx_rpc_addr_is_local(NULL));
	/* A path longer than sun_path holds cannot be bound. */
	memset(longpath, 'a', sizeof(longpath) - 1);
	memcpy(longpath, "unix:/", 6);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_false(bx_rpc_addr_is_local(longpath));
}

/* A local server with the anonymous and the authenticated echo. */
static struct bx_rpc_server *local_server(struct fx *f, const char *listen)
{
	const struct bx_rpc_method methods[] = {
		{.path = M_ECHO, .kind = BX_RPC_UNARY, .unary = h_echo},
		{.path = M_ANON, .kind = BX_RPC_UNARY, .allow_anonymous = true,
		 .unary = h_anon},
	};
	char err[ERR_LEN] = "";
	struct bx_rpc_server *srv = bx_rpc_server_create_local(listen, err,
								sizeof(err));
	size_t i;

	if (srv == NULL)
		fail_msg("local server %s: %s", listen, err);
	for (i = 0; i < BX_ARRAY_SIZE(methods); i++) {
		struct bx_rpc_method m = methods[i];

		m.ctx = f;
		assert_int_equal(bx_rpc_server_register(srv, &m), 0);
	}
	assert_int_equal(bx_rpc_server_start(srv), 0);
	return srv;
}

static struct bx_rpc_channel *local_channel(const char *target)
{
	const struct bx_rpc_client_creds creds = {.kind = BX_RPC_CREDS_LOCAL};
	char err[ERR_LEN] = "";
	struct bx_rpc_channel *ch = bx_rpc_channel_create(target, &creds, err,
							  sizeof(err));

	if (ch == NULL)
		fail_msg("local channel %s: %s", target, err);
	return ch;
}

/* Anonymous calls work, the others are refused: nobody has an identity. */
static void local_calls(struct fx *f, const char *target)
{
	struct bx_rpc_channel *ch = local_channel(target);
	int anon = f->anon_calls;

	call_expect(ch, M_ANON, "hi", "-:hi");
	assert_int_equal(f->anon_calls, anon + 1);
	assert_false(f->peer.has_cert);
	(void)call_fail(ch, M_ECHO, BX_RPC_UNAUTHENTICATED, "certificate");
	assert_int_equal(f->echo_calls, 0);
	bx_rpc_channel_destroy(ch);
}

static void fx_local_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
}

static void fx_local_fini(struct fx *f)
{
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
}

static void test_local_unix(void **state)
{
	char dir[] = "/tmp/bx_rpc_XXXXXX";
	char path[128], addr[160], err[ERR_LEN];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct bx_rpc_server *srv, *second;
	struct stat st;
	struct fx f;
	FILE *file;
	int fd;

	(void)state;
	fx_local_init(&f);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/safety.sock", dir);
	snprintf(addr, sizeof(addr), "unix:%s", path);

	srv = local_server(&f, addr);
	assert_int_equal(bx_rpc_server_port(srv), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, BX_RPC_LOCAL_SOCKET_MODE);
	local_calls(&f, addr);
	/* A live socket is another server's: refused, left alone. */
	errno = 0;
	second = bx_rpc_server_create_local(addr, err, sizeof(err));
	assert_null(second);
	assert_int_equal(errno, EADDRINUSE);
	assert_non_null(strstr(err, path));
	local_calls(&f, addr); /* still served */
	bx_rpc_server_stop(srv, 0);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);

	/* A socket nobody accepts on (a crashed server's) is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(lstat(path, &st), 0);
	fx_local_fini(&f);
	fx_local_init(&f);
	/* The URI form names the same file. */
	snprintf(addr, sizeof(addr), "unix://%s", path);
	srv = local_server(&f, addr);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, BX_RPC_LOCAL_SOCKET_MODE);
	local_calls(&f, addr);
	bx_rpc_server_stop(srv, 0);

	/* Anything else at the path is kept. */
	file = fopen(path, "w");
	assert_non_null(file);
	fputs("not a socket", file);
	fclose(file);
	errno = 0;
	assert_null(bx_rpc_server_create_local(addr, err, sizeof(err)));
	assert_int_equal(errno, EEXIST);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	fx_local_fini(&f);
}

static void test_local_tcp(void **state)
{
	struct bx_rpc_server *srv;
	char target[32];
	struct fx f;

	(void)state;
	fx_local_init(&f);
	srv = local_server(&f, "127.0.0.1:0");
	assert_true(bx_rpc_server_port(srv) > 0);
	snprintf(target, sizeof(target), "127.0.0.1:%u", bx_rpc_server_port(srv));
	local_calls(&f, target);
	bx_rpc_server_stop(srv, 0);
	fx_local_fini(&f);
}

/* Without TLS nothing listens or connects beyond this machine. */
static void test_local_refuses_remote(void **state)
{
	static const char *const listens[] = {
		"0.0.0.0:0", "10.1.2.3:0", "[::]:0", "localhost:0",
		"unix-abstract:bauxite", "dns:///127.0.0.1:0", "unix:",
	};
	const struct bx_rpc_client_creds local = {.kind = BX_RPC_CREDS_LOCAL};
	char err[ERR_LEN], longaddr[200];
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(listens); i++) {
		err[0] = '\0';
		errno = 0;
		assert_null(bx_rpc_server_create_local(listens[i], err,
						       sizeof(err)));
		assert_int_equal(errno, EINVAL);
		if (strstr(err, listens[i]) == NULL ||
		    strstr(err, "without TLS") == NULL)
			fail_msg("%s: message \"%s\"", listens[i], err);
	}
	errno = 0;
	assert_null(bx_rpc_server_create_local(NULL, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	memset(longaddr, 'a', sizeof(longaddr) - 1);
	memcpy(longaddr, "unix:/tmp/", 10);
	longaddr[sizeof(longaddr) - 1] = '\0';
	errno = 0;
	assert_null(bx_rpc_server_create_local(longaddr, err, sizeof(err)));
	assert_int_equal(errno, ENAMETOOLONG);

	errno = 0;
	assert_null(bx_rpc_channel_create("10.1.2.3:7700", &local, err,
					  sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "10.1.2.3:7700"));
	errno = 0;
	assert_null(bx_rpc_channel_create("bauxite-hub:7700", &local, err,
					  sizeof(err)));
	assert_int_equal(errno, EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_errno),
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_server_conf_errors),
#define FX(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)
		FX(test_register_after_start),
		FX(test_unary_echo_identity),
		FX(test_identity_first_dns_san),
		FX(test_unary_status),
		FX(test_unary_deadline),
		FX(test_unreachable),
		FX(test_oversized_request),
		FX(test_anonymous),
		FX(test_foreign_ca_refused),
		FX(test_pinned_ca),
		FX(test_pinned_forged_leaf),
		FX(test_stream_in_order),
		FX(test_stream_client_cancel),
		FX(test_stream_refused),
		FX(test_stream_overflow),
		FX(test_stream_try_send),
		FX(test_bidi_echo),
		FX(test_stop_with_open_streams),
#undef FX
		cmocka_unit_test(test_addr_is_local),
		cmocka_unit_test(test_local_unix),
		cmocka_unit_test(test_local_tcp),
		cmocka_unit_test(test_local_refuses_remote),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
