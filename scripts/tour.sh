#!/bin/sh
# tour.sh - what `make run` shows until the file server exists: a short
# tour of the process and thread examples, each introduced by one line.
set -eu
BUILD=${1:-build}
EX="$BUILD/examples"

show() {
    name=$1
    shift
    [ -x "$EX/$name" ] || return 0
    printf '\n\033[1m== %s: %s\033[0m\n' "$name" "$*"
    "$EX/$name"
}

echo "weft tour: processes, threads and signals (sources in examples/)"
show process_basics "two ways to define a process; start all, then join"
show isolation "a child's memory is its own"
show zombie_orphan "a zombie and an orphan, read from /proc"
show daemon "a daemon child dies with its SIGKILLed parent"
show threads_basics "threads share memory; daemon threads"
show signals "signals handled in ordinary code"
printf '\nRead examples/README.md for the whole list; `make test` runs the tests.\n'
