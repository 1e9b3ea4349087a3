#!/usr/bin/env bash
# The example programs run and show what their header comments promise:
# the lesson of each is checked, not only that it exits 0.
set -euo pipefail
EX=$1/examples
if [ ! -d "$EX" ]; then
    echo "SKIP: examples not built here"
    exit 0
fi
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

out=$("$EX/process_basics")
grep -q "all started, then joined" <<<"$out" || fail process_basics

out=$("$EX/isolation") || fail "isolation: parent saw the child's change"

out=$("$EX/ticket_booking" --lock --file "$tmp/t.json")
tail -n 1 <<<"$out" | grep -qx "sold 3 of 3 tickets" ||
    fail "ticket_booking --lock: $(tail -n 1 <<<"$out")"
out=$("$EX/ticket_booking" --no-lock --buyers 6 --tickets 2 --file "$tmp/t.json")
tail -n 1 <<<"$out" | grep -Eq "^sold [0-9]+ of 2 tickets$" ||
    fail "ticket_booking --no-lock: $(tail -n 1 <<<"$out")"

out=$("$EX/printer_lock")
# With the lock every line is one whole sentence.
bad=$(grep -v -E '^(with the printer lock:|(alice|bob|carol) prints page [1-3] of its report)$' <<<"$out" || true)
[ -z "$bad" ] || fail "printer_lock: torn lines: $bad"

"$EX/ktv_semaphore" >"$tmp/ktv" || fail "ktv_semaphore: more than 4 inside"
grep -q "at most [1-4] of 10" "$tmp/ktv" || fail ktv_semaphore

out=$(timeout 30 "$EX/traffic_light" 4)
grep -q "all 4 cars have passed" <<<"$out" || fail traffic_light

out=$("$EX/shared_counter")
grep -q 'shared value: 0   shared dict\["count"\]: 0' <<<"$out" ||
    fail "shared_counter: $out"

out=$(timeout 30 "$EX/deadlock")
grep -q "DEADLOCK" <<<"$out" || fail "deadlock: not detected"
grep -q "no deadlock" <<<"$out" || fail "deadlock: the RLock fix did not finish"

out=$(timeout 30 "$EX/threads_basics")
grep -q "counter = 400000" <<<"$out" || fail threads_basics
out=$(timeout 60 "$EX/producer_consumer")
[ "$(grep -c 'no bun lost or eaten twice' <<<"$out")" -eq 3 ] ||
    fail "producer_consumer: $out"

out=$("$EX/flash_sale") || fail "flash_sale: wrong count"
grep -q "10 wristbands given, 90 buyers told the sale is full" <<<"$out" ||
    fail flash_sale

out=$("$EX/priority_messages")
order=$(sed -n '/taken out/,$p' <<<"$out" | sed -n 's/^  \([a-z]*\):.*/\1/p' | tr '\n' ' ')
[ "$order" = "urgent urgent normal normal normal junk junk " ] ||
    fail "priority_messages: $order"

out=$(timeout 30 "$EX/pipe_adder")
grep -q "40 + 2 = 42" <<<"$out" && grep -q "adder exited with 0" <<<"$out" ||
    fail "pipe_adder: $out"
echo "examples: all lessons hold"
