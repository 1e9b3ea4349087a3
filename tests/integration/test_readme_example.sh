#!/usr/bin/env bash
# The C example in README.md compiles against the built library and prints
# what it promises. Keeps the README true.
set -euo pipefail
BUILD=$1
SRC=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk '/^```c$/{f=1;next} /^```$/{f=0} f' "$SRC/README.md" >"$tmp/demo.c"
test -s "$tmp/demo.c"
# Same compiler and sanitizers as the library under test.
cache() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt"; }
CC=$(cache CMAKE_C_COMPILER)
san=$(cache WEFT_SANITIZE)
flags=""
[ -n "$san" ] && flags="-fsanitize=$san"
"${CC:-cc}" -std=c11 -Wall -Wextra -Werror $flags -I"$SRC/include" \
    -I"$BUILD/include" "$tmp/demo.c" "$BUILD/libweft.a" -pthread \
    -o "$tmp/demo"
out=$("$tmp/demo")
echo "$out"
grep -q "child worker got 42" <<<"$out"
grep -q "exit code 7" <<<"$out"
