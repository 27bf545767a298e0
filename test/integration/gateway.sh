#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Gateway mode: a LAN host H sits behind gateway G, whose inner side is a
# second DPDK port (af_packet on the LAN veth) instead of a TAP. H pings
# edge-b's virtual IP through G; B pings H back (G delivers to H's MAC,
# learned from H's ARP). Every underlay frame is accounted for on G.
#
#   LAN host H --(lH/lG LAN)-- G (gateway) ==(vA/vB underlay)== edge-b
#
#   test/integration/gateway.sh BAUXITE_APP
. "$(dirname "$0")/lib.sh"

app=${1:?usage: gateway.sh BAUXITE_APP}
[ -x "$app" ] || bx_fail "$app is not executable"
bx_require_root
bx_require_tools ip ping sysctl awk
bx_hugepages
bx_tmpdir
nsG=bxG$$ nsB=bxB$$ nsH=bxH$$
prefixA=bxG$$ prefixB=bxB$$
logA=$bx_tmp/G.log logB=$bx_tmp/B.log
lan_host=10.1.0.10 lan_gw=10.1.0.1

keyG=$(bx_identity "$app" "$bx_tmp/state-g")
keyB=$(bx_identity "$app" "$bx_tmp/state-b")
bx_config "$BX_SRC/config/edge-a.json" "$bx_tmp/g.json" \
	'underlay.port="net_af_packet0,iface=vA"' \
	"peers.0.public_key=\"$keyB\"" 'stats_interval_s=0' \
	"state_dir=\"$bx_tmp/state-g\"" "$BX_SAFETY_SET" \
	"inner={\"type\": \"dpdk\", \"port\": \"net_af_packet1,iface=lG\", \"address\": \"$lan_gw/24\"}"
bx_config "$BX_SRC/config/edge-b.json" "$bx_tmp/b.json" \
	'underlay.port="net_af_packet0,iface=vB"' \
	"peers.0.public_key=\"$keyG\"" 'stats_interval_s=0' \
	"state_dir=\"$bx_tmp/state-b\"" "$BX_SAFETY_SET" \
	'peers.0.allowed_prefixes=["100.64.0.1/32", "10.1.0.0/24"]'
vipB=$(bx_json "$bx_tmp/b.json" inner.address) vipB=${vipB%/*}

bx_netns "$nsG"
bx_netns "$nsB"
bx_netns "$nsH"
bx_veth "$nsG" vA "$nsB" vB
# The LAN: H is an ordinary host (its kernel answers ARP); G's end belongs
# to the app only.
ip link add lG netns "$nsG" type veth peer name lH netns "$nsH"
ip netns exec "$nsG" sysctl -qw net.ipv6.conf.lG.disable_ipv6=1
ip -n "$nsG" link set lG up
ip -n "$nsH" addr add "$lan_host/24" dev lH
ip -n "$nsH" link set lH up
ip -n "$nsH" route add 100.64.0.0/24 via "$lan_gw"

bx_start "$nsG" "$logA" "$app" "${BX_EAL[@]}" --file-prefix="$prefixA" -- --config "$bx_tmp/g.json"
pidA=$BX_LAST_PID
bx_start "$nsB" "$logB" "$app" "${BX_EAL[@]}" --file-prefix="$prefixB" -- --config "$bx_tmp/b.json"
pidB=$BX_LAST_PID
bx_wait_iface "$nsB" bauxite0 "$pidB" || { bx_show_logs; bx_fail "bauxite0 never came up in $nsB"; }
for i in $(seq "$BX_TUNNEL_TIMEOUT_S"); do
	ip netns exec "$nsH" ping -c 1 -W 1 "$vipB" >/dev/null 2>&1 && break
	bx_alive "$pidA" || { bx_show_logs; bx_fail "the gateway exited"; }
done
grep -q '(gateway LAN)' "$logA" || { bx_show_logs; bx_fail "G is not in gateway mode"; }

out=$(ip netns exec "$nsH" ping -c 5 -i 0.2 -W 2 "$vipB" 2>&1) || true
echo "$out" >&2
echo "$out" | grep -q ' 0% packet loss' || { bx_show_logs; bx_fail "H -> B through the gateway lost packets"; }
out=$(ip netns exec "$nsB" ping -c 5 -i 0.2 -W 2 -I "$vipB" "$lan_host" 2>&1) || true
echo "$out" >&2
echo "$out" | grep -q ' 0% packet loss' || { bx_show_logs; bx_fail "B -> H through the gateway lost packets"; }

bx_counters "$prefixA" >"$bx_tmp/G.cnt"
replies=$(bx_stat "$bx_tmp/G.cnt" arp_replies)
bx_log "gateway answered $replies ARP request(s) for $lan_gw"
[ "$replies" -ge 1 ] || bx_fail "the gateway never answered ARP for $lan_gw"
bx_check_rx_accounting "$bx_tmp/G.cnt" gateway

nsA=$nsG
bx_stop_two_nodes || { bx_show_logs; bx_fail "unclean shutdown"; }
bx_log "ok: LAN host <-> mesh through the gateway both ways, ARP answered, accounting exact"
