#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The safety layer (issue 7) between two nodes whose underlay runs through
# an impairment box (test/tools/impair.py: delay and loss per direction;
# this kernel has no netem), A -> B impaired:
#   - 40 ms: DegradationWarning at A's event stream soon after the first
#     probe that shows it, no severance, pings go on;
#   - 60 ms and 95 % loss: SafetySeverance, pings fail (safety_blocked),
#     the subscriber sees it; impairment off: probation after the
#     hold-down, recovery after the paths stay healthy, pings again;
#   - 0 -> 10 -> 20 -> 40 -> 60 ms + 95 % loss: the jamming stream goes
#     NONE, LOW, MODERATE, HIGH, CRITICAL, in that order;
#   - 30 % loss: Critical (ICMP) delivery stays >= 95 % with its copies,
#     no reply comes twice, Bulk (UDP) shows the loss;
#   - intent throttle-bulk 1000: iperf3 TCP <= 1.1 Mbit/s while the ping
#     RTT stays; intent fec absolute lifts Bulk out of the throttle.
# Times here are shortened for the test: hold-down 2 s, recovery 2 s.
# Critical duplication runs with 3 copies: two copies at 30 % independent
# loss deliver 1 - 0.3^2 = 91 % (below the 95 % asked), three 97.3 %.
#
#   test/integration/safety.sh BAUXITE_APP
BX_SAFETY_SET='safety={"hold_down_s": 2, "recovery_s": 2, "critical_copies": 3}'
. "$(dirname "$0")/lib.sh"

app=${1:?usage: safety.sh BAUXITE_APP}
bx_require_root
bx_require_tools ip ping iperf3 awk
bx_hugepages
bx_tmpdir
tmp=$bx_tmp
cli=$(bx_cli "$app")
nsA=bxA$$ nsB=bxB$$ nsM=bxM$$
prefixA=bxA$$ prefixB=bxB$$
logA=$tmp/A.log logB=$tmp/B.log
control=$tmp/impair.conf
warn_max_ms=200

keyA=$(bx_identity "$app" "$tmp/state-a")
keyB=$(bx_identity "$app" "$tmp/state-b")
for n in a b; do
	if [ "$n" = a ]; then key=$keyB; else key=$keyA; fi
	bx_config "$BX_SRC/config/edge-$n.json" "$tmp/$n.json" \
		"underlay.port=\"net_af_packet0,iface=v${n^^}\"" \
		"peers.0.public_key=\"$key\"" 'stats_interval_s=0' \
		"state_dir=\"$tmp/state-$n\"" "$BX_SAFETY_SET"
done
vipA=$(bx_json "$tmp/a.json" inner.address) vipA=${vipA%/*}
vipB=$(bx_json "$tmp/b.json" inner.address) vipB=${vipB%/*}
sockA=$tmp/state-a/safety.sock

# A -- impairment box -- B, one L2 segment.
bx_netns "$nsA"
bx_netns "$nsB"
bx_netns "$nsM"
bx_veth "$nsA" vA "$nsM" mA
bx_veth "$nsM" mB "$nsB" vB
: >"$control"
bx_start "$nsM" "$tmp/impair.log" "$BX_PY" "$BX_SRC/test/tools/impair.py" mA mB "$control"
pidM=$BX_LAST_PID
impair() { # impair DELAY_MS LOSS_PCT: A -> B from now on
	echo "a2b delay_ms=$1 loss_pct=$2" >"$control.new" && mv "$control.new" "$control"
}
now_ms() { date +%s%3N; }

bx_start "$nsA" "$logA" "$app" "${BX_EAL[@]}" --file-prefix="$prefixA" -- --config "$tmp/a.json"
pidA=$BX_LAST_PID
bx_start "$nsB" "$logB" "$app" "${BX_EAL[@]}" --file-prefix="$prefixB" -- --config "$tmp/b.json"
pidB=$BX_LAST_PID
bx_wait_iface "$nsA" bauxite0 "$pidA" || { bx_show_logs; bx_fail "A never came up"; }
bx_wait_iface "$nsB" bauxite0 "$pidB" || { bx_show_logs; bx_fail "B never came up"; }
for i in $(seq "$BX_TUNNEL_TIMEOUT_S"); do bx_ping "$nsA" "$vipA" "$vipB" && break; done
bx_ping "$nsA" "$vipA" "$vipB" || { bx_show_logs; bx_fail "no ping through the impairment box"; }
grep -q 'safety: probes every 100 ms' "$logA" || { bx_show_logs; bx_fail "A does not run the safety layer"; }

# A watchdog's view: every event of A's monitor, as it comes.
"$cli" safety watch --listen "unix:$sockA" >"$tmp/events" 2>"$tmp/events.err" &
bx_pids+=("$!")
for i in $(seq 50); do grep -q 'STATE' "$tmp/events" && break; sleep 0.1; done
grep -q 'STATE .* NORMAL' "$tmp/events" || { cat "$tmp/events" "$tmp/events.err" >&2; bx_fail "the event stream did not open with state NORMAL"; }
sleep 2.5 # a full loss window of healthy probes

# event_ms KIND: the time (Unix ms) of the first KIND line, or nothing.
event_ms() {
	awk -v k="$1" '$2 == k { print $1; exit }' "$tmp/events" | "$BX_PY" -c '
import sys, datetime
for line in sys.stdin:
    t = datetime.datetime.strptime(line.strip(), "%Y-%m-%dT%H:%M:%S.%fZ")
    print(int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000))'
}
wait_event() { # wait_event KIND SECONDS
	local i
	for i in $(seq $(($2 * 10))); do
		grep -q " $1 " "$tmp/events" && return 0
		sleep 0.1
	done
	cat "$tmp/events" >&2
	bx_show_logs
	bx_fail "no $1 event within $2 s"
}

# ---- 40 ms: a warning, no severance ------------------------------------
t0=$(now_ms)
impair 40 0
wait_event DEGRADATION_WARNING 3
dt=$(($(event_ms DEGRADATION_WARNING) - t0))
# The first probe sent after the change is at most one interval (100 ms)
# away and comes back 40 ms later; the warning follows within 50 ms.
[ "$dt" -le "$warn_max_ms" ] || bx_fail "DegradationWarning $dt ms after the delay began (expected <= $warn_max_ms)"
sleep 2
! grep -q ' SEVERANCE ' "$tmp/events" || { cat "$tmp/events" >&2; bx_fail "40 ms severed the tunnel"; }
bx_ping "$nsA" "$vipA" "$vipB" || bx_fail "no ping at 40 ms"
bx_log "40 ms: DegradationWarning $dt ms after the delay began, no severance"

# ---- 60 ms and 95 % loss: severance; then recovery -----------------------
impair 60 0
sleep 0.6 # the RTT the monitor will judge is 60 ms
impair 60 95
wait_event SAFETY_SEVERANCE 8
sleep 0.3
! bx_ping "$nsA" "$vipA" "$vipB" || bx_fail "a ping crossed a severed tunnel"
st=$("$cli" intent show --file-prefix "$prefixA" | awk '$1 == "state" { print $2 }')
[ "$st" = SEVERED ] || bx_fail "intent show says state $st while severed"
grep -q 'severed: .* keys wiped' "$logA" || { bx_show_logs; bx_fail "A did not tear its sessions down"; }
blocked=$(bx_counters "$prefixA" 0 | awk '$1 == "safety_blocked" { print $2 }')
[ "${blocked:-0}" -gt 0 ] || bx_fail "A counted no safety_blocked drop while severed"
t1=$(now_ms)
impair 0 0
wait_event SAFETY_PROBATION 6
wait_event SAFETY_RECOVERED 12
dt=$(($(event_ms SAFETY_RECOVERED) - t1))
for i in $(seq 20); do bx_ping "$nsA" "$vipA" "$vipB" && break; done
bx_ping "$nsA" "$vipA" "$vipB" || { bx_show_logs; bx_fail "no ping after the recovery"; }
bx_log "60 ms + 95 % loss: severed ($blocked packets blocked); recovered $dt ms after the impairment ended (hold-down 2 s + 2 s healthy)"

# ---- the jamming stream through its levels ---------------------------------
"$cli" jamming watch --listen "unix:$sockA" >"$tmp/jam" 2>"$tmp/jam.err" &
pidJ=$!
bx_pids+=("$pidJ")
sleep 2.5
for d in 10 20 40; do impair "$d" 0; sleep 1.5; done
impair 60 0
sleep 0.6
impair 60 95
wait_event_n() { local i; for i in $(seq 80); do grep -q CRITICAL "$tmp/jam" && return 0; sleep 0.1; done; return 1; }
wait_event_n || { tail -20 "$tmp/jam" >&2; bx_fail "the jamming stream never said CRITICAL"; }
kill "$pidJ" 2>/dev/null || true
levels=$(awk '$2 == "edge-b" { print $4 }' "$tmp/jam" | uniq | awk '!seen[$1]++' | tr '\n' ' ')
[ "$levels" = "NONE LOW MODERATE HIGH CRITICAL " ] ||
	{ awk '$2 == "edge-b"' "$tmp/jam" | uniq -f3 -c >&2; bx_fail "jamming levels came as: $levels"; }
n_jam=$(awk '$2 == "edge-b"' "$tmp/jam" | wc -l)
bx_log "jamming: $levels($n_jam samples for edge-b, one per 50 ms)"
impair 0 0
for i in $(seq 20); do bx_ping "$nsA" "$vipA" "$vipB" && break; sleep 0.5; done

# ---- critical duplication under 30 % loss ----------------------------------
bx_counters "$prefixB" 0 >"$tmp/B0"
impair 0 30
ip netns exec "$nsA" ping -c 500 -i 0.02 -W 1 -I "$vipA" "$vipB" >"$tmp/ping-dup" 2>&1 || true
got=$(grep -c 'bytes from' "$tmp/ping-dup" || true)
dups=$(grep -c 'DUP!' "$tmp/ping-dup" || true)
[ "$dups" = 0 ] || bx_fail "$dups ping replies came twice"
[ "$got" -ge 475 ] || { tail -3 "$tmp/ping-dup" >&2; bx_fail "Critical delivery $got/500 under 30 % loss (expected >= 95 %)"; }
bx_counters "$prefixB" 0 >"$tmp/B1"
dc=$(bx_delta "$tmp/B0" "$tmp/B1" duplicate_copy)
[ "$dc" -gt 0 ] || bx_fail "B discarded no copies as duplicate_copy"
bx_start "$nsB" "$tmp/iperf-u.log" iperf3 -s -1 -B "$vipB"
for i in $(seq 50); do grep -q listening "$tmp/iperf-u.log" && break; sleep 0.1; done
ip netns exec "$nsA" iperf3 -c "$vipB" -B "$vipA" -u -b 5M -l 1000 -t 3 >"$tmp/iperf-u.out" 2>&1 ||
	{ cat "$tmp/iperf-u.out" >&2; bx_fail "iperf3 UDP failed"; }
bulk_loss=$(awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i ~ /^\(.*%\)$/) { gsub(/[()%]/, "", $i); print int($i) } }' "$tmp/iperf-u.out")
[ "${bulk_loss:-0}" -ge 20 ] || { cat "$tmp/iperf-u.out" >&2; bx_fail "Bulk lost only ${bulk_loss:-?} % under 30 % loss"; }
impair 0 0
bx_log "30 % loss: Critical $got/500 pings answered, none twice, B dropped $dc copies as duplicate_copy; Bulk UDP lost $bulk_loss %"

# ---- intents: throttle Bulk, lift it -----------------------------------------
rtt_p50() { # rtt_p50 FILE
	awk -F'time=' '/time=/ { split($2, a, " "); print a[1] }' "$1" | sort -n |
		awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
ip netns exec "$nsA" ping -c 40 -i 0.05 -I "$vipA" "$vipB" >"$tmp/ping-idle" 2>&1 || true
idle=$(rtt_p50 "$tmp/ping-idle")
out=$("$cli" intent throttle-bulk 1000 --file-prefix "$prefixA") || bx_fail "intent throttle-bulk failed: $out"
bx_start "$nsB" "$tmp/iperf-t.log" iperf3 -s -1 -B "$vipB"
for i in $(seq 50); do grep -q listening "$tmp/iperf-t.log" && break; sleep 0.1; done
ip netns exec "$nsA" ping -c 80 -i 0.05 -I "$vipA" "$vipB" >"$tmp/ping-busy" 2>&1 &
pingT=$!
ip netns exec "$nsA" iperf3 -c "$vipB" -B "$vipA" -t 5 -f k >"$tmp/iperf-t.out" 2>&1 ||
	{ cat "$tmp/iperf-t.out" >&2; bx_fail "iperf3 TCP under the throttle failed"; }
wait "$pingT" || true
kbps=$(awk '/receiver/ { print int($7) }' "$tmp/iperf-t.out")
busy=$(rtt_p50 "$tmp/ping-busy")
[ "${kbps:-99999}" -le 1100 ] || { cat "$tmp/iperf-t.out" >&2; bx_fail "throttled to 1000 kbit/s, iperf3 measured $kbps kbit/s"; }
awk -v i="$idle" -v b="$busy" 'BEGIN { exit !(b <= i + 2.0) }' ||
	bx_fail "ping RTT p50 went from $idle ms to $busy ms under the throttled bulk flow"
blk=$(bx_counters "$prefixA" 0 | awk '$1 == "intent_throttled" { print $2 }')
[ "${blk:-0}" -gt 0 ] || bx_fail "no intent_throttled drops at A"
bx_log "throttle-bulk 1000: iperf3 TCP $kbps kbit/s; ping RTT p50 $idle ms idle, $busy ms meanwhile"
out=$("$cli" intent fec absolute --file-prefix "$prefixA") || bx_fail "intent fec failed: $out"
bx_start "$nsB" "$tmp/iperf-f.log" iperf3 -s -1 -B "$vipB"
for i in $(seq 50); do grep -q listening "$tmp/iperf-f.log" && break; sleep 0.1; done
ip netns exec "$nsA" iperf3 -c "$vipB" -B "$vipA" -t 3 -f k >"$tmp/iperf-f.out" 2>&1 ||
	{ cat "$tmp/iperf-f.out" >&2; bx_fail "iperf3 TCP with fec absolute failed"; }
lifted=$(awk '/receiver/ { print int($7) }' "$tmp/iperf-f.out")
[ "${lifted:-0}" -gt 2000 ] || bx_fail "fec absolute: bulk still throttled ($lifted kbit/s)"
"$cli" intent fec normal --file-prefix "$prefixA" >/dev/null
"$cli" intent throttle-bulk 0 --file-prefix "$prefixA" >/dev/null
"$cli" intent throttle-bulk x --file-prefix "$prefixA" 2>"$tmp/bad" && bx_fail "a bad intent was taken"
grep -q 'throttle_bulk_kbps: expected' "$tmp/bad" || { cat "$tmp/bad" >&2; bx_fail "a bad intent's error does not name it"; }
bx_log "fec absolute: Bulk rides Telemetry, past the throttle: $lifted kbit/s"
kill -TERM "$pidA" "$pidB"
wait "$pidA" || bx_fail "A exited non-zero"
wait "$pidB" || bx_fail "B exited non-zero"
bx_forget "$pidA"
bx_forget "$pidB"
