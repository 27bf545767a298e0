/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Peer registry: copy-on-write tables published by pointer swap, one
 * in-place rte_lpm edited in an RCU-safe order. See bx_peer.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_malloc.h>

#include "bx_peer.h"

/* Default budgets per peer when the configuration leaves them at 0. */
#define BX_PEER_DEFAULT_PREFIXES_PER_PEER 4u
#define BX_PEER_DEFAULT_LONG_PER_PEER 2u
/* rte_hash refuses tables smaller than one bucket. */
#define BX_PEER_HASH_MIN_ENTRIES 8u

/* Key of the control-side rule map: a prefix in host order. */
struct rule_key {
	uint32_t addr;
	uint32_t len;
};

struct bx_peer_registry {
	/* Published table; readers load it with acquire. */
	struct bx_peer_table *cur;
	/* Copy being changed by staged operations; NULL when nothing staged. */
	struct bx_peer_table *draft;
	struct rte_rcu_qsbr *qsbr;
	struct rte_lpm *lpm;
	/* Control-side maps, always matching the staged state. */
	struct rte_hash *ids;   /* id (zero-padded) -> index */
	struct rte_hash *rules; /* struct rule_key -> index */
	/* Indices ready for add (a stack). */
	uint32_t *free_idx;
	uint32_t n_free;
	/* Indices freed by staged removals: free after the commit's grace period. */
	uint32_t *released;
	uint32_t n_released;
	/* Indices whose record the draft changed, each listed once. */
	uint32_t *dirty;
	uint32_t n_dirty;
	uint8_t *is_dirty;
	uint32_t max_peers;
	uint32_t max_rules;
	uint32_t max_long;
	uint32_t n_rules; /* staged */
	uint32_t n_long;  /* staged */
	size_t table_size;
	int socket_id;
};

/* Names of rte_lpm / rte_hash objects must be unique in the process. */
static uint32_t bx_peer_name_seq;

bool
bx_peer_id_valid(const char *id)
{
	size_t i;

	if (id == NULL || id[0] == '\0')
		return false;
	for (i = 0; i < BX_PEER_ID_MAX; i++) {
		unsigned char c = (unsigned char)id[i];

		if (c == '\0')
			return true;
		if (c < 0x21 || c > 0x7e)
			return false;
	}
	return false;
}

int
bx_peer_id_cmp(const char *a, const char *b)
{
	return strncmp(a, b, BX_PEER_ID_MAX);
}

/* ---- session hash (inside a table) ------------------------------------ */

static inline uint32_t
sess_home(const struct bx_peer_table *t, uint32_t rx_index)
{
	return (rx_index * BX_PEER_SESS_HASH_MUL) >> t->sess_shift;
}

static inline uint32_t
sess_ref(uint32_t index, unsigned int slot)
{
	return index * BX_PEER_MAX_SESSIONS + slot + 1;
}

/* Position of @rx_index in @t's session hash, or UINT32_MAX. */
static uint32_t
sess_find(const struct bx_peer_table *t, uint32_t rx_index)
{
	uint32_t i;

	for (i = sess_home(t, rx_index);; i = (i + 1) & t->sess_mask) {
		if (t->sess[i].ref == 0)
			return UINT32_MAX;
		if (t->sess[i].rx_index == rx_index)
			return i;
	}
}

static void
sess_insert(struct bx_peer_table *t, uint32_t rx_index, uint32_t ref)
{
	uint32_t i = sess_home(t, rx_index);

	while (t->sess[i].ref != 0)
		i = (i + 1) & t->sess_mask;
	t->sess[i].rx_index = rx_index;
	t->sess[i].ref = ref;
}

/*
 * Backward-shift deletion keeps probe chains unbroken without tombstones.
 * Safe only on a draft: readers never see a table while it changes.
 */
static void
sess_delete(struct bx_peer_table *t, uint32_t rx_index)
{
	uint32_t hole = sess_find(t, rx_index);
	uint32_t j = hole;

	BX_ASSERT(hole != UINT32_MAX);
	for (;;) {
		uint32_t home;

		j = (j + 1) & t->sess_mask;
		if (t->sess[j].ref == 0)
			break;
		home = sess_home(t, t->sess[j].rx_index);
		/* The entry may fill the hole iff its home is not in (hole, j]. */
		if (((j - home) & t->sess_mask) >= ((j - hole) & t->sess_mask)) {
			t->sess[hole] = t->sess[j];
			hole = j;
		}
	}
	t->sess[hole].rx_index = 0;
	t->sess[hole].ref = 0;
}

/* ---- tables ------------------------------------------------------------ */

/* A table is one allocation: header, peer array, session hash. */
static void
table_link(struct bx_peer_table *t)
{
	t->peers = (const struct bx_peer **)(t + 1);
	t->sess = (struct bx_peer_sess_ent *)(t->peers + t->max_peers);
}

static void
table_free_records(struct bx_peer_table *t)
{
	uint32_t i;

	for (i = 0; i < t->max_peers; i++)
		rte_free((void *)(uintptr_t)t->peers[i]);
}

/* The staged state: the draft if anything is staged, else the current table. */
static const struct bx_peer_table *
staged(const struct bx_peer_registry *reg)
{
	return reg->draft != NULL ? reg->draft : reg->cur;
}

/* The draft, copied from the current table on the first staged change. */
static struct bx_peer_table *
draft_get(struct bx_peer_registry *reg)
{
	struct bx_peer_table *t;

	if (reg->draft != NULL)
		return reg->draft;
	t = rte_malloc_socket("bx_peer_table", reg->table_size, BX_CACHE_LINE,
			      reg->socket_id);
	if (t == NULL)
		return NULL;
	memcpy(t, reg->cur, reg->table_size);
	table_link(t);
	reg->draft = t;
	return t;
}

/*
 * Puts @rec (may be NULL) at @index of the draft. A record the draft itself
 * created was never published and goes at once; a published one is freed
 * by the commit, after its grace period.
 */
static void
draft_set(struct bx_peer_registry *reg, uint32_t index,
	  const struct bx_peer *rec)
{
	struct bx_peer_table *t = reg->draft;
	const struct bx_peer *prev = t->peers[index];

	if (prev != NULL && prev != reg->cur->peers[index])
		rte_free((void *)(uintptr_t)prev);
	t->peers[index] = rec;
	if (!reg->is_dirty[index]) {
		reg->is_dirty[index] = 1;
		reg->dirty[reg->n_dirty++] = index;
	}
}

static struct bx_peer *
record_alloc(const struct bx_peer_registry *reg)
{
	return rte_malloc_socket("bx_peer", sizeof(struct bx_peer),
				 BX_CACHE_LINE, reg->socket_id);
}

/* ---- rules ------------------------------------------------------------- */

static inline uint32_t
prefix_mask(uint8_t len)
{
	return len == 0 ? 0 : UINT32_MAX << (32 - len);
}

static struct rule_key
key_of(const struct bx_peer_prefix *p)
{
	struct rule_key k = {
		.addr = rte_be_to_cpu_32(p->addr),
		.len = p->len,
	};
	return k;
}

static bool
has_rule(const struct bx_peer *rec, const struct bx_peer_prefix *p)
{
	unsigned int i;

	for (i = 0; i < rec->n_allowed; i++)
		if (rec->allowed[i].addr == p->addr && rec->allowed[i].len == p->len)
			return true;
	return false;
}

static uint32_t
count_long(const struct bx_peer *rec)
{
	uint32_t n = 0;
	unsigned int i;

	for (i = 0; i < rec->n_allowed; i++)
		n += rec->allowed[i].len > BX_PEER_TBL8_DEPTH;
	return n;
}

/* Staged owner of prefix @p, or UINT32_MAX. */
static uint32_t
rule_owner(const struct bx_peer_registry *reg, const struct bx_peer_prefix *p)
{
	struct rule_key k = key_of(p);
	void *data;

	if (rte_hash_lookup_data(reg->rules, &k, &data) < 0)
		return UINT32_MAX;
	return (uint32_t)(uintptr_t)data;
}

/*
 * Moves the staged rule map from @prev's rules to @next's (either may be
 * NULL) for the peer at @index. Cannot fail: the map holds max_rules keys
 * with a guaranteed-capacity extendable bucket table and callers checked
 * the budget.
 */
static void
rules_stage(struct bx_peer_registry *reg, uint32_t index,
	    const struct bx_peer *prev, const struct bx_peer *next)
{
	unsigned int i;
	int rc;

	for (i = 0; prev != NULL && i < prev->n_allowed; i++) {
		struct rule_key k = key_of(&prev->allowed[i]);

		if (next != NULL && has_rule(next, &prev->allowed[i]))
			continue;
		rc = rte_hash_del_key(reg->rules, &k);
		BX_ASSERT(rc >= 0);
	}
	for (i = 0; next != NULL && i < next->n_allowed; i++) {
		struct rule_key k = key_of(&next->allowed[i]);

		if (prev != NULL && has_rule(prev, &next->allowed[i]))
			continue;
		rc = rte_hash_add_key_data(reg->rules, &k,
					   (void *)(uintptr_t)index);
		BX_ASSERT(rc == 0);
	}
	reg->n_rules = reg->n_rules - (prev ? prev->n_allowed : 0) +
		       (next ? next->n_allowed : 0);
	reg->n_long = reg->n_long - (prev ? count_long(prev) : 0) +
		      (next ? count_long(next) : 0);
}

/*
 * Checks that @next (to live at @index; UINT32_MAX for a new peer) fits:
 * no rule owned by another peer, budgets not exceeded once @prev's rules
 * are gone.
 */
static int
rules_check(const struct bx_peer_registry *reg, uint32_t index,
	    const struct bx_peer *prev, const struct bx_peer *next)
{
	uint32_t n_rules = reg->n_rules - (prev ? prev->n_allowed : 0);
	uint32_t n_long = reg->n_long - (prev ? count_long(prev) : 0);
	unsigned int i;

	for (i = 0; i < next->n_allowed; i++) {
		uint32_t owner = rule_owner(reg, &next->allowed[i]);

		if (owner != UINT32_MAX && owner != index)
			return -EEXIST;
	}
	if (n_rules + next->n_allowed > reg->max_rules ||
	    n_long + count_long(next) > reg->max_long)
		return -ENOSPC;
	return 0;
}

/* ---- ids ---------------------------------------------------------------- */

static void
id_key(char key[BX_PEER_ID_MAX], const char *id)
{
	memset(key, 0, BX_PEER_ID_MAX);
	memcpy(key, id, strnlen(id, BX_PEER_ID_MAX - 1));
}

/* Staged index of @id, or UINT32_MAX. */
static uint32_t
id_index(const struct bx_peer_registry *reg, const char *id)
{
	char key[BX_PEER_ID_MAX];
	void *data;

	id_key(key, id);
	if (rte_hash_lookup_data(reg->ids, key, &data) < 0)
		return UINT32_MAX;
	return (uint32_t)(uintptr_t)data;
}

/* ---- peer records ------------------------------------------------------- */

static bool
prefix_valid(const struct bx_peer_prefix *p)
{
	return p->len >= 1 && p->len <= 32 &&
	       (rte_be_to_cpu_32(p->addr) & ~prefix_mask(p->len)) == 0;
}

/* Builds the record for @conf in @rec (index and sessions left zero). */
static int
record_build(struct bx_peer *rec, const struct bx_peer_conf *conf)
{
	struct bx_peer_prefix vip;
	unsigned int i;

	if (conf == NULL || !bx_peer_id_valid(conf->id) || conf->vip == 0 ||
	    conf->n_prefixes > BX_PEER_MAX_PREFIXES ||
	    (conf->n_prefixes > 0 && conf->prefixes == NULL) ||
	    conf->n_paths > BX_PEER_MAX_PATHS)
		return -EINVAL;

	memset(rec, 0, sizeof(*rec));
	memcpy(rec->id, conf->id, strnlen(conf->id, BX_PEER_ID_MAX - 1));
	rec->vip = conf->vip;
	rec->endpoint_ip = conf->endpoint_ip;
	rec->endpoint_port = conf->endpoint_port;
	rec->relay_handle = conf->relay_handle;
	if (conf->n_paths == 0) {
		rec->n_paths = 1;
		rec->paths[0].ip = conf->endpoint_ip;
		rec->paths[0].port = conf->endpoint_port;
	} else {
		rec->n_paths = (uint8_t)conf->n_paths;
		memcpy(rec->paths, conf->paths, conf->n_paths * sizeof(conf->paths[0]));
	}
	memcpy(rec->lane_mode, conf->lane_mode, sizeof(rec->lane_mode));
	vip.addr = conf->vip;
	vip.len = 32;
	rec->allowed[0] = vip;
	rec->n_allowed = 1;
	for (i = 0; i < conf->n_prefixes; i++) {
		const struct bx_peer_prefix *p = &conf->prefixes[i];
		unsigned int j;

		if (!prefix_valid(p))
			return -EINVAL;
		if (p->addr == vip.addr && p->len == vip.len)
			continue; /* the virtual IP is always allowed */
		for (j = 1; j < rec->n_allowed; j++)
			if (rec->allowed[j].addr == p->addr &&
			    rec->allowed[j].len == p->len)
				return -EINVAL;
		rec->allowed[rec->n_allowed].addr = p->addr;
		rec->allowed[rec->n_allowed].len = p->len;
		rec->n_allowed++;
	}
	return 0;
}

/* ---- registry ----------------------------------------------------------- */

static struct rte_hash *
hash_create(const char *what, uint32_t seq, uint32_t entries, uint32_t key_len,
	    int socket_id)
{
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters p = {
		.name = name,
		.entries = RTE_MAX(entries, BX_PEER_HASH_MIN_ENTRIES),
		.key_len = key_len,
		.hash_func = rte_jhash,
		.socket_id = socket_id,
		/* Guarantees room for .entries keys whatever their hashes. */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};

	snprintf(name, sizeof(name), "bxp%s%u", what, seq);
	return rte_hash_create(&p);
}

struct bx_peer_registry *
bx_peer_registry_create(const struct bx_peer_registry_conf *conf)
{
	struct bx_peer_registry *reg = NULL;
	struct rte_lpm_rcu_config rcu = { 0 };
	struct rte_lpm_config lc = { 0 };
	struct bx_peer_table *t;
	char name[RTE_LPM_NAMESIZE];
	uint32_t seq, sess_cap, i;
	int err;

	if (conf == NULL || conf->qsbr == NULL || conf->max_peers == 0 ||
	    conf->max_peers > BX_PEER_MAX_PEERS) {
		rte_errno = EINVAL;
		return NULL;
	}
	reg = rte_zmalloc_socket("bx_peer_registry", sizeof(*reg), BX_CACHE_LINE,
				 conf->socket_id);
	if (reg == NULL) {
		err = ENOMEM;
		goto fail;
	}
	reg->qsbr = conf->qsbr;
	reg->socket_id = conf->socket_id;
	reg->max_peers = conf->max_peers;
	reg->max_rules = conf->max_prefixes != 0 ?
		conf->max_prefixes :
		conf->max_peers * BX_PEER_DEFAULT_PREFIXES_PER_PEER;
	reg->max_long = conf->max_long_prefixes != 0 ?
		conf->max_long_prefixes :
		conf->max_peers * BX_PEER_DEFAULT_LONG_PER_PEER;

	/* At most max_peers * MAX_SESSIONS entries: keep the load <= 1/2. */
	sess_cap = rte_align32pow2(2 * conf->max_peers * BX_PEER_MAX_SESSIONS);
	reg->table_size = sizeof(*t) +
		conf->max_peers * sizeof(t->peers[0]) +
		sess_cap * sizeof(t->sess[0]);

	reg->free_idx = rte_malloc_socket("bx_peer_idx",
		3 * conf->max_peers * sizeof(uint32_t), 0, conf->socket_id);
	reg->is_dirty = rte_zmalloc_socket("bx_peer_dirty", conf->max_peers, 0,
					   conf->socket_id);
	t = rte_zmalloc_socket("bx_peer_table", reg->table_size, BX_CACHE_LINE,
			       conf->socket_id);
	reg->cur = t;
	if (reg->free_idx == NULL || reg->is_dirty == NULL || t == NULL) {
		err = ENOMEM;
		goto fail;
	}
	reg->released = reg->free_idx + conf->max_peers;
	reg->dirty = reg->released + conf->max_peers;
	/* Hand out low indices first: per-index arrays stay dense. */
	for (i = 0; i < conf->max_peers; i++)
		reg->free_idx[i] = conf->max_peers - 1 - i;
	reg->n_free = conf->max_peers;

	seq = __atomic_fetch_add(&bx_peer_name_seq, 1, __ATOMIC_RELAXED);
	snprintf(name, sizeof(name), "bxp%u", seq);
	lc.max_rules = reg->max_rules;
	lc.number_tbl8s = reg->max_long;
	reg->lpm = rte_lpm_create(name, conf->socket_id, &lc);
	if (reg->lpm == NULL) {
		err = rte_errno;
		goto fail;
	}
	/* Freed tbl8 groups are reused only after readers left them. */
	rcu.v = conf->qsbr;
	rcu.mode = RTE_LPM_QSBR_MODE_DQ;
	if (rte_lpm_rcu_qsbr_add(reg->lpm, &rcu) != 0) {
		err = rte_errno;
		goto fail;
	}
	reg->ids = hash_create("i", seq, conf->max_peers, BX_PEER_ID_MAX,
			       conf->socket_id);
	reg->rules = hash_create("r", seq, reg->max_rules,
				 sizeof(struct rule_key), conf->socket_id);
	if (reg->ids == NULL || reg->rules == NULL) {
		err = rte_errno;
		goto fail;
	}

	t->lpm = reg->lpm;
	t->max_peers = conf->max_peers;
	t->sess_mask = sess_cap - 1;
	t->sess_shift = 32 - rte_log2_u32(sess_cap);
	table_link(t);
	return reg;

fail:
	bx_peer_registry_free(reg);
	rte_errno = err;
	return NULL;
}

void
bx_peer_registry_free(struct bx_peer_registry *reg)
{
	uint32_t i;

	if (reg == NULL)
		return;
	if (reg->draft != NULL) {
		for (i = 0; i < reg->n_dirty; i++) {
			uint32_t idx = reg->dirty[i];

			if (reg->draft->peers[idx] != reg->cur->peers[idx])
				rte_free((void *)(uintptr_t)reg->draft->peers[idx]);
		}
		rte_free(reg->draft);
	}
	if (reg->cur != NULL && reg->cur->peers != NULL)
		table_free_records(reg->cur);
	rte_free(reg->cur);
	rte_hash_free(reg->rules);
	rte_hash_free(reg->ids);
	rte_lpm_free(reg->lpm);
	rte_free(reg->is_dirty);
	rte_free(reg->free_idx);
	rte_free(reg);
}

/* ---- staged changes ----------------------------------------------------- */

int
bx_peer_add(struct bx_peer_registry *reg, const struct bx_peer_conf *conf,
	    uint32_t *idx_out)
{
	char key[BX_PEER_ID_MAX];
	struct bx_peer tmp, *rec;
	uint32_t idx;
	int rc;

	rc = record_build(&tmp, conf);
	if (rc != 0)
		return rc;
	if (id_index(reg, tmp.id) != UINT32_MAX)
		return -EEXIST;
	rc = rules_check(reg, UINT32_MAX, NULL, &tmp);
	if (rc != 0)
		return rc;
	if (reg->n_free == 0)
		return -ENOSPC;
	if (draft_get(reg) == NULL)
		return -ENOMEM;
	rec = record_alloc(reg);
	if (rec == NULL)
		return -ENOMEM;

	idx = reg->free_idx[--reg->n_free];
	tmp.index = idx;
	*rec = tmp;
	id_key(key, rec->id);
	rc = rte_hash_add_key_data(reg->ids, key, (void *)(uintptr_t)idx);
	BX_ASSERT(rc == 0); /* room for max_peers ids, guaranteed */
	rules_stage(reg, idx, NULL, rec);
	draft_set(reg, idx, rec);
	reg->draft->n_peers++;
	if (idx_out != NULL)
		*idx_out = idx;
	return 0;
}

int
bx_peer_replace(struct bx_peer_registry *reg, const struct bx_peer_conf *conf)
{
	const struct bx_peer *prev;
	struct bx_peer tmp, *rec;
	uint32_t idx;
	int rc;

	rc = record_build(&tmp, conf);
	if (rc != 0)
		return rc;
	idx = id_index(reg, tmp.id);
	if (idx == UINT32_MAX)
		return -ENOENT;
	prev = staged(reg)->peers[idx];
	rc = rules_check(reg, idx, prev, &tmp);
	if (rc != 0)
		return rc;
	if (draft_get(reg) == NULL)
		return -ENOMEM;
	rec = record_alloc(reg);
	if (rec == NULL)
		return -ENOMEM;

	tmp.index = idx;
	memcpy(tmp.sessions, prev->sessions, sizeof(tmp.sessions));
	*rec = tmp;
	rules_stage(reg, idx, prev, rec);
	draft_set(reg, idx, rec);
	return 0;
}

int
bx_peer_remove(struct bx_peer_registry *reg, const char *id)
{
	char key[BX_PEER_ID_MAX];
	const struct bx_peer *prev;
	struct bx_peer_table *t;
	unsigned int s;
	uint32_t idx;
	int rc;

	if (!bx_peer_id_valid(id))
		return -EINVAL;
	idx = id_index(reg, id);
	if (idx == UINT32_MAX)
		return -ENOENT;
	t = draft_get(reg);
	if (t == NULL)
		return -ENOMEM;

	prev = t->peers[idx];
	for (s = 0; s < BX_PEER_MAX_SESSIONS; s++)
		if (prev->sessions[s].ctx != NULL)
			sess_delete(t, prev->sessions[s].rx_index);
	rules_stage(reg, idx, prev, NULL);
	id_key(key, id);
	rc = rte_hash_del_key(reg->ids, key);
	BX_ASSERT(rc >= 0);
	draft_set(reg, idx, NULL);
	t->n_peers--;
	reg->released[reg->n_released++] = idx;
	return 0;
}

int
bx_peer_set_session(struct bx_peer_registry *reg, const char *id,
		    unsigned int slot, uint32_t rx_index, void *ctx)
{
	struct bx_peer_table *t;
	struct bx_peer *rec;
	uint32_t idx, pos;

	if (slot >= BX_PEER_MAX_SESSIONS || ctx == NULL || !bx_peer_id_valid(id))
		return -EINVAL;
	idx = id_index(reg, id);
	if (idx == UINT32_MAX)
		return -ENOENT;
	pos = sess_find(staged(reg), rx_index);
	if (pos != UINT32_MAX && staged(reg)->sess[pos].ref != sess_ref(idx, slot))
		return -EEXIST;
	t = draft_get(reg);
	if (t == NULL)
		return -ENOMEM;
	rec = record_alloc(reg);
	if (rec == NULL)
		return -ENOMEM;

	*rec = *t->peers[idx];
	if (pos == UINT32_MAX) {
		if (rec->sessions[slot].ctx != NULL)
			sess_delete(t, rec->sessions[slot].rx_index);
		sess_insert(t, rx_index, sess_ref(idx, slot));
	}
	rec->sessions[slot].ctx = ctx;
	rec->sessions[slot].rx_index = rx_index;
	draft_set(reg, idx, rec);
	return 0;
}

int
bx_peer_clear_session(struct bx_peer_registry *reg, const char *id,
		      unsigned int slot)
{
	struct bx_peer_table *t;
	struct bx_peer *rec;
	uint32_t idx;

	if (slot >= BX_PEER_MAX_SESSIONS || !bx_peer_id_valid(id))
		return -EINVAL;
	idx = id_index(reg, id);
	if (idx == UINT32_MAX)
		return -ENOENT;
	if (staged(reg)->peers[idx]->sessions[slot].ctx == NULL)
		return 0;
	t = draft_get(reg);
	if (t == NULL)
		return -ENOMEM;
	rec = record_alloc(reg);
	if (rec == NULL)
		return -ENOMEM;

	*rec = *t->peers[idx];
	sess_delete(t, rec->sessions[slot].rx_index);
	rec->sessions[slot].ctx = NULL;
	rec->sessions[slot].rx_index = 0;
	draft_set(reg, idx, rec);
	return 0;
}

/* ---- publication -------------------------------------------------------- */

/* Step 1 of a commit: delete the rules @prev had and @next lacks. */
static void
lpm_drop(struct rte_lpm *lpm, const struct bx_peer *prev,
	 const struct bx_peer *next)
{
	unsigned int i;
	int rc;

	for (i = 0; prev != NULL && i < prev->n_allowed; i++) {
		const struct bx_peer_prefix *p = &prev->allowed[i];

		if (next != NULL && has_rule(next, p))
			continue;
		rc = rte_lpm_delete(lpm, rte_be_to_cpu_32(p->addr), p->len);
		BX_ASSERT(rc == 0);
	}
}

/*
 * Step 4: add the rules @next gained. Cannot fail: rules_check kept the
 * rule count within max_rules and the long rules (each needing at most one
 * tbl8 group) within the tbl8 groups; groups freed in step 1 come back
 * from the defer queue since step 3 waited for their grace period.
 */
static void
lpm_gain(struct rte_lpm *lpm, uint32_t index, const struct bx_peer *prev,
	 const struct bx_peer *next)
{
	unsigned int i;
	int rc;

	for (i = 0; next != NULL && i < next->n_allowed; i++) {
		const struct bx_peer_prefix *p = &next->allowed[i];

		if (prev != NULL && has_rule(prev, p))
			continue;
		rc = rte_lpm_add(lpm, rte_be_to_cpu_32(p->addr), p->len, index);
		BX_ASSERT(rc == 0);
	}
}

void
bx_peer_commit(struct bx_peer_registry *reg)
{
	struct bx_peer_table *old = reg->cur, *next = reg->draft;
	uint32_t i;

	if (next == NULL)
		return;
	next->version = old->version + 1;

	for (i = 0; i < reg->n_dirty; i++) {
		uint32_t idx = reg->dirty[i];

		lpm_drop(reg->lpm, old->peers[idx], next->peers[idx]);
	}
	__atomic_store_n(&reg->cur, next, __ATOMIC_RELEASE);
	reg->draft = NULL;
	rte_rcu_qsbr_synchronize(reg->qsbr, RTE_QSBR_THRID_INVALID);

	for (i = 0; i < reg->n_dirty; i++) {
		uint32_t idx = reg->dirty[i];
		const struct bx_peer *prev = old->peers[idx];

		lpm_gain(reg->lpm, idx, prev, next->peers[idx]);
		if (prev != next->peers[idx])
			rte_free((void *)(uintptr_t)prev);
		reg->is_dirty[idx] = 0;
	}
	reg->n_dirty = 0;
	for (i = 0; i < reg->n_released; i++)
		reg->free_idx[reg->n_free++] = reg->released[i];
	reg->n_released = 0;
	rte_free(old);
}

const struct bx_peer *
bx_peer_find(const struct bx_peer_registry *reg, const char *id)
{
	uint32_t idx;

	if (!bx_peer_id_valid(id))
		return NULL;
	idx = id_index(reg, id);
	return idx == UINT32_MAX ? NULL : staged(reg)->peers[idx];
}

const struct bx_peer_table *
bx_peer_table_get(const struct bx_peer_registry *reg)
{
	return __atomic_load_n(&reg->cur, __ATOMIC_ACQUIRE);
}
