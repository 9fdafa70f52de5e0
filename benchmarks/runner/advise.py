#!/usr/bin/env python3
"""Records a program once, replays it against hakmem's presets and its peers, and recommends one.

  benchmarks/runner/advise.py [--runs N] [--presets a,b,...] [--out DIR] -- program args...

1. Builds what it needs: the release preset's library, recorder and replayer, and the library of
   every preset named (default: release, minimal, no-lru, no-page-arena, tc-unified).
2. Records the program under the C library's allocator (libhakmem-trace.so, HAKMEM_TRACE) into
   DIR/program.trace and prints what the trace holds (hak-trace).
3. Replays the trace with run.py --trace: every preset and peer once per round, N rounds, the
   release preset also with a short and a long purge delay; ratios within rounds with their 95%
   intervals, and charts.
4. Ranks them by time and by the replay's peak resident memory above the trace's own tables,
   recommends the preset for speed and for memory, and prints the counters of the recommended
   preset (HAKMEM_STATS) that explain what the program asks of an allocator.

Writes everything to DIR (default build/advise). Python 3 standard library only.
"""

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as R  # noqa: E402  (the comparison runner: within-round ratios and their intervals)

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_PRESETS = "release,minimal,no-lru,no-page-arena,tc-unified"
OPTION_VARIANTS = [("purge-10ms", "HAKMEM_PURGE_DELAY_MS=10"), ("purge-1s", "HAKMEM_PURGE_DELAY_MS=1000")]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sh(cmd, **kw):
    log("advise: " + " ".join(cmd))
    subprocess.run(cmd, check=True, cwd=REPO, **kw)


def preset_library(preset):
    name = "libhakmem.so" if preset == "release" else f"libhakmem-{preset}.so"
    return os.path.join(REPO, "build", preset, "frontends", "api", name)


def build(presets):
    for p in presets:
        if not os.path.isdir(os.path.join(REPO, "build", p)):
            sh(["cmake", "--preset", p], stdout=subprocess.DEVNULL)
        targets = ["hakmem"] + (["hakmem_trace", "hak_replay", "hak_trace_tool"] if p == "release" else [])
        sh(["cmake", "--build", "--preset", p, "-j2", "--target"] + targets, stdout=subprocess.DEVNULL)
        if not os.path.exists(preset_library(p)):
            sys.exit(f"advise: preset {p} built no {preset_library(p)}")


def record(program, out):
    trace = os.path.join(out, "program.trace")
    tools = os.path.join(REPO, "build", "release", "tools", "trace")
    env = dict(os.environ, HAKMEM_TRACE=trace, LD_PRELOAD=os.path.join(tools, "libhakmem-trace.so"))
    log("advise: recording " + " ".join(program))
    r = subprocess.run(program, env=env)
    if r.returncode != 0:
        log(f"advise: the program exited with status {r.returncode}; the trace is used as it is")
    s = subprocess.run([os.path.join(tools, "hak-trace"), trace], capture_output=True, text=True)
    if s.returncode != 0:
        sys.exit("advise: " + s.stderr.strip())
    print(s.stdout)
    return trace


def read_runs(out):
    """runs.csv as run.py's records, with each run's peak above the trace's tables (heap_kb)."""
    records = []
    with open(os.path.join(out, "runs.csv")) as f:
        for row in csv.DictReader(f):
            rec = {"case": row["case"], "allocator": row["allocator"], "run": int(row["run"]),
                   "ok": row["ok"] in ("True", "1", "true")}
            for k in ("ops_per_sec", "peak_rss_kb", "trace_kb"):
                try:
                    rec[k] = float(row[k])
                except (KeyError, ValueError):
                    pass
            if "peak_rss_kb" in rec and "trace_kb" in rec:
                rec["heap_kb"] = rec["peak_rss_kb"] - rec["trace_kb"]
            records.append(rec)
    return records


def rank(records, names):
    """Rows (name, events/s, heap MiB, time ratio to release, its interval, memory ratio, interval),
    ranked by time; ratios within rounds, to the release preset ('hakmem')."""
    case = records[0]["case"]
    rows = []
    for n in names:
        ops = [r["ops_per_sec"] for r in records if r["allocator"] == n and r["ok"] and "ops_per_sec" in r]
        heap = [r["heap_kb"] for r in records if r["allocator"] == n and r["ok"] and "heap_kb" in r]
        if not ops or not heap:
            continue
        t = R.paired_ratios(records, case, n, "hakmem", "ops_per_sec")
        m = R.paired_ratios(records, case, n, "hakmem", "heap_kb")
        rows.append((n, statistics.median(ops), statistics.median(heap) / 1024, t, m))
    rows.sort(key=lambda r: -r[1])
    print("\nRanked by time (the replay's events per second; higher is better); ratios to the release")
    print("preset within each round, with the 95% interval of their median")
    print(f"  {'':>2}  {'allocator':<14} {'events/s':>12}  {'time vs release':<22} {'peak MiB':>9}  "
          f"{'memory vs release':<22}")
    for i, (n, ops, heap, t, m) in enumerate(rows):
        print(f"  {i + 1:>2}  {n:<14} {ops:>12,.0f}  {R.fmt_paired(t):<22} {heap:>9.1f}  {R.fmt_paired(m):<22}")
    print("\n(peak MiB: the replay's peak resident memory above the trace's own tables; time vs release > 1 "
          "is faster, memory vs release < 1 is smaller)")
    return rows


def clearly(ratios, better):
    """Whether the whole 95% interval of the median ratio lies on the better side of 1."""
    if len(ratios) < 3:
        return False
    lo, hi = R.median_interval(ratios)
    return lo > 1.0 if better == "above" else hi < 1.0


def explain(lib, trace, extra_env):
    env = dict(os.environ, LD_PRELOAD=lib, HAKMEM_STATS="json", **extra_env)
    r = subprocess.run([os.path.join(REPO, "build", "release", "tools", "trace", "hak-replay"), trace],
                       env=env, capture_output=True, text=True)
    try:
        st = json.loads(r.stderr[r.stderr.index("{"):])
    except ValueError:
        return ["(no HAKMEM_STATS output)"]
    out = []
    allocs = sum(st.get(k, {}).get("allocs", 0) for k in ("tiny", "mid", "large")) + st.get("huge", {}).get("allocs", 0)
    refills = sum(st.get(k, {}).get("refills", 0) for k in ("tiny", "mid", "large"))
    remote = sum(st.get(k, {}).get("remote_blocks", 0) for k in ("tiny", "mid", "large"))
    if allocs:
        out.append(f"thread caches served {100 - 100 * refills / allocs:.1f}% of {allocs:,} allocations "
                   "without a refill")
        huge = st.get("huge", {}).get("allocs", 0)
        out.append(f"huge blocks (each its own mapping): {huge:,} ({100 * huge / allocs:.2f}% of allocations)")
        out.append(f"blocks sent back to another thread's slabs: {remote:,}"
                   + (" (the program frees across threads)" if remote else " (no cross-thread frees)"))
    lru = st.get("lru", {})
    if lru.get("inserted"):
        out.append(f"lru hits {100 * lru['hits'] / lru['inserted']:.0f}% of {lru['inserted']} empty segments")
    else:
        out.append("lru: no segment ever became empty (this program never frees whole segments: "
                   "no-lru costs nothing here)")
    pa = st.get("page_arena", {})
    takes = pa.get("hot_hits", 0) + pa.get("warm_hits", 0) + pa.get("misses", 0) + pa.get("smaller_hits", 0)
    if takes:
        out.append(f"page_arena: {100 * (takes - pa.get('misses', 0)) / takes:.0f}% of {takes} huge "
                   "allocations reused freed mappings")
    dep = st.get("batch_depot", {})
    if dep.get("puts"):
        out.append(f"batch depots: {dep['puts']:,} batches passed between threads' caches")
    mem = st.get("memory", {})
    if mem:
        out.append(f"at exit: {mem.get('mapped', 0) / 2**20:.1f} MiB mapped, "
                   f"{mem.get('committed', 0) / 2**20:.1f} MiB committed")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="rounds of replays (default 5)")
    ap.add_argument("--presets", default=DEFAULT_PRESETS, help=f"hakmem presets (default {DEFAULT_PRESETS})")
    ap.add_argument("--out", default=os.path.join(REPO, "build", "advise"), help="output directory")
    ap.add_argument("program", nargs=argparse.REMAINDER, help="-- program args...")
    a = ap.parse_args()
    program = a.program[1:] if a.program[:1] == ["--"] else a.program
    if not program:
        ap.error("no program: advise.py [options] -- program args...")
    presets = [p.strip() for p in a.presets.split(",") if p.strip()]
    if "release" not in presets:
        presets.insert(0, "release")
    os.makedirs(a.out, exist_ok=True)
    build(presets)
    trace = record(program, a.out)

    variants = [f"{p}={preset_library(p)}" for p in presets if p != "release"]
    variants += [f"{n}={preset_library('release')},{opt}" for n, opt in OPTION_VARIANTS]
    cmd = [sys.executable, os.path.join(REPO, "benchmarks", "runner", "run.py"), "--trace", trace,
           "--runs", str(a.runs), "--out", a.out]
    for v in variants:
        cmd += ["--variant", v]
    sh(cmd)

    records = read_runs(a.out)
    hak = ["hakmem"] + [v.split("=", 1)[0] for v in variants]
    names = hak + sorted({r["allocator"] for r in records} - set(hak))
    rows = rank(records, names)
    ours = [r for r in rows if r[0] in hak]
    label = {"hakmem": "release"}
    # Another preset is recommended only when it beats release beyond the noise of these rounds.
    faster = [r for r in ours if r[0] != "hakmem" and clearly(r[3], "above")]
    smaller = [r for r in ours if r[0] != "hakmem" and clearly(r[4], "below")]
    fast = max(faster, key=lambda r: r[1]) if faster else next(r for r in ours if r[0] == "hakmem")
    small = min(smaller, key=lambda r: r[2]) if smaller else next(r for r in ours if r[0] == "hakmem")
    why = " (no other preset was faster beyond the noise of these rounds)" if not faster else ""
    print(f"\nRecommended for speed:  {label.get(fast[0], fast[0])}, {fast[1]:,.0f} events/s{why}")
    why = " (no other preset was smaller beyond the noise)" if not smaller else ""
    print(f"Recommended for memory: {label.get(small[0], small[0])}, {small[2]:.1f} MiB above the trace{why}")
    peers = [r for r in rows if r[0] not in hak]
    if peers:
        bp = max(peers, key=lambda r: r[1])
        print(f"Fastest peer: {bp[0]}, {bp[1]:,.0f} events/s (release is {R.fmt_paired([1 / x for x in bp[3]])} "
              "its speed)")
    for n, opt in OPTION_VARIANTS:
        r = next((x for x in rows if x[0] == n), None)
        if r and clearly(r[3], "above"):
            print(f"Option: {opt} made release faster here: {R.fmt_paired(r[3])}")
        if r and clearly(r[4], "below"):
            print(f"Option: {opt} made release smaller here: {R.fmt_paired(r[4])}")
    chosen = fast[0]
    lib, env = preset_library("release"), {}
    if chosen in dict(OPTION_VARIANTS):
        k, v = dict(OPTION_VARIANTS)[chosen].split("=", 1)
        env[k] = v
    elif chosen != "hakmem":
        lib = preset_library(chosen)
    print(f"\nWhat the program asks of an allocator ({label.get(chosen, chosen)}'s counters):")
    for line in explain(lib, trace, env):
        print("  - " + line)
    charts = [c for c in ("throughput_ratio.png", "peak_rss.png") if os.path.exists(os.path.join(a.out, c))]
    print("\nReport: " + os.path.join(a.out, "report.md"))
    if charts:
        print("Charts: " + ", ".join(os.path.join(a.out, c) for c in charts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
