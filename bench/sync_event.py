"""sync_event.py - Python's side of bench_sync's ping-pong:
two processes, two multiprocessing.Events, one round trip per operation.

External contender protocol (bench/README.md): `python3 sync_event.py N`
does N round trips after a warm-up and prints nanoseconds per round trip.
"""
import multiprocessing
import sys
import time


def partner(ping, pong, n):
    for _ in range(n):
        ping.wait()
        ping.clear()
        pong.set()


def run(ctx, n):
    ping, pong = ctx.Event(), ctx.Event()
    p = ctx.Process(target=partner, args=(ping, pong, n))
    p.start()
    t0 = time.perf_counter_ns()
    for _ in range(n):
        ping.set()
        pong.wait()
        pong.clear()
    t1 = time.perf_counter_ns()
    p.join()
    return (t1 - t0) / n


def main():
    n = int(sys.argv[1])
    ctx = multiprocessing.get_context("fork")
    run(ctx, min(n, 200))  # warm-up
    print(run(ctx, n))


if __name__ == "__main__":
    main()
