"""ipc_pipe.py - Python's side of bench_ipc's pipe round trip:
multiprocessing.Pipe to a child that sends each message back.

External contender protocol (bench/README.md): `python3 ipc_pipe.py N`
does N round trips of 8 bytes after a warm-up and prints nanoseconds per
round trip.
"""
import multiprocessing
import sys
import time


def echo(conn, n):
    for _ in range(n):
        conn.send_bytes(conn.recv_bytes())


def run(ctx, n):
    a, b = ctx.Pipe()
    p = ctx.Process(target=echo, args=(b, n))
    p.start()
    msg = bytes(8)
    t0 = time.perf_counter_ns()
    for _ in range(n):
        a.send_bytes(msg)
        a.recv_bytes()
    t1 = time.perf_counter_ns()
    p.join()
    return (t1 - t0) / n


def main():
    n = int(sys.argv[1])
    ctx = multiprocessing.get_context("fork")
    run(ctx, min(n, 500))  # warm-up
    print(run(ctx, n))


if __name__ == "__main__":
    main()
