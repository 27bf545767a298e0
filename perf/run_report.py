# SPDX-License-Identifier: Apache-2.0
"""perf/run's second half: merges what the measuring programs printed into
one table (issue 9's sections 1..5, in that order) and one JSON array of
{"name", "unit", "value", "ratio"} objects (perf/results/README.md), checks
that every figure a section promises is there, and compares with an earlier
run. Standard library only: it runs under Debian's /usr/bin/python3.

    run_report.py DIR --sections LIST --mode MODE --out FILE
                  [--compare FILE] [--date TEXT] [--top DIR]

DIR holds, per program perf/run ran (key crypto, fastpath or e2e): its
figures, one JSON object a line (crypto.out and fastpath.out, the benches'
stdout; e2e.json, e2e.sh's --json file), KEY.err (its stderr) and a line
"KEY STATUS SECONDS COMMAND..." in DIR/status. Exits 1 when a program
failed or a promised figure is missing (each named on stderr), else 0.
"""

import argparse
import json
import os
import re
import subprocess
import sys

SKIP = 77
# perf/run's status for a program that was not there to run.
NOT_BUILT = 127
CIPHERS = ("chacha20-poly1305", "aes-256-gcm")
BACKENDS = ("ipsec-mb-burst", "ipsec-mb-direct", "libsodium")
OPS = ("seal", "open")
SIZES = (64, 512, 1400)
DIRS = ("egress", "ingress")
# What each direction of the fast path does to a packet: its ceiling.
DIR_OP = {"egress": "seal", "ingress": "open"}
SCALE_SIZES = (64, 1400)
SCALE_PEERS = (1, 1000, 10000)
TUNNELS = ("bauxite", "wireguard-go")
E2E_THROUGHPUT = ("tcp1", "tcp4", "udp64", "udp64_loss")
E2E_PING = tuple("ping_%s_%s" % (phase, f) for phase in ("idle", "loaded")
                 for f in ("p50", "p99", "loss"))

SECTIONS = {
    1: "Crypto ceiling",
    2: "Fast path",
    3: "End to end",
    4: "Critical-lane latency",
    5: "Scale",
}
# Which perf/run --only name a section belongs to, and which program
# measures it.
SECTION_ONLY = {1: "crypto", 2: "fastpath", 3: "e2e", 4: "e2e", 5: "scale"}
SECTION_PROG = {1: "crypto", 2: "fastpath", 3: "e2e", 4: "e2e", 5: "fastpath"}
PROG_NAME = {"crypto": "crypto-bench", "fastpath": "fastpath-bench",
             "e2e": "perf/e2e.sh"}

RE_SCALE = re.compile(r"^fastpath\.(?P<c>[^.]+)\.(?P<d>egress|ingress)\."
                      r"(?P<s>\d+)\.peers(?P<n>\d+)(?P<mpps>\.mpps)?$")
RE_HEAP = re.compile(r"^fastpath\.(?P<c>[^.]+)\.peers(?P<n>\d+)\.heap_per_peer$")
RE_E2E = re.compile(r"^e2e\.(?P<k>[^.]+)\.(?P<t>bauxite|wireguard-go)$")


def fig(name, unit, value, ratio=None):
    return {"name": name, "unit": unit, "value": value, "ratio": ratio}


def section_of(name, prog):
    """The section a figure goes to: by its name, which the programs keep
    stable, else by the program that printed it."""
    if prog == "crypto":
        return 1
    if "critical" in name or "latency" in name or name.startswith("e2e.ping"):
        return 4
    if prog == "e2e":
        return 3
    if ".peers" in name or name.startswith("scale."):
        return 5
    return 2


def read_lines(path, prog, errors):
    """The JSON objects of a program's output, one a line; other lines
    (comments, a table) are not figures."""
    objs = []
    if not os.path.exists(path):
        return objs
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                objs.append(json.loads(line))
            except ValueError as e:
                errors.append("%s: line %d is not JSON (%s): %s"
                              % (PROG_NAME[prog], n, e, line[:80]))
    return objs


def crypto_figures(objs, errors):
    """crypto-bench's lines {cipher, backend, op, size, mpps, gbps,
    cycles_per_pkt} as figures, plus the ceiling of each cipher, op and
    size: the best back end's Gbps. Returns (figures, ceilings) with
    ceilings[(cipher, op, size)] = (gbps, backend)."""
    rows, figs, ceil = [], [], {}
    for o in objs:
        if "name" in o and "value" in o:
            figs.append(o)
            continue
        try:
            rows.append((o["cipher"], o["backend"], o["op"], int(o["size"]),
                         float(o["mpps"]), float(o["gbps"]),
                         float(o["cycles_per_pkt"])))
        except (KeyError, ValueError, TypeError):
            errors.append("crypto-bench: a line of unknown shape: %s"
                          % json.dumps(o)[:120])
    for c, be, op, size, mpps, gbps, cpp in rows:
        key = (c, op, size)
        if key not in ceil or gbps > ceil[key][0]:
            ceil[key] = (gbps, be)
    out = []
    for c, op, size in sorted(ceil, key=order_key):
        out.append(fig("crypto.ceiling.%s.%s.%d" % (c, op, size), "Gbps",
                       ceil[(c, op, size)][0]))
    for c, be, op, size, mpps, gbps, cpp in sorted(
            rows, key=lambda r: order_key((r[0], r[2], r[3])) + (bk(r[1]),)):
        base = "crypto.%s.%s.%d.%s" % (c, op, size, be)
        out.append(fig(base + ".mpps", "Mpps", mpps))
        out.append(fig(base + ".gbps", "Gbps", gbps,
                       round(gbps / ceil[(c, op, size)][0], 3)
                       if ceil[(c, op, size)][0] > 0 else None))
        out.append(fig(base + ".cycles_per_pkt", "cycles/pkt", cpp))
    return out + figs, ceil


def order_key(k):
    """Known ciphers, ops and sizes in the order of the issue; others after."""
    c, op, size = k
    return (CIPHERS.index(c) if c in CIPHERS else len(CIPHERS), c,
            OPS.index(op) if op in OPS else len(OPS), op, size)


def bk(be):
    return (BACKENDS.index(be) if be in BACKENDS else len(BACKENDS), be)


def fastpath_figures(objs, ceil, errors):
    """fastpath-bench's first-table lines {name: "fastpath", cipher, dir,
    size, mpps, gbps, cycles_per_pkt, ceiling_gbps, ratio_to_ceiling} as
    figures, the ratio recomputed against section 1's ceiling so the whole
    table has one; lines that already are figures as they are."""
    out = []
    for o in objs:
        if o.get("name") != "fastpath" and "value" in o and "name" in o:
            out.append(o)
            continue
        try:
            c, d, size = o["cipher"], o["dir"], int(o["size"])
            mpps, gbps = float(o["mpps"]), float(o["gbps"])
            cpp = float(o["cycles_per_pkt"])
        except (KeyError, ValueError, TypeError):
            errors.append("fastpath-bench: a line of unknown shape: %s"
                          % json.dumps(o)[:120])
            continue
        c_gbps = ceil.get((c, DIR_OP.get(d), size), (None, None))[0]
        base = "fastpath.%s.%s.%d" % (c, d, size)
        out.append(fig(base + ".mpps", "Mpps", mpps))
        out.append(fig(base + ".gbps", "Gbps", gbps,
                       round(gbps / c_gbps, 3) if c_gbps else None))
        out.append(fig(base + ".cycles_per_pkt", "cycles/pkt", cpp))
    return out


def generic_figures(objs, prog, errors):
    out = []
    for o in objs:
        if "name" in o and "value" in o and "unit" in o:
            out.append(o)
        else:
            errors.append("%s: a line of unknown shape: %s"
                          % (PROG_NAME[prog], json.dumps(o)[:120]))
    return out


def clean(o):
    """Exactly the four keys, in the documented order."""
    return fig(str(o["name"]), str(o.get("unit", "")), o.get("value"),
               o.get("ratio"))


def expected(sections):
    """Every figure name each selected section promises (issue 9)."""
    want = {}
    if 1 in sections:
        want[1] = ["crypto.ceiling.%s.%s.%d" % (c, op, s)
                   for c in CIPHERS for op in OPS for s in SIZES]
        want[1] += ["crypto.%s.%s.%d.%s.%s" % (c, op, s, be, f)
                    for c in CIPHERS for op in OPS for s in SIZES
                    for be in BACKENDS for f in ("mpps", "gbps", "cycles_per_pkt")]
    if 2 in sections:
        want[2] = ["fastpath.%s.%s.%d.%s" % (c, d, s, f)
                   for c in CIPHERS for d in DIRS for s in SIZES
                   for f in ("mpps", "gbps", "cycles_per_pkt")]
    if 3 in sections:
        want[3] = ["e2e.%s.%s" % (k, t) for k in E2E_THROUGHPUT for t in TUNNELS]
    if 4 in sections:
        want[4] = ["e2e.%s.%s" % (k, t) for k in E2E_PING for t in TUNNELS]
    if 5 in sections:
        want[5] = ["fastpath.%s.%s.%d.peers%d%s" % (c, d, s, n, m)
                   for c in CIPHERS for d in DIRS for s in SCALE_SIZES
                   for n in SCALE_PEERS for m in ("", ".mpps")]
        want[5] += ["fastpath.%s.peers%d.heap_per_peer" % (c, n)
                    for c in CIPHERS for n in SCALE_PEERS if n > 1]
    return want


# ---- formatting --------------------------------------------------------

def num(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if unit in ("pps", "bytes", "us", "cycles/pkt") and abs(v) >= 100:
        return "%.0f" % v
    if unit in ("cycles/pkt",):
        return "%.1f" % v
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    return "%.3f" % v


def ratio_txt(r):
    return "-" if r is None else "%.2f" % r


def table(head, rows, left=(0,), indent="  "):
    """Columns padded to their widest cell: the columns in left (text) to
    the left, the others (numbers) to the right."""
    rows = [tuple(str(c) for c in r) for r in rows]
    w = [max(len(r[i]) for r in [tuple(head)] + rows) for i in range(len(head))]
    lines = []
    for r in [tuple(head)] + rows:
        lines.append(indent + "  ".join(
            r[i].ljust(w[i]) if i in left else r[i].rjust(w[i])
            for i in range(len(r))).rstrip())
    return lines


def generic_rows(figs):
    return table(("figure", "value", "unit", "ratio"),
                 [(f["name"], num(f["value"], f["unit"]), f["unit"],
                   ratio_txt(f["ratio"])) for f in figs], left=(0, 2))


def compare_rows(figs, before):
    rows = []
    for f in figs:
        b = before.get(f["name"])
        v = f["value"]
        if isinstance(b, (int, float)) and isinstance(v, (int, float)) and b:
            ch = "%+.1f%%" % (100.0 * (v - b) / abs(b))
        elif b is None:
            ch = "new"
        else:
            ch = "-"
        rows.append((f["name"], num(v, f["unit"]), f["unit"],
                     ratio_txt(f["ratio"]), num(b, f["unit"]), ch))
    return table(("figure", "value", "unit", "ratio", "before", "change"),
                 rows, left=(0, 2))


def crypto_table(figs, ceil):
    by = {f["name"]: f for f in figs}
    backends = sorted({n.split(".")[4] for n in by
                       if n.startswith("crypto.") and not n.startswith("crypto.ceiling.")
                       and n.endswith(".gbps") and len(n.split(".")) == 6},
                      key=bk)
    rows, used = [], set()
    for c, op, s in sorted(ceil, key=order_key):
        g, be = ceil[(c, op, s)]
        cells = []
        for b in backends:
            f = by.get("crypto.%s.%s.%d.%s.gbps" % (c, op, s, b))
            cells.append(num(f["value"]) if f else "-")
        best = "crypto.%s.%s.%d.%s." % (c, op, s, be)
        mpps = by.get(best + "mpps", {}).get("value")
        cpp = by.get(best + "cycles_per_pkt", {}).get("value")
        rows.append((c, op, s, *cells, num(g), num(mpps), num(cpp, "cycles/pkt"), be))
        used.add("crypto.ceiling.%s.%s.%d" % (c, op, s))
        for b in backends:
            for k in ("mpps", "gbps", "cycles_per_pkt"):
                used.add("crypto.%s.%s.%d.%s.%s" % (c, op, s, b, k))
    head = (("cipher", "op", "size") + tuple(b + " Gbps" for b in backends)
            + ("ceiling Gbps", "Mpps", "cycles/pkt", "best back end"))
    return table(head, rows, left=(0, 1, len(head) - 1)), used


def fastpath_table(figs, ceil):
    by = {f["name"]: f for f in figs}
    keys = []
    for n in by:
        m = re.match(r"^fastpath\.([^.]+)\.(egress|ingress)\.(\d+)\.gbps$", n)
        if m:
            keys.append((m.group(1), m.group(2), int(m.group(3))))
    keys.sort(key=lambda k: (order_key((k[0], DIR_OP[k[1]], k[2]))[:2], k[2],
                             DIRS.index(k[1])))
    rows, used = [], set()
    for c, d, s in keys:
        base = "fastpath.%s.%s.%d." % (c, d, s)
        g = by[base + "gbps"]
        cg = ceil.get((c, DIR_OP[d], s))
        rows.append((c, d, s, num(by.get(base + "mpps", {}).get("value")),
                     num(g["value"]),
                     num(by.get(base + "cycles_per_pkt", {}).get("value"), "cycles/pkt"),
                     num(cg[0]) if cg else "-", ratio_txt(g["ratio"])))
        used.update(base + k for k in ("mpps", "gbps", "cycles_per_pkt"))
    return table(("cipher", "dir", "size", "Mpps", "Gbps", "cycles/pkt",
                  "ceiling Gbps", "ratio"), rows, left=(0, 1)), used


def e2e_table(figs):
    by = {}
    for f in figs:
        m = RE_E2E.match(f["name"])
        if m:
            by.setdefault(m.group("k"), {})[m.group("t")] = f
    rows, used = [], set()
    for k, v in by.items():
        b, w = v.get("bauxite"), v.get("wireguard-go")
        unit = (b or w)["unit"]
        rows.append((k, unit, num(b["value"], unit) if b else "-",
                     num(w["value"], unit) if w else "-",
                     ratio_txt(b["ratio"]) if b else "-"))
        used.update(f["name"] for f in v.values())
    return table(("figure", "unit", "bauxite", "wireguard-go", "bauxite/wg"),
                 rows, left=(0, 1)), used


def scale_table(figs):
    cyc, mpps, heap, peers = {}, {}, {}, set()
    for f in figs:
        m = RE_SCALE.match(f["name"])
        if m:
            k = (m.group("c"), m.group("d"), int(m.group("s")))
            n = int(m.group("n"))
            peers.add(n)
            (mpps if m.group("mpps") else cyc).setdefault(k, {})[n] = f
            continue
        m = RE_HEAP.match(f["name"])
        if m:
            heap.setdefault(m.group("c"), {})[int(m.group("n"))] = f
    peers = sorted(peers)
    keys = sorted(set(cyc) | set(mpps),
                  key=lambda k: (order_key((k[0], DIR_OP.get(k[1], k[1]), k[2]))[:2],
                                 k[2], DIRS.index(k[1]) if k[1] in DIRS else 9))
    rows, used = [], set()
    for k in keys:
        cells = []
        for n in peers:
            f, g = cyc.get(k, {}).get(n), mpps.get(k, {}).get(n)
            cells += [num(f["value"], "cycles/pkt") if f else "-",
                      num(g["value"]) if g else "-",
                      ratio_txt(f["ratio"]) if f else "-"]
            used.update(x["name"] for x in (f, g) if x)
        rows.append(k + tuple(cells))
    head = ("cipher", "dir", "size")
    for n in peers:
        head += ("%d peer%s cyc/pkt" % (n, "" if n == 1 else "s"), "Mpps", "ratio")
    lines = table(head, rows, left=(0, 1)) if rows else []
    for c in sorted(heap, key=lambda c: CIPHERS.index(c) if c in CIPHERS else 9):
        lines.append("  %s: DPDK heap per peer and node: %s" % (c, ", ".join(
            "%s B with %d peers" % (num(heap[c][n]["value"], "bytes"), n)
            for n in sorted(heap[c]))))
        used.update(f["name"] for f in heap[c].values())
    return lines, used


# ---- the run -----------------------------------------------------------

def context(d, key):
    """The lines e2e.sh prints above its table: placement, cipher, the
    wireguard-go version."""
    path = os.path.join(d, key + ".out")
    if not os.path.exists(path):
        return []
    lines = []
    for line in open(path):
        if line.startswith("figure"):
            break
        if line.lstrip().startswith(("bauxite:", "wireguard-go:")):
            lines.append(line.rstrip())
    return lines


def header(args, by):
    rev = "?"
    try:
        rev = subprocess.run(["git", "-c", "safe.directory=" + args.top, "-C", args.top,
                              "describe", "--always", "--dirty"],
                             capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    # The benches measure the TSC against CLOCK_MONOTONIC and print
    # Mpps = TSC Hz / cycles per packet: their lines carry its rate.
    hz = sorted(f["value"] * c["value"] * 1e6 for f in by.values()
                if f["name"].endswith(".mpps") and isinstance(f["value"], (int, float))
                for c in [by.get(f["name"][:-5] + ".cycles_per_pkt")]
                if c and isinstance(c["value"], (int, float)))
    tsc = "TSC %.2f GHz (measured by the benches)" % (hz[len(hz) // 2] / 1e9) if hz \
        else "TSC unknown"
    mode = {"quick": "quick (--quick)", "smoke": "smoke (--smoke: every figure, "
            "too short to mean anything)", "full": "full run"}[args.mode]
    return "perf/run: %s, rev %s, %s (%d CPUs), %s; %s" % (
        args.date, rev, cpu, os.cpu_count() or 0, tsc, mode)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--sections", required=True)
    ap.add_argument("--mode", choices=("quick", "smoke", "full"), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--compare")
    ap.add_argument("--compare-name", help="what to call --compare's file")
    ap.add_argument("--date", default="?")
    ap.add_argument("--top", default=".")
    args = ap.parse_args()
    only = set(args.sections.split(","))
    sections = [s for s in SECTIONS if SECTION_ONLY[s] in only]

    status = {}
    with open(os.path.join(args.dir, "status")) as f:
        for line in f:
            key, rc, secs, cmd = line.rstrip("\n").split(" ", 3)
            status[key] = (int(rc), float(secs), cmd)

    errors, failures = [], []
    prog_state = {}  # key -> None (ran) or a text: skipped/failed and why
    for key, (rc, secs, cmd) in status.items():
        err_path = os.path.join(args.dir, key + ".err")
        err = open(err_path).read() if os.path.exists(err_path) else ""
        if rc == 0:
            prog_state[key] = None
        elif rc == SKIP:
            why = re.findall(r"SKIP: (.*)", err)
            prog_state[key] = "skipped: %s" % (why[-1] if why else "exit 77")
        elif rc == NOT_BUILT and err.startswith("not built: "):
            prog_state[key] = "FAILED: %s" % err.strip()
            failures.append("%s: %s" % (PROG_NAME[key], err.strip()))
        else:
            tail = [l for l in err.splitlines() if l.strip()][-5:]
            prog_state[key] = "FAILED: %s exited %d" % (PROG_NAME[key], rc)
            failures.append("%s exited %d (%s)%s" % (
                PROG_NAME[key], rc, cmd,
                "".join("\n    " + l for l in tail)))

    figs, ceil = [], {}
    if "crypto" in status:
        f, ceil = crypto_figures(read_lines(os.path.join(args.dir, "crypto.out"),
                                            "crypto", errors), errors)
        figs += [(1, x) for x in f]
    if "fastpath" in status:
        f = fastpath_figures(read_lines(os.path.join(args.dir, "fastpath.out"),
                                        "fastpath", errors), ceil, errors)
        figs += [(section_of(x["name"], "fastpath"), x) for x in f]
    if "e2e" in status:
        f = generic_figures(read_lines(os.path.join(args.dir, "e2e.json"), "e2e",
                                       errors), "e2e", errors)
        figs += [(section_of(x["name"], "e2e"), x) for x in f]

    # Only the sections asked for (fastpath-bench always measures both of
    # its tables); a name measured twice keeps the first.
    per, seen = {s: [] for s in SECTIONS}, set()
    for s, x in figs:
        x = clean(x)
        if s not in sections:
            continue
        if x["name"] in seen:
            errors.append("%s printed twice; the first is kept" % x["name"])
            continue
        seen.add(x["name"])
        per[s].append(x)

    missing = []
    for s, names in expected(sections).items():
        prog = SECTION_PROG[s]
        if prog_state.get(prog) is not None:
            continue  # skipped or failed: said so already
        for n in names:
            if n not in seen:
                missing.append("%s: %s printed no %s" % (SECTIONS[s], PROG_NAME[prog], n))

    before = None
    if args.compare:
        with open(args.compare) as f:
            text = f.read()
        try:
            data = json.loads(text)
            data = data if isinstance(data, list) else [data]
        except ValueError:
            data = [json.loads(l) for l in text.splitlines() if l.strip().startswith("{")]
        before = {o["name"]: o.get("value") for o in data if isinstance(o, dict) and "name" in o}

    titles = {
        1: "1. Crypto ceiling: one core's AEAD throughput per back end "
           "(crypto-bench; 16-byte AAD, burst 32); ceiling = the best back end",
        2: "2. Fast path: one worker lcore, run to completion, net_ring ports "
           "(fastpath-bench); ratio = Gbps / ceiling of 1 (egress: seal, ingress: open)",
        3: "3. End to end: iperf3 A -> B in two namespaces, through bauxite0 "
           "between two bauxite-app and through wireguard-go (perf/e2e.sh)",
        4: "4. Critical-lane latency: ping A -> B, 100/s, idle and under iperf3 "
           "TCP (4 streams) (perf/e2e.sh); RTT in us",
        5: "5. Scale: N peers per node, packet g to peer g mod N (fastpath-bench); "
           "ratio = cycles/pkt with 1 peer (interleaved rounds) / with N",
    }
    out = [header(args, {x["name"]: x for s in per for x in per[s]})]
    for s in sections:
        out.append("")
        prog = SECTION_PROG[s]
        rc, secs, cmd = status.get(prog, (None, 0.0, "?"))
        out.append(titles[s])
        # The command as one would type it again: paths from the top.
        cmd = cmd.replace(args.dir + "/", "").replace(args.top + "/", "")
        if rc != NOT_BUILT:
            out.append("  [%s: %.1f s]" % (cmd, secs))
        if s == 3:
            # e2e.sh's own lines saying how each tunnel was set up.
            out += ["  " + l.strip() for l in context(args.dir, "e2e")]
        if prog_state.get(prog) is not None and not per[s]:
            out.append("  %s" % prog_state[prog])
            continue
        if prog_state.get(prog) is not None:
            out.append("  %s (figures below are what it printed)" % prog_state[prog])
        if before is not None:
            out += compare_rows(per[s], before)
            continue
        used = set()
        if s == 1:
            lines, used = crypto_table(per[s], ceil)
        elif s == 2:
            lines, used = fastpath_table(per[s], ceil)
        elif s in (3, 4):
            lines, used = e2e_table(per[s])
        else:
            lines, used = scale_table(per[s])
        out += lines
        rest = [x for x in per[s] if x["name"] not in used]
        if rest:
            out.append("  more figures:" if lines else "")
            out += generic_rows(rest)
    if before is not None:
        # Figures of sections this run left out (--only) are not news.
        def prog_of(n):
            return n.split(".")[0] if n.split(".")[0] in ("crypto", "e2e") else "fastpath"
        gone = sorted(n for n in set(before) - seen
                      if section_of(n, prog_of(n)) in sections)
        if gone:
            out.append("")
            out.append("In %s but not in this run: %s"
                       % (args.compare_name or args.compare, ", ".join(gone)))
    print("\n".join(l for l in out))

    result = [x for s in sections for x in per[s]]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        # One object a line: two runs diff line by line.
        f.write("[\n" + ",\n".join(json.dumps(x) for x in result) + "\n]\n")
    os.replace(tmp, args.out)

    for e in errors:
        print("perf/run: warning: %s" % e, file=sys.stderr)
    bad = failures + missing
    for b in bad:
        print("perf/run: FAIL: %s" % b, file=sys.stderr)
    print("perf/run: %d figures in %s%s" % (
        len(result), args.out, "; %d failures" % len(bad) if bad else ""),
        file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
