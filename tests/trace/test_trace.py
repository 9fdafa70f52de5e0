#!/usr/bin/env python3
"""Recording, reading and replaying traces: a program whose allocations are known is recorded under
hakmem and under the C library's allocator, and hak-trace must count its calls; a fork child
records nothing; python3 records and reads back; a cut or damaged trace is refused with a clear
message; hak-replay runs the traces under the C library, hakmem and every peer installed, with
as many events as the trace and the same live bytes at the end.

  test_trace.py --recorder libhakmem-trace.so --hakmem libhakmem.so --hak-trace hak-trace
                --hak-replay hak-replay --sample trace_sample
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

# The sample's own calls (trace_sample.c); the C library may add a few of its own (thread start,
# stdio), so counts may exceed these by SLACK.
EXPECT = {"malloc": 1001, "free": 1081, "realloc": 100, "calloc": 50, "aligned": 30}
SLACK = 20
CROSS_THREAD_FREES = 500

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def record(args, preload, cmd, path, extra_env=None):
    env = dict(os.environ, HAKMEM_TRACE=path, LD_PRELOAD=" ".join(preload), **(extra_env or {}))
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"{' '.join(cmd)} ran under {' '.join(os.path.basename(p) for p in preload)}"
          + (f" (rc {r.returncode}: {r.stderr.strip()[:200]})" if r.returncode else ""))


def summary(args, path):
    r = subprocess.run([args.hak_trace, path], capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def counts(text):
    ops = {}
    for m in re.finditer(r"^  (\S+)\s+(\d+)$", text, re.M):
        ops[m.group(1)] = int(m.group(2))
    return ops


def check_sample(args, preload, tmp, label, fork=False):
    path = os.path.join(tmp, f"sample-{label}.trace")
    record(args, preload, [args.sample] + (["fork"] if fork else []), path)
    rc, out, err = summary(args, path)
    check(rc == 0, f"{label}: hak-trace reads the trace" + (f" ({err.strip()})" if rc else ""))
    if rc:
        return path
    ops = counts(out)
    for op, n in EXPECT.items():
        got = ops.get(op, 0)
        check(n <= got <= n + SLACK, f"{label}: {op} counted {got}, the program made {n}")
    m = re.search(r"frees of another thread's block: (\d+)", out)
    cross = int(m.group(1)) if m else -1
    check(CROSS_THREAD_FREES <= cross <= CROSS_THREAD_FREES + SLACK,
          f"{label}: {cross} frees of another thread's block, the program made {CROSS_THREAD_FREES}")
    return path


PEERS = ["/usr/lib/x86_64-linux-gnu/libmimalloc.so.2", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
         "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"]


def check_replays(args, path, label):
    rc, out, err = summary(args, path)
    if rc:
        return
    events = int(re.search(r"^events: (\d+)", out, re.M).group(1))
    live = int(re.search(r"at the end (\d+)", out).group(1))
    for lib in [None, args.hakmem] + [p for p in PEERS if os.path.exists(p)]:
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        if lib:
            env["LD_PRELOAD"] = lib
        name = os.path.basename(lib) if lib else "glibc"
        r = subprocess.run([args.hak_replay, path], env=env, capture_output=True, text=True, timeout=300)
        m = re.search(r"^RESULT .*\bops=(\d+).*\blive_bytes=(\d+)", r.stdout, re.M)
        ok = r.returncode == 0 and m and int(m.group(1)) == events and int(m.group(2)) == live
        check(bool(ok), f"{label} replays under {name}: {m.group(1) if m else '?'} events of {events}, "
                        f"{m.group(2) if m else '?'} bytes live at the end of {live}"
                        + (f" ({r.stderr.strip()[:200]})" if r.returncode else ""))
    r = subprocess.run([args.hak_replay, args.sample], capture_output=True, text=True, timeout=60)
    check(r.returncode != 0 and "not a hakmem trace" in r.stderr,
          f"hak-replay refuses a file that is no trace ({r.stderr.strip()})")


def check_refused(args, tmp, good):
    data = open(good, "rb").read()
    cut = os.path.join(tmp, "cut.trace")
    open(cut, "wb").write(data[: len(data) // 2])
    rc, out, err = summary(args, cut)
    check(rc == 1 and "truncated" in err, f"a trace cut in half is refused as truncated ({err.strip()})")
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0x5A
    damaged = os.path.join(tmp, "damaged.trace")
    open(damaged, "wb").write(bytes(bad))
    rc, out, err = summary(args, damaged)
    check(rc == 1 and "damaged" in err, f"a trace with one byte changed is refused as damaged ({err.strip()})")
    rc, out, err = summary(args, args.sample)  # not a trace at all
    check(rc == 1 and "not a hakmem trace" in err, f"a file that is no trace is refused ({err.strip()})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--recorder", required=True)
    ap.add_argument("--hakmem", required=True)
    ap.add_argument("--hak-trace", required=True)
    ap.add_argument("--hak-replay", required=True)
    ap.add_argument("--sample", required=True)
    ap.add_argument("--threaded", help="a threaded program and its arguments, comma-separated")
    ap.add_argument("--sqlite3", help="sqlite3, to record building a table (--sql: its script)")
    ap.add_argument("--sql")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hak-trace-test-")
    try:
        good = check_sample(args, [args.recorder, args.hakmem], tmp, "hakmem")
        check_sample(args, [args.recorder], tmp, "glibc")
        check_sample(args, [args.recorder, args.hakmem], tmp, "fork", fork=True)
        check_refused(args, tmp, good)
        check_replays(args, good, "the sample's trace")
        py = shutil.which("python3")
        if py:
            path = os.path.join(tmp, "python.trace")
            # PYTHONMALLOC=malloc: every object from malloc, not from Python's own small-object
            # arenas (what an allocator study of Python wants to see).
            record(args, [args.recorder, args.hakmem],
                   [py, "-c", "import json; d = [dict(a=i, b=str(i)) for i in range(20000)]; "
                              "print(len(json.dumps(d)))"], path, {"PYTHONMALLOC": "malloc"})
            rc, out, err = summary(args, path)
            events = int(re.search(r"^events: (\d+)", out, re.M).group(1)) if rc == 0 else 0
            check(rc == 0 and events > 40000, f"python3's trace reads back ({events} events) {err.strip()}")
            check_replays(args, path, "python3's trace")
        if args.threaded:
            path = os.path.join(tmp, "threaded.trace")
            record(args, [args.recorder, args.hakmem], args.threaded.split(","), path)
            check_replays(args, path, "a threaded program's trace")
        if args.sqlite3 and args.sql:
            path = os.path.join(tmp, "sqlite3.trace")
            env = dict(os.environ, HAKMEM_TRACE=path, LD_PRELOAD=f"{args.recorder} {args.hakmem}")
            with open(args.sql) as sql:
                r = subprocess.run([args.sqlite3, ":memory:"], stdin=sql, env=env, capture_output=True,
                                   text=True, timeout=120)
            check(r.returncode == 0, f"sqlite3 ran recorded ({r.stderr.strip()[:200]})")
            check_replays(args, path, "sqlite3's trace")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
