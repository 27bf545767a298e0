#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A paced UDP stream of numbered datagrams, and its receiver, for
measuring outages (perf/failover.sh): a gap in the arrivals is how long
the path was gone, a missing number a datagram lost.

  seqstream.py send DST_IP PORT PPS SECONDS SIZE
  seqstream.py recv BIND_IP PORT OUTFILE

send: PPS datagrams a second for SECONDS (or until SIGTERM/SIGINT), each
SIZE bytes of UDP payload starting with its sequence number (from 0) and
its send time (CLOCK_REALTIME, ns), both 64-bit big-endian. Datagram i
leaves at start + i / PPS: an absolute schedule, so a late wake-up is
caught up instead of stretching every later interval. On exit it prints
how many it sent and how far behind the schedule it fell at worst (a
sender that stalled makes a gap the network did not). Bauxite's
classifier puts UDP with an IP length under 100 bytes (SIZE < 72) on the
Critical lane whatever its port.

recv: one line "SEQ RECV_TIME_NS SEND_TIME_NS" per datagram, in arrival
order, the receive time (CLOCK_REALTIME, ns) being the kernel's receive
timestamp (SO_TIMESTAMPNS), so a receiver scheduled late still logs when
the datagram came; the send time is the one the datagram carries (it
tells a sender's stall from the network's). Runs until SIGTERM/SIGINT,
then writes OUTFILE and prints how many datagrams it logged.
"""
import signal
import socket
import struct
import sys
import time

HEADER = struct.Struct("!QQ")  # seq, send time (ns)
# Linux's SO_TIMESTAMPNS (= SCM_TIMESTAMPNS); the socket module lacks it.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
TIMESPEC = struct.Struct("@ll")
# The receiver looks at its stop flag this often when nothing arrives.
RECV_POLL_S = 0.2
DATAGRAM_MAX = 65535


class Stop(Exception):
    pass


def on_signal(*_):
    raise Stop()


def send(dst, port, pps, seconds, size):
    if pps <= 0 or seconds <= 0 or not HEADER.size <= size <= DATAGRAM_MAX - 28:
        sys.exit("send: PPS and SECONDS must be > 0 and SIZE %d..%d"
                 % (HEADER.size, DATAGRAM_MAX - 28))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((dst, port))
    pad = bytes(size - HEADER.size)
    period_ns = 1_000_000_000 / pps
    count = int(pps * seconds)
    start = time.monotonic_ns()
    sent = 0
    refused = 0
    late_max_ns = 0
    late_n = 0
    try:
        for seq in range(count):
            due = start + int(seq * period_ns)
            now = time.monotonic_ns()
            if now < due:
                time.sleep((due - now) / 1e9)
            late_ns = time.monotonic_ns() - due
            late_max_ns = max(late_max_ns, late_ns)
            late_n += late_ns > period_ns
            try:
                s.send(HEADER.pack(seq, time.time_ns()) + pad)
                sent += 1
            except OSError:
                # An ICMP error from an earlier datagram, a full queue, a
                # route gone for a moment: this one is lost, the stream
                # goes on.
                refused += 1
    except Stop:
        pass
    print("seqstream: sent %d (%d refused by the local stack); %d more than "
          "a period behind schedule, at most %.3f ms"
          % (sent, refused, late_n, late_max_ns / 1e6), flush=True)


def recv(bind_ip, port, outfile):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((bind_ip, port))
    s.settimeout(RECV_POLL_S)
    cmsg_space = socket.CMSG_SPACE(TIMESPEC.size)
    log = []
    print("seqstream: listening on %s:%d" % (bind_ip, port), flush=True)
    try:
        while True:
            try:
                data, anc, _, _ = s.recvmsg(DATAGRAM_MAX, cmsg_space)
            except socket.timeout:
                continue
            if len(data) < HEADER.size:
                continue
            t_ns = None
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = TIMESPEC.unpack(value[:TIMESPEC.size])
                    t_ns = sec * 1_000_000_000 + nsec
            if t_ns is None:
                t_ns = time.time_ns()
            seq, sent_ns = HEADER.unpack_from(data)
            log.append((seq, t_ns, sent_ns))
    except Stop:
        pass
    # A second signal must not cut the log short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with open(outfile, "w") as f:
        f.writelines("%d %d %d\n" % entry for entry in log)
    print("seqstream: received %d" % len(log), flush=True)


def main():
    usage = ("usage: seqstream.py send DST_IP PORT PPS SECONDS SIZE\n"
             "       seqstream.py recv BIND_IP PORT OUTFILE")
    args = sys.argv[1:]
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if len(args) == 6 and args[0] == "send":
            run = (send, args[1], int(args[2]), float(args[3]),
                   float(args[4]), int(args[5]))
        elif len(args) == 4 and args[0] == "recv":
            run = (recv, args[1], int(args[2]), args[3])
        else:
            sys.exit(usage)
    except ValueError as e:
        sys.exit("%s\n%s" % (e, usage))
    run[0](*run[1:])


if __name__ == "__main__":
    main()
