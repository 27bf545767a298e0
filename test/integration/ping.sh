#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two bauxite-app nodes in namespaces joined by a veth pair: ping between
# their virtual IPs through the encrypted tunnel, with 0 % loss, and the
# mesh counters of the two ends agree.
#
#   test/integration/ping.sh BAUXITE_APP [CIPHER]
. "$(dirname "$0")/lib.sh"

app=${1:?usage: ping.sh BAUXITE_APP [CIPHER]}
cipher=${2:-chacha20-poly1305}
[ -x "$app" ] || bx_fail "$app is not executable"
bx_require_root
bx_require_tools ip ping sysctl base64 awk tcpdump
bx_hugepages
bx_tmpdir
tmp=$bx_tmp

nsA=bxA$$ nsB=bxB$$
vipA=100.64.0.1 vipB=100.64.0.2
bx_psk "$tmp/ab.psk"
bx_config "$BX_SRC/config/edge-a.json" "$tmp/A.json" \
	'underlay.port="net_af_packet0,iface=vA"' \
	"peers.0.psk_file=\"$tmp/ab.psk\"" 'stats_interval_s=0' \
	"cipher=\"$cipher\""
bx_config "$BX_SRC/config/edge-b.json" "$tmp/B.json" \
	'underlay.port="net_af_packet0,iface=vB"' \
	"peers.0.psk_file=\"$tmp/ab.psk\"" 'stats_interval_s=0' \
	"cipher=\"$cipher\""

bx_netns "$nsA"
bx_netns "$nsB"
bx_veth "$nsA" vA "$nsB" vB

eal=(-l 0-1 --no-pci --in-memory --log-level='*:error')
bx_start "$nsA" "$tmp/A.log" "$app" "${eal[@]}" --file-prefix="bxA$$" -- --config "$tmp/A.json"
pidA=$BX_LAST_PID
bx_start "$nsB" "$tmp/B.log" "$app" "${eal[@]}" --file-prefix="bxB$$" -- --config "$tmp/B.json"
pidB=$BX_LAST_PID

show_logs() { bx_log "--- A.log"; cat "$tmp/A.log" >&2; bx_log "--- B.log"; cat "$tmp/B.log" >&2; }

bx_wait_iface "$nsA" bauxite0 "$pidA" || { show_logs; bx_fail "bauxite0 never came up in $nsA"; }
bx_wait_iface "$nsB" bauxite0 "$pidB" || { show_logs; bx_fail "bauxite0 never came up in $nsB"; }

# Next hops resolve within a second or so of start (the kernels ARP through
# the exception path): wait until one ping makes it, then measure.
up=0
for i in $(seq 20); do
	if ip netns exec "$nsA" ping -c 1 -W 1 -I "$vipA" "$vipB" >/dev/null 2>&1; then
		up=1; break
	fi
done
[ "$up" = 1 ] || { show_logs; bx_fail "no ping crossed the tunnel within 20 s"; }

bx_stats_dump "$pidA" "$tmp/A.log" || bx_fail "no stats from A"
bx_stats_dump "$pidB" "$tmp/B.log" || bx_fail "no stats from B"
txA0=$(bx_stat "$tmp/A.log" tx_packets)
rxB0=$(bx_stat "$tmp/B.log" inner_tx_packets)

out=$(ip netns exec "$nsA" ping -c 5 -i 0.2 -W 2 -I "$vipA" "$vipB" 2>&1) || true
echo "$out" >&2
echo "$out" | grep -q ' 0% packet loss' || { show_logs; bx_fail "ping lost packets"; }

bx_stats_dump "$pidA" "$tmp/A.log" || bx_fail "no stats from A"
bx_stats_dump "$pidB" "$tmp/B.log" || bx_fail "no stats from B"
txA=$(( $(bx_stat "$tmp/A.log" tx_packets) - txA0 ))
rxB=$(( $(bx_stat "$tmp/B.log" inner_tx_packets) - rxB0 ))
bx_log "during the ping: A sent $txA mesh datagrams, B delivered $rxB"
[ "$txA" -ge 5 ] || { show_logs; bx_fail "A's tx_packets grew by $txA, expected >= 5"; }
[ "$txA" = "$rxB" ] || { show_logs; bx_fail "A sent $txA, B delivered $rxB"; }

# On the wire: a known payload pattern never appears in clear, and every
# datagram to the mesh port starts with the 0x80 tag.
pattern=b0a7c173
bx_start "$nsB" "$tmp/tcpdump.log" tcpdump -i vB -U -n -w "$tmp/vB.pcap" udp port 7600
pidT=$BX_LAST_PID
for i in $(seq 50); do grep -q 'listening on' "$tmp/tcpdump.log" && break; sleep 0.1; done
ip netns exec "$nsA" ping -c 5 -i 0.2 -W 2 -p "$pattern" -I "$vipA" "$vipB" >/dev/null ||
	{ show_logs; bx_fail "ping with a pattern lost packets"; }
sleep 0.5
kill -INT "$pidT"; wait "$pidT" || true
"$BX_PY" - "$tmp/vB.pcap" "$pattern" <<'PY' || bx_fail "the capture on vB shows clear text or untagged datagrams"
import struct, sys
data = open(sys.argv[1], "rb").read()
pattern = bytes.fromhex(sys.argv[2])
assert data.find(pattern) < 0, "payload pattern in clear on the wire"
off, mesh = 24, 0
while off + 16 <= len(data):
    incl = struct.unpack_from("<I", data, off + 8)[0]
    frame = data[off + 16:off + 16 + incl]
    off += 16 + incl
    if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        continue
    l4 = 14 + (frame[14] & 0x0f) * 4
    if struct.unpack_from("!H", frame, l4 + 2)[0] != 7600:
        continue
    assert frame[l4 + 8] >= 0x80, "mesh datagram without the 0x80 tag"
    mesh += 1
# Only what arrives: the af_packet PMD bypasses the qdisc layer where
# tcpdump would see what B sends.
assert mesh >= 5, "only %d mesh datagrams captured" % mesh
print("capture: %d mesh datagrams, all tagged, no clear text" % mesh, file=sys.stderr)
PY

# Exception path: B reaches A's underlay address through A's kernel.
ip netns exec "$nsB" ping -c 3 -i 0.2 -W 2 10.99.0.1 >/dev/null ||
	{ show_logs; bx_fail "B cannot ping A's underlay IP (exception path)"; }
bx_log "exception path: B pings A's underlay IP"

# Telemetry: the same counters through the DPDK telemetry socket.
if command -v dpdk-telemetry.py >/dev/null 2>&1; then
	tel=$(echo /bauxite/stats | dpdk-telemetry.py -f "bxA$$" 2>&1) || true
	echo "$tel" | grep -q '"tx_packets"' || { echo "$tel" >&2; bx_fail "telemetry has no /bauxite/stats"; }
	bx_log "telemetry answers /bauxite/stats"
fi

# Clean shutdown: both exit 0 on SIGTERM and their TAPs are gone.
for pid in "$pidA" "$pidB"; do kill -TERM "$pid"; done
for pid in "$pidA" "$pidB"; do
	rc=0; wait "$pid" || rc=$?
	[ "$rc" = 0 ] || { show_logs; bx_fail "pid $pid exited $rc on SIGTERM"; }
done
bx_pids=()
for ns in "$nsA" "$nsB"; do
	if ip -n "$ns" link show bauxite0 >/dev/null 2>&1; then
		bx_fail "bauxite0 still exists in $ns after exit"
	fi
done
grep -q 'stats (exit)' "$tmp/A.log" || bx_fail "A printed no summary at exit"
for p in "bxA$$" "bxB$$"; do
	[ ! -e "/var/run/dpdk/$p" ] || bx_fail "/var/run/dpdk/$p left behind"
done
grep -q "$cipher on" "$tmp/A.log" || bx_fail "A did not run $cipher"
bx_log "ok ($cipher): ping 0% loss, counters agree, no clear text, exception path, clean shutdown"
