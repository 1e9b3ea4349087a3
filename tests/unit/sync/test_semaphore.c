/* test_semaphore.c - weft_semaphore between threads (private placement) and
 * between processes (WEFT_SHARED): never more holders than the value,
 * bounded and INT32_MAX overflow, every timeout path, destroy while
 * waited on, bad input, and a waiter killed by SIGKILL. */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <weft/weft.h>

#include "unit/sync/sync_helpers.h"

/* ---- Basics and timeouts ------------------------------------------------- */

static void basics(bool procs)
{
    weft_semaphore *s;
    int64_t t0, dt;

    assert_int_equal(weft_semaphore_create(&s, placement(procs), 2), 0);
    assert_int_equal(weft_semaphore_value(s), 2);
    assert_int_equal(weft_semaphore_acquire(s, 0), 0);
    assert_int_equal(weft_semaphore_acquire(s, -1), 0);
    assert_int_equal(weft_semaphore_value(s), 0);
    assert_int_equal(weft_semaphore_acquire(s, 0), -EAGAIN);
    t0 = weft_now_ms();
    assert_int_equal(weft_semaphore_acquire(s, 60), -ETIMEDOUT);
    dt = weft_now_ms() - t0;
    assert_true(dt >= 55 && dt < 2000);
    assert_int_equal(weft_semaphore_release(s), 0);
    assert_int_equal(weft_semaphore_value(s), 1);
    assert_int_equal(weft_semaphore_acquire(s, 50), 0);
    /* Unbounded: a release may go above the initial value. */
    assert_int_equal(weft_semaphore_release(s), 0);
    assert_int_equal(weft_semaphore_release(s), 0);
    assert_int_equal(weft_semaphore_release(s), 0);
    assert_int_equal(weft_semaphore_value(s), 3);
    assert_int_equal(weft_semaphore_destroy(s), 0);
}

static void test_basics_private(void **state)
{
    basics(false);
}

static void test_basics_shared(void **state)
{
    basics(true);
}

static void test_bounded_and_overflow(void **state)
{
    weft_semaphore *s;

    assert_int_equal(weft_semaphore_create_bounded(&s, NULL, 2), 0);
    assert_int_equal(weft_semaphore_release(s), -EOVERFLOW);
    assert_int_equal(weft_semaphore_value(s), 2);
    assert_int_equal(weft_semaphore_acquire(s, 0), 0);
    assert_int_equal(weft_semaphore_release(s), 0);
    assert_int_equal(weft_semaphore_release(s), -EOVERFLOW);
    assert_int_equal(weft_semaphore_destroy(s), 0);

    assert_int_equal(weft_semaphore_create_bounded(&s, WEFT_SHARED, 0), 0);
    assert_int_equal(weft_semaphore_release(s), -EOVERFLOW);
    assert_int_equal(weft_semaphore_acquire(s, 0), -EAGAIN);
    assert_int_equal(weft_semaphore_destroy(s), 0);

    assert_int_equal(weft_semaphore_create(&s, NULL, INT32_MAX), 0);
    assert_int_equal(weft_semaphore_release(s), -EOVERFLOW);
    assert_int_equal(weft_semaphore_acquire(s, 0), 0);
    assert_int_equal(weft_semaphore_release(s), 0);
    assert_int_equal(weft_semaphore_value(s), INT32_MAX);
    assert_int_equal(weft_semaphore_destroy(s), 0);
}

static void test_bad_input(void **state)
{
    weft_semaphore *s = (weft_semaphore *)&s;

    assert_int_equal(weft_semaphore_create(&s, NULL, -1), -EINVAL);
    assert_null(s);
    s = (weft_semaphore *)&s;
    assert_int_equal(weft_semaphore_create_bounded(&s, WEFT_SHARED, -5),
                     -EINVAL);
    assert_null(s);
    assert_int_equal(weft_semaphore_create(NULL, NULL, 1), -EINVAL);
    assert_int_equal(weft_semaphore_create_bounded(NULL, NULL, 1), -EINVAL);
    assert_int_equal(weft_semaphore_acquire(NULL, 0), -EINVAL);
    assert_int_equal(weft_semaphore_release(NULL), -EINVAL);
    assert_int_equal(weft_semaphore_value(NULL), -EINVAL);
    assert_int_equal(weft_semaphore_destroy(NULL), 0);
}

/* ---- Never more holders than the value ------------------------------------
 */

struct limit {
    weft_semaphore *s;
    int rounds;
    _Atomic int holders; /* now inside */
    _Atomic int max;     /* most ever inside at once */
    _Atomic long entries;
};

static int limit_worker(void *p, int i)
{
    struct limit *l = p;
    int r, now, m, k;

    for (r = 0; r < l->rounds; r++) {
        if (weft_semaphore_acquire(l->s, 10000) != 0)
            return -1;
        now = atomic_fetch_add(&l->holders, 1) + 1;
        m = atomic_load(&l->max);
        while (now > m && !atomic_compare_exchange_weak(&l->max, &m, now))
            ;
        atomic_fetch_add(&l->entries, 1);
        /* Stay a moment so that others pile up at the semaphore. */
        for (k = 0; k < 50 + (r % 7) * 20; k++)
            __asm__ __volatile__("" ::: "memory");
        if (r % 16 == i % 16)
            sched_yield();
        atomic_fetch_sub(&l->holders, 1);
        if (weft_semaphore_release(l->s) != 0)
            return -2;
    }
    return 0;
}

static void never_more_holders(bool procs)
{
    struct limit *l = shm_zalloc(sizeof *l);
    struct workers w;
    int n = 16;

    l->rounds = procs ? 400 : 2000;
    if (UNDER_TSAN)
        l->rounds /= 4;
    assert_int_equal(weft_semaphore_create_bounded(&l->s, placement(procs), 4),
                     0);
    workers_start(&w, procs, n, limit_worker, l);
    assert_int_equal(workers_join_all(&w, 0, 20000), n);
    assert_int_equal(atomic_load(&l->entries), (long)n * l->rounds);
    assert_true(atomic_load(&l->max) <= 4);
    /* And they did overlap: a semaphore of one would fail here. */
    assert_true(atomic_load(&l->max) >= 2);
    assert_int_equal(weft_semaphore_value(l->s), 4);
    assert_int_equal(weft_semaphore_destroy(l->s), 0);
}

static void test_never_more_holders_threads(void **state)
{
    never_more_holders(false);
}

static void test_never_more_holders_processes(void **state)
{
    never_more_holders(true);
}

/* ---- Waking, destroy while waited on ----------------------------------------
 */

struct one {
    weft_semaphore *s;
    int timeout_ms;
};

static int acquire_worker(void *p, int i)
{
    struct one *o = p;

    return weft_semaphore_acquire(o->s, o->timeout_ms);
}

static void release_wakes_waiters(bool procs)
{
    struct one *o = shm_zalloc(sizeof *o);
    struct workers w;
    int i, n = 4;

    o->timeout_ms = 5000;
    assert_int_equal(weft_semaphore_create(&o->s, placement(procs), 0), 0);
    workers_start(&w, procs, n, acquire_worker, o);
    for (i = 0; i < n; i++)
        assert_true(worker_sleeping(&w, i, 3000));
    /* Somebody waits: the semaphore must not go away under them. */
    assert_int_equal(weft_semaphore_destroy(o->s), -EBUSY);
    for (i = 0; i < n; i++)
        assert_int_equal(weft_semaphore_release(o->s), 0);
    assert_int_equal(workers_join_all(&w, 0, 3000), n);
    assert_int_equal(weft_semaphore_value(o->s), 0);
    assert_int_equal(weft_semaphore_destroy(o->s), 0);
}

static void test_release_wakes_threads(void **state)
{
    release_wakes_waiters(false);
}

static void test_release_wakes_processes(void **state)
{
    release_wakes_waiters(true);
}

/* A unit that arrives during a timed wait ends it with success. */
static void test_acquire_within_timeout(void **state)
{
    struct one *o = shm_zalloc(sizeof *o);
    struct workers w;
    int64_t t0;

    o->timeout_ms = 3000;
    assert_int_equal(weft_semaphore_create(&o->s, NULL, 0), 0);
    t0 = weft_now_ms();
    workers_start(&w, false, 1, acquire_worker, o);
    assert_true(worker_sleeping(&w, 0, 3000));
    assert_int_equal(weft_semaphore_release(o->s), 0);
    assert_int_equal(workers_join(&w, 0, 3000), 0);
    assert_true(weft_now_ms() - t0 < 2500);
    assert_int_equal(weft_semaphore_destroy(o->s), 0);
}

/* ---- A waiter killed by SIGKILL ---------------------------------------------
 */

static void test_killed_waiter(void **state)
{
    struct one *o = shm_zalloc(sizeof *o);
    struct workers w;
    int64_t t0;
    int i, n = 3;

    o->timeout_ms = 4000;
    assert_int_equal(weft_semaphore_create(&o->s, WEFT_SHARED, 0), 0);
    workers_start(&w, true, n, acquire_worker, o);
    for (i = 0; i < n; i++)
        assert_true(worker_sleeping(&w, i, 3000));
    worker_kill(&w, 0);
    /* Each release must reach a live waiter, not the dead one. */
    assert_int_equal(weft_semaphore_release(o->s), 0);
    t0 = weft_now_ms();
    while (!worker_done(&w, 1) && !worker_done(&w, 2) &&
           weft_now_ms() - t0 < 2000)
        usleep(1000);
    usleep(20 * 1000);
    assert_int_equal(worker_done(&w, 1) + worker_done(&w, 2), 1);
    assert_int_equal(weft_semaphore_release(o->s), 0);
    for (i = 1; i < n; i++)
        if (w.pid[i])
            assert_int_equal(workers_join(&w, i, 2000), 0);
    assert_int_equal(weft_semaphore_value(o->s), 0);
    /* The dead waiter is still counted (documented): destroy would say
     * -EBUSY, so the object is left in the arena. */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics_private),
        cmocka_unit_test(test_basics_shared),
        cmocka_unit_test(test_bounded_and_overflow),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_never_more_holders_threads),
        cmocka_unit_test(test_never_more_holders_processes),
        cmocka_unit_test(test_release_wakes_threads),
        cmocka_unit_test(test_release_wakes_processes),
        cmocka_unit_test(test_acquire_within_timeout),
        cmocka_unit_test(test_killed_waiter),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
