/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suite "safety": the safety monitor driven tick by tick over scripted time
 * (warnings once per crossing, no warning at exactly 30 ms, severance needs
 * RTT and loss, the last known RTT under heavy loss, the hold-down to the
 * millisecond, probation allowing handshakes but not data, recovery only
 * after recovery_ms of continuous health, relapse restarting the
 * hold-down), configuration checks, every jamming threshold, the jamming
 * RTT's median of three probes, and -- with
 * gRPC -- the local services over a real unix socket: the first STATE
 * message and the events in order, N jamming messages per publish of N
 * samples, a stalled subscriber (a raw HTTP/2 client that stops reading)
 * that neither blocks publishing nor the other subscribers, the subscriber
 * limit, and addresses that are not local refused. No EAL.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bx_common.h"
#include "bx_safety.h"

#ifdef BX_SAFETY_SERVER
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bauxite/v1/safety.pb-c.h"
#include "bx_rpc.h"
#include "bx_safety_server.h"
#endif

#define ERR_LEN 256
#define MAX_EVENTS 8
#define STEP_PATHS 3
#define STEP_EVENTS 3

/* ---- scripted monitor runs ---------------------------------------------- */

/* A path with RTT and loss, with loss only, or with nothing yet. */
#define P(who, id, rtt, loss)                                                 \
	{ .peer = (who), .path_id = (id), .has_rtt = true, .rtt_us = (rtt),   \
	  .has_loss = true, .loss_permille = (loss) }
#define P_NORTT(who, id, loss)                                                \
	{ .peer = (who), .path_id = (id), .has_loss = true,                   \
	  .loss_permille = (loss) }
#define P_NODATA(who, id) { .peer = (who), .path_id = (id) }

struct want_ev {
	enum bx_safety_event_kind kind;
	const char *peer; /* "" for node-wide events */
	uint8_t path_id;
	uint64_t rtt_us;
};

#define EV(kind, who, id, rtt) { BX_SAFETY_EV_##kind, (who), (id), (rtt) }
#define EV_NODE(kind) { BX_SAFETY_EV_##kind, "", 0, 0 }

struct step {
	uint64_t t_ms;
	unsigned int n;
	struct bx_safety_path paths[STEP_PATHS];
	unsigned int n_ev;
	struct want_ev ev[STEP_EVENTS];
	enum bx_safety_state state;
};

static struct bx_safety *new_monitor(void)
{
	struct bx_safety_conf conf;
	char err[ERR_LEN] = "";
	struct bx_safety *mon;

	bx_safety_conf_default(&conf);
	mon = bx_safety_create(&conf, err, sizeof(err));
	if (mon == NULL)
		fail_msg("create: %s", err);
	return mon;
}

/* The questions the application asks agree with the state. */
static void check_gates(const struct bx_safety *mon)
{
	enum bx_safety_state st = bx_safety_state(mon);

	assert_int_equal(bx_safety_may_forward(mon), st == BX_SAFETY_NORMAL);
	assert_int_equal(bx_safety_may_handshake(mon), st != BX_SAFETY_SEVERED);
}

/* One tick, checked against its step; the events land in @out. */
static void run_step(struct bx_safety *mon, const struct step *s, size_t idx,
		     struct bx_safety_event out[MAX_EVENTS])
{
	int n = bx_safety_evaluate(mon, s->paths, s->n, s->t_ms,
				   1700000000000ull + s->t_ms, out, MAX_EVENTS);
	unsigned int i;

	if (n != (int)s->n_ev)
		fail_msg("step %zu (t=%" PRIu64 " ms): %d events, want %u%s%s",
			 idx, s->t_ms, n, s->n_ev, n > 0 ? ", first: " : "",
			 n > 0 ? out[0].message : "");
	for (i = 0; i < s->n_ev; i++) {
		if (out[i].kind != s->ev[i].kind)
			fail_msg("step %zu event %u: %s, want %s (%s)", idx, i,
				 bx_safety_event_name(out[i].kind),
				 bx_safety_event_name(s->ev[i].kind),
				 out[i].message);
		assert_string_equal(out[i].peer, s->ev[i].peer);
		assert_int_equal(out[i].path_id, s->ev[i].path_id);
		assert_int_equal(out[i].rtt_us, s->ev[i].rtt_us);
		assert_int_equal(out[i].unix_ms, 1700000000000ull + s->t_ms);
		assert_true(out[i].message[0] != '\0');
	}
	if (bx_safety_state(mon) != s->state)
		fail_msg("step %zu (t=%" PRIu64 " ms): state %s, want %s", idx,
			 s->t_ms, bx_safety_state_name(bx_safety_state(mon)),
			 bx_safety_state_name(s->state));
	check_gates(mon);
}

static void run_script(struct bx_safety *mon, const struct step *steps,
		       size_t n)
{
	struct bx_safety_event out[MAX_EVENTS];
	size_t i;

	for (i = 0; i < n; i++)
		run_step(mon, &steps[i], i, out);
}

#define RUN(mon, steps) run_script((mon), (steps), BX_ARRAY_SIZE(steps))

#define NORMAL BX_SAFETY_NORMAL
#define SEVERED BX_SAFETY_SEVERED
#define PROBATION BX_SAFETY_PROBATION

static void test_warn_enter_clear_once(void **state)
{
	static const struct step steps[] = {
		/* Exactly 30 ms is not above 30 ms. */
		{0, 1, {P("edge-b", 0, 30000, 0)}, 0, {{0}}, NORMAL},
		{5, 1, {P("edge-b", 0, 30001, 0)}, 1,
		 {EV(DEGRADATION_WARNING, "edge-b", 0, 30001)}, NORMAL},
		/* Still above: no repeat every 5 ms. */
		{10, 1, {P("edge-b", 0, 41200, 0)}, 0, {{0}}, NORMAL},
		{15, 1, {P("edge-b", 0, 49000, 500)}, 0, {{0}}, NORMAL},
		{20, 1, {P("edge-b", 0, 30000, 0)}, 1,
		 {EV(DEGRADATION_CLEARED, "edge-b", 0, 30000)}, NORMAL},
		{25, 1, {P("edge-b", 0, 12000, 0)}, 0, {{0}}, NORMAL},
		/* A second path and a second crossing, each on its own. */
		{30, 2, {P("edge-b", 0, 45000, 0), P("edge-c", 1, 31000, 0)}, 2,
		 {EV(DEGRADATION_WARNING, "edge-b", 0, 45000),
		  EV(DEGRADATION_WARNING, "edge-c", 1, 31000)}, NORMAL},
		{35, 2, {P("edge-b", 0, 45000, 0), P("edge-c", 1, 2000, 0)}, 1,
		 {EV(DEGRADATION_CLEARED, "edge-c", 1, 2000)}, NORMAL},
	};
	struct bx_safety *mon = new_monitor();
	struct bx_safety_counters c;

	(void)state;
	RUN(mon, steps);
	bx_safety_counters(mon, &c);
	assert_int_equal(c.warnings, 3);
	assert_int_equal(c.clears, 2);
	assert_int_equal(c.severances, 0);
	bx_safety_destroy(mon);
}

static void test_event_messages(void **state)
{
	const struct bx_safety_path calm = P("edge-b", 0, 12000, 0);
	const struct bx_safety_path slow = P("edge-b", 0, 41200, 0);
	const struct bx_safety_path edge = P("edge-b", 0, 30001, 0);
	const struct bx_safety_path jam = P("edge-b", 1, 62500, 950);
	struct bx_safety_event ev[MAX_EVENTS];
	struct bx_safety *mon = new_monitor();

	(void)state;
	assert_int_equal(bx_safety_evaluate(mon, &calm, 1, 0, 0, ev, MAX_EVENTS),
			 0);
	assert_int_equal(bx_safety_evaluate(mon, &slow, 1, 5, 0, ev, MAX_EVENTS),
			 1);
	assert_string_equal(ev[0].message,
			    "peer edge-b path 0: RTT 41.2 ms > 30 ms");
	assert_int_equal(bx_safety_evaluate(mon, &calm, 1, 10, 0, ev,
					    MAX_EVENTS),
			 1);
	assert_string_equal(ev[0].message,
			    "peer edge-b path 0: RTT 12.0 ms <= 30 ms");
	/* One decimal would read "30.0 ms > 30 ms". */
	assert_int_equal(bx_safety_evaluate(mon, &edge, 1, 15, 0, ev,
					    MAX_EVENTS),
			 1);
	assert_string_equal(ev[0].message,
			    "peer edge-b path 0: RTT 30.001 ms > 30 ms");
	assert_int_equal(bx_safety_evaluate(mon, &jam, 1, 20, 0, ev, MAX_EVENTS),
			 1);
	assert_string_equal(ev[0].message,
			    "peer edge-b path 1: RTT 62.5 ms > 50 ms and loss 95.0 % >= 90 %: severed");
	assert_int_equal(ev[0].loss_permille, 950);
	assert_int_equal(bx_safety_evaluate(mon, NULL, 0, 5020, 0, ev,
					    MAX_EVENTS),
			 1);
	assert_string_equal(ev[0].message,
			    "hold-down of 5000 ms over: handshakes allowed, data blocked until paths are healthy for 3000 ms");
	assert_int_equal(bx_safety_evaluate(mon, NULL, 0, 8020, 0, ev,
					    MAX_EVENTS),
			 1);
	assert_string_equal(ev[0].message,
			    "0 path(s) healthy for 3000 ms: data flows again");
	bx_safety_destroy(mon);
}

static void test_severance_needs_both(void **state)
{
	static const struct step steps[] = {
		/* RTT far above, loss just below 90 %: a warning only. */
		{0, 1, {P("edge-b", 0, 90000, 899)}, 1,
		 {EV(DEGRADATION_WARNING, "edge-b", 0, 90000)}, NORMAL},
		/* All lost, RTT exactly 50 ms: not above. */
		{5, 1, {P("edge-b", 0, 50000, 1000)}, 0, {{0}}, NORMAL},
		/* Loss known but no RTT ever: nothing to judge it by. */
		{10, 2, {P("edge-b", 0, 50000, 1000), P_NORTT("edge-c", 0, 1000)},
		 0, {{0}}, NORMAL},
		/* Both, at their edges; the first such path is named. */
		{15, 2, {P("edge-c", 0, 12000, 0), P("edge-b", 0, 50001, 900)},
		 1, {EV(SEVERANCE, "edge-b", 0, 50001)}, SEVERED},
	};
	struct bx_safety *mon = new_monitor();
	struct bx_safety_counters c;

	(void)state;
	RUN(mon, steps);
	bx_safety_counters(mon, &c);
	assert_int_equal(c.severances, 1);
	bx_safety_destroy(mon);
}

/*
 * Several paths to one peer (bonding): a jammed path severs only when no
 * other path of the same peer can carry traffic; a cut path (all lost)
 * or another jammed one cannot; another peer's path does not help.
 */
static void test_severance_per_peer(void **state)
{
	static const struct step steps[] = {
		/* Path 0 jammed, path 1 fine: traffic leaves path 0. */
		{0, 2, {P("edge-b", 0, 60000, 950), P("edge-b", 1, 10000, 0)}, 1,
		 {EV(DEGRADATION_WARNING, "edge-b", 0, 60000)}, NORMAL},
		/* Path 1 slow and lossy but below the severance loss: still
		 * a way through. */
		{5, 2, {P("edge-b", 0, 60000, 950), P("edge-b", 1, 20000, 899)}, 0,
		 {{0}}, NORMAL},
		/* Path 1 measured but without a loss figure yet: it counts. */
		{10, 2, {P("edge-b", 0, 60000, 950),
			 {.peer = "edge-b", .path_id = 1, .has_rtt = true,
			  .rtt_us = 10000}}, 0, {{0}}, NORMAL},
		/* Path 1 stops answering (its last RTT remembered, all
		 * lost): no way through; another peer's good path does not
		 * save edge-b. */
		{15, 3, {P("edge-b", 0, 60000, 950), P_NORTT("edge-b", 1, 1000),
			 P("edge-c", 0, 10000, 0)}, 1,
		 {EV(SEVERANCE, "edge-b", 0, 60000)}, SEVERED},
	};
	static const struct step cut[] = {
		/* Path 1 cut (all lost at its last RTT): path 0 jammed severs. */
		{0, 2, {P("edge-b", 1, 1000, 1000), P("edge-b", 0, 60000, 950)}, 1,
		 {EV(SEVERANCE, "edge-b", 0, 60000)}, SEVERED},
	};
	struct bx_safety *mon = new_monitor();

	(void)state;
	RUN(mon, steps);
	bx_safety_destroy(mon);
	mon = new_monitor();
	RUN(mon, cut);
	bx_safety_destroy(mon);
}

/* With 95 % loss new RTT samples are rare: the last known one counts. */
static void test_last_known_rtt(void **state)
{
	static const struct step steps[] = {
		{0, 1, {P("edge-b", 0, 60000, 0)}, 1,
		 {EV(DEGRADATION_WARNING, "edge-b", 0, 60000)}, NORMAL},
		/* No sample this window; the path is not calm for it. */
		{5, 1, {P_NORTT("edge-b", 0, 300)}, 0, {{0}}, NORMAL},
		{10, 1, {P_NORTT("edge-b", 0, 950)}, 1,
		 {EV(SEVERANCE, "edge-b", 0, 60000)}, SEVERED},
	};
	struct bx_safety *mon = new_monitor();

	(void)state;
	RUN(mon, steps);
	bx_safety_destroy(mon);
}

/* Severed at 1000: handshakes blocked until exactly 6000. */
static void test_hold_down_exact(void **state)
{
	static const struct step steps[] = {
		{1000, 1, {P("edge-b", 0, 70000, 990)}, 1,
		 {EV(SEVERANCE, "edge-b", 0, 70000)}, SEVERED},
		/* The app reset the probe windows with the tunnels. */
		{1005, 1, {P_NODATA("edge-b", 0)}, 0, {{0}}, SEVERED},
		/* Even calm paths do not shorten it. */
		{3000, 1, {P("edge-c", 0, 1000, 0)}, 0, {{0}}, SEVERED},
		{5999, 1, {P_NODATA("edge-b", 0)}, 0, {{0}}, SEVERED},
		{6000, 1, {P_NODATA("edge-b", 0)}, 1, {EV_NODE(PROBATION)},
		 PROBATION},
		/* No RTT on any path is no news, not good news: probation
		 * holds, even with no loss. */
		{9000, 1, {P_NORTT("edge-b", 0, 0)}, 0, {{0}}, PROBATION},
		{20000, 1, {P_NORTT("edge-b", 0, 0)}, 0, {{0}}, PROBATION},
	};
	struct bx_safety *mon = new_monitor();
	struct bx_safety_counters c;

	(void)state;
	RUN(mon, steps);
	bx_safety_counters(mon, &c);
	assert_int_equal(c.severances, 1);
	assert_int_equal(c.probations, 1);
	assert_int_equal(c.recoveries, 0);
	bx_safety_destroy(mon);
}

/* Severed at 0, probation at 5000; then the recovery clock. */
#define SEVER_AT_0                                                            \
	{0, 1, {P("edge-b", 0, 70000, 990)}, 1,                               \
	 {EV(SEVERANCE, "edge-b", 0, 70000)}, SEVERED},                       \
	{5000, 1, {P_NODATA("edge-b", 0)}, 1, {EV_NODE(PROBATION)},           \
	 PROBATION}

static void test_recovery_continuous(void **state)
{
	static const struct step steps[] = {
		SEVER_AT_0,
		/* Healthy from 5100 ... */
		{5100, 1, {P("edge-b", 0, 10000, 0)}, 0, {{0}}, PROBATION},
		{7000, 1, {P("edge-b", 0, 30000, 99)}, 0, {{0}}, PROBATION},
		/* ... until one tick over 30 ms restarts the clock, */
		{7005, 1, {P("edge-b", 0, 30001, 0)}, 0, {{0}}, PROBATION},
		{7010, 1, {P("edge-b", 0, 10000, 0)}, 0, {{0}}, PROBATION},
		/* as does loss at the healthy limit (10 %), */
		{9000, 1, {P("edge-b", 0, 10000, 100)}, 0, {{0}}, PROBATION},
		{9005, 1, {P("edge-b", 0, 10000, 0)}, 0, {{0}}, PROBATION},
		/* and an RTT without a known loss. */
		{10000, 1, {{.peer = "edge-b", .path_id = 0, .has_rtt = true,
			     .rtt_us = 10000}}, 0, {{0}}, PROBATION},
		/* Healthy again from 10005; a path without RTT does not
		 * count against it. */
		{10005, 2, {P("edge-b", 0, 10000, 0), P_NODATA("edge-c", 0)},
		 0, {{0}}, PROBATION},
		{13004, 2, {P("edge-b", 0, 10000, 0), P_NODATA("edge-c", 0)},
		 0, {{0}}, PROBATION},
		{13005, 2, {P("edge-b", 0, 10000, 0), P_NODATA("edge-c", 0)},
		 1, {EV_NODE(RECOVERED)}, NORMAL},
		/* Back in NORMAL the warnings start afresh. */
		{13010, 2, {P("edge-b", 0, 35000, 0), P_NODATA("edge-c", 0)},
		 1, {EV(DEGRADATION_WARNING, "edge-b", 0, 35000)}, NORMAL},
	};
	struct bx_safety *mon = new_monitor();
	struct bx_safety_counters c;

	(void)state;
	RUN(mon, steps);
	bx_safety_counters(mon, &c);
	assert_int_equal(c.recoveries, 1);
	bx_safety_destroy(mon);
}

/* Recovery with two paths to a peer: one healthy path is enough for it;
 * a peer whose paths are all unhealthy holds the recovery back. */
static void test_recovery_per_peer(void **state)
{
	static const struct step steps[] = {
		SEVER_AT_0,
		{5100, 2, {P("edge-b", 0, 10000, 0), P("edge-b", 1, 80000, 500)},
		 0, {{0}}, PROBATION},
		/* edge-c's only path is lossy: not healthy. */
		{6000, 3, {P("edge-b", 0, 10000, 0), P("edge-b", 1, 80000, 500),
			   P("edge-c", 0, 10000, 200)}, 0, {{0}}, PROBATION},
		{6005, 3, {P("edge-b", 0, 10000, 0), P("edge-b", 1, 80000, 500),
			   P("edge-c", 0, 10000, 0)}, 0, {{0}}, PROBATION},
		{9004, 3, {P("edge-b", 0, 10000, 0), P("edge-b", 1, 80000, 500),
			   P("edge-c", 0, 10000, 0)}, 0, {{0}}, PROBATION},
		{9005, 3, {P("edge-b", 0, 10000, 0), P("edge-b", 1, 80000, 500),
			   P("edge-c", 0, 10000, 0)}, 1, {EV_NODE(RECOVERED)}, NORMAL},
	};
	struct bx_safety *mon = new_monitor();

	(void)state;
	RUN(mon, steps);
	bx_safety_destroy(mon);
}

static void test_relapse_restarts_hold_down(void **state)
{
	static const struct step steps[] = {
		SEVER_AT_0,
		{5005, 1, {P("edge-b", 0, 10000, 0)}, 0, {{0}}, PROBATION},
		/* Jammed again in probation: a new hold-down from 6000. */
		{6000, 1, {P("edge-b", 1, 80000, 950)}, 1,
		 {EV(SEVERANCE, "edge-b", 1, 80000)}, SEVERED},
		{10999, 1, {P_NODATA("edge-b", 1)}, 0, {{0}}, SEVERED},
		/* Still jammed when the hold-down ends: probation and
		 * severance in the same tick. */
		{11000, 1, {P("edge-b", 1, 80000, 950)}, 2,
		 {EV_NODE(PROBATION), EV(SEVERANCE, "edge-b", 1, 80000)},
		 SEVERED},
		{15999, 0, {{0}}, 0, {{0}}, SEVERED},
		/* A node without paths (no peers) recovers after
		 * recovery_ms of probation. */
		{16000, 0, {{0}}, 1, {EV_NODE(PROBATION)}, PROBATION},
		{18999, 0, {{0}}, 0, {{0}}, PROBATION},
		{19000, 0, {{0}}, 1, {EV_NODE(RECOVERED)}, NORMAL},
	};
	struct bx_safety *mon = new_monitor();
	struct bx_safety_counters c;

	(void)state;
	RUN(mon, steps);
	bx_safety_counters(mon, &c);
	assert_int_equal(c.severances, 3);
	assert_int_equal(c.probations, 3);
	assert_int_equal(c.recoveries, 1);
	bx_safety_destroy(mon);
}

/* Severance supersedes warnings; a recovered node starts with none. */
static void test_severance_forgets(void **state)
{
	static const struct step steps[] = {
		{0, 2, {P("edge-b", 0, 40000, 0), P("edge-c", 0, 1000, 0)}, 1,
		 {EV(DEGRADATION_WARNING, "edge-b", 0, 40000)}, NORMAL},
		/* No warning for edge-c: severance says it all. */
		{5, 2, {P("edge-b", 0, 60000, 950), P("edge-c", 0, 35000, 0)}, 1,
		 {EV(SEVERANCE, "edge-b", 0, 60000)}, SEVERED},
		/* The remembered RTTs went with the tunnels: loss alone
		 * does not sever again. */
		{5010, 2, {P_NORTT("edge-b", 0, 1000), P("edge-c", 0, 1000, 0)},
		 1, {EV_NODE(PROBATION)}, PROBATION},
		{8010, 2, {P_NODATA("edge-b", 0), P("edge-c", 0, 1000, 0)}, 1,
		 {EV_NODE(RECOVERED)}, NORMAL},
		/* edge-b's old warning is gone: no clear for it. */
		{8015, 2, {P("edge-b", 0, 1000, 0), P("edge-c", 0, 1000, 0)}, 0,
		 {{0}}, NORMAL},
	};
	struct bx_safety *mon = new_monitor();
	struct bx_safety_counters c;

	(void)state;
	RUN(mon, steps);
	bx_safety_counters(mon, &c);
	assert_int_equal(c.clears, 0);
	bx_safety_destroy(mon);
}

/* A path left out of a tick is forgotten; one listed twice counts once. */
static void test_paths_come_and_go(void **state)
{
	static const struct step steps[] = {
		{0, 1, {P("edge-b", 0, 40000, 0)}, 1,
		 {EV(DEGRADATION_WARNING, "edge-b", 0, 40000)}, NORMAL},
		{5, 1, {P("edge-c", 0, 1000, 0)}, 0, {{0}}, NORMAL},
		{10, 1, {P("edge-b", 0, 40000, 0)}, 1,
		 {EV(DEGRADATION_WARNING, "edge-b", 0, 40000)}, NORMAL},
		/* The last entry of a path wins, one event. */
		{15, 2, {P("edge-b", 0, 40000, 0), P("edge-b", 0, 1000, 0)}, 1,
		 {EV(DEGRADATION_CLEARED, "edge-b", 0, 1000)}, NORMAL},
		/* Same peer, another path: another key. */
		{20, 2, {P("edge-b", 0, 1000, 0), P("edge-b", 1, 33000, 0)}, 1,
		 {EV(DEGRADATION_WARNING, "edge-b", 1, 33000)}, NORMAL},
	};
	struct bx_safety *mon = new_monitor();

	(void)state;
	RUN(mon, steps);
	bx_safety_destroy(mon);
}

/* Warnings that do not fit come with the next tick; none is lost. */
static void test_events_deferred(void **state)
{
	const struct bx_safety_path slow[] = {
		P("edge-a", 0, 31000, 0), P("edge-b", 0, 32000, 0),
		P("edge-c", 0, 33000, 0),
	};
	struct bx_safety_event ev[BX_SAFETY_EVENTS_MIN];
	struct bx_safety *mon = new_monitor();

	(void)state;
	assert_int_equal(bx_safety_evaluate(mon, slow, 3, 0, 0, ev, 2), 2);
	assert_string_equal(ev[0].peer, "edge-a");
	assert_string_equal(ev[1].peer, "edge-b");
	assert_int_equal(bx_safety_evaluate(mon, slow, 3, 5, 0, ev, 2), 1);
	assert_string_equal(ev[0].peer, "edge-c");
	assert_int_equal(ev[0].kind, BX_SAFETY_EV_DEGRADATION_WARNING);
	assert_int_equal(bx_safety_evaluate(mon, slow, 3, 10, 0, ev, 2), 0);
	bx_safety_destroy(mon);
}

static void test_evaluate_args(void **state)
{
	struct bx_safety_path p = P("edge-b", 0, 40000, 0);
	struct bx_safety_event ev[MAX_EVENTS];
	struct bx_safety_conf conf;
	struct bx_safety *mon;
	char longid[100];

	(void)state;
	bx_safety_conf_default(&conf);
	conf.max_paths = 1;
	mon = bx_safety_create(&conf, NULL, 0);
	assert_non_null(mon);
	assert_int_equal(bx_safety_evaluate(mon, &p, 1, 100, 0, ev, 1),
			 -EINVAL);
	assert_int_equal(bx_safety_evaluate(mon, NULL, 1, 100, 0, ev, 2),
			 -EINVAL);
	assert_int_equal(bx_safety_evaluate(mon, &p, 1, 100, 0, NULL, 2),
			 -EINVAL);
	assert_int_equal(bx_safety_evaluate(NULL, &p, 1, 100, 0, ev, 2),
			 -EINVAL);
	/* More paths than the monitor was sized for. */
	{
		struct bx_safety_path two[2] = {p, p};

		assert_int_equal(bx_safety_evaluate(mon, two, 2, 100, 0, ev, 2),
				 -EINVAL);
	}
	p.peer = NULL;
	assert_int_equal(bx_safety_evaluate(mon, &p, 1, 100, 0, ev, 2),
			 -EINVAL);
	/* None of these counted as a tick. */
	p.peer = "edge-b";
	assert_int_equal(bx_safety_evaluate(mon, &p, 1, 100, 0, ev, 2), 1);
	/* Time does not run backwards. */
	assert_int_equal(bx_safety_evaluate(mon, &p, 1, 99, 0, ev, 2), -EINVAL);
	assert_int_equal(bx_safety_evaluate(mon, &p, 1, 100, 0, ev, 2), 0);

	/* Over-long ids are one path on their first 63 bytes. */
	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	p.peer = longid;
	assert_int_equal(bx_safety_evaluate(mon, &p, 1, 105, 0, ev, 2), 1);
	assert_int_equal(strlen(ev[0].peer), BX_SAFETY_PEER_MAX - 1);
	longid[80] = 'y';
	assert_int_equal(bx_safety_evaluate(mon, &p, 1, 110, 0, ev, 2), 0);
	bx_safety_destroy(mon);
	bx_safety_destroy(NULL);
}

/* ---- configuration ------------------------------------------------------- */

static void test_conf_check(void **state)
{
	static const struct {
		const char *field; /* named in the message */
		size_t off;
		size_t size;
		uint64_t value;
		bool ok;
	} t[] = {
#define F(name, v, ok)                                                        \
	{ #name, offsetof(struct bx_safety_conf, name),                       \
	  sizeof(((struct bx_safety_conf *)NULL)->name), (v), (ok) }
		F(warn_rtt_us, 0, false),
		F(warn_rtt_us, 1, true),
		F(warn_rtt_us, 49999, true),
		F(warn_rtt_us, 50000, false),
		F(warn_rtt_us, 60000, false),
		F(sever_rtt_us, 30000, false),
		F(sever_rtt_us, 30001, true),
		F(sever_rtt_us, BX_SAFETY_RTT_LIMIT_US, true),
		F(sever_rtt_us, BX_SAFETY_RTT_LIMIT_US + 1, false),
		F(sever_loss_permille, 0, false),
		F(sever_loss_permille, 100, true),
		F(sever_loss_permille, 99, false), /* below healthy */
		F(sever_loss_permille, 1000, true),
		F(sever_loss_permille, 1001, false),
		F(healthy_loss_permille, 0, false),
		F(healthy_loss_permille, 1, true),
		F(healthy_loss_permille, 900, true),
		F(healthy_loss_permille, 901, false),
		F(hold_down_ms, 0, false),
		F(hold_down_ms, 1, true),
		F(hold_down_ms, BX_SAFETY_TIME_LIMIT_MS, true),
		F(hold_down_ms, BX_SAFETY_TIME_LIMIT_MS + 1, false),
		F(recovery_ms, 0, false),
		F(recovery_ms, BX_SAFETY_TIME_LIMIT_MS, true),
		F(recovery_ms, BX_SAFETY_TIME_LIMIT_MS + 1, false),
		F(max_paths, 0, false),
		F(max_paths, 1, true),
		F(max_paths, BX_SAFETY_MAX_PATHS, true),
		F(max_paths, BX_SAFETY_MAX_PATHS + 1, false),
#undef F
	};
	struct bx_safety_conf def, c;
	char err[ERR_LEN];
	size_t i;

	(void)state;
	bx_safety_conf_default(&def);
	assert_int_equal(def.warn_rtt_us, 30000);
	assert_int_equal(def.sever_rtt_us, 50000);
	assert_int_equal(def.sever_loss_permille, 900);
	assert_int_equal(def.healthy_loss_permille, 100);
	assert_int_equal(def.hold_down_ms, 5000);
	assert_int_equal(def.recovery_ms, 3000);
	assert_int_equal(bx_safety_conf_check(&def, err, sizeof(err)), 0);
	for (i = 0; i < BX_ARRAY_SIZE(t); i++) {
		c = def;
		if (t[i].size == sizeof(uint64_t)) {
			uint64_t v = t[i].value;

			memcpy((char *)&c + t[i].off, &v, sizeof(v));
		} else {
			uint32_t v = (uint32_t)t[i].value;

			memcpy((char *)&c + t[i].off, &v, sizeof(v));
		}
		err[0] = '\0';
		if (bx_safety_conf_check(&c, err, sizeof(err)) !=
		    (t[i].ok ? 0 : -EINVAL))
			fail_msg("%s = %" PRIu64 ": want %s (%s)", t[i].field,
				 t[i].value, t[i].ok ? "ok" : "EINVAL", err);
		/* A bad field is named, or the one it must agree with. */
		if (!t[i].ok && strstr(err, t[i].field) == NULL)
			fail_msg("%s = %" PRIu64 ": message \"%s\"", t[i].field,
				 t[i].value, err);
	}
	assert_int_equal(bx_safety_conf_check(NULL, err, sizeof(err)), -EINVAL);

	c = def;
	c.warn_rtt_us = 60000;
	errno = 0;
	assert_null(bx_safety_create(&c, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_string_equal(err,
			    "warn_rtt_us 60000 must be above 0 and below sever_rtt_us 50000");
}

/* ---- jamming levels ------------------------------------------------------ */

static void test_jam_levels(void **state)
{
	static const struct {
		bool has_rtt;
		uint64_t rtt_us;
		uint32_t loss;
		enum bx_jam_level want;
	} t[] = {
		/* RTT thresholds, strictly above. */
		{true, 0, 0, BX_JAM_NONE},
		{true, 5000, 0, BX_JAM_NONE},
		{true, 5001, 0, BX_JAM_LOW},
		{true, 15000, 0, BX_JAM_LOW},
		{true, 15001, 0, BX_JAM_MODERATE},
		{true, 30000, 0, BX_JAM_MODERATE},
		{true, 30001, 0, BX_JAM_HIGH},
		{true, 50000, 0, BX_JAM_HIGH},
		{true, 50001, 0, BX_JAM_HIGH},
		{true, 10000000, 0, BX_JAM_HIGH},
		/* Loss thresholds, strictly above. */
		{true, 0, 200, BX_JAM_NONE},
		{true, 0, 201, BX_JAM_MODERATE},
		{true, 0, 500, BX_JAM_MODERATE},
		{true, 0, 501, BX_JAM_HIGH},
		{true, 0, 1000, BX_JAM_HIGH},
		{true, 5001, 200, BX_JAM_LOW},
		{true, 5001, 201, BX_JAM_MODERATE},
		{true, 15001, 500, BX_JAM_MODERATE},
		{true, 15001, 501, BX_JAM_HIGH},
		/* CRITICAL: RTT above 50 ms and loss at or above 90 %. */
		{true, 50001, 899, BX_JAM_HIGH},
		{true, 50001, 900, BX_JAM_CRITICAL},
		{true, 50001, 1000, BX_JAM_CRITICAL},
		{true, 50000, 900, BX_JAM_HIGH},
		{true, 50000, 1000, BX_JAM_HIGH},
		{true, 30001, 900, BX_JAM_HIGH},
		/* No RTT: the loss alone, never CRITICAL. */
		{false, 90000, 0, BX_JAM_NONE},
		{false, 90000, 200, BX_JAM_NONE},
		{false, 90000, 201, BX_JAM_MODERATE},
		{false, 90000, 501, BX_JAM_HIGH},
		{false, 90000, 1000, BX_JAM_HIGH},
	};
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(t); i++) {
		enum bx_jam_level got =
			bx_jam_level_of(t[i].has_rtt, t[i].rtt_us, t[i].loss);

		if (got != t[i].want)
			fail_msg("rtt %s%" PRIu64 " us loss %u: %s, want %s",
				 t[i].has_rtt ? "" : "(none) ", t[i].rtt_us,
				 t[i].loss, bx_jam_level_name(got),
				 bx_jam_level_name(t[i].want));
	}
	assert_string_equal(bx_jam_level_name(BX_JAM_NONE), "NONE");
	assert_string_equal(bx_jam_level_name(BX_JAM_LOW), "LOW");
	assert_string_equal(bx_jam_level_name(BX_JAM_MODERATE), "MODERATE");
	assert_string_equal(bx_jam_level_name(BX_JAM_HIGH), "HIGH");
	assert_string_equal(bx_jam_level_name(BX_JAM_CRITICAL), "CRITICAL");
	assert_string_equal(bx_jam_level_name((enum bx_jam_level)99), "UNKNOWN");
}

static void test_jam_sample_of(void **state)
{
	const struct bx_safety_path jammed = P("edge-b", 2, 60000, 950);
	const struct bx_safety_path fresh = {
		.peer = "edge-c", .path_id = 1, .rtt_us = 99999,
		.loss_permille = 700, /* not valid without has_* */
	};
	struct bx_jam_sample s;

	(void)state;
	bx_jam_sample_of(&jammed, 1234, &s);
	assert_string_equal(s.peer, "edge-b");
	assert_int_equal(s.path_id, 2);
	assert_int_equal(s.level, BX_JAM_CRITICAL);
	assert_true(s.has_rtt);
	assert_int_equal(s.rtt_us, 60000);
	assert_int_equal(s.loss_permille, 950);
	assert_int_equal(s.unix_ms, 1234);
	bx_jam_sample_of(&fresh, 1, &s);
	assert_false(s.has_rtt);
	assert_int_equal(s.rtt_us, 0);
	assert_int_equal(s.loss_permille, 0);
	assert_int_equal(s.level, BX_JAM_NONE);
}

/* The jamming RTT: the median of the last three probes. */
static void test_jam_rtt(void **state)
{
	static const struct {
		uint64_t add;   /* the sample added */
		uint64_t want;  /* the RTT judged after it */
	} t[] = {
		{700, 700},     /* one sample: it */
		{41000, 700},   /* two: the smaller (a rise needs two) */
		{650, 700},     /* a lone spike is not jamming */
		{40000, 40000}, /* two of the last three late: it counts */
		{42000, 40000}, /* the median, not the latest or the mean */
		{39000, 40000},
		{800, 39000},   /* one fast probe does not clear it... */
		{900, 900},     /* ...two do */
		{60000, 900},
		{900, 900},
		{900, 900},
		{UINT64_MAX, 900},
		{UINT64_MAX, UINT64_MAX},
	};
	struct bx_jam_rtt r;
	uint64_t got = 1;
	size_t i;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_false(bx_jam_rtt_get(&r, &got));
	assert_int_equal(got, 0);
	for (i = 0; i < BX_ARRAY_SIZE(t); i++) {
		bx_jam_rtt_add(&r, t[i].add);
		assert_true(bx_jam_rtt_get(&r, &got));
		if (got != t[i].want)
			fail_msg("sample %zu (%" PRIu64 " us): judged %" PRIu64
				 ", want %" PRIu64, i, t[i].add, got, t[i].want);
	}
	/* Every order of three samples has the same median. */
	{
		static const uint64_t perm[6][3] = {
			{1, 2, 3}, {1, 3, 2}, {2, 1, 3},
			{2, 3, 1}, {3, 1, 2}, {3, 2, 1},
		};
		for (i = 0; i < 6; i++) {
			memset(&r, 0, sizeof(r));
			bx_jam_rtt_add(&r, perm[i][0] * 1000);
			bx_jam_rtt_add(&r, perm[i][1] * 1000);
			bx_jam_rtt_add(&r, perm[i][2] * 1000);
			assert_true(bx_jam_rtt_get(&r, &got));
			assert_int_equal(got, 2000);
		}
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(bx_safety_state_name(BX_SAFETY_NORMAL), "NORMAL");
	assert_string_equal(bx_safety_state_name(BX_SAFETY_SEVERED), "SEVERED");
	assert_string_equal(bx_safety_state_name(BX_SAFETY_PROBATION),
			    "PROBATION");
	assert_string_equal(bx_safety_state_name((enum bx_safety_state)7),
			    "UNKNOWN");
	assert_string_equal(bx_safety_event_name(BX_SAFETY_EV_DEGRADATION_WARNING),
			    "DegradationWarning");
	assert_string_equal(bx_safety_event_name(BX_SAFETY_EV_DEGRADATION_CLEARED),
			    "DegradationCleared");
	assert_string_equal(bx_safety_event_name(BX_SAFETY_EV_SEVERANCE),
			    "SafetySeverance");
	assert_string_equal(bx_safety_event_name(BX_SAFETY_EV_PROBATION),
			    "SafetyProbation");
	assert_string_equal(bx_safety_event_name(BX_SAFETY_EV_RECOVERED),
			    "SafetyRecovered");
}

/* ---- the local gRPC services --------------------------------------------- */

#ifdef BX_SAFETY_SERVER

/* How long a test waits for something that should take milliseconds. */
#define WAIT_MS 5000
/* The stalled subscriber's HTTP/2 stream window: it takes this much. */
#define RAW_WINDOW 1024u
#define STALL_ROUNDS 40u
#define STALL_SAMPLES 100u
/* Generous for a sanitized build; a publish takes about a millisecond. */
#define PUBLISH_MAX_US 100000u

struct srv_fx {
	char dir[32];
	char path[96];
	char addr[128];
	struct bx_safety_server *srv;
	struct bx_rpc_channel *ch;
};

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct bx_rpc_channel *local_channel(const char *target)
{
	const struct bx_rpc_client_creds creds = {.kind = BX_RPC_CREDS_LOCAL};
	char err[ERR_LEN] = "";
	struct bx_rpc_channel *ch = bx_rpc_channel_create(target, &creds, err,
							  sizeof(err));

	if (ch == NULL)
		fail_msg("channel %s: %s", target, err);
	return ch;
}

static int srv_setup(void **state)
{
	struct srv_fx *f = calloc(1, sizeof(*f));
	char err[ERR_LEN] = "";

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/bx_safety_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/safety.sock", f->dir);
	snprintf(f->addr, sizeof(f->addr), "unix:%s", f->path);
	f->srv = bx_safety_server_start(f->addr, err, sizeof(err));
	if (f->srv == NULL)
		fail_msg("server: %s", err);
	f->ch = local_channel(f->addr);
	*state = f;
	return 0;
}

static int srv_teardown(void **state)
{
	struct srv_fx *f = *state;

	bx_rpc_channel_destroy(f->ch);
	bx_safety_server_stop(f->srv);
	/* The socket went with the server. */
	assert_int_equal(access(f->path, F_OK), -1);
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static struct bx_rpc_call *open_stream(struct bx_rpc_channel *ch,
				       const char *method)
{
	static const uint8_t empty[1];
	struct bx_rpc_call *c;

	assert_int_equal(bx_rpc_call_open_stream(ch, method, empty, 0, &c), 0);
	return c;
}

static Bauxite__V1__SafetyEvent *next_event(struct bx_rpc_call *c)
{
	Bauxite__V1__SafetyEvent *e;
	uint8_t *m;
	size_t len;

	assert_int_equal(bx_rpc_call_next(c, WAIT_MS, &m, &len), 0);
	e = bauxite__v1__safety_event__unpack(NULL, len, m);
	free(m);
	assert_non_null(e);
	return e;
}

static Bauxite__V1__JammingStateResponse *next_jam(struct bx_rpc_call *c)
{
	Bauxite__V1__JammingStateResponse *r;
	uint8_t *m;
	size_t len;

	assert_int_equal(bx_rpc_call_next(c, WAIT_MS, &m, &len), 0);
	r = bauxite__v1__jamming_state_response__unpack(NULL, len, m);
	free(m);
	assert_non_null(r);
	return r;
}

static struct bx_safety_server_stats stats_of(struct bx_safety_server *srv)
{
	struct bx_safety_server_stats st;

	bx_safety_server_stats(srv, &st);
	return st;
}

/* Waits until the server counts @events and @jamming open streams. */
static void wait_subscribers(struct bx_safety_server *srv, uint32_t events,
			     uint32_t jamming)
{
	uint64_t until = mono_us() + WAIT_MS * 1000u;
	struct bx_safety_server_stats st;

	do {
		st = stats_of(srv);
		if (st.event_subscribers == events &&
		    st.jamming_subscribers == jamming)
			return;
		usleep(1000);
	} while (mono_us() < until);
	fail_msg("subscribers: %u events, %u jamming; want %u, %u",
		 st.event_subscribers, st.jamming_subscribers, events, jamming);
}

/* The stream ends with @code; returns how many messages came first. */
static int expect_end(struct bx_rpc_call *c, enum bx_rpc_code code,
		      const char *why)
{
	enum bx_rpc_code got;
	const char *msg;
	uint8_t *m;
	size_t len;
	int n = 0, rc;

	while ((rc = bx_rpc_call_next(c, WAIT_MS, &m, &len)) == 0) {
		free(m);
		n++;
	}
	assert_int_equal(rc, -EPIPE);
	assert_int_equal(bx_rpc_call_status(c, &got, &msg), 0);
	if (got != code || (why != NULL && strstr(msg, why) == NULL))
		fail_msg("stream ended %s \"%s\", want %s", bx_rpc_code_name(got),
			 msg, bx_rpc_code_name(code));
	return n;
}

/* A monitor's tick, published as the application does. */
static unsigned int tick_publish(struct bx_safety *mon,
				 struct bx_safety_server *srv,
				 const struct bx_safety_path *p, unsigned int n,
				 uint64_t t_ms, struct bx_safety_event *ev)
{
	int k = bx_safety_evaluate(mon, p, n, t_ms, 1700000000000ull + t_ms,
				   ev, MAX_EVENTS);
	int i;

	assert_true(k >= 0);
	for (i = 0; i < k; i++)
		assert_int_equal(bx_safety_server_publish_event(
					 srv, &ev[i], bx_safety_state(mon)),
				 0);
	return (unsigned int)k;
}

static void expect_event(struct bx_rpc_call *c,
			 Bauxite__V1__SafetyEvent__Kind kind,
			 Bauxite__V1__SafetyState st,
			 const struct bx_safety_event *want)
{
	Bauxite__V1__SafetyEvent *e = next_event(c);

	assert_int_equal(e->kind, kind);
	assert_int_equal(e->state, st);
	assert_string_equal(e->peer, want->peer);
	assert_int_equal(e->path_id, want->path_id);
	assert_int_equal(e->rtt_us, want->rtt_us);
	assert_int_equal(e->loss_permille, want->loss_permille);
	assert_int_equal(e->unix_ms, want->unix_ms);
	assert_string_equal(e->message, want->message);
	bauxite__v1__safety_event__free_unpacked(e, NULL);
}

static void test_server_events(void **state)
{
	struct srv_fx *f = *state;
	const struct bx_safety_path slow = P("edge-b", 0, 41200, 0);
	const struct bx_safety_path jam = P("edge-b", 0, 62500, 950);
	const struct bx_safety_path calm = P("edge-b", 0, 1000, 0);
	struct bx_safety_event warn, sev, prob, rec, ev[MAX_EVENTS];
	struct bx_safety *mon = new_monitor();
	struct bx_safety_server_stats st;
	Bauxite__V1__SafetyEvent *e;
	struct bx_rpc_call *c1, *c2;
	uint64_t before = (uint64_t)time(NULL) * 1000u;

	c1 = open_stream(f->ch, BX_SAFETY_EVENTS_METHOD);
	/* First the state the node is in. */
	e = next_event(c1);
	assert_int_equal(e->kind, BAUXITE__V1__SAFETY_EVENT__KIND__STATE);
	assert_int_equal(e->state, BAUXITE__V1__SAFETY_STATE__SAFETY_STATE_NORMAL);
	assert_string_equal(e->message, "node state NORMAL");
	assert_string_equal(e->peer, "");
	/* NORMAL since the server started, a moment ago. */
	assert_true(e->unix_ms + 60000u >= before);
	bauxite__v1__safety_event__free_unpacked(e, NULL);

	assert_int_equal(tick_publish(mon, f->srv, &slow, 1, 0, ev), 1);
	warn = ev[0];
	assert_int_equal(tick_publish(mon, f->srv, &jam, 1, 5, ev), 1);
	sev = ev[0];
	/* A watcher arriving now learns the node is severed, and since when. */
	c2 = open_stream(f->ch, BX_SAFETY_EVENTS_METHOD);
	e = next_event(c2);
	assert_int_equal(e->kind, BAUXITE__V1__SAFETY_EVENT__KIND__STATE);
	assert_int_equal(e->state, BAUXITE__V1__SAFETY_STATE__SAFETY_STATE_SEVERED);
	assert_int_equal(e->unix_ms, sev.unix_ms);
	assert_string_equal(e->message, "node state SEVERED");
	bauxite__v1__safety_event__free_unpacked(e, NULL);
	assert_int_equal(tick_publish(mon, f->srv, &calm, 1, 5005, ev), 1);
	prob = ev[0];
	assert_int_equal(tick_publish(mon, f->srv, &calm, 1, 8005, ev), 1);
	rec = ev[0];

	expect_event(c1, BAUXITE__V1__SAFETY_EVENT__KIND__DEGRADATION_WARNING,
		     BAUXITE__V1__SAFETY_STATE__SAFETY_STATE_NORMAL, &warn);
	expect_event(c1, BAUXITE__V1__SAFETY_EVENT__KIND__SAFETY_SEVERANCE,
		     BAUXITE__V1__SAFETY_STATE__SAFETY_STATE_SEVERED, &sev);
	expect_event(c1, BAUXITE__V1__SAFETY_EVENT__KIND__SAFETY_PROBATION,
		     BAUXITE__V1__SAFETY_STATE__SAFETY_STATE_PROBATION, &prob);
	expect_event(c1, BAUXITE__V1__SAFETY_EVENT__KIND__SAFETY_RECOVERED,
		     BAUXITE__V1__SAFETY_STATE__SAFETY_STATE_NORMAL, &rec);
	expect_event(c2, BAUXITE__V1__SAFETY_EVENT__KIND__SAFETY_PROBATION,
		     BAUXITE__V1__SAFETY_STATE__SAFETY_STATE_PROBATION, &prob);
	expect_event(c2, BAUXITE__V1__SAFETY_EVENT__KIND__SAFETY_RECOVERED,
		     BAUXITE__V1__SAFETY_STATE__SAFETY_STATE_NORMAL, &rec);

	st = stats_of(f->srv);
	assert_int_equal(st.event_subscribers, 2);
	assert_int_equal(st.jamming_subscribers, 0);
	assert_int_equal(st.sent, 1 + 4 + 1 + 2);
	assert_int_equal(st.dropped, 0);
	bx_rpc_call_free(c1);
	wait_subscribers(f->srv, 1, 0);
	bx_rpc_call_free(c2);
	wait_subscribers(f->srv, 0, 0);
	assert_int_equal(bx_safety_server_publish_event(f->srv, NULL,
							BX_SAFETY_NORMAL),
			 -EINVAL);
	bx_safety_destroy(mon);
}

static void test_server_jamming(void **state)
{
	static const struct {
		struct bx_safety_path path;
		Bauxite__V1__ThreatLevel level;
	} t[] = {
		{P("edge-a", 0, 4000, 0), BAUXITE__V1__THREAT_LEVEL__THREAT_NONE},
		{P("edge-b", 1, 10000, 0), BAUXITE__V1__THREAT_LEVEL__THREAT_LOW},
		{P("edge-c", 2, 20000, 300),
		 BAUXITE__V1__THREAT_LEVEL__THREAT_MODERATE},
		{P_NORTT("edge-d", 3, 600), BAUXITE__V1__THREAT_LEVEL__THREAT_HIGH},
		{P("edge-e", 4, 60000, 950),
		 BAUXITE__V1__THREAT_LEVEL__THREAT_CRITICAL},
	};
	const unsigned int rounds = 3, n = BX_ARRAY_SIZE(t);
	struct bx_jam_sample samples[BX_ARRAY_SIZE(t)];
	struct srv_fx *f = *state;
	Bauxite__V1__JammingStateResponse *r;
	struct bx_rpc_call *c[2];
	unsigned int i, k, round;
	uint8_t *m;
	size_t len;

	/* Nobody listens: nothing is sent. */
	for (i = 0; i < n; i++)
		bx_jam_sample_of(&t[i].path, 1000, &samples[i]);
	assert_int_equal(bx_safety_server_publish_jamming(f->srv, samples, n), 0);
	assert_int_equal(stats_of(f->srv).sent, 0);

	c[0] = open_stream(f->ch, BX_SAFETY_JAMMING_METHOD);
	c[1] = open_stream(f->ch, BX_SAFETY_JAMMING_METHOD);
	wait_subscribers(f->srv, 0, 2);
	for (round = 0; round < rounds; round++) {
		for (i = 0; i < n; i++)
			bx_jam_sample_of(&t[i].path, 2000 + 50 * round,
					 &samples[i]);
		assert_int_equal(bx_safety_server_publish_jamming(f->srv,
								  samples, n),
				 0);
	}
	/* Each subscriber: one message per sample and publish, in order. */
	for (k = 0; k < 2; k++) {
		for (round = 0; round < rounds; round++) {
			for (i = 0; i < n; i++) {
				r = next_jam(c[k]);
				assert_string_equal(r->peer, t[i].path.peer);
				assert_int_equal(r->path_id, t[i].path.path_id);
				assert_int_equal(r->level, t[i].level);
				assert_int_equal(r->has_rtt, t[i].path.has_rtt);
				assert_int_equal(r->rtt_us, t[i].path.rtt_us);
				assert_int_equal(r->loss_permille,
						 t[i].path.loss_permille);
				assert_int_equal(r->unix_ms, 2000 + 50 * round);
				bauxite__v1__jamming_state_response__free_unpacked(
					r, NULL);
			}
		}
		assert_int_equal(bx_rpc_call_next(c[k], 100, &m, &len), -EAGAIN);
	}
	assert_int_equal(stats_of(f->srv).sent, 2 * rounds * n);
	assert_int_equal(stats_of(f->srv).dropped, 0);
	assert_int_equal(bx_safety_server_publish_jamming(f->srv, NULL, 1),
			 -EINVAL);
	bx_rpc_call_free(c[0]);
	bx_rpc_call_free(c[1]);
	wait_subscribers(f->srv, 0, 0);
}

/* ---- a subscriber that stops reading: raw HTTP/2 over the socket ---------- */

#define H2_FRAME_HDR 9u
#define H2_DATA 0x0
#define H2_HEADERS 0x1
#define H2_SETTINGS 0x4
#define H2_FLAG_END_STREAM 0x1
#define H2_FLAG_ACK 0x1
#define H2_FLAG_END_HEADERS 0x4
#define H2_SETTINGS_INITIAL_WINDOW_SIZE 0x4
#define GRPC_MSG_HDR 5u

static size_t h2_frame(uint8_t *b, uint32_t len, uint8_t type, uint8_t flags,
		       uint32_t stream)
{
	b[0] = (uint8_t)(len >> 16);
	b[1] = (uint8_t)(len >> 8);
	b[2] = (uint8_t)len;
	b[3] = type;
	b[4] = flags;
	b[5] = (uint8_t)(stream >> 24);
	b[6] = (uint8_t)(stream >> 16);
	b[7] = (uint8_t)(stream >> 8);
	b[8] = (uint8_t)stream;
	return H2_FRAME_HDR;
}

/* HPACK "literal header field without indexing, new name", no Huffman. */
static size_t hpack_literal(uint8_t *b, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value), n = 0;

	assert_true(nl < 127 && vl < 127);
	b[n++] = 0x00;
	b[n++] = (uint8_t)nl;
	memcpy(b + n, name, nl);
	n += nl;
	b[n++] = (uint8_t)vl;
	memcpy(b + n, value, vl);
	return n + vl;
}

static void write_all(int fd, const uint8_t *b, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, b, len);

		assert_true(w > 0);
		b += w;
		len -= (size_t)w;
	}
}

static void read_all(int fd, uint8_t *b, size_t len)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	while (len > 0) {
		ssize_t r;

		assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
		r = read(fd, b, len);
		assert_true(r > 0);
		b += r;
		len -= (size_t)r;
	}
}

/*
 * Opens JammingService.Subscribe over @path with a stream window of
 * RAW_WINDOW bytes and acknowledges the server's settings; after that the
 * caller never reads again, so the server can send RAW_WINDOW bytes and no
 * more: a watchdog that hung.
 */
static int raw_subscribe(const char *path)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint8_t out[512], hdr[H2_FRAME_HDR], payload[256];
	size_t n = 0, hstart, hlen;
	uint32_t flen;
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);

	memcpy(out, preface, sizeof(preface) - 1);
	n += sizeof(preface) - 1;
	n += h2_frame(out + n, 6, H2_SETTINGS, 0, 0);
	out[n++] = 0;
	out[n++] = H2_SETTINGS_INITIAL_WINDOW_SIZE;
	out[n++] = (uint8_t)(RAW_WINDOW >> 24);
	out[n++] = (uint8_t)(RAW_WINDOW >> 16);
	out[n++] = (uint8_t)(RAW_WINDOW >> 8);
	out[n++] = (uint8_t)RAW_WINDOW;
	hstart = n;
	n += H2_FRAME_HDR;
	n += hpack_literal(out + n, ":method", "POST");
	n += hpack_literal(out + n, ":scheme", "http");
	n += hpack_literal(out + n, ":path", BX_SAFETY_JAMMING_METHOD);
	n += hpack_literal(out + n, ":authority", "localhost");
	n += hpack_literal(out + n, "content-type", "application/grpc");
	n += hpack_literal(out + n, "te", "trailers");
	hlen = n - hstart - H2_FRAME_HDR;
	(void)h2_frame(out + hstart, (uint32_t)hlen, H2_HEADERS,
		       H2_FLAG_END_HEADERS, 1);
	/* The request: one empty gRPC message, then the client is done. */
	n += h2_frame(out + n, GRPC_MSG_HDR, H2_DATA, H2_FLAG_END_STREAM, 1);
	memset(out + n, 0, GRPC_MSG_HDR);
	n += GRPC_MSG_HDR;
	write_all(fd, out, n);

	/* The server's SETTINGS come first; acknowledge them. */
	for (;;) {
		read_all(fd, hdr, H2_FRAME_HDR);
		flen = (uint32_t)hdr[0] << 16 | (uint32_t)hdr[1] << 8 | hdr[2];
		assert_true(flen <= sizeof(payload));
		read_all(fd, payload, flen);
		if (hdr[3] == H2_SETTINGS && !(hdr[4] & H2_FLAG_ACK))
			break;
	}
	n = h2_frame(out, 0, H2_SETTINGS, H2_FLAG_ACK, 0);
	write_all(fd, out, n);
	return fd;
}

static void test_server_stalled_subscriber(void **state)
{
	struct srv_fx *f = *state;
	struct bx_jam_sample samples[STALL_SAMPLES];
	struct bx_safety_path p = P("", 0, 20000, 0);
	Bauxite__V1__JammingStateResponse *r;
	struct bx_safety_server_stats st;
	uint64_t t0, took, slowest = 0;
	struct bx_rpc_call *fast;
	char peer[16];
	unsigned int round, i;
	int raw;

	fast = open_stream(f->ch, BX_SAFETY_JAMMING_METHOD);
	raw = raw_subscribe(f->path);
	wait_subscribers(f->srv, 0, 2);
	for (round = 0; round < STALL_ROUNDS; round++) {
		for (i = 0; i < STALL_SAMPLES; i++) {
			snprintf(peer, sizeof(peer), "p%03u", i);
			p.peer = peer;
			p.path_id = (uint8_t)round;
			bx_jam_sample_of(&p, round, &samples[i]);
		}
		t0 = mono_us();
		assert_int_equal(bx_safety_server_publish_jamming(
					 f->srv, samples, STALL_SAMPLES),
				 0);
		took = mono_us() - t0;
		if (took > slowest)
			slowest = took;
		/* The reader that keeps up gets every one, in order. */
		for (i = 0; i < STALL_SAMPLES; i++) {
			r = next_jam(fast);
			snprintf(peer, sizeof(peer), "p%03u", i);
			assert_string_equal(r->peer, peer);
			assert_int_equal(r->path_id, round);
			bauxite__v1__jamming_state_response__free_unpacked(r,
									   NULL);
		}
	}
	st = stats_of(f->srv);
	/* The stalled one took a window and a queue's worth, lost the rest,
	 * and is still subscribed. */
	assert_int_equal(st.sent + st.dropped, 2 * STALL_ROUNDS * STALL_SAMPLES);
	assert_true(st.dropped >= STALL_ROUNDS * STALL_SAMPLES -
					  BX_RPC_STREAM_QUEUE_MAX - RAW_WINDOW);
	assert_int_equal(st.jamming_subscribers, 2);
	if (slowest > PUBLISH_MAX_US)
		fail_msg("a publish took %" PRIu64 " us", slowest);
	/* Hanging up frees its place. */
	close(raw);
	wait_subscribers(f->srv, 0, 1);
	bx_rpc_call_free(fast);
	wait_subscribers(f->srv, 0, 0);
}

static void test_server_limits(void **state)
{
	struct srv_fx *f = *state;
	struct bx_rpc_call *c[BX_SAFETY_SERVER_MAX_SUBSCRIBERS], *extra;
	Bauxite__V1__SafetyEvent *e;
	unsigned int i;

	for (i = 0; i < BX_SAFETY_SERVER_MAX_SUBSCRIBERS; i++) {
		c[i] = open_stream(f->ch, BX_SAFETY_EVENTS_METHOD);
		e = next_event(c[i]);
		bauxite__v1__safety_event__free_unpacked(e, NULL);
	}
	extra = open_stream(f->ch, BX_SAFETY_JAMMING_METHOD);
	assert_int_equal(expect_end(extra, BX_RPC_RESOURCE_EXHAUSTED,
				    "too many subscribers"),
			 0);
	bx_rpc_call_free(extra);
	assert_int_equal(stats_of(f->srv).refused, 1);
	/* A place freed is a place taken. */
	bx_rpc_call_free(c[0]);
	wait_subscribers(f->srv, BX_SAFETY_SERVER_MAX_SUBSCRIBERS - 1, 0);
	c[0] = open_stream(f->ch, BX_SAFETY_JAMMING_METHOD);
	wait_subscribers(f->srv, BX_SAFETY_SERVER_MAX_SUBSCRIBERS - 1, 1);

	/* A request that is not the service's message. */
	assert_int_equal(bx_rpc_call_open_stream(f->ch, BX_SAFETY_EVENTS_METHOD,
						 "\xff", 1, &extra),
			 0);
	assert_int_equal(expect_end(extra, BX_RPC_INVALID_ARGUMENT,
				    "does not decode"),
			 0);
	bx_rpc_call_free(extra);
	for (i = 0; i < BX_SAFETY_SERVER_MAX_SUBSCRIBERS; i++)
		bx_rpc_call_free(c[i]);
	wait_subscribers(f->srv, 0, 0);
}

/* Stopping ends open streams; the socket goes (checked in teardown). */
static void test_server_stop(void **state)
{
	struct srv_fx *f = *state;
	struct bx_rpc_call *c = open_stream(f->ch, BX_SAFETY_EVENTS_METHOD);
	Bauxite__V1__SafetyEvent *e = next_event(c);
	enum bx_rpc_code code;
	uint8_t *m;
	size_t len;

	bauxite__v1__safety_event__free_unpacked(e, NULL);
	bx_safety_server_stop(f->srv);
	f->srv = NULL;
	/* gRPC tells the client UNAVAILABLE; anything but OK will do. */
	assert_int_equal(bx_rpc_call_next(c, WAIT_MS, &m, &len), -EPIPE);
	assert_int_equal(bx_rpc_call_status(c, &code, NULL), 0);
	assert_int_not_equal(code, BX_RPC_OK);
	bx_rpc_call_free(c);
}

/* Without TLS: unix sockets and loopback only. */
static void test_server_local_only(void **state)
{
	static const char *const bad[] = {
		"0.0.0.0:7700", "10.0.0.1:7700", "[::]:7700", "localhost:7700",
	};
	struct bx_safety_server *srv;
	struct bx_rpc_channel *ch;
	struct bx_rpc_call *c;
	Bauxite__V1__SafetyEvent *e;
	char err[ERR_LEN], target[32];
	size_t i;

	(void)state;
	for (i = 0; i < BX_ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		errno = 0;
		assert_null(bx_safety_server_start(bad[i], err, sizeof(err)));
		assert_int_equal(errno, EINVAL);
		if (strstr(err, bad[i]) == NULL ||
		    strstr(err, "without TLS") == NULL)
			fail_msg("%s: message \"%s\"", bad[i], err);
	}
	srv = bx_safety_server_start("127.0.0.1:0", err, sizeof(err));
	if (srv == NULL)
		fail_msg("127.0.0.1:0: %s", err);
	assert_true(bx_safety_server_port(srv) > 0);
	snprintf(target, sizeof(target), "127.0.0.1:%u",
		 bx_safety_server_port(srv));
	ch = local_channel(target);
	c = open_stream(ch, BX_SAFETY_EVENTS_METHOD);
	e = next_event(c);
	assert_int_equal(e->kind, BAUXITE__V1__SAFETY_EVENT__KIND__STATE);
	bauxite__v1__safety_event__free_unpacked(e, NULL);
	bx_rpc_call_free(c);
	bx_rpc_channel_destroy(ch);
	bx_safety_server_stop(srv);
	bx_safety_server_stop(NULL);
}

#endif /* BX_SAFETY_SERVER */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_warn_enter_clear_once),
		cmocka_unit_test(test_event_messages),
		cmocka_unit_test(test_severance_needs_both),
		cmocka_unit_test(test_severance_per_peer),
		cmocka_unit_test(test_recovery_per_peer),
		cmocka_unit_test(test_last_known_rtt),
		cmocka_unit_test(test_hold_down_exact),
		cmocka_unit_test(test_recovery_continuous),
		cmocka_unit_test(test_relapse_restarts_hold_down),
		cmocka_unit_test(test_severance_forgets),
		cmocka_unit_test(test_paths_come_and_go),
		cmocka_unit_test(test_events_deferred),
		cmocka_unit_test(test_evaluate_args),
		cmocka_unit_test(test_conf_check),
		cmocka_unit_test(test_jam_levels),
		cmocka_unit_test(test_jam_sample_of),
		cmocka_unit_test(test_jam_rtt),
		cmocka_unit_test(test_names),
#ifdef BX_SAFETY_SERVER
#define SRV(t) cmocka_unit_test_setup_teardown(t, srv_setup, srv_teardown)
		SRV(test_server_events),
		SRV(test_server_jamming),
		SRV(test_server_stalled_subscriber),
		SRV(test_server_limits),
		SRV(test_server_stop),
#undef SRV
		cmocka_unit_test(test_server_local_only),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
