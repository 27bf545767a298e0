/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node identity: the long-term key pairs a node is known by (DESIGN §3.4).
 * Plain C over libsodium; no EAL. Runs on the control lcore and in the
 * `bauxite` CLI.
 *
 * Two independent key pairs
 *   Ed25519 signs (certificate requests to the hub, topology and OTA
 *   messages); X25519 is the static Diffie-Hellman key of the session
 *   handshake. They are generated separately rather than one derived from
 *   the other (libsodium's ed25519_sk_to_curve25519): using one secret in
 *   two different schemes lets an attack or a misuse in one reach the
 *   other, and the proofs of each assume a key of its own; separate keys
 *   also keep the signing key out of the per-handshake code path, where the
 *   DH key has to be, and let either be rotated alone.
 *
 * Files, in the node's state directory (config "state_dir")
 *   identity.ed25519   the 32-byte Ed25519 seed (RFC 8032 private key)
 *   identity.x25519    the 32-byte X25519 private key
 *   Each is standard base64 on one line (44 characters, optional trailing
 *   newline), like a WireGuard key, mode 0600, owned by whoever runs the
 *   node. Public keys are not stored: they are derived on load, so a
 *   public key file can never disagree with its private key.
 *
 *   Writes are atomic: a temporary file created O_EXCL with mode 0600 in
 *   the same directory, written, fsync'd, renamed over the final name, then
 *   the directory fsync'd; a crash leaves the old key or the new one, never
 *   half a key. A missing directory is created with mode 0700. The two
 *   files are renamed one after the other: a crash between the renames
 *   leaves a valid but mixed identity, which only a forced generation (an
 *   operator's deliberate act) can cause.
 *
 *   Loading opens each file once and checks that descriptor (fstat) before
 *   reading it: a regular file, no permission bit for group or others,
 *   exactly one base64 key. There is no window in which the checked file
 *   and the read file can differ.
 *
 * Private keys live in sodium_malloc'd memory (guard pages, locked when the
 * system allows), inaccessible (sodium_mprotect_noaccess) except while an
 * operation of this module uses them, and are wiped on wipe/free. They
 * leave this module only through bx_identity_x25519_private, for an engine
 * that keeps its own copy. Because of that protection toggling, one thread
 * at a time may use an identity.
 *
 * Errors are a negative errno plus a one-line message naming the file, for
 * the caller to print: this library never prints.
 */
#ifndef BX_IDENTITY_H
#define BX_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every key this module reads or writes, public or private, in bytes. */
#define BX_IDENTITY_KEY_LEN 32u
/* A key in standard base64, padding included, without the terminator. */
#define BX_IDENTITY_KEY_B64_LEN 44u
/* An Ed25519 signature. */
#define BX_IDENTITY_SIG_LEN 64u

#define BX_IDENTITY_ED25519_FILE "identity.ed25519"
#define BX_IDENTITY_X25519_FILE "identity.x25519"
#define BX_IDENTITY_FILE_MODE 0600
#define BX_IDENTITY_DIR_MODE 0700

struct bx_identity; /* opaque */

/*
 * Loads the identity stored in @dir, so a node keeps its keys across
 * restarts. Returns 0 and sets *@out (free with bx_identity_free), or a
 * negative errno, a message naming the file in @err (@errlen bytes, always
 * terminated when @errlen > 0; @err may be NULL) and *@out untouched:
 *   -ENOENT   a key file (or @dir) does not exist
 *   -EPERM    a key file has a group or other permission bit (its mode is
 *             in the message)
 *   -EINVAL   a key file is not a regular file, or does not hold exactly
 *             one base64 key of BX_IDENTITY_KEY_LEN bytes
 *   -ENAMETOOLONG, -EACCES, -EIO, -ENOMEM, ...
 */
int bx_identity_load(const char *dir, struct bx_identity **out, char *err,
		     size_t errlen);

/*
 * Creates a new identity in @dir (made, with its missing parents, mode
 * 0700) and returns it in *@out like bx_identity_load. An identity is what
 * peers and the hub know a node by, so an existing key file is never
 * replaced unless @force: -EEXIST naming it, and nothing is written. A
 * file appearing during the call is not replaced either. Errors as
 * bx_identity_load, plus what creating the directory or the files reports
 * (-ENOTDIR, -EACCES, -ENOSPC, ...); on error no final key file has been
 * changed, unless a forced generation failed between its two renames.
 */
int bx_identity_generate(const char *dir, bool force, struct bx_identity **out,
			 char *err, size_t errlen);

/*
 * First start: loads the identity in @dir, or generates one when neither
 * key file exists (@dir may not exist yet). Sets *@generated (may be NULL)
 * to whether it generated, so the caller can log that a new identity was
 * made. When exactly one key file exists it fails with -ENOENT naming the
 * missing one instead of generating: replacing half of an identity would
 * silently change who the node is. Errors as bx_identity_load and
 * bx_identity_generate.
 */
int bx_identity_load_or_generate(const char *dir, struct bx_identity **out,
				 bool *generated, char *err, size_t errlen);

/* The public keys, BX_IDENTITY_KEY_LEN bytes, valid while @id lives. */
const uint8_t *bx_identity_ed25519_public(const struct bx_identity *id);
const uint8_t *bx_identity_x25519_public(const struct bx_identity *id);

/*
 * Writes @key (BX_IDENTITY_KEY_LEN bytes) as standard base64 plus a
 * terminator to @out, the form keys take in files, configs and the CLI.
 * For public keys: a private key in a string is a leak waiting to happen.
 */
void bx_identity_key_to_b64(const uint8_t key[BX_IDENTITY_KEY_LEN],
			    char out[BX_IDENTITY_KEY_B64_LEN + 1]);

/*
 * Decodes a base64 public key (a peer's, from a config or the hub) into
 * @out. The whole string must be one key: BX_IDENTITY_KEY_B64_LEN
 * characters of standard base64, nothing around it. Returns 0, or -EINVAL
 * with @out untouched.
 */
int bx_identity_key_from_b64(const char *s, uint8_t out[BX_IDENTITY_KEY_LEN]);

/*
 * Signs @msg (@len bytes) with the Ed25519 key: a detached signature of
 * BX_IDENTITY_SIG_LEN bytes in @sig, checkable against
 * bx_identity_ed25519_public. Returns 0, or -ENOKEY after bx_identity_wipe.
 */
int bx_identity_sign(const struct bx_identity *id,
		     uint8_t sig[BX_IDENTITY_SIG_LEN], const uint8_t *msg,
		     size_t len);

/*
 * Joining the hub (proto/bauxite/v1/provisioning.proto): the node proves
 * it holds the Ed25519 key it registers by signing
 *   BX_IDENTITY_JOIN_DOMAIN "\0" || token || "\0" || node_id || "\0" ||
 *   csr || x25519_public
 * which binds the signature to that token, id, CSR and X25519 key: a
 * captured request cannot be replayed with any of them changed.
 * bx_identity_join_message builds those bytes (malloc'd, *@msg) for both
 * sides; bx_identity_join_sign signs them with @id's key and
 * bx_identity_join_verify checks a signature against a claimed Ed25519
 * public key (0, or -EBADMSG; -ENOMEM, -ENOKEY).
 */
#define BX_IDENTITY_JOIN_DOMAIN "bauxite-provision-v1"
int bx_identity_join_message(const char *token, const char *node_id,
			     const uint8_t *csr, size_t csr_len,
			     const uint8_t x25519_public[BX_IDENTITY_KEY_LEN],
			     uint8_t **msg, size_t *len);
int bx_identity_join_sign(const struct bx_identity *id, const char *token,
			  const char *node_id, const uint8_t *csr,
			  size_t csr_len, uint8_t sig[BX_IDENTITY_SIG_LEN]);
int bx_identity_join_verify(const uint8_t ed25519_public[BX_IDENTITY_KEY_LEN],
			    const char *token, const char *node_id,
			    const uint8_t *csr, size_t csr_len,
			    const uint8_t x25519_public[BX_IDENTITY_KEY_LEN],
			    const uint8_t sig[BX_IDENTITY_SIG_LEN]);

/*
 * X25519 of the static private key with a peer's public key: the
 * static-static term of the handshake, computed without the key leaving
 * this module. Returns 0 with the shared secret in @out, or
 * -EINVAL when @peer_public is a low-order point (the result would be all
 * zero, a secret any attacker knows; @out is then wiped), -ENOKEY after
 * bx_identity_wipe.
 */
int bx_identity_dh(const struct bx_identity *id,
		   uint8_t out[BX_IDENTITY_KEY_LEN],
		   const uint8_t peer_public[BX_IDENTITY_KEY_LEN]);

/*
 * Copies the X25519 private key to @out, for a handshake engine that takes
 * its static key as bytes. @out then holds a secret: keep it in memory that
 * is wiped (sodium_memzero) when done, never print or store it. Returns 0,
 * or -ENOKEY after bx_identity_wipe (@out untouched).
 */
int bx_identity_x25519_private(const struct bx_identity *id,
			       uint8_t out[BX_IDENTITY_KEY_LEN]);

/*
 * Zeroes both private keys in place (the public keys stay), for a node
 * that stops using its identity before it can free it. Later signing and
 * DH fail with -ENOKEY. NULL is fine.
 */
void bx_identity_wipe(struct bx_identity *id);

/*
 * True if every private key byte is zero, read from the key memory itself
 * rather than a flag: what bx_identity_wipe promises, checkable by tests
 * and by a shutdown assertion.
 */
bool bx_identity_is_wiped(const struct bx_identity *id);

/* Wipes the private keys and frees @id; NULL is fine. */
void bx_identity_free(struct bx_identity *id);

#endif /* BX_IDENTITY_H */
