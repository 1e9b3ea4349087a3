"""ipc_queue.py - Python's side of bench_ipc's queue suites:
multiprocessing.Queue between a producer and a consumer process.

External contender protocol (bench/README.md): `python3 ipc_queue.py SIZE N`
passes N messages of SIZE bytes after a warm-up and prints nanoseconds per
message.
"""
import multiprocessing
import sys
import time


def producer(q, msg, n):
    for _ in range(n):
        q.put(msg)


def run(ctx, size, n):
    q = ctx.Queue()
    msg = bytes(size)
    p = ctx.Process(target=producer, args=(q, msg, n))
    t0 = time.perf_counter_ns()
    p.start()
    for _ in range(n):
        q.get()
    p.join()
    return (time.perf_counter_ns() - t0) / n


def main():
    size, n = int(sys.argv[1]), int(sys.argv[2])
    ctx = multiprocessing.get_context("fork")
    run(ctx, size, min(n, 1000))  # warm-up
    print(run(ctx, size, n))


if __name__ == "__main__":
    main()
