/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ports of bauxite-app: the underlays (any DPDK devices, probed from their
 * devargs; one to four uplinks), the inner TAP and one exception TAP per
 * underlay, plus the kernel side of the TAPs (addresses, MTU, link, default route), set with ioctls on an
 * AF_INET socket of the network namespace the process runs in.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "app.h"
#include "bx_wire.h"

#define PORT_NAME_MAX RTE_ETH_NAME_MAX_LEN
/* DPDK names of our TAP devices; the kernel names come from the config. */
#define INNER_TAP_NAME "net_tap_bx0"
#define EXCEPTION_TAP_PREFIX "net_tap_ex" /* + the underlay's index */
#define TAP_DEVARGS_MAX (BX_CONFIG_DEVARGS_MAX + 1u)
#define PROC_IPV6_FMT "/proc/sys/net/ipv6/conf/%s/disable_ipv6"

/* Port id of a device known by @devargs, probing it first if needed. The
 * device name is the devargs up to the first comma. */
static int
port_probe(const char *field, const char *devargs, uint16_t *port, char *err,
	   size_t errlen)
{
	char name[PORT_NAME_MAX];
	size_t n = strcspn(devargs, ",");
	int rc;

	if (n == 0 || n >= sizeof(name)) {
		snprintf(err, errlen, "%s: device \"%s\": bad device name",
			 field, devargs);
		return -EINVAL;
	}
	memcpy(name, devargs, n);
	name[n] = '\0';
	/* Already there when the operator passed it to the EAL (--vdev). */
	if (rte_eth_dev_get_port_by_name(name, port) == 0)
		return 0;
	rc = rte_dev_probe(devargs);
	if (rc != 0) {
		snprintf(err, errlen, "%s: device \"%s\": probe failed: %s",
			 field, devargs, strerror(-rc));
		return rc;
	}
	if (rte_eth_dev_get_port_by_name(name, port) != 0) {
		snprintf(err, errlen, "%s: device \"%s\": probed, but no "
			 "port \"%s\"", field, devargs, name);
		return -ENODEV;
	}
	return 0;
}

/*
 * @n queue pairs, started. A device with fewer queues is refused with what
 * to change: net_af_packet, for one, takes its count from "qpairs=".
 */
static int
port_start(uint16_t port, uint16_t n, struct rte_mempool *pool,
	   const char *field, const char *devargs, char *err, size_t errlen)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	uint16_t nb_rx = APP_RX_DESC, nb_tx = APP_TX_DESC, q;
	int socket_id = rte_eth_dev_socket_id(port);
	int rc;

	rc = rte_eth_dev_info_get(port, &info);
	if (rc != 0) {
		snprintf(err, errlen, "%s: device \"%s\": no device info: %s",
			 field, devargs, strerror(-rc));
		return rc;
	}
	if (info.max_rx_queues < n || info.max_tx_queues < n) {
		snprintf(err, errlen, "%s: device \"%s\" has %u RX / %u TX "
			 "queues, %u needed (one per transmitting lcore%s)",
			 field, devargs, info.max_rx_queues, info.max_tx_queues,
			 n, strncmp(devargs, "net_af_packet", 13) == 0 ?
				    ": add qpairs=N to its devargs" : "");
		return -EINVAL;
	}
	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_configure(port, n, n, &conf);
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rx, &nb_tx);
	for (q = 0; rc == 0 && q < n; q++) {
		rc = rte_eth_rx_queue_setup(port, q, nb_rx, socket_id, NULL, pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(port, q, nb_tx, socket_id, NULL);
	}
	if (rc == 0)
		rc = rte_eth_dev_start(port);
	if (rc != 0)
		snprintf(err, errlen, "%s: device \"%s\" (port %u): cannot "
			 "start with %u queues: %s", field, devargs, port, n,
			 strerror(-rc));
	return rc;
}

/*
 * The config path of underlay @u's @key as errors name it: "underlay.port"
 * for a single underlay, "underlay[1].port" in the array form. One buffer:
 * one call per message.
 */
static const char *
ul_field(const struct bx_config *cfg, unsigned u, const char *key)
{
	static char buf[48];

	if (cfg->n_underlays <= 1)
		snprintf(buf, sizeof(buf), "underlay.%s", key);
	else
		snprintf(buf, sizeof(buf), "underlay[%u].%s", u, key);
	return buf;
}

/* The "iface=" value of af_packet/af_xdp devargs into @out ("" if none). */
static void
devargs_iface(const char *devargs, char *out, size_t len)
{
	const char *v = strstr(devargs, ",iface=");
	size_t n;

	out[0] = '\0';
	if (v == NULL)
		return;
	v += strlen(",iface=");
	n = strcspn(v, ",");
	if (n > 0 && n < len) {
		memcpy(out, v, n);
		out[n] = '\0';
	}
}

/*
 * The largest inner packet a datagram can carry without exceeding any
 * underlay's MTU. A TAP inner MTU above it would make the kernel hand us
 * packets that could only leave oversized: refused here, naming both.
 */
static int
underlay_max_inner(const struct bx_config *cfg, struct app_ports *p,
		   char *err, size_t errlen)
{
	/* With ICE a peer may be reached through a relay, whose header
	 * (one more mesh header) every datagram must have room for; with
	 * bonding a striped lane's datagrams carry their lane sequence. */
	const unsigned overhead = BX_WIRE_OVERHEAD - BX_WIRE_ETH_LEN +
				  (cfg->ice.enabled ? BX_WIRE_HDR_LEN : 0u) +
				  (app_bonding_active(cfg) ? BX_WIRE_SEQ_LEN : 0u);
	unsigned u;
	int rc;

	p->max_inner = UINT16_MAX;
	for (u = 0; u < p->n_ul; u++) {
		uint16_t mtu = 0;

		rc = rte_eth_dev_get_mtu(p->ul[u].port, &mtu);
		if (rc != 0 || mtu <= overhead) {
			snprintf(err, errlen, "%s: cannot use its MTU (%u): %s",
				 ul_field(cfg, u, "port"), mtu,
				 rc != 0 ? strerror(-rc) : "too small");
			return rc != 0 ? rc : -EINVAL;
		}
		if (mtu - overhead < p->max_inner)
			p->max_inner = (uint16_t)(mtu - overhead);
	}
	if (cfg->inner.type == BX_CONFIG_INNER_TAP && cfg->inner.mtu > p->max_inner) {
		snprintf(err, errlen, "inner.mtu: %u plus %u bytes of mesh overhead "
			 "exceeds the underlay MTU %u (expected at most %u)",
			 cfg->inner.mtu, overhead, p->max_inner + overhead,
			 p->max_inner);
		return -EINVAL;
	}
	return 0;
}

/* Keeps IPv6 (router solicitations, neighbour discovery) off a TAP: the
 * mesh carries IPv4 only and the noise would only be counted as drops. */
static int
kernel_ipv6_off(const char *ifname, char *err, size_t errlen)
{
	char path[64];
	int fd, rc = 0;

	snprintf(path, sizeof(path), PROC_IPV6_FMT, ifname);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		/* A kernel without IPv6 has nothing to turn off. */
		if (errno == ENOENT)
			return 0;
		rc = -errno;
	} else {
		if (write(fd, "1\n", 2) != 2)
			rc = errno ? -errno : -EIO;
		close(fd);
	}
	if (rc != 0)
		snprintf(err, errlen, "%s: %s: %s", ifname, path, strerror(-rc));
	return rc;
}

static void
ifreq_init(struct ifreq *ifr, const char *ifname)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
}

static void
sin_set(struct sockaddr *sa, uint32_t addr_be)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = addr_be;
	memcpy(sa, &sin, sizeof(sin));
}

static uint32_t
prefix_mask_be(uint8_t len)
{
	return rte_cpu_to_be_32(len == 0 ? 0 : UINT32_MAX << (32 - len));
}

/*
 * Gives the kernel interface @ifname the address @a, MTU @mtu (0: leave it)
 * and brings it up.
 */
static int
kernel_if_setup(int fd, const char *ifname, const struct bx_config_prefix *a,
		unsigned mtu, char *err, size_t errlen)
{
	struct ifreq ifr;
	const char *step;
	int rc;

	ifreq_init(&ifr, ifname);
	sin_set(&ifr.ifr_addr, a->addr);
	step = "SIOCSIFADDR";
	if (ioctl(fd, SIOCSIFADDR, &ifr) != 0)
		goto fail;
	ifreq_init(&ifr, ifname);
	sin_set(&ifr.ifr_netmask, prefix_mask_be(a->len));
	step = "SIOCSIFNETMASK";
	if (ioctl(fd, SIOCSIFNETMASK, &ifr) != 0)
		goto fail;
	if (mtu != 0) {
		ifreq_init(&ifr, ifname);
		ifr.ifr_mtu = (int)mtu;
		step = "SIOCSIFMTU";
		if (ioctl(fd, SIOCSIFMTU, &ifr) != 0)
			goto fail;
	}
	ifreq_init(&ifr, ifname);
	step = "SIOCGIFFLAGS";
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0)
		goto fail;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	step = "SIOCSIFFLAGS";
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
		goto fail;
	return 0;
fail:
	rc = errno;
	snprintf(err, errlen, "%s: %s: %s", ifname, step, strerror(rc));
	return -rc;
}

static int
kernel_default_route(int fd, const char *ifname, uint32_t gw_be, char *err,
		     size_t errlen)
{
	struct rtentry rt;
	char dev[IFNAMSIZ];

	memset(&rt, 0, sizeof(rt));
	snprintf(dev, sizeof(dev), "%s", ifname);
	sin_set(&rt.rt_dst, 0);
	sin_set(&rt.rt_genmask, 0);
	sin_set(&rt.rt_gateway, gw_be);
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	rt.rt_dev = dev;
	/* An existing default route is the operator's: keep it. */
	if (ioctl(fd, SIOCADDRT, &rt) != 0 && errno != EEXIST) {
		int rc = errno;

		snprintf(err, errlen, "%s: default route: %s", ifname,
			 strerror(rc));
		return -rc;
	}
	return 0;
}

/*
 * Adds (@add) or deletes the kernel routes of @p's prefixes that are not
 * on the inner subnet, through the inner TAP, so the kernel hands traffic
 * for them to the mesh (the app answers ARP for any address there).
 * Routes the operator already has are kept; a missing one is no error on
 * delete. A gateway has no inner kernel interface: nothing to do.
 */
int
app_routes_peer(const struct bx_config *cfg, const struct app_peer_src *p,
		bool add, char *err, size_t errlen)
{
	const struct bx_config_prefix *inner = &cfg->inner.address;
	uint32_t mask = prefix_mask_be(inner->len);
	char dev[IFNAMSIZ];
	unsigned j;
	int fd, rc = 0;

	if (cfg->inner.type != BX_CONFIG_INNER_TAP)
		return 0;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "routes: socket: %s", strerror(errno));
		return rc;
	}
	snprintf(dev, sizeof(dev), "%s", cfg->inner.iface);
	for (j = 0; j < p->n_allowed && rc == 0; j++) {
		const struct bx_peer_prefix *a = &p->allowed[j];
		struct rtentry rt;

		if (a->len >= inner->len &&
		    (a->addr & mask) == (inner->addr & mask))
			continue; /* on the inner subnet already */
		memset(&rt, 0, sizeof(rt));
		sin_set(&rt.rt_dst, a->addr);
		sin_set(&rt.rt_genmask, prefix_mask_be(a->len));
		rt.rt_flags = RTF_UP | (a->len == 32 ? RTF_HOST : 0);
		rt.rt_dev = dev;
		if (ioctl(fd, add ? SIOCADDRT : SIOCDELRT, &rt) == 0 ||
		    errno == (add ? EEXIST : ESRCH))
			continue;
		rc = -errno;
		if (p->cfg_index >= 0)
			snprintf(err, errlen, "peers[%d].allowed_prefixes[%u]: "
				 "route via %s: %s", p->cfg_index, j, dev,
				 strerror(-rc));
		else
			snprintf(err, errlen, "peer %s: prefix %u: route via "
				 "%s: %s", p->id, j, dev, strerror(-rc));
	}
	close(fd);
	return rc;
}

static int
kernel_if_mac(int fd, const char *ifname, struct rte_ether_addr *mac,
	      char *err, size_t errlen)
{
	struct ifreq ifr;

	ifreq_init(&ifr, ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) {
		int rc = errno;

		snprintf(err, errlen, "%s: SIOCGIFHWADDR: %s", ifname,
			 strerror(rc));
		return -rc;
	}
	memcpy(mac->addr_bytes, ifr.ifr_hwaddr.sa_data, RTE_ETHER_ADDR_LEN);
	return 0;
}

/* Probes underlay @u's port and its exception TAP (with the port's MAC,
 * so the kernel's ARP answers for the address the port owns). */
static int
ul_probe(const struct bx_config *cfg, struct app_ports *p, unsigned u,
	 char *err, size_t errlen)
{
	const struct bx_config_underlay *c = &cfg->underlays[u];
	struct app_ul *ul = &p->ul[u];
	char devargs[TAP_DEVARGS_MAX];
	const struct rte_ether_addr *m;
	unsigned v;
	int rc;

	rc = port_probe(ul_field(cfg, u, "port"), c->port, &ul->port, err, errlen);
	if (rc != 0)
		return rc;
	for (v = 0; v < u; v++)
		if (p->ul[v].port == ul->port) {
			snprintf(err, errlen, "%s: \"%s\" is the port of "
				 "underlay %s too", ul_field(cfg, u, "port"),
				 c->port, cfg->underlays[v].name);
			ul->port = RTE_MAX_ETHPORTS; /* closed once, as that one */
			return -EINVAL;
		}
	rc = rte_eth_macaddr_get(ul->port, &ul->mac);
	if (rc != 0) {
		snprintf(err, errlen, "%s: no MAC: %s", ul_field(cfg, u, "port"),
			 strerror(-rc));
		return rc;
	}
	ul->ip = c->address.addr;
	devargs_iface(c->port, ul->iface, sizeof(ul->iface));
	m = &ul->mac;
	snprintf(devargs, sizeof(devargs),
		 "%s%u,iface=%s,mac=" RTE_ETHER_ADDR_PRT_FMT, EXCEPTION_TAP_PREFIX,
		 u, c->exception_iface, RTE_ETHER_ADDR_BYTES(m));
	rc = port_probe(ul_field(cfg, u, "exception_iface"), devargs,
			&ul->exception, err, errlen);
	if (rc == 0)
		rc = kernel_ipv6_off(c->exception_iface, err, errlen);
	return rc;
}

static int
ul_start(const struct bx_config *cfg, struct app_ports *p, unsigned u,
	 char *err, size_t errlen)
{
	const struct bx_config_underlay *c = &cfg->underlays[u];
	struct app_ul *ul = &p->ul[u];
	char devargs[TAP_DEVARGS_MAX];
	int rc;

	rc = port_start(ul->port, p->n_queues, p->pool, ul_field(cfg, u, "port"),
			c->port, err, errlen);
	if (rc != 0)
		return rc;
	ul->port_started = true;
	snprintf(devargs, sizeof(devargs), "%s%u,iface=%s", EXCEPTION_TAP_PREFIX,
		 u, c->exception_iface);
	rc = port_start(ul->exception, p->n_queues, p->pool,
			ul_field(cfg, u, "exception_iface"), devargs, err, errlen);
	if (rc == 0)
		ul->exception_started = true;
	return rc;
}

int
app_ports_setup(const struct bx_config *cfg, struct app_ports *p,
		uint16_t n_queues, char *err, size_t errlen)
{
	char inner_args[TAP_DEVARGS_MAX];
	unsigned n_mbufs, u;
	int socket_id, fd = -1;
	int rc;

	memset(p, 0, sizeof(*p));
	p->n_queues = n_queues;
	p->n_ul = cfg->n_underlays;
	for (u = 0; u < APP_UL_MAX; u++)
		p->ul[u].port = p->ul[u].exception = RTE_MAX_ETHPORTS;
	p->underlay = p->inner = p->exception = RTE_MAX_ETHPORTS;
	p->gateway = cfg->inner.type == BX_CONFIG_INNER_DPDK;
	p->inner_pushback = cfg->inner.type == BX_CONFIG_INNER_TAP;
	if (p->gateway && cfg->inner.address.len < APP_LAN_MIN_PREFIX) {
		snprintf(err, errlen, "inner.address: a gateway's LAN subnet must "
			 "be a /%u or longer, got /%u", APP_LAN_MIN_PREFIX,
			 cfg->inner.address.len);
		return -EINVAL;
	}
	for (u = 0; u < p->n_ul; u++) {
		rc = ul_probe(cfg, p, u, err, errlen);
		if (rc != 0)
			return rc;
	}
	p->underlay = p->ul[0].port;
	p->exception = p->ul[0].exception;
	p->underlay_mac = p->ul[0].mac;
	rc = underlay_max_inner(cfg, p, err, errlen);
	if (rc != 0)
		return rc;
	if (p->gateway) {
		snprintf(inner_args, sizeof(inner_args), "%s", cfg->inner.port);
		rc = port_probe("inner.port", inner_args, &p->inner, err, errlen);
		for (u = 0; rc == 0 && u < p->n_ul; u++)
			if (p->inner == p->ul[u].port) {
				snprintf(err, errlen, "inner.port: \"%s\" is "
					 "the port of underlay %s",
					 cfg->inner.port, cfg->underlays[u].name);
				p->inner = RTE_MAX_ETHPORTS; /* closed as underlay */
				rc = -EINVAL;
			}
		if (rc == 0)
			rc = rte_eth_macaddr_get(p->inner, &p->inner_mac);
	} else if (cfg->inner.type == BX_CONFIG_INNER_TAP) {
		snprintf(inner_args, sizeof(inner_args), "%s,iface=%s",
			 INNER_TAP_NAME, cfg->inner.iface);
		rc = port_probe("inner.iface", inner_args, &p->inner, err,
				errlen);
		/* Before the link comes up, or IPv6 chatter slips through. */
		if (rc == 0)
			rc = kernel_ipv6_off(cfg->inner.iface, err, errlen);
	}
	if (rc != 0)
		return rc;

	socket_id = rte_eth_dev_socket_id(p->underlay);
	if (socket_id < 0)
		socket_id = (int)rte_socket_id();
	/* Every queue's rings (each underlay and its exception TAP, the
	 * inner port), the pipeline's rings or the run-to-completion
	 * worker's lanes, the control lcore's rings, striped lanes waiting
	 * in reorder buffers, per-lcore caches. */
	n_mbufs = (1u + 2u * p->n_ul) * n_queues * APP_MBUFS_PER_PORT +
		  (n_queues - 1u) * (BX_LANES_CRITICAL_SIZE + BX_LANES_TELEMETRY_SIZE +
				     BX_LANES_BULK_SIZE + APP_INGRESS_RING) +
		  (n_queues == 1u ? app_worker_lanes_mbufs(cfg->replay_window) : 0u) +
		  APP_CTL_MBUFS + APP_MBUF_CACHE * rte_lcore_count();
	if (app_bonding_active(cfg))
		n_mbufs += n_queues * APP_REORDER_BUFFERS * cfg->bonding.reorder_slots;
	p->pool = rte_pktmbuf_pool_create("bx_mbufs", n_mbufs, APP_MBUF_CACHE, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, socket_id);
	if (p->pool == NULL) {
		snprintf(err, errlen, "mbuf pool (%u mbufs): %s", n_mbufs,
			 rte_strerror(rte_errno));
		return -rte_errno;
	}
	for (u = 0; u < p->n_ul; u++) {
		rc = ul_start(cfg, p, u, err, errlen);
		if (rc != 0)
			return rc;
	}
	/* A relay without an inner side has no inner port. */
	if (p->inner != RTE_MAX_ETHPORTS) {
		rc = port_start(p->inner, n_queues, p->pool,
				p->gateway ? "inner.port" : "inner.iface",
				inner_args, err, errlen);
		if (rc != 0)
			return rc;
		p->inner_started = true;
	}

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return rc;
	}
	/* A gateway's inner side is a LAN on a DPDK port: no kernel there. */
	rc = 0;
	if (cfg->inner.type == BX_CONFIG_INNER_TAP)
		rc = kernel_if_setup(fd, cfg->inner.iface, &cfg->inner.address,
				     cfg->inner.mtu, err, errlen);
	if (rc == 0 && cfg->inner.type == BX_CONFIG_INNER_TAP)
		rc = kernel_if_mac(fd, cfg->inner.iface, &p->inner_kernel_mac,
				   err, errlen);
	for (u = 0; rc == 0 && u < p->n_ul; u++)
		rc = kernel_if_setup(fd, cfg->underlays[u].exception_iface,
				     &cfg->underlays[u].address, 0, err, errlen);
	/* The primary's gateway is the default route; the others' gateways
	 * serve their own paths' endpoints (neigh.c), not the kernel. */
	if (rc == 0 && cfg->underlays[0].has_gateway)
		rc = kernel_default_route(fd, cfg->underlays[0].exception_iface,
					  cfg->underlays[0].gateway, err, errlen);
	close(fd);
	return rc;
}

static void
port_close(uint16_t port, bool started)
{
	if (port >= RTE_MAX_ETHPORTS)
		return;
	if (started)
		rte_eth_dev_stop(port);
	/* Closing a TAP port removes its kernel interface. */
	rte_eth_dev_close(port);
}

void
app_ports_close(struct app_ports *p)
{
	unsigned u;

	for (u = 0; u < APP_UL_MAX; u++) {
		port_close(p->ul[u].port, p->ul[u].port_started);
		port_close(p->ul[u].exception, p->ul[u].exception_started);
		p->ul[u].port = p->ul[u].exception = RTE_MAX_ETHPORTS;
	}
	port_close(p->inner, p->inner_started);
	p->underlay = p->inner = p->exception = RTE_MAX_ETHPORTS;
	rte_mempool_free(p->pool);
	p->pool = NULL;
}
