#!/usr/bin/env python3
"""bench_fileserver.py - file servers side by side on loopback: weftd,
vsftpd (Debian's package) and a raw sendfile loop in C (the limit), plus
nginx's autoindex for listings.

    python3 bench/bench_fileserver.py [--build DIR] [--rounds N]
        [--dir PARENT] [--size BYTES] [--par-size BYTES] [--par N]
        [--files N] [--lists N] [--quick] [--markdown FILE] ...  (--help)

Workloads (every contender in each, interleaved: round 1: A, B, C...;
round 2: A, B, C...; after one uncounted warm-up round):

  download     one client downloads a --size (1 GiB) file (page-cached)
  upload       one client uploads a --size file; the next round's uploads
               start from a clean page cache (sync, outside the clock)
  parallel     --par (100) clients at once each download a --par-size
               (100 MiB) file; the figure is the total bytes over the time
               from the first connect to the last byte
  list         one client lists a folder of --files (10,000) files --lists
               times, one listing after the other on one connection

The contenders:

  raw          build/bench/sendfile_server (bench/sendfile_server.c): one
               thread per connection; download: sendfile(2) of the file;
               upload: read(2) into 256 KiB, write(2) to the file, fsync,
               answer - the limit, with no hash, temporary file or rename
  raw, early write-back
               (upload only) the same with --writeback 8: after each 8
               MiB, sync_file_range(SYNC_FILE_RANGE_WRITE), so the disk
               writes while the bytes arrive and the final fsync has
               little left: what a durable upload can reach
  weftd        build/weftd, its defaults (coroutine model, one scheduler
               per CPU): download sendfile in 2 MiB slices; upload into a
               hidden file, SHA-256 while receiving, fsync, rename, fsync
               of the folder; the client sends the expected sha256, so
               weftd checks it
  vsftpd       /usr/sbin/vsftpd, anonymous FTP on its own port with a
               config written into a temporary folder (standalone,
               privilege-separated, use_sendfile as by default); STOR
               writes the file in place, no fsync
  nginx        /usr/sbin/nginx, autoindex with autoindex_format json (a
               JSON array of name, type, mtime, size: what weftd's list
               gives), for the list workload only

The clients: build/bench/fileclient (bench/fileclient.c, weft coroutines,
one thread) for weftd, vsftpd and raw: the same byte-moving code for each
(downloads read into a 256 KiB buffer and drop it; uploads send the file
with sendfile(2)), speaking each server's protocol. And curl, as a second
vsftpd client (RETR to /dev/null, STOR with -T, --parallel for the
parallel workload) and as nginx's (HTTP/1.1 keep-alive, one curl process
fetching the listing --lists times). A target against vsftpd is checked
against its better client.

Targets, on the medians, as PASS or MISS lines (a miss does not change the
exit status): download and parallel: weftd at least 0.9x raw and at least
vsftpd; upload (with checksum and fsync): weftd at least vsftpd's STOR;
list: weftd at least as many listings per second as nginx's autoindex.

Also measured per contender: the CPU time of the server (utime + stime of
its process tree, /proc/PID/stat, counting exited children) and of the
client (getrusage of children), per GB moved (per listing for list).

The files live in a fresh folder under --dir (default /tmp when it is
disk-backed, else /var/tmp), all on one file system, so that fsync costs
what it costs on a disk (on a tmpfs it is free). vsftpd, nginx or curl
missing: their contenders are listed as SKIPPED and their targets print
SKIP. Exit status: 0, or 1 when a server did not start or a transfer
failed; 2 for bad arguments.
"""
import argparse
import ctypes
import hashlib
import os
import pwd
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

# The process-tree walk is the server benchmark's (same folder).
from bench_server import process_tree

HERE = os.path.dirname(os.path.abspath(__file__))
VSFTPD = "/usr/sbin/vsftpd"
NGINX = "/usr/sbin/nginx"
GIB = 1 << 30
MIB = 1 << 20

RAW = "raw sendfile loop (C)"
RAW_WB = "raw, early write-back (C)"
WEFTD = "weftd"
VSFTPD_FC = "vsftpd (fileclient)"
VSFTPD_CURL = "vsftpd (curl)"
NGINX_NAME = "nginx autoindex (curl)"
WEFTD_LIST = "weftd list (fileclient)"


def log(msg):
    print("bench_fileserver: " + msg, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def fs_type(path):
    """The file system type of the mount that holds path."""
    path = os.path.realpath(path)
    best, kind = "", "?"
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            mnt = parts[1].replace("\\040", " ")
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) \
                    and len(mnt) >= len(best):
                best, kind = mnt, parts[2]
    return kind


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- CPU accounting ---------------------------------------------------------


def tree_cpu(root):
    """CPU seconds of root's process tree: utime + stime of each live
    process, plus root's cutime + cstime (children it has reaped)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in process_tree(root):
        try:
            with open("/proc/%d/stat" % p) as f:
                s = f.read()
        except OSError:
            continue  # gone meanwhile
        # After the parenthesised name, fields[0] is the state (field 3 of
        # stat): utime and stime are fields 14 and 15, and the root's
        # cutime and cstime (16, 17) count its children already reaped.
        f = s[s.rfind(")") + 2:].split()
        total += int(f[11]) + int(f[12])
        if p == root:
            total += int(f[13]) + int(f[14])
    return total / ticks


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# ---- servers ----------------------------------------------------------------


def die_with_parent():
    """In the child, before exec: SIGTERM when this script dies, even by
    SIGKILL (prctl PR_SET_PDEATHSIG), since the server leads its own
    session and a signal to the script's process group misses it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Server:
    """A running server in its own session, its output in a file; ready
    when `ready(output)` is true or, with a port, when it accepts."""

    def __init__(self, name, argv, port=None, pattern=None, cwd=None):
        self.name = name
        self.log = tempfile.NamedTemporaryFile(
            mode="w+", prefix="bench_fileserver.", suffix=".log")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     start_new_session=True, cwd=cwd,
                                     preexec_fn=die_with_parent)
        self.addr = "127.0.0.1:%d" % port if port else None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if pattern:
                self.log.seek(0)
                m = re.search(pattern, self.log.read(), re.M)
                if m:
                    self.addr = m.group(1)
                    return
            elif self._accepts(port):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        text = self.stop()
        raise RuntimeError("%s did not start: %s" %
                           (name, text.strip()[-400:]))

    @staticmethod
    def _accepts(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM, then SIGKILL to what is left of its process group (it
        leads its own session: only processes this script started)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait()
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        return text


VSFTPD_CONF = """\
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port={port}
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root={root}
local_enable=NO
write_enable=YES
anon_upload_enable=YES
anon_other_write_enable=YES
anon_world_readable_only=NO
pasv_enable=YES
pasv_address=127.0.0.1
pasv_min_port={pasv}
pasv_max_port={pasv_end}
connect_from_port_20=NO
secure_chroot_dir={empty}
xferlog_enable=NO
vsftpd_log_file={dir}/vsftpd.log
seccomp_sandbox=NO
max_clients=0
max_per_ip=0
"""

NGINX_CONF = """\
worker_processes auto;
error_log {dir}/error.log;
pid {dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ autoindex on; autoindex_format json; }}
    }}
}}
"""


def start_vsftpd(conf_dir, root):
    """vsftpd on a free port, anonymous, its root the library (not
    writable: vsftpd refuses a writable chroot), uploads into up/."""
    port = free_port()
    # Passive ports below the ephemeral range, so clients never hold one.
    pasv = 20000 + (os.getpid() * 7 % 9000)
    empty = os.path.join(conf_dir, "empty")
    os.makedirs(empty, exist_ok=True)
    conf = os.path.join(conf_dir, "vsftpd.conf")
    with open(conf, "w") as f:
        f.write(VSFTPD_CONF.format(port=port, root=root, pasv=pasv,
                                   pasv_end=pasv + 400, empty=empty,
                                   dir=conf_dir))
    return Server("vsftpd", [VSFTPD, conf], port=port)


def start_nginx(conf_dir, root):
    port = free_port()
    conf = os.path.join(conf_dir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(port=port, root=root, dir=conf_dir))
    return Server("nginx", [NGINX, "-p", conf_dir, "-c", conf, "-g",
                            "daemon off;"], port=port)


# ---- one measurement -------------------------------------------------------


class Sample:
    def __init__(self, value=0.0, seconds=0.0, server_cpu=0.0,
                 client_cpu=0.0, error=""):
        self.value, self.seconds = value, seconds
        self.server_cpu, self.client_cpu = server_cpu, client_cpu
        self.error = error


FC_LINE = re.compile(r"^bytes: (\d+)  seconds: ([0-9.]+)  MB/s: ([0-9.]+)$",
                     re.M)
FC_LIST = re.compile(r"^lists: (\d+)  seconds: ([0-9.]+)  lists/s: "
                     r"([0-9.]+)$", re.M)


def measured(server, argv, parse, timeout=600):
    """Run a client; returns a Sample with the server's and the client's
    CPU seconds over the run."""
    s0, c0 = tree_cpu(server.pid), children_cpu()
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return Sample(error="%s did not finish in %d s" % (argv[0], timeout))
    wall = time.monotonic() - t0
    # An FTP session process may still be on its way out: give it a moment
    # to be reaped so its CPU time is counted.
    time.sleep(0.05)
    s1, c1 = tree_cpu(server.pid), children_cpu()
    smp = parse(r, wall)
    smp.server_cpu, smp.client_cpu = s1 - s0, c1 - c0
    if not server.alive():
        smp.error = "server exited (status %s)" % server.proc.returncode
    return smp


def parse_fileclient(expect_bytes):
    def parse(r, wall):
        m = FC_LINE.search(r.stdout)
        if r.returncode != 0 or m is None:
            return Sample(error="fileclient exit %d: %s" % (
                r.returncode, (r.stdout + r.stderr).strip()[-300:]))
        if int(m.group(1)) != expect_bytes:
            return Sample(error="fileclient moved %s bytes, not %d" %
                          (m.group(1), expect_bytes))
        return Sample(value=float(m.group(3)), seconds=float(m.group(2)))
    return parse


def parse_fileclient_list(r, wall):
    m = FC_LIST.search(r.stdout)
    if r.returncode != 0 or m is None:
        return Sample(error="fileclient exit %d: %s" % (
            r.returncode, (r.stdout + r.stderr).strip()[-300:]))
    return Sample(value=float(m.group(3)), seconds=float(m.group(2)))


def parse_curl(expect_bytes, count=1, use_wall=False):
    """curl -w '%{time_total} %{size_download} %{size_upload}\\n' per
    transfer: MB/s from the summed transfer times (or the wall time of
    the whole curl run: --parallel), or transfers/s for listings
    (expect_bytes None)."""
    def parse(r, wall):
        lines = [ln.split() for ln in r.stdout.splitlines() if ln.strip()]
        if r.returncode != 0 or len(lines) != count:
            return Sample(error="curl exit %d: %s" % (
                r.returncode, (r.stderr or r.stdout).strip()[-300:]))
        try:
            t = sum(float(x[0]) for x in lines)
            moved = sum(int(x[1]) + int(x[2]) for x in lines)
        except (ValueError, IndexError):
            return Sample(error="curl printed: %s" % r.stdout[-200:])
        secs = wall if use_wall else t
        if expect_bytes is None:
            return Sample(value=count / secs, seconds=secs)
        if moved != expect_bytes:
            return Sample(error="curl moved %d bytes, not %d" %
                          (moved, expect_bytes))
        return Sample(value=moved / secs / 1e6, seconds=secs)
    return parse


CURL_W = ["-w", "%{time_total} %{size_download} %{size_upload}\\n"]


# ---- the workloads ----------------------------------------------------------


class Contender:
    """One row of a workload: a name, the server it talks to, and a
    function giving the argv of one measured run (and its parser)."""

    def __init__(self, name, server, run, skipped=None):
        self.name, self.server, self.run = name, server, run
        self.skipped = skipped


def build_workloads(args, env):
    """env: the servers and paths. Returns [(key, title, unit,
    contenders, after)] where after() runs outside the clock after each
    measured run."""
    fc = env["fileclient"]
    srv = env["servers"]
    lib = env["lib"]
    size, psize, par = args.size, args.par_size, args.par
    curl = shutil.which("curl")

    def fcv(proto, server_key, *cmd, conns=1):
        def run():
            s = srv[server_key]
            return [fc, "--proto", proto, "--server", s.addr,
                    "--conns", str(conns), "--timeout", "120000"] + \
                list(cmd)
        return run

    def with_parse(runf, parse):
        return lambda: (runf(), parse)

    def missing(key, what):
        return srv.get(key) is None and (env["why"].get(key) or what)

    def row(name, key, run):
        why = missing(key, "not started")
        return Contender(name, srv.get(key), run, skipped=why or None)

    def curl_row(name, key, run):
        if curl is None:
            return Contender(name, None, run, skipped="curl not installed")
        return row(name, key, run)

    ftp = lambda: "ftp://%s/" % srv["vsftpd"].addr  # noqa: E731

    out = []
    big, mid = "big.bin", "mid.bin"
    out.append(("download", "download %s" % human(size), "MB/s", [
        row(RAW, "raw_big", with_parse(fcv("raw", "raw_big", "get", big),
                                       parse_fileclient(size))),
        row(WEFTD, "weftd", with_parse(fcv("weft", "weftd", "get", big),
                                       parse_fileclient(size))),
        row(VSFTPD_FC, "vsftpd",
            with_parse(fcv("ftp", "vsftpd", "get", big),
                       parse_fileclient(size))),
        curl_row(VSFTPD_CURL, "vsftpd", lambda: (
            [curl, "-sS", "-o", "/dev/null"] + CURL_W + [ftp() + big],
            parse_curl(size))),
    ], None))

    src = os.path.join(env["data"], "upload-src.bin")

    def upload_done():
        # Outside the clock: remove what came, and write back every dirty
        # page, so the next upload starts from the same state.
        up = os.path.join(lib, "up")
        for n in os.listdir(up):
            p = os.path.join(up, n)
            if os.path.isfile(p):
                os.unlink(p)
        os.sync()

    out.append(("upload", "upload %s" % human(size), "MB/s", [
        row(RAW, "raw_big", with_parse(fcv("raw", "raw_big", "put", src,
                                           "up/raw.bin"),
                                       parse_fileclient(size))),
        row(RAW_WB, "raw_wb", with_parse(fcv("raw", "raw_wb", "put", src,
                                             "up/raw-wb.bin"),
                                         parse_fileclient(size))),
        row(WEFTD, "weftd", with_parse(fcv("weft", "weftd", "put", src,
                                           "up/weftd.bin", env["sha"]),
                                       parse_fileclient(size))),
        row(VSFTPD_FC, "vsftpd",
            with_parse(fcv("ftp", "vsftpd", "put", src, "up/vs.bin"),
                       parse_fileclient(size))),
        curl_row(VSFTPD_CURL, "vsftpd", lambda: (
            [curl, "-sS", "-T", src] + CURL_W + [ftp() + "up/curl.bin"],
            parse_curl(size))),
    ], upload_done))

    def curl_par():
        urls = [ftp() + mid] * par
        argv = [curl, "-sS", "--parallel", "--parallel-immediate",
                "--parallel-max", str(par)] + CURL_W
        for u in urls:
            argv += ["-o", "/dev/null", u]
        return argv, parse_curl(psize * par, count=par, use_wall=True)

    out.append(("parallel", "%d x download %s" % (par, human(psize)), "MB/s",
                [
        row(RAW, "raw_mid", with_parse(fcv("raw", "raw_mid", "get", mid,
                                           conns=par),
                                       parse_fileclient(psize * par))),
        row(WEFTD, "weftd", with_parse(fcv("weft", "weftd", "get", mid,
                                           conns=par),
                                       parse_fileclient(psize * par))),
        row(VSFTPD_FC, "vsftpd",
            with_parse(fcv("ftp", "vsftpd", "get", mid, conns=par),
                       parse_fileclient(psize * par))),
            Contender(VSFTPD_CURL, None, curl_par, skipped=(
            "not measured: curl --parallel opens every connection at "
            "once; at 100, vsftpd's listen backlog (32) overflows and the "
            "connections dropped that way wait for its greeting until "
            "curl times out")),
    ], None))

    def nginx_list():
        url = "http://%s/dir/" % srv["nginx"].addr
        argv = [curl, "-sS"] + CURL_W
        for _ in range(args.lists):
            argv += ["-o", "/dev/null", url]
        return argv, parse_curl(None, count=args.lists)

    out.append(("list", "list %s files" % "{:,}".format(args.files),
                "lists/s", [
        row(WEFTD_LIST, "weftd",
            with_parse(fcv("weft", "weftd", "list", "dir", str(args.lists)),
                       parse_fileclient_list)),
        curl_row(NGINX_NAME, "nginx", nginx_list),
    ], None))
    return out


def human(n):
    if n >= GIB and n % GIB == 0:
        return "%d GiB" % (n // GIB)
    if n >= MIB and n % MIB == 0:
        return "%d MiB" % (n // MIB)
    return "%d B" % n


# ---- setup -----------------------------------------------------------------


def make_file(path, size, block):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MIB)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def default_parent():
    for d in ("/tmp", "/var/tmp"):
        if os.path.isdir(d) and fs_type(d) not in ("tmpfs", "ramfs"):
            return d
    return tempfile.gettempdir()


def setup(args, data):
    """The folders and files in data: lib/ (the library every server
    serves: big.bin, mid.bin, dir/ with --files files, up/ for uploads),
    upload-src.bin, conf-*/ for the servers' configurations. Returns lib
    and the upload's sha256."""
    os.chmod(data, 0o755)  # nginx's workers run as nobody, vsftpd as ftp
    lib = os.path.join(data, "lib")
    os.makedirs(os.path.join(lib, "dir"))
    os.makedirs(os.path.join(lib, "up"))
    os.chmod(lib, 0o755)
    os.chmod(os.path.join(lib, "up"), 0o777)
    block = os.urandom(4 * MIB)
    log("writing %s and %s files in %s" % (human(args.size),
                                           human(args.par_size), data))
    make_file(os.path.join(lib, "big.bin"), args.size, block)
    make_file(os.path.join(lib, "mid.bin"), args.par_size, block)
    # The upload's source differs from big.bin (a fresh block), so no
    # server could recognise it.
    make_file(os.path.join(data, "upload-src.bin"), args.size,
              os.urandom(4 * MIB))
    for i in range(args.files):
        with open(os.path.join(lib, "dir", "file-%05d.txt" % i), "w") as f:
            f.write("x" * (i % 100))
    os.sync()
    return lib, sha256_file(os.path.join(data, "upload-src.bin"))


def has_user(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def start_servers(args, data, lib):
    """Every server that can run here; env["why"] says why one cannot."""
    servers, why = {}, {}
    b = args.build
    big = os.path.join(lib, "big.bin")
    tries = [
        ("raw_big", RAW, lambda: Server(RAW, [
            os.path.join(b, "bench", "sendfile_server"), "--listen",
            "127.0.0.1:0", "--file", big, "--upload",
            os.path.join(lib, "up", "raw.bin")],
            pattern=r"^listening on (\S+)$")),
        ("raw_wb", RAW_WB, lambda: Server(RAW_WB, [
            os.path.join(b, "bench", "sendfile_server"), "--listen",
            "127.0.0.1:0", "--file", big, "--upload",
            os.path.join(lib, "up", "raw-wb.bin"), "--writeback", "8"],
            pattern=r"^listening on (\S+)$")),
        ("raw_mid", RAW, lambda: Server(RAW, [
            os.path.join(b, "bench", "sendfile_server"), "--listen",
            "127.0.0.1:0", "--file", os.path.join(lib, "mid.bin")],
            pattern=r"^listening on (\S+)$")),
        ("weftd", WEFTD, lambda: Server(WEFTD, [
            os.path.join(b, "weftd"), "--root", lib, "--listen",
            "127.0.0.1:0", "--max-upload", str(2 * args.size + GIB)]
            + shlex.split(args.weftd_args),
            pattern=r"^weftd: serving .* on (\S+) \(model")),
    ]
    if not os.access(VSFTPD, os.X_OK):
        why["vsftpd"] = "%s not installed (apt-get install vsftpd)" % VSFTPD
    elif os.geteuid() != 0:
        why["vsftpd"] = "needs root (it chroots and becomes the ftp user)"
    elif not has_user("ftp"):
        why["vsftpd"] = "no user ftp (Debian's package makes it)"
    else:
        vd = os.path.join(data, "conf-vsftpd")
        os.makedirs(vd)
        tries.append(("vsftpd", "vsftpd", lambda: start_vsftpd(vd, lib)))
    if not os.access(NGINX, os.X_OK):
        why["nginx"] = "%s not installed (apt-get install nginx-light)" % \
            NGINX
    else:
        nd = os.path.join(data, "conf-nginx")
        os.makedirs(nd)
        tries.append(("nginx", "nginx", lambda: start_nginx(nd, lib)))
    failed = False
    for key, name, start in tries:
        try:
            servers[key] = start()
        except (RuntimeError, OSError) as e:
            log(str(e))
            why[key] = "FAILED: %s" % e
            failed = True
    return servers, why, failed


# ---- the report --------------------------------------------------------------


def fmt(v, unit):
    if unit == "lists/s":
        return "{:,.1f}".format(v)
    return "{:,.0f}".format(v)


def report(args, wls, results, load0, load1, env, argv_text):
    out = []
    w = out.append
    w("## File servers: weftd, vsftpd, a raw sendfile loop, nginx autoindex"
      "\n")
    w("Loopback, files in `%s` (%s%s), page-cached for downloads. %d "
      "round%s per contender, interleaved%s; figures are medians of the "
      "rounds. Servers: build/weftd (defaults: coroutine model, one "
      "scheduler per CPU%s), vsftpd %s (anonymous, standalone, its "
      "defaults otherwise), build/bench/sendfile_server (one thread per "
      "connection: sendfile for downloads; read, write, fsync for "
      "uploads; *early write-back* also starts the disk write of each "
      "8 MiB as it arrives, sync_file_range), nginx %s "
      "(autoindex_format json). Client: build/bench/fileclient (weft "
      "coroutines, one thread; drops what it downloads, sends uploads "
      "with sendfile) for weftd, vsftpd and raw; "
      "curl %s for vsftpd too and for nginx. weftd's upload hashes "
      "(SHA-256, checked against the client's), fsyncs the file and the "
      "folder and renames; vsftpd writes in place and does not fsync; the "
      "raw loop fsyncs. Before each upload every dirty page is written "
      "back (outside the clock). Load average %.2f before, %.2f after.\n"
      % (env["data"], env["fstype"],
         ": fsync writes to the disk" if env["fstype"] not in
         ("tmpfs", "ramfs") else ": fsync is free on it",
         args.rounds, "" if args.rounds == 1 else "s",
         " after an uncounted warm-up round" if args.warmup else "",
         (", " + args.weftd_args) if args.weftd_args else "",
         env["versions"].get("vsftpd", "-"), env["versions"].get("nginx",
                                                                 "-"),
         env["versions"].get("curl", "-"), load0, load1))
    w("Command: `%s`%s\n" % (argv_text,
                             " (a smoke run: its figures do not belong in "
                             "docs/BENCHMARKS.md)" if args.quick else ""))
    notes = []
    checks = []
    for key, title, unit, cs, _ in wls:
        res = results.get(key, {})
        base = RAW if key != "list" else NGINX_NAME
        b = res.get(base)
        w("### %s\n" % title)
        w("| contender | %s, median | fastest - slowest | ratio to %s | "
          "server CPU %s | client CPU %s |"
          % (unit, "raw" if key != "list" else "nginx",
             "ms per GB" if key != "list" else "ms per listing",
             "ms per GB" if key != "list" else "ms per listing"))
        w("|:--|--:|--:|--:|--:|--:|")
        for c in cs:
            r = res.get(c.name)
            if c.skipped:
                w("| %s | SKIPPED: %s | | | | |" % (c.name, c.skipped))
                continue
            if r is None:
                continue
            if r["errors"]:
                w("| %s | FAILED (%d round(s)) | | | | |" %
                  (c.name, r["errors"]))
                notes.append("- %s, %s: %s" % (c.name, title, r["note"]))
                continue
            ratio = ("%.2fx" % (r["value"] / b["value"])
                     if b and not b["errors"] and b["value"] > 0 else "-")
            w("| %s | %s | %s - %s | %s | %.0f | %.0f |" %
              (c.name, fmt(r["value"], unit), fmt(r["max"], unit),
               fmt(r["min"], unit), ratio, r["server_cpu"], r["client_cpu"]))
        w("")
        checks.extend(targets(key, title, res, cs))
    w("Targets:\n")
    out.extend(checks)
    w("")
    if notes:
        w("Notes:\n")
        out.extend(notes)
        w("")
    return "\n".join(out) + "\n"


def ok(res, name):
    r = res.get(name)
    return r if r and not r["errors"] and r["value"] > 0 else None


def targets(key, title, res, cs):
    lines = []
    wd = ok(res, WEFTD if key != "list" else WEFTD_LIST)
    vs = [(r["value"], n) for n in (VSFTPD_FC, VSFTPD_CURL)
          for r in [ok(res, n)] if r]

    def line(passed, text):
        lines.append("- %s %s: %s" % ("PASS" if passed else "MISS", title,
                                      text))

    if key in ("download", "parallel"):
        raw = ok(res, RAW)
        if wd and raw:
            q = wd["value"] / raw["value"]
            line(q >= 0.9, "weftd at least 0.9x the raw sendfile loop: "
                 "%.0f / %.0f MB/s = %.3fx (need 0.90x)"
                 % (wd["value"], raw["value"], q))
        else:
            lines.append("- SKIP %s: weftd at least 0.9x raw: not both "
                         "measured" % title)
    if key in ("download", "parallel", "upload"):
        if wd and vs:
            best, name = max(vs)
            q = wd["value"] / best
            line(q >= 1.0, "weftd at least vsftpd%s: %.0f / %.0f MB/s "
                 "(%s) = %.3fx (need 1.00x)"
                 % ("'s STOR (weftd with checksum and fsync)"
                    if key == "upload" else "", wd["value"], best, name, q))
        else:
            lines.append("- SKIP %s: weftd at least vsftpd: not both "
                         "measured" % title)
    if key == "list":
        ng = ok(res, NGINX_NAME)
        if wd and ng:
            q = wd["value"] / ng["value"]
            line(q >= 1.0, "weftd at least nginx's autoindex: %.1f / %.1f "
                 "lists/s = %.3fx (need 1.00x)"
                 % (wd["value"], ng["value"], q))
        else:
            lines.append("- SKIP %s: weftd at least nginx's autoindex: not "
                         "both measured" % title)
    return lines


def versions():
    v = {}
    for key, argv, pat in (
            # vsftpd -v writes to its stdin; ask the package manager.
            ("vsftpd", ["dpkg-query", "-W", "-f", "${Version}", "vsftpd"],
             r"^(\S+)"),
            ("nginx", [NGINX, "-v"], r"nginx/(\S+)"),
            ("curl", ["curl", "--version"], r"curl (\S+)")):
        try:
            r = subprocess.run(argv, capture_output=True, text=True,
                               timeout=10, stdin=subprocess.DEVNULL)
            m = re.search(pat, r.stdout + r.stderr)
            if m:
                v[key] = m.group(1)
        except OSError:
            pass
    return v


def reproduce(args):
    build = args.build
    if not (os.path.isabs(build) or build.startswith("./")):
        build = "./" + build
    cmd = ["python3", "bench/bench_fileserver.py", "--build", build]
    if args.quick:
        cmd.append("--quick")
    cmd += ["--rounds", str(args.rounds)]
    for k in ("size", "par_size", "par", "files", "lists"):
        cmd += ["--" + k.replace("_", "-"), str(getattr(args, k))]
    if args.dir_given:
        cmd += ["--dir", args.dir]
    if args.workloads != "download,upload,parallel,list":
        cmd += ["--workloads", args.workloads]
    if args.weftd_args:
        cmd += ["--weftd-args", args.weftd_args]
    if not args.warmup:
        cmd.append("--no-warmup")
    return " ".join(shlex.quote(a) for a in cmd)


# ---- main --------------------------------------------------------------------


def run_one(c, round_label):
    argv, parse = c.run()
    smp = measured(c.server, argv, parse)
    log("%s: %-24s %s%s" % (round_label, c.name,
                            "%.1f" % smp.value if not smp.error else "-",
                            "  ERROR: " + smp.error if smp.error else ""))
    return smp


def main():
    ap = argparse.ArgumentParser(
        description="File servers side by side: weftd, vsftpd, a raw "
        "sendfile loop, nginx autoindex (see the top of this file).")
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=None,
                    help="counted rounds (default 3; --quick 1)")
    ap.add_argument("--no-warmup", action="store_true",
                    help="skip the uncounted warm-up round")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 16 MiB and 10 x 4 MiB files, 1,000 "
                    "files listed 5 times, 1 round, no warm-up; for "
                    "tests, not for figures")
    ap.add_argument("--dir", default=None,
                    help="where the test folder is made (default: /tmp if "
                    "disk-backed, else /var/tmp)")
    ap.add_argument("--size", type=int, default=None,
                    help="bytes of the download and upload file (1 GiB)")
    ap.add_argument("--par-size", type=int, default=None,
                    help="bytes of the parallel download file (100 MiB)")
    ap.add_argument("--par", type=int, default=None,
                    help="parallel downloads (100)")
    ap.add_argument("--files", type=int, default=None,
                    help="files in the listed folder (10000)")
    ap.add_argument("--lists", type=int, default=None,
                    help="listings per round and contender (50)")
    ap.add_argument("--workloads", default="download,upload,parallel,list")
    ap.add_argument("--weftd-args", default="",
                    help="extra weftd options, e.g. '--model thread'")
    ap.add_argument("--keep", action="store_true",
                    help="keep the test folder (its path is logged)")
    ap.add_argument("--markdown", metavar="FILE",
                    help="also append the section to FILE")
    args = ap.parse_args()

    def pick(v, normal, quick):
        return v if v is not None else (quick if args.quick else normal)

    args.rounds = pick(args.rounds, 3, 1)
    args.size = pick(args.size, GIB, 16 * MIB)
    args.par_size = pick(args.par_size, 100 * MIB, 4 * MIB)
    args.par = pick(args.par, 100, 10)
    args.files = pick(args.files, 10000, 1000)
    args.lists = pick(args.lists, 50, 5)
    args.warmup = not (args.no_warmup or args.quick)
    args.dir_given = args.dir is not None
    if args.dir is None:
        args.dir = default_parent()
    if min(args.rounds, args.size, args.par_size, args.par, args.files,
           args.lists) < 1:
        ap.error("--rounds, --size, --par-size, --par, --files, --lists: "
                 "at least 1")
    want = [x for x in args.workloads.split(",") if x]
    for x in want:
        if x not in ("download", "upload", "parallel", "list"):
            ap.error("--workloads: download, upload, parallel, list")
    fileclient = os.path.join(args.build, "bench", "fileclient")
    for p in (fileclient, os.path.join(args.build, "bench",
                                       "sendfile_server"),
              os.path.join(args.build, "weftd")):
        if not os.access(p, os.X_OK):
            log("%s missing: build first (make bench)" % p)
            return 1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))

    # SIGTERM or SIGHUP: unwind (the finally below stops the servers).
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda n, f: sys.exit(128 + n))
    argv_text = reproduce(args)
    data = tempfile.mkdtemp(prefix="bench_fileserver.", dir=args.dir)
    servers, why, failed = {}, {}, False
    results = {}
    try:
        lib, sha = setup(args, data)
        env = {"data": data, "lib": lib, "sha": sha,
               "fileclient": fileclient, "fstype": fs_type(data),
               "versions": versions()}
        load0 = loadavg()
        servers, why, failed = start_servers(args, data, lib)
        env["servers"], env["why"] = servers, why
        wls = [w for w in build_workloads(args, env) if w[0] in want]
        for key, title, unit, cs, after in wls:
            live = [c for c in cs if not c.skipped]
            samples = {c.name: [] for c in live}
            rounds = ([("warm-up", False)] if args.warmup else []) + \
                [("round %d" % (i + 1), True) for i in range(args.rounds)]
            if after:
                after()
            for label, counted in rounds:
                for c in live:
                    smp = run_one(c, "%s %s" % (key, label))
                    if after:
                        after()
                    if counted:
                        samples[c.name].append(smp)
            res = {}
            for name, ss in samples.items():
                good = [s for s in ss if not s.error]
                errs = [s for s in ss if s.error]
                # CPU per GB moved, or per listing.
                per = (args.lists if key == "list" else
                       (args.size if key in ("download", "upload")
                        else args.par_size * args.par) / 1e9)
                res[name] = {
                    "value": statistics.median(s.value for s in good)
                    if good else 0,
                    "min": min((s.value for s in good), default=0),
                    "max": max((s.value for s in good), default=0),
                    "server_cpu": statistics.median(
                        s.server_cpu for s in good) * 1000 / per
                    if good else 0,
                    "client_cpu": statistics.median(
                        s.client_cpu for s in good) * 1000 / per
                    if good else 0,
                    "errors": len(errs),
                    "note": errs[0].error if errs else ""}
                if errs:
                    failed = True
            results[key] = res
        load1 = loadavg()
        text = report(args, wls, results, load0, load1, env, argv_text)
    finally:
        for s in servers.values():
            said = s.stop()
            if s.name == WEFTD and "warn" in said:
                for ln in said.splitlines():
                    if " warn: " in ln and "running as root" not in ln:
                        log("weftd said: " + ln)
        if args.keep:
            log("kept %s" % data)
        else:
            shutil.rmtree(data, ignore_errors=True)
    sys.stdout.write(text)
    sys.stdout.flush()
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(text + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
