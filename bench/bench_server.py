#!/usr/bin/env python3
"""bench_server.py - echo servers side by side: weft's six server models
(weft/server.h), a hand-written epoll server in C (the limit) and Python's
socketserver (ThreadingTCPServer, ForkingTCPServer).

    python3 bench/bench_server.py [--build DIR] [--rounds N]
        [--duration SECONDS] [--quick] [--markdown FILE] ...  (--help)

The contenders are servers, each started once per workload and kept for
its rounds; the client is always the same program, bench/loadgen (weft
coroutines, one thread), so every server faces the same load. For each
workload x request size x number of concurrent clients:

  persistent   each client opens one connection and makes round trips on
               it for the whole round
  per-conn     each client opens a new connection for every request:
               connect, send, read the reply, close (the course's one
               request per connection; loadgen --per-conn)
  sizes        8 bytes and 1 KiB; clients: 1 and 100

every contender runs for --duration seconds per round, interleaved (round
1: A, B, C...; round 2: A, B, C...), after an uncounted warm-up round, and
the tables give the median requests/s of the rounds and its ratio to the
epoll server. Targets, checked on the medians, as PASS or MISS lines (a
miss does not change the exit status): the best weft model at least 0.9x
epoll, and at least 5x (per-conn) or 2x (persistent) the best Python.

Then memory per idle connection, per model: a fresh server, one warm-up
connection, the resident memory of its whole process tree (the sum of
Pss from /proc/PID/smaps_rollup, so that pages a forked child shares with
its parent count once), then --idle connections opened and each answered
once (a 1-byte round trip, so its handler exists), the memory again; the
growth divided by the connections. And --idle-big (10,000) idle
connections held by the coroutine model, with a fresh client's round
trips timed while they are held. The open-files limit (RLIMIT_NOFILE) is
raised for this process and the servers it starts.

Settings that make it like for like (the servers' own files say more):
every server echoes what it reads until the client closes, listens with a
backlog of 128, and allows 1024 connections at once (weft's default
max_conns, Python's max_children raised to match); weft's
prefork and threadpool models get --pool-workers (100) workers, since a
worker serves one connection until it closes and their defaults (CPU
count, 5x CPU count) would leave most of 100 persistent clients waiting
their turn; for the memory runs they get one worker per idle connection.

The section printed on stdout (and appended to --markdown FILE) is in the
style of the harness's (bench/README.md). Exit status: 0, or 1 when a
server did not start or a load run failed (errors, a crash); 2 for bad
arguments.
"""
import argparse
import os
import re
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

MODELS = ["serial", "fork", "thread", "prefork", "threadpool", "coroutine"]
EPOLL = "epoll (C, hand-written)"
PY_THREADING = "Python ThreadingTCPServer"
PY_FORKING = "Python ForkingTCPServer"
NOFILE_WANT = 65536

HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    print("bench_server: " + msg, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


# ---- contenders -----------------------------------------------------------


class Contender:
    """One server program: name, the argv that starts it, and whether it
    is weft's (for the best-of targets)."""

    def __init__(self, name, argv, weft=False, python=False, model=None):
        self.name = name
        self.argv = argv
        self.weft = weft
        self.python = python
        self.model = model


def contenders(args):
    out = []
    for m in MODELS:
        argv = [os.path.join(args.build, "bench", "echo_server"),
                "--model", m, "--listen", "127.0.0.1:0"]
        if args.max_conns > 0:
            argv += ["--max-conns", str(args.max_conns)]
        if m in ("prefork", "threadpool"):
            argv += ["--workers", str(args.pool_workers)]
        out.append(Contender("weft " + m, argv, weft=True, model=m))
    out.append(Contender(EPOLL, [os.path.join(args.build, "bench",
                                              "echo_epoll"),
                                 "--listen", "127.0.0.1:0",
                                 "--threads", str(args.epoll_threads)]))
    py = os.path.join(HERE, "server_py.py")
    for name, mode in ((PY_THREADING, "threading"),
                       (PY_FORKING, "forking")):
        out.append(Contender(name, [sys.executable, py, "--mode", mode,
                                    "--listen", "127.0.0.1:0"],
                             python=True))
    if args.contenders:
        want = [w.strip() for w in args.contenders.split(",")]
        out = [c for c in out
               if any(w == c.name or w == c.model or
                      (w == "epoll" and c.name == EPOLL) or
                      (w == "py-threading" and c.name == PY_THREADING) or
                      (w == "py-forking" and c.name == PY_FORKING)
                      for w in want)]
    return out


class Server:
    """A running server: started in its own session (so that it and every
    process it forks can be stopped together), stdout and stderr in a
    file, the address read from its "listening on ADDR" line."""

    def __init__(self, c, extra=None):
        self.c = c
        self.log = tempfile.NamedTemporaryFile(
            mode="w+", prefix="bench_server.", suffix=".log")
        argv = list(c.argv)
        if extra:
            argv += extra
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        self.addr = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            self.log.seek(0)
            m = re.search(r"^listening on (\S+)$", self.log.read(), re.M)
            if m:
                self.addr = m.group(1)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("%s did not start: %s" %
                           (c.name, self.output().strip()[-500:]))

    @property
    def pid(self):
        return self.proc.pid

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        """SIGTERM to the server (its graceful stop), then anything left
        in its process group is killed. Returns what it wrote."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                log("%s: no exit 15 s after SIGTERM; killing it" %
                    self.c.name)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait()
        text = self.output()
        self.log.close()
        return text


# ---- the load runs ----------------------------------------------------------


LINE_REQ = re.compile(r"^requests: (\d+)  errors: (\d+)  duration: "
                      r"([0-9.]+) s  requests/s: (\d+)$", re.M)
LINE_LAT = re.compile(r"^latency us: p50 ([0-9.]+)  p99 ([0-9.]+)  "
                      r"p99\.9 ([0-9.]+)  max ([0-9.]+)$", re.M)


class Sample:
    def __init__(self, rps, p50, p99, errors, note):
        self.rps, self.p50, self.p99 = rps, p50, p99
        self.errors, self.note = errors, note


def loadgen_argv(args, addr, workload, size, clients, duration):
    argv = [os.path.join(args.build, "bench", "loadgen"), "--server", addr,
            "--conns", str(clients), "--size", str(size),
            "--duration", "%g" % duration,
            "--threads", str(min(args.loadgen_threads, clients)),
            "--timeout", "30000"]
    if workload == "per-conn":
        argv.append("--per-conn")
    return argv


def run_load(args, server, workload, size, clients, duration):
    argv = loadgen_argv(args, server.addr, workload, size, clients,
                        duration)
    try:
        r = subprocess.run(argv, capture_output=True, text=True,
                           timeout=duration + 120)
    except subprocess.TimeoutExpired:
        return Sample(0, 0, 0, 1, "loadgen did not finish")
    m = LINE_REQ.search(r.stdout)
    if m is None:
        return Sample(0, 0, 0, 1, "loadgen exit %d: %s" %
                      (r.returncode, (r.stdout + r.stderr).strip()[-300:]))
    lat = LINE_LAT.search(r.stdout)
    p50, p99 = (float(lat.group(1)), float(lat.group(2))) if lat else (0, 0)
    errors = int(m.group(2))
    note = r.stderr.strip().splitlines()[-1] if errors else ""
    if server.proc.poll() is not None:
        errors += 1
        note = "server exited (status %s)" % server.proc.returncode
    return Sample(float(m.group(4)), p50, p99, errors, note)


# ---- memory ---------------------------------------------------------------


def process_tree(root):
    """root and all its descendants (pids), from /proc/*/stat."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # The name is in parentheses and may hold spaces: split after it.
        fields = stat[stat.rfind(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(d))
    out, pending = [], [root]
    while pending:
        p = pending.pop()
        out.append(p)
        pending.extend(children.get(p, []))
    return out


def pss_kib(root):
    """The sum of Pss over root's process tree, KiB; and how many
    processes and threads it has."""
    total, nproc, nthreads = 0, 0, 0
    for p in process_tree(root):
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                m = re.search(r"^Pss:\s+(\d+) kB", f.read(), re.M)
            with open("/proc/%d/status" % p) as f:
                t = re.search(r"^Threads:\s+(\d+)", f.read(), re.M)
        except OSError:
            continue  # gone meanwhile
        if m:
            total += int(m.group(1))
            nproc += 1
            nthreads += int(t.group(1)) if t else 1
    return total, nproc, nthreads


def ping(sock):
    sock.sendall(b"x")
    if sock.recv(1) != b"x":
        raise ConnectionError("no echo")


def addr_tuple(addr):
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


def open_idle(addr, n, timeout):
    """n connections, each answered once; returns (sockets, error)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection(addr_tuple(addr), timeout=timeout)
            socks.append(s)
            ping(s)
    except OSError as e:
        return socks, "after %d connections: %s" % (len(socks), e)
    return socks, None


def close_all(socks):
    for s in socks:
        s.close()


class MemResult:
    def __init__(self, name, weft, workers=None):
        self.name, self.weft, self.workers = name, weft, workers
        self.before = self.after = 0
        self.procs = self.threads = 0
        self.n = 0
        self.note = ""

    def per_conn(self):
        return (self.after - self.before) / self.n if self.n else None


def measure_memory(args, c, n, extra=None, settle=0.5, fresh_client=False):
    r = MemResult(c.name, c.weft)
    if c.model == "serial":
        r.note = ("n/a: one connection at a time; the others wait in the "
                  "kernel's backlog")
        return r
    if extra is None and c.model in ("prefork", "threadpool"):
        extra = ["--workers", str(n + 1)]
        r.workers = n + 1
    try:
        srv = Server(c, extra)
    except RuntimeError as e:
        r.note = "FAILED: %s" % e
        return r
    socks = []
    try:
        w, err = open_idle(srv.addr, 1, 10)
        close_all(w)
        if err:
            r.note = "FAILED: warm-up: %s" % err
            return r
        time.sleep(settle)
        r.before = pss_kib(srv.pid)[0]
        socks, err = open_idle(srv.addr, n, 30)
        if err:
            r.note = "FAILED: %s" % err
            return r
        time.sleep(settle)
        r.after, r.procs, r.threads = pss_kib(srv.pid)
        r.n = n
        if fresh_client:
            s = run_load(args, srv, "persistent", 8, 1, 1.0)
            r.fresh = s
        if srv.proc.poll() is not None:
            r.note = "FAILED: server exited"
            r.n = 0
    finally:
        close_all(socks)
        srv.stop()
    return r


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return soft
    for lim in ((want, max(hard, want)), (min(want, hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, lim)
            return lim[0]
        except (ValueError, OSError):
            continue
    return soft


# ---- the report -----------------------------------------------------------


def fmt_rate(v):
    return "{:,.0f}".format(v)


def fmt_us(v):
    return "{:,.0f}".format(v) if v >= 100 else "{:.1f}".format(v)


def config_label(workload, size, clients):
    sz = "8 B" if size == 8 else ("1 KiB" if size == 1024 else
                                  "%d B" % size)
    return "%s %s x%d" % (workload, sz, clients)


def report(args, cs, configs, results, mem, big, load0, load1, argv_text,
           server_notes):
    out = []
    w = out.append
    epoll = next((c for c in cs if c.name == EPOLL), None)
    w("## Echo servers: weft's six models, epoll, Python socketserver\n")
    w("One operation: one request echoed back (a round trip of SIZE bytes "
      "each way), checked byte for byte by bench/loadgen (weft coroutines, "
      "%d thread). Workloads: *persistent* - each client makes round trips "
      "on one connection; *per-conn* - a new connection per request "
      "(connect, send, read the reply, close), latency counted from the "
      "connect. Clients: 1 and 100 at once. %d rounds of %g s per contender "
      "and configuration, interleaved%s; figures are medians of the "
      "per-round requests/s. Servers: bench/echo_server (weft_server, one "
      "model each; prefork and threadpool with %d workers), bench/echo_epoll "
      "(%d thread%s, level-triggered), bench/server_py.py. Load average "
      "%.2f before, %.2f after.\n"
      % (args.loadgen_threads, args.rounds, args.duration,
         " after an uncounted warm-up round of %g s" % args.warmup
         if args.warmup > 0 else "", args.pool_workers, args.epoll_threads,
         "" if args.epoll_threads == 1 else "s, SO_REUSEPORT", load0, load1))
    w("Command: `%s`%s\n" % (argv_text,
                             " (a smoke run: its figures do not belong in "
                             "docs/BENCHMARKS.md)" if args.quick else ""))
    if configs:
        w("Requests/s, median of the rounds (in parentheses: the ratio to "
          "epoll):\n")
        w("| contender | " + " | ".join(config_label(*k) for k in configs)
          + " |")
        w("|:--|" + "--:|" * len(configs))
        for c in cs:
            cells = []
            for k in configs:
                r = results[k].get(c.name)
                if r is None:
                    cells.append("-")
                    continue
                cell = fmt_rate(r["rps"])
                e = results[k].get(epoll.name) if epoll else None
                if e and e["rps"] > 0:
                    cell += " (%.2fx)" % (r["rps"] / e["rps"])
                if r["errors"]:
                    cell += " FAILED"
                cells.append(cell)
            w("| %s | %s |" % (c.name, " | ".join(cells)))
        w("")
        w("Latency p50 / p99 in microseconds, median of the rounds:\n")
        w("| contender | " + " | ".join(config_label(*k) for k in configs)
          + " |")
        w("|:--|" + "--:|" * len(configs))
        for c in cs:
            cells = []
            for k in configs:
                r = results[k].get(c.name)
                cells.append("-" if r is None else "%s / %s" %
                             (fmt_us(r["p50"]), fmt_us(r["p99"])))
            w("| %s | %s |" % (c.name, " | ".join(cells)))
        w("")
        w("Spread: each cell's fastest and slowest round, requests/s:\n")
        w("| contender | " + " | ".join(config_label(*k) for k in configs)
          + " |")
        w("|:--|" + "--:|" * len(configs))
        for c in cs:
            cells = []
            for k in configs:
                r = results[k].get(c.name)
                cells.append("-" if r is None else "%s-%s" %
                             (fmt_rate(r["min"]), fmt_rate(r["max"])))
            w("| %s | %s |" % (c.name, " | ".join(cells)))
        w("")
        w("Targets:\n")
        for k in configs:
            res = results[k]
            weft = [(res[c.name]["rps"], c.model) for c in cs
                    if c.weft and c.name in res and not res[c.name]["errors"]]
            py = [(res[c.name]["rps"], c.name) for c in cs
                  if c.python and c.name in res and not res[c.name]["errors"]]
            e = res.get(EPOLL)
            label = config_label(*k)
            if not weft:
                w("- SKIP %s: no weft model measured" % label)
                continue
            best, model = max(weft)
            if e and e["rps"] > 0 and not e["errors"]:
                ratio = best / e["rps"]
                w("- %s %s: best weft model at least 0.9x epoll: %s "
                  "(%s/s) / epoll (%s/s) = %.3fx (need 0.90x)"
                  % ("PASS" if ratio >= 0.9 else "MISS", label, model,
                     fmt_rate(best), fmt_rate(e["rps"]), ratio))
            else:
                w("- SKIP %s: best weft model at least 0.9x epoll: epoll "
                  "not measured" % label)
            need = 5.0 if k[0] == "per-conn" else 2.0
            if py:
                pbest, pname = max(py)
                ratio = best / pbest if pbest > 0 else float("inf")
                w("- %s %s: best weft model at least %gx the best Python: "
                  "%s (%s/s) / %s (%s/s) = %.3fx (need %.2fx)"
                  % ("PASS" if ratio >= need else "MISS", label, need, model,
                     fmt_rate(best), pname, fmt_rate(pbest), ratio, need))
            else:
                w("- SKIP %s: best weft model at least %gx the best Python: "
                  "Python not measured" % (label, need))
        w("")
        notes = []
        if any(c.model == "serial" for c in cs) and any(
                k[0] == "persistent" and k[2] > 1 for k in configs):
            notes.append(
                "- weft serial serves one connection at a time: with several "
                "persistent clients one of them is served for the whole "
                "round while the others wait in the backlog (each gets one "
                "answer when the round ends), so its figure is the "
                "single-connection rate.")
        notes.extend(server_notes)
        for k in configs:
            for c in cs:
                r = results[k].get(c.name)
                if r and r["errors"]:
                    notes.append("- %s, %s: FAILED in %d round(s): %s" %
                                 (c.name, config_label(*k), r["errors"],
                                  r["note"]))
        if notes:
            w("Notes:\n")
            out.extend(notes)
            w("")
    if mem:
        w("Memory per idle connection: one fresh server per contender, "
          "%d connections opened and each answered once, then held; the "
          "growth of the server's resident memory (the sum of Pss over its "
          "process tree, /proc/PID/smaps_rollup: user-space pages only - "
          "socket buffers, kernel stacks and page tables are the kernel's "
          "and not counted) divided by their number. prefork and threadpool "
          "run with one worker per connection (started before the "
          "measurement: their cost per connection shows in *before*).\n"
          % args.idle)
        w("| contender | before, MiB | with the connections, MiB | "
          "KiB per connection | processes / threads |")
        w("|:--|--:|--:|--:|--:|")
        for r in mem:
            if r.n:
                w("| %s%s | %.1f | %.1f | %.1f | %d / %d |" %
                  (r.name, " (%d workers)" % r.workers if r.workers else "",
                   r.before / 1024, r.after / 1024, r.per_conn(), r.procs,
                   r.threads))
            else:
                w("| %s | - | - | %s | - |" % (r.name, r.note))
        w("")
        bare = [r for r in mem if r.n and r.workers]
        if bare:
            base = min((r.before for r in mem
                        if r.n and r.weft and not r.workers), default=None)
            if base is not None:
                w("All in, counting the workers started up front: " +
                  "; ".join("%s %.1f KiB per connection" %
                            (r.name, (r.after - base) / r.n) for r in bare) +
                  " ((with the connections - the smallest *before* of the "
                  "other weft models) / connections).\n")
    if big is not None:
        w("%s idle connections held by the coroutine model, each answered "
          "once (open-files limit %d for the server and this client, raised "
          "to the hard limit when lower):\n"
          % ("{:,}".format(args.idle_big), args.nofile))
        if big.n:
            f = getattr(big, "fresh", None)
            w("- server memory %.1f MiB before, %.1f MiB with them: "
              "%.2f KiB per connection (%d threads)" %
              (big.before / 1024, big.after / 1024, big.per_conn(),
               big.threads))
            if f is not None and not f.errors:
                w("- a fresh client meanwhile: %s round trips/s, p50 %s us, "
                  "p99 %s us (1 connection, 8 bytes, 1 s)" %
                  (fmt_rate(f.rps), fmt_us(f.p50), fmt_us(f.p99)))
            elif f is not None:
                w("- FAILED: a fresh client got no answer: %s" % f.note)
        else:
            w("- %s" % big.note)
        w("")
    return "\n".join(out) + "\n"


# ---- main -------------------------------------------------------------------


def reproduce(args):
    """The command that reproduces the figures from the top of the tree:
    the effective rounds and duration, and every other setting that is not
    the default (--markdown left out, as the harness does)."""
    build = args.build
    if not (os.path.isabs(build) or build.startswith("./")):
        build = "./" + build
    cmd = ["python3", "bench/bench_server.py", "--build", build]
    if args.quick:
        cmd.append("--quick")
    cmd += ["--rounds", str(args.rounds), "--duration", "%g" % args.duration]
    defaults = {"warmup": 0.0 if args.quick else 0.25,
                "workloads": "persistent,per-conn", "sizes": "8,1024",
                "clients": "1,100", "contenders": "",
                "idle": 20 if args.quick else 1000,
                "idle_big": 200 if args.quick else 10000,
                "pool_workers": 100, "max_conns": 0,
                "loadgen_threads": 1, "epoll_threads": 1}
    for k, d in defaults.items():
        v = getattr(args, k)
        if v != d:
            cmd += ["--" + k.replace("_", "-"),
                    "%g" % v if isinstance(v, float) else str(v)]
    return " ".join(shlex.quote(a) for a in cmd)


def main():
    # A SIGTERM (a killed `make bench`) unwinds like ^C: the finally blocks
    # stop the servers this run started instead of orphaning them.
    signal.signal(signal.SIGTERM, lambda signo, frame: sys.exit(128 + signo))
    ap = argparse.ArgumentParser(
        description="Echo servers side by side: weft's six models, epoll, "
        "Python socketserver (see the top of this file).")
    ap.add_argument("--build", default="build",
                    help="the build directory (default: build)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="counted rounds (default 3)")
    ap.add_argument("--duration", type=float, default=None,
                    help="seconds per contender per round (default 1)")
    ap.add_argument("--warmup", type=float, default=None,
                    help="seconds of the uncounted warm-up round per "
                    "contender (default 0.25; 0: none)")
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 1 round of 0.15 s, no warm-up, 20 "
                    "idle connections, 200 on the coroutine model; for "
                    "tests, not for figures")
    ap.add_argument("--markdown", metavar="FILE",
                    help="also append the section to FILE")
    ap.add_argument("--workloads", default="persistent,per-conn")
    ap.add_argument("--sizes", default="8,1024")
    ap.add_argument("--clients", default="1,100")
    ap.add_argument("--contenders", default="",
                    help="comma-separated subset: model names, epoll, "
                    "py-threading, py-forking (default: all)")
    ap.add_argument("--idle", type=int, default=None,
                    help="idle connections per model for the memory "
                    "figures (default 1000; 0: skip)")
    ap.add_argument("--idle-big", type=int, default=None,
                    help="idle connections on the coroutine model "
                    "(default 10000; 0: skip)")
    ap.add_argument("--pool-workers", type=int, default=100,
                    help="workers of prefork and threadpool (default 100)")
    ap.add_argument("--max-conns", type=int, default=0,
                    help="weft's max_conns (default 0: weft's default, "
                    "1024; the --idle-big run gets what it needs)")
    ap.add_argument("--loadgen-threads", type=int, default=1)
    ap.add_argument("--epoll-threads", type=int, default=1)
    args = ap.parse_args()

    def pick(v, normal, quick):
        return v if v is not None else (quick if args.quick else normal)

    args.rounds = pick(args.rounds, 3, 1)
    args.duration = pick(args.duration, 1.0, 0.15)
    args.warmup = pick(args.warmup, 0.25, 0.0)
    if args.no_warmup:
        args.warmup = 0.0
    args.idle = pick(args.idle, 1000, 20)
    args.idle_big = pick(args.idle_big, 10000, 200)
    if args.rounds < 1 or args.duration < 0.001:
        ap.error("--rounds at least 1, --duration at least 0.001")
    try:
        workloads = [x for x in args.workloads.split(",") if x]
        sizes = [int(x) for x in args.sizes.split(",") if x]
        clients = [int(x) for x in args.clients.split(",") if x]
    except ValueError:
        ap.error("--sizes and --clients: comma-separated numbers")
    for wl in workloads:
        if wl not in ("persistent", "per-conn"):
            ap.error("--workloads: persistent, per-conn")
    progs = [os.path.join(args.build, "bench", "loadgen")]
    progs += [c.argv[0] for c in contenders(args) if not c.python]
    for p in progs:
        if not os.access(p, os.X_OK):
            log("%s missing: build first (make bench)" % p)
            return 1

    # Each idle connection takes a descriptor here and one in the server.
    args.nofile = raise_nofile(max(NOFILE_WANT, args.idle_big + 1024))
    if args.idle_big + 256 > args.nofile:
        log("open-files limit %d: --idle-big cut to %d" %
            (args.nofile, args.nofile - 256))
        args.idle_big = max(0, args.nofile - 256)

    cs = contenders(args)
    argv_text = reproduce(args)
    configs = [(wl, sz, cl) for wl in workloads for sz in sizes
               for cl in clients]
    results = {k: {} for k in configs}
    server_notes = []
    failed = False
    load0 = loadavg()

    for wl in workloads:
        # Fresh servers for each workload, kept for its rounds.
        servers = []
        try:
            for c in cs:
                try:
                    servers.append(Server(c))
                except RuntimeError as e:
                    log(str(e))
                    failed = True
            for sz in sizes:
                for cl in clients:
                    k = (wl, sz, cl)
                    samples = {s.c.name: [] for s in servers}
                    if args.warmup > 0:
                        for s in servers:
                            run_load(args, s, wl, sz, cl, args.warmup)
                    for rnd in range(args.rounds):
                        for s in servers:
                            smp = run_load(args, s, wl, sz, cl,
                                           args.duration)
                            samples[s.c.name].append(smp)
                            log("%s round %d: %-28s %10s req/s%s" %
                                (config_label(*k), rnd + 1, s.c.name,
                                 fmt_rate(smp.rps),
                                 "  ERRORS: " + smp.note
                                 if smp.errors else ""))
                    for name, ss in samples.items():
                        errs = [x for x in ss if x.errors]
                        results[k][name] = {
                            "rps": statistics.median(x.rps for x in ss),
                            "min": min(x.rps for x in ss),
                            "max": max(x.rps for x in ss),
                            "p50": statistics.median(x.p50 for x in ss),
                            "p99": statistics.median(x.p99 for x in ss),
                            "errors": len(errs),
                            "note": errs[0].note if errs else ""}
                        if errs:
                            failed = True
        finally:
            for s in servers:
                said = [ln for ln in s.stop().splitlines()
                        if ln and not ln.startswith("listening on ")]
                if said:
                    server_notes.append(
                        "- %s said (%s workload, %d line(s)): `%s`"
                        % (s.c.name, wl, len(said), said[0][:200]))

    mem = []
    if args.idle > 0:
        for c in cs:
            log("memory: %s, %d idle connections" % (c.name, args.idle))
            r = measure_memory(args, c, args.idle)
            if r.note.startswith("FAILED"):
                failed = True
            mem.append(r)
    big = None
    coro = next((c for c in cs if c.model == "coroutine"), None)
    if args.idle_big > 0 and coro is not None:
        log("memory: coroutine model, %d idle connections" % args.idle_big)
        big = measure_memory(args, coro, args.idle_big, fresh_client=True,
                             extra=["--max-conns",
                                    str(max(args.idle_big + 1000,
                                            args.max_conns))])
        f = getattr(big, "fresh", None)
        if big.note.startswith("FAILED") or (f is not None and f.errors):
            failed = True
    load1 = loadavg()

    text = report(args, cs, configs, results, mem, big, load0, load1,
                  argv_text, server_notes)
    sys.stdout.write(text)
    sys.stdout.flush()
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(text + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
