#!/usr/bin/env bash
# Sets up, builds and tests hakmem in every CI preset.
#
#   scripts/test.sh [preset ...]
#
# Default: debug asan release tsan (every test), then the variant presets hardened tc-tls-sll tc-unified
# minimal no-lru no-page-arena no-grow-region (their test presets run the conformance, stress and preload tests).
# For each preset: cmake --preset P, cmake --build --preset P, ctest --preset P. Stops at the first
# failure, naming the preset and the step. Ends with a line "N passed, N failed" counting presets.
# JOBS (default 2) sets the build parallelism.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

presets=("$@")
if [[ ${#presets[@]} -eq 0 ]]; then
  presets=(debug asan release tsan hardened tc-tls-sll tc-unified minimal no-lru no-page-arena no-grow-region)
fi
jobs=${JOBS:-2}

bash scripts/setup.sh test

passed=0
failed=0
start_all=$SECONDS

summary() {
  echo
  echo "test.sh: $passed passed, $failed failed (of ${#presets[@]} presets, $((SECONDS - start_all)) s)"
}

fail() {  # fail <preset> <step>
  failed=$((failed + 1))
  echo
  echo "test.sh: FAILED: preset '$1' at step '$2'"
  summary
  exit 1
}

for p in "${presets[@]}"; do
  echo
  echo "==== test.sh: preset $p ===="
  t0=$SECONDS
  cmake --preset "$p" || fail "$p" configure
  cmake --build --preset "$p" -j "$jobs" || fail "$p" build
  ctest --preset "$p" || fail "$p" test
  passed=$((passed + 1))
  echo "==== test.sh: preset $p passed ($((SECONDS - t0)) s) ===="
done

summary
