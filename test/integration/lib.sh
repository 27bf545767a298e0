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

bx_cleanup() {
	local rc=$? pid ns i
	set +e
	for pid in "${bx_pids[@]+"${bx_pids[@]}"}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${bx_pids[@]+"${bx_pids[@]}"}"; do
		# A clean shutdown closes ports and removes its TAPs; give it 10 s.
		for i in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for ns in "${bx_namespaces[@]+"${bx_namespaces[@]}"}"; do
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "$bx_tmp" ] && rm -rf "$bx_tmp"
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

# bx_psk FILE: a fresh 32-byte pre-shared key, mode 0600.
bx_psk() {
	(umask 077; head -c 32 /dev/urandom | base64 >"$1")
}

# bx_config SRC DST KEY=JSON...: DST is the JSON config SRC with each KEY
# (a dotted path; "peers.0.psk_file") set to the JSON value given.
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

# bx_wait_iface NS IFACE PID: until IFACE exists in NS (and is up), or fail.
bx_wait_iface() {
	local ns=$1 ifn=$2 pid=$3 i
	for i in $(seq $((BX_UP_TIMEOUT_S * 10))); do
		if ip -n "$ns" -o link show "$ifn" 2>/dev/null | grep -q ',UP'; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 1
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
