/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hub's CA, node and server certificates, the node's key and CSR, and
 * their files. See bx_pki.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "bx_common.h"
#include "bx_pki.h"

#define SECS_PER_DAY 86400
#define CA_CN_PREFIX "Bauxite mesh CA "
#define CA_CN_RANDOM_BYTES 8u
/* Hostname checks use the SANs (RFC 6125), so the CN is only a label. */
#define SERVER_CN "Bauxite hub"
/* Random hex digits in a temporary file's name. */
#define TMP_RANDOM_BYTES 8u
#define TMP_NAME_EXTRA (sizeof(".") - 1 + sizeof(".tmp-") - 1 + \
			2 * TMP_RANDOM_BYTES)
#define DNS_NAME_MAX 253u
#define DNS_LABEL_MAX 63u
#define IP_ADDR_MAX 16u
#define GROUP_NAME_MAX 64u
#define KEY_KIND_MAX (GROUP_NAME_MAX + 16u)
#define PEM_CERT_LABEL "CERTIFICATE"
#define PEM_KEY_LABEL "PRIVATE KEY"
#define PEM_BEGIN "-----BEGIN "
#define KEY_HINT "expected an unencrypted EC P-256 key in PKCS#8 PEM (BEGIN PRIVATE KEY)"
#define CERT_HINT "expected one PEM certificate (BEGIN CERTIFICATE)"

struct bx_pki_ca {
	EVP_PKEY *key;
	X509 *cert;
	char *cert_pem;
	uint8_t sha256[BX_PKI_SHA256_LEN];
	int64_t not_after;
};

/* A server name, parsed: an IP SAN when ip_len is 4 or 16, else DNS. */
struct server_name {
	const char *text;
	uint8_t ip[IP_ADDR_MAX];
	size_t ip_len;
};

/* One X.509v3 extension in OpenSSL's configuration syntax. */
struct ext {
	int nid;
	const char *value;
};

/* What the hub puts in a certificate it issues. */
struct cert_spec {
	const char *cn;
	EVP_PKEY *subject_key;          /* its public half is certified */
	const struct bx_pki_ca *issuer; /* NULL: self-signed by subject_key */
	int64_t not_before, not_after;
	const struct ext *exts;
	size_t n_exts;
	GENERAL_NAMES *san; /* NULL: none */
};

static const struct ext ca_exts[] = {
	{ NID_basic_constraints, "critical,CA:TRUE,pathlen:0" },
	{ NID_key_usage, "critical,keyCertSign,cRLSign" },
	{ NID_subject_key_identifier, "hash" },
};

static const struct ext node_exts[] = {
	{ NID_basic_constraints, "critical,CA:FALSE" },
	{ NID_key_usage, "critical,digitalSignature" },
	{ NID_ext_key_usage, "clientAuth" },
	{ NID_subject_key_identifier, "hash" },
	{ NID_authority_key_identifier, "keyid:always" },
};

/* digitalSignature is all an ECDSA key needs for ECDHE TLS. */
static const struct ext server_exts[] = {
	{ NID_basic_constraints, "critical,CA:FALSE" },
	{ NID_key_usage, "critical,digitalSignature" },
	{ NID_ext_key_usage, "serverAuth" },
	{ NID_subject_key_identifier, "hash" },
	{ NID_authority_key_identifier, "keyid:always" },
};

static int __attribute__((format(printf, 4, 5)))
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

/* OpenSSL's reason for its latest failure, to complete a message. */
static const char *
ossl_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());

	return r != NULL ? r : "no detail";
}

/* ASCII only: these checks must not depend on the caller's locale. */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool
equal_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;

	if (alen != blen)
		return false;
	for (i = 0; i < alen; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

static void
hex_encode(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int
asn1_to_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static int64_t
min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* ---- PEM and DER -------------------------------------------------------- */

/*
 * Decodes @pem, which must be exactly one PEM block labelled @label, with
 * no headers (so no encryption) and only whitespace around it, into its
 * DER bytes; PEM_read_bio alone would skip text before the block and
 * ignore anything after it. @secret: the bytes are a private key, read
 * through OpenSSL's secure buffers; free them with
 * OPENSSL_secure_clear_free.
 */
static int
pem_decode(const char *pem, const char *label, bool secret,
	   unsigned char **der, long *len)
{
	unsigned int flags = PEM_FLAG_EAY_COMPATIBLE |
			     (secret ? PEM_FLAG_SECURE : 0u);
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	const char *p = pem;
	long dlen = 0;
	BIO *bio;
	size_t n;
	char c;
	int rc = -EINVAL;

	if (pem == NULL)
		return -EINVAL;
	n = strnlen(pem, BX_PKI_PEM_MAX + 1);
	if (n > BX_PKI_PEM_MAX)
		return -EINVAL;
	while (is_space(*p))
		p++;
	if (strncmp(p, PEM_BEGIN, strlen(PEM_BEGIN)) != 0)
		return -EINVAL;
	bio = BIO_new_mem_buf(p, (int)(n - (size_t)(p - pem)));
	if (bio == NULL)
		return -ENOMEM;
	if (PEM_read_bio_ex(bio, &name, &header, &data, &dlen, flags) != 1)
		goto out;
	if (strcmp(name, label) != 0 || header[0] != '\0' || dlen <= 0)
		goto out;
	while (BIO_read(bio, &c, 1) == 1)
		if (!is_space(c))
			goto out;
	*der = data;
	*len = dlen;
	data = NULL;
	rc = 0;
out:
	if (secret) {
		OPENSSL_secure_clear_free(data, (size_t)dlen);
		OPENSSL_secure_free(name);
		OPENSSL_secure_free(header);
	} else {
		OPENSSL_free(data);
		OPENSSL_free(name);
		OPENSSL_free(header);
	}
	BIO_free(bio);
	return rc;
}

/* One certificate PEM to its X509 and, if @der is not NULL, its DER. */
static int
cert_decode(const char *pem, X509 **out, unsigned char **der, long *len)
{
	unsigned char *data = NULL;
	const unsigned char *p;
	long dlen = 0;
	X509 *x;
	int rc;

	rc = pem_decode(pem, PEM_CERT_LABEL, false, &data, &dlen);
	if (rc < 0)
		return rc;
	p = data;
	x = d2i_X509(NULL, &p, dlen);
	if (x == NULL || p != data + dlen) {
		X509_free(x);
		OPENSSL_free(data);
		return -EINVAL;
	}
	*out = x;
	if (der != NULL) {
		*der = data;
		*len = dlen;
	} else {
		OPENSSL_free(data);
	}
	return 0;
}

/* A malloc'd, terminated copy of a memory BIO's contents. */
static int
bio_to_string(BIO *bio, char **out)
{
	char *data = NULL, *s;
	long n;

	n = BIO_get_mem_data(bio, &data);
	if (n <= 0)
		return -EIO;
	s = malloc((size_t)n + 1);
	if (s == NULL)
		return -ENOMEM;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	*out = s;
	return 0;
}

static int
cert_to_pem(X509 *x, char **out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int rc;

	if (bio == NULL)
		return -ENOMEM;
	rc = PEM_write_bio_X509(bio, x) == 1 ? bio_to_string(bio, out) : -EIO;
	BIO_free(bio);
	return rc;
}

static bool
is_p256(const EVP_PKEY *pk)
{
	char group[GROUP_NAME_MAX];
	size_t glen = 0;
	int nid;

	if (!EVP_PKEY_is_a(pk, "EC") ||
	    EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) != 1)
		return false;
	nid = OBJ_sn2nid(group);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(group);
	return nid == NID_X9_62_prime256v1;
}

/* "RSA-2048", "EC P-384", "ED25519": for "key is X, expected EC P-256". */
static void
key_describe(const EVP_PKEY *pk, char *buf, size_t size)
{
	char group[GROUP_NAME_MAX];
	const char *name;
	size_t glen = 0;
	int nid;

	if (EVP_PKEY_is_a(pk, "RSA")) {
		snprintf(buf, size, "RSA-%d", EVP_PKEY_get_bits(pk));
	} else if (EVP_PKEY_is_a(pk, "EC")) {
		if (EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) != 1) {
			snprintf(buf, size, "EC on an unnamed curve");
			return;
		}
		nid = OBJ_sn2nid(group);
		name = nid != NID_undef ? EC_curve_nid2nist(nid) : NULL;
		snprintf(buf, size, "EC %s", name != NULL ? name : group);
	} else {
		name = EVP_PKEY_get0_type_name(pk);
		snprintf(buf, size, "%s", name != NULL ? name : "of an unknown type");
	}
}

/*
 * A P-256 private key from its PEM; @what names the source (a path, or a
 * field) in messages.
 */
static int
key_decode(const char *pem, const char *what, EVP_PKEY **out, char *err,
	   size_t errlen)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *der = NULL;
	char kind[KEY_KIND_MAX];
	const unsigned char *p;
	EVP_PKEY *pk = NULL;
	long len = 0;
	int rc;

	rc = pem_decode(pem, PEM_KEY_LABEL, true, &der, &len);
	if (rc < 0)
		return fail(err, errlen, rc, "%s: %s", what, KEY_HINT);
	p = der;
	p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len);
	if (p8 != NULL && p == der + len)
		pk = EVP_PKCS82PKEY(p8);
	if (pk == NULL) {
		rc = fail(err, errlen, -EINVAL, "%s: %s", what, KEY_HINT);
		goto out;
	}
	if (!is_p256(pk)) {
		key_describe(pk, kind, sizeof(kind));
		rc = fail(err, errlen, -EINVAL, "%s: key is %s, expected EC P-256",
			  what, kind);
		goto out;
	}
	*out = pk;
	pk = NULL;
out:
	EVP_PKEY_free(pk);
	PKCS8_PRIV_KEY_INFO_free(p8);
	OPENSSL_secure_clear_free(der, (size_t)len);
	return rc;
}

/* PKCS#8 PEM of @pk in wiped memory: free with bx_pki_key_free. */
static int
key_encode(EVP_PKEY *pk, char **out)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data = NULL, *s;
	long n;
	int rc = -EIO;

	if (bio == NULL)
		return -ENOMEM;
	if (PEM_write_bio_PKCS8PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0)
		goto out;
	s = OPENSSL_malloc((size_t)n + 1);
	if (s == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	*out = s;
	rc = 0;
out:
	BIO_free(bio); /* a secure memory BIO wipes its buffer */
	return rc;
}

/* ---- files -------------------------------------------------------------- */

/* Creates @dir and its missing parents, each new one with mode 0700. */
static int
make_dirs(const char *dir, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	size_t len = strlen(dir), i;
	int rc;

	if (len == 0)
		return fail(err, errlen, -EINVAL, "empty directory name");
	if (len >= sizeof(buf))
		return fail(err, errlen, -ENAMETOOLONG, "%s: path too long", dir);
	memcpy(buf, dir, len + 1);
	/* Each prefix ending before a '/', then the whole path. */
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, BX_PKI_DIR_MODE) < 0 && errno != EEXIST) {
			rc = -errno;
			return fail(err, errlen, rc,
				    "%s: cannot create directory: %s", buf,
				    strerror(-rc));
		}
		buf[i] = dir[i];
	}
	return 0;
}

static int
join_path(char *buf, size_t size, const char *dir, const char *name,
	  char *err, size_t errlen)
{
	int n;

	/* "" would name files in the root directory. */
	if (dir == NULL || dir[0] == '\0')
		return fail(err, errlen, -EINVAL, "empty directory name");
	n = snprintf(buf, size, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= size)
		return fail(err, errlen, -ENAMETOOLONG, "%s/%s: path too long",
			    dir, name);
	return 0;
}

/* True unless @path is known not to exist: a dangling link exists. */
static bool
may_exist(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 || errno != ENOENT;
}

/*
 * Reads @path whole into a malloc'd terminated string (OPENSSL_malloc'd
 * and wiped on every path when @secret). Open first, then fstat and read
 * that descriptor: what was checked is what is read. A secret file must
 * have no group or other permission bit.
 */
static int
read_file(const char *path, bool secret, char **out, char *err,
	  size_t errlen)
{
	char buf[BX_PKI_PEM_MAX + 1];
	size_t n = 0;
	struct stat st;
	char *s;
	ssize_t r;
	int fd, rc = 0;

	if (path == NULL || path[0] == '\0')
		return fail(err, errlen, -EINVAL, "empty file name");
	/* O_NONBLOCK: a FIFO must not hang the caller before fstat refuses it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		return fail(err, errlen, rc, "%s: %s", path, strerror(-rc));
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		fail(err, errlen, rc, "%s: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = fail(err, errlen, -EINVAL, "%s is not a regular file", path);
		goto out;
	}
	if (secret && (st.st_mode & 077) != 0) {
		rc = fail(err, errlen, -EPERM,
			  "%s has mode %04o; a private key must not be accessible by group or others (chmod 600)",
			  path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while (n < sizeof(buf)) {
		r = read(fd, buf + n, sizeof(buf) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			fail(err, errlen, rc, "%s: %s", path, strerror(-rc));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > BX_PKI_PEM_MAX) {
		rc = fail(err, errlen, -EFBIG, "%s: larger than %u bytes", path,
			  BX_PKI_PEM_MAX);
		goto out;
	}
	if (memchr(buf, '\0', n) != NULL) {
		rc = fail(err, errlen, -EINVAL, "%s: contains a NUL byte", path);
		goto out;
	}
	s = secret ? OPENSSL_malloc(n + 1) : malloc(n + 1);
	if (s == NULL) {
		rc = fail(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	memcpy(s, buf, n);
	s[n] = '\0';
	*out = s;
out:
	if (secret)
		OPENSSL_cleanse(buf, n);
	close(fd);
	return rc;
}

/*
 * Publishes temporary @tmp as @name in @dirfd. Without @replace the rename
 * must not replace a file (RENAME_NOREPLACE, or link + unlink on file
 * systems without it): a file appearing since the caller looked is kept.
 */
static int
publish(int dirfd, const char *tmp, const char *name, bool replace)
{
	int rc;

	if (replace)
		rc = renameat(dirfd, tmp, dirfd, name);
	else
		rc = renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE);
	if (rc < 0 && !replace && (errno == EINVAL || errno == ENOSYS)) {
		rc = linkat(dirfd, tmp, dirfd, name, 0);
		if (rc == 0)
			(void)unlinkat(dirfd, tmp, 0);
	}
	return rc < 0 ? -errno : 0;
}

/*
 * Writes @text to @path atomically with exactly @mode: a temporary file
 * in the same directory made O_EXCL with @mode (the umask does not decide:
 * fchmod), written, fsync'd, renamed, then the directory fsync'd. The
 * temporary name is random, so a stale one left by a crash never blocks
 * the next attempt.
 */
static int
write_file(const char *path, const char *text, mode_t mode, bool replace,
	   char *err, size_t errlen)
{
	char dir[PATH_MAX], tmp[NAME_MAX + 1], hex[2 * TMP_RANDOM_BYTES + 1];
	uint8_t rnd[TMP_RANDOM_BYTES];
	size_t len = strlen(text), done = 0;
	const char *slash, *base;
	bool created = false;
	int dirfd, fd, rc = 0;
	ssize_t w;

	if (path == NULL || path[0] == '\0')
		return fail(err, errlen, -EINVAL, "empty file name");
	slash = strrchr(path, '/');
	base = slash != NULL ? slash + 1 : path;
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return fail(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
	if (base[0] == '\0')
		return fail(err, errlen, -EINVAL, "%s: not a file name", path);
	if (strlen(base) + TMP_NAME_EXTRA > NAME_MAX)
		return fail(err, errlen, -ENAMETOOLONG, "%s: name too long", path);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		rc = -errno;
		return fail(err, errlen, rc, "%s: %s", dir, strerror(-rc));
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		rc = fail(err, errlen, -EIO, "%s: no random bytes for a temporary name",
			  path);
		goto out;
	}
	hex_encode(hex, rnd, sizeof(rnd));
	snprintf(tmp, sizeof(tmp), ".%s.tmp-%s", base, hex);
	fd = openat(dirfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		rc = -errno;
		fail(err, errlen, rc, "%s/%s: %s", dir, tmp, strerror(-rc));
		goto out;
	}
	created = true;
	if (fchmod(fd, mode) < 0)
		rc = -errno;
	while (rc == 0 && done < len) {
		w = write(fd, text + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = -errno;
		else
			done += (size_t)w;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		fail(err, errlen, rc, "%s/%s: %s", dir, tmp, strerror(-rc));
		goto out;
	}
	rc = publish(dirfd, tmp, base, replace);
	if (rc == -EEXIST) {
		fail(err, errlen, rc, "%s exists; refusing to replace it", path);
		goto out;
	}
	if (rc < 0) {
		fail(err, errlen, rc, "%s: %s", path, strerror(-rc));
		goto out;
	}
	created = false;
	if (fsync(dirfd) < 0) {
		rc = -errno;
		fail(err, errlen, rc, "%s: %s", dir, strerror(-rc));
	}
out:
	if (created)
		(void)unlinkat(dirfd, tmp, 0);
	close(dirfd);
	return rc;
}

/* ---- names -------------------------------------------------------------- */

static int
node_id_refused(char *err, size_t errlen)
{
	return fail(err, errlen, -EINVAL,
		    "node id: must be 1 to %u characters of A-Z a-z 0-9 . _ -",
		    BX_PKI_NODE_ID_MAX);
}

bool
bx_pki_node_id_valid(const char *id)
{
	size_t i;

	if (id == NULL)
		return false;
	for (i = 0; id[i] != '\0'; i++) {
		if (i == BX_PKI_NODE_ID_MAX)
			return false;
		if (!is_alnum(id[i]) && id[i] != '.' && id[i] != '_' &&
		    id[i] != '-')
			return false;
	}
	return i > 0;
}

/*
 * A hostname (RFC 1123): dot-separated labels of letters, digits and inner
 * hyphens, at most 63 each and 253 in all. The last label must not be all
 * digits, so a mistyped IPv4 literal ("10.0.0.256") is not taken for one.
 */
static bool
is_hostname(const char *s)
{
	size_t len = strlen(s), label = 0, i;
	bool digits = true;

	if (len == 0 || len > DNS_NAME_MAX)
		return false;
	for (i = 0; i <= len; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			if (s[i] == '\0')
				return !digits;
			label = 0;
			digits = true;
			continue;
		}
		if (!is_alnum(s[i]) && s[i] != '-')
			return false;
		if ((label == 0 && s[i] == '-') || ++label > DNS_LABEL_MAX)
			return false;
		if (s[i] < '0' || s[i] > '9')
			digits = false;
	}
	return false;
}

static bool
same_name(const struct server_name *a, const struct server_name *b)
{
	if (a->ip_len != b->ip_len)
		return false;
	if (a->ip_len != 0)
		return memcmp(a->ip, b->ip, a->ip_len) == 0;
	return equal_nocase(a->text, strlen(a->text), b->text, strlen(b->text));
}

static int
names_parse(const char *const names[], size_t n, struct server_name *out,
	    char *err, size_t errlen)
{
	size_t i, j;

	if (names == NULL || n == 0 || n > BX_PKI_SERVER_NAMES_MAX)
		return fail(err, errlen, -EINVAL,
			    "server names: %zu given, expected 1 to %u", n,
			    BX_PKI_SERVER_NAMES_MAX);
	for (i = 0; i < n; i++) {
		if (names[i] == NULL)
			return fail(err, errlen, -EINVAL,
				    "server name %zu: missing", i);
		out[i].text = names[i];
		out[i].ip_len = 0;
		if (inet_pton(AF_INET, names[i], out[i].ip) == 1)
			out[i].ip_len = 4;
		else if (inet_pton(AF_INET6, names[i], out[i].ip) == 1)
			out[i].ip_len = 16;
		else if (!is_hostname(names[i]))
			return fail(err, errlen, -EINVAL,
				    "server name \"%.*s\": neither an IP address nor a hostname",
				    (int)DNS_NAME_MAX, names[i]);
		for (j = 0; j < i; j++)
			if (same_name(&out[i], &out[j]))
				return fail(err, errlen, -EINVAL,
					    "server name \"%s\": listed twice",
					    names[i]);
	}
	return 0;
}

/* Appends a DNS (IA5String) or IP (OCTET STRING) name to @g. */
static int
san_push(GENERAL_NAMES *g, int type, const void *data, size_t len)
{
	ASN1_STRING *s = type == GEN_DNS ? ASN1_IA5STRING_new()
					 : ASN1_OCTET_STRING_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();

	if (s == NULL || gn == NULL || ASN1_STRING_set(s, data, (int)len) != 1)
		goto failed;
	GENERAL_NAME_set0_value(gn, type, s);
	s = NULL; /* owned by gn */
	if (sk_GENERAL_NAME_push(g, gn) <= 0)
		goto failed;
	return 0;
failed:
	ASN1_STRING_free(s);
	GENERAL_NAME_free(gn);
	return -ENOMEM;
}

static GENERAL_NAMES *
san_new(const struct server_name *names, size_t n)
{
	GENERAL_NAMES *g = GENERAL_NAMES_new();
	size_t i;
	int rc = 0;

	for (i = 0; g != NULL && rc == 0 && i < n; i++) {
		if (names[i].ip_len != 0)
			rc = san_push(g, GEN_IPADD, names[i].ip, names[i].ip_len);
		else
			rc = san_push(g, GEN_DNS, names[i].text,
				      strlen(names[i].text));
	}
	if (rc < 0) {
		GENERAL_NAMES_free(g);
		return NULL;
	}
	return g;
}

static bool
san_has(const GENERAL_NAMES *g, const struct server_name *name)
{
	const ASN1_STRING *v;
	const char *data;
	size_t len;
	int i, type;

	for (i = 0; i < sk_GENERAL_NAME_num(g); i++) {
		v = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(g, i), &type);
		data = (const char *)ASN1_STRING_get0_data(v);
		len = (size_t)ASN1_STRING_length(v);
		if (name->ip_len != 0 && type == GEN_IPADD &&
		    len == name->ip_len && memcmp(data, name->ip, len) == 0)
			return true;
		if (name->ip_len == 0 && type == GEN_DNS &&
		    equal_nocase(data, len, name->text, strlen(name->text)))
			return true;
	}
	return false;
}

/*
 * True if @x's SANs are exactly @names: as many, and each name found.
 * The names are pairwise different, so that is a one-to-one match.
 */
static bool
san_matches(X509 *x, const struct server_name *names, size_t n)
{
	GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool ok = g != NULL && (size_t)sk_GENERAL_NAME_num(g) == n;
	size_t i;

	for (i = 0; ok && i < n; i++)
		ok = san_has(g, &names[i]);
	GENERAL_NAMES_free(g);
	return ok;
}

/* The node id in @x's only SAN, a DNS name; -EINVAL if it has no such. */
static int
cert_node_id(X509 *x, char *id, size_t idlen)
{
	GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	char buf[BX_PKI_NODE_ID_MAX + 1];
	const ASN1_STRING *v;
	int type, len, rc = -EINVAL;

	if (g == NULL || sk_GENERAL_NAME_num(g) != 1)
		goto out;
	v = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(g, 0), &type);
	len = ASN1_STRING_length(v);
	if (type != GEN_DNS || len < 1 || len > (int)BX_PKI_NODE_ID_MAX)
		goto out;
	memcpy(buf, ASN1_STRING_get0_data(v), (size_t)len);
	buf[len] = '\0';
	/* strlen: an embedded NUL would hide the rest of the name. */
	if (strlen(buf) != (size_t)len || !bx_pki_node_id_valid(buf))
		goto out;
	if (idlen < (size_t)len + 1) {
		rc = -ERANGE;
		goto out;
	}
	memcpy(id, buf, (size_t)len + 1);
	rc = 0;
out:
	GENERAL_NAMES_free(g);
	return rc;
}

/* ---- issuing ------------------------------------------------------------ */

static int
add_ext(X509 *x, X509V3_CTX *ctx, const struct ext *e)
{
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, ctx, e->nid, e->value);
	int ok;

	if (ex == NULL)
		return -EIO;
	ok = X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	return ok == 1 ? 0 : -ENOMEM;
}

/* A certificate as @s says, with a fresh random serial, signed SHA-256. */
static int
cert_build(const struct cert_spec *s, X509 **out)
{
	X509 *x = X509_new(), *issuer_cert;
	X509_NAME *name = X509_NAME_new();
	BIGNUM *serial = BN_new();
	EVP_PKEY *signer;
	X509V3_CTX ctx;
	size_t i;
	int rc = -ENOMEM;

	if (x == NULL || name == NULL || serial == NULL)
		goto out;
	issuer_cert = s->issuer != NULL ? s->issuer->cert : x;
	signer = s->issuer != NULL ? s->issuer->key : s->subject_key;
	rc = -EIO;
	/* BN_RAND_TOP_ONE: exactly BX_PKI_SERIAL_BITS long, never zero. */
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    BN_rand(serial, BX_PKI_SERIAL_BITS, BN_RAND_TOP_ONE,
		    BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) == NULL)
		goto out;
	if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
				       (const unsigned char *)s->cn, -1, -1,
				       0) != 1 ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(issuer_cert)) != 1)
		goto out;
	if (ASN1_TIME_set(X509_getm_notBefore(x), (time_t)s->not_before) ==
		    NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)s->not_after) == NULL ||
	    X509_set_pubkey(x, s->subject_key) != 1)
		goto out;
	X509V3_set_ctx(&ctx, issuer_cert, x, NULL, NULL, 0);
	for (i = 0; i < s->n_exts; i++) {
		rc = add_ext(x, &ctx, &s->exts[i]);
		if (rc < 0)
			goto out;
	}
	rc = -EIO;
	if (s->san != NULL &&
	    X509_add1_ext_i2d(x, NID_subject_alt_name, s->san, 0,
			      X509V3_ADD_DEFAULT) != 1)
		goto out;
	if (X509_sign(x, signer, EVP_sha256()) <= 0)
		goto out;
	*out = x;
	x = NULL;
	rc = 0;
out:
	X509_free(x);
	X509_NAME_free(name);
	BN_free(serial);
	return rc;
}

/* A leaf's notAfter: @days from now, but never past the CA's own. */
static int64_t
leaf_not_after(const struct bx_pki_ca *ca, int64_t now, unsigned days)
{
	return min64(now + (int64_t)days * SECS_PER_DAY, ca->not_after);
}

/* Takes @key and @cert on success only. */
static int
ca_new(EVP_PKEY *key, X509 *cert, struct bx_pki_ca **out)
{
	struct bx_pki_ca *ca = calloc(1, sizeof(*ca));
	unsigned char *der = NULL;
	int len, rc = -ENOMEM;

	if (ca == NULL)
		return -ENOMEM;
	len = i2d_X509(cert, &der);
	if (len <= 0)
		goto failed;
	rc = -EIO;
	if (EVP_Digest(der, (size_t)len, ca->sha256, NULL, EVP_sha256(),
		       NULL) != 1 ||
	    asn1_to_unix(X509_get0_notAfter(cert), &ca->not_after) < 0)
		goto failed;
	rc = cert_to_pem(cert, &ca->cert_pem);
	if (rc < 0)
		goto failed;
	OPENSSL_free(der);
	ca->key = key;
	ca->cert = cert;
	*out = ca;
	return 0;
failed:
	OPENSSL_free(der);
	free(ca);
	return rc;
}

void
bx_pki_ca_free(struct bx_pki_ca *ca)
{
	if (ca == NULL)
		return;
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	free(ca->cert_pem);
	free(ca);
}

/* The loaded pair must be a P-256 CA whose key signs its own certificate. */
static int
ca_check(EVP_PKEY *key, X509 *cert, const char *key_path,
	 const char *crt_path, char *err, size_t errlen)
{
	int64_t now = (int64_t)time(NULL), nb, na;

	if (X509_check_private_key(cert, key) != 1)
		return fail(err, errlen, -EINVAL, "%s does not belong to %s",
			    key_path, crt_path);
	if (X509_check_ca(cert) != 1 ||
	    (X509_get_key_usage(cert) & KU_KEY_CERT_SIGN) == 0)
		return fail(err, errlen, -EINVAL, "%s: not a CA certificate",
			    crt_path);
	if (X509_self_signed(cert, 1) != 1)
		return fail(err, errlen, -EINVAL, "%s: not self-signed",
			    crt_path);
	if (asn1_to_unix(X509_get0_notBefore(cert), &nb) < 0 ||
	    asn1_to_unix(X509_get0_notAfter(cert), &na) < 0)
		return fail(err, errlen, -EINVAL, "%s: unreadable validity dates",
			    crt_path);
	if (now < nb || now > na)
		return fail(err, errlen, -EKEYEXPIRED,
			    "%s: valid only from %lld to %lld (Unix time), now is %lld",
			    crt_path, (long long)nb, (long long)na,
			    (long long)now);
	return 0;
}

static int
ca_load(const char *key_path, const char *crt_path, struct bx_pki_ca **out,
	char *err, size_t errlen)
{
	char *key_pem = NULL, *crt_pem = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int rc;

	rc = read_file(key_path, true, &key_pem, err, errlen);
	if (rc < 0)
		goto out;
	rc = key_decode(key_pem, key_path, &key, err, errlen);
	if (rc < 0)
		goto out;
	rc = read_file(crt_path, false, &crt_pem, err, errlen);
	if (rc < 0)
		goto out;
	rc = cert_decode(crt_pem, &cert, NULL, NULL);
	if (rc < 0) {
		fail(err, errlen, rc, "%s: %s", crt_path, CERT_HINT);
		goto out;
	}
	rc = ca_check(key, cert, key_path, crt_path, err, errlen);
	if (rc < 0)
		goto out;
	rc = ca_new(key, cert, out);
	if (rc < 0) {
		fail(err, errlen, rc, "%s: %s", crt_path, strerror(-rc));
		goto out;
	}
	key = NULL;
	cert = NULL;
out:
	bx_pki_key_free(key_pem);
	free(crt_pem);
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

static int
ca_create(const char *dir, const char *key_path, const char *crt_path,
	  struct bx_pki_ca **out, char *err, size_t errlen)
{
	char cn[sizeof(CA_CN_PREFIX) + 2 * CA_CN_RANDOM_BYTES];
	uint8_t rnd[CA_CN_RANDOM_BYTES];
	int64_t now = (int64_t)time(NULL);
	struct cert_spec spec = {
		.cn = cn,
		.not_before = now - BX_PKI_BACKDATE_SECS,
		.not_after = now + (int64_t)BX_PKI_CA_DAYS * SECS_PER_DAY,
		.exts = ca_exts,
		.n_exts = BX_ARRAY_SIZE(ca_exts),
	};
	struct bx_pki_ca *ca = NULL;
	char *key_pem = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int rc;

	rc = make_dirs(dir, err, errlen);
	if (rc < 0)
		return rc;
	key = EVP_EC_gen("P-256");
	if (key == NULL || RAND_bytes(rnd, sizeof(rnd)) != 1) {
		rc = fail(err, errlen, -EIO, "%s: CA key generation failed (%s)",
			  key_path, ossl_reason());
		goto out;
	}
	memcpy(cn, CA_CN_PREFIX, sizeof(CA_CN_PREFIX) - 1);
	hex_encode(cn + sizeof(CA_CN_PREFIX) - 1, rnd, sizeof(rnd));
	spec.subject_key = key;
	rc = cert_build(&spec, &cert);
	if (rc == 0)
		rc = key_encode(key, &key_pem);
	if (rc == 0)
		rc = ca_new(key, cert, &ca);
	if (rc < 0) {
		fail(err, errlen, rc, "%s: cannot make the CA certificate (%s)",
		     crt_path, ossl_reason());
		goto out;
	}
	key = NULL;
	cert = NULL;
	rc = write_file(key_path, key_pem, BX_PKI_KEY_FILE_MODE, false, err,
			errlen);
	if (rc < 0)
		goto out;
	rc = write_file(crt_path, ca->cert_pem, BX_PKI_CERT_FILE_MODE, false,
			err, errlen);
	if (rc < 0) {
		/* Ours, just made: without its certificate it is half a CA. */
		(void)unlink(key_path);
		goto out;
	}
	*out = ca;
	ca = NULL;
out:
	bx_pki_key_free(key_pem);
	bx_pki_ca_free(ca);
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

int
bx_pki_ca_load_or_create(const char *dir, struct bx_pki_ca **out,
			 bool *created, char *err, size_t errlen)
{
	char key_path[PATH_MAX], crt_path[PATH_MAX];
	bool has_key, has_crt;
	int rc;

	rc = join_path(key_path, sizeof(key_path), dir, BX_PKI_CA_KEY_FILE,
		       err, errlen);
	if (rc == 0)
		rc = join_path(crt_path, sizeof(crt_path), dir,
			       BX_PKI_CA_CERT_FILE, err, errlen);
	if (rc < 0)
		return rc;
	has_key = may_exist(key_path);
	has_crt = may_exist(crt_path);
	if (has_key != has_crt)
		rc = fail(err, errlen, -ENOENT,
			  "%s: missing while %s exists; restore it, or move both away to make a new CA (every node must then re-join)",
			  has_key ? crt_path : key_path,
			  has_key ? key_path : crt_path);
	else if (has_key)
		rc = ca_load(key_path, crt_path, out, err, errlen);
	else
		rc = ca_create(dir, key_path, crt_path, out, err, errlen);
	if (rc == 0 && created != NULL)
		*created = !has_key;
	ERR_clear_error();
	return rc;
}

const char *
bx_pki_ca_cert_pem(const struct bx_pki_ca *ca)
{
	return ca->cert_pem;
}

void
bx_pki_ca_cert_sha256(const struct bx_pki_ca *ca,
		      uint8_t out[BX_PKI_SHA256_LEN])
{
	memcpy(out, ca->sha256, BX_PKI_SHA256_LEN);
}

/* Parses a DER CSR and checks it proves possession of a P-256 key. */
static int
csr_check(const uint8_t *der, size_t len, X509_REQ **out, char *err,
	  size_t errlen)
{
	const unsigned char *p = der;
	char kind[KEY_KIND_MAX];
	X509_REQ *req;
	size_t n;
	EVP_PKEY *pub;
	int rc = -EINVAL;

	if (der == NULL || len == 0)
		return fail(err, errlen, -EINVAL, "csr: empty");
	if (len > BX_PKI_CSR_MAX)
		return fail(err, errlen, -EMSGSIZE,
			    "csr: %zu bytes, more than %u", len,
			    BX_PKI_CSR_MAX);
	req = d2i_X509_REQ(NULL, &p, (long)len);
	if (req == NULL)
		return fail(err, errlen, -EINVAL,
			    "csr: not a DER PKCS#10 request (%s)", ossl_reason());
	if (p != der + len) {
		n = len - (size_t)(p - der);
		fail(err, errlen, rc,
		     "csr: trailing data after the request (%zu byte%s)", n,
		     n == 1 ? "" : "s");
		goto out;
	}
	pub = X509_REQ_get0_pubkey(req);
	if (pub == NULL) {
		fail(err, errlen, rc, "csr: unusable public key (%s)",
		     ossl_reason());
		goto out;
	}
	if (!is_p256(pub)) {
		key_describe(pub, kind, sizeof(kind));
		fail(err, errlen, rc, "csr: key is %s, expected EC P-256", kind);
		goto out;
	}
	if (X509_REQ_verify(req, pub) != 1) {
		fail(err, errlen, rc, "csr: signature does not verify");
		goto out;
	}
	*out = req;
	req = NULL;
	rc = 0;
out:
	X509_REQ_free(req);
	return rc;
}

int
bx_pki_ca_sign_node(const struct bx_pki_ca *ca, const uint8_t *csr_der,
		    size_t len, const char *node_id, unsigned days,
		    char **cert_pem, char *err, size_t errlen)
{
	struct server_name name = { .text = node_id };
	int64_t now = (int64_t)time(NULL);
	struct cert_spec spec = {
		.cn = node_id,
		.issuer = ca,
		.not_before = now - BX_PKI_BACKDATE_SECS,
		.exts = node_exts,
		.n_exts = BX_ARRAY_SIZE(node_exts),
	};
	X509_REQ *req = NULL;
	X509 *cert = NULL;
	int rc;

	if (!bx_pki_node_id_valid(node_id))
		return node_id_refused(err, errlen);
	if (days == 0 || days > BX_PKI_NODE_DAYS_MAX)
		return fail(err, errlen, -EINVAL,
			    "days: %u is outside 1 to %u", days,
			    BX_PKI_NODE_DAYS_MAX);
	rc = csr_check(csr_der, len, &req, err, errlen);
	if (rc < 0)
		goto out;
	spec.subject_key = X509_REQ_get0_pubkey(req);
	spec.not_after = leaf_not_after(ca, now, days);
	spec.san = san_new(&name, 1);
	rc = spec.san != NULL ? cert_build(&spec, &cert) : -ENOMEM;
	if (rc == 0)
		rc = cert_to_pem(cert, cert_pem);
	if (rc < 0)
		fail(err, errlen, rc, "node %s: cannot make the certificate (%s)",
		     node_id, ossl_reason());
out:
	GENERAL_NAMES_free(spec.san);
	X509_REQ_free(req);
	X509_free(cert);
	ERR_clear_error();
	return rc;
}

/* A fresh key and its server certificate for already parsed names. */
static int
server_issue(const struct bx_pki_ca *ca, const struct server_name *names,
	     size_t n, char **key_pem, char **cert_pem, char *err,
	     size_t errlen)
{
	int64_t now = (int64_t)time(NULL);
	struct cert_spec spec = {
		.cn = SERVER_CN,
		.issuer = ca,
		.not_before = now - BX_PKI_BACKDATE_SECS,
		.not_after = leaf_not_after(ca, now, BX_PKI_SERVER_DAYS),
		.exts = server_exts,
		.n_exts = BX_ARRAY_SIZE(server_exts),
	};
	char *kpem = NULL, *cpem = NULL;
	X509 *cert = NULL;
	int rc = -ENOMEM;

	spec.subject_key = EVP_EC_gen("P-256");
	spec.san = san_new(names, n);
	if (spec.subject_key == NULL || spec.san == NULL)
		goto out;
	rc = cert_build(&spec, &cert);
	if (rc == 0)
		rc = key_encode(spec.subject_key, &kpem);
	if (rc == 0)
		rc = cert_to_pem(cert, &cpem);
	if (rc < 0)
		goto out;
	*key_pem = kpem;
	*cert_pem = cpem;
	kpem = NULL;
	cpem = NULL;
out:
	if (rc < 0)
		fail(err, errlen, rc,
		     "server certificate for %s: cannot make it (%s)",
		     names[0].text, ossl_reason());
	bx_pki_key_free(kpem);
	free(cpem);
	GENERAL_NAMES_free(spec.san);
	EVP_PKEY_free(spec.subject_key);
	X509_free(cert);
	return rc;
}

int
bx_pki_ca_issue_server(const struct bx_pki_ca *ca,
		       const char *const names[], size_t n, char **key_pem,
		       char **cert_pem, char *err, size_t errlen)
{
	struct server_name parsed[BX_PKI_SERVER_NAMES_MAX];
	int rc;

	rc = names_parse(names, n, parsed, err, errlen);
	if (rc == 0)
		rc = server_issue(ca, parsed, n, key_pem, cert_pem, err, errlen);
	ERR_clear_error();
	return rc;
}

/* ---- verification ------------------------------------------------------- */

static int
verify_leaf(X509 *ca_cert, X509 *leaf, enum bx_pki_role role, char *err,
	    size_t errlen)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_STORE *store = X509_STORE_new();
	bool node = role == BX_PKI_ROLE_NODE;
	uint32_t need = node ? XKU_SSL_CLIENT : XKU_SSL_SERVER;
	char id[BX_PKI_NODE_ID_MAX + 1];
	int rc = -ENOMEM, code;

	if (ctx == NULL || store == NULL ||
	    X509_STORE_add_cert(store, ca_cert) != 1 ||
	    X509_STORE_CTX_init(ctx, store, leaf, NULL) != 1 ||
	    X509_STORE_CTX_set_purpose(ctx, node ? X509_PURPOSE_SSL_CLIENT
						 : X509_PURPOSE_SSL_SERVER) != 1) {
		fail(err, errlen, rc, "certificate: cannot set up verification");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		code = X509_STORE_CTX_get_error(ctx);
		rc = code == X509_V_ERR_CERT_HAS_EXPIRED ||
				     code == X509_V_ERR_CERT_NOT_YET_VALID
			     ? -EKEYEXPIRED
			     : -EKEYREJECTED;
		fail(err, errlen, rc, "certificate: %s",
		     X509_verify_cert_error_string(code));
		goto out;
	}
	rc = -EKEYREJECTED;
	if (X509_check_ca(leaf) != 0) {
		fail(err, errlen, rc, "certificate: is a CA, expected a leaf");
		goto out;
	}
	/* The purpose check accepts a leaf without any EKU: we do not. */
	if ((X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) == 0 ||
	    (X509_get_extended_key_usage(leaf) & need) == 0) {
		fail(err, errlen, rc, "certificate: extendedKeyUsage lacks %s",
		     node ? "clientAuth" : "serverAuth");
		goto out;
	}
	if (node && cert_node_id(leaf, id, sizeof(id)) < 0) {
		fail(err, errlen, rc,
		     "certificate: subjectAltName is not exactly one DNS node id");
		goto out;
	}
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

int
bx_pki_cert_verify(const char *ca_pem, const char *cert_pem,
		   enum bx_pki_role role, char *err, size_t errlen)
{
	X509 *ca = NULL, *cert = NULL;
	int rc;

	if (role != BX_PKI_ROLE_NODE && role != BX_PKI_ROLE_SERVER)
		return fail(err, errlen, -EINVAL, "role: unknown (%d)",
			    (int)role);
	rc = cert_decode(ca_pem, &ca, NULL, NULL);
	if (rc < 0) {
		fail(err, errlen, rc, "ca: %s", CERT_HINT);
		goto out;
	}
	rc = cert_decode(cert_pem, &cert, NULL, NULL);
	if (rc < 0) {
		fail(err, errlen, rc, "certificate: %s", CERT_HINT);
		goto out;
	}
	rc = verify_leaf(ca, cert, role, err, errlen);
out:
	X509_free(ca);
	X509_free(cert);
	ERR_clear_error();
	return rc;
}

/* ---- the hub's server certificate --------------------------------------- */

const char *
bx_pki_server_state_name(enum bx_pki_server_state state)
{
	switch (state) {
	case BX_PKI_SERVER_KEPT:
		return "kept";
	case BX_PKI_SERVER_CREATED:
		return "created";
	case BX_PKI_SERVER_RENAMED:
		return "renamed";
	case BX_PKI_SERVER_RENEWED:
		return "renewed";
	case BX_PKI_SERVER_REPLACED:
		return "replaced";
	}
	return "?";
}

/*
 * Reads a stored file for server_judge: *@usable false when it is missing
 * or its content is not usable (re-issuing fixes both); errors only for
 * what re-issuing must not paper over (a key readable by others) or could
 * not fix (no access, I/O).
 */
static int
read_stored(const char *path, bool secret, char **out, bool *usable,
	    char *err, size_t errlen)
{
	char why[PATH_MAX + 128];
	int rc = read_file(path, secret, out, why, sizeof(why));

	*usable = rc == 0;
	if (rc == -ENOENT || rc == -EINVAL || rc == -EFBIG)
		return 0;
	if (rc < 0)
		fail(err, errlen, rc, "%s", why);
	return rc;
}

/* Decides whether the stored pair can be kept, and why not. */
static enum bx_pki_server_state
server_judge(const struct bx_pki_ca *ca, const char *key_pem,
	     const char *cert_pem, const struct server_name *names, size_t n)
{
	int64_t now = (int64_t)time(NULL), na;
	enum bx_pki_server_state st;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int rc;

	if (key_decode(key_pem, "hub.key", &key, NULL, 0) < 0 ||
	    cert_decode(cert_pem, &cert, NULL, NULL) < 0 ||
	    X509_check_private_key(cert, key) != 1 ||
	    asn1_to_unix(X509_get0_notAfter(cert), &na) < 0) {
		st = BX_PKI_SERVER_REPLACED;
		goto out;
	}
	rc = verify_leaf(ca->cert, cert, BX_PKI_ROLE_SERVER, NULL, 0);
	if (rc == -EKEYEXPIRED)
		st = BX_PKI_SERVER_RENEWED;
	else if (rc < 0)
		st = BX_PKI_SERVER_REPLACED;
	else if (!san_matches(cert, names, n))
		st = BX_PKI_SERVER_RENAMED;
	else if (na - now <= (int64_t)BX_PKI_SERVER_RENEW_DAYS * SECS_PER_DAY)
		st = BX_PKI_SERVER_RENEWED;
	else
		st = BX_PKI_SERVER_KEPT;
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	return st;
}

int
bx_pki_server_load_or_create(const char *dir, const struct bx_pki_ca *ca,
			     const char *const names[], size_t n,
			     char **key_pem, char **cert_pem,
			     enum bx_pki_server_state *state, char *err,
			     size_t errlen)
{
	struct server_name parsed[BX_PKI_SERVER_NAMES_MAX];
	char key_path[PATH_MAX], crt_path[PATH_MAX];
	char *kpem = NULL, *cpem = NULL;
	enum bx_pki_server_state st;
	bool key_ok = false, crt_ok = false;
	int rc;

	rc = names_parse(names, n, parsed, err, errlen);
	if (rc == 0)
		rc = join_path(key_path, sizeof(key_path), dir,
			       BX_PKI_SERVER_KEY_FILE, err, errlen);
	if (rc == 0)
		rc = join_path(crt_path, sizeof(crt_path), dir,
			       BX_PKI_SERVER_CERT_FILE, err, errlen);
	if (rc == 0)
		rc = make_dirs(dir, err, errlen);
	if (rc == 0)
		rc = read_stored(key_path, true, &kpem, &key_ok, err, errlen);
	if (rc == 0)
		rc = read_stored(crt_path, false, &cpem, &crt_ok, err, errlen);
	if (rc < 0)
		goto out;

	if (key_ok && crt_ok)
		st = server_judge(ca, kpem, cpem, parsed, n);
	else if (!may_exist(key_path) && !may_exist(crt_path))
		st = BX_PKI_SERVER_CREATED;
	else
		st = BX_PKI_SERVER_REPLACED;
	if (st != BX_PKI_SERVER_KEPT) {
		bx_pki_key_free(kpem);
		free(cpem);
		kpem = NULL;
		cpem = NULL;
		rc = server_issue(ca, parsed, n, &kpem, &cpem, err, errlen);
		/* Key first: a crash before the certificate is written
		 * leaves a mismatched pair, which the next start replaces. */
		if (rc == 0)
			rc = write_file(key_path, kpem, BX_PKI_KEY_FILE_MODE, true,
					err, errlen);
		if (rc == 0)
			rc = write_file(crt_path, cpem, BX_PKI_CERT_FILE_MODE,
					true, err, errlen);
		if (rc < 0)
			goto out;
	}
	*key_pem = kpem;
	*cert_pem = cpem;
	kpem = NULL;
	cpem = NULL;
	if (state != NULL)
		*state = st;
out:
	bx_pki_key_free(kpem);
	free(cpem);
	ERR_clear_error();
	return rc;
}

char *
bx_pki_chain_pem(const char *leaf_pem, const char *ca_pem)
{
	X509 *leaf = NULL, *ca = NULL;
	char *chain = NULL;
	BIO *bio = NULL;
	int rc;

	rc = cert_decode(leaf_pem, &leaf, NULL, NULL);
	if (rc == 0)
		rc = cert_decode(ca_pem, &ca, NULL, NULL);
	if (rc < 0)
		goto out;
	/* Re-encoded, so each part is canonical PEM ending in a newline. */
	bio = BIO_new(BIO_s_mem());
	rc = -ENOMEM;
	if (bio != NULL && PEM_write_bio_X509(bio, leaf) == 1 &&
	    PEM_write_bio_X509(bio, ca) == 1)
		rc = bio_to_string(bio, &chain);
out:
	BIO_free(bio);
	X509_free(leaf);
	X509_free(ca);
	ERR_clear_error();
	if (rc < 0)
		errno = rc == -EINVAL ? EINVAL : ENOMEM;
	return chain;
}

/* ---- the node's key and CSR -------------------------------------------- */

int
bx_pki_key_generate(char **key_pem, char *err, size_t errlen)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	int rc;

	rc = key != NULL ? key_encode(key, key_pem) : -EIO;
	if (rc < 0)
		fail(err, errlen, rc, "key generation failed (%s)",
		     ossl_reason());
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

void
bx_pki_key_free(char *key_pem)
{
	if (key_pem != NULL)
		OPENSSL_clear_free(key_pem, strlen(key_pem));
}

int
bx_pki_key_write(const char *path, const char *key_pem, bool replace,
		 char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	int rc;

	rc = key_decode(key_pem, path != NULL ? path : "key", &key, err,
			errlen);
	if (rc == 0)
		rc = write_file(path, key_pem, BX_PKI_KEY_FILE_MODE, replace,
				err, errlen);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

int
bx_pki_key_read(const char *path, char **key_pem, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	char *pem = NULL;
	int rc;

	rc = read_file(path, true, &pem, err, errlen);
	if (rc == 0)
		rc = key_decode(pem, path, &key, err, errlen);
	if (rc == 0) {
		*key_pem = pem;
		pem = NULL;
	}
	bx_pki_key_free(pem);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

int
bx_pki_cert_write(const char *path, const char *cert_pem, bool replace,
		  char *err, size_t errlen)
{
	X509 *cert = NULL;
	int rc;

	rc = cert_decode(cert_pem, &cert, NULL, NULL);
	if (rc < 0)
		fail(err, errlen, rc, "%s: %s", path != NULL ? path : "certificate",
		     CERT_HINT);
	else
		rc = write_file(path, cert_pem, BX_PKI_CERT_FILE_MODE, replace,
				err, errlen);
	X509_free(cert);
	ERR_clear_error();
	return rc;
}

int
bx_pki_cert_read(const char *path, char **cert_pem, char *err, size_t errlen)
{
	X509 *cert = NULL;
	char *pem = NULL;
	int rc;

	rc = read_file(path, false, &pem, err, errlen);
	if (rc == 0) {
		rc = cert_decode(pem, &cert, NULL, NULL);
		if (rc < 0)
			fail(err, errlen, rc, "%s: %s", path, CERT_HINT);
	}
	if (rc == 0) {
		*cert_pem = pem;
		pem = NULL;
	}
	free(pem);
	X509_free(cert);
	ERR_clear_error();
	return rc;
}

int
bx_pki_csr_make(const char *key_pem, const char *node_id, uint8_t **der,
		size_t *len, char *err, size_t errlen)
{
	struct server_name name = { .text = node_id };
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext = NULL;
	unsigned char *buf = NULL;
	X509_NAME *subject = NULL;
	GENERAL_NAMES *san = NULL;
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	uint8_t *copy;
	int n, rc;

	if (!bx_pki_node_id_valid(node_id))
		return node_id_refused(err, errlen);
	rc = key_decode(key_pem, "key", &key, err, errlen);
	if (rc < 0)
		goto out;
	rc = -ENOMEM;
	req = X509_REQ_new();
	subject = X509_NAME_new();
	san = san_new(&name, 1);
	exts = sk_X509_EXTENSION_new_null();
	if (req == NULL || subject == NULL || san == NULL || exts == NULL)
		goto failed;
	ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, san);
	if (ext == NULL || sk_X509_EXTENSION_push(exts, ext) <= 0)
		goto failed;
	ext = NULL; /* owned by exts */
	rc = -EIO;
	if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
				       (const unsigned char *)node_id, -1, -1,
				       0) != 1 ||
	    X509_REQ_set_subject_name(req, subject) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1 ||
	    X509_REQ_add_extensions(req, exts) != 1 ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0)
		goto failed;
	n = i2d_X509_REQ(req, &buf);
	if (n <= 0)
		goto failed;
	copy = malloc((size_t)n);
	if (copy == NULL) {
		rc = -ENOMEM;
		goto failed;
	}
	memcpy(copy, buf, (size_t)n);
	*der = copy;
	*len = (size_t)n;
	rc = 0;
	goto out;
failed:
	fail(err, errlen, rc, "csr for %s: cannot make it (%s)", node_id,
	     ossl_reason());
out:
	OPENSSL_free(buf);
	X509_EXTENSION_free(ext);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(san);
	X509_NAME_free(subject);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

/* ---- inspection --------------------------------------------------------- */

int
bx_pki_cert_sha256_pem(const char *pem, uint8_t out[BX_PKI_SHA256_LEN])
{
	uint8_t md[BX_PKI_SHA256_LEN];
	unsigned char *der = NULL;
	X509 *cert = NULL;
	long len = 0;
	int rc;

	rc = cert_decode(pem, &cert, &der, &len);
	if (rc == 0 && EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(),
				  NULL) != 1)
		rc = -EIO;
	if (rc == 0)
		memcpy(out, md, sizeof(md));
	OPENSSL_free(der);
	X509_free(cert);
	ERR_clear_error();
	return rc;
}

int
bx_pki_cert_node_id(const char *cert_pem, char *id, size_t idlen)
{
	X509 *cert = NULL;
	int rc;

	rc = cert_decode(cert_pem, &cert, NULL, NULL);
	if (rc == 0)
		rc = cert_node_id(cert, id, idlen);
	X509_free(cert);
	ERR_clear_error();
	return rc;
}

int
bx_pki_cert_not_after(const char *cert_pem, int64_t *not_after)
{
	X509 *cert = NULL;
	int rc;

	rc = cert_decode(cert_pem, &cert, NULL, NULL);
	if (rc == 0)
		rc = asn1_to_unix(X509_get0_notAfter(cert), not_after);
	X509_free(cert);
	ERR_clear_error();
	return rc;
}

/* ---- join tokens ---------------------------------------------------------- */

/* base64url without padding: the alphabet the store's secrets use too. */
static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void
b64url_encode(const uint8_t *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			     in[i + 2];

		out[o++] = b64url[v >> 18];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
		out[o++] = b64url[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = b64url[v >> 18];
		out[o++] = b64url[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = b64url[v >> 18];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
	}
	out[o] = '\0';
}

static int
b64url_value(char c)
{
	const char *p = c != '\0' ? strchr(b64url, c) : NULL;

	return p != NULL ? (int)(p - b64url) : -1;
}

int
bx_pki_join_token_make(const char *credential,
		       const uint8_t pin[BX_PKI_SHA256_LEN], char *out,
		       size_t outlen)
{
	char enc[BX_PKI_PIN_B64_LEN + 1];
	const char *dot = strchr(credential, '.');
	int n;

	if (dot == NULL || dot == credential || dot[1] == '\0' ||
	    strchr(dot + 1, '.') != NULL)
		return -EINVAL;
	b64url_encode(pin, BX_PKI_SHA256_LEN, enc);
	n = snprintf(out, outlen, "%s.%s", credential, enc);
	return n < 0 || (size_t)n >= outlen ? -ENOSPC : 0;
}

int
bx_pki_join_token_parse(const char *token, char *cred, size_t credlen,
			uint8_t pin[BX_PKI_SHA256_LEN], char *err,
			size_t errlen)
{
	static const char hint[] =
		"expected <id>.<secret>.<ca-pin> as `bauxite-dispatch token "
		"create` printed it";
	uint8_t out[BX_PKI_SHA256_LEN + 2];
	const char *last = strrchr(token, '.'), *first = strchr(token, '.');
	size_t i, o = 0, cl;
	uint32_t acc = 0;
	int bits = 0;

	if (first == NULL || last == NULL || first == last || first == token ||
	    last == first + 1 || strlen(last + 1) != BX_PKI_PIN_B64_LEN) {
		snprintf(err, errlen, "token: %s", hint);
		return -EINVAL;
	}
	for (i = 0; i < BX_PKI_PIN_B64_LEN; i++) {
		int v = b64url_value(last[1 + i]);

		if (v < 0) {
			snprintf(err, errlen, "token: the CA pin is not base64url; %s",
				 hint);
			return -EINVAL;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* 43 characters carry 258 bits: the 2 left over must be zero. */
	if (o != BX_PKI_SHA256_LEN || (acc & ((1u << bits) - 1u)) != 0) {
		snprintf(err, errlen, "token: the CA pin is not a SHA-256; %s",
			 hint);
		return -EINVAL;
	}
	cl = (size_t)(last - token);
	if (cl + 1 > credlen) {
		snprintf(err, errlen, "token: too long; %s", hint);
		return -EINVAL;
	}
	memcpy(cred, token, cl);
	cred[cl] = '\0';
	memcpy(pin, out, BX_PKI_SHA256_LEN);
	return 0;
}
