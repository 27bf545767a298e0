/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suite "pki": the hub's CA is created once with the promised properties
 * and loaded after, bad CA files are refused naming the file, node
 * certificates signed from a CSR verify against the CA and carry only the
 * hub's decisions (SAN DNS:node_id, clientAuth, not a CA) whatever the CSR
 * claims, bad CSRs and node ids are refused, the hub's server certificate
 * has the wanted DNS and IP SANs and is kept or re-issued as its names and
 * expiry require, the CA pin is the SHA-256 of the DER, and verification
 * refuses certificates from another CA, expired ones and wrong kinds.
 * Certificates are checked with OpenSSL directly (X509_verify_cert with a
 * store, extension parsing), not only through the module. No EAL.
 */
#include <dirent.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "bx_common.h"
#include "bx_pki.h"

#define ERR_LEN 1024
#define DAY 86400
/* Slack between the module's clock reading and the test's. */
#define CLOCK_SLACK 120
#define NODE_ID "node-1"
#define FILE_MAX 16384

static char tmpdir[] = "/tmp/bx_pki_XXXXXX";
/* Filled in group setup: names at and just past the limits. */
static char id_max[BX_PKI_NODE_ID_MAX + 1];
static char id_long[BX_PKI_NODE_ID_MAX + 2];
static char label_long[70];
static char name_long[260];

/* ---- helpers ------------------------------------------------------------ */

/* A fresh directory path under tmpdir per call: tests never share state. */
static const char *
fresh_dir(char *buf, size_t size)
{
	static unsigned seq;

	snprintf(buf, size, "%s/d%u", tmpdir, seq++);
	return buf;
}

static void
file_path(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < size);
}

static void
assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* Writes @text to @path with exactly @mode (fchmod: not the umask). */
static void
put_file(const char *path, const char *text, mode_t mode)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* Reads @path into @buf (terminated). */
static void
get_file(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, size - 1);
	assert_true(n >= 0 && (size_t)n < size - 1);
	buf[n] = '\0';
	close(fd);
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* Entries in @dir: atomic writes must leave no temporary file behind. */
static unsigned
count_entries(const char *dir)
{
	struct dirent *e;
	unsigned n = 0;
	DIR *d;

	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static int64_t
now(void)
{
	return (int64_t)time(NULL);
}

static void
assert_near(int64_t got, int64_t want)
{
	if (got < want - CLOCK_SLACK || got > want + CLOCK_SLACK)
		fail_msg("%lld is not within %d s of %lld", (long long)got,
			 CLOCK_SLACK, (long long)want);
}

static int64_t
unix_of(const ASN1_TIME *t)
{
	struct tm tm;

	assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
	return (int64_t)timegm(&tm);
}

/* OpenSSL's own parsers, not the module's, read what the module wrote. */
static X509 *
x509_of(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x;

	assert_non_null(bio);
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(x);
	return x;
}

static EVP_PKEY *
pkey_of(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pk;

	assert_non_null(bio);
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(pk);
	return pk;
}

static char *
pem_of_x509(X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *s;
	long n;

	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_X509(bio, x), 1);
	n = BIO_get_mem_data(bio, &data);
	s = strndup(data, (size_t)n);
	assert_non_null(s);
	BIO_free(bio);
	return s;
}

/* PKCS#8 PEM of any key, for key files the module must refuse. */
static char *
pem_of_key(EVP_PKEY *pk)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *s;
	long n;

	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL,
						  NULL),
			 1);
	n = BIO_get_mem_data(bio, &data);
	s = strndup(data, (size_t)n);
	assert_non_null(s);
	BIO_free(bio);
	return s;
}

static bool
is_p256(EVP_PKEY *pk)
{
	char group[64];
	size_t len = 0;

	return EVP_PKEY_is_a(pk, "EC") &&
	       EVP_PKEY_get_group_name(pk, group, sizeof(group), &len) == 1 &&
	       strcmp(group, "prime256v1") == 0;
}

static struct bx_pki_ca *
make_ca(char *dir, size_t size)
{
	struct bx_pki_ca *ca = NULL;
	char err[ERR_LEN] = "";
	bool created = false;
	int rc;

	fresh_dir(dir, size);
	rc = bx_pki_ca_load_or_create(dir, &ca, &created, err, sizeof(err));
	if (rc != 0)
		fail_msg("CA in %s: %d %s", dir, rc, err);
	assert_true(created);
	return ca;
}

/* A node's key and CSR through the module, as `bauxite join` makes them. */
static void
make_csr(const char *csr_id, char **key_pem, uint8_t **der, size_t *len)
{
	char err[ERR_LEN] = "";
	int rc;

	assert_int_equal(bx_pki_key_generate(key_pem, err, sizeof(err)), 0);
	rc = bx_pki_csr_make(*key_pem, csr_id, der, len, err, sizeof(err));
	if (rc != 0)
		fail_msg("csr: %d %s", rc, err);
}

static char *
sign_new_node(const struct bx_pki_ca *ca, const char *node_id)
{
	char *key_pem, *cert = NULL, err[ERR_LEN] = "";
	uint8_t *der;
	size_t len;
	int rc;

	make_csr(node_id, &key_pem, &der, &len);
	rc = bx_pki_ca_sign_node(ca, der, len, node_id,
				 BX_PKI_NODE_DAYS_DEFAULT, &cert, err,
				 sizeof(err));
	if (rc != 0)
		fail_msg("sign %s: %d %s", node_id, rc, err);
	bx_pki_key_free(key_pem);
	free(der);
	return cert;
}

/* A CSR built here with OpenSSL: any key, any subject, any extensions. */
static uint8_t *
test_csr(EVP_PKEY *pk, const char *cn, bool claims, size_t *len)
{
	static const struct {
		int nid;
		const char *value;
	} asked[] = {
		{ NID_subject_alt_name,
		  "DNS:bauxite-hub,DNS:other-node,IP:10.99.0.254" },
		{ NID_basic_constraints, "critical,CA:TRUE" },
		{ NID_key_usage, "critical,keyCertSign,cRLSign" },
		{ NID_ext_key_usage, "serverAuth,clientAuth,codeSigning" },
	};
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_REQ *req = X509_REQ_new();
	unsigned char *buf = NULL;
	X509_EXTENSION *e;
	uint8_t *out;
	size_t i;
	int n;

	assert_non_null(req);
	assert_non_null(exts);
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req),
						    "CN", MBSTRING_ASC,
						    (const unsigned char *)cn,
						    -1, -1, 0),
			 1);
	assert_int_equal(X509_REQ_set_pubkey(req, pk), 1);
	for (i = 0; claims && i < BX_ARRAY_SIZE(asked); i++) {
		e = X509V3_EXT_conf_nid(NULL, NULL, asked[i].nid, asked[i].value);
		assert_non_null(e);
		assert_true(sk_X509_EXTENSION_push(exts, e) > 0);
	}
	if (claims)
		assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
	/* Ed25519 signs without a separate digest. */
	assert_true(X509_REQ_sign(req, pk,
				  EVP_PKEY_is_a(pk, "ED25519") ? NULL
							       : EVP_sha256()) > 0);
	n = i2d_X509_REQ(req, &buf);
	assert_true(n > 0);
	out = malloc((size_t)n);
	assert_non_null(out);
	memcpy(out, buf, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(buf);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return out;
}

/* What test_cert builds: a certificate signed by the CA in a directory. */
struct tc {
	EVP_PKEY *subject; /* NULL: the CA's own key, self-issued */
	int64_t not_before, not_after;
	const char *san;   /* OpenSSL config syntax, NULL: none */
	const char *eku;   /* NULL: none */
	bool ca;
};

/*
 * Certificates the module would never issue (expired, no EKU, two SANs,
 * a self-signed non-CA), signed here with the key in @ca_dir/ca.key.
 */
static char *
test_cert(const char *ca_dir, const struct tc *o)
{
	static long serial = 1000;
	char path[PATH_MAX];
	EVP_PKEY *ca_key;
	X509 *ca_cert, *x;
	X509_EXTENSION *e;
	X509V3_CTX ctx;
	char *pem;
	FILE *f;

	file_path(path, sizeof(path), ca_dir, BX_PKI_CA_KEY_FILE);
	f = fopen(path, "r");
	assert_non_null(f);
	ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	file_path(path, sizeof(path), ca_dir, BX_PKI_CA_CERT_FILE);
	f = fopen(path, "r");
	assert_non_null(f);
	ca_cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(ca_key);
	assert_non_null(ca_cert);

	x = X509_new();
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
						    MBSTRING_ASC,
						    (const unsigned char *)"test",
						    -1, -1, 0),
			 1);
	assert_int_equal(X509_set_issuer_name(x, o->subject != NULL
							 ? X509_get_subject_name(ca_cert)
							 : X509_get_subject_name(x)),
			 1);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x),
				      (time_t)o->not_before));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)o->not_after));
	assert_int_equal(X509_set_pubkey(x, o->subject != NULL ? o->subject
							      : ca_key),
			 1);
	X509V3_set_ctx(&ctx, o->subject != NULL ? ca_cert : x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
				o->ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
	e = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage,
				o->ca ? "critical,keyCertSign,digitalSignature"
				      : "critical,digitalSignature");
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
	/* The module's leaves name their issuer's key identifier. */
	e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
	if (o->san != NULL) {
		e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, o->san);
		assert_int_equal(X509_add_ext(x, e, -1), 1);
		X509_EXTENSION_free(e);
	}
	if (o->eku != NULL) {
		e = X509V3_EXT_conf_nid(NULL, &ctx, NID_ext_key_usage, o->eku);
		assert_int_equal(X509_add_ext(x, e, -1), 1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, ca_key, EVP_sha256()) > 0);
	pem = pem_of_x509(x);
	X509_free(x);
	X509_free(ca_cert);
	EVP_PKEY_free(ca_key);
	return pem;
}

/* X509_verify_cert with a store holding only @ca_pem, as a TLS peer would. */
static bool
store_verifies(const char *ca_pem, const char *leaf_pem, int purpose,
	       const char *host, const char *ip)
{
	X509 *ca = x509_of(ca_pem), *leaf = x509_of(leaf_pem);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_STORE *store = X509_STORE_new();
	X509_VERIFY_PARAM *param;
	int ok;

	assert_non_null(ctx);
	assert_non_null(store);
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
	assert_int_equal(X509_STORE_CTX_set_purpose(ctx, purpose), 1);
	param = X509_STORE_CTX_get0_param(ctx);
	if (host != NULL)
		assert_int_equal(X509_VERIFY_PARAM_set1_host(param, host, 0), 1);
	if (ip != NULL)
		assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(param, ip), 1);
	ok = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(ca);
	X509_free(leaf);
	return ok == 1;
}

/* The SANs of @x as "DNS:name" / "IP:a.b.c.d" / "IP6" strings, joined. */
static void
sans_of(X509 *x, char *out, size_t size)
{
	GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	const unsigned char *d;
	ASN1_STRING *v;
	size_t used = 0;
	int i, type, len;

	out[0] = '\0';
	assert_non_null(g);
	for (i = 0; i < sk_GENERAL_NAME_num(g); i++) {
		v = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(g, i), &type);
		d = ASN1_STRING_get0_data(v);
		len = ASN1_STRING_length(v);
		if (type == GEN_DNS)
			used += (size_t)snprintf(out + used, size - used, "%sDNS:%.*s",
						 i ? "," : "", len, (const char *)d);
		else if (type == GEN_IPADD && len == 4)
			used += (size_t)snprintf(out + used, size - used,
						 "%sIP:%u.%u.%u.%u", i ? "," : "",
						 d[0], d[1], d[2], d[3]);
		else if (type == GEN_IPADD && len == 16)
			used += (size_t)snprintf(out + used, size - used,
						 "%sIP6:%02x%02x..%02x", i ? "," : "",
						 d[0], d[1], d[15]);
		else
			used += (size_t)snprintf(out + used, size - used,
						 "%sother:%d", i ? "," : "", type);
		assert_true(used < size);
	}
	GENERAL_NAMES_free(g);
}

static void
assert_sans(const char *cert_pem, const char *want)
{
	char got[512];
	X509 *x = x509_of(cert_pem);

	sans_of(x, got, sizeof(got));
	assert_string_equal(got, want);
	X509_free(x);
}

static void
assert_cn(X509 *x, const char *want)
{
	char cn[128];

	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
					      NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_string_equal(cn, want);
}

/*
 * SHA-256 of the DER inside a PEM certificate, base64-decoded here by
 * hand (EVP_DecodeBlock), so the pin is checked against a computation
 * that shares nothing with the module's.
 */
static void
pem_sha256(const char *pem, uint8_t out[BX_PKI_SHA256_LEN])
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----\n";
	unsigned char b64[FILE_MAX], der[FILE_MAX];
	const char *p = strstr(pem, begin), *end;
	size_t n = 0;
	int len;

	assert_non_null(p);
	p += strlen(begin);
	end = strstr(p, "-----END CERTIFICATE-----");
	assert_non_null(end);
	for (; p < end; p++)
		if (*p != '\n' && *p != '\r')
			b64[n++] = (unsigned char)*p;
	len = EVP_DecodeBlock(der, b64, (int)n);
	assert_true(len > 0);
	/* EVP_DecodeBlock counts '=' padding as zero bytes. */
	len -= (n >= 1 && b64[n - 1] == '=') + (n >= 2 && b64[n - 2] == '=');
	assert_int_equal(der[0], 0x30); /* a DER SEQUENCE */
	assert_int_equal(EVP_Digest(der, (size_t)len, out, NULL, EVP_sha256(),
				    NULL),
			 1);
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
	memset(id_max, 'x', BX_PKI_NODE_ID_MAX);
	memset(id_long, 'x', BX_PKI_NODE_ID_MAX + 1);
	memset(label_long, 'a', 64);
	/* Labels of 63, 63, 63 and 62: 254 characters, one over the limit. */
	snprintf(name_long, sizeof(name_long), "%.63s.%.63s.%.63s.%.62s",
		 label_long, label_long, label_long, label_long);
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the CA ------------------------------------------------------------- */

/* A new CA in a new directory: files and modes, and the certificate is
 * what the header promises. */
static void
test_ca_create(void **state)
{
	char base[PATH_MAX], dir[PATH_MAX], path[PATH_MAX], cn[128];
	struct bx_pki_ca *ca = NULL, *other = NULL;
	char err[ERR_LEN] = "", odir[PATH_MAX];
	BASIC_CONSTRAINTS *bc;
	bool created = false;
	int crit = -1;
	EVP_PKEY *pub;
	X509 *x;

	(void)state;
	fresh_dir(base, sizeof(base));
	assert_true(snprintf(dir, sizeof(dir), "%s/hub/pki", base) <
		    (int)sizeof(dir));
	assert_int_equal(bx_pki_ca_load_or_create(dir, &ca, &created, err,
						  sizeof(err)),
			 0);
	assert_true(created);
	assert_int_equal(mode_of(base), BX_PKI_DIR_MODE);
	assert_int_equal(mode_of(dir), BX_PKI_DIR_MODE);
	file_path(path, sizeof(path), dir, BX_PKI_CA_KEY_FILE);
	assert_int_equal(mode_of(path), BX_PKI_KEY_FILE_MODE);
	file_path(path, sizeof(path), dir, BX_PKI_CA_CERT_FILE);
	assert_int_equal(mode_of(path), BX_PKI_CERT_FILE_MODE);
	assert_int_equal(count_entries(dir), 2);

	x = x509_of(bx_pki_ca_cert_pem(ca));
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
					      NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_int_equal(strncmp(cn, "Bauxite mesh CA ", 16), 0);
	assert_int_equal(strlen(cn), 16 + 16);
	assert_int_equal(X509_self_signed(x, 1), 1);
	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_int_equal(crit, 1);
	assert_true(bc->ca);
	assert_non_null(bc->pathlen);
	assert_int_equal(ASN1_INTEGER_get(bc->pathlen), 0);
	BASIC_CONSTRAINTS_free(bc);
	assert_int_equal(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_true(X509_EXTENSION_get_critical(
		X509_get_ext(x, X509_get_ext_by_NID(x, NID_key_usage, -1))));
	assert_non_null(X509_get0_subject_key_id(x));
	pub = X509_get0_pubkey(x);
	assert_true(is_p256(pub));
	assert_near(unix_of(X509_get0_notAfter(x)),
		    now() + (int64_t)BX_PKI_CA_DAYS * DAY);
	assert_near(unix_of(X509_get0_notBefore(x)), now() - BX_PKI_BACKDATE_SECS);
	X509_free(x);

	/* Another hub's CA: another key, another name. */
	other = make_ca(odir, sizeof(odir));
	x = x509_of(bx_pki_ca_cert_pem(other));
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
					      NID_commonName, path,
					      sizeof(path)) > 0);
	assert_string_not_equal(path, cn);
	X509_free(x);
	bx_pki_ca_free(ca);
	bx_pki_ca_free(other);
}

/* The second start loads the same CA and changes nothing on disk. */
static void
test_ca_load_again(void **state)
{
	uint8_t h1[BX_PKI_SHA256_LEN], h2[BX_PKI_SHA256_LEN];
	char dir[PATH_MAX], path[PATH_MAX], err[ERR_LEN] = "";
	char key_before[FILE_MAX], key_after[FILE_MAX];
	struct bx_pki_ca *a, *b = NULL;
	bool created = true;

	(void)state;
	a = make_ca(dir, sizeof(dir));
	file_path(path, sizeof(path), dir, BX_PKI_CA_KEY_FILE);
	get_file(path, key_before, sizeof(key_before));
	assert_int_equal(bx_pki_ca_load_or_create(dir, &b, &created, err,
						  sizeof(err)),
			 0);
	assert_false(created);
	bx_pki_ca_cert_sha256(a, h1);
	bx_pki_ca_cert_sha256(b, h2);
	assert_memory_equal(h1, h2, sizeof(h1));
	assert_string_equal(bx_pki_ca_cert_pem(a), bx_pki_ca_cert_pem(b));
	get_file(path, key_after, sizeof(key_after));
	assert_string_equal(key_before, key_after);
	assert_int_equal(count_entries(dir), 2);
	OPENSSL_cleanse(key_before, sizeof(key_before));
	OPENSSL_cleanse(key_after, sizeof(key_after));
	bx_pki_ca_free(a);
	bx_pki_ca_free(b);
	bx_pki_ca_free(NULL);
}

/* Any group or other bit on ca.key refuses it, naming it and its mode;
 * owner-only modes other than 0600 are fine. */
static void
test_ca_refuses_open_key_mode(void **state)
{
	static const mode_t modes[] = { 0644, 0640, 0604, 0660, 0601, 0610 };
	char dir[PATH_MAX], path[PATH_MAX], err[ERR_LEN], mode[8];
	struct bx_pki_ca *ca;
	unsigned i;

	(void)state;
	bx_pki_ca_free(make_ca(dir, sizeof(dir)));
	file_path(path, sizeof(path), dir, BX_PKI_CA_KEY_FILE);
	for (i = 0; i < BX_ARRAY_SIZE(modes); i++) {
		assert_int_equal(chmod(path, modes[i]), 0);
		ca = NULL;
		err[0] = '\0';
		assert_int_equal(bx_pki_ca_load_or_create(dir, &ca, NULL, err,
							  sizeof(err)),
				 -EPERM);
		assert_null(ca);
		snprintf(mode, sizeof(mode), "%04o", (unsigned)modes[i]);
		assert_contains(err, path);
		assert_contains(err, mode);
	}
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(bx_pki_ca_load_or_create(dir, &ca, NULL, err,
						  sizeof(err)),
			 0);
	bx_pki_ca_free(ca);
}

/* Mutations of a good CA directory, for the refusal table. */
static void
put_in(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[PATH_MAX];

	file_path(path, sizeof(path), dir, name);
	put_file(path, text, mode);
}

static void
crt_garbage(const char *dir)
{
	put_in(dir, BX_PKI_CA_CERT_FILE, "not a certificate\n", 0644);
}

static void
crt_truncated(const char *dir)
{
	char path[PATH_MAX], text[FILE_MAX];

	file_path(path, sizeof(path), dir, BX_PKI_CA_CERT_FILE);
	get_file(path, text, sizeof(text));
	text[strlen(text) / 2] = '\0';
	put_file(path, text, 0644);
}

static void
crt_bad_base64(const char *dir)
{
	char path[PATH_MAX], text[FILE_MAX];

	file_path(path, sizeof(path), dir, BX_PKI_CA_CERT_FILE);
	get_file(path, text, sizeof(text));
	text[100] = '!';
	put_file(path, text, 0644);
}

static void
crt_from_other_ca(const char *dir)
{
	char odir[PATH_MAX];
	struct bx_pki_ca *other = make_ca(odir, sizeof(odir));

	put_in(dir, BX_PKI_CA_CERT_FILE, bx_pki_ca_cert_pem(other), 0644);
	bx_pki_ca_free(other);
}

static void
crt_two_certs(const char *dir)
{
	char path[PATH_MAX], text[FILE_MAX], twice[2 * FILE_MAX];

	file_path(path, sizeof(path), dir, BX_PKI_CA_CERT_FILE);
	get_file(path, text, sizeof(text));
	snprintf(twice, sizeof(twice), "%s%s", text, text);
	put_file(path, twice, 0644);
}

/* The CA's own key in a certificate that is not a CA. */
static void
crt_not_ca(const char *dir)
{
	char *pem = test_cert(dir, &(struct tc){
					   .not_before = now() - DAY,
					   .not_after = now() + DAY,
				   });

	put_in(dir, BX_PKI_CA_CERT_FILE, pem, 0644);
	free(pem);
}

static void
crt_expired(const char *dir)
{
	char *pem = test_cert(dir, &(struct tc){
					   .not_before = now() - 20 * DAY,
					   .not_after = now() - 10 * DAY,
					   .ca = true,
				   });

	put_in(dir, BX_PKI_CA_CERT_FILE, pem, 0644);
	free(pem);
}

static void
crt_missing(const char *dir)
{
	char path[PATH_MAX];

	file_path(path, sizeof(path), dir, BX_PKI_CA_CERT_FILE);
	assert_int_equal(unlink(path), 0);
}

static void
key_missing(const char *dir)
{
	char path[PATH_MAX];

	file_path(path, sizeof(path), dir, BX_PKI_CA_KEY_FILE);
	assert_int_equal(unlink(path), 0);
}

static void
key_garbage(const char *dir)
{
	put_in(dir, BX_PKI_CA_KEY_FILE,
	       "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	       0600);
}

static void
key_empty(const char *dir)
{
	put_in(dir, BX_PKI_CA_KEY_FILE, "", 0600);
}

static void
key_p384(const char *dir)
{
	EVP_PKEY *pk = EVP_EC_gen("P-384");
	char *pem;

	assert_non_null(pk);
	pem = pem_of_key(pk);
	put_in(dir, BX_PKI_CA_KEY_FILE, pem, 0600);
	OPENSSL_cleanse(pem, strlen(pem));
	free(pem);
	EVP_PKEY_free(pk);
}

static void
key_is_dir(const char *dir)
{
	char path[PATH_MAX];

	key_missing(dir);
	file_path(path, sizeof(path), dir, BX_PKI_CA_KEY_FILE);
	assert_int_equal(mkdir(path, 0700), 0);
}

/* Each damaged CA directory is refused with the right error, naming the
 * file at fault, and nothing is created in its place. */
static void
test_ca_refuses_bad_files(void **state)
{
	static const struct {
		const char *what;
		void (*mutate)(const char *dir);
		int rc;
		const char *file;   /* named in the message */
		const char *detail; /* also in the message */
	} rows[] = {
		{ "garbage ca.crt", crt_garbage, -EINVAL, BX_PKI_CA_CERT_FILE, "PEM" },
		{ "truncated ca.crt", crt_truncated, -EINVAL, BX_PKI_CA_CERT_FILE, "PEM" },
		{ "bad base64 in ca.crt", crt_bad_base64, -EINVAL, BX_PKI_CA_CERT_FILE, "PEM" },
		{ "two certificates", crt_two_certs, -EINVAL, BX_PKI_CA_CERT_FILE, "one PEM" },
		{ "another CA's ca.crt", crt_from_other_ca, -EINVAL, BX_PKI_CA_CERT_FILE,
		  "does not belong" },
		{ "ca.crt not a CA", crt_not_ca, -EINVAL, BX_PKI_CA_CERT_FILE,
		  "not a CA" },
		{ "ca.crt expired", crt_expired, -EKEYEXPIRED, BX_PKI_CA_CERT_FILE,
		  "valid only" },
		{ "ca.crt missing", crt_missing, -ENOENT, BX_PKI_CA_CERT_FILE,
		  "missing" },
		{ "ca.key missing", key_missing, -ENOENT, BX_PKI_CA_KEY_FILE,
		  "missing" },
		{ "garbage ca.key", key_garbage, -EINVAL, BX_PKI_CA_KEY_FILE,
		  "PKCS#8" },
		{ "empty ca.key", key_empty, -EINVAL, BX_PKI_CA_KEY_FILE, "PKCS#8" },
		{ "P-384 ca.key", key_p384, -EINVAL, BX_PKI_CA_KEY_FILE,
		  "key is EC P-384, expected EC P-256" },
		{ "ca.key a directory", key_is_dir, -EINVAL, BX_PKI_CA_KEY_FILE,
		  "not a regular file" },
	};
	char dir[PATH_MAX], path[PATH_MAX], err[ERR_LEN];
	struct bx_pki_ca *ca;
	unsigned i, before;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(rows); i++) {
		bx_pki_ca_free(make_ca(dir, sizeof(dir)));
		rows[i].mutate(dir);
		before = count_entries(dir);
		ca = NULL;
		err[0] = '\0';
		if (bx_pki_ca_load_or_create(dir, &ca, NULL, err, sizeof(err)) !=
		    rows[i].rc)
			fail_msg("%s: expected %d, got \"%s\"", rows[i].what,
				 rows[i].rc, err);
		assert_null(ca);
		file_path(path, sizeof(path), dir, rows[i].file);
		assert_contains(err, path);
		assert_contains(err, rows[i].detail);
		assert_int_equal(count_entries(dir), before);
		assert_int_equal(ERR_peek_error(), 0);
	}
}

/* The pin is the SHA-256 of the certificate's DER: the same from the CA
 * object, from its PEM, from the file, and from a decoding done here. */
static void
test_ca_sha256(void **state)
{
	uint8_t from_ca[BX_PKI_SHA256_LEN], from_pem[BX_PKI_SHA256_LEN];
	uint8_t from_file[BX_PKI_SHA256_LEN], by_hand[BX_PKI_SHA256_LEN];
	char dir[PATH_MAX], path[PATH_MAX], text[FILE_MAX];
	struct bx_pki_ca *ca, *again = NULL;
	char err[ERR_LEN] = "";

	(void)state;
	ca = make_ca(dir, sizeof(dir));
	bx_pki_ca_cert_sha256(ca, from_ca);
	assert_int_equal(bx_pki_cert_sha256_pem(bx_pki_ca_cert_pem(ca), from_pem),
			 0);
	file_path(path, sizeof(path), dir, BX_PKI_CA_CERT_FILE);
	get_file(path, text, sizeof(text));
	assert_int_equal(bx_pki_cert_sha256_pem(text, from_file), 0);
	pem_sha256(text, by_hand);
	assert_memory_equal(from_ca, by_hand, sizeof(by_hand));
	assert_memory_equal(from_pem, by_hand, sizeof(by_hand));
	assert_memory_equal(from_file, by_hand, sizeof(by_hand));

	/* Stable across a reload. */
	assert_int_equal(bx_pki_ca_load_or_create(dir, &again, NULL, err,
						  sizeof(err)),
			 0);
	bx_pki_ca_cert_sha256(again, from_ca);
	assert_memory_equal(from_ca, by_hand, sizeof(by_hand));
	bx_pki_ca_free(again);
	bx_pki_ca_free(ca);
}

/* A PEM is exactly one certificate, whitespace around it allowed. */
static void
test_cert_pem_strict(void **state)
{
	uint8_t want[BX_PKI_SHA256_LEN], got[BX_PKI_SHA256_LEN];
	char dir[PATH_MAX], *text, *key_pem;
	struct bx_pki_ca *ca;
	const char *pem;
	struct {
		const char *fmt;
		int rc;
	} rows[] = {
		{ "%s", 0 },
		{ "\n  %s\n\n", 0 },
		{ "junk before\n%s", -EINVAL },
		{ "%sjunk after\n", -EINVAL },
		{ "%s%s", -EINVAL },
		{ "", -EINVAL },
	};
	unsigned i;

	(void)state;
	ca = make_ca(dir, sizeof(dir));
	pem = bx_pki_ca_cert_pem(ca);
	pem_sha256(pem, want);
	text = malloc(3 * strlen(pem) + 64);
	assert_non_null(text);
	for (i = 0; i < BX_ARRAY_SIZE(rows); i++) {
		sprintf(text, rows[i].fmt, pem, pem);
		memset(got, 0xa5, sizeof(got));
		assert_int_equal(bx_pki_cert_sha256_pem(text, got), rows[i].rc);
		if (rows[i].rc == 0)
			assert_memory_equal(got, want, sizeof(want));
		else
			assert_int_equal(got[0], 0xa5); /* untouched */
	}
	assert_int_equal(bx_pki_cert_sha256_pem(NULL, got), -EINVAL);
	/* A key is not a certificate. */
	assert_int_equal(bx_pki_key_generate(&key_pem, NULL, 0), 0);
	assert_int_equal(bx_pki_cert_sha256_pem(key_pem, got), -EINVAL);
	bx_pki_key_free(key_pem);
	free(text);
	bx_pki_ca_free(ca);
}

/* ---- node certificates -------------------------------------------------- */

/* The CSR a node makes: self-signed, CN and SAN its id, its P-256 key. */
static void
test_csr_make(void **state)
{
	char *key_pem, cn[128];
	const unsigned char *p;
	EVP_PKEY *key, *pub;
	X509_REQ *req;
	uint8_t *der;
	size_t len;

	(void)state;
	make_csr("edge-7", &key_pem, &der, &len);
	assert_int_equal(strncmp(key_pem, "-----BEGIN PRIVATE KEY-----\n", 28), 0);
	p = der;
	req = d2i_X509_REQ(NULL, &p, (long)len);
	assert_non_null(req);
	assert_ptr_equal(p, der + len);
	pub = X509_REQ_get0_pubkey(req);
	assert_int_equal(X509_REQ_verify(req, pub), 1);
	key = pkey_of(key_pem);
	assert_true(is_p256(key));
	assert_int_equal(EVP_PKEY_eq(key, pub), 1);
	assert_true(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req),
					      NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_string_equal(cn, "edge-7");
	EVP_PKEY_free(key);
	X509_REQ_free(req);
	bx_pki_key_free(key_pem);
	free(der);
}

/* A signed node certificate verifies against the CA as a TLS client and
 * is exactly what the hub decides. */
static void
test_sign_node(void **state)
{
	char dir[PATH_MAX], *key_pem, *cert = NULL, err[ERR_LEN] = "";
	char id[BX_PKI_NODE_ID_MAX + 1];
	BASIC_CONSTRAINTS *bc;
	const ASN1_OCTET_STRING *akid, *skid;
	struct bx_pki_ca *ca;
	int64_t not_after = 0;
	EVP_PKEY *key;
	BIGNUM *serial;
	X509 *x, *cax;
	uint8_t *der;
	size_t len;
	int crit = -1;

	(void)state;
	ca = make_ca(dir, sizeof(dir));
	make_csr(NODE_ID, &key_pem, &der, &len);
	assert_int_equal(bx_pki_ca_sign_node(ca, der, len, NODE_ID, 90, &cert,
					     err, sizeof(err)),
			 0);
	assert_true(store_verifies(bx_pki_ca_cert_pem(ca), cert,
				   X509_PURPOSE_SSL_CLIENT, NULL, NULL));
	assert_false(store_verifies(bx_pki_ca_cert_pem(ca), cert,
				    X509_PURPOSE_SSL_SERVER, NULL, NULL));
	assert_sans(cert, "DNS:" NODE_ID);

	x = x509_of(cert);
	cax = x509_of(bx_pki_ca_cert_pem(ca));
	assert_cn(x, NODE_ID);
	assert_int_equal(X509_check_ca(x), 0);
	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_int_equal(crit, 1);
	assert_false(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	assert_true(X509_get_extension_flags(x) & EXFLAG_XKUSAGE);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);
	akid = X509_get0_authority_key_id(x);
	skid = X509_get0_subject_key_id(cax);
	assert_non_null(akid);
	assert_non_null(skid);
	assert_int_equal(ASN1_OCTET_STRING_cmp(akid, skid), 0);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x),
				       X509_get_subject_name(cax)),
			 0);
	serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	assert_non_null(serial);
	assert_false(BN_is_negative(serial));
	assert_int_equal(BN_num_bits(serial), BX_PKI_SERIAL_BITS);
	BN_free(serial);
	assert_near(unix_of(X509_get0_notBefore(x)), now() - BX_PKI_BACKDATE_SECS);
	assert_near(unix_of(X509_get0_notAfter(x)), now() + 90 * DAY);
	key = pkey_of(key_pem);
	assert_int_equal(X509_check_private_key(x, key), 1);

	/* The module's own inspection agrees. */
	assert_int_equal(bx_pki_cert_verify(bx_pki_ca_cert_pem(ca), cert,
					    BX_PKI_ROLE_NODE, err, sizeof(err)),
			 0);
	assert_int_equal(bx_pki_cert_node_id(cert, id, sizeof(id)), 0);
	assert_string_equal(id, NODE_ID);
	assert_int_equal(bx_pki_cert_node_id(cert, id, strlen(NODE_ID)), -ERANGE);
	assert_int_equal(bx_pki_cert_not_after(cert, &not_after), 0);
	assert_int_equal(not_after, unix_of(X509_get0_notAfter(x)));
	assert_int_equal(bx_pki_cert_not_after("junk", &not_after), -EINVAL);
	assert_int_equal(not_after, unix_of(X509_get0_notAfter(x)));

	EVP_PKEY_free(key);
	X509_free(x);
	X509_free(cax);
	bx_pki_key_free(key_pem);
	free(der);
	free(cert);
	bx_pki_ca_free(ca);
}

/* Two signings, even of one CSR, get different random serials. */
static void
test_sign_serials_differ(void **state)
{
	char dir[PATH_MAX], *key_pem, *c1 = NULL, *c2 = NULL, err[ERR_LEN];
	struct bx_pki_ca *ca;
	X509 *x1, *x2;
	uint8_t *der;
	size_t len;

	(void)state;
	ca = make_ca(dir, sizeof(dir));
	make_csr(NODE_ID, &key_pem, &der, &len);
	assert_int_equal(bx_pki_ca_sign_node(ca, der, len, NODE_ID, 1, &c1, err,
					     sizeof(err)),
			 0);
	assert_int_equal(bx_pki_ca_sign_node(ca, der, len, NODE_ID, 1, &c2, err,
					     sizeof(err)),
			 0);
	x1 = x509_of(c1);
	x2 = x509_of(c2);
	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(x1),
					      X509_get0_serialNumber(x2)),
			     0);
	X509_free(x1);
	X509_free(x2);
	bx_pki_key_free(key_pem);
	free(der);
	free(c1);
	free(c2);
	bx_pki_ca_free(ca);
}

/* What a CSR claims (names, CA, other usages) does not reach the
 * certificate: the hub decides. */
static void
test_sign_ignores_csr_claims(void **state)
{
	char dir[PATH_MAX], *key_pem, *cert = NULL, err[ERR_LEN] = "";
	struct bx_pki_ca *ca;
	EVP_PKEY *key;
	uint8_t *der;
	size_t len;
	X509 *x;

	(void)state;
	ca = make_ca(dir, sizeof(dir));

	/* A CSR from the module, for another node's name. */
	make_csr("other-node", &key_pem, &der, &len);
	assert_int_equal(bx_pki_ca_sign_node(ca, der, len, "node-7", 30, &cert,
					     err, sizeof(err)),
			 0);
	assert_sans(cert, "DNS:node-7");
	x = x509_of(cert);
	assert_cn(x, "node-7");
	X509_free(x);
	free(cert);
	free(der);
	cert = NULL;

	/* A hand-made CSR claiming the hub's names, an IP, CA and more. */
	key = pkey_of(key_pem);
	der = test_csr(key, "bauxite-hub", true, &len);
	assert_int_equal(bx_pki_ca_sign_node(ca, der, len, "node-7", 30, &cert,
					     err, sizeof(err)),
			 0);
	assert_sans(cert, "DNS:node-7");
	x = x509_of(cert);
	assert_cn(x, "node-7");
	assert_int_equal(X509_check_ca(x), 0);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);
	assert_int_equal(X509_get_ext_count(x), 6);
	assert_true(store_verifies(bx_pki_ca_cert_pem(ca), cert,
				   X509_PURPOSE_SSL_CLIENT, NULL, NULL));
	assert_false(store_verifies(bx_pki_ca_cert_pem(ca), cert,
				    X509_PURPOSE_SSL_SERVER, "bauxite-hub", NULL));
	X509_free(x);
	EVP_PKEY_free(key);
	bx_pki_key_free(key_pem);
	free(der);
	free(cert);
	bx_pki_ca_free(ca);
}

enum csr_mutation {
	CSR_FLIP_SIGNATURE,
	CSR_FLIP_SUBJECT,
	CSR_TRAILING_BYTE,
	CSR_TRUNCATED,
	CSR_EMPTY,
	CSR_TOO_BIG,
	CSR_NOT_DER,
};

/* Damaged CSRs are refused with a message saying what is wrong, and no
 * certificate comes out. */
static void
test_sign_refuses_bad_csr(void **state)
{
	static const struct {
		enum csr_mutation mutation;
		int rc;
		const char *msg;
	} rows[] = {
		{ CSR_FLIP_SIGNATURE, -EINVAL, "csr: signature does not verify" },
		{ CSR_FLIP_SUBJECT, -EINVAL, "csr: signature does not verify" },
		{ CSR_TRAILING_BYTE, -EINVAL, "csr: trailing data after the request (1 byte)" },
		{ CSR_TRUNCATED, -EINVAL, "csr: not a DER PKCS#10 request" },
		{ CSR_EMPTY, -EINVAL, "csr: empty" },
		{ CSR_TOO_BIG, -EMSGSIZE, "csr: 4097 bytes, more than 4096" },
		{ CSR_NOT_DER, -EINVAL, "csr: not a DER PKCS#10 request" },
	};
	static uint8_t buf[BX_PKI_CSR_MAX + 16];
	char dir[PATH_MAX], *key_pem, *cert, err[ERR_LEN];
	struct bx_pki_ca *ca;
	uint8_t *der, *at;
	size_t len, n;
	unsigned i;

	(void)state;
	_Static_assert(BX_PKI_CSR_MAX == 4096, "messages in the table");
	ca = make_ca(dir, sizeof(dir));
	make_csr("tampered-subject", &key_pem, &der, &len);
	for (i = 0; i < BX_ARRAY_SIZE(rows); i++) {
		memcpy(buf, der, len);
		n = len;
		switch (rows[i].mutation) {
		case CSR_FLIP_SIGNATURE:
			/* The last byte is the ECDSA signature's s. */
			buf[n - 1] ^= 0x01;
			break;
		case CSR_FLIP_SUBJECT:
			at = memmem(buf, n, "tampered", 8);
			assert_non_null(at);
			at[0] = 'T';
			break;
		case CSR_TRAILING_BYTE:
			buf[n++] = 0;
			break;
		case CSR_TRUNCATED:
			n -= 10;
			break;
		case CSR_EMPTY:
			n = 0;
			break;
		case CSR_TOO_BIG:
			n = BX_PKI_CSR_MAX + 1;
			break;
		case CSR_NOT_DER:
			memcpy(buf, "hello", 5);
			n = 5;
			break;
		}
		cert = NULL;
		err[0] = '\0';
		assert_int_equal(bx_pki_ca_sign_node(ca, buf, n, NODE_ID, 30,
						     &cert, err, sizeof(err)),
				 rows[i].rc);
		assert_null(cert);
		assert_contains(err, rows[i].msg);
		/* The module leaves OpenSSL's error queue empty. */
		assert_int_equal(ERR_peek_error(), 0);
	}
	/* The untouched CSR does sign: the rows failed for their mutation. */
	assert_int_equal(bx_pki_ca_sign_node(ca, der, len, NODE_ID, 30, &cert,
					     err, sizeof(err)),
			 0);
	free(cert);
	cert = NULL;
	assert_int_equal(bx_pki_ca_sign_node(ca, NULL, 10, NODE_ID, 30, &cert,
					     err, sizeof(err)),
			 -EINVAL);
	assert_null(cert);
	bx_pki_key_free(key_pem);
	free(der);
	bx_pki_ca_free(ca);
}

enum key_kind { KEY_RSA_2048, KEY_P384, KEY_ED25519, KEY_P256 };

static EVP_PKEY *
gen_key(enum key_kind kind)
{
	switch (kind) {
	case KEY_RSA_2048:
		return EVP_RSA_gen(2048);
	case KEY_P384:
		return EVP_EC_gen("P-384");
	case KEY_ED25519:
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	case KEY_P256:
		return EVP_EC_gen("P-256");
	}
	return NULL;
}

/* Properly signed CSRs for keys other than P-256 are refused, the message
 * naming the key; a hand-made P-256 CSR is accepted. */
static void
test_sign_refuses_other_keys(void **state)
{
	static const struct {
		enum key_kind kind;
		int rc;
		const char *msg;
	} rows[] = {
		{ KEY_RSA_2048, -EINVAL, "csr: key is RSA-2048, expected EC P-256" },
		{ KEY_P384, -EINVAL, "csr: key is EC P-384, expected EC P-256" },
		{ KEY_ED25519, -EINVAL, "csr: key is ED25519, expected EC P-256" },
		{ KEY_P256, 0, "" },
	};
	char dir[PATH_MAX], *cert, err[ERR_LEN];
	struct bx_pki_ca *ca;
	EVP_PKEY *pk;
	uint8_t *der;
	size_t len;
	unsigned i;

	(void)state;
	ca = make_ca(dir, sizeof(dir));
	for (i = 0; i < BX_ARRAY_SIZE(rows); i++) {
		pk = gen_key(rows[i].kind);
		assert_non_null(pk);
		der = test_csr(pk, NODE_ID, false, &len);
		cert = NULL;
		err[0] = '\0';
		assert_int_equal(bx_pki_ca_sign_node(ca, der, len, NODE_ID, 30,
						     &cert, err, sizeof(err)),
				 rows[i].rc);
		if (rows[i].rc == 0) {
			assert_non_null(cert);
			assert_sans(cert, "DNS:" NODE_ID);
		} else {
			assert_null(cert);
			assert_string_equal(err, rows[i].msg);
		}
		free(cert);
		free(der);
		EVP_PKEY_free(pk);
	}
	bx_pki_ca_free(ca);
}

/* Node ids are [A-Za-z0-9._-]{1,63}: the rest is refused by the signer
 * and the CSR maker, and every valid one comes back from the SAN. */
static void
test_node_ids(void **state)
{
	static const struct {
		const char *id;
		bool valid;
	} rows[] = {
		{ "a", true },
		{ "node-1", true },
		{ "Robot_7.site-B", true },
		{ "0", true },
		{ id_max, true },
		{ "", false },
		{ id_long, false },
		{ "a b", false },
		{ "a/b", false },
		{ "a,DNS:hub", false },
		{ "a:b", false },
		{ "a*", false },
		{ "node\n", false },
		{ "n\xc3\xa9", false },
		{ NULL, false },
	};
	char dir[PATH_MAX], *key_pem, *cert, err[ERR_LEN];
	char id[BX_PKI_NODE_ID_MAX + 1];
	struct bx_pki_ca *ca;
	uint8_t *der, *der2;
	size_t len, len2;
	unsigned i;

	(void)state;
	ca = make_ca(dir, sizeof(dir));
	make_csr("any", &key_pem, &der, &len);
	for (i = 0; i < BX_ARRAY_SIZE(rows); i++) {
		assert_int_equal(bx_pki_node_id_valid(rows[i].id), rows[i].valid);
		cert = NULL;
		err[0] = '\0';
		assert_int_equal(bx_pki_ca_sign_node(ca, der, len, rows[i].id, 30,
						     &cert, err, sizeof(err)),
				 rows[i].valid ? 0 : -EINVAL);
		der2 = NULL;
		assert_int_equal(bx_pki_csr_make(key_pem, rows[i].id, &der2, &len2,
						 NULL, 0),
				 rows[i].valid ? 0 : -EINVAL);
		if (rows[i].valid) {
			assert_int_equal(bx_pki_cert_node_id(cert, id, sizeof(id)),
					 0);
			assert_string_equal(id, rows[i].id);
		} else {
			assert_null(cert);
			assert_null(der2);
			assert_contains(err, "node id");
		}
		free(cert);
		free(der2);
	}
	bx_pki_key_free(key_pem);
	free(der);
	bx_pki_ca_free(ca);
}

/* days must be 1..BX_PKI_NODE_DAYS_MAX; the certificate never outlives
 * the CA. */
static void
test_sign_days(void **state)
{
	char dir[PATH_MAX], *key_pem, *cert = NULL, *pem, err[ERR_LEN];
	struct bx_pki_ca *ca;
	int64_t na, ca_na;
	uint8_t *der;
	size_t len;

	(void)state;
	ca = make_ca(dir, sizeof(dir));
	make_csr(NODE_ID, &key_pem, &der, &len);
	assert_int_equal(bx_pki_ca_sign_node(ca, der, len, NODE_ID, 0, &cert,
					     err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "days");
	assert_int_equal(bx_pki_ca_sign_node(ca, der, len, NODE_ID,
					     BX_PKI_NODE_DAYS_MAX + 1, &cert,
					     err, sizeof(err)),
			 -EINVAL);
	assert_null(cert);
	assert_int_equal(bx_pki_ca_sign_node(ca, der, len, NODE_ID, 1, &cert,
					     err, sizeof(err)),
			 0);
	assert_int_equal(bx_pki_cert_not_after(cert, &na), 0);
	assert_near(na, now() + DAY);
	free(cert);
	assert_int_equal(bx_pki_ca_sign_node(ca, der, len, NODE_ID,
					     BX_PKI_NODE_DAYS_MAX, &cert, err,
					     sizeof(err)),
			 0);
	assert_int_equal(bx_pki_cert_not_after(cert, &na), 0);
	assert_int_equal(bx_pki_cert_not_after(bx_pki_ca_cert_pem(ca), &ca_na),
			 0);
	assert_true(na <= ca_na);
	assert_near(na, ca_na);
	free(cert);
	cert = NULL;

	/* A CA with 10 days left signs for 30: the node gets the 10. */
	bx_pki_ca_free(ca);
	ca = NULL;
	pem = test_cert(dir, &(struct tc){
				     .not_before = now() - DAY,
				     .not_after = now() + 10 * DAY,
				     .ca = true,
			     });
	put_in(dir, BX_PKI_CA_CERT_FILE, pem, 0644);
	assert_int_equal(bx_pki_ca_load_or_create(dir, &ca, NULL, err,
						  sizeof(err)),
			 0);
	assert_int_equal(bx_pki_ca_sign_node(ca, der, len, NODE_ID, 30, &cert,
					     err, sizeof(err)),
			 0);
	assert_int_equal(bx_pki_cert_not_after(cert, &na), 0);
	assert_int_equal(bx_pki_cert_not_after(pem, &ca_na), 0);
	assert_int_equal(na, ca_na);
	assert_near(na, now() + 10 * DAY);
	assert_true(store_verifies(pem, cert, X509_PURPOSE_SSL_CLIENT, NULL,
				   NULL));
	free(pem);
	free(cert);
	bx_pki_key_free(key_pem);
	free(der);
	bx_pki_ca_free(ca);
}

/* ---- verification ------------------------------------------------------- */

enum leaf_kind {
	LEAF_NODE,          /* signed by the module */
	LEAF_OTHER_CA,      /* signed by the module, by another CA */
	LEAF_SERVER,        /* the module's server certificate */
	LEAF_EXPIRED,
	LEAF_NOT_YET_VALID,
	LEAF_NO_EKU,
	LEAF_TWO_SANS,
	LEAF_IP_SAN,
	LEAF_THE_CA,
	LEAF_CA_FLAGGED,    /* everything right, but CA:TRUE */
	LEAF_GARBAGE,
};

static char *
make_leaf(enum leaf_kind kind, const struct bx_pki_ca *ca, const char *dir)
{
	const char *names[] = { "bauxite-hub" };
	struct bx_pki_ca *other;
	char odir[PATH_MAX], *key = NULL, *cert = NULL;
	struct tc o = {
		.subject = EVP_EC_gen("P-256"),
		.not_before = now() - DAY,
		.not_after = now() + DAY,
		.san = "DNS:" NODE_ID,
		.eku = "clientAuth",
	};

	assert_non_null(o.subject);
	switch (kind) {
	case LEAF_NODE:
		cert = sign_new_node(ca, NODE_ID);
		break;
	case LEAF_OTHER_CA:
		other = make_ca(odir, sizeof(odir));
		cert = sign_new_node(other, NODE_ID);
		bx_pki_ca_free(other);
		break;
	case LEAF_SERVER:
		assert_int_equal(bx_pki_ca_issue_server(ca, names, 1, &key, &cert,
							NULL, 0),
				 0);
		bx_pki_key_free(key);
		break;
	case LEAF_EXPIRED:
		o.not_before = now() - 10 * DAY;
		o.not_after = now() - DAY;
		cert = test_cert(dir, &o);
		break;
	case LEAF_NOT_YET_VALID:
		o.not_before = now() + DAY;
		o.not_after = now() + 10 * DAY;
		cert = test_cert(dir, &o);
		break;
	case LEAF_NO_EKU:
		o.eku = NULL;
		cert = test_cert(dir, &o);
		break;
	case LEAF_TWO_SANS:
		o.san = "DNS:" NODE_ID ",DNS:node-2";
		cert = test_cert(dir, &o);
		break;
	case LEAF_IP_SAN:
		o.san = "IP:10.99.0.1";
		cert = test_cert(dir, &o);
		break;
	case LEAF_THE_CA:
		cert = strdup(bx_pki_ca_cert_pem(ca));
		break;
	case LEAF_CA_FLAGGED:
		o.ca = true;
		cert = test_cert(dir, &o);
		break;
	case LEAF_GARBAGE:
		cert = strdup("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
		break;
	}
	EVP_PKEY_free(o.subject);
	assert_non_null(cert);
	return cert;
}

/* bx_pki_cert_verify accepts exactly the certificates a hub should
 * accept for each role. */
static void
test_verify(void **state)
{
	static const struct {
		enum leaf_kind kind;
		enum bx_pki_role role;
		int rc;
		const char *msg;
	} rows[] = {
		{ LEAF_NODE, BX_PKI_ROLE_NODE, 0, "" },
		{ LEAF_NODE, BX_PKI_ROLE_SERVER, -EKEYREJECTED, "certificate:" },
		{ LEAF_OTHER_CA, BX_PKI_ROLE_NODE, -EKEYREJECTED, "issuer" },
		{ LEAF_SERVER, BX_PKI_ROLE_SERVER, 0, "" },
		{ LEAF_SERVER, BX_PKI_ROLE_NODE, -EKEYREJECTED, "certificate:" },
		{ LEAF_EXPIRED, BX_PKI_ROLE_NODE, -EKEYEXPIRED, "expired" },
		{ LEAF_NOT_YET_VALID, BX_PKI_ROLE_NODE, -EKEYEXPIRED, "not yet valid" },
		{ LEAF_NO_EKU, BX_PKI_ROLE_NODE, -EKEYREJECTED, "clientAuth" },
		{ LEAF_TWO_SANS, BX_PKI_ROLE_NODE, -EKEYREJECTED, "node id" },
		{ LEAF_IP_SAN, BX_PKI_ROLE_NODE, -EKEYREJECTED, "node id" },
		{ LEAF_THE_CA, BX_PKI_ROLE_NODE, -EKEYREJECTED, "certificate:" },
		{ LEAF_CA_FLAGGED, BX_PKI_ROLE_NODE, -EKEYREJECTED, "is a CA" },
		{ LEAF_GARBAGE, BX_PKI_ROLE_NODE, -EINVAL, "certificate:" },
	};
	char dir[PATH_MAX], err[ERR_LEN], *cert;
	struct bx_pki_ca *ca;
	unsigned i;

	(void)state;
	ca = make_ca(dir, sizeof(dir));
	for (i = 0; i < BX_ARRAY_SIZE(rows); i++) {
		cert = make_leaf(rows[i].kind, ca, dir);
		err[0] = '\0';
		if (bx_pki_cert_verify(bx_pki_ca_cert_pem(ca), cert, rows[i].role,
				       err, sizeof(err)) != rows[i].rc)
			fail_msg("row %u: expected %d, got \"%s\"", i, rows[i].rc,
				 err);
		assert_contains(err, rows[i].msg);
		free(cert);
	}
	cert = make_leaf(LEAF_NODE, ca, dir);
	assert_int_equal(bx_pki_cert_verify("junk", cert, BX_PKI_ROLE_NODE, err,
					    sizeof(err)),
			 -EINVAL);
	assert_contains(err, "ca:");
	assert_int_equal(bx_pki_cert_verify(bx_pki_ca_cert_pem(ca), cert,
					    (enum bx_pki_role)7, err,
					    sizeof(err)),
			 -EINVAL);
	free(cert);
	bx_pki_ca_free(ca);
}

/* ---- the hub's server certificate --------------------------------------- */

/* Names become DNS and IP SANs a TLS client checks, with serverAuth. */
static void
test_issue_server(void **state)
{
	static const struct {
		const char *names[3];
		size_t n;
		const char *sans;
		const char *host, *ip; /* a client dialling these accepts it */
		const char *wrong_host, *wrong_ip;
	} rows[] = {
		{ { "bauxite-hub", "10.99.0.254" }, 2,
		  "DNS:bauxite-hub,IP:10.99.0.254", "bauxite-hub", "10.99.0.254",
		  "other-hub", "10.99.0.253" },
		{ { "hub.example.com", "fd00::1", "127.0.0.1" }, 3,
		  "DNS:hub.example.com,IP6:fd00..01,IP:127.0.0.1",
		  "HUB.example.com", "fd00::1", "example.com", "fd00::2" },
	};
	char dir[PATH_MAX], *key_pem, *cert, err[ERR_LEN] = "";
	struct bx_pki_ca *ca;
	const char *ca_pem;
	EVP_PKEY *key;
	unsigned i;
	X509 *x;

	(void)state;
	ca = make_ca(dir, sizeof(dir));
	ca_pem = bx_pki_ca_cert_pem(ca);
	for (i = 0; i < BX_ARRAY_SIZE(rows); i++) {
		key_pem = NULL;
		cert = NULL;
		if (bx_pki_ca_issue_server(ca, rows[i].names, rows[i].n, &key_pem,
					   &cert, err, sizeof(err)) != 0)
			fail_msg("row %u: %s", i, err);
		assert_sans(cert, rows[i].sans);
		assert_true(store_verifies(ca_pem, cert, X509_PURPOSE_SSL_SERVER,
					   rows[i].host, NULL));
		assert_true(store_verifies(ca_pem, cert, X509_PURPOSE_SSL_SERVER,
					   NULL, rows[i].ip));
		assert_false(store_verifies(ca_pem, cert, X509_PURPOSE_SSL_SERVER,
					    rows[i].wrong_host, NULL));
		assert_false(store_verifies(ca_pem, cert, X509_PURPOSE_SSL_SERVER,
					    NULL, rows[i].wrong_ip));
		assert_false(store_verifies(ca_pem, cert, X509_PURPOSE_SSL_CLIENT,
					    NULL, NULL));
		x = x509_of(cert);
		assert_int_equal(X509_check_ca(x), 0);
		assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
		assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
		assert_near(unix_of(X509_get0_notAfter(x)),
			    now() + (int64_t)BX_PKI_SERVER_DAYS * DAY);
		key = pkey_of(key_pem);
		assert_true(is_p256(key));
		assert_int_equal(X509_check_private_key(x, key), 1);
		assert_int_equal(bx_pki_cert_verify(ca_pem, cert,
						    BX_PKI_ROLE_SERVER, err,
						    sizeof(err)),
				 0);
		EVP_PKEY_free(key);
		X509_free(x);
		bx_pki_key_free(key_pem);
		free(cert);
	}
	bx_pki_ca_free(ca);
}

/* Names that are neither a hostname nor an IP literal, duplicates and
 * bad counts are refused, naming the name. */
static void
test_issue_server_bad_names(void **state)
{
	static const char *many[BX_PKI_SERVER_NAMES_MAX + 1] = {
		"h0", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8",
		"h9", "h10", "h11", "h12", "h13", "h14", "h15", "h16",
	};
	static const struct {
		const char *names[2];
		size_t n;
		const char *msg;
	} rows[] = {
		{ { "" }, 1, "\"\": neither" },
		{ { "-hub" }, 1, "\"-hub\": neither" },
		{ { "hub-" }, 1, "\"hub-\": neither" },
		{ { "a..b" }, 1, "\"a..b\": neither" },
		{ { "hub.example.com." }, 1, "neither" },
		{ { "under_score" }, 1, "\"under_score\": neither" },
		{ { "host name" }, 1, "neither" },
		{ { "*.example.com" }, 1, "neither" },
		{ { "1.2.3" }, 1, "\"1.2.3\": neither" },
		{ { "10.99.0.256" }, 1, "\"10.99.0.256\": neither" },
		{ { label_long }, 1, "neither" },
		{ { name_long }, 1, "neither" },
		{ { "Hub", "hub" }, 2, "\"hub\": listed twice" },
		{ { "10.0.0.1", "10.0.0.1" }, 2, "listed twice" },
		{ { "::1", "0:0::1" }, 2, "\"0:0::1\": listed twice" },
		{ { "hub", NULL }, 2, "server name 1: missing" },
		{ { "hub" }, 0, "0 given" },
	};
	char dir[PATH_MAX], *key, *cert, err[ERR_LEN];
	struct bx_pki_ca *ca;
	unsigned i;

	(void)state;
	ca = make_ca(dir, sizeof(dir));
	for (i = 0; i < BX_ARRAY_SIZE(rows); i++) {
		key = NULL;
		cert = NULL;
		err[0] = '\0';
		assert_int_equal(bx_pki_ca_issue_server(ca, rows[i].names, rows[i].n,
							&key, &cert, err,
							sizeof(err)),
				 -EINVAL);
		assert_null(key);
		assert_null(cert);
		assert_contains(err, rows[i].msg);
	}
	assert_int_equal(bx_pki_ca_issue_server(ca, many, BX_ARRAY_SIZE(many),
						&key, &cert, err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "17 given");
	/* One fewer is the limit, and fine; so are names at their limits. */
	assert_int_equal(bx_pki_ca_issue_server(ca, many, BX_PKI_SERVER_NAMES_MAX,
						&key, &cert, err, sizeof(err)),
			 0);
	bx_pki_key_free(key);
	free(cert);
	name_long[strlen(name_long) - 1] = '\0'; /* 253 characters */
	label_long[63] = '\0';
	{
		const char *limits[] = { name_long, label_long };

		assert_int_equal(bx_pki_ca_issue_server(ca, limits, 2, &key,
							&cert, err, sizeof(err)),
				 0);
	}
	name_long[strlen(name_long)] = 'a';
	label_long[63] = 'a';
	bx_pki_key_free(key);
	free(cert);
	bx_pki_ca_free(ca);
}

struct server_run {
	enum bx_pki_server_state state;
	char *key, *cert;
};

static void
server_run(const char *dir, const struct bx_pki_ca *ca,
	   const char *const names[], size_t n, struct server_run *r)
{
	char err[ERR_LEN] = "";
	int rc;

	r->key = NULL;
	r->cert = NULL;
	r->state = (enum bx_pki_server_state)-1;
	rc = bx_pki_server_load_or_create(dir, ca, names, n, &r->key, &r->cert,
					  &r->state, err, sizeof(err));
	if (rc != 0)
		fail_msg("server in %s: %d %s", dir, rc, err);
}

static void
server_run_free(struct server_run *r)
{
	bx_pki_key_free(r->key);
	free(r->cert);
}

/* The returned pair is the one on disk, with the promised modes. */
static void
assert_stored(const char *dir, const struct server_run *r)
{
	char path[PATH_MAX], text[FILE_MAX];

	file_path(path, sizeof(path), dir, BX_PKI_SERVER_KEY_FILE);
	assert_int_equal(mode_of(path), BX_PKI_KEY_FILE_MODE);
	get_file(path, text, sizeof(text));
	assert_string_equal(text, r->key);
	OPENSSL_cleanse(text, sizeof(text));
	file_path(path, sizeof(path), dir, BX_PKI_SERVER_CERT_FILE);
	assert_int_equal(mode_of(path), BX_PKI_CERT_FILE_MODE);
	get_file(path, text, sizeof(text));
	assert_string_equal(text, r->cert);
}

/* Kept while good; re-issued when the names change, it expires soon, it
 * is damaged or from another CA; a key open to others is refused. */
static void
test_server_load_or_create(void **state)
{
	static const char *names[] = { "bauxite-hub", "10.99.0.254" };
	static const char *same[] = { "10.99.0.254", "BAUXITE-HUB" };
	static const char *moved[] = { "bauxite-hub", "10.99.0.253" };
	char dir[PATH_MAX], odir[PATH_MAX], path[PATH_MAX], err[ERR_LEN];
	struct server_run a, b, c;
	struct bx_pki_ca *ca, *other;
	char *key = NULL, *cert = NULL, *pem;
	struct tc o = { .san = "DNS:bauxite-hub,IP:10.99.0.254",
			.eku = "serverAuth" };
	int64_t na;

	(void)state;
	ca = make_ca(dir, sizeof(dir));

	server_run(dir, ca, names, 2, &a);
	assert_int_equal(a.state, BX_PKI_SERVER_CREATED);
	assert_stored(dir, &a);
	assert_int_equal(count_entries(dir), 4);
	assert_int_equal(bx_pki_cert_verify(bx_pki_ca_cert_pem(ca), a.cert,
					    BX_PKI_ROLE_SERVER, NULL, 0),
			 0);

	/* Unchanged, or the same names in another order and case: kept. */
	server_run(dir, ca, names, 2, &b);
	assert_int_equal(b.state, BX_PKI_SERVER_KEPT);
	assert_string_equal(b.key, a.key);
	assert_string_equal(b.cert, a.cert);
	server_run_free(&b);
	server_run(dir, ca, same, 2, &b);
	assert_int_equal(b.state, BX_PKI_SERVER_KEPT);
	assert_string_equal(b.cert, a.cert);
	server_run_free(&b);

	/* Other names: a new certificate for them, then kept again. */
	server_run(dir, ca, moved, 2, &b);
	assert_int_equal(b.state, BX_PKI_SERVER_RENAMED);
	assert_string_not_equal(b.cert, a.cert);
	assert_sans(b.cert, "DNS:bauxite-hub,IP:10.99.0.253");
	assert_stored(dir, &b);
	server_run(dir, ca, moved, 2, &c);
	assert_int_equal(c.state, BX_PKI_SERVER_KEPT);
	assert_string_equal(c.cert, b.cert);
	server_run_free(&b);
	server_run_free(&c);
	/* A subset of the names is a change too. */
	server_run(dir, ca, moved, 1, &b);
	assert_int_equal(b.state, BX_PKI_SERVER_RENAMED);
	assert_sans(b.cert, "DNS:bauxite-hub");
	server_run_free(&b);

	/* A good key that is not the certificate's: replaced. */
	server_run(dir, ca, names, 2, &b);
	assert_int_equal(bx_pki_key_generate(&key, NULL, 0), 0);
	put_in(dir, BX_PKI_SERVER_KEY_FILE, key, 0600);
	bx_pki_key_free(key);
	key = NULL;
	server_run(dir, ca, names, 2, &c);
	assert_int_equal(c.state, BX_PKI_SERVER_REPLACED);
	assert_string_not_equal(c.cert, b.cert);
	server_run_free(&b);
	server_run_free(&c);
	server_run_free(&a);

	/* hub.key readable by others: refused, naming it, nothing replaced. */
	file_path(path, sizeof(path), dir, BX_PKI_SERVER_KEY_FILE);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(bx_pki_server_load_or_create(dir, ca, names, 2, &key,
						      &cert, NULL, err,
						      sizeof(err)),
			 -EPERM);
	assert_null(key);
	assert_null(cert);
	assert_contains(err, path);
	assert_int_equal(mode_of(path), 0640);
	assert_int_equal(chmod(path, 0600), 0);

	/* Expiring within the renewal window, then already expired. */
	server_run(dir, ca, names, 2, &a);
	o.subject = pkey_of(a.key);
	o.not_before = now() - 100 * DAY;
	o.not_after = now() + (int64_t)(BX_PKI_SERVER_RENEW_DAYS - 1) * DAY;
	pem = test_cert(dir, &o);
	put_in(dir, BX_PKI_SERVER_CERT_FILE, pem, 0644);
	free(pem);
	server_run(dir, ca, names, 2, &b);
	assert_int_equal(b.state, BX_PKI_SERVER_RENEWED);
	assert_int_equal(bx_pki_cert_not_after(b.cert, &na), 0);
	assert_near(na, now() + (int64_t)BX_PKI_SERVER_DAYS * DAY);
	assert_stored(dir, &b);
	server_run_free(&b);
	/* With more than the window left it is kept. */
	o.not_after = now() + (int64_t)(BX_PKI_SERVER_RENEW_DAYS + 2) * DAY;
	pem = test_cert(dir, &o);
	put_in(dir, BX_PKI_SERVER_CERT_FILE, pem, 0644);
	put_in(dir, BX_PKI_SERVER_KEY_FILE, a.key, 0600);
	server_run(dir, ca, names, 2, &b);
	assert_int_equal(b.state, BX_PKI_SERVER_KEPT);
	assert_string_equal(b.cert, pem);
	free(pem);
	server_run_free(&b);
	o.not_after = now() - DAY;
	pem = test_cert(dir, &o);
	put_in(dir, BX_PKI_SERVER_CERT_FILE, pem, 0644);
	free(pem);
	server_run(dir, ca, names, 2, &b);
	assert_int_equal(b.state, BX_PKI_SERVER_RENEWED);
	server_run_free(&b);
	EVP_PKEY_free(o.subject);
	server_run_free(&a);

	/* Damaged or missing files, and another CA: replaced. */
	put_in(dir, BX_PKI_SERVER_CERT_FILE, "garbage\n", 0644);
	server_run(dir, ca, names, 2, &b);
	assert_int_equal(b.state, BX_PKI_SERVER_REPLACED);
	assert_stored(dir, &b);
	server_run_free(&b);
	file_path(path, sizeof(path), dir, BX_PKI_SERVER_CERT_FILE);
	assert_int_equal(unlink(path), 0);
	server_run(dir, ca, names, 2, &b);
	assert_int_equal(b.state, BX_PKI_SERVER_REPLACED);
	server_run_free(&b);
	file_path(path, sizeof(path), dir, BX_PKI_SERVER_KEY_FILE);
	assert_int_equal(unlink(path), 0);
	server_run(dir, ca, names, 2, &b);
	assert_int_equal(b.state, BX_PKI_SERVER_REPLACED);
	server_run_free(&b);
	other = make_ca(odir, sizeof(odir));
	server_run(dir, other, names, 2, &b);
	assert_int_equal(b.state, BX_PKI_SERVER_REPLACED);
	assert_int_equal(bx_pki_cert_verify(bx_pki_ca_cert_pem(other), b.cert,
					    BX_PKI_ROLE_SERVER, NULL, 0),
			 0);
	server_run_free(&b);
	assert_int_equal(count_entries(dir), 4);

	/* Bad names are refused before anything is touched. */
	assert_int_equal(bx_pki_server_load_or_create(dir, ca, names, 0, &key,
						      &cert, NULL, err,
						      sizeof(err)),
			 -EINVAL);
	bx_pki_ca_free(other);
	bx_pki_ca_free(ca);
}

static void
test_server_state_names(void **state)
{
	static const struct {
		enum bx_pki_server_state state;
		const char *name;
	} rows[] = {
		{ BX_PKI_SERVER_KEPT, "kept" },
		{ BX_PKI_SERVER_CREATED, "created" },
		{ BX_PKI_SERVER_RENAMED, "renamed" },
		{ BX_PKI_SERVER_RENEWED, "renewed" },
		{ BX_PKI_SERVER_REPLACED, "replaced" },
		{ (enum bx_pki_server_state)99, "?" },
	};
	unsigned i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(rows); i++)
		assert_string_equal(bx_pki_server_state_name(rows[i].state),
				    rows[i].name);
}

/* The chain is the leaf then the CA, and a TLS client can use it. */
static void
test_chain_pem(void **state)
{
	static const char *names[] = { "bauxite-hub" };
	char dir[PATH_MAX], *key, *cert, *chain, *leaf_again;
	struct bx_pki_ca *ca;
	X509 *first, *second, *leaf, *cax;
	BIO *bio;

	(void)state;
	ca = make_ca(dir, sizeof(dir));
	assert_int_equal(bx_pki_ca_issue_server(ca, names, 1, &key, &cert, NULL,
						0),
			 0);
	chain = bx_pki_chain_pem(cert, bx_pki_ca_cert_pem(ca));
	assert_non_null(chain);
	bio = BIO_new_mem_buf(chain, -1);
	first = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	second = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	assert_null(PEM_read_bio_X509(bio, NULL, NULL, NULL));
	BIO_free(bio);
	leaf = x509_of(cert);
	cax = x509_of(bx_pki_ca_cert_pem(ca));
	assert_int_equal(X509_cmp(first, leaf), 0);
	assert_int_equal(X509_cmp(second, cax), 0);
	/* The leaf part alone is still one certificate the module reads. */
	leaf_again = pem_of_x509(first);
	assert_string_equal(leaf_again, cert);

	errno = 0;
	assert_null(bx_pki_chain_pem("junk", bx_pki_ca_cert_pem(ca)));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(bx_pki_chain_pem(chain, bx_pki_ca_cert_pem(ca)));
	assert_int_equal(errno, EINVAL);

	free(leaf_again);
	X509_free(first);
	X509_free(second);
	X509_free(leaf);
	X509_free(cax);
	free(chain);
	bx_pki_key_free(key);
	free(cert);
	bx_pki_ca_free(ca);
}

/* ---- key and certificate files ------------------------------------------ */

static void
test_key_files(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX], err[ERR_LEN], *k1, *k2, *got;
	char *p384;
	EVP_PKEY *pk;
	mode_t old;

	(void)state;
	fresh_dir(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	file_path(path, sizeof(path), dir, "node.key");
	assert_int_equal(bx_pki_key_generate(&k1, err, sizeof(err)), 0);
	assert_int_equal(bx_pki_key_generate(&k2, err, sizeof(err)), 0);
	assert_string_not_equal(k1, k2);

	/* The mode is set explicitly, whatever the umask. */
	old = umask(0);
	assert_int_equal(bx_pki_key_write(path, k1, false, err, sizeof(err)), 0);
	umask(old);
	assert_int_equal(mode_of(path), BX_PKI_KEY_FILE_MODE);
	assert_int_equal(bx_pki_key_read(path, &got, err, sizeof(err)), 0);
	assert_string_equal(got, k1);
	bx_pki_key_free(got);

	/* Not replaced unless asked. */
	assert_int_equal(bx_pki_key_write(path, k2, false, err, sizeof(err)),
			 -EEXIST);
	assert_contains(err, path);
	assert_int_equal(bx_pki_key_read(path, &got, err, sizeof(err)), 0);
	assert_string_equal(got, k1);
	bx_pki_key_free(got);
	assert_int_equal(bx_pki_key_write(path, k2, true, err, sizeof(err)), 0);
	assert_int_equal(bx_pki_key_read(path, &got, err, sizeof(err)), 0);
	assert_string_equal(got, k2);
	bx_pki_key_free(got);
	assert_int_equal(count_entries(dir), 1);

	/* Refused reads, each naming the file. */
	got = NULL;
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(bx_pki_key_read(path, &got, err, sizeof(err)), -EPERM);
	assert_contains(err, path);
	assert_contains(err, "0604");
	assert_null(got);
	put_file(path, "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
		 0600);
	assert_int_equal(bx_pki_key_read(path, &got, err, sizeof(err)), -EINVAL);
	assert_contains(err, path);
	pk = EVP_EC_gen("P-384");
	p384 = pem_of_key(pk);
	put_file(path, p384, 0600);
	assert_int_equal(bx_pki_key_read(path, &got, err, sizeof(err)), -EINVAL);
	assert_contains(err, "key is EC P-384");
	assert_int_equal(bx_pki_key_write(path, p384, true, err, sizeof(err)),
			 -EINVAL);
	assert_null(got);
	file_path(path, sizeof(path), dir, "missing.key");
	assert_int_equal(bx_pki_key_read(path, &got, err, sizeof(err)), -ENOENT);
	assert_contains(err, path);
	file_path(path, sizeof(path), dir, "no/such/dir.key");
	assert_int_equal(bx_pki_key_write(path, k1, false, err, sizeof(err)),
			 -ENOENT);
	assert_contains(err, "no/such");

	OPENSSL_cleanse(p384, strlen(p384));
	free(p384);
	EVP_PKEY_free(pk);
	bx_pki_key_free(k1);
	bx_pki_key_free(k2);
	bx_pki_key_free(NULL);
}

static void
test_cert_files(void **state)
{
	char dir[PATH_MAX], cdir[PATH_MAX], path[PATH_MAX], err[ERR_LEN];
	char *got = NULL, *chain, *key_pem;
	struct bx_pki_ca *ca;
	mode_t old;

	(void)state;
	ca = make_ca(cdir, sizeof(cdir));
	fresh_dir(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	file_path(path, sizeof(path), dir, "ca.crt");
	old = umask(077);
	assert_int_equal(bx_pki_cert_write(path, bx_pki_ca_cert_pem(ca), false,
					   err, sizeof(err)),
			 0);
	umask(old);
	assert_int_equal(mode_of(path), BX_PKI_CERT_FILE_MODE);
	assert_int_equal(bx_pki_cert_read(path, &got, err, sizeof(err)), 0);
	assert_string_equal(got, bx_pki_ca_cert_pem(ca));
	free(got);
	got = NULL;
	assert_int_equal(bx_pki_cert_write(path, bx_pki_ca_cert_pem(ca), false,
					   err, sizeof(err)),
			 -EEXIST);

	/* A chain, a key or garbage is not one certificate. */
	chain = bx_pki_chain_pem(bx_pki_ca_cert_pem(ca), bx_pki_ca_cert_pem(ca));
	assert_non_null(chain);
	assert_int_equal(bx_pki_cert_write(path, chain, true, err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, path);
	assert_int_equal(bx_pki_key_generate(&key_pem, NULL, 0), 0);
	assert_int_equal(bx_pki_cert_write(path, key_pem, true, err, sizeof(err)),
			 -EINVAL);
	put_file(path, chain, 0644);
	assert_int_equal(bx_pki_cert_read(path, &got, err, sizeof(err)), -EINVAL);
	assert_contains(err, path);
	assert_null(got);
	assert_int_equal(count_entries(dir), 1);

	bx_pki_key_free(key_pem);
	free(chain);
	bx_pki_ca_free(ca);
}

/* A file over BX_PKI_PEM_MAX is refused before parsing. */
static void
test_file_too_big(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX], err[ERR_LEN], *big, *got = NULL;

	(void)state;
	fresh_dir(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	file_path(path, sizeof(path), dir, "big.crt");
	big = malloc(BX_PKI_PEM_MAX + 2);
	assert_non_null(big);
	memset(big, '\n', BX_PKI_PEM_MAX + 1);
	big[BX_PKI_PEM_MAX + 1] = '\0';
	put_file(path, big, 0644);
	assert_int_equal(bx_pki_cert_read(path, &got, err, sizeof(err)), -EFBIG);
	assert_contains(err, path);
	assert_null(got);
	free(big);
}

/* Join tokens: made and parsed back; every malformed kind refused. */
static void
test_join_token(void **state)
{
	static const char *const bad[] = {
		"", "abc", "abc.def", ".x.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"id..AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"id.secret.AAAA",
		"id.secret.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
		"id.secret.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", /* pad bits */
	};
	uint8_t pin[BX_PKI_SHA256_LEN], back[BX_PKI_SHA256_LEN];
	char tok[160], cred[128], err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(pin); i++)
		pin[i] = (uint8_t)(0xf0 ^ (i * 37));
	assert_int_equal(bx_pki_join_token_make("0123456789abcdef.c2Vj-_cmV0",
						pin, tok, sizeof(tok)), 0);
	assert_int_equal(strlen(tok), strlen("0123456789abcdef.c2Vj-_cmV0") +
					      1 + BX_PKI_PIN_B64_LEN);
	assert_int_equal(bx_pki_join_token_parse(tok, cred, sizeof(cred), back,
						 err, sizeof(err)), 0);
	assert_string_equal(cred, "0123456789abcdef.c2Vj-_cmV0");
	assert_memory_equal(back, pin, sizeof(pin));
	/* One character of the pin changed: another pin. */
	tok[strlen(tok) - 5] = tok[strlen(tok) - 5] == 'A' ? 'B' : 'A';
	assert_int_equal(bx_pki_join_token_parse(tok, cred, sizeof(cred), back,
						 err, sizeof(err)), 0);
	assert_memory_not_equal(back, pin, sizeof(pin));

	assert_int_equal(bx_pki_join_token_make("no-dot", pin, tok, sizeof(tok)),
			 -EINVAL);
	assert_int_equal(bx_pki_join_token_make("a.b.c", pin, tok, sizeof(tok)),
			 -EINVAL);
	assert_int_equal(bx_pki_join_token_make("a.b", pin, tok, 10), -ENOSPC);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(bx_pki_join_token_parse(bad[i], cred, sizeof(cred),
							 back, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "token: "));
	}
	/* A credential too long for the caller's buffer. */
	assert_int_equal(bx_pki_join_token_make("0123456789abcdef.c2VjcmV0", pin,
						tok, sizeof(tok)), 0);
	assert_int_equal(bx_pki_join_token_parse(tok, cred, 8, back, err,
						 sizeof(err)), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca_create),
		cmocka_unit_test(test_ca_load_again),
		cmocka_unit_test(test_ca_refuses_open_key_mode),
		cmocka_unit_test(test_ca_refuses_bad_files),
		cmocka_unit_test(test_ca_sha256),
		cmocka_unit_test(test_cert_pem_strict),
		cmocka_unit_test(test_csr_make),
		cmocka_unit_test(test_sign_node),
		cmocka_unit_test(test_sign_serials_differ),
		cmocka_unit_test(test_sign_ignores_csr_claims),
		cmocka_unit_test(test_sign_refuses_bad_csr),
		cmocka_unit_test(test_sign_refuses_other_keys),
		cmocka_unit_test(test_node_ids),
		cmocka_unit_test(test_sign_days),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_issue_server),
		cmocka_unit_test(test_issue_server_bad_names),
		cmocka_unit_test(test_server_load_or_create),
		cmocka_unit_test(test_server_state_names),
		cmocka_unit_test(test_chain_pem),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_cert_files),
		cmocka_unit_test(test_file_too_big),
		cmocka_unit_test(test_join_token),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
