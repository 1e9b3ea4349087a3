"""pool_map.py - Python's side of bench_pool's map suite:
multiprocessing.Pool.map of a trivial function (x * x).

External contender protocol (bench/README.md): run as
`python3 pool_map.py WORKERS CHUNKSIZE BATCH N`, CHUNKSIZE a number or
`default` (Pool.map's own choice: len / (4 x workers), rounded up). It
creates the pool once (the 'fork' start method, like weft's forked
workers), warms it up with one map, then times N tasks: maps of BATCH items
(the last one shorter if BATCH does not divide N), each checked. Prints
nanoseconds per task.
"""
import multiprocessing
import sys
import time


def square(x):
    return x * x


def run(pool, chunksize, batch, n):
    done = 0
    while done < n:
        m = min(batch, n - done)
        out = pool.map(square, range(m), chunksize)
        if len(out) != m or out[-1] != (m - 1) * (m - 1):
            sys.exit("wrong map result")
        done += m


def main():
    workers, chunk = int(sys.argv[1]), sys.argv[2]
    batch, n = int(sys.argv[3]), int(sys.argv[4])
    chunksize = None if chunk == "default" else int(chunk)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        run(pool, chunksize, batch, min(batch, n))  # warm-up
        t0 = time.perf_counter_ns()
        run(pool, chunksize, batch, n)
        t1 = time.perf_counter_ns()
    print((t1 - t0) / n)


if __name__ == "__main__":
    main()
