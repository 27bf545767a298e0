#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A link impairment box for the integration tests: a wire between two
interfaces that adds delay and random loss, each direction on its own,
changed while it runs.

This machine's kernel has no netem (CONFIG_NET_SCH_NETEM is not set), so
the tests put this in the middle instead: it copies every Ethernet frame
from IF_A to IF_B and back through AF_PACKET sockets, holding each for
the direction's delay and dropping it with the direction's loss
probability (independently per frame, like netem's loss).

  impair.py IF_A IF_B CONTROL

CONTROL is a text file, read again whenever it changes, one line per
direction (a missing direction is a plain wire):

  a2b delay_ms=40 loss_pct=0
  b2a delay_ms=0 loss_pct=95

On SIGTERM it prints, per direction, the frames it forwarded and dropped.
"""
import heapq
import os
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
POLL_CONTROL_S = 0.01
FRAME_MAX = 65536


def parse(path):
    conf = {"a2b": (0.0, 0.0), "b2a": (0.0, 0.0)}
    try:
        text = open(path).read()
    except OSError:
        return conf
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0] not in conf:
            continue
        delay, loss = 0.0, 0.0
        for kv in parts[1:]:
            k, _, v = kv.partition("=")
            if k == "delay_ms":
                delay = float(v) / 1000.0
            elif k == "loss_pct":
                loss = float(v) / 100.0
        conf[parts[0]] = (delay, loss)
    return conf


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: impair.py IF_A IF_B CONTROL")
    if_a, if_b, control = sys.argv[1:]
    socks = {}
    for name in (if_a, if_b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, 0))
        s.setblocking(False)
        socks[name] = s
    out = {if_a: (socks[if_b], "a2b"), if_b: (socks[if_a], "b2a")}
    conf, mtime = parse(control), None
    queue = []          # (due, seq, socket, frame)
    seq = 0
    stats = {"a2b": [0, 0], "b2a": [0, 0]}
    rng = random.Random()
    running = [True]

    def stop(*_):
        running[0] = False
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    next_check = 0.0
    fds = {s.fileno(): name for name, s in socks.items()}
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    print("impair: %s <-> %s, control %s" % (if_a, if_b, control), flush=True)
    while running[0]:
        now = time.monotonic()
        if now >= next_check:
            next_check = now + POLL_CONTROL_S
            try:
                m = os.stat(control).st_mtime_ns
            except OSError:
                m = None
            if m != mtime:
                mtime, conf = m, parse(control)
        while queue and queue[0][0] <= now:
            _, _, s, frame = heapq.heappop(queue)
            try:
                s.send(frame)
            except OSError:
                pass
        wait = POLL_CONTROL_S
        if queue:
            wait = min(wait, max(0.0, queue[0][0] - now))
        try:
            events = poller.poll(wait * 1000.0)
        except InterruptedError:
            continue
        for fd, _ in events:
            name = fds[fd]
            while True:
                try:
                    frame, addr = socks[name].recvfrom(FRAME_MAX)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    # ENETDOWN once when the interface goes down (a test
                    # cutting the link): the socket works again when it
                    # comes back up.
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue  # our own copy going out on this side
                dst, direction = out[name]
                delay, loss = conf[direction]
                if loss > 0 and rng.random() < loss:
                    stats[direction][1] += 1
                    continue
                stats[direction][0] += 1
                if delay <= 0 and not queue:
                    try:
                        dst.send(frame)
                    except OSError:
                        pass
                    continue
                seq += 1
                heapq.heappush(queue, (time.monotonic() + delay, seq, dst, frame))
    for d in ("a2b", "b2a"):
        print("impair: %s forwarded %d dropped %d" % (d, stats[d][0], stats[d][1]),
              file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
