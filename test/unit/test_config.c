/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suite "config": the example configs load with their documented values,
 * defaults apply (the session limits' derived ones too), every bad field
 * is refused with the file, the field path and a hint, peers' public keys
 * decode to the right bytes and are refused when malformed, zero or
 * shared, the retired psk_file says where to go, the hub section takes
 * its defaults and resolves its files under state_dir, several underlays
 * and peers' paths read back with their checks, the bonding section
 * takes its defaults, and the dump shows the public keys, the session
 * limits, the hub, the underlays, the paths and bonding. No EAL.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include <arpa/inet.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "bx_common.h"
#include "bx_config.h"

#define ERR_LEN 1024
#define NAME "test.json"

/*
 * Public keys: the X25519 public keys of Alice and Bob in RFC 7748 §6.1,
 * so the bytes they decode to are published, not computed here.
 */
#define KEY_A "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
#define KEY_B "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="
static const uint8_t key_a[BX_CONFIG_KEY_LEN] = {
	0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d,
	0xdc, 0xb4, 0x3e, 0xf7, 0x5a, 0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38,
	0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e, 0xaa, 0x9b, 0x4e, 0x6a,
};
static const uint8_t key_b[BX_CONFIG_KEY_LEN] = {
	0xde, 0x9e, 0xdb, 0x7d, 0x7b, 0x7d, 0xc1, 0xb4, 0xd3, 0x5b, 0x61,
	0xc2, 0xec, 0xe4, 0x35, 0x37, 0x3f, 0x83, 0x43, 0xc8, 0x5b, 0x78,
	0x67, 0x4d, 0xad, 0xfc, 0x7e, 0x14, 0x6f, 0x88, 0x2b, 0x4f,
};

/* 2^60 and 2^32, the message limits' default and gap, spelt out. */
#define TWO_60 UINT64_C(1152921504606846976)
#define TWO_32 UINT64_C(4294967296)

/* ---- fixture: a temp dir for config files ------------------------------ */

static char tmpdir[] = "/tmp/bx_config_XXXXXX";
static char examples[PATH_MAX]; /* <repo>/config */

/* Files and directories made under tmpdir, removed in reverse order. */
static const char *const made[] = {
	"conf/edge-a.json", "conf/syntax.json", "conf/dupkey.json", "conf",
};

static void
tmp_path(char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", tmpdir, rel);
}

static int
write_file(const char *rel, const void *data, size_t len, mode_t mode)
{
	char p[PATH_MAX];
	int fd;

	tmp_path(p, sizeof(p), rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len || fchmod(fd, mode) < 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static int
make_dir(const char *rel)
{
	char p[PATH_MAX];

	tmp_path(p, sizeof(p), rel);
	return mkdir(p, 0700);
}

/* <repo>/config, found from this file's path: absolute, or relative to the
 * build directory the compiler ran in -- the working directory under
 * meson test, else two levels above this executable (<build>/test/unit). */
static int
find_examples(void)
{
	char dir[PATH_MAX], exe[PATH_MAX], cand[PATH_MAX * 3];
	const char *slash = strrchr(__FILE__, '/');
	ssize_t n;

	snprintf(dir, sizeof(dir), "%.*s",
		 slash != NULL ? (int)(slash - __FILE__) : 1,
		 slash != NULL ? __FILE__ : ".");
	snprintf(cand, sizeof(cand), "%s/../../config", dir);
	if (dir[0] != '/' && access(cand, R_OK) != 0) {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n < 0)
			return -1;
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		snprintf(cand, sizeof(cand), "%s/../../%s/../../config", exe, dir);
	}
	return realpath(cand, examples) != NULL ? 0 : -1;
}

static int
group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL || find_examples() < 0)
		return -1;
	return make_dir("conf");
}

static int
group_teardown(void **state)
{
	char p[PATH_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(made); i++) {
		tmp_path(p, sizeof(p), made[i]);
		if (unlink(p) < 0)
			rmdir(p);
	}
	rmdir(tmpdir);
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static json_t *
parse(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);

	if (j == NULL)
		fail_msg("test JSON does not parse: %s at %d:%d: %s", je.text,
			 je.line, je.column, text);
	return j;
}

/* RFC 7396 merge patch: objects merge, null deletes, anything else replaces. */
static void
merge_patch(json_t *target, const json_t *patch)
{
	const char *k;
	json_t *v, *t;

	json_object_foreach((json_t *)patch, k, v) {
		t = json_object_get(target, k);
		if (json_is_null(v))
			json_object_del(target, k);
		else if (json_is_object(v) && json_is_object(t))
			merge_patch(t, v);
		else
			json_object_set_new(target, k, json_deep_copy(v));
	}
}

/* A small valid config: one peer, whose public key is KEY_A. */
static const char base_text[] =
	"{\"node_id\": \"n1\","
	" \"underlay\": {\"port\": \"net_null0\", \"address\": \"10.0.0.1/24\"},"
	" \"inner\": {\"address\": \"100.64.0.1/24\"},"
	" \"peers\": [{\"id\": \"p1\", \"virtual_ip\": \"100.64.0.2\","
	"   \"endpoint\": \"10.0.0.2:7600\", \"public_key\": \"" KEY_A "\"}]}";

/* Peers and sections for patches over base_text. */
#define PK_A "\"public_key\": \"" KEY_A "\""
#define PEER2(x) "{\"id\": \"p2\", \"virtual_ip\": \"100.64.0.3\", " \
	"\"endpoint\": \"10.0.0.3:7600\", \"public_key\": \"" KEY_B "\"" x "}"
#define PEER1(x) "{\"id\": \"p1\", \"virtual_ip\": \"100.64.0.2\", " \
	"\"endpoint\": \"10.0.0.2:7600\"" x "}"
/* peers[0] with public_key @k (a JSON value). */
#define PK(k) "{\"peers\": [" PEER1(", \"public_key\": " k) "]}"
/* A session section holding @body. */
#define SESSION(body) "{\"session\": {" body "}}"
/* A hub section holding @body, and the smallest one. */
#define HUB(body) "{\"hub\": {" body "}}"
#define HUB_URL "\"url\": \"10.99.0.254:7700\""
#define HUB_WITH(x) HUB(HUB_URL ", " x)
/* Underlays and paths for patches over base_text: two uplinks, ul0 on
 * base_text's subnet and ul1 on 10.1.0.0/24. */
#define UL0 "{\"port\": \"net_null0\", \"address\": \"10.0.0.1/24\"}"
#define UL1 "{\"port\": \"net_null1\", \"address\": \"10.1.0.1/24\"}"
#define ULS(x) "\"underlay\": [" x "]"
#define TWO_ULS ULS(UL0 ", " UL1)
/* A path object. */
#define PATH(ul, ep) "{\"underlay\": \"" ul "\", \"endpoint\": \"" ep "\"}"
/* peers[0] with @x instead of an endpoint, over two underlays. */
#define PEER1P(x) "{\"id\": \"p1\", \"virtual_ip\": \"100.64.0.2\", " PK_A x "}"
#define TWO_PATHS ", \"paths\": [" PATH("ul0", "10.0.0.2:7600") ", " \
	PATH("ul1", "10.1.0.2:7600") "]"
#define MULTI(peer_x) "{" TWO_ULS ", \"peers\": [" PEER1P(peer_x) "]}"
/* A bonding section holding @body. */
#define BONDING(body) "{\"bonding\": {" body "}}"
/* Labels of 61, 62 and 63 characters, for host names at their limits. */
#define L61 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define L62 L61 "b"
#define L63 L62 "c"

static json_t *
base_with(const char *patch_text)
{
	json_t *root = parse(base_text), *patch;

	if (patch_text != NULL) {
		patch = parse(patch_text);
		merge_patch(root, patch);
		json_decref(patch);
	}
	return root;
}

static uint32_t
ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

/* Loads base_text + @patch, which must succeed. */
static struct bx_config *
load_ok(const char *patch)
{
	struct bx_config *cfg = NULL;
	char err[ERR_LEN] = "";
	json_t *root = base_with(patch);
	int rc;

	rc = bx_config_from_json(root, NAME, &cfg, err, sizeof(err));
	json_decref(root);
	if (rc != 0)
		fail_msg("patch %s: rc %d: %s", patch, rc, err);
	return cfg;
}

/* The dump line of @key, as bx_config_dump prints it. */
static bool
dump_has(const char *buf, const char *key, const char *value)
{
	char line[256];

	snprintf(line, sizeof(line), "%-36s %s\n", key, value);
	return strstr(buf, line) != NULL;
}

static char *
dump_of(const struct bx_config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	bx_config_dump(c, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/*
 * bx_config_underlay_for: the underlay whose subnet holds the endpoint,
 * else the gateway underlays in turn by the endpoint's position, else the
 * primary.
 */
static void
test_underlay_for(void **state)
{
	static const char two_gw[] =
		"{\"underlay\": ["
		"  {\"port\": \"net_null0\", \"address\": \"10.0.0.1/24\", \"gateway\": \"10.0.0.254\"},"
		"  {\"port\": \"net_null1\", \"address\": \"10.2.0.1/30\"},"
		"  {\"port\": \"net_null2\", \"address\": \"10.1.0.1/24\", \"gateway\": \"10.1.0.254\"}]}";
	static const char no_gw[] =
		"{\"underlay\": ["
		"  {\"port\": \"net_null0\", \"address\": \"10.0.0.1/24\"},"
		"  {\"port\": \"net_null1\", \"address\": \"10.2.0.1/30\"}]}";
	static const struct {
		const char *ip;
		unsigned i, want_gw, want_none;
	} cases[] = {
		{"10.0.0.9", 3, 0, 0},      /* on ul0's subnet, whatever i */
		{"10.2.0.2", 0, 1, 1},      /* on ul1's */
		{"10.1.0.77", 0, 2, 0},     /* on ul2's; not on any without gateways */
		{"203.0.113.7", 0, 0, 0},   /* off every subnet: gateways in turn */
		{"203.0.113.7", 1, 2, 0},
		{"198.51.100.1", 2, 0, 0},
		{"198.51.100.1", 3, 2, 0},
	};
	struct bx_config *a = load_ok(two_gw), *b = load_ok(no_gw);
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		assert_int_equal(bx_config_underlay_for(a, ip(cases[i].ip), cases[i].i),
				 cases[i].want_gw);
		assert_int_equal(bx_config_underlay_for(b, ip(cases[i].ip), cases[i].i),
				 cases[i].want_none);
	}
	bx_config_free(a);
	bx_config_free(b);
}

/* ---- (1) the examples and the defaults ---------------------------------- */

/* The session section every config gets when it has none. */
static void
check_default_session(const struct bx_config_session *ss)
{
	assert_int_equal(ss->rekey_after_s, 120);
	assert_int_equal(ss->reject_after_s, 180);
	assert_true(ss->rekey_after_messages == TWO_60);
	assert_true(ss->reject_after_messages == TWO_60 + TWO_32);
	assert_int_equal(ss->keep_previous_s, 10);
	assert_int_equal(ss->handshake_timeout_s, 5);
	assert_int_equal(ss->max_clock_skew_s, 600);
	assert_int_equal(ss->initiations_per_sec, 20);
	assert_int_equal(ss->initiations_burst, 5);
}

/* @root is the example as loaded, for the key it spells. */
static void
check_example(const struct bx_config *c, const json_t *root, const char *me,
	      const char *other, const char *ul, const char *vip,
	      const char *peer_ul, const char *peer_vip, const char *iface)
{
	const json_t *peer = json_array_get(json_object_get(root, "peers"), 0);
	char port[64], b64[BX_CONFIG_KEY_B64_LEN + 1];

	assert_string_equal(c->node_id, me);
	assert_int_equal(c->role, BX_CONFIG_ROLE_EDGE);
	assert_string_equal(c->state_dir, "/var/lib/bauxite");
	snprintf(port, sizeof(port), "net_af_packet0,iface=%s", iface);
	assert_string_equal(c->underlay.port, port);
	assert_int_equal(c->underlay.address.addr, ip(ul));
	assert_int_equal(c->underlay.address.len, 24);
	assert_false(c->underlay.has_gateway);
	assert_string_equal(c->underlay.exception_iface, "bx-ul0");
	assert_int_equal(c->inner.type, BX_CONFIG_INNER_TAP);
	assert_string_equal(c->inner.iface, "bauxite0");
	assert_string_equal(c->inner.port, "");
	assert_int_equal(c->inner.mtu, 1350);
	assert_int_equal(c->inner.address.addr, ip(vip));
	assert_int_equal(c->inner.address.len, 24);
	assert_int_equal(c->mesh_port, 7600);
	assert_int_equal(c->cipher, BX_CRYPTO_CHACHA20_POLY1305);
	assert_false(c->fips);
	assert_false(c->lcores.set);
	assert_int_equal(c->idle_sleep_us, 100);
	assert_int_equal(c->replay_window, 2048);
	assert_int_equal(c->stats_interval_s, 10);
	assert_null(c->rules);
	check_default_session(&c->session);
	assert_false(c->hub.set);
	assert_int_equal(c->n_peers, 1);
	assert_string_equal(c->peers[0].id, other);
	assert_int_equal(c->peers[0].virtual_ip, ip(peer_vip));
	assert_int_equal(c->peers[0].n_allowed, 1);
	assert_int_equal(c->peers[0].allowed[0].addr, ip(peer_vip));
	assert_int_equal(c->peers[0].allowed[0].len, 32);
	assert_int_equal(c->peers[0].endpoint_ip, ip(peer_ul));
	assert_int_equal(c->peers[0].endpoint_port, 7600);
	/* The placeholder key decodes, and encodes back to what it says. */
	assert_false(sodium_is_zero(c->peers[0].public_key, BX_CONFIG_KEY_LEN));
	sodium_bin2base64(b64, sizeof(b64), c->peers[0].public_key,
			  BX_CONFIG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	assert_string_equal(b64, json_string_value(json_object_get(peer, "public_key")));
}

static json_t *
load_example(const char *file)
{
	char p[PATH_MAX + 32];
	json_error_t je;
	json_t *j;

	snprintf(p, sizeof(p), "%s/%s", examples, file);
	j = json_load_file(p, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL)
		fail_msg("%s:%d:%d: %s", p, je.line, je.column, je.text);
	return j;
}

/* The two examples as shipped; each names the other's (placeholder) key,
 * and the two keys differ, as two nodes' keys do. */
static void
test_examples(void **state)
{
	struct bx_config *a = NULL, *b = NULL;
	json_t *ra = load_example("edge-a.json"), *rb = load_example("edge-b.json");
	char err[ERR_LEN] = "";
	int rc;

	(void)state;
	rc = bx_config_from_json(ra, "edge-a.json", &a, err, sizeof(err));
	if (rc != 0)
		fail_msg("edge-a.json: rc %d: %s", rc, err);
	rc = bx_config_from_json(rb, "edge-b.json", &b, err, sizeof(err));
	if (rc != 0)
		fail_msg("edge-b.json: rc %d: %s", rc, err);
	check_example(a, ra, "edge-a", "edge-b", "10.99.0.1", "100.64.0.1",
		      "10.99.0.2", "100.64.0.2", "vA");
	check_example(b, rb, "edge-b", "edge-a", "10.99.0.2", "100.64.0.2",
		      "10.99.0.1", "100.64.0.1", "vB");
	assert_memory_not_equal(a->peers[0].public_key, b->peers[0].public_key,
				BX_CONFIG_KEY_LEN);
	bx_config_free(a);
	bx_config_free(b);
	json_decref(ra);
	json_decref(rb);
}

/* bx_config_load on a file gives what from_json gives on its text. */
static void
test_load_file(void **state)
{
	struct bx_config *c = (struct bx_config *)&c;
	char err[ERR_LEN] = "", p[PATH_MAX];
	json_t *root = load_example("edge-a.json");
	int rc;

	(void)state;
	tmp_path(p, sizeof(p), "conf/edge-a.json");
	assert_int_equal(json_dump_file(root, p, JSON_INDENT(2)), 0);
	rc = bx_config_load(p, &c, err, sizeof(err));
	if (rc != 0)
		fail_msg("rc %d: %s", rc, err);
	check_example(c, root, "edge-a", "edge-b", "10.99.0.1", "100.64.0.1",
		      "10.99.0.2", "100.64.0.2", "vA");
	bx_config_free(c);
	json_decref(root);
}

/* Only the required fields: everything else takes its documented default. */
static void
test_defaults(void **state)
{
	struct bx_config *c;

	(void)state;
	c = load_ok("{\"peers\": null}");
	assert_string_equal(c->node_id, "n1");
	assert_int_equal(c->role, BX_CONFIG_ROLE_EDGE);
	assert_string_equal(c->state_dir, "/var/lib/bauxite");
	assert_string_equal(c->underlay.port, "net_null0");
	assert_int_equal(c->underlay.address.addr, ip("10.0.0.1"));
	assert_int_equal(c->underlay.address.len, 24);
	assert_false(c->underlay.has_gateway);
	assert_string_equal(c->underlay.exception_iface, "bx-ul0");
	assert_int_equal(c->inner.type, BX_CONFIG_INNER_TAP);
	assert_string_equal(c->inner.iface, "bauxite0");
	assert_int_equal(c->inner.mtu, 1350);
	assert_int_equal(c->inner.address.addr, ip("100.64.0.1"));
	assert_int_equal(c->mesh_port, 7600);
	assert_int_equal(c->cipher, BX_CRYPTO_CHACHA20_POLY1305);
	assert_false(c->fips);
	assert_false(c->lcores.set);
	assert_int_equal(c->idle_sleep_us, 0);
	assert_int_equal(c->replay_window, 2048);
	assert_int_equal(c->stats_interval_s, 0);
	assert_null(c->rules);
	check_default_session(&c->session);
	/* No hub: static peers only, and nothing of the section filled. */
	assert_false(c->hub.set);
	assert_string_equal(c->hub.url, "");
	assert_string_equal(c->hub.host, "");
	assert_int_equal(c->hub.port, 0);
	assert_string_equal(c->hub.key_file, "");
	assert_int_equal(c->hub.max_peers, 0);
	assert_int_equal(c->n_peers, 0);
	assert_null(c->peers);
	bx_config_free(c);

	/* A peer without allowed_prefixes gets virtual_ip/32. */
	c = load_ok(NULL);
	assert_int_equal(c->n_peers, 1);
	assert_int_equal(c->peers[0].n_allowed, 1);
	assert_int_equal(c->peers[0].allowed[0].addr, ip("100.64.0.2"));
	assert_int_equal(c->peers[0].allowed[0].len, 32);
	assert_memory_equal(c->peers[0].public_key, key_a, BX_CONFIG_KEY_LEN);
	bx_config_free(c);

	/* An empty (or comment-only) session section is the defaults. */
	c = load_ok("{\"session\": {\"$comment\": \"as shipped\"}}");
	check_default_session(&c->session);
	bx_config_free(c);
}

/* fips true without a cipher selects AES-256-GCM. */
static void
test_fips_selects_aes(void **state)
{
	struct bx_config *c;

	(void)state;
	c = load_ok("{\"fips\": true}");
	assert_true(c->fips);
	assert_int_equal(c->cipher, BX_CRYPTO_AES256_GCM);
	bx_config_free(c);
	c = load_ok("{\"fips\": true, \"cipher\": \"aes-256-gcm\"}");
	assert_int_equal(c->cipher, BX_CRYPTO_AES256_GCM);
	bx_config_free(c);
	c = load_ok("{\"cipher\": \"aes-256-gcm\"}");
	assert_false(c->fips);
	assert_int_equal(c->cipher, BX_CRYPTO_AES256_GCM);
	bx_config_free(c);
}

/* Every optional field set to a non-default value, comments everywhere. */
static void
test_everything_set(void **state)
{
	static const char patch[] =
		"{\"$comment\": [\"top\", 1],"
		" \"role\": \"relay\", \"state_dir\": \"/srv/bx\","
		" \"underlay\": {\"$comment\": \"ul\", \"port\": \"01:00.0,txq=2\","
		"   \"address\": \"192.168.7.9/16\", \"gateway\": \"192.168.0.1\","
		"   \"exception_iface\": \"ul-x\"},"
		" \"inner\": {\"$comment\": {\"nested\": true}, \"type\": \"dpdk\","
		"   \"port\": \"0000:02:00.1\", \"mtu\": 9000, \"address\": \"100.64.3.4/16\"},"
		" \"mesh_port\": 65535, \"cipher\": \"aes-256-gcm\", \"fips\": true,"
		" \"lcores\": {\"$comment\": \"roles\", \"rx\": [1, 2], \"workers\": [3, 127]},"
		" \"idle_sleep_us\": 100000, \"replay_window\": 1048576,"
		" \"stats_interval_s\": 86400,"
		" \"rules\": [{\"$comment\": \"telnet\", \"proto\": \"tcp\", \"dst_port\": 23,"
		"   \"action\": \"deny\"}, {\"action\": \"bulk\"}],"
		" \"peers\": [{\"$comment\": \"far away\", \"id\": \"p.1_x-Y\","
		"   \"virtual_ip\": \"100.64.0.2\","
		"   \"allowed_prefixes\": [\"100.64.0.0/24\", \"10.8.0.0/16\", \"0.0.0.0/0\"],"
		"   \"endpoint\": \"203.0.113.7:51820\", \"public_key\": \"" KEY_B "\"}],"
		" \"session\": {\"$comment\": \"short-lived\", \"rekey_after_s\": 30,"
		"   \"reject_after_s\": 45, \"rekey_after_messages\": 1000000,"
		"   \"reject_after_messages\": 9223372036854775807,"
		"   \"keep_previous_s\": 3600, \"handshake_timeout_s\": 300,"
		"   \"max_clock_skew_s\": 0, \"initiations_per_sec\": 10000,"
		"   \"initiations_burst\": 1}}";
	struct bx_config *c;

	(void)state;
	c = load_ok(patch);
	assert_int_equal(c->role, BX_CONFIG_ROLE_RELAY);
	assert_string_equal(c->state_dir, "/srv/bx");
	assert_string_equal(c->underlay.port, "01:00.0,txq=2");
	assert_int_equal(c->underlay.address.addr, ip("192.168.7.9"));
	assert_int_equal(c->underlay.address.len, 16);
	assert_true(c->underlay.has_gateway);
	assert_int_equal(c->underlay.gateway, ip("192.168.0.1"));
	assert_string_equal(c->underlay.exception_iface, "ul-x");
	assert_int_equal(c->inner.type, BX_CONFIG_INNER_DPDK);
	assert_string_equal(c->inner.port, "0000:02:00.1");
	assert_string_equal(c->inner.iface, "");
	assert_int_equal(c->inner.mtu, 9000);
	assert_int_equal(c->inner.address.len, 16);
	assert_int_equal(c->mesh_port, 65535);
	assert_int_equal(c->cipher, BX_CRYPTO_AES256_GCM);
	assert_true(c->fips);
	assert_true(c->lcores.set);
	assert_int_equal(c->lcores.n_rx, 2);
	assert_int_equal(c->lcores.rx[0], 1);
	assert_int_equal(c->lcores.rx[1], 2);
	assert_int_equal(c->lcores.n_workers, 2);
	assert_int_equal(c->lcores.workers[0], 3);
	assert_int_equal(c->lcores.workers[1], 127);
	assert_int_equal(c->idle_sleep_us, 100000);
	assert_int_equal(c->replay_window, 1048576);
	assert_int_equal(c->stats_interval_s, 86400);
	assert_int_equal(bx_classify_rules_count(c->rules), 2);
	assert_string_equal(c->peers[0].id, "p.1_x-Y");
	assert_int_equal(c->peers[0].n_allowed, 3);
	assert_int_equal(c->peers[0].allowed[1].addr, ip("10.8.0.0"));
	assert_int_equal(c->peers[0].allowed[1].len, 16);
	assert_int_equal(c->peers[0].allowed[2].len, 0);
	assert_int_equal(c->peers[0].endpoint_ip, ip("203.0.113.7"));
	assert_int_equal(c->peers[0].endpoint_port, 51820);
	assert_memory_equal(c->peers[0].public_key, key_b, BX_CONFIG_KEY_LEN);
	assert_int_equal(c->session.rekey_after_s, 30);
	assert_int_equal(c->session.reject_after_s, 45);
	assert_true(c->session.rekey_after_messages == 1000000);
	assert_true(c->session.reject_after_messages == (uint64_t)INT64_MAX);
	assert_int_equal(c->session.keep_previous_s, 3600);
	assert_int_equal(c->session.handshake_timeout_s, 300);
	assert_int_equal(c->session.max_clock_skew_s, 0);
	assert_int_equal(c->session.initiations_per_sec, 10000);
	assert_int_equal(c->session.initiations_burst, 1);
	bx_config_free(c);

	/* Workers alone (run to completion) and an empty rules array. */
	c = load_ok("{\"lcores\": {\"workers\": [1]}, \"rules\": []}");
	assert_true(c->lcores.set);
	assert_int_equal(c->lcores.n_rx, 0);
	assert_int_equal(c->lcores.n_workers, 1);
	assert_non_null(c->rules);
	assert_int_equal(bx_classify_rules_count(c->rules), 0);
	bx_config_free(c);
}

/* Peer @i's key in the cap test: its index in the first bytes, so no
 * two are alike, and never all zero. */
static void
nth_key(unsigned i, uint8_t key[BX_CONFIG_KEY_LEN], char b64[BX_CONFIG_KEY_B64_LEN + 1])
{
	memset(key, 0x5a, BX_CONFIG_KEY_LEN);
	key[0] = (uint8_t)i;
	key[1] = (uint8_t)(i >> 8);
	sodium_bin2base64(b64, BX_CONFIG_KEY_B64_LEN + 1, key, BX_CONFIG_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
}

/* The peer table at its cap, each peer with its own key. */
static void
test_max_peers(void **state)
{
	struct bx_config *c = NULL;
	char err[ERR_LEN] = "", vip[32], b64[BX_CONFIG_KEY_B64_LEN + 1];
	json_t *root = base_with("{\"inner\": {\"address\": \"100.64.0.1/16\"}}");
	json_t *peers = json_array(), *p;
	uint8_t key[BX_CONFIG_KEY_LEN];
	unsigned i;
	int rc;

	(void)state;
	for (i = 0; i < BX_CONFIG_MAX_PEERS + 1; i++) {
		snprintf(vip, sizeof(vip), "100.64.%u.%u", 4 + i / 256, i % 256);
		nth_key(i, key, b64);
		p = json_pack("{s:s%, s:s, s:s, s:s}", "id", vip, strlen(vip),
			      "virtual_ip", vip, "endpoint", "10.0.0.2:7600",
			      "public_key", b64);
		assert_non_null(p);
		json_array_append_new(peers, p);
	}
	json_object_set_new(root, "peers", peers);
	rc = bx_config_from_json(root, NAME, &c, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, NAME ": peers: 1025 peers, at most 1024"));

	json_array_remove(peers, BX_CONFIG_MAX_PEERS);
	rc = bx_config_from_json(root, NAME, &c, err, sizeof(err));
	if (rc != 0)
		fail_msg("rc %d: %s", rc, err);
	assert_int_equal(c->n_peers, BX_CONFIG_MAX_PEERS);
	assert_int_equal(c->peers[1023].virtual_ip, ip("100.64.7.255"));
	for (i = 0; i < BX_CONFIG_MAX_PEERS; i++) {
		nth_key(i, key, b64);
		assert_memory_equal(c->peers[i].public_key, key, BX_CONFIG_KEY_LEN);
	}
	bx_config_free(c);

	/* The last peer repeating the first one's key is caught at the cap. */
	nth_key(0, key, b64);
	json_object_set_new(json_array_get(peers, BX_CONFIG_MAX_PEERS - 1),
			    "public_key", json_string(b64));
	rc = bx_config_from_json(root, NAME, &c, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(err, NAME ": peers[1023].public_key: same key as peers[0] (100.64.4.0)");
	json_decref(root);
}

/*
 * A good key decodes to its bytes (RFC 7748's), whichever peer it is in;
 * and an error quotes at most 64 characters of whatever was given.
 */
static void
test_public_keys(void **state)
{
	static const char patch[] =
		"{\"peers\": [" PEER1(", \"public_key\": \"" KEY_B "\"") ", "
		"{\"id\": \"p2\", \"virtual_ip\": \"100.64.0.3\", "
		"\"endpoint\": \"10.0.0.3:7600\", \"public_key\": \"" KEY_A "\"}]}";
	struct bx_config *c = NULL;
	char err[ERR_LEN] = "", *got, big[1001];
	json_t *root;

	(void)state;
	c = load_ok(patch);
	assert_int_equal(c->n_peers, 2);
	assert_memory_equal(c->peers[0].public_key, key_b, BX_CONFIG_KEY_LEN);
	assert_memory_equal(c->peers[1].public_key, key_a, BX_CONFIG_KEY_LEN);
	bx_config_free(c);
	c = NULL;

	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	root = base_with(NULL);
	json_object_set_new(json_array_get(json_object_get(root, "peers"), 0),
			    "public_key", json_string(big));
	assert_int_equal(bx_config_from_json(root, NAME, &c, err, sizeof(err)),
			 -EINVAL);
	assert_null(c);
	got = strstr(err, "got \"");
	assert_non_null(got);
	/* "got " + quote + 64 characters + "..." + quote */
	assert_int_equal(strlen(got), 4 + 1 + 64 + 3 + 1);
	assert_string_equal(got + strlen(got) - 4, "...\"");
	json_decref(root);
}

/* Absent reject limits follow the given rekey limits (bx_config.h). */
static void
test_session_derived(void **state)
{
	static const struct {
		const char *patch;
		uint32_t rekey_s, reject_s;
		uint64_t rekey_m, reject_m;
	} cases[] = {
		{SESSION("\"rekey_after_s\": 5"), 5, 180, TWO_60, TWO_60 + TWO_32},
		{SESSION("\"rekey_after_s\": 120"), 120, 180, TWO_60, TWO_60 + TWO_32},
		{SESSION("\"rekey_after_s\": 121"), 121, 181, TWO_60, TWO_60 + TWO_32},
		{SESSION("\"rekey_after_s\": 200"), 200, 260, TWO_60, TWO_60 + TWO_32},
		{SESSION("\"rekey_after_s\": 86399"), 86399, 86400, TWO_60,
		 TWO_60 + TWO_32},
		{SESSION("\"reject_after_s\": 121"), 120, 121, TWO_60, TWO_60 + TWO_32},
		{SESSION("\"rekey_after_s\": 1, \"reject_after_s\": 2"), 1, 2, TWO_60,
		 TWO_60 + TWO_32},
		{SESSION("\"rekey_after_messages\": 1000"), 120, 180, 1000,
		 1000 + TWO_32},
		{SESSION("\"rekey_after_messages\": 1"), 120, 180, 1, 1 + TWO_32},
		{SESSION("\"rekey_after_messages\": 9223372036854775806"), 120, 180,
		 UINT64_C(9223372036854775806), UINT64_C(9223372036854775807)},
		{SESSION("\"rekey_after_messages\": 9223372032559808510"), 120, 180,
		 UINT64_C(9223372032559808510), UINT64_C(9223372036854775806)},
		{SESSION("\"rekey_after_messages\": 9223372032559808511"), 120, 180,
		 UINT64_C(9223372032559808511), UINT64_C(9223372036854775807)},
		{SESSION("\"rekey_after_messages\": 9223372032559808512"), 120, 180,
		 UINT64_C(9223372032559808512), UINT64_C(9223372036854775807)},
		{SESSION("\"reject_after_messages\": 1152921504606846977"), 120, 180,
		 TWO_60, TWO_60 + 1},
		{SESSION("\"rekey_after_messages\": 1, \"reject_after_messages\": 2"),
		 120, 180, 1, 2},
	};
	struct bx_config *c;
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		c = load_ok(cases[i].patch);
		if (c->session.rekey_after_s != cases[i].rekey_s ||
		    c->session.reject_after_s != cases[i].reject_s ||
		    c->session.rekey_after_messages != cases[i].rekey_m ||
		    c->session.reject_after_messages != cases[i].reject_m)
			fail_msg("%s: got %u/%u s, %" PRIu64 "/%" PRIu64 " messages",
				 cases[i].patch, c->session.rekey_after_s,
				 c->session.reject_after_s,
				 c->session.rekey_after_messages,
				 c->session.reject_after_messages);
		/* The others keep their defaults. */
		assert_int_equal(c->session.keep_previous_s, 10);
		assert_int_equal(c->session.handshake_timeout_s, 5);
		assert_int_equal(c->session.max_clock_skew_s, 600);
		assert_int_equal(c->session.initiations_per_sec, 20);
		assert_int_equal(c->session.initiations_burst, 5);
		bx_config_free(c);
	}
}

/* A hub with its url only: every other field takes its default, the
 * files under the default state_dir, server_name the url's host. */
static void
test_hub_defaults(void **state)
{
	struct bx_config *c;

	(void)state;
	c = load_ok(HUB(HUB_URL));
	assert_true(c->hub.set);
	assert_string_equal(c->hub.url, "10.99.0.254:7700");
	assert_string_equal(c->hub.host, "10.99.0.254");
	assert_int_equal(c->hub.port, 7700);
	assert_string_equal(c->hub.server_name, "10.99.0.254");
	assert_string_equal(c->hub.ca_file, "/var/lib/bauxite/hub-ca.crt");
	assert_string_equal(c->hub.cert_file, "/var/lib/bauxite/node.crt");
	assert_string_equal(c->hub.key_file, "/var/lib/bauxite/node.key");
	assert_int_equal(c->hub.max_peers, 1024);
	assert_int_equal(c->hub.metrics_interval_s, 10);
	assert_int_equal(c->hub.reconnect_max_s, 30);
	/* With a hub an edge traverses NATs, on the default private ports. */
	assert_true(c->ice.enabled);
	assert_int_equal(c->ice.n_stun, 0);
	assert_int_equal(c->ice.port_min, 40000);
	assert_int_equal(c->ice.port_max, 40999);
	assert_int_equal(c->ice.retry_min_s, 2);
	assert_int_equal(c->ice.retry_max_s, 60);
	assert_int_equal(c->relay.register_interval_s, 5);
	/* The safety layer, on where it is built in, with its socket in
	 * state_dir. */
#ifdef BX_SAFETY_CRITICAL
	assert_true(c->safety.enabled);
#endif
	assert_int_equal(c->safety.probe_interval_ms, 100);
	assert_int_equal(c->safety.warn_rtt_ms, 30);
	assert_int_equal(c->safety.sever_rtt_ms, 50);
	assert_int_equal(c->safety.sever_loss_pct, 90);
	assert_int_equal(c->safety.critical_copies, 2);
	assert_string_equal(c->safety.listen, "unix:/var/lib/bauxite/safety.sock");
	/* The static peers stay, as extras. */
	assert_int_equal(c->n_peers, 1);
	bx_config_free(c);

	/* With a hub, peers may be absent altogether. */
	c = load_ok("{\"peers\": null, \"hub\": {\"$comment\": \"from join\", "
		    "\"url\": \"hub.example.net:443\"}}");
	assert_true(c->hub.set);
	assert_string_equal(c->hub.host, "hub.example.net");
	assert_int_equal(c->hub.port, 443);
	assert_string_equal(c->hub.server_name, "hub.example.net");
	assert_int_equal(c->n_peers, 0);
	bx_config_free(c);
}

/* Every hub field given, each at a limit or away from its default. */
static void
test_hub_everything_set(void **state)
{
	struct bx_config *c;

	(void)state;
	c = load_ok("{\"state_dir\": \"/srv/bx\", \"hub\": {"
		    "\"url\": \"hub-1.dc2.example:65535\","
		    " \"server_name\": \"bauxite-hub\","
		    " \"ca_file\": \"pki/ca.pem\","
		    " \"cert_file\": \"/etc/bauxite/node.crt\","
		    " \"key_file\": \"../keys/node.key\","
		    " \"max_peers\": 65536, \"metrics_interval_s\": 3600,"
		    " \"reconnect_max_s\": 1}}");
	assert_true(c->hub.set);
	assert_string_equal(c->hub.url, "hub-1.dc2.example:65535");
	assert_string_equal(c->hub.host, "hub-1.dc2.example");
	assert_int_equal(c->hub.port, 65535);
	assert_string_equal(c->hub.server_name, "bauxite-hub");
	assert_string_equal(c->hub.ca_file, "/srv/bx/pki/ca.pem");
	assert_string_equal(c->hub.cert_file, "/etc/bauxite/node.crt");
	assert_string_equal(c->hub.key_file, "/srv/bx/../keys/node.key");
	assert_int_equal(c->hub.max_peers, 65536);
	assert_int_equal(c->hub.metrics_interval_s, 3600);
	assert_int_equal(c->hub.reconnect_max_s, 1);
	bx_config_free(c);

	c = load_ok(HUB_WITH("\"max_peers\": 1, \"metrics_interval_s\": 1, "
			     "\"reconnect_max_s\": 3600"));
	assert_int_equal(c->hub.max_peers, 1);
	assert_int_equal(c->hub.metrics_interval_s, 1);
	assert_int_equal(c->hub.reconnect_max_s, 3600);
	bx_config_free(c);
}

/* Hosts the url and server_name accept, split into host and port. */
static void
test_hub_hosts(void **state)
{
	static const struct {
		const char *url;
		const char *host;
		uint16_t port;
	} cases[] = {
		{"127.0.0.1:7700", "127.0.0.1", 7700}, /* a hub on the node */
		{"223.255.255.254:1", "223.255.255.254", 1},
		{"bauxite-hub:7700", "bauxite-hub", 7700},
		{"localhost:7700", "localhost", 7700},
		{"HUB.Example.NET:7700", "HUB.Example.NET", 7700},
		{"10.99.0.254x:7700", "10.99.0.254x", 7700}, /* a name, not all digits */
		{"1a.2b:7700", "1a.2b", 7700},
		{L63 ".example:7700", L63 ".example", 7700},
		{L63 "." L63 "." L63 "." L61 ":7700", L63 "." L63 "." L63 "." L61, 7700},
	};
	char patch[1024];
	struct bx_config *c;
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		snprintf(patch, sizeof(patch), HUB("\"url\": \"%s\""), cases[i].url);
		c = load_ok(patch);
		assert_string_equal(c->hub.url, cases[i].url);
		assert_string_equal(c->hub.host, cases[i].host);
		assert_string_equal(c->hub.server_name, cases[i].host);
		assert_int_equal(c->hub.port, cases[i].port);
		bx_config_free(c);

		/* The same hosts as server_name. */
		snprintf(patch, sizeof(patch),
			 HUB_WITH("\"server_name\": \"%s\""), cases[i].host);
		c = load_ok(patch);
		assert_string_equal(c->hub.host, "10.99.0.254");
		assert_string_equal(c->hub.server_name, cases[i].host);
		bx_config_free(c);
	}
}

/* A state_dir of @len characters: "/" then 'd's. */
static char *
long_dir(size_t len)
{
	char *d = malloc(len + 1);

	assert_non_null(d);
	memset(d, 'd', len);
	d[0] = '/';
	d[len] = '\0';
	return d;
}

/*
 * The hub's files: absolute paths as given, relative ones (the defaults
 * too) under state_dir, with one '/' between, up to BX_CONFIG_PATH_MAX
 * characters in all; past it, the field is named, default or not.
 */
static void
test_hub_paths(void **state)
{
	static const struct {
		const char *state_dir;
		const char *key;   /* the field given, or NULL: defaults only */
		const char *value;
		const char *ca, *cert, *key_file;
	} cases[] = {
		{"/var/lib/bauxite", NULL, NULL, "/var/lib/bauxite/hub-ca.crt",
		 "/var/lib/bauxite/node.crt", "/var/lib/bauxite/node.key"},
		{"/", NULL, NULL, "/hub-ca.crt", "/node.crt", "/node.key"},
		{"/srv/bx/", "cert_file", "x.crt", "/srv/bx/hub-ca.crt",
		 "/srv/bx/x.crt", "/srv/bx/node.key"},
		{"/srv/bx", "ca_file", "/etc/ca.pem", "/etc/ca.pem",
		 "/srv/bx/node.crt", "/srv/bx/node.key"},
		{"/srv/bx", "key_file", "keys/n.key", "/srv/bx/hub-ca.crt",
		 "/srv/bx/node.crt", "/srv/bx/keys/n.key"},
		{"/srv/bx", "key_file", "./node.key", "/srv/bx/hub-ca.crt",
		 "/srv/bx/node.crt", "/srv/bx/./node.key"},
		{"/srv/bx", "ca_file", "/", "/", "/srv/bx/node.crt",
		 "/srv/bx/node.key"},
	};
	struct bx_config *c = NULL;
	char err[ERR_LEN] = "", want[PATH_MAX];
	json_t *root, *hub;
	char *dir;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		root = base_with(HUB(HUB_URL));
		hub = json_object_get(root, "hub");
		json_object_set_new(root, "state_dir",
				    json_string(cases[i].state_dir));
		if (cases[i].key != NULL)
			json_object_set_new(hub, cases[i].key,
					    json_string(cases[i].value));
		rc = bx_config_from_json(root, NAME, &c, err, sizeof(err));
		if (rc != 0)
			fail_msg("case %zu: rc %d: %s", i, rc, err);
		assert_string_equal(c->hub.ca_file, cases[i].ca);
		assert_string_equal(c->hub.cert_file, cases[i].cert);
		assert_string_equal(c->hub.key_file, cases[i].key_file);
		bx_config_free(c);
		c = NULL;
		json_decref(root);
	}

	/* "/ddd...d" + "/" + "hub-ca.crt" is exactly BX_CONFIG_PATH_MAX long. */
	dir = long_dir(BX_CONFIG_PATH_MAX - 1 - strlen("hub-ca.crt"));
	root = base_with(HUB(HUB_URL));
	json_object_set_new(root, "state_dir", json_string(dir));
	rc = bx_config_from_json(root, NAME, &c, err, sizeof(err));
	if (rc != 0)
		fail_msg("rc %d: %s", rc, err);
	assert_int_equal(strlen(c->hub.ca_file), BX_CONFIG_PATH_MAX);
	snprintf(want, sizeof(want), "%s/hub-ca.crt", dir);
	assert_string_equal(c->hub.ca_file, want);
	bx_config_free(c);
	c = NULL;
	json_decref(root);
	free(dir);

	/* One more character: the default's field is named. */
	dir = long_dir(BX_CONFIG_PATH_MAX - strlen("hub-ca.crt"));
	root = base_with(HUB(HUB_URL));
	json_object_set_new(root, "state_dir", json_string(dir));
	assert_int_equal(bx_config_from_json(root, NAME, &c, err, sizeof(err)),
			 -EINVAL);
	assert_null(c);
	assert_string_equal(err, NAME ": hub.ca_file: \"hub-ca.crt\" (the default) "
			    "under state_dir makes a path longer than 1023 "
			    "characters (expected a shorter or an absolute path)");
	/* A given one too. */
	json_object_set_new(json_object_get(root, "hub"), "ca_file",
			    json_string("ca/hub.crt"));
	assert_int_equal(bx_config_from_json(root, NAME, &c, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, NAME ": hub.ca_file: \"ca/hub.crt\" under "
			    "state_dir makes a path longer than 1023 characters "
			    "(expected a shorter or an absolute path)");
	/* An absolute one is kept whatever state_dir is; shorter names fit. */
	json_object_set_new(json_object_get(root, "hub"), "ca_file",
			    json_string("/etc/ca.pem"));
	rc = bx_config_from_json(root, NAME, &c, err, sizeof(err));
	if (rc != 0)
		fail_msg("rc %d: %s", rc, err);
	assert_string_equal(c->hub.ca_file, "/etc/ca.pem");
	snprintf(want, sizeof(want), "%s/node.crt", dir);
	assert_string_equal(c->hub.cert_file, want);
	snprintf(want, sizeof(want), "%s/node.key", dir);
	assert_string_equal(c->hub.key_file, want);
	bx_config_free(c);
	json_decref(root);
	free(dir);
}

/* ---- several underlays, paths, bonding --------------------------------- */

/* The node's bonding section when it has none. */
static void
check_default_bonding(const struct bx_config_bonding *b)
{
	assert_int_equal(b->lane_mode[BX_LANE_CRITICAL], BX_CONFIG_BOND_REDUNDANT);
	assert_int_equal(b->lane_mode[BX_LANE_TELEMETRY], BX_CONFIG_BOND_PREFERRED);
	assert_int_equal(b->lane_mode[BX_LANE_BULK], BX_CONFIG_BOND_STRIPE);
	assert_int_equal(b->probe_interval_ms, 100);
	assert_int_equal(b->down_after, 3);
	assert_int_equal(b->up_after, 5);
	assert_int_equal(b->redundant_copies, 1);
	assert_true(b->reorder);
	assert_int_equal(b->reorder_slots, 1024);
	assert_int_equal(b->reorder_timeout_max_ms, 100);
	assert_int_equal(b->stripe_exclude_loss_pct, 10);
	assert_int_equal(b->stripe_readmit_loss_pct, 2);
	assert_int_equal(b->readmit_s, 3);
	assert_int_equal(b->preferred_hysteresis_pct, 20);
	assert_int_equal(b->preferred_hold_ms, 1000);
	assert_int_equal(b->link_poll_ms, 1);
}

/*
 * The object form of "underlay" is one underlay named ul0 with its TAP
 * bx-ul0, "underlay" its copy; a peer's "endpoint" is one path on it, and
 * the peer takes the node's lane modes. The dump prints today's lines.
 */
static void
test_underlay_object_form(void **state)
{
	struct bx_config *c;
	char *buf;

	(void)state;
	c = load_ok(NULL);
	assert_int_equal(c->n_underlays, 1);
	assert_string_equal(c->underlays[0].name, "ul0");
	assert_string_equal(c->underlays[0].exception_iface, "bx-ul0");
	assert_string_equal(c->underlays[0].port, "net_null0");
	assert_int_equal(c->underlays[0].address.addr, ip("10.0.0.1"));
	assert_int_equal(c->underlays[0].rate_mbps, 0);
	assert_memory_equal(&c->underlay, &c->underlays[0], sizeof(c->underlay));
	assert_int_equal(c->peers[0].n_paths, 1);
	assert_int_equal(c->peers[0].paths[0].underlay, 0);
	assert_int_equal(c->peers[0].paths[0].endpoint_ip, ip("10.0.0.2"));
	assert_int_equal(c->peers[0].paths[0].endpoint_port, 7600);
	assert_int_equal(c->peers[0].endpoint_ip, ip("10.0.0.2"));
	assert_int_equal(c->peers[0].endpoint_port, 7600);
	assert_memory_equal(c->peers[0].lane_mode, c->bonding.lane_mode,
			    sizeof(c->bonding.lane_mode));
	buf = dump_of(c);
	assert_true(dump_has(buf, "underlay.name", "ul0"));
	assert_true(dump_has(buf, "underlay.port", "net_null0"));
	assert_true(dump_has(buf, "underlay.address", "10.0.0.1/24"));
	assert_true(dump_has(buf, "underlay.gateway", "(none: on-link endpoints only)"));
	assert_true(dump_has(buf, "underlay.exception_iface", "bx-ul0"));
	assert_true(dump_has(buf, "underlay.rate_mbps", "0 (measured)"));
	assert_null(strstr(buf, "underlay["));
	assert_true(dump_has(buf, "peers[0].endpoint", "10.0.0.2:7600"));
	assert_null(strstr(buf, "peers[0].paths"));
	assert_null(strstr(buf, "peers[0].bonding"));
	free(buf);
	bx_config_free(c);

	/* An object with a name and a rate; a one-element array is the same
	 * underlay, and a one-path "paths" on it the same peer. */
	c = load_ok("{\"underlay\": {\"name\": \"wan\", \"rate_mbps\": 50}}");
	assert_int_equal(c->n_underlays, 1);
	assert_string_equal(c->underlay.name, "wan");
	assert_int_equal(c->underlay.rate_mbps, 50);
	assert_string_equal(c->underlay.exception_iface, "bx-ul0");
	buf = dump_of(c);
	assert_true(dump_has(buf, "underlay.name", "wan"));
	assert_true(dump_has(buf, "underlay.rate_mbps", "50"));
	free(buf);
	bx_config_free(c);

	c = load_ok("{" ULS(UL0) ", \"peers\": [" PEER1P(", \"paths\": ["
		    PATH("ul0", "10.0.0.2:7600") "]") "]}");
	assert_int_equal(c->n_underlays, 1);
	assert_string_equal(c->underlay.name, "ul0");
	assert_int_equal(c->peers[0].n_paths, 1);
	assert_int_equal(c->peers[0].endpoint_ip, ip("10.0.0.2"));
	buf = dump_of(c);
	assert_true(dump_has(buf, "underlay.port", "net_null0"));
	assert_true(dump_has(buf, "peers[0].endpoint", "10.0.0.2:7600"));
	free(buf);
	bx_config_free(c);
}

/* Three uplinks, a peer on four paths with a lane mode of its own, a
 * peer with a plain endpoint, and every bonding field set. */
static void
test_underlays_and_paths(void **state)
{
	static const char patch[] =
		"{\"underlay\": ["
		"  {\"name\": \"wan\", \"port\": \"net_null0\", \"address\": \"10.0.0.1/24\","
		"   \"gateway\": \"10.0.0.254\", \"exception_iface\": \"bx-wan\","
		"   \"rate_mbps\": 100},"
		"  {\"$comment\": \"lte\", \"name\": \"lte.1_x-Y\","
		"   \"port\": \"0000:03:00.0,txq=1\", \"address\": \"10.1.0.1/24\","
		"   \"gateway\": \"10.1.0.254\", \"rate_mbps\": 400000},"
		"  {\"port\": \"net_null2\", \"address\": \"10.2.0.1/30\"}],"
		" \"replay_window\": 4096,"
		" \"safety\": {\"probe_interval_ms\": 250},"
		" \"bonding\": {\"$comment\": \"all set\", \"critical\": \"preferred\","
		"   \"telemetry\": \"stripe\", \"bulk\": \"redundant\","
		"   \"probe_interval_ms\": 250, \"down_after\": 60, \"up_after\": 1,"
		"   \"redundant_copies\": 4, \"reorder\": false, \"reorder_slots\": 4096,"
		"   \"reorder_timeout_max_ms\": 2000, \"stripe_exclude_loss_pct\": 100,"
		"   \"stripe_readmit_loss_pct\": 99, \"readmit_s\": 0,"
		"   \"preferred_hysteresis_pct\": 0, \"preferred_hold_ms\": 60000,"
		"   \"link_poll_ms\": 1000},"
		" \"peers\": ["
		"  {\"id\": \"p1\", \"virtual_ip\": \"100.64.0.2\", " PK_A ","
		"   \"paths\": [" PATH("wan", "203.0.113.7:51820") ", "
		"     {\"$comment\": \"same endpoint, other uplink\", \"underlay\": \"lte.1_x-Y\","
		"      \"endpoint\": \"203.0.113.7:51820\"}, "
		PATH("wan", "203.0.113.7:51821") ", " PATH("ul2", "10.2.0.2:7600") "],"
		"   \"bonding\": {\"$comment\": \"p1\", \"bulk\": \"stripe\"}},"
		"  " PEER2("") "]}";
	static const struct {
		unsigned underlay;
		const char *ip;
		uint16_t port;
	} want[] = {
		{0, "203.0.113.7", 51820},
		{1, "203.0.113.7", 51820},
		{0, "203.0.113.7", 51821},
		{2, "10.2.0.2", 7600},
	};
	const struct bx_config_underlay *u;
	const struct bx_config_bonding *b;
	struct bx_config *c;
	char *buf;
	size_t i;

	(void)state;
	c = load_ok(patch);
	assert_int_equal(c->n_underlays, 3);
	u = &c->underlays[0];
	assert_string_equal(u->name, "wan");
	assert_string_equal(u->port, "net_null0");
	assert_int_equal(u->address.addr, ip("10.0.0.1"));
	assert_int_equal(u->address.len, 24);
	assert_true(u->has_gateway);
	assert_int_equal(u->gateway, ip("10.0.0.254"));
	assert_string_equal(u->exception_iface, "bx-wan");
	assert_int_equal(u->rate_mbps, 100);
	u = &c->underlays[1];
	assert_string_equal(u->name, "lte.1_x-Y");
	assert_string_equal(u->port, "0000:03:00.0,txq=1");
	assert_int_equal(u->address.addr, ip("10.1.0.1"));
	assert_true(u->has_gateway);
	assert_int_equal(u->gateway, ip("10.1.0.254"));
	assert_string_equal(u->exception_iface, "bx-ul1");
	assert_int_equal(u->rate_mbps, 400000);
	u = &c->underlays[2];
	assert_string_equal(u->name, "ul2");
	assert_string_equal(u->port, "net_null2");
	assert_int_equal(u->address.addr, ip("10.2.0.1"));
	assert_int_equal(u->address.len, 30);
	assert_false(u->has_gateway);
	assert_string_equal(u->exception_iface, "bx-ul2");
	assert_int_equal(u->rate_mbps, 0);
	/* The primary, for the code that knows one underlay. */
	assert_memory_equal(&c->underlay, &c->underlays[0], sizeof(c->underlay));

	b = &c->bonding;
	assert_int_equal(b->lane_mode[BX_LANE_CRITICAL], BX_CONFIG_BOND_PREFERRED);
	assert_int_equal(b->lane_mode[BX_LANE_TELEMETRY], BX_CONFIG_BOND_STRIPE);
	assert_int_equal(b->lane_mode[BX_LANE_BULK], BX_CONFIG_BOND_REDUNDANT);
	assert_int_equal(b->probe_interval_ms, 250);
	assert_int_equal(b->down_after, 60);
	assert_int_equal(b->up_after, 1);
	assert_int_equal(b->redundant_copies, 4);
	assert_false(b->reorder);
	assert_int_equal(b->reorder_slots, 4096);
	assert_int_equal(b->reorder_timeout_max_ms, 2000);
	assert_int_equal(b->stripe_exclude_loss_pct, 100);
	assert_int_equal(b->stripe_readmit_loss_pct, 99);
	assert_int_equal(b->readmit_s, 0);
	assert_int_equal(b->preferred_hysteresis_pct, 0);
	assert_int_equal(b->preferred_hold_ms, 60000);
	assert_int_equal(b->link_poll_ms, 1000);

	assert_int_equal(c->n_peers, 2);
	assert_int_equal(c->peers[0].n_paths, BX_ARRAY_SIZE(want));
	for (i = 0; i < BX_ARRAY_SIZE(want); i++) {
		const struct bx_config_path *pa = &c->peers[0].paths[i];

		assert_int_equal(pa->underlay, want[i].underlay);
		assert_int_equal(pa->endpoint_ip, ip(want[i].ip));
		assert_int_equal(pa->endpoint_port, want[i].port);
	}
	assert_int_equal(c->peers[0].endpoint_ip, ip("203.0.113.7"));
	assert_int_equal(c->peers[0].endpoint_port, 51820);
	/* The node's modes, but for Bulk. */
	assert_int_equal(c->peers[0].lane_mode[BX_LANE_CRITICAL], BX_CONFIG_BOND_PREFERRED);
	assert_int_equal(c->peers[0].lane_mode[BX_LANE_TELEMETRY], BX_CONFIG_BOND_STRIPE);
	assert_int_equal(c->peers[0].lane_mode[BX_LANE_BULK], BX_CONFIG_BOND_STRIPE);
	/* A plain endpoint: one path on the first underlay. */
	assert_int_equal(c->peers[1].n_paths, 1);
	assert_int_equal(c->peers[1].paths[0].underlay, 0);
	assert_int_equal(c->peers[1].paths[0].endpoint_ip, ip("10.0.0.3"));
	assert_int_equal(c->peers[1].paths[0].endpoint_port, 7600);
	assert_memory_equal(c->peers[1].lane_mode, b->lane_mode, sizeof(b->lane_mode));

	buf = dump_of(c);
	assert_null(strstr(buf, "underlay."));
	assert_true(dump_has(buf, "underlay[0].name", "wan"));
	assert_true(dump_has(buf, "underlay[0].port", "net_null0"));
	assert_true(dump_has(buf, "underlay[0].gateway", "10.0.0.254"));
	assert_true(dump_has(buf, "underlay[0].exception_iface", "bx-wan"));
	assert_true(dump_has(buf, "underlay[0].rate_mbps", "100"));
	assert_true(dump_has(buf, "underlay[1].name", "lte.1_x-Y"));
	assert_true(dump_has(buf, "underlay[1].address", "10.1.0.1/24"));
	assert_true(dump_has(buf, "underlay[1].rate_mbps", "400000"));
	assert_true(dump_has(buf, "underlay[2].name", "ul2"));
	assert_true(dump_has(buf, "underlay[2].address", "10.2.0.1/30"));
	assert_true(dump_has(buf, "underlay[2].gateway", "(none: on-link endpoints only)"));
	assert_true(dump_has(buf, "underlay[2].exception_iface", "bx-ul2"));
	assert_true(dump_has(buf, "underlay[2].rate_mbps", "0 (measured)"));
	assert_true(dump_has(buf, "peers[0].paths[0]", "wan 203.0.113.7:51820"));
	assert_true(dump_has(buf, "peers[0].paths[1]", "lte.1_x-Y 203.0.113.7:51820"));
	assert_true(dump_has(buf, "peers[0].paths[2]", "wan 203.0.113.7:51821"));
	assert_true(dump_has(buf, "peers[0].paths[3]", "ul2 10.2.0.2:7600"));
	assert_null(strstr(buf, "peers[0].endpoint"));
	assert_true(dump_has(buf, "peers[0].bonding.bulk", "stripe"));
	assert_null(strstr(buf, "peers[0].bonding.critical"));
	assert_null(strstr(buf, "peers[0].bonding.telemetry"));
	assert_true(dump_has(buf, "peers[1].endpoint", "10.0.0.3:7600"));
	assert_null(strstr(buf, "peers[1].paths"));
	assert_null(strstr(buf, "peers[1].bonding"));
	assert_true(dump_has(buf, "bonding.critical", "preferred"));
	assert_true(dump_has(buf, "bonding.telemetry", "stripe"));
	assert_true(dump_has(buf, "bonding.bulk", "redundant"));
	assert_true(dump_has(buf, "bonding.probe_interval_ms", "250"));
	assert_true(dump_has(buf, "bonding.down_after", "60"));
	assert_true(dump_has(buf, "bonding.up_after", "1"));
	assert_true(dump_has(buf, "bonding.redundant_copies", "4"));
	assert_true(dump_has(buf, "bonding.reorder", "false"));
	assert_true(dump_has(buf, "bonding.reorder_slots", "4096"));
	assert_true(dump_has(buf, "bonding.reorder_timeout_max_ms", "2000"));
	assert_true(dump_has(buf, "bonding.stripe_exclude_loss_pct", "100"));
	assert_true(dump_has(buf, "bonding.stripe_readmit_loss_pct", "99"));
	assert_true(dump_has(buf, "bonding.readmit_s", "0"));
	assert_true(dump_has(buf, "bonding.preferred_hysteresis_pct", "0"));
	assert_true(dump_has(buf, "bonding.preferred_hold_ms", "60000"));
	assert_true(dump_has(buf, "bonding.link_poll_ms", "1000"));
	free(buf);
	bx_config_free(c);

	/* One path, on the second underlay: printed as a path, not as the
	 * endpoint of the first. */
	c = load_ok(MULTI(", \"paths\": [" PATH("ul1", "10.1.0.2:7600") "]"));
	assert_int_equal(c->peers[0].n_paths, 1);
	assert_int_equal(c->peers[0].paths[0].underlay, 1);
	assert_int_equal(c->peers[0].endpoint_ip, ip("10.1.0.2"));
	buf = dump_of(c);
	assert_true(dump_has(buf, "peers[0].paths[0]", "ul1 10.1.0.2:7600"));
	assert_null(strstr(buf, "peers[0].endpoint"));
	free(buf);
	bx_config_free(c);
}

/* "bonding" absent, empty or partial: the documented defaults; the
 * reorder buffer's default never exceeds a small replay window. */
static void
test_bonding_defaults(void **state)
{
	struct bx_config *c;
	char *buf;

	(void)state;
	c = load_ok(NULL);
	check_default_bonding(&c->bonding);
	buf = dump_of(c);
	assert_true(dump_has(buf, "bonding.critical", "redundant"));
	assert_true(dump_has(buf, "bonding.telemetry", "preferred"));
	assert_true(dump_has(buf, "bonding.bulk", "stripe"));
	assert_true(dump_has(buf, "bonding.probe_interval_ms", "100"));
	assert_true(dump_has(buf, "bonding.reorder", "true"));
	assert_true(dump_has(buf, "bonding.reorder_slots", "1024"));
	assert_true(dump_has(buf, "bonding.link_poll_ms", "1"));
	free(buf);
	bx_config_free(c);

	c = load_ok(BONDING("\"$comment\": \"as shipped\""));
	check_default_bonding(&c->bonding);
	bx_config_free(c);

	/* Two paths and nothing else said: the defaults too. */
	c = load_ok(MULTI(TWO_PATHS));
	check_default_bonding(&c->bonding);
	assert_memory_equal(c->peers[0].lane_mode, c->bonding.lane_mode,
			    sizeof(c->bonding.lane_mode));
	bx_config_free(c);

	/* One lane given: the others keep theirs, and peers follow. */
	c = load_ok(BONDING("\"telemetry\": \"redundant\""));
	assert_int_equal(c->bonding.lane_mode[BX_LANE_CRITICAL], BX_CONFIG_BOND_REDUNDANT);
	assert_int_equal(c->bonding.lane_mode[BX_LANE_TELEMETRY], BX_CONFIG_BOND_REDUNDANT);
	assert_int_equal(c->bonding.lane_mode[BX_LANE_BULK], BX_CONFIG_BOND_STRIPE);
	assert_memory_equal(c->peers[0].lane_mode, c->bonding.lane_mode,
			    sizeof(c->bonding.lane_mode));
	bx_config_free(c);

	c = load_ok("{\"replay_window\": 512}");
	assert_int_equal(c->bonding.reorder_slots, 512);
	bx_config_free(c);
	c = load_ok("{\"replay_window\": 64}");
	assert_int_equal(c->bonding.reorder_slots, 64);
	bx_config_free(c);
	c = load_ok("{\"replay_window\": 1048576}");
	assert_int_equal(c->bonding.reorder_slots, 1024);
	bx_config_free(c);
	c = load_ok("{\"replay_window\": 65536, \"bonding\": {\"reorder_slots\": 65536}}");
	assert_int_equal(c->bonding.reorder_slots, 65536);
	bx_config_free(c);
	c = load_ok(BONDING("\"reorder_slots\": 16"));
	assert_int_equal(c->bonding.reorder_slots, 16);
	bx_config_free(c);
}

/*
 * One probe engine: with the safety layer on and a peer on two paths, the
 * bonding interval is the safety one -- by default, or written twice.
 * Without the safety layer, or without a peer on two paths, they may
 * differ.
 */
static void
test_bonding_probe_interval(void **state)
{
	struct bx_config *c;

	(void)state;
	c = load_ok("{" TWO_ULS ", \"safety\": {\"probe_interval_ms\": 50},"
		    " \"peers\": [" PEER1P(TWO_PATHS) "]}");
#ifdef BX_SAFETY_CRITICAL
	assert_true(c->safety.enabled);
	assert_int_equal(c->bonding.probe_interval_ms, 50);
#else
	assert_int_equal(c->bonding.probe_interval_ms, 100);
#endif
	bx_config_free(c);

	c = load_ok("{" TWO_ULS ", \"safety\": {\"probe_interval_ms\": 50},"
		    " \"bonding\": {\"probe_interval_ms\": 50},"
		    " \"peers\": [" PEER1P(TWO_PATHS) "]}");
	assert_int_equal(c->bonding.probe_interval_ms, 50);
	bx_config_free(c);

	c = load_ok("{" TWO_ULS ", \"safety\": {\"enabled\": false},"
		    " \"bonding\": {\"probe_interval_ms\": 40},"
		    " \"peers\": [" PEER1P(TWO_PATHS) "]}");
	assert_false(c->safety.enabled);
	assert_int_equal(c->safety.probe_interval_ms, 100);
	assert_int_equal(c->bonding.probe_interval_ms, 40);
	bx_config_free(c);

	/* No peer on two paths: no bonding, no conflict. */
	c = load_ok("{" TWO_ULS ", \"bonding\": {\"probe_interval_ms\": 40}}");
	assert_int_equal(c->bonding.probe_interval_ms, 40);
	assert_int_equal(c->peers[0].n_paths, 1);
	bx_config_free(c);
}

/* ---- (2) bad configs ----------------------------------------------------- */

struct bad_case {
	const char *what;
	const char *patch; /* merge patch over base_text */
	int rc;
	const char *path;  /* the error starts "test.json: <path>: " ("" top) */
	const char *hint;  /* and contains this */
};

#define P17 "\"10.0.0.0/32\", \"10.0.0.1/32\", \"10.0.0.2/32\", \"10.0.0.3/32\", " \
	"\"10.0.0.4/32\", \"10.0.0.5/32\", \"10.0.0.6/32\", \"10.0.0.7/32\", "   \
	"\"10.0.0.8/32\", \"10.0.0.9/32\", \"10.0.0.10/32\", \"10.0.0.11/32\", " \
	"\"10.0.0.12/32\", \"10.0.0.13/32\", \"10.0.0.14/32\", \"10.0.0.15/32\", " \
	"\"100.64.0.2/32\""

static const struct bad_case bad_cases[] = {
	/* top level */
	{"node_id missing", "{\"node_id\": null}", -EINVAL, "node_id",
	 "missing (expected 1..63 characters of [A-Za-z0-9._-])"},
	{"node_id a number", "{\"node_id\": 42}", -EINVAL, "node_id",
	 "expected 1..63 characters of [A-Za-z0-9._-], got 42"},
	{"node_id charset", "{\"node_id\": \"edge a!\"}", -EINVAL, "node_id",
	 "got \"edge a!\""},
	{"node_id empty", "{\"node_id\": \"\"}", -EINVAL, "node_id", "1..63"},
	{"node_id 64 chars",
	 "{\"node_id\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	 -EINVAL, "node_id", "1..63"},
	{"unknown top-level key", "{\"nodeid\": \"x\"}", -EINVAL, "",
	 "unknown key \"nodeid\" (expected one of: node_id, role"},
	{"comment-like unknown key", "{\"$comments\": \"x\"}", -EINVAL, "",
	 "unknown key \"$comments\""},
	{"role", "{\"role\": \"hub\"}", -EINVAL, "role",
	 "expected \"edge\" or \"relay\", got \"hub\""},
	{"state_dir relative", "{\"state_dir\": \"var/lib\"}", -EINVAL,
	 "state_dir", "expected an absolute path"},
	/* underlay */
	{"underlay missing", "{\"underlay\": null}", -EINVAL, "underlay",
	 "missing (expected an object"},
	{"underlay not an object", "{\"underlay\": [1]}", -EINVAL, "underlay",
	 "expected an object, got an array"},
	{"underlay unknown key", "{\"underlay\": {\"adress\": \"10.0.0.1/24\"}}",
	 -EINVAL, "underlay", "unknown key \"adress\" (expected one of: port, address"},
	{"underlay.port missing", "{\"underlay\": {\"port\": null}}", -EINVAL,
	 "underlay.port", "missing (expected DPDK devargs"},
	{"underlay.port blank", "{\"underlay\": {\"port\": \"net null0\"}}",
	 -EINVAL, "underlay.port", "got \"net null0\""},
	{"underlay.port empty value", "{\"underlay\": {\"port\": \"net_tap0,iface=\"}}",
	 -EINVAL, "underlay.port", "DPDK devargs"},
	{"underlay.port bad PCI", "{\"underlay\": {\"port\": \"0000:01:00\"}}",
	 -EINVAL, "underlay.port", "PCI address"},
	{"underlay.address missing", "{\"underlay\": {\"address\": null}}",
	 -EINVAL, "underlay.address", "missing (expected \"IPv4/prefix\")"},
	{"underlay.address no prefix", "{\"underlay\": {\"address\": \"10.0.0.1\"}}",
	 -EINVAL, "underlay.address", "expected \"IPv4/prefix\", got \"10.0.0.1\""},
	{"underlay.address /33", "{\"underlay\": {\"address\": \"10.0.0.1/33\"}}",
	 -EINVAL, "underlay.address", "expected \"IPv4/prefix\""},
	{"underlay.address network",
	 "{\"underlay\": {\"address\": \"10.0.0.0/24\"}}", -EINVAL,
	 "underlay.address", "network or broadcast address"},
	{"underlay.address multicast",
	 "{\"underlay\": {\"address\": \"224.0.0.1/24\"}}", -EINVAL,
	 "underlay.address", "unicast"},
	{"gateway outside the prefix",
	 "{\"underlay\": {\"gateway\": \"10.0.1.254\"}}", -EINVAL,
	 "underlay.gateway",
	 "expected an IPv4 address inside underlay.address 10.0.0.1/24"},
	{"gateway is the node", "{\"underlay\": {\"gateway\": \"10.0.0.1\"}}",
	 -EINVAL, "underlay.gateway", "other than the node's own"},
	{"gateway not an address", "{\"underlay\": {\"gateway\": \"10.0.0\"}}",
	 -EINVAL, "underlay.gateway", "expected an IPv4 address, got \"10.0.0\""},
	{"exception_iface 16 chars",
	 "{\"underlay\": {\"exception_iface\": \"abcdefghijklmnop\"}}", -EINVAL,
	 "underlay.exception_iface", "1..15 characters"},
	{"exception_iface slash", "{\"underlay\": {\"exception_iface\": \"a/b\"}}",
	 -EINVAL, "underlay.exception_iface", "without '/'"},
	/* inner */
	{"inner missing", "{\"inner\": null}", -EINVAL, "inner", "missing"},
	{"inner.address missing", "{\"inner\": {\"address\": null}}", -EINVAL,
	 "inner.address", "missing (expected \"IPv4/prefix\")"},
	{"inner.mtu too small", "{\"inner\": {\"mtu\": 575}}", -EINVAL,
	 "inner.mtu", "expected an integer 576..9000, got 575"},
	{"inner.mtu too big", "{\"inner\": {\"mtu\": 9001}}", -EINVAL,
	 "inner.mtu", "expected an integer 576..9000, got 9001"},
	{"inner.mtu real", "{\"inner\": {\"mtu\": 1350.5}}", -EINVAL,
	 "inner.mtu", "got 1350.5"},
	{"inner.type unknown", "{\"inner\": {\"type\": \"tun\"}}", -EINVAL,
	 "inner.type", "expected \"tap\" or \"dpdk\", got \"tun\""},
	{"inner dpdk without port", "{\"inner\": {\"type\": \"dpdk\"}}", -EINVAL,
	 "inner.port", "missing (expected DPDK devargs"},
	{"inner dpdk with iface",
	 "{\"inner\": {\"type\": \"dpdk\", \"iface\": \"x\", \"port\": \"net_tap1\"}}",
	 -EINVAL, "inner.iface", "only valid with inner.type \"tap\""},
	{"inner tap with port", "{\"inner\": {\"port\": \"net_tap1\"}}", -EINVAL,
	 "inner.port", "only valid with inner.type \"dpdk\""},
	{"inner dpdk on the underlay device",
	 "{\"inner\": {\"type\": \"dpdk\", \"port\": \"net_null0,size=64\"}}",
	 -EINVAL, "inner.port", "same device as underlay.port"},
	{"inner iface is the exception iface",
	 "{\"inner\": {\"iface\": \"bx-ul0\"}}", -EINVAL, "inner.iface",
	 "also underlay.exception_iface"},
	/* scalars */
	{"mesh_port 0", "{\"mesh_port\": 0}", -EINVAL, "mesh_port",
	 "expected an integer 1..65535, got 0"},
	{"mesh_port 70000", "{\"mesh_port\": 70000}", -EINVAL, "mesh_port",
	 "expected an integer 1..65535, got 70000"},
	{"mesh_port string", "{\"mesh_port\": \"7600\"}", -EINVAL, "mesh_port",
	 "got \"7600\""},
	{"cipher aes-128", "{\"cipher\": \"aes-128\"}", -EINVAL, "cipher",
	 "expected \"chacha20-poly1305\" or \"aes-256-gcm\", got \"aes-128\""},
	{"fips with chacha",
	 "{\"fips\": true, \"cipher\": \"chacha20-poly1305\"}", -EINVAL, "cipher",
	 "chacha20-poly1305 is not allowed in FIPS mode (fips: true)"},
	{"fips not a boolean", "{\"fips\": \"yes\"}", -EINVAL, "fips",
	 "expected true or false, got \"yes\""},
	{"lcores overlap", "{\"lcores\": {\"rx\": [1], \"workers\": [1, 2]}}",
	 -EINVAL, "lcores.workers[0]", "lcore 1 is already in lcores.rx"},
	{"lcores duplicate", "{\"lcores\": {\"rx\": [1, 1], \"workers\": [2]}}",
	 -EINVAL, "lcores.rx[1]", "lcore 1 is listed twice"},
	{"lcores out of range", "{\"lcores\": {\"workers\": [128]}}", -EINVAL,
	 "lcores.workers[0]", "expected an integer 0..127, got 128"},
	{"lcores without workers", "{\"lcores\": {\"rx\": [1]}}", -EINVAL,
	 "lcores.workers", "missing (expected an array of lcore ids"},
	{"lcores empty workers", "{\"lcores\": {\"workers\": []}}", -EINVAL,
	 "lcores.workers", "got an array"},
	{"lcores unknown key", "{\"lcores\": {\"tx\": [1], \"workers\": [2]}}",
	 -EINVAL, "lcores", "unknown key \"tx\""},
	{"idle_sleep_us too big", "{\"idle_sleep_us\": 100001}", -EINVAL,
	 "idle_sleep_us", "0..100000"},
	{"replay_window 100", "{\"replay_window\": 100}", -EINVAL, "replay_window",
	 "expected a power of two between 64 and 1048576, got 100"},
	{"replay_window 32", "{\"replay_window\": 32}", -EINVAL, "replay_window",
	 "power of two"},
	{"replay_window 2^21", "{\"replay_window\": 2097152}", -EINVAL,
	 "replay_window", "power of two"},
	{"stats_interval_s negative", "{\"stats_interval_s\": -1}", -EINVAL,
	 "stats_interval_s", "0..86400"},
	/* rules: classify's own path, the file name in front */
	{"bad rule", "{\"rules\": [{\"action\": \"fast\"}]}", -EINVAL,
	 "rules[0].action", "expected \"critical\""},
	{"rule unknown key", "{\"rules\": [{\"action\": \"bulk\", \"prot\": 6}]}",
	 -EINVAL, "rules[0].prot", "unknown key"},
	{"rules not an array", "{\"rules\": {\"action\": \"bulk\"}}", -EINVAL,
	 "rules", "expected an array"},
	/* peers */
	{"peers not an array", "{\"peers\": {}}", -EINVAL, "peers",
	 "expected an array of at most 1024 peer objects"},
	{"unknown key in peers[2]",
	 "{\"peers\": [" PEER1(", " PK_A) ", " PEER2("")
	 ", {\"id\": \"p3\", \"virtual_ip\": \"100.64.0.4\", \"endpoint\": "
	 "\"10.0.0.4:7600\", \"publickey\": \"" KEY_B "\"}]}",
	 -EINVAL, "peers[2]", "unknown key \"publickey\" (expected one of: id,"},
	{"peer not an object", "{\"peers\": [7]}", -EINVAL, "peers[0]",
	 "expected an object, got 7"},
	{"peer id missing",
	 "{\"peers\": [{\"virtual_ip\": \"100.64.0.2\", \"endpoint\": \"10.0.0.2:1\", \"public_key\": \"" KEY_B "\"}]}",
	 -EINVAL, "peers[0].id", "missing"},
	{"peer id duplicate",
	 "{\"peers\": [" PEER1(", " PK_A) ", "
	 "{\"id\": \"p1\", \"virtual_ip\": \"100.64.0.3\", \"endpoint\": "
	 "\"10.0.0.3:7600\", \"public_key\": \"" KEY_B "\"}]}",
	 -EINVAL, "peers[1].id", "\"p1\" is already the id of peers[0]"},
	{"peer id is node_id", "{\"node_id\": \"p1\"}", -EINVAL, "peers[0].id",
	 "\"p1\" is this node's own node_id"},
	{"peer virtual_ip duplicate",
	 "{\"peers\": [" PEER1(", " PK_A) ", "
	 "{\"id\": \"p2\", \"virtual_ip\": \"100.64.0.2\", \"endpoint\": "
	 "\"10.0.0.3:7600\", \"public_key\": \"" KEY_B "\"}]}",
	 -EINVAL, "peers[1].virtual_ip", "100.64.0.2 is already the virtual_ip of peers[0]"},
	{"peer virtual_ip outside inner",
	 "{\"peers\": [{\"id\": \"p1\", \"virtual_ip\": \"100.65.0.2\", "
	 "\"endpoint\": \"10.0.0.2:7600\", \"public_key\": \"" KEY_B "\"}]}",
	 -EINVAL, "peers[0].virtual_ip", "inside inner.address 100.64.0.1/24"},
	{"peer virtual_ip missing",
	 "{\"peers\": [{\"id\": \"p1\", \"endpoint\": \"10.0.0.2:7600\", "
	 "\"public_key\": \"" KEY_B "\"}]}",
	 -EINVAL, "peers[0].virtual_ip", "missing (expected an IPv4 address)"},
	{"endpoint without port",
	 "{\"peers\": [{\"id\": \"p1\", \"virtual_ip\": \"100.64.0.2\", "
	 "\"endpoint\": \"10.0.0.2\", \"public_key\": \"" KEY_B "\"}]}",
	 -EINVAL, "peers[0].endpoint", "expected \"IPv4:port\", got \"10.0.0.2\""},
	{"endpoint port 0",
	 "{\"peers\": [{\"id\": \"p1\", \"virtual_ip\": \"100.64.0.2\", "
	 "\"endpoint\": \"10.0.0.2:0\", \"public_key\": \"" KEY_B "\"}]}",
	 -EINVAL, "peers[0].endpoint", "expected \"IPv4:port\", got \"10.0.0.2:0\""},
	{"endpoint unreachable",
	 "{\"peers\": [{\"id\": \"p1\", \"virtual_ip\": \"100.64.0.2\", "
	 "\"endpoint\": \"10.9.0.2:7600\", \"public_key\": \"" KEY_B "\"}]}",
	 -EINVAL, "peers[0].endpoint",
	 "outside underlay.address 10.0.0.1/24 and underlay.gateway is not set"},
	{"endpoint is this node",
	 "{\"peers\": [{\"id\": \"p1\", \"virtual_ip\": \"100.64.0.2\", "
	 "\"endpoint\": \"10.0.0.1:7600\", \"public_key\": \"" KEY_B "\"}]}",
	 -EINVAL, "peers[0].endpoint", "own underlay.address"},
	{"allowed_prefixes host bits",
	 "{\"peers\": [" PEER1(", " PK_A ", \"allowed_prefixes\": "
			       "[\"100.64.0.2/32\", \"10.1.2.3/16\"]") "]}",
	 -EINVAL, "peers[0].allowed_prefixes[1]",
	 "\"10.1.2.3/16\" has host bits set (expected a network prefix, e.g. \"10.1.0.0/16\")"},
	{"allowed_prefixes too many",
	 "{\"peers\": [" PEER1(", " PK_A ", \"allowed_prefixes\": [" P17 "]") "]}",
	 -EINVAL, "peers[0].allowed_prefixes", "17 prefixes, at most 16"},
	{"allowed_prefixes empty",
	 "{\"peers\": [" PEER1(", " PK_A ", \"allowed_prefixes\": []") "]}",
	 -EINVAL, "peers[0].allowed_prefixes", "expected an array of 1..16"},
	{"allowed_prefixes miss virtual_ip",
	 "{\"peers\": [" PEER1(", " PK_A ", \"allowed_prefixes\": [\"10.1.0.0/16\"]") "]}",
	 -EINVAL, "peers[0].allowed_prefixes",
	 "no prefix covers virtual_ip 100.64.0.2"},
	{"allowed prefix in two peers",
	 "{\"peers\": [" PEER1(", " PK_A ", \"allowed_prefixes\": "
			       "[\"100.64.0.2/32\", \"10.1.0.0/16\"]") ", "
	 PEER2(", \"allowed_prefixes\": [\"100.64.0.3/32\", \"10.1.0.0/16\"]") "]}",
	 -EINVAL, "peers[1].allowed_prefixes[1]",
	 "10.1.0.0/16 is already allowed for peers[0] (\"p1\")"},
	{"allowed prefix twice in one peer",
	 "{\"peers\": [" PEER1(", " PK_A ", \"allowed_prefixes\": "
			       "[\"100.64.0.2/32\", \"100.64.0.2/32\"]") "]}",
	 -EINVAL, "peers[0].allowed_prefixes[1]", "already allowed for peers[0]"},
	/* public keys */
	{"public_key missing", "{\"peers\": [" PEER1("") "]}", -EINVAL,
	 "peers[0].public_key",
	 "missing (expected the base64 of a 32-byte X25519 public key (44 characters): "
	 "bauxite keys show --dir STATE_DIR on that node)"},
	{"public_key not base64", PK("\"!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=\""),
	 -EINVAL, "peers[0].public_key",
	 "expected the base64 of a 32-byte X25519 public key (44 characters), "
	 "got \"!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=\""},
	{"public_key of 31 bytes",
	 PK("\"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ==\""), -EINVAL,
	 "peers[0].public_key",
	 "expected the base64 of a 32-byte X25519 public key (44 characters), "
	 "got \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ==\""},
	{"public_key of 33 bytes",
	 PK("\"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB\""), -EINVAL,
	 "peers[0].public_key", "32-byte X25519 public key (44 characters), got \"AQEB"},
	{"public_key of 64 bytes",
	 PK("\"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"
	    "AQEBAQEBAQEBAQEBAQEBAQ==\""), -EINVAL, "peers[0].public_key",
	 "(44 characters), got \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB...\""},
	{"public_key without padding",
	 PK("\"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo\""), -EINVAL,
	 "peers[0].public_key", "(44 characters), got \"hSDw"},
	{"public_key with a newline",
	 PK("\"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\\n\""), -EINVAL,
	 "peers[0].public_key", "got \"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\\x0a\""},
	{"public_key with a blank",
	 PK("\" SDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\""), -EINVAL,
	 "peers[0].public_key", "(44 characters), got \" SDw"},
	{"public_key URL-safe alphabet",
	 PK("\"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=\""), -EINVAL,
	 "peers[0].public_key", "(44 characters), got \"hSDw"},
	{"public_key padding bits set",
	 PK("\"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=\""), -EINVAL,
	 "peers[0].public_key", "(44 characters), got \"hSDw"},
	{"public_key a number", PK("42"), -EINVAL, "peers[0].public_key",
	 "(44 characters), got 42"},
	{"public_key an array", PK("[\"" KEY_A "\"]"), -EINVAL,
	 "peers[0].public_key", "(44 characters), got an array"},
	{"public_key all zero",
	 PK("\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\""), -EINVAL,
	 "peers[0].public_key",
	 "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\" is the all-zero key "
	 "(expected the peer's X25519 public key: bauxite keys show --dir STATE_DIR on that node)"},
	{"public_key shared by two peers",
	 "{\"peers\": [" PEER1(", " PK_A) ", "
	 "{\"id\": \"p2\", \"virtual_ip\": \"100.64.0.3\", \"endpoint\": "
	 "\"10.0.0.3:7600\", " PK_A "}]}",
	 -EINVAL, "peers[1].public_key", "same key as peers[0] (p1)"},
	{"public_key shared by peers 1 and 2",
	 "{\"peers\": [" PEER1(", " PK_A) ", " PEER2("") ", "
	 "{\"id\": \"p3\", \"virtual_ip\": \"100.64.0.4\", \"endpoint\": "
	 "\"10.0.0.4:7600\", \"public_key\": \"" KEY_B "\"}]}",
	 -EINVAL, "peers[2].public_key", "same key as peers[1] (p2)"},
	{"psk_file left over",
	 "{\"peers\": [" PEER1(", " PK_A ", \"psk_file\": \"keys/a-b.psk\"") "]}",
	 -EINVAL, "peers[0].psk_file",
	 "pre-shared keys are gone; give the peer's \"public_key\" (bauxite keys show on that node)"},
	{"psk_file instead of public_key",
	 "{\"peers\": [" PEER1(", \"psk_file\": \"keys/a-b.psk\"") "]}",
	 -EINVAL, "peers[0].psk_file", "pre-shared keys are gone"},
	/* session: shape */
	{"session not an object", "{\"session\": 5}", -EINVAL, "session",
	 "expected an object, got 5"},
	{"session unknown key", SESSION("\"rekey_after\": 5"), -EINVAL, "session",
	 "unknown key \"rekey_after\" (expected one of: rekey_after_s, reject_after_s, "
	 "rekey_after_messages, reject_after_messages, keep_previous_s, "
	 "handshake_timeout_s, max_clock_skew_s, initiations_per_sec, "
	 "initiations_burst, $comment)"},
	/* session: each field's range and type */
	{"rekey_after_s 0", SESSION("\"rekey_after_s\": 0"), -EINVAL,
	 "session.rekey_after_s", "expected an integer 1..86399, got 0"},
	{"rekey_after_s 86400", SESSION("\"rekey_after_s\": 86400"), -EINVAL,
	 "session.rekey_after_s", "expected an integer 1..86399, got 86400"},
	{"rekey_after_s real", SESSION("\"rekey_after_s\": 1.5"), -EINVAL,
	 "session.rekey_after_s", "expected an integer 1..86399, got 1.5"},
	{"rekey_after_s string", SESSION("\"rekey_after_s\": \"120\""), -EINVAL,
	 "session.rekey_after_s", "expected an integer 1..86399, got \"120\""},
	{"reject_after_s 1", SESSION("\"reject_after_s\": 1"), -EINVAL,
	 "session.reject_after_s", "expected an integer 2..86400, got 1"},
	{"reject_after_s 86401", SESSION("\"reject_after_s\": 86401"), -EINVAL,
	 "session.reject_after_s", "expected an integer 2..86400, got 86401"},
	{"reject_after_s real", SESSION("\"reject_after_s\": 180.0"), -EINVAL,
	 "session.reject_after_s", "expected an integer 2..86400, got 180"},
	{"rekey_after_messages 0", SESSION("\"rekey_after_messages\": 0"), -EINVAL,
	 "session.rekey_after_messages",
	 "expected an integer 1..9223372036854775806, got 0"},
	{"rekey_after_messages 2^63-1",
	 SESSION("\"rekey_after_messages\": 9223372036854775807"), -EINVAL,
	 "session.rekey_after_messages",
	 "expected an integer 1..9223372036854775806, got 9223372036854775807"},
	{"rekey_after_messages real", SESSION("\"rekey_after_messages\": 1e18"),
	 -EINVAL, "session.rekey_after_messages", "got 1e+18"},
	{"reject_after_messages 1", SESSION("\"reject_after_messages\": 1"),
	 -EINVAL, "session.reject_after_messages",
	 "expected an integer 2..9223372036854775807, got 1"},
	{"reject_after_messages negative",
	 SESSION("\"reject_after_messages\": -5"), -EINVAL,
	 "session.reject_after_messages", "got -5"},
	{"reject_after_messages boolean",
	 SESSION("\"reject_after_messages\": true"), -EINVAL,
	 "session.reject_after_messages", "got true"},
	{"keep_previous_s -1", SESSION("\"keep_previous_s\": -1"), -EINVAL,
	 "session.keep_previous_s", "expected an integer 0..3600, got -1"},
	{"keep_previous_s 3601", SESSION("\"keep_previous_s\": 3601"), -EINVAL,
	 "session.keep_previous_s", "expected an integer 0..3600, got 3601"},
	{"keep_previous_s string", SESSION("\"keep_previous_s\": \"10\""), -EINVAL,
	 "session.keep_previous_s", "got \"10\""},
	{"handshake_timeout_s 0", SESSION("\"handshake_timeout_s\": 0"), -EINVAL,
	 "session.handshake_timeout_s", "expected an integer 1..300, got 0"},
	{"handshake_timeout_s 301", SESSION("\"handshake_timeout_s\": 301"),
	 -EINVAL, "session.handshake_timeout_s", "expected an integer 1..300, got 301"},
	{"handshake_timeout_s real", SESSION("\"handshake_timeout_s\": 2.5"),
	 -EINVAL, "session.handshake_timeout_s", "got 2.5"},
	{"max_clock_skew_s -1", SESSION("\"max_clock_skew_s\": -1"), -EINVAL,
	 "session.max_clock_skew_s", "expected an integer 0..86400, got -1"},
	{"max_clock_skew_s 86401", SESSION("\"max_clock_skew_s\": 86401"), -EINVAL,
	 "session.max_clock_skew_s", "expected an integer 0..86400, got 86401"},
	{"max_clock_skew_s null", SESSION("\"max_clock_skew_s\": null"), -EINVAL,
	 "session.max_clock_skew_s", "got null"},
	{"initiations_per_sec 0", SESSION("\"initiations_per_sec\": 0"), -EINVAL,
	 "session.initiations_per_sec", "expected an integer 1..10000, got 0"},
	{"initiations_per_sec 10001", SESSION("\"initiations_per_sec\": 10001"),
	 -EINVAL, "session.initiations_per_sec", "expected an integer 1..10000, got 10001"},
	{"initiations_per_sec string", SESSION("\"initiations_per_sec\": \"20\""),
	 -EINVAL, "session.initiations_per_sec", "got \"20\""},
	{"initiations_burst 0", SESSION("\"initiations_burst\": 0"), -EINVAL,
	 "session.initiations_burst", "expected an integer 1..10000, got 0"},
	{"initiations_burst 10001", SESSION("\"initiations_burst\": 10001"),
	 -EINVAL, "session.initiations_burst", "expected an integer 1..10000, got 10001"},
	{"initiations_burst object", SESSION("\"initiations_burst\": {}"), -EINVAL,
	 "session.initiations_burst", "got an object"},
	/* session: the reject limits beyond the rekey limits */
	{"reject_after_s equal to rekey",
	 SESSION("\"rekey_after_s\": 200, \"reject_after_s\": 200"), -EINVAL,
	 "session.reject_after_s",
	 "200 is not greater than session.rekey_after_s (200); expected more"},
	{"reject_after_s below the default rekey",
	 SESSION("\"reject_after_s\": 100"), -EINVAL, "session.reject_after_s",
	 "100 is not greater than session.rekey_after_s (120, the default)"},
	{"reject_after_messages below rekey",
	 SESSION("\"rekey_after_messages\": 1000, \"reject_after_messages\": 999"),
	 -EINVAL, "session.reject_after_messages",
	 "999 is not greater than session.rekey_after_messages (1000)"},
	{"reject_after_messages equal to the default rekey",
	 SESSION("\"reject_after_messages\": 1152921504606846976"), -EINVAL,
	 "session.reject_after_messages",
	 "1152921504606846976 is not greater than session.rekey_after_messages "
	 "(1152921504606846976, the default)"},
	/* hub: shape */
	{"hub not an object", "{\"hub\": \"10.99.0.254:7700\"}", -EINVAL, "hub",
	 "expected an object, got \"10.99.0.254:7700\""},
	{"hub empty", "{\"hub\": {}}", -EINVAL, "hub.url",
	 "missing (expected \"host:port\" (host an IPv4 address or a DNS name, "
	 "port 1..65535))"},
	{"hub comment only", HUB("\"$comment\": \"join me\""), -EINVAL,
	 "hub.url", "missing"},
	{"hub unknown key", HUB_WITH("\"ca\": \"ca.pem\""), -EINVAL, "hub",
	 "unknown key \"ca\" (expected one of: url, server_name, ca_file, "
	 "cert_file, key_file, max_peers, metrics_interval_s, reconnect_max_s, "
	 "$comment)"},
	/* hub.url */
	{"hub.url a number", HUB("\"url\": 7700"), -EINVAL, "hub.url",
	 "expected \"host:port\" (host an IPv4 address or a DNS name, port "
	 "1..65535), got 7700"},
	{"hub.url null", HUB("\"url\": null"), -EINVAL, "hub.url",
	 "\"host:port\" (host an IPv4 address or a DNS name, port 1..65535), got null"},
	{"hub.url empty", HUB("\"url\": \"\""), -EINVAL, "hub.url",
	 "port 1..65535), got \"\""},
	{"hub.url without port", HUB("\"url\": \"hub.example\""), -EINVAL,
	 "hub.url", "port 1..65535), got \"hub.example\""},
	{"hub.url port 0", HUB("\"url\": \"hub:0\""), -EINVAL, "hub.url",
	 "expected \"host:port\" with port 1..65535, got \"hub:0\""},
	{"hub.url port 65536", HUB("\"url\": \"hub:65536\""), -EINVAL,
	 "hub.url", "expected \"host:port\" with port 1..65535, got \"hub:65536\""},
	{"hub.url port empty", HUB("\"url\": \"hub:\""), -EINVAL, "hub.url",
	 "with port 1..65535, got \"hub:\""},
	{"hub.url port leading zero", HUB("\"url\": \"hub:07700\""), -EINVAL,
	 "hub.url", "with port 1..65535, got \"hub:07700\""},
	{"hub.url port a name", HUB("\"url\": \"hub:grpc\""), -EINVAL,
	 "hub.url", "with port 1..65535, got \"hub:grpc\""},
	{"hub.url port negative", HUB("\"url\": \"hub:-1\""), -EINVAL,
	 "hub.url", "with port 1..65535, got \"hub:-1\""},
	{"hub.url host empty", HUB("\"url\": \":7700\""), -EINVAL, "hub.url",
	 "expected \"host:port\" with host a unicast or loopback IPv4 address or "
	 "a DNS name (1..253 characters of [A-Za-z0-9.-], labels of 1..63 "
	 "without '-' at either end), got \":7700\""},
	{"hub.url host with a space", HUB("\"url\": \"my hub:7700\""), -EINVAL,
	 "hub.url", "with host a unicast or loopback IPv4 address or a DNS name"},
	{"hub.url with a scheme", HUB("\"url\": \"https://hub:7700\""), -EINVAL,
	 "hub.url", "with host a unicast"},
	{"hub.url IPv6", HUB("\"url\": \"[::1]:7700\""), -EINVAL, "hub.url",
	 "with host a unicast"},
	{"hub.url two colons", HUB("\"url\": \"hub:7700:7700\""), -EINVAL,
	 "hub.url", "with host a unicast"},
	{"hub.url host 254 characters",
	 HUB("\"url\": \"" L63 "." L63 "." L63 "." L62 ":7700\""), -EINVAL,
	 "hub.url", "with host a unicast"},
	{"hub.url longer than host and port can be",
	 HUB("\"url\": \"" L63 "." L63 "." L63 "." L63 ":7700\""), -EINVAL,
	 "hub.url", "expected \"host:port\" (host an IPv4 address or a DNS name"},
	{"hub.url label of 64", HUB("\"url\": \"" L63 "d.example:7700\""),
	 -EINVAL, "hub.url", "with host a unicast"},
	{"hub.url label starts with -", HUB("\"url\": \"-hub:7700\""), -EINVAL,
	 "hub.url", "with host a unicast"},
	{"hub.url label ends with -", HUB("\"url\": \"hub-.example:7700\""),
	 -EINVAL, "hub.url", "with host a unicast"},
	{"hub.url empty label", HUB("\"url\": \"hub..example:7700\""), -EINVAL,
	 "hub.url", "with host a unicast"},
	{"hub.url trailing dot", HUB("\"url\": \"hub.example.:7700\""),
	 -EINVAL, "hub.url", "with host a unicast"},
	{"hub.url underscore", HUB("\"url\": \"bauxite_hub:7700\""), -EINVAL,
	 "hub.url", "with host a unicast"},
	{"hub.url short IPv4", HUB("\"url\": \"10.99.254:7700\""), -EINVAL,
	 "hub.url", "with host a unicast"},
	{"hub.url IPv4 octet 256", HUB("\"url\": \"10.99.0.256:7700\""),
	 -EINVAL, "hub.url", "with host a unicast"},
	{"hub.url 0.0.0.0", HUB("\"url\": \"0.0.0.0:7700\""), -EINVAL,
	 "hub.url", "with host a unicast"},
	{"hub.url multicast", HUB("\"url\": \"224.0.0.1:7700\""), -EINVAL,
	 "hub.url", "with host a unicast"},
	{"hub.url broadcast", HUB("\"url\": \"255.255.255.255:7700\""),
	 -EINVAL, "hub.url", "with host a unicast"},
	/* hub.server_name */
	{"hub.server_name empty", HUB_WITH("\"server_name\": \"\""), -EINVAL,
	 "hub.server_name",
	 "expected a unicast or loopback IPv4 address or a DNS name (1..253 "
	 "characters of [A-Za-z0-9.-], labels of 1..63 without '-' at either "
	 "end), got \"\""},
	{"hub.server_name with a space",
	 HUB_WITH("\"server_name\": \"bauxite hub\""), -EINVAL,
	 "hub.server_name", "DNS name (1..253 characters"},
	{"hub.server_name underscore",
	 HUB_WITH("\"server_name\": \"bauxite_hub\""), -EINVAL,
	 "hub.server_name", "got \"bauxite_hub\""},
	{"hub.server_name 254 characters",
	 HUB_WITH("\"server_name\": \"" L63 "." L63 "." L63 "." L62 "\""),
	 -EINVAL, "hub.server_name", "DNS name (1..253 characters"},
	{"hub.server_name short IPv4", HUB_WITH("\"server_name\": \"10.1\""),
	 -EINVAL, "hub.server_name", "got \"10.1\""},
	{"hub.server_name a number", HUB_WITH("\"server_name\": 1"), -EINVAL,
	 "hub.server_name", "got 1"},
	{"hub.server_name with a port",
	 HUB_WITH("\"server_name\": \"bauxite-hub:7700\""), -EINVAL,
	 "hub.server_name", "got \"bauxite-hub:7700\""},
	/* hub files */
	{"hub.ca_file empty", HUB_WITH("\"ca_file\": \"\""), -EINVAL,
	 "hub.ca_file",
	 "expected a file path, absolute or relative to state_dir, got \"\""},
	{"hub.ca_file a number", HUB_WITH("\"ca_file\": 5"), -EINVAL,
	 "hub.ca_file", "expected a file path, absolute or relative to state_dir, got 5"},
	{"hub.cert_file null", HUB_WITH("\"cert_file\": null"), -EINVAL,
	 "hub.cert_file", "relative to state_dir, got null"},
	{"hub.key_file an array", HUB_WITH("\"key_file\": [\"node.key\"]"),
	 -EINVAL, "hub.key_file", "relative to state_dir, got an array"},
	/* hub integers */
	{"hub.max_peers 0", HUB_WITH("\"max_peers\": 0"), -EINVAL,
	 "hub.max_peers", "expected an integer 1..65536, got 0"},
	{"hub.max_peers 65537", HUB_WITH("\"max_peers\": 65537"), -EINVAL,
	 "hub.max_peers", "expected an integer 1..65536, got 65537"},
	{"hub.max_peers string", HUB_WITH("\"max_peers\": \"1024\""), -EINVAL,
	 "hub.max_peers", "got \"1024\""},
	{"hub.max_peers real", HUB_WITH("\"max_peers\": 1024.5"), -EINVAL,
	 "hub.max_peers", "got 1024.5"},
	{"hub.metrics_interval_s 0", HUB_WITH("\"metrics_interval_s\": 0"),
	 -EINVAL, "hub.metrics_interval_s", "expected an integer 1..3600, got 0"},
	{"hub.metrics_interval_s 3601", HUB_WITH("\"metrics_interval_s\": 3601"),
	 -EINVAL, "hub.metrics_interval_s", "expected an integer 1..3600, got 3601"},
	{"hub.reconnect_max_s 0", HUB_WITH("\"reconnect_max_s\": 0"), -EINVAL,
	 "hub.reconnect_max_s", "expected an integer 1..3600, got 0"},
	{"hub.reconnect_max_s 3601", HUB_WITH("\"reconnect_max_s\": 3601"),
	 -EINVAL, "hub.reconnect_max_s", "expected an integer 1..3600, got 3601"},
	{"hub.reconnect_max_s boolean", HUB_WITH("\"reconnect_max_s\": true"),
	 -EINVAL, "hub.reconnect_max_s", "got true"},
	{"ice without a hub", "{\"ice\": {\"enabled\": true}}", -EINVAL,
	 "ice.enabled", "ICE needs a \"hub\" section"},
	{"safety unknown key", "{\"safety\": {\"rtt\": 1}}", -EINVAL, "safety",
	 "unknown key \"rtt\""},
	{"safety sever not above warn", "{\"safety\": {\"warn_rtt_ms\": 50}}",
	 -EINVAL, "safety.sever_rtt_ms", "50 is not above safety.warn_rtt_ms 50"},
	{"safety healthy loss not below sever loss",
	 "{\"safety\": {\"healthy_loss_pct\": 95}}", -EINVAL,
	 "safety.healthy_loss_pct", "95 is not below safety.sever_loss_pct 90"},
	{"safety five copies", "{\"safety\": {\"critical_copies\": 5}}", -EINVAL,
	 "safety.critical_copies", "expected an integer 1..4, got 5"},
	{"safety probe interval too short", "{\"safety\": {\"probe_interval_ms\": 5}}",
	 -EINVAL, "safety.probe_interval_ms", "expected an integer 10..60000, got 5"},
	{"safety timeout beyond the probe ring",
	 "{\"safety\": {\"probe_timeout_ms\": 6400}}", -EINVAL,
	 "safety.probe_timeout_ms", "6400 ms is 64 probe intervals or more"},
	{"safety congestion unknown", "{\"safety\": {\"congestion\": \"cubic\"}}",
	 -EINVAL, "safety.congestion", "\"ewma\" or \"null\""},
	{"safety listen on a public address",
	 "{\"safety\": {\"listen\": \"10.0.0.1:7800\"}}", -EINVAL,
	 "safety.listen", "loopback only"},
	{"safety listen relative unix path",
	 "{\"safety\": {\"listen\": \"unix:safety.sock\"}}", -EINVAL,
	 "safety.listen", "an absolute path"},
	{"relay without inner, with peers",
	 "{\"role\": \"relay\", \"inner\": null}", -EINVAL, "peers",
	 "a relay without an \"inner\" section has no traffic of its own"},
	{"edge without inner", "{\"inner\": null}", -EINVAL, "inner", "missing"},
	{"relay without inner, with a hub",
	 "{\"role\": \"relay\", \"inner\": null, \"peers\": null, \"hub\": {\"url\": \"10.0.0.9:7700\"}}",
	 -EINVAL, "hub", "takes no peers from a hub"},
	{"ice on a relay",
	 "{\"role\": \"relay\", \"hub\": {\"url\": \"10.99.0.254:7700\"}, \"ice\": {\"enabled\": true}}",
	 -EINVAL, "ice.enabled", "a relay is reached at its own public address"},
	{"ice unknown key", "{\"ice\": {\"stun\": []}}", -EINVAL, "ice",
	 "unknown key \"stun\""},
	{"ice stun not an endpoint", "{\"ice\": {\"stun_servers\": [\"10.0.0.1\"]}}",
	 -EINVAL, "ice.stun_servers[0]", "\"IPv4:port\""},
	{"ice too many stun servers",
	 "{\"ice\": {\"stun_servers\": [\"1.1.1.1:1\", \"1.1.1.1:2\", \"1.1.1.1:3\", \"1.1.1.1:4\", \"1.1.1.1:5\"]}}",
	 -EINVAL, "ice.stun_servers", "at most 4"},
	{"ice ports reversed", "{\"ice\": {\"port_min\": 41000, \"port_max\": 40000}}",
	 -EINVAL, "ice.port_max", "below ice.port_min 41000"},
	{"ice ports cover the mesh port",
	 "{\"ice\": {\"port_min\": 7000, \"port_max\": 8000}}", -EINVAL,
	 "ice.port_min", "include mesh_port 7600"},
	{"ice retry reversed", "{\"ice\": {\"retry_min_s\": 9, \"retry_max_s\": 3}}",
	 -EINVAL, "ice.retry_max_s", "below ice.retry_min_s 9"},
	{"relay lease too short", "{\"relay\": {\"lease_s\": 5}}", -EINVAL,
	 "relay.lease_s", "expected an integer 10..3600, got 5"},
	{"relay register interval not below the least lease",
	 "{\"relay\": {\"register_interval_s\": 10}}", -EINVAL,
	 "relay.register_interval_s", "expected an integer 1..9, got 10"},
	/* several underlays */
	{"underlay a string", "{\"underlay\": \"net_null0\"}", -EINVAL, "underlay",
	 "expected an object (or an array of 1..4 underlay objects), got \"net_null0\""},
	{"underlay empty array", "{\"underlay\": []}", -EINVAL, "underlay",
	 "expected an object, got an array of 0 (or an array of 1..4 underlay objects)"},
	{"underlay five", "{" ULS(UL0 ", " UL1 ", " UL1 ", " UL1 ", " UL1) "}",
	 -EINVAL, "underlay", "got an array of 5 (or an array of 1..4"},
	{"underlay array with a number", "{" ULS(UL0 ", 5") "}", -EINVAL,
	 "underlay", "expected an object, got an array with 5 at [1]"},
	{"underlay[1] unknown key",
	 "{" ULS(UL0 ", {\"port\": \"net_null1\", \"address\": \"10.1.0.1/24\", \"rate\": 5}") "}",
	 -EINVAL, "underlay[1]", "unknown key \"rate\" (expected one of: port, address,"},
	{"underlay[1].port missing", "{" ULS(UL0 ", {\"address\": \"10.1.0.1/24\"}") "}",
	 -EINVAL, "underlay[1].port", "missing (expected DPDK devargs"},
	{"underlay[1].address missing", "{" ULS(UL0 ", {\"port\": \"net_null1\"}") "}",
	 -EINVAL, "underlay[1].address", "missing (expected \"IPv4/prefix\")"},
	{"underlay[1].gateway outside its prefix",
	 "{" ULS(UL0 ", {\"port\": \"net_null1\", \"address\": \"10.1.0.1/24\", "
	 "\"gateway\": \"10.0.0.254\"}") "}",
	 -EINVAL, "underlay[1].gateway",
	 "expected an IPv4 address inside underlay[1].address 10.1.0.1/24"},
	{"underlay[1].name charset",
	 "{" ULS(UL0 ", {\"name\": \"lte 1\", \"port\": \"net_null1\", \"address\": \"10.1.0.1/24\"}") "}",
	 -EINVAL, "underlay[1].name",
	 "expected 1..15 characters of [A-Za-z0-9._-], got \"lte 1\""},
	{"underlay.name 16 characters", "{\"underlay\": {\"name\": \"abcdefghijklmnop\"}}",
	 -EINVAL, "underlay.name", "1..15 characters of [A-Za-z0-9._-]"},
	{"underlay.name empty", "{\"underlay\": {\"name\": \"\"}}", -EINVAL,
	 "underlay.name", "got \"\""},
	{"underlay[1].name duplicate",
	 "{" ULS("{\"name\": \"wan\", \"port\": \"net_null0\", \"address\": \"10.0.0.1/24\"}, "
	 "{\"name\": \"wan\", \"port\": \"net_null1\", \"address\": \"10.1.0.1/24\"}") "}",
	 -EINVAL, "underlay[1].name",
	 "\"wan\" is already the name of underlay[0] (expected unique names)"},
	{"underlay[1] default name taken",
	 "{" ULS("{\"name\": \"ul1\", \"port\": \"net_null0\", \"address\": \"10.0.0.1/24\"}, "
	 UL1) "}",
	 -EINVAL, "underlay[1].name",
	 "\"ul1\" (the default) is already the name of underlay[0]"},
	{"underlay[1].exception_iface duplicate",
	 "{" ULS(UL0 ", {\"port\": \"net_null1\", \"address\": \"10.1.0.1/24\", "
	 "\"exception_iface\": \"bx-ul0\"}") "}",
	 -EINVAL, "underlay[1].exception_iface",
	 "\"bx-ul0\" is already underlay[0].exception_iface"},
	{"underlay[1] default exception_iface taken",
	 "{" ULS("{\"port\": \"net_null0\", \"address\": \"10.0.0.1/24\", "
	 "\"exception_iface\": \"bx-ul1\"}, " UL1) "}",
	 -EINVAL, "underlay[1].exception_iface",
	 "\"bx-ul1\" (the default) is already underlay[0].exception_iface"},
	{"underlay[1].port same device",
	 "{" ULS(UL0 ", {\"port\": \"NET_NULL0,size=64\", \"address\": \"10.1.0.1/24\"}") "}",
	 -EINVAL, "underlay[1].port", "same device as underlay[0].port"},
	{"underlay[1].address duplicate",
	 "{" ULS(UL0 ", {\"port\": \"net_null1\", \"address\": \"10.0.0.1/16\"}") "}",
	 -EINVAL, "underlay[1].address", "10.0.0.1 is already underlay[0].address"},
	{"underlay[1].rate_mbps too big",
	 "{" ULS(UL0 ", {\"port\": \"net_null1\", \"address\": \"10.1.0.1/24\", "
	 "\"rate_mbps\": 400001}") "}",
	 -EINVAL, "underlay[1].rate_mbps", "expected an integer 0..400000, got 400001"},
	{"underlay.rate_mbps negative", "{\"underlay\": {\"rate_mbps\": -1}}",
	 -EINVAL, "underlay.rate_mbps", "expected an integer 0..400000, got -1"},
	{"relay with two underlays", "{\"role\": \"relay\", " TWO_ULS "}", -EINVAL,
	 "underlay", "2 underlays with \"role\": \"relay\" (expected one"},
	{"inner.iface is underlay[1]'s exception_iface",
	 "{" TWO_ULS ", \"inner\": {\"iface\": \"bx-ul1\"}}", -EINVAL, "inner.iface",
	 "\"bx-ul1\" is also underlay[1].exception_iface"},
	{"inner.port is underlay[1]'s device",
	 "{" TWO_ULS ", \"inner\": {\"type\": \"dpdk\", \"port\": \"net_null1\"}}",
	 -EINVAL, "inner.port", "same device as underlay[1].port"},
	/* peers' paths */
	{"endpoint and paths", "{\"peers\": [" PEER1(", " PK_A ", \"paths\": ["
	 PATH("ul0", "10.0.0.2:7600") "]") "]}",
	 -EINVAL, "peers[0].paths", "given with peers[0].endpoint too (expected one of them"},
	{"neither endpoint nor paths", "{\"peers\": [" PEER1P("") "]}", -EINVAL,
	 "peers[0]", "missing (expected \"endpoint\" or \"paths\")"},
	{"paths empty", MULTI(", \"paths\": []"), -EINVAL, "peers[0].paths",
	 "expected an array of 1..4 objects {\"underlay\", \"endpoint\"}, got an array"},
	{"paths an object", MULTI(", \"paths\": {}"), -EINVAL, "peers[0].paths",
	 "expected an array of 1..4 objects"},
	{"paths five",
	 MULTI(", \"paths\": [" PATH("ul0", "10.0.0.2:1") ", " PATH("ul0", "10.0.0.2:2")
	       ", " PATH("ul0", "10.0.0.2:3") ", " PATH("ul0", "10.0.0.2:4") ", "
	       PATH("ul0", "10.0.0.2:5") "]"),
	 -EINVAL, "peers[0].paths", "5 paths, at most 4"},
	{"path not an object", MULTI(", \"paths\": [7]"), -EINVAL,
	 "peers[0].paths[0]", "expected an object, got 7"},
	{"path unknown key",
	 MULTI(", \"paths\": [{\"underlay\": \"ul0\", \"endpoint\": \"10.0.0.2:7600\", \"via\": 1}]"),
	 -EINVAL, "peers[0].paths[0]", "unknown key \"via\" (expected one of: underlay, endpoint"},
	{"path without underlay",
	 MULTI(", \"paths\": [" PATH("ul0", "10.0.0.2:7600") ", {\"endpoint\": \"10.1.0.2:7600\"}]"),
	 -EINVAL, "peers[0].paths[1].underlay", "missing (expected the name of an underlay"},
	{"path to an unknown underlay",
	 MULTI(", \"paths\": [" PATH("ul0", "10.0.0.2:7600") ", " PATH("ul7", "10.1.0.2:7600") "]"),
	 -EINVAL, "peers[0].paths[1].underlay",
	 "expected the name of an underlay of this node (ul0, ul1), got \"ul7\""},
	{"path underlay a number",
	 MULTI(", \"paths\": [{\"underlay\": 0, \"endpoint\": \"10.0.0.2:7600\"}]"),
	 -EINVAL, "peers[0].paths[0].underlay", "(ul0, ul1), got 0"},
	{"path without endpoint", MULTI(", \"paths\": [{\"underlay\": \"ul1\"}]"),
	 -EINVAL, "peers[0].paths[0].endpoint", "missing (expected \"IPv4:port\")"},
	{"path endpoint without port",
	 MULTI(", \"paths\": [" PATH("ul0", "10.0.0.2:7600") ", " PATH("ul1", "10.1.0.2") "]"),
	 -EINVAL, "peers[0].paths[1].endpoint", "expected \"IPv4:port\", got \"10.1.0.2\""},
	{"path endpoint not reachable from its underlay",
	 MULTI(", \"paths\": [" PATH("ul0", "10.0.0.2:7600") ", " PATH("ul1", "10.0.0.3:7600") "]"),
	 -EINVAL, "peers[0].paths[1].endpoint",
	 "10.0.0.3 is outside underlay[1].address 10.1.0.1/24 and underlay[1].gateway is not set"},
	{"path endpoint is this node",
	 MULTI(", \"paths\": [" PATH("ul1", "10.1.0.1:7600") "]"),
	 -EINVAL, "peers[0].paths[0].endpoint",
	 "10.1.0.1 is this node's own underlay[1].address"},
	{"path endpoint is this node's other uplink",
	 "{" ULS("{\"port\": \"net_null0\", \"address\": \"10.0.0.1/24\", \"gateway\": \"10.0.0.254\"}, "
	 UL1) ", \"peers\": [" PEER1P(", \"paths\": [" PATH("ul0", "10.1.0.1:7600") "]") "]}",
	 -EINVAL, "peers[0].paths[0].endpoint",
	 "10.1.0.1 is this node's own underlay[1].address"},
	{"path twice",
	 MULTI(", \"paths\": [" PATH("ul1", "10.1.0.2:7600") ", " PATH("ul0", "10.0.0.2:7600")
	       ", " PATH("ul1", "10.1.0.2:7600") "]"),
	 -EINVAL, "peers[0].paths[2].endpoint",
	 "10.1.0.2:7600 from underlay[1] (\"ul1\") is already peers[0].paths[0] (expected each path once)"},
	{"endpoint outside the first of two underlays",
	 "{" TWO_ULS ", \"peers\": [" PEER1P(", \"endpoint\": \"10.1.0.2:7600\"") "]}",
	 -EINVAL, "peers[0].endpoint",
	 "10.1.0.2 is outside underlay[0].address 10.0.0.1/24 and underlay[0].gateway is not set"},
	/* peers' bonding */
	{"peer bonding not an object", "{\"peers\": [" PEER1(", " PK_A ", \"bonding\": \"stripe\"") "]}",
	 -EINVAL, "peers[0].bonding", "expected an object, got \"stripe\""},
	{"peer bonding unknown key",
	 "{\"peers\": [" PEER1(", " PK_A ", \"bonding\": {\"control\": \"stripe\"}") "]}",
	 -EINVAL, "peers[0].bonding",
	 "unknown key \"control\" (expected one of: critical, telemetry, bulk, $comment)"},
	{"peer bonding reorder is the node's",
	 "{\"peers\": [" PEER1(", " PK_A ", \"bonding\": {\"reorder\": false}") "]}",
	 -EINVAL, "peers[0].bonding", "unknown key \"reorder\""},
	{"peer bonding bad mode",
	 "{\"peers\": [" PEER1(", " PK_A ", \"bonding\": {\"bulk\": \"round-robin\"}") "]}",
	 -EINVAL, "peers[0].bonding.bulk",
	 "expected \"redundant\", \"preferred\" or \"stripe\", got \"round-robin\""},
	/* bonding */
	{"bonding not an object", "{\"bonding\": true}", -EINVAL, "bonding",
	 "expected an object, got true"},
	{"bonding unknown key", BONDING("\"mode\": \"stripe\""), -EINVAL, "bonding",
	 "unknown key \"mode\" (expected one of: critical, telemetry, bulk, probe_interval_ms"},
	{"bonding.critical unknown mode", BONDING("\"critical\": \"mirror\""), -EINVAL,
	 "bonding.critical", "expected \"redundant\", \"preferred\" or \"stripe\", got \"mirror\""},
	{"bonding.telemetry upper case", BONDING("\"telemetry\": \"STRIPE\""), -EINVAL,
	 "bonding.telemetry", "got \"STRIPE\""},
	{"bonding.bulk a number", BONDING("\"bulk\": 2"), -EINVAL, "bonding.bulk",
	 "got 2"},
	{"bonding.probe_interval_ms too short", BONDING("\"probe_interval_ms\": 9"),
	 -EINVAL, "bonding.probe_interval_ms", "expected an integer 10..60000, got 9"},
	{"bonding.probe_interval_ms too long", BONDING("\"probe_interval_ms\": 60001"),
	 -EINVAL, "bonding.probe_interval_ms", "expected an integer 10..60000, got 60001"},
	{"bonding.down_after 0", BONDING("\"down_after\": 0"), -EINVAL,
	 "bonding.down_after", "expected an integer 1..60, got 0"},
	{"bonding.down_after 61", BONDING("\"down_after\": 61"), -EINVAL,
	 "bonding.down_after", "expected an integer 1..60, got 61"},
	{"bonding.up_after 0", BONDING("\"up_after\": 0"), -EINVAL,
	 "bonding.up_after", "expected an integer 1..60, got 0"},
	{"bonding.up_after 61", BONDING("\"up_after\": 61"), -EINVAL,
	 "bonding.up_after", "expected an integer 1..60, got 61"},
	{"bonding.redundant_copies 0", BONDING("\"redundant_copies\": 0"), -EINVAL,
	 "bonding.redundant_copies", "expected an integer 1..4, got 0"},
	{"bonding.redundant_copies 5", BONDING("\"redundant_copies\": 5"), -EINVAL,
	 "bonding.redundant_copies", "expected an integer 1..4, got 5"},
	{"bonding.reorder not a boolean", BONDING("\"reorder\": 1"), -EINVAL,
	 "bonding.reorder", "expected true or false, got 1"},
	{"bonding.reorder_slots not a power of two", BONDING("\"reorder_slots\": 1000"),
	 -EINVAL, "bonding.reorder_slots",
	 "expected a power of two between 16 and 65536, at most replay_window 2048, got 1000"},
	{"bonding.reorder_slots 8", BONDING("\"reorder_slots\": 8"), -EINVAL,
	 "bonding.reorder_slots", "a power of two between 16 and 65536"},
	{"bonding.reorder_slots 131072",
	 "{\"replay_window\": 1048576, \"bonding\": {\"reorder_slots\": 131072}}",
	 -EINVAL, "bonding.reorder_slots", "at most replay_window 1048576, got 131072"},
	{"bonding.reorder_slots above replay_window", BONDING("\"reorder_slots\": 4096"),
	 -EINVAL, "bonding.reorder_slots",
	 "4096 is above replay_window 2048 (expected a power of two between 16 and 65536, "
	 "at most replay_window 2048: a packet held for reordering must still be inside "
	 "the replay window)"},
	{"bonding.reorder_timeout_max_ms 0", BONDING("\"reorder_timeout_max_ms\": 0"),
	 -EINVAL, "bonding.reorder_timeout_max_ms", "expected an integer 1..2000, got 0"},
	{"bonding.reorder_timeout_max_ms 2001", BONDING("\"reorder_timeout_max_ms\": 2001"),
	 -EINVAL, "bonding.reorder_timeout_max_ms", "expected an integer 1..2000, got 2001"},
	{"bonding.stripe_exclude_loss_pct 0", BONDING("\"stripe_exclude_loss_pct\": 0"),
	 -EINVAL, "bonding.stripe_exclude_loss_pct", "expected an integer 1..100, got 0"},
	{"bonding.stripe_exclude_loss_pct 101", BONDING("\"stripe_exclude_loss_pct\": 101"),
	 -EINVAL, "bonding.stripe_exclude_loss_pct", "expected an integer 1..100, got 101"},
	{"bonding.stripe_readmit_loss_pct 100", BONDING("\"stripe_readmit_loss_pct\": 100"),
	 -EINVAL, "bonding.stripe_readmit_loss_pct", "expected an integer 0..99, got 100"},
	{"bonding readmit not below exclude",
	 BONDING("\"stripe_exclude_loss_pct\": 5, \"stripe_readmit_loss_pct\": 5"),
	 -EINVAL, "bonding.stripe_readmit_loss_pct",
	 "5 is not below bonding.stripe_exclude_loss_pct 5"},
	{"bonding readmit above the default exclude",
	 BONDING("\"stripe_readmit_loss_pct\": 20"), -EINVAL,
	 "bonding.stripe_readmit_loss_pct", "20 is not below bonding.stripe_exclude_loss_pct 10"},
	{"bonding.readmit_s 3601", BONDING("\"readmit_s\": 3601"), -EINVAL,
	 "bonding.readmit_s", "expected an integer 0..3600, got 3601"},
	{"bonding.preferred_hysteresis_pct 101",
	 BONDING("\"preferred_hysteresis_pct\": 101"), -EINVAL,
	 "bonding.preferred_hysteresis_pct", "expected an integer 0..100, got 101"},
	{"bonding.preferred_hold_ms 60001", BONDING("\"preferred_hold_ms\": 60001"),
	 -EINVAL, "bonding.preferred_hold_ms", "expected an integer 0..60000, got 60001"},
	{"bonding.link_poll_ms 0", BONDING("\"link_poll_ms\": 0"), -EINVAL,
	 "bonding.link_poll_ms", "expected an integer 1..1000, got 0"},
	{"bonding.link_poll_ms 1001", BONDING("\"link_poll_ms\": 1001"), -EINVAL,
	 "bonding.link_poll_ms", "expected an integer 1..1000, got 1001"},
	{"bonding.link_poll_ms real", BONDING("\"link_poll_ms\": 2.5"), -EINVAL,
	 "bonding.link_poll_ms", "got 2.5"},
#ifdef BX_SAFETY_CRITICAL
	{"bonding probes apart from safety's",
	 "{" TWO_ULS ", \"bonding\": {\"probe_interval_ms\": 50},"
	 " \"peers\": [" PEER1P(TWO_PATHS) "]}",
	 -EINVAL, "bonding.probe_interval_ms",
	 "50 differs from safety.probe_interval_ms 100: with the safety layer on and "
	 "peers[0] (\"p1\") on 2 paths, one probe engine measures the paths for both"},
	{"safety probes apart from bonding's",
	 "{" TWO_ULS ", \"safety\": {\"probe_interval_ms\": 200}, "
	 "\"bonding\": {\"probe_interval_ms\": 100}, \"peers\": [" PEER1P(TWO_PATHS) "]}",
	 -EINVAL, "bonding.probe_interval_ms",
	 "100 differs from safety.probe_interval_ms 200"},
#endif
};

/* A relay needs no inner side: no inner, no peers, no hub. */
static void
test_relay_without_inner(void **state)
{
	struct bx_config *c;

	(void)state;
	c = load_ok("{\"role\": \"relay\", \"inner\": null, \"peers\": null}");
	assert_int_equal(c->role, BX_CONFIG_ROLE_RELAY);
	assert_int_equal(c->inner.type, BX_CONFIG_INNER_NONE);
	assert_int_equal(c->n_peers, 0);
	assert_false(c->ice.enabled);
	bx_config_free(c);
}

static void
test_bad_configs(void **state)
{
	char err[ERR_LEN], want[256];
	size_t i, failures = 0;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *bc = &bad_cases[i];
		struct bx_config *c = (struct bx_config *)&failures;
		json_t *root = base_with(bc->patch);
		int rc;

		memset(err, 0, sizeof(err));
		rc = bx_config_from_json(root, NAME, &c, err, sizeof(err));
		json_decref(root);
		if (bc->path[0] != '\0')
			snprintf(want, sizeof(want), NAME ": %s: ", bc->path);
		else
			snprintf(want, sizeof(want), NAME ": ");
		if (rc != bc->rc || strncmp(err, want, strlen(want)) != 0 ||
		    strstr(err, bc->hint) == NULL ||
		    c != (struct bx_config *)&failures) {
			print_error("case \"%s\": rc %d (want %d)\n  got:  %s\n"
				    "  want: %s...%s\n", bc->what, rc, bc->rc,
				    err, want, bc->hint);
			failures++;
		}
		if (rc == 0)
			bx_config_free(c);
	}
	assert_int_equal(failures, 0);
}

static void
test_root_not_object(void **state)
{
	struct bx_config *c = NULL;
	char err[ERR_LEN];
	json_t *root = json_array();

	(void)state;
	assert_int_equal(bx_config_from_json(root, NAME, &c, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, NAME ": expected a JSON object at the top level");
	assert_null(c);
	json_decref(root);
}

/* Files: syntax errors as FILE:LINE:COLUMN, duplicate keys, open errors. */
static void
test_load_errors(void **state)
{
	static const char syntax[] = "{\n  \"node_id\": \"x\",\n  \"role\" \"edge\"\n}\n";
	static const char dupkey[] = "{\"node_id\": \"a\", \"node_id\": \"b\"}";
	struct bx_config *c = NULL;
	char err[ERR_LEN], p[PATH_MAX], want[PATH_MAX + 64];

	(void)state;
	assert_int_equal(write_file("conf/syntax.json", syntax, strlen(syntax), 0644), 0);
	tmp_path(p, sizeof(p), "conf/syntax.json");
	assert_int_equal(bx_config_load(p, &c, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:3:15: ':' expected near '\"edge\"'", p);
	assert_string_equal(err, want);
	assert_null(c);

	assert_int_equal(write_file("conf/dupkey.json", dupkey, strlen(dupkey), 0644), 0);
	tmp_path(p, sizeof(p), "conf/dupkey.json");
	assert_int_equal(bx_config_load(p, &c, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:1:", p);
	assert_memory_equal(err, want, strlen(want));
	assert_non_null(strstr(err, "duplicate object key"));

	tmp_path(p, sizeof(p), "conf/none.json");
	assert_int_equal(bx_config_load(p, &c, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", p);
	assert_string_equal(err, want);

	tmp_path(p, sizeof(p), "conf");
	assert_int_equal(bx_config_load(p, &c, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: not a regular file", p);
	assert_memory_equal(err, want, strlen(want));
	assert_null(c);
}

/* A short err buffer is truncated and terminated; NULL err is fine. */
static void
test_error_buffer(void **state)
{
	struct bx_config *c = NULL;
	char err[12];
	json_t *root = base_with("{\"mesh_port\": 0}");

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(bx_config_from_json(root, NAME, &c, err, 8), -EINVAL);
	assert_string_equal(err, "test.js");
	assert_int_equal(err[8], 'x');
	assert_int_equal(bx_config_from_json(root, NAME, &c, NULL, 0), -EINVAL);
	assert_null(c);
	json_decref(root);
	bx_config_free(NULL);
}

/* ---- (3) the dump ------------------------------------------------------ */

/* Public keys in base64 (what `bauxite keys show` prints on the peer), the
 * session limits, and the rest of the effective config. */
static void
test_dump(void **state)
{
	struct bx_config *c;
	char *buf;

	(void)state;
	c = load_ok("{\"peers\": [" PEER1(", " PK_A) ", "
		    PEER2(", \"allowed_prefixes\": [\"100.64.0.3/32\", \"10.7.0.0/16\"]")
		    "], \"lcores\": {\"rx\": [1], \"workers\": [2, 3]},"
		    " \"rules\": [{\"action\": \"bulk\"}]}");
	buf = dump_of(c);
	assert_non_null(strstr(buf, "peers[0].public_key                  " KEY_A "\n"));
	assert_non_null(strstr(buf, "peers[1].public_key                  " KEY_B "\n"));
	assert_null(strstr(buf, "psk"));
	assert_non_null(strstr(buf, "node_id                              n1\n"));
	assert_non_null(strstr(buf, "cipher                               chacha20-poly1305\n"));
	assert_non_null(strstr(buf, "underlay.address                     10.0.0.1/24\n"));
	assert_non_null(strstr(buf, "lcores.workers                       [2, 3]\n"));
	assert_non_null(strstr(buf, "rules                                1 rule(s)"));
	assert_non_null(strstr(buf, "peers[1].allowed_prefixes[1]         10.7.0.0/16\n"));
	assert_non_null(strstr(buf, "peers[1].endpoint                    10.0.0.3:7600\n"));
	assert_true(dump_has(buf, "session.rekey_after_s", "120"));
	assert_true(dump_has(buf, "session.reject_after_s", "180"));
	assert_true(dump_has(buf, "session.rekey_after_messages", "1152921504606846976"));
	assert_true(dump_has(buf, "session.reject_after_messages", "1152921508901814272"));
	assert_true(dump_has(buf, "session.keep_previous_s", "10"));
	assert_true(dump_has(buf, "session.handshake_timeout_s", "5"));
	assert_true(dump_has(buf, "session.max_clock_skew_s", "600"));
	assert_true(dump_has(buf, "session.initiations_per_sec", "20"));
	assert_true(dump_has(buf, "session.initiations_burst", "5"));
	assert_true(dump_has(buf, "hub", "(none: static peers only)"));
	assert_null(strstr(buf, "hub."));
	free(buf);
	bx_config_free(c);

	c = load_ok(SESSION("\"rekey_after_s\": 7, \"reject_after_messages\": "
			    "9223372036854775807, \"keep_previous_s\": 0, "
			    "\"handshake_timeout_s\": 300, \"max_clock_skew_s\": 0, "
			    "\"initiations_per_sec\": 10000, \"initiations_burst\": 9999"));
	buf = dump_of(c);
	assert_true(dump_has(buf, "session.rekey_after_s", "7"));
	assert_true(dump_has(buf, "session.reject_after_s", "180"));
	assert_true(dump_has(buf, "session.reject_after_messages", "9223372036854775807"));
	assert_true(dump_has(buf, "session.keep_previous_s", "0"));
	assert_true(dump_has(buf, "session.handshake_timeout_s", "300"));
	assert_true(dump_has(buf, "session.max_clock_skew_s", "0 (no bound)"));
	assert_true(dump_has(buf, "session.initiations_per_sec", "10000"));
	assert_true(dump_has(buf, "session.initiations_burst", "9999"));
	free(buf);
	bx_config_free(c);

	/* Every hub field, its files resolved under state_dir. */
	c = load_ok("{\"state_dir\": \"/srv/bx\", \"hub\": {"
		    "\"url\": \"hub.example:7700\", \"ca_file\": \"/etc/ca.pem\","
		    " \"key_file\": \"keys/n.key\", \"max_peers\": 4096,"
		    " \"reconnect_max_s\": 60}}");
	buf = dump_of(c);
	assert_true(dump_has(buf, "hub.url", "hub.example:7700"));
	assert_true(dump_has(buf, "hub.server_name", "hub.example"));
	assert_true(dump_has(buf, "hub.ca_file", "/etc/ca.pem"));
	assert_true(dump_has(buf, "hub.cert_file", "/srv/bx/node.crt"));
	assert_true(dump_has(buf, "hub.key_file", "/srv/bx/keys/n.key"));
	assert_true(dump_has(buf, "hub.max_peers", "4096"));
	assert_true(dump_has(buf, "hub.metrics_interval_s", "10"));
	assert_true(dump_has(buf, "hub.reconnect_max_s", "60"));
	assert_null(strstr(buf, "(none: static peers only)"));
	free(buf);
	bx_config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_fips_selects_aes),
		cmocka_unit_test(test_everything_set),
		cmocka_unit_test(test_max_peers),
		cmocka_unit_test(test_public_keys),
		cmocka_unit_test(test_session_derived),
		cmocka_unit_test(test_hub_defaults),
		cmocka_unit_test(test_hub_everything_set),
		cmocka_unit_test(test_hub_hosts),
		cmocka_unit_test(test_hub_paths),
		cmocka_unit_test(test_relay_without_inner),
		cmocka_unit_test(test_underlay_object_form),
		cmocka_unit_test(test_underlays_and_paths),
		cmocka_unit_test(test_underlay_for),
		cmocka_unit_test(test_bonding_defaults),
		cmocka_unit_test(test_bonding_probe_interval),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_root_not_object),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_error_buffer),
		cmocka_unit_test(test_dump),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
