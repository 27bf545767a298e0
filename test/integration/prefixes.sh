#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Allowed prefixes: edge-b also owns 10.20.0.0/24. edge-a routes it into the
# mesh by itself and reaches an address there; a packet from B whose inner
# source is outside B's allowed prefixes is dropped by A as src_not_allowed
# and never delivered.
#
#   test/integration/prefixes.sh BAUXITE_APP
. "$(dirname "$0")/lib.sh"

app=${1:?usage: prefixes.sh BAUXITE_APP}
bx_require_root
bx_require_tools ip ping sysctl base64 awk
bx_hugepages
bx_two_nodes "$app" 'a:peers.0.allowed_prefixes=["100.64.0.2/32", "10.20.0.0/24"]'

ip -n "$nsB" addr add 10.20.0.1/24 dev lo
ip -n "$nsB" addr add 10.30.0.1/24 dev lo
ip -n "$nsA" route show 10.20.0.0/24 | grep -q 'dev bauxite0' ||
	{ ip -n "$nsA" route >&2; bx_fail "edge-a has no route for B's prefix via bauxite0"; }

out=$(ip netns exec "$nsA" ping -c 3 -i 0.2 -W 2 -I "$vipA" 10.20.0.1 2>&1) || true
echo "$out" >&2
echo "$out" | grep -q ' 0% packet loss' ||
	{ bx_show_logs; bx_fail "A cannot reach 10.20.0.1 behind B"; }

bx_counters "$prefixA" >"$bx_tmp/A0.cnt"
ip netns exec "$nsB" ping -c 3 -i 0.2 -W 1 -I 10.30.0.1 "$vipA" >/dev/null 2>&1 &&
	bx_fail "a ping from B's unallowed source 10.30.0.1 was answered"
bx_counters "$prefixA" >"$bx_tmp/A1.cnt"
bad=$(bx_delta "$bx_tmp/A0.cnt" "$bx_tmp/A1.cnt" src_not_allowed)
inner=$(bx_delta "$bx_tmp/A0.cnt" "$bx_tmp/A1.cnt" inner_tx_packets)
bx_log "from 10.30.0.1: src_not_allowed +$bad, delivered +$inner"
[ "$bad" = 3 ] || bx_fail "src_not_allowed rose by $bad, expected 3"
[ "$inner" = 0 ] || bx_fail "$inner packets from an unallowed source were delivered"

bx_stop_two_nodes || { bx_show_logs; bx_fail "unclean shutdown"; }
bx_log "ok: peer prefix routed and reached, foreign source dropped and counted"
