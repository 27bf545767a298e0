/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers the server and client halves of bx_rpc share. Not installed.
 */
#ifndef RPC_INTERNAL_H
#define RPC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/support/time.h>

#include "bx_rpc.h"

/*
 * The file path of a "unix:PATH" or "unix:///abs/path" address, into @out
 * (@outlen bytes, a unix socket address's sun_path at most). Returns 0,
 * -EINVAL when @addr is not such an address (or has an empty path, an
 * authority, or a '%', '?' or '#', which gRPC would read as URI syntax),
 * -ENAMETOOLONG when the path does not fit.
 */
int rpc_unix_path(const char *addr, char *out, size_t outlen);

/* Formats a one-line reason into the caller's optional error buffer. */
void rpc_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A byte buffer holding a copy of @len bytes; NULL when out of memory. */
grpc_byte_buffer *rpc_bb_from(const void *data, size_t len);

/*
 * The contents of @bb as one slice (a reference, no copy when gRPC already
 * holds it contiguously); unref it when done.
 */
grpc_slice rpc_bb_slice(grpc_byte_buffer *bb);

/* A NUL-terminated copy of @s; NULL when out of memory. */
char *rpc_slice_strdup(grpc_slice s);

/* Monotonic deadline @ms from now. */
gpr_timespec rpc_deadline_ms(int64_t ms);

/*
 * Checks that @pem holds at least one certificate OpenSSL can read, so a
 * typo is reported where the configuration is given rather than as a
 * handshake failure much later. Returns how many, 0 when none.
 */
int rpc_pem_cert_count(const char *pem);

/*
 * Checks @key_pem is a private key matching the first certificate of
 * @cert_pem. Returns 0, or -EINVAL with a reason in @err.
 */
int rpc_pem_check_pair(const char *cert_pem, const char *key_pem, char *err,
		       size_t errlen);

#endif /* RPC_INTERNAL_H */
