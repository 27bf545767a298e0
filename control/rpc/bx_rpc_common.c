/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Status codes, peer addresses and the small conversions both halves use.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include <grpc/slice.h>
#include <grpc/status.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "bx_common.h"
#include "rpc_internal.h"

/* Our enum must stay a relabelling of gRPC's, values cast straight across. */
_Static_assert(BX_RPC_OK == (int)GRPC_STATUS_OK, "code");
_Static_assert(BX_RPC_CANCELLED == (int)GRPC_STATUS_CANCELLED, "code");
_Static_assert(BX_RPC_UNKNOWN == (int)GRPC_STATUS_UNKNOWN, "code");
_Static_assert(BX_RPC_INVALID_ARGUMENT == (int)GRPC_STATUS_INVALID_ARGUMENT,
	       "code");
_Static_assert(BX_RPC_DEADLINE_EXCEEDED == (int)GRPC_STATUS_DEADLINE_EXCEEDED,
	       "code");
_Static_assert(BX_RPC_NOT_FOUND == (int)GRPC_STATUS_NOT_FOUND, "code");
_Static_assert(BX_RPC_ALREADY_EXISTS == (int)GRPC_STATUS_ALREADY_EXISTS, "code");
_Static_assert(BX_RPC_PERMISSION_DENIED == (int)GRPC_STATUS_PERMISSION_DENIED,
	       "code");
_Static_assert(BX_RPC_RESOURCE_EXHAUSTED == (int)GRPC_STATUS_RESOURCE_EXHAUSTED,
	       "code");
_Static_assert(BX_RPC_FAILED_PRECONDITION ==
		       (int)GRPC_STATUS_FAILED_PRECONDITION,
	       "code");
_Static_assert(BX_RPC_ABORTED == (int)GRPC_STATUS_ABORTED, "code");
_Static_assert(BX_RPC_OUT_OF_RANGE == (int)GRPC_STATUS_OUT_OF_RANGE, "code");
_Static_assert(BX_RPC_UNIMPLEMENTED == (int)GRPC_STATUS_UNIMPLEMENTED, "code");
_Static_assert(BX_RPC_INTERNAL == (int)GRPC_STATUS_INTERNAL, "code");
_Static_assert(BX_RPC_UNAVAILABLE == (int)GRPC_STATUS_UNAVAILABLE, "code");
_Static_assert(BX_RPC_DATA_LOSS == (int)GRPC_STATUS_DATA_LOSS, "code");
_Static_assert(BX_RPC_UNAUTHENTICATED == (int)GRPC_STATUS_UNAUTHENTICATED,
	       "code");

static const struct {
	const char *name;
	int err; /* positive errno; 0 for OK */
} code_table[] = {
	[BX_RPC_OK] = {"OK", 0},
	[BX_RPC_CANCELLED] = {"CANCELLED", ECANCELED},
	[BX_RPC_UNKNOWN] = {"UNKNOWN", EPROTO},
	[BX_RPC_INVALID_ARGUMENT] = {"INVALID_ARGUMENT", EINVAL},
	[BX_RPC_DEADLINE_EXCEEDED] = {"DEADLINE_EXCEEDED", ETIMEDOUT},
	[BX_RPC_NOT_FOUND] = {"NOT_FOUND", ENOENT},
	[BX_RPC_ALREADY_EXISTS] = {"ALREADY_EXISTS", EEXIST},
	[BX_RPC_PERMISSION_DENIED] = {"PERMISSION_DENIED", EPERM},
	[BX_RPC_RESOURCE_EXHAUSTED] = {"RESOURCE_EXHAUSTED", ENOBUFS},
	[BX_RPC_FAILED_PRECONDITION] = {"FAILED_PRECONDITION", EBUSY},
	[BX_RPC_ABORTED] = {"ABORTED", ECONNABORTED},
	[BX_RPC_OUT_OF_RANGE] = {"OUT_OF_RANGE", ERANGE},
	[BX_RPC_UNIMPLEMENTED] = {"UNIMPLEMENTED", ENOSYS},
	[BX_RPC_INTERNAL] = {"INTERNAL", EPROTO},
	[BX_RPC_UNAVAILABLE] = {"UNAVAILABLE", ECONNREFUSED},
	[BX_RPC_DATA_LOSS] = {"DATA_LOSS", EBADMSG},
	[BX_RPC_UNAUTHENTICATED] = {"UNAUTHENTICATED", EACCES},
};

const char *bx_rpc_code_name(enum bx_rpc_code code)
{
	if ((unsigned)code >= BX_ARRAY_SIZE(code_table))
		return "UNKNOWN_CODE";
	return code_table[code].name;
}

int bx_rpc_code_to_errno(enum bx_rpc_code code)
{
	if ((unsigned)code >= BX_ARRAY_SIZE(code_table))
		return -EPROTO;
	return -code_table[code].err;
}

/* Parses a decimal port with nothing around it. */
static int parse_port(const char *s, uint16_t *out)
{
	unsigned long v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > UINT16_MAX)
			return -EINVAL;
	}
	*out = (uint16_t)v;
	return 0;
}

int bx_rpc_addr_parse(const char *peer, struct bx_rpc_addr *out)
{
	/* "ipv6:[" + 45 characters of address + "]:65535", with room. */
	char host[INET6_ADDRSTRLEN];
	struct bx_rpc_addr a = {0};
	const char *p, *end, *port;
	size_t n;

	if (peer == NULL)
		return -EINVAL;
	if (strncmp(peer, "ipv4:", 5) == 0) {
		p = peer + 5;
		port = strrchr(p, ':');
		if (port == NULL)
			return -EINVAL;
		end = port;
		a.family = AF_INET;
	} else if (strncmp(peer, "ipv6:", 5) == 0) {
		p = peer + 5;
		/* Brackets literal in 1.51, percent-encoded in later gRPC. */
		if (*p == '[') {
			p++;
			end = strchr(p, ']');
			port = end ? end + 1 : NULL;
		} else if (strncasecmp(p, "%5B", 3) == 0) {
			p += 3;
			end = strcasestr(p, "%5D");
			port = end ? end + 3 : NULL;
		} else {
			return -EINVAL;
		}
		if (end == NULL || *port != ':')
			return -EINVAL;
		a.family = AF_INET6;
	} else {
		return -EINVAL;
	}
	n = (size_t)(end - p);
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, p, n);
	host[n] = '\0';
	if (inet_pton(a.family, host, &a.ip) != 1)
		return -EINVAL;
	if (parse_port(port + 1, &a.port) != 0)
		return -EINVAL;
	*out = a;
	return 0;
}

int rpc_unix_path(const char *addr, char *out, size_t outlen)
{
	const char *p;
	size_t n;

	if (addr == NULL ||
	    strncmp(addr, BX_RPC_UNIX_PREFIX, strlen(BX_RPC_UNIX_PREFIX)) != 0)
		return -EINVAL;
	p = addr + strlen(BX_RPC_UNIX_PREFIX);
	/* The URI form: an empty authority, then the absolute path. */
	if (strncmp(p, "//", 2) == 0) {
		p += 2;
		if (*p != '/')
			return -EINVAL;
	}
	n = strlen(p);
	/* gRPC parses the address as a URI: these would not name the file
	 * we see. */
	if (n == 0 || strpbrk(p, "%?#") != NULL)
		return -EINVAL;
	if (n >= outlen)
		return -ENAMETOOLONG;
	memcpy(out, p, n + 1);
	return 0;
}

/* "127.x.y.z:PORT" or "[::1]:PORT". */
static bool loopback_host_port(const char *addr)
{
	char host[INET6_ADDRSTRLEN];
	const char *end, *port;
	struct in6_addr v6;
	struct in_addr v4;
	bool bracketed = *addr == '[';
	uint16_t p;
	size_t n;

	if (bracketed) {
		addr++;
		end = strchr(addr, ']');
		if (end == NULL || end[1] != ':')
			return false;
		port = end + 2;
	} else {
		end = strrchr(addr, ':');
		if (end == NULL)
			return false;
		port = end + 1;
	}
	n = (size_t)(end - addr);
	if (n == 0 || n >= sizeof(host) || parse_port(port, &p) != 0)
		return false;
	memcpy(host, addr, n);
	host[n] = '\0';
	/* gRPC reads an IPv6 address only in brackets. */
	if (!bracketed)
		return inet_pton(AF_INET, host, &v4) == 1 &&
		       (ntohl(v4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &v6) == 1 &&
	       IN6_IS_ADDR_LOOPBACK(&v6);
}

bool bx_rpc_addr_is_local(const char *addr)
{
	char path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];

	if (addr == NULL)
		return false;
	if (strncmp(addr, BX_RPC_UNIX_PREFIX, strlen(BX_RPC_UNIX_PREFIX)) == 0)
		return rpc_unix_path(addr, path, sizeof(path)) == 0;
	return loopback_host_port(addr);
}

void rpc_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

grpc_byte_buffer *rpc_bb_from(const void *data, size_t len)
{
	grpc_slice s = grpc_slice_from_copied_buffer(data, len);
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);

	/* The buffer took its own reference. */
	grpc_slice_unref(s);
	return bb;
}

grpc_slice rpc_bb_slice(grpc_byte_buffer *bb)
{
	grpc_byte_buffer_reader r;
	grpc_slice s;

	if (!grpc_byte_buffer_reader_init(&r, bb))
		return grpc_empty_slice();
	s = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	return s;
}

char *rpc_slice_strdup(grpc_slice s)
{
	return strndup((const char *)GRPC_SLICE_START_PTR(s),
		       GRPC_SLICE_LENGTH(s));
}

gpr_timespec rpc_deadline_ms(int64_t ms)
{
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
			    gpr_time_from_millis(ms, GPR_TIMESPAN));
}

int rpc_pem_cert_count(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x;
	int n = 0;

	if (bio == NULL)
		return 0;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		X509_free(x);
		n++;
	}
	/* Reading stops at the end of the data with an error on the queue. */
	ERR_clear_error();
	BIO_free(bio);
	return n;
}

int rpc_pem_check_pair(const char *cert_pem, const char *key_pem, char *err,
		       size_t errlen)
{
	BIO *cb = BIO_new_mem_buf(cert_pem, -1);
	BIO *kb = BIO_new_mem_buf(key_pem, -1);
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int rc = -EINVAL;

	if (cb == NULL || kb == NULL) {
		rpc_err(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	cert = PEM_read_bio_X509(cb, NULL, NULL, NULL);
	if (cert == NULL) {
		rpc_err(err, errlen, "certificate: no PEM certificate found");
		goto out;
	}
	key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
	if (key == NULL) {
		rpc_err(err, errlen, "key: no PEM private key found");
		goto out;
	}
	if (X509_check_private_key(cert, key) != 1) {
		rpc_err(err, errlen, "key does not match the certificate");
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(cert);
	BIO_free(kb);
	BIO_free(cb);
	return rc;
}
