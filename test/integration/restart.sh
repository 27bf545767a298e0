#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Warm restart. Node B is killed with SIGKILL (no clean shutdown) and
# started again on the same config and state_dir:
#   - the restarted B reads the snapshot it wrote when it first came up
#     (its log says "warm start") and A's pings cross again within 1 s of
#     B being up (its "up" line), timed by a ping every 20 ms from A;
#   - `bauxite snapshot save` makes the running B write its snapshot, and
#     `bauxite snapshot show` reads A's public key back from it;
#   - a corrupt snapshot is reported and ignored: B starts anyway and A's
#     pings cross again.
#
#   test/integration/restart.sh BAUXITE_APP
. "$(dirname "$0")/lib.sh"

app=${1:?usage: restart.sh BAUXITE_APP}
resume_max_ms=1000
bx_require_root
bx_require_tools ip ping sysctl awk
bx_hugepages
bx_two_nodes "$app"
tmp=$bx_tmp
cli=$(bx_cli "$app")
snap=$tmp/state-b/state.snapshot
grep -q 'snapshot written (start)' "$logB" || { bx_show_logs; bx_fail "B wrote no snapshot at start"; }
grep -q 'no snapshot in .* (a first start)' "$logB" || { bx_show_logs; bx_fail "B's first start did not say it had no snapshot"; }

# The CLI asks the running B for a snapshot, then reads it.
out=$("$cli" snapshot save --file-prefix "$prefixB") || bx_fail "bauxite snapshot save failed: $out"
bx_log "$out"
echo "$out" | grep -q "^saved $snap: 1 peer(s), [0-9]* bytes$" || bx_fail "unexpected: $out"
"$cli" snapshot show "$snap" >"$tmp/show" || bx_fail "bauxite snapshot show failed"
grep -q "$keyA" "$tmp/show" || { cat "$tmp/show" >&2; bx_fail "the snapshot does not hold A's public key"; }
! grep -qi "private\|$(cat "$tmp/state-b/identity.x25519")" "$tmp/show" || bx_fail "the snapshot shows a private key"

# restart_b LOG: starts B again; sets pidB and t_up (ns) when B is up.
restart_b() {
	local i
	bx_start "$nsB" "$1" "$app" "${BX_EAL[@]}" --file-prefix="$prefixB" \
		-- --config "$tmp/b.json"
	pidB=$BX_LAST_PID
	for i in $(seq $((BX_UP_TIMEOUT_S * 50))); do
		if grep -q 'edge-b up:' "$1"; then
			t_up=$(date +%s%N)
			return 0
		fi
		bx_alive "$pidB" || break
		sleep 0.02
	done
	cat "$1" >&2
	bx_fail "B did not come up again"
}

# resumed PINGLOG: ms from t_up to the first reply in PINGLOG after it.
resumed() {
	awk -v up="$t_up" '/bytes from/ {
		gsub(/[\[\]]/, "", $1); t = $1 * 1e9
		if (t >= up) { printf "%d\n", (t - up) / 1e6; found = 1; exit } }
		END { if (!found) print -1 }' "$1"
}

# kill_restart NAME: SIGKILL to B, B again, pinged from A all along.
kill_restart() {
	local name=$1 ms
	bx_start "$nsA" "$tmp/ping-$name.log" ping -D -i 0.02 -W 1 -I "$vipA" "$vipB"
	pidP=$BX_LAST_PID
	kill -KILL "$pidB"
	wait "$pidB" 2>/dev/null || true
	bx_forget "$pidB"
	sleep 0.5
	restart_b "$tmp/B-$name.log"
	logB=$tmp/B-$name.log
	sleep 3
	kill -INT "$pidP"
	wait "$pidP" || true
	bx_forget "$pidP"
	ms=$(resumed "$tmp/ping-$name.log")
	bx_log "$name: A's pings crossed again $ms ms after B was up"
	[ "$ms" -ge 0 ] || { bx_show_logs; bx_fail "$name: no ping crossed after B came back"; }
	[ "$ms" -le "$resume_max_ms" ] ||
		{ bx_show_logs; bx_fail "$name: traffic resumed $ms ms after B was up (> $resume_max_ms)"; }
}

kill_restart warm
grep -q 'warm start: snapshot of .*: 1 peer(s): 1 in the config' "$logB" ||
	{ bx_show_logs; bx_fail "the restarted B did not read its snapshot"; }

# A torn snapshot: reported, ignored, and B still reaches A.
head -c 40 "$snap" >"$tmp/torn" && cat "$tmp/torn" >"$snap"
kill_restart corrupt
grep -q "snapshot ignored: .*state.snapshot" "$logB" ||
	{ bx_show_logs; bx_fail "B did not report the corrupt snapshot"; }
bx_log "$(grep 'snapshot ignored' "$logB")"
bx_stop_two_nodes || { bx_show_logs; bx_fail "unclean shutdown"; }
grep -q 'snapshot written (shutdown)' "$logB" || { bx_show_logs; bx_fail "B wrote no snapshot at shutdown"; }
