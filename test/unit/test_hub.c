/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suite "hub": the node's hub link (control/hub) against a real hub
 * (bx_dispatch in this process on 127.0.0.1, an ephemeral port, its own
 * state directory), with two nodes provisioned as `bauxite join` does and
 * each running a bx_hub link with its certificate files: real gRPC with
 * mutual TLS, no mocks. A second store connection plays the
 * `bauxite-dispatch mesh set` CLI.
 *
 * Covers the MESH event (each node's own relay key, equal to the formula
 * computed here from the relay secret file; the stored STUN servers and
 * relays; an expiry in the future), its refresh at half the key's life,
 * signals relayed both ways with sender, session, credentials and
 * candidates intact, a signal to an unknown node not breaking the stream,
 * bad signals refused (table), what a peer sends checked on arrival (bad
 * parts left out, an unknown kind refused), the signal leg coming back on
 * its own while the topology stays up, and a hub restart: the link
 * reconnects, fetches the settings again and signals again.
 *
 * Topology: a peer's endpoints as the store holds them (set as
 * `bauxite-dispatch nodes endpoints` does) arrive in order, in the first
 * snapshot and in updates while the link is up, at most
 * BX_HUB_MAX_ENDPOINTS of them. What a real hub cannot send (the store
 * refuses it: a zero address or port, a port past 65535, duplicates)
 * comes from a stand-in hub in this process, on the hub's own
 * certificate, that serves one crafted topology message. No EAL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
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
#include <sodium.h>

#include "bauxite/v1/policy.pb-c.h"
#include "bauxite/v1/provisioning.pb-c.h"
#include "bauxite/v1/signaling.pb-c.h"
#include "bauxite/v1/topology.pb-c.h"
#include "bx_common.h"
#include "bx_dispatch.h"
#include "bx_hub.h"
#include "bx_identity.h"
#include "bx_pki.h"
#include "bx_rpc.h"
#include "bx_store.h"

#define ERR_LEN 512
#define HUB_NAME "bauxite-hub"
#define MESH_ADDR 0x64400000u /* 100.64.0.0 */
#define MESH_LEN 24
#define MESH_PORT 7600
/* How long a test waits for what should take well under a second. */
#define WAIT_MS 5000
/* The link's reconnect back-off here: 1 s, never more. */
#define RECONNECT_MAX_S 1u
#define TOKEN_TTL_S 3600u
#define LIFETIME_S 3600u
/* The domain of the relay key, as proto/bauxite/v1/mesh.proto states it. */
#define KEY_DOMAIN "bauxite relay key v1"
/* An expiry is now + lifetime by the hub's clock, give or take this. */
#define CLOCK_SLACK_S 5u

/* ---- the hub ------------------------------------------------------------------- */

/* Added to the realtime clock by the hub's clock hook. */
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

static uint64_t
unix_s(void)
{
	return (uint64_t)time(NULL);
}

static void
log_line(void *arg, const char *line)
{
	(void)arg;
	if (getenv("BX_TEST_VERBOSE") != NULL)
		fprintf(stderr, "hub: %s\n", line);
}

/* A node: its keys, its certificate files and its link. */
struct node {
	char id[BX_PKI_NODE_ID_MAX + 1];
	char dir[256];
	char ca_file[300], cert_file[300], key_file[300];
	struct bx_hub *hub;
	unsigned ups, downs;        /* STATE events seen while waiting */
	char down_why[BX_HUB_WARNING_LEN];
};

struct fx {
	char dir[64];
	char state_dir[128];
	struct bx_dispatch *d;
	struct bx_store *st;         /* the CLI's connection */
	struct bx_rpc_channel *anon; /* pinned CA, no certificate: joins */
	char listen[64];             /* where the hub serves, once known */
	struct node a, b;
};

static void
hub_start(struct fx *fx, const char *listen)
{
	static const char *const names[] = { HUB_NAME };
	struct bx_dispatch_conf conf = {
		.state_dir = fx->state_dir,
		.listen = listen,
		.names = names,
		.n_names = 1,
		.mesh = { .addr = htonl(MESH_ADDR), .len = MESH_LEN },
		.mesh_port = MESH_PORT,
		.cipher = BX_DISPATCH_CIPHER_CHACHA,
		.log = log_line,
		.clock_ms = test_clock,
	};
	char err[ERR_LEN] = "";

	fx->d = bx_dispatch_start(&conf, err, sizeof(err));
	if (fx->d == NULL)
		fail_msg("bx_dispatch_start: %s", err);
	snprintf(fx->listen, sizeof(fx->listen), "127.0.0.1:%u",
		 bx_dispatch_port(fx->d));
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(text);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/*
 * Provisions node @id as `bauxite join` does (its identity signs the
 * request over the token, its id, its CSR and its X25519 key) and writes
 * the CA, its certificate and its key (0600) to its directory.
 */
static void
node_join(struct fx *fx, struct node *n, const char *id)
{
	Bauxite__V1__ProvisionNodeRequest r =
		BAUXITE__V1__PROVISION_NODE_REQUEST__INIT;
	Bauxite__V1__ProvisionNodeResponse *resp;
	Bauxite__V1__Endpoint ep = BAUXITE__V1__ENDPOINT__INIT;
	char token[BX_STORE_TOKEN_LEN + 1], err[ERR_LEN] = "";
	uint8_t sig[BX_IDENTITY_SIG_LEN];
	struct bx_identity *ident = NULL;
	struct bx_rpc_result res;
	char *key_pem = NULL;
	uint8_t *csr = NULL, *buf;
	size_t csr_len = 0, len;

	memset(n, 0, sizeof(*n));
	snprintf(n->id, sizeof(n->id), "%s", id);
	snprintf(n->dir, sizeof(n->dir), "%s/%s", fx->dir, id);
	if (bx_identity_generate(n->dir, false, &ident, err, sizeof(err)) != 0)
		fail_msg("identity: %s", err);
	assert_int_equal(bx_pki_key_generate(&key_pem, err, sizeof(err)), 0);
	if (bx_pki_csr_make(key_pem, id, &csr, &csr_len, err, sizeof(err)) != 0)
		fail_msg("csr: %s", err);
	if (bx_store_token_create(fx->st, "cli:test", TOKEN_TTL_S, 1, NULL, 0,
				  token, err, sizeof(err)) != 0)
		fail_msg("token: %s", err);
	assert_int_equal(bx_identity_join_sign(ident, token, id, csr, csr_len,
					       sig),
			 0);
	r.token = token;
	r.node_id = n->id;
	r.csr_der.data = csr;
	r.csr_der.len = csr_len;
	r.ed25519_public.data = (uint8_t *)bx_identity_ed25519_public(ident);
	r.ed25519_public.len = BX_IDENTITY_KEY_LEN;
	r.x25519_public.data = (uint8_t *)bx_identity_x25519_public(ident);
	r.x25519_public.len = BX_IDENTITY_KEY_LEN;
	r.identity_signature.data = sig;
	r.identity_signature.len = sizeof(sig);
	r.endpoint = &ep;
	len = bauxite__v1__provision_node_request__get_packed_size(&r);
	buf = malloc(len);
	assert_non_null(buf);
	bauxite__v1__provision_node_request__pack(&r, buf);
	if (bx_rpc_unary(fx->anon, BX_DISPATCH_PROVISION, buf, len, WAIT_MS,
			 &res) != 0)
		fail_msg("join %s: %s %s", id, bx_rpc_code_name(res.code),
			 res.message);
	resp = bauxite__v1__provision_node_response__unpack(NULL, res.len,
							     res.data);
	assert_non_null(resp);
	snprintf(n->ca_file, sizeof(n->ca_file), "%s/hub-ca.crt", n->dir);
	snprintf(n->cert_file, sizeof(n->cert_file), "%s/node.crt", n->dir);
	snprintf(n->key_file, sizeof(n->key_file), "%s/node.key", n->dir);
	write_file(n->ca_file, resp->ca_cert_pem, 0644);
	write_file(n->cert_file, resp->node_cert_pem, 0644);
	write_file(n->key_file, key_pem, 0600);
	bauxite__v1__provision_node_response__free_unpacked(resp, NULL);
	bx_rpc_result_clear(&res);
	free(buf);
	free(csr);
	bx_pki_key_free(key_pem);
	bx_identity_free(ident);
}

static void
link_start(struct fx *fx, struct node *n)
{
	struct bx_hub_conf conf = {
		.target = fx->listen,
		.server_name = HUB_NAME,
		.ca_file = n->ca_file,
		.cert_file = n->cert_file,
		.key_file = n->key_file,
		.metrics_interval_s = 10,
		.reconnect_max_s = RECONNECT_MAX_S,
	};
	char err[ERR_LEN] = "";

	n->hub = bx_hub_start(&conf, err, sizeof(err));
	if (n->hub == NULL)
		fail_msg("bx_hub_start %s: %s", n->id, err);
}

static void
set_mesh(struct fx *fx, uint32_t lifetime_s)
{
	struct bx_store_mesh m = {
		.n_stun = 2,
		.stun = {
			{ .ip = htonl(0xc0000201u), .port = 3478 },
			{ .ip = htonl(0xc0000209u), .port = 19302 },
		},
		.n_relays = 1,
		.relays = { { .ip = htonl(0xc0000202u), .port = 7000 } },
		.relay_key_lifetime_s = lifetime_s,
	};
	char err[ERR_LEN] = "";

	if (bx_store_mesh_set(fx->st, "cli:test", &m, NULL, err,
			      sizeof(err)) != 0)
		fail_msg("mesh set: %s", err);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/*
 * The hub with the mesh settings set and nodes edge-a and edge-b joined;
 * their links are started by each test (some change the hub's clock
 * first).
 */
static int
setup(void **state)
{
	struct bx_rpc_client_creds creds = {
		.kind = BX_RPC_CREDS_PINNED_CA,
		.server_name = HUB_NAME,
	};
	struct fx *fx = calloc(1, sizeof(*fx));
	char path[256], err[ERR_LEN] = "";

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/bx_hub_XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->state_dir, sizeof(fx->state_dir), "%s/hub", fx->dir);
	if (mkdir(fx->state_dir, 0700) != 0)
		return -1;
	atomic_store(&clock_offset_ms, 0);
	hub_start(fx, "127.0.0.1:0");
	snprintf(path, sizeof(path), "%s/%s", fx->state_dir, BX_STORE_DB_FILE);
	if (bx_store_open_sqlite(path, NULL, &fx->st, err, sizeof(err)) != 0) {
		fprintf(stderr, "store: %s\n", err);
		return -1;
	}
	set_mesh(fx, LIFETIME_S);
	bx_dispatch_ca_pin(fx->d, creds.ca_sha256);
	fx->anon = bx_rpc_channel_create(fx->listen, &creds, err, sizeof(err));
	if (fx->anon == NULL) {
		fprintf(stderr, "pinned channel: %s\n", err);
		return -1;
	}
	node_join(fx, &fx->a, "edge-a");
	node_join(fx, &fx->b, "edge-b");
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	bx_hub_stop(fx->a.hub);
	bx_hub_stop(fx->b.hub);
	bx_rpc_channel_destroy(fx->anon);
	bx_dispatch_stop(fx->d);
	bx_store_close(fx->st);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* ---- helpers ------------------------------------------------------------------ */

/*
 * The next event of @kind within @timeout_ms (NULL if none); the events
 * before it are dropped, STATE ones counted in @n.
 */
static struct bx_hub_event *
wait_event(struct node *n, enum bx_hub_event_kind kind, int timeout_ms)
{
	int64_t until = mono_ms() + timeout_ms;
	struct bx_hub_event *ev;

	for (;;) {
		while (bx_hub_poll(n->hub, &ev) == 0) {
			if (ev->kind == kind)
				return ev;
			if (ev->kind == BX_HUB_EV_STATE && ev->connected) {
				n->ups++;
			} else if (ev->kind == BX_HUB_EV_STATE) {
				n->downs++;
				snprintf(n->down_why, sizeof(n->down_why), "%s",
					 ev->warning);
			}
			bx_hub_event_free(ev);
		}
		if (mono_ms() >= until)
			return NULL;
		usleep(5 * 1000);
	}
}

static struct bx_hub_event *
expect_event(struct node *n, enum bx_hub_event_kind kind)
{
	struct bx_hub_event *ev = wait_event(n, kind, WAIT_MS);

	if (ev == NULL)
		fail_msg("%s: no event of kind %d within %d ms", n->id,
			 (int)kind, WAIT_MS);
	return ev;
}

/* The relay key by the formula of mesh.proto, from the secret file. */
static void
expected_key(struct fx *fx, const char *id, uint64_t expiry,
	     uint8_t out[BX_HUB_RELAY_KEY_LEN])
{
	uint8_t secret[BX_DISPATCH_RELAY_SECRET_LEN], be[8];
	crypto_generichash_state st;
	uint8_t id_len = (uint8_t)strlen(id);
	char path[256];
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/relay.secret", fx->state_dir);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(secret, 1, sizeof(secret), f), sizeof(secret));
	assert_int_equal(fgetc(f), EOF);
	fclose(f);
	for (i = 0; i < 8; i++)
		be[i] = (uint8_t)(expiry >> (56 - 8 * i));
	crypto_generichash_init(&st, secret, sizeof(secret),
				BX_HUB_RELAY_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)KEY_DOMAIN,
				  strlen(KEY_DOMAIN));
	crypto_generichash_update(&st, be, sizeof(be));
	crypto_generichash_update(&st, &id_len, 1);
	crypto_generichash_update(&st, (const uint8_t *)id, id_len);
	crypto_generichash_final(&st, out, BX_HUB_RELAY_KEY_LEN);
	sodium_memzero(secret, sizeof(secret));
}

static void
assert_mesh(struct fx *fx, const struct node *n,
	    const struct bx_hub_event *ev, uint64_t lifetime_s)
{
	const struct bx_hub_mesh *m = &ev->mesh;
	uint8_t key[BX_HUB_RELAY_KEY_LEN];
	uint64_t now = unix_s();

	assert_int_equal(ev->kind, BX_HUB_EV_MESH);
	assert_string_equal(ev->warning, "");
	assert_int_equal(m->n_stun, 2);
	assert_int_equal(m->stun[0].ip, htonl(0xc0000201u));
	assert_int_equal(m->stun[0].port, 3478);
	assert_int_equal(m->stun[1].ip, htonl(0xc0000209u));
	assert_int_equal(m->stun[1].port, 19302);
	assert_int_equal(m->n_relays, 1);
	assert_int_equal(m->relays[0].ip, htonl(0xc0000202u));
	assert_int_equal(m->relays[0].port, 7000);
	assert_true(m->relay_key_expiry > now);
	assert_true(m->relay_key_expiry <= now + lifetime_s + CLOCK_SLACK_S);
	assert_true(m->relay_key_expiry + CLOCK_SLACK_S >= now + lifetime_s);
	expected_key(fx, n->id, m->relay_key_expiry, key);
	assert_memory_equal(m->relay_key, key, sizeof(key));
}

/* Waits until the hub holds @want signaling streams. */
static void
wait_signaling(struct fx *fx, unsigned want)
{
	int64_t until = mono_ms() + WAIT_MS;
	struct bx_dispatch_stats st;

	for (;;) {
		bx_dispatch_stats_get(fx->d, &st);
		if (st.signaling_streams == want)
			return;
		assert_true(mono_ms() < until);
		usleep(5 * 1000);
	}
}

static struct bx_hub_signal
make_signal(enum bx_hub_signal_kind kind, const char *to, uint64_t session)
{
	struct bx_hub_signal s;

	memset(&s, 0, sizeof(s));
	s.kind = kind;
	snprintf(s.peer, sizeof(s.peer), "%s", to);
	s.session = session;
	return s;
}

/* Sends @s from @n, waiting while its signal leg is not up yet. */
static void
send_signal(struct node *n, const struct bx_hub_signal *s)
{
	int64_t until = mono_ms() + WAIT_MS;
	int rc;

	while ((rc = bx_hub_signal_send(n->hub, s)) == -EAGAIN) {
		assert_true(mono_ms() < until);
		usleep(5 * 1000);
	}
	assert_int_equal(rc, 0);
}

/*
 * @n's signal counters once @sent signals are counted as sent: the link
 * counts one just after gRPC took it, which can be after it arrived.
 */
static struct bx_hub_signal_stats
sent_stats(struct node *n, uint64_t sent)
{
	int64_t until = mono_ms() + WAIT_MS;
	struct bx_hub_signal_stats st;

	for (;;) {
		bx_hub_signal_stats(n->hub, &st);
		if (st.sent >= sent)
			break;
		assert_true(mono_ms() < until);
		usleep(5 * 1000);
	}
	assert_int_equal(st.sent, sent);
	return st;
}

/* Both links up, with their first MESH events taken. */
static void
links_up(struct fx *fx)
{
	struct bx_hub_event *ev;

	link_start(fx, &fx->a);
	link_start(fx, &fx->b);
	ev = expect_event(&fx->a, BX_HUB_EV_MESH);
	bx_hub_event_free(ev);
	ev = expect_event(&fx->b, BX_HUB_EV_MESH);
	bx_hub_event_free(ev);
	wait_signaling(fx, 2);
}

/* ---- tests ------------------------------------------------------------------------ */

/* Each node gets the stored lists and a key of its own. */
static void
test_mesh_event(void **state)
{
	struct fx *fx = *state;
	struct bx_hub_event *ea, *eb;

	link_start(fx, &fx->a);
	link_start(fx, &fx->b);
	ea = expect_event(&fx->a, BX_HUB_EV_MESH);
	eb = expect_event(&fx->b, BX_HUB_EV_MESH);
	assert_mesh(fx, &fx->a, ea, LIFETIME_S);
	assert_mesh(fx, &fx->b, eb, LIFETIME_S);
	assert_memory_not_equal(ea->mesh.relay_key, eb->mesh.relay_key,
				BX_HUB_RELAY_KEY_LEN);
	/* Connected first: the fetch follows the streams coming up. */
	assert_int_equal(fx->a.ups, 1);
	assert_int_equal(fx->a.downs, 0);
	assert_true(bx_hub_connected(fx->a.hub));
	bx_hub_event_free(ea);
	bx_hub_event_free(eb);
	/* Not again before half the key's life. */
	assert_null(wait_event(&fx->a, BX_HUB_EV_MESH, 1500));
}

/*
 * A key with little life left is fetched again at half of it: the hub's
 * clock runs behind by all but a few seconds of the lifetime.
 */
static void
test_mesh_refresh(void **state)
{
	struct fx *fx = *state;
	const uint64_t left_s = 4;
	struct bx_hub_event *first, *second;
	int64_t t0;

	set_mesh(fx, BX_STORE_RELAY_KEY_LIFETIME_MIN_S);
	atomic_store(&clock_offset_ms,
		     -(int64_t)(BX_STORE_RELAY_KEY_LIFETIME_MIN_S - left_s) * 1000);
	link_start(fx, &fx->a);
	first = expect_event(&fx->a, BX_HUB_EV_MESH);
	t0 = mono_ms();
	assert_true(first->mesh.relay_key_expiry <= unix_s() + left_s + 1);
	second = expect_event(&fx->a, BX_HUB_EV_MESH);
	/* Half of what was left, not sooner. */
	assert_true(mono_ms() - t0 >= (int64_t)(left_s * 1000 / 2) - 1000);
	assert_true(second->mesh.relay_key_expiry > first->mesh.relay_key_expiry);
	assert_memory_not_equal(second->mesh.relay_key,
				first->mesh.relay_key, BX_HUB_RELAY_KEY_LEN);
	assert_int_equal(fx->a.downs, 0);
	bx_hub_event_free(first);
	bx_hub_event_free(second);
}

static void
assert_signal(const struct bx_hub_event *ev, const struct bx_hub_signal *sent,
	      const char *from)
{
	const struct bx_hub_signal *got = &ev->signal;
	unsigned i;

	assert_int_equal(ev->kind, BX_HUB_EV_SIGNAL);
	assert_string_equal(ev->warning, "");
	assert_int_equal(got->kind, sent->kind);
	assert_string_equal(got->peer, from);
	assert_int_equal(got->session, sent->session);
	assert_string_equal(got->ufrag, sent->ufrag);
	assert_string_equal(got->pwd, sent->pwd);
	assert_int_equal(got->n_cand, sent->n_cand);
	for (i = 0; i < sent->n_cand; i++)
		assert_string_equal(got->cand[i], sent->cand[i]);
}

/* A's offer reaches B as A's; B's answer reaches A as B's. */
static void
test_signal_relay(void **state)
{
	struct fx *fx = *state;
	struct bx_hub_signal offer, answer;
	struct bx_hub_signal_stats st;
	struct bx_hub_event *ev;
	unsigned i;

	links_up(fx);
	offer = make_signal(BX_HUB_SIG_OFFER, "edge-b", 0x1122334455667788ull);
	snprintf(offer.ufrag, sizeof(offer.ufrag), "Xq9zUfragABCDEFGH1234567");
	snprintf(offer.pwd, sizeof(offer.pwd), "p+w/d0123456789abcdefghijklmnopq");
	offer.n_cand = BX_HUB_SIG_CAND_MAX;
	for (i = 0; i < offer.n_cand; i++)
		snprintf(offer.cand[i], sizeof(offer.cand[i]),
			 "candidate:%u 1 UDP 2130706431 10.0.0.%u 76%02u typ host",
			 i + 1, i + 1, i);
	/* The longest candidate line there is room for. */
	memset(offer.cand[7], 'c', sizeof(offer.cand[7]) - 1);
	offer.cand[7][sizeof(offer.cand[7]) - 1] = '\0';
	send_signal(&fx->a, &offer);
	ev = expect_event(&fx->b, BX_HUB_EV_SIGNAL);
	assert_signal(ev, &offer, "edge-a");
	bx_hub_event_free(ev);

	answer = make_signal(BX_HUB_SIG_ANSWER, "edge-a", offer.session);
	snprintf(answer.ufrag, sizeof(answer.ufrag), "bbbb");
	snprintf(answer.pwd, sizeof(answer.pwd), "0123456789012345678901");
	send_signal(&fx->b, &answer);
	ev = expect_event(&fx->a, BX_HUB_EV_SIGNAL);
	assert_signal(ev, &answer, "edge-b");
	bx_hub_event_free(ev);

	st = sent_stats(&fx->a, 1);
	assert_int_equal(st.received, 1);
	assert_int_equal(st.lost + st.refused + st.dropped, 0);
}

/* The hub drops a signal nobody can take; the stream carries on. */
static void
test_signal_unknown_peer(void **state)
{
	struct fx *fx = *state;
	struct bx_hub_signal lost, bye;
	struct bx_hub_signal_stats st;
	struct bx_dispatch_stats ds;
	struct bx_hub_event *ev;
	int64_t until;

	links_up(fx);
	lost = make_signal(BX_HUB_SIG_INVITE, "edge-z", 1);
	send_signal(&fx->a, &lost);
	until = mono_ms() + WAIT_MS;
	do {
		assert_true(mono_ms() < until);
		usleep(5 * 1000);
		bx_dispatch_stats_get(fx->d, &ds);
	} while (ds.signals_dropped == 0);
	assert_int_equal(ds.signals_dropped, 1);

	bye = make_signal(BX_HUB_SIG_BYE, "edge-b", 2);
	send_signal(&fx->a, &bye);
	ev = expect_event(&fx->b, BX_HUB_EV_SIGNAL);
	assert_signal(ev, &bye, "edge-a");
	bx_hub_event_free(ev);
	bx_dispatch_stats_get(fx->d, &ds);
	assert_int_equal(ds.signals_relayed, 1);
	assert_int_equal(ds.signaling_streams, 2);
	st = sent_stats(&fx->a, 2);
	assert_int_equal(st.lost, 0);
	assert_true(bx_hub_connected(fx->a.hub));
	assert_int_equal(fx->a.downs, 0);
}

typedef void (*spoil_fn)(struct bx_hub_signal *s);

static void
spoil_kind(struct bx_hub_signal *s)
{
	s->kind = (enum bx_hub_signal_kind)6;
}

static void
spoil_peer_empty(struct bx_hub_signal *s)
{
	s->peer[0] = '\0';
}

static void
spoil_peer_space(struct bx_hub_signal *s)
{
	snprintf(s->peer, sizeof(s->peer), "edge b");
}

static void
spoil_peer_unterminated(struct bx_hub_signal *s)
{
	memset(s->peer, 'a', sizeof(s->peer));
}

static void
spoil_ufrag_space(struct bx_hub_signal *s)
{
	snprintf(s->ufrag, sizeof(s->ufrag), "ab cd");
}

static void
spoil_ufrag_unterminated(struct bx_hub_signal *s)
{
	memset(s->ufrag, 'u', sizeof(s->ufrag));
}

static void
spoil_pwd_control(struct bx_hub_signal *s)
{
	snprintf(s->pwd, sizeof(s->pwd), "pass\x01word");
}

static void
spoil_pwd_high(struct bx_hub_signal *s)
{
	snprintf(s->pwd, sizeof(s->pwd), "pass\xc3\xa9word");
}

static void
spoil_n_cand(struct bx_hub_signal *s)
{
	s->n_cand = BX_HUB_SIG_CAND_MAX + 1;
}

static void
spoil_cand_empty(struct bx_hub_signal *s)
{
	s->n_cand = 2;
	s->cand[1][0] = '\0';
}

static void
spoil_cand_newline(struct bx_hub_signal *s)
{
	snprintf(s->cand[0], sizeof(s->cand[0]), "candidate:1 1 UDP 1 10.0.0.1 1 typ host\n");
}

static void
spoil_cand_unterminated(struct bx_hub_signal *s)
{
	memset(s->cand[0], 'c', sizeof(s->cand[0]));
}

/* Each spoils one rule of struct bx_hub_signal; none is queued. */
static void
test_signal_bad(void **state)
{
	static const struct {
		const char *what;
		spoil_fn spoil;
	} bad[] = {
		{ "kind past BYE", spoil_kind },
		{ "no peer", spoil_peer_empty },
		{ "peer not an id", spoil_peer_space },
		{ "peer unterminated", spoil_peer_unterminated },
		{ "space in ufrag", spoil_ufrag_space },
		{ "ufrag unterminated", spoil_ufrag_unterminated },
		{ "control byte in pwd", spoil_pwd_control },
		{ "non-ASCII pwd", spoil_pwd_high },
		{ "too many candidates", spoil_n_cand },
		{ "empty candidate", spoil_cand_empty },
		{ "newline in candidate", spoil_cand_newline },
		{ "candidate unterminated", spoil_cand_unterminated },
	};
	struct fx *fx = *state;
	struct bx_hub_signal good, s;
	struct bx_hub_signal_stats st;
	struct bx_hub_event *ev;
	size_t i;

	links_up(fx);
	good = make_signal(BX_HUB_SIG_CANDIDATE, "edge-b", 9);
	snprintf(good.ufrag, sizeof(good.ufrag), "uf");
	snprintf(good.pwd, sizeof(good.pwd), "pw");
	good.n_cand = 1;
	snprintf(good.cand[0], sizeof(good.cand[0]),
		 "candidate:1 1 UDP 2130706431 10.0.0.1 7600 typ host");
	for (i = 0; i < BX_ARRAY_SIZE(bad); i++) {
		s = good;
		bad[i].spoil(&s);
		if (bx_hub_signal_send(fx->a.hub, &s) != -EINVAL)
			fail_msg("%s: not refused", bad[i].what);
	}
	assert_int_equal(bx_hub_signal_send(fx->a.hub, NULL), -EINVAL);
	/* Nothing of them went out; the good one does. */
	send_signal(&fx->a, &good);
	ev = expect_event(&fx->b, BX_HUB_EV_SIGNAL);
	assert_signal(ev, &good, "edge-a");
	bx_hub_event_free(ev);
	st = sent_stats(&fx->a, 1);
	assert_int_equal(st.lost, 0);
	assert_null(wait_event(&fx->b, BX_HUB_EV_SIGNAL, 300));
}

static char *
slurp(const char *path)
{
	char *text = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_true(getdelim(&text, &cap, '\0', f) > 0);
	fclose(f);
	return text;
}

/* A channel of node @n's own, beside its link, with its certificate. */
static struct bx_rpc_channel *
raw_channel(struct fx *fx, const struct node *n)
{
	struct bx_rpc_client_creds creds = {
		.kind = BX_RPC_CREDS_TLS,
		.server_name = HUB_NAME,
	};
	struct bx_rpc_channel *ch;
	char err[ERR_LEN] = "";

	creds.ca_pem = slurp(n->ca_file);
	creds.cert_pem = slurp(n->cert_file);
	creds.key_pem = slurp(n->key_file);
	ch = bx_rpc_channel_create(fx->listen, &creds, err, sizeof(err));
	if (ch == NULL)
		fail_msg("channel: %s", err);
	free((char *)creds.ca_pem);
	free((char *)creds.cert_pem);
	bx_pki_key_free((char *)creds.key_pem);
	return ch;
}

/*
 * Polls @call, a raw stream whose queued messages move on only when it
 * is polled, until @n's link counts @refused refusals or hands over a
 * SIGNAL event (returned).
 */
static struct bx_hub_event *
signal_while_polling(struct node *n, struct bx_rpc_call *call,
		     uint64_t refused)
{
	int64_t until = mono_ms() + WAIT_MS;
	struct bx_hub_signal_stats st;
	struct bx_hub_event *ev;
	uint8_t *data;
	size_t len;

	for (;;) {
		assert_true(mono_ms() < until);
		assert_int_equal(bx_rpc_call_next(call, 5, &data, &len),
				 -EAGAIN);
		ev = wait_event(n, BX_HUB_EV_SIGNAL, 0);
		if (ev != NULL)
			return ev;
		bx_hub_signal_stats(n->hub, &st);
		if (st.refused >= refused)
			return NULL;
	}
}

/*
 * What a peer sends is checked on arrival: node C, through a stream of
 * its own, sends A what a bx_hub link would never send. A bad pwd or
 * candidate is left out and said; an unknown kind is refused whole.
 */
static void
test_signal_received_checked(void **state)
{
	struct fx *fx = *state;
	Bauxite__V1__SignalMessage m = BAUXITE__V1__SIGNAL_MESSAGE__INIT;
	char *cands[BX_HUB_SIG_CAND_MAX + 5];
	char good[BX_HUB_SIG_CAND_MAX + 5][64];
	char too_long[BX_HUB_SIG_CAND_LEN + 1];
	struct bx_hub_signal_stats st;
	struct bx_rpc_channel *ch;
	struct bx_rpc_call *call;
	struct bx_hub_event *ev;
	struct node c;
	uint8_t buf[4096];
	unsigned i;

	links_up(fx);
	node_join(fx, &c, "edge-c");
	ch = raw_channel(fx, &c);
	assert_int_equal(bx_rpc_call_open_bidi(ch,
					       BX_DISPATCH_EXCHANGE_CANDIDATES,
					       &call),
			 0);
	wait_signaling(fx, 3);

	/* Of 13 candidates, 1 is empty, 3 has a tab and 5 is too long;
	 * past the eighth good one (10) the rest is left out. */
	for (i = 0; i < BX_ARRAY_SIZE(cands); i++) {
		snprintf(good[i], sizeof(good[i]),
			 "candidate:%u 1 UDP 2130706431 10.0.0.%u 7600 typ host",
			 i, i);
		cands[i] = good[i];
	}
	memset(too_long, 'x', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	cands[1] = "";
	cands[3] = "candidate:3 1 UDP\t1 10.0.0.3 7600 typ host";
	cands[5] = too_long;
	m.kind = BAUXITE__V1__SIGNAL_MESSAGE__KIND__CANDIDATE;
	m.from_id = "edge-b"; /* the hub stamps C's own */
	m.to_id = "edge-a";
	m.session = 5;
	m.ufrag = "fine";
	m.pwd = "not\x7fprintable";
	m.n_candidates = BX_ARRAY_SIZE(cands);
	m.candidates = cands;
	assert_true(bauxite__v1__signal_message__get_packed_size(&m) <=
		    sizeof(buf));
	assert_int_equal(bx_rpc_call_send(call, buf,
					  bauxite__v1__signal_message__pack(&m, buf)),
			 0);
	ev = signal_while_polling(&fx->a, call, 1);
	assert_non_null(ev);
	assert_int_equal(ev->signal.kind, BX_HUB_SIG_CANDIDATE);
	assert_string_equal(ev->signal.peer, "edge-c");
	assert_int_equal(ev->signal.session, 5);
	assert_string_equal(ev->signal.ufrag, "fine");
	assert_string_equal(ev->signal.pwd, "");
	assert_int_equal(ev->signal.n_cand, BX_HUB_SIG_CAND_MAX);
	assert_string_equal(ev->signal.cand[0], good[0]);
	assert_string_equal(ev->signal.cand[1], good[2]);
	assert_string_equal(ev->signal.cand[2], good[4]);
	assert_string_equal(ev->signal.cand[3], good[6]);
	assert_string_equal(ev->signal.cand[7], good[10]);
	assert_non_null(strstr(ev->warning, "pwd"));
	assert_non_null(strstr(ev->warning, "candidates[1] (empty)"));
	assert_non_null(strstr(ev->warning, "candidates[3]"));
	assert_non_null(strstr(ev->warning, "candidates[5]"));
	assert_non_null(strstr(ev->warning, "candidates[11] (more"));
	assert_null(strstr(ev->warning, "candidates[12]"));
	bx_hub_event_free(ev);

	/* A kind past BYE: nothing for the control lcore, one refusal. */
	m.kind = (Bauxite__V1__SignalMessage__Kind)9;
	m.pwd = "";
	m.n_candidates = 0;
	assert_int_equal(bx_rpc_call_send(call, buf,
					  bauxite__v1__signal_message__pack(&m, buf)),
			 0);
	assert_null(signal_while_polling(&fx->a, call, 1));
	bx_hub_signal_stats(fx->a.hub, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.received, 1);
	bx_rpc_call_free(call);
	bx_rpc_channel_destroy(ch);
}

/*
 * Another ExchangeCandidates stream of A's (with A's certificate) makes
 * the hub end the link's: the signal leg comes back by itself, taking the
 * hub back from the intruder, and the topology never goes down.
 */
static void
test_signal_leg_alone(void **state)
{
	struct fx *fx = *state;
	struct bx_hub_signal s;
	struct bx_rpc_channel *ch;
	struct bx_rpc_call *call;
	struct bx_hub_event *ev = NULL;
	enum bx_rpc_code code;
	const char *msg;
	uint8_t *data;
	size_t len;
	int64_t until;
	uint64_t session = 100;

	links_up(fx);
	ch = raw_channel(fx, &fx->a);
	assert_int_equal(bx_rpc_call_open_bidi(ch,
					       BX_DISPATCH_EXCHANGE_CANDIDATES,
					       &call),
			 0);

	/* B keeps signalling A until the link's own stream is back. */
	until = mono_ms() + 3 * WAIT_MS;
	while (ev == NULL) {
		assert_true(mono_ms() < until);
		s = make_signal(BX_HUB_SIG_INVITE, "edge-a", session++);
		send_signal(&fx->b, &s);
		ev = wait_event(&fx->a, BX_HUB_EV_SIGNAL, 200);
	}
	assert_string_equal(ev->signal.peer, "edge-b");
	bx_hub_event_free(ev);
	/* The intruder was replaced in turn. */
	for (;;) {
		int rc = bx_rpc_call_next(call, WAIT_MS, &data, &len);

		if (rc == -EPIPE)
			break;
		assert_int_equal(rc, 0);
		free(data);
	}
	assert_int_equal(bx_rpc_call_status(call, &code, &msg), 0);
	assert_int_equal(code, BX_RPC_ABORTED);
	assert_non_null(strstr(msg, "replaced"));
	/* The topology and policy streams stayed up all along. */
	assert_int_equal(fx->a.downs, 0);
	assert_true(bx_hub_connected(fx->a.hub));
	bx_rpc_call_free(call);
	bx_rpc_channel_destroy(ch);
}

/*
 * The hub goes away and comes back on its address: the link says so,
 * reconnects, fetches the settings again and signals again.
 */
static void
test_reconnect(void **state)
{
	struct fx *fx = *state;
	char listen[sizeof(fx->listen)];
	struct bx_hub_signal s;
	struct bx_hub_event *ev;
	int64_t until;

	links_up(fx);
	snprintf(listen, sizeof(listen), "%s", fx->listen);
	bx_dispatch_stop(fx->d);
	fx->d = NULL;
	ev = expect_event(&fx->a, BX_HUB_EV_STATE);
	assert_false(ev->connected);
	assert_non_null(strstr(ev->warning, "stream ended"));
	bx_hub_event_free(ev);
	/* The signal leg went down too: nothing is queued for nobody. */
	s = make_signal(BX_HUB_SIG_INVITE, "edge-b", 7);
	until = mono_ms() + WAIT_MS;
	while (bx_hub_signal_send(fx->a.hub, &s) != -EAGAIN) {
		assert_true(mono_ms() < until);
		usleep(5 * 1000);
	}

	hub_start(fx, listen);
	ev = expect_event(&fx->a, BX_HUB_EV_STATE);
	assert_true(ev->connected);
	bx_hub_event_free(ev);
	ev = expect_event(&fx->a, BX_HUB_EV_MESH);
	assert_mesh(fx, &fx->a, ev, LIFETIME_S);
	bx_hub_event_free(ev);
	ev = expect_event(&fx->b, BX_HUB_EV_MESH);
	bx_hub_event_free(ev);
	wait_signaling(fx, 2);
	send_signal(&fx->a, &s);
	ev = expect_event(&fx->b, BX_HUB_EV_SIGNAL);
	assert_signal(ev, &s, "edge-a");
	bx_hub_event_free(ev);
}

/* ---- topology: a peer's endpoints ------------------------------------------ */

/* The upserted peer @id of a TOPOLOGY event; NULL when it is not there. */
static const struct bx_hub_peer *
upserted(const struct bx_hub_event *ev, const char *id)
{
	unsigned i;

	for (i = 0; i < ev->n_upsert; i++)
		if (strcmp(ev->upsert[i].id, id) == 0)
			return &ev->upsert[i];
	return NULL;
}

/* @p has exactly the @n endpoints @want, in order, endpoints[0] repeated
 * in endpoint_ip/endpoint_port. */
static void
assert_endpoints(const struct bx_hub_peer *p,
		 const struct bx_store_endpoint *want, unsigned n)
{
	unsigned i;

	assert_non_null(p);
	assert_int_equal(p->n_endpoints, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(p->endpoints[i].ip, want[i].ip);
		assert_int_equal(p->endpoints[i].port, want[i].port);
	}
	assert_int_equal(p->endpoint_ip, n > 0 ? want[0].ip : 0);
	assert_int_equal(p->endpoint_port, n > 0 ? want[0].port : 0);
}

static void
set_endpoints(struct fx *fx, const char *id,
	      const struct bx_store_endpoint *eps, unsigned n)
{
	char err[ERR_LEN] = "";

	if (bx_store_node_set_endpoints(fx->st, id, eps, n, err,
					sizeof(err)) != 0)
		fail_msg("set endpoints: %s", err);
}

/* The next TOPOLOGY event of @n that upserts @id. */
static struct bx_hub_event *
expect_upsert(struct node *n, const char *id)
{
	int64_t until = mono_ms() + WAIT_MS;
	struct bx_hub_event *ev;

	for (;;) {
		ev = wait_event(n, BX_HUB_EV_TOPOLOGY,
				(int)(until - mono_ms()));
		if (ev == NULL)
			fail_msg("%s: no upsert of %s within %d ms", n->id, id,
				 WAIT_MS);
		if (upserted(ev, id) != NULL)
			return ev;
		bx_hub_event_free(ev);
	}
}

/*
 * A node of two uplinks, as the CLI sets it, reaches its peer with both
 * endpoints in order; a change while the link is up follows, and past
 * BX_HUB_MAX_ENDPOINTS the first ones are kept and the rest said.
 */
static void
test_topology_endpoints(void **state)
{
	const struct bx_store_endpoint eps[] = {
		{ .ip = htonl(0xc6336407u), .port = 7600 },  /* 198.51.100.7 */
		{ .ip = htonl(0xcb007109u), .port = 7601 },  /* 203.0.113.9 */
		{ .ip = htonl(0xc0000263u), .port = 7600 },  /* 192.0.2.99 */
		{ .ip = htonl(0xc6336407u), .port = 7602 },  /* same IP, port */
		{ .ip = htonl(0x0a000001u), .port = 7600 },  /* 10.0.0.1 */
	};
	_Static_assert(BX_ARRAY_SIZE(eps) > BX_HUB_MAX_ENDPOINTS,
		       "one endpoint more than a node keeps");
	struct fx *fx = *state;
	struct bx_hub_event *ev;

	set_endpoints(fx, "edge-b", eps, 2);
	link_start(fx, &fx->a);
	ev = expect_upsert(&fx->a, "edge-b");
	assert_true(ev->full);
	assert_string_equal(ev->warning, "");
	assert_null(upserted(ev, "edge-a"));
	assert_endpoints(upserted(ev, "edge-b"), eps, 2);
	bx_hub_event_free(ev);

	set_endpoints(fx, "edge-b", eps, BX_ARRAY_SIZE(eps));
	ev = expect_upsert(&fx->a, "edge-b");
	assert_false(ev->full);
	assert_endpoints(upserted(ev, "edge-b"), eps, BX_HUB_MAX_ENDPOINTS);
	assert_string_equal(ev->warning,
			    "left out: edge-b (endpoints past the first 4)");
	bx_hub_event_free(ev);

	/* Back to one uplink: the preferred endpoint is the new one. */
	set_endpoints(fx, "edge-b", &eps[1], 1);
	ev = expect_upsert(&fx->a, "edge-b");
	assert_endpoints(upserted(ev, "edge-b"), &eps[1], 1);
	assert_string_equal(ev->warning, "");
	bx_hub_event_free(ev);
}

/*
 * The stand-in hub: serves @update on every WatchTopology stream. Its
 * handlers run on the server's thread, where cmocka cannot fail a test:
 * they refuse the stream instead, and the link then sees no event.
 */
struct fake_hub {
	struct bx_rpc_server *srv;
	uint8_t *update;
	size_t len;
};

static enum bx_rpc_code
fake_topology_open(void *ctx, struct bx_rpc_stream *s, const uint8_t *req,
		   size_t len, const char **msg)
{
	struct fake_hub *fh = ctx;

	(void)req;
	(void)len;
	(void)msg;
	return bx_rpc_stream_send(s, fh->update, fh->len) == 0 ? BX_RPC_OK
							       : BX_RPC_INTERNAL;
}

static enum bx_rpc_code
fake_policy_open(void *ctx, struct bx_rpc_stream *s, const uint8_t *req,
		 size_t len, const char **msg)
{
	Bauxite__V1__PolicyUpdate u = BAUXITE__V1__POLICY_UPDATE__INIT;
	uint8_t buf[16];

	(void)ctx;
	(void)req;
	(void)len;
	(void)msg;
	u.version = 1;
	u.rules_json = "";
	return bx_rpc_stream_send(s, buf,
				  bauxite__v1__policy_update__pack(&u, buf)) == 0
		       ? BX_RPC_OK
		       : BX_RPC_INTERNAL;
}

static void
fake_closed(void *ctx, struct bx_rpc_stream *s, enum bx_rpc_code code)
{
	(void)ctx;
	(void)code;
	bx_rpc_stream_release(s);
}

/*
 * Stops the real hub and serves its topology and policy streams in its
 * place, with its CA and certificate; fx->listen is where.
 */
static void
fake_hub_start(struct fx *fx, struct fake_hub *fh)
{
	static const char *const names[] = { HUB_NAME };
	struct bx_rpc_method topo = {
		.path = BX_DISPATCH_WATCH_TOPOLOGY,
		.kind = BX_RPC_SERVER_STREAM,
		.open = fake_topology_open,
		.closed = fake_closed,
		.ctx = fh,
	};
	struct bx_rpc_method pol = {
		.path = BX_DISPATCH_WATCH_POLICY,
		.kind = BX_RPC_SERVER_STREAM,
		.open = fake_policy_open,
		.closed = fake_closed,
		.ctx = fh,
	};
	struct bx_rpc_server_conf sc = { .listen = "127.0.0.1:0" };
	char dir[256], err[ERR_LEN] = "";
	char *key = NULL, *cert = NULL, *chain;
	struct bx_pki_ca *ca = NULL;

	bx_dispatch_stop(fx->d);
	fx->d = NULL;
	snprintf(dir, sizeof(dir), "%s/%s", fx->state_dir, BX_DISPATCH_CA_DIR);
	if (bx_pki_ca_load_or_create(dir, &ca, NULL, err, sizeof(err)) != 0 ||
	    bx_pki_server_load_or_create(dir, ca, names, 1, &key, &cert, NULL,
					 err, sizeof(err)) != 0)
		fail_msg("the hub's credentials: %s", err);
	chain = bx_pki_chain_pem(cert, bx_pki_ca_cert_pem(ca));
	assert_non_null(chain);
	sc.ca_pem = bx_pki_ca_cert_pem(ca);
	sc.cert_chain_pem = chain;
	sc.key_pem = key;
	fh->srv = bx_rpc_server_create(&sc, err, sizeof(err));
	if (fh->srv == NULL)
		fail_msg("stand-in hub: %s", err);
	assert_int_equal(bx_rpc_server_register(fh->srv, &topo), 0);
	assert_int_equal(bx_rpc_server_register(fh->srv, &pol), 0);
	assert_int_equal(bx_rpc_server_start(fh->srv), 0);
	snprintf(fx->listen, sizeof(fx->listen), "127.0.0.1:%u",
		 bx_rpc_server_port(fh->srv));
	bx_pki_key_free(key);
	free(cert);
	free(chain);
	bx_pki_ca_free(ca);
}

#define EP(a, p) { .ip = (a), .port = (p) }
#define MAX_FAKE_EPS 8u

/* An Endpoint message's fields: host order, the port as wide as the
 * proto's, so that one past 65535 can be sent. */
struct raw_ep {
	uint32_t ip;
	uint32_t port;
};

/* One peer of the crafted update and what the node must make of it. */
struct ep_case {
	const char *id;
	unsigned n;
	struct raw_ep eps[MAX_FAKE_EPS];
	bool kept;
	unsigned n_want;             /* kept: indices into eps, in order */
	unsigned want[BX_HUB_MAX_ENDPOINTS];
	const char *warning;         /* said about this peer; NULL: nothing */
};

/*
 * What the topology gives is checked endpoint by endpoint: duplicates
 * dropped, the first BX_HUB_MAX_ENDPOINTS distinct ones kept (the rest
 * said), a bad one anywhere refusing the peer.
 */
static void
test_topology_endpoints_checked(void **state)
{
	static const struct ep_case cases[] = {
		{ "two", 2, { EP(0xc6336407u, 7600), EP(0xcb007109u, 7601) },
		  true, 2, { 0, 1 }, NULL },
		{ "none", 0, { EP(0, 0) }, true, 0, { 0 }, NULL },
		{ "dups", 5,
		  { EP(0x0a000001u, 1), EP(0x0a000002u, 1),
		    EP(0x0a000001u, 1), EP(0x0a000002u, 1),
		    EP(0x0a000001u, 2) },
		  true, 3, { 0, 1, 4 }, NULL },
		{ "five", 5,
		  { EP(0x0a000001u, 1), EP(0x0a000002u, 1),
		    EP(0x0a000003u, 1), EP(0x0a000004u, 1),
		    EP(0x0a000005u, 1) },
		  true, 4, { 0, 1, 2, 3 },
		  "five (endpoints past the first 4)" },
		/* A duplicate past the cap is no fifth endpoint. */
		{ "four-dup", 5,
		  { EP(0x0a000001u, 1), EP(0x0a000002u, 1),
		    EP(0x0a000003u, 1), EP(0x0a000004u, 1),
		    EP(0x0a000002u, 1) },
		  true, 4, { 0, 1, 2, 3 }, NULL },
		{ "ip0-second", 2, { EP(0x0a000001u, 1), EP(0, 1) },
		  false, 0, { 0 }, "ip0-second (bad endpoint)" },
		{ "port0-second", 2, { EP(0x0a000001u, 1), EP(0x0a000002u, 0) },
		  false, 0, { 0 }, "port0-second (bad endpoint)" },
		{ "port-big", 2,
		  { EP(0x0a000001u, 1), EP(0x0a000002u, UINT16_MAX + 1u) },
		  false, 0, { 0 }, "port-big (bad endpoint)" },
		/* Checked past the ones kept too. */
		{ "bad-sixth", 6,
		  { EP(0x0a000001u, 1), EP(0x0a000002u, 1),
		    EP(0x0a000003u, 1), EP(0x0a000004u, 1),
		    EP(0x0a000005u, 1), EP(0, 1) },
		  false, 0, { 0 }, "bad-sixth (bad endpoint)" },
		{ "port-max", 1, { EP(0x0a000001u, UINT16_MAX) },
		  true, 1, { 0 }, NULL },
	};
	enum { N = BX_ARRAY_SIZE(cases) };
	struct fx *fx = *state;
	Bauxite__V1__TopologyUpdate u = BAUXITE__V1__TOPOLOGY_UPDATE__INIT;
	Bauxite__V1__PeerChange changes[N], *change_ptrs[N];
	Bauxite__V1__Peer peers[N];
	Bauxite__V1__Endpoint eps[N][MAX_FAKE_EPS];
	Bauxite__V1__Endpoint *ep_ptrs[N][MAX_FAKE_EPS];
	uint8_t key[BX_HUB_KEY_LEN];
	struct bx_store_endpoint want[BX_HUB_MAX_ENDPOINTS];
	struct fake_hub fh = { 0 };
	const struct bx_hub_peer *p;
	struct bx_hub_event *ev;
	unsigned i, j, n_kept = 0;

	memset(key, 0x42, sizeof(key));
	for (i = 0; i < N; i++) {
		bauxite__v1__peer_change__init(&changes[i]);
		bauxite__v1__peer__init(&peers[i]);
		peers[i].id = (char *)cases[i].id;
		peers[i].x25519_public.data = key;
		peers[i].x25519_public.len = sizeof(key);
		peers[i].virtual_ip = MESH_ADDR + 1 + i;
		for (j = 0; j < cases[i].n; j++) {
			bauxite__v1__endpoint__init(&eps[i][j]);
			eps[i][j].ip = cases[i].eps[j].ip;
			eps[i][j].port = cases[i].eps[j].port;
			ep_ptrs[i][j] = &eps[i][j];
		}
		peers[i].n_endpoints = cases[i].n;
		peers[i].endpoints = ep_ptrs[i];
		changes[i].op = BAUXITE__V1__PEER_CHANGE__OP__UPSERT;
		changes[i].peer = &peers[i];
		change_ptrs[i] = &changes[i];
		n_kept += cases[i].kept;
	}
	u.version = 7;
	u.full = true;
	u.n_changes = N;
	u.changes = change_ptrs;
	fh.len = bauxite__v1__topology_update__get_packed_size(&u);
	fh.update = malloc(fh.len);
	assert_non_null(fh.update);
	bauxite__v1__topology_update__pack(&u, fh.update);

	fake_hub_start(fx, &fh);
	link_start(fx, &fx->a);
	ev = expect_event(&fx->a, BX_HUB_EV_TOPOLOGY);
	assert_int_equal(ev->version, 7);
	for (i = 0; i < N; i++) {
		p = upserted(ev, cases[i].id);
		if (!cases[i].kept) {
			if (p != NULL)
				fail_msg("%s: not refused", cases[i].id);
		} else {
			for (j = 0; j < cases[i].n_want; j++) {
				const struct raw_ep *e =
					&cases[i].eps[cases[i].want[j]];

				want[j].ip = htonl(e->ip);
				want[j].port = (uint16_t)e->port;
			}
			assert_endpoints(p, want, cases[i].n_want);
		}
		if (cases[i].warning != NULL &&
		    strstr(ev->warning, cases[i].warning) == NULL)
			fail_msg("%s: \"%s\" not in the warning \"%s\"",
				 cases[i].id, cases[i].warning, ev->warning);
		if (cases[i].warning == NULL) {
			char said[BX_HUB_ID_MAX + 3];

			snprintf(said, sizeof(said), " %s (", cases[i].id);
			if (strstr(ev->warning, said) != NULL)
				fail_msg("%s: said in \"%s\"", cases[i].id,
					 ev->warning);
		}
	}
	assert_int_equal(ev->n_upsert, n_kept);
	bx_hub_event_free(ev);
	bx_hub_stop(fx->a.hub);
	fx->a.hub = NULL;
	bx_rpc_server_stop(fh.srv, 0);
	free(fh.update);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mesh_event, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mesh_refresh, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_signal_relay, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_signal_unknown_peer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_signal_bad, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_signal_received_checked,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_leg_alone, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reconnect, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_topology_endpoints, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_topology_endpoints_checked,
						setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	setenv("GRPC_VERBOSITY", "NONE", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
