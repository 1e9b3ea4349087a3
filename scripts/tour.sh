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
show threads_basics "threads share memory; daemon threads"
show signals "signals handled in ordinary code"
show ticket_booking --no-lock "ticket booking without a lock: oversold"
show ticket_booking --lock "ticket booking with a shared lock: exact"
show traffic_light "an Event as a traffic light between processes"
show pool_basics "a pool of 4 processes runs 23 tasks; callbacks; apply"
show gevent_sleep "two coroutines sleep 300 and 100 ms: together, 300 ms"
printf '\nRead examples/README.md for the whole list; `make test` runs the tests.\n'
