# SPDX-License-Identifier: Apache-2.0
# Helpers for integration tests: sourced, not run. Network namespaces and
# veth pairs with real bauxite-app processes; everything a test creates is
# registered here and removed by an EXIT trap, also when the test fails.
#
# A test that cannot run here (not root, a tool missing) exits 77: skip.

set -euo pipefail

BX_SKIP=77
BX_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BX_PY=/usr/bin/python3
[ -x "$BX_PY" ] || BX_PY=python3
BX_HUGEPAGES=256
BX_UP_TIMEOUT_S=20
# A tunnel whose next hops do not resolve within this long is broken.
BX_TUNNEL_TIMEOUT_S=20
# EAL arguments of every test node: no PCI, hugepages without files.
BX_EAL=(-l 0-1 --no-pci --in-memory --log-level='*:error')
# The safety layer's path probes never let the counters stand still (see
# bx_counters), so the tests that account for every frame run without it;
# the safety test (safety.sh) turns it on: BX_SAFETY_SET='safety={}'.
BX_SAFETY_SET=${BX_SAFETY_SET:-'safety={"enabled": false}'}
# Counters stand still (no frame in flight) when two telemetry reads this
# far apart agree; give up waiting after BX_SETTLE_TRIES of them.
BX_SETTLE_S=0.3
BX_SETTLE_TRIES=30

bx_namespaces=()
bx_pids=()
bx_tmp=""

bx_log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
bx_skip() { bx_log "SKIP: $*"; exit "$BX_SKIP"; }
bx_fail() { bx_log "FAIL: $*"; exit 1; }

# bx_require_root; bx_require_tools TOOL...: skip when absent.
bx_require_root() { [ "$(id -u)" = 0 ] || bx_skip "needs root"; }
bx_require_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || bx_skip "needs $t"
	done
}

# bx_teardown: stops every registered process (SIGTERM; a clean shutdown
# closes ports and removes its TAPs, give it 10 s), deletes the namespaces
# and the temporary directory. Idempotent; never fails (also under set -e).
bx_teardown() {
	local pid ns i
	for pid in "${bx_pids[@]+"${bx_pids[@]}"}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${bx_pids[@]+"${bx_pids[@]}"}"; do
		for i in $(seq 100); do
			bx_alive "$pid" || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	for ns in "${bx_namespaces[@]+"${bx_namespaces[@]}"}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	if [ -n "$bx_tmp" ]; then
		rm -rf "$bx_tmp"
	fi
	bx_pids=() bx_namespaces=() bx_tmp=""
}

bx_cleanup() {
	local rc=$?
	set +e
	bx_teardown
	exit "$rc"
}
trap bx_cleanup EXIT
trap 'exit 130' INT TERM

# A private temporary directory, removed at exit.
bx_tmpdir() {
	bx_tmp=$(mktemp -d /tmp/bx-it.XXXXXX)
	chmod 700 "$bx_tmp"
}

# bx_netns NAME: a fresh namespace with loopback up.
bx_netns() {
	ip netns add "$1"
	bx_namespaces+=("$1")
	ip -n "$1" link set lo up
}

# bx_veth NS1 IF1 NS2 IF2: a veth pair between two namespaces, up, with no
# address: the address belongs to bauxite-app's exception TAP. The kernel
# of each namespace must ignore what arrives on its veth (af_packet gives it
# to the app anyway): no IPv6, no ARP answers, and strict reverse-path
# filtering, which drops IPv4 whose source routes back via the TAP.
bx_veth() {
	local ns1=$1 if1=$2 ns2=$3 if2=$4 ns ifn
	ip link add "$if1" netns "$ns1" type veth peer name "$if2" netns "$ns2"
	for pair in "$ns1 $if1" "$ns2 $if2"; do
		set -- $pair
		ns=$1 ifn=$2
		ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifn.disable_ipv6=1"
		ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$ifn.arp_ignore=8"
		ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$ifn.rp_filter=1"
		ip -n "$ns" link set "$ifn" up
	done
}

# Hugepages for --in-memory EALs.
bx_hugepages() {
	local cur
	cur=$(cat /proc/sys/vm/nr_hugepages)
	if [ "$cur" -lt "$BX_HUGEPAGES" ]; then
		echo "$BX_HUGEPAGES" >/proc/sys/vm/nr_hugepages
		cur=$(cat /proc/sys/vm/nr_hugepages)
		[ "$cur" -ge "$BX_HUGEPAGES" ] || bx_skip "cannot reserve $BX_HUGEPAGES hugepages"
	fi
}

# bx_cli APP: the bauxite CLI built next to bauxite-app APP.
bx_cli() {
	local cli=${1%/bauxite-app/bauxite-app}/bauxite/bauxite
	[ -x "$cli" ] || bx_fail "$cli (the bauxite CLI) is not executable"
	echo "$cli"
}

# bx_identity APP DIR: makes a node identity in DIR with `bauxite keys
# generate` and prints its X25519 public key (for peers[].public_key).
bx_identity() {
	local out key
	out=$("$(bx_cli "$1")" keys generate --dir "$2") ||
		bx_fail "bauxite keys generate --dir $2 failed"
	key=$(echo "$out" | awk '$1 == "x25519_public" { print $2 }')
	[ -n "$key" ] || bx_fail "bauxite keys generate printed no x25519_public: $out"
	echo "$key"
}

# bx_config SRC DST KEY=JSON...: DST is the JSON config SRC with each KEY
# (a dotted path; "peers.0.public_key") set to the JSON value given.
bx_config() {
	local src=$1 dst=$2
	shift 2
	"$BX_PY" - "$src" "$dst" "$@" <<'PY'
import json, sys
src, dst, sets = sys.argv[1], sys.argv[2], sys.argv[3:]
doc = json.load(open(src))
for s in sets:
    path, value = s.split("=", 1)
    keys = path.split(".")
    obj = doc
    for k in keys[:-1]:
        obj = obj[int(k)] if isinstance(obj, list) else obj[k]
    last = keys[-1]
    if value == "<delete>":
        if isinstance(obj, list):
            del obj[int(last)]
        else:
            del obj[last]
    elif isinstance(obj, list):
        obj[int(last)] = json.loads(value)
    else:
        obj[last] = json.loads(value)
json.dump(doc, open(dst, "w"), indent=2)
PY
}

# bx_start NS LOG APP ARGS...: runs bauxite-app in NS in the background,
# stdout and stderr to LOG; its pid is kept for the cleanup.
bx_start() {
	local ns=$1 log=$2
	shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	bx_pids+=("$!")
	BX_LAST_PID=$!
}

# bx_alive PID: true while PID runs (kill -0 also succeeds for a child
# that died and was not waited for yet).
bx_alive() {
	local state
	state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# bx_wait_iface NS IFACE PID: until IFACE exists in NS (and is up), or fail.
bx_wait_iface() {
	local ns=$1 ifn=$2 pid=$3 i
	for i in $(seq $((BX_UP_TIMEOUT_S * 10))); do
		if ip -n "$ns" -o link show "$ifn" 2>/dev/null | grep -q ',UP'; then
			return 0
		fi
		bx_alive "$pid" || return 1
		sleep 0.1
	done
	return 1
}

# bx_stat LOG NAME: NAME's value in the last stats summary in LOG.
bx_stat() {
	awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' "$1"
}

# bx_stats_dump PID LOG: asks the app for a summary and waits until one
# more summary appears in its log.
bx_stats_dump() {
	local pid=$1 log=$2 before i
	before=$(grep -c 'stats (SIGUSR1)' "$log" || true)
	kill -USR1 "$pid"
	for i in $(seq 50); do
		[ "$(grep -c 'stats (SIGUSR1)' "$log" || true)" -gt "$before" ] && return 0
		sleep 0.1
	done
	return 1
}

# bx_forget PID: PID was waited for; the cleanup need not stop it.
bx_forget() {
	local keep=() pid
	for pid in "${bx_pids[@]+"${bx_pids[@]}"}"; do
		[ "$pid" = "$1" ] || keep+=("$pid")
	done
	bx_pids=("${keep[@]+"${keep[@]}"}")
}

# bx_json FILE PATH: the value at the dotted PATH of the JSON FILE, as text.
bx_json() {
	"$BX_PY" - "$1" "$2" <<'PY'
import json, sys
obj = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    obj = obj[int(k)] if isinstance(obj, list) else obj[k]
print(obj)
PY
}

# bx_show_logs: both nodes' logs on stderr, for a failure's post-mortem.
bx_show_logs() {
	local f
	for f in "${logA:-}" "${logB:-}"; do
		[ -n "$f" ] && [ -f "$f" ] || continue
		bx_log "--- $f"
		cat "$f" >&2
	done
}

# bx_ping NS SRC DST: true when one ping from SRC to DST is answered.
bx_ping() {
	ip netns exec "$1" ping -c 1 -W 1 -I "$2" "$3" >/dev/null 2>&1
}

# bx_two_nodes APP [KEY=JSON...]: the standard topology. edge-a runs in
# namespace nsA and edge-b in nsB, from config/edge-a.json and edge-b.json
# with periodic stats off and each KEY=JSON (see bx_config) applied to
# both, or to one node only when written a:KEY=JSON or b:KEY=JSON; each has
# its own state_dir in the test's temporary directory, where its identity
# is made first (bauxite keys generate), and lists the other's X25519
# public key as peers[0].public_key (a KEY=JSON may override it); their
# sessions come from handshakes; their underlay ports are af_packet on the
# veth pair vA -- vB (with BX_PORT_ARGS appended to the devargs, e.g.
# ",qpairs=2") and their EAL arguments BX_EAL. Returns once a ping
# crosses the tunnel; fails the test (with both logs) when it does not.
# With BX_NO_TUNNEL_WAIT=1 it returns once both nodes are up, without
# pinging (for tests of tunnels that must not come up). Sets, for the
# test to use:
#   nsA nsB          the namespaces
#   vipA vipB        virtual IPs (on bauxite0)
#   ulA ulB          underlay IPs (on the exception TAPs)
#   mesh_port        the UDP port of mesh datagrams
#   pidA pidB        the bauxite-app processes
#   logA logB        their stdout and stderr
#   prefixA prefixB  their EAL file prefixes (telemetry sockets)
#   keyA keyB        their X25519 public keys (base64)
bx_two_nodes() {
	local app=$1 n cfg arg key
	local -a sets
	shift
	[ -x "$app" ] || bx_fail "$app is not executable"
	[ -n "$bx_tmp" ] || bx_tmpdir
	nsA=bxA$$ nsB=bxB$$
	prefixA=bxA$$ prefixB=bxB$$
	logA=$bx_tmp/A.log logB=$bx_tmp/B.log
	keyA=$(bx_identity "$app" "$bx_tmp/state-a")
	keyB=$(bx_identity "$app" "$bx_tmp/state-b")
	for n in a b; do
		if [ "$n" = a ]; then key=$keyB; else key=$keyA; fi
		sets=()
		for arg in "$@"; do
			case "$arg" in
			a:* | b:*) [ "${arg%%:*}" = "$n" ] && sets+=("${arg#?:}") ;;
			*) sets+=("$arg") ;;
			esac
		done
		bx_config "$BX_SRC/config/edge-$n.json" "$bx_tmp/$n.json" \
			"underlay.port=\"net_af_packet0,iface=v${n^^}${BX_PORT_ARGS:-}\"" \
			"peers.0.public_key=\"$key\"" 'stats_interval_s=0' \
			"state_dir=\"$bx_tmp/state-$n\"" "$BX_SAFETY_SET" \
			"${sets[@]+"${sets[@]}"}"
	done
	cfg=$bx_tmp/a.json
	vipA=$(bx_json "$cfg" inner.address) vipA=${vipA%/*}
	ulA=$(bx_json "$cfg" underlay.address) ulA=${ulA%/*}
	mesh_port=$(bx_json "$cfg" mesh_port)
	cfg=$bx_tmp/b.json
	vipB=$(bx_json "$cfg" inner.address) vipB=${vipB%/*}
	ulB=$(bx_json "$cfg" underlay.address) ulB=${ulB%/*}

	bx_netns "$nsA"
	bx_netns "$nsB"
	bx_veth "$nsA" vA "$nsB" vB
	bx_start "$nsA" "$logA" "$app" "${BX_EAL[@]}" --file-prefix="$prefixA" \
		-- --config "$bx_tmp/a.json"
	pidA=$BX_LAST_PID
	bx_start "$nsB" "$logB" "$app" "${BX_EAL[@]}" --file-prefix="$prefixB" \
		-- --config "$bx_tmp/b.json"
	pidB=$BX_LAST_PID
	bx_wait_iface "$nsA" bauxite0 "$pidA" ||
		{ bx_show_logs; bx_fail "bauxite0 never came up in $nsA"; }
	bx_wait_iface "$nsB" bauxite0 "$pidB" ||
		{ bx_show_logs; bx_fail "bauxite0 never came up in $nsB"; }
	[ "${BX_NO_TUNNEL_WAIT:-0}" = 0 ] || return 0
	# Next hops resolve within a second or so of the start (the kernels
	# ARP through the exception path), then the handshake takes a round
	# trip: wait for the first ping to make it.
	for n in $(seq "$BX_TUNNEL_TIMEOUT_S"); do
		bx_ping "$nsA" "$vipA" "$vipB" && return 0
	done
	bx_show_logs
	bx_fail "no ping crossed the tunnel within $BX_TUNNEL_TIMEOUT_S s"
}

# bx_stop_two_nodes: SIGTERM to both nodes; each must exit 0 and leave
# neither its TAP nor its EAL runtime directory behind. Returns non-zero
# (after saying why) otherwise.
bx_stop_two_nodes() {
	local pid rc ok=0 ns p
	kill -TERM "$pidA" "$pidB" 2>/dev/null || true # gone already after a Ctrl-C
	for pid in "$pidA" "$pidB"; do
		rc=0
		wait "$pid" || rc=$?
		bx_forget "$pid"
		[ "$rc" = 0 ] || { bx_log "pid $pid exited $rc on SIGTERM"; ok=1; }
	done
	for ns in "$nsA" "$nsB"; do
		if ip -n "$ns" link show bauxite0 >/dev/null 2>&1; then
			bx_log "bauxite0 still exists in $ns after exit"; ok=1
		fi
	done
	for p in "$prefixA" "$prefixB"; do
		[ ! -e "/var/run/dpdk/$p" ] || { bx_log "/var/run/dpdk/$p left behind"; ok=1; }
	done
	return "$ok"
}

# bx_counters PREFIX [TRIES]: every counter and drop reason of the app
# with EAL file prefix PREFIX, one "name value" a line (the names of
# /bauxite/stats and /bauxite/drops do not overlap). Read from the DPDK
# telemetry socket (what dpdk-telemetry.py talks to) once the numbers
# stand still, so that sums across counters hold: no frame is half
# counted. TRIES (default BX_SETTLE_TRIES) bounds the wait; 0 reads once.
bx_counters() {
	"$BX_PY" - "/var/run/dpdk/$1/dpdk_telemetry.v2" "$BX_SETTLE_S" \
		"${2:-$BX_SETTLE_TRIES}" <<'PY'
import json, socket, sys, time
path, settle, tries = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(path)
s.recv(16384)  # the greeting: version, pid, max output length
def query(cmd):
    s.send(cmd.encode())
    return json.loads(s.recv(65536))[cmd]
def read():
    d = dict(query("/bauxite/stats"))
    d.update(query("/bauxite/drops"))
    return d
cur = read()
for _ in range(tries):
    time.sleep(settle)
    prev, cur = cur, read()
    if cur == prev:
        break
else:
    if tries:
        sys.exit("counters of %s never stood still" % path)
for k, v in cur.items():
    print(k, v)
PY
}

# bx_delta BEFORE AFTER NAME: how much counter NAME grew between two
# bx_counters snapshots (files).
bx_delta() {
	echo $(( $(bx_stat "$2" "$3") - $(bx_stat "$1" "$3") ))
}

# bx_check_rx_accounting SNAPSHOT WHO: every underlay frame the app
# received went exactly one way: dropped under a reason (rx_dropped is
# their sum; the control lcore counts the handshakes it refuses there),
# up the exception path, decrypted and delivered, a keepalive, a
# handshake the control lcore accepted, a relay registration (or its
# answer) accepted, forwarded by a relay, or a path probe (or echo)
# accepted. Fails the test otherwise.
bx_check_rx_accounting() {
	local f=$1 who=$2 rx drop exc inner ka hs rc fw pr
	rx=$(bx_stat "$f" rx_packets)
	drop=$(bx_stat "$f" rx_dropped)
	exc=$(bx_stat "$f" exception_rx_packets)
	inner=$(bx_stat "$f" inner_tx_packets)
	ka=$(bx_stat "$f" keepalive_rx)
	hs=$(bx_stat "$f" handshake_accepted)
	rc=$(bx_stat "$f" relay_control_rx)
	fw=$(bx_stat "$f" relay_forwarded)
	pr=$(bx_stat "$f" probe_rx)
	bx_log "$who: rx_packets $rx = rx_dropped $drop + exception_rx_packets $exc + inner_tx_packets $inner + keepalive_rx $ka + handshake_accepted $hs + relay_control_rx $rc + relay_forwarded $fw + probe_rx $pr ?"
	[ "$rx" = $((drop + exc + inner + ka + hs + rc + fw + pr)) ] ||
		{ bx_show_logs; cat "$f" >&2; bx_fail "$who: $((rx - drop - exc - inner - ka - hs - rc - fw - pr)) underlay frames unaccounted for"; }
}

# bx_nonzero_drops SNAPSHOT: the drop reasons that happened, "name n, ...".
bx_nonzero_drops() {
	awk '$1 !~ /_packets$|_bytes$|_dropped$|^handshake_|^keepalive_|^sessions_|^arp_|^relay_forwarded$|^relay_control_(rx|tx)$|^stun_(in|out)$|^probe_(tx|echo_tx|rx)$|^critical_copies$|^safety_(warnings|severances|recoveries)$|^path_(copies|down|up)$|^preferred_switches$|^stripe_excluded$|^reorder_(held|late|timeouts|forced|no_buffer)$/ && $2 != 0 {
		printf "%s%s %s", sep, $1, $2; sep = ", " } END { print "" }' "$1"
}

# bx_capture_start NS IFACE PCAP FILTER...: tcpdump on IFACE in NS into
# PCAP, returning once it listens; its pid in BX_LAST_PID. Immediate mode:
# otherwise what arrived in the last second may sit in the kernel's ring
# when the capture stops, and never reach the file.
bx_capture_start() {
	local ns=$1 ifn=$2 pcap=$3 i
	shift 3
	bx_start "$ns" "$pcap.log" tcpdump -i "$ifn" --immediate-mode -U -n -s 0 -w "$pcap" "$@"
	for i in $(seq 50); do
		grep -q 'listening on' "$pcap.log" && return 0
		sleep 0.1
	done
	cat "$pcap.log" >&2
	bx_fail "tcpdump on $ifn in $ns did not start"
}

# bx_capture_stop PID: stops a capture, flushing its file.
bx_capture_stop() {
	sleep 0.3 # what is on the wire now reaches the file
	kill -INT "$1"
	wait "$1" || true
	bx_forget "$1"
}

# bx_link_rx NS IFACE: frames the kernel interface has received.
bx_link_rx() {
	ip netns exec "$1" cat "/sys/class/net/$2/statistics/rx_packets"
}

# bx_tun_fds PID: "N M" -- how many /dev/net/tun descriptors process PID
# holds (its TAPs' queues), and how many of them have O_ASYNC (020000 in
# fdinfo's octal flags: the kernel signals the process for every frame).
bx_tun_fds() {
	local fd n=0 async=0 flags
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = /dev/net/tun ] || continue
		n=$((n + 1))
		flags=$(awk '$1 == "flags:" { print $2 }' "/proc/$1/fdinfo/${fd##*/}")
		[ $((8#$flags & 8#20000)) = 0 ] || async=$((async + 1))
	done
	echo "$n $async"
}

# bx_check_capture PCAP PATTERN PORT MIN: in the capture PCAP, the hex
# byte PATTERN never appears and every UDP datagram to PORT (a mesh
# datagram) starts with a byte >= 0x80; at least MIN of them. Returns
# non-zero (after saying why) otherwise.
bx_check_capture() {
	"$BX_PY" - "$@" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
pattern, port, least = bytes.fromhex(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if data.find(pattern) >= 0:
    sys.exit("payload pattern %s in clear on the wire" % sys.argv[2])
off, mesh = 24, 0  # pcap file header, then records
while off + 16 <= len(data):
    incl = struct.unpack_from("<I", data, off + 8)[0]
    frame = data[off + 16:off + 16 + incl]
    off += 16 + incl
    if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        continue
    l4 = 14 + (frame[14] & 0x0f) * 4
    if struct.unpack_from("!H", frame, l4 + 2)[0] != port:
        continue
    if frame[l4 + 8] < 0x80:
        sys.exit("a datagram to port %d without the 0x80 tag" % port)
    mesh += 1
if mesh < least:
    sys.exit("only %d mesh datagrams captured, expected %d" % (mesh, least))
print("capture: %d mesh datagrams, all tagged, no clear text" % mesh, file=sys.stderr)
PY
}

# ---- hub topology ---------------------------------------------------------

# bx_switch NS: a namespace with a bridge br0 (up); bx_switch_port NS IFACE
# PEER_NS PEER_IFACE: a veth from the bridge to PEER_NS, where the end is
# configured as an underlay end (bx_veth's settings).
bx_switch() {
	bx_netns "$1"
	ip -n "$1" link add br0 type bridge
	ip -n "$1" link set br0 up
}
bx_switch_port() {
	local sw=$1 ifs=$2 ns=$3 ifn=$4
	ip link add "$ifs" netns "$sw" type veth peer name "$ifn" netns "$ns"
	ip -n "$sw" link set "$ifs" master br0
	ip -n "$sw" link set "$ifs" up
	ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifn.disable_ipv6=1"
	ip -n "$ns" link set "$ifn" up
}

# bx_dispatch_bin APP: bauxite-dispatch built next to bauxite-app APP.
bx_dispatch_bin() {
	local d=${1%/bauxite-app/bauxite-app}/bauxite-dispatch/bauxite-dispatch
	[ -x "$d" ] || bx_fail "$d (bauxite-dispatch) is not executable"
	echo "$d"
}

# ---- bonding topology (issue 8) ---------------------------------------------

# bx_bond_nodes APP [KEY=JSON...]: edge-a in nsA and edge-b in nsB, each
# with two underlays, joined through a middle namespace nsM by two paths:
#   path 0: vA0 -- mA0 [impair.py, $bx_tmp/ctl0] mB0 -- vB0   10.99.0.0/24
#   path 1: vA1 -- mA1 [impair.py, $bx_tmp/ctl1] mB1 -- vB1   10.98.0.0/24
# each node's peers[0] has both paths (ul0, ul1). impair.py copies frames
# between mAk and mBk with each direction's delay and loss (bx_bond_impair);
# with BX_BOND_RATE (tc rate, e.g. 20mbit) every m* interface gets a tbf
# qdisc of that rate, so each path is a bottleneck of that rate each way.
# Then bx_bond_start. Sets nsA nsB nsM, prefixA prefixB, logA logB.
bx_bond_nodes() {
	local app=$1 k n
	shift
	[ -n "$bx_tmp" ] || bx_tmpdir
	nsA=bxA$$ nsB=bxB$$ nsM=bxM$$
	prefixA=bxA$$ prefixB=bxB$$
	logA=$bx_tmp/A.log logB=$bx_tmp/B.log
	bx_netns "$nsA"
	bx_netns "$nsB"
	bx_netns "$nsM"
	for k in 0 1; do
		bx_veth "$nsA" "vA$k" "$nsM" "mA$k"
		bx_veth "$nsM" "mB$k" "$nsB" "vB$k"
		if [ -n "${BX_BOND_RATE:-}" ]; then
			for n in "mA$k" "mB$k"; do
				ip netns exec "$nsM" tc qdisc add dev "$n" root tbf \
					rate "$BX_BOND_RATE" burst 16kb latency 100ms
			done
		fi
		: >"$bx_tmp/ctl$k"
		bx_start "$nsM" "$bx_tmp/impair$k.log" "$BX_PY" \
			"$BX_SRC/test/tools/impair.py" "mA$k" "mB$k" "$bx_tmp/ctl$k"
	done
	bx_bond_start "$app" "$@"
}

# bx_bond_start APP [KEY=JSON...]: (re)starts both nodes of the bonding
# topology from config/edge-{a,b}.json with two underlays and both paths,
# each KEY=JSON applied as for bx_two_nodes (a:/b: prefixes included), and
# waits for a ping. Sets pidA pidB vipA vipB.
bx_bond_start() {
	local app=$1 n me peer key up arg
	local -a sets
	shift
	[ -f "$bx_tmp/state-a/identity.x25519" ] || keyA=$(bx_identity "$app" "$bx_tmp/state-a")
	[ -f "$bx_tmp/state-b/identity.x25519" ] || keyB=$(bx_identity "$app" "$bx_tmp/state-b")
	for n in a b; do
		if [ "$n" = a ]; then key=$keyB me=1 peer=2; else key=$keyA me=2 peer=1; fi
		up=${n^^}
		sets=()
		for arg in "$@"; do
			case "$arg" in
			a:* | b:*) [ "${arg%%:*}" = "$n" ] && sets+=("${arg#?:}") ;;
			*) sets+=("$arg") ;;
			esac
		done
		bx_config "$BX_SRC/config/edge-$n.json" "$bx_tmp/$n.json" \
			"underlay=[{\"port\": \"net_af_packet0,iface=v${up}0\", \"address\": \"10.99.0.$me/24\"}, {\"port\": \"net_af_packet1,iface=v${up}1\", \"address\": \"10.98.0.$me/24\"}]" \
			'peers.0.endpoint=<delete>' \
			"peers.0.paths=[{\"underlay\": \"ul0\", \"endpoint\": \"10.99.0.$peer:7600\"}, {\"underlay\": \"ul1\", \"endpoint\": \"10.98.0.$peer:7600\"}]" \
			"peers.0.public_key=\"$key\"" 'stats_interval_s=0' \
			"state_dir=\"$bx_tmp/state-$n\"" "$BX_SAFETY_SET" \
			"${sets[@]+"${sets[@]}"}"
	done
	vipA=$(bx_json "$bx_tmp/a.json" inner.address) vipA=${vipA%/*}
	vipB=$(bx_json "$bx_tmp/b.json" inner.address) vipB=${vipB%/*}
	bx_start "$nsA" "$logA" "$app" "${BX_EAL[@]}" --file-prefix="$prefixA" \
		-- --config "$bx_tmp/a.json"
	pidA=$BX_LAST_PID
	bx_start "$nsB" "$logB" "$app" "${BX_EAL[@]}" --file-prefix="$prefixB" \
		-- --config "$bx_tmp/b.json"
	pidB=$BX_LAST_PID
	bx_wait_iface "$nsA" bauxite0 "$pidA" || { bx_show_logs; bx_fail "A never came up"; }
	bx_wait_iface "$nsB" bauxite0 "$pidB" || { bx_show_logs; bx_fail "B never came up"; }
	for n in $(seq "$BX_TUNNEL_TIMEOUT_S"); do
		bx_ping "$nsA" "$vipA" "$vipB" && return 0
	done
	bx_show_logs
	bx_fail "no ping crossed the bonded tunnel within $BX_TUNNEL_TIMEOUT_S s"
}

# bx_bond_impair K LINE...: path K's impairment from now on, one LINE per
# direction ("a2b delay_ms=10 loss_pct=0"; a direction not given: a wire).
bx_bond_impair() {
	local k=$1
	shift
	printf '%s\n' "$@" >"$bx_tmp/ctl$k.new" && mv "$bx_tmp/ctl$k.new" "$bx_tmp/ctl$k"
}

# bx_telemetry PREFIX CMD: the JSON the app with EAL file prefix PREFIX
# answers to telemetry command CMD (its value only).
bx_telemetry() {
	"$BX_PY" - "/var/run/dpdk/$1/dpdk_telemetry.v2" "$2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.recv(16384)
s.send(sys.argv[2].encode())
print(json.dumps(json.loads(s.recv(1 << 20))[sys.argv[2]]))
PY
}

# bx_path_field PREFIX PATH FIELD: column FIELD of path PATH (0, 1) of the
# first peer in /bauxite/paths.
bx_path_field() {
	bx_telemetry "$1" /bauxite/paths | "$BX_PY" -c '
import json, sys
d = json.load(sys.stdin)
print(d[sys.argv[2]][int(sys.argv[1])])' "$2" "$3"
}
