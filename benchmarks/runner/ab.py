#!/usr/bin/env python3
"""A/B runner: the same workloads against several hakmem presets, interleaved, with ratios to a baseline.

  benchmarks/runner/ab.py --presets release,minimal,tc-unified --baseline minimal
                          --workloads random_mixed_tiny,remote_ring_90 --runs 5 [--quick | --full] [--build]

Each preset's build is build/<preset>; its library is the `hakmem_shared` entry of
build/<preset>/bench/manifest.json (for example libhakmem-minimal.so). The workload programs are not
linked to hakmem, so one copy serves every preset: the baseline's build's (--workloads-from to pick
another). Every round runs each preset once, in an order rotated by one each round, and every run is
checked to have been served by its preset's library (the workload's ALLOCATOR line and the
HAKMEM_STATS=1 counters showing allocations). Prints a table of medians and each preset's ratio to the
baseline, and writes runs.csv, medians.csv, ratios.csv and report.md to build/ab/ (--out).
Workload names are those of run.py (see --list). Python 3 standard library only.
"""

import argparse
import csv
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as R  # noqa: E402  (the comparison runner: workloads, running, verification, medians)

REPO = R.REPO
PROG = "ab.py"


def log(msg=""):
    print(msg, file=sys.stderr, flush=True)


def die(msg):
    log(f"{PROG}: error: " + msg)
    sys.exit(2)


def configure_presets():
    """{name: displayName} of the visible configure presets of CMakePresets.json (empty if unreadable)."""
    try:
        with open(os.path.join(REPO, "CMakePresets.json")) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return {p["name"]: p.get("displayName", "") for p in data.get("configurePresets", [])
            if not p.get("hidden")}


class Preset(R.Allocator):
    """A hakmem preset as an allocator column: its library is preloaded, HAKMEM_STATS=1 is set."""

    def __init__(self, name, lib, manifest, extra_env):
        super().__init__(name, lib, "hakmem")
        self.manifest = manifest
        self.extra_env = extra_env

    def env(self):
        env = super().env()  # drops inherited LD_PRELOAD and HAKMEM_*, sets LD_PRELOAD and HAKMEM_STATS=1
        env.update(self.extra_env)
        return env


def build_presets(presets, jobs):
    for p in presets:
        steps = [["cmake", "--preset", p], ["cmake", "--build", "--preset", p]]
        if jobs:
            steps[1] += ["-j", str(jobs)]
        for cmd in steps:
            log(f"{PROG}: $ {' '.join(cmd)}")
            t0 = time.monotonic()
            # The build's output goes to stderr, so stdout carries only the results.
            rc = subprocess.run(cmd, cwd=REPO, stdout=sys.stderr, stderr=sys.stderr).returncode
            if rc != 0:
                die(f"'{' '.join(cmd)}' failed (exit status {rc})")
            log(f"{PROG}: done in {time.monotonic() - t0:.0f} s")


def geomean(xs):
    xs = [x for x in xs if x is not None and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def build_tables(cases, presets, baseline, med, records):
    """[(title, header, rows, note)]: throughput (median ops/s and ratios to the baseline), per-round
    paired ratios, and resident memory."""
    names = [p.name for p in presets]
    others = [n for n in names if n != baseline]
    star = lambda c, n, k: "*" if R.noisy(med, c, n, k) else ""  # noqa: E731
    tables = []

    thr = [c for c in cases if c["kind"] == "throughput"]
    if thr:
        header = ["workload"] + [f"{n} ops/s" for n in names] + [f"{n}/{baseline}" for n in others]
        rows, ratios = [], {n: [] for n in others}
        for c in thr:
            vals = {n: med.get((c["name"], n), {}).get("ops_per_sec") for n in names}
            row = [c["name"]] + [R.fmt_ops(vals[n]) + star(c["name"], n, "ops_per_sec") for n in names]
            for n in others:
                r = R.ratio(vals[n], vals[baseline])
                ratios[n].append(r)
                row.append(R.fmt_ratio(r))
            rows.append(row)
        if len(thr) > 1 and others:
            rows.append(["geomean"] + [""] * len(names) + [R.fmt_ratio(geomean(ratios[n])) for n in others])
        tables.append(("Throughput (median ops/s)", header, rows,
                       f"preset/{baseline} > 1 means the preset is faster than the baseline. * = runs differ by "
                       f"more than {R.NOISY_PCT:.0f}% of the median: rerun with more --runs on a quieter machine."))

        if others:
            header = ["workload"] + [f"{n}/{baseline} per round" for n in others]
            rows = []
            for c in thr:
                row = [c["name"]]
                for n in others:
                    pr = R.paired_ratios(records, c["name"], n, baseline, "ops_per_sec")
                    row.append(R.fmt_paired(pr))
                rows.append(row)
            tables.append(("Throughput ratio of the runs of the same round (median [95% interval])", header, rows,
                           "each round runs every preset back to back, so a ratio within a round is less "
                           "exposed to slow drifts of the machine than a ratio of medians."))

    header = ["workload"] + [f"{n} MiB" for n in names] + [f"{n}/{baseline}" for n in others]
    rows = []
    for c in cases:
        metrics = [("peak_rss_kb", "peak")]
        if c["kind"] == "memory":
            metrics.append(("rss_after_free_kb", "1 s after free"))
        for key, label in metrics:
            vals = {n: med.get((c["name"], n), {}).get(key) for n in names}
            rows.append([f"{c['name']} ({label})"] + [R.fmt_mib(vals[n]) + star(c["name"], n, key) for n in names]
                        + [R.fmt_ratio(R.ratio(vals[n], vals[baseline])) for n in others])
    tables.append(("Resident memory (median MiB, whole process)", header, rows,
                   f"lower is better: preset/{baseline} < 1 means the preset uses less memory."))
    return tables


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="workloads:\n" + "\n".join(f"  {c['name']:<24} {c['desc']}" for c in R.CASES))
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small sizes, 3 runs by default (default mode)")
    mode.add_argument("--full", action="store_true", help="bigger sizes, 5 runs by default")
    ap.add_argument("--presets", help="comma-separated preset names, e.g. release,minimal,tc-unified")
    ap.add_argument("--baseline", help="the preset the others are divided by (default: the first of --presets)")
    ap.add_argument("--workloads", help="comma-separated workload (case) or program names (default: all of the mode)")
    ap.add_argument("--runs", type=int, help="runs per preset and workload (default 3 quick, 5 full)")
    ap.add_argument("--build", action="store_true",
                    help="first run 'cmake --preset P' and 'cmake --build --preset P' for every preset")
    ap.add_argument("--jobs", "-j", type=int, help="parallel build jobs with --build (default: the generator's)")
    ap.add_argument("--workloads-from", metavar="PRESET",
                    help="the preset whose workload binaries are run (default: the baseline)")
    ap.add_argument("--env", action="append", default=[], metavar="HAKMEM_X=V",
                    help="an environment variable for every run (repeatable); HAKMEM_STATS is always 1")
    ap.add_argument("--out", help="output directory (default: build/ab)")
    ap.add_argument("--timeout", type=float, help="seconds per run (default 120 quick, 600 full)")
    ap.add_argument("--list", action="store_true", help="list the workloads and the configure presets, and exit")
    a = ap.parse_args()

    full = a.full
    mode_name = "full" if full else "quick"
    known = configure_presets()
    if a.list:
        print("workloads:")
        for c in R.CASES:
            print(f"  {c['name']:<24} quick: {c['quick'] or '-':<28} full: {c['full'] or '-':<28} {c['desc']}")
        print("presets (CMakePresets.json; built = build/<preset>/bench/manifest.json exists):")
        for n, d in known.items():
            built = "built" if os.path.exists(os.path.join(REPO, "build", n, "bench", "manifest.json")) else "-"
            print(f"  {n:<16} {built:<6} {d}")
        return 0
    if not a.presets:
        die("--presets is required (for example --presets release,minimal --baseline minimal); see --list")
    names = [p.strip() for p in a.presets.split(",") if p.strip()]
    if len(set(names)) != len(names):
        die("a preset is listed twice in --presets")
    for n in names:
        if not re.match(r"^[A-Za-z0-9_.-]+$", n):
            die(f"'{n}' is not a preset name")
        if known and n not in known:
            die(f"no configure preset '{n}' in CMakePresets.json (known: {', '.join(known)})")
    baseline = a.baseline or names[0]
    if baseline not in names:
        die(f"--baseline {baseline} is not one of --presets ({', '.join(names)})")
    src = a.workloads_from or baseline
    runs = a.runs or (5 if full else 3)
    timeout = a.timeout or (600 if full else 120)
    if runs < 1:
        die("--runs must be at least 1")
    extra_env = {}
    for e in a.env:
        k, sep, v = e.partition("=")
        if not sep or not k:
            die(f"--env wants NAME=VALUE, got '{e}'")
        if k in ("LD_PRELOAD", "HAKMEM_STATS"):
            die(f"--env {k}: ab.py sets it itself (the preset's library, and the counters that prove it served the run)")
        extra_env[k] = v
    try:
        cases = R.select_cases(a.workloads, full)
    except ValueError as e:
        die(str(e))

    if a.build:
        build_presets(names + ([src] if src not in names else []), a.jobs)

    # Presets: the library each one built, from its manifest.
    presets = []
    manifests = {}
    for n in names + ([src] if src not in names else []):
        bdir = os.path.join(REPO, "build", n)
        m = R.read_manifest(bdir)
        if m is None:
            die(f"{bdir}/bench/manifest.json not found: build the preset (cmake --preset {n} && "
                f"cmake --build --preset {n}) or pass --build")
        manifests[n] = m
    for n in names:
        m = manifests[n]
        lib = m.get("hakmem_shared")
        if not lib or not os.path.exists(lib):
            die(f"preset {n}: the library of its manifest ({lib or 'no hakmem_shared entry'}) does not exist; "
                f"rebuild it (cmake --build --preset {n})")
        if str(m.get("override", "ON")).upper() in ("OFF", "0", "FALSE", "NO"):
            die(f"preset {n} is configured with HAKMEM_OVERRIDE=OFF: its library does not replace malloc")
        presets.append(Preset(n, os.path.realpath(lib), m, extra_env))
    libs = [p.lib for p in presets]
    if len(set(libs)) != len(libs):
        die("two presets name the same library: " + ", ".join(f"{p.name}={p.lib}" for p in presets))

    # Workload binaries: from one build (the baseline's unless --workloads-from), else any other.
    exes = {}
    order = [src] + [n for n in names if n != src]
    for c in cases:
        for n in order:
            exe = manifests[n].get("workloads", {}).get(c["prog"])
            if exe and os.access(exe, os.X_OK):
                if n != src:
                    log(f"{PROG}: workload '{c['prog']}' is not built in build/{src}; using build/{n}'s")
                exes[c["prog"]] = exe
                break
        else:
            die(f"workload '{c['prog']}' is not built in any of build/{{{','.join(order)}}}")
    if str(manifests[src].get("build_type", "")).lower() == "debug":
        log(f"{PROG}: note: build/{src} is a Debug build, so the workload programs themselves are not "
            "optimised and the ratios are compressed; --workloads-from <an optimised preset> avoids it")

    outdir = os.path.realpath(a.out or os.path.join(REPO, "build", "ab"))
    logdir = os.path.join(outdir, "logs")
    os.makedirs(logdir, exist_ok=True)
    libc = R.native_libc_path()

    log(f"{PROG}: {mode_name} mode, {len(cases)} workloads x {len(presets)} presets x {runs} runs, "
        f"baseline {baseline} -> {outdir}")
    for p in presets:
        log(f"  {p.name:<14} {p.lib}  ({p.manifest.get('build_type', '?')})")
    log(f"  workloads from build/{src}" + (f"; env {extra_env}" if extra_env else ""))

    # Run: for each workload, round i runs every preset once, starting one further along each round.
    records = []
    total = len(cases) * len(presets) * runs
    done = 0
    t_start = time.monotonic()
    for c in cases:
        args = c["full" if full else "quick"]
        for i in range(runs):
            k = i % len(presets)
            for pos, p in enumerate(presets[k:] + presets[:k]):
                done += 1
                tag = f"{c['name']}.{p.name}.{i + 1}"
                rec = R.run_one(c, args, p, exes[c["prog"]], timeout, logdir, tag, libc)
                rec["run"] = i + 1
                rec["position"] = pos + 1
                records.append(rec)
                elapsed = time.monotonic() - t_start
                eta = elapsed / done * (total - done)
                log(f"[{done:>4}/{total}] {c['name']:<24} {p.name:<14} run {i + 1}/{runs}  "
                    f"{R.describe_run(c, p, rec)}  ({rec['wall_seconds']:.1f} s, eta {eta:.0f} s)")

    med, med_rows = R.compute_medians(cases, presets, records)
    tables = build_tables(cases, presets, baseline, med, records)
    failures = [r for r in records if not r["ok"]]

    # CSV: the run records with the preset in a 'preset' column, medians, and ratios to the baseline.
    run_fields = ["preset" if f == "allocator" else f for f in R.RUN_FIELDS]
    run_fields.insert(run_fields.index("run") + 1, "position")
    with open(os.path.join(outdir, "runs.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=run_fields, extrasaction="ignore")
        w.writeheader()
        for r in records:
            w.writerow(dict(r, preset=r["allocator"]))
    with open(os.path.join(outdir, "medians.csv"), "w", newline="") as f:
        fields = ["preset" if x == "allocator" else x for x in R.MEDIAN_FIELDS]
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in med_rows:
            w.writerow(dict(r, preset=r["allocator"]))
    with open(os.path.join(outdir, "ratios.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "preset", "baseline", "metric", "ratio_of_medians", "paired_median",
                    "paired_min", "paired_max", "rounds"])
        for c in cases:
            keys = ["ops_per_sec", "peak_rss_kb"] if c["kind"] == "throughput" else ["peak_rss_kb", "rss_after_free_kb"]
            for p in presets:
                if p.name == baseline:
                    continue
                for key in keys:
                    r = R.ratio(med.get((c["name"], p.name), {}).get(key), med.get((c["name"], baseline), {}).get(key))
                    pr = R.paired_ratios(records, c["name"], p.name, baseline, key)
                    w.writerow([c["name"], p.name, baseline, key, "" if r is None else f"{r:.4f}",
                                f"{statistics.median(pr):.4f}" if pr else "", f"{min(pr):.4f}" if pr else "",
                                f"{max(pr):.4f}" if pr else "", len(pr)])

    # Console
    print()
    print(f"hakmem A/B, {mode_name} mode, median of {runs} runs, baseline {baseline}")
    for title, header, rows, note in tables:
        print()
        print(title + " - " + note)
        print(R.text_table(header, rows))
    if failures:
        print()
        print(f"{len(failures)} run(s) FAILED:")
        for r in failures:
            print(f"  {r['case']} {r['allocator']} run {r['run']}: {r['error']}")

    # Markdown
    info = R.machine_info(presets)
    md = [f"# hakmem A/B report ({mode_name} mode, baseline `{baseline}`)", ""]
    md += [f"- {k}: {v}" for k, v in info.items()]
    md += [f"- runs: {runs} per preset and workload; every round runs each preset once, the order rotated "
           "by one preset each round; figures are medians",
           "- every run was checked to be served by its preset's library (the `ALLOCATOR` line each workload "
           "prints, and `HAKMEM_STATS=1` counters showing allocations)",
           f"- workload programs from `build/{src}`" + (f"; environment {extra_env}" if extra_env else ""), ""]
    md += ["## Presets", "", R.md_table(["preset", "build type", "library", "description"],
                                        [[p.name, p.manifest.get("build_type", "?"), f"`{p.lib}`", known.get(p.name, "")]
                                         for p in presets], numeric=False), ""]
    for title, header, rows, note in tables:
        md += [f"## {title}", "", note[0].upper() + note[1:], "", R.md_table(header, rows), ""]
    R.finish_report(md, outdir, cases, full, failures,
                    "`runs.csv` (every run, with its position in its round), `medians.csv` (median, min, "
                    "max, spread), `ratios.csv` (ratios to the baseline)",
                    ["runs.csv", "medians.csv", "ratios.csv"], [], t_start)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
