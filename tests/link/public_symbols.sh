#!/bin/sh
# public_symbols.sh NM HEADER OVERRIDE LIBRARY
#
# Fails, listing them, if LIBRARY defines a global symbol that is not part of hakmem's public API:
# the malloc family (OVERRIDE 1), the C++ operators new and delete (OVERRIDE 1), and the hak_
# functions declared in HEADER. Also fails if one of the header's functions is missing, or (OVERRIDE
# 1) malloc is, so that an empty or unreadable library cannot pass.
set -eu
nm=$1 header=$2 override=$3 lib=$4

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Global definitions: nm -g prints "address type name" (archives also "member:" lines and blanks).
"$nm" -g --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sort -u >"$tmp/defined"
[ -s "$tmp/defined" ] || { echo "public_symbols: $lib defines no global symbol" >&2; exit 1; }

sed -n 's/^[^(]*[ *]\(hak_[a-z0-9_]*\)(.*/\1/p' "$header" | sort -u >"$tmp/header"
[ -s "$tmp/header" ] || { echo "public_symbols: no hak_ function found in $header" >&2; exit 1; }
cp "$tmp/header" "$tmp/allowed"
if [ "$override" = 1 ]; then
  for f in malloc free calloc realloc reallocarray posix_memalign memalign aligned_alloc valloc \
           pvalloc malloc_usable_size malloc_trim mallopt mallinfo2 mallinfo malloc_stats \
           malloc_info free_sized free_aligned_sized; do
    echo "$f" >>"$tmp/allowed"
  done
  grep -E '^_Z(nw|na|dl|da)' "$tmp/defined" >>"$tmp/allowed" || true
  grep -qx malloc "$tmp/defined" || { echo "public_symbols: $lib does not define malloc" >&2; exit 1; }
fi
sort -u -o "$tmp/allowed" "$tmp/allowed"

status=0
extra=$(comm -23 "$tmp/defined" "$tmp/allowed")
if [ -n "$extra" ]; then
  echo "public_symbols: $lib defines global symbols outside the public API:" >&2
  echo "$extra" | sed 's/^/  /' >&2
  status=1
fi
missing=$(comm -13 "$tmp/defined" "$tmp/header")
if [ -n "$missing" ]; then
  echo "public_symbols: $lib lacks functions declared in $(basename "$header"):" >&2
  echo "$missing" | sed 's/^/  /' >&2
  status=1
fi
[ $status -eq 0 ] && echo "public_symbols: $lib: $(wc -l <"$tmp/defined") global symbols, all public"
exit $status
