/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-lcore counters, their sums, and their export through DPDK telemetry
 * and JSON. Everything here except the inline helpers in bx_stats.h runs
 * off the fast path.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_telemetry.h>

#include "bx_stats.h"

struct bx_stats {
	struct bx_stats_lcore lcore[RTE_MAX_LCORE];
};

static const char *const counter_names[] = {
#define BX_STATS_NAME_(sym, name, help) name,
	BX_STATS_COUNTERS(BX_STATS_NAME_)
#undef BX_STATS_NAME_
};

static const char *const counter_helps[] = {
#define BX_STATS_HELP_(sym, name, help) help,
	BX_STATS_COUNTERS(BX_STATS_HELP_)
#undef BX_STATS_HELP_
};

/* The per-lcore columns of /bauxite/lcores: the overview an operator reads
 * first; the full picture is in the summed commands. */
static const enum bx_stat_id lcore_columns[] = {
	BX_STAT_RX_PACKETS,
	BX_STAT_RX_DROPPED,
	BX_STAT_TX_PACKETS,
	BX_STAT_TX_DROPPED,
};

/* Every reply must fit the 22.11 telemetry limits, whatever the lists grow
 * to: dicts of counters, of reasons (without "none"), of columns; and one
 * column entry per lcore. */
_Static_assert(BX_STAT__COUNT <= RTE_TEL_MAX_DICT_ENTRIES,
	       "/bauxite/stats fits one telemetry dict");
_Static_assert(BX_DROP__COUNT - 1 <= RTE_TEL_MAX_DICT_ENTRIES,
	       "/bauxite/drops fits one telemetry dict");
_Static_assert(RTE_DIM(lcore_columns) + 1 <= RTE_TEL_MAX_DICT_ENTRIES,
	       "/bauxite/lcores fits one telemetry dict");
_Static_assert(RTE_MAX_LCORE <= RTE_TEL_MAX_ARRAY_ENTRIES,
	       "a /bauxite/lcores column holds every lcore");

const char *
bx_stats_counter_name(enum bx_stat_id id)
{
	if ((unsigned)id >= BX_STAT__COUNT)
		return "unknown";
	return counter_names[id];
}

const char *
bx_stats_counter_help(enum bx_stat_id id)
{
	if ((unsigned)id >= BX_STAT__COUNT)
		return "";
	return counter_helps[id];
}

static inline uint64_t
load(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

struct bx_stats *
bx_stats_create(int socket_id)
{
	struct bx_stats *s;

	s = rte_zmalloc_socket("bx_stats", sizeof(*s), RTE_CACHE_LINE_SIZE,
			       socket_id);
	if (s == NULL)
		rte_errno = ENOMEM;
	return s;
}

struct bx_stats_lcore *
bx_stats_lcore(struct bx_stats *s, unsigned int lcore_id)
{
	if (lcore_id >= RTE_MAX_LCORE)
		return NULL;
	return &s->lcore[lcore_id];
}

void
bx_stats_sum(const struct bx_stats *s, struct bx_stats_lcore *out)
{
	unsigned int l, i;

	memset(out, 0, sizeof(*out));
	for (l = 0; l < RTE_MAX_LCORE; l++) {
		const struct bx_stats_lcore *lc = &s->lcore[l];

		for (i = 0; i < BX_STAT__COUNT; i++)
			out->counter[i] += load(&lc->counter[i]);
		for (i = 0; i < BX_DROP__COUNT; i++)
			out->drop[i] += load(&lc->drop[i]);
	}
}

/* A drop always bumps rx_dropped or tx_dropped too, so the named counters
 * alone tell whether a block was ever written. */
static bool
lcore_counted(const struct bx_stats_lcore *lc)
{
	unsigned int i;

	for (i = 0; i < BX_STAT__COUNT; i++)
		if (load(&lc->counter[i]) != 0)
			return true;
	return false;
}

/* jansson's integers are signed 64-bit; a counter would need centuries at
 * line rate to pass INT64_MAX, so the conversion never changes a value. */
static int
json_put_u64(json_t *obj, const char *key, uint64_t v)
{
	return json_object_set_new(obj, key, json_integer((json_int_t)v));
}

int
bx_stats_to_json(const struct bx_stats *s, json_t **out)
{
	struct bx_stats_lcore sum;
	json_t *root = NULL, *counters = NULL, *drops = NULL;
	unsigned int i;
	int ret = -ENOMEM;

	if (s == NULL || out == NULL)
		return -EINVAL;

	bx_stats_sum(s, &sum);
	root = json_object();
	counters = json_object();
	drops = json_object();
	if (root == NULL || counters == NULL || drops == NULL)
		goto out;
	/* json_object_set keeps our references, so one exit path frees all. */
	if (json_object_set(root, "counters", counters) != 0 ||
	    json_object_set(root, "drops", drops) != 0)
		goto out;
	for (i = 0; i < BX_STAT__COUNT; i++)
		if (json_put_u64(counters, counter_names[i], sum.counter[i]) != 0)
			goto out;
	for (i = BX_DROP_NONE + 1; i < BX_DROP__COUNT; i++)
		if (json_put_u64(drops, bx_drop_name(i), sum.drop[i]) != 0)
			goto out;

	*out = root;
	root = NULL;
	ret = 0;
out:
	json_decref(drops);
	json_decref(counters);
	json_decref(root);
	return ret;
}

/*
 * Telemetry. The handlers run on DPDK's telemetry thread and find the
 * exported instance through tel_stats; tel_lock keeps bx_stats_free from
 * freeing it under a query in flight. Workers never take the lock.
 */
static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bx_stats *tel_stats; /* guarded by tel_lock */

/* rte_tel_data_add_* return -errno, or +E2BIG when a name was truncated:
 * both are failures here. */
static int
tel_err(int ret)
{
	return ret > 0 ? -ret : ret;
}

/* Copies the summed counters of the exported instance; false if none. */
static bool
tel_sum(struct bx_stats_lcore *sum)
{
	bool found = false;

	pthread_mutex_lock(&tel_lock);
	if (tel_stats != NULL) {
		bx_stats_sum(tel_stats, sum);
		found = true;
	}
	pthread_mutex_unlock(&tel_lock);
	return found;
}

static int
tel_stats_cb(const char *cmd __rte_unused, const char *params __rte_unused,
	     struct rte_tel_data *d)
{
	struct bx_stats_lcore sum;
	unsigned int i;
	int ret;

	if (!tel_sum(&sum))
		return -ENODEV;
	ret = rte_tel_data_start_dict(d);
	for (i = 0; ret == 0 && i < BX_STAT__COUNT; i++)
		ret = rte_tel_data_add_dict_u64(d, counter_names[i],
						sum.counter[i]);
	return tel_err(ret);
}

static int
tel_drops_cb(const char *cmd __rte_unused, const char *params __rte_unused,
	     struct rte_tel_data *d)
{
	struct bx_stats_lcore sum;
	unsigned int i;
	int ret;

	if (!tel_sum(&sum))
		return -ENODEV;
	ret = rte_tel_data_start_dict(d);
	for (i = BX_DROP_NONE + 1; ret == 0 && i < BX_DROP__COUNT; i++)
		ret = rte_tel_data_add_dict_u64(d, bx_drop_name(i),
						sum.drop[i]);
	return tel_err(ret);
}

/* Fills the columns of /bauxite/lcores; caller holds tel_lock. */
static int
tel_fill_lcores(const struct bx_stats *s, struct rte_tel_data *ids,
		struct rte_tel_data *cols[])
{
	unsigned int l, c;
	int ret;

	ret = rte_tel_data_start_array(ids, RTE_TEL_INT_VAL);
	for (c = 0; ret == 0 && c < RTE_DIM(lcore_columns); c++)
		ret = rte_tel_data_start_array(cols[c], RTE_TEL_U64_VAL);

	for (l = 0; ret == 0 && l < RTE_MAX_LCORE; l++) {
		const struct bx_stats_lcore *lc = &s->lcore[l];

		if (rte_eal_lcore_role(l) == ROLE_OFF && !lcore_counted(lc))
			continue;
		ret = rte_tel_data_add_array_int(ids, (int)l);
		for (c = 0; ret == 0 && c < RTE_DIM(lcore_columns); c++)
			ret = rte_tel_data_add_array_u64(cols[c],
				load(&lc->counter[lcore_columns[c]]));
	}
	return tel_err(ret);
}

/*
 * A container handed to rte_tel_data_add_dict_container belongs to the dict
 * (keep = 0) once stored, which 22.11 reports as 0 or +E2BIG (name
 * truncated); on -errno it was not stored and is still ours.
 */
static int
tel_add_column(struct rte_tel_data *d, const char *name,
	       struct rte_tel_data **col)
{
	int ret = rte_tel_data_add_dict_container(d, name, *col, 0);

	if (ret >= 0)
		*col = NULL;
	return tel_err(ret);
}

static int
tel_lcores_cb(const char *cmd __rte_unused, const char *params __rte_unused,
	      struct rte_tel_data *d)
{
	struct rte_tel_data *ids;
	struct rte_tel_data *cols[RTE_DIM(lcore_columns)] = { NULL };
	unsigned int c;
	int ret = -ENOMEM;

	ids = rte_tel_data_alloc();
	if (ids == NULL)
		goto out;
	for (c = 0; c < RTE_DIM(lcore_columns); c++) {
		cols[c] = rte_tel_data_alloc();
		if (cols[c] == NULL)
			goto out;
	}

	pthread_mutex_lock(&tel_lock);
	ret = tel_stats == NULL ? -ENODEV
				: tel_fill_lcores(tel_stats, ids, cols);
	pthread_mutex_unlock(&tel_lock);
	if (ret != 0)
		goto out;

	ret = tel_err(rte_tel_data_start_dict(d));
	if (ret == 0)
		ret = tel_add_column(d, "lcore", &ids);
	for (c = 0; ret == 0 && c < RTE_DIM(lcore_columns); c++)
		ret = tel_add_column(d, counter_names[lcore_columns[c]],
				     &cols[c]);
out:
	rte_tel_data_free(ids);
	for (c = 0; c < RTE_DIM(lcore_columns); c++)
		rte_tel_data_free(cols[c]);
	return ret;
}

static const struct {
	const char *cmd;
	telemetry_cb fn;
	const char *help;
} tel_cmds[] = {
	{ "/bauxite/stats", tel_stats_cb,
	  "Bauxite counters, summed over lcores. Takes no parameters." },
	{ "/bauxite/drops", tel_drops_cb,
	  "Bauxite drops per reason, summed over lcores. Takes no parameters." },
	{ "/bauxite/lcores", tel_lcores_cb,
	  "Bauxite per-lcore rx/tx packets and drops, one column entry per "
	  "lcore id in \"lcore\". Takes no parameters." },
};

/* 22.11 keeps every registration (duplicates included) for the process
 * lifetime: register each command once, even across failed attempts. */
static bool tel_cmd_registered[RTE_DIM(tel_cmds)]; /* guarded by tel_lock */

int
bx_stats_telemetry_register(struct bx_stats *s)
{
	unsigned int i;
	int ret = 0;

	if (s == NULL)
		return -EINVAL;

	pthread_mutex_lock(&tel_lock);
	if (tel_stats != NULL) {
		ret = -EBUSY;
		goto out;
	}
	for (i = 0; i < RTE_DIM(tel_cmds); i++) {
		if (tel_cmd_registered[i])
			continue;
		ret = rte_telemetry_register_cmd(tel_cmds[i].cmd, tel_cmds[i].fn,
						 tel_cmds[i].help);
		if (ret != 0)
			goto out;
		tel_cmd_registered[i] = true;
	}
	tel_stats = s;
out:
	pthread_mutex_unlock(&tel_lock);
	return ret;
}

void
bx_stats_free(struct bx_stats *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&tel_lock);
	if (tel_stats == s)
		tel_stats = NULL;
	pthread_mutex_unlock(&tel_lock);
	rte_free(s);
}
