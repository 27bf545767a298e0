/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suite "dispatch": a real hub (bx_dispatch on 127.0.0.1, ephemeral port,
 * its own state directory) and real nodes talking gRPC to it through
 * control/rpc: ProvisionNode with pinned-CA credentials, then mutual TLS
 * with the certificate it returned. A second store connection on the same
 * database plays `bauxite-dispatch` CLI processes (tokens, revocation,
 * policy), so the hub's watcher is what carries their changes.
 *
 * Covers provisioning (response fields, the certificate, the stored node,
 * the endpoint taken from the connection), refusals that must not spend
 * the token (bad fields and endpoints, low-order X25519 keys, bad
 * signatures, bad CSRs, a taken id, a foreign CA pin), used and expired
 * tokens, garbage requests, topology snapshots and updates, revocation
 * cutting a node off, a re-joined node's old certificate refused, policy
 * pushes (to nodes ahead of the hub too) and the policy helpers, metrics
 * and their minimum interval, anonymous callers, the signaling relay and
 * a flood through it, the mesh settings (the stored lists, each node's
 * relay key checked against the documented formula, refusals) and the
 * relay secret (0600, made on first need, exported), a stop with streams
 * open, and a restart keeping the CA. No EAL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "bauxite/v1/mesh.pb-c.h"
#include "bauxite/v1/metrics.pb-c.h"
#include "bauxite/v1/policy.pb-c.h"
#include "bauxite/v1/provisioning.pb-c.h"
#include "bauxite/v1/signaling.pb-c.h"
#include "bauxite/v1/topology.pb-c.h"
#include "bx_common.h"
#include "bx_dispatch.h"
#include "bx_identity.h"
#include "bx_pki.h"
#include "bx_rpc.h"
#include "bx_store.h"

#define ERR_LEN 512
#define HUB_NAME "bauxite-hub"
#define MESH_ADDR 0x64400000u /* 100.64.0.0 */
#define MESH_LEN 24
#define MESH_PORT 7600
/* How long a test waits for what should take milliseconds. */
#define WAIT_MS 5000
/* What the hub promises for changes made by other processes. */
#define PUSH_MS 1000
/* How long "nothing arrives" is watched. */
#define QUIET_MS 300
#define LOG_CAP (64u * 1024u)
#define TOKEN_TTL_S 3600u

/* ---- the hub under test --------------------------------------------------- */

struct logbuf {
	pthread_mutex_t mu;
	char text[LOG_CAP];
	size_t len;
};

struct fx {
	char dir[64];          /* temp root: hub/ and one dir per node */
	char state_dir[128];
	struct bx_dispatch *d;
	struct bx_store *st;   /* a CLI's connection to the same database */
	struct bx_rpc_channel *anon; /* pinned CA, no certificate */
	char target[64];
	uint8_t pin[BX_PKI_SHA256_LEN];
	struct logbuf log;
};

/* Added to the realtime clock by the hub's clock hook (token expiry). */
static _Atomic int64_t clock_offset_ms;

static int64_t
test_clock(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
	       atomic_load(&clock_offset_ms);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
log_line(void *arg, const char *line)
{
	struct logbuf *lb = arg;
	size_t n = strlen(line);

	pthread_mutex_lock(&lb->mu);
	if (lb->len + n + 2 <= sizeof(lb->text)) {
		memcpy(lb->text + lb->len, line, n);
		lb->len += n;
		lb->text[lb->len++] = '\n';
		lb->text[lb->len] = '\0';
	}
	pthread_mutex_unlock(&lb->mu);
	if (getenv("BX_TEST_VERBOSE") != NULL)
		fprintf(stderr, "hub: %s\n", line);
}

static bool
log_has(struct fx *fx, const char *s)
{
	bool has;

	pthread_mutex_lock(&fx->log.mu);
	has = strstr(fx->log.text, s) != NULL;
	pthread_mutex_unlock(&fx->log.mu);
	return has;
}

static void
hub_start(struct fx *fx)
{
	static const char *const names[] = { HUB_NAME };
	struct bx_dispatch_conf conf = {
		.state_dir = fx->state_dir,
		.listen = "127.0.0.1:0",
		.names = names,
		.n_names = 1,
		.mesh = { .addr = htonl(MESH_ADDR), .len = MESH_LEN },
		.mesh_port = MESH_PORT,
		.cipher = BX_DISPATCH_CIPHER_CHACHA,
		.log = log_line,
		.log_arg = &fx->log,
		.clock_ms = test_clock,
	};
	struct bx_rpc_client_creds creds = {
		.kind = BX_RPC_CREDS_PINNED_CA,
		.server_name = HUB_NAME,
	};
	char err[ERR_LEN] = "";

	fx->d = bx_dispatch_start(&conf, err, sizeof(err));
	if (fx->d == NULL)
		fail_msg("bx_dispatch_start: %s", err);
	snprintf(fx->target, sizeof(fx->target), "127.0.0.1:%u",
		 bx_dispatch_port(fx->d));
	bx_dispatch_ca_pin(fx->d, fx->pin);
	memcpy(creds.ca_sha256, fx->pin, sizeof(creds.ca_sha256));
	fx->anon = bx_rpc_channel_create(fx->target, &creds, err, sizeof(err));
	if (fx->anon == NULL)
		fail_msg("pinned channel: %s", err);
}

static void
hub_stop(struct fx *fx)
{
	bx_rpc_channel_destroy(fx->anon);
	fx->anon = NULL;
	bx_dispatch_stop(fx->d);
	fx->d = NULL;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char path[256], err[ERR_LEN] = "";

	if (fx == NULL)
		return -1;
	pthread_mutex_init(&fx->log.mu, NULL);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/bx_dispatch_XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->state_dir, sizeof(fx->state_dir), "%s/hub", fx->dir);
	if (mkdir(fx->state_dir, 0700) != 0)
		return -1;
	atomic_store(&clock_offset_ms, 0);
	hub_start(fx);
	snprintf(path, sizeof(path), "%s/%s", fx->state_dir, BX_STORE_DB_FILE);
	if (bx_store_open_sqlite(path, NULL, &fx->st, err, sizeof(err)) != 0) {
		fprintf(stderr, "store: %s\n", err);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	hub_stop(fx);
	bx_store_close(fx->st);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	pthread_mutex_destroy(&fx->log.mu);
	free(fx);
	return 0;
}

/* A token made as `bauxite-dispatch token create` does: "<id>.<secret>". */
static void
make_token(struct fx *fx, uint32_t ttl_s, uint32_t uses,
	   const char *const *tags, unsigned n_tags,
	   char out[BX_STORE_TOKEN_LEN + 1])
{
	char err[ERR_LEN] = "";

	if (bx_store_token_create(fx->st, "cli:test", ttl_s, uses, tags,
				  n_tags, out, err, sizeof(err)) != 0)
		fail_msg("token create: %s", err);
}

struct uses_query {
	char id[BX_STORE_TOKEN_ID_LEN + 1];
	uint32_t left;
	bool found;
};

static int
uses_cb(const struct bx_store_token_info *t, void *arg)
{
	struct uses_query *q = arg;

	if (strcmp(t->id, q->id) == 0) {
		q->left = t->uses_left;
		q->found = true;
	}
	return 0;
}

/* What the store says is left of @token ("<id>.<secret>"). */
static uint32_t
uses_left(struct fx *fx, const char *token)
{
	struct uses_query q = { .found = false };
	char err[ERR_LEN] = "";

	snprintf(q.id, sizeof(q.id), "%.*s", (int)BX_STORE_TOKEN_ID_LEN,
		 token);
	assert_int_equal(bx_store_token_list(fx->st, uses_cb, &q, err,
					     sizeof(err)),
			 0);
	assert_true(q.found);
	return q.left;
}

/* ---- a node ----------------------------------------------------------------- */

struct node {
	char id[BX_PKI_NODE_ID_MAX + 1];
	struct bx_identity *ident;
	char *key_pem;
	uint8_t *csr;
	size_t csr_len;
	char *cert_pem;
	char *ca_pem;
	uint32_t vip; /* as the proto carries it */
	struct bx_rpc_channel *ch;
};

static void
node_init(struct fx *fx, struct node *n, const char *id)
{
	char dir[256], err[ERR_LEN] = "";

	memset(n, 0, sizeof(*n));
	snprintf(n->id, sizeof(n->id), "%s", id);
	snprintf(dir, sizeof(dir), "%s/%s", fx->dir, id);
	if (bx_identity_generate(dir, false, &n->ident, err, sizeof(err)) != 0)
		fail_msg("identity: %s", err);
	assert_int_equal(bx_pki_key_generate(&n->key_pem, err, sizeof(err)),
			 0);
	if (bx_pki_csr_make(n->key_pem, id, &n->csr, &n->csr_len, err,
			    sizeof(err)) != 0)
		fail_msg("csr: %s", err);
}

static void
node_free(struct node *n)
{
	bx_rpc_channel_destroy(n->ch);
	bx_identity_free(n->ident);
	bx_pki_key_free(n->key_pem);
	free(n->csr);
	free(n->cert_pem);
	free(n->ca_pem);
	memset(n, 0, sizeof(*n));
}

/* Changes a request after it was signed. */
typedef void (*tamper_fn)(Bauxite__V1__ProvisionNodeRequest *r);

/*
 * The request `bauxite join` sends: signed by the node's identity over
 * @token, its id, its CSR and its X25519 key; endpoint @ip:@port (host
 * order, 0: the hub decides).
 */
static uint8_t *
pack_request(const struct node *n, const char *token, uint32_t ip,
	     uint32_t port, tamper_fn tamper, size_t *len)
{
	Bauxite__V1__ProvisionNodeRequest r =
		BAUXITE__V1__PROVISION_NODE_REQUEST__INIT;
	Bauxite__V1__Endpoint ep = BAUXITE__V1__ENDPOINT__INIT;
	uint8_t sig[BX_IDENTITY_SIG_LEN];
	uint8_t *buf;

	assert_int_equal(bx_identity_join_sign(n->ident, token, n->id, n->csr,
					       n->csr_len, sig),
			 0);
	r.token = (char *)token;
	r.node_id = (char *)n->id;
	r.csr_der.data = n->csr;
	r.csr_der.len = n->csr_len;
	r.ed25519_public.data = (uint8_t *)bx_identity_ed25519_public(n->ident);
	r.ed25519_public.len = BX_IDENTITY_KEY_LEN;
	r.x25519_public.data = (uint8_t *)bx_identity_x25519_public(n->ident);
	r.x25519_public.len = BX_IDENTITY_KEY_LEN;
	r.identity_signature.data = sig;
	r.identity_signature.len = sizeof(sig);
	ep.ip = ip;
	ep.port = port;
	r.endpoint = &ep;
	if (tamper != NULL)
		tamper(&r);
	*len = bauxite__v1__provision_node_request__get_packed_size(&r);
	buf = malloc(*len);
	assert_non_null(buf);
	bauxite__v1__provision_node_request__pack(&r, buf);
	return buf;
}

static int
provision_raw(struct fx *fx, const uint8_t *buf, size_t len,
	      struct bx_rpc_result *res)
{
	return bx_rpc_unary(fx->anon, BX_DISPATCH_PROVISION, buf, len, WAIT_MS,
			    res);
}

static int
provision(struct fx *fx, const struct node *n, const char *token,
	  uint32_t ip, uint32_t port, tamper_fn tamper,
	  struct bx_rpc_result *res)
{
	size_t len;
	uint8_t *buf = pack_request(n, token, ip, port, tamper, &len);
	int rc = provision_raw(fx, buf, len, res);

	free(buf);
	return rc;
}

static void
expect_status(const struct bx_rpc_result *res, enum bx_rpc_code code,
	      const char *substr)
{
	if (res->code != code || strstr(res->message, substr) == NULL)
		fail_msg("expected %s \"...%s...\", got %s \"%s\"",
			 bx_rpc_code_name(code), substr,
			 bx_rpc_code_name(res->code), res->message);
}

/* mTLS to the hub with the node's certificate. */
static void
node_connect(struct fx *fx, struct node *n)
{
	struct bx_rpc_client_creds creds = {
		.kind = BX_RPC_CREDS_TLS,
		.ca_pem = n->ca_pem,
		.cert_pem = n->cert_pem,
		.key_pem = n->key_pem,
		.server_name = HUB_NAME,
	};
	char err[ERR_LEN] = "";

	bx_rpc_channel_destroy(n->ch);
	n->ch = bx_rpc_channel_create(fx->target, &creds, err, sizeof(err));
	if (n->ch == NULL)
		fail_msg("node channel: %s", err);
}

/* Provisions @n with @token (endpoint from the connection) and connects. */
static void
node_join(struct fx *fx, struct node *n, const char *token)
{
	Bauxite__V1__ProvisionNodeResponse *r;
	struct bx_rpc_result res;

	if (provision(fx, n, token, 0, 0, NULL, &res) != 0)
		fail_msg("join %s: %s %s", n->id, bx_rpc_code_name(res.code),
			 res.message);
	r = bauxite__v1__provision_node_response__unpack(NULL, res.len,
							  res.data);
	assert_non_null(r);
	n->cert_pem = strdup(r->node_cert_pem);
	n->ca_pem = strdup(r->ca_cert_pem);
	n->vip = r->virtual_ip;
	bauxite__v1__provision_node_response__free_unpacked(r, NULL);
	bx_rpc_result_clear(&res);
	node_connect(fx, n);
}

static void
join_new(struct fx *fx, struct node *n, const char *id)
{
	char token[BX_STORE_TOKEN_LEN + 1];

	node_init(fx, n, id);
	make_token(fx, TOKEN_TTL_S, 1, NULL, 0, token);
	node_join(fx, n, token);
}

/* ---- streams -------------------------------------------------------------- */

static struct bx_rpc_call *
open_stream(struct bx_rpc_channel *ch, const char *method, uint64_t known)
{
	/* Both watch requests are { uint64 known_version = 1; }. */
	Bauxite__V1__WatchTopologyRequest r =
		BAUXITE__V1__WATCH_TOPOLOGY_REQUEST__INIT;
	struct bx_rpc_call *call = NULL;
	uint8_t buf[16];
	size_t len;

	r.known_version = known;
	len = bauxite__v1__watch_topology_request__pack(&r, buf);
	assert_int_equal(bx_rpc_call_open_stream(ch, method, buf, len, &call),
			 0);
	return call;
}

/* The next message within @timeout_ms, NULL if none; fails on an end. */
static uint8_t *
next_msg(struct bx_rpc_call *call, int timeout_ms, size_t *len)
{
	enum bx_rpc_code code;
	const char *msg;
	uint8_t *data = NULL;
	int rc = bx_rpc_call_next(call, timeout_ms, &data, len);

	if (rc == -EAGAIN)
		return NULL;
	if (rc == -EPIPE) {
		assert_int_equal(bx_rpc_call_status(call, &code, &msg), 0);
		fail_msg("stream ended: %s %s", bx_rpc_code_name(code), msg);
	}
	assert_int_equal(rc, 0);
	return data;
}

static Bauxite__V1__TopologyUpdate *
next_topology(struct bx_rpc_call *call, int timeout_ms)
{
	Bauxite__V1__TopologyUpdate *u;
	size_t len;
	uint8_t *data = next_msg(call, timeout_ms, &len);

	if (data == NULL)
		return NULL;
	u = bauxite__v1__topology_update__unpack(NULL, len, data);
	free(data);
	assert_non_null(u);
	return u;
}

static Bauxite__V1__PolicyUpdate *
next_policy(struct bx_rpc_call *call, int timeout_ms)
{
	Bauxite__V1__PolicyUpdate *u;
	size_t len;
	uint8_t *data = next_msg(call, timeout_ms, &len);

	if (data == NULL)
		return NULL;
	u = bauxite__v1__policy_update__unpack(NULL, len, data);
	free(data);
	assert_non_null(u);
	return u;
}

/* Waits for the stream's end (messages before it are dropped). */
static void
expect_end(struct bx_rpc_call *call, enum bx_rpc_code code,
	   const char *substr, int timeout_ms)
{
	int64_t until = mono_ms() + timeout_ms;
	enum bx_rpc_code got;
	const char *msg;
	uint8_t *data;
	size_t len;
	int rc;

	for (;;) {
		int left = (int)(until - mono_ms());

		assert_true(left > 0);
		rc = bx_rpc_call_next(call, left, &data, &len);
		if (rc == 0) {
			free(data);
			continue;
		}
		if (rc == -EPIPE)
			break;
		assert_int_equal(rc, -EAGAIN);
	}
	assert_int_equal(bx_rpc_call_status(call, &got, &msg), 0);
	if (got != code || strstr(msg, substr) == NULL)
		fail_msg("expected the end %s \"...%s...\", got %s \"%s\"",
			 bx_rpc_code_name(code), substr,
			 bx_rpc_code_name(got), msg);
}

static unsigned
count_policy(const struct bx_dispatch_stats *s)
{
	return s->policy_streams;
}

static unsigned
count_signaling(const struct bx_dispatch_stats *s)
{
	return s->signaling_streams;
}

/*
 * Polls @calls (gRPC does a client call's work inside next), none of which
 * may receive anything meanwhile, until the hub counts @want streams.
 */
static void
wait_streams(struct fx *fx, struct bx_rpc_call **calls, size_t n,
	     unsigned (*count)(const struct bx_dispatch_stats *),
	     unsigned want)
{
	int64_t until = mono_ms() + WAIT_MS;
	struct bx_dispatch_stats st;
	size_t i, len;

	for (;;) {
		bx_dispatch_stats_get(fx->d, &st);
		if (count(&st) == want)
			return;
		assert_true(mono_ms() < until);
		for (i = 0; i < n; i++)
			assert_null(next_msg(calls[i], 5, &len));
	}
}

static int report(struct node *n, const char *const *names,
		  const uint64_t *values, size_t count,
		  struct bx_rpc_result *res);

/* ---- provisioning ------------------------------------------------------------ */

static void
test_provision(void **state)
{
	struct fx *fx = *state;
	static const char *const tags[] = { "site=lab", "robot" };
	Bauxite__V1__ProvisionNodeResponse *r;
	struct bx_store_node *sn = NULL;
	struct bx_rpc_result res;
	char token[BX_STORE_TOKEN_LEN + 1], err[ERR_LEN] = "";
	char id[BX_PKI_NODE_ID_MAX + 1];
	uint8_t sha[BX_PKI_SHA256_LEN];
	struct node a;

	node_init(fx, &a, "edge-a");
	make_token(fx, TOKEN_TTL_S, 1, tags, 2, token);
	assert_int_equal(provision(fx, &a, token, 0, 0, NULL, &res), 0);
	r = bauxite__v1__provision_node_response__unpack(NULL, res.len,
							  res.data);
	assert_non_null(r);
	assert_string_equal(r->node_id, "edge-a");
	assert_int_equal(r->virtual_ip, MESH_ADDR + 1);
	assert_non_null(r->settings);
	assert_non_null(r->settings->mesh_prefix);
	assert_int_equal(r->settings->mesh_prefix->addr, MESH_ADDR);
	assert_int_equal(r->settings->mesh_prefix->len, MESH_LEN);
	assert_int_equal(r->settings->mesh_port, MESH_PORT);
	assert_string_equal(r->settings->cipher, BX_DISPATCH_CIPHER_CHACHA);
	assert_int_equal(r->n_tags, 2);
	assert_string_equal(r->tags[0], "site=lab");
	assert_string_equal(r->tags[1], "robot");
	/* The CA is the pinned one, and it signed a node certificate whose
	 * only name is the node id. */
	assert_int_equal(bx_pki_cert_sha256_pem(r->ca_cert_pem, sha), 0);
	assert_memory_equal(sha, fx->pin, sizeof(sha));
	if (bx_pki_cert_verify(r->ca_cert_pem, r->node_cert_pem,
			       BX_PKI_ROLE_NODE, err, sizeof(err)) != 0)
		fail_msg("node certificate: %s", err);
	assert_int_equal(bx_pki_cert_node_id(r->node_cert_pem, id, sizeof(id)),
			 0);
	assert_string_equal(id, "edge-a");

	/* Stored: keys, address, the connection's address as endpoint (the
	 * request said 0) with the mesh port, tags, certificate. */
	assert_int_equal(bx_store_node_get(fx->st, "edge-a", &sn, err,
					   sizeof(err)),
			 0);
	assert_int_equal(sn->virtual_ip, htonl(MESH_ADDR + 1));
	assert_int_equal(sn->n_endpoints, 1);
	assert_int_equal(sn->endpoints[0].ip, htonl(INADDR_LOOPBACK));
	assert_int_equal(sn->endpoints[0].port, MESH_PORT);
	assert_memory_equal(sn->ed25519_public,
			    bx_identity_ed25519_public(a.ident),
			    BX_STORE_KEY_LEN);
	assert_memory_equal(sn->x25519_public,
			    bx_identity_x25519_public(a.ident),
			    BX_STORE_KEY_LEN);
	assert_int_equal(sn->n_tags, 2);
	assert_string_equal(sn->tags[0], "site=lab");
	assert_non_null(sn->cert_pem);
	assert_string_equal(sn->cert_pem, r->node_cert_pem);
	assert_true(sn->cert_serial[0] != '\0');
	assert_true(sn->cert_not_after_ms > test_clock(NULL));
	assert_int_equal(sn->revoked_ms, 0);
	bx_store_node_free(sn);

	/* The log says it, without the token's secret. */
	assert_true(log_has(fx, "provisioned node edge-a: virtual IP "
				"100.64.0.1, endpoint 127.0.0.1:7600"));
	assert_false(log_has(fx, strchr(token, '.') + 1));

	bauxite__v1__provision_node_response__free_unpacked(r, NULL);
	bx_rpc_result_clear(&res);
	node_free(&a);
}

/* Endpoints as given, the port defaulting to the mesh port. */
static void
test_provision_endpoints(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *id;
		uint32_t ip, port;
		uint32_t want_ip;
		uint16_t want_port;
	} cases[] = {
		{ "edge-a", 0x0a010203, 7777, 0x0a010203, 7777 },
		{ "edge-b", 0x0a010204, 0, 0x0a010204, MESH_PORT },
		{ "edge-c", 0, 9000, INADDR_LOOPBACK, 9000 },
	};
	char token[BX_STORE_TOKEN_LEN + 1], err[ERR_LEN] = "";
	struct bx_store_node *sn = NULL;
	struct bx_rpc_result res;
	struct node n;
	size_t i;

	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		node_init(fx, &n, cases[i].id);
		make_token(fx, TOKEN_TTL_S, 1, NULL, 0, token);
		assert_int_equal(provision(fx, &n, token, cases[i].ip,
					   cases[i].port, NULL, &res),
				 0);
		bx_rpc_result_clear(&res);
		assert_int_equal(bx_store_node_get(fx->st, cases[i].id, &sn,
						   err, sizeof(err)),
				 0);
		assert_int_equal(sn->endpoints[0].ip, htonl(cases[i].want_ip));
		assert_int_equal(sn->endpoints[0].port, cases[i].want_port);
		/* Addresses are handed out in order. */
		assert_int_equal(sn->virtual_ip, htonl(MESH_ADDR + 1 + i));
		bx_store_node_free(sn);
		node_free(&n);
	}
}

static void
test_token_used(void **state)
{
	struct fx *fx = *state;
	char token[BX_STORE_TOKEN_LEN + 1];
	struct bx_rpc_result res;
	struct node a, b;

	node_init(fx, &a, "edge-a");
	node_init(fx, &b, "edge-b");
	make_token(fx, TOKEN_TTL_S, 1, NULL, 0, token);
	node_join(fx, &a, token);
	assert_int_equal(provision(fx, &b, token, 0, 0, NULL, &res), -EBUSY);
	expect_status(&res, BX_RPC_FAILED_PRECONDITION, "already used");
	bx_rpc_result_clear(&res);
	assert_true(log_has(fx, "provision of edge-b from ipv4:127.0.0.1:"));
	node_free(&a);
	node_free(&b);
}

static void
test_token_expired(void **state)
{
	struct fx *fx = *state;
	char token[BX_STORE_TOKEN_LEN + 1];
	struct bx_rpc_result res;
	struct node a;

	node_init(fx, &a, "edge-a");
	make_token(fx, 1, 1, NULL, 0, token);
	/* The hub's clock two seconds on: the token's second is over. */
	atomic_store(&clock_offset_ms, 2000);
	assert_int_equal(provision(fx, &a, token, 0, 0, NULL, &res), -EBUSY);
	expect_status(&res, BX_RPC_FAILED_PRECONDITION, "expired at 20");
	bx_rpc_result_clear(&res);
	atomic_store(&clock_offset_ms, 0);

	/* A token nobody made. */
	make_token(fx, TOKEN_TTL_S, 1, NULL, 0, token);
	/* The secret's first character: all six bits of it count. */
	token[BX_STORE_TOKEN_ID_LEN + 1] =
		token[BX_STORE_TOKEN_ID_LEN + 1] == 'A' ? 'B' : 'A';
	assert_int_equal(provision(fx, &a, token, 0, 0, NULL, &res), -EPERM);
	expect_status(&res, BX_RPC_PERMISSION_DENIED, "token unknown");
	bx_rpc_result_clear(&res);
	node_free(&a);
}

/* Tampering after signing. */
static void
flip_signature(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->identity_signature.data[10] ^= 0x01;
}

static void
other_node_id(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->node_id = "edge-z";
}

static uint8_t other_key[BX_IDENTITY_KEY_LEN];

static void
other_x25519(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->x25519_public.data = other_key;
}

static void
other_ed25519(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->ed25519_public.data = other_key;
}

static void
csr_byte(Bauxite__V1__ProvisionNodeRequest *r)
{
	static uint8_t csr[BX_PKI_CSR_MAX];

	assert_true(r->csr_der.len <= sizeof(csr));
	memcpy(csr, r->csr_der.data, r->csr_der.len);
	csr[r->csr_der.len - 1] ^= 0x01;
	r->csr_der.data = csr;
}

/* A forged request is refused before the token is touched. */
static void
test_bad_signature(void **state)
{
	struct fx *fx = *state;
	static const tamper_fn tampers[] = {
		flip_signature, other_node_id, other_x25519, other_ed25519,
		csr_byte,
	};
	char token[BX_STORE_TOKEN_LEN + 1];
	struct bx_rpc_result res;
	struct node a;
	size_t i;

	randombytes_buf(other_key, sizeof(other_key));
	node_init(fx, &a, "edge-a");
	make_token(fx, TOKEN_TTL_S, 2, NULL, 0, token);
	for (i = 0; i < BX_ARRAY_SIZE(tampers); i++) {
		assert_int_equal(provision(fx, &a, token, 0, 0, tampers[i],
					   &res),
				 -EPERM);
		expect_status(&res, BX_RPC_PERMISSION_DENIED,
			      "identity signature does not verify");
		bx_rpc_result_clear(&res);
	}
	/* Both uses are still there: the real request takes one. */
	node_join(fx, &a, token);
	assert_int_equal(uses_left(fx, token), 1);
	node_free(&a);
}

/* Field errors name the field and spend nothing. */
static void
short_ed25519(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->ed25519_public.len = BX_IDENTITY_KEY_LEN - 1;
}

static void
short_x25519(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->x25519_public.len = 0;
}

static void
long_signature(Bauxite__V1__ProvisionNodeRequest *r)
{
	static uint8_t sig[BX_IDENTITY_SIG_LEN + 1];

	r->identity_signature.data = sig;
	r->identity_signature.len = sizeof(sig);
}

static void
no_csr(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->csr_der.len = 0;
}

static void
bad_node_id(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->node_id = "edge a";
}

static void
no_token(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->token = "";
}

static void
big_port(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->endpoint->port = 70000;
}

static void
multicast_ip(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->endpoint->ip = 0xe0000001;
}

/* The hub sees the tests' connections come from 127.0.0.1, and takes
 * that; a node claiming it is refused. */
static void
loopback_ip(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->endpoint->ip = 0x7f000001;
}

static void
loopback_other_ip(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->endpoint->ip = 0x7f0a0b0c;
}

static void
this_network_ip(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->endpoint->ip = 0x00010203;
}

static void
link_local_ip(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->endpoint->ip = 0xa9fe0101;
}

static void
broadcast_ip(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->endpoint->ip = 0xffffffff;
}

static void
reserved_ip(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->endpoint->ip = 0xf0000001;
}

/* X25519 points of small order (RFC 7748 §7 lists why they are refused):
 * 0, 1, and a point of order 8. */
static uint8_t low_order[3][BX_IDENTITY_KEY_LEN] = {
	{ 0 },
	{ 1 },
	{ 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
	  0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
	  0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00 },
};

static void
zero_x25519(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->x25519_public.data = low_order[0];
}

static void
one_x25519(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->x25519_public.data = low_order[1];
}

static void
order8_x25519(Bauxite__V1__ProvisionNodeRequest *r)
{
	r->x25519_public.data = low_order[2];
}

static void
test_bad_fields(void **state)
{
	struct fx *fx = *state;
	static const struct {
		tamper_fn tamper;
		const char *field;
	} cases[] = {
		{ short_ed25519, "ed25519_public: expected 32 bytes, got 31" },
		{ short_x25519, "x25519_public: expected 32 bytes, got 0" },
		{ long_signature, "identity_signature: expected 64 bytes" },
		{ no_csr, "csr_der: missing" },
		{ bad_node_id, "node_id: expected 1..63" },
		{ no_token, "token: missing" },
		{ big_port, "endpoint.port: expected 1..65535, got 70000" },
		{ multicast_ip,
		  "endpoint.ip: 224.0.0.1 is not a unicast address" },
		{ loopback_ip, "endpoint.ip: 127.0.0.1 is a loopback address" },
		{ loopback_other_ip,
		  "endpoint.ip: 127.10.11.12 is a loopback address" },
		{ this_network_ip,
		  "endpoint.ip: 0.1.2.3 is not a host address" },
		{ link_local_ip, "endpoint.ip: 169.254.1.1 is link-local" },
		{ broadcast_ip,
		  "endpoint.ip: 255.255.255.255 is not a unicast address" },
		{ reserved_ip,
		  "endpoint.ip: 240.0.0.1 is not a unicast address" },
		{ zero_x25519, "x25519_public: not a usable key" },
		{ one_x25519, "x25519_public: not a usable key" },
		{ order8_x25519, "x25519_public: not a usable key" },
	};
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	char token[BX_STORE_TOKEN_LEN + 1];
	struct bx_rpc_result res;
	struct node a;
	size_t i;

	node_init(fx, &a, "edge-a");
	make_token(fx, TOKEN_TTL_S, 2, NULL, 0, token);
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		assert_int_equal(provision(fx, &a, token, 0, 0,
					   cases[i].tamper, &res),
				 -EINVAL);
		expect_status(&res, BX_RPC_INVALID_ARGUMENT, cases[i].field);
		bx_rpc_result_clear(&res);
	}
	/* Bytes that are no request at all; the server keeps serving. */
	assert_int_equal(provision_raw(fx, garbage, sizeof(garbage), &res),
			 -EINVAL);
	expect_status(&res, BX_RPC_INVALID_ARGUMENT, "request does not decode");
	bx_rpc_result_clear(&res);
	node_join(fx, &a, token);
	assert_int_equal(uses_left(fx, token), 1);
	node_free(&a);
}

/* A CSR made with an RSA key, which the hub does not certify. */
static void
rsa_csr(uint8_t **der, size_t *len)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	X509_REQ *req = X509_REQ_new();
	unsigned char *p = NULL;
	int n;

	assert_non_null(key);
	assert_non_null(req);
	assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(
				 X509_REQ_get_subject_name(req), "CN",
				 MBSTRING_ASC, (const unsigned char *)"edge-a",
				 -1, -1, 0),
			 1);
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	n = i2d_X509_REQ(req, &p);
	assert_true(n > 0);
	*der = malloc((size_t)n);
	assert_non_null(*der);
	memcpy(*der, p, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(p);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
}

/*
 * A CSR the hub cannot certify, in a request the node's identity really
 * signed: refused before the token is spent, which then still works.
 */
static void
test_bad_csr(void **state)
{
	struct fx *fx = *state;
	static const char not_der[] = "not a certificate request";
	char token[BX_STORE_TOKEN_LEN + 1];
	struct bx_rpc_result res;
	uint8_t *good, *rsa = NULL;
	size_t good_len, rsa_len = 0;
	struct node a;

	node_init(fx, &a, "edge-a");
	make_token(fx, TOKEN_TTL_S, 1, NULL, 0, token);
	good = a.csr;
	good_len = a.csr_len;

	a.csr = (uint8_t *)not_der;
	a.csr_len = sizeof(not_der) - 1;
	assert_int_equal(provision(fx, &a, token, 0, 0, NULL, &res), -EINVAL);
	expect_status(&res, BX_RPC_INVALID_ARGUMENT,
		      "csr: not a DER PKCS#10 request");
	bx_rpc_result_clear(&res);
	assert_int_equal(uses_left(fx, token), 1);

	rsa_csr(&rsa, &rsa_len);
	a.csr = rsa;
	a.csr_len = rsa_len;
	assert_int_equal(provision(fx, &a, token, 0, 0, NULL, &res), -EINVAL);
	expect_status(&res, BX_RPC_INVALID_ARGUMENT, "expected EC P-256");
	bx_rpc_result_clear(&res);
	assert_int_equal(uses_left(fx, token), 1);

	a.csr = good;
	a.csr_len = good_len;
	node_join(fx, &a, token);
	assert_int_equal(uses_left(fx, token), 0);
	free(rsa);
	node_free(&a);
}

/* A taken id or taken keys are refused before the token is spent. */
static void
test_node_exists(void **state)
{
	struct fx *fx = *state;
	char token[BX_STORE_TOKEN_LEN + 1];
	struct bx_rpc_result res;
	struct node a, a2;

	join_new(fx, &a, "edge-a");
	node_init(fx, &a2, "edge-a2");
	snprintf(a2.id, sizeof(a2.id), "edge-a");
	make_token(fx, TOKEN_TTL_S, 1, NULL, 0, token);
	assert_int_equal(provision(fx, &a2, token, 0, 0, NULL, &res), -EEXIST);
	expect_status(&res, BX_RPC_ALREADY_EXISTS,
		      "node edge-a exists (revoke and purge it to re-join)");
	bx_rpc_result_clear(&res);
	/* The same identity under another id. */
	snprintf(a.id, sizeof(a.id), "edge-b");
	assert_int_equal(provision(fx, &a, token, 0, 0, NULL, &res), -EEXIST);
	expect_status(&res, BX_RPC_ALREADY_EXISTS, "node edge-a's");
	bx_rpc_result_clear(&res);
	assert_int_equal(uses_left(fx, token), 1);
	node_free(&a);
	node_free(&a2);
}

/* The token as `token create` prints it, CA pin included. */
static void
test_join_token_form(void **state)
{
	struct fx *fx = *state;
	char cred[BX_STORE_TOKEN_LEN + 1], token[256];
	uint8_t wrong[BX_PKI_SHA256_LEN];
	struct bx_rpc_result res;
	struct node a;

	node_init(fx, &a, "edge-a");
	make_token(fx, TOKEN_TTL_S, 1, NULL, 0, cred);
	memcpy(wrong, fx->pin, sizeof(wrong));
	wrong[0] ^= 0xff;
	assert_int_equal(bx_pki_join_token_make(cred, wrong, token,
						sizeof(token)),
			 0);
	assert_int_equal(provision(fx, &a, token, 0, 0, NULL, &res), -EPERM);
	expect_status(&res, BX_RPC_PERMISSION_DENIED, "CA pin");
	bx_rpc_result_clear(&res);
	assert_int_equal(bx_pki_join_token_make(cred, fx->pin, token,
						sizeof(token)),
			 0);
	node_join(fx, &a, token);
	node_free(&a);
}

/* ---- topology ----------------------------------------------------------------- */

static uint64_t
store_version(struct fx *fx)
{
	char err[ERR_LEN] = "";
	uint64_t v = 0;

	assert_int_equal(bx_store_topology_version(fx->st, &v, err,
						   sizeof(err)),
			 0);
	return v;
}

static void
expect_peer(const Bauxite__V1__Peer *p, const struct node *n)
{
	assert_non_null(p);
	assert_string_equal(p->id, n->id);
	assert_int_equal(p->ed25519_public.len, BX_IDENTITY_KEY_LEN);
	assert_memory_equal(p->ed25519_public.data,
			    bx_identity_ed25519_public(n->ident),
			    BX_IDENTITY_KEY_LEN);
	assert_memory_equal(p->x25519_public.data,
			    bx_identity_x25519_public(n->ident),
			    BX_IDENTITY_KEY_LEN);
	assert_int_equal(p->virtual_ip, n->vip);
	assert_int_equal(p->n_endpoints, 1);
	assert_int_equal(p->endpoints[0]->ip, INADDR_LOOPBACK);
	assert_int_equal(p->endpoints[0]->port, MESH_PORT);
}

static void
test_topology_snapshot(void **state)
{
	struct fx *fx = *state;
	struct bx_store_endpoint ep;
	Bauxite__V1__TopologyUpdate *u;
	struct bx_rpc_call *wa, *wb;
	char err[ERR_LEN] = "";
	struct node a, b, c;
	uint64_t v;

	join_new(fx, &a, "edge-a");
	join_new(fx, &b, "edge-b");
	v = store_version(fx);

	/* A knows nothing: a full snapshot holding B, not A itself. */
	wa = open_stream(a.ch, BX_DISPATCH_WATCH_TOPOLOGY, 0);
	u = next_topology(wa, WAIT_MS);
	assert_non_null(u);
	assert_true(u->full);
	assert_int_equal(u->version, v);
	assert_int_equal(u->n_changes, 1);
	assert_int_equal(u->changes[0]->op,
			 BAUXITE__V1__PEER_CHANGE__OP__UPSERT);
	expect_peer(u->changes[0]->peer, &b);
	bauxite__v1__topology_update__free_unpacked(u, NULL);

	/* B is current: an empty update at its version (the stream is up),
	 * then nothing until something changes. */
	wb = open_stream(b.ch, BX_DISPATCH_WATCH_TOPOLOGY, v);
	u = next_topology(wb, WAIT_MS);
	assert_non_null(u);
	assert_false(u->full);
	assert_int_equal(u->version, v);
	assert_int_equal(u->n_changes, 0);
	bauxite__v1__topology_update__free_unpacked(u, NULL);
	assert_null(next_topology(wb, QUIET_MS));

	/* C joins: both hear of it, as a diff at the next version. */
	join_new(fx, &c, "edge-c");
	u = next_topology(wb, PUSH_MS);
	assert_non_null(u);
	assert_false(u->full);
	assert_int_equal(u->version, v + 1);
	assert_int_equal(u->n_changes, 1);
	expect_peer(u->changes[0]->peer, &c);
	bauxite__v1__topology_update__free_unpacked(u, NULL);
	u = next_topology(wa, PUSH_MS);
	assert_non_null(u);
	assert_int_equal(u->version, v + 1);
	assert_string_equal(u->changes[0]->peer->id, "edge-c");
	bauxite__v1__topology_update__free_unpacked(u, NULL);
	/* ... and nobody hears of itself: A's new endpoint goes to B (the
	 * node's data as it is now) but not to A. */
	ep.ip = htonl(0x0a000009);
	ep.port = 7601;
	assert_int_equal(bx_store_node_set_endpoints(fx->st, "edge-a", &ep, 1,
						     err, sizeof(err)),
			 0);
	u = next_topology(wb, PUSH_MS);
	assert_non_null(u);
	assert_int_equal(u->version, v + 2);
	assert_int_equal(u->changes[0]->op,
			 BAUXITE__V1__PEER_CHANGE__OP__UPSERT);
	assert_string_equal(u->changes[0]->peer->id, "edge-a");
	assert_int_equal(u->changes[0]->peer->endpoints[0]->ip, 0x0a000009);
	assert_int_equal(u->changes[0]->peer->endpoints[0]->port, 7601);
	bauxite__v1__topology_update__free_unpacked(u, NULL);
	assert_null(next_topology(wa, QUIET_MS));

	bx_rpc_call_free(wa);
	bx_rpc_call_free(wb);
	node_free(&a);
	node_free(&b);
	node_free(&c);
}

/* The CLI revokes B in the database; the hub pushes it and cuts B off. */
static void
test_revoke(void **state)
{
	struct fx *fx = *state;
	Bauxite__V1__MetricsReport rep = BAUXITE__V1__METRICS_REPORT__INIT;
	Bauxite__V1__TopologyUpdate *u;
	struct bx_rpc_call *wa, *wb, *pb, *again;
	struct bx_rpc_result res;
	char err[ERR_LEN] = "";
	uint8_t buf[16];
	struct node a, b;
	int64_t t0;
	size_t len;

	join_new(fx, &a, "edge-a");
	join_new(fx, &b, "edge-b");
	wa = open_stream(a.ch, BX_DISPATCH_WATCH_TOPOLOGY, 0);
	u = next_topology(wa, WAIT_MS);
	assert_non_null(u);
	bauxite__v1__topology_update__free_unpacked(u, NULL);
	wb = open_stream(b.ch, BX_DISPATCH_WATCH_TOPOLOGY, 0);
	u = next_topology(wb, WAIT_MS);
	assert_non_null(u);
	bauxite__v1__topology_update__free_unpacked(u, NULL);
	pb = open_stream(b.ch, BX_DISPATCH_WATCH_POLICY, 0);
	wait_streams(fx, &pb, 1, count_policy, 1);

	t0 = mono_ms();
	assert_int_equal(bx_store_node_revoke(fx->st, "cli", "edge-b", err,
					      sizeof(err)),
			 0);
	u = next_topology(wa, PUSH_MS);
	assert_non_null(u);
	assert_true(mono_ms() - t0 < PUSH_MS);
	assert_false(u->full);
	assert_int_equal(u->version, store_version(fx));
	assert_int_equal(u->n_changes, 1);
	assert_int_equal(u->changes[0]->op,
			 BAUXITE__V1__PEER_CHANGE__OP__REMOVE);
	assert_string_equal(u->changes[0]->id, "edge-b");
	bauxite__v1__topology_update__free_unpacked(u, NULL);

	/* B's streams end, and B's certificate opens nothing any more. */
	expect_end(wb, BX_RPC_PERMISSION_DENIED, "node edge-b is revoked",
		   PUSH_MS);
	expect_end(pb, BX_RPC_PERMISSION_DENIED, "node edge-b is revoked",
		   PUSH_MS);
	again = open_stream(b.ch, BX_DISPATCH_WATCH_TOPOLOGY, 0);
	expect_end(again, BX_RPC_PERMISSION_DENIED, "node edge-b is revoked",
		   WAIT_MS);
	len = bauxite__v1__metrics_report__pack(&rep, buf);
	assert_int_equal(bx_rpc_unary(b.ch, BX_DISPATCH_REPORT_METRICS, buf,
				      len, WAIT_MS, &res),
			 -EPERM);
	expect_status(&res, BX_RPC_PERMISSION_DENIED, "node edge-b is revoked");
	bx_rpc_result_clear(&res);
	assert_true(log_has(fx, "node edge-b revoked: removal"));

	/* A is untouched. */
	assert_null(next_topology(wa, QUIET_MS));
	bx_rpc_call_free(again);
	bx_rpc_call_free(pb);
	bx_rpc_call_free(wb);
	bx_rpc_call_free(wa);
	node_free(&a);
	node_free(&b);
}

/*
 * A node revoked, purged and joined again under its id: the certificate
 * it had before is from the right CA, names the right node and is still
 * within its validity, but opens nothing; the new one does.
 */
static void
test_rejoin_old_cert(void **state)
{
	struct fx *fx = *state;
	static const char *const names[] = { "rx_bytes" };
	static const uint64_t values[] = { 1 };
	static const char why[] = "certificate is not node edge-a's current one";
	static const char *const streams[] = {
		BX_DISPATCH_WATCH_TOPOLOGY,
		BX_DISPATCH_WATCH_POLICY,
	};
	char token[BX_STORE_TOKEN_LEN + 1], err[ERR_LEN] = "";
	Bauxite__V1__TopologyUpdate *u;
	struct bx_rpc_result res;
	struct bx_rpc_call *call;
	struct node old, fresh;
	int64_t until;
	size_t i;

	join_new(fx, &old, "edge-a");
	assert_int_equal(bx_store_node_revoke(fx->st, "cli", "edge-a", err,
					      sizeof(err)),
			 0);
	/* Purged once the hub has pushed the removal, as an operator would
	 * (and the removal then cuts off none of the new node's streams). */
	until = mono_ms() + WAIT_MS;
	while (!log_has(fx, "node edge-a revoked: removal")) {
		assert_true(mono_ms() < until);
		usleep(10 * 1000);
	}
	assert_int_equal(bx_store_node_purge(fx->st, "cli", "edge-a", err,
					     sizeof(err)),
			 0);
	/* New identity keys, a new TLS key, the same id. */
	node_init(fx, &fresh, "edge-a-again");
	snprintf(fresh.id, sizeof(fresh.id), "edge-a");
	make_token(fx, TOKEN_TTL_S, 1, NULL, 0, token);
	node_join(fx, &fresh, token);

	for (i = 0; i < BX_ARRAY_SIZE(streams); i++) {
		call = open_stream(old.ch, streams[i], 0);
		expect_end(call, BX_RPC_PERMISSION_DENIED, why, WAIT_MS);
		bx_rpc_call_free(call);
	}
	assert_int_equal(bx_rpc_call_open_bidi(old.ch,
					       BX_DISPATCH_EXCHANGE_CANDIDATES,
					       &call),
			 0);
	expect_end(call, BX_RPC_PERMISSION_DENIED, why, WAIT_MS);
	bx_rpc_call_free(call);
	assert_int_equal(report(&old, names, values, 1, &res), -EPERM);
	expect_status(&res, BX_RPC_PERMISSION_DENIED, why);
	bx_rpc_result_clear(&res);

	/* The node's current certificate: alone in the mesh, an empty
	 * snapshot; its report is taken. */
	call = open_stream(fresh.ch, BX_DISPATCH_WATCH_TOPOLOGY, 0);
	u = next_topology(call, WAIT_MS);
	assert_non_null(u);
	assert_true(u->full);
	assert_int_equal(u->n_changes, 0);
	bauxite__v1__topology_update__free_unpacked(u, NULL);
	bx_rpc_call_free(call);
	assert_int_equal(report(&fresh, names, values, 1, &res), 0);
	bx_rpc_result_clear(&res);
	node_free(&old);
	node_free(&fresh);
}

/* Who calls without a certificate gets only ProvisionNode. */
static void
test_anonymous(void **state)
{
	struct fx *fx = *state;
	Bauxite__V1__MetricsReport rep = BAUXITE__V1__METRICS_REPORT__INIT;
	struct bx_rpc_result res;
	struct bx_rpc_call *call;
	uint8_t buf[16];
	size_t len;

	call = open_stream(fx->anon, BX_DISPATCH_WATCH_TOPOLOGY, 0);
	expect_end(call, BX_RPC_UNAUTHENTICATED, "", WAIT_MS);
	bx_rpc_call_free(call);
	call = open_stream(fx->anon, BX_DISPATCH_WATCH_POLICY, 0);
	expect_end(call, BX_RPC_UNAUTHENTICATED, "", WAIT_MS);
	bx_rpc_call_free(call);
	len = bauxite__v1__metrics_report__pack(&rep, buf);
	assert_int_equal(bx_rpc_unary(fx->anon, BX_DISPATCH_REPORT_METRICS,
				      buf, len, WAIT_MS, &res),
			 -EACCES);
	assert_int_equal(res.code, BX_RPC_UNAUTHENTICATED);
	bx_rpc_result_clear(&res);
}

/* ---- policy ------------------------------------------------------------------ */

static uint64_t
set_policy(struct fx *fx, const char *rules)
{
	char err[ERR_LEN] = "";
	char *policy = NULL;
	uint64_t v = 0;

	if (bx_dispatch_policy_make(rules, &policy, NULL, err, sizeof(err)) !=
	    0)
		fail_msg("policy: %s", err);
	if (bx_store_policy_set(fx->st, "cli", policy, &v, err, sizeof(err)) !=
	    0)
		fail_msg("policy set: %s", err);
	free(policy);
	return v;
}

static void
test_policy_push(void **state)
{
	struct fx *fx = *state;
	static const char rules1[] =
		"[{\"proto\": \"tcp\", \"dst_port\": 23, \"action\": \"deny\"}]";
	static const char want1[] =
		"[{\"proto\":\"tcp\",\"dst_port\":23,\"action\":\"deny\"}]";
	static const char rules2[] = "[{\"$comment\": \"all bulk\", "
				     "\"action\": \"bulk\"}]";
	Bauxite__V1__PolicyUpdate *u;
	struct bx_rpc_call *pa, *pa2, *pa3;
	struct node a;
	int64_t t0;

	join_new(fx, &a, "edge-a");
	/* No policy yet: nothing to send. */
	pa = open_stream(a.ch, BX_DISPATCH_WATCH_POLICY, 0);
	assert_null(next_policy(pa, QUIET_MS));
	wait_streams(fx, &pa, 1, count_policy, 1);

	t0 = mono_ms();
	assert_int_equal(set_policy(fx, rules1), 1);
	u = next_policy(pa, PUSH_MS);
	assert_non_null(u);
	assert_true(mono_ms() - t0 < PUSH_MS);
	assert_int_equal(u->version, 1);
	assert_string_equal(u->rules_json, want1);
	bauxite__v1__policy_update__free_unpacked(u, NULL);

	/* A new stream gets the current policy, unless it has it. */
	pa2 = open_stream(a.ch, BX_DISPATCH_WATCH_POLICY, 0);
	u = next_policy(pa2, WAIT_MS);
	assert_non_null(u);
	assert_int_equal(u->version, 1);
	bauxite__v1__policy_update__free_unpacked(u, NULL);
	pa3 = open_stream(a.ch, BX_DISPATCH_WATCH_POLICY, 1);
	assert_null(next_policy(pa3, QUIET_MS));
	wait_streams(fx, &pa3, 1, count_policy, 3);

	/* The next change reaches all three, comments dropped. */
	assert_int_equal(set_policy(fx, rules2), 2);
	u = next_policy(pa, PUSH_MS);
	assert_non_null(u);
	assert_int_equal(u->version, 2);
	assert_string_equal(u->rules_json, "[{\"action\":\"bulk\"}]");
	bauxite__v1__policy_update__free_unpacked(u, NULL);
	u = next_policy(pa2, PUSH_MS);
	assert_non_null(u);
	assert_int_equal(u->version, 2);
	bauxite__v1__policy_update__free_unpacked(u, NULL);
	u = next_policy(pa3, PUSH_MS);
	assert_non_null(u);
	assert_int_equal(u->version, 2);
	bauxite__v1__policy_update__free_unpacked(u, NULL);

	bx_rpc_call_free(pa);
	bx_rpc_call_free(pa2);
	bx_rpc_call_free(pa3);
	node_free(&a);
}

/*
 * Nodes that know a version this hub never made (it was restored from an
 * older database): they get the hub's, on opening and when it changes.
 */
static void
test_policy_older(void **state)
{
	struct fx *fx = *state;
	static const char rules[] = "[{\"action\": \"bulk\"}]";
	Bauxite__V1__PolicyUpdate *u;
	struct bx_rpc_call *pa, *pb, *pc;
	struct node a;

	join_new(fx, &a, "edge-a");
	/* The hub has no policy yet: nothing to send, until it sets one. */
	pa = open_stream(a.ch, BX_DISPATCH_WATCH_POLICY, 5);
	assert_null(next_policy(pa, QUIET_MS));
	wait_streams(fx, &pa, 1, count_policy, 1);
	assert_int_equal(set_policy(fx, rules), 1);
	u = next_policy(pa, PUSH_MS);
	assert_non_null(u);
	assert_int_equal(u->version, 1);
	assert_string_equal(u->rules_json, "[{\"action\":\"bulk\"}]");
	bauxite__v1__policy_update__free_unpacked(u, NULL);

	/* Opening with a higher version than the hub's: the hub's. */
	pb = open_stream(a.ch, BX_DISPATCH_WATCH_POLICY, 7);
	u = next_policy(pb, WAIT_MS);
	assert_non_null(u);
	assert_int_equal(u->version, 1);
	bauxite__v1__policy_update__free_unpacked(u, NULL);
	/* The same version: nothing. */
	pc = open_stream(a.ch, BX_DISPATCH_WATCH_POLICY, 1);
	assert_null(next_policy(pc, QUIET_MS));

	bx_rpc_call_free(pa);
	bx_rpc_call_free(pb);
	bx_rpc_call_free(pc);
	node_free(&a);
}

static void
test_policy_make(void **state)
{
	static const struct {
		const char *rules;
		int rc;
		const char *msg;
	} cases[] = {
		{ "[]", 0, NULL },
		{ "[{\"action\": \"critical\", \"proto\": \"icmp\"}]", 0, NULL },
		{ "[{\"action\": \"bulk\"}", -EINVAL, "rules: not JSON" },
		{ "{\"action\": \"bulk\"}", -EINVAL,
		  "rules: expected a JSON array" },
		{ "[{\"action\": \"bulk\"}, {\"action\": \"fast\"}]", -EINVAL,
		  "rules[1].action" },
		{ "[{\"action\": \"deny\", \"proto\": \"icmp\", "
		  "\"dst_port\": 5}]",
		  -EINVAL, "rules[0]" },
		{ "[{\"action\": \"deny\", \"colour\": \"red\"}]", -EINVAL,
		  "colour" },
	};
	char err[ERR_LEN], *policy, *rules;
	unsigned n;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		err[0] = '\0';
		policy = NULL;
		rc = bx_dispatch_policy_make(cases[i].rules, &policy, &n, err,
					     sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d (%s)", i, rc, err);
		if (rc != 0) {
			assert_null(policy);
			if (strstr(err, cases[i].msg) == NULL)
				fail_msg("case %zu: \"%s\" lacks \"%s\"", i,
					 err, cases[i].msg);
			continue;
		}
		/* Round trip through the stored form. */
		assert_int_equal(bx_dispatch_policy_rules(policy, &rules, err,
							  sizeof(err)),
				 0);
		assert_int_equal(n, i);
		assert_true(strncmp(policy, "{\"rules\":", 9) == 0);
		free(rules);
		free(policy);
	}
	assert_int_equal(bx_dispatch_policy_rules("{\"x\": 1}", &rules, err,
						  sizeof(err)),
			 -EINVAL);
	assert_int_equal(bx_dispatch_policy_rules("[]", &rules, err,
						  sizeof(err)),
			 -EINVAL);
}

/* ---- metrics ----------------------------------------------------------------- */

static int
report(struct node *n, const char *const *names, const uint64_t *values,
       size_t count, struct bx_rpc_result *res)
{
	Bauxite__V1__MetricsReport rep = BAUXITE__V1__METRICS_REPORT__INIT;
	Bauxite__V1__Counter c[4], *cp[4];
	uint8_t buf[512];
	size_t i, len;

	assert_true(count <= 4);
	for (i = 0; i < count; i++) {
		bauxite__v1__counter__init(&c[i]);
		c[i].name = (char *)names[i];
		c[i].value = values[i];
		cp[i] = &c[i];
	}
	rep.n_counters = count;
	rep.counters = cp;
	rep.unix_ms = 1;
	assert_true(bauxite__v1__metrics_report__get_packed_size(&rep) <=
		    sizeof(buf));
	len = bauxite__v1__metrics_report__pack(&rep, buf);
	return bx_rpc_unary(n->ch, BX_DISPATCH_REPORT_METRICS, buf, len,
			    WAIT_MS, res);
}

static void
test_metrics(void **state)
{
	struct fx *fx = *state;
	static const char *const names[] = { "rx_bytes", "tx_bytes" };
	static const char *const twice[] = { "rx_bytes", "rx_bytes" };
	static const uint64_t values[] = { 100, 200 };
	static const uint64_t huge[] = { UINT64_MAX, 1 };
	Bauxite__V1__MetricsAck *ack;
	struct bx_store_node *sn = NULL;
	struct bx_rpc_result res;
	char err[ERR_LEN] = "";
	json_t *obj;
	struct node a;
	int64_t before;

	join_new(fx, &a, "edge-a");
	before = test_clock(NULL);
	assert_int_equal(report(&a, names, values, 2, &res), 0);
	ack = bauxite__v1__metrics_ack__unpack(NULL, res.len, res.data);
	assert_non_null(ack);
	assert_true((int64_t)ack->unix_ms >= before);
	bauxite__v1__metrics_ack__free_unpacked(ack, NULL);
	bx_rpc_result_clear(&res);

	assert_int_equal(bx_store_node_get(fx->st, "edge-a", &sn, err,
					   sizeof(err)),
			 0);
	assert_non_null(sn->metrics_json);
	obj = json_loads(sn->metrics_json, 0, NULL);
	assert_non_null(obj);
	assert_int_equal(json_integer_value(json_object_get(obj, "rx_bytes")),
			 100);
	assert_int_equal(json_integer_value(json_object_get(obj, "tx_bytes")),
			 200);
	assert_int_equal(json_object_size(obj), 2);
	assert_true(sn->last_seen_ms >= before);
	json_decref(obj);
	bx_store_node_free(sn);

	assert_int_equal(report(&a, twice, values, 2, &res), -EINVAL);
	expect_status(&res, BX_RPC_INVALID_ARGUMENT,
		      "counters[1].name: given twice");
	bx_rpc_result_clear(&res);
	assert_int_equal(report(&a, names, huge, 2, &res), -EINVAL);
	expect_status(&res, BX_RPC_INVALID_ARGUMENT, "counters[0].value");
	bx_rpc_result_clear(&res);
	node_free(&a);
}

/* rx_bytes of node @id's latest stored report. */
static json_int_t
stored_rx(struct fx *fx, const char *id)
{
	struct bx_store_node *sn = NULL;
	char err[ERR_LEN] = "";
	json_int_t v;
	json_t *obj;

	assert_int_equal(bx_store_node_get(fx->st, id, &sn, err, sizeof(err)),
			 0);
	assert_non_null(sn->metrics_json);
	obj = json_loads(sn->metrics_json, 0, NULL);
	assert_non_null(obj);
	v = json_integer_value(json_object_get(obj, "rx_bytes"));
	json_decref(obj);
	bx_store_node_free(sn);
	return v;
}

/* A node reporting faster than the minimum interval: refused, unstored. */
static void
test_metrics_rate(void **state)
{
	struct fx *fx = *state;
	static const char *const names[] = { "rx_bytes" };
	static const uint64_t first[] = { 100 }, second[] = { 300 };
	struct bx_dispatch_stats st;
	struct bx_rpc_result res;
	struct node a, b;

	join_new(fx, &a, "edge-a");
	join_new(fx, &b, "edge-b");
	assert_int_equal(report(&a, names, first, 1, &res), 0);
	bx_rpc_result_clear(&res);
	assert_int_equal(report(&a, names, second, 1, &res), -ENOBUFS);
	expect_status(&res, BX_RPC_RESOURCE_EXHAUSTED, "metrics too frequent");
	bx_rpc_result_clear(&res);
	assert_int_equal(stored_rx(fx, "edge-a"), 100);
	bx_dispatch_stats_get(fx->d, &st);
	assert_int_equal(st.metrics_throttled, 1);
	/* Another node has a gate of its own. */
	assert_int_equal(report(&b, names, second, 1, &res), 0);
	bx_rpc_result_clear(&res);

	/* The interval over (by the hub's clock): taken. */
	atomic_fetch_add(&clock_offset_ms, BX_DISPATCH_METRICS_MIN_MS);
	assert_int_equal(report(&a, names, second, 1, &res), 0);
	bx_rpc_result_clear(&res);
	assert_int_equal(stored_rx(fx, "edge-a"), 300);
	node_free(&a);
	node_free(&b);
}

/* ---- signaling ---------------------------------------------------------------- */

static void
signal_send(struct bx_rpc_call *call, const char *from, const char *to,
	    uint64_t session)
{
	Bauxite__V1__SignalMessage m = BAUXITE__V1__SIGNAL_MESSAGE__INIT;
	char *cands[] = { "candidate:1 1 UDP 2130706431 10.0.0.1 7600 typ host" };
	uint8_t buf[256];
	size_t len;

	m.kind = BAUXITE__V1__SIGNAL_MESSAGE__KIND__OFFER;
	m.from_id = (char *)from;
	m.to_id = (char *)to;
	m.session = session;
	m.ufrag = "uf";
	m.pwd = "pw";
	m.n_candidates = 1;
	m.candidates = cands;
	assert_true(bauxite__v1__signal_message__get_packed_size(&m) <=
		    sizeof(buf));
	len = bauxite__v1__signal_message__pack(&m, buf);
	assert_int_equal(bx_rpc_call_send(call, buf, len), 0);
}

static void
test_signaling(void **state)
{
	struct fx *fx = *state;
	Bauxite__V1__SignalMessage *m;
	struct bx_dispatch_stats st;
	struct bx_rpc_call *calls[2], *b2;
	struct node a, b;
	uint8_t *data;
	size_t len;

	join_new(fx, &a, "edge-a");
	join_new(fx, &b, "edge-b");
	assert_int_equal(bx_rpc_call_open_bidi(a.ch,
					       BX_DISPATCH_EXCHANGE_CANDIDATES,
					       &calls[0]),
			 0);
	assert_int_equal(bx_rpc_call_open_bidi(b.ch,
					       BX_DISPATCH_EXCHANGE_CANDIDATES,
					       &calls[1]),
			 0);
	wait_streams(fx, calls, 2, count_signaling, 2);

	/* A pretends to be mallory: B sees A. */
	signal_send(calls[0], "mallory", "edge-b", 42);
	data = next_msg(calls[1], WAIT_MS, &len);
	assert_non_null(data);
	m = bauxite__v1__signal_message__unpack(NULL, len, data);
	free(data);
	assert_non_null(m);
	assert_string_equal(m->from_id, "edge-a");
	assert_string_equal(m->to_id, "edge-b");
	assert_int_equal(m->kind, BAUXITE__V1__SIGNAL_MESSAGE__KIND__OFFER);
	assert_int_equal(m->session, 42);
	assert_string_equal(m->ufrag, "uf");
	assert_string_equal(m->pwd, "pw");
	assert_int_equal(m->n_candidates, 1);
	bauxite__v1__signal_message__free_unpacked(m, NULL);

	/* Nobody is "edge-z": dropped and counted. */
	signal_send(calls[0], "", "edge-z", 43);
	for (;;) {
		bx_dispatch_stats_get(fx->d, &st);
		if (st.signals_dropped == 1)
			break;
		assert_null(next_msg(calls[0], 5, &len));
	}
	assert_int_equal(st.signals_relayed, 1);

	/* A newer stream of B replaces the old one, which ends. */
	assert_int_equal(bx_rpc_call_open_bidi(b.ch,
					       BX_DISPATCH_EXCHANGE_CANDIDATES,
					       &b2),
			 0);
	expect_end(calls[1], BX_RPC_ABORTED, "replaced", WAIT_MS);
	signal_send(calls[0], "edge-a", "edge-b", 44);
	data = next_msg(b2, WAIT_MS, &len);
	assert_non_null(data);
	m = bauxite__v1__signal_message__unpack(NULL, len, data);
	free(data);
	assert_non_null(m);
	assert_int_equal(m->session, 44);
	bauxite__v1__signal_message__free_unpacked(m, NULL);

	bx_rpc_call_free(b2);
	bx_rpc_call_free(calls[0]);
	bx_rpc_call_free(calls[1]);
	node_free(&a);
	node_free(&b);
}

/*
 * The flood: big messages first, more bytes than B's stream may queue
 * (BX_RPC_STREAM_QUEUE_BYTES) plus what gRPC takes in flight, then small
 * ones, many more than A's rate lets through.
 */
#define FLOOD_BIG_MSGS 150u
#define FLOOD_BIG_BYTES (400u * 1024u)
#define FLOOD_MSGS 1000u
#define FLOOD_LAST_SESSION 999999u

/*
 * Sends a signal to @to, with @cand as its one candidate when not NULL,
 * polling @call while its send queue is full.
 */
static void
signal_send_wait(struct bx_rpc_call *call, const char *to, uint64_t session,
		 char *cand)
{
	Bauxite__V1__SignalMessage m = BAUXITE__V1__SIGNAL_MESSAGE__INIT;
	int64_t until = mono_ms() + WAIT_MS;
	uint8_t *buf;
	size_t len, got;
	int rc;

	m.kind = BAUXITE__V1__SIGNAL_MESSAGE__KIND__CANDIDATE;
	m.to_id = (char *)to;
	m.session = session;
	m.n_candidates = cand != NULL ? 1 : 0;
	m.candidates = cand != NULL ? &cand : NULL;
	buf = malloc(bauxite__v1__signal_message__get_packed_size(&m));
	assert_non_null(buf);
	len = bauxite__v1__signal_message__pack(&m, buf);
	while ((rc = bx_rpc_call_send(call, buf, len)) == -ENOBUFS) {
		assert_true(mono_ms() < until);
		assert_null(next_msg(call, 1, &got));
	}
	assert_int_equal(rc, 0);
	free(buf);
}

/*
 * A floods B, which reads nothing meanwhile. What B's queue cannot take
 * is dropped, not B's stream; A's messages past its rate are dropped at
 * the hub; B then gets what was relayed, and what A sends once its rate
 * allows again.
 */
static void
test_signal_flood(void **state)
{
	struct fx *fx = *state;
	Bauxite__V1__SignalMessage *m;
	struct bx_dispatch_stats st;
	struct bx_rpc_call *calls[2];
	struct node a, b;
	uint64_t session = 0, total = FLOOD_BIG_MSGS + FLOOD_MSGS;
	char *big = malloc(FLOOD_BIG_BYTES + 1);
	int64_t until;
	uint8_t *data;
	unsigned i;
	size_t len;

	assert_non_null(big);
	memset(big, 'c', FLOOD_BIG_BYTES);
	big[FLOOD_BIG_BYTES] = '\0';
	join_new(fx, &a, "edge-a");
	join_new(fx, &b, "edge-b");
	assert_int_equal(bx_rpc_call_open_bidi(a.ch,
					       BX_DISPATCH_EXCHANGE_CANDIDATES,
					       &calls[0]),
			 0);
	assert_int_equal(bx_rpc_call_open_bidi(b.ch,
					       BX_DISPATCH_EXCHANGE_CANDIDATES,
					       &calls[1]),
			 0);
	wait_streams(fx, calls, 2, count_signaling, 2);

	for (i = 1; i <= total; i++)
		signal_send_wait(calls[0], "edge-b", i,
				 i <= FLOOD_BIG_MSGS ? big : NULL);
	until = mono_ms() + WAIT_MS;
	for (;;) {
		bx_dispatch_stats_get(fx->d, &st);
		if (st.signals_relayed + st.signals_dropped +
			    st.signals_throttled ==
		    total)
			break;
		assert_true(mono_ms() < until);
		assert_null(next_msg(calls[0], 5, &len));
	}
	/* B's queue overflowed, yet its stream is open; A was throttled. */
	assert_true(st.signals_dropped > 0);
	assert_int_equal(st.signaling_streams, 2);
	assert_true(st.signals_throttled > 0);
	assert_true(st.signals_relayed > 0);

	/* B reads what was relayed, in order. */
	for (i = 0; i < st.signals_relayed; i++) {
		data = next_msg(calls[1], WAIT_MS, &len);
		assert_non_null(data);
		m = bauxite__v1__signal_message__unpack(NULL, len, data);
		free(data);
		assert_non_null(m);
		assert_true(m->session > session);
		session = m->session;
		bauxite__v1__signal_message__free_unpacked(m, NULL);
	}
	/* A's bucket refills: its next message goes through. */
	usleep(2u * 1000000u / BX_DISPATCH_SIGNAL_RATE);
	signal_send_wait(calls[0], "edge-b", FLOOD_LAST_SESSION, NULL);
	data = next_msg(calls[1], WAIT_MS, &len);
	assert_non_null(data);
	m = bauxite__v1__signal_message__unpack(NULL, len, data);
	free(data);
	assert_non_null(m);
	assert_int_equal(m->session, FLOOD_LAST_SESSION);
	assert_string_equal(m->from_id, "edge-a");
	bauxite__v1__signal_message__free_unpacked(m, NULL);

	bx_rpc_call_free(calls[0]);
	bx_rpc_call_free(calls[1]);
	free(big);
	node_free(&a);
	node_free(&b);
}

/* ---- mesh settings and the relay secret ------------------------------------ */

/* An expiry is now + lifetime by the hub's clock, give or take this. */
#define CLOCK_SLACK_S 5
#define MESH_LIFETIME_S 600u
/* The domain of the relay key, as proto/bauxite/v1/mesh.proto states it. */
#define KEY_DOMAIN "bauxite relay key v1"

static void
secret_path(struct fx *fx, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", fx->state_dir,
		 BX_DISPATCH_RELAY_SECRET_FILE);
}

/* Up to @cap bytes of file @path; returns how many it has. */
static size_t
read_small(const char *path, uint8_t *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

/* The relay key by the formula of mesh.proto, from the secret file. */
static void
expected_key(struct fx *fx, const char *id, uint64_t expiry,
	     uint8_t out[BX_DISPATCH_RELAY_SECRET_LEN])
{
	uint8_t secret[BX_DISPATCH_RELAY_SECRET_LEN + 1], be[8];
	uint8_t id_len = (uint8_t)strlen(id);
	crypto_generichash_state st;
	char path[256];
	int i;

	secret_path(fx, path, sizeof(path));
	assert_int_equal(read_small(path, secret, sizeof(secret)),
			 BX_DISPATCH_RELAY_SECRET_LEN);
	for (i = 0; i < 8; i++)
		be[i] = (uint8_t)(expiry >> (56 - 8 * i));
	crypto_generichash_init(&st, secret, BX_DISPATCH_RELAY_SECRET_LEN,
				BX_DISPATCH_RELAY_SECRET_LEN);
	crypto_generichash_update(&st, (const uint8_t *)KEY_DOMAIN,
				  strlen(KEY_DOMAIN));
	crypto_generichash_update(&st, be, sizeof(be));
	crypto_generichash_update(&st, &id_len, 1);
	crypto_generichash_update(&st, (const uint8_t *)id, id_len);
	crypto_generichash_final(&st, out, BX_DISPATCH_RELAY_SECRET_LEN);
	sodium_memzero(secret, sizeof(secret));
}

static int
get_mesh(struct bx_rpc_channel *ch, struct bx_rpc_result *res)
{
	return bx_rpc_unary(ch, BX_DISPATCH_GET_MESH_SETTINGS, NULL, 0,
			    WAIT_MS, res);
}

/* GetMeshSettings of @n, which must succeed; free the result. */
static Bauxite__V1__TraversalSettings *
fetch_mesh(struct node *n)
{
	Bauxite__V1__TraversalSettings *t;
	struct bx_rpc_result res;

	if (get_mesh(n->ch, &res) != 0)
		fail_msg("GetMeshSettings of %s: %s %s", n->id,
			 bx_rpc_code_name(res.code), res.message);
	t = bauxite__v1__traversal_settings__unpack(NULL, res.len, res.data);
	assert_non_null(t);
	bx_rpc_result_clear(&res);
	return t;
}

/* @t's key is @id's by the formula and expires @lifetime_s after @now. */
static void
assert_key(struct fx *fx, const Bauxite__V1__TraversalSettings *t,
	   const char *id, int64_t now_s, uint32_t lifetime_s)
{
	uint8_t key[BX_DISPATCH_RELAY_SECRET_LEN];
	int64_t expiry = (int64_t)t->relay_key_expiry_unix_s;

	assert_int_equal(t->relay_key.len, sizeof(key));
	assert_true(expiry > now_s);
	assert_true(expiry >= now_s + lifetime_s - CLOCK_SLACK_S);
	assert_true(expiry <= now_s + lifetime_s + CLOCK_SLACK_S);
	expected_key(fx, id, t->relay_key_expiry_unix_s, key);
	assert_memory_equal(t->relay_key.data, key, sizeof(key));
}

static void
set_mesh(struct fx *fx)
{
	struct bx_store_mesh m = {
		.n_stun = 2,
		.stun = {
			{ .ip = htonl(0xc0000201u), .port = 3478 },
			{ .ip = htonl(0xcb007105u), .port = 19302 },
		},
		.n_relays = 1,
		.relays = { { .ip = htonl(0xc6336407u), .port = 7000 } },
		.relay_key_lifetime_s = MESH_LIFETIME_S,
	};
	struct bx_store_mesh got;
	char err[ERR_LEN] = "";
	uint64_t v = 0;

	if (bx_store_mesh_set(fx->st, "cli", &m, &v, err, sizeof(err)) != 0)
		fail_msg("mesh set: %s", err);
	assert_int_equal(v, 1);
	/* `mesh show` reads it back as set. */
	assert_int_equal(bx_store_mesh_get(fx->st, &got, err, sizeof(err)), 0);
	assert_int_equal(got.version, 1);
	assert_int_equal(got.n_stun, 2);
	assert_memory_equal(got.stun, m.stun, 2 * sizeof(m.stun[0]));
	assert_int_equal(got.n_relays, 1);
	assert_memory_equal(got.relays, m.relays, sizeof(m.relays[0]));
	assert_int_equal(got.relay_key_lifetime_s, MESH_LIFETIME_S);
}

/*
 * The defaults before anything is set, then the stored lists; each node
 * its own key, by the documented formula, expiring by the hub's clock;
 * the secret made 0600 on first need and never logged.
 */
static void
test_mesh_settings(void **state)
{
	struct fx *fx = *state;
	Bauxite__V1__TraversalSettings *t;
	uint8_t secret[BX_DISPATCH_RELAY_SECRET_LEN + 1];
	char path[256], hex[2 * BX_DISPATCH_RELAY_SECRET_LEN + 1];
	uint8_t key_a[BX_DISPATCH_RELAY_SECRET_LEN];
	struct bx_dispatch_stats st;
	struct stat sb;
	struct node a, b;

	join_new(fx, &a, "edge-a");
	join_new(fx, &b, "edge-b");
	secret_path(fx, path, sizeof(path));
	assert_int_equal(stat(path, &sb), -1);

	t = fetch_mesh(&a);
	assert_int_equal(t->n_stun_servers, 0);
	assert_int_equal(t->n_relays, 0);
	assert_key(fx, t, "edge-a", test_clock(NULL) / 1000,
		   BX_STORE_RELAY_KEY_LIFETIME_DEFAULT_S);
	bauxite__v1__traversal_settings__free_unpacked(t, NULL);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, BX_DISPATCH_RELAY_SECRET_MODE);
	assert_int_equal(sb.st_size, BX_DISPATCH_RELAY_SECRET_LEN);
	assert_true(log_has(fx, "relay secret created"));

	set_mesh(fx);
	t = fetch_mesh(&a);
	assert_int_equal(t->n_stun_servers, 2);
	assert_int_equal(t->stun_servers[0]->ip, 0xc0000201u);
	assert_int_equal(t->stun_servers[0]->port, 3478);
	assert_int_equal(t->stun_servers[1]->ip, 0xcb007105u);
	assert_int_equal(t->stun_servers[1]->port, 19302);
	assert_int_equal(t->n_relays, 1);
	assert_int_equal(t->relays[0]->ip, 0xc6336407u);
	assert_int_equal(t->relays[0]->port, 7000);
	assert_key(fx, t, "edge-a", test_clock(NULL) / 1000, MESH_LIFETIME_S);
	memcpy(key_a, t->relay_key.data, sizeof(key_a));
	bauxite__v1__traversal_settings__free_unpacked(t, NULL);

	/* B's key is B's: another id, another key. */
	t = fetch_mesh(&b);
	assert_key(fx, t, "edge-b", test_clock(NULL) / 1000, MESH_LIFETIME_S);
	assert_memory_not_equal(t->relay_key.data, key_a, sizeof(key_a));
	bauxite__v1__traversal_settings__free_unpacked(t, NULL);

	/* The hub's clock sets the expiry, whatever the node's says. */
	atomic_store(&clock_offset_ms, 3600 * 1000);
	t = fetch_mesh(&a);
	assert_key(fx, t, "edge-a", test_clock(NULL) / 1000, MESH_LIFETIME_S);
	bauxite__v1__traversal_settings__free_unpacked(t, NULL);
	atomic_store(&clock_offset_ms, 0);

	bx_dispatch_stats_get(fx->d, &st);
	assert_int_equal(st.mesh_settings, 4);
	assert_true(log_has(fx, "node edge-a: mesh settings (2 STUN, 1 relay(s)"));
	/* Neither the secret nor a key reaches the log. */
	assert_int_equal(read_small(path, secret, sizeof(secret)),
			 BX_DISPATCH_RELAY_SECRET_LEN);
	sodium_bin2hex(hex, sizeof(hex), secret, BX_DISPATCH_RELAY_SECRET_LEN);
	assert_false(log_has(fx, hex));
	sodium_bin2hex(hex, sizeof(hex), key_a, sizeof(key_a));
	assert_false(log_has(fx, hex));
	sodium_memzero(secret, sizeof(secret));
	node_free(&a);
	node_free(&b);
}

/*
 * Refused: a caller without a certificate, bytes that are not the
 * request, a revoked node, and (not the node's fault) a secret file the
 * hub must not use.
 */
static void
test_mesh_settings_refused(void **state)
{
	static const uint8_t garbage[] = { 0x0a, 0xff, 0x01 };
	struct fx *fx = *state;
	struct bx_rpc_result res;
	char path[256], err[ERR_LEN] = "";
	struct node a, b;
	FILE *f;

	join_new(fx, &a, "edge-a");
	join_new(fx, &b, "edge-b");
	assert_int_equal(get_mesh(fx->anon, &res), -EACCES);
	assert_int_equal(res.code, BX_RPC_UNAUTHENTICATED);
	bx_rpc_result_clear(&res);
	assert_int_equal(bx_rpc_unary(a.ch, BX_DISPATCH_GET_MESH_SETTINGS,
				      garbage, sizeof(garbage), WAIT_MS, &res),
			 -EINVAL);
	expect_status(&res, BX_RPC_INVALID_ARGUMENT, "request does not decode");
	bx_rpc_result_clear(&res);

	assert_int_equal(bx_store_node_revoke(fx->st, "cli", "edge-b", err,
					      sizeof(err)),
			 0);
	/* The store is checked on each call: no wait for the watcher. */
	assert_int_equal(get_mesh(b.ch, &res), -EPERM);
	expect_status(&res, BX_RPC_PERMISSION_DENIED, "node edge-b is revoked");
	bx_rpc_result_clear(&res);

	/* A secret others may read is not used, and the log says why. */
	secret_path(fx, path, sizeof(path));
	assert_int_equal(get_mesh(a.ch, &res), 0);
	bx_rpc_result_clear(&res);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(get_mesh(a.ch, &res), -ECONNREFUSED);
	expect_status(&res, BX_RPC_UNAVAILABLE, "relay secret unavailable");
	bx_rpc_result_clear(&res);
	assert_true(log_has(fx, "chmod 600"));
	/* Nor one of the wrong size. */
	assert_int_equal(chmod(path, 0600), 0);
	f = fopen(path, "ab");
	assert_non_null(f);
	assert_int_equal(fputc('x', f), 'x');
	fclose(f);
	assert_int_equal(get_mesh(a.ch, &res), -ECONNREFUSED);
	expect_status(&res, BX_RPC_UNAVAILABLE, "relay secret unavailable");
	bx_rpc_result_clear(&res);
	assert_true(log_has(fx, "not a relay secret (33 bytes, expected 32)"));
	node_free(&a);
	node_free(&b);
}

/* `relay export-secret`: the hub's secret, 0600, never over a file
 * unless forced. */
static void
test_relay_secret_export(void **state)
{
	struct fx *fx = *state;
	uint8_t want[BX_DISPATCH_RELAY_SECRET_LEN];
	uint8_t got[BX_DISPATCH_RELAY_SECRET_LEN + 1];
	char out[256], missing[256], err[ERR_LEN] = "";
	bool created = false;
	struct stat sb;
	mode_t old;

	snprintf(out, sizeof(out), "%s/relay-box.secret", fx->dir);
	/* Made on first need, here by the export. */
	assert_int_equal(bx_dispatch_relay_secret_export(fx->state_dir, out,
							 false, err,
							 sizeof(err)),
			 0);
	assert_int_equal(bx_dispatch_relay_secret_load(fx->state_dir, want,
						       &created, err,
						       sizeof(err)),
			 0);
	assert_false(created);
	assert_int_equal(stat(out, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, BX_DISPATCH_RELAY_SECRET_MODE);
	assert_int_equal(read_small(out, got, sizeof(got)), sizeof(want));
	assert_memory_equal(got, want, sizeof(want));

	assert_int_equal(bx_dispatch_relay_secret_export(fx->state_dir, out,
							 false, err,
							 sizeof(err)),
			 -EEXIST);
	assert_non_null(strstr(err, "--force"));
	/* Forced, with a umask that would open it up: still 0600. */
	assert_int_equal(chmod(out, 0644), 0);
	old = umask(0);
	assert_int_equal(bx_dispatch_relay_secret_export(fx->state_dir, out,
							 true, err,
							 sizeof(err)),
			 0);
	umask(old);
	assert_int_equal(stat(out, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, BX_DISPATCH_RELAY_SECRET_MODE);
	assert_int_equal(read_small(out, got, sizeof(got)), sizeof(want));
	assert_memory_equal(got, want, sizeof(want));

	snprintf(missing, sizeof(missing), "%s/no-such-hub", fx->dir);
	assert_int_equal(bx_dispatch_relay_secret_load(missing, got, NULL, err,
						       sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, missing));
	sodium_memzero(want, sizeof(want));
	sodium_memzero(got, sizeof(got));
}

/* ---- life cycle ---------------------------------------------------------------- */

/* Open streams hear why the hub goes; a restart keeps CA and nodes. */
static void
test_stop_restart(void **state)
{
	struct fx *fx = *state;
	Bauxite__V1__TopologyUpdate *u;
	uint8_t pin[BX_PKI_SHA256_LEN];
	struct bx_rpc_call *wa;
	struct node a, b;

	join_new(fx, &a, "edge-a");
	join_new(fx, &b, "edge-b");
	wa = open_stream(a.ch, BX_DISPATCH_WATCH_TOPOLOGY, 0);
	u = next_topology(wa, WAIT_MS);
	assert_non_null(u);
	bauxite__v1__topology_update__free_unpacked(u, NULL);
	memcpy(pin, fx->pin, sizeof(pin));

	hub_stop(fx);
	expect_end(wa, BX_RPC_UNAVAILABLE, "hub is shutting down", WAIT_MS);
	bx_rpc_call_free(wa);

	hub_start(fx);
	assert_memory_equal(fx->pin, pin, sizeof(pin));
	node_connect(fx, &a);
	wa = open_stream(a.ch, BX_DISPATCH_WATCH_TOPOLOGY, 0);
	u = next_topology(wa, WAIT_MS);
	assert_non_null(u);
	assert_true(u->full);
	assert_int_equal(u->n_changes, 1);
	assert_string_equal(u->changes[0]->peer->id, "edge-b");
	bauxite__v1__topology_update__free_unpacked(u, NULL);
	bx_rpc_call_free(wa);
	node_free(&a);
	node_free(&b);
}

static void
test_bad_conf(void **state)
{
	struct fx *fx = *state;
	static const char *const names[] = { HUB_NAME };
	struct bx_dispatch_conf good = {
		.state_dir = fx->state_dir,
		.listen = "127.0.0.1:0",
		.names = names,
		.n_names = 1,
		.mesh = { .addr = htonl(MESH_ADDR), .len = MESH_LEN },
		.mesh_port = MESH_PORT,
		.cipher = BX_DISPATCH_CIPHER_GCM,
	};
	struct bx_dispatch_conf c;
	char err[ERR_LEN], listen[64];

	c = good;
	c.cipher = "rot13";
	assert_null(bx_dispatch_start(&c, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "cipher: 'rot13'"));
	c = good;
	c.mesh_port = 0;
	assert_null(bx_dispatch_start(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "mesh_port"));
	c = good;
	c.n_names = 0;
	assert_null(bx_dispatch_start(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "names"));
	c = good;
	c.node_cert_days = 100000;
	assert_null(bx_dispatch_start(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "node_cert_days"));
	/* The running hub's port is taken. */
	c = good;
	snprintf(listen, sizeof(listen), "%s", fx->target);
	c.listen = listen;
	assert_null(bx_dispatch_start(&c, err, sizeof(err)));
	assert_int_equal(errno, EADDRINUSE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_provision, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_provision_endpoints,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_used, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_token_expired, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_signature, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_fields, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_csr, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_node_exists, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_join_token_form, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_topology_snapshot, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejoin_old_cert, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_anonymous, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_policy_push, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_policy_older, setup,
						teardown),
		cmocka_unit_test(test_policy_make),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_rate, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_signaling, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_signal_flood, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mesh_settings, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mesh_settings_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_secret_export, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stop_restart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_conf, setup,
						teardown),
	};

	if (sodium_init() < 0)
		return 1;
	/* gRPC's own log (the refused bind of test_bad_conf) is noise here. */
	setenv("GRPC_VERBOSITY", "NONE", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
