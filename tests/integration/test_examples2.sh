#!/usr/bin/env bash
# More example programs and their lessons (test_examples.sh has the
# first ones): zombies and orphans, daemon children, the double-fork
# daemon, signal handlers with alarm and pause, AsyncResult's methods on a
# future, a semaphore between threads, waiting for a server with an Event.
# Every new example also refuses a bad argument with exit 2 and one line.
set -euo pipefail
EX=$1/examples
if [ ! -d "$EX" ]; then
    echo "SKIP: examples not built here"
    exit 0
fi
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# usage_error NAME ARGS...: exit 2, one line on stderr, nothing on stdout.
usage_error() {
    local rc=0
    timeout 10 "$EX/$1" "${@:2}" >"$tmp/uo" 2>"$tmp/ue" </dev/null || rc=$?
    [ "$rc" -eq 2 ] || fail "$1 ${*:2}: exit $rc, want 2"
    [ "$(wc -l <"$tmp/ue")" -eq 1 ] ||
        fail "$1 ${*:2}: stderr: $(cat "$tmp/ue")"
    [ ! -s "$tmp/uo" ] || fail "$1 ${*:2}: printed $(cat "$tmp/uo")"
}

# ---- zombie_orphan: state Z until reaped; the orphan's new parent --------
out=$(timeout 10 "$EX/zombie_orphan") || fail "zombie_orphan: exit $?"
grep -qE "^child [0-9]+ exited, not yet reaped: state 'Z'" <<<"$out" ||
    fail "zombie_orphan: no zombie: $out"
grep -q "^after waitpid: state '-' (- = gone), exit status 7$" <<<"$out" ||
    fail "zombie_orphan: not reaped: $out"
re='^child exited; orphan [0-9]* was adopted by \([0-9]*\)'
re+=' (this program, pid \([0-9]*\),.*'
adopt=$(sed -n "s/$re/\\1 \\2/p" <<<"$out")
read -r by me <<<"$adopt"
[ -n "${by:-}" ] && [ "$by" = "$me" ] ||
    fail "zombie_orphan: orphan not adopted by the subreaper: $out"
usage_error zombie_orphan --bogus

# ---- daemon: a daemon child dies with its SIGKILLed parent ---------------
out=$(timeout 10 "$EX/daemon") || fail "daemon: exit $?"
grep -q "killed by signal 9" <<<"$out" &&
    grep -qE "^daemon [0-9]+ is gone too$" <<<"$out" || fail "daemon: $out"
usage_error daemon x

# ---- daemonize: the double fork -------------------------------------------
out=$(timeout 10 "$EX/daemonize" --log "$tmp/d.log" --ticks 2) ||
    fail "daemonize: exit $?: $out"
prog=$(sed -n 's/^program: pid \([0-9]*\),.*/\1/p' <<<"$out")
first=$(sed -n 's/^program: first child \([0-9]*\) exited with 0;.*/\1/p' \
    <<<"$out")
[ -n "$prog" ] && [ -n "$first" ] || fail "daemonize: $out"
dline=$(grep '^  daemon: pid ' <<<"$out") || fail "daemonize: no report: $out"
read -r dpid dpar < <(sed -n \
    's/^  daemon: pid \([0-9]*\), parent \([0-9]*\) .*/\1 \2/p' <<<"$dline")
# The grandchild: neither of the first two, and adopted by someone else.
[ -n "${dpid:-}" ] && [ -n "${dpar:-}" ] && [ "$dpid" != "$prog" ] && [ "$dpid" != "$first" ] &&
    [ "$dpar" != "$prog" ] && [ "$dpar" != "$first" ] ||
    fail "daemonize: pid $dpid parent $dpar (program $prog, child $first)"
# A new session (the first child's), of which the daemon is not the leader.
grep -qE "^  daemon: session $first, group $first: session leader: no$" \
    <<<"$out" || fail "daemonize: session: $out"
grep -q "^  daemon: controlling terminal: none" <<<"$out" &&
    grep -q "^  daemon: cwd /, umask 0000, stdin/out/err on /dev/null$" \
        <<<"$out" || fail "daemonize: $out"
[ "$(grep -c '^  daemon: tick [12]$' <<<"$out")" -eq 2 ] &&
    grep -q '^  daemon: done$' <<<"$out" || fail "daemonize: ticks: $out"
grep -q '^daemon: done$' "$tmp/d.log" || fail "daemonize: log file"
usage_error daemonize --ticks many
usage_error daemonize --log relative.log

# ---- signals: handlers, alarm, pause; subscriptions; auto-reap ------------
out=$(timeout 10 "$EX/signals") || fail "signals: exit $?: $out"
want='  [handler] SIGINT caught: Ctrl-C does not kill this program
  pause() returned: SIGINT; now an alarm in 300 ms, and pause again'
[ "$(sed -n '2,3p' <<<"$out")" = "$want" ] ||
    fail "signals: handler and first pause: $out"
ms=$(sed -n 's/^  pause() returned: SIGALRM after \([0-9]*\) ms.*/\1/p' \
    <<<"$out")
[ -n "$ms" ] && [ "$ms" -ge 290 ] && [ "$ms" -le 2000 ] ||
    fail "signals: the alarm after ${ms:-?} ms: $out"
grep -qE "got SIGUSR1 sent by pid [0-9]+ \(ourselves\)$" <<<"$out" ||
    fail "signals: SIGUSR1: $out"
grep -qE "^  auto-reap: child [0-9]+ gone, waitpid: No child processes" \
    <<<"$out" || fail "signals: auto-reap: $out"
grep -q "got SIGALRM: the alarm rang, time to go" <<<"$out" &&
    [ "$(tail -n 1 <<<"$out")" = "closed; bye" ] || fail "signals: $out"
usage_error signals --now

# ---- apply_async: get, ready, successful, wait ----------------------------
out=$(timeout 20 "$EX/apply_async") || fail "apply_async: exit $?: $out"
for line in 'ready(): False' 'successful(): ValueError (not ready)' \
    'wait(100 ms): returned after 100 ms, still running' \
    'get(timeout=100 ms): TimeoutError (still running)' 'get(): 100' \
    'ready(): True  successful(): True' \
    'ready(): True  successful(): False' \
    'get(): the task failed with status 3' \
    'after the crash: apply_async(slow_square, 7).get(): 49'; do
    grep -qxF "$line" <<<"$out" || fail "apply_async: no '$line': $out"
done
grep -qE '^get\(\): the worker died \(signal 9\)' <<<"$out" ||
    fail "apply_async: the killed worker: $out"
[ "$(grep -c '^after the crash' <<<"$out")" -eq 1 ] ||
    fail "apply_async: a line printed twice: $out"
usage_error apply_async --delay 1
usage_error apply_async extra

# ---- thread_semaphore: 20 threads, 4 at a time -----------------------------
out=$(timeout 20 "$EX/thread_semaphore") || fail "thread_semaphore: exit $?"
grep -q '^20 of 20 threads done$' <<<"$out" || fail "thread_semaphore: $out"
re='^at most \([0-9]*\) of 20 threads were inside at once'
re+=' (a semaphore of 4), in \([0-9]*\) ms$'
read -r most ms < <(sed -n "s/$re/\\1 \\2/p" <<<"$out")
[ -n "${most:-}" ] && [ "$most" -ge 1 ] && [ "$most" -le 4 ] ||
    fail "thread_semaphore: ${most:-?} inside at once: $out"
# 20 stays of at least 50 ms, 4 at a time: at least 5 x 50 ms.
[ "$ms" -ge 250 ] || fail "thread_semaphore: $ms ms is too fast for 4 slots"
[ "$(grep -cE '^thread +[0-9]+ enters \([1-4] inside\)$' <<<"$out")" -eq 20 ] ||
    fail "thread_semaphore: enter lines: $out"
out=$(timeout 20 "$EX/thread_semaphore" --no-semaphore) ||
    fail "thread_semaphore --no-semaphore: exit $?"
most=$(sed -n 's/^at most \([0-9]*\) of 20 .*(no semaphore).*/\1/p' <<<"$out")
[ -n "$most" ] && [ "$most" -gt 4 ] ||
    fail "thread_semaphore --no-semaphore: only ${most:-?} inside: $out"
out=$(timeout 20 "$EX/thread_semaphore" --threads 6 --slots 1)
grep -q '^at most 1 of 6 threads' <<<"$out" ||
    fail "thread_semaphore --slots 1: $out"
usage_error thread_semaphore --slots 0
usage_error thread_semaphore --threads

# ---- wait_for_server: Event.wait with a timeout, then connect ---------------
out=$(timeout 20 "$EX/wait_for_server") || fail "wait_for_server: exit $?"
grep -q '^client [1-3]: attempt 1: server not up yet$' <<<"$out" ||
    fail "wait_for_server: the first waits should time out: $out"
grep -qE '^server: up on 127\.0\.0\.1:[0-9]+$' <<<"$out" &&
    grep -q '^3 of 3 clients connected$' <<<"$out" ||
    fail "wait_for_server: $out"
re='^client [1-3]: connected, server says: welcome, visitor \([1-3]\)$'
visitors=$(sed -n "s/$re/\\1/p" <<<"$out" | sort | tr -d '\n')
[ "$visitors" = "123" ] || fail "wait_for_server: greetings: $out"
# No line from a client may come before the server is up, once connected.
up=$(grep -n '^server: up' <<<"$out" | cut -d: -f1)
first=$(grep -n 'connected, server says' <<<"$out" | head -n 1 | cut -d: -f1)
[ "$up" -lt "$first" ] || fail "wait_for_server: connected before up: $out"
out=$(timeout 20 "$EX/wait_for_server" --startup-ms 1000 --wait-ms 100 \
    --attempts 2) || fail "wait_for_server (slow server): exit $?"
[ "$(grep -c '^client [1-3]: gave up: connect timeout$' <<<"$out")" -eq 3 ] &&
    grep -q '^0 of 3 clients connected$' <<<"$out" ||
    fail "wait_for_server (slow server): $out"
usage_error wait_for_server --attempts 0
usage_error wait_for_server now

echo "examples (2): all lessons hold"
