/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A node's link to its hub (DESIGN §4 Hub sync): mutual-TLS gRPC to
 * bauxite-dispatch, holding the topology and policy streams open and
 * reporting the node's counters.
 *
 * Threads
 *   bx_hub_start starts one thread of its own that does all the gRPC work
 *   (connects, streams, reconnects with back-off, reports metrics). The
 *   control lcore only polls: bx_hub_poll hands over what arrived as
 *   events, decoded and checked, never blocking. Nothing the hub sends
 *   reaches the data plane except through the caller, which applies the
 *   events (registry, RCU).
 *
 * Hub down
 *   The link says so (a STATE event) and retries: after 1 s, doubling up to
 *   reconnect_max_s, back to 1 s after a session that delivered and lasted
 *   (a hub that accepts and drops the link at once is not hammered). The node
 *   keeps forwarding on what it has; on reconnect it tells the hub the
 *   versions it applied (bx_hub_applied), and the hub sends what it missed
 *   or a full snapshot.
 *
 * What the hub sends is checked before it becomes an event: a peer with a
 * bad id, key, address or prefix is left out and said in the event's
 * `warning`; a message that does not decode ends the stream (the link
 * reconnects and gets a full snapshot).
 *
 * Library code: no logging; errors as -errno and a message.
 */
#ifndef BX_HUB_H
#define BX_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BX_HUB_ID_MAX 64u          /* node ids: 1..63 characters + NUL */
#define BX_HUB_KEY_LEN 32u
#define BX_HUB_MAX_PREFIXES 16u    /* as a config peer's allowed_prefixes */
#define BX_HUB_WARNING_LEN 256u
#define BX_HUB_COUNTER_NAME_MAX 48u
#define BX_HUB_MAX_COUNTERS 256u
/* First wait before a reconnect; doubles up to reconnect_max_s. */
#define BX_HUB_RECONNECT_MIN_MS 1000u
/* A metrics report that takes longer than this is given up; it is also
 * the longest bx_hub_stop can wait for the thread. */
#define BX_HUB_REPORT_TIMEOUT_MS 1000u
/* The thread waits this long on one stream before looking at the other. */
#define BX_HUB_POLL_MS 20

struct bx_hub_counter {
	char name[BX_HUB_COUNTER_NAME_MAX];
	uint64_t value;
};

/*
 * Fills up to @max counters for a metrics report; returns how many. Runs
 * on the hub's thread: it must only read what is safe to read from there
 * (per-lcore counters are).
 */
typedef unsigned (*bx_hub_collect_fn)(void *ctx, struct bx_hub_counter *out,
				      unsigned max);

struct bx_hub_conf {
	const char *target;         /* "host:port" */
	const char *server_name;    /* the hub certificate's name; NULL: host */
	const char *ca_file;        /* PEM files, read once at start */
	const char *cert_file;
	const char *key_file;       /* must be mode 0600 or stricter */
	uint32_t metrics_interval_s;
	uint32_t reconnect_max_s;
	uint64_t topology_version;  /* applied before (warm start), 0: none */
	bx_hub_collect_fn collect;  /* NULL: no metrics reports */
	void *collect_ctx;
};

struct bx_hub_prefix {
	uint32_t addr;              /* network order, host bits zero */
	uint8_t len;                /* 1..32 */
};

/* A peer as the hub describes it, checked. */
struct bx_hub_peer {
	char id[BX_HUB_ID_MAX];
	uint8_t ed25519_public[BX_HUB_KEY_LEN];
	uint8_t x25519_public[BX_HUB_KEY_LEN];
	uint32_t virtual_ip;        /* network order, not 0 */
	unsigned n_allowed;         /* besides virtual_ip/32 */
	struct bx_hub_prefix allowed[BX_HUB_MAX_PREFIXES];
	uint32_t endpoint_ip;       /* network order; 0: none known */
	uint16_t endpoint_port;     /* host order */
};

enum bx_hub_event_kind {
	BX_HUB_EV_TOPOLOGY,
	BX_HUB_EV_POLICY,
	BX_HUB_EV_STATE,
};

struct bx_hub_event {
	enum bx_hub_event_kind kind;
	/* TOPOLOGY: version; full = the peer set is exactly `upsert` (remove
	 * every hub peer not in it); otherwise apply upsert and remove. */
	uint64_t version;
	bool full;
	unsigned n_upsert;
	struct bx_hub_peer *upsert;
	unsigned n_remove;
	char (*remove)[BX_HUB_ID_MAX];
	/* POLICY: version and the rules (the config's "rules" JSON; "" for
	 * none). */
	char *rules_json;
	/* STATE: connected or not, and why. */
	bool connected;
	/* TOPOLOGY (entries left out) and STATE (the reason). */
	char warning[BX_HUB_WARNING_LEN];
};

struct bx_hub;

/*
 * Reads the credentials and starts the link's thread. Errors (the files:
 * missing, unreadable, a key file others can read, PEM that does not
 * parse) name the file in @err; NULL and errno then.
 */
struct bx_hub *bx_hub_start(const struct bx_hub_conf *conf, char *err,
			    size_t errlen);

/* 0 and the next event (free it with bx_hub_event_free), or -EAGAIN. */
int bx_hub_poll(struct bx_hub *hub, struct bx_hub_event **ev);
void bx_hub_event_free(struct bx_hub_event *ev);

/* What the node applied, for reconnects and metrics reports. */
void bx_hub_applied(struct bx_hub *hub, uint64_t topology_version,
		    uint64_t policy_version);

/* True while both streams are up. */
bool bx_hub_connected(const struct bx_hub *hub);

/* Stops the thread, closes the link, frees everything (events not yet
 * polled too). NULL is fine. */
void bx_hub_stop(struct bx_hub *hub);

#endif /* BX_HUB_H */
