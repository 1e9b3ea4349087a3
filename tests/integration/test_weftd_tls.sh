#!/usr/bin/env bash
# test_weftd_tls.sh - weftd and weft over TLS (--tls-cert, --tls-ca), with
# a throwaway certificate made by the openssl command.
#
# put, get (checksums compared) and ls through TLS in each of the six
# models; the bytes on the wire (through a recording relay) hold none of
# the file when TLS is on, and all of it when it is off (the control);
# the client refuses an untrusted certificate and one for another name;
# TLS 1.1 is refused; a TLS client of a plain server, and garbage after a
# handshake byte, fail alone while the server keeps serving; plain
# connections from beyond loopback are refused with tls_required (where
# this machine has an address beyond loopback); a login over TLS; the
# config file's keys; bad certificate files stop weftd with one line.
#
# Usage: bash tests/integration/test_weftd_tls.sh BUILD_DIR
set -euo pipefail
B=$(cd "$1" && pwd)
W=$B/weftd
C=$B/weft
if [ ! -x "$W" ] || [ ! -x "$C" ]; then
    echo "SKIP: weftd or weft not built here"
    exit 0
fi
for tool in openssl python3; do
    command -v "$tool" >/dev/null ||
        { echo "SKIP: $tool missing"; exit 0; }
done
fail() { echo "FAIL: $*"; exit 1; }
# start, stop, make_cert
source "$(dirname "${BASH_SOURCE[0]}")/weftd_run.sh"
tmp=$(mktemp -d)
pid=
relay=
cleanup() {
    for p in $pid $relay; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"

# A certificate for localhost and the loopback addresses, and one for
# another name.
make_cert localhost "DNS:localhost,IP:127.0.0.1,IP:::1"
make_cert elsewhere "DNS:elsewhere.invalid"

weft() { timeout 60 "$C" -s "127.0.0.1:$port" -t 10000 "$@"; }

# ---- every model --------------------------------------------------------
head -c 3000000 /dev/urandom >rand.bin
for model in serial fork thread prefork threadpool coroutine; do
    rm -rf lib
    start "d.$model" --root lib --listen 127.0.0.1:0 --model "$model" \
        --workers 2 --tls-cert localhost.pem --tls-key localhost.key
    weft --tls-ca localhost.pem put rand.bin >/dev/null ||
        fail "$model: put over TLS: exit $?"
    rm -f got.bin
    weft --tls-ca localhost.pem get rand.bin -o got.bin >/dev/null ||
        fail "$model: get over TLS: exit $?"
    cmp -s rand.bin got.bin || fail "$model: the download differs"
    out=$(weft --tls-ca localhost.pem --json ls) ||
        fail "$model: ls over TLS: exit $?"
    grep -q '"rand.bin"' <<<"$out" || fail "$model: ls: $out"
    # WEFT_TLS_CA in the environment does the same.
    WEFT_TLS_CA=localhost.pem weft stat rand.bin >/dev/null ||
        fail "$model: WEFT_TLS_CA: exit $?"
    stop
done

# ---- what crosses the wire ----------------------------------------------
# A relay that records every byte both ways (python3 relay.py LISTEN_PORT
# TARGET_PORT FILE; prints its port).
cat >relay.py <<'EOF'
import socket, sys, threading
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(16)
print(ls.getsockname()[1], flush=True)
target, log = int(sys.argv[1]), open(sys.argv[2], "ab", buffering=0)
lock = threading.Lock()
def pipe(a, b):
    while True:
        try: d = a.recv(65536)
        except OSError: d = b""  # a reset after the last reply
        if not d:
            try: b.shutdown(socket.SHUT_WR)
            except OSError: pass
            return
        with lock: log.write(d)
        try: b.sendall(d)
        except OSError: return
while True:
    c, _ = ls.accept()
    s = socket.create_connection(("127.0.0.1", target))
    for a, b in ((c, s), (s, c)):
        threading.Thread(target=pipe, args=(a, b), daemon=True).start()
EOF
python3 -c 'print("weft-secret-marker-line" * 8000)' >marker.txt
wire() { # FILE TLS?: put and get marker.txt through the relay
    : >"$1"
    python3 relay.py "$port" "$1" >relay.port &
    relay=$!
    for _ in $(seq 100); do [ -s relay.port ] && break; sleep 0.05; done
    local rport opts=()
    rport=$(cat relay.port)
    [ "$2" = tls ] && opts=(--tls-ca localhost.pem)
    timeout 60 "$C" -s "127.0.0.1:$rport" "${opts[@]}" put marker.txt \
        >/dev/null || fail "put through the relay ($2): exit $?"
    rm -f got.txt
    timeout 60 "$C" -s "127.0.0.1:$rport" "${opts[@]}" get marker.txt \
        -o got.txt >/dev/null || fail "get through the relay ($2): exit $?"
    cmp -s marker.txt got.txt || fail "relay ($2): the download differs"
    kill "$relay"
    wait "$relay" 2>/dev/null || true
    relay=
    rm -f relay.port
}
rm -rf lib
start d.wire --root lib --listen 127.0.0.1:0 --tls-cert localhost.pem \
    --tls-key localhost.key
wire wire.tls tls
wire wire.plain plain
stop
[ "$(grep -c 'weft-secret-marker' wire.plain || true)" -gt 0 ] ||
    fail "control: the plain connection's bytes lack the file"
! grep -q 'weft-secret-marker' wire.tls ||
    fail "the file crossed the wire in clear over TLS"
grep -q '"cmd"' wire.plain || fail "control: no plain header on the wire"
! grep -q '"cmd"' wire.tls || fail "a request header crossed in clear"

# ---- refusals -----------------------------------------------------------
rm -rf lib
start d.refuse --root lib --listen 127.0.0.1:0 --tls-cert localhost.pem \
    --tls-key localhost.key
# No trust in a self-signed certificate by default: exit 3, one line.
rc=0
weft --tls ls >out 2>err || rc=$?
[ "$rc" -eq 3 ] || fail "untrusted certificate: exit $rc: $(cat err)"
[ "$(wc -l <err)" -eq 1 ] && grep -q 'certificate verify failed' err ||
    fail "untrusted certificate: $(cat err)"
# A certificate for another name, though trusted: refused.
stop
start d.other --root lib --listen 127.0.0.1:0 --tls-cert elsewhere.pem \
    --tls-key elsewhere.key
rc=0
weft --tls-ca elsewhere.pem ls >out 2>err || rc=$?
[ "$rc" -eq 3 ] && grep -q 'certificate verify failed' err ||
    fail "certificate for another name: exit $rc: $(cat err)"
stop
start d.refuse --root lib --listen 127.0.0.1:0 --tls-cert localhost.pem \
    --tls-key localhost.key
# TLS 1.1 is refused; 1.3 is what a modern client gets.
if openssl s_client -help 2>&1 | grep -q -- '-tls1_1'; then
    ! openssl s_client -connect "127.0.0.1:$port" -tls1_1 </dev/null \
        >s11.out 2>&1 || fail "TLS 1.1 was accepted"
fi
openssl s_client -connect "127.0.0.1:$port" -CAfile localhost.pem \
    -verify_return_error </dev/null >s13.out 2>&1 ||
    fail "openssl s_client: $(tail -n 5 s13.out)"
grep -q 'TLSv1.3' s13.out || fail "not TLS 1.3: $(grep -i protocol s13.out)"
# Garbage after a handshake byte: that connection fails, weftd serves on.
printf '\x16\x03\x01\x00\x05hello-not-tls' |
    timeout 10 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read()); s.settimeout(10)
try:
    while s.recv(4096): pass
except OSError: pass' "$port" || true
weft --tls-ca localhost.pem ls >/dev/null ||
    fail "weftd stopped serving after a garbage handshake"
# Plain from this machine is still served.
weft ls >/dev/null || fail "plain from loopback refused"
# Plain from beyond loopback: tls_required (if this machine has such an
# address).
ext=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9.]+$' |
    grep -v '^127\.' | head -n 1 || true)
stop
if [ -n "$ext" ]; then
    "$B/weftd" passwd --users users.txt alice <<<'s3cret-pass' \
        >/dev/null 2>&1 ||
        fail "weftd passwd"
    start d.ext --root lib --listen "$ext:0" --tls-cert localhost.pem \
        --tls-key localhost.key --users users.txt
    rc=0
    WEFT_PASSWORD=s3cret-pass timeout 20 "$C" -s "$ext:$port" -u alice ls \
        >out 2>err </dev/null || rc=$?
    [ "$rc" -ne 0 ] && grep -q 'use --tls' err ||
        fail "plain from $ext: exit $rc: $(cat err)"
    # Over TLS from there, with a login; the name checked is the address,
    # which the certificate does not hold: trust it by its own name.
    WEFT_PASSWORD=s3cret-pass timeout 20 "$C" -s "$ext:$port" \
        --tls-ca localhost.pem -u alice ls >out 2>err &&
        fail "a certificate without $ext was accepted for it"
    grep -q 'certificate verify failed' err ||
        fail "name check for $ext: $(cat err)"
    stop
else
    echo "note: no address beyond loopback here: tls_required not tested"
fi
# A login over TLS on loopback.
"$B/weftd" passwd --users users.txt bob <<<'bobs-pass-1' >/dev/null 2>&1
start d.login --root lib --listen 127.0.0.1:0 --tls-cert localhost.pem \
    --tls-key localhost.key --users users.txt
WEFT_PASSWORD=bobs-pass-1 weft --tls-ca localhost.pem -u bob ls >/dev/null ||
    fail "login over TLS: exit $?"
rc=0
WEFT_PASSWORD=wrong weft --tls-ca localhost.pem -u bob ls >/dev/null 2>err ||
    rc=$?
[ "$rc" -eq 9 ] || fail "wrong password over TLS: exit $rc: $(cat err)"
stop

# A TLS client of a plain weftd: one line, exit 3; weftd serves on.
start d.plain --root lib --listen 127.0.0.1:0
rc=0
weft --tls-ca localhost.pem ls >out 2>err || rc=$?
[ "$rc" -eq 3 ] && [ "$(wc -l <err)" -eq 1 ] ||
    fail "TLS client of a plain server: exit $rc: $(cat err)"
weft ls >/dev/null || fail "plain weftd stopped serving after a TLS hello"
grep -q 'TLS handshake, but weftd has no --tls-cert' d.plain ||
    fail "the TLS hello was not logged: $(cat d.plain)"
stop

# ---- configuration ------------------------------------------------------
printf 'root = lib\nlisten = 127.0.0.1:0\ntls-cert = %s\ntls-key = %s\n' \
    "$tmp/localhost.pem" "$tmp/localhost.key" >weftd.conf
start d.conf --config weftd.conf
weft --tls-ca localhost.pem ls >/dev/null || fail "tls keys of --config"
stop
expect_start_fail() { # WHAT ARGS...: weftd exits non-zero with one line
    local what=$1 rc=0
    shift
    timeout 20 "$W" --no-landlock --root lib --listen 127.0.0.1:0 "$@" \
        </dev/null >/dev/null 2>err || rc=$?
    [ "$rc" -ne 0 ] && [ "$(wc -l <err)" -eq 1 ] ||
        fail "$what: exit $rc: $(cat err)"
}
expect_start_fail "missing certificate" --tls-cert nowhere.pem
expect_start_fail "key of another certificate" --tls-cert localhost.pem \
    --tls-key elsewhere.key
expect_start_fail "key without certificate" --tls-key localhost.key
echo "weftd TLS: all checks hold"
