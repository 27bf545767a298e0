/* SPDX-License-Identifier: Apache-2.0 */
/*
 * State snapshot: plain structs <-> bauxite.v1.StateSnapshot behind a
 * length + checksum frame. See bx_snapshot.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <sodium.h>

#include "bauxite/v1/snapshot.pb-c.h"
#include "bx_common.h"
#include "bx_snapshot.h"

/* The name encode's errors give the snapshot: it has no file yet. */
#define ENCODE_NAME "snapshot"
/* "peers[65535].allowed_prefixes[15]" and the like, terminated. */
#define FIELD_LEN 64u

struct errbuf {
	char *s;
	size_t len;
	const char *name; /* file name or ENCODE_NAME, first in every error */
};

static int __attribute__((format(printf, 3, 4)))
fail(const struct errbuf *e, int rc, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (e->s == NULL || e->len == 0)
		return rc;
	n = snprintf(e->s, e->len, "%s: ", e->name);
	if (n >= 0 && (size_t)n < e->len) {
		va_start(ap, fmt);
		vsnprintf(e->s + n, e->len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* ---- values ------------------------------------------------------------ */

static bool
id_valid(const char *id)
{
	/* strnlen: a caller's id array may lack its terminator. */
	size_t i, n = strnlen(id, BX_SNAPSHOT_ID_MAX + 1);

	if (n == 0 || n > BX_SNAPSHOT_ID_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

static int
check_id(const struct errbuf *e, const char *field, const char *id)
{
	if (!id_valid(id))
		return fail(e, -EINVAL,
			    "%s: \"%.*s\" is not a node id; expected 1..%u of [A-Za-z0-9._-]",
			    field, (int)BX_SNAPSHOT_ID_MAX + 1, id,
			    BX_SNAPSHOT_ID_MAX);
	return 0;
}

static int
check_key(const struct errbuf *e, const char *field, const uint8_t *key)
{
	if (sodium_is_zero(key, BX_SNAPSHOT_KEY_LEN))
		return fail(e, -EINVAL, "%s: all zero, not a public key", field);
	return 0;
}

static int
check_prefix(const struct errbuf *e, const char *field,
	     const struct bx_snapshot_prefix *p)
{
	char a[INET_ADDRSTRLEN];
	uint32_t host;

	if (p->len < 1 || p->len > 32)
		return fail(e, -EINVAL, "%s: length %u; expected 1..32", field,
			    (unsigned)p->len);
	host = ntohl(p->addr) & (p->len == 32 ? 0u : UINT32_MAX >> p->len);
	if (host != 0) {
		inet_ntop(AF_INET, &p->addr, a, sizeof(a));
		return fail(e, -EINVAL, "%s: %s/%u has host bits set", field, a,
			    (unsigned)p->len);
	}
	return 0;
}

static int
check_peer(const struct errbuf *e, unsigned i, const struct bx_snapshot_peer *p)
{
	char field[FIELD_LEN];
	unsigned j, k;
	int rc;

	snprintf(field, sizeof(field), "peers[%u].id", i);
	rc = check_id(e, field, p->id);
	if (rc < 0)
		return rc;
	if (p->virtual_ip == 0)
		return fail(e, -EINVAL, "peers[%u].virtual_ip: 0.0.0.0", i);
	if (p->n_allowed > BX_SNAPSHOT_MAX_PREFIXES)
		return fail(e, -EINVAL,
			    "peers[%u].allowed_prefixes: %u; at most %u", i,
			    p->n_allowed, BX_SNAPSHOT_MAX_PREFIXES);
	for (j = 0; j < p->n_allowed; j++) {
		snprintf(field, sizeof(field), "peers[%u].allowed_prefixes[%u]",
			 i, j);
		rc = check_prefix(e, field, &p->allowed[j]);
		if (rc < 0)
			return rc;
		for (k = 0; k < j; k++)
			if (p->allowed[k].addr == p->allowed[j].addr &&
			    p->allowed[k].len == p->allowed[j].len)
				return fail(e, -EINVAL, "%s: same as [%u]",
					    field, k);
	}
	if ((p->endpoint_ip == 0) != (p->endpoint_port == 0))
		return fail(e, -EINVAL,
			    "peers[%u].endpoint: address and port must both be set or both be 0",
			    i);
	/* All zero: not known (a peer from a static config is known by its
	 * X25519 key only); written as no bytes at all. */
	snprintf(field, sizeof(field), "peers[%u].x25519_public", i);
	return check_key(e, field, p->x25519_public);
}

/*
 * Sort orders for check_unique: by key, equal keys by position, so a
 * duplicate is always reported at its later entry.
 */
static int
by_position(const struct bx_snapshot_peer *a, const struct bx_snapshot_peer *b)
{
	return a < b ? -1 : a > b;
}

static int
cmp_vip_value(const struct bx_snapshot_peer *a, const struct bx_snapshot_peer *b)
{
	uint32_t x = ntohl(a->virtual_ip), y = ntohl(b->virtual_ip);

	return x < y ? -1 : x > y;
}

static int
sort_id(const void *a, const void *b)
{
	const struct bx_snapshot_peer *pa = *(const struct bx_snapshot_peer *const *)a;
	const struct bx_snapshot_peer *pb = *(const struct bx_snapshot_peer *const *)b;
	int c = strcmp(pa->id, pb->id);

	return c != 0 ? c : by_position(pa, pb);
}

static int
sort_vip(const void *a, const void *b)
{
	const struct bx_snapshot_peer *pa = *(const struct bx_snapshot_peer *const *)a;
	const struct bx_snapshot_peer *pb = *(const struct bx_snapshot_peer *const *)b;
	int c = cmp_vip_value(pa, pb);

	return c != 0 ? c : by_position(pa, pb);
}

/* Index of @p in @s, for naming the duplicate found after sorting. */
static unsigned
peer_index(const struct bx_snapshot *s, const struct bx_snapshot_peer *p)
{
	return (unsigned)(p - s->peers);
}

/*
 * Peer ids and virtual IPs are unique: sort pointers to the peers by each
 * key in turn and compare neighbours, O(n log n) for the largest snapshot.
 */
static int
check_unique(const struct errbuf *e, const struct bx_snapshot *s)
{
	const struct bx_snapshot_peer **v;
	char a[INET_ADDRSTRLEN];
	unsigned i;
	int rc = 0;

	if (s->n_peers < 2)
		return 0;
	v = malloc(s->n_peers * sizeof(*v));
	if (v == NULL)
		return fail(e, -ENOMEM, "out of memory");
	for (i = 0; i < s->n_peers; i++)
		v[i] = &s->peers[i];
	qsort(v, s->n_peers, sizeof(*v), sort_id);
	for (i = 1; i < s->n_peers; i++)
		if (strcmp(v[i - 1]->id, v[i]->id) == 0) {
			rc = fail(e, -EINVAL, "peers[%u].id: \"%s\" also in peers[%u]",
				  peer_index(s, v[i]), v[i]->id,
				  peer_index(s, v[i - 1]));
			goto out;
		}
	qsort(v, s->n_peers, sizeof(*v), sort_vip);
	for (i = 1; i < s->n_peers; i++)
		if (cmp_vip_value(v[i - 1], v[i]) == 0) {
			inet_ntop(AF_INET, &v[i]->virtual_ip, a, sizeof(a));
			rc = fail(e, -EINVAL,
				  "peers[%u].virtual_ip: %s also in peers[%u]",
				  peer_index(s, v[i]), a, peer_index(s, v[i - 1]));
			goto out;
		}
out:
	free(v);
	return rc;
}

/* Every rule of the header's "Values", on the plain structs. */
static int
check_snapshot(const struct errbuf *e, const struct bx_snapshot *s)
{
	unsigned i;
	int rc;

	if (s->version != BX_SNAPSHOT_VERSION)
		return fail(e, -EINVAL,
			    "version: %" PRIu32 " not supported; this build reads %u",
			    s->version, BX_SNAPSHOT_VERSION);
	rc = check_id(e, "node_id", s->node_id);
	if (rc < 0)
		return rc;
	if (s->n_peers > BX_SNAPSHOT_MAX_PEERS)
		return fail(e, -EINVAL, "peers: %u; at most %u", s->n_peers,
			    BX_SNAPSHOT_MAX_PEERS);
	for (i = 0; i < s->n_peers; i++) {
		rc = check_peer(e, i, &s->peers[i]);
		if (rc < 0)
			return rc;
	}
	return check_unique(e, s);
}

/* ---- frame ------------------------------------------------------------- */

static void
frame_sum(uint8_t sum[BX_SNAPSHOT_SUM_LEN], const uint8_t *image,
	  size_t payload_len)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, BX_SNAPSHOT_SUM_LEN);
	crypto_generichash_update(&st, image, BX_SNAPSHOT_SUMMED_HEADER_LEN);
	crypto_generichash_update(&st, image + BX_SNAPSHOT_HEADER_LEN,
				  payload_len);
	crypto_generichash_final(&st, sum, BX_SNAPSHOT_SUM_LEN);
}

/* ---- encode ------------------------------------------------------------ */

/*
 * The protobuf view of @s. It points into @s (pack only reads it), so
 * only the arrays made here are freed with it.
 */
struct pb_view {
	Bauxite__V1__StateSnapshot msg;
	Bauxite__V1__PeerEntry *entries;
	Bauxite__V1__PeerEntry **entry_ptrs;
	Bauxite__V1__Ipv4Prefix *prefixes;
	Bauxite__V1__Ipv4Prefix **prefix_ptrs;
};

static void
pb_view_free(struct pb_view *v)
{
	free(v->entries);
	free(v->entry_ptrs);
	free(v->prefixes);
	free(v->prefix_ptrs);
}

static int
pb_view_build(struct pb_view *v, const struct bx_snapshot *s)
{
	size_t n_prefixes = 0, k = 0;
	unsigned i, j;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < s->n_peers; i++)
		n_prefixes += s->peers[i].n_allowed;
	/* calloc(0) may return NULL: allocate at least one of each. */
	v->entries = calloc(s->n_peers + 1u, sizeof(*v->entries));
	v->entry_ptrs = calloc(s->n_peers + 1u, sizeof(*v->entry_ptrs));
	v->prefixes = calloc(n_prefixes + 1u, sizeof(*v->prefixes));
	v->prefix_ptrs = calloc(n_prefixes + 1u, sizeof(*v->prefix_ptrs));
	if (v->entries == NULL || v->entry_ptrs == NULL ||
	    v->prefixes == NULL || v->prefix_ptrs == NULL) {
		pb_view_free(v);
		return -ENOMEM;
	}
	bauxite__v1__state_snapshot__init(&v->msg);
	v->msg.version = s->version;
	v->msg.node_id = (char *)s->node_id;
	v->msg.created_unix_ms = s->created_unix_ms;
	v->msg.topology_version = s->topology_version;
	v->msg.n_peers = s->n_peers;
	v->msg.peers = v->entry_ptrs;
	for (i = 0; i < s->n_peers; i++) {
		const struct bx_snapshot_peer *p = &s->peers[i];
		Bauxite__V1__PeerEntry *pe = &v->entries[i];

		bauxite__v1__peer_entry__init(pe);
		v->entry_ptrs[i] = pe;
		pe->id = (char *)p->id;
		pe->virtual_ip = ntohl(p->virtual_ip);
		pe->endpoint_ip = ntohl(p->endpoint_ip);
		pe->endpoint_port = p->endpoint_port;
		if (!sodium_is_zero(p->ed25519_public, BX_SNAPSHOT_KEY_LEN)) {
			pe->ed25519_public.len = BX_SNAPSHOT_KEY_LEN;
			pe->ed25519_public.data = (uint8_t *)p->ed25519_public;
		}
		pe->x25519_public.len = BX_SNAPSHOT_KEY_LEN;
		pe->x25519_public.data = (uint8_t *)p->x25519_public;
		pe->from_hub = p->from_hub;
		pe->n_allowed_prefixes = p->n_allowed;
		pe->allowed_prefixes = &v->prefix_ptrs[k];
		for (j = 0; j < p->n_allowed; j++, k++) {
			bauxite__v1__ipv4_prefix__init(&v->prefixes[k]);
			v->prefixes[k].addr = ntohl(p->allowed[j].addr);
			v->prefixes[k].len = p->allowed[j].len;
			v->prefix_ptrs[k] = &v->prefixes[k];
		}
	}
	return 0;
}

int
bx_snapshot_encode(const struct bx_snapshot *s, uint8_t **buf, size_t *len,
		   char *err, size_t errlen)
{
	const struct errbuf e = { err, errlen, ENCODE_NAME };
	struct bx_snapshot_header h;
	struct pb_view v;
	uint8_t *image;
	size_t n;
	int rc;

	if (sodium_init() < 0)
		return fail(&e, -EIO, "libsodium failed to initialise");
	rc = check_snapshot(&e, s);
	if (rc < 0)
		return rc;
	if (pb_view_build(&v, s) < 0)
		return fail(&e, -ENOMEM, "out of memory");
	n = bauxite__v1__state_snapshot__get_packed_size(&v.msg);
	if (n > BX_SNAPSHOT_MAX_PAYLOAD) {
		rc = fail(&e, -EFBIG, "%zu bytes packed; at most %u", n,
			  BX_SNAPSHOT_MAX_PAYLOAD);
		goto out;
	}
	image = malloc(BX_SNAPSHOT_HEADER_LEN + n);
	if (image == NULL) {
		rc = fail(&e, -ENOMEM, "out of memory");
		goto out;
	}
	bauxite__v1__state_snapshot__pack(&v.msg, image + BX_SNAPSHOT_HEADER_LEN);
	memcpy(h.magic, BX_SNAPSHOT_MAGIC, BX_SNAPSHOT_MAGIC_LEN);
	h.payload_len = htonl((uint32_t)n);
	memcpy(image, &h, BX_SNAPSHOT_SUMMED_HEADER_LEN);
	frame_sum(h.checksum, image, n);
	memcpy(image, &h, sizeof(h));
	*buf = image;
	*len = BX_SNAPSHOT_HEADER_LEN + n;
out:
	pb_view_free(&v);
	return rc;
}

/* ---- write ------------------------------------------------------------- */

static int
write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Makes the rename in @path's directory durable. */
static int
sync_dir_of(const char *path)
{
	char buf[PATH_MAX];
	int fd, rc = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int
bx_snapshot_write(const char *path, const struct bx_snapshot *s, char *err,
		  size_t errlen)
{
	const struct errbuf e = { err, errlen, path };
	char tmp[PATH_MAX];
	uint8_t *image = NULL;
	size_t len = 0;
	int fd, n, rc;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return fail(&e, -ENAMETOOLONG, "path too long");
	rc = bx_snapshot_encode(s, &image, &len, err, errlen);
	if (rc < 0)
		return rc;
	/* mkostemp: O_CREAT | O_EXCL, mode 0600, a name nobody else holds. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		fail(&e, rc, "%s", strerror(-rc));
		goto out;
	}
	if (fchmod(fd, BX_SNAPSHOT_FILE_MODE) < 0)
		rc = -errno;
	if (rc == 0)
		rc = write_all(fd, image, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		fail(&e, rc, "%s", strerror(-rc));
		unlink(tmp);
		goto out;
	}
	rc = sync_dir_of(path);
	if (rc < 0)
		fail(&e, rc, "syncing its directory: %s", strerror(-rc));
out:
	free(image);
	return rc;
}

/* ---- parse ------------------------------------------------------------- */

/*
 * protobuf-c allocator that refuses to go past a budget, so a payload of
 * millions of empty entries fails to unpack instead of costing gigabytes.
 */
struct budget {
	size_t left;
};

static void *
budget_alloc(void *data, size_t size)
{
	struct budget *b = data;

	if (size > b->left)
		return NULL;
	b->left -= size;
	return malloc(size);
}

static void
budget_free(void *data, void *ptr)
{
	(void)data;
	free(ptr);
}

/* Copies the protobuf bytes of a key into @key after checking their size. */
static int
take_key(const struct errbuf *e, unsigned i, const char *what,
	 const ProtobufCBinaryData *b, uint8_t key[BX_SNAPSHOT_KEY_LEN])
{
	if (b->len != BX_SNAPSHOT_KEY_LEN)
		return fail(e, -EINVAL, "peers[%u].%s: %zu bytes, expected %u", i,
			    what, b->len, BX_SNAPSHOT_KEY_LEN);
	memcpy(key, b->data, BX_SNAPSHOT_KEY_LEN);
	return 0;
}

static int
take_string(const struct errbuf *e, const char *field, const char *src,
	    char *dst)
{
	size_t n = strlen(src);

	if (n > BX_SNAPSHOT_ID_MAX)
		return fail(e, -EINVAL,
			    "%s: %zu characters; expected 1..%u of [A-Za-z0-9._-]",
			    field, n, BX_SNAPSHOT_ID_MAX);
	memcpy(dst, src, n + 1);
	return 0;
}

/*
 * Converts one entry, checking what the plain struct cannot hold (sizes,
 * counts, ranges); check_snapshot then checks the values as for a write.
 */
static int
take_peer(const struct errbuf *e, unsigned i, const Bauxite__V1__PeerEntry *pe,
	  struct bx_snapshot_peer *p)
{
	char field[FIELD_LEN];
	size_t j;
	int rc;

	snprintf(field, sizeof(field), "peers[%u].id", i);
	rc = take_string(e, field, pe->id, p->id);
	if (rc < 0)
		return rc;
	p->virtual_ip = htonl(pe->virtual_ip);
	if (pe->n_allowed_prefixes > BX_SNAPSHOT_MAX_PREFIXES)
		return fail(e, -EINVAL, "peers[%u].allowed_prefixes: %zu; at most %u",
			    i, pe->n_allowed_prefixes, BX_SNAPSHOT_MAX_PREFIXES);
	p->n_allowed = (unsigned)pe->n_allowed_prefixes;
	for (j = 0; j < pe->n_allowed_prefixes; j++) {
		const Bauxite__V1__Ipv4Prefix *pp = pe->allowed_prefixes[j];

		if (pp->len > 32)
			return fail(e, -EINVAL,
				    "peers[%u].allowed_prefixes[%zu]: length %" PRIu32 "; expected 1..32",
				    i, j, pp->len);
		p->allowed[j].addr = htonl(pp->addr);
		p->allowed[j].len = (uint8_t)pp->len;
	}
	p->endpoint_ip = htonl(pe->endpoint_ip);
	if (pe->endpoint_port > UINT16_MAX)
		return fail(e, -EINVAL, "peers[%u].endpoint_port: %" PRIu32 "; expected 0..65535",
			    i, pe->endpoint_port);
	p->endpoint_port = (uint16_t)pe->endpoint_port;
	p->from_hub = pe->from_hub;
	/* No Ed25519 key: unknown, all zero in the struct. Present, it is
	 * a key: 32 bytes, not all zero. */
	rc = 0;
	if (pe->ed25519_public.len != 0) {
		rc = take_key(e, i, "ed25519_public", &pe->ed25519_public,
			      p->ed25519_public);
		if (rc == 0 && sodium_is_zero(p->ed25519_public,
					      BX_SNAPSHOT_KEY_LEN))
			rc = fail(e, -EINVAL,
				  "peers[%u].ed25519_public: all zero, not a public key",
				  i);
	}
	if (rc == 0)
		rc = take_key(e, i, "x25519_public", &pe->x25519_public,
			      p->x25519_public);
	return rc;
}

static int
from_pb(const struct errbuf *e, const Bauxite__V1__StateSnapshot *m,
	struct bx_snapshot **out)
{
	struct bx_snapshot_peer *peers;
	struct bx_snapshot *s;
	size_t i;
	int rc;

	if (m->n_peers > BX_SNAPSHOT_MAX_PEERS)
		return fail(e, -EINVAL, "peers: %zu; at most %u", m->n_peers,
			    BX_SNAPSHOT_MAX_PEERS);
	/* One block: the snapshot, then its peers. */
	s = calloc(1, sizeof(*s) + m->n_peers * sizeof(*peers));
	if (s == NULL)
		return fail(e, -ENOMEM, "out of memory");
	peers = (struct bx_snapshot_peer *)(s + 1);
	s->version = m->version;
	s->created_unix_ms = m->created_unix_ms;
	s->topology_version = m->topology_version;
	s->n_peers = (unsigned)m->n_peers;
	s->peers = peers;
	rc = take_string(e, "node_id", m->node_id, s->node_id);
	for (i = 0; rc == 0 && i < m->n_peers; i++)
		rc = take_peer(e, (unsigned)i, m->peers[i], &peers[i]);
	if (rc == 0)
		rc = check_snapshot(e, s);
	if (rc < 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int
bx_snapshot_parse(const uint8_t *buf, size_t len, const char *name,
		  struct bx_snapshot **out, char *err, size_t errlen)
{
	const struct errbuf e = { err, errlen, name };
	uint8_t sum[BX_SNAPSHOT_SUM_LEN];
	struct bx_snapshot_header h;
	Bauxite__V1__StateSnapshot *m;
	struct budget b = { BX_SNAPSHOT_UNPACK_BUDGET };
	ProtobufCAllocator alloc = {
		.alloc = budget_alloc,
		.free = budget_free,
		.allocator_data = &b,
	};
	size_t n;
	int rc;

	if (sodium_init() < 0)
		return fail(&e, -EIO, "libsodium failed to initialise");
	if (len < BX_SNAPSHOT_HEADER_LEN)
		return fail(&e, -EBADMSG,
			    "%zu bytes, shorter than the %u-byte header (truncated)",
			    len, BX_SNAPSHOT_HEADER_LEN);
	memcpy(&h, buf, sizeof(h));
	if (memcmp(h.magic, BX_SNAPSHOT_MAGIC, BX_SNAPSHOT_MAGIC_LEN) != 0)
		return fail(&e, -EBADMSG, "bad magic: not a Bauxite snapshot");
	n = ntohl(h.payload_len);
	if (n > BX_SNAPSHOT_MAX_PAYLOAD)
		return fail(&e, -EBADMSG, "payload length %zu; at most %u", n,
			    BX_SNAPSHOT_MAX_PAYLOAD);
	if (len - BX_SNAPSHOT_HEADER_LEN != n)
		return fail(&e, -EBADMSG,
			    "payload length %zu but %zu bytes follow the header (%s)",
			    n, len - BX_SNAPSHOT_HEADER_LEN,
			    len - BX_SNAPSHOT_HEADER_LEN < n ? "truncated"
							     : "trailing data");
	frame_sum(sum, buf, n);
	if (sodium_memcmp(sum, h.checksum, sizeof(sum)) != 0)
		return fail(&e, -EBADMSG, "checksum mismatch (corrupt file)");
	m = bauxite__v1__state_snapshot__unpack(&alloc, n,
						buf + BX_SNAPSHOT_HEADER_LEN);
	if (m == NULL)
		return fail(&e, -EBADMSG,
			    "payload is not a StateSnapshot protobuf (or needs more than %u bytes to unpack)",
			    BX_SNAPSHOT_UNPACK_BUDGET);
	rc = from_pb(&e, m, out);
	bauxite__v1__state_snapshot__free_unpacked(m, &alloc);
	return rc;
}

/* ---- read -------------------------------------------------------------- */

int
bx_snapshot_read(const char *path, struct bx_snapshot **out, char *err,
		 size_t errlen)
{
	const struct errbuf e = { err, errlen, path };
	uint8_t *buf = NULL;
	struct stat st;
	size_t n = 0, size;
	ssize_t r;
	int fd, rc = 0;

	/* O_NONBLOCK: a FIFO must not hang start-up before fstat refuses it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		return fail(&e, rc, "%s", strerror(-rc));
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		fail(&e, rc, "%s", strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = fail(&e, -EBADMSG, "not a regular file");
		goto out;
	}
	if ((uint64_t)st.st_size > BX_SNAPSHOT_HEADER_LEN + BX_SNAPSHOT_MAX_PAYLOAD) {
		rc = fail(&e, -EBADMSG, "%jd bytes; a snapshot is at most %u",
			  (intmax_t)st.st_size,
			  BX_SNAPSHOT_HEADER_LEN + BX_SNAPSHOT_MAX_PAYLOAD);
		goto out;
	}
	/* One byte more than fstat said: a file that grew shows as too long. */
	size = (size_t)st.st_size + 1;
	buf = malloc(size);
	if (buf == NULL) {
		rc = fail(&e, -ENOMEM, "out of memory");
		goto out;
	}
	while (n < size) {
		r = read(fd, buf + n, size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			fail(&e, rc, "%s", strerror(-rc));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	rc = bx_snapshot_parse(buf, n, path, out, err, errlen);
out:
	free(buf);
	close(fd);
	return rc;
}

void
bx_snapshot_free(struct bx_snapshot *s)
{
	free(s);
}
