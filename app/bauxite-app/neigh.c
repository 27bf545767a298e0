/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Next-hop MACs for mesh datagrams, without any MAC in the config: the
 * kernel behind the exception TAP already does ARP on the underlay (its
 * requests leave through the worker, the replies come back up the
 * exception path), so the control lcore reads the kernel's neighbour table
 * and, while an entry is missing, makes the kernel resolve it by sending a
 * one-byte UDP datagram to the next hop's discard port from a socket bound
 * to the exception interface.
 *
 * Resolved MACs go to the worker through one 64-bit slot per path of each
 * peer (APP_NH(index, path): APP_NH_VALID | MAC), written with a release
 * store: the worker reads a whole MAC or none, never a lock. Each path
 * resolves on its own underlay (its exception interface, its prefix, its
 * gateway).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app.h"

/* Unresolved: look again this soon after provoking ARP (an answer on a
 * LAN takes a millisecond), twice as long each time it was not there,
 * up to NEIGH_RETRY_MS. */
#define NEIGH_FIRST_RETRY_MS 10u
#define NEIGH_RETRY_MS 500u
#define NEIGH_RECHECK_MS 5000u   /* resolved: has the MAC changed? */
#define NEIGH_DISCARD_PORT 9u    /* RFC 863: nobody minds a datagram here */
#define NEIGH_PROC_ARP "/proc/net/arp"
#define NEIGH_LINE_MAX 256u

struct neigh_ent {
	uint32_t slot;
	uint32_t ul;
	uint32_t nh_ip;      /* network order; 0: no next hop on the underlay */
	uint64_t next_ms;
	uint32_t retry_ms;   /* current wait after a provoke */
	uint64_t published;  /* last value stored in the slot */
};

struct app_neigh {
	const struct bx_config *cfg;
	uint64_t *nexthop;
	uint32_t n_slots;
	unsigned n_ul;
	int fd[APP_UL_MAX];            /* bound to each exception interface */
	struct neigh_ent ent[];        /* by slot; nh_ip 0: unused */
};

static bool
in_prefix(uint32_t ip_be, const struct bx_config_prefix *p)
{
	uint32_t mask = p->len == 0 ? 0 : UINT32_MAX << (32 - p->len);

	return ((rte_be_to_cpu_32(ip_be) ^ rte_be_to_cpu_32(p->addr)) &
		mask) == 0;
}

struct app_neigh *
app_neigh_create(const struct bx_config *cfg, uint64_t *nexthop,
		 uint32_t n_slots)
{
	struct app_neigh *n;
	unsigned u;
	int err;

	n = calloc(1, sizeof(*n) + n_slots * sizeof(n->ent[0]));
	if (n == NULL)
		return NULL;
	n->cfg = cfg;
	n->nexthop = nexthop;
	n->n_slots = n_slots;
	for (u = 0; u < APP_UL_MAX; u++)
		n->fd[u] = -1;
	for (u = 0; u < cfg->n_underlays; u++) {
		const char *ifname = cfg->underlays[u].exception_iface;

		n->fd[u] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (n->fd[u] < 0)
			goto fail;
		if (setsockopt(n->fd[u], SOL_SOCKET, SO_BINDTODEVICE, ifname,
			       (socklen_t)strlen(ifname)) != 0)
			goto fail;
	}
	n->n_ul = cfg->n_underlays;
	return n;
fail:
	err = errno;
	app_neigh_free(n);
	errno = err;
	return NULL;
}

void
app_neigh_set(struct app_neigh *n, uint32_t slot, unsigned ul, const char *id,
	      uint32_t endpoint_ip)
{
	const struct bx_config_underlay *u;
	struct neigh_ent *e;
	uint32_t nh = 0;

	if (slot >= n->n_slots || ul >= n->n_ul)
		return;
	u = &n->cfg->underlays[ul];
	e = &n->ent[slot];
	if (endpoint_ip == 0)
		nh = 0; /* no endpoint known: it must call us */
	else if (in_prefix(endpoint_ip, &u->address))
		nh = endpoint_ip;
	else if (u->has_gateway)
		nh = u->gateway;
	else
		fprintf(stderr, "bauxite-app: peer %s: endpoint outside "
			"underlay %s's address and no gateway there: no path "
			"to it\n", id, u->name);
	if (nh == e->nh_ip && e->ul == ul && e->slot == slot)
		return;
	e->slot = slot;
	e->ul = ul;
	e->nh_ip = nh;
	e->next_ms = 0; /* resolve at the next tick */
	e->retry_ms = NEIGH_FIRST_RETRY_MS;
	e->published = 0;
	__atomic_store_n(&n->nexthop[slot], 0, __ATOMIC_RELEASE);
}

void
app_neigh_clear(struct app_neigh *n, uint32_t slot)
{
	if (slot >= n->n_slots)
		return;
	memset(&n->ent[slot], 0, sizeof(n->ent[slot]));
	/* The slot goes to another peer one day: no MAC carries over. */
	__atomic_store_n(&n->nexthop[slot], 0, __ATOMIC_RELEASE);
}

void
app_neigh_free(struct app_neigh *n)
{
	unsigned u;

	if (n == NULL)
		return;
	for (u = 0; u < APP_UL_MAX; u++)
		if (n->fd[u] >= 0)
			close(n->fd[u]);
	free(n);
}

/*
 * The complete ARP entry of @ip_be on @ifname in @table (the text of
 * /proc/net/arp), packed as a slot value, or 0.
 */
static uint64_t
arp_lookup(const char *table, uint32_t ip_be, const char *ifname)
{
	const char *line = strchr(table, '\n'); /* skip the header */

	while (line != NULL && *++line != '\0') {
		char ip[32], mac[32], mask[32], dev[32];
		unsigned hw, flags, b[RTE_ETHER_ADDR_LEN];
		struct in_addr a;
		uint64_t v = 0;
		unsigned i;

		if (sscanf(line, "%31s 0x%x 0x%x %31s %31s %31s", ip, &hw,
			   &flags, mac, mask, dev) == 6 &&
		    strcmp(dev, ifname) == 0 && inet_pton(AF_INET, ip, &a) == 1 &&
		    a.s_addr == ip_be && (flags & ATF_COM) != 0 &&
		    sscanf(mac, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3],
			   &b[4], &b[5]) == RTE_ETHER_ADDR_LEN) {
			for (i = 0; i < RTE_ETHER_ADDR_LEN; i++)
				v = v << 8 | (b[i] & 0xffu);
			return v != 0 ? (v | APP_NH_VALID) : 0;
		}
		line = strchr(line, '\n');
	}
	return 0;
}

/* Reads /proc/net/arp into @buf; "" when it cannot be read. */
static void
arp_read(char *buf, size_t len)
{
	FILE *f = fopen(NEIGH_PROC_ARP, "re");
	size_t got = 0;

	if (f != NULL) {
		got = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[got] = '\0';
}

static void
provoke(const struct app_neigh *n, unsigned ul, uint32_t ip_be)
{
	struct sockaddr_in sin;
	static const uint8_t byte = 0;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = ip_be;
	sin.sin_port = htons(NEIGH_DISCARD_PORT);
	/* Failure (EAGAIN while the kernel waits for ARP, EHOSTUNREACH after
	 * it gave up) just means: try again at the next retry. */
	(void)sendto(n->fd[ul], &byte, sizeof(byte), 0, (struct sockaddr *)&sin,
		     sizeof(sin));
}

void
app_neigh_tick(struct app_neigh *n, uint64_t now_ms)
{
	/* Sized for a few hundred neighbours; the kernel's own limit is higher,
	 * but a peer cut off by truncation is simply retried. */
	static char table[NEIGH_LINE_MAX * 512];
	bool loaded = false;
	unsigned i;

	for (i = 0; i < n->n_slots; i++) {
		struct neigh_ent *e = &n->ent[i];
		uint64_t v;

		if (e->nh_ip == 0 || now_ms < e->next_ms)
			continue;
		if (!loaded) {
			arp_read(table, sizeof(table));
			loaded = true;
		}
		v = arp_lookup(table, e->nh_ip,
			       n->cfg->underlays[e->ul].exception_iface);
		if (v != 0) {
			if (v != e->published) {
				__atomic_store_n(&n->nexthop[e->slot], v,
						 __ATOMIC_RELEASE);
				e->published = v;
			}
			e->next_ms = now_ms + NEIGH_RECHECK_MS;
			e->retry_ms = NEIGH_FIRST_RETRY_MS;
		} else {
			/* Keep the last MAC while the kernel re-resolves: an
			 * aged-out entry is not a moved neighbour. */
			provoke(n, e->ul, e->nh_ip);
			e->next_ms = now_ms + e->retry_ms;
			if (e->retry_ms < NEIGH_RETRY_MS)
				e->retry_ms = e->retry_ms * 2u < NEIGH_RETRY_MS ?
						      e->retry_ms * 2u :
						      NEIGH_RETRY_MS;
		}
	}
}
