/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handshake engine: Bauxite's messages around the Noise IK core (noise.c),
 * mac1/mac2 and cookies, replay and staleness, the tie-break, and the
 * rekey policy. The protocol is written down in bx_handshake.h.
 *
 * Every parser here sees bytes from the wire: the length is checked
 * exactly first, then only fixed offsets inside it are read. A message is
 * built in a local buffer and state is changed only once it has passed
 * every check, so a refused message leaves the engine and the peer as they
 * were.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "bx_common.h"
#include "bx_handshake.h"
#include "handshake_priv.h"
#include "noise.h"

#define MAC1_LABEL "mac1----"
#define COOKIE_LABEL "cookie--"
#define LABEL_LEN 8u
/* TAI64 label of 1970-01-01 00:00:10 TAI = the Unix epoch, as WireGuard. */
#define TAI64_EPOCH UINT64_C(0x400000000000000a)

_Static_assert(BX_HS_KEY_LEN == HS_NOISE_KEY_LEN, "one key size");
_Static_assert(BX_HS_TAG_LEN == HS_NOISE_TAG_LEN, "one tag size");
_Static_assert(BX_HS_INIT_OFF_MAC1 - BX_HS_INIT_OFF_EPHEMERAL ==
	       HS_NOISE_MSG1_FIXED + BX_HS_TIMESTAMP_LEN + BX_HS_TAG_LEN,
	       "the initiation carries Noise message 1 whole");
_Static_assert(BX_HS_RESP_OFF_MAC1 - BX_HS_RESP_OFF_EPHEMERAL ==
	       HS_NOISE_MSG2_FIXED + BX_HS_TAG_LEN,
	       "the response carries Noise message 2 whole");
_Static_assert(sizeof(MAC1_LABEL) - 1 == LABEL_LEN &&
	       sizeof(COOKIE_LABEL) - 1 == LABEL_LEN, "labels");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == BX_HS_COOKIE_NONCE_LEN,
	       "XChaCha20 nonce");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == BX_HS_TAG_LEN, "tag");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == BX_HS_KEY_LEN, "key");
_Static_assert(BX_HS_COOKIE_LEN >= crypto_generichash_KEYBYTES_MIN,
	       "a cookie keys the mac2 BLAKE2b");

const char *
bx_hs_reason_name(enum bx_hs_reason r)
{
	static const char *const names[] = {
#define BX_HS_REASON_NAME_(sym, name) name,
		BX_HS_REASONS(BX_HS_REASON_NAME_)
#undef BX_HS_REASON_NAME_
	};

	if ((unsigned int)r >= BX_HS__COUNT)
		return "unknown";
	return names[r];
}

void
bx_hs_config_default(struct bx_hs_config *cfg)
{
	*cfg = (struct bx_hs_config){
		.rekey_after_ns = BX_HS_REKEY_AFTER_NS,
		.rekey_after_messages = BX_HS_REKEY_AFTER_MESSAGES,
		.reject_after_ns = BX_HS_REJECT_AFTER_NS,
		.reject_after_messages = BX_HS_REJECT_AFTER_MESSAGES,
		.keep_previous_ns = BX_HS_KEEP_PREVIOUS_NS,
		.handshake_timeout_ns = BX_HS_HANDSHAKE_TIMEOUT_NS,
		.max_clock_skew_ns = BX_HS_MAX_CLOCK_SKEW_NS,
		.initiations_per_sec = BX_HS_INITIATIONS_PER_SEC,
		.initiations_burst = BX_HS_INITIATIONS_BURST,
	};
}

static bool
config_valid(const struct bx_hs_config *c)
{
	return c->rekey_after_ns > 0 && c->rekey_after_ns < c->reject_after_ns &&
	       c->rekey_after_messages > 0 &&
	       c->rekey_after_messages < c->reject_after_messages &&
	       c->handshake_timeout_ns > 0 && c->initiations_per_sec > 0 &&
	       c->initiations_per_sec <= BX_HS_NS_PER_SEC &&
	       c->initiations_burst > 0;
}

/* ---- encoding helpers --------------------------------------------------- */

static uint32_t
load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void
store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint64_t
load_be64(const uint8_t *p)
{
	return (uint64_t)load_be32(p) << 32 | load_be32(p + 4);
}

static void
store_be64(uint8_t *p, uint64_t v)
{
	store_be32(p, (uint32_t)(v >> 32));
	store_be32(p + 4, (uint32_t)v);
}

static void
header_write(uint8_t *msg, enum bx_wire_type type, uint32_t rx_index)
{
	const struct bx_wire_info wi = {
		.type = type,
		.lane = BX_LANE_CRITICAL,
		.rx_index = rx_index,
	};

	bx_wire_encode(msg, &wi);
}

/* True if @msg starts with a header of @type whose other fields are the
 * fixed ones of handshake messages; its rx_index goes to @rx_index. */
static bool
header_read(const uint8_t *msg, size_t len, enum bx_wire_type type,
	    uint32_t *rx_index)
{
	struct bx_wire_info wi;

	if (bx_wire_decode(msg, len, &wi) != BX_DROP_NONE)
		return false;
	if (wi.type != type || wi.flags != 0 || wi.lane != BX_LANE_CRITICAL ||
	    wi.path_id != 0 || wi.counter != 0)
		return false;
	*rx_index = wi.rx_index;
	return true;
}

static void
tai64n_write(uint8_t out[BX_HS_TIMESTAMP_LEN], uint64_t ns)
{
	store_be64(out, TAI64_EPOCH + ns / BX_HS_NS_PER_SEC);
	store_be32(out + 8, (uint32_t)(ns % BX_HS_NS_PER_SEC));
}

/* Only what tai64n_write can produce is a timestamp. */
static bool
tai64n_read(const uint8_t in[BX_HS_TIMESTAMP_LEN], uint64_t *ns)
{
	uint64_t label = load_be64(in), secs;
	uint32_t nanos = load_be32(in + 8);

	if (label < TAI64_EPOCH || nanos >= BX_HS_NS_PER_SEC)
		return false;
	secs = label - TAI64_EPOCH;
	if (secs > (UINT64_MAX - nanos) / BX_HS_NS_PER_SEC)
		return false;
	*ns = secs * BX_HS_NS_PER_SEC + nanos;
	return true;
}

/* MAC(key, msg[0..len)): keyed BLAKE2b, 16-byte output. */
static void
mac_compute(uint8_t out[BX_HS_MAC_LEN], const uint8_t *key, size_t key_len,
	    const uint8_t *msg, size_t len)
{
	crypto_generichash(out, BX_HS_MAC_LEN, msg, len, key, key_len);
}

static bool
mac_ok(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t len,
       const uint8_t mac[BX_HS_MAC_LEN])
{
	uint8_t want[BX_HS_MAC_LEN];
	bool ok;

	mac_compute(want, key, key_len, msg, len);
	ok = crypto_verify_16(want, mac) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}

/* HASH(label || public key): the mac1 and cookie keys of a node. */
static void
label_key(uint8_t out[BX_HS_KEY_LEN], const char *label,
	  const uint8_t pub[BX_HS_KEY_LEN])
{
	crypto_hash_sha256_state s;

	crypto_hash_sha256_init(&s);
	crypto_hash_sha256_update(&s, (const uint8_t *)label, LABEL_LEN);
	crypto_hash_sha256_update(&s, pub, BX_HS_KEY_LEN);
	crypto_hash_sha256_final(&s, out);
}

static enum bx_hs_reason
noise_reason(enum hs_noise_err e)
{
	switch (e) {
	case HS_NOISE_OK:
		return BX_HS_OK;
	case HS_NOISE_BAD_KEY:
		return BX_HS_BAD_KEY;
	case HS_NOISE_DECRYPT:
	default:
		return BX_HS_DECRYPT_FAILED;
	}
}

/* ---- cookies ------------------------------------------------------------- */

/* Replaces the secret once it is BX_HS_COOKIE_SECRET_NS old. The old one
 * stays valid for one more period, unless it is older than that too. */
static void
cookie_rotate(struct bx_hs *hs, uint64_t now)
{
	uint64_t age = now - hs->cookie_secret_ns;

	if (age < BX_HS_COOKIE_SECRET_NS)
		return;
	if (age < 2 * BX_HS_COOKIE_SECRET_NS) {
		memcpy(hs->cookie_secret_prev, hs->cookie_secret,
		       sizeof(hs->cookie_secret_prev));
		hs->cookie_secret_prev_valid = true;
	} else {
		sodium_memzero(hs->cookie_secret_prev,
			       sizeof(hs->cookie_secret_prev));
		hs->cookie_secret_prev_valid = false;
	}
	randombytes_buf(hs->cookie_secret, sizeof(hs->cookie_secret));
	hs->cookie_secret_ns = now;
}

static void
cookie_make(uint8_t out[BX_HS_COOKIE_LEN], const uint8_t secret[BX_HS_KEY_LEN],
	    uint64_t source)
{
	uint8_t src[sizeof(source)];

	store_be64(src, source);
	mac_compute(out, secret, BX_HS_KEY_LEN, src, sizeof(src));
}

static bool
mac2_valid_with(const uint8_t secret[BX_HS_KEY_LEN], const uint8_t *msg,
		uint64_t source)
{
	uint8_t cookie[BX_HS_COOKIE_LEN];
	bool ok;

	cookie_make(cookie, secret, source);
	ok = mac_ok(cookie, sizeof(cookie), msg, BX_HS_INIT_OFF_MAC2,
		    msg + BX_HS_INIT_OFF_MAC2);
	sodium_memzero(cookie, sizeof(cookie));
	return ok;
}

/* Step 3 of the responder's rules: OK to go on, or why a cookie reply is
 * due instead. */
static enum bx_hs_reason
mac2_judge(const struct bx_hs *hs, const uint8_t *msg, uint64_t source,
	   bool under_load)
{
	if (sodium_is_zero(msg + BX_HS_INIT_OFF_MAC2, BX_HS_MAC_LEN))
		return under_load ? BX_HS_COOKIE_SENT : BX_HS_OK;
	if (mac2_valid_with(hs->cookie_secret, msg, source))
		return BX_HS_OK;
	if (hs->cookie_secret_prev_valid &&
	    mac2_valid_with(hs->cookie_secret_prev, msg, source))
		return BX_HS_OK;
	return BX_HS_BAD_MAC2;
}

/* The cookie reply to initiation @init (whose header and mac1 are good). */
static void
cookie_reply_write(const struct bx_hs *hs, const uint8_t *init, uint64_t source,
		   uint8_t out[BX_HS_COOKIE_REPLY_LEN])
{
	uint8_t cookie[BX_HS_COOKIE_LEN];

	header_write(out, BX_WIRE_COOKIE, load_be32(init + BX_HS_INIT_OFF_SENDER));
	randombytes_buf(out + BX_HS_COOKIE_OFF_NONCE, BX_HS_COOKIE_NONCE_LEN);
	cookie_make(cookie, hs->cookie_secret, source);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		out + BX_HS_COOKIE_OFF_SEALED, NULL, cookie, sizeof(cookie),
		init + BX_HS_INIT_OFF_MAC1, BX_HS_MAC_LEN, NULL,
		out + BX_HS_COOKIE_OFF_NONCE, hs->cookie_key);
	sodium_memzero(cookie, sizeof(cookie));
}

static bool
cookie_usable(const struct bx_hs_peer *p, uint64_t now)
{
	return p->have_cookie && now - p->cookie_ns < BX_HS_COOKIE_MAX_AGE_NS;
}

/* ---- engine and peers ---------------------------------------------------- */

int
bx_hs_init(struct bx_hs *hs, const struct bx_hs_config *cfg,
	   const uint8_t static_priv[BX_HS_KEY_LEN], bx_hs_lookup_fn lookup,
	   void *lookup_ctx, uint64_t now)
{
	struct bx_hs_config c;

	if (hs == NULL || static_priv == NULL || lookup == NULL)
		return -EINVAL;
	if (cfg != NULL)
		c = *cfg;
	else
		bx_hs_config_default(&c);
	if (!config_valid(&c))
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;

	sodium_memzero(hs, sizeof(*hs));
	hs->cfg = c;
	memcpy(hs->static_priv, static_priv, BX_HS_KEY_LEN);
	crypto_scalarmult_base(hs->static_pub, hs->static_priv);
	label_key(hs->mac1_key, MAC1_LABEL, hs->static_pub);
	label_key(hs->cookie_key, COOKIE_LABEL, hs->static_pub);
	randombytes_buf(hs->cookie_secret, sizeof(hs->cookie_secret));
	hs->cookie_secret_ns = now;
	randombytes_buf(hs->ratelimit_key, sizeof(hs->ratelimit_key));
	hs->lookup = lookup;
	hs->lookup_ctx = lookup_ctx;
	return 0;
}

void
bx_hs_wipe(struct bx_hs *hs)
{
	if (hs != NULL)
		sodium_memzero(hs, sizeof(*hs));
}

int
bx_hs_peer_init(const struct bx_hs *hs, struct bx_hs_peer *p,
		const uint8_t remote_static[BX_HS_KEY_LEN], bool local_is_lower,
		void *ctx)
{
	uint8_t ss[BX_HS_KEY_LEN];
	int rc = 0;

	if (hs == NULL || p == NULL || remote_static == NULL)
		return -EINVAL;
	/* Talking to ourselves would make a "peer" of our own key. */
	if (sodium_memcmp(remote_static, hs->static_pub, BX_HS_KEY_LEN) == 0)
		return -EINVAL;
	if (hs_noise_dh(ss, hs->static_priv, remote_static) != HS_NOISE_OK) {
		rc = -EINVAL;
		goto out;
	}
	sodium_memzero(p, sizeof(*p));
	memcpy(p->remote_static, remote_static, BX_HS_KEY_LEN);
	memcpy(p->ss, ss, BX_HS_KEY_LEN);
	label_key(p->mac1_key, MAC1_LABEL, remote_static);
	label_key(p->cookie_key, COOKIE_LABEL, remote_static);
	p->local_is_lower = local_is_lower;
	p->ctx = ctx;
out:
	sodium_memzero(ss, sizeof(ss));
	return rc;
}

void
bx_hs_peer_wipe(struct bx_hs_peer *p)
{
	if (p != NULL)
		sodium_memzero(p, sizeof(*p));
}

static bool
pending_live(const struct bx_hs *hs, const struct bx_hs_peer *p, uint64_t now)
{
	return p->pending.local_index != 0 &&
	       now - p->pending.sent_ns < hs->cfg.handshake_timeout_ns;
}

static void
pending_wipe(struct bx_hs_peer *p)
{
	sodium_memzero(&p->pending, sizeof(p->pending));
	p->mac1_unanswered = false;
}

uint32_t
bx_hs_peer_expire(const struct bx_hs *hs, struct bx_hs_peer *p, uint64_t now)
{
	uint32_t dropped = 0;

	if (p->pending.local_index != 0 && !pending_live(hs, p, now)) {
		dropped = p->pending.local_index;
		pending_wipe(p);
	}
	if (p->have_cookie && !cookie_usable(p, now)) {
		sodium_memzero(p->cookie, sizeof(p->cookie));
		p->have_cookie = false;
	}
	return dropped;
}

uint32_t
bx_hs_pending_index(const struct bx_hs_peer *p)
{
	return p->pending.local_index;
}

uint32_t
bx_hs_random_index(void)
{
	uint32_t idx;

	do
		randombytes_buf(&idx, sizeof(idx));
	while (idx == 0);
	return idx;
}

void
bx_hs_session_wipe(struct bx_hs_session *s)
{
	if (s != NULL)
		sodium_memzero(s, sizeof(*s));
}

/* ---- initiator ------------------------------------------------------------ */

int
hs_create_initiation_with(struct bx_hs *hs, struct bx_hs_peer *p,
			  uint32_t local_index, uint64_t now, uint64_t wall_ns,
			  const uint8_t e_priv[BX_HS_KEY_LEN],
			  uint8_t out[BX_HS_INIT_LEN])
{
	uint8_t msg[BX_HS_INIT_LEN], ts[BX_HS_TIMESTAMP_LEN];
	struct hs_noise st;
	uint64_t ts_ns;
	int rc = 0;

	if (local_index == 0)
		return -EINVAL;
	/* Strictly growing even if the wall clock stalls or steps back. */
	ts_ns = wall_ns > p->last_ts_sent ? wall_ns : p->last_ts_sent + 1;
	tai64n_write(ts, ts_ns);

	header_write(msg, BX_WIRE_HANDSHAKE_INIT, 0);
	store_be32(msg + BX_HS_INIT_OFF_SENDER, local_index);
	hs_noise_init(&st, (const uint8_t *)BX_HS_PROLOGUE,
		      sizeof(BX_HS_PROLOGUE) - 1, p->remote_static);
	/* es can only fail for a low-order key, which bx_hs_peer_init refused. */
	if (hs_noise_write1(&st, e_priv, hs->static_pub, p->remote_static, p->ss,
			    ts, sizeof(ts),
			    msg + BX_HS_INIT_OFF_EPHEMERAL) != HS_NOISE_OK) {
		rc = -EINVAL;
		goto out;
	}
	mac_compute(msg + BX_HS_INIT_OFF_MAC1, p->mac1_key, BX_HS_KEY_LEN, msg,
		    BX_HS_INIT_OFF_MAC1);
	if (cookie_usable(p, now))
		mac_compute(msg + BX_HS_INIT_OFF_MAC2, p->cookie,
			    sizeof(p->cookie), msg, BX_HS_INIT_OFF_MAC2);
	else
		memset(msg + BX_HS_INIT_OFF_MAC2, 0, BX_HS_MAC_LEN);

	pending_wipe(p);
	memcpy(p->pending.e_priv, e_priv, BX_HS_KEY_LEN);
	memcpy(p->pending.ck, st.ck, sizeof(p->pending.ck));
	memcpy(p->pending.h, st.h, sizeof(p->pending.h));
	p->pending.sent_ns = now;
	p->pending.local_index = local_index;
	p->last_ts_sent = ts_ns;
	memcpy(p->last_mac1, msg + BX_HS_INIT_OFF_MAC1, BX_HS_MAC_LEN);
	p->mac1_unanswered = true;
	memcpy(out, msg, sizeof(msg));
out:
	sodium_memzero(&st, sizeof(st));
	return rc;
}

int
bx_hs_create_initiation(struct bx_hs *hs, struct bx_hs_peer *p,
			uint32_t local_index, uint64_t now, uint64_t wall_ns,
			uint8_t out[BX_HS_INIT_LEN])
{
	uint8_t e_priv[BX_HS_KEY_LEN];
	int rc;

	randombytes_buf(e_priv, sizeof(e_priv));
	rc = hs_create_initiation_with(hs, p, local_index, now, wall_ns, e_priv,
				       out);
	sodium_memzero(e_priv, sizeof(e_priv));
	return rc;
}

enum bx_hs_reason
bx_hs_consume_response(struct bx_hs *hs, struct bx_hs_peer *p,
		       const uint8_t *msg, size_t len, uint64_t now,
		       struct bx_hs_session *out)
{
	uint8_t empty[1];
	struct bx_hs_session s;
	struct hs_noise st;
	enum bx_hs_reason r;
	uint32_t rx_index, sender;

	if (len != BX_HS_RESP_LEN)
		return BX_HS_BAD_LEN;
	if (!header_read(msg, len, BX_WIRE_HANDSHAKE_RESP, &rx_index) ||
	    rx_index == 0)
		return BX_HS_BAD_HEADER;
	sender = load_be32(msg + BX_HS_RESP_OFF_SENDER);
	if (sender == 0)
		return BX_HS_BAD_HEADER;
	if (!mac_ok(hs->mac1_key, BX_HS_KEY_LEN, msg, BX_HS_RESP_OFF_MAC1,
		    msg + BX_HS_RESP_OFF_MAC1))
		return BX_HS_BAD_MAC1;
	if (!sodium_is_zero(msg + BX_HS_RESP_OFF_MAC2, BX_HS_MAC_LEN))
		return BX_HS_BAD_MAC2;
	if (!pending_live(hs, p, now) || p->pending.local_index != rx_index)
		return BX_HS_NO_PENDING;

	/* Work on a copy: a forged response must leave the pending state. */
	memcpy(st.ck, p->pending.ck, sizeof(st.ck));
	memcpy(st.h, p->pending.h, sizeof(st.h));
	memset(st.k, 0, sizeof(st.k));
	st.n = 0;
	r = noise_reason(hs_noise_read2(&st, p->pending.e_priv, hs->static_priv,
					msg + BX_HS_RESP_OFF_EPHEMERAL, 0, empty));
	if (r != BX_HS_OK)
		goto out;
	hs_noise_split(&st, s.send_key, s.recv_key);
	s.local_index = p->pending.local_index;
	s.remote_index = sender;
	s.initiator = true;
	s.created_ns = now;
	s.peer = p;
	pending_wipe(p);
	*out = s;
out:
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(&s, sizeof(s));
	return r;
}

enum bx_hs_reason
bx_hs_consume_cookie(struct bx_hs *hs, struct bx_hs_peer *p, const uint8_t *msg,
		     size_t len, uint64_t now)
{
	uint8_t cookie[BX_HS_COOKIE_LEN];
	uint32_t rx_index;

	if (len != BX_HS_COOKIE_REPLY_LEN)
		return BX_HS_BAD_LEN;
	if (!header_read(msg, len, BX_WIRE_COOKIE, &rx_index) || rx_index == 0)
		return BX_HS_BAD_HEADER;
	if (!p->mac1_unanswered || !pending_live(hs, p, now) ||
	    p->pending.local_index != rx_index)
		return BX_HS_NO_PENDING;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    cookie, NULL, NULL, msg + BX_HS_COOKIE_OFF_SEALED,
		    BX_HS_COOKIE_LEN + BX_HS_TAG_LEN, p->last_mac1,
		    BX_HS_MAC_LEN, msg + BX_HS_COOKIE_OFF_NONCE,
		    p->cookie_key) != 0)
		return BX_HS_DECRYPT_FAILED;
	memcpy(p->cookie, cookie, sizeof(p->cookie));
	p->cookie_ns = now;
	p->have_cookie = true;
	p->mac1_unanswered = false;
	sodium_memzero(cookie, sizeof(cookie));
	return BX_HS_OK;
}

/* ---- responder ------------------------------------------------------------ */

/* Steps 1-4 of the responder's rules: everything before the first DH. */
static enum bx_hs_reason
initiation_precheck(struct bx_hs *hs, const struct bx_hs_rx *rx,
		    struct bx_hs_result *res)
{
	const uint8_t *m = rx->msg;
	enum bx_hs_reason r;
	uint32_t rx_index;

	if (rx->len != BX_HS_INIT_LEN)
		return BX_HS_BAD_LEN;
	if (!header_read(m, rx->len, BX_WIRE_HANDSHAKE_INIT, &rx_index) ||
	    rx_index != 0 || load_be32(m + BX_HS_INIT_OFF_SENDER) == 0)
		return BX_HS_BAD_HEADER;
	if (!mac_ok(hs->mac1_key, BX_HS_KEY_LEN, m, BX_HS_INIT_OFF_MAC1,
		    m + BX_HS_INIT_OFF_MAC1))
		return BX_HS_BAD_MAC1;
	cookie_rotate(hs, rx->now);
	r = mac2_judge(hs, m, rx->source, rx->under_load);
	if (r != BX_HS_OK) {
		cookie_reply_write(hs, m, rx->source, res->reply);
		res->reply_len = BX_HS_COOKIE_REPLY_LEN;
		return r;
	}
	if (!hs_ratelimit_allow(hs, rx->source, rx->now))
		return BX_HS_RATE_LIMITED;
	return BX_HS_OK;
}

enum bx_hs_reason
hs_consume_initiation_with(struct bx_hs *hs, const struct bx_hs_rx *rx,
			   const uint8_t *e_priv, struct bx_hs_result *res)
{
	const uint8_t *m = rx->msg;
	const uint64_t skew = hs->cfg.max_clock_skew_ns;
	uint8_t re[BX_HS_KEY_LEN], rs[BX_HS_KEY_LEN], e[BX_HS_KEY_LEN];
	uint8_t ts[BX_HS_TIMESTAMP_LEN], reply[BX_HS_RESP_LEN], empty[1] = {0};
	struct bx_hs_session s;
	struct bx_hs_peer *p;
	struct hs_noise st;
	enum bx_hs_reason r;
	uint32_t sender;
	uint64_t ts_ns;

	BX_ASSERT(rx->local_index != 0);
	r = initiation_precheck(hs, rx, res);
	if (r != BX_HS_OK)
		return r;
	sender = load_be32(m + BX_HS_INIT_OFF_SENDER);

	hs_noise_init(&st, (const uint8_t *)BX_HS_PROLOGUE,
		      sizeof(BX_HS_PROLOGUE) - 1, hs->static_pub);
	r = noise_reason(hs_noise_read1_static(&st, hs->static_priv,
					       m + BX_HS_INIT_OFF_EPHEMERAL, re,
					       rs));
	if (r != BX_HS_OK)
		goto out;
	p = hs->lookup(hs->lookup_ctx, rs);
	if (p == NULL) {
		r = BX_HS_UNKNOWN_PEER;
		goto out;
	}
	r = noise_reason(hs_noise_read1_payload(&st, p->ss,
						m + BX_HS_INIT_OFF_TIMESTAMP,
						sizeof(ts), ts));
	if (r != BX_HS_OK)
		goto out;
	if (!tai64n_read(ts, &ts_ns)) {
		r = BX_HS_BAD_TIMESTAMP;
		goto out;
	}
	if (ts_ns <= p->last_ts_received) {
		r = BX_HS_STALE_TIMESTAMP;
		goto out;
	}
	if (skew != 0 && ts_ns > rx->wall_ns && ts_ns - rx->wall_ns > skew) {
		r = BX_HS_FUTURE_TIMESTAMP;
		goto out;
	}
	/* Tie-break: the lower id's initiation is the one answered. */
	if (pending_live(hs, p, rx->now) && p->local_is_lower) {
		res->simultaneous = p;
		r = BX_HS_SIMULTANEOUS;
		goto out;
	}

	if (e_priv != NULL)
		memcpy(e, e_priv, sizeof(e));
	else
		randombytes_buf(e, sizeof(e));
	header_write(reply, BX_WIRE_HANDSHAKE_RESP, sender);
	store_be32(reply + BX_HS_RESP_OFF_SENDER, rx->local_index);
	/* ee and se were both checked by es of message 1 (same re, rs). */
	r = noise_reason(hs_noise_write2(&st, e, re, rs, empty, 0,
					 reply + BX_HS_RESP_OFF_EPHEMERAL));
	if (r != BX_HS_OK)
		goto out;
	mac_compute(reply + BX_HS_RESP_OFF_MAC1, p->mac1_key, BX_HS_KEY_LEN,
		    reply, BX_HS_RESP_OFF_MAC1);
	memset(reply + BX_HS_RESP_OFF_MAC2, 0, BX_HS_MAC_LEN);
	hs_noise_split(&st, s.recv_key, s.send_key);
	s.local_index = rx->local_index;
	s.remote_index = sender;
	s.initiator = false;
	s.created_ns = rx->now;
	s.peer = p;

	p->last_ts_received = ts_ns;
	res->dropped_index = p->pending.local_index;
	pending_wipe(p);
	res->session = s;
	memcpy(res->reply, reply, sizeof(reply));
	res->reply_len = sizeof(reply);
out:
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(&s, sizeof(s));
	sodium_memzero(e, sizeof(e));
	return r;
}

enum bx_hs_reason
bx_hs_consume_initiation(struct bx_hs *hs, const struct bx_hs_rx *rx,
			 struct bx_hs_result *res)
{
	return hs_consume_initiation_with(hs, rx, NULL, res);
}

/* ---- rekey policy --------------------------------------------------------- */

bool
bx_hs_should_rekey(const struct bx_hs_config *cfg, const struct bx_hs_usage *u,
		   uint64_t now)
{
	uint64_t after = cfg->rekey_after_ns;

	if (!u->initiator)
		after += cfg->handshake_timeout_ns;
	return u->sent >= cfg->rekey_after_messages ||
	       now - u->created_ns >= after;
}

bool
bx_hs_expired(const struct bx_hs_config *cfg, const struct bx_hs_usage *u,
	      uint64_t now)
{
	return now - u->created_ns >= cfg->reject_after_ns ||
	       u->sent >= cfg->reject_after_messages ||
	       u->received >= cfg->reject_after_messages;
}

bool
bx_hs_keep_previous(const struct bx_hs_config *cfg, uint64_t replaced_ns,
		    uint64_t now)
{
	return now - replaced_ns < cfg->keep_previous_ns;
}
