/* sync_vs_async.c - waiting for each task vs collecting futures.
 *
 * Python:
 *     with ProcessPoolExecutor(4) as ex:
 *         for i in range(8):                        # sync
 *             ex.submit(work, i).result()
 *         fs = [ex.submit(work, i) for i in range(8)]  # async
 *         results = [f.result() for f in fs]
 *
 * The same 8 tasks, each sleeping 100 ms, on a pool of 4 processes, run
 * twice. Sync submits one task and waits for its result before the next:
 * the pool has 4 workers but only one is ever busy, ~800 ms. Async submits
 * all 8 first, keeping the futures, then collects the results: 4 tasks run
 * at a time, two rounds, ~200 ms.
 *
 * Run: ./build/examples/sync_vs_async
 * Expect: sync ~800 ms, async ~200 ms, "async was 4.0x faster" (or so).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/weft.h>

#define WORKERS 4
#define TASKS   8
#define TASK_MS 100

static void die(const char *what, int rc)
{
    fprintf(stderr, "sync_vs_async: %s: %s\n", what, weft_strerror(rc));
    exit(1);
}

/* Sleep TASK_MS, then return the argument times ten. */
static int work(const void *arg, size_t len, weft_buf *result)
{
    int32_t x;

    if (len != sizeof x)
        return 1;
    memcpy(&x, arg, sizeof x);
    weft_sleep_ms(TASK_MS);
    x *= 10;
    return weft_buf_append(result, &x, sizeof x);
}

/* The task's result from a finished future (or apply's buffer). */
static int32_t value_of(int status, const void *data, size_t len)
{
    int32_t x;

    if (status != 0 || len != sizeof x)
        die("work: unexpected result", -EPROTO);
    memcpy(&x, data, sizeof x);
    return x;
}

int main(void)
{
    weft_pool_opts o = {.kind = WEFT_POOL_PROCESS, .workers = WORKERS};
    weft_future *fs[TASKS];
    int64_t t0, sync_ms, async_ms;
    int64_t sum_sync = 0, sum_async = 0;
    weft_buf out = WEFT_BUF_INIT;
    weft_pool *p;
    int32_t i;
    int rc, status;

    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = weft_pool_create(&p, &o);
    if (rc < 0)
        die("weft_pool_create", rc);

    printf("%d tasks of %d ms on %d worker processes\n", TASKS, TASK_MS,
           WORKERS);

    /* Sync: submit, wait, submit, wait... (apply is submit + result). */
    t0 = weft_now_ms();
    for (i = 0; i < TASKS; i++) {
        weft_buf_reset(&out);
        rc = weft_pool_apply(p, work, &i, sizeof i, &status, &out);
        if (rc < 0)
            die("weft_pool_apply", rc);
        sum_sync += value_of(status, out.data, out.len);
    }
    sync_ms = weft_now_ms() - t0;
    printf("sync:  one at a time        %5lld ms\n", (long long)sync_ms);
    weft_buf_free(&out);

    /* Async: submit everything, then collect the futures. */
    t0 = weft_now_ms();
    for (i = 0; i < TASKS; i++) {
        rc = weft_pool_submit(p, work, &i, sizeof i, &fs[i]);
        if (rc < 0)
            die("weft_pool_submit", rc);
    }
    for (i = 0; i < TASKS; i++) {
        const void *data;
        size_t len;

        rc = weft_future_result(fs[i], &status, &data, &len);
        if (rc < 0)
            die("weft_future_result", rc);
        sum_async += value_of(status, data, len);
        weft_future_release(fs[i]);
    }
    async_ms = weft_now_ms() - t0;
    printf("async: all submitted, then  %5lld ms\n", (long long)async_ms);

    printf("same results: %s (sum %lld)\n",
           sum_sync == sum_async ? "yes" : "NO", (long long)sum_async);
    printf("async was %.1fx faster\n",
           (double)sync_ms / (double)(async_ms > 0 ? async_ms : 1));

    rc = weft_pool_shutdown(p, true, false);
    if (rc < 0)
        die("weft_pool_shutdown", rc);
    weft_pool_destroy(p);
    return sum_sync == sum_async ? 0 : 1;
}
