/* bench_pool.c - process and thread pools: submit + result, map, and
 * scaling of a compute-bound map, side by side with Python's pools.
 *
 * Suites (see bench/README.md for how contenders are run). Every pool has
 * 2 workers (this machine has 2 cores), Python's too; each pool is created
 * once, before its suite runs, so pool start-up is not what is measured
 * (the harness's warm-up round starts the workers). Python process pools
 * use the 'fork' start method, like weft's forked workers. The trivial task
 * is x * x on an int64 (weft: square below; Python: a module-level
 * function); every contender checks every result it collects, except
 * Python's maps, which check the length and the last item.
 *
 * 1. Submit + result: submit a batch of 1000 trivial tasks, then collect
 *    each result in order; one operation is one task.
 *      weft process pool         weft_pool_submit, weft_future_result
 *      weft thread pool          the same on a WEFT_POOL_THREAD pool
 *      Python ProcessPoolExecutor  pool.submit, f.result() (pool_submit.py)
 *      Python ThreadPoolExecutor   the same (pool_submit.py)
 *    Baseline: the weft process pool. Target: the weft process pool at
 *    least 20x faster per task than ProcessPoolExecutor.
 *
 * 2. Map, chunksize 1: maps of 10000 trivial tasks, one task per message.
 *      weft process pool, chunksize 1    weft_pool_map
 *      weft thread pool, chunksize 1     weft_pool_map
 *      Python Pool.map, chunksize 1      multiprocessing.Pool (pool_map.py)
 *    Target: weft's process pool at least 100x faster per task than
 *    Python's Pool.map, both with chunksize 1.
 *
 * 3. Map, automatic chunk size: the same maps, chunks chosen by the pool
 *    (weft: chunksize 0; Python: Pool.map's default; both len / (4 x
 *    workers), 1250 items here).
 *      weft process pool, chunksize 0, weft thread pool, chunksize 0,
 *      Python Pool.map, default chunksize
 *    Target: weft's process pool at least as fast as Python's Pool.map.
 *
 * 4. Compute-bound map: each task runs a dependent multiply-xor chain for
 *    tens of microseconds (the figure measured in this process is in the
 *    suite's description); maps of 500 tasks, automatic chunk size.
 *      weft process pool, 1 worker   (baseline)
 *      weft process pool, 2 workers
 *      direct calls, no pool         the same tasks called in a loop in
 *                                    this process: the floor for one
 *                                    worker
 *    Target: 2 workers at least 1.8x the throughput of 1 worker.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/weft.h>

#include "harness.h"

#define WORKERS      2
#define SUBMIT_BATCH 1000  /* tasks submitted before collecting */
#define MAP_BATCH    10000 /* items per map call, trivial tasks */
#define SPIN_BATCH   500   /* items per map call, compute-bound tasks */
#define SPIN_ROUNDS  30000 /* multiply-xor steps per compute-bound task */
#define STR_(x)      #x
#define STR(x)       STR_(x)

/* ---- Tasks ---------------------------------------------------------------
 */

static int square(const void *arg, size_t len, weft_buf *result)
{
    int64_t x;

    if (len != sizeof x)
        return 1;
    memcpy(&x, arg, sizeof x);
    x *= x;
    return weft_buf_append(result, &x, sizeof x);
}

/* A chain of dependent multiplies and shifts: no vectorising, no closed
 * form, about the same time on every call. */
static uint64_t spin_value(uint64_t x)
{
    long i;

    for (i = 0; i < SPIN_ROUNDS; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        x ^= x >> 29;
    }
    return x;
}

static int spin(const void *arg, size_t len, weft_buf *result)
{
    uint64_t x;

    if (len != sizeof x)
        return 1;
    memcpy(&x, arg, sizeof x);
    x = spin_value(x);
    return weft_buf_append(result, &x, sizeof x);
}

/* ---- 1. Submit + result ----------------------------------------------------
 */

struct submit_ctx {
    weft_pool *pool;
    weft_future *f[SUBMIT_BATCH];
};

static int64_t run_submit(void *ctx, long n)
{
    struct submit_ctx *c = ctx;
    const void *data;
    int64_t x, got;
    long done, m, i, j;
    size_t len;
    int rc = 0, status;

    for (done = 0; done < n && rc == 0; done += m) {
        m = n - done < SUBMIT_BATCH ? n - done : SUBMIT_BATCH;
        for (i = 0; i < m; i++) {
            x = i;
            rc = weft_pool_submit(c->pool, square, &x, sizeof x, &c->f[i]);
            if (rc < 0)
                break;
        }
        /* Collect (and release) every future submitted, even after a
         * failure, so that none is left behind. */
        for (j = 0; j < i; j++) {
            int r = weft_future_result(c->f[j], &status, &data, &len);
            if (r == 0 && (status != 0 || len != sizeof got))
                r = -EPROTO;
            if (r == 0) {
                memcpy(&got, data, sizeof got);
                if (got != (int64_t)j * j)
                    r = -EPROTO;
            }
            if (r < 0 && rc == 0)
                rc = r;
            weft_future_release(c->f[j]);
        }
    }
    return rc;
}

/* ---- 2-4. Map --------------------------------------------------------------
 */

struct map_ctx {
    weft_pool *pool;
    weft_task_fn fn;
    size_t chunksize;
    long batch;
    int64_t *args, *out, *want; /* batch items each */
};

static int64_t run_map(void *ctx, long n)
{
    struct map_ctx *c = ctx;
    long done, m, i;
    int rc;

    for (done = 0; done < n; done += m) {
        m = n - done < c->batch ? n - done : c->batch;
        rc = weft_pool_map(c->pool, c->fn, c->args, sizeof *c->args, (size_t)m,
                           c->chunksize, c->out, sizeof *c->out, NULL);
        if (rc < 0)
            return rc;
        if (rc > 0)
            return -EPROTO; /* rc items failed */
        for (i = 0; i < m; i++)
            if (c->out[i] != c->want[i])
                return -EPROTO;
    }
    return 0;
}

/* The floor for one worker: the same tasks, called here. */
static int64_t run_direct(void *ctx, long n)
{
    struct map_ctx *c = ctx;
    long done, m, i;

    for (done = 0; done < n; done += m) {
        m = n - done < c->batch ? n - done : c->batch;
        for (i = 0; i < m; i++)
            c->out[i] = (int64_t)spin_value((uint64_t)c->args[i]);
        for (i = 0; i < m; i++)
            if (c->out[i] != c->want[i])
                return -EPROTO;
    }
    return 0;
}

/* ---- Setup -----------------------------------------------------------------
 */

/* A pool of `workers` workers of `kind`, or NULL with a note: the
 * contender is then listed as skipped and the benchmark fails. */
static weft_pool *make_pool(int kind, int workers, int *failed)
{
    weft_pool_opts o = {.kind = kind, .workers = workers};
    weft_pool *p;
    int rc = weft_pool_create(&p, &o);

    if (rc < 0) {
        fprintf(stderr, "bench_pool: weft_pool_create (%s, %d workers): %s\n",
                kind == WEFT_POOL_THREAD ? "thread" : "process", workers,
                weft_strerror(rc));
        *failed = 1;
        return NULL;
    }
    return p;
}

static void add_or_skip(bench_suite *s, const char *name, bench_fn fn,
                        void *ctx, weft_pool *p)
{
    if (p)
        bench_add(s, name, fn, ctx);
    else
        bench_add_skipped(s, name, "weft_pool_create failed");
}

static int64_t *make_array(long n, int64_t (*f)(long))
{
    int64_t *a = malloc(sizeof *a * (size_t)n);
    long i;

    if (!a) {
        fprintf(stderr, "bench_pool: out of memory\n");
        exit(1);
    }
    for (i = 0; f && i < n; i++)
        a[i] = f(i);
    return a;
}

static int64_t ident(long i)
{
    return i;
}

static int64_t squared(long i)
{
    return (int64_t)i * i;
}

static int64_t spun(long i)
{
    return (int64_t)spin_value((uint64_t)i);
}

/* ---- Suites ----------------------------------------------------------------
 */

static int submit_suite(int argc, char **argv)
{
    const char *py_proc[] = {"python3",         NULL, "process", STR(WORKERS),
                             STR(SUBMIT_BATCH), NULL};
    const char *py_thr[] = {"python3",         NULL, "thread", STR(WORKERS),
                            STR(SUBMIT_BATCH), NULL};
    struct submit_ctx *proc = calloc(1, sizeof *proc);
    struct submit_ctx *thr = calloc(1, sizeof *thr);
    char *script = bench_path_beside(__FILE__, "pool_submit.py");
    int failed = 0, rc;
    char desc[256];
    bench_suite *s;

    if (!proc || !thr) {
        fprintf(stderr, "bench_pool: out of memory\n");
        exit(1);
    }
    py_proc[1] = py_thr[1] = script;
    snprintf(desc, sizeof desc,
             "one task (x * x on an int64) submitted and its result "
             "collected: batches of %d submitted, then each result collected "
             "in order; pools of %d workers",
             SUBMIT_BATCH, WORKERS);
    s = bench_suite_new("Pool submit + result, trivial tasks", desc);
    bench_parse_args(s, argc, argv);
    proc->pool = make_pool(WEFT_POOL_PROCESS, WORKERS, &failed);
    thr->pool = make_pool(WEFT_POOL_THREAD, WORKERS, &failed);
    add_or_skip(s, "weft process pool", run_submit, proc, proc->pool);
    add_or_skip(s, "weft thread pool", run_submit, thr, thr->pool);
    bench_add_external(s, "Python ProcessPoolExecutor", py_proc);
    bench_add_external(s, "Python ThreadPoolExecutor", py_thr);
    bench_set_baseline(s, "weft process pool");
    bench_check(s, "weft process pool", BENCH_FASTER, 20.0,
                "Python ProcessPoolExecutor",
                "weft process pool at least 20x faster per task than "
                "ProcessPoolExecutor");
    rc = bench_run(s, 7, 5000);
    bench_suite_free(s);
    weft_pool_destroy(proc->pool);
    weft_pool_destroy(thr->pool);
    free(proc);
    free(thr);
    free(script);
    return rc | failed;
}

/* Suites 2 and 3: chunksize 1, or 0 (automatic) against Python's default. */
static int map_suite(int argc, char **argv, size_t chunksize)
{
    const char *py[] = {"python3",      NULL,
                        STR(WORKERS),   chunksize ? "1" : "default",
                        STR(MAP_BATCH), NULL};
    char *script = bench_path_beside(__FILE__, "pool_map.py");
    int64_t *args = make_array(MAP_BATCH, ident);
    int64_t *want = make_array(MAP_BATCH, squared);
    int64_t *out = make_array(MAP_BATCH, NULL);
    struct map_ctx proc = {NULL, square, chunksize, MAP_BATCH, args, out, want};
    struct map_ctx thr = proc;
    char wp[64], wt[64], pyname[64], desc[256];
    int failed = 0, rc;
    bench_suite *s;

    py[1] = script;
    snprintf(desc, sizeof desc,
             "one task (x * x on an int64) of a map of %d tasks, %s; pools "
             "of %d workers",
             MAP_BATCH,
             chunksize ? "one task per message"
                       : "in chunks chosen by the pool (len / (4 x workers))",
             WORKERS);
    snprintf(pyname, sizeof pyname, "Python Pool.map, %s",
             chunksize ? "chunksize 1" : "default chunksize");
    s = bench_suite_new(chunksize
                            ? "Pool map, chunksize 1, trivial tasks"
                            : "Pool map, automatic chunk size, trivial tasks",
                        desc);
    snprintf(wp, sizeof wp, "weft process pool, chunksize %zu", chunksize);
    snprintf(wt, sizeof wt, "weft thread pool, chunksize %zu", chunksize);
    bench_parse_args(s, argc, argv);
    proc.pool = make_pool(WEFT_POOL_PROCESS, WORKERS, &failed);
    thr.pool = make_pool(WEFT_POOL_THREAD, WORKERS, &failed);
    add_or_skip(s, wp, run_map, &proc, proc.pool);
    add_or_skip(s, wt, run_map, &thr, thr.pool);
    /* The target compares weft's map - which batches - with
     * Python's chunksize 1; the stricter like-for-like reading is checked
     * too. */
    struct map_ctx autoc = proc;
    autoc.chunksize = 0;
    if (chunksize)
        add_or_skip(s, "weft process pool, automatic chunks", run_map, &autoc,
                    proc.pool);
    bench_add_external(s, pyname, py);
    bench_set_baseline(s, wp);
    if (chunksize) {
        bench_check(s, "weft process pool, automatic chunks", BENCH_FASTER,
                    100.0, pyname,
                    "weft process pool map (its own batching) at least 100x "
                    "faster per task than Python's Pool.map chunksize 1");
        bench_check(s, wp, BENCH_FASTER, 100.0, pyname,
                    "like for like: weft process pool map at least 100x "
                    "faster per task than Python's Pool.map, both chunksize "
                    "1");
    } else
        bench_check(s, wp, BENCH_FASTER, 1.0, pyname,
                    "weft process pool map (automatic chunks) at least as "
                    "fast as Python's Pool.map with its default chunks");
    /* Chunksize 1: Python takes ~50 us a task, so 20000 tasks are about a
     * second a round; chunked maps are ~100x faster for everyone. */
    rc = bench_run(s, 7, chunksize ? 20000 : 400000);
    bench_suite_free(s);
    weft_pool_destroy(proc.pool);
    weft_pool_destroy(thr.pool);
    free(args);
    free(want);
    free(out);
    free(script);
    return rc | failed;
}

static int spin_suite(int argc, char **argv)
{
    int64_t *args = make_array(SPIN_BATCH, ident);
    int64_t *want = make_array(SPIN_BATCH, spun);
    int64_t *out = make_array(SPIN_BATCH, NULL);
    struct map_ctx one = {NULL, spin, 0, SPIN_BATCH, args, out, want};
    struct map_ctx two = one, direct = one;
    int failed = 0, rc, i;
    char desc[320];
    int64_t t0, t1;
    bench_suite *s;

    /* What one task costs here, for the description (the floor contender
     * measures it again, interleaved with the others). */
    t0 = weft_now_ns();
    for (i = 0; i < 100; i++)
        out[i] = (int64_t)spin_value((uint64_t)args[i]);
    t1 = weft_now_ns();
    snprintf(desc, sizeof desc,
             "one compute-bound task (%d dependent multiply-xor steps, about "
             "%.0f us in this process) of a map of %d tasks, automatic "
             "chunk size; ops/s is the throughput",
             SPIN_ROUNDS, (double)(t1 - t0) / 100 / 1000, SPIN_BATCH);
    s = bench_suite_new("Pool scaling, compute-bound map", desc);
    bench_parse_args(s, argc, argv);
    one.pool = make_pool(WEFT_POOL_PROCESS, 1, &failed);
    two.pool = make_pool(WEFT_POOL_PROCESS, 2, &failed);
    add_or_skip(s, "weft process pool, 1 worker", run_map, &one, one.pool);
    add_or_skip(s, "weft process pool, 2 workers", run_map, &two, two.pool);
    bench_add(s, "direct calls, no pool", run_direct, &direct);
    bench_set_baseline(s, "weft process pool, 1 worker");
    bench_check(s, "weft process pool, 2 workers", BENCH_FASTER, 1.8,
                "weft process pool, 1 worker",
                "2 workers at least 1.8x the throughput of 1 worker");
    rc = bench_run(s, 7, 2000);
    bench_suite_free(s);
    weft_pool_destroy(one.pool);
    weft_pool_destroy(two.pool);
    free(args);
    free(want);
    free(out);
    return rc | failed;
}

int main(int argc, char **argv)
{
    int rc = 0;

    rc |= submit_suite(argc, argv);
    rc |= map_suite(argc, argv, 1);
    rc |= map_suite(argc, argv, 0);
    rc |= spin_suite(argc, argv);
    return rc;
}
