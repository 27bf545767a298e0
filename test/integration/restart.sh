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
#     pings cross again;
#   - a peer the snapshot marks as learned from the hub (from_hub), which
#     the config does not list, is restored: B routes its virtual IP to it
#     (a ping from B counts no_session or no_path, not no_peer) and keeps
#     it in its own next snapshot; the same peer not so marked came from
#     the config, was removed from it by the operator and stays out
#     (no_peer). Snapshots are written by a small encoder here, from the
#     documented format (control/snapshot/bx_snapshot.h), not by the app.
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
# mksnap FILE TOPOLOGY_VERSION FROM_HUB: B's snapshot with A (its config
# peer) and edge-c, marked as learned from the hub when FROM_HUB is 1.
mksnap() {
	"$BX_PY" - "$1" "$2" "$keyA" "$keyC" "$3" <<'PY'
import base64, hashlib, socket, struct, sys, time
path, topo, key_a, key_c, hub = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
def varint(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out
def field(num, wire, data):
    return varint(num << 3 | wire) + data
def v(num, n): return field(num, 0, varint(n))
def f32(num, n): return field(num, 5, struct.pack("<I", n))
def ld(num, b): return field(num, 2, varint(len(b)) + b)
def ip(a): return struct.unpack("!I", socket.inet_aton(a))[0]
def peer(pid, vip, ep, port, key, from_hub):
    pfx = f32(1, ip(vip)) + v(2, 32)
    return (ld(1, pid.encode()) + f32(2, ip(vip)) + ld(3, pfx) + f32(4, ip(ep)) +
            v(5, port) + ld(7, base64.b64decode(key)) + (v(8, 1) if from_hub else b""))
msg = (v(1, 1) + ld(2, b"edge-b") + v(3, int(time.time() * 1000)) +
       ld(4, peer("edge-a", "100.64.0.1", "10.99.0.1", 7600, key_a, False)) +
       ld(4, peer("edge-c", "100.64.0.3", "10.99.0.3", 7600, key_c, hub)) + v(5, topo))
head = b"BXSNAP1\n" + struct.pack(">I", len(msg))
open(path, "wb").write(head + hashlib.blake2b(head + msg, digest_size=16).digest() + msg)
PY
}

# restart_with_snapshot NAME TOPOLOGY FROM_HUB: B killed, given mksnap's snapshot,
# started again; then B pings edge-c's virtual IP once. Leaves B's
# counters before and after that ping in $tmp/NAME.0 and $tmp/NAME.1.
restart_with_snapshot() {
	kill -KILL "$pidB"
	wait "$pidB" 2>/dev/null || true
	bx_forget "$pidB"
	mksnap "$snap" "$2" "$3"
	restart_b "$tmp/B-$1.log"
	logB=$tmp/B-$1.log
	for i in $(seq 50); do grep -q 'snapshot written (start)' "$logB" && break; sleep 0.1; done
	bx_counters "$prefixB" >"$tmp/$1.0" || bx_fail "no counters from B"
	! ip netns exec "$nsB" ping -c 1 -W 1 -I "$vipB" 100.64.0.3 >/dev/null 2>&1 ||
		bx_fail "$1: a ping to edge-c was answered: there is no edge-c"
	bx_counters "$prefixB" >"$tmp/$1.1" || bx_fail "no counters from B"
}

keyC=$(head -c 32 /dev/urandom | base64)
restart_with_snapshot hub 7 1
grep -q 'warm start: .*topology version 7: 2 peer(s): 1 in the config, 1 restored' "$logB" ||
	{ bx_show_logs; bx_fail "B did not restore edge-c from a hub snapshot"; }
held=$(( $(bx_delta "$tmp/hub.0" "$tmp/hub.1" no_session) + $(bx_delta "$tmp/hub.0" "$tmp/hub.1" no_path) ))
[ "$held" -ge 1 ] && [ "$(bx_delta "$tmp/hub.0" "$tmp/hub.1" no_peer)" = 0 ] ||
	{ cat "$tmp/hub.1" >&2; bx_fail "B does not route edge-c's virtual IP to edge-c"; }
"$cli" snapshot show "$snap" >"$tmp/show-hub" || bx_fail "bauxite snapshot show failed"
grep -q "edge-c" "$tmp/show-hub" && grep -q "$keyC" "$tmp/show-hub" ||
	{ cat "$tmp/show-hub" >&2; bx_fail "B's own snapshot lost edge-c"; }
bx_log "hub snapshot: edge-c restored, routed and kept"
ip netns exec "$nsA" ping -c 1 -W 2 -I "$vipA" "$vipB" >/dev/null || bx_fail "A no longer reaches B"

restart_with_snapshot static 0 0
grep -q 'warm start: .*topology version 0: 2 peer(s): 1 in the config, 0 restored, 1 no longer configured' "$logB" ||
	{ bx_show_logs; bx_fail "B restored a peer from a static-config snapshot"; }
[ "$(bx_delta "$tmp/static.0" "$tmp/static.1" no_peer)" -ge 1 ] ||
	{ cat "$tmp/static.1" >&2; bx_fail "B still routes to edge-c"; }
bx_log "static snapshot: edge-c stays removed"

bx_stop_two_nodes || { bx_show_logs; bx_fail "unclean shutdown"; }
grep -q 'snapshot written (shutdown)' "$logB" || { bx_show_logs; bx_fail "B wrote no snapshot at shutdown"; }
