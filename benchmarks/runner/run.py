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
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import (MEDIAN_FIELDS, NOISY_PCT, RUN_FIELDS, build_tables, compute_medians,  # noqa: E402,F401
                    finish_report, fmt_mib, fmt_ops, fmt_paired, fmt_ratio, gnuplot_charts, log,
                    md_table, median_interval, noisy, paired_ratios, ratio, text_table, write_csvs)
from workload_cases import CASES, select_cases, trace_case  # noqa: E402,F401

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

PEERS = {
    # name: (Debian package, soname)
    "mimalloc": ("libmimalloc2.0", "libmimalloc.so.2"),
    "jemalloc": ("libjemalloc2", "libjemalloc.so.2"),
    "tcmalloc": ("libtcmalloc-minimal4", "libtcmalloc_minimal.so.4"),
}
DEFAULT_ALLOCATORS = ["hakmem", "glibc", "mimalloc", "jemalloc", "tcmalloc"]


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


# ---------------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------------

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
