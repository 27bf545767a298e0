/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite join TOKEN HUB: provisions this node at the hub.
 *
 *   1. the identity in the state directory (made if missing)
 *   2. a TLS key (ECDSA P-256, node.key, 0600; kept if there is one)
 *   3. a certificate request for it, and a signature by the identity key
 *      binding token, node id, request and X25519 key together
 *   4. ProvisionNode at the hub, whose certificate chain must hold the CA
 *      pinned by the token (no other trust is needed)
 *   5. the CA and node certificates and a bauxite-app config with a "hub"
 *      section, written under the state directory
 *
 * Private keys never leave the node; nothing secret is printed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "bauxite/v1/provisioning.pb-c.h"
#include "bx_common.h"
#include "bx_config.h"
#include "bx_identity.h"
#include "bx_pki.h"
#include "bx_rpc.h"
#include "cli.h"

#define JOIN_PROG CLI_NAME " join"
#define PROVISION_METHOD "/bauxite.v1.ProvisioningService/ProvisionNode"
#define JOIN_TIMEOUT_MS 15000u
#define JOIN_STEPS 5
#define JOIN_CA_FILE BX_CONFIG_DEFAULT_HUB_CA_FILE
#define JOIN_CERT_FILE BX_CONFIG_DEFAULT_HUB_CERT_FILE
#define JOIN_KEY_FILE BX_CONFIG_DEFAULT_HUB_KEY_FILE
#define JOIN_CONFIG_FILE "bauxite.json"
#define JOIN_DEFAULT_STATE_DIR BX_CONFIG_DEFAULT_STATE_DIR
#define JOIN_CRED_MAX 128u

struct join_opts {
	const char *token;
	const char *hub;
	const char *name;
	const char *state_dir;
	const char *underlay_port;
	const char *underlay_address;
	const char *underlay_gateway;
	const char *endpoint;
	const char *server_name;
	const char *config_out;
};

static void
join_help(FILE *f)
{
	fprintf(f,
		"usage: " JOIN_PROG " TOKEN HUB --underlay-port DEVARGS --underlay-address IP/LEN\n"
		"                    [--name ID] [--state-dir DIR] [--underlay-gateway IP]\n"
		"                    [--endpoint IP:PORT] [--server-name NAME] [--config-out FILE]\n\n"
		"Provisions this node at the hub HUB (host:port) with the join TOKEN that\n"
		"`bauxite-dispatch token create` printed (\"-\": read it from standard\n"
		"input, out of sight of ps). The token carries the hub CA's\n"
		"fingerprint: the hub is trusted by it alone. Writes under the state\n"
		"directory the hub's CA certificate (" JOIN_CA_FILE "), this node's certificate\n"
		"(" JOIN_CERT_FILE "), its TLS key (" JOIN_KEY_FILE ", 0600) and a bauxite-app config\n"
		"(" JOIN_CONFIG_FILE "), then: bauxite-app <EAL args> -- --config <that file>.\n\n"
		"  --name ID               the node id to ask for (default: the host name)\n"
		"  --state-dir DIR         the node's state directory (default " JOIN_DEFAULT_STATE_DIR ")\n"
		"  --underlay-port DEVARGS the uplink's DPDK port, as the config's underlay.port\n"
		"  --underlay-address A    the node's underlay IPv4/prefix (underlay.address)\n"
		"  --underlay-gateway IP   next hop for endpoints off the underlay subnet\n"
		"  --endpoint IP:PORT      where peers reach this node (default: the hub takes\n"
		"                          the address it sees and the mesh port)\n"
		"  --server-name NAME      the name in the hub's certificate (default: HUB's host)\n"
		"  --config-out FILE       where to write the config (default DIR/" JOIN_CONFIG_FILE ")\n");
}

static void __attribute__((format(printf, 2, 3)))
step(int n, const char *fmt, ...)
{
	va_list ap;

	printf("[%d/%d] ", n, JOIN_STEPS);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* "10.99.0.1/24" -> 10.99.0.1 (network order); false if not IPv4/len. */
static bool
address_ip(const char *prefix, uint32_t *ip)
{
	char buf[INET_ADDRSTRLEN];
	const char *slash = strchr(prefix, '/');
	size_t n = slash != NULL ? (size_t)(slash - prefix) : strlen(prefix);
	struct in_addr a;

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, prefix, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return false;
	*ip = a.s_addr;
	return true;
}

static bool
parse_endpoint(const char *s, uint32_t *ip, uint16_t *port)
{
	char buf[INET_ADDRSTRLEN + 8];
	char *colon, *end;
	struct in_addr a;
	unsigned long p;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	colon = strrchr(buf, ':');
	if (colon == NULL)
		return false;
	*colon = '\0';
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (inet_pton(AF_INET, buf, &a) != 1 || *end != '\0' || errno != 0 ||
	    p == 0 || p > UINT16_MAX)
		return false;
	*ip = a.s_addr;
	*port = (uint16_t)p;
	return true;
}

/* The host part of "host:port", for the default server name. */
static int
hub_host(const char *hub, char *host, size_t len)
{
	const char *colon = strrchr(hub, ':');
	size_t n;

	if (colon == NULL || colon == hub || colon[1] == '\0')
		return -EINVAL;
	n = (size_t)(colon - hub);
	if (n >= len)
		return -EINVAL;
	memcpy(host, hub, n);
	host[n] = '\0';
	return 0;
}

static int
parse_args(int argc, char **argv, struct join_opts *o)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "underlay-port", required_argument, NULL, 'p' },
		{ "underlay-address", required_argument, NULL, 'a' },
		{ "underlay-gateway", required_argument, NULL, 'g' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "server-name", required_argument, NULL, 's' },
		{ "config-out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = cli_getopt(JOIN_PROG, argc, argv, opts)) != -1) {
		switch (c) {
		case 'n': o->name = optarg; break;
		case 'd': o->state_dir = optarg; break;
		case 'p': o->underlay_port = optarg; break;
		case 'a': o->underlay_address = optarg; break;
		case 'g': o->underlay_gateway = optarg; break;
		case 'e': o->endpoint = optarg; break;
		case 's': o->server_name = optarg; break;
		case 'o': o->config_out = optarg; break;
		case 'h':
			join_help(stdout);
			return 1;
		default:
			return -EINVAL;
		}
	}
	if (argc - optind != 2) {
		cli_usage_error(JOIN_PROG, "expected TOKEN and HUB, got %d "
				"argument(s)", argc - optind);
		return -EINVAL;
	}
	o->token = argv[optind];
	o->hub = argv[optind + 1];
	if (o->underlay_port == NULL || o->underlay_address == NULL) {
		cli_usage_error(JOIN_PROG, "--underlay-port and --underlay-address "
				"are required: the node's uplink goes into its "
				"config");
		return -EINVAL;
	}
	return 0;
}

/* Writes @text to @path (mode @mode), replacing it atomically. */
static int
write_text(const char *path, const char *text, mode_t mode, char *err,
	   size_t errlen)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%.900s: path too long", path);
		return -ENAMETOOLONG;
	}
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%.900s: %s", tmp, strerror(errno));
		return rc;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		rc = -errno;
		close(fd);
	} else {
		if (fputs(text, f) == EOF || fflush(f) != 0 || fsync(fd) != 0)
			rc = errno ? -errno : -EIO;
		if (fclose(f) != 0 && rc == 0)
			rc = -errno;
	}
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0) {
		snprintf(err, errlen, "%.900s: %s", path, strerror(-rc));
		unlink(tmp);
	}
	return rc;
}

/* The config for bauxite-app: the hub's settings and the given uplink. */
static char *
config_text(const struct join_opts *o, const char *state_dir,
	    const Bauxite__V1__ProvisionNodeResponse *r, const char *server_name)
{
	char vip[INET_ADDRSTRLEN + 4], a[INET_ADDRSTRLEN];
	struct in_addr in;
	json_t *root, *hub, *underlay;
	char *text;

	in.s_addr = htonl(r->virtual_ip);
	inet_ntop(AF_INET, &in, a, sizeof(a));
	snprintf(vip, sizeof(vip), "%s/%u", a,
		 r->settings != NULL && r->settings->mesh_prefix != NULL ?
			 r->settings->mesh_prefix->len : 32u);
	underlay = json_pack("{s:s, s:s}", "port", o->underlay_port, "address",
			     o->underlay_address);
	if (underlay != NULL && o->underlay_gateway != NULL)
		json_object_set_new(underlay, "gateway",
				    json_string(o->underlay_gateway));
	hub = json_pack("{s:s, s:s, s:s, s:s, s:s}", "url", o->hub, "server_name",
			server_name, "ca_file", JOIN_CA_FILE, "cert_file",
			JOIN_CERT_FILE, "key_file", JOIN_KEY_FILE);
	if (underlay == NULL || hub == NULL) {
		json_decref(underlay);
		json_decref(hub);
		return NULL;
	}
	/* "o" takes both references, also when packing fails. */
	root = json_pack("{s:s, s:s, s:o, s:{s:s}, s:i, s:s, s:o}",
			 "node_id", r->node_id, "state_dir", state_dir,
			 "underlay", underlay, "inner", "address", vip,
			 "mesh_port", r->settings != NULL ? (int)r->settings->mesh_port : 7600,
			 "cipher", r->settings != NULL && r->settings->cipher != NULL &&
					   r->settings->cipher[0] ? r->settings->cipher :
						  "chacha20-poly1305",
			 "hub", hub);
	if (root == NULL)
		return NULL;
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	return text;
}

/* Steps 4 and 5 once the request is built. */
static int
provision(const struct join_opts *o, const char *dir, const uint8_t pin[32],
	  const uint8_t *req, size_t req_len, const char *server_name)
{
	Bauxite__V1__ProvisionNodeResponse *r = NULL;
	struct bx_rpc_client_creds creds;
	struct bx_rpc_channel *ch;
	struct bx_rpc_result res;
	uint8_t got_pin[BX_PKI_SHA256_LEN];
	char err[CLI_ERR_LEN], path[PATH_MAX], cfg_path[PATH_MAX], id[64];
	char *text = NULL;
	struct bx_config *check = NULL;
	int rc;

	memset(&creds, 0, sizeof(creds));
	creds.kind = BX_RPC_CREDS_PINNED_CA;
	memcpy(creds.ca_sha256, pin, sizeof(creds.ca_sha256));
	creds.server_name = server_name;
	ch = bx_rpc_channel_create(o->hub, &creds, err, sizeof(err));
	if (ch == NULL) {
		cli_error("join: hub %s: %s", o->hub, err);
		return CLI_EXIT_FAIL;
	}
	step(4, "ProvisionNode at %s (its CA must match the token's pin)",
	     o->hub);
	memset(&res, 0, sizeof(res));
	rc = bx_rpc_unary(ch, PROVISION_METHOD, req, req_len, JOIN_TIMEOUT_MS,
			  &res);
	bx_rpc_channel_destroy(ch);
	if (rc != 0) {
		cli_error("join: the hub refused: %s%s%s", bx_rpc_code_name(res.code),
			  res.message && res.message[0] ? ": " : "",
			  res.message ? res.message : "");
		bx_rpc_result_clear(&res);
		return CLI_EXIT_FAIL;
	}
	r = bauxite__v1__provision_node_response__unpack(NULL, res.len, res.data);
	bx_rpc_result_clear(&res);
	if (r == NULL || r->ca_cert_pem == NULL || r->node_cert_pem == NULL ||
	    r->node_id == NULL) {
		cli_error("join: the hub's answer does not decode");
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	/* What the hub sent must be what the token promised. */
	if (bx_pki_cert_sha256_pem(r->ca_cert_pem, got_pin) != 0 ||
	    memcmp(got_pin, pin, sizeof(got_pin)) != 0) {
		cli_error("join: the CA certificate the hub sent is not the one "
			  "the token pins");
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (bx_pki_cert_verify(r->ca_cert_pem, r->node_cert_pem, BX_PKI_ROLE_NODE,
			       err, sizeof(err)) != 0) {
		cli_error("join: the node certificate from the hub does not check "
			  "out: %s", err);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (bx_pki_cert_node_id(r->node_cert_pem, id, sizeof(id)) != 0 ||
	    strcmp(id, r->node_id) != 0 || strcmp(id, o->name) != 0) {
		cli_error("join: the hub's certificate is not for %s", o->name);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, JOIN_CA_FILE);
	rc = bx_pki_cert_write(path, r->ca_cert_pem, true, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/%s", dir, JOIN_CERT_FILE);
	if (rc == 0)
		rc = bx_pki_cert_write(path, r->node_cert_pem, true, err,
				       sizeof(err));
	if (o->config_out != NULL)
		snprintf(cfg_path, sizeof(cfg_path), "%s", o->config_out);
	else
		snprintf(cfg_path, sizeof(cfg_path), "%s/%s", dir, JOIN_CONFIG_FILE);
	text = rc == 0 ? config_text(o, dir, r, server_name) : NULL;
	if (rc == 0 && text == NULL) {
		snprintf(err, sizeof(err), "config: no memory");
		rc = -ENOMEM;
	}
	if (rc == 0)
		rc = write_text(cfg_path, text, 0600, err, sizeof(err));
	/* What we wrote must be a config bauxite-app takes. */
	if (rc == 0)
		rc = bx_config_load(cfg_path, &check, err, sizeof(err));
	if (rc != 0) {
		cli_error("join: %s", err);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	{
		struct in_addr in = { .s_addr = htonl(r->virtual_ip) };
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &in, a, sizeof(a));
		step(5, "joined as %s, virtual IP %s", r->node_id, a);
	}
	printf("      wrote %s/{%s,%s} and %s\n", dir, JOIN_CA_FILE,
	       JOIN_CERT_FILE, cfg_path);
	printf("      start it: bauxite-app <EAL args> -- --config %s\n",
	       cfg_path);
	rc = CLI_EXIT_OK;
out:
	bx_config_free(check);
	free(text);
	if (r != NULL)
		bauxite__v1__provision_node_response__free_unpacked(r, NULL);
	return rc;
}

static int
join_run(int argc, char **argv)
{
	Bauxite__V1__ProvisionNodeRequest req = BAUXITE__V1__PROVISION_NODE_REQUEST__INIT;
	Bauxite__V1__Endpoint ep = BAUXITE__V1__ENDPOINT__INIT;
	struct join_opts o;
	struct bx_identity *id = NULL;
	uint8_t pin[BX_PKI_SHA256_LEN], sig[BX_IDENTITY_SIG_LEN];
	uint8_t *csr = NULL, *buf = NULL;
	char cred[JOIN_CRED_MAX], err[CLI_ERR_LEN], host[256], name[64];
	char key_path[PATH_MAX], server_name[256], stdin_token[256];
	char *key_pem = NULL;
	bool generated;
	size_t csr_len = 0, len;
	uint32_t ip = 0, underlay_ip;
	uint16_t port = 0;
	int rc;

	memset(&o, 0, sizeof(o));
	rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (o.state_dir == NULL)
		o.state_dir = JOIN_DEFAULT_STATE_DIR;
	if (o.name == NULL) {
		if (gethostname(name, sizeof(name)) != 0)
			name[0] = '\0';
		name[sizeof(name) - 1] = '\0';
		o.name = name;
	}
	if (!bx_pki_node_id_valid(o.name)) {
		cli_usage_error(JOIN_PROG, "--name '%s': expected 1..63 of "
				"[A-Za-z0-9._-]", o.name);
		return CLI_EXIT_USAGE;
	}
	/* "-": the token from standard input, so it is not in ps output. */
	if (strcmp(o.token, "-") == 0) {
		if (fgets(stdin_token, sizeof(stdin_token), stdin) == NULL) {
			cli_usage_error(JOIN_PROG, "TOKEN '-': nothing on standard "
					"input");
			return CLI_EXIT_USAGE;
		}
		stdin_token[strcspn(stdin_token, "\r\n")] = '\0';
		o.token = stdin_token;
	}
	if (bx_pki_join_token_parse(o.token, cred, sizeof(cred), pin, err,
				    sizeof(err)) != 0) {
		cli_usage_error(JOIN_PROG, "%s", err);
		return CLI_EXIT_USAGE;
	}
	if (hub_host(o.hub, host, sizeof(host)) != 0) {
		cli_usage_error(JOIN_PROG, "HUB '%s': expected host:port", o.hub);
		return CLI_EXIT_USAGE;
	}
	snprintf(server_name, sizeof(server_name), "%s",
		 o.server_name != NULL ? o.server_name : host);
	if (o.endpoint != NULL && !parse_endpoint(o.endpoint, &ip, &port)) {
		cli_usage_error(JOIN_PROG, "--endpoint '%s': expected IPv4:port",
				o.endpoint);
		return CLI_EXIT_USAGE;
	}
	/* Checked here, written to the config later; the endpoint stays
	 * what --endpoint said. */
	if (!address_ip(o.underlay_address, &underlay_ip)) {
		cli_usage_error(JOIN_PROG, "--underlay-address '%s': expected "
				"IPv4/prefix", o.underlay_address);
		return CLI_EXIT_USAGE;
	}
	/* Without --endpoint the hub takes the address it sees the node
	 * come from (its NAT's, if any) and the mesh port. */
	if (o.endpoint == NULL)
		ip = 0;

	/* 1. identity */
	rc = bx_identity_load_or_generate(o.state_dir, &id, &generated, err,
					  sizeof(err));
	if (rc != 0) {
		cli_error("join: %s", err);
		return CLI_EXIT_FAIL;
	}
	step(1, "identity %s in %s", generated ? "generated" : "loaded",
	     o.state_dir);

	/* 2. TLS key: a re-join keeps the key it has. */
	snprintf(key_path, sizeof(key_path), "%s/%s", o.state_dir, JOIN_KEY_FILE);
	rc = bx_pki_key_read(key_path, &key_pem, err, sizeof(err));
	if (rc == -ENOENT) {
		rc = bx_pki_key_generate(&key_pem, err, sizeof(err));
		if (rc == 0)
			rc = bx_pki_key_write(key_path, key_pem, false, err,
					      sizeof(err));
		if (rc == 0)
			step(2, "TLS key (ECDSA P-256) generated: %s (0600)",
			     key_path);
	} else if (rc == 0) {
		step(2, "TLS key loaded: %s", key_path);
	}
	if (rc != 0) {
		cli_error("join: %s", err);
		rc = CLI_EXIT_FAIL;
		goto out;
	}

	/* 3. request, signed by the identity */
	rc = bx_pki_csr_make(key_pem, o.name, &csr, &csr_len, err, sizeof(err));
	if (rc == 0)
		rc = bx_identity_join_sign(id, cred, o.name, csr, csr_len, sig);
	if (rc != 0) {
		cli_error("join: %s", rc == -ENOKEY ? "identity key unusable" : err);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	req.token = cred;
	req.node_id = (char *)o.name;
	req.csr_der.data = csr;
	req.csr_der.len = csr_len;
	req.ed25519_public.data = (uint8_t *)bx_identity_ed25519_public(id);
	req.ed25519_public.len = BX_IDENTITY_KEY_LEN;
	req.x25519_public.data = (uint8_t *)bx_identity_x25519_public(id);
	req.x25519_public.len = BX_IDENTITY_KEY_LEN;
	req.identity_signature.data = sig;
	req.identity_signature.len = sizeof(sig);
	ep.ip = ntohl(ip);
	ep.port = port; /* 0: the hub's mesh port */
	req.endpoint = &ep;
	step(3, "certificate request for %s, signed by the identity", o.name);
	len = bauxite__v1__provision_node_request__get_packed_size(&req);
	buf = malloc(len);
	if (buf == NULL) {
		cli_error("join: no memory");
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	bauxite__v1__provision_node_request__pack(&req, buf);
	rc = provision(&o, o.state_dir, pin, buf, len, server_name);
out:
	sodium_memzero(cred, sizeof(cred));
	sodium_memzero(stdin_token, sizeof(stdin_token));
	if (buf != NULL) {
		sodium_memzero(buf, len);
		free(buf);
	}
	free(csr);
	bx_pki_key_free(key_pem);
	bx_identity_free(id);
	return rc;
}

int
cli_join(int argc, char **argv)
{
	return join_run(argc, argv);
}
