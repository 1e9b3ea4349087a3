/* apply_async.c - AsyncResult's get, ready, successful and wait, on a
 * weft future.
 *
 * Python:
 *     with Pool(2) as pool:
 *         r = pool.apply_async(slow_square, (10,))
 *         r.ready()          # False: still running
 *         r.wait(0.1)        # returns after 100 ms, still not ready
 *         r.get(timeout=0.1) # raises TimeoutError
 *         r.get()            # 100
 *         r.ready(), r.successful()   # True, True
 *         pool.apply_async(fails).get()    # re-raises the task's exception
 *
 * weft_pool_apply_async returns a weft_future, and the AsyncResult methods
 * map onto it: ready() is weft_future_done, wait(t) is weft_future_wait
 * (-ETIMEDOUT when the time is up), get(t) is weft_future_wait then
 * weft_future_result, and successful() is "the result call returned 0 and
 * the task's status is 0". A C task cannot raise: a non-zero status is its
 * exception, and a worker that dies mid-task (here one that kills itself
 * with SIGKILL) fails just that future with WEFT_EWORKERDIED and the
 * signal - where Python's Pool would hang forever.
 *
 * Run: ./build/examples/apply_async [--delay MS]
 * Expect: "ready(): False", "wait(100 ms): still running", "get(timeout=100
 * ms): TimeoutError", "get(): 100", "ready(): True  successful(): True",
 * then the failing task ("status 3") and the killed one ("signal 9").
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/weft.h>

static int delay_ms = 300;

/* Sleep delay_ms, then return the square of an int64. */
static int slow_square(const void *arg, size_t len, weft_buf *result)
{
    int64_t x;

    if (len != sizeof x)
        return 1;
    memcpy(&x, arg, sizeof x);
    weft_sleep_ms(delay_ms);
    x *= x;
    return weft_buf_append(result, &x, sizeof x);
}

/* Python's task that raises: a non-zero status. */
static int fails(const void *arg, size_t len, weft_buf *result)
{
    (void)arg, (void)len, (void)result;
    return 3;
}

/* A worker that dies mid-task. */
static int crashes(const void *arg, size_t len, weft_buf *result)
{
    (void)arg, (void)len, (void)result;
    raise(SIGKILL);
    return 0;
}

static const char *yes(int b)
{
    return b ? "True" : "False";
}

/* AsyncResult.get(timeout): the value, or what went wrong. Returns 1 if
 * it got a value. */
static int get(weft_future *f, int timeout_ms, int64_t *value)
{
    const void *data;
    size_t len;
    int rc, status;

    rc = weft_future_wait(f, timeout_ms);
    if (rc == -ETIMEDOUT || rc == -EAGAIN) {
        printf("TimeoutError (still running)\n");
        return 0;
    }
    rc = weft_future_result(f, &status, &data, &len);
    if (rc == WEFT_EWORKERDIED)
        printf("the worker died (signal %d): %s\n", status, weft_strerror(rc));
    else if (rc < 0)
        printf("failed: %s\n", weft_strerror(rc));
    else if (status != 0)
        printf("the task failed with status %d\n", status);
    else if (len != sizeof *value)
        printf("a result of %zu bytes?\n", len);
    else {
        memcpy(value, data, sizeof *value);
        printf("%lld\n", (long long)*value);
        return 1;
    }
    return 0;
}

/* AsyncResult.successful(): only meaningful once ready. */
static const char *successful(weft_future *f)
{
    int status;

    if (!weft_future_done(f))
        return "ValueError (not ready)";
    return yes(weft_future_result(f, &status, NULL, NULL) == 0 && status == 0);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"delay", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    weft_pool_opts o = {.kind = WEFT_POOL_PROCESS, .workers = 2};
    weft_future *r, *bad, *dead;
    int64_t ten = 10, v;
    weft_pool *p;
    int c, rc;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        long d;

        if (c != 'd') {
            fprintf(stderr, "usage: apply_async [--delay MS]\n");
            return 2;
        }
        d = strtol(optarg, &end, 10);
        if (end == optarg || *end || d < 150 || d > 5000) {
            fprintf(stderr,
                    "apply_async: --delay wants 150..5000 ms, got "
                    "'%s'\n",
                    optarg);
            return 2;
        }
        delay_ms = (int)d;
    }
    if (optind < argc) {
        fprintf(stderr, "apply_async: unexpected argument '%s'\n",
                argv[optind]);
        return 2;
    }
    /* Unbuffered: a worker forked (or replaced) while a half line waits
     * in the buffer would print it again when it exits. */
    setvbuf(stdout, NULL, _IONBF, 0);
    rc = weft_pool_create(&p, &o);
    if (rc == 0)
        rc = weft_pool_apply_async(p, slow_square, &ten, sizeof ten, NULL, NULL,
                                   NULL, &r);
    if (rc < 0) {
        fprintf(stderr, "apply_async: %s\n", weft_strerror(rc));
        return 1;
    }
    printf("r = apply_async(slow_square, 10)   (takes %d ms)\n", delay_ms);
    printf("ready(): %s\n", yes(weft_future_done(r)));
    printf("successful(): %s\n", successful(r));
    rc = weft_future_wait(r, 100);
    printf("wait(100 ms): %s\n",
           rc == 0 ? "done" : "returned after 100 ms, still running");
    printf("get(timeout=100 ms): ");
    get(r, 100, &v);
    printf("get(): ");
    if (!get(r, -1, &v))
        return 1;
    printf("ready(): %s  successful(): %s\n", yes(weft_future_done(r)),
           successful(r));
    weft_future_release(r);

    printf("\nbad = apply_async(fails)\n");
    if (weft_pool_apply_async(p, fails, NULL, 0, NULL, NULL, NULL, &bad) < 0)
        return 1;
    weft_future_wait(bad, -1);
    printf("ready(): %s  successful(): %s\n", yes(weft_future_done(bad)),
           successful(bad));
    printf("get(): ");
    get(bad, -1, &v);
    weft_future_release(bad);

    printf("\ndead = apply_async(crashes)   (the worker kills itself)\n");
    if (weft_pool_apply_async(p, crashes, NULL, 0, NULL, NULL, NULL, &dead) < 0)
        return 1;
    printf("get(): ");
    get(dead, 10000, &v);
    printf("successful(): %s\n", successful(dead));
    weft_future_release(dead);

    /* The pool replaced the dead worker and still works. */
    printf("\nafter the crash: apply_async(slow_square, 7).get(): ");
    ten = 7;
    if (weft_pool_apply_async(p, slow_square, &ten, sizeof ten, NULL, NULL,
                              NULL, &r) < 0 ||
        !get(r, 10000, &v))
        return 1;
    weft_future_release(r);
    weft_pool_shutdown(p, true, false);
    weft_pool_destroy(p);
    return 0;
}
