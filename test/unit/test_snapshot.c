/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suite "snapshot": a snapshot written is read back field for field, the
 * file has the documented frame and mode 0600; every truncation, every
 * flipped byte, a bad magic, trailing bytes and a payload that is not the
 * message are refused; protobuf that unpacks but holds a value out of range
 * is refused naming the field; the writer refuses what the reader would;
 * the message has no field that could hold a secret. No EAL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "bauxite/v1/snapshot.pb-c.h"
#include "bx_common.h"
#include "bx_snapshot.h"

#define ERR_LEN 512
#define NAME "test.snapshot"

static char tmpdir[] = "/tmp/bx_snapshot_XXXXXX";

/* ---- fixture ------------------------------------------------------------ */

static uint32_t
ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static void
fill_key(uint8_t key[BX_SNAPSHOT_KEY_LEN], uint8_t seed)
{
	unsigned i;

	for (i = 0; i < BX_SNAPSHOT_KEY_LEN; i++)
		key[i] = (uint8_t)(seed + i);
}

/* Four peers: prefixes 0..3, an unknown endpoint, a long id. */
static struct bx_snapshot_peer peers[4];

static void
make_peers(void)
{
	static const char *const ids[] = {
		"edge-b", "gw.site_2", "relay-1",
		"a-very-long-node-id-that-is-exactly-sixty-three-characters-long",
	};
	unsigned i;

	assert_int_equal(strlen(ids[3]), BX_SNAPSHOT_ID_MAX);
	memset(peers, 0, sizeof(peers));
	for (i = 0; i < BX_ARRAY_SIZE(peers); i++) {
		struct bx_snapshot_peer *p = &peers[i];

		snprintf(p->id, sizeof(p->id), "%s", ids[i]);
		p->virtual_ip = htonl(0x64400002u + i);
		fill_key(p->ed25519_public, (uint8_t)(0x10 * i + 1));
		fill_key(p->x25519_public, (uint8_t)(0x10 * i + 7));
		p->from_hub = i % 2 == 1; /* both kinds round-trip */
		p->endpoint_ip = htonl(0x0a630002u + i);
		p->endpoint_port = (uint16_t)(7600 + i);
	}
	peers[1].n_allowed = 2;
	peers[1].allowed[0] = (struct bx_snapshot_prefix){ ip("192.168.10.0"), 24 };
	peers[1].allowed[1] = (struct bx_snapshot_prefix){ ip("10.20.0.0"), 16 };
	peers[2].endpoint_ip = 0; /* not known yet */
	peers[2].endpoint_port = 0;
	peers[3].n_allowed = BX_SNAPSHOT_MAX_PREFIXES;
	for (i = 0; i < BX_SNAPSHOT_MAX_PREFIXES; i++)
		peers[3].allowed[i] = (struct bx_snapshot_prefix){
			htonl(0xac100000u + (i << 8)), 24 };
	peers[3].allowed[0] = (struct bx_snapshot_prefix){ ip("0.0.0.0"), 1 };
	peers[3].allowed[1] = (struct bx_snapshot_prefix){ ip("100.64.0.5"), 32 };
}

static struct bx_snapshot
base_snapshot(void)
{
	struct bx_snapshot s = {
		.version = BX_SNAPSHOT_VERSION,
		.created_unix_ms = 1700000000123ull,
		.topology_version = 42,
		.n_peers = BX_ARRAY_SIZE(peers),
		.peers = peers,
	};

	snprintf(s.node_id, sizeof(s.node_id), "edge-a");
	return s;
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
group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers ------------------------------------------------------------ */

static void
tmp_path(char *buf, size_t size, const char *rel)
{
	int n = snprintf(buf, size, "%s/%s", tmpdir, rel);

	assert_true(n > 0 && (size_t)n < size);
}

static void
assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

static void
assert_snapshot_equal(const struct bx_snapshot *a, const struct bx_snapshot *b)
{
	unsigned i, j;

	assert_int_equal(a->version, b->version);
	assert_string_equal(a->node_id, b->node_id);
	assert_true(a->created_unix_ms == b->created_unix_ms);
	assert_true(a->topology_version == b->topology_version);
	assert_int_equal(a->n_peers, b->n_peers);
	for (i = 0; i < a->n_peers; i++) {
		const struct bx_snapshot_peer *p = &a->peers[i], *q = &b->peers[i];

		assert_string_equal(p->id, q->id);
		assert_int_equal(p->virtual_ip, q->virtual_ip);
		assert_int_equal(p->n_allowed, q->n_allowed);
		for (j = 0; j < p->n_allowed; j++) {
			assert_int_equal(p->allowed[j].addr, q->allowed[j].addr);
			assert_int_equal(p->allowed[j].len, q->allowed[j].len);
		}
		assert_int_equal(p->endpoint_ip, q->endpoint_ip);
		assert_int_equal(p->endpoint_port, q->endpoint_port);
		assert_memory_equal(p->ed25519_public, q->ed25519_public,
				    BX_SNAPSHOT_KEY_LEN);
		assert_int_equal(p->from_hub, q->from_hub);
		assert_memory_equal(p->x25519_public, q->x25519_public,
				    BX_SNAPSHOT_KEY_LEN);
	}
}

static uint8_t *
encode(const struct bx_snapshot *s, size_t *len)
{
	char err[ERR_LEN] = "";
	uint8_t *buf = NULL;

	if (bx_snapshot_encode(s, &buf, len, err, sizeof(err)) != 0)
		fail_msg("encode: %s", err);
	return buf;
}

/*
 * A file image around @payload, built from the format in bx_snapshot.h
 * rather than with the library: the test checks the documented layout.
 */
static uint8_t *
frame(const uint8_t *payload, size_t n, size_t *len)
{
	uint8_t *img = malloc(BX_SNAPSHOT_HEADER_LEN + n + 1);
	crypto_generichash_state st;
	uint32_t be = htonl((uint32_t)n);

	assert_non_null(img);
	memcpy(img, "BXSNAP1\n", 8);
	memcpy(img + 8, &be, 4);
	memcpy(img + 28, payload, n);
	crypto_generichash_init(&st, NULL, 0, 16);
	crypto_generichash_update(&st, img, 12);
	crypto_generichash_update(&st, img + 28, n);
	crypto_generichash_final(&st, img + 12, 16);
	*len = BX_SNAPSHOT_HEADER_LEN + n;
	return img;
}

/* Parses @buf and expects the error @rc whose message contains @msg. */
static void
expect_parse_error(const uint8_t *buf, size_t len, int rc, const char *msg)
{
	struct bx_snapshot *out = NULL;
	char err[ERR_LEN] = "";
	int got;

	got = bx_snapshot_parse(buf, len, NAME, &out, err, sizeof(err));
	if (got != rc)
		fail_msg("expected %d, got %d (%s) for \"%s\"", rc, got, err, msg);
	assert_null(out);
	assert_contains(err, NAME ": ");
	assert_contains(err, msg);
}

/* ---- round trip --------------------------------------------------------- */

static void
test_round_trip_file(void **state)
{
	struct bx_snapshot s = base_snapshot(), *back = NULL;
	char dir[PATH_MAX], path[PATH_MAX], err[ERR_LEN] = "";
	struct stat st;
	mode_t old;

	(void)state;
	make_peers();
	tmp_path(dir, sizeof(dir), "rt");
	assert_int_equal(mkdir(dir, 0700), 0);
	tmp_path(path, sizeof(path), "rt/" BX_SNAPSHOT_FILE);
	/* An open umask must not make the file readable by others. */
	old = umask(0);
	assert_int_equal(bx_snapshot_write(path, &s, err, sizeof(err)), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, BX_SNAPSHOT_FILE_MODE);
	assert_int_equal(bx_snapshot_read(path, &back, err, sizeof(err)), 0);
	assert_snapshot_equal(&s, back);
	bx_snapshot_free(back);

	/* Overwritten in place by a newer one, no temporary file left. */
	s.n_peers = 1;
	s.topology_version = 43;
	assert_int_equal(bx_snapshot_write(path, &s, err, sizeof(err)), 0);
	assert_int_equal(bx_snapshot_read(path, &back, err, sizeof(err)), 0);
	assert_snapshot_equal(&s, back);
	bx_snapshot_free(back);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0); /* empty: no temporary file left */
	bx_snapshot_free(NULL);
}

static void
test_round_trip_empty(void **state)
{
	struct bx_snapshot s = base_snapshot(), *back = NULL;
	char err[ERR_LEN] = "";
	uint8_t *buf;
	size_t len;

	(void)state;
	s.n_peers = 0;
	s.peers = NULL;
	s.topology_version = 0;
	buf = encode(&s, &len);
	assert_int_equal(bx_snapshot_parse(buf, len, NAME, &back, err,
					   sizeof(err)),
			 0);
	assert_snapshot_equal(&s, back);
	bx_snapshot_free(back);
	free(buf);
}

/* A peer whose Ed25519 key is not known yet: no bytes on disk, zero back. */
static void
test_no_ed25519(void **state)
{
	struct bx_snapshot s = base_snapshot(), *back = NULL;
	Bauxite__V1__StateSnapshot *msg;
	char err[ERR_LEN] = "";
	uint8_t *buf;
	size_t len;

	(void)state;
	make_peers();
	memset(peers[1].ed25519_public, 0, BX_SNAPSHOT_KEY_LEN);
	buf = encode(&s, &len);
	msg = bauxite__v1__state_snapshot__unpack(NULL, len - BX_SNAPSHOT_HEADER_LEN,
						  buf + BX_SNAPSHOT_HEADER_LEN);
	assert_non_null(msg);
	assert_int_equal(msg->peers[0]->ed25519_public.len, BX_SNAPSHOT_KEY_LEN);
	assert_int_equal(msg->peers[1]->ed25519_public.len, 0);
	bauxite__v1__state_snapshot__free_unpacked(msg, NULL);
	assert_int_equal(bx_snapshot_parse(buf, len, NAME, &back, err,
					   sizeof(err)),
			 0);
	assert_snapshot_equal(&s, back);
	assert_true(sodium_is_zero(back->peers[1].ed25519_public,
				   BX_SNAPSHOT_KEY_LEN));
	bx_snapshot_free(back);
	free(buf);
}

/* The image is the documented frame around the packed message. */
static void
test_frame_layout(void **state)
{
	struct bx_snapshot s = base_snapshot();
	Bauxite__V1__StateSnapshot *m;
	uint8_t *buf, *ref;
	size_t len, ref_len;
	uint32_t be;

	(void)state;
	make_peers();
	buf = encode(&s, &len);
	assert_true(len > BX_SNAPSHOT_HEADER_LEN);
	assert_memory_equal(buf, "BXSNAP1\n", 8);
	memcpy(&be, buf + 8, 4);
	assert_int_equal(ntohl(be), len - BX_SNAPSHOT_HEADER_LEN);
	ref = frame(buf + BX_SNAPSHOT_HEADER_LEN, len - BX_SNAPSHOT_HEADER_LEN,
		    &ref_len);
	assert_int_equal(ref_len, len);
	assert_memory_equal(ref, buf, len);

	/* The payload is the message, readable by any protobuf reader. */
	m = bauxite__v1__state_snapshot__unpack(NULL, len - BX_SNAPSHOT_HEADER_LEN,
						buf + BX_SNAPSHOT_HEADER_LEN);
	assert_non_null(m);
	assert_int_equal(m->version, 1);
	assert_string_equal(m->node_id, "edge-a");
	assert_int_equal(m->n_peers, 4);
	/* Addresses as numbers, first octet most significant. */
	assert_int_equal(m->peers[0]->virtual_ip, 0x64400002u);
	assert_int_equal(m->peers[1]->allowed_prefixes[0]->addr, 0xc0a80a00u);
	assert_int_equal(m->peers[1]->endpoint_port, 7601);
	bauxite__v1__state_snapshot__free_unpacked(m, NULL);
	free(ref);
	free(buf);
}

/* ---- corruption --------------------------------------------------------- */

static void
test_every_truncation(void **state)
{
	struct bx_snapshot s = base_snapshot();
	uint8_t *buf, *cut;
	size_t len, n;

	(void)state;
	make_peers();
	buf = encode(&s, &len);
	for (n = 0; n < len; n++) {
		/* A copy of exactly n bytes: ASan sees any read past it. */
		cut = malloc(n + 1);
		assert_non_null(cut);
		memcpy(cut, buf, n);
		expect_parse_error(cut, n, -EBADMSG,
				   n < BX_SNAPSHOT_HEADER_LEN ? "shorter than the 28-byte header"
							      : "(truncated)");
		free(cut);
	}
	free(buf);
}

static void
test_every_flipped_byte(void **state)
{
	static const uint8_t masks[] = { 0x01, 0x80, 0xff };
	struct bx_snapshot s = base_snapshot();
	uint8_t *buf;
	size_t len, i;
	unsigned m;

	(void)state;
	make_peers();
	buf = encode(&s, &len);
	for (i = 0; i < len; i++)
		for (m = 0; m < BX_ARRAY_SIZE(masks); m++) {
			buf[i] ^= masks[m];
			/* Magic, then the length, then the checksum catch it. */
			expect_parse_error(buf, len, -EBADMSG,
					   i < 8 ? "bad magic"
					   : i < 12 ? "payload length"
						    : "checksum mismatch");
			buf[i] ^= masks[m];
		}
	free(buf);
}

static void
test_bad_frames(void **state)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff };
	struct bx_snapshot s = base_snapshot();
	uint8_t *buf, *longer, *img;
	size_t len, img_len;
	uint32_t be;

	(void)state;
	make_peers();
	buf = encode(&s, &len);

	memcpy(buf, "BXSNAP2\n", 8);
	expect_parse_error(buf, len, -EBADMSG, "bad magic");
	memcpy(buf, "BXSNAP1\n", 8);

	/* One byte more than the header says. */
	longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, buf, len);
	longer[len] = 0;
	expect_parse_error(longer, len + 1, -EBADMSG, "(trailing data)");
	free(longer);

	/* A length above the maximum, whatever follows. */
	be = htonl(BX_SNAPSHOT_MAX_PAYLOAD + 1u);
	memcpy(buf + 8, &be, 4);
	expect_parse_error(buf, len, -EBADMSG, "payload length 33554433; at most");
	free(buf);

	/* Intact frame, payload not a StateSnapshot. */
	img = frame(garbage, sizeof(garbage), &img_len);
	expect_parse_error(img, img_len, -EBADMSG, "not a StateSnapshot");
	free(img);
}

/* ---- values out of range ------------------------------------------------ */

/*
 * A StateSnapshot built with protobuf-c directly (not through the library),
 * so a test can put in what the library would never write. Two peers with
 * one prefix each; storage for 17 prefixes per peer.
 */
struct pb_fixture {
	Bauxite__V1__StateSnapshot msg;
	Bauxite__V1__PeerEntry entries[2];
	Bauxite__V1__PeerEntry *entry_ptrs[2];
	Bauxite__V1__Ipv4Prefix prefixes[2][BX_SNAPSHOT_MAX_PREFIXES + 1];
	Bauxite__V1__Ipv4Prefix *prefix_ptrs[2][BX_SNAPSHOT_MAX_PREFIXES + 1];
	uint8_t keys[4][BX_SNAPSHOT_KEY_LEN + 1];
	char ids[2][80];
	char node_id[80];
};

static void
pb_fixture_init(struct pb_fixture *f)
{
	unsigned i, j;

	memset(f, 0, sizeof(*f));
	bauxite__v1__state_snapshot__init(&f->msg);
	f->msg.version = 1;
	snprintf(f->node_id, sizeof(f->node_id), "edge-a");
	f->msg.node_id = f->node_id;
	f->msg.n_peers = 2;
	f->msg.peers = f->entry_ptrs;
	for (i = 0; i < 2; i++) {
		Bauxite__V1__PeerEntry *e = &f->entries[i];

		bauxite__v1__peer_entry__init(e);
		f->entry_ptrs[i] = e;
		snprintf(f->ids[i], sizeof(f->ids[i]), "peer-%u", i);
		e->id = f->ids[i];
		e->virtual_ip = 0x64400002u + i;
		e->endpoint_ip = 0x0a630002u + i;
		e->endpoint_port = 7600;
		for (j = 0; j <= BX_SNAPSHOT_MAX_PREFIXES; j++) {
			bauxite__v1__ipv4_prefix__init(&f->prefixes[i][j]);
			f->prefixes[i][j].addr = 0xc0a80000u + (i << 12) + (j << 4);
			f->prefixes[i][j].len = 28;
			f->prefix_ptrs[i][j] = &f->prefixes[i][j];
		}
		e->n_allowed_prefixes = 1;
		e->allowed_prefixes = f->prefix_ptrs[i];
		fill_key(f->keys[2 * i], (uint8_t)(1 + i));
		fill_key(f->keys[2 * i + 1], (uint8_t)(9 + i));
		e->ed25519_public.data = f->keys[2 * i];
		e->ed25519_public.len = BX_SNAPSHOT_KEY_LEN;
		e->x25519_public.data = f->keys[2 * i + 1];
		e->x25519_public.len = BX_SNAPSHOT_KEY_LEN;
	}
}

static uint8_t *
pb_fixture_image(const struct pb_fixture *f, size_t *len)
{
	size_t n = bauxite__v1__state_snapshot__get_packed_size(&f->msg);
	uint8_t *payload = malloc(n + 1), *img;

	assert_non_null(payload);
	assert_int_equal(bauxite__v1__state_snapshot__pack(&f->msg, payload), n);
	img = frame(payload, n, len);
	free(payload);
	return img;
}

struct bad_value {
	const char *what;
	void (*spoil)(struct pb_fixture *f);
	const char *msg; /* after "NAME: " */
};

static void sp_x_31(struct pb_fixture *f) { f->entries[1].x25519_public.len = 31; }
static void sp_x_33(struct pb_fixture *f) { f->entries[0].x25519_public.len = 33; }
static void sp_ed_31(struct pb_fixture *f) { f->entries[0].ed25519_public.len = 31; }
static void sp_ed_zero(struct pb_fixture *f) { memset(f->keys[2], 0, BX_SNAPSHOT_KEY_LEN); }
static void sp_version_0(struct pb_fixture *f) { f->msg.version = 0; }
static void sp_version_2(struct pb_fixture *f) { f->msg.version = 2; }
static void sp_node_empty(struct pb_fixture *f) { f->node_id[0] = '\0'; }
static void sp_node_space(struct pb_fixture *f) { strcpy(f->node_id, "edge a"); }
static void sp_id_64(struct pb_fixture *f) { memset(f->ids[1], 'x', 64); f->ids[1][64] = '\0'; }
static void sp_id_slash(struct pb_fixture *f) { strcpy(f->ids[0], "../etc"); }
static void sp_id_dup(struct pb_fixture *f) { strcpy(f->ids[1], "peer-0"); }
static void sp_vip_0(struct pb_fixture *f) { f->entries[1].virtual_ip = 0; }
static void sp_vip_dup(struct pb_fixture *f) { f->entries[1].virtual_ip = f->entries[0].virtual_ip; }
static void sp_pfx_len_0(struct pb_fixture *f) { f->prefixes[0][0].len = 0; }
static void sp_pfx_len_33(struct pb_fixture *f) { f->prefixes[1][0].len = 33; }
static void sp_pfx_host(struct pb_fixture *f) { f->prefixes[0][0].addr |= 1; }
static void sp_pfx_17(struct pb_fixture *f) { f->entries[0].n_allowed_prefixes = BX_SNAPSHOT_MAX_PREFIXES + 1; }
static void sp_pfx_dup(struct pb_fixture *f)
{
	f->entries[1].n_allowed_prefixes = 2;
	f->prefixes[1][1] = f->prefixes[1][0];
}
static void sp_port_big(struct pb_fixture *f) { f->entries[1].endpoint_port = 70000; }
static void sp_port_0(struct pb_fixture *f) { f->entries[0].endpoint_port = 0; }
static void sp_ip_0(struct pb_fixture *f) { f->entries[0].endpoint_ip = 0; }

static const struct bad_value bad_values[] = {
	{ "31-byte X25519 key", sp_x_31, "peers[1].x25519_public: 31 bytes, expected 32" },
	{ "33-byte X25519 key", sp_x_33, "peers[0].x25519_public: 33 bytes, expected 32" },
	{ "31-byte Ed25519 key", sp_ed_31, "peers[0].ed25519_public: 31 bytes, expected 32" },
	{ "all-zero key", sp_ed_zero, "peers[1].ed25519_public: all zero" },
	{ "version 0", sp_version_0, "version: 0 not supported; this build reads 1" },
	{ "version 2", sp_version_2, "version: 2 not supported" },
	{ "empty node id", sp_node_empty, "node_id: \"\" is not a node id" },
	{ "node id with space", sp_node_space, "node_id: \"edge a\" is not a node id" },
	{ "64-character id", sp_id_64, "peers[1].id: 64 characters" },
	{ "id with slash", sp_id_slash, "peers[0].id: \"../etc\" is not a node id" },
	{ "duplicate id", sp_id_dup, "peers[1].id: \"peer-0\" also in peers[0]" },
	{ "virtual IP 0", sp_vip_0, "peers[1].virtual_ip: 0.0.0.0" },
	{ "duplicate virtual IP", sp_vip_dup, "peers[1].virtual_ip: 100.64.0.2 also in peers[0]" },
	{ "prefix length 0", sp_pfx_len_0, "peers[0].allowed_prefixes[0]: length 0; expected 1..32" },
	{ "prefix length 33", sp_pfx_len_33, "peers[1].allowed_prefixes[0]: length 33; expected 1..32" },
	{ "prefix host bits", sp_pfx_host, "peers[0].allowed_prefixes[0]: 192.168.0.1/28 has host bits set" },
	{ "17 prefixes", sp_pfx_17, "peers[0].allowed_prefixes: 17; at most 16" },
	{ "prefix twice", sp_pfx_dup, "peers[1].allowed_prefixes[1]: same as [0]" },
	{ "port 70000", sp_port_big, "peers[1].endpoint_port: 70000; expected 0..65535" },
	{ "address without port", sp_port_0, "peers[0].endpoint: address and port must both be set" },
	{ "port without address", sp_ip_0, "peers[0].endpoint: address and port must both be set" },
};

static void
test_bad_values(void **state)
{
	struct bx_snapshot *out = NULL;
	struct pb_fixture f;
	char err[ERR_LEN] = "";
	uint8_t *img;
	size_t len;
	unsigned i;

	(void)state;
	/* The unspoiled fixture is valid: each refusal below is the spoil's. */
	pb_fixture_init(&f);
	img = pb_fixture_image(&f, &len);
	assert_int_equal(bx_snapshot_parse(img, len, NAME, &out, err, sizeof(err)),
			 0);
	assert_int_equal(out->n_peers, 2);
	bx_snapshot_free(out);
	free(img);

	for (i = 0; i < BX_ARRAY_SIZE(bad_values); i++) {
		char want[ERR_LEN];

		pb_fixture_init(&f);
		bad_values[i].spoil(&f);
		img = pb_fixture_image(&f, &len);
		snprintf(want, sizeof(want), NAME ": %s", bad_values[i].msg);
		out = NULL;
		err[0] = '\0';
		if (bx_snapshot_parse(img, len, NAME, &out, err, sizeof(err)) !=
		    -EINVAL)
			fail_msg("%s: not refused (%s)", bad_values[i].what, err);
		assert_null(out);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("%s: got \"%s\", want \"%s...\"",
				 bad_values[i].what, err, want);
		free(img);
	}
}

/* Fields this build does not know (a newer writer) are skipped. */
static void
test_unknown_field_ignored(void **state)
{
	/* Field 99, varint 7: tag (99 << 3) | 0 = 792 = 0x98 0x06. */
	static const uint8_t extra[] = { 0x98, 0x06, 0x07 };
	struct bx_snapshot *out = NULL;
	struct pb_fixture f;
	char err[ERR_LEN] = "";
	uint8_t *payload, *img;
	size_t n, len;

	(void)state;
	pb_fixture_init(&f);
	n = bauxite__v1__state_snapshot__get_packed_size(&f.msg);
	payload = malloc(n + sizeof(extra));
	assert_non_null(payload);
	bauxite__v1__state_snapshot__pack(&f.msg, payload);
	memcpy(payload + n, extra, sizeof(extra));
	img = frame(payload, n + sizeof(extra), &len);
	assert_int_equal(bx_snapshot_parse(img, len, NAME, &out, err, sizeof(err)),
			 0);
	assert_int_equal(out->n_peers, 2);
	bx_snapshot_free(out);
	free(img);
	free(payload);
}

/* Many entries: the peer cap holds, and a flood of empty entries that
 * would cost gigabytes to unpack is stopped by the allocation budget. */
static void
test_peer_limits(void **state)
{
	size_t n_small = BX_SNAPSHOT_MAX_PEERS + 1, n_flood = 4u << 20, i;
	uint8_t *payload, *img;
	size_t len;

	(void)state;
	/* Field 4 (peers), length-delimited, empty: 0x22 0x00. */
	payload = malloc(2 * n_flood);
	assert_non_null(payload);
	for (i = 0; i < n_flood; i++) {
		payload[2 * i] = 0x22;
		payload[2 * i + 1] = 0x00;
	}
	img = frame(payload, 2 * n_small, &len);
	expect_parse_error(img, len, -EINVAL, "peers: 65537; at most 65536");
	free(img);
	img = frame(payload, 2 * n_flood, &len);
	expect_parse_error(img, len, -EBADMSG, "bytes to unpack");
	free(img);
	free(payload);
}

/* ---- writer ------------------------------------------------------------- */

static void
test_write_refuses_bad_values(void **state)
{
	struct bx_snapshot s = base_snapshot();
	char path[PATH_MAX], err[ERR_LEN] = "";
	uint8_t *buf = NULL;
	size_t len = 0;
	struct stat st;

	(void)state;
	make_peers();
	tmp_path(path, sizeof(path), "bad." BX_SNAPSHOT_FILE);
	peers[2].n_allowed = BX_SNAPSHOT_MAX_PREFIXES + 1;
	assert_int_equal(bx_snapshot_write(path, &s, err, sizeof(err)), -EINVAL);
	assert_contains(err, "snapshot: peers[2].allowed_prefixes: 17; at most 16");
	assert_int_equal(stat(path, &st), -1);

	make_peers();
	memset(peers[0].x25519_public, 0, BX_SNAPSHOT_KEY_LEN);
	assert_int_equal(bx_snapshot_encode(&s, &buf, &len, err, sizeof(err)),
			 -EINVAL);
	assert_null(buf);
	assert_int_equal(len, 0);
	assert_contains(err, "peers[0].x25519_public: all zero");

	make_peers();
	s.version = 7;
	assert_int_equal(bx_snapshot_encode(&s, &buf, &len, err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "version: 7");

	/* An id filling its array without a terminator is refused, not read
	 * past. */
	s.version = BX_SNAPSHOT_VERSION;
	memset(peers[1].id, 'a', sizeof(peers[1].id));
	assert_int_equal(bx_snapshot_encode(&s, &buf, &len, err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "peers[1].id");

	/* A directory that does not exist. */
	make_peers();
	tmp_path(path, sizeof(path), "no/such/dir/" BX_SNAPSHOT_FILE);
	assert_int_equal(bx_snapshot_write(path, &s, err, sizeof(err)), -ENOENT);
	assert_contains(err, path);
}

/* ---- reader: files ------------------------------------------------------ */

static void
test_read_files(void **state)
{
	struct bx_snapshot s = base_snapshot(), *out = NULL;
	char path[PATH_MAX], err[ERR_LEN] = "";
	uint8_t *buf;
	size_t len;
	int fd;

	(void)state;
	make_peers();
	tmp_path(path, sizeof(path), "missing." BX_SNAPSHOT_FILE);
	assert_int_equal(bx_snapshot_read(path, &out, err, sizeof(err)), -ENOENT);
	assert_null(out);
	assert_contains(err, path);

	tmp_path(path, sizeof(path), "dir." BX_SNAPSHOT_FILE);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(bx_snapshot_read(path, &out, err, sizeof(err)), -EBADMSG);
	assert_contains(err, "not a regular file");
	assert_int_equal(rmdir(path), 0);

	/* A file cut short on disk (a torn write): named and refused. */
	buf = encode(&s, &len);
	tmp_path(path, sizeof(path), "torn." BX_SNAPSHOT_FILE);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len / 2), (ssize_t)(len / 2));
	close(fd);
	assert_int_equal(bx_snapshot_read(path, &out, err, sizeof(err)), -EBADMSG);
	assert_null(out);
	assert_contains(err, path);
	assert_contains(err, "(truncated)");
	assert_int_equal(unlink(path), 0);
	free(buf);
}

/* ---- the message itself ------------------------------------------------- */

/*
 * Structural check: the persisted messages have exactly these fields, none
 * of which can hold a session key or any private key. A new field fails
 * this test until it is added here, deliberately.
 */
static void
test_no_secret_fields(void **state)
{
	static const char *const snapshot_fields[] = {
		"version", "node_id", "created_unix_ms", "peers",
		"topology_version",
	};
	static const char *const peer_fields[] = {
		"id", "virtual_ip", "allowed_prefixes", "endpoint_ip",
		"endpoint_port", "ed25519_public", "x25519_public", "from_hub",
	};
	static const char *const prefix_fields[] = { "addr", "len" };
	static const struct {
		const ProtobufCMessageDescriptor *d;
		const char *const *names;
		unsigned n;
	} msgs[] = {
		{ &bauxite__v1__state_snapshot__descriptor, snapshot_fields,
		  BX_ARRAY_SIZE(snapshot_fields) },
		{ &bauxite__v1__peer_entry__descriptor, peer_fields,
		  BX_ARRAY_SIZE(peer_fields) },
		{ &bauxite__v1__ipv4_prefix__descriptor, prefix_fields,
		  BX_ARRAY_SIZE(prefix_fields) },
	};
	static const char *const secret_words[] = {
		"session", "private", "secret", "psk", "seed", "_sk",
	};
	unsigned i, j, k;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(msgs); i++) {
		const ProtobufCMessageDescriptor *d = msgs[i].d;

		assert_int_equal(d->n_fields, msgs[i].n);
		for (j = 0; j < d->n_fields; j++) {
			const ProtobufCFieldDescriptor *fd =
				protobuf_c_message_descriptor_get_field_by_name(
					d, msgs[i].names[j]);

			if (fd == NULL)
				fail_msg("%s has no field %s", d->name,
					 msgs[i].names[j]);
			for (k = 0; k < BX_ARRAY_SIZE(secret_words); k++)
				if (strstr(d->fields[j].name, secret_words[k]) != NULL)
					fail_msg("%s.%s looks like a secret",
						 d->name, d->fields[j].name);
		}
	}
	/* Keys are public keys of exactly the documented size. */
	assert_int_equal(sizeof(peers[0].ed25519_public), 32);
	assert_int_equal(sizeof(peers[0].x25519_public), 32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_file),
		cmocka_unit_test(test_round_trip_empty),
		cmocka_unit_test(test_no_ed25519),
		cmocka_unit_test(test_frame_layout),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_every_flipped_byte),
		cmocka_unit_test(test_bad_frames),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_unknown_field_ignored),
		cmocka_unit_test(test_peer_limits),
		cmocka_unit_test(test_write_refuses_bad_values),
		cmocka_unit_test(test_read_files),
		cmocka_unit_test(test_no_secret_fields),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
