#!/usr/bin/env bash
# bench/loadgen drives a real server over loopback: the coroutine echo
# example, with persistent connections and with one request per
# connection (--per-conn). Every request is answered and checked; failures
# and bad arguments are reported with the right exit status.
set -euo pipefail
B=$1
LG=$B/bench/loadgen
SRV=$B/examples/co_echo_server
if [ ! -x "$LG" ] || [ ! -x "$SRV" ]; then
    echo "SKIP: loadgen or co_echo_server not built here"
    exit 0
fi
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT

# --foreground: one SIGTERM to the server, not a second to the group.
timeout --foreground 60 "$SRV" >"$tmp/srv" 2>&1 &
pid=$!
for _ in $(seq 50); do
    grep -q '^listening on' "$tmp/srv" && break
    sleep 0.1
done
port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/srv")
[ -n "$port" ] || fail "no port: $(cat "$tmp/srv")"

out=$(timeout 60 "$LG" --server "127.0.0.1:$port" --conns 50 --requests 100) ||
    fail "loadgen exit $?: $out"
grep -q '^requests: 5000  errors: 0 ' <<<"$out" || fail "counts: $out"
# Percentiles in order: p50 <= p99 <= p99.9 <= max.
read -r p50 p99 p999 max < <(sed -n \
    's/^latency us: p50 \([0-9.]*\)  p99 \([0-9.]*\)  p99.9 \([0-9.]*\)  max \([0-9.]*\)$/\1 \2 \3 \4/p' \
    <<<"$out")
awk -v a="$p50" -v b="$p99" -v c="$p999" -v d="$max" \
    'BEGIN { exit !(a > 0 && a <= b && b <= c && c <= d) }' ||
    fail "percentiles out of order: $out"

# Two threads, 1 KiB, for a duration.
out=$(timeout 60 "$LG" --server "127.0.0.1:$port" --conns 20 --threads 2 \
    --size 1024 --duration 1) || fail "loadgen --duration: $out"
grep -qE '^requests: [1-9][0-9]*  errors: 0 ' <<<"$out" || fail "$out"

# One request per connection (--per-conn): 20 clients, 50 connections
# each, every reply checked; then a fractional duration with 1 KiB.
out=$(timeout 60 "$LG" --server "127.0.0.1:$port" --conns 20 --requests 50 \
    --per-conn) || fail "loadgen --per-conn exit $?: $out"
grep -q 'one request per connection$' <<<"$out" || fail "mode line: $out"
grep -q '^requests: 1000  errors: 0 ' <<<"$out" || fail "per-conn: $out"
read -r p50 p99 p999 max < <(sed -n \
    's/^latency us: p50 \([0-9.]*\)  p99 \([0-9.]*\)  p99.9 \([0-9.]*\)  max \([0-9.]*\)$/\1 \2 \3 \4/p' \
    <<<"$out")
awk -v a="$p50" -v b="$p99" -v c="$p999" -v d="$max" \
    'BEGIN { exit !(a > 0 && a <= b && b <= c && c <= d) }' ||
    fail "per-conn percentiles out of order: $out"
out=$(timeout 60 "$LG" --server "127.0.0.1:$port" --conns 5 --size 1024 \
    --duration 0.5 --per-conn) || fail "loadgen --per-conn --duration: $out"
n=$(sed -n 's/^requests: \([1-9][0-9]*\)  errors: 0 .*/\1/p' <<<"$out")
[ -n "$n" ] || fail "per-conn duration: $out"

kill -TERM "$pid"
wait "$pid" || true
# The server saw a connection per per-conn request: 50 + 20 connections
# before, 1000 and n in the two per-conn runs.
grep -q "^served $((50 + 20 + 1000 + n)) connections$" "$tmp/srv" ||
    fail "server count: want $((1070 + n)): $(cat "$tmp/srv")"

# Nobody listening: each connection fails, status 1, one line why.
set +e
out=$("$LG" --server "127.0.0.1:$port" --conns 2 2>&1)
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "refused: exit $rc"
grep -q 'first: connect: Connection refused' <<<"$out" || fail "refused: $out"
set +e
out=$("$LG" --server "127.0.0.1:$port" --conns 2 --per-conn 2>&1)
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "refused, per-conn: exit $rc"
grep -q '^loadgen: 2 connection(s) failed; first: connect: Connection refused' \
    <<<"$out" || fail "refused, per-conn: $out"
# Bad arguments: status 2, one line.
for args in "--server nonsense" "--server 1.2.3.4:5 --conns 0" "--conns 3" \
    "--server 1.2.3.4:5 --requests 5 --duration 1" \
    "--server 1.2.3.4:5 --duration 0" "--server 1.2.3.4:5 --duration 1x"; do
    set +e
    # shellcheck disable=SC2086
    err=$("$LG" $args 2>&1 >/dev/null)
    rc=$?
    set -e
    [ "$rc" -eq 2 ] || fail "'$args': exit $rc"
    [ "$(wc -l <<<"$err")" -eq 1 ] || fail "'$args': more than one line: $err"
done
echo "loadgen: all checks hold"
