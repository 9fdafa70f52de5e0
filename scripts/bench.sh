#!/usr/bin/env bash
# Builds the release preset and compares hakmem against glibc, mimalloc, jemalloc and tcmalloc.
#
#   scripts/bench.sh [runner options]      (default: --quick, about four minutes)
#   scripts/bench.sh --full                (every workload, bigger sizes, 5 runs)
#   scripts/bench.sh --workloads larson,memory --allocators hakmem,mimalloc --runs 5
#
# Installs what is missing (scripts/setup.sh bench), configures and builds build/release, then runs
# benchmarks/runner/run.py, which prints the table of medians and writes runs.csv, medians.csv,
# report.md and PNG charts to build/release/bench/. See benchmarks/runner/run.py --help.
# JOBS (default 2) sets the build parallelism.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh bench

cmake --preset release
cmake --build --preset release -j "${JOBS:-2}"

mode=(--quick)
for arg in "$@"; do
  case "$arg" in
    --quick|--full|--list|-h|--help) mode=() ;;
  esac
done

exec python3 benchmarks/runner/run.py "${mode[@]}" "$@"
