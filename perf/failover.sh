#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Failover time of a PREFERRED lane (issue 8). Two bauxite-app nodes joined
# by two paths (test/integration/lib.sh's bonding topology): path 0 with
# 5 ms each way, path 1 with 25 ms, so the Telemetry lane (PREFERRED by
# default) uses path 0. test/tools/seqstream.py sends 1000 numbered UDP
# datagrams a second from A to B's port 5006 (Telemetry; 200 bytes, too
# big for the Critical lane). Once the stream runs steadily on path 0,
# path 0 is cut N times:
#   carrier  both middle-box ends of path 0 go down in one `ip -batch`:
#            both nodes see their link lose carrier (polled every
#            bonding.link_poll_ms);
#   silent   path 0 drops everything both ways, the links stay up: only
#            the path probes (3 missed at 100 ms) can tell.
# Each cut lasts HOLD_S, then path 0 is restored and the next cut waits
# until A's /bauxite/paths shows path 0 up and preferred again.
#
# Per cut: the outage is the largest gap between consecutive arrivals in
# [cut, cut + 3 s] minus the 1 ms pacing (it includes the 20 ms one way
# delay step from path 0 to path 1), and the datagrams lost are the
# sequence numbers sent in that window that never arrived; those that
# arrived LATE_MS or more after they were sent (stale, held while path 0
# was cut) are counted apart. Per mode it prints the outage p50, p99
# (nearest rank; with fewer than 100 cuts p99 is the max), the max, the
# mean datagrams lost and late per cut, and the time from the restore
# until path 0 is preferred again (p50, and how many cuts never got there
# within RETURN_CAP_S); per cut also where the stream went (its one way
# delay before, during and after the cut), datagrams lost between the
# window and the next cut, and the sender's own stalls. With --json FILE
# also writes one object per figure, one a line:
#   {"name": "failover_carrier_outage_p50_ms", "unit": "ms", "value": ..., "ratio": null}
#
# Not a speed test: exits non-zero only when a measurement could not be
# made (the topology failed, no datagram arrived); 77 (skip) without root,
# tools or hugepages.
#
#   perf/failover.sh BAUXITE_APP [--cuts N] [--mode carrier|silent|both] [--json FILE]
. "$(dirname "$0")/../test/integration/lib.sh"

usage="usage: failover.sh BAUXITE_APP [--cuts N] [--mode carrier|silent|both] [--json FILE]"
app=${1:?$usage}
shift
cuts=20
mode=both
json=""
while [ $# -gt 0 ]; do
	case "$1" in
	--cuts) cuts=${2:?$usage}; shift ;;
	--mode) mode=${2:?$usage}; shift ;;
	--json) json=${2:?$usage}; shift ;;
	*) echo "$usage" >&2; exit 2 ;;
	esac
	shift
done
[[ "$cuts" =~ ^[1-9][0-9]*$ ]] || { echo "--cuts takes a whole number >= 1" >&2; exit 2; }
case "$mode" in
carrier | silent) modes=("$mode") ;;
both) modes=(carrier silent) ;;
*) echo "$usage" >&2; exit 2 ;;
esac

# One way delays: path 0 is the better path by far (RTT 10 ms against
# 50 ms), well beyond the PREFERRED hysteresis.
delay0_ms=5
delay1_ms=25
stream_port=5006
stream_pps=1000
stream_size=200
# How long a cut lasts: well past probe detection (~0.3 s) and the
# preferred lane's hold time after a switch (1 s).
hold_s=1.5
# The window after a cut in which its outage and losses are looked for;
# cuts are at least CUT_GAP_S apart so that windows never overlap.
window_s=3
cut_gap_s=3.5
# Path 0 must be preferred again this long after the restore, or the cut
# counts as a return timeout.
return_cap_s=10
# Before the first cut, the stream runs on path 0, both paths up, path 0's
# cost within COST_SLACK_US of its RTT and jitter, for STEADY_S; given up
# after STEADY_CAP_S (two base RTT windows of the scheduler and then some).
steady_s=1
steady_cap_s=40
cost_slack_us=5000
# After path 0 is back, the stream runs on it this long before the next
# cut (the one way delay then shows where it went).
settle_s=0.5
# A datagram that arrives this long after it was sent is counted late (a
# stale copy, held somewhere while path 0 was cut), apart from the lost.
late_ms=250
# A datagram still on its way when the stream stops must not count lost.
drain_s=0.5

bx_require_root
bx_require_tools ip awk
bx_hugepages
bx_bond_nodes "$app"
tmp=$bx_tmp
bx_bond_impair 0 "a2b delay_ms=$delay0_ms loss_pct=0" "b2a delay_ms=$delay0_ms loss_pct=0"
bx_bond_impair 1 "a2b delay_ms=$delay1_ms loss_pct=0" "b2a delay_ms=$delay1_ms loss_pct=0"

# now: the wall clock (seconds, microseconds), as seqstream.py's receive
# times are; plus T S: T + S seconds; sleep_until T: until now reads T.
now() { echo "${EPOCHREALTIME/,/.}"; }
plus() { awk -v t="$1" -v s="$2" 'BEGIN { printf "%.6f\n", t + s }'; }
sleep_until() {
	sleep "$(awk -v t="$1" -v n="$(now)" 'BEGIN { d = t - n; printf "%.6f\n", (d > 0 ? d : 0) }')"
}

# wait_path0 CAP_S [steady]: waits (polling A's /bauxite/paths every
# 10 ms) until path 0 of A's peer is up and preferred; prints how long that
# took in ms. With "steady", path 1 must be up too, and path 0's cost no
# more than its RTT, twice its jitter and COST_SLACK_US (no overload term:
# see the steady wait below), all of it for STEADY_S. Exits 1 after CAP_S
# with the last answer on stderr; 2 if, then, only the cost was wrong.
wait_path0() {
	"$BX_PY" - "/var/run/dpdk/$prefixA/dpdk_telemetry.v2" "$1" "${2:-}" \
		"$cost_slack_us" "$steady_s" <<'PY'
import json, socket, sys, time
path, cap, steady = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "steady"
slack_us, steady_s = int(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(path)
s.recv(16384)
start = time.monotonic()
since = None
while True:
    s.send(b"/bauxite/paths")
    d = json.loads(s.recv(1 << 20))["/bauxite/paths"]
    row = {d["path"][i]: i for i, peer in enumerate(d.get("peer", []))
           if peer == d["peer"][0]}
    p0, p1 = row.get(0), row.get(1)
    ok = p0 is not None and d["state"][p0] == "up" and d["preferred"][p0] == 1
    cost_ok = True
    if steady:
        ok = ok and p1 is not None and d["state"][p1] == "up"
        cost_ok = ok and (d["cost_us"][p0] <= d["rtt_us"][p0] +
                          2 * d["jitter_us"][p0] + slack_us)
    now = time.monotonic()
    if ok and cost_ok:
        since = now if since is None else since
        if not steady or now - since >= steady_s:
            print("%.1f" % ((now - start) * 1000))
            sys.exit(0)
    else:
        since = None
    if now - start > cap:
        sys.stderr.write(json.dumps(d) + "\n")
        sys.exit(2 if ok else 1)
    time.sleep(0.01)
PY
}

# paths_brief: "path 0 STATE [preferred] tx N, path 1 ..." from A.
paths_brief() {
	bx_telemetry "$prefixA" /bauxite/paths | "$BX_PY" -c '
import json, sys
d = json.load(sys.stdin)
print(", ".join("path %d %s%s tx %d" % (d["path"][i], d["state"][i],
                " preferred" if d["preferred"][i] else "", d["tx_packets"][i])
                for i in range(len(d.get("path", [])))
                if d["peer"][i] == d["peer"][0]))'
}

cut() {
	case "$1" in
	carrier) printf 'link set mA0 down\nlink set mB0 down\n' | ip -n "$nsM" -batch - ;;
	silent) bx_bond_impair 0 "a2b delay_ms=$delay0_ms loss_pct=100" \
		"b2a delay_ms=$delay0_ms loss_pct=100" ;;
	esac
}
restore() {
	case "$1" in
	carrier) printf 'link set mA0 up\nlink set mB0 up\n' | ip -n "$nsM" -batch - ;;
	silent) bx_bond_impair 0 "a2b delay_ms=$delay0_ms loss_pct=0" \
		"b2a delay_ms=$delay0_ms loss_pct=0" ;;
	esac
}

n_total=$((cuts * ${#modes[@]}))
# Long enough for every cut even if none returns; stopped once done.
stream_s=$((n_total * (return_cap_s + 5) + steady_cap_s + 30))
bx_start "$nsB" "$tmp/recv.log" "$BX_PY" "$BX_SRC/test/tools/seqstream.py" \
	recv "$vipB" "$stream_port" "$tmp/arrivals"
pidR=$BX_LAST_PID
for i in $(seq 50); do grep -q listening "$tmp/recv.log" && break; sleep 0.1; done
grep -q listening "$tmp/recv.log" ||
	{ cat "$tmp/recv.log" >&2; bx_fail "the seqstream receiver did not start"; }
bx_start "$nsA" "$tmp/send.log" "$BX_PY" "$BX_SRC/test/tools/seqstream.py" \
	send "$vipB" "$stream_port" "$stream_pps" "$stream_s" "$stream_size"
pidS=$BX_LAST_PID

# The delays came after the nodes started, so at first they read as a
# standing queue (the scheduler's base RTT catches up within two of its
# 10 s windows): the path carrying the stream looks overloaded and costs
# far more than its RTT. Measure from the steady state on, with the
# stream on path 0 at its plain cost.
rc=0
t=$(wait_path0 "$steady_cap_s" steady 2>"$tmp/steady.err") || rc=$?
case "$rc" in
0) bx_log "steady after $t ms: $(paths_brief)" ;;
2) bx_log "warning: path 0 preferred, but its cost never came down to its RTT within $steady_cap_s s:"
   cat "$tmp/steady.err" >&2 ;;
*) cat "$tmp/steady.err" >&2; bx_show_logs
   bx_fail "path 0 never became the preferred path with both up within $steady_cap_s s" ;;
esac

# One line per cut: MODE CUT_TIME RETURN_MS (or "timeout") RETURN_TIME.
: >"$tmp/cuts"
last_cut=0
for m in "${modes[@]}"; do
	for c in $(seq "$cuts"); do
		sleep_until "$(plus "$last_cut" "$cut_gap_s")"
		t_cut=$(now)
		cut "$m"
		last_cut=$t_cut
		sleep_until "$(plus "$t_cut" 1)"
		held=$(paths_brief)
		sleep_until "$(plus "$t_cut" "$hold_s")"
		restore "$m"
		if ret=$(wait_path0 "$return_cap_s" 2>"$tmp/return.err"); then
			t_ret=$(now)
		else
			ret=timeout t_ret=$(now)
			bx_log "$m cut $c: path 0 not preferred again $return_cap_s s after the restore; /bauxite/paths:"
			cat "$tmp/return.err" >&2
		fi
		bx_log "$m cut $c: at 1 s: $held; path 0 preferred again after ${ret} ms"
		echo "$m $t_cut $ret $t_ret" >>"$tmp/cuts"
		sleep_until "$(plus "$t_ret" "$settle_s")"
	done
done
sleep_until "$(plus "$last_cut" "$window_s")"

kill -TERM "$pidS" 2>/dev/null || true
wait "$pidS" || true
bx_forget "$pidS"
sleep "$drain_s"
kill -TERM "$pidR"
rc=0
wait "$pidR" || rc=$?
bx_forget "$pidR"
cat "$tmp/send.log" "$tmp/recv.log" >&2
[ "$rc" = 0 ] || bx_fail "the seqstream receiver exited $rc"
bx_counters "$prefixA" 0 >"$tmp/countersA" || true
bx_log "A: $(awk '$1 ~ /^(path_down|path_up|preferred_switches)$/ { printf "%s %s ", $1, $2 }' "$tmp/countersA")"

rc=0
"$BX_PY" - "$tmp/arrivals" "$tmp/cuts" "$window_s" "$hold_s" "$stream_pps" \
	"$((delay1_ms - delay0_ms))" "$late_ms" "$json" <<'PY' || rc=$?
import bisect, json, math, statistics, sys

arrivals_path, cuts_path = sys.argv[1:3]
window_ns = int(float(sys.argv[3]) * 1e9)
hold_ns = int(float(sys.argv[4]) * 1e9)
pacing_ns = 1e9 / float(sys.argv[5])
step_ms, late_ns, json_path = int(sys.argv[6]), int(sys.argv[7]) * 1e6, sys.argv[8]

first = {}       # seq -> (first arrival, send time), ns
dups = 0
for line in open(arrivals_path):
    seq, t, sent = map(int, line.split())
    if seq in first:
        dups += 1
    else:
        first[seq] = (t, sent)
if not first:
    sys.exit("no datagram arrived at all")
order = sorted((t, seq) for seq, (t, _) in first.items())
times = [t for t, _ in order]
# The highest sequence number that had arrived by each arrival.
high, h = [], -1
for _, seq in order:
    h = max(h, seq)
    high.append(h)
by_send = sorted((sent, seq) for seq, (_, sent) in first.items())
send_times = [sent for sent, _ in by_send]

def percentile(sorted_v, q):
    # Nearest rank: a value that was actually measured.
    return sorted_v[max(0, math.ceil(q * len(sorted_v)) - 1)]

def sent_between(a, b):
    """The received datagrams sent in [a, b): (seq, arrival, send time)."""
    lo, hi = bisect.bisect_left(send_times, a), bisect.bisect_left(send_times, b)
    return [(seq,) + first[seq] for _, seq in by_send[lo:hi]]

def one_way_ms(rows):
    return statistics.median((t - sent) / 1e6 for _, t, sent in rows) if rows else None

def sender_stall_ms(rows):
    """The longest the sender paused in rows, beyond its pacing: such a
    pause makes an arrival gap the network did not."""
    return max(((b[2] - a[2] - pacing_ns) / 1e6 for a, b in zip(rows, rows[1:])
                if b[0] == a[0] + 1), default=0.0)

cut_lines = [line.split() for line in open(cuts_path)]
cut_ns = [int(round(float(c[1]) * 1e9)) for c in cut_lines]
next_cut = dict(zip(cut_ns, cut_ns[1:]))
modes = {}
for mode, t_cut, ret, t_ret in cut_lines:
    t0 = int(round(float(t_cut) * 1e9))
    tr = int(round(float(t_ret) * 1e9))
    t1 = t0 + window_ns
    lo = bisect.bisect_left(times, t0)
    hi = bisect.bisect_right(times, t1)
    if lo >= len(times):
        sys.exit("%s cut at %s: nothing arrived from then on" % (mode, t_cut))
    # The arrivals in the window and the one on each side of it, so that
    # a silence that began before the cut or outlasts the window counts
    # whole.
    span = times[max(lo - 1, 0):min(hi + 1, len(times))]
    gap_ns = max((b - a for a, b in zip(span, span[1:])), default=0)
    # Sent in the window: above the highest number that had arrived before
    # it, up to the highest that arrived within it.
    s_lo = high[lo - 1] if lo > 0 else -1
    s_hi = high[hi - 1] if hi > 0 else -1
    lost = sum(1 for s in range(s_lo + 1, s_hi + 1) if s not in first)
    # From the window's end to the next cut (the return to path 0 falls
    # there): any loss at the switch back.
    nxt = bisect.bisect_left(times, next_cut.get(t0, times[-1] + 1))
    s_next = high[nxt - 1] if nxt > 0 else -1
    lost_later = sum(1 for s in range(s_hi + 1, s_next + 1) if s not in first)
    late = sum(1 for _, t, sent in sent_between(t0, t1) if t - sent > late_ns)
    modes.setdefault(mode, []).append({
        "outage": max(gap_ns - pacing_ns, 0.0) / 1e6,
        "lost": lost,
        "lost_later": lost_later,
        "late": late,
        "return": None if ret == "timeout" else float(ret),
        # Where the stream went (the one way delay tells the path): just
        # before the cut, while path 0 was cut, and once it was back.
        "before": one_way_ms(sent_between(t0 - 300_000_000, t0)),
        "during": one_way_ms(sent_between(t0 + hold_ns // 3, t0 + hold_ns)),
        "after": one_way_ms(sent_between(tr + 100_000_000, tr + 400_000_000)),
        "stall": sender_stall_ms(sent_between(t0, t1)),
    })

def fmt(v):
    return "-" if v is None else "%.1f" % v

rows, figures = [], []
for mode, cuts in modes.items():
    out = sorted(c["outage"] for c in cuts)
    rets = sorted(c["return"] for c in cuts if c["return"] is not None)
    n = len(cuts)
    print("%s: %d cuts" % (mode, n))
    for key, label in (("outage", "outage (ms)"), ("lost", "lost datagrams"),
                       ("late", "datagrams %d ms late or more" % (late_ns / 1e6)),
                       ("lost_later", "lost after the window, to the next cut"),
                       ("return", "return to path 0 (ms)"),
                       ("before", "one way delay before the cut (ms)"),
                       ("during", "one way delay while cut (ms)"),
                       ("after", "one way delay once back (ms)"),
                       ("stall", "sender stall in the window (ms)")):
        print("  %-42s %s" % (label, " ".join(
            str(c[key]) if key in ("lost", "late", "lost_later") else fmt(c[key])
            for c in cuts)))
    f = [
        ("outage_p50", "ms", percentile(out, 0.50)),
        ("outage_p99", "ms", percentile(out, 0.99)),
        ("outage_max", "ms", out[-1]),
        ("lost_mean", "datagrams", sum(c["lost"] for c in cuts) / n),
        ("late_mean", "datagrams", sum(c["late"] for c in cuts) / n),
        ("return_p50", "ms", percentile(rets, 0.50) if rets else None),
        ("return_timeouts", "cuts", n - len(rets)),
    ]
    for key, unit, value in f:
        note = ""
        if key == "outage_p99" and n < 100:
            note = "  (nearest rank of %d samples: the max)" % n
        rows.append(("%s %s (%s)" % (mode, key, unit),
                     str(value) if unit == "cuts" else fmt(value), note))
        figures.append(("failover_%s_%s%s" % (mode, key, "_ms" if unit == "ms" else ""),
                        unit, value))
print("outages include the one way delay step from path 0 to path 1 (%d ms)"
      % step_ms)
w = max(len(r[0]) for r in rows)
for r in rows:
    print("%s  %s%s" % (r[0].ljust(w), r[1].rjust(8), r[2]))
print("duplicates delivered: %d" % dups)
if json_path:
    with open(json_path, "w") as fj:
        for name, unit, value in figures:
            fj.write(json.dumps({"name": name, "unit": unit,
                                 "value": None if value is None else round(value, 4),
                                 "ratio": None}) + "\n")
PY
[ "$rc" = 0 ] || { bx_show_logs; bx_fail "no measurement"; }
