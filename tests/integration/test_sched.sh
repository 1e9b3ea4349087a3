#!/usr/bin/env bash
# weft-sched, the CPU-scheduling simulator, as a user runs it: the
# textbook averages in its text output, jobs from a file, from stdin and
# from --job, every algorithm at once, a well-formed SVG with one bar per
# slice, and bad input refused with exit 2 and one line on stderr.
set -euo pipefail
BIN=$1/weft-sched
if [ ! -x "$BIN" ]; then
    echo "SKIP: weft-sched not built here"
    exit 0
fi
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# average LINE-OF-OUTPUT: the "average" row's waiting time.
avg_wait() { awk '$1 == "average" { print $2 }' <<<"$1"; }

"$BIN" --help | grep -q '^usage: weft-sched' || fail "--help"
"$BIN" --version | grep -Eqx 'weft-sched [0-9]+\.[0-9]+\.[0-9]+' ||
    fail "--version: $("$BIN" --version)"

cat >"$tmp/convoy.txt" <<'EOF'
# Silberschatz: the convoy effect
P1 0 24
P2 0 3   # short ones
P3 0 3
EOF
out=$("$BIN" "$tmp/convoy.txt")
grep -q '^First come, first served: 3 jobs$' <<<"$out" || fail "title: $out"
[ "$(avg_wait "$out")" = "17.00" ] || fail "fcfs average: $out"
grep -Eq '^\| +P1 +\| +P2 +\| +P3 +\|$' <<<"$out" || fail "fcfs chart: $out"
grep -Eq '^0 +24 +27 +30$' <<<"$out" || fail "fcfs time axis: $out"

out=$("$BIN" -a rr -q 4 "$tmp/convoy.txt")
[ "$(avg_wait "$out")" = "5.67" ] || fail "rr average: $out"
grep -Eq '^\| +P1 +\| +P2 +\| +P3 +\| +P1 +\|$' <<<"$out" ||
    fail "rr chart: $out"

# Jobs on the command line; SRTF's 6.5 and SJF's 7.75 on the same list.
jobs=(--job P1,0,8 --job P2,1,4 --job P3,2,9 --job P4,3,5)
out=$("$BIN" -a srtf "${jobs[@]}")
[ "$(avg_wait "$out")" = "6.50" ] || fail "srtf average: $out"
out=$("$BIN" --algorithm=sjf "${jobs[@]}")
[ "$(avg_wait "$out")" = "7.75" ] || fail "sjf average: $out"

# From stdin; priorities (lower number first).
out=$(printf 'P1 0 10 3\nP2 0 1 1\nP3 0 2 4\nP4 0 1 5\nP5 0 5 2\n' |
    "$BIN" -a prio -)
[ "$(avg_wait "$out")" = "8.20" ] || fail "priority average: $out"

# MLFQ: the queue of each slice is shown; an arrival preempts level 1.
out=$("$BIN" -a mlfq --quanta 2,4 --job A,0,5 --job B,1,3 --job C,5,2)
grep -q 'Multi-level feedback queue (2 queues, quanta 2, 4)' <<<"$out" ||
    fail "mlfq title: $out"
labels=$(grep '^|' <<<"$out" | tr -d ' ' | tr '\n' '|')
[ "$labels" = "|A:q0|B:q0|A:q1|C:q0|B:q1|A:q1||" ] ||
    fail "mlfq chart: $labels"
[ "$(avg_wait "$out")" = "3.00" ] || fail "mlfq average: $out"

# All algorithms, a summary of seven rows, and the SVG of all seven.
out=$("$BIN" -a all --svg "$tmp/all.svg" "$tmp/convoy.txt")
summary=$(sed -n '/avg waiting/,$p' <<<"$out" | tail -n +2 | awk '{print $1}' |
    tr '\n' ' ')
[ "$summary" = "fcfs sjf srtf rr prio pprio mlfq " ] ||
    fail "summary rows: $summary"
[ "$(awk '$1 == "sjf" { print $2 }' <<<"$out" | tail -n 1)" = "3.00" ] ||
    fail "summary sjf: $out"
python3 - "$tmp/all.svg" <<'EOF' || fail "SVG not valid"
import sys
import xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == ns + "svg", root.tag
charts = root.findall(ns + "g")
assert [g.get("id") for g in charts] == \
    ["fcfs", "sjf", "srtf", "rr", "prio", "pprio", "mlfq"], charts
# fcfs: three slices; rr (quantum 4): four, the last P1 from 10 to 30.
bars = lambda g: [r.find(ns + "title").text for r in g.findall(ns + "rect")]
assert bars(charts[0]) == ["P1 0-24", "P2 24-27", "P3 27-30"], bars(charts[0])
assert bars(charts[3])[-1] == "P1 10-30", bars(charts[3])
for g in charts:
    for r in g.findall(ns + "rect"):
        assert float(r.get("width")) > 0
EOF

# Bad input: exit 2, exactly one line on stderr, nothing on stdout.
bad() {
    local what=$1 rc=0
    shift
    "$BIN" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
    [ "$rc" -eq 2 ] || fail "$what: exit $rc, want 2"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$what: stderr: $(cat "$tmp/err")"
    grep -q '^weft-sched: ' "$tmp/err" || fail "$what: $(cat "$tmp/err")"
    [ ! -s "$tmp/out" ] || fail "$what: printed $(cat "$tmp/out")"
}
printf 'A 0 1\nB 0\n' >"$tmp/short.txt"
bad "missing burst" "$tmp/short.txt"
grep -q 'line 2' "$tmp/err" || fail "no line number: $(cat "$tmp/err")"
printf 'A 0 1\nA 2 2\n' >"$tmp/dup.txt"
bad "duplicate" "$tmp/dup.txt"
printf 'A 0 0\n' >"$tmp/zero.txt"
bad "zero burst" "$tmp/zero.txt"
printf '# nothing\n' >"$tmp/empty.txt"
bad "no jobs" "$tmp/empty.txt"
bad "missing file" "$tmp/nonexistent.txt"
bad "no input"
bad "unknown algorithm" -a lottery "$tmp/convoy.txt"
bad "zero quantum" -a rr -q 0 "$tmp/convoy.txt"
bad "quantum not a number" -q four "$tmp/convoy.txt"
bad "bad quanta" -a mlfq --quanta 0,4 "$tmp/convoy.txt"
bad "levels and quanta" --levels 2 --quanta 2,4 "$tmp/convoy.txt"
bad "bad job spec" --job A,0
bad "job and file" --job A,0,1 "$tmp/convoy.txt"
bad "two files" "$tmp/convoy.txt" "$tmp/convoy.txt"
bad "unknown option" --frobnicate "$tmp/convoy.txt"
bad "missing argument" "$tmp/convoy.txt" --svg
bad "too many slices" -a rr -q 1 --job A,0,600000 --job B,0,600000
grep -q 'larger quantum' "$tmp/err" || fail "slices: $(cat "$tmp/err")"

# An SVG that cannot be written: exit 1, the text still printed.
rc=0
"$BIN" --svg "$tmp/no/such/dir.svg" "$tmp/convoy.txt" >"$tmp/out" \
    2>"$tmp/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q 'cannot write the SVG' "$tmp/err" ||
    fail "svg to a bad path: exit $rc: $(cat "$tmp/err")"
echo "weft-sched: all checks passed"
