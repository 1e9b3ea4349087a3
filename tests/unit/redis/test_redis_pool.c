/* test_redis_pool.c - distributed pools over a real redis-server started
 * by the test: tasks registered by name, workers as forked processes,
 * futures, map; workers SIGKILLed mid-task (no task lost, none reported
 * twice), a task that kills every worker fails after max_attempts, a task
 * name nobody serves fails with -ENOSYS, Redis crashing and restarting
 * with appendonly (no submitted task lost), Redis down (clear errors, no
 * hang), bad input. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/weft.h>

#include "unit/redis/redis_server.h"

static struct test_redis srv;
static int pcount;
static char logpath[256];

/* ---- tasks --------------------------------------------------------------- */

static int square(const void *arg, size_t len, weft_buf *res)
{
    int64_t x;
    if (len != sizeof x)
        return 22;
    memcpy(&x, arg, sizeof x);
    x *= x;
    return weft_buf_append(res, &x, sizeof x);
}
WEFT_REDIS_TASK(square)

/* Returns its argument as status, and a 100-byte result. */
static int echo_status(const void *arg, size_t len, weft_buf *res)
{
    char big[100];
    memset(big, 'z', sizeof big);
    if (weft_buf_append(res, big, sizeof big) < 0)
        return -1;
    return len > 0 ? ((const unsigned char *)arg)[0] : 0;
}
WEFT_REDIS_TASK(echo_status)

static void log_line(char kind, int id)
{
    char line[32];
    int fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT, 0600);
    int n = snprintf(line, sizeof line, "%c %d\n", kind, id);
    if (fd >= 0) {
        if (write(fd, line, (size_t)n) != n)
            abort();
        close(fd);
    }
}

/* Logs its start and end around 20 ms of work. */
static int logged(const void *arg, size_t len, weft_buf *res)
{
    int id;
    memcpy(&id, arg, sizeof id);
    log_line('S', id);
    weft_sleep_ms(20);
    log_line('E', id);
    int r = id * 3;
    return weft_buf_append(res, &r, sizeof r);
}
WEFT_REDIS_TASK(logged)

/* Kills whichever worker runs it. */
static int suicide(const void *arg, size_t len, weft_buf *res)
{
    log_line('K', 0);
    raise(SIGKILL);
    return 0;
}
WEFT_REDIS_TASK(suicide)

static int slow(const void *arg, size_t len, weft_buf *res)
{
    weft_sleep_ms(700);
    return 0;
}
WEFT_REDIS_TASK(slow)

/* Log that they ran, and take a while. */
static int slow_a(const void *arg, size_t len, weft_buf *res)
{
    log_line('A', 0);
    weft_sleep_ms(500);
    return 0;
}
WEFT_REDIS_TASK(slow_a)

static int slow_b(const void *arg, size_t len, weft_buf *res)
{
    log_line('B', 0);
    weft_sleep_ms(500);
    return 0;
}
WEFT_REDIS_TASK(slow_b)

/* ---- helpers ------------------------------------------------------------- */

static void pool_url(struct test_redis *r, char *buf, size_t cap,
                     const char *query)
{
    char name[64];
    snprintf(name, sizeof name, "tp%d-%ld", ++pcount, (long)getpid());
    test_redis_url(r, buf, cap, name, query);
}

static pid_t spawn_worker(const char *url)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int rc = weft_redis_worker_run(url, NULL);
        _exit(rc >= 0 ? 0 : 1);
    }
    return pid;
}

static void kill_worker(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static int setup(void **state)
{
    memset(&srv, 0, sizeof srv);
    return test_redis_start(&srv);
}

static int teardown(void **state)
{
    test_redis_stop(&srv);
    return 0;
}

struct counter {
    pthread_mutex_t mu;
    int *hits;
};

static void count_cb(weft_future *f, void *ud)
{
    struct counter *c = ud;
    const void *data;
    size_t len;
    int st;
    if (weft_future_result(f, &st, &data, &len) == 0 && len == sizeof(int)) {
        int v;
        memcpy(&v, data, sizeof v);
        pthread_mutex_lock(&c->mu);
        c->hits[v / 3]++;
        pthread_mutex_unlock(&c->mu);
    }
}

/* ---- tests --------------------------------------------------------------- */

static void test_basics(void **state)
{
    char url[256];
    weft_redis_pool *p;
    pid_t w[2];

    pool_url(&srv, url, sizeof url, NULL);
    for (int i = 0; i < 2; i++)
        w[i] = spawn_worker(url);
    assert_int_equal(weft_redis_pool_open(&p, url, NULL), 0);

    weft_future *fs[50];
    for (int64_t i = 0; i < 50; i++)
        assert_int_equal(
            weft_redis_pool_submit(p, "square", &i, sizeof i, &fs[i]), 0);
    assert_int_equal(weft_futures_wait(fs, 50, WEFT_WAIT_ALL, 10000), 50);
    for (int64_t i = 0; i < 50; i++) {
        int st = -1;
        const void *data;
        size_t len;
        assert_int_equal(weft_future_result(fs[i], &st, &data, &len), 0);
        assert_int_equal(st, 0);
        assert_int_equal(len, sizeof(int64_t));
        int64_t v;
        memcpy(&v, data, sizeof v);
        assert_true(v == i * i);
        weft_future_release(fs[i]);
    }
    /* status and results longer than a future's inline room */
    unsigned char s = 7;
    weft_future *f;
    assert_int_equal(weft_redis_pool_submit(p, "echo_status", &s, 1, &f), 0);
    int st;
    const void *data;
    size_t len;
    assert_int_equal(weft_future_result(f, &st, &data, &len), 0);
    assert_int_equal(st, 7);
    assert_int_equal(len, 100);
    assert_int_equal(((const char *)data)[99], 'z');
    weft_future_release(f);
    /* zero-length argument */
    assert_int_equal(weft_redis_pool_submit(p, "echo_status", NULL, 0, &f), 0);
    assert_int_equal(weft_future_result(f, &st, NULL, NULL), 0);
    assert_int_equal(st, 0);
    weft_future_release(f);

    /* map */
    int64_t args[300], out[300];
    weft_task_result res[300];
    for (int i = 0; i < 300; i++)
        args[i] = i + 1;
    assert_int_equal(weft_redis_pool_map(p, "square", args, sizeof args[0], 300,
                                         out, sizeof out[0], res),
                     0);
    for (int i = 0; i < 300; i++) {
        assert_int_equal(res[i].error, 0);
        assert_true(out[i] == (int64_t)(i + 1) * (i + 1));
    }
    /* a wrong-size argument: the task's status counts as a failure */
    assert_int_equal(
        weft_redis_pool_map(p, "square", args, 4, 10, NULL, 0, res), 10);
    assert_int_equal(res[0].status, 22);

    assert_int_equal(weft_redis_pool_close(p), 0);
    for (int i = 0; i < 2; i++)
        kill_worker(w[i]);
}

static void test_unknown_task(void **state)
{
    char url[256];
    weft_redis_pool *p;
    weft_redis_pool_opts o = {.unknown_task_ms = 300};
    weft_future *f, *g;

    pool_url(&srv, url, sizeof url, NULL);
    pid_t w = spawn_worker(url);
    assert_int_equal(weft_redis_pool_open(&p, url, &o), 0);
    int64_t t0 = weft_now_ms();
    assert_int_equal(weft_redis_pool_submit(p, "nosuch", "x", 1, &f), 0);
    /* a known task running past unknown_task_ms is not failed */
    assert_int_equal(weft_redis_pool_submit(p, "slow", NULL, 0, &g), 0);
    assert_int_equal(weft_future_wait(f, 5000), 0);
    assert_int_equal(weft_future_result(f, NULL, NULL, NULL), -ENOSYS);
    assert_true(weft_now_ms() - t0 >= 290);
    assert_int_equal(weft_future_result(g, NULL, NULL, NULL), 0);
    weft_future_release(f);
    weft_future_release(g);
    assert_int_equal(weft_redis_pool_close(p), 0);
    kill_worker(w);
}

#define KTASKS 150

/* Workers SIGKILLed mid-task: every task completes, each future exactly
 * once, and a task ran to its end twice only where a worker was killed
 * between its end and the result's publication (at most one per kill). */
static void test_killed_workers(void **state)
{
    char url[256];
    weft_redis_pool *p;
    pid_t w[3];
    weft_future *fs[KTASKS];
    int hits[KTASKS] = {0};
    struct counter cnt = {PTHREAD_MUTEX_INITIALIZER, hits};

    snprintf(logpath, sizeof logpath, "%s/tasks.log", srv.dir);
    unlink(logpath);
    pool_url(&srv, url, sizeof url, "?visibility_ms=400");
    for (int i = 0; i < 3; i++)
        w[i] = spawn_worker(url);
    assert_int_equal(weft_redis_pool_open(&p, url, NULL), 0);
    for (int i = 0; i < KTASKS; i++) {
        assert_int_equal(
            weft_redis_pool_submit(p, "logged", &i, sizeof i, &fs[i]), 0);
        assert_int_equal(weft_future_add_done_callback(fs[i], count_cb, &cnt),
                         0);
    }
    int kills = 0;
    for (int round = 0; round < 3; round++) {
        weft_sleep_ms(250);
        kill_worker(w[round]);
        kills++;
        w[round] = spawn_worker(url);
    }
    assert_int_equal(weft_futures_wait(fs, KTASKS, WEFT_WAIT_ALL, 30000),
                     KTASKS);
    for (int i = 0; i < KTASKS; i++) {
        int st;
        const void *data;
        size_t len;
        assert_int_equal(weft_future_result(fs[i], &st, &data, &len), 0);
        int v;
        memcpy(&v, data, sizeof v);
        assert_int_equal(v, i * 3);
        weft_future_release(fs[i]);
    }
    /* callbacks run on the collector thread after the future is marked
     * done: closing joins it, so all have run by then */
    assert_int_equal(weft_redis_pool_close(p), 0);
    for (int i = 0; i < KTASKS; i++)
        assert_int_equal(hits[i], 1);
    /* the log: every task ended; double ends only from the kills */
    FILE *f = fopen(logpath, "r");
    assert_non_null(f);
    int ends[KTASKS] = {0}, starts = 0, id;
    char k;
    while (fscanf(f, " %c %d", &k, &id) == 2) {
        assert_true(id >= 0 && id < KTASKS);
        if (k == 'E')
            ends[id]++;
        else
            starts++;
    }
    fclose(f);
    int twice = 0;
    for (int i = 0; i < KTASKS; i++) {
        assert_true(ends[i] >= 1);
        if (ends[i] > 1)
            twice++;
    }
    print_message("%d tasks, %d starts, %d ran to the end twice, %d kills\n",
                  KTASKS, starts, twice, kills);
    assert_true(twice <= kills);
    /* the kills hit running tasks: those were started again */
    assert_true(starts > KTASKS);
    for (int i = 0; i < 3; i++)
        kill_worker(w[i]);
}

/* A task that kills its worker every time: after max_attempts deliveries
 * it fails with WEFT_EWORKERDIED, and the workers go on with the rest. */
static void test_max_attempts(void **state)
{
    char url[256];
    weft_redis_pool *p;
    weft_redis_pool_opts o = {.max_attempts = 2};
    weft_future *f, *g;
    pid_t w[2];

    snprintf(logpath, sizeof logpath, "%s/suicide.log", srv.dir);
    unlink(logpath);
    pool_url(&srv, url, sizeof url, "?visibility_ms=200");
    for (int i = 0; i < 2; i++)
        w[i] = spawn_worker(url);
    assert_int_equal(weft_redis_pool_open(&p, url, &o), 0);
    assert_int_equal(weft_redis_pool_submit(p, "suicide", NULL, 0, &f), 0);
    int64_t t0 = weft_now_ms();
    /* replace dead workers until the future is done */
    while (weft_future_wait(f, 20) != 0) {
        assert_true(weft_now_ms() - t0 < 15000);
        for (int i = 0; i < 2; i++) {
            int status;
            if (waitpid(w[i], &status, WNOHANG) == w[i])
                w[i] = spawn_worker(url);
        }
    }
    int st = -1;
    assert_int_equal(weft_future_result(f, &st, NULL, NULL), WEFT_EWORKERDIED);
    weft_future_release(f);
    int64_t x = 9;
    assert_int_equal(weft_redis_pool_submit(p, "square", &x, sizeof x, &g), 0);
    while (weft_future_wait(g, 20) != 0) {
        assert_true(weft_now_ms() - t0 < 15000);
        for (int i = 0; i < 2; i++) {
            int status;
            if (waitpid(w[i], &status, WNOHANG) == w[i])
                w[i] = spawn_worker(url);
        }
    }
    assert_int_equal(weft_future_result(g, &st, NULL, NULL), 0);
    weft_future_release(g);
    /* exactly max_attempts runs */
    FILE *lf = fopen(logpath, "r");
    assert_non_null(lf);
    int runs = 0, id;
    char k;
    while (fscanf(lf, " %c %d", &k, &id) == 2)
        runs++;
    fclose(lf);
    assert_int_equal(runs, 2);
    assert_int_equal(weft_redis_pool_close(p), 0);
    for (int i = 0; i < 2; i++)
        kill_worker(w[i]);
}

/* Redis crashes (SIGKILL) with appendonly + fsync always and comes back:
 * tasks submitted (XADD acknowledged) before the crash all complete; while
 * it is down, submit fails at once with a clear error. */
static void test_redis_restart(void **state)
{
    struct test_redis r;
    char url[256];
    weft_redis_pool *p;
    weft_future *fs[40], *f;

    memset(&r, 0, sizeof r);
    test_redis_conf(&r, "appendonly yes");
    test_redis_conf(&r, "appendfsync always");
    assert_int_equal(test_redis_start(&r), 0);
    pool_url(&r, url, sizeof url, "?visibility_ms=500&connect_timeout_ms=1000");
    assert_int_equal(weft_redis_pool_open(&p, url, NULL), 0);
    /* submitted before any worker exists */
    for (int64_t i = 0; i < 40; i++)
        assert_int_equal(
            weft_redis_pool_submit(p, "square", &i, sizeof i, &fs[i]), 0);
    test_redis_kill(&r);
    int64_t t0 = weft_now_ms();
    int64_t x = 3;
    int rc = weft_redis_pool_submit(p, "square", &x, sizeof x, &f);
    assert_true(rc == -ECONNREFUSED || rc == -ECONNRESET);
    assert_null(f);
    assert_true(weft_now_ms() - t0 < 2000);
    assert_int_equal(weft_future_wait(fs[0], 300), -ETIMEDOUT);
    assert_int_equal(test_redis_restart_same_port(&r), 0);
    pid_t w = spawn_worker(url);
    assert_int_equal(weft_futures_wait(fs, 40, WEFT_WAIT_ALL, 15000), 40);
    for (int64_t i = 0; i < 40; i++) {
        const void *data;
        int64_t v;
        assert_int_equal(weft_future_result(fs[i], NULL, &data, NULL), 0);
        memcpy(&v, data, sizeof v);
        assert_true(v == i * i);
        weft_future_release(fs[i]);
    }
    /* and new work goes on */
    assert_int_equal(weft_redis_pool_submit(p, "square", &x, sizeof x, &f), 0);
    assert_int_equal(weft_future_wait(f, 5000), 0);
    weft_future_release(f);
    assert_int_equal(weft_redis_pool_close(p), 0);
    kill_worker(w);
    test_redis_stop(&r);
}

static void test_bad_input(void **state)
{
    char url[256];
    weft_redis_pool *p = NULL;
    weft_future *f = NULL;

    assert_int_equal(weft_redis_pool_open(&p, "redis://x", NULL), -EINVAL);
    assert_null(p);
    assert_int_equal(weft_redis_pool_open(&p, "redis://h/x?tls_ca=f", NULL),
                     -EINVAL);
    weft_redis_pool_opts bad = {.max_attempts = -1};
    pool_url(&srv, url, sizeof url, NULL);
    assert_int_equal(weft_redis_pool_open(&p, url, &bad), -EINVAL);
    /* nothing listening */
    int port = test_redis_free_port();
    char down[128];
    snprintf(down, sizeof down, "redis://127.0.0.1:%d/x", port);
    assert_int_equal(weft_redis_pool_open(&p, down, NULL), -ECONNREFUSED);
    assert_int_equal(weft_redis_worker_run(down, NULL), -ECONNREFUSED);
    assert_int_equal(weft_redis_task_register("square", square), 0);
    assert_int_equal(weft_redis_task_register("square", slow), -EEXIST);
    assert_int_equal(weft_redis_task_register("bad name", slow), -EINVAL);
    assert_int_equal(weft_redis_task_register("x", NULL), -EINVAL);

    assert_int_equal(weft_redis_pool_open(&p, url, NULL), 0);
    assert_int_equal(weft_redis_pool_submit(p, "", "x", 1, &f), -EINVAL);
    assert_int_equal(weft_redis_pool_submit(p, "a b", "x", 1, &f), -EINVAL);
    assert_int_equal(weft_redis_pool_submit(p, "square", NULL, 1, &f), -EINVAL);
    assert_int_equal(weft_redis_pool_submit(p, "square", "x", 1, NULL),
                     -EINVAL);
    assert_int_equal(weft_redis_pool_submit(NULL, "square", "x", 1, &f),
                     -EINVAL);
    assert_int_equal(
        weft_redis_pool_map(p, "square", NULL, 8, 3, NULL, 0, NULL), -EINVAL);
    /* closing fails what is not done */
    assert_int_equal(weft_redis_pool_submit(p, "square", "12345678", 8, &f), 0);
    assert_int_equal(weft_redis_pool_close(p), 0);
    assert_int_equal(weft_future_result(f, NULL, NULL, NULL), WEFT_ECLOSED);
    weft_future_release(f);
    assert_int_equal(weft_redis_pool_close(NULL), 0);
}

/* One read brings one task per name: a worker running one long task
 * keeps the other it holds (heartbeat), so a second worker does not claim
 * and run it again although visibility_ms is far shorter. */
static void test_batch_held(void **state)
{
    char url[256];
    weft_redis_pool *p;
    weft_future *f, *g;

    snprintf(logpath, sizeof logpath, "%s/held.log", srv.dir);
    unlink(logpath);
    pool_url(&srv, url, sizeof url, "?visibility_ms=150");
    assert_int_equal(weft_redis_pool_open(&p, url, NULL), 0);
    assert_int_equal(weft_redis_pool_submit(p, "slow_a", NULL, 0, &f), 0);
    assert_int_equal(weft_redis_pool_submit(p, "slow_b", NULL, 0, &g), 0);
    pid_t w1 = spawn_worker(url);
    weft_sleep_ms(150); /* w1 reads both, runs one of them */
    pid_t w2 = spawn_worker(url);
    assert_int_equal(weft_future_wait(f, 5000), 0);
    assert_int_equal(weft_future_wait(g, 5000), 0);
    weft_sleep_ms(100);
    FILE *lf = fopen(logpath, "r");
    assert_non_null(lf);
    int a = 0, b = 0, id;
    char k;
    while (fscanf(lf, " %c %d", &k, &id) == 2) {
        a += k == 'A';
        b += k == 'B';
    }
    fclose(lf);
    assert_int_equal(a, 1);
    assert_int_equal(b, 1);
    weft_future_release(f);
    weft_future_release(g);
    assert_int_equal(weft_redis_pool_close(p), 0);
    kill_worker(w1);
    kill_worker(w2);
}

/* A worker's own limits: max_tasks, idle_exit_ms, stop. */
static void test_worker_limits(void **state)
{
    char url[256];
    weft_redis_pool *p;
    weft_future *fs[5];

    pool_url(&srv, url, sizeof url, NULL);
    assert_int_equal(weft_redis_pool_open(&p, url, NULL), 0);
    for (int64_t i = 0; i < 5; i++)
        assert_int_equal(
            weft_redis_pool_submit(p, "square", &i, sizeof i, &fs[i]), 0);
    weft_redis_worker_opts o = {.max_tasks = 3};
    assert_int_equal(weft_redis_worker_run(url, &o), 3);
    o.max_tasks = 0;
    o.idle_exit_ms = 200;
    int64_t t0 = weft_now_ms();
    assert_int_equal(weft_redis_worker_run(url, &o), 2);
    assert_true(weft_now_ms() - t0 >= 190);
    volatile int stop = 1;
    o.idle_exit_ms = 0;
    o.stop = &stop;
    assert_int_equal(weft_redis_worker_run(url, &o), 0);
    assert_int_equal(weft_futures_wait(fs, 5, WEFT_WAIT_ALL, 1000), 5);
    for (int i = 0; i < 5; i++)
        weft_future_release(fs[i]);
    assert_int_equal(weft_redis_pool_close(p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),
        cmocka_unit_test(test_unknown_task),
        cmocka_unit_test(test_killed_workers),
        cmocka_unit_test(test_max_attempts),
        cmocka_unit_test(test_redis_restart),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_batch_held),
        cmocka_unit_test(test_worker_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
