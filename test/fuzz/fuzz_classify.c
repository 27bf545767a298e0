/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for lib/classify. Each input is used twice:
 *   - as a packet: the first byte picks a rule set (none, empty, a few
 *     rules from structs, a few from JSON), the rest is the inner IP
 *     packet; the result must be a lane or one of the classifier's reasons;
 *   - as JSON text for bx_classify_rules_from_json: either a rule set, or
 *     NULL with an error message.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>

#include "bx_classify.h"
#include "bx_common.h"

#define NSETS 4

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct bx_classify_rules *sets[NSETS];

static const char rules_json[] =
	"[{\"proto\": \"udp\", \"dst_prefix\": \"10.0.0.0/8\","
	"  \"dst_port\": \"5000-5010\", \"action\": \"telemetry\"},"
	" {\"src_prefix\": \"2001:db8::/32\", \"src_port\": \"1-1023\","
	"  \"action\": \"critical\"},"
	" {\"proto\": \"icmpv6\", \"action\": \"deny\"},"
	" {\"dst_prefix\": \"0.0.0.0/1\", \"action\": \"bulk\"}]";

static struct bx_classify_prefix
prefix(int af, const char *addr, uint8_t len)
{
	struct bx_classify_prefix p = {.af = (uint8_t)af, .len = len};

	BX_ASSERT(inet_pton(af, addr, p.addr) == 1);
	return p;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct bx_classify_rule few[] = {
		{.match = BX_CLASSIFY_MATCH_PROTO | BX_CLASSIFY_MATCH_DPORT,
		 .proto = 6, .dport_lo = 23, .dport_hi = 23,
		 .action = BX_CLASSIFY_DENY},
		{.match = BX_CLASSIFY_MATCH_DST,
		 .dst = prefix(AF_INET, "192.168.0.0", 16),
		 .action = BX_CLASSIFY_CRITICAL},
		{.match = BX_CLASSIFY_MATCH_SRC | BX_CLASSIFY_MATCH_SPORT,
		 .src = prefix(AF_INET6, "fd00::", 8), .sport_lo = 5000,
		 .sport_hi = 5999, .action = BX_CLASSIFY_BULK},
		{.match = BX_CLASSIFY_MATCH_PROTO, .proto = 47,
		 .action = BX_CLASSIFY_TELEMETRY},
	};
	json_t *j;

	(void)argc;
	(void)argv;
	sets[0] = NULL;
	sets[1] = bx_classify_rules_create(NULL, 0);
	sets[2] = bx_classify_rules_create(few, BX_ARRAY_SIZE(few));
	j = json_loads(rules_json, 0, NULL);
	BX_ASSERT(j != NULL);
	sets[3] = bx_classify_rules_from_json(j, NULL, 0);
	json_decref(j);
	BX_ASSERT(sets[1] != NULL && sets[2] != NULL && sets[3] != NULL);
	return 0;
}

static void
fuzz_packet(const uint8_t *data, size_t size)
{
	const struct bx_classify_rules *rules;
	enum bx_wire_lane lane = BX_LANE_COUNT;
	enum bx_drop_reason r;
	unsigned set;

	if (size < 1)
		return;
	set = data[0] % NSETS;
	rules = sets[set];
	r = bx_classify_packet(rules, data + 1, (uint32_t)(size - 1), &lane);
	switch (r) {
	case BX_DROP_NONE:
		BX_ASSERT(lane < BX_LANE_COUNT);
		break;
	case BX_DROP_POLICY_DENY:
		BX_ASSERT(bx_classify_rules_count(rules) > 0);
		/* fall through */
	case BX_DROP_CLASSIFY_TRUNCATED:
	case BX_DROP_CLASSIFY_NOT_IP:
		BX_ASSERT(lane == BX_LANE_COUNT); /* untouched on a drop */
		break;
	default:
		BX_ASSERT(!"unexpected drop reason");
	}
}

static void
fuzz_json(const uint8_t *data, size_t size)
{
	struct bx_classify_rules *rules;
	char err[256];
	json_t *j;

	j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL,
		       NULL);
	if (j == NULL)
		return;
	err[0] = '\0';
	rules = bx_classify_rules_from_json(j, err, sizeof(err));
	if (rules == NULL)
		BX_ASSERT(err[0] != '\0');
	else
		BX_ASSERT(bx_classify_rules_count(rules) <= BX_CLASSIFY_MAX_RULES);
	bx_classify_rules_free(rules);
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_packet(data, size);
	fuzz_json(data, size);
	return 0;
}
