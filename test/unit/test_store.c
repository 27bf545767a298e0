/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suite "store": the dispatch state store on SQLite. Schema and file
 * (version, refusal of newer and foreign files, mode 0600), join tokens
 * (single and multi use, expiry, malformed and wrong tokens, the secret
 * never stored), nodes and virtual IP allocation (reserved addresses,
 * exhaustion, revoke keeps the address until purge), topology versions and
 * the bounded change log, policy versions, the mesh settings (defaults,
 * versions, refusals, an unreadable row, a schema-1 database upgraded),
 * and the audit chain: records
 * written by the store's own operations, the documented hash encoding
 * (golden vectors), and tampering through raw SQL caught record by record.
 * No EAL; every test works in its own database under a temporary dir.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
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
#include <sqlite3.h>

#include "bx_common.h"
#include "bx_store.h"

#define ERR_LEN 512
#define T0 1700000000000ll /* 2023-11-14T22:13:20Z */
#define ACTOR "cli:test"
#define CERT_PEM                                                              \
	"-----BEGIN CERTIFICATE-----\nMIIBdGVzdA==\n-----END CERTIFICATE-----\n"

static char tmpdir[] = "/tmp/bx_store_XXXXXX";
static int64_t fake_now = T0;

/* ---- helpers ------------------------------------------------------------ */

static int64_t
fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
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

/* A database path of its own per call: tests never share state. */
static const char *
fresh_path(char *buf, size_t size)
{
	static unsigned seq;
	int n = snprintf(buf, size, "%s/db%u.db", tmpdir, seq++);

	assert_true(n > 0 && (size_t)n < size);
	return buf;
}

static void
assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

static uint32_t
ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static struct bx_store_prefix
pfx(const char *s)
{
	char buf[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	struct bx_store_prefix p;

	assert_non_null(slash);
	snprintf(buf, sizeof(buf), "%.*s", (int)(slash - s), s);
	p.addr = ip(buf);
	p.len = (uint8_t)atoi(slash + 1);
	return p;
}

/*
 * Opens @path with mesh prefix @mesh (NULL: none), reserved addresses
 * @reserved (NULL-terminated, may be NULL) and change log bound @log_max.
 */
static struct bx_store *
open_opts(const char *path, const char *mesh, const char *const reserved[],
	  uint32_t log_max)
{
	struct bx_store_options o = {
		.change_log_max = log_max,
		.clock_ms = fake_clock,
	};
	char err[ERR_LEN] = "";
	struct bx_store *s = NULL;

	if (mesh != NULL)
		o.mesh = pfx(mesh);
	while (reserved != NULL && reserved[o.n_reserved] != NULL) {
		o.reserved[o.n_reserved] = ip(reserved[o.n_reserved]);
		o.n_reserved++;
	}
	if (bx_store_open_sqlite(path, &o, &s, err, sizeof(err)) != 0)
		fail_msg("open %s: %s", path, err);
	return s;
}

static struct bx_store *
open_store(const char *path)
{
	return open_opts(path, "100.64.0.0/24", NULL, 0);
}

/* A valid node whose keys and endpoint derive from @seed. */
static struct bx_store_node
node_make(const char *id, uint8_t seed)
{
	struct bx_store_node n;

	memset(&n, 0, sizeof(n));
	snprintf(n.id, sizeof(n.id), "%s", id);
	memset(n.ed25519_public, seed, BX_STORE_KEY_LEN);
	n.ed25519_public[0] = 'E';
	memset(n.x25519_public, seed, BX_STORE_KEY_LEN);
	n.x25519_public[0] = 'X';
	n.n_endpoints = 1;
	n.endpoints[0].ip = htonl(0xc0000200u | seed); /* 192.0.2.seed */
	n.endpoints[0].port = 7600;
	n.n_allowed = 1;
	n.allowed[0].addr = htonl(0x0a000000u | (uint32_t)seed << 16);
	n.allowed[0].len = 16;
	n.n_tags = 1;
	snprintf(n.tags[0], sizeof(n.tags[0]), "site:berlin");
	n.cert_pem = CERT_PEM;
	snprintf(n.cert_serial, sizeof(n.cert_serial), "0a1b%02x", seed);
	n.cert_not_after_ms = T0 + 86400000ll * 365;
	return n;
}

/* Adds node @id (seed @seed) and returns its virtual IP. */
static uint32_t
add_node(struct bx_store *s, const char *id, uint8_t seed)
{
	struct bx_store_node n = node_make(id, seed);
	char err[ERR_LEN] = "";
	uint32_t vip = 0;

	if (bx_store_node_add(s, ACTOR, &n, &vip, err, sizeof(err)) != 0)
		fail_msg("add %s: %s", id, err);
	return vip;
}

static void
make_token(struct bx_store *s, uint32_t ttl_s, uint32_t uses,
	   char token[BX_STORE_TOKEN_LEN + 1])
{
	static const char *const tags[] = { "role:robot", "site:berlin" };
	char err[ERR_LEN] = "";

	if (bx_store_token_create(s, ACTOR, ttl_s, uses, tags, 2, token, err,
				  sizeof(err)) != 0)
		fail_msg("token create: %s", err);
}

static uint64_t
topo_version(struct bx_store *s)
{
	char err[ERR_LEN] = "";
	uint64_t v = UINT64_MAX;

	assert_int_equal(bx_store_topology_version(s, &v, err, sizeof(err)),
			 0);
	return v;
}

static uint64_t
audit_count(struct bx_store *s)
{
	char err[ERR_LEN] = "";
	uint64_t n = UINT64_MAX;

	if (bx_store_audit_verify(s, &n, NULL, err, sizeof(err)) != 0)
		fail_msg("verify: %s", err);
	return n;
}

/* Runs @sql on @path through a connection of its own; returns SQLite's rc. */
static int
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	return rc;
}

/* The first column of the first row of @sql on @path, as text. */
static void
raw_text(const char *path, const char *sql, char *buf, size_t size)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static int64_t
raw_int(const char *path, const char *sql)
{
	char buf[64];

	raw_text(path, sql, buf, sizeof(buf));
	return strtoll(buf, NULL, 10);
}

/* The whole file @path in a malloc'd buffer. */
static uint8_t *
slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	*len = fread(buf, 1, (size_t)st.st_size, f);
	assert_int_equal(*len, (size_t)st.st_size);
	fclose(f);
	return buf;
}

static bool
contains_bytes(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	return memmem(hay, n, needle, m) != NULL;
}

/* ---- schema and file ---------------------------------------------------- */

static void
test_open_creates_schema(void **state)
{
	static const char *const tables[] = {
		"audit", "node_metrics", "nodes", "settings", "state",
		"tokens", "topology_changes",
	};
	char path[PATH_MAX], wal[PATH_MAX + 8], sql[256], mode[16];
	struct bx_store *s;
	struct stat st;
	unsigned i;

	(void)state;
	fresh_path(path, sizeof(path));
	s = open_store(path);
	add_node(s, "edge-a", 1); /* a write, so the WAL file exists */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, BX_STORE_FILE_MODE);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_int_equal(stat(wal, &st), 0);
	assert_int_equal(st.st_mode & 07777, BX_STORE_FILE_MODE);
	bx_store_close(s);

	assert_int_equal(raw_int(path, "PRAGMA user_version"),
			 BX_STORE_SCHEMA_VERSION);
	raw_text(path, "PRAGMA journal_mode", mode, sizeof(mode));
	assert_string_equal(mode, "wal");
	for (i = 0; i < BX_ARRAY_SIZE(tables); i++) {
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '%s'",
			 tables[i]);
		assert_int_equal(raw_int(path, sql), 1);
	}
}

static void
test_umask_does_not_widen_mode(void **state)
{
	char path[PATH_MAX];
	struct bx_store *s;
	struct stat st;
	mode_t old = umask(0);

	(void)state;
	fresh_path(path, sizeof(path));
	s = open_store(path);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, BX_STORE_FILE_MODE);
	bx_store_close(s);
}

static void
test_reopen_keeps_data(void **state)
{
	char path[PATH_MAX], token[BX_STORE_TOKEN_LEN + 1];
	char err[ERR_LEN] = "", *json = NULL;
	struct bx_store_token_info info;
	struct bx_store_node *n = NULL;
	struct bx_store *s;
	uint64_t v = 0;
	uint32_t vip;

	(void)state;
	fresh_path(path, sizeof(path));
	s = open_store(path);
	make_token(s, 3600, 2, token);
	vip = add_node(s, "edge-a", 1);
	assert_int_equal(bx_store_policy_set(s, ACTOR, "{\"rules\":[]}", &v,
					     err, sizeof(err)),
			 0);
	bx_store_close(s);

	s = open_store(path);
	assert_int_equal(bx_store_node_get(s, "edge-a", &n, err, sizeof(err)),
			 0);
	assert_int_equal(n->virtual_ip, vip);
	bx_store_node_free(n);
	assert_int_equal(bx_store_policy_get(s, &json, &v, err, sizeof(err)),
			 0);
	assert_string_equal(json, "{\"rules\":[]}");
	assert_int_equal(v, 1);
	free(json);
	assert_int_equal(topo_version(s), 1);
	assert_int_equal(bx_store_token_consume(s, ACTOR, token, T0, &info,
						err, sizeof(err)),
			 0);
	assert_int_equal(info.uses_left, 1);
	/* token.create, node.add, policy.set, token.consume */
	assert_int_equal(audit_count(s), 4);
	/* The next node gets the next address: allocation sees old rows. */
	assert_int_equal(add_node(s, "edge-b", 2), ip("100.64.0.2"));
	bx_store_close(s);
}

/* A file the store must not open, made by @prepare, and what it says. */
struct refused_case {
	const char *name;
	void (*prepare)(const char *path);
	int rc;
	const char *msg;
};

static void
prep_future_version(const char *path)
{
	char sql[64];

	bx_store_close(open_store(path));
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %u",
		 BX_STORE_SCHEMA_VERSION + 1);
	assert_int_equal(raw_exec(path, sql), SQLITE_OK);
}

static void
prep_foreign_db(const char *path)
{
	assert_int_equal(raw_exec(path, "CREATE TABLE songs (title TEXT)"),
			 SQLITE_OK);
	assert_int_equal(chmod(path, 0600), 0);
}

static void
prep_foreign_app_id(const char *path)
{
	assert_int_equal(raw_exec(path, "PRAGMA application_id = 1234; "
					"CREATE TABLE t (x)"),
			 SQLITE_OK);
	assert_int_equal(chmod(path, 0600), 0);
}

static void
prep_not_sqlite(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (int i = 0; i < 64; i++)
		fputs("this is not a database, just text. ", f);
	fclose(f);
	assert_int_equal(chmod(path, 0600), 0);
}

static void
prep_world_readable(const char *path)
{
	bx_store_close(open_store(path));
	assert_int_equal(chmod(path, 0644), 0);
}

static void
prep_symlink(const char *path)
{
	char target[PATH_MAX + 8];

	snprintf(target, sizeof(target), "%s.real", path);
	bx_store_close(open_store(target));
	assert_int_equal(symlink(target, path), 0);
}

static void
test_refused_files(void **state)
{
	static const struct refused_case cases[] = {
		{ "future schema", prep_future_version, -ENOTSUP,
		  "is newer than this bauxite-dispatch supports" },
		{ "other program's db", prep_foreign_db, -EINVAL,
		  "not a bauxite-dispatch database" },
		{ "other application id", prep_foreign_app_id, -EINVAL,
		  "application_id 0x000004d2" },
		{ "not sqlite", prep_not_sqlite, -EINVAL,
		  "not a database" },
		{ "mode 0644", prep_world_readable, -EPERM, "mode 0644" },
		{ "symlink", prep_symlink, -ELOOP, "" },
	};
	char path[PATH_MAX], err[ERR_LEN];
	struct bx_store *s;
	unsigned i;
	int rc;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		fresh_path(path, sizeof(path));
		cases[i].prepare(path);
		s = NULL;
		err[0] = '\0';
		rc = bx_store_open_sqlite(path, NULL, &s, err, sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("%s: rc %d (%s), expected %d", cases[i].name,
				 rc, err, cases[i].rc);
		assert_null(s);
		assert_contains(err, cases[i].msg);
	}
	/* The newer database was not touched. */
	fresh_path(path, sizeof(path));
	prep_future_version(path);
	assert_int_equal(bx_store_open_sqlite(path, NULL, &s, err,
					      sizeof(err)),
			 -ENOTSUP);
	assert_int_equal(raw_int(path, "PRAGMA user_version"),
			 BX_STORE_SCHEMA_VERSION + 1);
}

static void
test_bad_options(void **state)
{
	static const struct {
		const char *mesh;
		const char *reserved;
		const char *msg;
	} cases[] = {
		{ "100.64.0.1/24", NULL, "host bits" },
		{ "100.64.0.0/31", NULL, "length 31" },
		{ "10.0.0.0/7", NULL, "length 7" },
		{ "100.64.0.0/24", "100.64.1.1", "outside the mesh prefix" },
		{ NULL, "100.64.0.1", "without a mesh prefix" },
	};
	char path[PATH_MAX], err[ERR_LEN];
	struct bx_store_options o;
	struct bx_store *s;
	unsigned i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		memset(&o, 0, sizeof(o));
		if (cases[i].mesh != NULL)
			o.mesh = pfx(cases[i].mesh);
		if (cases[i].reserved != NULL) {
			o.reserved[0] = ip(cases[i].reserved);
			o.n_reserved = 1;
		}
		s = NULL;
		fresh_path(path, sizeof(path));
		assert_int_equal(bx_store_open_sqlite(path, &o, &s, err,
						      sizeof(err)),
				 -EINVAL);
		assert_null(s);
		assert_contains(err, cases[i].msg);
	}
}

/* ---- join tokens -------------------------------------------------------- */

static void
assert_token_shape(const char *token)
{
	unsigned i;

	assert_int_equal(strlen(token), BX_STORE_TOKEN_LEN);
	for (i = 0; i < BX_STORE_TOKEN_ID_LEN; i++)
		assert_non_null(strchr("0123456789abcdef", token[i]));
	assert_int_equal(token[BX_STORE_TOKEN_ID_LEN], '.');
	for (i = BX_STORE_TOKEN_ID_LEN + 1; i < BX_STORE_TOKEN_LEN; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "abcdefghijklmnopqrstuvwxyz0123456789-_",
				       token[i]));
}

static void
test_token_single_use(void **state)
{
	char path[PATH_MAX], token[BX_STORE_TOKEN_LEN + 1], err[ERR_LEN];
	struct bx_store_token_info info;
	struct bx_store *s;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	make_token(s, 3600, 1, token);
	assert_token_shape(token);

	memset(&info, 0, sizeof(info));
	assert_int_equal(bx_store_token_consume(s, "node:edge-a", token,
						T0 + 1000, &info, err,
						sizeof(err)),
			 0);
	assert_memory_equal(info.id, token, BX_STORE_TOKEN_ID_LEN);
	assert_int_equal(info.uses_total, 1);
	assert_int_equal(info.uses_left, 0);
	assert_true(info.created_ms == T0);
	assert_true(info.expires_ms == T0 + 3600 * 1000);
	assert_int_equal(info.n_tags, 2);
	assert_string_equal(info.tags[0], "role:robot");
	assert_string_equal(info.tags[1], "site:berlin");

	memset(&info, 0x5a, sizeof(info));
	assert_int_equal(bx_store_token_consume(s, "node:edge-b", token,
						T0 + 2000, &info, err,
						sizeof(err)),
			 -EUSERS);
	assert_contains(err, "already used");
	assert_int_equal((uint8_t)info.id[0], 0x5a); /* untouched */
	bx_store_close(s);
}

static void
test_token_three_uses(void **state)
{
	char path[PATH_MAX], token[BX_STORE_TOKEN_LEN + 1], err[ERR_LEN];
	struct bx_store_token_info info;
	struct bx_store *s;
	unsigned i;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	make_token(s, 3600, 3, token);
	for (i = 0; i < 3; i++) {
		assert_int_equal(bx_store_token_consume(s, ACTOR, token, T0,
							&info, err,
							sizeof(err)),
				 0);
		assert_int_equal(info.uses_left, 2 - i);
	}
	assert_int_equal(bx_store_token_consume(s, ACTOR, token, T0, &info,
						err, sizeof(err)),
			 -EUSERS);
	assert_contains(err, "already used");
	bx_store_close(s);
}

static void
test_token_expired(void **state)
{
	char path[PATH_MAX], token[BX_STORE_TOKEN_LEN + 1], err[ERR_LEN];
	struct bx_store *s;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	make_token(s, 60, 2, token);
	/* Valid up to the last millisecond before expires_ms. */
	assert_int_equal(bx_store_token_consume(s, ACTOR, token,
						T0 + 60000 - 1, NULL, err,
						sizeof(err)),
			 0);
	assert_int_equal(bx_store_token_consume(s, ACTOR, token, T0 + 60000,
						NULL, err, sizeof(err)),
			 -EKEYEXPIRED);
	assert_contains(err, "expired at 2023-11-14T22:14:20Z");
	assert_memory_equal(err + strlen("token "), token,
			    BX_STORE_TOKEN_ID_LEN);
	bx_store_close(s);
}

static void
test_token_bad(void **state)
{
	char path[PATH_MAX], token[BX_STORE_TOKEN_LEN + 1], err[ERR_LEN];
	char bad[BX_STORE_TOKEN_LEN + 8];
	struct bx_store *s;
	unsigned i;
	/* Each turns the good token into a bad one. */
	static const char b64url[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	/* Each turns the good token into a bad one. */
	static const struct {
		const char *name;
		int pos;           /* character to replace, -1: none */
		char with;         /* by this, or by alt if that is the same */
		char alt;
		int cut;           /* truncate to this length, -1: no */
		const char *append;
		const char *msg;
	} cases[] = {
		{ "unknown id", 0, '0', '1', -1, "", "token unknown" },
		{ "wrong secret", BX_STORE_TOKEN_LEN - 5, 'x', 'y', -1, "",
		  "token unknown" },
		{ "non-hex id", 3, 'g', 'g', -1, "", "token malformed" },
		{ "uppercase id", 3, 'A', 'A', -1, "", "token malformed" },
		{ "no dot", BX_STORE_TOKEN_ID_LEN, '_', '_', -1, "",
		  "token malformed" },
		{ "not base64url", BX_STORE_TOKEN_LEN - 7, '+', '+', -1, "",
		  "token malformed" },
		{ "truncated", -1, 0, 0, BX_STORE_TOKEN_LEN - 1, "",
		  "token malformed" },
		{ "trailing", -1, 0, 0, -1, "A", "token malformed" },
		{ "empty", -1, 0, 0, 0, "", "token malformed" },
		{ "only id", -1, 0, 0, BX_STORE_TOKEN_ID_LEN, "",
		  "token malformed" },
	};
	const char *last;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	make_token(s, 3600, 1, token);
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		snprintf(bad, sizeof(bad), "%s%s", token, cases[i].append);
		if (cases[i].pos >= 0)
			bad[cases[i].pos] = bad[cases[i].pos] == cases[i].with ?
						    cases[i].alt :
						    cases[i].with;
		if (cases[i].cut >= 0)
			bad[cases[i].cut] = '\0';
		err[0] = '\0';
		if (bx_store_token_consume(s, ACTOR, bad, T0, NULL, err,
					   sizeof(err)) != -ENOENT)
			fail_msg("%s: not refused with -ENOENT (%s)",
				 cases[i].name, err);
		assert_contains(err, cases[i].msg);
	}
	/*
	 * The last of 43 characters holds 4 bits of the secret and 2 zero
	 * bits. The next character of the alphabet keeps the 4 bits and sets
	 * a zero bit: the same secret to a lax decoder, not a token to us.
	 */
	snprintf(bad, sizeof(bad), "%s", token);
	last = strchr(b64url, token[BX_STORE_TOKEN_LEN - 1]);
	assert_non_null(last);
	assert_int_equal((last - b64url) % 4, 0);
	bad[BX_STORE_TOKEN_LEN - 1] = last[1];
	assert_int_equal(bx_store_token_consume(s, ACTOR, bad, T0, NULL, err,
						sizeof(err)),
			 -ENOENT);
	assert_contains(err, "token malformed");
	assert_int_equal(bx_store_token_consume(s, ACTOR, NULL, T0, NULL, err,
						sizeof(err)),
			 -ENOENT);
	/* None of that spent the token. */
	assert_int_equal(bx_store_token_consume(s, ACTOR, token, T0, NULL, err,
						sizeof(err)),
			 0);
	bx_store_close(s);
}

static void
test_token_args(void **state)
{
	static const char *const dup[] = { "a", "a" };
	static const char *const space[] = { "has space" };
	static const char *const empty[] = { "" };
	const char *many[BX_STORE_MAX_TAGS + 1];
	char path[PATH_MAX], token[BX_STORE_TOKEN_LEN + 1], err[ERR_LEN];
	struct bx_store *s;
	unsigned i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(many); i++)
		many[i] = "t";
	s = open_store(fresh_path(path, sizeof(path)));
	assert_int_equal(bx_store_token_create(s, ACTOR, 0, 1, NULL, 0, token,
					       err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "ttl");
	assert_int_equal(bx_store_token_create(s, ACTOR,
					       BX_STORE_TOKEN_TTL_MAX_S + 1, 1,
					       NULL, 0, token, err,
					       sizeof(err)),
			 -EINVAL);
	assert_int_equal(bx_store_token_create(s, ACTOR, 60, 0, NULL, 0, token,
					       err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "uses");
	assert_int_equal(bx_store_token_create(s, ACTOR, 60, 1, dup, 2, token,
					       err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "listed twice");
	assert_int_equal(bx_store_token_create(s, ACTOR, 60, 1, space, 1,
					       token, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(bx_store_token_create(s, ACTOR, 60, 1, empty, 1,
					       token, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(bx_store_token_create(s, ACTOR, 60, 1, many,
					       BX_STORE_MAX_TAGS + 1, token,
					       err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(bx_store_token_create(s, "bad actor", 60, 1, NULL, 0,
					       token, err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "actor");
	/* Nothing was stored or recorded. */
	assert_int_equal(audit_count(s), 0);
	bx_store_close(s);
}

static void
test_token_secret_not_stored(void **state)
{
	char path[PATH_MAX], token[BX_STORE_TOKEN_LEN + 1], hex[65];
	uint8_t secret[BX_STORE_TOKEN_SECRET_BYTES];
	uint8_t hash[BX_STORE_HASH_LEN];
	const char *b64 = token + BX_STORE_TOKEN_ID_LEN + 1;
	char sql[128], stored[80];
	struct bx_store *s;
	size_t len, bin_len;
	uint8_t *db;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	make_token(s, 3600, 1, token);
	bx_store_close(s); /* checkpoints the WAL into the file */

	db = slurp(path, &len);
	/* The scan works: the public id is in the file... */
	assert_true(contains_bytes(db, len, token, BX_STORE_TOKEN_ID_LEN));
	/* ...the secret is not, as text or as bytes. */
	assert_false(contains_bytes(db, len, b64, BX_STORE_TOKEN_SECRET_LEN));
	assert_int_equal(sodium_base642bin(secret, sizeof(secret), b64,
					   BX_STORE_TOKEN_SECRET_LEN, NULL,
					   &bin_len, NULL,
					   sodium_base64_VARIANT_URLSAFE_NO_PADDING),
			 0);
	assert_int_equal(bin_len, sizeof(secret));
	assert_false(contains_bytes(db, len, secret, sizeof(secret)));
	free(db);

	/* What is stored is SHA-256 of the secret bytes. */
	crypto_hash_sha256(hash, secret, sizeof(secret));
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
	snprintf(sql, sizeof(sql),
		 "SELECT lower(hex(secret_sha256)) FROM tokens WHERE id = '%.*s'",
		 (int)BX_STORE_TOKEN_ID_LEN, token);
	raw_text(path, sql, stored, sizeof(stored));
	assert_string_equal(stored, hex);
}

struct token_seen {
	unsigned n;
	char ids[4][BX_STORE_TOKEN_ID_LEN + 1];
	uint32_t uses_left[4];
};

static int
token_cb(const struct bx_store_token_info *t, void *arg)
{
	struct token_seen *seen = arg;

	assert_true(seen->n < 4);
	assert_int_equal(t->n_tags, 2);
	snprintf(seen->ids[seen->n], sizeof(seen->ids[0]), "%s", t->id);
	seen->uses_left[seen->n] = t->uses_left;
	seen->n++;
	return 0;
}

static void
test_token_list_revoke(void **state)
{
	char path[PATH_MAX], a[BX_STORE_TOKEN_LEN + 1];
	char b[BX_STORE_TOKEN_LEN + 1], id_a[BX_STORE_TOKEN_ID_LEN + 1];
	char err[ERR_LEN];
	struct token_seen seen = { 0 };
	struct bx_store *s;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	make_token(s, 3600, 1, a);
	make_token(s, 3600, 5, b);
	assert_int_equal(bx_store_token_list(s, token_cb, &seen, err,
					     sizeof(err)),
			 0);
	assert_int_equal(seen.n, 2);
	/* By id. */
	assert_true(strcmp(seen.ids[0], seen.ids[1]) < 0);
	assert_true((seen.ids[0][0] == a[0] && seen.uses_left[0] == 1) ||
		    (seen.ids[0][0] == b[0] && seen.uses_left[0] == 5));

	snprintf(id_a, sizeof(id_a), "%.*s", (int)BX_STORE_TOKEN_ID_LEN, a);
	assert_int_equal(bx_store_token_revoke(s, "cli:admin", id_a, err,
					       sizeof(err)),
			 0);
	assert_int_equal(bx_store_token_consume(s, ACTOR, a, T0, NULL, err,
						sizeof(err)),
			 -ENOENT);
	assert_int_equal(bx_store_token_revoke(s, "cli:admin", id_a, err,
					       sizeof(err)),
			 -ENOENT);
	assert_int_equal(bx_store_token_revoke(s, "cli:admin", "xyz", err,
					       sizeof(err)),
			 -EINVAL);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(bx_store_token_list(s, token_cb, &seen, err,
					     sizeof(err)),
			 0);
	assert_int_equal(seen.n, 1);
	assert_memory_equal(seen.ids[0], b, BX_STORE_TOKEN_ID_LEN);
	bx_store_close(s);
}

static void
test_token_pruned_after_expiry(void **state)
{
	char path[PATH_MAX], old[BX_STORE_TOKEN_LEN + 1];
	char fresh[BX_STORE_TOKEN_LEN + 1], err[ERR_LEN];
	struct token_seen seen = { 0 };
	struct bx_store *s;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	make_token(s, 60, 1, old);
	/* Kept while it may still be worth saying "expired"... */
	fake_now = T0 + 60000 + BX_STORE_TOKEN_KEEP_EXPIRED_MS;
	make_token(s, 60, 1, fresh);
	assert_int_equal(bx_store_token_list(s, token_cb, &seen, err,
					     sizeof(err)),
			 0);
	assert_int_equal(seen.n, 2);
	/* ...then pruned by the next creation. */
	fake_now++;
	make_token(s, 60, 1, fresh);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(bx_store_token_list(s, token_cb, &seen, err,
					     sizeof(err)),
			 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(bx_store_token_consume(s, ACTOR, old, fake_now, NULL,
						err, sizeof(err)),
			 -ENOENT);
	fake_now = T0;
	bx_store_close(s);
}

/* ---- nodes -------------------------------------------------------------- */

static void
assert_node_equal(const struct bx_store_node *a, const struct bx_store_node *b)
{
	unsigned i;

	assert_string_equal(a->id, b->id);
	assert_memory_equal(a->ed25519_public, b->ed25519_public,
			    BX_STORE_KEY_LEN);
	assert_memory_equal(a->x25519_public, b->x25519_public,
			    BX_STORE_KEY_LEN);
	assert_int_equal(a->n_endpoints, b->n_endpoints);
	for (i = 0; i < a->n_endpoints; i++) {
		assert_int_equal(a->endpoints[i].ip, b->endpoints[i].ip);
		assert_int_equal(a->endpoints[i].port, b->endpoints[i].port);
	}
	assert_int_equal(a->n_allowed, b->n_allowed);
	for (i = 0; i < a->n_allowed; i++) {
		assert_int_equal(a->allowed[i].addr, b->allowed[i].addr);
		assert_int_equal(a->allowed[i].len, b->allowed[i].len);
	}
	assert_int_equal(a->n_tags, b->n_tags);
	for (i = 0; i < a->n_tags; i++)
		assert_string_equal(a->tags[i], b->tags[i]);
	if (a->cert_pem == NULL || b->cert_pem == NULL)
		assert_ptr_equal(a->cert_pem, b->cert_pem);
	else
		assert_string_equal(a->cert_pem, b->cert_pem);
	assert_string_equal(a->cert_serial, b->cert_serial);
	assert_true(a->cert_not_after_ms == b->cert_not_after_ms);
}

struct node_seen {
	unsigned n;
	char ids[8][BX_STORE_ID_MAX + 1];
	uint32_t vips[8];
	bool revoked[8];
	int stop_with;
};

static int
node_cb(const struct bx_store_node *n, void *arg)
{
	struct node_seen *seen = arg;

	assert_true(seen->n < 8);
	snprintf(seen->ids[seen->n], sizeof(seen->ids[0]), "%s", n->id);
	seen->vips[seen->n] = n->virtual_ip;
	seen->revoked[seen->n] = n->revoked_ms != 0;
	seen->n++;
	return seen->stop_with;
}

static void
test_node_add_get_list(void **state)
{
	struct bx_store_node a = node_make("edge-a", 1), b = node_make("gw_1", 2);
	struct bx_store_node *got = NULL;
	struct node_seen seen = { 0 };
	char path[PATH_MAX], err[ERR_LEN];
	struct bx_store *s;
	uint32_t vip = 0;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	a.n_endpoints = 2;
	a.endpoints[1].ip = ip("198.51.100.7");
	a.endpoints[1].port = 51820;
	a.n_allowed = 2;
	a.allowed[1] = pfx("192.168.10.0/24");
	b.cert_pem = NULL; /* signed later */
	b.cert_serial[0] = '\0';
	b.cert_not_after_ms = 0;
	b.n_allowed = 0;
	b.n_tags = 0;
	/* Ignored: the store assigns these. */
	a.virtual_ip = ip("1.2.3.4");
	a.revoked_ms = 99;

	assert_int_equal(bx_store_node_add(s, ACTOR, &a, &vip, err,
					   sizeof(err)),
			 0);
	assert_int_equal(vip, ip("100.64.0.1"));
	fake_now = T0 + 5;
	assert_int_equal(bx_store_node_add(s, ACTOR, &b, &vip, err,
					   sizeof(err)),
			 0);
	assert_int_equal(vip, ip("100.64.0.2"));
	fake_now = T0;

	assert_int_equal(bx_store_node_get(s, "edge-a", &got, err,
					   sizeof(err)),
			 0);
	assert_node_equal(got, &a);
	assert_int_equal(got->virtual_ip, ip("100.64.0.1"));
	assert_true(got->created_ms == T0);
	assert_true(got->revoked_ms == 0);
	assert_true(got->last_seen_ms == 0);
	assert_null(got->metrics_json);
	bx_store_node_free(got);
	got = NULL;
	assert_int_equal(bx_store_node_get(s, "gw_1", &got, err, sizeof(err)),
			 0);
	assert_node_equal(got, &b);
	assert_true(got->created_ms == T0 + 5);
	bx_store_node_free(got);

	got = NULL;
	assert_int_equal(bx_store_node_get(s, "edge-z", &got, err,
					   sizeof(err)),
			 -ENOENT);
	assert_null(got);
	assert_contains(err, "edge-z");

	assert_int_equal(bx_store_node_list(s, node_cb, &seen, err,
					    sizeof(err)),
			 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.ids[0], "edge-a");
	assert_string_equal(seen.ids[1], "gw_1");
	bx_store_node_free(NULL);
	bx_store_close(s);
}

static void
test_node_duplicates(void **state)
{
	static const struct {
		const char *name;
		const char *id;
		bool same_ed;
		bool same_x;
		const char *msg;
	} cases[] = {
		{ "same id", "edge-a", false, false,
		  "node edge-a already exists" },
		{ "same x25519", "edge-b", false, true,
		  "its X25519 key is already node edge-a's" },
		{ "same ed25519", "edge-c", true, false,
		  "its Ed25519 key is already node edge-a's" },
	};
	struct bx_store_node a = node_make("edge-a", 1), n;
	char path[PATH_MAX], err[ERR_LEN];
	struct bx_store *s;
	unsigned i;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	add_node(s, "edge-a", 1);
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		n = node_make(cases[i].id, (uint8_t)(10 + i));
		if (cases[i].same_ed)
			memcpy(n.ed25519_public, a.ed25519_public,
			       BX_STORE_KEY_LEN);
		if (cases[i].same_x)
			memcpy(n.x25519_public, a.x25519_public,
			       BX_STORE_KEY_LEN);
		err[0] = '\0';
		if (bx_store_node_add(s, ACTOR, &n, NULL, err, sizeof(err)) !=
		    -EEXIST)
			fail_msg("%s: not -EEXIST (%s)", cases[i].name, err);
		assert_contains(err, cases[i].msg);
	}
	/* A refused add changed nothing: no version, no record, no address. */
	assert_int_equal(topo_version(s), 1);
	assert_int_equal(audit_count(s), 1);
	assert_int_equal(add_node(s, "edge-d", 20), ip("100.64.0.2"));
	/* A revoked node keeps its keys. */
	assert_int_equal(bx_store_node_revoke(s, ACTOR, "edge-a", err,
					      sizeof(err)),
			 0);
	n = node_make("edge-e", 30);
	memcpy(n.x25519_public, a.x25519_public, BX_STORE_KEY_LEN);
	assert_int_equal(bx_store_node_add(s, ACTOR, &n, NULL, err,
					   sizeof(err)),
			 -EEXIST);
	bx_store_close(s);
}

/* Ways a node can be wrong, each made from a valid one by mutate_node. */
enum bad_node {
	BAD_EMPTY_ID,
	BAD_ID_CHAR,
	BAD_ID_LONG,
	BAD_ZERO_KEY,
	BAD_NO_ENDPOINT,
	BAD_MANY_ENDPOINTS,
	BAD_PORT_ZERO,
	BAD_ENDPOINT_TWICE,
	BAD_HOST_BITS,
	BAD_PREFIX_LEN,
	BAD_PREFIX_TWICE,
	BAD_TAG,
	BAD_NOT_PEM,
	BAD_NO_SERIAL,
	BAD_SERIAL_HEX,
	BAD_NO_NOT_AFTER,
	BAD_SERIAL_NO_CERT,
	BAD_NODE_COUNT
};

static void
mutate_node(struct bx_store_node *n, enum bad_node bad)
{
	switch (bad) {
	case BAD_EMPTY_ID:
		n->id[0] = '\0';
		break;
	case BAD_ID_CHAR:
		snprintf(n->id, sizeof(n->id), "a/b");
		break;
	case BAD_ID_LONG:
		memset(n->id, 'a', sizeof(n->id)); /* no terminator either */
		break;
	case BAD_ZERO_KEY:
		memset(n->x25519_public, 0, BX_STORE_KEY_LEN);
		break;
	case BAD_NO_ENDPOINT:
		n->n_endpoints = 0;
		break;
	case BAD_MANY_ENDPOINTS:
		n->n_endpoints = BX_STORE_MAX_ENDPOINTS + 1;
		break;
	case BAD_PORT_ZERO:
		n->endpoints[0].port = 0;
		break;
	case BAD_ENDPOINT_TWICE:
		n->n_endpoints = 2;
		n->endpoints[1] = n->endpoints[0];
		break;
	case BAD_HOST_BITS:
		n->allowed[0] = pfx("10.1.0.1/16");
		break;
	case BAD_PREFIX_LEN:
		n->allowed[0].len = 0;
		break;
	case BAD_PREFIX_TWICE:
		n->n_allowed = 2;
		n->allowed[1] = n->allowed[0];
		break;
	case BAD_TAG:
		snprintf(n->tags[0], sizeof(n->tags[0]), "a b");
		break;
	case BAD_NOT_PEM:
		n->cert_pem = "MIIB";
		break;
	case BAD_NO_SERIAL:
		n->cert_serial[0] = '\0';
		break;
	case BAD_SERIAL_HEX:
		snprintf(n->cert_serial, sizeof(n->cert_serial), "xyz");
		break;
	case BAD_NO_NOT_AFTER:
		n->cert_not_after_ms = 0;
		break;
	case BAD_SERIAL_NO_CERT:
		n->cert_pem = NULL;
		break;
	case BAD_NODE_COUNT:
		break;
	}
}

static void
test_node_validation(void **state)
{
	static const char *const msg[BAD_NODE_COUNT] = {
		[BAD_EMPTY_ID] = "node id",
		[BAD_ID_CHAR] = "node id \"a/b\"",
		[BAD_ID_LONG] = "node id",
		[BAD_ZERO_KEY] = "all zero",
		[BAD_NO_ENDPOINT] = "0 endpoints",
		[BAD_MANY_ENDPOINTS] = "9 endpoints",
		[BAD_PORT_ZERO] = "endpoints[0]: address and port must be set",
		[BAD_ENDPOINT_TWICE] = "endpoints[1]: listed twice",
		[BAD_HOST_BITS] =
			"allowed_prefixes[0]: 10.1.0.1/16 has host bits set",
		[BAD_PREFIX_LEN] = "allowed_prefixes[0]: length 0",
		[BAD_PREFIX_TWICE] = "allowed_prefixes[1]: listed twice",
		[BAD_TAG] = "tags[0]",
		[BAD_NOT_PEM] = "cert_pem: does not start with",
		[BAD_NO_SERIAL] = "cert_serial",
		[BAD_SERIAL_HEX] = "cert_serial",
		[BAD_NO_NOT_AFTER] = "cert_not_after",
		[BAD_SERIAL_NO_CERT] = "without cert_pem",
	};
	struct bx_store_node n;
	char path[PATH_MAX], err[ERR_LEN];
	struct bx_store *s;
	unsigned i;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	for (i = 0; i < BAD_NODE_COUNT; i++) {
		n = node_make("edge-a", 1);
		mutate_node(&n, (enum bad_node)i);
		err[0] = '\0';
		if (bx_store_node_add(s, ACTOR, &n, NULL, err, sizeof(err)) !=
		    -EINVAL)
			fail_msg("case %u: not -EINVAL (%s)", i, err);
		assert_contains(err, msg[i]);
	}
	assert_int_equal(topo_version(s), 0);
	bx_store_close(s);

	/* Without a mesh prefix there is nothing to allocate from. */
	s = open_opts(fresh_path(path, sizeof(path)), NULL, NULL, 0);
	n = node_make("edge-a", 1);
	assert_int_equal(bx_store_node_add(s, ACTOR, &n, NULL, err,
					   sizeof(err)),
			 -EINVAL);
	assert_contains(err, "without a mesh prefix");
	bx_store_close(s);
}

static void
test_vip_skips_reserved(void **state)
{
	static const char *const reserved[] = { "100.64.0.1", "100.64.0.3",
						NULL };
	char path[PATH_MAX];
	struct bx_store *s;

	(void)state;
	s = open_opts(fresh_path(path, sizeof(path)), "100.64.0.0/24",
		      reserved, 0);
	assert_int_equal(add_node(s, "n1", 1), ip("100.64.0.2"));
	assert_int_equal(add_node(s, "n2", 2), ip("100.64.0.4"));
	assert_int_equal(add_node(s, "n3", 3), ip("100.64.0.5"));
	bx_store_close(s);
}

static void
test_vip_exhaustion(void **state)
{
	static const char *const reserved[] = { "100.64.0.9", NULL };
	static const char *const ids[] = { "n1", "n2", "n3", "n4", "n5" };
	struct bx_store_node n;
	char path[PATH_MAX], err[ERR_LEN];
	struct bx_store *s;
	uint32_t vip = 0;
	unsigned i;

	(void)state;
	/* A /29: hosts .9 to .14, .9 reserved, so five addresses. */
	s = open_opts(fresh_path(path, sizeof(path)), "100.64.0.8/29",
		      reserved, 0);
	for (i = 0; i < BX_ARRAY_SIZE(ids); i++)
		assert_int_equal(ntohl(add_node(s, ids[i], (uint8_t)(i + 1))),
				 ntohl(ip("100.64.0.10")) + i);
	n = node_make("n6", 6);
	assert_int_equal(bx_store_node_add(s, ACTOR, &n, &vip, err,
					   sizeof(err)),
			 -ENOSPC);
	assert_contains(err, "no free virtual IP in 100.64.0.8/29");
	assert_int_equal(vip, 0);

	/* Revoked: its address stays taken while peers may still use it. */
	assert_int_equal(bx_store_node_revoke(s, ACTOR, "n2", err,
					      sizeof(err)),
			 0);
	assert_int_equal(bx_store_node_add(s, ACTOR, &n, &vip, err,
					   sizeof(err)),
			 -ENOSPC);
	/* Purged: the lowest free address is its. */
	assert_int_equal(bx_store_node_purge(s, ACTOR, "n2", err,
					     sizeof(err)),
			 0);
	assert_int_equal(bx_store_node_add(s, ACTOR, &n, &vip, err,
					   sizeof(err)),
			 0);
	assert_int_equal(vip, ip("100.64.0.11"));
	bx_store_close(s);
}

static void
test_node_revoke_purge(void **state)
{
	struct bx_store_endpoint ep = { .ip = 0, .port = 7600 };
	struct bx_store_node *got = NULL;
	char path[PATH_MAX], err[ERR_LEN];
	struct bx_store *s;

	(void)state;
	ep.ip = ip("203.0.113.5");
	s = open_store(fresh_path(path, sizeof(path)));
	add_node(s, "edge-a", 1);
	assert_int_equal(bx_store_node_set_metrics(s, "edge-a", "{\"rx\":1}",
						   err, sizeof(err)),
			 0);
	assert_int_equal(bx_store_node_purge(s, ACTOR, "edge-a", err,
					     sizeof(err)),
			 -EBUSY);
	fake_now = T0 + 1000;
	assert_int_equal(bx_store_node_revoke(s, ACTOR, "edge-a", err,
					      sizeof(err)),
			 0);
	fake_now = T0;
	assert_int_equal(bx_store_node_get(s, "edge-a", &got, err,
					   sizeof(err)),
			 0);
	assert_true(got->revoked_ms == T0 + 1000);
	bx_store_node_free(got);

	assert_int_equal(bx_store_node_revoke(s, ACTOR, "edge-a", err,
					      sizeof(err)),
			 -EALREADY);
	assert_contains(err, "already revoked at 2023-11-14T22:13:21Z");
	assert_int_equal(bx_store_node_set_endpoints(s, "edge-a", &ep, 1, err,
						     sizeof(err)),
			 -EKEYREVOKED);
	assert_int_equal(bx_store_node_touch(s, "edge-a", err, sizeof(err)),
			 -EKEYREVOKED);
	assert_int_equal(bx_store_node_set_metrics(s, "edge-a", "{}", err,
						   sizeof(err)),
			 -EKEYREVOKED);
	assert_int_equal(bx_store_node_set_cert(s, ACTOR, "edge-a", CERT_PEM,
						"01", T0 + 1, err,
						sizeof(err)),
			 -EKEYREVOKED);
	assert_int_equal(bx_store_node_revoke(s, ACTOR, "edge-z", err,
					      sizeof(err)),
			 -ENOENT);

	assert_int_equal(bx_store_node_purge(s, ACTOR, "edge-a", err,
					     sizeof(err)),
			 0);
	assert_int_equal(bx_store_node_get(s, "edge-a", &got, err,
					   sizeof(err)),
			 -ENOENT);
	/* The metrics went with it (foreign key cascade). */
	bx_store_close(s);
	assert_int_equal(raw_int(path, "SELECT count(*) FROM node_metrics"), 0);
	s = open_store(path);
	assert_int_equal(bx_store_node_purge(s, ACTOR, "edge-a", err,
					     sizeof(err)),
			 -ENOENT);
	/* Id and keys are free again. */
	add_node(s, "edge-a", 1);
	bx_store_close(s);
}

static void
test_node_seen_metrics_cert(void **state)
{
	struct bx_store_node *got = NULL;
	char path[PATH_MAX], err[ERR_LEN];
	struct bx_store *s;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	add_node(s, "edge-a", 1);
	fake_now = T0 + 10;
	assert_int_equal(bx_store_node_touch(s, "edge-a", err, sizeof(err)),
			 0);
	fake_now = T0 + 20;
	assert_int_equal(bx_store_node_set_metrics(s, "edge-a",
						   "{\"rx_packets\":42}", err,
						   sizeof(err)),
			 0);
	assert_int_equal(bx_store_node_get(s, "edge-a", &got, err,
					   sizeof(err)),
			 0);
	assert_string_equal(got->metrics_json, "{\"rx_packets\":42}");
	assert_true(got->metrics_ms == T0 + 20);
	assert_true(got->last_seen_ms == T0 + 20);
	bx_store_node_free(got);

	fake_now = T0 + 30;
	assert_int_equal(bx_store_node_set_metrics(s, "edge-a",
						   "{\"rx_packets\":43}", err,
						   sizeof(err)),
			 0);
	assert_int_equal(bx_store_node_set_metrics(s, "edge-a", "[1]", err,
						   sizeof(err)),
			 -EINVAL);
	assert_int_equal(bx_store_node_set_metrics(s, "edge-a", "{\"a\":", err,
						   sizeof(err)),
			 -EINVAL);
	assert_int_equal(bx_store_node_set_metrics(s, "edge-z", "{}", err,
						   sizeof(err)),
			 -ENOENT);
	assert_int_equal(bx_store_node_touch(s, "edge-z", err, sizeof(err)),
			 -ENOENT);

	assert_int_equal(bx_store_node_set_cert(s, ACTOR, "edge-a", CERT_PEM,
						"ff00", T0 + 99, err,
						sizeof(err)),
			 0);
	assert_int_equal(bx_store_node_set_cert(s, ACTOR, "edge-a", NULL,
						"ff00", T0 + 99, err,
						sizeof(err)),
			 -EINVAL);
	got = NULL;
	assert_int_equal(bx_store_node_get(s, "edge-a", &got, err,
					   sizeof(err)),
			 0);
	assert_string_equal(got->metrics_json, "{\"rx_packets\":43}");
	assert_true(got->metrics_ms == T0 + 30);
	assert_string_equal(got->cert_serial, "ff00");
	assert_true(got->cert_not_after_ms == T0 + 99);
	bx_store_node_free(got);
	/* None of these changes the topology. */
	assert_int_equal(topo_version(s), 1);
	fake_now = T0;
	bx_store_close(s);
}

static void
test_callbacks(void **state)
{
	struct node_seen seen = { .stop_with = 42 };
	char path[PATH_MAX], err[ERR_LEN];
	struct bx_store *s;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	add_node(s, "edge-a", 1);
	add_node(s, "edge-b", 2);
	/* A non-zero return stops the walk and comes back. */
	assert_int_equal(bx_store_node_list(s, node_cb, &seen, err,
					    sizeof(err)),
			 42);
	assert_int_equal(seen.n, 1);
	bx_store_close(s);
}

struct reentry {
	struct bx_store *s;
	int rc;
	char err[ERR_LEN];
};

static int
reentry_cb(const struct bx_store_node *n, void *arg)
{
	struct reentry *r = arg;
	uint64_t v;

	(void)n;
	r->rc = bx_store_topology_version(r->s, &v, r->err, sizeof(r->err));
	return 0;
}

static void
test_callback_reentry_refused(void **state)
{
	struct reentry r = { .rc = 1 };
	char path[PATH_MAX], err[ERR_LEN];

	(void)state;
	r.s = open_store(fresh_path(path, sizeof(path)));
	add_node(r.s, "edge-a", 1);
	assert_int_equal(bx_store_node_list(r.s, reentry_cb, &r, err,
					    sizeof(err)),
			 0);
	assert_int_equal(r.rc, -EDEADLK);
	assert_contains(r.err, "own callbacks");
	/* And the store still works afterwards. */
	assert_int_equal(topo_version(r.s), 1);
	bx_store_close(r.s);
}

/* ---- topology ----------------------------------------------------------- */

struct change_seen {
	unsigned n;
	uint64_t version[16];
	enum bx_store_change_op op[16];
	char id[16][BX_STORE_ID_MAX + 1];
};

static int
change_cb(const struct bx_store_change *c, void *arg)
{
	struct change_seen *seen = arg;

	assert_true(seen->n < 16);
	seen->version[seen->n] = c->version;
	seen->op[seen->n] = c->op;
	snprintf(seen->id[seen->n], sizeof(seen->id[0]), "%s", c->node_id);
	seen->n++;
	return 0;
}

static void
test_topology_versions(void **state)
{
	static const struct {
		uint64_t version;
		enum bx_store_change_op op;
		const char *id;
	} want[] = {
		{ 1, BX_STORE_CHANGE_UPSERT, "edge-a" },
		{ 2, BX_STORE_CHANGE_UPSERT, "edge-b" },
		{ 3, BX_STORE_CHANGE_UPSERT, "edge-a" },
		{ 4, BX_STORE_CHANGE_UPSERT, "edge-b" },
		{ 5, BX_STORE_CHANGE_REMOVE, "edge-a" },
	};
	struct bx_store_node a = node_make("edge-a", 1);
	struct bx_store_endpoint ep[2];
	struct bx_store_prefix p[1];
	struct change_seen seen = { 0 };
	char path[PATH_MAX], err[ERR_LEN];
	struct bx_store *s;
	uint64_t v = 0, since;
	unsigned i;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	assert_int_equal(topo_version(s), 0);
	assert_int_equal(bx_store_changes_since(s, 0, change_cb, &seen, &v, err,
						sizeof(err)),
			 0);
	assert_int_equal(seen.n, 0);
	assert_int_equal(v, 0);

	add_node(s, "edge-a", 1);
	add_node(s, "edge-b", 2);
	/* The same endpoints again: no change, no version. */
	assert_int_equal(bx_store_node_set_endpoints(s, "edge-a", a.endpoints,
						     1, err, sizeof(err)),
			 0);
	assert_int_equal(topo_version(s), 2);
	ep[0] = a.endpoints[0];
	ep[1].ip = ip("198.51.100.1");
	ep[1].port = 7601;
	assert_int_equal(bx_store_node_set_endpoints(s, "edge-a", ep, 2, err,
						     sizeof(err)),
			 0);
	p[0] = pfx("172.16.0.0/12");
	assert_int_equal(bx_store_node_set_allowed(s, ACTOR, "edge-b", p, 1,
						   err, sizeof(err)),
			 0);
	assert_int_equal(bx_store_node_set_allowed(s, ACTOR, "edge-b", p, 1,
						   err, sizeof(err)),
			 0);
	assert_int_equal(bx_store_node_revoke(s, ACTOR, "edge-a", err,
					      sizeof(err)),
			 0);
	assert_int_equal(topo_version(s), 5);

	for (since = 0; since <= 5; since++) {
		memset(&seen, 0, sizeof(seen));
		v = 0;
		assert_int_equal(bx_store_changes_since(s, since, change_cb,
							&seen, &v, err,
							sizeof(err)),
				 0);
		assert_int_equal(v, 5);
		assert_int_equal(seen.n, 5 - since);
		for (i = 0; i < seen.n; i++) {
			assert_int_equal(seen.version[i],
					 want[since + i].version);
			assert_int_equal(seen.op[i], want[since + i].op);
			assert_string_equal(seen.id[i], want[since + i].id);
		}
	}
	v = 77;
	assert_int_equal(bx_store_changes_since(s, 6, change_cb, &seen, &v, err,
						sizeof(err)),
			 -ERANGE);
	assert_contains(err, "ahead");
	assert_int_equal(v, 77);

	/* The new values are what nodes get. */
	{
		struct bx_store_node *got = NULL;

		assert_int_equal(bx_store_node_get(s, "edge-b", &got, err,
						   sizeof(err)),
				 0);
		assert_int_equal(got->n_allowed, 1);
		assert_int_equal(got->allowed[0].addr, p[0].addr);
		assert_int_equal(got->allowed[0].len, 12);
		bx_store_node_free(got);
		got = NULL;
		assert_int_equal(bx_store_node_get(s, "edge-a", &got, err,
						   sizeof(err)),
				 0);
		assert_int_equal(got->n_endpoints, 2);
		assert_int_equal(got->endpoints[1].ip, ep[1].ip);
		assert_int_equal(got->endpoints[1].port, 7601);
		bx_store_node_free(got);
	}
	bx_store_close(s);
}

static void
test_change_log_bounded(void **state)
{
	struct bx_store_node a = node_make("edge-a", 1);
	struct change_seen seen = { 0 };
	char path[PATH_MAX], err[ERR_LEN];
	struct bx_store *s;
	uint64_t v = 0;
	unsigned i;

	(void)state;
	s = open_opts(fresh_path(path, sizeof(path)), "100.64.0.0/24", NULL,
		      4);
	add_node(s, "edge-a", 1);
	for (i = 0; i < 5; i++) {
		a.endpoints[0].port = (uint16_t)(8000 + i);
		assert_int_equal(bx_store_node_set_endpoints(s, "edge-a",
							     a.endpoints, 1,
							     err, sizeof(err)),
				 0);
	}
	assert_int_equal(topo_version(s), 6);
	/* Versions 3..6 kept: from 2 on is a diff, before that is not. */
	assert_int_equal(bx_store_changes_since(s, 2, change_cb, &seen, &v, err,
						sizeof(err)),
			 0);
	assert_int_equal(seen.n, 4);
	assert_int_equal(seen.version[0], 3);
	assert_int_equal(v, 6);
	assert_int_equal(bx_store_changes_since(s, 1, change_cb, &seen, &v, err,
						sizeof(err)),
			 -ERANGE);
	assert_contains(err, "older than the change log (oldest change kept: 3)");
	assert_int_equal(bx_store_changes_since(s, 0, change_cb, &seen, &v, err,
						sizeof(err)),
			 -ERANGE);
	bx_store_close(s);
	assert_int_equal(raw_int(path, "SELECT count(*) FROM topology_changes"),
			 4);
}

/* ---- policy ------------------------------------------------------------- */

static void
test_policy_versions(void **state)
{
	char path[PATH_MAX], err[ERR_LEN], *json = NULL;
	struct bx_store *s;
	uint64_t v = 0;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	assert_int_equal(bx_store_policy_get(s, &json, &v, err, sizeof(err)),
			 -ENOENT);
	assert_null(json);
	assert_int_equal(bx_store_policy_set(s, ACTOR, "{\"allow\":[\"a\"]}",
					     &v, err, sizeof(err)),
			 0);
	assert_int_equal(v, 1);
	assert_int_equal(bx_store_policy_set(s, ACTOR, "{\"allow\": []}", &v,
					     err, sizeof(err)),
			 0);
	assert_int_equal(v, 2);
	assert_int_equal(bx_store_policy_set(s, ACTOR, "{\"allow\":", &v, err,
					     sizeof(err)),
			 -EINVAL);
	assert_contains(err, "policy: not JSON");
	assert_int_equal(bx_store_policy_set(s, ACTOR, "[]", &v, err,
					     sizeof(err)),
			 -EINVAL);
	assert_int_equal(bx_store_policy_set(s, ACTOR, "{\"a\":1,\"a\":2}", &v,
					     err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(v, 2);
	v = 0;
	assert_int_equal(bx_store_policy_get(s, &json, &v, err, sizeof(err)),
			 0);
	assert_string_equal(json, "{\"allow\": []}"); /* as given */
	assert_int_equal(v, 2);
	free(json);
	bx_store_close(s);
}

/* ---- audit log ---------------------------------------------------------- */

static void
put_u64(crypto_hash_sha256_state *st, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
	crypto_hash_sha256_update(st, b, 8);
}

/* The record hash as bx_store.h documents it, built here from scratch. */
static void
documented_hash(const struct bx_store_audit_record *r, uint8_t out[32])
{
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)"BXAUDIT1", 8);
	put_u64(&st, r->seq);
	put_u64(&st, (uint64_t)r->time_ms);
	put_u64(&st, r->actor_len);
	crypto_hash_sha256_update(&st, (const uint8_t *)r->actor, r->actor_len);
	put_u64(&st, r->action_len);
	crypto_hash_sha256_update(&st, (const uint8_t *)r->action,
				  r->action_len);
	put_u64(&st, r->detail_len);
	crypto_hash_sha256_update(&st, (const uint8_t *)r->detail,
				  r->detail_len);
	crypto_hash_sha256_update(&st, r->prev_hash, 32);
	crypto_hash_sha256_final(&st, out);
}

static void
test_audit_hash_golden(void **state)
{
	/* From Python's hashlib over the documented encoding. */
	static const char *const want[] = {
		"195a3664fd3f0086a940fa7c96fd9929996f80ba069d20f068e890182d26a9f6",
		"bf5e5861f88aa4088866c2bc056c65f6b2a24fc62d716eca3d09c7b9d5f611f5",
	};
	struct bx_store_audit_record r = {
		.seq = 1,
		.time_ms = T0,
		.actor = "cli:root",
		.actor_len = 8,
		.action = "test.event",
		.action_len = 10,
		.detail = "{\"k\":\"v\"}",
		.detail_len = 9,
	};
	char hex[65];

	(void)state;
	bx_store_audit_hash(&r, r.hash);
	sodium_bin2hex(hex, sizeof(hex), r.hash, 32);
	assert_string_equal(hex, want[0]);

	memcpy(r.prev_hash, r.hash, 32);
	r.seq = 2;
	r.time_ms = -5;
	r.actor = "node:edge-a";
	r.actor_len = 11;
	r.action = "x";
	r.action_len = 1;
	r.detail = "{}";
	r.detail_len = 2;
	bx_store_audit_hash(&r, r.hash);
	sodium_bin2hex(hex, sizeof(hex), r.hash, 32);
	assert_string_equal(hex, want[1]);
}

struct audit_seen {
	unsigned n;
	char action[16][BX_STORE_ACTION_MAX + 1];
	char actor[16][BX_STORE_ACTOR_MAX + 1];
	char detail[16][512];
	uint8_t last_hash[32];
};

static int
audit_cb(const struct bx_store_audit_record *r, void *arg)
{
	struct audit_seen *seen = arg;
	uint8_t h[32];

	assert_true(seen->n < 16);
	documented_hash(r, h);
	assert_memory_equal(h, r->hash, 32);
	snprintf(seen->action[seen->n], sizeof(seen->action[0]), "%.*s",
		 (int)r->action_len, r->action);
	snprintf(seen->actor[seen->n], sizeof(seen->actor[0]), "%.*s",
		 (int)r->actor_len, r->actor);
	snprintf(seen->detail[seen->n], sizeof(seen->detail[0]), "%.*s",
		 (int)r->detail_len, r->detail);
	memcpy(seen->last_hash, r->hash, 32);
	seen->n++;
	return 0;
}

static void
test_audit_written_by_operations(void **state)
{
	static const struct {
		const char *action;
		const char *actor;
		const char *detail; /* a part of it */
	} want[] = {
		{ BX_STORE_AUDIT_TOKEN_CREATE, "cli:admin", "\"uses\":1" },
		{ BX_STORE_AUDIT_TOKEN_CONSUME, "node:edge-a", "\"uses_left\":0" },
		{ BX_STORE_AUDIT_NODE_ADD, "dispatch",
		  "\"virtual_ip\":\"100.64.0.1\"" },
		{ BX_STORE_AUDIT_NODE_ALLOWED, "cli:admin",
		  "\"allowed_prefixes\":[\"10.9.0.0/16\"]" },
		{ BX_STORE_AUDIT_NODE_CERT, "dispatch", "\"cert_serial\":\"beef\"" },
		{ BX_STORE_AUDIT_POLICY_SET, "cli:admin", "\"version\":1" },
		{ "login.failed", "api:alice", "{\"from\":\"192.0.2.1\"}" },
		{ BX_STORE_AUDIT_NODE_REVOKE, "cli:admin", "\"node\":\"edge-a\"" },
		{ BX_STORE_AUDIT_NODE_PURGE, "cli:admin", "\"node\":\"edge-a\"" },
		{ BX_STORE_AUDIT_TOKEN_REVOKE, "cli:admin", "\"token\":" },
	};
	char path[PATH_MAX], err[ERR_LEN], token[BX_STORE_TOKEN_LEN + 1];
	char id[BX_STORE_TOKEN_ID_LEN + 1];
	struct bx_store_node n = node_make("edge-a", 1);
	struct bx_store_prefix p = pfx("10.9.0.0/16");
	struct audit_seen seen = { 0 };
	uint8_t head[32], head2[32];
	struct bx_store *s;
	uint64_t count = 0, seq = 0;
	unsigned i;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	assert_int_equal(bx_store_token_create(s, "cli:admin", 60, 1, NULL, 0,
					       token, err, sizeof(err)),
			 0);
	assert_int_equal(bx_store_token_consume(s, "node:edge-a", token, T0,
						NULL, err, sizeof(err)),
			 0);
	assert_int_equal(bx_store_node_add(s, "dispatch", &n, NULL, err,
					   sizeof(err)),
			 0);
	assert_int_equal(bx_store_node_set_allowed(s, "cli:admin", "edge-a",
						   &p, 1, err, sizeof(err)),
			 0);
	assert_int_equal(bx_store_node_set_cert(s, "dispatch", "edge-a",
						CERT_PEM, "beef", T0 + 1, err,
						sizeof(err)),
			 0);
	assert_int_equal(bx_store_policy_set(s, "cli:admin", "{}", NULL, err,
					     sizeof(err)),
			 0);
	assert_int_equal(bx_store_audit_append(s, "api:alice", "login.failed",
					       "{\"from\":\"192.0.2.1\"}", &seq,
					       err, sizeof(err)),
			 0);
	assert_int_equal(seq, 7);
	assert_int_equal(bx_store_node_revoke(s, "cli:admin", "edge-a", err,
					      sizeof(err)),
			 0);
	assert_int_equal(bx_store_node_purge(s, "cli:admin", "edge-a", err,
					     sizeof(err)),
			 0);
	make_token(s, 60, 1, token);
	snprintf(id, sizeof(id), "%.*s", (int)BX_STORE_TOKEN_ID_LEN, token);
	/* Its own create record comes before; revoke it and drop that one. */
	assert_int_equal(bx_store_token_revoke(s, "cli:admin", id, err,
					       sizeof(err)),
			 0);

	/* Failed operations leave no record. */
	assert_int_equal(bx_store_node_revoke(s, "cli:admin", "edge-a", err,
					      sizeof(err)),
			 -ENOENT);
	assert_int_equal(bx_store_audit_append(s, "api:alice", "Bad Action",
					       NULL, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(bx_store_audit_append(s, "api:alice", "x", "[1]",
					       NULL, err, sizeof(err)),
			 -EINVAL);

	assert_int_equal(bx_store_audit_list(s, 1, audit_cb, &seen, err,
					     sizeof(err)),
			 0);
	assert_int_equal(seen.n, BX_ARRAY_SIZE(want) + 1);
	for (i = 0; i < BX_ARRAY_SIZE(want); i++) {
		/* Record 10 is the second token's creation. */
		unsigned r = i < 9 ? i : i + 1;

		assert_string_equal(seen.action[r], want[i].action);
		assert_string_equal(seen.actor[r], want[i].actor);
		assert_contains(seen.detail[r], want[i].detail);
	}
	assert_string_equal(seen.action[9], BX_STORE_AUDIT_TOKEN_CREATE);
	/* The secret is in no record. */
	for (i = 0; i < seen.n; i++)
		assert_null(strstr(seen.detail[i],
				   token + BX_STORE_TOKEN_ID_LEN + 1));

	assert_int_equal(bx_store_audit_verify(s, &count, head, err,
					       sizeof(err)),
			 0);
	assert_int_equal(count, seen.n);
	assert_memory_equal(head, seen.last_hash, 32);
	assert_int_equal(bx_store_audit_head(s, &seq, head2, err, sizeof(err)),
			 0);
	assert_int_equal(seq, seen.n);
	assert_memory_equal(head2, head, 32);

	/* Listing from a later record. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(bx_store_audit_list(s, 10, audit_cb, &seen, err,
					     sizeof(err)),
			 0);
	assert_int_equal(seen.n, 2);
	bx_store_close(s);
}

static void
test_audit_append_only_trigger(void **state)
{
	char path[PATH_MAX];
	struct bx_store *s;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	assert_int_equal(bx_store_audit_append(s, ACTOR, "a", NULL, NULL, NULL,
					       0),
			 0);
	bx_store_close(s);
	assert_int_equal(raw_exec(path, "UPDATE audit SET actor = 'x'"),
			 SQLITE_CONSTRAINT);
	assert_int_equal(raw_exec(path, "DELETE FROM audit"),
			 SQLITE_CONSTRAINT);
	assert_int_equal(raw_int(path, "SELECT count(*) FROM audit"), 1);
}

/*
 * Gives record 3 a new detail and a correct hash for it, as someone who
 * knows the encoding would: only the link from record 4 gives it away.
 */
static void
tamper_rehash(const char *path)
{
	struct bx_store_audit_record r = { 0 };
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT time_ms, actor, action, prev_hash FROM audit WHERE seq = 3",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	r.seq = 3;
	r.time_ms = sqlite3_column_int64(st, 0);
	r.actor = strdup((const char *)sqlite3_column_text(st, 1));
	r.actor_len = strlen(r.actor);
	r.action = strdup((const char *)sqlite3_column_text(st, 2));
	r.action_len = strlen(r.action);
	memcpy(r.prev_hash, sqlite3_column_blob(st, 3), 32);
	sqlite3_finalize(st);
	r.detail = "{\"n\":9}";
	r.detail_len = strlen(r.detail);
	bx_store_audit_hash(&r, r.hash);

	assert_int_equal(sqlite3_exec(db, "DROP TRIGGER audit_no_update", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "UPDATE audit SET detail = ?1, hash = ?2 WHERE seq = 3",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, r.detail, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, r.hash, 32, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	free((char *)r.actor);
	free((char *)r.action);
}

#define UNLOCK                                                                \
	"DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; "

static void
test_audit_tampering(void **state)
{
	static const struct {
		const char *name;
		const char *sql;          /* or */
		void (*fn)(const char *path);
		const char *msg;
	} cases[] = {
		{ "detail byte", UNLOCK
		  "UPDATE audit SET detail = '{\"n\":8}' WHERE seq = 3", NULL,
		  "audit record 3: hash mismatch" },
		{ "time", UNLOCK
		  "UPDATE audit SET time_ms = time_ms + 1 WHERE seq = 3", NULL,
		  "audit record 3: hash mismatch" },
		{ "actor", UNLOCK
		  "UPDATE audit SET actor = 'cli:tesT' WHERE seq = 2", NULL,
		  "audit record 2: hash mismatch" },
		{ "action", UNLOCK
		  "UPDATE audit SET action = 'evenT' WHERE seq = 5", NULL,
		  "audit record 5: hash mismatch" },
		{ "prev_hash", UNLOCK
		  "UPDATE audit SET prev_hash = zeroblob(32) WHERE seq = 4",
		  NULL, "audit record 4: hash mismatch" },
		{ "hash", UNLOCK
		  "UPDATE audit SET hash = zeroblob(32) WHERE seq = 1", NULL,
		  "audit record 1: hash mismatch" },
		{ "first record's prev_hash", UNLOCK
		  "UPDATE audit SET prev_hash = randomblob(32) WHERE seq = 1",
		  NULL, "audit record 1: hash mismatch" },
		{ "NUL in detail", UNLOCK
		  "UPDATE audit SET detail = CAST(x'7b226e223a337d00' AS TEXT)"
		  " WHERE seq = 3",
		  NULL, "audit record 3: hash mismatch" },
		{ "deleted", UNLOCK "DELETE FROM audit WHERE seq = 3", NULL,
		  "audit log: sequence gap after record 2 (next is 4)" },
		{ "deleted first", UNLOCK "DELETE FROM audit WHERE seq = 1",
		  NULL, "audit log: sequence gap after record 0 (next is 2)" },
		{ "deleted last", UNLOCK "DELETE FROM audit WHERE seq = 5", NULL,
		  "audit log: ends at record 4 but its head is record 5" },
		{ "reordered", UNLOCK
		  "UPDATE audit SET seq = 100 WHERE seq = 3;"
		  "UPDATE audit SET seq = 3 WHERE seq = 4;"
		  "UPDATE audit SET seq = 4 WHERE seq = 100",
		  NULL, "audit record 3: hash mismatch" },
		{ "renumbered after delete", UNLOCK
		  "DELETE FROM audit WHERE seq = 3;"
		  "UPDATE audit SET seq = 3 WHERE seq = 4;"
		  "UPDATE audit SET seq = 4 WHERE seq = 5", NULL,
		  "audit record 3: hash mismatch" },
		{ "rehashed", NULL, tamper_rehash,
		  "audit record 4: prev_hash does not match record 3" },
		{ "head", "UPDATE state SET audit_head = zeroblob(32)", NULL,
		  "audit record 5: hash does not match the stored head" },
	};
	char path[PATH_MAX], err[ERR_LEN], detail[32];
	struct bx_store *s;
	uint64_t n;
	unsigned i, j;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		s = open_store(fresh_path(path, sizeof(path)));
		for (j = 1; j <= 5; j++) {
			snprintf(detail, sizeof(detail), "{\"n\":%u}", j);
			fake_now = T0 + j;
			assert_int_equal(bx_store_audit_append(s, ACTOR, "event",
							       detail, NULL,
							       err,
							       sizeof(err)),
					 0);
		}
		fake_now = T0;
		assert_int_equal(audit_count(s), 5);
		bx_store_close(s);

		if (cases[i].sql != NULL)
			assert_int_equal(raw_exec(path, cases[i].sql),
					 SQLITE_OK);
		else
			cases[i].fn(path);

		s = open_store(path);
		err[0] = '\0';
		n = 99;
		if (bx_store_audit_verify(s, &n, NULL, err, sizeof(err)) !=
		    -EBADMSG)
			fail_msg("%s: not detected (%s)", cases[i].name, err);
		if (strstr(err, cases[i].msg) == NULL)
			fail_msg("%s: \"%s\", expected \"%s\"", cases[i].name,
				 err, cases[i].msg);
		assert_int_equal(n, 99);
		bx_store_close(s);
	}
}

/*
 * Deleting the last record and fixing the stored head is consistent
 * inside the file: only a head published elsewhere catches it.
 */
static void
test_audit_published_head(void **state)
{
	char path[PATH_MAX], err[ERR_LEN];
	uint8_t published[32], now_head[32];
	uint64_t published_seq = 0, n = 0;
	struct bx_store *s;
	unsigned j;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	for (j = 0; j < 3; j++)
		assert_int_equal(bx_store_audit_append(s, ACTOR, "event", NULL,
						       NULL, err, sizeof(err)),
				 0);
	assert_int_equal(bx_store_audit_head(s, &published_seq, published, err,
					     sizeof(err)),
			 0);
	assert_int_equal(published_seq, 3);
	bx_store_close(s);
	assert_int_equal(raw_exec(path, UNLOCK
				  "DELETE FROM audit WHERE seq = 3;"
				  "UPDATE state SET audit_seq = 2, audit_head ="
				  " (SELECT hash FROM audit WHERE seq = 2)"),
			 SQLITE_OK);
	s = open_store(path);
	assert_int_equal(bx_store_audit_verify(s, &n, now_head, err,
					       sizeof(err)),
			 0);
	assert_int_equal(n, 2);
	assert_memory_not_equal(now_head, published, 32);
	bx_store_close(s);
}

/* ---- mesh settings ------------------------------------------------------ */

static struct bx_store_endpoint
ep(const char *addr, uint16_t port)
{
	struct bx_store_endpoint e = { .ip = ip(addr), .port = port };

	return e;
}

static struct bx_store_mesh
mesh_make(void)
{
	struct bx_store_mesh m = {
		.n_stun = 2,
		.stun = { ep("192.0.2.1", 3478), ep("127.0.0.1", 3478) },
		.n_relays = 1,
		.relays = { ep("198.51.100.7", 7000) },
		.relay_key_lifetime_s = 3600,
	};

	return m;
}

static void
assert_mesh_equal(const struct bx_store_mesh *a, const struct bx_store_mesh *b)
{
	assert_int_equal(a->n_stun, b->n_stun);
	assert_memory_equal(a->stun, b->stun, a->n_stun * sizeof(a->stun[0]));
	assert_int_equal(a->n_relays, b->n_relays);
	assert_memory_equal(a->relays, b->relays,
			    a->n_relays * sizeof(a->relays[0]));
	assert_int_equal(a->relay_key_lifetime_s, b->relay_key_lifetime_s);
}

/* Defaults before the first set, versions, the audit record. */
static void
test_mesh_settings(void **state)
{
	struct bx_store_mesh m = mesh_make(), got;
	struct audit_seen seen = { 0 };
	char path[PATH_MAX], err[ERR_LEN] = "";
	struct bx_store *s;
	uint64_t v = 0;

	(void)state;
	fresh_path(path, sizeof(path));
	s = open_store(path);
	memset(&got, 0xa5, sizeof(got));
	assert_int_equal(bx_store_mesh_get(s, &got, err, sizeof(err)), 0);
	assert_int_equal(got.version, 0);
	assert_int_equal(got.set_ms, 0);
	assert_int_equal(got.n_stun, 0);
	assert_int_equal(got.n_relays, 0);
	assert_int_equal(got.relay_key_lifetime_s,
			 BX_STORE_RELAY_KEY_LIFETIME_DEFAULT_S);

	assert_int_equal(bx_store_mesh_set(s, ACTOR, &m, &v, err, sizeof(err)),
			 0);
	assert_int_equal(v, 1);
	fake_now = T0 + 1000;
	m.n_stun = 0;
	m.relays[1] = ep("198.51.100.8", 7000);
	m.n_relays = 2;
	m.relay_key_lifetime_s = BX_STORE_RELAY_KEY_LIFETIME_MAX_S;
	assert_int_equal(bx_store_mesh_set(s, ACTOR, &m, &v, err, sizeof(err)),
			 0);
	assert_int_equal(v, 2);
	fake_now = T0;
	bx_store_close(s);

	/* Kept across a reopen, as set. */
	s = open_store(path);
	assert_int_equal(bx_store_mesh_get(s, &got, err, sizeof(err)), 0);
	assert_mesh_equal(&got, &m);
	assert_int_equal(got.version, 2);
	assert_int_equal(got.set_ms, T0 + 1000);
	assert_int_equal(bx_store_audit_list(s, 1, audit_cb, &seen, err,
					     sizeof(err)),
			 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.action[0], BX_STORE_AUDIT_MESH_SET);
	assert_string_equal(seen.actor[0], ACTOR);
	assert_contains(seen.detail[0],
			"\"stun\":[\"192.0.2.1:3478\",\"127.0.0.1:3478\"]");
	assert_contains(seen.detail[0], "\"version\":1");
	assert_contains(seen.detail[1], "\"stun\":[]");
	assert_contains(seen.detail[1], "\"relays\":[\"198.51.100.7:7000\","
					"\"198.51.100.8:7000\"]");
	assert_contains(seen.detail[1], "\"relay_key_lifetime_s\":2592000");
	assert_contains(seen.detail[1], "\"version\":2");
	assert_int_equal(audit_count(s), 2);
	bx_store_close(s);
}

typedef void (*mesh_spoil_fn)(struct bx_store_mesh *m);

static void
spoil_stun_many(struct bx_store_mesh *m)
{
	unsigned i;

	m->n_stun = BX_STORE_MAX_STUN + 1;
	for (i = 0; i < m->n_stun && i < BX_STORE_MAX_STUN; i++)
		m->stun[i] = ep("192.0.2.1", (uint16_t)(3478 + i));
}

static void
spoil_relays_many(struct bx_store_mesh *m)
{
	m->n_relays = BX_STORE_MAX_RELAYS + 1;
}

static void
spoil_stun_twice(struct bx_store_mesh *m)
{
	m->stun[1] = m->stun[0];
}

static void
spoil_relay_zero(struct bx_store_mesh *m)
{
	m->relays[0].ip = 0;
}

static void
spoil_relay_this_net(struct bx_store_mesh *m)
{
	m->relays[0] = ep("0.1.2.3", 7000);
}

static void
spoil_stun_multicast(struct bx_store_mesh *m)
{
	m->stun[1] = ep("239.1.1.1", 3478);
}

static void
spoil_stun_broadcast(struct bx_store_mesh *m)
{
	m->stun[0] = ep("255.255.255.255", 3478);
}

static void
spoil_relay_port(struct bx_store_mesh *m)
{
	m->relays[0].port = 0;
}

static void
spoil_lifetime_short(struct bx_store_mesh *m)
{
	m->relay_key_lifetime_s = BX_STORE_RELAY_KEY_LIFETIME_MIN_S - 1;
}

static void
spoil_lifetime_long(struct bx_store_mesh *m)
{
	m->relay_key_lifetime_s = BX_STORE_RELAY_KEY_LIFETIME_MAX_S + 1;
}

/* Each spoils one rule; nothing is stored, no record written. */
static void
test_mesh_settings_refused(void **state)
{
	static const struct {
		mesh_spoil_fn spoil;
		const char *msg;
	} bad[] = {
		{ spoil_stun_many, "stun: 9 entries, at most 8" },
		{ spoil_relays_many, "relays: 9 entries, at most 8" },
		{ spoil_stun_twice, "stun[1]: 192.0.2.1:3478 listed twice" },
		{ spoil_relay_zero, "relays[0]: 0.0.0.0:7000 is not a host" },
		{ spoil_relay_this_net, "relays[0]: 0.1.2.3:7000 is not a host" },
		{ spoil_stun_multicast, "stun[1]: 239.1.1.1:3478 is not a unicast" },
		{ spoil_stun_broadcast,
		  "stun[0]: 255.255.255.255:3478 is not a unicast" },
		{ spoil_relay_port, "relays[0]: 198.51.100.7:0: port 0" },
		{ spoil_lifetime_short, "relay_key_lifetime_s: 59, expected" },
		{ spoil_lifetime_long, "relay_key_lifetime_s: 2592001" },
	};
	char path[PATH_MAX], err[ERR_LEN];
	struct bx_store_mesh m, got;
	struct bx_store *s;
	uint64_t v = 99;
	size_t i;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	for (i = 0; i < BX_ARRAY_SIZE(bad); i++) {
		m = mesh_make();
		bad[i].spoil(&m);
		err[0] = '\0';
		assert_int_equal(bx_store_mesh_set(s, ACTOR, &m, &v, err,
						   sizeof(err)),
				 -EINVAL);
		assert_contains(err, bad[i].msg);
	}
	m = mesh_make();
	assert_int_equal(bx_store_mesh_set(s, "bad actor", &m, &v, err,
					   sizeof(err)),
			 -EINVAL);
	assert_int_equal(v, 99);
	assert_int_equal(bx_store_mesh_get(s, &got, err, sizeof(err)), 0);
	assert_int_equal(got.version, 0);
	assert_int_equal(audit_count(s), 0);
	bx_store_close(s);
}

/* A settings row this library did not write is refused, not guessed. */
static void
test_mesh_settings_unreadable(void **state)
{
	static const char *const values[] = {
		"not json",
		"{\"stun\":[],\"relays\":[]}",
		"{\"stun\":[\"1.2.3.4\"],\"relays\":[],\"relay_key_lifetime_s\":3600}",
		"{\"stun\":[],\"relays\":[],\"relay_key_lifetime_s\":1}",
		"{\"stun\":[\"224.0.0.1:3478\"],\"relays\":[],"
		"\"relay_key_lifetime_s\":3600}",
	};
	struct bx_store_mesh m = mesh_make(), got;
	char path[PATH_MAX], err[ERR_LEN], sql[256];
	struct bx_store *s;
	size_t i;

	(void)state;
	fresh_path(path, sizeof(path));
	s = open_store(path);
	assert_int_equal(bx_store_mesh_set(s, ACTOR, &m, NULL, err,
					   sizeof(err)),
			 0);
	bx_store_close(s);
	for (i = 0; i < BX_ARRAY_SIZE(values); i++) {
		snprintf(sql, sizeof(sql),
			 "UPDATE settings SET value = '%s' WHERE name = 'mesh'",
			 values[i]);
		assert_int_equal(raw_exec(path, sql), SQLITE_OK);
		s = open_store(path);
		memset(&got, 0, sizeof(got));
		got.version = 77;
		assert_int_equal(bx_store_mesh_get(s, &got, err, sizeof(err)),
				 -EBADMSG);
		assert_contains(err, "mesh settings unreadable");
		assert_int_equal(got.version, 77);
		bx_store_close(s);
	}
}

/* A database of schema 1 (before the settings) is brought up to date. */
static void
test_schema_1_upgraded(void **state)
{
	struct bx_store_mesh m = mesh_make(), got;
	char path[PATH_MAX], err[ERR_LEN];
	struct bx_store *s;

	(void)state;
	fresh_path(path, sizeof(path));
	s = open_store(path);
	assert_int_equal(add_node(s, "edge-a", 1), ip("100.64.0.1"));
	bx_store_close(s);
	assert_int_equal(raw_exec(path, "DROP TABLE settings; "
					"PRAGMA user_version = 1"),
			 SQLITE_OK);

	s = open_store(path);
	assert_int_equal(raw_int(path, "PRAGMA user_version"),
			 BX_STORE_SCHEMA_VERSION);
	/* The node of schema 1 is still there: the next address is next. */
	assert_int_equal(add_node(s, "edge-b", 2), ip("100.64.0.2"));
	assert_int_equal(bx_store_mesh_set(s, ACTOR, &m, NULL, err,
					   sizeof(err)),
			 0);
	assert_int_equal(bx_store_mesh_get(s, &got, err, sizeof(err)), 0);
	assert_mesh_equal(&got, &m);
	assert_int_equal(audit_count(s), 3);
	bx_store_close(s);
}

/* ---- threads ------------------------------------------------------------ */

#define THREAD_APPENDS 40

static void *
append_thread(void *arg)
{
	struct bx_store *s = arg;
	char err[ERR_LEN];
	unsigned i;

	for (i = 0; i < THREAD_APPENDS; i++)
		if (bx_store_audit_append(s, ACTOR, "event", NULL, NULL, err,
					  sizeof(err)) != 0)
			return (void *)1;
	return NULL;
}

static void
test_threads_share_store(void **state)
{
	char path[PATH_MAX];
	pthread_t t[2];
	struct bx_store *s;
	void *ret;
	unsigned i;

	(void)state;
	s = open_store(fresh_path(path, sizeof(path)));
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, append_thread, s),
				 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
	/* Every append landed once, chained in order. */
	assert_int_equal(audit_count(s), 2 * THREAD_APPENDS);
	bx_store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_creates_schema),
		cmocka_unit_test(test_umask_does_not_widen_mode),
		cmocka_unit_test(test_reopen_keeps_data),
		cmocka_unit_test(test_refused_files),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_token_single_use),
		cmocka_unit_test(test_token_three_uses),
		cmocka_unit_test(test_token_expired),
		cmocka_unit_test(test_token_bad),
		cmocka_unit_test(test_token_args),
		cmocka_unit_test(test_token_secret_not_stored),
		cmocka_unit_test(test_token_list_revoke),
		cmocka_unit_test(test_token_pruned_after_expiry),
		cmocka_unit_test(test_node_add_get_list),
		cmocka_unit_test(test_node_duplicates),
		cmocka_unit_test(test_node_validation),
		cmocka_unit_test(test_vip_skips_reserved),
		cmocka_unit_test(test_vip_exhaustion),
		cmocka_unit_test(test_node_revoke_purge),
		cmocka_unit_test(test_node_seen_metrics_cert),
		cmocka_unit_test(test_callbacks),
		cmocka_unit_test(test_callback_reentry_refused),
		cmocka_unit_test(test_topology_versions),
		cmocka_unit_test(test_change_log_bounded),
		cmocka_unit_test(test_policy_versions),
		cmocka_unit_test(test_audit_hash_golden),
		cmocka_unit_test(test_audit_written_by_operations),
		cmocka_unit_test(test_audit_append_only_trigger),
		cmocka_unit_test(test_audit_tampering),
		cmocka_unit_test(test_audit_published_head),
		cmocka_unit_test(test_mesh_settings),
		cmocka_unit_test(test_mesh_settings_refused),
		cmocka_unit_test(test_mesh_settings_unreadable),
		cmocka_unit_test(test_schema_1_upgraded),
		cmocka_unit_test(test_threads_share_store),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
