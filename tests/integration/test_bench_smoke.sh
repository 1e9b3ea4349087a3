#!/bin/bash
# test_bench_smoke.sh - the benchmarks still build and run: bench_proc
# --quick must exit 0 and print a table row for each C contender, and
# bench_server.py --quick (8-byte requests only) a figure for every server
# in every configuration and the memory rows, and bench_fileserver.py
# --quick a figure for weftd and the raw sendfile loop in every workload
# (vsftpd and nginx rows: a figure, or SKIPPED when they are not
# installed or this is not root). It says nothing about speed
# (timings on a shared machine are not test results; make bench measures
# them).
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

# The server benchmark: a driver script that starts each server and runs
# bench/loadgen against it.
if ! command -v python3 >/dev/null 2>&1; then
    echo "SKIP: bench_server.py needs python3"
    exit "$fail"
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
out=$(timeout 120 python3 "$ROOT/bench/bench_server.py" --build "$BUILD" \
    --quick --sizes 8 --idle 10 --idle-big 100 2>&1)
rc=$?
echo "$out"
if [ "$rc" -ne 0 ]; then
    echo "FAIL: bench_server.py --quick exited with status $rc"
    exit 1
fi
for name in "weft serial" "weft fork" "weft thread" "weft prefork" \
    "weft threadpool" "weft coroutine" "epoll (C, hand-written)" \
    "Python ThreadingTCPServer" "Python ForkingTCPServer"; do
    re=$(sed 's/[][\.*^$+?(){}|]/\\&/g' <<<"$name")
    # Four configurations, each a figure with its ratio to epoll.
    cell='[0-9][0-9,]* \([0-9.]+x\)'
    if ! grep -Eq "^\| $re \| $cell \| $cell \| $cell \| $cell \|\$" \
        <<<"$out"; then
        echo "FAIL: bench_server: no row of figures for '$name'"
        fail=1
    fi
done
if [ "$(grep -Ec '^- (PASS|MISS) ' <<<"$out")" -ne 8 ]; then
    echo "FAIL: bench_server: not 8 target lines"
    fail=1
fi
if ! grep -Eq '^\| weft coroutine \| [0-9.]+ \| [0-9.]+ \| -?[0-9.]+ \|' \
    <<<"$out"; then
    echo "FAIL: bench_server: no memory row for the coroutine model"
    fail=1
fi
if ! grep -q '^- a fresh client meanwhile: ' <<<"$out"; then
    echo "FAIL: bench_server: no fresh client under the idle connections"
    fail=1
fi
[ "$fail" -eq 0 ] && echo "PASS: bench_server.py --quick ran every server"

# The file server benchmark: weftd against the raw sendfile loop, and
# vsftpd and nginx when they are installed (rows SKIPPED otherwise).
ffail=0
out=$(timeout 120 python3 "$ROOT/bench/bench_fileserver.py" --build "$BUILD" \
    --quick 2>&1)
rc=$?
echo "$out"
if [ "$rc" -ne 0 ]; then
    echo "FAIL: bench_fileserver.py --quick exited with status $rc"
    exit 1
fi
# Three transfer tables with a figure for raw and weftd, one listing table.
for name in "raw sendfile loop (C)" "weftd"; do
    re=$(sed 's/[][\.*^$+?(){}|]/\\&/g' <<<"$name")
    if [ "$(grep -Ec "^\| $re \| [0-9][0-9,.]* \|" <<<"$out")" -ne 3 ]; then
        echo "FAIL: bench_fileserver: not 3 rows of figures for '$name'"
        ffail=1
    fi
done
if ! grep -Eq '^\| weftd list \(fileclient\) \| [0-9][0-9,.]* \|' \
    <<<"$out"; then
    echo "FAIL: bench_fileserver: no listing figure for weftd"
    ffail=1
fi
for name in "vsftpd (fileclient)" "vsftpd (curl)" "nginx autoindex (curl)"; do
    re=$(sed 's/[][\.*^$+?(){}|]/\\&/g' <<<"$name")
    if ! grep -Eq "^\| $re \| ([0-9][0-9,.]*|SKIPPED: .*) \|" <<<"$out"; then
        echo "FAIL: bench_fileserver: no row (figure or SKIPPED) for '$name'"
        ffail=1
    fi
done
if [ "$(grep -Ec '^- (PASS|MISS|SKIP) ' <<<"$out")" -ne 6 ]; then
    echo "FAIL: bench_fileserver: not 6 target lines"
    ffail=1
fi
[ "$ffail" -eq 0 ] &&
    echo "PASS: bench_fileserver.py --quick ran every file server"
[ "$ffail" -eq 0 ] || fail=1

# The HTTP benchmark: weftd and Python's http.server (and nginx when it is
# installed) under wrk, each workload once, briefly.
if ! command -v wrk >/dev/null 2>&1; then
    echo "SKIP: bench_http.py needs wrk"
    exit "$fail"
fi
out=$(timeout 180 python3 "$ROOT/bench/bench_http.py" --build "$BUILD" \
    --quick 2>&1)
rc=$?
echo "$out"
if [ "$rc" -ne 0 ]; then
    echo "FAIL: bench_http.py --quick exited with status $rc"
    exit 1
fi
for name in "weftd" "python 1.1" "python 1.0"; do
    re=$(sed 's/[][\.*^$+?(){}|]/\\&/g' <<<"$name")
    if [ "$(grep -Ec "^\| $re \| [0-9]+ \|" <<<"$out")" -ne 4 ]; then
        echo "FAIL: bench_http: not 4 rows of figures for '$name'"
        fail=1
    fi
done
if [ "$(grep -Ec '^- (PASS|MISS|SKIP) ' <<<"$out")" -ne 6 ]; then
    echo "FAIL: bench_http: not 6 target lines"
    fail=1
fi
[ "$fail" -eq 0 ] && echo "PASS: bench_http.py --quick ran every HTTP server"
exit "$fail"
