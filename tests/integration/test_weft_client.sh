#!/usr/bin/env bash
# The weft client (build/weft, docs/weft.md) against a mock weftd written
# here in Python to docs/PROTOCOL.md, so the client is tested on its own:
# every command, resume of interrupted downloads and uploads, checksum
# failures, refusals and their exit codes, timeouts, the shell through a
# pipe. If build/weftd exists, a short smoke against the real server too,
# and logins against a weftd with users (--user, WEFT_USER, WEFT_PASSWORD,
# exit code 9).
set -euo pipefail
BUILD=$1
WEFT=$BUILD/weft
if [ ! -x "$WEFT" ]; then
    echo "SKIP: weft not built here"
    exit 0
fi
if ! command -v python3 >/dev/null; then
    echo "SKIP: python3 is needed for the mock server"
    exit 0
fi
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
export TZ=UTC
unset WEFT_SERVER WEFT_USER WEFT_PASSWORD

# ---- the mock server ------------------------------------------------------
# Control files in $ctl make it misbehave once (each is removed when used):
#   cut_get NAME    the next get of NAME sends half its body, then closes
#   cut_put NAME    the next put of NAME reads half its body, keeps it as a
#                   partial upload, then closes
#   bad_sha NAME    the next get of NAME announces a wrong sha256
#   stall           the next request gets no answer for 3 s
#   busy            the next hello is answered "busy", then the mock closes
#   drop            the connection is closed after the next reply (as an
#                   idle timeout would)
#   readonly        (kept) every change is refused with read_only
cat >"$tmp/mock.py" <<'PY'
import hashlib, json, os, shutil, socket, socketserver, struct, sys, time

root, ctl, portfile = sys.argv[1], sys.argv[2], sys.argv[3]
partial_dir = os.path.join(root, ".weft-partial")
os.makedirs(partial_dir, exist_ok=True)

def take(flag):
    """The control file's content, removing it; None if absent."""
    p = os.path.join(ctl, flag)
    try:
        with open(p) as f:
            v = f.read().strip()
        os.unlink(p)
        return v
    except FileNotFoundError:
        return None

def peek(flag):
    p = os.path.join(ctl, flag)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return f.read().strip()

class Refuse(Exception):
    def __init__(self, code, msg, close=False, **extra):
        self.code, self.msg, self.close, self.extra = code, msg, close, extra

def check_path(p, allow_root=False):
    if not isinstance(p, str):
        raise Refuse("bad_request", "path must be a string")
    if p == "":
        if allow_root:
            return root
        raise Refuse("bad_path", "empty path")
    parts = p.split("/")
    for c in parts:
        if c in ("", ".", "..") or c.startswith(".weft") or "\0" in c:
            raise Refuse("bad_path", "bad path: " + p)
    return os.path.join(root, *parts)

def sha_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 16), b""):
            h.update(b)
    return h.hexdigest()

def partial_path(name):
    return os.path.join(partial_dir, name.replace("/", "%"))

class Handler(socketserver.BaseRequestHandler):
    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            b = self.request.recv(n - len(buf))
            if not b:
                raise EOFError
            buf += b
        return buf

    def send(self, hdr, body=b""):
        if body:
            hdr["file_size"] = len(body)
        h = json.dumps(hdr).encode()
        self.request.sendall(struct.pack("<I", len(h)) + h + body)

    def handle(self):
        while True:
            try:
                n, = struct.unpack("<I", self.recv_exact(4))
                req = json.loads(self.recv_exact(n))
            except (EOFError, ConnectionError):
                return
            body_len = req.get("file_size", 0)
            if take("stall") is not None:
                time.sleep(3)
                return
            cmd = req.get("cmd")
            try:
                fn = getattr(self, "do_" + str(cmd), None)
                if fn is None:
                    raise Refuse("unknown_command", "no such command",
                                 close=bool(body_len))
                rep = fn(req, body_len)
                if rep is None:
                    return  # closed on purpose
                hdr, body = rep
                hdr["ok"] = True
                if "id" in req:
                    hdr["id"] = req["id"]
                self.send(hdr, body)
                if cmd == "quit" or take("drop") is not None:
                    return
            except Refuse as e:
                hdr = {"ok": False, "error": e.code, "message": e.msg}
                hdr.update(e.extra)
                if "id" in req:
                    hdr["id"] = req["id"]
                self.send(hdr)
                if e.close:
                    time.sleep(0.1)
                    return

    def changes(self, close=False):
        if peek("readonly") is not None:
            raise Refuse("read_only", "read-only server", close=close)

    def do_hello(self, req, _):
        if take("busy") is not None:
            raise Refuse("busy", "at the connection limit", close=True)
        if 1 not in req.get("versions", [1]):
            raise Refuse("version", "version 1 only")
        return {"version": 1, "server": "mock/1", "auth": False,
                "read_only": peek("readonly") is not None}, b""

    def do_quit(self, req, _):
        return {}, b""

    def do_list(self, req, _):
        d = check_path(req.get("path", ""), allow_root=True)
        if not os.path.exists(d):
            raise Refuse("not_found", "no such folder")
        if not os.path.isdir(d):
            raise Refuse("not_a_directory", "not a folder")
        out = []
        for name in sorted(os.listdir(d)):
            if name.startswith(".weft"):
                continue
            st = os.stat(os.path.join(d, name))
            kind = "dir" if os.path.isdir(os.path.join(d, name)) else "file"
            out.append({"name": name, "type": kind,
                        "size": 0 if kind == "dir" else st.st_size,
                        "mtime": int(st.st_mtime)})
        body = json.dumps(out).encode()
        return {"path": req.get("path", ""), "count": len(out)}, body

    def do_stat(self, req, _):
        name = req.get("path")
        p = check_path(name, allow_root=True)
        pp = partial_path(name) if name else None
        has_partial = pp is not None and os.path.exists(pp)
        if not os.path.exists(p):
            # As weftd does: only a partial upload gives its size here.
            extra = {"partial_size": os.path.getsize(pp)} if has_partial else {}
            raise Refuse("not_found", "no such file: %s" % name, **extra)
        rep = {"path": name}
        if os.path.exists(p):
            st = os.stat(p)
            rep["type"] = "dir" if os.path.isdir(p) else "file"
            rep["size"] = 0 if os.path.isdir(p) else st.st_size
            rep["mtime"] = int(st.st_mtime)
            if not os.path.isdir(p):
                rep["sha256"] = sha_file(p)
        if has_partial:
            rep["partial_size"] = os.path.getsize(pp)
        return rep, b""

    def do_get(self, req, _):
        name = req.get("file_name")
        p = check_path(name)
        off = req.get("offset", 0)
        if not os.path.exists(p):
            raise Refuse("not_found", "no such file: %s" % name)
        if os.path.isdir(p):
            raise Refuse("is_a_directory", "a folder")
        size = os.path.getsize(p)
        if not isinstance(off, int) or off < 0 or off > size:
            raise Refuse("bad_request", "offset past the end")
        sha = sha_file(p)
        if peek("bad_sha") == name:
            take("bad_sha")
            sha = "0" * 64
        with open(p, "rb") as f:
            f.seek(off)
            data = f.read()
        hdr = {"ok": True, "file_name": name, "offset": off,
               "total_size": size, "sha256": sha,
               "mtime": int(os.path.getmtime(p)), "file_size": len(data)}
        if peek("cut_get") == name:
            take("cut_get")
            h = json.dumps(hdr).encode()
            self.request.sendall(struct.pack("<I", len(h)) + h +
                                 data[:len(data) // 2])
            return None
        return hdr, data

    def do_put(self, req, body_len):
        name = req.get("file_name")
        p = check_path(name)
        self.changes(close=bool(body_len))
        off = req.get("offset", 0)
        total = req.get("total_size", off + body_len)
        if not os.path.isdir(os.path.dirname(p)):
            raise Refuse("not_found", "no such folder", close=bool(body_len))
        if os.path.isdir(p):
            raise Refuse("is_a_directory", "a folder", close=bool(body_len))
        pp = partial_path(name)
        have = os.path.getsize(pp) if os.path.exists(pp) else 0
        if off != 0 and off != have:
            raise Refuse("offset", "partial upload holds %d bytes" % have,
                         close=bool(body_len), partial_size=have)
        with open(os.path.join(ctl, "puts.log"), "a") as f:
            f.write("%s %d\n" % (name, off))
        cut = peek("cut_put") == name
        if cut:
            take("cut_put")
        with open(pp, "ab" if off else "wb") as f:
            left = body_len
            limit = body_len // 2 if cut else body_len
            got = 0
            while got < limit:
                b = self.request.recv(min(65536, limit - got))
                if not b:
                    return None
                f.write(b)
                got += len(b)
        if cut:
            return None
        if off + body_len != total:
            raise Refuse("bad_request", "offset + file_size != total_size")
        sha = sha_file(pp)
        if req.get("sha256") not in (None, sha):
            os.unlink(pp)
            raise Refuse("checksum", "sha256 does not match")
        os.replace(pp, p)
        return {"file_name": name, "size": os.path.getsize(p),
                "sha256": sha}, b""

    def do_delete(self, req, _):
        p = check_path(req.get("path"))
        self.changes()
        if not os.path.exists(p):
            raise Refuse("not_found", "no such file")
        if os.path.isdir(p):
            if os.listdir(p):
                raise Refuse("not_empty", "folder not empty")
            os.rmdir(p)
        else:
            os.unlink(p)
        return {"path": req["path"]}, b""

    def do_mkdir(self, req, _):
        p = check_path(req.get("path"))
        self.changes()
        if req.get("parents"):
            if os.path.exists(p) and not os.path.isdir(p):
                raise Refuse("exists", "a file has that name")
            os.makedirs(p, exist_ok=True)
        else:
            if os.path.exists(p):
                raise Refuse("exists", "exists")
            if not os.path.isdir(os.path.dirname(p)):
                raise Refuse("not_found", "no parent folder")
            os.mkdir(p)
        return {"path": req["path"]}, b""

class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

srv = Server(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
PY

lib=$tmp/lib
ctl=$tmp/ctl
mkdir -p "$lib" "$ctl" "$tmp/work"
python3 "$tmp/mock.py" "$lib" "$ctl" "$tmp/port" 2>"$tmp/mock.log" &
pids+=($!)
for _ in $(seq 100); do
    [ -s "$tmp/port" ] && break
    sleep 0.05
done
[ -s "$tmp/port" ] || fail "mock server did not start: $(cat "$tmp/mock.log")"
export WEFT_SERVER=127.0.0.1:$(cat "$tmp/port")
cd "$tmp/work"

# run EXPECTED_EXIT CMD...: run weft, keep stdout/stderr in out/err.
run() {
    local want=$1 rc=0
    shift
    timeout 20 "$WEFT" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" = "$want" ] ||
        fail "weft $* exited $rc, not $want: $(cat "$tmp/err")"
}
err_is() {
    [ "$(cat "$tmp/err")" = "$1" ] ||
        fail "stderr was '$(cat "$tmp/err")', not '$1'"
}

# ---- options ----------------------------------------------------------------
run 0 --help
grep -q "^Exit codes:" "$tmp/out" || fail "--help: no exit codes"
run 0 --version
grep -q "^weft [0-9]" "$tmp/out" || fail "--version: $(cat "$tmp/out")"
run 2
run 2 --bogus ls
run 2 frobnicate
run 2 get
run 2 --timeout 0 ls
free_port=$(python3 -c 'import socket; s = socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run 3 --server 127.0.0.1:"$free_port" ls
grep -q "cannot connect" "$tmp/err" || fail "connect: $(cat "$tmp/err")"

# ---- mkdir, put, ls, stat, get ----------------------------------------------
run 0 mkdir notes
run 8 mkdir notes
err_is "weft: mkdir notes: already exists"
run 0 mkdir -p deep/er/est
[ -d "$lib/deep/er/est" ] || fail "mkdir -p"
run 4 mkdir no/parent

printf hello >a.txt
head -c 3000000 /dev/urandom >big.bin
run 0 put a.txt notes/
[ "$(cat "$lib/notes/a.txt")" = hello ] || fail "put a.txt"
run 0 put big.bin notes/big.bin
cmp -s big.bin "$lib/notes/big.bin" || fail "put big.bin: content differs"
run 4 put missing.txt
err_is "weft: put missing.txt: No such file or directory"
: >empty.txt
run 0 put empty.txt notes/
[ -f "$lib/notes/empty.txt" ] && [ ! -s "$lib/notes/empty.txt" ] ||
    fail "put of an empty file"
run 0 get notes/empty.txt -o dl-empty.txt
[ -f dl-empty.txt ] && [ ! -s dl-empty.txt ] || fail "get of an empty file"
run 0 rm notes/empty.txt

run 0 ls notes
grep -Eq '^file +5 B +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{5}  a\.txt$' \
    "$tmp/out" || fail "ls table: $(cat "$tmp/out")"
grep -Eq '^file +2\.9 MiB .* big\.bin$' "$tmp/out" ||
    fail "ls size: $(cat "$tmp/out")"
run 0 ls
grep -Eq '^dir +- .* notes/$' "$tmp/out" || fail "ls top: $(cat "$tmp/out")"
run 0 --json ls notes
python3 -c 'import json, sys; d = json.load(open(sys.argv[1]));
assert d["ok"] and [e["name"] for e in d["entries"]] == ["a.txt", "big.bin"]
' "$tmp/out" || fail "ls --json: $(cat "$tmp/out")"
run 4 ls nowhere
err_is "weft: ls nowhere: not found"
run 8 ls notes/a.txt

want=$(sha256sum big.bin | cut -d' ' -f1)
run 0 stat notes/big.bin
grep -q "^sha256   $want$" "$tmp/out" || fail "stat: $(cat "$tmp/out")"
grep -q "^size     3000000 (2.9 MiB)$" "$tmp/out" || fail "stat size"
run 0 --json stat notes/big.bin
python3 -c 'import json, sys; d = json.load(open(sys.argv[1]));
assert d["sha256"] == sys.argv[2] and d["size"] == 3000000
' "$tmp/out" "$want" || fail "stat --json: $(cat "$tmp/out")"

run 0 get notes/big.bin
cmp -s big.bin "$tmp/work/big.bin" || fail "get into cwd"
mkdir dl
run 0 get notes/big.bin -o dl
cmp -s big.bin dl/big.bin || fail "get -o folder"
run 0 get -o dl/renamed.bin notes/big.bin
cmp -s big.bin dl/renamed.bin || fail "get -o file"
[ -z "$(ls dl | grep part || true)" ] || fail "a .part file was left"
run 0 get notes/a.txt -o -
[ "$(cat "$tmp/out")" = hello ] || fail "get -o -"
run 0 --json get notes/a.txt -o dl/
python3 -c 'import json, sys; d = json.load(open(sys.argv[1]));
assert d["ok"] and d["local"] == "dl/a.txt" and d["total_size"] == 5
' "$tmp/out" || fail "get --json: $(cat "$tmp/out")"
run 4 get nope.txt
err_is "weft: get nope.txt: not found"
[ ! -e nope.txt ] && [ ! -e nope.txt.part ] || fail "get nope left a file"
run 8 get notes
run 8 get ../etc/passwd -o dl/x
grep -q "bad path" "$tmp/err" || fail "bad path: $(cat "$tmp/err")"

# ---- interrupted download, resumed with -c -----------------------------------
echo notes/big.bin >"$ctl/cut_get"
run 3 get notes/big.bin -o dl/cut.bin
grep -q "connection lost after [0-9]* of 3000000 bytes" "$tmp/err" ||
    fail "cut get: $(cat "$tmp/err")"
[ -f dl/cut.bin.part ] && [ ! -e dl/cut.bin ] || fail "cut get: no .part"
[ "$(stat -c %s dl/cut.bin.part)" -gt 0 ] || fail "cut get: empty .part"
run 0 get -c notes/big.bin -o dl/cut.bin
cmp -s big.bin dl/cut.bin && [ ! -e dl/cut.bin.part ] || fail "get -c"
# -c on a complete file in place: nothing to fetch, still verified.
run 0 get -c notes/big.bin -o dl/cut.bin
cmp -s big.bin dl/cut.bin || fail "get -c on a complete file"

# ---- checksum mismatch on download -------------------------------------------
echo notes/big.bin >"$ctl/bad_sha"
run 6 get notes/big.bin -o dl/bad.bin
grep -q "checksum mismatch" "$tmp/err" || fail "bad sha: $(cat "$tmp/err")"
[ ! -e dl/bad.bin ] && [ ! -e dl/bad.bin.part ] || fail "bad sha: file kept"
# A damaged partial file: the whole is checked, so -c notices.
head -c 1000 /dev/zero >dl/damaged.bin.part
run 6 get -c notes/big.bin -o dl/damaged.bin
[ ! -e dl/damaged.bin ] || fail "damaged resume was renamed into place"

# ---- interrupted upload, resumed with -c -------------------------------------
head -c 2000000 /dev/urandom >up.bin
echo notes/up.bin >"$ctl/cut_put"
run 3 put up.bin notes/up.bin
run 4 stat notes/up.bin
grep -Eq "^weft: stat notes/up.bin: not found, but [0-9]+ bytes of an" \
    "$tmp/err" || fail "no partial: $(cat "$tmp/err")"
run 0 put -c up.bin notes/up.bin
cmp -s up.bin "$lib/notes/up.bin" || fail "put -c: content differs"
tail -n 1 "$ctl/puts.log" | grep -Eq '^notes/up\.bin [1-9][0-9]*$' ||
    fail "put -c did not resume: $(tail -n 2 "$ctl/puts.log")"
# -c when the whole file is there already: nothing is sent.
run 0 put -c up.bin notes/up.bin
run 0 --json put up.bin notes/up2.bin
python3 -c 'import json, sys; d = json.load(open(sys.argv[1]));
assert d["ok"] and d["size"] == 2000000 and d["sha256"] == sys.argv[2]
' "$tmp/out" "$(sha256sum up.bin | cut -d' ' -f1)" ||
    fail "put --json: $(cat "$tmp/out")"

# ---- rm ----------------------------------------------------------------------
run 0 rm notes/up2.bin
[ ! -e "$lib/notes/up2.bin" ] || fail rm
run 4 rm notes/up2.bin
err_is "weft: rm notes/up2.bin: not found"
run 8 rm notes
err_is "weft: rm notes: folder not empty"

# ---- read-only server --------------------------------------------------------
touch "$ctl/readonly"
run 5 put big.bin notes/ro.bin
err_is "weft: put notes/ro.bin: read-only"
run 5 rm notes/a.txt
run 5 mkdir ro
run 0 ls notes
rm "$ctl/readonly"

# ---- timeout -----------------------------------------------------------------
touch "$ctl/stall"
t0=$(date +%s%N)
run 3 --timeout 300 ls
t1=$(date +%s%N)
grep -q "timed out" "$tmp/err" || fail "timeout: $(cat "$tmp/err")"
[ $(((t1 - t0) / 1000000)) -lt 2500 ] || fail "timeout took too long"

# ---- busy, --json errors, a connection the server dropped ------------------
touch "$ctl/busy"
run 3 ls
err_is "weft: ls (top): server busy (at its connection limit)"
run 4 --json get nope.txt
python3 -c 'import json, sys; d = json.load(open(sys.argv[1]));
assert d["ok"] is False and d["error"] == "not_found"
' "$tmp/out" || fail "--json error: $(cat "$tmp/out")"
rc=0
{ echo 'ls notes'; sleep 0.3; touch "$ctl/drop"; echo 'ls notes'; sleep 0.3
  echo 'stat notes/a.txt'; } |
    timeout 20 "$WEFT" shell >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" = 0 ] || fail "shell did not reconnect: $rc: $(cat "$tmp/err")"
[ "$(grep -c ' a\.txt$' "$tmp/out")" = 2 ] || fail "shell: $(cat "$tmp/out")"
grep -q '^sha256 ' "$tmp/out" || fail "shell: stat after reconnect"

# ---- the shell, through a pipe -----------------------------------------------
rc=0
printf '%s\n' 'mkdir sh' 'put a.txt "sh/with space.txt"' 'ls sh' \
    'stat nothing' 'help' '' 'get "sh/with space.txt" -o dl/fromshell.txt' \
    'quit' 'ls' | timeout 20 "$WEFT" shell >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" = 4 ] ||
    fail "shell exit $rc (want 4, the failed stat): $(cat "$tmp/err")"
grep -q ' with space\.txt$' "$tmp/out" || fail "shell ls: $(cat "$tmp/out")"
grep -q '^  stat NAME' "$tmp/out" || fail "shell help"
err_is "weft: stat nothing: not found"
[ "$(cat dl/fromshell.txt)" = hello ] || fail "shell get"
[ "$(grep -c 'sh/$' "$tmp/out" || true)" = 0 ] || fail "shell ran past quit"
rc=0
printf 'ls sh\n' | timeout 20 "$WEFT" shell >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" = 0 ] || fail "shell exit $rc"

# ---- against the real weftd, when it is built --------------------------------
if [ -x "$BUILD/weftd" ]; then
    srv=$tmp/srv
    mkdir -p "$srv"
    port=$(python3 -c 'import socket; s = socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$BUILD/weftd" --listen "127.0.0.1:$port" --root "$srv" \
        >"$tmp/weftd.log" 2>&1 &
    pids+=($!)
    export WEFT_SERVER=127.0.0.1:$port
    for _ in $(seq 100); do
        "$WEFT" ls >/dev/null 2>&1 && break
        sleep 0.05
    done
    run 0 mkdir smoke
    run 0 put big.bin smoke/
    run 0 ls smoke
    grep -q ' big\.bin$' "$tmp/out" || fail "weftd ls: $(cat "$tmp/out")"
    run 0 get smoke/big.bin -o dl/smoke.bin
    cmp -s big.bin dl/smoke.bin || fail "weftd get"
    run 4 get smoke/none
    run 0 rm smoke/big.bin
    run 0 rm smoke
    echo "weft client: weftd smoke passed"

    # Logins against a weftd with users: --user or WEFT_USER, the password
    # from WEFT_PASSWORD; failures exit 9 with one line.
    printf 'secret\n' | "$BUILD/weftd" passwd --users "$tmp/users" ana \
        2>/dev/null || fail "weftd passwd"
    aport=$(python3 -c 'import socket; s = socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$BUILD/weftd" --listen "127.0.0.1:$aport" --root "$tmp/asrv" \
        --users "$tmp/users" >"$tmp/weftd-auth.log" 2>&1 &
    pids+=($!)
    export WEFT_SERVER=127.0.0.1:$aport
    for _ in $(seq 100); do
        grep -q '^weftd: serving' "$tmp/weftd-auth.log" && break
        sleep 0.05
    done
    run 9 ls
    err_is "weft: ls (top): login required (--user NAME or WEFT_USER, and \
WEFT_PASSWORD)"
    WEFT_PASSWORD=secret run 0 --user ana put big.bin
    WEFT_USER=ana WEFT_PASSWORD=secret run 0 ls
    grep -q ' big\.bin$' "$tmp/out" || fail "ls as ana: $(cat "$tmp/out")"
    WEFT_PASSWORD=wrong run 9 -u ana ls
    err_is "weft: ls (top): login failed: wrong user or password"
    WEFT_USER=ana WEFT_PASSWORD=secret run 0 get big.bin -o dl/auth.bin
    cmp -s big.bin dl/auth.bin || fail "get as ana"
    # No password and no terminal to ask on: one line, exit 9.
    rc=0
    WEFT_USER=ana setsid -w "$WEFT" ls </dev/null >"$tmp/out" \
        2>"$tmp/err" || rc=$?
    [ "$rc" = 9 ] || fail "no password: exit $rc: $(cat "$tmp/err")"
    err_is "weft: ls (top): a password is wanted for ana: set WEFT_PASSWORD \
(no terminal to ask on)"
    # The shell logs in once and keeps the session.
    rc=0
    printf 'ls\nstat big.bin\n' | WEFT_USER=ana WEFT_PASSWORD=secret \
        timeout 20 "$WEFT" shell >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" = 0 ] || fail "shell as ana: $rc: $(cat "$tmp/err")"
    echo "weft client: logins against weftd passed"
else
    echo "weft client: no build/weftd, smoke against it skipped"
fi
echo "weft client: all checks pass"
