#!/usr/bin/env python3
"""bench_http.py - HTTP servers side by side on loopback, driven by wrk
(and curl for the large download): weftd, nginx (Debian's nginx-light,
sendfile on) and Python's http.server.

    python3 bench/bench_http.py [--build DIR] [--rounds N] [--seconds S]
        [--workers N] [--size BYTES] [--files N] [--quick]
        [--markdown FILE]                                       (--help)

Workloads (every contender in each, interleaved: round 1: A, B, C;
round 2: A, B, C...; after one uncounted warm-up round):

  small64      wrk, 64 connections, GET of a 1 KiB file for --seconds:
               requests per second
  small1000    the same with 1,000 connections
  large        curl downloads a --size (1 GiB) file (page-cached) to
               /dev/null, --downloads (3) times one after the other: MB/s
               over the three (one download alone swings 1.1-1.7 GB/s
               here, for nginx as for weftd)
  listing      wrk, 16 connections, GET of a folder of --files (1,000)
               files as an HTML page: requests per second

The contenders, each with --workers (default: the CPU count) workers:

  weftd        build/weftd --model coroutine --workers N: N scheduler
               threads; files with sendfile (under 32 KiB: read into the
               response's buffer, one write); listings built per request
  nginx        /usr/sbin/nginx, worker_processes N, sendfile on,
               autoindex on (HTML), access log off
  python 1.1   python3 -m http.server --protocol HTTP/1.1 (keep-alive,
               a thread per connection; one interpreter: the GIL is its
               one worker whatever N is)
  python 1.0   the same with its default protocol, HTTP/1.0: a
               connection per request

Targets, on the medians, as PASS or MISS lines: weftd at least 1.0x nginx
on small files (both connection counts), on the large download and on
the listing; at least 20x Python's http.server on small files (against
the faster of its two protocols).

wrk runs with 2 threads on the same 2 CPUs as the servers: the client's
cost is the same for every contender. Exit status: 0, or 1 when a server
did not start or a run failed; 2 for bad arguments.
"""
import argparse
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_fileserver import Server, free_port  # noqa: E402

NGINX = "/usr/sbin/nginx"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
CURL = shutil.which("curl") or "/usr/bin/curl"

NGINX_CONF = """\
worker_processes {workers};
worker_rlimit_nofile 8192;
error_log {dir}/error.log;
pid {dir}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    types {{ text/plain txt; application/octet-stream bin; }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root};
        location / {{ autoindex on; }}
    }}
}}
"""

WORKLOADS = ["small64", "small1000", "large", "listing"]
TITLES = {
    "small64": "1 KiB file, 64 connections (requests/s)",
    "small1000": "1 KiB file, 1,000 connections (requests/s)",
    "large": "large file download (MB/s)",
    "listing": "HTML listing of a {files:,}-file folder, 16 connections "
               "(requests/s)",
}


def log(msg):
    print("bench_http: " + msg, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def wrk(url, conns, seconds):
    """Requests per second from wrk, or raise."""
    argv = [WRK, "-t2", "-c%d" % conns, "-d%ds" % seconds,
            "--timeout", "10s", url]
    out = subprocess.run(argv, capture_output=True, text=True,
                         timeout=seconds + 60)
    m = re.search(r"^Requests/sec:\s+([0-9.]+)", out.stdout, re.M)
    if out.returncode != 0 or not m:
        raise RuntimeError("wrk failed: %s %s" % (out.stdout[-300:],
                                                  out.stderr[-300:]))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    socket_err = re.search(r"Socket errors: (.*)", out.stdout)
    if errors:
        raise RuntimeError("wrk saw %s error responses" % errors.group(1))
    note = socket_err.group(1) if socket_err else ""
    return float(m.group(1)), note


def curl_speed(url, size, times):
    """MB/s of `times` downloads one after the other, by curl."""
    wall = 0.0
    for _ in range(times):
        t0 = time.monotonic()
        out = subprocess.run([CURL, "-s", "-o", "/dev/null", "-w",
                              "%{size_download}", url],
                             capture_output=True, text=True, timeout=600)
        wall += time.monotonic() - t0
        if out.returncode != 0 or int(out.stdout or 0) != size:
            raise RuntimeError("curl: exit %d, %s bytes" %
                               (out.returncode, out.stdout))
    return size * times / wall / 1e6


def setup(root, size, files):
    os.makedirs(os.path.join(root, "list"), exist_ok=True)
    with open(os.path.join(root, "small.txt"), "wb") as f:
        f.write(bytes((i * 7 + 11) % 251 for i in range(1024)))
    big = os.path.join(root, "large.bin")
    with open(big, "wb") as f:
        block = os.urandom(1 << 20)
        left = size
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
    for i in range(files):
        with open(os.path.join(root, "list", "file-%05d.txt" % i), "w") as f:
            f.write("x" * (i % 100))
    # Page-cache the large file before anyone is measured.
    with open(big, "rb") as f:
        while f.read(1 << 24):
            pass


def start(name, args, root, conf_dir):
    workers = args.workers
    if name == "weftd":
        return Server("weftd", [os.path.join(args.build, "weftd"),
                                "--root", root, "--listen", "127.0.0.1:0",
                                "--model", "coroutine", "--workers",
                                str(workers), "--max-conns", "8192",
                                "--no-landlock"],
                      pattern=r"^weftd: serving .* on (127\.0\.0\.1:\d+)")
    if name == "nginx":
        port = free_port()
        d = os.path.join(conf_dir, "nginx")
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(workers=workers, port=port, root=root,
                                      dir=d))
        return Server("nginx", [NGINX, "-p", d, "-c", conf, "-g",
                                "daemon off;"], port=port)
    port = free_port()
    proto = ["--protocol", "HTTP/1.1"] if name == "python 1.1" else []
    return Server(name, [sys.executable, "-m", "http.server"] + proto +
                  ["--bind", "127.0.0.1", "--directory", root, str(port)],
                  port=port)


def run(wl, server, args):
    base = "http://%s" % server.addr
    if wl == "small64":
        return wrk(base + "/small.txt", 64, args.seconds)
    if wl == "small1000":
        return wrk(base + "/small.txt", 1000, args.seconds)
    if wl == "listing":
        return wrk(base + "/list/", 16, args.seconds)
    return curl_speed(base + "/large.bin", args.size, args.downloads), ""


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--size", type=int, default=1 << 30)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--downloads", type=int, default=3,
                    help="large-file downloads per round and contender")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 1 round, no warm-up, 1 s runs, a 16 "
                         "MiB file, 200 files; for tests, not for figures")
    ap.add_argument("--markdown")
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.size = 1, 1, 16 << 20
        args.downloads = 1
        args.files = min(args.files, 200)
    if min(args.rounds, args.seconds, args.size, args.downloads) < 1:
        ap.error("rounds, seconds, size and downloads must be positive")
    if not os.path.exists(WRK):
        log("wrk is not installed (make bench installs it)")
        return 1
    raise_nofile()
    args.load0 = loadavg()

    contenders = ["weftd"]
    skipped = []
    for name, path in (("nginx", NGINX),):
        (contenders if os.path.exists(path) else skipped).append(name)
    contenders += ["python 1.1", "python 1.0"]
    parent = args.dir or ("/var/tmp" if os.path.exists("/var/tmp") else None)
    work = tempfile.mkdtemp(prefix="bench_http.", dir=parent)
    root = os.path.join(work, "lib")
    os.chmod(work, 0o755)  # nginx's workers run as www-data
    results = {wl: {c: [] for c in contenders} for wl in WORKLOADS}
    notes = []
    status = 0
    servers = {}
    try:
        os.makedirs(root)
        log("making the files in %s" % work)
        setup(root, args.size, args.files)
        for c in contenders:
            servers[c] = start(c, args, root, work)
        for r in range(0 if not args.quick else 1, args.rounds + 1):
            label = "warm-up" if r == 0 else "round %d" % r
            for wl in WORKLOADS:
                for c in contenders:
                    try:
                        v, note = run(wl, servers[c], args)
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        notes.append("%s, %s, %s: %s" % (label, wl, c, e))
                        log(notes[-1])
                        continue
                    if note:
                        notes.append("%s, %s, %s: socket errors %s" %
                                     (label, wl, c, note))
                    if r > 0:
                        results[wl][c].append(v)
                    log("%s %s %s: %.0f" % (label, wl, c, v))
    except RuntimeError as e:
        log(str(e))
        status = 1
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(work, ignore_errors=True)

    TITLES["listing"] = TITLES["listing"].format(files=args.files)
    lines = report(args, contenders, skipped, results, notes)
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    return status


def med(v):
    return statistics.median(v) if v else None


def report(args, contenders, skipped, results, notes):
    cmd = "python3 bench/bench_http.py --build %s" % args.build
    if args.quick:
        cmd += " --quick"
        out_note = "A smoke run (--quick): not figures to quote."
    else:
        out_note = ""
    out = ["## HTTP servers (bench_http.py)", "",
           "Reproduce: `%s` (wrk and nginx-light: `make bench` installs "
           "them). %d rounds%s; %d-second wrk runs; every "
           "server with %d workers (Python: one interpreter); the large "
           "file is %.0f MiB, downloaded %d times per round. Load average "
           "%s before, %s after." % (cmd, args.rounds,
                                     "" if args.quick else
                                     " after a warm-up", args.seconds,
                                     args.workers, args.size / (1 << 20),
                                     args.downloads, args.load0,
                                     loadavg())]
    out += [out_note, ""] if out_note else [""]
    for wl in WORKLOADS:
        out += ["### " + TITLES[wl], "",
                "| contender | median | min | max | vs nginx |",
                "|---|---:|---:|---:|---:|"]
        base = med(results[wl].get("nginx", []))
        for c in contenders:
            v = results[wl][c]
            m = med(v)
            if m is None:
                out.append("| %s | failed | | | |" % c)
                continue
            ratio = "%.2fx" % (m / base) if base else "-"
            out.append("| %s | %.0f | %.0f | %.0f | %s |" %
                       (c, m, min(v), max(v), ratio))
        out.append("")
    out += ["### Targets", ""]

    def check(title, wl, other, want):
        a, b = med(results[wl]["weftd"]), med(results[wl].get(other, []))
        if a is None or b is None:
            out.append("- SKIP %s (no figure)" % title)
            return
        r = a / b
        out.append("- %s %s: %.2fx (target %gx)" %
                   ("PASS" if r >= want else "MISS", title, r, want))

    for wl in WORKLOADS:
        check("weftd vs nginx, " + TITLES[wl], wl, "nginx", 1.0)
    for wl in ("small64", "small1000"):
        best = max(("python 1.1", "python 1.0"),
                   key=lambda c: med(results[wl][c]) or 0)
        check("weftd vs Python's http.server (%s, the faster), %s" %
              (best, TITLES[wl]), wl, best, 20.0)
    out.append("")
    if skipped:
        out += ["SKIPPED (not installed): " + ", ".join(skipped), ""]
    if notes:
        out += ["Notes:", ""] + ["- " + n for n in notes] + [""]
    return out


if __name__ == "__main__":
    sys.exit(main())
