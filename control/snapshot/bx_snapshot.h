/* SPDX-License-Identifier: Apache-2.0 */
/*
 * State snapshot for warm start (issue 4 item 5, DESIGN §4): the peers a
 * node knows -- routing and public keys, never session keys -- written on
 * clean shutdown and read at start, so a restarted node reaches its peers
 * without waiting for a full resync. Plain C; no EAL. The snapshot is a
 * hint: every failure to read one is an error string for the caller to log
 * before it carries on without it, never a reason to stop.
 *
 * The content is the protobuf message bauxite.v1.StateSnapshot
 * (proto/bauxite/v1/snapshot.proto). The caller describes it with the
 * plain structs below and never sees protobuf-c.
 *
 * File format (all integers big-endian)
 *
 *   offset  size  field
 *        0     8  magic "BXSNAP1\n" (BX_SNAPSHOT_MAGIC)
 *        8     4  payload length, 0..BX_SNAPSHOT_MAX_PAYLOAD
 *       12    16  checksum: BLAKE2b-128 (unkeyed) of bytes 0..11 followed
 *                 by the payload
 *       28     n  payload: the packed StateSnapshot
 *
 *   The file is exactly 28 + n bytes. Truncation, trailing bytes and
 *   corruption are caught by the length and the checksum before protobuf
 *   sees a byte. The checksum detects accidents (a torn write, a bad
 *   block), not an attacker: whoever can write the node's state directory
 *   can also write its private keys. The file is written atomically
 *   (temporary file + fsync + rename + directory fsync) with mode 0600.
 *
 * Values (checked when writing and when reading: a node never writes a
 * snapshot it would refuse to read)
 *   version          BX_SNAPSHOT_VERSION
 *   node_id, id      1..BX_SNAPSHOT_ID_MAX of [A-Za-z0-9._-]; peer ids unique
 *   virtual_ip       not 0.0.0.0, unique
 *   allowed          0..BX_SNAPSHOT_MAX_PREFIXES prefixes, len 1..32, host
 *                    bits zero, none listed twice for one peer
 *   endpoint         both 0 (unknown) or both set
 *   keys             BX_SNAPSHOT_KEY_LEN bytes each, not all zero; the
 *                    Ed25519 key may be absent (all zero in the struct:
 *                    not known yet, as for a peer from a static config)
 *   peers            at most BX_SNAPSHOT_MAX_PEERS
 *
 * Errors name what was wrong, as
 *   state.snapshot: 27 bytes, shorter than the 28-byte header
 *   state.snapshot: checksum mismatch (corrupt file)
 *   state.snapshot: peers[2].x25519_public: 31 bytes, expected 32
 * and are one of
 *   -ENOENT     no such file (a first start)
 *   -EBADMSG    not an intact snapshot file: too short or too long, bad
 *               magic, bad length, checksum mismatch, protobuf that does
 *               not unpack
 *   -EINVAL     intact, but a value above is out of range, or an unknown
 *               version
 *   -ENOMEM, -EACCES, -EIO, ...
 */
#ifndef BX_SNAPSHOT_H
#define BX_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BX_SNAPSHOT_MAGIC "BXSNAP1\n"
#define BX_SNAPSHOT_MAGIC_LEN 8u
#define BX_SNAPSHOT_SUM_LEN 16u            /* BLAKE2b-128 */
#define BX_SNAPSHOT_HEADER_LEN 28u
/* Above any real snapshot: BX_SNAPSHOT_MAX_PEERS full entries are ~20 MiB. */
#define BX_SNAPSHOT_MAX_PAYLOAD (32u << 20)
/*
 * Memory protobuf-c may allocate while unpacking one payload: bounds what
 * a crafted file (millions of empty entries) can cost, with room for
 * BX_SNAPSHOT_MAX_PEERS full entries (~1 KiB each unpacked).
 */
#define BX_SNAPSHOT_UNPACK_BUDGET (128u << 20)

#define BX_SNAPSHOT_VERSION 1u
#define BX_SNAPSHOT_ID_MAX 63u             /* as node ids in the config */
#define BX_SNAPSHOT_MAX_PEERS 65536u
#define BX_SNAPSHOT_MAX_PREFIXES 16u       /* as allowed_prefixes in the config */
#define BX_SNAPSHOT_KEY_LEN 32u            /* Ed25519 and X25519 public keys */

#define BX_SNAPSHOT_FILE "state.snapshot"  /* its name in the state dir */
#define BX_SNAPSHOT_FILE_MODE 0600

/* The fixed header in front of the payload. */
struct bx_snapshot_header {
	char magic[BX_SNAPSHOT_MAGIC_LEN];
	uint32_t payload_len;                 /* big-endian */
	uint8_t checksum[BX_SNAPSHOT_SUM_LEN];
} __attribute__((packed));
_Static_assert(sizeof(struct bx_snapshot_header) == BX_SNAPSHOT_HEADER_LEN,
	       "snapshot header size");
/* Bytes of the header covered by the checksum: magic and length. */
#define BX_SNAPSHOT_SUMMED_HEADER_LEN                                         \
	(BX_SNAPSHOT_MAGIC_LEN + sizeof(uint32_t))

/* An IPv4 prefix; addr in network byte order, len 1..32. */
struct bx_snapshot_prefix {
	uint32_t addr;
	uint8_t len;
};

struct bx_snapshot_peer {
	char id[BX_SNAPSHOT_ID_MAX + 1];
	uint32_t virtual_ip;               /* network order */
	unsigned n_allowed;                /* 0..BX_SNAPSHOT_MAX_PREFIXES */
	struct bx_snapshot_prefix allowed[BX_SNAPSHOT_MAX_PREFIXES];
	uint32_t endpoint_ip;              /* network order; 0: unknown */
	uint16_t endpoint_port;            /* host order; 0: unknown */
	uint8_t ed25519_public[BX_SNAPSHOT_KEY_LEN]; /* all zero: unknown */
	uint8_t x25519_public[BX_SNAPSHOT_KEY_LEN];
	bool from_hub;                     /* learned from the hub's topology */
};

/*
 * What a snapshot says. To write one, fill it with peers pointing at the
 * caller's own array; bx_snapshot_read/_parse return one allocated as a
 * whole, for bx_snapshot_free.
 */
struct bx_snapshot {
	uint32_t version;                  /* BX_SNAPSHOT_VERSION */
	char node_id[BX_SNAPSHOT_ID_MAX + 1];
	uint64_t created_unix_ms;          /* the caller's clock */
	uint64_t topology_version;         /* 0: static config */
	unsigned n_peers;
	const struct bx_snapshot_peer *peers;
};

/*
 * The complete file image of @s (header and payload) in a malloc'd buffer
 * *@buf of *@len bytes, for bx_snapshot_write and for tests and tools that
 * need the bytes. Returns 0, or -EINVAL (a value out of range, named in
 * @err as "snapshot: FIELD: ..."), -EFBIG (payload above
 * BX_SNAPSHOT_MAX_PAYLOAD), -ENOMEM, with *@buf and *@len untouched. @err
 * (@errlen bytes, always terminated when @errlen > 0) may be NULL.
 */
int bx_snapshot_encode(const struct bx_snapshot *s, uint8_t **buf,
		       size_t *len, char *err, size_t errlen);

/*
 * Writes @s to @path atomically with mode 0600: a reader (or a crash) sees
 * the old snapshot or the new one, never a mix. The directory must exist.
 * Returns 0 or the errors of bx_snapshot_encode and of the file system
 * (-ENOENT, -EACCES, -ENOSPC, ...), named in @err with the file.
 */
int bx_snapshot_write(const char *path, const struct bx_snapshot *s, char *err,
		      size_t errlen);

/*
 * Decodes and checks a snapshot file image of @len bytes from memory, so
 * a fuzzer (and any transport) can feed bytes without a file. @name is
 * what errors call the input. Returns 0 and sets *@out (bx_snapshot_free),
 * or -EBADMSG / -EINVAL / -ENOMEM (see above) with *@out untouched.
 */
int bx_snapshot_parse(const uint8_t *buf, size_t len, const char *name,
		      struct bx_snapshot **out, char *err, size_t errlen);

/*
 * Reads and checks the snapshot file @path. Returns as bx_snapshot_parse,
 * plus -ENOENT when there is no file and the errors of opening or reading
 * it; a file that is not a regular file is -EBADMSG. Errors name @path.
 */
int bx_snapshot_read(const char *path, struct bx_snapshot **out, char *err,
		     size_t errlen);

/* Frees a snapshot returned by read or parse; NULL is fine. */
void bx_snapshot_free(struct bx_snapshot *s);

#endif /* BX_SNAPSHOT_H */
