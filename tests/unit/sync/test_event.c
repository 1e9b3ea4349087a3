/* test_event.c - weft_event between threads (private placement) and
 * between processes (WEFT_SHARED): set wakes every waiter (also when it is
 * cleared again at once), every timeout path, destroy while waited on, bad
 * input, and a waiter killed by SIGKILL. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <weft/weft.h>

#include "unit/sync/sync_helpers.h"

static void basics(bool procs)
{
    weft_event *e;
    int64_t t0, dt;

    assert_int_equal(weft_event_create(&e, placement(procs)), 0);
    assert_int_equal(weft_event_is_set(e), 0);
    assert_int_equal(weft_event_wait(e, 0), -EAGAIN);
    t0 = weft_now_ms();
    assert_int_equal(weft_event_wait(e, 60), -ETIMEDOUT);
    dt = weft_now_ms() - t0;
    assert_true(dt >= 55 && dt < 2000);
    assert_int_equal(weft_event_set(e), 0);
    assert_int_equal(weft_event_is_set(e), 1);
    assert_int_equal(weft_event_set(e), 0); /* again: no change */
    assert_int_equal(weft_event_is_set(e), 1);
    assert_int_equal(weft_event_wait(e, 0), 0);
    assert_int_equal(weft_event_wait(e, 50), 0);
    assert_int_equal(weft_event_wait(e, -1), 0);
    assert_int_equal(weft_event_clear(e), 0);
    assert_int_equal(weft_event_is_set(e), 0);
    assert_int_equal(weft_event_wait(e, 0), -EAGAIN);
    assert_int_equal(weft_event_destroy(e), 0);
}

static void test_basics_private(void **state)
{
    basics(false);
}

static void test_basics_shared(void **state)
{
    basics(true);
}

static void test_bad_input(void **state)
{
    assert_int_equal(weft_event_create(NULL, NULL), -EINVAL);
    assert_int_equal(weft_event_set(NULL), -EINVAL);
    assert_int_equal(weft_event_clear(NULL), -EINVAL);
    assert_int_equal(weft_event_is_set(NULL), -EINVAL);
    assert_int_equal(weft_event_wait(NULL, 0), -EINVAL);
    assert_int_equal(weft_event_wait(NULL, -1), -EINVAL);
    assert_int_equal(weft_event_destroy(NULL), 0);
}

/* ---- Set wakes every waiter ---------------------------------------------- */

struct ev {
    weft_event *e;
    int timeout_ms;
};

static int wait_worker(void *p, int i)
{
    struct ev *v = p;

    return weft_event_wait(v->e, v->timeout_ms);
}

/* n waiters asleep; set (and, with clear_after, clear again at once): all
 * of them must return 0. */
static void wakes_all(bool procs, bool clear_after)
{
    struct ev *v = shm_zalloc(sizeof *v);
    struct workers w;
    int i, n = procs ? 6 : 8;

    v->timeout_ms = 4000;
    assert_int_equal(weft_event_create(&v->e, placement(procs)), 0);
    workers_start(&w, procs, n, wait_worker, v);
    for (i = 0; i < n; i++)
        assert_true(worker_sleeping(&w, i, 3000));
    assert_int_equal(weft_event_destroy(v->e), -EBUSY);
    assert_int_equal(weft_event_set(v->e), 0);
    if (clear_after)
        assert_int_equal(weft_event_clear(v->e), 0);
    assert_int_equal(workers_join_all(&w, 0, 3000), n);
    assert_int_equal(weft_event_is_set(v->e), clear_after ? 0 : 1);
    assert_int_equal(weft_event_destroy(v->e), 0);
}

static void test_wakes_all_threads(void **state)
{
    wakes_all(false, false);
}

static void test_wakes_all_processes(void **state)
{
    wakes_all(true, false);
}

static void test_set_then_clear_threads(void **state)
{
    wakes_all(false, true);
}

static void test_set_then_clear_processes(void **state)
{
    wakes_all(true, true);
}

/* Waiters that time out get -ETIMEDOUT, in time, each of them. */
static void test_timeout_many(void **state)
{
    struct ev *v = shm_zalloc(sizeof *v);
    struct workers w;
    int64_t t0 = weft_now_ms();

    v->timeout_ms = 100;
    assert_int_equal(weft_event_create(&v->e, NULL), 0);
    workers_start(&w, false, 4, wait_worker, v);
    assert_int_equal(workers_join_all(&w, -ETIMEDOUT, 3000), 4);
    assert_true(weft_now_ms() - t0 >= 95);
    assert_true(weft_now_ms() - t0 < 2500);
    assert_int_equal(weft_event_destroy(v->e), 0);
}

/* Many rounds of set / clear against waiters that come and go: nobody may
 * sleep through a set. */
struct churn {
    weft_event *go, *done_ev;
    _Atomic int round;
    _Atomic int arrived;
    int rounds;
};

static int churn_worker(void *p, int i)
{
    struct churn *c = p;
    int r;

    for (r = 1; r <= c->rounds; r++) {
        if (weft_event_wait(c->go, 5000) != 0)
            return -1;
        if (atomic_load(&c->round) < r)
            return -2; /* woke before the round was opened */
        if (atomic_fetch_add(&c->arrived, 1) + 1 == 4)
            weft_event_set(c->done_ev);
        /* Wait until the test has closed this round. */
        while (atomic_load(&c->round) == r && weft_event_is_set(c->go))
            usleep(100);
    }
    return 0;
}

static void test_churn_threads(void **state)
{
    struct churn *c = shm_zalloc(sizeof *c);
    struct workers w;
    int r;

    c->rounds = UNDER_TSAN ? 50 : 200;
    assert_int_equal(weft_event_create(&c->go, NULL), 0);
    assert_int_equal(weft_event_create(&c->done_ev, NULL), 0);
    workers_start(&w, false, 4, churn_worker, c);
    for (r = 1; r <= c->rounds; r++) {
        atomic_store(&c->arrived, 0);
        atomic_store(&c->round, r);
        assert_int_equal(weft_event_set(c->go), 0);
        assert_int_equal(weft_event_wait(c->done_ev, 5000), 0);
        weft_event_clear(c->done_ev);
        weft_event_clear(c->go);
    }
    assert_int_equal(workers_join_all(&w, 0, 5000), 4);
    assert_int_equal(weft_event_destroy(c->go), 0);
    assert_int_equal(weft_event_destroy(c->done_ev), 0);
}

/* ---- A waiter killed by SIGKILL --------------------------------------------
 */

static void test_killed_waiter(void **state)
{
    struct ev *v = shm_zalloc(sizeof *v);
    struct workers w;
    int i, n = 3;

    v->timeout_ms = 4000;
    assert_int_equal(weft_event_create(&v->e, WEFT_SHARED), 0);
    workers_start(&w, true, n, wait_worker, v);
    for (i = 0; i < n; i++)
        assert_true(worker_sleeping(&w, i, 3000));
    worker_kill(&w, 1);
    assert_int_equal(weft_event_set(v->e), 0);
    assert_int_equal(workers_join(&w, 0, 2000), 0);
    assert_int_equal(workers_join(&w, 2, 2000), 0);
    /* The dead waiter stays counted (documented): leave the object. */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics_private),
        cmocka_unit_test(test_basics_shared),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_wakes_all_threads),
        cmocka_unit_test(test_wakes_all_processes),
        cmocka_unit_test(test_set_then_clear_threads),
        cmocka_unit_test(test_set_then_clear_processes),
        cmocka_unit_test(test_timeout_many),
        cmocka_unit_test(test_churn_threads),
        cmocka_unit_test(test_killed_waiter),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
