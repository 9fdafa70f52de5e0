#!/usr/bin/env python3
"""check_introspection.py PROGRAM: runs PROGRAM (introspection_dump) with HAKMEM_STATS=json and
checks that malloc_info's XML on its stdout and the JSON object on its stderr are well formed and
consistent: the heaps' sizes add up to their fast totals, the totals to the heaps, and the JSON
has every group with whole-number counters."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET


def fail(msg):
    print("check_introspection: " + msg, file=sys.stderr)
    sys.exit(1)


env = dict(os.environ, HAKMEM_STATS="json")
p = subprocess.run([sys.argv[1]], env=env, capture_output=True, text=True, timeout=60)
if p.returncode != 0:
    fail(f"exit status {p.returncode}: {p.stderr[-500:]}")

root = ET.fromstring(p.stdout)  # raises on malformed XML
if root.tag != "malloc" or root.get("version") != "1":
    fail("root is not <malloc version=\"1\">")
heaps = root.findall("heap")
if [h.get("nr") for h in heaps] != ["0", "1", "2"]:
    fail("expected heaps 0, 1, 2 (tiny, mid, large)")


def total(node, kind):
    t = [e for e in node.findall("total") if e.get("type") == kind]
    if len(t) != 1:
        fail(f"<{node.tag}> has {len(t)} totals of type {kind}")
    return int(t[0].get("count")), int(t[0].get("size"))


fast_count = fast_size = 0
for h in heaps:
    count = size = 0
    for s in h.find("sizes").findall("size"):
        lo, hi, tot, n = (int(s.get(k)) for k in ("from", "to", "total", "count"))
        if not (lo <= hi and tot == n * hi and n > 0):
            fail(f"heap {h.get('nr')}: bad <size> {s.attrib}")
        count += n
        size += tot
    if (count, size) != total(h, "fast"):
        fail(f"heap {h.get('nr')}: sizes add up to {(count, size)}, "
             f"fast total is {total(h, 'fast')}")
    fast_count += count
    fast_size += size
if total(root, "fast") != (fast_count, fast_size):
    fail("the fast total is not the heaps' sum")
mmap_count, mmap_size = total(root, "mmap")
if mmap_count != 1 or mmap_size < 3 << 20:
    fail(f"one huge block of 3 MiB is live, mmap total says {mmap_count} of {mmap_size} bytes")

lines = [l for l in p.stderr.splitlines() if l.startswith("{")]
if len(lines) != 1:
    fail(f"expected one JSON line on stderr, got {len(lines)}")
stats = json.loads(lines[0])
for group in ("tiny", "mid", "large", "huge", "segment", "purger", "memory"):
    if group not in stats:
        fail(f"JSON lacks the group {group!r}")
for group, counters in stats.items():
    if not all(isinstance(v, int) and v >= 0 for v in counters.values()):
        fail(f"JSON group {group!r} has a value that is not a count")
slab_allocs = sum(stats[r]["allocs"] for r in ("tiny", "mid", "large"))
if stats["huge"]["allocs"] != 1 or slab_allocs < 2 * 50 * 300:
    fail("JSON allocation counts do not match what the program allocated")
if stats["memory"]["in_use"] < 300 * 16:
    fail("JSON memory.in_use is below what the program keeps live")
print("check_introspection: XML and JSON well formed and consistent")
