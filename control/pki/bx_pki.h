/* SPDX-License-Identifier: Apache-2.0 */
/*
 * X.509 side of the mesh (DESIGN §4, Dispatch): the hub's certificate
 * authority, node certificates signed from a CSR, the hub's own TLS server
 * certificate, and what a node needs to join (key, CSR, CA pin). Plain C
 * over OpenSSL 3; no EAL. Used by bauxite-dispatch, the `bauxite` CLI
 * (join) and bauxite-app (its mTLS client credentials).
 *
 * Trust model
 *   One CA per hub, an ECDSA P-256 key, self-signed, pathlen 0: it signs
 *   leaf certificates only. A node makes its own P-256 key, which never
 *   leaves it, and sends a PKCS#10 CSR; the CSR only proves possession of
 *   the key. Everything else in a node certificate is the hub's decision:
 *   its only name is DNS:<node_id> (also its CN), it is for TLS clients
 *   only and is not a CA, whatever the CSR asked for. The hub's server
 *   certificate carries the names nodes dial (DNS names and IP literals).
 *   A join token carries the SHA-256 of the CA certificate's DER, which
 *   the node compares with the CA certificate the hub hands it.
 *
 * Files
 *   In the hub's CA directory (created mode 0700 when missing):
 *     ca.key   the CA private key, PEM PKCS#8, mode 0600
 *     ca.crt   the CA certificate, PEM, mode 0644
 *     hub.key  the hub's TLS server key, PEM PKCS#8, mode 0600
 *     hub.crt  the hub's TLS server certificate (leaf only), PEM, mode 0644
 *   Private key files are refused when not regular files or when any group
 *   or other permission bit is set; they are checked on the descriptor that
 *   is then read. Every write is atomic: a temporary file made O_EXCL with
 *   its final mode in the same directory, written, fsync'd, renamed, then
 *   the directory fsync'd.
 *
 * Formats and memory
 *   A "certificate PEM" here is exactly one "BEGIN CERTIFICATE" block
 *   (whitespace around it allowed, nothing else); a "key PEM" is exactly
 *   one unencrypted PKCS#8 "BEGIN PRIVATE KEY" block. Strings and buffers
 *   returned through char ** / uint8_t ** are the caller's: certificates,
 *   chains and CSRs are freed with free(); key PEMs are secrets and are
 *   freed with bx_pki_key_free, which wipes them. Key PEMs are never to be
 *   printed or logged.
 *
 * Errors are a negative errno plus a one-line message in @err naming the
 * file or the field that was wrong, for the caller to print (@err may be
 * NULL; it is always terminated when @errlen > 0). Out-parameters are
 * untouched on failure. This library never prints, and leaves OpenSSL's
 * error queue empty.
 */
#ifndef BX_PKI_H
#define BX_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BX_PKI_CA_KEY_FILE "ca.key"
#define BX_PKI_CA_CERT_FILE "ca.crt"
#define BX_PKI_SERVER_KEY_FILE "hub.key"
#define BX_PKI_SERVER_CERT_FILE "hub.crt"
#define BX_PKI_DIR_MODE 0700
#define BX_PKI_KEY_FILE_MODE 0600
#define BX_PKI_CERT_FILE_MODE 0644

/* Lifetimes, in days. */
#define BX_PKI_CA_DAYS 3650u
#define BX_PKI_SERVER_DAYS 730u
/* The server certificate is re-issued when it has this little left. */
#define BX_PKI_SERVER_RENEW_DAYS 30u
#define BX_PKI_NODE_DAYS_DEFAULT 365u
/* No node certificate is asked to outlive a CA's whole lifetime. */
#define BX_PKI_NODE_DAYS_MAX BX_PKI_CA_DAYS
/* notBefore is set this far in the past: node clocks lag the hub's. */
#define BX_PKI_BACKDATE_SECS 300

/* Serial numbers: this many bits, top bit set, the rest random. */
#define BX_PKI_SERIAL_BITS 128
/* A node id: 1..63 characters of A-Z a-z 0-9 . _ - (one DNS label's size). */
#define BX_PKI_NODE_ID_MAX 63u
/* Names in the hub's server certificate, at most. */
#define BX_PKI_SERVER_NAMES_MAX 16u
/* Inputs larger than these are refused before parsing. */
#define BX_PKI_CSR_MAX 4096u
#define BX_PKI_PEM_MAX 16384u
#define BX_PKI_SHA256_LEN 32u

struct bx_pki_ca; /* opaque */

/* What a certificate is checked for by bx_pki_cert_verify. */
enum bx_pki_role {
	BX_PKI_ROLE_NODE,   /* TLS client; one DNS SAN that is a node id */
	BX_PKI_ROLE_SERVER, /* TLS server */
};

/* What bx_pki_server_load_or_create did, for the hub to log. */
enum bx_pki_server_state {
	BX_PKI_SERVER_KEPT,     /* stored pair still good, returned as is */
	BX_PKI_SERVER_CREATED,  /* no stored pair: issued one */
	BX_PKI_SERVER_RENAMED,  /* stored names differ from the wanted ones */
	BX_PKI_SERVER_RENEWED,  /* stored one expires within RENEW_DAYS */
	BX_PKI_SERVER_REPLACED, /* stored pair unusable: unparseable, key and
				   certificate apart, or not from this CA */
};

/* ---- the hub's CA ------------------------------------------------------- */

/*
 * Loads the CA kept in @dir, or creates one there (directory made mode
 * 0700) when neither ca.key nor ca.crt exists, so the hub keeps one CA
 * across restarts and nodes keep trusting it. Sets *@created (may be NULL)
 * so the caller can log a new CA and its hash. A new CA: P-256 key,
 * CN "Bauxite mesh CA <16 hex digits>" (random, so two hubs' CAs never
 * share a subject name), basicConstraints critical CA:TRUE pathlen:0,
 * keyUsage critical keyCertSign cRLSign, subjectKeyIdentifier,
 * BX_PKI_CA_DAYS of validity. Returns 0 and *@out (free with
 * bx_pki_ca_free), or:
 *   -ENOENT     one of the two files exists without the other (the missing
 *               one is named): replacing half a CA would silently break
 *               every node's pin, so that takes an operator
 *   -EPERM      ca.key has a group or other permission bit (mode named)
 *   -EINVAL     a file is not a regular file, not the PEM this module
 *               writes, the key is not P-256, or key and certificate do not
 *               belong together, or ca.crt is not a self-signed CA
 *   -EKEYEXPIRED  ca.crt is outside its validity period
 *   -EFBIG, -EACCES, -EIO, -ENOSPC, -ENOMEM, ...
 */
int bx_pki_ca_load_or_create(const char *dir, struct bx_pki_ca **out,
			     bool *created, char *err, size_t errlen);

/* Frees @ca; its key is wiped by OpenSSL. NULL is fine. */
void bx_pki_ca_free(struct bx_pki_ca *ca);

/* The CA certificate as PEM, valid while @ca lives: what nodes trust. */
const char *bx_pki_ca_cert_pem(const struct bx_pki_ca *ca);

/* SHA-256 of the CA certificate's DER: the pin a join token carries. */
void bx_pki_ca_cert_sha256(const struct bx_pki_ca *ca,
			   uint8_t out[BX_PKI_SHA256_LEN]);

/*
 * Signs a node certificate for the key in @csr_der (@len bytes of DER
 * PKCS#10), after the hub has decided the request is @node_id's (a join
 * token). The CSR must be one DER request with nothing after it, its
 * self-signature must verify and its key must be EC P-256; its subject and
 * extensions are ignored. The certificate: subject CN=@node_id, SAN
 * DNS:@node_id only, random BX_PKI_SERIAL_BITS serial, basicConstraints
 * critical CA:FALSE, keyUsage critical digitalSignature, extendedKeyUsage
 * clientAuth, subject and authority key identifiers, valid from
 * BX_PKI_BACKDATE_SECS ago for @days (1..BX_PKI_NODE_DAYS_MAX) but never
 * past the CA's own notAfter. Returns 0 and *@cert_pem, or -EINVAL (bad
 * @node_id or @days, or a bad CSR: "csr: signature does not verify",
 * "csr: key is RSA-2048, expected EC P-256", ...), -EMSGSIZE (CSR over
 * BX_PKI_CSR_MAX bytes), -ENOMEM, -EIO. Calls may run in parallel threads
 * on one CA: signing does not change it.
 */
int bx_pki_ca_sign_node(const struct bx_pki_ca *ca, const uint8_t *csr_der,
			size_t len, const char *node_id, unsigned days,
			char **cert_pem, char *err, size_t errlen);

/*
 * Issues a TLS server certificate for a fresh P-256 key, for the hub
 * (gRPC server) to present. Each of the @n names (1..BX_PKI_SERVER_NAMES_MAX,
 * no duplicates) becomes one SAN: an IPv4 or IPv6 literal an IP SAN, any
 * other string a DNS SAN, which must then be a hostname (letters, digits,
 * hyphens, dot-separated labels of at most 63, at most 253 in all, last
 * label not all digits). extendedKeyUsage serverAuth, BX_PKI_SERVER_DAYS
 * (capped at the CA's notAfter), the rest as a node certificate. Returns 0
 * with *@key_pem (free with bx_pki_key_free) and *@cert_pem (the leaf; see
 * bx_pki_chain_pem), or -EINVAL naming the bad name, -ENOMEM, -EIO.
 */
int bx_pki_ca_issue_server(const struct bx_pki_ca *ca,
			   const char *const names[], size_t n,
			   char **key_pem, char **cert_pem, char *err,
			   size_t errlen);

/*
 * The hub's start-up: returns the server key and certificate kept in @dir
 * (hub.key, hub.crt; @dir made 0700 when missing) when they are still
 * good, otherwise issues and stores a new pair (key first, so a crash
 * between the two writes leaves a pair that is re-issued next time). Good
 * means: both parse, belong together, the certificate verifies against
 * @ca as a TLS server certificate, its SANs are exactly @names (DNS
 * compared case-insensitively, order free) and it has more than
 * BX_PKI_SERVER_RENEW_DAYS left. *@state (may be NULL) says which case it
 * was. Returns 0 with *@key_pem (bx_pki_key_free) and *@cert_pem (free),
 * or the errors of bx_pki_ca_issue_server, and -EPERM when hub.key has a
 * group or other permission bit (the key may have been exposed: an
 * operator should look, not this function silently replace it), or what
 * reading or writing the files reports (-EACCES, -EIO, -ENOSPC, ...).
 */
int bx_pki_server_load_or_create(const char *dir, const struct bx_pki_ca *ca,
				 const char *const names[], size_t n,
				 char **key_pem, char **cert_pem,
				 enum bx_pki_server_state *state, char *err,
				 size_t errlen);

/* A short lower-case word for @state, for logs; "?" for unknown values. */
const char *bx_pki_server_state_name(enum bx_pki_server_state state);

/*
 * The chain a TLS server presents: @leaf_pem then @ca_pem, each one
 * certificate PEM, each ending in a newline. Clients pin or trust the CA,
 * so it travels with the leaf. Returns the chain (free), or NULL with
 * errno EINVAL (not one certificate each) or ENOMEM.
 */
char *bx_pki_chain_pem(const char *leaf_pem, const char *ca_pem);

/* ---- the node's key and CSR -------------------------------------------- */

/*
 * Generates a P-256 key, the node's TLS key (it never leaves the node).
 * Returns 0 and *@key_pem (PKCS#8 PEM, free with bx_pki_key_free), or
 * -ENOMEM / -EIO.
 */
int bx_pki_key_generate(char **key_pem, char *err, size_t errlen);

/* Wipes and frees a key PEM from this module. NULL is fine. */
void bx_pki_key_free(char *key_pem);

/*
 * Writes @key_pem (must be a P-256 key PEM) to @path atomically with mode
 * BX_PKI_KEY_FILE_MODE. The directory must exist. An existing file is
 * replaced only if @replace: otherwise -EEXIST naming it (also when one
 * appears during the call). Returns 0, -EINVAL (not a key PEM), or what
 * the file system reports, naming the file.
 */
int bx_pki_key_write(const char *path, const char *key_pem, bool replace,
		     char *err, size_t errlen);

/*
 * Reads a key file written by bx_pki_key_write, for a node starting its
 * mTLS client. Returns 0 and *@key_pem (bx_pki_key_free), or -ENOENT,
 * -EPERM (group or other permission bit, mode named), -EINVAL (not a
 * regular file, not a P-256 key PEM), -EFBIG (over BX_PKI_PEM_MAX bytes),
 * -EACCES, -EIO, ... naming the file.
 */
int bx_pki_key_read(const char *path, char **key_pem, char *err,
		    size_t errlen);

/*
 * Writes @cert_pem (one certificate PEM) to @path like bx_pki_key_write,
 * with mode BX_PKI_CERT_FILE_MODE: certificates are public.
 */
int bx_pki_cert_write(const char *path, const char *cert_pem, bool replace,
		      char *err, size_t errlen);

/*
 * Reads one certificate PEM from @path (any mode). Returns 0 and
 * *@cert_pem (free), or -ENOENT, -EINVAL, -EFBIG, ... naming the file.
 */
int bx_pki_cert_read(const char *path, char **cert_pem, char *err,
		     size_t errlen);

/*
 * Makes the CSR a node sends when it joins: subject CN=@node_id, SAN
 * DNS:@node_id (informative: the hub decides the names), signed
 * ECDSA-SHA256 with @key_pem (a P-256 key PEM). Returns 0 with *@der and
 * *@len (free *@der), or -EINVAL (bad key or node id), -ENOMEM, -EIO.
 */
int bx_pki_csr_make(const char *key_pem, const char *node_id, uint8_t **der,
		    size_t *len, char *err, size_t errlen);

/* ---- inspection --------------------------------------------------------- */

/* True if @id is a node id: 1..BX_PKI_NODE_ID_MAX of [A-Za-z0-9._-]. */
bool bx_pki_node_id_valid(const char *id);

/*
 * SHA-256 of the DER inside @pem (one certificate PEM): what a node
 * compares with its join token's CA pin. Returns 0, or -EINVAL with @out
 * untouched.
 */
int bx_pki_cert_sha256_pem(const char *pem, uint8_t out[BX_PKI_SHA256_LEN]);

/*
 * The node id a node certificate names: its only SAN, a DNS name that is
 * a valid node id; how the hub learns who is on the other end of an mTLS
 * connection. Returns 0 with @id filled, -EINVAL (not one certificate PEM,
 * or not exactly one SAN that is a DNS node id), or -ERANGE (@idlen too
 * small; BX_PKI_NODE_ID_MAX + 1 is always enough).
 */
int bx_pki_cert_node_id(const char *cert_pem, char *id, size_t idlen);

/*
 * Checks @cert_pem against the CA in @ca_pem for @role at the current
 * time: chain to that CA only, validity, not a CA itself, an
 * extendedKeyUsage that is present and includes clientAuth (node) or
 * serverAuth (server), and for a node exactly one DNS SAN that is a node
 * id. Returns 0, -EINVAL (a PEM is not one certificate), -EKEYEXPIRED
 * (expired or not yet valid), or -EKEYREJECTED with the reason in @err.
 */
int bx_pki_cert_verify(const char *ca_pem, const char *cert_pem,
		       enum bx_pki_role role, char *err, size_t errlen);

/*
 * The certificate's notAfter as Unix seconds, for renewal and status.
 * Returns 0, or -EINVAL with *@not_after untouched.
 */
int bx_pki_cert_not_after(const char *cert_pem, int64_t *not_after);

/*
 * Join tokens as operators pass them around: "<credential>.<pin>", the
 * hub's one-time credential (its store's "<id>.<secret>", no '.' in
 * either part but the one between them) and the SHA-256 of the hub CA's
 * DER encoding, base64url without padding (BX_PKI_PIN_B64_LEN
 * characters). The joining node checks the hub by the pin before it sends
 * the credential: a token alone is enough to join, no other trust needed.
 *
 * bx_pki_join_token_make writes the token into @out (@outlen bytes):
 * 0, -EINVAL (a credential that is not "<a>.<b>"), -ENOSPC.
 * bx_pki_join_token_parse splits @token: the credential into @cred
 * (@credlen bytes) and the pin into @pin: 0, or -EINVAL with @err saying
 * what is wrong with it (never quoting the secret).
 */
#define BX_PKI_PIN_B64_LEN 43u
int bx_pki_join_token_make(const char *credential,
			   const uint8_t pin[BX_PKI_SHA256_LEN], char *out,
			   size_t outlen);
int bx_pki_join_token_parse(const char *token, char *cred, size_t credlen,
			    uint8_t pin[BX_PKI_SHA256_LEN], char *err,
			    size_t errlen);

#endif /* BX_PKI_H */
