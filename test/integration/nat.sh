#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# NAT traversal (issue 6) with real NATs: two edges, each behind its own
# Linux NAT router, a public network with the hub (bauxite-dispatch plus a
# coturn STUN server) and a relay (bauxite-app in role relay).
#
#   edge-a (10.0.2.2) -- natA (203.0.113.2) --+                   +-- hub 203.0.113.1
#                                             +-- public bridge --+
#   edge-b (10.0.3.2) -- natB (203.0.113.3) --+                   +-- relay 203.0.113.20
#
# Every NAT masquerades and drops unsolicited traffic to itself (a CPE
# firewall). Phase 1, port-restricted cone NATs (MASQUERADE keeps the
# source port): (a) ICE finds the direct path, ping works, the relay
# forwards (almost) nothing; (e) a FORWARD from an address that holds no
# registration is dropped and counted by the relay; (d) the hub stops and
# traffic goes on. Phase 2, symmetric NATs (MASQUERADE --random-fully, a
# new port per destination): (b) no direct pair exists, the relay carries
# the pings; (c) natA then forwards unsolicited UDP to edge-a's mesh port
# (the operator opens it) while pings flow: ICE's next attempt finds the
# direct pair and the traffic moves to it with no gap over 1 s.
# The time from the edges' start to the first ping reply is printed for
# (a) and (b).
#
#   test/integration/nat.sh BAUXITE_APP
. "$(dirname "$0")/lib.sh"

app=${1:?usage: nat.sh BAUXITE_APP}
bx_require_root
bx_require_tools ip ping sysctl awk ethtool iptables turnserver
bx_hugepages
bx_tmpdir
tmp=$bx_tmp
cli=$(bx_cli "$app")
dispatch=$(bx_dispatch_bin "$app")
hub_ip=203.0.113.1 hub=203.0.113.1:7700 relay_ip=203.0.113.20
nsP=bxP$$ nsH=bxH$$ nsR=bxR$$
prefixA=bxA$$ prefixB=bxB$$ prefixR=bxR$$
logA=$tmp/A.log logB=$tmp/B.log logH=$tmp/hub.log logR=$tmp/relay.log
hubdir=$tmp/hub
gap_max_ms=1000

# ---- the public network: hub, STUN server, relay ----------------------
bx_switch "$nsP"
bx_netns "$nsH"
bx_switch_port "$nsP" pH "$nsH" vH
ip -n "$nsH" addr add "$hub_ip/24" dev vH
# The edges' af_packet ports would see this kernel's UDP/TCP checksums
# unfinished (CHECKSUM_PARTIAL on a veth): the hub box fills them in.
ip netns exec "$nsH" ethtool -K vH tx off >/dev/null

bx_start "$nsH" "$tmp/stun.log" turnserver -n --listening-ip="$hub_ip" \
	--listening-port=3478 --stun-only --no-tls --no-dtls --no-cli \
	--log-file=stdout --simple-log

hub_start() {
	bx_start "$nsH" "$logH" "$dispatch" serve --state-dir "$hubdir" \
		--listen "$hub" --name "$hub_ip" --mesh-prefix 100.64.0.0/24
	pidH=$BX_LAST_PID
	for i in $(seq 100); do
		grep -q 'serving on' "$logH" 2>/dev/null && return 0
		bx_alive "$pidH" || break
		sleep 0.1
	done
	cat "$logH" >&2
	bx_fail "bauxite-dispatch did not start"
}
hub_start
"$dispatch" mesh set --state-dir "$hubdir" --stun "$hub_ip:3478" \
	--relay "$relay_ip:7600" >/dev/null || bx_fail "mesh set failed"
mkdir -m 700 "$tmp/relay"
"$dispatch" relay export-secret --state-dir "$hubdir" --out "$tmp/relay/relay.secret" \
	>/dev/null || bx_fail "relay export-secret failed"

# The relay: a bauxite-app of its own on the public network.
bx_netns "$nsR"
bx_switch_port "$nsP" pR "$nsR" vR
ip netns exec "$nsR" sysctl -qw net.ipv4.conf.vR.arp_ignore=8
ip netns exec "$nsR" sysctl -qw net.ipv4.conf.vR.rp_filter=1
bx_config "$BX_SRC/config/relay.json" "$tmp/relay.json" \
	"state_dir=\"$tmp/relay\"" 'underlay.port="net_af_packet0,iface=vR"' \
	"underlay.address=\"$relay_ip/24\"" 'stats_interval_s=0'
bx_start "$nsR" "$logR" "$app" "${BX_EAL[@]}" --file-prefix="$prefixR" \
	-- --config "$tmp/relay.json"
pidR=$BX_LAST_PID
# A relay has no inner interface: it is up when it says so.
for i in $(seq $((BX_UP_TIMEOUT_S * 10))); do
	grep -q 'relay-1 up: .*inner none' "$logR" && break
	bx_alive "$pidR" || break
	sleep 0.1
done
grep -q 'relay: serving' "$logR" && grep -q 'inner none' "$logR" ||
	{ cat "$logR" >&2; bx_fail "the relay did not come up serving, without an inner side"; }
! ip -n "$nsR" link show bauxite0 >/dev/null 2>&1 || bx_fail "the relay made an inner interface"

# ---- NAT routers and edges --------------------------------------------
# nat_up N MODE: router natN between the bridge and edge N's LAN.
# MODE masq: port-restricted cone; random: symmetric.
nat_up() {
	local n=$1 mode=$2 o ns lan
	o=$([ "$n" = a ] && echo 2 || echo 3)
	ns=bxN${n^^}$$ lan=bx${n^^}$$
	bx_netns "$ns"
	bx_switch_port "$nsP" "p${n^^}" "$ns" "w${n^^}"
	ip -n "$ns" addr add "203.0.113.$o/24" dev "w${n^^}"
	ip -n "$ns" route add default via "$hub_ip"
	bx_netns "$lan"
	ip link add "l${n^^}" netns "$ns" type veth peer name "e${n^^}" netns "$lan"
	ip -n "$ns" addr add "10.0.$o.1/24" dev "l${n^^}"
	ip -n "$ns" link set "l${n^^}" up
	ip netns exec "$lan" sysctl -qw "net.ipv6.conf.e${n^^}.disable_ipv6=1"
	ip -n "$lan" link set "e${n^^}" up
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$ns" iptables -t nat -A POSTROUTING -o "w${n^^}" -j MASQUERADE \
		$([ "$mode" = random ] && echo --random-fully)
	# A CPE firewall: nothing unsolicited for the router itself. Without
	# it an early check of the other side claims the mapping's port in
	# conntrack and the router's own traffic leaves from another one.
	ip netns exec "$ns" iptables -A INPUT -i "w${n^^}" -m conntrack --ctstate NEW -j DROP
}

# join_edge N: edge N joins the hub once (state kept across phases).
join_edge() {
	local n=$1 o ns tok
	o=$([ "$n" = a ] && echo 2 || echo 3)
	ns=bx${n^^}$$
	tok=$("$dispatch" token create --state-dir "$hubdir" --ttl 10m) || bx_fail "token create failed"
	ip -n "$ns" addr add "10.0.$o.2/24" dev "e${n^^}"
	ip -n "$ns" route add default via "10.0.$o.1"
	ip netns exec "$ns" "$cli" join "$tok" "$hub" --name "edge-$n" \
		--state-dir "$tmp/state-$n" --underlay-port "net_af_packet0,iface=e${n^^}" \
		--underlay-address "10.0.$o.2/24" --underlay-gateway "10.0.$o.1" \
		>"$tmp/join-$n.log" 2>&1 || { cat "$tmp/join-$n.log" >&2; bx_fail "edge-$n: bauxite join failed"; }
	ip -n "$ns" addr flush dev "e${n^^}"
	bx_config "$tmp/state-$n/bauxite.json" "$tmp/$n.json" 'stats_interval_s=0' \
		'idle_sleep_us=100' 'hub.metrics_interval_s=1' 'hub.reconnect_max_s=2' \
		"$BX_SAFETY_SET" \
		'ice={"retry_min_s": 1, "retry_max_s": 3}'
}

edge_prepare() {
	local ns=bx${1^^}$$ ifn=e${1^^}
	ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$ifn.arp_ignore=8"
	ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$ifn.rp_filter=1"
}

start_edges() {
	local n ns
	t_start=$(date +%s%N)
	for n in a b; do
		ns=bx${n^^}$$
		bx_start "$ns" "$tmp/${n^^}.log" "$app" "${BX_EAL[@]}" \
			--file-prefix="bx${n^^}$$" -- --config "$tmp/$n.json"
		eval "pid${n^^}=\$BX_LAST_PID"
	done
	bx_wait_iface "bx${n^^}$$" bauxite0 "$pidB" || { bx_show_logs; bx_fail "edge-b never came up"; }
	bx_wait_iface "bxA$$" bauxite0 "$pidA" || { bx_show_logs; bx_fail "edge-a never came up"; }
}

stop_edges() {
	kill -TERM "$pidA" "$pidB"
	wait "$pidA" || bx_fail "edge-a exited non-zero"
	wait "$pidB" || bx_fail "edge-b exited non-zero"
	bx_forget "$pidA"
	bx_forget "$pidB"
}

# first_reply WHAT: waits for the first ping A -> B and prints the time
# since start_edges.
first_reply() {
	local i t
	for i in $(seq 300); do
		if ip netns exec "bxA$$" ping -c 1 -W 0.2 -I "$vipA" "$vipB" >/dev/null 2>&1; then
			t=$((($(date +%s%N) - t_start) / 1000000))
			bx_log "$1: first ping reply $t ms after the edges started"
			echo "$t" >"$tmp/first-$1"
			return 0
		fi
	done
	bx_show_logs
	cat "$logR" >&2
	bx_fail "$1: no ping crossed within 60 s"
}

# path_of N PEER: the path column of `bauxite status` on edge N for PEER.
path_of() {
	ip netns exec "bx${1^^}$$" "$cli" status --file-prefix "bx${1^^}$$" 2>/dev/null |
		awk -v p="$2" '$1 == p { print $2 }'
}

wait_path() {
	local n=$1 peer=$2 want=$3 i
	for i in $(seq 150); do
		[ "$(path_of "$n" "$peer")" = "$want" ] && return 0
		sleep 0.2
	done
	bx_show_logs
	ip netns exec "bx${n^^}$$" "$cli" status --file-prefix "bx${n^^}$$" >&2 || true
	bx_fail "edge-$n: path to $peer is not $want"
}

# ---- phase 1: port-restricted cone NATs ---------------------------------
nat_up a masq
nat_up b masq
join_edge a
join_edge b
edge_prepare a
edge_prepare b
vipA=$(bx_json "$tmp/a.json" inner.address) vipA=${vipA%/*}
vipB=$(bx_json "$tmp/b.json" inner.address) vipB=${vipB%/*}
start_edges
first_reply a
wait_path a edge-b direct
wait_path b edge-a direct
bx_log "(a) both paths direct $((($(date +%s%N) - t_start) / 1000000)) ms after the edges started"
grep -q 'path direct' "$logA" || { bx_show_logs; bx_fail "edge-a never logged its direct path"; }
ice=$(ip netns exec "bxA$$" "$cli" status --file-prefix "bxA$$" | awk '$1 == "edge-b" { print $3 }')
case "$ice" in ready | connected) ;; *) bx_fail "(a) edge-a's status shows ICE state '$ice' on a direct path" ;; esac
bx_counters "$prefixR" >"$tmp/R0"
ip netns exec "bxA$$" ping -c 20 -i 0.05 -I "$vipA" "$vipB" >"$tmp/ping-a.txt" 2>&1 ||
	{ cat "$tmp/ping-a.txt" >&2; bx_fail "(a) pings over the direct path lost"; }
bx_counters "$prefixR" >"$tmp/R1"
fw=$(($(bx_stat "$tmp/R1" relay_forwarded) - $(bx_stat "$tmp/R0" relay_forwarded)))
[ "$fw" -le 2 ] || bx_fail "(a) the relay forwarded $fw datagrams while the path was direct"
bx_log "(a) direct path both ways, 20/20 pings, relay forwarded $fw meanwhile ($(bx_stat "$tmp/R1" relay_forwarded) since the start, before ICE chose)"
# One 5-tuple per node: every STUN packet and datagram edge-a sent left
# from the mesh port (the translator's work), as natA's conntrack shows.
stun_out=$(bx_counters "$prefixA" 0 | awk '$1 == "stun_out" { print $2 }')
[ "${stun_out:-0}" -gt 0 ] || bx_fail "(a) edge-a translated no STUN"

# (e) a FORWARD from an address without a registration: dropped, counted.
bx_counters "$prefixR" 0 >"$tmp/R2"
"$BX_PY" - <<'PY' | ip netns exec "$nsH" "$BX_PY" - "$relay_ip"
print(r'''
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
inner = bytes([0x80 | 0x10 | 1, 0, 0, 0]) + b"\x00" * 12 + b"\x00" * 32
hdr = bytes([0x80 | 0x10 | 6, 0, 0, 3, 0, 0, 0, 0]) + struct.pack(">Q", 0x1234)
for _ in range(25):
    s.sendto(hdr + inner, (sys.argv[1], 7600))
''')
PY
sleep 0.5
bx_counters "$prefixR" >"$tmp/R3"
d=$(($(bx_stat "$tmp/R3" relay_unregistered) - $(bx_stat "$tmp/R2" relay_unregistered)))
[ "$d" = 25 ] || { cat "$tmp/R3" >&2; bx_fail "(e) relay_unregistered grew by $d, expected 25"; }
bx_check_rx_accounting "$tmp/R3" relay
bx_log "(e) 25 forwards from an unregistered address: relay_unregistered +25"

# (d) the hub stops: the tunnel does not need it.
kill -TERM "$pidH"
wait "$pidH" 2>/dev/null || true
bx_forget "$pidH"
sleep 1
ip netns exec "bxA$$" ping -c 20 -i 0.1 -I "$vipA" "$vipB" >"$tmp/ping-d.txt" 2>&1 ||
	{ cat "$tmp/ping-d.txt" >&2; bx_show_logs; bx_fail "(d) pings lost with the hub down"; }
bx_log "(d) hub stopped: 20/20 pings"
for n in A B; do
	bx_counters "bx$n$$" >"$tmp/$n-1"
	bx_check_rx_accounting "$tmp/$n-1" "edge-${n,}"
done
stop_edges
hub_start

# ---- phase 2: symmetric NATs ----------------------------------------------
for n in A B; do
	ip netns del "bxN$n$$"
	ip netns del "bx$n$$"
done
nat_up a random
nat_up b random
edge_prepare a
edge_prepare b
start_edges
first_reply b
wait_path a edge-b relay
wait_path b edge-a relay
ip netns exec "bxA$$" ping -c 20 -i 0.05 -I "$vipA" "$vipB" >"$tmp/ping-b.txt" 2>&1 ||
	{ cat "$tmp/ping-b.txt" >&2; bx_fail "(b) pings through the relay lost"; }
bx_counters "$prefixR" >"$tmp/R4"
fw=$(($(bx_stat "$tmp/R4" relay_forwarded) - $(bx_stat "$tmp/R3" relay_forwarded)))
[ "$fw" -ge 40 ] || bx_fail "(b) the relay forwarded only $fw datagrams for 20 pings"
bx_log "(b) relay path both ways, 20/20 pings, relay forwarded $fw"

# (c) natA now forwards unsolicited UDP to edge-a's mesh port, while pings
# flow every 20 ms; ICE retries and the traffic moves to the direct pair.
ip netns exec "bxA$$" ping -D -i 0.02 -W 1 -w 30 -I "$vipA" "$vipB" >"$tmp/ping-c.txt" 2>&1 &
pingc=$!
sleep 1
ip netns exec "bxNA$$" iptables -t nat -I PREROUTING 1 -i wA -p udp \
	-j DNAT --to-destination 10.0.2.2:7600
wait_path a edge-b direct
wait_path b edge-a direct
sleep 2
kill -INT "$pingc" 2>/dev/null || true
wait "$pingc" 2>/dev/null || true
gap=$(awk -F'[][]' '/bytes from/ { t = $2 * 1000; if (p && t - p > g) g = t - p; p = t }
	END { printf "%d", g }' "$tmp/ping-c.txt")
n_ok=$(grep -c 'bytes from' "$tmp/ping-c.txt" || true)
[ "$n_ok" -gt 100 ] || { cat "$tmp/ping-c.txt" >&2; bx_fail "(c) only $n_ok replies"; }
[ "$gap" -le "$gap_max_ms" ] || bx_fail "(c) a gap of $gap ms between replies while the path moved"
bx_log "(c) relay -> direct with the pings flowing: $n_ok replies, longest gap $gap ms"
for n in A B R; do
	bx_counters "bx$n$$" >"$tmp/$n-2"
	bx_check_rx_accounting "$tmp/$n-2" "bx$n"
done
stop_edges
bx_log "PASS: direct $(cat "$tmp/first-a") ms to the first reply (a), relay $(cat "$tmp/first-b") ms (b)"
