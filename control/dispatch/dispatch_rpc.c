/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The methods. All of them run on the rpc server's completion-queue
 * thread; what they share with the watcher is under d->lock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "bauxite/v1/metrics.pb-c.h"
#include "bauxite/v1/policy.pb-c.h"
#include "bauxite/v1/provisioning.pb-c.h"
#include "bauxite/v1/signaling.pb-c.h"
#include "bauxite/v1/topology.pb-c.h"
#include "bx_common.h"
#include "bx_identity.h"
#include "bx_pki.h"
#include "dispatch_internal.h"

#define ERR_LEN 512u
/* "provision:" + a node id */
#define ACTOR_LEN (sizeof("provision:") + BX_STORE_ID_MAX)
/* A join token as printed is "<id>.<secret>.<pin>"; the credential the
 * store knows is its first two parts. */
#define JOIN_TOKEN_DOTS 2
#define CRED_LEN (BX_STORE_TOKEN_LEN + 1u)
/* The token bucket counts thousandths of a message: integer refills. */
#define SIGNAL_UNIT 1000u
#define NS_PER_MS 1000000L
/* Metrics gates: the hash table's first size; it doubles when fuller. */
#define GATE_BUCKETS_MIN 64u

static enum bx_rpc_code
say(char *msg, size_t msglen, enum bx_rpc_code code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum bx_rpc_code
say(char *msg, size_t msglen, enum bx_rpc_code code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return code;
}

/* A store failure the caller can do nothing about but retry. */
static enum bx_rpc_code
store_failed(struct bx_dispatch *d, const char *err, char *msg,
	     size_t msglen)
{
	dispatch_log(d, "store: %s", err);
	return say(msg, msglen, BX_RPC_UNAVAILABLE,
		   "hub store unavailable, retry later");
}

/* ---- ProvisionNode ------------------------------------------------------ */

/*
 * Why @ip (network order) cannot be where peers send a node's datagrams,
 * or NULL: they go to one unicast host that others can reach. Loopback
 * only when @loopback_ok, for an address the connection came from: a node
 * on the hub's own host (tests), never one a request claims.
 */
static const char *
endpoint_unusable(uint32_t ip, bool loopback_ok)
{
	uint32_t h = ntohl(ip);

	if ((h >> 24) == 0)
		return "is not a host address (0.0.0.0/8)";
	if ((h >> 24) == 127 && !loopback_ok)
		return "is a loopback address: peers cannot reach it there";
	if ((h >> 16) == 0xa9fe)
		return "is link-local (169.254.0.0/16): peers cannot reach "
		       "it there";
	if ((h >> 28) >= 0xe)
		return "is not a unicast address (multicast, reserved or "
		       "broadcast)";
	return NULL;
}

/*
 * Where peers reach the new node: the request's endpoint, its IP 0 meaning
 * the address the connection comes from and its port 0 the mesh port.
 */
static enum bx_rpc_code
endpoint_of(const struct bx_dispatch *d, const Bauxite__V1__Endpoint *ep,
	    const struct bx_rpc_peer *peer, struct bx_store_endpoint *out,
	    char *msg, size_t msglen)
{
	uint32_t ip = ep != NULL ? ep->ip : 0;
	uint32_t port = ep != NULL ? ep->port : 0;
	char text[INET_ADDRSTRLEN];
	const char *why;

	if (port > UINT16_MAX)
		return say(msg, msglen, BX_RPC_INVALID_ARGUMENT,
			   "endpoint.port: expected 1..65535, got %" PRIu32,
			   port);
	if (ip != 0) {
		out->ip = htonl(ip);
	} else if (peer->has_addr && peer->addr.family == AF_INET) {
		out->ip = peer->addr.ip.v4.s_addr;
	} else if (peer->has_addr && peer->addr.family == AF_INET6 &&
		   IN6_IS_ADDR_V4MAPPED(&peer->addr.ip.v6)) {
		memcpy(&out->ip, &peer->addr.ip.v6.s6_addr[12],
		       sizeof(out->ip));
	} else {
		return say(msg, msglen, BX_RPC_INVALID_ARGUMENT,
			   "endpoint.ip: 0 asks for the connection's address, "
			   "but %s is not IPv4: give the node's endpoint",
			   peer->address != NULL ? peer->address : "it");
	}
	why = endpoint_unusable(out->ip, ip == 0);
	if (why != NULL) {
		dispatch_ip_text(out->ip, text, sizeof(text));
		return say(msg, msglen, BX_RPC_INVALID_ARGUMENT,
			   ip != 0 ? "endpoint.ip: %s %s"
				   : "endpoint.ip: 0 asks for the connection's "
				     "address, but %s %s: give the node's "
				     "endpoint",
			   text, why);
	}
	out->port = port != 0 ? (uint16_t)port : d->mesh_port;
	return BX_RPC_OK;
}

/* Looks for a node holding the request's id or one of its keys. */
struct clash {
	const Bauxite__V1__ProvisionNodeRequest *r;
	char *msg;
	size_t msglen;
};

/* Store list callback, store lock held: compares only. */
static int
find_clash(const struct bx_store_node *n, void *arg)
{
	struct clash *c = arg;

	if (strcmp(n->id, c->r->node_id) == 0) {
		snprintf(c->msg, c->msglen,
			 "node %s exists (revoke and purge it to re-join)",
			 n->id);
		return 1;
	}
	if (sodium_memcmp(n->ed25519_public, c->r->ed25519_public.data,
			  BX_STORE_KEY_LEN) == 0 ||
	    sodium_memcmp(n->x25519_public, c->r->x25519_public.data,
			  BX_STORE_KEY_LEN) == 0) {
		snprintf(c->msg, c->msglen,
			 "these identity keys are node %s's (revoke and purge "
			 "it to re-join under another id)",
			 n->id);
		return 1;
	}
	return 0;
}

/* The certificate's serial in hex, for the store and the audit log. */
static int
cert_serial(const char *pem, char out[BX_STORE_SERIAL_MAX + 1])
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = NULL;
	BIGNUM *bn = NULL;
	char *hex = NULL;
	size_t i, len;
	int rc = -EINVAL;

	if (bio == NULL)
		goto out;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (x == NULL)
		goto out;
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	if (bn == NULL)
		goto out;
	hex = BN_bn2hex(bn);
	if (hex == NULL)
		goto out;
	len = strlen(hex);
	if (len == 0 || len > BX_STORE_SERIAL_MAX)
		goto out;
	for (i = 0; i <= len; i++)
		out[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F'
					? hex[i] - 'A' + 'a'
					: hex[i]);
	rc = 0;
out:
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

/*
 * Whether @pub is an X25519 key a session can be keyed with. A low-order
 * point makes every shared secret with it one of a few values anybody can
 * compute; libsodium refuses a product that comes out all zero, which a
 * random scalar times such a point always gives.
 */
static bool
x25519_usable(const uint8_t pub[BX_IDENTITY_KEY_LEN])
{
	uint8_t scalar[crypto_scalarmult_SCALARBYTES];
	uint8_t shared[crypto_scalarmult_BYTES];
	bool ok;

	randombytes_buf(scalar, sizeof(scalar));
	ok = crypto_scalarmult(shared, scalar, pub) == 0;
	sodium_memzero(scalar, sizeof(scalar));
	sodium_memzero(shared, sizeof(shared));
	return ok;
}

/* The request's fields, checked before anything is spent. */
static enum bx_rpc_code
check_request(const Bauxite__V1__ProvisionNodeRequest *r, char *msg,
	      size_t msglen)
{
	if (!bx_pki_node_id_valid(r->node_id))
		return say(msg, msglen, BX_RPC_INVALID_ARGUMENT,
			   "node_id: expected 1..%u of [A-Za-z0-9._-]",
			   BX_PKI_NODE_ID_MAX);
	if (r->token == NULL || r->token[0] == '\0')
		return say(msg, msglen, BX_RPC_INVALID_ARGUMENT,
			   "token: missing");
	if (r->csr_der.len == 0)
		return say(msg, msglen, BX_RPC_INVALID_ARGUMENT,
			   "csr_der: missing");
	if (r->ed25519_public.len != BX_IDENTITY_KEY_LEN)
		return say(msg, msglen, BX_RPC_INVALID_ARGUMENT,
			   "ed25519_public: expected %u bytes, got %zu",
			   BX_IDENTITY_KEY_LEN, r->ed25519_public.len);
	if (r->x25519_public.len != BX_IDENTITY_KEY_LEN)
		return say(msg, msglen, BX_RPC_INVALID_ARGUMENT,
			   "x25519_public: expected %u bytes, got %zu",
			   BX_IDENTITY_KEY_LEN, r->x25519_public.len);
	if (!x25519_usable(r->x25519_public.data))
		return say(msg, msglen, BX_RPC_INVALID_ARGUMENT,
			   "x25519_public: not a usable key");
	if (r->identity_signature.len != BX_IDENTITY_SIG_LEN)
		return say(msg, msglen, BX_RPC_INVALID_ARGUMENT,
			   "identity_signature: expected %u bytes, got %zu",
			   BX_IDENTITY_SIG_LEN, r->identity_signature.len);
	return BX_RPC_OK;
}

/*
 * The store's credential in @r->token: the token itself, or the first two
 * parts of a join token as `token create` printed it, whose pin must then
 * be this hub's CA.
 */
static enum bx_rpc_code
credential_of(const struct bx_dispatch *d, const char *token,
	      char cred[CRED_LEN], char *msg, size_t msglen)
{
	uint8_t pin[BX_PKI_SHA256_LEN];
	char err[ERR_LEN];
	const char *p;
	int dots = 0;

	for (p = token; *p != '\0'; p++)
		dots += *p == '.';
	if (dots != JOIN_TOKEN_DOTS) {
		snprintf(cred, CRED_LEN, "%s", token);
		return BX_RPC_OK;
	}
	if (bx_pki_join_token_parse(token, cred, CRED_LEN, pin, err,
				    sizeof(err)) != 0)
		return say(msg, msglen, BX_RPC_INVALID_ARGUMENT, "token: %s",
			   err);
	if (sodium_memcmp(pin, d->ca_pin, sizeof(pin)) != 0)
		return say(msg, msglen, BX_RPC_PERMISSION_DENIED,
			   "token: its CA pin is not this hub's CA");
	return BX_RPC_OK;
}

static enum bx_rpc_code
spend_token(struct bx_dispatch *d, const char *actor, const char *cred,
	    struct bx_store_token_info *info, char *msg, size_t msglen)
{
	char err[ERR_LEN];
	int rc;

	rc = bx_store_token_consume(d->store, actor, cred, dispatch_now_ms(d),
				    info, err, sizeof(err));
	switch (rc) {
	case 0:
		return BX_RPC_OK;
	case -ENOENT:
		return say(msg, msglen, BX_RPC_PERMISSION_DENIED, "%s", err);
	case -EUSERS:
	case -EKEYEXPIRED:
		return say(msg, msglen, BX_RPC_FAILED_PRECONDITION, "%s", err);
	default:
		return store_failed(d, err, msg, msglen);
	}
}

static enum bx_rpc_code
pack_response(const struct bx_dispatch *d, const char *id,
	      const char *cert_pem, uint32_t vip,
	      const struct bx_store_token_info *info, uint8_t **resp,
	      size_t *resp_len, char *msg, size_t msglen)
{
	Bauxite__V1__ProvisionNodeResponse out =
		BAUXITE__V1__PROVISION_NODE_RESPONSE__INIT;
	Bauxite__V1__MeshSettings ms = BAUXITE__V1__MESH_SETTINGS__INIT;
	Bauxite__V1__Ipv4Prefix pfx = BAUXITE__V1__IPV4_PREFIX__INIT;
	char *tags[BX_STORE_MAX_TAGS];
	unsigned i;

	for (i = 0; i < info->n_tags && i < BX_STORE_MAX_TAGS; i++)
		tags[i] = (char *)info->tags[i];
	pfx.addr = ntohl(d->mesh.addr);
	pfx.len = d->mesh.len;
	ms.mesh_prefix = &pfx;
	ms.mesh_port = d->mesh_port;
	ms.cipher = (char *)d->cipher;
	out.node_id = (char *)id;
	out.ca_cert_pem = (char *)bx_pki_ca_cert_pem(d->ca);
	out.node_cert_pem = (char *)cert_pem;
	out.virtual_ip = ntohl(vip);
	out.settings = &ms;
	out.n_tags = i;
	out.tags = i > 0 ? tags : NULL;
	*resp_len = bauxite__v1__provision_node_response__get_packed_size(&out);
	*resp = malloc(*resp_len);
	if (*resp == NULL)
		return say(msg, msglen, BX_RPC_INTERNAL, "out of memory");
	bauxite__v1__provision_node_response__pack(&out, *resp);
	return BX_RPC_OK;
}

/*
 * Every check that costs the node nothing comes before the token is
 * spent: the fields, the identity signature (a forged request must not
 * burn a token), an id or keys already taken, and the CSR, which is
 * signed first; its certificate is thrown away if the token is refused.
 */
static enum bx_rpc_code
provision(struct bx_dispatch *d, const struct bx_rpc_peer *peer,
	  const Bauxite__V1__ProvisionNodeRequest *r, char *msg,
	  size_t msglen, uint8_t **resp, size_t *resp_len)
{
	struct clash clash = { r, msg, msglen };
	struct bx_store_token_info info;
	struct bx_store_node *node = NULL;
	char cred[CRED_LEN], actor[ACTOR_LEN], err[ERR_LEN];
	char serial[BX_STORE_SERIAL_MAX + 1], ip[INET_ADDRSTRLEN];
	char vip_text[INET_ADDRSTRLEN];
	char *cert = NULL;
	enum bx_rpc_code code;
	int64_t not_after = 0;
	uint32_t vip = 0;
	unsigned i;
	int rc;

	code = check_request(r, msg, msglen);
	if (code != BX_RPC_OK)
		return code;
	node = calloc(1, sizeof(*node));
	if (node == NULL)
		return say(msg, msglen, BX_RPC_INTERNAL, "out of memory");
	code = endpoint_of(d, r->endpoint, peer, &node->endpoints[0], msg,
			   msglen);
	if (code == BX_RPC_OK)
		code = credential_of(d, r->token, cred, msg, msglen);
	if (code != BX_RPC_OK)
		goto out;
	rc = bx_identity_join_verify(r->ed25519_public.data, r->token,
				     r->node_id, r->csr_der.data,
				     r->csr_der.len, r->x25519_public.data,
				     r->identity_signature.data);
	if (rc != 0) {
		code = rc == -EBADMSG
			       ? say(msg, msglen, BX_RPC_PERMISSION_DENIED,
				     "identity signature does not verify")
			       : say(msg, msglen, BX_RPC_INTERNAL,
				     "out of memory");
		goto out;
	}
	rc = bx_store_node_list(d->store, find_clash, &clash, err,
				sizeof(err));
	if (rc != 0) {
		code = rc > 0 ? BX_RPC_ALREADY_EXISTS
			      : store_failed(d, err, msg, msglen);
		goto out;
	}

	rc = bx_pki_ca_sign_node(d->ca, r->csr_der.data, r->csr_der.len,
				 r->node_id, d->node_cert_days, &cert, err,
				 sizeof(err));
	if (rc != 0) {
		code = rc == -EINVAL || rc == -EMSGSIZE
			       ? say(msg, msglen, BX_RPC_INVALID_ARGUMENT,
				     "%s", err)
			       : say(msg, msglen, BX_RPC_INTERNAL,
				     "signing the certificate: %s", err);
		goto out;
	}
	if (cert_serial(cert, serial) != 0 ||
	    bx_pki_cert_not_after(cert, &not_after) != 0) {
		code = say(msg, msglen, BX_RPC_INTERNAL,
			   "cannot read the certificate just signed");
		goto out;
	}
	snprintf(actor, sizeof(actor), "provision:%s", r->node_id);
	code = spend_token(d, actor, cred, &info, msg, msglen);
	if (code != BX_RPC_OK)
		goto out;

	snprintf(node->id, sizeof(node->id), "%s", r->node_id);
	memcpy(node->ed25519_public, r->ed25519_public.data, BX_STORE_KEY_LEN);
	memcpy(node->x25519_public, r->x25519_public.data, BX_STORE_KEY_LEN);
	node->n_endpoints = 1;
	node->n_tags = info.n_tags;
	for (i = 0; i < info.n_tags && i < BX_STORE_MAX_TAGS; i++)
		snprintf(node->tags[i], sizeof(node->tags[i]), "%s",
			 info.tags[i]);
	/* With its certificate, in one transaction: no node without one. */
	node->cert_pem = cert;
	snprintf(node->cert_serial, sizeof(node->cert_serial), "%s", serial);
	node->cert_not_after_ms = not_after * 1000;
	rc = bx_store_node_add(d->store, actor, node, &vip, err, sizeof(err));
	switch (rc) {
	case 0:
		break;
	case -ENOSPC:
		code = say(msg, msglen, BX_RPC_RESOURCE_EXHAUSTED,
			   "no virtual IP left in %s", d->mesh_text);
		goto out;
	case -EEXIST:
		code = say(msg, msglen, BX_RPC_ALREADY_EXISTS, "%s", err);
		goto out;
	case -EINVAL:
		code = say(msg, msglen, BX_RPC_INVALID_ARGUMENT, "%s", err);
		goto out;
	default:
		code = store_failed(d, err, msg, msglen);
		goto out;
	}
	code = pack_response(d, r->node_id, cert, vip, &info, resp, resp_len,
			     msg, msglen);
	if (code != BX_RPC_OK)
		goto out;
	dispatch_ip_text(vip, vip_text, sizeof(vip_text));
	dispatch_ip_text(node->endpoints[0].ip, ip, sizeof(ip));
	dispatch_log(d,
		     "provisioned node %s: virtual IP %s, endpoint %s:%u, "
		     "token %s, %u tag(s), certificate serial %s",
		     r->node_id, vip_text, ip, node->endpoints[0].port, info.id,
		     info.n_tags, serial);
out:
	sodium_memzero(cred, sizeof(cred));
	free(cert);
	free(node);
	return code;
}

static void
provision_node(void *ctx, struct bx_rpc_stream *call, const uint8_t *req,
	       size_t len)
{
	struct bx_dispatch *d = ctx;
	const struct bx_rpc_peer *peer = bx_rpc_stream_peer(call);
	Bauxite__V1__ProvisionNodeRequest *r;
	char msg[DISPATCH_MSG_LEN];
	enum bx_rpc_code code;
	uint8_t *resp = NULL;
	size_t resp_len = 0;

	r = bauxite__v1__provision_node_request__unpack(NULL, len, req);
	if (r == NULL)
		code = say(msg, sizeof(msg), BX_RPC_INVALID_ARGUMENT,
			   "request does not decode");
	else
		code = provision(d, peer, r, msg, sizeof(msg), &resp,
				 &resp_len);
	pthread_mutex_lock(&d->lock);
	if (code == BX_RPC_OK)
		d->stats.provisioned++;
	else
		d->stats.provision_refused++;
	pthread_mutex_unlock(&d->lock);
	if (code != BX_RPC_OK)
		/* The id only when valid: the log must not carry what a
		 * stranger typed. */
		dispatch_log(d, "provision%s%s from %s refused: %s: %s",
			     r != NULL && bx_pki_node_id_valid(r->node_id)
				     ? " of "
				     : "",
			     r != NULL && bx_pki_node_id_valid(r->node_id)
				     ? r->node_id
				     : "",
			     peer->address != NULL ? peer->address : "?",
			     bx_rpc_code_name(code), msg);
	bx_rpc_unary_reply(call, code, code == BX_RPC_OK ? NULL : msg, resp,
			   resp_len);
	free(resp);
	if (r != NULL) {
		/* A token with uses left opens the mesh to whoever holds it. */
		if (r->token != NULL)
			sodium_memzero(r->token, strlen(r->token));
		bauxite__v1__provision_node_request__free_unpacked(r, NULL);
	}
}

/* ---- the streams -------------------------------------------------------- */

/*
 * What every stream's open does first, lock held: the hub is not
 * stopping and the caller is an active node. The refusal goes to
 * d->open_msg.
 */
static enum bx_rpc_code
open_check(struct bx_dispatch *d, const struct bx_rpc_stream *s)
{
	if (d->stopping)
		return say(d->open_msg, sizeof(d->open_msg),
			   BX_RPC_UNAVAILABLE, "hub is shutting down");
	return dispatch_node_check(d, bx_rpc_stream_peer(s), d->open_msg,
				   sizeof(d->open_msg));
}

static struct sub *
sub_new(struct bx_rpc_stream *s, enum sub_kind kind)
{
	struct sub *sub = calloc(1, sizeof(*sub));

	if (sub == NULL)
		return NULL;
	sub->s = s;
	sub->kind = kind;
	snprintf(sub->node_id, sizeof(sub->node_id), "%s",
		 bx_rpc_stream_peer(s)->identity);
	return sub;
}

/* The refusal of an open handler; *@msg points to d->open_msg. */
static enum bx_rpc_code
refuse(struct bx_dispatch *d, struct sub *sub, enum bx_rpc_code code,
       const char **msg)
{
	dispatch_log(d, "node %s: stream refused: %s: %s",
		     sub != NULL ? sub->node_id : "?", bx_rpc_code_name(code),
		     d->open_msg);
	free(sub);
	*msg = d->open_msg;
	return code;
}

static enum bx_rpc_code
watch_topology(void *ctx, struct bx_rpc_stream *s, const uint8_t *req,
	       size_t len, const char **msg)
{
	struct bx_dispatch *d = ctx;
	Bauxite__V1__WatchTopologyRequest *r;
	struct peer_set set = { 0 };
	struct sub *sub;
	char err[ERR_LEN];
	enum bx_rpc_code code;
	uint64_t known, cur = 0;
	uint8_t *buf = NULL;
	size_t buf_len = 0, n_peers = 0;
	int rc;

	r = bauxite__v1__watch_topology_request__unpack(NULL, len, req);
	if (r == NULL) {
		*msg = "request does not decode";
		return BX_RPC_INVALID_ARGUMENT;
	}
	known = r->known_version;
	bauxite__v1__watch_topology_request__free_unpacked(r, NULL);
	sub = sub_new(s, SUB_TOPOLOGY);
	if (sub == NULL) {
		*msg = "out of memory";
		return BX_RPC_INTERNAL;
	}

	/* Under the lock from the check to the registration: the watcher
	 * either sees this stream or ran before the check saw its changes. */
	pthread_mutex_lock(&d->lock);
	code = open_check(d, s);
	if (code != BX_RPC_OK)
		goto refused;
	rc = bx_store_topology_version(d->store, &cur, err, sizeof(err));
	if (rc == 0 && cur != known)
		rc = dispatch_peer_set_load(d->store, &set, err, sizeof(err));
	if (rc != 0) {
		code = store_failed(d, err, d->open_msg, sizeof(d->open_msg));
		goto refused;
	}
	if (cur != known) {
		n_peers = set.n;
		rc = dispatch_pack_snapshot(&set, cur, sub->node_id, &buf,
					    &buf_len);
		if (rc == 0)
			rc = bx_rpc_stream_send(s, buf, buf_len);
		free(buf);
		if (rc == -ENOMEM || rc == -EMSGSIZE) {
			code = say(d->open_msg, sizeof(d->open_msg),
				   rc == -ENOMEM ? BX_RPC_INTERNAL
						 : BX_RPC_RESOURCE_EXHAUSTED,
				   "topology snapshot: %s", strerror(-rc));
			goto refused;
		}
		if (rc == 0)
			d->stats.topology_updates++;
	} else {
		/* Up to date: an empty update at the current version still
		 * tells the node its stream is up. */
		Bauxite__V1__TopologyUpdate u = BAUXITE__V1__TOPOLOGY_UPDATE__INIT;
		uint8_t small[16];

		u.version = cur;
		rc = bx_rpc_stream_send(s, small,
					bauxite__v1__topology_update__pack(&u, small));
		if (rc == -ENOMEM) {
			code = say(d->open_msg, sizeof(d->open_msg),
				   BX_RPC_INTERNAL, "topology: %s", strerror(-rc));
			goto refused;
		}
	}
	sub->version = cur;
	bx_rpc_stream_set_user(s, sub);
	dispatch_sub_link(d, sub);
	pthread_mutex_unlock(&d->lock);
	dispatch_peer_set_clear(&set);
	if (cur != known)
		dispatch_log(d, "node %s: topology stream open, snapshot at "
			     "version %" PRIu64 " (%zu node(s) in the mesh)",
			     sub->node_id, cur, n_peers);
	else
		dispatch_log(d, "node %s: topology stream open, up to date at "
			     "version %" PRIu64, sub->node_id, cur);
	return BX_RPC_OK;
refused:
	pthread_mutex_unlock(&d->lock);
	dispatch_peer_set_clear(&set);
	return refuse(d, sub, code, msg);
}

static enum bx_rpc_code
watch_policy(void *ctx, struct bx_rpc_stream *s, const uint8_t *req,
	     size_t len, const char **msg)
{
	struct bx_dispatch *d = ctx;
	Bauxite__V1__WatchPolicyRequest *r;
	struct sub *sub;
	char err[ERR_LEN];
	char *json = NULL, *rules = NULL;
	enum bx_rpc_code code;
	uint64_t known, version = 0;
	uint8_t *buf = NULL;
	size_t buf_len = 0;
	bool sent = false, have;
	int rc;

	r = bauxite__v1__watch_policy_request__unpack(NULL, len, req);
	if (r == NULL) {
		*msg = "request does not decode";
		return BX_RPC_INVALID_ARGUMENT;
	}
	known = r->known_version;
	bauxite__v1__watch_policy_request__free_unpacked(r, NULL);
	sub = sub_new(s, SUB_POLICY);
	if (sub == NULL) {
		*msg = "out of memory";
		return BX_RPC_INTERNAL;
	}

	pthread_mutex_lock(&d->lock);
	code = open_check(d, s);
	if (code != BX_RPC_OK)
		goto refused;
	rc = bx_store_policy_get(d->store, &json, &version, err, sizeof(err));
	if (rc != 0 && rc != -ENOENT) {
		code = store_failed(d, err, d->open_msg, sizeof(d->open_msg));
		goto refused;
	}
	have = rc == 0;
	/* Older too: a hub restored from an older database still sets its
	 * nodes' policy. */
	if (have && version != known) {
		rc = bx_dispatch_policy_rules(json, &rules, err, sizeof(err));
		if (rc != 0) {
			/* Not the node's fault: it keeps what it has. */
			dispatch_log(d, "policy version %" PRIu64
				     " not sent: %s", version, err);
		} else if (dispatch_pack_policy(rules, version, &buf,
						&buf_len) != 0) {
			code = say(d->open_msg, sizeof(d->open_msg),
				   BX_RPC_INTERNAL, "out of memory");
			goto refused;
		} else if ((rc = bx_rpc_stream_send(s, buf, buf_len)) != 0) {
			code = say(d->open_msg, sizeof(d->open_msg),
				   rc == -EMSGSIZE ? BX_RPC_RESOURCE_EXHAUSTED
						   : BX_RPC_INTERNAL,
				   "policy: %s", strerror(-rc));
			goto refused;
		} else {
			d->stats.policy_updates++;
			sent = true;
		}
	}
	sub->version = have ? version : known;
	bx_rpc_stream_set_user(s, sub);
	dispatch_sub_link(d, sub);
	pthread_mutex_unlock(&d->lock);
	dispatch_log(d, "node %s: policy stream open (%s version %" PRIu64 ")",
		     sub->node_id, sent ? "sent" : "has", sub->version);
	free(buf);
	free(rules);
	free(json);
	return BX_RPC_OK;
refused:
	pthread_mutex_unlock(&d->lock);
	free(buf);
	free(rules);
	free(json);
	return refuse(d, sub, code, msg);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / NS_PER_MS;
}

/*
 * Takes one message from the sender's token bucket, refilled at
 * BX_DISPATCH_SIGNAL_RATE up to BX_DISPATCH_SIGNAL_BURST; false when it
 * is empty. A node flooding its peers through the hub loses its own
 * messages, and the relay's time, not theirs.
 */
static bool
signal_take(struct sub *sub, int64_t now)
{
	const uint64_t full = (uint64_t)BX_DISPATCH_SIGNAL_BURST * SIGNAL_UNIT;
	/* SIGNAL_UNIT per message and per second: RATE units per ms. */
	const uint64_t ms_to_full = full / BX_DISPATCH_SIGNAL_RATE;
	uint64_t elapsed;

	if (now > sub->bucket_ms) {
		elapsed = (uint64_t)(now - sub->bucket_ms);
		sub->bucket = elapsed >= ms_to_full
				      ? full
				      : sub->bucket + elapsed * BX_DISPATCH_SIGNAL_RATE;
		if (sub->bucket > full)
			sub->bucket = full;
		sub->bucket_ms = now;
	}
	if (sub->bucket < SIGNAL_UNIT)
		return false;
	sub->bucket -= SIGNAL_UNIT;
	return true;
}

static enum bx_rpc_code
exchange_open(void *ctx, struct bx_rpc_stream *s, const uint8_t *req,
	      size_t len, const char **msg)
{
	struct bx_dispatch *d = ctx;
	struct sub *sub, *old;
	enum bx_rpc_code code;
	bool replaced = false;

	(void)req;
	(void)len;
	sub = sub_new(s, SUB_SIGNALING);
	if (sub == NULL) {
		*msg = "out of memory";
		return BX_RPC_INTERNAL;
	}
	pthread_mutex_lock(&d->lock);
	code = open_check(d, s);
	if (code != BX_RPC_OK) {
		pthread_mutex_unlock(&d->lock);
		return refuse(d, sub, code, msg);
	}
	sub->bucket = (uint64_t)BX_DISPATCH_SIGNAL_BURST * SIGNAL_UNIT;
	sub->bucket_ms = mono_ms();
	/* One relay stream per node: a reconnecting node's new one wins,
	 * with the old one's bucket (a new stream is no new allowance). */
	old = dispatch_sub_find(d, SUB_SIGNALING, sub->node_id);
	if (old != NULL) {
		sub->bucket = old->bucket;
		sub->bucket_ms = old->bucket_ms;
		dispatch_sub_unlink(d, old);
		bx_rpc_stream_finish(old->s, BX_RPC_ABORTED,
				     "replaced by a newer ExchangeCandidates "
				     "stream of this node");
		replaced = true;
	}
	bx_rpc_stream_set_user(s, sub);
	dispatch_sub_link(d, sub);
	pthread_mutex_unlock(&d->lock);
	dispatch_log(d, "node %s: signaling stream open%s", sub->node_id,
		     replaced ? " (replaces its previous one)" : "");
	return BX_RPC_OK;
}

static void
exchange_recv(void *ctx, struct bx_rpc_stream *s, const uint8_t *msg,
	      size_t len)
{
	struct bx_dispatch *d = ctx;
	struct sub *sub = bx_rpc_stream_user(s), *to;
	Bauxite__V1__SignalMessage *m, out;
	uint8_t *buf;
	size_t n;
	bool relayed = false;

	/* The node is done sending; it may still receive. */
	if (msg == NULL)
		return;
	if (!signal_take(sub, mono_ms())) {
		pthread_mutex_lock(&d->lock);
		d->stats.signals_throttled++;
		pthread_mutex_unlock(&d->lock);
		return;
	}
	m = bauxite__v1__signal_message__unpack(NULL, len, msg);
	if (m == NULL) {
		bx_rpc_stream_finish(s, BX_RPC_INVALID_ARGUMENT,
				     "message does not decode");
		return;
	}
	/* A node speaks for itself only: from_id is its certificate's. */
	out = *m;
	out.base.n_unknown_fields = 0;
	out.base.unknown_fields = NULL;
	out.from_id = sub->node_id;
	n = bauxite__v1__signal_message__get_packed_size(&out);
	buf = malloc(n > 0 ? n : 1);
	if (buf != NULL)
		bauxite__v1__signal_message__pack(&out, buf);

	pthread_mutex_lock(&d->lock);
	/* A stream replaced or cut off (revoked) relays nothing more. */
	to = sub->listed ? dispatch_sub_find(d, SUB_SIGNALING, m->to_id)
			 : NULL;
	/* A full queue loses this message, not the recipient's stream:
	 * ICE retries, and the recipient did nothing wrong. */
	if (buf != NULL && to != NULL &&
	    bx_rpc_stream_try_send(to->s, buf, n) == 0)
		relayed = true;
	if (relayed)
		d->stats.signals_relayed++;
	else
		d->stats.signals_dropped++;
	pthread_mutex_unlock(&d->lock);
	free(buf);
	bauxite__v1__signal_message__free_unpacked(m, NULL);
}

/* ---- ReportMetrics ------------------------------------------------------ */

/* The counters as the JSON object the store keeps, names checked. */
static enum bx_rpc_code
counters_json(const Bauxite__V1__MetricsReport *r, char **out, char *msg,
	      size_t msglen)
{
	json_t *obj = json_object();
	enum bx_rpc_code code = BX_RPC_OK;
	const Bauxite__V1__Counter *c;
	size_t i, name_len;

	if (obj == NULL)
		return say(msg, msglen, BX_RPC_INTERNAL, "out of memory");
	for (i = 0; i < r->n_counters; i++) {
		c = r->counters[i];
		name_len = strnlen(c->name, BX_DISPATCH_COUNTER_NAME_MAX + 1);
		if (name_len == 0 || name_len > BX_DISPATCH_COUNTER_NAME_MAX) {
			code = say(msg, msglen, BX_RPC_INVALID_ARGUMENT,
				   "counters[%zu].name: expected 1..%u bytes",
				   i, BX_DISPATCH_COUNTER_NAME_MAX);
			goto out;
		}
		if (c->value > (uint64_t)INT64_MAX) {
			code = say(msg, msglen, BX_RPC_INVALID_ARGUMENT,
				   "counters[%zu].value: above 2^63-1", i);
			goto out;
		}
		if (json_object_get(obj, c->name) != NULL) {
			code = say(msg, msglen, BX_RPC_INVALID_ARGUMENT,
				   "counters[%zu].name: given twice", i);
			goto out;
		}
		/* Fails for a name that is not UTF-8 (or out of memory). */
		if (json_object_set_new(obj, c->name,
					json_integer((json_int_t)c->value)) !=
		    0) {
			code = say(msg, msglen, BX_RPC_INVALID_ARGUMENT,
				   "counters[%zu].name: not UTF-8", i);
			goto out;
		}
	}
	*out = json_dumps(obj, JSON_COMPACT);
	if (*out == NULL)
		code = say(msg, msglen, BX_RPC_INTERNAL, "out of memory");
out:
	json_decref(obj);
	return code;
}

/*
 * The metrics gates: when each node last had a report accepted, in a
 * chained hash table under d->lock, so that a node reporting too often is
 * refused before the store is touched. Entries are made for nodes the
 * store knows as active and dropped when they are revoked.
 */
static size_t
gate_hash(const char *id, size_t buckets)
{
	/* FNV-1a: ids are short and chosen by the operator. */
	uint32_t h = 2166136261u;

	for (; *id != '\0'; id++)
		h = (h ^ (uint8_t)*id) * 16777619u;
	return h & (buckets - 1);
}

static struct report_gate **
gate_link(struct bx_dispatch *d, const char *id)
{
	struct report_gate **link;

	if (d->gate_buckets == 0)
		return NULL;
	for (link = &d->gates[gate_hash(id, d->gate_buckets)]; *link != NULL;
	     link = &(*link)->next)
		if (strcmp((*link)->id, id) == 0)
			break;
	return link;
}

/* Doubles the table (at least GATE_BUCKETS_MIN); -ENOMEM. */
static int
gates_grow(struct bx_dispatch *d)
{
	size_t n = d->gate_buckets ? d->gate_buckets * 2 : GATE_BUCKETS_MIN;
	struct report_gate **v = calloc(n, sizeof(*v)), *g, *next;
	size_t i, h;

	if (v == NULL)
		return -ENOMEM;
	for (i = 0; i < d->gate_buckets; i++)
		for (g = d->gates[i]; g != NULL; g = next) {
			next = g->next;
			h = gate_hash(g->id, n);
			g->next = v[h];
			v[h] = g;
		}
	free(d->gates);
	d->gates = v;
	d->gate_buckets = n;
	return 0;
}

/* Whether node @id had a report accepted less than the minimum ago. */
static bool
gate_closed(struct bx_dispatch *d, const char *id, int64_t now)
{
	struct report_gate **link = gate_link(d, id);

	/* A clock stepped back opens the gate rather than shutting it for
	 * as long as the step. */
	return link != NULL && *link != NULL && now >= (*link)->last_ms &&
	       now - (*link)->last_ms < (int64_t)BX_DISPATCH_METRICS_MIN_MS;
}

/* Notes node @id's report at @now. 0 or -ENOMEM. */
static int
gate_note(struct bx_dispatch *d, const char *id, int64_t now)
{
	struct report_gate **link = gate_link(d, id), *g;

	if (link != NULL && *link != NULL) {
		(*link)->last_ms = now;
		return 0;
	}
	if (d->n_gates >= d->gate_buckets && gates_grow(d) != 0)
		return -ENOMEM;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return -ENOMEM;
	snprintf(g->id, sizeof(g->id), "%s", id);
	g->last_ms = now;
	link = &d->gates[gate_hash(id, d->gate_buckets)];
	g->next = *link;
	*link = g;
	d->n_gates++;
	return 0;
}

void
dispatch_gate_forget(struct bx_dispatch *d, const char *id)
{
	struct report_gate **link = gate_link(d, id), *g;

	if (link == NULL || *link == NULL)
		return;
	g = *link;
	*link = g->next;
	free(g);
	d->n_gates--;
}

void
dispatch_gates_free(struct bx_dispatch *d)
{
	struct report_gate *g, *next;
	size_t i;

	for (i = 0; i < d->gate_buckets; i++)
		for (g = d->gates[i]; g != NULL; g = next) {
			next = g->next;
			free(g);
		}
	free(d->gates);
	d->gates = NULL;
	d->gate_buckets = d->n_gates = 0;
}

/*
 * What a report may cost: the request is checked first (no store), then
 * the node's gate, then the store, read (the node) and written.
 */
static void
report_metrics(void *ctx, struct bx_rpc_stream *call, const uint8_t *req,
	       size_t len)
{
	struct bx_dispatch *d = ctx;
	const struct bx_rpc_peer *peer = bx_rpc_stream_peer(call);
	const char *id = peer->identity;
	Bauxite__V1__MetricsAck ack = BAUXITE__V1__METRICS_ACK__INIT;
	Bauxite__V1__MetricsReport *r = NULL;
	char msg[DISPATCH_MSG_LEN], err[ERR_LEN];
	/* Field 1, a uint64: one tag byte and at most ten varint bytes. */
	uint8_t resp[16];
	size_t resp_len = 0;
	char *json = NULL;
	enum bx_rpc_code code;
	int64_t now = dispatch_now_ms(d);
	bool closed;
	int rc;

	r = bauxite__v1__metrics_report__unpack(NULL, len, req);
	if (r == NULL) {
		code = say(msg, sizeof(msg), BX_RPC_INVALID_ARGUMENT,
			   "request does not decode");
		goto out;
	}
	code = counters_json(r, &json, msg, sizeof(msg));
	if (code != BX_RPC_OK)
		goto out;
	pthread_mutex_lock(&d->lock);
	closed = gate_closed(d, id, now);
	if (closed)
		d->stats.metrics_throttled++;
	pthread_mutex_unlock(&d->lock);
	if (closed) {
		code = say(msg, sizeof(msg), BX_RPC_RESOURCE_EXHAUSTED,
			   "metrics too frequent: one report per %u ms at most",
			   BX_DISPATCH_METRICS_MIN_MS);
		goto out;
	}
	code = dispatch_node_check(d, peer, msg, sizeof(msg));
	if (code != BX_RPC_OK)
		goto out;
	pthread_mutex_lock(&d->lock);
	rc = gate_note(d, id, now);
	pthread_mutex_unlock(&d->lock);
	if (rc != 0) {
		code = say(msg, sizeof(msg), BX_RPC_INTERNAL, "out of memory");
		goto out;
	}
	rc = bx_store_node_set_metrics(d->store, id, json, err, sizeof(err));
	if (rc == -EINVAL)
		code = say(msg, sizeof(msg), BX_RPC_INVALID_ARGUMENT, "%s",
			   err);
	else if (rc == -ENOENT || rc == -EKEYREVOKED)
		code = say(msg, sizeof(msg), BX_RPC_PERMISSION_DENIED,
			   "node %s is %s", id,
			   rc == -ENOENT ? "not provisioned at this hub"
					 : "revoked");
	else if (rc != 0)
		code = store_failed(d, err, msg, sizeof(msg));
	if (code != BX_RPC_OK)
		goto out;
	ack.unix_ms = (uint64_t)dispatch_now_ms(d);
	BX_ASSERT(bauxite__v1__metrics_ack__get_packed_size(&ack) <=
		  sizeof(resp));
	resp_len = bauxite__v1__metrics_ack__pack(&ack, resp);
out:
	bx_rpc_unary_reply(call, code, code == BX_RPC_OK ? NULL : msg, resp,
			   resp_len);
	free(json);
	if (r != NULL)
		bauxite__v1__metrics_report__free_unpacked(r, NULL);
}

/* ---- the table ---------------------------------------------------------- */

int
dispatch_register(struct bx_dispatch *d)
{
	const struct bx_rpc_method methods[] = {
		{
			.path = BX_DISPATCH_PROVISION,
			.kind = BX_RPC_UNARY,
			/* The node has no certificate yet: the token and the
			 * identity signature are its credentials. */
			.allow_anonymous = true,
			.unary = provision_node,
			.ctx = d,
		},
		{
			.path = BX_DISPATCH_WATCH_TOPOLOGY,
			.kind = BX_RPC_SERVER_STREAM,
			.open = watch_topology,
			.closed = dispatch_stream_closed,
			.ctx = d,
		},
		{
			.path = BX_DISPATCH_WATCH_POLICY,
			.kind = BX_RPC_SERVER_STREAM,
			.open = watch_policy,
			.closed = dispatch_stream_closed,
			.ctx = d,
		},
		{
			.path = BX_DISPATCH_REPORT_METRICS,
			.kind = BX_RPC_UNARY,
			.unary = report_metrics,
			.ctx = d,
		},
		{
			.path = BX_DISPATCH_GET_MESH_SETTINGS,
			.kind = BX_RPC_UNARY,
			.unary = dispatch_get_mesh_settings,
			.ctx = d,
		},
		{
			.path = BX_DISPATCH_EXCHANGE_CANDIDATES,
			.kind = BX_RPC_BIDI_STREAM,
			.open = exchange_open,
			.recv = exchange_recv,
			.closed = dispatch_stream_closed,
			.ctx = d,
		},
	};
	size_t i;
	int rc;

	for (i = 0; i < BX_ARRAY_SIZE(methods); i++) {
		rc = bx_rpc_server_register(d->srv, &methods[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}
