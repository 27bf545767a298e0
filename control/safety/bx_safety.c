/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The safety monitor's state machine and the jamming threat levels.
 *
 * What a path must remember from one tick to the next (its warning, its
 * last RTT) lives in an open-addressing table keyed by (peer, path id).
 * Each tick copies the entries of the paths it is given from the previous
 * table into a fresh one and then swaps the two, so a path the caller no
 * longer lists is forgotten without tombstones, and a tick costs a probe
 * or two per path. Both tables and the per-tick scratch are allocated
 * once, in bx_safety_create.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bx_common.h"
#include "bx_safety.h"

/* Bytes of a peer id that count: what fits in an event. */
#define PEER_CMP (BX_SAFETY_PEER_MAX - 1)
/* FNV-1a, 32 bits. */
#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u
/* "18446744073709551.615" and its NUL. */
#define MS_TEXT_MAX 24

struct path_ent {
	char peer[BX_SAFETY_PEER_MAX];
	uint32_t hash;
	uint8_t path_id;
	bool used;
	bool warned;  /* DegradationWarning reported and not cleared */
	bool has_rtt; /* reported now or remembered */
	bool has_loss;
	uint64_t rtt_us;
	uint32_t loss_permille;
};

struct path_table {
	struct path_ent *slots; /* mask + 1, linear probing */
	uint32_t *used;         /* indices of the used slots, to clear them */
	uint32_t n_used;
};

struct bx_safety {
	struct bx_safety_conf conf;
	enum bx_safety_state state;
	uint64_t since_ms;   /* entered the state */
	bool healthy;        /* PROBATION: healthy since healthy_ms */
	uint64_t healthy_ms;
	bool ticked;
	uint64_t last_ms;    /* the previous tick */
	uint32_t mask;
	struct path_table tables[2];
	unsigned int cur;    /* tables[cur] holds the last tick's paths */
	uint32_t *tick_slot; /* per input path: its slot in tables[cur] */
	struct bx_safety_counters counters;
};

void bx_safety_conf_default(struct bx_safety_conf *conf)
{
	*conf = (struct bx_safety_conf){
		.warn_rtt_us = BX_SAFETY_WARN_RTT_US,
		.sever_rtt_us = BX_SAFETY_SEVER_RTT_US,
		.sever_loss_permille = BX_SAFETY_SEVER_LOSS_PERMILLE,
		.healthy_loss_permille = BX_SAFETY_HEALTHY_LOSS_PERMILLE,
		.hold_down_ms = BX_SAFETY_HOLD_DOWN_MS,
		.recovery_ms = BX_SAFETY_RECOVERY_MS,
		.max_paths = BX_SAFETY_MAX_PATHS_DEFAULT,
	};
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int bx_safety_conf_check(const struct bx_safety_conf *c, char *err,
			 size_t errlen)
{
	if (c == NULL) {
		set_err(err, errlen, "no safety configuration");
		return -EINVAL;
	}
	if (c->sever_rtt_us < 2 || c->sever_rtt_us > BX_SAFETY_RTT_LIMIT_US) {
		set_err(err, errlen, "sever_rtt_us %" PRIu64 " must be 2..%u",
			c->sever_rtt_us, BX_SAFETY_RTT_LIMIT_US);
		return -EINVAL;
	}
	if (c->warn_rtt_us == 0 || c->warn_rtt_us >= c->sever_rtt_us) {
		set_err(err, errlen,
			"warn_rtt_us %" PRIu64 " must be above 0 and below sever_rtt_us %" PRIu64,
			c->warn_rtt_us, c->sever_rtt_us);
		return -EINVAL;
	}
	if (c->sever_loss_permille == 0 ||
	    c->sever_loss_permille > BX_SAFETY_PERMILLE) {
		set_err(err, errlen, "sever_loss_permille %" PRIu32 " must be 1..%u",
			c->sever_loss_permille, BX_SAFETY_PERMILLE);
		return -EINVAL;
	}
	if (c->healthy_loss_permille == 0 ||
	    c->healthy_loss_permille > c->sever_loss_permille) {
		set_err(err, errlen,
			"healthy_loss_permille %" PRIu32 " must be 1..sever_loss_permille %" PRIu32,
			c->healthy_loss_permille, c->sever_loss_permille);
		return -EINVAL;
	}
	if (c->hold_down_ms == 0 || c->hold_down_ms > BX_SAFETY_TIME_LIMIT_MS) {
		set_err(err, errlen, "hold_down_ms %" PRIu32 " must be 1..%u",
			c->hold_down_ms, BX_SAFETY_TIME_LIMIT_MS);
		return -EINVAL;
	}
	if (c->recovery_ms == 0 || c->recovery_ms > BX_SAFETY_TIME_LIMIT_MS) {
		set_err(err, errlen, "recovery_ms %" PRIu32 " must be 1..%u",
			c->recovery_ms, BX_SAFETY_TIME_LIMIT_MS);
		return -EINVAL;
	}
	if (c->max_paths == 0 || c->max_paths > BX_SAFETY_MAX_PATHS) {
		set_err(err, errlen, "max_paths %" PRIu32 " must be 1..%u",
			c->max_paths, BX_SAFETY_MAX_PATHS);
		return -EINVAL;
	}
	return 0;
}

struct bx_safety *bx_safety_create(const struct bx_safety_conf *conf,
				   char *err, size_t errlen)
{
	struct bx_safety *mon;
	uint32_t slots = 2;
	unsigned int i;
	int rc;

	rc = bx_safety_conf_check(conf, err, errlen);
	if (rc != 0) {
		errno = -rc;
		return NULL;
	}
	mon = calloc(1, sizeof(*mon));
	if (mon == NULL)
		goto nomem;
	/* At most half full: probes stay short. */
	while (slots < 2 * conf->max_paths)
		slots <<= 1;
	mon->conf = *conf;
	mon->state = BX_SAFETY_NORMAL;
	mon->mask = slots - 1;
	for (i = 0; i < 2; i++) {
		mon->tables[i].slots = calloc(slots, sizeof(struct path_ent));
		mon->tables[i].used = calloc(conf->max_paths, sizeof(uint32_t));
		if (mon->tables[i].slots == NULL || mon->tables[i].used == NULL)
			goto nomem;
	}
	mon->tick_slot = calloc(conf->max_paths, sizeof(uint32_t));
	if (mon->tick_slot == NULL)
		goto nomem;
	return mon;
nomem:
	bx_safety_destroy(mon);
	set_err(err, errlen, "out of memory");
	errno = ENOMEM;
	return NULL;
}

void bx_safety_destroy(struct bx_safety *mon)
{
	unsigned int i;

	if (mon == NULL)
		return;
	for (i = 0; i < 2; i++) {
		free(mon->tables[i].slots);
		free(mon->tables[i].used);
	}
	free(mon->tick_slot);
	free(mon);
}

static uint32_t path_hash(const char *peer, uint8_t path_id)
{
	uint32_t h = FNV_OFFSET;
	size_t i;

	for (i = 0; i < PEER_CMP && peer[i] != '\0'; i++)
		h = (h ^ (uint8_t)peer[i]) * FNV_PRIME;
	return (h ^ path_id) * FNV_PRIME;
}

static bool ent_is(const struct path_ent *e, uint32_t hash, const char *peer,
		   uint8_t path_id)
{
	return e->hash == hash && e->path_id == path_id &&
	       strncmp(e->peer, peer, PEER_CMP) == 0;
}

/*
 * The slot of (@peer, @path_id) in @t, or the free slot where it would go.
 * Never full: a table has twice as many slots as a tick has paths.
 */
static uint32_t slot_of(const struct bx_safety *mon,
			const struct path_table *t, uint32_t hash,
			const char *peer, uint8_t path_id)
{
	uint32_t i = hash & mon->mask;

	while (t->slots[i].used && !ent_is(&t->slots[i], hash, peer, path_id))
		i = (i + 1) & mon->mask;
	return i;
}

static void table_clear(struct path_table *t)
{
	uint32_t i;

	for (i = 0; i < t->n_used; i++)
		t->slots[t->used[i]].used = false;
	t->n_used = 0;
}

/*
 * Carries the paths of this tick into the other table with what the last
 * tick knew about them, takes in the new measurements and makes that
 * table the current one. mon->tick_slot[i] is then paths[i]'s slot.
 */
static void take_paths(struct bx_safety *mon,
		       const struct bx_safety_path *paths, unsigned int n)
{
	const struct path_table *old = &mon->tables[mon->cur];
	struct path_table *t = &mon->tables[mon->cur ^ 1];
	const struct bx_safety_path *p;
	struct path_ent *e;
	uint32_t h, s, o;
	unsigned int i;

	table_clear(t);
	for (i = 0; i < n; i++) {
		p = &paths[i];
		h = path_hash(p->peer, p->path_id);
		s = slot_of(mon, t, h, p->peer, p->path_id);
		e = &t->slots[s];
		if (!e->used) {
			o = slot_of(mon, old, h, p->peer, p->path_id);
			if (old->slots[o].used) {
				*e = old->slots[o];
			} else {
				memset(e, 0, sizeof(*e));
				snprintf(e->peer, sizeof(e->peer), "%.*s",
					 (int)PEER_CMP, p->peer);
				e->hash = h;
				e->path_id = p->path_id;
				e->used = true;
			}
			t->used[t->n_used++] = s;
		}
		/* The last RTT stays known while probes go unanswered. */
		if (p->has_rtt) {
			e->has_rtt = true;
			e->rtt_us = p->rtt_us;
		}
		e->has_loss = p->has_loss;
		e->loss_permille = !p->has_loss ? 0 :
				   p->loss_permille > BX_SAFETY_PERMILLE ?
				   BX_SAFETY_PERMILLE : p->loss_permille;
		mon->tick_slot[i] = s;
	}
	mon->cur ^= 1;
}

/* Severance forgets what the torn-down tunnels measured. */
static void forget_paths(struct bx_safety *mon)
{
	struct path_table *t = &mon->tables[mon->cur];
	uint32_t i;

	for (i = 0; i < t->n_used; i++) {
		struct path_ent *e = &t->slots[t->used[i]];

		e->warned = false;
		e->has_rtt = false;
		e->rtt_us = 0;
	}
}

/* ---- event text --------------------------------------------------------- */

/* Microseconds as milliseconds: "41.2"; "30" for a whole threshold. */
static const char *ms_text(char buf[MS_TEXT_MAX], uint64_t us)
{
	if (us % 1000 == 0)
		snprintf(buf, MS_TEXT_MAX, "%" PRIu64, us / 1000);
	else
		snprintf(buf, MS_TEXT_MAX, "%" PRIu64 ".%u", us / 1000,
			 (unsigned int)(us % 1000 / 100));
	return buf;
}

/*
 * A measured RTT next to @limit_us: one decimal ("41.2"), or three where
 * one would show the limit itself ("30.001 ms > 30 ms").
 */
static const char *rtt_text(char buf[MS_TEXT_MAX], uint64_t us,
			    uint64_t limit_us)
{
	if (us % 100 != 0 && us / 100 == limit_us / 100)
		snprintf(buf, MS_TEXT_MAX, "%" PRIu64 ".%03u", us / 1000,
			 (unsigned int)(us % 1000));
	else
		snprintf(buf, MS_TEXT_MAX, "%" PRIu64 ".%u", us / 1000,
			 (unsigned int)(us % 1000 / 100));
	return buf;
}

/* Per mille as a percentage: "95.0"; "90" for a whole threshold. */
static const char *pct_text(char buf[MS_TEXT_MAX], uint32_t permille,
			    bool whole)
{
	if (whole && permille % 10 == 0)
		snprintf(buf, MS_TEXT_MAX, "%u", permille / 10);
	else
		snprintf(buf, MS_TEXT_MAX, "%u.%u", permille / 10,
			 permille % 10);
	return buf;
}

/* ---- events -------------------------------------------------------------- */

static void ev_text(struct bx_safety_event *ev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The event's line; a long peer id may cut its end, never more. */
static void ev_text(struct bx_safety_event *ev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ev->message, sizeof(ev->message), fmt, ap);
	va_end(ap);
}

struct tick {
	struct bx_safety_event *events;
	unsigned int max;
	unsigned int n;
	uint64_t unix_ms;
};

/* The next event slot, filled with the path's figures; NULL when full. */
static struct bx_safety_event *emit(struct tick *tk,
				    enum bx_safety_event_kind kind,
				    const struct path_ent *e)
{
	struct bx_safety_event *ev;

	if (tk->n == tk->max)
		return NULL;
	ev = &tk->events[tk->n++];
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->unix_ms = tk->unix_ms;
	if (e != NULL) {
		memcpy(ev->peer, e->peer, sizeof(ev->peer));
		ev->path_id = e->path_id;
		ev->rtt_us = e->has_rtt ? e->rtt_us : 0;
		ev->loss_permille = e->loss_permille;
	}
	return ev;
}

static bool warn_cond(const struct bx_safety *mon, const struct path_ent *e)
{
	return e->has_rtt && e->rtt_us > mon->conf.warn_rtt_us;
}

static bool sever_cond(const struct bx_safety *mon, const struct path_ent *e)
{
	return e->has_rtt && e->rtt_us > mon->conf.sever_rtt_us &&
	       e->has_loss &&
	       e->loss_permille >= mon->conf.sever_loss_permille;
}

static bool healthy_path(const struct bx_safety *mon, const struct path_ent *e)
{
	return e->rtt_us <= mon->conf.warn_rtt_us && e->has_loss &&
	       e->loss_permille < mon->conf.healthy_loss_permille;
}

static void enter(struct bx_safety *mon, enum bx_safety_state state,
		  uint64_t now_ms)
{
	mon->state = state;
	mon->since_ms = now_ms;
	mon->healthy = false;
}

/* Can a path carry traffic: measured, and not losing at the severance
 * level (a cut path loses everything, a jammed one too). */
static bool usable_path(const struct bx_safety *mon, const struct path_ent *e)
{
	return e->has_rtt && !sever_cond(mon, e) &&
	       (!e->has_loss || e->loss_permille < mon->conf.sever_loss_permille);
}

/* Does another path of @e's peer in this tick satisfy @ok? */
static bool sibling(const struct bx_safety *mon, unsigned int n,
		    const struct path_ent *e,
		    bool (*ok)(const struct bx_safety *, const struct path_ent *))
{
	const struct path_table *t = &mon->tables[mon->cur];
	unsigned int i;

	for (i = 0; i < n; i++) {
		const struct path_ent *o = &t->slots[mon->tick_slot[i]];

		if (o != e && strcmp(o->peer, e->peer) == 0 && ok(mon, o))
			return true;
	}
	return false;
}

/* The first path (in the caller's order) that severs -- one whose peer
 * has no other path that can carry traffic -- or NULL. */
static const struct path_ent *severing_path(const struct bx_safety *mon,
					    unsigned int n)
{
	const struct path_table *t = &mon->tables[mon->cur];
	unsigned int i;

	for (i = 0; i < n; i++) {
		const struct path_ent *e = &t->slots[mon->tick_slot[i]];

		if (sever_cond(mon, e) && !sibling(mon, n, e, usable_path))
			return e;
	}
	return NULL;
}

static bool healthy_rtt_path(const struct bx_safety *mon,
			     const struct path_ent *e)
{
	return e->has_rtt && healthy_path(mon, e);
}

static void sever(struct bx_safety *mon, const struct path_ent *e,
		  uint64_t now_ms, struct tick *tk)
{
	char rtt[MS_TEXT_MAX], lim[MS_TEXT_MAX], loss[MS_TEXT_MAX],
		llim[MS_TEXT_MAX];
	struct bx_safety_event *ev = emit(tk, BX_SAFETY_EV_SEVERANCE, e);

	/* A state change is never short of room (BX_SAFETY_EVENTS_MIN). */
	BX_ASSERT(ev != NULL);
	ev_text(ev,
		"peer %s path %u: RTT %s ms > %s ms and loss %s %% >= %s %%: severed",
		e->peer, e->path_id,
		rtt_text(rtt, e->rtt_us, mon->conf.sever_rtt_us),
		ms_text(lim, mon->conf.sever_rtt_us),
		pct_text(loss, e->loss_permille, false),
		pct_text(llim, mon->conf.sever_loss_permille, true));
	mon->counters.severances++;
	forget_paths(mon);
	enter(mon, BX_SAFETY_SEVERED, now_ms);
}

/* NORMAL: per path, a warning when it crosses up, a clear when down. */
static void judge_warnings(struct bx_safety *mon, unsigned int n,
			   struct tick *tk)
{
	struct path_table *t = &mon->tables[mon->cur];
	char rtt[MS_TEXT_MAX], lim[MS_TEXT_MAX];
	struct bx_safety_event *ev;
	struct path_ent *e;
	unsigned int i;
	bool over;

	for (i = 0; i < n; i++) {
		e = &t->slots[mon->tick_slot[i]];
		over = warn_cond(mon, e);
		if (over == e->warned)
			continue;
		/* No room: the path keeps its standing, the next tick tells. */
		ev = emit(tk, over ? BX_SAFETY_EV_DEGRADATION_WARNING :
				     BX_SAFETY_EV_DEGRADATION_CLEARED, e);
		if (ev == NULL)
			return;
		ev_text(ev, "peer %s path %u: RTT %s ms %s %s ms", e->peer,
			e->path_id,
			rtt_text(rtt, e->rtt_us, mon->conf.warn_rtt_us),
			over ? ">" : "<=", ms_text(lim, mon->conf.warn_rtt_us));
		e->warned = over;
		if (over)
			mon->counters.warnings++;
		else
			mon->counters.clears++;
	}
}

/* PROBATION: relapse, or recovery after recovery_ms of health. */
static void judge_probation(struct bx_safety *mon, unsigned int n,
			    uint64_t now_ms, struct tick *tk)
{
	const struct path_table *t = &mon->tables[mon->cur];
	const struct path_ent *bad = severing_path(mon, n);
	const struct path_ent *e;
	struct bx_safety_event *ev;
	unsigned int i, measured = 0;
	bool healthy = true;

	if (bad != NULL) {
		sever(mon, bad, now_ms, tk);
		return;
	}
	/* A peer is healthy when one of its paths is: an unhealthy path
	 * next to a healthy one of the same peer is a path bonding leaves. */
	for (i = 0; i < n && healthy; i++) {
		e = &t->slots[mon->tick_slot[i]];
		if (!e->has_rtt)
			continue;
		measured++;
		healthy = healthy_path(mon, e) ||
			  sibling(mon, n, e, healthy_rtt_path);
	}
	/* Paths but no RTT on any: nothing says they are good. */
	if (n > 0 && measured == 0)
		healthy = false;
	if (!healthy) {
		mon->healthy = false;
		return;
	}
	if (!mon->healthy) {
		mon->healthy = true;
		mon->healthy_ms = now_ms;
	}
	if (now_ms - mon->healthy_ms < mon->conf.recovery_ms)
		return;
	ev = emit(tk, BX_SAFETY_EV_RECOVERED, NULL);
	BX_ASSERT(ev != NULL);
	ev_text(ev, "%u path(s) healthy for %" PRIu32 " ms: data flows again",
		measured, mon->conf.recovery_ms);
	mon->counters.recoveries++;
	enter(mon, BX_SAFETY_NORMAL, now_ms);
}

int bx_safety_evaluate(struct bx_safety *mon,
		       const struct bx_safety_path *paths, unsigned int n,
		       uint64_t now_ms, uint64_t unix_ms,
		       struct bx_safety_event *events, unsigned int max)
{
	struct tick tk = {.events = events, .max = max, .unix_ms = unix_ms};
	const struct path_ent *bad;
	struct bx_safety_event *ev;
	unsigned int i;

	if (mon == NULL || (paths == NULL && n > 0) || events == NULL ||
	    max < BX_SAFETY_EVENTS_MIN || n > mon->conf.max_paths ||
	    (mon->ticked && now_ms < mon->last_ms))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (paths[i].peer == NULL)
			return -EINVAL;
	mon->ticked = true;
	mon->last_ms = now_ms;
	take_paths(mon, paths, n);

	switch (mon->state) {
	case BX_SAFETY_NORMAL:
		bad = severing_path(mon, n);
		if (bad != NULL)
			sever(mon, bad, now_ms, &tk);
		else
			judge_warnings(mon, n, &tk);
		break;
	case BX_SAFETY_SEVERED:
		if (now_ms - mon->since_ms < mon->conf.hold_down_ms)
			break;
		ev = emit(&tk, BX_SAFETY_EV_PROBATION, NULL);
		BX_ASSERT(ev != NULL);
		ev_text(ev,
			"hold-down of %" PRIu32 " ms over: handshakes allowed, data blocked until paths are healthy for %" PRIu32 " ms",
			mon->conf.hold_down_ms, mon->conf.recovery_ms);
		mon->counters.probations++;
		enter(mon, BX_SAFETY_PROBATION, now_ms);
		judge_probation(mon, n, now_ms, &tk);
		break;
	case BX_SAFETY_PROBATION:
		judge_probation(mon, n, now_ms, &tk);
		break;
	}
	return (int)tk.n;
}

enum bx_safety_state bx_safety_state(const struct bx_safety *mon)
{
	return mon->state;
}

bool bx_safety_may_handshake(const struct bx_safety *mon)
{
	return mon->state != BX_SAFETY_SEVERED;
}

bool bx_safety_may_forward(const struct bx_safety *mon)
{
	return mon->state == BX_SAFETY_NORMAL;
}

void bx_safety_counters(const struct bx_safety *mon,
			struct bx_safety_counters *out)
{
	*out = mon->counters;
}

const char *bx_safety_state_name(enum bx_safety_state state)
{
	switch (state) {
	case BX_SAFETY_NORMAL:
		return "NORMAL";
	case BX_SAFETY_SEVERED:
		return "SEVERED";
	case BX_SAFETY_PROBATION:
		return "PROBATION";
	}
	return "UNKNOWN";
}

const char *bx_safety_event_name(enum bx_safety_event_kind kind)
{
	switch (kind) {
	case BX_SAFETY_EV_DEGRADATION_WARNING:
		return "DegradationWarning";
	case BX_SAFETY_EV_DEGRADATION_CLEARED:
		return "DegradationCleared";
	case BX_SAFETY_EV_SEVERANCE:
		return "SafetySeverance";
	case BX_SAFETY_EV_PROBATION:
		return "SafetyProbation";
	case BX_SAFETY_EV_RECOVERED:
		return "SafetyRecovered";
	}
	return "Unknown";
}

/* ---- jamming -------------------------------------------------------------- */

enum bx_jam_level bx_jam_level_of(bool has_rtt, uint64_t rtt_us,
				  uint32_t loss_permille)
{
	/* Without a sample only the loss speaks. */
	if (!has_rtt)
		rtt_us = 0;
	if (has_rtt && rtt_us > BX_JAM_CRITICAL_RTT_US &&
	    loss_permille >= BX_JAM_CRITICAL_LOSS_PERMILLE)
		return BX_JAM_CRITICAL;
	if (rtt_us > BX_JAM_HIGH_RTT_US ||
	    loss_permille > BX_JAM_HIGH_LOSS_PERMILLE)
		return BX_JAM_HIGH;
	if (rtt_us > BX_JAM_MODERATE_RTT_US ||
	    loss_permille > BX_JAM_MODERATE_LOSS_PERMILLE)
		return BX_JAM_MODERATE;
	if (rtt_us > BX_JAM_LOW_RTT_US)
		return BX_JAM_LOW;
	return BX_JAM_NONE;
}

void bx_jam_rtt_add(struct bx_jam_rtt *r, uint64_t rtt_us)
{
	r->us[r->next] = rtt_us;
	r->next = (uint8_t)((r->next + 1u) % 3u);
	if (r->n < 3)
		r->n++;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

bool bx_jam_rtt_get(const struct bx_jam_rtt *r, uint64_t *rtt_us)
{
	const uint64_t *u = r->us;

	switch (r->n) {
	case 0:
		*rtt_us = 0;
		return false;
	case 1:
		/* The ring fills from slot 0 before it wraps. */
		*rtt_us = u[0];
		return true;
	case 2:
		*rtt_us = min_u64(u[0], u[1]);
		return true;
	default:
		*rtt_us = max_u64(min_u64(u[0], u[1]),
				  min_u64(max_u64(u[0], u[1]), u[2]));
		return true;
	}
}

const char *bx_jam_level_name(enum bx_jam_level level)
{
	switch (level) {
	case BX_JAM_NONE:
		return "NONE";
	case BX_JAM_LOW:
		return "LOW";
	case BX_JAM_MODERATE:
		return "MODERATE";
	case BX_JAM_HIGH:
		return "HIGH";
	case BX_JAM_CRITICAL:
		return "CRITICAL";
	}
	return "UNKNOWN";
}

void bx_jam_sample_of(const struct bx_safety_path *path, uint64_t unix_ms,
		      struct bx_jam_sample *out)
{
	uint32_t loss = path->has_loss ? path->loss_permille : 0;

	memset(out, 0, sizeof(*out));
	snprintf(out->peer, sizeof(out->peer), "%.*s", (int)PEER_CMP,
		 path->peer);
	out->path_id = path->path_id;
	out->has_rtt = path->has_rtt;
	out->rtt_us = path->has_rtt ? path->rtt_us : 0;
	out->loss_permille = loss;
	out->level = bx_jam_level_of(path->has_rtt, out->rtt_us, loss);
	out->unix_ms = unix_ms;
}
