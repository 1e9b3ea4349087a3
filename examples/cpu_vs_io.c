/* cpu_vs_io.c - compute-bound and I/O-bound jobs: serial, processes,
 * threads, coroutines.
 *
 * Python:
 *     for Executor in (ProcessPoolExecutor, ThreadPoolExecutor):
 *         with Executor(4) as ex:
 *             list(ex.map(count, [N] * 4))    # compute-bound
 *             list(ex.map(nap, [0.1] * 4))    # I/O-bound
 *
 * Four compute jobs (a tight loop, ~150 ms of CPU each, calibrated at
 * start) and four I/O jobs (each sleeps 100 ms, as a download would wait)
 * run one after the other, then on a pool of 4 processes, then on a pool
 * of 4 threads, each time with weft_pool_map. A small table shows the
 * times and the speed-up over serial.
 *
 * In Python the GIL lets only one thread run Python code at a time, so
 * threads speed up I/O but not compute, and compute needs processes. C
 * has no GIL: threads speed up compute as much as processes do, up to the
 * number of CPUs (on a 2-CPU machine, ~2x). Waiting needs no CPU, so the
 * I/O jobs overlap in both pools, ~4x with 4 workers.
 *
 * The last column runs the same jobs as 4 coroutines on one thread
 * (gevent.spawn + joinall): the sleeps overlap (weft_co_sleep lets the
 * others run), ~4x, but the compute jobs take turns on one CPU, ~1.0x -
 * coroutines are for waiting, not for computing.
 *
 * Run: ./build/examples/cpu_vs_io
 * Expect: the table; compute ~Nx faster on both pools (N = CPUs, at most
 * 4) and ~1.0x on coroutines, I/O ~4x faster on all three; "results
 * agree: yes".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/weft.h>

#define JOBS       4
#define WORKERS    4
#define COMPUTE_MS 150
#define IO_MS      100

struct timing {
    int64_t compute_ms;
    int64_t io_ms;
};

static void die(const char *what, int rc)
{
    fprintf(stderr, "cpu_vs_io: %s: %s\n", what, weft_strerror(rc));
    exit(1);
}

/* Pure CPU work: n steps of a xorshift generator, summed. Each step needs
 * the one before, so the compiler cannot shortcut the loop. */
static int64_t spin(int64_t n)
{
    uint64_t x = 88172645463325252ULL, sum = 0;
    int64_t i;

    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sum += x;
    }
    return (int64_t)(sum >> 1);
}

/* The compute task: int64 steps in, int64 sum out. */
static int count_task(const void *arg, size_t len, weft_buf *result)
{
    int64_t n;

    if (len != sizeof n)
        return 1;
    memcpy(&n, arg, sizeof n);
    n = spin(n);
    return weft_buf_append(result, &n, sizeof n);
}

/* The I/O task: sleep int64 ms (a stand-in for waiting on a network),
 * return the ms slept. */
static int nap_task(const void *arg, size_t len, weft_buf *result)
{
    int64_t ms;

    if (len != sizeof ms)
        return 1;
    memcpy(&ms, arg, sizeof ms);
    weft_sleep_ms((int)ms);
    return weft_buf_append(result, &ms, sizeof ms);
}

/* How many steps of spin() take about COMPUTE_MS here. */
static int64_t calibrate(void)
{
    int64_t n = 1 << 16, t0, ms;
    volatile int64_t sink;

    for (;;) {
        t0 = weft_now_ns();
        sink = spin(n);
        ms = (weft_now_ns() - t0) / 1000000;
        if (ms >= 20)
            break;
        n *= 2;
    }
    (void)sink;
    return n * COMPUTE_MS / ms;
}

static struct timing run_serial(const int64_t *steps, const int64_t *naps,
                                int64_t *sums)
{
    struct timing t;
    int64_t t0;
    int i;

    t0 = weft_now_ms();
    for (i = 0; i < JOBS; i++)
        sums[i] = spin(steps[i]);
    t.compute_ms = weft_now_ms() - t0;
    t0 = weft_now_ms();
    for (i = 0; i < JOBS; i++)
        weft_sleep_ms((int)naps[i]);
    t.io_ms = weft_now_ms() - t0;
    return t;
}

/* Both kinds of jobs with weft_pool_map on a new pool of the given kind.
 * chunksize 1: one job per message, so the 4 jobs go to 4 workers. */
static struct timing run_pool(int kind, const int64_t *steps,
                              const int64_t *naps, int64_t *sums)
{
    weft_pool_opts o = {.kind = kind, .workers = WORKERS};
    int64_t slept[JOBS], t0;
    struct timing t;
    weft_pool *p;
    int rc;

    rc = weft_pool_create(&p, &o);
    if (rc < 0)
        die("weft_pool_create", rc);
    t0 = weft_now_ms();
    rc = weft_pool_map(p, count_task, steps, sizeof steps[0], JOBS, 1, sums,
                       sizeof sums[0], NULL);
    if (rc != 0)
        die("weft_pool_map(count)", rc < 0 ? rc : -EPROTO);
    t.compute_ms = weft_now_ms() - t0;
    t0 = weft_now_ms();
    rc = weft_pool_map(p, nap_task, naps, sizeof naps[0], JOBS, 1, slept,
                       sizeof slept[0], NULL);
    if (rc != 0)
        die("weft_pool_map(nap)", rc < 0 ? rc : -EPROTO);
    t.io_ms = weft_now_ms() - t0;
    rc = weft_pool_shutdown(p, true, false);
    if (rc < 0)
        die("weft_pool_shutdown", rc);
    weft_pool_destroy(p);
    return t;
}

/* ---- coroutines: 4 of them on this thread's scheduler ----------------- */

struct co_job {
    int64_t steps, nap_ms, sum;
};

static int co_compute(void *arg)
{
    struct co_job *j = arg;

    j->sum = spin(j->steps); /* never yields: the others wait */
    return 0;
}

static int co_nap(void *arg)
{
    struct co_job *j = arg;

    return weft_co_sleep((int)j->nap_ms); /* yields until the timer */
}

/* Spawn one coroutine per job running fn, and wait for them all. */
static int co_spawn_all(weft_co_fn fn, struct co_job *jobs)
{
    weft_co *cs[JOBS];
    int i, rc = 0;

    for (i = 0; i < JOBS; i++) {
        rc = weft_co_spawn(&cs[i], fn, &jobs[i], NULL);
        if (rc < 0)
            die("weft_co_spawn", rc);
    }
    rc = weft_co_join_all(cs, JOBS, -1);
    for (i = 0; i < JOBS; i++)
        weft_co_release(cs[i]);
    return rc;
}

struct co_run {
    struct co_job jobs[JOBS];
    struct timing t;
};

static int co_main(void *arg)
{
    struct co_run *run = arg;
    int64_t t0;
    int rc;

    t0 = weft_now_ms();
    rc = co_spawn_all(co_compute, run->jobs);
    run->t.compute_ms = weft_now_ms() - t0;
    if (rc == 0) {
        t0 = weft_now_ms();
        rc = co_spawn_all(co_nap, run->jobs);
        run->t.io_ms = weft_now_ms() - t0;
    }
    return rc;
}

static struct timing run_coroutines(const int64_t *steps, const int64_t *naps,
                                    int64_t *sums)
{
    struct co_run run;
    int i, rc, result;

    for (i = 0; i < JOBS; i++) {
        run.jobs[i].steps = steps[i];
        run.jobs[i].nap_ms = naps[i];
        run.jobs[i].sum = 0;
    }
    rc = weft_co_run(co_main, &run, NULL, &result);
    if (rc < 0 || result < 0)
        die("weft_co_run", rc < 0 ? rc : result);
    for (i = 0; i < JOBS; i++)
        sums[i] = run.jobs[i].sum;
    return run.t;
}

static double speedup(int64_t serial, int64_t ms)
{
    return (double)serial / (double)(ms > 0 ? ms : 1);
}

int main(int argc, char **argv)
{
    int64_t steps[JOBS], naps[JOBS];
    int64_t serial_sums[JOBS], proc_sums[JOBS], thread_sums[JOBS];
    int64_t co_sums[JOBS];
    struct timing s, pr, th, co;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int i, agree;

    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: cpu_vs_io (no arguments)\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    steps[0] = calibrate();
    for (i = 0; i < JOBS; i++) {
        steps[i] = steps[0];
        naps[i] = IO_MS;
    }
    printf("%d jobs of each kind, %d workers per pool, %ld CPUs\n\n", JOBS,
           WORKERS, cpus);

    s = run_serial(steps, naps, serial_sums);
    pr = run_pool(WEFT_POOL_PROCESS, steps, naps, proc_sums);
    th = run_pool(WEFT_POOL_THREAD, steps, naps, thread_sums);
    co = run_coroutines(steps, naps, co_sums);

    printf("%-21s %8s %16s %16s %16s\n", "jobs", "serial", "4 processes",
           "4 threads", "4 coroutines");
    printf("%-21s %5lld ms %6lld ms %5.1fx %6lld ms %5.1fx %6lld ms %5.1fx\n",
           "compute (~150 ms CPU)", (long long)s.compute_ms,
           (long long)pr.compute_ms, speedup(s.compute_ms, pr.compute_ms),
           (long long)th.compute_ms, speedup(s.compute_ms, th.compute_ms),
           (long long)co.compute_ms, speedup(s.compute_ms, co.compute_ms));
    printf("%-21s %5lld ms %6lld ms %5.1fx %6lld ms %5.1fx %6lld ms %5.1fx\n",
           "I/O (sleep 100 ms)", (long long)s.io_ms, (long long)pr.io_ms,
           speedup(s.io_ms, pr.io_ms), (long long)th.io_ms,
           speedup(s.io_ms, th.io_ms), (long long)co.io_ms,
           speedup(s.io_ms, co.io_ms));

    agree = memcmp(serial_sums, proc_sums, sizeof proc_sums) == 0 &&
            memcmp(serial_sums, thread_sums, sizeof thread_sums) == 0 &&
            memcmp(serial_sums, co_sums, sizeof co_sums) == 0;
    printf("\nresults agree: %s\n", agree ? "yes" : "NO");
    printf("compute: threads scale like processes - C has no GIL (Python's "
           "threads: ~1.0x)\n");
    printf("coroutines: one thread, so compute takes turns (~1.0x); waits "
           "overlap\n");
    printf("I/O: waiting needs no CPU, all three overlap the %d waits\n", JOBS);
    return agree ? 0 : 1;
}
