/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc-poke: sends bytes that are not the method's message to a live hub,
 * for the integration tests ("malformed RPC payloads get a gRPC status and
 * the hub keeps serving").
 *
 *   rpc-poke HUB PIN_B64URL METHOD HEX                 (no certificate)
 *   rpc-poke HUB - METHOD HEX CA_FILE CERT_FILE KEY_FILE SERVER_NAME
 *
 * Calls METHOD (a unary method, or a server stream whose first answer is
 * taken) with the bytes HEX and prints the status as "CODE message". Exit
 * 0 when a status came back (whatever it is), 1 when the call could not
 * be made at all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bx_pki.h"
#include "bx_rpc.h"

static int
hex_decode(const char *hex, uint8_t **out, size_t *len)
{
	size_t n = strlen(hex), i;
	uint8_t *b;

	if (n % 2 != 0)
		return -EINVAL;
	b = malloc(n / 2 + 1);
	if (b == NULL)
		return -ENOMEM;
	for (i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
			free(b);
			return -EINVAL;
		}
		b[i] = (uint8_t)v;
	}
	*out = b;
	*len = n / 2;
	return 0;
}

int
main(int argc, char **argv)
{
	struct bx_rpc_client_creds creds;
	struct bx_rpc_channel *ch;
	struct bx_rpc_result res;
	struct bx_rpc_call *call;
	char cred[8], err[512], tok[256];
	char *ca = NULL, *cert = NULL, *key = NULL;
	const char *msg;
	enum bx_rpc_code code;
	uint8_t *req = NULL, *data;
	size_t len, dlen;
	int rc = 1;

	if (argc != 5 && argc != 9) {
		fprintf(stderr, "usage: rpc-poke HUB PIN METHOD HEX [CA CERT KEY NAME]\n");
		return 2;
	}
	memset(&creds, 0, sizeof(creds));
	if (argc == 5) {
		/* The pin as a join token carries it: reuse its parser. */
		snprintf(tok, sizeof(tok), "x.y.%s", argv[2]);
		if (bx_pki_join_token_parse(tok, cred, sizeof(cred), creds.ca_sha256,
					    err, sizeof(err)) != 0) {
			fprintf(stderr, "rpc-poke: %s\n", err);
			return 2;
		}
		creds.kind = BX_RPC_CREDS_PINNED_CA;
	} else {
		if (bx_pki_cert_read(argv[5], &ca, err, sizeof(err)) != 0 ||
		    bx_pki_cert_read(argv[6], &cert, err, sizeof(err)) != 0 ||
		    bx_pki_key_read(argv[7], &key, err, sizeof(err)) != 0) {
			fprintf(stderr, "rpc-poke: %s\n", err);
			goto out;
		}
		creds.kind = BX_RPC_CREDS_TLS;
		creds.ca_pem = ca;
		creds.cert_pem = cert;
		creds.key_pem = key;
		creds.server_name = argv[8];
	}
	if (hex_decode(argv[4], &req, &len) != 0) {
		fprintf(stderr, "rpc-poke: HEX is not hex\n");
		goto out;
	}
	ch = bx_rpc_channel_create(argv[1], &creds, err, sizeof(err));
	if (ch == NULL) {
		fprintf(stderr, "rpc-poke: %s\n", err);
		goto out;
	}
	memset(&res, 0, sizeof(res));
	if (strstr(argv[3], "/Watch") == NULL) {
		bx_rpc_unary(ch, argv[3], req, len, 5000, &res);
		printf("%s %s\n", bx_rpc_code_name(res.code), res.message);
		bx_rpc_result_clear(&res);
		rc = 0;
	} else if (bx_rpc_call_open_stream(ch, argv[3], req, len, &call) == 0) {
		if (bx_rpc_call_next(call, 5000, &data, &dlen) == 0) {
			free(data);
			printf("OK a message\n");
		} else if (bx_rpc_call_status(call, &code, &msg) == 0) {
			printf("%s %s\n", bx_rpc_code_name(code), msg);
		} else {
			printf("NONE no answer\n");
		}
		bx_rpc_call_free(call);
		rc = 0;
	}
	bx_rpc_channel_destroy(ch);
out:
	free(req);
	free(ca);
	free(cert);
	bx_pki_key_free(key);
	return rc;
}
