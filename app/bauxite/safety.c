/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite safety watch --listen ADDR [--count N]
 * bauxite jamming watch --listen ADDR [--count N]
 *
 * Follow a running bauxite-app's local safety services
 * (proto/bauxite/v1/safety.proto) at the address it listens on for them,
 * "unix:PATH" or "127.0.0.1:PORT", one line per message:
 *
 *   2026-11-22T02:08:59.120Z STATE - - - - node state NORMAL
 *   2026-11-22T02:09:01.005Z DEGRADATION_WARNING edge-b 0 41.2ms 0.0% peer edge-b path 0: RTT 41.2 ms > 30 ms
 *
 *   2026-11-22T02:09:01.050Z edge-b 0 MODERATE 20.0ms 30.0%
 *
 * (events: time kind peer path rtt loss message; jamming: time peer path
 * level rtt loss; "-" where a field does not apply). Lines are flushed as
 * they come, for scripts. Exit status: 0 after --count messages, 1 when
 * the stream cannot be had or ends, 2 for a bad command line.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bauxite/v1/safety.pb-c.h"
#include "bx_common.h"
#include "bx_rpc.h"
#include "cli.h"

#define SAFETY_PROG CLI_NAME " safety watch"
#define JAMMING_PROG CLI_NAME " jamming watch"
#define EVENTS_METHOD "/bauxite.v1.SafetyService/WatchEvents"
#define JAMMING_METHOD "/bauxite.v1.JammingService/Subscribe"
/* "2026-11-22T02:08:59.120Z" and its NUL. */
#define TIME_TEXT_MAX 32
/* "18446744073709551.6ms", "100.0%" and their NULs. */
#define FIELD_TEXT_MAX 32

enum watch_kind {
	WATCH_EVENTS,
	WATCH_JAMMING,
};

struct watch_opts {
	const char *listen;
	unsigned long count; /* 0: until interrupted */
};

static void
watch_help(FILE *f, enum watch_kind kind)
{
	if (kind == WATCH_EVENTS)
		fprintf(f,
			"usage: " SAFETY_PROG " --listen ADDR [--count N]\n\n"
			"Follows the safety monitor of the bauxite-app serving its local\n"
			"safety services at ADDR (unix:PATH or 127.0.0.1:PORT): first the\n"
			"node's state, then each event, one line each:\n"
			"  TIME KIND PEER PATH RTT LOSS MESSAGE\n\n");
	else
		fprintf(f,
			"usage: " JAMMING_PROG " --listen ADDR [--count N]\n\n"
			"Follows the jamming threat level of every peer and path of the\n"
			"bauxite-app serving its local safety services at ADDR (unix:PATH or\n"
			"127.0.0.1:PORT), one line per path every 50 ms:\n"
			"  TIME PEER PATH LEVEL RTT LOSS\n\n");
	fprintf(f,
		"  --listen ADDR  the address bauxite-app listens on for them\n"
		"  --count N      stop after N lines (default: until interrupted)\n");
}

/* Parses the options; 0 to go on, else the exit status. */
static int
watch_parse(enum watch_kind kind, int argc, char **argv,
	    struct watch_opts *o)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "count", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prog = kind == WATCH_EVENTS ? SAFETY_PROG : JAMMING_PROG;
	char *end;
	int c;

	while ((c = cli_getopt(prog, argc, argv, opts)) != -1) {
		switch (c) {
		case 'l':
			o->listen = optarg;
			break;
		case 'n':
			errno = 0;
			o->count = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    o->count == 0 || optarg[0] == '-') {
				cli_usage_error(prog,
						"--count '%s': expected a number of lines, 1 or more",
						optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'h':
			watch_help(stdout, kind);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (o->listen == NULL || optind != argc) {
		cli_usage_error(prog, "expected --listen ADDR [--count N] and nothing else");
		return CLI_EXIT_USAGE;
	}
	return -1;
}

static const char *
time_text(char buf[TIME_TEXT_MAX], uint64_t unix_ms)
{
	time_t secs = (time_t)(unix_ms / 1000);
	struct tm tm;
	char day[24];

	if (gmtime_r(&secs, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return "-";
	snprintf(buf, TIME_TEXT_MAX, "%s.%03uZ", day,
		 (unsigned int)(unix_ms % 1000));
	return buf;
}

static const char *
rtt_text(char buf[FIELD_TEXT_MAX], bool known, uint64_t rtt_us)
{
	if (!known)
		return "-";
	snprintf(buf, FIELD_TEXT_MAX, "%" PRIu64 ".%ums", rtt_us / 1000,
		 (unsigned int)(rtt_us % 1000 / 100));
	return buf;
}

static const char *
loss_text(char buf[FIELD_TEXT_MAX], bool known, uint32_t permille)
{
	if (!known)
		return "-";
	snprintf(buf, FIELD_TEXT_MAX, "%u.%u%%", permille / 10, permille % 10);
	return buf;
}

/* The name protoc gave @value in @desc, or "?" for one it does not know. */
static const char *
enum_text(const ProtobufCEnumDescriptor *desc, int value, const char *prefix)
{
	const ProtobufCEnumValue *v =
		protobuf_c_enum_descriptor_get_value(desc, value);
	size_t n = strlen(prefix);

	if (v == NULL)
		return "?";
	return strncmp(v->name, prefix, n) == 0 ? v->name + n : v->name;
}

/* One line for one message; false when it does not decode. */
static bool
print_event(const uint8_t *msg, size_t len)
{
	Bauxite__V1__SafetyEvent *e =
		bauxite__v1__safety_event__unpack(NULL, len, msg);
	char t[TIME_TEXT_MAX], rtt[FIELD_TEXT_MAX], loss[FIELD_TEXT_MAX];
	bool path = e != NULL && e->peer[0] != '\0';

	if (e == NULL)
		return false;
	printf("%s %s %s ", time_text(t, e->unix_ms),
	       enum_text(&bauxite__v1__safety_event__kind__descriptor,
			 (int)e->kind, ""),
	       path ? e->peer : "-");
	if (path)
		printf("%" PRIu32 " ", e->path_id);
	else
		printf("- ");
	printf("%s %s %s\n", rtt_text(rtt, path, e->rtt_us),
	       loss_text(loss, path, e->loss_permille), e->message);
	bauxite__v1__safety_event__free_unpacked(e, NULL);
	return true;
}

static bool
print_jamming(const uint8_t *msg, size_t len)
{
	Bauxite__V1__JammingStateResponse *r =
		bauxite__v1__jamming_state_response__unpack(NULL, len, msg);
	char t[TIME_TEXT_MAX], rtt[FIELD_TEXT_MAX], loss[FIELD_TEXT_MAX];

	if (r == NULL)
		return false;
	printf("%s %s %" PRIu32 " %s %s %s\n", time_text(t, r->unix_ms),
	       r->peer[0] ? r->peer : "-", r->path_id,
	       enum_text(&bauxite__v1__threat_level__descriptor, (int)r->level,
			 "THREAT_"),
	       rtt_text(rtt, r->has_rtt, r->rtt_us),
	       loss_text(loss, true, r->loss_permille));
	bauxite__v1__jamming_state_response__free_unpacked(r, NULL);
	return true;
}

static int
watch(enum watch_kind kind, int argc, char **argv)
{
	const struct bx_rpc_client_creds creds = { .kind = BX_RPC_CREDS_LOCAL };
	/* Both requests are empty messages: zero bytes. */
	static const uint8_t empty[1];
	struct watch_opts o = { 0 };
	struct bx_rpc_channel *ch = NULL;
	struct bx_rpc_call *call = NULL;
	char err[CLI_ERR_LEN];
	enum bx_rpc_code code;
	unsigned long lines = 0;
	const char *why;
	uint8_t *msg;
	size_t len;
	bool ok;
	int rc;

	rc = watch_parse(kind, argc, argv, &o);
	if (rc >= 0)
		return rc;
	rc = CLI_EXIT_FAIL;
	ch = bx_rpc_channel_create(o.listen, &creds, err, sizeof(err));
	if (ch == NULL) {
		cli_error("%s", err);
		goto out;
	}
	if (bx_rpc_call_open_stream(ch, kind == WATCH_EVENTS ? EVENTS_METHOD :
							       JAMMING_METHOD,
				    empty, 0, &call) != 0) {
		cli_error("%s: cannot start a call", o.listen);
		goto out;
	}
	while ((o.count == 0 || lines < o.count) &&
	       bx_rpc_call_next(call, -1, &msg, &len) == 0) {
		ok = kind == WATCH_EVENTS ? print_event(msg, len) :
					    print_jamming(msg, len);
		free(msg);
		if (!ok) {
			cli_error("%s sent a message that does not decode",
				  o.listen);
			goto out;
		}
		fflush(stdout);
		lines++;
	}
	if (o.count != 0 && lines == o.count) {
		rc = CLI_EXIT_OK;
		goto out;
	}
	if (bx_rpc_call_status(call, &code, &why) != 0)
		cli_error("%s: the stream failed", o.listen);
	else if (code == BX_RPC_UNAVAILABLE && lines == 0)
		cli_error("%s: %s%s%s (is bauxite-app serving its safety "
			  "services there?)", o.listen, bx_rpc_code_name(code),
			  why[0] ? ": " : "", why);
	else
		cli_error("%s: the stream ended: %s%s%s", o.listen,
			  bx_rpc_code_name(code), why[0] ? ": " : "", why);
out:
	bx_rpc_call_free(call);
	bx_rpc_channel_destroy(ch);
	return rc;
}

static int
safety_watch(int argc, char **argv)
{
	return watch(WATCH_EVENTS, argc, argv);
}

static int
jamming_watch(int argc, char **argv)
{
	return watch(WATCH_JAMMING, argc, argv);
}

static const struct cli_cmd safety_cmds[] = {
	{ "watch", "follow the safety monitor's state and events", safety_watch },
};

static const struct cli_cmd jamming_cmds[] = {
	{ "watch", "follow every path's jamming threat level", jamming_watch },
};

int
cli_safety(int argc, char **argv)
{
	return cli_dispatch(CLI_NAME " safety", "subcommand", safety_cmds,
			    BX_ARRAY_SIZE(safety_cmds), argc, argv);
}

int
cli_jamming(int argc, char **argv)
{
	return cli_dispatch(CLI_NAME " jamming", "subcommand", jamming_cmds,
			    BX_ARRAY_SIZE(jamming_cmds), argc, argv);
}
