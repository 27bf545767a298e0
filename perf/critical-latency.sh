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
# read as they are. CPU placement as in e2e.sh, whose Bauxite ping figures
# are these (bxp_placement split in perf/lib-perf.sh: the worker lcores
# pinned apart; idle_sleep_us 100 from the edge configs); printed with the
# figures.
BX_SAFETY_SET='safety={}'
. "$(dirname "$0")/../test/integration/lib.sh"
. "$(dirname "$0")/lib-perf.sh"

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

ping_count=$((seconds * BXP_PING_PER_S))

iperf_port=5201
iperf_streams=4
# iperf3 starts ramp_s before the pings (TCP slow start, the queues fill)
# and must end after them. On two shared cores ping falls ~10 % behind its
# interval under load, so the load lasts half as long again as the pings.
ramp_s=1
iperf_s=$((ramp_s + seconds + (seconds + 1) / 2 + 1))

bx_require_root
bx_require_tools ip ping sysctl base64 awk iperf3 timeout
bx_hugepages
bxp_placement split
bx_two_nodes "$app" "${BXP_PLACE_SETS[@]}"
tmp=$bx_tmp

bxp_ping_warmup "$nsA" "$vipA" "$vipB"
bx_log "idle: $ping_count pings at ${BXP_PING_PER_S}/s"
bxp_ping "$nsA" "$vipA" "$vipB" "$ping_count" "$tmp/idle.ping"

# Where loaded pings get lost, for the log: frames B's veth received against
# those B's app read (the rest overflowed af_packet's ring, a FIFO shared
# with the bulk flow, before any lane), and what A's TAP dropped.
linkB0=$(bx_link_rx "$nsB" vB)
tapA0=$(ip netns exec "$nsA" cat /sys/class/net/bauxite0/statistics/tx_dropped)
rxB0=$(bx_counters "$prefixB" 0 | awk '$1 == "rx_packets" { print $2 }') || rxB0=""

bxp_iperf_server "$nsB" "$vipB" "$iperf_port" "$tmp/server.log"
bxp_iperf_start "$nsA" "$vipA" "$vipB" "$iperf_port" "$iperf_s" "$tmp/client.json" \
	-P "$iperf_streams"
sleep "$ramp_s"
bx_log "loaded: $ping_count pings at ${BXP_PING_PER_S}/s under iperf3 TCP, $iperf_streams streams, ${iperf_s} s"
bxp_ping "$nsA" "$vipA" "$vipB" "$ping_count" "$tmp/loaded.ping"
bx_alive "$BXP_CLIENT_PID" ||
	bx_log "warning: iperf3 ended before the pings did; the last pings saw no load"
bxp_iperf_wait "$BXP_CLIENT_PID" "$tmp/client.json"
bxp_stop "$BXP_SERVER_PID"

linkB=$(( $(bx_link_rx "$nsB" vB) - linkB0 ))
tapA=$(( $(ip netns exec "$nsA" cat /sys/class/net/bauxite0/statistics/tx_dropped) - tapA0 ))
rxB1=$(bx_counters "$prefixB" 0 | awk '$1 == "rx_packets" { print $2 }') || rxB1=""
if [ -n "$rxB0" ] && [ -n "$rxB1" ]; then
	bx_log "during the load: vB received $linkB frames, B's app $((rxB1 - rxB0))" \
		"($((linkB - rxB1 + rxB0)) lost in af_packet's ring); A's bauxite0 dropped $tapA"
fi

idle=$(bxp_rtt "$tmp/idle.ping" idle)
loaded=$(bxp_rtt "$tmp/loaded.ping" loaded)
bulk=$(bxp_iperf_tcp "$tmp/client.json")
echo "placement: $BXP_PLACE_TEXT, idle_sleep_us $(bx_json "$tmp/a.json" idle_sleep_us)"
"$BX_PY" - "$idle" "$loaded" "$bulk" "$json" <<'PY'
import json, sys

def phase(line):
    p50, p99, mx, loss, received, sent = line.split()
    return {"rtt_p50": float(p50), "rtt_p99": float(p99), "rtt_max": float(mx),
            "loss": float(loss)}, (int(received), int(sent))

idle, idle_n = phase(sys.argv[1])
loaded, loaded_n = phase(sys.argv[2])
mbps = float(sys.argv[3].split()[0]) / 1e6
json_path = sys.argv[4]

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
