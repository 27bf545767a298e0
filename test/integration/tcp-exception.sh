#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The exception path carries a whole TCP connection: from B's namespace, a
# client connects to a listener on A's underlay IP and reads a greeting
# and 256 KiB intact. Every segment crosses both nodes' exception TAPs and
# the worker in both directions (the kernels' own traffic, not mesh data).
#
#   test/integration/tcp-exception.sh BAUXITE_APP
. "$(dirname "$0")/lib.sh"

app=${1:?usage: tcp-exception.sh BAUXITE_APP}
tcp_port=9000
size=262144
bx_require_root
bx_require_tools ip ping sysctl base64 awk sha256sum
bx_hugepages
bx_two_nodes "$app"
tmp=$bx_tmp

head -c "$size" /dev/urandom >"$tmp/blob"
sum=$(sha256sum "$tmp/blob" | cut -d' ' -f1)
bx_counters "$prefixA" >"$tmp/A0" || bx_fail "no counters from A"
bx_counters "$prefixB" >"$tmp/B0" || bx_fail "no counters from B"

# One connection: "hello\n", then the blob, then close.
cat >"$tmp/server.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print("listening", flush=True)
s.settimeout(30)
c, peer = s.accept()
c.sendall(b"hello\n" + open(sys.argv[3], "rb").read())
c.close()
print("served", peer[0], flush=True)
PY
bx_start "$nsA" "$tmp/server.log" "$BX_PY" "$tmp/server.py" "$ulA" "$tcp_port" "$tmp/blob"
pidS=$BX_LAST_PID
for i in $(seq 50); do grep -q listening "$tmp/server.log" && break; sleep 0.1; done
grep -q listening "$tmp/server.log" || { cat "$tmp/server.log" >&2; bx_fail "the listener in $nsA did not start"; }

out=$(ip netns exec "$nsB" "$BX_PY" - "$ulA" "$tcp_port" <<'PY'
import hashlib, socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
data = b""
while True:
    chunk = c.recv(65536)
    if not chunk:
        break
    data += chunk
line, _, rest = data.partition(b"\n")
print(line.decode(errors="replace"), len(rest), hashlib.sha256(rest).hexdigest())
PY
) || { bx_show_logs; bx_fail "B could not complete a TCP connection to $ulA:$tcp_port"; }
wait "$pidS" || true
bx_forget "$pidS"
bx_log "B read from $ulA:$tcp_port: $out"
[ "$out" = "hello $size $sum" ] || bx_fail "expected \"hello $size $sum\""

bx_counters "$prefixA" >"$tmp/A1" || bx_fail "no counters from A"
bx_counters "$prefixB" >"$tmp/B1" || bx_fail "no counters from B"
for n in A B; do
	up=$(bx_delta "$tmp/${n}0" "$tmp/${n}1" exception_rx_packets)
	down=$(bx_delta "$tmp/${n}0" "$tmp/${n}1" exception_tx_packets)
	bx_log "$n: exception path up $up frames, down $down frames"
	[ "$up" -gt 0 ] && [ "$down" -gt 0 ] || bx_fail "$n's exception path did not carry the connection"
	bx_check_rx_accounting "$tmp/${n}1" "$n"
done
# The blob went A -> B: at least size / (1500 - 40) segments down A's path.
[ "$(bx_delta "$tmp/A0" "$tmp/A1" exception_tx_packets)" -ge $((size / 1460)) ] ||
	bx_fail "A's exception_tx_packets too low for $size bytes"
# Both exit 0 (no sanitizer report either) and leave nothing behind.
bx_stop_two_nodes || { bx_show_logs; bx_fail "unclean shutdown"; }
bx_log "ok: a TCP connection through both exception paths, $size bytes intact"
