#!/usr/bin/env bash
# The server examples (weft/server.h) and their clients, over real sockets:
# upper_echo in each of the six models (with its client, a Python client
# of the course's kind and bash's /dev/tcp), udp_chat, remote_cmd and
# chat_room. Every server is started on port 0, its port read from its
# "listening on" line, and stopped with SIGTERM, after which it must exit
# 0 promptly - with a client still connected where that matters.
set -euo pipefail
EX=$1/examples
if [ ! -x "$EX/upper_echo" ]; then
    echo "SKIP: server examples not built here"
    exit 0
fi
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
have_python=0
command -v python3 >/dev/null && have_python=1

# start NAME ARGS...: run the server NAME on 127.0.0.1:0; sets pid, port.
start() {
    local name=$1
    shift
    "$EX/$name" --listen 127.0.0.1:0 "$@" >"$tmp/$name.out" \
        2>"$tmp/$name.err" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
        grep -q '^listening on ' "$tmp/$name.out" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
        "$tmp/$name.out")
    [ -n "$port" ] ||
        fail "$name $*: no port: $(cat "$tmp/$name.out" "$tmp/$name.err")"
}

# stop NAME: SIGTERM; the server must exit 0 within 3 s.
stop() {
    kill -TERM "$pid"
    for _ in $(seq 60); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        fail "$1: still running 3 s after SIGTERM: $(cat "$tmp/$1.err")"
    fi
    wait "$pid" || fail "$1: exit $? after SIGTERM: $(cat "$tmp/$1.err")"
}

# bad_args PROG ARGS...: exit status 2 and exactly one line on stderr.
bad_args() {
    local rc=0 err
    err=$(timeout 5 "$EX/$1" "${@:2}" 2>&1 >/dev/null </dev/null) || rc=$?
    [ "$rc" -eq 2 ] || fail "$*: exit $rc, want 2 ($err)"
    [ -n "$err" ] && [ "$(wc -l <<<"$err")" -eq 1 ] ||
        fail "$*: want one line on stderr, got: $err"
}

# --help: usage on stdout, exit 0.
for p in upper_echo upper_echo_client udp_chat udp_chat_client remote_cmd \
    remote_cmd_client chat_room chat_room_client; do
    "$EX/$p" --help | grep -q '^usage: ' || fail "$p --help"
    bad_args "$p" --no-such-option
done
bad_args upper_echo --model bogus
bad_args upper_echo --workers 0
bad_args upper_echo --max-conns x
bad_args upper_echo --listen nonsense
bad_args upper_echo --listen
bad_args upper_echo extra
bad_args upper_echo_client --count -1
bad_args udp_chat --model nope
bad_args udp_chat --interactive
bad_args udp_chat_client --timeout 0
bad_args remote_cmd --cmd-timeout abc
bad_args remote_cmd_client --server 127.0.0.1 ls
bad_args chat_room --model thread
bad_args chat_room_client --wait-ms -5

# ---- upper_echo: one handler, six models --------------------------------
want=$(printf '1: HELLO, WEFT\n2: THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG\n3: TCP IS A STREAM OF BYTES, NOT OF MESSAGES')
for model in serial fork thread prefork threadpool coroutine; do
    start upper_echo --model "$model" --workers 2
    out=$(timeout 10 "$EX/upper_echo_client" --server "127.0.0.1:$port" \
        --count 3) || fail "upper_echo_client ($model): exit $?"
    [ "$out" = "$want" ] || fail "upper_echo ($model): $out"
    out=$(printf 'abc\nmixed Case 42\nno newline' |
        timeout 10 "$EX/upper_echo_client" --server "127.0.0.1:$port" -) ||
        fail "upper_echo_client - ($model): exit $?"
    [ "$out" = "$(printf 'ABC\nMIXED CASE 42\nNO NEWLINE')" ] ||
        fail "upper_echo stdin ($model): $out"
    if [ $have_python = 1 ]; then
        # The course's client: one send, one recv(1024).
        out=$(timeout 10 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.send(b"hello from python")
print(s.recv(1024).decode())
s.close()' "$port") || fail "python client ($model): exit $?"
        [ "$out" = "HELLO FROM PYTHON" ] || fail "python ($model): '$out'"
    fi
    # Like nc: a connection that stays open while the server stops. Its
    # handler waits for a next request, so the stop lets it go at once.
    exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "upper_echo: cannot connect"
    printf 'still here\n' >&3
    reply=""
    read -r -t 5 reply <&3 || true
    [ "$reply" = "STILL HERE" ] || fail "upper_echo /dev/tcp ($model): '$reply'"
    stop upper_echo
    reply=$(timeout 2 cat <&3) || fail "upper_echo ($model): no EOF at stop"
    exec 3>&-
    grep -q '^served [0-9]* connections\?$' "$tmp/upper_echo.out" ||
        fail "upper_echo ($model): $(cat "$tmp/upper_echo.out")"
done

# Over --max-conns: a one-line refusal, never a hang.
start upper_echo --model thread --max-conns 1
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'first\n' >&3
read -r -t 5 reply <&3 || true
[ "$reply" = "FIRST" ] || fail "upper_echo max-conns: first got '$reply'"
rc=0
err=$(timeout 10 "$EX/upper_echo_client" --server "127.0.0.1:$port" \
    --count 1 2>&1 >/dev/null) || rc=$?
[ $rc -eq 1 ] && grep -q 'ERR busy' <<<"$err" ||
    fail "upper_echo max-conns: second client: exit $rc: $err"
exec 3>&-
ok=0
for _ in $(seq 40); do # the first connection's slot frees when it ends
    if timeout 10 "$EX/upper_echo_client" --server "127.0.0.1:$port" \
        --count 1 >/dev/null 2>&1; then
        ok=1
        break
    fi
    sleep 0.05
done
[ $ok = 1 ] || fail "upper_echo max-conns: slot not freed"
stop upper_echo

rc=0
err=$(timeout 10 "$EX/upper_echo_client" --server 127.0.0.1:1 2>&1) || rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <<<"$err")" -eq 1 ] ||
    fail "upper_echo_client, no server: exit $rc: $err"

# ---- udp_chat: a datagram in, a datagram out ----------------------------
for model in serial thread prefork coroutine; do
    start udp_chat --model "$model"
    out=$(timeout 10 "$EX/udp_chat_client" --server "127.0.0.1:$port" \
        --count 3) || fail "udp_chat_client ($model): exit $?"
    [ "$out" = "$(printf 'server got: hello 1\nserver got: hello 2\nserver got: hello 3')" ] ||
        fail "udp_chat ($model): $out"
    stop udp_chat
    grep -q "^127\.0\.0\.1:[0-9]*: hello 3$" "$tmp/udp_chat.out" ||
        fail "udp_chat ($model): not shown: $(cat "$tmp/udp_chat.out")"
done
start udp_chat
out=$(printf 'one\ntwo words\n' |
    timeout 10 "$EX/udp_chat_client" --server "127.0.0.1:$port" --stdin)
[ "$out" = "$(printf 'server got: one\nserver got: two words')" ] ||
    fail "udp_chat stdin: $out"
if [ $have_python = 1 ]; then
    out=$(timeout 10 python3 -c '
import socket, sys
s = socket.socket(type=socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"from python", ("127.0.0.1", int(sys.argv[1])))
print(s.recvfrom(1024)[0].decode())' "$port") || fail "udp python: exit $?"
    [ "$out" = "server got: from python" ] || fail "udp python: '$out'"
fi
stop udp_chat
grep -q '^answered [0-9]* messages$' "$tmp/udp_chat.out" ||
    fail "udp_chat: $(cat "$tmp/udp_chat.out")"
# Nobody there: an error after the timeout, not a hang.
rc=0
err=$(timeout 10 "$EX/udp_chat_client" --server "127.0.0.1:$port" \
    --count 1 --timeout 300 2>&1) || rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <<<"$err")" -eq 1 ] ||
    fail "udp_chat_client, no server: exit $rc: $err"

# ---- remote_cmd: commands in, frames out --------------------------------
start remote_cmd
out=$(timeout 20 "$EX/remote_cmd_client" --server "127.0.0.1:$port" \
    "echo hello   world" rm "uname -s" false "date -s 2000-01-01" \
    "date +%Y") || fail "remote_cmd_client: exit $?"
want=$(printf '%s\n' '$ echo hello   world' 'hello world' 'exit code: 0' \
    '$ rm' 'error: command not allowed: rm' \
    '$ uname -s' "$(uname -s)" 'exit code: 0' \
    '$ false' 'exit code: 1' \
    '$ date -s 2000-01-01' 'error: argument not allowed for date: -s' \
    '$ date +%Y' "$(date +%Y)" 'exit code: 0')
[ "$out" = "$want" ] || fail "remote_cmd: got
$out
want
$want"
out=$(printf 'pwd\n\n   \nwhoami\n' |
    timeout 20 "$EX/remote_cmd_client" --server "127.0.0.1:$port") ||
    fail "remote_cmd_client stdin: exit $?"
[ "$(grep -c '^exit code: 0$' <<<"$out")" -eq 2 ] &&
    grep -qx "$(whoami)" <<<"$out" || fail "remote_cmd stdin: $out"
if [ $have_python = 1 ]; then
    # The course's client: one send, then length, JSON header, body.
    out=$(timeout 10 python3 -c '
import json, socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
def exactly(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise SystemExit("closed")
        b += c
    return b
for cmd in (b"echo framed", b"ls /no/such/dir"):
    s.send(cmd)
    n = struct.unpack("<I", exactly(4))[0]
    h = json.loads(exactly(n))
    body = exactly(h.get("file_size", 0))
    print(h["exit_code"], h.get("file_size", 0), body.decode().strip()[:10])
' "$port") || fail "remote_cmd python: exit $?"
    read -r code1 size1 body1 <<<"$(sed -n 1p <<<"$out")"
    [ "$code1 $size1 $body1" = "0 7 framed" ] ||
        fail "remote_cmd python: $out"
    code2=$(sed -n '2s/ .*//p' <<<"$out")
    [ "$code2" != 0 ] && [ -n "$code2" ] || fail "remote_cmd python ls: $out"
fi
stop remote_cmd
grep -q '\$ rm -> command not allowed: rm$' "$tmp/remote_cmd.out" ||
    fail "remote_cmd log: $(cat "$tmp/remote_cmd.out")"

start remote_cmd --unsafe-allow-any --model fork
out=$(timeout 20 "$EX/remote_cmd_client" --server "127.0.0.1:$port" \
    'echo abc | tr a-c x-z' 'exit 3') || fail "remote_cmd unsafe: exit $?"
[ "$out" = "$(printf '%s\n' '$ echo abc | tr a-c x-z' xyz 'exit code: 0' \
    '$ exit 3' 'exit code: 3')" ] || fail "remote_cmd unsafe: $out"
stop remote_cmd

# ---- chat_room: lines passed on to the others ---------------------------
start chat_room
timeout 20 "$EX/chat_room_client" --server "127.0.0.1:$port" \
    --wait-ms 10000 </dev/null >"$tmp/alice" 2>&1 &
alice=$!
pids+=("$alice")
for _ in $(seq 100); do
    grep -q '^\* welcome' "$tmp/alice" && break
    sleep 0.05
done
grep -q '^\* welcome to the room, 127\.0\.0\.1:[0-9]*: 0 others are here' \
    "$tmp/alice" || fail "chat_room: alice: $(cat "$tmp/alice")"
out=$(timeout 10 "$EX/chat_room_client" --server "127.0.0.1:$port" \
    --send "hello room" --send /who --send /nope --wait-ms 300) ||
    fail "chat_room_client bob: exit $?"
grep -q '^\* welcome to the room, .*: 1 other is here' <<<"$out" &&
    grep -q '^\* 2 here: .*(you)' <<<"$out" &&
    grep -q '^\* unknown command /nope' <<<"$out" ||
    fail "chat_room: bob: $out"
bob=$(sed -n 's/^\* welcome to the room, \([0-9.:]*\):.*/\1/p' <<<"$out")
for _ in $(seq 40); do
    grep -q "left" "$tmp/alice" && break
    sleep 0.05
done
grep -qx "\* $bob joined" "$tmp/alice" &&
    grep -qx "\[$bob\] hello room" "$tmp/alice" &&
    grep -qx "\* $bob left" "$tmp/alice" ||
    fail "chat_room: alice did not see bob: $(cat "$tmp/alice")"
# /quit: the room says goodbye and closes at once (not after --wait-ms).
t0=$(date +%s%N)
out=$(timeout 10 "$EX/chat_room_client" --server "127.0.0.1:$port" \
    --send /quit --wait-ms 5000) || fail "chat_room /quit: exit $?"
ms=$((($(date +%s%N) - t0) / 1000000))
grep -q '^\* bye, ' <<<"$out" && [ $ms -lt 3000 ] ||
    fail "chat_room /quit: ${ms} ms: $out"
# Stopping with alice still in the room: she is told, and both end.
stop chat_room
wait "$alice" || fail "chat_room: alice exit $? at the stop: $(cat "$tmp/alice")"
grep -q '^\* the server is shutting down: bye' "$tmp/alice" ||
    fail "chat_room: alice not told of the stop: $(cat "$tmp/alice")"

echo "server examples: all hold"
