#!/bin/sh
# tour.sh - `make tour`: a short tour of the process, thread, pool and
# coroutine examples, each introduced by one line.
set -eu
BUILD=${1:-build}
EX="$BUILD/examples"

# show NAME [ARG] "what it shows": runs the example with at most one
# argument, under a heading.
show() {
    name=$1
    arg=""
    [ $# -gt 2 ] && { arg=$2; shift; }
    what=$2
    [ -x "$EX/$name" ] || return 0
    printf '\n\033[1m== %s%s: %s\033[0m\n' "$name" "${arg:+ $arg}" "$what"
    "$EX/$name" $arg
}

echo "weft tour: processes, threads, signals, locks, pools and coroutines (sources in examples/)"
show process_basics "two ways to define a process; start all, then join"
show isolation "a child's memory is its own"
show zombie_orphan "a zombie and an orphan, read from /proc"
show daemon "a daemon child dies with its SIGKILLed parent"
show daemonize "the double fork: a daemon with no parent and no terminal"
show threads_basics "threads share memory; daemon threads"
show signals "handlers, alarm and pause; signals handled in ordinary code"
show thread_semaphore "20 threads, 4 at a time: a semaphore"
show wait_for_server "clients wait for the server to come up: an Event"
show ticket_booking --no-lock "ticket booking without a lock: oversold"
show ticket_booking --lock "ticket booking with a shared lock: exact"
show traffic_light "an Event as a traffic light between processes"
show pool_basics "a pool of 4 processes runs 23 tasks; callbacks; apply"
show apply_async "AsyncResult's get, ready, successful and wait on a future"
show gevent_sleep "two coroutines sleep 300 and 100 ms: together, 300 ms"
if [ -x "$BUILD/weft-sched" ]; then
    printf '\n\033[1m== weft-sched -a srtf: the CPU-scheduling simulator\033[0m\n'
    "$BUILD/weft-sched" -a srtf --job P1,0,8 --job P2,1,4 --job P3,2,9 \
        --job P4,3,5
fi
printf '\nRead examples/README.md for the whole list; `make test` runs the tests.\n'
