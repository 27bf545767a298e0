#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sessions need the right public keys. Two nodes configured only with
# each other's X25519 public keys reach each other (bx_two_nodes pings
# through the tunnel) on a session made by a handshake; then the same
# pair with A given a wrong key for B: no session, no traffic, and each
# side counts why it refused the other's initiations -- B cannot even
# check the mac1 of A's (made for a key B does not have: hs_bad_mac1), A
# decrypts B's but finds no peer with B's key (hs_unknown_peer).
# `bauxite status` shows the session and its traffic, or their absence.
#
#   test/integration/session-keys.sh BAUXITE_APP
. "$(dirname "$0")/lib.sh"

app=${1:?usage: session-keys.sh BAUXITE_APP}
bx_require_root
bx_require_tools ip ping sysctl awk
bx_hugepages

# The right keys: a session, and the keys are all it took.
bx_two_nodes "$app"
bx_counters "$prefixA" >"$bx_tmp/A.good" || bx_fail "no counters from A"
bx_counters "$prefixB" >"$bx_tmp/B.good" || bx_fail "no counters from B"
up=$(( $(bx_stat "$bx_tmp/A.good" sessions_initiated) + $(bx_stat "$bx_tmp/A.good" sessions_responded) ))
[ "$up" -ge 1 ] || bx_fail "A pinged B without a session?"
grep -q 'peer edge-b: session up' "$logA" || { bx_show_logs; bx_fail "A logged no session"; }
grep -q 'peer edge-a: session up' "$logB" || { bx_show_logs; bx_fail "B logged no session"; }
bx_log "right keys: ping crossed, A made $up session(s)"
# `bauxite status` shows the session and the traffic that crossed it.
cli=$(bx_cli "$app")
st=$("$cli" status --file-prefix "$prefixA") || bx_fail "bauxite status failed: $st"
echo "$st" | sed 's/^/    /' >&2
row=$(echo "$st" | awk '$1 == "edge-b"')
# A configured endpoint: no ICE ("-").
[ "$(echo "$row" | awk '{ print $2, $3, $4, $5 }')" = "direct - $ulB:$mesh_port up" ] ||
	bx_fail "bauxite status: edge-b is not direct, up, at $ulB:$mesh_port: $row"
[ "$(echo "$row" | awk '{ print $(NF-1) }')" -gt 0 ] && [ "$(echo "$row" | awk '{ print $NF }')" -gt 0 ] ||
	bx_fail "bauxite status: no traffic with edge-b: $row"
bx_stop_two_nodes || { bx_show_logs; bx_fail "unclean shutdown"; }
bx_teardown

# A wrong key for B on A: a valid X25519 public key of nobody.
bx_tmpdir
wrong=$(head -c 32 /dev/urandom | base64)
BX_NO_TUNNEL_WAIT=1 bx_two_nodes "$app" "a:peers.0.public_key=\"$wrong\""
for i in $(seq 3); do
	! bx_ping "$nsA" "$vipA" "$vipB" || bx_fail "a ping crossed with a wrong key"
done
# Both have initiated by now (at start, and A's retries every 5 s).
bx_counters "$prefixA" >"$bx_tmp/A.bad" || bx_fail "no counters from A"
bx_counters "$prefixB" >"$bx_tmp/B.bad" || bx_fail "no counters from B"
for n in A B; do
	f=$bx_tmp/$n.bad
	bx_log "$n: handshake_tx $(bx_stat "$f" handshake_tx) handshake_rx $(bx_stat "$f" handshake_rx)" \
		"drops: $(bx_nonzero_drops "$f")"
	for c in sessions_initiated sessions_responded inner_tx_packets keepalive_rx; do
		[ "$(bx_stat "$f" "$c")" = 0 ] || { bx_show_logs; bx_fail "$n: $c is $(bx_stat "$f" "$c") with a wrong key"; }
	done
	[ "$(bx_stat "$f" handshake_tx)" -ge 1 ] || bx_fail "$n sent no initiation"
	bx_check_rx_accounting "$f" "$n"
done
[ "$(bx_stat "$bx_tmp/B.bad" hs_bad_mac1)" -ge 1 ] ||
	{ bx_show_logs; bx_fail "B did not count A's initiations as hs_bad_mac1"; }
[ "$(bx_stat "$bx_tmp/A.bad" hs_unknown_peer)" -ge 1 ] ||
	{ bx_show_logs; bx_fail "A did not count B's initiations as hs_unknown_peer"; }
# What A could not send is counted, not lost silently.
[ "$(bx_stat "$bx_tmp/A.bad" no_session)" -ge 1 ] || bx_fail "A's pings were not counted as no_session"
row=$("$cli" status --file-prefix "$prefixA" | awk '$1 == "edge-b"')
case "$(echo "$row" | awk '{ print $5 }')" in
handshaking | none) ;;
*) bx_fail "bauxite status shows a session with a wrong key: $row" ;;
esac
[ "$(echo "$row" | awk '{ print $(NF-1), $NF }')" = "0 0" ] ||
	bx_fail "bauxite status: traffic with a wrong key: $row"
! grep -q 'session up' "$logA" "$logB" || { bx_show_logs; bx_fail "a session came up with a wrong key"; }
bx_log "wrong key: no session; B counted hs_bad_mac1 $(bx_stat "$bx_tmp/B.bad" hs_bad_mac1), A hs_unknown_peer $(bx_stat "$bx_tmp/A.bad" hs_unknown_peer)"
bx_stop_two_nodes || { bx_show_logs; bx_fail "unclean shutdown"; }
