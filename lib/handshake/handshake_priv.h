/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/handshake internals shared by its files, its unit test and its fuzz
 * harness (private, not installed).
 *
 * The *_with variants are the engine's message functions with the
 * ephemeral private key passed in instead of drawn: the public functions
 * call them with a fresh random key; tests and the fuzzer pass a fixed one
 * so a message can be rebuilt byte for byte (known answers, seed corpus,
 * "only the genuine message makes a session").
 */
#ifndef HS_HANDSHAKE_PRIV_H
#define HS_HANDSHAKE_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "bx_handshake.h"

/* bx_hs_create_initiation with ephemeral private key @e_priv. */
int hs_create_initiation_with(struct bx_hs *hs, struct bx_hs_peer *p,
			      uint32_t local_index, uint64_t now,
			      uint64_t wall_ns,
			      const uint8_t e_priv[BX_HS_KEY_LEN],
			      uint8_t out[BX_HS_INIT_LEN]);

/* bx_hs_consume_initiation with the response's ephemeral private key
 * @e_priv; NULL draws a random one (only once the initiation is accepted). */
enum bx_hs_reason hs_consume_initiation_with(struct bx_hs *hs,
					     const struct bx_hs_rx *rx,
					     const uint8_t *e_priv,
					     struct bx_hs_result *res);

/* Token bucket of @source: true (and one initiation's cost taken) if it
 * may have one more initiation at @now. */
bool hs_ratelimit_allow(struct bx_hs *hs, uint64_t source, uint64_t now);

#endif /* HS_HANDSHAKE_PRIV_H */
