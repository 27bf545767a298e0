#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Critical-lane latency through the tunnel, idle and under bulk load. Two
# bauxite-app nodes (test/integration/lib.sh's standard topology); A pings
# B's virtual IP 100 times a second for N seconds, first on an idle link,
# then while iperf3 TCP (4 streams) from A to B fills it. The classifier
# puts ICMP on the Critical lane and that TCP (not port 5006) on Bulk, so
# the loaded figures show how well Critical is kept ahead of Bulk.
#
# Prints RTT p50, p99 and max (nearest rank over the replies), loss (from
# ping's summary) and the iperf3 throughput: idle, loaded, and loaded /
# idle. With --json FILE also writes one object per figure, one a line:
#   {"name": ..., "unit": ..., "value": ..., "ratio": ...}
# where ratio is loaded / idle (null for idle figures and where the idle
# value is 0 or absent).
#
# Not a speed test: exits non-zero only when a measurement could not be
# made (no reply at all, iperf3 failed); 77 (skip) without root or tools.
#
#   perf/critical-latency.sh BAUXITE_APP [--seconds N] [--json FILE]
# Measured as an operator runs it: the safety layer on (probes, Critical
# packets sent twice); its probes keep the counters moving, so they are
# read as they are.
BX_SAFETY_SET='safety={}'
. "$(dirname "$0")/../test/integration/lib.sh"

usage="usage: critical-latency.sh BAUXITE_APP [--seconds N] [--json FILE]"
app=${1:?$usage}
shift
seconds=10
json=""
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) seconds=${2:?$usage}; shift ;;
	--json) json=${2:?$usage}; shift ;;
	*) echo "$usage" >&2; exit 2 ;;
	esac
	shift
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "--seconds takes a whole number >= 1" >&2; exit 2; }

# 100 pings a second: fine enough for a p99 from a few seconds of samples,
# light enough (84-byte packets) not to be load itself.
ping_interval_s=0.01
ping_per_s=100
ping_count=$((seconds * ping_per_s))
# A reply later than this is lost (ping -W); far above any RTT worth having.
ping_timeout_s=1
# Pings before the idle phase whose times are not kept: the first packets
# may still find cold caches and a sleeping poll loop.
warmup_count=20
iperf_port=5201
iperf_streams=4
# iperf3 starts ramp_s before the pings (TCP slow start, the queues fill)
# and must end after them. On two shared cores ping falls ~10 % behind its
# interval under load, so the load lasts half as long again as the pings.
ramp_s=1
iperf_s=$((ramp_s + seconds + (seconds + 1) / 2 + 1))

bx_require_root
bx_require_tools ip ping sysctl base64 awk iperf3
bx_hugepages
bx_two_nodes "$app"
tmp=$bx_tmp

# ping_phase NAME: pings B from A; the output in $tmp/NAME.ping. ping exits
# 1 when a reply is missing: loss is a figure, not an error.
ping_phase() {
	ip netns exec "$nsA" ping -c "$ping_count" -i "$ping_interval_s" \
		-W "$ping_timeout_s" -I "$vipA" "$vipB" >"$tmp/$1.ping" 2>&1 || true
}

ip netns exec "$nsA" ping -c "$warmup_count" -i "$ping_interval_s" \
	-W "$ping_timeout_s" -I "$vipA" "$vipB" >/dev/null 2>&1 || true
bx_log "idle: $ping_count pings at ${ping_per_s}/s"
ping_phase idle

# Where loaded pings get lost, for the log: frames B's veth received against
# those B's app read (the rest overflowed af_packet's ring, a FIFO shared
# with the bulk flow, before any lane), and what A's TAP dropped.
linkB0=$(bx_link_rx "$nsB" vB)
tapA0=$(ip netns exec "$nsA" cat /sys/class/net/bauxite0/statistics/tx_dropped)
rxB0=$(bx_counters "$prefixB" 0 | awk '$1 == "rx_packets" { print $2 }') || rxB0=""

bx_start "$nsB" "$tmp/server.log" iperf3 -s -1 --forceflush -B "$vipB" -p "$iperf_port"
pidS=$BX_LAST_PID
for i in $(seq 50); do grep -q 'listening' "$tmp/server.log" && break; sleep 0.1; done
grep -q 'listening' "$tmp/server.log" ||
	{ cat "$tmp/server.log" >&2; bx_fail "the iperf3 server did not start"; }
# The client's JSON must stay apart from its stderr, so not bx_start; it
# is registered the same way for the cleanup.
ip netns exec "$nsA" iperf3 -c "$vipB" -B "$vipA" -p "$iperf_port" \
	-P "$iperf_streams" -t "$iperf_s" -J >"$tmp/client.json" 2>"$tmp/client.err" &
pidC=$!
bx_pids+=("$pidC")
sleep "$ramp_s"
bx_log "loaded: $ping_count pings at ${ping_per_s}/s under iperf3 TCP, $iperf_streams streams, ${iperf_s} s"
ping_phase loaded
bx_alive "$pidC" ||
	bx_log "warning: iperf3 ended before the pings did; the last pings saw no load"
rc=0
wait "$pidC" || rc=$?
bx_forget "$pidC"
[ "$rc" = 0 ] ||
	{ cat "$tmp/client.json" "$tmp/client.err" >&2; bx_show_logs; bx_fail "iperf3 client exited $rc"; }
wait "$pidS" || true
bx_forget "$pidS"

linkB=$(( $(bx_link_rx "$nsB" vB) - linkB0 ))
tapA=$(( $(ip netns exec "$nsA" cat /sys/class/net/bauxite0/statistics/tx_dropped) - tapA0 ))
rxB1=$(bx_counters "$prefixB" 0 | awk '$1 == "rx_packets" { print $2 }') || rxB1=""
if [ -n "$rxB0" ] && [ -n "$rxB1" ]; then
	bx_log "during the load: vB received $linkB frames, B's app $((rxB1 - rxB0))" \
		"($((linkB - rxB1 + rxB0)) lost in af_packet's ring); A's bauxite0 dropped $tapA"
fi

rc=0
"$BX_PY" - "$tmp/idle.ping" "$tmp/loaded.ping" "$tmp/client.json" "$json" <<'PY' || rc=$?
import json, math, re, sys

idle_path, loaded_path, iperf_path, json_path = sys.argv[1:5]
reply = re.compile(r"icmp_seq=\d+ .*time=([0-9.]+) ms")
summary = re.compile(r"(\d+) packets transmitted, (\d+) received")

def percentile(sorted_ms, q):
    # Nearest rank: a value that was actually measured.
    return sorted_ms[max(0, math.ceil(q * len(sorted_ms)) - 1)]

def phase(path, name):
    text = open(path).read()
    # A duplicate is a second reply to one request: not a sample.
    ms = sorted(float(m.group(1)) for line in text.splitlines()
                if "DUP!" not in line for m in [reply.search(line)] if m)
    s = summary.search(text)
    if not ms or not s:
        sys.stderr.write(text)
        sys.exit("%s: no ping reply at all" % name)
    sent, received = int(s.group(1)), int(s.group(2))
    return {
        "rtt_p50": percentile(ms, 0.50),
        "rtt_p99": percentile(ms, 0.99),
        "rtt_max": ms[-1],
        "loss": 100.0 * (sent - received) / sent,
    }, (received, sent)

idle, idle_n = phase(idle_path, "idle")
loaded, loaded_n = phase(loaded_path, "loaded")
try:
    end = json.load(open(iperf_path))["end"]
    mbps = end["sum_received"]["bits_per_second"] / 1e6
except (OSError, ValueError, KeyError) as e:
    sys.exit("iperf3 gave no result (%s)" % e)

figures = [("rtt_p50", "ms"), ("rtt_p99", "ms"), ("rtt_max", "ms"), ("loss", "%")]
rows = []
for key, unit in figures:
    i, l = idle[key], loaded[key]
    ratio = l / i if i > 0 else None
    if unit == "%":
        cmp = "%+.2f pp" % (l - i)
    else:
        cmp = "%.1fx" % ratio if ratio is not None else "-"
    rows.append(("%s (%s)" % (key, unit), "%.3f" % i, "%.3f" % l, cmp))
rows.append(("replies", "%d/%d" % idle_n, "%d/%d" % loaded_n, ""))
rows.append(("bulk TCP (Mbit/s)", "-", "%.1f" % mbps, ""))
head = ("figure", "idle", "loaded", "loaded/idle")
w = [max(len(r[c]) for r in rows + [head]) for c in range(4)]
for r in [head] + rows:
    print("  ".join(r[c].ljust(w[c]) if c == 0 else r[c].rjust(w[c])
                    for c in range(4)).rstrip())

if json_path:
    with open(json_path, "w") as f:
        def put(name, unit, value, ratio):
            f.write(json.dumps({"name": "critical-latency." + name,
                                "unit": unit, "value": round(value, 4),
                                "ratio": None if ratio is None else round(ratio, 3)}) + "\n")
        for key, unit in figures:
            put("idle." + key, unit, idle[key], None)
            put("loaded." + key, unit, loaded[key],
                loaded[key] / idle[key] if idle[key] > 0 else None)
        put("loaded.bulk_throughput", "Mbit/s", mbps, None)
PY
[ "$rc" = 0 ] || { bx_show_logs; bx_fail "no measurement"; }
