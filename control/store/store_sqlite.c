/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQLite back end of the dispatch state store: one database file, WAL
 * journal, schema migrations by PRAGMA user_version, every statement
 * prepared once at open with bound parameters. Lists (endpoints, prefixes,
 * tags) are JSON arrays of strings, readable with the sqlite3 shell. See
 * bx_store.h for the contract of each operation.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "bx_common.h"
#include "bx_store.h"

/* PRAGMA application_id: "BXDS", so another program's file is refused. */
#define APPLICATION_ID 0x42584453
/* "255.255.255.255:65535" */
#define ENDPOINT_STR_LEN (INET_ADDRSTRLEN + 6)
/* "255.255.255.255/32" */
#define PREFIX_STR_LEN (INET_ADDRSTRLEN + 4) /* len printed as up to 3 digits */
/* The longest string in any list column. */
#define LIST_ITEM_MAX BX_STORE_TAG_MAX

/*
 * Schema migrations, in order: step i brings user_version from i to i + 1.
 * Steps are appended, never edited, once released.
 */
static const char *const migrations[] = {
	/* 1: the initial schema. */
	"CREATE TABLE state ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  topology_version INTEGER NOT NULL,"
	"  policy_version INTEGER NOT NULL,"
	"  policy_set_ms INTEGER,"
	"  policy_json TEXT,"
	"  audit_seq INTEGER NOT NULL,"
	"  audit_head BLOB NOT NULL CHECK (length(audit_head) = 32)"
	") STRICT;"
	"INSERT INTO state (id, topology_version, policy_version, audit_seq,"
	"  audit_head) VALUES (1, 0, 0, 0, zeroblob(32));"
	"CREATE TABLE tokens ("
	"  id TEXT PRIMARY KEY,"
	"  secret_sha256 BLOB NOT NULL CHECK (length(secret_sha256) = 32),"
	"  created_ms INTEGER NOT NULL,"
	"  expires_ms INTEGER NOT NULL,"
	"  uses_total INTEGER NOT NULL,"
	"  uses_left INTEGER NOT NULL CHECK (uses_left BETWEEN 0 AND uses_total),"
	"  tags TEXT NOT NULL"
	") STRICT;"
	"CREATE INDEX tokens_by_expiry ON tokens (expires_ms);"
	"CREATE TABLE nodes ("
	"  id TEXT PRIMARY KEY,"
	"  ed25519_public BLOB NOT NULL UNIQUE"
	"    CHECK (length(ed25519_public) = 32),"
	"  x25519_public BLOB NOT NULL UNIQUE CHECK (length(x25519_public) = 32),"
	"  virtual_ip INTEGER NOT NULL UNIQUE"
	"    CHECK (virtual_ip BETWEEN 1 AND 4294967294),"
	"  endpoints TEXT NOT NULL,"
	"  allowed_prefixes TEXT NOT NULL,"
	"  tags TEXT NOT NULL,"
	"  cert_pem TEXT,"
	"  cert_serial TEXT,"
	"  cert_not_after_ms INTEGER,"
	"  created_ms INTEGER NOT NULL,"
	"  revoked_ms INTEGER,"
	"  last_seen_ms INTEGER"
	") STRICT;"
	"CREATE TABLE node_metrics ("
	"  node_id TEXT PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,"
	"  reported_ms INTEGER NOT NULL,"
	"  counters TEXT NOT NULL"
	") STRICT;"
	"CREATE TABLE topology_changes ("
	"  version INTEGER PRIMARY KEY,"
	"  op TEXT NOT NULL CHECK (op IN ('upsert', 'remove')),"
	"  node_id TEXT NOT NULL"
	") STRICT;"
	"CREATE TABLE audit ("
	"  seq INTEGER PRIMARY KEY,"
	"  time_ms INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  detail TEXT NOT NULL,"
	"  prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),"
	"  hash BLOB NOT NULL CHECK (length(hash) = 32)"
	") STRICT;"
	/*
	 * Catches a mistaken edit; a deliberate one (dropping the triggers
	 * first) is what the hash chain catches.
	 */
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
	/* 2: named settings (the mesh settings of NAT traversal). */
	"CREATE TABLE settings ("
	"  name TEXT PRIMARY KEY,"
	"  version INTEGER NOT NULL CHECK (version > 0),"
	"  set_ms INTEGER NOT NULL,"
	"  value TEXT NOT NULL"
	") STRICT;",
};
_Static_assert(BX_ARRAY_SIZE(migrations) == BX_STORE_SCHEMA_VERSION,
	       "one migration step per schema version");

enum st {
	ST_BEGIN_READ,
	ST_BEGIN_WRITE,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_TOKEN_PRUNE,
	ST_TOKEN_COUNT,
	ST_TOKEN_INSERT,
	ST_TOKEN_GET,
	ST_TOKEN_SET_USES,
	ST_TOKEN_DELETE,
	ST_TOKEN_LIST,
	ST_NODE_CONFLICT,
	ST_NODE_INSERT,
	ST_NODE_GET,
	ST_NODE_LIST,
	ST_NODE_UPDATE,
	ST_NODE_SEEN,
	ST_NODE_REVOKED,
	ST_METRICS_PUT,
	ST_NODE_DELETE,
	ST_VIP_LIST,
	ST_TOPO_GET,
	ST_TOPO_SET,
	ST_CHANGE_INSERT,
	ST_CHANGE_PRUNE,
	ST_CHANGE_LIST,
	ST_POLICY_GET,
	ST_POLICY_PUT,
	ST_SETTING_GET,
	ST_SETTING_PUT,
	ST_AUDIT_HEAD,
	ST_AUDIT_INSERT,
	ST_AUDIT_SET_HEAD,
	ST_AUDIT_LIST,
	ST_COUNT
};

#define TOKEN_COLUMNS                                                         \
	"id, secret_sha256, created_ms, expires_ms, uses_total, uses_left, "  \
	"tags FROM tokens"
#define NODE_COLUMNS                                                          \
	"n.id, n.ed25519_public, n.x25519_public, n.virtual_ip, "             \
	"n.endpoints, n.allowed_prefixes, n.tags, n.cert_pem, "               \
	"n.cert_serial, n.cert_not_after_ms, n.created_ms, n.revoked_ms, "    \
	"n.last_seen_ms, m.counters, m.reported_ms "                          \
	"FROM nodes AS n LEFT JOIN node_metrics AS m ON m.node_id = n.id"

static const char *const sql[ST_COUNT] = {
	[ST_BEGIN_READ] = "BEGIN DEFERRED",
	/* Writers take the lock up front: no upgrade deadlock, no BUSY mid-way. */
	[ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_TOKEN_PRUNE] = "DELETE FROM tokens WHERE expires_ms < ?1",
	[ST_TOKEN_COUNT] = "SELECT count(*) FROM tokens",
	[ST_TOKEN_INSERT] =
		"INSERT INTO tokens (id, secret_sha256, created_ms, expires_ms,"
		" uses_total, uses_left, tags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_TOKEN_GET] = "SELECT " TOKEN_COLUMNS " WHERE id = ?1",
	[ST_TOKEN_SET_USES] = "UPDATE tokens SET uses_left = ?2 WHERE id = ?1",
	[ST_TOKEN_DELETE] = "DELETE FROM tokens WHERE id = ?1",
	[ST_TOKEN_LIST] = "SELECT " TOKEN_COLUMNS " ORDER BY id",
	[ST_NODE_CONFLICT] =
		"SELECT id, id = ?1, ed25519_public = ?2 FROM nodes"
		" WHERE id = ?1 OR ed25519_public = ?2 OR x25519_public = ?3"
		" LIMIT 1",
	[ST_NODE_INSERT] =
		"INSERT INTO nodes (id, ed25519_public, x25519_public,"
		" virtual_ip, endpoints, allowed_prefixes, tags, cert_pem,"
		" cert_serial, cert_not_after_ms, created_ms)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[ST_NODE_GET] = "SELECT " NODE_COLUMNS " WHERE n.id = ?1",
	[ST_NODE_LIST] = "SELECT " NODE_COLUMNS " ORDER BY n.virtual_ip",
	[ST_NODE_UPDATE] =
		"UPDATE nodes SET endpoints = ?2, allowed_prefixes = ?3,"
		" cert_pem = ?4, cert_serial = ?5, cert_not_after_ms = ?6,"
		" revoked_ms = ?7 WHERE id = ?1",
	[ST_NODE_SEEN] = "UPDATE nodes SET last_seen_ms = ?2"
			 " WHERE id = ?1 AND revoked_ms IS NULL",
	[ST_NODE_REVOKED] = "SELECT revoked_ms FROM nodes WHERE id = ?1",
	[ST_METRICS_PUT] =
		"INSERT INTO node_metrics (node_id, reported_ms, counters)"
		" VALUES (?1, ?2, ?3) ON CONFLICT (node_id) DO UPDATE SET"
		" reported_ms = excluded.reported_ms, counters = excluded.counters",
	[ST_NODE_DELETE] = "DELETE FROM nodes WHERE id = ?1",
	[ST_VIP_LIST] = "SELECT virtual_ip FROM nodes"
			" WHERE virtual_ip BETWEEN ?1 AND ?2 ORDER BY virtual_ip",
	[ST_TOPO_GET] = "SELECT topology_version,"
			" (SELECT min(version) FROM topology_changes) FROM state",
	[ST_TOPO_SET] = "UPDATE state SET topology_version = ?1",
	[ST_CHANGE_INSERT] = "INSERT INTO topology_changes (version, op, node_id)"
			     " VALUES (?1, ?2, ?3)",
	[ST_CHANGE_PRUNE] = "DELETE FROM topology_changes WHERE version <= ?1",
	[ST_CHANGE_LIST] = "SELECT version, op, node_id FROM topology_changes"
			   " WHERE version > ?1 ORDER BY version",
	[ST_POLICY_GET] = "SELECT policy_version, policy_json FROM state",
	[ST_POLICY_PUT] = "UPDATE state SET policy_version = ?1,"
			  " policy_set_ms = ?2, policy_json = ?3",
	[ST_SETTING_GET] = "SELECT version, set_ms, value FROM settings"
			   " WHERE name = ?1",
	[ST_SETTING_PUT] =
		"INSERT INTO settings (name, version, set_ms, value)"
		" VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET"
		" version = excluded.version, set_ms = excluded.set_ms,"
		" value = excluded.value",
	[ST_AUDIT_HEAD] = "SELECT audit_seq, audit_head FROM state",
	[ST_AUDIT_INSERT] =
		"INSERT INTO audit (seq, time_ms, actor, action, detail,"
		" prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_AUDIT_SET_HEAD] = "UPDATE state SET audit_seq = ?1, audit_head = ?2",
	[ST_AUDIT_LIST] = "SELECT seq, time_ms, actor, action, detail,"
			  " prev_hash, hash FROM audit WHERE seq >= ?1"
			  " ORDER BY seq",
};

struct sqlite_be {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	char path[PATH_MAX];
};

static const char *const change_ops[] = {
	[BX_STORE_CHANGE_UPSERT] = "upsert",
	[BX_STORE_CHANGE_REMOVE] = "remove",
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

static int
errno_of(int sqlite_rc)
{
	switch (sqlite_rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_NOTADB:
		return -EINVAL;
	case SQLITE_CORRUPT:
		return -EBADMSG;
	case SQLITE_TOOBIG:
		return -E2BIG;
	default:
		return -EIO;
	}
}

/* An SQLite error, with the database's message, as -errno. */
static int
db_fail(struct sqlite_be *b, int sqlite_rc, char *err, size_t errlen)
{
	return fail(err, errlen, errno_of(sqlite_rc), "%s: %s", b->path,
		    sqlite3_errmsg(b->db));
}

/* A row this back end cannot have written: the file was edited. */
static int
row_fail(struct sqlite_be *b, char *err, size_t errlen, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return fail(err, errlen, -EBADMSG, "%s: %s", b->path, what);
}

/* Statements are left reset and unbound after every use. */
static void
st_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Steps @st, which must not return a row, and resets it. */
static int
st_exec(struct sqlite_be *b, sqlite3_stmt *st, char *err, size_t errlen)
{
	int rc = sqlite3_step(st);

	rc = rc == SQLITE_DONE ? 0 : db_fail(b, rc, err, errlen);
	st_done(st);
	return rc;
}

/*
 * Steps @st, which returns one row or none: 1 with the row ready to read
 * (reset it with st_done), 0 (already reset) or an error (reset).
 */
static int
st_row(struct sqlite_be *b, sqlite3_stmt *st, char *err, size_t errlen)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	rc = rc == SQLITE_DONE ? 0 : db_fail(b, rc, err, errlen);
	st_done(st);
	return rc;
}

static int
bind_fail(struct sqlite_be *b, sqlite3_stmt *st, int sqlite_rc, char *err,
	  size_t errlen)
{
	int rc = db_fail(b, sqlite_rc, err, errlen);

	st_done(st);
	return rc;
}

static int
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return s == NULL ? sqlite3_bind_null(st, i) :
			   sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* 0 binds NULL: the columns where 0 means "none". */
static int
bind_ms(sqlite3_stmt *st, int i, int64_t ms)
{
	return ms == 0 ? sqlite3_bind_null(st, i) :
			 sqlite3_bind_int64(st, i, ms);
}

static int
bind_blob(sqlite3_stmt *st, int i, const uint8_t *p, size_t len)
{
	return sqlite3_bind_blob(st, i, p, (int)len, SQLITE_STATIC);
}

/* Text of column @i (NULL when SQL NULL) and its length in bytes. */
static const char *
col_text(sqlite3_stmt *st, int i, size_t *len)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	*len = s == NULL ? 0 : (size_t)sqlite3_column_bytes(st, i);
	return s;
}

/* Copies text column @i into @buf (@size bytes) if it fits whole. */
static bool
col_copy(sqlite3_stmt *st, int i, char *buf, size_t size)
{
	size_t len;
	const char *s = col_text(st, i, &len);

	if (s == NULL || len >= size || strlen(s) != len)
		return false;
	memcpy(buf, s, len + 1);
	return true;
}

static bool
col_key(sqlite3_stmt *st, int i, uint8_t *out, size_t len)
{
	const void *p = sqlite3_column_blob(st, i);

	if (p == NULL || (size_t)sqlite3_column_bytes(st, i) != len)
		return false;
	memcpy(out, p, len);
	return true;
}

/* ---- list columns: JSON arrays of strings -------------------------------- */

/* A JSON array of @n strings, malloc'd; NULL when out of memory. */
static char *
list_encode(const char *const items[], unsigned n)
{
	json_t *a = json_array();
	char *text = NULL;
	unsigned i;

	for (i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(items[i])) != 0)
			goto out;
	if (a != NULL)
		text = json_dumps(a, JSON_COMPACT);
out:
	json_decref(a);
	return text;
}

/*
 * Decodes a list column into @n items of at most LIST_ITEM_MAX characters,
 * each handed to @item; false when the text is not such a list.
 */
static bool
list_decode(const char *text, unsigned max, unsigned *n,
	    bool (*item)(const char *s, unsigned i, void *arg), void *arg)
{
	json_t *a = text == NULL ? NULL : json_loads(text, 0, NULL);
	bool ok = json_is_array(a) && json_array_size(a) <= max;
	const char *s;
	size_t i;

	for (i = 0; ok && i < json_array_size(a); i++) {
		s = json_string_value(json_array_get(a, i));
		ok = s != NULL && strlen(s) <= LIST_ITEM_MAX &&
		     item(s, (unsigned)i, arg);
	}
	if (ok)
		*n = (unsigned)json_array_size(a);
	json_decref(a);
	return ok;
}

static char *
endpoints_encode(const struct bx_store_endpoint *eps, unsigned n)
{
	char buf[BX_STORE_MAX_ENDPOINTS][ENDPOINT_STR_LEN];
	const char *items[BX_STORE_MAX_ENDPOINTS];
	char ip[INET_ADDRSTRLEN];
	struct in_addr a;
	unsigned i;

	for (i = 0; i < n; i++) {
		a.s_addr = eps[i].ip;
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		snprintf(buf[i], sizeof(buf[i]), "%s:%u", ip, eps[i].port);
		items[i] = buf[i];
	}
	return list_encode(items, n);
}

/* "a.b.c.d" then @sep then a decimal in [@min, @max]. */
static bool
parse_addr_num(const char *s, char sep, unsigned long min, unsigned long max,
	       uint32_t *addr, unsigned long *num)
{
	char ip[INET_ADDRSTRLEN];
	const char *p = strchr(s, sep);
	struct in_addr a;
	char *end;

	if (p == NULL || (size_t)(p - s) >= sizeof(ip) || p[1] < '0' ||
	    p[1] > '9')
		return false;
	memcpy(ip, s, (size_t)(p - s));
	ip[p - s] = '\0';
	if (inet_pton(AF_INET, ip, &a) != 1)
		return false;
	errno = 0;
	*num = strtoul(p + 1, &end, 10);
	if (errno != 0 || *end != '\0' || *num < min || *num > max)
		return false;
	*addr = a.s_addr;
	return true;
}

static bool
endpoint_item(const char *s, unsigned i, void *arg)
{
	struct bx_store_endpoint *eps = arg;
	unsigned long port;

	if (!parse_addr_num(s, ':', 1, UINT16_MAX, &eps[i].ip, &port))
		return false;
	eps[i].port = (uint16_t)port;
	return true;
}

static char *
prefixes_encode(const struct bx_store_prefix *p, unsigned n)
{
	char buf[BX_STORE_MAX_PREFIXES][PREFIX_STR_LEN];
	const char *items[BX_STORE_MAX_PREFIXES];
	char ip[INET_ADDRSTRLEN];
	struct in_addr a;
	unsigned i;

	for (i = 0; i < n; i++) {
		a.s_addr = p[i].addr;
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		snprintf(buf[i], sizeof(buf[i]), "%s/%u", ip, p[i].len);
		items[i] = buf[i];
	}
	return list_encode(items, n);
}

static bool
prefix_item(const char *s, unsigned i, void *arg)
{
	struct bx_store_prefix *p = arg;
	unsigned long len;

	if (!parse_addr_num(s, '/', 1, 32, &p[i].addr, &len))
		return false;
	p[i].len = (uint8_t)len;
	return true;
}

typedef char tag_t[BX_STORE_TAG_MAX + 1];

static char *
tags_encode(const tag_t tags[], unsigned n)
{
	const char *items[BX_STORE_MAX_TAGS];
	unsigned i;

	for (i = 0; i < n; i++)
		items[i] = tags[i];
	return list_encode(items, n);
}

static bool
tag_item(const char *s, unsigned i, void *arg)
{
	tag_t *tags = arg;

	snprintf(tags[i], sizeof(tags[i]), "%s", s);
	return s[0] != '\0';
}

/* ---- transactions ------------------------------------------------------- */

static int
be_begin(void *be, bool write, char *err, size_t errlen)
{
	struct sqlite_be *b = be;

	return st_exec(b, b->st[write ? ST_BEGIN_WRITE : ST_BEGIN_READ], err,
		       errlen);
}

static int
be_commit(void *be, char *err, size_t errlen)
{
	struct sqlite_be *b = be;

	return st_exec(b, b->st[ST_COMMIT], err, errlen);
}

static void
be_rollback(void *be)
{
	struct sqlite_be *b = be;

	/* Fails only when SQLite already rolled back by itself. */
	if (sqlite3_get_autocommit(b->db) == 0)
		st_exec(b, b->st[ST_ROLLBACK], NULL, 0);
}

/* ---- tokens ------------------------------------------------------------- */

static int
token_row(struct sqlite_be *b, sqlite3_stmt *st,
	  struct bx_store_token_info *t, uint8_t hash[BX_STORE_HASH_LEN],
	  char *err, size_t errlen)
{
	int64_t total = sqlite3_column_int64(st, 4);
	int64_t left = sqlite3_column_int64(st, 5);
	size_t len;

	memset(t, 0, sizeof(*t));
	if (!col_copy(st, 0, t->id, sizeof(t->id)))
		return row_fail(b, err, errlen, "tokens: unreadable id");
	if (!col_key(st, 1, hash, BX_STORE_HASH_LEN) || total < 0 ||
	    total > UINT32_MAX || left < 0 || left > total ||
	    !list_decode(col_text(st, 6, &len), BX_STORE_MAX_TAGS, &t->n_tags,
			 tag_item, t->tags))
		return row_fail(b, err, errlen, "token %s: unreadable row",
				t->id);
	t->created_ms = sqlite3_column_int64(st, 2);
	t->expires_ms = sqlite3_column_int64(st, 3);
	t->uses_total = (uint32_t)total;
	t->uses_left = (uint32_t)left;
	return 0;
}

static int
be_token_insert(void *be, const struct bx_store_token_info *t,
		const uint8_t secret_sha256[BX_STORE_HASH_LEN],
		int64_t prune_before_ms, uint32_t max_tokens, char *err,
		size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_TOKEN_PRUNE];
	char *tags = NULL;
	int64_t count;
	int rc;

	rc = sqlite3_bind_int64(st, 1, prune_before_ms);
	if (rc != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	rc = st_exec(b, st, err, errlen);
	if (rc != 0)
		return rc;
	st = b->st[ST_TOKEN_COUNT];
	rc = st_row(b, st, err, errlen);
	if (rc < 0)
		return rc;
	count = rc == 1 ? sqlite3_column_int64(st, 0) : 0;
	st_done(st);
	if (count >= max_tokens)
		return fail(err, errlen, -ENOSPC,
			    "%s: %" PRId64 " tokens stored, at most %" PRIu32
			    ": revoke unused ones",
			    b->path, count, max_tokens);

	tags = tags_encode(t->tags, t->n_tags);
	if (tags == NULL)
		return fail(err, errlen, -ENOMEM, "out of memory");
	st = b->st[ST_TOKEN_INSERT];
	if ((rc = bind_text(st, 1, t->id)) != SQLITE_OK ||
	    (rc = bind_blob(st, 2, secret_sha256, BX_STORE_HASH_LEN)) !=
		    SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 3, t->created_ms)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 4, t->expires_ms)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 5, t->uses_total)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 6, t->uses_left)) != SQLITE_OK ||
	    (rc = bind_text(st, 7, tags)) != SQLITE_OK)
		rc = bind_fail(b, st, rc, err, errlen);
	else
		rc = st_exec(b, st, err, errlen);
	free(tags);
	return rc;
}

static int
be_token_get(void *be, const char *id, struct bx_store_token_info *t,
	     uint8_t secret_sha256[BX_STORE_HASH_LEN], char *err,
	     size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_TOKEN_GET];
	int rc = bind_text(st, 1, id);

	if (rc != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	rc = st_row(b, st, err, errlen);
	if (rc == 0)
		return fail(err, errlen, -ENOENT, "token %s unknown", id);
	if (rc < 0)
		return rc;
	rc = token_row(b, st, t, secret_sha256, err, errlen);
	st_done(st);
	return rc;
}

static int
be_token_set_uses(void *be, const char *id, uint32_t uses_left, char *err,
		  size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_TOKEN_SET_USES];
	int rc;

	if ((rc = bind_text(st, 1, id)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 2, uses_left)) != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	rc = st_exec(b, st, err, errlen);
	if (rc == 0 && sqlite3_changes(b->db) == 0)
		rc = fail(err, errlen, -ENOENT, "token %s unknown", id);
	return rc;
}

static int
be_token_delete(void *be, const char *id, char *err, size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_TOKEN_DELETE];
	int rc = bind_text(st, 1, id);

	if (rc != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	rc = st_exec(b, st, err, errlen);
	if (rc == 0 && sqlite3_changes(b->db) == 0)
		rc = fail(err, errlen, -ENOENT, "token %s unknown", id);
	return rc;
}

static int
be_token_list(void *be, bx_store_token_cb cb, void *arg, char *err,
	      size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_TOKEN_LIST];
	uint8_t hash[BX_STORE_HASH_LEN];
	struct bx_store_token_info t;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = token_row(b, st, &t, hash, err, errlen);
		if (rc == 0)
			rc = cb(&t, arg);
		if (rc != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : db_fail(b, rc, err, errlen);
out:
	st_done(st);
	return rc;
}

/* ---- nodes -------------------------------------------------------------- */

/*
 * Reads the node in the current row of @st into @n; cert_pem and
 * metrics_json point into the row (valid until the next step).
 */
static int
node_row(struct sqlite_be *b, sqlite3_stmt *st, struct bx_store_node *n,
	 char *err, size_t errlen)
{
	int64_t vip = sqlite3_column_int64(st, 3);
	size_t len;

	memset(n, 0, sizeof(*n));
	if (!col_copy(st, 0, n->id, sizeof(n->id)))
		return row_fail(b, err, errlen, "nodes: unreadable id");
	if (!col_key(st, 1, n->ed25519_public, BX_STORE_KEY_LEN) ||
	    !col_key(st, 2, n->x25519_public, BX_STORE_KEY_LEN) || vip <= 0 ||
	    vip > UINT32_MAX)
		return row_fail(b, err, errlen, "node %s: unreadable keys or virtual IP",
				n->id);
	n->virtual_ip = htonl((uint32_t)vip);
	if (!list_decode(col_text(st, 4, &len), BX_STORE_MAX_ENDPOINTS,
			 &n->n_endpoints, endpoint_item, n->endpoints) ||
	    !list_decode(col_text(st, 5, &len), BX_STORE_MAX_PREFIXES,
			 &n->n_allowed, prefix_item, n->allowed) ||
	    !list_decode(col_text(st, 6, &len), BX_STORE_MAX_TAGS, &n->n_tags,
			 tag_item, n->tags))
		return row_fail(b, err, errlen, "node %s: unreadable lists",
				n->id);
	n->cert_pem = col_text(st, 7, &len);
	if (sqlite3_column_type(st, 8) != SQLITE_NULL &&
	    !col_copy(st, 8, n->cert_serial, sizeof(n->cert_serial)))
		return row_fail(b, err, errlen, "node %s: unreadable cert_serial",
				n->id);
	n->cert_not_after_ms = sqlite3_column_int64(st, 9);
	n->created_ms = sqlite3_column_int64(st, 10);
	n->revoked_ms = sqlite3_column_int64(st, 11);
	n->last_seen_ms = sqlite3_column_int64(st, 12);
	n->metrics_json = col_text(st, 13, &len);
	n->metrics_ms = sqlite3_column_int64(st, 14);
	return 0;
}

/* A copy of @n in one allocation, its strings behind it. */
static struct bx_store_node *
node_dup(const struct bx_store_node *n)
{
	size_t pem = n->cert_pem != NULL ? strlen(n->cert_pem) + 1 : 0;
	size_t met = n->metrics_json != NULL ? strlen(n->metrics_json) + 1 : 0;
	struct bx_store_node *c = malloc(sizeof(*c) + pem + met);
	char *tail;

	if (c == NULL)
		return NULL;
	*c = *n;
	tail = (char *)(c + 1);
	if (pem > 0) {
		memcpy(tail, n->cert_pem, pem);
		c->cert_pem = tail;
	}
	if (met > 0) {
		memcpy(tail + pem, n->metrics_json, met);
		c->metrics_json = tail + pem;
	}
	return c;
}

/* -EEXIST naming the node that already has @n's id or one of its keys. */
static int
node_conflict(struct sqlite_be *b, const struct bx_store_node *n, char *err,
	      size_t errlen)
{
	sqlite3_stmt *st = b->st[ST_NODE_CONFLICT];
	char other[BX_STORE_ID_MAX + 1] = "?";
	const char *what;
	int rc;

	if ((rc = bind_text(st, 1, n->id)) != SQLITE_OK ||
	    (rc = bind_blob(st, 2, n->ed25519_public, BX_STORE_KEY_LEN)) !=
		    SQLITE_OK ||
	    (rc = bind_blob(st, 3, n->x25519_public, BX_STORE_KEY_LEN)) !=
		    SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	rc = st_row(b, st, err, errlen);
	if (rc <= 0)
		return rc;
	col_copy(st, 0, other, sizeof(other));
	what = sqlite3_column_int(st, 1) ? "id" :
	       sqlite3_column_int(st, 2) ? "Ed25519 key" :
					   "X25519 key";
	st_done(st);
	if (strcmp(what, "id") == 0)
		return fail(err, errlen, -EEXIST, "node %s already exists",
			    n->id);
	return fail(err, errlen, -EEXIST,
		    "node %s: its %s is already node %s's", n->id, what,
		    other);
}

static int
be_node_insert(void *be, const struct bx_store_node *n, char *err,
	       size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_NODE_INSERT];
	char *eps, *allowed, *tags;
	int rc;

	rc = node_conflict(b, n, err, errlen);
	if (rc != 0)
		return rc;
	eps = endpoints_encode(n->endpoints, n->n_endpoints);
	allowed = prefixes_encode(n->allowed, n->n_allowed);
	tags = tags_encode(n->tags, n->n_tags);
	if (eps == NULL || allowed == NULL || tags == NULL) {
		rc = fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = bind_text(st, 1, n->id)) != SQLITE_OK ||
	    (rc = bind_blob(st, 2, n->ed25519_public, BX_STORE_KEY_LEN)) !=
		    SQLITE_OK ||
	    (rc = bind_blob(st, 3, n->x25519_public, BX_STORE_KEY_LEN)) !=
		    SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 4, ntohl(n->virtual_ip))) !=
		    SQLITE_OK ||
	    (rc = bind_text(st, 5, eps)) != SQLITE_OK ||
	    (rc = bind_text(st, 6, allowed)) != SQLITE_OK ||
	    (rc = bind_text(st, 7, tags)) != SQLITE_OK ||
	    (rc = bind_text(st, 8, n->cert_pem)) != SQLITE_OK ||
	    (rc = bind_text(st, 9, n->cert_pem != NULL ? n->cert_serial :
							 NULL)) != SQLITE_OK ||
	    (rc = bind_ms(st, 10, n->cert_not_after_ms)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 11, n->created_ms)) != SQLITE_OK)
		rc = bind_fail(b, st, rc, err, errlen);
	else
		rc = st_exec(b, st, err, errlen);
out:
	free(eps);
	free(allowed);
	free(tags);
	return rc;
}

static int
be_node_get(void *be, const char *id, struct bx_store_node **out, char *err,
	    size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_NODE_GET];
	struct bx_store_node n, *c;
	int rc = bind_text(st, 1, id);

	if (rc != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	rc = st_row(b, st, err, errlen);
	if (rc == 0)
		return fail(err, errlen, -ENOENT, "node %s unknown", id);
	if (rc < 0)
		return rc;
	rc = node_row(b, st, &n, err, errlen);
	if (rc == 0) {
		c = node_dup(&n);
		if (c == NULL)
			rc = fail(err, errlen, -ENOMEM, "out of memory");
		else
			*out = c;
	}
	st_done(st);
	return rc;
}

static int
be_node_list(void *be, bx_store_node_cb cb, void *arg, char *err,
	     size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_NODE_LIST];
	struct bx_store_node n;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = node_row(b, st, &n, err, errlen);
		if (rc == 0)
			rc = cb(&n, arg);
		if (rc != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : db_fail(b, rc, err, errlen);
out:
	st_done(st);
	return rc;
}

static int
be_node_update(void *be, const struct bx_store_node *n, char *err,
	       size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_NODE_UPDATE];
	char *eps, *allowed;
	int rc;

	eps = endpoints_encode(n->endpoints, n->n_endpoints);
	allowed = prefixes_encode(n->allowed, n->n_allowed);
	if (eps == NULL || allowed == NULL) {
		rc = fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = bind_text(st, 1, n->id)) != SQLITE_OK ||
	    (rc = bind_text(st, 2, eps)) != SQLITE_OK ||
	    (rc = bind_text(st, 3, allowed)) != SQLITE_OK ||
	    (rc = bind_text(st, 4, n->cert_pem)) != SQLITE_OK ||
	    (rc = bind_text(st, 5, n->cert_pem != NULL ? n->cert_serial :
							 NULL)) != SQLITE_OK ||
	    (rc = bind_ms(st, 6, n->cert_not_after_ms)) != SQLITE_OK ||
	    (rc = bind_ms(st, 7, n->revoked_ms)) != SQLITE_OK) {
		rc = bind_fail(b, st, rc, err, errlen);
		goto out;
	}
	rc = st_exec(b, st, err, errlen);
	if (rc == 0 && sqlite3_changes(b->db) == 0)
		rc = fail(err, errlen, -ENOENT, "node %s unknown", n->id);
out:
	free(eps);
	free(allowed);
	return rc;
}

static int
be_node_seen(void *be, const char *id, int64_t now_ms, const char *metrics,
	     char *err, size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_NODE_SEEN];
	int rc;

	if ((rc = bind_text(st, 1, id)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 2, now_ms)) != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	rc = st_exec(b, st, err, errlen);
	if (rc != 0)
		return rc;
	if (sqlite3_changes(b->db) == 0) {
		/* Unknown or revoked: tell which. */
		st = b->st[ST_NODE_REVOKED];
		rc = bind_text(st, 1, id);
		if (rc != SQLITE_OK)
			return bind_fail(b, st, rc, err, errlen);
		rc = st_row(b, st, err, errlen);
		if (rc == 1)
			st_done(st);
		if (rc == 0)
			return fail(err, errlen, -ENOENT, "node %s unknown",
				    id);
		if (rc == 1)
			return fail(err, errlen, -EKEYREVOKED,
				    "node %s is revoked", id);
		return rc;
	}
	if (metrics == NULL)
		return 0;
	st = b->st[ST_METRICS_PUT];
	if ((rc = bind_text(st, 1, id)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 2, now_ms)) != SQLITE_OK ||
	    (rc = bind_text(st, 3, metrics)) != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	return st_exec(b, st, err, errlen);
}

static int
be_node_delete(void *be, const char *id, char *err, size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_NODE_DELETE];
	int rc = bind_text(st, 1, id);

	if (rc != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	rc = st_exec(b, st, err, errlen);
	if (rc == 0 && sqlite3_changes(b->db) == 0)
		rc = fail(err, errlen, -ENOENT, "node %s unknown", id);
	return rc;
}

static int
be_vip_list(void *be, uint32_t first, uint32_t last,
	    int (*cb)(uint32_t vip, void *arg), void *arg, char *err,
	    size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_VIP_LIST];
	int rc;

	if ((rc = sqlite3_bind_int64(st, 1, first)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 2, last)) != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* BETWEEN bounds it to [first, last]: it fits. */
		rc = cb((uint32_t)sqlite3_column_int64(st, 0), arg);
		if (rc != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : db_fail(b, rc, err, errlen);
out:
	st_done(st);
	return rc;
}

/* ---- topology ----------------------------------------------------------- */

static int
be_topology_get(void *be, uint64_t *version, uint64_t *oldest, char *err,
		size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_TOPO_GET];
	int64_t v, o;
	int rc = st_row(b, st, err, errlen);

	if (rc == 0)
		return row_fail(b, err, errlen, "state row missing");
	if (rc < 0)
		return rc;
	v = sqlite3_column_int64(st, 0);
	o = sqlite3_column_int64(st, 1);
	st_done(st);
	if (v < 0 || o < 0 || o > v)
		return row_fail(b, err, errlen, "topology version unreadable");
	*version = (uint64_t)v;
	*oldest = (uint64_t)o;
	return 0;
}

static int
be_topology_bump(void *be, enum bx_store_change_op op, const char *node_id,
		 uint32_t keep, uint64_t *version, char *err, size_t errlen)
{
	struct sqlite_be *b = be;
	uint64_t v, oldest;
	sqlite3_stmt *st;
	int rc;

	rc = be_topology_get(b, &v, &oldest, err, errlen);
	if (rc != 0)
		return rc;
	if (v >= INT64_MAX)
		return fail(err, errlen, -EOVERFLOW,
			    "%s: topology version at its maximum", b->path);
	v++;
	st = b->st[ST_TOPO_SET];
	rc = sqlite3_bind_int64(st, 1, (int64_t)v);
	if (rc != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	rc = st_exec(b, st, err, errlen);
	if (rc != 0)
		return rc;
	st = b->st[ST_CHANGE_INSERT];
	if ((rc = sqlite3_bind_int64(st, 1, (int64_t)v)) != SQLITE_OK ||
	    (rc = bind_text(st, 2, change_ops[op])) != SQLITE_OK ||
	    (rc = bind_text(st, 3, node_id)) != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	rc = st_exec(b, st, err, errlen);
	if (rc != 0)
		return rc;
	if (v > keep) {
		st = b->st[ST_CHANGE_PRUNE];
		rc = sqlite3_bind_int64(st, 1, (int64_t)(v - keep));
		if (rc != SQLITE_OK)
			return bind_fail(b, st, rc, err, errlen);
		rc = st_exec(b, st, err, errlen);
		if (rc != 0)
			return rc;
	}
	*version = v;
	return 0;
}

static int
be_topology_changes(void *be, uint64_t since, bx_store_change_cb cb,
		    void *arg, char *err, size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_CHANGE_LIST];
	struct bx_store_change c;
	const char *op;
	size_t len;
	int rc;

	rc = sqlite3_bind_int64(st, 1, since > INT64_MAX ? INT64_MAX :
							   (int64_t)since);
	if (rc != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		c.version = (uint64_t)sqlite3_column_int64(st, 0);
		op = col_text(st, 1, &len);
		c.node_id = col_text(st, 2, &len);
		if (op != NULL && strcmp(op, change_ops[BX_STORE_CHANGE_UPSERT]) == 0)
			c.op = BX_STORE_CHANGE_UPSERT;
		else if (op != NULL &&
			 strcmp(op, change_ops[BX_STORE_CHANGE_REMOVE]) == 0)
			c.op = BX_STORE_CHANGE_REMOVE;
		else
			op = NULL;
		if (op == NULL || c.node_id == NULL) {
			rc = row_fail(b, err, errlen,
				      "topology change %" PRIu64 " unreadable",
				      c.version);
			goto out;
		}
		rc = cb(&c, arg);
		if (rc != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : db_fail(b, rc, err, errlen);
out:
	st_done(st);
	return rc;
}

/* ---- policy ------------------------------------------------------------- */

static int
be_policy_get(void *be, char **json, uint64_t *version, char *err,
	      size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_POLICY_GET];
	const char *text;
	int64_t v;
	size_t len;
	char *copy = NULL;
	int rc = st_row(b, st, err, errlen);

	if (rc == 0)
		return row_fail(b, err, errlen, "state row missing");
	if (rc < 0)
		return rc;
	v = sqlite3_column_int64(st, 0);
	text = col_text(st, 1, &len);
	rc = 0;
	if (v == 0) {
		rc = fail(err, errlen, -ENOENT, "no policy set");
	} else if (v < 0 || text == NULL) {
		rc = row_fail(b, err, errlen, "policy unreadable");
	} else if (json != NULL) {
		copy = strdup(text);
		if (copy == NULL)
			rc = fail(err, errlen, -ENOMEM, "out of memory");
	}
	st_done(st);
	if (rc != 0)
		return rc;
	if (json != NULL)
		*json = copy;
	*version = (uint64_t)v;
	return 0;
}

static int
be_policy_put(void *be, uint64_t version, int64_t set_ms, const char *json,
	      char *err, size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_POLICY_PUT];
	int rc;

	if ((rc = sqlite3_bind_int64(st, 1, (int64_t)version)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 2, set_ms)) != SQLITE_OK ||
	    (rc = bind_text(st, 3, json)) != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	return st_exec(b, st, err, errlen);
}

/* ---- settings ----------------------------------------------------------- */

static int
be_setting_get(void *be, const char *name, char **value, uint64_t *version,
	       int64_t *set_ms, char *err, size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_SETTING_GET];
	const char *text;
	char *copy = NULL;
	int64_t v, when;
	size_t len;
	int rc = bind_text(st, 1, name);

	if (rc != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	rc = st_row(b, st, err, errlen);
	if (rc == 0)
		return fail(err, errlen, -ENOENT, "setting %s: never set", name);
	if (rc < 0)
		return rc;
	v = sqlite3_column_int64(st, 0);
	when = sqlite3_column_int64(st, 1);
	text = col_text(st, 2, &len);
	rc = 0;
	if (v <= 0 || text == NULL || strlen(text) != len) {
		rc = row_fail(b, err, errlen, "setting %s unreadable", name);
	} else if (value != NULL) {
		copy = strdup(text);
		if (copy == NULL)
			rc = fail(err, errlen, -ENOMEM, "out of memory");
	}
	st_done(st);
	if (rc != 0)
		return rc;
	if (value != NULL)
		*value = copy;
	*version = (uint64_t)v;
	*set_ms = when;
	return 0;
}

static int
be_setting_put(void *be, const char *name, const char *value,
	       uint64_t version, int64_t set_ms, char *err, size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_SETTING_PUT];
	int rc;

	if ((rc = bind_text(st, 1, name)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 2, (int64_t)version)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 3, set_ms)) != SQLITE_OK ||
	    (rc = bind_text(st, 4, value)) != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	return st_exec(b, st, err, errlen);
}

/* ---- audit -------------------------------------------------------------- */

static int
be_audit_head(void *be, uint64_t *seq, uint8_t hash[BX_STORE_HASH_LEN],
	      char *err, size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_AUDIT_HEAD];
	uint8_t h[BX_STORE_HASH_LEN];
	int64_t n;
	int rc = st_row(b, st, err, errlen);

	if (rc == 0)
		return row_fail(b, err, errlen, "state row missing");
	if (rc < 0)
		return rc;
	n = sqlite3_column_int64(st, 0);
	rc = n >= 0 && col_key(st, 1, h, sizeof(h)) ?
		     0 :
		     row_fail(b, err, errlen, "audit head unreadable");
	st_done(st);
	if (rc == 0) {
		*seq = (uint64_t)n;
		memcpy(hash, h, sizeof(h));
	}
	return rc;
}

static int
be_audit_insert(void *be, const struct bx_store_audit_record *r, char *err,
		size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_AUDIT_INSERT];
	int rc;

	if ((rc = sqlite3_bind_int64(st, 1, (int64_t)r->seq)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 2, r->time_ms)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(st, 3, r->actor, (int)r->actor_len,
				    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(st, 4, r->action, (int)r->action_len,
				    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(st, 5, r->detail, (int)r->detail_len,
				    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = bind_blob(st, 6, r->prev_hash, BX_STORE_HASH_LEN)) !=
		    SQLITE_OK ||
	    (rc = bind_blob(st, 7, r->hash, BX_STORE_HASH_LEN)) != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	rc = st_exec(b, st, err, errlen);
	if (rc != 0)
		return rc;
	st = b->st[ST_AUDIT_SET_HEAD];
	if ((rc = sqlite3_bind_int64(st, 1, (int64_t)r->seq)) != SQLITE_OK ||
	    (rc = bind_blob(st, 2, r->hash, BX_STORE_HASH_LEN)) != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	return st_exec(b, st, err, errlen);
}

static int
be_audit_list(void *be, uint64_t from_seq, bx_store_audit_cb cb, void *arg,
	      char *err, size_t errlen)
{
	struct sqlite_be *b = be;
	sqlite3_stmt *st = b->st[ST_AUDIT_LIST];
	struct bx_store_audit_record r;
	int rc;

	rc = sqlite3_bind_int64(st, 1, from_seq > INT64_MAX ?
						 INT64_MAX :
						 (int64_t)from_seq);
	if (rc != SQLITE_OK)
		return bind_fail(b, st, rc, err, errlen);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		r.seq = (uint64_t)sqlite3_column_int64(st, 0);
		r.time_ms = sqlite3_column_int64(st, 1);
		r.actor = col_text(st, 2, &r.actor_len);
		r.action = col_text(st, 3, &r.action_len);
		r.detail = col_text(st, 4, &r.detail_len);
		if (r.actor == NULL || r.action == NULL || r.detail == NULL ||
		    !col_key(st, 5, r.prev_hash, BX_STORE_HASH_LEN) ||
		    !col_key(st, 6, r.hash, BX_STORE_HASH_LEN)) {
			rc = fail(err, errlen, -EBADMSG,
				  "audit record %" PRIu64 ": unreadable fields",
				  r.seq);
			goto out;
		}
		rc = cb(&r, arg);
		if (rc != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : db_fail(b, rc, err, errlen);
out:
	st_done(st);
	return rc;
}

/* ---- open and close ----------------------------------------------------- */

static void
be_close(void *be)
{
	struct sqlite_be *b = be;
	unsigned i;

	if (b == NULL)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(b->st[i]);
	sqlite3_close(b->db);
	free(b);
}

static const struct bx_store_ops sqlite_ops = {
	.name = "sqlite",
	.close = be_close,
	.begin = be_begin,
	.commit = be_commit,
	.rollback = be_rollback,
	.token_insert = be_token_insert,
	.token_get = be_token_get,
	.token_set_uses = be_token_set_uses,
	.token_delete = be_token_delete,
	.token_list = be_token_list,
	.node_insert = be_node_insert,
	.node_get = be_node_get,
	.node_list = be_node_list,
	.node_update = be_node_update,
	.node_seen = be_node_seen,
	.node_delete = be_node_delete,
	.vip_list = be_vip_list,
	.topology_get = be_topology_get,
	.topology_bump = be_topology_bump,
	.topology_changes = be_topology_changes,
	.policy_get = be_policy_get,
	.policy_put = be_policy_put,
	.setting_get = be_setting_get,
	.setting_put = be_setting_put,
	.audit_head = be_audit_head,
	.audit_insert = be_audit_insert,
	.audit_list = be_audit_list,
};

/*
 * Creates @path with mode 0600 if it is missing (SQLite would create it
 * 0644), and refuses an existing one that is not a regular file or that
 * group or others can access: it holds token hashes, keys and the audit
 * log. SQLite gives its -wal and -shm files the database's mode.
 */
static int
prepare_file(const char *path, char *err, size_t errlen)
{
	int fd, rc = 0;
	bool created = true;
	struct stat st;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  BX_STORE_FILE_MODE);
	if (fd < 0 && errno == EEXIST) {
		created = false;
		fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	}
	if (fd < 0) {
		rc = -errno;
		return fail(err, errlen, rc, "%s: %s", path, strerror(-rc));
	}
	/* The umask may have taken bits away: make it exactly 0600. */
	if (created && fchmod(fd, BX_STORE_FILE_MODE) < 0) {
		rc = -errno;
		fail(err, errlen, rc, "%s: %s", path, strerror(-rc));
	} else if (fstat(fd, &st) < 0) {
		rc = -errno;
		fail(err, errlen, rc, "%s: %s", path, strerror(-rc));
	} else if (!S_ISREG(st.st_mode)) {
		rc = fail(err, errlen, -EINVAL, "%s: not a regular file",
			  path);
	} else if ((st.st_mode & 077) != 0) {
		rc = fail(err, errlen, -EPERM,
			  "%s has mode %04o; the dispatch database must not be accessible by group or others (chmod 600)",
			  path, (unsigned)(st.st_mode & 07777));
	}
	close(fd);
	return rc;
}

/* Runs fixed SQL (never data) that returns no rows we need. */
static int
exec_sql(struct sqlite_be *b, const char *text, char *err, size_t errlen)
{
	char *msg = NULL;
	int rc = sqlite3_exec(b->db, text, NULL, NULL, &msg);

	if (rc != SQLITE_OK)
		rc = fail(err, errlen, errno_of(rc), "%s: %s", b->path,
			  msg != NULL ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return rc;
}

/*
 * Runs a PRAGMA that returns one value, into @num (integers) or @text
 * (@size bytes; may be NULL).
 */
static int
pragma(struct sqlite_be *b, const char *text, int64_t *num, char *buf,
       size_t size, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	const char *s;
	int rc;

	rc = sqlite3_prepare_v2(b->db, text, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(b, rc, err, errlen);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (num != NULL)
			*num = sqlite3_column_int64(st, 0);
		s = (const char *)sqlite3_column_text(st, 0);
		if (buf != NULL)
			snprintf(buf, size, "%s", s != NULL ? s : "");
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = fail(err, errlen, -ENOTSUP, "%s: %s: not supported",
			  b->path, text);
	} else {
		rc = db_fail(b, rc, err, errlen);
	}
	sqlite3_finalize(st);
	return rc;
}

static int
configure(struct sqlite_be *b, char *err, size_t errlen)
{
	char mode[16];
	int64_t on = 0;
	int rc;

	rc = sqlite3_busy_timeout(b->db, BX_STORE_BUSY_TIMEOUT_MS);
	if (rc == SQLITE_OK)
		rc = sqlite3_extended_result_codes(b->db, 1);
	if (rc == SQLITE_OK)
		rc = sqlite3_db_config(b->db, SQLITE_DBCONFIG_DEFENSIVE, 1,
				       NULL);
	if (rc != SQLITE_OK)
		return db_fail(b, rc, err, errlen);
	rc = pragma(b, "PRAGMA journal_mode = WAL", NULL, mode, sizeof(mode),
		    err, errlen);
	if (rc != 0)
		return rc;
	if (strcmp(mode, "wal") != 0)
		return fail(err, errlen, -ENOTSUP,
			    "%s: journal mode is %s, WAL refused", b->path,
			    mode);
	rc = exec_sql(b, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL",
		      err, errlen);
	if (rc != 0)
		return rc;
	rc = pragma(b, "PRAGMA foreign_keys", &on, NULL, 0, err, errlen);
	if (rc == 0 && on != 1)
		rc = fail(err, errlen, -ENOTSUP,
			  "%s: SQLite without foreign key support", b->path);
	return rc;
}

/*
 * Brings the schema up to BX_STORE_SCHEMA_VERSION in one transaction, so
 * a crash mid-way leaves the old schema. A database of another program,
 * or of a newer bauxite-dispatch, is refused untouched.
 */
static int
migrate(struct sqlite_be *b, char *err, size_t errlen)
{
	int64_t app = 0, version = 0, tables = 0;
	char text[128];
	int rc;

	rc = exec_sql(b, "BEGIN IMMEDIATE", err, errlen);
	if (rc != 0)
		return rc;
	rc = pragma(b, "PRAGMA application_id", &app, NULL, 0, err, errlen);
	if (rc == 0)
		rc = pragma(b, "PRAGMA user_version", &version, NULL, 0, err,
			    errlen);
	if (rc == 0)
		rc = pragma(b, "SELECT count(*) FROM sqlite_schema", &tables,
			    NULL, 0, err, errlen);
	if (rc != 0)
		goto out;
	if (app != APPLICATION_ID && (app != 0 || version != 0 || tables != 0)) {
		rc = fail(err, errlen, -EINVAL,
			  "%s: not a bauxite-dispatch database (application_id 0x%08" PRIx64
			  ", schema version %" PRId64 ")",
			  b->path, (uint64_t)app, version);
		goto out;
	}
	if (version > (int64_t)BX_STORE_SCHEMA_VERSION || version < 0) {
		rc = fail(err, errlen, -ENOTSUP,
			  "%s: schema version %" PRId64
			  " is newer than this bauxite-dispatch supports (%u); upgrade bauxite-dispatch",
			  b->path, version, BX_STORE_SCHEMA_VERSION);
		goto out;
	}
	for (; version < (int64_t)BX_STORE_SCHEMA_VERSION; version++) {
		rc = exec_sql(b, migrations[version], err, errlen);
		if (rc != 0)
			goto out;
	}
	/* PRAGMAs take no parameters; these are our own constants. */
	snprintf(text, sizeof(text),
		 "PRAGMA user_version = %u; PRAGMA application_id = %d",
		 BX_STORE_SCHEMA_VERSION, APPLICATION_ID);
	rc = exec_sql(b, text, err, errlen);
	if (rc == 0)
		rc = exec_sql(b, "COMMIT", err, errlen);
out:
	if (rc != 0 && sqlite3_get_autocommit(b->db) == 0)
		sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int
prepare_all(struct sqlite_be *b, char *err, size_t errlen)
{
	unsigned i;
	int rc;

	for (i = 0; i < ST_COUNT; i++) {
		rc = sqlite3_prepare_v3(b->db, sql[i], -1,
					SQLITE_PREPARE_PERSISTENT, &b->st[i],
					NULL);
		if (rc != SQLITE_OK)
			return db_fail(b, rc, err, errlen);
	}
	return 0;
}

int
bx_store_open_sqlite(const char *path, const struct bx_store_options *opts,
		     struct bx_store **out, char *err, size_t errlen)
{
	struct sqlite_be *b = NULL;
	int rc;

	if (path == NULL || path[0] == '\0')
		return fail(err, errlen, -EINVAL, "empty database path");
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return fail(err, errlen, -ENOMEM, "out of memory");
	if (strlen(path) >= sizeof(b->path)) {
		rc = fail(err, errlen, -ENAMETOOLONG, "%s: path too long",
			  path);
		goto fail;
	}
	memcpy(b->path, path, strlen(path) + 1);
	rc = prepare_file(path, err, errlen);
	if (rc != 0)
		goto fail;
	rc = sqlite3_open_v2(path, &b->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW |
				     SQLITE_OPEN_FULLMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		rc = b->db != NULL ? db_fail(b, rc, err, errlen) :
				     fail(err, errlen, -ENOMEM,
					  "out of memory");
		goto fail;
	}
	rc = configure(b, err, errlen);
	if (rc == 0)
		rc = migrate(b, err, errlen);
	if (rc == 0)
		rc = prepare_all(b, err, errlen);
	if (rc != 0)
		goto fail;
	return bx_store_attach(&sqlite_ops, b, opts, out, err, errlen);
fail:
	be_close(b);
	return rc;
}
