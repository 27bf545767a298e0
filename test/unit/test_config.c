/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suite "config": the example configs load with their documented values,
 * defaults apply, every bad field is refused with the file, the field path
 * and a hint, key files are checked (mode, shape, content), the dump never
 * shows a key. No EAL.
 */
#include <errno.h>
#include <fcntl.h>
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

/* ---- fixture: a temp dir with key files -------------------------------- */

static char tmpdir[] = "/tmp/bx_config_XXXXXX";
static uint8_t key[BX_CONFIG_PSK_LEN];
static char key_b64[BX_CONFIG_PSK_B64_LEN + 1];
static char examples[PATH_MAX]; /* <repo>/config */

/* Files and directories made under tmpdir, removed in reverse order. */
static const char *const made[] = {
	"good.psk", "nonl.psk", "open.psk", "group.psk", "short.psk",
	"nob64.psk", "long.psk", "keydir", "keys/edge-a--edge-b.psk", "keys",
	"conf/keys/edge-a--edge-b.psk", "conf/keys", "conf/edge-a.json",
	"conf/syntax.json", "conf/dupkey.json", "conf",
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
	/* fchmod: the umask must not decide the mode under test. */
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
	static const char nob64[] = "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=\n";
	uint8_t short_key[16] = {0};
	char line[BX_CONFIG_PSK_B64_LEN + 2], s64[32];

	(void)state;
	if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL || find_examples() < 0)
		return -1;
	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(key_b64, sizeof(key_b64), key, sizeof(key),
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(line, sizeof(line), "%s\n", key_b64);
	sodium_bin2base64(s64, sizeof(s64), short_key, sizeof(short_key),
			  sodium_base64_VARIANT_ORIGINAL);
	strcat(s64, "\n");
	if (make_dir("keys") < 0 || make_dir("keydir") < 0 ||
	    make_dir("conf") < 0 || make_dir("conf/keys") < 0 ||
	    write_file("good.psk", line, strlen(line), 0600) < 0 ||
	    write_file("nonl.psk", key_b64, strlen(key_b64), 0400) < 0 ||
	    write_file("keys/edge-a--edge-b.psk", line, strlen(line), 0600) < 0 ||
	    write_file("conf/keys/edge-a--edge-b.psk", line, strlen(line), 0600) < 0 ||
	    write_file("open.psk", line, strlen(line), 0644) < 0 ||
	    write_file("group.psk", line, strlen(line), 0640) < 0 ||
	    write_file("short.psk", s64, strlen(s64), 0600) < 0 ||
	    write_file("nob64.psk", nob64, strlen(nob64), 0600) < 0)
		return -1;
	/* A key followed by more text: longer than any key file may be. */
	snprintf(line, sizeof(line), "%sA", key_b64);
	return write_file("long.psk", line, strlen(line), 0600);
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
	sodium_memzero(key, sizeof(key));
	sodium_memzero(key_b64, sizeof(key_b64));
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

/* A small valid config: one peer whose key is tmpdir/good.psk. */
static const char base_text[] =
	"{\"node_id\": \"n1\","
	" \"underlay\": {\"port\": \"net_null0\", \"address\": \"10.0.0.1/24\"},"
	" \"inner\": {\"address\": \"100.64.0.1/24\"},"
	" \"peers\": [{\"id\": \"p1\", \"virtual_ip\": \"100.64.0.2\","
	"   \"endpoint\": \"10.0.0.2:7600\", \"psk_file\": \"good.psk\"}]}";

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

	rc = bx_config_from_json(root, NAME, tmpdir, &cfg, err, sizeof(err));
	json_decref(root);
	if (rc != 0)
		fail_msg("patch %s: rc %d: %s", patch, rc, err);
	return cfg;
}

/* ---- (1) the examples and the defaults ---------------------------------- */

static void
check_example(const struct bx_config *c, const char *me, const char *other,
	      const char *ul, const char *vip, const char *peer_ul,
	      const char *peer_vip, const char *iface)
{
	char port[64];

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
	assert_int_equal(c->n_peers, 1);
	assert_string_equal(c->peers[0].id, other);
	assert_int_equal(c->peers[0].virtual_ip, ip(peer_vip));
	assert_int_equal(c->peers[0].n_allowed, 1);
	assert_int_equal(c->peers[0].allowed[0].addr, ip(peer_vip));
	assert_int_equal(c->peers[0].allowed[0].len, 32);
	assert_int_equal(c->peers[0].endpoint_ip, ip(peer_ul));
	assert_int_equal(c->peers[0].endpoint_port, 7600);
	assert_non_null(c->peers[0].psk);
	assert_int_equal(sodium_memcmp(c->peers[0].psk, key, sizeof(key)), 0);
	assert_non_null(strstr(c->peers[0].psk_file, "/edge-a--edge-b.psk"));
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

/* edge-a as shipped: its relative psk_file resolves against base_dir. */
static void
test_example_edge_a(void **state)
{
	struct bx_config *c = NULL;
	char err[ERR_LEN] = "", want[PATH_MAX];
	json_t *root = load_example("edge-a.json");
	int rc;

	(void)state;
	rc = bx_config_from_json(root, "edge-a.json", tmpdir, &c, err, sizeof(err));
	json_decref(root);
	if (rc != 0)
		fail_msg("edge-a.json: rc %d: %s", rc, err);
	check_example(c, "edge-a", "edge-b", "10.99.0.1", "100.64.0.1",
		      "10.99.0.2", "100.64.0.2", "vA");
	snprintf(want, sizeof(want), "%s/keys/edge-a--edge-b.psk", tmpdir);
	assert_string_equal(c->peers[0].psk_file, want);
	bx_config_free(c);
}

/* edge-b with psk_file patched to an absolute path: base_dir is ignored. */
static void
test_example_edge_b(void **state)
{
	struct bx_config *c = NULL;
	char err[ERR_LEN] = "", abs[PATH_MAX];
	json_t *root = load_example("edge-b.json"), *peer;
	size_t i;
	int rc;

	(void)state;
	tmp_path(abs, sizeof(abs), "keys/edge-a--edge-b.psk");
	json_array_foreach(json_object_get(root, "peers"), i, peer)
		json_object_set_new(peer, "psk_file", json_string(abs));
	rc = bx_config_from_json(root, "edge-b.json", "/nonexistent", &c, err,
				 sizeof(err));
	json_decref(root);
	if (rc != 0)
		fail_msg("edge-b.json: rc %d: %s", rc, err);
	check_example(c, "edge-b", "edge-a", "10.99.0.2", "100.64.0.2",
		      "10.99.0.1", "100.64.0.1", "vB");
	assert_string_equal(c->peers[0].psk_file, abs);
	bx_config_free(c);
}

/* bx_config_load on a file: the key path resolves against its directory. */
static void
test_load_file(void **state)
{
	struct bx_config *c = (struct bx_config *)&c;
	char err[ERR_LEN] = "", p[PATH_MAX], want[PATH_MAX];
	json_t *root = load_example("edge-a.json");
	int rc;

	(void)state;
	tmp_path(p, sizeof(p), "conf/edge-a.json");
	assert_int_equal(json_dump_file(root, p, JSON_INDENT(2)), 0);
	json_decref(root);
	rc = bx_config_load(p, &c, err, sizeof(err));
	if (rc != 0)
		fail_msg("rc %d: %s", rc, err);
	check_example(c, "edge-a", "edge-b", "10.99.0.1", "100.64.0.1",
		      "10.99.0.2", "100.64.0.2", "vA");
	tmp_path(want, sizeof(want), "conf/keys/edge-a--edge-b.psk");
	assert_string_equal(c->peers[0].psk_file, want);
	bx_config_free(c);
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
	assert_int_equal(c->n_peers, 0);
	assert_null(c->peers);
	bx_config_free(c);

	/* A peer without allowed_prefixes gets virtual_ip/32. */
	c = load_ok(NULL);
	assert_int_equal(c->n_peers, 1);
	assert_int_equal(c->peers[0].n_allowed, 1);
	assert_int_equal(c->peers[0].allowed[0].addr, ip("100.64.0.2"));
	assert_int_equal(c->peers[0].allowed[0].len, 32);
	assert_int_equal(sodium_memcmp(c->peers[0].psk, key, sizeof(key)), 0);
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
		"   \"endpoint\": \"203.0.113.7:51820\", \"psk_file\": \"nonl.psk\"}]}";
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
	/* nonl.psk: no trailing newline, mode 0400. */
	assert_int_equal(sodium_memcmp(c->peers[0].psk, key, sizeof(key)), 0);
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

/* The peer table at its cap, each peer with its own key read. */
static void
test_max_peers(void **state)
{
	struct bx_config *c = NULL;
	char err[ERR_LEN] = "", vip[32];
	json_t *root = base_with("{\"inner\": {\"address\": \"100.64.0.1/16\"}}");
	json_t *peers = json_array(), *p;
	unsigned i;
	int rc;

	(void)state;
	for (i = 0; i < BX_CONFIG_MAX_PEERS + 1; i++) {
		snprintf(vip, sizeof(vip), "100.64.%u.%u", 4 + i / 256, i % 256);
		p = json_pack("{s:s%, s:s, s:s, s:s}", "id", vip, strlen(vip),
			      "virtual_ip", vip, "endpoint", "10.0.0.2:7600",
			      "psk_file", "good.psk");
		assert_non_null(p);
		json_array_append_new(peers, p);
	}
	json_object_set_new(root, "peers", peers);
	rc = bx_config_from_json(root, NAME, tmpdir, &c, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, NAME ": peers: 1025 peers, at most 1024"));

	json_array_remove(peers, BX_CONFIG_MAX_PEERS);
	rc = bx_config_from_json(root, NAME, tmpdir, &c, err, sizeof(err));
	if (rc != 0)
		fail_msg("rc %d: %s", rc, err);
	assert_int_equal(c->n_peers, BX_CONFIG_MAX_PEERS);
	assert_int_equal(c->peers[1023].virtual_ip, ip("100.64.7.255"));
	assert_int_equal(sodium_memcmp(c->peers[1023].psk, key, sizeof(key)), 0);
	bx_config_free(c);
	json_decref(root);
}

/* ---- (2) bad configs ----------------------------------------------------- */

struct bad_case {
	const char *what;
	const char *patch; /* merge patch over base_text */
	int rc;
	const char *path;  /* the error starts "test.json: <path>: " ("" top) */
	const char *hint;  /* and contains this */
};

#define PEER2(x) "{\"id\": \"p2\", \"virtual_ip\": \"100.64.0.3\", " \
	"\"endpoint\": \"10.0.0.3:7600\", \"psk_file\": \"good.psk\"" x "}"
#define PEER1(x) "{\"id\": \"p1\", \"virtual_ip\": \"100.64.0.2\", " \
	"\"endpoint\": \"10.0.0.2:7600\"" x "}"
#define PSK(f) "{\"peers\": [" PEER1(", \"psk_file\": \"" f "\"") "]}"
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
	 "{\"peers\": [" PEER1(", \"psk_file\": \"good.psk\"") ", " PEER2("")
	 ", {\"id\": \"p3\", \"virtual_ip\": \"100.64.0.4\", \"endpoint\": "
	 "\"10.0.0.4:7600\", \"pskfile\": \"good.psk\"}]}",
	 -EINVAL, "peers[2]", "unknown key \"pskfile\" (expected one of: id,"},
	{"peer not an object", "{\"peers\": [7]}", -EINVAL, "peers[0]",
	 "expected an object, got 7"},
	{"peer id missing",
	 "{\"peers\": [{\"virtual_ip\": \"100.64.0.2\", \"endpoint\": \"10.0.0.2:1\", \"psk_file\": \"good.psk\"}]}",
	 -EINVAL, "peers[0].id", "missing"},
	{"peer id duplicate",
	 "{\"peers\": [" PEER1(", \"psk_file\": \"good.psk\"") ", "
	 "{\"id\": \"p1\", \"virtual_ip\": \"100.64.0.3\", \"endpoint\": "
	 "\"10.0.0.3:7600\", \"psk_file\": \"good.psk\"}]}",
	 -EINVAL, "peers[1].id", "\"p1\" is already the id of peers[0]"},
	{"peer id is node_id", "{\"node_id\": \"p1\"}", -EINVAL, "peers[0].id",
	 "\"p1\" is this node's own node_id"},
	{"peer virtual_ip duplicate",
	 "{\"peers\": [" PEER1(", \"psk_file\": \"good.psk\"") ", "
	 "{\"id\": \"p2\", \"virtual_ip\": \"100.64.0.2\", \"endpoint\": "
	 "\"10.0.0.3:7600\", \"psk_file\": \"good.psk\"}]}",
	 -EINVAL, "peers[1].virtual_ip", "100.64.0.2 is already the virtual_ip of peers[0]"},
	{"peer virtual_ip outside inner",
	 "{\"peers\": [{\"id\": \"p1\", \"virtual_ip\": \"100.65.0.2\", "
	 "\"endpoint\": \"10.0.0.2:7600\", \"psk_file\": \"good.psk\"}]}",
	 -EINVAL, "peers[0].virtual_ip", "inside inner.address 100.64.0.1/24"},
	{"peer virtual_ip missing",
	 "{\"peers\": [{\"id\": \"p1\", \"endpoint\": \"10.0.0.2:7600\", "
	 "\"psk_file\": \"good.psk\"}]}",
	 -EINVAL, "peers[0].virtual_ip", "missing (expected an IPv4 address)"},
	{"endpoint without port",
	 "{\"peers\": [{\"id\": \"p1\", \"virtual_ip\": \"100.64.0.2\", "
	 "\"endpoint\": \"10.0.0.2\", \"psk_file\": \"good.psk\"}]}",
	 -EINVAL, "peers[0].endpoint", "expected \"IPv4:port\", got \"10.0.0.2\""},
	{"endpoint port 0",
	 "{\"peers\": [{\"id\": \"p1\", \"virtual_ip\": \"100.64.0.2\", "
	 "\"endpoint\": \"10.0.0.2:0\", \"psk_file\": \"good.psk\"}]}",
	 -EINVAL, "peers[0].endpoint", "expected \"IPv4:port\", got \"10.0.0.2:0\""},
	{"endpoint unreachable",
	 "{\"peers\": [{\"id\": \"p1\", \"virtual_ip\": \"100.64.0.2\", "
	 "\"endpoint\": \"10.9.0.2:7600\", \"psk_file\": \"good.psk\"}]}",
	 -EINVAL, "peers[0].endpoint",
	 "outside underlay.address 10.0.0.1/24 and underlay.gateway is not set"},
	{"endpoint is this node",
	 "{\"peers\": [{\"id\": \"p1\", \"virtual_ip\": \"100.64.0.2\", "
	 "\"endpoint\": \"10.0.0.1:7600\", \"psk_file\": \"good.psk\"}]}",
	 -EINVAL, "peers[0].endpoint", "own underlay.address"},
	{"allowed_prefixes host bits",
	 "{\"peers\": [" PEER1(", \"psk_file\": \"good.psk\", \"allowed_prefixes\": "
			       "[\"100.64.0.2/32\", \"10.1.2.3/16\"]") "]}",
	 -EINVAL, "peers[0].allowed_prefixes[1]",
	 "\"10.1.2.3/16\" has host bits set (expected a network prefix, e.g. \"10.1.0.0/16\")"},
	{"allowed_prefixes too many",
	 "{\"peers\": [" PEER1(", \"psk_file\": \"good.psk\", \"allowed_prefixes\": [" P17 "]") "]}",
	 -EINVAL, "peers[0].allowed_prefixes", "17 prefixes, at most 16"},
	{"allowed_prefixes empty",
	 "{\"peers\": [" PEER1(", \"psk_file\": \"good.psk\", \"allowed_prefixes\": []") "]}",
	 -EINVAL, "peers[0].allowed_prefixes", "expected an array of 1..16"},
	{"allowed_prefixes miss virtual_ip",
	 "{\"peers\": [" PEER1(", \"psk_file\": \"good.psk\", \"allowed_prefixes\": [\"10.1.0.0/16\"]") "]}",
	 -EINVAL, "peers[0].allowed_prefixes",
	 "no prefix covers virtual_ip 100.64.0.2"},
	{"allowed prefix in two peers",
	 "{\"peers\": [" PEER1(", \"psk_file\": \"good.psk\", \"allowed_prefixes\": "
			       "[\"100.64.0.2/32\", \"10.1.0.0/16\"]") ", "
	 PEER2(", \"allowed_prefixes\": [\"100.64.0.3/32\", \"10.1.0.0/16\"]") "]}",
	 -EINVAL, "peers[1].allowed_prefixes[1]",
	 "10.1.0.0/16 is already allowed for peers[0] (\"p1\")"},
	{"allowed prefix twice in one peer",
	 "{\"peers\": [" PEER1(", \"psk_file\": \"good.psk\", \"allowed_prefixes\": "
			       "[\"100.64.0.2/32\", \"100.64.0.2/32\"]") "]}",
	 -EINVAL, "peers[0].allowed_prefixes[1]", "already allowed for peers[0]"},
	/* key files */
	{"psk_file missing", "{\"peers\": [" PEER1("") "]}", -EINVAL,
	 "peers[0].psk_file", "missing (expected a path to a key file, relative"},
	{"psk_file absent", PSK("nokey.psk"), -ENOENT, "peers[0].psk_file",
	 "/nokey.psk: No such file or directory"},
	{"psk_file mode 0644", PSK("open.psk"), -EPERM, "peers[0].psk_file",
	 "/open.psk has mode 0644, must not be readable or writable by group or others (chmod 600)"},
	{"psk_file mode 0640", PSK("group.psk"), -EPERM, "peers[0].psk_file",
	 "/group.psk has mode 0640"},
	{"psk_file 16-byte key", PSK("short.psk"), -EINVAL, "peers[0].psk_file",
	 "/short.psk: 24 characters; expected a 32-byte key in standard base64"},
	{"psk_file too long", PSK("long.psk"), -EINVAL, "peers[0].psk_file",
	 "/long.psk: at least 45 characters; expected a 32-byte key"},
	{"psk_file not base64", PSK("nob64.psk"), -EINVAL, "peers[0].psk_file",
	 "/nob64.psk: not valid base64"},
	{"psk_file a directory", PSK("keydir"), -EINVAL, "peers[0].psk_file",
	 "/keydir is not a regular file"},
	{"psk_file empty", PSK(""), -EINVAL, "peers[0].psk_file",
	 "expected a path to a key file"},
};

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
		rc = bx_config_from_json(root, NAME, tmpdir, &c, err, sizeof(err));
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
		/* Key file errors name the resolved path. */
		if (strstr(bc->hint, ".psk") != NULL && strstr(err, tmpdir) == NULL) {
			print_error("case \"%s\": no %s in: %s\n", bc->what,
				    tmpdir, err);
			failures++;
		}
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
	assert_int_equal(bx_config_from_json(root, NAME, NULL, &c, err, sizeof(err)),
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
	assert_int_equal(bx_config_from_json(root, NAME, tmpdir, &c, err, 8), -EINVAL);
	assert_string_equal(err, "test.js");
	assert_int_equal(err[8], 'x');
	assert_int_equal(bx_config_from_json(root, NAME, tmpdir, &c, NULL, 0), -EINVAL);
	assert_null(c);
	json_decref(root);
	bx_config_free(NULL);
}

/* ---- (3) the dump never shows a key -------------------------------------- */

static void
test_dump_redacts(void **state)
{
	struct bx_config *c;
	char *buf = NULL, want[PATH_MAX + 64];
	size_t len = 0;
	FILE *f;

	(void)state;
	c = load_ok("{\"peers\": [" PEER1(", \"psk_file\": \"good.psk\"") ", "
		    PEER2(", \"allowed_prefixes\": [\"100.64.0.3/32\", \"10.7.0.0/16\"]")
		    "], \"lcores\": {\"rx\": [1], \"workers\": [2, 3]},"
		    " \"rules\": [{\"action\": \"bulk\"}]}");
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	bx_config_dump(c, f);
	assert_int_equal(fclose(f), 0);

	assert_null(strstr(buf, key_b64));
	assert_null(memmem(buf, len, key, sizeof(key)));
	assert_non_null(strstr(buf, "peers[0].psk                         <redacted>\n"));
	assert_non_null(strstr(buf, "peers[1].psk                         <redacted>\n"));
	assert_non_null(strstr(buf, "node_id                              n1\n"));
	assert_non_null(strstr(buf, "cipher                               chacha20-poly1305\n"));
	assert_non_null(strstr(buf, "underlay.address                     10.0.0.1/24\n"));
	assert_non_null(strstr(buf, "lcores.workers                       [2, 3]\n"));
	assert_non_null(strstr(buf, "rules                                1 rule(s)"));
	assert_non_null(strstr(buf, "peers[1].allowed_prefixes[1]         10.7.0.0/16\n"));
	assert_non_null(strstr(buf, "peers[1].endpoint                    10.0.0.3:7600\n"));
	snprintf(want, sizeof(want), "peers[0].psk_file                    %s/good.psk\n",
		 tmpdir);
	assert_non_null(strstr(buf, want));
	sodium_memzero(buf, len);
	free(buf);
	bx_config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_edge_a),
		cmocka_unit_test(test_example_edge_b),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_fips_selects_aes),
		cmocka_unit_test(test_everything_set),
		cmocka_unit_test(test_max_peers),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_root_not_object),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_error_buffer),
		cmocka_unit_test(test_dump_redacts),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
