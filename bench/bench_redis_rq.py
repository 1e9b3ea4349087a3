"""bench_redis_rq.py - Python RQ's side of bench_redis's distributed-pool
suite: trivial jobs through the same redis-server, one worker.

External contender protocol (bench/README.md): run as
`/usr/bin/python3 bench_redis_rq.py PORT N`. It starts one RQ worker
(`rq worker -w rq.worker.SimpleWorker`: RQ's fastest worker, which runs
jobs in its own process instead of forking one per job) on a fresh queue
and waits until it is registered - outside the timing. Then it times N
jobs: enqueue them all (Queue.enqueue_many, one pipeline, as weft's map
pipelines its submits) and wait until all N are finished (polling the
FinishedJobRegistry every millisecond). Prints nanoseconds per job. The
job is noop(x) -> x, from this module (the worker imports it).
"""
import os
import subprocess
import sys
import time

from redis import Redis
from rq import Queue, Worker
from rq.registry import FinishedJobRegistry


def noop(x):
    return x


def main():
    port, n = int(sys.argv[1]), int(sys.argv[2])
    conn = Redis(host="127.0.0.1", port=port)
    name = "weftbench%d" % os.getpid()
    q = Queue(name, connection=conn)
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=here)
    rq = os.path.join(os.path.dirname(sys.executable), "rq")
    if not os.path.exists(rq):
        rq = "/usr/bin/rq"
    w = subprocess.Popen(
        [rq, "worker", "-q", "-w", "rq.worker.SimpleWorker",
         "-u", "redis://127.0.0.1:%d" % port, name],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not Worker.all(queue=q):
            if time.monotonic() > deadline or w.poll() is not None:
                sys.exit("rq worker did not start")
            time.sleep(0.01)
        reg = FinishedJobRegistry(queue=q)
        t0 = time.perf_counter_ns()
        q.enqueue_many([Queue.prepare_data("bench_redis_rq.noop", (i,))
                        for i in range(n)])
        while reg.count < n:
            if w.poll() is not None:
                sys.exit("rq worker died")
            time.sleep(0.001)
        t1 = time.perf_counter_ns()
    finally:
        w.terminate()
        w.wait()
    for key in conn.scan_iter("rq:*%s*" % name):
        conn.delete(key)
    print((t1 - t0) / n)


if __name__ == "__main__":
    main()
