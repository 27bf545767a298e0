#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Pipeline mode: each node runs an RX/classify lcore and a crypto/TX worker
# (three lcores on the machine's two CPUs, idle back-off on), a queue pair
# per lcore on every port. Ping and iperf3 cross, every underlay frame is
# accounted for, both shut down cleanly.
#
#   test/integration/pipeline.sh BAUXITE_APP
. "$(dirname "$0")/lib.sh"

app=${1:?usage: pipeline.sh BAUXITE_APP}
bx_require_root
bx_require_tools ip ping sysctl base64 awk iperf3
bx_hugepages
# lcore 0 is the control lcore; lcores 1 (RX) and 2 (crypto) share CPU 1.
BX_EAL=(--lcores=0@0,1@1,2@1 --no-pci --in-memory --log-level='*:error')
BX_PORT_ARGS=",qpairs=2"
bx_two_nodes "$app"

for log in "$logA" "$logB"; do
	grep -q 'lcore 1: RX/classify' "$log" && grep -q 'lcore 2: crypto/TX' "$log" ||
		{ bx_show_logs; bx_fail "$(basename "$log"): not in pipeline mode"; }
done

out=$(ip netns exec "$nsA" ping -c 5 -i 0.2 -W 2 -I "$vipA" "$vipB" 2>&1) || true
echo "$out" >&2
echo "$out" | grep -q ' 0% packet loss' || { bx_show_logs; bx_fail "ping lost packets"; }

bx_start "$nsB" "$bx_tmp/iperf3-s.log" iperf3 -s -1 -B "$vipB"
sleep 0.5
out=$(ip netns exec "$nsA" iperf3 -c "$vipB" -B "$vipA" -t 3 -J) ||
	{ bx_show_logs; bx_fail "iperf3 failed"; }
rate=$(echo "$out" | "$BX_PY" -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))')
bx_log "iperf3 through the pipeline: $((rate / 1000000)) Mbit/s"
[ "$rate" -gt 0 ] || bx_fail "iperf3 moved nothing"

bx_counters "$prefixA" >"$bx_tmp/A.cnt"
bx_counters "$prefixB" >"$bx_tmp/B.cnt"
bx_check_rx_accounting "$bx_tmp/A.cnt" edge-a
bx_check_rx_accounting "$bx_tmp/B.cnt" edge-b

bx_stop_two_nodes || { bx_show_logs; bx_fail "unclean shutdown"; }
bx_log "ok: pipeline mode, ping 0% loss, iperf3 $((rate / 1000000)) Mbit/s, accounting exact, clean shutdown"
