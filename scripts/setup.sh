#!/usr/bin/env bash
# Installs the Debian packages hakmem needs, only those that are missing.
#
#   scripts/setup.sh [test|bench]
#
#   test   (default) compilers, CMake, Ninja, cmocka, Google Benchmark, zlib's header (the heap
#          profiler loads libz.so.1 to gzip its profiles), Go (its pprof reads the profiles in the
#          tests), python3, sqlite3, valgrind: everything to build every preset and run every test.
#   bench  the test set plus the peer allocators (mimalloc, jemalloc, tcmalloc) and gnuplot.
#
# When everything is already installed this is a fast no-op (one dpkg-query, no apt-get update).
set -euo pipefail

set_name=${1:-test}

test_pkgs=(cmake ninja-build gcc g++ clang pkg-config libcmocka-dev libbenchmark-dev
           zlib1g-dev golang-go python3 sqlite3 valgrind)
bench_pkgs=(libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4 gnuplot-nox)

case "$set_name" in
  test)  pkgs=("${test_pkgs[@]}") ;;
  bench) pkgs=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  -h|--help)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 0 ;;
  *) echo "setup.sh: unknown set '$set_name' (expected 'test' or 'bench')" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  if [[ "$status" != "installed" ]]; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup.sh: all ${#pkgs[@]} packages of the '$set_name' set are installed"
  exit 0
fi

echo "setup.sh: installing missing packages: ${missing[*]}"

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup.sh: apt-get not found; install these packages by hand: ${missing[*]}" >&2
  exit 1
fi

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "setup.sh: not root and sudo is not available; as root run:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
"${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
echo "setup.sh: done"
