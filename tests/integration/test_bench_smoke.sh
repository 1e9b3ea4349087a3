#!/bin/bash
# test_bench_smoke.sh - the benchmarks still build and run: bench_proc
# --quick must exit 0 and print a table row for each C contender. It says
# nothing about speed (timings on a shared machine are not test results;
# make bench measures them).
# Usage: bash tests/integration/test_bench_smoke.sh BUILD_DIR
set -u

BUILD=${1:?usage: $0 BUILD_DIR}
BENCH=$BUILD/bench/bench_proc

if grep -q '^WEFT_BENCH:BOOL=OFF' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    echo "SKIP: benchmarks not built here (WEFT_BENCH=OFF)"
    exit 0
fi
if [ ! -x "$BENCH" ]; then
    echo "FAIL: $BENCH missing"
    exit 1
fi

out=$("$BENCH" --quick 2>&1)
rc=$?
echo "$out"
if [ "$rc" -ne 0 ]; then
    echo "FAIL: bench_proc --quick exited with status $rc"
    exit 1
fi

fail=0
for name in "weft process" "raw fork+waitpid" "weft process, fork server"; do
    # A measured row: the name, then a number in the median column.
    re=$(sed 's/[][\.*^$+?(){}|]/\\&/g' <<<"$name")
    if ! grep -Eq "^\| $re( \(baseline\))? \| [0-9][0-9,.]* \|" \
        <<<"$out"; then
        echo "FAIL: no table row with a figure for '$name'"
        fail=1
    fi
done
if ! grep -Eq '^\| Python Process \(fork\) \| ([0-9][0-9,.]*|skipped) \|' \
    <<<"$out"; then
    echo "FAIL: no table row for the Python contender"
    fail=1
fi
if ! grep -Eq '^- (PASS|MISS|SKIP) ' <<<"$out"; then
    echo "FAIL: no target lines under the table"
    fail=1
fi
[ "$fail" -eq 0 ] && echo "PASS: bench_proc --quick ran every contender"
exit "$fail"
