/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Role relay, control side (DESIGN §3.5 path (2), lib/relay): nodes holding
 * a relay credential from the hub register here; the fast path forwards
 * their datagrams to each other by handle (worker.c, relay_forward) on the
 * table this file publishes.
 *
 * A REGISTER is verified against the relay secret (the credential is
 * bound to the node id and its expiry), accepted into the registry with
 * the address and MAC it came from (so the answer and every forwarded
 * datagram go back the way the node's traffic came in), and answered with
 * REGISTERED; anything wrong is counted under its reason and answered with
 * REFUSED. When the set of reachable nodes or their addresses change, a new
 * table is published (RCU) and the old one freed after the grace period.
 *
 * Control lcore only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "app.h"
#include "bx_relay.h"

#define LOG_PREFIX "bauxite-app: relay: "
/* Registrations whose lease ran out are looked for this often. */
#define EXPIRE_PERIOD_MS 1000u

struct app_relay {
	const struct bx_config *cfg;
	struct app_sessions *sessions;
	struct bx_stats_lcore *st;
	struct rte_rcu_qsbr *qsbr;
	const struct app_ports *ports;
	uint8_t *secret;                 /* sodium_malloc, BX_RELAY_SECRET_LEN */
	struct bx_relay_registry *reg;
	struct bx_relay_table *table;    /* what the workers read */
	uint64_t next_expire_ms;
	bool stale;                      /* a publish failed: retry */
};

static uint64_t
unix_s(void)
{
	return (uint64_t)time(NULL);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * The relay secret: exactly BX_RELAY_SECRET_LEN bytes in a file only its
 * owner can read (`bauxite-dispatch relay export-secret` writes it).
 */
static int
secret_load(const char *path, uint8_t *out, char *err, size_t errlen)
{
	uint8_t extra;
	struct stat sb;
	ssize_t got;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, errlen, "relay.secret_file: %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "relay.secret_file: %s: not a regular file",
			 path);
		rc = -EINVAL;
	} else if ((sb.st_mode & 077) != 0) {
		snprintf(err, errlen,
			 "relay.secret_file: %s: mode %04o lets others read it (expected 0600)",
			 path, (unsigned)(sb.st_mode & 07777));
		rc = -EPERM;
	} else {
		got = read(fd, out, BX_RELAY_SECRET_LEN);
		if (got != (ssize_t)BX_RELAY_SECRET_LEN ||
		    read(fd, &extra, 1) != 0) {
			snprintf(err, errlen,
				 "relay.secret_file: %s: expected exactly %u bytes",
				 path, BX_RELAY_SECRET_LEN);
			rc = -EINVAL;
		}
	}
	close(fd);
	return rc;
}

/* Workers see the registry as it is now; the old table goes after them. */
static void
publish(struct app_relay *r)
{
	struct bx_relay_table *next = bx_relay_table_build(r->reg), *old;

	if (next == NULL) {
		if (!r->stale)
			fprintf(stderr, LOG_PREFIX "cannot build the forwarding "
				"table: %s; the previous one stays, retrying\n",
				strerror(errno));
		r->stale = true;
		return;
	}
	r->stale = false;
	old = r->table;
	__atomic_store_n(&r->table, next, __ATOMIC_RELEASE);
	rte_rcu_qsbr_synchronize(r->qsbr, RTE_QSBR_THRID_INVALID);
	bx_relay_table_free(old);
}

static void
answer(struct app_relay *r, const uint8_t *msg, int len,
       const struct bx_wire_udp_view *v)
{
	struct bx_wire_outer o;

	if (len <= 0)
		return;
	memset(&o, 0, sizeof(o));
	o.src_mac = r->ports->underlay_mac;
	o.dst_mac = v->src_mac;
	o.src_ip = r->cfg->underlay.address.addr;
	o.dst_ip = v->src_ip;
	o.src_port = rte_cpu_to_be_16(r->cfg->mesh_port);
	o.dst_port = v->src_port;
	app_sessions_send(r->sessions, msg, (uint16_t)len, &o,
			  BX_STAT_RELAY_CONTROL_TX);
}

static void
refuse(struct app_relay *r, const uint8_t *msg, size_t len,
       const struct bx_wire_udp_view *v, enum bx_drop_reason why)
{
	uint8_t out[BX_RELAY_REFUSED_LEN];
	struct bx_wire_info info;

	bx_stats_rx_drop(r->st, why, 1);
	if (bx_wire_decode(msg, len, &info) != BX_DROP_NONE)
		return;
	answer(r, out, bx_relay_refused_encode(out, sizeof(out), info.counter, why),
	       v);
}

void
app_relay_frame(void *ctx, const uint8_t *msg, size_t len,
		const struct bx_wire_udp_view *v)
{
	struct app_relay *r = ctx;
	uint8_t out[BX_RELAY_REGISTERED_LEN];
	struct bx_relay_reg reg;
	enum bx_drop_reason why;
	uint64_t now = unix_s(), mac = 0;
	uint32_t lease;
	char ip[INET_ADDRSTRLEN];
	int rc, i;

	if (bx_relay_msg_op(msg, len) != BX_RELAY_OP_REGISTER) {
		bx_stats_rx_drop(r->st, BX_DROP_MSG_UNHANDLED, 1);
		return;
	}
	why = bx_relay_register_verify(r->secret, msg, len, now, &reg);
	if (why != BX_DROP_NONE) {
		refuse(r, msg, len, v, why);
		return;
	}
	for (i = 0; i < RTE_ETHER_ADDR_LEN; i++)
		mac = mac << 8 | v->src_mac.addr_bytes[i];
	rc = bx_relay_registry_accept(r->reg, &reg, v->src_ip, v->src_port, now,
				      r->cfg->relay.lease_s, mac);
	if (rc < 0) {
		refuse(r, msg, len, v, bx_relay_accept_reason(rc));
		return;
	}
	bx_stats_add(r->st, BX_STAT_RELAY_CONTROL_RX, 1);
	if (rc == 1) {
		publish(r);
		inet_ntop(AF_INET, &v->src_ip, ip, sizeof(ip));
		printf(LOG_PREFIX "node %s registered from %s:%u (%" PRIu32
		       " registered)\n", reg.id, ip, rte_be_to_cpu_16(v->src_port),
		       bx_relay_registry_count(r->reg));
		fflush(stdout);
	}
	lease = bx_relay_lease_grant(&reg, now, r->cfg->relay.lease_s);
	answer(r, out, bx_relay_registered_encode(out, sizeof(out), r->secret, &reg,
						  lease), v);
}

void
app_relay_tick(struct app_relay *r)
{
	uint64_t now = mono_ms();

	if (r == NULL || now < r->next_expire_ms)
		return;
	r->next_expire_ms = now + EXPIRE_PERIOD_MS;
	if (r->stale)
		publish(r);
	if (bx_relay_registry_expire(r->reg, unix_s())) {
		publish(r);
		printf(LOG_PREFIX "leases ran out: %" PRIu32 " registered\n",
		       bx_relay_registry_count(r->reg));
		fflush(stdout);
	}
}

struct bx_relay_table *const *
app_relay_table(const struct app_relay *r)
{
	return &r->table;
}

struct app_relay *
app_relay_create(const struct bx_config *cfg, struct rte_rcu_qsbr *qsbr,
		 struct bx_stats_lcore *st, const struct app_ports *ports,
		 char *err, size_t errlen)
{
	struct app_relay *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL || sodium_init() < 0) {
		snprintf(err, errlen, "relay: no memory");
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	r->cfg = cfg;
	r->qsbr = qsbr;
	r->st = st;
	r->ports = ports;
	r->secret = sodium_malloc(BX_RELAY_SECRET_LEN);
	r->reg = bx_relay_registry_create(cfg->relay.max_nodes);
	if (r->secret == NULL || r->reg == NULL) {
		snprintf(err, errlen, "relay: no memory for %u nodes",
			 cfg->relay.max_nodes);
		rc = -ENOMEM;
		goto fail;
	}
	rc = secret_load(cfg->relay.secret_file, r->secret, err, errlen);
	if (rc != 0)
		goto fail;
	r->table = bx_relay_table_build(r->reg);
	if (r->table == NULL) {
		snprintf(err, errlen, "relay: no memory for the forwarding table");
		rc = -ENOMEM;
		goto fail;
	}
	printf(LOG_PREFIX "serving up to %u nodes, leases of %u s\n",
	       cfg->relay.max_nodes, cfg->relay.lease_s);
	fflush(stdout);
	return r;
fail:
	app_relay_free(r);
	errno = -rc;
	return NULL;
}

void
app_relay_set_sessions(struct app_relay *r, struct app_sessions *s)
{
	r->sessions = s;
}

void
app_relay_free(struct app_relay *r)
{
	if (r == NULL)
		return;
	bx_relay_table_free(r->table);
	bx_relay_registry_free(r->reg);
	sodium_free(r->secret);
	free(r);
}
