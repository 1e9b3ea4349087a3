/* test_stress_redis.c - crash trials over Redis: worker processes of a
 * distributed pool, and consumers of a joinable Redis queue, SIGKILLed at
 * random moments while they work. Every task completes and every future
 * completes exactly once with the right result; every message is
 * processed at least once and join() returns. Light in `make test` (a few
 * kills), long in `make stress` (WEFT_STRESS=1: hundreds). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/weft.h>

#include "unit/redis/redis_server.h"

static struct test_redis srv;
static bool stress;

static int cube(const void *arg, size_t len, weft_buf *res)
{
    int64_t x;
    memcpy(&x, arg, sizeof x);
    weft_sleep_ms(1 + (int)(x % 3));
    x = x * x * x;
    return weft_buf_append(res, &x, sizeof x);
}
WEFT_REDIS_TASK(cube)

static pid_t spawn(const char *url)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        _exit(weft_redis_worker_run(url, NULL) < 0 ? 1 : 0);
    }
    return pid;
}

struct counter {
    pthread_mutex_t mu;
    int *hits;
};

static void on_done(weft_future *f, void *ud)
{
    struct counter *c = ud;
    const void *data;
    if (weft_future_result(f, NULL, &data, NULL) != 0)
        return;
    int64_t v;
    memcpy(&v, data, sizeof v);
    /* v = i^3: find i (small) */
    int64_t i = 0;
    while (i * i * i < v)
        i++;
    pthread_mutex_lock(&c->mu);
    c->hits[i]++;
    pthread_mutex_unlock(&c->mu);
}

static void test_pool_kills(void **state)
{
    int n = stress ? 20000 : 600, kills = stress ? 300 : 6;
    char url[128];
    pid_t w[3];
    weft_redis_pool *p;
    weft_future **fs = calloc((size_t)n, sizeof *fs);
    int *hits = calloc((size_t)n, sizeof *hits);
    struct counter cnt = {PTHREAD_MUTEX_INITIALIZER, hits};

    assert_non_null(fs);
    assert_non_null(hits);
    test_redis_url(&srv, url, sizeof url, "stresspool", "?visibility_ms=200");
    for (int i = 0; i < 3; i++)
        w[i] = spawn(url);
    assert_int_equal(weft_redis_pool_open(&p, url, NULL), 0);
    for (int64_t i = 0; i < n; i++) {
        assert_int_equal(
            weft_redis_pool_submit(p, "cube", &i, sizeof i, &fs[i]), 0);
        assert_int_equal(weft_future_add_done_callback(fs[i], on_done, &cnt),
                         0);
    }
    unsigned seed = 12345;
    for (int k = 0; k < kills; k++) {
        weft_sleep_ms(20 + (int)(rand_r(&seed) % 60));
        int v = (int)(rand_r(&seed) % 3);
        kill(w[v], SIGKILL);
        waitpid(w[v], NULL, 0);
        w[v] = spawn(url);
    }
    assert_int_equal(weft_futures_wait(fs, (size_t)n, WEFT_WAIT_ALL,
                                       stress ? 600000 : 30000),
                     n);
    assert_int_equal(weft_redis_pool_close(p), 0);
    for (int64_t i = 0; i < n; i++) {
        const void *data;
        int64_t v;
        assert_int_equal(weft_future_result(fs[i], NULL, &data, NULL), 0);
        memcpy(&v, data, sizeof v);
        assert_true(v == i * i * i);
        assert_int_equal(hits[i], 1);
        weft_future_release(fs[i]);
    }
    for (int i = 0; i < 3; i++) {
        kill(w[i], SIGKILL);
        waitpid(w[i], NULL, 0);
    }
    free(fs);
    free(hits);
}

/* Consumers of a joinable queue, killed at random: each message is marked
 * in shared memory by whoever processed it; all are marked, join returns. */
static void test_queue_kills(void **state)
{
    int n = stress ? 20000 : 600, kills = stress ? 300 : 6;
    char url[128];
    weft_queue *q;
    weft_queue_opts o = {.joinable = true};
    pid_t c[3];
    unsigned char *seen = mmap(NULL, (size_t)n, PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    assert_true(seen != MAP_FAILED);
    test_redis_url(&srv, url, sizeof url, "stressq", "?visibility_ms=200");
    assert_int_equal(weft_redis_queue_open(&q, url, &o), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(weft_queue_put(q, &i, sizeof i, -1), 0);
    for (int i = 0; i < 3; i++) {
        c[i] = fork();
        assert_true(c[i] >= 0);
        if (c[i] == 0) {
        consume:
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            int v;
            while (weft_queue_get(q, &v, sizeof v, -1) == (int)sizeof v) {
                weft_sleep_ms(1);
                __atomic_store_n(&seen[v], 1, __ATOMIC_RELAXED);
                if (weft_queue_task_done(q) != 0)
                    _exit(2);
            }
            _exit(0);
        }
    }
    unsigned seed = 777;
    for (int k = 0; k < kills; k++) {
        weft_sleep_ms(20 + (int)(rand_r(&seed) % 60));
        int v = (int)(rand_r(&seed) % 3);
        kill(c[v], SIGKILL);
        waitpid(c[v], NULL, 0);
        c[v] = fork();
        assert_true(c[v] >= 0);
        if (c[v] == 0)
            goto consume;
    }
    assert_int_equal(weft_queue_join(q, stress ? 600000 : 30000), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(weft_queue_qsize(q), 0);
    assert_int_equal(weft_queue_close(q), 0);
    for (int i = 0; i < 3; i++) {
        int st;
        assert_int_equal(waitpid(c[i], &st, 0), c[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    assert_int_equal(weft_queue_destroy(q), 0);
    munmap(seen, (size_t)n);
}

static int setup(void **state)
{
    const char *e = getenv("WEFT_STRESS");
    stress = e && *e && strcmp(e, "0") != 0;
    memset(&srv, 0, sizeof srv);
    return test_redis_start(&srv);
}

static int teardown(void **state)
{
    test_redis_stop(&srv);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_kills),
        cmocka_unit_test(test_queue_kills),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
