#!/usr/bin/env bash
# Workers as separate hosts: the test makes its own private network
# namespace (unshare: nothing of the machine's network is touched), and in
# it three "hosts" - network namespaces with their own address on a
# bridge - each running a distributed_squares --worker; redis-server and
# the submitter on the bridge's address. One worker host's process is
# SIGKILLed midway and the map still completes.
# Needs root (namespaces); SKIP otherwise.
set -euo pipefail
EX=$1/examples
if [ ! -x "$EX/distributed_squares" ]; then
    echo "SKIP: examples not built here"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null ||
    ! command -v ip >/dev/null || ! command -v redis-server >/dev/null; then
    echo "SKIP: needs root, unshare, ip and redis-server"
    exit 0
fi
if [ "${WEFT_NETNS_INNER:-}" != 1 ]; then
    # A new network namespace (only a loopback, down) and a private mount
    # namespace (for /run/netns), both gone when this script ends.
    if ! unshare --net --mount true 2>/dev/null; then
        echo "SKIP: cannot create namespaces here"
        exit 0
    fi
    exec unshare --net --mount env WEFT_NETNS_INNER=1 bash "$0" "$@"
fi

fail() {
    echo "FAIL: $*"
    [ -f "$tmp/redis.log" ] && tail -n 5 "$tmp/redis.log"
    exit 1
}
tmp=$(mktemp -d /tmp/weft-redis-netns.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        { kill -KILL "$p" && wait "$p"; } 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p /run/netns
mount -t tmpfs weft-netns /run/netns
ip link set lo up
ip link add wbr0 type bridge
ip addr add 10.77.0.1/24 dev wbr0
ip link set wbr0 up
for h in 1 2 3; do
    ip netns add "host$h"
    ip link add "vh$h" type veth peer name eth0 netns "host$h"
    ip link set "vh$h" master wbr0 up
    ip -n "host$h" addr add "10.77.0.1$h/24" dev eth0
    ip -n "host$h" link set eth0 up
    ip -n "host$h" link set lo up
done

# This namespace is private: its ports are nobody else's. Remote hosts
# need a password (protected mode), which the URL carries.
redis-server --bind 10.77.0.1 --port 6390 --dir "$tmp" --save '' \
    --requirepass netns-pw --appendonly no --logfile "$tmp/redis.log" \
    --daemonize no &
pids+=($!)
cli() { redis-cli -h 10.77.0.1 -p 6390 -a netns-pw --no-auth-warning "$@"; }
for _ in $(seq 100); do
    [ "$(cli ping 2>/dev/null)" = PONG ] && break
    sleep 0.05
done
[ "$(cli ping)" = PONG ] || fail "no redis-server"

url="redis://:netns-pw@10.77.0.1:6390/netns?visibility_ms=1000"
w=()
for h in 1 2 3; do
    # each host reaches Redis over its veth, not over a shared loopback
    ip netns exec "host$h" timeout 5 bash -c \
        'exec 3<>/dev/tcp/10.77.0.1/6390' ||
        fail "host$h cannot reach 10.77.0.1:6390"
    ip netns exec "host$h" "$EX/distributed_squares" --worker "$url" \
        >"$tmp/w$h.out" 2>&1 &
    w+=($!)
    pids+=($!)
done
"$EX/distributed_squares" --submit "$url" >"$tmp/sub.out" 2>&1 &
sub=$!
sleep 0.15
{ kill -KILL "${w[1]}" && wait "${w[1]}"; } 2>/dev/null || true
wait "$sub" || fail "submitter: $(cat "$tmp/sub.out")"
grep -qx "120 squares, sum 568820: correct" "$tmp/sub.out" ||
    fail "map: $(cat "$tmp/sub.out")"
for i in 0 2; do
    kill -TERM "${w[$i]}"
    wait "${w[$i]}" || fail "worker $i did not stop on SIGTERM"
done
ran=$(cat "$tmp/w1.out" "$tmp/w3.out" |
    sed -n 's/^worker [0-9]* ran \([0-9]*\) tasks$/\1/p' |
    awk '{ s += $1 } END { print s + 0 }')
[ "$ran" -ge 1 ] || fail "the surviving hosts ran no task"
echo "PASS: distributed_squares across 3 namespace hosts ($ran tasks on" \
    "the survivors)"
