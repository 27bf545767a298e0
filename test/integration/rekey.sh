#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sessions from handshakes, rekeyed under traffic. Two nodes configured
# only with each other's public keys rekey while iperf3 sends UDP at a
# fixed rate (2500 datagrams/s) from A to B for 20 s, and B pings A (5 a
# second) meanwhile. MODE says when they rekey:
#   time      every 5 s (session.rekey_after_s): >= 3 new sessions
#   messages  every 2000 messages sent (session.rekey_after_messages):
#             >= 10 new sessions
#   limit     the same, with the hard limit 5 messages later
#             (session.reject_after_messages): A seals nothing past it
#             (session_exhausted counted) until the new session is up;
#             the loss bound is then 10 %
# Asserts:
#   - iperf3 lost < 1 % of its datagrams (limit: < 10 %), and A counted
#     session_exhausted exactly in limit mode;
#   - no stall: every 100 ms interval of B's iperf3 report received
#     datagrams (a gap over 200 ms would leave one of them empty);
#   - sessions were made again and again (sessions_initiated on A and
#     sessions_responded on B grew by the mode's minimum);
#   - captures of the whole exchange show data datagrams under at least
#     that many different receiver indices in each direction, the handshake
#     messages that made them, and neither node's private keys (their
#     bytes, or their base64) anywhere in them. af_packet's transmissions
#     bypass the sender's packet taps, so each direction is captured where
#     it arrives: A -> B on vB, B -> A on vA.
#
#   test/integration/rekey.sh BAUXITE_APP [CIPHER [MODE]]
. "$(dirname "$0")/lib.sh"

app=${1:?usage: rekey.sh BAUXITE_APP [CIPHER [MODE]]}
cipher=${2:-chacha20-poly1305}
mode=${3:-time}
iperf_s=20
rate=20M
dgram=1000
iperf_port=5201
case "$mode" in
time)
	session='{"rekey_after_s": 5}'
	what="every 5 s" max_loss_pct=1 min_sessions=3 ;;
messages)
	session='{"rekey_after_messages": 2000}'
	what="every 2000 messages" max_loss_pct=1 min_sessions=10 ;;
limit)
	session='{"rekey_after_messages": 2000, "reject_after_messages": 2005}'
	what="every 2000 messages, hard limit 2005" max_loss_pct=10 min_sessions=10 ;;
*) bx_fail "unknown mode '$mode' (time, messages, limit)" ;;
esac
bx_require_root
bx_require_tools ip ping sysctl awk iperf3 tcpdump
bx_hugepages
bx_tmpdir
tmp=$bx_tmp
bx_two_nodes "$app" "cipher=\"$cipher\"" "session=$session"

bx_counters "$prefixA" >"$tmp/A0" || bx_fail "no counters from A"
bx_counters "$prefixB" >"$tmp/B0" || bx_fail "no counters from B"
bx_capture_start "$nsB" vB "$tmp/vB.pcap" udp port "$mesh_port"
pidTB=$BX_LAST_PID
bx_capture_start "$nsA" vA "$tmp/vA.pcap" udp port "$mesh_port"
pidTA=$BX_LAST_PID
bx_start "$nsB" "$tmp/ping.log" ping -i 0.2 -W 1 -I "$vipB" "$vipA"
pidP=$BX_LAST_PID

bx_start "$nsB" "$tmp/server.json" iperf3 -s -1 -J -i 0.1 -B "$vipB" -p "$iperf_port"
pidS=$BX_LAST_PID
sleep 0.5
rc=0
ip netns exec "$nsA" iperf3 -c "$vipB" -B "$vipA" -p "$iperf_port" -u -b "$rate" \
	-l "$dgram" -t "$iperf_s" >"$tmp/client.out" 2>&1 || rc=$?
[ "$rc" = 0 ] || { cat "$tmp/client.out" >&2; bx_show_logs; bx_fail "iperf3 client exited $rc"; }
wait "$pidS" || true
bx_forget "$pidS"
kill -INT "$pidP"
wait "$pidP" || true
bx_forget "$pidP"
bx_capture_stop "$pidTA"
bx_capture_stop "$pidTB"
bx_log "B pinged A meanwhile: $(grep 'packets transmitted' "$tmp/ping.log")"

read -r total lost empty n_int < <("$BX_PY" - "$tmp/server.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
end = doc["end"]["sum"]
ints = [i["sum"] for i in doc["intervals"]]
# The first and last intervals may be cut short by the start and end of
# the stream; every interval in between must have received datagrams.
inner = ints[1:-1]
empty = sum(1 for s in inner if s["packets"] == 0)
print(end["packets"], end["lost_packets"], empty, len(inner))
PY
)
bx_log "iperf3 UDP $rate for ${iperf_s} s, rekey $what: $lost of $total datagrams lost, $empty of $n_int 100 ms intervals empty"
[ "$total" -gt 0 ] || bx_fail "iperf3 received nothing"
[ $((lost * 100)) -lt $((total * max_loss_pct)) ] ||
	{ bx_show_logs; bx_fail "lost $lost of $total datagrams (>= $max_loss_pct %)"; }
[ "$empty" = 0 ] || { bx_show_logs; bx_fail "$empty 100 ms intervals without a datagram: a stall over 100 ms"; }

bx_counters "$prefixA" >"$tmp/A1" || bx_fail "no counters from A"
bx_counters "$prefixB" >"$tmp/B1" || bx_fail "no counters from B"
for n in A B; do
	bx_log "$n: sessions_initiated +$(bx_delta "$tmp/${n}0" "$tmp/${n}1" sessions_initiated)" \
		"sessions_responded +$(bx_delta "$tmp/${n}0" "$tmp/${n}1" sessions_responded)" \
		"sessions_expired +$(bx_delta "$tmp/${n}0" "$tmp/${n}1" sessions_expired)" \
		"drops: $(bx_nonzero_drops "$tmp/${n}1")"
	bx_check_rx_accounting "$tmp/${n}1" "$n"
done
# edge-a has the lower id: it initiates, edge-b answers.
made=$(bx_delta "$tmp/A0" "$tmp/A1" sessions_initiated)
answered=$(bx_delta "$tmp/B0" "$tmp/B1" sessions_responded)
[ "$made" -ge "$min_sessions" ] || bx_fail "A initiated $made sessions in $iperf_s s (rekey $what)"
[ "$answered" -ge "$min_sessions" ] || bx_fail "B answered $answered sessions in $iperf_s s"
exhausted=$(bx_delta "$tmp/A0" "$tmp/A1" session_exhausted)
if [ "$mode" = limit ]; then
	[ "$exhausted" -ge 1 ] || bx_fail "A never hit the hard limit (session_exhausted 0)"
	bx_log "A refused $exhausted datagrams at the hard limit while rekeying"
else
	[ "$exhausted" = 0 ] || bx_fail "A hit a session's hard limit $exhausted times"
	[ "$(bx_stat "$tmp/A1" sessions_expired)" = 0 ] || bx_fail "A let a session expire"
fi

# The wire: receiver indices per direction, handshake messages, and no
# private key of either node.
"$BX_PY" - "$tmp/vA.pcap" "$tmp/vB.pcap" "$mesh_port" "$ulA" "$ulB" \
	"$min_sessions" "$tmp/state-a" "$tmp/state-b" <<'PY' || bx_fail "capture check failed"
import base64, os, socket, struct, sys
pcaps, port, ul_a, ul_b, least = sys.argv[1:3], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
data = b"".join(open(p, "rb").read() for p in pcaps)
idx = {ul_a: set(), ul_b: set()}
types = {}
frames = []
for p in pcaps:
    d = open(p, "rb").read()
    off = 24
    while off + 16 <= len(d):
        incl = struct.unpack_from("<I", d, off + 8)[0]
        frames.append(d[off + 16:off + 16 + incl])
        off += 16 + incl
for f in frames:
    if len(f) < 42 + 16 or f[12:14] != b"\x08\x00" or f[23] != 17:
        continue
    ihl = (f[14] & 0x0f) * 4
    udp = 14 + ihl
    if struct.unpack_from(">H", f, udp + 2)[0] != port:
        continue
    src = socket.inet_ntoa(f[26:30])
    m = f[udp + 8:]
    t = m[0] & 0x0f
    types[t] = types.get(t, 0) + 1
    if t == 1 and src in idx:
        idx[src].add(struct.unpack_from(">I", m, 4)[0])
print("capture: message types %s; data receiver indices A->B %d, B->A %d"
      % (dict(sorted(types.items())), len(idx[ul_a]), len(idx[ul_b])), file=sys.stderr)
bad = []
for who, ips in (("A->B", ul_a), ("B->A", ul_b)):
    if len(idx[ips]) < least:
        bad.append("%s: %d receiver indices, want >= %d" % (who, len(idx[ips]), least))
if types.get(2, 0) < least or types.get(3, 0) < least:
    bad.append("handshakes on the wire: %d initiations, %d responses"
               % (types.get(2, 0), types.get(3, 0)))
for d in sys.argv[7:]:
    for name in ("identity.x25519", "identity.ed25519"):
        b64 = open(os.path.join(d, name)).read().strip()
        raw = base64.b64decode(b64)
        if len(raw) != 32:
            bad.append("%s/%s: not a 32-byte key" % (d, name))
        if raw in data or b64.encode() in data:
            bad.append("%s/%s: private key bytes in the capture" % (d, name))
if bad:
    sys.exit("; ".join(bad))
PY
bx_log "no private key bytes of either node in the capture"
bx_stop_two_nodes || { bx_show_logs; bx_fail "unclean shutdown"; }
