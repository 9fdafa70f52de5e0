#!/usr/bin/env python3
"""The benchmark runner's figures: formatting, ratios within rounds and their 95% intervals,
medians, the text, Markdown and CSV tables and the gnuplot charts (run.py, ab.py and advise.py
share them). Python 3 standard library only."""

import csv
import math
import os
import shutil
import statistics
import subprocess
import sys
import time


def log(msg=""):
    print(msg, file=sys.stderr, flush=True)


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
