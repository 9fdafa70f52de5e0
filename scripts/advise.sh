#!/bin/sh
# Records a program once, replays it against every hakmem preset and peer, and recommends one:
#   scripts/advise.sh [--runs N] [--presets a,b] -- program args...
# (docs/advisor.md). Needs the project's dependencies: scripts/setup.sh bench.
exec python3 "$(dirname "$0")/../benchmarks/runner/advise.py" "$@"
