#!/usr/bin/env bash
# bench_redis still runs: --quick (3 short rounds) must exit 0 and print a
# measured row for weft's Redis queue, redis-benchmark and the weft
# distributed pool (Python RQ: a figure, or SKIPPED when /usr/bin/python3
# cannot import rq). Nothing about speed: timings on a shared machine are
# not test results (make bench measures them).
# Usage: bash tests/integration/test_redis_bench_smoke.sh BUILD_DIR
set -u
BUILD=${1:?usage: $0 BUILD_DIR}
B=$BUILD/bench/bench_redis
if grep -q '^WEFT_BENCH:BOOL=OFF' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    echo "SKIP: benchmarks not built here (WEFT_BENCH=OFF)"
    exit 0
fi
[ -x "$B" ] || { echo "FAIL: $B missing"; exit 1; }
out=$(cd "$(dirname "$0")/../.." && timeout 120 "$B" --quick 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 0 ] || { echo "FAIL: bench_redis --quick: status $rc"; exit 1; }
fail=0
row() {
    re=$(sed 's/[][\.*^$+?(){}|]/\\&/g' <<<"$1")
    if ! grep -Eq "^\| $re( \(baseline\))? \| [0-9][0-9,.]* \|" <<<"$out"
    then
        echo "FAIL: no row with a figure for '$1'"
        fail=1
    fi
}
row "weft Redis queue"
row "redis-benchmark LPUSH+RPOP"
row "weft distributed pool"
if /usr/bin/python3 -c 'import rq' 2>/dev/null; then
    row "Python RQ 1.13"
fi
[ "$(grep -c '^## Redis queue put + get' <<<"$out")" -eq 2 ] ||
    { echo "FAIL: expected two queue sections"; fail=1; }
[ "$fail" -eq 0 ] && echo "PASS: bench_redis --quick"
exit "$fail"
