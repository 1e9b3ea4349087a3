"""ipc_thread_queue.py - Python's side of bench_ipc's thread-queue suite:
queue.Queue between a producer thread and a consumer thread.

External contender protocol (bench/README.md): `python3 ipc_thread_queue.py
N` passes N 8-byte messages after a warm-up and prints nanoseconds per
message.
"""
import queue
import sys
import threading
import time


def run(n):
    q = queue.Queue()
    msg = bytes(8)

    def consumer():
        for _ in range(n):
            q.get()

    t = threading.Thread(target=consumer)
    t0 = time.perf_counter_ns()
    t.start()
    for _ in range(n):
        q.put(msg)
    t.join()
    return (time.perf_counter_ns() - t0) / n


def main():
    n = int(sys.argv[1])
    run(min(n, 1000))  # warm-up
    print(run(n))


if __name__ == "__main__":
    main()
