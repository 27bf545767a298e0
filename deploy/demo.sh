#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A local Bauxite mesh in two network namespaces, the README's first command.
#
#   deploy/demo.sh           until Ctrl-C: ping through the tunnel, show counters
#   deploy/demo.sh --once    ping, a short iperf3, a capture; exit 0 only if
#                            the traffic crossed encrypted
#   deploy/demo.sh --cipher aes-256-gcm   (default chacha20-poly1305)
#
# It installs what is missing and reserves hugepages (deploy/install-deps.sh),
# builds build/release, joins two namespaces by a veth pair and starts one
# bauxite-app in each (config/edge-a.json and edge-b.json, each node with a
# fresh identity and the other's public key; the session keys come from
# their handshake), then sends traffic between their virtual IPs on
# bauxite0. Everything it creates is removed when it ends, also on Ctrl-C
# or failure. Needs root. The topology comes from test/integration/lib.sh,
# which the integration tests share.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

once=0
cipher=chacha20-poly1305
while [ $# -gt 0 ]; do
	case "$1" in
	--once) once=1 ;;
	--cipher) cipher="${2:?--cipher needs a value}"; shift ;;
	-h|--help) sed -n '3,15p' "$0"; exit 0 ;;
	*) echo "demo.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done

# Bold only on a terminal: a log file gets plain text.
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%sbauxite demo:%s %s\n' "$bold" "$plain" "$*"; }
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (namespaces, hugepages, TAPs)" >&2; exit 1; }

say "installing what is missing (deploy/install-deps.sh)"
"$top/deploy/install-deps.sh"

build=$top/build/release
if [ ! -f "$build/build.ninja" ]; then
	say "configuring a release build in build/release"
	meson setup "$build" "$top" --buildtype=release -Dtests=disabled >/dev/null
fi
say "building (ninja -C build/release)"
ninja -C "$build" >/dev/null
app=$build/app/bauxite-app/bauxite-app

# The demo runs what an operator gets: the safety layer on (path probes
# every 100 ms, Critical packets sent twice). Its probes never let the
# counters stand still, so they are read as they are.
BX_SAFETY_SET='safety={}'
. "$top/test/integration/lib.sh"
iperf_s=3
pattern=b0a7c173

# counters_table [TRIES]: both nodes' counters side by side, and their
# drops, printed at once (the live ping writes to the same terminal).
counters_table() {
	local tries=${1:-0} a b c out
	bx_counters "$prefixA" "$tries" >"$bx_tmp/cA" 2>/dev/null || return 0
	bx_counters "$prefixB" "$tries" >"$bx_tmp/cB" 2>/dev/null || return 0
	out=$(printf '  %-22s %14s %14s\n' counter edge-a edge-b
	for c in tx_packets tx_bytes rx_packets rx_bytes inner_rx_packets \
		inner_tx_packets exception_rx_packets exception_tx_packets \
		handshake_tx handshake_rx sessions_initiated sessions_responded \
		probe_tx probe_rx critical_copies tx_dropped rx_dropped; do
		printf '  %-22s %14s %14s\n' "$c" "$(bx_stat "$bx_tmp/cA" "$c")" \
			"$(bx_stat "$bx_tmp/cB" "$c")"
	done
	a=$(bx_nonzero_drops "$bx_tmp/cA") b=$(bx_nonzero_drops "$bx_tmp/cB")
	printf '  drops by reason: edge-a: %s; edge-b: %s\n' "${a:-none}" "${b:-none}")
	printf '\n%s\n\n' "$out"
}

say "bringing up two nodes ($cipher)"
bx_require_tools ip ping tcpdump iperf3
bx_hugepages
bx_two_nodes "$app" "cipher=\"$cipher\""
box() { printf '  | %-28s |        | %-28s |\n' "$1" "$2"; }
echo
printf '    %-40s%s\n' "namespace $nsA" "namespace $nsB"
echo '  +------------------------------+        +------------------------------+'
box "edge-a   bauxite-app $pidA" "edge-b   bauxite-app $pidB"
box "  bauxite0  $vipA" "  bauxite0  $vipB"
box "  bx-ul0    $ulA" "  bx-ul0    $ulB"
box "  vA (af_packet) ===========" "============= vB (af_packet)" | sed 's/ |        | /=|========|=/'
echo '  +------------------------------+  veth  +------------------------------+'
echo "  virtual IPs (bauxite0): edge-a $vipA, edge-b $vipB"
echo "  mesh datagrams: UDP $mesh_port, $cipher, keys from a Noise IK handshake"
echo "  identities:     edge-a x25519 $keyA"
echo "                  edge-b x25519 $keyB"
echo "  telemetry:      echo /bauxite/stats | dpdk-telemetry.py -f $prefixA   (or $prefixB)"

if [ "$once" = 0 ]; then
	stop=0
	trap 'stop=1' INT TERM
	say "pinging $vipB from $vipA through bauxite0, counters every 5 s; Ctrl-C to stop"
	ip netns exec "$nsA" ping -i 1 -W 1 -I "$vipA" "$vipB" &
	pidP=$!
	bx_pids+=("$pidP")
	# The trap runs as soon as a signal arrives only while the shell waits
	# with the wait builtin (not while a foreground command runs).
	while [ "$stop" = 0 ] && bx_alive "$pidA" && bx_alive "$pidB"; do
		sleep 5 &
		wait "$!" || true
		[ "$stop" = 0 ] || break
		counters_table
	done
	kill -INT "$pidP" 2>/dev/null || true # ping prints its summary
	wait "$pidP" || true
	bx_forget "$pidP"
	rc=0
	if bx_alive "$pidA" && bx_alive "$pidB"; then
		say "stopping both nodes"
	else
		say "a node stopped (Ctrl-C reaches them too): stopping the other"
	fi
	bx_stop_two_nodes || rc=1
	for n in A B; do
		log=$bx_tmp/$n.log
		echo "  edge-${n,,} at exit:"
		sed -n '/stats (exit)/,$p' "$log" | sed 's/^/  /'
	done
	ns_left=("$nsA" "$nsB")
	bx_teardown
	for ns in "${ns_left[@]}"; do
		! ip netns list | grep -qw "$ns" || { echo "demo.sh: namespace $ns left behind" >&2; rc=1; }
	done
	[ "$rc" = 0 ] && say "torn down: namespaces, TAPs and processes are gone"
	exit "$rc"
fi

ok=1
bx_counters "$prefixB" 0 >"$bx_tmp/B0"
say "ping -c 5 $vipB from $vipA (payload pattern $pattern), capturing on vB"
bx_capture_start "$nsB" vB "$bx_tmp/vB.pcap" udp port "$mesh_port"
pidT=$BX_LAST_PID
out=$(ip netns exec "$nsA" ping -c 5 -i 0.2 -W 2 -p "$pattern" -I "$vipA" "$vipB" 2>&1) || true
bx_capture_stop "$pidT"
echo "$out" | sed 's/^/  /'
if echo "$out" | grep -q ' 0% packet loss'; then
	ping_res="0% loss"
else
	ping_res="LOST PACKETS"; ok=0
fi
if cap=$(bx_check_capture "$bx_tmp/vB.pcap" "$pattern" "$mesh_port" 5 2>&1); then
	cap_res="${cap#capture: }"
else
	cap_res="FAILED: $cap"; ok=0
fi
bx_counters "$prefixB" 0 >"$bx_tmp/B1"
delivered=$(bx_delta "$bx_tmp/B0" "$bx_tmp/B1" inner_tx_packets)
if [ "$delivered" -ge 5 ]; then
	dlv_res="$delivered packets decrypted and delivered"
else
	dlv_res="ONLY $delivered packets delivered"; ok=0
fi

say "iperf3 TCP for $iperf_s s, $vipA -> $vipB"
bx_start "$nsB" "$bx_tmp/iperf3-s.log" iperf3 -s -1 --forceflush -B "$vipB"
pidS=$BX_LAST_PID
for i in $(seq 50); do grep -q listening "$bx_tmp/iperf3-s.log" && break; sleep 0.1; done
if ip netns exec "$nsA" iperf3 -c "$vipB" -B "$vipA" -t "$iperf_s" -f m >"$bx_tmp/iperf3.out" 2>&1; then
	sed -n '/- - -/,$p' "$bx_tmp/iperf3.out" | grep -E 'sender|receiver|Interval' | sed 's/^/  /'
	iperf_res=$(awk '/receiver/ { print $7, $8 }' "$bx_tmp/iperf3.out")
else
	cat "$bx_tmp/iperf3.out" >&2
	iperf_res="FAILED"; ok=0
fi
wait "$pidS" 2>/dev/null || true
bx_forget "$pidS"

say "counters (DPDK telemetry /bauxite/stats and /bauxite/drops)"
counters_table 0

say "tearing down"
bx_stop_two_nodes || ok=0
bx_teardown

say "results"
printf '  %-12s %s\n' ping "$ping_res" "on the wire" "$cap_res" \
	"edge-b" "$dlv_res" iperf3 "${iperf_res:-?}"
if [ "$ok" = 1 ]; then
	say "PASS: traffic crossed the mesh encrypted ($cipher)"
	exit 0
fi
say "FAIL: see above"
exit 1
