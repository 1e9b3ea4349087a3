#!/usr/bin/env bash
# test_weftd_auth.sh - weftd's users, logins and confinement, over real
# sockets.
#
# `weftd passwd` through a pipe (add, replace, refusals; the file's mode);
# the users file's errors; then with a small Python frame client: every
# command but hello and quit answered auth_required before a login; wrong
# and unknown users (auth_failed, in about the same time); per-user roots
# and read-only users; the rate limit on failed logins in the fork and
# prefork models (every connection its own process: the counter is
# shared) and its expiry; the rules beyond loopback; --user (the serving
# processes' ids, when this runs as root); Landlock (a file outside the
# library cannot be opened by weftd itself; skipped where the kernel has
# no Landlock).
#
# Usage: bash tests/integration/test_weftd_auth.sh BUILD_DIR
set -euo pipefail
W=$1/weftd
if [ ! -x "$W" ]; then
    echo "SKIP: weftd not built here"
    exit 0
fi
if ! command -v python3 >/dev/null; then
    echo "SKIP: python3 missing (the test's frame client)"
    exit 0
fi
W=$(cd "$(dirname "$W")" && pwd)/weftd
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
chmod 755 "$tmp"
pid=
cleanup() {
    if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# expect_exit CODE ARGS...: weftd exits with CODE (stdin from /dev/null).
expect_exit() {
    local want=$1 rc=0
    shift
    (cd "$tmp" && timeout 20 "$W" "$@") </dev/null >/dev/null 2>"$tmp/err" ||
        rc=$?
    [ "$rc" -eq "$want" ] ||
        fail "weftd $*: exit $rc, expected $want: $(cat "$tmp/err")"
}
# start OUT ARGS...: weftd in the background; sets pid and port.
start() {
    local out=$1
    shift
    (cd "$tmp" && exec "$W" "$@") 2>"$out" &
    pid=$!
    for _ in $(seq 200); do
        grep -q '^weftd: serving' "$out" && break
        kill -0 "$pid" 2>/dev/null ||
            fail "weftd $* did not start: $(cat "$out")"
        sleep 0.05
    done
    port=$(sed -n 's/^weftd: serving .* on [^ ]*:\([0-9][0-9]*\)[ ,].*/\1/p' \
        "$out" | head -n 1)
    [ -n "$port" ] || fail "no serving line: $(cat "$out")"
}
stop() {
    local rc=0
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    pid=
    [ "$rc" -eq 0 ] || fail "weftd exited $rc after SIGTERM"
}

# ---- weftd passwd -----------------------------------------------------------

U=$tmp/users
passwd() { (cd "$tmp" && "$W" passwd --users "$U" "$@") 2>"$tmp/err"; }
printf 'secret\n' | passwd ana || fail "passwd ana: $(cat "$tmp/err")"
printf 'bopw\n' | passwd bo --root shared/bo --read-only ||
    fail "passwd bo: $(cat "$tmp/err")"
printf 'carolpw\n' | passwd carol --root carol || fail "passwd carol"
[ "$(stat -c %a "$U")" = 600 ] || fail "users file mode $(stat -c %a "$U")"
grep -q '^ana:\$argon2id\$v=19\$m=65536,t=2,p=1\$' "$U" ||
    fail "ana: $(cat "$U")"
grep -q '^bo:\$argon2id\$.*:root=shared/bo:ro$' "$U" || fail "bo: $(cat "$U")"
# A new password replaces the line, in place; other lines stay.
echo "# a comment of the operator's" >>"$U"
old=$(grep '^ana:' "$U")
printf 'wrong-then-right\n' | passwd ana || fail "passwd ana again"
printf 'secret\n' | passwd ana || fail "passwd ana again"
[ "$(grep -c '^ana:' "$U")" -eq 1 ] || fail "ana twice: $(cat "$U")"
[ "$(grep '^ana:' "$U")" != "$old" ] || fail "ana's hash unchanged"
[ "$(head -n 2 "$U" | tail -n 1 | cut -d: -f1)" = ana ] || fail "order"
grep -q "^# a comment of the operator's" "$U" || fail "comment lost"
ls "$tmp" | grep -q 'users.tmp' && fail "temporary file left"
rc=0; printf 'x\n' | passwd 'bad name' || rc=$?
[ "$rc" -eq 2 ] || fail "passwd bad name: exit $rc"
rc=0; printf 'x\n' | passwd dan --root ../out || rc=$?
[ "$rc" -eq 2 ] || fail "passwd --root ../out: exit $rc"
rc=0; printf '\n' | passwd dan || rc=$?
[ "$rc" -eq 1 ] || fail "passwd empty password: exit $rc"
grep -q '^dan:' "$U" && fail "dan written"

# The users file's errors: exit 2, naming the line.
printf 'ana:notahash\n' >"$tmp/bad1"
expect_exit 2 --users "$tmp/bad1" --listen 127.0.0.1:0
grep -q "bad1:1: the second field is not an argon2 hash" "$tmp/err" ||
    fail "bad users file: $(cat "$tmp/err")"
{ grep '^ana:' "$U"; grep '^ana:' "$U"; } >"$tmp/bad2"
expect_exit 2 --users "$tmp/bad2" --listen 127.0.0.1:0
grep -q "bad2:2: this user has a line already" "$tmp/err" || fail "duplicate"
printf '%s:frob\n' "$(grep '^ana:' "$U")" >"$tmp/bad3"
expect_exit 2 --users "$tmp/bad3" --listen 127.0.0.1:0
grep -q "bad3:1: bad option" "$tmp/err" || fail "bad option"
expect_exit 2 --users "$tmp/missing" --listen 127.0.0.1:0

# ---- the rules beyond loopback ----------------------------------------------

expect_exit 2 --root "$tmp/lp" --listen 0.0.0.0:0
grep -q "refusing to serve beyond this machine without users" "$tmp/err" ||
    fail "beyond loopback: $(cat "$tmp/err")"
# With users it serves, warning that nothing is encrypted yet.
start "$tmp/s0" --root "$tmp/lp" --listen 0.0.0.0:0 --users "$U"
grep -q "WARNING: listening beyond this machine without TLS" "$tmp/s0" ||
    fail "no TLS warning: $(cat "$tmp/s0")"
stop
# In the config file too.
printf 'root = %s\nlisten = 0.0.0.0:0\ninsecure-public = yes\n' \
    "$tmp/lp" >"$tmp/pub.conf"
start "$tmp/s0" --config "$tmp/pub.conf"
grep -q "WARNING: listening beyond this machine without users" "$tmp/s0" ||
    fail "config insecure-public: $(cat "$tmp/s0")"
stop

# ---- the protocol, with the Python frame client -----------------------------
export PYTHONPATH="$(cd "$(dirname "$0")" && pwd)${PYTHONPATH:+:$PYTHONPATH}"
cat >"$tmp/t.py" <<'PY'
# weftd's login checks, driven by test_weftd_auth.sh. Usage:
# t.py CHECK PORT [ARGS...]
import json, os, socket, struct, sys, time, hashlib


def fail(msg):
    print('FAIL: ' + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


from frameclient import closed, frame, recv_exact, recv_frame


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=30)

    def req(self, hdr, body=b''):
        self.s.sendall(frame(hdr, body))
        return recv_frame(self.s)

    def ok(self, hdr, body=b''):
        h, b = self.req(hdr, body)
        check(h.get('ok') is True, '%s -> %s' % (hdr, h))
        return h, b

    def err(self, hdr, code, body=b''):
        h, _ = self.req(hdr, body)
        check(h.get('ok') is False and h.get('error') == code,
              '%s: expected %s, got %s' % (str(hdr)[:80], code, h))
        return h

    def login(self, user, pw):
        return self.req({'cmd': 'hello', 'user': user, 'password': pw})[0]


def put(c, name, data):
    return c.ok({'cmd': 'put', 'file_name': name,
                 'sha256': hashlib.sha256(data).hexdigest()}, data)


def basics(port, lib):
    c = Conn(port)
    h, _ = c.ok({'cmd': 'hello'})
    check(h['auth'] is False, 'hello without user: %s' % h)
    for req in ({'cmd': 'list'}, {'cmd': 'stat', 'path': ''},
                {'cmd': 'get', 'file_name': 'README.txt'},
                {'cmd': 'mkdir', 'path': 'x'}, {'cmd': 'delete', 'path': 'x'},
                {'cmd': 'frob'}):
        c.err(req, 'auth_required')
    c.err({'cmd': 'hello', 'user': 'ana'}, 'bad_request')  # no password
    h = c.login('ana', 'nope')
    check(h.get('error') == 'auth_failed', 'wrong password: %s' % h)
    c.err({'cmd': 'list'}, 'auth_required')
    h = c.login('nobody-here', 'nope')
    check(h.get('error') == 'auth_failed', 'unknown user: %s' % h)
    h = c.login('ana', 'secret')
    check(h.get('ok') is True and h['auth'] is True and h['user'] == 'ana'
          and h['read_only'] is False, 'login: %s' % h)
    put(c, 'a.txt', b'ana was here')
    h, body = c.ok({'cmd': 'list'})
    names = [e['name'] for e in json.loads(body)]
    check('a.txt' in names and 'shared' in names and 'carol' in names,
          'ana sees the library: %s' % names)
    c.ok({'cmd': 'quit'})
    # put before a login: refused, and the connection closed (the body
    # was not read).
    c = Conn(port)
    c.err({'cmd': 'put', 'file_name': 'p.txt', 'file_size': 3}, 'auth_required')
    check(closed(c.s), 'put before login closes')
    check(not os.path.exists(os.path.join(lib, 'p.txt')), 'p.txt stored')
    # The course's classic upload is refused without a word.
    c = Conn(port)
    c.s.sendall(frame({'file_name': 'classic.txt'}, b'abc'))
    check(closed(c.s), 'classic upload closes')
    check(not os.path.exists(os.path.join(lib, 'classic.txt')), 'classic')
    print('basics: ok')


def roots(port, lib):
    os.makedirs(os.path.join(lib, 'shared', 'bo'), exist_ok=True)
    with open(os.path.join(lib, 'shared', 'bo', 'b.txt'), 'wb') as f:
        f.write(b'for bo')
    c = Conn(port)
    h = c.login('bo', 'bopw')
    check(h.get('ok') is True and h['read_only'] is True, 'bo: %s' % h)
    h, body = c.ok({'cmd': 'list', 'path': ''})
    check([e['name'] for e in json.loads(body)] == ['b.txt'],
          'bo sees his root only: %s' % body)
    h, body = c.ok({'cmd': 'get', 'file_name': 'b.txt'})
    check(body == b'for bo', 'bo gets b.txt')
    c.err({'cmd': 'stat', 'path': 'a.txt'}, 'not_found')
    c.err({'cmd': 'stat', 'path': '../a.txt'}, 'bad_path')
    c.err({'cmd': 'mkdir', 'path': 'x'}, 'read_only')
    c.err({'cmd': 'delete', 'path': 'b.txt'}, 'read_only')
    c.err({'cmd': 'put', 'file_name': 'n.txt', 'file_size': 2}, 'read_only')
    check(closed(c.s), 'refused put closes')
    c = Conn(port)
    h = c.login('carol', 'carolpw')
    check(h.get('ok') is True and h['read_only'] is False, 'carol: %s' % h)
    put(c, 'c.txt', b'carol')
    c.ok({'cmd': 'mkdir', 'path': 'sub'})
    with open(os.path.join(lib, 'carol', 'c.txt'), 'rb') as f:
        check(f.read() == b'carol', 'carol writes in her root')
    check(os.path.isdir(os.path.join(lib, 'carol', 'sub')), 'carol mkdir')
    # A failed login ends the session: back to nothing.
    h = c.login('carol', 'bad')
    check(h.get('error') == 'auth_failed', 'relogin fails: %s' % h)
    c.err({'cmd': 'list'}, 'auth_required')
    print('roots: ok')


def timing(port):
    """An unknown name costs about what a wrong password does."""
    def t(user):
        best = 1e9
        for _ in range(2):
            c = Conn(port)
            t0 = time.monotonic()
            h = c.login(user, 'wrong')
            best = min(best, time.monotonic() - t0)
            check(h.get('error') == 'auth_failed', '%s: %s' % (user, h))
        return best
    known, unknown = t('ana'), t('zed')
    check(unknown > known / 3 and known > unknown / 3,
          'timing: known %.3f s, unknown %.3f s' % (known, unknown))
    print('timing: ok (known %.3f s, unknown %.3f s)' % (known, unknown))


def ratelimit(port, limit, window):
    """limit failures, each on its own connection (a process of its own
    in the fork and prefork models), lock the address out - even for the
    right password - until the window is over."""
    for i in range(limit):
        h = Conn(port).login('ana', 'wrong%d' % i)
        check(h.get('error') == 'auth_failed', 'failure %d: %s' % (i, h))
    h = Conn(port).login('ana', 'secret')
    check(h.get('error') == 'rate_limited' and
          1 <= h.get('retry_after', 0) <= window, 'limited: %s' % h)
    h = Conn(port).login('zed', 'x')
    check(h.get('error') == 'rate_limited', 'limited, unknown name: %s' % h)
    time.sleep(h['retry_after'] + 0.5)
    h = Conn(port).login('ana', 'secret')
    check(h.get('ok') is True, 'after the window: %s' % h)
    print('ratelimit: ok')


def works(port):
    """A login, a put, a get: the server works as it is."""
    c = Conn(port)
    check(c.login('ana', 'secret').get('ok') is True, 'login')
    data = os.urandom(10000)
    put(c, 'w.bin', data)
    h, b = c.ok({'cmd': 'get', 'file_name': 'w.bin'})
    check(b == data, 'get w.bin')
    c.ok({'cmd': 'mkdir', 'path': 'wd/e', 'parents': True})
    c.ok({'cmd': 'delete', 'path': 'w.bin'})
    print('works: ok')


what, port = sys.argv[1], int(sys.argv[2])
args = sys.argv[3:]
if what == 'basics':
    basics(port, *args)
elif what == 'roots':
    roots(port, *args)
elif what == 'timing':
    timing(port)
elif what == 'ratelimit':
    ratelimit(port, int(args[0]), int(args[1]))
elif what == 'works':
    works(port)
else:
    fail('no check ' + what)
PY
T() { python3 "$tmp/t.py" "$@" || fail "check $1"; }

lib=$tmp/lib
start "$tmp/s1" --root "$lib" --listen 127.0.0.1:0 --users "$U" \
    --login-limit 100/60
[ -d "$lib/shared/bo" ] && [ -d "$lib/carol" ] || fail "users' roots not made"
T basics "$port" "$lib"
T roots "$port" "$lib"
T timing "$port"
stop

# users and login-limit in the config file; a bad --login-limit.
expect_exit 2 --users "$U" --login-limit 5
expect_exit 2 --users "$U" --login-limit 0/60
printf 'root = %s\nlisten = 127.0.0.1:0\nusers = %s\nlogin-limit = 2/60\n' \
    "$lib" "$U" >"$tmp/users.conf"
start "$tmp/s1" --config "$tmp/users.conf"
T works "$port"
stop

# The rate limit, shared by the processes of fork and prefork.
for model in fork prefork coroutine; do
    start "$tmp/s2" --root "$lib" --listen 127.0.0.1:0 --users "$U" \
        --model "$model" --workers 2 --login-limit 3/2
    T ratelimit "$port" 3 2
    grep -q "login as ana refused: too many failures" "$tmp/s2" ||
        fail "no rate-limit log line ($model)"
    stop
done

# ---- --user: the privilege drop ---------------------------------------------

if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
    nuid=$(id -u nobody)
    ngid=$(id -g nobody)
    expect_exit 2 --user no-such-user-here --listen 127.0.0.1:0
    # Not root: --user is an error.
    rc=0
    setpriv --reuid "$nuid" --regid "$ngid" --clear-groups \
        "$W" --user nobody --root "$tmp/np" --listen 127.0.0.1:0 \
        </dev/null 2>"$tmp/err" || rc=$?
    [ "$rc" -eq 2 ] || fail "--user as non-root: exit $rc: $(cat "$tmp/err")"
    grep -q "not running as root" "$tmp/err" || fail "$(cat "$tmp/err")"

    for model in prefork fork; do
        rm -rf "$tmp/nl"
        start "$tmp/s3" --root "$tmp/nl" --listen 127.0.0.1:0 --users "$U" \
            --model "$model" --workers 2 --user nobody
        grep -q "WARNING: running as root" "$tmp/s3" && fail "root warning"
        [ "$(stat -c %u "$tmp/nl")" = "$nuid" ] || fail "library not chowned"
        # A connection that stays open: in fork, its own process.
        python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(6)' "$port" &
        holder=$!
        # Wait for the serving child (slow to appear under ASan and load:
        # a fixed 0.5 s once was not enough).
        for _ in $(seq 50); do
            procs="$pid $(cat /proc/"$pid"/task/*/children)"
            [ "$(wc -w <<<"$procs")" -ge 2 ] && break
            sleep 0.1
        done
        [ "$(wc -w <<<"$procs")" -ge 2 ] || fail "no serving children ($model)"
        want=$(printf 'Uid:\t%s\t%s\t%s\t%s' "$nuid" "$nuid" "$nuid" "$nuid")
        wantg=$(printf 'Gid:\t%s\t%s\t%s\t%s' "$ngid" "$ngid" "$ngid" "$ngid")
        for p in $procs; do
            grep -q "^$want$" "/proc/$p/status" ||
                fail "$model: process $p: $(grep '^Uid' "/proc/$p/status")"
            grep -q "^$wantg$" "/proc/$p/status" ||
                fail "$model: process $p: $(grep '^Gid' "/proc/$p/status")"
            grep -q "^Groups:.*\b0\b" "/proc/$p/status" &&
                fail "$model: process $p keeps group root"
        done
        kill "$holder" 2>/dev/null || true
        wait "$holder" 2>/dev/null || true
        T works "$port"
        stop
    done
    echo "--user: ok"
else
    echo "SKIP: --user (not root, or no user nobody)"
fi

# ---- Landlock ---------------------------------------------------------------

outside=$tmp/outside.txt
echo "not the library's" >"$outside"
start "$tmp/s4" --root "$tmp/ll" --listen 127.0.0.1:0 --users "$U" \
    --model fork
pid_ll=$pid
if grep -q "landlock: confined to $tmp/ll (ABI" "$tmp/s4"; then
    stop
    WEFTD_TEST_OPEN=$outside start "$tmp/s5" --root "$tmp/ll" \
        --listen 127.0.0.1:0 --users "$U" --model prefork
    grep -q "test: open $outside: Permission denied" "$tmp/s5" ||
        fail "landlock let weftd open $outside: $(cat "$tmp/s5")"
    T works "$port"
    stop
    # Inside the library, it can.
    echo in >"$tmp/ll/in.txt"
    WEFTD_TEST_OPEN=$tmp/ll/in.txt start "$tmp/s6" --root "$tmp/ll" \
        --listen 127.0.0.1:0 --users "$U"
    grep -q "test: open $tmp/ll/in.txt: ok" "$tmp/s6" ||
        fail "landlock: $(cat "$tmp/s6")"
    stop
    # --no-landlock: the outside file opens.
    WEFTD_TEST_OPEN=$outside start "$tmp/s7" --root "$tmp/ll" \
        --listen 127.0.0.1:0 --users "$U" --no-landlock
    grep -q "test: open $outside: ok" "$tmp/s7" || fail "$(cat "$tmp/s7")"
    grep -q "landlock: off (--no-landlock)" "$tmp/s7" || fail "no off line"
    stop
    echo "landlock: ok"
else
    grep -q "landlock: not available" "$tmp/s4" ||
        fail "no landlock line: $(cat "$tmp/s4")"
    [ "$pid" = "$pid_ll" ] && stop
    echo "SKIP: landlock (the kernel has none: $(grep -o 'not available.*' \
        "$tmp/s4"))"
fi
echo "test_weftd_auth: ok"
