/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for control/snapshot. Each input is read twice:
 *   1. as a whole snapshot file image, so the frame checks (length, magic,
 *      checksum) meet arbitrary bytes;
 *   2. as the payload of a correctly framed image, so the bytes get past
 *      the checksum to protobuf-c and the value checks, which random
 *      bytes would almost never reach through (1).
 * Either must parse, or be refused with a negative errno and an error that
 * starts with the input's name; never crash, hang or leak.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bx_common.h"
#include "bx_snapshot.h"

#define FUZZ_NAME "fuzz.snapshot"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const uint8_t *buf, size_t len)
{
	struct bx_snapshot *s = NULL;
	char err[512];
	int rc;

	err[0] = '\0';
	rc = bx_snapshot_parse(buf, len, FUZZ_NAME, &s, err, sizeof(err));
	if (rc == 0) {
		BX_ASSERT(s != NULL);
		BX_ASSERT(s->n_peers <= BX_SNAPSHOT_MAX_PEERS);
		bx_snapshot_free(s);
	} else {
		BX_ASSERT(rc == -EBADMSG || rc == -EINVAL || rc == -ENOMEM);
		BX_ASSERT(s == NULL);
		BX_ASSERT(strncmp(err, FUZZ_NAME ": ", strlen(FUZZ_NAME) + 2) == 0);
	}
}

/* The documented frame (bx_snapshot.h) around @payload. */
static uint8_t *
frame(const uint8_t *payload, size_t n)
{
	uint8_t *img = malloc(BX_SNAPSHOT_HEADER_LEN + n);
	struct bx_snapshot_header h;
	crypto_generichash_state st;

	if (img == NULL)
		return NULL;
	memcpy(h.magic, BX_SNAPSHOT_MAGIC, BX_SNAPSHOT_MAGIC_LEN);
	h.payload_len = htonl((uint32_t)n);
	memcpy(img, &h, BX_SNAPSHOT_SUMMED_HEADER_LEN);
	if (n > 0)
		memcpy(img + BX_SNAPSHOT_HEADER_LEN, payload, n);
	crypto_generichash_init(&st, NULL, 0, BX_SNAPSHOT_SUM_LEN);
	crypto_generichash_update(&st, img, BX_SNAPSHOT_SUMMED_HEADER_LEN);
	crypto_generichash_update(&st, img + BX_SNAPSHOT_HEADER_LEN, n);
	crypto_generichash_final(&st, h.checksum, BX_SNAPSHOT_SUM_LEN);
	memcpy(img, &h, sizeof(h));
	return img;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *img;

	BX_ASSERT(sodium_init() >= 0);
	check(data, size);
	if (size > BX_SNAPSHOT_MAX_PAYLOAD)
		return 0;
	img = frame(data, size);
	if (img != NULL) {
		check(img, BX_SNAPSHOT_HEADER_LEN + size);
		free(img);
	}
	return 0;
}
