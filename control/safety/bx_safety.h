/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The safety monitor (DESIGN §4 Safety) and the jamming threat levels.
 *
 * The control lcore calls bx_safety_evaluate() every 5 ms with each path's
 * latest measurements (RTT of the latest probe, loss over the probe
 * window, from lib/probe). The monitor decides; the application acts on
 * its decisions: it tears the tunnels down and wipes their keys on
 * SafetySeverance, refuses handshakes while bx_safety_may_handshake() is
 * false, forwards no data while bx_safety_may_forward() is false, and
 * passes the events on to its log, the local event stream
 * (bx_safety_server.h) and the hub's metrics (the counters).
 *
 * Policy
 *   The node is in one of three states:
 *
 *     NORMAL --severance--> SEVERED --hold-down over--> PROBATION
 *        ^                     ^                            |
 *        |                     +---------severance----------+
 *        +-------------------recovery-----------------------+
 *
 *   NORMAL     data flows. Per path, DegradationWarning when its RTT
 *              rises above warn_rtt_us (once, when it crosses, not every
 *              5 ms) and DegradationCleared when it falls back to
 *              warn_rtt_us or below.
 *   severance  any path with RTT > sever_rtt_us AND loss >=
 *              sever_loss_permille whose peer has no other path that can
 *              carry traffic (one with an RTT and loss below
 *              sever_loss_permille; with multi-path bonding the traffic
 *              leaves the jammed path): SafetySeverance naming that path
 *              (the first such in the caller's array), state SEVERED.
 *              Paths of one peer are those with the same peer id.
 *              With 95 % loss fresh RTT samples are rare, so a path's
 *              RTT is its latest known one: the monitor remembers the
 *              last RTT each path reported and uses it while the path
 *              reports none (has_rtt false). Severance supersedes the
 *              warnings: they are forgotten without a Cleared event (a
 *              watchdog drops them on SafetySeverance), and so are the
 *              remembered RTTs, which described tunnels that are gone.
 *   SEVERED    hold_down_ms long: no handshakes, no data. The app tears
 *              every tunnel down; it must also reset the paths' probe
 *              windows (has_rtt and has_loss false until fresh probes
 *              are answered), otherwise the measurements of the torn-down
 *              tunnels would sever the node again on its first tick in
 *              PROBATION.
 *   PROBATION  SafetyProbation once the hold-down is over: handshakes and
 *              probes are allowed again, data is still blocked. A path
 *              meeting the severance condition sends the node back to
 *              SEVERED with a new hold-down. The node recovers
 *              (SafetyRecovered, NORMAL) once the paths are healthy
 *              continuously for recovery_ms, healthy meaning: every path
 *              with an RTT (reported or remembered) has RTT <=
 *              warn_rtt_us and a known loss < healthy_loss_permille, or
 *              another path of its peer has, and at least one path has an
 *              RTT. Paths without an RTT are not
 *              counted either way, but a node whose paths have none at
 *              all does not recover: no data is not good news. A node
 *              with no paths at all (no peers) recovers after recovery_ms.
 *              Any unhealthy evaluation restarts the recovery_ms clock.
 *
 *   Every tick makes at most one move along each arrow; when the hold-down
 *   ends, PROBATION judges the paths in the same tick (so it can relapse at
 *   once, or start its recovery clock at the moment it began).
 *
 * Time and clocks: the caller passes @now_ms (monotonic, for hold-down and
 * recovery) and @unix_ms (wall clock, only copied into the events). The
 * monitor has no clock of its own.
 *
 * Threads: a monitor belongs to one thread (the control lcore); nothing
 * here locks. No allocation after bx_safety_create, no logging.
 */
#ifndef BX_SAFETY_H
#define BX_SAFETY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A peer's node id with its NUL, as lib/peer's BX_PEER_ID_MAX. */
#define BX_SAFETY_PEER_MAX 64u
/* An event's human-readable line with its NUL. */
#define BX_SAFETY_MESSAGE_MAX 160u

/* Defaults of struct bx_safety_conf (DESIGN §4). */
#define BX_SAFETY_WARN_RTT_US 30000u
#define BX_SAFETY_SEVER_RTT_US 50000u
#define BX_SAFETY_SEVER_LOSS_PERMILLE 900u
#define BX_SAFETY_HEALTHY_LOSS_PERMILLE 100u
#define BX_SAFETY_HOLD_DOWN_MS 5000u
#define BX_SAFETY_RECOVERY_MS 3000u
#define BX_SAFETY_MAX_PATHS_DEFAULT 4096u

/* Bounds bx_safety_conf_check() enforces. */
#define BX_SAFETY_RTT_LIMIT_US 10000000u /* 10 s: beyond any real path */
#define BX_SAFETY_PERMILLE 1000u
#define BX_SAFETY_TIME_LIMIT_MS 3600000u /* hold-down, recovery: 1 hour */
/* Paths, not peers: two tables of 2 x 64 Ki entries, about 23 MB. */
#define BX_SAFETY_MAX_PATHS (1u << 16)

/*
 * Events one evaluation may produce besides the per-path warnings: a
 * state change, or two when a hold-down ends (SafetyProbation, then
 * SafetySeverance or nothing). Event buffers hold at least this many.
 */
#define BX_SAFETY_EVENTS_MIN 2u

enum bx_safety_state {
	BX_SAFETY_NORMAL,
	BX_SAFETY_SEVERED,
	BX_SAFETY_PROBATION,
};

enum bx_safety_event_kind {
	BX_SAFETY_EV_DEGRADATION_WARNING,
	BX_SAFETY_EV_DEGRADATION_CLEARED,
	BX_SAFETY_EV_SEVERANCE,
	BX_SAFETY_EV_PROBATION,
	BX_SAFETY_EV_RECOVERED,
};

struct bx_safety_conf {
	uint64_t warn_rtt_us;           /* DegradationWarning above */
	uint64_t sever_rtt_us;          /* severance: RTT above ... */
	uint32_t sever_loss_permille;   /* ... and loss at or above */
	uint32_t healthy_loss_permille; /* recovery: loss below */
	uint32_t hold_down_ms;          /* SEVERED lasts */
	uint32_t recovery_ms;           /* PROBATION healthy for */
	/* Paths one evaluation may carry: the peers times their uplinks. */
	uint32_t max_paths;
};

/* One path's measurements for one evaluation. */
struct bx_safety_path {
	/* The peer's node id; ids compare on their first
	 * BX_SAFETY_PEER_MAX - 1 bytes. Read during the call only. */
	const char *peer;
	uint8_t path_id;
	bool has_rtt;           /* a probe has been answered */
	bool has_loss;          /* enough probes sent to know the loss */
	uint64_t rtt_us;        /* latest RTT, valid with has_rtt */
	uint32_t loss_permille; /* 0..1000, valid with has_loss */
};

struct bx_safety_event {
	enum bx_safety_event_kind kind;
	/* The path concerned; "" and 0 for PROBATION and RECOVERED. */
	char peer[BX_SAFETY_PEER_MAX];
	uint8_t path_id;
	uint64_t rtt_us;        /* the RTT judged (possibly remembered) */
	uint32_t loss_permille; /* the loss judged; 0 when unknown */
	uint64_t unix_ms;       /* the caller's wall clock */
	/* "peer edge-b path 0: RTT 41.2 ms > 30 ms" */
	char message[BX_SAFETY_MESSAGE_MAX];
};

struct bx_safety_counters {
	uint64_t warnings;
	uint64_t clears;
	uint64_t severances;
	uint64_t probations;
	uint64_t recoveries;
};

struct bx_safety;

/* The defaults above, for a caller (the config loader) to override. */
void bx_safety_conf_default(struct bx_safety_conf *conf);

/*
 * Checks @conf before anything uses it, so the application can refuse a
 * bad config at start naming the field ("safety.<field>" in bauxite-app's
 * config): warn_rtt_us in 1..sever_rtt_us - 1, sever_rtt_us up to
 * BX_SAFETY_RTT_LIMIT_US, sever_loss_permille 1..1000,
 * healthy_loss_permille 1..sever_loss_permille (a recovered path must not
 * be one that severs), hold_down_ms and recovery_ms 1..BX_SAFETY_TIME_LIMIT_MS,
 * max_paths 1..BX_SAFETY_MAX_PATHS. Returns 0, or -EINVAL with @err
 * ("warn_rtt_us 60000 must be below sever_rtt_us 50000") when @errlen > 0.
 */
int bx_safety_conf_check(const struct bx_safety_conf *conf, char *err,
			 size_t errlen);

/*
 * A monitor in state NORMAL with @conf (checked as bx_safety_conf_check,
 * copied). Its memory for conf.max_paths paths is allocated here, once.
 * Returns NULL with errno EINVAL (@err says which field) or ENOMEM.
 */
struct bx_safety *bx_safety_create(const struct bx_safety_conf *conf,
				   char *err, size_t errlen);

/* Frees the monitor. Accepts NULL. */
void bx_safety_destroy(struct bx_safety *mon);

/*
 * One tick: judges @n paths (all the node has: a path missing from a tick
 * is forgotten, warning and remembered RTT with it, silently) at @now_ms
 * and writes the resulting events, in order, to @events (room for @max >=
 * BX_SAFETY_EVENTS_MIN). Returns how many (0 on most ticks).
 *
 * A state change always fits. Warnings and clears that do not fit are not
 * lost: the path keeps its old standing and the next tick reports it.
 * A path listed twice counts once, with its last entry. Returns -EINVAL
 * (and changes nothing) for NULL arguments, @max < BX_SAFETY_EVENTS_MIN,
 * @n > conf.max_paths or @now_ms earlier than the previous tick's.
 */
int bx_safety_evaluate(struct bx_safety *mon,
		       const struct bx_safety_path *paths, unsigned int n,
		       uint64_t now_ms, uint64_t unix_ms,
		       struct bx_safety_event *events, unsigned int max);

enum bx_safety_state bx_safety_state(const struct bx_safety *mon);

/* Whether handshakes may run: not in SEVERED (the hold-down). */
bool bx_safety_may_handshake(const struct bx_safety *mon);

/* Whether data may be forwarded: only in NORMAL. */
bool bx_safety_may_forward(const struct bx_safety *mon);

/* Events so far, by kind, for telemetry and the hub's metrics. */
void bx_safety_counters(const struct bx_safety *mon,
			struct bx_safety_counters *out);

/* "NORMAL", "SEVERED", "PROBATION"; "UNKNOWN" outside the enum. */
const char *bx_safety_state_name(enum bx_safety_state state);

/* "DegradationWarning", "SafetySeverance", ...; "Unknown" outside the enum. */
const char *bx_safety_event_name(enum bx_safety_event_kind kind);

/* ------------------------------------------------------------------ */
/* Jamming threat levels                                              */
/* ------------------------------------------------------------------ */

/*
 * Fixed by the jamming sidecar's contract (issue 7), not configurable:
 * strictly above each RTT and loss threshold, except CRITICAL's loss,
 * which is "at or above 90 %".
 */
#define BX_JAM_LOW_RTT_US 5000u
#define BX_JAM_MODERATE_RTT_US 15000u
#define BX_JAM_MODERATE_LOSS_PERMILLE 200u
#define BX_JAM_HIGH_RTT_US 30000u
#define BX_JAM_HIGH_LOSS_PERMILLE 500u
#define BX_JAM_CRITICAL_RTT_US 50000u
#define BX_JAM_CRITICAL_LOSS_PERMILLE 900u

enum bx_jam_level {
	BX_JAM_NONE,
	BX_JAM_LOW,
	BX_JAM_MODERATE,
	BX_JAM_HIGH,
	BX_JAM_CRITICAL,
};

/*
 * A path's threat level, the highest that applies:
 *   CRITICAL  RTT > 50 ms and loss >= 90 %
 *   HIGH      RTT > 30 ms or loss > 50 %
 *   MODERATE  RTT > 15 ms or loss > 20 %
 *   LOW       RTT > 5 ms
 *   NONE      otherwise (RTT <= 5 ms)
 * Without an RTT (@has_rtt false) only the loss counts, so such a path is
 * never CRITICAL: that needs both. Pass 0 for an unknown loss.
 */
enum bx_jam_level bx_jam_level_of(bool has_rtt, uint64_t rtt_us,
				  uint32_t loss_permille);

/* "NONE", "LOW", "MODERATE", "HIGH", "CRITICAL"; "UNKNOWN" outside. */
const char *bx_jam_level_name(enum bx_jam_level level);

/* One path's level as the jamming sidecar publishes it. */
struct bx_jam_sample {
	char peer[BX_SAFETY_PEER_MAX];
	uint8_t path_id;
	enum bx_jam_level level;
	bool has_rtt;
	uint64_t rtt_us;        /* 0 without an RTT */
	uint32_t loss_permille; /* 0 when unknown */
	uint64_t unix_ms;
};

/*
 * The RTT a path's jamming level judges: the median of its last three probe
 * samples. One late probe (a scheduler stall, a burst queued ahead of it)
 * does not move the level; a change that lasts shows from its second
 * sample on (200 ms at the default probe interval). With two samples so far
 * the smaller counts, with one that one. Zeroed memory is an empty history.
 */
struct bx_jam_rtt {
	uint64_t us[3];
	uint8_t n;    /* samples held, 0..3 */
	uint8_t next; /* where the next one goes */
};

/* Adds one probe sample (an accepted echo's RTT) to @r. */
void bx_jam_rtt_add(struct bx_jam_rtt *r, uint64_t rtt_us);

/* The RTT to judge, in @rtt_us; false (and 0) before the first sample. */
bool bx_jam_rtt_get(const struct bx_jam_rtt *r, uint64_t *rtt_us);

/* @path's sample at @unix_ms (the peer id truncated to fit). */
void bx_jam_sample_of(const struct bx_safety_path *path, uint64_t unix_ms,
		      struct bx_jam_sample *out);

#endif /* BX_SAFETY_H */
