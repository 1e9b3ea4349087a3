"""pool_submit.py - Python's side of bench_pool's submit + result suite:
concurrent.futures ProcessPoolExecutor or ThreadPoolExecutor, trivial tasks.

External contender protocol (bench/README.md): run as
`python3 pool_submit.py KIND WORKERS BATCH N` with KIND `process` or
`thread`. It creates the pool once (process pools with the 'fork' start
method, like weft's forked workers), warms it up with one batch, then
times N tasks: in batches of BATCH, submit every task of the batch, then
call .result() on each future in order, checking it. Prints nanoseconds per
task.
"""
import concurrent.futures
import multiprocessing
import sys
import time


def square(x):
    return x * x


def run(pool, batch, n):
    done = 0
    while done < n:
        m = min(batch, n - done)
        futures = [pool.submit(square, i) for i in range(m)]
        for i, f in enumerate(futures):
            if f.result() != i * i:
                sys.exit("wrong result for %d" % i)
        done += m


def main():
    kind, workers = sys.argv[1], int(sys.argv[2])
    batch, n = int(sys.argv[3]), int(sys.argv[4])
    if kind == "process":
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("fork"))
    elif kind == "thread":
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
    else:
        sys.exit("pool_submit.py: KIND is process or thread, not %r" % kind)
    with pool:
        run(pool, batch, min(batch, n))  # warm-up: workers started
        t0 = time.perf_counter_ns()
        run(pool, batch, n)
        t1 = time.perf_counter_ns()
    print((t1 - t0) / n)


if __name__ == "__main__":
    main()
