#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End to end, Bauxite next to wireguard-go (the Debian package, a userspace
# WireGuard) in the same topology: two fresh namespaces joined by one veth
# pair vA -- vB with the underlay addresses 10.99.0.1/24 and 10.99.0.2/24,
# tunnel addresses 100.64.0.1 and 100.64.0.2, inner MTU 1350 for both.
#   Bauxite:      test/integration/lib.sh's standard topology (bx_two_nodes):
#                 bauxite-app per node, af_packet on the veth, TAP bauxite0;
#                 configs from config/edge-{a,b}.json, safety layer on (the
#                 default an operator gets: probes, Critical packets twice).
#   wireguard-go: the veth carries the underlay addresses itself; one
#                 wireguard-go per node (interfaces wgA<pid>/wgB<pid>, not
#                 wg0 twice: the UAPI sockets in /var/run/wireguard are
#                 shared by all namespaces), keys from wg genkey, ChaCha20-
#                 Poly1305 (WireGuard has no other cipher).
# Through each tunnel, from A to B, the same iperf3 options:
#   tcp1, tcp4   iperf3 TCP, 1 and 4 streams: Gbit/s at the receiver
#   udp64        iperf3 UDP, 64-byte IP packets (-l 36), unlimited rate
#                (-b 0): packets per second the receiver read, and the
#                loss (% of what the sender sent)
#   ping         100 pings a second, idle and while iperf3 TCP (4 streams)
#                saturates the tunnel (as critical-latency.sh): RTT p50
#                and p99 (nearest rank, in µs) and the loss
# Each phase is checked to have gone through the tunnel (Bauxite: the
# receiver's inner_tx_packets; wireguard-go: its peer's received bytes,
# wg show transfer): a figure measured on another path fails the run.
#
# CPU placement, on this machine kind's 2 cores (two nodes, iperf3, ping
# and the kernel's veth, TAP and TUN work share them): see bxp_placement in
# perf/lib-perf.sh.
#   Bauxite: --placement split (the default): each node's worker lcore
#     pinned to its own CPU (A: CPU 1, B: CPU 0), the control lcores on
#     either; idle_sleep_us 100 (the edge configs'): a node that backs off
#     on empty polls. Measured against the others (issue 9): both workers
#     on one CPU (shared) gave half the TCP rate; pure busy poll
#     (--idle-sleep-us 0) a lower idle p50 but a ten times higher idle p99
#     and less UDP, the pollers taking the CPU from iperf3 and the kernel;
#     no pinning (float) was close to split but less steady.
#   wireguard-go: its own scheduling (Go runtime, GOMAXPROCS = the number
#     of CPUs), no pinning. iperf3 and ping: unpinned, for both tunnels.
# The placement is printed with the figures.
#
# Prints a table (figure, Bauxite, wireguard-go, Bauxite / wireguard-go).
# With --json FILE also writes one object per figure and tunnel, one a line:
#   {"name": "e2e.tcp1.bauxite", "unit": "Gbit/s", "value": ..., "ratio": ...}
# names e2e.{tcp1,tcp4,udp64,udp64_loss,ping_idle_p50,ping_idle_p99,
# ping_loaded_p50,ping_loaded_p99,ping_idle_loss,ping_loaded_loss}.
# {bauxite,wireguard-go}; units Gbit/s, pps, %, us. ratio is Bauxite /
# wireguard-go on the bauxite line (null when the other is 0 or was not
# measured, and for losses), null on the wireguard-go line.
#
# Not a speed test: exits non-zero only when a measurement could not be
# made (a tunnel never came up, iperf3 failed, no ping reply, traffic not
# through the tunnel); 77 (skip) without root, tools or hugepages.
#
#   perf/e2e.sh BAUXITE_APP [--seconds N] [--quick] [--json FILE]
#       [--cipher chacha20-poly1305|aes-256-gcm] [--only bauxite|wireguard]
#       [--placement split|shared|float] [--idle-sleep-us N]
# --seconds N: each phase's length (default 5); --quick: 2 s phases, the
# whole run (both tunnels) in well under a minute.
BX_SAFETY_SET=${BX_SAFETY_SET:-'safety={}'}
. "$(dirname "$0")/../test/integration/lib.sh"
. "$(dirname "$0")/lib-perf.sh"

usage="usage: e2e.sh BAUXITE_APP [--seconds N] [--quick] [--json FILE] [--cipher chacha20-poly1305|aes-256-gcm] [--only bauxite|wireguard] [--placement split|shared|float] [--idle-sleep-us N]"
app=${1:?$usage}
shift
seconds=5
json=""
cipher=chacha20-poly1305
only=""
placement=split
idle_us=100
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) seconds=${2:?$usage}; shift ;;
	--quick) seconds=2 ;;
	--json) json=${2:?$usage}; shift ;;
	--cipher) cipher=${2:?$usage}; shift ;;
	--only) only=${2:?$usage}; shift ;;
	--placement) placement=${2:?$usage}; shift ;;
	--idle-sleep-us) idle_us=${2:?$usage}; shift ;;
	*) echo "$usage" >&2; exit 2 ;;
	esac
	shift
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "--seconds takes a whole number >= 1" >&2; exit 2; }
[[ "$idle_us" =~ ^[0-9]+$ ]] || { echo "--idle-sleep-us takes a whole number" >&2; exit 2; }
case "$cipher" in chacha20-poly1305 | aes-256-gcm) ;; *) echo "$usage" >&2; exit 2 ;; esac
case "$placement" in split | shared | float) ;; *) echo "$usage" >&2; exit 2 ;; esac
case "$only" in
"") tunnels=(bauxite wireguard-go) ;;
bauxite) tunnels=(bauxite) ;;
wireguard) tunnels=(wireguard-go) ;;
*) echo "$usage" >&2; exit 2 ;;
esac

iperf_port=5201
# The loaded pings' iperf3 runs ramp_s before them (slow start, the queues
# fill) and ends after them: on two shared cores ping falls behind its
# interval under load (as in critical-latency.sh).
iperf_load_streams=4
ramp_s=1
iperf_load_s=$((ramp_s + seconds + (seconds + 1) / 2 + 1))
ping_count=$((seconds * BXP_PING_PER_S))
# UDP payload of a 64-byte IP packet (20 IPv4 + 8 UDP + 36).
udp_len=36
udp_ip_size=64
# What one reply or one TCP packet through the tunnel at least carries:
# an 84-byte ICMP echo; at most 1350 - 40 bytes of TCP payload.
ping_ip_size=84
tcp_mss_max=1310
wg_port=7600

bx_require_root
bx_require_tools ip ping sysctl base64 awk iperf3 timeout
case " ${tunnels[*]} " in *" wireguard-go "*) bx_require_tools wireguard-go wg ;; esac
case " ${tunnels[*]} " in *" bauxite "*) bx_hugepages ;; esac
bx_tmpdir
tmp=$bx_tmp
: >"$tmp/results"

# ---- placement -------------------------------------------------------------

bxp_placement "$placement"
place_text=$BXP_PLACE_TEXT
if [ "$idle_us" = 0 ]; then
	place_text+=", idle_sleep_us 0 (busy poll)"
else
	place_text+=", idle_sleep_us $idle_us"
fi
safety_text="safety layer on"
[ "$BX_SAFETY_SET" = 'safety={}' ] || safety_text=$BX_SAFETY_SET
wg_version=$(wireguard-go --version 2>/dev/null | awk 'NR == 1 { print $2 }') || wg_version=""

# ---- the two tunnels --------------------------------------------------------

# ns_del NS...: deletes namespaces this run made, before its exit.
ns_del() {
	local ns keep=() k
	for ns in "$@"; do
		ip netns del "$ns"
		keep=()
		for k in "${bx_namespaces[@]+"${bx_namespaces[@]}"}"; do
			[ "$k" = "$ns" ] || keep+=("$k")
		done
		bx_namespaces=("${keep[@]+"${keep[@]}"}")
	done
}

bauxite_up() {
	bx_two_nodes "$app" "cipher=\"$cipher\"" "idle_sleep_us=$idle_us" \
		"${BXP_PLACE_SETS[@]+"${BXP_PLACE_SETS[@]}"}"
}

# Both nodes must stop cleanly, but that is not a measurement: say so and
# go on. What was dropped, and why, is in the log for the figures' sake.
bauxite_down() {
	local n p
	for n in A B; do
		p=prefix$n
		if bx_counters "${!p}" 0 >"$tmp/bauxite.end.$n" 2>/dev/null; then
			bx_log "bauxite $n: drops by reason: $(bx_nonzero_drops "$tmp/bauxite.end.$n")," \
				"safety severances $(bx_stat "$tmp/bauxite.end.$n" safety_severances)"
		fi
	done
	bx_stop_two_nodes || bx_log "warning: Bauxite's nodes did not stop cleanly"
	ns_del "$nsA" "$nsB"
}

# wg_up: the same topology with wireguard-go. Sets nsA nsB vipA vipB logA
# logB (for bx_show_logs) and wgA wgB pidA pidB.
wg_up() {
	local n me peer ifn ns key i pid
	nsA=bxwA$$ nsB=bxwB$$
	wgA=wgA$$ wgB=wgB$$
	vipA=100.64.0.1 vipB=100.64.0.2
	logA=$tmp/wgA.log logB=$tmp/wgB.log
	bx_netns "$nsA"
	bx_netns "$nsB"
	ip link add vA netns "$nsA" type veth peer name vB netns "$nsB"
	# Private keys never leave the 0700 directory, 0600 files.
	(umask 077 && wg genkey >"$tmp/wgA.key" && wg genkey >"$tmp/wgB.key")
	for n in A B; do
		ns=ns$n ifn=wg$n
		if [ "$n" = A ]; then me=1; else me=2; fi
		ip netns exec "${!ns}" sysctl -qw "net.ipv6.conf.v$n.disable_ipv6=1"
		ip -n "${!ns}" addr add "10.99.0.$me/24" dev "v$n"
		ip -n "${!ns}" link set "v$n" up
		bx_start "${!ns}" "$tmp/wg$n.log" wireguard-go -f "${!ifn}"
		printf -v "pid$n" %s "$BX_LAST_PID"
	done
	for n in A B; do
		ns=ns$n ifn=wg$n pid=pid$n
		if [ "$n" = A ]; then me=1 peer=2 key=$(wg pubkey <"$tmp/wgB.key"); else
			me=2 peer=1 key=$(wg pubkey <"$tmp/wgA.key"); fi
		# The interface exists before its UAPI socket listens.
		for i in $(seq $((BX_UP_TIMEOUT_S * 10))); do
			[ -S "/var/run/wireguard/${!ifn}.sock" ] && break
			bx_alive "${!pid}" || break
			sleep 0.1
		done
		[ -S "/var/run/wireguard/${!ifn}.sock" ] ||
			{ bx_show_logs; bx_fail "wireguard-go ${!ifn} never came up in ${!ns}"; }
		ip netns exec "${!ns}" wg set "${!ifn}" private-key "$tmp/wg$n.key" \
			listen-port "$wg_port" peer "$key" allowed-ips "100.64.0.$peer/32" \
			endpoint "10.99.0.$peer:$wg_port"
		ip -n "${!ns}" addr add "100.64.0.$me/24" dev "${!ifn}"
		ip -n "${!ns}" link set "${!ifn}" mtu 1350 up
	done
	# The first ping triggers the handshake.
	for i in $(seq "$BX_TUNNEL_TIMEOUT_S"); do
		bx_ping "$nsA" "$vipA" "$vipB" && return 0
	done
	bx_show_logs
	bx_fail "no ping crossed the wireguard-go tunnel within $BX_TUNNEL_TIMEOUT_S s"
}

wg_down() {
	local pid ifn
	for pid in "$pidA" "$pidB"; do
		bxp_stop "$pid"
	done
	for ifn in "$wgA" "$wgB"; do
		[ ! -e "/var/run/wireguard/$ifn.sock" ] ||
			bx_log "warning: /var/run/wireguard/$ifn.sock left behind"
	done
	ns_del "$nsA" "$nsB"
}

# snap TUNNEL FILE: what the tunnel has delivered so far to A and to B,
# "A B": Bauxite's inner_tx_packets (decrypted packets out of bauxite0),
# wireguard-go's bytes received from its peer (plaintext plus overhead).
# The safety layer's probes keep Bauxite's counters moving: read at once.
snap() {
	local n p a b
	if [ "$1" = bauxite ]; then
		for n in A B; do
			p=prefix$n
			bx_counters "${!p}" 0 >"$tmp/counters.$n" ||
				bx_fail "no counters from Bauxite's node $n"
		done
		a=$(bx_stat "$tmp/counters.A" inner_tx_packets)
		b=$(bx_stat "$tmp/counters.B" inner_tx_packets)
	else
		a=$(ip netns exec "$nsA" wg show "$wgA" transfer | awk '{ print $2 }')
		b=$(ip netns exec "$nsB" wg show "$wgB" transfer | awk '{ print $2 }')
	fi
	echo "$a $b" >"$2"
}

# through TUNNEL PHASE BEFORE AFTER NODE PACKETS BYTES: the tunnel delivered
# at least PACKETS packets (Bauxite) or BYTES bytes (wireguard-go) to NODE
# (A or B) between the snapshots BEFORE and AFTER; fails the run otherwise:
# what the phase measured did not go through the tunnel.
through() {
	local t=$1 phase=$2 col need got
	if [ "$5" = A ]; then col=1; else col=2; fi
	got=$(( $(cut -d' ' -f"$col" "$4") - $(cut -d' ' -f"$col" "$3") ))
	if [ "$t" = bauxite ]; then need=$6; else need=$7; fi
	[ "$got" -ge "$need" ] || {
		bx_show_logs
		bx_fail "$t $phase: the tunnel delivered $got to $5, less than the $need the phase measured"
	}
}

# record TUNNEL KEY VALUE: one raw figure for the table.
record() {
	echo "$1 $2 $3" >>"$tmp/results"
}

# ping_phase TUNNEL NAME: pings from A to B; records the RTT percentiles.
ping_phase() {
	local t=$1 name=$2 r p50 p99 mx loss got sent
	bxp_ping "$nsA" "$vipA" "$vipB" "$ping_count" "$tmp/$t.$name.ping"
	r=$(bxp_rtt "$tmp/$t.$name.ping" "$t $name ping")
	read -r p50 p99 mx loss got sent <<<"$r"
	bx_log "$t $name ping: p50 $p50 ms, p99 $p99 ms, max $mx ms, $got/$sent replies"
	record "$t" "ping_${name}_p50" "$p50"
	record "$t" "ping_${name}_p99" "$p99"
	record "$t" "ping_${name}_loss" "$loss"
	PING_REPLIES=$got
}

# measure TUNNEL: every phase through the tunnel that is up.
measure() {
	local t=$1 out r bps bytes pps loss got sent pidC streams
	bxp_ping_warmup "$nsA" "$vipA" "$vipB"

	bx_log "$t: idle, $ping_count pings at ${BXP_PING_PER_S}/s"
	snap "$t" "$tmp/s0"
	ping_phase "$t" idle
	snap "$t" "$tmp/s1"
	through "$t" "idle ping" "$tmp/s0" "$tmp/s1" A "$PING_REPLIES" \
		$((PING_REPLIES * ping_ip_size))

	bxp_iperf_server "$nsB" "$vipB" "$iperf_port" "$tmp/$t.server.log"
	for streams in 1 4; do
		out=$tmp/$t.tcp$streams.json
		snap "$t" "$tmp/s0"
		bxp_iperf "$nsA" "$vipA" "$vipB" "$iperf_port" "$seconds" "$out" -P "$streams"
		snap "$t" "$tmp/s1"
		r=$(bxp_iperf_tcp "$out")
		read -r bps bytes <<<"$r"
		through "$t" "tcp$streams" "$tmp/s0" "$tmp/s1" B \
			$(( (bytes + tcp_mss_max - 1) / tcp_mss_max )) "$bytes"
		bx_log "$t tcp$streams: $(awk -v b="$bps" 'BEGIN { printf "%.3f", b / 1e9 }') Gbit/s"
		record "$t" "tcp$streams" "$bps"
	done

	out=$tmp/$t.udp64.json
	snap "$t" "$tmp/s0"
	bxp_iperf "$nsA" "$vipA" "$vipB" "$iperf_port" "$seconds" "$out" \
		-u -b 0 -l "$udp_len"
	snap "$t" "$tmp/s1"
	r=$(bxp_iperf_udp "$out" "$udp_len")
	read -r pps loss got sent <<<"$r"
	[ "$got" -gt 0 ] || { bx_show_logs; bx_fail "$t udp64: no datagram arrived"; }
	through "$t" udp64 "$tmp/s0" "$tmp/s1" B "$got" $((got * udp_ip_size))
	bx_log "$t udp64: $(printf '%.0f' "$pps") pps received, $got of $sent datagrams"
	record "$t" udp64 "$pps"
	record "$t" udp64_loss "$loss"

	out=$tmp/$t.load.json
	bx_log "$t: loaded, $ping_count pings under iperf3 TCP, $iperf_load_streams streams, ${iperf_load_s} s"
	snap "$t" "$tmp/s0"
	bxp_iperf_start "$nsA" "$vipA" "$vipB" "$iperf_port" "$iperf_load_s" "$out" \
		-P "$iperf_load_streams"
	pidC=$BXP_CLIENT_PID
	sleep "$ramp_s"
	ping_phase "$t" loaded
	bx_alive "$pidC" ||
		bx_log "warning: $t: iperf3 ended before the pings did; the last pings saw no load"
	bxp_iperf_wait "$pidC" "$out"
	snap "$t" "$tmp/s1"
	r=$(bxp_iperf_tcp "$out")
	read -r bps bytes <<<"$r"
	through "$t" "loaded ping" "$tmp/s0" "$tmp/s1" A "$PING_REPLIES" \
		$((PING_REPLIES * ping_ip_size))
	through "$t" "load" "$tmp/s0" "$tmp/s1" B \
		$(( (bytes + tcp_mss_max - 1) / tcp_mss_max )) "$bytes"
	bx_log "$t: the load carried $(awk -v b="$bps" 'BEGIN { printf "%.3f", b / 1e9 }') Gbit/s"
	bxp_stop "$BXP_SERVER_PID"
}

started=$SECONDS
for t in "${tunnels[@]}"; do
	if [ "$t" = bauxite ]; then
		bx_log "bauxite ($cipher): $place_text"
		bauxite_up
		measure bauxite
		bauxite_down
	else
		bx_log "wireguard-go $wg_version: Go runtime scheduling, $(nproc) CPUs"
		wg_up
		measure wireguard-go
		wg_down
	fi
done
bx_log "measured in $((SECONDS - started)) s"

"$BX_PY" - "$tmp/results" "$json" "$seconds" "$cipher, $safety_text; $place_text" \
	"$wg_version" "$(nproc)" <<'PY'
import json, sys

results, json_path, seconds, bauxite, wg_version, ncpu = sys.argv[1:7]
raw = {}
for line in open(results):
    t, key, value = line.split()
    raw[(t, key)] = float(value)

# key, label, unit (JSON), unit (table), scale from the raw figure, ratio?
figures = [
    ("tcp1", "TCP, 1 stream", "Gbit/s", "Gbit/s", 1e-9, True),
    ("tcp4", "TCP, 4 streams", "Gbit/s", "Gbit/s", 1e-9, True),
    ("udp64", "UDP 64 B received", "pps", "pps", 1, True),
    ("udp64_loss", "UDP 64 B loss", "%", "%", 1, False),
    ("ping_idle_p50", "ping idle p50", "us", "µs", 1e3, True),
    ("ping_idle_p99", "ping idle p99", "us", "µs", 1e3, True),
    ("ping_loaded_p50", "ping loaded p50", "us", "µs", 1e3, True),
    ("ping_loaded_p99", "ping loaded p99", "us", "µs", 1e3, True),
    # A percentile over the replies says nothing of the pings that got none.
    ("ping_idle_loss", "ping idle loss", "%", "%", 1, False),
    ("ping_loaded_loss", "ping loaded loss", "%", "%", 1, False),
]
tunnels = ("bauxite", "wireguard-go")

def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "Gbit/s":
        return "%.3f" % v
    if unit == "%":
        return "%.2f" % v
    return "%.0f" % v

rows, objs = [], []
for key, label, unit, tunit, scale, has_ratio in figures:
    v = {t: raw[(t, key)] * scale if (t, key) in raw else None for t in tunnels}
    b, w = v["bauxite"], v["wireguard-go"]
    ratio = b / w if has_ratio and b is not None and w else None
    rows.append(("%s (%s)" % (label, tunit), fmt(b, unit), fmt(w, unit),
                 "%.2f" % ratio if ratio is not None else "-"))
    for t in tunnels:
        if v[t] is not None:
            objs.append({"name": "e2e.%s.%s" % (key, t), "unit": unit,
                         "value": round(v[t], 4),
                         "ratio": round(ratio, 3) if t == "bauxite" and ratio is not None else None})

print("e2e: %s s per phase; inner MTU 1350 on both; iperf3 and ping unpinned" % seconds)
print("  bauxite:      %s" % bauxite)
print("  wireguard-go: %s, ChaCha20-Poly1305; Go runtime scheduling (%s CPUs), unpinned"
      % (wg_version or "?", ncpu))
head = ("figure", "bauxite", "wireguard-go", "bauxite/wg")
w = [max(len(r[c]) for r in rows + [head]) for c in range(4)]
for r in [head] + rows:
    print("  ".join(r[c].ljust(w[c]) if c == 0 else r[c].rjust(w[c])
                    for c in range(4)).rstrip())

if json_path:
    with open(json_path, "w") as f:
        for o in objs:
            f.write(json.dumps(o) + "\n")
PY
