/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dispatch state store, generic layer: argument checks, join token format
 * and checks, virtual IP allocation, topology bumps and the audit chain,
 * over whichever back end (struct bx_store_ops) holds the rows. See
 * bx_store.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "bx_common.h"
#include "bx_store.h"

_Static_assert(crypto_hash_sha256_BYTES == BX_STORE_HASH_LEN, "SHA-256");
_Static_assert(sizeof(BX_STORE_AUDIT_DOMAIN) - 1 == BX_STORE_AUDIT_DOMAIN_LEN,
	       "audit domain tag");
_Static_assert(sodium_base64_ENCODED_LEN(BX_STORE_TOKEN_SECRET_BYTES,
					 sodium_base64_VARIANT_URLSAFE_NO_PADDING) ==
		       BX_STORE_TOKEN_SECRET_LEN + 1,
	       "token secret length");
_Static_assert(BX_STORE_TOKEN_ID_LEN == 2 * BX_STORE_TOKEN_ID_BYTES,
	       "token id length");

/* "255.255.255.255/32" */
#define PREFIX_STR_LEN (INET_ADDRSTRLEN + 4) /* len printed as up to 3 digits */
/* "1970-01-01T00:00:00Z", with room for years past 9999. */
#define TIME_STR_LEN 32
#define PEM_CERT_HEADER "-----BEGIN CERTIFICATE-----"

struct bx_store {
	const struct bx_store_ops *ops;
	void *be;
	/* Error-checking, so a callback calling back in gets EDEADLK. */
	pthread_mutex_t lock;
	struct bx_store_options opts;
	/* The mesh's host addresses and the reserved ones, host order. */
	uint32_t vip_first;
	uint32_t vip_last;
	uint32_t reserved[BX_STORE_MAX_RESERVED];
	uint32_t change_log_max;
};

static int
fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int64_t
realtime_ms(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
now_ms(const struct bx_store *s)
{
	return s->opts.clock_ms(s->opts.clock_arg);
}

static void
fmt_time(char buf[TIME_STR_LEN], int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, TIME_STR_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, TIME_STR_LEN, "%" PRId64 " ms", ms);
}

static void
fmt_ip(char buf[INET_ADDRSTRLEN], uint32_t addr_be)
{
	struct in_addr a = { .s_addr = addr_be };

	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static void
fmt_prefix(char buf[PREFIX_STR_LEN], const struct bx_store_prefix *p)
{
	char ip[INET_ADDRSTRLEN];

	fmt_ip(ip, p->addr);
	snprintf(buf, PREFIX_STR_LEN, "%s/%u", ip, p->len);
}

static uint32_t
prefix_mask(uint8_t len)
{
	return len == 0 ? 0 : UINT32_MAX << (32 - len);
}

/* ---- transactions ------------------------------------------------------- */

/* Takes the store's lock and opens a transaction; both or neither. */
static int
tx_begin(struct bx_store *s, bool write, char *err, size_t errlen)
{
	int rc = pthread_mutex_lock(&s->lock);

	if (rc == EDEADLK)
		return fail(err, errlen, -EDEADLK,
			    "store called from one of its own callbacks");
	if (rc != 0)
		return fail(err, errlen, -rc, "store lock: %s", strerror(rc));
	rc = s->ops->begin(s->be, write, err, errlen);
	if (rc != 0)
		pthread_mutex_unlock(&s->lock);
	return rc;
}

/*
 * Ends the transaction tx_begin opened: commits when @rc is 0, rolls back
 * otherwise (or when the commit fails), and releases the lock. Returns
 * the outcome: @rc, or the commit's error.
 */
static int
tx_end(struct bx_store *s, int rc, char *err, size_t errlen)
{
	if (rc == 0)
		rc = s->ops->commit(s->be, err, errlen);
	if (rc != 0)
		s->ops->rollback(s->be);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* ---- argument checks ---------------------------------------------------- */

static bool
is_id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static bool
is_tag_char(char c)
{
	return is_id_char(c) || c == ':' || c == '=' || c == '/';
}

static bool
is_action_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '-';
}

/* True when @str is 1..@max characters, each passing @ok. */
static bool
word_ok(const char *str, size_t max, bool (*ok)(char))
{
	size_t i;

	if (str == NULL || str[0] == '\0')
		return false;
	for (i = 0; str[i] != '\0'; i++)
		if (i == max || !ok(str[i]))
			return false;
	return true;
}

static bool
is_actor_char(char c)
{
	return c > ' ' && c <= '~';
}

static int
check_actor(const char *actor, char *err, size_t errlen)
{
	if (!word_ok(actor, BX_STORE_ACTOR_MAX, is_actor_char))
		return fail(err, errlen, -EINVAL,
			    "actor: expected 1..%u printable ASCII characters without spaces",
			    BX_STORE_ACTOR_MAX);
	return 0;
}

static int
check_node_id(const char *id, char *err, size_t errlen)
{
	if (!word_ok(id, BX_STORE_ID_MAX, is_id_char))
		return fail(err, errlen, -EINVAL,
			    "node id \"%.*s\": expected 1..%u of [A-Za-z0-9._-]",
			    (int)BX_STORE_ID_MAX + 1, id == NULL ? "" : id,
			    BX_STORE_ID_MAX);
	return 0;
}

/* @what names the tag list in messages: "token" or "node edge-a". */
static int
check_tags(const char *what, const char *const tags[], unsigned n,
	   char *err, size_t errlen)
{
	unsigned i, j;

	if (n > BX_STORE_MAX_TAGS)
		return fail(err, errlen, -EINVAL, "%s: %u tags, at most %u",
			    what, n, BX_STORE_MAX_TAGS);
	for (i = 0; i < n; i++) {
		if (!word_ok(tags[i], BX_STORE_TAG_MAX, is_tag_char))
			return fail(err, errlen, -EINVAL,
				    "%s: tags[%u]: expected 1..%u of [A-Za-z0-9._:=/-]",
				    what, i, BX_STORE_TAG_MAX);
		for (j = 0; j < i; j++)
			if (strcmp(tags[i], tags[j]) == 0)
				return fail(err, errlen, -EINVAL,
					    "%s: tags[%u]: \"%s\" listed twice",
					    what, i, tags[i]);
	}
	return 0;
}

/* @json must be a JSON object of at most @max bytes. */
static int
check_json_object(const char *what, const char *json, size_t max, char *err,
		  size_t errlen)
{
	json_error_t jerr;
	json_t *v;
	size_t len;
	int rc = 0;

	if (json == NULL)
		return fail(err, errlen, -EINVAL, "%s: missing", what);
	len = strnlen(json, max + 1);
	if (len > max)
		return fail(err, errlen, -EINVAL, "%s: more than %zu bytes",
			    what, max);
	v = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL)
		return fail(err, errlen, -EINVAL, "%s: not JSON: %s (column %d)",
			    what, jerr.text, jerr.column);
	if (!json_is_object(v))
		rc = fail(err, errlen, -EINVAL, "%s: not a JSON object", what);
	json_decref(v);
	return rc;
}

static int
check_endpoints(const char *id, const struct bx_store_endpoint *eps,
		unsigned n, char *err, size_t errlen)
{
	unsigned i, j;

	if (n < 1 || n > BX_STORE_MAX_ENDPOINTS)
		return fail(err, errlen, -EINVAL,
			    "node %s: %u endpoints, expected 1..%u", id, n,
			    BX_STORE_MAX_ENDPOINTS);
	for (i = 0; i < n; i++) {
		if (eps[i].ip == 0 || eps[i].port == 0)
			return fail(err, errlen, -EINVAL,
				    "node %s: endpoints[%u]: address and port must be set",
				    id, i);
		for (j = 0; j < i; j++)
			if (eps[i].ip == eps[j].ip &&
			    eps[i].port == eps[j].port)
				return fail(err, errlen, -EINVAL,
					    "node %s: endpoints[%u]: listed twice",
					    id, i);
	}
	return 0;
}

static int
check_prefix(const struct bx_store_prefix *p, uint8_t min_len,
	     uint8_t max_len, char *why, size_t whylen)
{
	char s[PREFIX_STR_LEN];

	if (p->len < min_len || p->len > max_len)
		return fail(why, whylen, -EINVAL, "length %u, expected %u..%u",
			    p->len, min_len, max_len);
	if ((ntohl(p->addr) & ~prefix_mask(p->len)) != 0) {
		fmt_prefix(s, p);
		return fail(why, whylen, -EINVAL, "%s has host bits set", s);
	}
	return 0;
}

static int
check_allowed(const char *id, const struct bx_store_prefix *p, unsigned n,
	      char *err, size_t errlen)
{
	char why[64];
	unsigned i, j;

	if (n > BX_STORE_MAX_PREFIXES)
		return fail(err, errlen, -EINVAL,
			    "node %s: %u allowed prefixes, at most %u", id, n,
			    BX_STORE_MAX_PREFIXES);
	for (i = 0; i < n; i++) {
		if (check_prefix(&p[i], 1, 32, why, sizeof(why)) != 0)
			return fail(err, errlen, -EINVAL,
				    "node %s: allowed_prefixes[%u]: %s", id, i,
				    why);
		for (j = 0; j < i; j++)
			if (p[i].addr == p[j].addr && p[i].len == p[j].len)
				return fail(err, errlen, -EINVAL,
					    "node %s: allowed_prefixes[%u]: listed twice",
					    id, i);
	}
	return 0;
}

static bool
is_hex_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* A certificate, or none: NULL @pem with "" and 0 (when !@required). */
static int
check_cert(const char *id, const char *pem, const char *serial,
	   int64_t not_after_ms, bool required, char *err, size_t errlen)
{
	if (pem == NULL) {
		if (required)
			return fail(err, errlen, -EINVAL,
				    "node %s: cert_pem: missing", id);
		if ((serial != NULL && serial[0] != '\0') || not_after_ms != 0)
			return fail(err, errlen, -EINVAL,
				    "node %s: cert_serial and cert_not_after without cert_pem",
				    id);
		return 0;
	}
	if (strnlen(pem, BX_STORE_CERT_MAX + 1) > BX_STORE_CERT_MAX)
		return fail(err, errlen, -EINVAL,
			    "node %s: cert_pem: more than %u bytes", id,
			    BX_STORE_CERT_MAX);
	if (strncmp(pem, PEM_CERT_HEADER, strlen(PEM_CERT_HEADER)) != 0)
		return fail(err, errlen, -EINVAL,
			    "node %s: cert_pem: does not start with \"%s\"", id,
			    PEM_CERT_HEADER);
	if (!word_ok(serial, BX_STORE_SERIAL_MAX, is_hex_char))
		return fail(err, errlen, -EINVAL,
			    "node %s: cert_serial: expected 1..%u hex digits",
			    id, BX_STORE_SERIAL_MAX);
	if (not_after_ms <= 0)
		return fail(err, errlen, -EINVAL,
			    "node %s: cert_not_after: must be set", id);
	return 0;
}

static int
check_node(const struct bx_store_node *n, char *err, size_t errlen)
{
	const char *tags[BX_STORE_MAX_TAGS];
	char what[BX_STORE_ID_MAX + 8];
	unsigned i;
	int rc;

	rc = check_node_id(n->id, err, errlen);
	if (rc != 0)
		return rc;
	if (sodium_is_zero(n->ed25519_public, BX_STORE_KEY_LEN) ||
	    sodium_is_zero(n->x25519_public, BX_STORE_KEY_LEN))
		return fail(err, errlen, -EINVAL,
			    "node %s: public keys must not be all zero", n->id);
	rc = check_endpoints(n->id, n->endpoints, n->n_endpoints, err, errlen);
	if (rc != 0)
		return rc;
	rc = check_allowed(n->id, n->allowed, n->n_allowed, err, errlen);
	if (rc != 0)
		return rc;
	if (n->n_tags > BX_STORE_MAX_TAGS)
		return fail(err, errlen, -EINVAL, "node %s: %u tags, at most %u",
			    n->id, n->n_tags, BX_STORE_MAX_TAGS);
	for (i = 0; i < n->n_tags; i++)
		tags[i] = strnlen(n->tags[i], sizeof(n->tags[i])) <
					  sizeof(n->tags[i]) ?
				  n->tags[i] :
				  "";
	snprintf(what, sizeof(what), "node %s", n->id);
	rc = check_tags(what, tags, n->n_tags, err, errlen);
	if (rc != 0)
		return rc;
	if (strnlen(n->cert_serial, sizeof(n->cert_serial)) ==
	    sizeof(n->cert_serial))
		return fail(err, errlen, -EINVAL,
			    "node %s: cert_serial: not terminated", n->id);
	return check_cert(n->id, n->cert_pem, n->cert_serial,
			  n->cert_not_after_ms, false, err, errlen);
}

/* ---- audit -------------------------------------------------------------- */

static void
hash_u64(crypto_hash_sha256_state *st, uint64_t v)
{
	uint8_t b[8];
	unsigned i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
	crypto_hash_sha256_update(st, b, sizeof(b));
}

static void
hash_field(crypto_hash_sha256_state *st, const char *s, size_t len)
{
	hash_u64(st, len);
	crypto_hash_sha256_update(st, (const unsigned char *)s, len);
}

void
bx_store_audit_hash(const struct bx_store_audit_record *r,
		    uint8_t out[BX_STORE_HASH_LEN])
{
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st,
				  (const unsigned char *)BX_STORE_AUDIT_DOMAIN,
				  BX_STORE_AUDIT_DOMAIN_LEN);
	hash_u64(&st, r->seq);
	hash_u64(&st, (uint64_t)r->time_ms);
	hash_field(&st, r->actor, r->actor_len);
	hash_field(&st, r->action, r->action_len);
	hash_field(&st, r->detail, r->detail_len);
	crypto_hash_sha256_update(&st, r->prev_hash, BX_STORE_HASH_LEN);
	crypto_hash_sha256_final(&st, out);
}

/* Appends a record inside the caller's write transaction. */
static int
audit_locked(struct bx_store *s, const char *actor, const char *action,
	     const char *detail, uint64_t *seq, char *err, size_t errlen)
{
	struct bx_store_audit_record r = {
		.time_ms = now_ms(s),
		.actor = actor,
		.actor_len = strlen(actor),
		.action = action,
		.action_len = strlen(action),
		.detail = detail,
		.detail_len = strlen(detail),
	};
	uint64_t head;
	int rc;

	rc = s->ops->audit_head(s->be, &head, r.prev_hash, err, errlen);
	if (rc != 0)
		return rc;
	r.seq = head + 1;
	bx_store_audit_hash(&r, r.hash);
	rc = s->ops->audit_insert(s->be, &r, err, errlen);
	if (rc == 0 && seq != NULL)
		*seq = r.seq;
	return rc;
}

/*
 * Appends a record whose detail is @detail (a JSON object the store built;
 * reference stolen, NULL meaning it could not be built).
 */
static int
audit_json(struct bx_store *s, const char *actor, const char *action,
	   json_t *detail, char *err, size_t errlen)
{
	char *text = NULL;
	int rc;

	if (detail != NULL)
		text = json_dumps(detail, JSON_COMPACT);
	json_decref(detail);
	if (text == NULL)
		return fail(err, errlen, -ENOMEM, "audit detail: out of memory");
	rc = audit_locked(s, actor, action, text, NULL, err, errlen);
	free(text);
	return rc;
}

static json_t *
json_key_b64(const uint8_t key[BX_STORE_KEY_LEN])
{
	char b64[sodium_base64_ENCODED_LEN(BX_STORE_KEY_LEN,
					   sodium_base64_VARIANT_ORIGINAL)];

	sodium_bin2base64(b64, sizeof(b64), key, BX_STORE_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	return json_string(b64);
}

static json_t *
json_ip(uint32_t addr_be)
{
	char ip[INET_ADDRSTRLEN];

	fmt_ip(ip, addr_be);
	return json_string(ip);
}

static json_t *
json_tags(const char *const tags[], unsigned n)
{
	json_t *a = json_array();
	unsigned i;

	for (i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(tags[i])) != 0) {
			json_decref(a);
			a = NULL;
		}
	return a;
}

static json_t *
json_prefixes(const struct bx_store_prefix *p, unsigned n)
{
	char str[PREFIX_STR_LEN];
	json_t *a = json_array();
	unsigned i;

	for (i = 0; a != NULL && i < n; i++) {
		fmt_prefix(str, &p[i]);
		if (json_array_append_new(a, json_string(str)) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

/* ---- open and close ----------------------------------------------------- */

int
bx_store_attach(const struct bx_store_ops *ops, void *be,
		const struct bx_store_options *opts, struct bx_store **out,
		char *err, size_t errlen)
{
	const struct bx_store_options none = { 0 };
	pthread_mutexattr_t attr;
	struct bx_store *s = NULL;
	char why[64], ip[INET_ADDRSTRLEN];
	uint32_t net = 0, mask = 0, r;
	unsigned i;
	int rc;

	if (opts == NULL)
		opts = &none;
	if (sodium_init() < 0) {
		rc = fail(err, errlen, -EIO, "libsodium failed to initialise");
		goto fail;
	}
	if (opts->mesh.len == 0 && opts->n_reserved > 0) {
		rc = fail(err, errlen, -EINVAL,
			  "reserved virtual IPs without a mesh prefix");
		goto fail;
	}
	if (opts->mesh.len != 0 &&
	    check_prefix(&opts->mesh, BX_STORE_MESH_LEN_MIN,
			 BX_STORE_MESH_LEN_MAX, why, sizeof(why)) != 0) {
		rc = fail(err, errlen, -EINVAL, "mesh prefix: %s", why);
		goto fail;
	}
	if (opts->n_reserved > BX_STORE_MAX_RESERVED) {
		rc = fail(err, errlen, -EINVAL,
			  "%u reserved virtual IPs, at most %u",
			  opts->n_reserved, BX_STORE_MAX_RESERVED);
		goto fail;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		rc = fail(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	s->opts = *opts;
	if (s->opts.clock_ms == NULL)
		s->opts.clock_ms = realtime_ms;
	s->change_log_max = opts->change_log_max != 0 ? opts->change_log_max :
							BX_STORE_CHANGE_LOG_MAX;
	if (opts->mesh.len != 0) {
		mask = prefix_mask(opts->mesh.len);
		net = ntohl(opts->mesh.addr);
		/* Neither the network nor the broadcast address is a host. */
		s->vip_first = net + 1;
		s->vip_last = (net | ~mask) - 1;
	}
	for (i = 0; i < opts->n_reserved; i++) {
		r = ntohl(opts->reserved[i]);
		if ((r & mask) != net) {
			fmt_ip(ip, opts->reserved[i]);
			rc = fail(err, errlen, -EINVAL,
				  "reserved virtual IP %s is outside the mesh prefix",
				  ip);
			goto fail;
		}
		s->reserved[i] = r;
	}
	if (pthread_mutexattr_init(&attr) != 0) {
		rc = fail(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	rc = -pthread_mutex_init(&s->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (rc != 0) {
		fail(err, errlen, rc, "store lock: %s", strerror(-rc));
		goto fail;
	}
	s->ops = ops;
	s->be = be;
	*out = s;
	return 0;
fail:
	free(s);
	ops->close(be);
	return rc;
}

void
bx_store_close(struct bx_store *s)
{
	if (s == NULL)
		return;
	s->ops->close(s->be);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- join tokens -------------------------------------------------------- */

static bool
is_token_id(const char *id)
{
	unsigned i;

	for (i = 0; i < BX_STORE_TOKEN_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return id[BX_STORE_TOKEN_ID_LEN] == '\0' ||
	       id[BX_STORE_TOKEN_ID_LEN] == '.';
}

int
bx_store_token_create(struct bx_store *s, const char *actor, uint32_t ttl_s,
		      uint32_t uses, const char *const tags[], unsigned n_tags,
		      char token_out[BX_STORE_TOKEN_LEN + 1], char *err,
		      size_t errlen)
{
	uint8_t id_bin[BX_STORE_TOKEN_ID_BYTES];
	uint8_t secret[BX_STORE_TOKEN_SECRET_BYTES];
	uint8_t hash[BX_STORE_HASH_LEN];
	struct bx_store_token_info t = { 0 };
	char b64[BX_STORE_TOKEN_SECRET_LEN + 1];
	json_t *detail;
	unsigned i;
	int rc;

	rc = check_actor(actor, err, errlen);
	if (rc != 0)
		return rc;
	if (ttl_s < 1 || ttl_s > BX_STORE_TOKEN_TTL_MAX_S)
		return fail(err, errlen, -EINVAL,
			    "token ttl: %" PRIu32 " s, expected 1..%u", ttl_s,
			    BX_STORE_TOKEN_TTL_MAX_S);
	if (uses < 1 || uses > BX_STORE_TOKEN_USES_MAX)
		return fail(err, errlen, -EINVAL,
			    "token uses: %" PRIu32 ", expected 1..%u", uses,
			    BX_STORE_TOKEN_USES_MAX);
	rc = check_tags("token", tags, n_tags, err, errlen);
	if (rc != 0)
		return rc;

	randombytes_buf(id_bin, sizeof(id_bin));
	randombytes_buf(secret, sizeof(secret));
	crypto_hash_sha256(hash, secret, sizeof(secret));
	sodium_bin2hex(t.id, sizeof(t.id), id_bin, sizeof(id_bin));
	t.created_ms = now_ms(s);
	t.expires_ms = t.created_ms + (int64_t)ttl_s * 1000;
	t.uses_total = uses;
	t.uses_left = uses;
	t.n_tags = n_tags;
	for (i = 0; i < n_tags; i++)
		snprintf(t.tags[i], sizeof(t.tags[i]), "%s", tags[i]);
	detail = json_pack("{s:s, s:I, s:I, s:o*}", "token", t.id,
			   "expires_ms", (json_int_t)t.expires_ms, "uses",
			   (json_int_t)uses, "tags", json_tags(tags, n_tags));

	rc = tx_begin(s, true, err, errlen);
	if (rc != 0) {
		json_decref(detail);
		goto out;
	}
	rc = s->ops->token_insert(s->be, &t, hash,
				  t.created_ms - BX_STORE_TOKEN_KEEP_EXPIRED_MS,
				  BX_STORE_MAX_TOKENS, err, errlen);
	if (rc == 0)
		rc = audit_json(s, actor, BX_STORE_AUDIT_TOKEN_CREATE, detail,
				err, errlen);
	else
		json_decref(detail);
	rc = tx_end(s, rc, err, errlen);
	if (rc != 0)
		goto out;

	sodium_bin2base64(b64, sizeof(b64), secret, sizeof(secret),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(token_out, BX_STORE_TOKEN_LEN + 1, "%s.%s", t.id, b64);
out:
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(b64, sizeof(b64));
	return rc;
}

/*
 * Splits "<id>.<secret>" into the id and the secret bytes. The whole
 * string must be one canonical token: what it could otherwise match is
 * someone's typo, not a token.
 */
static bool
token_parse(const char *token, char id[BX_STORE_TOKEN_ID_LEN + 1],
	    uint8_t secret[BX_STORE_TOKEN_SECRET_BYTES])
{
	const char *b64, *end = NULL;
	size_t bin_len = 0;

	if (token == NULL ||
	    strnlen(token, BX_STORE_TOKEN_LEN + 1) != BX_STORE_TOKEN_LEN ||
	    token[BX_STORE_TOKEN_ID_LEN] != '.' || !is_token_id(token))
		return false;
	b64 = token + BX_STORE_TOKEN_ID_LEN + 1;
	if (sodium_base642bin(secret, BX_STORE_TOKEN_SECRET_BYTES, b64,
			      BX_STORE_TOKEN_SECRET_LEN, NULL, &bin_len, &end,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    bin_len != BX_STORE_TOKEN_SECRET_BYTES ||
	    end != b64 + BX_STORE_TOKEN_SECRET_LEN)
		return false;
	memcpy(id, token, BX_STORE_TOKEN_ID_LEN);
	id[BX_STORE_TOKEN_ID_LEN] = '\0';
	return true;
}

int
bx_store_token_consume(struct bx_store *s, const char *actor,
		       const char *token, int64_t now,
		       struct bx_store_token_info *info, char *err,
		       size_t errlen)
{
	uint8_t secret[BX_STORE_TOKEN_SECRET_BYTES];
	uint8_t hash[BX_STORE_HASH_LEN], stored[BX_STORE_HASH_LEN];
	char id[BX_STORE_TOKEN_ID_LEN + 1], when[TIME_STR_LEN];
	struct bx_store_token_info t;
	int rc;

	rc = check_actor(actor, err, errlen);
	if (rc != 0)
		return rc;
	if (!token_parse(token, id, secret)) {
		rc = fail(err, errlen, -ENOENT,
			  "token malformed: expected %u hex digits, '.', %u base64url characters",
			  BX_STORE_TOKEN_ID_LEN, BX_STORE_TOKEN_SECRET_LEN);
		goto out;
	}
	crypto_hash_sha256(hash, secret, sizeof(secret));

	rc = tx_begin(s, true, err, errlen);
	if (rc != 0)
		goto out;
	rc = s->ops->token_get(s->be, id, &t, stored, err, errlen);
	/* A wrong secret reads like an unknown id: no oracle for ids. */
	if (rc == -ENOENT ||
	    (rc == 0 && sodium_memcmp(hash, stored, sizeof(hash)) != 0)) {
		rc = fail(err, errlen, -ENOENT, "token unknown");
	} else if (rc == 0 && now >= t.expires_ms) {
		fmt_time(when, t.expires_ms);
		rc = fail(err, errlen, -EKEYEXPIRED, "token %s expired at %s",
			  id, when);
	} else if (rc == 0 && t.uses_left == 0) {
		rc = fail(err, errlen, -EUSERS, "token %s already used%s", id,
			  t.uses_total > 1 ? " (every use taken)" : "");
	} else if (rc == 0) {
		t.uses_left--;
		rc = s->ops->token_set_uses(s->be, id, t.uses_left, err,
					    errlen);
		if (rc == 0)
			rc = audit_json(s, actor, BX_STORE_AUDIT_TOKEN_CONSUME,
					json_pack("{s:s, s:I}", "token", id,
						  "uses_left",
						  (json_int_t)t.uses_left),
					err, errlen);
	}
	rc = tx_end(s, rc, err, errlen);
	if (rc == 0 && info != NULL)
		*info = t;
out:
	sodium_memzero(secret, sizeof(secret));
	return rc;
}

int
bx_store_token_list(struct bx_store *s, bx_store_token_cb cb, void *arg,
		    char *err, size_t errlen)
{
	int rc = tx_begin(s, false, err, errlen);

	if (rc != 0)
		return rc;
	rc = s->ops->token_list(s->be, cb, arg, err, errlen);
	return tx_end(s, rc, err, errlen);
}

int
bx_store_token_revoke(struct bx_store *s, const char *actor, const char *id,
		      char *err, size_t errlen)
{
	int rc;

	rc = check_actor(actor, err, errlen);
	if (rc != 0)
		return rc;
	if (id == NULL || strnlen(id, BX_STORE_TOKEN_ID_LEN + 1) !=
				  BX_STORE_TOKEN_ID_LEN ||
	    !is_token_id(id))
		return fail(err, errlen, -EINVAL,
			    "token id: expected %u lowercase hex digits",
			    BX_STORE_TOKEN_ID_LEN);
	rc = tx_begin(s, true, err, errlen);
	if (rc != 0)
		return rc;
	rc = s->ops->token_delete(s->be, id, err, errlen);
	if (rc == 0)
		rc = audit_json(s, actor, BX_STORE_AUDIT_TOKEN_REVOKE,
				json_pack("{s:s}", "token", id), err, errlen);
	return tx_end(s, rc, err, errlen);
}

/* ---- nodes -------------------------------------------------------------- */

static bool
is_reserved(const struct bx_store *s, uint64_t a)
{
	unsigned i;

	for (i = 0; i < s->opts.n_reserved; i++)
		if (s->reserved[i] == a)
			return true;
	return false;
}

/* The first host address from @a on that is not reserved. */
static uint64_t
vip_candidate(const struct bx_store *s, uint64_t a)
{
	while (a <= s->vip_last && is_reserved(s, a))
		a++;
	return a;
}

/*
 * Walks the used addresses in ascending order beside a candidate: the
 * candidate moves past each used address it meets, and the first gap is
 * the lowest free address. 64-bit so "past the last" cannot wrap.
 */
struct vip_walk {
	const struct bx_store *s;
	uint64_t cand;
};

static int
vip_walk_cb(uint32_t vip, void *arg)
{
	struct vip_walk *w = arg;

	if (vip < w->cand)
		return 0;
	if (vip > w->cand)
		return 1;
	w->cand = vip_candidate(w->s, (uint64_t)vip + 1);
	return w->cand > w->s->vip_last ? 1 : 0;
}

/* The lowest free virtual IP (host order), inside a write transaction. */
static int
vip_allocate(struct bx_store *s, uint32_t *vip, char *err, size_t errlen)
{
	struct vip_walk w = { .s = s, .cand = vip_candidate(s, s->vip_first) };
	char mesh[PREFIX_STR_LEN];
	int rc = 0;

	if (w.cand <= s->vip_last)
		rc = s->ops->vip_list(s->be, s->vip_first, s->vip_last,
				      vip_walk_cb, &w, err, errlen);
	if (rc < 0)
		return rc;
	if (w.cand > s->vip_last) {
		fmt_prefix(mesh, &s->opts.mesh);
		return fail(err, errlen, -ENOSPC,
			    "no free virtual IP in %s (%" PRIu32
			    " host addresses, %u reserved)",
			    mesh, s->vip_last - s->vip_first + 1,
			    s->opts.n_reserved);
	}
	*vip = (uint32_t)w.cand;
	return 0;
}

int
bx_store_node_add(struct bx_store *s, const char *actor,
		  const struct bx_store_node *n, uint32_t *virtual_ip,
		  char *err, size_t errlen)
{
	struct bx_store_node row;
	const char *tags[BX_STORE_MAX_TAGS];
	uint64_t version = 0;
	uint32_t vip = 0;
	json_t *detail;
	unsigned i;
	int rc;

	rc = check_actor(actor, err, errlen);
	if (rc == 0)
		rc = check_node(n, err, errlen);
	if (rc != 0)
		return rc;
	if (s->opts.mesh.len == 0)
		return fail(err, errlen, -EINVAL,
			    "node %s: the store was opened without a mesh prefix",
			    n->id);
	row = *n;
	row.created_ms = now_ms(s);
	row.revoked_ms = 0;
	row.last_seen_ms = 0;
	row.metrics_json = NULL;
	row.metrics_ms = 0;
	for (i = 0; i < n->n_tags; i++)
		tags[i] = n->tags[i];

	rc = tx_begin(s, true, err, errlen);
	if (rc != 0)
		return rc;
	rc = vip_allocate(s, &vip, err, errlen);
	if (rc != 0)
		goto end;
	row.virtual_ip = htonl(vip);
	rc = s->ops->node_insert(s->be, &row, err, errlen);
	if (rc != 0)
		goto end;
	rc = s->ops->topology_bump(s->be, BX_STORE_CHANGE_UPSERT, n->id,
				   s->change_log_max, &version, err, errlen);
	if (rc != 0)
		goto end;
	detail = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:s?, s:I}",
			   "node", n->id,
			   "virtual_ip", json_ip(row.virtual_ip),
			   "ed25519_public", json_key_b64(n->ed25519_public),
			   "x25519_public", json_key_b64(n->x25519_public),
			   "allowed_prefixes",
			   json_prefixes(n->allowed, n->n_allowed),
			   "tags", json_tags(tags, n->n_tags),
			   "cert_serial",
			   n->cert_pem != NULL ? n->cert_serial : NULL,
			   "topology_version", (json_int_t)version);
	rc = audit_json(s, actor, BX_STORE_AUDIT_NODE_ADD, detail, err,
			errlen);
end:
	rc = tx_end(s, rc, err, errlen);
	if (rc == 0 && virtual_ip != NULL)
		*virtual_ip = row.virtual_ip;
	return rc;
}

int
bx_store_node_get(struct bx_store *s, const char *id,
		  struct bx_store_node **out, char *err, size_t errlen)
{
	int rc = check_node_id(id, err, errlen);

	if (rc != 0)
		return rc;
	rc = tx_begin(s, false, err, errlen);
	if (rc != 0)
		return rc;
	rc = s->ops->node_get(s->be, id, out, err, errlen);
	return tx_end(s, rc, err, errlen);
}

void
bx_store_node_free(struct bx_store_node *n)
{
	free(n);
}

int
bx_store_node_list(struct bx_store *s, bx_store_node_cb cb, void *arg,
		   char *err, size_t errlen)
{
	int rc = tx_begin(s, false, err, errlen);

	if (rc != 0)
		return rc;
	rc = s->ops->node_list(s->be, cb, arg, err, errlen);
	return tx_end(s, rc, err, errlen);
}

/*
 * Fetches node @id for a change inside a write transaction: -EKEYREVOKED
 * for a revoked node unless @revoked_ok.
 */
static int
node_for_change(struct bx_store *s, const char *id, bool revoked_ok,
		struct bx_store_node **out, char *err, size_t errlen)
{
	struct bx_store_node *n = NULL;
	char when[TIME_STR_LEN];
	int rc;

	rc = s->ops->node_get(s->be, id, &n, err, errlen);
	if (rc != 0)
		return rc;
	if (!revoked_ok && n->revoked_ms != 0) {
		fmt_time(when, n->revoked_ms);
		bx_store_node_free(n);
		return fail(err, errlen, -EKEYREVOKED,
			    "node %s was revoked at %s", id, when);
	}
	*out = n;
	return 0;
}

int
bx_store_node_revoke(struct bx_store *s, const char *actor, const char *id,
		     char *err, size_t errlen)
{
	struct bx_store_node *n = NULL;
	char when[TIME_STR_LEN];
	uint64_t version = 0;
	int rc;

	rc = check_actor(actor, err, errlen);
	if (rc == 0)
		rc = check_node_id(id, err, errlen);
	if (rc != 0)
		return rc;
	rc = tx_begin(s, true, err, errlen);
	if (rc != 0)
		return rc;
	rc = node_for_change(s, id, true, &n, err, errlen);
	if (rc != 0)
		goto end;
	if (n->revoked_ms != 0) {
		fmt_time(when, n->revoked_ms);
		rc = fail(err, errlen, -EALREADY,
			  "node %s already revoked at %s", id, when);
		goto end;
	}
	n->revoked_ms = now_ms(s);
	rc = s->ops->node_update(s->be, n, err, errlen);
	if (rc != 0)
		goto end;
	rc = s->ops->topology_bump(s->be, BX_STORE_CHANGE_REMOVE, id,
				   s->change_log_max, &version, err, errlen);
	if (rc != 0)
		goto end;
	rc = audit_json(s, actor, BX_STORE_AUDIT_NODE_REVOKE,
			json_pack("{s:s, s:o, s:I}", "node", id, "virtual_ip",
				  json_ip(n->virtual_ip), "topology_version",
				  (json_int_t)version),
			err, errlen);
end:
	bx_store_node_free(n);
	return tx_end(s, rc, err, errlen);
}

int
bx_store_node_purge(struct bx_store *s, const char *actor, const char *id,
		    char *err, size_t errlen)
{
	struct bx_store_node *n = NULL;
	int rc;

	rc = check_actor(actor, err, errlen);
	if (rc == 0)
		rc = check_node_id(id, err, errlen);
	if (rc != 0)
		return rc;
	rc = tx_begin(s, true, err, errlen);
	if (rc != 0)
		return rc;
	rc = node_for_change(s, id, true, &n, err, errlen);
	if (rc != 0)
		goto end;
	if (n->revoked_ms == 0) {
		rc = fail(err, errlen, -EBUSY,
			  "node %s is active: revoke it before purging", id);
		goto end;
	}
	rc = s->ops->node_delete(s->be, id, err, errlen);
	if (rc != 0)
		goto end;
	rc = audit_json(s, actor, BX_STORE_AUDIT_NODE_PURGE,
			json_pack("{s:s, s:o, s:o}", "node", id, "virtual_ip",
				  json_ip(n->virtual_ip), "x25519_public",
				  json_key_b64(n->x25519_public)),
			err, errlen);
end:
	bx_store_node_free(n);
	return tx_end(s, rc, err, errlen);
}

int
bx_store_node_set_endpoints(struct bx_store *s, const char *id,
			    const struct bx_store_endpoint *eps, unsigned n,
			    char *err, size_t errlen)
{
	struct bx_store_node *node = NULL;
	uint64_t version;
	unsigned i;
	int rc;

	rc = check_node_id(id, err, errlen);
	if (rc == 0)
		rc = check_endpoints(id, eps, n, err, errlen);
	if (rc != 0)
		return rc;
	rc = tx_begin(s, true, err, errlen);
	if (rc != 0)
		return rc;
	rc = node_for_change(s, id, false, &node, err, errlen);
	if (rc != 0)
		goto end;
	if (node->n_endpoints == n) {
		for (i = 0; i < n; i++)
			if (node->endpoints[i].ip != eps[i].ip ||
			    node->endpoints[i].port != eps[i].port)
				break;
		if (i == n)
			goto end; /* unchanged: no new topology version */
	}
	node->n_endpoints = n;
	memcpy(node->endpoints, eps, n * sizeof(*eps));
	rc = s->ops->node_update(s->be, node, err, errlen);
	if (rc == 0)
		rc = s->ops->topology_bump(s->be, BX_STORE_CHANGE_UPSERT, id,
					   s->change_log_max, &version, err,
					   errlen);
end:
	bx_store_node_free(node);
	return tx_end(s, rc, err, errlen);
}

int
bx_store_node_set_allowed(struct bx_store *s, const char *actor,
			  const char *id,
			  const struct bx_store_prefix *prefixes, unsigned n,
			  char *err, size_t errlen)
{
	struct bx_store_node *node = NULL;
	uint64_t version = 0;
	unsigned i;
	int rc;

	rc = check_actor(actor, err, errlen);
	if (rc == 0)
		rc = check_node_id(id, err, errlen);
	if (rc == 0)
		rc = check_allowed(id, prefixes, n, err, errlen);
	if (rc != 0)
		return rc;
	rc = tx_begin(s, true, err, errlen);
	if (rc != 0)
		return rc;
	rc = node_for_change(s, id, false, &node, err, errlen);
	if (rc != 0)
		goto end;
	if (node->n_allowed == n) {
		for (i = 0; i < n; i++)
			if (node->allowed[i].addr != prefixes[i].addr ||
			    node->allowed[i].len != prefixes[i].len)
				break;
		if (i == n)
			goto end; /* unchanged */
	}
	node->n_allowed = n;
	if (n > 0)
		memcpy(node->allowed, prefixes, n * sizeof(*prefixes));
	rc = s->ops->node_update(s->be, node, err, errlen);
	if (rc == 0)
		rc = s->ops->topology_bump(s->be, BX_STORE_CHANGE_UPSERT, id,
					   s->change_log_max, &version, err,
					   errlen);
	if (rc == 0)
		rc = audit_json(s, actor, BX_STORE_AUDIT_NODE_ALLOWED,
				json_pack("{s:s, s:o, s:I}", "node", id,
					  "allowed_prefixes",
					  json_prefixes(prefixes, n),
					  "topology_version",
					  (json_int_t)version),
				err, errlen);
end:
	bx_store_node_free(node);
	return tx_end(s, rc, err, errlen);
}

int
bx_store_node_set_cert(struct bx_store *s, const char *actor, const char *id,
		       const char *pem, const char *serial,
		       int64_t not_after_ms, char *err, size_t errlen)
{
	struct bx_store_node *node = NULL;
	int rc;

	rc = check_actor(actor, err, errlen);
	if (rc == 0)
		rc = check_node_id(id, err, errlen);
	if (rc == 0)
		rc = check_cert(id, pem, serial, not_after_ms, true, err,
				errlen);
	if (rc != 0)
		return rc;
	rc = tx_begin(s, true, err, errlen);
	if (rc != 0)
		return rc;
	rc = node_for_change(s, id, false, &node, err, errlen);
	if (rc != 0)
		goto end;
	node->cert_pem = pem;
	snprintf(node->cert_serial, sizeof(node->cert_serial), "%s", serial);
	node->cert_not_after_ms = not_after_ms;
	rc = s->ops->node_update(s->be, node, err, errlen);
	if (rc == 0)
		rc = audit_json(s, actor, BX_STORE_AUDIT_NODE_CERT,
				json_pack("{s:s, s:s, s:I}", "node", id,
					  "cert_serial", serial,
					  "not_after_ms",
					  (json_int_t)not_after_ms),
				err, errlen);
end:
	bx_store_node_free(node);
	return tx_end(s, rc, err, errlen);
}

static int
node_seen(struct bx_store *s, const char *id, const char *metrics, char *err,
	  size_t errlen)
{
	int rc = tx_begin(s, true, err, errlen);

	if (rc != 0)
		return rc;
	rc = s->ops->node_seen(s->be, id, now_ms(s), metrics, err, errlen);
	return tx_end(s, rc, err, errlen);
}

int
bx_store_node_touch(struct bx_store *s, const char *id, char *err,
		    size_t errlen)
{
	int rc = check_node_id(id, err, errlen);

	return rc != 0 ? rc : node_seen(s, id, NULL, err, errlen);
}

int
bx_store_node_set_metrics(struct bx_store *s, const char *id,
			  const char *json, char *err, size_t errlen)
{
	char what[BX_STORE_ID_MAX + 16];
	int rc = check_node_id(id, err, errlen);

	if (rc != 0)
		return rc;
	snprintf(what, sizeof(what), "node %s: metrics", id);
	rc = check_json_object(what, json, BX_STORE_METRICS_MAX, err, errlen);
	return rc != 0 ? rc : node_seen(s, id, json, err, errlen);
}

/* ---- topology ----------------------------------------------------------- */

int
bx_store_topology_version(struct bx_store *s, uint64_t *version, char *err,
			  size_t errlen)
{
	uint64_t v, oldest;
	int rc = tx_begin(s, false, err, errlen);

	if (rc != 0)
		return rc;
	rc = s->ops->topology_get(s->be, &v, &oldest, err, errlen);
	rc = tx_end(s, rc, err, errlen);
	if (rc == 0)
		*version = v;
	return rc;
}

int
bx_store_changes_since(struct bx_store *s, uint64_t since,
		       bx_store_change_cb cb, void *arg, uint64_t *version,
		       char *err, size_t errlen)
{
	uint64_t current = 0, oldest = 0;
	int rc = tx_begin(s, false, err, errlen);

	if (rc != 0)
		return rc;
	rc = s->ops->topology_get(s->be, &current, &oldest, err, errlen);
	if (rc != 0)
		goto end;
	if (since > current) {
		rc = fail(err, errlen, -ERANGE,
			  "topology version %" PRIu64
			  " is ahead of the store's %" PRIu64,
			  since, current);
		goto end;
	}
	if (since == current)
		goto end;
	/* Versions are contiguous in the log: it must reach since + 1. */
	if (oldest == 0 || oldest > since + 1) {
		rc = fail(err, errlen, -ERANGE,
			  "topology version %" PRIu64
			  " is older than the change log (oldest change kept: %" PRIu64
			  ")",
			  since, oldest);
		goto end;
	}
	rc = s->ops->topology_changes(s->be, since, cb, arg, err, errlen);
end:
	rc = tx_end(s, rc, err, errlen);
	if (rc == 0 && version != NULL)
		*version = current;
	return rc;
}

/* ---- policy ------------------------------------------------------------- */

int
bx_store_policy_set(struct bx_store *s, const char *actor, const char *json,
		    uint64_t *version, char *err, size_t errlen)
{
	uint8_t hash[BX_STORE_HASH_LEN];
	char hex[2 * BX_STORE_HASH_LEN + 1];
	uint64_t v = 0;
	size_t len;
	int rc;

	rc = check_actor(actor, err, errlen);
	if (rc == 0)
		rc = check_json_object("policy", json, BX_STORE_POLICY_MAX,
				       err, errlen);
	if (rc != 0)
		return rc;
	len = strlen(json);
	crypto_hash_sha256(hash, (const unsigned char *)json, len);
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));

	rc = tx_begin(s, true, err, errlen);
	if (rc != 0)
		return rc;
	rc = s->ops->policy_get(s->be, NULL, &v, err, errlen);
	if (rc == -ENOENT)
		rc = 0;
	if (rc != 0)
		goto end;
	v++;
	rc = s->ops->policy_put(s->be, v, now_ms(s), json, err, errlen);
	if (rc == 0)
		rc = audit_json(s, actor, BX_STORE_AUDIT_POLICY_SET,
				json_pack("{s:I, s:s, s:I}", "version",
					  (json_int_t)v, "sha256", hex,
					  "bytes", (json_int_t)len),
				err, errlen);
end:
	rc = tx_end(s, rc, err, errlen);
	if (rc == 0 && version != NULL)
		*version = v;
	return rc;
}

int
bx_store_policy_get(struct bx_store *s, char **json, uint64_t *version,
		    char *err, size_t errlen)
{
	char *text = NULL;
	uint64_t v = 0;
	int rc = tx_begin(s, false, err, errlen);

	if (rc != 0)
		return rc;
	rc = s->ops->policy_get(s->be, &text, &v, err, errlen);
	rc = tx_end(s, rc, err, errlen);
	if (rc != 0) {
		free(text);
		return rc;
	}
	*json = text;
	*version = v;
	return 0;
}

/* ---- mesh settings ------------------------------------------------------ */

/* The settings row the mesh settings are kept in. */
#define MESH_SETTING "mesh"
/* "255.255.255.255:65535" */
#define ENDPOINT_STR_LEN (INET_ADDRSTRLEN + 6)

static void
fmt_endpoint(char buf[ENDPOINT_STR_LEN], const struct bx_store_endpoint *e)
{
	char ip[INET_ADDRSTRLEN];

	fmt_ip(ip, e->ip);
	snprintf(buf, ENDPOINT_STR_LEN, "%s:%u", ip, e->port);
}

/*
 * Why @ip (network order) cannot be a server nodes send to, or NULL.
 * Loopback is fine: a STUN server on the node's own host.
 */
static const char *
unusable_server(uint32_t ip)
{
	uint32_t h = ntohl(ip);

	if ((h >> 24) == 0)
		return "is not a host address (0.0.0.0/8)";
	if ((h >> 28) >= 0xe)
		return "is not a unicast address (multicast, reserved or "
		       "broadcast)";
	return NULL;
}

/* @what: "stun" or "relays". */
static int
check_servers(const char *what, const struct bx_store_endpoint *eps,
	      unsigned n, unsigned max, char *err, size_t errlen)
{
	char text[ENDPOINT_STR_LEN];
	const char *why;
	unsigned i, j;

	if (n > max)
		return fail(err, errlen, -EINVAL, "%s: %u entries, at most %u",
			    what, n, max);
	for (i = 0; i < n; i++) {
		fmt_endpoint(text, &eps[i]);
		if (eps[i].port == 0)
			return fail(err, errlen, -EINVAL,
				    "%s[%u]: %s: port 0", what, i, text);
		why = unusable_server(eps[i].ip);
		if (why != NULL)
			return fail(err, errlen, -EINVAL, "%s[%u]: %s %s",
				    what, i, text, why);
		for (j = 0; j < i; j++)
			if (eps[i].ip == eps[j].ip &&
			    eps[i].port == eps[j].port)
				return fail(err, errlen, -EINVAL,
					    "%s[%u]: %s listed twice", what,
					    i, text);
	}
	return 0;
}

static int
check_mesh(const struct bx_store_mesh *m, char *err, size_t errlen)
{
	int rc;

	rc = check_servers("stun", m->stun, m->n_stun, BX_STORE_MAX_STUN, err,
			   errlen);
	if (rc == 0)
		rc = check_servers("relays", m->relays, m->n_relays,
				   BX_STORE_MAX_RELAYS, err, errlen);
	if (rc == 0 &&
	    (m->relay_key_lifetime_s < BX_STORE_RELAY_KEY_LIFETIME_MIN_S ||
	     m->relay_key_lifetime_s > BX_STORE_RELAY_KEY_LIFETIME_MAX_S))
		rc = fail(err, errlen, -EINVAL,
			  "relay_key_lifetime_s: %" PRIu32
			  ", expected %u..%u",
			  m->relay_key_lifetime_s,
			  BX_STORE_RELAY_KEY_LIFETIME_MIN_S,
			  BX_STORE_RELAY_KEY_LIFETIME_MAX_S);
	return rc;
}

static json_t *
json_endpoints(const struct bx_store_endpoint *eps, unsigned n)
{
	char text[ENDPOINT_STR_LEN];
	json_t *a = json_array();
	unsigned i;

	for (i = 0; a != NULL && i < n; i++) {
		fmt_endpoint(text, &eps[i]);
		if (json_array_append_new(a, json_string(text)) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

/* The settings as stored and audited: lists of "a.b.c.d:port". */
static json_t *
mesh_json(const struct bx_store_mesh *m)
{
	return json_pack("{s:o, s:o, s:I}", "stun",
			 json_endpoints(m->stun, m->n_stun), "relays",
			 json_endpoints(m->relays, m->n_relays),
			 "relay_key_lifetime_s",
			 (json_int_t)m->relay_key_lifetime_s);
}

/* "a.b.c.d:port", port 1..65535. */
static bool
parse_endpoint(const char *text, struct bx_store_endpoint *out)
{
	char ip[INET_ADDRSTRLEN];
	const char *colon = strchr(text, ':');
	unsigned long port;
	struct in_addr a;
	char *end;

	if (colon == NULL || (size_t)(colon - text) >= sizeof(ip) ||
	    colon[1] < '0' || colon[1] > '9')
		return false;
	memcpy(ip, text, (size_t)(colon - text));
	ip[colon - text] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (inet_pton(AF_INET, ip, &a) != 1 || errno != 0 || *end != '\0' ||
	    port < 1 || port > UINT16_MAX)
		return false;
	out->ip = a.s_addr;
	out->port = (uint16_t)port;
	return true;
}

static bool
endpoints_from_json(const json_t *a, struct bx_store_endpoint *eps,
		    unsigned max, unsigned *n)
{
	size_t i;

	if (!json_is_array(a) || json_array_size(a) > max)
		return false;
	for (i = 0; i < json_array_size(a); i++) {
		const char *text = json_string_value(json_array_get(a, i));

		if (text == NULL || !parse_endpoint(text, &eps[i]))
			return false;
	}
	*n = (unsigned)json_array_size(a);
	return true;
}

/* A stored value back into @m; false when it is not what mesh_json made. */
static bool
mesh_from_json(const char *text, struct bx_store_mesh *m)
{
	json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	json_t *life = json_object_get(v, "relay_key_lifetime_s");
	bool ok;

	ok = json_is_object(v) && json_is_integer(life) &&
	     endpoints_from_json(json_object_get(v, "stun"), m->stun,
				 BX_STORE_MAX_STUN, &m->n_stun) &&
	     endpoints_from_json(json_object_get(v, "relays"), m->relays,
				 BX_STORE_MAX_RELAYS, &m->n_relays) &&
	     json_integer_value(life) >= BX_STORE_RELAY_KEY_LIFETIME_MIN_S &&
	     json_integer_value(life) <= BX_STORE_RELAY_KEY_LIFETIME_MAX_S;
	if (ok)
		m->relay_key_lifetime_s = (uint32_t)json_integer_value(life);
	json_decref(v);
	/* What set would refuse was not written by it. */
	return ok && check_mesh(m, NULL, 0) == 0;
}

int
bx_store_mesh_set(struct bx_store *s, const char *actor,
		  const struct bx_store_mesh *m, uint64_t *version, char *err,
		  size_t errlen)
{
	json_t *value = NULL, *detail = NULL;
	char *text = NULL;
	uint64_t v = 0;
	int64_t when = 0;
	int rc;

	rc = check_actor(actor, err, errlen);
	if (rc == 0)
		rc = check_mesh(m, err, errlen);
	if (rc != 0)
		return rc;
	value = mesh_json(m);
	text = value != NULL ? json_dumps(value, JSON_COMPACT) : NULL;
	if (text == NULL) {
		json_decref(value);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	rc = tx_begin(s, true, err, errlen);
	if (rc != 0)
		goto out;
	rc = s->ops->setting_get(s->be, MESH_SETTING, NULL, &v, &when, err,
				 errlen);
	if (rc == -ENOENT)
		rc = 0;
	if (rc != 0)
		goto end;
	v++;
	rc = s->ops->setting_put(s->be, MESH_SETTING, text, v, now_ms(s), err,
				 errlen);
	if (rc != 0)
		goto end;
	/* The audit record holds the settings themselves: no secret here. */
	detail = json_deep_copy(value);
	if (detail != NULL &&
	    json_object_set_new(detail, "version", json_integer((json_int_t)v)) != 0) {
		json_decref(detail);
		detail = NULL;
	}
	rc = audit_json(s, actor, BX_STORE_AUDIT_MESH_SET, detail, err, errlen);
end:
	rc = tx_end(s, rc, err, errlen);
	if (rc == 0 && version != NULL)
		*version = v;
out:
	json_decref(value);
	free(text);
	return rc;
}

int
bx_store_mesh_get(struct bx_store *s, struct bx_store_mesh *out, char *err,
		  size_t errlen)
{
	struct bx_store_mesh m = {
		.relay_key_lifetime_s = BX_STORE_RELAY_KEY_LIFETIME_DEFAULT_S,
	};
	char *text = NULL;
	int rc = tx_begin(s, false, err, errlen);

	if (rc != 0)
		return rc;
	rc = s->ops->setting_get(s->be, MESH_SETTING, &text, &m.version,
				 &m.set_ms, err, errlen);
	rc = tx_end(s, rc, err, errlen);
	if (rc == -ENOENT) {
		*out = m;
		return 0;
	}
	if (rc == 0 && !mesh_from_json(text, &m))
		rc = fail(err, errlen, -EBADMSG,
			  "mesh settings unreadable (version %" PRIu64 ")",
			  m.version);
	free(text);
	if (rc == 0)
		*out = m;
	return rc;
}

/* ---- audit log ---------------------------------------------------------- */

int
bx_store_audit_append(struct bx_store *s, const char *actor,
		      const char *action, const char *detail_json,
		      uint64_t *seq, char *err, size_t errlen)
{
	int rc;

	if (detail_json == NULL)
		detail_json = "{}";
	rc = check_actor(actor, err, errlen);
	if (rc != 0)
		return rc;
	if (!word_ok(action, BX_STORE_ACTION_MAX, is_action_char))
		return fail(err, errlen, -EINVAL,
			    "audit action: expected 1..%u of [a-z0-9._-]",
			    BX_STORE_ACTION_MAX);
	rc = check_json_object("audit detail", detail_json,
			       BX_STORE_DETAIL_MAX, err, errlen);
	if (rc != 0)
		return rc;
	rc = tx_begin(s, true, err, errlen);
	if (rc != 0)
		return rc;
	rc = audit_locked(s, actor, action, detail_json, seq, err, errlen);
	return tx_end(s, rc, err, errlen);
}

int
bx_store_audit_list(struct bx_store *s, uint64_t from_seq,
		    bx_store_audit_cb cb, void *arg, char *err, size_t errlen)
{
	int rc = tx_begin(s, false, err, errlen);

	if (rc != 0)
		return rc;
	rc = s->ops->audit_list(s->be, from_seq, cb, arg, err, errlen);
	return tx_end(s, rc, err, errlen);
}

int
bx_store_audit_head(struct bx_store *s, uint64_t *seq,
		    uint8_t hash[BX_STORE_HASH_LEN], char *err, size_t errlen)
{
	uint8_t h[BX_STORE_HASH_LEN];
	uint64_t n = 0;
	int rc = tx_begin(s, false, err, errlen);

	if (rc != 0)
		return rc;
	rc = s->ops->audit_head(s->be, &n, h, err, errlen);
	rc = tx_end(s, rc, err, errlen);
	if (rc == 0) {
		*seq = n;
		memcpy(hash, h, sizeof(h));
	}
	return rc;
}

struct verify {
	uint64_t n;                        /* records checked so far */
	uint8_t prev[BX_STORE_HASH_LEN];   /* hash of record n */
	char *err;
	size_t errlen;
};

static int
verify_cb(const struct bx_store_audit_record *r, void *arg)
{
	struct verify *v = arg;
	uint8_t h[BX_STORE_HASH_LEN];

	if (r->seq != v->n + 1)
		return fail(v->err, v->errlen, -EBADMSG,
			    "audit log: sequence gap after record %" PRIu64
			    " (next is %" PRIu64 ")",
			    v->n, r->seq);
	bx_store_audit_hash(r, h);
	if (sodium_memcmp(h, r->hash, sizeof(h)) != 0)
		return fail(v->err, v->errlen, -EBADMSG,
			    "audit record %" PRIu64 ": hash mismatch", r->seq);
	if (sodium_memcmp(r->prev_hash, v->prev, sizeof(v->prev)) != 0) {
		if (v->n == 0)
			return fail(v->err, v->errlen, -EBADMSG,
				    "audit record 1: prev_hash is not zero");
		return fail(v->err, v->errlen, -EBADMSG,
			    "audit record %" PRIu64
			    ": prev_hash does not match record %" PRIu64,
			    r->seq, v->n);
	}
	v->n = r->seq;
	memcpy(v->prev, r->hash, sizeof(v->prev));
	return 0;
}

int
bx_store_audit_verify(struct bx_store *s, uint64_t *n_records,
		      uint8_t head[BX_STORE_HASH_LEN], char *err,
		      size_t errlen)
{
	struct verify v = { .err = err, .errlen = errlen };
	uint8_t head_hash[BX_STORE_HASH_LEN];
	uint64_t head_seq = 0;
	int rc = tx_begin(s, false, err, errlen);

	if (rc != 0)
		return rc;
	rc = s->ops->audit_list(s->be, 1, verify_cb, &v, err, errlen);
	if (rc == 0)
		rc = s->ops->audit_head(s->be, &head_seq, head_hash, err,
					errlen);
	if (rc == 0 && head_seq != v.n)
		rc = fail(err, errlen, -EBADMSG,
			  "audit log: ends at record %" PRIu64
			  " but its head is record %" PRIu64,
			  v.n, head_seq);
	else if (rc == 0 &&
		 sodium_memcmp(head_hash, v.prev, sizeof(head_hash)) != 0)
		rc = fail(err, errlen, -EBADMSG,
			  "audit record %" PRIu64
			  ": hash does not match the stored head",
			  v.n);
	rc = tx_end(s, rc, err, errlen);
	if (rc == 0) {
		if (n_records != NULL)
			*n_records = v.n;
		if (head != NULL)
			memcpy(head, v.prev, sizeof(v.prev));
	}
	return rc;
}
