#!/usr/bin/env python3
"""Runs hakmem's benchmark workloads under hakmem and its peers and compares them.

Every workload is an ordinary program calling the C library's malloc family; an allocator serves it
through LD_PRELOAD (glibc: no preload). Allocators are interleaved within each round, every run is
checked to have been served by the allocator it is filed under, and medians are compared as ratios.

  benchmarks/runner/run.py [--quick | --full] [--workloads a,b] [--allocators x,y] [--runs N]
                           [--variant NAME=path/to/libhakmem-variant.so[,HAKMEM_X=V...] ...]

Writes runs.csv, medians.csv, report.md and PNG charts (if gnuplot is installed) to
<build-dir>/bench/ (default build/release/bench/). Python 3 standard library only.
"""

import argparse
import csv
import datetime
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# ---------------------------------------------------------------------------------------------------
# The cases: one workload program with its arguments for quick and full mode. kind "throughput"
# compares ops_per_sec (higher is better); kind "memory" compares resident memory (lower is better).
# Every case also reports peak_rss_kb.
# ---------------------------------------------------------------------------------------------------

CASES = [
    # name, program, quick args, full args (None: not in that mode), kind, description
    dict(name="random_mixed_tiny", prog="random_mixed", kind="throughput",
         quick="4M 4096 16 1040 42", full="20M 4096 16 1040 42",
         desc="1 thread, random churn, 16-1040 B, working set 4096"),
    dict(name="random_mixed_tiny_ws400", prog="random_mixed", kind="throughput",
         quick="4M 400 16 1040 42", full="20M 400 16 1040 42",
         desc="1 thread, random churn, 16-1040 B, working set 400"),
    dict(name="random_mixed_mid", prog="random_mixed", kind="throughput",
         quick="1M 4096 16 32K 42", full="10M 4096 16 32K 42",
         desc="1 thread, random churn, 16 B-32 KiB, working set 4096"),
    dict(name="random_mixed_large", prog="random_mixed", kind="throughput",
         quick="150K 256 32K 2M 42", full="1M 256 32K 2M 42",
         desc="1 thread, random churn, 32 KiB-2 MiB, working set 256"),
    dict(name="random_mixed_huge", prog="random_mixed", kind="throughput",
         quick="100K 16 2M 8M 42", full="500K 16 2M 8M 42",
         desc="1 thread, random churn, 2-8 MiB blocks (each its own mapping), working set 16"),
    dict(name="big_buffers", prog="big_buffers", kind="throughput",
         quick="60 20 5M 25M 42", full="500 20 5M 25M 42",
         desc="20 live buffers of 5-25 MiB, each step replaces one and zero-fills the new one"),
    dict(name="mt_private_tiny", prog="mid_large_mt", kind="throughput",
         quick="2 3M 4096 42 16 1024", full="4 5M 4096 42 16 1024",
         desc="T threads, private random churn, 16-1024 B"),
    dict(name="mid_large_mt", prog="mid_large_mt", kind="throughput",
         quick="2 500K 2048 42", full="4 2M 2048 42",
         desc="T threads, private random churn, 8-32 KiB, working set 2048"),
    dict(name="remote_pc", prog="remote", kind="throughput",
         quick="pc 1 500K 42", full="pc 2 2M 42",
         desc="producer/consumer pairs, every block freed by the other thread, 16-1024 B"),
    dict(name="remote_ring_0", prog="remote", kind="throughput",
         quick=None, full="ring 4 0 5M 4096 42",
         desc="ring of T threads, 0% of frees sent to the next thread, 16-1024 B"),
    dict(name="remote_ring_50", prog="remote", kind="throughput",
         quick="ring 2 50 500K 4096 42", full="ring 4 50 5M 4096 42",
         desc="ring of T threads, 50% of frees sent to the next thread, 16-1024 B"),
    dict(name="remote_ring_90", prog="remote", kind="throughput",
         quick="ring 2 90 500K 4096 42", full="ring 4 90 5M 4096 42",
         desc="ring of T threads, 90% of frees sent to the next thread, 16-1024 B"),
    dict(name="larson", prog="larson", kind="throughput",
         quick="2 400 2000 2000 8 1000 42", full="4 500 5000 5000 8 1000 42",
         desc="Larson server simulation, 8-1000 B, arrays change threads every round"),
    dict(name="threads", prog="threads", kind="throughput",
         quick="2000 8 100 42", full="5000 16 200 42",
         desc="short-lived threads (waves), 16-4096 B, one block left to the next wave"),
    dict(name="realloc_chain", prog="api_mix", kind="throughput",
         quick="realloc 5K 64K 42", full="realloc 50K 256K 42",
         desc="realloc growth chains 16 B -> 64/256 KiB"),
    dict(name="aligned", prog="api_mix", kind="throughput",
         quick="aligned 500K 4096 42", full="aligned 5M 4096 42",
         desc="posix_memalign/aligned_alloc/memalign churn, 16 B-8 KiB at 16 B-4 KiB"),
    dict(name="cxx_new_delete", prog="pair_cxx", kind="throughput",
         quick="32 20M", full="32 100M",
         desc="C++ operator new + sized delete of a 32 B block, in a loop"),
    dict(name="cxx_map", prog="cxx_map", kind="throughput",
         quick="2M 10K 42", full="10M 10K 42",
         desc="C++ unordered_map<uint32_t, string> insert/erase churn over 10K keys, 16-512 B strings"),
    dict(name="batch_queue", prog="batch_queue", kind="throughput",
         quick="2 2 500 4096 64 100", full="2 2 2000 4096 64 100",
         desc="2 producers, 2 consumers: batches of 4096 x 64 B through a locked queue of <= 100 batches"),
    dict(name="cache_thrash", prog="cache_thrash", kind="throughput",
         quick="active 2 1000 1 1M", full="active 2 1000 1 4M",
         desc="2 threads: malloc 1 B, write it 500K times, free; slow if their blocks share a line"),
    dict(name="cache_scratch", prog="cache_thrash", kind="throughput",
         quick="passive 2 1000 8 1M", full="passive 2 1000 8 4M",
         desc="as cache_thrash, 8 B, each thread first frees a block the main thread allocated"),
    dict(name="migrate", prog="migrate", kind="throughput",
         quick="20 4 100K 42", full="50 4 100K 42",
         desc="small program: rounds of 4 new threads, objects kept and swapped through a shared table"),
    dict(name="small_sets", prog="small_sets", kind="throughput",
         quick="2 500K 42", full="4 2M 42",
         desc="small program: T threads, 1,024 live blocks each of 4 B-32 KiB (inverse square), all written"),
    dict(name="generations", prog="generations", kind="throughput",
         quick="40 8 4M 42", full="300 8 10M 42",
         mem_rows=[("end_rss_kb", "at the end"), ("rss_after_free_kb", "1 s after free")],
         desc="generations of 8 threads, 16 B-5 KiB, each frees half and leaves half to the next"),
    dict(name="memory_tiny16", prog="memory", kind="memory",
         quick="tiny16 1M", full="tiny16 1M",
         desc="1M x 16 B (15.6 MB of data + 7.8 MB pointer array), then free all and wait 1 s"),
    dict(name="memory_mixed", prog="memory", kind="memory",
         quick="mixed 50K", full="mixed 200K",
         desc="16 B-16 KiB log-uniform heap, half freed, then all freed and wait 1 s"),
]

PEERS = {
    # name: (Debian package, soname)
    "mimalloc": ("libmimalloc2.0", "libmimalloc.so.2"),
    "jemalloc": ("libjemalloc2", "libjemalloc.so.2"),
    "tcmalloc": ("libtcmalloc-minimal4", "libtcmalloc_minimal.so.4"),
}
DEFAULT_ALLOCATORS = ["hakmem", "glibc", "mimalloc", "jemalloc", "tcmalloc"]


def log(msg=""):
    print(msg, file=sys.stderr, flush=True)


def die(msg):
    log("run.py: error: " + msg)
    sys.exit(2)


# ---------------------------------------------------------------------------------------------------
# Finding the allocators
# ---------------------------------------------------------------------------------------------------

def native_libc_path():
    """The libc.so.6 this machine's native processes map (read from our own /proc/self/maps)."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                base = os.path.basename(path)
                if base.startswith("libc.so") or re.match(r"libc-[0-9.]+\.so$", base):
                    return os.path.realpath(path)
    except OSError:
        pass
    return None


def find_peer(name):
    pkg, soname = PEERS[name]
    candidates = []
    try:
        arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                              check=True).stdout.strip()
        out = subprocess.run(["dpkg", "-L", f"{pkg}:{arch}"], capture_output=True, text=True)
        if out.returncode != 0:
            out = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True)
        candidates += [l.strip() for l in out.stdout.splitlines() if os.path.basename(l.strip()) == soname]
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True)
        for line in out.stdout.splitlines():
            m = re.match(r"\s*(\S+)\s.*=>\s*(\S+)$", line)
            if m and m.group(1) == soname:
                candidates.append(m.group(2))
    except OSError:
        pass
    libc = native_libc_path()
    libdir = os.path.realpath(os.path.dirname(libc)) if libc else None
    existing = [c for c in candidates if os.path.exists(c)]
    for c in existing:  # prefer the copy in the native library directory
        if libdir and os.path.realpath(os.path.dirname(c)) == libdir:
            return c
    return existing[0] if existing else None


def read_manifest(build_dir):
    path = os.path.join(build_dir, "bench", "manifest.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


class Allocator:
    def __init__(self, name, lib, kind, extra_env=None):
        self.name = name  # column name
        self.lib = lib    # path to preload, or None for glibc
        self.kind = kind  # "hakmem" (hakmem or a variant: checked by its counters), "glibc", "peer"
        self.extra_env = extra_env or {}  # a variant's own environment (HAKMEM_* options, a peer's)

    def env(self):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        for k in list(env):
            if k.startswith("HAKMEM_"):
                del env[k]
        if self.lib:
            env["LD_PRELOAD"] = self.lib
        if self.kind == "hakmem":
            env["HAKMEM_STATS"] = "1"
        env.update(self.extra_env)
        return env


# ---------------------------------------------------------------------------------------------------
# Running and verifying
# ---------------------------------------------------------------------------------------------------

RESULT_RE = re.compile(r"^RESULT\s+(.*)$")
STATS_RE = re.compile(r"^hakmem:\s+(\S+)\s+(.*)$")


def parse_kv(text):
    out = {}
    for tok in text.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            try:
                out[k] = float(v) if ("." in v or "e" in v) else int(v)
            except ValueError:
                out[k] = v
    return out


def hakmem_allocs(stderr):
    """Sum of allocs=N over HAKMEM_STATS=1 lines ('hakmem: tiny allocs=N frees=N ...')."""
    total, lines = 0, 0
    for line in stderr.splitlines():
        m = STATS_RE.match(line.strip())
        if not m:
            continue
        kv = parse_kv(m.group(2))
        if isinstance(kv.get("allocs"), int):
            total += kv["allocs"]
            lines += 1
    return total, lines


def verify(alloc, stdout, stderr, libc):
    """Returns (ok, message, served_by, allocs)."""
    served = None
    for line in stdout.splitlines():
        if line.startswith("ALLOCATOR "):
            served = line[len("ALLOCATOR "):].strip()
    if not served:
        return False, "no ALLOCATOR line in the output", None, None
    real = os.path.realpath(served)
    allocs = None
    if alloc.kind == "glibc":
        base = os.path.basename(real)
        if not (base.startswith("libc.so") or re.match(r"libc-[0-9.]+\.so$", base)) or \
                (libc and real != libc):
            return False, f"malloc came from {served}, not the C library", served, None
    else:
        if real != os.path.realpath(alloc.lib):
            return False, f"malloc came from {served}, not {alloc.lib}", served, None
    if alloc.kind == "hakmem":
        allocs, lines = hakmem_allocs(stderr)
        if lines == 0:
            return False, "no 'hakmem: ... allocs=N' line on stderr (HAKMEM_STATS=1)", served, None
        if allocs <= 0:
            return False, "hakmem counters show no allocations", served, allocs
    return True, "", served, allocs


def run_one(case, args, alloc, exe, timeout, logdir, tag, libc):
    cmd = [exe] + args.split()
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, env=alloc.env(), capture_output=True, text=True, timeout=timeout)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = None, e.stdout or "", e.stderr or ""
        if isinstance(out, bytes):
            out = out.decode(errors="replace")
        if isinstance(err, bytes):
            err = err.decode(errors="replace")
    wall = time.monotonic() - t0
    if logdir:
        with open(os.path.join(logdir, tag + ".out"), "w") as f:
            f.write(out)
        with open(os.path.join(logdir, tag + ".err"), "w") as f:
            f.write(err)
    rec = dict(case=case["name"], program=case["prog"], args=args, allocator=alloc.name,
               wall_seconds=round(wall, 3), ok=False, error="", served_by="", hakmem_allocs="")
    if rc is None:
        rec["error"] = f"timed out after {timeout} s"
        return rec
    if rc != 0:
        last = (err.strip().splitlines() or ["(no stderr)"])[-1]
        rec["error"] = f"exit status {rc}: {last}"[:300]
        return rec
    result = None
    for line in out.splitlines():
        m = RESULT_RE.match(line)
        if m:
            result = parse_kv(m.group(1))
    if result is None:
        rec["error"] = "no RESULT line"
        return rec
    ok, msg, served, allocs = verify(alloc, out, err, libc)
    rec.update(served_by=served or "", hakmem_allocs="" if allocs is None else allocs)
    for k, v in result.items():
        if k != "name":
            rec[k] = v
    if not ok:
        rec["error"] = "wrong allocator: " + msg
        return rec
    rec["ok"] = True
    return rec


# ---------------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------------

def fmt_ops(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e3:
        return f"{v / 1e3:.1f}K"
    return f"{v:.0f}"


def fmt_mib(kb):
    return "-" if kb is None else f"{kb / 1024:.1f}"


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x"


def text_table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(h).ljust(w) if i == 0 else str(h).rjust(w)
                       for i, (h, w) in enumerate(zip(header, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(str(x).ljust(w) if i == 0 else str(x).rjust(w)
                               for i, (x, w) in enumerate(zip(r, widths))))
    return "\n".join(lines)


def md_table(header, rows, numeric=True):
    align = ["---"] + (["---:"] if numeric else ["---"]) * (len(header) - 1)
    out = ["| " + " | ".join(map(str, header)) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(out)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


NOISY_PCT = 30.0


def paired_ratios(records, case, a, b, key):
    """a/b of the same round, for every round where both runs succeeded."""
    by_round = {}
    for r in records:
        if r["case"] == case and r["ok"] and isinstance(r.get(key), (int, float)):
            by_round.setdefault(r["run"], {})[r["allocator"]] = r[key]
    return [d[a] / d[b] for d in by_round.values() if a in d and b in d and d[b]]


def median_interval(values, conf=0.95):
    """A distribution-free interval for the median of the population `values` were drawn from: the
    order statistics x(k) and x(n+1-k) with the largest k whose coverage (a binomial count with
    p = 1/2 falling in [k, n-k]) is at least conf; the whole range when even that covers less
    (fewer than 6 values for 95%).

    >>> median_interval([5, 1, 4, 2, 3])
    (1, 5)
    >>> median_interval(range(1, 12))   # 11 values: x(2)..x(10) covers 98.8%, x(3)..x(9) 93.5%
    (2, 10)
    >>> median_interval(range(1, 22))   # 21 values: x(6)..x(16) covers 97.3%
    (6, 16)
    """
    xs = sorted(values)
    n = len(xs)
    k = 1
    while k < (n + 1) // 2:
        outside = 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
        if 1 - outside < conf:
            break
        k += 1
    return xs[k - 1], xs[n - k]


def fmt_paired(pr):
    """The median of within-round ratios and its 95% interval: '0.96x [0.90-1.03]'.

    >>> fmt_paired([1.0, 1.1, 0.9, 1.2, 0.8, 1.05, 0.95])
    '1.00x [0.80-1.20]'
    >>> fmt_paired([])
    '-'
    """
    if not pr:
        return "-"
    lo, hi = median_interval(pr)
    return f"{statistics.median(pr):.2f}x [{lo:.2f}-{hi:.2f}]"


def noisy(med, case, alloc, key):
    return med.get((case, alloc), {}).get(key + ":spread", 0.0) > NOISY_PCT


def build_tables(cases, allocs, med, records):
    """Returns [(title, header, rows, note)] for throughput (medians, then ratios within rounds) and
    memory. A figure whose runs differ by more than NOISY_PCT percent of the median (max - min) is
    marked with '*'."""
    names = [a.name for a in allocs]
    peers = [a.name for a in allocs if a.kind != "hakmem"]
    variants = [a.name for a in allocs if a.kind == "hakmem" and a.name != "hakmem"]
    has_hak = "hakmem" in names
    tables = []

    thr = [c for c in cases if c["kind"] == "throughput"]
    if thr:
        header = ["workload"] + [f"{n} ops/s" for n in names]
        if has_hak:
            header += [f"hakmem/{p}" for p in peers] + [f"{v}/hakmem" for v in variants]
        rows = []
        for c in thr:
            vals = {n: med.get((c["name"], n), {}).get("ops_per_sec") for n in names}
            row = [c["name"]] + [fmt_ops(vals[n]) + ("*" if noisy(med, c["name"], n, "ops_per_sec") else "")
                                 for n in names]
            if has_hak:
                row += [fmt_ratio(ratio(vals["hakmem"], vals[p])) for p in peers]
                row += [fmt_ratio(ratio(vals[v], vals["hakmem"])) for v in variants]
            rows.append(row)
        tables.append(("Throughput (median ops/s)", header, rows,
                       "hakmem/peer > 1 means hakmem is faster. * = runs differ by more than "
                       f"{NOISY_PCT:.0f}% of the median: rerun with more --runs on a quieter machine."))
        if has_hak and len(names) > 1:
            header = ["workload"] + [f"hakmem/{p}" for p in peers] + [f"{v}/hakmem" for v in variants]
            pairs = [("hakmem", p) for p in peers] + [(v, "hakmem") for v in variants]
            rows = []
            for c in thr:
                row = [c["name"]]
                for a, b in pairs:
                    row.append(fmt_paired(paired_ratios(records, c["name"], a, b, "ops_per_sec")))
                rows.append(row)
            tables.append(("Throughput ratio within a round (median over the rounds [95% interval])", header,
                           rows,
                           "each round runs every allocator once, back to back: a ratio within a round is "
                           "less exposed to the machine's slow and fast phases than a ratio of medians. The "
                           "interval holds the median ratio with 95% confidence (order statistics, no "
                           "assumption about the distribution); one that contains 1.00 is no evidence either way."))

    header = ["workload"] + [f"{n} MiB" for n in names]
    if has_hak:
        header += [f"hakmem/{p}" for p in peers] + [f"{v}/hakmem" for v in variants]
    rows = []
    for c in cases:
        metrics = [("peak_rss_kb", "peak")]
        if c["kind"] == "memory":
            metrics.append(("rss_after_free_kb", "1 s after free"))
        metrics += c.get("mem_rows", [])
        for key, label in metrics:
            vals = {n: med.get((c["name"], n), {}).get(key) for n in names}
            row = [f"{c['name']} ({label})"] + [fmt_mib(vals[n]) + ("*" if noisy(med, c["name"], n, key) else "")
                                                for n in names]
            if has_hak:
                row += [fmt_ratio(ratio(vals["hakmem"], vals[p])) for p in peers]
                row += [fmt_ratio(ratio(vals[v], vals["hakmem"])) for v in variants]
            rows.append(row)
    tables.append(("Resident memory (median MiB, whole process)", header, rows,
                   "Lower is better: hakmem/peer < 1 means hakmem uses less memory. "
                   f"* = runs differ by more than {NOISY_PCT:.0f}% of the median."))
    return tables


def gnuplot_charts(outdir, cases, allocs, med):
    gp = shutil.which("gnuplot")
    if not gp:
        log("run.py: gnuplot not found; no charts (scripts/setup.sh bench installs it)")
        return []
    term_probe = subprocess.run([gp, "-e", "set terminal pngcairo"], capture_output=True, text=True)
    term = "pngcairo size 1200,600 font ',10'" if term_probe.returncode == 0 else "png size 1200,600"
    names = [a.name for a in allocs]
    peers = [a.name for a in allocs if a.kind != "hakmem"]
    charts = []

    def write_dat(path, header, rows):
        with open(path, "w") as f:
            f.write(" ".join(f'"{h}"' for h in header) + "\n")
            for r in rows:
                f.write(" ".join(str(x) for x in r) + "\n")

    def plot(script, name):
        path = os.path.join(outdir, name + ".gp")
        with open(path, "w") as f:
            f.write(script)
        p = subprocess.run([gp, path], capture_output=True, text=True, cwd=outdir)
        if p.returncode != 0:
            log(f"run.py: gnuplot failed for {name}: {p.stderr.strip()[:300]}")
            return False
        charts.append(name + ".png")
        return True

    common = (f"set terminal {term}\nset termoption noenhanced\nset style data histograms\n"
              "set style histogram clustered gap 1\nset style fill solid 0.85 border -1\n"
              "set key outside right top\nset grid ytics\nset xtics rotate by 30 right\n")

    thr = [c for c in cases if c["kind"] == "throughput"]
    if "hakmem" in names and peers and thr:
        rows = []
        for c in thr:
            h = med.get((c["name"], "hakmem"), {}).get("ops_per_sec")
            r = [ratio(h, med.get((c["name"], p), {}).get("ops_per_sec")) for p in peers]
            rows.append([c["name"]] + [f"{x:.4f}" if x is not None else "NaN" for x in r])
        write_dat(os.path.join(outdir, "throughput_ratio.dat"), ["workload"] + [f"vs {p}" for p in peers], rows)
        cols = ", ".join(f"'' using {i + 2} title columnhead" if i else
                         "'throughput_ratio.dat' using 2:xtic(1) title columnhead"
                         for i in range(len(peers)))
        plot(common + "set output 'throughput_ratio.png'\n"
             "set title 'hakmem throughput / peer throughput (median; > 1 = hakmem faster)'\n"
             # log scale: one workload at 50-90x would flatten the others' 0.9-2x to nothing
             "set ylabel 'ratio (log scale)'\nset logscale y 2\nset yrange [0.25:*]\n"
             "set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 dt 2 front\n"
             f"plot {cols}\n", "throughput_ratio")

    rows = []
    for c in cases:
        v = [med.get((c["name"], n), {}).get("peak_rss_kb") for n in names]
        rows.append([c["name"]] + [f"{x / 1024:.2f}" if x else "NaN" for x in v])
    write_dat(os.path.join(outdir, "peak_rss.dat"), ["workload"] + names, rows)
    cols = ", ".join(f"'' using {i + 2} title columnhead" if i else
                     "'peak_rss.dat' using 2:xtic(1) title columnhead" for i in range(len(names)))
    plot(common + "set output 'peak_rss.png'\n"
         "set title 'Peak resident memory per workload (median VmHWM, MiB; lower is better)'\n"
         "set ylabel 'MiB (log scale)'\nset logscale y\n"
         f"plot {cols}\n", "peak_rss")

    memc = [c for c in cases if c["kind"] == "memory"]
    if memc:
        rows = []
        for c in memc:
            for key, label in (("start_rss_kb", "start"), ("peak_rss_kb", "peak"),
                               ("rss_after_free_kb", "after_free_1s")):
                v = [med.get((c["name"], n), {}).get(key) for n in names]
                rows.append([f"{c['name']}:{label}"] + [f"{x / 1024:.2f}" if x else "NaN" for x in v])
        write_dat(os.path.join(outdir, "memory.dat"), ["phase"] + names, rows)
        cols = ", ".join(f"'' using {i + 2} title columnhead" if i else
                         "'memory.dat' using 2:xtic(1) title columnhead" for i in range(len(names)))
        plot(common + "set output 'memory.png'\n"
             "set title 'Resident memory of the memory workloads (median, MiB; lower is better)'\n"
             "set ylabel 'MiB'\nset yrange [0:*]\n"
             f"plot {cols}\n", "memory")
    return charts


def machine_info(allocs):
    info = {}
    info["date"] = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    info["kernel"] = f"{platform.system()} {platform.release()} {platform.machine()}"
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["cpu"] = f"{cpu}, {os.cpu_count()} logical CPUs"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            info["memory"] = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    try:
        info["glibc"] = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        pass
    for name, (pkg, _) in PEERS.items():
        if any(a.name == name for a in allocs):
            p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
            if p.returncode == 0:
                info[name] = f"{pkg} {p.stdout.strip()}"
    p = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"], capture_output=True, text=True)
    info["hakmem"] = p.stdout.strip() if p.returncode == 0 else "(no git revision)"
    return info


# ---------------------------------------------------------------------------------------------------
# Pieces shared with ab.py (the A/B runner over hakmem presets)
# ---------------------------------------------------------------------------------------------------

def trace_case(path):
    """The one case of --trace: hak-replay of a recorded trace. Its peak includes the trace's own
    tables (trace_kb, the same under every allocator), reported on a row of their own."""
    if not os.path.isfile(path):
        raise ValueError(f"no trace at {path}")
    path = os.path.realpath(path)
    if any(ch.isspace() for ch in path):
        raise ValueError(f"the trace's path may not contain spaces: {path}")
    name = "trace:" + os.path.basename(path)
    return dict(name=name, prog="hak-replay", kind="throughput", quick=path, full=path,
                mem_rows=[("trace_kb", "of which the trace's tables")],
                desc=f"hak-replay of {path}")


def select_cases(workloads, full):
    """The cases of the mode, or those named in the comma-separated `workloads` (case or program
    names). Raises ValueError with a message for unknown names or an empty selection."""
    mode_name = "full" if full else "quick"
    cases = [c for c in CASES if c["full" if full else "quick"]]
    if workloads:
        want = [w.strip() for w in workloads.split(",") if w.strip()]
        unknown = [w for w in want if not any(c["name"] == w or c["prog"] == w for c in CASES)]
        if unknown:
            raise ValueError(f"unknown workload(s): {', '.join(unknown)} (see --list)")
        cases = [c for c in CASES if (c["name"] in want or c["prog"] in want) and c["full" if full else "quick"]]
        if not cases:
            raise ValueError(f"no case of {', '.join(want)} runs in {mode_name} mode")
    return cases


def describe_run(case, alloc, rec):
    """One line of progress for a finished run."""
    if not rec["ok"]:
        return "FAILED: " + rec["error"]
    if case["kind"] == "throughput":
        what = f"{fmt_ops(rec.get('ops_per_sec'))} ops/s, peak {fmt_mib(rec.get('peak_rss_kb'))} MiB"
    else:
        what = (f"peak {fmt_mib(rec.get('peak_rss_kb'))} MiB, "
                f"after free {fmt_mib(rec.get('rss_after_free_kb'))} MiB")
    if alloc.kind == "hakmem":
        what += f", hakmem allocs={rec['hakmem_allocs']}"
    return what


MEDIAN_METRICS = ["ops_per_sec", "peak_rss_kb", "rss_after_free_kb", "end_rss_kb", "trace_kb", "overhead_kb",
                  "retained_kb", "start_rss_kb", "rss_half_kb", "seconds"]


def compute_medians(cases, allocs, records):
    """Returns (med, med_rows): med[(case, allocator)] = {metric: median, metric + ':spread': percent}
    over the successful runs, and one row per (case, allocator, metric) for medians.csv."""
    med = {}
    med_rows = []
    for c in cases:
        for al in allocs:
            recs = [r for r in records if r["case"] == c["name"] and r["allocator"] == al.name and r["ok"]]
            d = {}
            for m in MEDIAN_METRICS:
                vals = [r[m] for r in recs if isinstance(r.get(m), (int, float))]
                if vals:
                    d[m] = statistics.median(vals)
                    spread = (max(vals) - min(vals)) / d[m] * 100 if d[m] else 0.0
                    d[m + ":spread"] = spread
                    med_rows.append(dict(case=c["name"], allocator=al.name, metric=m, median=d[m],
                                         min=min(vals), max=max(vals), spread_pct=round(spread, 1), n=len(vals)))
            med[(c["name"], al.name)] = d
    return med, med_rows


RUN_FIELDS = ["case", "program", "args", "allocator", "run", "ok", "error", "ops_per_sec", "peak_rss_kb",
              "rss_after_free_kb", "end_rss_kb", "trace_kb", "overhead_kb", "retained_kb", "start_rss_kb",
              "seconds",
              "wall_seconds",
              "misaligned", "served_by", "hakmem_allocs"]
MEDIAN_FIELDS = ["case", "allocator", "metric", "median", "min", "max", "spread_pct", "n"]


def write_csvs(outdir, records, med_rows):
    """runs.csv (every run) and medians.csv (median, min, max, spread) in outdir."""
    with open(os.path.join(outdir, "runs.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=RUN_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in records:
            w.writerow(r)
    with open(os.path.join(outdir, "medians.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=MEDIAN_FIELDS)
        w.writeheader()
        for r in med_rows:
            w.writerow(r)


# ---------------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------------

def finish_report(md, outdir, cases, full, failures, raw_figures, csvs, charts, t_start):
    """Ends a Markdown report (workloads, failed runs, where the raw figures are), writes it to
    outdir/report.md and prints where the report, CSV files and charts are."""
    md += ["## Workloads", "", md_table(["workload", "command", "what it does"],
                                       [[c["name"], f"`{c['prog']} {c['full' if full else 'quick']}`", c["desc"]]
                                        for c in cases], numeric=False), ""]
    if failures:
        md += ["## Failed runs", ""] + [f"- {r['case']} / {r['allocator']} / run {r['run']}: {r['error']}"
                                        for r in failures] + [""]
    md += [f"Raw figures: {raw_figures}; each run's output is in `logs/`.", ""]
    with open(os.path.join(outdir, "report.md"), "w") as f:
        f.write("\n".join(md))
    print()
    print(f"Report: {os.path.join(outdir, 'report.md')}")
    print(f"CSV:    {', '.join(os.path.join(outdir, x) for x in csvs)}")
    if charts:
        print("Charts: " + ", ".join(os.path.join(outdir, c) for c in charts))
    print(f"Time:   {time.monotonic() - t_start:.0f} s")


def choose_allocators(a, manifest, build_dir, missing_peer=None):
    """The allocators named by --allocators, --hakmem and --variant. A peer that is not installed is
    fatal, or reported through missing_peer(message) and skipped when that is given."""
    names = [n.strip() for n in (a.allocators.split(",") if a.allocators else DEFAULT_ALLOCATORS) if n.strip()]
    allocs = []
    for n in names:
        if n == "hakmem":
            lib = a.hakmem or (manifest or {}).get("hakmem_shared")
            if not lib or not os.path.exists(lib):
                die(f"libhakmem.so not found ({lib or 'no manifest in ' + build_dir}); build the release preset "
                    "or pass --hakmem PATH")
            if manifest and not a.hakmem and str(manifest.get("override", "ON")).upper() in ("OFF", "0", "FALSE"):
                die(f"{build_dir} was configured with HAKMEM_OVERRIDE=OFF: its libhakmem.so does not replace malloc")
            allocs.append(Allocator("hakmem", os.path.realpath(lib), "hakmem"))
        elif n == "glibc":
            allocs.append(Allocator("glibc", None, "glibc"))
        elif n in PEERS:
            lib = find_peer(n)
            if not lib:
                msg = f"{n} not found (Debian package {PEERS[n][0]}); run scripts/setup.sh bench"
                if missing_peer is None:
                    die(msg)
                missing_peer(msg)
                continue
            allocs.append(Allocator(n, lib, "peer"))
        else:
            die(f"unknown allocator '{n}' (known: {', '.join(DEFAULT_ALLOCATORS)}; add others with --variant)")
    for v in a.variant:
        if "=" not in v:
            die(f"--variant wants NAME=PATH[,VAR=VALUE...] or NAME=PEER[,VAR=VALUE...], got '{v}'")
        vn, vp = v.split("=", 1)
        # A comma starts another VAR=VALUE: a value may hold commas (MALLOC_CONF=a:1,b:2).
        vp, *options = re.split(r",(?=[A-Za-z_][A-Za-z0-9_]*=)", vp)
        extra = dict(o.split("=", 1) for o in options if "=" in o)
        if not vn or any(x.name == vn for x in allocs) or vn in DEFAULT_ALLOCATORS:
            die(f"--variant name '{vn}' is empty or already used")
        if len(extra) != len(options):
            die(f"--variant {vn}: options after the path are VAR=VALUE, got {options}")
        if vp == "glibc" or vp in PEERS:  # a peer with an environment of its own (MALLOC_CONF=...)
            lib = find_peer(vp) if vp != "glibc" else None
            if vp != "glibc" and not lib:
                die(f"--variant {vn}: {vp} not found (Debian package {PEERS[vp][0]})")
            allocs.append(Allocator(vn, lib, "glibc" if vp == "glibc" else "peer", extra))
            continue
        if not all(k.startswith("HAKMEM_") for k in extra):
            die(f"--variant {vn}: a hakmem variant's options are HAKMEM_VAR=VALUE, got {options}")
        if not os.path.exists(vp):
            die(f"--variant {vn}: {vp} does not exist")
        allocs.append(Allocator(vn, os.path.realpath(vp), "hakmem", extra))
    if not allocs:
        die("no allocators")
    return allocs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="cases:\n" + "\n".join(f"  {c['name']:<24} {c['desc']}" for c in CASES))
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="3 runs, small sizes, about 4 minutes (default)")
    mode.add_argument("--full", action="store_true", help="5 runs, bigger sizes, every case")
    ap.add_argument("--workloads", help="comma-separated case names or program names (default: all of the mode)")
    ap.add_argument("--allocators", help="comma-separated: " + ",".join(DEFAULT_ALLOCATORS) + " (default: all)")
    ap.add_argument("--runs", type=int, help="runs per allocator and case (default 3 quick, 5 full)")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=PATH[,HAKMEM_X=V...]",
                    help="add a hakmem variant library as another column, with options of its own "
                         "(repeatable; the same library with other options is a variant too); "
                         "NAME=PEER[,VAR=V...] adds a peer (glibc, mimalloc, jemalloc, tcmalloc) "
                         "with an environment of its own, e.g. je-prof=jemalloc,MALLOC_CONF=prof:true")
    ap.add_argument("--build-dir", default=os.path.join(REPO, "build", "release"),
                    help="release build directory (default: build/release)")
    ap.add_argument("--hakmem", help="path of libhakmem.so (default: from <build-dir>/bench/manifest.json)")
    ap.add_argument("--out", help="output directory (default: <build-dir>/bench)")
    ap.add_argument("--timeout", type=float, help="seconds per run (default 120 quick, 600 full)")
    ap.add_argument("--trace", metavar="FILE",
                    help="replay a recorded trace (docs/trace.md) with hak-replay instead of the workloads")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    a = ap.parse_args()

    full = a.full
    mode_name = "full" if full else "quick"
    if a.list:
        for c in CASES:
            print(f"{c['name']:<24} {c['prog']:<13} quick: {c['quick'] or '-':<28} full: {c['full'] or '-':<28} {c['desc']}")
        return 0
    runs = a.runs or (5 if full else 3)
    timeout = a.timeout or (600 if full else 120)
    if runs < 1:
        die("--runs must be at least 1")

    # Cases
    try:
        cases = [trace_case(a.trace)] if a.trace else select_cases(a.workloads, full)
    except ValueError as e:
        die(str(e))

    # Build
    build_dir = os.path.realpath(a.build_dir)
    manifest = read_manifest(build_dir)
    outdir = os.path.realpath(a.out or os.path.join(build_dir, "bench"))
    exes = {}
    for c in cases:
        exe = (manifest or {}).get("workloads", {}).get(c["prog"]) or os.path.join(build_dir, "bench", "bin", c["prog"])
        if c["prog"] == "hak-replay":
            exe = os.path.join(build_dir, "tools", "trace", "hak-replay")
        if not os.access(exe, os.X_OK):
            die(f"workload '{c['prog']}' not built ({exe}); build the release preset: "
                "cmake --preset release && cmake --build --preset release")
        exes[c["prog"]] = exe

    allocs = choose_allocators(a, manifest, build_dir)

    libc = native_libc_path()
    os.makedirs(outdir, exist_ok=True)
    logdir = os.path.join(outdir, "logs")
    os.makedirs(logdir, exist_ok=True)

    log(f"run.py: {mode_name} mode, {len(cases)} workloads x {len(allocs)} allocators x {runs} runs -> {outdir}")
    for al in allocs:
        log(f"  {al.name:<10} {al.lib or 'no preload (' + (libc or 'libc.so.6') + ')'}")

    # Run: for each case, round i runs every allocator once, in an order rotated each round.
    records = []
    total = len(cases) * len(allocs) * runs
    done = 0
    t_start = time.monotonic()
    for c in cases:
        args = c["full" if full else "quick"]
        for i in range(runs):
            k = i % len(allocs)
            order = allocs[k:] + allocs[:k]
            for al in order:
                done += 1
                tag = f"{c['name']}.{al.name}.{i + 1}"
                rec = run_one(c, args, al, exes[c["prog"]], timeout, logdir, tag, libc)
                rec["run"] = i + 1
                records.append(rec)
                what = describe_run(c, al, rec)
                elapsed = time.monotonic() - t_start
                eta = elapsed / done * (total - done)
                log(f"[{done:>4}/{total}] {c['name']:<24} {al.name:<10} run {i + 1}/{runs}  {what}"
                    f"  ({rec['wall_seconds']:.1f} s, eta {eta:.0f} s)")

    # Medians
    med, med_rows = compute_medians(cases, allocs, records)

    # CSV
    write_csvs(outdir, records, med_rows)

    tables = build_tables(cases, allocs, med, records)
    failures = [r for r in records if not r["ok"]]
    # Results that ran but showed the allocator misbehaving (not fatal to the comparison).
    notes = []
    for c in cases:
        for al in allocs:
            bad = [r for r in records if r["case"] == c["name"] and r["allocator"] == al.name and r["ok"]
                   and isinstance(r.get("misaligned"), int) and r["misaligned"] > 0]
            if bad:
                notes.append(f"{al.name} on {c['name']}: {bad[0]['misaligned']} results not aligned as "
                             f"requested (in {len(bad)} of {runs} runs; see logs/)")

    # Console
    print()
    print(f"hakmem benchmarks, {mode_name} mode, median of {runs} runs")
    for title, header, rows, note in tables:
        print()
        print(title + " - " + note)
        print(text_table(header, rows))
    if notes:
        print()
        print("Notes:")
        for n in notes:
            print("  " + n)
    if failures:
        print()
        print(f"{len(failures)} run(s) FAILED:")
        for r in failures:
            print(f"  {r['case']} {r['allocator']} run {r['run']}: {r['error']}")

    charts = gnuplot_charts(outdir, cases, allocs, med)

    # Markdown
    info = machine_info(allocs)
    md = [f"# hakmem benchmark report ({mode_name} mode)", ""]
    md += [f"- {k}: {v}" for k, v in info.items()]
    md += [f"- runs: {runs} per allocator and workload, allocators interleaved within each round; "
           "figures are medians",
           "- every run was checked to be served by the allocator it is filed under (the `ALLOCATOR` line "
           "each workload prints, and for hakmem its `HAKMEM_STATS=1` counters)", ""]
    md += ["## Allocators", "", md_table(["name", "library"],
                                        [[al.name, f"`{al.lib}`" if al.lib else "C library (no preload)"]
                                         for al in allocs], numeric=False), ""]
    for title, header, rows, note in tables:
        md += [f"## {title}", "", note, "", md_table(header, rows), ""]
    if charts:
        md += ["## Charts", ""] + [f"![{c}]({c})" for c in charts] + [""]
    if notes:
        md += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    finish_report(md, outdir, cases, full, failures,
                  "`runs.csv` (every run), `medians.csv` (median, min, max, spread)",
                  ["runs.csv", "medians.csv"], charts, t_start)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
