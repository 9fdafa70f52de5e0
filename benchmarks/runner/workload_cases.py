"""The runner's cases: each a workload program with its arguments in quick and full mode, and
the one case a recorded trace makes (run.py --trace). Python 3 standard library only."""

import os

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
