#!/usr/bin/env python3
"""Counts the instructions of one malloc+free pair (or C++ new+delete pair) under hakmem and its peers.

Runs the `pair` workload (`pair <size> <pairs>`: malloc, write one byte, free, <pairs> times) under
`valgrind --tool=callgrind` with 100,000 and 200,000 pairs, each allocator preloaded the way run.py
does it, and prints a Markdown table of (I(200,000) - I(100,000)) / 100,000 per size and allocator:
start-up and exit cancel out, and the figure includes the loop itself and the two PLT jumps (about
10 instructions). Callgrind counts the same for the same binaries whatever else the machine does.
With --cxx it runs `pair_cxx` instead: `::operator new(size)`, write one byte, sized
`::operator delete`, what a C++ program's new and delete compile to (--align A: the aligned forms).

  benchmarks/runner/instructions.py [--cxx [--align A]] [--sizes 32,256,4096] [--allocators x,y]
                                    [--variant NAME=path/to/libhakmem-variant.so ...]

Needs the release build (cmake --build --preset release) and valgrind. Python 3 standard library only.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as R  # noqa: E402  (the comparison runner: allocators, manifest, verification)

PAIRS = 100000
COLLECTED_RE = re.compile(r"^==\d+==\s+Collected\s*:\s*(\d+)\s*$", re.M)


def log(msg=""):
    print(msg, file=sys.stderr, flush=True)


def die(msg):
    log("instructions.py: error: " + msg)
    sys.exit(2)


def count(valgrind, exe, alloc, size, pairs, libc, tmpdir, extra=()):
    """Total instructions of `<exe> <size> <pairs> [extra...]` under alloc, or raises RuntimeError."""
    out_file = os.path.join(tmpdir, "callgrind.out")
    cmd = [valgrind, "--tool=callgrind", "--trace-children=no", f"--callgrind-out-file={out_file}",
           exe, str(size), str(pairs), *extra]
    p = subprocess.run(cmd, env=alloc.env(), capture_output=True, text=True)
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        raise RuntimeError(f"exit status {p.returncode}: {last}")
    ok, msg, _, _ = R.verify(alloc, p.stdout, p.stderr, libc)
    if not ok:
        raise RuntimeError("wrong allocator: " + msg)
    m = COLLECTED_RE.findall(p.stderr)
    if not m:
        raise RuntimeError("no '== Collected : N' line in callgrind's output")
    return int(m[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(R.REPO, "build", "release"),
                    help="release build directory (default: build/release)")
    ap.add_argument("--allocators", help="comma-separated: " + ",".join(R.DEFAULT_ALLOCATORS) + " (default: all)")
    ap.add_argument("--sizes", default="32,256,4096", help="comma-separated block sizes in bytes (default 32,256,4096)")
    ap.add_argument("--hakmem", help="path of libhakmem.so (default: from <build-dir>/bench/manifest.json)")
    ap.add_argument("--cxx", action="store_true",
                    help="count C++ operator new + sized delete pairs (workload pair_cxx)")
    ap.add_argument("--align", type=int, help="with --cxx: the aligned forms, at this alignment")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=PATH",
                    help="add a hakmem variant library as another column (repeatable)")
    a = ap.parse_args()

    try:
        sizes = [int(s) for s in a.sizes.split(",") if s.strip()]
    except ValueError:
        die(f"--sizes wants comma-separated byte counts, got '{a.sizes}'")
    if not sizes or any(s <= 0 for s in sizes):
        die("--sizes wants positive byte counts")
    if a.align is not None and (not a.cxx or a.align <= 0 or a.align & (a.align - 1)):
        die("--align wants --cxx and a power of two")
    extra = [str(a.align)] if a.align else []
    valgrind = shutil.which("valgrind")
    if not valgrind:
        die("valgrind not found (Debian package valgrind)")

    build_dir = os.path.realpath(a.build_dir)
    manifest = R.read_manifest(build_dir)
    prog = "pair_cxx" if a.cxx else "pair"
    exe = (manifest or {}).get("workloads", {}).get(prog) or os.path.join(build_dir, "bench", "bin", prog)
    if not os.access(exe, os.X_OK):
        die(f"workload '{prog}' not built ({exe}); build the release preset: "
            "cmake --preset release && cmake --build --preset release")

    # Allocators, as run.py chooses them; a missing peer is skipped with a note instead of fatal.
    notes = []
    allocs = R.choose_allocators(a, manifest, build_dir, missing_peer=notes.append)

    libc = R.native_libc_path()
    for al in allocs:
        log(f"  {al.name:<10} {al.lib or 'no preload (' + (libc or 'libc.so.6') + ')'}")

    results = {}  # (size, allocator name) -> instructions per pair, or None
    with tempfile.TemporaryDirectory(prefix="hakmem-instructions-") as tmpdir:
        for size in sizes:
            for al in allocs:
                try:
                    lo = count(valgrind, exe, al, size, PAIRS, libc, tmpdir, extra)
                    hi = count(valgrind, exe, al, size, 2 * PAIRS, libc, tmpdir, extra)
                    per = round((hi - lo) / PAIRS)
                    results[(size, al.name)] = per
                    log(f"{size:>8} B  {al.name:<10} {per} instructions per pair ({lo} / {hi})")
                except RuntimeError as e:
                    results[(size, al.name)] = None
                    notes.append(f"{al.name} at {size} B failed: {e}")
                    log(f"{size:>8} B  {al.name:<10} FAILED: {e}")

    header = ["size"] + [al.name for al in allocs]
    rows = [[f"{s} B"] + ["-" if results[(s, al.name)] is None else str(results[(s, al.name)]) for al in allocs]
            for s in sizes]
    what = "operator new + sized delete" if a.cxx else "malloc+free"
    if a.align:
        what = f"aligned ({a.align} B) " + what
    print(f"Instructions per {what} pair (callgrind, (I({2 * PAIRS}) - I({PAIRS})) / {PAIRS}, "
          f"`{prog}` loop included)")
    print()
    print(R.md_table(header, rows))
    if notes:
        print()
        for n in notes:
            print("- " + n)
    return 1 if any(v is None for v in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
