"""proc.py - Python's side of bench_proc: multiprocessing.Process start+join.

External contender protocol (bench/README.md): run as `python3 proc.py N`,
start and join N processes, print one line: nanoseconds per process.
The 'fork' start method is chosen explicitly so that the comparison with
weft's fork() is like for like (Python 3.14 defaults to forkserver).
"""
import multiprocessing
import sys
import time


def noop():
    pass


def main():
    n = int(sys.argv[1])
    ctx = multiprocessing.get_context("fork")
    # One warm-up process, not counted: imports and first-touch costs.
    p = ctx.Process(target=noop)
    p.start()
    p.join()
    t0 = time.perf_counter_ns()
    for _ in range(n):
        p = ctx.Process(target=noop)
        p.start()
        p.join()
        if p.exitcode != 0:
            sys.exit("child exited with %r" % p.exitcode)
    t1 = time.perf_counter_ns()
    print((t1 - t0) / n)


if __name__ == "__main__":
    main()
