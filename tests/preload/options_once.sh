#!/bin/sh
# options_once.sh PROGRAM [ARGS...]
#
# Runs PROGRAM with HAKMEM_OPTIONS=1 HAKMEM_LRU_MAX_SEGMENTS=7 (and whatever LD_PRELOAD the caller
# set) and fails unless hakmem listed its options exactly once, with the value from the
# environment: options are read once per process, at its first allocation or at hakmem's
# constructor, and see the environment either way.
set -u
out=$(HAKMEM_OPTIONS=1 HAKMEM_LRU_MAX_SEGMENTS=7 "$@" 2>&1 >/dev/null)
status=$?
listed=$(printf '%s\n' "$out" | grep -c '^hakmem: option HAKMEM_LRU_MAX_SEGMENTS=7 (default 64): ')
other=$(printf '%s\n' "$out" | grep -c '^hakmem: option HAKMEM_LRU_MAX_SEGMENTS=')
if [ "$status" -ne 0 ] || [ "$listed" -ne 1 ] || [ "$other" -ne 1 ]; then
  echo "options_once: exit status $status, the option listed $other times ($listed with value 7); stderr:" >&2
  printf '%s\n' "$out" | head -20 >&2
  exit 1
fi
echo "options_once: read once, from the environment"
