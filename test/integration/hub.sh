#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A hub and two edges, with no peer in any config file. Namespaces: nsH
# runs bauxite-dispatch on 10.99.0.254; edges A and B run bauxite-app on
# af_packet ports; all three on one bridge (nsS). Each edge joins with its
# own token (`bauxite join`), then:
#   - A pings B by virtual IP: the topology came from the hub;
#   - the same token again, and an expired token, are refused with a clear
#     error; a certificate from another hub's CA is refused by this hub;
#   - a policy that denies ICMP from A to B stops A's pings within 1 s,
#     counted as policy_deny on A; lifting it lets them through again;
#   - the hub is killed: A <-> B pings go on with 0 loss; it is restarted:
#     both reconnect, and a node joining then reaches A at the next
#     topology version;
#   - B is revoked: A drops B within 1 s (no_peer), and B's reconnects are
#     refused (PERMISSION_DENIED in B's log);
#   - bytes that are not the method's message get INVALID_ARGUMENT
#     (anonymous ProvisionNode, authenticated WatchTopology) and the hub
#     serves on;
#   - `audit verify` passes, and fails naming the record after one byte of
#     an audit record is changed in the database.
#
#   test/integration/hub.sh BAUXITE_APP
. "$(dirname "$0")/lib.sh"

app=${1:?usage: hub.sh BAUXITE_APP}
bx_require_root
bx_require_tools ip ping sysctl awk ethtool
bx_hugepages
bx_tmpdir
tmp=$bx_tmp
cli=$(bx_cli "$app")
dispatch=$(bx_dispatch_bin "$app")
hub_ip=10.99.0.254 hub_port=7700 hub=10.99.0.254:7700
nsS=bxS$$ nsH=bxH$$ nsA=bxA$$ nsB=bxB$$ nsC=bxC$$
prefixA=bxA$$ prefixB=bxB$$ prefixC=bxC$$
logA=$tmp/A.log logB=$tmp/B.log logH=$tmp/hub.log
hubdir=$tmp/hub
revoke_max_ms=1000 policy_max_ms=1000

# The network: a bridge, the hub's plain kernel interface, the edges.
bx_switch "$nsS"
bx_netns "$nsH"
bx_switch_port "$nsS" sH "$nsH" vH
ip -n "$nsH" addr add "$hub_ip/24" dev vH
# A veth leaves TCP checksums to "hardware" (CHECKSUM_PARTIAL): a packet
# socket -- the edges' af_packet ports -- would see them unfinished. A
# real NIC fills them in; here the hub's kernel must.
ip netns exec "$nsH" ethtool -K vH tx off >/dev/null

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

token() { "$dispatch" token create --state-dir "$hubdir" "$@"; }

# join_edge N IFACE ADDR LOG TOKEN: the edge's namespace and port, then
# `bauxite join` with the kernel holding ADDR on the port for the while
# (a node is on its network before bauxite-app takes the NIC). Leaves the
# port to bauxite-app as bx_veth does; the config in $tmp/state-N.
join_edge() {
	local n=$1 ifn=$2 addr=$3 ns
	ns=bx${n^^}$$
	bx_netns "$ns"
	bx_switch_port "$nsS" "s${n^^}" "$ns" "$ifn"
	ip -n "$ns" addr add "$addr" dev "$ifn"
	ip netns exec "$ns" "$cli" join "$5" "$hub" --name "edge-$n" \
		--state-dir "$tmp/state-$n" --underlay-port "net_af_packet0,iface=$ifn" \
		--underlay-address "$addr" >"$4" 2>&1 || { cat "$4" >&2; bx_fail "edge-$n: bauxite join failed"; }
	ip -n "$ns" addr flush dev "$ifn"
	ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$ifn.arp_ignore=8"
	ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$ifn.rp_filter=1"
	bx_config "$tmp/state-$n/bauxite.json" "$tmp/$n.json" 'stats_interval_s=0' \
		'idle_sleep_us=100' 'hub.metrics_interval_s=1' 'hub.reconnect_max_s=2' \
		"$BX_SAFETY_SET"
}

# start_edge N LOG: bauxite-app of edge N.
start_edge() {
	local n=$1 ns=bx${1^^}$$
	bx_start "$ns" "$2" "$app" "${BX_EAL[@]}" --file-prefix="bx${n^^}$$" \
		-- --config "$tmp/$n.json"
	BX_EDGE_PID=$BX_LAST_PID
	bx_wait_iface "$ns" bauxite0 "$BX_EDGE_PID" || { cat "$2" >&2; bx_fail "edge-$n never came up"; }
}

tokA=$(token --ttl 10m) || bx_fail "token create failed"
tokB=$(token --ttl 10m) || bx_fail "token create failed"
join_edge a vA 10.99.0.1/24 "$tmp/join-a.log" "$tokA"
join_edge b vB 10.99.0.2/24 "$tmp/join-b.log" "$tokB"
grep -q '^\[5/5\] joined as edge-a' "$tmp/join-a.log" || { cat "$tmp/join-a.log" >&2; bx_fail "join of A did not report its steps"; }
for n in a b; do
	! grep -q '"peers"' "$tmp/$n.json" || bx_fail "edge-$n's config lists peers"
	[ "$(stat -c %a "$tmp/state-$n/node.key")" = 600 ] || bx_fail "edge-$n's TLS key is not 0600"
done
vipA=$(bx_json "$tmp/a.json" inner.address) vipA=${vipA%/*}
vipB=$(bx_json "$tmp/b.json" inner.address) vipB=${vipB%/*}
bx_log "joined: edge-a $vipA, edge-b $vipB"

# The same token again, an expired one (asked from the hub's own
# namespace: the edges' ports belong to bauxite-app from now on).
out=$(ip netns exec "$nsH" "$cli" join "$tokA" "$hub" --name edge-x --state-dir "$tmp/state-x" \
	--underlay-port net_af_packet0,iface=vA --underlay-address 10.99.0.9/24 2>&1) &&
	bx_fail "a used token was accepted: $out"
echo "$out" | grep -q 'already used' || bx_fail "reused token: unclear error: $out"
bx_log "reused token refused: $(echo "$out" | tail -n 1)"
tokE=$(token --ttl 1s) || bx_fail "token create failed"
sleep 1.5
out=$(ip netns exec "$nsH" "$cli" join "$tokE" "$hub" --name edge-y --state-dir "$tmp/state-y" \
	--underlay-port net_af_packet0,iface=vB --underlay-address 10.99.0.9/24 2>&1) &&
	bx_fail "an expired token was accepted: $out"
echo "$out" | grep -q 'expired' || bx_fail "expired token: unclear error: $out"
bx_log "expired token refused: $(echo "$out" | tail -n 1)"

start_edge a "$logA"
pidA=$BX_EDGE_PID
start_edge b "$logB"
pidB=$BX_EDGE_PID
for i in $(seq "$BX_TUNNEL_TIMEOUT_S"); do
	bx_ping "$nsA" "$vipA" "$vipB" && break
done
bx_ping "$nsA" "$vipA" "$vipB" || { bx_show_logs; cat "$logH" >&2; bx_fail "no ping from A to B by virtual IP"; }
grep -q 'hub topology .* applied' "$logA" || { bx_show_logs; bx_fail "A applied no hub topology"; }
bx_log "ping A -> B by virtual IP, peers from the hub only"

# A certificate from another hub's CA: refused by this hub.
otherdir=$tmp/other-hub
bx_start "$nsH" "$tmp/other.log" "$dispatch" serve --state-dir "$otherdir" \
	--listen "$hub_ip:7701" --name "$hub_ip" --mesh-prefix 100.65.0.0/24
pidO=$BX_LAST_PID
for i in $(seq 100); do grep -q 'serving on' "$tmp/other.log" 2>/dev/null && break; sleep 0.1; done
tokO=$("$dispatch" token create --state-dir "$otherdir") || bx_fail "token create failed"
ip -n "$nsH" addr add 10.99.0.9/24 dev vH
ip netns exec "$nsH" "$cli" join "$tokO" "$hub_ip:7701" --name edge-z --state-dir "$tmp/state-z" \
	--underlay-port net_af_packet0,iface=vZ --underlay-address 10.99.0.9/24 >"$tmp/join-z.log" 2>&1 ||
	{ cat "$tmp/join-z.log" >&2; bx_fail "join at the other hub failed"; }
bx_config "$tmp/state-z/bauxite.json" "$tmp/z-at-hub1.json" "hub.url=\"$hub\""
out=$(ip netns exec "$nsH" "$cli" hub check --config "$tmp/z-at-hub1.json" 2>&1) &&
	bx_fail "a foreign certificate was accepted: $out"
bx_log "foreign certificate refused: $(echo "$out" | tail -n 1)"
kill -TERM "$pidO"; wait "$pidO" || true; bx_forget "$pidO"

# Policy: deny ICMP from A to B; then lift it.
cat >"$tmp/deny.json" <<EOF
[{"proto": "icmp", "src_prefix": "$vipA/32", "dst_prefix": "$vipB/32", "action": "deny"}]
EOF
bx_counters "$prefixA" >"$tmp/A.p0" || bx_fail "no counters from A"
t0=$(date +%s%N)
"$dispatch" policy set "$tmp/deny.json" --state-dir "$hubdir" >/dev/null || bx_fail "policy set failed"
applied=""
for i in $(seq 200); do
	if grep -q 'policy [0-9]* applied: 1 rule' "$logA"; then applied=$(( ($(date +%s%N) - t0) / 1000000 )); break; fi
	sleep 0.01
done
[ -n "$applied" ] || { bx_show_logs; bx_fail "A never applied the policy"; }
! bx_ping "$nsA" "$vipA" "$vipB" || bx_fail "a ping crossed a deny policy"
bx_counters "$prefixA" >"$tmp/A.p1" || bx_fail "no counters from A"
[ "$(bx_delta "$tmp/A.p0" "$tmp/A.p1" policy_deny)" -ge 1 ] || bx_fail "A did not count policy_deny"
bx_log "policy applied on A $applied ms after policy set; ping dropped as policy_deny"
[ "$applied" -le "$policy_max_ms" ] || bx_fail "policy took $applied ms (> $policy_max_ms)"
echo '[]' >"$tmp/allow.json"
"$dispatch" policy set "$tmp/allow.json" --state-dir "$hubdir" >/dev/null || bx_fail "policy set failed"
for i in $(seq 50); do bx_ping "$nsA" "$vipA" "$vipB" && break; done
bx_ping "$nsA" "$vipA" "$vipB" || bx_fail "pings did not come back after the policy was lifted"

# The hub goes away: the mesh does not notice.
kill -KILL "$pidH"; wait "$pidH" 2>/dev/null || true; bx_forget "$pidH"
out=$(ip netns exec "$nsA" ping -c 20 -i 0.1 -W 1 -I "$vipA" "$vipB" 2>&1) || true
echo "$out" | grep -q ' 0% packet loss' || { echo "$out" >&2; bx_fail "pings lost while the hub was down"; }
bx_log "hub killed: 20 pings A -> B, 0% loss"
ver=$(sed -n 's/.*hub topology \([0-9]*\) applied.*/\1/p' "$logA" | tail -n 1)
hub_start
for i in $(seq 100); do
	[ "$(grep -c 'hub connected' "$logA")" -ge 2 ] && [ "$(grep -c 'hub connected' "$logB")" -ge 2 ] && break
	sleep 0.1
done
[ "$(grep -c 'hub connected' "$logA")" -ge 2 ] || { bx_show_logs; bx_fail "A did not reconnect to the restarted hub"; }
tokC=$(token --ttl 10m) || bx_fail "token create failed"
join_edge c vC 10.99.0.3/24 "$tmp/join-c.log" "$tokC"
for i in $(seq 50); do
	grep -q "hub topology $((ver + 1)) applied" "$logA" && break
	sleep 0.1
done
grep -q "hub topology $((ver + 1)) applied" "$logA" ||
	{ bx_show_logs; bx_fail "A did not get topology version $((ver + 1)) after the restart (had $ver)"; }
bx_log "hub restarted: both reconnected, C's join came to A as topology $((ver + 1))"

# Bytes that are not the method's message: a status, and the hub serves on.
poke=$(dirname "$(dirname "$(dirname "$app")")")/test/tools/rpc-poke
[ -x "$poke" ] || bx_fail "$poke is not executable"
pin=$(sed -n 's/.*CA pin \([A-Za-z0-9_-]*\)$/\1/p' "$logH" | tail -n 1)
out=$(ip netns exec "$nsH" "$poke" "$hub" "$pin" /bauxite.v1.ProvisioningService/ProvisionNode ffffffff0102) ||
	bx_fail "rpc-poke could not call ProvisionNode"
echo "$out" | grep -q '^INVALID_ARGUMENT' || bx_fail "garbage ProvisionNode: $out"
out2=$(ip netns exec "$nsH" "$poke" "$hub" - /bauxite.v1.TopologyService/WatchTopology ff0a \
	"$tmp/state-a/hub-ca.crt" "$tmp/state-a/node.crt" "$tmp/state-a/node.key" "$hub_ip") ||
	bx_fail "rpc-poke could not call WatchTopology"
echo "$out2" | grep -q '^INVALID_ARGUMENT' || bx_fail "garbage WatchTopology: $out2"
bx_alive "$pidH" || bx_fail "the hub died of a malformed request"
out3=$(ip netns exec "$nsH" "$cli" hub check --config "$tmp/a.json" 2>&1) ||
	bx_fail "the hub stopped serving after malformed requests: $out3"
bx_log "malformed requests: ProvisionNode -> $out; WatchTopology -> $out2; then: $out3"

# Revoke B.
bx_counters "$prefixA" >"$tmp/A.r0" || bx_fail "no counters from A"
t0=$(date +%s%N)
"$dispatch" nodes revoke edge-b --state-dir "$hubdir" >/dev/null || bx_fail "nodes revoke failed"
gone=""
for i in $(seq 300); do
	if grep -q 'peer edge-b removed (hub)' "$logA"; then gone=$(( ($(date +%s%N) - t0) / 1000000 )); break; fi
	sleep 0.01
done
[ -n "$gone" ] || { bx_show_logs; bx_fail "A never removed the revoked B"; }
! bx_ping "$nsA" "$vipA" "$vipB" || bx_fail "A still reaches the revoked B"
bx_counters "$prefixA" >"$tmp/A.r1" || bx_fail "no counters from A"
[ "$(bx_delta "$tmp/A.r0" "$tmp/A.r1" no_peer)" -ge 1 ] || bx_fail "A's pings to B were not counted as no_peer"
bx_log "B revoked: A dropped it $gone ms later"
[ "$gone" -le "$revoke_max_ms" ] || bx_fail "revocation took $gone ms (> $revoke_max_ms)"
for i in $(seq 50); do grep -q 'PERMISSION_DENIED' "$logB" && break; sleep 0.1; done
grep -q 'PERMISSION_DENIED' "$logB" || { bx_show_logs; bx_fail "B's reconnects were not refused"; }
out=$(ip netns exec "$nsH" "$cli" hub check --config "$tmp/b.json" 2>&1) && bx_fail "the revoked B's certificate was accepted: $out"
echo "$out" | grep -q 'revoked' || bx_fail "revoked B: unclear error: $out"
bx_log "B's certificate refused: $(echo "$out" | tail -n 1)"

# The audit log.
out=$("$dispatch" audit verify --state-dir "$hubdir") || bx_fail "audit verify failed on an untouched log: $out"
bx_log "$out"
"$BX_PY" - "$hubdir/dispatch.db" <<'PY' || bx_fail "cannot tamper with the audit log"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
# The append-only triggers are the first line; a deliberate tamperer drops them.
for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
    db.execute('DROP TRIGGER "%s"' % name)
seq, detail = db.execute("SELECT seq, detail FROM audit ORDER BY seq LIMIT 1 OFFSET 2").fetchone()
flipped = detail[:-2] + chr(ord(detail[-2]) ^ 1) + detail[-1]
db.execute("UPDATE audit SET detail = ? WHERE seq = ?", (flipped, seq))
db.commit()
print(seq)
PY
out=$("$dispatch" audit verify --state-dir "$hubdir" 2>&1) && bx_fail "audit verify passed a tampered log: $out"
echo "$out" | grep -q 'audit record 3' || bx_fail "audit verify did not name record 3: $out"
bx_log "tampered audit log: $out"

kill -TERM "$pidH"; wait "$pidH" || true; bx_forget "$pidH"
for pid in "$pidA" "$pidB"; do
	kill -TERM "$pid"; wait "$pid" || bx_fail "an edge did not exit cleanly"; bx_forget "$pid"
done
