/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite-dispatch serve: runs the hub (control/dispatch) until SIGINT or
 * SIGTERM. Its log lines go to stdout, one per event.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bx_common.h"
#include "bx_dispatch.h"
#include "bx_pki.h"
#include "cli.h"

#define SERVE_PROG CLI_NAME " serve"
#define SERVE_DEFAULT_LISTEN "0.0.0.0:7700"
#define SERVE_DEFAULT_MESH "100.64.0.0/24"
#define SERVE_DEFAULT_MESH_PORT 7600u
#define SERVE_HOST_MAX 256u

enum {
	OPT_LISTEN = 0x200,
	OPT_MESH_PREFIX,
	OPT_MESH_PORT,
	OPT_CIPHER,
	OPT_NAME,
	OPT_NODE_CERT_DAYS,
};

static void
serve_help(FILE *f)
{
	fprintf(f,
		"usage: " SERVE_PROG " [--state-dir D] [--listen ADDR] [--mesh-prefix P]\n"
		"       [--mesh-port N] [--cipher C] [--name NAME]... [--node-cert-days N]\n\n"
		"Runs the hub: provisioning, topology and policy streams, metrics,\n"
		"signaling relay. The state directory (made 0700 if missing, refused\n"
		"if group or others may access it) keeps the store and the CA; the\n"
		"first start creates the CA. Runs until SIGINT or SIGTERM.\n\n"
		CLI_STATE_DIR_HELP
		"  --listen ADDR       gRPC address (default " SERVE_DEFAULT_LISTEN ")\n"
		"  --mesh-prefix P     virtual IPs come from P (default " SERVE_DEFAULT_MESH ")\n"
		"  --mesh-port N       UDP port of mesh datagrams (default %u)\n"
		"  --cipher C          " BX_DISPATCH_CIPHER_CHACHA " (default) or "
		BX_DISPATCH_CIPHER_GCM "\n"
		"  --name NAME         a DNS name or IP nodes dial the hub by, for its\n"
		"                      certificate; repeat for more (default: the host name)\n"
		"  --node-cert-days N  node certificate lifetime (default %u)\n",
		SERVE_DEFAULT_MESH_PORT, BX_PKI_NODE_DAYS_DEFAULT);
}

static void
log_line(void *arg, const char *line)
{
	(void)arg;
	/* One call per line: stdio keeps lines of two threads apart. */
	printf(CLI_NAME ": %s\n", line);
	fflush(stdout);
}

/* "host:port" with the bound port, for an ephemeral --listen. */
static void
listen_text(const char *listen, uint16_t port, char *out, size_t outlen)
{
	const char *colon = strrchr(listen, ':');
	int host_len = colon != NULL ? (int)(colon - listen)
				     : (int)strlen(listen);

	snprintf(out, outlen, "%.*s:%u", host_len, listen, port);
}

int
cli_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_STATE_DIR_OPTION,
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "mesh-prefix", required_argument, NULL, OPT_MESH_PREFIX },
		{ "mesh-port", required_argument, NULL, OPT_MESH_PORT },
		{ "cipher", required_argument, NULL, OPT_CIPHER },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "node-cert-days", required_argument, NULL,
		  OPT_NODE_CERT_DAYS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *names[BX_PKI_SERVER_NAMES_MAX];
	const char *mesh_text = SERVE_DEFAULT_MESH;
	char err[CLI_ERR_LEN], host[SERVE_HOST_MAX], where[SERVE_HOST_MAX];
	char pin_text[BX_PKI_PIN_B64_LEN + 1];
	struct bx_dispatch_conf conf;
	uint8_t pin[BX_PKI_SHA256_LEN];
	struct bx_dispatch *d;
	unsigned long v;
	sigset_t sigs;
	int o, sig = 0;

	memset(&conf, 0, sizeof(conf));
	conf.state_dir = CLI_DEFAULT_STATE_DIR;
	conf.listen = SERVE_DEFAULT_LISTEN;
	conf.mesh_port = SERVE_DEFAULT_MESH_PORT;
	conf.cipher = BX_DISPATCH_CIPHER_CHACHA;
	conf.names = names;
	while ((o = cli_getopt(SERVE_PROG, argc, argv, opts)) != -1) {
		switch (o) {
		case CLI_OPT_STATE_DIR:
			conf.state_dir = optarg;
			break;
		case OPT_LISTEN:
			conf.listen = optarg;
			break;
		case OPT_MESH_PREFIX:
			mesh_text = optarg;
			break;
		case OPT_MESH_PORT:
			if (cli_parse_uint(SERVE_PROG, "--mesh-port", optarg, 1,
					   UINT16_MAX, &v) != 0)
				return CLI_EXIT_USAGE;
			conf.mesh_port = (uint16_t)v;
			break;
		case OPT_CIPHER:
			if (strcmp(optarg, BX_DISPATCH_CIPHER_CHACHA) != 0 &&
			    strcmp(optarg, BX_DISPATCH_CIPHER_GCM) != 0) {
				cli_usage_error(SERVE_PROG,
						"--cipher '%s': expected "
						BX_DISPATCH_CIPHER_CHACHA " or "
						BX_DISPATCH_CIPHER_GCM,
						optarg);
				return CLI_EXIT_USAGE;
			}
			conf.cipher = optarg;
			break;
		case OPT_NAME:
			if (conf.n_names == BX_PKI_SERVER_NAMES_MAX) {
				cli_usage_error(SERVE_PROG,
						"--name: at most %u names",
						BX_PKI_SERVER_NAMES_MAX);
				return CLI_EXIT_USAGE;
			}
			names[conf.n_names++] = optarg;
			break;
		case OPT_NODE_CERT_DAYS:
			if (cli_parse_uint(SERVE_PROG, "--node-cert-days",
					   optarg, 1, BX_PKI_NODE_DAYS_MAX,
					   &v) != 0)
				return CLI_EXIT_USAGE;
			conf.node_cert_days = (unsigned)v;
			break;
		case 'h':
			serve_help(stdout);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_usage_error(SERVE_PROG, "unexpected argument '%s'",
				argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (cli_parse_prefix(SERVE_PROG, "--mesh-prefix", mesh_text,
			     &conf.mesh) != 0)
		return CLI_EXIT_USAGE;
	if (conf.mesh.len < BX_STORE_MESH_LEN_MIN ||
	    conf.mesh.len > BX_STORE_MESH_LEN_MAX) {
		cli_usage_error(SERVE_PROG,
				"--mesh-prefix '%s': expected a length %u..%u",
				mesh_text, BX_STORE_MESH_LEN_MIN,
				BX_STORE_MESH_LEN_MAX);
		return CLI_EXIT_USAGE;
	}
	if (conf.n_names == 0) {
		if (gethostname(host, sizeof(host)) != 0) {
			cli_error("no --name given and no host name: %s",
				  strerror(errno));
			return CLI_EXIT_FAIL;
		}
		host[sizeof(host) - 1] = '\0';
		names[conf.n_names++] = host;
	}
	if (cli_state_dir_make(conf.state_dir) != 0)
		return CLI_EXIT_FAIL;
	conf.log = log_line;

	/* Blocked before any thread exists, so every thread inherits it and
	 * sigwait below is the only taker. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	d = bx_dispatch_start(&conf, err, sizeof(err));
	if (d == NULL) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	bx_dispatch_ca_pin(d, pin);
	cli_pin_text(pin, pin_text);
	listen_text(conf.listen, bx_dispatch_port(d), where, sizeof(where));
	printf(CLI_NAME ": serving on %s (mesh %s), CA pin %s\n", where,
	       mesh_text, pin_text);
	fflush(stdout);
	while (sigwait(&sigs, &sig) != 0)
		;
	printf(CLI_NAME ": %s: stopping\n", strsignal(sig));
	fflush(stdout);
	bx_dispatch_stop(d);
	printf(CLI_NAME ": stopped\n");
	return CLI_EXIT_OK;
}
