/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command tables, option parsing and state directory access shared by
 * every bauxite-dispatch command.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bx_common.h"
#include "bx_dispatch.h"
#include "cli.h"

#define PATH_LEN 4096u


/*
 * The state directory holds the CA key and the store, whose token hashes
 * and audit log are the hub's authority: a directory others may enter or
 * write is refused, not silently tightened, so that an operator looks at
 * what may have been exposed.
 */
static int
state_dir_check(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) != 0) {
		cli_error("state directory %s: %s", dir, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (!S_ISDIR(st.st_mode)) {
		cli_error("state directory %s: not a directory", dir);
		return CLI_EXIT_FAIL;
	}
	if ((st.st_mode & CLI_STATE_DIR_OTHERS) != 0) {
		cli_error("state directory %s is accessible by group or others "
			  "(mode %04o): chmod 700 %s",
			  dir, (unsigned)(st.st_mode & 07777), dir);
		return CLI_EXIT_FAIL;
	}
	return 0;
}

int
cli_state_dir_make(const char *dir)
{
	if (mkdir(dir, CLI_STATE_DIR_MODE) == 0) {
		fprintf(stderr, CLI_NAME ": created state directory %s (mode 0700)\n",
			dir);
		return 0;
	}
	if (errno != EEXIST) {
		cli_error("state directory %s: %s", dir, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	return state_dir_check(dir);
}

int
cli_store_open(const char *state_dir, bool create, struct bx_store **out)
{
	char path[PATH_LEN], err[CLI_ERR_LEN];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir,
			     BX_STORE_DB_FILE) >= sizeof(path)) {
		cli_error("--state-dir %s: path too long", state_dir);
		return CLI_EXIT_FAIL;
	}
	if (create) {
		if (cli_state_dir_make(state_dir) != 0)
			return CLI_EXIT_FAIL;
	} else if (access(path, F_OK) != 0) {
		cli_error("%s: %s (is --state-dir the hub's? 'bauxite-dispatch "
			  "serve' creates it)", path, strerror(errno));
		return CLI_EXIT_FAIL;
	} else if (state_dir_check(state_dir) != 0) {
		return CLI_EXIT_FAIL;
	}
	if (bx_store_open_sqlite(path, NULL, out, err, sizeof(err)) != 0) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	return 0;
}

int
cli_ca_open(const char *state_dir, struct bx_pki_ca **out)
{
	char path[PATH_LEN], err[CLI_ERR_LEN];
	bool created = false;

	snprintf(path, sizeof(path), "%s/%s", state_dir, BX_DISPATCH_CA_DIR);
	if (bx_pki_ca_load_or_create(path, out, &created, err, sizeof(err)) !=
	    0) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	if (created)
		fprintf(stderr, CLI_NAME ": created the hub's CA in %s\n",
			path);
	return 0;
}

void
cli_time_text(int64_t ms, char out[CLI_TIME_LEN])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms == 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(out, CLI_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, CLI_TIME_LEN, "%s", ms == 0 ? "never" : "?");
}

int64_t
cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
cli_parse_uint(const char *prog, const char *opt, const char *text,
	       unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 ||
	    v < min || v > max) {
		cli_usage_error(prog, "%s '%s': expected an integer %lu..%lu",
				opt, text, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int
cli_parse_duration(const char *prog, const char *opt, const char *text,
		   uint32_t max, uint32_t *out)
{
	static const struct {
		char unit;
		uint32_t secs;
	} units[] = {
		{ 's', 1 },
		{ 'm', 60 },
		{ 'h', 3600 },
		{ 'd', 86400 },
	};
	unsigned long v = 0;
	size_t i;
	char *end;

	errno = 0;
	if (text[0] >= '0' && text[0] <= '9')
		v = strtoul(text, &end, 10);
	else
		end = (char *)text;
	for (i = 0; i < BX_ARRAY_SIZE(units); i++)
		if (end != text && end[0] == units[i].unit && end[1] == '\0' &&
		    errno == 0 && v >= 1 && v <= max / units[i].secs) {
			*out = (uint32_t)v * units[i].secs;
			return 0;
		}
	cli_usage_error(prog,
			"%s '%s': expected a number and a unit s, m, h or d "
			"(30s, 15m, 1h, 2d), at most %us",
			opt, text, max);
	return -1;
}

int
cli_parse_prefix(const char *prog, const char *opt, const char *text,
		 struct bx_store_prefix *out)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	unsigned long len;
	struct in_addr a;
	uint32_t mask;
	char *end;

	if (slash == NULL || (size_t)(slash - text) >= sizeof(addr))
		goto bad;
	memcpy(addr, text, (size_t)(slash - text));
	addr[slash - text] = '\0';
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (inet_pton(AF_INET, addr, &a) != 1 || slash[1] < '0' ||
	    slash[1] > '9' || *end != '\0' || errno != 0 || len > 32)
		goto bad;
	mask = len == 0 ? 0 : htonl(~0u << (32 - len));
	if ((a.s_addr & ~mask) != 0) {
		cli_usage_error(prog, "%s '%s': host bits set past /%lu", opt,
				text, len);
		return -1;
	}
	out->addr = a.s_addr;
	out->len = (uint8_t)len;
	return 0;
bad:
	cli_usage_error(prog, "%s '%s': expected an IPv4 prefix a.b.c.d/len",
			opt, text);
	return -1;
}

int
cli_parse_endpoint(const char *prog, const char *opt, const char *text,
		   struct bx_store_endpoint *out)
{
	char addr[INET_ADDRSTRLEN];
	const char *colon = strrchr(text, ':');
	unsigned long port;
	struct in_addr a;
	uint32_t h;
	char *end;

	if (colon == NULL || (size_t)(colon - text) >= sizeof(addr))
		goto bad;
	memcpy(addr, text, (size_t)(colon - text));
	addr[colon - text] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (inet_pton(AF_INET, addr, &a) != 1 || colon[1] < '0' ||
	    colon[1] > '9' || *end != '\0' || errno != 0 || port < 1 ||
	    port > UINT16_MAX)
		goto bad;
	h = ntohl(a.s_addr);
	if ((h >> 24) == 0 || (h >> 28) >= 0xe) {
		cli_usage_error(prog, "%s '%s': not a unicast host address",
				opt, text);
		return -1;
	}
	out->ip = a.s_addr;
	out->port = (uint16_t)port;
	return 0;
bad:
	cli_usage_error(prog,
			"%s '%s': expected IP:PORT, an IPv4 address and a port "
			"1..65535",
			opt, text);
	return -1;
}

void
cli_pin_text(const uint8_t pin[BX_PKI_SHA256_LEN],
	     char out[BX_PKI_PIN_B64_LEN + 1])
{
	sodium_bin2base64(out, BX_PKI_PIN_B64_LEN + 1, pin, BX_PKI_SHA256_LEN,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int
cli_state_dir_only(const char *prog, int argc, char **argv,
		   void (*help)(FILE *f), const char **state_dir)
{
	static const struct option opts[] = {
		CLI_STATE_DIR_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	*state_dir = CLI_DEFAULT_STATE_DIR;
	while ((o = cli_getopt(prog, argc, argv, opts)) != -1) {
		switch (o) {
		case CLI_OPT_STATE_DIR:
			*state_dir = optarg;
			break;
		case 'h':
			help(stdout);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_usage_error(prog, "unexpected argument '%s'", argv[optind]);
		return CLI_EXIT_USAGE;
	}
	return -1;
}
