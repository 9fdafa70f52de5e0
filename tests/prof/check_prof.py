#!/usr/bin/env python3
"""check_prof.py LIBHAKMEM PROGRAM: runs prof_sites (PROGRAM) with LIBHAKMEM preloaded and heap
profiling on, and reads its profiles with Go's pprof (`go tool pprof`): every call site shows the
bytes it really allocated, within a tolerance; the leak report names the leaking site; a profile is
written on a signal while threads allocate; a fork child writes its own. Python standard library
only; needs Go (Debian: golang-go)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

LIB, PROGRAM = sys.argv[1], sys.argv[2]
GO = shutil.which("go")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def run(mode, tmp, **env):
    e = dict(os.environ, LD_PRELOAD=LIB, **env)
    p = subprocess.run([PROGRAM, mode, tmp], env=e, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        fail(f"{mode}: exit status {p.returncode}: {p.stderr[-1000:]}")
    return p


def top(profile, index):
    """{function: cum value} of a profile's sample type `index`, as pprof reports them."""
    if not os.path.exists(profile):
        fail(f"no profile {profile}")
        return {}
    p = subprocess.run([GO, "tool", "pprof", "-top", "-nodecount=200", "-unit=B",
                        f"-sample_index={index}", PROGRAM, profile],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        fail(f"pprof could not read {profile}: {p.stderr[-500:]}")
        return {}
    out = {}
    for line in p.stdout.splitlines():
        m = re.match(r"^\s*(\d+)B?\s+\S+%\s+\S+%\s+(\d+)B?\s+\S+%\s+(\S+)", line)
        if m:
            out[m.group(3)] = int(m.group(2))
    return out


def near(what, got, want, tolerance):
    if abs(got - want) > tolerance * want:
        fail(f"{what}: {got} bytes, expected {want} within {tolerance:.0%}")
    else:
        print(f"ok: {what}: {got} bytes (expected {want}, {100 * (got - want) / want:+.1f}%)")


def below(what, got, limit):
    if got > limit:
        fail(f"{what}: {got} bytes, expected at most {limit}")


if GO is None:
    print("FAIL: go not found: apt-get install golang-go (its pprof reads the profiles)", file=sys.stderr)
    sys.exit(1)

with tempfile.TemporaryDirectory() as tmp:
    # Call sites, in use and allocated, at a dump by the API while all is live, and at exit.
    p = run("sites", tmp, HAKMEM_PROF_SAMPLE="2048", HAKMEM_PROF_FILE=f"{tmp}/exit.prof", HAKMEM_LEAKS="1")
    mid = top(f"{tmp}/mid.prof", "inuse_space")
    near("in use at keep_a", mid.get("keep_a", 0), 10000 * 1024, 0.10)
    near("in use at keep_b", mid.get("keep_b", 0), 50000 * 96, 0.10)
    near("in use at leak", mid.get("leak", 0), 3000 * 2048, 0.10)
    below("in use at churn", mid.get("churn", 0), 50000 * 4096 // 100)
    near("allocated at churn", top(f"{tmp}/mid.prof", "alloc_space").get("churn", 0), 50000 * 4096, 0.10)
    end = top(f"{tmp}/exit.prof", "inuse_space")
    near("in use at exit at leak", end.get("leak", 0), 3000 * 2048, 0.10)
    below("in use at exit at keep_a (freed)", end.get("keep_a", 0), 10000 * 1024 // 100)
    report = p.stderr.splitlines()
    leaks = [i for i, l in enumerate(report) if l.startswith("hakmem: leak: about")]
    if not leaks or "leak+" not in report[leaks[0] + 1]:
        fail("the leak report does not name the leaking function first:\n" + p.stderr[-1500:])
    if any("keep_a+" in l for l in report):
        fail("the leak report names keep_a, whose blocks were all freed")

    # A profile on a signal while threads allocate, and the exit profile.
    run("threads", tmp, HAKMEM_PROF_SAMPLE="4096", HAKMEM_PROF_FILE=f"{tmp}/threads.prof",
        HAKMEM_PROF_SIGNAL="usr2")
    on_signal = top(f"{tmp}/threads.prof.1", "inuse_space")
    if on_signal and sum(on_signal.get(f, 0) for f in ("thread_one", "thread_two")) > 2 * 20000 * 512 * 1.1:
        fail(f"the profile on the signal shows more than was allocated: {on_signal}")
    end = top(f"{tmp}/threads.prof", "inuse_space")
    near("in use at thread_one", end.get("thread_one", 0), 20000 * 512, 0.10)
    near("in use at thread_two", end.get("thread_two", 0), 20000 * 512, 0.10)

    # A fork child writes its own profile, with what it inherited and what it allocated.
    p = run("fork", tmp, HAKMEM_PROF_SAMPLE="4096", HAKMEM_PROF_FILE=f"{tmp}/fork.prof")
    m = re.search(r"child (\d+)", p.stdout)
    if not m:
        fail("the fork test printed no child pid")
    else:
        child = top(f"{tmp}/fork.prof.{m.group(1)}", "inuse_space")
        near("in use in the child at child_site", child.get("child_site", 0), 20000 * 1024, 0.10)
        near("in use in the child at parent_site", child.get("parent_site", 0), 10000 * 1024, 0.10)
        parent = top(f"{tmp}/fork.prof", "inuse_space")
        near("in use in the parent at parent_site", parent.get("parent_site", 0), 10000 * 1024, 0.10)
        below("in use in the parent at child_site", parent.get("child_site", 0), 0)

    # Sampling statistics: allocated bytes estimated for tiny, mid and huge sizes.
    run("stats", tmp, HAKMEM_PROF_SAMPLE="8192", HAKMEM_PROF_FILE=f"{tmp}/stats.prof")
    alloc = top(f"{tmp}/stats.prof", "alloc_space")
    near("allocated at tiny_site", alloc.get("tiny_site", 0), 2000000 * 64, 0.04)
    near("allocated at mid_site", alloc.get("mid_site", 0), 100000 * 8192, 0.04)
    near("allocated at huge_site", alloc.get("huge_site", 0), 200 * (4 << 20), 0.04)

if failures:
    print(f"check_prof: {len(failures)} failed", file=sys.stderr)
    sys.exit(1)
print("check_prof: every check passed")
