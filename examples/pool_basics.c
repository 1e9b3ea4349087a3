/* pool_basics.c - a process pool: a few workers, many tasks.
 *
 * Python:
 *     with Pool(4) as pool:
 *         rs = [pool.apply_async(whoami) for i in range(23)]
 *         pids = [r.get() for r in rs]
 *         pool.apply_async(square, (12,), callback=..., error_callback=...)
 *         pool.apply(square, (7,))
 *
 * A pool of 4 worker processes runs 23 tasks. Each task sleeps 50 ms and
 * returns the pid of the worker that ran it: the same 4 pids come back
 * again and again, because a pool starts its workers once and reuses them
 * (forking a process per task would cost far more than these tasks).
 * Then apply_async with a callback (a task that succeeds) and an error
 * callback (a task that returns a non-zero status), and apply, which
 * submits one task and waits for it. Callbacks of a process pool run in
 * this process, on the pool's collector thread.
 *
 * Run: ./build/examples/pool_basics
 * Expect: 23 lines "task N ran in worker PID", then "4 worker pids served
 * 23 tasks" (never more than 4), the callback lines, "apply: 7 * 7 = 49".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/weft.h>

#define WORKERS 4
#define TASKS   23

static weft_semaphore *callbacks_done;

static void die(const char *what, int rc)
{
    fprintf(stderr, "pool_basics: %s: %s\n", what, weft_strerror(rc));
    exit(1);
}

/* Runs in a worker: sleep a little, return the worker's pid. */
static int whoami(const void *arg, size_t len, weft_buf *result)
{
    pid_t pid = getpid();

    (void)arg;
    (void)len;
    weft_sleep_ms(50);
    return weft_buf_append(result, &pid, sizeof pid);
}

static int square(const void *arg, size_t len, weft_buf *result)
{
    int64_t x;

    if (len != sizeof x)
        return 1;
    memcpy(&x, arg, sizeof x);
    x *= x;
    return weft_buf_append(result, &x, sizeof x);
}

/* A task that fails: Python's task raising an exception. */
static int refuse(const void *arg, size_t len, weft_buf *result)
{
    (void)arg;
    (void)len;
    (void)result;
    return 3;
}

/* apply_async's callback: the task returned 0. */
static void on_result(void *ud, const void *data, size_t len)
{
    int64_t x;

    if (len == sizeof x) {
        memcpy(&x, data, sizeof x);
        printf("  callback: %s = %lld\n", (const char *)ud, (long long)x);
    }
    weft_semaphore_release(callbacks_done);
}

/* apply_async's error callback: error 0 means the task ran and returned
 * a non-zero status; otherwise it did not finish (a worker died...). */
static void on_error(void *ud, int error, int status)
{
    if (error == 0)
        printf("  error callback: %s returned status %d\n", (const char *)ud,
               status);
    else
        printf("  error callback: %s failed: %s\n", (const char *)ud,
               weft_strerror(error));
    weft_semaphore_release(callbacks_done);
}

int main(void)
{
    weft_pool_opts o = {.kind = WEFT_POOL_PROCESS, .workers = WORKERS};
    weft_future *fs[TASKS];
    pid_t pids[WORKERS + TASKS];
    int npids = 0, i, j, rc, status;
    int64_t twelve = 12, seven = 7, r;
    weft_buf out = WEFT_BUF_INIT;
    weft_pool *p;

    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = weft_semaphore_create(&callbacks_done, NULL, 0);
    if (rc < 0)
        die("weft_semaphore_create", rc);
    rc = weft_pool_create(&p, &o);
    if (rc < 0)
        die("weft_pool_create", rc);
    printf("parent pid %d, a pool of %d worker processes\n", (int)getpid(),
           weft_pool_workers(p));

    for (i = 0; i < TASKS; i++) {
        rc = weft_pool_submit(p, whoami, NULL, 0, &fs[i]);
        if (rc < 0)
            die("weft_pool_submit", rc);
    }
    for (i = 0; i < TASKS; i++) {
        const void *data;
        size_t len;
        pid_t pid;

        rc = weft_future_result(fs[i], &status, &data, &len);
        if (rc < 0)
            die("weft_future_result", rc);
        if (status != 0 || len != sizeof pid)
            die("whoami", -EPROTO);
        memcpy(&pid, data, sizeof pid);
        printf("task %2d ran in worker %d\n", i, (int)pid);
        for (j = 0; j < npids && pids[j] != pid; j++)
            ;
        if (j == npids)
            pids[npids++] = pid;
        weft_future_release(fs[i]);
    }
    printf("%d worker pids served %d tasks\n", npids, TASKS);

    /* apply_async: no waiting here; the callbacks say how it went. */
    rc = weft_pool_apply_async(p, square, &twelve, sizeof twelve, on_result,
                               on_error, "square(12)", NULL);
    if (rc < 0)
        die("weft_pool_apply_async", rc);
    rc = weft_pool_apply_async(p, refuse, NULL, 0, on_result, on_error,
                               "refuse()", NULL);
    if (rc < 0)
        die("weft_pool_apply_async", rc);
    for (i = 0; i < 2; i++)
        weft_semaphore_acquire(callbacks_done, -1);

    /* apply: submit one task and wait for its result. */
    rc = weft_pool_apply(p, square, &seven, sizeof seven, &status, &out);
    if (rc < 0)
        die("weft_pool_apply", rc);
    if (status != 0 || out.len != sizeof r)
        die("square", -EPROTO);
    memcpy(&r, out.data, sizeof r);
    printf("apply: 7 * 7 = %lld\n", (long long)r);
    weft_buf_free(&out);

    rc = weft_pool_shutdown(p, true, false); /* close, and wait */
    if (rc < 0)
        die("weft_pool_shutdown", rc);
    weft_pool_destroy(p);
    weft_semaphore_destroy(callbacks_done);
    printf("pool shut down\n");
    return npids <= WORKERS ? 0 : 1;
}
