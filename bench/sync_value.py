"""sync_value.py - Python's side of bench_sync's contended counter:
two processes add 1 to a multiprocessing.Value under its lock.

External contender protocol (bench/README.md): `python3 sync_value.py N`
does N increments in total (N/2 per process) and prints nanoseconds per
increment.
"""
import multiprocessing
import sys
import time


def work(v, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def run(ctx, n):
    v = ctx.Value("q", 0)
    half = n // 2
    t0 = time.perf_counter_ns()
    p = ctx.Process(target=work, args=(v, half))
    p.start()
    work(v, half)
    p.join()
    t1 = time.perf_counter_ns()
    if v.value != 2 * half:
        sys.exit("lost increments: %d of %d" % (v.value, 2 * half))
    return (t1 - t0) / (2 * half)


def main():
    n = int(sys.argv[1])
    ctx = multiprocessing.get_context("fork")
    run(ctx, min(n, 2000))  # warm-up
    print(run(ctx, n))


if __name__ == "__main__":
    main()
