#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Replayed and tampered mesh datagrams, injected with scapy on A's side of
# the veth, are dropped by B, counted under the right reason, and nothing
# of them is delivered:
#   (a) a captured datagram re-sent unchanged    -> replay_duplicate;
#       with the copy flag set                   -> crypto_auth
#   (b) its counter raised (header = AEAD AAD)   -> crypto_auth
#   (c) one ciphertext byte flipped              -> replay_duplicate: the
#       replay pre-check runs before decryption, by design
#   (d) a datagram B never received (B was stopped while A sent more than
#       its af_packet ring holds): one ciphertext byte flipped -> crypto_auth;
#       then the same datagram unchanged is delivered, exactly once.
# The failed tags never move B's window: ping still works afterwards.
#
#   test/integration/replay.sh BAUXITE_APP [CIPHER]
. "$(dirname "$0")/lib.sh"

app=${1:?usage: replay.sh BAUXITE_APP [CIPHER]}
cipher=${2:-chacha20-poly1305}
# More datagrams than B's af_packet ring holds (512 frames by default),
# fewer than its replay window (2048), so the last ones are new to B.
burst=1500
bx_require_root
bx_require_tools ip ping sysctl base64 awk tcpdump
"$BX_PY" -c 'import scapy.all' 2>/dev/null || bx_skip "needs python3-scapy"
bx_hugepages
bx_two_nodes "$app" "cipher=\"$cipher\""
tmp=$bx_tmp

# inject.py PCAP IFACE MODE PORT: sends the last mesh data datagram of PCAP
# again on IFACE (A's side of the veth), changed as MODE says: "same", "counter" (one bit
# of the counter set, so it is above any counter B saw), "ciphertext"
# (one ciphertext byte flipped) or "dupflag" (the header's copy flag set). The UDP checksum is recomputed.
cat >"$tmp/inject.py" <<'PY'
import sys
from scapy.all import IP, UDP, rdpcap, sendp
pcap, iface, mode, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
HDR_LEN = 16      # mesh header; the counter is bytes 8..15, big-endian
COUNTER_LOW = 11  # lowest byte of the counter's top half
DATA = 0x91       # first byte of a data datagram: mesh, version 1, type 1
mesh = [p for p in rdpcap(pcap)
        if UDP in p and p[UDP].dport == port and bytes(p[UDP].payload)[:1] == bytes([DATA])]
assert mesh, "no mesh datagram in " + pcap
pkt = mesh[-1]
data = bytearray(bytes(pkt[UDP].payload))
if mode == "counter":
    # Set the lowest clear bit of the counter's high half: the counter
    # grows by at least 2^32 (still far below the session's limit of
    # 2^60 + 2^32) and one byte changes.
    for i in range(COUNTER_LOW, 7, -1):
        if data[i] != 0xFF:
            data[i] |= (~data[i] & 0xFF) & -(~data[i] & 0xFF)
            break
elif mode == "ciphertext":
    data[HDR_LEN + 4] ^= 0x01
elif mode == "dupflag":
    data[1] |= 0x01   # the "deliberate copy" flag, part of the AAD
else:
    assert mode == "same", mode
pkt[UDP].remove_payload()
pkt[UDP].add_payload(bytes(data))
del pkt[UDP].chksum
del pkt[UDP].len
del pkt[IP].len
del pkt[IP].chksum
sendp(pkt, iface=iface, verbose=False)
print("injected (%s): counter %#018x, %d bytes" %
      (mode, int.from_bytes(data[8:16], "big"), len(data)), file=sys.stderr)
PY

inject() {
	ip netns exec "$nsA" "$BX_PY" "$tmp/inject.py" "$1" vA "$2" "$mesh_port" ||
		bx_fail "cannot inject ($2)"
}

# step NAME PCAP MODE EXPECT...: injects, then checks how B's counters
# grew: exactly as EXPECT (name=value) says, and not at all for the others
# of "watched" (background traffic, e.g. ARP, moves only rx_packets and
# exception_rx_packets).
watched="inner_tx_packets replay_duplicate replay_too_old crypto_auth no_session duplicate_copy"
step() {
	local name=$1 pcap=$2 mode=$3 c want got e
	shift 3
	bx_counters "$prefixB" >"$tmp/before" || bx_fail "no counters from B"
	inject "$pcap" "$mode"
	bx_counters "$prefixB" >"$tmp/after" || bx_fail "no counters from B"
	got=$(bx_delta "$tmp/before" "$tmp/after" rx_packets)
	[ "$got" -ge 1 ] || bx_fail "$name: B never received the datagram"
	for c in $watched; do
		want=0
		for e in "$@"; do [ "${e%%=*}" = "$c" ] && want=${e#*=}; done
		got=$(bx_delta "$tmp/before" "$tmp/after" "$c")
		[ "$got" = "$want" ] ||
			{ bx_show_logs; bx_fail "$name: B's $c grew by $got, expected $want"; }
	done
	bx_log "ok $name: $*"
}

# Capture A's mesh datagrams as B receives them, during a ping.
bx_capture_start "$nsB" vB "$tmp/ping.pcap" udp and src host "$ulA" and dst port "$mesh_port"
pidT=$BX_LAST_PID
ip netns exec "$nsA" ping -c 3 -i 0.2 -W 2 -I "$vipA" "$vipB" >/dev/null ||
	{ bx_show_logs; bx_fail "ping lost packets"; }
bx_capture_stop "$pidT"

step "(a) replayed datagram" "$tmp/ping.pcap" same replay_duplicate=1
# A replay cannot pass as a deliberate Critical copy: the flag is believed
# only once the tag covers it, and a flag set afterwards breaks the tag.
step "(a) replayed with the copy flag set" "$tmp/ping.pcap" dupflag crypto_auth=1
step "(b) counter raised" "$tmp/ping.pcap" counter crypto_auth=1
step "(c) ciphertext flipped, counter seen" "$tmp/ping.pcap" ciphertext replay_duplicate=1

# (d) Datagrams B never saw: stop B, have A send more than B's ring holds
# (the kernel drops the rest for B's socket, tcpdump still sees them),
# let B go on.
bx_counters "$prefixB" >"$tmp/d0" || bx_fail "no counters from B"
bx_counters "$prefixA" >"$tmp/dA0" || bx_fail "no counters from A"
bx_capture_start "$nsB" vB "$tmp/burst.pcap" udp and src host "$ulA" and dst port "$mesh_port"
pidT=$BX_LAST_PID
kill -STOP "$pidB"
ip netns exec "$nsA" "$BX_PY" - "$vipA" "$vipB" "$burst" <<'PY'
import socket, sys, time
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
for i in range(n):
    s.sendto(b"bauxite replay test %d" % i, (dst, 9))
    if i % 50 == 49:
        time.sleep(0.005)  # B is stopped, no hurry: nothing lost before vB
PY
sleep 0.5
kill -CONT "$pidB"
bx_capture_stop "$pidT"
bx_counters "$prefixB" >"$tmp/d1" || bx_fail "no counters from B"
bx_counters "$prefixA" >"$tmp/dA1" || bx_fail "no counters from A"
captured=$("$BX_PY" -c 'import sys
from scapy.all import rdpcap
print(len(rdpcap(sys.argv[1])))' "$tmp/burst.pcap")
got=$(bx_delta "$tmp/d0" "$tmp/d1" rx_packets)
bx_log "(d) while B was stopped A sent $(bx_delta "$tmp/dA0" "$tmp/dA1" tx_packets)" \
	"datagrams, tcpdump on vB saw $captured, B's app got $got"
[ "$captured" -gt "$got" ] || bx_fail "(d) B's ring did not overflow: no datagram new to B"

step "(d) unseen datagram, ciphertext flipped" "$tmp/burst.pcap" ciphertext crypto_auth=1
step "(d) the same datagram unchanged" "$tmp/burst.pcap" same inner_tx_packets=1
step "(d) and once more" "$tmp/burst.pcap" same replay_duplicate=1

bx_counters "$prefixB" >"$tmp/end" || bx_fail "no counters from B"
bx_check_rx_accounting "$tmp/end" B
out=$(ip netns exec "$nsA" ping -c 5 -i 0.2 -W 2 -I "$vipA" "$vipB" 2>&1) || true
echo "$out" | grep -q ' 0% packet loss' || { echo "$out" >&2; bx_show_logs; bx_fail "ping lost packets after the injections"; }
# Both exit 0 (no sanitizer report either) and leave nothing behind.
bx_stop_two_nodes || { bx_show_logs; bx_fail "unclean shutdown"; }
bx_log "ok ($cipher): replays and tampering dropped and counted, nothing delivered, ping still 0% loss"
