/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/stats: per-lcore counters summed from two real lcores, drop helpers,
 * JSON export, and the telemetry export end to end over the real socket.
 *
 * Unlike the other suites this one starts the EAL with telemetry on (no
 * bx_test_eal_init): --no-shconf keeps the runtime directory down to the
 * telemetry socket, and a per-process --file-prefix keeps parallel runs
 * apart. The directory is removed at group teardown.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_telemetry.h>

#include "bx_stats.h"

#define WORKER_LCORE 1u
#define IDLE_LCORE 5u      /* no EAL role in "-l 0-1" */
#define UNTOUCHED_LCORE 7u /* no EAL role, never written */
#define LOAD_ITERS 200000u
#define RX_FRAME_LEN 60u
#define TX_FRAME_LEN 1400u
#define RX_DROP_EVERY 7u
#define TX_DROP_EVERY 10u
#define SUM_CHECK_EVERY 1024u
#define TEL_SOCKET_NAME "dpdk_telemetry.v2"
#define TEL_TIMEOUT_S 5
#define TEL_BUF_LEN (64 * 1024)

static char runtime_dir[PATH_MAX];

static int
group_setup(void **state)
{
	char prefix[64];
	char *argv[] = {
		(char *)"test_stats", (char *)"-l", (char *)"0-1",
		(char *)"--no-pci", (char *)"--no-huge", (char *)"--no-shconf",
		(char *)"-m", (char *)"256", prefix,
		(char *)"--log-level=*:error",
	};

	(void)state;
	snprintf(prefix, sizeof(prefix), "--file-prefix=bxstats%d",
		 (int)getpid());
	if (rte_eal_init((int)RTE_DIM(argv), argv) < 0)
		return -1;
	snprintf(runtime_dir, sizeof(runtime_dir), "%s",
		 rte_eal_get_runtime_dir());
	return 0;
}

/* Removes the per-process runtime directory and what EAL left in it. */
static void
remove_runtime_dir(void)
{
	char path[PATH_MAX + 256];
	struct dirent *e;
	DIR *dir;

	dir = opendir(runtime_dir);
	if (dir == NULL)
		return;
	while ((e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", runtime_dir, e->d_name);
		unlink(path);
	}
	closedir(dir);
	rmdir(runtime_dir);
}

static int
group_teardown(void **state)
{
	(void)state;
	rte_eal_cleanup();
	if (runtime_dir[0] != '\0')
		remove_runtime_dir();
	return 0;
}

static int
stats_setup(void **state)
{
	struct bx_stats *s = bx_stats_create(SOCKET_ID_ANY);

	if (s == NULL)
		return -1;
	*state = s;
	return 0;
}

static int
stats_teardown(void **state)
{
	bx_stats_free(*state);
	return 0;
}

static bool
is_telemetry_key(const char *name)
{
	const char *p;

	if (name[0] == '\0' || strlen(name) >= RTE_TEL_MAX_STRING_LEN)
		return false;
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return false;
	return true;
}

static void
test_counter_names(void **state)
{
	static const struct {
		enum bx_stat_id id;
		const char *name;
	} pinned[] = {
		{ BX_STAT_RX_PACKETS, "rx_packets" },
		{ BX_STAT_RX_DROPPED, "rx_dropped" },
		{ BX_STAT_TX_BYTES, "tx_bytes" },
		{ BX_STAT_TX_DROPPED, "tx_dropped" },
		{ BX_STAT_EXCEPTION_RX_PACKETS, "exception_rx_packets" },
		{ BX_STAT_EXCEPTION_TX_PACKETS, "exception_tx_packets" },
		{ BX_STAT_HANDSHAKE_RX, "handshake_rx" },
	};
	unsigned int i, j;

	(void)state;
	for (i = 0; i < RTE_DIM(pinned); i++)
		assert_string_equal(bx_stats_counter_name(pinned[i].id),
				    pinned[i].name);
	for (i = 0; i < BX_STAT__COUNT; i++) {
		assert_true(is_telemetry_key(bx_stats_counter_name(i)));
		assert_true(strlen(bx_stats_counter_help(i)) > 0);
		for (j = i + 1; j < BX_STAT__COUNT; j++)
			assert_string_not_equal(bx_stats_counter_name(i),
						bx_stats_counter_name(j));
	}
	for (i = BX_DROP_NONE + 1; i < BX_DROP__COUNT; i++)
		assert_true(is_telemetry_key(bx_drop_name(i)));
	assert_string_equal(bx_stats_counter_name(BX_STAT__COUNT), "unknown");
	assert_string_equal(bx_stats_counter_help(BX_STAT__COUNT), "");
}

static bool
all_zero(const struct bx_stats_lcore *lc)
{
	static const struct bx_stats_lcore zero;

	return memcmp(lc, &zero, sizeof(zero)) == 0;
}

static void
test_lcore_blocks(void **state)
{
	struct bx_stats *s = *state;
	struct bx_stats_lcore *prev = NULL, *lc;
	unsigned int l;

	for (l = 0; l < RTE_MAX_LCORE; l++) {
		lc = bx_stats_lcore(s, l);
		assert_non_null(lc);
		assert_int_equal((uintptr_t)lc % RTE_CACHE_LINE_SIZE, 0);
		assert_true(all_zero(lc));
		if (prev != NULL)
			assert_true((uintptr_t)lc >=
				    (uintptr_t)prev + sizeof(*prev));
		prev = lc;
	}
	assert_null(bx_stats_lcore(s, RTE_MAX_LCORE));
	assert_null(bx_stats_lcore(s, LCORE_ID_ANY));
	bx_stats_free(NULL);
}

struct load_arg {
	struct bx_stats *s;
	unsigned int iters;
};

/* Runs on WORKER_LCORE: the encrypt side of a worker. */
static int
tx_worker(void *arg)
{
	const struct load_arg *a = arg;
	struct bx_stats_lcore *lc = bx_stats_lcore(a->s, rte_lcore_id());
	unsigned int i;

	if (lc == NULL)
		return -1;
	for (i = 1; i <= a->iters; i++) {
		bx_stats_add(lc, BX_STAT_TX_PACKETS, 1);
		bx_stats_add(lc, BX_STAT_TX_BYTES, TX_FRAME_LEN);
		if (i % TX_DROP_EVERY == 0)
			bx_stats_tx_drop(lc, BX_DROP_NO_PATH, 1);
	}
	return 0;
}

static void
test_sum_two_lcores(void **state)
{
	struct bx_stats *s = *state;
	struct load_arg arg = { .s = s, .iters = LOAD_ITERS };
	struct bx_stats_lcore *lc = bx_stats_lcore(s, rte_lcore_id());
	struct bx_stats_lcore sum, *worker;
	uint64_t seen_tx = 0;
	unsigned int i;

	assert_int_equal(rte_lcore_id(), rte_get_main_lcore());
	assert_int_equal(rte_eal_remote_launch(tx_worker, &arg, WORKER_LCORE),
			 0);
	/* The decrypt side counts on the main lcore meanwhile, and reads the
	 * sum while the worker writes: it only ever grows and stays bounded. */
	for (i = 1; i <= LOAD_ITERS; i++) {
		bx_stats_add(lc, BX_STAT_RX_PACKETS, 1);
		bx_stats_add(lc, BX_STAT_RX_BYTES, RX_FRAME_LEN);
		if (i % RX_DROP_EVERY == 0)
			bx_stats_rx_drop(lc, BX_DROP_REPLAY_DUPLICATE, 1);
		if (i % SUM_CHECK_EVERY == 0) {
			bx_stats_sum(s, &sum);
			assert_true(sum.counter[BX_STAT_TX_PACKETS] >= seen_tx);
			assert_true(sum.counter[BX_STAT_TX_PACKETS] <=
				    LOAD_ITERS);
			seen_tx = sum.counter[BX_STAT_TX_PACKETS];
		}
	}
	assert_int_equal(rte_eal_wait_lcore(WORKER_LCORE), 0);

	bx_stats_sum(s, &sum);
	assert_int_equal(sum.counter[BX_STAT_RX_PACKETS], LOAD_ITERS);
	assert_int_equal(sum.counter[BX_STAT_RX_BYTES],
			 (uint64_t)LOAD_ITERS * RX_FRAME_LEN);
	assert_int_equal(sum.counter[BX_STAT_RX_DROPPED],
			 LOAD_ITERS / RX_DROP_EVERY);
	assert_int_equal(sum.drop[BX_DROP_REPLAY_DUPLICATE],
			 LOAD_ITERS / RX_DROP_EVERY);
	assert_int_equal(sum.counter[BX_STAT_TX_PACKETS], LOAD_ITERS);
	assert_int_equal(sum.counter[BX_STAT_TX_BYTES],
			 (uint64_t)LOAD_ITERS * TX_FRAME_LEN);
	assert_int_equal(sum.counter[BX_STAT_TX_DROPPED],
			 LOAD_ITERS / TX_DROP_EVERY);
	assert_int_equal(sum.drop[BX_DROP_NO_PATH], LOAD_ITERS / TX_DROP_EVERY);
	assert_int_equal(sum.drop[BX_DROP_NONE], 0);

	/* Each side landed in its own lcore's block only. */
	worker = bx_stats_lcore(s, WORKER_LCORE);
	assert_int_equal(worker->counter[BX_STAT_TX_PACKETS], LOAD_ITERS);
	assert_int_equal(worker->counter[BX_STAT_RX_PACKETS], 0);
	assert_int_equal(lc->counter[BX_STAT_TX_PACKETS], 0);
	assert_int_equal(lc->counter[BX_STAT_RX_PACKETS], LOAD_ITERS);
}

enum direction { DIR_RX, DIR_TX };

static void
test_drop_helpers(void **state)
{
	static const struct {
		enum direction dir;
		enum bx_stat_id total, other;
	} dirs[] = {
		{ DIR_RX, BX_STAT_RX_DROPPED, BX_STAT_TX_DROPPED },
		{ DIR_TX, BX_STAT_TX_DROPPED, BX_STAT_RX_DROPPED },
	};
	struct bx_stats *s = *state;
	struct bx_stats_lcore *lc = bx_stats_lcore(s, rte_lcore_id());
	struct bx_stats_lcore sum;
	unsigned int d, r, other;
	uint64_t n;

	for (d = 0; d < RTE_DIM(dirs); d++) {
		for (r = BX_DROP_NONE + 1; r < BX_DROP__COUNT; r++) {
			memset(lc, 0, sizeof(*lc));
			n = 3 + r;
			if (dirs[d].dir == DIR_RX)
				bx_stats_rx_drop(lc, r, n);
			else
				bx_stats_tx_drop(lc, r, n);
			bx_stats_sum(s, &sum);
			assert_int_equal(sum.drop[r], n);
			assert_int_equal(sum.counter[dirs[d].total], n);
			assert_int_equal(sum.counter[dirs[d].other], 0);
			for (other = 0; other < BX_DROP__COUNT; other++)
				if (other != r)
					assert_int_equal(sum.drop[other], 0);
		}
	}
}

static void
expect_json_u64(const json_t *obj, const char *key, uint64_t want)
{
	const json_t *v = json_object_get(obj, key);

	if (v == NULL)
		fail_msg("key %s missing", key);
	assert_true(json_is_integer(v));
	assert_int_equal((uint64_t)json_integer_value(v), want);
}

/* Every reason except "none" is a key; @a and @b get their counts, the
 * rest zero. */
static void
expect_drops_dict(const json_t *drops, enum bx_drop_reason a, uint64_t na,
		  enum bx_drop_reason b, uint64_t nb)
{
	unsigned int r;

	assert_true(json_is_object(drops));
	assert_int_equal(json_object_size(drops), BX_DROP__COUNT - 1);
	assert_null(json_object_get(drops, bx_drop_name(BX_DROP_NONE)));
	for (r = BX_DROP_NONE + 1; r < BX_DROP__COUNT; r++)
		expect_json_u64(drops, bx_drop_name(r),
				r == a ? na : r == b ? nb : 0);
}

static void
test_json_export(void **state)
{
	struct bx_stats *s = *state;
	struct bx_stats_lcore *l0 = bx_stats_lcore(s, 0);
	struct bx_stats_lcore *l3 = bx_stats_lcore(s, 3);
	json_t *j = NULL, *sentinel = (json_t *)&j;
	const json_t *counters;
	unsigned int i;

	bx_stats_add(l0, BX_STAT_RX_PACKETS, 10);
	bx_stats_add(l3, BX_STAT_RX_PACKETS, 5);
	bx_stats_add(l3, BX_STAT_HANDSHAKE_RX, 2);
	bx_stats_rx_drop(l0, BX_DROP_CRYPTO_AUTH, 4);
	bx_stats_tx_drop(l3, BX_DROP_LANE_BULK_FULL, 6);

	assert_int_equal(bx_stats_to_json(s, &j), 0);
	assert_true(json_is_object(j));
	assert_int_equal(json_object_size(j), 2);
	counters = json_object_get(j, "counters");
	assert_true(json_is_object(counters));
	assert_int_equal(json_object_size(counters), BX_STAT__COUNT);
	for (i = 0; i < BX_STAT__COUNT; i++)
		assert_non_null(json_object_get(counters,
						bx_stats_counter_name(i)));
	expect_json_u64(counters, "rx_packets", 15);
	expect_json_u64(counters, "handshake_rx", 2);
	expect_json_u64(counters, "rx_dropped", 4);
	expect_json_u64(counters, "tx_dropped", 6);
	expect_json_u64(counters, "tx_packets", 0);
	expect_drops_dict(json_object_get(j, "drops"), BX_DROP_CRYPTO_AUTH, 4,
			  BX_DROP_LANE_BULK_FULL, 6);
	json_decref(j);

	j = sentinel;
	assert_int_equal(bx_stats_to_json(NULL, &j), -EINVAL);
	assert_ptr_equal(j, sentinel);
	assert_int_equal(bx_stats_to_json(s, NULL), -EINVAL);
}

/*
 * One telemetry round trip on the real socket: reads the greeting (checking
 * it is this process answering), sends @cmd, and returns the value the
 * reply holds under @cmd (a new reference), or NULL.
 */
static json_t *
tel_query(const char *cmd)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = TEL_TIMEOUT_S };
	json_t *greeting = NULL, *reply = NULL, *value = NULL;
	char *buf;
	ssize_t n;
	int fd;

	buf = malloc(TEL_BUF_LEN);
	assert_non_null(buf);
	if (snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s",
		     runtime_dir, TEL_SOCKET_NAME) >= (int)sizeof(addr.sun_path))
		fail_msg("socket path too long under %s", runtime_dir);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
				    sizeof(tv)), 0);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		fail_msg("connect %s: %s", addr.sun_path, strerror(errno));

	n = recv(fd, buf, TEL_BUF_LEN, 0);
	assert_true(n > 0);
	greeting = json_loadb(buf, (size_t)n, 0, NULL);
	assert_true(json_is_object(greeting));
	expect_json_u64(greeting, "pid", (uint64_t)getpid());

	assert_int_equal(send(fd, cmd, strlen(cmd), 0), (ssize_t)strlen(cmd));
	n = recv(fd, buf, TEL_BUF_LEN, 0);
	assert_true(n > 0);
	reply = json_loadb(buf, (size_t)n, 0, NULL);
	assert_true(json_is_object(reply));
	value = json_object_get(reply, cmd);
	json_incref(value);

	json_decref(reply);
	json_decref(greeting);
	close(fd);
	free(buf);
	return value;
}

static void
test_telemetry_register(void **state)
{
	struct bx_stats *s = *state;
	struct bx_stats *other = bx_stats_create(SOCKET_ID_ANY);

	assert_non_null(other);
	assert_int_equal(bx_stats_telemetry_register(NULL), -EINVAL);
	assert_int_equal(bx_stats_telemetry_register(s), 0);
	assert_int_equal(bx_stats_telemetry_register(other), -EBUSY);
	assert_int_equal(bx_stats_telemetry_register(s), -EBUSY);
	bx_stats_free(other);
}

static void
test_telemetry_command_list(void **state)
{
	static const char *const cmds[] = {
		"/bauxite/stats",
		"/bauxite/drops",
		"/bauxite/lcores",
	};
	json_t *list, *v;
	unsigned int c, found;
	size_t i;

	assert_int_equal(bx_stats_telemetry_register(*state), 0);
	list = tel_query("/");
	assert_true(json_is_array(list));
	/* Registered exactly once, although earlier tests registered too. */
	for (c = 0; c < RTE_DIM(cmds); c++) {
		found = 0;
		json_array_foreach(list, i, v)
			if (json_is_string(v) &&
			    strcmp(json_string_value(v), cmds[c]) == 0)
				found++;
		assert_int_equal(found, 1);
	}
	json_decref(list);
}

static void
test_telemetry_drops(void **state)
{
	struct bx_stats *s = *state;
	json_t *drops;

	bx_stats_rx_drop(bx_stats_lcore(s, 0), BX_DROP_REPLAY_DUPLICATE, 7);
	bx_stats_tx_drop(bx_stats_lcore(s, WORKER_LCORE), BX_DROP_NO_PATH, 3);
	bx_stats_tx_drop(bx_stats_lcore(s, 0), BX_DROP_NO_PATH, 2);
	assert_int_equal(bx_stats_telemetry_register(s), 0);

	drops = tel_query("/bauxite/drops");
	expect_drops_dict(drops, BX_DROP_REPLAY_DUPLICATE, 7, BX_DROP_NO_PATH,
			  5);
	json_decref(drops);
}

static void
test_telemetry_stats(void **state)
{
	struct bx_stats *s = *state;
	json_t *stats;
	unsigned int i;

	bx_stats_add(bx_stats_lcore(s, 0), BX_STAT_EXCEPTION_RX_PACKETS, 11);
	bx_stats_add(bx_stats_lcore(s, WORKER_LCORE), BX_STAT_TX_PACKETS, 40);
	bx_stats_add(bx_stats_lcore(s, IDLE_LCORE), BX_STAT_TX_PACKETS, 2);
	bx_stats_rx_drop(bx_stats_lcore(s, 0), BX_DROP_HDR_BAD_TYPE, 9);
	assert_int_equal(bx_stats_telemetry_register(s), 0);

	stats = tel_query("/bauxite/stats");
	assert_true(json_is_object(stats));
	assert_int_equal(json_object_size(stats), BX_STAT__COUNT);
	for (i = 0; i < BX_STAT__COUNT; i++)
		assert_non_null(json_object_get(stats,
						bx_stats_counter_name(i)));
	expect_json_u64(stats, "exception_rx_packets", 11);
	expect_json_u64(stats, "tx_packets", 42);
	expect_json_u64(stats, "rx_dropped", 9);
	expect_json_u64(stats, "tx_dropped", 0);
	json_decref(stats);
}

static void
expect_u64_column(const json_t *dict, const char *name,
		  const uint64_t *want, size_t n)
{
	const json_t *col = json_object_get(dict, name);
	size_t i;

	if (!json_is_array(col))
		fail_msg("column %s missing", name);
	assert_int_equal(json_array_size(col), n);
	for (i = 0; i < n; i++)
		assert_int_equal((uint64_t)json_integer_value(
					 json_array_get(col, i)), want[i]);
}

static void
test_telemetry_lcores(void **state)
{
	/* Both EAL lcores (one idle), plus IDLE_LCORE because it counted;
	 * UNTOUCHED_LCORE has neither a role nor counts. */
	static const uint64_t ids[] = { 0, WORKER_LCORE, IDLE_LCORE };
	static const uint64_t rx_packets[] = { 100, 0, 0 };
	static const uint64_t rx_dropped[] = { 4, 0, 0 };
	static const uint64_t tx_packets[] = { 0, 0, 8 };
	static const uint64_t tx_dropped[] = { 0, 0, 1 };
	struct bx_stats *s = *state;
	json_t *lcores;

	bx_stats_add(bx_stats_lcore(s, 0), BX_STAT_RX_PACKETS, 100);
	bx_stats_rx_drop(bx_stats_lcore(s, 0), BX_DROP_NOT_UDP, 4);
	bx_stats_add(bx_stats_lcore(s, IDLE_LCORE), BX_STAT_TX_PACKETS, 8);
	bx_stats_tx_drop(bx_stats_lcore(s, IDLE_LCORE), BX_DROP_POLICY_DENY, 1);
	assert_true(all_zero(bx_stats_lcore(s, UNTOUCHED_LCORE)));
	assert_int_equal(rte_eal_lcore_role(UNTOUCHED_LCORE), ROLE_OFF);
	assert_int_equal(bx_stats_telemetry_register(s), 0);

	lcores = tel_query("/bauxite/lcores");
	assert_true(json_is_object(lcores));
	assert_int_equal(json_object_size(lcores), 5);
	expect_u64_column(lcores, "lcore", ids, RTE_DIM(ids));
	expect_u64_column(lcores, "rx_packets", rx_packets, RTE_DIM(ids));
	expect_u64_column(lcores, "rx_dropped", rx_dropped, RTE_DIM(ids));
	expect_u64_column(lcores, "tx_packets", tx_packets, RTE_DIM(ids));
	expect_u64_column(lcores, "tx_dropped", tx_dropped, RTE_DIM(ids));
	json_decref(lcores);
}

static void
test_telemetry_after_free(void **state)
{
	struct bx_stats *s = *state;
	struct bx_stats *gone = bx_stats_create(SOCKET_ID_ANY);
	json_t *v;

	assert_non_null(gone);
	bx_stats_add(bx_stats_lcore(gone, 0), BX_STAT_RX_PACKETS, 1);
	assert_int_equal(bx_stats_telemetry_register(gone), 0);
	bx_stats_free(gone);

	/* Withdrawn: every command answers null instead of reading freed
	 * memory. */
	v = tel_query("/bauxite/stats");
	assert_true(json_is_null(v));
	json_decref(v);
	v = tel_query("/bauxite/drops");
	assert_true(json_is_null(v));
	json_decref(v);
	v = tel_query("/bauxite/lcores");
	assert_true(json_is_null(v));
	json_decref(v);

	/* The slot is free again for a new instance. */
	bx_stats_add(bx_stats_lcore(s, 0), BX_STAT_RX_PACKETS, 77);
	assert_int_equal(bx_stats_telemetry_register(s), 0);
	v = tel_query("/bauxite/stats");
	expect_json_u64(v, "rx_packets", 77);
	json_decref(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_names),
		cmocka_unit_test_setup_teardown(test_lcore_blocks, stats_setup,
						stats_teardown),
		cmocka_unit_test_setup_teardown(test_sum_two_lcores,
						stats_setup, stats_teardown),
		cmocka_unit_test_setup_teardown(test_drop_helpers, stats_setup,
						stats_teardown),
		cmocka_unit_test_setup_teardown(test_json_export, stats_setup,
						stats_teardown),
		cmocka_unit_test_setup_teardown(test_telemetry_register,
						stats_setup, stats_teardown),
		cmocka_unit_test_setup_teardown(test_telemetry_command_list,
						stats_setup, stats_teardown),
		cmocka_unit_test_setup_teardown(test_telemetry_drops,
						stats_setup, stats_teardown),
		cmocka_unit_test_setup_teardown(test_telemetry_stats,
						stats_setup, stats_teardown),
		cmocka_unit_test_setup_teardown(test_telemetry_lcores,
						stats_setup, stats_teardown),
		cmocka_unit_test_setup_teardown(test_telemetry_after_free,
						stats_setup, stats_teardown),
	};

	return cmocka_run_group_tests_name("stats", tests, group_setup,
					   group_teardown);
}
