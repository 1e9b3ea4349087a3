#!/usr/bin/env bash
# test_weftd_http.sh - weftd's HTTP/1.1, driven by curl (and a raw-socket
# Python client for what curl will not send), on the same port as the
# native protocol.
#
# GET and HEAD (Content-Type, Content-Length, ETag, Last-Modified), 304s
# by If-None-Match and If-Modified-Since, Range (single, suffix, several
# as multipart/byteranges, 416), folders as HTML (breadcrumb, sorting,
# upload form) and JSON, the folder redirect, PUT (length, chunked,
# Expect: 100-continue; replace; read-only, too large, quota), a browser
# form's multipart upload, DELETE, pipelining, HTTP/1.0, HTTPS, Basic
# logins (401, wrong, right, read-only user, rate limit, refused beyond
# loopback without TLS), every model, and the bad input of the issue:
# a 1 MiB request line, 10,000 headers, a header without a colon, bad
# Content-Lengths, smuggling patterns, encoded "..", a Range past the
# end, a client sending a byte a second. After each, weftd still serves.
#
# Usage: bash tests/integration/test_weftd_http.sh BUILD_DIR
set -euo pipefail
B=$(cd "$1" && pwd)
W=$B/weftd
C=$B/weft
if [ ! -x "$W" ]; then
    echo "SKIP: weftd not built here"
    exit 0
fi
for tool in curl python3 openssl; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool missing"; exit 0; }
done
fail() { echo "FAIL: $*"; exit 1; }
# start, stop, make_cert
source "$(dirname "${BASH_SOURCE[0]}")/weftd_run.sh"
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"

# status ARGS...: the HTTP status curl got
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$@"; }
expect() { # WANT WHAT ARGS...
    local want=$1 what=$2 got
    shift 2
    got=$(status "$@") || true
    [ "$got" = "$want" ] || fail "$what: status $got, expected $want"
}
alive() { expect 200 "still serving after $1" "$U/a.txt"; }

# raw.py PORT: send stdin's bytes, print every status line received until
# the server closes (or 10 s pass), then "closed" or "open".
cat >raw.py <<'EOF'
import re, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
data = sys.stdin.buffer.read()
try:
    s.sendall(data)
except OSError:
    pass
s.settimeout(float(sys.argv[2]) if len(sys.argv) > 2 else 10)
got, state = b"", "open"
try:
    while True:
        d = s.recv(65536)
        if not d:
            state = "closed"
            break
        got += d
except socket.timeout:
    pass
except OSError:
    state = "closed"
# Status lines wherever they are (a body before one need not end a line).
for line in re.findall(rb"HTTP/1\.1 [0-9]{3} [^\r\n]*", got):
    print(line.decode())
print(state)
EOF
raw() { timeout 30 python3 raw.py "$port" "$@"; }

mkdir -p lib/docs/inner lib/empty
printf 'hello\n' >lib/a.txt
head -c 100000 /dev/urandom >lib/docs/r.bin
printf '<p>hi</p>' >lib/docs/page.html
printf '{}' >lib/docs/x.json
touch -d '2020-01-02 03:04:05 UTC' lib/docs/page.html
start d.main --root lib --listen 127.0.0.1:0 --io-timeout 1500 \
    --max-upload 4M

# ---- GET and HEAD -------------------------------------------------------
curl -s -D h.txt -o body.txt "$U/a.txt"
[ "$(cat body.txt)" = hello ] || fail "GET a.txt: $(cat body.txt)"
grep -qi '^content-type: text/plain' h.txt || fail "type: $(cat h.txt)"
grep -qi '^content-length: 6' h.txt || fail "length: $(cat h.txt)"
grep -qi '^etag: "' h.txt || fail "etag: $(cat h.txt)"
grep -qi '^last-modified: ' h.txt || fail "last-modified: $(cat h.txt)"
curl -s -I "$U/docs/page.html" >h.txt
grep -qi '^content-type: text/html' h.txt && grep -qi '^content-length: 9' h.txt ||
    fail "HEAD page.html: $(cat h.txt)"
grep -qi 'last-modified: Thu, 02 Jan 2020 03:04:05 GMT' h.txt ||
    fail "Last-Modified: $(cat h.txt)"
[ "$(curl -s -I "$U/docs/x.json" | grep -ci '^content-type: application/json')" = 1 ] ||
    fail "json type"
curl -s "$U/docs/r.bin" -o r.bin && cmp -s r.bin lib/docs/r.bin ||
    fail "GET r.bin differs"
etag=$(curl -s -I "$U/a.txt" | sed -n 's/^[Ee][Tt]ag: \(.*\)\r$/\1/p')
expect 304 "If-None-Match" -H "If-None-Match: $etag" "$U/a.txt"
expect 304 "If-None-Match list" -H "If-None-Match: \"x\", W/$etag" "$U/a.txt"
expect 200 "If-None-Match other" -H 'If-None-Match: "other"' "$U/a.txt"
expect 304 "If-Modified-Since" -H 'If-Modified-Since: Fri, 03 Jan 2020 00:00:00 GMT' \
    "$U/docs/page.html"
expect 200 "If-Modified-Since older" \
    -H 'If-Modified-Since: Wed, 01 Jan 2020 00:00:00 GMT' "$U/docs/page.html"

# ---- Range --------------------------------------------------------------
[ "$(curl -s -r 10-19 "$U/docs/r.bin" | cmp - <(tail -c +11 lib/docs/r.bin |
    head -c 10) && echo same)" = same ] || fail "range 10-19"
curl -s -D h.txt -o part -r -100 "$U/docs/r.bin"
grep -q '206' h.txt && grep -qi 'content-range: bytes 99900-99999/100000' h.txt ||
    fail "suffix range: $(cat h.txt)"
cmp -s part <(tail -c 100 lib/docs/r.bin) || fail "suffix range bytes"
curl -s -D h.txt -o multi -r 0-9,50-59,99990- "$U/docs/r.bin"
grep -qi 'content-type: multipart/byteranges; boundary=' h.txt ||
    fail "multi range: $(cat h.txt)"
python3 - multi lib/docs/r.bin <<'EOF' || fail "multipart/byteranges body"
import re, sys
body, src = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
parts = re.findall(rb"Content-Range: bytes (\d+)-(\d+)/100000\r\n\r\n", body)
assert [(int(a), int(b)) for a, b in parts] == [(0, 9), (50, 59), (99990, 99999)], parts
for a, b in parts:
    i = body.index(b"bytes %s-%s/100000\r\n\r\n" % (a, b)) + len(b"bytes %s-%s/100000\r\n\r\n" % (a, b))
    assert body[i:i + int(b) - int(a) + 1] == src[int(a):int(b) + 1]
assert body.rstrip().endswith(b"--")
EOF
curl -s -D h.txt -o /dev/null -r 200000-300000 "$U/docs/r.bin"
grep -q ' 416 ' h.txt && grep -qi 'content-range: bytes \*/100000' h.txt ||
    fail "416: $(cat h.txt)"
expect 200 "malformed Range ignored" -r 'x-y' "$U/docs/r.bin"

# ---- folders ------------------------------------------------------------
curl -s "$U/docs/" >list.html
for want in 'href="r.bin"' 'href="page.html"' 'href="inner/"' \
    '<a href="/">library</a>' '<a href="/docs/">docs</a>' \
    'enctype="multipart/form-data"' 'sort=size'; do
    grep -qF "$want" list.html || fail "listing lacks $want"
done
# Sorted by size, descending: r.bin (100000) before page.html (9).
curl -s "$U/docs/?sort=size&order=desc" | tr '\n' ' ' |
    grep -q 'r.bin.*page.html' || fail "sort by size"
curl -s "$U/docs/?sort=size&order=asc" | tr '\n' ' ' |
    grep -q 'page.html.*r.bin' || fail "sort by size ascending"
for how in "?format=json" ""; do
    curl -s -H 'Accept: application/json' "$U/docs/$how" >list.json
    python3 -c '
import json, sys
v = json.load(open("list.json"))
names = {e["name"]: e for e in v}
assert names["r.bin"]["size"] == 100000 and names["inner"]["type"] == "dir", v
' || fail "JSON listing ($how): $(cat list.json)"
done
curl -s -D h.txt -o /dev/null "$U/docs"
grep -q ' 301 ' h.txt && grep -qi '^location: /docs/' h.txt ||
    fail "folder redirect: $(cat h.txt)"
expect 404 "missing file" "$U/nothing"
expect 404 "file with a slash" "$U/a.txt/"

# ---- PUT, POST, DELETE --------------------------------------------------
head -c 3000000 /dev/urandom >up.bin
expect 201 "PUT new" -T up.bin "$U/docs/up.bin"
cmp -s up.bin lib/docs/up.bin || fail "PUT stored other bytes"
cp lib/a.txt a.txt
expect 204 "PUT replace" -T a.txt "$U/docs/up.bin"
cmp -s a.txt lib/docs/up.bin || fail "PUT replace bytes"
expect 201 "PUT chunked" -T - -H 'Transfer-Encoding: chunked' \
    "$U/docs/chunked.bin" <up.bin
cmp -s up.bin lib/docs/chunked.bin || fail "chunked PUT bytes"
head -c 5000000 /dev/zero >big.bin
expect 413 "PUT over --max-upload" -T big.bin "$U/docs/big.bin"
[ ! -e lib/docs/big.bin ] || fail "a refused PUT left a file"
out=$(printf 'PUT /docs/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab' | raw)
[ "$out" = $'HTTP/1.1 409 Conflict\nclosed' ] || fail "PUT to a folder: $out"
echo "form one" >one.txt
curl -s -D h.txt -o /dev/null -F "file=@one.txt" -F "file=@up.bin" \
    -F "note=a field" "$U/docs/inner/"
grep -q ' 303 ' h.txt && grep -qi '^location: /docs/inner/' h.txt ||
    fail "form upload: $(cat h.txt)"
cmp -s one.txt lib/docs/inner/one.txt && cmp -s up.bin lib/docs/inner/up.bin ||
    fail "form upload bytes"
expect 400 "form with a file named .." -F 'file=@one.txt;filename=..' \
    "$U/docs/"
expect 415 "POST without a form" -d 'x=1' "$U/docs/"
expect 204 "DELETE" -X DELETE "$U/docs/inner/one.txt"
[ ! -e lib/docs/inner/one.txt ] || fail "DELETE left the file"
expect 409 "DELETE a full folder" -X DELETE "$U/docs/inner"
expect 404 "DELETE nothing" -X DELETE "$U/docs/none"
expect 204 "DELETE an empty folder" -X DELETE "$U/empty"
expect 204 "OPTIONS" -X OPTIONS "$U/"
# No partial or temporary file is visible in the library.
! ls -A lib/docs | grep -q '^\.weft-' || true
curl -s -H 'Accept: application/json' "$U/docs/" | grep -q '\.weft' &&
    fail "a .weft name is listed"

# ---- the connection -----------------------------------------------------
out=$(printf 'GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | raw)
[ "$out" = $'HTTP/1.1 200 OK\nHTTP/1.1 200 OK\nHTTP/1.1 404 Not Found\nclosed' ] ||
    fail "pipelining: $out"
out=$(printf 'GET /a.txt HTTP/1.0\r\n\r\n' | raw)
[ "$out" = $'HTTP/1.1 200 OK\nclosed' ] || fail "HTTP/1.0: $out"
out=$(printf 'GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' | raw 1)
[ "$out" = $'HTTP/1.1 200 OK\nopen' ] || fail "HTTP/1.0 keep-alive: $out"
# The native protocol on the same port.
if [ -x "$C" ]; then
    "$C" -s "127.0.0.1:$port" ls docs >/dev/null || fail "native ls"
fi

# ---- bad input ----------------------------------------------------------
badreq() { # WANT WHAT: stdin is the request
    local want=$1 what=$2 out
    out=$(raw)
    [ "${out%%$'\n'*}" = "HTTP/1.1 $want" ] || fail "$what: got '$out'"
}
python3 -c 'import sys; sys.stdout.write("GET /" + "a" * (1 << 20) + " HTTP/1.1\r\nHost: x\r\n\r\n")' |
    badreq "414 URI Too Long" "1 MiB request line"
python3 -c 'import sys; sys.stdout.write("GET / HTTP/1.1\r\nHost: x\r\n" + "X-A: b\r\n" * 10000 + "\r\n")' |
    badreq "431 Request Header Fields Too Large" "10,000 headers"
printf 'GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n' |
    badreq "400 Bad Request" "header without a colon"
printf 'PUT /docs/n HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n' |
    badreq "400 Bad Request" "negative Content-Length"
printf 'PUT /docs/n HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n' |
    badreq "400 Bad Request" "overflowing Content-Length"
printf 'POST /docs/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' |
    badreq "400 Bad Request" "Content-Length and Transfer-Encoding"
printf 'PUT /docs/n HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab' |
    badreq "400 Bad Request" "two Content-Lengths"
printf 'GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n folded\r\n\r\n' |
    badreq "400 Bad Request" "obsolete line folding"
printf 'GET /%%2e%%2e/%%2e%%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n' |
    badreq "400 Bad Request" "encoded .."
printf 'GET /docs/%%2E%%2E/../a.txt HTTP/1.1\r\nHost: x\r\n\r\n' |
    badreq "400 Bad Request" "encoded .. in capitals"
printf 'GET /.weft-partial/x HTTP/1.1\r\nHost: x\r\n\r\n' |
    badreq "400 Bad Request" "weftd's own names"
printf 'GET / HTTP/1.1\r\n\r\n' | badreq "400 Bad Request" "no Host"
printf 'GET / HTTP/2.0\r\nHost: x\r\n\r\n' |
    badreq "505 HTTP Version Not Supported" "HTTP/2.0"
printf 'BREW / HTTP/1.1\r\nHost: x\r\n\r\n' |
    badreq "501 Not Implemented" "unknown method"
alive "bad requests"
# A byte a second: dropped at --io-timeout (1.5 s), and others are served
# meanwhile.
python3 - "$port" >slow.out <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
t0 = time.time()
try:
    for ch in b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n":
        s.send(bytes([ch]))
        time.sleep(1)
        if time.time() - t0 > 8:
            break
    print("sent everything")
except OSError:
    print("dropped after %.1f s" % (time.time() - t0))
EOF
slow=$!
sleep 0.5
for _ in 1 2 3; do alive "a slow client's bytes"; done
wait "$slow"
grep -q '^dropped after [2-5]\.' slow.out || fail "slow client: $(cat slow.out)"
stop

# ---- logins -------------------------------------------------------------
"$W" passwd --users users.txt ana <<<'ana-pass-1' >/dev/null 2>&1
"$W" passwd --users users.txt --read-only reader <<<'reader-pass' \
    >/dev/null 2>&1
make_cert localhost "DNS:localhost,IP:127.0.0.1"
start d.auth --root lib --listen 127.0.0.1:0 --users users.txt \
    --login-limit 3/30 --tls-cert localhost.pem --tls-key localhost.key
curl -s -D h.txt -o /dev/null "$U/a.txt"
grep -q ' 401 ' h.txt && grep -qi '^www-authenticate: Basic realm="weftd"' h.txt ||
    fail "no login: $(cat h.txt)"
expect 200 "login" -u ana:ana-pass-1 "$U/a.txt"
expect 201 "PUT as ana" -u ana:ana-pass-1 -T one.txt "$U/docs/ana.txt"
expect 403 "PUT as a read-only user" -u reader:reader-pass -T one.txt \
    "$U/docs/reader.txt"
expect 200 "over TLS" --cacert localhost.pem -u ana:ana-pass-1 \
    "https://localhost:$port/a.txt"
[ "$(curl -s --cacert localhost.pem -u ana:ana-pass-1 "https://127.0.0.1:$port/docs/r.bin" | cmp - lib/docs/r.bin && echo same)" = same ] ||
    fail "HTTPS download differs"
expect 401 "wrong password" -u ana:wrong "$U/a.txt"
expect 401 "wrong password" -u ana:wrong "$U/a.txt"
expect 401 "wrong password" -u ana:wrong "$U/a.txt"
curl -s -D h.txt -o /dev/null -u ana:ana-pass-1 "$U/a.txt"
grep -q ' 429 ' h.txt && grep -qi '^retry-after: ' h.txt ||
    fail "rate limit: $(cat h.txt)"
stop
# Beyond loopback, without TLS: logins refused (if there is such an
# address here).
ext=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9.]+$' |
    grep -v '^127\.' | head -n 1 || true)
if [ -n "$ext" ]; then
    start d.ext --root lib --listen "$ext:0" --users users.txt
    expect 403 "Basic beyond loopback without TLS" -u ana:ana-pass-1 \
        "http://$ext:$port/a.txt"
    stop
    start d.ext2 --root lib --listen "$ext:0" --users users.txt \
        --insecure-http-auth
    expect 200 "--insecure-http-auth" -u ana:ana-pass-1 \
        "http://$ext:$port/a.txt"
    stop
fi

# ---- read-only, quota, every model --------------------------------------
start d.ro --root lib --listen 127.0.0.1:0 --read-only
expect 403 "PUT read-only" -T one.txt "$U/docs/ro.txt"
expect 403 "DELETE read-only" -X DELETE "$U/a.txt"
grep -q 'multipart/form-data' <(curl -s "$U/") &&
    fail "a read-only listing offers an upload form"
stop
used=$(du -sb lib | cut -f1)
start d.quota --root lib --listen 127.0.0.1:0 --quota "$((used + 1000000))"
expect 507 "PUT over the quota" -T up.bin "$U/docs/q.bin"
[ ! -e lib/docs/q.bin ] || fail "quota refusal left a file"
stop
for model in serial fork thread prefork threadpool coroutine; do
    start "d.$model" --root lib --listen 127.0.0.1:0 --model "$model" \
        --workers 2
    expect 201 "$model: PUT" -T up.bin "$U/docs/m-$model.bin"
    curl -s "$U/docs/m-$model.bin" | cmp -s - up.bin ||
        fail "$model: GET differs"
    curl -s "$U/docs/" | grep -q "m-$model.bin" || fail "$model: listing"
    stop
done
echo "weftd HTTP: all checks hold"
