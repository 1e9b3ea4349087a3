#!/usr/bin/env bash
# The Redis example: distributed_squares runs a map on three worker
# processes through a redis-server that this script starts itself (a free
# loopback port, never 6379, a fresh temporary directory), kills one
# worker midway, and the map still completes with every square correct.
# Also: a worker started on its own (--worker), as on another host, for a
# submitter without workers (--submit); and Redis down.
# (test_redis_netns.sh runs the workers on hosts in network namespaces.)
set -euo pipefail
EX=$1/examples
if [ ! -x "$EX/distributed_squares" ]; then
    echo "SKIP: examples not built here"
    exit 0
fi
tmp=$(mktemp -d /tmp/weft-redis-ex.XXXXXX)
fail() {
    echo "FAIL: $*"
    [ -f "$tmp/redis.log" ] && tail -n 20 "$tmp/redis.log"
    exit 1
}
command -v redis-server >/dev/null ||
    fail "redis-server not installed (scripts/install-deps.sh)"
rpid=
wpid=
cleanup() {
    # only the processes this script started, by pid
    { [ -n "$wpid" ] && kill -KILL "$wpid"; } 2>/dev/null || true
    { [ -n "$rpid" ] && kill -KILL "$rpid" && wait "$rpid"; } 2>/dev/null ||
        true
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

for attempt in 1 2 3 4 5; do
    port=$(free_port)
    [ "$port" != 6379 ] || continue
    redis-server --bind 127.0.0.1 --port "$port" --dir "$tmp" --save '' \
        --appendonly no --logfile "$tmp/redis.log" --daemonize no &
    rpid=$!
    for _ in $(seq 100); do
        if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
            break 2
        fi
        kill -0 "$rpid" 2>/dev/null || break
        sleep 0.05
    done
    { kill -KILL "$rpid" && wait "$rpid"; } 2>/dev/null || true
    rpid=
done
[ -n "$rpid" ] || fail "could not start redis-server"

url="redis://127.0.0.1:$port/squares?visibility_ms=1000"
out=$(timeout 60 "$EX/distributed_squares" "$url") ||
    fail "distributed_squares exited non-zero: $out"
grep -q "^3 workers started$" <<<"$out" || fail "no workers: $out"
grep -Eq "^killed worker [0-9]+ midway$" <<<"$out" || fail "no kill: $out"
grep -qx "120 squares, sum 568820: correct" <<<"$out" ||
    fail "map incomplete or wrong: $out"
# the two survivors report; the killed one cannot
[ "$(grep -Ec '^worker [0-9]+ ran [0-9]+ tasks$' <<<"$out")" -eq 2 ] ||
    fail "worker reports: $out"
ran=$(sed -n 's/^worker [0-9]* ran \([0-9]*\) tasks$/\1/p' <<<"$out" |
    awk "{ s += \$1 } END { print s }")
[ "$ran" -ge 1 ] && [ "$ran" -le 120 ] || fail "survivors ran $ran tasks"

# A worker on its own (as on another host), serving a submitter that has
# no workers of its own.
solo="redis://127.0.0.1:$port/solo?visibility_ms=1000"
"$EX/distributed_squares" --worker "$solo" >"$tmp/worker.out" &
wpid=$!
out=$(timeout 60 "$EX/distributed_squares" --submit "$solo") ||
    fail "--submit: $out"
grep -qx "120 squares, sum 568820: correct" <<<"$out" || fail "solo: $out"
kill -TERM "$wpid"
wait "$wpid" || fail "worker did not stop cleanly on SIGTERM"
wpid=
grep -Eq "^worker [0-9]+ ran [0-9]+ tasks$" "$tmp/worker.out" ||
    fail "worker report: $(cat "$tmp/worker.out")"

# Redis down: a clear error, at once, no hang.
{ kill -KILL "$rpid" && wait "$rpid"; } 2>/dev/null || true
rpid=
set +e
err=$(timeout 20 "$EX/distributed_squares" "redis://127.0.0.1:$port/x" 2>&1)
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "down: exit $rc: $err"
grep -q "Connection refused" <<<"$err" || fail "down: $err"
echo "PASS: distributed_squares"
