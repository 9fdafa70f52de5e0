#!/bin/sh
# Run a real program with hakmem preloaded and check what it did.
#
#   run_preload.sh LIBHAKMEM EXPECTED_STDOUT STDIN_FILE [VAR=VALUE...] PROGRAM [ARGS...]
#
# Runs the program under LD_PRELOAD=LIBHAKMEM with HAKMEM_STATS=1 (VAR=VALUE words before the
# program are added to its environment) and passes if: it exits 0; its stdout equals the file
# EXPECTED_STDOUT; and hakmem's exit statistics on its stderr show that hakmem served it, that is
# the line `hakmem: tiny allocs=N ...` with N > 1000 (the last one printed, the program's own, if
# helper processes printed theirs before).
set -u
if [ $# -lt 4 ]; then
    echo "usage: $0 LIBHAKMEM EXPECTED_STDOUT STDIN_FILE [VAR=VALUE...] PROGRAM [ARGS...]" >&2
    exit 2
fi
lib=$1
expected=$2
input=$3
shift 3
cmd="$*"
min_tiny=1000

if [ ! -f "$lib" ]; then
    echo "FAIL: $lib does not exist" >&2
    exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-preload.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

env LD_PRELOAD="$lib" HAKMEM_STATS=1 "$@" <"$input" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?

fail() {
    echo "FAIL: $*" >&2
    echo "---- command: LD_PRELOAD=$lib HAKMEM_STATS=1 $cmd <$input" >&2
    echo "---- stdout (first 40 lines):" >&2
    head -n 40 "$tmp/stdout" >&2
    echo "---- stderr (first 60 lines):" >&2
    head -n 60 "$tmp/stderr" >&2
    exit 1
}

[ "$rc" -eq 0 ] || fail "exit status $rc"
if ! cmp -s "$expected" "$tmp/stdout"; then
    echo "---- expected stdout vs actual:" >&2
    diff "$expected" "$tmp/stdout" | head -n 40 >&2
    fail "unexpected output"
fi

stats=$(grep '^hakmem: tiny allocs=[0-9][0-9]* ' "$tmp/stderr" | tail -n 1)
[ -n "$stats" ] || fail "no 'hakmem: tiny allocs=N' line on stderr: hakmem did not serve it"
tiny=$(printf '%s\n' "$stats" | sed 's/^hakmem: tiny allocs=\([0-9]*\) .*/\1/')
[ "$tiny" -gt "$min_tiny" ] || fail "hakmem served only $tiny tiny allocations (want > $min_tiny)"

grep '^hakmem: ' "$tmp/stderr" | tail -n 12
echo "PASS: exit 0, output as expected, hakmem served $tiny tiny allocations"
exit 0
