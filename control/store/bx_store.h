/* SPDX-License-Identifier: Apache-2.0 */
/*
 * State store of bauxite-dispatch (DESIGN §4 "Dispatch"): join tokens,
 * provisioned nodes and their virtual IPs, the versioned topology change
 * log, the policy, the latest metrics per node, and a hash-chained audit
 * log, and the mesh settings nodes fetch for NAT traversal. Plain C; no
 * EAL.
 *
 * Back ends
 *   struct bx_store is opaque and reaches its storage through a table of
 *   operations (struct bx_store_ops, at the end of this header). SQLite is
 *   the one back end today (bx_store_open_sqlite); a PostgreSQL back end is
 *   another ops table. The rules -- what a valid token or node is, virtual
 *   IP allocation, which changes bump the topology version, the audit chain
 *   -- live in the generic layer (bx_store.c), once for every back end; a
 *   back end only stores and fetches rows inside the transactions the
 *   generic layer opens.
 *
 * Atomicity
 *   Every operation is one transaction. Those that change tokens, nodes or
 *   the policy append their own audit record and bump the topology version
 *   (when the mesh changed) in that same transaction: a change without its
 *   record, or a record without its change, cannot be committed.
 *
 * Threads
 *   A store may be shared by threads: one mutex serialises its operations
 *   (one connection, one writer). Callbacks of the list operations run
 *   with that mutex held and must not call into the same store: such a
 *   call fails with -EDEADLK.
 *
 * Time
 *   All times are Unix milliseconds (int64_t, named *_ms), from the clock
 *   in bx_store_options (CLOCK_REALTIME by default), except where a caller
 *   passes `now` itself (token consumption, so expiry is testable).
 *
 * Byte order
 *   IPv4 addresses in the structs below are in network byte order, ports
 *   in host order, as in bx_config.h and bx_snapshot.h.
 *
 * Audit record hash (the exact encoding; all integers big-endian)
 *   hash = SHA-256( "BXAUDIT1"                   8 bytes, domain tag
 *                 || seq                         8 bytes, unsigned
 *                 || time_ms                     8 bytes, two's complement
 *                 || len(actor)  || actor        8-byte length, then bytes
 *                 || len(action) || action       8-byte length, then bytes
 *                 || len(detail) || detail       8-byte length, then bytes
 *                 || prev_hash )                 32 bytes
 *   Strings are hashed as stored, without a terminator. prev_hash is the
 *   previous record's hash, all zero for record 1. Every field has a fixed
 *   size or a length in front of it, so no two different records encode
 *   to the same bytes. The store also keeps the head (last seq and its
 *   hash) apart from the records, which catches a deleted last record;
 *   publishing the head elsewhere (bx_store_audit_head) is what protects
 *   against someone who rewrites the whole tail of the chain.
 *
 * Errors are a negative errno and a one-line message in @err (@errlen
 * bytes, always terminated when @errlen > 0; @err may be NULL) naming the
 * token, node or record, for the caller to print: this library never
 * prints. Out-parameters are untouched on failure.
 */
#ifndef BX_STORE_H
#define BX_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The database in dispatch's state directory, and its mode. */
#define BX_STORE_DB_FILE "dispatch.db"
#define BX_STORE_FILE_MODE 0600
/* Schema version this build writes (SQLite: PRAGMA user_version). */
#define BX_STORE_SCHEMA_VERSION 2u
/* How long an operation waits for another process's lock before -EBUSY. */
#define BX_STORE_BUSY_TIMEOUT_MS 5000u

#define BX_STORE_HASH_LEN 32u               /* SHA-256 */
#define BX_STORE_KEY_LEN 32u                /* Ed25519 and X25519 public keys */
#define BX_STORE_ID_MAX 63u                 /* node ids, as in the config */
#define BX_STORE_TAG_MAX 63u
#define BX_STORE_MAX_TAGS 16u               /* per token and per node */
#define BX_STORE_MAX_ENDPOINTS 8u           /* per node: one per uplink */
#define BX_STORE_MAX_PREFIXES 16u           /* allowed_prefixes, as in the config */
#define BX_STORE_MAX_RESERVED 16u           /* reserved virtual IPs */
#define BX_STORE_CERT_MAX 16384u            /* PEM text, bytes */
#define BX_STORE_SERIAL_MAX 40u             /* hex digits: 20-byte serials */
#define BX_STORE_METRICS_MAX 65536u         /* JSON text, bytes */
#define BX_STORE_POLICY_MAX (1u << 20)      /* JSON text, bytes */
#define BX_STORE_ACTOR_MAX 127u
#define BX_STORE_ACTION_MAX 63u
#define BX_STORE_DETAIL_MAX 65536u          /* JSON text, bytes */
/* Mesh prefixes from /8 (16 M addresses) to /30 (two hosts). */
#define BX_STORE_MESH_LEN_MIN 8u
#define BX_STORE_MESH_LEN_MAX 30u
/* Topology changes kept for bx_store_changes_since (default). */
#define BX_STORE_CHANGE_LOG_MAX 10000u
/*
 * Mesh settings: STUN servers and hub relays (a handful each: ICE asks
 * every STUN server, a node registers with every relay), and how long a
 * node's relay key lives. A key that lives a minute is refreshed every 30
 * s by every node; one that lives a month outlives a revocation by a
 * month at the relays.
 */
#define BX_STORE_MAX_STUN 8u
#define BX_STORE_MAX_RELAYS 8u
#define BX_STORE_RELAY_KEY_LIFETIME_MIN_S 60u
#define BX_STORE_RELAY_KEY_LIFETIME_MAX_S (30u * 86400u)
#define BX_STORE_RELAY_KEY_LIFETIME_DEFAULT_S 86400u

/* Join token "<id>.<secret>" */
#define BX_STORE_TOKEN_ID_BYTES 8u
#define BX_STORE_TOKEN_ID_LEN 16u           /* lowercase hex */
#define BX_STORE_TOKEN_SECRET_BYTES 32u
#define BX_STORE_TOKEN_SECRET_LEN 43u       /* base64url, no padding */
#define BX_STORE_TOKEN_LEN                                                    \
	(BX_STORE_TOKEN_ID_LEN + 1u + BX_STORE_TOKEN_SECRET_LEN)
#define BX_STORE_TOKEN_TTL_MAX_S (365u * 86400u)
#define BX_STORE_TOKEN_USES_MAX 10000u
/* Tokens stored at most; expired ones count until they are pruned. */
#define BX_STORE_MAX_TOKENS 10000u
/*
 * Expired tokens are kept this long after expiry, so consuming one still
 * says "expired" rather than "unknown", then pruned by token creation.
 */
#define BX_STORE_TOKEN_KEEP_EXPIRED_MS (7ll * 86400 * 1000)

/* Audit actions the store records by itself. */
#define BX_STORE_AUDIT_TOKEN_CREATE "token.create"
#define BX_STORE_AUDIT_TOKEN_CONSUME "token.consume"
#define BX_STORE_AUDIT_TOKEN_REVOKE "token.revoke"
#define BX_STORE_AUDIT_NODE_ADD "node.add"
#define BX_STORE_AUDIT_NODE_REVOKE "node.revoke"
#define BX_STORE_AUDIT_NODE_PURGE "node.purge"
#define BX_STORE_AUDIT_NODE_ALLOWED "node.allowed_prefixes"
#define BX_STORE_AUDIT_NODE_CERT "node.cert"
#define BX_STORE_AUDIT_POLICY_SET "policy.set"
#define BX_STORE_AUDIT_MESH_SET "mesh.set"
/* The first field of every audit hash (see above). */
#define BX_STORE_AUDIT_DOMAIN "BXAUDIT1"
#define BX_STORE_AUDIT_DOMAIN_LEN 8u

struct bx_store; /* opaque */

/* An IPv4 prefix; addr in network byte order, host bits zero. */
struct bx_store_prefix {
	uint32_t addr;
	uint8_t len;
};

/* Where a node's mesh datagrams reach it. */
struct bx_store_endpoint {
	uint32_t ip;                       /* network order, not 0 */
	uint16_t port;                     /* host order, not 0 */
};

struct bx_store_options {
	/*
	 * Virtual IPs are host addresses of this prefix (len
	 * BX_STORE_MESH_LEN_MIN..MAX); len 0 leaves the store without one,
	 * for tools that only read: bx_store_node_add then fails -EINVAL.
	 */
	struct bx_store_prefix mesh;
	/* Addresses in the mesh never handed out (the hub's own, ...). */
	unsigned n_reserved;
	uint32_t reserved[BX_STORE_MAX_RESERVED]; /* network order */
	/* Topology changes kept; 0: BX_STORE_CHANGE_LOG_MAX. */
	uint32_t change_log_max;
	/* The store's clock in Unix ms; NULL: CLOCK_REALTIME. */
	int64_t (*clock_ms)(void *arg);
	void *clock_arg;
};

struct bx_store_token_info {
	char id[BX_STORE_TOKEN_ID_LEN + 1];
	int64_t created_ms;
	int64_t expires_ms;
	uint32_t uses_total;
	uint32_t uses_left;
	unsigned n_tags;
	char tags[BX_STORE_MAX_TAGS][BX_STORE_TAG_MAX + 1];
};

struct bx_store_node {
	char id[BX_STORE_ID_MAX + 1];      /* 1..63 of [A-Za-z0-9._-] */
	uint8_t ed25519_public[BX_STORE_KEY_LEN];
	uint8_t x25519_public[BX_STORE_KEY_LEN];
	uint32_t virtual_ip;               /* network order; assigned by the store */
	unsigned n_endpoints;              /* 1..BX_STORE_MAX_ENDPOINTS */
	struct bx_store_endpoint endpoints[BX_STORE_MAX_ENDPOINTS];
	unsigned n_allowed;                /* 0..BX_STORE_MAX_PREFIXES, besides the vip */
	struct bx_store_prefix allowed[BX_STORE_MAX_PREFIXES];
	unsigned n_tags;                   /* 0..BX_STORE_MAX_TAGS */
	char tags[BX_STORE_MAX_TAGS][BX_STORE_TAG_MAX + 1];
	const char *cert_pem;              /* NULL: no certificate yet */
	char cert_serial[BX_STORE_SERIAL_MAX + 1]; /* hex; "" without a cert */
	int64_t cert_not_after_ms;         /* 0 without a cert */
	int64_t created_ms;
	int64_t revoked_ms;                /* 0: active */
	int64_t last_seen_ms;              /* 0: never */
	const char *metrics_json;          /* latest report, NULL: none */
	int64_t metrics_ms;                /* 0: none */
};

enum bx_store_change_op {
	BX_STORE_CHANGE_UPSERT,            /* added, or its endpoints/prefixes changed */
	BX_STORE_CHANGE_REMOVE,            /* revoked */
};

/* What nodes need for NAT traversal (bx_store_mesh_get). */
struct bx_store_mesh {
	unsigned n_stun;                   /* 0..BX_STORE_MAX_STUN */
	struct bx_store_endpoint stun[BX_STORE_MAX_STUN];
	unsigned n_relays;                 /* 0..BX_STORE_MAX_RELAYS */
	struct bx_store_endpoint relays[BX_STORE_MAX_RELAYS];
	uint32_t relay_key_lifetime_s;     /* BX_STORE_RELAY_KEY_LIFETIME_* */
	uint64_t version;                  /* read only: 0 until first set */
	int64_t set_ms;                    /* read only: 0 until first set */
};

struct bx_store_change {
	uint64_t version;                  /* the topology version it made */
	enum bx_store_change_op op;
	const char *node_id;
};

/*
 * One audit record. Strings carry their length: the hash covers exactly
 * those bytes, even where a tampered database put a NUL inside.
 */
struct bx_store_audit_record {
	uint64_t seq;                      /* 1, 2, 3, ... */
	int64_t time_ms;
	const char *actor;
	size_t actor_len;
	const char *action;
	size_t action_len;
	const char *detail;                /* a JSON object */
	size_t detail_len;
	uint8_t prev_hash[BX_STORE_HASH_LEN];
	uint8_t hash[BX_STORE_HASH_LEN];
};

/*
 * Callbacks of the list operations: return 0 to go on; anything else stops
 * the walk, and the list operation returns that value (@err untouched).
 * What they receive is valid during the call only.
 */
typedef int (*bx_store_token_cb)(const struct bx_store_token_info *t,
				 void *arg);
typedef int (*bx_store_node_cb)(const struct bx_store_node *n, void *arg);
typedef int (*bx_store_change_cb)(const struct bx_store_change *c,
				  void *arg);
typedef int (*bx_store_audit_cb)(const struct bx_store_audit_record *r,
				 void *arg);

/*
 * Opens (creating it with mode 0600 if missing) the SQLite database @path,
 * usually <state_dir>/BX_STORE_DB_FILE, and brings its schema up to
 * BX_STORE_SCHEMA_VERSION, all migration steps in one transaction. WAL
 * journal, foreign keys, synchronous=FULL (a consumed token must stay
 * consumed across a power cut), busy timeout BX_STORE_BUSY_TIMEOUT_MS.
 * @opts may be NULL (no mesh prefix; see struct bx_store_options).
 * Returns 0 and sets *@out (bx_store_close), or:
 *   -EINVAL    bad options, or @path is not a SQLite database or belongs
 *              to another application
 *   -EPERM     @path is accessible by group or others (chmod 600)
 *   -ENOTSUP   the database was written by a newer bauxite-dispatch
 *              (schema version above BX_STORE_SCHEMA_VERSION)
 *   -EBUSY, -EACCES, -ENOENT (missing directory), -ELOOP (a symlink),
 *   -EIO, -ENOMEM, ...
 */
int bx_store_open_sqlite(const char *path, const struct bx_store_options *opts,
			 struct bx_store **out, char *err, size_t errlen);

/* Closes the store; NULL is fine. No other thread may be using it. */
void bx_store_close(struct bx_store *s);

/* ---- join tokens -------------------------------------------------------- */

/*
 * Makes a join token valid for @ttl_s seconds (1..BX_STORE_TOKEN_TTL_MAX_S)
 * and @uses joins (1..BX_STORE_TOKEN_USES_MAX), carrying @n_tags tags
 * (each 1..BX_STORE_TAG_MAX of [A-Za-z0-9._:=/-], no duplicates) that the
 * nodes joining with it get. Writes "<id>.<secret>" to @token_out: the
 * only time the secret exists outside the caller, since the store keeps
 * only SHA-256 of the 32 secret bytes. The id is public (listings, audit).
 * Records BX_STORE_AUDIT_TOKEN_CREATE by @actor. Returns 0, or -EINVAL (a
 * bad argument, named), -ENOSPC (BX_STORE_MAX_TOKENS stored), or a storage
 * error.
 */
int bx_store_token_create(struct bx_store *s, const char *actor,
			  uint32_t ttl_s, uint32_t uses,
			  const char *const tags[], unsigned n_tags,
			  char token_out[BX_STORE_TOKEN_LEN + 1], char *err,
			  size_t errlen);

/*
 * Spends one use of @token at @now_ms, all checks and the decrement in one
 * transaction, so two nodes cannot both take a token's last use. Fills
 * *@info (uses_left after this use; may be NULL) and records
 * BX_STORE_AUDIT_TOKEN_CONSUME by @actor. Errors tell the joining node
 * what to do, never which part of a wrong token was wrong:
 *   -ENOENT       malformed ("token malformed"), or no token with that id
 *                 and secret ("token unknown")
 *   -EKEYEXPIRED  "token <id> expired at <ISO 8601 UTC>"
 *   -EUSERS       "token <id> already used" (every use taken)
 */
int bx_store_token_consume(struct bx_store *s, const char *actor,
			   const char *token, int64_t now_ms,
			   struct bx_store_token_info *info, char *err,
			   size_t errlen);

/* Calls @cb for every stored token (spent and expired ones too), by id. */
int bx_store_token_list(struct bx_store *s, bx_store_token_cb cb, void *arg,
			char *err, size_t errlen);

/*
 * Deletes the token with id @id before it is used up or expires (an
 * operator's undo). Records BX_STORE_AUDIT_TOKEN_REVOKE by @actor.
 * Returns 0, -ENOENT or a storage error.
 */
int bx_store_token_revoke(struct bx_store *s, const char *actor,
			  const char *id, char *err, size_t errlen);

/* ---- nodes -------------------------------------------------------------- */

/*
 * Provisions node @n: id, keys, endpoints, allowed prefixes, tags and,
 * optionally, its certificate (PEM starting "-----BEGIN CERTIFICATE-----",
 * up to BX_STORE_CERT_MAX bytes, with a serial of 1..BX_STORE_SERIAL_MAX
 * hex digits and not_after; or NULL, "" and 0 when the certificate is
 * signed later, bx_store_node_set_cert). The other fields of @n are
 * ignored: the store assigns the virtual IP -- the lowest free host
 * address of the mesh prefix, skipping the reserved ones -- and returns it
 * in *@virtual_ip (network order; may be NULL). Bumps the topology
 * version (upsert) and records BX_STORE_AUDIT_NODE_ADD by @actor.
 * Returns 0, or:
 *   -EINVAL   a field out of range (named), or no mesh prefix
 *   -EEXIST   the id, the Ed25519 key or the X25519 key is already a
 *             node's (revoked ones included, until purged)
 *   -ENOSPC   no virtual IP is free
 */
int bx_store_node_add(struct bx_store *s, const char *actor,
		      const struct bx_store_node *n, uint32_t *virtual_ip,
		      char *err, size_t errlen);

/*
 * Sets *@out to node @id (free with bx_store_node_free; cert_pem and
 * metrics_json point inside it), revoked or not. -ENOENT if unknown.
 */
int bx_store_node_get(struct bx_store *s, const char *id,
		      struct bx_store_node **out, char *err, size_t errlen);

/* Frees a node from bx_store_node_get; NULL is fine. */
void bx_store_node_free(struct bx_store_node *n);

/*
 * Calls @cb for every node, revoked ones too (revoked_ms != 0), by
 * virtual IP.
 */
int bx_store_node_list(struct bx_store *s, bx_store_node_cb cb, void *arg,
		       char *err, size_t errlen);

/*
 * Revokes node @id: it leaves the topology (the version is bumped with a
 * remove) but keeps its row, its keys and its virtual IP, so neither can
 * be handed to another node while peers may still hold them; only
 * bx_store_node_purge frees them. Records BX_STORE_AUDIT_NODE_REVOKE by
 * @actor. Returns 0, -ENOENT, or -EALREADY when already revoked.
 */
int bx_store_node_revoke(struct bx_store *s, const char *actor,
			 const char *id, char *err, size_t errlen);

/*
 * Deletes revoked node @id with its metrics, freeing its id, keys and
 * virtual IP for reuse. Records BX_STORE_AUDIT_NODE_PURGE by @actor.
 * Returns 0, -ENOENT, or -EBUSY when the node is not revoked (revoke
 * first: peers must be told it is gone).
 */
int bx_store_node_purge(struct bx_store *s, const char *actor,
			const char *id, char *err, size_t errlen);

/*
 * Replaces the endpoints of node @id (1..BX_STORE_MAX_ENDPOINTS, distinct)
 * and bumps the topology version (upsert) if they changed; the same list
 * again changes nothing. Not audited: nodes report their endpoints as
 * NATs and uplinks change them. Returns 0, -EINVAL, -ENOENT, or
 * -EKEYREVOKED for a revoked node.
 */
int bx_store_node_set_endpoints(struct bx_store *s, const char *id,
				const struct bx_store_endpoint *eps,
				unsigned n, char *err, size_t errlen);

/*
 * Replaces the prefixes node @id may source traffic from besides its
 * virtual IP (0..BX_STORE_MAX_PREFIXES, host bits zero, distinct): routing
 * authority, so it bumps the topology version (upsert) and records
 * BX_STORE_AUDIT_NODE_ALLOWED by @actor, unless nothing changed. Returns
 * as bx_store_node_set_endpoints.
 */
int bx_store_node_set_allowed(struct bx_store *s, const char *actor,
			      const char *id,
			      const struct bx_store_prefix *prefixes,
			      unsigned n, char *err, size_t errlen);

/*
 * Stores the (new) certificate of node @id, as checked in
 * bx_store_node_add (@pem not NULL). Records BX_STORE_AUDIT_NODE_CERT by
 * @actor. Returns 0, -EINVAL, -ENOENT or -EKEYREVOKED.
 */
int bx_store_node_set_cert(struct bx_store *s, const char *actor,
			   const char *id, const char *pem,
			   const char *serial, int64_t not_after_ms,
			   char *err, size_t errlen);

/*
 * Sets the last-seen time of node @id to now. Returns 0, -ENOENT, or
 * -EKEYREVOKED: a revoked node still talking should be cut off.
 */
int bx_store_node_touch(struct bx_store *s, const char *id, char *err,
			size_t errlen);

/*
 * Keeps @json (a JSON object of counters, up to BX_STORE_METRICS_MAX
 * bytes) as the latest metrics of node @id, reported now; a report also
 * counts as seen. Returns as bx_store_node_touch, or -EINVAL.
 */
int bx_store_node_set_metrics(struct bx_store *s, const char *id,
			      const char *json, char *err, size_t errlen);

/* ---- topology ----------------------------------------------------------- */

/* The current topology version: 0 before the first change. */
int bx_store_topology_version(struct bx_store *s, uint64_t *version,
			      char *err, size_t errlen);

/*
 * Calls @cb for each topology change after version @since, oldest first,
 * and sets *@version (may be NULL) to the version they lead to, so a node
 * at @since can catch up with a diff. Several changes to one node may be
 * listed; apply them in order. Returns 0, or -ERANGE when the change log
 * no longer reaches back to @since (only the last change_log_max changes
 * are kept) or @since is ahead of the store (a database restored from a
 * backup): the caller then sends a full snapshot.
 */
int bx_store_changes_since(struct bx_store *s, uint64_t since,
			   bx_store_change_cb cb, void *arg, uint64_t *version,
			   char *err, size_t errlen);

/* ---- policy ------------------------------------------------------------- */

/*
 * Replaces the policy with @json (a JSON object, up to BX_STORE_POLICY_MAX
 * bytes, stored as given), and sets *@version (may be NULL) to its new
 * version, one more than the last. Records BX_STORE_AUDIT_POLICY_SET by
 * @actor with the version and the SHA-256 of @json. Returns 0, -EINVAL or
 * a storage error.
 */
int bx_store_policy_set(struct bx_store *s, const char *actor,
			const char *json, uint64_t *version, char *err,
			size_t errlen);

/*
 * Sets *@json to a malloc'd copy of the current policy (free()) and
 * *@version to its version. -ENOENT when no policy was ever set.
 */
int bx_store_policy_get(struct bx_store *s, char **json, uint64_t *version,
			char *err, size_t errlen);

/* ---- mesh settings ------------------------------------------------------ */

/*
 * Replaces the mesh settings with @m (its version and set_ms are ignored)
 * and sets *@version (may be NULL) to their new version, one more than the
 * last. Every endpoint is a unicast IPv4 host (not 0.0.0.0/8, multicast,
 * reserved or broadcast; loopback is allowed for a server on the node's
 * own host) with a port, listed once per list. Records
 * BX_STORE_AUDIT_MESH_SET by @actor with the whole settings (they hold no
 * secret). Returns 0, -EINVAL naming the list and entry ("stun[1]: ...",
 * "relays: 9 entries, at most 8", "relay_key_lifetime_s: ..."), or a
 * storage error.
 */
int bx_store_mesh_set(struct bx_store *s, const char *actor,
		      const struct bx_store_mesh *m, uint64_t *version,
		      char *err, size_t errlen);

/*
 * Fills *@out with the current mesh settings; before the first
 * bx_store_mesh_set, the defaults: no STUN server, no relay,
 * BX_STORE_RELAY_KEY_LIFETIME_DEFAULT_S, version 0. Returns 0, -EBADMSG
 * for a stored value this library did not write, or a storage error.
 */
int bx_store_mesh_get(struct bx_store *s, struct bx_store_mesh *out,
		      char *err, size_t errlen);

/* ---- audit log ---------------------------------------------------------- */

/*
 * Appends a record for an event the store does not see by itself (a login,
 * a refused join, a config reload). @actor: 1..BX_STORE_ACTOR_MAX
 * printable ASCII characters without spaces ("cli:root", "node:edge-a");
 * @action: 1..BX_STORE_ACTION_MAX of [a-z0-9._-]; @detail_json: a JSON
 * object of up to BX_STORE_DETAIL_MAX bytes, stored as given, or NULL for
 * "{}". Sets *@seq (may be NULL) to the record's number. Returns 0,
 * -EINVAL or a storage error.
 */
int bx_store_audit_append(struct bx_store *s, const char *actor,
			  const char *action, const char *detail_json,
			  uint64_t *seq, char *err, size_t errlen);

/* Calls @cb for each record from seq @from_seq on, in order. */
int bx_store_audit_list(struct bx_store *s, uint64_t from_seq,
			bx_store_audit_cb cb, void *arg, char *err,
			size_t errlen);

/*
 * The last record's seq and hash (0 and zeros when empty), to publish
 * outside the database (a log line, a signed statement) so that even a
 * consistent rewrite of the chain's tail is caught against it.
 */
int bx_store_audit_head(struct bx_store *s, uint64_t *seq,
			uint8_t hash[BX_STORE_HASH_LEN], char *err,
			size_t errlen);

/*
 * Walks the whole chain and checks, record by record, that seq follows
 * on, that the hash matches the record's fields and that prev_hash is the
 * previous record's hash, then that the chain ends at the stored head.
 * Returns 0 and sets *@n_records and @head (both may be NULL), or -EBADMSG
 * naming the first bad record:
 *   "audit record 17: hash mismatch"                  a field was changed
 *   "audit record 17: prev_hash does not match record 16"
 *   "audit log: sequence gap after record 16 (next is 18)"  deleted
 *   "audit log: ends at record 16 but its head is record 17" truncated
 *   "audit record 17: hash does not match the stored head"
 */
int bx_store_audit_verify(struct bx_store *s, uint64_t *n_records,
			  uint8_t head[BX_STORE_HASH_LEN], char *err,
			  size_t errlen);

/*
 * The hash of @r (its seq, time_ms, actor, action, detail and prev_hash;
 * r->hash is not read) by the encoding above, for back ends and for
 * verifiers outside this library.
 */
void bx_store_audit_hash(const struct bx_store_audit_record *r,
			 uint8_t out[BX_STORE_HASH_LEN]);

/* ---- back-end interface ------------------------------------------------- */
/*
 * For implementers of a back end only; callers use the functions above.
 * The generic layer opens a transaction (begin), calls the data
 * operations, and ends it with commit or rollback; a back end never
 * commits on its own and need not be thread-safe. @be is the back end's
 * handle. Every operation returns 0 or a negative errno with a message,
 * as above; "unknown" is -ENOENT. Arguments have been validated. Lists
 * call their callback as the public list functions describe and return
 * its non-zero value.
 */
struct bx_store_ops {
	const char *name;
	void (*close)(void *be);
	int (*begin)(void *be, bool write, char *err, size_t errlen);
	int (*commit)(void *be, char *err, size_t errlen);
	void (*rollback)(void *be);

	/*
	 * Deletes tokens that expired before @prune_before_ms, then stores
	 * @t with @secret_sha256 unless @max_tokens are stored (-ENOSPC).
	 */
	int (*token_insert)(void *be, const struct bx_store_token_info *t,
			    const uint8_t secret_sha256[BX_STORE_HASH_LEN],
			    int64_t prune_before_ms, uint32_t max_tokens,
			    char *err, size_t errlen);
	int (*token_get)(void *be, const char *id,
			 struct bx_store_token_info *t,
			 uint8_t secret_sha256[BX_STORE_HASH_LEN], char *err,
			 size_t errlen);
	int (*token_set_uses)(void *be, const char *id, uint32_t uses_left,
			      char *err, size_t errlen);
	int (*token_delete)(void *be, const char *id, char *err,
			    size_t errlen);
	int (*token_list)(void *be, bx_store_token_cb cb, void *arg,
			  char *err, size_t errlen);

	/* -EEXIST naming the node that has @n's id or one of its keys. */
	int (*node_insert)(void *be, const struct bx_store_node *n, char *err,
			   size_t errlen);
	int (*node_get)(void *be, const char *id, struct bx_store_node **out,
			char *err, size_t errlen);
	int (*node_list)(void *be, bx_store_node_cb cb, void *arg, char *err,
			 size_t errlen);
	/*
	 * Writes the changeable fields of node n->id: endpoints, allowed
	 * prefixes, certificate and revoked_ms.
	 */
	int (*node_update)(void *be, const struct bx_store_node *n, char *err,
			   size_t errlen);
	/*
	 * Sets last_seen_ms of an active node, and its metrics when @metrics
	 * is not NULL; -EKEYREVOKED for a revoked one.
	 */
	int (*node_seen)(void *be, const char *id, int64_t now_ms,
			 const char *metrics, char *err, size_t errlen);
	int (*node_delete)(void *be, const char *id, char *err,
			   size_t errlen);
	/* The virtual IPs (host order) in [@first, @last] in use, ascending. */
	int (*vip_list)(void *be, uint32_t first, uint32_t last,
			int (*cb)(uint32_t vip, void *arg), void *arg,
			char *err, size_t errlen);

	/*
	 * The topology version and the oldest version still in the change
	 * log (0 when the log is empty).
	 */
	int (*topology_get)(void *be, uint64_t *version, uint64_t *oldest,
			    char *err, size_t errlen);
	/*
	 * Increments the version, logs (version, @op, @node_id), keeps the
	 * last @keep changes, and returns the new version.
	 */
	int (*topology_bump)(void *be, enum bx_store_change_op op,
			     const char *node_id, uint32_t keep,
			     uint64_t *version, char *err, size_t errlen);
	int (*topology_changes)(void *be, uint64_t since,
				bx_store_change_cb cb, void *arg, char *err,
				size_t errlen);

	/*
	 * The current policy (malloc'd; @json may be NULL to read only the
	 * version); -ENOENT when none was set.
	 */
	int (*policy_get)(void *be, char **json, uint64_t *version, char *err,
			  size_t errlen);
	int (*policy_put)(void *be, uint64_t version, int64_t set_ms,
			  const char *json, char *err, size_t errlen);

	/*
	 * Named settings, each a text value with a version and the time it
	 * was set. get: the value (malloc'd) with its version and time,
	 * -ENOENT when never set. put: inserts or replaces.
	 */
	int (*setting_get)(void *be, const char *name, char **value,
			   uint64_t *version, int64_t *set_ms, char *err,
			   size_t errlen);
	int (*setting_put)(void *be, const char *name, const char *value,
			   uint64_t version, int64_t set_ms, char *err,
			   size_t errlen);

	/* The stored head: 0 and zeros before the first record. */
	int (*audit_head)(void *be, uint64_t *seq,
			  uint8_t hash[BX_STORE_HASH_LEN], char *err,
			  size_t errlen);
	/* Stores @r and makes it the head. */
	int (*audit_insert)(void *be, const struct bx_store_audit_record *r,
			    char *err, size_t errlen);
	/*
	 * Records from @from_seq on, by seq; -EBADMSG for a record whose
	 * fields cannot be read as such (a hash that is not 32 bytes).
	 */
	int (*audit_list)(void *be, uint64_t from_seq, bx_store_audit_cb cb,
			  void *arg, char *err, size_t errlen);
};

/*
 * Wraps back end @be (closed with ops->close on failure too) into a store
 * with @opts (may be NULL), checking them. For back-end constructors such
 * as bx_store_open_sqlite. Returns 0 and sets *@out, or -EINVAL, -ENOMEM.
 */
int bx_store_attach(const struct bx_store_ops *ops, void *be,
		    const struct bx_store_options *opts, struct bx_store **out,
		    char *err, size_t errlen);

#endif /* BX_STORE_H */
