#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two bauxite-app nodes in namespaces joined by a veth pair: ping between
# their virtual IPs through the encrypted tunnel, with 0 % loss, and the
# mesh counters of the two ends agree (read from the SIGUSR1 summary). On
# the wire no clear text and only tagged datagrams; the exception path
# answers a ping to the underlay IP; telemetry answers; both nodes shut
# down cleanly on SIGTERM.
#
#   test/integration/ping.sh BAUXITE_APP [CIPHER]
. "$(dirname "$0")/lib.sh"

app=${1:?usage: ping.sh BAUXITE_APP [CIPHER]}
cipher=${2:-chacha20-poly1305}
bx_require_root
bx_require_tools ip ping sysctl base64 awk tcpdump
bx_hugepages
bx_two_nodes "$app" "cipher=\"$cipher\""
tmp=$bx_tmp

bx_stats_dump "$pidA" "$logA" || bx_fail "no stats from A"
bx_stats_dump "$pidB" "$logB" || bx_fail "no stats from B"
txA0=$(bx_stat "$logA" tx_packets)
rxB0=$(bx_stat "$logB" inner_tx_packets)

out=$(ip netns exec "$nsA" ping -c 5 -i 0.2 -W 2 -I "$vipA" "$vipB" 2>&1) || true
echo "$out" >&2
echo "$out" | grep -q ' 0% packet loss' || { bx_show_logs; bx_fail "ping lost packets"; }

bx_stats_dump "$pidA" "$logA" || bx_fail "no stats from A"
bx_stats_dump "$pidB" "$logB" || bx_fail "no stats from B"
txA=$(( $(bx_stat "$logA" tx_packets) - txA0 ))
rxB=$(( $(bx_stat "$logB" inner_tx_packets) - rxB0 ))
bx_log "during the ping: A sent $txA mesh datagrams, B delivered $rxB"
[ "$txA" -ge 5 ] || { bx_show_logs; bx_fail "A's tx_packets grew by $txA, expected >= 5"; }
[ "$txA" = "$rxB" ] || { bx_show_logs; bx_fail "A sent $txA, B delivered $rxB"; }

# On the wire: a known payload pattern never appears in clear, and every
# datagram to the mesh port starts with the 0x80 tag.
pattern=b0a7c173
bx_capture_start "$nsB" vB "$tmp/vB.pcap" udp port "$mesh_port"
pidT=$BX_LAST_PID
ip netns exec "$nsA" ping -c 5 -i 0.2 -W 2 -p "$pattern" -I "$vipA" "$vipB" >/dev/null ||
	{ bx_show_logs; bx_fail "ping with a pattern lost packets"; }
bx_capture_stop "$pidT"
# Only what arrives: the af_packet PMD bypasses the qdisc layer where
# tcpdump would see what B sends.
bx_check_capture "$tmp/vB.pcap" "$pattern" "$mesh_port" 5 ||
	bx_fail "the capture on vB shows clear text or untagged datagrams"

# Exception path: B reaches A's underlay address through A's kernel.
ip netns exec "$nsB" ping -c 3 -i 0.2 -W 2 "$ulA" >/dev/null ||
	{ bx_show_logs; bx_fail "B cannot ping A's underlay IP (exception path)"; }
bx_log "exception path: B pings A's underlay IP"

# Telemetry: the same counters through the DPDK telemetry socket, with
# the operator's client.
if command -v dpdk-telemetry.py >/dev/null 2>&1; then
	tel=$(echo /bauxite/stats | dpdk-telemetry.py -f "$prefixA" 2>&1) || true
	echo "$tel" | grep -q '"tx_packets"' || { echo "$tel" >&2; bx_fail "telemetry has no /bauxite/stats"; }
	bx_log "telemetry answers /bauxite/stats"
fi

bx_stop_two_nodes || { bx_show_logs; bx_fail "unclean shutdown"; }
grep -q 'stats (exit)' "$logA" || bx_fail "A printed no summary at exit"
grep -q "$cipher on" "$logA" || bx_fail "A did not run $cipher"
bx_log "ok ($cipher): ping 0% loss, counters agree, no clear text, exception path, clean shutdown"
