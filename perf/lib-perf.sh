# SPDX-License-Identifier: Apache-2.0
# Helpers of the perf/ scripts that push ping and iperf3 through a tunnel
# between two namespaces (critical-latency.sh, e2e.sh): sourced after
# test/integration/lib.sh, whose registry of processes (bx_pids) and whose
# failure path (bx_fail, bx_show_logs) they use.

# 100 pings a second: fine enough for a p99 from a few seconds of samples,
# light enough (84-byte packets) not to be load itself.
BXP_PING_INTERVAL_S=0.01
BXP_PING_PER_S=100
# A reply later than this is lost (ping -W); far above any RTT worth having.
BXP_PING_TIMEOUT_S=1
# Pings before a measured phase whose times are not kept: the first packets
# may still find cold caches and a sleeping poll loop.
BXP_WARMUP_COUNT=20
# iperf3 gives up on a tunnel that does not even carry its control
# connection after this long (ms), and a client that has not finished this
# long after its test should have is stopped (s): a dead tunnel fails the
# run instead of hanging it.
BXP_IPERF_CONNECT_MS=5000
BXP_IPERF_GRACE_S=30

# bxp_ping NS SRC DST COUNT OUT: COUNT pings at BXP_PING_PER_S from SRC to
# DST in NS, ping's output in OUT. ping exits 1 when a reply is missing:
# loss is a figure (bxp_rtt), not an error; any other failure is one.
bxp_ping() {
	local rc=0
	ip netns exec "$1" ping -c "$4" -i "$BXP_PING_INTERVAL_S" \
		-W "$BXP_PING_TIMEOUT_S" -I "$2" "$3" >"$5" 2>&1 || rc=$?
	[ "$rc" -le 1 ] || { cat "$5" >&2; bx_fail "ping $3 from $2 in $1 exited $rc"; }
}

# bxp_ping_warmup NS SRC DST: BXP_WARMUP_COUNT pings whose times are not
# kept (their loss does not matter either).
bxp_ping_warmup() {
	bxp_ping "$1" "$2" "$3" "$BXP_WARMUP_COUNT" /dev/null
}

# bxp_rtt OUT NAME: from ping's output OUT, "p50 p99 max loss received
# sent": RTTs in ms (nearest rank over the replies, duplicates not counted),
# loss in % (ping's summary). Fails the run when no reply came at all.
bxp_rtt() {
	"$BX_PY" - "$1" "$2" <<'PY' || { bx_show_logs; bx_fail "$2: no measurement"; }
import math, re, sys
text = open(sys.argv[1]).read()
reply = re.compile(r"icmp_seq=\d+ .*time=([0-9.]+) ms")
# A duplicate is a second reply to one request: not a sample.
ms = sorted(float(m.group(1)) for line in text.splitlines()
            if "DUP!" not in line for m in [reply.search(line)] if m)
s = re.search(r"(\d+) packets transmitted, (\d+) received", text)
if not ms or not s:
    sys.stderr.write(text)
    sys.exit("%s: no ping reply at all" % sys.argv[2])
def rank(q):
    # Nearest rank: a value that was actually measured.
    return ms[max(0, math.ceil(q * len(ms)) - 1)]
sent, received = int(s.group(1)), int(s.group(2))
print(rank(0.50), rank(0.99), ms[-1], 100.0 * (sent - received) / sent,
      received, sent)
PY
}

# bxp_iperf_server NS ADDR PORT LOG: an iperf3 server on ADDR:PORT in NS
# that serves one test after another (stop it with bxp_stop), output in
# LOG; returns once it listens. Its pid in BXP_SERVER_PID.
bxp_iperf_server() {
	local i
	bx_start "$1" "$4" iperf3 -s --forceflush -B "$2" -p "$3"
	BXP_SERVER_PID=$BX_LAST_PID
	for i in $(seq 50); do
		grep -q 'listening' "$4" && return 0
		sleep 0.1
	done
	cat "$4" >&2
	bx_fail "the iperf3 server on $2 in $1 did not start"
}

# bxp_iperf_start NS SRC DST PORT SECONDS OUT IPERF_ARGS...: an iperf3
# client in NS from SRC to the server on DST:PORT for SECONDS, in the
# background; its JSON in OUT, its stderr in OUT.err. Its pid in
# BXP_CLIENT_PID, registered for the cleanup; bxp_iperf_wait collects it.
bxp_iperf_start() {
	local ns=$1 src=$2 dst=$3 port=$4 s=$5 out=$6
	shift 6
	# Not bx_start: the JSON must stay apart from stderr.
	ip netns exec "$ns" timeout -k 5 $((s + BXP_IPERF_GRACE_S)) \
		iperf3 -c "$dst" -B "$src" -p "$port" -t "$s" -J \
		--connect-timeout "$BXP_IPERF_CONNECT_MS" "$@" >"$out" 2>"$out.err" &
	BXP_CLIENT_PID=$!
	bx_pids+=("$BXP_CLIENT_PID")
}

# bxp_iperf_wait PID OUT: waits for the client PID (whose JSON is in OUT);
# fails the run when it did not complete its test.
bxp_iperf_wait() {
	local rc=0
	wait "$1" || rc=$?
	bx_forget "$1"
	[ "$rc" = 0 ] || {
		cat "$2" "$2.err" >&2
		bx_show_logs
		[ "$rc" != 124 ] || bx_fail "iperf3 client did not finish in time"
		bx_fail "iperf3 client exited $rc"
	}
}

# bxp_iperf NS SRC DST PORT SECONDS OUT IPERF_ARGS...: one iperf3 test in
# the foreground (bxp_iperf_start, then bxp_iperf_wait).
bxp_iperf() {
	bxp_iperf_start "$@"
	bxp_iperf_wait "$BXP_CLIENT_PID" "$6"
}

# bxp_iperf_tcp OUT: "bit/s bytes" received (the server's side) in the
# TCP test whose client JSON is OUT.
bxp_iperf_tcp() {
	"$BX_PY" - "$1" <<'PY' || bx_fail "iperf3 gave no TCP result in $1"
import json, sys
r = json.load(open(sys.argv[1]))["end"]["sum_received"]
print(r["bits_per_second"], r["bytes"])
PY
}

# bxp_iperf_udp OUT LEN: "packets/s loss% received sent" of the UDP test
# with LEN-byte datagrams whose client JSON is OUT. Received is what the
# server read (its bytes / LEN, over its own duration), not iperf3's
# packets - lost_packets: that one is sequence arithmetic, and counts
# datagrams that were in flight at the end and never arrived as received.
bxp_iperf_udp() {
	"$BX_PY" - "$1" "$2" <<'PY' || bx_fail "iperf3 gave no UDP result in $1"
import json, sys
end, size = json.load(open(sys.argv[1]))["end"], int(sys.argv[2])
rcvd = end["sum_received"]["bytes"] // size
sent = end["sum_sent"]["packets"]
secs = end["sum_received"]["seconds"]
print(rcvd / secs if secs > 0 else 0.0,
      100.0 * (sent - rcvd) / sent if sent > 0 else 100.0, rcvd, sent)
PY
}

# bxp_stop PID: stops a registered helper process (an iperf3 server).
bxp_stop() {
	kill -TERM "$1" 2>/dev/null || true # it may have ended by itself
	wait "$1" 2>/dev/null || true       # its status says nothing: we killed it
	bx_forget "$1"
}

# bxp_placement NAME: where the lcores of bx_two_nodes's two nodes run on
# this machine kind's 2 CPUs, which they share with iperf3, ping and the
# kernel's veth, TAP and softirq work:
#   split   each node's worker lcore pinned to its own CPU (A: CPU 1, B:
#           CPU 0), the control lcores free to run on either: one EAL lcore
#           list for both (lcore 0 on CPUs 0-1, lcore 1 on CPU 1, lcore 2 on
#           CPU 0) and each node's config picks its worker (lcores.workers);
#           the lcore a node leaves unused waits for a launch that never
#           comes and takes no CPU. What an operator of such a box runs: a
#           node per core, as if each had its own.
#   shared  lib.sh's -l 0-1 on both: both workers on CPU 1, both control
#           lcores on CPU 0 (the workers take turns on one CPU).
#   float   no pinning: every lcore of both nodes on either CPU.
# Sets BX_EAL (lib.sh's with its lcore list replaced), BXP_PLACE_SETS (the
# KEY=JSON arguments it needs from bx_two_nodes) and BXP_PLACE_TEXT.
bxp_placement() {
	local a skip=0 rest=()
	for a in "${BX_EAL[@]}"; do
		if [ "$skip" = 1 ]; then skip=0; continue; fi
		case "$a" in
		-l | -c | --lcores) skip=1 ;;
		-l?* | -c?* | --lcores=*) ;;
		*) rest+=("$a") ;;
		esac
	done
	BXP_PLACE_SETS=()
	case "$1" in
	split)
		BX_EAL=(--lcores='0@(0,1),1@1,2@0' "${rest[@]}")
		BXP_PLACE_SETS=('a:lcores={"workers": [1]}' 'b:lcores={"workers": [2]}')
		BXP_PLACE_TEXT="worker lcores pinned apart (A: CPU 1, B: CPU 0), control lcores on either CPU"
		;;
	shared)
		BX_EAL=(-l 0-1 "${rest[@]}")
		BXP_PLACE_TEXT="-l 0-1 on both nodes: both worker lcores on CPU 1, both control lcores on CPU 0"
		;;
	float)
		BX_EAL=(--lcores='0@(0,1),1@(0,1)' "${rest[@]}")
		BXP_PLACE_TEXT="no pinning: every lcore of both nodes on either CPU"
		;;
	*) bx_fail "unknown placement '$1' (split, shared or float)" ;;
	esac
}
