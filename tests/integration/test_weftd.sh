#!/usr/bin/env bash
# test_weftd.sh - weftd, the file server, driven over real sockets.
#
# Options and exit codes (bad options 2, cannot start 1, SIGTERM 0), the
# config file, the default library, IPv4 and IPv6, the refusal beyond
# loopback without users (and the warning with --insecure-public), systemd socket activation; then with a small frame client in
# Python: every command in each of the six models, 100 concurrent
# clients (distinct and identical names, checksums verified), resumed
# get and put, kill -9 during 50 uploads (after a restart every visible
# file is whole), bad paths and symlinks out (with openat2 and with the
# component walk of old kernels), malformed frames, quota, read-only,
# the busy refusal, the course's classic upload, and a full disk (on a
# small tmpfs, when this runs as root and may mount).
#
# Usage: bash tests/integration/test_weftd.sh BUILD_DIR
# WEFTD_TABLE=FILE writes the bad-path table of docs/SECURITY.md there.
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
pid=
mounted=
cleanup() {
    if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    if [ -n "$mounted" ]; then umount "$mounted" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---- options, start and stop ----------------------------------------------

# expect_exit CODE ARGS...: weftd exits with CODE, saying one line.
expect_exit() {
    local want=$1 rc=0
    shift
    (cd "$tmp" && timeout 10 "$W" "$@") >/dev/null 2>"$tmp/err" || rc=$?
    [ "$rc" -eq "$want" ] ||
        fail "weftd $*: exit $rc, expected $want: $(cat "$tmp/err")"
    if [ "$want" -ne 0 ]; then
        [ "$(wc -l <"$tmp/err")" -eq 1 ] ||
            fail "weftd $*: not one line: $(cat "$tmp/err")"
    fi
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
# stop: SIGTERM, and a clean exit.
stop() {
    local rc=0
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    pid=
    [ "$rc" -eq 0 ] || fail "weftd exited $rc after SIGTERM"
}

expect_exit 0 --help
grep -q -- '--max-upload' <<<"$(cd "$tmp" && "$W" --help)" || fail "--help"
expect_exit 0 --version
expect_exit 2 --bogus
expect_exit 2 --model nonesuch
expect_exit 2 --max-upload 12X
expect_exit 2 --workers 0
expect_exit 2 --listen
expect_exit 2 stray-argument
echo "not a folder" >"$tmp/file"
expect_exit 1 --root "$tmp/file" --listen 127.0.0.1:0
expect_exit 2 --config "$tmp/missing.conf"
printf 'root = %s\nfrobs = 3\n' "$tmp/x" >"$tmp/bad.conf"
expect_exit 2 --config "$tmp/bad.conf"
grep -q "bad.conf:2: unknown option 'frobs'" "$tmp/err" ||
    fail "config error: $(cat "$tmp/err")"

# The default library, ./library, is created with a README.
start "$tmp/s1" --listen 127.0.0.1:0
[ -f "$tmp/library/README.txt" ] || fail "default library not created"
grep -q "^weftd: serving $tmp/library on 127.0.0.1:$port (model coroutine)$" \
    "$tmp/s1" ||
    fail "serving line: $(cat "$tmp/s1")"
grep -q "WARNING: listening beyond" "$tmp/s1" && fail "warned on loopback"
# The same port again: one line, exit 1.
expect_exit 1 --listen "127.0.0.1:$port"
grep -q "cannot listen on 127.0.0.1:$port" "$tmp/err" ||
    fail "port in use: $(cat "$tmp/err")"
stop

# The config file; the command line wins.
cat >"$tmp/weftd.conf" <<CONF
# a comment
root = $tmp/conflib
listen = 127.0.0.1:0
model = thread
max-upload = 1K
read-only = no
CONF
start "$tmp/s2" --config "$tmp/weftd.conf" --model fork --log "$tmp/log"
grep -q "serving $tmp/conflib on 127.0.0.1:[0-9]* (model fork)" "$tmp/s2" ||
    fail "config: $(cat "$tmp/s2")"
stop
grep -q "server: SIGTERM, stopping" "$tmp/log" ||
    fail "--log: $(cat "$tmp/log")"

# Beyond loopback without users: refused, unless --insecure-public, which
# gets a loud warning. IPv6 too, when the host has it.
expect_exit 2 --root "$tmp/l3" --listen 0.0.0.0:0
grep -q "refusing to serve beyond this machine without users" "$tmp/err" ||
    fail "beyond loopback: $(cat "$tmp/err")"
start "$tmp/s3" --root "$tmp/l3" --listen 0.0.0.0:0 --insecure-public
grep -q "WARNING: listening beyond this machine without users" "$tmp/s3" ||
    fail "no warning"
stop
v6='import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))'
if python3 -c "$v6" 2>/dev/null; then
    start "$tmp/s4" --root "$tmp/l3" --listen '[::1]:0' --listen 127.0.0.1:0
    grep -q "on \[::1\]:[0-9]*, 127.0.0.1:[0-9]* (model" "$tmp/s4" ||
        fail "IPv6: $(cat "$tmp/s4")"
    grep -q "WARNING: listening beyond" "$tmp/s4" && fail "warned on ::1"
    stop
fi

# ---- the protocol, with the Python frame client -----------------------------
export PYTHONPATH="$(cd "$(dirname "$0")" && pwd)${PYTHONPATH:+:$PYTHONPATH}"
cat >"$tmp/t.py" <<'PY'
# weftd's integration checks, driven by test_weftd.sh: a tiny frame client
# (4-byte little-endian header length, JSON header, file_size body bytes)
# and one function per check. Usage: t.py WEFTD TMPDIR CHECK [ARGS...]
import atexit, hashlib, json, os, random, signal, socket, struct, subprocess
import sys, threading, time

WEFTD, TMP = sys.argv[1], sys.argv[2]


def fail(msg):
    print('FAIL: ' + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def sha(b):
    return hashlib.sha256(b).hexdigest()


# ---- the frame client ------------------------------------------------------

from frameclient import closed, frame, recv_exact, recv_frame


class Conn:
    def __init__(self, port, host='127.0.0.1'):
        self.s = socket.create_connection((host, port), timeout=30)

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

    def put(self, name, data, **kw):
        hdr = dict(cmd='put', file_name=name, sha256=sha(data))
        hdr.update(kw)
        return self.ok(hdr, data)[0]

    def get(self, name, offset=0):
        h, b = self.ok(dict(cmd='get', file_name=name, offset=offset))
        return h, b

    def close(self):
        self.s.close()


RUNNING = []


def kill_all():
    for p in RUNNING:
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(kill_all)

# ---- starting weftd ---------------------------------------------------------

class Server:
    def __init__(self, *args, env=None, expect_start=True):
        self.err = open(os.path.join(TMP, 'weftd.err'), 'w+')
        e = dict(os.environ)
        e.update(env or {})
        self.p = subprocess.Popen([WEFTD] + list(args), stderr=self.err,
                                  env=e)
        self.port = None
        RUNNING.append(self.p)
        deadline = time.time() + 10
        while time.time() < deadline:
            text = self.stderr()
            for line in text.splitlines():
                if line.startswith('weftd: serving '):
                    self.port = int(line.split(' on ')[1].split(',')[0]
                                    .split(' ')[0].rsplit(':', 1)[1])
                    return
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        if expect_start:
            fail('weftd did not start: ' + self.stderr())

    def stderr(self):
        self.err.flush()
        with open(self.err.name) as f:
            return f.read()

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(20)
        check(rc == 0, 'weftd exited with %s after SIGTERM: %s'
              % (rc, self.stderr()[-2000:]))

    def kill(self):
        self.p.kill()
        self.p.wait()


def lib(name):
    d = os.path.join(TMP, name)
    subprocess.run(['rm', '-rf', d])
    return d


# ---- checks ------------------------------------------------------------------

def commands(port, fallback=False):
    """Every command, its replies and its errors."""
    c = Conn(port)
    h, _ = c.ok({'cmd': 'hello', 'versions': [1], 'client': 't/1', 'id': 7})
    check(h['version'] == 1 and h['auth'] is False and h['id'] == 7 and
          h['server'].startswith('weftd/') and h['read_only'] is False,
          'hello: %s' % h)
    c.ok({'cmd': 'hello'})
    h = c.err({'cmd': 'hello', 'versions': [2, 3], 'id': 'x'}, 'version')
    check(h['id'] == 'x', 'id echoed on errors')
    c.err({'cmd': 'hello', 'versions': 1}, 'bad_request')

    c.ok({'cmd': 'mkdir', 'path': 'd'})
    c.err({'cmd': 'mkdir', 'path': 'd'}, 'exists')
    c.err({'cmd': 'mkdir', 'path': 'q/r'}, 'not_found')
    c.ok({'cmd': 'mkdir', 'path': 'x/y/z', 'parents': True})
    c.ok({'cmd': 'mkdir', 'path': 'x/y/z', 'parents': True})

    data = b'hello'
    h = c.put('d/a.txt', data, id=[1, 2])
    check(h['size'] == 5 and h['sha256'] == sha(data) and h['id'] == [1, 2],
          'put reply %s' % h)
    c.err({'cmd': 'put', 'file_name': 'd/b.txt', 'sha256': '0' * 64},
          'checksum', b'other')
    c.err({'cmd': 'stat', 'path': 'd/b.txt'}, 'not_found')
    c.ok({'cmd': 'put', 'file_name': 'd/empty'})  # no body: an empty file
    h, body = c.ok({'cmd': 'list', 'path': 'd'})
    entries = json.loads(body)
    check(h['count'] == 2 and [e['name'] for e in entries] == ['a.txt', 'empty']
          and entries[0] == {'name': 'a.txt', 'type': 'file', 'size': 5,
                             'mtime': entries[0]['mtime']},
          'list d: %s %s' % (h, entries))
    h, body = c.ok({'cmd': 'list', 'path': ''})
    names = [e['name'] for e in json.loads(body)]
    check('README.txt' in names and 'd' in names and 'x' in names and
          not any(n.startswith('.weft') for n in names), 'list: %s' % names)
    check(names == sorted(names), 'list sorted')
    h, _ = c.ok({'cmd': 'stat', 'path': 'd/a.txt'})
    check(h['type'] == 'file' and h['size'] == 5 and h['sha256'] == sha(data)
          and 'partial_size' not in h, 'stat %s' % h)
    h, _ = c.ok({'cmd': 'stat', 'path': 'd'})
    check(h['type'] == 'dir' and 'sha256' not in h, 'stat dir %s' % h)
    h, _ = c.ok({'cmd': 'stat', 'path': ''})
    check(h['type'] == 'dir', 'stat of the library')
    c.err({'cmd': 'stat', 'path': 'nope'}, 'not_found')

    h, body = c.get('d/a.txt')
    check(body == data and h['total_size'] == 5 and h['offset'] == 0 and
          h['sha256'] == sha(data), 'get %s' % h)
    h, body = c.get('d/a.txt', 2)
    check(body == b'llo' and h['total_size'] == 5 and h['sha256'] == sha(data),
          'get offset %s %r' % (h, body))
    h, body = c.get('d/a.txt', 5)
    check(body == b'' and h.get('file_size', 0) == 0, 'get at the end')
    c.err({'cmd': 'get', 'file_name': 'd/a.txt', 'offset': 6}, 'bad_request')
    c.err({'cmd': 'get', 'file_name': 'd/a.txt', 'offset': -1}, 'bad_request')
    c.err({'cmd': 'get', 'file_name': 'd'}, 'is_a_directory')
    c.err({'cmd': 'get', 'file_name': 'nope'}, 'not_found')
    c.err({'cmd': 'get'}, 'bad_request')
    c.err({'cmd': 'list', 'path': 'd/a.txt'}, 'not_a_directory')
    c.err({'cmd': 'list', 'path': 'd/a.txt/x'}, 'not_a_directory')
    c.err({'cmd': 'put', 'file_name': 'd'}, 'is_a_directory')
    c = Conn(port)  # that refusal closed the connection

    # A replaced file gets a new digest (the xattr cache follows versions).
    data2 = os.urandom(3000)
    c.put('d/a.txt', data2)
    h, _ = c.ok({'cmd': 'stat', 'path': 'd/a.txt'})
    check(h['sha256'] == sha(data2), 'stat after replace')
    h, body = c.get('d/a.txt')
    check(body == data2, 'get after replace')

    c.err({'cmd': 'delete', 'path': 'x'}, 'not_empty')
    c.ok({'cmd': 'delete', 'path': 'd/a.txt'})
    c.err({'cmd': 'delete', 'path': 'd/a.txt'}, 'not_found')
    c.ok({'cmd': 'delete', 'path': 'd/empty'})
    c.ok({'cmd': 'delete', 'path': 'd'})  # it held a .weft-partial folder
    c.err({'cmd': 'delete', 'path': ''}, 'bad_path')
    for p in ('x/y/z', 'x/y', 'x'):
        c.ok({'cmd': 'delete', 'path': p})

    c.err({'cmd': 'frobnicate'}, 'unknown_command')
    c.err({'cmd': 5}, 'bad_request')
    c.err({'nothing': True}, 'bad_request')
    c.err({'cmd': 'list', 'path': 5}, 'bad_request')
    # A body on a command that takes none is read past.
    c.err({'cmd': 'frobnicate'}, 'unknown_command', b'x' * 1000)
    c.ok({'cmd': 'hello'})
    h, _ = c.ok({'cmd': 'quit'})
    check(closed(c.s), 'quit closes')
    print('commands: ok')


def concurrent(port, n=100):
    """n clients at once, distinct and identical names, all verified."""
    errors = []
    same = {}
    lock = threading.Lock()
    Conn(port).ok({'cmd': 'mkdir', 'path': 'c'})

    def one(i):
        try:
            c = Conn(port)
            data = os.urandom(random.randint(1, 300) * 1024)
            c.put('c/%d.bin' % i, data)
            if i % 5 == 0:  # 20 clients write one name at once
                d2 = os.urandom(random.randint(1, 300) * 1024)
                with lock:
                    same[sha(d2)] = d2
                c.put('c/same.bin', d2)
            h, b = c.get('c/%d.bin' % i)
            if b != data or h['sha256'] != sha(data):
                errors.append('client %d got other bytes' % i)
            h, b = c.get('c/same.bin') if i % 5 == 0 else (None, None)
            if h is not None and (sha(b) != h['sha256'] or
                                  h['sha256'] not in same):
                errors.append('same.bin is a mixture (client %d)' % i)
            c.close()
        except Exception as e:  # noqa
            errors.append('client %d: %r' % (i, e))

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(not errors, '; '.join(errors[:5]))
    c = Conn(port)
    h, body = c.ok({'cmd': 'list', 'path': 'c'})
    check(h['count'] == n + 1, 'list c: %d entries' % h['count'])
    h, b = c.get('c/same.bin')
    check(sha(b) in same and h['sha256'] == sha(b), 'same.bin whole')
    print('concurrent: %d clients ok' % n)


def resume(port, root):
    # 20 MiB: both the cut put and its resume carry over 8 MiB, so they
    # are hashed on weftd's hasher thread (the resume's continuing the
    # digest of the partial's bytes).
    data = os.urandom(20 << 20)
    # An interrupted put: half the body, then the connection drops.
    s = socket.create_connection(('127.0.0.1', port))
    hdr = json.dumps({'cmd': 'put', 'file_name': 'big.bin',
                      'file_size': len(data), 'sha256': sha(data)}).encode()
    half = len(data) // 2 + 12345
    s.sendall(struct.pack('<I', len(hdr)) + hdr + data[:half])
    s.close()
    got = 0
    c = Conn(port)
    for _ in range(200):
        h, _ = c.req({'cmd': 'stat', 'path': 'big.bin'})
        got = h.get('partial_size', 0)
        if got:
            break
        time.sleep(0.05)
    check(h['ok'] is False and h['error'] == 'not_found' and got == half,
          'partial after a cut put: %s (sent %d)' % (h, half))
    check(not os.path.exists(os.path.join(root, 'big.bin')),
          'nothing visible after a cut put')
    # A wrong offset is refused, with what is held; that closes.
    h = c.err({'cmd': 'put', 'file_name': 'big.bin', 'offset': 10,
               'total_size': len(data)}, 'offset', data[10:20])
    check(h['partial_size'] == half, 'offset error says %s' % h)
    c = Conn(port)
    h = c.put('big.bin', data[half:], offset=half, total_size=len(data),
              sha256=sha(data))
    check(h['size'] == len(data) and h['sha256'] == sha(data), 'resumed put')
    h, _ = c.ok({'cmd': 'stat', 'path': 'big.bin'})
    check('partial_size' not in h, 'partial gone after the resume')
    # A large put whose bytes do not match its sha256: refused, and
    # nothing of it is visible.
    wrong = data[:10 << 20]
    h = c.err({'cmd': 'put', 'file_name': 'wrong.bin', 'file_size':
               len(wrong), 'sha256': sha(b'other')}, 'checksum', wrong)
    check(not os.path.exists(os.path.join(root, 'wrong.bin')),
          'a checksum failure left a file')

    # The digest is cached in an xattr for this version of the file, and
    # computed again for a version written behind weftd's back.
    path = os.path.join(root, 'big.bin')
    try:
        x = os.getxattr(path, 'user.weft.sha256').decode().split()
        check(x[0] == str(len(data)) and x[2] == sha(data), 'xattr %s' % x)
    except OSError:
        print('skip: no user xattrs here')
    with open(path, 'r+b') as f:
        f.write(b'changed')
    h, _ = c.ok({'cmd': 'stat', 'path': 'big.bin'})
    check(h['sha256'] == sha(b'changed' + data[7:]), 'stale digest used')
    with open(path, 'r+b') as f:
        f.write(data[:7])

    # A partial expires after 24 hours.
    c.close()  # (the serial model serves one connection at a time)
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(frame({'cmd': 'put', 'file_name': 'old.bin',
                     'file_size': 100}) + b'x' * 50)
    s.close()
    c = Conn(port)
    for _ in range(200):
        h, _ = c.req({'cmd': 'stat', 'path': 'old.bin'})
        if h.get('partial_size'):
            break
        time.sleep(0.05)
    check(h.get('partial_size') == 50, 'partial of old.bin: %s' % h)
    pdir = os.path.join(root, '.weft-partial')
    for f in os.listdir(pdir):
        day_ago = time.time() - 25 * 3600
        os.utime(os.path.join(pdir, f), (day_ago, day_ago))
    h, _ = c.req({'cmd': 'stat', 'path': 'old.bin'})
    check('partial_size' not in h, 'expired partial still offered: %s' % h)

    # A put in pieces: total_size larger than the body.
    h, _ = c.ok({'cmd': 'put', 'file_name': 'pieces', 'total_size': 300},
                b'a' * 100)
    check(h['partial_size'] == 100, 'piece 1: %s' % h)
    h, _ = c.ok({'cmd': 'put', 'file_name': 'pieces', 'offset': 100,
                 'total_size': 300, 'sha256': sha(b'a' * 100 + b'b' * 200)},
                b'b' * 200)
    check(h['size'] == 300, 'piece 2: %s' % h)

    # An interrupted get, resumed from where it stopped.
    c.close()
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(frame({'cmd': 'get', 'file_name': 'big.bin'}))
    n = struct.unpack('<I', recv_exact(s, 4))[0]
    h = json.loads(recv_exact(s, n))
    first = recv_exact(s, 1 << 20)
    s.close()
    c = Conn(port)
    h2, rest = c.get('big.bin', len(first))
    check(first + rest == data and h2['sha256'] == h['sha256'] == sha(data),
          'resumed get')
    print('resume: ok')


def crash(root):
    """kill -9 during ~50 uploads; after a restart every visible file is
    whole and verified."""
    srv = Server('--root', root, '--listen', '127.0.0.1:0')
    Conn(srv.port).ok({'cmd': 'mkdir', 'path': 'k'})

    def content(i):
        rnd = random.Random(i)
        size = 20000 if i % 2 else 4 << 20
        return rnd.randbytes(size)

    acked = set()

    def up(i):
        try:
            data = content(i)
            s = socket.create_connection(('127.0.0.1', srv.port))
            hdr = json.dumps({'cmd': 'put', 'file_name': 'k/%d' % i,
                              'file_size': len(data)}).encode()
            s.sendall(struct.pack('<I', len(hdr)) + hdr)
            for off in range(0, len(data), 65536):
                s.sendall(data[off:off + 65536])
                if len(data) > 100000:
                    time.sleep(0.03)
            h, _ = recv_frame(s)
            if h.get('ok'):
                acked.add(str(i))
        except Exception:  # noqa: the server dies under them
            pass

    ts = [threading.Thread(target=up, args=(i,)) for i in range(50)]
    for t in ts:
        t.start()
    # Kill once the small uploads are answered, the big ones (2 s each)
    # still in flight.
    deadline = time.time() + 1.5
    while len(acked) < 20 and time.time() < deadline:
        time.sleep(0.02)
    srv.kill()
    acked_at_kill = set(acked)
    for t in ts:
        t.join()
    srv = Server('--root', root, '--listen', '127.0.0.1:0')
    c = Conn(srv.port)
    h, body = c.ok({'cmd': 'list', 'path': 'k'})
    names = [e['name'] for e in json.loads(body)]
    check(len(names) > 0, 'some uploads finished before the kill')
    check(acked_at_kill <= set(names), 'an acknowledged upload was lost')
    check(len(names) < 50, 'no upload was in flight at the kill')
    for n in names:
        want = content(int(n))
        h, b = c.get('k/' + n)
        check(b == want and h['sha256'] == sha(want),
              'k/%s is not whole after kill -9' % n)
    on_disk = [f for f in os.listdir(os.path.join(root, 'k'))
               if not f.startswith('.weft')]
    check(sorted(on_disk) == sorted(names), 'disk and list agree')
    srv.stop()
    print('crash: %d of 50 files visible (%d acknowledged), all whole'
          % (len(names), len(acked_at_kill)))


def classic(port, root):
    data = os.urandom(48213)
    for hdr, name in (({'file_name': '/home/ana/photo.jpg'}, 'photo.jpg'),
                      ({'file_name': 'x.jpg', 'new_file_name': 'copy.jpg'},
                       'copy.jpg')):
        s = socket.create_connection(('127.0.0.1', port))
        s.sendall(frame(hdr, data))
        check(closed_after_upload(s), 'classic upload: no reply expected')
        c = Conn(port)
        for _ in range(200):
            h, _ = c.req({'cmd': 'stat', 'path': name})
            if h['ok']:
                break
            time.sleep(0.05)
        check(h.get('sha256') == sha(data), 'classic upload %s: %s'
              % (name, h))
        c.close()
    # Refused quietly: weftd's own names.
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(frame({'file_name': '.weft-partial'}, b'zz'))
    check(closed(s), 'classic upload of a .weft name closes')
    print('classic: ok')


def closed_after_upload(s):
    """The course's client sends and closes; weftd sends nothing back."""
    s.shutdown(socket.SHUT_WR)
    return closed(s)


BAD_PATHS = [
    ('../etc/passwd', 'bad_path'),
    ('/etc/passwd', 'bad_path'),
    ('a/../../etc/passwd', 'bad_path'),
    ('./a', 'bad_path'),
    ('.', 'bad_path'),
    ('..', 'bad_path'),
    ('a//b', 'bad_path'),
    ('a/', 'bad_path'),
    ('a\u0000b', 'bad_request'),  # jansson refuses \u0000: frame error
    ('x' * 256, 'bad_path'),
    ('a/' * 2048 + 'b', 'bad_path'),
    ('.weft-partial', 'bad_path'),
    ('sub/.weft-partial/p', 'bad_path'),
    ('.weftd.conf', 'bad_path'),
    ('escape', 'bad_path'),
    ('escape/passwd', 'bad_path'),
    ('abs_inside', 'bad_path'),
    ('proc_root/etc/passwd', 'bad_path'),
    ('..\\..\\etc\\passwd', 'not_found'),
    ('%2e%2e/etc/passwd', 'not_found'),
    ('C:\\Windows', 'not_found'),
    ('x' * 255, 'not_found'),
]


def badpaths(port, root, fallback=False):
    os.makedirs(os.path.join(root, 'sub'), exist_ok=True)
    with open(os.path.join(root, 'sub', 'in.txt'), 'w') as f:
        f.write('inside')
    links = {'escape': '/etc', 'abs_inside': os.path.join(root, 'sub'),
             'proc_root': '/proc/self/root', 'inside': 'sub',
             'sub/up': '../sub/in.txt'}
    for name, target in links.items():
        p = os.path.join(root, name)
        if not os.path.lexists(p):
            os.symlink(target, p)
    c = Conn(port)
    rows = []
    for path, want in BAD_PATHS:
        h, _ = c.req({'cmd': 'stat', 'path': path})
        got = h.get('error', 'ok')
        check(got == want, 'stat %r: %s, expected %s' % (path[:40], got, want))
        if want == 'bad_request':  # a frame error closes
            c = Conn(port)
        h, _ = c.req({'cmd': 'get', 'file_name': path})
        check(h.get('error', 'ok') == want, 'get %r: %s' % (path[:40], h))
        if want == 'bad_request':
            c = Conn(port)
        rows.append((path, got))
    for path in ('escape', 'escape/passwd', 'a/../b', '/tmp'):
        for cmd in ('put', 'delete', 'mkdir', 'list'):
            key = 'file_name' if cmd == 'put' else 'path'
            h, _ = c.req({'cmd': cmd, key: path})
            ok = ('bad_path', 'not_a_directory')
            if cmd == 'mkdir' and path == 'escape':
                ok = ('exists',)  # the name is taken (by the symlink)
            check(h.get('error') in ok,
                  '%s %r: %s' % (cmd, path, h))
            if cmd == 'put':
                c = Conn(port)
    check(os.path.isdir('/etc') and not os.path.exists(
        os.path.join(root, 'escape', '..', 'x')), 'nothing escaped')
    # Invalid UTF-8 cannot be written in JSON; a lone surrogate escape:
    s = socket.create_connection(('127.0.0.1', port))
    hdr = b'{"cmd":"stat","path":"\\ud800"}'
    s.sendall(struct.pack('<I', len(hdr)) + hdr)
    h, _ = recv_frame(s)
    check(h.get('error') == 'bad_request', 'lone surrogate: %s' % h)
    rows.append(('\\ud800 (lone surrogate)', h['error']))
    s = socket.create_connection(('127.0.0.1', port))
    hdr = b'{"cmd":"stat","path":"\xff\xfe"}'
    s.sendall(struct.pack('<I', len(hdr)) + hdr)
    h, _ = recv_frame(s)
    check(h.get('error') == 'bad_request', 'raw invalid UTF-8: %s' % h)
    rows.append(('bytes ff fe (invalid UTF-8)', h['error']))
    # Symlinks that stay inside are followed (openat2); the fallback walk
    # refuses every symlink.
    want = 'bad_path' if fallback else 'ok'
    h, _ = c.req({'cmd': 'stat', 'path': 'inside/in.txt'})
    check(h.get('error', 'ok') == want, 'inside/in.txt: %s' % h)
    h, _ = c.req({'cmd': 'get', 'file_name': 'sub/up'})
    check(h.get('error', 'ok') == want, 'sub/up: %s' % h)
    rows.append(('inside/in.txt (symlink to sub, inside)', want))
    rows.append(('sub/up (symlink ../sub/in.txt, inside)', want))
    if os.environ.get('WEFTD_TABLE'):
        with open(os.environ['WEFTD_TABLE'], 'w') as f:
            for p, r in rows:
                shown = p if len(p) < 60 else '%s... (%d bytes)' % (p[:12],
                                                                   len(p))
                shown = shown.replace('\u0000', '\\u0000')
                f.write('| `%s` | `%s` |\n' % (shown.replace('|', '\\|'), r))
    print('badpaths: %d paths ok' % len(rows))


def malformed(port):
    for raw, name in [
            (struct.pack('<I', 0), 'length 0'),
            (struct.pack('<I', 100000) + b'{}', 'length over 64 KiB'),
            (struct.pack('<I', 9) + b'{"cmd":1,', 'not JSON'),
            (struct.pack('<I', 2) + b'[]', 'an array'),
            (struct.pack('<I', 11) + b'{"a":1} xyz', 'bytes after'),
            (struct.pack('<I', 13) + b'{"a":1,"a":2}', 'duplicate key'),
            (struct.pack('<I', 31) + b'{"cmd":"list","file_size":-1}  ',
             'negative size'),
            (struct.pack('<I', 30) + b'{"cmd":"list","file_size":1.5}',
             'fractional size'),
            (struct.pack('<I', 30) + b'{"cmd":"list","file_size":"5"}',
             'size as text')]:
        s = socket.create_connection(('127.0.0.1', port))
        s.sendall(raw)
        h, _ = recv_frame(s)
        check(h.get('error') == 'bad_request', '%s: %s' % (name, h))
        check(closed(s), '%s: connection closed' % name)
    # Over --max-upload: too_large, before the body.
    s = socket.create_connection(('127.0.0.1', port))
    hdr = json.dumps({'cmd': 'put', 'file_name': 'huge',
                      'file_size': 1 << 40}).encode()
    s.sendall(struct.pack('<I', len(hdr)) + hdr)
    h, _ = recv_frame(s)
    check(h.get('error') == 'too_large', 'too_large: %s' % h)
    check(closed(s), 'too_large closes')
    # Cut mid-header and mid-body: nothing breaks.
    for raw in (struct.pack('<I', 50) + b'{"cmd"', frame(
            {'cmd': 'put', 'file_name': 'cut'}, b'x' * 1000)[:-10]):
        s = socket.create_connection(('127.0.0.1', port))
        s.sendall(raw)
        s.close()
    c = Conn(port)
    c.ok({'cmd': 'hello'})
    print('malformed: ok')


def quota(port):
    c = Conn(port)
    c.put('q1', b'a' * 60000)
    c.err({'cmd': 'put', 'file_name': 'q2'}, 'quota', b'b' * 60000)
    c = Conn(port)
    c.put('q1', b'c' * 90000)  # replacing: the old size is not counted
    c.ok({'cmd': 'delete', 'path': 'q1'})
    c.put('q2', b'b' * 60000)
    print('quota: ok')


def toolarge(port):
    """--max-upload 1K: 1024 bytes pass, 1025 do not."""
    c = Conn(port)
    c.put('k1', b'k' * 1024)
    c.err({'cmd': 'put', 'file_name': 'k2'}, 'too_large', b'k' * 1025)
    check(closed(c.s), 'too_large closes')
    c = Conn(port)
    c.err({'cmd': 'put', 'file_name': 'k3', 'total_size': 5000},
          'too_large', b'k' * 10)
    c = Conn(port)
    c.err({'cmd': 'stat', 'path': 'k2'}, 'not_found')
    print('toolarge: ok')


def readonly(port):
    c = Conn(port)
    h, _ = c.ok({'cmd': 'hello'})
    check(h['read_only'] is True, 'hello says read-only')
    c.ok({'cmd': 'list', 'path': ''})
    h, b = c.get('README.txt')
    check(len(b) > 0, 'get works read-only')
    c.err({'cmd': 'mkdir', 'path': 'm'}, 'read_only')
    c.err({'cmd': 'delete', 'path': 'README.txt'}, 'read_only')
    c.err({'cmd': 'put', 'file_name': 'n'}, 'read_only', b'xx')
    check(closed(c.s), 'refused put closes')
    print('readonly: ok')


def busy(port):
    a, b = Conn(port), Conn(port)
    a.ok({'cmd': 'hello'})
    b.ok({'cmd': 'hello'})
    s = socket.create_connection(('127.0.0.1', port))
    h, _ = recv_frame(s)
    check(h.get('ok') is False and h.get('error') == 'busy', 'busy: %s' % h)
    check(closed(s), 'busy closes')
    print('busy: ok')


def nospace(port, root):
    c = Conn(port)
    c.err({'cmd': 'put', 'file_name': 'fill'}, 'no_space',
          os.urandom(3 << 20))
    c.ok({'cmd': 'hello'})  # the connection goes on
    h, body = c.ok({'cmd': 'list', 'path': ''})
    names = [e['name'] for e in json.loads(body)]
    check(names == ['README.txt'], 'nothing visible after no_space')
    left = [f for f in os.listdir(os.path.join(root, '.weft-partial'))]
    check(left == [], 'no hidden file left: %s' % left)
    c.put('small', b's' * 1000)
    print('nospace: ok')


def activation(root):
    """systemd socket activation: a listening socket passed as fd 3."""
    ls = socket.socket()
    ls.bind(('127.0.0.1', 0))
    ls.listen(16)
    port = ls.getsockname()[1]
    pid = os.fork()
    if pid == 0:
        if ls.fileno() != 3:
            os.dup2(ls.fileno(), 3)
        os.set_inheritable(3, True)
        os.environ['LISTEN_PID'] = str(os.getpid())
        os.environ['LISTEN_FDS'] = '1'
        err = os.open(os.path.join(TMP, 'act.err'),
                      os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(err, 2)
        os.execv(WEFTD, [WEFTD, '--root', root])
    ls.close()
    try:
        for _ in range(100):
            try:
                c = Conn(port)
                break
            except OSError:
                time.sleep(0.05)
        c.ok({'cmd': 'hello'})
        text = open(os.path.join(TMP, 'act.err')).read()
        check('127.0.0.1:%d' % port in text, 'serving line: %s' % text)
    finally:
        os.kill(pid, signal.SIGTERM)
        _, st = os.waitpid(pid, 0)
    check(os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0, 'activated exit')
    print('activation: ok')


def main():
    what = sys.argv[3]
    args = sys.argv[4:]
    if what == 'crash':
        crash(args[0])
    elif what == 'activation':
        activation(args[0])
    elif what == 'serve':
        # serve ROOT CHECK... [-- weftd args]: start weftd, run checks.
        root = args[0]
        i = args.index('--') if '--' in args else len(args)
        checks, extra = args[1:i], args[i + 1:]
        env = {}
        if 'fallback' in checks:
            env['WEFTD_TEST_NO_OPENAT2'] = '1'
        srv = Server('--root', root, '--listen', '127.0.0.1:0', *extra,
                     env=env)
        for ch in checks:
            if ch == 'commands':
                commands(srv.port)
            elif ch == 'concurrent':
                concurrent(srv.port)
            elif ch == 'resume':
                resume(srv.port, root)
            elif ch == 'classic':
                classic(srv.port, root)
            elif ch == 'badpaths':
                badpaths(srv.port, root, 'fallback' in checks)
            elif ch == 'malformed':
                malformed(srv.port)
            elif ch == 'quota':
                quota(srv.port)
            elif ch == 'toolarge':
                toolarge(srv.port)
            elif ch == 'readonly':
                readonly(srv.port)
            elif ch == 'busy':
                busy(srv.port)
            elif ch == 'nospace':
                nospace(srv.port, root)
            elif ch == 'fallback':
                pass
            else:
                fail('unknown check ' + ch)
        srv.stop()
    else:
        fail('unknown command ' + what)


main()
PY
t() { timeout 120 python3 "$tmp/t.py" "$W" "$tmp" "$@"; }

# Eight workers: prefork and threadpool serve that many connections at
# once, and a client left open by one phase (until the idle timeout) or
# 100 queued clients under ASan must not starve the next request past the
# client's 30 s timeout (with two, CI saw that once in each loop).
for m in serial fork thread prefork threadpool coroutine; do
    rm -rf "$tmp/lib"
    t serve "$tmp/lib" commands resume classic malformed -- --model "$m" \
        --workers 8 >/dev/null ||
        fail "model $m: $(tail -n 3 "$tmp/weftd.err")"
done
for m in coroutine thread fork prefork threadpool; do
    rm -rf "$tmp/lib"
    t serve "$tmp/lib" concurrent -- --model "$m" --workers 8 >/dev/null ||
        fail "concurrent, model $m"
done
rm -rf "$tmp/lib"
t serve "$tmp/lib" badpaths
rm -rf "$tmp/lib"
WEFTD_TABLE= t serve "$tmp/lib" fallback commands badpaths >/dev/null ||
    fail "the fallback without openat2"
rm -rf "$tmp/lib"
t serve "$tmp/lib" quota -- --quota 100K
rm -rf "$tmp/lib"
t serve "$tmp/lib" toolarge -- --max-upload 1K
rm -rf "$tmp/lib"
t serve "$tmp/lib" readonly -- --read-only
t serve "$tmp/lib" busy -- --max-conns 2 --model thread
rm -rf "$tmp/lib"
t crash "$tmp/lib"
rm -rf "$tmp/lib"
t activation "$tmp/lib"

# Listing names JSON must escape (the listing is written as text, not
# through jansson): a quote, a backslash, a tab, non-ASCII; sorted by bytes.
mkdir -p "$tmp/names"
touch "$tmp/names/a\"b" "$tmp/names/back\\slash" "$tmp/names/$(printf 'tab\tx')" \
    "$tmp/names/ünï" "$tmp/names/plain"
mkdir "$tmp/names/dir"
start "$tmp/names.err" --root "$tmp/names" --listen 127.0.0.1:0
python3 - "$port" <<'PY' || fail "listing of odd names"
import json, socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
h = json.dumps({"cmd": "list", "path": ""}).encode()
s.sendall(struct.pack("<I", len(h)) + h)
f = s.makefile("rb")
n = struct.unpack("<I", f.read(4))[0]
head = json.loads(f.read(n))
body = json.loads(f.read(head["file_size"]))
names = [e["name"] for e in body]
want = sorted(['a"b', 'back\\slash', 'tab\tx', 'ünï', 'plain', 'dir'],
              key=lambda x: x.encode())
assert head["ok"] and head["count"] == 6, head
assert names == want, names
assert [e["type"] for e in body if e["name"] == "dir"] == ["dir"]
PY
stop

# A full disk: a 1 MiB tmpfs, if this process may mount one.
mkdir "$tmp/small"
if [ "$(id -u)" -eq 0 ] &&
    mount -t tmpfs -o size=1m weftd-test "$tmp/small" 2>/dev/null; then
    mounted=$tmp/small
    t serve "$tmp/small/lib" nospace
    umount "$tmp/small"
    mounted=
else
    echo "skip: no_space (needs root to mount a small tmpfs)"
fi
echo "weftd: all checks passed"
