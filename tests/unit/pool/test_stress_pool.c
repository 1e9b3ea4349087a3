/* test_stress_pool.c - pools under load and under worker crashes.
 *
 * 1. A million tiny tasks: map on both kinds, and one future per task on
 *    a process pool; every result matches its input.
 *    `make test`: map of 1,000,000, 50,000 futures;
 *    `make stress`: map of 1,000,000, 1,000,000 futures.
 *
 * 2. Crash trials: a 100,000-item map on a process pool of 3 while a
 *    killer thread SIGKILLs random workers. Every item is either done
 *    once with the right value or failed with WEFT_EWORKERDIED (status
 *    SIGKILL), and no more items fail than workers were killed (results a
 *    worker finished survive it); the map returns; the futures submitted
 *    alongside all end; no zombie is left. `make test`: 5 trials; `make
 * stress`: 100.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/weft.h>

#include "unit/proc_helpers.h"

static bool stress;

static int t_square(const void *arg, size_t len, weft_buf *r)
{
    int64_t x;
    (void)len;
    memcpy(&x, arg, sizeof x);
    x *= x;
    return weft_buf_append(r, &x, sizeof x);
}

/* A little work, so that kills land in the middle of tasks. */
static int t_work(const void *arg, size_t len, weft_buf *r)
{
    int64_t x;
    (void)len;
    memcpy(&x, arg, sizeof x);
    volatile int64_t acc = 0;
    for (int i = 0; i < 200; i++)
        acc += i ^ x;
    x = x * 3 + 1 + (acc & 0);
    return weft_buf_append(r, &x, sizeof x);
}

static void test_million(void **state)
{
    (void)state;
    enum { N = 1000000 };
    int64_t *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out);
    assert_non_null(in);
    assert_non_null(out);
    for (int64_t i = 0; i < N; i++)
        in[i] = i * 7 - 3000000;
    static const int kinds[] = {WEFT_POOL_PROCESS, WEFT_POOL_THREAD};
    for (int k = 0; k < 2; k++) {
        weft_pool *p;
        weft_pool_opts o = {.kind = kinds[k], .workers = 2};
        assert_int_equal(weft_pool_create(&p, &o), 0);
        memset(out, 0, N * sizeof *out);
        assert_int_equal(weft_pool_map(p, t_square, in, sizeof *in, N, 0, out,
                                       sizeof *out, NULL),
                         0);
        for (int64_t i = 0; i < N; i++)
            assert_true(out[i] == in[i] * in[i]);
        weft_pool_destroy(p);
    }

    size_t nf = stress ? N : 50000;
    weft_pool *p;
    weft_pool_opts o = {.workers = 2};
    assert_int_equal(weft_pool_create(&p, &o), 0);
    /* In windows of 10,000 futures, to keep memory flat. */
    enum { W = 10000 };
    static weft_future *fs[W];
    for (size_t base = 0; base < nf; base += W) {
        for (size_t i = 0; i < W; i++)
            assert_int_equal(weft_pool_submit(p, t_square, &in[base + i],
                                              sizeof in[0], &fs[i]),
                             0);
        for (size_t i = 0; i < W; i++) {
            const void *data;
            size_t len;
            int status;
            assert_int_equal(weft_future_result(fs[i], &status, &data, &len),
                             0);
            int64_t v;
            assert_int_equal(len, sizeof v);
            memcpy(&v, data, sizeof v);
            assert_true(v == in[base + i] * in[base + i]);
            weft_future_release(fs[i]);
        }
    }
    weft_pool_destroy(p);
    free(in);
    free(out);
}

/* Children of this process, read from /proc/self/task/.../children. */
static int list_children(pid_t *pids, int cap)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < cap) {
        if (e->d_name[0] == '.')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        long pid;
        while (n < cap && fscanf(f, "%ld", &pid) == 1)
            pids[n++] = (pid_t)pid;
        fclose(f);
    }
    closedir(d);
    return n;
}

struct killer {
    atomic_bool stop;
    _Atomic int kills;
    unsigned seed;
};

static void *killer_main(void *arg)
{
    struct killer *k = arg;
    while (!atomic_load(&k->stop)) {
        weft_sleep_ms(3 + (int)(rand_r(&k->seed) % 10));
        pid_t pids[16];
        int n = list_children(pids, 16);
        if (n > 0 && kill(pids[rand_r(&k->seed) % (unsigned)n], SIGKILL) == 0)
            atomic_fetch_add(&k->kills, 1);
    }
    return NULL;
}

static void test_crash_trials(void **state)
{
    (void)state;
    enum { N = 100000, NF = 200 };
    int64_t *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out);
    weft_task_result *res = malloc(N * sizeof *res);
    assert_non_null(in);
    assert_non_null(out);
    assert_non_null(res);
    for (int64_t i = 0; i < N; i++)
        in[i] = i;
    int trials = stress ? 100 : 5;
    long died = 0, kills = 0;
    for (int trial = 0; trial < trials; trial++) {
        long died_before = died;
        weft_pool *p;
        weft_pool_opts o = {.workers = 3};
        assert_int_equal(weft_pool_create(&p, &o), 0);
        /* Futures alongside the map, so single tasks die too. */
        weft_future *fs[NF];
        for (int64_t i = 0; i < NF; i++)
            assert_int_equal(
                weft_pool_submit(p, t_work, &in[i], sizeof in[i], &fs[i]), 0);
        struct killer k = {.seed = (unsigned)trial * 7919u + 1};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, killer_main, &k), 0);
        memset(out, 0, N * sizeof *out);
        int failed = weft_pool_map(p, t_work, in, sizeof *in, N, 50, out,
                                   sizeof *out, res);
        atomic_store(&k.stop, true);
        pthread_join(th, NULL);
        assert_true(failed >= 0);
        int counted = 0;
        for (int64_t i = 0; i < N; i++) {
            if (res[i].error == 0) {
                assert_int_equal(res[i].status, 0);
                assert_true(out[i] == in[i] * 3 + 1);
            } else {
                assert_int_equal(res[i].error, WEFT_EWORKERDIED);
                assert_int_equal(res[i].status, SIGKILL);
                counted++;
            }
        }
        assert_int_equal(counted, failed);
        for (int i = 0; i < NF; i++) {
            int status;
            const void *data;
            size_t len;
            int rc = weft_future_result(fs[i], &status, &data, &len);
            if (rc == 0) {
                int64_t v;
                memcpy(&v, data, sizeof v);
                assert_true(v == in[i] * 3 + 1);
            } else {
                assert_int_equal(rc, WEFT_EWORKERDIED);
                died++;
            }
            weft_future_release(fs[i]);
        }
        died += failed;
        kills += atomic_load(&k.kills);
        /* A worker runs one item at a time and its finished results
         * survive it: a kill fails at most the item it was running. */
        assert_true(died - died_before <= atomic_load(&k.kills));
        /* The pool still works with replaced workers. */
        int64_t x = 11;
        weft_future *f;
        assert_int_equal(weft_pool_submit(p, t_square, &x, sizeof x, &f), 0);
        assert_int_equal(weft_future_result(f, NULL, NULL, NULL), 0);
        weft_future_release(f);
        weft_pool_destroy(p);
        assert_int_equal(count_zombies(), 0);
    }
    print_message("crash trials: %d, workers killed: %ld, items failed with "
                  "'worker died': %ld\n",
                  trials, kills, died);
    free(in);
    free(out);
    free(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_million),
        cmocka_unit_test(test_crash_trials),
    };
    stress = getenv("WEFT_STRESS") != NULL;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
