#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# iperf3 TCP for 5 s from A's virtual IP to B's through the tunnel: a
# non-zero rate, and the two ends' counters agree. af_packet on a veth may
# lose frames under load before the app sees them (outside its counters),
# so what must hold exactly is: every underlay frame a node received is
# accounted for (dropped under a reason, passed to the kernel, or
# delivered), and no node delivers more than its peer sent. Neither node's
# TAPs raise a signal per frame (O_ASYNC off: they are polled).
#
#   test/integration/iperf3.sh BAUXITE_APP [CIPHER]
. "$(dirname "$0")/lib.sh"

app=${1:?usage: iperf3.sh BAUXITE_APP [CIPHER]}
cipher=${2:-chacha20-poly1305}
iperf_s=5
iperf_port=5201
# Largest TCP payload of one packet through bauxite0 (MTU 1350 - IPv4 -
# TCP headers): B delivered at least received_bytes / this many packets.
tcp_mss_max=1310
bx_require_root
bx_require_tools ip ping sysctl base64 awk iperf3
bx_hugepages
bx_two_nodes "$app" "cipher=\"$cipher\""
tmp=$bx_tmp

bx_counters "$prefixA" >"$tmp/A0" || bx_fail "no counters from A"
bx_counters "$prefixB" >"$tmp/B0" || bx_fail "no counters from B"
linkB0=$(bx_link_rx "$nsB" vB)

bx_start "$nsB" "$tmp/server.log" iperf3 -s -1 --forceflush -B "$vipB" -p "$iperf_port"
pidS=$BX_LAST_PID
for i in $(seq 50); do grep -q 'listening' "$tmp/server.log" && break; sleep 0.1; done
rc=0
ip netns exec "$nsA" iperf3 -c "$vipB" -B "$vipA" -p "$iperf_port" -t "$iperf_s" -J \
	>"$tmp/client.json" 2>"$tmp/client.err" || rc=$?
[ "$rc" = 0 ] || { cat "$tmp/client.json" "$tmp/client.err" >&2; bx_show_logs; bx_fail "iperf3 client exited $rc"; }
wait "$pidS" || true
bx_forget "$pidS"

read -r bps bytes retr < <("$BX_PY" - "$tmp/client.json" <<'PY'
import json, sys
end = json.load(open(sys.argv[1]))["end"]
print(int(end["sum_received"]["bits_per_second"]), end["sum_received"]["bytes"],
      end["sum_sent"].get("retransmits", 0))
PY
)
bx_log "iperf3 TCP $vipA -> $vipB, ${iperf_s} s: $(awk -v b="$bps" 'BEGIN { printf "%.1f", b / 1e6 }') Mbit/s, $bytes bytes received, $retr retransmits"
[ "$bps" -gt 0 ] || bx_fail "iperf3 measured no throughput"

bx_counters "$prefixA" >"$tmp/A1" || bx_fail "no counters from A"
bx_counters "$prefixB" >"$tmp/B1" || bx_fail "no counters from B"
linkB=$(( $(bx_link_rx "$nsB" vB) - linkB0 ))
for n in A B; do
	f0=$tmp/${n}0 f1=$tmp/${n}1
	bx_log "$n during iperf3: tx_packets +$(bx_delta "$f0" "$f1" tx_packets)" \
		"tx_dropped +$(bx_delta "$f0" "$f1" tx_dropped)" \
		"rx_packets +$(bx_delta "$f0" "$f1" rx_packets)" \
		"rx_dropped +$(bx_delta "$f0" "$f1" rx_dropped)" \
		"inner_tx_packets +$(bx_delta "$f0" "$f1" inner_tx_packets)" \
		"exception_rx_packets +$(bx_delta "$f0" "$f1" exception_rx_packets)"
	bx_log "$n drops so far: $(bx_nonzero_drops "$f1")"
	bx_check_rx_accounting "$f1" "$n"
done

# A -> B carries the data, B -> A the acknowledgements.
txA=$(bx_delta "$tmp/A0" "$tmp/A1" tx_packets)
inB=$(bx_delta "$tmp/B0" "$tmp/B1" inner_tx_packets)
txB=$(bx_delta "$tmp/B0" "$tmp/B1" tx_packets)
inA=$(bx_delta "$tmp/A0" "$tmp/A1" inner_tx_packets)
[ "$inB" -gt 0 ] || bx_fail "B delivered nothing"
[ "$txA" -ge "$inB" ] || bx_fail "B delivered $inB packets, more than the $txA A sent"
[ "$txB" -ge "$inA" ] || bx_fail "A delivered $inA packets, more than the $txB B sent"
[ $((inB * tcp_mss_max)) -ge "$bytes" ] ||
	bx_fail "iperf3 received $bytes bytes, more than $inB delivered packets can carry"
rxB=$(bx_delta "$tmp/B0" "$tmp/B1" rx_packets)
bx_log "A -> B: A sent $txA, vB received $linkB frames, B's app $rxB" \
	"($((linkB - rxB)) lost in af_packet's ring), B delivered $inB"
bx_log "B -> A: B sent $txB, A delivered $inA ($((txB - inA)) lost or dropped on the way)"
# The TAPs are polled, not signalled per frame (main.c: claim_rt_signals).
for n in A B; do
	pid=pid$n
	read -r tuns async < <(bx_tun_fds "${!pid}")
	[ "$tuns" -gt 0 ] || bx_fail "$n holds no TAP descriptor (/dev/net/tun)"
	[ "$async" = 0 ] || bx_fail "$n: $async of its $tuns TAP descriptors raise a signal per frame (O_ASYNC)"
done
bx_log "TAP descriptors polled, none with O_ASYNC"
# Both exit 0 (no sanitizer report either) and leave nothing behind.
bx_stop_two_nodes || { bx_show_logs; bx_fail "unclean shutdown"; }
bx_log "ok ($cipher): iperf3 at $bps bit/s, counters agree"
