/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The safety layer on the control lcore (DESIGN §4 Safety, issue 7):
 * every 5 ms it reads each path's probe measurements (the workers keep
 * them, lib/probe), lets the monitor (control/safety) judge them, and acts:
 *
 *   DegradationWarning / Cleared   logged, streamed, counted
 *   SafetySeverance                every session unpublished and its keys
 *                                  wiped, handshakes refused, ICE agents
 *                                  closed, the fast path drops everything
 *                                  as safety_blocked; probes start over
 *   SafetyProbation (hold-down     handshakes and ICE again, probes flow,
 *   over)                          data still blocked
 *   SafetyRecovered (healthy for   data flows again
 *   recovery_s)
 *
 * Every 50 ms it publishes each path's jamming level. Both streams go to
 * the local gRPC services (safety.listen) a watchdog or a jamming sidecar
 * subscribes to; the events also reach the log and, as counters, the
 * hub's metrics. The congestion strategy (safety.congestion) is fed each
 * new RTT sample; any congested path shrinks the Bulk bucket.
 *
 * The intents (bauxite intent ...) are set here too, for the workers.
 *
 * Control lcore only.
 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_malloc.h>

#include "app.h"
#include "bx_safety.h"
#ifdef BX_SAFETY_SERVER
#include "bx_safety_server.h"
#endif

#define LOG_PREFIX "bauxite-app: safety: "
/* The monitor runs this often (DESIGN §4). */
#define EVAL_PERIOD_MS 5u
/* One jamming sample per path this often (issue 7). */
#define JAM_PERIOD_MS 50u
/* Events one evaluation may bring. */
#define EVENTS_MAX 16u

struct ctl_path {
	uint64_t last_echoed;           /* samples fed to the strategy so far */
	struct bx_congestion cong;
	/* What the jamming stream judges, kept across a severance: with no
	 * probes then, it goes on saying how the path was last. */
	struct bx_jam_rtt jam_rtt;
	bool has_loss;
	uint32_t loss_permille;
};

struct app_safety {
	const struct bx_config *cfg;
	struct app_safety_shared shared;   /* what the workers read */
	struct bx_safety *mon;
#ifdef BX_SAFETY_SERVER
	struct bx_safety_server *srv;
#endif
	struct app_paths *pathm;
	struct bx_peer_registry *reg;
	const struct app_warm *book;
	struct app_sessions *sessions;
	struct app_nat *nat;
	struct bx_stats_lcore *st;
	uint32_t n_slots;
	struct ctl_path *cp;               /* per APP_NH slot */
	struct bx_safety_path *paths;      /* one evaluation's */
	uint32_t *path_idx;                /* their APP_NH slots */
	unsigned cap;
	uint64_t next_eval_ms, next_jam_ms;
	enum bx_safety_state state;
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t
unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const struct app_safety_shared *
app_safety_shared(const struct app_safety *s)
{
	return s != NULL ? &s->shared : NULL;
}

/* Every path starts its probes over (new sessions, new measurements). */
static void
probes_restart(struct app_safety *s)
{
	uint32_t i;

	app_paths_restart(s->pathm, APP_PATHS_ALL);
	for (i = 0; i < APP_NH(s->n_slots, 0); i++) {
		s->cp[i].last_echoed = 0;
		bx_congestion_init(&s->cp[i].cong, s->cp[i].cong.ops);
	}
}

void
app_safety_peer_added(struct app_safety *s, uint32_t index)
{
	unsigned k;

	if (s == NULL || index >= s->n_slots)
		return;
	/* Another peer at this index: nothing of the last one's stays. */
	for (k = 0; k < APP_PATHS; k++) {
		struct ctl_path *cp = &s->cp[APP_NH(index, k)];

		bx_congestion_init(&cp->cong, cp->cong.ops);
		memset(cp, 0, offsetof(struct ctl_path, cong));
		memset(&cp->jam_rtt, 0, sizeof(cp->jam_rtt));
		cp->has_loss = false;
	}
}

/* The node's state changed: do what it means. */
static void
enter(struct app_safety *s, enum bx_safety_state next)
{
	switch (next) {
	case BX_SAFETY_SEVERED:
		__atomic_store_n(&s->shared.block, 1, __ATOMIC_RELAXED);
		app_sessions_sever(s->sessions);
		app_nat_suspend(s->nat);
		probes_restart(s);
		break;
	case BX_SAFETY_PROBATION:
		/* Handshakes and ICE again; data waits for the recovery. */
		app_sessions_allow(s->sessions);
		app_nat_resume(s->nat);
		break;
	default:
		__atomic_store_n(&s->shared.block, 0, __ATOMIC_RELAXED);
		break;
	}
	s->state = next;
}

static void
report(struct app_safety *s, const struct bx_safety_event *ev,
       enum bx_safety_state state)
{
	FILE *f = ev->kind == BX_SAFETY_EV_DEGRADATION_CLEARED ||
			  ev->kind == BX_SAFETY_EV_RECOVERED ? stdout : stderr;

	fprintf(f, LOG_PREFIX "%s: %s (node %s)\n",
		bx_safety_event_name(ev->kind), ev->message,
		bx_safety_state_name(state));
	fflush(f);
	switch (ev->kind) {
	case BX_SAFETY_EV_DEGRADATION_WARNING:
		bx_stats_add(s->st, BX_STAT_SAFETY_WARNINGS, 1);
		break;
	case BX_SAFETY_EV_SEVERANCE:
		bx_stats_add(s->st, BX_STAT_SAFETY_SEVERANCES, 1);
		break;
	case BX_SAFETY_EV_RECOVERED:
		bx_stats_add(s->st, BX_STAT_SAFETY_RECOVERIES, 1);
		break;
	default:
		break;
	}
#ifdef BX_SAFETY_SERVER
	if (s->srv != NULL)
		bx_safety_server_publish_event(s->srv, ev, state);
#endif
}

/* This evaluation's paths: every path of every peer. */
static unsigned
gather(struct app_safety *s, bool *congested)
{
	unsigned i, k, n = 0;

	*congested = false;
	for (i = 0; i < s->book->n && n < s->cap; i++) {
		const struct app_peer_src *p = &s->book->peers[i];
		const struct bx_peer *rec = bx_peer_find(s->reg, p->id);
		struct app_session_info si;

		if (rec == NULL || rec->index >= s->n_slots)
			continue;
		memset(&si, 0, sizeof(si));
		app_sessions_peer_info(s->sessions, rec->index, &si);
		for (k = 0; k < rec->n_paths && n < s->cap; k++) {
			struct bx_safety_path *sp = &s->paths[n];
			struct bx_probe_stats ps;
			struct ctl_path *cp;

			memset(sp, 0, sizeof(sp[0]));
			sp->peer = p->id;
			sp->path_id = k;
			s->path_idx[n] = APP_NH(rec->index, k);
			n++;
			/* No measurements (no session, probes just started):
			 * the path is there, without data; it cannot vouch for
			 * a recovery. No session (gone, or not yet): its
			 * probes stopped, and what they last said is not about
			 * now. */
			if (!si.up || !app_paths_read(s->pathm, rec->index, k, &ps) ||
			    ps.sent == 0)
				continue;
			cp = &s->cp[APP_NH(rec->index, k)];
			if (ps.echoed > cp->last_echoed) {
				bx_congestion_on_rtt(&cp->cong, ps.rtt_last_us);
				bx_jam_rtt_add(&cp->jam_rtt, ps.rtt_last_us);
				cp->last_echoed = ps.echoed;
			}
			*congested |= bx_congestion_is_congested(&cp->cong);
			sp->has_rtt = ps.has_rtt;
			sp->rtt_us = ps.rtt_last_us;
			sp->has_loss = ps.known >= s->cfg->safety.probe_window;
			sp->loss_permille = ps.loss_permille;
			if (sp->has_loss) {
				cp->has_loss = true;
				cp->loss_permille = sp->loss_permille;
			}
		}
	}
	return n;
}

static void
jamming(struct app_safety *s, unsigned n)
{
#ifdef BX_SAFETY_SERVER
	struct bx_jam_sample samples[64];
	uint64_t now = unix_ms();
	unsigned i, k;

	if (s->srv == NULL)
		return;
	for (i = 0; i < n; i += k) {
		for (k = 0; k < 64 && i + k < n; k++) {
			const struct ctl_path *cp = &s->cp[s->path_idx[i + k]];
			struct bx_safety_path jp = s->paths[i + k];

			/* The median of the last three probes (bx_jam_rtt), so
			 * one late probe is not jamming. No fresh measurement
			 * (severed, probes starting over): the last ones stand. */
			jp.has_rtt = bx_jam_rtt_get(&cp->jam_rtt, &jp.rtt_us);
			if (!jp.has_loss && cp->has_loss) {
				jp.has_loss = true;
				jp.loss_permille = cp->loss_permille;
			}
			bx_jam_sample_of(&jp, now, &samples[k]);
		}
		bx_safety_server_publish_jamming(s->srv, samples, k);
	}
#else
	(void)s;
	(void)n;
#endif
}

void
app_safety_poll(struct app_safety *s)
{
	struct bx_safety_event ev[EVENTS_MAX];
	uint64_t now;
	unsigned n;
	bool congested;
	int k, i;

	if (s == NULL)
		return;
	now = mono_ms();
	if (now < s->next_eval_ms)
		return;
	s->next_eval_ms = now + EVAL_PERIOD_MS;
	n = gather(s, &congested);
	__atomic_store_n(&s->shared.congested, congested, __ATOMIC_RELAXED);
	k = bx_safety_evaluate(s->mon, s->paths, n, now, unix_ms(), ev, EVENTS_MAX);
	for (i = 0; i < k; i++) {
		/* The state an event is published with is the one it led to. */
		enum bx_safety_state at = bx_safety_state(s->mon);

		if (ev[i].kind == BX_SAFETY_EV_SEVERANCE)
			at = BX_SAFETY_SEVERED;
		else if (ev[i].kind == BX_SAFETY_EV_PROBATION)
			at = BX_SAFETY_PROBATION;
		else if (ev[i].kind == BX_SAFETY_EV_RECOVERED)
			at = BX_SAFETY_NORMAL;
		if (at != s->state)
			enter(s, at);
		report(s, &ev[i], at);
	}
	if (bx_safety_state(s->mon) != s->state)
		enter(s, bx_safety_state(s->mon));
	if (now >= s->next_jam_ms) {
		s->next_jam_ms = now + JAM_PERIOD_MS;
		jamming(s, n);
	}
}

int
app_safety_intent(struct app_safety *s, const char *what, const char *arg,
		  char *msg, size_t len)
{
	char *end;
	unsigned long v;

	if (s == NULL) {
		snprintf(msg, len, "the safety layer is off (safety.enabled)");
		return -ENOTSUP;
	}
	if (strcmp(what, "throttle_bulk_kbps") == 0) {
		v = strtoul(arg, &end, 10);
		if (arg[0] == '\0' || *end != '\0' || v > APP_INTENT_KBPS_MAX) {
			snprintf(msg, len, "throttle_bulk_kbps: expected 0..%u "
				 "(0: no limit), got \"%s\"", APP_INTENT_KBPS_MAX, arg);
			return -EINVAL;
		}
		__atomic_store_n(&s->shared.bulk_kbps, (uint32_t)v, __ATOMIC_RELAXED);
		snprintf(msg, len, v ? "bulk throttled to %lu kbit/s" :
				       "bulk not throttled", v);
	} else if (strcmp(what, "fec") == 0) {
		uint32_t fec;

		if (strcmp(arg, "normal") == 0)
			fec = APP_FEC_NORMAL;
		else if (strcmp(arg, "aggressive") == 0)
			fec = APP_FEC_AGGRESSIVE;
		else if (strcmp(arg, "absolute") == 0)
			fec = APP_FEC_ABSOLUTE;
		else {
			snprintf(msg, len, "fec: expected normal, aggressive or "
				 "absolute, got \"%s\"", arg);
			return -EINVAL;
		}
		__atomic_store_n(&s->shared.fec, fec, __ATOMIC_RELAXED);
		snprintf(msg, len, "fec %s: bulk %s", arg,
			 fec == APP_FEC_NORMAL ? "on its own lane" :
						 "lifted into the telemetry lane");
	} else {
		snprintf(msg, len, "unknown intent \"%s\" (expected "
			 "throttle_bulk_kbps or fec)", what);
		return -EINVAL;
	}
	printf(LOG_PREFIX "intent: %s\n", msg);
	fflush(stdout);
	return 0;
}

void
app_safety_status(const struct app_safety *s, struct app_safety_status *out)
{
	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return;
	out->enabled = true;
	out->state = bx_safety_state_name(s->state);
	out->bulk_kbps = __atomic_load_n(&s->shared.bulk_kbps, __ATOMIC_RELAXED);
	out->fec = __atomic_load_n(&s->shared.fec, __ATOMIC_RELAXED);
	out->congested = __atomic_load_n(&s->shared.congested, __ATOMIC_RELAXED);
}

struct app_safety *
app_safety_create(const struct app_safety_conf *c, char *err, size_t errlen)
{
	const struct bx_config_safety *cs = &c->cfg->safety;
	struct bx_safety_conf mc;
	struct app_safety *s = calloc(1, sizeof(*s));
	char why[256];
	uint32_t i;

	if (s == NULL) {
		snprintf(err, errlen, "safety: no memory");
		errno = ENOMEM;
		return NULL;
	}
	s->cfg = c->cfg;
	s->pathm = c->paths;
	s->reg = c->reg;
	s->book = c->book;
	s->sessions = c->sessions;
	s->nat = c->nat;
	s->st = c->st;
	s->n_slots = c->n_slots;
	s->cap = APP_NH(c->n_slots, 0) < BX_SAFETY_MAX_PATHS ?
			 APP_NH(c->n_slots, 0) : BX_SAFETY_MAX_PATHS;
	s->state = BX_SAFETY_NORMAL;
	s->cp = calloc(APP_NH(c->n_slots, 0), sizeof(*s->cp));
	s->paths = calloc(s->cap, sizeof(*s->paths));
	s->path_idx = calloc(s->cap, sizeof(*s->path_idx));
	if (s->cp == NULL || s->paths == NULL || s->path_idx == NULL) {
		snprintf(err, errlen, "safety: no memory for %u paths", c->n_slots);
		goto fail;
	}
	for (i = 0; i < APP_NH(c->n_slots, 0); i++) {
		bx_congestion_init(&s->cp[i].cong,
				   cs->congestion == BX_CONFIG_CONGESTION_NULL ?
					   &bx_congestion_null : &bx_congestion_ewma);
	}
	s->shared.copies = cs->critical_copies;

	bx_safety_conf_default(&mc);
	mc.warn_rtt_us = (uint64_t)cs->warn_rtt_ms * 1000u;
	mc.sever_rtt_us = (uint64_t)cs->sever_rtt_ms * 1000u;
	mc.sever_loss_permille = cs->sever_loss_pct * 10u;
	mc.healthy_loss_permille = cs->healthy_loss_pct * 10u;
	mc.hold_down_ms = cs->hold_down_s * 1000u;
	mc.recovery_ms = cs->recovery_s * 1000u;
	mc.max_paths = s->cap;
	s->mon = bx_safety_create(&mc, why, sizeof(why));
	if (s->mon == NULL) {
		snprintf(err, errlen, "safety.%s", why);
		goto fail;
	}
#ifdef BX_SAFETY_SERVER
	if (cs->listen[0] != '\0') {
		s->srv = bx_safety_server_start(cs->listen, why, sizeof(why));
		if (s->srv == NULL) {
			snprintf(err, errlen, "safety.listen: %s", why);
			goto fail;
		}
		printf(LOG_PREFIX "event and jamming streams on %s\n", cs->listen);
	} else {
		printf(LOG_PREFIX "no local event stream: the default socket "
		       "path in state_dir is too long; set safety.listen\n");
	}
#endif
	printf(LOG_PREFIX "probes every %u ms; warning above %u ms, severance "
	       "above %u ms with %u%% loss, hold-down %u s, recovery after %u s "
	       "healthy; %u cop%s of each Critical packet\n",
	       cs->probe_interval_ms, cs->warn_rtt_ms, cs->sever_rtt_ms,
	       cs->sever_loss_pct, cs->hold_down_s, cs->recovery_s,
	       cs->critical_copies, cs->critical_copies == 1 ? "y" : "ies");
	fflush(stdout);
	return s;
fail:
	app_safety_free(s);
	errno = EINVAL;
	return NULL;
}

void
app_safety_stop(struct app_safety *s)
{
#ifdef BX_SAFETY_SERVER
	if (s != NULL) {
		bx_safety_server_stop(s->srv);
		s->srv = NULL;
	}
#else
	(void)s;
#endif
}

void
app_safety_free(struct app_safety *s)
{
	if (s == NULL)
		return;
	app_safety_stop(s);
	bx_safety_destroy(s->mon);
	free(s->cp);
	free(s->paths);
	free(s->path_idx);
	free(s);
}
