"""co_gevent.py - Python's side of bench_co: gevent and greenlet.

External contender protocol (bench/README.md): run as
`python3 co_gevent.py MODE N`, MODE one of:

  spawn   N times: g = gevent.spawn(f); g.join(), f a trivial function;
          checks g.value. Prints nanoseconds per spawn + join.
  switch  two greenlets switch to each other, N switches in all (N/2
          round trips; the other greenlet counts its turns, checked at
          the end). Prints nanoseconds per switch.

A warm-up of a thousand operations (not timed) comes first. gevent and
greenlet come from Debian's python3-gevent (scripts/install-deps.sh);
bench_co runs this with whichever python3 can import gevent.
"""
import sys
import time

import gevent
import greenlet


def trivial():
    return 0


def spawn(n):
    for _ in range(n):
        g = gevent.spawn(trivial)
        g.join()
        if g.value != 0:
            sys.exit("co_gevent.py: wrong result %r" % (g.value,))


def switch(n):
    rounds = (n + 1) // 2
    main = greenlet.getcurrent()
    turns = [0]

    def other():
        while True:
            turns[0] += 1
            main.switch()

    g = greenlet.greenlet(other)
    t0 = time.perf_counter_ns()
    for _ in range(rounds):
        g.switch()
    t1 = time.perf_counter_ns()
    if turns[0] != rounds:
        sys.exit("co_gevent.py: %d turns for %d round trips"
                 % (turns[0], rounds))
    return (t1 - t0) * n / (2 * rounds)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("spawn", "switch"):
        sys.exit("usage: co_gevent.py spawn|switch N")
    mode, n = sys.argv[1], int(sys.argv[2])
    if mode == "spawn":
        spawn(1000)  # warm-up
        t0 = time.perf_counter_ns()
        spawn(n)
        t1 = time.perf_counter_ns()
        print((t1 - t0) / n)
    else:
        switch(1000)  # warm-up
        print(switch(n) / n)


if __name__ == "__main__":
    main()
